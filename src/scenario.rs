//! The scenario simulator (B12): a JSON scenario in, an explained outcome out.
//!
//! A scenario names a policy, the records that exist, and a sequence of
//! steps; each step may state what it expects. [`Scenario::run`] plays the
//! steps on an [`InMemoryStore`] and reports every decision with its
//! explanation, the final records, and every expectation that did not hold.
//!
//! Records and subjects are named (`"ann"`, `"r1"`): names become ids
//! deterministically, and explanations show names instead of UUIDs. Records
//! the steps create are called `new1`, `new2`, … in creation order.
//!
//! ```json
//! {
//!   "description": "D4: two contacts share the email",
//!   "policy": { "preset": "doo", "overrides": { "sync": { "enabled": false } } },
//!   "records": [
//!     { "name": "r1", "fields": { "email": "team@example.org" } },
//!     { "name": "r2", "type": "contact", "fields": { "email": "team@example.org" } }
//!   ],
//!   "steps": [
//!     {
//!       "register": { "subjects": [ { "name": "ann", "role": "attendee",
//!                                     "fields": { "email": "team@example.org" } } ] },
//!       "expect": { "outcomes": { "ann": { "decision": "created", "record": "new1", "rules": ["D4"] } },
//!                   "created": 1 }
//!     },
//!     { "change_email": { "subject": "ann", "email": "ann@example.org" },
//!       "expect": { "outcomes": { "ann": { "rules": ["D8"] } } } }
//!   ]
//! }
//! ```
//!
//! ## Format
//! * `policy`: `{"preset": NAME, "overrides": {...}}` where NAME is `doo`,
//!   `doo_sync` (doo with synchronization activated), `doo_external_master`,
//!   `salesforce_contact` or `salesforce_lead`, and the
//!   overrides are merged into the preset's JSON (objects merge, everything
//!   else replaces); or `{"policy": {...}}`, a full policy.
//! * `records`: `name`, `type` (`contact` or `lead`, default `contact`),
//!   `tenant` (a name, default `default`), `fields`, `version` (default 1).
//! * `steps`: each has exactly one action and may have `expect` and `note`:
//!   * `register`: `subjects` (each `name`, `role` `booker`/`attendee`
//!     (default attendee), `fields`, `prefill` (a record name), `tickets`),
//!     `channel`, `campaign`, `buyer_data_only`, `tenant`, `id`,
//!     `email_change` (the event's own `reassign` / `retain` / `new_record`,
//!     D22; its subjects' later edits carry it);
//!   * `edit`: `subject` (a registered subject's name), `fields` (the new
//!     values), `source` (`"self_service"`, `"update_trigger"` or
//!     `{"organizer": {"sync": true|false|null}}`), `buyer`,
//!     `buyer_data_only`, `campaign`, `tenant`, `id`, `email_change`;
//!   * `change_email`: `subject`, `email`, `source`, `email_change`: an edit
//!     of the email only;
//!   * `relink`: `subject`, `to` (a record name);
//!   * `record_change`: `record`, `fields` (the record's new fields): A20.
//! * `expect`: `outcomes` (per subject name: `decision`, `record` (a record
//!   name, `new1`…, or `"none"`), `rules` (each must have fired),
//!   `explanation_contains`), `created` (records created by the step),
//!   `fields` (per record name, field values after the step), `links` (per
//!   subject name, the record it is linked to after the step, or `"none"`),
//!   `warnings` (the warning kinds, in order: `shared_email`, `ambiguous`,
//!   `record_email_overwritten`), `error` (the step must fail with an error
//!   whose message contains this text).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::{Echo, EchoMessage, PolicyError};
use crate::event::{
    CampaignId, Channel, Edit, EditSource, Event, RecordChange, Registration, Relink, Role, Subject,
};
use crate::fields::{FieldName, FieldValue, Fields, Redacted};
use crate::plan::{Decision, Plan, RuleId, Warning};
use crate::policy::{EmailChange, Policy};
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
use crate::store::{ApplyPlan, InMemoryStore};

const NAMESPACE: Uuid = Uuid::from_u128(0x51a1_7c0e_42d1_4c6b_8a37_0f55_2b9d_e6a4);

fn named(kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{name}").as_bytes())
}

/// A scenario file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The JSON is malformed, or has an unknown field or a wrong value, at `path`.
    #[error("{}: {}", Echo(.path).long(), EchoMessage(.message))]
    Json {
        /// Where in the document (`steps[2].register.subjects[0].role`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The preset name is not one of the known ones.
    #[error("policy.preset: unknown preset `{}` (doo, doo_sync, doo_external_master, salesforce_contact, salesforce_lead)", Echo(.0))]
    UnknownPreset(String),
    /// The policy section is not `{preset, overrides}` or `{policy}`.
    #[error("policy: give either `preset` (with optional `overrides`) or `policy`")]
    PolicyShape,
    /// The resulting policy is invalid (why is the [`source`](std::error::Error::source)).
    #[error("policy: the policy is invalid")]
    Policy(#[from] PolicyError),
    /// A name is used but never defined.
    #[error("{}: {kind} `{}` is not defined", Echo(.path).long(), Echo(.name))]
    Undefined {
        /// Where.
        path: String,
        /// `record` or `subject`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A name is defined twice.
    #[error("{}: {kind} `{}` is defined twice", Echo(.path).long(), Echo(.name))]
    Duplicate {
        /// Where.
        path: String,
        /// `record` or `subject`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A step has no action, or several.
    #[error(
        "{0}: a step needs exactly one of register, edit, change_email, relink, record_change"
    )]
    StepShape(String),
}

/// A scenario document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The policy.
    pub policy: PolicySpec,
    /// The records that exist before the first step.
    #[serde(default)]
    pub records: Vec<RecordSpec>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// The policy of a scenario: a preset with overrides, or a full policy.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// `doo`, `doo_sync`, `doo_external_master`, `salesforce_contact`, `salesforce_lead`.
    #[serde(default)]
    pub preset: Option<String>,
    /// JSON merged into the preset's policy.
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
    /// A full policy (instead of a preset).
    #[serde(default)]
    pub policy: Option<serde_json::Value>,
}

/// A record that exists before the first step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Its name.
    pub name: String,
    /// Contact or Lead.
    #[serde(rename = "type", default = "contact")]
    pub record_type: RecordType,
    /// Its tenant's name.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Its fields.
    #[serde(default)]
    pub fields: Fields,
    /// Its version.
    #[serde(default = "one")]
    pub version: u64,
}

fn contact() -> RecordType {
    RecordType::Contact
}

fn one() -> u64 {
    1
}

/// One step: exactly one action, optionally with expectations.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A note shown in the report.
    #[serde(default)]
    pub note: Option<String>,
    /// A new booking / order.
    #[serde(default)]
    pub register: Option<RegisterSpec>,
    /// A change of a subject's data.
    #[serde(default)]
    pub edit: Option<EditSpec>,
    /// A change of a subject's email only.
    #[serde(default)]
    pub change_email: Option<ChangeEmailSpec>,
    /// A manual relink.
    #[serde(default)]
    pub relink: Option<RelinkSpec>,
    /// A record changed in the contact system (A20).
    #[serde(default)]
    pub record_change: Option<RecordChangeSpec>,
    /// What the step must do.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// A registration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// Event name (default: the step's position).
    #[serde(default)]
    pub id: Option<String>,
    /// Tenant name.
    #[serde(default)]
    pub tenant: Option<String>,
    /// How it came in.
    #[serde(default)]
    pub channel: Channel,
    /// The event's campaign.
    #[serde(default)]
    pub campaign: Option<String>,
    /// Only buyer data is collected.
    #[serde(default)]
    pub buyer_data_only: bool,
    /// The subjects.
    pub subjects: Vec<SubjectSpec>,
    /// The event's own email-change behaviour (D22); later edits of its
    /// subjects carry it. Absent: the policy's.
    #[serde(default)]
    pub email_change: Option<EmailChange>,
}

/// A subject of a registration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectSpec {
    /// Its name.
    pub name: String,
    /// Booker or attendee.
    #[serde(default = "attendee")]
    pub role: Role,
    /// Its data.
    #[serde(default)]
    pub fields: Fields,
    /// The record the form was prefilled from.
    #[serde(default)]
    pub prefill: Option<String>,
    /// Tickets held.
    #[serde(default)]
    pub tickets: Option<u32>,
}

fn attendee() -> Role {
    Role::Attendee
}

/// An edit of a registered subject.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EditSpec {
    /// Event name.
    #[serde(default)]
    pub id: Option<String>,
    /// Tenant name.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The subject's name.
    pub subject: String,
    /// The new values.
    #[serde(default)]
    pub fields: Fields,
    /// Who edited.
    #[serde(default = "self_service")]
    pub source: EditSource,
    /// The buyer's data (A12, A26).
    #[serde(default)]
    pub buyer: Option<Fields>,
    /// Only buyer data is collected (A12).
    #[serde(default)]
    pub buyer_data_only: bool,
    /// The event's campaign.
    #[serde(default)]
    pub campaign: Option<String>,
    /// Tickets held after the edit.
    #[serde(default)]
    pub tickets: Option<u32>,
    /// The event's email-change behaviour for this edit (D22); absent: the
    /// one its registration set, else the policy's.
    #[serde(default)]
    pub email_change: Option<EmailChange>,
}

fn self_service() -> EditSource {
    EditSource::SelfService
}

/// A change of a subject's email. `Debug` shows the email's size only.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailSpec {
    /// The subject's name.
    pub subject: String,
    /// The new email.
    pub email: String,
    /// Who changed it.
    #[serde(default = "self_service")]
    pub source: EditSource,
    /// The event's email-change behaviour for this change (D22); absent:
    /// the one its registration set, else the policy's.
    #[serde(default)]
    pub email_change: Option<EmailChange>,
}

impl fmt::Debug for ChangeEmailSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeEmailSpec")
            .field("subject", &self.subject)
            .field("email", &Redacted(&self.email))
            .field("source", &self.source)
            .field("email_change", &self.email_change)
            .finish()
    }
}

/// A manual relink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelinkSpec {
    /// The subject's name.
    pub subject: String,
    /// The record's name.
    pub to: String,
}

/// A record changed in the contact system.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordChangeSpec {
    /// The record's name.
    pub record: String,
    /// Its new fields.
    pub fields: Fields,
}

/// What a step must do. `Debug` shows expected field values by size only.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Per subject name.
    #[serde(default)]
    pub outcomes: BTreeMap<String, ExpectOutcome>,
    /// Records the step creates.
    #[serde(default)]
    pub created: Option<usize>,
    /// Field values per record name after the step.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
    /// Links per subject name after the step (`"none"`: unlinked).
    #[serde(default)]
    pub links: BTreeMap<String, String>,
    /// Warning kinds, in order.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    /// The step fails with an error containing this text.
    #[serde(default)]
    pub error: Option<String>,
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: BTreeMap<&String, BTreeMap<&String, Redacted<'_>>> = self
            .fields
            .iter()
            .map(|(r, fs)| (r, fs.iter().map(|(n, v)| (n, Redacted(v))).collect()))
            .collect();
        f.debug_struct("Expect")
            .field("outcomes", &self.outcomes)
            .field("created", &self.created)
            .field("fields", &fields)
            .field("links", &self.links)
            .field("warnings", &self.warnings)
            .field("error", &self.error)
            .finish()
    }
}

/// What one subject's outcome must be.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectOutcome {
    /// The decision.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// The record name, `new1`…, or `"none"`.
    #[serde(default)]
    pub record: Option<String>,
    /// Rules that must have fired.
    #[serde(default)]
    pub rules: Vec<RuleId>,
    /// Text the explanation must contain.
    #[serde(default)]
    pub explanation_contains: Option<String>,
}

/// One subject's outcome, with names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedOutcome {
    /// The subject's name.
    pub subject: String,
    /// What happened.
    pub decision: Decision,
    /// The record's name, if any.
    pub record: Option<String>,
    /// The rules that fired.
    pub rules: Vec<RuleId>,
    /// The explanation, with names for ids.
    pub explanation: String,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The step's position (from 0).
    pub index: usize,
    /// The action, in a few words.
    pub action: String,
    /// The step's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// One per subject.
    pub outcomes: Vec<NamedOutcome>,
    /// Warnings, as sentences.
    pub warnings: Vec<String>,
    /// The error, when the step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Expectations that did not hold.
    pub mismatches: Vec<String>,
}

/// A record at the end, with names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedRecord {
    /// Its name.
    pub name: String,
    /// Its tenant's name.
    pub tenant: String,
    /// Contact or Lead.
    pub record_type: RecordType,
    /// Its version.
    pub version: u64,
    /// Its fields.
    pub fields: Fields,
}

/// The outcome of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The scenario's description.
    pub description: String,
    /// One per step.
    pub steps: Vec<StepReport>,
    /// Every record at the end, by tenant and name.
    pub records: Vec<NamedRecord>,
}

impl Report {
    /// Every expectation that did not hold, with its step.
    pub fn mismatches(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|s| {
                s.mismatches
                    .iter()
                    .map(move |m| format!("step {}: {m}", s.index))
            })
            .collect()
    }

    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.mismatches.is_empty())
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.description.is_empty() {
            writeln!(f, "{}", self.description)?;
        }
        for s in &self.steps {
            writeln!(f, "\nstep {}: {}", s.index, s.action)?;
            if let Some(n) = &s.note {
                writeln!(f, "  ({n})")?;
            }
            for o in &s.outcomes {
                let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
                writeln!(
                    f,
                    "  {} -> {:?}, {}\n      {}\n      rules: {}",
                    o.subject,
                    o.decision,
                    o.record.as_deref().unwrap_or("no record"),
                    o.explanation,
                    rules.join(" ")
                )?;
            }
            for w in &s.warnings {
                writeln!(f, "  ! {w}")?;
            }
            if let Some(e) = &s.error {
                writeln!(f, "  error: {e}")?;
            }
            for m in &s.mismatches {
                writeln!(f, "  MISMATCH: {m}")?;
            }
        }
        writeln!(f, "\nrecords:")?;
        for r in &self.records {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|(n, v)| format!("{n}={}", v.as_str()))
                .collect();
            writeln!(
                f,
                "  [{} {} {} v{}] {}",
                r.tenant,
                r.record_type.noun(),
                r.name,
                r.version,
                fields.join(", ")
            )?;
        }
        Ok(())
    }
}

fn json_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> ScenarioError {
    let path = e.path().to_string();
    ScenarioError::Json {
        path: if path == "." {
            "(document)".into()
        } else {
            path
        },
        message: e.into_inner().to_string(),
    }
}

fn merge_json(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) => merge_json(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

impl PolicySpec {
    /// The policy this spec describes, validated.
    pub fn resolve(&self) -> Result<Policy, ScenarioError> {
        let value = match (&self.preset, &self.policy) {
            (Some(name), None) => {
                let preset = match name.as_str() {
                    "doo" => Policy::doo(),
                    "doo_sync" => Policy::doo().with_sync(true),
                    "doo_external_master" => Policy::doo_external_master(),
                    "salesforce_contact" => Policy::salesforce(RecordType::Contact),
                    "salesforce_lead" => Policy::salesforce(RecordType::Lead),
                    other => return Err(ScenarioError::UnknownPreset(other.into())),
                };
                let mut v = serde_json::to_value(&preset).map_err(|e| ScenarioError::Json {
                    path: "policy".into(),
                    message: e.to_string(),
                })?;
                if let Some(o) = &self.overrides {
                    merge_json(&mut v, o);
                }
                v
            }
            (None, Some(full)) if self.overrides.is_none() => full.clone(),
            _ => return Err(ScenarioError::PolicyShape),
        };
        let policy: Policy = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError::Json {
                path: format!("policy.{path}"),
                message: e.into_inner().to_string(),
            }
        })?;
        policy.validate()?;
        Ok(policy)
    }
}

/// The simulator's state: names, ids, subjects as registered.
struct World {
    store: InMemoryStore,
    tenants: BTreeMap<String, TenantId>,
    records: BTreeMap<String, RecordId>,
    record_names: BTreeMap<RecordId, String>,
    record_tenants: BTreeMap<RecordId, TenantId>,
    subjects: BTreeMap<String, (TenantId, Subject)>,
    subject_names: BTreeMap<SubjectId, String>,
    /// The email-change behaviour of the event each subject registered
    /// for, when it sets one (D22): its later edits carry it too.
    email_change: BTreeMap<String, EmailChange>,
    created: usize,
}

impl World {
    fn tenant(&mut self, name: Option<&str>) -> TenantId {
        let name = name.unwrap_or("default");
        *self
            .tenants
            .entry(name.to_owned())
            .or_insert_with(|| TenantId::new(named("tenant", name)))
    }

    fn record(&self, path: &str, name: &str) -> Result<RecordId, ScenarioError> {
        self.records
            .get(name)
            .copied()
            .ok_or_else(|| ScenarioError::Undefined {
                path: path.into(),
                kind: "record",
                name: name.into(),
            })
    }

    fn subject(&self, path: &str, name: &str) -> Result<(TenantId, Subject), ScenarioError> {
        let (t, s) = self
            .subjects
            .get(name)
            .cloned()
            .ok_or_else(|| ScenarioError::Undefined {
                path: path.into(),
                kind: "subject",
                name: name.into(),
            })?;
        let link = self.store.link_of(t, s.id);
        Ok((
            t,
            Subject {
                link,
                prefill: None,
                ..s
            },
        ))
    }

    /// D22: an edit's own email-change setting, else the one its subject's
    /// registration set.
    fn email_change_for(&self, subject: &str, own: Option<EmailChange>) -> Option<EmailChange> {
        own.or_else(|| self.email_change.get(subject).copied())
    }

    fn record_name(&self, id: RecordId) -> String {
        self.record_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// Replaces ids in `text` by names, in one pass over the text (each
    /// hyphenated UUID in it is looked up once), so a report is linear in
    /// the number of subjects.
    fn names(&self, text: &str) -> String {
        const UUID_LEN: usize = 36;
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) {
            let name = text
                .get(i..i + UUID_LEN)
                .filter(|_| c.is_ascii_hexdigit())
                .and_then(|s| Uuid::try_parse(s).ok())
                .and_then(|u| {
                    self.record_names
                        .get(&RecordId::new(u))
                        .or_else(|| self.subject_names.get(&SubjectId::new(u)))
                });
            match name {
                Some(n) => {
                    out.push_str(n);
                    i += UUID_LEN;
                }
                None => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out
    }
}

impl Scenario {
    /// Parses a scenario; errors name the JSON path and the problem.
    pub fn from_json(json: &str) -> Result<Scenario, ScenarioError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let s: Scenario = serde_path_to_error::deserialize(de).map_err(json_error)?;
        s.check()?;
        Ok(s)
    }

    /// Checks names and step shapes before anything runs.
    fn check(&self) -> Result<(), ScenarioError> {
        self.policy.resolve()?;
        let mut records = std::collections::BTreeSet::new();
        for (i, r) in self.records.iter().enumerate() {
            if !records.insert(r.name.clone()) {
                return Err(ScenarioError::Duplicate {
                    path: format!("records[{i}].name"),
                    kind: "record",
                    name: r.name.clone(),
                });
            }
        }
        let mut subjects = std::collections::BTreeSet::new();
        for (i, st) in self.steps.iter().enumerate() {
            let actions = [
                st.register.is_some(),
                st.edit.is_some(),
                st.change_email.is_some(),
                st.relink.is_some(),
                st.record_change.is_some(),
            ];
            if actions.iter().filter(|a| **a).count() != 1 {
                return Err(ScenarioError::StepShape(format!("steps[{i}]")));
            }
            let undefined_record = |path: String, name: &str| ScenarioError::Undefined {
                path,
                kind: "record",
                name: name.into(),
            };
            let undefined_subject = |path: String, name: &str| ScenarioError::Undefined {
                path,
                kind: "subject",
                name: name.into(),
            };
            if let Some(r) = &st.register {
                for (j, s) in r.subjects.iter().enumerate() {
                    if let Some(p) = &s.prefill {
                        if !records.contains(p) {
                            return Err(undefined_record(
                                format!("steps[{i}].register.subjects[{j}].prefill"),
                                p,
                            ));
                        }
                    }
                    if !subjects.insert(s.name.clone()) {
                        return Err(ScenarioError::Duplicate {
                            path: format!("steps[{i}].register.subjects[{j}].name"),
                            kind: "subject",
                            name: s.name.clone(),
                        });
                    }
                }
            }
            let subject_ref = [
                st.edit.as_ref().map(|e| ("edit", &e.subject)),
                st.change_email
                    .as_ref()
                    .map(|e| ("change_email", &e.subject)),
                st.relink.as_ref().map(|e| ("relink", &e.subject)),
            ];
            for (what, name) in subject_ref.into_iter().flatten() {
                if !subjects.contains(name) {
                    return Err(undefined_subject(
                        format!("steps[{i}].{what}.subject"),
                        name,
                    ));
                }
            }
            if let Some(r) = &st.relink {
                if !records.contains(&r.to) {
                    return Err(undefined_record(format!("steps[{i}].relink.to"), &r.to));
                }
            }
            if let Some(r) = &st.record_change {
                if !records.contains(&r.record) {
                    return Err(undefined_record(
                        format!("steps[{i}].record_change.record"),
                        &r.record,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Plays the scenario on an in-memory store.
    pub fn run(&self) -> Result<Report, ScenarioError> {
        let policy = self.policy.resolve()?;
        let engine = Engine::new(policy.clone())?;
        let mut w = World {
            store: InMemoryStore::with_normalization(policy.normalization),
            tenants: BTreeMap::new(),
            records: BTreeMap::new(),
            record_names: BTreeMap::new(),
            record_tenants: BTreeMap::new(),
            subjects: BTreeMap::new(),
            subject_names: BTreeMap::new(),
            email_change: BTreeMap::new(),
            created: 0,
        };
        for (i, r) in self.records.iter().enumerate() {
            let tenant = w.tenant(r.tenant.as_deref());
            let id = RecordId::new(named("record", &r.name));
            let mut rec = Record::new(id, tenant, r.record_type, r.fields.clone());
            rec.version = r.version;
            w.store.insert(rec).map_err(|_| ScenarioError::Duplicate {
                path: format!("records[{i}].name"),
                kind: "record",
                name: r.name.clone(),
            })?;
            w.records.insert(r.name.clone(), id);
            w.record_names.insert(id, r.name.clone());
            w.record_tenants.insert(id, tenant);
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for (i, st) in self.steps.iter().enumerate() {
            steps.push(self.step(&engine, &mut w, i, st)?);
        }
        let mut records = Vec::new();
        for (tname, t) in w.tenants.clone() {
            for r in w.store.records(t) {
                records.push(NamedRecord {
                    name: w.record_name(r.id),
                    tenant: tname.clone(),
                    record_type: r.record_type,
                    version: r.version,
                    fields: r.fields,
                });
            }
        }
        records.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
        Ok(Report {
            description: self.description.clone(),
            steps,
            records,
        })
    }

    fn step(
        &self,
        engine: &Engine,
        w: &mut World,
        i: usize,
        st: &Step,
    ) -> Result<StepReport, ScenarioError> {
        let path = format!("steps[{i}]");
        let event_id = |id: &Option<String>| {
            EventId::new(named(
                "event",
                id.as_deref().unwrap_or(&format!("step-{i}")),
            ))
        };
        let (tenant, event, action) = if let Some(r) = &st.register {
            let tenant = w.tenant(r.tenant.as_deref());
            let mut subjects = Vec::with_capacity(r.subjects.len());
            for s in &r.subjects {
                let id = SubjectId::new(named("subject", &s.name));
                let mut subject = Subject::new(id, s.role, s.fields.clone());
                if let Some(p) = &s.prefill {
                    subject.prefill = Some(w.record(&path, p)?);
                }
                if let Some(t) = s.tickets {
                    subject.tickets = t;
                }
                w.subject_names.insert(id, s.name.clone());
                match r.email_change {
                    Some(e) => w.email_change.insert(s.name.clone(), e),
                    None => w.email_change.remove(&s.name),
                };
                w.subjects.insert(
                    s.name.clone(),
                    (
                        tenant,
                        Subject {
                            prefill: None,
                            ..subject.clone()
                        },
                    ),
                );
                subjects.push(subject);
            }
            let names: Vec<&str> = r.subjects.iter().map(|s| s.name.as_str()).collect();
            let event = Event::Registered(Registration {
                id: event_id(&r.id),
                tenant,
                channel: r.channel,
                campaign: r.campaign.clone().map(CampaignId),
                buyer_data_only: r.buyer_data_only,
                subjects,
                email_change: r.email_change,
            });
            (tenant, event, format!("register {}", names.join(", ")))
        } else if let Some(e) = &st.edit {
            let (tenant, mut subject) = w.subject(&path, &e.subject)?;
            if let Some(t) = e.tickets {
                subject.tickets = t;
            }
            let event = Event::Edited(Edit {
                id: event_id(&e.id),
                tenant,
                subject,
                new_fields: e.fields.clone(),
                source: e.source,
                campaign: e.campaign.clone().map(CampaignId),
                buyer: e.buyer.clone(),
                buyer_data_only: e.buyer_data_only,
                email_change: w.email_change_for(&e.subject, e.email_change),
            });
            (
                tenant,
                event,
                format!("edit {} ({})", e.subject, source_name(e.source)),
            )
        } else if let Some(e) = &st.change_email {
            let (tenant, subject) = w.subject(&path, &e.subject)?;
            let event = Event::Edited(Edit {
                id: event_id(&None),
                tenant,
                subject,
                new_fields: Fields::from_pairs([(FieldName::EMAIL, e.email.as_str())]),
                source: e.source,
                campaign: None,
                buyer: None,
                buyer_data_only: false,
                email_change: w.email_change_for(&e.subject, e.email_change),
            });
            (
                tenant,
                event,
                format!(
                    "change the email of {} ({})",
                    e.subject,
                    source_name(e.source)
                ),
            )
        } else if let Some(r) = &st.relink {
            let (tenant, subject) = w.subject(&path, &r.subject)?;
            let to = w.record(&path, &r.to)?;
            let event = Event::Relinked(Relink {
                id: event_id(&None),
                tenant,
                subject,
                to,
            });
            (tenant, event, format!("relink {} to {}", r.subject, r.to))
        } else if let Some(c) = &st.record_change {
            let record = w.record(&path, &c.record)?;
            let tenant = match w.record_tenants.get(&record) {
                Some(t) => *t,
                None => w.tenant(None),
            };
            let linked: Vec<Subject> = w
                .subjects
                .values()
                .filter(|(t, s)| *t == tenant && w.store.link_of(*t, s.id) == Some(record))
                .map(|(_, s)| Subject {
                    link: Some(record),
                    ..s.clone()
                })
                .collect();
            let event = Event::RecordChanged(RecordChange {
                id: event_id(&None),
                tenant,
                record,
                new_fields: c.fields.clone(),
                subjects: linked,
            });
            (tenant, event, format!("record {} changes", c.record))
        } else {
            return Err(ScenarioError::StepShape(path));
        };

        let mut report = StepReport {
            index: i,
            action,
            note: st.note.clone(),
            outcomes: Vec::new(),
            warnings: Vec::new(),
            error: None,
            mismatches: Vec::new(),
        };
        let planned = engine.plan(&w.store, &event);
        let plan = match planned {
            Ok(plan) => match w.store.apply(&plan) {
                Ok(()) => Some(plan),
                Err(e) => {
                    report.error = Some(crate::error::chain(&e));
                    None
                }
            },
            Err(e) => {
                report.error = Some(w.names(&crate::error::chain(&e)));
                None
            }
        };
        if let Some(plan) = &plan {
            self.record_plan(w, &event, plan, &mut report);
        }
        if let Some(x) = &st.expect {
            check_expect(w, tenant, x, plan.as_ref(), &mut report);
        }
        Ok(report)
    }

    fn record_plan(&self, w: &mut World, event: &Event, plan: &Plan, report: &mut StepReport) {
        for r in plan.created() {
            w.created += 1;
            let name = format!("new{}", w.created);
            w.records.insert(name.clone(), r.id);
            w.record_names.insert(r.id, name);
            w.record_tenants.insert(r.id, r.tenant);
        }
        // Subjects keep their latest data, as a host would.
        if let Event::Edited(e) = event {
            if let Some(name) = w.subject_names.get(&e.subject.id).cloned() {
                if let Some((_, s)) = w.subjects.get_mut(&name) {
                    s.fields = e.merged_fields();
                    s.tickets = e.subject.tickets;
                }
            }
        }
        for o in &plan.outcomes {
            report.outcomes.push(NamedOutcome {
                subject: w
                    .subject_names
                    .get(&o.subject)
                    .cloned()
                    .unwrap_or_else(|| o.subject.to_string()),
                decision: o.decision,
                record: o.record.map(|r| w.record_name(r)),
                rules: o.rules.to_vec(),
                explanation: w.names(&o.explanation),
            });
        }
        report.warnings = plan
            .warnings
            .iter()
            .map(|x| w.names(&x.message()))
            .collect();
    }
}

fn source_name(s: EditSource) -> &'static str {
    match s {
        EditSource::Organizer { sync: None } => "by the organizer",
        EditSource::Organizer { sync: Some(true) } => "by the organizer, sync chosen",
        EditSource::Organizer { sync: Some(false) } => "by the organizer, no sync chosen",
        EditSource::SelfService => "in self-service",
        EditSource::UpdateTrigger => "update triggered",
    }
}

fn warning_kind(w: &Warning) -> &'static str {
    match w {
        Warning::SharedEmail { .. } => "shared_email",
        Warning::Ambiguous { .. } => "ambiguous",
        Warning::RecordEmailOverwritten { .. } => "record_email_overwritten",
        Warning::RecordEmailKept { .. } => "record_email_kept",
    }
}

fn check_expect(w: &World, tenant: TenantId, x: &Expect, plan: Option<&Plan>, r: &mut StepReport) {
    let mut miss = |m: String| r.mismatches.push(m);
    match (&x.error, plan) {
        (Some(want), None) => {
            if !r.error.as_deref().unwrap_or("").contains(want.as_str()) {
                miss(format!(
                    "expected an error containing {want:?}, got {:?}",
                    r.error
                ));
            }
            return;
        }
        (Some(want), Some(_)) => {
            miss(format!(
                "expected an error containing {want:?}, but the step succeeded"
            ));
            return;
        }
        (None, None) => {
            miss(format!(
                "the step failed: {}",
                r.error.as_deref().unwrap_or("")
            ));
            return;
        }
        (None, Some(_)) => {}
    }
    let Some(plan) = plan else { return };
    for (name, want) in &x.outcomes {
        let Some(o) = r
            .outcomes
            .iter()
            .rev()
            .find(|o| &o.subject == name)
            .cloned()
        else {
            miss(format!("no outcome for subject `{name}`"));
            continue;
        };
        if let Some(d) = want.decision {
            if d != o.decision {
                miss(format!(
                    "`{name}`: decision {:?}, expected {d:?}",
                    o.decision
                ));
            }
        }
        if let Some(rec) = &want.record {
            let got = o.record.clone().unwrap_or_else(|| "none".into());
            if &got != rec {
                miss(format!("`{name}`: record {got}, expected {rec}"));
            }
        }
        for rule in &want.rules {
            if !o.rules.contains(rule) {
                miss(format!(
                    "`{name}`: rule {rule} did not fire (fired: {:?})",
                    o.rules
                ));
            }
        }
        if let Some(t) = &want.explanation_contains {
            if !o.explanation.contains(t.as_str()) {
                miss(format!(
                    "`{name}`: explanation lacks {t:?}: {}",
                    o.explanation
                ));
            }
        }
    }
    if let Some(n) = x.created {
        let got = plan.created().count();
        if got != n {
            miss(format!("created {got} record(s), expected {n}"));
        }
    }
    for (rname, fields) in &x.fields {
        let Some(id) = w.records.get(rname) else {
            miss(format!("record `{rname}` does not exist"));
            continue;
        };
        let t = w.record_tenants.get(id).copied().unwrap_or(tenant);
        let rec = w.store.records(t).into_iter().find(|r| r.id == *id);
        let Some(rec) = rec else {
            miss(format!("record `{rname}` is not in this tenant"));
            continue;
        };
        for (f, v) in fields {
            let got = rec.fields.get(f).map(FieldValue::as_str).unwrap_or("");
            if got != v {
                miss(format!("record `{rname}`: {f} = {got:?}, expected {v:?}"));
            }
        }
    }
    for (sname, want) in &x.links {
        let Some((t, s)) = w.subjects.get(sname) else {
            miss(format!("subject `{sname}` does not exist"));
            continue;
        };
        let got = w
            .store
            .link_of(*t, s.id)
            .map(|id| w.record_name(id))
            .unwrap_or_else(|| "none".into());
        if &got != want {
            miss(format!("`{sname}` is linked to {got}, expected {want}"));
        }
    }
    if let Some(want) = &x.warnings {
        let got: Vec<&str> = plan.warnings.iter().map(warning_kind).collect();
        if got != *want {
            miss(format!("warnings {got:?}, expected {want:?}"));
        }
    }
}
