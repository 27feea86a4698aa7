//! Concurrent registrations of one new email: one record, however the
//! racers interleave.

use super::*;

/// Plans, applies, and on a conflict plans again, up to `attempts` times.
/// The first plan waits at `barrier`, so that every thread decides before
/// any applies: the race the preconditions must catch happens every time.
pub(super) fn register_with_retry<S: ContactStore + ApplyPlan>(
    store: &S,
    event: &Event,
    attempts: usize,
    barrier: &std::sync::Barrier,
) -> Result<Plan, String> {
    let e = Engine::new(Policy::doo()).map_err(|x| x.to_string())?;
    for attempt in 0..attempts {
        let plan = e.plan(store, event).map_err(|x| chain(&x));
        if attempt == 0 {
            barrier.wait();
        }
        let plan = plan?;
        match store.apply(&plan) {
            Ok(()) => return Ok(plan),
            Err(ApplyError::Conflict(_)) => continue,
            Err(x) => return Err(chain(&x)),
        }
    }
    Err("no attempt succeeded".into())
}

/// Applies `plan` (decided on `event`), and on a conflict plans again, up
/// to `attempts` applies in all.
pub(super) async fn apply_with_retry<S: AsyncContactStore + AsyncApplyPlan>(
    store: &S,
    engine: &Engine,
    event: &Event,
    mut plan: Plan,
    attempts: usize,
) -> Result<Plan, String> {
    for _ in 0..attempts {
        match store.apply(&plan).await {
            Ok(()) => return Ok(plan),
            Err(ApplyError::Conflict(_)) => {
                plan = engine
                    .plan_async(store, event)
                    .await
                    .map_err(|x| chain(&x))?;
            }
            Err(x) => return Err(chain(&x)),
        }
    }
    Err("no attempt succeeded".into())
}

/// Polls every future in turn until all are done: concurrency within one
/// task, without a runtime. Outputs in the order of `futures`.
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, out) in futures.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(done.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}

/// The race's outcome: one record for the email, every subject linked to it.
pub(super) fn one_record_for_the_race(
    round: u128,
    results: Vec<Result<Plan, String>>,
    ids: &[RecordId],
) -> Check {
    const C: &str = "concurrent_registrations";
    let mut linked = Vec::new();
    for r in results {
        let plan = r.map_err(|m| fail(C, format!("round {round}: {m}")))?;
        linked.extend(plan.outcomes.iter().filter_map(|o| o.record));
    }
    ensure(C, ids.len() == 1, || {
        format!("round {round}: 8 registrations of one new email at once: expected one record, the store has {ids:?}")
    })?;
    ensure(
        C,
        linked.len() == RACERS as usize && linked.iter().all(|r| Some(r) == ids.first()),
        || format!("round {round}: subjects linked to {linked:?}, the record is {ids:?}"),
    )
}

pub(super) const RACERS: u128 = 8;

/// N threads registering the same new email at once create exactly one
/// record, and every subject links to it. Every thread decides before any
/// applies, so the race the preconditions must catch happens every round.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub fn concurrent_registrations<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "concurrent_registrations";
    for round in 0..10u128 {
        let s = f.fresh();
        let email = format!("race{round}@example.org");
        let barrier = std::sync::Barrier::new(RACERS as usize);
        let results: Vec<Result<Plan, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..RACERS)
                .map(|i| {
                    let s = &s;
                    let barrier = &barrier;
                    let ev = registration(100 + i, 100 + i, A, &email);
                    scope.spawn(move || register_with_retry(s, &ev, 64, barrier))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                .collect()
        });
        let mut ids: Vec<RecordId> = s
            .records_by_email(A, &key(C, &email)?)
            .map_err(|e| fail(C, format!("lookup failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        one_record_for_the_race(round, results, &ids)?;
    }
    Ok(())
}

/// The async form of [`concurrent_registrations`]: eight registrations of
/// one new email are all decided first, then applied at once (each retrying
/// on conflict) as concurrent futures of one task; a store with a pool of
/// connections sees them as concurrent transactions.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn concurrent_registrations_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "concurrent_registrations";
    let e = engine(C)?;
    for round in 0..10u128 {
        let s = f.fresh().await;
        let email = format!("race{round}@example.org");
        let events: Vec<Event> = (0..RACERS)
            .map(|i| registration(100 + i, 100 + i, A, &email))
            .collect();
        let mut racers = Vec::new();
        for ev in &events {
            let plan = e.plan_async(&s, ev).await.map_err(|x| fail(C, chain(&x)))?;
            racers.push(apply_with_retry(&s, &e, ev, plan, 64));
        }
        let results = join_all(racers).await;
        let ids = lookup(C, &s, A, &email).await?;
        one_record_for_the_race(round, results, &ids)?;
    }
    Ok(())
}
