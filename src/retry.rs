//! Plan, apply, and on a conflict plan again (B6), a bounded number of times.

use crate::engine::Engine;
use crate::error::{ApplyError, Conflict, PlanError};
use crate::event::Event;
use crate::plan::Plan;
use crate::store::{ApplyPlan, ContactStore};

/// Why [`Engine::plan_and_apply`] gave up. `P` is the store's read error,
/// `A` its apply error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError<P, A> {
    /// Planning failed (bad input, or the store failed to read).
    #[error(transparent)]
    Plan(PlanError<P>),
    /// Applying failed for a reason other than a conflict.
    #[error(transparent)]
    Apply(ApplyError<A>),
    /// Every attempt met a conflict: the records kept changing under the plans.
    #[error("gave up after {attempts} attempt(s); the last conflict: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last conflict.
        last: Conflict,
    },
}

impl Engine {
    /// Plans `event` on `store` and applies the plan; when the plan's
    /// preconditions no longer hold, plans again, at most `max_attempts`
    /// times in all (at least once). Returns the plan that was applied.
    ///
    /// # Errors
    /// [`RetryError::Plan`] or [`RetryError::Apply`] as they arise,
    /// [`RetryError::Exhausted`] when every attempt met a conflict.
    pub fn plan_and_apply<S>(
        &self,
        store: &S,
        event: &Event,
        max_attempts: u32,
    ) -> Result<Plan, RetryError<<S as ContactStore>::Error, <S as ApplyPlan>::Error>>
    where
        S: ContactStore + ApplyPlan + ?Sized,
    {
        self.plan_and_apply_with(store, max_attempts, |_| event.clone())
    }

    /// Like [`Engine::plan_and_apply`], building the event anew for every
    /// attempt (from 0), so that it can carry what the host knows now (for
    /// example the subject's current link).
    ///
    /// # Errors
    /// As [`Engine::plan_and_apply`].
    pub fn plan_and_apply_with<S, F>(
        &self,
        store: &S,
        max_attempts: u32,
        mut event: F,
    ) -> Result<Plan, RetryError<<S as ContactStore>::Error, <S as ApplyPlan>::Error>>
    where
        S: ContactStore + ApplyPlan + ?Sized,
        F: FnMut(u32) -> Event,
    {
        let mut retry = Retry::new(max_attempts);
        while let Some(attempt) = retry.next_attempt() {
            let plan = self
                .plan(store, &event(attempt))
                .map_err(RetryError::Plan)?;
            let applied = store.apply(&plan);
            if let Some(plan) = retry.settle(attempt, plan, applied)? {
                return Ok(plan);
            }
        }
        Err(retry.exhausted())
    }
}

/// The retry loop of both shells (sync [`Engine::plan_and_apply_with`] and
/// async [`Engine::plan_and_apply_async`]) as a small state machine, so
/// what is retried, how often, and what giving up reports are written
/// once: each shell only plans and applies, its own way.
pub(crate) struct Retry {
    attempts: u32,
    next: u32,
    last: Conflict,
}

impl Retry {
    /// At most `max_attempts` attempts in all (at least one).
    pub(crate) fn new(max_attempts: u32) -> Self {
        Retry {
            attempts: max_attempts.max(1),
            next: 0,
            last: Conflict::EmailKeyChanged,
        }
    }

    /// The number of the next attempt (from 0), or `None` when every
    /// attempt is spent.
    pub(crate) fn next_attempt(&mut self) -> Option<u32> {
        let n = self.next;
        (n < self.attempts).then(|| {
            self.next = n + 1;
            n
        })
    }

    /// What attempt `attempt`'s apply result means: the applied plan, a
    /// conflict to plan again after (`None`), or an error that ends the
    /// loop.
    pub(crate) fn settle<P, A>(
        &mut self,
        attempt: u32,
        plan: Plan,
        applied: Result<(), ApplyError<A>>,
    ) -> Result<Option<Plan>, RetryError<P, A>> {
        match applied {
            Ok(()) => Ok(Some(plan)),
            Err(ApplyError::Conflict(c)) => {
                crate::telemetry::retry(attempt, &c);
                self.last = c;
                Ok(None)
            }
            Err(e) => Err(RetryError::Apply(e)),
        }
    }

    /// Giving up: every attempt met a conflict.
    pub(crate) fn exhausted<P, A>(self) -> RetryError<P, A> {
        RetryError::Exhausted {
            attempts: self.attempts,
            last: self.last,
        }
    }
}
