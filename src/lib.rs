//! # contact-sync
//!
//! Decides, deterministically and explainably, how each booking, attendee or
//! ticket holder is matched to a contact record, when a new record is
//! created, what happens when an email changes, and which fields flow into
//! the record.
//!
//! Two documented products are presets of one [`Policy`]:
//! [`Policy::doo`] (doo's contact center, rules `D1`–`D22`) and
//! [`Policy::salesforce`] (the Accelevents → Salesforce integration, rules
//! `A1`–`A30`). Every outcome names the rules that fired (B2) and every field
//! change carries its old and new value (B3).
//!
//! ## The flow
//!
//! ```text
//! event ─► Engine::needs ─► host / ContactStore ─► Engine::decide ─► Plan ─► ApplyPlan::apply
//! ```
//!
//! Deciding is pure: no clock, no randomness, no I/O. [`Engine::plan`] does
//! the lookups through a [`ContactStore`]; [`Engine::decide`] takes
//! [`Candidates`] a host fetched itself (for example asynchronously). A
//! [`Plan`] carries the [`Precondition`]s it was decided on; applying it is
//! atomic and fails with a [`Conflict`] when they no longer hold (B6).
//!
//! ```
//! use contact_sync::*;
//!
//! let tenant = TenantId::from_u128(1);
//! let store = InMemoryStore::new();
//! let engine = Engine::new(Policy::doo()).unwrap();
//!
//! // A new booking whose booker and attendee share one new email (B5):
//! let booking = Event::Registered(Registration::new(
//!     EventId::from_u128(100),
//!     tenant,
//!     vec![
//!         Subject::booker(SubjectId::from_u128(1),
//!             Fields::from_pairs([("email", "ann@example.org"), ("first_name", "Ann")])),
//!         Subject::attendee(SubjectId::from_u128(2),
//!             Fields::from_pairs([("email", "Ann@Example.org"), ("first_name", "Ann")])),
//!     ],
//! ));
//! let plan = engine.plan(&store, &booking).unwrap();
//! assert_eq!(plan.created().count(), 1);
//! println!("{}", plan.report());
//! store.apply(&plan).unwrap();
//! assert_eq!(store.records(tenant).len(), 1);
//! ```
//!
//! ## Where to start
//!
//! * [`Policy`]: the presets and every setting; [`Policy::from_json`] for
//!   policies as data (B11).
//! * [`Engine`]: [`Engine::plan`], [`Engine::plan_batch`] (B5),
//!   [`Engine::plan_and_apply`] (bounded retries on conflicts, B6), and the
//!   sans-IO pair [`Engine::needs`] / [`Engine::decide`].
//! * [`Plan`]: [`Effect`]s, [`Precondition`]s, one [`Outcome`] per subject
//!   with its [`RuleId`]s and sentence, [`Warning`]s.
//! * [`rules`]: the decisions as pure functions the engine is built from
//!   ([`rules::select`], [`rules::exact_one`], [`rules::email_change`],
//!   [`rules::merge_fields`]), for hosts' own calls and property tests.
//! * Stores: [`InMemoryStore`]; `SqliteStore` with the `sqlite` feature;
//!   `PostgresStore` (async) with `postgres`; the async traits
//!   [`AsyncContactStore`] / [`AsyncApplyPlan`]; `testkit` (feature)
//!   checks a host's own store, sync or async.
//! * [`scenario`]: JSON what-if scenarios (B12).
//! * Features for hosts' tooling: `proptest` (strategies for property
//!   tests), `tracing` (spans and events), `schemars` (JSON Schemas).
//! * [`Email`] / [`EmailKey`]: the B1 match key.
//! * [`RuleId`]: the glossary of every rule id, with its text
//!   ([`RuleId::text`]) and source ([`RuleId::source`]).
//!
//! Redelivered events are no-ops and a reused event id with another payload
//! is an error (B7), when the store records applied events
//! ([`ContactStore::event_digest`]; both bundled stores do).
#![forbid(unsafe_code)]
// docs.rs marks feature-gated items with the feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
// Every public function returning `Result` says when it fails.
#![warn(clippy::missing_errors_doc)]
// Panic-freedom on user data: no unwrap, expect, panic or unchecked
// indexing in the library (tests may use them).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod batch;
mod candidates;
pub mod describe;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod email;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod engine;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod error;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod event;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod fields;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod heal;
pub mod linkage;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod plan;
mod plan_async;
// Every item is at the crate root; the module path goes in the next
// release.
#[doc(hidden)]
pub mod policy;
// Every item is at the crate root; the module path goes in the next
// release.
mod attempts;
#[doc(hidden)]
pub mod record;
mod retry;
pub mod rules;
pub mod scenario;
// Every item is at the crate root (the schema versions as
// `SqliteStore::SCHEMA_VERSION` / `PostgresStore::SCHEMA_VERSION`); the
// module path goes in the next release.
#[doc(hidden)]
pub mod store;
#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategies;
mod telemetry;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
pub mod undo;
pub mod whatif;

pub use attempts::{
    ImportError, ImportOptions, ImportProgress, ImportReport, RetryError, RetryPolicy,
};
pub use candidates::{Candidates, Needs};
pub use email::{
    Email, EmailError, EmailKey, Normalization, MAX_ADDRESS_LEN, MAX_LABEL_LEN, MAX_LOCAL_LEN,
};
pub use engine::{derive_record_id, Decided, Engine};
pub use error::{chain, ApplyError, Conflict, Error, ErrorClass, PlanError, PolicyError};
pub use event::{
    CampaignId, Channel, Edit, EditSource, Event, RecordChange, Registration, Relink, Role,
    Subject, Submitter,
};
pub use fields::{FieldClass, FieldName, FieldNameProblem, FieldValue, Fields};
#[allow(deprecated)]
pub use heal::MergePolicy;
pub use heal::{
    duplicate_groups, duplicate_groups_by_score, plan_merge, DuplicateGroup, FieldResolution,
    RecordMerge, ScoredGroup, Survivor,
};
pub use plan::{
    ChangeKind, Decision, Effect, EventDigest, Fact, FieldChange, Held, HistoryEntry, InputProblem,
    NoRecordReason, Observe, Observed, Outcome, Plan, Precondition, Reason, RuleId, Rules, Warning,
};
#[allow(deprecated)]
pub use policy::Merge;
pub use policy::{
    Aliases, Ambiguity, Citations, ClassRules, Comparator, Criterion, EmailChange, FieldMap,
    FieldMerge, InvalidSubjects, Limits, Matching, NameGuard, NoEmail, Policy, RetainedEmail,
    RoleRule, Roles, Scope, SyncRules, TrustRights, WeightedCriteria, MAX_COMPARED_CHARS,
};
pub use record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
pub use rules::ids::{RuleSource, UnknownRule};
// At `scenario::` (their one documented path); these go in the next release.
#[doc(hidden)]
pub use scenario::{Report, Scenario, ScenarioError};
pub use store::asynchronous::{AsyncApplyPlan, AsyncContactStore, AsyncUndoStore, Ready};
pub use store::memory::InsertError;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::postgres::{PostgresConnect, PostgresError, PostgresStore};

/// The driver crates the PostgreSQL store is built on, for configuring it
/// ([`PostgresConnect::config`], [`PostgresConnect::deadpool`],
/// [`PostgresStore::from_pool`], [`PostgresError::code`]) without a
/// dependency of the host's own that must match the crate's versions.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres_driver {
    pub use deadpool_postgres;
    #[cfg(feature = "postgres-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres-tls")))]
    pub use rustls;
    pub use tokio_postgres;
}
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::sqlite::{SqliteError, SqliteStore};
pub use store::{ApplyPlan, CampaignMember, ContactStore, InMemoryStore, Tombstone, UndoStore};

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
