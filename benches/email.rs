//! Email key normalization throughput (B1), ASCII and non-ASCII.
//!
//! `cargo bench --bench email`

use contact_sync::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let ascii: Vec<String> = (0..10_000)
        .map(|i| format!(" Anna.Muller{i}@Example{}.COM ", i % 97))
        .collect();
    let unicode: Vec<String> = (0..10_000)
        .map(|i| format!("Jürgen.Müller{i}@BÜCHER{}.example", i % 97))
        .collect();
    let n = Normalization::default();
    let mut g = c.benchmark_group("email_key");
    for (name, inputs) in [("ascii", &ascii), ("non_ascii", &unicode)] {
        g.throughput(Throughput::Elements(inputs.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                inputs
                    .iter()
                    .filter_map(|s| EmailKey::parse(s, &n).ok().flatten())
                    .count()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
