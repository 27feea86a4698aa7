//! The batch path (B5): many events decided as one plan, each seeing what
//! earlier ones create or change, from a store ([`Engine::plan_batch`]),
//! streamed to a sink without a plan ([`Engine::dry_run`]), on several
//! threads ([`Engine::dry_run_threads`]), or sans-IO over candidates
//! fetched for the whole batch ([`Engine::needs_batch`] /
//! [`Engine::decide_batch`]).

use crate::candidates::{Candidates, Needs};
use crate::engine::source::StoreSource;
use crate::engine::{Decided, Engine};
use crate::error::{Error, PlanError};
use crate::event::Event;
use crate::plan::Plan;
use crate::store::ContactStore;

mod parallel;

impl Engine {
    /// Decides `events` in order as one plan: each sees what earlier ones
    /// create or change (B5), so subjects with the same new email create
    /// exactly one record. All events must be of one tenant; the plan
    /// applies atomically as one.
    ///
    /// # Errors
    /// As [`Engine::plan`]; [`Error::MixedTenants`] when the events are of
    /// several tenants.
    pub fn plan_batch<S: ContactStore + ?Sized>(
        &self,
        store: &S,
        events: &[Event],
    ) -> Result<Plan, PlanError<S::Error>> {
        self.check_store(store)?;
        self.run(StoreSource(store), events)
    }

    /// What [`Engine::plan_batch`] would decide, handed over event by event
    /// instead of collected: `each` sees one event's outcomes, effects and
    /// warnings as soon as they are decided, and the plan's preconditions
    /// are never built. For previews of large imports (`match_csv`), where
    /// a million-subject plan would otherwise be held in memory only to be
    /// written out. Nothing here can be applied; plan with
    /// [`Engine::plan_batch`] to apply.
    ///
    /// The decisions are exactly those of `plan_batch` on the same store
    /// and events (later events see what earlier ones create or change). On
    /// an error, the parts handed over so far are void, as the plan would be.
    ///
    /// # Errors
    /// As [`Engine::plan_batch`].
    pub fn dry_run<S: ContactStore + ?Sized>(
        &self,
        store: &S,
        events: &[Event],
        mut each: impl FnMut(&Decided<'_>),
    ) -> Result<(), PlanError<S::Error>> {
        self.check_store(store)?;
        self.run_with(
            StoreSource(store),
            events,
            Some(crate::engine::Sink::Look(&mut each)),
        )
        .map(drop)
    }

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
}
