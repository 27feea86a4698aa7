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
//!   * `record_change`: `record`, `fields` (the record's new fields): A20;
//!   * `merge`: record names, a duplicate group merged with the default
//!     merge policy (B9);
//!   * `undo`: the position of an earlier step, whose inverse is applied
//!     (B16: every step's plan is applied reversibly, undo steps' too; an
//!     inverse whose preconditions no longer hold is the step's error).
//! * `expect`: `outcomes` (per subject name: `decision`, `record` (a record
//!   name, `new1`…, or `"none"`), `rules` (each must have fired),
//!   `explanation_contains`), `created` (records created by the step),
//!   `fields` (per record name, field values after the step), `links` (per
//!   subject name, the record it is linked to after the step, or `"none"`),
//!   `warnings` (the warning kinds, in order: `shared_email`, `ambiguous`,
//!   `record_email_overwritten`), `error` (the step must fail with an error
//!   whose message contains this text), and `history` (per record name,
//!   its field history after the step, B17: each entry
//!   `"field: old -> new (RULE)"`, `(none)` when the field had no value
//!   before), and `absent` (record names that must not exist after the
//!   step).
//! * `compare` (B18, what-if): a second policy, in the form of `policy`.
//!   The steps are played again under it, and the report's `what_if` says
//!   which subjects were decided differently (with both explanations),
//!   which records only one policy creates (records only the compared
//!   policy creates are named `b_new1`, `b_new2`, …) and which fields end
//!   up different. `expect_what_if`: `subjects` (`"step:name"`, in order),
//!   `created_only_a`, `created_only_b` (counts) and `fields`
//!   (`"record.field"`, in order).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::{Echo, EchoMessage, PolicyError};
use crate::event::{
    CampaignId, Channel, Edit, EditSource, Event, RecordChange, Registration, Relink, Role,
    Subject, Submitter,
};
use crate::fields::{FieldName, FieldValue, Fields, Redacted};
use crate::plan::{Decision, Plan, RuleId, Warning};
use crate::policy::{EmailChange, Policy};
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
use crate::store::{ContactStore, InMemoryStore};

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
        "{0}: a step needs exactly one of register, edit, change_email, relink, record_change, merge, undo"
    )]
    StepShape(String),
}

mod format;
mod report;
mod runner;

pub use format::*;
pub use report::*;
