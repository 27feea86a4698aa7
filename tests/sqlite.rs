//! The SQLite store: real transactions, concurrency and crash safety (B6).
#![cfg(feature = "sqlite")]

use std::path::PathBuf;

use contact_sync::*;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("contact-sync-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("contacts.db")
}

const T: TenantId = TenantId::from_u128(1);

fn registration(event: u128, subject: u128, email: &str) -> Event {
    Event::Registered(Registration::new(
        EventId::from_u128(event),
        T,
        vec![Subject::attendee(
            SubjectId::from_u128(subject),
            Fields::from_pairs([("email", email)]),
        )],
    ))
}

#[test]
fn b6_sqlite_schema_is_created_and_versioned_and_reopens() {
    let path = temp_db("schema");
    {
        let s = SqliteStore::open(&path, Normalization::default()).unwrap();
        s.insert(&Record::new(
            RecordId::from_u128(1),
            T,
            RecordType::Lead,
            Fields::from_pairs([("email", "Ann@Example.org"), ("first_name", "Ann")]),
        ))
        .unwrap();
    }
    let s = SqliteStore::open(&path, Normalization::default()).unwrap();
    let key = EmailKey::parse("ann@example.org", &Normalization::default())
        .unwrap()
        .unwrap();
    let found = s.records_by_email(T, &key).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].record_type, RecordType::Lead);
    assert_eq!(found[0].fields.text("first_name"), "Ann");
    assert!(matches!(
        s.insert(&found[0]),
        Err(contact_sync::SqliteError::Exists(_))
    ));
}

#[test]
fn b1_sqlite_keys_compare_exactly_as_b1_computes_them() {
    let s = SqliteStore::open_in_memory(Normalization::default()).unwrap();
    s.insert(&Record::new(
        RecordId::from_u128(1),
        T,
        RecordType::Contact,
        Fields::from_pairs([("email", "ÄNNE@BÜCHER.example")]),
    ))
    .unwrap();
    let k = |e: &str| {
        EmailKey::parse(e, &Normalization::default())
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        s.records_by_email(T, &k("änne@xn--bcher-kva.example"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.records_by_email(T, &k("anne@bücher.example"))
            .unwrap()
            .len(),
        0,
        "no accent folding"
    );
}

/// Plans, applies, re-plans on a conflict.
fn register(store: &SqliteStore, engine: &Engine, ev: &Event) -> Plan {
    for _ in 0..200 {
        let plan = engine.plan(store, ev).unwrap();
        match store.apply(&plan) {
            Ok(()) => return plan,
            Err(ApplyError::Conflict(_)) => continue,
            Err(e) => panic!("apply failed: {e}"),
        }
    }
    panic!("no attempt succeeded");
}

#[test]
fn b6_sqlite_eight_connections_fifty_rounds_one_record_per_new_email() {
    let path = temp_db("concurrency");
    drop(SqliteStore::open(&path, Normalization::default()).unwrap());
    let engine = Engine::new(Policy::doo()).unwrap();
    let rounds: u128 = std::env::var("CONTACT_SYNC_SQLITE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let stores: Vec<SqliteStore> = (0..8)
        .map(|_| SqliteStore::open(&path, Normalization::default()).unwrap())
        .collect();
    for round in 0..rounds {
        let email = format!("race{round}@example.org");
        let linked: Vec<RecordId> = std::thread::scope(|scope| {
            let hs: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(i, store)| {
                    let ev = registration(round * 100 + i as u128, round * 100 + i as u128, &email);
                    let engine = &engine;
                    scope.spawn(move || register(store, engine, &ev).outcomes[0].record.unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let key = EmailKey::parse(&email, &Normalization::default())
            .unwrap()
            .unwrap();
        let records = stores[0].records_by_email(T, &key).unwrap();
        assert_eq!(records.len(), 1, "round {round}");
        assert!(linked.iter().all(|r| *r == records[0].id), "round {round}");
        for i in 0..8u128 {
            assert_eq!(
                stores[0]
                    .link_of(T, SubjectId::from_u128(round * 100 + i))
                    .unwrap(),
                Some(records[0].id)
            );
        }
    }
}

/// The child side of the crash test: applies plans of `BATCH` records until killed.
const BATCH: usize = 400;

#[test]
#[ignore = "run by b6_sqlite_crash_mid_apply_leaves_all_or_nothing as a child process"]
fn crash_child_applies_until_killed() {
    let Ok(path) = std::env::var("CONTACT_SYNC_CRASH_DB") else {
        return;
    };
    let store = SqliteStore::open(&path, Normalization::default()).unwrap();
    let engine = Engine::new(Policy::doo()).unwrap();
    for round in 0u128.. {
        let subjects: Vec<Subject> = (0..BATCH as u128)
            .map(|i| {
                Subject::attendee(
                    SubjectId::from_u128(round * 10_000 + i),
                    Fields::from_pairs([("email", format!("p{round}-{i}@example.org").as_str())]),
                )
            })
            .collect();
        let ev = Event::Registered({
            let mut r = Registration::new(EventId::from_u128(round), T, subjects);
            r.channel = Channel::Import;
            r
        });
        let plan = engine.plan(&store, &ev).unwrap();
        store.apply(&plan).unwrap();
        if round == 0 {
            std::fs::write(format!("{path}.started"), b"1").unwrap();
        }
    }
}

#[test]
fn b6_sqlite_crash_mid_apply_leaves_all_or_nothing() {
    let path = temp_db("crash");
    drop(SqliteStore::open(&path, Normalization::default()).unwrap());
    let exe = std::env::current_exe().unwrap();
    for attempt in 0..3u64 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "sqlite::crash_child_applies_until_killed",
                "--nocapture",
            ])
            .env("CONTACT_SYNC_CRASH_DB", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = PathBuf::from(format!("{}.started", path.display()));
        let t0 = std::time::Instant::now();
        while !started.exists() && t0.elapsed() < std::time::Duration::from_secs(60) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(37 + 53 * attempt));
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback by the process.
        child.wait().unwrap();
        let store = SqliteStore::open(&path, Normalization::default()).unwrap();
        let n = store.records(T).unwrap().len();
        assert!(n > 0, "the child applied nothing before it was killed");
        assert_eq!(
            n % BATCH,
            0,
            "a killed apply left {} records of a partial plan",
            n % BATCH
        );
    }
}

#[test]
fn b6_sqlite_apply_is_all_or_nothing_and_checks_preconditions() {
    let s = SqliteStore::open_in_memory(Normalization::default()).unwrap();
    let e = Engine::new(Policy::doo()).unwrap();
    let a = e.plan(&s, &registration(1, 1, "new@example.org")).unwrap();
    let b = e.plan(&s, &registration(2, 2, "new@example.org")).unwrap();
    s.apply(&a).unwrap();
    assert!(matches!(
        s.apply(&b),
        Err(ApplyError::Conflict(Conflict::EmailKeyChanged))
    ));
    assert_eq!(s.records(T).unwrap().len(), 1);
    assert_eq!(s.link_of(T, SubjectId::from_u128(2)).unwrap(), None);
}

/// A database as version 1 of the schema left it.
const SCHEMA_1: &str = "CREATE TABLE records (id BLOB PRIMARY KEY, tenant BLOB NOT NULL, record_type TEXT NOT NULL,
        email_key TEXT, ticket TEXT, fields TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
     CREATE INDEX records_by_key ON records (tenant, email_key, record_type);
     CREATE INDEX records_by_ticket ON records (tenant, ticket);
     CREATE TABLE links (tenant BLOB NOT NULL, subject BLOB NOT NULL, record BLOB NOT NULL,
        PRIMARY KEY (tenant, subject)) WITHOUT ROWID;
     CREATE TABLE events (tenant BLOB NOT NULL, id BLOB NOT NULL, digest BLOB NOT NULL,
        PRIMARY KEY (tenant, id)) WITHOUT ROWID;
     CREATE TABLE campaign_members (tenant BLOB NOT NULL, campaign TEXT NOT NULL, record BLOB NOT NULL,
        PRIMARY KEY (tenant, campaign, record)) WITHOUT ROWID;
     PRAGMA user_version = 1;";

mod a30 {
    use crate::common::*;
    use contact_sync::*;

    #[test]
    fn a30_sqlite_keeps_the_ticket_id_on_the_campaign_member_and_migrates_schema_1() {
        let path = std::env::temp_dir().join(format!("contact-sync-a30-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(crate::sqlite::SCHEMA_1).unwrap();
        }
        let store = SqliteStore::open(&path, Normalization::default()).unwrap();
        let policy = sf(RecordType::Contact).with_records_without_email();
        let order = registration_with(
            1,
            Channel::Online,
            Some("701-GALA"),
            vec![
                booker(9, &[("email", "b@example.org"), ("last_name", "Buyer")]),
                attendee(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]),
            ],
        );
        let plan = engine(policy).plan(&store, &order).unwrap();
        store.apply(&plan).unwrap();
        let id = plan.outcome(sid(10)).unwrap().record.unwrap();
        assert_eq!(
            store.campaign_memberships(T, id).unwrap(),
            vec![CampaignMember {
                campaign: CampaignId("701-GALA".into()),
                record: id,
                ticket: Some("T-1".into()),
            }]
        );
        drop(store);
        let _ = std::fs::remove_file(&path);
    }
}

mod b15 {
    use crate::common::*;
    use contact_sync::*;

    #[test]
    fn b15_sqlite_indexes_aliases_records_held_before_schema_3() {
        let path = std::env::temp_dir().join(format!("contact-sync-b15-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            // A database of schema 2 whose host stored a record with aliases.
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(crate::sqlite::SCHEMA_1).unwrap();
            conn.execute_batch(
                "ALTER TABLE campaign_members ADD COLUMN ticket TEXT;
                 CREATE INDEX links_by_record ON links (tenant, record);
                 CREATE INDEX campaign_members_by_record ON campaign_members (tenant, record);
                 PRAGMA user_version = 2;",
            )
            .unwrap();
            let f = serde_json::to_string(&fields(&[
                ("email", "kit@example.org"),
                (FieldName::EMAIL_ALIASES, "Old.Kit@example.org"),
            ]))
            .unwrap();
            conn.execute(
                "INSERT INTO records VALUES (?1, ?2, 'contact', 'kit@example.org', NULL, ?3, 1)",
                rusqlite::params![rid(7).0.as_bytes().to_vec(), T.0.as_bytes().to_vec(), f],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path, Normalization::default()).unwrap();
        let alias = EmailKey::parse("old.kit@example.org", &Normalization::default())
            .unwrap()
            .unwrap();
        let found = store.records_by_email(T, &alias).unwrap();
        assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [rid(7)]);
        // A registration with the alias finds the record (B15).
        let plan = engine(Policy::doo())
            .plan(
                &store,
                &registration(1, vec![attendee(20, &[("email", "old.kit@example.org")])]),
            )
            .unwrap();
        let o = plan.outcome(sid(20)).unwrap();
        assert_eq!(o.record, Some(rid(7)), "{}", o.explanation());
        assert_rules(o, &[RuleId::B15]);
        drop(store);
        let _ = std::fs::remove_file(&path);
    }
}

/// B19 on SQLite: records held before the blocking was set are indexed
/// then, the blocking is kept in the database (reopened, the store still
/// indexes by it), and a plan links by score.
#[test]
fn b19_sqlite_keeps_its_blocking_and_indexes_records_held_before() {
    let path = temp_db("b19");
    let e = Engine::new(crate::record_linkage::policy()).unwrap();
    let ann = Record::new(
        RecordId::from_u128(1),
        TenantId::from_u128(1),
        RecordType::Contact,
        Fields::from_pairs([
            ("email", "ann@old.example"),
            ("first_name", "Ann"),
            ("last_name", "Meyer"),
            ("date_of_birth", "1980-01-01"),
        ]),
    );
    {
        let mut s = SqliteStore::open(&path, Normalization::default()).unwrap();
        s.insert(&ann).unwrap();
        s.set_blocking(crate::record_linkage::blocking()).unwrap();
    }
    let s = SqliteStore::open(&path, Normalization::default()).unwrap();
    assert_eq!(s.blocking(), crate::record_linkage::blocking());
    let ev = Event::Registered(Registration::new(
        EventId::from_u128(2),
        TenantId::from_u128(1),
        vec![Subject::attendee(
            SubjectId::from_u128(20),
            Fields::from_pairs([
                ("email", "ann@new.example"),
                ("first_name", "Ann"),
                ("last_name", "Meyers"),
                ("date_of_birth", "1980-01-01"),
            ]),
        )],
    ));
    let plan = e.plan(&s, &ev).unwrap();
    let o = plan.outcome(SubjectId::from_u128(20)).unwrap();
    assert_eq!(
        o.record,
        Some(RecordId::from_u128(1)),
        "{}",
        o.explanation()
    );
    assert!(o.rules.contains(&RuleId::B19));
    s.apply(&plan).unwrap();
    let _ = std::fs::remove_file(&path);
}

/// A5 on SQLite: `campaign_members` lists the campaign's members sorted by
/// id, of the tenant only, and no one for another campaign.
#[test]
fn a5_sqlite_lists_a_campaigns_members_sorted_per_tenant() {
    let path = temp_db("campaign-members");
    let s = SqliteStore::open(&path, Normalization::default()).unwrap();
    let spring = CampaignId("spring".into());
    let other = TenantId::from_u128(2);
    let record = |n: u128, t: TenantId| {
        Record::new(
            RecordId::from_u128(n),
            t,
            RecordType::Contact,
            Fields::from_pairs([("email", format!("p{n}@example.org"))]),
        )
    };
    for (n, t) in [(3, T), (1, T), (2, other)] {
        s.insert(&record(n, t)).unwrap();
    }
    for (n, t) in [(3, T), (1, T), (2, other)] {
        let plan = Plan::new(t).with_effects([Effect::add_campaign_member(
            RecordId::from_u128(n),
            spring.clone(),
            None,
        )]);
        s.apply(&plan).unwrap();
    }
    assert_eq!(
        s.campaign_members(T, &spring).unwrap(),
        [RecordId::from_u128(1), RecordId::from_u128(3)]
    );
    assert_eq!(
        s.campaign_members(other, &spring).unwrap(),
        [RecordId::from_u128(2)]
    );
    assert!(s
        .campaign_members(T, &CampaignId("autumn".into()))
        .unwrap()
        .is_empty());
}
