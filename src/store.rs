//! The storage traits the engine reads through and plans are applied with.
//!
//! Storage is the host's: implement [`ContactStore`] to let
//! [`crate::Engine::plan`] look candidates up, and [`ApplyPlan`] to apply
//! plans atomically. [`InMemoryStore`] implements both.

use crate::email::{EmailKey, Normalization};
use crate::error::ApplyError;
use crate::plan::{EventDigest, Plan};
use crate::record::{EventId, Record, RecordId, TenantId};

pub mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use memory::InMemoryStore;
#[cfg(feature = "sqlite")]
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

    /// All records of `tenant`, of any type, whose email has `key`.
    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, Self::Error>;

    /// The record `id` of `tenant`, or `None` (also when it belongs to another tenant).
    fn record(&self, tenant: TenantId, id: RecordId) -> Result<Option<Record>, Self::Error>;

    /// All records of `tenant` whose `ticket_id` field equals `ticket` (A28).
    fn records_by_ticket(&self, tenant: TenantId, ticket: &str)
        -> Result<Vec<Record>, Self::Error>;

    /// The digest of `event` if the store has applied it (B7). Stores that
    /// record applied events make redeliveries no-ops and reject an event id
    /// reused with another payload; the default records nothing.
    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, Self::Error> {
        let _ = (tenant, event);
        Ok(None)
    }
}

impl<S: ContactStore + ?Sized> ContactStore for &S {
    type Error = S::Error;
    fn normalization(&self) -> Normalization {
        (**self).normalization()
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
}

/// One record's membership in a campaign (A5), with the ticket id mapped on
/// it (A30). `Debug` shows the ticket id's size only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CampaignMember {
    /// The campaign.
    pub campaign: crate::event::CampaignId,
    /// The member.
    pub record: RecordId,
    /// The ticket id mapped on the membership, if any.
    pub ticket: Option<crate::fields::FieldValue>,
}

/// Applies plans atomically (B6).
///
/// An implementation checks every [`crate::Precondition`] of the plan and
/// applies all of its effects, or, when a precondition fails, none of them
/// and returns [`ApplyError::Conflict`]. The caller then re-plans (see
/// [`crate::Engine::plan`]).
///
/// Record ids are global (see [`crate::RecordId`]): a
/// [`crate::Effect::CreateRecord`] or [`crate::Precondition::RecordAbsent`]
/// for an id any tenant holds is a [`crate::Conflict::RecordExists`].
/// A version that cannot be raised or stored is
/// [`ApplyError::VersionOverflow`], never wrapped or clamped.
pub trait ApplyPlan {
    /// The store's own error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `plan`: all of it, or nothing.
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Self::Error>>;
}
