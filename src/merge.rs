//! Field merge: how entered data flows into a record (D13–D17, A8–A10,
//! A13–A16, A19), and the shared-email name check (B4).

use std::collections::BTreeSet;

use crate::email::{EmailKey, Normalization};
use crate::fields::{FieldClass, FieldName, FieldValue, Fields};
use crate::plan::{FieldChange, RuleId};
use crate::policy::{ClassRules, FieldIndex, Merge};

/// Which input fields count as newly entered (and may overwrite).
pub(crate) enum Entered<'a> {
    /// Every input field (a new registration, the update trigger).
    All,
    /// Only these (an edit: the fields whose value changed).
    Only(&'a BTreeSet<FieldName>),
}

impl Entered<'_> {
    fn contains(&self, name: &FieldName) -> bool {
        match self {
            Entered::All => true,
            Entered::Only(set) => set.contains(name),
        }
    }
}

/// Everything a merge needs besides the two field maps.
pub(crate) struct MergeRules<'a> {
    /// Effective rules (already capped when sync is off).
    pub rules: ClassRules,
    /// Classes of fields.
    pub map: &'a FieldIndex,
    /// Which inputs are newly entered.
    pub entered: Entered<'a>,
    /// Generated fields stay as they are (A19).
    pub freeze_generated: bool,
}

/// What the merge did, for explanations.
#[derive(Default)]
pub(crate) struct MergeResult {
    pub changes: Vec<FieldChange>,
    /// Fields whose differing entered value was kept out by the rules.
    pub kept: Vec<FieldName>,
    /// Generated fields frozen by A19.
    pub frozen: bool,
}

/// Merges `input` into `record`; `cite` names the rule for each change from
/// the field's class, the merge used, whether the record's field was empty,
/// and whether the change clears it.
pub(crate) fn merge(
    record: &Fields,
    input: &Fields,
    r: &MergeRules<'_>,
    cite: &dyn Fn(FieldClass, Merge, bool, bool) -> RuleId,
) -> MergeResult {
    let mut out = MergeResult::default();
    for (name, new) in input.iter() {
        let Some(class) = r.map.class_of(name.as_str()) else {
            continue;
        };
        let mut merge = r.rules.get(class);
        if class == FieldClass::Generated && r.freeze_generated {
            if merge > Merge::Never && record.get(name.as_str()) != Some(new) {
                out.frozen = true;
            }
            merge = Merge::Never;
        }
        let old = record.get(name.as_str());
        let record_empty = old.is_none_or(FieldValue::is_blank);
        let entered = r.entered.contains(name);
        let target = match merge {
            Merge::Never => None,
            Merge::FillEmpty => (record_empty && !new.is_blank()).then_some(new),
            Merge::Overwrite => (!new.is_blank() && (entered || record_empty)).then_some(new),
            Merge::Replace => {
                if entered {
                    Some(new)
                } else {
                    (record_empty && !new.is_blank()).then_some(new)
                }
            }
        };
        let differs = |v: &FieldValue| match old {
            // Another spelling of the same address is not a change.
            Some(o) if class == FieldClass::Email => !same_email(o, v),
            Some(o) => o != v,
            None => !v.is_blank(),
        };
        match target {
            Some(v) if differs(v) => out.changes.push(FieldChange {
                field: name.clone(),
                old: old.cloned(),
                new: v.clone(),
                rule: cite(class, merge, record_empty, v.is_blank()),
            }),
            Some(_) => {}
            None => {
                if entered && !new.is_blank() && differs(new) && !record_empty {
                    out.kept.push(name.clone());
                }
            }
        }
    }
    out
}

/// True when both values are the same address up to case and spacing (or
/// both fail to parse and are equal).
fn same_email(a: &FieldValue, b: &FieldValue) -> bool {
    if a == b {
        return true;
    }
    let n = Normalization::default();
    if a.as_str().trim().eq_ignore_ascii_case(b.as_str().trim()) {
        // ASCII case and spacing never change whether an address is valid,
        // nor its key: one check of one of them tells.
        return crate::email::is_plain(a.as_str())
            || matches!(EmailKey::parse(a.as_str(), &n), Ok(Some(_)));
    }
    match (
        EmailKey::parse(a.as_str(), &n),
        EmailKey::parse(b.as_str(), &n),
    ) {
        (Ok(Some(x)), Ok(Some(y))) => x == y,
        _ => false,
    }
}

/// The fields a new record gets: every mapped, non-blank input field (A4),
/// the email trimmed.
pub(crate) fn new_record_fields(input: &Fields, map: &FieldIndex) -> Fields {
    let mut out = Vec::with_capacity(input.len());
    for (n, v) in input.iter() {
        if v.is_blank() {
            continue;
        }
        match map.class_of(n.as_str()) {
            None => {}
            Some(FieldClass::Email) => {
                let trimmed = v.as_str().trim();
                // Shared, not copied, when there is nothing to trim.
                let v = if trimmed.len() == v.len() {
                    v.clone()
                } else {
                    FieldValue::new(trimmed)
                };
                out.push((n.clone(), v));
            }
            Some(_) => out.push((n.clone(), v.clone())),
        }
    }
    // `input` is sorted by name, and so is its subset.
    Fields::from_sorted(out)
}

/// One name is "clearly different" from another when both are given and
/// neither is a prefix of the other, ignoring case, surrounding spaces and
/// trailing dots (so `Chris` ~ `Christopher`, `A.` is not compared, `Anna`
/// ≠ `Ben`).
fn part_differs(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        // No allocation for the common case: ASCII lowercasing keeps lengths.
        let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
        let prefix = |x: &str, p: &str| x.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
        return !a.is_empty() && !b.is_empty() && !prefix(a, b) && !prefix(b, a);
    }
    part_differs_lowercased(a, b)
}

fn part_differs_lowercased(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_lowercase(), b.trim().to_lowercase());
    let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
    !a.is_empty() && !b.is_empty() && !a.starts_with(b) && !b.starts_with(a)
}

/// B4: the input's name is clearly a different person's than the record's:
/// the first names differ, or the last names differ.
pub(crate) fn names_clearly_differ(record: &Fields, input: &Fields) -> bool {
    [FieldName::FIRST_NAME, FieldName::LAST_NAME]
        .iter()
        .any(|n| part_differs(record.text(n), input.text(n)))
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn ascii_name_comparison_agrees_with_lowercasing(a in "[ A-Za-z.]{0,8}", b in "[ A-Za-z.]{0,8}") {
            proptest::prop_assert_eq!(super::part_differs(&a, &b), super::part_differs_lowercased(&a, &b));
        }
    }
}
