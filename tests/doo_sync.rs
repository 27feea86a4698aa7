//! doo: synchronization (D13–D20), history (B3) and the shared-email guard (B4).

use crate::common::*;
use contact_sync::*;

fn store() -> InMemoryStore {
    store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("company", "Acme"),
            ("phone", ""),
        ],
    )])
}

fn ann_again(phone: &str, company: &str) -> Event {
    registration(
        1,
        vec![booker(
            10,
            &[
                ("email", "ann@example.org"),
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("company", company),
                ("phone", phone),
                ("city", "Bonn"),
            ],
        )],
    )
}

#[test]
fn d13_sync_on_overwrites_record_fields_with_new_booking_data() {
    let store = store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &ann_again("", "Globex"),
    );
    assert_eq!(text(&store, rid(1), "company"), "Globex");
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::D2, RuleId::D13]);
    let changes = plan.changes_to(rid(1));
    let company = changes
        .iter()
        .find(|c| c.field.as_str() == "company")
        .unwrap();
    assert_eq!(company.rule, RuleId::D13);
}

#[test]
fn d13_sync_on_never_blanks_a_field_left_empty() {
    let store = store();
    run(&Policy::doo().with_sync(true), &store, &ann_again("", ""));
    assert_eq!(text(&store, rid(1), "company"), "Acme");
}

#[test]
fn d14_sync_off_never_changes_non_empty_fields() {
    let store = store();
    let plan = run(&Policy::doo(), &store, &ann_again("+49 1", "Globex"));
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::D14]);
    assert!(
        o.explanation().contains("company"),
        "differing data is named: {}",
        o.explanation()
    );
}

#[test]
fn d15_empty_record_fields_are_filled_in_both_modes() {
    for sync in [true, false] {
        let store = store();
        let plan = run(
            &Policy::doo().with_sync(true).with_sync(sync),
            &store,
            &ann_again("+49 1", "Acme"),
        );
        assert_eq!(text(&store, rid(1), "phone"), "+49 1", "sync {sync}");
        assert_eq!(
            text(&store, rid(1), "city"),
            "Bonn",
            "absent fields are added too"
        );
        let changes = plan.changes_to(rid(1));
        assert!(changes.iter().all(|c| c.rule == RuleId::D15), "{changes:?}");
        assert_rules(outcome(&plan, 10), &[RuleId::D15]);
    }
}

#[test]
fn d16_sync_applies_to_manual_registrations_and_booker_changes() {
    let store = store();
    let manual = registration_with(
        1,
        Channel::Manual,
        None,
        vec![booker(
            10,
            &[("email", "ann@example.org"), ("company", "Manual Co")],
        )],
    );
    let plan = run(&Policy::doo().with_sync(true), &store, &manual);
    assert_eq!(text(&store, rid(1), "company"), "Manual Co");
    assert_rules(outcome(&plan, 10), &[RuleId::D16]);

    let s = booker(
        10,
        &[("email", "ann@example.org"), ("company", "Manual Co")],
    )
    .linked_to(rid(1));
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(2, s, &[("company", "Self Co")], EditSource::SelfService),
    );
    assert_eq!(text(&store, rid(1), "company"), "Self Co");
    let c = &plan.changes_to(rid(1))[0];
    assert_eq!(c.rule, RuleId::D16);
    assert_rules(outcome(&plan, 10), &[RuleId::D16]);
}

#[test]
fn d16_edit_only_pushes_changed_fields() {
    // The record changed elsewhere; the booker edits an unrelated field.
    let store = store();
    let s = booker(
        10,
        &[
            ("email", "ann@example.org"),
            ("company", "Old Co"),
            ("city", "Bonn"),
        ],
    )
    .linked_to(rid(1));
    run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(2, s, &[("city", "Köln")], EditSource::SelfService),
    );
    assert_eq!(
        text(&store, rid(1), "company"),
        "Acme",
        "unchanged booking data does not overwrite"
    );
    assert_eq!(text(&store, rid(1), "city"), "Köln");
}

#[test]
fn d17_organizer_chooses_per_edit_whether_changes_sync_missing_data_added_anyway() {
    let s = || booker(10, &[("email", "ann@example.org"), ("company", "Acme")]).linked_to(rid(1));
    let store = store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &edit(
            1,
            s(),
            &[("company", "NoSync Co"), ("phone", "+49 2")],
            EditSource::Organizer { sync: Some(false) },
        ),
    );
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    assert_eq!(
        text(&store, rid(1), "phone"),
        "+49 2",
        "missing data is added in any case"
    );
    assert_rules(outcome(&plan, 10), &[RuleId::D17]);

    // Org sync off, organizer chooses to sync this edit.
    let store = self::store();
    let plan = run(
        &Policy::doo(),
        &store,
        &edit(
            1,
            s(),
            &[("company", "Sync Co")],
            EditSource::Organizer { sync: Some(true) },
        ),
    );
    assert_eq!(text(&store, rid(1), "company"), "Sync Co");
    assert_rules(outcome(&plan, 10), &[RuleId::D17]);
}

#[test]
fn d18_b3_every_field_change_carries_old_and_new_value() {
    let store = store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &ann_again("+49 1", "Globex"),
    );
    let changes = plan.changes_to(rid(1));
    let company = changes
        .iter()
        .find(|c| c.field.as_str() == "company")
        .unwrap();
    assert_eq!(company.old.as_ref().unwrap().as_str(), "Acme");
    assert_eq!(company.new.as_str(), "Globex");
    let phone = changes
        .iter()
        .find(|c| c.field.as_str() == "phone")
        .unwrap();
    assert_eq!(phone.old.as_ref().unwrap().as_str(), "");
    let city = changes.iter().find(|c| c.field.as_str() == "city").unwrap();
    assert_eq!(city.old, None);
    assert_rules(outcome(&plan, 10), &[RuleId::B3]);
    // The store keeps no history (D18): the old value is only in the plan.
    assert_eq!(text(&store, rid(1), "company"), "Globex");
}

#[test]
fn d19_b4_shared_email_guard_warns_and_policy_chooses() {
    let shared = || {
        registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ben"),
                    ("last_name", "Ortiz"),
                    ("company", "Initech"),
                ],
            )],
        )
    };
    // Warn: overwrite anyway (doo's behaviour).
    let store = store();
    let plan = run(&Policy::doo().with_sync(true), &store, &shared());
    assert_eq!(text(&store, rid(1), "first_name"), "Ben");
    assert!(plan.warnings.contains(&Warning::SharedEmail {
        subject: sid(10),
        record: rid(1),
        action: NameGuard::Warn
    }));
    assert_rules(outcome(&plan, 10), &[RuleId::B4, RuleId::D19]);
    // Keep the record's name; the rest syncs.
    let store = self::store();
    let plan = run(
        &Policy::doo()
            .with_sync(true)
            .with_name_guard(NameGuard::KeepName),
        &store,
        &shared(),
    );
    assert_eq!(text(&store, rid(1), "first_name"), "Ann");
    assert_eq!(text(&store, rid(1), "last_name"), "Lee");
    assert_eq!(text(&store, rid(1), "company"), "Initech");
    assert_eq!(plan.warnings.len(), 1);
    // Create a new record instead.
    let store = self::store();
    let plan = run(
        &Policy::doo()
            .with_sync(true)
            .with_name_guard(NameGuard::CreateNew),
        &store,
        &shared(),
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
    assert_eq!(text(&store, rid(1), "first_name"), "Ann");
    assert_eq!(store.records(T).len(), 2);
}

/// B4: an initial is not a different name, whatever the script: `I.`
/// and the Turkish `İsmail` (whose lowercase starts with `i`) agree.
#[test]
fn b4_an_initial_agrees_with_a_name_in_another_script() {
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("first_name", "I."),
            ("last_name", "Yilmaz"),
        ],
    )]);
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "İsmail"),
                    ("last_name", "Yilmaz"),
                ],
            )],
        ),
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert_eq!(text(&store, rid(1), "first_name"), "İsmail");
    // A different name in another script is still different.
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(
            2,
            vec![booker(
                11,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ömer"),
                    ("last_name", "Yilmaz"),
                ],
            )],
        ),
    );
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
}

#[test]
fn b4_similar_names_do_not_trigger_the_guard() {
    let store = store();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "ANNA"),
                    ("last_name", "lee"),
                ],
            )],
        ),
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // And no guard when sync is off: nothing would be overwritten.
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(
            2,
            vec![booker(
                11,
                &[("email", "ann@example.org"), ("first_name", "Zed")],
            )],
        ),
    );
    assert!(plan.warnings.is_empty());
}

#[test]
fn d20_external_master_preset_is_doo_with_sync_off() {
    let p = Policy::doo_external_master();
    assert!(!p.sync.enabled);
    assert_eq!(
        Policy {
            sync: Policy::doo().with_sync(true).sync,
            ..p.clone()
        },
        Policy::doo().with_sync(true)
    );
    let store = store();
    run(&p, &store, &ann_again("+49 1", "Globex"));
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    assert_eq!(text(&store, rid(1), "phone"), "+49 1");
}

#[test]
fn d14_d15_synchronization_is_off_until_an_administrator_activates_it() {
    let doo = Policy::doo();
    assert!(
        !doo.sync.enabled,
        "doo: \"you can activate the synchronization\""
    );
    assert_eq!(Policy::default(), doo);
    // A partial policy starts from that default too.
    assert!(!Policy::from_json("{}").unwrap().sync.enabled);
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("company", "Acme"),
            ("phone", ""),
        ],
    )]);
    let booking = registration(
        1,
        vec![booker(
            10,
            &[
                ("email", "ann@example.org"),
                ("company", "Beta"),
                ("phone", "+49 1"),
            ],
        )],
    );
    let plan = run(&doo, &store, &booking);
    assert_rules(outcome(&plan, 10), &[RuleId::D2, RuleId::D14, RuleId::D15]);
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    assert_eq!(text(&store, rid(1), "phone"), "+49 1");
    // Activated, the same booking overwrites (D13).
    let store = store_with(vec![contact(
        1,
        &[("email", "ann@example.org"), ("company", "Acme")],
    )]);
    run(&doo.with_sync(true), &store, &booking);
    assert_eq!(text(&store, rid(1), "company"), "Beta");
}

#[test]
fn d13_an_email_added_by_an_edit_matches_as_a_registration_does() {
    let store = store_with(vec![contact(
        1,
        &[("email", "ann@example.org"), ("company", "Old Co")],
    )]);
    let unlinked = attendee(10, &[("company", "New Co")]);
    let ev = edit(
        2,
        unlinked,
        &[("email", "ann@example.org")],
        EditSource::Organizer { sync: None },
    );
    let plan = engine(Policy::doo().with_sync(true))
        .plan(&store, &ev)
        .unwrap();
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    let company: Vec<RuleId> = plan
        .changes_to(rid(1))
        .iter()
        .filter(|c| c.field.as_str() == "company")
        .map(|c| c.rule)
        .collect();
    // The first match of a subject is a registration's (D13), not an edit's (D16).
    assert_eq!(company, [RuleId::D13]);
}
