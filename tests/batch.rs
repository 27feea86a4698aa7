//! B5: batches see themselves.

use crate::common::*;
use contact_sync::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const POOL: &[&str] = &[
    "a@example.org",
    "A@Example.org",
    "b@example.org",
    "c@example.org",
    "d@example.org",
    "",
];

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (
            prop::sample::select(POOL),
            prop::sample::select(&["", "Ann", "Ben"][..]),
            prop::sample::select(&["", "Acme", "Globex"][..]),
        ),
        1..12,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (e, n, c))| {
                registration(
                    1000 + i as u128,
                    vec![attendee(
                        100 + i as u128,
                        &[("email", e), ("first_name", n), ("company", c)],
                    )],
                )
            })
            .collect()
    })
}

/// Registrations as in [`events`], some followed by edits of an earlier
/// subject in the batch, which may change its email (and so move its record
/// between keys) or blank it.
fn events_with_edits() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (
            any::<bool>(),
            any::<prop::sample::Index>(),
            prop::sample::select(POOL),
            prop::sample::select(&["", "Ann", "Ben"][..]),
            prop::sample::select(vec![
                EditSource::SelfService,
                EditSource::Organizer { sync: None },
                EditSource::UpdateTrigger,
            ]),
        ),
        1..12,
    )
    .prop_map(|v| {
        let mut out: Vec<Event> = Vec::new();
        let mut subjects: Vec<Subject> = Vec::new();
        for (i, (is_edit, pick, e, n, source)) in v.into_iter().enumerate() {
            let ev = 1000 + i as u128;
            if is_edit && !subjects.is_empty() {
                let s = subjects[pick.index(subjects.len())].clone();
                out.push(edit(ev, s, &[("email", e), ("first_name", n)], source));
            } else {
                let s = attendee(100 + i as u128, &[("email", e), ("first_name", n)]);
                subjects.push(s.clone());
                out.push(registration(ev, vec![s]));
            }
        }
        out
    })
}

fn existing() -> Vec<Record> {
    vec![
        contact(1, &[("email", "b@example.org"), ("first_name", "Bo")]),
        contact(2, &[("email", "c@example.org")]),
        contact(3, &[("email", "C@example.org")]),
    ]
}

fn state(store: &InMemoryStore) -> (Vec<Record>, std::collections::BTreeMap<SubjectId, RecordId>) {
    (store.records(T), store.links(T))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// For any order of a batch: one record per new key, and the same final
    /// state as planning and applying one event at a time.
    #[test]
    fn b5_batch_creates_one_record_per_new_key_and_equals_sequential(
        p in prop::sample::select(vec![Policy::doo(), Policy::doo_external_master(), Policy::salesforce(RecordType::Contact)]),
        evs in events(),
    ) {
        let e = engine(p.clone());
        let batch_store = store_with(existing());
        let plan = e.plan_batch(&batch_store, &evs).unwrap();
        batch_store.apply(&plan).unwrap();

        let seq_store = store_with(existing());
        for ev in &evs {
            let plan = e.plan(&seq_store, ev).unwrap();
            seq_store.apply(&plan).unwrap();
        }
        prop_assert_eq!(state(&batch_store), state(&seq_store));

        // One record per new key (keys no existing record has).
        let n = Normalization::default();
        let old: BTreeSet<EmailKey> = existing().iter().filter_map(|r| r.email_key(&n)).collect();
        let new_keys: BTreeSet<EmailKey> = evs.iter().flat_map(|ev| match ev {
            Event::Registered(r) => r.subjects.iter().filter_map(|s| EmailKey::parse(s.fields.text("email"), &n).unwrap()).collect::<Vec<_>>(),
            _ => vec![],
        }).filter(|k| !old.contains(k)).collect();
        let created: Vec<EmailKey> = plan.created().filter_map(|r| r.email_key(&n)).collect();
        let created_set: BTreeSet<EmailKey> = created.iter().filter(|&k| !old.contains(k)).cloned().collect();
        prop_assert_eq!(&created_set, &new_keys);
        prop_assert_eq!(created.iter().filter(|k| !old.contains(*k)).count(), new_keys.len());
    }

    /// The streaming dry run decides exactly what the batch plan decides,
    /// event by event; repeating an event in the batch is a redelivery there too.
    #[test]
    fn b5_dry_run_hands_over_the_batch_plan_event_by_event(
        p in prop::sample::select(vec![Policy::doo(), Policy::doo_external_master(), Policy::salesforce(RecordType::Contact)]),
        evs in prop_oneof![events(), events_with_edits()],
        repeat in any::<bool>(),
    ) {
        let mut evs = evs;
        if repeat {
            evs.push(evs[0].clone());
        }
        let e = engine(p);
        let store = store_with(existing());
        let plan = e.plan_batch(&store, &evs).unwrap();
        let (mut outcomes, mut effects, mut warnings, mut order) = (vec![], vec![], vec![], vec![]);
        let mut foreign = 0;
        e.dry_run(&store, &evs, |d| {
            foreign += d.outcomes.iter().filter(|o| o.event != d.event).count();
            order.push(d.event);
            outcomes.extend_from_slice(d.outcomes);
            effects.extend_from_slice(d.effects);
            warnings.extend_from_slice(d.warnings);
        }).unwrap();
        prop_assert_eq!(foreign, 0, "every part holds its own event's outcomes only");
        prop_assert_eq!(order, evs.iter().map(|e| e.id()).collect::<Vec<_>>());
        prop_assert_eq!(outcomes, plan.outcomes);
        prop_assert_eq!(effects, plan.effects);
        prop_assert_eq!(warnings, plan.warnings);
        // A dry run applies nothing.
        prop_assert_eq!(state(&store), state(&store_with(existing())));
    }

    /// Reversing the batch changes who creates, never how many.
    #[test]
    fn b5_any_order_creates_the_same_number_of_records(evs in events()) {
        let e = engine(Policy::doo());
        let forward = e.plan_batch(&store_with(existing()), &evs).unwrap();
        let mut rev = evs.clone();
        rev.reverse();
        let backward = e.plan_batch(&store_with(existing()), &rev).unwrap();
        prop_assert_eq!(forward.created().count(), backward.created().count());
    }
}

#[test]
fn b5_two_registrations_of_one_new_email_in_a_batch_create_one_record() {
    let store = InMemoryStore::new();
    let evs = vec![
        registration(1, vec![attendee(10, &[("email", "new@example.org")])]),
        registration(2, vec![attendee(11, &[("email", "NEW@example.org ")])]),
    ];
    let plan = engine(Policy::doo()).plan_batch(&store, &evs).unwrap();
    assert_eq!(plan.created().count(), 1);
    assert_eq!(plan.events, vec![eid(1), eid(2)]);
    assert_eq!(outcome(&plan, 11).decision, Decision::Linked);
    store.apply(&plan).unwrap();
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn b5_a_batch_must_hold_one_tenant() {
    let mut other = registration(2, vec![attendee(11, &[("email", "x@example.org")])]);
    if let Event::Registered(r) = &mut other {
        r.tenant = OTHER;
    }
    let evs = vec![
        registration(1, vec![attendee(10, &[("email", "x@example.org")])]),
        other,
    ];
    assert!(matches!(
        engine(Policy::doo()).plan_batch(&InMemoryStore::new(), &evs),
        Err(PlanError::Invalid(Error::MixedTenants))
    ));
}

#[test]
fn b7_dry_run_tells_redeliveries_and_reused_ids_apart() {
    let e = engine(Policy::doo());
    let store = store_with(existing());
    let first = registration(1, vec![attendee(10, &[("email", "new@example.org")])]);
    let other = registration(1, vec![attendee(10, &[("email", "other@example.org")])]);
    // The same id with another payload, inside one batch: an error.
    let err = e
        .dry_run(&store, &[first.clone(), other.clone()], |_| {})
        .unwrap_err();
    assert!(
        matches!(err, PlanError::Invalid(Error::EventPayloadChanged(_))),
        "{err}"
    );
    // Applied before: a redelivery decides nothing; another payload is an error.
    store.apply(&e.plan(&store, &first).unwrap()).unwrap();
    let mut decisions = vec![];
    e.dry_run(&store, std::slice::from_ref(&first), |d| {
        decisions.extend(d.outcomes.iter().map(|o| o.decision))
    })
    .unwrap();
    assert_eq!(decisions, vec![Decision::NoChange]);
    let err = e.dry_run(&store, &[other], |_| {}).unwrap_err();
    assert!(
        matches!(err, PlanError::Invalid(Error::EventPayloadChanged(_))),
        "{err}"
    );
}

/// A group booking: thousands of attendees of one registration share the
/// booker's email, which one record holds. The dry run (which keeps no reads
/// between events) decides what the plan decides: every attendee linked to
/// that record, its empty field filled once.
#[test]
fn b5_dry_run_of_a_group_booking_sharing_one_email_equals_the_plan() {
    let store = store_with(vec![contact(1, &[("email", "team@example.org")])]);
    let attendees: Vec<Subject> = (0..2_000)
        .map(|i| {
            attendee(
                100 + i,
                &[("email", "Team@example.org"), ("company", "Acme")],
            )
        })
        .collect();
    let evs = vec![registration(1, attendees)];
    let e = engine(Policy::doo());
    let plan = e.plan_batch(&store, &evs).unwrap();
    let mut outcomes = Vec::new();
    let mut effects = Vec::new();
    e.dry_run(&store, &evs, |d| {
        outcomes.extend_from_slice(d.outcomes);
        effects.extend_from_slice(d.effects);
    })
    .unwrap();
    assert_eq!(outcomes, plan.outcomes);
    assert_eq!(effects, plan.effects);
    assert_eq!(outcomes.len(), 2_000);
    assert!(outcomes.iter().all(|o| o.record == Some(rid(1))));
    let updates = effects
        .iter()
        .filter(|x| matches!(x, Effect::UpdateRecord { .. }))
        .count();
    assert_eq!(
        updates, 1,
        "the company is filled by the first attendee only"
    );
}

/// Batches of every kind of event: registrations (some linked to or
/// prefilled from a stored record), edits of earlier subjects, relinks to
/// stored or created records, record changes (which may change a record's
/// email) and repeated events.
fn mixed_events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (
            0u8..6,
            any::<prop::sample::Index>(),
            prop::sample::select(POOL),
            prop::sample::select(&["", "Ann", "Ben"][..]),
            0u128..5,
        ),
        1..16,
    )
    .prop_map(|v| {
        let mut out: Vec<Event> = Vec::new();
        let mut subjects: Vec<Subject> = Vec::new();
        for (i, (kind, pick, e, n, r)) in v.into_iter().enumerate() {
            let ev = 1000 + i as u128;
            let earlier =
                (!subjects.is_empty()).then(|| subjects[pick.index(subjects.len())].clone());
            match (kind, earlier) {
                (1, Some(s)) => out.push(edit(
                    ev,
                    s,
                    &[("email", e), ("first_name", n)],
                    EditSource::SelfService,
                )),
                (2, Some(s)) => {
                    let to = if r == 0 {
                        derive_record_id(T, eid(1000), sid(100), Role::Attendee)
                    } else {
                        rid(r)
                    };
                    out.push(Event::Relinked(Relink::new(eid(ev), T, s, to)));
                }
                (3, _) if r > 0 => out.push(Event::RecordChanged(RecordChange::new(
                    eid(ev),
                    T,
                    rid(r),
                    fields(&[("email", e), ("first_name", n)]),
                    vec![],
                ))),
                (4, _) if !out.is_empty() => {
                    let again = out[pick.index(out.len())].clone();
                    out.push(again);
                }
                (k, _) => {
                    let mut s = attendee(100 + i as u128, &[("email", e), ("first_name", n)]);
                    if k == 5 && r > 0 {
                        s.link = Some(rid(r));
                    } else if k == 3 && r > 0 {
                        s.prefill = Some(rid(r));
                    }
                    subjects.push(s.clone());
                    out.push(registration(ev, vec![s]));
                }
            }
        }
        out
    })
}

fn collected(
    r: Result<(), PlanError<std::convert::Infallible>>,
    got: Vec<String>,
) -> (Vec<String>, Option<String>) {
    (got, r.err().map(|e| format!("{e:?}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// B5: the threaded dry run hands over exactly what one thread hands
    /// over, in the same order, for any number of threads (and fails at
    /// the same event with the same error).
    #[test]
    fn b5_the_threaded_dry_run_equals_one_thread(
        p in contact_sync::strategies::policy(),
        evs in prop_oneof![events(), events_with_edits(), mixed_events()],
        threads in 2usize..5,
    ) {
        let e = engine(p);
        let store = store_with(vec![
            contact(1, &[("email", "b@example.org"), ("first_name", "Bo")]),
            contact(2, &[("email", "c@example.org")]),
            contact(3, &[("email", "C@example.org")]),
            lead(4, &[("email", "a@example.org")]),
        ]);
        let show = |d: &Decided<'_>| format!("{:?} {:?} {:?} {:?}", d.event, d.outcomes, d.effects, d.warnings);
        let mut one = Vec::new();
        let r1 = e.dry_run(&store, &evs, |d| one.push(show(d)));
        let mut many = Vec::new();
        let rn = e.dry_run_threads(&store, &evs, threads, |d| many.push(show(d)));
        prop_assert_eq!(collected(r1, one), collected(rn, many));
    }
}
