//! A conformance suite for stores (feature `testkit`).
//!
//! Any host that implements [`ContactStore`] and [`ApplyPlan`] can check its
//! store against the guarantees the engine relies on:
//!
//! ```
//! # #[cfg(feature = "testkit")] {
//! use contact_sync::{testkit, InMemoryStore};
//! // The in-memory store keeps everything: history, undo, blocks.
//! testkit::run_all_undo(&|| {
//!     let mut store = InMemoryStore::new();
//!     store.set_blocking(testkit::blocking());
//!     store
//! })
//! .unwrap();
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

mod support;
use support::*;
mod lookups;
pub use lookups::*;
mod tenants;
pub use tenants::*;
mod apply;
pub use apply::*;
mod concurrency;
pub use concurrency::*;
mod versions;
pub use versions::*;
mod merges;
pub use merges::*;
mod links;
pub use links::*;
mod history;
pub use history::*;
mod undo;
pub use undo::*;
mod faulty;
pub use faulty::{Fault, Faulty};

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

/// Declares the contract's checks once: each async check's synchronous
/// form (the same check over the store behind [`Ready`]), the list both
/// runners run in this order, and [`CHECKS`], their names.
macro_rules! contract_checks {
    (
        both { $($name:ident => $async_name:ident),* $(,)? }
        own { $($own:ident => $own_async:ident),* $(,)? }
        sync_only { $($sync:ident),* $(,)? }
        history { $hist:ident => $hist_async:ident $(,)? }
    ) => {
        $(
            #[doc = concat!("[`", stringify!($async_name), "`] for a synchronous store.")]
            #[doc = ""]
            #[doc = "# Errors"]
            #[doc = "A [`Failure`] saying what did not hold."]
            pub fn $name<F: StoreFactory>(f: &F) -> Check {
                at_once(stringify!($name), $async_name(&Synced(f)))
            }
        )*

        #[doc = concat!("[`", stringify!($hist_async), "`] for a synchronous store.")]
        #[doc = ""]
        #[doc = "# Errors"]
        #[doc = "A [`Failure`] saying what did not hold."]
        pub fn $hist<F: StoreFactory>(f: &F) -> Check {
            at_once(stringify!($hist), $hist_async(&Synced(f)))
        }

        /// The names of the checks [`run_all`] runs on every store, in
        /// its order (then [`field_history`] and [`undo`] as the store's
        /// declaration implies).
        pub const CHECKS: &[&str] = &[$(stringify!($name),)* $(stringify!($own),)* $(stringify!($sync),)*];

        /// The checks every store runs, and those its declaration implies
        /// but undo.
        fn core_and_declared<F: StoreFactory>(f: &F) -> Vec<Check> {
            let mut out = vec![$($name(f),)* $($own(f),)* $($sync(f),)*];
            if f.keeps().history {
                out.push($hist(f));
            }
            out
        }

        /// [`core_and_declared`] for async stores (the synchronous-only
        /// checks read what the async traits do not have).
        async fn core_and_declared_async<F: AsyncStoreFactory>(f: &F) -> Vec<Check> {
            let mut out = vec![$($async_name(f).await,)* $($own_async(f).await,)*];
            if f.keeps().history {
                out.push($hist_async(f).await);
            }
            out
        }
    };
}

contract_checks! {
    // One async check, its synchronous form generated.
    both {
        key_lookups => key_lookups_async,
        tenant_isolation => tenant_isolation_async,
        record_ids_are_global => record_ids_are_global_async,
        links_and_unlinks => links_and_unlinks_async,
        campaign_membership => campaign_membership_async,
        ticket_lookups => ticket_lookups_async,
        alias_lookups => alias_lookups_async,
        block_lookups => block_lookups_async,
        updates_and_versions => updates_and_versions_async,
        merges_move_links_and_members => merges_move_links_and_members_async,
        events => events_async,
        all_or_nothing => all_or_nothing_async,
        stale_preconditions => stale_preconditions_async,
        batches => batches_async,
        idempotent_reapply => idempotent_reapply_async,
        merges => merges_async,
    }
    // Written for each form (threads race the synchronous store, futures
    // the async one).
    own {
        concurrent_registrations => concurrent_registrations_async,
    }
    // What only the synchronous trait has.
    sync_only {
        record_ids_by_email,
    }
    // Run when the store declares a history.
    history {
        field_history => field_history_async,
    }
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
/// use contact_sync::{testkit, InMemoryStore, Ready};
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
