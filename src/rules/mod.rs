//! The rules: the glossary of every rule id the crate cites (B2), and the
//! decisions themselves as pure functions the engine is built from.
//!
//! | Function | Decides | Rules |
//! |---|---|---|
//! | [`select`] | which records with the email remain: linear or cross scope, extra and weighted criteria, and why the others were dropped | A2, A3, A24, B10 |
//! | [`exact_one`] | one record, none or several, with the ambiguity policy | D2–D4, A3, A7 |
//! | [`email_change`] | reassign, retain (overwriting the email or not), a new record, completing a record without email, unlinking | D8–D10, D21, D22, A14, A15, A23 |
//! | [`merge_fields`] | the field changes (old, new, rule) and the kept values for overwrite, fill-empty, never and replace | D13–D17, A8–A19 |
//!
//! Inputs and outputs are plain data (serde); no store, no
//! [`crate::Engine`]. The engine calls exactly these functions for these
//! decisions, so a host's own property tests can test the rules directly.
//!
//! `D` rules come from doo's help article on matching bookings and attendees
//! to contacts and synchronizing them, `A` rules from Accelevents' article on
//! creating and updating Salesforce Contacts and Leads, `B` rules are where
//! this crate goes beyond both. Explanations, field changes, warnings, tests
//! and scenario files name these ids; [`crate::RuleId::text`] says what each means.

mod email_change;
pub(crate) mod ids;
mod matching;
pub(crate) mod merge;

pub use email_change::{
    email_change, During, EmailChangeAction, EmailChangeCase, EmailChangeDecision,
};
pub use matching::{exact_one, select, Chosen, Dropped, DroppedRecord, MatchAction, Selection};
pub use merge::{merge_fields, Entered, FieldClasses, MergeOn, MergeResult, MergeRules};

// At the crate root (their one documented path); these go in the next
// release.
#[doc(hidden)]
pub use ids::{RuleId, RuleSource, UnknownRule};
#[doc(hidden)]
pub use merge::FieldChange;
