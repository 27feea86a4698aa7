//! Runs a JSON scenario on the in-memory store and prints what happened.
//!
//! `cargo run --example simulate -- tests/scenarios/d_matching.json`
//! (`--lang de`: the explanations in German)
//!
//! Prints each step's decisions with their explanations and the final
//! records. When the scenario states expectations, every mismatch is
//! reported and the exit code is 1. A bad scenario file exits with 2 and an
//! error naming the JSON path and the problem. The format is documented in
//! `contact_sync::scenario`.

use std::process::ExitCode;

use contact_sync::describe;
use contact_sync::scenario::Scenario;

/// Runs a JSON scenario on the in-memory store and prints what happened.
#[derive(clap::Parser)]
#[command(name = "simulate")]
struct Args {
    /// The scenario file (format: `contact_sync::scenario`).
    scenario: String,
    /// The language of the explanations: `en` or `de` (expectations are
    /// checked in English either way).
    #[arg(long, default_value = "en", value_parser = ["en", "de"])]
    lang: String,
}

fn main() -> ExitCode {
    let Args {
        scenario: path,
        lang,
    } = clap::Parser::parse();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let run = |s: Scenario| match lang.as_str() {
        "de" => s.run_in(&describe::German),
        _ => s.run(),
    };
    let report = match Scenario::from_json(&text).and_then(run) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {}", contact_sync::chain(&e));
            return ExitCode::from(2);
        }
    };
    print!("{report}");
    let mismatches = report.mismatches();
    if mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\n{} expectation(s) did not hold:", mismatches.len());
        for m in &mismatches {
            eprintln!("  {m}");
        }
        ExitCode::from(1)
    }
}
