//! Builders shared by the integration tests.
#![allow(dead_code)]

use contact_sync::*;

pub const T: TenantId = TenantId::from_u128(0x7e);
pub const OTHER: TenantId = TenantId::from_u128(0x07);

pub fn fields(pairs: &[(&str, &str)]) -> Fields {
    Fields::from_pairs(pairs.iter().copied())
}

pub fn rid(n: u128) -> RecordId {
    RecordId::from_u128(n)
}

pub fn sid(n: u128) -> SubjectId {
    SubjectId::from_u128(n)
}

pub fn eid(n: u128) -> EventId {
    EventId::from_u128(n)
}

pub fn contact(n: u128, pairs: &[(&str, &str)]) -> Record {
    Record::new(rid(n), T, RecordType::Contact, fields(pairs))
}

pub fn lead(n: u128, pairs: &[(&str, &str)]) -> Record {
    Record::new(rid(n), T, RecordType::Lead, fields(pairs))
}

pub fn store_with(records: Vec<Record>) -> InMemoryStore {
    let s = InMemoryStore::new();
    s.extend(records).unwrap();
    s
}

pub fn booker(n: u128, pairs: &[(&str, &str)]) -> Subject {
    Subject::booker(sid(n), fields(pairs))
}

pub fn attendee(n: u128, pairs: &[(&str, &str)]) -> Subject {
    Subject::attendee(sid(n), fields(pairs))
}

pub fn registration(event: u128, subjects: Vec<Subject>) -> Event {
    Event::Registered(Registration::new(eid(event), T, subjects))
}

pub fn registration_with(
    event: u128,
    channel: Channel,
    campaign: Option<&str>,
    subjects: Vec<Subject>,
) -> Event {
    Event::Registered({
        let mut r = Registration::new(eid(event), T, subjects);
        r.channel = channel;
        r.campaign = campaign.map(|c| CampaignId(c.into()));
        r
    })
}

pub fn edit(event: u128, subject: Subject, new: &[(&str, &str)], source: EditSource) -> Event {
    Event::Edited(Edit::new(eid(event), T, subject, fields(new), source))
}

pub fn engine(p: Policy) -> Engine {
    Engine::new(p).unwrap()
}

/// Plans `event` and applies it; returns the plan.
#[track_caller]
pub fn run(policy: &Policy, store: &InMemoryStore, event: &Event) -> Plan {
    let plan = engine(policy.clone()).plan(store, event).unwrap();
    store.apply(&plan).unwrap();
    plan
}

#[track_caller]
pub fn outcome(plan: &Plan, subject: u128) -> &Outcome {
    plan.outcome(sid(subject))
        .expect("an outcome for the subject")
}

#[track_caller]
pub fn record(store: &InMemoryStore, id: RecordId) -> Record {
    store.record(T, id).unwrap().expect("record exists")
}

pub fn text(store: &InMemoryStore, id: RecordId, field: &str) -> String {
    record(store, id).fields.text(field).to_owned()
}

#[track_caller]
pub fn assert_rules(o: &Outcome, rules: &[RuleId]) {
    for r in rules {
        assert!(
            o.rules.contains(r),
            "expected {r} in {:?} ({})",
            o.rules,
            o.explanation()
        );
    }
}

/// The Salesforce preset with the order-form and generated fields the tests use mapped.
/// `p`, failing a whole plan on the first subject with invalid input
/// instead of leaving the subject out (B20).
pub fn strict(mut p: Policy) -> Policy {
    p.invalid_subjects = InvalidSubjects::Fail;
    p
}

pub fn sf(t: RecordType) -> Policy {
    let mut p = Policy::salesforce(t);
    p.fields = p
        .fields
        .map("job_title", FieldClass::FormField)
        .map("organization", FieldClass::FormField)
        .map("order_id", FieldClass::Generated)
        .map("ticket_type", FieldClass::Generated)
        .map("tracking_link", FieldClass::Generated);
    p
}

pub fn holder(n: u128, pairs: &[(&str, &str)]) -> Subject {
    attendee(n, pairs)
}

pub fn order(event: u128, subjects: Vec<Subject>) -> Event {
    registration_with(event, Channel::Online, Some("701-CAMP"), subjects)
}

/// An order of one holder (subject 10, event 1) with `pairs`, planned and
/// applied against a store holding `records`.
pub fn one_holder(policy: &Policy, records: Vec<Record>, pairs: &[(&str, &str)]) -> Plan {
    run(
        policy,
        &store_with(records),
        &order(1, vec![holder(10, pairs)]),
    )
}

/// An in-memory store whose `apply` is replaced: negative controls, faults,
/// commit logs. Reads go to `store`.
pub struct Rigged<F> {
    pub store: InMemoryStore,
    pub apply: F,
}

type ApplyResult = Result<(), ApplyError<std::convert::Infallible>>;

impl<F> ContactStore for Rigged<F> {
    type Error = std::convert::Infallible;
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, Self::Error> {
        self.store.records_by_email(t, k)
    }
    fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, Self::Error> {
        self.store.record(t, id)
    }
    fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, Self::Error> {
        self.store.records_by_ticket(t, ticket)
    }
    fn event_digest(&self, t: TenantId, e: EventId) -> Result<Option<EventDigest>, Self::Error> {
        self.store.event_digest(t, e)
    }
    fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, Self::Error> {
        self.store.linked_subjects(t, r)
    }
    fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, Self::Error> {
        self.store.campaign_memberships(t, r)
    }
}

impl<F: Fn(&InMemoryStore, &Plan) -> ApplyResult> ApplyPlan for Rigged<F> {
    type Error = std::convert::Infallible;
    fn apply(&self, plan: &Plan) -> ApplyResult {
        (self.apply)(&self.store, plan)
    }
}

/// Applies plans without checking their preconditions: the negative control.
pub fn skips_preconditions() -> contact_sync::testkit::Faulty<InMemoryStore> {
    use contact_sync::testkit::{Fault, Faulty};
    Faulty::new(InMemoryStore::new(), Fault::SkipPreconditions)
}

/// An empty in-memory store indexing records by `blocking` (B19).
pub fn blocked_by(blocking: contact_sync::linkage::Blocking) -> InMemoryStore {
    let mut store = InMemoryStore::new();
    store.set_blocking(blocking);
    store
}
#[cfg(feature = "postgres")]
pub mod pg;
