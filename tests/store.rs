//! The in-memory store: atomic apply and preconditions (B6 basics), B2 explanations.

use crate::common::*;
use contact_sync::*;

#[test]
fn b6_apply_fails_with_a_conflict_when_a_new_record_appeared_for_the_key() {
    let store = InMemoryStore::new();
    let e = engine(Policy::doo().with_sync(true));
    let a = e
        .plan(
            &store,
            &registration(1, vec![booker(10, &[("email", "new@example.org")])]),
        )
        .unwrap();
    let b = e
        .plan(
            &store,
            &registration(2, vec![booker(11, &[("email", "NEW@example.org")])]),
        )
        .unwrap();
    store.apply(&a).unwrap();
    let err = store.apply(&b).unwrap_err();
    assert!(
        matches!(err, ApplyError::Conflict(Conflict::EmailKeyChanged)),
        "{err}"
    );
    assert_eq!(
        store.records(T).len(),
        1,
        "nothing of the failed plan was applied"
    );
    assert_eq!(store.link_of(T, sid(11)), None);
    // Re-planning resolves it: the second subject now links.
    let b = e
        .plan(
            &store,
            &registration(2, vec![booker(11, &[("email", "NEW@example.org")])]),
        )
        .unwrap();
    store.apply(&b).unwrap();
    assert_eq!(store.link_of(T, sid(11)), store.link_of(T, sid(10)));
}

#[test]
fn b6_apply_fails_when_an_updated_record_changed_version() {
    let store = store_with(vec![contact(
        1,
        &[("email", "ann@example.org"), ("company", "A")],
    )]);
    let e = engine(Policy::doo().with_sync(true));
    let a = e
        .plan(
            &store,
            &registration(
                1,
                vec![booker(
                    10,
                    &[("email", "ann@example.org"), ("company", "B")],
                )],
            ),
        )
        .unwrap();
    let b = e
        .plan(
            &store,
            &registration(
                2,
                vec![booker(
                    11,
                    &[("email", "ann@example.org"), ("company", "C")],
                )],
            ),
        )
        .unwrap();
    store.apply(&a).unwrap();
    let err = store.apply(&b).unwrap_err();
    assert!(
        matches!(
            err,
            ApplyError::Conflict(Conflict::VersionChanged {
                expected: 1,
                actual: 2,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(text(&store, rid(1), "company"), "B");
}

#[test]
fn b6_apply_is_all_or_nothing() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let e = engine(Policy::doo().with_sync(true));
    let mut plan = e
        .plan(
            &store,
            &registration(
                1,
                vec![
                    booker(10, &[("email", "new1@example.org")]),
                    attendee(11, &[("email", "ann@example.org"), ("company", "X")]),
                ],
            ),
        )
        .unwrap();
    // Corrupt the last effect: it names a record that does not exist.
    plan.effects.push(Effect::link(sid(12), rid(99)));
    assert!(matches!(
        store.apply(&plan),
        Err(ApplyError::InvalidPlan(_))
    ));
    assert_eq!(store.records(T).len(), 1);
    assert_eq!(record(&store, rid(1)).version, 1);
    assert!(store.links(T).is_empty());
}

#[test]
fn b6_plan_carries_the_preconditions_it_was_decided_on() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let plan = engine(Policy::doo().with_sync(true))
        .plan(
            &store,
            &registration(
                1,
                vec![
                    booker(10, &[("email", "ann@example.org"), ("company", "X")]),
                    attendee(11, &[("email", "new@example.org")]),
                ],
            ),
        )
        .unwrap();
    let new_key = EmailKey::parse("new@example.org", &Normalization::default())
        .unwrap()
        .unwrap();
    assert!(plan.preconditions.contains(&Precondition::EmailKey {
        key: new_key,
        records: vec![]
    }));
    assert!(plan.preconditions.contains(&Precondition::RecordVersion {
        record: rid(1),
        version: 1
    }));
    let created = plan.created().next().unwrap().id;
    assert!(plan
        .preconditions
        .contains(&Precondition::RecordAbsent { record: created }));
}

#[test]
fn b5_one_registration_sharing_a_new_email_creates_one_record() {
    let store = InMemoryStore::new();
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(
            1,
            vec![
                booker(
                    10,
                    &[("email", "family@example.org"), ("first_name", "Ann")],
                ),
                attendee(
                    11,
                    &[("email", "Family@Example.org"), ("first_name", "Ann")],
                ),
            ],
        ),
    );
    assert_eq!(plan.created().count(), 1);
    assert_eq!(outcome(&plan, 11).decision, Decision::Linked);
    assert_eq!(store.link_of(T, sid(10)), store.link_of(T, sid(11)));
}

#[test]
fn b2_every_outcome_explains_itself_with_rules_in_order_and_a_sentence() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let plan = run(
        &Policy::doo().with_sync(true),
        &store,
        &registration(
            1,
            vec![
                booker(10, &[("email", "ann@example.org")]),
                attendee(11, &[]),
            ],
        ),
    );
    let o = outcome(&plan, 10);
    let pos = |r| o.rules.iter().position(|x| *x == r).unwrap();
    assert!(pos(RuleId::D1) < pos(RuleId::D2), "{:?}", o.rules);
    assert!(
        o.explanation()
            .starts_with("Exactly one contact has this email"),
        "{}",
        o.explanation()
    );
    assert!(outcome(&plan, 11).explanation().contains("No email"));
    let report = plan.report();
    assert_eq!(report.lines().count(), 2, "{report}");
}

#[test]
fn b8_decide_rejects_candidates_of_another_tenant() {
    let e = engine(Policy::doo().with_sync(true));
    let ev = registration(1, vec![booker(10, &[("email", "ann@example.org")])]);
    let needs = e.needs(&ev).unwrap();
    let mut c = Candidates::new(T);
    for k in &needs.email_keys {
        c.add_email_key(
            k.clone(),
            vec![Record::new(
                rid(1),
                OTHER,
                RecordType::Contact,
                fields(&[("email", "ann@example.org")]),
            )],
        );
    }
    assert_eq!(e.decide(&ev, &c), Err(Error::ForeignCandidate(rid(1))));
}

#[test]
fn needs_and_decide_match_plan_on_a_store() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let e = engine(Policy::doo().with_sync(true));
    let ev = registration(
        1,
        vec![
            booker(10, &[("email", "ann@example.org")]),
            attendee(11, &[("email", "b@example.org")]),
        ],
    );
    let needs = e.needs(&ev).unwrap();
    assert_eq!(needs.email_keys.len(), 2);
    let c = ContactStore::fetch(&store, &needs).unwrap();
    assert_eq!(e.decide(&ev, &c).unwrap(), e.plan(&store, &ev).unwrap());
    // The deprecated path reads through the store's fetch.
    #[allow(deprecated)]
    let old = Candidates::fetch(&store, &needs).unwrap();
    assert_eq!(e.decide(&ev, &old).unwrap(), e.plan(&store, &ev).unwrap());
    // Missing candidates are an error, not a guess.
    assert_eq!(
        e.decide(&ev, &Candidates::new(T)),
        Err(Error::MissingCandidates("email key"))
    );
}

#[test]
fn store_normalization_must_match_the_policy() {
    let store = InMemoryStore::with_normalization(Normalization {
        fold_plus_tags: true,
        fold_gmail_dots: false,
    });
    let r = engine(Policy::doo().with_sync(true)).plan(&store, &registration(1, vec![]));
    assert!(matches!(
        r,
        Err(PlanError::Invalid(Error::NormalizationMismatch))
    ));
}

#[test]
fn debug_of_records_and_plans_never_prints_field_values() {
    let r = contact(
        1,
        &[
            ("email", "secret@example.org"),
            ("first_name", "Secretname"),
        ],
    );
    let s = format!("{r:?}");
    assert!(!s.contains("secret") && !s.contains("Secretname"), "{s}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
    check::<Policy>();
    check::<Plan>();
    check::<Event>();
    check::<Record>();
    check::<InMemoryStore>();
    check::<Error>();
    check::<PlanError<std::convert::Infallible>>();
    check::<ApplyError<std::convert::Infallible>>();
    check::<Scenario>();
    #[cfg(feature = "sqlite")]
    check::<SqliteStore>();
}

fn effects_plan(tenant: TenantId, effects: Vec<Effect>) -> Plan {
    {
        let mut p = Plan::new(tenant);
        p.effects = effects;
        p
    }
}

/// What `records_by_email` must answer: the tenant's records whose email has `key`.
fn scan(store: &InMemoryStore, t: TenantId, key: &EmailKey) -> Vec<RecordId> {
    store
        .records(t)
        .into_iter()
        .filter(|r| r.email_key(&Normalization::default()).as_ref() == Some(key))
        .map(|r| r.id)
        .collect()
}

proptest::proptest! {
    /// B6, B9: the store's email index agrees with its records after any
    /// sequence of inserts, email changes and merges, including records
    /// sharing a key in two tenants (changes in the middle of a chain).
    #[test]
    fn b6_store_email_index_follows_inserts_changes_and_merges(
        ops in proptest::collection::vec((0u8..3, 1u128..9, 0usize..4, 0u128..2), 1..40)
    ) {
        let emails = ["a@example.org", "A@Example.org ", "b@example.org", ""];
        let keys: Vec<EmailKey> = ["a@example.org", "b@example.org"]
            .iter()
            .map(|e| EmailKey::parse(e, &Normalization::default()).unwrap().unwrap())
            .collect();
        let tenants = [TenantId::from_u128(1), TenantId::from_u128(2)];
        let store = InMemoryStore::new();
        for (op, id, email, tenant) in ops {
            let t = tenants[tenant as usize];
            let id = RecordId::from_u128(id * 2 + tenant);
            let exists = store.records(t).iter().any(|r| r.id == id);
            match (op, exists) {
                (0, false) => store
                    .insert(Record::new(id, t, RecordType::Contact, fields(&[("email", emails[email]), ("ticket_id", "T1")])))
                    .unwrap(),
                (1, true) => store
                    .apply(&effects_plan(t, vec![Effect::update_record(id, vec![FieldChange {
                            field: FieldName::new("email"),
                            old: None,
                            new: FieldValue::new(emails[email]),
                            rule: RuleId::D9,
                        }])]))
                    .unwrap(),
                (2, true) => {
                    let into = store.records(t).into_iter().map(|r| r.id).find(|x| *x != id);
                    if let Some(into) = into {
                        store.apply(&effects_plan(t, vec![Effect::merge_record(id, into)])).unwrap();
                    }
                }
                _ => {}
            }
            for t in tenants {
                for k in &keys {
                    let found: Vec<RecordId> = store.records_by_email(t, k).unwrap().iter().map(|r| r.id).collect();
                    proptest::prop_assert_eq!(found, scan(&store, t, k));
                }
                let tickets: Vec<RecordId> = store.records_by_ticket(t, "T1").unwrap().iter().map(|r| r.id).collect();
                let all: Vec<RecordId> = store.records(t).iter().map(|r| r.id).collect();
                proptest::prop_assert_eq!(tickets, all);
            }
        }
    }
}

#[test]
fn b7_d2_candidates_chained_by_hand_decide_as_the_store_does() {
    // A host fills candidates with chained calls: each call must return the
    // same candidates, so nothing added along the chain is lost.
    let ann = contact(1, &[("email", "ann@example.org"), ("ticket_id", "T-9")]);
    let store = store_with(vec![ann.clone()]);
    let e = engine(Policy::doo().with_sync(true));
    let linked = booker(10, &[("email", "ann@example.org")]).linked_to(rid(1));
    let ev = registration(1, vec![linked]);
    let key = EmailKey::parse("ann@example.org", &Normalization::default())
        .unwrap()
        .unwrap();
    let mut c = Candidates::new(T);
    c.add_ticket("T-0", vec![])
        .add_email_key(key.clone(), vec![ann.clone()])
        .add_record(rid(1), Some(ann.clone()));
    assert_eq!(e.decide(&ev, &c).unwrap(), e.plan(&store, &ev).unwrap());
    // An applied event added at the end of a chain is seen (B7).
    let plan = e.plan(&store, &ev).unwrap();
    store.apply(&plan).unwrap();
    let mut c = Candidates::new(T);
    c.add_email_key(key, vec![ann.clone()])
        .add_record(rid(1), Some(ann))
        .add_applied_event(eid(1), ev.digest());
    let again = e.decide(&ev, &c).unwrap();
    assert!(again.is_empty(), "a redelivery plans nothing");
    assert_eq!(again, e.plan(&store, &ev).unwrap());
}

/// Plans that delete record 1 (or merge it into 2) and then create its id
/// again: every store refuses them before anything is written.
pub(crate) fn retire_then_create() -> Vec<Plan> {
    [
        Effect::delete_record(rid(1)),
        Effect::merge_record(rid(1), rid(2)),
    ]
    .into_iter()
    .map(|gone| {
        Plan::new(T).with_effects([
            Effect::link(sid(10), rid(2)),
            gone,
            Effect::create_record(contact(1, &[("email", "new@example.org")])),
        ])
    })
    .collect()
}

/// What [`retire_then_create`]'s plans are applied to.
pub(crate) fn retire_seeds() -> Vec<Record> {
    vec![
        contact(1, &[("email", "ann@example.org")]),
        contact(2, &[("email", "bo@example.org")]),
    ]
}

#[test]
fn b6_b16_a_plan_brings_back_no_id_it_retires_itself_on_any_store() {
    for plan in retire_then_create() {
        let memory = store_with(retire_seeds());
        let sqlite = SqliteStore::open_in_memory(Normalization::default()).unwrap();
        for r in retire_seeds() {
            sqlite.insert(&r).unwrap();
        }
        assert!(matches!(
            memory.apply(&plan),
            Err(ApplyError::Conflict(Conflict::RecordExists(r))) if r == rid(1)
        ));
        assert!(matches!(
            sqlite.apply(&plan),
            Err(ApplyError::Conflict(Conflict::RecordExists(r))) if r == rid(1)
        ));
        assert_eq!(text(&memory, rid(1), "email"), "ann@example.org");
        let kept = sqlite.record(T, rid(1)).unwrap().unwrap();
        assert_eq!(kept.fields.text("email"), "ann@example.org");
        assert!(memory.record(T, rid(2)).unwrap().is_some());
        assert!(sqlite.record(T, rid(2)).unwrap().is_some());
        assert_eq!(memory.link_of(T, sid(10)), None);
        assert_eq!(sqlite.subject_link(T, sid(10)).unwrap(), None);
    }
}

/// B2: a plan's report is one line per subject (role, subject, the
/// sentences, the rules) and a line per warning; `report_in` renders the
/// same reasons through another formatter and names.
#[test]
fn b2_a_report_renders_the_reasons_through_a_formatter() {
    let store = store_with(vec![
        contact(1, &[("email", "team@example.org")]),
        contact(2, &[("email", "team@example.org")]),
    ]);
    let plan = run(
        &Policy::doo(),
        &store,
        &registration(1, vec![attendee(10, &[("email", "team@example.org")])]),
    );
    let o = outcome(&plan, 10);
    let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
    let mut want = format!(
        "- attendee {}: {} [{}]\n",
        o.subject,
        o.explanation(),
        rules.join(", ")
    );
    for w in &plan.warnings {
        want.push_str(&format!("! {}\n", w.message()));
    }
    assert!(!plan.warnings.is_empty());
    assert_eq!(plan.report(), want);
    struct Named;
    impl describe::Names for Named {
        fn record(&self, _: RecordId, out: &mut String) {
            out.push('R');
        }
    }
    let german = plan.report_in(&describe::German, &Named);
    assert!(
        german.starts_with(&format!(
            "- attendee {}: 2 Kontakte haben diese E-Mail-Adresse",
            o.subject
        )),
        "{german}"
    );
    assert!(
        german.contains("Kontakt R wurde mit 1 Feld angelegt"),
        "{german}"
    );
}
