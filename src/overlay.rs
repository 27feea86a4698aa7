//! The engine's view of the records while it decides one plan: the answers
//! of a [`Source`] (which become the plan's preconditions) with the plan's own
//! creations and changes laid over them (B5).

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
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

/// Record ids, usually one.
type Ids = Vec<RecordId>;

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

pub(crate) struct Overlay<S> {
    src: S,
    pub(crate) tenant: TenantId,
    normalization: Normalization,
    /// Current state of every record read or made.
    records: HashMap<RecordId, Record>,
    /// The source's answer per key: the plan's preconditions.
    base_keys: HashMap<EmailKey, Ids>,
    base_tickets: HashMap<Box<str>, Ids>,
    /// Versions of records as read from the source.
    base_versions: HashMap<RecordId, u64>,
    /// Base records whose state this plan depends on (updated, linked, read by id).
    used: HashSet<RecordId>,
    /// Records created or changed by the plan, with their current index entries.
    touched: HashMap<RecordId, Indexed>,
    touched_keys: HashMap<EmailKey, Ids>,
    touched_tickets: HashMap<Box<str>, Ids>,
    created: Vec<RecordId>,
    /// Events decided by this plan, with their digests (B7).
    events: Vec<(EventId, EventDigest)>,
    event_index: HashMap<EventId, EventDigest>,
    /// Links set by this plan.
    pub(crate) links: HashMap<SubjectId, Option<RecordId>>,
}

fn ticket_of(r: &Record) -> Option<Box<str>> {
    let t = r.fields.text(FieldName::TICKET_ID).trim();
    (!t.is_empty()).then(|| t.into())
}

impl<S: Source> Overlay<S> {
    pub(crate) fn new(src: S, tenant: TenantId, normalization: Normalization) -> Self {
        Overlay {
            src,
            tenant,
            normalization,
            records: HashMap::new(),
            base_keys: HashMap::new(),
            base_tickets: HashMap::new(),
            base_versions: HashMap::new(),
            used: HashSet::new(),
            touched: HashMap::new(),
            touched_keys: HashMap::new(),
            touched_tickets: HashMap::new(),
            created: Vec::new(),
            events: Vec::new(),
            event_index: HashMap::new(),
            links: HashMap::new(),
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
            self.base_versions.insert(id, r.version);
            self.records.insert(id, r);
        }
        Ok(id)
    }

    /// The record `id` as the plan sees it now.
    pub(crate) fn get(&self, id: &RecordId) -> Option<&Record> {
        self.records.get(id)
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
        let fetched = if self.base_keys.contains_key(&key) {
            None
        } else {
            let found = self.src.by_key(self.tenant, &key)?;
            Some(self.remember_all(found)?)
        };
        let base = fetched.as_ref().or_else(|| self.base_keys.get(&key));
        let now = self.current(base, self.touched_keys.get(&key));
        if let Some(ids) = fetched {
            // The key moves into the map: the preconditions take it from there.
            self.base_keys.insert(key, ids);
        }
        Ok(now)
    }

    /// Keeps the records a source lookup returned; their ids, sorted.
    fn remember_all(&mut self, found: Vec<Record>) -> Result<Ids, PlanError<S::Error>> {
        let mut ids = Vec::with_capacity(found.len());
        for r in found {
            ids.push(self.remember(r)?);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The answer now: the source's answer without the records the plan
    /// touched, plus the touched records indexed under the same value.
    fn current(&self, base: Option<&Ids>, touched: Option<&Ids>) -> Ids {
        let mut now: Ids = base
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|id| !self.touched.contains_key(id))
                    .collect()
            })
            .unwrap_or_default();
        for id in touched.into_iter().flatten() {
            insert_sorted(&mut now, *id);
        }
        now
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
        if self.base_versions.contains_key(&id) {
            self.used.insert(id);
        }
        Ok(self.records.get(&id))
    }

    /// Ids of the records with this ticket id now, sorted (A28).
    pub(crate) fn by_ticket(&mut self, ticket: &str) -> Result<Ids, PlanError<S::Error>> {
        let ticket = ticket.trim();
        if !self.base_tickets.contains_key(ticket) {
            let found = self.src.by_ticket(self.tenant, ticket)?;
            let ids = self.remember_all(found)?;
            self.base_tickets.insert(ticket.into(), ids);
        }
        Ok(self.current(
            self.base_tickets.get(ticket),
            self.touched_tickets.get(ticket),
        ))
    }

    /// Re-indexes a touched record after a change of its email or ticket id.
    fn reindex(&mut self, id: RecordId) {
        let Some(r) = self.records.get(&id) else {
            return;
        };
        let now = Indexed {
            key: r.email_key(&self.normalization),
            ticket: ticket_of(r),
        };
        if let Some(before) = self.touched.remove(&id) {
            if let Some(ids) = before.key.and_then(|k| self.touched_keys.get_mut(&k)) {
                remove_id(ids, id);
            }
            if let Some(ids) = before.ticket.and_then(|t| self.touched_tickets.get_mut(&t)) {
                remove_id(ids, id);
            }
        }
        if let Some(k) = &now.key {
            insert_sorted(self.touched_keys.entry(k.clone()).or_default(), id);
        }
        if let Some(t) = &now.ticket {
            insert_sorted(self.touched_tickets.entry(t.clone()).or_default(), id);
        }
        self.touched.insert(id, now);
    }

    /// Adds a record the plan creates; `key` is its email key (known to
    /// the caller, so it is not parsed again).
    pub(crate) fn create(&mut self, r: Record, key: Option<EmailKey>) {
        let id = r.id;
        let ticket = ticket_of(&r);
        self.created.push(id);
        self.records.insert(id, r);
        if let Some(k) = &key {
            insert_sorted(self.touched_keys.entry(k.clone()).or_default(), id);
        }
        if let Some(t) = &ticket {
            insert_sorted(self.touched_tickets.entry(t.clone()).or_default(), id);
        }
        self.touched.insert(id, Indexed { key, ticket });
    }

    pub(crate) fn update(&mut self, id: RecordId, changes: &[FieldChange]) {
        if self.base_versions.contains_key(&id) {
            self.used.insert(id);
        }
        if let Some(r) = self.records.get_mut(&id) {
            for c in changes {
                r.fields.set(c.field.clone(), c.new.clone());
            }
        }
        let indexed = changes
            .iter()
            .any(|c| matches!(c.field.as_str(), FieldName::EMAIL | FieldName::TICKET_ID));
        if indexed || !self.touched.contains_key(&id) {
            self.reindex(id);
        }
    }

    /// Marks a base record as one the plan depends on (linked to it).
    pub(crate) fn use_record(&mut self, id: RecordId) {
        if self.base_versions.contains_key(&id) {
            self.used.insert(id);
        }
    }

    pub(crate) fn link_of(&self, subject: SubjectId, stored: Option<RecordId>) -> Option<RecordId> {
        self.links.get(&subject).copied().unwrap_or(stored)
    }

    /// The plan's preconditions, in a deterministic order: email keys and
    /// ticket ids sorted, then versions and absent ids sorted by id.
    pub(crate) fn into_preconditions(self) -> Vec<Precondition> {
        let mut keys: Vec<(EmailKey, Ids)> = self.base_keys.into_iter().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut tickets: Vec<(Box<str>, Ids)> = self.base_tickets.into_iter().collect();
        tickets.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut created = self.created;
        created.sort_unstable();
        let mut out =
            Vec::with_capacity(keys.len() + tickets.len() + self.used.len() + created.len());
        out.extend(
            keys.into_iter()
                .map(|(key, records)| Precondition::EmailKey { key, records }),
        );
        out.extend(
            tickets
                .into_iter()
                .map(|(t, records)| Precondition::TicketId {
                    ticket: FieldValue::new(&t),
                    records,
                }),
        );
        let mut used: Vec<RecordId> = self.used.into_iter().collect();
        used.sort_unstable();
        for id in &used {
            if let Some(v) = self.base_versions.get(id) {
                out.push(Precondition::RecordVersion {
                    record: *id,
                    version: *v,
                });
            }
        }
        out.extend(
            created
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
