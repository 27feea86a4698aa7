//! Plans: what the engine decided, the effects to apply, the preconditions
//! they were decided on, and the explanation of every subject's outcome.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::event::EventDigest;
use crate::event::{Role, Submitter};
use crate::fields::{FieldName, FieldValue};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};

pub use crate::rules::ids::RuleId;
pub use crate::rules::merge::FieldChange;

mod effect;
mod precondition;
mod validity;

pub use crate::describe::reason::{ChangeKind, Fact, InputProblem, Reason, Warning};
pub use effect::Effect;
pub use precondition::{Observe, Observed, Precondition};
pub use validity::Held;

/// The rules that fired for one subject, in order, without duplicates.
///
/// Stored inline (no allocation per outcome); behaves as a slice of
/// [`RuleId`] and serializes as a list.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rules {
    len: u8,
    ids: [RuleId; Rules::CAPACITY],
}

impl Rules {
    /// The most rules one outcome can hold (more than any decision cites).
    pub const CAPACITY: usize = 24;

    /// No rules.
    pub const fn new() -> Self {
        Rules {
            len: 0,
            ids: [RuleId::D1; Rules::CAPACITY],
        }
    }

    /// Appends `rule` unless it is there already. Returns false when the
    /// rule could not be added because the list is full.
    pub fn push(&mut self, rule: RuleId) -> bool {
        if self.contains(&rule) {
            return true;
        }
        match self.ids.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = rule;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new()
    }
}

impl std::ops::Deref for Rules {
    type Target = [RuleId];
    fn deref(&self) -> &[RuleId] {
        self.ids.get(..self.len as usize).unwrap_or_default()
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<const N: usize> PartialEq<[RuleId; N]> for Rules {
    fn eq(&self, other: &[RuleId; N]) -> bool {
        **self == other[..]
    }
}

impl PartialEq<[RuleId]> for Rules {
    fn eq(&self, other: &[RuleId]) -> bool {
        **self == *other
    }
}

impl FromIterator<RuleId> for Rules {
    fn from_iter<I: IntoIterator<Item = RuleId>>(iter: I) -> Self {
        let mut r = Rules::new();
        for id in iter {
            r.push(id);
        }
        r
    }
}

impl Serialize for Rules {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Rules {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rules".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = generator.subschema_for::<RuleId>();
        schemars::json_schema!({ "type": "array", "items": item })
    }
}

impl<'de> Deserialize<'de> for Rules {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Vec<RuleId> = Vec::deserialize(d)?;
        let mut r = Rules::new();
        for id in v {
            if !r.push(id) {
                return Err(serde::de::Error::custom("too many rules for one outcome"));
            }
        }
        Ok(r)
    }
}

/// What happened to one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision {
    /// Linked to an existing record.
    Linked,
    /// A new record was created and linked.
    Created,
    /// The link stays as it was (its record may be updated).
    Kept,
    /// Manually relinked (D11).
    Relinked,
    /// Several records matched and a person decides which (B13,
    /// [`crate::policy::Ambiguity::Review`]): nothing was linked or created.
    Review,
    /// Unlinked, nothing linked instead.
    Unlinked,
    /// No record: see the explanation for why.
    NoRecord,
    /// The registration's data takes the record's change (A20).
    SubjectUpdated,
    /// Nothing to do.
    NoChange,
}

/// Why a subject got no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoRecordReason {
    /// No email (D5, A11, A29).
    NoEmail,
    /// The subject's role gets no record (A6).
    Role,
    /// No email and no first name (A27).
    NoFirstName,
    /// Several candidates and the policy creates nothing then.
    Ambiguous,
    /// Only buyer data is collected and the update was not triggered on the holder (A12).
    AwaitingUpdateTrigger,
    /// The subject's input is invalid (an email that does not parse, a
    /// field beyond the limits): it was left out of its event (B20).
    InvalidInput,
    /// A record-linkage score fell in the review band (B19): a person
    /// decides; nothing was linked or created.
    Review,
}

/// The explained outcome for one subject (B2, D12).
///
/// Its JSON holds an `explanation`, the English sentences of its reasons
/// rendered when it is written (the engine formats no sentence while
/// deciding); [`Outcome::explanation`] renders the same on demand.
#[derive(Debug, Clone, Eq, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Outcome {
    /// The event.
    pub event: EventId,
    /// The subject.
    pub subject: SubjectId,
    /// Its role.
    pub role: Role,
    /// What happened.
    pub decision: Decision,
    /// The record the subject is linked to afterwards (D12).
    pub record: Option<RecordId>,
    /// Why there is no record, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_record: Option<NoRecordReason>,
    /// The rules that fired, in order.
    pub rules: Rules,
    /// Why, as data: the facts the decision rests on, each with the rule
    /// it was stated under (B2). Render them with
    /// [`crate::describe::sentences`].
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// A sentence set by hand ([`Outcome::with_explanation`]) or read
    /// from JSON, for an outcome without reasons.
    #[serde(default)]
    pub(crate) explanation: String,
    /// The record-linkage score behind the decision (B19), when the policy
    /// matches by record linkage and a candidate was scored (boxed: most
    /// outcomes have none, and a plan holds one outcome per subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkage: Option<Box<crate::linkage::LinkScore>>,
}

impl Outcome {
    /// An outcome of `subject` (in `role`) in `event`: `decision`, no
    /// record, no rules, no explanation; the setters fill the rest (for
    /// hosts' tests and their own deciders; the engine builds the others).
    pub fn new(event: EventId, subject: SubjectId, role: Role, decision: Decision) -> Self {
        Outcome {
            event,
            subject,
            role,
            decision,
            record: None,
            no_record: None,
            rules: Rules::default(),
            reasons: Vec::new(),
            explanation: String::new(),
            linkage: None,
        }
    }

    /// With the record the subject is linked to afterwards, or none.
    #[must_use]
    pub fn with_record(mut self, record: Option<RecordId>) -> Self {
        self.record = record;
        self
    }

    /// With why there is no record, or none.
    #[must_use]
    pub fn with_no_record(mut self, reason: Option<NoRecordReason>) -> Self {
        self.no_record = reason;
        self
    }

    /// With the rules that fired, in order.
    #[must_use]
    pub fn with_rules(mut self, rules: impl IntoIterator<Item = RuleId>) -> Self {
        self.rules = rules.into_iter().collect();
        self
    }

    /// With the reasons, in order.
    #[must_use]
    pub fn with_reasons(mut self, reasons: impl IntoIterator<Item = Reason>) -> Self {
        self.reasons = reasons.into_iter().collect();
        self
    }

    /// With the sentence for an event manager, for an outcome without
    /// reasons (hosts' own deciders); an outcome with reasons is explained
    /// by them.
    #[must_use]
    pub fn with_explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = explanation.into();
        self
    }

    /// The sentences for an event manager, in English, naming records and
    /// subjects by id: the reasons rendered by [`crate::describe::English`]
    /// (B2); without reasons, the sentence set by
    /// [`Outcome::with_explanation`] or read from JSON (empty when there is
    /// none). Rendered on each call;
    /// [`Outcome::explanation_in`] takes another formatter and the host's
    /// names.
    pub fn explanation(&self) -> std::borrow::Cow<'_, str> {
        self.explanation_in(&crate::describe::English, &crate::describe::Ids)
    }

    /// [`Outcome::explanation`], rendered by `f`, naming records and
    /// subjects through `names` (a sentence set by hand or read from JSON,
    /// for an outcome without reasons, is returned as it is).
    pub fn explanation_in(
        &self,
        f: &dyn crate::describe::Formatter,
        names: &dyn crate::describe::Names,
    ) -> std::borrow::Cow<'_, str> {
        if self.reasons.is_empty() {
            std::borrow::Cow::Borrowed(self.explanation.as_str())
        } else {
            std::borrow::Cow::Owned(crate::describe::sentences(f, names, &self.reasons))
        }
    }
}

/// Outcomes are equal when their fields are; the sentence kept beside
/// reasons (read from JSON) is theirs rendered, so it is compared only
/// between outcomes without reasons.
impl PartialEq for Outcome {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event
            && self.subject == other.subject
            && self.role == other.role
            && self.decision == other.decision
            && self.record == other.record
            && self.no_record == other.no_record
            && self.rules == other.rules
            && self.reasons == other.reasons
            && (!self.reasons.is_empty() || self.explanation == other.explanation)
            && self.linkage == other.linkage
    }
}

/// The JSON of an outcome: its fields in order, with the `explanation`
/// rendered from the reasons (the shape plans had before reasons were
/// data, plus `reasons`).
impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Outcome", 10)?;
        st.serialize_field("event", &self.event)?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("role", &self.role)?;
        st.serialize_field("decision", &self.decision)?;
        st.serialize_field("record", &self.record)?;
        match &self.no_record {
            Some(r) => st.serialize_field("no_record", r)?,
            None => st.skip_field("no_record")?,
        }
        st.serialize_field("rules", &self.rules)?;
        if self.reasons.is_empty() {
            st.skip_field("reasons")?;
        } else {
            st.serialize_field("reasons", &self.reasons)?;
        }
        st.serialize_field("explanation", &self.explanation())?;
        match &self.linkage {
            Some(l) => st.serialize_field("linkage", l)?,
            None => st.skip_field("linkage")?,
        }
        st.end()
    }
}

/// The engine's answer for one event or one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Plan {
    /// The tenant everything happens in.
    pub tenant: TenantId,
    /// The events decided, in order.
    pub events: Vec<EventId>,
    /// Effects, in the order to apply them.
    pub effects: Vec<Effect>,
    /// Facts the plan relies on (B6): email keys, ticket ids, then record
    /// versions, each in the order the plan first asked for them; then
    /// the ids it creates and the events it decides, in order.
    /// Deterministic for the same store and events.
    pub preconditions: Vec<Precondition>,
    /// One outcome per subject, in event and subject order.
    pub outcomes: Vec<Outcome>,
    /// Warnings, in the order they arose.
    pub warnings: Vec<Warning>,
    /// Where each event's effects end (B17): event `i` of `events` made
    /// `effects[ends[i - 1]..ends[i]]`. Empty in plans built by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effect_ends: Vec<u32>,
    /// Who submitted the data of the events that say so (B14, B17), by
    /// position in `events`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub submitters: Vec<(u32, Submitter)>,
}

/// One field change as a history keeps it (B17): the record and field, the
/// value before (`None`: the record was created) and after, the event and
/// rule that changed it, and who submitted the data when the event said.
/// `Debug` shows values by their size only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct HistoryEntry {
    /// The record.
    pub record: RecordId,
    /// The field.
    pub field: FieldName,
    /// Its value before; `None` when the change created the record.
    pub old: Option<FieldValue>,
    /// Its value after.
    pub new: FieldValue,
    /// The event that made the change (`None` in plans built by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventId>,
    /// The rule that made it.
    pub rule: RuleId,
    /// Who submitted the data (B14), when the event said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<Submitter>,
}

/// The rule a created record's fields cite in its history: the creating
/// rule its outcome names, the most specific first (the Salesforce
/// article's toggles A21, A22 and A25 before A4, which every Salesforce
/// creation cites; doo's D6), D6 when none does.
fn creation_rule(rules: &[RuleId]) -> RuleId {
    [
        RuleId::A21,
        RuleId::A22,
        RuleId::A25,
        RuleId::D6,
        RuleId::A4,
        RuleId::A1,
    ]
    .into_iter()
    .find(|r| rules.contains(r))
    .unwrap_or(RuleId::D6)
}

impl Plan {
    /// The history entries of this plan (B17): every field a created record
    /// gets and every field change, in effect order, each with its event,
    /// rule and submitter where the plan knows them. Merges are not field
    /// changes and add none.
    pub fn history(&self) -> Vec<HistoryEntry> {
        let mut out = Vec::new();
        // The rules each created record was created under, looked up once
        // per plan (an import creates many).
        let mut created: std::collections::HashMap<RecordId, &[RuleId]> =
            std::collections::HashMap::new();
        for o in self.outcomes.iter().rev() {
            if let (Some(r), Decision::Created) = (o.record, o.decision) {
                created.insert(r, &o.rules);
            }
        }
        for (i, e) in self.effects.iter().enumerate() {
            let at = (!self.effect_ends.is_empty())
                .then(|| self.effect_ends.partition_point(|end| (*end as usize) <= i));
            let event = at.and_then(|a| self.events.get(a)).copied();
            let submitter = at.and_then(|a| {
                let a = u32::try_from(a).ok()?;
                let p = self.submitters.binary_search_by_key(&a, |(p, _)| *p).ok()?;
                self.submitters.get(p).map(|(_, s)| *s)
            });
            match e {
                Effect::CreateRecord { record } => {
                    let rule = creation_rule(created.get(&record.id).copied().unwrap_or_default());
                    out.extend(record.fields.iter().map(|(n, v)| HistoryEntry {
                        record: record.id,
                        field: n.clone(),
                        old: None,
                        new: v.clone(),
                        event,
                        rule,
                        submitter,
                    }));
                }
                Effect::UpdateRecord { record, changes } => {
                    out.extend(changes.iter().map(|c| HistoryEntry {
                        record: *record,
                        field: c.field.clone(),
                        old: c.old.clone(),
                        new: c.new.clone(),
                        event,
                        rule: c.rule,
                        submitter,
                    }));
                }
                _ => {}
            }
        }
        out
    }

    /// An empty plan of `tenant`: no events, effects, preconditions,
    /// outcomes or warnings. For plans built by hand (a host's own
    /// migration, a test); the engine builds the others.
    pub fn new(tenant: TenantId) -> Self {
        Plan {
            tenant,
            events: Vec::new(),
            effects: Vec::new(),
            preconditions: Vec::new(),
            outcomes: Vec::new(),
            warnings: Vec::new(),
            effect_ends: Vec::new(),
            submitters: Vec::new(),
        }
    }

    /// With `effects` appended, in order.
    #[must_use]
    pub fn with_effects(mut self, effects: impl IntoIterator<Item = Effect>) -> Self {
        self.effects.extend(effects);
        self
    }

    /// With `preconditions` appended, in order.
    #[must_use]
    pub fn with_preconditions(
        mut self,
        preconditions: impl IntoIterator<Item = Precondition>,
    ) -> Self {
        self.preconditions.extend(preconditions);
        self
    }

    /// The outcome for `subject` (the last one, if it occurs in several events).
    pub fn outcome(&self, subject: SubjectId) -> Option<&Outcome> {
        self.outcomes.iter().rev().find(|o| o.subject == subject)
    }

    /// Records this plan creates.
    pub fn created(&self) -> impl Iterator<Item = &Record> {
        self.effects.iter().filter_map(|e| match e {
            Effect::CreateRecord { record } => Some(record),
            _ => None,
        })
    }

    /// Field changes this plan makes to `record`.
    pub fn changes_to(&self, record: RecordId) -> Vec<&FieldChange> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::UpdateRecord { record: r, changes } if *r == record => Some(changes),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// True when applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty()
    }

    /// The plan as pretty JSON (stable: every collection is ordered).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A readable report: one line per subject, in English.
    pub fn report(&self) -> String {
        self.report_in(&crate::describe::English, &crate::describe::Ids)
    }

    /// [`Plan::report`] with each outcome's reasons and each warning rendered by `f`,
    /// naming records and subjects through `names` (see
    /// [`Outcome::explanation_in`]).
    pub fn report_in(
        &self,
        f: &dyn crate::describe::Formatter,
        names: &dyn crate::describe::Names,
    ) -> String {
        let mut s = String::new();
        for o in &self.outcomes {
            let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
            let text = o.explanation_in(f, names);
            s.push_str(&format!(
                "- {} {}: {} [{}]\n",
                o.role.noun(),
                o.subject,
                text,
                rules.join(", ")
            ));
        }
        for w in &self.warnings {
            s.push_str(&format!("! {}\n", crate::describe::warning(f, names, w)));
        }
        s
    }
}
