//! A store with one fault injected ([`Faulty`]): the negative controls of
//! the suite, and of a host's own tests of what it does when a store
//! misbehaves.

use super::*;
use crate::candidates::{Candidates, Needs};
use crate::plan::{EventDigest, HistoryEntry};
use crate::record::CampaignMember;
use std::sync::atomic::{AtomicU64, Ordering};

/// The fault a [`Faulty`] store injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fault {
    /// No fault: the store as it is.
    #[default]
    None,
    /// A plan of more than `n` effects gets its first `n` applied (as a
    /// plan of their own, with the plan's preconditions), then the apply
    /// fails with [`ApplyError::InvalidPlan`]: all or nothing broken.
    FailAtEffect(usize),
    /// Preconditions are not checked (a plan is applied without them; its
    /// `EventNew` ones stay, so the store still records its events).
    SkipPreconditions,
    /// Applied events are forgotten: [`ContactStore::event_digest`]
    /// answers `None`, and plans are applied without their `EventNew`
    /// preconditions, so nothing is recorded. The contract allows a store
    /// that records no events (a redelivery is planned again and its
    /// derived record ids make it create nothing twice, see
    /// [`ApplyPlan`]): this fault is for a host's tests of redeliveries
    /// after its event log was lost, and passes the suite.
    ForgetEvents,
    /// Every apply fails with a conflict ([`Conflict::EmailKeyChanged`], as
    /// if another writer always got there first) and applies nothing: for
    /// a host's tests of what it does when retries run out.
    Conflict,
}

/// A store with one [`Fault`] injected, forwarding everything else
/// (every read, provided ones included) to the store it wraps.
///
/// ```
/// # #[cfg(feature = "testkit")] {
/// use contact_sync::testkit::{self, Fault, Faulty};
/// use contact_sync::InMemoryStore;
/// let broken = || Faulty::new(InMemoryStore::new(), Fault::SkipPreconditions);
/// let keeps = testkit::Keeps::everything().with_undo(false);
/// let failures = testkit::run_all(&testkit::declare(keeps, broken)).unwrap_err();
/// assert!(failures.iter().any(|f| f.check == "stale_preconditions"));
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Faulty<S> {
    store: S,
    fault: Fault,
    applies: AtomicU64,
}

impl<S> Faulty<S> {
    /// `store` with `fault` injected.
    pub fn new(store: S, fault: Fault) -> Self {
        Faulty {
            store,
            fault,
            applies: AtomicU64::new(0),
        }
    }

    /// How many applies reached the store (every call, whether it failed
    /// or not).
    pub fn applies(&self) -> u64 {
        self.applies.load(Ordering::SeqCst)
    }

    /// The store behind the fault.
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// The fault injected.
    pub fn fault(&self) -> Fault {
        self.fault
    }
}

impl<S: ContactStore> ContactStore for Faulty<S> {
    type Error = S::Error;
    fn normalization(&self) -> Normalization {
        self.store.normalization()
    }
    fn classify(&self, error: &S::Error) -> crate::error::ErrorClass {
        self.store.classify(error)
    }
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, S::Error> {
        self.store.records_by_email(t, k)
    }
    fn record_ids_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<RecordId>, S::Error> {
        self.store.record_ids_by_email(t, k)
    }
    fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, S::Error> {
        self.store.record(t, id)
    }
    fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, S::Error> {
        self.store.records_by_ticket(t, ticket)
    }
    fn event_digest(&self, t: TenantId, e: EventId) -> Result<Option<EventDigest>, S::Error> {
        if self.fault == Fault::ForgetEvents {
            return Ok(None);
        }
        self.store.event_digest(t, e)
    }
    fn blocking(&self) -> Blocking {
        self.store.blocking()
    }
    fn record_history(&self, t: TenantId, r: RecordId) -> Result<Vec<HistoryEntry>, S::Error> {
        self.store.record_history(t, r)
    }
    fn records_by_block(&self, t: TenantId, k: &BlockKey) -> Result<Vec<Record>, S::Error> {
        self.store.records_by_block(t, k)
    }
    fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, S::Error> {
        self.store.linked_subjects(t, r)
    }
    fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, S::Error> {
        self.store.campaign_memberships(t, r)
    }
    fn fetch(&self, needs: &Needs) -> Result<Candidates, S::Error> {
        let mut c = self.store.fetch(needs)?;
        if self.fault == Fault::ForgetEvents {
            c.applied.clear();
        }
        Ok(c)
    }
}

impl<S: ApplyPlan> ApplyPlan for Faulty<S> {
    type Error = S::Error;
    fn classify(&self, error: &S::Error) -> crate::error::ErrorClass {
        self.store.classify(error)
    }
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<S::Error>> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        match self.fault {
            Fault::Conflict => Err(crate::error::Conflict::EmailKeyChanged.into()),
            Fault::None => self.store.apply(plan),
            Fault::FailAtEffect(n) if plan.effects.len() > n => {
                let mut first = plan.clone();
                first.effects.truncate(n);
                self.store.apply(&first)?;
                Err(ApplyError::InvalidPlan(
                    "injected fault: the apply failed after an effect",
                ))
            }
            Fault::FailAtEffect(_) => self.store.apply(plan),
            Fault::SkipPreconditions => {
                let mut p = plan.clone();
                p.preconditions
                    .retain(|x| matches!(x, Precondition::EventNew { .. }));
                self.store.apply(&p)
            }
            Fault::ForgetEvents => {
                let mut p = plan.clone();
                p.preconditions
                    .retain(|x| !matches!(x, Precondition::EventNew { .. }));
                self.store.apply(&p)
            }
        }
    }
}
