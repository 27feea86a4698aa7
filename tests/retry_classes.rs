//! B6, B7: what the retries do with a store's errors by their class: a
//! transient error is tried again after the policy's pause, an unknown
//! outcome is reported for redelivery, anything else ends the call at once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use contact_sync::*;

use crate::common::*;

/// A store error of each class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("injected {0:?}")]
struct Injected(ErrorClass);

/// An in-memory store whose reads and applies fail with the errors queued
/// for them (then behave), counting calls and pauses.
struct Flaky {
    store: InMemoryStore,
    read_errors: Mutex<Vec<ErrorClass>>,
    /// `None`: a conflict.
    apply_errors: Mutex<Vec<Option<ErrorClass>>>,
    applies: AtomicU32,
    pauses: Mutex<Vec<Duration>>,
}

impl Flaky {
    fn new(reads: &[ErrorClass], applies: &[ErrorClass]) -> Self {
        let applies: Vec<Option<ErrorClass>> = applies.iter().copied().map(Some).collect();
        Flaky::with_conflicts(reads, &applies)
    }

    fn with_conflicts(reads: &[ErrorClass], applies: &[Option<ErrorClass>]) -> Self {
        Flaky {
            store: InMemoryStore::new(),
            read_errors: Mutex::new(reads.iter().rev().copied().collect()),
            apply_errors: Mutex::new(applies.iter().rev().copied().collect()),
            applies: AtomicU32::new(0),
            pauses: Mutex::new(Vec::new()),
        }
    }

    fn read_fault(&self) -> Result<(), Injected> {
        match self.read_errors.lock().unwrap().pop() {
            Some(c) => Err(Injected(c)),
            None => Ok(()),
        }
    }
}

impl ContactStore for Flaky {
    type Error = Injected;
    fn classify(&self, e: &Injected) -> ErrorClass {
        e.0
    }
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, Injected> {
        self.read_fault()?;
        Ok(self.store.records_by_email(t, k).unwrap())
    }
    fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, Injected> {
        Ok(self.store.record(t, id).unwrap())
    }
    fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, Injected> {
        Ok(self.store.records_by_ticket(t, ticket).unwrap())
    }
    fn event_digest(&self, t: TenantId, e: EventId) -> Result<Option<EventDigest>, Injected> {
        Ok(self.store.event_digest(t, e).unwrap())
    }
    fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, Injected> {
        Ok(self.store.linked_subjects(t, r).unwrap())
    }
    fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, Injected> {
        Ok(self.store.campaign_memberships(t, r).unwrap())
    }
}

impl ApplyPlan for Flaky {
    type Error = Injected;
    fn classify(&self, e: &Injected) -> ErrorClass {
        e.0
    }
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Injected>> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        match self.apply_errors.lock().unwrap().pop() {
            Some(Some(c)) => return Err(ApplyError::Store(Injected(c))),
            Some(None) => return Err(Conflict::EmailKeyChanged.into()),
            None => {}
        }
        self.store.apply(plan).map_err(|e| match e {
            ApplyError::Conflict(c) => ApplyError::Conflict(c),
            _ => ApplyError::InvalidPlan("the in-memory store refused the plan"),
        })
    }
}

/// The same store behind the async traits, pausing on record.
impl AsyncContactStore for Flaky {
    type Error = Injected;
    fn classify(&self, e: &Injected) -> ErrorClass {
        e.0
    }
    async fn pause(&self, pause: Duration) {
        self.pauses.lock().unwrap().push(pause);
    }
    async fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, Injected> {
        ContactStore::records_by_email(self, t, k)
    }
    async fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, Injected> {
        ContactStore::record(self, t, id)
    }
    async fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, Injected> {
        ContactStore::records_by_ticket(self, t, ticket)
    }
    async fn event_digest(&self, t: TenantId, e: EventId) -> Result<Option<EventDigest>, Injected> {
        ContactStore::event_digest(self, t, e)
    }
    async fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, Injected> {
        ContactStore::linked_subjects(self, t, r)
    }
    async fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, Injected> {
        ContactStore::campaign_memberships(self, t, r)
    }
}

impl AsyncApplyPlan for Flaky {
    type Error = Injected;
    fn classify(&self, e: &Injected) -> ErrorClass {
        e.0
    }
    async fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Injected>> {
        ApplyPlan::apply(self, plan)
    }
}

fn event() -> Event {
    registration(1, vec![attendee(10, &[("email", "ann@example.org")])])
}

const TR: ErrorClass = ErrorClass::Transient;
const QUICK: RetryPolicy = RetryPolicy::new(4).with_pauses(Duration::ZERO, Duration::ZERO);

#[test]
fn b6_a_transient_apply_error_is_tried_again_until_it_applies() {
    let store = Flaky::new(&[], &[TR, TR]);
    let plan = engine(Policy::doo())
        .plan_and_apply(&store, &event(), QUICK)
        .unwrap();
    assert_eq!(plan.created().count(), 1);
    assert_eq!(store.applies.load(Ordering::SeqCst), 3);
    assert_eq!(store.store.records(T).len(), 1);
}

#[test]
fn b6_a_transient_read_error_is_tried_again() {
    let store = Flaky::new(&[TR], &[]);
    engine(Policy::doo())
        .plan_and_apply(&store, &event(), QUICK)
        .unwrap();
    assert_eq!(store.applies.load(Ordering::SeqCst), 1);
    assert_eq!(store.store.records(T).len(), 1);
}

#[test]
fn b6_transient_errors_past_the_attempts_report_the_last_error() {
    let store = Flaky::new(&[], &[TR, TR, TR, TR, TR]);
    let err = engine(Policy::doo())
        .plan_and_apply(&store, &event(), QUICK)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RetryError::Apply(ApplyError::Store(Injected(ErrorClass::Transient)))
        ),
        "{err:?}"
    );
    assert_eq!(store.applies.load(Ordering::SeqCst), QUICK.max_attempts());
    assert_eq!(QUICK.max_attempts(), 4);
    assert!(store.store.records(T).is_empty());
    // Reads too.
    let store = Flaky::new(&[TR, TR, TR, TR], &[]);
    let err = engine(Policy::doo())
        .plan_and_apply(&store, &event(), QUICK)
        .unwrap_err();
    assert!(
        matches!(err, RetryError::Plan(PlanError::Store(_))),
        "{err:?}"
    );
    assert_eq!(store.applies.load(Ordering::SeqCst), 0);
}

#[test]
fn b6_a_permanent_error_ends_the_call_at_once() {
    let store = Flaky::new(&[], &[ErrorClass::Permanent]);
    let err = engine(Policy::doo())
        .plan_and_apply(&store, &event(), QUICK)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RetryError::Apply(ApplyError::Store(Injected(ErrorClass::Permanent)))
        ),
        "{err:?}"
    );
    assert_eq!(store.applies.load(Ordering::SeqCst), 1);
    let store = Flaky::new(&[ErrorClass::Permanent], &[]);
    let err = engine(Policy::doo())
        .plan_and_apply(&store, &event(), QUICK)
        .unwrap_err();
    assert!(
        matches!(err, RetryError::Plan(PlanError::Store(_))),
        "{err:?}"
    );
}

#[test]
fn b7_an_unknown_outcome_is_reported_for_redelivery_and_redelivery_is_safe() {
    let store = Flaky::new(&[], &[ErrorClass::OutcomeUnknown]);
    let e = engine(Policy::doo());
    let err = e.plan_and_apply(&store, &event(), QUICK).unwrap_err();
    assert!(matches!(err, RetryError::OutcomeUnknown(_)), "{err:?}");
    assert_eq!(store.applies.load(Ordering::SeqCst), 1);
    // The host redelivers: applied once, however often it is redelivered.
    for _ in 0..2 {
        e.plan_and_apply(&store, &event(), QUICK).unwrap();
    }
    assert_eq!(store.store.records(T).len(), 1);
}

#[test]
fn b6_the_async_retry_pauses_through_the_store_by_the_policy() {
    let store = Flaky::new(&[TR], &[TR, TR]);
    let policy =
        RetryPolicy::new(5).with_pauses(Duration::from_millis(10), Duration::from_millis(15));
    let plan =
        pollster::block_on(engine(Policy::doo()).plan_and_apply_async(&store, &event(), policy))
            .unwrap();
    assert_eq!(plan.created().count(), 1);
    // A read error, then two apply errors in a row: 10, 15 (capped), 15.
    assert_eq!(
        *store.pauses.lock().unwrap(),
        [10, 15, 15].map(Duration::from_millis)
    );
    let store = Flaky::new(&[], &[ErrorClass::OutcomeUnknown]);
    let err = pollster::block_on(engine(Policy::doo()).plan_and_apply_async(&store, &event(), 3))
        .unwrap_err();
    assert!(matches!(err, RetryError::OutcomeUnknown(_)), "{err:?}");
    assert!(store.pauses.lock().unwrap().is_empty());
}

#[test]
fn b6_a_conflict_after_a_transient_error_plans_again_without_a_pause() {
    // Transient, conflict (no pause), transient: a conflict ends the run of
    // transient errors, so the pause after the next one is the first again.
    let store = Flaky::with_conflicts(&[], &[Some(TR), None, Some(TR)]);
    let policy = RetryPolicy::new(5).with_pauses(Duration::from_millis(1), Duration::from_secs(1));
    pollster::block_on(engine(Policy::doo()).plan_and_apply_async(&store, &event(), policy))
        .unwrap();
    assert_eq!(store.applies.load(Ordering::SeqCst), 4);
    assert_eq!(
        *store.pauses.lock().unwrap(),
        [1, 1].map(Duration::from_millis)
    );
    // Conflicts alone never pause, and exhaust as conflicts.
    let store = Flaky::with_conflicts(&[], &[None, None, None]);
    let err = pollster::block_on(engine(Policy::doo()).plan_and_apply_async(&store, &event(), 3))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RetryError::Exhausted {
                attempts: 3,
                last: Conflict::EmailKeyChanged
            }
        ),
        "{err:?}"
    );
    assert!(store.pauses.lock().unwrap().is_empty());
}

#[test]
fn b6_the_sync_retry_sleeps_the_policys_pause_after_a_transient_error() {
    // Two transient errors: 20 ms, then 40 ms (a lower bound; never timed
    // from above).
    let store = Flaky::new(&[], &[TR, TR]);
    let policy = RetryPolicy::new(3).with_pauses(Duration::from_millis(20), Duration::from_secs(1));
    let started = std::time::Instant::now();
    engine(Policy::doo())
        .plan_and_apply(&store, &event(), policy)
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn b6_an_import_chunk_is_tried_as_often_as_its_policy_allows() {
    use contact_sync::testkit::{Fault, Faulty};
    let store = contact_sync::Ready(Faulty::new(InMemoryStore::new(), Fault::Conflict));
    let events = vec![event()];
    let options = ImportOptions::new().chunk(7).retry(2);
    assert!(format!("{options:?}").contains("chunk: 7"), "{options:?}");
    assert!(
        format!("{options:?}").contains("progress: false"),
        "{options:?}"
    );
    let err = pollster::block_on(engine(Policy::doo()).import_async(&store, &events, options))
        .unwrap_err();
    assert_eq!(err.done, 0);
    assert!(
        matches!(err.source, RetryError::Exhausted { attempts: 2, .. }),
        "{:?}",
        err.source
    );
    assert_eq!(store.0.applies(), 2);
}
