//! An in-memory store, indexed by (tenant, email key) and (tenant, ticket id).

use std::collections::BTreeMap;

use foldhash::HashMap;
use hashbrown::HashTable;
use std::convert::Infallible;
use std::hash::BuildHasher;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::email::{EmailKey, Normalization};
use crate::error::ApplyError;
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, EventDigest, Held, HistoryEntry, Observe, Observed, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
use crate::store::{ApplyPlan, CampaignMember, ContactStore, Tombstone, UndoStore};

mod apply;
mod arena;
use arena::*;
#[cfg(test)]
mod tests;

/// Why a record could not be inserted into an [`InMemoryStore`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError {
    /// A record with this id exists already.
    #[error("record {0} exists already")]
    Exists(RecordId),
    /// The store holds 2^32 records, its limit.
    #[error("the store is full (2^32 records)")]
    Full,
    /// A field value of 4 GiB or more (the store keeps 32-bit lengths).
    #[error("record {0} has a field value of 4 GiB or more")]
    TooLarge(RecordId),
}

#[derive(Default)]
struct Inner {
    /// Records in insertion order; slots never move.
    records: Vec<Stored>,
    /// Live records.
    live: usize,
    /// Slots by record id.
    slots: HashTable<u32>,
    /// First slot per (tenant, email key); `next` chains the others.
    by_key: HashTable<u32>,
    next: Vec<u32>,
    hasher: foldhash::fast::RandomState,
    names: Names,
    tenant_ids: Vec<TenantId>,
    tenant_numbers: HashMap<TenantId, u32>,
    by_ticket: HashMap<TenantId, HashMap<Box<str>, Ids>>,
    /// Records by the keys of their aliases (B15); empty unless a policy
    /// keeps them, so lookups pay one emptiness check.
    by_alias: HashMap<(TenantId, EmailKey), Ids>,
    /// The blocking records are indexed by (B19), and the index; empty
    /// unless the store was built with one.
    blocking: Blocking,
    by_block: HashMap<(TenantId, BlockKey), Ids>,
    links: BTreeMap<(TenantId, SubjectId), RecordId>,
    /// Campaign memberships, with the ticket id mapped on each (A30).
    campaigns: BTreeMap<(TenantId, CampaignId, RecordId), Option<FieldValue>>,
    /// Events applied, with their payload digests (B7).
    events: HashMap<(TenantId, EventId), EventDigest>,
    /// Each record's field history (B17), oldest first.
    history: BTreeMap<(TenantId, RecordId), Vec<HistoryEntry>>,
    /// Records merged away (B16).
    tombstones: BTreeMap<(TenantId, RecordId), Tombstone>,
}

/// Records in memory, shared between threads (`&self` everywhere; an
/// internal lock makes [`ApplyPlan::apply`] atomic).
///
/// Also keeps subjects' links and campaign memberships, which a host would
/// keep in its own tables, so examples and tests need no host.
///
/// Records are stored compactly (fields and email key in one allocation,
/// field names numbered once per store, indexes holding 4-byte slots), so a
/// million records with five fields take about 130 bytes each beyond their
/// text, the email held once when it is already in its key form; reads
/// build [`Record`] values from that form.
#[derive(Default)]
pub struct InMemoryStore {
    normalization: Normalization,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore")
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}

fn ticket_of(r: &Record) -> Option<&str> {
    r.fields
        .get(FieldName::TICKET_ID)
        .filter(|v| !v.is_blank())
        .map(|v| v.as_str().trim())
}

fn hash_id(h: &foldhash::fast::RandomState, id: &RecordId) -> u64 {
    h.hash_one(id.uuid().as_u128())
}

/// Whether a slot holds the same tenant and email key as slot `slot`.
fn same_key(records: &[Stored], slot: u32) -> impl Fn(&u32) -> bool + '_ {
    let this = records.get(slot as usize);
    move |s: &u32| {
        let other = records.get(*s as usize);
        matches!((this, other), (Some(a), Some(b)) if a.tenant == b.tenant && a.key() == b.key())
    }
}

fn hash_key(h: &foldhash::fast::RandomState, tenant: u32, key: &[u8]) -> u64 {
    h.hash_one((tenant, key))
}

/// A key as stored (empty: none).
fn key_bytes(key: &Option<EmailKey>) -> &[u8] {
    key.as_ref().map_or(&[], |k| k.as_str().as_bytes())
}

/// A slot's hash in the id index, for the table to rehash with.
fn rehash_id<'a>(
    records: &'a [Stored],
    h: &'a foldhash::fast::RandomState,
) -> impl Fn(&u32) -> u64 + 'a {
    move |s| records.get(*s as usize).map_or(0, |x| hash_id(h, &x.id))
}

/// A slot's hash in the key index, for the table to rehash with.
fn rehash_key<'a>(
    records: &'a [Stored],
    h: &'a foldhash::fast::RandomState,
) -> impl Fn(&u32) -> u64 + 'a {
    move |s| {
        records
            .get(*s as usize)
            .map_or(0, |x| hash_key(h, x.tenant, x.key()))
    }
}

impl Inner {
    fn tenant_number(&self, t: TenantId) -> Option<u32> {
        self.tenant_numbers.get(&t).copied()
    }

    fn tenant_number_or_add(&mut self, t: TenantId) -> u32 {
        if let Some(n) = self.tenant_number(t) {
            return n;
        }
        let n = u32::try_from(self.tenant_ids.len()).unwrap_or(NONE);
        self.tenant_ids.push(t);
        self.tenant_numbers.insert(t, n);
        n
    }

    fn stored(&self, slot: u32) -> Option<&Stored> {
        self.records.get(slot as usize)
    }

    /// Lengths are stored in 32 bits: larger values are refused, never cut.
    fn storable(fields: &Fields) -> bool {
        fields.len() < NONE as usize && fields.iter().all(|(_, v)| v.len() < NONE as usize)
    }

    /// The compact form of `r` with its email `key` (empty: none).
    fn encode(&mut self, r: &Record, key: &[u8]) -> Box<[u8]> {
        let n = r.fields.len();
        let text: usize = r.fields.iter().map(|(_, v)| v.len()).sum();
        let in_field = (!key.is_empty())
            .then(|| {
                r.fields
                    .iter()
                    .position(|(_, v)| v.as_str().as_bytes() == key)
            })
            .flatten();
        let apart = if in_field.is_some() { 0 } else { key.len() };
        let mut b = Vec::with_capacity(20 + 4 * n + text + apart);
        let wide = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        put_varint(&mut b, wide(n));
        put_varint(
            &mut b,
            in_field.map_or(wide(key.len()).saturating_mul(2), |i| {
                wide(i).saturating_mul(2) + 1
            }),
        );
        for (name, v) in r.fields.iter() {
            put_varint(&mut b, u64::from(self.names.id(name)));
            put_varint(&mut b, wide(v.len()));
        }
        for (_, v) in r.fields.iter() {
            b.extend_from_slice(v.as_str().as_bytes());
        }
        if in_field.is_none() {
            b.extend_from_slice(key);
        }
        b.into_boxed_slice()
    }

    /// The record in slot `s`, built from its compact form.
    fn decode(&self, s: &Stored) -> Record {
        let mut pairs = Vec::with_capacity(s.field_count());
        for (name, v) in s.fields() {
            if let Some(n) = self.names.names.get(name as usize) {
                pairs.push((n.clone(), FieldValue::new(v)));
            }
        }
        Record {
            id: s.id,
            tenant: self
                .tenant_ids
                .get(s.tenant as usize)
                .copied()
                .unwrap_or_default(),
            record_type: s.record_type,
            // Stored from a `Fields`, so in name order already.
            fields: Fields::from_sorted(pairs),
            version: s.version,
        }
    }

    /// The slot of record `id`, of any tenant.
    fn find_slot(&self, id: &RecordId) -> Option<u32> {
        let h = hash_id(&self.hasher, id);
        self.slots
            .find(h, |&s| self.stored(s).is_some_and(|x| x.id == *id))
            .copied()
    }

    /// The slot of record `id` when it is `tenant`'s.
    fn slot_of(&self, tenant: TenantId, id: &RecordId) -> Option<u32> {
        let t = self.tenant_number(tenant)?;
        self.find_slot(id)
            .filter(|&s| self.stored(s).is_some_and(|x| x.tenant == t))
    }

    fn contains(&self, id: &RecordId) -> bool {
        self.find_slot(id).is_some()
    }

    fn get(&self, tenant: TenantId, id: RecordId) -> Option<Record> {
        let s = self.slot_of(tenant, &id)?;
        self.stored(s).map(|x| self.decode(x))
    }

    /// The hash of slot `slot`'s tenant and email key, if it has a key.
    fn key_hash(&self, slot: u32) -> Option<u64> {
        let x = self.stored(slot).filter(|x| !x.key().is_empty())?;
        Some(hash_key(&self.hasher, x.tenant, x.key()))
    }

    /// Puts slot `slot` under its stored key.
    fn index_key(&mut self, slot: u32) {
        let Some(h) = self.key_hash(slot) else {
            return;
        };
        let records = &self.records;
        let same = same_key(records, slot);
        match self.by_key.find_mut(h, same) {
            Some(head) => {
                if let Some(n) = self.next.get_mut(slot as usize) {
                    *n = *head;
                }
                *head = slot;
            }
            None => {
                if let Some(n) = self.next.get_mut(slot as usize) {
                    *n = NONE;
                }
                self.by_key
                    .insert_unique(h, slot, rehash_key(records, &self.hasher));
            }
        }
    }

    /// Takes slot `slot` out from under its stored key.
    fn unindex_key(&mut self, slot: u32) {
        let Some(h) = self.key_hash(slot) else {
            return;
        };
        let records = &self.records;
        let same = same_key(records, slot);
        let after = self.next.get(slot as usize).copied().unwrap_or(NONE);
        let Ok(entry) = self.by_key.find_entry(h, same) else {
            return;
        };
        if let Some(n) = self.next.get_mut(slot as usize) {
            *n = NONE;
        }
        if *entry.get() == slot {
            if after == NONE {
                entry.remove();
            } else {
                *entry.into_mut() = after;
            }
            return;
        }
        // Further down the chain: unlink it.
        let mut at = *entry.get();
        while let Some(&n) = self.next.get(at as usize) {
            if n == slot {
                if let Some(p) = self.next.get_mut(at as usize) {
                    *p = after;
                }
                break;
            }
            if n == NONE {
                break;
            }
            at = n;
        }
    }

    fn index_ticket(&mut self, r: &Record) {
        if let Some(tk) = ticket_of(r) {
            let t = self.by_ticket.entry(r.tenant).or_default();
            match t.get_mut(tk) {
                Some(ids) => ids.push(r.id),
                None => {
                    t.insert(tk.into(), Ids::One(r.id));
                }
            }
        }
    }

    fn unindex_ticket(&mut self, r: &Record) {
        if let (Some(tk), Some(t)) = (ticket_of(r), self.by_ticket.get_mut(&r.tenant)) {
            if t.get_mut(tk).is_some_and(|ids| ids.remove(r.id)) {
                t.remove(tk);
            }
        }
    }

    fn index_aliases(&mut self, r: &Record, n: &Normalization) {
        for k in r.alias_keys(n) {
            match self.by_alias.get_mut(&(r.tenant, k.clone())) {
                Some(ids) => ids.push(r.id),
                None => {
                    self.by_alias.insert((r.tenant, k), Ids::One(r.id));
                }
            }
        }
    }

    fn unindex_aliases(&mut self, r: &Record, n: &Normalization) {
        for k in r.alias_keys(n) {
            let at = (r.tenant, k);
            if self
                .by_alias
                .get_mut(&at)
                .is_some_and(|ids| ids.remove(r.id))
            {
                self.by_alias.remove(&at);
            }
        }
    }

    fn index_blocks(&mut self, r: &Record, n: &Normalization) {
        if self.blocking.is_empty() {
            return;
        }
        for k in self.blocking.keys(&r.fields, n) {
            match self.by_block.get_mut(&(r.tenant, k.clone())) {
                Some(ids) => ids.push(r.id),
                None => {
                    self.by_block.insert((r.tenant, k), Ids::One(r.id));
                }
            }
        }
    }

    fn unindex_blocks(&mut self, r: &Record, n: &Normalization) {
        if self.blocking.is_empty() {
            return;
        }
        for k in self.blocking.keys(&r.fields, n) {
            let at = (r.tenant, k);
            if self
                .by_block
                .get_mut(&at)
                .is_some_and(|ids| ids.remove(r.id))
            {
                self.by_block.remove(&at);
            }
        }
    }

    /// The ids of `tenant`'s records with an alias of `key` (B15).
    fn ids_by_alias(&self, tenant: TenantId, key: &EmailKey) -> Vec<RecordId> {
        if self.by_alias.is_empty() {
            return Vec::new();
        }
        self.by_alias
            .get(&(tenant, key.clone()))
            .map(Ids::sorted)
            .unwrap_or_default()
    }

    /// The slots of `tenant`'s records with `key`, in no particular order.
    fn slots_by_key(&self, tenant: TenantId, key: &EmailKey) -> impl Iterator<Item = u32> + '_ {
        let t = self.tenant_number(tenant);
        let key = key.as_str().as_bytes();
        let head = t.and_then(|t| {
            let h = hash_key(&self.hasher, t, key);
            self.by_key
                .find(h, |&s| {
                    self.stored(s)
                        .is_some_and(|y| y.tenant == t && y.key() == key)
                })
                .copied()
        });
        std::iter::successors(head, |&at| {
            self.next.get(at as usize).copied().filter(|&n| n != NONE)
        })
    }

    /// The ids of `tenant`'s records with `key` as their email's or an
    /// alias's key, sorted, each once (B15: records, not addresses).
    fn ids_by_key(&self, tenant: TenantId, key: &EmailKey) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self
            .slots_by_key(tenant, key)
            .filter_map(|s| self.stored(s).map(|x| x.id))
            .collect();
        ids.extend(self.ids_by_alias(tenant, key));
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn ids_by_ticket(&self, tenant: TenantId, ticket: &str) -> Vec<RecordId> {
        self.by_ticket
            .get(&tenant)
            .and_then(|t| t.get(ticket.trim()))
            .map(Ids::sorted)
            .unwrap_or_default()
    }

    fn add(&mut self, record: Record, n: &Normalization) -> Result<(), InsertError> {
        if self.contains(&record.id) {
            return Err(InsertError::Exists(record.id));
        }
        if !Inner::storable(&record.fields) {
            return Err(InsertError::TooLarge(record.id));
        }
        let slot = u32::try_from(self.records.len())
            .ok()
            .filter(|s| *s != NONE)
            .ok_or(InsertError::Full)?;
        let key = record.email_key(n);
        let blob = self.encode(&record, key_bytes(&key));
        let tenant = self.tenant_number_or_add(record.tenant);
        self.records.push(Stored {
            id: record.id,
            version: record.version,
            tenant,
            record_type: record.record_type,
            dead: false,
            blob,
        });
        self.next.push(NONE);
        self.live += 1;
        let h = hash_id(&self.hasher, &record.id);
        self.slots
            .insert_unique(h, slot, rehash_id(&self.records, &self.hasher));
        self.index_key(slot);
        self.index_ticket(&record);
        self.index_aliases(&record, n);
        self.index_blocks(&record, n);
        Ok(())
    }
}

impl InMemoryStore {
    /// An empty store with the default normalization.
    pub fn new() -> Self {
        InMemoryStore::default()
    }

    /// An empty store computing keys with `normalization` (use the policy's).
    pub fn with_normalization(normalization: Normalization) -> Self {
        InMemoryStore {
            normalization,
            inner: RwLock::default(),
        }
    }

    /// Indexes the store's records by `blocking` (B19), for policies that
    /// match by record linkage with the same blocking: the records held
    /// are indexed now, and every record stored later. As the SQL stores'
    /// `set_blocking`.
    pub fn set_blocking(&mut self, blocking: Blocking) {
        let n = self.normalization;
        let mut inner = self.write();
        inner.blocking = blocking;
        inner.by_block.clear();
        let live: Vec<Record> = inner
            .records
            .iter()
            .filter(|x| !x.dead)
            .map(|x| inner.decode(x))
            .collect();
        for r in &live {
            inner.index_blocks(r, &n);
        }
    }

    /// The store indexing its records by `blocking`.
    #[deprecated(note = "use `set_blocking`, the verb every bundled store has")]
    #[must_use]
    pub fn with_blocking(mut self, blocking: Blocking) -> Self {
        self.set_blocking(blocking);
        self
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic elsewhere cannot leave `Inner` half-applied: apply checks
        // everything before it mutates. So a poisoned lock is still sound.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an existing record (seeding the store).
    ///
    /// # Errors
    /// [`InsertError::Exists`] when a record has the id, [`InsertError::Full`]
    /// or [`InsertError::TooLarge`] beyond the store's limits.
    pub fn insert(&self, record: Record) -> Result<(), InsertError> {
        self.write().add(record, &self.normalization)
    }

    /// Adds many records; stops at the first duplicate id (the records
    /// before it stay).
    ///
    /// # Errors
    /// As [`InMemoryStore::insert`], for the first record that fails.
    pub fn extend(&self, records: impl IntoIterator<Item = Record>) -> Result<(), InsertError> {
        let records = records.into_iter();
        let mut inner = self.write();
        let n = records.size_hint().0;
        let inner = &mut *inner;
        inner.records.reserve(n);
        inner.next.reserve(n);
        inner
            .slots
            .reserve(n, rehash_id(&inner.records, &inner.hasher));
        inner
            .by_key
            .reserve(n, rehash_key(&inner.records, &inner.hasher));
        for record in records {
            inner.add(record, &self.normalization)?;
        }
        Ok(())
    }

    /// Number of records (all tenants).
    pub fn len(&self) -> usize {
        self.read().live
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records of `tenant`, sorted by id.
    pub fn records(&self, tenant: TenantId) -> Vec<Record> {
        let inner = self.read();
        let Some(t) = inner.tenant_number(tenant) else {
            return Vec::new();
        };
        let mut v: Vec<Record> = inner
            .records
            .iter()
            .filter(|x| x.tenant == t && !x.dead)
            .map(|x| inner.decode(x))
            .collect();
        v.sort_by_key(|r| r.id);
        v
    }

    /// The groups of `tenant`'s records that record linkage scores as one
    /// party (B19): [`crate::heal::duplicate_groups_by_score`] over the
    /// tenant's records, linking pairs scoring at least `threshold`.
    pub fn duplicate_groups_by_score(
        &self,
        tenant: TenantId,
        linkage: &crate::linkage::Linkage,
        threshold: i32,
    ) -> Vec<crate::heal::ScoredGroup> {
        crate::heal::duplicate_groups_by_score(
            &self.records(tenant),
            linkage,
            threshold,
            &self.normalization,
        )
    }

    /// The groups of `tenant`'s records that share an email key (B9).
    pub fn duplicate_groups(&self, tenant: TenantId) -> Vec<crate::heal::DuplicateGroup> {
        crate::heal::duplicate_groups(&self.records(tenant), &self.normalization)
    }

    /// The record `subject` is linked to.
    pub fn link_of(&self, tenant: TenantId, subject: SubjectId) -> Option<RecordId> {
        self.read().links.get(&(tenant, subject)).copied()
    }

    /// Every link of `tenant`, by subject.
    pub fn links(&self, tenant: TenantId) -> BTreeMap<SubjectId, RecordId> {
        self.read()
            .links
            .iter()
            .filter(|((t, _), _)| *t == tenant)
            .map(|((_, s), r)| (*s, *r))
            .collect()
    }

    /// The members of `campaign`, sorted.
    pub fn campaign_members(&self, tenant: TenantId, campaign: &CampaignId) -> Vec<RecordId> {
        self.read()
            .campaigns
            .keys()
            .filter(|(t, c, _)| *t == tenant && c == campaign)
            .map(|(_, _, r)| *r)
            .collect()
    }
}

impl ContactStore for InMemoryStore {
    type Error = Infallible;

    fn normalization(&self) -> Normalization {
        self.normalization
    }

    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, Infallible> {
        let inner = self.read();
        let mut found: Vec<Record> = inner
            .slots_by_key(tenant, key)
            .filter_map(|s| inner.stored(s).map(|x| inner.decode(x)))
            .collect();
        for id in inner.ids_by_alias(tenant, key) {
            if !found.iter().any(|r| r.id == id) {
                found.extend(inner.get(tenant, id));
            }
        }
        found.sort_unstable_by_key(|r| r.id);
        Ok(found)
    }

    fn record_ids_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<RecordId>, Infallible> {
        Ok(self.read().ids_by_key(tenant, key))
    }

    fn blocking(&self) -> Blocking {
        self.read().blocking.clone()
    }

    fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, Infallible> {
        let inner = self.read();
        if inner.by_block.is_empty() {
            return Ok(Vec::new());
        }
        let ids = inner
            .by_block
            .get(&(tenant, key.clone()))
            .map(Ids::sorted)
            .unwrap_or_default();
        Ok(ids
            .into_iter()
            .filter_map(|id| inner.get(tenant, id))
            .collect())
    }

    fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<HistoryEntry>, Infallible> {
        Ok(self
            .read()
            .history
            .get(&(tenant, record))
            .cloned()
            .unwrap_or_default())
    }

    fn record(&self, tenant: TenantId, id: RecordId) -> Result<Option<Record>, Infallible> {
        Ok(self.read().get(tenant, id))
    }

    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, Infallible> {
        Ok(self.read().events.get(&(tenant, event)).copied())
    }

    fn records_by_ticket(&self, tenant: TenantId, ticket: &str) -> Result<Vec<Record>, Infallible> {
        let inner = self.read();
        let ids = inner.ids_by_ticket(tenant, ticket);
        Ok(ids.iter().filter_map(|id| inner.get(tenant, *id)).collect())
    }

    /// A scan of the tenant's links (the store keeps no reverse index:
    /// planning never asks this).
    fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<SubjectId>, Infallible> {
        Ok(self.read().linked_to(tenant, record))
    }

    fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<CampaignMember>, Infallible> {
        Ok(self.read().memberships(tenant, record))
    }
}

impl UndoStore for InMemoryStore {
    fn subject_link(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<Option<RecordId>, Infallible> {
        Ok(self.link_of(tenant, subject))
    }

    fn tombstone(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Option<Tombstone>, Infallible> {
        Ok(self.read().tombstones.get(&(tenant, record)).cloned())
    }
}

impl ApplyPlan for InMemoryStore {
    type Error = Infallible;

    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        crate::telemetry::traced("memory", plan, || self.apply_plan(plan))
    }
}

impl InMemoryStore {
    /// [`ApplyPlan::apply`], without the telemetry.
    fn apply_plan(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        let mut inner = self.write();
        inner.check(plan)?;
        for e in &plan.effects {
            inner.apply_effect(plan.tenant, e, &self.normalization);
        }
        for p in &plan.preconditions {
            if let Precondition::EventNew { event, digest } = p {
                inner.events.insert((plan.tenant, *event), *digest);
            }
        }
        for h in plan.history() {
            inner
                .history
                .entry((plan.tenant, h.record))
                .or_default()
                .push(h);
        }
        Ok(())
    }
}
