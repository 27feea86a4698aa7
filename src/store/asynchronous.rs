//! Asynchronous storage (B6): the same two traits for hosts whose database
//! driver is async, with no runtime in the crate.
//!
//! The engine stays synchronous and pure; these traits only move data
//! between the host's database and the sans-IO core, like an async shell
//! over a state machine: [`crate::Engine::plan_async`] asks
//! [`crate::Engine::needs`] what to fetch, fetches it through
//! [`AsyncContactStore::fetch`], and decides
//! with [`crate::Engine::decide`]. Every future is `Send`, so a
//! multi-threaded runtime can move it between threads; nothing here blocks
//! or spawns.
//!
//! The contract is the one written on [`crate::ApplyPlan`]: an
//! [`AsyncApplyPlan`] applies a plan all or nothing, in one transaction.

use std::future::Future;

use crate::candidates::{Candidates, Needs};
use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, ErrorClass};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{EventDigest, HistoryEntry, Plan};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::{ApplyPlan, CampaignMember, ContactStore, Tombstone, UndoStore};

/// Read access to a tenant's records, asynchronously: the methods of
/// [`ContactStore`], each returning a `Send` future.
pub trait AsyncContactStore: Sync {
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

    /// Waits `pause` before a retry of a transient error
    /// ([`crate::Engine::plan_and_apply_async`]). The crate has no runtime:
    /// the default returns at once (no pause); a store on a runtime waits
    /// on its timer ([`crate::PostgresStore`] on tokio's).
    fn pause(&self, pause: std::time::Duration) -> impl Future<Output = ()> + Send {
        let _ = pause;
        std::future::ready(())
    }

    /// The field history of `record` (B17), oldest first; see
    /// [`ContactStore::record_history`]. The default keeps none.
    fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, Self::Error>> + Send {
        let _ = (tenant, record);
        std::future::ready(Ok(Vec::new()))
    }

    /// The blocking the store indexes records by (B19); see
    /// [`ContactStore::blocking`]. The default indexes nothing.
    fn blocking(&self) -> Blocking {
        Blocking::default()
    }

    /// All records of `tenant` with block `key`, sorted by id, each once
    /// (see [`ContactStore::records_by_block`]). The default finds nothing.
    fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> impl Future<Output = Result<Vec<Record>, Self::Error>> + Send {
        let _ = (tenant, key);
        std::future::ready(Ok(Vec::new()))
    }

    /// All records of `tenant`, of any type, whose email or one of whose
    /// aliases (B15, [`crate::FieldName::EMAIL_ALIASES`], keys from
    /// [`Record::alias_keys`]) has `key`; each record once (as
    /// [`crate::ContactStore::records_by_email`]).
    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> impl Future<Output = Result<Vec<Record>, Self::Error>> + Send;

    /// The record `id` of `tenant`, or `None` (also when it belongs to another tenant).
    fn record(
        &self,
        tenant: TenantId,
        id: RecordId,
    ) -> impl Future<Output = Result<Option<Record>, Self::Error>> + Send;

    /// All records of `tenant` whose `ticket_id` field equals `ticket` (A28):
    /// both trimmed of surrounding whitespace, then compared exactly (case
    /// counts: `T-1` is not `t-1`). A blank `ticket` finds nothing (no
    /// record is kept under a blank ticket id), and nor does a record whose
    /// ticket id is blank. After an `UpdateRecord` of the ticket id the
    /// record is found under the new one only. Any order.
    fn records_by_ticket(
        &self,
        tenant: TenantId,
        ticket: &str,
    ) -> impl Future<Output = Result<Vec<Record>, Self::Error>> + Send;

    /// The digest of `event` if the store has applied it (B7); see
    /// [`ContactStore::event_digest`].
    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> impl Future<Output = Result<Option<EventDigest>, Self::Error>> + Send;

    /// The subjects linked to `record`, sorted (D12).
    fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Vec<SubjectId>, Self::Error>> + Send;

    /// The campaign memberships of `record`, sorted by campaign (A5, A30).
    fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Vec<CampaignMember>, Self::Error>> + Send;

    /// Everything `needs` asks for, as [`ContactStore::fetch`]: the default
    /// looks each key up in turn; a store with a bulk query overrides it
    /// ([`crate::PostgresStore`] does: one query per kind of lookup).
    /// [`crate::Engine::plan_async`] and [`crate::Engine::plan_batch_async`]
    /// read through it.
    ///
    /// # Errors
    /// The store's error, from the first lookup that failed.
    fn fetch(&self, needs: &Needs) -> impl Future<Output = Result<Candidates, Self::Error>> + Send {
        async move {
            let t = needs.tenant;
            let mut c = Candidates::new(t);
            for k in &needs.email_keys {
                let found = self.records_by_email(t, k).await?;
                c.add_email_key(k.clone(), found);
            }
            for id in &needs.records {
                let found = self.record(t, *id).await?;
                c.add_record(*id, found);
            }
            for ticket in &needs.tickets {
                let found = self.records_by_ticket(t, ticket).await?;
                c.add_ticket(ticket, found);
            }
            for e in &needs.events {
                if let Some(d) = self.event_digest(t, *e).await? {
                    c.add_applied_event(*e, d);
                }
            }
            for k in &needs.block_keys {
                let found = self.records_by_block(t, k).await?;
                c.add_block(k.clone(), found);
            }
            Ok(c)
        }
    }
}

impl Candidates {
    /// Fetches everything `needs` asks for from an async `store`.
    ///
    /// # Errors
    /// The store's error, as it returned it.
    #[deprecated(
        note = "use `AsyncContactStore::fetch`, which a store can override with a bulk read"
    )]
    pub async fn fetch_async<S: AsyncContactStore + ?Sized>(
        store: &S,
        needs: &Needs,
    ) -> Result<Self, S::Error> {
        store.fetch(needs).await
    }
}

/// Applies plans atomically, asynchronously (the contract of
/// [`crate::ApplyPlan`]).
pub trait AsyncApplyPlan: Sync {
    /// The store's own error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `plan` entirely or not at all.
    ///
    /// # Errors
    /// [`ApplyError::Conflict`] when a precondition no longer holds (re-plan),
    /// [`ApplyError::InvalidPlan`] or [`ApplyError::VersionOverflow`] for a
    /// plan the store cannot apply, [`ApplyError::Store`] when the store
    /// fails. Nothing of the plan is applied in any case.
    fn apply(
        &self,
        plan: &Plan,
    ) -> impl Future<Output = Result<(), ApplyError<Self::Error>>> + Send;

    /// What `error`, met while applying, means for a retry
    /// ([`ErrorClass`]). The default: [`ErrorClass::Permanent`].
    fn classify(&self, error: &Self::Error) -> ErrorClass {
        let _ = error;
        ErrorClass::Permanent
    }
}

/// A store whose applied plans can be undone (B16), asynchronously: the
/// methods of [`UndoStore`], each returning a `Send` future.
pub trait AsyncUndoStore:
    AsyncContactStore + AsyncApplyPlan<Error = <Self as AsyncContactStore>::Error>
{
    /// The record `subject` of `tenant` is linked to, if any.
    fn subject_link(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> impl Future<Output = Result<Option<RecordId>, <Self as AsyncContactStore>::Error>> + Send;

    /// The tombstone of `record`, merged away and not restored since.
    fn tombstone(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Option<Tombstone>, <Self as AsyncContactStore>::Error>> + Send;
}

/// A synchronous store behind the async traits: every future is ready at
/// once. For tests of async hosts on the bundled stores, and for stores
/// that answer from memory.
///
/// ```
/// use contact_sync::{InMemoryStore, Ready};
/// let store = Ready(InMemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct Ready<S>(pub S);

impl<S: ContactStore + Sync> AsyncContactStore for Ready<S> {
    type Error = S::Error;

    fn normalization(&self) -> Normalization {
        self.0.normalization()
    }

    fn classify(&self, error: &S::Error) -> ErrorClass {
        self.0.classify(error)
    }

    fn blocking(&self) -> Blocking {
        self.0.blocking()
    }

    fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, S::Error>> + Send {
        std::future::ready(self.0.record_history(tenant, record))
    }

    fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> impl Future<Output = Result<Vec<Record>, S::Error>> + Send {
        std::future::ready(self.0.records_by_block(tenant, key))
    }

    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> impl Future<Output = Result<Vec<Record>, S::Error>> + Send {
        std::future::ready(self.0.records_by_email(tenant, key))
    }

    fn record(
        &self,
        tenant: TenantId,
        id: RecordId,
    ) -> impl Future<Output = Result<Option<Record>, S::Error>> + Send {
        std::future::ready(self.0.record(tenant, id))
    }

    fn records_by_ticket(
        &self,
        tenant: TenantId,
        ticket: &str,
    ) -> impl Future<Output = Result<Vec<Record>, S::Error>> + Send {
        std::future::ready(self.0.records_by_ticket(tenant, ticket))
    }

    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> impl Future<Output = Result<Option<EventDigest>, S::Error>> + Send {
        std::future::ready(self.0.event_digest(tenant, event))
    }

    fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Vec<SubjectId>, S::Error>> + Send {
        std::future::ready(self.0.linked_subjects(tenant, record))
    }

    fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Vec<CampaignMember>, S::Error>> + Send {
        std::future::ready(self.0.campaign_memberships(tenant, record))
    }

    fn fetch(&self, needs: &Needs) -> impl Future<Output = Result<Candidates, S::Error>> + Send {
        std::future::ready(self.0.fetch(needs))
    }
}

impl<S: ApplyPlan + Sync> AsyncApplyPlan for Ready<S> {
    type Error = S::Error;

    fn apply(&self, plan: &Plan) -> impl Future<Output = Result<(), ApplyError<S::Error>>> + Send {
        std::future::ready(self.0.apply(plan))
    }

    fn classify(&self, error: &S::Error) -> ErrorClass {
        self.0.classify(error)
    }
}

impl<S: UndoStore + Sync> AsyncUndoStore for Ready<S> {
    fn subject_link(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> impl Future<Output = Result<Option<RecordId>, <S as ContactStore>::Error>> + Send {
        std::future::ready(self.0.subject_link(tenant, subject))
    }

    fn tombstone(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> impl Future<Output = Result<Option<Tombstone>, <S as ContactStore>::Error>> + Send {
        std::future::ready(self.0.tombstone(tenant, record))
    }
}
