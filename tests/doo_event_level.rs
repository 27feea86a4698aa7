//! doo: access codes complete records without email (D21), and the
//! email-change behaviour chosen per event (D22).

use crate::common::*;
use contact_sync::*;

fn without_email() -> InMemoryStore {
    store_with(vec![contact(
        1,
        &[("first_name", "Ann"), ("last_name", "Lee")],
    )])
}

/// A booking prefilled from record 1 through a personalized access code,
/// where the booker enters an email.
fn access_code_booking(email_change: Option<EmailChange>) -> Event {
    let s =
        booker(10, &[("email", "ann@example.org"), ("first_name", "Ann")]).prefilled_from(rid(1));
    match registration(1, vec![s]) {
        Event::Registered(mut r) => {
            r.email_change = email_change;
            Event::Registered(r)
        }
        _ => unreachable!(),
    }
}

#[test]
fn d21_access_code_completes_a_record_without_email_under_reassign_sync_on_and_off() {
    for sync in [true, false] {
        let mut policy = Policy::doo().with_sync(true);
        policy.sync.enabled = sync;
        assert_eq!(policy.email_change, EmailChange::Reassign);
        let store = without_email();
        let plan = run(&policy, &store, &access_code_booking(None));
        let o = outcome(&plan, 10);
        assert_eq!(
            o.decision,
            Decision::Linked,
            "sync {sync}: {}",
            o.explanation()
        );
        assert_eq!(o.record, Some(rid(1)));
        assert_rules(o, &[RuleId::D7, RuleId::D21, RuleId::D15]);
        assert!(
            o.explanation().contains("has no email"),
            "{}",
            o.explanation()
        );
        assert_eq!(plan.created().count(), 0, "sync {sync}: no new contact");
        assert_eq!(text(&store, rid(1), "email"), "ann@example.org");
        assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    }
}

#[test]
fn d21_access_code_completes_a_record_without_email_under_retain() {
    let mut policy = Policy::doo().with_sync(true);
    policy.email_change = EmailChange::Retain;
    let store = without_email();
    let plan = run(&policy, &store, &access_code_booking(None));
    let o = outcome(&plan, 10);
    assert_eq!((o.decision, o.record), (Decision::Linked, Some(rid(1))));
    assert_eq!(text(&store, rid(1), "email"), "ann@example.org");
}

#[test]
fn d21_a_prefilled_record_with_another_email_is_still_an_email_change() {
    let store = store_with(vec![contact(
        1,
        &[("email", "old@example.org"), ("first_name", "Ann")],
    )]);
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &access_code_booking(None),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created, "{}", o.explanation());
    assert!(!o.rules.contains(&RuleId::D21));
}

#[test]
fn d22_the_event_retains_although_the_policy_reassigns() {
    let store = store_with(vec![contact(
        1,
        &[("email", "old@example.org"), ("first_name", "Ann")],
    )]);
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &access_code_booking(Some(EmailChange::Retain)),
    );
    let o = outcome(&plan, 10);
    assert_eq!(
        (o.decision, o.record),
        (Decision::Linked, Some(rid(1))),
        "{}",
        o.explanation()
    );
    assert_rules(o, &[RuleId::D7, RuleId::D22, RuleId::D9]);
    assert_eq!(text(&store, rid(1), "email"), "ann@example.org");
}

#[test]
fn d22_the_event_reassigns_although_the_policy_retains_also_on_edits() {
    let mut policy = Policy::doo().with_sync(true);
    policy.email_change = EmailChange::Retain;
    let store = store_with(vec![contact(
        1,
        &[("email", "old@example.org"), ("first_name", "Ann")],
    )]);
    let ann =
        attendee(10, &[("email", "old@example.org"), ("first_name", "Ann")]).linked_to(rid(1));
    let Event::Edited(mut e) = edit(
        2,
        ann,
        &[("email", "new@example.org")],
        EditSource::SelfService,
    ) else {
        unreachable!()
    };
    e.email_change = Some(EmailChange::Reassign);
    let plan = run(&policy, &store, &Event::Edited(e));
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created, "{}", o.explanation());
    assert_rules(o, &[RuleId::D22, RuleId::D8, RuleId::D3]);
    assert_eq!(text(&store, rid(1), "email"), "old@example.org");
}

#[test]
fn d22_b7_the_event_setting_is_part_of_the_payload() {
    let none = access_code_booking(None).digest();
    let retain = access_code_booking(Some(EmailChange::Retain)).digest();
    let reassign = access_code_booking(Some(EmailChange::Reassign)).digest();
    assert!(none != retain && retain != reassign && none != reassign);
    // Events without the setting serialize as before (no new key).
    let json = serde_json::to_string(&access_code_booking(None)).unwrap();
    assert!(!json.contains("email_change"), "{json}");
}
