//! Reasons as data (B2): why an outcome is what it is, as the rule and the
//! facts it concerns (records, counts, field names, settings), never an
//! email or a field value. Sentences come after deciding, from a
//! [`crate::describe::Formatter`].
//!
//! They live with their formatters (the plans hold them), so that
//! describing needs nothing of plans.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::event::{Role, Submitter};
use crate::fields::{FieldName, FieldNameProblem};
use crate::policy::NameGuard;
use crate::record::{CampaignId, RecordId, RecordType, SubjectId};
use crate::rules::ids::RuleId;

/// One reason of an outcome: the fact, and the rule it was stated under
/// (the last rule cited before it, as the preset cites it; `None` when the
/// fact explains a rule cited elsewhere or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Reason {
    /// The rule the fact is stated under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
    /// What the decision rests on.
    #[serde(flatten)]
    pub fact: Fact,
}

impl Reason {
    /// `fact`, stated under `rule`.
    pub fn new(rule: Option<RuleId>, fact: Fact) -> Self {
        Reason { rule, fact }
    }
}

/// What a decision rests on: one variant per kind of statement, with the
/// facts it names. Serialized with the variant's name under `"fact"`
/// (`{"fact": "relinked", "record": "…", "record_type": "contact"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "fact", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fact {
    /// D11: the organizer changed the connected record to `record`.
    Relinked {
        /// The record now linked.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
    },
    /// D11: the subject was linked to the chosen record already.
    AlreadyLinked,
    /// A20: without a two-way integration, record changes do not flow
    /// back into registrations.
    NoTwoWay,
    /// A20: the registration holds the record's data already.
    RegistrationCurrent,
    /// B3: the two-way integration copies these fields of the record into
    /// the registration.
    TwoWayCopied {
        /// The fields copied, in the order of the changes.
        fields: Vec<FieldName>,
    },
    /// A6, A12: a subject of this role gets no record; buyer data reaches
    /// records only through the holders' update trigger.
    RoleHasNoRecord {
        /// The subject's role.
        role: Role,
    },
    /// A12: only buyer data is collected, and the update was not
    /// triggered on the holder: nothing carries over.
    BuyerDataWaitsForTrigger,
    /// A12: only buyer data is collected, and the update was triggered on
    /// the holder: the buyer's data carries over.
    BuyerDataTriggered,
    /// A28: the record was found through the ticket id.
    FoundByTicket {
        /// The record.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
    },
    /// An email was added to a subject without record.
    EmailAdded,
    /// D5, A29: the subject has no email and no record; a record is
    /// created only once an email is added.
    NoEmailNoRecordYet,
    /// B7: the event was applied before with the same payload.
    Redelivery,
    /// A12: only buyer data is collected, so the holder carries the
    /// buyer's data.
    BuyerDataCarried,
    /// A6: the ticket buyer gets no record; only ticket holders do.
    BuyerGetsNoRecord,
    /// D7: the booking was prefilled from `record`, which is assumed first.
    Prefilled {
        /// The prefilled record.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
    },
    /// D1: the entered email is the prefilled record's.
    EnteredEmailIsRecords,
    /// D21, D15: the prefilled record has no email; the entered one
    /// completes it, and the link stays.
    EmailCompletesRecord {
        /// The record's type.
        record_type: RecordType,
    },
    /// A21: every ticket holder gets a new record, match or not.
    EveryHolderNew {
        /// The type created.
        record_type: RecordType,
    },
    /// A22: the ticket buyer gets a new record too, even if one has the
    /// same email.
    BuyerNewToo {
        /// The type created.
        record_type: RecordType,
    },
    /// A24: cross matching searches contacts and leads (on email and the
    /// extra criteria), preferring one type.
    CrossMatching {
        /// The extra criteria (none: email only).
        criteria: Vec<FieldName>,
        /// The type preferred.
        prefer: RecordType,
    },
    /// A24: records with the email failed the extra criteria.
    FailedCriteria {
        /// How many.
        count: usize,
    },
    /// B10: weighted criteria need a score; records with the email fell
    /// short.
    WeightedCriteria {
        /// The fields weighed.
        criteria: Vec<FieldName>,
        /// The least total weight.
        threshold: u32,
        /// How many records with the email fell short.
        fell_short: usize,
    },
    /// A3: no record of the type has the email (only one of the other
    /// type, and matching is linear), so a new one is created.
    OnlyOtherTypeHasEmail {
        /// The type matched and created.
        record_type: RecordType,
    },
    /// D3, A3: no record of the type has the email, so a new one is
    /// created.
    NoneHasEmail {
        /// The type matched and created.
        record_type: RecordType,
    },
    /// D2, A7: exactly one record has the email (and matches the extra
    /// criteria): linked to it.
    ExactlyOne {
        /// The record linked.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
        /// Whether extra criteria were matched too.
        criteria: bool,
    },
    /// B5: the record was created earlier in this booking or batch.
    CreatedInBatch,
    /// D4: several records have the email; the system never guesses, so a
    /// new one is created.
    SeveralCreateNew {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
    },
    /// D4, B13: several records have the email; the ambiguity policy could
    /// not single out one, so a new one is created.
    SeveralUnresolved {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
        /// The ambiguity policy's name (`Ambiguity::name`).
        ambiguity: Cow<'static, str>,
    },
    /// D4, A7: several records have the email; the policy takes the one
    /// with the smallest id.
    SeveralSmallestId {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
        /// The record taken.
        record: RecordId,
    },
    /// D4, B13: several records have the email; the most recently
    /// modified is taken.
    SeveralMostRecent {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
        /// The record taken.
        record: RecordId,
    },
    /// D4, B13: several records have the email; the waterfall takes the
    /// only one a rule matches.
    SeveralWaterfall {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
        /// The record taken.
        record: RecordId,
        /// The rule that matched, counted from 1.
        rule: usize,
    },
    /// D4, B13, B10: several records have the email; the best score takes
    /// the only one scoring highest.
    SeveralBestScore {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
        /// The record taken.
        record: RecordId,
        /// Its score.
        score: u64,
    },
    /// D4, B13: several records have the email; the ambiguity policy
    /// `review` leaves the choice to a person.
    SeveralReview {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
    },
    /// D4: several records have the email; the policy links none and
    /// creates none.
    SeveralSkip {
        /// How many records have the email.
        count: usize,
        /// Their type.
        record_type: RecordType,
    },
    /// D5, A11: no email was given; nothing is linked or created.
    NoEmail,
    /// A27: neither email nor first name was given; no record is created.
    NoEmailNoFirstName,
    /// A28: no email was given; `record` carries the ticket id and is
    /// linked.
    TicketCarrier {
        /// The record.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
    },
    /// A26: the last name was blank; the buyer's is used.
    BuyerLastName,
    /// B20: the subject's input is invalid, so it is left out of this
    /// event; the rest goes on.
    InvalidInput {
        /// The subject.
        subject: SubjectId,
        /// What is wrong (boxed: the rarest fact, and the largest).
        problem: Box<InputProblem>,
    },
    /// B15: the record was found through one of its aliases (an earlier
    /// address); its email stays.
    FoundThroughAlias {
        /// Which alias, counted from 1.
        alias: usize,
        /// How many aliases the record has.
        of: usize,
        /// The record's type.
        record_type: RecordType,
    },
    /// B15: the old address is kept as an alias, so a registration with it
    /// finds the record again.
    AliasKept {
        /// Its position among the aliases, counted from 1.
        alias: usize,
        /// The record's type.
        record_type: RecordType,
    },
    /// B15: at most `max` aliases are kept; the oldest were dropped.
    AliasesDropped {
        /// The most aliases kept.
        max: usize,
        /// How many were dropped.
        dropped: usize,
    },
    /// D12: a record was created with this many fields and linked.
    Created {
        /// The record.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
        /// How many fields it holds.
        fields: usize,
    },
    /// A5: the record was added to the event's campaign.
    AddedToCampaign {
        /// The campaign.
        campaign: CampaignId,
    },
    /// A30: the ticket id is mapped on the campaign member too.
    TicketOnMember,
    /// A10: auto-generated fields the registration does not use are
    /// blanked.
    GeneratedBlanked {
        /// The fields blanked.
        fields: Vec<FieldName>,
    },
    /// B4, D19: the record holds a clearly different person's name, which
    /// is overwritten (several people may share the email).
    NameClashOverwritten,
    /// B4, D19: the record holds a clearly different person's name; the
    /// record's name is kept.
    NameClashKept,
    /// B4, D19: the record holds a clearly different person's name, so a
    /// new record is created instead.
    NameClashNewRecord,
    /// A18: the update was triggered for the holder, so the record is
    /// written though nothing changed.
    WrittenUnchanged,
    /// A19: the holder has several tickets, so auto-generated fields are
    /// not updated.
    GeneratedFrozen,
    /// D12: the subject was linked to `record`.
    LinkedTo {
        /// The record.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
    },
    /// D22: this event sets its own behaviour on email change.
    EventSetsEmailChange,
    /// D8: the email differs from the linked record's, and the event
    /// reassigns on email change: matched again on the new email.
    Reassigned,
    /// B15: reassigning leaves `record` and its email as they are, so no
    /// alias is kept; the old address still finds it.
    ReassignKeepsNoAlias {
        /// The record left.
        record: RecordId,
        /// Its type.
        record_type: RecordType,
    },
    /// B8: the email changed and the event retains the link, but the
    /// policy keeps the record's own email.
    RetainKeepsRecordEmail {
        /// The record's type.
        record_type: RecordType,
    },
    /// D9: the email changed and the event retains the link; the record's
    /// email is overwritten with the new one.
    RetainOverwritesEmail {
        /// The record's type.
        record_type: RecordType,
    },
    /// D9, D10: the email changed and the event retains the link; the
    /// record's email is not overwritten.
    RetainLeavesEmail {
        /// The record's type.
        record_type: RecordType,
    },
    /// A23: the email changed, so a new record is created instead of
    /// updating the linked one.
    EmailChangedNewRecord {
        /// The type created.
        record_type: RecordType,
    },
    /// D5, A11: the email was removed, so the subject is unlinked.
    EmailRemoved,
    /// D17: the organizer chose (not) to sync this edit; missing data is
    /// added in any case.
    OrganizerChoseSync {
        /// Whether the organizer chose to sync.
        sync: bool,
    },
    /// D16, A17: changed in self-service.
    SelfService,
    /// D16: manual registrations and imports sync like bookings.
    ManualSyncsLikeBookings,
    /// D14: sync is off; existing values are never changed.
    SyncOff,
    /// A8: the name of an existing record is never updated from a new
    /// registration.
    NameNeverUpdated,
    /// Fields the merge changed, grouped by what happened to them and the
    /// rule that changed them.
    FieldsChanged {
        /// What happened to them.
        change: ChangeKind,
        /// The rule that changed them (as the field changes cite it).
        by: RuleId,
        /// The fields, in the order the changes arose.
        fields: Vec<FieldName>,
    },
    /// D14, A8: the record's values of these fields were kept.
    KeptRecordValues {
        /// The fields.
        fields: Vec<FieldName>,
    },
    /// D14: differing entered data stays on the booking only.
    StaysOnBooking {
        /// The fields.
        fields: Vec<FieldName>,
    },
    /// B14: kept because of who submitted the data, which may not
    /// overwrite.
    KeptBySubmitter {
        /// Who submitted (none given: the policy's default level).
        submitter: Option<Submitter>,
        /// The fields kept.
        fields: Vec<FieldName>,
    },
    /// No field needed a change.
    NoFieldChanged,
    /// B19: more candidates share a blocking key than are scored; the
    /// first `max` by id are.
    LinkageCut {
        /// How many share a blocking key.
        candidates: usize,
        /// How many are scored.
        max: usize,
    },
    /// D3, A3, B19: no record of the type has the email, and record
    /// linkage found none sharing a blocking key: a new one is created.
    LinkageFoundNone {
        /// The type matched and created.
        record_type: RecordType,
    },
    /// B19: record linkage scored the candidates sharing a blocking key;
    /// the best scored `score`. Scores are in thousandths of a bit.
    LinkageScored {
        /// The type matched.
        record_type: RecordType,
        /// How many candidates were scored.
        scored: u32,
        /// The best candidate.
        record: RecordId,
        /// Its score.
        score: i32,
        /// The policy's link threshold.
        link_at: i32,
        /// The policy's review threshold.
        review_at: i32,
    },
    /// B19: the linked record keeps its own email.
    EmailStays,
    /// B19: the score is in the review band: a person decides.
    LinkageReview,
    /// D3, A3, B19: the score is below the review threshold: not the same
    /// party, so a new record is created.
    LinkageBelowReview {
        /// The type created.
        record_type: RecordType,
    },
    /// A25: no email was given, but records without email are enabled: a
    /// new one is created, found again later through its ticket id.
    NoEmailCreates {
        /// The type created.
        record_type: RecordType,
    },
}

/// What is wrong with a subject's input (B20), as
/// [`crate::Error`] says it, without the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InputProblem {
    /// The email does not parse (B1).
    InvalidEmail,
    /// A field value is longer than the policy's limit.
    FieldTooLong {
        /// The field.
        field: FieldName,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A field value holds a control character.
    ControlCharacter {
        /// The field.
        field: FieldName,
    },
    /// A field name is refused.
    InvalidFieldName {
        /// Why.
        problem: FieldNameProblem,
    },
    /// The subject has more fields than the policy's limit.
    TooManyFields {
        /// Number of fields.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Another problem (one this version does not name).
    Other,
}

impl InputProblem {
    /// The problem `error` names, for the subject it names.
    pub(crate) fn of(error: &crate::error::Error) -> InputProblem {
        use crate::error::Error;
        match error {
            Error::InvalidEmail { .. } => InputProblem::InvalidEmail,
            Error::FieldTooLong {
                field, len, limit, ..
            } => InputProblem::FieldTooLong {
                field: field.clone(),
                len: *len,
                limit: *limit,
            },
            Error::ControlCharacter { field, .. } => InputProblem::ControlCharacter {
                field: field.clone(),
            },
            Error::InvalidFieldName { problem, .. } => {
                InputProblem::InvalidFieldName { problem: *problem }
            }
            Error::TooManyFields { count, limit, .. } => InputProblem::TooManyFields {
                count: *count,
                limit: *limit,
            },
            _ => InputProblem::Other,
        }
    }
}

/// What a merge did to a group of fields ([`Fact::FieldsChanged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// Cleared: the entered value was blank (A13).
    Cleared,
    /// Filled: the record's field was empty (D15).
    Filled,
    /// Replaced: the email (D9, A14).
    Replaced,
    /// Updated: any other change.
    Updated,
}

/// Something the host should look at; the plan is still valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Warning {
    /// B4, D19: sync would overwrite the record's name with a clearly
    /// different person's name.
    SharedEmail {
        /// The subject.
        subject: SubjectId,
        /// The record.
        record: RecordId,
        /// What the policy did about it.
        action: NameGuard,
    },
    /// Several candidates matched and the policy picked one or none.
    Ambiguous {
        /// The subject.
        subject: SubjectId,
        /// All candidates, sorted.
        records: Vec<RecordId>,
    },
    /// The subject's email already holds two or more records of the type
    /// it matches in: duplicates the plan absorbs, whatever the ambiguity
    /// policy did (B13); merge them with [`crate::duplicate_groups`] (B9).
    AbsorbingDuplicates {
        /// The subject.
        subject: SubjectId,
        /// How many records the email holds.
        count: usize,
    },
    /// D9: the linked record's email differs from the subject's and was kept
    /// ([`crate::RetainedEmail::Keep`]).
    RecordEmailKept {
        /// The subject.
        subject: SubjectId,
        /// The record.
        record: RecordId,
    },
    /// D9: the linked record's email is overwritten with a different address.
    RecordEmailOverwritten {
        /// The subject.
        subject: SubjectId,
        /// The record.
        record: RecordId,
    },
    /// B20: the subject's input is invalid, so it was left out of its event
    /// and the rest went on ([`crate::InvalidSubjects::Skip`]).
    InvalidInput {
        /// The subject.
        subject: SubjectId,
        /// What is wrong, as data (boxed: the rarest warning, and the
        /// largest).
        problem: Box<InputProblem>,
    },
}

impl Warning {
    /// A sentence for an event manager, in English, naming records and
    /// subjects by their ids (see [`crate::describe::Formatter::warning`]
    /// for other words and names).
    pub fn message(&self) -> String {
        crate::describe::warning(&crate::describe::English, &crate::describe::Ids, self)
    }
}
