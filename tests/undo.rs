//! Reversible plans (B16): applying a plan yields its inverse; merges are
//! undone from the inverse or from the store's tombstone; a stale inverse
//! is a conflict.

use crate::common::*;
use contact_sync::*;

fn acme() -> InMemoryStore {
    store_with(vec![
        contact(1, &[("email", "ann@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "bo@example.org"), ("first_name", "Bo")]),
    ])
}

/// Plans `event` on `store` and applies it reversibly; returns the plan
/// and its inverse.
#[track_caller]
fn reversibly<S: UndoStore>(policy: &Policy, store: &S, event: &Event) -> (Plan, Plan)
where
    <S as ContactStore>::Error: std::fmt::Debug,
{
    let plan = engine(policy.clone()).plan(store, event).unwrap();
    let inverse = undo::apply_reversible(store, &plan).unwrap();
    (plan, inverse)
}

fn company(n: u128, value: &str) -> Event {
    registration(
        n,
        vec![booker(
            10,
            &[("email", "ann@example.org"), ("company", value)],
        )],
    )
}

#[test]
fn b16_undo_of_a_sync_restores_the_overwritten_value() {
    let store = acme();
    let sync = Policy::doo().with_sync(true);
    let (_, inverse) = reversibly(&sync, &store, &company(1, "Globex"));
    assert_eq!(text(&store, rid(1), "company"), "Globex");
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
    // The inverse relies on the state the plan left and restores the one
    // before: the value, the link.
    assert!(inverse.preconditions.contains(&Precondition::RecordFields {
        record: rid(1),
        fields: record(&store, rid(1)).fields,
    }));
    assert!(inverse.preconditions.contains(&Precondition::SubjectLink {
        subject: sid(10),
        record: Some(rid(1)),
    }));
    store.apply(&inverse).unwrap();
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    assert_eq!(store.link_of(T, sid(10)), None);
    // Versions only go up; the history keeps the change and its undo.
    assert_eq!(record(&store, rid(1)).version, 3);
    let h = store.record_history(T, rid(1)).unwrap();
    let last = h.last().unwrap();
    assert_eq!(
        (last.field.as_str(), last.new.as_str(), last.rule),
        ("company", "Acme", RuleId::B16)
    );
}

#[test]
fn b16_undo_of_a_creation_deletes_the_record_and_its_link() {
    let store = acme();
    let event = registration(1, vec![booker(11, &[("email", "new@example.org")])]);
    let (plan, inverse) = reversibly(&Policy::doo(), &store, &event);
    let created = outcome(&plan, 11).record.unwrap();
    assert_eq!(outcome(&plan, 11).decision, Decision::Created);
    assert_eq!(
        inverse.effects,
        [
            Effect::unlink(sid(11), created),
            Effect::delete_record(created)
        ]
    );
    store.apply(&inverse).unwrap();
    assert!(store.record(T, created).unwrap().is_none());
    assert_eq!(store.link_of(T, sid(11)), None);
    assert_eq!(store.len(), 2);
    // The event stays recorded as applied: a redelivery does not redo it
    // (B7); a new registration creates the record again.
    let again = run(&Policy::doo(), &store, &event);
    assert_eq!(outcome(&again, 11).decision, Decision::NoChange);
    let new = registration(2, vec![booker(11, &[("email", "new@example.org")])]);
    assert_eq!(
        outcome(&run(&Policy::doo(), &store, &new), 11).decision,
        Decision::Created
    );
}

#[test]
fn b16_a_stale_inverse_is_a_conflict_not_an_overwrite() {
    let store = acme();
    let sync = Policy::doo().with_sync(true);
    let (_, inverse) = reversibly(&sync, &store, &company(1, "Globex"));
    run(&sync, &store, &company(2, "Initech"));
    let err = store.apply(&inverse).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Conflict(Conflict::FieldsChanged(r)) if r == rid(1)
    ));
    assert_eq!(text(&store, rid(1), "company"), "Initech");

    // A subject linked to a created record since: deleting it would drop
    // the link.
    let store = acme();
    let event = registration(1, vec![booker(11, &[("email", "new@example.org")])]);
    let (plan, inverse) = reversibly(&Policy::doo(), &store, &event);
    let created = outcome(&plan, 11).record.unwrap();
    run(
        &Policy::doo(),
        &store,
        &registration(2, vec![booker(12, &[("email", "new@example.org")])]),
    );
    assert_eq!(store.link_of(T, sid(12)), Some(created));
    let err = store.apply(&inverse).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Conflict(Conflict::LinksChanged(r)) if r == created
    ));
    assert!(store.record(T, created).unwrap().is_some());
}

fn duplicates() -> InMemoryStore {
    let store = store_with(vec![
        contact(
            1,
            &[
                ("email", "ann@example.org"),
                ("first_name", "Ann"),
                ("company", "Acme"),
            ],
        ),
        contact(2, &[("email", "ann@example.org"), ("phone", "555")]),
    ]);
    let mut link = Plan::new(T);
    link.effects = vec![
        Effect::link(sid(20), rid(2)),
        Effect::add_campaign_member(rid(2), CampaignId("701-CAMP".into()), Some("T-7".into())),
    ];
    store.apply(&link).unwrap();
    store
}

fn merge_plan(store: &InMemoryStore) -> Plan {
    let group = store.duplicate_groups(T).remove(0);
    let records: Vec<Record> = group.records.iter().map(|id| record(store, *id)).collect();
    plan_merge(T, &records, &RecordMerge::default()).unwrap()
}

#[test]
fn b16_b9_a_merge_is_undone_by_its_inverse() {
    let store = duplicates();
    let plan = merge_plan(&store);
    let inverse = undo::apply_reversible(&store, &plan).unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(text(&store, rid(1), "phone"), "555");
    assert_eq!(store.link_of(T, sid(20)), Some(rid(1)));
    // The tombstone keeps the merged record with its link and membership.
    let tomb = store.tombstone(T, rid(2)).unwrap().unwrap();
    assert_eq!((tomb.into, tomb.subjects.clone()), (rid(1), vec![sid(20)]));
    assert_eq!(tomb.memberships[0].ticket, Some("T-7".into()));
    assert_eq!(tomb.record.fields.text("phone"), "555");

    store.apply(&inverse).unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(text(&store, rid(1), "phone"), "");
    assert_eq!(text(&store, rid(2), "phone"), "555");
    assert_eq!(store.link_of(T, sid(20)), Some(rid(2)));
    assert_eq!(
        store.campaign_members(T, &CampaignId("701-CAMP".into())),
        [rid(2)]
    );
    assert!(store.tombstone(T, rid(2)).unwrap().is_none());
}

#[test]
fn b16_b9_a_merge_is_undone_from_the_tombstone_alone() {
    let store = duplicates();
    store.apply(&merge_plan(&store)).unwrap();
    let unmerge = undo::unmerge(&store, T, rid(2)).unwrap().unwrap();
    store.apply(&unmerge).unwrap();
    assert_eq!(text(&store, rid(2), "phone"), "555");
    assert_eq!(store.link_of(T, sid(20)), Some(rid(2)));
    assert_eq!(
        store
            .campaign_memberships(T, rid(2))
            .unwrap()
            .iter()
            .map(|m| m.ticket.clone())
            .collect::<Vec<_>>(),
        [Some("T-7".into())]
    );
    assert!(store.campaign_memberships(T, rid(1)).unwrap().is_empty());
    // The survivor keeps what the merge filled in (only the merge's
    // inverse restores the survivor's fields).
    assert_eq!(text(&store, rid(1), "phone"), "555");
    assert!(undo::unmerge(&store, T, rid(2)).unwrap().is_none());
}

#[test]
fn b16_the_inverse_of_an_inverse_redoes_the_plan() {
    let store = acme();
    let sync = Policy::doo().with_sync(true);
    let (_, inverse) = reversibly(&sync, &store, &company(1, "Globex"));
    let redo = undo::apply_reversible(&store, &inverse).unwrap();
    assert_eq!(text(&store, rid(1), "company"), "Acme");
    store.apply(&redo).unwrap();
    assert_eq!(text(&store, rid(1), "company"), "Globex");
    assert_eq!(store.link_of(T, sid(10)), Some(rid(1)));
}

#[test]
fn b16_a_plan_changed_between_reading_and_applying_conflicts() {
    let store = acme();
    let sync = Policy::doo().with_sync(true);
    let plan = engine(sync.clone())
        .plan(&store, &company(1, "Globex"))
        .unwrap();
    let r = undo::prepare(&store, &plan).unwrap();
    // Subject 10 gets linked elsewhere before the plan applies: the pinned
    // links no longer hold, so the inverse cannot be wrong.
    let mut other = Plan::new(T);
    other.effects = vec![Effect::link(sid(10), rid(2))];
    store.apply(&other).unwrap();
    let err = store.apply(&r.plan).unwrap_err();
    assert!(matches!(
        err,
        ApplyError::Conflict(Conflict::SubjectLinkChanged(s)) if s == sid(10)
    ));
}

#[cfg(feature = "sqlite")]
#[test]
fn b16_sqlite_undoes_a_merge_and_keeps_the_tombstone_across_reopening() {
    let path = std::env::temp_dir().join(format!("contact-sync-b16-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let memory = duplicates();
    let plan = merge_plan(&memory);
    {
        let s = SqliteStore::open(&path, Normalization::default()).unwrap();
        for r in memory.records(T) {
            s.insert(&r).unwrap();
        }
        let mut link = Plan::new(T);
        link.effects = vec![Effect::link(sid(20), rid(2))];
        s.apply(&link).unwrap();
        s.apply(&plan).unwrap();
    }
    let s = SqliteStore::open(&path, Normalization::default()).unwrap();
    let tomb = s.tombstone(T, rid(2)).unwrap().unwrap();
    assert_eq!(tomb.subjects, [sid(20)]);
    let unmerge = undo::unmerge(&s, T, rid(2)).unwrap().unwrap();
    s.apply(&unmerge).unwrap();
    assert_eq!(s.link_of(T, sid(20)).unwrap(), Some(rid(2)));
    assert!(s.tombstone(T, rid(2)).unwrap().is_none());
    let _ = std::fs::remove_file(&path);
}

/// What a round trip compares: every record's fields (blanks left out),
/// the subjects linked to it and its memberships; every subject's link.
pub(crate) type State = (
    Vec<(
        RecordId,
        Option<Vec<(String, String)>>,
        Vec<SubjectId>,
        Vec<CampaignMember>,
    )>,
    Vec<Option<RecordId>>,
);

pub(crate) fn state<S: UndoStore>(s: &S, records: &[RecordId], subjects: &[SubjectId]) -> State
where
    <S as ContactStore>::Error: std::fmt::Debug,
{
    let records = records
        .iter()
        .map(|id| {
            let fields = s.record(T, *id).unwrap().map(|r| {
                r.fields
                    .iter()
                    .filter(|(_, v)| !v.is_blank())
                    .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                    .collect()
            });
            (
                *id,
                fields,
                s.linked_subjects(T, *id).unwrap(),
                s.campaign_memberships(T, *id).unwrap(),
            )
        })
        .collect();
    let links = subjects
        .iter()
        .map(|x| s.subject_link(T, *x).unwrap())
        .collect();
    (records, links)
}

/// One registration of a round trip: the subject (10..13), the email (of
/// a small pool), a company and whether the event names a campaign.
pub(crate) type Step = (u128, &'static str, &'static str, bool);

pub(crate) fn seeds() -> Vec<Record> {
    vec![
        contact(1, &[("email", "ann@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "bo@example.org"), ("first_name", "Bo")]),
        lead(3, &[("email", "cy@example.org")]),
    ]
}

pub(crate) fn policies() -> Vec<Policy> {
    vec![
        Policy::doo(),
        Policy::doo().with_sync(true),
        sf(RecordType::Contact),
        sf(RecordType::Lead),
    ]
}

/// B16's property on one store holding [`seeds`]: each registration,
/// planned with the subject's current link and applied reversibly, then
/// every inverse in reverse order, leaves the store as it was; after each
/// undo the state is the one before that plan.
pub(crate) fn round_trip<S: UndoStore>(
    s: &S,
    policy: &Policy,
    steps: &[Step],
) -> Result<(), proptest::test_runner::TestCaseError>
where
    <S as ContactStore>::Error: std::fmt::Debug,
{
    use proptest::prelude::*;
    let e = engine(policy.clone());
    let subjects: Vec<SubjectId> = (10..14).map(sid).collect();
    let mut records: Vec<RecordId> = seeds().iter().map(|r| r.id).collect();
    let mut undo_stack = Vec::new();
    for (i, (who, email, company, campaign)) in steps.iter().enumerate() {
        let mut subject = attendee(*who, &[("email", email), ("company", company)]);
        subject.link = s.subject_link(T, sid(*who)).unwrap();
        let event = registration_with(
            i as u128 + 1,
            Channel::Online,
            campaign.then_some("701-CAMP"),
            vec![subject],
        );
        let plan = e.plan(s, &event).unwrap();
        records.extend(plan.created().map(|r| r.id));
        let before = state(s, &records, &subjects);
        let inverse = undo::apply_reversible(s, &plan).unwrap();
        undo_stack.push((before, inverse));
    }
    while let Some(((mut before, links), inverse)) = undo_stack.pop() {
        s.apply(&inverse).unwrap();
        // Records created later are gone again, with no links or members.
        before.extend(
            records
                .iter()
                .skip(before.len())
                .map(|id| (*id, None, Vec::new(), Vec::new())),
        );
        prop_assert_eq!(state(s, &records, &subjects), (before, links));
    }
    Ok(())
}

pub(crate) fn any_steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let email = prop_oneof![
        Just("ann@example.org"),
        Just("ANN@example.org"),
        Just("bo@example.org"),
        Just("cy@example.org"),
        Just("new@example.org"),
        Just(""),
    ];
    let company = prop_oneof![Just("Acme"), Just("Globex"), Just("")];
    prop::collection::vec((10u128..14, email, company, any::<bool>()), 1..7)
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// B16 on the in-memory store: apply then inverse gives the
        /// original state, plan after plan.
        #[test]
        fn b16_apply_then_inverse_restores_the_memory_store(
            steps in any_steps(),
            p in 0usize..4,
        ) {
            let s = store_with(seeds());
            round_trip(&s, &policies()[p], &steps)?;
        }

        /// B16 on SQLite.
        #[cfg(feature = "sqlite")]
        #[test]
        fn b16_apply_then_inverse_restores_the_sqlite_store(
            steps in any_steps(),
            p in 0usize..4,
        ) {
            let s = SqliteStore::open_in_memory(Normalization::default()).unwrap();
            for r in seeds() {
                s.insert(&r).unwrap();
            }
            round_trip(&s, &policies()[p], &steps)?;
        }
    }
}
