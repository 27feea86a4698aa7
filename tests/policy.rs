//! B11: policies are data.

use contact_sync::*;

#[test]
fn b11_presets_round_trip_through_json() {
    for p in [
        Policy::doo(),
        Policy::doo_external_master(),
        Policy::salesforce(RecordType::Contact),
        Policy::salesforce(RecordType::Lead)
            .with_records_without_email()
            .with_cross_matching(RecordType::Contact, &["last_name"]),
    ] {
        let json = p.to_json();
        assert_eq!(Policy::from_json(&json).unwrap(), p, "{json}");
    }
}

#[test]
fn b11_unknown_fields_are_rejected_at_every_level() {
    for bad in [
        r#"{"synk": {}}"#,
        r#"{"sync": {"enabeld": true}}"#,
        r#"{"sync": {"on_match": {"name": "never", "email": "replace", "form_field": "replace", "generated": "replace", "x": 1}}}"#,
        r#"{"matching": {"scope": {"cross": {"prefer": "lead", "also": 1}}}}"#,
        r#"{"matching": {"criterias": []}}"#,
        r#"{"roles": {"booker": "match", "attendee": "match", "buyer": "match"}}"#,
        r#"{"no_email": {"crate": true}}"#,
        r#"{"fields": {"classes": {}, "unmaped": true}}"#,
        r#"{"limits": {"max_field": 1}}"#,
        r#"{"normalization": {"fold_plus": true}}"#,
    ] {
        let e = Policy::from_json(bad).expect_err(bad);
        assert!(matches!(e, PolicyError::Json(_)), "{bad}: {e}");
        assert!(e.to_string().contains("unknown field"), "{bad}: {e}");
    }
}

#[test]
fn b11_partial_json_starts_from_the_doo_defaults() {
    let p = Policy::from_json(r#"{"sync": {"enabled": false}}"#).unwrap();
    assert_eq!(p, Policy::doo_external_master());
}

#[test]
fn b11_invalid_combinations_are_rejected_with_a_clear_error() {
    let mut p = Policy::doo();
    p.no_email.create = true;
    assert_eq!(
        p.validate(),
        Err(PolicyError::NoEmailNeedsNewRecordOnEmailChange)
    );

    let mut p = Policy::salesforce(RecordType::Contact).with_records_without_email();
    p.fields.classes.remove(&FieldName::new("ticket_id"));
    assert_eq!(p.validate(), Err(PolicyError::NoEmailNeedsTicketId));

    let mut p = Policy::doo();
    p.roles = Roles {
        booker: RoleRule::NoRecord,
        attendee: RoleRule::NoRecord,
    };
    assert_eq!(p.validate(), Err(PolicyError::NoRoleGetsRecords));

    let p = Policy::doo().with_cross_matching(RecordType::Contact, &["email"]);
    assert_eq!(p.validate(), Err(PolicyError::EmailAsCriterion));

    let p = Policy::salesforce(RecordType::Contact)
        .with_cross_matching(RecordType::Contact, &["company"]);
    assert_eq!(
        p.validate(),
        Err(PolicyError::UnmappedCriterion("company".into()))
    );

    let mut p = Policy::doo();
    p.fields
        .classes
        .insert(FieldName::new("email2"), FieldClass::Email);
    assert_eq!(p.validate(), Err(PolicyError::EmailField));

    let mut p = Policy::doo();
    p.limits.max_fields = 0;
    assert_eq!(p.validate(), Err(PolicyError::ZeroLimit));

    assert!(
        Engine::new(p).is_err(),
        "the engine refuses an invalid policy"
    );
}

#[test]
fn b11_json_errors_name_the_problem() {
    let e = Policy::from_json(r#"{"email_change": "reasign"}"#).unwrap_err();
    assert!(
        e.to_string().contains("reasign") && e.to_string().contains("unknown variant"),
        "{e}"
    );
}
