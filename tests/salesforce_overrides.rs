//! Accelevents → Salesforce: override toggles, cross matching, holders
//! without email (A21–A29).

use crate::common::*;
use contact_sync::*;

#[test]
fn a21_a_new_record_for_every_holder_match_or_not() {
    let store = store_with(vec![contact(1, &[("email", "jo@example.org")])]);
    let p = sf(RecordType::Contact).with_record_for_every_holder();
    let plan = run(
        &p,
        &store,
        &order(
            1,
            vec![
                holder(10, &[("email", "jo@example.org")]),
                holder(11, &[("email", "jo@example.org")]),
            ],
        ),
    );
    for s in [10, 11] {
        assert_eq!(outcome(&plan, s).decision, Decision::Created);
        assert_rules(outcome(&plan, s), &[RuleId::A21]);
    }
    assert_eq!(store.records(T).len(), 3);
    assert_eq!(record(&store, rid(1)).version, 1);
}

#[test]
fn a22_a_record_for_the_buyer_even_if_one_has_its_email() {
    let store = store_with(vec![contact(1, &[("email", "buyer@example.org")])]);
    let p = sf(RecordType::Contact).with_buyer_records(true);
    let plan = run(
        &p,
        &store,
        &order(
            1,
            vec![booker(
                9,
                &[("email", "buyer@example.org"), ("last_name", "B")],
            )],
        ),
    );
    let o = outcome(&plan, 9);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::A22]);
    // The matching reading of A22 is a policy setting too.
    let store = store_with(vec![contact(1, &[("email", "buyer@example.org")])]);
    let plan = run(
        &sf(RecordType::Contact).with_buyer_records(false),
        &store,
        &order(1, vec![booker(9, &[("email", "buyer@example.org")])]),
    );
    assert_eq!(outcome(&plan, 9).record, Some(rid(1)));
}

#[test]
fn a23_new_record_when_the_holders_email_changes() {
    let store = store_with(vec![contact(
        1,
        &[("email", "buyer@example.org"), ("last_name", "Buyer")],
    )]);
    let mut p = sf(RecordType::Contact);
    p.email_change = EmailChange::NewRecord;
    let s = holder(10, &[("email", "buyer@example.org")]).linked_to(rid(1));
    let plan = run(
        &p,
        &store,
        &edit(
            1,
            s,
            &[
                ("email", "friend@example.org"),
                ("first_name", "Fr"),
                ("last_name", "End"),
            ],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::A23]);
    assert_eq!(
        text(&store, rid(1), "email"),
        "buyer@example.org",
        "the linked record is not updated"
    );
    assert_eq!(text(&store, o.record.unwrap(), "last_name"), "End");
    assert_eq!(store.link_of(T, sid(10)), o.record);
}

#[test]
fn a24_cross_matching_searches_contacts_and_leads_with_extra_criteria() {
    let records = || {
        vec![
            lead(1, &[("email", "jo@example.org"), ("last_name", "Park")]),
            contact(2, &[("email", "jo@example.org"), ("last_name", "Kim")]),
        ]
    };
    // Only the lead meets the last-name criterion (trimmed, case-insensitive).
    let store = store_with(records());
    let p = sf(RecordType::Contact).with_cross_matching(RecordType::Contact, &["last_name"]);
    let plan = run(
        &p,
        &store,
        &order(
            1,
            vec![holder(
                10,
                &[("email", "jo@example.org"), ("last_name", " PARK ")],
            )],
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::A24]);
    // Both types match: the preferred type wins.
    let store = store_with(vec![
        lead(1, &[("email", "jo@example.org")]),
        contact(2, &[("email", "jo@example.org")]),
    ]);
    let plan = run(
        &sf(RecordType::Lead).with_cross_matching(RecordType::Contact, &[]),
        &store,
        &order(1, vec![holder(10, &[("email", "jo@example.org")])]),
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(2)));
    let plan = run(
        &sf(RecordType::Lead).with_cross_matching(RecordType::Lead, &[]),
        &store_with(vec![
            lead(1, &[("email", "jo@example.org")]),
            contact(2, &[("email", "jo@example.org")]),
        ]),
        &order(1, vec![holder(10, &[("email", "jo@example.org")])]),
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    // Nobody meets the criteria: a record of the configured type is created.
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("last_name", "Other")],
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
    assert_eq!(
        plan.created().next().unwrap().record_type,
        RecordType::Contact
    );
}

fn no_email_policy() -> Policy {
    sf(RecordType::Contact).with_records_without_email()
}

fn buyer() -> Subject {
    booker(
        9,
        &[
            ("email", "buyer@example.org"),
            ("first_name", "Bea"),
            ("last_name", "Buyer"),
        ],
    )
}

#[test]
fn a25_with_ticket_id_mapped_and_a23_on_a_holder_without_email_gets_a_record() {
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &order(
            1,
            vec![
                buyer(),
                holder(
                    10,
                    &[
                        ("first_name", "Jo"),
                        ("last_name", "Park"),
                        ("ticket_id", "T-1"),
                    ],
                ),
            ],
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::A25]);
    assert_eq!(text(&store, o.record.unwrap(), "ticket_id"), "T-1");
}

#[test]
fn a26_last_name_and_email_blank_take_the_buyers_last_name() {
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &order(
            1,
            vec![
                buyer(),
                holder(
                    10,
                    &[
                        ("first_name", "Jo"),
                        ("last_name", ""),
                        ("ticket_id", "T-1"),
                    ],
                ),
            ],
        ),
    );
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::A26, RuleId::A25]);
    let r = record(&store, o.record.unwrap());
    assert_eq!(r.fields.text("first_name"), "Jo");
    assert_eq!(r.fields.text("last_name"), "Buyer");
}

#[test]
fn a26_a_holder_with_a_last_name_keeps_it_and_the_setting_off_takes_none() {
    let holder_with = |last: &str| {
        holder(
            10,
            &[
                ("first_name", "Jo"),
                ("last_name", last),
                ("ticket_id", "T-1"),
            ],
        )
    };
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &order(1, vec![buyer(), holder_with("Park")]),
    );
    let o = outcome(&plan, 10);
    assert!(!o.rules.contains(&RuleId::A26), "{}", o.explanation());
    assert_eq!(text(&store, o.record.unwrap(), "last_name"), "Park");
    // With A26 turned off, a blank last name stays blank.
    let mut p = no_email_policy();
    p.no_email.last_name_from_buyer = false;
    let store = InMemoryStore::new();
    let plan = run(&p, &store, &order(1, vec![buyer(), holder_with("")]));
    let o = outcome(&plan, 10);
    assert!(!o.rules.contains(&RuleId::A26), "{}", o.explanation());
    assert_eq!(text(&store, o.record.unwrap(), "last_name"), "");
}

#[test]
fn a27_first_name_and_email_blank_no_record() {
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &order(
            1,
            vec![
                buyer(),
                holder(10, &[("last_name", "Park"), ("ticket_id", "T-1")]),
            ],
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.no_record, Some(NoRecordReason::NoFirstName));
    assert_rules(o, &[RuleId::A27]);
    assert!(store.records(T).is_empty());
}

#[test]
fn a28_later_updates_update_the_record_created_without_email() {
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &order(
            1,
            vec![
                buyer(),
                holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]),
            ],
        ),
    );
    let id = outcome(&plan, 10).record.unwrap();
    // Through the link the host stored ...
    let s = holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]).linked_to(id);
    run(
        &no_email_policy(),
        &store,
        &edit(2, s, &[("last_name", "Park")], EditSource::SelfService),
    );
    assert_eq!(text(&store, id, "last_name"), "Park");
    // ... or, when the host lost it, through the ticket id.
    let s = holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]);
    let plan = run(
        &no_email_policy(),
        &store,
        &edit(3, s, &[("job_title", "CTO")], EditSource::SelfService),
    );
    assert_rules(outcome(&plan, 10), &[RuleId::A28]);
    assert_eq!(text(&store, id, "job_title"), "CTO");
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn a28_a_linked_holder_stays_with_its_record_and_without_a25_tickets_find_none() {
    // The host's link wins over another record carrying the ticket id.
    let store = store_with(vec![
        contact(1, &[("first_name", "Jo"), ("ticket_id", "T-9")]),
        contact(2, &[("first_name", "Other"), ("ticket_id", "T-1")]),
    ]);
    let s = holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]).linked_to(rid(1));
    let plan = run(
        &no_email_policy(),
        &store,
        &edit(2, s, &[("job_title", "CTO")], EditSource::SelfService),
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    assert_eq!(text(&store, rid(1), "job_title"), "CTO");
    assert_eq!(text(&store, rid(2), "job_title"), "");
    // Without records for holders without email, a ticket id finds nothing.
    let store = store_with(vec![contact(
        2,
        &[("first_name", "Jo"), ("ticket_id", "T-1")],
    )]);
    let s = holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]);
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &edit(3, s, &[("job_title", "CTO")], EditSource::SelfService),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.record, None, "{}", o.explanation());
    assert!(!o.rules.contains(&RuleId::A28));
    assert_eq!(text(&store, rid(2), "job_title"), "");
}

#[test]
fn a29_all_blank_at_registration_names_later_still_no_record_until_email_added() {
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &order(1, vec![buyer(), holder(10, &[("ticket_id", "T-1")])]),
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::NoRecord);
    let s = holder(10, &[("ticket_id", "T-1")]);
    let plan = run(
        &no_email_policy(),
        &store,
        &edit(
            2,
            s.clone(),
            &[("first_name", "Jo"), ("last_name", "Park")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::NoRecord);
    assert_rules(o, &[RuleId::A29]);
    assert!(store.records(T).is_empty());
    let s = holder(
        10,
        &[
            ("ticket_id", "T-1"),
            ("first_name", "Jo"),
            ("last_name", "Park"),
        ],
    );
    let plan = run(
        &no_email_policy(),
        &store,
        &edit(
            3,
            s,
            &[("email", "jo@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::A29]);
    assert_eq!(store.records(T).len(), 1);
}

fn gala_order(event: u128, subjects: Vec<Subject>) -> Event {
    registration_with(event, Channel::Online, Some("701-GALA"), subjects)
}

fn member(id: RecordId, ticket: Option<&str>) -> CampaignMember {
    CampaignMember {
        campaign: CampaignId("701-GALA".into()),
        record: id,
        ticket: ticket.map(FieldValue::from),
    }
}

#[test]
fn a30_the_ticket_id_is_mapped_on_the_campaign_member_as_well_as_on_the_record() {
    let store = InMemoryStore::new();
    let plan = run(
        &no_email_policy(),
        &store,
        &gala_order(
            1,
            vec![
                buyer(),
                holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]),
            ],
        ),
    );
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::A25, RuleId::A5, RuleId::A30]);
    let id = o.record.unwrap();
    assert_eq!(text(&store, id, "ticket_id"), "T-1");
    assert_eq!(
        store.campaign_memberships(T, id).unwrap(),
        vec![member(id, Some("T-1"))]
    );
    // A later update without a ticket id keeps the member's.
    let s = holder(10, &[("first_name", "Jo")]).linked_to(id);
    let Event::Edited(mut e) = edit(2, s, &[("last_name", "Park")], EditSource::SelfService) else {
        unreachable!()
    };
    e.campaign = Some(CampaignId("701-GALA".into()));
    run(&no_email_policy(), &store, &Event::Edited(e));
    assert_eq!(
        store.campaign_memberships(T, id).unwrap(),
        vec![member(id, Some("T-1"))]
    );
}

#[test]
fn a30_without_the_mapping_the_member_carries_no_ticket_id() {
    let mut p = sf(RecordType::Contact);
    p.fields = p.fields.map("ticket_id", FieldClass::Generated);
    assert!(!p.campaign_member_ticket);
    let store = InMemoryStore::new();
    let plan = run(
        &p,
        &store,
        &gala_order(
            1,
            vec![holder(
                10,
                &[("email", "jo@example.org"), ("ticket_id", "T-1")],
            )],
        ),
    );
    let o = outcome(&plan, 10);
    assert!(!o.rules.contains(&RuleId::A30));
    let id = o.record.unwrap();
    assert_eq!(
        store.campaign_memberships(T, id).unwrap(),
        vec![member(id, None)]
    );
}

#[test]
fn a30_records_without_email_need_the_ticket_id_on_the_campaign_member() {
    let mut p = no_email_policy();
    p.campaign_member_ticket = false;
    assert_eq!(
        Engine::new(p).unwrap_err(),
        PolicyError::NoEmailNeedsMemberTicket
    );
}

#[test]
fn a30_b9_a_merge_moves_the_member_and_its_ticket_id() {
    let store = InMemoryStore::new();
    let p = no_email_policy();
    let plan = run(
        &p,
        &store,
        &gala_order(
            1,
            vec![
                buyer(),
                holder(10, &[("first_name", "Jo"), ("ticket_id", "T-1")]),
            ],
        ),
    );
    let gone = outcome(&plan, 10).record.unwrap();
    store.insert(contact(50, &[("first_name", "Jo")])).unwrap();
    let group = vec![record(&store, gone), record(&store, rid(50))];
    let merge = plan_merge(
        T,
        &group,
        &RecordMerge {
            survivor: Survivor::SmallestId,
            fields: FieldResolution::SurvivorWins,
        },
    )
    .unwrap();
    // A derived id carries its version bits: record 50 is the smaller, so it survives.
    assert!(rid(50) < gone);
    store.apply(&merge).unwrap();
    assert_eq!(
        store.campaign_memberships(T, rid(50)).unwrap(),
        vec![member(rid(50), Some("T-1"))]
    );
    assert!(store.campaign_memberships(T, gone).unwrap().is_empty());
}

#[test]
fn a24_the_explanation_counts_the_records_that_failed_the_extra_criteria() {
    let p = sf(RecordType::Contact).with_cross_matching(RecordType::Contact, &["last_name"]);
    let records = || {
        vec![
            contact(1, &[("email", "jo@example.org"), ("last_name", "Park")]),
            lead(2, &[("email", "jo@example.org"), ("last_name", "Kim")]),
        ]
    };
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("last_name", "Park")],
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(1)));
    assert!(
        o.explanation()
            .contains("1 record(s) with this email failed the extra criteria"),
        "{}",
        o.explanation()
    );
    let plan = one_holder(
        &p,
        vec![contact(
            1,
            &[("email", "jo@example.org"), ("last_name", "Park")],
        )],
        &[("email", "jo@example.org"), ("last_name", "Park")],
    );
    assert!(!outcome(&plan, 10)
        .explanation()
        .contains("failed the extra criteria"));
}
