//! Hosts build events and plans with constructors and setters (the types
//! are `#[non_exhaustive]`, so fields can be added without breaking them):
//! the defaults are the documented ones (D6, D22, A5, A12).

use crate::common::*;
use contact_sync::*;

#[test]
fn d6_d22_a5_a12_a_registration_built_with_setters_has_the_defaults_and_the_settings() {
    let plain = Registration::new(eid(1), T, vec![attendee(1, &[("email", "a@example.org")])]);
    assert_eq!(
        (
            plain.channel,
            &plain.campaign,
            plain.buyer_data_only,
            plain.email_change
        ),
        (Channel::Online, &None, false, None)
    );
    let set = plain
        .clone()
        .channel(Channel::Manual)
        .campaign(CampaignId("spring".into()))
        .buyer_data_only(true)
        .email_change(EmailChange::Retain);
    assert_eq!(set.channel, Channel::Manual);
    assert_eq!(set.campaign, Some(CampaignId("spring".into())));
    assert!(set.buyer_data_only);
    assert_eq!(set.email_change, Some(EmailChange::Retain));
    // A manual registration is decided as one (D6: a contact person's
    // registration still matches by email).
    let plan = engine(Policy::doo())
        .plan(&InMemoryStore::new(), &Event::Registered(set))
        .unwrap();
    assert_eq!(plan.created().count(), 1);
}

#[test]
fn d22_a12_an_edit_built_with_setters_carries_its_settings() {
    let e = Edit::new(
        eid(2),
        T,
        attendee(1, &[("email", "a@example.org")]).linked_to(rid(1)),
        fields(&[("email", "b@example.org")]),
        EditSource::SelfService,
    )
    .email_change(EmailChange::NewRecord)
    .buyer(fields(&[("last_name", "Buyer")]))
    .buyer_data_only(true)
    .campaign(CampaignId("c".into()));
    assert_eq!(e.email_change, Some(EmailChange::NewRecord));
    assert_eq!(e.buyer.as_ref().map(|b| b.text("last_name")), Some("Buyer"));
    assert!(e.buyer_data_only);
    assert_eq!(e.subject.link, Some(rid(1)));
    let relink = Relink::new(eid(3), T, attendee(1, &[]), rid(2));
    assert_eq!(relink.to, rid(2));
    let change = RecordChange::new(eid(4), T, rid(2), fields(&[("city", "Graz")]), vec![]);
    assert_eq!(change.new_fields.text("city"), "Graz");
}

#[test]
fn b6_a_plan_built_by_hand_starts_empty_and_applies() {
    let mut p = Plan::new(T);
    assert!(p.is_empty() && p.preconditions.is_empty() && p.outcomes.is_empty());
    p.effects.push(Effect::create_record(contact(
        1,
        &[("email", "a@example.org")],
    )));
    let store = InMemoryStore::new();
    store.apply(&p).unwrap();
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn a5_a30_b16_effects_built_by_constructors_are_their_variants() {
    let camp = CampaignId("spring".into());
    let change = FieldChange {
        field: FieldName::new("company"),
        old: None,
        new: FieldValue::new("Acme"),
        rule: RuleId::D13,
    };
    let r = contact(1, &[("email", "a@example.org")]);
    let built = [
        Effect::create_record(r.clone()),
        Effect::update_record(rid(1), vec![change.clone()]),
        Effect::link(sid(1), rid(1)),
        Effect::unlink(sid(1), rid(1)),
        Effect::add_campaign_member(rid(1), camp.clone(), Some("T-1".into())),
        Effect::merge_record(rid(2), rid(1)),
        Effect::delete_record(rid(1)),
        Effect::remove_campaign_member(rid(1), camp.clone()),
        Effect::restore_record(r.clone()),
        Effect::update_subject(sid(1), vec![change.clone()]),
    ];
    // Each constructor builds its variant with the fields it was given
    // (the variants are `#[non_exhaustive]`: matched here with `..`).
    let spring = &camp;
    assert!(matches!(&built[0], Effect::CreateRecord { record, .. } if *record == r));
    assert!(matches!(&built[1],
        Effect::UpdateRecord { record, changes, .. } if *record == rid(1) && *changes == [change.clone()]));
    assert!(matches!(&built[2],
        Effect::Link { subject, record, .. } if *subject == sid(1) && *record == rid(1)));
    assert!(matches!(&built[3],
        Effect::Unlink { subject, record, .. } if *subject == sid(1) && *record == rid(1)));
    assert!(matches!(&built[4],
        Effect::AddCampaignMember { record, campaign, ticket, .. }
            if *record == rid(1) && campaign == spring && ticket.as_ref().map(|t| t.as_str()) == Some("T-1")));
    assert!(matches!(&built[5],
        Effect::MergeRecord { record, into, .. } if *record == rid(2) && *into == rid(1)));
    assert!(matches!(&built[6], Effect::DeleteRecord { record, .. } if *record == rid(1)));
    assert!(matches!(&built[7],
        Effect::RemoveCampaignMember { record, campaign, .. } if *record == rid(1) && campaign == spring));
    assert!(matches!(&built[8], Effect::RestoreRecord { record, .. } if *record == r));
    assert!(matches!(&built[9],
        Effect::UpdateSubject { subject, changes, .. } if *subject == sid(1) && *changes == [change.clone()]));
    // A plan built by hand, effects and preconditions in order.
    let plan = Plan::new(T)
        .with_effects([Effect::link(sid(1), rid(1))])
        .with_effects([Effect::delete_record(rid(2))])
        .with_preconditions([Precondition::RecordAbsent { record: rid(3) }]);
    assert_eq!(
        plan.effects,
        [Effect::link(sid(1), rid(1)), Effect::delete_record(rid(2))]
    );
    assert_eq!(
        plan.preconditions,
        [Precondition::RecordAbsent { record: rid(3) }]
    );
}

#[test]
fn d4_d12_an_outcome_built_by_hand_has_what_its_setters_gave() {
    let bare = Outcome::new(eid(1), sid(2), Role::Attendee, Decision::Created);
    assert_eq!(
        (
            bare.event,
            bare.subject,
            bare.role,
            bare.decision,
            bare.record
        ),
        (eid(1), sid(2), Role::Attendee, Decision::Created, None)
    );
    assert!(bare.rules.is_empty() && bare.explanation().is_empty() && bare.no_record.is_none());
    let full = bare
        .with_record(Some(rid(3)))
        .with_rules([RuleId::D4, RuleId::D6])
        .with_explanation("Several records have the email.");
    assert_eq!(full.record, Some(rid(3)));
    assert_eq!(full.rules, [RuleId::D4, RuleId::D6]);
    assert_eq!(full.explanation(), "Several records have the email.");
}

#[test]
fn d7_a5_a12_optional_setters_take_what_a_host_row_holds() {
    let s = attendee(1, &[("email", "a@example.org")])
        .with_link(Some(rid(4)))
        .with_prefill(Some(rid(5)));
    assert_eq!((s.link, s.prefill), (Some(rid(4)), Some(rid(5))));
    let s = s.with_link(None).with_prefill(None);
    assert_eq!((s.link, s.prefill), (None, None));
    let r =
        Registration::new(eid(1), T, vec![s.clone()]).with_campaign(Some(CampaignId("c".into())));
    assert_eq!(r.campaign, Some(CampaignId("c".into())));
    assert_eq!(r.with_campaign(None).campaign, None);
    let e = Edit::new(eid(2), T, s, fields(&[]), EditSource::SelfService)
        .with_buyer(Some(fields(&[("email", "b@example.org")])));
    assert!(e.buyer.is_some());
    assert!(e.with_buyer(None).buyer.is_none());
}

/// B2: outcomes are equal field by field; the sentence kept beside reasons
/// (as JSON carries it) is theirs rendered, so only outcomes without
/// reasons are told apart by it; and an outcome with reasons is explained
/// by them, whatever sentence it was given.
#[test]
fn b2_outcomes_compare_field_by_field_and_reasons_explain_themselves() {
    let reason = Reason::new(
        Some(RuleId::D2),
        Fact::ExactlyOne {
            record: rid(3),
            record_type: RecordType::Contact,
            criteria: false,
        },
    );
    let base = Outcome::new(eid(1), sid(2), Role::Attendee, Decision::Linked)
        .with_record(Some(rid(3)))
        .with_no_record(None)
        .with_rules([RuleId::D2])
        .with_reasons([reason.clone()]);
    assert_eq!(base, base.clone());
    let mut scored = base.clone();
    scored.linkage = Some(Box::new(linkage::LinkScore {
        record: rid(3),
        score: 1,
        link_at: 2,
        review_at: 1,
        band: linkage::Band::Review,
        candidates: 1,
        fields: Vec::new(),
    }));
    let mut other_event = base.clone();
    other_event.event = eid(9);
    let mut other_subject = base.clone();
    other_subject.subject = sid(9);
    let mut other_role = base.clone();
    other_role.role = Role::Booker;
    let mut other_decision = base.clone();
    other_decision.decision = Decision::Created;
    let others = [
        other_event,
        other_subject,
        other_role,
        other_decision,
        base.clone().with_record(None),
        base.clone().with_no_record(Some(NoRecordReason::Ambiguous)),
        base.clone().with_rules([RuleId::D3]),
        base.clone().with_reasons([]),
        scored,
    ];
    for o in &others {
        assert_ne!(&base, o);
        assert_ne!(o, &base);
    }
    // With reasons, a given sentence neither counts nor shows.
    let told = base.clone().with_explanation("Something else.");
    assert_eq!(told, base);
    assert_eq!(told.explanation(), base.explanation());
    assert!(base.explanation().contains(&rid(3).to_string()));
    // Without reasons, the sentence is the explanation and tells them apart.
    let bare = base.clone().with_reasons([]);
    assert_ne!(
        bare.clone().with_explanation("A."),
        bare.clone().with_explanation("B.")
    );
    assert_eq!(bare.clone().with_explanation("A.").explanation(), "A.");
    // The JSON carries the rendered sentence and reads back equal.
    let json = serde_json::to_value(&base).unwrap();
    assert_eq!(json["explanation"].as_str(), Some(&*base.explanation()));
    let back: Outcome = serde_json::from_value(json).unwrap();
    assert_eq!(back, base);
    assert_eq!(back.explanation(), base.explanation());
    let hand = serde_json::to_value(bare.clone().with_explanation("A.")).unwrap();
    assert_eq!(hand["explanation"], "A.");
    assert!(hand.get("reasons").is_none() && hand.get("linkage").is_none());
}

/// B6: `Plan::named_records` lists every record the effects name (what a
/// host store reads for `check_effects`), sorted, each once; unlinks,
/// subject updates and membership removals name none.
#[test]
fn b6_named_records_lists_the_records_the_effects_name_sorted_and_once() {
    let camp = CampaignId("spring".into());
    let plan = Plan::new(T).with_effects([
        Effect::link(sid(1), rid(5)),
        Effect::create_record(contact(3, &[("email", "c@example.org")])),
        Effect::merge_record(rid(9), rid(5)),
        Effect::update_record(rid(3), vec![]),
        Effect::unlink(sid(2), rid(7)),
        Effect::remove_campaign_member(rid(8), camp.clone()),
        Effect::add_campaign_member(rid(4), camp, None),
        Effect::delete_record(rid(6)),
        Effect::restore_record(contact(2, &[])),
    ]);
    assert_eq!(
        plan.named_records(),
        [rid(2), rid(3), rid(4), rid(5), rid(6), rid(9)]
    );
    assert!(Plan::new(T).named_records().is_empty());
}
