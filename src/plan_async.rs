//! The async shell around the sans-IO core (B5, B6): plan and apply with an
//! [`AsyncContactStore`] / [`AsyncApplyPlan`], reading through the store's
//! [`AsyncContactStore::fetch`] and deciding with the batch pair
//! [`Engine::needs_batch`] / [`Engine::decide_batch`].

use crate::engine::Engine;
use crate::error::PlanError;
use crate::event::Event;
use crate::plan::Plan;
use crate::retry::{Next, Retry, RetryError, RetryPolicy};
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

/// A callback an import reports its progress to.
type OnProgress = std::sync::Arc<dyn Fn(&ImportProgress) + Send + Sync>;

/// How [`Engine::import_async`] works through a large list of events.
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
/// [`Engine::import_async`] again with the same events resumes (the applied
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
        for chunk in events.chunks(options.chunk) {
            match self.apply_chunk(store, chunk, options.retry).await {
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
