//! The storage traits the engine reads through and plans are applied with.
//!
//! Storage is the host's: implement [`ContactStore`] to let
//! [`crate::Engine::plan`] look candidates up, and [`ApplyPlan`] to apply
//! plans atomically. [`InMemoryStore`] implements both.

use crate::candidates::{Candidates, Needs};
use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, ErrorClass};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{EventDigest, HistoryEntry, Plan};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};

pub mod asynchronous;
pub mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

pub use memory::InMemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

/// Read access to a tenant's records.
///
/// Every method is tenant-scoped (B8): a record of another tenant must never
/// be returned.
pub trait ContactStore {
    /// The store's own error (I/O, database…).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The normalization the store computes email keys with; it must equal
    /// the policy's (the engine checks).
    fn normalization(&self) -> Normalization {
        Normalization::default()
    }

    /// What `error`, met while reading, means for a retry
    /// ([`ErrorClass`]). The default: [`ErrorClass::Permanent`].
    fn classify(&self, error: &Self::Error) -> ErrorClass {
        let _ = error;
        ErrorClass::Permanent
    }

    /// All records of `tenant`, of any type, whose email or one of whose
    /// aliases (B15, [`crate::FieldName::EMAIL_ALIASES`], keys from
    /// [`Record::alias_keys`]) has `key`; each record once.
    ///
    /// # Errors
    /// The store's own error (I/O, database).
    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, Self::Error>;

    /// The ids of the records [`ContactStore::records_by_email`] finds,
    /// sorted. The default reads the records; a store that can answer with
    /// the ids alone should (the threaded dry run asks it once per key).
    ///
    /// # Errors
    /// The store's own error.
    fn record_ids_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<RecordId>, Self::Error> {
        let mut ids: Vec<RecordId> = self
            .records_by_email(tenant, key)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// The record `id` of `tenant`, or `None` (also when it belongs to another tenant).
    ///
    /// # Errors
    /// The store's own error.
    fn record(&self, tenant: TenantId, id: RecordId) -> Result<Option<Record>, Self::Error>;

    /// All records of `tenant` whose `ticket_id` field equals `ticket` (A28):
    /// both trimmed of surrounding whitespace, then compared exactly (case
    /// counts: `T-1` is not `t-1`). A blank `ticket` finds nothing (no
    /// record is kept under a blank ticket id), and nor does a record whose
    /// ticket id is blank. After an `UpdateRecord` of the ticket id the
    /// record is found under the new one only. Any order.
    ///
    /// # Errors
    /// The store's own error.
    fn records_by_ticket(&self, tenant: TenantId, ticket: &str)
        -> Result<Vec<Record>, Self::Error>;

    /// The subjects linked to `record` in `tenant`, sorted (D12: "In the
    /// contact details you can see all bookings as well as all attendees
    /// associated with the contact"). Empty for a record of another tenant.
    ///
    /// # Errors
    /// The store's own error.
    fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<SubjectId>, Self::Error>;

    /// The campaign memberships of `record` in `tenant`, sorted by campaign,
    /// with the ticket id mapped on each (A5, A30).
    ///
    /// # Errors
    /// The store's own error.
    fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<CampaignMember>, Self::Error>;

    /// The field history of `record` in `tenant` (B17): the entries of
    /// every plan applied ([`Plan::history`]), oldest first, kept
    /// append-only (also for a record merged away). The default keeps none.
    ///
    /// # Errors
    /// The store's own error.
    fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<HistoryEntry>, Self::Error> {
        let _ = (tenant, record);
        Ok(Vec::new())
    }

    /// The blocking the store indexes records by (B19): a policy that
    /// matches by record linkage must use the same (the engine checks).
    /// The default indexes nothing.
    fn blocking(&self) -> Blocking {
        Blocking::default()
    }

    /// All records of `tenant` with `key` among their keys under
    /// [`ContactStore::blocking`] ([`Blocking::keys`] over their fields, with
    /// the store's normalization), sorted by id, each once. The default
    /// finds nothing.
    ///
    /// # Errors
    /// The store's own error.
    fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, Self::Error> {
        let _ = (tenant, key);
        Ok(Vec::new())
    }

    /// The digest of `event` if the store has applied it (B7). Stores that
    /// record applied events make redeliveries no-ops and reject an event id
    /// reused with another payload; the default records nothing.
    ///
    /// # Errors
    /// The store's own error.
    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, Self::Error> {
        let _ = (tenant, event);
        Ok(None)
    }

    /// Everything `needs` asks for (one event's, or a whole batch's:
    /// [`crate::Engine::needs_batch`]), as [`crate::Engine::decide`] and
    /// [`crate::Engine::decide_batch`] read it. The default looks each key
    /// up in turn through the methods above; a store with a bulk query
    /// overrides it (one round trip per kind of lookup), and must answer
    /// exactly as those lookups would (`testkit::run_all` compares).
    ///
    /// # Errors
    /// The store's error, from the first lookup that failed.
    fn fetch(&self, needs: &Needs) -> Result<Candidates, Self::Error> {
        let t = needs.tenant;
        let mut c = Candidates::new(t);
        for k in &needs.email_keys {
            c.add_email_key(k.clone(), self.records_by_email(t, k)?);
        }
        for id in &needs.records {
            c.add_record(*id, self.record(t, *id)?);
        }
        for ticket in &needs.tickets {
            c.add_ticket(ticket, self.records_by_ticket(t, ticket)?);
        }
        for e in &needs.events {
            if let Some(d) = self.event_digest(t, *e)? {
                c.add_applied_event(*e, d);
            }
        }
        for k in &needs.block_keys {
            c.add_block(k.clone(), self.records_by_block(t, k)?);
        }
        Ok(c)
    }
}

impl Candidates {
    /// Fetches everything `needs` asks for from `store`.
    ///
    /// # Errors
    /// The store's error, from the first lookup that failed.
    #[deprecated(note = "use `ContactStore::fetch`, which a store can override with a bulk read")]
    pub fn fetch<S: ContactStore + ?Sized>(store: &S, needs: &Needs) -> Result<Self, S::Error> {
        store.fetch(needs)
    }
}

impl<S: ContactStore + ?Sized> ContactStore for &S {
    type Error = S::Error;
    fn normalization(&self) -> Normalization {
        (**self).normalization()
    }
    fn classify(&self, error: &Self::Error) -> ErrorClass {
        (**self).classify(error)
    }
    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, Self::Error> {
        (**self).records_by_email(tenant, key)
    }
    fn record(&self, tenant: TenantId, id: RecordId) -> Result<Option<Record>, Self::Error> {
        (**self).record(tenant, id)
    }
    fn record_ids_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<RecordId>, Self::Error> {
        (**self).record_ids_by_email(tenant, key)
    }
    fn records_by_ticket(
        &self,
        tenant: TenantId,
        ticket: &str,
    ) -> Result<Vec<Record>, Self::Error> {
        (**self).records_by_ticket(tenant, ticket)
    }
    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, Self::Error> {
        (**self).event_digest(tenant, event)
    }
    fn blocking(&self) -> Blocking {
        (**self).blocking()
    }
    fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<HistoryEntry>, Self::Error> {
        (**self).record_history(tenant, record)
    }
    fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, Self::Error> {
        (**self).records_by_block(tenant, key)
    }
    fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<SubjectId>, Self::Error> {
        (**self).linked_subjects(tenant, record)
    }
    fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<CampaignMember>, Self::Error> {
        (**self).campaign_memberships(tenant, record)
    }
    fn fetch(&self, needs: &Needs) -> Result<Candidates, Self::Error> {
        (**self).fetch(needs)
    }
}

pub use crate::record::CampaignMember;

/// What a store keeps of a record merged away (B16): the record as it was,
/// the record it went into, the subjects that were linked to it, its
/// campaign memberships, and the memberships `into` held in those campaigns
/// before the merge. [`crate::undo::unmerge`] brings it back from this.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Tombstone {
    /// The record as it was when it was merged away (its losing values).
    pub record: Record,
    /// The record it was merged into.
    pub into: RecordId,
    /// The subjects linked to it then, sorted.
    pub subjects: Vec<SubjectId>,
    /// Its campaign memberships then, sorted by campaign.
    pub memberships: Vec<CampaignMember>,
    /// The memberships `into` held then in the same campaigns, sorted.
    pub into_memberships: Vec<CampaignMember>,
}

impl Tombstone {
    /// A tombstone (for stores that keep their own: build it from what the
    /// store held just before the merge).
    pub fn new(
        record: Record,
        into: RecordId,
        subjects: Vec<SubjectId>,
        memberships: Vec<CampaignMember>,
        into_memberships: Vec<CampaignMember>,
    ) -> Self {
        Tombstone {
            record,
            into,
            subjects,
            memberships,
            into_memberships,
        }
    }
}

/// A store whose applied plans can be undone (B16): it answers which record
/// a subject is linked to, keeps a [`Tombstone`] of every record merged
/// away, and applies the effects and preconditions of inverse plans
/// ([`crate::Effect::DeleteRecord`], [`crate::Effect::RemoveCampaignMember`],
/// [`crate::Effect::RestoreRecord`], [`crate::Precondition::Links`],
/// [`crate::Precondition::Memberships`]). [`crate::undo::apply_reversible`]
/// applies a plan and returns its inverse; `testkit::undo` checks a host's
/// store.
pub trait UndoStore: ContactStore + ApplyPlan<Error = <Self as ContactStore>::Error> {
    /// The record `subject` of `tenant` is linked to, if any.
    ///
    /// # Errors
    /// The store's own error.
    fn subject_link(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<Option<RecordId>, <Self as ContactStore>::Error>;

    /// The tombstone of `record` of `tenant`, merged away and not restored
    /// since, if any.
    ///
    /// # Errors
    /// The store's own error.
    fn tombstone(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Option<Tombstone>, <Self as ContactStore>::Error>;
}

/// Applies plans atomically (B6).
///
/// An implementation checks every [`crate::Precondition`] of the plan and applies
/// all of its effects, or, when anything fails, none of them. The caller
/// re-plans on a [`crate::Conflict`] (see [`crate::Engine::plan_and_apply`]).
/// `testkit::run_all_undo` (`testkit::run_all` for a store without undo)
/// checks every entry below against a host's store.
///
/// # The contract
///
/// **All or nothing.** Check every precondition first, then every effect's
/// validity, then write; any error leaves the store exactly as it was
/// (a database: one transaction; memory: check, then mutate). Everything is
/// scoped to `plan.tenant` unless an entry says otherwise.
///
/// **Preconditions**, in the plan's order; the first that fails is the
/// error (when several fail, the one listed first in `plan.preconditions`
/// is reported). The table is written once, as code:
/// [`crate::Precondition::observe`] names what to read and
/// [`crate::Precondition::check`] compares it and gives the conflict, so a
/// store (every bundled one does) reads the [`crate::Observe`]d value
/// inside its transaction and calls `check`:
///
/// ```
/// # use contact_sync::{Conflict, Observe, Observed, Precondition, RecordId};
/// fn check_one(p: &Precondition, version_of: impl Fn(RecordId) -> Option<u64>) -> Result<(), Conflict> {
///     match p.observe() {
///         Observe::Version(record) => p.check(Observed::Version(version_of(record))),
///         // ... one read per kind; an unknown kind refuses the plan.
///         _ => Ok(()),
///     }
/// }
/// let p = Precondition::RecordVersion { record: RecordId::from_u128(7), version: 2 };
/// assert!(check_one(&p, |_| Some(2)).is_ok());
/// assert!(matches!(check_one(&p, |_| None), Err(Conflict::VersionChanged { actual: 0, .. })));
/// ```
///
/// | precondition | holds when | otherwise |
/// | --- | --- | --- |
/// | `EmailKey { key, records }` | the ids of the tenant's records (any type) whose email or an alias has `key` (B1 key under the store's [`ContactStore::normalization`]; aliases: B15), sorted, each once, equal `records` | [`crate::Conflict::EmailKeyChanged`] |
/// | `TicketId { ticket, records }` | the ids of the tenant's records whose `ticket_id` field, trimmed, equals `ticket` trimmed (exact, case-sensitive), sorted, equal `records` | [`crate::Conflict::TicketChanged`] |
/// | `BlockKey { key, records }` | the ids of the tenant's records whose blocking keys ([`crate::linkage::Blocking::keys`] of the store's [`ContactStore::blocking`] under its normalization; B19) include `key`, sorted, equal `records` (a store indexing no blocking: no records) | [`crate::Conflict::BlockChanged`] |
/// | `RecordVersion { record, version }` | the tenant's record `record` is at `version` (a missing record or another tenant's counts as version 0) | [`crate::Conflict::VersionChanged`] with the actual version |
/// | `RecordAbsent { record }` | no record of **any** tenant has the id (ids are global, see [`crate::RecordId`]) | [`crate::Conflict::RecordExists`] |
/// | `RecordFields { record, fields }` | the tenant's record `record` exists and its non-blank fields equal those of `fields` ([`crate::Fields::same_values`]; B16) | [`crate::Conflict::FieldsChanged`] |
/// | `Links { record, subjects }` | the subjects of the tenant linked to `record`, sorted, equal `subjects` (B16) | [`crate::Conflict::LinksChanged`] |
/// | `SubjectLink { subject, record }` | the tenant's subject is linked to `record` (`None`: to none; B16) | [`crate::Conflict::SubjectLinkChanged`] |
/// | `Memberships { record, members }` | the record's campaign memberships, as [`ContactStore::campaign_memberships`] reads them, equal `members` (B16) | [`crate::Conflict::MembershipsChanged`] |
/// | `EventNew { event, digest }` | the store has not recorded `event` for the tenant; a store that records events ([`ContactStore::event_digest`]) answers [`crate::Conflict::EventApplied`] when it holds the same digest and [`crate::Conflict::EventPayloadChanged`] when it holds another | as said |
///
/// **Effects**, in plan order (a later effect sees the earlier ones). The
/// failures in the right column are written once too:
/// [`crate::Plan::check_effects`] walks the effects against what the store
/// holds of each record [`crate::Plan::named_records`] lists (its tenant and
/// version, as a [`crate::Held`]), so a store (every bundled one does)
/// reads those records, in one query if it can, and calls it before it
/// writes:
///
/// ```
/// # use contact_sync::{ApplyError, Effect, Held, Plan, RecordId, TenantId};
/// # use std::collections::HashMap;
/// let tenant = TenantId::from_u128(1);
/// let plan = Plan::new(tenant).with_effects([Effect::delete_record(RecordId::from_u128(7))]);
/// let held: HashMap<RecordId, Held> = HashMap::new(); // read for plan.named_records()
/// let checked = plan.check_effects(i64::MAX as u64, |id| Ok::<_, ()>(held.get(&id).copied()));
/// assert!(matches!(checked, Err(ApplyError::InvalidPlan(_))));
/// ```
///
/// | effect | does | fails with |
/// | --- | --- | --- |
/// | `CreateRecord { record }` | stores the record as given (its `version`, usually 1) | [`ApplyError::InvalidPlan`] if `record.tenant` is not the plan's; [`crate::Conflict::RecordExists`] if any tenant has the id, or an earlier effect of the plan deleted or merged it away; [`ApplyError::VersionOverflow`] if the store cannot hold the version |
/// | `UpdateRecord { record, changes }` | sets each field to its change's `new`, then raises the version by exactly one (one bump per effect, however many changes, even none: A18). A blank `new` may be stored blank or remove the field: both read back as blank ([`crate::Fields::is_empty_at`]). The record is found again under its new email key, alias keys, ticket id and blocking keys (and no more under the old ones) | [`ApplyError::InvalidPlan`] if no record of the tenant has the id (nor an earlier `CreateRecord`); [`ApplyError::VersionOverflow`] past the store's largest version |
/// | `Link { subject, record }` | the subject's link becomes `record` (replacing any) | [`ApplyError::InvalidPlan`] for a record the tenant does not have |
/// | `Unlink { subject, record }` | removes the subject's link if it is `record`; otherwise nothing | never |
/// | `AddCampaignMember { record, campaign, ticket }` | makes the record a member (once); a `Some` ticket replaces the membership's ticket id, `None` keeps it (A30) | [`ApplyError::InvalidPlan`] for a record the tenant does not have |
/// | `MergeRecord { record, into }` | deletes `record` (no lookup finds it by its email or aliases any more); every subject linked to it is linked to `into`; its memberships move to `into` (where `into` is a member already, `into`'s ticket id stays unless it has none). `into`'s version does not change (its fields change only through `UpdateRecord` effects, which [`crate::plan_merge`] puts first). A store that undoes plans ([`UndoStore`]) keeps a [`Tombstone`] of `record` | [`ApplyError::InvalidPlan`] if either is unknown or they are the same |
/// | `DeleteRecord { record }` | deletes the record, its links and its memberships (B16, the undo of a creation); its field history stays | [`ApplyError::InvalidPlan`] for a record the tenant does not have |
/// | `RemoveCampaignMember { record, campaign }` | the record leaves the campaign (if it was a member) | never |
/// | `RestoreRecord { record }` | stores the record as given and drops the tombstone of its id (B16, the undo of a merge) | as `CreateRecord` |
/// | `UpdateSubject { subject, changes }` | the registration's own data (A20): the host applies it to its registrations; a store without them ignores it | never |
///
/// **Versions.** A store holds every version up to `i64::MAX` (the SQL
/// stores' bound; the in-memory store holds `u64::MAX`) and never clamps or
/// wraps one: past its largest, the apply fails with
/// [`ApplyError::VersionOverflow`] and changes nothing.
///
/// **What a store does not know.** [`crate::Precondition`] and
/// [`crate::Effect`] are `#[non_exhaustive]`: a store matching them needs a
/// catch-all arm, and that arm refuses the plan with
/// [`ApplyError::InvalidPlan`] (a precondition it cannot check, or an effect
/// it cannot apply, from a newer version of this crate); it never skips
/// one.
///
/// **Events.** After the effects, a store that records events stores
/// `(tenant, event, digest)` for every `EventNew` precondition, in the same
/// transaction. A redelivered event then plans nothing (B7). A store that
/// does not record events keeps the default [`ContactStore::event_digest`]
/// (`None`): a redelivery is planned again; its derived record ids are the
/// same, so its `RecordAbsent` preconditions fail with
/// [`crate::Conflict::RecordExists`], and re-planning finds the records it created
/// and links to them without creating twice.
pub trait ApplyPlan {
    /// The store's own error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `plan`: all of it, or nothing.
    ///
    /// # Errors
    /// [`ApplyError::Conflict`] when a precondition no longer holds (re-plan),
    /// [`ApplyError::InvalidPlan`] or [`ApplyError::VersionOverflow`] for a
    /// plan the store cannot apply, [`ApplyError::Store`] when the store
    /// fails. Nothing of the plan is applied in any case.
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Self::Error>>;

    /// What `error`, met while applying, means for a retry
    /// ([`ErrorClass`]). The default: [`ErrorClass::Permanent`].
    fn classify(&self, error: &Self::Error) -> ErrorClass {
        let _ = error;
        ErrorClass::Permanent
    }
}
