//! A dry run on real exports: what would the rules do to these contacts?
//!
//! ```text
//! cargo run --release --example match_csv -- \
//!     --contacts contacts.csv --registrations registrations.csv \
//!     [--preset doo|doo-sync|doo-external|salesforce-contact|salesforce-lead] \
//!     [--format csv|jsonl] [--out decisions.csv] [--map HEADER=FIELD]... [--quiet] [--explain]
//!     [--compare-preset NAME] [--threads N] [--plan-batch]
//! ```
//!
//! With `--compare-preset NAME` (what-if, B18) the rows are only the
//! subjects the two presets decide differently, with both decisions,
//! records, rules and explanations, and the summary says how many.
//!
//! Both files need a header row. Columns are mapped by header name: a header
//! becomes the field of the same name (`email`, `first_name`, `last_name`,
//! `ticket_id`, anything else), except `id`, the row's id (a UUID, or any text,
//! which is turned into a UUIDv5). `--map Email=email` maps a differently named
//! header. Every registration row is one registration with one attendee.
//!
//! Writes one row per subject (subject id, decision, record id, rules fired,
//! changed fields; JSON lines add the explanation, as does `--explain` for CSV) to `--out` (default: standard output), and a summary with
//! a timing line per phase to standard error. Bad rows (wrong number of
//! columns, invalid email) are reported with their line numbers and skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use contact_sync::*;

/// The allocator of this binary: see `mimalloc` in Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TENANT: TenantId = TenantId::from_u128(1);
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3c1e_57a0_9f6b_4d8e_b0a2_1d4c_7e55_0c31);

/// A dry run on contacts and registrations CSV exports: what would the
/// rules do to these contacts?
#[derive(clap::Parser)]
#[command(name = "match_csv")]
struct Args {
    /// The contacts export (CSV with a header row).
    #[arg(long)]
    contacts: String,
    /// The registrations export (CSV with a header row); each row is one
    /// registration with one attendee.
    #[arg(long)]
    registrations: String,
    /// The policy preset.
    #[arg(long, default_value = "doo", value_parser = ["doo", "doo-sync", "doo-external", "salesforce-contact", "salesforce-lead"])]
    preset: String,
    /// The output format.
    #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
    format: String,
    /// Where to write one row per subject (default: standard output).
    #[arg(long)]
    out: Option<String>,
    /// Maps a header to a field (`Email=email`); repeatable.
    #[arg(long = "map", value_name = "HEADER=FIELD", value_parser = parse_map)]
    map: Vec<(String, String)>,
    /// No summary on standard error.
    #[arg(long)]
    quiet: bool,
    /// Adds the explanation to CSV rows.
    #[arg(long)]
    explain: bool,
    /// What-if (B18): also decides under this preset, prints how many
    /// subjects it decides differently, and writes only those rows (both
    /// sides, explained) instead of one row per subject.
    #[arg(long, value_name = "NAME", value_parser = ["doo", "doo-sync", "doo-external", "salesforce-contact", "salesforce-lead"])]
    compare_preset: Option<String>,
    /// Threads that decide the batch (`Engine::dry_run_threads`); the rows
    /// are the same for any number. Default: every core.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Plans with `Engine::plan_batch` (one thread; the plan holds its
    /// preconditions and effects, as a plan to apply does) instead of the
    /// streaming dry run, then writes the same rows from the plan.
    #[arg(long)]
    plan_batch: bool,
}

/// The threads to plan with: `--threads`, else every core (at least one).
fn threads(args: &Args) -> usize {
    args.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

fn parse_map(v: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .map(|(h, f)| (h.to_owned(), f.to_owned()))
        .ok_or_else(|| format!("--map takes HEADER=FIELD, got {v:?}"))
}

fn policy(preset: &str) -> Result<Policy, String> {
    Ok(match preset {
        "doo" => Policy::doo(),
        "doo-sync" => Policy::doo().with_sync(true),
        "doo-external" => Policy::doo_external_master(),
        "salesforce-contact" => Policy::salesforce(RecordType::Contact).with_all_fields_mapped(),
        "salesforce-lead" => Policy::salesforce(RecordType::Lead).with_all_fields_mapped(),
        other => return Err(format!("unknown preset {other:?}")),
    })
}

trait AllFields {
    fn with_all_fields_mapped(self) -> Self;
}

impl AllFields for Policy {
    /// A CSV dry run maps every column: unmapped columns flow as form fields.
    fn with_all_fields_mapped(mut self) -> Self {
        self.fields.unmapped_as_form_fields = true;
        self
    }
}

/// One CSV file read into rows of (line, id, fields).
struct Table {
    rows: Vec<(u64, uuid::Uuid, Fields)>,
    bad: Vec<String>,
}

fn read_table(
    path: &str,
    map: &BTreeMap<String, String>,
    what: &str,
    progress: &mut Progress,
) -> Result<Table, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| format!("{path}: {e}"))?;
    let headers = rdr
        .byte_headers()
        .map_err(|e| format!("{path}: {e}"))?
        .clone();
    let mut id_col = None;
    let mut names: Vec<Option<FieldName>> = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let h = String::from_utf8_lossy(h);
        let field = map
            .get(h.as_ref())
            .cloned()
            .unwrap_or_else(|| h.to_string());
        if field == "id" {
            id_col = Some(i);
            names.push(None);
        } else {
            names.push(Some(FieldName::new(&field)));
        }
    }
    let id_col = id_col.ok_or_else(|| format!("{path}: no `id` column (use --map HEADER=id)"))?;
    if !names
        .iter()
        .flatten()
        .any(|n| n.as_str() == FieldName::EMAIL)
    {
        return Err(format!(
            "{path}: no `email` column (use --map HEADER=email)"
        ));
    }
    let mut t = Table {
        rows: Vec::new(),
        bad: Vec::new(),
    };
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                t.bad.push(format!("{what} line {line}: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        progress.tick(what);
        let mut pairs = Vec::with_capacity(names.len());
        let mut id = None;
        let mut bad = None;
        for (i, v) in rec.iter().enumerate() {
            let Ok(v) = std::str::from_utf8(v) else {
                bad = Some("not UTF-8".to_owned());
                break;
            };
            if i == id_col {
                id = Some(
                    uuid::Uuid::parse_str(v)
                        .unwrap_or_else(|_| uuid::Uuid::new_v5(&ID_NAMESPACE, v.as_bytes())),
                );
            } else if let Some(Some(n)) = names.get(i) {
                if n.as_str() == FieldName::EMAIL {
                    if let Err(e) = Email::parse(v) {
                        bad = Some(format!("invalid email: {e}"));
                        break;
                    }
                }
                pairs.push((n.clone(), FieldValue::new(v)));
            }
        }
        match (bad, id) {
            (Some(why), _) => t.bad.push(format!("{what} line {line}: {why}")),
            (None, None) => t.bad.push(format!("{what} line {line}: no id")),
            (None, Some(id)) => t.rows.push((line, id, Fields::from_pairs(pairs))),
        }
    }
    Ok(t)
}

/// A progress line on stderr every 100,000 rows.
struct Progress {
    quiet: bool,
    n: u64,
}

impl Progress {
    fn tick(&mut self, what: &str) {
        self.n += 1;
        if !self.quiet && self.n.is_multiple_of(100_000) {
            eprint!("\r{what}: {}…", self.n);
        }
    }
    fn done(&mut self) {
        if !self.quiet && self.n >= 100_000 {
            eprintln!();
        }
        self.n = 0;
    }
}

/// Resident set size in MB (Linux; 0 elsewhere), for the timing line.
fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / 1_000_000)
}

fn run(args: Args) -> Result<(), String> {
    let policy = policy(&args.preset)?;
    let map: BTreeMap<String, String> = args.map.iter().cloned().collect();
    let mut progress = Progress {
        quiet: args.quiet,
        n: 0,
    };

    let t0 = Instant::now();
    let contacts = read_table(&args.contacts, &map, "contacts", &mut progress)?;
    progress.done();
    let regs = read_table(&args.registrations, &map, "registrations", &mut progress)?;
    progress.done();
    let parse_s = t0.elapsed().as_secs_f64();
    let parse_mb = rss_mb();

    if let Some(other) = &args.compare_preset {
        return compare(&args, policy, other, contacts, regs);
    }
    let t1 = Instant::now();
    let store = store_of(&policy, contacts.rows.into_iter().map(|(_, id, f)| (id, f)))?;
    let build_s = t1.elapsed().as_secs_f64();
    let build_mb = rss_mb();

    let events = events_of(&regs);
    let regs_bad = regs.bad;
    drop(regs.rows);

    let t2 = Instant::now();
    // Sentences are rendered from the reasons only when they are written.
    let explain = args.explain || args.format == "jsonl";
    let engine = Engine::new(policy).map_err(|e| contact_sync::chain(&e))?;
    let out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut rows = Rows::new(
        BufWriter::with_capacity(1 << 20, out),
        &args.format,
        explain,
    )
    .map_err(|e| e.to_string())?;
    // A dry run hands each event's decisions over as they are made: rows are
    // written as they come, and the million outcomes are never held.
    let mut write_s = 0.0;
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut subjects, mut warnings) = (0usize, 0usize);
    let mut failed: Option<io::Error> = None;
    let mut each = |d: &Decided<'_>| {
        progress.tick("events planned");
        subjects += d.outcomes.len();
        warnings += d.warnings.len();
        for o in d.outcomes {
            *counts.entry(category(o)).or_default() += 1;
        }
        if failed.is_none() {
            let t = Instant::now();
            if let Err(e) = rows.write(d) {
                failed = Some(e);
            }
            write_s += t.elapsed().as_secs_f64();
        }
    };
    if args.plan_batch {
        let plan = engine
            .plan_batch(&store, &events)
            .map_err(|e| contact_sync::chain(&e))?;
        hand_over(&plan, &mut each);
    } else {
        engine
            .dry_run_threads(&store, &events, threads(&args), &mut each)
            .map_err(|e| contact_sync::chain(&e))?;
    }
    progress.done();
    if let Some(e) = failed {
        return Err(format!("writing rows: {e}"));
    }
    let t3 = Instant::now();
    rows.finish().map_err(|e| format!("writing rows: {e}"))?;
    write_s += t3.elapsed().as_secs_f64();
    let plan_s = t2.elapsed().as_secs_f64() - write_s;
    let plan_mb = rss_mb();

    eprintln!("summary: {subjects} subjects");
    for (k, n) in &counts {
        eprintln!("  {k}: {n}");
    }
    eprintln!("  warnings: {warnings}");
    eprintln!(
        "  bad rows skipped: {}",
        contacts.bad.len() + regs_bad.len()
    );
    for b in contacts.bad.iter().chain(regs_bad.iter()).take(20) {
        eprintln!("    {b}");
    }
    eprintln!(
        "timing: parse_s={parse_s:.3} build_s={build_s:.3} plan_s={plan_s:.3} write_s={write_s:.3} build_plus_plan_s={:.3}",
        build_s + plan_s
    );
    eprintln!("memory: rss_mb after parse={parse_mb} build={build_mb} plan={plan_mb}");
    Ok(())
}

/// A plan's parts, event by event, as the dry run hands them over: each
/// event's effects (`Plan::effect_ends`) and outcomes (in event order);
/// the warnings all with the last event.
fn hand_over(plan: &Plan, each: &mut impl FnMut(&Decided<'_>)) {
    let (mut effects_at, mut outcomes_at) = (0usize, 0usize);
    let last = plan.events.len().saturating_sub(1);
    for (i, event) in plan.events.iter().enumerate() {
        let end = plan
            .effect_ends
            .get(i)
            .map_or(plan.effects.len(), |e| *e as usize);
        let effects = plan.effects.get(effects_at..end).unwrap_or_default();
        effects_at = end;
        let n = plan
            .outcomes
            .get(outcomes_at..)
            .unwrap_or_default()
            .iter()
            .take_while(|o| o.event == *event)
            .count();
        let outcomes = plan
            .outcomes
            .get(outcomes_at..outcomes_at + n)
            .unwrap_or_default();
        outcomes_at += n;
        let warnings = if i == last { &plan.warnings[..] } else { &[] };
        each(&Decided {
            event: *event,
            outcomes,
            effects,
            warnings,
        });
    }
}

/// One registration with one attendee per row.
fn events_of(regs: &Table) -> Vec<Event> {
    regs.rows
        .iter()
        .map(|(_, id, f)| {
            let mut r = Registration::new(
                EventId::new(*id),
                TENANT,
                vec![Subject::attendee(SubjectId::new(*id), f.clone())],
            );
            r.channel = Channel::Import;
            Event::Registered(r)
        })
        .collect()
}

/// A store holding the contacts, as records of the policy's type.
fn store_of(
    policy: &Policy,
    rows: impl IntoIterator<Item = (uuid::Uuid, Fields)>,
) -> Result<InMemoryStore, String> {
    let store = InMemoryStore::with_normalization(policy.normalization);
    let record_type = policy.matching.record_type;
    store
        .extend(
            rows.into_iter()
                .map(|(id, f)| Record::new(RecordId::new(id), TENANT, record_type, f)),
        )
        .map_err(|e| format!("contacts: {e}"))?;
    Ok(store)
}

/// Per subject, in order: its id, decision, record, rules and explanation.
type Decisions = Vec<(SubjectId, Decision, Option<RecordId>, String, String)>;

/// What one policy decides for each subject, in order.
fn decisions(policy: Policy, contacts: &Table, events: &[Event]) -> Result<Decisions, String> {
    let store = store_of(
        &policy,
        contacts.rows.iter().map(|(_, id, f)| (*id, f.clone())),
    )?;
    let engine = Engine::new(policy).map_err(|e| contact_sync::chain(&e))?;
    let mut out = Vec::with_capacity(events.len());
    engine
        .dry_run(&store, events, |d| {
            for o in d.outcomes {
                let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
                out.push((
                    o.subject,
                    o.decision,
                    o.record,
                    rules.join(" "),
                    o.explanation().into_owned(),
                ));
            }
        })
        .map_err(|e| contact_sync::chain(&e))?;
    Ok(out)
}

/// B18: decides under both presets and writes the subjects they decide
/// differently (another decision or record), both sides explained.
fn compare(
    args: &Args,
    policy: Policy,
    other: &str,
    contacts: Table,
    regs: Table,
) -> Result<(), String> {
    let events = events_of(&regs);
    let a = decisions(policy, &contacts, &events)?;
    let b = decisions(self::policy(other)?, &contacts, &events)?;
    let out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut w = csv::Writer::from_writer(BufWriter::new(out));
    let fail = |e: csv::Error| format!("writing rows: {e}");
    w.write_record([
        "subject",
        "decision_a",
        "record_a",
        "rules_a",
        "explanation_a",
        "decision_b",
        "record_b",
        "rules_b",
        "explanation_b",
    ])
    .map_err(fail)?;
    let name = |d: Decision| format!("{d:?}").to_lowercase();
    let record = |r: Option<RecordId>| r.map(|r| r.to_string()).unwrap_or_default();
    let mut differ = 0usize;
    for (x, y) in a.iter().zip(&b) {
        if (x.1, x.2) == (y.1, y.2) {
            continue;
        }
        differ += 1;
        w.write_record([
            x.0.to_string(),
            name(x.1),
            record(x.2),
            x.3.clone(),
            x.4.clone(),
            name(y.1),
            record(y.2),
            y.3.clone(),
            y.4.clone(),
        ])
        .map_err(fail)?;
    }
    w.flush().map_err(|e| format!("writing rows: {e}"))?;
    if !args.quiet {
        eprintln!(
            "compare: {differ} of {} subjects decided differently under {} (A) and {other} (B)",
            a.len(),
            args.preset
        );
        eprintln!(
            "  bad rows skipped: {}",
            contacts.bad.len() + regs.bad.len()
        );
    }
    Ok(())
}

/// The summary line an outcome counts under.
fn category(o: &Outcome) -> &'static str {
    match (o.decision, o.no_record) {
        (Decision::Created, _) if o.rules.contains(&RuleId::D4) => "created (ambiguous)",
        (Decision::Created, _) => "created",
        (Decision::Linked | Decision::Kept, _) => "linked",
        (_, Some(NoRecordReason::NoEmail)) => "no email",
        (_, Some(NoRecordReason::Ambiguous)) => "ambiguous",
        _ => "other",
    }
}

/// The output: CSV (quoted as needed) or JSON lines.
enum Rows<W: Write> {
    Csv {
        out: Box<csv::Writer<W>>,
        explain: bool,
    },
    Jsonl(W),
}

impl<W: Write> Rows<W> {
    fn new(out: W, format: &str, explain: bool) -> io::Result<Self> {
        if format != "csv" {
            return Ok(Rows::Jsonl(out));
        }
        let mut out = Box::new(csv::Writer::from_writer(out));
        let mut header = vec!["subject", "decision", "record", "rules", "changed_fields"];
        if explain {
            header.push("explanation");
        }
        out.write_record(&header)?;
        Ok(Rows::Csv { out, explain })
    }

    /// One row per subject of the event; changed fields are those of the
    /// event's own updates of the subject's record.
    fn write(&mut self, d: &Decided<'_>) -> io::Result<()> {
        for o in d.outcomes {
            let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
            let record = o.record.map(|r| r.to_string()).unwrap_or_default();
            let fields = match o.record {
                Some(r) if matches!(o.decision, Decision::Linked | Decision::Kept) => d
                    .effects
                    .iter()
                    .filter_map(|e| match e {
                        Effect::UpdateRecord {
                            record, changes, ..
                        } if *record == r => Some(changes),
                        _ => None,
                    })
                    .flatten()
                    .map(|c| c.field.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            let decision = serde_json::to_value(o.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            match self {
                Rows::Csv { out, explain } => {
                    let subject = o.subject.to_string();
                    let rules = rules.join(" ");
                    let mut row = vec![
                        subject.as_str(),
                        decision.as_str(),
                        record.as_str(),
                        rules.as_str(),
                        fields.as_str(),
                    ];
                    let explanation = if *explain {
                        o.explanation()
                    } else {
                        std::borrow::Cow::Borrowed("")
                    };
                    if *explain {
                        row.push(&explanation);
                    }
                    out.write_record(&row)?;
                }
                Rows::Jsonl(out) => {
                    let row = serde_json::json!({
                        "subject": o.subject, "decision": decision, "record": o.record,
                        "rules": rules, "changed_fields": fields, "explanation": o.explanation(),
                    });
                    writeln!(out, "{row}")?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Rows::Csv { mut out, .. } => out.flush(),
            Rows::Jsonl(mut out) => out.flush(),
        }
    }
}

fn main() -> ExitCode {
    match run(<Args as clap::Parser>::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("match_csv: {e}");
            ExitCode::from(2)
        }
    }
}
