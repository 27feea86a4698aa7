//! Applying plans: all or nothing, refused on stale preconditions, in
//! batches, idempotently, and events recorded per tenant.

use super::*;

/// The ids and versions of the records with one key.
pub(super) type KeyState = (Vec<RecordId>, Vec<u64>);

pub(super) async fn snapshot<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    emails: &[&str],
) -> Result<Vec<KeyState>, Failure> {
    let mut out = Vec::new();
    for e in emails {
        let recs = s
            .records_by_email(A, &key(check, e)?)
            .await
            .map_err(|x| fail(check, x.to_string()))?;
        let mut ids: Vec<(RecordId, u64)> = recs.iter().map(|r| (r.id, r.version)).collect();
        ids.sort_unstable();
        out.push((
            ids.iter().map(|x| x.0).collect(),
            ids.iter().map(|x| x.1).collect(),
        ));
    }
    Ok(out)
}

/// Apply is all-or-nothing: with a failure injected after each effect of a
/// plan, nothing of the plan stays.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn all_or_nothing_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "all_or_nothing";
    let emails = ["ann@example.org", "n1@example.org", "n2@example.org"];
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let ev = Event::Registered({
        let mut r = Registration::new(
            EventId::from_u128(7),
            A,
            vec![
                Subject::booker(
                    SubjectId::from_u128(1),
                    Fields::from_pairs([("email", "ann@example.org"), ("company", "X")]),
                ),
                Subject::attendee(
                    SubjectId::from_u128(2),
                    Fields::from_pairs([("email", "n1@example.org")]),
                ),
                Subject::attendee(
                    SubjectId::from_u128(3),
                    Fields::from_pairs([("email", "n2@example.org")]),
                ),
            ],
        );
        r.campaign = Some(crate::event::CampaignId("camp".into()));
        r
    });
    let mut policy = Policy::doo();
    policy.campaign_members = true;
    let plan = Engine::new(policy)
        .map_err(|e| fail(C, chain(&e)))?
        .plan_async(&s, &ev)
        .await
        .map_err(|e| fail(C, chain(&e)))?;
    let before = snapshot(C, &s, &emails).await?;
    for k in 0..=plan.effects.len() {
        let mut broken = plan.clone();
        broken.effects.truncate(k);
        // The injected failure: creating a record that exists.
        broken.effects.push(Effect::CreateRecord {
            record: record(1, A, "ann@example.org"),
        });
        ensure(C, s.apply(&broken).await.is_err(), || {
            format!("a plan failing after effect {k} was applied")
        })?;
        let now = snapshot(C, &s, &emails).await?;
        ensure(C, now == before, || {
            format!("after a failure at effect {k}, the store changed: {before:?} -> {now:?}")
        })?;
    }
    s.apply(&plan)
        .await
        .map_err(|e| fail(C, format!("the intact plan failed: {}", chain(&e))))?;
    let after = snapshot(C, &s, &emails).await?;
    ensure(C, after != before, || {
        "the intact plan changed nothing".into()
    })
}

/// A plan whose preconditions no longer hold fails with a conflict and
/// changes nothing.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn stale_preconditions_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "stale_preconditions";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let e = engine(C)?;
    let p1 = e
        .plan_async(&s, &registration(1, 1, A, "new@example.org"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    let p2 = e
        .plan_async(&s, &registration(2, 2, A, "NEW@example.org"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&p1).await.map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        matches!(s.apply(&p2).await, Err(ApplyError::Conflict(_))),
        || "a plan decided on a stale key set applied".into(),
    )?;
    let n = lookup(C, &s, A, "new@example.org").await?;
    ensure(C, n.len() == 1, || {
        format!("{} records for one new email", n.len())
    })?;
    let reg = |ev, sub, company: &str| {
        Event::Registered(Registration::new(
            EventId::from_u128(ev),
            A,
            vec![Subject::attendee(
                SubjectId::from_u128(sub),
                Fields::from_pairs([("email", "ann@example.org"), ("company", company)]),
            )],
        ))
    };
    let q1 = e
        .plan_async(&s, &reg(3, 3, "One"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    let q2 = e
        .plan_async(&s, &reg(4, 4, "Two"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&q1).await.map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        matches!(s.apply(&q2).await, Err(ApplyError::Conflict(_))),
        || "a plan decided on a stale version applied".into(),
    )?;
    let company = s
        .record(A, RecordId::from_u128(1))
        .await
        .map_err(|x| fail(C, x.to_string()))?
        .map(|r| r.fields.text("company").to_owned());
    ensure(C, company.as_deref() == Some("One"), || {
        format!("company is {company:?}")
    })
}

/// A batch plan applies as one: two new emails shared by five subjects give
/// two records.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn batches_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "batches";
    let s = f.fresh().await;
    let evs: Vec<Event> = [
        "x@example.org",
        "y@example.org",
        "X@example.org",
        "y@EXAMPLE.org",
        "x@example.org",
    ]
    .iter()
    .enumerate()
    .map(|(i, e)| registration(i as u128 + 1, i as u128 + 1, A, e))
    .collect();
    let plan = engine(C)?
        .plan_batch_async(&s, &evs)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&plan).await.map_err(|x| fail(C, x.to_string()))?;
    let x = lookup(C, &s, A, "x@example.org").await?;
    let y = lookup(C, &s, A, "y@example.org").await?;
    ensure(C, x.len() == 1 && y.len() == 1, || {
        format!("x: {x:?}, y: {y:?}")
    })
}

/// Applying the same plan twice changes nothing the second time.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn idempotent_reapply_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "idempotent_reapply";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let ev = Event::Registered(Registration::new(
        EventId::from_u128(1),
        A,
        vec![
            Subject::attendee(
                SubjectId::from_u128(1),
                Fields::from_pairs([("email", "ann@example.org"), ("company", "Z")]),
            ),
            Subject::attendee(
                SubjectId::from_u128(2),
                Fields::from_pairs([("email", "new@example.org")]),
            ),
        ],
    ));
    let e = engine(C)?;
    let plan = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    let again = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    ensure(C, plan == again, || {
        "planning the same event twice gave different plans".into()
    })?;
    s.apply(&plan).await.map_err(|x| fail(C, x.to_string()))?;
    let emails = ["ann@example.org", "new@example.org"];
    let before = snapshot(C, &s, &emails).await?;
    ensure(C, s.apply(&plan).await.is_err(), || {
        "the same plan applied twice".into()
    })?;
    let after = snapshot(C, &s, &emails).await?;
    ensure(C, before == after, || {
        format!("re-applying changed the store: {before:?} -> {after:?}")
    })?;
    // A store that keeps the default `event_digest` records no events: the
    // `events` check covers its redeliveries.
    let records_events = s
        .event_digest(A, EventId::from_u128(1))
        .await
        .map_err(|x| fail(C, chain(&x)))?
        .is_some();
    if !records_events {
        return Ok(());
    }
    // A redelivery of the event plans nothing (the store remembers it) ...
    let redelivered = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    ensure(C, redelivered.effects.is_empty(), || {
        "a redelivered event planned effects: the store does not remember applied events (ContactStore::event_digest)".into()
    })?;
    // ... and the same id with another payload is an error.
    let mut changed = ev.clone();
    if let Event::Registered(r) = &mut changed {
        r.channel = Channel::Manual;
    }
    ensure(
        C,
        matches!(
            e.plan_async(&s, &changed).await,
            Err(PlanError::Invalid(crate::Error::EventPayloadChanged(_)))
        ),
        || "an event id reused with another payload was not rejected".into(),
    )
}

/// The parts of [`events_async`] for a store that records events: events
/// are recorded per tenant (another tenant's event of the same id is new
/// to this one), and a batch plan records every event it holds (B5, B7).
pub(super) async fn events_per_tenant_and_batch<F: AsyncStoreFactory>(f: &F, e: &Engine) -> Check {
    const C: &str = "events";
    let s = f.fresh().await;
    let first = registration(1, 1, A, "new@example.org");
    let plan = e
        .plan_async(&s, &first)
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "event 1 in tenant A", &plan).await?;
    // Event 1 of tenant B: another payload, the same id.
    let other = registration(1, 2, B, "other@example.org");
    let plan = e.plan_async(&s, &other).await.map_err(|x| {
        fail(
            C,
            format!(
                "injected event 1 of tenant B after tenant A applied its own event 1: \
                 expected a plan (events are per tenant), planning failed: {}",
                chain(&x)
            ),
        )
    })?;
    ensure(C, !plan.effects.is_empty(), || {
        "event 1 of tenant B planned no effects after tenant A applied its event 1: \
         applied events must be recorded per tenant"
            .into()
    })?;
    must_apply(
        C,
        &s,
        "event 1 of tenant B after tenant A applied its own event 1 (events are per tenant)",
        &plan,
    )
    .await?;
    // A batch of two events: both recorded.
    let batch = [
        registration(2, 3, A, "two@example.org"),
        registration(3, 4, A, "three@example.org"),
    ];
    let plan = e
        .plan_batch_async(&s, &batch)
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "a batch plan of events 2 and 3", &plan).await?;
    for ev in &batch {
        let d = s
            .event_digest(A, ev.id())
            .await
            .map_err(|x| fail(C, chain(&x)))?;
        ensure(C, d == Some(ev.digest()), || {
            format!(
                "injected a batch plan of events 2 and 3: expected each recorded with its \
                 digest, event {} reads back {d:?}",
                ev.id()
            )
        })?;
    }
    Ok(())
}

/// A store that records events (B7) answers [`Conflict::EventApplied`] for
/// the same event and digest and [`Conflict::EventPayloadChanged`] for
/// another digest; a store that keeps the default
/// [`ContactStore::event_digest`] records nothing, and a redelivery then
/// creates no second record (the contract on [`ApplyPlan`]).
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn events_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "events";
    let s = f.fresh().await;
    let e = engine(C)?;
    let ev = registration(1, 1, A, "new@example.org");
    let plan = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "a registration of a new email", &plan).await?;
    let digest = s
        .event_digest(A, EventId::from_u128(1))
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    match digest {
        Some(d) => {
            ensure(C, d == ev.digest(), || {
                "the store recorded another digest than the plan's EventNew precondition".into()
            })?;
            let same = effects_plan(
                A,
                vec![],
                vec![Precondition::EventNew {
                    event: EventId::from_u128(1),
                    digest: d,
                }],
            );
            must_refuse(
                C,
                &s,
                "EventNew for the applied event, same digest",
                &same,
                "Conflict::EventApplied",
                |x| matches!(x, ApplyError::Conflict(Conflict::EventApplied(_))),
                async || lookup(C, &s, A, "new@example.org").await,
            )
            .await?;
            let other = effects_plan(
                A,
                vec![],
                vec![Precondition::EventNew {
                    event: EventId::from_u128(1),
                    digest: crate::plan::EventDigest(uuid::Uuid::from_u128(7)),
                }],
            );
            must_refuse(
                C,
                &s,
                "EventNew for the applied event, another digest",
                &other,
                "Conflict::EventPayloadChanged",
                |x| matches!(x, ApplyError::Conflict(Conflict::EventPayloadChanged(_))),
                async || lookup(C, &s, A, "new@example.org").await,
            )
            .await?;
            let again = e
                .plan_async(&s, &ev)
                .await
                .map_err(|x| fail(C, chain(&x)))?;
            ensure(C, again.effects.is_empty(), || {
                "a redelivered event planned effects although the store recorded it".into()
            })?;
            events_per_tenant_and_batch(f, &e).await
        }
        None => {
            // Not recorded: the redelivery is planned again and must not
            // create a second record.
            e.plan_and_apply_async(&s, &ev, 3)
                .await
                .map_err(|x| fail(C, format!("the redelivery failed: {}", chain(&x))))?;
            let ids = lookup(C, &s, A, "new@example.org").await?;
            ensure(C, ids.len() == 1, || {
                format!("a redelivery to a store that records no events: expected one record for the email, the store has {ids:?}")
            })
        }
    }
}
