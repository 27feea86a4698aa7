//! Insta snapshots of explained outcomes (B2) for representative scenarios.
//! Each snapshot was reviewed: the decision, the record, the rules and the
//! sentence must agree with RULES.md.

use crate::common::*;
use contact_sync::*;
use serde::Serialize;

#[derive(Serialize)]
struct View<'a> {
    outcomes: Vec<OutcomeView>,
    effects: &'a [Effect],
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct OutcomeView {
    subject: u128,
    decision: Decision,
    record: Option<String>,
    rules: String,
    explanation: String,
}

fn view(plan: &Plan) -> View<'_> {
    View {
        outcomes: plan
            .outcomes
            .iter()
            .map(|o| OutcomeView {
                subject: o.subject.uuid().as_u128(),
                decision: o.decision,
                record: o.record.map(|r| r.to_string()),
                rules: o
                    .rules
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                explanation: o.explanation().into_owned(),
            })
            .collect(),
        effects: &plan.effects,
        warnings: plan.warnings.iter().map(|w| w.message()).collect(),
    }
}

fn ann() -> Record {
    contact(
        1,
        &[
            ("email", "ann@example.org"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("company", "Acme"),
            ("phone", ""),
        ],
    )
}

fn snap(name: &str, policy: &Policy, records: Vec<Record>, event: Event) {
    let store = store_with(records);
    let plan = run(policy, &store, &event);
    insta::assert_yaml_snapshot!(name, view(&plan));
    // The same reasons in German (B2): one sentence list per subject.
    let german: Vec<String> = plan
        .outcomes
        .iter()
        .map(|o| {
            format!(
                "{}: {}",
                o.subject.uuid().as_u128(),
                describe::sentences(&describe::German, &describe::Ids, &o.reasons)
            )
        })
        .collect();
    insta::assert_yaml_snapshot!(format!("{name}_de"), german);
}

#[test]
fn d2_d13_d15_returning_booker_sync_on() {
    snap(
        "d2_d13_d15_returning_booker_sync_on",
        &Policy::doo().with_sync(true),
        vec![ann()],
        registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "ANN@example.org"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee"),
                    ("company", "Globex"),
                    ("phone", "+49 1"),
                ],
            )],
        ),
    );
}

#[test]
fn d14_d15_returning_booker_sync_off() {
    snap(
        "d14_d15_returning_booker_sync_off",
        &Policy::doo_external_master(),
        vec![ann()],
        registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "ann@example.org"),
                    ("company", "Globex"),
                    ("phone", "+49 1"),
                ],
            )],
        ),
    );
}

#[test]
fn d3_d6_b5_new_booking_with_shared_new_email() {
    snap(
        "d3_d6_b5_new_booking_with_shared_new_email",
        &Policy::doo().with_sync(true),
        vec![],
        registration(
            1,
            vec![
                booker(
                    10,
                    &[("email", "office@acme.example"), ("first_name", "Olga")],
                ),
                attendee(
                    11,
                    &[("email", "Office@Acme.example"), ("first_name", "Olga")],
                ),
            ],
        ),
    );
}

#[test]
fn d4_ambiguous_email_creates_new() {
    snap(
        "d4_ambiguous_email_creates_new",
        &Policy::doo().with_sync(true),
        vec![
            contact(1, &[("email", "team@example.org")]),
            contact(2, &[("email", "team@example.org")]),
        ],
        registration(1, vec![attendee(10, &[("email", "team@example.org")])]),
    );
}

#[test]
fn d5_no_email() {
    snap(
        "d5_no_email",
        &Policy::doo().with_sync(true),
        vec![],
        registration(1, vec![attendee(10, &[("first_name", "Nora")])]),
    );
}

#[test]
fn d7_prefill() {
    snap(
        "d7_prefill",
        &Policy::doo().with_sync(true),
        vec![ann(), contact(2, &[("email", "ann@example.org")])],
        registration(
            1,
            vec![
                booker(10, &[("email", "ann@example.org"), ("first_name", "Ann")])
                    .prefilled_from(rid(2)),
            ],
        ),
    );
}

#[test]
fn d8_reassign_on_email_change() {
    snap(
        "d8_reassign_on_email_change",
        &Policy::doo().with_sync(true),
        vec![ann()],
        edit(
            1,
            attendee(10, &[("email", "ann@example.org")]).linked_to(rid(1)),
            &[("email", "ann.lee@example.org")],
            EditSource::SelfService,
        ),
    );
}

#[test]
fn d9_retain_on_email_change_sync_on() {
    snap(
        "d9_retain_on_email_change_sync_on",
        &Policy::doo()
            .with_sync(true)
            .with_email_change(EmailChange::Retain),
        vec![ann()],
        edit(
            1,
            attendee(10, &[("email", "ann@example.org")]).linked_to(rid(1)),
            &[("email", "ann.lee@example.org")],
            EditSource::Organizer { sync: None },
        ),
    );
}

#[test]
fn d11_manual_relink() {
    snap(
        "d11_manual_relink",
        &Policy::doo().with_sync(true),
        vec![ann(), contact(2, &[("email", "x@example.org")])],
        Event::Relinked(Relink::new(
            eid(1),
            T,
            attendee(10, &[]).linked_to(rid(1)),
            rid(2),
        )),
    );
}

#[test]
fn d17_organizer_edit_without_sync() {
    snap(
        "d17_organizer_edit_without_sync",
        &Policy::doo().with_sync(true),
        vec![ann()],
        edit(
            1,
            booker(10, &[("email", "ann@example.org"), ("company", "Acme")]).linked_to(rid(1)),
            &[("company", "Initech"), ("phone", "+49 2")],
            EditSource::Organizer { sync: Some(false) },
        ),
    );
}

#[test]
fn d19_b4_shared_email_keep_name() {
    snap(
        "d19_b4_shared_email_keep_name",
        &Policy::doo()
            .with_sync(true)
            .with_name_guard(NameGuard::KeepName),
        vec![ann()],
        registration(
            1,
            vec![booker(
                10,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ben"),
                    ("last_name", "Ortiz"),
                    ("company", "Initech"),
                ],
            )],
        ),
    );
}

#[test]
fn d16_manual_registration() {
    snap(
        "d16_manual_registration",
        &Policy::doo().with_sync(true),
        vec![ann()],
        registration_with(
            1,
            Channel::Manual,
            None,
            vec![attendee(
                10,
                &[("email", "ann@example.org"), ("company", "Initech")],
            )],
        ),
    );
}

fn sf_contact() -> Record {
    contact(
        1,
        &[
            ("email", "jo@example.org"),
            ("first_name", "Joanna"),
            ("last_name", "Park"),
            ("job_title", "Dev"),
            ("order_id", "O-1"),
        ],
    )
}

#[test]
fn a7_a8_a9_a10_salesforce_match_updates_all_but_the_name() {
    snap(
        "a7_a8_a9_a10_salesforce_match_updates_all_but_the_name",
        &sf(RecordType::Contact),
        vec![sf_contact()],
        order(
            1,
            vec![
                booker(9, &[("email", "buyer@example.org")]),
                holder(
                    10,
                    &[
                        ("email", "jo@example.org"),
                        ("first_name", "Jo"),
                        ("job_title", ""),
                        ("order_id", "O-2"),
                    ],
                ),
            ],
        ),
    );
}

#[test]
fn a3_salesforce_lead_created_although_contact_has_email() {
    snap(
        "a3_salesforce_lead_created_although_contact_has_email",
        &sf(RecordType::Lead),
        vec![sf_contact()],
        order(
            1,
            vec![holder(
                10,
                &[
                    ("email", "jo@example.org"),
                    ("first_name", "Jo"),
                    ("last_name", "Park"),
                ],
            )],
        ),
    );
}

#[test]
fn a14_a15_salesforce_email_change_keeps_the_record() {
    snap(
        "a14_a15_salesforce_email_change_keeps_the_record",
        &sf(RecordType::Contact),
        vec![sf_contact()],
        edit(
            1,
            holder(10, &[("email", "jo@example.org"), ("first_name", "Joanna")]).linked_to(rid(1)),
            &[("email", "joanna@example.org")],
            EditSource::SelfService,
        ),
    );
}

#[test]
fn a25_a26_salesforce_holder_without_email() {
    snap(
        "a25_a26_salesforce_holder_without_email",
        &sf(RecordType::Contact).with_records_without_email(),
        vec![],
        order(
            1,
            vec![
                booker(9, &[("email", "buyer@example.org"), ("last_name", "Buyer")]),
                holder(10, &[("first_name", "Kid"), ("ticket_id", "T-7")]),
                holder(11, &[("ticket_id", "T-8")]),
            ],
        ),
    );
}
