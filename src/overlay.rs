//! The engine's view of the records while it decides one plan: the answers
//! of a [`Source`] (which become the plan's preconditions) with the plan's own
//! creations and changes laid over them (B5).

use foldhash::{HashMap, HashMapExt};
use smallvec::SmallVec;
use std::convert::Infallible;

use crate::candidates::Candidates;
use crate::email::{EmailKey, Normalization};
use crate::error::{Error, PlanError};
use crate::fields::{FieldName, FieldValue};
use crate::plan::EventDigest;
use crate::plan::{FieldChange, Precondition};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
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

/// A record's current index entries, kept so that changes can unindex it.
#[derive(Default)]
struct Indexed {
    key: Option<EmailKey>,
    ticket: Option<Box<str>>,
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
    /// Current index entries, once the plan created the record or changed
    /// its email or ticket id.
    indexed: Option<Indexed>,
    /// Order among the base records (see `Overlay::seen_records`).
    seq: u32,
}

/// Everything the plan knows of one email key or ticket id.
#[derive(Default)]
struct IndexEntry {
    /// The source's answer, once asked: a precondition.
    base: Option<Ids>,
    /// Records the plan created, or whose email or ticket id it changed,
    /// that are indexed here now.
    touched: Ids,
    /// Order among the answered keys or tickets, once asked.
    seq: u32,
}

pub(crate) struct Overlay<S> {
    src: S,
    pub(crate) tenant: TenantId,
    normalization: Normalization,
    records: HashMap<RecordId, RecordEntry>,
    keys: HashMap<EmailKey, IndexEntry>,
    tickets: HashMap<Box<str>, IndexEntry>,
    /// Records created by the plan, in order.
    created: Vec<RecordId>,
    /// Events decided by this plan, with their digests (B7).
    events: Vec<(EventId, EventDigest)>,
    event_index: HashMap<EventId, EventDigest>,
    /// Links set by this plan.
    pub(crate) links: HashMap<SubjectId, Option<RecordId>>,
    /// How many base records, keys and tickets have a `seq`: each kind is
    /// numbered densely from 0, so preconditions need no sort.
    seen_records: u32,
    seen_keys: u32,
    seen_tickets: u32,
}

fn ticket_of(r: &Record) -> Option<Box<str>> {
    let t = r.fields.text(FieldName::TICKET_ID).trim();
    (!t.is_empty()).then(|| t.into())
}

/// Entries placed by their dense sequence numbers (`0..n`), in linear time.
fn in_order<T>(n: u32, entries: impl Iterator<Item = (u32, T)>) -> Vec<T> {
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for (seq, t) in entries {
        if let Some(slot) = slots.get_mut(seq as usize) {
            *slot = Some(t);
        }
    }
    slots.into_iter().flatten().collect()
}

/// Takes the next number of a dense sequence.
fn next(counter: &mut u32) -> u32 {
    let n = *counter;
    *counter = counter.wrapping_add(1);
    n
}

impl<S: Source> Overlay<S> {
    pub(crate) fn new(src: S, tenant: TenantId, normalization: Normalization) -> Self {
        Overlay {
            src,
            tenant,
            normalization,
            records: HashMap::new(),
            keys: HashMap::new(),
            tickets: HashMap::new(),
            created: Vec::new(),
            events: Vec::new(),
            event_index: HashMap::new(),
            links: HashMap::new(),
            seen_records: 0,
            seen_keys: 0,
            seen_tickets: 0,
        }
    }

    /// Keeps a record the source returned (the first copy wins: later
    /// copies may be older than the plan's own changes).
    fn remember(&mut self, r: Record) -> Result<RecordId, PlanError<S::Error>> {
        if r.tenant != self.tenant {
            return Err(Error::ForeignCandidate(r.id).into());
        }
        let id = r.id;
        if !self.records.contains_key(&id) {
            let seq = next(&mut self.seen_records);
            self.records.insert(
                id,
                RecordEntry {
                    base_version: Some(r.version),
                    record: r,
                    used: false,
                    indexed: None,
                    seq,
                },
            );
        }
        Ok(id)
    }

    /// The record `id` as the plan sees it now.
    pub(crate) fn get(&self, id: &RecordId) -> Option<&Record> {
        self.records.get(id).map(|e| &e.record)
    }

    /// The digest under which the source has applied `event`, if it has.
    pub(crate) fn applied(
        &mut self,
        event: EventId,
    ) -> Result<Option<EventDigest>, PlanError<S::Error>> {
        if let Some(d) = self.event_index.get(&event) {
            return Ok(Some(*d));
        }
        self.src.event_digest(self.tenant, event)
    }

    /// Marks `event` as decided by this plan.
    pub(crate) fn decide_event(&mut self, event: EventId, digest: EventDigest) {
        self.event_index.insert(event, digest);
        self.events.push((event, digest));
    }

    /// Ids of the records with `key` now, sorted.
    pub(crate) fn by_key(&mut self, key: EmailKey) -> Result<Ids, PlanError<S::Error>> {
        // The source is asked once per key; its answer is a precondition.
        if let Some(IndexEntry {
            base: Some(base),
            touched,
            ..
        }) = self.keys.get(&key)
        {
            return Ok(current(&self.records, base, touched));
        }
        let found = self.src.by_key(self.tenant, &key)?;
        let ids = self.remember_all(found)?;
        let seq = next(&mut self.seen_keys);
        let e = self.keys.entry(key).or_default();
        e.seq = seq;
        let now = current(&self.records, &ids, &e.touched);
        e.base = Some(ids);
        Ok(now)
    }

    /// Keeps the records a source lookup returned; their ids, sorted.
    fn remember_all(&mut self, found: Vec<Record>) -> Result<Ids, PlanError<S::Error>> {
        let mut ids = Ids::with_capacity(found.len());
        for r in found {
            ids.push(self.remember(r)?);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The record `id`, read from the source if the plan has not seen it.
    pub(crate) fn by_id(&mut self, id: RecordId) -> Result<Option<&Record>, PlanError<S::Error>> {
        if !self.records.contains_key(&id) {
            match self.src.by_id(self.tenant, id)? {
                Some(r) if r.id == id => {
                    self.remember(r)?;
                }
                _ => return Ok(None),
            }
        }
        Ok(self.records.get_mut(&id).map(|e| {
            e.used |= e.base_version.is_some();
            &e.record
        }))
    }

    /// Ids of the records with this ticket id now, sorted (A28).
    pub(crate) fn by_ticket(&mut self, ticket: &str) -> Result<Ids, PlanError<S::Error>> {
        let ticket = ticket.trim();
        if let Some(IndexEntry {
            base: Some(base),
            touched,
            ..
        }) = self.tickets.get(ticket)
        {
            return Ok(current(&self.records, base, touched));
        }
        let found = self.src.by_ticket(self.tenant, ticket)?;
        let ids = self.remember_all(found)?;
        let seq = next(&mut self.seen_tickets);
        let e = self.tickets.entry(ticket.into()).or_default();
        e.seq = seq;
        let now = current(&self.records, &ids, &e.touched);
        e.base = Some(ids);
        Ok(now)
    }

    /// Indexes a record the plan created, or whose email or ticket id it
    /// changed, under its current email key and ticket id (unindexing its
    /// previous entries); the source's answers no longer count it. `key`: the
    /// record's key when the caller knows it, so it is not parsed again.
    fn reindex(&mut self, id: RecordId, key: Option<Option<EmailKey>>) {
        let Some(e) = self.records.get_mut(&id) else {
            return;
        };
        let now = Indexed {
            key: key.unwrap_or_else(|| e.record.email_key(&self.normalization)),
            ticket: ticket_of(&e.record),
        };
        let before = e.indexed.replace(Indexed {
            key: now.key.clone(),
            ticket: now.ticket.clone(),
        });
        if let Some(before) = before {
            if let Some(k) = before.key {
                if let Some(x) = self.keys.get_mut(&k) {
                    remove_id(&mut x.touched, id);
                }
            }
            if let Some(t) = before.ticket {
                if let Some(x) = self.tickets.get_mut(&t) {
                    remove_id(&mut x.touched, id);
                }
            }
        }
        if let Some(k) = now.key {
            insert_sorted(&mut self.keys.entry(k).or_default().touched, id);
        }
        if let Some(t) = now.ticket {
            insert_sorted(&mut self.tickets.entry(t).or_default().touched, id);
        }
    }

    /// Adds a record the plan creates; `key` is its email key (known to
    /// the caller, so it is not parsed again).
    pub(crate) fn create(&mut self, r: Record, key: Option<EmailKey>) {
        let id = r.id;
        self.created.push(id);
        self.records.insert(
            id,
            RecordEntry {
                record: r,
                base_version: None,
                used: false,
                indexed: None,
                seq: 0,
            },
        );
        self.reindex(id, Some(key));
    }

    /// Applies `changes` to the record `id`. Only a change of its email or
    /// ticket id moves it in the indexes: otherwise the source's answers
    /// that hold it stay right.
    pub(crate) fn update(&mut self, id: RecordId, changes: &[FieldChange]) {
        let Some(e) = self.records.get_mut(&id) else {
            return;
        };
        e.used |= e.base_version.is_some();
        for c in changes {
            e.record.fields.set(c.field.clone(), c.new.clone());
        }
        if changes
            .iter()
            .any(|c| matches!(c.field.as_str(), FieldName::EMAIL | FieldName::TICKET_ID))
        {
            self.reindex(id, None);
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
    /// the order the plan first asked for them; then the ids the plan
    /// creates and the events it decides, in order.
    pub(crate) fn into_preconditions(self) -> Vec<Precondition> {
        let keys = in_order(
            self.seen_keys,
            self.keys
                .into_iter()
                .filter_map(|(k, e)| Some((e.seq, (k, e.base?)))),
        );
        let tickets = in_order(
            self.seen_tickets,
            self.tickets
                .into_iter()
                .filter_map(|(t, e)| Some((e.seq, (t, e.base?)))),
        );
        let versions = in_order(
            self.seen_records,
            self.records
                .into_iter()
                .filter_map(|(id, e)| match (e.used, e.base_version) {
                    (true, Some(v)) => Some((e.seq, (id, v))),
                    _ => None,
                }),
        );
        let mut out = Vec::with_capacity(
            keys.len() + tickets.len() + versions.len() + self.created.len() + self.events.len(),
        );
        out.extend(keys.into_iter().map(|(key, ids)| Precondition::EmailKey {
            key,
            records: ids.into_vec(),
        }));
        out.extend(tickets.into_iter().map(|(t, ids)| Precondition::TicketId {
            ticket: FieldValue::new(&t),
            records: ids.into_vec(),
        }));
        out.extend(
            versions
                .into_iter()
                .map(|(record, version)| Precondition::RecordVersion { record, version }),
        );
        out.extend(
            self.created
                .into_iter()
                .map(|record| Precondition::RecordAbsent { record }),
        );
        out.extend(
            self.events
                .into_iter()
                .map(|(event, digest)| Precondition::EventNew { event, digest }),
        );
        out
    }
}

/// The answer now: the source's answer without the records the plan
/// touched, plus the touched records indexed under the same value.
fn current(records: &HashMap<RecordId, RecordEntry>, base: &Ids, touched: &Ids) -> Ids {
    let mut now: Ids = base
        .iter()
        .copied()
        .filter(|id| records.get(id).is_none_or(|e| e.indexed.is_none()))
        .collect();
    for id in touched {
        insert_sorted(&mut now, *id);
    }
    now
}
