//! What-if (B18): one history under two policies, and what differs.

use crate::common::*;
use contact_sync::whatif::{what_if, WhatIfError};
use contact_sync::*;
use proptest::prelude::*;

fn twins() -> Vec<Record> {
    vec![
        contact(1, &[("email", "team@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "team@example.org"), ("company", "Acme")]),
    ]
}

#[test]
fn b18_d4_a7_two_policies_link_a_subject_differently() {
    let events = [registration(
        1,
        vec![attendee(10, &[("email", "team@example.org")])],
    )];
    let doo = Policy::doo();
    let sfc = sf(RecordType::Contact);
    let d = what_if(&twins(), &events, &doo, &sfc).unwrap();
    assert_eq!(d.subjects.len(), 1, "{d}");
    let s = &d.subjects[0];
    assert_eq!((s.event, s.subject), (eid(1), sid(10)));
    // doo never guesses between several (D4); the Salesforce preset
    // updates the smallest id (A7). Each side is explained.
    assert_eq!(s.a.decision, Some(Decision::Created));
    assert!(s.a.rules.contains(&RuleId::D4), "{:?}", s.a.rules);
    assert_eq!(
        (s.b.decision, s.b.record),
        (Some(Decision::Linked), Some(rid(1)))
    );
    assert!(s.b.rules.contains(&RuleId::A7), "{:?}", s.b.rules);
    assert!(!s.a.explanation.is_empty() && !s.b.explanation.is_empty());
    assert_eq!(d.created_only_a, [s.a.record.unwrap()]);
    assert!(d.created_only_b.is_empty());
    let text = d.to_string();
    assert!(
        text.starts_with("1 subject(s) decided differently, 1 record(s) created only under A"),
        "{text}"
    );
    assert!(
        !text.contains("team@"),
        "the summary names no address: {text}"
    );
}

#[test]
fn b18_d13_d14_sync_changes_fields_not_links() {
    let events = [registration(
        1,
        vec![booker(
            10,
            &[
                ("email", "team@example.org"),
                ("company", "Globex"),
                ("city", "Graz"),
            ],
        )],
    )];
    let records = vec![contact(
        1,
        &[("email", "team@example.org"), ("company", "Acme")],
    )];
    let d = what_if(
        &records,
        &events,
        &Policy::doo(),
        &Policy::doo().with_sync(true),
    )
    .unwrap();
    assert!(d.subjects.is_empty(), "{d}");
    assert!(d.created_only_a.is_empty() && d.created_only_b.is_empty());
    let fields: Vec<(&str, Option<&str>, Option<&str>)> = d
        .fields
        .iter()
        .map(|f| {
            (
                f.field.as_str(),
                f.a.as_ref().map(FieldValue::as_str),
                f.b.as_ref().map(FieldValue::as_str),
            )
        })
        .collect();
    // Sync off keeps Acme (D14); both fill the empty city (D15).
    assert_eq!(fields, [("company", Some("Acme"), Some("Globex"))]);
}

#[test]
fn b18_a20_a_record_change_reaches_only_the_subjects_linked_to_the_record() {
    // Subject 10 registers and is linked to record 1 on both sides; the
    // change of record 1 lists 10 and 11, which was never linked. Only
    // the two-way side updates a subject (A20), and only subject 10.
    let records = vec![contact(
        1,
        &[("email", "jo@example.org"), ("job_title", "Dev")],
    )];
    let events = [
        registration(1, vec![attendee(10, &[("email", "jo@example.org")])]),
        Event::RecordChanged(RecordChange::new(
            eid(2),
            T,
            rid(1),
            fields(&[("email", "jo@example.org"), ("job_title", "VP")]),
            vec![
                attendee(10, &[("email", "jo@example.org")]),
                attendee(11, &[("email", "jo@example.org")]),
            ],
        )),
    ];
    let one_way = sf(RecordType::Contact);
    let mut two_way = sf(RecordType::Contact);
    two_way.two_way = true;
    let d = what_if(&records, &events, &one_way, &two_way).unwrap();
    let changed: Vec<SubjectId> = d
        .subjects
        .iter()
        .filter(|s| s.event == eid(2))
        .map(|s| s.subject)
        .collect();
    assert_eq!(changed, [sid(10)], "{d}");
    let s = d.subjects.iter().find(|s| s.event == eid(2)).unwrap();
    assert_eq!(s.b.decision, Some(Decision::SubjectUpdated), "{d}");
}

#[test]
fn b18_a_what_if_is_empty_only_when_no_part_differs() {
    use contact_sync::whatif::{FieldDiff, WhatIf};
    let events = [registration(
        1,
        vec![attendee(10, &[("email", "team@example.org")])],
    )];
    let full = what_if(&twins(), &events, &Policy::doo(), &sf(RecordType::Contact)).unwrap();
    assert!(!full.subjects.is_empty() && !full.created_only_a.is_empty());
    assert!(!full.is_empty());
    let field = FieldDiff {
        record: rid(1),
        field: FieldName::new("company"),
        a: Some(FieldValue::new("Acme")),
        b: None,
    };
    let parts = [
        WhatIf {
            subjects: full.subjects.clone(),
            ..WhatIf::default()
        },
        WhatIf {
            created_only_a: vec![rid(5)],
            ..WhatIf::default()
        },
        WhatIf {
            created_only_b: vec![rid(5)],
            ..WhatIf::default()
        },
        WhatIf {
            fields: vec![field],
            ..WhatIf::default()
        },
    ];
    for (i, d) in parts.iter().enumerate() {
        assert!(!d.is_empty(), "part {i} differs: {d}");
    }
    assert!(WhatIf::default().is_empty());
}

#[test]
fn b18_d8_d9_later_events_follow_each_sides_links() {
    let events = [
        registration(1, vec![attendee(10, &[("email", "ann@example.org")])]),
        edit(
            2,
            attendee(10, &[("email", "ann@example.org")]),
            &[("email", "ann@new.example")],
            EditSource::SelfService,
        ),
        edit(
            3,
            attendee(10, &[("email", "ann@new.example")]),
            &[("first_name", "Ann")],
            EditSource::SelfService,
        ),
    ];
    let records = vec![contact(1, &[("email", "ann@example.org")])];
    let reassign = Policy::doo().with_email_change(EmailChange::Reassign);
    let retain = Policy::doo().with_email_change(EmailChange::Retain);
    let d = what_if(&records, &events, &reassign, &retain).unwrap();
    // The email change: reassign moves the subject to a new record (D8);
    // retain keeps the link (D9).
    let change = d
        .subjects
        .iter()
        .find(|s| s.event == eid(2))
        .expect("the email change differs");
    assert_ne!(change.a.record, change.b.record, "{d}");
    assert_eq!(change.b.record, Some(rid(1)));
    // The later edit is decided on each side's own link: under reassign it
    // updates the new record, under retain record 1.
    let later = d
        .subjects
        .iter()
        .find(|s| s.event == eid(3))
        .expect("the later edit differs");
    assert_eq!(later.a.record, change.a.record);
    assert_eq!(later.b.record, Some(rid(1)));
}

#[test]
fn b18_invalid_input_is_an_error_not_a_difference() {
    let mut bad = Policy::doo();
    bad.limits.max_fields = 0;
    assert!(matches!(
        what_if(&[], &[], &bad, &Policy::doo()),
        Err(WhatIfError::Policy(_))
    ));
    let twice = vec![contact(1, &[]), contact(1, &[])];
    assert!(matches!(
        what_if(&twice, &[], &Policy::doo(), &Policy::doo()),
        Err(WhatIfError::DuplicateRecord(_))
    ));
}

fn any_history() -> impl Strategy<Value = Vec<Event>> {
    let email = prop_oneof![
        Just("team@example.org"),
        Just("ann@example.org"),
        Just("bo@example.org"),
        Just("")
    ];
    let company = prop_oneof![Just("Acme"), Just("Globex"), Just("")];
    prop::collection::vec((email, company, 0u128..4), 1..6).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (e, c, who))| {
                registration(
                    i as u128 + 1,
                    vec![attendee(
                        10 + who * 100 + i as u128,
                        &[("email", e), ("company", c)],
                    )],
                )
            })
            .collect()
    })
}

fn any_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::doo()),
        Just(Policy::doo().with_sync(true)),
        Just(Policy::doo_external_master()),
        Just(sf(RecordType::Contact)),
        Just(sf(RecordType::Lead)),
    ]
}

proptest! {
    /// B18: a policy against itself differs in nothing; swapping the two
    /// policies swaps the sides.
    #[test]
    fn b18_what_if_is_empty_against_itself_and_symmetric(
        history in any_history(),
        a in any_policy(),
        b in any_policy(),
    ) {
        prop_assert!(what_if(&twins(), &history, &a, &a).unwrap().is_empty());
        let ab = what_if(&twins(), &history, &a, &b).unwrap();
        let ba = what_if(&twins(), &history, &b, &a).unwrap();
        prop_assert_eq!(&ab.created_only_a, &ba.created_only_b);
        prop_assert_eq!(&ab.created_only_b, &ba.created_only_a);
        prop_assert_eq!(ab.subjects.len(), ba.subjects.len());
        for (x, y) in ab.subjects.iter().zip(&ba.subjects) {
            prop_assert_eq!(&x.a, &y.b);
            prop_assert_eq!(&x.b, &y.a);
        }
        prop_assert_eq!(ab.fields.len(), ba.fields.len());
    }
}
