//! The model undo computes inverses on (B16): created, restored and deleted
//! records, removed memberships and link checks, each with a test that
//! fails when the model forgets it, and a property over random plans of
//! every effect on every bundled store.

use crate::common::*;
use contact_sync::*;

fn camp(name: &str) -> CampaignId {
    CampaignId(name.into())
}

fn plan_of(effects: Vec<Effect>) -> Plan {
    let mut plan = Plan::new(T);
    plan.effects = effects;
    plan
}

fn set_company(record: RecordId, from: Option<&str>, to: &str) -> Effect {
    Effect::update_record(
        record,
        vec![FieldChange {
            field: FieldName::new("company"),
            old: from.map(FieldValue::new),
            new: FieldValue::new(to),
            rule: RuleId::D18,
        }],
    )
}

/// Two contacts; subject 10 linked to record 1, which is a member of
/// "C1" with ticket T-1.
fn linked_member() -> InMemoryStore {
    let store = store_with(vec![
        contact(1, &[("email", "ann@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "bo@example.org")]),
    ]);
    store
        .apply(&plan_of(vec![
            Effect::link(sid(10), rid(1)),
            Effect::add_campaign_member(rid(1), camp("C1"), Some("T-1".into())),
        ]))
        .unwrap();
    store
}

#[test]
fn b16_undo_of_a_creation_refuses_once_the_record_was_edited() {
    let store = linked_member();
    let new = contact(5, &[("email", "cy@example.org"), ("company", "Acme")]);
    let inverse =
        undo::apply_reversible(&store, &plan_of(vec![Effect::create_record(new.clone())])).unwrap();
    assert!(inverse.preconditions.contains(&Precondition::RecordFields {
        record: rid(5),
        fields: new.fields.clone(),
    }));
    store
        .apply(&plan_of(vec![set_company(rid(5), Some("Acme"), "Globex")]))
        .unwrap();
    // Deleting it now would lose the edit.
    let err = store.apply(&inverse).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Conflict(Conflict::FieldsChanged(r)) if r == rid(5)
    ));
    assert_eq!(text(&store, rid(5), "company"), "Globex");
}

/// Record 1 merged into 2, then restored reversibly from its tombstone:
/// the store and the restore's inverse.
fn merged_and_restored() -> (InMemoryStore, Plan) {
    let store = linked_member();
    store
        .apply(&plan_of(vec![Effect::merge_record(rid(1), rid(2))]))
        .unwrap();
    let unmerge = undo::unmerge(&store, T, rid(1)).unwrap().unwrap();
    let inverse = undo::apply_reversible(&store, &unmerge).unwrap();
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    (store, inverse)
}

#[test]
fn b16_undo_of_a_restore_merges_the_record_away_again() {
    let (store, inverse) = merged_and_restored();
    store.apply(&inverse).unwrap();
    assert!(store.record(T, rid(1)).unwrap().is_none());
    assert_eq!(store.link_of(T, sid(10)), Some(rid(2)));
    assert_eq!(
        store
            .campaign_memberships(T, rid(2))
            .unwrap()
            .iter()
            .map(|m| (m.campaign.0.as_str(), m.ticket.clone()))
            .collect::<Vec<_>>(),
        [("C1", Some("T-1".into()))]
    );
}

#[test]
fn b16_undo_of_a_restore_refuses_once_the_record_was_edited() {
    let (store, inverse) = merged_and_restored();
    store
        .apply(&plan_of(vec![set_company(rid(1), Some("Acme"), "Globex")]))
        .unwrap();
    // Deleting it now would lose the edit.
    let err = store.apply(&inverse).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Conflict(Conflict::FieldsChanged(r)) if r == rid(1)
    ));
    assert_eq!(text(&store, rid(1), "company"), "Globex");
}

#[test]
fn b16_undo_of_a_delete_restores_the_record_its_links_and_memberships() {
    let store = linked_member();
    let inverse =
        undo::apply_reversible(&store, &plan_of(vec![Effect::delete_record(rid(1))])).unwrap();
    assert!(store.record(T, rid(1)).unwrap().is_none());
    assert_eq!(store.link_of(T, sid(10)), None);
    assert!(inverse
        .preconditions
        .contains(&Precondition::RecordAbsent { record: rid(1) }));
    store.apply(&inverse).unwrap();
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    assert_eq!(
        store.campaign_memberships(T, rid(1)).unwrap()[0].ticket,
        Some("T-1".into())
    );
}

#[test]
fn b16_undo_of_a_delete_refuses_when_a_subject_it_relinks_moved_since() {
    let store = linked_member();
    let inverse =
        undo::apply_reversible(&store, &plan_of(vec![Effect::delete_record(rid(1))])).unwrap();
    store
        .apply(&plan_of(vec![Effect::link(sid(10), rid(2))]))
        .unwrap();
    // Restoring would take subject 10 away from the record it moved to.
    let err = store.apply(&inverse).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Conflict(Conflict::SubjectLinkChanged(s)) if s == sid(10)
    ));
    assert_eq!(store.link_of(T, sid(10)), Some(rid(2)));
    assert!(store.record(T, rid(1)).unwrap().is_none());
}

#[test]
fn b16_undo_of_removing_a_campaign_member_adds_it_back_with_its_ticket() {
    let store = linked_member();
    let inverse = undo::apply_reversible(
        &store,
        &plan_of(vec![Effect::remove_campaign_member(rid(1), camp("C1"))]),
    )
    .unwrap();
    assert!(store.campaign_memberships(T, rid(1)).unwrap().is_empty());
    assert!(inverse.preconditions.contains(&Precondition::Memberships {
        record: rid(1),
        members: Vec::new(),
    }));
    store.apply(&inverse).unwrap();
    assert_eq!(
        store.campaign_memberships(T, rid(1)).unwrap(),
        [CampaignMember {
            campaign: camp("C1"),
            record: rid(1),
            ticket: Some("T-1".into()),
        }]
    );
}

#[test]
fn b16_an_unlink_from_a_record_the_subject_left_is_undone_by_nothing() {
    let store = linked_member();
    // Subject 10 is linked to record 1, not 2: the unlink changes nothing.
    let inverse =
        undo::apply_reversible(&store, &plan_of(vec![Effect::unlink(sid(10), rid(2))])).unwrap();
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    assert!(inverse.effects.is_empty(), "{:?}", inverse.effects);
    assert!(
        inverse.preconditions.is_empty(),
        "{:?}",
        inverse.preconditions
    );
    store.apply(&inverse).unwrap();
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
}

#[test]
fn b16_an_inverse_over_a_link_that_moved_links_it_back() {
    let store = linked_member();
    let inverse =
        undo::apply_reversible(&store, &plan_of(vec![Effect::link(sid(10), rid(2))])).unwrap();
    assert_eq!(store.link_of(T, sid(10)), Some(rid(2)));
    assert_eq!(inverse.effects, [Effect::link(sid(10), rid(1))]);
    store.apply(&inverse).unwrap();
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    assert_eq!(store.linked_subjects(T, rid(2)).unwrap(), []);
}

#[test]
fn b16_b9_undoing_a_merge_leaves_a_survivors_membership_the_merge_kept_alone() {
    // Both are members of C1; the survivor keeps its own ticket (A30), so
    // undoing the merge has nothing to change on the survivor's membership.
    let store = linked_member();
    store
        .apply(&plan_of(vec![Effect::add_campaign_member(
            rid(2),
            camp("C1"),
            Some("T-2".into()),
        )]))
        .unwrap();
    let merge = plan_of(vec![Effect::merge_record(rid(1), rid(2))]);
    let survivor_membership_touched = |p: &Plan| {
        p.effects.iter().any(|e| {
            matches!(e, Effect::RemoveCampaignMember { record, .. }
                | Effect::AddCampaignMember { record, .. } if *record == rid(2))
        })
    };
    let reversible = undo::prepare(&store, &merge).unwrap();
    assert!(
        !survivor_membership_touched(&reversible.inverse),
        "{:?}",
        reversible.inverse.effects
    );
    store.apply(&reversible.plan).unwrap();
    let unmerge = undo::unmerge(&store, T, rid(1)).unwrap().unwrap();
    assert!(
        !survivor_membership_touched(&unmerge),
        "{:?}",
        unmerge.effects
    );
    store.apply(&unmerge).unwrap();
    let tickets = |r| {
        store
            .campaign_memberships(T, r)
            .unwrap()
            .into_iter()
            .map(|m| m.ticket)
            .collect::<Vec<_>>()
    };
    assert_eq!(tickets(rid(1)), [Some("T-1".into())]);
    assert_eq!(tickets(rid(2)), [Some("T-2".into())]);
}

#[test]
fn b16_b17_undo_of_creating_and_updating_a_record_only_deletes_it() {
    let store = linked_member();
    let new = contact(5, &[("email", "cy@example.org"), ("company", "Acme")]);
    let plan = plan_of(vec![
        Effect::create_record(new),
        set_company(rid(5), Some("Acme"), "Globex"),
    ]);
    let inverse = undo::apply_reversible(&store, &plan).unwrap();
    assert_eq!(inverse.effects, [Effect::delete_record(rid(5))]);
    store.apply(&inverse).unwrap();
    assert!(store.record(T, rid(5)).unwrap().is_none());
    // The history keeps the creation and the change, and no undo of a
    // field of a record that is gone.
    let history = store.record_history(T, rid(5)).unwrap();
    assert!(history.iter().all(|h| h.rule != RuleId::B16), "{history:?}");
    assert_eq!(history.last().unwrap().new.as_str(), "Globex");
}

#[test]
fn b16_b17_undo_of_restoring_and_updating_a_record_only_deletes_it() {
    let store = linked_member();
    let gone = record(&store, rid(2));
    store
        .apply(&plan_of(vec![Effect::delete_record(rid(2))]))
        .unwrap();
    let mut back = gone;
    back.version += 1;
    let plan = plan_of(vec![
        Effect::restore_record(back),
        set_company(rid(2), None, "Globex"),
    ]);
    let inverse = undo::apply_reversible(&store, &plan).unwrap();
    assert_eq!(inverse.effects, [Effect::delete_record(rid(2))]);
    store.apply(&inverse).unwrap();
    assert!(store.record(T, rid(2)).unwrap().is_none());
    let history = store.record_history(T, rid(2)).unwrap();
    assert!(history.iter().all(|h| h.rule != RuleId::B16), "{history:?}");
}

/// One step of a random plan: the effect kind and three small numbers
/// that pick its records, subject, campaign and values.
pub(crate) type Op = (u8, u8, u8, u8);

pub(crate) fn any_plans() -> impl proptest::strategy::Strategy<Value = Vec<Vec<Op>>> {
    use proptest::prelude::*;
    let op = (0u8..9, 0u8..6, 0u8..6, 0u8..6);
    prop::collection::vec(prop::collection::vec(op, 1..5), 1..7)
}

/// The records (1 to 6) and subjects (10 to 13) a random plan picks from;
/// records 1 to 3 exist first.
fn universe() -> (Vec<RecordId>, Vec<SubjectId>) {
    ((1..=6).map(rid).collect(), (10..14).map(sid).collect())
}

pub(crate) fn model_seeds() -> Vec<Record> {
    vec![
        contact(1, &[("email", "ann@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "bo@example.org")]),
        lead(3, &[("email", "cy@example.org"), ("company", "Globex")]),
    ]
}

/// The plan `ops` make on `store`: each op becomes an effect valid after
/// the ones before it (an op that cannot be one, such as updating a record
/// that does not exist, is left out). `last` holds the last seen copy of
/// every record, for restores.
fn resolve<S: UndoStore>(
    store: &S,
    ops: &[Op],
    last: &std::collections::BTreeMap<RecordId, Record>,
) -> Plan
where
    <S as ContactStore>::Error: std::fmt::Debug,
{
    let (records, subjects) = universe();
    // What the store holds before the plan; the crate's one effect check
    // says whether an effect can follow the ones drawn so far.
    let held = |id: RecordId| {
        Ok::<_, ()>(store.record(T, id).unwrap().map(|r| Held {
            tenant: T,
            version: r.version,
        }))
    };
    let companies = ["Acme", "Globex", "Initech", ""];
    let mut effects = Vec::new();
    for &(kind, a, b, c) in ops {
        let ra = records[usize::from(a)];
        let rb = records[usize::from(b)];
        let s = subjects[usize::from(b) % subjects.len()];
        let company = companies[usize::from(c) % companies.len()];
        let campaign = camp(["C1", "C2"][usize::from(b) % 2]);
        let e = match kind {
            0 => {
                let n = ra.uuid().as_u128();
                let email = format!("r{n}@example.org");
                let mut r = contact(n, &[("email", &email), ("company", company)]);
                if let Some(seen) = last.get(&ra) {
                    r.version = seen.version + 1;
                }
                Effect::create_record(r)
            }
            1 => set_company(ra, None, company),
            2 => Effect::link(s, ra),
            3 => Effect::unlink(s, ra),
            4 => Effect::add_campaign_member(
                ra,
                campaign,
                (c % 3 != 0).then(|| FieldValue::new(&format!("T-{c}"))),
            ),
            5 => Effect::remove_campaign_member(ra, campaign),
            6 => Effect::merge_record(ra, rb),
            7 => Effect::delete_record(ra),
            8 if last.contains_key(&ra) => {
                let mut r = last[&ra].clone();
                r.version += 1;
                Effect::restore_record(r)
            }
            _ => continue,
        };
        effects.push(e);
        if plan_of(effects.clone())
            .check_effects(u64::MAX, held)
            .is_err()
        {
            effects.pop();
        }
    }
    plan_of(effects)
}

/// Whether `p` holds on `store` now.
fn holds<S: UndoStore>(store: &S, p: &Precondition) -> bool
where
    <S as ContactStore>::Error: std::fmt::Debug,
{
    // Read what the precondition names, and let the crate's one check
    // compare (the model's universe is one tenant, so "exists" is "exists
    // in T").
    let records;
    let fields;
    let subjects;
    let members;
    let observed = match p.observe() {
        Observe::Fields(r) => {
            fields = store.record(T, r).unwrap().map(|r| r.fields);
            Observed::Fields(fields.as_ref())
        }
        Observe::Exists(r) => Observed::Exists(store.record(T, r).unwrap().is_some()),
        Observe::Version(r) => Observed::Version(store.record(T, r).unwrap().map(|r| r.version)),
        Observe::Links(r) => {
            subjects = store.linked_subjects(T, r).unwrap();
            Observed::Subjects(&subjects)
        }
        Observe::SubjectLink(s) => Observed::Link(store.subject_link(T, s).unwrap()),
        Observe::Memberships(r) => {
            members = store.campaign_memberships(T, r).unwrap();
            Observed::Memberships(&members)
        }
        Observe::EmailKey(k) => {
            records = store.record_ids_by_email(T, k).unwrap();
            Observed::Records(&records)
        }
        _ => return true,
    };
    p.check(observed).is_ok()
}

/// B16's model on one store holding [`model_seeds`]: each random plan is
/// applied reversibly. After each, the inverse's preconditions are what
/// the store holds (the model predicted the store), every record and
/// subject the plan changed is pinned by one, and an inverse deletes a
/// record it also restores fields of never; then the inverses, in reverse
/// order, give back each state before.
pub(crate) fn model_round_trip<S: UndoStore>(
    store: &S,
    plans: &[Vec<Op>],
) -> Result<(), proptest::test_runner::TestCaseError>
where
    <S as ContactStore>::Error: std::fmt::Debug,
{
    use proptest::prelude::*;
    let (records, subjects) = universe();
    let mut last = std::collections::BTreeMap::new();
    let mut stack = Vec::new();
    for ops in plans {
        for r in &records {
            if let Some(rec) = store.record(T, *r).unwrap() {
                last.insert(*r, rec);
            }
        }
        let plan = resolve(store, ops, &last);
        let before = crate::undo::state(store, &records, &subjects);
        let inverse = undo::apply_reversible(store, &plan).unwrap();
        let after = crate::undo::state(store, &records, &subjects);
        for p in &inverse.preconditions {
            prop_assert!(holds(store, p), "{p:?} after {:?}", plan.effects);
        }
        let pinned = |want: &dyn Fn(&Precondition) -> bool| inverse.preconditions.iter().any(want);
        for (was, is) in before.0.iter().zip(&after.0) {
            let id = was.0;
            if was.1 != is.1 {
                prop_assert!(
                    pinned(&|p| matches!(p, Precondition::RecordFields { record, .. }
                        | Precondition::RecordAbsent { record } if *record == id)),
                    "record {id} changed unpinned by {:?}",
                    plan.effects
                );
            }
            if was.2 != is.2 {
                prop_assert!(
                    pinned(&|p| matches!(p, Precondition::Links { record, .. } if *record == id)),
                    "links of {id} changed unpinned by {:?}",
                    plan.effects
                );
            }
            if was.3 != is.3 {
                prop_assert!(
                    pinned(
                        &|p| matches!(p, Precondition::Memberships { record, .. } if *record == id)
                    ),
                    "memberships of {id} changed unpinned by {:?}",
                    plan.effects
                );
            }
        }
        for ((s, was), is) in subjects.iter().zip(&before.1).zip(&after.1) {
            if was != is {
                prop_assert!(
                    pinned(
                        &|p| matches!(p, Precondition::SubjectLink { subject, .. } if subject == s)
                    ),
                    "subject {s} moved unpinned by {:?}",
                    plan.effects
                );
            }
        }
        for e in &inverse.effects {
            if let Effect::DeleteRecord { record, .. } = e {
                prop_assert!(
                    !inverse.effects.iter().any(
                        |u| matches!(u, Effect::UpdateRecord { record: r, .. } if r == record)
                    ),
                    "the inverse restores fields of {record}, which it deletes: {:?}",
                    inverse.effects
                );
            }
        }
        stack.push((before, inverse));
    }
    while let Some((before, inverse)) = stack.pop() {
        store.apply(&inverse).unwrap();
        prop_assert_eq!(crate::undo::state(store, &records, &subjects), before);
    }
    Ok(())
}

/// Each precondition of `plan` at most once.
fn each_once(plan: &Plan) -> bool {
    plan.preconditions
        .iter()
        .enumerate()
        .all(|(i, p)| !plan.preconditions[..i].contains(p))
}

/// What a plan updating record 1 (at `version`) and moving subject 10
/// from record 1 to record 2 relies on, for its inverse.
fn moving_subject_10_pins(version: u64) -> Vec<Precondition> {
    vec![
        Precondition::RecordVersion {
            record: rid(1),
            version,
        },
        Precondition::Links {
            record: rid(1),
            subjects: vec![sid(10)],
        },
        Precondition::Links {
            record: rid(2),
            subjects: vec![],
        },
        Precondition::SubjectLink {
            subject: sid(10),
            record: Some(rid(1)),
        },
    ]
}

#[test]
fn b16_the_pinned_plan_holds_each_precondition_once() {
    let store = linked_member();
    let rec = store.record(T, rid(1)).unwrap().unwrap();
    // A plan that already pins everything the inverse relies on: the
    // version it updates, the record's links and memberships, the subject
    // it moves.
    let mut plan = plan_of(vec![
        set_company(rid(1), Some("Acme"), "Globex"),
        Effect::link(sid(10), rid(2)),
        Effect::remove_campaign_member(rid(1), camp("C1")),
    ]);
    plan.preconditions = moving_subject_10_pins(rec.version);
    plan.preconditions.push(Precondition::Memberships {
        record: rid(1),
        members: store.campaign_memberships(T, rid(1)).unwrap(),
    });
    let reversible = undo::prepare(&store, &plan).unwrap();
    assert!(
        each_once(&reversible.plan),
        "{:?}",
        reversible.plan.preconditions
    );
    assert_eq!(reversible.plan.preconditions, plan.preconditions);
}

#[test]
fn b16_a_hand_built_plan_is_pinned_to_what_its_inverse_restores() {
    let store = linked_member();
    let version = store.record(T, rid(1)).unwrap().unwrap().version;
    let plan = plan_of(vec![
        set_company(rid(1), Some("Acme"), "Globex"),
        Effect::link(sid(10), rid(2)),
    ]);
    let reversible = undo::prepare(&store, &plan).unwrap();
    let pins = &reversible.plan.preconditions;
    for want in moving_subject_10_pins(version) {
        assert!(pins.contains(&want), "{want:?} missing from {pins:?}");
    }
    assert!(each_once(&reversible.plan), "{pins:?}");
}

#[test]
fn b16_an_effect_that_changes_nothing_is_undone_by_nothing() {
    let store = linked_member();
    // Record 1 is a member of C1 with T-1 already; record 2 is no member.
    let plan = plan_of(vec![
        Effect::add_campaign_member(rid(1), camp("C1"), Some("T-1".into())),
        Effect::remove_campaign_member(rid(2), camp("C1")),
    ]);
    let reversible = undo::prepare(&store, &plan).unwrap();
    assert!(
        reversible.inverse.effects.is_empty(),
        "{:?}",
        reversible.inverse.effects
    );
    assert!(reversible.inverse.preconditions.is_empty());
}

#[test]
fn b16_a_record_created_and_deleted_by_one_plan_leaves_no_trace_in_the_inverse() {
    let store = linked_member();
    let plan = plan_of(vec![
        Effect::create_record(contact(7, &[("email", "dee@example.org")])),
        Effect::delete_record(rid(7)),
    ]);
    let reversible = undo::prepare(&store, &plan).unwrap();
    let names_seven = |p: &Precondition| {
        matches!(
            p,
            Precondition::RecordAbsent { record }
            | Precondition::RecordFields { record, .. }
            | Precondition::RecordVersion { record, .. }
                if *record == rid(7)
        )
    };
    assert!(
        !reversible.inverse.preconditions.iter().any(names_seven),
        "{:?}",
        reversible.inverse.preconditions
    );
}
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// B16's model on the in-memory store.
        #[test]
        fn b16_random_plans_and_their_inverses_follow_the_model_in_memory(
            plans in any_plans(),
        ) {
            let s = store_with(model_seeds());
            model_round_trip(&s, &plans)?;
        }

        /// B16's model on SQLite.
        #[cfg(feature = "sqlite")]
        #[test]
        fn b16_random_plans_and_their_inverses_follow_the_model_on_sqlite(
            plans in any_plans(),
        ) {
            let s = SqliteStore::open_in_memory(Normalization::default()).unwrap();
            for r in model_seeds() {
                s.insert(&r).unwrap();
            }
            model_round_trip(&s, &plans)?;
        }
    }
}
