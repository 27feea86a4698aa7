//! Updates and versions: blanks, one bump per effect, versions kept as
//! given and never clamped.

use super::*;

/// `UpdateRecord` raises the version by exactly one per effect (also with
/// no changes), blank values read back blank, a changed email moves the
/// record to its new key, a stale `RecordVersion` is
/// [`Conflict::VersionChanged`], and unknown records are refused.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn updates_and_versions_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "updates_and_versions";
    let s = f.fresh().await;
    let mut r = record(1, A, "old@example.org");
    r.fields.set("job_title".into(), "CTO".into());
    seed(C, &s, &[r]).await?;
    let change = |field: &str, old: &str, new: &str| crate::plan::FieldChange {
        field: field.into(),
        old: Some(old.into()),
        new: new.into(),
        rule: crate::plan::RuleId::B3,
    };
    let update = |changes| Effect::UpdateRecord {
        record: rid(1),
        changes,
    };
    let read = async || -> Result<Option<Record>, Failure> {
        s.record(A, rid(1)).await.map_err(|e| fail(C, chain(&e)))
    };
    must_apply(
        C,
        &s,
        "UpdateRecord(job_title -> blank, email -> new@), UpdateRecord(no changes)",
        &effects_plan(
            A,
            vec![
                update(vec![
                    change("job_title", "CTO", ""),
                    change("email", "old@example.org", "new@example.org"),
                ]),
                update(vec![]),
            ],
            vec![Precondition::RecordVersion {
                record: rid(1),
                version: 1,
            }],
        ),
    )
    .await?;
    let now = read()
        .await?
        .ok_or_else(|| fail(C, "record 1 is gone after an update"))?;
    ensure(C, now.version == 3, || {
        format!("two UpdateRecord effects (one without changes) on a record at version 1: expected version 3, the store has {}", now.version)
    })?;
    ensure(C, now.fields.is_empty_at("job_title"), || {
        "a change to a blank value: expected job_title to read back blank, it still has a value"
            .into()
    })?;
    let (old_key, new_key) = (
        lookup(C, &s, A, "old@example.org").await?,
        lookup(C, &s, A, "new@example.org").await?,
    );
    ensure(C, old_key.is_empty() && new_key == [rid(1)], || {
        format!("after the email changed: expected the old key to find nothing and the new one record 1, the store found {old_key:?} and {new_key:?}")
    })?;
    must_refuse(
        C,
        &s,
        "UpdateRecord with RecordVersion 1 on a record at version 3",
        &effects_plan(
            A,
            vec![update(vec![change("first_name", "Kit", "Mallory")])],
            vec![Precondition::RecordVersion {
                record: rid(1),
                version: 1,
            }],
        ),
        "Conflict::VersionChanged { expected: 1, actual: 3 }",
        |e| {
            matches!(
                e,
                ApplyError::Conflict(Conflict::VersionChanged {
                    expected: 1,
                    actual: 3,
                    ..
                })
            )
        },
        &read,
    )
    .await?;
    must_refuse(
        C,
        &s,
        "UpdateRecord of record 1, then of unknown record 99",
        &effects_plan(
            A,
            vec![
                update(vec![change("first_name", "Kit", "Mallory")]),
                Effect::UpdateRecord {
                    record: rid(99),
                    changes: vec![],
                },
            ],
            vec![],
        ),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        &read,
    )
    .await?;
    // The registration's own data is the host's: a store may ignore it.
    must_apply(
        C,
        &s,
        "UpdateSubject only",
        &effects_plan(
            A,
            vec![Effect::UpdateSubject {
                subject: sid(1),
                changes: vec![change("first_name", "Kit", "Bo")],
            }],
            vec![],
        ),
    )
    .await?;
    let after = read().await?;
    ensure(C, after.as_ref() == Some(&now), || {
        "UpdateSubject changed a record".into()
    })?;
    versions_kept_never_clamped(f).await
}

/// The version part of [`updates_and_versions_async`]: `CreateRecord` keeps
/// the version it is given (a restore or a host's import brings one), and
/// the store refuses with [`ApplyError::VersionOverflow`], never clamps or
/// wraps, at the largest version it holds (B6).
pub(super) async fn versions_kept_never_clamped<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "updates_and_versions";
    let s = f.fresh().await;
    let at = |n: u128, version: u64| {
        let mut r = record(n, A, "v@example.org");
        r.version = version;
        r
    };
    let version_of = async |n: u128| -> Result<Option<u64>, Failure> {
        Ok(s.record(A, rid(n))
            .await
            .map_err(|e| fail(C, chain(&e)))?
            .map(|r| r.version))
    };
    let bump = |n: u128| {
        effects_plan(
            A,
            vec![Effect::UpdateRecord {
                record: rid(n),
                changes: vec![],
            }],
            vec![],
        )
    };
    seed(C, &s, &[at(1, 7)]).await?;
    let got = version_of(1).await?;
    ensure(C, got == Some(7), || {
        format!("injected a CreateRecord at version 7: expected version 7 read back, the store holds {got:?}")
    })?;
    // The largest version: u64::MAX, or the store's own bound below it.
    for (n, version) in [(2, u64::MAX), (3, i64::MAX as u64)] {
        match s.apply(&seed_plan(&[at(n, version)])).await {
            Err(ApplyError::VersionOverflow(r)) if r == rid(n) => continue,
            Err(e) => {
                return Err(fail(
                    C,
                    format!("injected a CreateRecord at version {version}: expected Ok or ApplyError::VersionOverflow, the store returned {}", chain(&e)),
                ))
            }
            Ok(()) => {}
        }
        let got = version_of(n).await?;
        ensure(C, got == Some(version), || {
            format!("injected a CreateRecord at version {version}: expected it read back, the store holds {got:?}")
        })?;
        let result = s.apply(&bump(n)).await;
        let after = version_of(n).await?;
        let ok = match &result {
            Err(ApplyError::VersionOverflow(r)) => *r == rid(n) && after == Some(version),
            Ok(()) => version < u64::MAX && after == Some(version + 1),
            Err(_) => false,
        };
        ensure(C, ok, || {
            format!(
                "injected an UpdateRecord of a record at version {version}: expected version {} or ApplyError::VersionOverflow with the record unchanged, the store returned {} and holds version {after:?}",
                version.wrapping_add(1),
                result.as_ref().map_or_else(|e| chain(e), |()| "Ok".into()),
            )
        })?;
        return Ok(());
    }
    Err(fail(
        C,
        "the store refused a CreateRecord at version i64::MAX as well as u64::MAX: \
         the contract asks for every version up to i64::MAX",
    ))
}
