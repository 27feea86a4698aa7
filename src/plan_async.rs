//! The async shell around the sans-IO core (B5, B6): plan and apply with an
//! [`AsyncContactStore`] / [`AsyncApplyPlan`], and the batch pair
//! [`Engine::needs_batch`] / [`Engine::decide_batch`] for hosts that fetch a
//! whole batch's candidates in one bulk query.

use crate::candidates::{Candidates, Needs};
use crate::engine::Engine;
use crate::error::{ApplyError, Conflict, Error, PlanError};
use crate::event::Event;
use crate::plan::Plan;
use crate::retry::RetryError;
use crate::store::asynchronous::{AsyncApplyPlan, AsyncContactStore};

impl Engine {
    /// What a whole batch needs looked up: the union of each event's
    /// [`Engine::needs`]. All events must be of one tenant.
    ///
    /// # Errors
    /// [`Error::MixedTenants`], or an event's own error (an invalid email,
    /// a limit).
    pub fn needs_batch(&self, events: &[Event]) -> Result<Needs, Error> {
        let mut all = Needs {
            tenant: events.first().map(Event::tenant).unwrap_or_default(),
            ..Needs::default()
        };
        for e in events {
            if e.tenant() != all.tenant {
                return Err(Error::MixedTenants);
            }
            let n = self.needs(e)?;
            all.email_keys.extend(n.email_keys);
            all.records.extend(n.records);
            all.tickets.extend(n.tickets);
            all.events.extend(n.events);
            all.block_keys.extend(n.block_keys);
        }
        Ok(all)
    }

    /// Decides a batch on candidates the host fetched for
    /// [`Engine::needs_batch`] (pure, sans-IO): the same plan as
    /// [`Engine::plan_batch`] on a store holding those records, later events
    /// seeing what earlier ones create (B5).
    ///
    /// # Errors
    /// [`Error::MissingCandidates`] when the candidates lack a lookup, or an
    /// event's own error.
    pub fn decide_batch(&self, events: &[Event], candidates: &Candidates) -> Result<Plan, Error> {
        match events.first() {
            Some(e) if e.tenant() != candidates.tenant => return Err(Error::MixedTenants),
            _ => {}
        }
        self.decide_events(events, candidates)
    }

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
        if store.normalization() != self.policy().normalization {
            return Err(Error::NormalizationMismatch.into());
        }
        if let Some(l) = &self.policy().linkage {
            if store.blocking() != l.blocking {
                return Err(Error::BlockingMismatch.into());
            }
        }
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
        let attempts = max_attempts.max(1);
        let mut last = Conflict::EmailKeyChanged;
        for attempt in 0..attempts {
            let plan = self
                .plan_async(store, event)
                .await
                .map_err(RetryError::Plan)?;
            match AsyncApplyPlan::apply(store, &plan).await {
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
