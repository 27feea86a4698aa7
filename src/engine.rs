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
    CampaignId, Channel, Edit, EditSource, Event, RecordChange, Registration, Relink, Role, Subject,
};
use crate::fields::{FieldClass, FieldName, Fields};
use crate::overlay::{Overlay, Seen, Source, StoreSource};
use crate::plan::{
    Decision, Effect, FieldChange, NoRecordReason, Outcome, Plan, RuleId, Rules, Warning,
};
use crate::policy::{
    Citations, ClassRules, EmailChange, FieldIndex, Merge, NameGuard, Policy, RoleRule, Scope,
};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::rules::{
    self, merge, During, EmailChangeAction, EmailChangeCase, EmailChangeDecision, Entered,
    MatchAction, MergeOn, MergeRules,
};
use crate::store::ContactStore;
use smallvec::SmallVec;

use RuleId::*;

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

/// What the Salesforce article calls a decision the engine reaches by a doo
/// rule; `A` and `B` rules are their own. `None`: the article has no such
/// rule (doo's prefill, relink, sync settings and exports).
fn salesforce_counterpart(r: RuleId) -> Option<RuleId> {
    match r {
        D2 => Some(A7),
        D3 => Some(A3),
        // Several records share the key: the ambiguity rule is ours.
        D4 => Some(B13),
        D5 => Some(A11),
        D9 => Some(A14),
        D13 => Some(A9),
        D16 => Some(A13),
        D19 => Some(B4),
        D1 | D6 | D7 | D8 | D10 | D11 | D12 | D14 | D15 | D17 | D18 | D20 | D21 | D22 => None,
        other => Some(other),
    }
}

/// The rules fired for one subject and the sentences explaining them.
struct Trace {
    /// Whether sentences are written (rule ids always are).
    explain: bool,
    /// Which product's rule ids are cited.
    citations: Citations,
    rules: Rules,
    /// The sentences, space-separated, in one buffer.
    text: String,
}

impl Trace {
    fn new(explain: bool, citations: Citations) -> Self {
        Trace {
            explain,
            citations,
            rules: Rules::new(),
            text: String::new(),
        }
    }
    /// Cites `r`; under [`Citations::Salesforce`] a doo rule is cited as
    /// the Salesforce article's counterpart, or not at all when it has
    /// none (each preset speaks its own rules).
    fn cite(&mut self, r: RuleId) -> &mut Self {
        let r = match self.citations {
            Citations::Doo => Some(r),
            Citations::Salesforce => salesforce_counterpart(r),
        };
        if let Some(r) = r {
            // Capacity exceeds what any decision cites; see `Rules::CAPACITY`.
            let _ = self.rules.push(r);
        }
        self
    }
    /// Appends a formatted sentence without a temporary string.
    fn say_fmt(&mut self, args: std::fmt::Arguments<'_>) -> &mut Self {
        use std::fmt::Write as _;
        if !self.explain {
            return self;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = self.text.write_fmt(args);
        self
    }

    fn say(&mut self, s: impl AsRef<str>) -> &mut Self {
        if !self.explain {
            return self;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(s.as_ref());
        self
    }
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
}

struct Decider<'p, S> {
    policy: &'p Policy,
    fields: &'p FieldIndex,
    explain: bool,
    ov: Overlay<S>,
    effects: Vec<Effect>,
    outcomes: Vec<Outcome>,
    warnings: Vec<Warning>,
    events: Vec<EventId>,
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
/// let event = Event::Registered(Registration {
///     id: EventId::from_u128(1), tenant, channel: Channel::Online, campaign: None,
///     buyer_data_only: false, email_change: None,
///     subjects: vec![Subject::booker(SubjectId::from_u128(5),
///         Fields::from_pairs([("email", "ANN@example.org"), ("phone", "+49 1")]))],
/// });
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
    explain: bool,
    /// The policy's field map, hashed.
    fields: FieldIndex,
}

impl Engine {
    /// An engine for a validated policy.
    pub fn new(policy: Policy) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Engine {
            fields: FieldIndex::new(&policy.fields),
            policy,
            explain: true,
        })
    }

    /// Whether outcomes carry their sentence (on by default). A dry run
    /// over millions of subjects that only needs decisions and rule ids can
    /// turn sentences off: they are most of a plan's size. Rule ids, field
    /// changes and warnings are the same either way.
    pub fn with_explanations(mut self, on: bool) -> Self {
        self.explain = on;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What `event` needs looked up before [`Engine::decide`].
    pub fn needs(&self, event: &Event) -> Result<Needs, Error> {
        self.check_limits(event)?;
        let mut n = Needs {
            tenant: event.tenant(),
            ..Needs::default()
        };
        n.events.insert(event.id());
        let norm = &self.policy.normalization;
        let add_subject = |n: &mut Needs, s: &Subject, f: &Fields| -> Result<(), Error> {
            if let Some(k) = parse_email(s.id, f, norm)? {
                n.email_keys.insert(k);
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
    pub fn plan<S: ContactStore + ?Sized>(
        &self,
        store: &S,
        event: &Event,
    ) -> Result<Plan, PlanError<S::Error>> {
        self.check_store(store)?;
        self.run(StoreSource(store), std::slice::from_ref(event))
    }

    /// Decides `events` in order as one plan: each sees what earlier ones
    /// create or change (B5), so subjects with the same new email create
    /// exactly one record. All events must be of one tenant; the plan
    /// applies atomically as one.
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
    pub fn dry_run<S: ContactStore + ?Sized>(
        &self,
        store: &S,
        events: &[Event],
        mut each: impl FnMut(&Decided<'_>),
    ) -> Result<(), PlanError<S::Error>> {
        self.check_store(store)?;
        self.run_with(StoreSource(store), events, Some(&mut each))
            .map(drop)
    }

    fn check_store<S: ContactStore + ?Sized>(&self, store: &S) -> Result<(), Error> {
        if store.normalization() != self.policy.normalization {
            return Err(Error::NormalizationMismatch);
        }
        Ok(())
    }

    fn check_limits(&self, event: &Event) -> Result<(), Error> {
        let l = &self.policy.limits;
        let check = |s: SubjectId, f: &Fields| -> Result<(), Error> {
            if f.len() > l.max_fields {
                return Err(Error::TooManyFields {
                    subject: s,
                    count: f.len(),
                    limit: l.max_fields,
                });
            }
            for (n, v) in f.iter() {
                // Names first: later errors print the name.
                n.check(l.max_field_name_len)
                    .map_err(|problem| Error::InvalidFieldName {
                        subject: s,
                        problem,
                    })?;
                if v.len() > l.max_field_len {
                    return Err(Error::FieldTooLong {
                        subject: s,
                        field: n.clone(),
                        len: v.len(),
                        limit: l.max_field_len,
                    });
                }
                // Tabs and line breaks are text; other controls are not.
                if has_control(v.as_str()) {
                    return Err(Error::ControlCharacter {
                        subject: s,
                        field: n.clone(),
                    });
                }
            }
            Ok(())
        };
        match event {
            Event::Registered(r) => {
                if r.subjects.len() > l.max_subjects {
                    return Err(Error::TooManySubjects {
                        count: r.subjects.len(),
                        limit: l.max_subjects,
                    });
                }
                if r.subjects.len() > 1 {
                    let mut seen = HashSet::new();
                    for s in &r.subjects {
                        if !seen.insert(s.id) {
                            return Err(Error::DuplicateSubject(s.id));
                        }
                    }
                }
                for s in &r.subjects {
                    check(s.id, &s.fields)?;
                }
            }
            Event::Edited(e) => {
                check(e.subject.id, &e.subject.fields)?;
                check(e.subject.id, &e.new_fields)?;
                if let Some(b) = &e.buyer {
                    check(e.subject.id, b)?;
                }
            }
            Event::Relinked(r) => check(r.subject.id, &r.subject.fields)?,
            Event::RecordChanged(c) => {
                if c.subjects.len() > l.max_subjects {
                    return Err(Error::TooManySubjects {
                        count: c.subjects.len(),
                        limit: l.max_subjects,
                    });
                }
                for s in &c.subjects {
                    check(s.id, &s.fields)?;
                }
            }
        }
        Ok(())
    }

    fn run<S: Source>(&self, src: S, events: &[Event]) -> Result<Plan, PlanError<S::Error>> {
        self.run_with(src, events, None)
    }

    /// Decides `events`; with a sink, hands each event's part over and
    /// keeps nothing (the returned plan is then empty).
    fn run_with<S: Source>(
        &self,
        src: S,
        events: &[Event],
        mut sink: Option<&mut dyn FnMut(&Decided<'_>)>,
    ) -> Result<Plan, PlanError<S::Error>> {
        let tenant = match events.first() {
            Some(e) => e.tenant(),
            None => TenantId::from_u128(0),
        };
        if events.iter().any(|e| e.tenant() != tenant) {
            return Err(Error::MixedTenants.into());
        }
        // A dry run (a sink) builds no preconditions: the overlay keeps only
        // what the batch changes, and digests are computed only when needed.
        let dry = sink.is_some();
        let mut d = Decider {
            policy: &self.policy,
            fields: &self.fields,
            explain: self.explain,
            ov: Overlay::new(src, tenant, self.policy.normalization, !dry),
            effects: Vec::new(),
            outcomes: Vec::new(),
            warnings: Vec::new(),
            events: Vec::with_capacity(events.len()),
        };
        let mut scratch = Vec::with_capacity(256);
        for (at, e) in events.iter().enumerate() {
            self.check_limits(e)?;
            d.events.push(e.id());
            // B7: a redelivered event is a no-op; a reused id with another
            // payload is an error.
            // A plan states each event's digest in its preconditions; a dry
            // run needs one only for an event that was seen before.
            let digest = (!dry).then(|| e.digest_with(&mut scratch));
            let before = match d.ov.applied_or_decide(events, at, digest)? {
                Seen::New => None,
                Seen::Applied(x) | Seen::Earlier(_, Some(x)) => Some(x),
                Seen::Earlier(p, None) => events.get(p).map(|x| x.digest_with(&mut scratch)),
            };
            if let Some(before) = before {
                let mine = digest.unwrap_or_else(|| e.digest_with(&mut scratch));
                if before != mine {
                    return Err(Error::EventPayloadChanged(e.id()).into());
                }
                d.already_applied(e);
            } else {
                match e {
                    Event::Registered(r) => d.registration(r)?,
                    Event::Edited(x) => d.edit(x)?,
                    Event::Relinked(x) => d.relink(x)?,
                    Event::RecordChanged(x) => d.record_changed(x),
                }
            }
            if let Some(sink) = sink.as_mut() {
                d.hand_over(e.id(), sink);
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
            });
        }
        Ok(Plan {
            tenant,
            events: d.events,
            effects: d.effects,
            outcomes: d.outcomes,
            warnings: d.warnings,
            preconditions: d.ov.into_preconditions(events),
        })
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

/// Names joined with ", ", written only when a sentence is (a lazy
/// `Display`: without explanations nothing is allocated).
fn list<I>(names: I) -> List<I>
where
    I: Iterator + Clone,
    I::Item: AsRef<str>,
{
    List(names)
}

struct List<I>(I);

impl<I> std::fmt::Display for List<I>
where
    I: Iterator + Clone,
    I::Item: AsRef<str>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, n) in self.0.clone().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(n.as_ref())?;
        }
        Ok(())
    }
}

impl<S: Source> Decider<'_, S> {
    /// Gives the parts decided since the last hand-over to `sink` and
    /// forgets them (their buffers are reused).
    fn hand_over(&mut self, event: EventId, sink: &mut dyn FnMut(&Decided<'_>)) {
        sink(&Decided {
            event,
            outcomes: &self.outcomes,
            effects: &self.effects,
            warnings: &self.warnings,
        });
        self.outcomes.clear();
        self.effects.clear();
        self.warnings.clear();
    }

    fn cite(&self, doo: RuleId, sf: RuleId) -> RuleId {
        match self.policy.citations {
            Citations::Doo => doo,
            Citations::Salesforce => sf,
        }
    }

    fn noun(&self) -> &'static str {
        self.policy.matching.record_type.noun()
    }

    fn outcome(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        decision: Decision,
        record: Option<RecordId>,
        no_record: Option<NoRecordReason>,
        t: Trace,
    ) {
        let mut explanation = t.text;
        if explanation.is_empty() && self.explain {
            explanation.push_str("Nothing to do.");
        }
        self.outcomes.push(Outcome {
            event: ctx.event,
            subject: s.id,
            role: s.role,
            decision,
            record,
            no_record,
            rules: t.rules,
            explanation,
        });
    }

    /// B7: the event was applied before with the same payload.
    fn already_applied(&mut self, e: &Event) {
        for s in e.subjects() {
            let mut t = Trace::new(self.explain, self.policy.citations);
            t.cite(B7).say("This event was applied before with the same payload (a redelivery): nothing to do.");
            let link = self.ov.link_of(s.id, s.link);
            self.outcomes.push(Outcome {
                event: e.id(),
                subject: s.id,
                role: s.role,
                decision: Decision::NoChange,
                record: link,
                no_record: None,
                rules: t.rules,
                explanation: t.text,
            });
        }
    }

    // ----- registrations -------------------------------------------------

    fn registration(&mut self, r: &Registration) -> Result<(), PlanError<S::Error>> {
        let buyer = r
            .subjects
            .iter()
            .find(|s| s.role == Role::Booker)
            .map(|b| &b.fields);
        let ctx = Ctx {
            protect_email: false,
            event: r.id,
            channel: r.channel,
            campaign: r.campaign.as_ref(),
            buyer,
            situation: Situation::Registration,
            email_change: r.email_change,
        };
        for s in &r.subjects {
            let mut t = Trace::new(self.explain, self.policy.citations);
            let fields = effective_fields(r.buyer_data_only, s, buyer);
            if r.buyer_data_only && s.role == Role::Attendee && buyer.is_some() {
                t.cite(A12)
                    .say("Only buyer data is collected, so the holder carries the buyer's data.");
            }
            self.register_subject(&ctx, s, &fields, t)?;
        }
        Ok(())
    }

    fn register_subject(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let rule = self.policy.roles.get(s.role);
        if rule == RoleRule::NoRecord {
            t.cite(A6)
                .say("The ticket buyer gets no record: only ticket holders do.");
            self.outcome(
                ctx,
                s,
                Decision::NoRecord,
                None,
                Some(NoRecordReason::Role),
                t,
            );
            return Ok(());
        }
        let email = parse_email(s.id, fields, &self.policy.normalization)?;
        if let Some(pid) = s.prefill.or(s.link) {
            let rec = self.existing(s, pid)?;
            t.cite(D7).say_fmt(format_args!(
                "The booking was prefilled from {} {}, which is assumed first.",
                rec.record_type.noun(),
                rec.id
            ));
            let changed = email != rec.email_key(&self.policy.normalization);
            let decision =
                self.decide_email_change(ctx, During::Registration, &rec, &email, changed);
            match decision.action {
                EmailChangeAction::Unchanged => {
                    t.cite(D1).say("The entered email is that record's.");
                    return self.update_existing(ctx, s, fields, rec, Entered::All, false, t);
                }
                // D21: a record without email is completed by the entered
                // one (a personalized access code).
                EmailChangeAction::Complete => {
                    t.cite(D21).cite(D15).say_fmt(format_args!(
                        "That {} has no email: the entered one completes it, and the link stays.",
                        rec.record_type.noun()
                    ));
                    return self.update_existing(ctx, s, fields, rec, Entered::All, false, t);
                }
                _ => {}
            }
            return self.email_changed(ctx, s, fields, &rec, email, decision, t);
        }
        match (rule, email) {
            (_, None) => self.no_email(ctx, s, fields, t),
            (RoleRule::AlwaysCreate, Some(e)) => {
                match s.role {
                    Role::Attendee => t.cite(A21).say_fmt(format_args!(
                        "Every ticket holder gets a new {}, match or not.",
                        self.noun()
                    )),
                    Role::Booker => t.cite(A22).say_fmt(format_args!(
                        "The ticket buyer gets a new {} too, even if one has the same email.",
                        self.noun()
                    )),
                };
                self.create_keyed(ctx, s, fields, Some(e), t)
            }
            (_, Some(e)) => {
                if self.policy.citations == Citations::Doo {
                    t.cite(D1);
                }
                self.match_email(ctx, s, fields, e, t)
            }
        }
    }

    /// A linked or prefilled record; absent and foreign look the same (B8).
    fn existing(&mut self, s: &Subject, id: RecordId) -> Result<Record, PlanError<S::Error>> {
        self.ov.by_id(id)?.cloned().ok_or_else(|| {
            PlanError::Invalid(Error::RecordNotFound {
                subject: s.id,
                record: id,
            })
        })
    }

    /// D2–D4, A2, A3, A7, A24.
    fn match_email(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        key: EmailKey,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        // The overlay keeps the key; a record created below takes it from there.
        let (ids, at) = self.ov.by_key(key)?;
        let candidates: SmallVec<[&Record; 2]> =
            ids.iter().filter_map(|id| self.ov.get(id)).collect();
        let m = &self.policy.matching;
        let sel = rules::select(m, fields, &candidates);
        drop(candidates);
        let noun = sel.record_type.noun();
        match m.scope {
            Scope::Linear => {
                if self.policy.citations == Citations::Salesforce {
                    t.cite(A2);
                }
            }
            Scope::Cross { prefer } => {
                t.cite(A24).say_fmt(format_args!(
                    "Cross matching searches contacts and leads{}{}, preferring {}s.",
                    if m.criteria.is_empty() {
                        ""
                    } else {
                        " on email and "
                    },
                    list(m.criteria.iter().map(|c| c.as_str())),
                    prefer.noun()
                ));
                if sel.failed_criteria() > 0 {
                    t.say_fmt(format_args!(
                        "{} record(s) with this email failed the extra criteria.",
                        sel.failed_criteria()
                    ));
                }
            }
        }
        if let Some(w) = &m.weighted {
            t.cite(B10).say_fmt(format_args!(
                "Weighted criteria on {} need a score of {}; {} record(s) with this email fell short.",
                list(w.criteria.iter().map(|c| c.field.as_str())),
                w.threshold,
                sel.failed_criteria()
            ));
        }
        match rules::exact_one(&sel, m.ambiguity) {
            MatchAction::Create => {
                if sel.other_type_has_email() && m.scope == Scope::Linear {
                    t.cite(A3).say_fmt(format_args!(
                        "No {noun} has this email (only a record of the other type has, and matching is linear), so a new {noun} is created."
                    ));
                } else {
                    t.cite(self.cite(D3, A3)).say_fmt(format_args!(
                        "No {noun} has this email, so a new one is created."
                    ));
                }
                self.create_keyed(ctx, s, fields, self.ov.asked_key(at), t)
            }
            MatchAction::Link { record } => {
                let rec = self.chosen(record)?;
                let has = if m.criteria.is_empty() {
                    "has this email"
                } else {
                    "matches"
                };
                t.cite(self.cite(D2, A7)).say_fmt(format_args!(
                    "Exactly one {noun} {has}: linked to {noun} {record}."
                ));
                if self.ov.created_here(&record) {
                    t.cite(B5)
                        .say("It was created earlier in this booking or batch.");
                }
                self.update_existing(ctx, s, fields, rec, Entered::All, true, t)
            }
            MatchAction::CreateDespite { records } => {
                t.cite(D4).say_fmt(format_args!(
                    "{} {noun}s have this email; the system never guesses between several, so a new one is created.",
                    records.len()
                ));
                self.create_keyed(ctx, s, fields, self.ov.asked_key(at), t)
            }
            MatchAction::LinkFirst { record, records } => {
                let rec = self.chosen(record)?;
                t.cite(self.cite(D4, A7)).say_fmt(format_args!(
                    "{} {noun}s have this email; the policy takes the one with the smallest id, {}.",
                    records.len(),
                    rec.id
                ));
                self.warnings.push(Warning::Ambiguous {
                    subject: s.id,
                    records,
                });
                self.update_existing(ctx, s, fields, rec, Entered::All, true, t)
            }
            MatchAction::NoRecord { records } => {
                t.cite(D4).say_fmt(format_args!(
                    "{} {noun}s have this email; the policy links none and creates none.",
                    records.len()
                ));
                self.warnings.push(Warning::Ambiguous {
                    subject: s.id,
                    records,
                });
                let link = self.ov.link_of(s.id, s.link);
                self.outcome(
                    ctx,
                    s,
                    Decision::NoRecord,
                    link,
                    Some(NoRecordReason::Ambiguous),
                    t,
                );
                Ok(())
            }
        }
    }

    /// The record a selection chose (it came from the overlay).
    fn chosen(&mut self, id: RecordId) -> Result<Record, PlanError<S::Error>> {
        self.ov
            .get(&id)
            .cloned()
            .ok_or(PlanError::Invalid(Error::MissingCandidates("selection")))
    }

    /// D5, A11, A25–A28.
    fn no_email(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let ne = self.policy.no_email;
        if !ne.create {
            t.cite(self.cite(D5, A11)).say(
                "No email was given, so the subject is linked to nothing and nothing is created.",
            );
            self.outcome(
                ctx,
                s,
                Decision::NoRecord,
                None,
                Some(NoRecordReason::NoEmail),
                t,
            );
            return Ok(());
        }
        if ne.first_name_required && fields.is_empty_at(FieldName::FIRST_NAME) {
            t.cite(A27)
                .say("Neither email nor first name was given, so no record is created.");
            self.outcome(
                ctx,
                s,
                Decision::NoRecord,
                None,
                Some(NoRecordReason::NoFirstName),
                t,
            );
            return Ok(());
        }
        if let Some(rec) = self.record_by_ticket(fields)? {
            t.cite(A28).say_fmt(format_args!(
                "No email was given; {} {} already carries this ticket id and is linked.",
                rec.record_type.noun(),
                rec.id
            ));
            return self.update_existing(ctx, s, fields, rec, Entered::All, true, t);
        }
        let mut f = fields.clone();
        if ne.last_name_from_buyer && f.is_empty_at(FieldName::LAST_NAME) {
            if let Some(last) = ctx
                .buyer
                .and_then(|b| b.get(FieldName::LAST_NAME))
                .filter(|v| !v.is_blank())
            {
                f.set(FieldName::new(FieldName::LAST_NAME), last.clone());
                t.cite(A26)
                    .say("The last name was blank, so the buyer's last name is used.");
            }
        }
        t.cite(A25).say_fmt(format_args!(
            "No email was given, but records without email are enabled: a new {} is created, found again later through its ticket id.",
            self.noun()
        ));
        self.create(ctx, s, &f, t)
    }

    /// The one record carrying the subject's ticket id, if exactly one does (A28).
    fn record_by_ticket(&mut self, fields: &Fields) -> Result<Option<Record>, PlanError<S::Error>> {
        let ticket = fields.text(FieldName::TICKET_ID).trim();
        if ticket.is_empty() {
            return Ok(None);
        }
        let found = self.ov.by_ticket(ticket)?;
        Ok(match found.as_slice() {
            [one] => self.ov.get(one).cloned(),
            _ => None,
        })
    }

    /// Creates a record for the subject and links it (D3, D4, D6, A3, A4).
    fn create(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let key = EmailKey::parse(fields.text(FieldName::EMAIL), &self.policy.normalization)
            .ok()
            .flatten();
        self.create_keyed(ctx, s, fields, key, t)
    }

    /// [`Self::create`] when the caller knows the email key already.
    fn create_keyed(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        key: Option<EmailKey>,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let id = derive_record_id(self.ov.tenant, ctx.event, s.id, s.role);
        let rf = merge::new_record_fields(fields, self.fields);
        if self.policy.citations == Citations::Doo {
            t.cite(D6);
        } else {
            t.cite(A1).cite(A4);
        }
        t.cite(D12).say_fmt(format_args!(
            "Created {} {} with {} field(s) and linked to it.",
            self.noun(),
            id,
            rf.len()
        ));
        let record = Record::new(id, self.ov.tenant, self.policy.matching.record_type, rf);
        self.ov.create(record.clone(), key);
        self.effects.push(Effect::CreateRecord { record });
        self.relink_to(s, id);
        self.campaign(ctx, id, fields, &mut t);
        self.outcome(ctx, s, Decision::Created, Some(id), None, t);
        Ok(())
    }

    fn relink_to(&mut self, s: &Subject, id: RecordId) -> bool {
        use std::collections::hash_map::Entry;
        // One lookup of the subject's link for reading and writing it.
        let slot = self.ov.links.entry(s.id);
        let old = match &slot {
            Entry::Occupied(o) => *o.get(),
            Entry::Vacant(_) => s.link,
        };
        if old == Some(id) {
            return false;
        }
        if let Some(old) = old {
            self.effects.push(Effect::Unlink {
                subject: s.id,
                record: old,
            });
        }
        self.effects.push(Effect::Link {
            subject: s.id,
            record: id,
        });
        match slot {
            Entry::Occupied(mut o) => {
                o.insert(Some(id));
            }
            Entry::Vacant(v) => {
                v.insert(Some(id));
            }
        }
        true
    }

    /// A5, A30: the record joins the event's campaign, with the subject's
    /// ticket id on the membership when the policy maps it there.
    fn campaign(&mut self, ctx: &Ctx<'_>, record: RecordId, fields: &Fields, t: &mut Trace) {
        if let (true, Some(c)) = (self.policy.campaign_members, ctx.campaign) {
            let ticket = fields
                .get(FieldName::TICKET_ID)
                .filter(|v| self.policy.campaign_member_ticket && !v.is_blank())
                .cloned();
            t.cite(A5).say_fmt(format_args!("Added to campaign {c}."));
            if ticket.is_some() {
                t.cite(A30)
                    .say("The ticket id is mapped on the campaign member too.");
            }
            self.effects.push(Effect::AddCampaignMember {
                record,
                campaign: c.clone(),
                ticket,
            });
        }
    }

    /// The merge rules in force for this situation.
    fn rules(&self, ctx: &Ctx<'_>) -> (ClassRules, bool) {
        let sync = &self.policy.sync;
        match ctx.situation {
            Situation::Registration => (sync.on_match, sync.enabled),
            Situation::Edit { sync: on, .. } => (sync.on_update, on),
        }
    }

    /// Merges the subject's data into an existing record and links the
    /// subject to it (D2, D7, D9, D13–D17, A7–A10, A13–A19, B3, B4). The
    /// decision is `Linked` when the link is new, `Kept` otherwise;
    /// `says_link`: the trace already names the record as linked.
    #[allow(clippy::too_many_arguments)]
    fn update_existing(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        rec: Record,
        entered: Entered,
        says_link: bool,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let (class_rules, sync_on) = self.rules(ctx);
        let (on, is_edit, source) = match ctx.situation {
            Situation::Edit { source, .. } => (MergeOn::Update, true, Some(source)),
            Situation::Registration => (MergeOn::Match, false, None),
        };
        let mut mr = MergeRules {
            classes: class_rules,
            sync: sync_on,
            entered,
            freeze_generated: is_edit
                && self.policy.sync.freeze_generated_for_multiple_tickets
                && s.tickets > 1,
            on,
            citations: self.policy.citations,
        };
        if ctx.protect_email {
            mr.classes.email = mr.classes.email.min(Merge::FillEmpty);
        }
        let mut rules = mr.effective();
        // A10: mapped generated fields a new registration leaves unused
        // count as blank.
        let padded;
        let mut unused: Vec<&FieldName> = Vec::new();
        let fields = if self.policy.sync.absent_generated_as_blank
            && matches!(ctx.situation, Situation::Registration)
        {
            unused = self
                .policy
                .fields
                .classes
                .iter()
                .filter(|(n, c)| **c == FieldClass::Generated && fields.get(n.as_str()).is_none())
                .map(|(n, _)| n)
                .filter(|n| !rec.fields.is_empty_at(n.as_str()))
                .collect();
            if unused.is_empty() {
                fields
            } else {
                let mut f = fields.clone();
                for n in &unused {
                    f.set((*n).clone(), crate::fields::FieldValue::blank());
                }
                padded = f;
                &padded
            }
        } else {
            fields
        };
        if !unused.is_empty() && rules.generated >= Merge::Replace {
            t.cite(A10).say_fmt(format_args!(
                "Auto-generated field(s) unused in this registration are blanked: {}.",
                list(unused.iter().map(|n| n.as_str()))
            ));
        }
        // B4, D19: a clearly different person's name about to be overwritten.
        if rules.name >= Merge::Overwrite
            && self.policy.name_guard != NameGuard::Off
            && merge::names_clearly_differ(&rec.fields, fields)
        {
            let action = self.policy.name_guard;
            self.warnings.push(Warning::SharedEmail {
                subject: s.id,
                record: rec.id,
                action,
            });
            t.cite(B4).cite(D19);
            match action {
                NameGuard::Off | NameGuard::Warn => {
                    t.say("Warning: the record holds a clearly different person's name, which is overwritten (several people may share this email).");
                }
                NameGuard::KeepName => {
                    t.say("Warning: the record holds a clearly different person's name; the record's name is kept.");
                    mr.classes.name = mr.classes.name.min(Merge::FillEmpty);
                    rules = mr.effective();
                }
                NameGuard::CreateNew => {
                    t.say("Warning: the record holds a clearly different person's name, so a new record is created instead.");
                    return self.create(ctx, s, fields, t);
                }
            }
        }
        let result = rules::merge_fields(&rec.fields, fields, self.fields, &mr);
        // The overlay's copy is changed next: without this one it changes
        // in place instead of copying the fields.
        let (id, record_type) = (rec.id, rec.record_type);
        drop(rec);
        self.explain_merge(ctx, sync_on, &rules, &result, &mut t);
        let trigger = source == Some(EditSource::UpdateTrigger);
        let always = trigger && self.policy.sync.update_trigger_always_writes;
        if always {
            t.cite(A18);
            if result.changes.is_empty() {
                t.say("The update was triggered for the holder, so the record is written even though nothing changed.");
            }
        }
        if result.frozen {
            t.cite(A19)
                .say("The holder has several tickets, so auto-generated fields are not updated.");
        }
        // D9's warning is doo's retain mode speaking; an order's email
        // change replacing the record's (A14) is the documented path.
        let warn_overwrite = self.policy.citations == Citations::Doo;
        if let Some(email_change) = result
            .changes
            .iter()
            .find(|c| warn_overwrite && c.field.as_str() == FieldName::EMAIL)
        {
            let norm = &self.policy.normalization;
            let differs = match (
                &email_change.old,
                EmailKey::parse(email_change.new.as_str(), norm),
            ) {
                (Some(old), Ok(Some(new))) => {
                    EmailKey::parse(old.as_str(), norm).ok().flatten() != Some(new)
                }
                _ => false,
            };
            if differs {
                self.warnings.push(Warning::RecordEmailOverwritten {
                    subject: s.id,
                    record: id,
                });
            }
        }
        if !result.changes.is_empty() || always {
            t.cite(B3);
            self.ov.update(id, &result.changes);
            self.effects.push(Effect::UpdateRecord {
                record: id,
                changes: result.changes,
            });
        } else {
            // (An update marks the record used too.)
            self.ov.use_record(id);
        }
        let newly = self.relink_to(s, id);
        if newly && !says_link {
            t.say_fmt(format_args!("Linked to {} {}.", record_type.noun(), id));
        }
        t.cite(D12);
        self.campaign(ctx, id, fields, &mut t);
        let decision = if newly {
            Decision::Linked
        } else {
            Decision::Kept
        };
        self.outcome(ctx, s, decision, Some(id), None, t);
        Ok(())
    }

    fn explain_merge(
        &self,
        ctx: &Ctx<'_>,
        sync_on: bool,
        rules: &ClassRules,
        r: &rules::MergeResult,
        t: &mut Trace,
    ) {
        let doo = self.policy.citations == Citations::Doo;
        if let Situation::Edit { source, .. } = ctx.situation {
            match source {
                EditSource::Organizer { sync: Some(_) } => {
                    t.cite(D17).say_fmt(format_args!(
                        "The organizer chose {} this edit; missing data is added in any case.",
                        if sync_on { "to sync" } else { "not to sync" }
                    ));
                }
                EditSource::Organizer { sync: None } => {
                    t.cite(D16);
                }
                EditSource::SelfService => {
                    t.cite(self.cite(D16, A17)).say("Changed in self-service.");
                }
                EditSource::UpdateTrigger => {}
            }
        } else if doo && ctx.channel != Channel::Online {
            t.cite(D16)
                .say("Manual registrations and imports sync like bookings.");
        }
        if !sync_on {
            t.cite(D14)
                .say("Sync is off: existing values are never changed.");
        } else if doo && r.changes.iter().any(|c| c.rule == D13) {
            t.cite(D13);
        }
        if rules.name == Merge::Never
            && !r.kept.is_empty()
            && r.kept
                .iter()
                .any(|n| self.fields.class_of(n.as_str()) == Some(FieldClass::Name))
        {
            t.cite(A8)
                .say("The name of an existing record is never updated from a new registration.");
        }
        // Grouped by wording and rule, in the order the changes arose.
        let mut groups: Vec<((&str, RuleId), Vec<&str>)> = Vec::new();
        for c in &r.changes {
            let verb = if c.new.is_blank() {
                "Cleared field(s) left blank"
            } else {
                match c.rule {
                    D15 => "Filled empty field(s)",
                    D9 | A14 => "Replaced",
                    _ => "Updated",
                }
            };
            match groups.iter_mut().find(|(k, _)| *k == (verb, c.rule)) {
                Some((_, names)) => names.push(c.field.as_str()),
                None => groups.push(((verb, c.rule), vec![c.field.as_str()])),
            }
        }
        for ((verb, rule), names) in &groups {
            t.cite(*rule);
            t.say_fmt(format_args!("{verb}: {} ({rule}).", list(names.iter())));
        }
        if !r.kept.is_empty() && sync_on {
            let kept: Vec<&str> = r
                .kept
                .iter()
                .map(|n| n.as_str())
                .filter(|n| {
                    rules.name != Merge::Never || self.fields.class_of(n) != Some(FieldClass::Name)
                })
                .collect();
            if !kept.is_empty() {
                t.say_fmt(format_args!(
                    "Kept the record's value of {}.",
                    list(kept.iter())
                ));
            }
        } else if !r.kept.is_empty() {
            t.say_fmt(format_args!(
                "Differing entered data stays on the booking only: {}.",
                list(r.kept.iter().map(|n| n.as_str()))
            ));
        }
        if r.changes.is_empty() && r.kept.is_empty() && !r.frozen {
            t.say("No field needed a change.");
        }
    }

    /// The email-change decision (D8–D10, D21, D22, A14, A15, A23) for a
    /// subject linked to `rec` (or without record) whose email is now `email`.
    fn decide_email_change(
        &self,
        ctx: &Ctx<'_>,
        during: During,
        rec: &Record,
        email: &Option<EmailKey>,
        changed: bool,
    ) -> EmailChangeDecision {
        let (class_rules, sync) = self.rules(ctx);
        rules::email_change(&EmailChangeCase {
            during,
            linked: true,
            record_has_email: !rec.fields.is_empty_at(FieldName::EMAIL),
            has_email: email.is_some(),
            changed,
            event_setting: ctx.email_change,
            policy_setting: self.policy.email_change,
            sync,
            email_merge: class_rules.email,
            retained_email: self.policy.retained_email,
        })
    }

    /// D22: an event that sets its own email-change behaviour is cited.
    fn cite_event_setting(&self, decision: &EmailChangeDecision, t: &mut Trace) {
        if decision.event_setting_used {
            if self.policy.citations == Citations::Doo {
                t.cite(D22);
            }
            t.say("This event sets its own behaviour on email change.");
        }
    }

    /// D8, D9, A14, A15, A23: the email of a linked (or prefilled) subject
    /// changed, and `decision` says what happens.
    #[allow(clippy::too_many_arguments)]
    fn email_changed(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        rec: &Record,
        email: Option<EmailKey>,
        decision: EmailChangeDecision,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        if let (Situation::Edit { .. }, Citations::Doo) = (ctx.situation, self.policy.citations) {
            t.cite(D10);
        }
        self.cite_event_setting(&decision, &mut t);
        let reassign = decision.behaviour == Some(EmailChange::Reassign);
        match (decision.action, email) {
            (EmailChangeAction::MatchAgain, Some(e)) => {
                t.cite(D8);
                t.say("The email differs from the linked record's, and the event reassigns on email change: matched again on the new email.");
                let ctx2 = Ctx {
                    situation: Situation::Registration,
                    ..*ctx
                };
                self.match_email(&ctx2, s, fields, e, t)
            }
            (EmailChangeAction::Unlink, _) => {
                if reassign {
                    t.cite(D8).cite(D5);
                } else {
                    t.cite(A23).cite(A11);
                }
                self.unlink_without_email(ctx, s, t);
                Ok(())
            }
            (
                EmailChangeAction::Retain {
                    overwrite_email,
                    keep_record_email,
                },
                _,
            ) => {
                t.cite(self.cite(D9, A15));
                let ctx = &Ctx {
                    protect_email: ctx.protect_email || keep_record_email,
                    ..*ctx
                };
                if keep_record_email {
                    self.warnings.push(Warning::RecordEmailKept {
                        subject: s.id,
                        record: rec.id,
                    });
                    t.cite(B8).say_fmt(format_args!(
                        "The email changed and the event retains the link, but the policy keeps the {}'s own email.",
                        rec.record_type.noun()
                    ));
                } else if overwrite_email {
                    t.say_fmt(format_args!(
                        "The email changed and the event retains the link: the {}'s email is overwritten with the new one.",
                        rec.record_type.noun()
                    ));
                } else {
                    t.say_fmt(format_args!(
                        "The email changed and the event retains the link; the {}'s email is not overwritten.",
                        rec.record_type.noun()
                    ));
                }
                let entered = match ctx.situation {
                    Situation::Registration => Entered::All,
                    Situation::Edit {
                        source: EditSource::UpdateTrigger,
                        ..
                    } => Entered::All,
                    Situation::Edit { .. } => Entered::Only(changed_names(&s.fields, fields)),
                };
                self.update_existing(ctx, s, fields, rec.clone(), entered, false, t)
            }
            (EmailChangeAction::NewRecord, Some(e)) => {
                t.cite(A23).say_fmt(format_args!(
                    "The email changed, so a new {} is created instead of updating the linked one.",
                    self.noun()
                ));
                self.create_keyed(ctx, s, fields, Some(e), t)
            }
            // The decision was taken for a linked subject whose email changed.
            _ => Err(PlanError::Invalid(Error::MissingCandidates("email change"))),
        }
    }

    /// The email was removed from a linked subject: it is unlinked (D5, A11).
    fn unlink_without_email(&mut self, ctx: &Ctx<'_>, s: &Subject, mut t: Trace) {
        t.say("The email was removed, so the subject is unlinked.");
        if let Some(old) = self.ov.link_of(s.id, s.link) {
            self.effects.push(Effect::Unlink {
                subject: s.id,
                record: old,
            });
            self.ov.links.insert(s.id, None);
        }
        self.outcome(
            ctx,
            s,
            Decision::Unlinked,
            None,
            Some(NoRecordReason::NoEmail),
            t,
        );
    }

    // ----- edits ---------------------------------------------------------

    fn edit(&mut self, e: &Edit) -> Result<(), PlanError<S::Error>> {
        let s = &e.subject;
        let sync = match e.source {
            EditSource::Organizer { sync: Some(b) } => b,
            _ => self.policy.sync.enabled,
        };
        let ctx = Ctx {
            protect_email: false,
            event: e.id,
            channel: Channel::Online,
            campaign: e.campaign.as_ref(),
            buyer: e.buyer.as_ref(),
            situation: Situation::Edit {
                source: e.source,
                sync,
            },
            email_change: e.email_change,
        };
        let mut t = Trace::new(self.explain, self.policy.citations);
        if e.source == EditSource::UpdateTrigger {
            t.cite(A18);
        }
        let rule = self.policy.roles.get(s.role);
        if rule == RoleRule::NoRecord {
            t.cite(A6).cite(A12).say_fmt(format_args!(
                "The {} has no record; buyer data reaches records only through the holders' update trigger.",
                s.role.noun()
            ));
            let link = self.ov.link_of(s.id, s.link);
            self.outcome(
                &ctx,
                s,
                Decision::NoChange,
                link,
                Some(NoRecordReason::Role),
                t,
            );
            return Ok(());
        }
        if e.buyer_data_only && s.role == Role::Attendee {
            t.cite(A12);
            if e.source != EditSource::UpdateTrigger {
                t.say("Only buyer data is collected: it carries over only when the update is triggered on the holder.");
                let link = self.ov.link_of(s.id, s.link);
                self.outcome(
                    &ctx,
                    s,
                    Decision::NoChange,
                    link,
                    Some(NoRecordReason::AwaitingUpdateTrigger),
                    t,
                );
                return Ok(());
            }
            t.say("Only buyer data is collected, and the update was triggered on the holder: the buyer's data carries over.");
        }
        let new = edit_fields(e);
        let old_email = parse_email(s.id, &s.fields, &self.policy.normalization)?;
        let new_email = parse_email(s.id, &new, &self.policy.normalization)?;
        let mut link = self.ov.link_of(s.id, s.link);
        if link.is_none() && self.policy.no_email.create {
            if let Some(rec) = self.record_by_ticket(&new)? {
                t.cite(A28).say_fmt(format_args!(
                    "Found {} {} through the ticket id.",
                    rec.record_type.noun(),
                    rec.id
                ));
                link = Some(rec.id);
            }
        }
        let Some(rid) = link else {
            let (class_rules, sync) = self.rules(&ctx);
            let decision = rules::email_change(&EmailChangeCase {
                during: During::Edit,
                linked: false,
                record_has_email: false,
                has_email: new_email.is_some(),
                changed: true,
                event_setting: ctx.email_change,
                policy_setting: self.policy.email_change,
                sync,
                email_merge: class_rules.email,
                retained_email: self.policy.retained_email,
            });
            return match (decision.action, new_email) {
                (EmailChangeAction::MatchAgain | EmailChangeAction::NewRecord, Some(email)) => {
                    if self.policy.citations == Citations::Salesforce {
                        t.cite(A29);
                    }
                    t.say("An email was added to a subject without record.");
                    self.cite_event_setting(&decision, &mut t);
                    if decision.action == EmailChangeAction::NewRecord {
                        t.cite(A23);
                        return self.create_keyed(&ctx, s, &new, Some(email), t);
                    }
                    let ctx2 = Ctx {
                        situation: Situation::Registration,
                        ..ctx
                    };
                    t.cite(D1);
                    self.match_email(&ctx2, s, &new, email, t)
                }
                _ => {
                    t.cite(self.cite(D5, A29))
                        .say("The subject has no email and no record; a record is created only once an email is added.");
                    self.outcome(
                        &ctx,
                        s,
                        Decision::NoRecord,
                        None,
                        Some(NoRecordReason::NoEmail),
                        t,
                    );
                    Ok(())
                }
            };
        };
        let rec = self.existing(s, rid)?;
        let norm = &self.policy.normalization;
        // With buyer data only, the holder's own fields hold no email: the
        // linked record's is the one the buyer's data is compared with.
        let old_key = if e.buyer_data_only && s.role == Role::Attendee {
            rec.email_key(norm)
        } else {
            old_email
        };
        let decision =
            self.decide_email_change(&ctx, During::Edit, &rec, &new_email, old_key != new_email);
        if decision.action != EmailChangeAction::Unchanged {
            return self.email_changed(&ctx, s, &new, &rec, new_email, decision, t);
        }
        let entered = if e.source == EditSource::UpdateTrigger {
            Entered::All
        } else {
            Entered::Only(changed_names(&s.fields, &new))
        };
        self.update_existing(&ctx, s, &new, rec, entered, false, t)
    }

    // ----- relinks and record changes -------------------------------------

    /// D11.
    fn relink(&mut self, r: &Relink) -> Result<(), PlanError<S::Error>> {
        let ctx = Ctx {
            protect_email: false,
            event: r.id,
            channel: Channel::Online,
            campaign: None,
            buyer: None,
            situation: Situation::Registration,
            email_change: None,
        };
        let s = &r.subject;
        let rec = self.existing(s, r.to)?;
        let mut t = Trace::new(self.explain, self.policy.citations);
        t.cite(D11).cite(D12);
        let decision = if self.relink_to(s, rec.id) {
            t.say_fmt(format_args!(
                "The organizer changed the connected record to {} {}.",
                rec.record_type.noun(),
                rec.id
            ));
            Decision::Relinked
        } else {
            t.say("The subject is already linked to the chosen record.");
            Decision::Kept
        };
        self.outcome(&ctx, s, decision, Some(rec.id), None, t);
        Ok(())
    }

    /// A20.
    fn record_changed(&mut self, c: &RecordChange) {
        let ctx = Ctx {
            protect_email: false,
            event: c.id,
            channel: Channel::Online,
            campaign: None,
            buyer: None,
            situation: Situation::Registration,
            email_change: None,
        };
        for s in &c.subjects {
            let mut t = Trace::new(self.explain, self.policy.citations);
            t.cite(A20);
            if !self.policy.two_way {
                t.say("Without a two-way integration, record changes do not flow back into registrations.");
                self.outcome(&ctx, s, Decision::NoChange, Some(c.record), None, t);
                continue;
            }
            let changes: Vec<FieldChange> = c
                .new_fields
                .iter()
                .filter(|(n, _)| self.fields.class_of(n.as_str()).is_some())
                .filter_map(|(n, v)| {
                    let old = s.fields.get(n.as_str());
                    let differs = match old {
                        Some(o) => o != v,
                        None => !v.is_blank(),
                    };
                    differs.then(|| FieldChange {
                        field: n.clone(),
                        old: old.cloned(),
                        new: v.clone(),
                        rule: A20,
                    })
                })
                .collect();
            if changes.is_empty() {
                t.say("The registration already holds the record's data.");
                self.outcome(&ctx, s, Decision::NoChange, Some(c.record), None, t);
            } else {
                t.cite(B3).say_fmt(format_args!(
                    "Two-way integration: the registration takes the record's {}.",
                    list(changes.iter().map(|c| c.field.as_str()))
                ));
                self.effects.push(Effect::UpdateSubject {
                    subject: s.id,
                    changes,
                });
                self.outcome(&ctx, s, Decision::SubjectUpdated, Some(c.record), None, t);
            }
        }
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
