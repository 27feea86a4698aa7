//! A bulk import on the PostgreSQL store, next to `COPY` of the same rows:
//! a store of `--store` records (seeded by `insert_many`, not timed), then
//! `N` registrations, half of them for an email the store holds (linked),
//! half for new ones (created), imported through
//! [`PostgresStore::import`] in chunks.
//!
//! ```sh
//! CONTACT_SYNC_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/contact_sync \
//!     cargo run --release --example pg_import --features postgres -- 100000 --store 1000000
//! ```
//!
//! `--copy-only` times the anchor instead: the same import into a scratch
//! schema (not timed), its rows read back, then `COPY` of exactly those
//! rows (records, links, events, field history) into the same tables of
//! a store seeded alike, in one transaction.

use std::time::Instant;

use contact_sync::postgres_driver::tokio_postgres;
use contact_sync::*;

const T: TenantId = TenantId::from_u128(1);

fn seed(i: u64) -> Record {
    Record::new(
        RecordId::from_u128(0x5eed_0000_0000 + u128::from(i)),
        T,
        RecordType::Contact,
        Fields::from_pairs([
            ("email", format!("seed{i}@example.org").as_str()),
            ("first_name", "Seed"),
        ]),
    )
}

fn registration(n: u64, store: u64) -> Event {
    // Even registrations: an email the store holds; odd: a new one.
    let email = if n.is_multiple_of(2) && store > 0 {
        format!("seed{}@example.org", (n / 2) % store)
    } else {
        format!("new{n}@example.org")
    };
    Event::Registered(Registration::new(
        EventId::from_u128(0xe000_0000_0000 + u128::from(n)),
        T,
        vec![Subject::attendee(
            SubjectId::from_u128(0x5b00_0000_0000 + u128::from(n)),
            Fields::from_pairs([("email", email.as_str()), ("first_name", "Guest")]),
        )],
    ))
}

async fn side(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| chain(&e))?;
    tokio::spawn(connection);
    Ok(client)
}

/// A fresh schema seeded with `store` records.
async fn seeded(url: &str, name: &str, store: u64) -> Result<PostgresStore, String> {
    side(url)
        .await?
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await
        .map_err(|e| chain(&e))?;
    let s = PostgresConnect::url(url)
        .and_then(|c| c.schema(name))
        .map_err(|e| chain(&e))?
        .max_connections(2)
        .connect()
        .await
        .map_err(|e| chain(&e))?;
    let mut i = 0;
    while i < store {
        let chunk: Vec<Record> = (i..store.min(i + 100_000)).map(seed).collect();
        s.insert_many(&chunk).await.map_err(|e| chain(&e))?;
        i += chunk.len() as u64;
    }
    side(url)
        .await?
        .batch_execute(&format!(
            "ANALYZE {name}.records, {name}.record_aliases, {name}.links, {name}.events"
        ))
        .await
        .map_err(|e| chain(&e))?;
    Ok(s)
}

async fn import(
    engine: &Engine,
    store: &PostgresStore,
    events: &[Event],
    chunk: usize,
) -> Result<ImportReport, String> {
    store
        .import(engine, events, ImportOptions::new().chunk(chunk))
        .await
        .map_err(|e| chain(&e))
}

/// The rows the import wrote, as `COPY` text per table (the table's own
/// format), read back from the scratch schema.
async fn written_rows(url: &str, name: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    use futures_util::StreamExt;
    let client = side(url).await?;
    let mut out = Vec::new();
    for (table, columns, filter) in [
        (
            "records",
            "id, tenant, record_type, email_key, ticket, fields, version",
            "WHERE fields NOT LIKE '%\"Seed\"%'",
        ),
        ("links", "tenant, subject, record", ""),
        ("events", "tenant, id, digest", ""),
        (
            "field_history",
            "tenant, record, field, old, new, event, rule, submitter",
            "",
        ),
    ] {
        let sql = format!(
            "COPY (SELECT {columns} FROM {name}.{table} {filter}) TO STDOUT (FORMAT binary)"
        );
        let stream = client.copy_out(&sql).await.map_err(|e| chain(&e))?;
        let mut stream = std::pin::pin!(stream);
        let mut bytes = Vec::new();
        while let Some(b) = stream.next().await {
            bytes.extend_from_slice(&b.map_err(|e| chain(&e))?);
        }
        out.push((format!("{table} ({columns})"), bytes));
    }
    Ok(out)
}

#[derive(clap::Parser)]
#[command(name = "pg_import")]
struct Args {
    /// Registrations to import.
    #[arg(default_value_t = 100_000)]
    events: u64,
    /// Records in the store before the import.
    #[arg(long, default_value_t = 100_000)]
    store: u64,
    /// Registrations per plan.
    #[arg(long, default_value_t = 20_000)]
    chunk: usize,
    /// Time `COPY` of the rows the import writes instead of the import.
    #[arg(long)]
    copy_only: bool,
}

async fn run(url: String, args: Args) -> Result<(), String> {
    let engine = Engine::new(Policy::doo()).map_err(|e| chain(&e))?;
    let events: Vec<Event> = (0..args.events)
        .map(|n| registration(n, args.store))
        .collect();
    if !args.copy_only {
        let store = seeded(&url, "import_ours", args.store).await?;
        let started = Instant::now();
        let report = import(&engine, &store, &events, args.chunk).await?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "import events={} store={} chunk={} import_s={secs:.3} per_s={:.0} created={} events_done={}",
            args.events,
            args.store,
            args.chunk,
            args.events as f64 / secs,
            report.created,
            report.events
        );
        return Ok(());
    }
    let scratch = seeded(&url, "import_scratch", args.store).await?;
    import(&engine, &scratch, &events, args.chunk).await?;
    let rows = written_rows(&url, "import_scratch").await?;
    drop(scratch);
    let _anchor = seeded(&url, "import_copy", args.store).await?;
    let client = side(&url).await?;
    let started = Instant::now();
    client.batch_execute("BEGIN").await.map_err(|e| chain(&e))?;
    let mut copied = 0;
    for (table, bytes) in &rows {
        use futures_util::SinkExt;
        let sink = client
            .copy_in::<_, std::io::Cursor<Vec<u8>>>(&format!(
                "COPY import_copy.{table} FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(|e| chain(&e))?;
        let mut sink = std::pin::pin!(sink);
        sink.send(std::io::Cursor::new(bytes.clone()))
            .await
            .map_err(|e| chain(&e))?;
        copied += sink.as_mut().finish().await.map_err(|e| chain(&e))?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| chain(&e))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "copy events={} store={} rows={copied} copy_s={secs:.3} rows_per_s={:.0}",
        args.events,
        args.store,
        copied as f64 / secs
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Ok(url) = std::env::var("CONTACT_SYNC_POSTGRES_URL") else {
        eprintln!("set CONTACT_SYNC_POSTGRES_URL=postgres://user@host:port/database");
        return std::process::ExitCode::from(2);
    };
    let args: Args = clap::Parser::parse();
    match run(url, args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pg_import: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
