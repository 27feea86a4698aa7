//! B5, B7 on PostgreSQL at import scale: seeding by `COPY`
//! (`insert_many`), an import in chunks larger than one lock per key
//! allows on default server settings, resumed after it stopped, and a
//! paged read of the links it made.
#![cfg(feature = "postgres")]

use std::sync::{Arc, Mutex};

use contact_sync::*;
use contact_sync::{PostgresError, PostgresStore};

use crate::common::pg::{runtime, url};
use crate::common::*;

async fn fresh(url: &str) -> PostgresStore {
    PostgresConnect::url(url)
        .unwrap()
        .schema(&crate::common::pg::schema("import"))
        .unwrap()
        .max_connections(2)
        .connect()
        .await
        .unwrap()
}

fn seeds(n: u128) -> Vec<Record> {
    (0..n)
        .map(|i| {
            contact(
                1_000_000 + i,
                &[
                    ("email", &format!("seed{i}@example.org")),
                    (FieldName::EMAIL_ALIASES, &format!("alias{i}@example.org")),
                ],
            )
        })
        .collect()
}

/// Registration `n`: even ones for a seeded email (or alias), odd ones new.
fn booking(n: u128) -> Event {
    let email = match n % 4 {
        0 => format!("seed{}@example.org", n / 4),
        2 => format!("alias{}@example.org", n / 4),
        _ => format!("new{n}@example.org"),
    };
    registration(n + 1, vec![attendee(n + 1, &[("email", &email)])])
}

#[test]
fn b15_insert_many_copies_records_and_their_aliases_all_or_nothing() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = fresh(&url).await;
        store.insert_many(&seeds(3)).await.unwrap();
        assert_eq!(store.records(T).await.unwrap().len(), 3);
        let alias = EmailKey::parse("Alias2@example.org", &Normalization::default())
            .unwrap()
            .unwrap();
        let found = AsyncContactStore::records_by_email(&store, T, &alias)
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|r| r.id).collect::<Vec<_>>(),
            [rid(1_000_002)]
        );
        // A batch with a taken id adds nothing.
        let mut again = seeds(5);
        again.drain(..2);
        let err = store.insert_many(&again).await.unwrap_err();
        assert!(
            matches!(err, PostgresError::Exists(r) if r == rid(1_000_002)),
            "{err:?}"
        );
        assert_eq!(store.records(T).await.unwrap().len(), 3);
    });
}

#[test]
fn b5_b7_an_import_of_large_chunks_resumes_and_ends_in_the_exact_state() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = fresh(&url).await;
        // 16,000 registrations in one plan: one lock per key would take
        // about 60,000 advisory locks, and fails on the default lock table
        // ("out of shared memory", checked by hand with the tenant lock
        // turned off).
        const N: u128 = 16_000;
        store.insert_many(&seeds(N / 4)).await.unwrap();
        let events: Vec<Event> = (0..N).map(booking).collect();
        let engine = engine(Policy::doo());
        // An import that stopped after its first 3,000 events.
        let first = store
            .import(&engine, &events[..3_000], ImportOptions::new().chunk(3_000))
            .await
            .unwrap();
        assert_eq!((first.events, first.chunks), (3_000, 1));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let report = store
            .import(
                &engine,
                &events,
                ImportOptions::new()
                    .chunk(N as usize)
                    .progress(move |p| log.lock().unwrap().push((p.done, p.total))),
            )
            .await
            .unwrap();
        assert_eq!(report.events, N as usize);
        assert_eq!(*seen.lock().unwrap(), [(N as usize, N as usize)]);
        // The resumed import created only what the first had not.
        assert_eq!(first.created + report.created, (N / 2) as usize);
        let records = store.records(T).await.unwrap();
        assert_eq!(records.len(), (N / 4 + N / 2) as usize);
        let mut applied = store.applied_events(T).await.unwrap();
        applied.sort();
        assert_eq!(applied, (0..N).map(|n| eid(n + 1)).collect::<Vec<_>>());
        // Every subject linked to the record of its email (or alias),
        // read page by page.
        let mut links = Vec::new();
        let mut after = None;
        loop {
            let page = store.links_page(T, after, 1_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.0);
            assert!(page.len() <= 1_000);
            links.extend(page);
        }
        assert_eq!(links.len(), N as usize);
        assert!(
            links.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, each once"
        );
        for n in 0..N {
            let (_, record) = links
                .iter()
                .find(|(s, _)| *s == sid(n + 1))
                .copied()
                .unwrap();
            let expected = match n % 4 {
                0 | 2 => rid(1_000_000 + n / 4),
                _ => {
                    records
                        .iter()
                        .find(|r| r.fields.text("email") == format!("new{n}@example.org"))
                        .unwrap()
                        .id
                }
            };
            assert_eq!(record, expected, "registration {n}");
        }
        // Importing again changes nothing.
        let again = store
            .import(&engine, &events, ImportOptions::new().chunk(5_000))
            .await
            .unwrap();
        assert_eq!(again.created, 0);
        assert_eq!(store.records(T).await.unwrap().len(), records.len());
    });
}

/// B6: an import (one lock on the tenant) and single registrations (the
/// tenant's lock shared, one lock per key) of the same events at once:
/// each event applied once, one record per email.
#[test]
fn b6_an_import_racing_single_registrations_of_the_same_events_applies_each_once() {
    let Some(url) = url() else { return };
    runtime().block_on(async {
        let store = Arc::new(fresh(&url).await);
        const N: u128 = 2_400;
        store.insert_many(&seeds(N / 4)).await.unwrap();
        let events: Arc<Vec<Event>> = Arc::new((0..N).map(booking).collect());
        let engine = Arc::new(engine(Policy::doo()));
        let singles = {
            let (store, events, engine) = (store.clone(), events.clone(), engine.clone());
            tokio::spawn(async move {
                for ev in events.iter().rev() {
                    engine.plan_and_apply_async(&*store, ev, 50).await.unwrap();
                }
            })
        };
        store
            .import(&engine, &events, ImportOptions::new().chunk(600))
            .await
            .unwrap();
        singles.await.unwrap();
        let records = store.records(T).await.unwrap();
        assert_eq!(records.len(), (N / 4 + N / 2) as usize);
        let emails: std::collections::BTreeSet<String> = records
            .iter()
            .map(|r| r.fields.text("email").to_owned())
            .collect();
        assert_eq!(emails.len(), records.len(), "one record per email");
        let mut applied = store.applied_events(T).await.unwrap();
        applied.sort();
        assert_eq!(applied, (0..N).map(|n| eid(n + 1)).collect::<Vec<_>>());
    });
}
