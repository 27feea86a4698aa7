//! B15: email aliases. An email change that overwrites a record's email
//! may keep the old address as an alias; lookups match aliases; the
//! exact-one rule counts records, not addresses.

use crate::common::*;
use contact_sync::*;
use proptest::prelude::*;

/// doo with sync on and retain (D9): an email change overwrites the
/// record's email; `keep_old` keeps the old address as an alias.
fn retaining(keep_old: bool) -> Policy {
    let mut p = Policy::doo().with_sync(true);
    p.email_change = EmailChange::Retain;
    p.aliases.keep_old = keep_old;
    p
}

fn ann_store() -> InMemoryStore {
    store_with(vec![contact(
        1,
        &[("email", "ann@old.example"), ("first_name", "Ann")],
    )])
}

fn ann(n: u128, email: &str) -> Subject {
    attendee(n, &[("email", email), ("first_name", "Ann")]).linked_to(rid(1))
}

fn change_email(p: &Policy, store: &InMemoryStore, ev: u128, from: &str, to: &str) -> Plan {
    run(
        p,
        store,
        &edit(ev, ann(10, from), &[("email", to)], EditSource::SelfService),
    )
}

fn aliases_of(store: &InMemoryStore, id: RecordId) -> String {
    text(store, id, FieldName::EMAIL_ALIASES)
}

#[test]
fn b15_retain_keeps_the_old_address_and_a_later_registration_finds_the_record() {
    let p = retaining(true);
    let store = ann_store();
    let plan = change_email(&p, &store, 1, "ann@old.example", "ann@new.example");
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D9, RuleId::B15]);
    assert!(
        o.explanation().contains("kept as alias 1 in email_aliases"),
        "{}",
        o.explanation()
    );
    assert!(!o.explanation().contains('@'), "no address in explanations");
    assert_eq!(text(&store, rid(1), "email"), "ann@new.example");
    assert_eq!(aliases_of(&store, rid(1)), "ann@old.example");
    // Under the cap nothing is dropped, and the explanation says nothing of it.
    assert!(!o.explanation().contains("dropped"), "{}", o.explanation());
    // The plan carries the alias as a field change with its rule (B3).
    let Effect::UpdateRecord { changes, .. } = &plan.effects[0] else {
        panic!("{:?}", plan.effects);
    };
    let alias = changes
        .iter()
        .find(|c| c.field.as_str() == FieldName::EMAIL_ALIASES)
        .unwrap();
    assert_eq!((alias.old.clone(), alias.rule), (None, RuleId::B15));

    // Someone registers with the old address, in another case: found
    // through the alias, and the record's email stays the new one.
    let plan = run(
        &p,
        &store,
        &registration(2, vec![attendee(20, &[("email", "ANN@old.example")])]),
    );
    let o = outcome(&plan, 20);
    assert_eq!(o.decision, Decision::Linked, "{}", o.explanation());
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D2, RuleId::B15]);
    assert!(
        o.explanation().contains("alias 1 of 1 in email_aliases"),
        "{}",
        o.explanation()
    );
    assert!(!o.explanation().contains('@'), "no address in explanations");
    assert_eq!(text(&store, rid(1), "email"), "ann@new.example");
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn b15_off_by_default_an_overwritten_address_is_forgotten() {
    assert!(!Policy::default().aliases.keep_old);
    let p = retaining(false);
    let store = ann_store();
    let plan = change_email(&p, &store, 1, "ann@old.example", "ann@new.example");
    assert!(!outcome(&plan, 10).rules.contains(&RuleId::B15));
    assert_eq!(aliases_of(&store, rid(1)), "");
    let plan = run(
        &p,
        &store,
        &registration(2, vec![attendee(20, &[("email", "ann@old.example")])]),
    );
    assert_eq!(outcome(&plan, 20).decision, Decision::Created);
    assert_eq!(store.records(T).len(), 2);
}

#[test]
fn b15_exact_one_counts_records_not_addresses() {
    // A record whose alias repeats its own email is one record.
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "ann@example.org"),
            (FieldName::EMAIL_ALIASES, "Ann@example.org, ann@old.example"),
        ],
    )]);
    let plan = run(
        &retaining(true),
        &store,
        &registration(1, vec![attendee(20, &[("email", "ann@example.org")])]),
    );
    let o = outcome(&plan, 20);
    assert_eq!(o.record, Some(rid(1)));
    assert!(!o.rules.contains(&RuleId::B15), "found by its email");
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // One record with the address as its email, another with it as an
    // alias: two records, so D4 creates a new one and reports both.
    let store = store_with(vec![
        contact(1, &[("email", "ann@example.org")]),
        contact(
            2,
            &[
                ("email", "ann@new.example"),
                (FieldName::EMAIL_ALIASES, "ann@example.org"),
            ],
        ),
    ]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(1, vec![attendee(20, &[("email", "ann@example.org")])]),
    );
    let o = outcome(&plan, 20);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::D4]);
    assert!(plan.warnings.contains(&Warning::AbsorbingDuplicates {
        subject: sid(20),
        count: 2
    }));
    assert!(plan.preconditions.contains(&Precondition::EmailKey {
        key: EmailKey::parse("ann@example.org", &Normalization::default())
            .unwrap()
            .unwrap(),
        records: vec![rid(1), rid(2)],
    }));
}

#[test]
fn b15_changing_back_makes_the_alias_the_email_again() {
    let p = retaining(true);
    let store = ann_store();
    change_email(&p, &store, 1, "ann@old.example", "ann@new.example");
    change_email(&p, &store, 2, "ann@new.example", "ann@old.example");
    assert_eq!(text(&store, rid(1), "email"), "ann@old.example");
    assert_eq!(aliases_of(&store, rid(1)), "ann@new.example");
    for email in ["ann@old.example", "ann@new.example"] {
        let key = EmailKey::parse(email, &Normalization::default())
            .unwrap()
            .unwrap();
        let found = store.records_by_email(T, &key).unwrap();
        assert_eq!(found.len(), 1, "{email}");
    }
}

#[test]
fn b15_aliases_are_capped_and_the_oldest_goes_first() {
    let mut p = retaining(true);
    p.aliases.max = 2;
    let store = ann_store();
    let chain = [
        "ann@old.example",
        "a2@x.example",
        "a3@x.example",
        "a4@x.example",
    ];
    let mut last = None;
    for (i, w) in chain.windows(2).enumerate() {
        last = Some(change_email(&p, &store, i as u128 + 1, w[0], w[1]));
    }
    assert_eq!(aliases_of(&store, rid(1)), "a2@x.example, a3@x.example");
    let o = outcome(last.as_ref().unwrap(), 10);
    assert!(
        o.explanation().contains("At most 2 aliases"),
        "{}",
        o.explanation()
    );
    let dropped = EmailKey::parse("ann@old.example", &Normalization::default())
        .unwrap()
        .unwrap();
    assert!(store.records_by_email(T, &dropped).unwrap().is_empty());
}

#[test]
fn b15_the_field_is_the_engines_alone() {
    let p = Policy::doo().with_sync(true);
    let mut mapped = p.clone();
    mapped.fields = mapped
        .fields
        .map(FieldName::EMAIL_ALIASES, FieldClass::FormField);
    assert_eq!(mapped.validate(), Err(PolicyError::AliasesMapped));
    let mut zero = retaining(true);
    zero.aliases.max = 0;
    assert_eq!(zero.validate(), Err(PolicyError::ZeroLimit));
    // doo lets unmapped fields flow as form fields: not this one.
    assert!(p.fields.unmapped_as_form_fields);
    let store = ann_store();
    run(
        &p,
        &store,
        &registration(
            1,
            vec![attendee(
                20,
                &[
                    ("email", "ann@old.example"),
                    (FieldName::EMAIL_ALIASES, "victim@example.org"),
                ],
            )],
        ),
    );
    assert_eq!(aliases_of(&store, rid(1)), "");
}

#[test]
fn b15_reassign_and_new_record_leave_the_old_record_its_address() {
    let mut p = Policy::doo().with_sync(true);
    p.aliases.keep_old = true;
    let store = ann_store();
    let plan = change_email(&p, &store, 1, "ann@old.example", "ann@new.example");
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::D8, RuleId::B15]);
    assert_eq!(text(&store, rid(1), "email"), "ann@old.example");
    assert_eq!(aliases_of(&store, rid(1)), "");
    assert_eq!(aliases_of(&store, o.record.unwrap()), "");
}

#[test]
fn b15_a_batch_finds_an_alias_its_own_earlier_event_wrote() {
    let p = retaining(true);
    let store = ann_store();
    let events = vec![
        edit(
            1,
            ann(10, "ann@old.example"),
            &[("email", "ann@new.example")],
            EditSource::SelfService,
        ),
        registration(2, vec![attendee(20, &[("email", "ann@old.example")])]),
    ];
    let plan = engine(p).plan_batch(&store, &events).unwrap();
    let o = outcome(&plan, 20);
    assert_eq!(o.record, Some(rid(1)), "{}", o.explanation());
    assert_rules(o, &[RuleId::B15]);
    store.apply(&plan).unwrap();
    assert_eq!(store.records(T).len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// B15: after any chain of email changes under retain, the record is
    /// found by its email and by each of its last `max` earlier addresses,
    /// and by no other; it is always one record.
    #[test]
    fn b15_every_recent_address_finds_the_one_record(
        chain in proptest::collection::vec(0u8..6, 1..8),
        max in 1u16..4,
    ) {
        let mut p = retaining(true);
        p.aliases.max = max;
        let store = ann_store();
        let addr = |i: u8| format!("a{i}@example.org");
        let mut now = "ann@old.example".to_string();
        let mut history: Vec<String> = vec![now.clone()];
        for (ev, i) in chain.iter().enumerate() {
            let to = addr(*i);
            change_email(&p, &store, ev as u128 + 1, &now, &to);
            history.retain(|a| *a != to);
            if to != now {
                history.push(now.clone());
            }
            now = to;
        }
        history.retain(|a| *a != now);
        let keep = history.len().saturating_sub(usize::from(max));
        let recent: Vec<&String> = history[keep..].iter().collect();
        prop_assert_eq!(text(&store, rid(1), "email"), now.clone());
        let norm = Normalization::default();
        let all = std::iter::once("ann@old.example".to_string()).chain((0..6).map(addr));
        for a in all {
            let key = EmailKey::parse(&a, &norm).unwrap().unwrap();
            let found: Vec<RecordId> = store.records_by_email(T, &key).unwrap().iter().map(|r| r.id).collect();
            let expected = a == now || recent.contains(&&a);
            prop_assert_eq!(found.clone(), if expected { vec![rid(1)] } else { vec![] }, "{}", a);
        }
    }
}

/// A plan's effects with every alias change (B15) left out.
#[cfg(feature = "proptest")]
fn without_aliases(plan: &Plan) -> Vec<Effect> {
    plan.effects
        .iter()
        .map(|e| match e {
            Effect::UpdateRecord {
                record, changes, ..
            } => {
                let changes: Vec<FieldChange> = changes
                    .iter()
                    .filter(|c| c.field.as_str() != FieldName::EMAIL_ALIASES)
                    .cloned()
                    .collect();
                Effect::update_record(*record, changes)
            }
            other => other.clone(),
        })
        .collect()
}

#[cfg(feature = "proptest")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// B15: keeping old addresses changes a plan by its alias changes only
    /// (same decisions, links, records, other changes and warnings), and
    /// without it (every preset) no plan ever writes an alias.
    #[test]
    fn b15_keeping_aliases_adds_alias_changes_and_nothing_else(
        policy in contact_sync::strategies::policy(),
        records in contact_sync::strategies::store_contents(contact_sync::strategies::TENANT, 6),
        event in contact_sync::strategies::registration(contact_sync::strategies::TENANT, 3),
        new_email in contact_sync::strategies::email(),
        pick in 0usize..3,
        retain: bool,
    ) {
        let mut plain = policy.clone();
        if retain {
            plain.email_change = EmailChange::Retain;
        }
        let mut keeping = plain.clone();
        keeping.aliases.keep_old = true;
        let Event::Registered(reg) = &event else { unreachable!() };
        let mut plans = Vec::new();
        for p in [&plain, &keeping] {
            let store = InMemoryStore::new();
            store.extend(records.clone()).unwrap();
            let first = engine(p.clone()).plan(&store, &event).unwrap();
            store.apply(&first).unwrap();
            let s = &reg.subjects[pick % reg.subjects.len()];
            let linked = first.outcome(s.id).and_then(|o| o.record);
            let mut subject = s.clone();
            subject.link = linked;
            let change = Event::Edited(Edit::new(
                EventId::from_u128(7),
                contact_sync::strategies::TENANT,
                subject,
                Fields::from_pairs([(FieldName::EMAIL, new_email.as_str())]),
                EditSource::SelfService,
            ));
            let second = engine(p.clone()).plan(&store, &change).unwrap();
            plans.push((first, second));
        }
        let [(a1, a2), (b1, b2)] = [plans.remove(0), plans.remove(0)];
        for (a, b) in [(&a1, &b1), (&a2, &b2)] {
            let decided = |p: &Plan| p.outcomes.iter().map(|o| (o.subject, o.decision, o.record)).collect::<Vec<_>>();
            prop_assert_eq!(decided(a), decided(b));
            prop_assert_eq!(without_aliases(a), without_aliases(b));
            prop_assert_eq!(&a.warnings, &b.warnings);
            let writes_alias = |p: &Plan| p.effects.iter().any(|e| matches!(e,
                Effect::UpdateRecord { changes, .. } if changes.iter().any(|c| c.field.as_str() == FieldName::EMAIL_ALIASES)));
            prop_assert!(!writes_alias(a), "aliases off, yet an alias was written");
            prop_assert_eq!(a.to_json() == b.to_json(), !writes_alias(b) && !b.outcomes.iter().any(|o| o.rules.contains(&RuleId::B15)));
        }
    }
}
