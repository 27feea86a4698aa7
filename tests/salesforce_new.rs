//! Accelevents → Salesforce: new registrations (A1–A11).

use crate::common::*;
use contact_sync::*;

fn jo() -> Vec<(&'static str, &'static str)> {
    vec![
        ("email", "jo@example.org"),
        ("first_name", "Jo"),
        ("last_name", "Park"),
    ]
}

#[test]
fn a1_records_are_created_and_searched_in_the_configured_type() {
    for t in [RecordType::Contact, RecordType::Lead] {
        let store = InMemoryStore::new();
        let plan = run(&sf(t), &store, &order(1, vec![holder(10, &jo())]));
        let created: Vec<_> = plan.created().collect();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].record_type, t);
        // A second registration finds it in the same type.
        let plan = run(&sf(t), &store, &order(2, vec![holder(11, &jo())]));
        assert_eq!(outcome(&plan, 11).decision, Decision::Linked);
        assert_rules(outcome(&plan, 11), &[RuleId::A7]);
    }
    let plan = run(
        &sf(RecordType::Lead),
        &InMemoryStore::new(),
        &order(1, vec![holder(10, &jo())]),
    );
    assert_rules(outcome(&plan, 10), &[RuleId::A1, RuleId::A4]);
}

#[test]
fn a2_linear_matching_searches_only_the_configured_type() {
    let store = store_with(vec![contact(1, &[("email", "jo@example.org")])]);
    let plan = run(
        &sf(RecordType::Lead),
        &store,
        &order(1, vec![holder(10, &jo())]),
    );
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::A2]);
    assert_eq!(o.decision, Decision::Created);
    assert_eq!(
        record(&store, rid(1)).version,
        1,
        "the contact is not touched"
    );
}

#[test]
fn a3_a_record_of_the_other_type_with_the_email_does_not_prevent_creation() {
    for (existing, t) in [
        (lead(1, &[("email", "jo@example.org")]), RecordType::Contact),
        (contact(1, &[("email", "jo@example.org")]), RecordType::Lead),
    ] {
        let store = store_with(vec![existing]);
        let plan = run(&sf(t), &store, &order(1, vec![holder(10, &jo())]));
        let o = outcome(&plan, 10);
        assert_eq!(o.decision, Decision::Created);
        assert_rules(o, &[RuleId::A3]);
        assert!(
            o.explanation().contains("other type"),
            "{}",
            o.explanation()
        );
        assert_eq!(record(&store, o.record.unwrap()).record_type, t);
    }
}

#[test]
fn a4_a_new_record_receives_all_mapped_fields_and_only_those() {
    let store = InMemoryStore::new();
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[
                    ("email", "jo@example.org"),
                    ("first_name", "Jo"),
                    ("last_name", "Park"),
                    ("job_title", "CTO"),
                    ("order_id", "O-1"),
                    ("ticket_id", "T-1"),
                    ("shoe_size", "42"),
                ],
            )],
        ),
    );
    let r = record(&store, outcome(&plan, 10).record.unwrap());
    let names: Vec<&str> = r.fields.names().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "email",
            "first_name",
            "job_title",
            "last_name",
            "order_id",
            "ticket_id"
        ]
    );
    assert_rules(outcome(&plan, 10), &[RuleId::A4]);
}

/// A4, B1: a new record gets the email as entered but without the spaces
/// around it; the other fields are kept as entered.
#[test]
fn a4_b1_a_new_record_gets_the_email_trimmed() {
    let store = InMemoryStore::new();
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[
                    ("email", "  Jo@Example.org "),
                    ("first_name", "Jo"),
                    ("job_title", " CTO "),
                ],
            )],
        ),
    );
    let r = record(&store, outcome(&plan, 10).record.unwrap());
    assert_eq!(r.fields.text("email"), "Jo@Example.org");
    assert_eq!(r.fields.text("job_title"), " CTO ");
}

#[test]
fn a5_created_and_updated_records_join_the_campaign() {
    let store = store_with(vec![contact(
        1,
        &[("email", "old@example.org"), ("last_name", "Old")],
    )]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![
                holder(10, &jo()),
                holder(11, &[("email", "old@example.org")]),
            ],
        ),
    );
    let camp = CampaignId("701-CAMP".into());
    let mut members = store.campaign_members(T, &camp);
    members.sort();
    let mut expected = vec![outcome(&plan, 10).record.unwrap(), rid(1)];
    expected.sort();
    assert_eq!(members, expected);
    assert_rules(outcome(&plan, 10), &[RuleId::A5]);
    assert_rules(outcome(&plan, 11), &[RuleId::A5]);
}

#[test]
fn a6_no_record_for_the_ticket_buyer() {
    let store = InMemoryStore::new();
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![
                booker(9, &[("email", "buyer@example.org"), ("last_name", "B")]),
                holder(10, &jo()),
            ],
        ),
    );
    let o = outcome(&plan, 9);
    assert_eq!(o.decision, Decision::NoRecord);
    assert_eq!(o.no_record, Some(NoRecordReason::Role));
    assert_rules(o, &[RuleId::A6]);
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn a7_an_existing_record_of_the_type_with_the_email_is_updated() {
    let store = store_with(vec![lead(
        1,
        &[
            ("email", "JO@example.org"),
            ("last_name", "Park"),
            ("job_title", "Dev"),
        ],
    )]);
    let plan = run(
        &sf(RecordType::Lead),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[("email", "jo@example.org"), ("job_title", "CTO")],
            )],
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Linked);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::A7]);
    assert_eq!(text(&store, rid(1), "job_title"), "CTO");
    assert_eq!(
        text(&store, rid(1), "email"),
        "JO@example.org",
        "same address, other spelling: no change"
    );
}

#[test]
fn a8_a_match_from_a_new_registration_never_changes_the_name() {
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "jo@example.org"),
            ("first_name", "Joanna"),
            ("last_name", "Park"),
        ],
    )]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[
                    ("email", "jo@example.org"),
                    ("first_name", "Jo"),
                    ("last_name", "Kim"),
                ],
            )],
        ),
    );
    assert_eq!(text(&store, rid(1), "first_name"), "Joanna");
    assert_eq!(text(&store, rid(1), "last_name"), "Park");
    assert_rules(outcome(&plan, 10), &[RuleId::A8]);
}

#[test]
fn a9_mapped_form_fields_replace_and_a_blank_clears() {
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "jo@example.org"),
            ("job_title", "Dev"),
            ("organization", "Acme"),
        ],
    )]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[
                    ("email", "jo@example.org"),
                    ("job_title", "CTO"),
                    ("organization", ""),
                ],
            )],
        ),
    );
    assert_eq!(text(&store, rid(1), "job_title"), "CTO");
    assert_eq!(text(&store, rid(1), "organization"), "");
    let changes = plan.changes_to(rid(1));
    assert!(changes.iter().all(|c| c.rule == RuleId::A9), "{changes:?}");
    assert_rules(outcome(&plan, 10), &[RuleId::A9]);
}

#[test]
fn a10_generated_fields_replace_and_unused_ones_blank() {
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "jo@example.org"),
            ("order_id", "O-1"),
            ("tracking_link", "https://t/1"),
        ],
    )]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[
                    ("email", "jo@example.org"),
                    ("order_id", "O-2"),
                    ("tracking_link", ""),
                ],
            )],
        ),
    );
    assert_eq!(text(&store, rid(1), "order_id"), "O-2");
    assert_eq!(text(&store, rid(1), "tracking_link"), "");
    assert!(plan
        .changes_to(rid(1))
        .iter()
        .all(|c| c.rule == RuleId::A10));
    assert_rules(outcome(&plan, 10), &[RuleId::A10]);
}

#[test]
fn a11_a_holder_without_email_gets_no_record_by_default() {
    let store = InMemoryStore::new();
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[
                    ("first_name", "Jo"),
                    ("last_name", "Park"),
                    ("ticket_id", "T-1"),
                ],
            )],
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::NoRecord);
    assert_rules(o, &[RuleId::A11]);
    assert!(store.records(T).is_empty());
}

#[test]
fn a7_several_records_of_the_type_update_the_smallest_id_and_warn() {
    let store = store_with(vec![
        contact(2, &[("email", "jo@example.org")]),
        contact(1, &[("email", "jo@example.org")]),
    ]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[("email", "jo@example.org"), ("job_title", "CTO")],
            )],
        ),
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    // B13: the key's duplicates are reported, then the policy's choice.
    assert_eq!(
        plan.warnings,
        vec![
            Warning::AbsorbingDuplicates {
                subject: sid(10),
                count: 2
            },
            Warning::Ambiguous {
                subject: sid(10),
                records: vec![rid(1), rid(2)]
            }
        ]
    );
    assert_eq!(store.records(T).len(), 2, "no new duplicate");
}

#[test]
fn a10_unused_generated_fields_blank_the_record_on_a_new_registration() {
    let records = || {
        vec![contact(
            1,
            &[
                ("email", "jo@example.org"),
                ("tracking_link", "https://t.example/old"),
                ("order_id", "O-1"),
            ],
        )]
    };
    // The registration carries an order id but no tracking link.
    let entered: &[(&str, &str)] = &[("email", "jo@example.org"), ("order_id", "O-2")];
    let plan = one_holder(&sf(RecordType::Contact), records(), entered);
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::A7, RuleId::A10]);
    assert!(
        o.explanation()
            .contains("unused in this registration are blanked: tracking_link"),
        "{}",
        o.explanation()
    );
    let changes = plan.changes_to(rid(1));
    let link = changes
        .iter()
        .find(|c| c.field.as_str() == "tracking_link")
        .expect("the unused tracking link is cleared");
    assert!(link.new.is_blank() && link.rule == RuleId::A10);
    assert!(changes
        .iter()
        .any(|c| c.field.as_str() == "order_id" && c.new.as_str() == "O-2"));
    // Off, an absent field is one the form did not ask: the value stays.
    let mut off = sf(RecordType::Contact);
    off.sync.absent_generated_as_blank = false;
    let plan = one_holder(&off, records(), entered);
    assert!(!plan
        .changes_to(rid(1))
        .iter()
        .any(|c| c.field.as_str() == "tracking_link"));
    assert!(!outcome(&plan, 10).explanation().contains("blanked"));
}
