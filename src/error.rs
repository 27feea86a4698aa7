//! Error types.
//!
//! Messages name ids, field names and sizes, never email addresses or field
//! values: errors end up in logs. Text the caller passed in (a name, a JSON
//! key) is echoed cut to its first 64 characters and the count of bytes
//! left out.
//!
//! An error that wraps another one (the store's, SQLite's, an email's
//! problem, a conflict) returns it from [`std::error::Error::source`] and
//! does not repeat it in its own message, as the ecosystem's error
//! reporters expect (they print the chain). To print an error with its
//! causes on one line, use [`chain`].

use std::fmt;

use crate::email::EmailError;
use crate::fields::{FieldName, FieldNameProblem};
use crate::record::{EventId, RecordId, SubjectId};

/// Caller-given text in an error message, cut to its first
/// [`Echo::MAX_CHARS`] characters (control characters escaped), so that a
/// megabyte of input never comes back in a log line.
pub(crate) struct Echo<'a>(pub &'a str);

impl Echo<'_> {
    /// The most characters echoed.
    pub(crate) const MAX_CHARS: usize = 64;
}

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.char_indices();
        for (_, c) in chars.by_ref().take(Self::MAX_CHARS) {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        match chars.next() {
            Some((cut, _)) => write!(f, "…(+{} bytes)", self.0.len() - cut),
            None => Ok(()),
        }
    }
}

/// A parser's message, with every `` `quoted` `` piece of input in it
/// echoed cut (see [`Echo`]); the message's own words stay whole.
pub(crate) struct EchoMessage<'a>(pub &'a str);

impl fmt::Display for EchoMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, piece) in self.0.split('`').enumerate() {
            if i > 0 {
                f.write_str("`")?;
            }
            if i % 2 == 1 {
                write!(f, "{}", Echo(piece))?;
            } else {
                write!(f, "{}", Echo(piece).long())?;
            }
        }
        Ok(())
    }
}

impl<'a> Echo<'a> {
    /// The same, for a message's own words: cut only past 1,024 characters.
    pub(crate) fn long(self) -> LongEcho<'a> {
        LongEcho(self.0)
    }
}

pub(crate) struct LongEcho<'a>(&'a str);

impl fmt::Display for LongEcho<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(1024) {
            Some((cut, _)) => write!(
                f,
                "{}…(+{} bytes)",
                self.0.get(..cut).unwrap_or_default(),
                self.0.len() - cut
            ),
            None => f.write_str(self.0),
        }
    }
}

/// An error and its causes on one line, joined by `: ` (what an error
/// reporter prints).
///
/// ```
/// use contact_sync::{chain, Email};
/// let e = contact_sync::Error::InvalidEmail {
///     subject: contact_sync::SubjectId::from_u128(1),
///     source: Email::parse("a@@b").unwrap_err(),
/// };
/// assert_eq!(chain(&e), format!("{e}: {}", Email::parse("a@@b").unwrap_err()));
/// ```
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

/// A policy that cannot work (B11).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The JSON did not parse, or had unknown or misspelled fields.
    #[error("policy JSON: {}", EchoMessage(.0))]
    Json(String),
    /// `email` must be mapped, as the one field of class `email`.
    #[error("the field map must map `email` as the one field of class `email`")]
    EmailField,
    /// Both roles are set to get no record: the policy can never do anything.
    #[error("both roles are set to `no_record`: no subject could ever get a record")]
    NoRoleGetsRecords,
    /// A25: records without email need a new record on email change.
    #[error("`no_email.create` needs `email_change: new_record` (A25)")]
    NoEmailNeedsNewRecordOnEmailChange,
    /// A25: records without email need the ticket id mapped.
    #[error("`no_email.create` needs the `ticket_id` field mapped (A25)")]
    NoEmailNeedsTicketId,
    /// A30: records without email need the ticket id on the campaign member.
    #[error("`no_email.create` needs `campaign_member_ticket` (A30)")]
    NoEmailNeedsMemberTicket,
    /// The email is always the match key; it is not an extra criterion.
    #[error("`email` is the match key and cannot also be a criterion")]
    EmailAsCriterion,
    /// A criterion names a field that does not flow into records.
    #[error("matching criterion `{}` is not a mapped field", Echo(.0))]
    UnmappedCriterion(String),
    /// The weighted criteria's threshold is zero or more than all weights together (B10).
    #[error(
        "weighted criteria: threshold {threshold} must be between 1 and the total weight {total}"
    )]
    UnreachableThreshold {
        /// The threshold.
        threshold: u32,
        /// The sum of the weights.
        total: u64,
    },
    /// A Jaro-Winkler minimum above 1000 per mille (B10).
    #[error("weighted criteria: a Jaro-Winkler minimum of {0} per mille is above 1000")]
    SimilarityOutOfRange(u16),
    /// A waterfall ambiguity policy needs at least one rule, each naming
    /// at least one field (B13).
    #[error("matching.ambiguity.waterfall: give at least one rule, each with at least one field")]
    EmptyWaterfall,
    /// The best-score ambiguity policy needs weighted criteria to score
    /// with (B13, B10).
    #[error("matching.ambiguity.best_score needs matching.weighted")]
    BestScoreWithoutWeights,
    /// `email_aliases` is mapped as a field: only the engine writes a
    /// record's aliases (B15).
    #[error("the field map maps `email_aliases`, which only the engine writes (B15)")]
    AliasesMapped,
    /// The record-linkage settings (B19) cannot work: no blocking pass, a
    /// weight per comparison missing, a review threshold above the link
    /// threshold, or a numeric bound that is not a finite number.
    #[error("invalid record linkage: {0}")]
    Linkage(&'static str),
    /// A limit of zero would reject every input (also `aliases.max`).
    #[error("limits must be greater than zero")]
    ZeroLimit,
    /// A field name in the field map or a criterion breaks the name rules
    /// (see [`crate::Limits::max_field_name_len`]).
    #[error("field map: {0}")]
    InvalidFieldName(FieldNameProblem),
}

/// Bad input to the engine: the event or the candidates it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A subject's email does not parse (B1).
    #[error("subject {subject}: invalid email")]
    InvalidEmail {
        /// The subject.
        subject: SubjectId,
        /// What is wrong with it.
        source: EmailError,
    },
    /// A prefill, link or relink target names a record that does not exist
    /// in the event's tenant. Deliberately the same error whether the record
    /// is missing or belongs to another tenant (B8).
    #[error("subject {subject}: record {record} not found")]
    RecordNotFound {
        /// The subject.
        subject: SubjectId,
        /// The record named.
        record: RecordId,
    },
    /// [`crate::Engine::decide`] was given candidates that do not cover what
    /// [`crate::Engine::needs`] asked for.
    #[error("the candidates lack a lookup the event needs ({0})")]
    MissingCandidates(&'static str),
    /// A candidate record belongs to another tenant (B8).
    #[error("candidate record {0} belongs to another tenant")]
    ForeignCandidate(RecordId),
    /// A field value is longer than the policy's limit.
    #[error("subject {subject}: field `{field}` is {len} bytes; the limit is {limit}")]
    FieldTooLong {
        /// The subject.
        subject: SubjectId,
        /// The field.
        field: FieldName,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A field value holds a control character (other than tab and line breaks).
    #[error("subject {subject}: field `{field}` contains a control character")]
    ControlCharacter {
        /// The subject.
        subject: SubjectId,
        /// The field.
        field: FieldName,
    },
    /// A field name is empty, too long or holds a control character
    /// (see [`crate::Limits::max_field_name_len`]). The name is not echoed.
    #[error("subject {subject}: {problem}")]
    InvalidFieldName {
        /// The subject.
        subject: SubjectId,
        /// What is wrong with the name.
        problem: FieldNameProblem,
    },
    /// A subject has more fields than the policy's limit.
    #[error("subject {subject}: {count} fields; the limit is {limit}")]
    TooManyFields {
        /// The subject.
        subject: SubjectId,
        /// Number of fields.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A registration has more subjects than the policy's limit.
    #[error("registration has {count} subjects; the limit is {limit}")]
    TooManySubjects {
        /// Number of subjects.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The same subject appears twice in one registration.
    #[error("subject {0} appears twice in one registration")]
    DuplicateSubject(SubjectId),
    /// A batch mixes tenants; plan one batch per tenant.
    #[error("a batch must hold events of one tenant")]
    MixedTenants,
    /// The same event id arrived again with a different payload (B7).
    #[error("event {0} was applied before with a different payload")]
    EventPayloadChanged(EventId),
    /// A merge needs at least two distinct records (B9).
    #[error("a duplicate group needs at least two distinct records")]
    NotADuplicateGroup,
    /// The store and the policy normalize email keys differently.
    #[error("the store's email normalization differs from the policy's")]
    NormalizationMismatch,
    /// The store indexes another blocking than the policy's record linkage
    /// uses (B19).
    #[error("the store's blocking differs from the policy's record linkage")]
    BlockingMismatch,
}

/// What a store error means for the call that met it: whether trying the
/// same call again can succeed, and whether what it was doing happened.
/// The bundled stores say it of their errors
/// ([`crate::PostgresError::class`], [`crate::SqliteError::class`]); the
/// retries of [`crate::Engine::plan_and_apply`] and
/// [`crate::Engine::plan_and_apply_async`] act on it through the store's
/// `classify` ([`crate::ContactStore::classify`],
/// [`crate::ApplyPlan::classify`] and their async twins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// Nothing happened, and the same call may succeed in a moment: the
    /// connection was lost before anything was committed, the server is
    /// shutting down or starting, a lock or statement timed out, the server
    /// ran out of a resource. Retried (with a pause) by the retries.
    Transient,
    /// The connection was lost while the plan's transaction committed: it
    /// may or may not have been applied. Planning again (or redelivering
    /// the event) is safe (B7: an applied event plans nothing); the retries
    /// stop and report [`crate::RetryError::OutcomeUnknown`] so the host
    /// knows to redeliver.
    OutcomeUnknown,
    /// Trying again will not help (bad settings, a corrupt row, a bug): the
    /// default of stores that do not say.
    Permanent,
}

/// Planning against a store failed: bad input, or the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError<E> {
    /// The event or policy is invalid.
    #[error(transparent)]
    Invalid(#[from] Error),
    /// The store failed (the store's error is the [`source`](std::error::Error::source)).
    #[error("the store failed")]
    Store(#[source] E),
}

/// Why a plan's preconditions no longer hold (B6). Re-plan and apply again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// The set of records with a looked-up email key changed.
    #[error("the records with a looked-up email key changed since planning")]
    EmailKeyChanged,
    /// A record's version changed.
    #[error("record {record} is at version {actual}, the plan expected {expected}")]
    VersionChanged {
        /// The record.
        record: RecordId,
        /// The version the plan saw.
        expected: u64,
        /// The version now (0 if it is gone).
        actual: u64,
    },
    /// A record the plan creates exists already.
    #[error("record {0} exists already")]
    RecordExists(RecordId),
    /// The set of records with a looked-up ticket id changed.
    #[error("the records with a looked-up ticket id changed since planning")]
    TicketChanged,
    /// The set of records with a looked-up blocking key changed (B19).
    #[error("the records with a looked-up blocking key changed since planning")]
    BlockChanged,
    /// The event was applied meanwhile (a redelivery won the race): re-plan,
    /// which finds nothing to do.
    #[error("event {0} was applied meanwhile")]
    EventApplied(EventId),
    /// The event id was applied with a different payload.
    #[error("event {0} was applied with a different payload")]
    EventPayloadChanged(EventId),
    /// A record's fields changed (or it is gone) (B16).
    #[error("the fields of record {0} changed since planning")]
    FieldsChanged(RecordId),
    /// A subject's link changed (B16).
    #[error("the link of subject {0} changed since planning")]
    SubjectLinkChanged(SubjectId),
    /// The subjects linked to a record changed (B16).
    #[error("the subjects linked to record {0} changed since planning")]
    LinksChanged(RecordId),
    /// A record's campaign memberships changed (B16).
    #[error("the campaign memberships of record {0} changed since planning")]
    MembershipsChanged(RecordId),
    /// The database could not order this plan with a concurrent one (a
    /// serialization failure or deadlock): nothing was applied; re-plan.
    #[error("a concurrent change touched what the plan relies on (serialization failure)")]
    Serialization,
}

/// Applying a plan failed; nothing of it was applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError<E> {
    /// A precondition failed: re-plan (which one is the [`source`](std::error::Error::source)).
    #[error("conflict: the plan's preconditions no longer hold")]
    Conflict(#[from] Conflict),
    /// The plan is not for this store's contents (an effect names an unknown
    /// record or another tenant's record).
    #[error("invalid plan: {0}")]
    InvalidPlan(&'static str),
    /// Applying the plan would raise a record's version past the largest
    /// one the store can hold (or the plan creates a record at a version the
    /// store cannot hold). Nothing was applied; versions never wrap or clamp,
    /// since a repeated version would let a stale plan apply (B6).
    #[error("record {0}: its version cannot be raised or stored by this store")]
    VersionOverflow(RecordId),
    /// The store failed (the store's error is the [`source`](std::error::Error::source)).
    #[error("the store failed")]
    Store(#[source] E),
}
