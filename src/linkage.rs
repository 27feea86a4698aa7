//! Record linkage beyond the email key (B19): field comparisons with
//! levels, Fellegi–Sunter weights, and their estimation from unlabelled
//! pairs by expectation maximisation.
//!
//! Pure and deterministic: the same pairs give the same parameters, bit for
//! bit. A pair of records is compared field by field; each comparison gives
//! a [`Level`] (exact, close, far, else, or null when either side is
//! blank). A [`Model`] holds, per comparison and level, the probability of
//! that level among true matches (`m`) and among non-matches (`u`); a
//! level's weight is `log2(m / u)`, positive when it speaks for a match and
//! negative against, and a pair's weight is the sum over its comparisons
//! plus the prior odds. [`Model::estimate`] fits `m`, `u` and the prior to
//! the levels of candidate pairs without labels.
//!
//! ```
//! use contact_sync::linkage::{Compare, Comparison, Level, Model};
//! use contact_sync::Fields;
//!
//! let model = Model::new(vec![
//!     Comparison::new("surname", Compare::JaroWinkler { close: 920, far: 880 }),
//!     Comparison::new("date_of_birth", Compare::Date { close_days: 0, far_days: 31 }),
//! ]);
//! let a = Fields::from_pairs([("surname", "Meyer"), ("date_of_birth", "19800101")]);
//! let b = Fields::from_pairs([("surname", "Meyers"), ("date_of_birth", "19800101")]);
//! assert_eq!(model.levels(&a, &b), [Level::Close, Level::Exact]);
//! assert!(model.weight(&model.levels(&a, &b)) > model.weight(&[Level::Else, Level::Exact]));
//! ```

use std::collections::{BTreeMap, HashMap};

mod blocking;
mod mode;
pub use blocking::{BlockKey, Blocking, BlockingRule, KeyPart, Transform};
pub use mode::{Agreement, Band, FieldAgreement, LinkScore, Linkage, NotDuplicate};

use serde::{Deserialize, Serialize};

use crate::email::{EmailKey, Normalization};
use crate::fields::{FieldName, Fields, MAX_COMPARED_CHARS};

/// How two values of a field compare, with the bounds of its levels.
///
/// Equality compares the numeric bounds bit for bit, so it is an
/// equivalence (a policy holding a NaN bound is refused by
/// [`crate::Policy::validate`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Compare {
    /// Equal (trimmed, case-insensitive) or not: exact or else.
    Exact,
    /// Jaro-Winkler similarity in per mille: at least `close` is close, at
    /// least `far` is far.
    JaroWinkler {
        /// Least similarity (per mille) of a close pair.
        close: u16,
        /// Least similarity (per mille) of a far pair.
        far: u16,
    },
    /// Levenshtein distance: at most `close` edits is close, at most `far`
    /// is far.
    Levenshtein {
        /// Most edits of a close pair.
        close: u32,
        /// Most edits of a far pair.
        far: u32,
    },
    /// Damerau-Levenshtein distance (a transposition is one edit).
    DamerauLevenshtein {
        /// Most edits of a close pair.
        close: u32,
        /// Most edits of a far pair.
        far: u32,
    },
    /// Numbers: an absolute difference of at most `close` is close, at most
    /// `far` far. Values that are not numbers compare exactly.
    Numeric {
        /// Largest difference of a close pair.
        close: f64,
        /// Largest difference of a far pair.
        far: f64,
    },
    /// Dates (`YYYYMMDD` or `YYYY-MM-DD`): at most `close_days` apart is
    /// close, at most `far_days` far. Values that are not dates compare
    /// exactly.
    Date {
        /// Most days between a close pair.
        close_days: u32,
        /// Most days between a far pair.
        far_days: u32,
    },
    /// Email addresses (B1 keys): the same key is exact, the same local
    /// part at another domain close, the same domain with a local part
    /// one or two edits away far.
    Email,
}

impl PartialEq for Compare {
    fn eq(&self, other: &Self) -> bool {
        use Compare::*;
        match (*self, *other) {
            (Exact, Exact) | (Email, Email) => true,
            (JaroWinkler { close: a, far: b }, JaroWinkler { close: c, far: d }) => {
                (a, b) == (c, d)
            }
            (Levenshtein { close: a, far: b }, Levenshtein { close: c, far: d })
            | (DamerauLevenshtein { close: a, far: b }, DamerauLevenshtein { close: c, far: d }) => {
                (a, b) == (c, d)
            }
            (Numeric { close: a, far: b }, Numeric { close: c, far: d }) => {
                (a.to_bits(), b.to_bits()) == (c.to_bits(), d.to_bits())
            }
            (
                Date {
                    close_days: a,
                    far_days: b,
                },
                Date {
                    close_days: c,
                    far_days: d,
                },
            ) => (a, b) == (c, d),
            _ => false,
        }
    }
}

impl Eq for Compare {}

/// One field's comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Comparison {
    /// The field compared.
    pub field: FieldName,
    /// How.
    pub compare: Compare,
}

impl Comparison {
    /// A comparison of `field`.
    pub fn new(field: &str, compare: Compare) -> Self {
        Comparison {
            field: FieldName::new(field),
            compare,
        }
    }

    /// The level of two records' values of the field.
    pub fn level(&self, a: &Fields, b: &Fields) -> Level {
        compare(
            self.compare,
            a.text(self.field.as_str()),
            b.text(self.field.as_str()),
        )
    }
}

/// How two values of a field agree, from none to exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Either value is blank: the comparison says nothing (weight 0).
    Null,
    /// Different.
    Else,
    /// Far apart, but not unrelated.
    Far,
    /// Close (a typo, a transposition, a nearby date).
    Close,
    /// The same.
    Exact,
}

impl Level {
    /// The index of a non-null level into [`Weights`] (`Else` 0 … `Exact` 3).
    fn index(self) -> Option<usize> {
        match self {
            Level::Null => None,
            Level::Else => Some(0),
            Level::Far => Some(1),
            Level::Close => Some(2),
            Level::Exact => Some(3),
        }
    }
}

/// The first [`MAX_COMPARED_CHARS`] characters of `s`, trimmed and
/// lowercased: every comparison is bounded (here and in B10's criteria).
pub(crate) fn head(s: &str) -> String {
    cut(s.trim()).to_lowercase()
}

/// The first [`MAX_COMPARED_CHARS`] characters of `v`.
fn cut(v: &str) -> &str {
    let end = v
        .char_indices()
        .nth(MAX_COMPARED_CHARS)
        .map_or(v.len(), |(i, _)| i);
    v.get(..end).unwrap_or(v)
}

fn by_distance(d: usize, close: u32, far: u32) -> Level {
    let d = u32::try_from(d).unwrap_or(u32::MAX);
    if d <= close {
        Level::Close
    } else if d <= far {
        Level::Far
    } else {
        Level::Else
    }
}

/// Days since 1970-01-01 of a `YYYYMMDD` or `YYYY-MM-DD` date.
fn days(s: &str) -> Option<i64> {
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits.get(..4)?.parse().ok()?;
    let m: i64 = digits.get(4..6)?.parse().ok()?;
    let d: i64 = digits.get(6..)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Jaro-Winkler similarity of `a` and `b` (prefix weight 0.1, Winkler's
/// boost above a Jaro similarity of 0.7), or 0 below `cutoff`.
fn jaro_winkler(a: &str, b: &str, cutoff: f64) -> f64 {
    use rapidfuzz::distance::jaro_winkler::{similarity_with_args, Args};
    let args = Args::default().score_cutoff(cutoff);
    let s = if a.is_ascii() && b.is_ascii() {
        similarity_with_args(a.bytes(), b.bytes(), &args)
    } else {
        similarity_with_args(a.chars(), b.chars(), &args)
    };
    s.unwrap_or(0.0)
}

/// The Levenshtein (or, with `transpositions`, Damerau-Levenshtein)
/// distance of `a` and `b`, or `None` above `max`.
fn bounded_distance(a: &str, b: &str, max: u32, transpositions: bool) -> Option<usize> {
    use rapidfuzz::distance::{damerau_levenshtein as dl, levenshtein as lv};
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let ascii = a.is_ascii() && b.is_ascii();
    match (transpositions, ascii) {
        (false, true) => {
            lv::distance_with_args(a.bytes(), b.bytes(), &lv::Args::default().score_cutoff(max))
        }
        (false, false) => {
            lv::distance_with_args(a.chars(), b.chars(), &lv::Args::default().score_cutoff(max))
        }
        (true, true) => {
            dl::distance_with_args(a.bytes(), b.bytes(), &dl::Args::default().score_cutoff(max))
        }
        (true, false) => {
            dl::distance_with_args(a.chars(), b.chars(), &dl::Args::default().score_cutoff(max))
        }
    }
}

/// A value prepared for one kind of comparison: trimmed, cut to the
/// compared length and lowercased once, and parsed as the comparison
/// needs (a number, a date, an email key's parts). Comparing prepared
/// values ([`compare_prepared`]) gives what [`compare`] gives on the raw
/// ones, without preparing them again for every pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    text: String,
    parsed: Parsed,
}

#[derive(Debug, Clone, PartialEq)]
enum Parsed {
    None,
    Number(f64),
    Days(i64),
    Email { key: String, at: usize },
}

impl Prepared {
    /// `value` prepared for `c`.
    pub fn new(c: Compare, value: &str) -> Self {
        let text = head(value);
        let parsed = match c {
            Compare::Numeric { .. } => text
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map_or(Parsed::None, Parsed::Number),
            Compare::Date { .. } => days(&text).map_or(Parsed::None, Parsed::Days),
            Compare::Email => EmailKey::parse(&text, &Normalization::default())
                .ok()
                .flatten()
                .and_then(|k| {
                    let key = String::from(k);
                    key.rfind('@').map(|at| Parsed::Email { key, at })
                })
                .unwrap_or(Parsed::None),
            _ => Parsed::None,
        };
        Prepared { text, parsed }
    }
}

/// `f`'s values prepared for each of `comparisons`, in order.
fn prepare_all(comparisons: &[Comparison], f: &Fields) -> Vec<Prepared> {
    comparisons
        .iter()
        .map(|c| Prepared::new(c.compare, f.text(c.field.as_str())))
        .collect()
}

/// The level of values `a` and `b` under `c`.
pub fn compare(c: Compare, a: &str, b: &str) -> Level {
    compare_prepared(c, &Prepared::new(c, a), &Prepared::new(c, b))
}

/// The level of two values prepared for `c` ([`Prepared::new`]).
pub fn compare_prepared(c: Compare, a: &Prepared, b: &Prepared) -> Level {
    let (x, y) = (a.text.as_str(), b.text.as_str());
    if x.is_empty() || y.is_empty() {
        return Level::Null;
    }
    if x == y {
        return Level::Exact;
    }
    match c {
        Compare::Exact => Level::Else,
        Compare::JaroWinkler { close, far } => {
            let s = jaro_winkler(x, y, f64::from(far.min(close)) / 1000.0) * 1000.0;
            if s >= f64::from(close) {
                Level::Close
            } else if s >= f64::from(far) {
                Level::Far
            } else {
                Level::Else
            }
        }
        Compare::Levenshtein { close, far } => bounded_distance(x, y, close.max(far), false)
            .map_or(Level::Else, |d| by_distance(d, close, far)),
        Compare::DamerauLevenshtein { close, far } => bounded_distance(x, y, close.max(far), true)
            .map_or(Level::Else, |d| by_distance(d, close, far)),
        Compare::Numeric { close, far } => match (&a.parsed, &b.parsed) {
            (Parsed::Number(p), Parsed::Number(q)) => {
                let d = (p - q).abs();
                if d == 0.0 {
                    Level::Exact
                } else if d <= close {
                    Level::Close
                } else if d <= far {
                    Level::Far
                } else {
                    Level::Else
                }
            }
            _ => Level::Else,
        },
        Compare::Date {
            close_days,
            far_days,
        } => match (&a.parsed, &b.parsed) {
            (Parsed::Days(p), Parsed::Days(q)) => {
                let d = usize::try_from((p - q).unsigned_abs()).unwrap_or(usize::MAX);
                if d == 0 {
                    Level::Exact
                } else {
                    by_distance(d, close_days, far_days)
                }
            }
            _ => Level::Else,
        },
        Compare::Email => match (&a.parsed, &b.parsed) {
            (Parsed::Email { key: p, at: i }, Parsed::Email { key: q, at: j }) => {
                if p == q {
                    return Level::Exact;
                }
                let split = |k: &str, at: usize| {
                    (
                        k.get(..at).unwrap_or(k).to_owned(),
                        k.get(at + 1..).unwrap_or("").to_owned(),
                    )
                };
                let ((lx, dx), (ly, dy)) = (split(p, *i), split(q, *j));
                if lx == ly {
                    Level::Close
                } else if dx == dy && bounded_distance(&lx, &ly, 2, true).is_some() {
                    Level::Far
                } else {
                    Level::Else
                }
            }
            _ => Level::Else,
        },
    }
}

/// How often each value of some comparisons' fields occurs (B19:
/// term-frequency adjustment, [`Model::weight_adjusted`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermFrequencies {
    per: Vec<Option<HashMap<String, f64>>>,
}

impl TermFrequencies {
    /// The share of `value` (prepared) among comparison `i`'s values, when
    /// comparison `i` is adjusted and the value was seen.
    fn frequency(&self, i: usize, value: &str) -> Option<f64> {
        self.per.get(i)?.as_ref()?.get(value).copied()
    }
}

/// One comparison's probabilities per level (`Else`, `Far`, `Close`,
/// `Exact`): among true matches (`m`) and among non-matches (`u`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// P(level | match).
    pub m: [f64; 4],
    /// P(level | non-match).
    pub u: [f64; 4],
}

impl Weights {
    /// The weight of `level`: `log2(m / u)`; 0 for [`Level::Null`].
    pub fn weight(&self, level: Level) -> f64 {
        match level.index() {
            None => 0.0,
            Some(i) => {
                let (m, u) = (self.m.get(i).copied(), self.u.get(i).copied());
                match (m, u) {
                    (Some(m), Some(u)) => (m.max(FLOOR) / u.max(FLOOR)).log2(),
                    _ => 0.0,
                }
            }
        }
    }
}

/// Estimation stops once no probability moves by more than this in a
/// round (Splink's default convergence is 1e-4).
const CONVERGED: f64 = 1e-6;

/// The smallest probability a level keeps (no weight is infinite).
const FLOOR: f64 = 1e-6;

/// A Fellegi–Sunter model: comparisons, their weights, and the prior
/// probability that a candidate pair is a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The comparisons, in order.
    pub comparisons: Vec<Comparison>,
    /// Their weights, in the same order.
    pub weights: Vec<Weights>,
    /// P(match) among candidate pairs.
    pub prior: f64,
}

impl Model {
    /// A model with starting weights (agreement speaks for a match,
    /// disagreement against) and a prior of 1 in 100; fit it with
    /// [`Model::estimate`].
    pub fn new(comparisons: Vec<Comparison>) -> Self {
        let start = Weights {
            m: [0.05, 0.05, 0.1, 0.8],
            u: [0.85, 0.08, 0.05, 0.02],
        };
        Model {
            weights: vec![start; comparisons.len()],
            comparisons,
            prior: 0.01,
        }
    }

    /// The levels of a pair, one per comparison.
    pub fn levels(&self, a: &Fields, b: &Fields) -> Vec<Level> {
        self.comparisons.iter().map(|c| c.level(a, b)).collect()
    }

    /// A record's values prepared for each comparison, in order: prepare
    /// each record once, then compare pairs with [`Model::levels_prepared`].
    pub fn prepare(&self, f: &Fields) -> Vec<Prepared> {
        prepare_all(&self.comparisons, f)
    }

    /// The levels of a pair of prepared records ([`Model::prepare`]): what
    /// [`Model::levels`] gives on the records themselves.
    pub fn levels_prepared(&self, a: &[Prepared], b: &[Prepared]) -> Vec<Level> {
        self.comparisons
            .iter()
            .zip(a.iter().zip(b))
            .map(|(c, (x, y))| compare_prepared(c.compare, x, y))
            .collect()
    }

    /// A pair's match weight: the prior's log2 odds plus each level's
    /// weight. Above 0, a match is more likely than not.
    pub fn weight(&self, levels: &[Level]) -> f64 {
        let prior = (self.prior.max(FLOOR) / (1.0 - self.prior).max(FLOOR)).log2();
        prior
            + self
                .weights
                .iter()
                .zip(levels)
                .map(|(w, l)| w.weight(*l))
                .sum::<f64>()
    }

    /// A pair's match weight with term-frequency adjustment: where a
    /// comparison in `tf` agrees exactly, its `u` is the frequency of the
    /// agreed value (`a`'s, prepared by [`Model::prepare`]) instead of the
    /// average chance of exact agreement, so a common value ("Smith")
    /// weighs less than a rare one. Other levels weigh as in
    /// [`Model::weight`].
    pub fn weight_adjusted(&self, levels: &[Level], a: &[Prepared], tf: &TermFrequencies) -> f64 {
        let mut w = self.weight(levels);
        for (i, l) in levels.iter().enumerate() {
            if *l != Level::Exact {
                continue;
            }
            let (Some(freq), Some(weights)) = (
                a.get(i).and_then(|p| tf.frequency(i, &p.text)),
                self.weights.get(i),
            ) else {
                continue;
            };
            let [.., u] = weights.u;
            // log2(m / u) becomes log2(m / freq).
            w += (u.max(FLOOR) / freq.max(FLOOR)).log2();
        }
        w
    }

    /// Term frequencies of the comparisons at `adjusted` (indexes into
    /// [`Model::comparisons`]) over `records`, prepared by
    /// [`Model::prepare`]: each value's share of the non-blank values.
    pub fn term_frequencies<'r>(
        &self,
        records: impl IntoIterator<Item = &'r [Prepared]>,
        adjusted: &[usize],
    ) -> TermFrequencies {
        let mut counts: Vec<Option<(HashMap<String, f64>, f64)>> =
            vec![None; self.comparisons.len()];
        for i in adjusted {
            if let Some(c) = counts.get_mut(*i) {
                *c = Some((HashMap::new(), 0.0));
            }
        }
        for r in records {
            for (c, p) in counts.iter_mut().zip(r) {
                if let Some((map, total)) = c {
                    if !p.text.is_empty() {
                        *map.entry(p.text.clone()).or_default() += 1.0;
                        *total += 1.0;
                    }
                }
            }
        }
        TermFrequencies {
            per: counts
                .into_iter()
                .map(|c| {
                    c.map(|(mut map, total)| {
                        for v in map.values_mut() {
                            *v /= total;
                        }
                        map
                    })
                })
                .collect(),
        }
    }

    /// P(match | levels).
    pub fn probability(&self, levels: &[Level]) -> f64 {
        let w = self.weight(levels);
        1.0 / (1.0 + (-w).exp2())
    }

    /// Fits weights and prior to the levels of unlabelled candidate pairs by
    /// expectation maximisation, at most `max_iterations` rounds or until no
    /// probability moves by more than 1e-6. Deterministic: pairs are
    /// counted by pattern, and patterns visited in sorted order. Returns the
    /// rounds run.
    pub fn estimate(&mut self, pairs: &[Vec<Level>], max_iterations: usize) -> usize {
        let mut patterns: BTreeMap<&[Level], f64> = BTreeMap::new();
        for p in pairs {
            *patterns.entry(p.as_slice()).or_default() += 1.0;
        }
        let total: f64 = patterns.values().sum();
        if total == 0.0 {
            return 0;
        }
        let k = self.comparisons.len();
        for round in 1..=max_iterations {
            let mut m = vec![[0.0f64; 4]; k];
            let mut u = vec![[0.0f64; 4]; k];
            let mut matched = 0.0;
            for (levels, count) in &patterns {
                let g = self.probability(levels);
                matched += g * count;
                for ((mi, ui), l) in m.iter_mut().zip(u.iter_mut()).zip(levels.iter()) {
                    if let Some(i) = l.index() {
                        if let (Some(x), Some(y)) = (mi.get_mut(i), ui.get_mut(i)) {
                            *x += g * count;
                            *y += (1.0 - g) * count;
                        }
                    }
                }
            }
            let mut moved: f64 = 0.0;
            for (w, (mi, ui)) in self.weights.iter_mut().zip(m.iter().zip(u.iter())) {
                let (sm, su): (f64, f64) = (mi.iter().sum(), ui.iter().sum());
                for i in 0..4 {
                    let (Some(x), Some(y)) = (mi.get(i), ui.get(i)) else {
                        continue;
                    };
                    let nm = if sm > 0.0 { (x / sm).max(FLOOR) } else { FLOOR };
                    let nu = if su > 0.0 { (y / su).max(FLOOR) } else { FLOOR };
                    if let (Some(om), Some(ou)) = (w.m.get_mut(i), w.u.get_mut(i)) {
                        moved = moved.max((*om - nm).abs()).max((*ou - nu).abs());
                        *om = nm;
                        *ou = nu;
                    }
                }
            }
            let prior = (matched / total).clamp(FLOOR, 1.0 - FLOOR);
            moved = moved.max((self.prior - prior).abs());
            self.prior = prior;
            if moved < CONVERGED {
                return round;
            }
        }
        max_iterations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_across_months_and_leap_years() {
        assert_eq!(days("19700101"), Some(0));
        assert_eq!(
            days("2000-03-01").zip(days("20000228")).map(|(a, b)| a - b),
            Some(2)
        );
        assert_eq!(days("19991301"), None);
        assert_eq!(days("1999"), None);
    }
}
