//! The PostgreSQL store (feature `postgres`) on a real server: the whole
//! testkit, concurrency across connections, bulk lookups (B5, B6, B7, B8).
//!
//! Point the tests at a server with `CONTACT_SYNC_POSTGRES_URL`
//! (`postgres://user@host:port/database`); each test works in a schema of
//! its own. Without the variable the tests say so and pass, except in CI
//! (`CI` set), where a missing server fails them: `.ci/run` starts one.
#![cfg(feature = "postgres")]

use crate::common::pg::{runtime, schema, url};
use crate::common::*;
use contact_sync::Ready;
use contact_sync::*;
use contact_sync::{PostgresError, PostgresStore};

/// A fresh store in a schema of its own.
async fn fresh(url: &str, connections: usize) -> PostgresStore {
    let schema = schema("t");
    PostgresStore::connect_in_schema(url, &schema, Normalization::default(), connections)
        .await
        .unwrap()
}

/// A fresh store indexing `testkit::blocking()` (B19), so the block check
/// exercises its index.
#[cfg(feature = "testkit")]
async fn blocked(url: &str, connections: usize) -> PostgresStore {
    let mut s = fresh(url, connections).await;
    s.set_blocking(testkit::blocking()).await.unwrap();
    s
}

/// The async store behind the sync traits, for the testkit: each call is
/// driven to completion on the test's runtime (test code, not the library).
struct Blocking {
    store: PostgresStore,
    rt: tokio::runtime::Handle,
}

impl ContactStore for Blocking {
    type Error = PostgresError;
    fn normalization(&self) -> Normalization {
        AsyncContactStore::normalization(&self.store)
    }
    fn blocking(&self) -> contact_sync::linkage::Blocking {
        AsyncContactStore::blocking(&self.store)
    }
    fn records_by_block(
        &self,
        t: TenantId,
        k: &contact_sync::linkage::BlockKey,
    ) -> Result<Vec<Record>, PostgresError> {
        self.rt
            .block_on(AsyncContactStore::records_by_block(&self.store, t, k))
    }
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, PostgresError> {
        self.rt.block_on(self.store.records_by_email(t, k))
    }
    fn record_history(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<contact_sync::HistoryEntry>, PostgresError> {
        self.rt
            .block_on(AsyncContactStore::record_history(&self.store, t, r))
    }
    fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, PostgresError> {
        self.rt
            .block_on(AsyncContactStore::record(&self.store, t, id))
    }
    fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, PostgresError> {
        self.rt.block_on(self.store.records_by_ticket(t, ticket))
    }
    fn event_digest(&self, t: TenantId, e: EventId) -> Result<Option<EventDigest>, PostgresError> {
        self.rt
            .block_on(AsyncContactStore::event_digest(&self.store, t, e))
    }
    fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, PostgresError> {
        self.rt
            .block_on(AsyncContactStore::linked_subjects(&self.store, t, r))
    }
    fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, PostgresError> {
        self.rt
            .block_on(AsyncContactStore::campaign_memberships(&self.store, t, r))
    }
}

impl ApplyPlan for Blocking {
    type Error = PostgresError;
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<PostgresError>> {
        self.rt.block_on(AsyncApplyPlan::apply(&self.store, plan))
    }
}

impl UndoStore for Blocking {
    fn subject_link(&self, t: TenantId, s: SubjectId) -> Result<Option<RecordId>, PostgresError> {
        self.rt
            .block_on(AsyncUndoStore::subject_link(&self.store, t, s))
    }
    fn tombstone(&self, t: TenantId, r: RecordId) -> Result<Option<Tombstone>, PostgresError> {
        self.rt
            .block_on(AsyncUndoStore::tombstone(&self.store, t, r))
    }
}

#[cfg(feature = "testkit")]
#[test]
fn b6_postgres_store_passes_the_conformance_suite() {
    let Some(url) = url() else { return };
    let rt = runtime();
    let factory = || Blocking {
        store: rt.block_on(blocked(&url, 16)),
        rt: rt.handle().clone(),
    };
    if let Err(f) = testkit::run_all_undo(&factory) {
        panic!("{f:#?}");
    }
}

/// The async suite on the store itself: its concurrency check applies eight
/// racing plans as concurrent transactions on the pool's connections.
#[cfg(feature = "testkit")]
#[test]
fn b6_postgres_store_passes_the_async_conformance_suite() {
    let Some(url) = url() else { return };
    let factory = || blocked(&url, 8);
    if let Err(f) = runtime().block_on(testkit::run_all_undo_async(&factory)) {
        panic!("{f:#?}");
    }
}

/// B15 on PostgreSQL: an email change under retain keeps the old address
/// as an alias, a later registration with it finds the record, and the
/// bulk fetch (sans-IO) answers as the one-by-one lookups.
#[test]
fn b15_postgres_keeps_aliases_and_the_bulk_fetch_finds_them() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = fresh(&url, 4).await;
        store
            .insert(&contact(1, &[("email", "ann@old.example")]))
            .await
            .unwrap();
        let mut p = Policy::doo().with_sync(true);
        p.email_change = EmailChange::Retain;
        p.aliases.keep_old = true;
        let e = engine(p);
        let change = edit(
            1,
            attendee(10, &[("email", "ann@old.example")]).linked_to(rid(1)),
            &[("email", "ann@new.example")],
            EditSource::SelfService,
        );
        e.plan_and_apply_async(&store, &change, 3).await.unwrap();
        let ev = registration(2, vec![attendee(20, &[("email", "Ann@old.example")])]);
        let needs = e.needs(&ev).unwrap();
        let bulk = store.fetch(&needs).await.unwrap();
        let plan = e.plan_async(&store, &ev).await.unwrap();
        assert_eq!(e.decide(&ev, &bulk).unwrap(), plan);
        let o = outcome(&plan, 20);
        assert_eq!(o.record, Some(rid(1)), "{}", o.explanation());
        assert_rules(o, &[RuleId::B15]);
    });
}

#[test]
fn b5_b7_postgres_plans_applies_and_ignores_a_redelivery() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = fresh(&url, 4).await;
        store
            .insert(&contact(
                1,
                &[("email", "ann@example.org"), ("first_name", "Ann")],
            ))
            .await
            .unwrap();
        let e = engine(Policy::doo());
        let ev = registration(
            1,
            vec![
                booker(10, &[("email", "ANN@example.org"), ("phone", "1")]),
                attendee(11, &[("email", "bo@example.org")]),
                attendee(12, &[("email", "Bo@example.org")]),
            ],
        );
        let plan = e.plan_and_apply_async(&store, &ev, 3).await.unwrap();
        assert_eq!(plan.created().count(), 1, "one record for bo (B5)");
        assert_eq!(store.records(T).await.unwrap().len(), 2);
        assert_eq!(store.link_of(T, sid(10)).await.unwrap(), Some(rid(1)));
        assert_eq!(
            store.linked_subjects(T, rid(1)).await.unwrap(),
            vec![sid(10)]
        );
        let again = e.plan_async(&store, &ev).await.unwrap();
        assert!(again.is_empty(), "a redelivery plans nothing");
        // The bulk fetch answers what the one-by-one fetch does.
        let needs = e.needs(&ev).unwrap();
        let bulk = store.fetch(&needs).await.unwrap();
        assert_eq!(e.decide(&ev, &bulk).unwrap(), again);
    });
}

#[test]
fn b6_postgres_refuses_versions_it_cannot_hold() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = fresh(&url, 2).await;
        let mut big = contact(1, &[("email", "a@example.org")]);
        big.version = i64::MAX as u64 + 1;
        assert!(matches!(
            store.insert(&big).await,
            Err(PostgresError::VersionOutOfRange(r)) if r == rid(1)
        ));
        big.version = i64::MAX as u64;
        store.insert(&big).await.unwrap();
        let ev = registration(
            1,
            vec![attendee(
                10,
                &[("email", "a@example.org"), ("job_title", "x")],
            )],
        );
        let plan = engine(Policy::doo().with_sync(true))
            .plan_async(&store, &ev)
            .await
            .unwrap();
        let err = AsyncApplyPlan::apply(&store, &plan).await.unwrap_err();
        assert!(
            matches!(err, ApplyError::VersionOverflow(r) if r == rid(1)),
            "{err:?}"
        );
        assert_eq!(store.link_of(T, sid(10)).await.unwrap(), None);
    });
}

/// B6, B16: a plan that deletes or merges away a record and then creates
/// its id again is refused, and nothing of it is written.
#[test]
fn b6_b16_postgres_brings_back_no_id_a_plan_retires_itself() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        for plan in crate::store::retire_then_create() {
            let store = fresh(&url, 2).await;
            for r in crate::store::retire_seeds() {
                store.insert(&r).await.unwrap();
            }
            let err = AsyncApplyPlan::apply(&store, &plan).await.unwrap_err();
            assert!(
                matches!(err, ApplyError::Conflict(Conflict::RecordExists(r)) if r == rid(1)),
                "{err:?}"
            );
            let kept = AsyncContactStore::record(&store, T, rid(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(kept.fields.text("email"), "ann@example.org");
            assert_eq!(store.link_of(T, sid(10)).await.unwrap(), None);
        }
    });
}

/// B6: many connections racing to register one new email, round after
/// round: exactly one record per round.
#[test]
fn b6_concurrent_registrations_of_one_new_email_create_one_record_per_round() {
    let Some(url) = url() else { return };
    let rt = runtime();
    rt.block_on(async {
        let store = std::sync::Arc::new(fresh(&url, 8).await);
        let e = std::sync::Arc::new(engine(Policy::doo()));
        for round in 0..20u128 {
            let email = format!("race{round}@example.org");
            let mut tasks = Vec::new();
            for i in 0..8u128 {
                let (store, e, email) = (store.clone(), e.clone(), email.clone());
                tasks.push(tokio::spawn(async move {
                    let ev = registration(
                        round * 100 + i,
                        vec![attendee(round * 100 + i, &[("email", email.as_str())])],
                    );
                    e.plan_and_apply_async(&*store, &ev, 50).await
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            let key = EmailKey::parse(&email, &Normalization::default())
                .unwrap()
                .unwrap();
            let found = store.records_by_email(T, &key).await.unwrap();
            assert_eq!(found.len(), 1, "round {round}: {} records", found.len());
        }
    });
}

/// B7: a redelivered webhook racing its first delivery applies once.
#[test]
fn b7_a_redelivery_racing_its_first_delivery_applies_once() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = std::sync::Arc::new(fresh(&url, 8).await);
        let e = std::sync::Arc::new(engine(Policy::doo()));
        for round in 0..10u128 {
            let ev = registration(
                round + 1,
                vec![
                    attendee(
                        round * 10 + 1,
                        &[("email", format!("r{round}@example.org").as_str())],
                    ),
                    attendee(round * 10 + 2, &[("email", "shared@example.org")]),
                ],
            );
            let mut tasks = Vec::new();
            for _ in 0..6 {
                let (store, e, ev) = (store.clone(), e.clone(), ev.clone());
                tasks.push(tokio::spawn(async move {
                    e.plan_and_apply_async(&*store, &ev, 50).await
                }));
            }
            let plans: Vec<Plan> = futures_join(tasks).await;
            let applied = plans.iter().filter(|p| !p.is_empty()).count();
            assert_eq!(
                applied, 1,
                "round {round}: the event applied {applied} times"
            );
        }
        let records = store.records(T).await.unwrap();
        assert_eq!(records.len(), 11, "ten per-round emails and one shared");
    });
}

async fn futures_join(
    tasks: Vec<tokio::task::JoinHandle<Result<Plan, RetryError<PostgresError, PostgresError>>>>,
) -> Vec<Plan> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

const WORKER: &str = "CONTACT_SYNC_PG_WORKER";
const ROUNDS: u128 = 200;

/// One of the processes of the test below (a no-op when run on its own).
#[test]
fn worker_registers_one_new_email_per_round() {
    let (Ok(w), Ok(schema), Some(url)) = (
        std::env::var(WORKER),
        std::env::var("CONTACT_SYNC_PG_SCHEMA"),
        url(),
    ) else {
        return;
    };
    let w: u128 = w.parse().unwrap();
    runtime().block_on(async {
        let store = std::sync::Arc::new(
            PostgresStore::connect_in_schema(&url, &schema, Normalization::default(), 8)
                .await
                .unwrap(),
        );
        let e = std::sync::Arc::new(engine(Policy::doo()));
        for round in 0..ROUNDS {
            let mut tasks = Vec::new();
            for c in 0..8u128 {
                let (store, e) = (store.clone(), e.clone());
                let n = w * 1_000_000 + round * 100 + c;
                tasks.push(tokio::spawn(async move {
                    let email = format!("round{round}@example.org");
                    let ev = registration(n, vec![attendee(n, &[("email", email.as_str())])]);
                    e.plan_and_apply_async(&*store, &ev, 100).await
                }));
            }
            futures_join(tasks).await;
        }
    });
}

/// B6 across instances: 4 processes × 8 connections × 200 rounds, each
/// round registering one new email from every connection of every process:
/// exactly one record per round.
#[test]
fn b6_four_processes_share_one_database_one_record_per_round() {
    let Some(url) = url() else { return };
    if std::env::var_os(WORKER).is_some() {
        return;
    }
    let rt = runtime();
    let schema = schema("tprocs");
    let store = rt.block_on(async {
        PostgresStore::connect_in_schema(&url, &schema, Normalization::default(), 2)
            .await
            .unwrap()
    });
    let exe = std::env::current_exe().unwrap();
    let children: Vec<std::process::Child> = (0..4)
        .map(|w| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "postgres::worker_registers_one_new_email_per_round",
                    "--test-threads=1",
                ])
                .env(WORKER, w.to_string())
                .env("CONTACT_SYNC_PG_SCHEMA", &schema)
                .env("CONTACT_SYNC_POSTGRES_URL", &url)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a worker process failed");
    }
    rt.block_on(async {
        let records = store.records(T).await.unwrap();
        assert_eq!(records.len(), ROUNDS as usize, "one record per round");
        let emails: std::collections::BTreeSet<String> = records
            .iter()
            .map(|r| r.fields.text("email").to_owned())
            .collect();
        assert_eq!(emails.len(), ROUNDS as usize);
    });
}

/// A small deterministic generator (xorshift), so a failing workload can be
/// run again.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const POOL: [&str; 6] = [
    "ann@example.org",
    "bo@example.org",
    "cy@example.org",
    "dee@example.org",
    "eve@example.org",
    "flo@example.org",
];

/// One worker of the mixed workload: its own subjects (a host delivers one
/// subject's events in order), registered, edited (names, companies,
/// emails) and relinked by hand, each event planned and applied with
/// retries on conflict. Returns each event with the plan that committed.
async fn mixed_worker(
    store: &PostgresStore,
    e: &Engine,
    worker: u128,
    steps: u128,
) -> Vec<(Event, Plan)> {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ ((worker as u64 + 1) * 0x1000_0001));
    let mut subjects: Vec<Subject> = Vec::new();
    let mut out = Vec::new();
    for step in 0..steps {
        let id = eid(worker * 10_000 + step + 1);
        let company = format!("Co {}", dice.roll(5));
        let name = ["Ann", "Bo", "Cy", "Dee"][dice.roll(4)];
        let email = POOL[dice.roll(POOL.len())];
        let event = match (subjects.len() < 3, dice.roll(10)) {
            (true, _) | (false, 0) => {
                let subject = Subject::attendee(
                    sid(worker * 10_000 + step + 1),
                    fields(&[
                        ("email", email),
                        ("first_name", name),
                        ("company", &company),
                    ]),
                );
                Event::Registered({
                    let mut r = Registration::new(id, T, vec![subject]);
                    r.campaign = Some(CampaignId(format!("camp-{}", dice.roll(2))));
                    r
                })
            }
            (false, 1 | 2) => {
                let subject = subjects[dice.roll(subjects.len())].clone();
                let targets = store
                    .records_by_email(
                        T,
                        &EmailKey::parse(email, &Normalization::default())
                            .unwrap()
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                match targets.first() {
                    Some(to) => Event::Relinked(Relink::new(id, T, subject, to.id)),
                    None => continue,
                }
            }
            (false, roll) => {
                let subject = subjects[dice.roll(subjects.len())].clone();
                let mut new = vec![("company", company.as_str()), ("first_name", name)];
                if roll >= 7 {
                    new.push(("email", email));
                }
                edit(0, subject, &new, EditSource::Organizer { sync: Some(true) })
            }
        };
        let event = match event {
            Event::Edited(mut ed) => {
                ed.id = id;
                Event::Edited(ed)
            }
            other => other,
        };
        let plan = e
            .plan_and_apply_async(store, &event, 200)
            .await
            .unwrap_or_else(|x| panic!("worker {worker}, step {step}: {}", chain(&x)));
        // The host keeps its subjects: their data and links after the event.
        match &event {
            Event::Registered(r) => {
                let mut s = r.subjects[0].clone();
                s.link = plan.outcomes[0].record;
                subjects.push(s);
            }
            Event::Edited(ed) => {
                let s = subjects.iter_mut().find(|s| s.id == ed.subject.id).unwrap();
                s.fields = ed.merged_fields();
                s.link = plan.outcomes[0].record;
            }
            Event::Relinked(rl) => {
                let s = subjects.iter_mut().find(|s| s.id == rl.subject.id).unwrap();
                s.link = Some(rl.to);
            }
            _ => {}
        }
        out.push((event, plan));
    }
    out
}

/// Everything a tenant's records hold: the records, their linked subjects
/// and campaign memberships.
async fn state<S: AsyncContactStore>(
    s: &S,
    records: Vec<Record>,
) -> Vec<(Record, Vec<SubjectId>, Vec<CampaignMember>)> {
    let mut out = Vec::new();
    for r in records {
        let linked = s.linked_subjects(T, r.id).await.unwrap();
        let members = s.campaign_memberships(T, r.id).await.unwrap();
        out.push((r, linked, members));
    }
    out
}

/// B6, D8, D11, D12, D13: 8 workers on one database, 25 events each
/// (registrations, edits that change names, companies and emails, manual
/// relinks), with conflicts retried: the result equals the events replayed
/// one at a time in the order they committed, on the in-memory store, and
/// every event's committed plan is the plan the replay decides.
#[test]
fn b6_a_mixed_workload_equals_a_sequential_replay_of_its_commit_order() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = std::sync::Arc::new(fresh(&url, 8).await);
        let e = std::sync::Arc::new(engine(Policy::doo().with_sync(true)));
        let mut tasks = Vec::new();
        for w in 0..8u128 {
            let (store, e) = (store.clone(), e.clone());
            tasks.push(tokio::spawn(async move {
                mixed_worker(&store, &e, w, 25).await
            }));
        }
        let mut committed = std::collections::BTreeMap::new();
        for t in tasks {
            for (event, plan) in t.await.unwrap() {
                committed.insert(event.id(), (event, plan));
            }
        }
        let order = store.applied_events(T).await.unwrap();
        assert_eq!(order.len(), committed.len(), "every event applied once");

        let replay = InMemoryStore::new();
        for (n, id) in order.iter().enumerate() {
            let (event, plan) = &committed[id];
            let again = e.plan(&replay, event).unwrap();
            assert_eq!(
                &again, plan,
                "event {n} of the commit order: the replay decided another plan"
            );
            replay.apply(&again).unwrap();
        }
        let concurrent = state(&*store, store.records(T).await.unwrap()).await;
        let records = replay.records(T);
        let sequential = state(&Ready(replay), records).await;
        assert_eq!(concurrent, sequential);
        // The workload did what it says: records with several subjects,
        // email changes, relinks.
        let kinds = |f: fn(&Event) -> bool| committed.values().filter(|(e, _)| f(e)).count();
        assert!(kinds(|e| matches!(e, Event::Relinked(_))) > 5);
        assert!(
            kinds(|e| matches!(e, Event::Edited(ed) if !ed.new_fields.text("email").is_empty()))
                > 5
        );
        assert!(concurrent.iter().any(|(_, linked, _)| linked.len() > 2));
    });
}

/// B7: a schema-1 database (events without an order) migrates to schema 2;
/// its events come first in `applied_events`, new ones after them. B15:
/// schema 3 indexes the aliases its records already hold.
#[test]
fn b7_b15_schema_1_events_keep_their_place_and_aliases_are_indexed() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let schema = schema("tv1_");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.contact_sync_schema (version integer NOT NULL);
                 INSERT INTO {schema}.contact_sync_schema VALUES (1);
                 CREATE TABLE {schema}.events (
                     tenant uuid NOT NULL, id uuid NOT NULL, digest uuid NOT NULL,
                     PRIMARY KEY (tenant, id));
                 INSERT INTO {schema}.events VALUES
                     ('{t}', '{old}', '{old}');
                 CREATE TABLE {schema}.records (
                     id uuid PRIMARY KEY, tenant uuid NOT NULL, record_type text NOT NULL,
                     email_key text, ticket text, fields text NOT NULL, version bigint NOT NULL);
                 INSERT INTO {schema}.records VALUES
                     ('{r}', '{t}', 'contact', 'kit@example.org', NULL, '{fields}', 1);",
                t = T.0,
                old = eid(1).0,
                r = rid(7).0,
                fields = serde_json::to_string(&fields(&[
                    ("email", "kit@example.org"),
                    (FieldName::EMAIL_ALIASES, "Old.Kit@example.org"),
                ]))
                .unwrap(),
            ))
            .await
            .unwrap();
        let store = PostgresStore::connect_in_schema(&url, &schema, Normalization::default(), 2)
            .await
            .unwrap();
        assert_eq!(store.applied_events(T).await.unwrap(), vec![eid(1)]);
        let version: i32 = client
            .query_one(
                &format!("SELECT max(version) FROM {schema}.contact_sync_schema"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, PostgresStore::SCHEMA_VERSION);
        let alias = EmailKey::parse("old.kit@example.org", &Normalization::default())
            .unwrap()
            .unwrap();
        let found = AsyncContactStore::records_by_email(&store, T, &alias)
            .await
            .unwrap();
        assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [rid(7)]);
        // Applying records the next events after the migrated one.
        for id in [3, 2] {
            let p = {
                let mut p = Plan::new(T);
                p.events = vec![eid(id)];
                p.preconditions = vec![Precondition::EventNew {
                    event: eid(id),
                    digest: EventDigest(uuid::Uuid::from_u128(id)),
                }];
                p
            };
            AsyncApplyPlan::apply(&store, &p).await.unwrap();
        }
        assert_eq!(
            store.applied_events(T).await.unwrap(),
            vec![eid(1), eid(3), eid(2)]
        );
    });
}

/// B19 on PostgreSQL: the blocking is kept in the database (a store
/// connecting later indexes by it), records held before are indexed when
/// it is set, and the bulk fetch answers blocks as the one-by-one lookups.
#[test]
fn b19_postgres_indexes_blocks_and_the_bulk_fetch_finds_them() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let mut store = fresh(&url, 4).await;
        let ann = [
            ("email", "ann@old.example"),
            ("first_name", "Ann"),
            ("last_name", "Meyer"),
            ("date_of_birth", "1980-01-01"),
        ];
        store.insert(&contact(1, &ann)).await.unwrap();
        let e = engine(crate::record_linkage::policy());
        let ev = registration(
            2,
            vec![attendee(
                20,
                &[
                    ("email", "ann@new.example"),
                    ("first_name", "Ann"),
                    ("last_name", "Meyers"),
                    ("date_of_birth", "1980-01-01"),
                ],
            )],
        );
        // Not yet indexing the policy's blocking: refused, not guessed.
        assert!(matches!(
            e.plan_async(&store, &ev).await,
            Err(PlanError::Invalid(Error::BlockingMismatch))
        ));
        store
            .set_blocking(crate::record_linkage::blocking())
            .await
            .unwrap();
        let needs = e.needs(&ev).unwrap();
        let bulk = store.fetch(&needs).await.unwrap();
        let plan = e.plan_async(&store, &ev).await.unwrap();
        assert_eq!(e.decide(&ev, &bulk).unwrap(), plan);
        let o = outcome(&plan, 20);
        assert_eq!(o.record, Some(rid(1)), "{}", o.explanation());
        assert_rules(o, &[RuleId::B19]);
        e.plan_and_apply_async(&store, &ev, 3).await.unwrap();
    });
}

/// B17 on PostgreSQL: the field history reads back as the in-memory
/// store's for the same plans, oldest first, with events and rules.
#[test]
fn b17_postgres_keeps_the_field_history() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = fresh(&url, 4).await;
        let ann = [("email", "ann@example.org"), ("company", "Acme")];
        store.insert(&contact(1, &ann)).await.unwrap();
        let memory = store_with(vec![contact(1, &ann)]);
        let e = engine(Policy::doo().with_sync(true));
        for (n, company) in [(1, "Globex"), (2, "Initech")] {
            let ev = registration(
                n,
                vec![booker(
                    10,
                    &[("email", "ann@example.org"), ("company", company)],
                )],
            );
            e.plan_and_apply_async(&store, &ev, 3).await.unwrap();
            memory.apply(&e.plan(&memory, &ev).unwrap()).unwrap();
        }
        let h = AsyncContactStore::record_history(&store, T, rid(1))
            .await
            .unwrap();
        assert_eq!(h, memory.record_history(T, rid(1)).unwrap());
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].event, Some(eid(1)));
    });
}

/// B17: PostgreSQL passes the testkit's history check.
#[cfg(feature = "testkit")]
#[test]
fn b17_postgres_passes_field_history() {
    let Some(url) = url() else { return };
    let factory = || fresh(&url, 4);
    if let Err(f) = runtime().block_on(testkit::field_history_async(&factory)) {
        panic!("{f:#?}");
    }
}

/// B16: PostgreSQL passes the testkit's undo check through the async
/// traits.
#[cfg(feature = "testkit")]
#[test]
fn b16_postgres_passes_undo() {
    let Some(url) = url() else { return };
    let factory = || fresh(&url, 4);
    if let Err(f) = runtime().block_on(testkit::undo_async(&factory)) {
        panic!("{f:#?}");
    }
}

/// B16's property on PostgreSQL: registrations applied reversibly, then
/// their inverses in reverse order, leave the store as it was.
#[test]
fn b16_apply_then_inverse_restores_the_postgres_store() {
    use proptest::test_runner::{Config, TestRunner};
    let Some(url) = url() else { return };
    let rt = runtime();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (crate::undo::any_steps(), 0usize..4);
    runner
        .run(&strategy, |(steps, p)| {
            let store = Blocking {
                store: rt.block_on(fresh(&url, 2)),
                rt: rt.handle().clone(),
            };
            for r in crate::undo::seeds() {
                rt.block_on(store.store.insert(&r)).unwrap();
            }
            crate::undo::round_trip(&store, &crate::undo::policies()[p], &steps)
        })
        .unwrap();
}

/// B16's model on PostgreSQL: random plans of every effect applied
/// reversibly follow the undo model, and their inverses restore each state.
#[test]
fn b16_random_plans_and_their_inverses_follow_the_model_on_postgres() {
    use proptest::test_runner::{Config, TestRunner};
    let Some(url) = url() else { return };
    let rt = runtime();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&crate::undo_model::any_plans(), |plans| {
            let store = Blocking {
                store: rt.block_on(fresh(&url, 2)),
                rt: rt.handle().clone(),
            };
            for r in crate::undo_model::model_seeds() {
                rt.block_on(store.store.insert(&r)).unwrap();
            }
            crate::undo_model::model_round_trip(&store, &plans)
        })
        .unwrap();
}
