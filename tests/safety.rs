//! Safe where real systems break (B6, B7, B8): concurrency, retries,
//! redeliveries, tenants, hostile input.
//!
//! Heavy variants: `CONTACT_SYNC_HEAVY=1 cargo test --release --test safety`.

use crate::common::*;
use contact_sync::scenario::Scenario;
use contact_sync::*;
use std::collections::BTreeMap;
use std::sync::{Barrier, Mutex};

fn heavy() -> bool {
    std::env::var_os("CONTACT_SYNC_HEAVY").is_some()
}

/// N threads register one new email at once (every thread decides before
/// any applies); returns (records with the key, conflicts met, links).
fn race<S: ContactStore + ApplyPlan + Sync>(
    store: &S,
    n: usize,
    round: u128,
) -> (usize, usize, Vec<Option<RecordId>>) {
    let email = format!("race{round}@example.org");
    let barrier = Barrier::new(n);
    let engine = engine(Policy::doo().with_sync(true));
    let results: Vec<(usize, Option<RecordId>)> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..n as u128)
            .map(|i| {
                let (barrier, engine, email) = (&barrier, &engine, &email);
                scope.spawn(move || {
                    let ev = registration(
                        round * 1000 + i,
                        vec![attendee(round * 1000 + i, &[("email", email)])],
                    );
                    let mut conflicts = 0;
                    for attempt in 0..100 {
                        let plan = engine.plan(store, &ev).unwrap();
                        if attempt == 0 {
                            barrier.wait();
                        }
                        match store.apply(&plan) {
                            Ok(()) => return (conflicts, plan.outcomes[0].record),
                            Err(ApplyError::Conflict(_)) => conflicts += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    panic!("never applied");
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let key = EmailKey::parse(&email, &Normalization::default())
        .unwrap()
        .unwrap();
    let records = store.records_by_email(T, &key).unwrap().len();
    (
        records,
        results.iter().map(|r| r.0).sum(),
        results.into_iter().map(|r| r.1).collect(),
    )
}

#[test]
fn b6_concurrent_registrations_of_one_new_email_create_exactly_one_record() {
    let rounds = if heavy() { 200 } else { 25 };
    for n in [2, 4, 8, 16] {
        let store = InMemoryStore::new();
        for round in 0..rounds {
            let (records, conflicts, links) = race(&store, n, round);
            assert_eq!(records, 1, "n={n} round={round}");
            assert_eq!(
                conflicts,
                n - 1,
                "every loser met exactly one conflict, then linked"
            );
            let first = links[0];
            assert!(
                first.is_some() && links.iter().all(|l| *l == first),
                "n={n} round={round}: {links:?}"
            );
            for i in 0..n as u128 {
                assert_eq!(store.link_of(T, sid(round * 1000 + i)), first);
            }
        }
    }
}

#[test]
fn b6_negative_control_without_precondition_checks_duplicates_appear() {
    let store = skips_preconditions();
    let mut duplicated_rounds = 0;
    for round in 0..10 {
        let (records, _, _) = race(&store, 8, round);
        if records > 1 {
            duplicated_rounds += 1;
        }
    }
    assert!(
        duplicated_rounds > 0,
        "the race must produce duplicates without the checks"
    );
}

/// A thread's own subjects: their current fields (links are read from the store).
fn workload_event(
    thread: u128,
    i: u128,
    keys: u128,
    rng: &mut u64,
    subjects: &mut BTreeMap<u128, Fields>,
    store: &InMemoryStore,
) -> Event {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let pick = *rng;
    let id = thread * 1_000_000 + i;
    let key = format!("k{}@example.org", pick % keys as u64);
    let company = ["", "Acme", "Globex", "Initech"][(pick >> 8) as usize % 4];
    let owned: Vec<u128> = subjects.keys().copied().collect();
    if owned.is_empty() || pick.is_multiple_of(3) {
        let sub = thread * 1_000_000 + 500_000 + i;
        let f = fields(&[("email", &key), ("company", company), ("first_name", "W")]);
        subjects.insert(sub, f.clone());
        return Event::Registered(Registration::new(
            eid(id),
            T,
            vec![Subject::attendee(sid(sub), f)],
        ));
    }
    let sub = owned[(pick >> 16) as usize % owned.len()];
    let old = subjects[&sub].clone();
    let new = if pick % 3 == 1 {
        fields(&[("email", &key)])
    } else {
        fields(&[("company", company)])
    };
    let mut merged = old.clone();
    for (n, v) in new.iter() {
        merged.set(n.clone(), v.clone());
    }
    subjects.insert(sub, merged);
    let mut s = Subject::attendee(sid(sub), old);
    s.link = store.link_of(T, sid(sub));
    Event::Edited(Edit::new(eid(id), T, s, new, EditSource::SelfService))
}

#[test]
fn b6_mixed_concurrent_workload_ends_in_the_state_of_a_sequential_replay() {
    let per_thread: u128 = if heavy() { 1000 } else { 150 };
    let policy = Policy::doo().with_sync(true);
    // Records the order in which plans are committed: the log lock is held
    // across the apply, so log order = commit order.
    let log: Mutex<Vec<Event>> = Mutex::new(Vec::new());
    let pending: Mutex<BTreeMap<EventId, Event>> = Mutex::new(BTreeMap::new());
    let logged = Rigged {
        store: InMemoryStore::new(),
        apply: |store: &InMemoryStore, plan: &Plan| {
            let mut log = log.lock().unwrap();
            store.apply(plan)?;
            let mut pending = pending.lock().unwrap();
            for e in &plan.events {
                if let Some(ev) = pending.remove(e) {
                    log.push(ev);
                }
            }
            Ok(())
        },
    };
    let e = engine(policy.clone());
    std::thread::scope(|scope| {
        for thread in 1..=8u128 {
            let (logged, e, pending) = (&logged, &e, &pending);
            scope.spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (thread as u64 * 0x1234_5678);
                let mut subjects = BTreeMap::new();
                for i in 0..per_thread {
                    let ev = workload_event(thread, i, 50, &mut rng, &mut subjects, &logged.store);
                    pending.lock().unwrap().insert(ev.id(), ev.clone());
                    // Re-plan on conflict with the subject's current link.
                    let plan = e.plan_and_apply_with(logged, 1000, |_| {
                        let mut ev = ev.clone();
                        if let Event::Edited(x) = &mut ev {
                            x.subject.link = logged.store.link_of(T, x.subject.id);
                        }
                        ev
                    });
                    plan.unwrap();
                }
            });
        }
    });
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len() as u128, 8 * per_thread);
    let replay = InMemoryStore::new();
    for ev in &log {
        let mut ev = ev.clone();
        if let Event::Edited(x) = &mut ev {
            x.subject.link = replay.link_of(T, x.subject.id);
        }
        let plan = e.plan(&replay, &ev).unwrap();
        replay.apply(&plan).unwrap();
    }
    assert_eq!(replay.records(T), logged.store.records(T));
    assert_eq!(replay.links(T), logged.store.links(T));
}

#[test]
fn b6_retry_helper_gives_up_after_the_bound_with_a_clear_error() {
    let store = Rigged {
        store: InMemoryStore::new(),
        apply: |_: &InMemoryStore, _: &Plan| Err(ApplyError::Conflict(Conflict::EmailKeyChanged)),
    };
    let ev = registration(1, vec![attendee(10, &[("email", "a@example.org")])]);
    let err = engine(Policy::doo().with_sync(true))
        .plan_and_apply(&store, &ev, 3)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RetryError::Exhausted {
                attempts: 3,
                last: Conflict::EmailKeyChanged
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("gave up after 3 attempt(s)"),
        "{err}"
    );
    // A working store succeeds on the first attempt.
    let ok = InMemoryStore::new();
    let plan = engine(Policy::doo().with_sync(true))
        .plan_and_apply(&ok, &ev, 3)
        .unwrap();
    assert_eq!(plan.created().count(), 1);
}

#[test]
fn b7_replaying_an_event_gives_a_byte_identical_plan_and_applying_twice_changes_nothing() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let ev = registration(
        1,
        vec![
            booker(10, &[("email", "ann@example.org"), ("company", "X")]),
            attendee(11, &[("email", "new@example.org")]),
        ],
    );
    let e = engine(Policy::doo().with_sync(true));
    let a = serde_json::to_string(&e.plan(&store, &ev).unwrap()).unwrap();
    let b = serde_json::to_string(&e.plan(&store, &ev).unwrap()).unwrap();
    assert_eq!(a, b);
    let plan = e.plan(&store, &ev).unwrap();
    // New record ids are derived, not random.
    let created = plan.created().next().unwrap().id;
    assert_eq!(
        created,
        derive_record_id(T, eid(1), sid(11), Role::Attendee)
    );
    store.apply(&plan).unwrap();
    let before = (store.records(T), store.links(T));
    assert!(matches!(store.apply(&plan), Err(ApplyError::Conflict(_))));
    assert_eq!((store.records(T), store.links(T)), before);
    // A redelivery plans nothing and says why.
    let again = e.plan(&store, &ev).unwrap();
    assert!(again.effects.is_empty());
    assert!(again
        .outcomes
        .iter()
        .all(|o| o.decision == Decision::NoChange && o.rules == [RuleId::B7]));
    store.apply(&again).unwrap();
    assert_eq!((store.records(T), store.links(T)), before);
}

#[test]
fn b7_the_same_event_id_with_a_different_payload_is_an_error() {
    let store = InMemoryStore::new();
    let e = engine(Policy::doo().with_sync(true));
    run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(1, vec![attendee(10, &[("email", "a@example.org")])]),
    );
    let changed = registration(1, vec![attendee(10, &[("email", "b@example.org")])]);
    assert!(
        matches!(e.plan(&store, &changed), Err(PlanError::Invalid(Error::EventPayloadChanged(id))) if id == eid(1))
    );
    // And within one batch.
    let batch = vec![
        registration(2, vec![attendee(20, &[("email", "c@example.org")])]),
        registration(2, vec![attendee(20, &[("email", "d@example.org")])]),
    ];
    assert!(matches!(
        e.plan_batch(&InMemoryStore::new(), &batch),
        Err(PlanError::Invalid(Error::EventPayloadChanged(_)))
    ));
}

#[test]
fn b7_redeliveries_shuffled_within_a_window_end_in_the_exactly_once_state() {
    let n = 500u128;
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let email = format!("p{}@example.org", i % 120);
            registration(
                10_000 + i,
                vec![attendee(
                    20_000 + i,
                    &[
                        ("email", &email),
                        ("company", ["A", "B", "C"][i as usize % 3]),
                    ],
                )],
            )
        })
        .collect();
    let e = engine(Policy::doo().with_sync(true));
    let once = InMemoryStore::new();
    for ev in &events {
        e.plan_and_apply(&once, ev, 10).unwrap();
    }
    // Each event delivered 1-3 times, shuffled within windows of 10.
    let mut rng = 42u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut deliveries: Vec<&Event> = Vec::new();
    for chunk in events.chunks(10) {
        let mut window: Vec<&Event> = Vec::new();
        for ev in chunk {
            for _ in 0..1 + next() % 3 {
                window.push(ev);
            }
        }
        for i in (1..window.len()).rev() {
            window.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        deliveries.extend(window);
    }
    assert!(deliveries.len() > events.len());
    // The exactly-once reference applies the events in first-delivery order.
    let mut first_seen = Vec::new();
    for ev in &deliveries {
        if !first_seen.contains(&ev.id()) {
            first_seen.push(ev.id());
        }
    }
    let reference = InMemoryStore::new();
    for id in &first_seen {
        let ev = events.iter().find(|x| x.id() == *id).unwrap();
        e.plan_and_apply(&reference, ev, 10).unwrap();
    }
    let store = InMemoryStore::new();
    for ev in &deliveries {
        e.plan_and_apply(&store, ev, 10).unwrap();
    }
    assert_eq!(store.records(T), reference.records(T));
    assert_eq!(store.links(T), reference.links(T));
    let _ = once;
}

#[test]
fn b8_prefill_or_relink_to_a_foreign_or_missing_record_is_one_undistinguishable_error() {
    let store = store_with(vec![Record::new(
        rid(5),
        OTHER,
        RecordType::Contact,
        fields(&[("email", "x@example.org")]),
    )]);
    let e = engine(Policy::doo().with_sync(true));
    let relink = |to| Event::Relinked(Relink::new(eid(1), T, attendee(10, &[]), to));
    let foreign = e.plan(&store, &relink(rid(5))).unwrap_err().to_string();
    let missing = e.plan(&store, &relink(rid(6))).unwrap_err().to_string();
    assert_eq!(
        foreign.replace(&rid(5).to_string(), "ID"),
        missing.replace(&rid(6).to_string(), "ID")
    );
}

#[test]
fn b8_retain_with_sync_on_does_not_silently_overwrite_a_prefilled_records_email() {
    let records = || {
        vec![contact(
            1,
            &[("email", "someone.else@example.org"), ("first_name", "Ann")],
        )]
    };
    let s = || {
        booker(10, &[("email", "ann@example.org"), ("first_name", "Ann")]).prefilled_from(rid(1))
    };
    // Default (D9): overwritten, with a warning.
    let store = store_with(records());
    let plan = run(
        &Policy::doo()
            .with_sync(true)
            .with_email_change(EmailChange::Retain),
        &store,
        &registration(1, vec![s()]),
    );
    assert!(plan.warnings.contains(&Warning::RecordEmailOverwritten {
        subject: sid(10),
        record: rid(1)
    }));
    assert_eq!(text(&store, rid(1), "email"), "ann@example.org");
    // The policy keeps it, with a warning.
    let mut p = Policy::doo()
        .with_sync(true)
        .with_email_change(EmailChange::Retain);
    p.retained_email = RetainedEmail::Keep;
    let store = store_with(records());
    let plan = run(&p, &store, &registration(1, vec![s()]));
    assert_eq!(
        plan.warnings,
        vec![Warning::RecordEmailKept {
            subject: sid(10),
            record: rid(1)
        }]
    );
    assert_eq!(text(&store, rid(1), "email"), "someone.else@example.org");
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
}

#[test]
fn hostile_inputs_get_typed_errors_not_panics() {
    let e = engine(strict(Policy::doo().with_sync(true)));
    let store = InMemoryStore::new();
    let mib = "a".repeat(1 << 20);
    // A 1 MiB email: rejected by the field limit before any parsing.
    let r = e.plan(
        &store,
        &registration(
            1,
            vec![attendee(10, &[("email", &format!("{mib}@example.org"))])],
        ),
    );
    assert!(
        matches!(r, Err(PlanError::Invalid(Error::FieldTooLong { len, limit: 65536, .. })) if len > 1 << 20)
    );
    // With the limit raised, the email parser still rejects it in linear time.
    let mut p = strict(Policy::doo().with_sync(true));
    p.limits.max_field_len = 2 << 20;
    let r = engine(p).plan(
        &store,
        &registration(
            1,
            vec![attendee(10, &[("email", &format!("{mib}@example.org"))])],
        ),
    );
    assert!(matches!(
        r,
        Err(PlanError::Invalid(Error::InvalidEmail {
            source: EmailError::AddressTooLong { .. },
            ..
        }))
    ));
    // A 1 MiB field value.
    let r = e.plan(
        &store,
        &registration(1, vec![attendee(10, &[("notes", &mib)])]),
    );
    assert!(matches!(
        r,
        Err(PlanError::Invalid(Error::FieldTooLong { .. }))
    ));
    // Control characters in a field value.
    let r = e.plan(
        &store,
        &registration(1, vec![attendee(10, &[("first_name", "An\u{0}n")])]),
    );
    assert!(matches!(
        r,
        Err(PlanError::Invalid(Error::ControlCharacter { .. }))
    ));
    assert!(e
        .plan(
            &store,
            &registration(1, vec![attendee(10, &[("notes", "two\nlines\tok")])])
        )
        .is_ok());
    // Too many subjects, too many fields.
    let mut p = strict(Policy::doo().with_sync(true));
    p.limits.max_subjects = 3;
    p.limits.max_fields = 2;
    let many: Vec<Subject> = (0..4).map(|i| attendee(i, &[])).collect();
    assert!(matches!(
        engine(p.clone()).plan(&store, &registration(1, many)),
        Err(PlanError::Invalid(Error::TooManySubjects {
            count: 4,
            limit: 3
        }))
    ));
    let wide = attendee(1, &[("a", "1"), ("b", "2"), ("c", "3")]);
    assert!(matches!(
        engine(p).plan(&store, &registration(1, vec![wide])),
        Err(PlanError::Invalid(Error::TooManyFields { count: 3, .. }))
    ));
    // Unpaired surrogates through JSON: rejected by the parser.
    assert!(Policy::from_json(r#"{"fields": {"classes": {"\ud800": "name"}}}"#).is_err());
    assert!(serde_json::from_str::<Event>(r#"{"registered": {"id": "00000000-0000-0000-0000-000000000001", "tenant": "00000000-0000-0000-0000-000000000001", "subjects": [{"id": "00000000-0000-0000-0000-000000000001", "role": "booker", "fields": {"email": "\udc00@x.org"}}]}}"#).is_err());
    assert!(Scenario::from_json(
        r#"{"policy": {"preset": "doo"}, "steps": [], "description": "\ud83d"}"#
    )
    .is_err());
    // Unknown fields on events.
    assert!(serde_json::from_str::<Subject>(
        r#"{"id": "00000000-0000-0000-0000-000000000001", "role": "booker", "feilds": {}}"#
    )
    .is_err());
}

#[test]
fn debug_and_display_never_print_emails_or_field_values() {
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "secret.person@example.org"),
            ("first_name", "Secretname"),
        ],
    )]);
    let ev = registration(
        1,
        vec![booker(
            10,
            &[
                ("email", "secret.person@example.org"),
                ("first_name", "Othersecret"),
            ],
        )],
    );
    let plan = engine(Policy::doo().with_sync(true))
        .plan(&store, &ev)
        .unwrap();
    for text in [
        format!("{plan:?}"),
        format!("{ev:?}"),
        format!("{:?}", store.records(T)),
        format!("{store:?}"),
        plan.report(),
    ] {
        for secret in ["secret.person", "Secretname", "Othersecret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    let bad = registration(
        1,
        vec![booker(10, &[("email", "Secret Person <sp@example.org>")])],
    );
    let err = engine(strict(Policy::doo().with_sync(true)))
        .plan(&store, &bad)
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("Secret"));
    // Left out instead (B20): its outcome and warning quote nothing either.
    let plan = engine(Policy::doo().with_sync(true))
        .plan(&store, &bad)
        .unwrap();
    let shown = format!("{plan:?} {} {}", plan.report(), plan.to_json());
    assert!(!shown.contains("Secret"), "{shown}");
}

#[test]
fn b11_limits_sit_exactly_at_their_bounds() {
    let store = InMemoryStore::new();
    let mut p = Policy::doo();
    p.limits.max_subjects = 3;
    p.limits.max_fields = 2;
    let e = engine(p);
    let subjects = |n: u128| (0..n).map(|i| attendee(i, &[])).collect::<Vec<_>>();
    assert!(e.plan(&store, &registration(1, subjects(3))).is_ok());
    assert!(matches!(
        e.plan(&store, &registration(1, subjects(4))),
        Err(PlanError::Invalid(Error::TooManySubjects {
            count: 4,
            limit: 3
        }))
    ));
    let two = attendee(1, &[("a", "1"), ("b", "2")]);
    assert!(e.plan(&store, &registration(1, vec![two])).is_ok());
    // A record change carries subjects too.
    store
        .insert(contact(1, &[("email", "a@example.org")]))
        .unwrap();
    let change = |n: u128| {
        Event::RecordChanged(RecordChange::new(
            eid(9),
            T,
            rid(1),
            fields(&[("email", "a@example.org")]),
            subjects(n),
        ))
    };
    assert!(e.plan(&store, &change(3)).is_ok());
    assert!(matches!(
        e.plan(&store, &change(4)),
        Err(PlanError::Invalid(Error::TooManySubjects {
            count: 4,
            limit: 3
        }))
    ));
}

#[test]
fn b11_a_subject_twice_in_one_registration_is_refused() {
    let e = engine(Policy::doo());
    let twice = registration(
        1,
        vec![
            attendee(7, &[("email", "a@example.org")]),
            attendee(7, &[("email", "b@example.org")]),
        ],
    );
    assert_eq!(
        e.plan(&InMemoryStore::new(), &twice)
            .unwrap_err()
            .to_string(),
        Error::DuplicateSubject(sid(7)).to_string()
    );
}

#[test]
fn b11_control_characters_are_found_alone_and_in_pairs() {
    let e = engine(strict(Policy::doo()));
    let store = InMemoryStore::new();
    for value in [
        "\u{7f}",
        "\u{7f}\u{7f}",
        "a\u{1}\u{2}b",
        "\u{1}\u{1b}",
        "x\u{85}",
        "\u{85}\u{85}",
    ] {
        let r = e.plan(
            &store,
            &registration(1, vec![attendee(10, &[("notes", value)])]),
        );
        assert!(
            matches!(r, Err(PlanError::Invalid(Error::ControlCharacter { .. }))),
            "{value:?}: {r:?}"
        );
    }
}

#[test]
fn a28_needs_asks_for_trimmed_ticket_ids_and_no_blank_one() {
    let e = engine(Policy::doo());
    let ev = registration(
        1,
        vec![
            attendee(1, &[("email", "a@example.org"), ("ticket_id", " T-1 ")]),
            attendee(2, &[("email", "b@example.org"), ("ticket_id", "  ")]),
        ],
    );
    let needs = e.needs(&ev).unwrap();
    assert_eq!(
        needs.tickets.into_iter().collect::<Vec<_>>(),
        vec!["T-1".to_owned()]
    );
}
