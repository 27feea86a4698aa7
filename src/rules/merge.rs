//! Field merge: how entered data flows into a record (D13–D17, A8–A10,
//! A13–A16, A19), and the shared-email name check (B4).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::RuleId;
use crate::email::{EmailKey, Normalization};
use crate::fields::{FieldClass, FieldName, FieldValue, Fields};
use crate::policy::{Citations, ClassRules, FieldIndex, FieldMap, FieldMerge, TrustRights};

/// One field's change, with the value before and after (B3), so hosts can
/// keep the history that doo does not (D18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct FieldChange {
    /// The field.
    pub field: FieldName,
    /// The value before (`None`: the field was absent).
    pub old: Option<FieldValue>,
    /// The value after (blank: the field was cleared).
    pub new: FieldValue,
    /// The rule that made the change.
    pub rule: RuleId,
}

/// Which entered fields count as newly entered (and may overwrite).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Entered {
    /// Every entered field: a new registration (D13, A9), or the update
    /// trigger pushing the holder's data (A18).
    All,
    /// Only these: an edit, whose changed fields are the new ones (D16, A13).
    Only(BTreeSet<FieldName>),
}

impl Entered {
    fn contains(&self, name: &FieldName) -> bool {
        match self {
            Entered::All => true,
            Entered::Only(set) => set.contains(name),
        }
    }
}

/// When a merge happens, for the rules it cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MergeOn {
    /// A new registration matched the record (D13–D15, A8–A10).
    Match,
    /// A registration linked to the record was edited (D16, D17, A13–A19).
    Update,
}

/// Everything a field merge needs besides the two sets of fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct MergeRules {
    /// The merge per field class: the policy's [`crate::SyncRules::on_match`]
    /// or [`crate::SyncRules::on_update`].
    pub classes: ClassRules,
    /// Whether sync is on for this event: the organization setting (D13,
    /// D14) or the organizer's choice for one edit (D17). Off caps every
    /// class at [`FieldMerge::FillEmpty`]: empty fields are still filled (D15).
    pub sync: bool,
    /// Which entered fields are new.
    pub entered: Entered,
    /// Auto-generated fields stay as they are (A19: an edit of a holder of
    /// several tickets).
    pub freeze_generated: bool,
    /// A match or an update.
    pub on: MergeOn,
    /// Whose rule ids the field changes cite.
    pub citations: Citations,
    /// What the submitter of the data may write (B14): each class capped
    /// at its `max`, except the fields it `owns`. `None`: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustRights>,
}

impl MergeRules {
    /// A match merging by `classes` with sync on: every entered field new,
    /// generated fields free to change, doo's citations, no submitter cap.
    /// The setters change one part each; later fields get defaults here.
    pub fn new(classes: ClassRules) -> Self {
        MergeRules {
            classes,
            sync: true,
            entered: Entered::All,
            freeze_generated: false,
            on: MergeOn::Match,
            citations: Citations::default(),
            trust: None,
        }
    }

    /// With sync on or off (D13, D14, D17).
    #[must_use]
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// With the entered fields that count as new.
    #[must_use]
    pub fn with_entered(mut self, entered: Entered) -> Self {
        self.entered = entered;
        self
    }

    /// With generated fields frozen or not (A19).
    #[must_use]
    pub fn with_freeze_generated(mut self, freeze: bool) -> Self {
        self.freeze_generated = freeze;
        self
    }

    /// On a match or an update.
    #[must_use]
    pub fn with_on(mut self, on: MergeOn) -> Self {
        self.on = on;
        self
    }

    /// Citing doo's or the Salesforce article's rule ids.
    #[must_use]
    pub fn with_citations(mut self, citations: Citations) -> Self {
        self.citations = citations;
        self
    }

    /// With what the submitter may write (B14), or no cap.
    #[must_use]
    pub fn with_trust(mut self, trust: Option<TrustRights>) -> Self {
        self.trust = trust;
        self
    }

    /// The merge per class in effect: [`MergeRules::classes`], capped at
    /// [`FieldMerge::FillEmpty`] when sync is off (D14, D15).
    pub fn effective(&self) -> ClassRules {
        if self.sync {
            self.classes
        } else {
            self.classes.capped(FieldMerge::FillEmpty)
        }
    }

    /// The rule a change of a field of `class` cites, from the merge used,
    /// whether the record's field was empty and whether the change clears it.
    fn cite(&self, class: FieldClass, m: FieldMerge, was_empty: bool, cleared: bool) -> RuleId {
        let is_edit = self.on == MergeOn::Update;
        // D15 is doo's; the Salesforce article's rules name the field's class.
        if self.citations == Citations::Doo
            && (m == FieldMerge::FillEmpty || (was_empty && m != FieldMerge::Replace))
        {
            return RuleId::D15;
        }
        match (self.citations, is_edit, class) {
            // A16: a field blanked in an update blanks the record's field.
            (Citations::Salesforce, true, FieldClass::FormField | FieldClass::Generated)
                if cleared =>
            {
                RuleId::A16
            }
            (Citations::Doo, false, _) => RuleId::D13,
            (Citations::Doo, true, FieldClass::Email) => RuleId::D9,
            (Citations::Doo, true, _) => RuleId::D16,
            (Citations::Salesforce, false, FieldClass::Generated) => RuleId::A10,
            (Citations::Salesforce, false, _) => RuleId::A9,
            (Citations::Salesforce, true, FieldClass::Name | FieldClass::Email) => RuleId::A14,
            (Citations::Salesforce, true, _) => RuleId::A13,
        }
    }
}

/// The class of each field name: a policy's [`FieldMap`] (or the engine's
/// hashed copy of it).
pub trait FieldClasses {
    /// The class of `name`, or `None` when the field does not flow into records.
    fn class_of_name(&self, name: &str) -> Option<FieldClass>;
}

impl FieldClasses for FieldMap {
    fn class_of_name(&self, name: &str) -> Option<FieldClass> {
        self.class_of(&FieldName::new(name))
    }
}

impl FieldClasses for FieldIndex {
    fn class_of_name(&self, name: &str) -> Option<FieldClass> {
        self.class_of(name)
    }
}

/// What a field merge changes and keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct MergeResult {
    /// The changes to the record, with old and new value and the rule (B3),
    /// in field-name order.
    pub changes: Vec<FieldChange>,
    /// Fields whose newly entered, differing value the rules kept out of a
    /// non-empty record field (sync off, fill-empty, never).
    pub kept: Vec<FieldName>,
    /// Auto-generated fields were frozen (A19) where they would have changed.
    pub frozen: bool,
    /// Of `kept`, the fields the submitter's trust kept out (B14): the
    /// sync rules alone would have written them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_by_trust: Vec<FieldName>,
}

/// Field merge (D13–D17, A8–A19): how entered data flows into an existing
/// record's fields.
///
/// For each entered field of a class ([`FieldClasses`]), the class's merge
/// in effect ([`MergeRules::effective`]) decides: [`FieldMerge::Never`] leaves
/// the record's field (A8); [`FieldMerge::FillEmpty`] fills it only when empty
/// (D14, D15); [`FieldMerge::Overwrite`] writes a newly entered non-blank value
/// (D13, D16, A13, A14); [`FieldMerge::Replace`] writes a newly entered value,
/// and a blank clears the field (A9, A10, A16). Another spelling of the
/// same address is not an email change. Pure and idempotent: merging the
/// result's record with the same input again changes nothing.
///
/// ```
/// use contact_sync::{ClassRules, FieldMap, FieldMerge};
/// use contact_sync::rules::{merge_fields, MergeRules};
/// use contact_sync::{Citations, Fields, RuleId};
///
/// let record = Fields::from_pairs([("email", "ann@example.org"), ("company", "Old Co")]);
/// let entered = Fields::from_pairs([("email", "ann@example.org"), ("company", "New Co"), ("city", "Graz")]);
/// let rules = MergeRules::new(ClassRules::all(FieldMerge::Overwrite)).with_citations(Citations::Doo);
/// // D13: sync on overwrites the company and fills the empty city (D15).
/// let on = merge_fields(&record, &entered, &FieldMap::default(), &rules);
/// let changed: Vec<_> = on.changes.iter().map(|c| (c.field.as_str(), c.new.as_str(), c.rule)).collect();
/// assert_eq!(changed, [("city", "Graz", RuleId::D15), ("company", "New Co", RuleId::D13)]);
///
/// // D14: sync off only fills the empty city; the company is kept.
/// let off = merge_fields(&record, &entered, &FieldMap::default(), &rules.with_sync(false));
/// assert_eq!(off.changes.len(), 1);
/// assert_eq!(off.kept[0].as_str(), "company");
/// ```
pub fn merge_fields<C: FieldClasses + ?Sized>(
    record: &Fields,
    entered: &Fields,
    classes: &C,
    rules: &MergeRules,
) -> MergeResult {
    let effective = rules.effective();
    let mut out = MergeResult::default();
    for (name, new) in entered.iter() {
        let Some(class) = classes.class_of_name(name.as_str()) else {
            continue;
        };
        let mut merge = effective.get(class);
        if class == FieldClass::Generated && rules.freeze_generated {
            if merge > FieldMerge::Never && record.get(name.as_str()) != Some(new) {
                out.frozen = true;
            }
            merge = FieldMerge::Never;
        }
        // B14: the submitter's rights cap the class, except owned fields.
        let untrusted = merge;
        if let Some(t) = &rules.trust {
            if !t.owns.contains(name) {
                merge = merge.min(t.max.get(class));
            }
        }
        let old = record.get(name.as_str());
        let record_empty = old.is_none_or(FieldValue::is_blank);
        let is_new = rules.entered.contains(name);
        let target_of = |merge: FieldMerge| match merge {
            FieldMerge::Never => None,
            FieldMerge::FillEmpty => (record_empty && !new.is_blank()).then_some(new),
            FieldMerge::Overwrite => (!new.is_blank() && (is_new || record_empty)).then_some(new),
            FieldMerge::Replace => {
                if is_new {
                    Some(new)
                } else {
                    (record_empty && !new.is_blank()).then_some(new)
                }
            }
        };
        let target = target_of(merge);
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
                rule: rules.cite(class, merge, record_empty, v.is_blank()),
            }),
            Some(_) => {}
            None => {
                if is_new && !new.is_blank() && differs(new) && !record_empty {
                    out.kept.push(name.clone());
                    if merge < untrusted && target_of(untrusted).is_some() {
                        out.kept_by_trust.push(name.clone());
                    }
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
