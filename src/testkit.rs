//! A conformance suite for stores (feature `testkit`).
//!
//! Any host that implements [`ContactStore`] and [`ApplyPlan`] can check its
//! store against the guarantees the engine relies on:
//!
//! ```
//! # #[cfg(feature = "testkit")] {
//! use contact_sync::{testkit, InMemoryStore};
//! testkit::run_all(&|| InMemoryStore::new()).unwrap();
//! # }
//! ```
//!
//! Each check gets fresh, empty stores from the factory, writes to them only
//! through plans (so nothing but the two traits is needed), and returns a
//! [`Failure`] naming what did not hold. The checks: key lookups across
//! case, NFC and IDN spellings; tenant isolation; all-or-nothing apply with a
//! failure injected after each effect; conflicts on stale preconditions;
//! concurrent registrations of one new email; batches; idempotent re-apply;
//! duplicate merges (B9); record ids global across tenants; and the whole
//! apply contract written on [`ApplyPlan`]: links and unlinks, campaign
//! membership with ticket ids, ticket lookups and the ticket precondition,
//! updates, blanks and version bumps, `UpdateSubject`, merges moving links
//! and members, and events (recorded or not). Every failure says what was
//! injected, what was expected and what the store did.

use std::fmt;

use crate::email::{EmailKey, Normalization};
use crate::engine::Engine;
use crate::error::{chain, ApplyError, Conflict, PlanError};
use crate::event::{Channel, Event, Registration, Subject};
use crate::fields::Fields;
use crate::plan::{Effect, Plan, Precondition};
use crate::policy::Policy;
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
use crate::store::{ApplyPlan, ContactStore};

/// Makes fresh, empty stores (default normalization) for the checks.
pub trait StoreFactory {
    /// The store under test.
    type Store: ContactStore + ApplyPlan + Sync;
    /// A new, empty store.
    fn fresh(&self) -> Self::Store;
}

impl<F, S> StoreFactory for F
where
    F: Fn() -> S,
    S: ContactStore + ApplyPlan + Sync,
{
    type Store = S;
    fn fresh(&self) -> S {
        self()
    }
}

/// A check that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check's name.
    pub check: &'static str,
    /// What did not hold.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.message)
    }
}

impl std::error::Error for Failure {}

/// The result of one check.
pub type Check = Result<(), Failure>;

const A: TenantId = TenantId::from_u128(0xA);
const B: TenantId = TenantId::from_u128(0xB);

fn fail(check: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        check,
        message: message.into(),
    }
}

fn ensure(check: &'static str, ok: bool, message: impl FnOnce() -> String) -> Check {
    if ok {
        Ok(())
    } else {
        Err(fail(check, message()))
    }
}

fn record(n: u128, tenant: TenantId, email: &str) -> Record {
    Record::new(
        RecordId::from_u128(n),
        tenant,
        RecordType::Contact,
        Fields::from_pairs([("email", email), ("first_name", "Kit")]),
    )
}

/// A plan that creates `records` (all of one tenant).
fn seed_plan(records: &[Record]) -> Plan {
    effects_plan(
        records.first().map_or(A, |r| r.tenant),
        records
            .iter()
            .map(|r| Effect::CreateRecord { record: r.clone() })
            .collect(),
        records
            .iter()
            .map(|r| Precondition::RecordAbsent { record: r.id })
            .collect(),
    )
}

fn seed<S: ApplyPlan>(check: &'static str, store: &S, records: &[Record]) -> Check {
    store
        .apply(&seed_plan(records))
        .map_err(|e| fail(check, format!("seeding failed: {}", chain(&e))))
}

fn key(check: &'static str, s: &str) -> Result<EmailKey, Failure> {
    EmailKey::parse(s, &Normalization::default())
        .ok()
        .flatten()
        .ok_or_else(|| {
            fail(
                check,
                format!("the suite's own address {s:?} does not parse"),
            )
        })
}

fn lookup<S: ContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    email: &str,
) -> Result<Vec<RecordId>, Failure> {
    let mut ids: Vec<RecordId> = s
        .records_by_email(t, &key(check, email)?)
        .map_err(|e| fail(check, format!("lookup failed: {}", chain(&e))))?
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn registration(event: u128, subject: u128, tenant: TenantId, email: &str) -> Event {
    Event::Registered(Registration {
        id: EventId::from_u128(event),
        tenant,
        channel: Channel::Online,
        campaign: None,
        buyer_data_only: false,
        email_change: None,
        subjects: vec![Subject::attendee(
            SubjectId::from_u128(subject),
            Fields::from_pairs([("email", email)]),
        )],
    })
}

fn engine(check: &'static str) -> Result<Engine, Failure> {
    Engine::new(Policy::doo()).map_err(|e| fail(check, chain(&e)))
}

/// One key, whatever the spelling: case, Unicode normalization form and IDN
/// form of one address find the same record; a different address does not.
pub fn key_lookups<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "key_lookups";
    let s = f.fresh();
    seed(
        C,
        &s,
        &[
            record(1, A, "Jose\u{301}.Lee@BÜCHER.example"),
            record(2, A, "straße@example.org"),
        ],
    )?;
    for spelling in [
        "josé.lee@bücher.example",
        "JOSÉ.LEE@xn--bcher-kva.example",
        " jose\u{301}.lee@Bücher.Example ",
    ] {
        let got = lookup(C, &s, A, spelling)?;
        ensure(C, got == [RecordId::from_u128(1)], || {
            format!("{spelling:?} found {got:?}")
        })?;
    }
    let got = lookup(C, &s, A, "strasse@example.org")?;
    ensure(C, got.is_empty(), || {
        format!("`strasse` matched `straße`: {got:?}")
    })?;
    let got = lookup(C, &s, A, "STRAßE@example.org")?;
    ensure(C, got == [RecordId::from_u128(2)], || {
        format!("`STRAßE` found {got:?}")
    })
}

/// Nothing crosses tenants: lookups, reads by id, and effects naming another
/// tenant's record.
pub fn tenant_isolation<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "tenant_isolation";
    let s = f.fresh();
    seed(C, &s, &[record(1, A, "ann@example.org")])?;
    seed(C, &s, &[record(2, B, "ann@example.org")])?;
    let a = lookup(C, &s, A, "ann@example.org")?;
    ensure(C, a == [RecordId::from_u128(1)], || {
        format!("tenant A sees {a:?}")
    })?;
    let other = s
        .record(A, RecordId::from_u128(2))
        .map_err(|e| fail(C, chain(&e)))?;
    ensure(C, other.is_none(), || {
        "reading tenant B's record as tenant A returned it".into()
    })?;
    let tickets = s
        .records_by_ticket(B, "none")
        .map_err(|e| fail(C, chain(&e)))?;
    ensure(C, tickets.is_empty(), || {
        "ticket lookup returned records".into()
    })?;
    let mut hostile = seed_plan(&[]);
    hostile.tenant = A;
    hostile.effects.push(Effect::UpdateRecord {
        record: RecordId::from_u128(2),
        changes: vec![crate::plan::FieldChange {
            field: crate::fields::FieldName::new("first_name"),
            old: None,
            new: "Mallory".into(),
            rule: crate::plan::RuleId::B8,
        }],
    });
    ensure(C, s.apply(&hostile).is_err(), || {
        "a plan of tenant A updated tenant B's record".into()
    })?;
    let b = s
        .record(B, RecordId::from_u128(2))
        .map_err(|e| fail(C, chain(&e)))?
        .map(|r| (r.version, r.fields.text("first_name").to_owned()));
    ensure(C, b == Some((1, "Kit".into())), || {
        format!("tenant B's record changed: {b:?}")
    })
}

/// The ids and versions of the records with one key.
type KeyState = (Vec<RecordId>, Vec<u64>);

fn snapshot<S: ContactStore>(
    check: &'static str,
    s: &S,
    emails: &[&str],
) -> Result<Vec<KeyState>, Failure> {
    let mut out = Vec::new();
    for e in emails {
        let recs = s
            .records_by_email(A, &key(check, e)?)
            .map_err(|x| fail(check, x.to_string()))?;
        let mut ids: Vec<(RecordId, u64)> = recs.iter().map(|r| (r.id, r.version)).collect();
        ids.sort_unstable();
        out.push((
            ids.iter().map(|x| x.0).collect(),
            ids.iter().map(|x| x.1).collect(),
        ));
    }
    Ok(out)
}

/// Apply is all-or-nothing: with a failure injected after each effect of a
/// plan, nothing of the plan stays.
pub fn all_or_nothing<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "all_or_nothing";
    let emails = ["ann@example.org", "n1@example.org", "n2@example.org"];
    let s = f.fresh();
    seed(C, &s, &[record(1, A, "ann@example.org")])?;
    let ev = Event::Registered(Registration {
        id: EventId::from_u128(7),
        tenant: A,
        channel: Channel::Online,
        campaign: Some(crate::event::CampaignId("camp".into())),
        buyer_data_only: false,
        email_change: None,
        subjects: vec![
            Subject::booker(
                SubjectId::from_u128(1),
                Fields::from_pairs([("email", "ann@example.org"), ("company", "X")]),
            ),
            Subject::attendee(
                SubjectId::from_u128(2),
                Fields::from_pairs([("email", "n1@example.org")]),
            ),
            Subject::attendee(
                SubjectId::from_u128(3),
                Fields::from_pairs([("email", "n2@example.org")]),
            ),
        ],
    });
    let mut policy = Policy::doo();
    policy.campaign_members = true;
    let plan = Engine::new(policy)
        .map_err(|e| fail(C, chain(&e)))?
        .plan(&s, &ev)
        .map_err(|e| fail(C, chain(&e)))?;
    let before = snapshot(C, &s, &emails)?;
    for k in 0..=plan.effects.len() {
        let mut broken = plan.clone();
        broken.effects.truncate(k);
        // The injected failure: creating a record that exists.
        broken.effects.push(Effect::CreateRecord {
            record: record(1, A, "ann@example.org"),
        });
        ensure(C, s.apply(&broken).is_err(), || {
            format!("a plan failing after effect {k} was applied")
        })?;
        let now = snapshot(C, &s, &emails)?;
        ensure(C, now == before, || {
            format!("after a failure at effect {k}, the store changed: {before:?} -> {now:?}")
        })?;
    }
    s.apply(&plan)
        .map_err(|e| fail(C, format!("the intact plan failed: {}", chain(&e))))?;
    let after = snapshot(C, &s, &emails)?;
    ensure(C, after != before, || {
        "the intact plan changed nothing".into()
    })
}

/// A plan whose preconditions no longer hold fails with a conflict and
/// changes nothing.
pub fn stale_preconditions<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "stale_preconditions";
    let s = f.fresh();
    seed(C, &s, &[record(1, A, "ann@example.org")])?;
    let e = engine(C)?;
    let p1 = e
        .plan(&s, &registration(1, 1, A, "new@example.org"))
        .map_err(|x| fail(C, x.to_string()))?;
    let p2 = e
        .plan(&s, &registration(2, 2, A, "NEW@example.org"))
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&p1).map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        matches!(s.apply(&p2), Err(ApplyError::Conflict(_))),
        || "a plan decided on a stale key set applied".into(),
    )?;
    let n = lookup(C, &s, A, "new@example.org")?;
    ensure(C, n.len() == 1, || {
        format!("{} records for one new email", n.len())
    })?;
    let reg = |ev, sub, company: &str| {
        Event::Registered(Registration {
            id: EventId::from_u128(ev),
            tenant: A,
            channel: Channel::Online,
            campaign: None,
            buyer_data_only: false,
            email_change: None,
            subjects: vec![Subject::attendee(
                SubjectId::from_u128(sub),
                Fields::from_pairs([("email", "ann@example.org"), ("company", company)]),
            )],
        })
    };
    let q1 = e
        .plan(&s, &reg(3, 3, "One"))
        .map_err(|x| fail(C, x.to_string()))?;
    let q2 = e
        .plan(&s, &reg(4, 4, "Two"))
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&q1).map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        matches!(s.apply(&q2), Err(ApplyError::Conflict(_))),
        || "a plan decided on a stale version applied".into(),
    )?;
    let company = s
        .record(A, RecordId::from_u128(1))
        .map_err(|x| fail(C, x.to_string()))?
        .map(|r| r.fields.text("company").to_owned());
    ensure(C, company.as_deref() == Some("One"), || {
        format!("company is {company:?}")
    })
}

/// Plans, applies, and on a conflict plans again, up to `attempts` times.
/// The first plan waits at `barrier`, so that every thread decides before
/// any applies: the race the preconditions must catch happens every time.
fn register_with_retry<S: ContactStore + ApplyPlan>(
    store: &S,
    event: &Event,
    attempts: usize,
    barrier: &std::sync::Barrier,
) -> Result<Plan, String> {
    let e = Engine::new(Policy::doo()).map_err(|x| x.to_string())?;
    for attempt in 0..attempts {
        let plan = e.plan(store, event).map_err(|x| match x {
            PlanError::Invalid(i) => i.to_string(),
            PlanError::Store(s) => s.to_string(),
        });
        if attempt == 0 {
            barrier.wait();
        }
        let plan = plan?;
        match store.apply(&plan) {
            Ok(()) => return Ok(plan),
            Err(ApplyError::Conflict(_)) => continue,
            Err(x) => return Err(x.to_string()),
        }
    }
    Err("no attempt succeeded".into())
}

/// N threads registering the same new email at once create exactly one record.
pub fn concurrent_registrations<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "concurrent_registrations";
    for round in 0..10u128 {
        let s = f.fresh();
        let email = format!("race{round}@example.org");
        let barrier = std::sync::Barrier::new(8);
        let results: Vec<Result<Plan, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u128)
                .map(|i| {
                    let s = &s;
                    let barrier = &barrier;
                    let ev = registration(100 + i, 100 + i, A, &email);
                    scope.spawn(move || register_with_retry(s, &ev, 64, barrier))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                .collect()
        });
        let mut linked = Vec::new();
        for r in results {
            let plan = r.map_err(|m| fail(C, m))?;
            linked.extend(plan.outcomes.iter().filter_map(|o| o.record));
        }
        let ids = lookup(C, &s, A, &email)?;
        ensure(C, ids.len() == 1, || {
            format!("round {round}: {} records for one new email", ids.len())
        })?;
        ensure(
            C,
            linked.len() == 8 && linked.iter().all(|r| Some(r) == ids.first()),
            || format!("round {round}: subjects linked to {linked:?}, the record is {ids:?}"),
        )?;
    }
    Ok(())
}

/// A batch plan applies as one: two new emails shared by five subjects give
/// two records.
pub fn batches<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "batches";
    let s = f.fresh();
    let evs: Vec<Event> = [
        "x@example.org",
        "y@example.org",
        "X@example.org",
        "y@EXAMPLE.org",
        "x@example.org",
    ]
    .iter()
    .enumerate()
    .map(|(i, e)| registration(i as u128 + 1, i as u128 + 1, A, e))
    .collect();
    let plan = engine(C)?
        .plan_batch(&s, &evs)
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&plan).map_err(|x| fail(C, x.to_string()))?;
    let x = lookup(C, &s, A, "x@example.org")?;
    let y = lookup(C, &s, A, "y@example.org")?;
    ensure(C, x.len() == 1 && y.len() == 1, || {
        format!("x: {x:?}, y: {y:?}")
    })
}

/// Applying the same plan twice changes nothing the second time.
pub fn idempotent_reapply<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "idempotent_reapply";
    let s = f.fresh();
    seed(C, &s, &[record(1, A, "ann@example.org")])?;
    let ev = Event::Registered(Registration {
        id: EventId::from_u128(1),
        tenant: A,
        channel: Channel::Online,
        campaign: None,
        buyer_data_only: false,
        email_change: None,
        subjects: vec![
            Subject::attendee(
                SubjectId::from_u128(1),
                Fields::from_pairs([("email", "ann@example.org"), ("company", "Z")]),
            ),
            Subject::attendee(
                SubjectId::from_u128(2),
                Fields::from_pairs([("email", "new@example.org")]),
            ),
        ],
    });
    let e = engine(C)?;
    let plan = e.plan(&s, &ev).map_err(|x| fail(C, x.to_string()))?;
    let again = e.plan(&s, &ev).map_err(|x| fail(C, x.to_string()))?;
    ensure(C, plan == again, || {
        "planning the same event twice gave different plans".into()
    })?;
    s.apply(&plan).map_err(|x| fail(C, x.to_string()))?;
    let emails = ["ann@example.org", "new@example.org"];
    let before = snapshot(C, &s, &emails)?;
    ensure(C, s.apply(&plan).is_err(), || {
        "the same plan applied twice".into()
    })?;
    let after = snapshot(C, &s, &emails)?;
    ensure(C, before == after, || {
        format!("re-applying changed the store: {before:?} -> {after:?}")
    })?;
    // A store that keeps the default `event_digest` records no events: the
    // `events` check covers its redeliveries.
    let records_events = s
        .event_digest(A, EventId::from_u128(1))
        .map_err(|x| fail(C, chain(&x)))?
        .is_some();
    if !records_events {
        return Ok(());
    }
    // A redelivery of the event plans nothing (the store remembers it) ...
    let redelivered = e.plan(&s, &ev).map_err(|x| fail(C, x.to_string()))?;
    ensure(C, redelivered.effects.is_empty(), || {
        "a redelivered event planned effects: the store does not remember applied events (ContactStore::event_digest)".into()
    })?;
    // ... and the same id with another payload is an error.
    let mut changed = ev.clone();
    if let Event::Registered(r) = &mut changed {
        r.channel = Channel::Manual;
    }
    ensure(
        C,
        matches!(
            e.plan(&s, &changed),
            Err(PlanError::Invalid(crate::Error::EventPayloadChanged(_)))
        ),
        || "an event id reused with another payload was not rejected".into(),
    )
}

/// Duplicate healing (B9): a merge plan leaves one record with the key and
/// moves the retired record's links to the survivor.
pub fn merges<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "merges";
    let s = f.fresh();
    seed(
        C,
        &s,
        &[
            record(1, A, "dup@example.org"),
            record(2, A, "DUP@example.org"),
        ],
    )?;
    let e = engine(C)?;
    let mut link = seed_plan(&[]);
    link.effects.push(Effect::Link {
        subject: SubjectId::from_u128(7),
        record: RecordId::from_u128(1),
    });
    s.apply(&link).map_err(|x| fail(C, x.to_string()))?;
    let group: Vec<Record> = [1, 2]
        .iter()
        .filter_map(|n| s.record(A, RecordId::from_u128(*n)).ok().flatten())
        .collect();
    let plan = crate::heal::plan_merge(A, &group, &crate::heal::MergePolicy::default())
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&plan)
        .map_err(|x| fail(C, format!("the merge failed: {x}")))?;
    let left = lookup(C, &s, A, "dup@example.org")?;
    ensure(C, left == [RecordId::from_u128(1)], || {
        format!("after the merge the key has {left:?}")
    })?;
    // The retired record is gone: a registration links to the survivor (D2).
    let plan = e
        .plan(&s, &registration(9, 9, A, "dup@example.org"))
        .map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        plan.outcomes.first().and_then(|o| o.record) == Some(RecordId::from_u128(1)),
        || "a registration after the merge did not link to the survivor".into(),
    )
}

/// A plan of `effects` and `preconditions` in tenant `t`, nothing else.
fn effects_plan(t: TenantId, effects: Vec<Effect>, preconditions: Vec<Precondition>) -> Plan {
    Plan {
        tenant: t,
        events: Vec::new(),
        effects,
        preconditions,
        outcomes: Vec::new(),
        warnings: Vec::new(),
    }
}

fn rid(n: u128) -> RecordId {
    RecordId::from_u128(n)
}

fn sid(n: u128) -> SubjectId {
    SubjectId::from_u128(n)
}

/// Applies `plan`, which must succeed; the failure names what was applied.
fn must_apply<S: ApplyPlan>(check: &'static str, s: &S, what: &str, plan: &Plan) -> Check {
    s.apply(plan).map_err(|e| {
        fail(
            check,
            format!(
                "injected {what}: expected Ok, the store returned {}",
                chain(&e)
            ),
        )
    })
}

/// Applies `plan`, which must fail as `expected` says, and must change
/// nothing `state` reads.
fn must_refuse<S: ApplyPlan, T: PartialEq + fmt::Debug>(
    check: &'static str,
    s: &S,
    what: &str,
    plan: &Plan,
    expected: &str,
    ok: impl Fn(&ApplyError<S::Error>) -> bool,
    state: impl Fn() -> Result<T, Failure>,
) -> Check {
    let before = state()?;
    match s.apply(plan) {
        Ok(()) => Err(fail(
            check,
            format!("injected {what}: expected {expected}, the store applied it"),
        )),
        Err(e) if !ok(&e) => Err(fail(
            check,
            format!(
                "injected {what}: expected {expected}, the store returned {}",
                chain(&e)
            ),
        )),
        Err(_) => {
            let after = state()?;
            ensure(check, before == after, || {
                format!("injected {what}: refused as expected, but the store changed: {before:?} -> {after:?}")
            })
        }
    }
}

fn linked<S: ContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    r: RecordId,
) -> Result<Vec<SubjectId>, Failure> {
    s.linked_subjects(t, r)
        .map_err(|e| fail(check, format!("linked_subjects failed: {}", chain(&e))))
}

fn members<S: ContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    r: RecordId,
) -> Result<Vec<(String, Option<String>)>, Failure> {
    Ok(s.campaign_memberships(t, r)
        .map_err(|e| fail(check, format!("campaign_memberships failed: {}", chain(&e))))?
        .into_iter()
        .map(|m| (m.campaign.0, m.ticket.map(|v| v.as_str().to_owned())))
        .collect())
}

/// `Link` sets (and replaces) a subject's link, `Unlink` removes it only
/// from the record it names, links to unknown or foreign records are
/// refused, and [`ContactStore::linked_subjects`] reads them back per tenant.
pub fn links_and_unlinks<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "links_and_unlinks";
    let s = f.fresh();
    seed(
        C,
        &s,
        &[record(1, A, "a@example.org"), record(2, A, "b@example.org")],
    )?;
    seed(C, &s, &[record(3, B, "c@example.org")])?;
    let link = |subject: u128, record: u128| Effect::Link {
        subject: sid(subject),
        record: rid(record),
    };
    let unlink = |subject: u128, record: u128| Effect::Unlink {
        subject: sid(subject),
        record: rid(record),
    };
    let state = || -> Result<(Vec<SubjectId>, Vec<SubjectId>), Failure> {
        Ok((linked(C, &s, A, rid(1))?, linked(C, &s, A, rid(2))?))
    };
    let expect = |what: &str, want: (Vec<SubjectId>, Vec<SubjectId>)| -> Check {
        let got = state()?;
        ensure(C, got == want, || {
            format!("after {what}: expected subjects linked to records 1 and 2 {want:?}, the store has {got:?}")
        })
    };
    must_apply(
        C,
        &s,
        "Link(s7 -> r1), Link(s8 -> r1)",
        &effects_plan(A, vec![link(7, 1), link(8, 1)], vec![]),
    )?;
    expect(
        "Link(s7 -> r1), Link(s8 -> r1)",
        (vec![sid(7), sid(8)], vec![]),
    )?;
    must_apply(
        C,
        &s,
        "Link(s7 -> r2)",
        &effects_plan(A, vec![link(7, 2)], vec![]),
    )?;
    expect(
        "Link(s7 -> r2) replacing s7's link",
        (vec![sid(8)], vec![sid(7)]),
    )?;
    must_apply(
        C,
        &s,
        "Unlink(s7, r1) while s7 is linked to r2",
        &effects_plan(A, vec![unlink(7, 1)], vec![]),
    )?;
    expect(
        "Unlink(s7, r1) naming another record",
        (vec![sid(8)], vec![sid(7)]),
    )?;
    must_apply(
        C,
        &s,
        "Unlink(s7, r2)",
        &effects_plan(A, vec![unlink(7, 2)], vec![]),
    )?;
    expect("Unlink(s7, r2)", (vec![sid(8)], vec![]))?;
    let invalid = |e: &ApplyError<_>| matches!(e, ApplyError::InvalidPlan(_));
    must_refuse(
        C,
        &s,
        "Link(s9 -> r1), Link(s9 -> unknown r99)",
        &effects_plan(A, vec![link(9, 1), link(9, 99)], vec![]),
        "ApplyError::InvalidPlan",
        invalid,
        state,
    )?;
    must_refuse(
        C,
        &s,
        "Link(s9 -> r1), Link(s9 -> tenant B's r3)",
        &effects_plan(A, vec![link(9, 1), link(9, 3)], vec![]),
        "ApplyError::InvalidPlan",
        invalid,
        state,
    )?;
    let foreign = linked(C, &s, B, rid(1))?;
    ensure(C, foreign.is_empty(), || {
        format!("linked_subjects of tenant A's record 1 read as tenant B: expected none, got {foreign:?}")
    })
}

/// `AddCampaignMember` makes a record a member once; a ticket id given
/// replaces the membership's, none keeps it (A30); unknown records are
/// refused; [`ContactStore::campaign_memberships`] reads them back.
pub fn campaign_membership<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "campaign_membership";
    let s = f.fresh();
    seed(C, &s, &[record(1, A, "a@example.org")])?;
    let add = |campaign: &str, ticket: Option<&str>| Effect::AddCampaignMember {
        record: rid(1),
        campaign: crate::event::CampaignId(campaign.into()),
        ticket: ticket.map(Into::into),
    };
    let expect = |what: &str, want: Vec<(&str, Option<&str>)>| -> Check {
        let got = members(C, &s, A, rid(1))?;
        let want: Vec<(String, Option<String>)> = want
            .into_iter()
            .map(|(c, t)| (c.to_owned(), t.map(str::to_owned)))
            .collect();
        ensure(C, got == want, || {
            format!("after {what}: expected memberships {want:?}, the store has {got:?}")
        })
    };
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-b), twice",
        &effects_plan(A, vec![add("camp-b", None), add("camp-b", None)], vec![]),
    )?;
    expect("AddCampaignMember twice", vec![("camp-b", None)])?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, ticket T-1)",
        &effects_plan(A, vec![add("camp-a", Some("T-1"))], vec![]),
    )?;
    expect(
        "a membership with ticket T-1",
        vec![("camp-a", Some("T-1")), ("camp-b", None)],
    )?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, no ticket)",
        &effects_plan(A, vec![add("camp-a", None)], vec![]),
    )?;
    expect(
        "the membership again without a ticket id",
        vec![("camp-a", Some("T-1")), ("camp-b", None)],
    )?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, ticket T-2)",
        &effects_plan(A, vec![add("camp-a", Some("T-2"))], vec![]),
    )?;
    expect(
        "the membership again with ticket T-2",
        vec![("camp-a", Some("T-2")), ("camp-b", None)],
    )?;
    let unknown = Effect::AddCampaignMember {
        record: rid(99),
        campaign: crate::event::CampaignId("camp-a".into()),
        ticket: None,
    };
    must_refuse(
        C,
        &s,
        "AddCampaignMember of unknown r99",
        &effects_plan(A, vec![add("camp-c", None), unknown], vec![]),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        || members(C, &s, A, rid(1)),
    )?;
    let foreign = members(C, &s, B, rid(1))?;
    ensure(C, foreign.is_empty(), || {
        format!("memberships of tenant A's record read as tenant B: expected none, got {foreign:?}")
    })
}

/// Ticket lookups (A28) compare trimmed values exactly, per tenant, and the
/// `TicketId` precondition fails with [`Conflict::TicketChanged`] once the
/// set of records with the ticket id changed.
pub fn ticket_lookups<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "ticket_lookups";
    let s = f.fresh();
    let with_ticket = |n: u128, t: TenantId, ticket: &str| {
        Record::new(
            rid(n),
            t,
            RecordType::Contact,
            Fields::from_pairs([("first_name", "Kit"), ("ticket_id", ticket)]),
        )
    };
    seed(
        C,
        &s,
        &[
            with_ticket(1, A, "T-1"),
            with_ticket(2, A, " T-1 "),
            with_ticket(3, A, "t-1"),
        ],
    )?;
    seed(C, &s, &[with_ticket(4, B, "T-1")])?;
    let found = |t: TenantId, ticket: &str| -> Result<Vec<RecordId>, Failure> {
        let mut ids: Vec<RecordId> = s
            .records_by_ticket(t, ticket)
            .map_err(|e| fail(C, format!("records_by_ticket failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    };
    let got = found(A, "T-1")?;
    ensure(C, got == [rid(1), rid(2)], || {
        format!("records_by_ticket(A, \"T-1\") with tickets \"T-1\", \" T-1 \", \"t-1\" and tenant B's \"T-1\": expected records 1 and 2, the store returned {got:?}")
    })?;
    let holds = Precondition::TicketId {
        ticket: "T-1".into(),
        records: vec![rid(1), rid(2)],
    };
    must_apply(
        C,
        &s,
        "a TicketId precondition that holds",
        &effects_plan(A, vec![], vec![holds.clone()]),
    )?;
    seed(C, &s, &[with_ticket(5, A, "T-1")])?;
    must_refuse(
        C,
        &s,
        "a TicketId precondition for records 1, 2 after record 5 took the ticket id",
        &effects_plan(
            A,
            vec![Effect::Link {
                subject: sid(1),
                record: rid(1),
            }],
            vec![holds],
        ),
        "Conflict::TicketChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::TicketChanged)),
        || linked(C, &s, A, rid(1)),
    )
}

/// `UpdateRecord` raises the version by exactly one per effect (also with
/// no changes), blank values read back blank, a changed email moves the
/// record to its new key, a stale `RecordVersion` is
/// [`Conflict::VersionChanged`], and unknown records are refused.
pub fn updates_and_versions<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "updates_and_versions";
    let s = f.fresh();
    let mut r = record(1, A, "old@example.org");
    r.fields.set("job_title".into(), "CTO".into());
    seed(C, &s, &[r])?;
    let change = |field: &str, old: &str, new: &str| crate::plan::FieldChange {
        field: field.into(),
        old: Some(old.into()),
        new: new.into(),
        rule: crate::plan::RuleId::B3,
    };
    let update = |changes| Effect::UpdateRecord {
        record: rid(1),
        changes,
    };
    let read = || -> Result<Option<Record>, Failure> {
        s.record(A, rid(1)).map_err(|e| fail(C, chain(&e)))
    };
    must_apply(
        C,
        &s,
        "UpdateRecord(job_title -> blank, email -> new@), UpdateRecord(no changes)",
        &effects_plan(
            A,
            vec![
                update(vec![
                    change("job_title", "CTO", ""),
                    change("email", "old@example.org", "new@example.org"),
                ]),
                update(vec![]),
            ],
            vec![Precondition::RecordVersion {
                record: rid(1),
                version: 1,
            }],
        ),
    )?;
    let now = read()?.ok_or_else(|| fail(C, "record 1 is gone after an update"))?;
    ensure(C, now.version == 3, || {
        format!("two UpdateRecord effects (one without changes) on a record at version 1: expected version 3, the store has {}", now.version)
    })?;
    ensure(C, now.fields.is_empty_at("job_title"), || {
        "a change to a blank value: expected job_title to read back blank, it still has a value"
            .into()
    })?;
    let (old_key, new_key) = (
        lookup(C, &s, A, "old@example.org")?,
        lookup(C, &s, A, "new@example.org")?,
    );
    ensure(C, old_key.is_empty() && new_key == [rid(1)], || {
        format!("after the email changed: expected the old key to find nothing and the new one record 1, the store found {old_key:?} and {new_key:?}")
    })?;
    must_refuse(
        C,
        &s,
        "UpdateRecord with RecordVersion 1 on a record at version 3",
        &effects_plan(
            A,
            vec![update(vec![change("first_name", "Kit", "Mallory")])],
            vec![Precondition::RecordVersion {
                record: rid(1),
                version: 1,
            }],
        ),
        "Conflict::VersionChanged { expected: 1, actual: 3 }",
        |e| {
            matches!(
                e,
                ApplyError::Conflict(Conflict::VersionChanged {
                    expected: 1,
                    actual: 3,
                    ..
                })
            )
        },
        read,
    )?;
    must_refuse(
        C,
        &s,
        "UpdateRecord of record 1, then of unknown record 99",
        &effects_plan(
            A,
            vec![
                update(vec![change("first_name", "Kit", "Mallory")]),
                Effect::UpdateRecord {
                    record: rid(99),
                    changes: vec![],
                },
            ],
            vec![],
        ),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        read,
    )?;
    // The registration's own data is the host's: a store may ignore it.
    must_apply(
        C,
        &s,
        "UpdateSubject only",
        &effects_plan(
            A,
            vec![Effect::UpdateSubject {
                subject: sid(1),
                changes: vec![change("first_name", "Kit", "Bo")],
            }],
            vec![],
        ),
    )?;
    let after = read()?;
    ensure(C, after.as_ref() == Some(&now), || {
        "UpdateSubject changed a record".into()
    })
}

/// A merge deletes the retired record and moves its links and memberships
/// to the survivor (whose own ticket id on a shared membership stays),
/// without changing the survivor's version.
pub fn merges_move_links_and_members<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "merges_move_links_and_members";
    let s = f.fresh();
    seed(
        C,
        &s,
        &[
            record(1, A, "dup@example.org"),
            record(2, A, "dup@example.org"),
        ],
    )?;
    let member = |r: u128, c: &str, t: Option<&str>| Effect::AddCampaignMember {
        record: rid(r),
        campaign: crate::event::CampaignId(c.into()),
        ticket: t.map(Into::into),
    };
    must_apply(
        C,
        &s,
        "links s1 -> r1, s2 -> r2 and memberships",
        &effects_plan(
            A,
            vec![
                Effect::Link {
                    subject: sid(1),
                    record: rid(1),
                },
                Effect::Link {
                    subject: sid(2),
                    record: rid(2),
                },
                member(1, "shared", Some("T-1")),
                member(2, "shared", Some("T-2")),
                member(2, "only-2", Some("T-9")),
            ],
            vec![],
        ),
    )?;
    must_apply(
        C,
        &s,
        "MergeRecord(r2 into r1)",
        &effects_plan(
            A,
            vec![Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            }],
            vec![],
        ),
    )?;
    let gone = s.record(A, rid(2)).map_err(|e| fail(C, chain(&e)))?;
    ensure(C, gone.is_none(), || {
        "the merged-away record 2 is still there".into()
    })?;
    let survivor = s.record(A, rid(1)).map_err(|e| fail(C, chain(&e)))?;
    ensure(C, survivor.as_ref().map(|r| r.version) == Some(1), || {
        format!(
            "MergeRecord alone: expected survivor 1 at version 1, the store has {:?}",
            survivor.map(|r| r.version)
        )
    })?;
    let subjects = linked(C, &s, A, rid(1))?;
    ensure(C, subjects == [sid(1), sid(2)], || {
        format!("after the merge: expected subjects 1 and 2 linked to the survivor, the store has {subjects:?}")
    })?;
    let got = members(C, &s, A, rid(1))?;
    let want = vec![
        ("only-2".to_owned(), Some("T-9".to_owned())),
        ("shared".to_owned(), Some("T-1".to_owned())),
    ];
    ensure(C, got == want, || {
        format!("after the merge: expected memberships {want:?} (the survivor's ticket id stays), the store has {got:?}")
    })?;
    let left = members(C, &s, A, rid(2))?;
    ensure(C, left.is_empty(), || {
        format!("the merged-away record keeps memberships {left:?}")
    })?;
    must_refuse(
        C,
        &s,
        "MergeRecord(r1 into r1)",
        &effects_plan(
            A,
            vec![Effect::MergeRecord {
                record: rid(1),
                into: rid(1),
            }],
            vec![],
        ),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        || linked(C, &s, A, rid(1)),
    )
}

/// A store that records events (B7) answers [`Conflict::EventApplied`] for
/// the same event and digest and [`Conflict::EventPayloadChanged`] for
/// another digest; a store that keeps the default
/// [`ContactStore::event_digest`] records nothing, and a redelivery then
/// creates no second record (the contract on [`ApplyPlan`]).
pub fn events<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "events";
    let s = f.fresh();
    let e = engine(C)?;
    let ev = registration(1, 1, A, "new@example.org");
    let plan = e.plan(&s, &ev).map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "a registration of a new email", &plan)?;
    let digest = s
        .event_digest(A, EventId::from_u128(1))
        .map_err(|x| fail(C, chain(&x)))?;
    match digest {
        Some(d) => {
            ensure(C, d == ev.digest(), || {
                "the store recorded another digest than the plan's EventNew precondition".into()
            })?;
            let same = effects_plan(
                A,
                vec![],
                vec![Precondition::EventNew {
                    event: EventId::from_u128(1),
                    digest: d,
                }],
            );
            must_refuse(
                C,
                &s,
                "EventNew for the applied event, same digest",
                &same,
                "Conflict::EventApplied",
                |x| matches!(x, ApplyError::Conflict(Conflict::EventApplied(_))),
                || lookup(C, &s, A, "new@example.org"),
            )?;
            let other = effects_plan(
                A,
                vec![],
                vec![Precondition::EventNew {
                    event: EventId::from_u128(1),
                    digest: crate::plan::EventDigest(uuid::Uuid::from_u128(7)),
                }],
            );
            must_refuse(
                C,
                &s,
                "EventNew for the applied event, another digest",
                &other,
                "Conflict::EventPayloadChanged",
                |x| matches!(x, ApplyError::Conflict(Conflict::EventPayloadChanged(_))),
                || lookup(C, &s, A, "new@example.org"),
            )?;
            let again = e.plan(&s, &ev).map_err(|x| fail(C, chain(&x)))?;
            ensure(C, again.effects.is_empty(), || {
                "a redelivered event planned effects although the store recorded it".into()
            })
        }
        None => {
            // Not recorded: the redelivery is planned again and must not
            // create a second record.
            e.plan_and_apply(&s, &ev, 3)
                .map_err(|x| fail(C, format!("the redelivery failed: {}", chain(&x))))?;
            let ids = lookup(C, &s, A, "new@example.org")?;
            ensure(C, ids.len() == 1, || {
                format!("a redelivery to a store that records no events: expected one record for the email, the store has {ids:?}")
            })
        }
    }
}

/// Record ids are global: an id names one record in the whole store, in
/// every tenant. A plan of tenant B that creates (or requires absent) an id
/// that tenant A holds fails with [`Conflict::RecordExists`], and neither
/// tenant's records change.
pub fn record_ids_are_global<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "record_ids_are_global";
    let s = f.fresh();
    seed(C, &s, &[record(1, A, "ann@example.org")])?;
    let taken = RecordId::from_u128(1);
    let mut create = seed_plan(&[record(1, B, "bo@example.org")]);
    create.preconditions.clear();
    let mut absent = seed_plan(&[record(2, B, "bo@example.org")]);
    absent
        .preconditions
        .push(Precondition::RecordAbsent { record: taken });
    for (what, plan) in [
        ("creating tenant A's record id in tenant B", create),
        ("requiring tenant A's record id absent in tenant B", absent),
    ] {
        match s.apply(&plan) {
            Err(ApplyError::Conflict(Conflict::RecordExists(r))) if r == taken => {}
            other => {
                return Err(fail(
                    C,
                    format!(
                        "{what}: expected Conflict::RecordExists({taken}), the store returned {}",
                        match other {
                            Ok(()) => "Ok (applied)".to_owned(),
                            Err(e) => chain(&e),
                        }
                    ),
                ))
            }
        }
    }
    let a = s.record(A, taken).map_err(|e| fail(C, chain(&e)))?;
    ensure(
        C,
        a.is_some_and(|r| r.fields.text("email") == "ann@example.org"),
        || "tenant A's record changed or went missing".into(),
    )?;
    for id in [taken, RecordId::from_u128(2)] {
        let b = s.record(B, id).map_err(|e| fail(C, chain(&e)))?;
        ensure(C, b.is_none(), || {
            format!("tenant B holds record {id} after a refused plan")
        })?;
    }
    Ok(())
}

/// Runs every check; returns all failures.
pub fn run_all<F: StoreFactory>(f: &F) -> Result<(), Vec<Failure>> {
    let checks: [fn(&F) -> Check; 15] = [
        key_lookups::<F>,
        tenant_isolation::<F>,
        record_ids_are_global::<F>,
        links_and_unlinks::<F>,
        campaign_membership::<F>,
        ticket_lookups::<F>,
        updates_and_versions::<F>,
        merges_move_links_and_members::<F>,
        events::<F>,
        all_or_nothing::<F>,
        stale_preconditions::<F>,
        concurrent_registrations::<F>,
        batches::<F>,
        idempotent_reapply::<F>,
        merges::<F>,
    ];
    let failures: Vec<Failure> = checks.iter().filter_map(|c| c(f).err()).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}
