//! A conformance suite for stores (feature `testkit`).
//!
//! Any host that implements [`ContactStore`] and [`ApplyPlan`] can check its
//! store against the guarantees the engine relies on:
//!
//! ```
//! # #[cfg(feature = "testkit")] {
//! use contact_sync::{testkit, InMemoryStore};
//! // The in-memory store keeps everything: history, undo, blocks.
//! testkit::run_all_undo(&|| InMemoryStore::new().with_blocking(testkit::blocking())).unwrap();
//! # }
//! ```
//!
//! An async store ([`AsyncContactStore`] + [`AsyncApplyPlan`]) runs the same
//! checks with [`run_all_async`], awaited on any runtime: the suite spawns
//! nothing and blocks on nothing, and its concurrency check applies racing
//! plans as concurrent futures of one task. Each check is written once,
//! against the async traits; the synchronous form runs it over [`Ready`].
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
//! lookups by email aliases (B15),
//! updates, blanks and version bumps, `UpdateSubject`, merges moving links
//! and members, and events (recorded or not). Every failure says what was
//! injected, what was expected and what the store did.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::email::{EmailKey, Normalization};
use crate::engine::Engine;
use crate::error::{chain, ApplyError, Conflict, PlanError};
use crate::event::{Channel, Event, Registration, Subject};
use crate::fields::Fields;
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, Plan, Precondition};
use crate::policy::Policy;
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};
use crate::store::asynchronous::{AsyncApplyPlan, AsyncContactStore, AsyncUndoStore, Ready};
use crate::store::{ApplyPlan, ContactStore, UndoStore};

/// What a store keeps beyond the core contract, as its factory declares it
/// ([`StoreFactory::keeps`]): [`run_all`] runs every check the declaration
/// implies, so a store cannot pass "the whole contract" by leaving a part
/// out unsaid. The default declares everything; a store that keeps less
/// says so with [`declare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keeps {
    /// A field history (B17): [`field_history`] runs.
    pub history: bool,
    /// What undo needs (B16: tombstones, the undo preconditions): [`undo`]
    /// runs, through [`run_all_undo`] (the store must be an
    /// [`UndoStore`]); [`run_all`] fails a factory declaring it.
    pub undo: bool,
    /// An index of blocking keys (B19): [`block_lookups`] fails a store
    /// whose [`ContactStore::blocking`] is empty, as is the trait's default
    /// that a wrapper forwarding only the required methods inherits (the
    /// engine would then decide without blocks). Build the stores with a
    /// blocking ([`blocking`] or the host's own), or declare none.
    pub blocks: bool,
}

impl Keeps {
    /// Everything: the history, undo and blocks (the default declaration).
    pub const fn everything() -> Self {
        Keeps {
            history: true,
            undo: true,
            blocks: true,
        }
    }

    /// The core contract alone: no history, no undo, no blocks.
    pub const fn core() -> Self {
        Keeps {
            history: false,
            undo: false,
            blocks: false,
        }
    }

    /// With or without an index of blocking keys.
    #[must_use]
    pub const fn with_blocks(mut self, blocks: bool) -> Self {
        self.blocks = blocks;
        self
    }

    /// With or without a field history.
    #[must_use]
    pub const fn with_history(mut self, history: bool) -> Self {
        self.history = history;
        self
    }

    /// With or without undo.
    #[must_use]
    pub const fn with_undo(mut self, undo: bool) -> Self {
        self.undo = undo;
        self
    }
}

impl Default for Keeps {
    fn default() -> Self {
        Keeps::everything()
    }
}

/// Makes fresh, empty stores (default normalization) for the checks.
pub trait StoreFactory {
    /// The store under test.
    type Store: ContactStore + ApplyPlan + Sync;
    /// A new, empty store.
    fn fresh(&self) -> Self::Store;
    /// What the stores keep beyond the core contract: everything unless
    /// declared otherwise (see [`declare`]).
    fn keeps(&self) -> Keeps {
        Keeps::everything()
    }
}

/// A factory with a declaration: `declare(Keeps::core(), || MyStore::new())`.
#[derive(Debug, Clone, Copy)]
pub struct Declared<F> {
    keeps: Keeps,
    factory: F,
}

/// `factory`, declaring that its stores keep `keeps` (for [`run_all`] and
/// [`run_all_async`]).
pub fn declare<F>(keeps: Keeps, factory: F) -> Declared<F> {
    Declared { keeps, factory }
}

impl<F: StoreFactory> StoreFactory for Declared<F> {
    type Store = F::Store;
    fn fresh(&self) -> F::Store {
        self.factory.fresh()
    }
    fn keeps(&self) -> Keeps {
        self.keeps
    }
}

impl<F: AsyncStoreFactory> AsyncStoreFactory for Declared<F> {
    type Store = F::Store;
    fn fresh(&self) -> impl Future<Output = F::Store> {
        self.factory.fresh()
    }
    fn keeps(&self) -> Keeps {
        self.keeps
    }
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

/// Makes fresh, empty async stores (default normalization) for the async
/// checks; any `Fn() -> impl Future<Output = S>` is one.
pub trait AsyncStoreFactory {
    /// The store under test.
    type Store: AsyncContactStore + AsyncApplyPlan;
    /// A new, empty store.
    fn fresh(&self) -> impl Future<Output = Self::Store>;
    /// What the stores keep beyond the core contract: everything unless
    /// declared otherwise (see [`declare`]).
    fn keeps(&self) -> Keeps {
        Keeps::everything()
    }
}

impl<F, Fut, S> AsyncStoreFactory for F
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: AsyncContactStore + AsyncApplyPlan,
{
    type Store = S;
    fn fresh(&self) -> impl Future<Output = S> {
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

async fn seed<S: AsyncApplyPlan>(check: &'static str, store: &S, records: &[Record]) -> Check {
    store
        .apply(&seed_plan(records))
        .await
        .map_err(|e| fail(check, format!("seeding failed: {}", chain(&e))))
}

/// A fresh store holding tenant A's records 1 and 2 with emails `one`
/// and `two`.
async fn fresh_pair<F: AsyncStoreFactory>(
    check: &'static str,
    f: &F,
    one: &str,
    two: &str,
) -> Result<F::Store, Failure> {
    let s = f.fresh().await;
    seed(check, &s, &[record(1, A, one), record(2, A, two)]).await?;
    Ok(s)
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

async fn lookup<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    email: &str,
) -> Result<Vec<RecordId>, Failure> {
    let mut ids: Vec<RecordId> = s
        .records_by_email(t, &key(check, email)?)
        .await
        .map_err(|e| fail(check, format!("lookup failed: {}", chain(&e))))?
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn registration(event: u128, subject: u128, tenant: TenantId, email: &str) -> Event {
    Event::Registered(Registration::new(
        EventId::from_u128(event),
        tenant,
        vec![Subject::attendee(
            SubjectId::from_u128(subject),
            Fields::from_pairs([("email", email)]),
        )],
    ))
}

fn engine(check: &'static str) -> Result<Engine, Failure> {
    Engine::new(Policy::doo()).map_err(|e| fail(check, chain(&e)))
}

/// One key, whatever the spelling: case, Unicode normalization form and IDN
/// form of one address find the same record; a different address does not.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn key_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "key_lookups";
    let s = fresh_pair(C, f, "Jose\u{301}.Lee@BÜCHER.example", "straße@example.org").await?;
    for spelling in [
        "josé.lee@bücher.example",
        "JOSÉ.LEE@xn--bcher-kva.example",
        " jose\u{301}.lee@Bücher.Example ",
    ] {
        let got = lookup(C, &s, A, spelling).await?;
        ensure(C, got == [RecordId::from_u128(1)], || {
            format!("{spelling:?} found {got:?}")
        })?;
    }
    let got = lookup(C, &s, A, "strasse@example.org").await?;
    ensure(C, got.is_empty(), || {
        format!("`strasse` matched `straße`: {got:?}")
    })?;
    let got = lookup(C, &s, A, "STRAßE@example.org").await?;
    ensure(C, got == [RecordId::from_u128(2)], || {
        format!("`STRAßE` found {got:?}")
    })?;
    // Every record type: a policy of one type filters, the store does not.
    let mut lead = record(4, A, "pat@example.org");
    lead.record_type = RecordType::Lead;
    seed(C, &s, &[record(3, A, "pat@example.org"), lead]).await?;
    let got = lookup(C, &s, A, "pat@example.org").await?;
    ensure(
        C,
        got == [RecordId::from_u128(3), RecordId::from_u128(4)],
        || {
            format!("a Contact (3) and a Lead (4) with one email: expected both, the store found {got:?}")
        },
    )
}

/// [`ContactStore::record_ids_by_email`] answers what
/// [`ContactStore::records_by_email`] finds, sorted (synchronous stores:
/// the async traits have no such method).
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub fn record_ids_by_email<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "record_ids_by_email";
    let s = f.fresh();
    // Ids out of order on purpose: created 3, 1, 2.
    let records = [
        record(3, A, "sam@example.org"),
        record(1, A, "sam@example.org"),
        record(2, A, "Sam@Example.org"),
    ];
    ApplyPlan::apply(&s, &seed_plan(&records))
        .map_err(|e| fail(C, format!("seeding failed: {}", chain(&e))))?;
    let k = key(C, "sam@example.org")?;
    let ids = s
        .record_ids_by_email(A, &k)
        .map_err(|e| fail(C, format!("record_ids_by_email failed: {}", chain(&e))))?;
    let want = [rid(1), rid(2), rid(3)];
    ensure(C, ids == want, || {
        format!("records 3, 1, 2 created with one email: expected record_ids_by_email to answer {want:?}, the store answered {ids:?}")
    })
}

/// Nothing crosses tenants: lookups, reads by id, and effects naming another
/// tenant's record.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn tenant_isolation_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "tenant_isolation";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    seed(C, &s, &[record(2, B, "ann@example.org")]).await?;
    let a = lookup(C, &s, A, "ann@example.org").await?;
    ensure(C, a == [RecordId::from_u128(1)], || {
        format!("tenant A sees {a:?}")
    })?;
    let other = s
        .record(A, RecordId::from_u128(2))
        .await
        .map_err(|e| fail(C, chain(&e)))?;
    ensure(C, other.is_none(), || {
        "reading tenant B's record as tenant A returned it".into()
    })?;
    let tickets = s
        .records_by_ticket(B, "none")
        .await
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
    ensure(C, s.apply(&hostile).await.is_err(), || {
        "a plan of tenant A updated tenant B's record".into()
    })?;
    let b = s
        .record(B, RecordId::from_u128(2))
        .await
        .map_err(|e| fail(C, chain(&e)))?
        .map(|r| (r.version, r.fields.text("first_name").to_owned()));
    ensure(C, b == Some((1, "Kit".into())), || {
        format!("tenant B's record changed: {b:?}")
    })?;
    // Every effect that names a record refuses another tenant's.
    let mut foreign = record(3, B, "cy@example.org");
    foreign.version = 1;
    let hostile: [(&str, Effect); 6] = [
        (
            "Link of a subject to tenant B's record 2",
            Effect::Link {
                subject: sid(1),
                record: rid(2),
            },
        ),
        (
            "AddCampaignMember of tenant B's record 2",
            member(2, "C", None),
        ),
        (
            "MergeRecord of record 1 into tenant B's record 2",
            Effect::MergeRecord {
                record: rid(1),
                into: rid(2),
            },
        ),
        (
            "MergeRecord of tenant B's record 2 into record 1",
            Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            },
        ),
        (
            "DeleteRecord of tenant B's record 2",
            Effect::DeleteRecord { record: rid(2) },
        ),
        (
            "CreateRecord of a record of tenant B",
            Effect::CreateRecord { record: foreign },
        ),
    ];
    for (what, effect) in hostile {
        let plan = effects_plan(A, vec![effect], vec![]);
        ensure(C, s.apply(&plan).await.is_err(), || {
            format!("injected a plan of tenant A with a {what}: expected it refused, the store applied it")
        })?;
        let state = (
            s.record(B, rid(2))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .map(|r| r.version),
            s.record(A, rid(1))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .is_some(),
            s.record(B, rid(3))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .is_some(),
            s.linked_subjects(B, rid(2))
                .await
                .map_err(|e| fail(C, chain(&e)))?,
            s.campaign_memberships(B, rid(2))
                .await
                .map_err(|e| fail(C, chain(&e)))?
                .len(),
        );
        ensure(C, state == (Some(1), true, false, vec![], 0), || {
            format!("after a refused {what}: expected records 1 and 2 as they were, no record 3 and nothing linked to record 2, the store holds (version of 2, record 1 held, record 3 held, subjects of 2, memberships of 2) = {state:?}")
        })?;
    }
    Ok(())
}

/// The ids and versions of the records with one key.
type KeyState = (Vec<RecordId>, Vec<u64>);

async fn snapshot<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    emails: &[&str],
) -> Result<Vec<KeyState>, Failure> {
    let mut out = Vec::new();
    for e in emails {
        let recs = s
            .records_by_email(A, &key(check, e)?)
            .await
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
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn all_or_nothing_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "all_or_nothing";
    let emails = ["ann@example.org", "n1@example.org", "n2@example.org"];
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let ev = Event::Registered({
        let mut r = Registration::new(
            EventId::from_u128(7),
            A,
            vec![
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
        );
        r.campaign = Some(crate::event::CampaignId("camp".into()));
        r
    });
    let mut policy = Policy::doo();
    policy.campaign_members = true;
    let plan = Engine::new(policy)
        .map_err(|e| fail(C, chain(&e)))?
        .plan_async(&s, &ev)
        .await
        .map_err(|e| fail(C, chain(&e)))?;
    let before = snapshot(C, &s, &emails).await?;
    for k in 0..=plan.effects.len() {
        let mut broken = plan.clone();
        broken.effects.truncate(k);
        // The injected failure: creating a record that exists.
        broken.effects.push(Effect::CreateRecord {
            record: record(1, A, "ann@example.org"),
        });
        ensure(C, s.apply(&broken).await.is_err(), || {
            format!("a plan failing after effect {k} was applied")
        })?;
        let now = snapshot(C, &s, &emails).await?;
        ensure(C, now == before, || {
            format!("after a failure at effect {k}, the store changed: {before:?} -> {now:?}")
        })?;
    }
    s.apply(&plan)
        .await
        .map_err(|e| fail(C, format!("the intact plan failed: {}", chain(&e))))?;
    let after = snapshot(C, &s, &emails).await?;
    ensure(C, after != before, || {
        "the intact plan changed nothing".into()
    })
}

/// A plan whose preconditions no longer hold fails with a conflict and
/// changes nothing.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn stale_preconditions_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "stale_preconditions";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let e = engine(C)?;
    let p1 = e
        .plan_async(&s, &registration(1, 1, A, "new@example.org"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    let p2 = e
        .plan_async(&s, &registration(2, 2, A, "NEW@example.org"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&p1).await.map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        matches!(s.apply(&p2).await, Err(ApplyError::Conflict(_))),
        || "a plan decided on a stale key set applied".into(),
    )?;
    let n = lookup(C, &s, A, "new@example.org").await?;
    ensure(C, n.len() == 1, || {
        format!("{} records for one new email", n.len())
    })?;
    let reg = |ev, sub, company: &str| {
        Event::Registered(Registration::new(
            EventId::from_u128(ev),
            A,
            vec![Subject::attendee(
                SubjectId::from_u128(sub),
                Fields::from_pairs([("email", "ann@example.org"), ("company", company)]),
            )],
        ))
    };
    let q1 = e
        .plan_async(&s, &reg(3, 3, "One"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    let q2 = e
        .plan_async(&s, &reg(4, 4, "Two"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&q1).await.map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        matches!(s.apply(&q2).await, Err(ApplyError::Conflict(_))),
        || "a plan decided on a stale version applied".into(),
    )?;
    let company = s
        .record(A, RecordId::from_u128(1))
        .await
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
        let plan = e.plan(store, event).map_err(|x| chain(&x));
        if attempt == 0 {
            barrier.wait();
        }
        let plan = plan?;
        match store.apply(&plan) {
            Ok(()) => return Ok(plan),
            Err(ApplyError::Conflict(_)) => continue,
            Err(x) => return Err(chain(&x)),
        }
    }
    Err("no attempt succeeded".into())
}

/// Applies `plan` (decided on `event`), and on a conflict plans again, up
/// to `attempts` applies in all.
async fn apply_with_retry<S: AsyncContactStore + AsyncApplyPlan>(
    store: &S,
    engine: &Engine,
    event: &Event,
    mut plan: Plan,
    attempts: usize,
) -> Result<Plan, String> {
    for _ in 0..attempts {
        match store.apply(&plan).await {
            Ok(()) => return Ok(plan),
            Err(ApplyError::Conflict(_)) => {
                plan = engine
                    .plan_async(store, event)
                    .await
                    .map_err(|x| chain(&x))?;
            }
            Err(x) => return Err(chain(&x)),
        }
    }
    Err("no attempt succeeded".into())
}

/// Polls every future in turn until all are done: concurrency within one
/// task, without a runtime. Outputs in the order of `futures`.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, out) in futures.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(done.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}

/// The race's outcome: one record for the email, every subject linked to it.
fn one_record_for_the_race(
    round: u128,
    results: Vec<Result<Plan, String>>,
    ids: &[RecordId],
) -> Check {
    const C: &str = "concurrent_registrations";
    let mut linked = Vec::new();
    for r in results {
        let plan = r.map_err(|m| fail(C, format!("round {round}: {m}")))?;
        linked.extend(plan.outcomes.iter().filter_map(|o| o.record));
    }
    ensure(C, ids.len() == 1, || {
        format!("round {round}: 8 registrations of one new email at once: expected one record, the store has {ids:?}")
    })?;
    ensure(
        C,
        linked.len() == RACERS as usize && linked.iter().all(|r| Some(r) == ids.first()),
        || format!("round {round}: subjects linked to {linked:?}, the record is {ids:?}"),
    )
}

const RACERS: u128 = 8;

/// N threads registering the same new email at once create exactly one
/// record, and every subject links to it. Every thread decides before any
/// applies, so the race the preconditions must catch happens every round.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub fn concurrent_registrations<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "concurrent_registrations";
    for round in 0..10u128 {
        let s = f.fresh();
        let email = format!("race{round}@example.org");
        let barrier = std::sync::Barrier::new(RACERS as usize);
        let results: Vec<Result<Plan, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..RACERS)
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
        let mut ids: Vec<RecordId> = s
            .records_by_email(A, &key(C, &email)?)
            .map_err(|e| fail(C, format!("lookup failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        one_record_for_the_race(round, results, &ids)?;
    }
    Ok(())
}

/// The async form of [`concurrent_registrations`]: eight registrations of
/// one new email are all decided first, then applied at once (each retrying
/// on conflict) as concurrent futures of one task; a store with a pool of
/// connections sees them as concurrent transactions.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn concurrent_registrations_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "concurrent_registrations";
    let e = engine(C)?;
    for round in 0..10u128 {
        let s = f.fresh().await;
        let email = format!("race{round}@example.org");
        let events: Vec<Event> = (0..RACERS)
            .map(|i| registration(100 + i, 100 + i, A, &email))
            .collect();
        let mut racers = Vec::new();
        for ev in &events {
            let plan = e.plan_async(&s, ev).await.map_err(|x| fail(C, chain(&x)))?;
            racers.push(apply_with_retry(&s, &e, ev, plan, 64));
        }
        let results = join_all(racers).await;
        let ids = lookup(C, &s, A, &email).await?;
        one_record_for_the_race(round, results, &ids)?;
    }
    Ok(())
}

/// A batch plan applies as one: two new emails shared by five subjects give
/// two records.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn batches_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "batches";
    let s = f.fresh().await;
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
        .plan_batch_async(&s, &evs)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&plan).await.map_err(|x| fail(C, x.to_string()))?;
    let x = lookup(C, &s, A, "x@example.org").await?;
    let y = lookup(C, &s, A, "y@example.org").await?;
    ensure(C, x.len() == 1 && y.len() == 1, || {
        format!("x: {x:?}, y: {y:?}")
    })
}

/// Applying the same plan twice changes nothing the second time.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn idempotent_reapply_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "idempotent_reapply";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
    let ev = Event::Registered(Registration::new(
        EventId::from_u128(1),
        A,
        vec![
            Subject::attendee(
                SubjectId::from_u128(1),
                Fields::from_pairs([("email", "ann@example.org"), ("company", "Z")]),
            ),
            Subject::attendee(
                SubjectId::from_u128(2),
                Fields::from_pairs([("email", "new@example.org")]),
            ),
        ],
    ));
    let e = engine(C)?;
    let plan = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    let again = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    ensure(C, plan == again, || {
        "planning the same event twice gave different plans".into()
    })?;
    s.apply(&plan).await.map_err(|x| fail(C, x.to_string()))?;
    let emails = ["ann@example.org", "new@example.org"];
    let before = snapshot(C, &s, &emails).await?;
    ensure(C, s.apply(&plan).await.is_err(), || {
        "the same plan applied twice".into()
    })?;
    let after = snapshot(C, &s, &emails).await?;
    ensure(C, before == after, || {
        format!("re-applying changed the store: {before:?} -> {after:?}")
    })?;
    // A store that keeps the default `event_digest` records no events: the
    // `events` check covers its redeliveries.
    let records_events = s
        .event_digest(A, EventId::from_u128(1))
        .await
        .map_err(|x| fail(C, chain(&x)))?
        .is_some();
    if !records_events {
        return Ok(());
    }
    // A redelivery of the event plans nothing (the store remembers it) ...
    let redelivered = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, x.to_string()))?;
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
            e.plan_async(&s, &changed).await,
            Err(PlanError::Invalid(crate::Error::EventPayloadChanged(_)))
        ),
        || "an event id reused with another payload was not rejected".into(),
    )
}

/// Duplicate healing (B9): a merge plan leaves one record with the key and
/// moves the retired record's links to the survivor.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn merges_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "merges";
    let s = fresh_pair(C, f, "dup@example.org", "DUP@example.org").await?;
    let e = engine(C)?;
    let mut link = seed_plan(&[]);
    link.effects.push(Effect::Link {
        subject: SubjectId::from_u128(7),
        record: RecordId::from_u128(1),
    });
    s.apply(&link).await.map_err(|x| fail(C, x.to_string()))?;
    let mut group: Vec<Record> = Vec::new();
    for n in [1, 2] {
        if let Ok(Some(r)) = s.record(A, RecordId::from_u128(n)).await {
            group.push(r);
        }
    }
    let plan = crate::heal::plan_merge(A, &group, &crate::heal::MergePolicy::default())
        .map_err(|x| fail(C, x.to_string()))?;
    s.apply(&plan)
        .await
        .map_err(|x| fail(C, format!("the merge failed: {x}")))?;
    let left = lookup(C, &s, A, "dup@example.org").await?;
    ensure(C, left == [RecordId::from_u128(1)], || {
        format!("after the merge the key has {left:?}")
    })?;
    // The retired record is gone: a registration links to the survivor (D2).
    let plan = e
        .plan_async(&s, &registration(9, 9, A, "dup@example.org"))
        .await
        .map_err(|x| fail(C, x.to_string()))?;
    ensure(
        C,
        plan.outcomes.first().and_then(|o| o.record) == Some(RecordId::from_u128(1)),
        || "a registration after the merge did not link to the survivor".into(),
    )
}

/// A plan of `effects` and `preconditions` in tenant `t`, nothing else.
fn effects_plan(t: TenantId, effects: Vec<Effect>, preconditions: Vec<Precondition>) -> Plan {
    {
        let mut p = Plan::new(t);
        p.effects = effects;
        p.preconditions = preconditions;
        p
    }
}

fn rid(n: u128) -> RecordId {
    RecordId::from_u128(n)
}

fn sid(n: u128) -> SubjectId {
    SubjectId::from_u128(n)
}

/// `AddCampaignMember` of tenant A's record `r` in campaign `c`.
fn member(r: u128, c: &str, ticket: Option<&str>) -> Effect {
    Effect::AddCampaignMember {
        record: rid(r),
        campaign: crate::event::CampaignId(c.into()),
        ticket: ticket.map(Into::into),
    }
}

/// Applies `plan`, which must succeed; the failure names what was applied.
/// Applies a plan that merges tenant A's record 2 into record 1.
async fn merge_2_into_1<S: AsyncApplyPlan>(check: &'static str, s: &S) -> Check {
    must_apply(
        check,
        s,
        "MergeRecord(2 into 1)",
        &effects_plan(
            A,
            vec![Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            }],
            vec![],
        ),
    )
    .await
}

async fn must_apply<S: AsyncApplyPlan>(
    check: &'static str,
    s: &S,
    what: &str,
    plan: &Plan,
) -> Check {
    s.apply(plan).await.map_err(|e| {
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
async fn must_refuse<S: AsyncApplyPlan, T: PartialEq + fmt::Debug>(
    check: &'static str,
    s: &S,
    what: &str,
    plan: &Plan,
    expected: &str,
    ok: impl Fn(&ApplyError<S::Error>) -> bool,
    state: impl AsyncFn() -> Result<T, Failure>,
) -> Check {
    let before = state().await?;
    match s.apply(plan).await {
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
            let after = state().await?;
            ensure(check, before == after, || {
                format!("injected {what}: refused as expected, but the store changed: {before:?} -> {after:?}")
            })
        }
    }
}

async fn linked<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    r: RecordId,
) -> Result<Vec<SubjectId>, Failure> {
    s.linked_subjects(t, r)
        .await
        .map_err(|e| fail(check, format!("linked_subjects failed: {}", chain(&e))))
}

async fn members<S: AsyncContactStore>(
    check: &'static str,
    s: &S,
    t: TenantId,
    r: RecordId,
) -> Result<Vec<(String, Option<String>)>, Failure> {
    Ok(s.campaign_memberships(t, r)
        .await
        .map_err(|e| fail(check, format!("campaign_memberships failed: {}", chain(&e))))?
        .into_iter()
        .map(|m| (m.campaign.0, m.ticket.map(|v| v.as_str().to_owned())))
        .collect())
}

/// `Link` sets (and replaces) a subject's link, `Unlink` removes it only
/// from the record it names, links to unknown or foreign records are
/// refused, and [`ContactStore::linked_subjects`] reads them back per tenant.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn links_and_unlinks_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "links_and_unlinks";
    let s = f.fresh().await;
    seed(
        C,
        &s,
        &[record(1, A, "a@example.org"), record(2, A, "b@example.org")],
    )
    .await?;
    seed(C, &s, &[record(3, B, "c@example.org")]).await?;
    let link = |subject: u128, record: u128| Effect::Link {
        subject: sid(subject),
        record: rid(record),
    };
    let unlink = |subject: u128, record: u128| Effect::Unlink {
        subject: sid(subject),
        record: rid(record),
    };
    let state = async || -> Result<(Vec<SubjectId>, Vec<SubjectId>), Failure> {
        Ok((
            linked(C, &s, A, rid(1)).await?,
            linked(C, &s, A, rid(2)).await?,
        ))
    };
    let expect = async |what: &str, want: (Vec<SubjectId>, Vec<SubjectId>)| -> Check {
        let got = state().await?;
        ensure(C, got == want, || {
            format!("after {what}: expected subjects linked to records 1 and 2 {want:?}, the store has {got:?}")
        })
    };
    must_apply(
        C,
        &s,
        "Link(s7 -> r1), Link(s8 -> r1)",
        &effects_plan(A, vec![link(7, 1), link(8, 1)], vec![]),
    )
    .await?;
    expect(
        "Link(s7 -> r1), Link(s8 -> r1)",
        (vec![sid(7), sid(8)], vec![]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "Link(s7 -> r2)",
        &effects_plan(A, vec![link(7, 2)], vec![]),
    )
    .await?;
    expect(
        "Link(s7 -> r2) replacing s7's link",
        (vec![sid(8)], vec![sid(7)]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "Unlink(s7, r1) while s7 is linked to r2",
        &effects_plan(A, vec![unlink(7, 1)], vec![]),
    )
    .await?;
    expect(
        "Unlink(s7, r1) naming another record",
        (vec![sid(8)], vec![sid(7)]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "Unlink(s7, r2)",
        &effects_plan(A, vec![unlink(7, 2)], vec![]),
    )
    .await?;
    expect("Unlink(s7, r2)", (vec![sid(8)], vec![])).await?;
    let invalid = |e: &ApplyError<_>| matches!(e, ApplyError::InvalidPlan(_));
    must_refuse(
        C,
        &s,
        "Link(s9 -> r1), Link(s9 -> unknown r99)",
        &effects_plan(A, vec![link(9, 1), link(9, 99)], vec![]),
        "ApplyError::InvalidPlan",
        invalid,
        &state,
    )
    .await?;
    must_refuse(
        C,
        &s,
        "Link(s9 -> r1), Link(s9 -> tenant B's r3)",
        &effects_plan(A, vec![link(9, 1), link(9, 3)], vec![]),
        "ApplyError::InvalidPlan",
        invalid,
        &state,
    )
    .await?;
    let foreign = linked(C, &s, B, rid(1)).await?;
    ensure(C, foreign.is_empty(), || {
        format!("linked_subjects of tenant A's record 1 read as tenant B: expected none, got {foreign:?}")
    })
}

/// `AddCampaignMember` makes a record a member once; a ticket id given
/// replaces the membership's, none keeps it (A30); unknown records are
/// refused; [`ContactStore::campaign_memberships`] reads them back.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn campaign_membership_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "campaign_membership";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "a@example.org")]).await?;
    let add = |campaign: &str, ticket: Option<&str>| Effect::AddCampaignMember {
        record: rid(1),
        campaign: crate::event::CampaignId(campaign.into()),
        ticket: ticket.map(Into::into),
    };
    let expect = async |what: &str, want: Vec<(&str, Option<&str>)>| -> Check {
        let got = members(C, &s, A, rid(1)).await?;
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
    )
    .await?;
    expect("AddCampaignMember twice", vec![("camp-b", None)]).await?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, ticket T-1)",
        &effects_plan(A, vec![add("camp-a", Some("T-1"))], vec![]),
    )
    .await?;
    expect(
        "a membership with ticket T-1",
        vec![("camp-a", Some("T-1")), ("camp-b", None)],
    )
    .await?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, no ticket)",
        &effects_plan(A, vec![add("camp-a", None)], vec![]),
    )
    .await?;
    expect(
        "the membership again without a ticket id",
        vec![("camp-a", Some("T-1")), ("camp-b", None)],
    )
    .await?;
    must_apply(
        C,
        &s,
        "AddCampaignMember(r1, camp-a, ticket T-2)",
        &effects_plan(A, vec![add("camp-a", Some("T-2"))], vec![]),
    )
    .await?;
    expect(
        "the membership again with ticket T-2",
        vec![("camp-a", Some("T-2")), ("camp-b", None)],
    )
    .await?;
    let unknown = member(99, "camp-a", None);
    must_refuse(
        C,
        &s,
        "AddCampaignMember of unknown r99",
        &effects_plan(A, vec![add("camp-c", None), unknown], vec![]),
        "ApplyError::InvalidPlan",
        |e| matches!(e, ApplyError::InvalidPlan(_)),
        async || members(C, &s, A, rid(1)).await,
    )
    .await?;
    let foreign = members(C, &s, B, rid(1)).await?;
    ensure(C, foreign.is_empty(), || {
        format!("memberships of tenant A's record read as tenant B: expected none, got {foreign:?}")
    })
}

/// Field history (B17), for stores that keep one (in [`run_all`] unless the
/// factory declares none: [`ContactStore::record_history`] may keep none). Applying plans appends
/// their [`Plan::history`] and `record_history` reads it back: a created
/// record's fields first, then each change in the order applied, with
/// event, rule and submitter as the plan gives them; per tenant; still
/// readable after the record was merged away; and a refused plan adds
/// nothing.
///
/// # Errors
/// A [`Failure`] saying what was applied, what was expected and what the
/// store read back.
pub async fn field_history_async<F: AsyncStoreFactory>(f: &F) -> Check {
    use crate::event::Submitter;
    use crate::plan::{FieldChange, HistoryEntry, RuleId};
    const C: &str = "field_history";
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    let change = |n: u128, field: &str, old: &str, new: &str, rule: RuleId| Effect::UpdateRecord {
        record: rid(n),
        changes: vec![FieldChange {
            field: field.into(),
            old: Some(old.into()),
            new: new.into(),
            rule,
        }],
    };
    let mut edit = effects_plan(
        A,
        vec![
            change(1, "first_name", "Kit", "Kat", RuleId::D13),
            change(2, "first_name", "Kit", "Sam", RuleId::D16),
        ],
        vec![],
    );
    edit.events = vec![EventId::from_u128(7), EventId::from_u128(8)];
    edit.effect_ends = vec![1, 2];
    edit.submitters = vec![(1, Submitter::Import)];
    must_apply(
        C,
        &s,
        "two updates by two events, the second submitted by an import",
        &edit,
    )
    .await?;
    let read = async |t: TenantId, n: u128| -> Result<Vec<HistoryEntry>, Failure> {
        s.record_history(t, rid(n))
            .await
            .map_err(|e| fail(C, format!("record_history failed: {}", chain(&e))))
    };
    let h1 = read(A, 1).await?;
    let expect = |what: &str, got: &[HistoryEntry], want: &[HistoryEntry]| {
        ensure(C, got == want, || {
            format!(
                "{what}: expected {} entries {want:?}, the store read back {} {got:?}",
                want.len(),
                got.len()
            )
        })
    };
    let created = |n: u128, email: &str| -> Vec<HistoryEntry> {
        record(n, A, email)
            .fields
            .iter()
            .map(|(field, v)| HistoryEntry {
                record: rid(n),
                field: field.clone(),
                old: None,
                new: v.clone(),
                event: None,
                rule: RuleId::D6,
                submitter: None,
            })
            .collect()
    };
    let mut want1 = created(1, "kit@example.org");
    want1.push(HistoryEntry {
        record: rid(1),
        field: "first_name".into(),
        old: Some("Kit".into()),
        new: "Kat".into(),
        event: Some(EventId::from_u128(7)),
        rule: RuleId::D13,
        submitter: None,
    });
    expect("record 1: created, then changed by event 7", &h1, &want1)?;
    let mut want2 = created(2, "sam@example.org");
    want2.push(HistoryEntry {
        record: rid(2),
        field: "first_name".into(),
        old: Some("Kit".into()),
        new: "Sam".into(),
        event: Some(EventId::from_u128(8)),
        rule: RuleId::D16,
        submitter: Some(Submitter::Import),
    });
    expect(
        "record 2: changed by event 8, an import",
        &read(A, 2).await?,
        &want2,
    )?;
    expect("record 1 read as tenant B", &read(B, 1).await?, &[])?;
    let stale = effects_plan(
        A,
        vec![change(1, "first_name", "Kat", "Kim", RuleId::D13)],
        vec![Precondition::RecordVersion {
            record: rid(1),
            version: 99,
        }],
    );
    must_refuse(
        C,
        &s,
        "an update of record 1 under a stale RecordVersion",
        &stale,
        "Conflict::VersionChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::VersionChanged { .. })),
        async || read(A, 1).await,
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    expect(
        "record 2 after it was merged into record 1",
        &read(A, 2).await?,
        &want2,
    )
}

/// What the undo check compares: each record's fields (blank left out),
/// each subject's link and each record's memberships.
type UndoState = Vec<(
    RecordId,
    Option<Vec<(String, String)>>,
    Vec<SubjectId>,
    Vec<(String, Option<String>)>,
)>;

async fn undo_state<S: AsyncUndoStore>(
    check: &'static str,
    s: &S,
    subjects: &[u128],
) -> Result<(UndoState, Vec<Option<RecordId>>), Failure> {
    let err = |what: &'static str| {
        move |e: <S as AsyncContactStore>::Error| {
            fail(check, format!("{what} failed: {}", chain(&e)))
        }
    };
    let mut out = Vec::new();
    for n in 1..=4 {
        let r = AsyncContactStore::record(s, A, rid(n))
            .await
            .map_err(err("record"))?;
        let fields = r.map(|r| {
            r.fields
                .iter()
                .filter(|(_, v)| !v.is_blank())
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect()
        });
        let linked = s
            .linked_subjects(A, rid(n))
            .await
            .map_err(err("linked_subjects"))?;
        out.push((rid(n), fields, linked, members(check, s, A, rid(n)).await?));
    }
    let mut links = Vec::new();
    for n in subjects {
        links.push(
            s.subject_link(A, sid(*n))
                .await
                .map_err(err("subject_link"))?,
        );
    }
    Ok((out, links))
}

/// The duties of [`undo_async`] a store meets apart from inverses (B16):
/// `SubjectLink` and `Memberships` preconditions are checked, `DeleteRecord`
/// drops the record's links, and `RestoreRecord` keeps the version the
/// record is restored at.
async fn undo_duties<F: AsyncStoreFactory>(f: &F) -> Check
where
    F::Store: AsyncUndoStore,
{
    const C: &str = "undo";
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    must_apply(
        C,
        &s,
        "subject 10 linked to r1, r1 a member of camp-a",
        &effects_plan(
            A,
            vec![
                Effect::Link {
                    subject: sid(10),
                    record: rid(1),
                },
                member(1, "camp-a", None),
            ],
            vec![],
        ),
    )
    .await?;
    let link_of = async |n: u128| -> Result<Option<RecordId>, Failure> {
        s.subject_link(A, sid(n))
            .await
            .map_err(|e| fail(C, chain(&e)))
    };
    must_refuse(
        C,
        &s,
        "a SubjectLink precondition of subject 10 at r2 (it is at r1)",
        &effects_plan(
            A,
            vec![Effect::Link {
                subject: sid(10),
                record: rid(2),
            }],
            vec![Precondition::SubjectLink {
                subject: sid(10),
                record: Some(rid(2)),
            }],
        ),
        "Conflict::SubjectLinkChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::SubjectLinkChanged(x)) if *x == sid(10)),
        async || link_of(10).await,
    )
    .await?;
    must_refuse(
        C,
        &s,
        "a Memberships precondition of r1 with none (it is a member of camp-a)",
        &effects_plan(
            A,
            vec![member(1, "camp-b", None)],
            vec![Precondition::Memberships {
                record: rid(1),
                members: vec![],
            }],
        ),
        "Conflict::MembershipsChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::MembershipsChanged(x)) if *x == rid(1)),
        async || members(C, &s, A, rid(1)).await,
    )
    .await?;
    // A restore keeps the version it names.
    let mut back = record(2, A, "sam@example.org");
    back.version = 6;
    must_apply(
        C,
        &s,
        "DeleteRecord of r2",
        &effects_plan(A, vec![Effect::DeleteRecord { record: rid(2) }], vec![]),
    )
    .await?;
    must_apply(
        C,
        &s,
        "RestoreRecord of the deleted r2 at version 6",
        &effects_plan(A, vec![Effect::RestoreRecord { record: back }], vec![]),
    )
    .await?;
    let version = s
        .record(A, rid(2))
        .await
        .map_err(|e| fail(C, chain(&e)))?
        .map(|r| r.version);
    ensure(C, version == Some(6), || {
        format!("injected a RestoreRecord of r2 at version 6: expected version 6 read back, the store holds {version:?}")
    })?;
    // A delete drops the record's links.
    must_apply(
        C,
        &s,
        "DeleteRecord of r1, to which subject 10 is linked",
        &effects_plan(A, vec![Effect::DeleteRecord { record: rid(1) }], vec![]),
    )
    .await?;
    let now = link_of(10).await?;
    let left = linked(C, &s, A, rid(1)).await?;
    ensure(C, now.is_none() && left.is_empty(), || {
        format!("after a DeleteRecord of r1: expected subject 10 linked nowhere and no subject linked to r1, the store links subject 10 to {now:?} and r1 to {left:?}")
    })
}

/// Undo (B16), for stores that implement [`UndoStore`] (in
/// [`run_all_undo`] unless the factory declares none): a plan that creates a record, links subjects to it, moves a
/// link, changes and adds fields, changes a membership's ticket id, adds a
/// membership and merges a record away, applied with
/// [`crate::undo::apply_reversible`], then its inverse, leaves the records'
/// fields, links and memberships as they were; the store keeps a
/// [`crate::Tombstone`] of the merged record until the inverse restores
/// it; an inverse applied after a restored record changed, or after a
/// subject was linked to a record it deletes, is a conflict that changes
/// nothing; and [`crate::undo::unmerge`] brings a merged record back from
/// its tombstone alone. Before that, the duties undo relies on:
/// `SubjectLink` and `Memberships` preconditions are checked, `DeleteRecord`
/// drops the record's links, `RestoreRecord` keeps the version it names.
///
/// # Errors
/// A [`Failure`] saying what was applied, what was expected and what the
/// store did.
pub async fn undo_async<F: AsyncStoreFactory>(f: &F) -> Check
where
    F::Store: AsyncUndoStore,
{
    use crate::plan::{FieldChange, RuleId};
    use crate::undo;
    const C: &str = "undo";
    undo_duties(f).await?;
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    let add = member;
    let link = |subject: u128, n: u128| Effect::Link {
        subject: sid(subject),
        record: rid(n),
    };
    must_apply(
        C,
        &s,
        "links of subjects 10 (r1) and 11 (r2), memberships of r1 and r2",
        &effects_plan(
            A,
            vec![
                link(10, 1),
                link(11, 2),
                add(1, "camp-a", None),
                add(2, "camp-a", Some("T-2")),
                add(2, "camp-b", Some("T-3")),
            ],
            vec![],
        ),
    )
    .await?;
    let subjects = [10, 11, 12, 13];
    let before = undo_state(C, &s, &subjects).await?;
    let plan = effects_plan(
        A,
        vec![
            Effect::CreateRecord {
                record: record(3, A, "new@example.org"),
            },
            link(12, 3),
            link(10, 3),
            Effect::UpdateRecord {
                record: rid(1),
                changes: vec![
                    FieldChange {
                        field: "first_name".into(),
                        old: Some("Kit".into()),
                        new: "Kat".into(),
                        rule: RuleId::D13,
                    },
                    FieldChange {
                        field: "phone".into(),
                        old: None,
                        new: "555".into(),
                        rule: RuleId::D13,
                    },
                ],
            },
            add(3, "camp-a", Some("T-9")),
            add(1, "camp-c", Some("T-1")),
            Effect::MergeRecord {
                record: rid(2),
                into: rid(1),
            },
        ],
        vec![Precondition::RecordAbsent { record: rid(3) }],
    );
    let inverse = undo::apply_reversible_async(&s, &plan).await.map_err(|e| {
        fail(C, format!("apply_reversible of a plan that creates, links, updates, adds members and merges: expected Ok, the store returned {}", chain(&e)))
    })?;
    let applied = undo_state(C, &s, &subjects).await?;
    ensure(C, applied != before, || {
        "the plan changed nothing the check reads".to_owned()
    })?;
    let tomb = s
        .tombstone(A, rid(2))
        .await
        .map_err(|e| fail(C, format!("tombstone failed: {}", chain(&e))))?;
    ensure(
        C,
        tomb.as_ref().is_some_and(|t| {
            t.into == rid(1)
                && t.subjects == [sid(11)]
                && t.memberships.len() == 2
                && t.record.fields == record(2, A, "sam@example.org").fields
        }),
        || {
            format!("after merging r2 into r1: expected a tombstone of r2 (into r1, subject 11, two memberships, its fields), got {tomb:?}")
        },
    )?;
    must_apply(C, &s, "the inverse of that plan", &inverse).await?;
    let undone = undo_state(C, &s, &subjects).await?;
    ensure(C, undone == before, || {
        format!("after the plan and its inverse: expected the state before {before:?}, the store holds {undone:?}")
    })?;
    let tomb = s
        .tombstone(A, rid(2))
        .await
        .map_err(|e| fail(C, format!("tombstone failed: {}", chain(&e))))?;
    ensure(C, tomb.is_none(), || {
        "r2 was restored but its tombstone is still there".to_owned()
    })?;

    // Stale inverses: a record restored by it changed since; a subject was
    // linked to a record it deletes.
    let inverse = undo::apply_reversible_async(&s, &plan).await.map_err(|e| {
        fail(
            C,
            format!(
                "the plan again after its undo: expected Ok, got {}",
                chain(&e)
            ),
        )
    })?;
    let edit = effects_plan(
        A,
        vec![Effect::UpdateRecord {
            record: rid(1),
            changes: vec![FieldChange {
                field: "first_name".into(),
                old: Some("Kat".into()),
                new: "Kim".into(),
                rule: RuleId::D13,
            }],
        }],
        vec![],
    );
    must_apply(C, &s, "an edit of r1 after the plan", &edit).await?;
    must_refuse(
        C,
        &s,
        "the inverse after r1 was edited",
        &inverse,
        "Conflict::FieldsChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::FieldsChanged(_))),
        async || undo_state(C, &s, &subjects).await,
    )
    .await?;
    let s = f.fresh().await;
    let create = effects_plan(
        A,
        vec![
            Effect::CreateRecord {
                record: record(3, A, "new@example.org"),
            },
            link(12, 3),
        ],
        vec![],
    );
    let inverse = undo::apply_reversible_async(&s, &create)
        .await
        .map_err(|e| {
            fail(
                C,
                format!("a creation and a link: expected Ok, got {}", chain(&e)),
            )
        })?;
    must_apply(
        C,
        &s,
        "a link of subject 13 to the created r3",
        &effects_plan(A, vec![link(13, 3)], vec![]),
    )
    .await?;
    must_refuse(
        C,
        &s,
        "the inverse (deleting r3) after subject 13 was linked to r3",
        &inverse,
        "Conflict::LinksChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::LinksChanged(_))),
        async || undo_state(C, &s, &subjects).await,
    )
    .await?;

    // Undo from the tombstone alone.
    let s = fresh_pair(C, f, "kit@example.org", "sam@example.org").await?;
    must_apply(
        C,
        &s,
        "a link of subject 11 to r2 and r2 in camp-b",
        &effects_plan(A, vec![link(11, 2), add(2, "camp-b", Some("T-3"))], vec![]),
    )
    .await?;
    let before = undo_state(C, &s, &subjects).await?;
    merge_2_into_1(C, &s).await?;
    let plan = undo::unmerge_async(&s, A, rid(2))
        .await
        .map_err(|e| fail(C, format!("unmerge failed: {}", chain(&e))))?
        .ok_or_else(|| fail(C, "after a plain merge of r2 into r1: expected a tombstone of r2, the store holds none"))?;
    must_apply(C, &s, "the unmerge of r2 from its tombstone", &plan).await?;
    let after = undo_state(C, &s, &subjects).await?;
    ensure(C, after == before, || {
        format!("after the merge and the unmerge: expected {before:?}, the store holds {after:?}")
    })
}

/// [`undo_async`] for a synchronous store.
///
/// # Errors
/// A [`Failure`] saying what did not hold.
pub fn undo<F: StoreFactory>(f: &F) -> Check
where
    F::Store: UndoStore,
{
    at_once("undo", undo_async(&Synced(f)))
}

/// Ticket lookups (A28) compare trimmed values exactly, per tenant, and the
/// `TicketId` precondition fails with [`Conflict::TicketChanged`] once the
/// set of records with the ticket id changed.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn ticket_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "ticket_lookups";
    let s = f.fresh().await;
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
            with_ticket(6, A, " "),
        ],
    )
    .await?;
    seed(C, &s, &[with_ticket(4, B, "T-1")]).await?;
    let found = async |t: TenantId, ticket: &str| -> Result<Vec<RecordId>, Failure> {
        let mut ids: Vec<RecordId> = s
            .records_by_ticket(t, ticket)
            .await
            .map_err(|e| fail(C, format!("records_by_ticket failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    };
    let blank = found(A, "  ").await?;
    ensure(C, blank.is_empty(), || {
        format!("records_by_ticket(A, \"  \"): expected nothing for a blank ticket id, the store returned {blank:?}")
    })?;
    let got = found(A, "T-1").await?;
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
    )
    .await?;
    seed(C, &s, &[with_ticket(5, A, "T-1")]).await?;
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
        async || linked(C, &s, A, rid(1)).await,
    )
    .await?;
    // An update of the ticket id moves the record in the index.
    let moved = effects_plan(
        A,
        vec![Effect::UpdateRecord {
            record: rid(3),
            changes: vec![crate::plan::FieldChange {
                field: crate::fields::FieldName::TICKET_ID.into(),
                old: Some("t-1".into()),
                new: "T-9".into(),
                rule: crate::plan::RuleId::A28,
            }],
        }],
        vec![],
    );
    must_apply(
        C,
        &s,
        "an UpdateRecord of record 3's ticket id from \"t-1\" to \"T-9\"",
        &moved,
    )
    .await?;
    let now = found(A, "T-9").await?;
    let before = found(A, "t-1").await?;
    ensure(C, now == [rid(3)] && before.is_empty(), || {
        format!("after an UpdateRecord of record 3's ticket id from \"t-1\" to \"T-9\": expected \"T-9\" to find record 3 and \"t-1\" none, the store found {now:?} and {before:?}")
    })
}

/// Aliases (B15): `records_by_email` finds a record by its email and by
/// each alias in [`crate::FieldName::EMAIL_ALIASES`] (under the store's
/// normalization), once however many of its addresses share the key, and
/// per tenant; the `EmailKey` precondition counts alias holders
/// ([`Conflict::EmailKeyChanged`] once a record takes the key as an alias);
/// `UpdateRecord` moves the alias keys with the aliases and with the email
/// (an alias equal to the email is found as the email); a merged-away
/// record is found by its aliases no more.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn alias_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "alias_lookups";
    const ALIASES: &str = crate::fields::FieldName::EMAIL_ALIASES;
    let s = f.fresh().await;
    let with_aliases = |n: u128, t: TenantId, email: &str, aliases: &str| {
        let mut r = record(n, t, email);
        r.fields.set(ALIASES.into(), aliases.into());
        r
    };
    seed(
        C,
        &s,
        &[
            with_aliases(
                1,
                A,
                "kit@example.org",
                "Old.Kit@Example.org, kit@example.org",
            ),
            record(2, A, "other@example.org"),
        ],
    )
    .await?;
    seed(
        C,
        &s,
        &[with_aliases(3, B, "x@example.org", "old.kit@example.org")],
    )
    .await?;
    let expect = async |what: &str, email: &str, t: TenantId, want: &[u128]| -> Check {
        let got = lookup(C, &s, t, email).await?;
        let want: Vec<RecordId> = want.iter().map(|n| rid(*n)).collect();
        ensure(C, got == want, || {
            format!(
                "{what}: records_by_email({email}) expected {want:?}, the store returned {got:?}"
            )
        })
    };
    expect(
        "record 1 has the alias Old.Kit@Example.org",
        "old.kit@example.org",
        A,
        &[1],
    )
    .await?;
    expect(
        "record 1's alias repeats its own email",
        "kit@example.org",
        A,
        &[1],
    )
    .await?;
    expect(
        "tenant B's record 3 has the same alias",
        "old.kit@example.org",
        B,
        &[3],
    )
    .await?;
    let update = |n: u128, field: &str, new: &str| Effect::UpdateRecord {
        record: rid(n),
        changes: vec![crate::plan::FieldChange {
            field: field.into(),
            old: None,
            new: new.into(),
            rule: crate::plan::RuleId::B15,
        }],
    };
    let holds = Precondition::EmailKey {
        key: key(C, "old.kit@example.org")?,
        records: vec![rid(1)],
    };
    must_apply(
        C,
        &s,
        "an EmailKey precondition for an alias's key, held by record 1",
        &effects_plan(
            A,
            vec![update(2, ALIASES, "old.kit@example.org")],
            vec![holds.clone()],
        ),
    )
    .await?;
    expect(
        "record 2 took the alias old.kit@example.org",
        "old.kit@example.org",
        A,
        &[1, 2],
    )
    .await?;
    must_refuse(
        C,
        &s,
        "an EmailKey precondition for records [1] after record 2 took the key as an alias",
        &effects_plan(A, vec![update(1, "first_name", "Kim")], vec![holds]),
        "Conflict::EmailKeyChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::EmailKeyChanged)),
        async || lookup(C, &s, A, "old.kit@example.org").await,
    )
    .await?;
    must_apply(
        C,
        &s,
        "UpdateRecord(email -> new@) on record 1, whose aliases hold kit@",
        &effects_plan(A, vec![update(1, "email", "new@example.org")], vec![]),
    )
    .await?;
    expect(
        "record 1's email changed; kit@ is still its alias",
        "kit@example.org",
        A,
        &[1],
    )
    .await?;
    expect("record 1's new email", "new@example.org", A, &[1]).await?;
    must_apply(
        C,
        &s,
        "UpdateRecord(email_aliases -> blank) on record 1",
        &effects_plan(A, vec![update(1, ALIASES, "")], vec![]),
    )
    .await?;
    expect("record 1 has no aliases left", "kit@example.org", A, &[]).await?;
    expect(
        "record 1 has no aliases left",
        "old.kit@example.org",
        A,
        &[2],
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    expect(
        "record 2, merged away, had the alias",
        "old.kit@example.org",
        A,
        &[],
    )
    .await
}

/// A blocking (B19) with one pass per kind of transform, for factories
/// that want [`block_lookups_async`] to exercise their block index: build
/// the stores with it.
pub fn blocking() -> Blocking {
    use crate::linkage::{BlockingRule, KeyPart, Transform};
    Blocking::new(vec![
        BlockingRule::new(vec![
            KeyPart::new("last_name", Transform::Soundex),
            KeyPart::new("first_name", Transform::Prefix { chars: 1 }),
        ]),
        BlockingRule::new(vec![KeyPart::new("date_of_birth", Transform::YearMonth)]),
        BlockingRule::new(vec![KeyPart::new("email", Transform::EmailDomain)]),
        BlockingRule::new(vec![
            KeyPart::new("city", Transform::Lowercase),
            KeyPart::new("last_name", Transform::DoubleMetaphone),
        ]),
    ])
}

/// A value of `field` that `transform` turns into a key part: one of two
/// people (`which`).
fn block_value(transform: crate::linkage::Transform, which: bool) -> &'static str {
    use crate::linkage::Transform as T;
    match (transform, which) {
        (T::Year | T::YearMonth | T::MonthDay, false) => "1980-01-01",
        (T::Year | T::YearMonth | T::MonthDay, true) => "1975-06-30",
        (T::EmailLocal | T::EmailDomain, false) => "kit@example.org",
        (T::EmailLocal | T::EmailDomain, true) => "sam.lee@example.net",
        (_, false) => "Meyer",
        (_, true) => "Watson",
    }
}

/// Blocking keys (B19): under the store's own [`ContactStore::blocking`]
/// (the check reads it; build the stores with [`blocking`] or the host's
/// own), `records_by_block` finds each record by each of its keys
/// ([`Blocking::keys`] with the store's normalization), sorted and per
/// tenant; `UpdateRecord` moves a record between blocks; the `BlockKey`
/// precondition holds while its block is unchanged and is
/// [`Conflict::BlockChanged`] after; a merged-away record is found no
/// more. A store indexing no blocking must find nothing by any key.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn block_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "block_lookups";
    let s = f.fresh().await;
    let b = s.blocking();
    let n = s.normalization();
    ensure(C, !(f.keeps().blocks && b.is_empty()), || {
        "the factory declares blocks (the default) but the store's blocking() is empty: \
         a store wrapping another must forward blocking() and records_by_block; a store \
         without blocks declares so (testkit::declare(Keeps::everything().with_blocks(false), ..))"
            .into()
    })?;
    let person = |n: u128, t: TenantId, which: bool| {
        let mut r = record(
            n,
            t,
            if which {
                "sam@example.com"
            } else {
                "kit@example.com"
            },
        );
        for p in b.rules.iter().flat_map(|r| &r.parts) {
            r.fields
                .set(p.field.clone(), block_value(p.transform, which).into());
        }
        r
    };
    seed(C, &s, &[person(1, A, false), person(2, A, true)]).await?;
    seed(C, &s, &[person(3, B, false)]).await?;
    let find = async |t: TenantId, k: &BlockKey| -> Result<Vec<RecordId>, Failure> {
        let mut ids: Vec<RecordId> = s
            .records_by_block(t, k)
            .await
            .map_err(|e| fail(C, format!("block lookup failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let sorted = ids.windows(2).all(|w| w.first() < w.get(1));
        ensure(C, sorted, || {
            format!("records_by_block must answer sorted by id, each once: {ids:?}")
        })?;
        ids.dedup();
        Ok(ids)
    };
    let expect = async |what: &str, t: TenantId, keys: &[BlockKey], want: &[u128]| -> Check {
        let want: Vec<RecordId> = want.iter().map(|n| rid(*n)).collect();
        for (i, k) in keys.iter().enumerate() {
            let got = find(t, k).await?;
            ensure(C, got == want, || {
                format!("{what}: records_by_block(key {i} of {}) expected {want:?}, the store returned {got:?}", keys.len())
            })?;
        }
        Ok(())
    };
    let kit = b.keys(&person(0, A, false).fields, &n);
    let sam = b.keys(&person(0, A, true).fields, &n);
    if b.is_empty() {
        let any = BlockKey::from_stored("0\u{1f}meyer");
        return expect("the store indexes no blocking", A, &[any], &[]).await;
    }
    ensure(
        C,
        !kit.is_empty() && kit.iter().all(|k| !sam.contains(k)),
        || {
            "the store's blocking gives the suite's two people no keys of their own: use testkit::blocking()".into()
        },
    )?;
    expect("record 1 (tenant A) has these keys", A, &kit, &[1]).await?;
    expect("record 2 (tenant A) has these keys", A, &sam, &[2]).await?;
    expect("record 3 has record 1's keys in tenant B", B, &kit, &[3]).await?;
    let moves: Vec<crate::plan::FieldChange> = person(0, A, true)
        .fields
        .iter()
        .map(|(name, v)| crate::plan::FieldChange {
            field: name.clone(),
            old: None,
            new: v.clone(),
            rule: crate::plan::RuleId::B19,
        })
        .collect();
    let first = sam
        .first()
        .cloned()
        .unwrap_or_else(|| BlockKey::from_stored(""));
    must_apply(
        C,
        &s,
        "UpdateRecord giving record 1 record 2's values, under a BlockKey precondition holding [2]",
        &effects_plan(
            A,
            vec![Effect::UpdateRecord {
                record: rid(1),
                changes: moves,
            }],
            vec![Precondition::BlockKey {
                key: first.clone(),
                records: vec![rid(2)],
            }],
        ),
    )
    .await?;
    expect("record 1 moved to record 2's blocks", A, &sam, &[1, 2]).await?;
    expect("record 1 left its old blocks", A, &kit, &[]).await?;
    expect("tenant B's record 3 stays", B, &kit, &[3]).await?;
    must_refuse(
        C,
        &s,
        "a BlockKey precondition holding [2] after record 1 joined the block",
        &effects_plan(
            A,
            vec![],
            vec![Precondition::BlockKey {
                key: first.clone(),
                records: vec![rid(2)],
            }],
        ),
        "Conflict::BlockChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::BlockChanged)),
        async || find(A, &first).await,
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    expect("record 2, merged into 1, is found no more", A, &sam, &[1]).await
}

/// `UpdateRecord` raises the version by exactly one per effect (also with
/// no changes), blank values read back blank, a changed email moves the
/// record to its new key, a stale `RecordVersion` is
/// [`Conflict::VersionChanged`], and unknown records are refused.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn updates_and_versions_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "updates_and_versions";
    let s = f.fresh().await;
    let mut r = record(1, A, "old@example.org");
    r.fields.set("job_title".into(), "CTO".into());
    seed(C, &s, &[r]).await?;
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
    let read = async || -> Result<Option<Record>, Failure> {
        s.record(A, rid(1)).await.map_err(|e| fail(C, chain(&e)))
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
    )
    .await?;
    let now = read()
        .await?
        .ok_or_else(|| fail(C, "record 1 is gone after an update"))?;
    ensure(C, now.version == 3, || {
        format!("two UpdateRecord effects (one without changes) on a record at version 1: expected version 3, the store has {}", now.version)
    })?;
    ensure(C, now.fields.is_empty_at("job_title"), || {
        "a change to a blank value: expected job_title to read back blank, it still has a value"
            .into()
    })?;
    let (old_key, new_key) = (
        lookup(C, &s, A, "old@example.org").await?,
        lookup(C, &s, A, "new@example.org").await?,
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
        &read,
    )
    .await?;
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
        &read,
    )
    .await?;
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
    )
    .await?;
    let after = read().await?;
    ensure(C, after.as_ref() == Some(&now), || {
        "UpdateSubject changed a record".into()
    })?;
    versions_kept_never_clamped(f).await
}

/// The version part of [`updates_and_versions_async`]: `CreateRecord` keeps
/// the version it is given (a restore or a host's import brings one), and
/// the store refuses with [`ApplyError::VersionOverflow`], never clamps or
/// wraps, at the largest version it holds (B6).
async fn versions_kept_never_clamped<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "updates_and_versions";
    let s = f.fresh().await;
    let at = |n: u128, version: u64| {
        let mut r = record(n, A, "v@example.org");
        r.version = version;
        r
    };
    let version_of = async |n: u128| -> Result<Option<u64>, Failure> {
        Ok(s.record(A, rid(n))
            .await
            .map_err(|e| fail(C, chain(&e)))?
            .map(|r| r.version))
    };
    let bump = |n: u128| {
        effects_plan(
            A,
            vec![Effect::UpdateRecord {
                record: rid(n),
                changes: vec![],
            }],
            vec![],
        )
    };
    seed(C, &s, &[at(1, 7)]).await?;
    let got = version_of(1).await?;
    ensure(C, got == Some(7), || {
        format!("injected a CreateRecord at version 7: expected version 7 read back, the store holds {got:?}")
    })?;
    // The largest version: u64::MAX, or the store's own bound below it.
    for (n, version) in [(2, u64::MAX), (3, i64::MAX as u64)] {
        match s.apply(&seed_plan(&[at(n, version)])).await {
            Err(ApplyError::VersionOverflow(r)) if r == rid(n) => continue,
            Err(e) => {
                return Err(fail(
                    C,
                    format!("injected a CreateRecord at version {version}: expected Ok or ApplyError::VersionOverflow, the store returned {}", chain(&e)),
                ))
            }
            Ok(()) => {}
        }
        let got = version_of(n).await?;
        ensure(C, got == Some(version), || {
            format!("injected a CreateRecord at version {version}: expected it read back, the store holds {got:?}")
        })?;
        let result = s.apply(&bump(n)).await;
        let after = version_of(n).await?;
        let ok = match &result {
            Err(ApplyError::VersionOverflow(r)) => *r == rid(n) && after == Some(version),
            Ok(()) => version < u64::MAX && after == Some(version + 1),
            Err(_) => false,
        };
        ensure(C, ok, || {
            format!(
                "injected an UpdateRecord of a record at version {version}: expected version {} or ApplyError::VersionOverflow with the record unchanged, the store returned {} and holds version {after:?}",
                version.wrapping_add(1),
                result.as_ref().map_or_else(|e| chain(e), |()| "Ok".into()),
            )
        })?;
        return Ok(());
    }
    Err(fail(
        C,
        "the store refused a CreateRecord at version i64::MAX as well as u64::MAX: \
         the contract asks for every version up to i64::MAX",
    ))
}

/// A merge deletes the retired record and moves its links and memberships
/// to the survivor (whose own ticket id on a shared membership stays),
/// without changing the survivor's version.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn merges_move_links_and_members_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "merges_move_links_and_members";
    let s = fresh_pair(C, f, "dup@example.org", "dup@example.org").await?;
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
                member(1, "no-ticket", None),
                member(2, "no-ticket", Some("T-5")),
            ],
            vec![],
        ),
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    let gone = s.record(A, rid(2)).await.map_err(|e| fail(C, chain(&e)))?;
    ensure(C, gone.is_none(), || {
        "the merged-away record 2 is still there".into()
    })?;
    let survivor = s.record(A, rid(1)).await.map_err(|e| fail(C, chain(&e)))?;
    ensure(C, survivor.as_ref().map(|r| r.version) == Some(1), || {
        format!(
            "MergeRecord alone: expected survivor 1 at version 1, the store has {:?}",
            survivor.map(|r| r.version)
        )
    })?;
    let subjects = linked(C, &s, A, rid(1)).await?;
    ensure(C, subjects == [sid(1), sid(2)], || {
        format!("after the merge: expected subjects 1 and 2 linked to the survivor, the store has {subjects:?}")
    })?;
    let got = members(C, &s, A, rid(1)).await?;
    let want = vec![
        ("no-ticket".to_owned(), Some("T-5".to_owned())),
        ("only-2".to_owned(), Some("T-9".to_owned())),
        ("shared".to_owned(), Some("T-1".to_owned())),
    ];
    ensure(C, got == want, || {
        format!("after the merge: expected memberships {want:?} (the survivor's ticket id stays; a survivor without one takes the merged record's), the store has {got:?}")
    })?;
    let left = members(C, &s, A, rid(2)).await?;
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
        async || linked(C, &s, A, rid(1)).await,
    )
    .await
}

/// The parts of [`events_async`] for a store that records events: events
/// are recorded per tenant (another tenant's event of the same id is new
/// to this one), and a batch plan records every event it holds (B5, B7).
async fn events_per_tenant_and_batch<F: AsyncStoreFactory>(f: &F, e: &Engine) -> Check {
    const C: &str = "events";
    let s = f.fresh().await;
    let first = registration(1, 1, A, "new@example.org");
    let plan = e
        .plan_async(&s, &first)
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "event 1 in tenant A", &plan).await?;
    // Event 1 of tenant B: another payload, the same id.
    let other = registration(1, 2, B, "other@example.org");
    let plan = e.plan_async(&s, &other).await.map_err(|x| {
        fail(
            C,
            format!(
                "injected event 1 of tenant B after tenant A applied its own event 1: \
                 expected a plan (events are per tenant), planning failed: {}",
                chain(&x)
            ),
        )
    })?;
    ensure(C, !plan.effects.is_empty(), || {
        "event 1 of tenant B planned no effects after tenant A applied its event 1: \
         applied events must be recorded per tenant"
            .into()
    })?;
    must_apply(
        C,
        &s,
        "event 1 of tenant B after tenant A applied its own event 1 (events are per tenant)",
        &plan,
    )
    .await?;
    // A batch of two events: both recorded.
    let batch = [
        registration(2, 3, A, "two@example.org"),
        registration(3, 4, A, "three@example.org"),
    ];
    let plan = e
        .plan_batch_async(&s, &batch)
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "a batch plan of events 2 and 3", &plan).await?;
    for ev in &batch {
        let d = s
            .event_digest(A, ev.id())
            .await
            .map_err(|x| fail(C, chain(&x)))?;
        ensure(C, d == Some(ev.digest()), || {
            format!(
                "injected a batch plan of events 2 and 3: expected each recorded with its \
                 digest, event {} reads back {d:?}",
                ev.id()
            )
        })?;
    }
    Ok(())
}

/// A store that records events (B7) answers [`Conflict::EventApplied`] for
/// the same event and digest and [`Conflict::EventPayloadChanged`] for
/// another digest; a store that keeps the default
/// [`ContactStore::event_digest`] records nothing, and a redelivery then
/// creates no second record (the contract on [`ApplyPlan`]).
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn events_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "events";
    let s = f.fresh().await;
    let e = engine(C)?;
    let ev = registration(1, 1, A, "new@example.org");
    let plan = e
        .plan_async(&s, &ev)
        .await
        .map_err(|x| fail(C, chain(&x)))?;
    must_apply(C, &s, "a registration of a new email", &plan).await?;
    let digest = s
        .event_digest(A, EventId::from_u128(1))
        .await
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
                async || lookup(C, &s, A, "new@example.org").await,
            )
            .await?;
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
                async || lookup(C, &s, A, "new@example.org").await,
            )
            .await?;
            let again = e
                .plan_async(&s, &ev)
                .await
                .map_err(|x| fail(C, chain(&x)))?;
            ensure(C, again.effects.is_empty(), || {
                "a redelivered event planned effects although the store recorded it".into()
            })?;
            events_per_tenant_and_batch(f, &e).await
        }
        None => {
            // Not recorded: the redelivery is planned again and must not
            // create a second record.
            e.plan_and_apply_async(&s, &ev, 3)
                .await
                .map_err(|x| fail(C, format!("the redelivery failed: {}", chain(&x))))?;
            let ids = lookup(C, &s, A, "new@example.org").await?;
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
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn record_ids_are_global_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "record_ids_are_global";
    let s = f.fresh().await;
    seed(C, &s, &[record(1, A, "ann@example.org")]).await?;
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
        match s.apply(&plan).await {
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
    let a = s.record(A, taken).await.map_err(|e| fail(C, chain(&e)))?;
    ensure(
        C,
        a.is_some_and(|r| r.fields.text("email") == "ann@example.org"),
        || "tenant A's record changed or went missing".into(),
    )?;
    for id in [taken, RecordId::from_u128(2)] {
        let b = s.record(B, id).await.map_err(|e| fail(C, chain(&e)))?;
        ensure(C, b.is_none(), || {
            format!("tenant B holds record {id} after a refused plan")
        })?;
    }
    Ok(())
}

/// Drives a check over a [`Ready`] store: every future it awaits is ready
/// at once, so one poll finishes it (no runtime, nothing blocks).
fn at_once(check: &'static str, future: impl Future<Output = Check>) -> Check {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(fail(
            check,
            "the check did not finish over a synchronous store (a future was pending)",
        )),
    }
}

/// The synchronous factory behind the async checks.
struct Synced<'a, F>(&'a F);

impl<F: StoreFactory> AsyncStoreFactory for Synced<'_, F> {
    type Store = Ready<F::Store>;
    fn fresh(&self) -> impl Future<Output = Self::Store> {
        std::future::ready(Ready(self.0.fresh()))
    }
    fn keeps(&self) -> Keeps {
        self.0.keeps()
    }
}

/// The synchronous form of each async check: the same check over the
/// store behind [`Ready`].
macro_rules! synchronous_checks {
    ($($name:ident => $async_name:ident),* $(,)?) => {$(
        #[doc = concat!("[`", stringify!($async_name), "`] for a synchronous store.")]
        #[doc = ""]
        #[doc = "# Errors"]
        #[doc = "A [`Failure`] saying what did not hold."]
        pub fn $name<F: StoreFactory>(f: &F) -> Check {
            at_once(stringify!($name), $async_name(&Synced(f)))
        }
    )*};
}

synchronous_checks! {
    key_lookups => key_lookups_async,
    tenant_isolation => tenant_isolation_async,
    record_ids_are_global => record_ids_are_global_async,
    links_and_unlinks => links_and_unlinks_async,
    campaign_membership => campaign_membership_async,
    ticket_lookups => ticket_lookups_async,
    alias_lookups => alias_lookups_async,
    block_lookups => block_lookups_async,
    field_history => field_history_async,
    updates_and_versions => updates_and_versions_async,
    merges_move_links_and_members => merges_move_links_and_members_async,
    events => events_async,
    all_or_nothing => all_or_nothing_async,
    stale_preconditions => stale_preconditions_async,
    batches => batches_async,
    idempotent_reapply => idempotent_reapply_async,
    merges => merges_async,
}

fn failures(results: impl IntoIterator<Item = Check>) -> Result<(), Vec<Failure>> {
    let failures: Vec<Failure> = results.into_iter().filter_map(Result::err).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// The failure of a factory declaring undo run without it.
fn undo_declared() -> Failure {
    fail(
        "undo",
        "the factory declares undo (the default declaration): run testkit::run_all_undo \
         (the store must be an UndoStore), or declare what the store keeps with \
         testkit::declare(Keeps::everything().with_undo(false), ..)",
    )
}

/// The checks every store runs, and those its declaration implies but
/// undo.
fn core_and_declared<F: StoreFactory>(f: &F) -> Vec<Check> {
    let checks: [fn(&F) -> Check; 18] = [
        key_lookups::<F>,
        record_ids_by_email::<F>,
        tenant_isolation::<F>,
        record_ids_are_global::<F>,
        links_and_unlinks::<F>,
        campaign_membership::<F>,
        ticket_lookups::<F>,
        alias_lookups::<F>,
        block_lookups::<F>,
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
    let mut out: Vec<Check> = checks.iter().map(|c| c(f)).collect();
    if f.keeps().history {
        out.push(field_history(f));
    }
    out
}

/// Runs every check on a synchronous store, and every check its
/// declaration ([`StoreFactory::keeps`]) implies: [`field_history`] for a
/// store keeping a history. A factory declaring undo (the default) fails:
/// run [`run_all_undo`] for an [`UndoStore`], or [`declare`] less.
///
/// # Errors
/// Every check that did not hold.
pub fn run_all<F: StoreFactory>(f: &F) -> Result<(), Vec<Failure>> {
    let mut results = core_and_declared(f);
    if f.keeps().undo {
        results.push(Err(undo_declared()));
    }
    failures(results)
}

/// [`run_all`] for a store that undoes plans: every check, [`undo`] too
/// when the factory declares it (the default).
///
/// # Errors
/// Every check that did not hold.
pub fn run_all_undo<F: StoreFactory>(f: &F) -> Result<(), Vec<Failure>>
where
    F::Store: UndoStore,
{
    let mut results = core_and_declared(f);
    if f.keeps().undo {
        results.push(undo(f));
    }
    failures(results)
}

/// Runs every check on an async store, one after the other (the
/// concurrency check runs its racers as concurrent futures); returns all
/// failures. Await it on any runtime: the suite spawns nothing.
///
/// ```
/// # #[cfg(feature = "testkit")] {
/// use contact_sync::{store::asynchronous::Ready, testkit, InMemoryStore};
/// // A store that keeps no undo and no blocks says so; everything else runs.
/// let keeps = testkit::Keeps::everything().with_undo(false).with_blocks(false);
/// let factory = testkit::declare(keeps, || std::future::ready(Ready(InMemoryStore::new())));
/// // In a host's test: `#[tokio::test]` and `.await`, or any executor.
/// pollster::block_on(testkit::run_all_async(&factory)).unwrap();
/// # }
/// ```
///
/// # Errors
/// Every check that did not hold.
pub async fn run_all_async<F: AsyncStoreFactory>(f: &F) -> Result<(), Vec<Failure>> {
    let mut results = core_and_declared_async(f).await;
    if f.keeps().undo {
        results.push(Err(undo_declared()));
    }
    failures(results)
}

/// [`run_all_async`] for a store that undoes plans: every check,
/// [`undo_async`] too when the factory declares it (the default).
///
/// # Errors
/// Every check that did not hold.
pub async fn run_all_undo_async<F: AsyncStoreFactory>(f: &F) -> Result<(), Vec<Failure>>
where
    F::Store: AsyncUndoStore,
{
    let mut results = core_and_declared_async(f).await;
    if f.keeps().undo {
        results.push(undo_async(f).await);
    }
    failures(results)
}

async fn core_and_declared_async<F: AsyncStoreFactory>(f: &F) -> Vec<Check> {
    let mut out = vec![
        key_lookups_async(f).await,
        tenant_isolation_async(f).await,
        record_ids_are_global_async(f).await,
        links_and_unlinks_async(f).await,
        campaign_membership_async(f).await,
        ticket_lookups_async(f).await,
        alias_lookups_async(f).await,
        block_lookups_async(f).await,
        updates_and_versions_async(f).await,
        merges_move_links_and_members_async(f).await,
        events_async(f).await,
        all_or_nothing_async(f).await,
        stale_preconditions_async(f).await,
        concurrent_registrations_async(f).await,
        batches_async(f).await,
        idempotent_reapply_async(f).await,
        merges_async(f).await,
    ];
    if f.keeps().history {
        out.push(field_history_async(f).await);
    }
    out
}
