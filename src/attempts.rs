//! How often to try, and what each attempt's result means (B6): the retry
//! policy and state machine both shells and the stores' imports share, and
//! an import's options and bookkeeping. Below the shells and the stores:
//! it knows plans and errors, no store and no engine.

use std::time::Duration;

use crate::error::{ApplyError, Conflict, ErrorClass, PlanError};
use crate::plan::Plan;

/// Why [`crate::Engine::plan_and_apply`] gave up. `P` is the store's read error,
/// `A` its apply error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError<P, A> {
    /// Planning failed (bad input, or the store failed to read): at once
    /// for an error that is not [`ErrorClass::Transient`], else once every
    /// attempt failed so.
    #[error(transparent)]
    Plan(PlanError<P>),
    /// Applying failed for a reason other than a conflict: at once for an
    /// error that is not [`ErrorClass::Transient`], else once every attempt
    /// failed so. Nothing of the plan was applied.
    #[error(transparent)]
    Apply(ApplyError<A>),
    /// The connection was lost while the plan's transaction committed
    /// ([`ErrorClass::OutcomeUnknown`]): the plan may or may not have been
    /// applied. Redeliver the event (or call again): an applied event plans
    /// nothing (B7), one that was not is applied.
    #[error("the plan may or may not have been applied (redeliver the event)")]
    OutcomeUnknown(#[source] ApplyError<A>),
    /// Every attempt met a conflict: the records kept changing under the plans.
    #[error("gave up after {attempts} attempt(s); the last conflict: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last conflict.
        last: Conflict,
    },
}

/// How often [`crate::Engine::plan_and_apply`] and
/// [`crate::Engine::plan_and_apply_async`] try, and how long they pause before
/// trying again after a transient store error ([`ErrorClass::Transient`]).
/// A conflict is planned again at once (the store has moved on, nothing
/// needs to recover); the `k`-th transient error in a row (from 0) pauses
/// `first_pause × 2^k`, at most `max_pause`.
///
/// A number converts into a policy of that many attempts with the default
/// pauses (10 ms doubling to at most 1 s):
///
/// ```
/// use std::time::Duration;
/// use contact_sync::RetryPolicy;
/// let policy: RetryPolicy = 5.into();
/// assert_eq!(policy.max_attempts(), 5);
/// assert_eq!(policy.pause(0), Duration::from_millis(10));
/// assert_eq!(policy.pause(3), Duration::from_millis(80));
/// assert_eq!(policy.pause(20), Duration::from_secs(1));
/// let quick = RetryPolicy::new(3).with_pauses(Duration::ZERO, Duration::ZERO);
/// assert_eq!(quick.pause(2), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    first_pause: Duration,
    max_pause: Duration,
}

impl RetryPolicy {
    /// At most `max_attempts` attempts in all (at least one), with the
    /// default pauses.
    pub const fn new(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            first_pause: Duration::from_millis(10),
            max_pause: Duration::from_secs(1),
        }
    }

    /// With the first pause `first` and no pause longer than `max`.
    #[must_use]
    pub const fn with_pauses(mut self, first: Duration, max: Duration) -> Self {
        self.first_pause = first;
        self.max_pause = max;
        self
    }

    /// The attempts allowed in all (at least one is made).
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The pause after the `k`-th transient error in a row (from 0).
    pub fn pause(&self, k: u32) -> Duration {
        let factor = 1u32.checked_shl(k.min(31)).unwrap_or(u32::MAX);
        self.first_pause
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_pause)
    }
}

impl Default for RetryPolicy {
    /// Five attempts, the default pauses.
    fn default() -> Self {
        RetryPolicy::new(5)
    }
}

impl From<u32> for RetryPolicy {
    fn from(max_attempts: u32) -> Self {
        RetryPolicy::new(max_attempts)
    }
}

/// What the last failed attempt met.
enum Last<P, A> {
    Conflict(Conflict),
    Plan(PlanError<P>),
    Apply(ApplyError<A>),
}

/// What the retry loop does after an attempt.
pub(crate) enum Next {
    /// Done: the plan applied.
    Applied(Plan),
    /// Try again after this pause (zero after a conflict).
    Again(Duration),
}

/// The retry loop of both shells (sync [`crate::Engine::plan_and_apply_with`] and
/// async [`crate::Engine::plan_and_apply_async`]) as a small state machine, so
/// what is retried, how often, after what pause, and what giving up
/// reports are written once: each shell only plans, applies and pauses,
/// its own way.
pub(crate) struct Retry<P, A> {
    policy: RetryPolicy,
    next: u32,
    /// Transient errors in a row.
    transient: u32,
    last: Option<Last<P, A>>,
}

impl<P, A> Retry<P, A> {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Retry {
            policy,
            next: 0,
            transient: 0,
            last: None,
        }
    }

    /// The number of the next attempt (from 0), or `None` when every
    /// attempt is spent.
    pub(crate) fn next_attempt(&mut self) -> Option<u32> {
        let n = self.next;
        (n < self.policy.max_attempts.max(1)).then(|| {
            self.next = n + 1;
            n
        })
    }

    /// The pause before the next attempt after a transient error.
    fn transient_pause(&mut self) -> Duration {
        let pause = self.policy.pause(self.transient);
        self.transient = self.transient.saturating_add(1);
        pause
    }

    /// Planning failed: try again after a pause when the store's read
    /// error is transient (or its outcome unknown: a read changes nothing).
    pub(crate) fn plan_failed(
        &mut self,
        e: PlanError<P>,
        class: impl FnOnce(&P) -> ErrorClass,
    ) -> Result<Next, RetryError<P, A>> {
        match &e {
            PlanError::Store(s) if class(s) != ErrorClass::Permanent => {
                crate::telemetry::retry_transient(self.next.saturating_sub(1));
                self.last = Some(Last::Plan(e));
                Ok(Next::Again(self.transient_pause()))
            }
            _ => Err(RetryError::Plan(e)),
        }
    }

    /// What attempt `attempt`'s apply result means: the applied plan, a
    /// conflict to plan again after at once, a transient error to try
    /// again after a pause, or an error that ends the loop.
    pub(crate) fn settle(
        &mut self,
        attempt: u32,
        plan: Plan,
        applied: Result<(), ApplyError<A>>,
        class: impl FnOnce(&A) -> ErrorClass,
    ) -> Result<Next, RetryError<P, A>> {
        match applied {
            Ok(()) => Ok(Next::Applied(plan)),
            Err(ApplyError::Conflict(c)) => {
                crate::telemetry::retry(attempt, &c);
                self.transient = 0;
                self.last = Some(Last::Conflict(c));
                Ok(Next::Again(Duration::ZERO))
            }
            Err(ApplyError::Store(s)) => match class(&s) {
                ErrorClass::Transient => {
                    crate::telemetry::retry_transient(attempt);
                    self.last = Some(Last::Apply(ApplyError::Store(s)));
                    Ok(Next::Again(self.transient_pause()))
                }
                ErrorClass::OutcomeUnknown => Err(RetryError::OutcomeUnknown(ApplyError::Store(s))),
                _ => Err(RetryError::Apply(ApplyError::Store(s))),
            },
            Err(e) => Err(RetryError::Apply(e)),
        }
    }

    /// Giving up: every attempt met a conflict, or the last one a
    /// transient error (reported as it is).
    pub(crate) fn exhausted(self) -> RetryError<P, A> {
        let attempts = self.policy.max_attempts.max(1);
        match self.last {
            Some(Last::Plan(e)) => RetryError::Plan(e),
            Some(Last::Apply(e)) => RetryError::Apply(e),
            Some(Last::Conflict(last)) => RetryError::Exhausted { attempts, last },
            None => RetryError::Exhausted {
                attempts,
                last: Conflict::EmailKeyChanged,
            },
        }
    }
}

/// A callback an import reports its progress to.
type OnProgress = std::sync::Arc<dyn Fn(&ImportProgress) + Send + Sync>;

/// How [`crate::Engine::import_async`] works through a large list of events.
#[derive(Clone)]
pub struct ImportOptions {
    chunk: usize,
    retry: RetryPolicy,
    progress: Option<OnProgress>,
}

impl std::fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOptions")
            .field("chunk", &self.chunk)
            .field("retry", &self.retry)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ImportOptions {
    /// Chunks of 10,000 events, 20 attempts per chunk, no progress callback.
    pub fn new() -> Self {
        ImportOptions {
            chunk: 10_000,
            retry: RetryPolicy::new(20),
            progress: None,
        }
    }

    /// `n` events per plan (at least one): a plan is one transaction.
    #[must_use]
    pub fn chunk(mut self, n: usize) -> Self {
        self.chunk = n.max(1);
        self
    }

    /// How each chunk is retried (conflicts, transient errors).
    #[must_use]
    pub fn retry(mut self, retry: impl Into<RetryPolicy>) -> Self {
        self.retry = retry.into();
        self
    }

    /// Called after each chunk is applied.
    #[must_use]
    pub fn progress(mut self, f: impl Fn(&ImportProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }
}

/// Where an import stands, after a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportProgress {
    /// Events handled so far (applied now, or applied before: B7).
    pub done: usize,
    /// Events in the import.
    pub total: usize,
    /// Records created so far.
    pub created: usize,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Events handled (each applied once, now or before).
    pub events: usize,
    /// Records created.
    pub created: usize,
    /// Plans applied.
    pub chunks: usize,
}

/// An import stopped: the events before `done` are applied; calling
/// [`crate::Engine::import_async`] again with the same events resumes (the applied
/// ones plan nothing, B7).
#[derive(Debug, thiserror::Error)]
#[error("the import stopped after {done} event(s)")]
#[non_exhaustive]
pub struct ImportError<P: std::error::Error + 'static, A: std::error::Error + 'static> {
    /// Events handled before the chunk that failed.
    pub done: usize,
    /// Why the chunk failed.
    #[source]
    pub source: RetryError<P, A>,
}

/// An import's bookkeeping, chunk by chunk: its report, progress
/// callbacks and events.
pub(crate) struct ImportRun<'o> {
    pub(crate) report: ImportReport,
    total: usize,
    options: &'o ImportOptions,
}

impl<'o> ImportRun<'o> {
    pub(crate) fn new(total: usize, options: &'o ImportOptions) -> Self {
        ImportRun {
            report: ImportReport::default(),
            total,
            options,
        }
    }

    /// A chunk of `len` events applied as `plan`.
    pub(crate) fn applied(&mut self, len: usize, plan: &Plan) {
        self.report.events += len;
        self.report.created += plan.created().count();
        self.report.chunks += 1;
        let progress = ImportProgress {
            done: self.report.events,
            total: self.total,
            created: self.report.created,
        };
        crate::telemetry::import_progress(progress.done, progress.total);
        if let Some(f) = &self.options.progress {
            f(&progress);
        }
    }

    /// The import stops: how far it got.
    pub(crate) fn failed<P, A>(&self, source: RetryError<P, A>) -> ImportError<P, A>
    where
        P: std::error::Error + 'static,
        A: std::error::Error + 'static,
    {
        ImportError {
            done: self.report.events,
            source,
        }
    }
}

impl ImportOptions {
    /// The events per chunk.
    pub(crate) fn chunk_len(&self) -> usize {
        self.chunk
    }

    /// How each chunk is retried.
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }
}
