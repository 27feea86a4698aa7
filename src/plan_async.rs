//! The async shell around the sans-IO core (B5, B6): plan and apply with an
//! [`AsyncContactStore`] / [`AsyncApplyPlan`], reading through the store's
//! [`AsyncContactStore::fetch`] and deciding with the batch pair
//! [`Engine::needs_batch`] / [`Engine::decide_batch`].

use crate::attempts::{
    ImportError, ImportOptions, ImportReport, ImportRun, Next, Retry, RetryError, RetryPolicy,
};
use crate::engine::Engine;
use crate::error::PlanError;
use crate::event::Event;
use crate::plan::Plan;
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

    /// [`Engine::plan_and_apply`] for async hosts: plans, applies, on a
    /// conflict plans again, and after a transient store error waits the
    /// policy's pause ([`AsyncContactStore::pause`]) and tries again, at
    /// most `retry.max_attempts()` times in all.
    ///
    /// # Errors
    /// As [`Engine::plan_and_apply`]: [`RetryError::Plan`] or
    /// [`RetryError::Apply`], [`RetryError::OutcomeUnknown`],
    /// [`RetryError::Exhausted`].
    pub async fn plan_and_apply_async<S>(
        &self,
        store: &S,
        event: &Event,
        retry: impl Into<RetryPolicy>,
    ) -> Result<Plan, RetryError<<S as AsyncContactStore>::Error, <S as AsyncApplyPlan>::Error>>
    where
        S: AsyncContactStore + AsyncApplyPlan + ?Sized,
    {
        self.apply_chunk(store, std::slice::from_ref(event), retry.into())
            .await
    }
}

impl Engine {
    /// Imports `events` (a backfill, a migration): in chunks of
    /// [`ImportOptions::chunk`] events, each fetched in one bulk read,
    /// decided as one plan (B5) and applied in one transaction, planned
    /// again on a conflict and tried again after a transient error. A
    /// store's apply may treat a large plan as an import (the PostgreSQL
    /// store takes one lock on the tenant instead of one per key).
    /// Resumable: events applied before (by an import that stopped, or
    /// any other way) plan nothing (B7).
    ///
    /// # Errors
    /// [`ImportError`], saying how far the import got.
    pub async fn import_async<S>(
        &self,
        store: &S,
        events: &[Event],
        options: ImportOptions,
    ) -> Result<
        ImportReport,
        ImportError<<S as AsyncContactStore>::Error, <S as AsyncApplyPlan>::Error>,
    >
    where
        S: AsyncContactStore + AsyncApplyPlan + ?Sized,
    {
        let mut run = ImportRun::new(events.len(), &options);
        for chunk in events.chunks(options.chunk_len()) {
            match self.apply_chunk(store, chunk, options.retry_policy()).await {
                Ok(plan) => run.applied(chunk.len(), &plan),
                Err(source) => return Err(run.failed(source)),
            }
        }
        Ok(run.report)
    }

    /// Plans `events` as one batch and applies it, with the retries of
    /// [`Engine::plan_and_apply_async`] (one event) and of an import's
    /// chunks.
    async fn apply_chunk<S>(
        &self,
        store: &S,
        events: &[Event],
        retry: RetryPolicy,
    ) -> Result<Plan, RetryError<<S as AsyncContactStore>::Error, <S as AsyncApplyPlan>::Error>>
    where
        S: AsyncContactStore + AsyncApplyPlan + ?Sized,
    {
        let mut retry = Retry::new(retry);
        while let Some(attempt) = retry.next_attempt() {
            let next = match self.plan_batch_async(store, events).await {
                Err(e) => retry.plan_failed(e, |e| AsyncContactStore::classify(store, e))?,
                Ok(plan) => {
                    let applied = AsyncApplyPlan::apply(store, &plan).await;
                    retry.settle(attempt, plan, applied, |e| {
                        AsyncApplyPlan::classify(store, e)
                    })?
                }
            };
            match next {
                Next::Applied(plan) => return Ok(plan),
                Next::Again(pause) => {
                    if !pause.is_zero() {
                        store.pause(pause).await;
                    }
                }
            }
        }
        Err(retry.exhausted())
    }
}
