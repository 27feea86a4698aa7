//! Undo (B16): the duties of a store that undoes plans, and the round
//! trip of plans and their inverses.

use super::*;

/// What the undo check compares: each record's fields (blank left out),
/// each subject's link and each record's memberships.
pub(super) type UndoState = Vec<(
    RecordId,
    Option<Vec<(String, String)>>,
    Vec<SubjectId>,
    Vec<(String, Option<String>)>,
)>;

pub(super) async fn undo_state<S: AsyncUndoStore>(
    check: &'static str,
    s: &S,
    subjects: &[u128],
) -> Result<(UndoState, Vec<Option<RecordId>>), Failure> {
    let err = |what: &'static str| {
        move |e: <S as AsyncContactStore>::Error| {
            fail(check, format!("{what} failed: {}", chain(&e)))
        }
    };
    let mut out = Vec::new();
    for n in 1..=4 {
        let r = AsyncContactStore::record(s, A, rid(n))
            .await
            .map_err(err("record"))?;
        let fields = r.map(|r| {
            r.fields
                .iter()
                .filter(|(_, v)| !v.is_blank())
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect()
        });
        let linked = s
            .linked_subjects(A, rid(n))
            .await
            .map_err(err("linked_subjects"))?;
        out.push((rid(n), fields, linked, members(check, s, A, rid(n)).await?));
    }
    let mut links = Vec::new();
    for n in subjects {
        links.push(
            s.subject_link(A, sid(*n))
                .await
                .map_err(err("subject_link"))?,
        );
    }
    Ok((out, links))
}

/// The duties of [`undo_async`] a store meets apart from inverses (B16):
/// `SubjectLink` and `Memberships` preconditions are checked, `DeleteRecord`
/// drops the record's links, and `RestoreRecord` keeps the version the
/// record is restored at.
pub(super) async fn undo_duties<F: AsyncStoreFactory>(f: &F) -> Check
where
    F::Store: AsyncUndoStore,
{
    const C: &str = "undo";
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    must_apply(
        C,
        &s,
        "subject 10 linked to r1, r1 a member of camp-a",
        &effects_plan(
            A,
            vec![
                Effect::Link {
                    subject: sid(10),
                    record: rid(1),
                },
                member(1, "camp-a", None),
            ],
            vec![],
        ),
    )
    .await?;
    let link_of = async |n: u128| -> Result<Option<RecordId>, Failure> {
        s.subject_link(A, sid(n))
            .await
            .map_err(|e| fail(C, chain(&e)))
    };
    must_refuse(
        C,
        &s,
        "a SubjectLink precondition of subject 10 at r2 (it is at r1)",
        &effects_plan(
            A,
            vec![Effect::Link {
                subject: sid(10),
                record: rid(2),
            }],
            vec![Precondition::SubjectLink {
                subject: sid(10),
                record: Some(rid(2)),
            }],
        ),
        "Conflict::SubjectLinkChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::SubjectLinkChanged(x)) if *x == sid(10)),
        async || link_of(10).await,
    )
    .await?;
    must_refuse(
        C,
        &s,
        "a Memberships precondition of r1 with none (it is a member of camp-a)",
        &effects_plan(
            A,
            vec![member(1, "camp-b", None)],
            vec![Precondition::Memberships {
                record: rid(1),
                members: vec![],
            }],
        ),
        "Conflict::MembershipsChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::MembershipsChanged(x)) if *x == rid(1)),
        async || members(C, &s, A, rid(1)).await,
    )
    .await?;
    // A restore keeps the version it names.
    let mut back = record(2, A, "sam@example.org");
    back.version = 6;
    must_apply(
        C,
        &s,
        "DeleteRecord of r2",
        &effects_plan(A, vec![Effect::DeleteRecord { record: rid(2) }], vec![]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "RestoreRecord of the deleted r2 at version 6",
        &effects_plan(A, vec![Effect::RestoreRecord { record: back }], vec![]),
    )
    .await?;
    let version = s
        .record(A, rid(2))
        .await
        .map_err(|e| fail(C, chain(&e)))?
        .map(|r| r.version);
    ensure(C, version == Some(6), || {
        format!("injected a RestoreRecord of r2 at version 6: expected version 6 read back, the store holds {version:?}")
    })?;
    // A delete drops the record's links.
    must_apply(
        C,
        &s,
        "DeleteRecord of r1, to which subject 10 is linked",
        &effects_plan(A, vec![Effect::DeleteRecord { record: rid(1) }], vec![]),
    )
    .await?;
    let now = link_of(10).await?;
    let left = linked(C, &s, A, rid(1)).await?;
    ensure(C, now.is_none() && left.is_empty(), || {
        format!("after a DeleteRecord of r1: expected subject 10 linked nowhere and no subject linked to r1, the store links subject 10 to {now:?} and r1 to {left:?}")
    })
}

/// Undo (B16), for stores that implement [`UndoStore`] (in
/// [`run_all_undo`] unless the factory declares none): a plan that creates a record, links subjects to it, moves a
/// link, changes and adds fields, changes a membership's ticket id, adds a
/// membership and merges a record away, applied with
/// [`crate::undo::apply_reversible`], then its inverse, leaves the records'
/// fields, links and memberships as they were; the store keeps a
/// [`crate::Tombstone`] of the merged record until the inverse restores
/// it; an inverse applied after a restored record changed, or after a
/// subject was linked to a record it deletes, is a conflict that changes
/// nothing; and [`crate::undo::unmerge`] brings a merged record back from
/// its tombstone alone. Before that, the duties undo relies on:
/// `SubjectLink` and `Memberships` preconditions are checked, `DeleteRecord`
/// drops the record's links, `RestoreRecord` keeps the version it names.
///
/// # Errors
/// A [`Failure`] saying what was applied, what was expected and what the
/// store did.
pub async fn undo_async<F: AsyncStoreFactory>(f: &F) -> Check
where
    F::Store: AsyncUndoStore,
{
    use crate::plan::{FieldChange, RuleId};
    use crate::undo;
    const C: &str = "undo";
    undo_duties(f).await?;
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    let add = member;
    let link = |subject: u128, n: u128| Effect::Link {
        subject: sid(subject),
        record: rid(n),
    };
    must_apply(
        C,
        &s,
        "links of subjects 10 (r1) and 11 (r2), memberships of r1 and r2",
        &effects_plan(
            A,
            vec![
                link(10, 1),
                link(11, 2),
                add(1, "camp-a", None),
                add(2, "camp-a", Some("T-2")),
                add(2, "camp-b", Some("T-3")),
            ],
            vec![],
        ),
    )
    .await?;
    let subjects = [10, 11, 12, 13];
    let before = undo_state(C, &s, &subjects).await?;
    let plan = effects_plan(
        A,
        vec![
            Effect::CreateRecord {
                record: record(3, A, "new@example.org"),
            },
            link(12, 3),
            link(10, 3),
            Effect::UpdateRecord {
                record: rid(1),
                changes: vec![
                    FieldChange {
                        field: "first_name".into(),
                        old: Some("Kit".into()),
                        new: "Kat".into(),
                        rule: RuleId::D13,
                    },
                    FieldChange {
                        field: "phone".into(),
                        old: None,
                        new: "555".into(),
                        rule: RuleId::D13,
                    },
                ],
            },
            add(3, "camp-a", Some("T-9")),
            add(1, "camp-c", Some("T-1")),
            Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            },
        ],
        vec![Precondition::RecordAbsent { record: rid(3) }],
    );
    let inverse = undo::apply_reversible_async(&s, &plan).await.map_err(|e| {
        fail(C, format!("apply_reversible of a plan that creates, links, updates, adds members and merges: expected Ok, the store returned {}", chain(&e)))
    })?;
    let applied = undo_state(C, &s, &subjects).await?;
    ensure(C, applied != before, || {
        "the plan changed nothing the check reads".to_owned()
    })?;
    let tomb = s
        .tombstone(A, rid(2))
        .await
        .map_err(|e| fail(C, format!("tombstone failed: {}", chain(&e))))?;
    ensure(
        C,
        tomb.as_ref().is_some_and(|t| {
            t.into == rid(1)
                && t.subjects == [sid(11)]
                && t.memberships.len() == 2
                && t.record.fields == record(2, A, "sam@example.org").fields
        }),
        || {
            format!("after merging r2 into r1: expected a tombstone of r2 (into r1, subject 11, two memberships, its fields), got {tomb:?}")
        },
    )?;
    must_apply(C, &s, "the inverse of that plan", &inverse).await?;
    let undone = undo_state(C, &s, &subjects).await?;
    ensure(C, undone == before, || {
        format!("after the plan and its inverse: expected the state before {before:?}, the store holds {undone:?}")
    })?;
    let tomb = s
        .tombstone(A, rid(2))
        .await
        .map_err(|e| fail(C, format!("tombstone failed: {}", chain(&e))))?;
    ensure(C, tomb.is_none(), || {
        "r2 was restored but its tombstone is still there".to_owned()
    })?;

    // Stale inverses: a record restored by it changed since; a subject was
    // linked to a record it deletes.
    let inverse = undo::apply_reversible_async(&s, &plan).await.map_err(|e| {
        fail(
            C,
            format!(
                "the plan again after its undo: expected Ok, got {}",
                chain(&e)
            ),
        )
    })?;
    let edit = effects_plan(
        A,
        vec![Effect::UpdateRecord {
            record: rid(1),
            changes: vec![FieldChange {
                field: "first_name".into(),
                old: Some("Kat".into()),
                new: "Kim".into(),
                rule: RuleId::D13,
            }],
        }],
        vec![],
    );
    must_apply(C, &s, "an edit of r1 after the plan", &edit).await?;
    must_refuse(
        C,
        &s,
        "the inverse after r1 was edited",
        &inverse,
        "Conflict::FieldsChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::FieldsChanged(_))),
        async || undo_state(C, &s, &subjects).await,
    )
    .await?;
    let s = f.fresh().await;
    let create = effects_plan(
        A,
        vec![
            Effect::CreateRecord {
                record: record(3, A, "new@example.org"),
            },
            link(12, 3),
        ],
        vec![],
    );
    let inverse = undo::apply_reversible_async(&s, &create)
        .await
        .map_err(|e| {
            fail(
                C,
                format!("a creation and a link: expected Ok, got {}", chain(&e)),
            )
        })?;
    must_apply(
        C,
        &s,
        "a link of subject 13 to the created r3",
        &effects_plan(A, vec![link(13, 3)], vec![]),
    )
    .await?;
    must_refuse(
        C,
        &s,
        "the inverse (deleting r3) after subject 13 was linked to r3",
        &inverse,
        "Conflict::LinksChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::LinksChanged(_))),
        async || undo_state(C, &s, &subjects).await,
    )
    .await?;

    // Undo from the tombstone alone.
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    must_apply(
        C,
        &s,
        "a link of subject 11 to r2 and r2 in camp-b",
        &effects_plan(A, vec![link(11, 2), add(2, "camp-b", Some("T-3"))], vec![]),
    )
    .await?;
    let before = undo_state(C, &s, &subjects).await?;
    merge_2_into_1(C, &s).await?;
    let plan = undo::unmerge_async(&s, A, rid(2))
        .await
        .map_err(|e| fail(C, format!("unmerge failed: {}", chain(&e))))?
        .ok_or_else(|| fail(C, "after a plain merge of r2 into r1: expected a tombstone of r2, the store holds none"))?;
    must_apply(C, &s, "the unmerge of r2 from its tombstone", &plan).await?;
    let after = undo_state(C, &s, &subjects).await?;
    ensure(C, after == before, || {
        format!("after the merge and the unmerge: expected {before:?}, the store holds {after:?}")
    })
}

/// [`undo_async`] for a synchronous store.
///
/// # Errors
/// A [`Failure`] saying what did not hold.
pub fn undo<F: StoreFactory>(f: &F) -> Check
where
    F::Store: UndoStore,
{
    at_once("undo", undo_async(&Synced(f)))
}
