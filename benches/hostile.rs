//! Costs under hostile input (issue: hardening): one Jaro-Winkler
//! comparison of two 64 KiB names, one registration at the default limits
//! against candidates with 64 KiB names, and scenario reports of 1k / 4k /
//! 10k subjects (linear in the subjects, not quadratic).
//!
//! `cargo bench --bench hostile`

use std::time::Duration;

use contact_sync::scenario::Scenario;
use contact_sync::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const T: TenantId = TenantId::from_u128(1);
const BIG: usize = 64 * 1024;

fn fuzzy_policy() -> Policy {
    let mut p =
        Policy::salesforce(RecordType::Contact).with_cross_matching(RecordType::Contact, &[]);
    p.matching.weighted = Some(WeightedCriteria {
        criteria: vec![
            contact_sync::Criterion {
                field: FieldName::new("first_name"),
                compare: Comparator::JaroWinkler { min_per_mille: 900 },
                weight: 1,
            },
            contact_sync::Criterion {
                field: FieldName::new("last_name"),
                compare: Comparator::JaroWinkler { min_per_mille: 900 },
                weight: 1,
            },
        ],
        threshold: 2,
    });
    p
}

fn long_name(seed: char) -> String {
    std::iter::repeat_n(seed, BIG).collect()
}

fn lead(n: u128, first: &str, last: &str) -> Record {
    Record::new(
        RecordId::from_u128(n),
        T,
        RecordType::Lead,
        Fields::from_pairs([
            ("email", "jo@example.org"),
            ("first_name", first),
            ("last_name", last),
        ]),
    )
}

fn registration(fields: Fields) -> Event {
    Event::Registered(Registration::new(
        EventId::from_u128(1),
        T,
        vec![Subject::attendee(SubjectId::from_u128(1), fields)],
    ))
}

fn comparisons(c: &mut Criterion) {
    let engine = Engine::new(fuzzy_policy()).unwrap();
    let mut g = c.benchmark_group("hostile");
    g.sample_size(20).measurement_time(Duration::from_secs(5));

    // One candidate, one 64 KiB name on each side: one comparison per criterion.
    let store = InMemoryStore::new();
    store.insert(lead(1, "Jo", &long_name('x'))).unwrap();
    let one = registration(Fields::from_pairs([
        ("email", "jo@example.org"),
        ("first_name", "Jo"),
        ("last_name", long_name('y').as_str()),
    ]));
    g.bench_function("jaro_winkler_64k_names", |b| {
        b.iter(|| engine.plan(&store, &one).unwrap())
    });

    // At the default limits: 256 fields of 64 KiB each, against 20
    // candidates with 64 KiB names.
    let store = InMemoryStore::new();
    for n in 0..20 {
        let seed = char::from(b'a' + n as u8);
        store
            .insert(lead(n + 1, &long_name(seed), &long_name(seed)))
            .unwrap();
    }
    let limits = Limits::default();
    let mut pairs: Vec<(String, String)> = vec![
        ("email".into(), "jo@example.org".into()),
        ("first_name".into(), long_name('q')),
        ("last_name".into(), long_name('r')),
    ];
    for i in pairs.len()..limits.max_fields {
        pairs.push((format!("custom_{i}"), long_name('z')));
    }
    let full = registration(Fields::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ));
    g.bench_function("registration_at_default_limits", |b| {
        b.iter(|| engine.plan(&store, &full).unwrap())
    });
    g.finish();
}

fn scenario(subjects: usize) -> Scenario {
    let list: Vec<String> = (0..subjects)
        .map(|i| format!(r#"{{ "name": "s{i}", "fields": {{ "email": "p{i}@example.org", "first_name": "P{i}" }} }}"#))
        .collect();
    let json = format!(
        r#"{{ "policy": {{ "preset": "doo" }}, "steps": [ {{ "register": {{ "subjects": [ {} ] }} }} ] }}"#,
        list.join(", ")
    );
    Scenario::from_json(&json).unwrap()
}

fn scenarios(c: &mut Criterion) {
    let mut g = c.benchmark_group("scenario_run");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000, 4_000, 10_000] {
        let s = scenario(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &s, |b, s| {
            b.iter(|| s.run().unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, comparisons, scenarios);
criterion_main!(benches);
