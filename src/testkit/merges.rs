//! Merges (B9): the merged record goes, its links and memberships move.

use super::*;

/// Duplicate healing (B9): a merge plan leaves one record with the key and
/// moves the retired record's links to the survivor.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn merges_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "merges";
    let s = fresh_pair(C, f, "dup@example.org", "DUP@example.org").await?;
    let e = engine(C)?;
    let mut link = seed_plan(&[]);
    link.effects.push(Effect::Link {
        subject: SubjectId::from_u128(7),
        record: RecordId::from_u128(1),
    });
    s.apply(&link).await.map_err(|x| fail(C, x.to_string()))?;
    let mut group: Vec<Record> = Vec::new();
    for n in [1, 2] {
        if let Ok(Some(r)) = s.record(A, RecordId::from_u128(n)).await {
            group.push(r);
        }
    }
    let plan = crate::heal::plan_merge(A, &group, &crate::heal::RecordMerge::default())
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&plan)
        .await
        .map_err(|x| fail(C, format!("the merge failed: {x}")))?;
    let left = lookup(C, &s, A, "dup@example.org").await?;
    ensure(C, left == [RecordId::from_u128(1)], || {
        format!("after the merge the key has {left:?}")
    })?;
    // The retired record is gone: a registration links to the survivor (D2).
    let plan = e
        .plan_async(&s, &registration(9, 9, A, "dup@example.org"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        plan.outcomes.first().and_then(|o| o.record) == Some(RecordId::from_u128(1)),
        || "a registration after the merge did not link to the survivor".into(),
    )
}

/// A merge deletes the retired record and moves its links and memberships
/// to the survivor (whose own ticket id on a shared membership stays),
/// without changing the survivor's version.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn merges_move_links_and_members_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "merges_move_links_and_members";
    let s = fresh_pair(C, f, "dup@example.org", "dup@example.org").await?;
    must_apply(
        C,
        &s,
        "links s1 -> r1, s2 -> r2 and memberships",
        &effects_plan(
            A,
            vec![
                Effect::Link {
                    subject: sid(1),
                    record: rid(1),
                },
                Effect::Link {
                    subject: sid(2),
                    record: rid(2),
                },
                member(1, "shared", Some("T-1")),
                member(2, "shared", Some("T-2")),
                member(2, "only-2", Some("T-9")),
                member(1, "no-ticket", None),
                member(2, "no-ticket", Some("T-5")),
            ],
            vec![],
        ),
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    let gone = s.record(A, rid(2)).await.map_err(|e| fail(C, chain(&e)))?;
    ensure(C, gone.is_none(), || {
        "the merged-away record 2 is still there".into()
    })?;
    let survivor = s.record(A, rid(1)).await.map_err(|e| fail(C, chain(&e)))?;
    ensure(C, survivor.as_ref().map(|r| r.version) == Some(1), || {
        format!(
            "MergeRecord alone: expected survivor 1 at version 1, the store has {:?}",
            survivor.map(|r| r.version)
        )
    })?;
    let subjects = linked(C, &s, A, rid(1)).await?;
    ensure(C, subjects == [sid(1), sid(2)], || {
        format!("after the merge: expected subjects 1 and 2 linked to the survivor, the store has {subjects:?}")
    })?;
    let got = members(C, &s, A, rid(1)).await?;
    let want = vec![
        ("no-ticket".to_owned(), Some("T-5".to_owned())),
        ("only-2".to_owned(), Some("T-9".to_owned())),
        ("shared".to_owned(), Some("T-1".to_owned())),
    ];
    ensure(C, got == want, || {
        format!("after the merge: expected memberships {want:?} (the survivor's ticket id stays; a survivor without one takes the merged record's), the store has {got:?}")
    })?;
    let left = members(C, &s, A, rid(2)).await?;
    ensure(C, left.is_empty(), || {
        format!("the merged-away record keeps memberships {left:?}")
    })?;
    must_refuse(
        C,
        &s,
        "MergeRecord(r1 into r1)",
        &effects_plan(
            A,
            vec![Effect::MergeRecord {
                record: rid(1),
                into: rid(1),
            }],
            vec![],
        ),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        async || linked(C, &s, A, rid(1)).await,
    )
    .await
}
