//! Plan, apply, and on a conflict plan again (B6), a bounded number of
//! times; on a transient store error, try again after a pause (the policy
//! and its state machine: [`crate::attempts`]).

use crate::attempts::{Next, Retry, RetryError, RetryPolicy};
use crate::engine::Engine;
use crate::event::Event;
use crate::plan::Plan;
use crate::store::{ApplyPlan, ContactStore};

impl Engine {
    /// Plans `event` on `store` and applies the plan; when the plan's
    /// preconditions no longer hold, plans again, and after a transient
    /// store error ([`ContactStore::classify`], [`ApplyPlan::classify`])
    /// sleeps the policy's pause and tries again: at most
    /// `retry.max_attempts()` times in all (at least once; a number is a
    /// [`RetryPolicy`] of that many attempts). Returns the plan that was
    /// applied.
    ///
    /// # Errors
    /// [`RetryError::Plan`] or [`RetryError::Apply`] for an error that is
    /// not transient, or the last transient one once the attempts are
    /// spent; [`RetryError::OutcomeUnknown`] when the store lost the
    /// connection while committing; [`RetryError::Exhausted`] when every
    /// attempt met a conflict.
    pub fn plan_and_apply<S>(
        &self,
        store: &S,
        event: &Event,
        retry: impl Into<RetryPolicy>,
    ) -> Result<Plan, RetryError<<S as ContactStore>::Error, <S as ApplyPlan>::Error>>
    where
        S: ContactStore + ApplyPlan + ?Sized,
    {
        self.plan_and_apply_with(store, retry, |_| event.clone())
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
        retry: impl Into<RetryPolicy>,
        mut event: F,
    ) -> Result<Plan, RetryError<<S as ContactStore>::Error, <S as ApplyPlan>::Error>>
    where
        S: ContactStore + ApplyPlan + ?Sized,
        F: FnMut(u32) -> Event,
    {
        let mut retry = Retry::new(retry.into());
        while let Some(attempt) = retry.next_attempt() {
            let planned = self.plan(store, &event(attempt));
            let next = match planned {
                Err(e) => retry.plan_failed(e, |e| ContactStore::classify(store, e))?,
                Ok(plan) => {
                    let applied = store.apply(&plan);
                    retry.settle(attempt, plan, applied, |e| ApplyPlan::classify(store, e))?
                }
            };
            match next {
                Next::Applied(plan) => return Ok(plan),
                Next::Again(pause) => {
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
            }
        }
        Err(retry.exhausted())
    }
}
