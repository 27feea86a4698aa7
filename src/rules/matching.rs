//! Candidate selection (A2, A3, A24, B10) and the exact-one rule (D2–D4,
//! A7): which record, if any, a subject's email leads to.

use serde::{Deserialize, Serialize};

use crate::fields::{FieldName, Fields};
use crate::policy::{Ambiguity, Comparator, Matching, Scope, WeightedCriteria};
use crate::record::{Record, RecordId, RecordType};

/// Why a record with the subject's email was not chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum Dropped {
    /// Linear matching searches one record type, and the record is of the
    /// other (A2, A3: "even if the email address exists as a Lead").
    OutOfScope,
    /// An extra criterion differs on subject and record (A24).
    Criteria,
    /// The weighted criteria the record meets fall short of the threshold (B10).
    Score {
        /// The weight the record reached.
        score: u64,
        /// The weight it needed.
        threshold: u32,
    },
    /// Cross matching found records of the preferred type; this one is of
    /// the other type (A24).
    NotPreferred,
}

/// A record with the email that was not chosen, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DroppedRecord {
    /// The record.
    pub record: RecordId,
    /// Why it was dropped.
    pub why: Dropped,
}

/// What [`select`] leaves of the records with a subject's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Selection {
    /// The records that remain, all of `record_type`, sorted by id: the
    /// exact-one rule ([`exact_one`]) decides between none, one and several.
    pub chosen: Vec<RecordId>,
    /// The record type the subject matches in, and a new record would be
    /// created in (A1: linear; A24: the preferred type unless only the other
    /// type matched).
    pub record_type: RecordType,
    /// The records with the email that were dropped, sorted by id.
    pub dropped: Vec<DroppedRecord>,
}

impl Selection {
    /// A record outside the searched type has the email (A3's "even if").
    pub fn other_type_has_email(&self) -> bool {
        self.dropped.iter().any(|d| d.why == Dropped::OutOfScope)
    }

    /// How many records of the searched scope failed an extra or weighted
    /// criterion (A24, B10).
    pub fn failed_criteria(&self) -> usize {
        self.dropped
            .iter()
            .filter(|d| matches!(d.why, Dropped::Criteria | Dropped::Score { .. }))
            .count()
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A24: every criterion field is equal on subject and record, trimmed and
/// case-insensitively; a blank value equals only a blank value.
pub(crate) fn criteria_met(criteria: &[FieldName], subject: &Fields, record: &Fields) -> bool {
    criteria
        .iter()
        .all(|c| norm(subject.text(c.as_str())) == norm(record.text(c.as_str())))
}

/// B10: Jaro-Winkler similarity of the normalized values, on their first
/// [`crate::policy::MAX_COMPARED_CHARS`] characters.
fn similarity(a: &str, b: &str) -> f64 {
    use crate::linkage::head;
    strsim::jaro_winkler(&head(a), &head(b))
}

/// B10: the total weight of the criteria `record` meets against `subject`.
pub(crate) fn weighted_score(w: &WeightedCriteria, subject: &Fields, record: &Fields) -> u64 {
    w.criteria
        .iter()
        .filter(|c| {
            let (a, b) = (
                subject.text(c.field.as_str()),
                record.text(c.field.as_str()),
            );
            if a.trim().is_empty() || b.trim().is_empty() {
                return false;
            }
            match c.compare {
                Comparator::Exact => a == b,
                Comparator::Normalized => norm(a) == norm(b),
                Comparator::JaroWinkler { min_per_mille } => {
                    similarity(a, b) * 1000.0 >= f64::from(min_per_mille)
                }
            }
        })
        .map(|c| u64::from(c.weight))
        .sum()
}

/// Linear or cross selection (A2, A3, A24, B10): from every record of the
/// tenant with the subject's email (`candidates`), the ones the subject may
/// be linked to, and why the others were dropped.
///
/// Linear matching keeps records of [`Matching::record_type`] only; cross
/// matching keeps both types and then the preferred type if any record of
/// it remains, else the other. Extra criteria (A24) and weighted criteria
/// (B10) drop the records that do not meet them. Pure: the same inputs give
/// the same selection, whatever the order of `candidates`.
///
/// ```
/// use contact_sync::{Matching, Scope};
/// use contact_sync::rules::{select, Dropped};
/// use contact_sync::{Fields, Record, RecordId, RecordType, TenantId};
///
/// let t = TenantId::from_u128(1);
/// let email = Fields::from_pairs([("email", "ann@example.org")]);
/// let lead = Record::new(RecordId::from_u128(1), t, RecordType::Lead, email.clone());
/// let contact = Record::new(RecordId::from_u128(2), t, RecordType::Contact, email.clone());
///
/// // A2, A3: linear matching on contacts never returns the lead.
/// let linear = Matching { record_type: RecordType::Contact, ..Matching::default() };
/// let s = select(&linear, &email, &[&lead, &contact]);
/// assert_eq!(s.chosen, [RecordId::from_u128(2)]);
/// assert_eq!(s.dropped[0].why, Dropped::OutOfScope);
///
/// // A24: cross matching preferring leads takes the lead.
/// let cross = Matching { scope: Scope::Cross { prefer: RecordType::Lead }, ..linear };
/// let s = select(&cross, &email, &[&lead, &contact]);
/// assert_eq!((s.chosen.as_slice(), s.record_type), (&[RecordId::from_u128(1)][..], RecordType::Lead));
/// ```
pub fn select(matching: &Matching, subject: &Fields, candidates: &[&Record]) -> Selection {
    let m = matching;
    let mut dropped = Vec::new();
    let mut passing: Vec<&Record> = Vec::with_capacity(candidates.len());
    for &r in candidates {
        let in_scope = match m.scope {
            Scope::Linear => r.record_type == m.record_type,
            Scope::Cross { .. } => true,
        };
        let why = if !in_scope {
            Some(Dropped::OutOfScope)
        } else if !criteria_met(&m.criteria, subject, &r.fields) {
            Some(Dropped::Criteria)
        } else {
            m.weighted.as_ref().and_then(|w| {
                let score = weighted_score(w, subject, &r.fields);
                (score < u64::from(w.threshold)).then_some(Dropped::Score {
                    score,
                    threshold: w.threshold,
                })
            })
        };
        match why {
            Some(why) => dropped.push(DroppedRecord { record: r.id, why }),
            None => passing.push(r),
        }
    }
    let record_type = match m.scope {
        Scope::Linear => m.record_type,
        Scope::Cross { prefer } => {
            if passing.is_empty() || passing.iter().any(|r| r.record_type == prefer) {
                prefer
            } else {
                other(prefer)
            }
        }
    };
    let mut chosen = Vec::with_capacity(passing.len());
    for r in passing {
        if r.record_type == record_type {
            chosen.push(r.id);
        } else {
            dropped.push(DroppedRecord {
                record: r.id,
                why: Dropped::NotPreferred,
            });
        }
    }
    chosen.sort_unstable();
    dropped.sort_unstable_by_key(|d| d.record);
    Selection {
        chosen,
        record_type,
        dropped,
    }
}

fn other(t: RecordType) -> RecordType {
    match t {
        RecordType::Contact => RecordType::Lead,
        RecordType::Lead => RecordType::Contact,
    }
}

/// How an ambiguity policy singled out one of several records (B13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
#[non_exhaustive]
pub enum Chosen {
    /// The smallest id ([`Ambiguity::UpdateFirst`]).
    SmallestId,
    /// The latest modification time ([`Ambiguity::MostRecentlyModified`]).
    MostRecentlyModified,
    /// The first waterfall rule that left exactly one record (0-based).
    Waterfall {
        /// The rule's position.
        rule: usize,
    },
    /// The highest weighted score ([`Ambiguity::BestScore`]).
    BestScore {
        /// The score.
        score: u64,
    },
}

/// What the exact-one rule decides for a [`Selection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
#[non_exhaustive]
pub enum MatchAction {
    /// Exactly one record remains: the subject is linked to it (D2, A7).
    Link {
        /// The record.
        record: RecordId,
    },
    /// No record remains: a new one is created (D3, A3).
    Create,
    /// Several remain (D4) and a new record is created: the policy never
    /// guesses ([`Ambiguity::CreateNew`]), or could not single out one.
    CreateDespite {
        /// The records that remained.
        records: Vec<RecordId>,
    },
    /// Several remain and the policy singled out one, with a warning.
    LinkChosen {
        /// The record taken.
        record: RecordId,
        /// Every record that remained.
        records: Vec<RecordId>,
        /// How it was singled out.
        by: Chosen,
    },
    /// Several remain and the policy links none and creates none, with a
    /// warning ([`Ambiguity::Skip`]).
    Skip {
        /// The records that remained.
        records: Vec<RecordId>,
    },
    /// Several remain and a person decides: nothing is linked or created
    /// ([`Ambiguity::Review`]).
    Review {
        /// The records that remained.
        records: Vec<RecordId>,
    },
}

/// The exact-one rule (D2–D4, A7) with the ambiguity policy applied (B13):
/// one remaining record is linked, none means a new record, and several are
/// never chosen between unless [`Matching::ambiguity`] says how. `subject`
/// and `candidates` (the records [`select`] chose from) are what the
/// waterfall, the modification time and the score look at.
///
/// ```
/// use contact_sync::{Ambiguity, Matching};
/// use contact_sync::rules::{exact_one, select, Chosen, MatchAction};
/// use contact_sync::{FieldName, Fields, Record, RecordId, RecordType, TenantId};
///
/// let t = TenantId::from_u128(1);
/// let f = Fields::from_pairs([("email", "ann@example.org"), ("company", "Acme")]);
/// let r1 = Record::new(RecordId::from_u128(1), t, RecordType::Contact, f.clone());
/// let r2 = Record::new(RecordId::from_u128(2), t, RecordType::Contact,
///     Fields::from_pairs([("email", "ann@example.org"), ("company", "Other")]));
/// let mut m = Matching::default();
///
/// // D2: one record with the email is linked.
/// let one = select(&m, &f, &[&r1]);
/// assert_eq!(exact_one(&one, &m, &f, &[&r1]), MatchAction::Link { record: r1.id });
/// // D4: several records with the email: doo creates a new one.
/// let two = select(&m, &f, &[&r1, &r2]);
/// assert_eq!(
///     exact_one(&two, &m, &f, &[&r1, &r2]),
///     MatchAction::CreateDespite { records: vec![r1.id, r2.id] }
/// );
/// // B13: a waterfall on the company singles out r1.
/// m.ambiguity = Ambiguity::Waterfall { rules: vec![vec![FieldName::new("company")]] };
/// assert_eq!(
///     exact_one(&two, &m, &f, &[&r1, &r2]),
///     MatchAction::LinkChosen { record: r1.id, records: vec![r1.id, r2.id], by: Chosen::Waterfall { rule: 0 } }
/// );
/// // D3: none: a new record.
/// assert_eq!(exact_one(&select(&m, &f, &[]), &m, &f, &[]), MatchAction::Create);
/// ```
pub fn exact_one(
    selection: &Selection,
    matching: &Matching,
    subject: &Fields,
    candidates: &[&Record],
) -> MatchAction {
    let many = match selection.chosen.as_slice() {
        [] => return MatchAction::Create,
        [one] => return MatchAction::Link { record: *one },
        many => many,
    };
    let records = many.to_vec();
    let remaining = || candidates.iter().copied().filter(|r| many.contains(&r.id));
    // The one record with the greatest key, if exactly one has it.
    fn unique_max<K: Ord>(items: impl Iterator<Item = (K, RecordId)>) -> Option<(K, RecordId)> {
        let mut best: Option<(K, RecordId)> = None;
        let mut tie = false;
        for (k, id) in items {
            match &best {
                Some((b, _)) if k < *b => {}
                Some((b, _)) if k == *b => tie = true,
                _ => {
                    best = Some((k, id));
                    tie = false;
                }
            }
        }
        best.filter(|_| !tie)
    }
    let chosen = match &matching.ambiguity {
        Ambiguity::CreateNew => None,
        Ambiguity::Skip => return MatchAction::Skip { records },
        Ambiguity::Review => return MatchAction::Review { records },
        // `chosen` is sorted: the first is the smallest id.
        Ambiguity::UpdateFirst => many.first().map(|id| (*id, Chosen::SmallestId)),
        Ambiguity::MostRecentlyModified { field } => unique_max(remaining().filter_map(|r| {
            let v = r.fields.text(field.as_str()).trim();
            (!v.is_empty()).then_some((v, r.id))
        }))
        .map(|(_, id)| (id, Chosen::MostRecentlyModified)),
        Ambiguity::Waterfall { rules } => rules.iter().enumerate().find_map(|(i, rule)| {
            // A rule speaks only when the subject gave every field it names.
            if rule.iter().any(|f| subject.is_empty_at(f.as_str())) {
                return None;
            }
            let mut hits = remaining().filter(|r| criteria_met(rule, subject, &r.fields));
            match (hits.next(), hits.next()) {
                (Some(one), None) => Some((one.id, Chosen::Waterfall { rule: i })),
                _ => None,
            }
        }),
        Ambiguity::BestScore => matching.weighted.as_ref().and_then(|w| {
            unique_max(remaining().map(|r| (weighted_score(w, subject, &r.fields), r.id)))
                .map(|(score, id)| (id, Chosen::BestScore { score }))
        }),
    };
    match chosen {
        Some((record, by)) => MatchAction::LinkChosen {
            record,
            records,
            by,
        },
        None => MatchAction::CreateDespite { records },
    }
}
