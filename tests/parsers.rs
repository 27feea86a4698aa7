//! Hostile input to every public parser: arbitrary strings and JSON give a
//! value or a typed error, never a panic (B1, B11, B12).

use contact_sync::scenario::Scenario;
use contact_sync::*;
use proptest::prelude::*;
use serde_json::Value;

const KEYS: &[&str] = &[
    "sync",
    "enabled",
    "on_match",
    "on_update",
    "name",
    "email",
    "form_field",
    "generated",
    "matching",
    "scope",
    "cross",
    "prefer",
    "criteria",
    "ambiguity",
    "record_type",
    "fields",
    "classes",
    "unmapped_as_form_fields",
    "roles",
    "booker",
    "attendee",
    "no_email",
    "create",
    "limits",
    "max_field_len",
    "normalization",
    "fold_plus_tags",
    "policy",
    "preset",
    "overrides",
    "records",
    "steps",
    "register",
    "subjects",
    "role",
    "prefill",
    "expect",
    "outcomes",
    "id",
    "tenant",
    "registered",
    "edited",
    "subject",
    "new_fields",
    "source",
    "organizer",
    "to",
    "version",
    "email_change",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".*".prop_map(Value::String),
        prop::sample::select(vec![
            "doo",
            "retain",
            "contact",
            "lead",
            "never",
            "replace",
            "booker",
            "self_service",
            "a@b.org",
            "00000000-0000-0000-0000-000000000001"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn b1_email_parser_never_panics_and_keys_are_fixed_points(s in "\\PC{0,80}|[a-zA-Z0-9.+@_\\-\"<> ,;\\[\\]]{0,40}") {
        if let Ok(Some(e)) = Email::parse(&s) {
            let k = e.key(&Normalization::default());
            let again = EmailKey::parse(k.as_str(), &Normalization::default()).unwrap().unwrap();
            prop_assert_eq!(again, k);
        }
        let _ = EmailKey::parse(&s, &Normalization { fold_plus_tags: true, fold_gmail_dots: true });
    }

    #[test]
    fn b11_policy_parser_never_panics(s in ".{0,200}", v in json()) {
        let _ = Policy::from_json(&s);
        if let Ok(p) = Policy::from_json(&v.to_string()) {
            prop_assert!(p.validate().is_ok());
            prop_assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p);
        }
    }

    #[test]
    fn b12_scenario_parser_never_panics(s in ".{0,200}", v in json()) {
        let _ = Scenario::from_json(&s);
        if let Ok(sc) = Scenario::from_json(&v.to_string()) {
            let _ = sc.run();
        }
    }

    #[test]
    fn event_and_record_parsers_never_panic(v in json()) {
        let text = v.to_string();
        let _ = serde_json::from_str::<Event>(&text);
        let _ = serde_json::from_str::<Record>(&text);
        let _ = serde_json::from_str::<Fields>(&text);
        let _ = serde_json::from_str::<Subject>(&text);
        let _ = serde_json::from_str::<EmailKey>(&text);
    }
}

#[test]
fn b11_unknown_fields_are_rejected_on_every_event_struct() {
    let id = "\"00000000-0000-0000-0000-000000000001\"";
    let subject = format!(r#"{{"id": {id}, "role": "booker"}}"#);
    for bad in [
        format!(r#"{{"registered": {{"id": {id}, "tenant": {id}, "subjects": [], "extra": 1}}}}"#),
        format!(
            r#"{{"edited": {{"id": {id}, "tenant": {id}, "subject": {subject}, "new_fields": {{}}, "source": "self_service", "extra": 1}}}}"#
        ),
        format!(
            r#"{{"edited": {{"id": {id}, "tenant": {id}, "subject": {subject}, "new_fields": {{}}, "source": {{"organizer": {{"sync": true, "extra": 1}}}}}}}}"#
        ),
        format!(
            r#"{{"relinked": {{"id": {id}, "tenant": {id}, "subject": {subject}, "to": {id}, "extra": 1}}}}"#
        ),
        format!(
            r#"{{"record_changed": {{"id": {id}, "tenant": {id}, "record": {id}, "new_fields": {{}}, "subjects": [], "extra": 1}}}}"#
        ),
        format!(
            r#"{{"registered": {{"id": {id}, "tenant": {id}, "subjects": [{{"id": {id}, "role": "booker", "extra": 1}}]}}}}"#
        ),
    ] {
        let e = serde_json::from_str::<Event>(&bad).expect_err(&bad);
        assert!(e.to_string().contains("unknown field"), "{bad}: {e}");
    }
    let rec = format!(
        r#"{{"id": {id}, "tenant": {id}, "record_type": "lead", "fields": {{}}, "version": 1, "extra": 1}}"#
    );
    assert!(serde_json::from_str::<Record>(&rec)
        .unwrap_err()
        .to_string()
        .contains("unknown field"));
    assert!(serde_json::from_str::<Fields>(r#"{"a": "1", "a": "2"}"#)
        .unwrap_err()
        .to_string()
        .contains("twice"));
}
