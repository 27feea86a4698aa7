//! B14: trust by submitter. Events say who submitted the data; the policy
//! caps each level's writes per field class, except the fields it owns.

use std::collections::BTreeMap;

use crate::common::*;
use contact_sync::*;
use contact_sync::{ClassRules, FieldMerge, TrustRights};

fn policy(level: Submitter, rights: TrustRights) -> Policy {
    let mut p = Policy::doo().with_sync(true);
    p.trust = BTreeMap::from([(level, rights)]);
    p
}

fn existing() -> InMemoryStore {
    store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("company", "Old Co"),
            ("phone", "1"),
        ],
    )])
}

fn submitted(level: Option<Submitter>, pairs: &[(&str, &str)]) -> Event {
    let mut r = Registration::new(eid(1), T, vec![attendee(10, pairs)]);
    r.submitter = level;
    Event::Registered(r)
}

fn changed(plan: &Plan) -> Vec<(String, String)> {
    plan.changes_to(rid(1))
        .iter()
        .map(|c| (c.field.as_str().to_owned(), c.new.as_str().to_owned()))
        .collect()
}

#[test]
fn b14_an_anonymous_form_fills_empty_fields_but_never_overwrites() {
    let p = policy(
        Submitter::AnonymousForm,
        TrustRights {
            max: ClassRules::all(FieldMerge::FillEmpty),
            owns: vec![],
        },
    );
    let ev = submitted(
        Some(Submitter::AnonymousForm),
        &[
            ("email", "ann@example.org"),
            ("company", "New Co"),
            ("city", "Graz"),
        ],
    );
    let plan = engine(p).plan(&existing(), &ev).unwrap();
    assert_eq!(changed(&plan), [("city".to_owned(), "Graz".to_owned())]);
    let o = outcome(&plan, 10);
    assert_rules(o, &[RuleId::B14, RuleId::D15]);
    assert!(
        o.explanation().contains("anonymous_form") && o.explanation().contains("company"),
        "{}",
        o.explanation()
    );
}

#[test]
fn b14_an_import_overwrites_only_the_fields_it_owns() {
    let p = policy(
        Submitter::Import,
        TrustRights {
            max: ClassRules::all(FieldMerge::FillEmpty),
            owns: vec![FieldName::new("company")],
        },
    );
    let ev = submitted(
        Some(Submitter::Import),
        &[
            ("email", "ann@example.org"),
            ("company", "New Co"),
            ("phone", "2"),
        ],
    );
    let plan = engine(p).plan(&existing(), &ev).unwrap();
    assert_eq!(
        changed(&plan),
        [("company".to_owned(), "New Co".to_owned())]
    );
    assert!(outcome(&plan, 10).explanation().contains("import"));
}

#[test]
fn b14_without_a_submitter_or_with_an_unmapped_level_data_writes_as_the_sync_rules_say() {
    let p = policy(
        Submitter::AnonymousForm,
        TrustRights {
            max: ClassRules::all(FieldMerge::Never),
            owns: vec![],
        },
    );
    let e = engine(p);
    let pairs = [("email", "ann@example.org"), ("company", "New Co")];
    for level in [None, Some(Submitter::VerifiedLogin)] {
        let plan = e.plan(&existing(), &submitted(level, &pairs)).unwrap();
        assert_eq!(
            changed(&plan),
            [("company".to_owned(), "New Co".to_owned())],
            "{level:?}"
        );
        assert!(!outcome(&plan, 10).rules.contains(&RuleId::B14));
    }
}

#[test]
fn b14_an_edit_by_a_token_link_may_not_rename() {
    let p = policy(
        Submitter::SelfServiceToken,
        TrustRights {
            max: ClassRules {
                name: FieldMerge::Never,
                ..ClassRules::all(FieldMerge::Overwrite)
            },
            owns: vec![],
        },
    );
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("first_name", "Ann"),
            ("company", "Old Co"),
        ],
    )]);
    let subject =
        attendee(10, &[("email", "ann@example.org"), ("first_name", "Ann")]).linked_to(rid(1));
    let ev = Event::Edited(
        Edit::new(
            eid(2),
            T,
            subject,
            fields(&[("first_name", "Mallory"), ("company", "New Co")]),
            EditSource::SelfService,
        )
        .submitter(Submitter::SelfServiceToken),
    );
    let plan = engine(p).plan(&store, &ev).unwrap();
    assert_eq!(
        changed(&plan),
        [("company".to_owned(), "New Co".to_owned())]
    );
    assert!(outcome(&plan, 10).explanation().contains("first_name"));
}

#[test]
fn b14_b4_no_name_guard_warning_for_a_rename_trust_forbids_whatever_else_the_level_owns() {
    // The level owns the company, not a name: its names stay capped, so
    // the shared-email guard has no overwrite to warn about.
    let p = policy(
        Submitter::Import,
        TrustRights {
            max: ClassRules {
                name: FieldMerge::FillEmpty,
                ..ClassRules::all(FieldMerge::Overwrite)
            },
            owns: vec![FieldName::new("company")],
        },
    );
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("company", "Old Co"),
        ],
    )]);
    let ev = submitted(
        Some(Submitter::Import),
        &[
            ("email", "ann@example.org"),
            ("first_name", "Mallory"),
            ("last_name", "Smith"),
            ("company", "New Co"),
        ],
    );
    let plan = engine(p.clone()).plan(&store, &ev).unwrap();
    assert_eq!(
        changed(&plan),
        [("company".to_owned(), "New Co".to_owned())]
    );
    assert!(
        !plan
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::SharedEmail { .. })),
        "{:?}",
        plan.warnings
    );
    // Without a submitter the same data renames, and the guard warns.
    let plan = engine(p)
        .plan(
            &store,
            &submitted(
                None,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Mallory"),
                    ("last_name", "Smith"),
                ],
            ),
        )
        .unwrap();
    assert!(plan
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::SharedEmail { .. })));
}

#[test]
fn b14_b7_the_submitter_is_part_of_the_payload_only_when_given() {
    let pairs = [("email", "ann@example.org")];
    let none = submitted(None, &pairs);
    let anonymous = submitted(Some(Submitter::AnonymousForm), &pairs);
    let import = submitted(Some(Submitter::Import), &pairs);
    assert_ne!(none.digest(), anonymous.digest());
    assert_ne!(anonymous.digest(), import.digest());
    // Without a submitter the JSON has no such key: stored events read as before.
    assert!(!serde_json::to_string(&none).unwrap().contains("submitter"));
    let p = policy(
        Submitter::Import,
        TrustRights {
            max: ClassRules::all(FieldMerge::FillEmpty),
            owns: vec![FieldName::new("company")],
        },
    );
    let json = p.to_json();
    assert_eq!(Policy::from_json(&json).unwrap(), p);
    assert!(Policy::from_json(&Policy::doo().to_json())
        .unwrap()
        .trust
        .is_empty());
}

#[cfg(feature = "proptest")]
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    /// B14: an event that does not say who submitted it is planned byte for
    /// byte as before, whatever the trust map holds.
    #[test]
    fn b14_events_without_a_submitter_plan_the_same_whatever_the_trust_map(
        policy in contact_sync::strategies::policy(),
        records in contact_sync::strategies::store_contents(contact_sync::strategies::TENANT, 6),
        event in contact_sync::strategies::registration(contact_sync::strategies::TENANT, 3),
    ) {
        let store = InMemoryStore::new();
        store.extend(records).unwrap();
        let mut trusting = policy.clone();
        for level in [Submitter::AnonymousForm, Submitter::Import, Submitter::Organizer] {
            trusting.trust.insert(level, TrustRights { max: ClassRules::all(FieldMerge::Never), owns: vec![] });
        }
        let plain = engine(policy).plan(&store, &event).unwrap();
        let with_map = engine(trusting).plan(&store, &event).unwrap();
        proptest::prop_assert_eq!(plain.to_json(), with_map.to_json());
    }
}
