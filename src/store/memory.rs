//! An in-memory store, indexed by (tenant, email key) and (tenant, ticket id).

use std::collections::{BTreeMap, HashSet};

use foldhash::HashMap;
use hashbrown::HashTable;
use std::convert::Infallible;
use std::hash::BuildHasher;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, Conflict};
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, EventDigest, HistoryEntry, Observe, Observed, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
use crate::store::{ApplyPlan, CampaignMember, ContactStore, Tombstone, UndoStore};

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

/// Record ids under one ticket index entry; almost always one, kept inline.
#[derive(Clone)]
enum Ids {
    One(RecordId),
    Many(Vec<RecordId>),
}

impl Ids {
    fn push(&mut self, id: RecordId) {
        match self {
            Ids::One(first) => *self = Ids::Many(vec![*first, id]),
            Ids::Many(v) => v.push(id),
        }
    }

    /// Removes `id`; true when nothing is left.
    fn remove(&mut self, id: RecordId) -> bool {
        match self {
            Ids::One(x) => *x == id,
            Ids::Many(v) => {
                v.retain(|x| *x != id);
                if let [only] = v.as_slice() {
                    *self = Ids::One(*only);
                }
                false
            }
        }
    }

    fn sorted(&self) -> Vec<RecordId> {
        match self {
            Ids::One(x) => vec![*x],
            Ids::Many(v) => {
                let mut v = v.clone();
                v.sort_unstable();
                v
            }
        }
    }
}

/// No slot (end of a key chain).
const NONE: u32 = u32::MAX;

/// One record, compactly: its fields and email key in a single allocation
/// (field names are numbers into the store's name table). 48 bytes plus the
/// blob, where a [`Record`] with its fields costs several allocations.
struct Stored {
    id: RecordId,
    version: u64,
    /// Index into `Inner::tenant_ids`.
    tenant: u32,
    record_type: RecordType,
    /// Merged away (B9): the slot stays so that other slots keep their numbers.
    dead: bool,
    /// `[n][key]`, then `n` times `[name][value_len]` (each a LEB128
    /// varint, one byte below 128), then the values, then the email key's
    /// bytes when stored apart. `key` is 0 for none, `2 * len` for a key of
    /// `len` bytes at the end, `2 * i + 1` for a key equal to the value of
    /// field `i` (the usual case: an email already in its key form), so
    /// most records hold their email once.
    blob: Box<[u8]>,
}

/// Appends `x` as a LEB128 varint (7 bits a byte, low first).
fn put_varint(b: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        b.push((x & 0x7f) as u8 | 0x80);
        x >>= 7;
    }
    b.push(x as u8);
}

/// Reads the varint at `*at` and moves past it (what there is past the
/// end; a u64 takes at most ten bytes, so longer runs stop there).
fn get_varint(b: &[u8], at: &mut usize) -> u64 {
    let mut x = 0u64;
    for shift in (0..70).step_by(7) {
        let Some(&byte) = b.get(*at) else { break };
        *at += 1;
        x |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            break;
        }
    }
    x
}

impl Stored {
    /// The field count, the key's tag, and where the field headers start.
    fn header(&self) -> (usize, u64, usize) {
        let mut at = 0;
        let n = usize::try_from(get_varint(&self.blob, &mut at)).unwrap_or(0);
        let key = get_varint(&self.blob, &mut at);
        (n, key, at)
    }

    fn field_count(&self) -> usize {
        self.header().0
    }

    /// The length of the key stored apart at the end (0: none or a field's).
    fn key_len(tag: u64) -> usize {
        if tag.is_multiple_of(2) {
            usize::try_from(tag / 2).unwrap_or(0)
        } else {
            0
        }
    }

    /// The stored email key's bytes (empty: none).
    fn key(&self) -> &[u8] {
        let (n, tag, mut at) = self.header();
        if !tag.is_multiple_of(2) {
            // Field `i`'s bytes: its offset in the values, which start
            // after the last header.
            let i = usize::try_from(tag / 2).unwrap_or(usize::MAX);
            let (mut offset, mut len) = (0usize, 0usize);
            for j in 0..n {
                get_varint(&self.blob, &mut at);
                let l = usize::try_from(get_varint(&self.blob, &mut at)).unwrap_or(0);
                match j.cmp(&i) {
                    std::cmp::Ordering::Less => offset = offset.saturating_add(l),
                    std::cmp::Ordering::Equal => len = l,
                    std::cmp::Ordering::Greater => {}
                }
            }
            let from = at.saturating_add(offset);
            return self
                .blob
                .get(from..from.saturating_add(len))
                .unwrap_or_default();
        }
        self.blob
            .get(self.blob.len().saturating_sub(Stored::key_len(tag))..)
            .unwrap_or_default()
    }

    /// Field names (as numbers) and values, in name order.
    fn fields(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        let (n, tag, mut heads) = self.header();
        let key_len = Stored::key_len(tag);
        // The values start after the 2n header varints: each ends with the
        // one byte of its run whose high bit is clear.
        let mut start = heads;
        let mut ends = 0;
        while ends < 2 * n {
            match self.blob.get(start) {
                Some(byte) => {
                    if byte & 0x80 == 0 {
                        ends += 1;
                    }
                    start += 1;
                }
                None => break,
            }
        }
        // The values are one run of text, checked once (they were text when
        // stored; a cut at a non-boundary yields an empty value, never a panic).
        let text = self
            .blob
            .get(start..self.blob.len().saturating_sub(key_len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        let mut at = 0;
        (0..n).map(move |_| {
            let name = u32::try_from(get_varint(&self.blob, &mut heads)).unwrap_or(NONE);
            let len = usize::try_from(get_varint(&self.blob, &mut heads)).unwrap_or(0);
            let v = text.get(at..at + len).unwrap_or_default();
            at += len;
            (name, v)
        })
    }
}

/// Field names, numbered once per store.
#[derive(Default)]
struct Names {
    names: Vec<FieldName>,
    ids: HashMap<FieldName, u32>,
}

impl Names {
    fn id(&mut self, name: &FieldName) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(NONE);
        self.names.push(name.clone());
        self.ids.insert(name.clone(), id);
        id
    }
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

    fn check(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        let t = plan.tenant;
        for p in &plan.preconditions {
            let ids;
            let subjects;
            let members;
            let fields;
            let observed = match p.observe() {
                Observe::EmailKey(key) => {
                    ids = self.ids_by_key(t, key);
                    Observed::Records(&ids)
                }
                Observe::TicketId(ticket) => {
                    ids = self.ids_by_ticket(t, ticket);
                    Observed::Records(&ids)
                }
                Observe::BlockKey(key) => {
                    ids = self
                        .by_block
                        .get(&(t, key.clone()))
                        .map(Ids::sorted)
                        .unwrap_or_default();
                    Observed::Records(&ids)
                }
                Observe::Version(record) => Observed::Version(
                    self.slot_of(t, &record)
                        .and_then(|s| self.stored(s))
                        .map(|x| x.version),
                ),
                Observe::Exists(record) => Observed::Exists(self.contains(&record)),
                Observe::Event(event) => Observed::Event(self.events.get(&(t, event))),
                Observe::Fields(record) => {
                    fields = self.get(t, record).map(|r| r.fields);
                    Observed::Fields(fields.as_ref())
                }
                Observe::Links(record) => {
                    subjects = self.linked_to(t, record);
                    Observed::Subjects(&subjects)
                }
                Observe::SubjectLink(subject) => {
                    Observed::Link(self.links.get(&(t, subject)).copied())
                }
                Observe::Memberships(record) => {
                    members = self.memberships(t, record);
                    Observed::Memberships(&members)
                }
            };
            p.check(observed)?;
        }
        // Effects must name records that exist (or that the plan creates
        // first) in the plan's tenant, so that applying cannot fail halfway.
        let mut created: HashSet<RecordId> = HashSet::new();
        let mut retired: HashSet<RecordId> = HashSet::new();
        // The version each record will have once the effects so far are
        // applied: no update may take it past `u64::MAX`.
        let mut versions: HashMap<RecordId, u64> = HashMap::default();
        for e in &plan.effects {
            let known = |id: &RecordId| {
                !retired.contains(id) && (created.contains(id) || self.slot_of(t, id).is_some())
            };
            match e {
                Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                    if record.tenant != t {
                        return Err(ApplyError::InvalidPlan("record of another tenant"));
                    }
                    if !Inner::storable(&record.fields) {
                        return Err(ApplyError::InvalidPlan("a field value of 4 GiB or more"));
                    }
                    if self.contains(&record.id) || !created.insert(record.id) {
                        return Err(Conflict::RecordExists(record.id).into());
                    }
                    versions.insert(record.id, record.version);
                }
                Effect::UpdateRecord { changes, .. }
                    if changes.iter().any(|c| c.new.len() >= NONE as usize) =>
                {
                    return Err(ApplyError::InvalidPlan("a field value of 4 GiB or more"));
                }
                Effect::UpdateRecord { record, .. } => {
                    if !known(record) {
                        return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                    }
                    let now = match versions.get(record) {
                        Some(&v) => v,
                        None => self
                            .slot_of(t, record)
                            .and_then(|s| self.stored(s))
                            .map_or(0, |x| x.version),
                    };
                    let next = now
                        .checked_add(1)
                        .ok_or(ApplyError::VersionOverflow(*record))?;
                    versions.insert(*record, next);
                }
                Effect::Link { record, .. } | Effect::AddCampaignMember { record, .. } => {
                    if !known(record) {
                        return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                    }
                }
                Effect::MergeRecord { record, into } => {
                    if record == into || !known(record) || !known(into) {
                        return Err(ApplyError::InvalidPlan(
                            "merge of unknown or identical records",
                        ));
                    }
                    retired.insert(*record);
                }
                Effect::DeleteRecord { record } => {
                    if !known(record) {
                        return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                    }
                    retired.insert(*record);
                }
                Effect::Unlink { .. }
                | Effect::UpdateSubject { .. }
                | Effect::RemoveCampaignMember { .. } => {}
            }
        }
        Ok(())
    }

    fn apply_effect(&mut self, t: TenantId, e: &Effect, n: &Normalization) {
        match e {
            Effect::CreateRecord { record } => {
                // Checked before any effect was applied: the id is free.
                let _ = self.add(record.clone(), n);
            }
            Effect::RestoreRecord { record } => {
                let _ = self.add(record.clone(), n);
                self.tombstones.remove(&(t, record.id));
            }
            Effect::DeleteRecord { record } => {
                self.retire(t, *record, n);
                self.links.retain(|(lt, _), r| !(*lt == t && r == record));
                self.campaigns
                    .retain(|(ct, _, r), _| !(*ct == t && r == record));
            }
            Effect::RemoveCampaignMember { record, campaign } => {
                self.campaigns.remove(&(t, campaign.clone(), *record));
            }
            Effect::UpdateRecord { record, changes } => {
                let Some(slot) = self.slot_of(t, record) else {
                    return;
                };
                let Some(mut r) = self.stored(slot).map(|x| self.decode(x)) else {
                    return;
                };
                let reindex = changes
                    .iter()
                    .any(|c| matches!(c.field.as_str(), FieldName::EMAIL | FieldName::TICKET_ID));
                // Alias keys leave out the email's: they move with either.
                let realias = changes.iter().any(|c| {
                    matches!(
                        c.field.as_str(),
                        FieldName::EMAIL | FieldName::EMAIL_ALIASES
                    )
                });
                if reindex {
                    self.unindex_key(slot);
                    self.unindex_ticket(&r);
                }
                if realias {
                    self.unindex_aliases(&r, n);
                }
                self.unindex_blocks(&r, n);
                for c in changes {
                    r.fields.set(c.field.clone(), c.new.clone());
                }
                // The stored key stays right unless the email changed.
                let new_key = changes
                    .iter()
                    .any(|c| c.field.as_str() == FieldName::EMAIL)
                    .then(|| r.email_key(n));
                let key: Box<[u8]> = match &new_key {
                    Some(k) => key_bytes(k).into(),
                    None => self.stored(slot).map_or(&b""[..], Stored::key).into(),
                };
                let blob = self.encode(&r, &key);
                if let Some(x) = self.records.get_mut(slot as usize) {
                    x.blob = blob;
                    // Checked before any effect was applied: no overflow.
                    x.version = x.version.saturating_add(1);
                }
                if reindex {
                    self.index_key(slot);
                    self.index_ticket(&r);
                }
                if realias {
                    self.index_aliases(&r, n);
                }
                self.index_blocks(&r, n);
            }
            Effect::Link { subject, record } => {
                self.links.insert((t, *subject), *record);
            }
            Effect::Unlink { subject, record } => {
                if self.links.get(&(t, *subject)) == Some(record) {
                    self.links.remove(&(t, *subject));
                }
            }
            Effect::AddCampaignMember {
                record,
                campaign,
                ticket,
            } => {
                let held = self
                    .campaigns
                    .entry((t, campaign.clone(), *record))
                    .or_default();
                if ticket.is_some() {
                    held.clone_from(ticket);
                }
            }
            Effect::MergeRecord { record, into } => self.merge(t, *record, *into, n),
            // The registration's data lives in the host (A20).
            Effect::UpdateSubject { .. } => {}
        }
    }

    /// The subjects of `t` linked to `record`, sorted (a scan of the
    /// tenant's links).
    fn linked_to(&self, t: TenantId, record: RecordId) -> Vec<SubjectId> {
        self.links
            .range((t, SubjectId::from_u128(0))..=(t, SubjectId::from_u128(u128::MAX)))
            .filter(|(_, r)| **r == record)
            .map(|((_, s), _)| *s)
            .collect()
    }

    /// The campaign memberships of `record`, sorted by campaign.
    fn memberships(&self, t: TenantId, record: RecordId) -> Vec<CampaignMember> {
        self.campaigns
            .iter()
            .filter(|((ct, _, r), _)| *ct == t && *r == record)
            .map(|((_, c, r), ticket)| CampaignMember {
                campaign: c.clone(),
                record: *r,
                ticket: ticket.clone(),
            })
            .collect()
    }

    /// Removes `record` from the records and their indexes (its links and
    /// memberships stay).
    fn retire(&mut self, t: TenantId, record: RecordId, n: &Normalization) {
        let Some(slot) = self.slot_of(t, &record) else {
            return;
        };
        if let Some(gone) = self.stored(slot).map(|x| self.decode(x)) {
            self.unindex_ticket(&gone);
            self.unindex_aliases(&gone, n);
            self.unindex_blocks(&gone, n);
        }
        self.unindex_key(slot);
        let h = hash_id(&self.hasher, &record);
        if let Ok(e) = self.slots.find_entry(h, |&s| s == slot) {
            e.remove();
        }
        if let Some(x) = self.records.get_mut(slot as usize) {
            x.dead = true;
            // The slot stays; its text goes.
            x.blob = Box::default();
        }
        self.live = self.live.saturating_sub(1);
    }

    /// B9: removes `record`, moving its links and campaign memberships to
    /// `into`, and keeps its tombstone (B16).
    fn merge(&mut self, t: TenantId, record: RecordId, into: RecordId, n: &Normalization) {
        let Some(gone) = self.get(t, record) else {
            return;
        };
        let memberships = self.memberships(t, record);
        let into_memberships = self
            .memberships(t, into)
            .into_iter()
            .filter(|m| memberships.iter().any(|c| c.campaign == m.campaign))
            .collect();
        let tomb = Tombstone::new(
            gone,
            into,
            self.linked_to(t, record),
            memberships,
            into_memberships,
        );
        self.tombstones.insert((t, record), tomb);
        self.retire(t, record, n);
        for (_, r) in self
            .links
            .iter_mut()
            .filter(|((lt, _), r)| *lt == t && **r == record)
        {
            *r = into;
        }
        let moved: Vec<CampaignId> = self
            .campaigns
            .keys()
            .filter(|(ct, _, r)| *ct == t && *r == record)
            .map(|(_, c, _)| c.clone())
            .collect();
        for c in moved {
            let ticket = self.campaigns.remove(&(t, c.clone(), record)).flatten();
            // The survivor's own ticket id stays; a missing one is taken over.
            let held = self.campaigns.entry((t, c, into)).or_default();
            if held.is_none() {
                *held = ticket;
            }
        }
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

    /// The store indexing its records by `blocking` (B19), for policies
    /// that match by record linkage with the same blocking. Records already
    /// held are indexed now.
    #[must_use]
    pub fn with_blocking(self, blocking: Blocking) -> Self {
        let n = self.normalization;
        {
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
    /// party (B19): [`crate::linkage::duplicate_groups_by_score`] over the
    /// tenant's records, linking pairs scoring at least `threshold`.
    pub fn duplicate_groups_by_score(
        &self,
        tenant: TenantId,
        linkage: &crate::linkage::Linkage,
        threshold: i32,
    ) -> Vec<crate::linkage::ScoredGroup> {
        crate::linkage::duplicate_groups_by_score(
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

#[cfg(test)]
mod tests {
    use super::{get_varint, put_varint, InMemoryStore};
    use crate::email::{EmailKey, Normalization};
    use crate::fields::Fields;
    use crate::record::{Record, RecordId, RecordType, TenantId};
    use crate::store::ContactStore;

    #[test]
    fn email_key_read_back_whether_kept_in_the_field_or_apart() {
        let t = TenantId::from_u128(1);
        let rec = |n: u128, email: &str| {
            Record::new(
                RecordId::from_u128(n),
                t,
                RecordType::Contact,
                Fields::from_pairs([
                    ("email", email),
                    ("first_name", "Ann"),
                    ("zip", "ann@x.example"),
                ]),
            )
        };
        // Already the key (kept once, in the field), typed otherwise (kept
        // apart), none at all, and a key equal to a later field's value.
        let records = [
            rec(1, "ann@x.example"),
            rec(2, " Bob@X.Example "),
            rec(3, ""),
            rec(4, "ANN@X.EXAMPLE"),
        ];
        let store = InMemoryStore::new();
        store.extend(records.iter().cloned()).unwrap();
        let key = |e: &str| {
            EmailKey::parse(e, &Normalization::default())
                .unwrap()
                .unwrap()
        };
        let ids = |e: &str| -> Vec<u128> {
            let mut v: Vec<u128> = store
                .records_by_email(t, &key(e))
                .unwrap()
                .iter()
                .map(|r| r.id.uuid().as_u128())
                .collect();
            v.sort();
            v
        };
        assert_eq!(ids("ann@x.example"), [1, 4]);
        assert_eq!(ids("bob@x.example"), [2]);
        for r in &records {
            let back = store.record(t, r.id).unwrap().unwrap();
            assert_eq!(back.fields, r.fields, "{:?}", r.id);
        }
    }

    #[test]
    fn varints_round_trip_at_every_width() {
        for x in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            1 << 21,
            1 << 28,
            u64::MAX,
        ] {
            let mut b = vec![7];
            put_varint(&mut b, x);
            b.push(9);
            let mut at = 1;
            assert_eq!(get_varint(&b, &mut at), x);
            assert_eq!(b.get(at), Some(&9), "{x} read past its bytes");
        }
        // Cut short: what is there, never a panic.
        let mut at = 0;
        assert_eq!(get_varint(&[0x80 | 5], &mut at), 5);
        assert_eq!(at, 1);
    }
}
