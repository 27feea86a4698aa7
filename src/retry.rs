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
        let attempts = max_attempts.max(1);
        let mut last = Conflict::EmailKeyChanged;
        for attempt in 0..attempts {
            let plan = self
                .plan(store, &event(attempt))
                .map_err(RetryError::Plan)?;
            match store.apply(&plan) {
                Ok(()) => return Ok(plan),
                Err(ApplyError::Conflict(c)) => {
                    crate::telemetry::retry(attempt, &c);
                    last = c;
                }
                Err(e) => return Err(RetryError::Apply(e)),
            }
        }
        Err(RetryError::Exhausted { attempts, last })
    }
}
