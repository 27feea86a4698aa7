//! B20: a batch survives bad rows. A subject with invalid input gets its
//! own outcome and a warning, the rest of its event and batch goes on;
//! failing the whole plan instead is a policy choice.

use crate::common::*;
use contact_sync::*;

fn left_out(o: &Outcome) {
    assert_eq!(o.decision, Decision::NoRecord, "{}", o.explanation());
    assert_eq!(o.no_record, Some(NoRecordReason::InvalidInput));
    assert_rules(o, &[RuleId::B20]);
}

fn warned(plan: &Plan, subject: u128) -> bool {
    plan.warnings
        .iter()
        .any(|w| matches!(w, Warning::InvalidInput { subject: s, .. } if *s == sid(subject)))
}

#[test]
fn b20_an_invalid_email_leaves_its_subject_out_and_the_batch_goes_on() {
    let store = InMemoryStore::new();
    let events = vec![
        registration(1, vec![attendee(10, &[("email", "ann@example.org")])]),
        registration(
            2,
            vec![
                attendee(20, &[("email", "bo@example.org")]),
                attendee(21, &[("email", "not an address")]),
                attendee(22, &[("email", "ann@example.org")]),
            ],
        ),
        registration(3, vec![attendee(30, &[("email", "cy@example.org")])]),
    ];
    let plan = engine(Policy::doo()).plan_batch(&store, &events).unwrap();
    left_out(outcome(&plan, 21));
    assert!(warned(&plan, 21));
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    // The others are decided as if the bad row were not there, in order.
    let order: Vec<SubjectId> = plan.outcomes.iter().map(|o| o.subject).collect();
    assert_eq!(order, [10, 20, 21, 22, 30].map(sid));
    assert_eq!(outcome(&plan, 22).record, outcome(&plan, 10).record);
    assert_eq!(plan.created().count(), 3);
    store.apply(&plan).unwrap();
    assert_eq!(store.records(T).len(), 3);
}

#[test]
fn b20_failing_the_whole_plan_is_a_policy_choice() {
    let store = InMemoryStore::new();
    let events = vec![
        registration(1, vec![attendee(10, &[("email", "ann@example.org")])]),
        registration(2, vec![attendee(21, &[("email", "a@@example.org")])]),
    ];
    let err = engine(strict(Policy::doo()))
        .plan_batch(&store, &events)
        .unwrap_err();
    assert!(
        matches!(err, PlanError::Invalid(Error::InvalidEmail { subject, .. }) if subject == sid(21)),
        "{err:?}"
    );
    let json = r#"{ "invalid_subjects": "fail" }"#;
    assert_eq!(
        Policy::from_json(json).unwrap().invalid_subjects,
        InvalidSubjects::Fail
    );
    assert_eq!(Policy::doo().invalid_subjects, InvalidSubjects::Skip);
    assert_eq!(
        Policy::salesforce(RecordType::Contact).invalid_subjects,
        InvalidSubjects::Skip
    );
}

#[test]
fn b20_fields_beyond_the_limits_leave_their_subject_out() {
    let mut p = Policy::doo().with_sync(true);
    p.limits.max_field_len = 8;
    let store = InMemoryStore::new();
    let ev = registration(
        1,
        vec![
            attendee(10, &[("email", "a@x.org"), ("notes", "far too long")]),
            attendee(11, &[("email", "b@x.org"), ("first_name", "B\u{0}b")]),
            attendee(12, &[("email", "c@x.org"), ("bad\nname", "x")]),
            attendee(13, &[("email", "d@x.org")]),
        ],
    );
    let plan = engine(p).plan(&store, &ev).unwrap();
    for s in [10, 11, 12] {
        left_out(outcome(&plan, s));
        assert!(warned(&plan, s));
    }
    assert_eq!(outcome(&plan, 13).decision, Decision::Created);
    // The problem is named, the input is not echoed.
    let why = outcome(&plan, 12).explanation().clone();
    assert!(why.contains("field name"), "{why}");
    store.apply(&plan).unwrap();
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn b20_an_edit_with_an_invalid_email_changes_nothing_and_keeps_the_link() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let ann = attendee(10, &[("email", "ann@example.org")]).linked_to(rid(1));
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(
            1,
            ann,
            &[("email", "ann@@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    left_out(o);
    assert_eq!(o.record, Some(rid(1)), "the link stays as it was");
    assert!(plan.effects.is_empty(), "{:?}", plan.effects);
    assert_eq!(text(&store, rid(1), "email"), "ann@example.org");
}

#[test]
fn b20_the_sans_io_path_leaves_the_same_subjects_out() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let ev = registration(
        1,
        vec![
            attendee(10, &[("email", "ann@example.org")]),
            attendee(11, &[("email", "<ann@example.org>")]),
        ],
    );
    let e = engine(Policy::doo());
    let needs = e.needs(&ev).unwrap();
    assert_eq!(
        needs.email_keys.len(),
        1,
        "nothing is fetched for the bad row"
    );
    let candidates = ContactStore::fetch(&store, &needs).unwrap();
    assert_eq!(
        e.decide(&ev, &candidates).unwrap(),
        e.plan(&store, &ev).unwrap()
    );
    assert!(engine(strict(Policy::doo())).needs(&ev).is_err());
}

#[cfg(feature = "proptest")]
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// B20: bad rows never fail a batch; each gets its own outcome and
    /// warning, and everything else is decided exactly as in the batch
    /// without them.
    #[test]
    fn b20_bad_rows_change_nothing_for_the_others(
        policy in contact_sync::strategies::policy(),
        records in contact_sync::strategies::store_contents(contact_sync::strategies::TENANT, 6),
        events in proptest::collection::vec(contact_sync::strategies::registration(contact_sync::strategies::TENANT, 3), 1..4),
        spoil in proptest::collection::vec(proptest::bool::weighted(0.3), 9),
        bad in proptest::sample::select(vec!["a@@b.org", "Ann <a@b.org>", "", "x\u{0}@b.org", "@b.org"]),
    ) {
        // Distinct event ids, so no event is taken for another's redelivery.
        let mut n = 0;
        let mut spoiled = Vec::new();
        let mut dirty = Vec::new();
        let mut clean = Vec::new();
        for (i, e) in events.into_iter().enumerate() {
            let Event::Registered(r) = e else { unreachable!() };
            let mut d = Registration::new(EventId::from_u128(i as u128 + 1), r.tenant, vec![]);
            let mut c = d.clone();
            for s in r.subjects {
                if spoil.get(n).copied().unwrap_or(false) {
                    let mut b = s.clone();
                    if bad.is_empty() {
                        b.fields.set(FieldName::new("x\ny"), FieldValue::new("1"));
                    } else {
                        b.fields.set(FieldName::new(FieldName::EMAIL), FieldValue::new(bad));
                    }
                    spoiled.push(b.id);
                    d.subjects.push(b);
                } else {
                    d.subjects.push(s.clone());
                    c.subjects.push(s);
                }
                n += 1;
            }
            dirty.push(Event::Registered(d));
            if !c.subjects.is_empty() {
                clean.push(Event::Registered(c));
            }
        }
        let store = InMemoryStore::new();
        store.extend(records).unwrap();
        let e = engine(policy);
        let with_bad = e.plan_batch(&store, &dirty).unwrap();
        let without = e.plan_batch(&store, &clean).unwrap();
        for id in &spoiled {
            let o = with_bad.outcome(*id).unwrap();
            proptest::prop_assert_eq!(o.no_record, Some(NoRecordReason::InvalidInput));
        }
        let others: Vec<&Outcome> = with_bad.outcomes.iter().filter(|o| !spoiled.contains(&o.subject)).collect();
        let expected: Vec<&Outcome> = without.outcomes.iter().collect();
        proptest::prop_assert_eq!(others, expected);
        proptest::prop_assert_eq!(&with_bad.effects, &without.effects);
        let warnings: Vec<&Warning> = with_bad.warnings.iter().filter(|w| !matches!(w, Warning::InvalidInput { .. })).collect();
        proptest::prop_assert_eq!(warnings, without.warnings.iter().collect::<Vec<_>>());
        proptest::prop_assert_eq!(with_bad.warnings.len() - without.warnings.len(), spoiled.len());
    }
}

#[test]
fn b20_every_bad_row_of_an_event_is_found_and_reported_in_subject_order() {
    let mut p = Policy::doo();
    p.limits.max_field_len = 16;
    let ev = registration(
        1,
        vec![
            attendee(10, &[("email", "a@@example.org")]),
            attendee(
                11,
                &[("email", "b@example.org"), ("notes", "far, far too long")],
            ),
            attendee(12, &[("email", "c@example.org")]),
        ],
    );
    let plan = engine(p.clone()).plan(&InMemoryStore::new(), &ev).unwrap();
    let reported: Vec<SubjectId> = plan
        .warnings
        .iter()
        .filter_map(|w| match w {
            Warning::InvalidInput { subject, .. } => Some(*subject),
            _ => None,
        })
        .collect();
    assert_eq!(reported, [sid(10), sid(11)]);
    // Failing instead names the first bad subject in order, whatever its problem.
    let err = engine(strict(p))
        .plan(&InMemoryStore::new(), &ev)
        .unwrap_err();
    assert!(
        matches!(err, PlanError::Invalid(Error::InvalidEmail { subject, .. }) if subject == sid(10)),
        "{err:?}"
    );
}

#[test]
fn b20_a12_a_bad_buyer_email_leaves_out_the_holders_that_take_it() {
    let mut r = Registration::new(
        eid(1),
        T,
        vec![
            attendee(10, &[("first_name", "Jo"), ("email", "jo@example.org")]),
            booker(
                9,
                &[("email", "buyer@@example.org"), ("last_name", "Buyer")],
            ),
            attendee(11, &[("first_name", "Kim")]),
        ],
    );
    r.buyer_data_only = true;
    let plan = engine(sf(RecordType::Contact))
        .plan(&InMemoryStore::new(), &Event::Registered(r))
        .unwrap();
    // The holder without an email of its own takes the buyer's, which is invalid.
    left_out(outcome(&plan, 11));
    assert_ne!(
        outcome(&plan, 10).no_record,
        Some(NoRecordReason::InvalidInput)
    );
}

#[test]
fn b20_a20_a_record_change_flows_back_to_the_valid_registrations_only() {
    let mut p = sf(RecordType::Contact);
    p.two_way = true;
    let store = store_with(vec![contact(
        1,
        &[("email", "jo@example.org"), ("job_title", "Dev")],
    )]);
    let change = Event::RecordChanged(RecordChange::new(
        eid(9),
        T,
        rid(1),
        fields(&[("email", "jo@example.org"), ("job_title", "VP")]),
        vec![
            attendee(10, &[("email", "jo@example.org"), ("job_title", "Dev")]).linked_to(rid(1)),
            attendee(11, &[("email", "jo@example.org"), ("notes", "a\u{0}b")]).linked_to(rid(1)),
        ],
    ));
    let plan = engine(p).plan(&store, &change).unwrap();
    assert_eq!(outcome(&plan, 10).decision, Decision::SubjectUpdated);
    left_out(outcome(&plan, 11));
    let updated: Vec<SubjectId> = plan
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::UpdateSubject { subject, .. } => Some(*subject),
            _ => None,
        })
        .collect();
    assert_eq!(updated, [sid(10)]);
}
