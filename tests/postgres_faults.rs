//! B6, B7 on a PostgreSQL server that misbehaves: backends terminated
//! mid-run, the server restarted mid-run (a private server, so the other
//! tests keep theirs), statements and locks timing out. Every error is
//! classified ([`PostgresError::class`]); the workload retries transient
//! ones and redelivers after an unknown outcome, and the final state is
//! exactly what the events ask for: one record per email, every event
//! applied once, every subject linked to its email's record.
#![cfg(feature = "postgres")]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::pg::{runtime, url};
use contact_sync::*;
use contact_sync::{PostgresError, PostgresStore};

const T: TenantId = TenantId::from_u128(0xfa);

/// `url` with a query parameter added.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

fn schema() -> String {
    crate::common::pg::schema("faults")
}

async fn store_at(url: &str, schema: &str, connections: usize) -> PostgresStore {
    PostgresStore::connect_in_schema(url, schema, Normalization::default(), connections)
        .await
        .unwrap()
}

/// A side connection for the test's own statements.
async fn side(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn email(n: u32) -> String {
    // Two events per email: half of them match the record the other made.
    format!("guest{}@example.org", n / 2)
}

fn booking(n: u32) -> Event {
    Event::Registered(Registration::new(
        EventId::from_u128(u128::from(n) + 1),
        T,
        vec![Subject::attendee(
            SubjectId::from_u128(u128::from(n) + 1),
            Fields::from_pairs([("email", email(n).as_str()), ("first_name", "Guest")]),
        )],
    ))
}

/// Patient: faults last up to a few seconds (a restart).
fn policy() -> RetryPolicy {
    RetryPolicy::new(400).with_pauses(Duration::from_millis(5), Duration::from_millis(100))
}

/// Registers events `from..to` step `step`, retrying transient errors
/// (in the call) and redelivering after an unknown outcome; returns how
/// many unknown outcomes were met. Any other error fails the test.
async fn register(
    engine: Arc<Engine>,
    store: Arc<PostgresStore>,
    events: std::ops::Range<u32>,
    step: usize,
) -> usize {
    let mut unknown = 0;
    for n in events.step_by(step) {
        let ev = booking(n);
        loop {
            match engine.plan_and_apply_async(&*store, &ev, policy()).await {
                Ok(_) => break,
                Err(RetryError::OutcomeUnknown(ApplyError::Store(e))) => {
                    assert_eq!(e.class(), ErrorClass::OutcomeUnknown);
                    unknown += 1;
                }
                Err(e) => panic!("event {n}: {}", contact_sync::chain(&e)),
            }
        }
    }
    unknown
}

/// Runs `events` registrations on `workers` tasks while `fault` runs
/// beside them (until they are done), then checks the state exactly.
/// The final state is read through a store of its own on `verify` (URL and
/// schema), opened after the run: a connection the fault cut while idle is
/// not retried by a plain read.
async fn run_with<F, Fut>(
    store: Arc<PostgresStore>,
    verify: (&str, &str),
    workers: usize,
    events: u32,
    fault: F,
) where
    F: FnOnce(Arc<AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = usize> + Send + 'static,
{
    let engine = Arc::new(Engine::new(Policy::doo()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let faults = tokio::spawn(fault(done.clone()));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (engine, store) = (engine.clone(), store.clone());
        tasks.push(tokio::spawn(register(
            engine,
            store,
            w as u32..events,
            workers,
        )));
    }
    let mut unknown = 0;
    for t in tasks {
        unknown += t.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let injected = faults.await.unwrap();
    assert!(injected > 0, "the fault never struck");
    eprintln!("faults injected: {injected}; outcomes unknown, redelivered: {unknown}");
    check_exact(&store_at(verify.0, verify.1, 1).await, events).await;
}

/// One record per email, each event applied once, each subject linked to
/// its email's record.
async fn check_exact(store: &PostgresStore, events: u32) {
    let records = store.records(T).await.unwrap();
    let emails: BTreeSet<String> = records
        .iter()
        .map(|r| r.fields.text("email").to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..events).map(email).collect();
    assert_eq!(records.len(), expected.len(), "one record per email");
    assert_eq!(emails, expected);
    let mut applied = store.applied_events(T).await.unwrap();
    applied.sort();
    let all: Vec<EventId> = (0..events)
        .map(|n| EventId::from_u128(u128::from(n) + 1))
        .collect();
    assert_eq!(applied, all, "every event applied exactly once");
    for n in 0..events {
        let linked = store
            .link_of(T, SubjectId::from_u128(u128::from(n) + 1))
            .await
            .unwrap()
            .expect("every subject is linked");
        let record = records.iter().find(|r| r.id == linked).unwrap();
        assert_eq!(record.fields.text("email"), email(n));
    }
}

#[test]
fn b6_b7_postgres_backends_terminated_mid_run_end_in_the_exact_state() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let name = schema();
        let app = format!("contact_sync_{name}");
        let store = Arc::new(
            store_at(
                &with_param(&url, &format!("application_name={app}")),
                &name,
                4,
            )
            .await,
        );
        let killer = side(&url).await;
        run_with(store, (&url, &name), 4, 400, move |done| async move {
            let mut killed = 0;
            while !done.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(25)).await;
                let rows = killer
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = $1",
                        &[&app],
                    )
                    .await
                    .unwrap();
                killed += rows.len();
            }
            killed
        })
        .await;
    });
}

/// A backend terminated while it waits inside an apply reports a transient
/// error (nothing was committed), and the pool recovers: the next call
/// works.
#[test]
fn b6_a_terminated_connection_is_a_transient_error_and_the_pool_recovers() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let name = schema();
        let app = format!("contact_sync_{name}");
        let store = Arc::new(
            store_at(
                &with_param(&url, &format!("application_name={app}")),
                &name,
                1,
            )
            .await,
        );
        let engine = Engine::new(Policy::doo()).unwrap();
        let plan = engine.plan_async(&*store, &booking(0)).await.unwrap();
        // The apply waits on the table, locked away; its backend is
        // terminated while it waits.
        let locker = side(&url).await;
        locker
            .batch_execute(&format!(
                "BEGIN; LOCK TABLE {name}.records IN ACCESS EXCLUSIVE MODE"
            ))
            .await
            .unwrap();
        let waiting = {
            let (store, plan) = (store.clone(), plan.clone());
            tokio::spawn(async move { AsyncApplyPlan::apply(&*store, &plan).await })
        };
        let mut killed = 0;
        while killed == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            killed = locker
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    &[&app],
                )
                .await
                .unwrap()
                .len();
        }
        locker.batch_execute("ROLLBACK").await.unwrap();
        let err = waiting.await.unwrap().unwrap_err();
        let ApplyError::Store(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.class(), ErrorClass::Transient, "{e:?}");
        assert_eq!(e.code().map(|c| c.code()), Some("57P01"));
        AsyncApplyPlan::apply(&*store, &plan).await.unwrap();
        check_exact(&store, 1).await;
    });
}

/// A statement cancelled by `statement_timeout` (57014) and a lock not had
/// in `lock_timeout` (55P03) are transient; with the table locked away
/// now and then, the workload still ends in the exact state.
#[test]
fn b6_statement_and_lock_timeouts_are_transient_and_end_in_the_exact_state() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let name = schema();
        let setup = store_at(&url, &name, 1).await;
        drop(setup);
        let timed = |option: &str| with_param(&url, &format!("options=-c%20{option}"));
        let by_statement = store_at(&timed("statement_timeout%3D150"), &name, 2).await;
        let by_lock = store_at(&timed("lock_timeout%3D100"), &name, 2).await;
        let locker = side(&url).await;
        let lock_sql = format!("BEGIN; LOCK TABLE {name}.records IN ACCESS EXCLUSIVE MODE");
        // Each store's error, one at a time, with the table locked away.
        let engine = Engine::new(Policy::doo()).unwrap();
        for (store, code) in [(&by_statement, "57014"), (&by_lock, "55P03")] {
            locker.batch_execute(&lock_sql).await.unwrap();
            let err = engine.plan_async(store, &booking(0)).await.unwrap_err();
            locker.batch_execute("ROLLBACK").await.unwrap();
            let PlanError::Store(e) = err else {
                panic!("{err:?}")
            };
            assert_eq!(e.code().map(|c| c.code()), Some(code), "{e:?}");
            assert_eq!(e.class(), ErrorClass::Transient);
        }
        // The workload on both, the table locked for 300 ms every 100 ms.
        let store = Arc::new(by_statement);
        let other = Arc::new(by_lock);
        let helper = tokio::spawn(register(
            Arc::new(Engine::new(Policy::doo()).unwrap()),
            other,
            1..200,
            2,
        ));
        run_with(
            store.clone(),
            (&url, &name),
            2,
            200,
            move |done| async move {
                let mut held = 0;
                while !done.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    locker.batch_execute(&lock_sql).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    locker.batch_execute("ROLLBACK").await.unwrap();
                    held += 1;
                }
                held
            },
        )
        .await;
        helper.await.unwrap();
        check_exact(&store_at(&url, &name, 1).await, 200).await;
    });
}

/// A private server, started for this test (root and PostgreSQL's
/// binaries needed: CI has both), so restarting it disturbs no other test.
pub(crate) struct Private {
    pub(crate) dir: String,
    pub(crate) url: String,
}

impl Private {
    pub(crate) fn start() -> Option<Private> {
        Self::start_with(&[])
    }

    /// `.ci/postgres.sh` with `args` (`["tls"]`: TLS connections only).
    pub(crate) fn start_with(args: &[&str]) -> Option<Private> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh");
        let can = std::process::Command::new("sh")
            .args([
                "-c",
                "[ \"$(id -u)\" = 0 ] && ls -d /usr/lib/postgresql/*/bin",
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !can {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI restarts a private PostgreSQL server: run as root with PostgreSQL installed"
            );
            eprintln!("no private PostgreSQL server can be started: the restart test not run");
            return None;
        }
        let out = std::process::Command::new("bash")
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        let (dir, url) = line.trim().split_once(' ').unwrap();
        Some(Private {
            dir: dir.to_owned(),
            url: url.to_owned(),
        })
    }

    fn restart(&self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh");
        let out = std::process::Command::new("bash")
            .args([script, "restart", &self.dir])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh");
        let _ = std::process::Command::new("bash")
            .args([script, "stop", &self.dir])
            .output();
    }
}

#[test]
fn b6_b7_postgres_server_restarted_mid_run_ends_in_the_exact_state() {
    if url().is_none() {
        return;
    }
    let Some(server) = Private::start() else {
        return;
    };
    let server = Arc::new(server);
    runtime().block_on(async {
        let name = schema();
        let store = Arc::new(store_at(&server.url, &name, 4).await);
        let s = server.clone();
        let watched = store.clone();
        run_with(
            store,
            (&server.url, &name),
            4,
            400,
            move |done| async move {
                let mut restarts = 0;
                // Restart once some events are in, and again while the rest go.
                while !done.load(Ordering::SeqCst) && restarts < 2 {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    let applied = watched.applied_events(T).await.map_or(0, |e| e.len());
                    if applied > 50 * (restarts + 1) {
                        let s = s.clone();
                        tokio::task::spawn_blocking(move || s.restart())
                            .await
                            .unwrap();
                        restarts += 1;
                    }
                }
                restarts
            },
        )
        .await;
    });
}

/// What a host reads off an error: the SQLSTATE through
/// [`PostgresError::code`] and the class, without depending on the driver.
#[test]
fn b6_errors_carry_their_sqlstate_and_class() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let bad = PostgresStore::connect("not a url", Normalization::default(), 1).await;
        let Err(e) = bad else {
            panic!("connected to nothing")
        };
        assert!(matches!(e, PostgresError::Config(_)));
        assert_eq!(e.class(), ErrorClass::Permanent);
        let refused = PostgresStore::connect(
            "postgres://postgres@127.0.0.1:1/none?connect_timeout=2",
            Normalization::default(),
            1,
        )
        .await;
        let Err(e) = refused else {
            panic!("connected to port 1")
        };
        assert_eq!(e.class(), ErrorClass::Transient, "{e:?}");
        let _ = url;
    });
}

/// A store on the host's own pool, and on a `deadpool_postgres::Config`:
/// a pool that has no connection to give in time is a transient error.
#[test]
fn b6_a_host_pool_and_a_deadpool_config_connect_and_pool_waits_time_out() {
    use contact_sync::postgres_driver::deadpool_postgres as dp;
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let name = schema();
        let mut pg: contact_sync::postgres_driver::tokio_postgres::Config = url.parse().unwrap();
        pg.options(format!(
            "-c search_path={name} -c plan_cache_mode=force_custom_plan"
        ));
        side(&url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        let manager = dp::Manager::from_config(
            pg,
            contact_sync::postgres_driver::tokio_postgres::NoTls,
            dp::ManagerConfig::default(),
        );
        let pool = dp::Pool::builder(manager)
            .max_size(1)
            .runtime(dp::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_millis(50)))
            .build()
            .unwrap();
        let store = PostgresStore::from_pool(pool.clone(), Normalization::default())
            .await
            .unwrap();
        let engine = Engine::new(Policy::doo()).unwrap();
        engine
            .plan_and_apply_async(&store, &booking(0), 3)
            .await
            .unwrap();
        check_exact(&store, 1).await;
        // The host holds the only connection: the store's call times out.
        let held = pool.get().await.unwrap();
        let err = store.records(T).await.unwrap_err();
        assert!(matches!(err, PostgresError::Pool(_)), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Transient);
        drop(held);
        assert_eq!(store.records(T).await.unwrap().len(), 1);
        // The same tables through a deadpool configuration.
        let mut config = dp::Config::new();
        config.url = Some(url.clone());
        config.pool = Some(dp::PoolConfig::new(2));
        let again = PostgresConnect::deadpool(&config)
            .unwrap()
            .schema(&name)
            .unwrap()
            .connect()
            .await
            .unwrap();
        check_exact(&again, 1).await;
    });
}

/// The pid of the one backend of the store named `app`, if it has one.
async fn backend(side: &tokio_postgres::Client, app: &str) -> Vec<i32> {
    side.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
        &[&app],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// B6: an applied plan and a refused one both return their connection to
/// the pool, out of its transaction: the next call runs on the same
/// backend. An apply cancelled mid-transaction closes its connection
/// instead: no session is left idle in a transaction, holding locks.
#[test]
fn b6_applies_keep_their_connection_and_a_cancelled_one_leaves_no_open_transaction() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let name = schema();
        let app = format!("contact_sync_{name}");
        let store = Arc::new(
            store_at(
                &with_param(&url, &format!("application_name={app}")),
                &name,
                1,
            )
            .await,
        );
        let watch = side(&url).await;
        let engine = Engine::new(Policy::doo()).unwrap();
        let plan = engine.plan_async(&*store, &booking(0)).await.unwrap();
        AsyncApplyPlan::apply(&*store, &plan).await.unwrap();
        let first = backend(&watch, &app).await;
        assert_eq!(first.len(), 1);
        // A redelivered plan is refused (its event is applied) …
        let err = AsyncApplyPlan::apply(&*store, &plan).await.unwrap_err();
        assert!(matches!(err, ApplyError::Conflict(_)), "{err:?}");
        // … and the connection stays, idle, for the next call.
        let plan = engine.plan_async(&*store, &booking(1)).await.unwrap();
        AsyncApplyPlan::apply(&*store, &plan).await.unwrap();
        assert_eq!(backend(&watch, &app).await, first);
        // Cancelled while it waits on the table, locked away.
        let plan = engine.plan_async(&*store, &booking(2)).await.unwrap();
        watch
            .batch_execute(&format!(
                "BEGIN; LOCK TABLE {name}.records IN ACCESS EXCLUSIVE MODE"
            ))
            .await
            .unwrap();
        let waiting = {
            let (store, plan) = (store.clone(), plan.clone());
            tokio::spawn(async move { AsyncApplyPlan::apply(&*store, &plan).await })
        };
        let other = side(&url).await;
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let n = other
                .query(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = $1
                     AND wait_event_type = 'Lock'",
                    &[&app],
                )
                .await
                .unwrap()
                .len();
            if n > 0 {
                break;
            }
        }
        waiting.abort();
        assert!(waiting.await.unwrap_err().is_cancelled());
        watch.batch_execute("ROLLBACK").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let open = other
            .query(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = $1
                 AND state LIKE 'idle in transaction%'",
                &[&app],
            )
            .await
            .unwrap();
        assert!(
            open.is_empty(),
            "a cancelled apply left its transaction open"
        );
        // The pool opens a new connection, and the plan applies.
        AsyncApplyPlan::apply(&*store, &plan).await.unwrap();
        check_exact(&store_at(&url, &name, 1).await, 3).await;
    });
}
