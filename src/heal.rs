//! Duplicate healing (B9).
//!
//! Once two records share an email key, the exact-one rule (D4) creates a
//! new record for every later registration with that email: duplicates
//! breed. [`duplicate_groups`] reports the groups of records of one type that
//! share a key; [`plan_merge`] plans their merge into one survivor, chosen
//! deterministically, with per-field conflict resolution. The plan applies
//! like any other (atomic, with preconditions on every record's version).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::email::{EmailKey, Normalization};
use crate::error::Error;
use crate::fields::{FieldName, FieldValue};
use crate::plan::{Effect, FieldChange, Plan, Precondition, RuleId};
use crate::record::{Record, RecordId, RecordType, TenantId};

mod score;
pub use score::{duplicate_groups_by_score, ScoredGroup};

/// Records of one tenant and type that share an email key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DuplicateGroup {
    /// The shared key.
    pub key: EmailKey,
    /// The records' type.
    pub record_type: RecordType,
    /// The records, sorted by id (at least two).
    pub records: Vec<RecordId>,
}

/// The groups of `records` (one tenant) that share a key, ordered by key
/// and type. Records without a valid email are never grouped.
pub fn duplicate_groups<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    normalization: &Normalization,
) -> Vec<DuplicateGroup> {
    let mut by_key: BTreeMap<(EmailKey, RecordType), Vec<RecordId>> = BTreeMap::new();
    for r in records {
        if let Some(k) = r.email_key(normalization) {
            by_key.entry((k, r.record_type)).or_default().push(r.id);
        }
    }
    by_key
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|((key, record_type), mut records)| {
            records.sort_unstable();
            DuplicateGroup {
                key,
                record_type,
                records,
            }
        })
        .collect()
}

/// Which record of a group survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Survivor {
    /// The one with the most non-blank fields; ties go to the smallest id.
    #[default]
    MostComplete,
    /// The one with the smallest id (the oldest, with time-ordered ids).
    SmallestId,
}

/// Which value a field takes when the records disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldResolution {
    /// The survivor's non-blank values stay; its empty fields take the first
    /// non-blank value of the others, in id order.
    #[default]
    SurvivorWins,
    /// Each field takes the non-blank value most records hold; ties go to
    /// the survivor's value, then to the record with the smallest id.
    MostCommon,
}

/// How to merge a duplicate group of records (B9): record merge, as
/// [`crate::FieldMerge`] is how a field takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
// The schema keeps its name from before the rename.
#[cfg_attr(feature = "schemars", schemars(rename = "MergePolicy"))]
#[serde(deny_unknown_fields, default)]
pub struct RecordMerge {
    /// Which record survives.
    pub survivor: Survivor,
    /// How field conflicts resolve.
    pub fields: FieldResolution,
}

/// The old name of [`RecordMerge`].
#[deprecated(note = "renamed to `RecordMerge`")]
pub type MergePolicy = RecordMerge;

fn completeness(r: &Record) -> usize {
    r.fields.iter().filter(|(_, v)| !v.is_blank()).count()
}

/// Plans the merge of `group` (records of `tenant`, as read from the store)
/// into one survivor: an update of the survivor's fields (old and new
/// values, rule B9) and one [`Effect::MergeRecord`] per other record.
/// Preconditions pin every record's version, so a merge planned on stale
/// data conflicts instead of losing a change.
///
/// # Errors
/// [`Error::NotADuplicateGroup`] for fewer than two distinct records,
/// [`Error::ForeignCandidate`] for a record of another tenant.
pub fn plan_merge(tenant: TenantId, group: &[Record], policy: &RecordMerge) -> Result<Plan, Error> {
    let mut records: Vec<&Record> = group.iter().collect();
    records.sort_by_key(|r| r.id);
    records.dedup_by_key(|r| r.id);
    if records.len() < 2 {
        return Err(Error::NotADuplicateGroup);
    }
    for r in &records {
        if r.tenant != tenant {
            return Err(Error::ForeignCandidate(r.id));
        }
    }
    let survivor = match policy.survivor {
        Survivor::SmallestId => records.first().copied(),
        // `max_by_key` keeps the last maximum; iterate in reverse id order so
        // that ties go to the smallest id.
        Survivor::MostComplete => records
            .iter()
            .rev()
            .copied()
            .max_by_key(|r| completeness(r)),
    }
    .ok_or(Error::NotADuplicateGroup)?;
    let mut names: Vec<&FieldName> = records.iter().flat_map(|r| r.fields.names()).collect();
    names.sort();
    names.dedup();
    let mut changes = Vec::new();
    for name in names {
        let current = survivor.fields.get(name.as_str());
        let wanted: Option<&FieldValue> = match policy.fields {
            FieldResolution::SurvivorWins => match current {
                Some(v) if !v.is_blank() => None,
                _ => records
                    .iter()
                    .filter_map(|r| r.fields.get(name.as_str()))
                    .find(|v| !v.is_blank()),
            },
            FieldResolution::MostCommon => {
                let mut counts: Vec<(&FieldValue, usize)> = Vec::new();
                for v in records
                    .iter()
                    .filter_map(|r| r.fields.get(name.as_str()))
                    .filter(|v| !v.is_blank())
                {
                    match counts.iter_mut().find(|(x, _)| *x == v) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((v, 1)),
                    }
                }
                let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
                let tied: Vec<&FieldValue> = counts
                    .iter()
                    .filter(|(_, n)| *n == best)
                    .map(|(v, _)| *v)
                    .collect();
                match current {
                    Some(c) if tied.contains(&c) => None,
                    _ => tied.first().copied(),
                }
            }
        };
        if let Some(v) = wanted {
            if current != Some(v) {
                changes.push(FieldChange {
                    field: name.clone(),
                    old: current.cloned(),
                    new: v.clone(),
                    rule: RuleId::B9,
                });
            }
        }
    }
    let mut effects = Vec::new();
    if !changes.is_empty() {
        effects.push(Effect::UpdateRecord {
            record: survivor.id,
            changes,
        });
    }
    effects.extend(
        records
            .iter()
            .filter(|r| r.id != survivor.id)
            .map(|r| Effect::MergeRecord {
                record: r.id,
                into: survivor.id,
            }),
    );
    Ok(Plan {
        tenant,
        events: Vec::new(),
        effects,
        preconditions: records
            .iter()
            .map(|r| Precondition::RecordVersion {
                record: r.id,
                version: r.version,
            })
            .collect(),
        outcomes: Vec::new(),
        warnings: Vec::new(),
        effect_ends: Vec::new(),
        submitters: Vec::new(),
    })
}
