//! Links, unlinks and campaign membership with ticket ids (A5, A30).

use super::*;

/// `Link` sets (and replaces) a subject's link, `Unlink` removes it only
/// from the record it names, links to unknown or foreign records are
/// refused, and [`ContactStore::linked_subjects`] reads them back per tenant.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn links_and_unlinks_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "links_and_unlinks";
    let s = f.fresh().await;
    seed(
        C,
        &s,
        &[record(1, A, "a@example.org"), record(2, A, "b@example.org")],
    )
    .await?;
    seed(C, &s, &[record(3, B, "c@example.org")]).await?;
    let link = |subject: u128, record: u128| Effect::Link {
        subject: sid(subject),
        record: rid(record),
    };
    let unlink = |subject: u128, record: u128| Effect::Unlink {
        subject: sid(subject),
        record: rid(record),
    };
    let state = async || -> Result<(Vec<SubjectId>, Vec<SubjectId>), Failure> {
        Ok((
            linked(C, &s, A, rid(1)).await?,
            linked(C, &s, A, rid(2)).await?,
        ))
    };
    let expect = async |what: &str, want: (Vec<SubjectId>, Vec<SubjectId>)| -> Check {
        let got = state().await?;
        ensure(C, got == want, || {
            format!("after {what}: expected subjects linked to records 1 and 2 {want:?}, the store has {got:?}")
        })
    };
    must_apply(
        C,
        &s,
        "Link(s7 -> r1), Link(s8 -> r1)",
        &effects_plan(A, vec![link(7, 1), link(8, 1)], vec![]),
    )
    .await?;
    expect(
        "Link(s7 -> r1), Link(s8 -> r1)",
        (vec![sid(7), sid(8)], vec![]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "Link(s7 -> r2)",
        &effects_plan(A, vec![link(7, 2)], vec![]),
    )
    .await?;
    expect(
        "Link(s7 -> r2) replacing s7's link",
        (vec![sid(8)], vec![sid(7)]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "Unlink(s7, r1) while s7 is linked to r2",
        &effects_plan(A, vec![unlink(7, 1)], vec![]),
    )
    .await?;
    expect(
        "Unlink(s7, r1) naming another record",
        (vec![sid(8)], vec![sid(7)]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "Unlink(s7, r2)",
        &effects_plan(A, vec![unlink(7, 2)], vec![]),
    )
    .await?;
    expect("Unlink(s7, r2)", (vec![sid(8)], vec![])).await?;
    let invalid = |e: &ApplyError<_>| matches!(e, ApplyError::InvalidPlan(_));
    must_refuse(
        C,
        &s,
        "Link(s9 -> r1), Link(s9 -> unknown r99)",
        &effects_plan(A, vec![link(9, 1), link(9, 99)], vec![]),
        "ApplyError::InvalidPlan",
        invalid,
        &state,
    )
    .await?;
    must_refuse(
        C,
        &s,
        "Link(s9 -> r1), Link(s9 -> tenant B's r3)",
        &effects_plan(A, vec![link(9, 1), link(9, 3)], vec![]),
        "ApplyError::InvalidPlan",
        invalid,
        &state,
    )
    .await?;
    let foreign = linked(C, &s, B, rid(1)).await?;
    ensure(C, foreign.is_empty(), || {
        format!("linked_subjects of tenant A's record 1 read as tenant B: expected none, got {foreign:?}")
    })
}

/// `AddCampaignMember` makes a record a member once; a ticket id given
/// replaces the membership's, none keeps it (A30); unknown records are
/// refused; [`ContactStore::campaign_memberships`] reads them back.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn campaign_membership_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "campaign_membership";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "a@example.org")]).await?;
    let add = |campaign: &str, ticket: Option<&str>| Effect::AddCampaignMember {
        record: rid(1),
        campaign: crate::event::CampaignId(campaign.into()),
        ticket: ticket.map(Into::into),
    };
    let expect = async |what: &str, want: Vec<(&str, Option<&str>)>| -> Check {
        let got = members(C, &s, A, rid(1)).await?;
        let want: Vec<(String, Option<String>)> = want
            .into_iter()
            .map(|(c, t)| (c.to_owned(), t.map(str::to_owned)))
            .collect();
        ensure(C, got == want, || {
            format!("after {what}: expected memberships {want:?}, the store has {got:?}")
        })
    };
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-b), twice",
        &effects_plan(A, vec![add("camp-b", None), add("camp-b", None)], vec![]),
    )
    .await?;
    expect("AddCampaignMember twice", vec![("camp-b", None)]).await?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, ticket T-1)",
        &effects_plan(A, vec![add("camp-a", Some("T-1"))], vec![]),
    )
    .await?;
    expect(
        "a membership with ticket T-1",
        vec![("camp-a", Some("T-1")), ("camp-b", None)],
    )
    .await?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, no ticket)",
        &effects_plan(A, vec![add("camp-a", None)], vec![]),
    )
    .await?;
    expect(
        "the membership again without a ticket id",
        vec![("camp-a", Some("T-1")), ("camp-b", None)],
    )
    .await?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, ticket T-2)",
        &effects_plan(A, vec![add("camp-a", Some("T-2"))], vec![]),
    )
    .await?;
    expect(
        "the membership again with ticket T-2",
        vec![("camp-a", Some("T-2")), ("camp-b", None)],
    )
    .await?;
    let unknown = member(99, "camp-a", None);
    must_refuse(
        C,
        &s,
        "AddCampaignMember of unknown r99",
        &effects_plan(A, vec![add("camp-c", None), unknown], vec![]),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        async || members(C, &s, A, rid(1)).await,
    )
    .await?;
    let foreign = members(C, &s, B, rid(1)).await?;
    ensure(C, foreign.is_empty(), || {
        format!("memberships of tenant A's record read as tenant B: expected none, got {foreign:?}")
    })
}
