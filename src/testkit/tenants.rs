//! Tenants: nothing crosses them, and record ids are global across them.

use super::*;

/// Nothing crosses tenants: lookups, reads by id, and effects naming another
/// tenant's record.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn tenant_isolation_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "tenant_isolation";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    seed(C, &s, &[record(2, B, "ann@example.org")]).await?;
    let a = lookup(C, &s, A, "ann@example.org").await?;
    ensure(C, a == [RecordId::from_u128(1)], || {
        format!("tenant A sees {a:?}")
    })?;
    let other = s
        .record(A, RecordId::from_u128(2))
        .await
        .map_err(|e| fail(C, chain(&e)))?;
    ensure(C, other.is_none(), || {
        "reading tenant B's record as tenant A returned it".into()
    })?;
    let tickets = s
        .records_by_ticket(B, "none")
        .await
        .map_err(|e| fail(C, chain(&e)))?;
    ensure(C, tickets.is_empty(), || {
        "ticket lookup returned records".into()
    })?;
    let mut hostile = seed_plan(&[]);
    hostile.tenant = A;
    hostile.effects.push(Effect::UpdateRecord {
        record: RecordId::from_u128(2),
        changes: vec![crate::plan::FieldChange {
            field: crate::fields::FieldName::new("first_name"),
            old: None,
            new: "Mallory".into(),
            rule: crate::plan::RuleId::B8,
        }],
    });
    ensure(C, s.apply(&hostile).await.is_err(), || {
        "a plan of tenant A updated tenant B's record".into()
    })?;
    let b = s
        .record(B, RecordId::from_u128(2))
        .await
        .map_err(|e| fail(C, chain(&e)))?
        .map(|r| (r.version, r.fields.text("first_name").to_owned()));
    ensure(C, b == Some((1, "Kit".into())), || {
        format!("tenant B's record changed: {b:?}")
    })?;
    // Every effect that names a record refuses another tenant's.
    let mut foreign = record(3, B, "cy@example.org");
    foreign.version = 1;
    let hostile: [(&str, Effect); 6] = [
        (
            "Link of a subject to tenant B's record 2",
            Effect::Link {
                subject: sid(1),
                record: rid(2),
            },
        ),
        (
            "AddCampaignMember of tenant B's record 2",
            member(2, "C", None),
        ),
        (
            "MergeRecord of record 1 into tenant B's record 2",
            Effect::MergeRecord {
                record: rid(1),
                into: rid(2),
            },
        ),
        (
            "MergeRecord of tenant B's record 2 into record 1",
            Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            },
        ),
        (
            "DeleteRecord of tenant B's record 2",
            Effect::DeleteRecord { record: rid(2) },
        ),
        (
            "CreateRecord of a record of tenant B",
            Effect::CreateRecord { record: foreign },
        ),
    ];
    for (what, effect) in hostile {
        let plan = effects_plan(A, vec![effect], vec![]);
        ensure(C, s.apply(&plan).await.is_err(), || {
            format!("injected a plan of tenant A with a {what}: expected it refused, the store applied it")
        })?;
        let state = (
            s.record(B, rid(2))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .map(|r| r.version),
            s.record(A, rid(1))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .is_some(),
            s.record(B, rid(3))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .is_some(),
            s.linked_subjects(B, rid(2))
                .await
                .map_err(|e| fail(C, chain(&e)))?,
            s.campaign_memberships(B, rid(2))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .len(),
        );
        ensure(C, state == (Some(1), true, false, vec![], 0), || {
            format!("after a refused {what}: expected records 1 and 2 as they were, no record 3 and nothing linked to record 2, the store holds (version of 2, record 1 held, record 3 held, subjects of 2, memberships of 2) = {state:?}")
        })?;
    }
    Ok(())
}

/// Record ids are global: an id names one record in the whole store, in
/// every tenant. A plan of tenant B that creates (or requires absent) an id
/// that tenant A holds fails with [`Conflict::RecordExists`], and neither
/// tenant's records change.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn record_ids_are_global_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "record_ids_are_global";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let taken = RecordId::from_u128(1);
    let mut create = seed_plan(&[record(1, B, "bo@example.org")]);
    create.preconditions.clear();
    let mut absent = seed_plan(&[record(2, B, "bo@example.org")]);
    absent
        .preconditions
        .push(Precondition::RecordAbsent { record: taken });
    for (what, plan) in [
        ("creating tenant A's record id in tenant B", create),
        ("requiring tenant A's record id absent in tenant B", absent),
    ] {
        match s.apply(&plan).await {
            Err(ApplyError::Conflict(Conflict::RecordExists(r))) if r == taken => {}
            other => {
                return Err(fail(
                    C,
                    format!(
                        "{what}: expected Conflict::RecordExists({taken}), the store returned {}",
                        match other {
                            Ok(()) => "Ok (applied)".to_owned(),
                            Err(e) => chain(&e),
                        }
                    ),
                ))
            }
        }
    }
    let a = s.record(A, taken).await.map_err(|e| fail(C, chain(&e)))?;
    ensure(
        C,
        a.is_some_and(|r| r.fields.text("email") == "ann@example.org"),
        || "tenant A's record changed or went missing".into(),
    )?;
    for id in [taken, RecordId::from_u128(2)] {
        let b = s.record(B, id).await.map_err(|e| fail(C, chain(&e)))?;
        ensure(C, b.is_none(), || {
            format!("tenant B holds record {id} after a refused plan")
        })?;
    }
    Ok(())
}
