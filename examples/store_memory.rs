//! Measures the in-memory store's memory per record beyond the field text.
//!
//! `cargo run --release --example store_memory -- 1000000`
//!
//! Builds a store of N records shaped like `perf/gen.py` (five fields) and
//! reports the growth of the resident set (Linux `/proc/self/statm`) per
//! record, minus the bytes of field values, which any store must hold.

use contact_sync::*;

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Measures the in-memory store's memory per record beyond the field text.
#[derive(clap::Parser)]
#[command(name = "store_memory")]
struct Args {
    /// Records to build the store with.
    #[arg(default_value_t = 1_000_000)]
    records: usize,
}

fn main() {
    let Args { records: n } = clap::Parser::parse();
    let tenant = TenantId::from_u128(1);
    let first = [
        "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans",
    ];
    let last = ["Muller", "Schmidt", "Weber", "Meyer", "Wagner", "Becker"];
    let names: Vec<FieldName> = ["email", "first_name", "last_name", "company", "phone"]
        .iter()
        .map(|n| FieldName::new(n))
        .collect();
    let before = rss_bytes();
    let store = InMemoryStore::new();
    let mut text = 0usize;
    let records = (0..n).map(|i| {
        let values = [
            format!(
                "{}.{}{i}@example{}.com",
                first[i % 8].to_lowercase(),
                last[i % 6].to_lowercase(),
                i % 97
            ),
            first[i % 8].to_owned(),
            last[(i / 8) % 6].to_owned(),
            ["Acme", "Globex", "Initech", ""][i % 4].to_owned(),
            if i % 3 == 0 {
                String::new()
            } else {
                format!("+49{:09}", i)
            },
        ];
        text += values.iter().map(String::len).sum::<usize>();
        let fields = Fields::from_pairs(
            names
                .iter()
                .cloned()
                .zip(values.into_iter().map(FieldValue::from)),
        );
        Record::new(
            RecordId::from_u128(i as u128 + 1),
            tenant,
            RecordType::Contact,
            fields,
        )
    });
    store.extend(records).expect("distinct ids");
    let after = rss_bytes();
    let total = after.saturating_sub(before);
    println!(
        "records={n} rss_growth_bytes={total} field_text_bytes={text} bytes_per_record_total={:.0} bytes_per_record_beyond_text={:.0}",
        total as f64 / n as f64,
        total.saturating_sub(text) as f64 / n as f64
    );
    std::hint::black_box(&store);
}
