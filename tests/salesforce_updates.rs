//! Accelevents → Salesforce: updates of registrations (A12–A20).

use crate::common::*;
use contact_sync::*;

fn jo_record() -> Record {
    contact(
        1,
        &[
            ("email", "jo@example.org"),
            ("first_name", "Jo"),
            ("last_name", "Park"),
            ("job_title", "Dev"),
            ("order_id", "O-1"),
        ],
    )
}

fn jo_linked() -> Subject {
    holder(
        10,
        &[
            ("email", "jo@example.org"),
            ("first_name", "Jo"),
            ("last_name", "Park"),
            ("job_title", "Dev"),
            ("order_id", "O-1"),
        ],
    )
    .linked_to(rid(1))
}

/// A fresh event id per call: each edit is a new event (B7).
fn next_event() -> EventId {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(50);
    eid(N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128)
}

fn sf_edit(subject: Subject, new: &[(&str, &str)], source: EditSource) -> Event {
    Event::Edited({
        let mut e = Edit::new(next_event(), T, subject, fields(new), source);
        e.campaign = Some(CampaignId("701-CAMP".into()));
        e
    })
}

#[test]
fn a12_buyer_data_only_carries_over_to_holders_at_registration() {
    let store = InMemoryStore::new();
    let ev = Event::Registered({
        let mut r = Registration::new(
            eid(1),
            T,
            vec![
                booker(
                    9,
                    &[
                        ("email", "buyer@example.org"),
                        ("first_name", "Bea"),
                        ("last_name", "Buyer"),
                    ],
                ),
                holder(10, &[("ticket_id", "T-1")]),
            ],
        );
        r.buyer_data_only = true;
        r
    });
    let plan = run(&sf(RecordType::Contact), &store, &ev);
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::A12]);
    let r = record(&store, o.record.unwrap());
    assert_eq!(r.fields.text("email"), "buyer@example.org");
    assert_eq!(r.fields.text("ticket_id"), "T-1");
    assert_eq!(outcome(&plan, 9).decision, Decision::NoRecord);
}

#[test]
fn a12_buyer_changes_update_only_when_the_holder_update_is_triggered() {
    let buyer_edit = |source| {
        Event::Edited({
            let mut e = Edit::new(
                next_event(),
                T,
                holder(10, &[("ticket_id", "T-1")]).linked_to(rid(1)),
                fields(&[]),
                source,
            );
            e.buyer = Some(fields(&[("email", "jo@example.org"), ("job_title", "CEO")]));
            e.buyer_data_only = true;
            e
        })
    };
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &buyer_edit(EditSource::SelfService),
    );
    assert_eq!(
        outcome(&plan, 10).no_record,
        Some(NoRecordReason::AwaitingUpdateTrigger)
    );
    assert_eq!(text(&store, rid(1), "job_title"), "Dev");
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &buyer_edit(EditSource::UpdateTrigger),
    );
    assert_rules(outcome(&plan, 10), &[RuleId::A12, RuleId::A18]);
    assert_eq!(text(&store, rid(1), "job_title"), "CEO");
    // An edit of the buyer itself never reaches a record.
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            booker(9, &[("email", "b@example.org")]),
            &[("job_title", "X")],
            EditSource::SelfService,
        ),
    );
    assert_rules(outcome(&plan, 9), &[RuleId::A6, RuleId::A12]);
    assert!(plan.effects.is_empty());
}

#[test]
fn a12_buyer_data_only_compares_a_bookers_own_email_not_its_records() {
    // A booker with a record of its own, linked by the host to a record
    // whose email differs: an edit of the company alone is no email change.
    let p = sf(RecordType::Contact).with_buyer_records(false);
    let store = store_with(vec![contact(
        1,
        &[("email", "old@example.org"), ("first_name", "Bea")],
    )]);
    let ev = Event::Edited({
        let mut e = Edit::new(
            next_event(),
            T,
            booker(9, &[("email", "bea@example.org"), ("first_name", "Bea")]).linked_to(rid(1)),
            fields(&[
                ("email", "bea@example.org"),
                ("first_name", "Bea"),
                ("job_title", "CFO"),
            ]),
            EditSource::SelfService,
        );
        e.buyer_data_only = true;
        e
    });
    let plan = run(&p, &store, &ev);
    let o = outcome(&plan, 9);
    assert_eq!(o.decision, Decision::Kept, "{}", o.explanation());
    assert_eq!(o.record, Some(rid(1)));
    for r in [RuleId::A14, RuleId::A15, RuleId::A23] {
        assert!(!o.rules.contains(&r), "{r:?}: {}", o.explanation());
    }
    assert_eq!(text(&store, rid(1), "job_title"), "CFO");
    assert_eq!(text(&store, rid(1), "email"), "old@example.org");
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn a13_changed_order_form_answers_replace_the_record_data() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked(),
            &[("job_title", "CTO")],
            EditSource::Organizer { sync: None },
        ),
    );
    assert_eq!(text(&store, rid(1), "job_title"), "CTO");
    assert_eq!(plan.changes_to(rid(1))[0].rule, RuleId::A13);
    assert_rules(outcome(&plan, 10), &[RuleId::A13]);
}

#[test]
fn a14_name_and_email_changed_in_the_order_replace_the_records() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked(),
            &[("email", "joanna@example.org"), ("first_name", "Joanna")],
            EditSource::Organizer { sync: None },
        ),
    );
    assert_eq!(text(&store, rid(1), "email"), "joanna@example.org");
    assert_eq!(text(&store, rid(1), "first_name"), "Joanna");
    assert!(plan
        .changes_to(rid(1))
        .iter()
        .all(|c| c.rule == RuleId::A14));
    assert_rules(outcome(&plan, 10), &[RuleId::A14]);
}

#[test]
fn a15_an_email_changed_in_the_order_creates_no_new_record() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked(),
            &[("email", "other@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Kept);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::A15]);
    assert_eq!(plan.created().count(), 0);
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn a16_a_field_blanked_in_the_update_blanks_the_record() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(jo_linked(), &[("job_title", "")], EditSource::SelfService),
    );
    assert_eq!(text(&store, rid(1), "job_title"), "");
    assert_eq!(plan.changes_to(rid(1))[0].rule, RuleId::A16);
    assert_rules(outcome(&plan, 10), &[RuleId::A16]);
}

#[test]
fn a17_self_service_changes_update_the_record() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked(),
            &[("job_title", "Lead Dev")],
            EditSource::SelfService,
        ),
    );
    assert_eq!(text(&store, rid(1), "job_title"), "Lead Dev");
    assert_rules(outcome(&plan, 10), &[RuleId::A17]);
}

#[test]
fn a18_the_update_trigger_writes_even_when_nothing_changed() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(jo_linked(), &[], EditSource::UpdateTrigger),
    );
    assert!(plan
        .effects
        .contains(&Effect::update_record(rid(1), vec![])));
    assert_eq!(record(&store, rid(1)).version, 2);
    assert_rules(outcome(&plan, 10), &[RuleId::A18]);
    // Without the trigger, an unchanged edit writes nothing.
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(jo_linked(), &[], EditSource::SelfService),
    );
    assert!(plan.changes_to(rid(1)).is_empty());
    assert!(!plan
        .effects
        .iter()
        .any(|e| matches!(e, Effect::UpdateRecord { .. })));
}

#[test]
fn a19_generated_fields_are_not_updated_for_holders_of_several_tickets() {
    let store = store_with(vec![jo_record()]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked().with_tickets(3),
            &[("order_id", "O-9"), ("job_title", "CTO")],
            EditSource::UpdateTrigger,
        ),
    );
    assert_eq!(text(&store, rid(1), "order_id"), "O-1");
    assert_eq!(text(&store, rid(1), "job_title"), "CTO");
    assert_rules(outcome(&plan, 10), &[RuleId::A19]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked(),
            &[("order_id", "O-9")],
            EditSource::UpdateTrigger,
        ),
    );
    assert_eq!(text(&store, rid(1), "order_id"), "O-9");
    assert!(!outcome(&plan, 10).rules.contains(&RuleId::A19));
}

#[test]
fn a20_record_changes_flow_back_only_with_a_two_way_integration() {
    let change = Event::RecordChanged(RecordChange::new(
        eid(9),
        T,
        rid(1),
        fields(&[
            ("email", "jo@example.org"),
            ("job_title", "VP"),
            ("unmapped", "x"),
        ]),
        vec![jo_linked()],
    ));
    let store = store_with(vec![jo_record()]);
    let plan = run(&sf(RecordType::Contact), &store, &change);
    assert!(plan.effects.is_empty());
    assert_eq!(outcome(&plan, 10).decision, Decision::NoChange);
    assert_rules(outcome(&plan, 10), &[RuleId::A20]);
    let mut p = sf(RecordType::Contact);
    p.two_way = true;
    // The same change on a store that has not seen it.
    let store = store_with(vec![jo_record()]);
    let plan = run(&p, &store, &change);
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::SubjectUpdated);
    assert_rules(o, &[RuleId::A20]);
    let [Effect::UpdateSubject {
        subject, changes, ..
    }] = plan.effects.as_slice()
    else {
        panic!("{:?}", plan.effects)
    };
    assert_eq!(*subject, sid(10));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field.as_str(), "job_title");
    assert_eq!(changes[0].old.as_ref().unwrap().as_str(), "Dev");
    assert_eq!(changes[0].new.as_str(), "VP");
}

#[test]
fn a5_an_updated_record_joins_the_campaign_on_edits_too() {
    let store = store_with(vec![jo_record()]);
    run(
        &sf(RecordType::Contact),
        &store,
        &sf_edit(
            jo_linked(),
            &[("job_title", "CTO")],
            EditSource::SelfService,
        ),
    );
    assert_eq!(
        store.campaign_members(T, &CampaignId("701-CAMP".into())),
        vec![rid(1)]
    );
}

#[test]
fn a12_the_buyers_data_wins_and_the_holders_own_values_only_fill_its_gaps() {
    let store = store_with(vec![jo_record()]);
    // The holder's own fields: a ticket id the buyer lacks, a first name
    // the buyer has too, and a blank last name.
    let holder_fields = [
        ("ticket_id", "T-1"),
        ("first_name", "Holder"),
        ("last_name", ""),
    ];
    let ev = Event::Edited({
        let mut e = Edit::new(
            next_event(),
            T,
            holder(10, &holder_fields).linked_to(rid(1)),
            fields(&[]),
            EditSource::UpdateTrigger,
        );
        e.buyer = Some(fields(&[
            ("email", "jo@example.org"),
            ("first_name", "Bea"),
            ("last_name", "Buyer"),
        ]));
        e.buyer_data_only = true;
        e
    });
    let plan = run(&sf(RecordType::Contact), &store, &ev);
    assert_rules(outcome(&plan, 10), &[RuleId::A12]);
    let r = record(&store, rid(1));
    assert_eq!(r.fields.text("first_name"), "Bea", "the buyer's value wins");
    assert_eq!(
        r.fields.text("last_name"),
        "Buyer",
        "a blank never overrides"
    );
    assert_eq!(
        r.fields.text("ticket_id"),
        "T-1",
        "the holder fills the buyer's gap"
    );
}

#[test]
fn a20_a_field_the_registration_lacks_flows_back_unless_it_is_blank() {
    let mut p = sf(RecordType::Contact);
    p.two_way = true;
    p.fields = p
        .fields
        .map("phone", FieldClass::FormField)
        .map("city", FieldClass::FormField);
    let change = Event::RecordChanged(RecordChange::new(
        eid(9),
        T,
        rid(1),
        fields(&[
            ("email", "jo@example.org"),
            ("job_title", "Dev"),
            ("phone", "+43 1"),
            ("city", " "),
        ]),
        vec![jo_linked()],
    ));
    let plan = run(&p, &store_with(vec![jo_record()]), &change);
    let [Effect::UpdateSubject { changes, .. }] = plan.effects.as_slice() else {
        panic!("{:?}", plan.effects)
    };
    let names: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        names,
        ["phone"],
        "a new value flows back; a blank one is no change"
    );
    assert_eq!(changes[0].old, None);
}
