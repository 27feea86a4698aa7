//! The engine's view of the records while it decides one plan: the answers
//! of a [`Source`] (which become the plan's preconditions) with the plan's own
//! creations and changes laid over them (B5).

use foldhash::{HashMap, HashMapExt};
use hashbrown::HashTable;
use indexmap::IndexMap;
use smallvec::SmallVec;
use std::hash::BuildHasher;

use super::source::Source;
use crate::email::{EmailKey, Normalization};
use crate::error::{Error, PlanError};
use crate::event::Event;
use crate::fields::{FieldName, FieldValue};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::EventDigest;
use crate::plan::{FieldChange, Precondition};
use crate::record::{Record, RecordId, SubjectId, TenantId};

/// What a plan knows of an event before deciding it (B7).
pub(crate) enum Seen {
    /// Neither applied by the source nor earlier in this plan.
    New,
    /// Applied by the source, under this digest.
    Applied(EventDigest),
    /// Decided earlier in this plan, as the batch's event number `.0`, with
    /// its digest when it was computed.
    Earlier(usize, Option<EventDigest>),
}

/// Record ids, almost always at most one: kept inline.
pub(crate) type Ids = SmallVec<[RecordId; 1]>;

fn insert_sorted(ids: &mut Ids, id: RecordId) {
    if let Err(i) = ids.binary_search(&id) {
        ids.insert(i, id);
    }
}

fn remove_id(ids: &mut Ids, id: RecordId) {
    ids.retain(|x| *x != id);
}

/// Everything the plan knows of one record (one map entry instead of one
/// per question: a batch touches a record a handful of times).
struct RecordEntry {
    /// The record as the plan sees it now.
    record: Record,
    /// Its version as read from the source; `None` for records the plan creates.
    base_version: Option<u64>,
    /// The plan depends on the base state (updated, linked, read by id).
    used: bool,
    /// The plan created the record or changed its email, aliases or ticket id: it
    /// is indexed in the `touched` lists under its current values, and the
    /// source's answers no longer count it.
    indexed: bool,
}

impl RecordEntry {
    /// A record as the source has it (its version is the base).
    fn base(record: Record) -> Self {
        RecordEntry {
            base_version: Some(record.version),
            record,
            used: false,
            indexed: false,
        }
    }
}

/// Everything the plan knows of one email key or ticket id.
#[derive(Default)]
struct IndexEntry {
    /// The source's answer, once asked: a precondition (a dry run keeps
    /// none and asks again).
    base: Option<Ids>,
    /// Records indexed here now (see `RecordEntry::indexed`).
    touched: Ids,
}

/// A map that keeps insertion order (preconditions follow the order in
/// which the plan first asked) in a dense vector: a batch of a million
/// subjects holds a million entries in each of these.
type Ordered<K, V> = IndexMap<K, V, foldhash::fast::RandomState>;

pub(crate) struct Overlay<S> {
    src: S,
    pub(crate) tenant: TenantId,
    normalization: Normalization,
    records: Ordered<RecordId, RecordEntry>,
    keys: Ordered<EmailKey, IndexEntry>,
    tickets: Ordered<Box<str>, IndexEntry>,
    /// The blocking of the policy's record linkage (B19; empty without),
    /// and the blocking keys asked.
    blocking: Blocking,
    blocks: Ordered<BlockKey, IndexEntry>,
    /// Events decided by this plan (B7), as their numbers in the batch,
    /// found by id: a word per event, as a batch holds millions.
    events: HashTable<usize>,
    /// The digests of the events decided, by number in the batch, in
    /// order (a plan computes one for every event; a dry run, none).
    digests: Vec<(usize, EventDigest)>,
    hasher: foldhash::fast::RandomState,
    /// Links set by this plan.
    pub(crate) links: HashMap<SubjectId, Option<RecordId>>,
    /// `None` while planning: every answer of the source is kept, as the
    /// plan's preconditions. In a dry run, which states none, the records
    /// the source returned during the current event and the batch has not
    /// changed: the overlay then holds only what the batch changed, and a
    /// million-subject dry run does not keep a million records. Searched
    /// from the end, so finding the record just read costs one comparison
    /// even in a registration of thousands of subjects sharing one email.
    reads: Option<Vec<Record>>,
}

/// Where [`Overlay::by_key`] left the key it was asked for.
pub(crate) enum Asked {
    /// Kept by the overlay, at this position.
    At(usize),
    /// Not kept (a dry run keeps only keys the batch changed): handed back.
    Here(EmailKey),
}

fn ticket_of(r: &Record) -> Option<Box<str>> {
    let t = r.fields.text(FieldName::TICKET_ID).trim();
    (!t.is_empty()).then(|| t.into())
}

impl<S: Source> Overlay<S> {
    /// An overlay over `src`; `keep_reads` keeps every answer of the
    /// source (for preconditions), otherwise only what the batch changes.
    pub(crate) fn new(
        src: S,
        tenant: TenantId,
        normalization: Normalization,
        blocking: Blocking,
        keep_reads: bool,
    ) -> Self {
        Overlay {
            src,
            tenant,
            normalization,
            records: Ordered::default(),
            keys: Ordered::default(),
            tickets: Ordered::default(),
            blocking,
            blocks: Ordered::default(),
            events: HashTable::new(),
            digests: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
            links: HashMap::new(),
            reads: (!keep_reads).then(Vec::new),
        }
    }

    /// Makes room for every event of `batch`: each new one is kept by its
    /// number, and growing that table would look up and hash again every
    /// event kept so far.
    pub(crate) fn reserve_events<B: Batch + ?Sized>(&mut self, batch: &B) {
        let hasher = &self.hasher;
        self.events.reserve(batch.len(), |p| {
            batch
                .at(*p)
                .map(Event::id)
                .map_or(0, |id| hasher.hash_one(id))
        });
    }

    /// Ends an event: records read for it and not changed are let go (a
    /// dry run keeps no reads between events).
    pub(crate) fn end_event(&mut self) {
        if let Some(r) = &mut self.reads {
            r.clear();
        }
    }

    /// B5: the plan itself created `id` (an earlier subject or event of
    /// this batch).
    pub(crate) fn created_here(&self, id: &RecordId) -> bool {
        self.records
            .get(id)
            .is_some_and(|e| e.base_version.is_none())
    }

    /// The record `id` as the plan sees it now.
    pub(crate) fn get(&self, id: &RecordId) -> Option<&Record> {
        match self.records.get(id) {
            Some(e) => Some(&e.record),
            // The latest read first: it is the one just asked for.
            None => self.reads.as_ref()?.iter().rev().find(|r| r.id == *id),
        }
    }

    /// Moves record `id` from this event's reads into the overlay, which is
    /// about to change it (a dry run).
    fn adopt(&mut self, id: &RecordId) {
        let Some(reads) = &mut self.reads else {
            return;
        };
        if self.records.contains_key(id) {
            return;
        }
        if let Some(at) = reads.iter().rposition(|r| r.id == *id) {
            let r = reads.swap_remove(at);
            self.records.insert(r.id, RecordEntry::base(r));
        }
    }

    /// What is known of the batch's event number `at` before deciding it
    /// (B7); when nothing is, marks it decided by this plan, with its
    /// `digest` when the caller computed it (one lookup for both).
    pub(crate) fn applied_or_decide<B: Batch + ?Sized>(
        &mut self,
        batch: &B,
        at: usize,
        digest: Option<EventDigest>,
    ) -> Result<Seen, PlanError<S::Error>> {
        let Some(event) = batch.at(at).map(Event::id) else {
            return Ok(Seen::New);
        };
        let id_at = |p: &usize| batch.at(*p).map(Event::id);
        let hasher = &self.hasher;
        let entry = self.events.entry(
            hasher.hash_one(event),
            |p| id_at(p) == Some(event),
            // (Every number kept is in the batch.)
            |p| id_at(p).map_or(0, |id| hasher.hash_one(id)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => {
                let earlier = *o.get();
                let d = self
                    .digests
                    .binary_search_by_key(&earlier, |(p, _)| *p)
                    .ok()
                    .and_then(|i| self.digests.get(i))
                    .map(|(_, d)| *d);
                Ok(Seen::Earlier(earlier, d))
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                match self.src.event_digest(self.tenant, event)? {
                    Some(d) => Ok(Seen::Applied(d)),
                    None => {
                        v.insert(at);
                        if let Some(d) = digest {
                            self.digests.push((at, d));
                        }
                        Ok(Seen::New)
                    }
                }
            }
        }
    }

    /// Ids of the records with `key` now, sorted, and where the key was
    /// left (see [`Overlay::asked_key`]).
    pub(crate) fn by_key(&mut self, key: EmailKey) -> Result<(Ids, Asked), PlanError<S::Error>> {
        let tenant = self.tenant;
        let (ids, at) = answer(
            &mut self.keys,
            &mut self.records,
            self.reads.as_mut(),
            tenant,
            key,
            |k| self.src.by_key(tenant, k),
        )?;
        Ok((
            ids,
            match at {
                Ok(i) => Asked::At(i),
                Err(k) => Asked::Here(k),
            },
        ))
    }

    /// The key [`Overlay::by_key`] was asked for.
    pub(crate) fn asked_key(&self, asked: Asked) -> Option<EmailKey> {
        match asked {
            Asked::At(i) => self.keys.get_index(i).map(|(k, _)| k.clone()),
            Asked::Here(k) => Some(k),
        }
    }

    /// The record `id`, read from the source if the plan has not seen it.
    pub(crate) fn by_id(&mut self, id: RecordId) -> Result<Option<&Record>, PlanError<S::Error>> {
        if !self.records.contains_key(&id) {
            let found = match self.src.by_id(self.tenant, id)? {
                Some(r) if r.id == id => r,
                _ => return Ok(None),
            };
            keep(&mut self.records, self.reads.as_mut(), self.tenant, found)?;
        }
        Ok(match self.records.get_mut(&id) {
            Some(e) => {
                e.used |= e.base_version.is_some();
                Some(&e.record)
            }
            // A dry run's read, just kept.
            None => self.reads.as_ref().and_then(|r| r.last()),
        })
    }

    /// Ids of the records with this ticket id now, sorted (A28).
    pub(crate) fn by_ticket(&mut self, ticket: &str) -> Result<Ids, PlanError<S::Error>> {
        let tenant = self.tenant;
        let ticket: Box<str> = ticket.trim().into();
        answer(
            &mut self.tickets,
            &mut self.records,
            self.reads.as_mut(),
            tenant,
            ticket,
            |t| self.src.by_ticket(tenant, t),
        )
        .map(|(ids, _)| ids)
    }

    /// Ids of the records with blocking key `key` now, sorted (B19).
    pub(crate) fn by_block(&mut self, key: BlockKey) -> Result<Ids, PlanError<S::Error>> {
        let tenant = self.tenant;
        answer(
            &mut self.blocks,
            &mut self.records,
            self.reads.as_mut(),
            tenant,
            key,
            |k| self.src.by_block(tenant, k),
        )
        .map(|(ids, _)| ids)
    }

    /// The blocking keys of `fields` under the policy's blocking (B19).
    pub(crate) fn block_keys(&self, fields: &crate::fields::Fields) -> Vec<BlockKey> {
        self.blocking.keys(fields, &self.normalization)
    }

    /// Moves record `id` in the `touched` lists from the values it had
    /// (`before`, when it was indexed) to its current email key (`key`, when
    /// the caller knows it), alias keys (B15) and ticket id, and marks it
    /// indexed.
    fn reindex(&mut self, id: RecordId, before: Option<Index>, key: Option<Option<EmailKey>>) {
        let Some(e) = self.records.get_mut(&id) else {
            return;
        };
        e.indexed = true;
        let key = key.unwrap_or_else(|| e.record.email_key(&self.normalization));
        // B15: a record is found under its aliases too.
        let aliases = e.record.alias_keys(&self.normalization);
        let ticket = ticket_of(&e.record);
        let blocks = self.blocking.keys(&e.record.fields, &self.normalization);
        if let Some((keys, t, b)) = before {
            for k in keys {
                if let Some(x) = self.keys.get_mut(&k) {
                    remove_id(&mut x.touched, id);
                }
            }
            if let Some(x) = t.and_then(|t| self.tickets.get_mut(&t)) {
                remove_id(&mut x.touched, id);
            }
            for k in b {
                if let Some(x) = self.blocks.get_mut(&k) {
                    remove_id(&mut x.touched, id);
                }
            }
        }
        for k in blocks {
            insert_sorted(&mut self.blocks.entry(k).or_default().touched, id);
        }
        for k in key.into_iter().chain(aliases) {
            insert_sorted(&mut self.keys.entry(k).or_default().touched, id);
        }
        if let Some(t) = ticket {
            insert_sorted(&mut self.tickets.entry(t).or_default().touched, id);
        }
    }

    /// Adds a record the plan creates; `key` is its email key (known to
    /// the caller, so it is not parsed again).
    pub(crate) fn create(&mut self, r: Record, key: Option<EmailKey>) {
        let id = r.id;
        self.records.insert(
            id,
            RecordEntry {
                record: r,
                base_version: None,
                used: false,
                indexed: false,
            },
        );
        self.reindex(id, None, Some(key));
    }

    /// Applies `changes` to the record `id`. Only a change of its email or
    /// ticket id moves it in the indexes: otherwise the source's answers
    /// that hold it stay right.
    pub(crate) fn update(&mut self, id: RecordId, changes: &[FieldChange]) {
        self.adopt(&id);
        let Some(e) = self.records.get_mut(&id) else {
            return;
        };
        e.used |= e.base_version.is_some();
        // With record linkage, any field may move the record between blocks.
        let moves = !self.blocking.is_empty()
            || changes.iter().any(|c| {
                matches!(
                    c.field.as_str(),
                    FieldName::EMAIL | FieldName::EMAIL_ALIASES | FieldName::TICKET_ID
                )
            });
        let before = (moves && e.indexed).then(|| {
            (
                e.record.match_keys(&self.normalization),
                ticket_of(&e.record),
                self.blocking.keys(&e.record.fields, &self.normalization),
            )
        });
        for c in changes {
            e.record.fields.set(c.field.clone(), c.new.clone());
        }
        if moves {
            self.reindex(id, before, None);
        }
    }

    /// Marks a base record as one the plan depends on (linked to it).
    pub(crate) fn use_record(&mut self, id: RecordId) {
        if let Some(e) = self.records.get_mut(&id) {
            e.used |= e.base_version.is_some();
        }
    }

    pub(crate) fn link_of(&self, subject: SubjectId, stored: Option<RecordId>) -> Option<RecordId> {
        self.links.get(&subject).copied().unwrap_or(stored)
    }

    /// The plan's preconditions, in a deterministic order: email keys, then
    /// ticket ids, then versions of the records the plan depends on, each in
    /// the order the plan first met them; then the ids the plan creates and
    /// the events it decides, in order.
    pub(crate) fn into_preconditions<B: Batch + ?Sized>(self, batch: &B) -> Vec<Precondition> {
        let mut out = Vec::with_capacity(
            self.keys.len() + self.tickets.len() + self.records.len() + self.digests.len(),
        );
        out.extend(self.keys.into_iter().filter_map(|(key, e)| {
            Some(Precondition::EmailKey {
                key,
                records: e.base?.into_vec(),
            })
        }));
        out.extend(self.tickets.into_iter().filter_map(|(t, e)| {
            Some(Precondition::TicketId {
                ticket: FieldValue::new(&t),
                records: e.base?.into_vec(),
            })
        }));
        out.extend(self.blocks.into_iter().filter_map(|(key, e)| {
            Some(Precondition::BlockKey {
                key,
                records: e.base?.into_vec(),
            })
        }));
        out.extend(self.records.iter().filter_map(|(id, e)| match e {
            RecordEntry {
                used: true,
                base_version: Some(version),
                ..
            } => Some(Precondition::RecordVersion {
                record: *id,
                version: *version,
            }),
            _ => None,
        }));
        out.extend(self.records.iter().filter_map(|(id, e)| {
            e.base_version
                .is_none()
                .then_some(Precondition::RecordAbsent { record: *id })
        }));
        out.extend(self.digests.into_iter().filter_map(|(at, digest)| {
            Some(Precondition::EventNew {
                event: batch.at(at)?.id(),
                digest,
            })
        }));
        out
    }
}

/// The events of a batch, by number: a slice of events, or of references
/// to them (a thread's share of a batch, picked without copying).
pub(crate) trait Batch {
    /// How many events.
    fn len(&self) -> usize;
    /// The event numbered `at`.
    fn at(&self, at: usize) -> Option<&Event>;
}

impl Batch for [Event] {
    fn len(&self) -> usize {
        <[Event]>::len(self)
    }
    fn at(&self, at: usize) -> Option<&Event> {
        self.get(at)
    }
}

impl Batch for [&Event] {
    fn len(&self) -> usize {
        <[&Event]>::len(self)
    }
    fn at(&self, at: usize) -> Option<&Event> {
        self.get(at).copied()
    }
}

/// The records indexed under `key` now, sorted, and the key's position in
/// `map`: the source is asked (`ask`) once per key, and its answer, a
/// precondition, is kept with the plan's own changes under that key. One
/// hash of the key: its position serves the rest.
///
/// With `reads` (a dry run), a key the batch has not changed is not kept
/// (it is handed back), nor are the source's answer and the records in it:
/// they go to `reads`, unless the overlay holds a newer copy, and the source
/// is asked again next time.
fn answer<K: std::hash::Hash + Eq, E>(
    map: &mut Ordered<K, IndexEntry>,
    records: &mut Ordered<RecordId, RecordEntry>,
    mut reads: Option<&mut Vec<Record>>,
    tenant: TenantId,
    key: K,
    ask: impl FnOnce(&K) -> Result<Vec<Record>, PlanError<E>>,
) -> Result<(Ids, Result<usize, K>), PlanError<E>> {
    let i = match &mut reads {
        Some(reads) => match map.get_index_of(&key) {
            Some(i) => i,
            None => {
                let ids = keep_all(records, Some(reads), tenant, ask(&key)?)?;
                return Ok((current(records, &ids, &Ids::new()), Err(key)));
            }
        },
        None => match map.entry(key) {
            indexmap::map::Entry::Occupied(o) => o.index(),
            indexmap::map::Entry::Vacant(v) => {
                let i = v.index();
                v.insert(IndexEntry::default());
                i
            }
        },
    };
    let Some((key, e)) = map.get_index(i) else {
        return Ok((Ids::new(), Ok(i)));
    };
    if let Some(base) = &e.base {
        return Ok((current(records, base, &e.touched), Ok(i)));
    }
    let found = ask(key)?;
    // A dry run keeps no answer: the source is asked again next time.
    let keep_base = reads.is_none();
    let ids = keep_all(records, reads, tenant, found)?;
    let Some((_, e)) = map.get_index_mut(i) else {
        return Ok((Ids::new(), Ok(i)));
    };
    let now = current(records, &ids, &e.touched);
    if keep_base {
        e.base = Some(ids);
    }
    Ok((now, Ok(i)))
}

/// A candidate of another tenant is the source's error (B8).
fn check_tenant(tenant: TenantId, r: &Record) -> Result<(), Error> {
    if r.tenant != tenant {
        return Err(Error::ForeignCandidate(r.id));
    }
    Ok(())
}

/// Keeps a record the source returned: in the overlay while planning (the
/// first copy wins: later copies may be older than the plan's own changes),
/// among the event's `reads` in a dry run unless the overlay holds a newer
/// copy. Its id.
fn keep(
    records: &mut Ordered<RecordId, RecordEntry>,
    reads: Option<&mut Vec<Record>>,
    tenant: TenantId,
    r: Record,
) -> Result<RecordId, Error> {
    check_tenant(tenant, &r)?;
    let id = r.id;
    match reads {
        None => {
            records.entry(id).or_insert_with(|| RecordEntry::base(r));
        }
        Some(reads) => {
            if !records.contains_key(&id) {
                reads.push(r);
            }
        }
    }
    Ok(id)
}

/// Keeps the records a source lookup returned (see [`keep`]); their ids,
/// sorted.
fn keep_all(
    records: &mut Ordered<RecordId, RecordEntry>,
    mut reads: Option<&mut Vec<Record>>,
    tenant: TenantId,
    found: Vec<Record>,
) -> Result<Ids, Error> {
    let mut ids = Ids::with_capacity(found.len());
    for r in found {
        ids.push(keep(records, reads.as_deref_mut(), tenant, r)?);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A record's email and alias keys, its ticket id and its blocking keys,
/// as indexed.
type Index = (Vec<EmailKey>, Option<Box<str>>, Vec<BlockKey>);

/// The answer now: the source's answer without the records the plan
/// touched, plus the touched records indexed under the same value.
fn current(records: &Ordered<RecordId, RecordEntry>, base: &Ids, touched: &Ids) -> Ids {
    let mut now: Ids = base
        .iter()
        .copied()
        .filter(|id| records.get(id).is_none_or(|e| !e.indexed))
        .collect();
    for id in touched {
        insert_sorted(&mut now, *id);
    }
    now
}
