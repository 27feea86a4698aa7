//! The engine: from an event and the candidate records to a [`Plan`].
//!
//! Deciding is pure (no clock, no randomness, no I/O): the same policy,
//! event and candidates give the same plan, byte for byte. Reads go through
//! a source (the host's [`Candidates`], or a [`ContactStore`]), and every
//! decision in one plan sees what earlier decisions of the same plan created
//! or changed (an overlay, B5).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use uuid::Uuid;

use crate::candidates::{Candidates, Needs};
use crate::email::{EmailKey, Normalization};
use crate::error::{Error, PlanError, PolicyError};
use crate::event::{
    CampaignId, Channel, Edit, EditSource, Event, RecordChange, Registration, Relink, Role,
    Subject, Submitter,
};
use crate::fields::{FieldClass, FieldName, Fields};
use crate::plan::{
    ChangeKind, Decision, Effect, Fact, FieldChange, InputProblem, NoRecordReason, Outcome, Plan,
    Reason, RuleId, Rules, Warning,
};
use crate::policy::{
    Ambiguity, Citations, ClassRules, EmailChange, FieldIndex, FieldMerge, NameGuard, Policy,
    RoleRule, Scope,
};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::rules::{
    self, merge, Chosen, During, EmailChangeAction, EmailChangeCase, EmailChangeDecision, Entered,
    MatchAction, MergeOn, MergeRules,
};
use crate::store::ContactStore;
use crate::telemetry;
use overlay::{Batch, Overlay, Seen};
use smallvec::SmallVec;
use source::{Source, StoreSource};

use RuleId::*;

mod decider;
mod edit;
mod email_change;
mod explain;
mod linkage;
mod overlay;
mod record_change;
mod registration;
mod relink;
pub(crate) mod source;
mod validate;

use explain::Trace;

/// Namespace of derived record ids (B7), mixed into the hash.
const RECORD_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_0b7e_5a43_4f0e_9d1e_83c2_57a4_b1d9);

/// The id a subject's new record gets (B7): the same event always derives
/// the same id, so a redelivered event yields the same plan.
///
/// A UUID version 8 (RFC 9562 "custom") whose bits are XXH3-128 over the
/// namespace, tenant, event, subject and role. The event is part of it
/// because one subject can create more than one record over time (a new
/// record per email change, A23). Not UUIDv5: SHA-1 cost 9,000 instructions
/// per id, 6% of a million-subject batch, and buys nothing here.
pub fn derive_record_id(
    tenant: TenantId,
    event: EventId,
    subject: SubjectId,
    role: Role,
) -> RecordId {
    let mut name = [0u8; 65];
    // Constant ranges of a fixed-size array: these cannot fail.
    #[allow(clippy::indexing_slicing)]
    {
        name[..16].copy_from_slice(RECORD_ID_NAMESPACE.as_bytes());
        name[16..32].copy_from_slice(tenant.0.as_bytes());
        name[32..48].copy_from_slice(event.0.as_bytes());
        name[48..64].copy_from_slice(subject.0.as_bytes());
        name[64] = match role {
            Role::Booker => 1,
            Role::Attendee => 2,
        };
    }
    let h = xxhash_rust::xxh3::xxh3_128(&name);
    RecordId(uuid::Builder::from_custom_bytes(h.to_le_bytes()).into_uuid())
}

/// One event's part of a batch, as [`Engine::dry_run`] hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    /// The event.
    pub event: EventId,
    /// One outcome per subject of the event, in subject order.
    pub outcomes: &'a [Outcome],
    /// The effects the event would have, in the order to apply them.
    pub effects: &'a [Effect],
    /// Warnings, in the order they arose.
    pub warnings: &'a [Warning],
}

/// One event's part of a batch, owned: what the parallel dry run's
/// workers hand to the thread that keeps event order (moved, not copied).
pub(crate) struct Handed {
    pub(crate) event: EventId,
    pub(crate) outcomes: Vec<Outcome>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) warnings: Vec<Warning>,
}

impl Handed {
    /// The part, borrowed, as a sink sees it.
    pub(crate) fn decided(&self) -> Decided<'_> {
        Decided {
            event: self.event,
            outcomes: &self.outcomes,
            effects: &self.effects,
            warnings: &self.warnings,
        }
    }
}

/// Where a dry run hands each event's part: a sink that looks at it (the
/// buffers are then reused), or one that takes it.
pub(crate) enum Sink<'s> {
    /// Looks at each part ([`Engine::dry_run`]).
    Look(&'s mut dyn FnMut(&Decided<'_>)),
    /// Takes each part (the parallel dry run's workers).
    Take(&'s mut dyn FnMut(Handed)),
}

/// How an event reached a subject: decides which merge rules apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Situation {
    /// A new registration (booking, manual registration, import).
    Registration,
    /// An edit, with its source and the effective sync choice.
    Edit { source: EditSource, sync: bool },
}

/// Per-event context.
#[derive(Clone, Copy)]
struct Ctx<'e> {
    /// Never overwrite the linked record's email ([`RetainedEmail::Keep`]).
    protect_email: bool,
    event: EventId,
    channel: Channel,
    campaign: Option<&'e CampaignId>,
    buyer: Option<&'e Fields>,
    situation: Situation,
    /// The event's own email-change behaviour (D22), if it sets one.
    email_change: Option<EmailChange>,
    /// Who submitted the data (B14), if the event says.
    submitter: Option<Submitter>,
}

impl Ctx<'_> {
    /// The context of an event that carries no settings of its own (a
    /// relink, a record change).
    fn plain(event: EventId) -> Self {
        Ctx {
            protect_email: false,
            event,
            channel: Channel::Online,
            campaign: None,
            buyer: None,
            situation: Situation::Registration,
            email_change: None,
            submitter: None,
        }
    }
}

struct Decider<'p, S> {
    policy: &'p Policy,
    fields: &'p FieldIndex,
    ov: Overlay<S>,
    effects: Vec<Effect>,
    outcomes: Vec<Outcome>,
    warnings: Vec<Warning>,
    events: Vec<EventId>,
    /// The record-linkage score the next outcome carries (B19).
    score: Option<Box<crate::linkage::LinkScore>>,
    /// Emptied reason lists of outcomes handed to a dry run's sink, for
    /// the next traces (a dry run allocates no list per subject).
    spare: Vec<Vec<crate::plan::Reason>>,
}

/// Decides, deterministically and explainably, what events do to records.
///
/// ```
/// use contact_sync::*;
/// let tenant = TenantId::from_u128(1);
/// let store = InMemoryStore::new();
/// store.insert(Record::new(RecordId::from_u128(10), tenant, RecordType::Contact,
///     Fields::from_pairs([("email", "ann@example.org"), ("first_name", "Ann")]))).unwrap();
/// let engine = Engine::new(Policy::doo()).unwrap();
/// let event = Event::Registered(
///     Registration::new(EventId::from_u128(1), tenant, vec![Subject::booker(
///         SubjectId::from_u128(5),
///         Fields::from_pairs([("email", "ANN@example.org"), ("phone", "+49 1")]),
///     )])
///     .channel(Channel::Manual),
/// );
/// let plan = engine.plan(&store, &event).unwrap();
/// let o = plan.outcome(SubjectId::from_u128(5)).unwrap();
/// assert_eq!(o.decision, Decision::Linked);
/// assert_eq!(o.record, Some(RecordId::from_u128(10)));
/// assert!(o.rules.contains(&RuleId::D2));
/// store.apply(&plan).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
    /// The policy's field map, hashed.
    fields: FieldIndex,
}

impl Engine {
    /// An engine for a validated policy.
    ///
    /// # Errors
    /// [`PolicyError`] for a policy that cannot work ([`Policy::validate`]).
    pub fn new(policy: Policy) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Engine {
            fields: FieldIndex::new(&policy.fields),
            policy,
        })
    }

    /// Does nothing: outcomes always carry their reasons, as data, and no
    /// sentence is formatted while deciding ([`Outcome::explanation`]
    /// renders them on demand), so there is nothing left to turn off (B2).
    /// Kept for one release.
    #[deprecated(
        note = "a no-op: reasons are data and sentences are rendered on demand (Outcome::explanation)"
    )]
    #[must_use]
    pub fn with_explanations(self, _on: bool) -> Self {
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What `event` needs looked up before [`Engine::decide`].
    ///
    /// # Errors
    /// [`Error`] for an event beyond the policy's [`crate::Limits`] or with a
    /// field name it refuses.
    pub fn needs(&self, event: &Event) -> Result<Needs, Error> {
        let bad = self.survivable(event)?;
        let mut n = Needs {
            tenant: event.tenant(),
            ..Needs::default()
        };
        n.events.insert(event.id());
        let norm = &self.policy.normalization;
        let add_subject = |n: &mut Needs, s: &Subject, f: &Fields| -> Result<(), Error> {
            // B20: a subject left out needs nothing.
            if bad.iter().any(|(x, _)| *x == s.id) {
                return Ok(());
            }
            if let Some(k) = parse_email(s.id, f, norm)? {
                n.email_keys.insert(k);
                // B19: an email finding no record falls back to linkage.
                if let Some(l) = &self.policy.linkage {
                    n.block_keys.extend(l.blocking.keys(f, norm));
                }
            }
            n.records.extend(s.link);
            n.records.extend(s.prefill);
            let t = f.text(FieldName::TICKET_ID).trim();
            if !t.is_empty() {
                n.tickets.insert(t.to_owned());
            }
            Ok(())
        };
        match event {
            Event::Registered(r) => {
                let buyer = r.subjects.iter().find(|s| s.role == Role::Booker);
                for s in &r.subjects {
                    let f = effective_fields(r.buyer_data_only, s, buyer.map(|b| &b.fields));
                    add_subject(&mut n, s, &f)?;
                }
            }
            Event::Edited(e) => {
                add_subject(&mut n, &e.subject, &e.subject.fields)?;
                let f = edit_fields(e);
                add_subject(&mut n, &e.subject, &f)?;
            }
            Event::Relinked(r) => {
                n.records.insert(r.to);
                n.records.extend(r.subject.link);
            }
            Event::RecordChanged(c) => {
                n.records.insert(c.record);
            }
        }
        Ok(n)
    }

    /// Decides `event` on candidates the host fetched (pure, sans-IO).
    ///
    /// # Errors
    /// [`Error::MixedTenants`] when `candidates` are another tenant's;
    /// otherwise an [`Error`] for an event the engine refuses (beyond the
    /// limits, an invalid email, a named record not among the candidates).
    pub fn decide(&self, event: &Event, candidates: &Candidates) -> Result<Plan, Error> {
        if candidates.tenant != event.tenant() {
            return Err(Error::MixedTenants);
        }
        self.decide_events(std::slice::from_ref(event), candidates)
    }

    /// Decides `events` on candidates (the sans-IO side of single events
    /// and batches).
    pub(crate) fn decide_events(
        &self,
        events: &[Event],
        candidates: &Candidates,
    ) -> Result<Plan, Error> {
        self.run(candidates, events).map_err(|e| match e {
            PlanError::Invalid(e) => e,
            PlanError::Store(never) => match never {},
        })
    }

    /// Looks up what `event` needs in `store` and decides it.
    ///
    /// # Errors
    /// [`PlanError::Invalid`] for a bad event (as [`Engine::decide`]),
    /// [`PlanError::Store`] when the store fails.
    pub fn plan<S: ContactStore + ?Sized>(
        &self,
        store: &S,
        event: &Event,
    ) -> Result<Plan, PlanError<S::Error>> {
        self.check_store(store)?;
        self.run(StoreSource(store), std::slice::from_ref(event))
    }

    pub(crate) fn run<S: Source, B: Batch + ?Sized>(
        &self,
        src: S,
        events: &B,
    ) -> Result<Plan, PlanError<S::Error>> {
        self.run_with(src, events, None)
    }

    /// Decides `events`; with a sink, hands each event's part over and
    /// keeps nothing (the returned plan is then empty).
    pub(crate) fn run_with<S: Source, B: Batch + ?Sized>(
        &self,
        src: S,
        events: &B,
        mut sink: Option<Sink<'_>>,
    ) -> Result<Plan, PlanError<S::Error>> {
        let all = || (0..events.len()).filter_map(|at| events.at(at));
        let tenant = match events.at(0) {
            Some(e) => e.tenant(),
            None => TenantId::from_u128(0),
        };
        if all().any(|e| e.tenant() != tenant) {
            return Err(Error::MixedTenants.into());
        }
        let _span = telemetry::plan_span(tenant, events.len(), sink.is_some());
        // A dry run (a sink) builds no preconditions: the overlay keeps only
        // what the batch changes, and digests are computed only when needed.
        let dry = sink.is_some();
        let mut d = Decider {
            policy: &self.policy,
            fields: &self.fields,
            ov: Overlay::new(
                src,
                tenant,
                self.policy.normalization,
                self.policy
                    .linkage
                    .as_ref()
                    .map(|l| l.blocking.clone())
                    .unwrap_or_default(),
                !dry,
            ),
            effects: Vec::new(),
            outcomes: Vec::new(),
            warnings: Vec::new(),
            events: Vec::with_capacity(events.len()),
            score: None,
            spare: Vec::new(),
        };
        d.ov.reserve_events(events);
        let mut scratch = Vec::with_capacity(256);
        let mut effect_ends: Vec<u32> = Vec::new();
        let mut submitters = Vec::new();
        for (at, e) in all().enumerate() {
            let bad = self.survivable(e)?;
            d.events.push(e.id());
            // B7: a redelivered event is a no-op; a reused id with another
            // payload is an error.
            // A plan states each event's digest in its preconditions; a dry
            // run needs one only for an event that was seen before.
            let digest = (!dry).then(|| e.digest_with(&mut scratch));
            let before = match d.ov.applied_or_decide(events, at, digest)? {
                Seen::New => None,
                Seen::Applied(x) | Seen::Earlier(_, Some(x)) => Some(x),
                Seen::Earlier(p, None) => events.at(p).map(|x| x.digest_with(&mut scratch)),
            };
            if let Some(before) = before {
                let mine = digest.unwrap_or_else(|| e.digest_with(&mut scratch));
                if before != mine {
                    return Err(Error::EventPayloadChanged(e.id()).into());
                }
                d.already_applied(e);
            } else if bad.is_empty() {
                match e {
                    Event::Registered(r) => d.registration(r)?,
                    Event::Edited(x) => d.edit(x)?,
                    Event::Relinked(x) => d.relink(x)?,
                    Event::RecordChanged(x) => d.record_changed(x),
                }
            } else {
                d.without_invalid(e, bad)?;
            }
            if let Some(sink) = sink.as_mut() {
                d.hand_over(e.id(), sink);
            } else {
                // B17: which event made which effects, and who submitted it.
                effect_ends.push(u32::try_from(d.effects.len()).unwrap_or(u32::MAX));
                let submitter = match e {
                    Event::Registered(r) => r.submitter,
                    Event::Edited(x) => x.submitter,
                    Event::Relinked(_) | Event::RecordChanged(_) => None,
                };
                if let (Some(s), Ok(at)) = (submitter, u32::try_from(at)) {
                    submitters.push((at, s));
                }
            }
            d.ov.end_event();
        }
        if dry {
            return Ok(Plan {
                tenant,
                events: d.events,
                effects: Vec::new(),
                outcomes: Vec::new(),
                warnings: Vec::new(),
                preconditions: Vec::new(),
                effect_ends: Vec::new(),
                submitters: Vec::new(),
            });
        }
        let plan = Plan {
            tenant,
            events: d.events,
            effects: d.effects,
            outcomes: d.outcomes,
            warnings: d.warnings,
            preconditions: d.ov.into_preconditions(events),
            effect_ends,
            submitters,
        };
        telemetry::planned(&plan);
        Ok(plan)
    }
}

/// True when `v` holds a control character other than tab and line breaks
/// (C0, DEL, C1: what `char::is_control` says), checked on the bytes: C1
/// controls are the only ones outside ASCII, encoded `C2 80`–`C2 9F`.
fn has_control(v: &str) -> bool {
    let b = v.as_bytes();
    // A pass without early exit, which the compiler vectorizes: almost no
    // value holds a byte that could start a control character.
    let suspect = b.iter().fold(false, |acc, &c| {
        acc | (c < 0x20) | (c == 0x7f) | (c == 0xC2)
    });
    if !suspect {
        return false;
    }
    b.iter().enumerate().any(|(i, &c)| match c {
        0..=8 | 11 | 12 | 14..=0x1f | 0x7f => true,
        0xC2 => matches!(b.get(i + 1), Some(0x80..=0x9f)),
        _ => false,
    })
}

/// The email key of a subject's fields (B1), validated; the engine never
/// needs the spelling, only the key.
fn parse_email(
    subject: SubjectId,
    f: &Fields,
    n: &Normalization,
) -> Result<Option<EmailKey>, Error> {
    EmailKey::parse(f.text(FieldName::EMAIL), n)
        .map_err(|source| Error::InvalidEmail { subject, source })
}

/// A12: with buyer data only, a holder carries the buyer's data (its own
/// fields, such as its ticket id, laid over it).
fn effective_fields<'a>(
    buyer_data_only: bool,
    s: &'a Subject,
    buyer: Option<&Fields>,
) -> Cow<'a, Fields> {
    match (buyer_data_only, s.role, buyer) {
        (true, Role::Attendee, Some(b)) => {
            let mut f = b.clone();
            for (n, v) in s.fields.iter() {
                if !v.is_blank() {
                    f.set(n.clone(), v.clone());
                }
            }
            Cow::Owned(f)
        }
        _ => Cow::Borrowed(&s.fields),
    }
}

fn edit_fields(e: &Edit) -> Fields {
    let merged = e.merged_fields();
    match (e.buyer_data_only, e.subject.role, &e.buyer) {
        (true, Role::Attendee, Some(b)) => {
            let mut f = b.clone();
            for (n, v) in merged.iter() {
                if !v.is_blank() && f.is_empty_at(n.as_str()) {
                    f.set(n.clone(), v.clone());
                }
            }
            f
        }
        _ => merged,
    }
}

/// Names whose value differs between `old` and `new` (absent vs blank is no change).
fn changed_names(old: &Fields, new: &Fields) -> BTreeSet<FieldName> {
    new.iter()
        .filter(|(n, v)| match old.get(n.as_str()) {
            Some(o) => o != *v,
            None => !v.is_blank(),
        })
        .map(|(n, _)| n.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn has_control_agrees_with_char_is_control() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            let expected = c.is_control() && !matches!(c, '\t' | '\n' | '\r');
            assert_eq!(super::has_control(&s), expected, "U+{:04X}", c as u32);
        }
    }
}
