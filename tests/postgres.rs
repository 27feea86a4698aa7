//! The PostgreSQL store (feature `postgres`) on a real server: the whole
//! testkit, concurrency across connections, bulk lookups (B5, B6, B7, B8).
//!
//! Point the tests at a server with `CONTACT_SYNC_POSTGRES_URL`
//! (`postgres://user@host:port/database`); each test works in a schema of
//! its own. Without the variable the tests say so and pass, except in CI
//! (`CI` set), where a missing server fails them: `.ci/run` starts one.
#![cfg(feature = "postgres")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use contact_sync::store::postgres::{PostgresError, PostgresStore};
use contact_sync::*;

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// The server's URL, or `None` (outside CI) when none is configured.
fn url() -> Option<String> {
    match std::env::var("CONTACT_SYNC_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the PostgreSQL tests: set CONTACT_SYNC_POSTGRES_URL (.ci/run starts a server)")
        }
        _ => {
            eprintln!("CONTACT_SYNC_POSTGRES_URL is not set: PostgreSQL tests not run");
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh store in a schema of its own.
async fn fresh(url: &str, connections: usize) -> PostgresStore {
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    let schema = format!("t{}_{n}", std::process::id());
    PostgresStore::connect_in_schema(url, &schema, Normalization::default(), connections)
        .await
        .unwrap()
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
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, PostgresError> {
        self.rt.block_on(self.store.records_by_email(t, k))
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

#[cfg(feature = "testkit")]
#[test]
fn b6_postgres_store_passes_the_conformance_suite() {
    let Some(url) = url() else { return };
    let rt = runtime();
    let factory = || Blocking {
        store: rt.block_on(fresh(&url, 16)),
        rt: rt.handle().clone(),
    };
    if let Err(f) = testkit::run_all(&factory) {
        panic!("{f:#?}");
    }
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
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    let schema = format!("t{}_procs{n}", std::process::id());
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
                    "worker_registers_one_new_email_per_round",
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
