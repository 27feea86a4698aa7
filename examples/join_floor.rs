//! The floor under `match_csv`: what the exact-one email join with a
//! fill-empty merge costs in plain Rust, with no rules, no overlay, no plan and
//! no explanation, on the same files.
//!
//! ```text
//! cargo run --release --example join_floor -- --contacts contacts.csv --registrations registrations.csv
//! ```
//!
//! It does what `perf/duck.py` asks of DuckDB, with this crate's B1
//! email keys instead of `lower(trim())`: contacts are grouped by email key
//! (count and first row), each registration is looked up by its key, and a
//! registration whose key belongs to exactly one contact gets that contact's
//! non-empty values, its own where the contact's are empty. Both files need a
//! header row with an `email` column; the other columns are merged by position
//! when both files have the same header.
//!
//! It prints the decision counts (which `match_csv` and DuckDB must agree
//! with) and the time of the two phases that correspond to `match_csv`'s store
//! build and plan. It is a yardstick for the planner's overhead, not a
//! replacement for it: a registration here never sees what earlier ones
//! created, nothing is explained, and invalid emails count as no email.

use std::process::ExitCode;
use std::time::Instant;

use contact_sync::{EmailKey, Normalization};
// The crate's own hasher: a fast, seeded hash, as the in-memory store uses.
use foldhash::{HashMap, HashMapExt};

fn read(path: &str) -> Result<(usize, Vec<csv::StringRecord>), String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{path}: {e}"))?;
    let headers = rdr.headers().map_err(|e| format!("{path}: {e}"))?;
    let email = headers
        .iter()
        .position(|h| h == "email")
        .ok_or_else(|| format!("{path}: no `email` column"))?;
    let rows = rdr
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: {e}"))?;
    Ok((email, rows))
}

/// The exact-one join of the performance comparison, without the rules.
#[derive(clap::Parser)]
#[command(name = "join_floor")]
struct Args {
    /// The contacts CSV (`perf/gen.py`'s `contacts.csv`).
    #[arg(long)]
    contacts: String,
    /// The registrations CSV (`perf/gen.py`'s `registrations.csv`).
    #[arg(long)]
    registrations: String,
}

fn run() -> Result<(), String> {
    let Args {
        contacts: c,
        registrations: r,
    } = clap::Parser::parse();
    let (ce, contacts) = read(&c)?;
    let (re, registrations) = read(&r)?;
    let n = Normalization::default();
    let key = |row: &csv::StringRecord, col: usize| {
        EmailKey::parse(row.get(col).unwrap_or(""), &n)
            .ok()
            .flatten()
    };

    let t0 = Instant::now();
    // Email key → (number of contacts, first contact's row).
    let mut by_key: HashMap<String, (u32, usize)> = HashMap::with_capacity(contacts.len());
    for (i, row) in contacts.iter().enumerate() {
        if let Some(k) = key(row, ce) {
            by_key
                .entry(k.as_str().to_owned())
                .and_modify(|e| e.0 += 1)
                .or_insert((1, i));
        }
    }
    let build_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let (mut link, mut create, mut none, mut filled) = (0u64, 0u64, 0u64, 0u64);
    // The merged values of each linked registration, borrowed: the floor
    // copies no text.
    let mut merged: Vec<Vec<&str>> = Vec::with_capacity(registrations.len());
    for row in &registrations {
        match key(row, re).map(|k| by_key.get(k.as_str()).copied()) {
            None => none += 1,
            Some(Some((1, i))) => {
                link += 1;
                let contact = &contacts[i];
                let values: Vec<&str> = contact
                    .iter()
                    .zip(row.iter())
                    .map(|(mine, theirs)| {
                        if mine.trim().is_empty() && !theirs.trim().is_empty() {
                            filled += 1;
                            theirs
                        } else {
                            mine
                        }
                    })
                    .collect();
                merged.push(values);
            }
            Some(_) => create += 1,
        }
    }
    let join_s = t1.elapsed().as_secs_f64();

    let m = registrations.len().max(1) as f64;
    eprintln!("decisions: create {create}, link {link}, none {none} ({filled} values filled)");
    eprintln!(
        "timing: build_s={build_s:.3} join_s={join_s:.3} build_plus_join_s={:.3} join_us_per_subject={:.2}",
        build_s + join_s,
        join_s * 1e6 / m
    );
    drop(merged);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("join_floor: {e}");
            ExitCode::from(2)
        }
    }
}
