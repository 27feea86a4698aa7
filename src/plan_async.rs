//! The async shell around the sans-IO core (B5, B6): plan and apply with an
//! [`AsyncContactStore`] / [`AsyncApplyPlan`], reading through the store's
//! [`AsyncContactStore::fetch`] and deciding with the batch pair
//! [`Engine::needs_batch`] / [`Engine::decide_batch`].

use crate::engine::Engine;
use crate::error::PlanError;
use crate::event::Event;
use crate::plan::Plan;
use crate::retry::{Retry, RetryError};
use crate::store::asynchronous::{AsyncApplyPlan, AsyncContactStore};

impl Engine {
    /// Looks up what `event` needs through an async store and decides it:
    /// [`Engine::plan`] for async hosts.
    ///
    /// # Errors
    /// [`PlanError::Invalid`] for a bad event, [`PlanError::Store`] when the
    /// store fails.
    pub async fn plan_async<S: AsyncContactStore + ?Sized>(
        &self,
        store: &S,
        event: &Event,
    ) -> Result<Plan, PlanError<S::Error>> {
        self.plan_batch_async(store, std::slice::from_ref(event))
            .await
    }

    /// [`Engine::plan_batch`] for async hosts: the batch's needs fetched
    /// through the store, then decided as one plan (B5).
    ///
    /// # Errors
    /// As [`Engine::plan_async`].
    pub async fn plan_batch_async<S: AsyncContactStore + ?Sized>(
        &self,
        store: &S,
        events: &[Event],
    ) -> Result<Plan, PlanError<S::Error>> {
        self.check_store_settings(store.normalization(), || store.blocking())?;
        let needs = self.needs_batch(events)?;
        let candidates = store.fetch(&needs).await.map_err(PlanError::Store)?;
        Ok(self.decide_batch(events, &candidates)?)
    }

    /// [`Engine::plan_and_apply`] for async hosts: plans, applies, and on a
    /// conflict plans again, at most `max_attempts` times in all.
    ///
    /// # Errors
    /// [`RetryError::Plan`] or [`RetryError::Apply`] as they arise,
    /// [`RetryError::Exhausted`] when every attempt met a conflict.
    pub async fn plan_and_apply_async<S>(
        &self,
        store: &S,
        event: &Event,
        max_attempts: u32,
    ) -> Result<Plan, RetryError<<S as AsyncContactStore>::Error, <S as AsyncApplyPlan>::Error>>
    where
        S: AsyncContactStore + AsyncApplyPlan + ?Sized,
    {
        let mut retry = Retry::new(max_attempts);
        while let Some(attempt) = retry.next_attempt() {
            let plan = self
                .plan_async(store, event)
                .await
                .map_err(RetryError::Plan)?;
            let applied = AsyncApplyPlan::apply(store, &plan).await;
            if let Some(plan) = retry.settle(attempt, plan, applied)? {
                return Ok(plan);
            }
        }
        Err(retry.exhausted())
    }
}
