//! doo: matching and linking (D1–D7, D11, D12).

use crate::common::*;
use contact_sync::*;

#[test]
fn d1_match_key_is_the_subjects_email_not_its_name() {
    let store = store_with(vec![contact(
        1,
        &[("email", "ann@example.org"), ("first_name", "Ann")],
    )]);
    // Same name, other email: no match. Other name, same email (case, spaces): match.
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(
            1,
            vec![
                booker(10, &[("email", "x@example.org"), ("first_name", "Ann")]),
                attendee(
                    11,
                    &[("email", "  ANN@example.org "), ("first_name", "Ann")],
                ),
            ],
        ),
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
    assert_eq!(outcome(&plan, 11).decision, Decision::Linked);
    assert_eq!(outcome(&plan, 11).record, Some(rid(1)));
    assert_rules(outcome(&plan, 11), &[RuleId::D1]);
}

#[test]
fn d2_exactly_one_record_with_email_links() {
    let store = store_with(vec![
        contact(1, &[("email", "ann@example.org")]),
        contact(2, &[("email", "ben@example.org")]),
    ]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(1, vec![booker(10, &[("email", "ann@example.org")])]),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Linked);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D2]);
    assert_eq!(plan.created().count(), 0);
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
}

#[test]
fn d3_no_record_with_email_creates_one_from_subject_data() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "Cleo@Example.org"),
                    ("first_name", "Cleo"),
                    ("phone", ""),
                ],
            )],
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::D3]);
    let id = o.record.unwrap();
    let r = record(&store, id);
    assert_eq!(
        r.fields.text("email"),
        "Cleo@Example.org",
        "original spelling kept"
    );
    assert_eq!(r.fields.text("first_name"), "Cleo");
    assert!(
        r.fields.get("phone").is_none(),
        "blank values are not stored"
    );
    assert_eq!(store.link_of(T, sid(10)), Some(id));
}

#[test]
fn d4_several_records_with_email_create_new() {
    let store = store_with(vec![
        contact(1, &[("email", "team@example.org")]),
        contact(2, &[("email", "TEAM@example.org")]),
    ]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(1, vec![attendee(10, &[("email", "team@example.org")])]),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::D4]);
    assert!(o.record != Some(rid(1)) && o.record != Some(rid(2)));
    // Neither existing record was touched.
    assert_eq!(record(&store, rid(1)).version, 1);
    assert_eq!(record(&store, rid(2)).version, 1);
    assert_eq!(store.records(T).len(), 3);
}

#[test]
fn d5_subject_without_email_links_nothing_and_creates_nothing() {
    let store = store_with(vec![contact(
        1,
        &[("email", "ann@example.org"), ("first_name", "Ann")],
    )]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(
            1,
            vec![
                attendee(10, &[("email", "   "), ("first_name", "Ann")]),
                attendee(11, &[("first_name", "Ben")]),
            ],
        ),
    );
    for s in [10, 11] {
        let o = outcome(&plan, s);
        assert_eq!(o.decision, Decision::NoRecord);
        assert_eq!(o.no_record, Some(NoRecordReason::NoEmail));
        assert_eq!(o.record, None);
        assert_rules(o, &[RuleId::D5]);
    }
    assert!(plan.effects.is_empty());
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn d6_bookers_and_attendees_both_fill_the_contact_center() {
    let store = InMemoryStore::new();
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(
            1,
            vec![
                booker(10, &[("email", "boss@example.org")]),
                attendee(11, &[("email", "a1@example.org")]),
                attendee(12, &[("email", "a2@example.org")]),
            ],
        ),
    );
    for s in [10, 11, 12] {
        assert_eq!(outcome(&plan, s).decision, Decision::Created);
        assert_rules(outcome(&plan, s), &[RuleId::D6]);
    }
    assert_eq!(store.records(T).len(), 3);
}

#[test]
fn d7_prefilled_subject_is_linked_to_the_prefilled_record_first() {
    // Two records share the email, which alone would create a new one (D4);
    // the prefill decides.
    let store = store_with(vec![
        contact(1, &[("email", "inv@example.org"), ("first_name", "Ina")]),
        contact(2, &[("email", "inv@example.org"), ("first_name", "Ina")]),
    ]);
    let s =
        booker(10, &[("email", "inv@example.org"), ("first_name", "Ina")]).prefilled_from(rid(2));
    let plan = run(&Policy::doo(), &store, &registration(1, vec![s]));
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(2)));
    assert_eq!(o.decision, Decision::Linked);
    assert_rules(o, &[RuleId::D7]);
    assert_eq!(plan.created().count(), 0);
}

#[test]
fn d7_prefill_naming_an_unknown_or_foreign_record_is_one_error() {
    let store = store_with(vec![Record::new(
        rid(5),
        OTHER,
        RecordType::Contact,
        fields(&[("email", "a@b.org")]),
    )]);
    let e = engine(Policy::doo());
    let foreign = e.plan(
        &store,
        &registration(
            1,
            vec![booker(10, &[("email", "a@b.org")]).prefilled_from(rid(5))],
        ),
    );
    let missing = e.plan(
        &store,
        &registration(
            1,
            vec![booker(10, &[("email", "a@b.org")]).prefilled_from(rid(6))],
        ),
    );
    let (
        Err(PlanError::Invalid(Error::RecordNotFound { .. })),
        Err(PlanError::Invalid(Error::RecordNotFound { .. })),
    ) = (&foreign, &missing)
    else {
        panic!("expected RecordNotFound twice, got {foreign:?} / {missing:?}");
    };
}

#[test]
fn d11_manual_relink_sets_the_chosen_record_for_booking_or_attendee() {
    let store = store_with(vec![
        contact(1, &[("email", "ann@example.org")]),
        contact(2, &[("email", "other@example.org")]),
    ]);
    run(
        &Policy::doo(),
        &store,
        &registration(1, vec![booker(10, &[("email", "ann@example.org")])]),
    );
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    let relink = |subject: Subject| {
        Event::Relinked(Relink::new(
            eid(2 + subject.id.uuid().as_u128()),
            T,
            subject,
            rid(2),
        ))
    };
    let plan = run(
        &Policy::doo(),
        &store,
        &relink(booker(10, &[("email", "ann@example.org")]).linked_to(rid(1))),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Relinked);
    assert_rules(o, &[RuleId::D11]);
    assert!(plan.effects.contains(&Effect::unlink(sid(10), rid(1))));
    assert_eq!(store.link_of(T, sid(10)), Some(rid(2)));
    // Attendees too; no field flows on a relink.
    let plan = run(
        &Policy::doo(),
        &store,
        &relink(attendee(11, &[("email", "zed@example.org")])),
    );
    assert_eq!(outcome(&plan, 11).decision, Decision::Relinked);
    assert_eq!(store.link_of(T, sid(11)), Some(rid(2)));
    assert_eq!(text(&store, rid(2), "email"), "other@example.org");
}

#[test]
fn d12_every_outcome_names_the_record_id_per_subject() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(
            1,
            vec![
                booker(10, &[("email", "ann@example.org")]),
                attendee(11, &[("email", "new@example.org")]),
            ],
        ),
    );
    assert_eq!(plan.outcomes.len(), 2);
    for o in &plan.outcomes {
        let id = o.record.expect("a record id");
        assert!(
            o.explanation().contains(&id.to_string()),
            "{}",
            o.explanation()
        );
        assert_rules(o, &[RuleId::D12]);
        assert_eq!(store.link_of(T, o.subject), Some(id));
    }
}

#[test]
fn d2_tenant_scoped_a_record_of_another_tenant_is_never_matched() {
    let store = store_with(vec![Record::new(
        rid(1),
        OTHER,
        RecordType::Contact,
        fields(&[("email", "ann@example.org")]),
    )]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(1, vec![booker(10, &[("email", "ann@example.org")])]),
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
    assert_eq!(store.record(OTHER, rid(1)).unwrap().unwrap().version, 1);
}
