//! doo: email changes on linked subjects (D8–D10).

use crate::common::*;
use contact_sync::*;

fn linked_store() -> InMemoryStore {
    store_with(vec![
        contact(1, &[("email", "old@example.org"), ("first_name", "Ann")]),
        contact(
            2,
            &[("email", "existing@example.org"), ("first_name", "Ann")],
        ),
    ])
}

fn ann(n: u128) -> Subject {
    attendee(n, &[("email", "old@example.org"), ("first_name", "Ann")]).linked_to(rid(1))
}

#[test]
fn d8_reassign_rematches_on_new_email_to_an_existing_single_record() {
    let store = linked_store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(
            1,
            ann(10),
            &[("email", "Existing@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Linked);
    assert_eq!(o.record, Some(rid(2)));
    assert_rules(o, &[RuleId::D8, RuleId::D2]);
    assert!(plan.effects.contains(&Effect::unlink(sid(10), rid(1))));
    assert_eq!(
        text(&store, rid(1), "email"),
        "old@example.org",
        "the old record keeps its email"
    );
}

#[test]
fn d8_reassign_creates_a_new_record_for_an_unknown_new_email() {
    let store = linked_store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(
            1,
            ann(10),
            &[("email", "brand-new@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::D8, RuleId::D3]);
    assert_eq!(
        text(&store, o.record.unwrap(), "email"),
        "brand-new@example.org"
    );
    assert_eq!(text(&store, rid(1), "email"), "old@example.org");
}

#[test]
fn d8_prefilled_registration_with_changed_email_is_reassigned() {
    let store = linked_store();
    let s = booker(
        10,
        &[("email", "someone-else@example.org"), ("first_name", "Bo")],
    )
    .prefilled_from(rid(1));
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(1, vec![s]),
    );
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::D7, RuleId::D8]);
    assert_eq!(o.decision, Decision::Created);
    assert_eq!(text(&store, rid(1), "first_name"), "Ann");
}

#[test]
fn d9_retain_with_sync_on_overwrites_the_record_email() {
    let store = linked_store();
    let p = Policy::doo()
        .with_sync(true)
        .with_email_change(EmailChange::Retain);
    let plan = run(
        &p,
        &store,
        &edit(
            1,
            ann(10),
            &[("email", "new@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Kept);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D9]);
    assert_eq!(text(&store, rid(1), "email"), "new@example.org");
    let change = plan.changes_to(rid(1));
    assert_eq!(
        change[0].old.as_ref().map(|v| v.as_str()),
        Some("old@example.org")
    );
    assert!(plan.warnings.contains(&Warning::RecordEmailOverwritten {
        subject: sid(10),
        record: rid(1)
    }));
}

#[test]
fn d9_retain_with_sync_off_keeps_the_record_email() {
    let store = linked_store();
    let p = Policy::doo()
        .with_sync(true)
        .with_email_change(EmailChange::Retain)
        .with_sync(false);
    let plan = run(
        &p,
        &store,
        &edit(
            1,
            ann(10),
            &[("email", "new@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Kept);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D9, RuleId::D14]);
    assert_eq!(text(&store, rid(1), "email"), "old@example.org");
    assert!(plan.changes_to(rid(1)).is_empty());
}

#[test]
fn d9_retain_on_a_prefilled_registration_keeps_the_prefilled_link() {
    let store = linked_store();
    let p = Policy::doo()
        .with_sync(true)
        .with_email_change(EmailChange::Retain);
    let s = booker(
        10,
        &[("email", "typo-fixed@example.org"), ("first_name", "Ann")],
    )
    .prefilled_from(rid(1));
    let plan = run(&p, &store, &registration(1, vec![s]));
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D7, RuleId::D9]);
    assert_eq!(text(&store, rid(1), "email"), "typo-fixed@example.org");
}

#[test]
fn d10_email_change_rules_apply_alike_to_organizer_self_service_and_prefill() {
    for source in [
        EditSource::Organizer { sync: None },
        EditSource::SelfService,
    ] {
        let store = linked_store();
        let plan = run(
            &Policy::doo().with_sync(true),
            &store,
            &edit(1, ann(10), &[("email", "existing@example.org")], source),
        );
        let o = outcome(&plan, 10);
        assert_eq!(o.record, Some(rid(2)), "{source:?}");
        assert_rules(o, &[RuleId::D10, RuleId::D8]);
    }
    let store = linked_store();
    let s = booker(
        10,
        &[("email", "existing@example.org"), ("first_name", "Ann")],
    )
    .prefilled_from(rid(1));
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(1, vec![s]),
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(2)));
}

#[test]
fn d8_email_removed_unlinks_the_subject() {
    let store = linked_store();
    run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(0, vec![ann(10).prefilled_from(rid(1))]),
    );
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(1, ann(10), &[("email", "")], EditSource::SelfService),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Unlinked);
    assert_rules(o, &[RuleId::D8, RuleId::D5]);
    assert_eq!(store.link_of(T, sid(10)), None);
}

#[test]
fn d8_case_only_change_is_not_an_email_change() {
    let store = linked_store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(
            1,
            ann(10),
            &[("email", "OLD@example.org")],
            EditSource::SelfService,
        ),
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Kept);
    assert_eq!(o.record, Some(rid(1)));
    assert!(!o.rules.contains(&RuleId::D8));
}
