//! Proptest strategies for hosts' property tests (feature `proptest`).
//!
//! Every value these strategies make is valid input: emails parse, field
//! names pass the limits, events have distinct subject ids, policies
//! validate and store contents have distinct record ids. Emails come from
//! a small pool, written in several spellings (case, spaces, a Unicode
//! domain), so that generated events and records meet: the cases the rules
//! are about (one match, several, none) all occur.
//!
//! A test a host can copy: the plan is deterministic and every subject gets
//! one outcome, whatever the policy, the store and the event.
//!
//! ```
//! # #[cfg(feature = "proptest")] {
//! use contact_sync::strategies;
//! use contact_sync::*;
//! use proptest::prelude::*;
//!
//! proptest!(|(
//!     policy in strategies::policy(),
//!     records in strategies::store_contents(strategies::TENANT, 6),
//!     event in strategies::registration(strategies::TENANT, 4),
//! )| {
//!     let store = InMemoryStore::new();
//!     store.extend(records).unwrap();
//!     let engine = Engine::new(policy).unwrap();
//!     let plan = engine.plan(&store, &event).unwrap();
//!     prop_assert_eq!(&plan, &engine.plan(&store, &event).unwrap());
//!     prop_assert_eq!(plan.outcomes.len(), event.subjects().len());
//!     store.apply(&plan).unwrap();
//! });
//! # }
//! ```

use proptest::prelude::*;

use crate::event::{Channel, EmailChange, Event, Registration, Role, Subject};
use crate::fields::Fields;
use crate::policy::{Ambiguity, Policy};
use crate::record::{EventId, Record, RecordId, RecordType, SubjectId, TenantId};

/// A tenant for generated data.
pub const TENANT: TenantId = TenantId::from_u128(0x7e57);

/// The addresses emails are drawn from (each in several spellings).
const POOL: [&str; 5] = [
    "ann@example.org",
    "bo@example.org",
    "cy.lee@example.net",
    "dee@bücher.example",
    "eve+news@example.com",
];

/// A valid email: one of a small pool of addresses, in one of several
/// spellings of the same key (case, surrounding spaces, IDN form).
pub fn email() -> impl Strategy<Value = String> {
    (0..POOL.len(), 0..4u8).prop_map(|(i, spelling)| {
        let e = POOL.get(i).copied().unwrap_or("ann@example.org");
        match spelling {
            0 => e.to_owned(),
            1 => e.to_uppercase(),
            2 => format!("  {e} "),
            _ => e.replace("bücher", "xn--bcher-kva"),
        }
    })
}

/// A subject's or record's fields: an email (or none, one time in eight)
/// and a few of the usual fields, some blank.
pub fn fields() -> impl Strategy<Value = Fields> {
    let name = prop_oneof![Just(""), Just("Ann"), Just("Bo"), Just("Cy")];
    let company = prop_oneof![Just(""), Just("Acme"), Just("Globex")];
    (
        proptest::option::weighted(0.875, email()),
        name.clone(),
        name,
        company,
    )
        .prop_map(|(email, first, last, company)| {
            Fields::from_pairs([
                ("email", email.as_deref().unwrap_or("")),
                ("first_name", first),
                ("last_name", last),
                ("company", company),
            ])
        })
}

/// A subject with `id`: booker or attendee, with [`fields`].
pub fn subject(id: SubjectId) -> impl Strategy<Value = Subject> {
    (
        prop_oneof![Just(Role::Booker), Just(Role::Attendee)],
        fields(),
    )
        .prop_map(move |(role, f)| Subject::new(id, role, f))
}

/// A registration of `tenant` with 1 to `max_subjects` subjects (distinct
/// ids), its id and channel drawn too.
pub fn registration(tenant: TenantId, max_subjects: usize) -> impl Strategy<Value = Event> {
    let n = 1..=max_subjects.max(1);
    (
        any::<u64>(),
        prop_oneof![Just(Channel::Online), Just(Channel::Manual)],
        proptest::collection::vec(fields(), n),
        proptest::option::of(prop_oneof![
            Just(EmailChange::Reassign),
            Just(EmailChange::Retain)
        ]),
    )
        .prop_map(move |(id, channel, subjects, email_change)| {
            Event::Registered({
                let mut r = Registration::new(
                    EventId::from_u128(u128::from(id)),
                    tenant,
                    subjects
                        .into_iter()
                        .enumerate()
                        .map(|(i, f)| {
                            let id = SubjectId::from_u128(u128::from(id) << 16 | i as u128);
                            let role = if i == 0 { Role::Booker } else { Role::Attendee };
                            Subject::new(id, role, f)
                        })
                        .collect(),
                );
                r.channel = channel;
                r.email_change = email_change;
                r
            })
        })
}

/// Store contents for `tenant`: up to `max_records` records with distinct
/// ids, contacts and leads, whose emails come from the same pool as the
/// events' (so they match, once or several times).
pub fn store_contents(tenant: TenantId, max_records: usize) -> impl Strategy<Value = Vec<Record>> {
    proptest::collection::vec(
        (
            prop_oneof![Just(RecordType::Contact), Just(RecordType::Lead)],
            fields(),
        ),
        0..=max_records,
    )
    .prop_map(move |v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (t, f))| Record::new(RecordId::from_u128(i as u128 + 1), tenant, t, f))
            .collect()
    })
}

/// A valid policy: one of the presets (doo with sync off or on, doo as an
/// external master, Salesforce contacts or leads) with the email-change
/// behaviour and the ambiguity rule drawn too.
pub fn policy() -> impl Strategy<Value = Policy> {
    (
        0..5u8,
        prop_oneof![
            Just(EmailChange::Reassign),
            Just(EmailChange::Retain),
            Just(EmailChange::NewRecord)
        ],
        prop_oneof![
            Just(Ambiguity::CreateNew),
            Just(Ambiguity::UpdateFirst),
            Just(Ambiguity::Skip),
            Just(Ambiguity::Review)
        ],
    )
        .prop_map(|(preset, email_change, ambiguity)| {
            let mut p = match preset {
                0 => Policy::doo(),
                1 => Policy::doo().with_sync(true),
                2 => Policy::doo_external_master(),
                3 => Policy::salesforce(RecordType::Contact),
                _ => Policy::salesforce(RecordType::Lead),
            };
            p.email_change = email_change;
            p.matching.ambiguity = ambiguity;
            p
        })
}
