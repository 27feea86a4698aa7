//! A tokio host on the PostgreSQL store: each batch of webhooks goes
//! needs → one bulk fetch → decide → apply, and is planned again on a
//! conflict; then a throughput run of plan + apply at 1, 8 and 32
//! connections, checking that nothing was lost or duplicated.
//!
//! ```sh
//! CONTACT_SYNC_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/contact_sync \
//!     cargo run --release --example async_host --features postgres -- [EVENTS] [--connections 1,8,32]
//! ```
//!
//! It works in schemas of its own (`async_host_*`), emptied first.

use std::sync::Arc;
use std::time::Instant;

use contact_sync::PostgresStore;
use contact_sync::*;

const T: TenantId = TenantId::from_u128(1);

fn booking(n: u128, email: &str) -> Event {
    Event::Registered(Registration::new(
        EventId::from_u128(n),
        T,
        vec![Subject::attendee(
            SubjectId::from_u128(n),
            Fields::from_pairs([("email", email), ("first_name", "Guest")]),
        )],
    ))
}

/// One batch: what it needs, fetched in one bulk query per kind, decided as
/// one plan (B5) and applied atomically; planned again on a conflict.
async fn handle_batch(
    engine: &Engine,
    store: &PostgresStore,
    events: &[Event],
) -> Result<Plan, String> {
    for _attempt in 0..10 {
        let needs = engine.needs_batch(events).map_err(|e| chain(&e))?;
        let candidates = store.fetch(&needs).await.map_err(|e| chain(&e))?;
        let plan = engine
            .decide_batch(events, &candidates)
            .map_err(|e| chain(&e))?;
        match AsyncApplyPlan::apply(store, &plan).await {
            Ok(()) => return Ok(plan),
            Err(ApplyError::Conflict(_)) => continue,
            Err(e) => return Err(chain(&e)),
        }
    }
    Err("the batch kept conflicting".into())
}

async fn schema_store(url: &str, name: &str, connections: usize) -> Result<PostgresStore, String> {
    // A fresh schema for every run.
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| chain(&e))?;
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await
        .map_err(|e| chain(&e))?;
    drop(client);
    let _ = driver.await;
    PostgresStore::connect_in_schema(url, name, Normalization::default(), connections)
        .await
        .map_err(|e| chain(&e))
}

async fn run(url: String, events: u128, counts: &[usize]) -> Result<(), String> {
    let engine = Arc::new(Engine::new(Policy::doo()).map_err(|e| chain(&e))?);

    // One batch of three webhooks, two of them sharing a new email (B5).
    let store = schema_store(&url, "async_host_demo", 4).await?;
    let batch = [
        booking(1, "ann@example.org"),
        booking(2, "bo@example.org"),
        booking(3, "Bo@Example.org"),
    ];
    let plan = handle_batch(&engine, &store, &batch).await?;
    print!("{}", plan.report());
    println!(
        "created {} record(s) for 3 webhooks; a redelivery plans {} effect(s)",
        plan.created().count(),
        handle_batch(&engine, &store, &batch).await?.effects.len()
    );

    // Throughput: `events` registrations, every fourth email shared with
    // the one before, at 1, 8 and 32 connections.
    for &connections in counts {
        let name = format!("async_host_c{connections}");
        let store = Arc::new(schema_store(&url, &name, connections).await?);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..connections as u128 {
            let (engine, store) = (engine.clone(), store.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = worker;
                while n < events {
                    let email = format!("guest{}@example.org", n - n % 4 + n % 4 / 3);
                    let ev = booking(1_000 + n, &email);
                    engine
                        .plan_and_apply_async(&*store, &ev, 50)
                        .await
                        .map_err(|e| chain(&e))?;
                    n += connections as u128;
                }
                Ok::<(), String>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        let secs = started.elapsed().as_secs_f64();
        let records = store.records(T).await.map_err(|e| chain(&e))?;
        let distinct: std::collections::BTreeSet<String> = records
            .iter()
            .map(|r| r.fields.text("email").to_lowercase())
            .collect();
        let expected: std::collections::BTreeSet<String> = (0..events)
            .map(|n| format!("guest{}@example.org", n - n % 4 + n % 4 / 3))
            .collect();
        let intact = records.len() == distinct.len() && distinct == expected;
        println!(
            "connections={connections} events={events} plan_apply_per_s={:.0} records={} one_per_email={intact}",
            events as f64 / secs,
            records.len()
        );
        if !intact {
            return Err(format!(
                "{connections} connections: records lost or duplicated"
            ));
        }
    }
    Ok(())
}

/// A tokio host on the PostgreSQL store (`CONTACT_SYNC_POSTGRES_URL`):
/// needs, bulk fetch, decide, apply, with a throughput run at 1, 8 and 32
/// connections.
#[derive(clap::Parser)]
#[command(name = "async_host")]
struct Args {
    /// Registrations per throughput run.
    #[arg(default_value_t = 2_000)]
    events: u128,
    /// The connection counts to run at (each a run of its own).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    connections: Vec<usize>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Ok(url) = std::env::var("CONTACT_SYNC_POSTGRES_URL") else {
        eprintln!("set CONTACT_SYNC_POSTGRES_URL=postgres://user@host:port/database");
        return std::process::ExitCode::from(2);
    };
    let Args {
        events,
        connections,
    } = clap::Parser::parse();
    match run(url, events, &connections).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async_host: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
