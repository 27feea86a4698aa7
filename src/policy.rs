//! The policy: every setting of both products as data (B11), and the presets.
//!
//! One [`Policy`] drives the one engine. The doo preset ([`Policy::doo`]) and
//! the Salesforce-style preset ([`Policy::salesforce`]) differ only in the
//! values below. Policies round-trip through serde (JSON), reject unknown
//! fields, and [`Policy::validate`] rejects combinations that cannot work.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::email::Normalization;
use crate::error::PolicyError;
pub use crate::event::EmailChange;
use crate::event::Submitter;
use crate::fields::{FieldClass, FieldName};
use crate::record::RecordType;

/// Where candidates are searched (A1, A2, A24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    /// Only records of the policy's record type (A2, "linear matching").
    Linear,
    /// Contacts and Leads alike (A24). When records of both types match,
    /// those of `prefer` are taken.
    Cross {
        /// The type taken when both types have matching records.
        prefer: RecordType,
    },
}

/// What happens when several candidates match (D4, B13).
///
/// Each of the products and their peers answers differently; each answer
/// is a policy here, and every outcome names the one that fired. A policy
/// that cannot single out one record (a tie, no rule with exactly one
/// match) falls back to [`Ambiguity::CreateNew`]: it never guesses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Ambiguity {
    /// Never guess between several records: create a new one (D4, doo).
    CreateNew,
    /// Take the record with the smallest id and warn (what a Salesforce
    /// administrator expects: no new duplicate; give records time-ordered ids,
    /// such as UUIDv7, to make this "the oldest").
    UpdateFirst,
    /// Link nothing, create nothing, and warn (B13).
    #[serde(alias = "no_record")]
    Skip,
    /// Link nothing, create nothing: the outcome is
    /// [`crate::Decision::Review`], for a host to route to a person (B13).
    Review,
    /// Take the record whose `field` (a timestamp such as ISO 8601, which
    /// sorts as text) is the latest, as Summit Events App takes the most
    /// recently modified contact (B13). Records without the field come
    /// last; a tie creates a new record.
    MostRecentlyModified {
        /// The record field holding the modification time.
        field: FieldName,
    },
    /// Rules tried in order, each a set of fields that must be equal on
    /// subject and record (trimmed, ignoring case, as A24's criteria): the
    /// first rule that leaves exactly one record wins, as OCA's
    /// `base_import_match` does (B13). A rule naming a field the subject
    /// left blank is passed over. No such rule creates a new record.
    Waterfall {
        /// The rules, in order.
        rules: Vec<Vec<FieldName>>,
    },
    /// Take the record with the highest weighted score
    /// ([`Matching::weighted`], B10); a tie creates a new record (B13).
    BestScore,
}

impl Ambiguity {
    /// The policy's name, as outcomes state it (`create_new`, `waterfall`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Ambiguity::CreateNew => "create_new",
            Ambiguity::UpdateFirst => "update_first",
            Ambiguity::Skip => "skip",
            Ambiguity::Review => "review",
            Ambiguity::MostRecentlyModified { .. } => "most_recently_modified",
            Ambiguity::Waterfall { .. } => "waterfall",
            Ambiguity::BestScore => "best_score",
        }
    }
}

/// Matching settings (D1–D4, A1–A3, A7, A24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Matching {
    /// The record type records are created in, and searched in under
    /// [`Scope::Linear`] (A1).
    pub record_type: RecordType,
    /// Which record types are searched.
    pub scope: Scope,
    /// Extra criteria beyond the email (A24): each named field must be equal
    /// on the subject and the candidate, compared trimmed and
    /// case-insensitively (a blank value equals only a blank value).
    pub criteria: Vec<FieldName>,
    /// What to do when several candidates remain.
    pub ambiguity: Ambiguity,
    /// Weighted, possibly fuzzy criteria (B10), applied after `criteria`.
    pub weighted: Option<WeightedCriteria>,
}

pub use crate::fields::MAX_COMPARED_CHARS;

mod accelevents;
mod doo;
#[cfg(test)]
mod tests;
mod validate;

/// How a weighted criterion compares a field (B10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Comparator {
    /// Byte-for-byte equal.
    Exact,
    /// Equal after trimming and lowercasing.
    Normalized,
    /// Jaro-Winkler similarity of the normalized values at least
    /// `min_per_mille` / 1000 (CiviCRM-style fuzzy names).
    ///
    /// Only the first [`MAX_COMPARED_CHARS`] characters of each value are
    /// compared: the similarity's cost grows with the product of the
    /// lengths, and no name needs more.
    JaroWinkler {
        /// The least similarity, in thousandths (900 = 0.9).
        min_per_mille: u16,
    },
}

/// One weighted criterion: when the field compares equal, its weight counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// The field.
    pub field: FieldName,
    /// How it is compared. A blank value on either side never counts.
    pub compare: Comparator,
    /// What it counts.
    pub weight: u32,
}

/// Weighted criteria (B10, after CiviCRM's dedupe rules): a candidate with the
/// subject's email key matches only when the weights of the criteria it meets
/// add up to `threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WeightedCriteria {
    /// The criteria.
    pub criteria: Vec<Criterion>,
    /// The least total weight.
    pub threshold: u32,
}

impl Default for Matching {
    fn default() -> Self {
        Matching {
            record_type: RecordType::Contact,
            scope: Scope::Linear,
            criteria: Vec::new(),
            ambiguity: Ambiguity::CreateNew,
            weighted: None,
        }
    }
}

/// How one field class merges into an existing record.
///
/// Ordered from weakest to strongest; turning sync off caps every class at
/// [`FieldMerge::FillEmpty`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
// The schema keeps its name from before the rename (policy files refer to it).
#[cfg_attr(feature = "schemars", schemars(rename = "Merge"))]
#[serde(rename_all = "snake_case")]
pub enum FieldMerge {
    /// The record's field never changes (A8).
    Never,
    /// Only empty record fields are filled (D14, D15).
    FillEmpty,
    /// Newly entered non-blank values overwrite; blanks leave the record as
    /// it is (D13).
    Overwrite,
    /// Newly entered values replace the record's, and a blank clears it
    /// (A9, A10, A16).
    Replace,
}

/// The old name of [`FieldMerge`] ("merge" now names record merges
/// only: [`crate::heal`]).
#[deprecated(note = "renamed to `FieldMerge`")]
pub type Merge = FieldMerge;

/// A [`FieldMerge`] per [`FieldClass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClassRules {
    /// First and last name.
    pub name: FieldMerge,
    /// The email address.
    pub email: FieldMerge,
    /// Order-form and contact fields.
    pub form_field: FieldMerge,
    /// Auto-generated fields.
    pub generated: FieldMerge,
}

impl ClassRules {
    /// The same merge for every class.
    pub const fn all(m: FieldMerge) -> Self {
        ClassRules {
            name: m,
            email: m,
            form_field: m,
            generated: m,
        }
    }

    /// The merge for `class`.
    pub fn get(&self, class: FieldClass) -> FieldMerge {
        match class {
            FieldClass::Name => self.name,
            FieldClass::Email => self.email,
            FieldClass::FormField => self.form_field,
            FieldClass::Generated => self.generated,
        }
    }

    /// Every class capped at `max`.
    pub fn capped(&self, max: FieldMerge) -> Self {
        ClassRules {
            name: self.name.min(max),
            email: self.email.min(max),
            form_field: self.form_field.min(max),
            generated: self.generated.min(max),
        }
    }
}

/// Synchronization of entered data into records (D13–D17, A8–A10, A13–A19).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct SyncRules {
    /// The organization setting (D13, D14). Off caps every rule at
    /// [`FieldMerge::FillEmpty`]: empty fields are still filled (D15). An
    /// organizer's per-edit choice (D17) replaces it for that edit.
    pub enabled: bool,
    /// Rules when a new registration matches an existing record (D13, A8–A10).
    pub on_match: ClassRules,
    /// Rules when a registration is edited (D16, A13–A16).
    pub on_update: ClassRules,
    /// Auto-generated fields are not updated on an edit when the subject holds
    /// several tickets (A19).
    pub freeze_generated_for_multiple_tickets: bool,
    /// The update trigger writes the record even when nothing changed (A18).
    pub update_trigger_always_writes: bool,
    /// A10: when a new registration matches a record, a mapped
    /// auto-generated field the registration does not carry counts as left
    /// blank, so the record's value is cleared ("The Salesforce field will
    /// be blank if the fields are unused during registration (e.g.,
    /// tracking link, discount count, access code)"). On in the Salesforce
    /// preset; off in doo's, which has no such sentence (an absent field is
    /// one the form did not ask).
    pub absent_generated_as_blank: bool,
}

impl Default for SyncRules {
    fn default() -> Self {
        SyncRules {
            // doo: "you can activate the synchronization" – it is off until
            // an administrator turns it on.
            enabled: false,
            on_match: ClassRules::all(FieldMerge::Overwrite),
            on_update: ClassRules::all(FieldMerge::Overwrite),
            freeze_generated_for_multiple_tickets: false,
            update_trigger_always_writes: false,
            absent_generated_as_blank: false,
        }
    }
}

/// With [`EmailChange::Retain`] and sync on, what happens to the email of a
/// linked (prefilled, relinked) record that is not the subject's (D9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RetainedEmail {
    /// The record takes the subject's new email, as doo documents (D9);
    /// the plan warns.
    #[default]
    Overwrite,
    /// The record keeps its email; the plan warns. Guards against a
    /// prefill or relink that named the wrong record.
    Keep,
}

/// What a role gets (D6, A6, A21, A22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoleRule {
    /// Matched by email; a record is created when none matches (D6).
    Match,
    /// Never gets a record (A6: the ticket buyer).
    NoRecord,
    /// Always gets a new record, match or not (A21, A22).
    AlwaysCreate,
}

/// Per-role rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// The booker / ticket buyer.
    pub booker: RoleRule,
    /// Attendees / ticket holders.
    pub attendee: RoleRule,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            booker: RoleRule::Match,
            attendee: RoleRule::Match,
        }
    }
}

impl Roles {
    /// The rule for `role`.
    pub fn get(&self, role: crate::event::Role) -> RoleRule {
        match role {
            crate::event::Role::Booker => self.booker,
            crate::event::Role::Attendee => self.attendee,
        }
    }
}

/// Subjects without an email (D5, A11, A25–A29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct NoEmail {
    /// Create a record at registration for a subject without email (A25).
    /// Needs the ticket id mapped and [`EmailChange::NewRecord`], as the
    /// source documents; later edits find the record through the link or
    /// the ticket id (A28).
    pub create: bool,
    /// No record without a first name (A27).
    pub first_name_required: bool,
    /// A blank last name is taken from the buyer (A26).
    pub last_name_from_buyer: bool,
}

/// Shared-email guard (B4, D19): when sync would overwrite a record's name with
/// a clearly different person's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NameGuard {
    /// No check.
    Off,
    /// Warn, and overwrite anyway (doo's documented behaviour).
    Warn,
    /// Warn, and keep the record's name (other fields still sync).
    KeepName,
    /// Warn, and create a new record for the subject instead.
    CreateNew,
}

/// Which fields flow into records, and their classes (A4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct FieldMap {
    /// Mapped fields and their classes. `email` must be the one
    /// [`FieldClass::Email`] field.
    pub classes: BTreeMap<FieldName, FieldClass>,
    /// Whether fields not in `classes` flow too, as form fields (doo: every
    /// contact field does) or not at all (Salesforce: only mapped fields, A4).
    pub unmapped_as_form_fields: bool,
}

impl Default for FieldMap {
    fn default() -> Self {
        let classes = [
            (FieldName::EMAIL, FieldClass::Email),
            (FieldName::FIRST_NAME, FieldClass::Name),
            (FieldName::LAST_NAME, FieldClass::Name),
            (FieldName::TICKET_ID, FieldClass::Generated),
        ]
        .into_iter()
        .map(|(n, c)| (FieldName::new(n), c))
        .collect();
        FieldMap {
            classes,
            unmapped_as_form_fields: true,
        }
    }
}

impl FieldMap {
    /// The class of `name`, or `None` when it does not flow into records.
    pub fn class_of(&self, name: &FieldName) -> Option<FieldClass> {
        mapped_or_form(
            name.as_str(),
            self.classes.get(name).copied(),
            self.unmapped_as_form_fields,
        )
    }

    /// Maps `name` with `class`.
    pub fn map(mut self, name: &str, class: FieldClass) -> Self {
        self.classes.insert(FieldName::new(name), class);
        self
    }
}

/// A field's class: its mapped one, else a form field when unmapped fields
/// flow, else none. The aliases (B15) never flow: only the engine writes them.
fn mapped_or_form(
    name: &str,
    mapped: Option<FieldClass>,
    unmapped_as_form_fields: bool,
) -> Option<FieldClass> {
    if name == FieldName::EMAIL_ALIASES {
        return None;
    }
    mapped.or(unmapped_as_form_fields.then_some(FieldClass::FormField))
}

/// A [`FieldMap`] hashed for lookups: the merge asks for the class of every
/// field of every subject, and the map's ordered search compared strings
/// several times per field (a tenth of a batch).
#[derive(Debug, Clone)]
pub(crate) struct FieldIndex {
    classes: foldhash::HashMap<Box<str>, FieldClass>,
    unmapped_as_form_fields: bool,
}

impl FieldIndex {
    pub(crate) fn new(map: &FieldMap) -> Self {
        FieldIndex {
            classes: map
                .classes
                .iter()
                .map(|(n, c)| (Box::from(n.as_str()), *c))
                .collect(),
            unmapped_as_form_fields: map.unmapped_as_form_fields,
        }
    }

    /// The same answer as [`FieldMap::class_of`].
    pub(crate) fn class_of(&self, name: &str) -> Option<FieldClass> {
        mapped_or_form(
            name,
            self.classes.get(name).copied(),
            self.unmapped_as_form_fields,
        )
    }
}

/// Which product's rule ids explanations cite where both products document
/// the same behaviour (D2 and A7 both say "one match: link it"). Never
/// changes a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Citations {
    /// doo's `D` rules.
    #[default]
    Doo,
    /// Accelevents' `A` rules.
    Salesforce,
}

/// Input size limits: inputs beyond them are rejected with a typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest field value in bytes (default 64 KiB).
    pub max_field_len: usize,
    /// Most fields per subject (default 256).
    pub max_fields: usize,
    /// Most subjects per registration (default 10,000).
    pub max_subjects: usize,
    /// Longest field name in bytes (default 128). Names must also be
    /// non-blank and free of control characters (NUL, line breaks, …): see
    /// [`FieldName::check`]. Applies to every subject's fields and to the
    /// policy's own field map and criteria.
    pub max_field_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field_len: 64 * 1024,
            max_fields: 256,
            max_subjects: 10_000,
            max_field_name_len: 128,
        }
    }
}

/// Every setting that decides matching, creation, email changes and field flow.
///
/// `Policy::default()` is the doo preset. Build presets with
/// [`Policy::doo`], [`Policy::doo_external_master`] and
/// [`Policy::salesforce`], then adjust fields or use the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Email key normalization (B1).
    pub normalization: Normalization,
    /// Matching.
    pub matching: Matching,
    /// Synchronization of entered data.
    pub sync: SyncRules,
    /// Email changes on linked subjects.
    pub email_change: EmailChange,
    /// The linked record's email under retain (D9).
    pub retained_email: RetainedEmail,
    /// Per-role rules.
    pub roles: Roles,
    /// Subjects without email.
    pub no_email: NoEmail,
    /// Add created and updated records to the event's campaign (A5).
    pub campaign_members: bool,
    /// Map the subject's ticket id on its campaign membership as well as on
    /// the record (A30: "map the Ticket ID for the campaign member", one of
    /// the steps for records without email).
    #[serde(default)]
    pub campaign_member_ticket: bool,
    /// Shared-email guard (B4).
    pub name_guard: NameGuard,
    /// Field mapping and classes.
    pub fields: FieldMap,
    /// Record changes flow back into registrations (A20).
    pub two_way: bool,
    /// Input limits.
    pub limits: Limits,
    /// Which rule ids explanations cite.
    pub citations: Citations,
    /// Write rights by who submitted an event's data (B14). A level not in
    /// the map, and an event without a submitter, write as the sync rules
    /// say (empty in every preset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trust: BTreeMap<Submitter, TrustRights>,
    /// Email aliases (B15): whether a record keeps the addresses an email
    /// change overwrote (off in every preset).
    #[serde(default, skip_serializing_if = "Aliases::is_default")]
    pub aliases: Aliases,
    /// What a subject with invalid input does to its event and batch (B20):
    /// left out with an outcome and a warning (the default), or the whole
    /// plan fails.
    #[serde(default, skip_serializing_if = "InvalidSubjects::is_default")]
    pub invalid_subjects: InvalidSubjects,
    /// Record linkage (B19): when an email finds no record of the type, the
    /// records sharing a blocking key are scored and the best is linked,
    /// reviewed or passed over. Off (`None`) in every preset: the
    /// exact-one email rule alone decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkage: Option<crate::linkage::Linkage>,
}

/// What a subject with invalid input (an email that does not parse, a
/// field name or value beyond [`Limits`], a control character) does to its
/// event and batch (B20). Problems of the event itself (too many subjects,
/// a subject twice, mixed tenants) always fail the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvalidSubjects {
    /// The subject is left out of its event: it gets an outcome
    /// ([`crate::NoRecordReason::InvalidInput`], its link as it was) and a
    /// [`crate::Warning::InvalidInput`]; the other subjects and events are
    /// decided as if it were not there. The event still counts as applied
    /// (B7): send a corrected subject in a new event.
    #[default]
    Skip,
    /// The whole plan fails with the subject's error, nothing decided.
    Fail,
}

impl InvalidSubjects {
    fn is_default(&self) -> bool {
        *self == InvalidSubjects::default()
    }
}

/// Email aliases (B15): a record's earlier addresses, kept in
/// [`FieldName::EMAIL_ALIASES`] and matched by every lookup as well as its
/// email.
///
/// With `keep_old`, whenever a plan overwrites a record's email with
/// another address (retain with sync on, D9, A14), the old address becomes
/// an alias of the record: a later registration with it finds the record
/// again instead of creating a duplicate. Reassign (D8) and new record
/// (A23) never write the old record, which keeps its email and is found
/// by it: nothing is forgotten there, and no alias is written.
///
/// Lookups always match aliases, whatever this says: the exact-one rule
/// counts records, not addresses (a record found by its email and an
/// alias is one record). A record matched through an alias keeps its
/// email (the entered address is an old one), and the explanation names
/// the alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Aliases {
    /// Keep an overwritten email as an alias of its record.
    pub keep_old: bool,
    /// At most this many aliases per record (at least 1); when a new one
    /// would exceed it, the oldest is dropped (the plan shows the old
    /// value, and the explanation says so). Default 10.
    pub max: u16,
}

impl Default for Aliases {
    fn default() -> Self {
        Aliases {
            keep_old: false,
            max: 10,
        }
    }
}

impl Aliases {
    fn is_default(&self) -> bool {
        *self == Aliases::default()
    }
}

/// What data from one submitter may do to records (B14).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TrustRights {
    /// The strongest merge allowed per field class: `fill_empty` lets the
    /// data fill empty fields but never overwrite (an anonymous form).
    pub max: ClassRules,
    /// Fields this submitter owns: the cap does not apply to them (an
    /// import may overwrite the fields it is the source of).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owns: Vec<FieldName>,
}

impl Policy {
    /// Sets the sync switch (D13, D14).
    pub fn with_sync(mut self, enabled: bool) -> Self {
        self.sync.enabled = enabled;
        self
    }

    /// Sets the email-change behaviour (D8, D9, A23).
    pub fn with_email_change(mut self, e: EmailChange) -> Self {
        self.email_change = e;
        self
    }

    /// Sets the shared-email guard (B4).
    pub fn with_name_guard(mut self, g: NameGuard) -> Self {
        self.name_guard = g;
        self
    }

    /// A21: a new record for every ticket holder, match or not.
    pub fn with_record_for_every_holder(mut self) -> Self {
        self.roles.attendee = RoleRule::AlwaysCreate;
        self
    }

    /// A22: a record for the ticket buyer too. `regardless_of_match` follows
    /// the source literally (a new record even when one with the buyer's
    /// email exists); `false` matches the buyer like a holder.
    pub fn with_buyer_records(mut self, regardless_of_match: bool) -> Self {
        self.roles.booker = if regardless_of_match {
            RoleRule::AlwaysCreate
        } else {
            RoleRule::Match
        };
        self
    }

    /// A23 and A25–A27: records for holders without email, found again by
    /// ticket id; the settings the source lists as prerequisites are set
    /// with it.
    pub fn with_records_without_email(mut self) -> Self {
        self.email_change = EmailChange::NewRecord;
        self.fields
            .classes
            .insert(FieldName::new(FieldName::TICKET_ID), FieldClass::Generated);
        self.no_email = NoEmail {
            create: true,
            first_name_required: true,
            last_name_from_buyer: true,
        };
        self.campaign_member_ticket = true;
        self
    }

    /// A24: cross matching over Contacts and Leads, preferring `prefer`, with
    /// extra criteria.
    pub fn with_cross_matching(mut self, prefer: RecordType, criteria: &[&str]) -> Self {
        self.matching.scope = Scope::Cross { prefer };
        self.matching.criteria = criteria.iter().map(|c| FieldName::new(c)).collect();
        self
    }

    /// Parses a policy from JSON and validates it (B11).
    ///
    /// # Errors
    /// [`PolicyError::Json`] for malformed JSON or unknown fields, and the
    /// errors of [`Policy::validate`].
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let p: Policy = serde_json::from_str(json).map_err(|e| PolicyError::Json(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// The policy as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
