//! A walkthrough of the rule outcomes of both presets on the in-memory store.
//!
//! Run with `cargo run --example walkthrough`. Each scenario starts from a
//! small contact center, runs one or more events, and prints what happened to
//! every person and why, the way an event manager would want to read it.

use contact_sync::*;

const T: TenantId = TenantId::from_u128(1);

fn fields(pairs: &[(&str, &str)]) -> Fields {
    Fields::from_pairs(pairs.iter().copied())
}

fn rec(n: u128, t: RecordType, pairs: &[(&str, &str)]) -> Record {
    Record::new(RecordId::from_u128(n), T, t, fields(pairs))
}

fn contact(n: u128, pairs: &[(&str, &str)]) -> Record {
    rec(n, RecordType::Contact, pairs)
}

fn person(n: u128, role: Role, pairs: &[(&str, &str)]) -> Subject {
    Subject::new(SubjectId::from_u128(n), role, fields(pairs))
}

fn booking(n: u128, subjects: Vec<Subject>) -> Event {
    Event::Registered(Registration {
        id: EventId::from_u128(n),
        tenant: T,
        channel: Channel::Online,
        campaign: Some(CampaignId("701-SUMMIT".into())),
        buyer_data_only: false,
        subjects,
    })
}

fn edit(n: u128, subject: Subject, new: &[(&str, &str)], source: EditSource) -> Event {
    Event::Edited(Edit {
        id: EventId::from_u128(n),
        tenant: T,
        subject,
        new_fields: fields(new),
        source,
        campaign: None,
        buyer: None,
        buyer_data_only: false,
    })
}

/// Names subjects and records by their small numbers, so the output reads
/// "person 10" and "record 1" instead of UUIDs.
fn short(text: &str) -> String {
    let mut out = text.to_owned();
    for n in (0..200u128).rev() {
        out = out.replace(&uuid::Uuid::from_u128(n).to_string(), &format!("#{n}"));
    }
    out
}

fn scenario(title: &str, policy: &Policy, records: Vec<Record>, events: Vec<Event>) {
    println!("\n=== {title}");
    let store = InMemoryStore::new();
    store.extend(records).expect("distinct record ids");
    let engine = Engine::new(policy.clone()).expect("a valid policy");
    for event in &events {
        match engine.plan(&store, event) {
            Ok(plan) => {
                for o in &plan.outcomes {
                    let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
                    let record = o
                        .record
                        .map_or("no record".to_owned(), |r| format!("record {r}"));
                    println!(
                        "  {} {} -> {:?}, {}\n      {}\n      rules: {}",
                        o.role.noun(),
                        short(&o.subject.to_string()),
                        o.decision,
                        short(&record),
                        short(&o.explanation),
                        rules.join(" ")
                    );
                }
                for w in &plan.warnings {
                    println!("  ! {}", short(&w.message()));
                }
                if let Err(e) = store.apply(&plan) {
                    println!("  apply failed: {e}");
                }
            }
            Err(e) => println!("  rejected: {}", short(&e.to_string())),
        }
    }
    for r in store.records(T) {
        let f: Vec<String> = r
            .fields
            .iter()
            .map(|(n, v)| format!("{n}={}", v.as_str()))
            .collect();
        println!(
            "  [{} {} v{}] {}",
            r.record_type.noun(),
            short(&r.id.to_string()),
            r.version,
            f.join(", ")
        );
    }
}

fn doo_scenarios() {
    println!("\n##### doo contact center (Policy::doo)");
    let doo = Policy::doo();
    let ann = || {
        contact(
            1,
            &[
                ("email", "ann@example.org"),
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("phone", ""),
            ],
        )
    };
    scenario(
        "D2/D13/D15: a returning booker is linked; sync on overwrites, empty fields are filled",
        &doo,
        vec![ann()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[
                    ("email", " ANN@example.org"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee-Park"),
                    ("phone", "+49 30 1"),
                ],
            )],
        )],
    );
    scenario(
        "D14/D15/D20: the same booking with sync off (another system owns the data)",
        &Policy::doo_external_master(),
        vec![ann()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee-Park"),
                    ("phone", "+49 30 1"),
                ],
            )],
        )],
    );
    scenario(
        "D3/D6/B5: a new booker and attendees; two share one new email",
        &doo,
        vec![],
        vec![booking(
            100,
            vec![
                person(
                    10,
                    Role::Booker,
                    &[("email", "office@acme.example"), ("first_name", "Olga")],
                ),
                person(
                    11,
                    Role::Attendee,
                    &[("email", "Office@ACME.example"), ("first_name", "Olga")],
                ),
                person(
                    12,
                    Role::Attendee,
                    &[("email", "piet@acme.example"), ("first_name", "Piet")],
                ),
            ],
        )],
    );
    scenario(
        "D4: two contacts already share the email: never guess, create a new one",
        &doo,
        vec![
            contact(1, &[("email", "team@example.org")]),
            contact(2, &[("email", "team@example.org")]),
        ],
        vec![booking(
            100,
            vec![person(10, Role::Attendee, &[("email", "team@example.org")])],
        )],
    );
    scenario(
        "D5: an attendee without email gets no contact",
        &doo,
        vec![],
        vec![booking(
            100,
            vec![person(10, Role::Attendee, &[("first_name", "Nora")])],
        )],
    );
    scenario(
        "D7: an invitation prefilled from contact #2 links there first",
        &doo,
        vec![
            contact(1, &[("email", "inv@example.org")]),
            contact(2, &[("email", "inv@example.org"), ("first_name", "Ina")]),
        ],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[("email", "inv@example.org"), ("first_name", "Ina")],
            )
            .prefilled_from(RecordId::from_u128(2))],
        )],
    );
    let linked = || {
        person(
            10,
            Role::Attendee,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )
        .linked_to(RecordId::from_u128(1))
    };
    let two = || {
        vec![
            contact(1, &[("email", "old@example.org"), ("first_name", "Ann")]),
            contact(2, &[("email", "new@example.org"), ("first_name", "Ann")]),
        ]
    };
    scenario(
        "D8/D10: email changed in self-service, event set to reassign (default)",
        &doo,
        two(),
        vec![edit(
            200,
            linked(),
            &[("email", "new@example.org")],
            EditSource::SelfService,
        )],
    );
    scenario(
        "D9: email changed, event set to retain, sync on",
        &doo.clone().with_email_change(EmailChange::Retain),
        vec![contact(
            1,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )],
        vec![edit(
            200,
            linked(),
            &[("email", "ann.lee@example.org")],
            EditSource::Organizer { sync: None },
        )],
    );
    scenario(
        "D9: email changed, event set to retain, sync off",
        &Policy::doo_external_master().with_email_change(EmailChange::Retain),
        vec![contact(
            1,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )],
        vec![edit(
            200,
            linked(),
            &[("email", "ann.lee@example.org")],
            EditSource::Organizer { sync: None },
        )],
    );
    scenario(
        "D17: the organizer edits and chooses not to sync; missing data is added anyway",
        &doo,
        vec![contact(
            1,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )],
        vec![edit(
            200,
            linked(),
            &[("first_name", "Annie"), ("phone", "+49 1")],
            EditSource::Organizer { sync: Some(false) },
        )],
    );
    scenario(
        "D11: the organizer changes the connected contact",
        &doo,
        two(),
        vec![Event::Relinked(Relink {
            id: EventId::from_u128(300),
            tenant: T,
            subject: linked(),
            to: RecordId::from_u128(2),
        })],
    );
    scenario(
        "D19/B4: a colleague books with a shared email; the guard warns",
        &doo.clone().with_name_guard(NameGuard::KeepName),
        vec![ann()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ben"),
                    ("last_name", "Ortiz"),
                ],
            )],
        )],
    );
}

fn main() {
    doo_scenarios();
}
