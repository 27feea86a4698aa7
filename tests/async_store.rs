//! The async shell (B5, B6, B7): async stores plan and apply as the sync
//! ones do, futures are `Send`, and the sans-IO batch pair decides a batch
//! exactly as `plan_batch` does.

use crate::common::*;
use contact_sync::testkit::{Fault, Faulty};
use contact_sync::Ready;
use contact_sync::*;
use proptest::prelude::*;

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[test]
fn b6_plan_async_equals_plan_and_its_future_is_send() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let e = engine(Policy::doo().with_sync(true));
    let ev = registration(
        1,
        vec![
            booker(10, &[("email", "ann@example.org"), ("phone", "1")]),
            attendee(11, &[("email", "bo@example.org")]),
        ],
    );
    let sync_plan = e.plan(&store, &ev).unwrap();
    let shell = Ready(store);
    let async_plan = pollster::block_on(assert_send(e.plan_async(&shell, &ev))).unwrap();
    assert_eq!(async_plan, sync_plan);
}

#[test]
fn b5_b6_plan_and_apply_async_applies_once_and_redeliveries_plan_nothing() {
    let shell = Ready(InMemoryStore::new());
    let e = engine(Policy::doo());
    let ev = registration(1, vec![attendee(10, &[("email", "new@example.org")])]);
    let plan = pollster::block_on(assert_send(e.plan_and_apply_async(&shell, &ev, 3))).unwrap();
    assert_eq!(plan.created().count(), 1);
    assert_eq!(shell.0.records(T).len(), 1);
    let again = pollster::block_on(e.plan_and_apply_async(&shell, &ev, 3)).unwrap();
    assert!(again.is_empty(), "a redelivery plans nothing (B7)");
    assert_eq!(shell.0.records(T).len(), 1);
}

#[test]
fn b6_plan_and_apply_async_retries_a_conflict_and_gives_up_after_max_attempts() {
    // A store whose apply always reports a conflict.
    let store = Ready(Faulty::new(InMemoryStore::new(), Fault::Conflict));
    let e = engine(Policy::doo());
    let ev = registration(1, vec![attendee(10, &[("email", "new@example.org")])]);
    let err = pollster::block_on(e.plan_and_apply_async(&store, &ev, 4)).unwrap_err();
    // Exactly four applies: no attempt more, none less.
    assert_eq!(store.0.applies(), 4);
    assert!(
        matches!(
            err,
            RetryError::Exhausted {
                attempts: 4,
                last: Conflict::EmailKeyChanged
            }
        ),
        "{err:?}"
    );
}

#[test]
fn b1_plan_async_refuses_a_store_with_another_normalization() {
    let shell = Ready(InMemoryStore::with_normalization(Normalization {
        fold_plus_tags: true,
        fold_gmail_dots: false,
    }));
    let ev = registration(1, vec![attendee(10, &[("email", "a@example.org")])]);
    let err = pollster::block_on(engine(Policy::doo()).plan_async(&shell, &ev)).unwrap_err();
    assert!(
        matches!(err, PlanError::Invalid(Error::NormalizationMismatch)),
        "{err:?}"
    );
}

fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ann@example.org".to_owned()),
        Just("ANN@example.org".to_owned()),
        Just("bo@example.org".to_owned()),
        Just("new@example.org".to_owned()),
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// B5: the sans-IO batch pair decides exactly what `plan_batch` does,
    /// including one record per new email shared across events.
    #[test]
    fn b5_needs_batch_and_decide_batch_equal_plan_batch(
        emails in prop::collection::vec((email(), email()), 1..6),
        sync in any::<bool>(),
    ) {
        let store = store_with(vec![
            contact(1, &[("email", "ann@example.org")]),
            contact(2, &[("email", "bo@example.org")]),
            contact(3, &[("email", "bo@example.org")]),
        ]);
        let e = engine(Policy::doo().with_sync(sync));
        let events: Vec<Event> = emails
            .iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let n = i as u128 * 10;
                registration(
                    i as u128 + 1,
                    vec![booker(n + 1, &[("email", a.as_str())]), attendee(n + 2, &[("email", b.as_str())])],
                )
            })
            .collect();
        let planned = e.plan_batch(&store, &events).unwrap();
        let needs = e.needs_batch(&events).unwrap();
        let candidates = ContactStore::fetch(&store, &needs).unwrap();
        prop_assert_eq!(&e.decide_batch(&events, &candidates).unwrap(), &planned);
        let shell = Ready(store);
        prop_assert_eq!(&pollster::block_on(e.plan_batch_async(&shell, &events)).unwrap(), &planned);
        // An email no record had before gets one record, however many
        // subjects in the batch use it (bo's two records make D4 create
        // a new one each time).
        let fresh = planned
            .created()
            .filter(|r| r.fields.text("email") == "new@example.org")
            .count();
        let used = emails.iter().any(|(a, b)| a == "new@example.org" || b == "new@example.org");
        prop_assert_eq!(fresh, usize::from(used), "records for one new email");
    }
}

#[test]
fn b8_needs_batch_refuses_mixed_tenants() {
    let a = registration(1, vec![attendee(10, &[("email", "a@example.org")])]);
    let Event::Registered(mut r) =
        registration(2, vec![attendee(11, &[("email", "a@example.org")])])
    else {
        unreachable!()
    };
    r.tenant = OTHER;
    let e = engine(Policy::doo());
    assert_eq!(
        e.needs_batch(&[a, Event::Registered(r)]),
        Err(Error::MixedTenants)
    );
}

/// A store whose lookups one key at a time fail and whose bulk `fetch`
/// answers: `plan_async` and `plan_batch_async` read through `fetch` (as
/// they do on PostgreSQL, one query per kind of lookup), never key by key.
#[derive(Debug)]
struct BulkOnly(InMemoryStore);

#[derive(Debug, thiserror::Error)]
#[error("a lookup one key at a time")]
struct KeyByKey;

impl AsyncContactStore for BulkOnly {
    type Error = KeyByKey;
    async fn records_by_email(&self, _: TenantId, _: &EmailKey) -> Result<Vec<Record>, KeyByKey> {
        Err(KeyByKey)
    }
    async fn record(&self, _: TenantId, _: RecordId) -> Result<Option<Record>, KeyByKey> {
        Err(KeyByKey)
    }
    async fn records_by_ticket(&self, _: TenantId, _: &str) -> Result<Vec<Record>, KeyByKey> {
        Err(KeyByKey)
    }
    async fn event_digest(&self, _: TenantId, _: EventId) -> Result<Option<EventDigest>, KeyByKey> {
        Err(KeyByKey)
    }
    async fn linked_subjects(&self, _: TenantId, _: RecordId) -> Result<Vec<SubjectId>, KeyByKey> {
        Err(KeyByKey)
    }
    async fn campaign_memberships(
        &self,
        _: TenantId,
        _: RecordId,
    ) -> Result<Vec<CampaignMember>, KeyByKey> {
        Err(KeyByKey)
    }
    async fn fetch(&self, needs: &Needs) -> Result<Candidates, KeyByKey> {
        Ok(ContactStore::fetch(&self.0, needs).unwrap())
    }
}

#[test]
fn b5_b6_plan_async_and_plan_batch_async_read_through_the_stores_fetch() {
    let store = store_with(vec![contact(1, &[("email", "ann@example.org")])]);
    let e = engine(Policy::doo().with_sync(true));
    let events = [
        registration(1, vec![booker(10, &[("email", "ann@example.org")])]),
        registration(2, vec![attendee(11, &[("email", "bo@example.org")])]),
    ];
    let sync_plan = e.plan(&store, &events[0]).unwrap();
    let sync_batch = e.plan_batch(&store, &events).unwrap();
    let bulk = BulkOnly(store);
    assert_eq!(
        pollster::block_on(e.plan_async(&bulk, &events[0])).unwrap(),
        sync_plan
    );
    assert_eq!(
        pollster::block_on(e.plan_batch_async(&bulk, &events)).unwrap(),
        sync_batch
    );
    // The deprecated path reads through the store's fetch as well.
    let needs = e.needs(&events[0]).unwrap();
    #[allow(deprecated)]
    let old = pollster::block_on(Candidates::fetch_async(&bulk, &needs)).unwrap();
    assert_eq!(e.decide(&events[0], &old).unwrap(), sync_plan);
    // And the default fetch is the one key at a time.
    let ready = Ready(InMemoryStore::new());
    let c = pollster::block_on(AsyncContactStore::fetch(&ready, &needs)).unwrap();
    assert_eq!(
        e.decide(&events[0], &c).unwrap(),
        e.plan(&InMemoryStore::new(), &events[0]).unwrap()
    );
}

/// B5, B7: `Engine::import_async` on any async store: chunks, progress
/// after each, and a second run over the same events creates nothing.
#[test]
fn b5_b7_import_async_works_in_chunks_reports_progress_and_resumes() {
    use std::sync::{Arc, Mutex};
    let store = contact_sync::Ready(InMemoryStore::new());
    let engine = engine(Policy::doo());
    let events: Vec<Event> = (0..10u128)
        .map(|n| {
            registration(
                n + 1,
                vec![attendee(
                    n + 1,
                    &[("email", &format!("g{}@example.org", n / 2))],
                )],
            )
        })
        .collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let options = ImportOptions::new()
        .chunk(4)
        .progress(move |p| log.lock().unwrap().push((p.done, p.total, p.created)));
    let first =
        pollster::block_on(engine.import_async(&store, &events[..6], options.clone())).unwrap();
    assert_eq!((first.events, first.created, first.chunks), (6, 3, 2));
    let report = pollster::block_on(engine.import_async(&store, &events, options)).unwrap();
    assert_eq!((report.events, report.created, report.chunks), (10, 2, 3));
    assert_eq!(
        *seen.lock().unwrap(),
        [(4, 6, 2), (6, 6, 3), (4, 10, 0), (8, 10, 1), (10, 10, 2)]
    );
    assert_eq!(store.0.records(T).len(), 5);
}
