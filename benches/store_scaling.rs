//! How a registration's cost grows with the store: one-subject
//! registrations planned and applied (`plan_and_apply`, the path a host
//! runs per booking) on a store holding 1k and 100k records, for the
//! in-memory, SQLite and PostgreSQL stores. A flat line is the target
//! (issue 30: 100k within 1.5x of 1k); a lookup that walks the tenant
//! shows up here as a line rising with the store.
//!
//! `cargo bench --bench store_scaling --features sqlite,postgres`; the
//! PostgreSQL rows run when `CONTACT_SYNC_POSTGRES_URL` names a server
//! (each run works in a fresh schema).
//!
//! Also `undo_prepare`: the reversible apply's preparation of one
//! registration of 1,000 to 10,000 new subjects (B16).
//!
//! The registrations are those of `benches/common`: 60% match a record's
//! email (modulo case and spaces), 30% bring a new email, 10% none.

use std::time::{Duration, Instant};

use contact_sync::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod common;

const SIZES: [usize; 2] = [1_000, 100_000];

/// A source of fresh one-subject registrations (each a new event and a
/// new subject, so none is refused as applied): the emails are those of
/// the store's records, or new ones.
struct Registrations {
    emails: Vec<String>,
    rng: common::Rng,
    next: u128,
}

impl Registrations {
    fn new(records: &[Record]) -> Self {
        Registrations {
            emails: records
                .iter()
                .map(|r| r.fields.text(FieldName::EMAIL).trim().to_owned())
                .collect(),
            rng: common::Rng::new(7),
            next: 1 << 100,
        }
    }

    fn take(&mut self, n: u64) -> Vec<Event> {
        (0..n).map(|_| self.one()).collect()
    }

    fn one(&mut self) -> Event {
        self.next += 1;
        let r = self.rng.unit();
        let email = if r < 0.10 || self.emails.is_empty() {
            String::new()
        } else if r < 0.70 {
            let i = (self.rng.next() % self.emails.len() as u64) as usize;
            self.emails
                .get(i)
                .cloned()
                .unwrap_or_default()
                .to_uppercase()
        } else {
            format!("new{}@example.org", self.next)
        };
        let fields = Fields::from_pairs([("email", email.as_str()), ("first_name", "Ada")]);
        Event::Registered(Registration::new(
            EventId::from_u128(self.next),
            common::TENANT,
            vec![Subject::attendee(SubjectId::from_u128(self.next), fields)],
        ))
    }
}

/// A plan creating `records` (the store's fill, one transaction).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn load(records: &[Record]) -> Plan {
    Plan::new(common::TENANT).with_effects(records.iter().cloned().map(Effect::create_record))
}

fn engine() -> Engine {
    Engine::new(Policy::doo_external_master()).unwrap()
}

/// Times `iters` registrations, each planned and applied on `store`.
fn timed<S>(engine: &Engine, store: &S, events: &[Event]) -> Duration
where
    S: ContactStore + ApplyPlan,
    <S as ContactStore>::Error: std::fmt::Debug,
    <S as ApplyPlan>::Error: std::fmt::Debug,
{
    let start = Instant::now();
    for e in events {
        engine.plan_and_apply(store, e, 3).unwrap();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_scaling");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let engine = engine();
    for n in SIZES {
        let (records, _) = common::data(n, 0, RecordType::Contact);

        let memory = InMemoryStore::new();
        memory.extend(records.iter().cloned()).unwrap();
        let mut source = Registrations::new(&records);
        g.bench_function(BenchmarkId::new("memory", n), |b| {
            b.iter_custom(|iters| timed(&engine, &memory, &source.take(iters)))
        });

        #[cfg(feature = "sqlite")]
        {
            let dir = std::env::temp_dir().join(format!(
                "contact-sync-store-scaling-{}-{n}.db",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&dir);
            let sqlite = contact_sync::SqliteStore::open(&dir, Normalization::default()).unwrap();
            ApplyPlan::apply(&sqlite, &load(&records)).unwrap();
            let mut source = Registrations::new(&records);
            g.bench_function(BenchmarkId::new("sqlite", n), |b| {
                b.iter_custom(|iters| timed(&engine, &sqlite, &source.take(iters)))
            });
            drop(sqlite);
            let _ = std::fs::remove_file(&dir);
        }

        #[cfg(feature = "postgres")]
        postgres::bench(&mut g, &engine, n, &records);
    }
    g.finish();
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use contact_sync::PostgresStore;
    use criterion::measurement::WallTime;
    use criterion::BenchmarkGroup;

    pub fn bench(
        g: &mut BenchmarkGroup<'_, WallTime>,
        engine: &Engine,
        n: usize,
        records: &[Record],
    ) {
        let Ok(url) = std::env::var("CONTACT_SYNC_POSTGRES_URL") else {
            eprintln!("CONTACT_SYNC_POSTGRES_URL is not set: no PostgreSQL rows");
            return;
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let schema = format!("scaling_{}_{n}", std::process::id());
        let store = rt
            .block_on(PostgresStore::connect_in_schema(
                &url,
                &schema,
                Normalization::default(),
                2,
            ))
            .unwrap();
        for chunk in records.chunks(5_000) {
            rt.block_on(AsyncApplyPlan::apply(&store, &load(chunk)))
                .unwrap();
        }
        let mut source = Registrations::new(records);
        g.bench_function(BenchmarkId::new("postgres", n), |b| {
            b.iter_custom(|iters| {
                let events = source.take(iters);
                rt.block_on(async {
                    let start = Instant::now();
                    for e in &events {
                        engine.plan_and_apply_async(&store, e, 3).await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
}

/// `undo::prepare` (B16) of one registration of 1,000 to 10,000 new
/// subjects on the in-memory store: the inverse's preconditions are
/// deduplicated in linear time, so the cost per subject stays flat (it was
/// quadratic: 29 ms at 1,000 subjects, 647 ms at 8,000).
fn undo_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("undo_prepare");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let engine = engine();
    let (records, _) = common::data(10_000, 0, RecordType::Contact);
    let store = InMemoryStore::new();
    store.extend(records.iter().cloned()).unwrap();
    for subjects in [1_000_u128, 2_000, 4_000, 10_000] {
        let attendees = (0..subjects)
            .map(|i| {
                let email = format!("step{i}@example.org");
                Subject::attendee(
                    SubjectId::from_u128((1 << 90) + i),
                    Fields::from_pairs([("email", email.as_str())]),
                )
            })
            .collect();
        let event = Event::Registered(Registration::new(
            EventId::from_u128(1 << 90),
            common::TENANT,
            attendees,
        ));
        let plan = engine.plan(&store, &event).unwrap();
        g.throughput(criterion::Throughput::Elements(subjects as u64));
        g.bench_with_input(BenchmarkId::from_parameter(subjects), &plan, |b, plan| {
            b.iter(|| undo::prepare(&store, plan).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench, undo_step);
criterion_main!(benches);
