//! An in-memory store, indexed by (tenant, email key) and (tenant, ticket id).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use foldhash::HashMap;
use std::convert::Infallible;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, Conflict};
use crate::event::CampaignId;
use crate::fields::FieldName;
use crate::plan::{Effect, EventDigest, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::{ApplyPlan, ContactStore};

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
}

/// Record ids under one index entry; almost always one, kept inline.
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

/// One tenant's indexes.
#[derive(Default)]
struct TenantIndex {
    by_key: HashMap<EmailKey, Ids>,
    by_ticket: HashMap<Box<str>, Ids>,
}

#[derive(Default)]
struct Inner {
    /// Records in insertion order; `slots` finds them by id.
    records: Vec<Record>,
    slots: HashMap<RecordId, u32>,
    tenants: HashMap<TenantId, TenantIndex>,
    links: BTreeMap<(TenantId, SubjectId), RecordId>,
    campaigns: BTreeSet<(TenantId, CampaignId, RecordId)>,
    /// Events applied, with their payload digests (B7).
    events: HashMap<(TenantId, EventId), EventDigest>,
}

/// Records in memory, shared between threads (`&self` everywhere; an
/// internal lock makes [`ApplyPlan::apply`] atomic).
///
/// Also keeps subjects' links and campaign memberships, which a host would
/// keep in its own tables, so examples and tests need no host.
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

impl Inner {
    fn index(&mut self, r: &Record, n: &Normalization) {
        let t = self.tenants.entry(r.tenant).or_default();
        if let Some(k) = r.email_key(n) {
            match t.by_key.get_mut(&k) {
                Some(ids) => ids.push(r.id),
                None => {
                    t.by_key.insert(k, Ids::One(r.id));
                }
            }
        }
        if let Some(tk) = ticket_of(r) {
            match t.by_ticket.get_mut(tk) {
                Some(ids) => ids.push(r.id),
                None => {
                    t.by_ticket.insert(tk.into(), Ids::One(r.id));
                }
            }
        }
    }

    fn unindex(&mut self, r: &Record, n: &Normalization) {
        let Some(t) = self.tenants.get_mut(&r.tenant) else {
            return;
        };
        if let Some(k) = r.email_key(n) {
            if t.by_key.get_mut(&k).is_some_and(|ids| ids.remove(r.id)) {
                t.by_key.remove(&k);
            }
        }
        if let Some(tk) = ticket_of(r) {
            if t.by_ticket.get_mut(tk).is_some_and(|ids| ids.remove(r.id)) {
                t.by_ticket.remove(tk);
            }
        }
    }

    fn ids_by_key(&self, tenant: TenantId, key: &EmailKey) -> Vec<RecordId> {
        self.tenants
            .get(&tenant)
            .and_then(|t| t.by_key.get(key))
            .map(Ids::sorted)
            .unwrap_or_default()
    }

    fn ids_by_ticket(&self, tenant: TenantId, ticket: &str) -> Vec<RecordId> {
        self.tenants
            .get(&tenant)
            .and_then(|t| t.by_ticket.get(ticket.trim()))
            .map(Ids::sorted)
            .unwrap_or_default()
    }

    fn contains(&self, id: &RecordId) -> bool {
        self.slots.contains_key(id)
    }

    fn get(&self, tenant: TenantId, id: RecordId) -> Option<&Record> {
        let slot = *self.slots.get(&id)?;
        self.records
            .get(slot as usize)
            .filter(|r| r.tenant == tenant)
    }

    fn add(&mut self, record: Record, n: &Normalization) -> Result<(), InsertError> {
        if self.contains(&record.id) {
            return Err(InsertError::Exists(record.id));
        }
        let slot = u32::try_from(self.records.len()).map_err(|_| InsertError::Full)?;
        self.index(&record, n);
        self.slots.insert(record.id, slot);
        self.records.push(record);
        Ok(())
    }

    fn check(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        let t = plan.tenant;
        for p in &plan.preconditions {
            match p {
                Precondition::EmailKey { key, records } => {
                    if self.ids_by_key(t, key) != *records {
                        return Err(Conflict::EmailKeyChanged.into());
                    }
                }
                Precondition::RecordVersion { record, version } => {
                    let actual = self.get(t, *record).map_or(0, |r| r.version);
                    if actual != *version {
                        return Err(Conflict::VersionChanged {
                            record: *record,
                            expected: *version,
                            actual,
                        }
                        .into());
                    }
                }
                Precondition::EventNew { event, digest } => match self.events.get(&(t, *event)) {
                    Some(d) if d == digest => return Err(Conflict::EventApplied(*event).into()),
                    Some(_) => return Err(Conflict::EventPayloadChanged(*event).into()),
                    None => {}
                },
                Precondition::RecordAbsent { record } => {
                    if self.contains(record) {
                        return Err(Conflict::RecordExists(*record).into());
                    }
                }
                Precondition::TicketId { ticket, records } => {
                    if self.ids_by_ticket(t, ticket.as_str()) != *records {
                        return Err(Conflict::TicketChanged.into());
                    }
                }
            }
        }
        // Effects must name records that exist (or that the plan creates
        // first) in the plan's tenant, so that applying cannot fail halfway.
        let mut created: HashSet<RecordId> = HashSet::new();
        let mut retired: HashSet<RecordId> = HashSet::new();
        for e in &plan.effects {
            let known = |id: &RecordId| {
                !retired.contains(id) && (created.contains(id) || self.get(t, *id).is_some())
            };
            match e {
                Effect::CreateRecord { record } => {
                    if record.tenant != t {
                        return Err(ApplyError::InvalidPlan("record of another tenant"));
                    }
                    if self.contains(&record.id) || !created.insert(record.id) {
                        return Err(Conflict::RecordExists(record.id).into());
                    }
                }
                Effect::UpdateRecord { record, .. }
                | Effect::Link { record, .. }
                | Effect::AddCampaignMember { record, .. } => {
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
                Effect::Unlink { .. } | Effect::UpdateSubject { .. } => {}
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
            Effect::UpdateRecord { record, changes } => {
                let Some(slot) = self.slots.get(record).map(|s| *s as usize) else {
                    return;
                };
                let Some(mut r) = self.records.get(slot).cloned() else {
                    return;
                };
                let reindex = changes
                    .iter()
                    .any(|c| matches!(c.field.as_str(), FieldName::EMAIL | FieldName::TICKET_ID));
                if reindex {
                    self.unindex(&r, n);
                }
                for c in changes {
                    r.fields.set(c.field.clone(), c.new.clone());
                }
                r.version += 1;
                if reindex {
                    self.index(&r, n);
                }
                if let Some(s) = self.records.get_mut(slot) {
                    *s = r;
                }
            }
            Effect::Link { subject, record } => {
                self.links.insert((t, *subject), *record);
            }
            Effect::Unlink { subject, record } => {
                if self.links.get(&(t, *subject)) == Some(record) {
                    self.links.remove(&(t, *subject));
                }
            }
            Effect::AddCampaignMember { record, campaign } => {
                self.campaigns.insert((t, campaign.clone(), *record));
            }
            Effect::MergeRecord { record, into } => self.merge(t, *record, *into, n),
            // The registration's data lives in the host (A20).
            Effect::UpdateSubject { .. } => {}
        }
    }

    /// B9: removes `record`, moving its links and campaign memberships to `into`.
    fn merge(&mut self, t: TenantId, record: RecordId, into: RecordId, n: &Normalization) {
        let Some(slot) = self.slots.remove(&record).map(|s| s as usize) else {
            return;
        };
        if slot >= self.records.len() {
            return;
        }
        let gone = self.records.swap_remove(slot);
        self.unindex(&gone, n);
        if let Some(moved) = self.records.get(slot) {
            // The last record took the freed slot.
            if let Ok(s) = u32::try_from(slot) {
                self.slots.insert(moved.id, s);
            }
        }
        for (_, r) in self
            .links
            .iter_mut()
            .filter(|((lt, _), r)| *lt == t && **r == record)
        {
            *r = into;
        }
        let moved: Vec<CampaignId> = self
            .campaigns
            .iter()
            .filter(|(ct, _, r)| *ct == t && *r == record)
            .map(|(_, c, _)| c.clone())
            .collect();
        for c in moved {
            self.campaigns.remove(&(t, c.clone(), record));
            self.campaigns.insert((t, c, into));
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

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic elsewhere cannot leave `Inner` half-applied: apply checks
        // everything before it mutates. So a poisoned lock is still sound.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an existing record (seeding the store).
    pub fn insert(&self, record: Record) -> Result<(), InsertError> {
        self.write().add(record, &self.normalization)
    }

    /// Adds many records; stops at the first duplicate id (the records
    /// before it stay).
    pub fn extend(&self, records: impl IntoIterator<Item = Record>) -> Result<(), InsertError> {
        let records = records.into_iter();
        let mut inner = self.write();
        let n = records.size_hint().0;
        inner.records.reserve(n);
        inner.slots.reserve(n);
        for record in records {
            inner.add(record, &self.normalization)?;
        }
        Ok(())
    }

    /// Number of records (all tenants).
    pub fn len(&self) -> usize {
        self.read().records.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records of `tenant`, sorted by id.
    pub fn records(&self, tenant: TenantId) -> Vec<Record> {
        let inner = self.read();
        let mut v: Vec<Record> = inner
            .records
            .iter()
            .filter(|r| r.tenant == tenant)
            .cloned()
            .collect();
        v.sort_by_key(|r| r.id);
        v
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
            .iter()
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
        let ids = inner.ids_by_key(tenant, key);
        Ok(ids
            .iter()
            .filter_map(|id| inner.get(tenant, *id).cloned())
            .collect())
    }

    fn record(&self, tenant: TenantId, id: RecordId) -> Result<Option<Record>, Infallible> {
        Ok(self.read().get(tenant, id).cloned())
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
        Ok(ids
            .iter()
            .filter_map(|id| inner.get(tenant, *id).cloned())
            .collect())
    }
}

impl ApplyPlan for InMemoryStore {
    type Error = Infallible;

    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
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
        Ok(())
    }
}
