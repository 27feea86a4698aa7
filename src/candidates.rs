//! What an event needs looked up, and the candidates a host fetched for it
//! (the sans-IO side of the engine).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::email::EmailKey;
use crate::event::EventDigest;
use crate::fields::Redacted;
use crate::linkage::BlockKey;
use crate::record::{EventId, Record, RecordId, TenantId};

/// What an event needs looked up (the first step of the sans-IO flow).
///
/// `Debug` shows ticket ids by their size only (they are personal data).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    /// The tenant to look in.
    pub tenant: TenantId,
    /// Email keys to look up (records of every type).
    pub email_keys: BTreeSet<EmailKey>,
    /// Records to fetch by id (links, prefills, relink targets).
    pub records: BTreeSet<RecordId>,
    /// Ticket ids to look up (A28).
    pub tickets: BTreeSet<String>,
    /// Events whose earlier application to check (B7).
    pub events: BTreeSet<EventId>,
    /// Blocking keys to look up (B19: a policy matching by record
    /// linkage), with [`crate::ContactStore::records_by_block`].
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub block_keys: BTreeSet<BlockKey>,
}

/// Candidate records fetched by the host for one event (see [`crate::Engine::needs`]).
///
/// `Debug` shows ticket ids by their size only, and records as their own
/// `Debug` does (no field values).
#[derive(Clone, Default)]
pub struct Candidates {
    pub(crate) tenant: TenantId,
    pub(crate) by_key: BTreeMap<EmailKey, Vec<Record>>,
    pub(crate) by_id: BTreeMap<RecordId, Option<Record>>,
    pub(crate) by_ticket: BTreeMap<String, Vec<Record>>,
    pub(crate) applied: BTreeMap<EventId, EventDigest>,
    pub(crate) by_block: BTreeMap<BlockKey, Vec<Record>>,
}

fn tickets<'a, V>(
    tickets: impl Iterator<Item = (&'a String, V)>,
) -> impl Iterator<Item = (Redacted<'a>, V)> {
    tickets.map(|(t, v)| (Redacted(t), v))
}

impl fmt::Debug for Needs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Needs")
            .field("tenant", &self.tenant)
            .field("email_keys", &self.email_keys)
            .field("records", &self.records)
            .field(
                "tickets",
                &self.tickets.iter().map(|t| Redacted(t)).collect::<Vec<_>>(),
            )
            .field("events", &self.events)
            .field("block_keys", &self.block_keys)
            .finish()
    }
}

impl fmt::Debug for Candidates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidates")
            .field("tenant", &self.tenant)
            .field("by_key", &self.by_key)
            .field("by_id", &self.by_id)
            .field(
                "by_ticket",
                &tickets(self.by_ticket.iter()).collect::<Vec<_>>(),
            )
            .field("applied", &self.applied)
            .field("by_block", &self.by_block)
            .finish()
    }
}

impl Candidates {
    /// No candidates yet, for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Candidates {
            tenant,
            ..Candidates::default()
        }
    }

    /// The records found for `key` (all of them, of every type; empty if none).
    pub fn add_email_key(&mut self, key: EmailKey, records: Vec<Record>) -> &mut Self {
        self.by_key.insert(key, records);
        self
    }

    /// The record found for `id`, or `None` if there is none in the tenant.
    pub fn add_record(&mut self, id: RecordId, record: Option<Record>) -> &mut Self {
        self.by_id.insert(id, record);
        self
    }

    /// The records found for a ticket id.
    pub fn add_ticket(&mut self, ticket: &str, records: Vec<Record>) -> &mut Self {
        self.by_ticket.insert(ticket.trim().to_owned(), records);
        self
    }

    /// The records found for a blocking key (B19; all of them, sorted by
    /// id; empty if none).
    pub fn add_block(&mut self, key: BlockKey, records: Vec<Record>) -> &mut Self {
        self.by_block.insert(key, records);
        self
    }

    /// The event was applied before, with this digest (B7). Hosts that do
    /// not track applied events leave this out.
    pub fn add_applied_event(&mut self, event: EventId, digest: EventDigest) -> &mut Self {
        self.applied.insert(event, digest);
        self
    }
}
