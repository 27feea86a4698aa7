//! The field history (B17).

use super::*;

/// Field history (B17), for stores that keep one (in [`run_all`] unless the
/// factory declares none: [`ContactStore::record_history`] may keep none). Applying plans appends
/// their [`Plan::history`] and `record_history` reads it back: a created
/// record's fields first, then each change in the order applied, with
/// event, rule and submitter as the plan gives them; per tenant; still
/// readable after the record was merged away; and a refused plan adds
/// nothing.
///
/// # Errors
/// A [`Failure`] saying what was applied, what was expected and what the
/// store read back.
pub async fn field_history_async<F: AsyncStoreFactory>(f: &F) -> Check {
    use crate::event::Submitter;
    use crate::plan::{FieldChange, HistoryEntry, RuleId};
    const C: &str = "field_history";
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    let change = |n: u128, field: &str, old: &str, new: &str, rule: RuleId| Effect::UpdateRecord {
        record: rid(n),
        changes: vec![FieldChange {
            field: field.into(),
            old: Some(old.into()),
            new: new.into(),
            rule,
        }],
    };
    let mut edit = effects_plan(
        A,
        vec![
            change(1, "first_name", "Kit", "Kat", RuleId::D13),
            change(2, "first_name", "Kit", "Sam", RuleId::D16),
        ],
        vec![],
    );
    edit.events = vec![EventId::from_u128(7), EventId::from_u128(8)];
    edit.effect_ends = vec![1, 2];
    edit.submitters = vec![(1, Submitter::Import)];
    must_apply(
        C,
        &s,
        "two updates by two events, the second submitted by an import",
        &edit,
    )
    .await?;
    let read = async |t: TenantId, n: u128| -> Result<Vec<HistoryEntry>, Failure> {
        s.record_history(t, rid(n))
            .await
            .map_err(|e| fail(C, format!("record_history failed: {}", chain(&e))))
    };
    let h1 = read(A, 1).await?;
    let expect = |what: &str, got: &[HistoryEntry], want: &[HistoryEntry]| {
        ensure(C, got == want, || {
            format!(
                "{what}: expected {} entries {want:?}, the store read back {} {got:?}",
                want.len(),
                got.len()
            )
        })
    };
    let created = |n: u128, email: &str| -> Vec<HistoryEntry> {
        record(n, A, email)
            .fields
            .iter()
            .map(|(field, v)| HistoryEntry {
                record: rid(n),
                field: field.clone(),
                old: None,
                new: v.clone(),
                event: None,
                rule: RuleId::D6,
                submitter: None,
            })
            .collect()
    };
    let mut want1 = created(1, "kit@example.org");
    want1.push(HistoryEntry {
        record: rid(1),
        field: "first_name".into(),
        old: Some("Kit".into()),
        new: "Kat".into(),
        event: Some(EventId::from_u128(7)),
        rule: RuleId::D13,
        submitter: None,
    });
    expect("record 1: created, then changed by event 7", &h1, &want1)?;
    let mut want2 = created(2, "sam@example.org");
    want2.push(HistoryEntry {
        record: rid(2),
        field: "first_name".into(),
        old: Some("Kit".into()),
        new: "Sam".into(),
        event: Some(EventId::from_u128(8)),
        rule: RuleId::D16,
        submitter: Some(Submitter::Import),
    });
    expect(
        "record 2: changed by event 8, an import",
        &read(A, 2).await?,
        &want2,
    )?;
    expect("record 1 read as tenant B", &read(B, 1).await?, &[])?;
    let stale = effects_plan(
        A,
        vec![change(1, "first_name", "Kat", "Kim", RuleId::D13)],
        vec![Precondition::RecordVersion {
            record: rid(1),
            version: 99,
        }],
    );
    must_refuse(
        C,
        &s,
        "an update of record 1 under a stale RecordVersion",
        &stale,
        "Conflict::VersionChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::VersionChanged { .. })),
        async || read(A, 1).await,
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    expect(
        "record 2 after it was merged into record 1",
        &read(A, 2).await?,
        &want2,
    )
}
