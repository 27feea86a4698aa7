//! Candidate selection: linear or cross scope (A2, A24), extra criteria, and
//! the exact-one rule (D2–D4).

use crate::fields::{FieldName, Fields};
use crate::policy::{Comparator, Matching, Scope, WeightedCriteria, MAX_COMPARED_CHARS};
use crate::record::{Record, RecordType};
use smallvec::SmallVec;

/// The candidates that remain for one subject.
pub(crate) struct Selection<'r> {
    /// Candidates of the chosen type that meet every criterion, sorted by id.
    pub chosen: SmallVec<[&'r Record; 2]>,
    /// The type `chosen` is of.
    pub record_type: RecordType,
    /// A record outside the searched scope has the email (A3's "even if").
    pub other_type_has_email: bool,
    /// Records with the email that failed an extra criterion (A24).
    pub failed_criteria: usize,
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
/// [`MAX_COMPARED_CHARS`] characters.
fn similarity(a: &str, b: &str) -> f64 {
    let head = |s: &str| -> String {
        let s = s.trim();
        let end = s
            .char_indices()
            .nth(MAX_COMPARED_CHARS)
            .map_or(s.len(), |(i, _)| i);
        s.get(..end).unwrap_or(s).to_lowercase()
    };
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

/// Selects from `candidates` (every record of the tenant with the subject's key).
pub(crate) fn select<'r>(
    m: &Matching,
    subject: &Fields,
    candidates: &[&'r Record],
) -> Selection<'r> {
    let in_scope = |r: &Record| match m.scope {
        Scope::Linear => r.record_type == m.record_type,
        Scope::Cross { .. } => true,
    };
    let other_type_has_email = candidates.iter().any(|r| !in_scope(r));
    let mut failed_criteria = 0;
    let mut passing: SmallVec<[&Record; 2]> = SmallVec::new();
    for &r in candidates.iter().filter(|r| in_scope(r)) {
        let weighted_ok = m
            .weighted
            .as_ref()
            .is_none_or(|w| weighted_score(w, subject, &r.fields) >= u64::from(w.threshold));
        if criteria_met(&m.criteria, subject, &r.fields) && weighted_ok {
            passing.push(r);
        } else {
            failed_criteria += 1;
        }
    }
    passing.sort_by_key(|r| r.id);
    let record_type = match m.scope {
        Scope::Linear => m.record_type,
        Scope::Cross { prefer } => {
            if passing.iter().any(|r| r.record_type == prefer) || passing.is_empty() {
                prefer
            } else {
                other(prefer)
            }
        }
    };
    passing.retain(|r| r.record_type == record_type);
    Selection {
        chosen: passing,
        record_type,
        other_type_has_email,
        failed_criteria,
    }
}

fn other(t: RecordType) -> RecordType {
    match t {
        RecordType::Contact => RecordType::Lead,
        RecordType::Lead => RecordType::Contact,
    }
}
