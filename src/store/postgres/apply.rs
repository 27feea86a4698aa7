//! Applying a plan on PostgreSQL in one transaction of three round trips:
//!
//! 1. `BEGIN`, the locks and every read the preconditions and effects need,
//!    one statement per kind over arrays, sent together;
//! 2. (in the library) the preconditions checked against what was read,
//!    [`Plan::check_effects`], and the records' new states worked out;
//! 3. the writes, one statement per kind over arrays, and `COMMIT`, sent
//!    together: a write that fails aborts the transaction, so the `COMMIT`
//!    behind it rolls back.
//!
//! Every statement is prepared once per connection (the pool's statement
//! cache). Plans that delete, merge, restore, unlink or drop a campaign
//! membership (undo, B16) write their effects one after the other inside
//! the same transaction instead: their order matters there.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use super::*;

impl AsyncApplyPlan for PostgresStore {
    type Error = PostgresError;

    fn classify(&self, error: &PostgresError) -> ErrorClass {
        error.class()
    }

    async fn apply(&self, plan: &Plan) -> Result<(), ApplyError<PostgresError>> {
        // No span across the awaits (an entered span is not `Send`): the
        // result event says what happened.
        let result = self.apply_plan(plan).await;
        crate::telemetry::applied("postgres", &result);
        result
    }
}

/// A plan's locks above this many are one lock on the tenant instead, held
/// alone (see [`PostgresStore`]'s "Imports"): the server's lock table
/// (`max_locks_per_transaction`) never fills, whatever the plan's size.
pub(super) const MAX_KEY_LOCKS: usize = 256;

/// One statement of a round trip, sent when first polled.
type Step<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

/// A parameter list.
pub(super) type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

fn query<'a>(c: &'a ClientWrapper, s: &'a Statement, p: &'a [&'a (dyn ToSql + Sync)]) -> Step<'a> {
    Box::pin(c.query(s, p))
}

fn simple<'a>(c: &'a ClientWrapper, sql: &'static str) -> Step<'a> {
    Box::pin(async move { c.batch_execute(sql).await.map(|()| Vec::new()) })
}

/// Runs `steps` as one round trip: all are sent before any answer is read
/// (tokio-postgres pipelines the queries in flight on one connection, in
/// the order they are first polled), and the server runs them in order.
/// The first error is returned.
async fn round_trip(steps: Vec<Step<'_>>) -> Result<Vec<Vec<Row>>, tokio_postgres::Error> {
    futures_util::future::try_join_all(steps).await
}

/// The statements of `lookups` that are wanted (the flag), prepared and
/// run in one round trip outside a transaction: each answer in the order
/// given, `None` for a statement not wanted.
pub(super) async fn read_together(
    c: &ClientWrapper,
    lookups: &[(bool, &str, &Params<'_>)],
) -> Result<Vec<Option<Vec<Row>>>, tokio_postgres::Error> {
    let sent: Vec<&(bool, &str, &Params)> = lookups.iter().filter(|l| l.0).collect();
    let statements = prepared(c, &sent.iter().map(|l| l.1).collect::<Vec<_>>()).await?;
    let steps: Vec<Step> = statements
        .iter()
        .zip(&sent)
        .map(|(s, l)| query(c, s, l.2))
        .collect();
    let mut answers = round_trip(steps).await?.into_iter();
    Ok(lookups
        .iter()
        .map(|l| if l.0 { answers.next() } else { None })
        .collect())
}

/// The connection's cached statements for `sqls`, prepared in one round
/// trip when any is new to the connection.
pub(super) async fn prepared(
    c: &ClientWrapper,
    sqls: &[&str],
) -> Result<Vec<Statement>, tokio_postgres::Error> {
    futures_util::future::try_join_all(sqls.iter().map(|s| c.prepare_cached(s))).await
}

/// A pooled connection inside a transaction this module began: dropped
/// before [`Open::finish`] (the caller's future was cancelled, or a
/// rollback failed), it leaves the pool and closes, and the server rolls
/// the transaction back; it never returns to the pool mid-transaction.
pub(super) struct Open {
    pub(super) client: Option<deadpool_postgres::Client>,
}

impl Open {
    /// Back to the pool, the transaction over.
    pub(super) fn finish(mut self) {
        self.client.take();
    }

    /// Rolls back (the transaction may have ended already: a failed
    /// statement aborts it, and a `COMMIT` behind it rolls back).
    pub(super) async fn rollback(mut self) {
        if let Some(c) = self.client.take() {
            if c.batch_execute("ROLLBACK").await.is_err() {
                drop(deadpool_postgres::Object::take(c));
            }
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

impl PostgresStore {
    /// One chunk of an import, read inside its write transaction: `BEGIN`
    /// and the tenant's lock (alone) in one round trip, then the chunk's
    /// reads, its decision and its writes under that lock: no other apply
    /// in the tenant can change what the chunk read, so it never
    /// conflicts, however long it takes.
    pub(super) async fn import_chunk(
        &self,
        engine: &crate::Engine,
        events: &[crate::Event],
    ) -> Result<(Plan, Result<(), ApplyError<PostgresError>>), crate::PlanError<PostgresError>>
    {
        let needs = engine.needs_batch(events)?;
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| crate::PlanError::Store(e.into()))?;
        let open = Open {
            client: Some(client),
        };
        let planned = match open.client.as_deref() {
            Some(c) => self.locked_plan(c, engine, events, &needs).await,
            None => {
                return Err(crate::PlanError::Store(PostgresError::Config(
                    "no connection".into(),
                )))
            }
        };
        let plan = match planned {
            Ok(plan) => plan,
            Err(e) => {
                open.rollback().await;
                return Err(e);
            }
        };
        let applied = match open.client.as_deref() {
            Some(c) => apply_in(c, &plan, &self.normalization, &self.blocking, true).await,
            None => Ok(()),
        };
        match &applied {
            Ok(()) => open.finish(),
            Err(_) => open.rollback().await,
        }
        Ok((plan, applied))
    }

    /// `BEGIN` and the tenant's lock (alone) in one round trip, then the
    /// chunk's reads and its decision.
    async fn locked_plan(
        &self,
        c: &ClientWrapper,
        engine: &crate::Engine,
        events: &[crate::Event],
        needs: &crate::Needs,
    ) -> Result<Plan, crate::PlanError<PostgresError>> {
        let lock = tenant_lock(needs.tenant);
        let p_lock: Params = vec![&lock];
        let store = |e: tokio_postgres::Error| crate::PlanError::Store(PostgresError::from(e));
        let s = prepared(c, &[LOCK_TENANT]).await.map_err(store)?;
        let mut steps = vec![simple(c, "BEGIN")];
        steps.extend(s.iter().map(|s| query(c, s, &p_lock)));
        round_trip(steps).await.map_err(store)?;
        let candidates = super::fetch_on(c, needs)
            .await
            .map_err(crate::PlanError::Store)?;
        Ok(engine.decide_batch(events, &candidates)?)
    }

    /// [`AsyncApplyPlan::apply`], without the telemetry.
    async fn apply_plan(&self, plan: &Plan) -> Result<(), ApplyError<PostgresError>> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| ApplyError::Store(e.into()))?;
        let open = Open {
            client: Some(client),
        };
        let applied = match open.client.as_deref() {
            Some(c) => apply_in(c, plan, &self.normalization, &self.blocking, false).await,
            None => Ok(()),
        };
        match applied {
            Ok(()) => {
                open.finish();
                Ok(())
            }
            Err(e) => {
                open.rollback().await;
                Err(e)
            }
        }
    }
}

/// The advisory-lock number of an email key or ticket id in a tenant (one
/// 64-bit space; a collision only makes two applies take turns).
pub(super) fn lock_number(tenant: TenantId, kind: u8, value: &str) -> i64 {
    let mut bytes = Vec::with_capacity(17 + value.len());
    bytes.extend_from_slice(tenant.0.as_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(value.as_bytes());
    i64::from_ne_bytes(xxhash_rust::xxh3::xxh3_64(&bytes).to_ne_bytes())
}

/// The lock of a whole tenant: every apply holds it shared, an import
/// (a plan of more than [`MAX_KEY_LOCKS`] locks) alone.
pub(super) fn tenant_lock(tenant: TenantId) -> i64 {
    lock_number(tenant, 6, "")
}

/// Every email key, ticket id and event `plan` checks or writes, as lock
/// numbers, sorted, each once: what the preconditions read after taking
/// them cannot change before the commit.
pub(super) fn lock_keys(plan: &Plan, n: &Normalization, b: &Blocking) -> Vec<i64> {
    let t = plan.tenant;
    let mut locks: Vec<i64> = Vec::new();
    for p in &plan.preconditions {
        match p.observe() {
            Observe::EmailKey(key) => locks.push(lock_number(t, 0, key.as_str())),
            Observe::TicketId(ticket) => locks.push(lock_number(t, 1, ticket)),
            // A redelivery racing its first delivery waits for it, then
            // finds it applied.
            Observe::Event(event) => locks.push(lock_number(t, 2, &event.to_string())),
            Observe::BlockKey(key) => locks.push(lock_number(t, 3, key.as_str())),
            // B16: the links and memberships of a record, and each subject
            // whose link the plan relies on.
            Observe::Links(record) | Observe::Memberships(record) => {
                locks.push(lock_number(t, 4, &record.to_string()));
            }
            Observe::SubjectLink(subject) => locks.push(lock_number(t, 5, &subject.to_string())),
            Observe::Version(_) | Observe::Exists(_) | Observe::Fields(_) => {}
        }
        if let Precondition::Links { subjects, .. } = p {
            locks.extend(subjects.iter().map(|s| lock_number(t, 5, &s.to_string())));
        }
    }
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } => {
                for k in record.match_keys(n) {
                    locks.push(lock_number(t, 0, k.as_str()));
                }
                if let Some(ticket) = ticket_of(record) {
                    locks.push(lock_number(t, 1, &ticket));
                }
                for k in b.keys(&record.fields, n) {
                    locks.push(lock_number(t, 3, k.as_str()));
                }
            }
            Effect::UpdateRecord { changes, .. } => {
                for c in changes {
                    if c.field.as_str() == FieldName::EMAIL {
                        if let Ok(Some(k)) = EmailKey::parse(c.new.as_str(), n) {
                            locks.push(lock_number(t, 0, k.as_str()));
                        }
                    } else if c.field.as_str() == FieldName::EMAIL_ALIASES {
                        for a in crate::record::alias_list(c.new.as_str()) {
                            if let Ok(Some(k)) = EmailKey::parse(a, n) {
                                locks.push(lock_number(t, 0, k.as_str()));
                            }
                        }
                    } else if c.field.as_str() == FieldName::TICKET_ID && !c.new.is_blank() {
                        locks.push(lock_number(t, 1, c.new.as_str().trim()));
                    }
                }
            }
            // What a `Links` or `Memberships` precondition of another plan
            // checks cannot change before that plan commits.
            Effect::Link { subject, record } | Effect::Unlink { subject, record } => {
                locks.push(lock_number(t, 4, &record.to_string()));
                locks.push(lock_number(t, 5, &subject.to_string()));
            }
            Effect::AddCampaignMember { record, .. }
            | Effect::RemoveCampaignMember { record, .. }
            | Effect::DeleteRecord { record } => {
                locks.push(lock_number(t, 4, &record.to_string()));
            }
            Effect::MergeRecord { record, into } => {
                locks.push(lock_number(t, 4, &record.to_string()));
                locks.push(lock_number(t, 4, &into.to_string()));
            }
            _ => {}
        }
    }
    locks.sort_unstable();
    locks.dedup();
    locks
}

/// What the first round trip reads, by kind, each set once.
#[derive(Default)]
struct Wanted<'p> {
    keys: BTreeSet<&'p str>,
    tickets: BTreeSet<&'p str>,
    blocks: BTreeSet<&'p str>,
    events: BTreeSet<Uuid>,
    /// Read whole and locked (`FOR UPDATE`), in any tenant: versions,
    /// fields, ids taken, what the effects name, records to update.
    records: BTreeSet<Uuid>,
    links_of: BTreeSet<Uuid>,
    subjects: BTreeSet<Uuid>,
    members_of: BTreeSet<Uuid>,
}

impl<'p> Wanted<'p> {
    fn of(plan: &'p Plan) -> Self {
        let mut w = Wanted::default();
        for p in &plan.preconditions {
            match p.observe() {
                Observe::EmailKey(k) => {
                    w.keys.insert(k.as_str());
                }
                Observe::TicketId(t) => {
                    w.tickets.insert(t);
                }
                Observe::BlockKey(k) => {
                    w.blocks.insert(k.as_str());
                }
                Observe::Version(r) | Observe::Exists(r) | Observe::Fields(r) => {
                    w.records.insert(r.0);
                }
                Observe::Event(e) => {
                    w.events.insert(e.0);
                }
                Observe::Links(r) => {
                    w.links_of.insert(r.0);
                }
                Observe::SubjectLink(s) => {
                    w.subjects.insert(s.0);
                }
                Observe::Memberships(r) => {
                    w.members_of.insert(r.0);
                }
            }
        }
        // A record the plan names first by creating it is not read: if its
        // id is taken after all, the insert fails and reports it
        // (`write_err`), as `check_effects` would have.
        let mut created_first: BTreeSet<RecordId> = BTreeSet::new();
        let mut named: BTreeSet<RecordId> = BTreeSet::new();
        for e in &plan.effects {
            if let Effect::CreateRecord { record } = e {
                if !named.contains(&record.id) {
                    created_first.insert(record.id);
                }
            }
            named.extend(e.names());
        }
        w.records.extend(
            named
                .iter()
                .filter(|r| !created_first.contains(r))
                .map(|r| r.0),
        );
        w
    }
}

/// What the first round trip read.
#[derive(Default)]
struct Seen {
    by_key: HashMap<String, Vec<RecordId>>,
    by_ticket: HashMap<String, Vec<RecordId>>,
    by_block: HashMap<String, Vec<RecordId>>,
    digests: HashMap<Uuid, EventDigest>,
    /// In any tenant.
    records: HashMap<RecordId, Record>,
    links_of: HashMap<RecordId, Vec<SubjectId>>,
    subjects: HashMap<SubjectId, RecordId>,
    members_of: HashMap<RecordId, Vec<CampaignMember>>,
}

/// Groups `(value, id)` rows by value, each group sorted and deduplicated.
fn ids_by_value(rows: &[Row]) -> Result<HashMap<String, Vec<RecordId>>, tokio_postgres::Error> {
    let mut out: HashMap<String, Vec<RecordId>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get(0)?)
            .or_default()
            .push(RecordId::new(r.try_get(1)?));
    }
    for ids in out.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    Ok(out)
}

impl Seen {
    fn observe(&self, tenant: TenantId, what: Observe<'_>) -> Observed<'_> {
        const NONE: &[RecordId] = &[];
        let here = |id: RecordId| self.records.get(&id).filter(|r| r.tenant == tenant);
        match what {
            Observe::EmailKey(k) => {
                Observed::Records(self.by_key.get(k.as_str()).map_or(NONE, |v| v))
            }
            Observe::TicketId(t) => Observed::Records(self.by_ticket.get(t).map_or(NONE, |v| v)),
            Observe::BlockKey(k) => {
                Observed::Records(self.by_block.get(k.as_str()).map_or(NONE, |v| v))
            }
            Observe::Version(id) => Observed::Version(here(id).map(|r| r.version)),
            Observe::Exists(id) => Observed::Exists(self.records.contains_key(&id)),
            Observe::Event(e) => Observed::Event(self.digests.get(&e.0)),
            Observe::Fields(id) => Observed::Fields(here(id).map(|r| &r.fields)),
            Observe::Links(id) => Observed::Subjects(self.links_of.get(&id).map_or(&[], |v| v)),
            Observe::SubjectLink(s) => Observed::Link(self.subjects.get(&s).copied()),
            Observe::Memberships(id) => {
                Observed::Memberships(self.members_of.get(&id).map_or(&[], |v| v))
            }
        }
    }
}

/// Whether `plan`'s effects can be written grouped by kind: creates,
/// updates, links and campaign memberships commute once folded per record,
/// subject and membership; the rest are written in order.
fn writes_by_kind(plan: &Plan) -> bool {
    plan.effects.iter().all(|e| {
        matches!(
            e,
            Effect::CreateRecord { .. }
                | Effect::UpdateRecord { .. }
                | Effect::Link { .. }
                | Effect::AddCampaignMember { .. }
                | Effect::UpdateSubject { .. }
        )
    })
}

/// The first round trip: `BEGIN`, the locks (the tenant's first), and the
/// reads of `w`.
async fn begin_and_read(
    c: &ClientWrapper,
    plan: &Plan,
    locks: &[i64],
    w: &Wanted<'_>,
    begun: bool,
) -> Result<Seen, tokio_postgres::Error> {
    let t = plan.tenant.0;
    let import = locks.len() > MAX_KEY_LOCKS;
    let tenant_lock = tenant_lock(plan.tenant);
    let keys: Vec<&str> = w.keys.iter().copied().collect();
    let tickets: Vec<&str> = w.tickets.iter().copied().collect();
    let blocks: Vec<&str> = w.blocks.iter().copied().collect();
    let events: Vec<Uuid> = w.events.iter().copied().collect();
    let records: Vec<Uuid> = w.records.iter().copied().collect();
    let links_of: Vec<Uuid> = w.links_of.iter().copied().collect();
    let subjects: Vec<Uuid> = w.subjects.iter().copied().collect();
    let members_of: Vec<Uuid> = w.members_of.iter().copied().collect();
    let p_tenant: Params = vec![&tenant_lock];
    let p_keys: Params = vec![&t, &keys];
    let p_tickets: Params = vec![&t, &tickets];
    let p_blocks: Params = vec![&t, &blocks];
    let p_events: Params = vec![&t, &events];
    let p_records: Params = vec![&records];
    let p_links: Params = vec![&t, &links_of];
    let p_subjects: Params = vec![&t, &subjects];
    let p_members: Params = vec![&t, &members_of];
    let p_both: Params = vec![&tenant_lock, &locks];
    let mut sent: Vec<(&str, &Params)> = vec![if import {
        (LOCK_TENANT, &p_tenant)
    } else if locks.is_empty() {
        (LOCK_TENANT_SHARED, &p_tenant)
    } else {
        (LOCK_TENANT_SHARED_AND_KEYS, &p_both)
    }];
    // Which answer is which: `None` for a read not sent.
    let mut slots = [None; 9];
    let reads: [(bool, &str, &Params); 9] = [
        (!keys.is_empty(), IDS_BY_EMAIL_KEYS, &p_keys),
        (!tickets.is_empty(), IDS_BY_TICKETS, &p_tickets),
        (!blocks.is_empty(), IDS_BY_BLOCKS, &p_blocks),
        (!events.is_empty(), DIGESTS_BY_IDS, &p_events),
        (!records.is_empty(), RECORDS_FOR_UPDATE, &p_records),
        (!links_of.is_empty(), SUBJECTS_BY_RECORDS, &p_links),
        (!subjects.is_empty(), LINKS_OF_SUBJECTS, &p_subjects),
        (!members_of.is_empty(), MEMBERSHIPS_BY_RECORDS, &p_members),
        (!keys.is_empty(), ALIAS_RECORDS, &p_keys),
    ];
    for (slot, (wanted, sql, params)) in slots.iter_mut().zip(reads) {
        if wanted {
            // After `BEGIN`, which is sent first (unless begun).
            *slot = Some(sent.len() + usize::from(!begun));
            sent.push((sql, params));
        }
    }
    let statements = prepared(c, &sent.iter().map(|(sql, _)| *sql).collect::<Vec<_>>()).await?;
    let mut steps: Vec<Step> = Vec::with_capacity(sent.len() + 1);
    if !begun {
        steps.push(simple(c, "BEGIN"));
    }
    for (statement, (_, params)) in statements.iter().zip(&sent) {
        steps.push(query(c, statement, params));
    }
    let answers = round_trip(steps).await?;
    let rows = |slot: Option<usize>| slot.and_then(|i| answers.get(i)).map_or(&[][..], |v| v);
    let by_key: Vec<Row> = rows(slots[0])
        .iter()
        .chain(rows(slots[8]))
        .cloned()
        .collect();
    let mut seen = Seen {
        by_key: ids_by_value(&by_key)?,
        by_ticket: ids_by_value(rows(slots[1]))?,
        by_block: ids_by_value(rows(slots[2]))?,
        ..Seen::default()
    };
    for r in rows(slots[3]) {
        seen.digests
            .insert(r.try_get(0)?, EventDigest(r.try_get(1)?));
    }
    for r in rows(slots[4]) {
        // A record that cannot be read back counts as absent here; its
        // own reads report it.
        if let Ok(record) = to_record(r) {
            seen.records.insert(record.id, record);
        }
    }
    for r in rows(slots[5]) {
        seen.links_of
            .entry(RecordId::new(r.try_get(0)?))
            .or_default()
            .push(SubjectId::new(r.try_get(1)?));
    }
    for v in seen.links_of.values_mut() {
        v.sort_unstable();
    }
    for r in rows(slots[6]) {
        seen.subjects
            .insert(SubjectId::new(r.try_get(0)?), RecordId::new(r.try_get(1)?));
    }
    for r in rows(slots[7]) {
        let record = RecordId::new(r.try_get(0)?);
        seen.members_of
            .entry(record)
            .or_default()
            .push(CampaignMember {
                campaign: CampaignId(r.try_get(1)?),
                record,
                ticket: r.try_get::<_, Option<String>>(2)?.map(FieldValue::from),
            });
    }
    Ok(seen)
}

/// Applies `plan` on `c`: in a transaction of its own, or (`begun`) in
/// the one `c` is in, whose locks are held already.
pub(super) async fn apply_in(
    c: &ClientWrapper,
    plan: &Plan,
    n: &Normalization,
    b: &Blocking,
    begun: bool,
) -> Result<(), ApplyError<PostgresError>> {
    let locks = lock_keys(plan, n, b);
    let wanted = Wanted::of(plan);
    let seen = begin_and_read(c, plan, &locks, &wanted, begun)
        .await
        .map_err(store_err)?;
    for p in &plan.preconditions {
        p.check(seen.observe(plan.tenant, p.observe()))?;
    }
    // Every effect names a record the tenant holds (or that the plan
    // creates first), read after the locks are held: a plan that deletes
    // or merges a named record holds its lock too, so what is read stays
    // true until this plan commits.
    plan.check_effects(MAX_VERSION, |id| {
        Ok::<_, PostgresError>(seen.records.get(&id).map(|r| Held {
            tenant: r.tenant,
            version: r.version,
        }))
    })?;
    let import = locks.len() > MAX_KEY_LOCKS;
    if writes_by_kind(plan) {
        Writes::of(plan, seen.records)?
            .send(c, plan, n, b, import)
            .await
    } else {
        in_order(c, plan, n, b, import).await?;
        Writes::tail(plan).send(c, plan, n, b, import).await
    }
}

/// The writes of a plan, one statement per kind.
#[derive(Default)]
struct Writes {
    /// Records created, as the plan leaves them (an update of a record the
    /// plan creates is folded into its creation).
    created: Vec<Record>,
    /// Records updated, as the plan leaves them, with whether their email
    /// or aliases changed.
    updated: BTreeMap<RecordId, (Record, bool)>,
    links: BTreeMap<SubjectId, RecordId>,
    members: BTreeMap<(String, RecordId), Option<String>>,
    /// The plan's new events and their digests.
    events: Vec<(Uuid, Uuid)>,
    history: Vec<HistoryEntry>,
}

impl Writes {
    /// Only what every plan writes at its end: its events and history.
    fn tail(plan: &Plan) -> Self {
        let mut w = Writes::default();
        for p in &plan.preconditions {
            if let Precondition::EventNew { event, digest } = p {
                w.events.push((event.0, digest.0));
            }
        }
        w.history = plan.history();
        w
    }

    /// Folds `plan`'s effects (creates, updates, links, memberships) over
    /// the records read for it.
    fn of(
        plan: &Plan,
        mut read: HashMap<RecordId, Record>,
    ) -> Result<Self, ApplyError<PostgresError>> {
        let mut w = Writes::tail(plan);
        let mut created_at: HashMap<RecordId, usize> = HashMap::new();
        for e in &plan.effects {
            match e {
                Effect::CreateRecord { record } => {
                    created_at.insert(record.id, w.created.len());
                    w.created.push(record.clone());
                }
                Effect::UpdateRecord { record, changes } => {
                    let rekeys = changes.iter().any(|c| {
                        matches!(
                            c.field.as_str(),
                            FieldName::EMAIL | FieldName::EMAIL_ALIASES
                        )
                    });
                    let r = if let Some(&i) = created_at.get(record) {
                        w.created
                            .get_mut(i)
                            .ok_or(ApplyError::InvalidPlan("effect names an unknown record"))?
                    } else {
                        let entry = match w.updated.entry(*record) {
                            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                            std::collections::btree_map::Entry::Vacant(v) => {
                                let r = read
                                    .remove(record)
                                    .filter(|r| r.tenant == plan.tenant)
                                    .ok_or(ApplyError::InvalidPlan(
                                        "effect names an unknown record",
                                    ))?;
                                v.insert((r, false))
                            }
                        };
                        entry.1 |= rekeys;
                        &mut entry.0
                    };
                    for c in changes {
                        r.fields.set(c.field.clone(), c.new.clone());
                    }
                    r.version = r
                        .version
                        .checked_add(1)
                        .filter(|&v| stored_version(v).is_some())
                        .ok_or(ApplyError::VersionOverflow(r.id))?;
                }
                Effect::Link { subject, record } => {
                    w.links.insert(*subject, *record);
                }
                Effect::AddCampaignMember {
                    record,
                    campaign,
                    ticket,
                } => {
                    let t = w.members.entry((campaign.0.clone(), *record)).or_default();
                    if let Some(ticket) = ticket {
                        *t = Some(ticket.as_str().to_owned());
                    }
                }
                _ => {}
            }
        }
        Ok(w)
    }

    /// The last round trip: the writes, then `COMMIT`.
    async fn send(
        self,
        c: &ClientWrapper,
        plan: &Plan,
        n: &Normalization,
        b: &Blocking,
        import: bool,
    ) -> Result<(), ApplyError<PostgresError>> {
        let t = plan.tenant;
        let rows = Rows::of(&self, t, n, b, import)?;
        let tenant = t.0;
        let r = &rows;
        let p_locks: Params = vec![&r.locks];
        let p_insert: Params = vec![
            &r.c_ids,
            &tenant,
            &r.c_types,
            &r.c_keys,
            &r.c_tickets,
            &r.c_fields,
            &r.c_versions,
        ];
        let p_update: Params = vec![
            &r.u_ids,
            &r.u_keys,
            &r.u_tickets,
            &r.u_fields,
            &r.u_versions,
        ];
        let p_unalias: Params = vec![&r.unalias];
        let p_alias: Params = vec![&tenant, &r.alias_keys, &r.alias_records];
        let p_unblock: Params = vec![&r.unblock];
        let p_block: Params = vec![&tenant, &r.block_keys, &r.block_records];
        let p_links: Params = vec![&tenant, &r.link_subjects, &r.link_records];
        let p_members: Params = vec![&tenant, &r.m_campaigns, &r.m_records, &r.m_tickets];
        let p_events: Params = vec![&tenant, &r.e_ids, &r.e_digests];
        let p_history: Params = vec![
            &tenant,
            &r.h_records,
            &r.h_fields,
            &r.h_old,
            &r.h_new,
            &r.h_events,
            &r.h_rules,
            &r.h_submitters,
        ];
        let writes: [(bool, &str, &Params); 11] = [
            (!r.locks.is_empty(), LOCK_KEYS, &p_locks),
            (!r.c_ids.is_empty(), INSERT_RECORDS, &p_insert),
            (!r.u_ids.is_empty(), UPDATE_RECORDS, &p_update),
            (!r.unalias.is_empty(), DELETE_ALIASES_OF_RECORDS, &p_unalias),
            (!r.alias_keys.is_empty(), INSERT_ALIASES, &p_alias),
            (!r.unblock.is_empty(), DELETE_BLOCKS_OF_RECORDS, &p_unblock),
            (!r.block_keys.is_empty(), INSERT_BLOCKS, &p_block),
            (!r.link_subjects.is_empty(), UPSERT_LINKS, &p_links),
            (!r.m_campaigns.is_empty(), UPSERT_MEMBERS, &p_members),
            (!r.e_ids.is_empty(), INSERT_EVENTS, &p_events),
            (!r.h_records.is_empty(), INSERT_HISTORY, &p_history),
        ];
        let sent: Vec<(&str, &Params)> = writes
            .into_iter()
            .filter(|(wanted, _, _)| *wanted)
            .map(|(_, sql, params)| (sql, params))
            .collect();
        let statements = prepared(c, &sent.iter().map(|(sql, _)| *sql).collect::<Vec<_>>())
            .await
            .map_err(store_err)?;
        let mut steps: Vec<Step> = Vec::with_capacity(sent.len() + 1);
        for (statement, (_, params)) in statements.iter().zip(&sent) {
            steps.push(query(c, statement, params));
        }
        steps.push(simple(c, "COMMIT"));
        round_trip(steps)
            .await
            .map(|_| ())
            .map_err(|e| write_err(e, plan))
    }
}

/// [`Writes`] as the arrays its statements bind.
#[derive(Default)]
struct Rows {
    /// Block keys updated records move into, to lock first (B19).
    locks: Vec<i64>,
    c_ids: Vec<Uuid>,
    c_types: Vec<&'static str>,
    c_keys: Vec<Option<String>>,
    c_tickets: Vec<Option<String>>,
    c_fields: Vec<String>,
    c_versions: Vec<i64>,
    u_ids: Vec<Uuid>,
    u_keys: Vec<Option<String>>,
    u_tickets: Vec<Option<String>>,
    u_fields: Vec<String>,
    u_versions: Vec<i64>,
    unalias: Vec<Uuid>,
    alias_keys: Vec<String>,
    alias_records: Vec<Uuid>,
    unblock: Vec<Uuid>,
    block_keys: Vec<String>,
    block_records: Vec<Uuid>,
    link_subjects: Vec<Uuid>,
    link_records: Vec<Uuid>,
    m_campaigns: Vec<String>,
    m_records: Vec<Uuid>,
    m_tickets: Vec<Option<String>>,
    e_ids: Vec<Uuid>,
    e_digests: Vec<Uuid>,
    h_records: Vec<Uuid>,
    h_fields: Vec<String>,
    h_old: Vec<Option<String>>,
    h_new: Vec<String>,
    h_events: Vec<Option<Uuid>>,
    h_rules: Vec<&'static str>,
    h_submitters: Vec<Option<&'static str>>,
}

impl Rows {
    fn of(
        w: &Writes,
        t: TenantId,
        n: &Normalization,
        b: &Blocking,
        import: bool,
    ) -> Result<Self, ApplyError<PostgresError>> {
        let mut r = Rows::default();
        let fields_of = |rec: &Record| {
            serde_json::to_string(&rec.fields)
                .map_err(|_| ApplyError::Store(PostgresError::Corrupt(rec.id)))
        };
        for rec in &w.created {
            r.c_ids.push(rec.id.0);
            r.c_types.push(type_name(rec.record_type));
            r.c_keys.push(rec.email_key(n).map(String::from));
            r.c_tickets.push(ticket_of(rec));
            r.c_fields.push(fields_of(rec)?);
            r.c_versions
                .push(stored_version(rec.version).ok_or(ApplyError::VersionOverflow(rec.id))?);
            for k in rec.alias_keys(n) {
                r.alias_keys.push(k.to_string());
                r.alias_records.push(rec.id.0);
            }
            for k in b.keys(&rec.fields, n) {
                r.block_keys.push(k.as_str().to_owned());
                r.block_records.push(rec.id.0);
            }
        }
        for (rec, rekeyed) in w.updated.values() {
            r.u_ids.push(rec.id.0);
            r.u_keys.push(rec.email_key(n).map(String::from));
            r.u_tickets.push(ticket_of(rec));
            r.u_fields.push(fields_of(rec)?);
            r.u_versions
                .push(stored_version(rec.version).ok_or(ApplyError::VersionOverflow(rec.id))?);
            if *rekeyed {
                r.unalias.push(rec.id.0);
                for k in rec.alias_keys(n) {
                    r.alias_keys.push(k.to_string());
                    r.alias_records.push(rec.id.0);
                }
            }
            if !b.is_empty() {
                // The keys the record moves into are locked before it is
                // written there: a plan that checked one of them (and
                // holds its lock) commits first, or sees it.
                r.unblock.push(rec.id.0);
                for k in b.keys(&rec.fields, n) {
                    if !import {
                        r.locks.push(lock_number(t, 3, k.as_str()));
                    }
                    r.block_keys.push(k.as_str().to_owned());
                    r.block_records.push(rec.id.0);
                }
            }
        }
        r.locks.sort_unstable();
        r.locks.dedup();
        for (subject, record) in &w.links {
            r.link_subjects.push(subject.0);
            r.link_records.push(record.0);
        }
        for ((campaign, record), ticket) in &w.members {
            r.m_campaigns.push(campaign.clone());
            r.m_records.push(record.0);
            r.m_tickets.push(ticket.clone());
        }
        for (event, digest) in &w.events {
            r.e_ids.push(*event);
            r.e_digests.push(*digest);
        }
        for h in &w.history {
            r.h_records.push(h.record.0);
            r.h_fields.push(h.field.as_str().to_owned());
            r.h_old.push(h.old.as_ref().map(|v| v.as_str().to_owned()));
            r.h_new.push(h.new.as_str().to_owned());
            r.h_events.push(h.event.map(|e| e.0));
            r.h_rules.push(h.rule.as_str());
            r.h_submitters
                .push(h.submitter.map(crate::event::Submitter::name));
        }
        Ok(r)
    }
}

/// A write's error as the apply reports it: a record id or event taken in
/// the meantime (by another tenant, or a racing redelivery) is a conflict.
fn write_err(pg: tokio_postgres::Error, plan: &Plan) -> ApplyError<PostgresError> {
    if connection_lost(&pg) {
        // The `COMMIT` was sent with the writes: it may have been
        // carried out before the connection went.
        return ApplyError::Store(PostgresError::CommitUnknown(pg));
    }
    let Some(db) = pg.as_db_error() else {
        return store_err(pg);
    };
    if *db.code() == SqlState::UNIQUE_VIOLATION {
        // "Key (id)=(…) already exists." / "Key (tenant, id)=(…, …) …"
        let named = db.detail().and_then(|d| {
            let inside = d.split_once(")=(")?.1.split_once(')')?.0;
            inside.rsplit(", ").next()?.parse::<Uuid>().ok()
        });
        match db.constraint() {
            Some("records_pkey") => {
                if let Some(id) = named {
                    return Conflict::RecordExists(RecordId::new(id)).into();
                }
                return Conflict::Serialization.into();
            }
            Some("events_pkey") => {
                let event = named.map(EventId::new).or_else(|| {
                    plan.preconditions.iter().find_map(|p| match p {
                        Precondition::EventNew { event, .. } => Some(*event),
                        _ => None,
                    })
                });
                if let Some(event) = event {
                    return ApplyError::Conflict(Conflict::EventApplied(event));
                }
            }
            _ => {}
        }
    }
    store_err(pg)
}

/// Indexes record `r` under its blocking keys (B19), replacing what it was
/// indexed under.
pub(super) async fn write_blocks<C: GenericClient>(
    c: &C,
    r: &Record,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), tokio_postgres::Error> {
    if b.is_empty() {
        return Ok(());
    }
    c.execute(DELETE_BLOCKS_OF_RECORD, &[&r.id.0]).await?;
    let keys: Vec<String> = b
        .keys(&r.fields, n)
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let records = vec![r.id.0; keys.len()];
    if !keys.is_empty() {
        c.execute(INSERT_BLOCKS, &[&r.tenant.0, &keys, &records])
            .await?;
    }
    Ok(())
}

/// Indexes record `r` under the keys of its aliases (B15), replacing what
/// it was indexed under.
pub(super) async fn write_aliases<C: GenericClient>(
    c: &C,
    r: &Record,
    n: &Normalization,
) -> Result<(), tokio_postgres::Error> {
    c.execute(DELETE_ALIASES_OF_RECORD, &[&r.id.0]).await?;
    let keys: Vec<String> = r.alias_keys(n).into_iter().map(String::from).collect();
    let records = vec![r.id.0; keys.len()];
    if !keys.is_empty() {
        c.execute(INSERT_ALIASES, &[&r.tenant.0, &keys, &records])
            .await?;
    }
    Ok(())
}

/// Record `id` of `tenant`, locked for the transaction.
pub(super) async fn get<C: GenericClient>(
    c: &C,
    tenant: TenantId,
    id: RecordId,
) -> Result<Option<Record>, ApplyError<PostgresError>> {
    let row = c
        .query_opt(RECORD_FOR_UPDATE, &[&id.0, &tenant.0])
        .await
        .map_err(store_err)?;
    row.as_ref()
        .map(to_record)
        .transpose()
        .map_err(ApplyError::Store)
}

/// The effects of a plan that deletes, merges, restores, unlinks or drops a
/// membership, written one after the other (their order matters); the
/// events and history follow in [`Writes::tail`].
async fn in_order(
    c: &ClientWrapper,
    plan: &Plan,
    n: &Normalization,
    b: &Blocking,
    import: bool,
) -> Result<(), ApplyError<PostgresError>> {
    let t = plan.tenant;
    let c: &tokio_postgres::Client = c;
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                let version =
                    stored_version(record.version).ok_or(ApplyError::VersionOverflow(record.id))?;
                let fields = serde_json::to_string(&record.fields)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(record.id)))?;
                let inserted = c
                    .execute(
                        INSERT_RECORD,
                        &[
                            &record.id.0,
                            &record.tenant.0,
                            &type_name(record.record_type),
                            &record.email_key(n).map(String::from),
                            &ticket_of(record),
                            &fields,
                            &version,
                        ],
                    )
                    .await
                    .map_err(store_err)?;
                if inserted == 0 {
                    return Err(Conflict::RecordExists(record.id).into());
                }
                write_aliases(c, record, n).await.map_err(store_err)?;
                write_blocks(c, record, n, b).await.map_err(store_err)?;
                if matches!(e, Effect::RestoreRecord { .. }) {
                    c.execute(DELETE_TOMBSTONE, &[&record.id.0])
                        .await
                        .map_err(store_err)?;
                }
            }
            Effect::DeleteRecord { record } => {
                delete_record(c, t, *record).await.map_err(store_err)?;
                for sql in [DELETE_LINKS_OF_RECORD, DELETE_MEMBERSHIPS_OF_RECORD] {
                    c.execute(sql, &[&t.0, &record.0])
                        .await
                        .map_err(store_err)?;
                }
            }
            Effect::RemoveCampaignMember { record, campaign } => {
                c.execute(DELETE_MEMBERSHIP, &[&t.0, &campaign.0, &record.0])
                    .await
                    .map_err(store_err)?;
            }
            Effect::UpdateRecord { record, changes } => {
                let Some(mut r) = get(c, t, *record).await? else {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                };
                for ch in changes {
                    r.fields.set(ch.field.clone(), ch.new.clone());
                }
                let version = r
                    .version
                    .checked_add(1)
                    .and_then(stored_version)
                    .ok_or(ApplyError::VersionOverflow(r.id))?;
                let fields = serde_json::to_string(&r.fields)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(r.id)))?;
                c.execute(
                    UPDATE_RECORD,
                    &[
                        &r.id.0,
                        &r.email_key(n).map(String::from),
                        &ticket_of(&r),
                        &fields,
                        &version,
                    ],
                )
                .await
                .map_err(store_err)?;
                let rekeys = changes.iter().any(|ch| {
                    matches!(
                        ch.field.as_str(),
                        FieldName::EMAIL | FieldName::EMAIL_ALIASES
                    )
                });
                if rekeys {
                    write_aliases(c, &r, n).await.map_err(store_err)?;
                }
                if !b.is_empty() {
                    // As in `Rows::of`: the keys the record moves into are
                    // locked before it is written there.
                    if !import {
                        let mut locks: Vec<i64> = b
                            .keys(&r.fields, n)
                            .iter()
                            .map(|k| lock_number(t, 3, k.as_str()))
                            .collect();
                        locks.sort_unstable();
                        c.execute(LOCK_KEYS, &[&locks]).await.map_err(store_err)?;
                    }
                    write_blocks(c, &r, n, b).await.map_err(store_err)?;
                }
            }
            Effect::Link { subject, record } => {
                c.execute(UPSERT_LINKS, &[&t.0, &vec![subject.0], &vec![record.0]])
                    .await
                    .map_err(store_err)?;
            }
            Effect::Unlink { subject, record } => {
                c.execute(UNLINK, &[&t.0, &subject.0, &record.0])
                    .await
                    .map_err(store_err)?;
            }
            Effect::AddCampaignMember {
                record,
                campaign,
                ticket,
            } => {
                c.execute(
                    UPSERT_MEMBERS,
                    &[
                        &t.0,
                        &vec![campaign.0.as_str()],
                        &vec![record.0],
                        &vec![ticket.as_ref().map(FieldValue::as_str)],
                    ],
                )
                .await
                .map_err(store_err)?;
            }
            Effect::MergeRecord { record, into } => {
                let tomb = tombstone_of(c, t, *record, *into).await?;
                let data = serde_json::to_string(&tomb)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(*record)))?;
                c.execute(
                    "INSERT INTO tombstones (record, tenant, data) VALUES ($1, $2, $3)
                     ON CONFLICT (record) DO UPDATE SET tenant = excluded.tenant, data = excluded.data",
                    &[&record.0, &t.0, &data],
                )
                .await
                .map_err(store_err)?;
                delete_record(c, t, *record).await.map_err(store_err)?;
                c.execute(MOVE_LINKS, &[&t.0, &record.0, &into.0])
                    .await
                    .map_err(store_err)?;
                c.execute(MOVE_MEMBERSHIPS, &[&t.0, &record.0, &into.0])
                    .await
                    .map_err(store_err)?;
                c.execute(DELETE_MEMBERSHIPS_OF_RECORD, &[&t.0, &record.0])
                    .await
                    .map_err(store_err)?;
            }
            // The registration's data lives in the host (A20).
            Effect::UpdateSubject { .. } => {}
        }
    }
    Ok(())
}
