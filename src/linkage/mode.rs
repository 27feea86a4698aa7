//! Record linkage as a matching mode (B19): the policy data, the score of a
//! subject against a record, and what an outcome reports of it.

use serde::{Deserialize, Serialize};

use super::{compare_prepared, Blocking, Comparison, Level, Model, Prepared};

use crate::error::PolicyError;
use crate::fields::{FieldName, Fields};
use crate::record::{RecordId, SubjectId};

/// Record linkage as a matching mode (B19), as policy data: when a
/// subject's email finds no record of the type, the records sharing a
/// blocking key with it are scored field by field, and the best one is
/// linked (at or above `link_at`), left to a person (at or above
/// `review_at`: [`crate::Decision::Review`], nothing linked or created), or
/// passed over (below: a new record, as without linkage).
///
/// Weights are integers, in thousandths of a bit (`log2` odds), so a
/// policy is exact data: the same policy scores the same pair the same
/// everywhere. [`Linkage::from_model`] turns a fitted [`Model`] into one.
/// CiviCRM-style rules (integer weights per field, a threshold) are such
/// weights directly: weight the exact level, leave the others at 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Linkage {
    /// Which records are compared at all; the store must index the same
    /// ([`crate::ContactStore::blocking`]).
    pub blocking: Blocking,
    /// The comparisons, in order.
    pub comparisons: Vec<Comparison>,
    /// Per comparison, the weight of each level in thousandths of a bit:
    /// `[else, far, close, exact]`. A blank side weighs 0.
    pub weights: Vec<[i32; 4]>,
    /// Added to every score: the prior log2 odds of a match among
    /// candidates, in thousandths of a bit.
    #[serde(default)]
    pub prior: i32,
    /// A score at or above this links (thousandths of a bit).
    pub link_at: i32,
    /// A score at or above this, and below `link_at`, goes to review.
    pub review_at: i32,
    /// At most this many candidates are scored per subject; a subject with
    /// more (an uninformative block) is scored against the first by id and
    /// the outcome says so.
    #[serde(default = "default_max_candidates")]
    pub max_candidates: u32,
    /// Pairs a person declared not duplicates: never linked, never grouped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_duplicates: Vec<NotDuplicate>,
}

fn default_max_candidates() -> u32 {
    1000
}

/// A pair a person declared not to be the same party (B19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotDuplicate {
    /// This subject is not this record: the subject is never linked to it.
    Subject {
        /// The subject.
        subject: SubjectId,
        /// The record.
        record: RecordId,
    },
    /// These records are different parties: never grouped as duplicates.
    Records {
        /// One record.
        a: RecordId,
        /// The other.
        b: RecordId,
    },
}

/// Thousandths of a bit of `p`'s log2 odds.
fn millibits_of_probability(p: f64) -> i32 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    millibits((p / (1.0 - p)).log2())
}

fn millibits(bits: f64) -> i32 {
    // Weights are bounded by the model's probability floor: far inside i32.
    (bits * 1000.0)
        .round()
        .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

impl Linkage {
    /// The linkage of a fitted `model` over `blocking`: its weights and
    /// prior rounded to thousandths of a bit, linking at a match
    /// probability of `link` and reviewing from `review`.
    pub fn from_model(model: &Model, blocking: Blocking, link: f64, review: f64) -> Self {
        let levels = [Level::Else, Level::Far, Level::Close, Level::Exact];
        Linkage {
            blocking,
            comparisons: model.comparisons.clone(),
            weights: model
                .weights
                .iter()
                .map(|w| levels.map(|l| millibits(w.weight(l))))
                .collect(),
            prior: millibits_of_probability(model.prior),
            link_at: millibits_of_probability(link),
            review_at: millibits_of_probability(review),
            max_candidates: default_max_candidates(),
            not_duplicates: Vec::new(),
        }
    }

    /// Checks that the settings can work.
    ///
    /// # Errors
    /// [`PolicyError::Linkage`] naming what cannot.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.blocking.is_empty() {
            return Err(PolicyError::Linkage("no blocking pass"));
        }
        if self.blocking.rules.iter().any(|r| r.parts.is_empty()) {
            return Err(PolicyError::Linkage("a blocking pass without fields"));
        }
        if self
            .blocking
            .rules
            .iter()
            .flat_map(|r| &r.parts)
            .any(|p| matches!(p.transform, super::Transform::Prefix { chars: 0 }))
        {
            return Err(PolicyError::Linkage("a prefix of no characters"));
        }
        if self.weights.len() != self.comparisons.len() {
            return Err(PolicyError::Linkage("one weight per comparison needed"));
        }
        if self.review_at > self.link_at {
            return Err(PolicyError::Linkage(
                "review threshold above link threshold",
            ));
        }
        if self.max_candidates == 0 {
            return Err(PolicyError::Linkage("max_candidates of zero"));
        }
        let finite = self.comparisons.iter().all(|c| match c.compare {
            super::Compare::Numeric { close, far } => close.is_finite() && far.is_finite(),
            _ => true,
        });
        if !finite {
            return Err(PolicyError::Linkage("a numeric bound that is not finite"));
        }
        Ok(())
    }

    /// The weight of `level` in comparison `i` (0 for a blank side).
    fn weight(&self, i: usize, level: Level) -> i32 {
        let at = match level {
            Level::Null => return 0,
            Level::Else => 0,
            Level::Far => 1,
            Level::Close => 2,
            Level::Exact => 3,
        };
        self.weights
            .get(i)
            .and_then(|w| w.get(at))
            .copied()
            .unwrap_or(0)
    }

    /// The score of `input` (a subject's fields) against `record`: the
    /// prior plus each comparison's weight, with what each field did.
    pub fn score(&self, input: &Fields, record: &Fields) -> (i32, Vec<FieldAgreement>) {
        self.score_prepared(&self.prepare(input), &self.prepare(record))
    }

    /// `f`'s values prepared for each comparison, in order: prepare a
    /// subject or record once, then score it against many with
    /// [`Linkage::score_prepared`].
    pub fn prepare(&self, f: &Fields) -> Vec<Prepared> {
        super::prepare_all(&self.comparisons, f)
    }

    /// [`Linkage::score`] on values prepared by [`Linkage::prepare`].
    pub fn score_prepared(
        &self,
        input: &[Prepared],
        record: &[Prepared],
    ) -> (i32, Vec<FieldAgreement>) {
        let mut total = self.prior;
        let mut fields = Vec::with_capacity(self.comparisons.len());
        for (i, (c, (x, y))) in self
            .comparisons
            .iter()
            .zip(input.iter().zip(record))
            .enumerate()
        {
            let level = compare_prepared(c.compare, x, y);
            let weight = self.weight(i, level);
            total = total.saturating_add(weight);
            let agreement = match level {
                Level::Exact => Agreement::Same,
                Level::Close | Level::Far => Agreement::Similar { level },
                Level::Else => Agreement::Different,
                Level::Null => match (x.text.is_empty(), y.text.is_empty()) {
                    (true, true) => Agreement::BothBlank,
                    (true, false) => Agreement::InputAbsent,
                    _ => Agreement::RecordBlank,
                },
            };
            fields.push(FieldAgreement {
                field: c.field.clone(),
                agreement,
                weight,
            });
        }
        (total, fields)
    }

    /// Whether a person declared `subject` not to be `record`.
    pub(crate) fn excluded(&self, subject: SubjectId, record: RecordId) -> bool {
        self.not_duplicates.iter().any(|n| {
            matches!(n, NotDuplicate::Subject { subject: s, record: r } if *s == subject && *r == record)
        })
    }

    /// What a score decides.
    pub fn band(&self, score: i32) -> Band {
        if score >= self.link_at {
            Band::Link
        } else if score >= self.review_at {
            Band::Review
        } else {
            Band::Create
        }
    }
}

/// What a record-linkage score decides (B19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Below `review_at`: not the same party; a new record.
    Create,
    /// From `review_at` to below `link_at`: a person decides.
    Review,
    /// At or above `link_at`: linked.
    Link,
}

/// How one compared field agreed (B19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// The same value.
    Same,
    /// Similar: close or far, by the comparison's bounds.
    Similar {
        /// How similar.
        level: Level,
    },
    /// Different.
    Different,
    /// Neither side has a value.
    BothBlank,
    /// The input has no value (the record has).
    InputAbsent,
    /// The record has no value (the input has).
    RecordBlank,
}

/// One field of a record-linkage score: how it agreed, and what it weighed
/// (thousandths of a bit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct FieldAgreement {
    /// The field.
    pub field: FieldName,
    /// How it agreed.
    pub agreement: Agreement,
    /// Its weight in the score.
    pub weight: i32,
}

/// The record-linkage score behind an outcome (B19): the best candidate,
/// its score, the thresholds it was held against, and each field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct LinkScore {
    /// The best-scoring candidate.
    pub record: RecordId,
    /// Its score, in thousandths of a bit.
    pub score: i32,
    /// The policy's link threshold.
    pub link_at: i32,
    /// The policy's review threshold.
    pub review_at: i32,
    /// What the score decided.
    pub band: Band,
    /// How many candidates were scored.
    pub candidates: u32,
    /// Each compared field.
    pub fields: Vec<FieldAgreement>,
}
