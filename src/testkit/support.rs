//! What the checks share: plans of effects, ids, merges, and applies
//! that must succeed or must be refused with a given error.

use super::*;

/// A plan of `effects` and `preconditions` in tenant `t`, nothing else.
pub(super) fn effects_plan(
    t: TenantId,
    effects: Vec<Effect>,
    preconditions: Vec<Precondition>,
) -> Plan {
    {
        let mut p = Plan::new(t);
        p.effects = effects;
        p.preconditions = preconditions;
        p
    }
}

pub(super) fn rid(n: u128) -> RecordId {
    RecordId::from_u128(n)
}

pub(super) fn sid(n: u128) -> SubjectId {
    SubjectId::from_u128(n)
}

/// `AddCampaignMember` of tenant A's record `r` in campaign `c`.
pub(super) fn member(r: u128, c: &str, ticket: Option<&str>) -> Effect {
    Effect::AddCampaignMember {
        record: rid(r),
        campaign: crate::event::CampaignId(c.into()),
        ticket: ticket.map(Into::into),
    }
}

/// Applies `plan`, which must succeed; the failure names what was applied.
/// Applies a plan that merges tenant A's record 2 into record 1.
pub(super) async fn merge_2_into_1<S: AsyncApplyPlan>(check: &'static str, s: &S) -> Check {
    must_apply(
        check,
        s,
        "MergeRecord(2 into 1)",
        &effects_plan(
            A,
            vec![Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            }],
            vec![],
        ),
    )
    .await
}

pub(super) async fn must_apply<S: AsyncApplyPlan>(
    check: &'static str,
    s: &S,
    what: &str,
    plan: &Plan,
) -> Check {
    s.apply(plan).await.map_err(|e| {
        fail(
            check,
            format!(
                "injected {what}: expected Ok, the store returned {}",
                chain(&e)
            ),
        )
    })
}

/// Applies `plan`, which must fail as `expected` says, and must change
/// nothing `state` reads.
pub(super) async fn must_refuse<S: AsyncApplyPlan, T: PartialEq + fmt::Debug>(
    check: &'static str,
    s: &S,
    what: &str,
    plan: &Plan,
    expected: &str,
    ok: impl Fn(&ApplyError<S::Error>) -> bool,
    state: impl AsyncFn() -> Result<T, Failure>,
) -> Check {
    let before = state().await?;
    match s.apply(plan).await {
        Ok(()) => Err(fail(
            check,
            format!("injected {what}: expected {expected}, the store applied it"),
        )),
        Err(e) if !ok(&e) => Err(fail(
            check,
            format!(
                "injected {what}: expected {expected}, the store returned {}",
                chain(&e)
            ),
        )),
        Err(_) => {
            let after = state().await?;
            ensure(check, before == after, || {
                format!("injected {what}: refused as expected, but the store changed: {before:?} -> {after:?}")
            })
        }
    }
}

pub(super) async fn linked<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    r: RecordId,
) -> Result<Vec<SubjectId>, Failure> {
    s.linked_subjects(t, r)
        .await
        .map_err(|e| fail(check, format!("linked_subjects failed: {}", chain(&e))))
}

pub(super) async fn members<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    r: RecordId,
) -> Result<Vec<(String, Option<String>)>, Failure> {
    Ok(s.campaign_memberships(t, r)
        .await
        .map_err(|e| fail(check, format!("campaign_memberships failed: {}", chain(&e))))?
        .into_iter()
        .map(|m| (m.campaign.0, m.ticket.map(|v| v.as_str().to_owned())))
        .collect())
}
