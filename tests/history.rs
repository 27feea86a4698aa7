//! A field history a host can store (B17): every applied plan's field
//! changes, append-only, read back per record in order.

use crate::common::*;
use contact_sync::*;

fn acme() -> InMemoryStore {
    store_with(vec![contact(
        1,
        &[("email", "ann@example.org"), ("company", "Acme")],
    )])
}

fn company(n: u128, value: &str) -> Event {
    registration(
        n,
        vec![booker(
            10,
            &[("email", "ann@example.org"), ("company", value)],
        )],
    )
}

/// An entry as field, old value, new value, event and rule.
type Row<'a> = (&'a str, Option<&'a str>, &'a str, Option<EventId>, RuleId);

fn entries(h: &[HistoryEntry]) -> Vec<Row<'_>> {
    h.iter()
        .map(|e| {
            (
                e.field.as_str(),
                e.old.as_ref().map(FieldValue::as_str),
                e.new.as_str(),
                e.event,
                e.rule,
            )
        })
        .collect()
}

#[test]
fn b17_d18_an_overwritten_value_is_recovered_from_the_history() {
    let store = acme();
    let sync = Policy::doo().with_sync(true);
    run(&sync, &store, &company(1, "Globex"));
    run(&sync, &store, &company(2, "Initech"));
    // D18: the record holds only the last value...
    assert_eq!(text(&store, rid(1), "company"), "Initech");
    // ...and the history every value it had, oldest first.
    let h = store.record_history(T, rid(1)).unwrap();
    assert_eq!(
        entries(&h),
        [
            ("company", Some("Acme"), "Globex", Some(eid(1)), RuleId::D13),
            (
                "company",
                Some("Globex"),
                "Initech",
                Some(eid(2)),
                RuleId::D13
            ),
        ]
    );
    assert!(
        store.record_history(OTHER, rid(1)).unwrap().is_empty(),
        "per tenant"
    );
    // Entries show values by their size only.
    assert!(!format!("{h:?}").contains("Acme"), "{h:?}");
}

#[test]
fn b17_a_created_record_enters_the_history_with_its_creating_rule() {
    for (policy, rule) in [
        (Policy::doo(), RuleId::D6),
        (sf(RecordType::Contact), RuleId::A4),
    ] {
        let store = InMemoryStore::new();
        let plan = run(
            &policy,
            &store,
            &registration(
                1,
                vec![attendee(
                    10,
                    &[("email", "kim@example.org"), ("first_name", "Kim")],
                )],
            ),
        );
        let id = plan.created().next().unwrap().id;
        let h = store.record_history(T, id).unwrap();
        assert_eq!(
            entries(&h),
            [
                ("email", None, "kim@example.org", Some(eid(1)), rule),
                ("first_name", None, "Kim", Some(eid(1)), rule),
            ]
        );
    }
}

#[test]
fn b17_a22_a4_each_record_of_one_order_cites_its_own_creating_rule() {
    // One order creates the buyer's record although one has the buyer's
    // email (A22), and the holder's, which matches none (A4): each
    // record's history names the rule that created that record.
    let store = store_with(vec![contact(1, &[("email", "buyer@example.org")])]);
    let p = sf(RecordType::Contact).with_buyer_records(true);
    let plan = run(
        &p,
        &store,
        &order(
            1,
            vec![
                booker(9, &[("email", "buyer@example.org")]),
                attendee(10, &[("email", "holder@example.org")]),
            ],
        ),
    );
    for (subject, rule) in [(9, RuleId::A22), (10, RuleId::A4)] {
        let id = outcome(&plan, subject).record.unwrap();
        let h = store.record_history(T, id).unwrap();
        assert!(!h.is_empty());
        assert!(
            h.iter().all(|e| e.rule == rule),
            "subject {subject}: {:?}",
            entries(&h)
        );
    }
}

#[test]
fn b14_b17_the_submitter_is_kept_where_the_event_says() {
    let store = acme();
    let event = match company(1, "Globex") {
        Event::Registered(r) => Event::Registered(r.submitter(Submitter::Import)),
        other => other,
    };
    let p = Policy::doo().with_sync(true);
    run(&p, &store, &event);
    run(&p, &store, &company(2, "Initech"));
    let h = store.record_history(T, rid(1)).unwrap();
    let who: Vec<Option<Submitter>> = h.iter().map(|e| e.submitter).collect();
    assert_eq!(who, [Some(Submitter::Import), None]);
}

#[test]
fn b5_b17_a_batch_attributes_each_change_to_its_event() {
    let store = acme();
    let events = [
        company(1, "Globex"),
        registration(2, vec![attendee(20, &[("email", "bo@example.org")])]),
        company(3, "Initech"),
    ];
    let plan = engine(Policy::doo().with_sync(true))
        .plan_batch(&store, &events)
        .unwrap();
    assert_eq!(plan.effect_ends.len(), 3);
    let h = plan.history();
    let by_event: Vec<(Option<EventId>, &str)> =
        h.iter().map(|e| (e.event, e.field.as_str())).collect();
    assert_eq!(
        by_event,
        [
            (Some(eid(1)), "company"),
            (Some(eid(2)), "email"),
            (Some(eid(3)), "company")
        ]
    );
    // A plan's history survives its JSON.
    let back: Plan = serde_json::from_str(&plan.to_json()).unwrap();
    assert_eq!(back.history(), h);
    // A plan built by hand knows no events.
    let mut bare = plan.clone();
    bare.effect_ends.clear();
    assert!(bare.history().iter().all(|e| e.event.is_none()));
}

#[cfg(feature = "sqlite")]
#[test]
fn b17_sqlite_keeps_the_history_across_reopening() {
    let path = std::env::temp_dir().join(format!("contact-sync-b17-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let sync = Policy::doo().with_sync(true);
    let memory = acme();
    {
        let s = SqliteStore::open(&path, Normalization::default()).unwrap();
        s.insert(&contact(
            1,
            &[("email", "ann@example.org"), ("company", "Acme")],
        ))
        .unwrap();
        for (n, v) in [(1, "Globex"), (2, "Initech")] {
            let e = company(n, v);
            let plan = engine(sync.clone()).plan(&s, &e).unwrap();
            s.apply(&plan).unwrap();
            run(&sync, &memory, &e);
        }
    }
    let s = SqliteStore::open(&path, Normalization::default()).unwrap();
    assert_eq!(
        s.record_history(T, rid(1)).unwrap(),
        memory.record_history(T, rid(1)).unwrap()
    );
    assert_eq!(s.record_history(T, rid(1)).unwrap().len(), 2);
    let _ = std::fs::remove_file(&path);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_history() -> impl Strategy<Value = Vec<Event>> {
        let email = prop_oneof![
            Just("ann@example.org"),
            Just("ANN@example.org"),
            Just("bo@example.org"),
        ];
        let company = prop_oneof![Just("Acme"), Just("Globex"), Just("")];
        let city = prop_oneof![Just("Graz"), Just(""), Just("Linz")];
        prop::collection::vec((email, company, city, 0u128..3), 1..8).prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (e, c, t, who))| {
                    registration(
                        i as u128 + 1,
                        vec![booker(
                            10 + who,
                            &[("email", e), ("company", c), ("city", t)],
                        )],
                    )
                })
                .collect()
        })
    }

    proptest! {
        /// B17: a record's history is a chain: each entry's old value is
        /// the value before it, and replaying the entries over the record
        /// as it was gives the record as it is.
        #[test]
        fn b17_replaying_the_history_gives_the_record(
            history in any_history(),
            sync in any::<bool>(),
        ) {
            let store = acme();
            let p = Policy::doo().with_sync(sync);
            for e in &history {
                run(&p, &store, e);
            }
            let before = contact(1, &[("email", "ann@example.org"), ("company", "Acme")]);
            for r in store.records(T) {
                let mut replayed = if r.id == before.id { before.fields.clone() } else { Fields::new() };
                for h in store.record_history(T, r.id).unwrap() {
                    prop_assert_eq!(h.record, r.id);
                    prop_assert_eq!(replayed.get(h.field.as_str()), h.old.as_ref(), "{:?}", h.field);
                    replayed.set(h.field.clone(), h.new.clone());
                }
                prop_assert_eq!(&replayed, &r.fields);
            }
        }
    }
}
