//! Defects found under hostile and extreme input: every one is a test that
//! failed before its fix (B1, B6, B7, B8, B10, B12).

use crate::common::*;
use contact_sync::scenario::Scenario;
use contact_sync::*;
use proptest::prelude::*;

/// Every combination of the optional foldings.
fn normalizations() -> impl Strategy<Value = Normalization> {
    (any::<bool>(), any::<bool>()).prop_map(|(plus, dots)| Normalization {
        fold_plus_tags: plus,
        fold_gmail_dots: dots,
    })
}

/// Addresses with dots, plus tags, combining marks and case next to each
/// other, at Gmail and elsewhere: the material the foldings cut up.
fn addresses() -> impl Strategy<Value = String> {
    let local = "([a-zA-Z0-9]|\\.|\\+|e\u{301}|\u{301}|Ä|_|-){1,12}";
    let domain = prop_oneof![
        Just("gmail.com".to_owned()),
        Just("GoogleMail.com".to_owned()),
        Just("example.org".to_owned()),
        Just("bücher.example".to_owned()),
    ];
    (local, domain).prop_map(|(l, d)| format!("{l}@{d}"))
}

#[test]
fn b1_a_plus_tag_after_a_dot_is_kept_so_the_key_stays_an_address() {
    let n = Normalization {
        fold_plus_tags: true,
        fold_gmail_dots: false,
    };
    let key = EmailKey::parse("a.+news@example.org", &n).unwrap().unwrap();
    assert_eq!(key.as_str(), "a.+news@example.org");
    assert_eq!(
        EmailKey::parse("ann+news@example.org", &n)
            .unwrap()
            .unwrap()
            .as_str(),
        "ann@example.org"
    );
    // At Gmail the dots go first, so the tag folds too.
    let both = Normalization {
        fold_plus_tags: true,
        fold_gmail_dots: true,
    };
    assert_eq!(
        EmailKey::parse("a.n.n.+news@gmail.com", &both)
            .unwrap()
            .unwrap()
            .as_str(),
        "ann@gmail.com"
    );
}

#[test]
fn b1_a_gmail_dot_fold_that_joins_a_combining_mark_gives_the_composed_key() {
    let n = Normalization {
        fold_plus_tags: false,
        fold_gmail_dots: true,
    };
    let key = EmailKey::parse("e.\u{301}@gmail.com", &n).unwrap().unwrap();
    assert_eq!(key.as_str(), "\u{e9}@gmail.com");
    assert_eq!(
        serde_json::from_str::<EmailKey>(&serde_json::to_string(&key).unwrap()).unwrap(),
        key
    );
}

#[test]
fn b1_b7_a_plan_with_a_folded_key_reads_back_from_its_json() {
    let mut policy = Policy::doo().with_sync(true);
    policy.normalization.fold_plus_tags = true;
    let engine = Engine::new(policy).unwrap();
    let store = InMemoryStore::with_normalization(engine.policy().normalization);
    let event = registration(1, vec![attendee(1, &[("email", "a.+news@example.org")])]);
    let plan = engine.plan(&store, &event).unwrap();
    let back: Plan = serde_json::from_str(&plan.to_json()).unwrap();
    assert_eq!(back, plan);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn b1_every_key_parses_back_as_itself(address in addresses(), n in normalizations()) {
        if let Ok(Some(key)) = EmailKey::parse(&address, &n) {
            let back = EmailKey::try_from(key.as_str().to_owned());
            prop_assert_eq!(back, Ok(key.clone()), "{:?} under {:?}", address, n);
            // A key is a fixed point: its own key is itself.
            prop_assert_eq!(EmailKey::parse(key.as_str(), &n).unwrap(), Some(key));
        }
    }

    #[test]
    fn b1_b7_every_plan_round_trips_through_json(
        address in addresses(),
        other in addresses(),
        n in normalizations(),
        salesforce in any::<bool>(),
    ) {
        let mut policy = if salesforce { Policy::salesforce(RecordType::Contact) } else { Policy::doo().with_sync(true) };
        policy.normalization = n;
        let engine = Engine::new(policy).unwrap();
        let store = InMemoryStore::with_normalization(n);
        let _ = store.extend(vec![contact(1, &[("email", other.as_str()), ("first_name", "Ann")])]);
        let event = registration(1, vec![
            booker(1, &[("email", address.as_str()), ("first_name", "Bo")]),
            attendee(2, &[("email", other.as_str()), ("first_name", "Ann")]),
        ]);
        if let Ok(plan) = engine.plan(&store, &event) {
            let back: Plan = serde_json::from_str(&plan.to_json()).unwrap();
            prop_assert_eq!(back, plan);
        }
    }
}

fn at_version(mut r: Record, version: u64) -> Record {
    r.version = version;
    r
}

#[test]
fn b6_memory_store_refuses_a_version_overflow_and_applies_nothing() {
    let store = store_with(vec![at_version(
        contact(1, &[("email", "ann@example.org"), ("job_title", "old")]),
        u64::MAX,
    )]);
    let engine = Engine::new(Policy::doo().with_sync(true)).unwrap();
    let event = registration(
        1,
        vec![attendee(
            1,
            &[("email", "ann@example.org"), ("job_title", "new")],
        )],
    );
    let plan = engine.plan(&store, &event).unwrap();
    assert!(!plan.changes_to(rid(1)).is_empty(), "the plan must update");
    let err = store.apply(&plan).unwrap_err();
    assert!(
        matches!(err, ApplyError::VersionOverflow(r) if r == rid(1)),
        "{err:?}"
    );
    // Nothing of the plan was applied: fields, version, link and event marker.
    let r = &store.records(T)[0];
    assert_eq!((r.version, r.fields.text("job_title")), (u64::MAX, "old"));
    assert_eq!(store.link_of(T, sid(1)), None);
    assert_eq!(store.event_digest(T, eid(1)).unwrap(), None);
}

#[test]
fn b6_b12_a_scenario_record_at_the_largest_version_is_an_error_not_a_panic() {
    let json = r#"{
      "policy": { "preset": "doo", "overrides": { "sync": { "enabled": true } } },
      "records": [ { "name": "r1", "fields": { "email": "a@example.org", "job_title": "old" }, "version": 18446744073709551615 } ],
      "steps": [ { "register": { "subjects": [ { "name": "a", "fields": { "email": "a@example.org", "job_title": "new" } } ] } } ]
    }"#;
    let report = Scenario::from_json(json).unwrap().run().unwrap();
    let error = report.steps[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("version"), "{error}");
    assert_eq!(report.records[0].version, u64::MAX);
    assert_eq!(report.records[0].fields.text("job_title"), "old");
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    #[test]
    fn b6_sqlite_store_refuses_versions_above_its_range_on_the_way_in() {
        let store = SqliteStore::open_in_memory(Normalization::default()).unwrap();
        let big = at_version(
            contact(1, &[("email", "a@example.org")]),
            i64::MAX as u64 + 1,
        );
        assert!(matches!(
            store.insert(&big),
            Err(contact_sync::SqliteError::VersionOutOfRange(r)) if r == rid(1)
        ));
        assert!(store.records(T).unwrap().is_empty());
        // A plan that creates such a record is refused too.
        let plan = {
            let mut p = Plan::new(T);
            p.effects = vec![Effect::create_record(big)];
            p
        };
        assert!(matches!(
            store.apply(&plan),
            Err(ApplyError::VersionOverflow(r)) if r == rid(1)
        ));
        assert!(store.records(T).unwrap().is_empty());
    }

    #[test]
    fn b6_sqlite_store_refuses_to_raise_the_largest_version_and_applies_nothing() {
        let store = SqliteStore::open_in_memory(Normalization::default()).unwrap();
        store
            .insert(&at_version(
                contact(1, &[("email", "ann@example.org"), ("job_title", "old")]),
                i64::MAX as u64,
            ))
            .unwrap();
        let engine = Engine::new(Policy::doo().with_sync(true)).unwrap();
        let event = registration(
            1,
            vec![attendee(
                1,
                &[("email", "ann@example.org"), ("job_title", "new")],
            )],
        );
        let plan = engine.plan(&store, &event).unwrap();
        let err = store.apply(&plan).unwrap_err();
        assert!(
            matches!(err, ApplyError::VersionOverflow(r) if r == rid(1)),
            "{err:?}"
        );
        let r = &store.records(T).unwrap()[0];
        assert_eq!(
            (r.version, r.fields.text("job_title")),
            (i64::MAX as u64, "old")
        );
        assert_eq!(store.link_of(T, sid(1)).unwrap(), None);
        // The stale plan cannot apply later either: the version never stands still.
        assert!(store.apply(&plan).is_err());
    }
}

#[test]
fn b2_scenarios_and_their_reports_never_show_an_email_in_debug() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario = Scenario::from_json(&text).unwrap();
        let report = scenario.run().unwrap();
        for debug in [format!("{scenario:?}"), format!("{report:?}")] {
            assert!(!debug.contains('@'), "{}: {debug}", path.display());
        }
        seen += text.matches('@').count();
    }
    assert!(seen > 0, "the scenarios hold emails to hide");
}

#[test]
fn b2_ticket_ids_are_hidden_in_the_debug_of_needs_and_candidates() {
    let mut needs = Needs {
        tenant: T,
        ..Needs::default()
    };
    needs.tickets.insert("TICKET-SECRET-42".into());
    let mut candidates = Candidates::new(T);
    candidates.add_ticket(
        "TICKET-SECRET-42",
        vec![contact(1, &[("ticket_id", "TICKET-SECRET-42")])],
    );
    for debug in [format!("{needs:?}"), format!("{candidates:?}")] {
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("<16 bytes>"), "{debug}");
    }
}

fn registration_with_field(name: &str) -> Event {
    registration(
        1,
        vec![attendee(1, &[("email", "ann@example.org"), (name, "x")])],
    )
}

#[test]
fn b11_field_names_are_limited_in_length_and_characters_and_never_echoed() {
    let engine = Engine::new(crate::common::strict(Policy::doo().with_sync(true))).unwrap();
    let store = InMemoryStore::new();
    let huge = "n".repeat(1 << 20);
    let cases: [(&str, FieldNameProblem); 4] = [
        (
            huge.as_str(),
            FieldNameProblem::TooLong {
                len: 1 << 20,
                limit: 128,
            },
        ),
        ("a\0b", FieldNameProblem::ControlCharacter { position: 1 }),
        (
            "line\nbreak",
            FieldNameProblem::ControlCharacter { position: 4 },
        ),
        ("  ", FieldNameProblem::Empty),
    ];
    for (name, problem) in cases {
        let err = engine
            .plan(&store, &registration_with_field(name))
            .unwrap_err();
        let PlanError::Invalid(Error::InvalidFieldName {
            subject,
            problem: got,
        }) = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((*subject, *got), (sid(1), problem));
        let message = contact_sync::chain(&err);
        assert!(
            message.len() < 200 && !message.contains("nnnn"),
            "{message}"
        );
    }
    // The limit is policy data.
    let mut policy = crate::common::strict(Policy::doo().with_sync(true));
    policy.limits.max_field_name_len = 10;
    let engine = Engine::new(policy).unwrap();
    assert!(engine
        .plan(&store, &registration_with_field("long_name_x"))
        .is_err());
    assert!(engine
        .plan(&store, &registration_with_field("job_titles"))
        .is_ok());
}

#[test]
fn b11_policy_field_names_follow_the_same_rules() {
    let mut p = Policy::doo().with_sync(true);
    p.fields = p.fields.map("bad\nname", FieldClass::FormField);
    assert_eq!(
        Engine::new(p).unwrap_err(),
        PolicyError::InvalidFieldName(FieldNameProblem::ControlCharacter { position: 3 })
    );
    let mut p = Policy::doo().with_sync(true);
    p.limits.max_field_name_len = 0;
    assert_eq!(Engine::new(p).unwrap_err(), PolicyError::ZeroLimit);
}

#[test]
fn b11_b12_errors_cut_the_input_they_echo() {
    let key = "k".repeat(1 << 20);
    let policy = format!(r#"{{"{key}": 1}}"#);
    let e = Policy::from_json(&policy).unwrap_err().to_string();
    assert!(
        e.len() < 2_000 && e.contains("unknown field"),
        "{}",
        e.len()
    );
    let scenario = format!(
        r#"{{ "policy": {{ "preset": "doo" }}, "steps": [ {{ "register": {{ "subjects": [ {{ "name": "a", "{key}": 1 }} ] }} }} ] }}"#
    );
    let e = Scenario::from_json(&scenario).unwrap_err().to_string();
    assert!(
        e.len() < 2_000 && e.contains("unknown field"),
        "{}",
        e.len()
    );
    let preset = format!(r#"{{ "policy": {{ "preset": "{key}" }}, "steps": [] }}"#);
    let e = Scenario::from_json(&preset).unwrap_err().to_string();
    assert!(
        e.len() < 2_000 && e.contains("unknown preset"),
        "{}",
        e.len()
    );
    let relink = format!(
        r#"{{ "policy": {{ "preset": "doo" }}, "steps": [ {{ "relink": {{ "subject": "{key}", "to": "r" }} }} ] }}"#
    );
    let e = Scenario::from_json(&relink).unwrap_err().to_string();
    assert!(
        e.len() < 2_000 && e.contains("is not defined"),
        "{}",
        e.len()
    );
    let mut p = Policy::salesforce(RecordType::Contact);
    p.fields.unmapped_as_form_fields = false;
    p.matching.criteria = vec![FieldName::new(&"c".repeat(100))];
    let e = Engine::new(p).unwrap_err().to_string();
    assert!(e.contains("(+36 bytes)"), "{e}");
}

/// The convention: the message or `source()`, never both.
fn assert_source_not_repeated(e: &dyn std::error::Error) {
    let source = e.source().expect("a wrapping error exposes its source");
    let (message, cause) = (e.to_string(), source.to_string());
    assert!(!message.contains(&cause), "{message:?} repeats {cause:?}");
    assert_eq!(
        contact_sync::chain(e),
        format!("{message}: {}", contact_sync::chain(source))
    );
}

#[derive(Debug, thiserror::Error)]
#[error("disk full")]
struct DiskFull;

/// A real SQLite error, from opening a path that cannot be a database.
#[cfg(feature = "sqlite")]
fn rusqlite_error() -> rusqlite::Error {
    match SqliteStore::open("/nonexistent-dir/x/y.db", Normalization::default()) {
        Err(contact_sync::SqliteError::Sqlite(e)) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn b6_errors_expose_their_source_without_repeating_it() {
    let bad_email = Email::parse("a@@example.org").unwrap_err();
    assert_source_not_repeated(&Error::InvalidEmail {
        subject: sid(1),
        source: bad_email.clone(),
    });
    assert_source_not_repeated(&PlanError::<DiskFull>::Store(DiskFull));
    assert_source_not_repeated(&ApplyError::<DiskFull>::Store(DiskFull));
    assert_source_not_repeated(&ApplyError::<DiskFull>::Conflict(Conflict::EmailKeyChanged));
    assert_source_not_repeated(&ScenarioError::Policy(PolicyError::ZeroLimit));
    #[cfg(feature = "sqlite")]
    assert_source_not_repeated(&contact_sync::SqliteError::Sqlite(rusqlite_error()));
    // A transparent wrapper forwards both: the chain is the inner one's.
    let planned = PlanError::<DiskFull>::Invalid(Error::InvalidEmail {
        subject: sid(1),
        source: bad_email,
    });
    assert_source_not_repeated(&planned);
    // A scenario's step error reads as the whole chain.
    let json = r#"{ "policy": { "preset": "doo", "overrides": { "invalid_subjects": "fail" } }, "steps": [ { "register": { "subjects": [ { "name": "a", "fields": { "email": "a@@x.org" } } ] } } ] }"#;
    let report = Scenario::from_json(json).unwrap().run().unwrap();
    let step = report.steps[0].error.as_deref().unwrap();
    assert!(step.starts_with("subject a: invalid email: "), "{step}");
}

#[cfg(feature = "testkit")]
#[test]
fn b8_record_ids_are_global_in_the_memory_store() {
    contact_sync::testkit::record_ids_are_global(&InMemoryStore::new).unwrap();
}

#[cfg(all(feature = "sqlite", feature = "testkit"))]
#[test]
fn b8_record_ids_are_global_in_the_sqlite_store() {
    contact_sync::testkit::record_ids_are_global(&|| {
        SqliteStore::open_in_memory(Normalization::default()).unwrap()
    })
    .unwrap();
}
