//! How the engine reads while it decides: a [`Source`] answers lookups by
//! email key, id, ticket, event and blocking key, from the host's
//! [`Candidates`] (the sans-IO path) or straight from a [`ContactStore`].

use crate::candidates::Candidates;
use crate::email::EmailKey;
use std::convert::Infallible;

use crate::error::{Error, PlanError};
use crate::linkage::BlockKey;
use crate::plan::EventDigest;
use crate::record::{EventId, Record, RecordId, TenantId};
use crate::store::ContactStore;

/// Where the engine reads records from while deciding.
pub(crate) trait Source {
    type Error;
    fn by_key(
        &mut self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, PlanError<Self::Error>>;
    fn by_id(
        &mut self,
        tenant: TenantId,
        id: RecordId,
    ) -> Result<Option<Record>, PlanError<Self::Error>>;
    fn by_ticket(
        &mut self,
        tenant: TenantId,
        ticket: &str,
    ) -> Result<Vec<Record>, PlanError<Self::Error>>;
    fn event_digest(
        &mut self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, PlanError<Self::Error>>;
    fn by_block(
        &mut self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, PlanError<Self::Error>>;
}

impl Source for &Candidates {
    type Error = Infallible;
    fn by_key(
        &mut self,
        _: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, PlanError<Infallible>> {
        self.by_key
            .get(key)
            .cloned()
            .ok_or(PlanError::Invalid(Error::MissingCandidates("email key")))
    }
    fn by_id(
        &mut self,
        _: TenantId,
        id: RecordId,
    ) -> Result<Option<Record>, PlanError<Infallible>> {
        self.by_id
            .get(&id)
            .cloned()
            .ok_or(PlanError::Invalid(Error::MissingCandidates("record id")))
    }
    fn by_ticket(&mut self, _: TenantId, t: &str) -> Result<Vec<Record>, PlanError<Infallible>> {
        self.by_ticket
            .get(t.trim())
            .cloned()
            .ok_or(PlanError::Invalid(Error::MissingCandidates("ticket id")))
    }
    /// Hosts that do not track applied events leave this out: "not applied".
    fn event_digest(
        &mut self,
        _: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, PlanError<Infallible>> {
        Ok(self.applied.get(&event).copied())
    }
    fn by_block(
        &mut self,
        _: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, PlanError<Infallible>> {
        self.by_block
            .get(key)
            .cloned()
            .ok_or(PlanError::Invalid(Error::MissingCandidates("blocking key")))
    }
}

/// Reads straight from a store.
pub(crate) struct StoreSource<'s, S: ?Sized>(pub &'s S);

impl<S: ContactStore + ?Sized> Source for StoreSource<'_, S> {
    type Error = S::Error;
    fn by_key(
        &mut self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, PlanError<S::Error>> {
        self.0
            .records_by_email(tenant, key)
            .map_err(PlanError::Store)
    }
    fn by_id(
        &mut self,
        tenant: TenantId,
        id: RecordId,
    ) -> Result<Option<Record>, PlanError<S::Error>> {
        self.0.record(tenant, id).map_err(PlanError::Store)
    }
    fn by_ticket(&mut self, tenant: TenantId, t: &str) -> Result<Vec<Record>, PlanError<S::Error>> {
        self.0
            .records_by_ticket(tenant, t)
            .map_err(PlanError::Store)
    }
    fn event_digest(
        &mut self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, PlanError<S::Error>> {
        self.0.event_digest(tenant, event).map_err(PlanError::Store)
    }
    fn by_block(
        &mut self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, PlanError<S::Error>> {
        self.0
            .records_by_block(tenant, key)
            .map_err(PlanError::Store)
    }
}
