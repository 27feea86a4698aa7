//! Spans and events for planning, applying and retrying (feature
//! `tracing`): counts, rule ids, outcomes and conflict kinds, never emails
//! or field values. Durations are the spans' (the subscriber measures
//! them). Without the feature every function here is empty.
//!
//! | target | what |
//! |---|---|
//! | span `contact_sync::plan` | one `plan`, `plan_batch`, `decide` or `dry_run`: `tenant`, `events`, `dry` |
//! | event `contact_sync::plan` | the plan: `subjects`, `effects`, `created`, `linked`, `warnings`, `preconditions`, `rules` (`D2=3 D4=1`) |
//! | span `contact_sync::apply` | one apply by a bundled synchronous store: `store`, `effects`, `preconditions` |
//! | event `contact_sync::apply` | its result: `store`, `result` (`applied`, `conflict`, `invalid_plan`, `version_overflow`, `store_error`), `conflict` (the kind) |
//! | event `contact_sync::retry` | a conflict that makes `plan_and_apply` plan again: `attempt`, `conflict`; a transient store error tried again after a pause: `attempt` |
//! | event `contact_sync::import` | an import's chunk applied: `done`, `total` |

use crate::error::{ApplyError, Conflict};
use crate::plan::Plan;
use crate::record::TenantId;

/// What a span returns: dropping it closes the span.
#[cfg(feature = "tracing")]
pub(crate) type Guard = tracing::span::EnteredSpan;
/// What a span returns: nothing to close without the feature.
#[cfg(not(feature = "tracing"))]
pub(crate) struct Guard;

/// The span of one planning call.
pub(crate) fn plan_span(tenant: TenantId, events: usize, dry: bool) -> Guard {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!("contact_sync::plan", tenant = %tenant, events, dry).entered()
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (tenant, events, dry);
        Guard
    }
}

/// The counts of a decided plan.
pub(crate) fn planned(plan: &Plan) {
    #[cfg(feature = "tracing")]
    {
        use std::collections::BTreeMap;
        use std::fmt::Write as _;
        // Counting costs a pass over the outcomes: only for a listener.
        if !tracing::enabled!(target: "contact_sync::plan", tracing::Level::INFO) {
            return;
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in plan.outcomes.iter().flat_map(|o| o.rules.iter()) {
            *counts.entry(r.as_str()).or_default() += 1;
        }
        let mut rules = String::new();
        for (r, n) in counts {
            if !rules.is_empty() {
                rules.push(' ');
            }
            let _ = write!(rules, "{r}={n}");
        }
        let linked = plan.outcomes.iter().filter(|o| o.record.is_some()).count();
        tracing::info!(
            target: "contact_sync::plan",
            subjects = plan.outcomes.len(),
            effects = plan.effects.len(),
            created = plan.created().count(),
            linked,
            warnings = plan.warnings.len(),
            preconditions = plan.preconditions.len(),
            rules = %rules,
            "planned"
        );
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = plan;
    }
}

/// The span of one apply by a bundled synchronous store.
fn apply_span(store: &'static str, plan: &Plan) -> Guard {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!(
            "contact_sync::apply",
            store,
            effects = plan.effects.len(),
            preconditions = plan.preconditions.len()
        )
        .entered()
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (store, plan);
        Guard
    }
}

/// Runs `apply` (a bundled synchronous store's apply of `plan`) in its
/// span, and reports the result.
pub(crate) fn traced<E>(
    store: &'static str,
    plan: &Plan,
    apply: impl FnOnce() -> Result<(), ApplyError<E>>,
) -> Result<(), ApplyError<E>> {
    let _span = apply_span(store, plan);
    let result = apply();
    applied(store, &result);
    result
}

/// The kind of a conflict, as the events name it.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn conflict_kind(c: &Conflict) -> &'static str {
    match c {
        Conflict::EmailKeyChanged => "email_key_changed",
        Conflict::VersionChanged { .. } => "version_changed",
        Conflict::RecordExists(_) => "record_exists",
        Conflict::TicketChanged => "ticket_changed",
        Conflict::BlockChanged => "block_changed",
        Conflict::EventApplied(_) => "event_applied",
        Conflict::EventPayloadChanged(_) => "event_payload_changed",
        Conflict::FieldsChanged(_) => "fields_changed",
        Conflict::LinksChanged(_) => "links_changed",
        Conflict::SubjectLinkChanged(_) => "subject_link_changed",
        Conflict::MembershipsChanged(_) => "memberships_changed",
        Conflict::Serialization => "serialization",
    }
}

/// The result of an apply.
pub(crate) fn applied<E>(store: &'static str, result: &Result<(), ApplyError<E>>) {
    #[cfg(feature = "tracing")]
    {
        let (outcome, conflict) = match result {
            Ok(()) => ("applied", ""),
            Err(ApplyError::Conflict(c)) => ("conflict", conflict_kind(c)),
            Err(ApplyError::InvalidPlan(_)) => ("invalid_plan", ""),
            Err(ApplyError::VersionOverflow(_)) => ("version_overflow", ""),
            Err(ApplyError::Store(_)) => ("store_error", ""),
        };
        tracing::info!(target: "contact_sync::apply", store, result = outcome, conflict, "applied");
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (store, result);
    }
}

/// A conflict that makes a retrying call plan again.
pub(crate) fn retry(attempt: u32, conflict: &Conflict) {
    #[cfg(feature = "tracing")]
    {
        tracing::info!(
            target: "contact_sync::retry",
            attempt,
            conflict = conflict_kind(conflict),
            "conflict: planning again"
        );
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (attempt, conflict);
    }
}

/// A transient store error: trying again after a pause.
pub(crate) fn retry_transient(attempt: u32) {
    #[cfg(feature = "tracing")]
    {
        tracing::info!(
            target: "contact_sync::retry",
            attempt,
            "transient store error: trying again after a pause"
        );
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = attempt;
    }
}

/// An import's progress after a chunk.
pub(crate) fn import_progress(done: usize, total: usize) {
    #[cfg(feature = "tracing")]
    {
        tracing::info!(target: "contact_sync::import", done, total, "import chunk applied");
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (done, total);
    }
}
