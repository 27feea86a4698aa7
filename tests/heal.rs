//! B9: duplicate healing — report groups sharing a key, plan and apply a merge.

use crate::common::*;
use contact_sync::*;

fn dupes() -> Vec<Record> {
    vec![
        contact(
            1,
            &[
                ("email", "team@example.org"),
                ("first_name", "Tea"),
                ("company", ""),
            ],
        ),
        contact(
            2,
            &[
                ("email", "TEAM@example.org"),
                ("first_name", "Team"),
                ("company", "Acme"),
                ("phone", "+49 1"),
            ],
        ),
        contact(
            3,
            &[
                ("email", " team@example.org "),
                ("first_name", "Team"),
                ("city", "Bonn"),
            ],
        ),
        lead(4, &[("email", "team@example.org")]),
        contact(5, &[("email", "solo@example.org")]),
        Record::new(
            rid(6),
            OTHER,
            RecordType::Contact,
            fields(&[("email", "team@example.org")]),
        ),
    ]
}

#[test]
fn b9_reports_groups_of_one_type_sharing_a_key_within_the_tenant() {
    let store = store_with(dupes());
    let groups = store.duplicate_groups(T);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].key.as_str(), "team@example.org");
    assert_eq!(groups[0].record_type, RecordType::Contact);
    assert_eq!(groups[0].records, vec![rid(1), rid(2), rid(3)]);
}

#[test]
fn b9_merge_keeps_a_deterministic_survivor_and_resolves_fields() {
    let group: Vec<Record> = dupes()
        .into_iter()
        .filter(|r| [1, 2, 3].contains(&r.id.uuid().as_u128()))
        .collect();
    // Most complete survives (record 2: four non-blank fields); its empty
    // fields are filled from the others in id order.
    let plan = plan_merge(T, &group, &RecordMerge::default()).unwrap();
    let changes = plan.changes_to(rid(2));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (
            changes[0].field.as_str(),
            changes[0].new.as_str(),
            changes[0].rule
        ),
        ("city", "Bonn", RuleId::B9)
    );
    assert!(plan.effects.contains(&Effect::merge_record(rid(1), rid(2))));
    assert!(plan.effects.contains(&Effect::merge_record(rid(3), rid(2))));
    // The same group in any order gives the same plan.
    let mut shuffled = group.clone();
    shuffled.reverse();
    assert_eq!(
        plan_merge(T, &shuffled, &RecordMerge::default()).unwrap(),
        plan
    );
    // Smallest id survives; the most common first name wins over its own.
    let p = RecordMerge {
        survivor: Survivor::SmallestId,
        fields: FieldResolution::MostCommon,
    };
    let plan = plan_merge(T, &group, &p).unwrap();
    let names: Vec<(&str, &str)> = plan
        .changes_to(rid(1))
        .iter()
        .map(|c| (c.field.as_str(), c.new.as_str()))
        .collect();
    assert!(names.contains(&("first_name", "Team")), "{names:?}");
    assert!(names.contains(&("company", "Acme")), "{names:?}");
    // Not a group, or another tenant's record: errors.
    assert_eq!(
        plan_merge(T, &group[..1], &p),
        Err(Error::NotADuplicateGroup)
    );
    let foreign = dupes()
        .into_iter()
        .filter(|r| r.id == rid(6) || r.id == rid(1))
        .collect::<Vec<_>>();
    assert_eq!(
        plan_merge(T, &foreign, &p),
        Err(Error::ForeignCandidate(rid(6)))
    );
}

fn heal_and_register<S: ContactStore + ApplyPlan>(store: &S, seed: &dyn Fn(Record)) {
    for r in dupes() {
        seed(r);
    }
    let e = engine(Policy::doo());
    // Before healing, D4 keeps creating: a registration with the shared email creates.
    let before = e
        .plan(
            store,
            &registration(1, vec![attendee(10, &[("email", "team@example.org")])]),
        )
        .unwrap();
    assert_eq!(before.outcomes[0].decision, Decision::Created);
    store.apply(&before).unwrap();
    let mut group: Vec<Record> = [1, 2, 3]
        .iter()
        .filter_map(|n| store.record(T, rid(*n)).ok().flatten())
        .collect();
    group.extend(before.created().cloned());
    let merge = plan_merge(T, &group, &RecordMerge::default()).unwrap();
    store.apply(&merge).unwrap();
    // Re-applying the same merge conflicts (versions and records changed).
    assert!(store.apply(&merge).is_err());
    // After healing, exactly one contact has the email: D2 links.
    let after = e
        .plan(
            store,
            &registration(2, vec![attendee(11, &[("email", "team@example.org")])]),
        )
        .unwrap();
    assert_eq!(after.outcomes[0].decision, Decision::Linked);
    assert_eq!(after.outcomes[0].record, Some(rid(2)));
}

#[test]
fn b9_applying_a_merge_heals_d4_in_memory_and_moves_links() {
    let store = InMemoryStore::new();
    heal_and_register(&store, &|r| store.insert(r).unwrap());
    assert_eq!(
        store.link_of(T, sid(10)),
        Some(rid(2)),
        "the link of a retired record moved to the survivor"
    );
    assert!(store.record(T, rid(1)).unwrap().is_none());
    assert!(store.duplicate_groups(T).is_empty());
}

#[cfg(feature = "sqlite")]
#[test]
fn b9_applying_a_merge_heals_d4_in_sqlite_and_moves_links() {
    let store = SqliteStore::open_in_memory(Normalization::default()).unwrap();
    heal_and_register(&store, &|r| store.insert(&r).unwrap());
    assert_eq!(store.link_of(T, sid(10)).unwrap(), Some(rid(2)));
    assert!(store.record(T, rid(3)).unwrap().is_none());
}

#[test]
fn b9_a_stale_merge_plan_conflicts() {
    let store = store_with(dupes());
    let group: Vec<Record> = [1, 2]
        .iter()
        .filter_map(|n| store.record(T, rid(*n)).unwrap())
        .collect();
    let merge = plan_merge(T, &group, &RecordMerge::default()).unwrap();
    run(
        &Policy::doo(),
        &store,
        &edit(
            1,
            attendee(10, &[("email", "team@example.org")]).linked_to(rid(1)),
            &[("company", "Changed")],
            EditSource::SelfService,
        ),
    );
    assert!(matches!(
        store.apply(&merge),
        Err(ApplyError::Conflict(Conflict::VersionChanged { .. }))
    ));
    assert!(
        store.record(T, rid(1)).unwrap().is_some(),
        "nothing was merged"
    );
}

#[test]
fn b9_a_survivors_blank_field_is_filled_like_an_absent_one() {
    // The survivor (smallest id) holds the field, but only whitespace.
    let group = vec![
        contact(1, &[("email", "a@example.org"), ("phone", "  ")]),
        contact(2, &[("email", "a@example.org"), ("phone", "+49 1")]),
    ];
    let p = RecordMerge {
        survivor: Survivor::SmallestId,
        fields: FieldResolution::SurvivorWins,
    };
    let plan = plan_merge(T, &group, &p).unwrap();
    let changes = plan.changes_to(rid(1));
    assert!(
        changes
            .iter()
            .any(|c| c.field.as_str() == "phone" && c.new.as_str() == "+49 1"),
        "{changes:?}"
    );
}

#[test]
fn b9_most_common_keeps_the_survivors_value_when_it_is_among_the_tied() {
    // Acme and Beta are tied once each; the survivor (the most complete,
    // record 2) holds Beta, which is not the first of the tie.
    let group = vec![
        contact(1, &[("email", "a@example.org"), ("company", "Acme")]),
        contact(
            2,
            &[
                ("email", "a@example.org"),
                ("company", "Beta"),
                ("phone", "1"),
            ],
        ),
    ];
    let p = RecordMerge {
        survivor: Survivor::MostComplete,
        fields: FieldResolution::MostCommon,
    };
    let plan = plan_merge(T, &group, &p).unwrap();
    assert!(
        !plan
            .changes_to(rid(2))
            .iter()
            .any(|c| c.field.as_str() == "company"),
        "{:?}",
        plan.changes_to(rid(2))
    );
}
