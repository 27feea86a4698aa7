//! Store build, `plan_batch` (with and without its sentences rendered) and the
//! streaming `dry_run` (on one thread and on every core) for n
//! registrations against n records, both presets, at 10k, 100k and 1M.
//!
//! `cargo bench --bench batch` (add `CONTACT_SYNC_BENCH_10M=1` for 10M).

use std::time::Duration;

use contact_sync::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

/// The allocator of the benchmark, as of `match_csv`: see `mimalloc` in
/// Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn presets() -> Vec<(&'static str, Policy)> {
    let mut sf = Policy::salesforce(RecordType::Contact);
    sf.fields.unmapped_as_form_fields = true;
    vec![("doo", Policy::doo_external_master()), ("salesforce", sf)]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    for n in common::sizes() {
        let (records, events) = common::data(n, n, RecordType::Contact);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new("store_build", n),
            &records,
            |b, records| {
                b.iter(|| {
                    let store = InMemoryStore::new();
                    store.extend(records.iter().cloned()).unwrap();
                    store
                })
            },
        );
        let store = InMemoryStore::new();
        store.extend(records.iter().cloned()).unwrap();
        for (name, policy) in presets() {
            // The plan (reasons as data, no sentence formatted), and the plan
            // with every outcome's sentences rendered after deciding (what a
            // host that writes them all pays).
            let engine = Engine::new(policy.clone()).unwrap();
            g.bench_with_input(
                BenchmarkId::new(format!("plan_batch_{name}"), n),
                &events,
                |b, events| b.iter(|| engine.plan_batch(&store, events).unwrap()),
            );
            g.bench_with_input(
                BenchmarkId::new(format!("plan_batch_{name}_explained"), n),
                &events,
                |b, events| {
                    b.iter(|| {
                        let plan = engine.plan_batch(&store, events).unwrap();
                        let bytes: usize =
                            plan.outcomes.iter().map(|o| o.explanation().len()).sum();
                        (plan, bytes)
                    })
                },
            );
            // The streaming dry run `match_csv` uses: no plan held, nothing
            // kept the batch does not change.
            g.bench_with_input(
                BenchmarkId::new(format!("dry_run_{name}"), n),
                &events,
                |b, events| {
                    b.iter(|| {
                        let mut outcomes = 0usize;
                        engine
                            .dry_run(&store, events, |d| outcomes += d.outcomes.len())
                            .unwrap();
                        outcomes
                    })
                },
            );
            // The same on every core (`match_csv`'s default).
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            g.bench_with_input(
                BenchmarkId::new(format!("dry_run_threads_{name}"), n),
                &events,
                |b, events| {
                    b.iter(|| {
                        let mut outcomes = 0usize;
                        engine
                            .dry_run_threads(&store, events, threads, |d| {
                                outcomes += d.outcomes.len()
                            })
                            .unwrap();
                        outcomes
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
