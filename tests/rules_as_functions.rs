//! The rules as public pure functions: their own properties, and the
//! engine agreeing with them on the same inputs (D2–D4, D8, D9, D13–D15,
//! D21, D22, A2, A3, A7, A14, A15, A23, A24).

use crate::common::*;
use contact_sync::rules::{
    email_change, exact_one, merge_fields, select, Chosen, During, EmailChangeAction,
    EmailChangeCase, Entered, MatchAction, MergeOn, MergeRules,
};
use contact_sync::*;
use contact_sync::{
    Ambiguity, ClassRules, EmailChange, FieldMap, FieldMerge, Matching, NameGuard, RetainedEmail,
    Scope,
};
use proptest::prelude::*;

const EMAIL: &str = "ann@example.org";

fn any_type() -> impl Strategy<Value = RecordType> {
    prop_oneof![Just(RecordType::Contact), Just(RecordType::Lead)]
}

fn any_merge() -> impl Strategy<Value = FieldMerge> {
    prop_oneof![
        Just(FieldMerge::Never),
        Just(FieldMerge::FillEmpty),
        Just(FieldMerge::Overwrite),
        Just(FieldMerge::Replace)
    ]
}

fn any_ambiguity() -> impl Strategy<Value = Ambiguity> {
    prop_oneof![
        Just(Ambiguity::CreateNew),
        Just(Ambiguity::UpdateFirst),
        Just(Ambiguity::Skip),
        Just(Ambiguity::Review),
        Just(Ambiguity::MostRecentlyModified {
            field: FieldName::new("modified")
        }),
        Just(Ambiguity::Waterfall {
            rules: vec![
                vec![FieldName::new("company")],
                vec![FieldName::new("city")]
            ]
        }),
    ]
}

fn any_email_change() -> impl Strategy<Value = EmailChange> {
    prop_oneof![
        Just(EmailChange::Reassign),
        Just(EmailChange::Retain),
        Just(EmailChange::NewRecord)
    ]
}

fn any_citations() -> impl Strategy<Value = Citations> {
    prop_oneof![Just(Citations::Doo), Just(Citations::Salesforce)]
}

fn any_class_rules() -> impl Strategy<Value = ClassRules> {
    (any_merge(), any_merge(), any_merge(), any_merge()).prop_map(|(name, email, form, gen)| {
        ClassRules {
            name,
            email,
            form_field: form,
            generated: gen,
        }
    })
}

/// A few fields of every class, values often blank or equal.
fn any_fields() -> impl Strategy<Value = Fields> {
    let value = prop_oneof![Just(""), Just("x"), Just("y"), Just("Ann"), Just("T-1")];
    proptest::collection::vec(
        (
            prop_oneof![
                Just("first_name"),
                Just("company"),
                Just("city"),
                Just("ticket_id")
            ],
            value,
        ),
        0..5,
    )
    .prop_map(Fields::from_pairs)
}

/// Records with the one email: types, and a company for the criteria.
fn any_candidates() -> impl Strategy<Value = Vec<Record>> {
    proptest::collection::vec(
        (
            any_type(),
            prop_oneof![Just("Acme"), Just("acme "), Just("Other")],
        ),
        0..5,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (t, company))| {
                Record::new(
                    rid(i as u128 + 1),
                    T,
                    t,
                    fields(&[("email", EMAIL), ("company", company)]),
                )
            })
            .collect()
    })
}

fn any_matching() -> impl Strategy<Value = Matching> {
    (
        any_type(),
        prop_oneof![
            Just(None),
            Just(Some(RecordType::Contact)),
            Just(Some(RecordType::Lead))
        ],
        any::<bool>(),
        any_ambiguity(),
    )
        .prop_map(|(record_type, cross, criteria, ambiguity)| Matching {
            record_type,
            scope: cross.map_or(Scope::Linear, |prefer| Scope::Cross { prefer }),
            criteria: if criteria {
                vec![FieldName::new("company")]
            } else {
                vec![]
            },
            ambiguity,
            weighted: None,
        })
}

fn merge_rules(classes: ClassRules, sync: bool, citations: Citations) -> MergeRules {
    MergeRules::new(classes)
        .with_sync(sync)
        .with_entered(Entered::All)
        .with_freeze_generated(false)
        .with_on(MergeOn::Match)
        .with_citations(citations)
        .with_trust(None)
}

/// The record's fields after the merge's changes.
fn applied(record: &Fields, changes: &[FieldChange]) -> Fields {
    let mut f = record.clone();
    for c in changes {
        f.set(c.field.clone(), c.new.clone());
    }
    f
}

proptest! {
    /// D4, B13: the exact-one rule links a record only when exactly one
    /// remains; of several, only a policy that singles one out links one,
    /// and create-new, skip and review never do.
    #[test]
    fn d4_b13_exact_one_never_picks_between_several_unless_a_policy_says_how(
        candidates in any_candidates(),
        m in any_matching(),
    ) {
        let refs: Vec<&Record> = candidates.iter().collect();
        let subject = fields(&[("email", EMAIL), ("company", "ACME"), ("city", "Graz")]);
        let sel = select(&m, &subject, &refs);
        match exact_one(&sel, &m, &subject, &refs) {
            MatchAction::Link { record } => prop_assert_eq!(sel.chosen, vec![record]),
            MatchAction::Create => prop_assert!(sel.chosen.is_empty()),
            MatchAction::LinkChosen { record, records, by } => {
                prop_assert!(records.len() > 1 && records.contains(&record));
                prop_assert_eq!(&records, &sel.chosen);
                match (&m.ambiguity, by) {
                    (Ambiguity::UpdateFirst, Chosen::SmallestId) => {
                        prop_assert_eq!(Some(&record), records.iter().min());
                    }
                    (Ambiguity::MostRecentlyModified { .. }, Chosen::MostRecentlyModified) => {
                        let latest = |id: &RecordId| candidates.iter().find(|r| r.id == *id).map(|r| r.fields.text("modified").to_owned());
                        for other in records.iter().filter(|r| **r != record) {
                            prop_assert!(latest(other) < latest(&record));
                        }
                    }
                    (Ambiguity::Waterfall { .. }, Chosen::Waterfall { .. }) => {}
                    (a, b) => prop_assert!(false, "{a:?} chose by {b:?}"),
                }
            }
            MatchAction::CreateDespite { records } => {
                prop_assert!(records.len() > 1);
                prop_assert!(!matches!(m.ambiguity, Ambiguity::UpdateFirst | Ambiguity::Skip | Ambiguity::Review));
            }
            MatchAction::Skip { records } => {
                prop_assert_eq!(&m.ambiguity, &Ambiguity::Skip);
                prop_assert!(records.len() > 1);
            }
            MatchAction::Review { records } => {
                prop_assert_eq!(&m.ambiguity, &Ambiguity::Review);
                prop_assert!(records.len() > 1);
            }
            other => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    /// A2, A3: linear matching never returns a record of the other type;
    /// A24: cross matching returns one type, the preferred one when any of
    /// it remains. Every candidate is chosen or dropped, once.
    #[test]
    fn a2_a24_linear_never_returns_the_other_type(
        candidates in any_candidates(),
        m in any_matching(),
    ) {
        let refs: Vec<&Record> = candidates.iter().collect();
        let sel = select(&m, &fields(&[("email", EMAIL), ("company", "acme")]), &refs);
        let type_of = |id: &RecordId| candidates.iter().find(|r| r.id == *id).map(|r| r.record_type);
        for id in &sel.chosen {
            prop_assert_eq!(type_of(id), Some(sel.record_type));
        }
        if m.scope == Scope::Linear {
            prop_assert_eq!(sel.record_type, m.record_type);
        } else if m.criteria.is_empty() {
            // Cross matching searches both types: some record always remains.
            prop_assert_eq!(sel.chosen.is_empty(), candidates.is_empty());
        }
        let mut all: Vec<RecordId> = sel.chosen.clone();
        all.extend(sel.dropped.iter().map(|d| d.record));
        all.sort_unstable();
        let mut ids: Vec<RecordId> = candidates.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        prop_assert_eq!(all, ids);
        // The order of the candidates does not matter.
        let reversed: Vec<&Record> = candidates.iter().rev().collect();
        let again = select(&m, &fields(&[("email", EMAIL), ("company", "acme")]), &reversed);
        prop_assert_eq!(again, sel);
    }

    /// D15: fill-empty never changes a non-blank value.
    #[test]
    fn d15_fill_empty_never_changes_a_non_blank_value(
        record in any_fields(),
        input in any_fields(),
        sync in any::<bool>(),
        citations in any_citations(),
    ) {
        let r = merge_rules(ClassRules::all(FieldMerge::FillEmpty), sync, citations);
        for c in merge_fields(&record, &input, &FieldMap::default(), &r).changes {
            prop_assert!(c.old.as_ref().is_none_or(FieldValue::is_blank), "{c:?}");
            prop_assert!(!c.new.is_blank());
        }
    }

    /// D14: with sync off, every rule merges as fill-empty does.
    #[test]
    fn d14_overwrite_with_sync_off_equals_fill_empty(
        record in any_fields(),
        input in any_fields(),
        classes in any_class_rules(),
        citations in any_citations(),
    ) {
        let off = merge_fields(&record, &input, &FieldMap::default(), &merge_rules(classes, false, citations));
        let fill = merge_fields(
            &record,
            &input,
            &FieldMap::default(),
            &merge_rules(classes.capped(FieldMerge::FillEmpty), true, citations),
        );
        prop_assert_eq!(off, fill);
    }

    /// B3: a merge is idempotent: merging the same input into the merged
    /// record changes nothing.
    #[test]
    fn b3_merge_is_idempotent(
        record in any_fields(),
        input in any_fields(),
        classes in any_class_rules(),
        sync in any::<bool>(),
        citations in any_citations(),
    ) {
        let r = merge_rules(classes, sync, citations);
        let first = merge_fields(&record, &input, &FieldMap::default(), &r);
        let merged = applied(&record, &first.changes);
        let second = merge_fields(&merged, &input, &FieldMap::default(), &r);
        prop_assert!(second.changes.is_empty(), "{:?}", second.changes);
    }

    /// D22: an event's own setting decides exactly as the policy's would.
    #[test]
    fn d22_the_event_setting_decides_as_the_policy_setting_would(
        during in prop_oneof![Just(During::Registration), Just(During::Edit)],
        (linked, record_has_email, has_email, changed, sync) in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        event in any_email_change(),
        policy in any_email_change(),
        email_merge in any_merge(),
    ) {
        let case = EmailChangeCase::new(during, policy)
            .with_linked(linked)
            .with_record_has_email(record_has_email)
            .with_has_email(has_email)
            .with_changed(changed)
            .with_event_setting(Some(event))
            .with_sync(sync)
            .with_email_merge(email_merge)
            .with_retained_email(RetainedEmail::Overwrite);
        let with_event = email_change(&case);
        let as_policy = email_change(&case.with_event_setting(None).with_policy_setting(event));
        prop_assert_eq!(with_event.action, as_policy.action);
        prop_assert_eq!(with_event.event_setting_used, with_event.behaviour.is_some());
        // D1: an unchanged email never consults a setting.
        if linked && !changed {
            prop_assert_eq!(with_event.action, EmailChangeAction::Unchanged);
        }
        // D9: retain never unlinks nor makes a new record.
        if linked && changed && event == EmailChange::Retain {
            let retained = matches!(with_event.action, EmailChangeAction::Retain { .. } | EmailChangeAction::Complete);
            prop_assert!(retained);
        }
    }
}

fn one_attendee(event: u128, subject: Subject) -> Event {
    registration(event, vec![subject])
}

proptest! {
    /// D2–D4, A2, A3, A7, A24: the engine links, creates or declines
    /// exactly as `select` and `exact_one` decide on the same candidates.
    #[test]
    fn d2_d4_a24_the_engine_matches_as_select_and_exact_one_decide(
        candidates in any_candidates(),
        m in any_matching(),
        company in prop_oneof![Just("acme"), Just("Other"), Just("")],
    ) {
        let mut policy = Policy::salesforce(m.record_type);
        policy.fields = policy
            .fields
            .map("company", FieldClass::FormField)
            .map("city", FieldClass::FormField)
            .map("modified", FieldClass::FormField);
        policy.matching = m.clone();
        let engine = Engine::new(policy).unwrap();
        let store = store_with(candidates.clone());
        let subject = fields(&[("email", EMAIL), ("company", company)]);
        let plan = engine.plan(&store, &one_attendee(1, Subject::attendee(sid(1), subject.clone()))).unwrap();
        let refs: Vec<&Record> = candidates.iter().collect();
        let o = plan.outcome(sid(1)).unwrap();
        match exact_one(&select(&m, &subject, &refs), &m, &subject, &refs) {
            MatchAction::Link { record } | MatchAction::LinkChosen { record, .. } => {
                prop_assert_eq!(o.record, Some(record));
                prop_assert_eq!(plan.created().count(), 0);
            }
            MatchAction::Create | MatchAction::CreateDespite { .. } => {
                prop_assert_eq!(plan.created().count(), 1);
                prop_assert_eq!(o.decision, Decision::Created);
            }
            MatchAction::Skip { .. } | MatchAction::Review { .. } => {
                prop_assert_eq!(o.record, None);
                prop_assert_eq!(plan.created().count(), 0);
                let review = m.ambiguity == Ambiguity::Review;
                prop_assert_eq!(o.decision == Decision::Review, review);
            }
            other => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    /// D13–D15, A8–A10: a registration matching one record changes it by
    /// exactly what `merge_fields` returns for the same fields and rules.
    #[test]
    fn d13_d15_the_engine_merges_as_merge_fields_does(
        record in any_fields(),
        input in any_fields(),
        classes in any_class_rules(),
        sync in any::<bool>(),
        salesforce in any::<bool>(),
    ) {
        let mut policy = if salesforce { Policy::salesforce(RecordType::Contact) } else { Policy::doo() };
        policy.sync.enabled = sync;
        policy.sync.on_match = classes;
        policy.sync.absent_generated_as_blank = false;
        policy.name_guard = NameGuard::Off;
        let engine = Engine::new(policy.clone()).unwrap();
        let mut rec_fields = record.clone();
        rec_fields.set("email".into(), EMAIL.into());
        let mut entered = input.clone();
        entered.set("email".into(), EMAIL.into());
        let store = store_with(vec![Record::new(rid(1), T, RecordType::Contact, rec_fields.clone())]);
        let plan = engine.plan(&store, &one_attendee(1, Subject::attendee(sid(1), entered.clone()))).unwrap();
        prop_assert_eq!(plan.outcome(sid(1)).unwrap().record, Some(rid(1)));
        let expected = merge_fields(
            &rec_fields,
            &entered,
            &policy.fields,
            &MergeRules::new(classes)
                .with_sync(sync)
                .with_entered(Entered::All)
                .with_freeze_generated(false)
                .with_on(MergeOn::Match)
                .with_citations(policy.citations)
                .with_trust(None),
        );
        let got: Vec<FieldChange> = plan.changes_to(rid(1)).into_iter().cloned().collect();
        prop_assert_eq!(got, expected.changes);
    }

    /// D8, D9, D22, A14, A15, A23: an edit that changes (or removes) a
    /// linked subject's email does what `email_change` decides.
    #[test]
    fn d8_d9_a23_the_engine_handles_email_changes_as_email_change_decides(
        policy_setting in any_email_change(),
        event_setting in proptest::option::of(any_email_change()),
        sync in any::<bool>(),
        new_email in prop_oneof![Just(""), Just("bo@example.org"), Just("new@example.org")],
    ) {
        let mut policy = Policy::doo();
        policy.sync.enabled = sync;
        policy.email_change = policy_setting;
        let engine = Engine::new(policy.clone()).unwrap();
        let store = store_with(vec![
            contact(1, &[("email", EMAIL), ("first_name", "Ann")]),
            contact(2, &[("email", "bo@example.org")]),
        ]);
        let mut linked = attendee(7, &[("email", EMAIL), ("first_name", "Ann")]);
        linked.link = Some(rid(1));
        let mut ev = edit(5, linked, &[("email", new_email)], EditSource::Organizer { sync: None });
        if let Event::Edited(e) = &mut ev {
            e.email_change = event_setting;
        }
        let plan = engine.plan(&store, &ev).unwrap();
        let o = plan.outcome(sid(7)).unwrap();
        let d = email_change(&EmailChangeCase::new(During::Edit, policy_setting)
            .with_linked(true)
            .with_record_has_email(true)
            .with_has_email(!new_email.is_empty())
            .with_changed(true)
            .with_event_setting(event_setting)
            .with_sync(sync)
            .with_email_merge(policy.sync.on_update.email)
            .with_retained_email(policy.retained_email));
        prop_assert_eq!(d.event_setting_used, event_setting.is_some());
        prop_assert_eq!(o.rules.contains(&RuleId::D22), event_setting.is_some());
        match d.action {
            EmailChangeAction::MatchAgain => {
                // bo's record is matched; the new address makes one.
                let want = (new_email == "bo@example.org").then_some(rid(2));
                if want.is_some() {
                    prop_assert_eq!(o.record, want);
                } else {
                    prop_assert_eq!(o.decision, Decision::Created);
                }
            }
            EmailChangeAction::Retain { overwrite_email, .. } => {
                prop_assert_eq!(o.record, Some(rid(1)));
                let email_written = plan.changes_to(rid(1)).iter().any(|c| c.field.as_str() == "email");
                prop_assert_eq!(email_written, overwrite_email);
            }
            EmailChangeAction::NewRecord => {
                prop_assert_eq!(o.decision, Decision::Created);
                prop_assert_eq!(plan.created().count(), 1);
            }
            EmailChangeAction::Unlink => {
                prop_assert_eq!(o.decision, Decision::Unlinked);
                prop_assert_eq!(o.record, None);
            }
            other => prop_assert!(false, "unexpected {other:?} for a changed email"),
        }
    }
}

/// D21: a registration prefilled from a record without email completes it,
/// unless the behaviour is A23's new record.
#[test]
fn d21_email_change_completes_a_record_without_email() {
    let case = EmailChangeCase::new(During::Registration, EmailChange::Retain)
        .with_linked(true)
        .with_record_has_email(false)
        .with_has_email(true)
        .with_changed(true)
        .with_event_setting(None)
        .with_sync(false)
        .with_email_merge(FieldMerge::Overwrite)
        .with_retained_email(RetainedEmail::Overwrite);
    assert_eq!(email_change(&case).action, EmailChangeAction::Complete);
    let new_record = case.with_event_setting(Some(EmailChange::NewRecord));
    assert_eq!(
        email_change(&new_record).action,
        EmailChangeAction::NewRecord
    );
    // An edit never completes: the record's missing email is an ordinary change.
    let edit = case.with_during(During::Edit);
    assert!(matches!(
        email_change(&edit).action,
        EmailChangeAction::Retain { .. }
    ));
}

/// B8: retain with sync writing emails keeps the record's own email when
/// the policy says so.
#[test]
fn b8_email_change_retain_keeps_the_record_email_by_policy() {
    let case = EmailChangeCase::new(During::Edit, EmailChange::Retain)
        .with_linked(true)
        .with_record_has_email(true)
        .with_has_email(true)
        .with_changed(true)
        .with_event_setting(None)
        .with_sync(true)
        .with_email_merge(FieldMerge::Overwrite)
        .with_retained_email(RetainedEmail::Keep);
    assert_eq!(
        email_change(&case).action,
        EmailChangeAction::Retain {
            overwrite_email: false,
            keep_record_email: true
        }
    );
    let no_sync = case.with_sync(false);
    assert_eq!(
        email_change(&no_sync).action,
        EmailChangeAction::Retain {
            overwrite_email: false,
            keep_record_email: false
        }
    );
}

/// The functions' inputs and outputs are plain data: they round-trip
/// through JSON.
#[test]
fn b11_rule_function_data_round_trips_through_json() {
    let records = [
        contact(1, &[("email", EMAIL)]),
        lead(2, &[("email", EMAIL)]),
    ];
    let refs: Vec<&Record> = records.iter().collect();
    let sel = select(&Matching::default(), &fields(&[("email", EMAIL)]), &refs);
    let json = serde_json::to_string(&sel).unwrap();
    assert_eq!(
        serde_json::from_str::<contact_sync::rules::Selection>(&json).unwrap(),
        sel
    );
    let action = exact_one(
        &sel,
        &Matching::default(),
        &fields(&[("email", EMAIL)]),
        &refs,
    );
    let json = serde_json::to_string(&action).unwrap();
    assert_eq!(serde_json::from_str::<MatchAction>(&json).unwrap(), action);
    let chosen = MatchAction::LinkChosen {
        record: rid(1),
        records: vec![rid(1), rid(2)],
        by: Chosen::Waterfall { rule: 1 },
    };
    let json = serde_json::to_string(&chosen).unwrap();
    assert_eq!(serde_json::from_str::<MatchAction>(&json).unwrap(), chosen);
    let rules = merge_rules(
        ClassRules::all(FieldMerge::Replace),
        true,
        Citations::Salesforce,
    );
    let json = serde_json::to_string(&rules).unwrap();
    assert_eq!(serde_json::from_str::<MergeRules>(&json).unwrap(), rules);
}

/// The fields a merge changes, with their new values.
fn written(result: &contact_sync::rules::MergeResult) -> Vec<(&str, &str)> {
    result
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.new.as_str()))
        .collect()
}

/// A19: a frozen holder reports freezing only where an auto-generated field
/// would have changed: with the class never merged, nothing was frozen.
#[test]
fn a19_freezing_is_reported_only_where_a_generated_field_would_change() {
    let record = fields(&[("ticket_id", "T-1")]);
    let input = fields(&[("ticket_id", "T-2")]);
    let mut r = merge_rules(
        ClassRules::all(FieldMerge::Overwrite),
        true,
        Citations::Salesforce,
    );
    r.on = MergeOn::Update;
    r.freeze_generated = true;
    let frozen = merge_fields(&record, &input, &FieldMap::default(), &r);
    assert!(frozen.frozen);
    assert!(frozen.changes.is_empty());
    r.classes.generated = FieldMerge::Never;
    let never = merge_fields(&record, &input, &FieldMap::default(), &r);
    assert!(
        !never.frozen,
        "a never-merged field was not going to change"
    );
    // Nor when the value is the record's already.
    r.classes.generated = FieldMerge::Overwrite;
    assert!(!merge_fields(&record, &record, &FieldMap::default(), &r).frozen);
}

/// A9, A16: replace writes the fields entered anew; a field not entered
/// anew still fills an empty record field, and never blanks one.
#[test]
fn a9_a16_replace_fills_an_empty_field_that_was_not_entered_anew() {
    let record = fields(&[("company", "Acme"), ("city", "")]);
    let input = fields(&[("company", ""), ("city", "Graz"), ("title", "")]);
    let mut r = merge_rules(
        ClassRules::all(FieldMerge::Replace),
        true,
        Citations::Salesforce,
    );
    r.on = MergeOn::Update;
    r.entered = Entered::Only(Default::default());
    let result = merge_fields(&record, &input, &FieldMap::default(), &r);
    assert_eq!(written(&result), [("city", "Graz")]);
    // Entered anew, the blank company clears the record's.
    r.entered = Entered::Only([FieldName::new("company")].into_iter().collect());
    let result = merge_fields(&record, &input, &FieldMap::default(), &r);
    assert_eq!(written(&result), [("city", "Graz"), ("company", "")]);
}

/// D13, A9: only the email field treats another spelling of the same
/// address as no change; any other field holding an address is compared
/// as entered.
#[test]
fn d13_a9_only_the_email_field_ignores_the_spelling_of_an_address() {
    let record = fields(&[
        ("email", "Ann@Example.org"),
        ("assistant", "Bob@Example.org"),
    ]);
    let input = fields(&[
        ("email", "ann@example.org"),
        ("assistant", "bob@example.org"),
    ]);
    for citations in [Citations::Doo, Citations::Salesforce] {
        let r = merge_rules(ClassRules::all(FieldMerge::Overwrite), true, citations);
        let result = merge_fields(&record, &input, &FieldMap::default(), &r);
        assert_eq!(written(&result), [("assistant", "bob@example.org")]);
    }
}

/// D9, B1: an international address spelled in another case, or with its
/// domain in Unicode instead of ASCII, is the same address: no change.
#[test]
fn d9_b1_another_spelling_of_an_international_address_is_no_change() {
    let r = merge_rules(ClassRules::all(FieldMerge::Overwrite), true, Citations::Doo);
    for (stored, entered) in [
        ("Jörg@bücher.example", "jörg@bücher.example"),
        ("ann@bücher.example", "ann@xn--bcher-kva.example"),
        ("ann@xn--bcher-kva.example", "Ann@BÜCHER.example"),
    ] {
        let result = merge_fields(
            &fields(&[("email", stored)]),
            &fields(&[("email", entered)]),
            &FieldMap::default(),
            &r,
        );
        assert!(
            result.changes.is_empty(),
            "{stored} / {entered}: {:?}",
            result.changes
        );
    }
    // Another address is a change.
    let result = merge_fields(
        &fields(&[("email", "jörg@bücher.example")]),
        &fields(&[("email", "jorg@bücher.example")]),
        &FieldMap::default(),
        &r,
    );
    assert_eq!(written(&result), [("email", "jorg@bücher.example")]);
}

/// B14: a field the sync rules keep anyway (sync off, the record's value
/// set) is kept, but not kept by trust; with sync on, trust is what kept it.
#[test]
fn b14_a_field_kept_by_the_sync_rules_is_not_kept_by_trust() {
    let record = fields(&[("company", "Acme")]);
    let input = fields(&[("company", "Initech")]);
    let mut r = merge_rules(
        ClassRules::all(FieldMerge::Overwrite),
        false,
        Citations::Doo,
    );
    r.trust = Some(contact_sync::TrustRights {
        max: ClassRules::all(FieldMerge::Never),
        owns: vec![],
    });
    let off = merge_fields(&record, &input, &FieldMap::default(), &r);
    assert_eq!(off.kept, [FieldName::new("company")]);
    assert!(off.kept_by_trust.is_empty(), "{:?}", off.kept_by_trust);
    r.sync = true;
    let on = merge_fields(&record, &input, &FieldMap::default(), &r);
    assert_eq!(on.kept, [FieldName::new("company")]);
    assert_eq!(on.kept_by_trust, [FieldName::new("company")]);
}

#[test]
fn d13_d14_d15_merge_rules_and_email_change_cases_built_by_constructors_have_the_documented_defaults(
) {
    let classes = Policy::doo().sync.on_match;
    let m = MergeRules::new(classes);
    assert!(m.sync && !m.freeze_generated && m.trust.is_none());
    assert_eq!((m.entered.clone(), m.on), (Entered::All, MergeOn::Match));
    assert_eq!(m.citations, Citations::default());
    assert_eq!(m.effective(), classes);
    // Sync off caps every class at filling empty fields (D14, D15).
    assert_eq!(
        m.with_sync(false).effective(),
        classes.capped(FieldMerge::FillEmpty)
    );
    let c = EmailChangeCase::new(During::Edit, EmailChange::Retain);
    assert_eq!(
        (c.during, c.policy_setting),
        (During::Edit, EmailChange::Retain)
    );
    assert!(!c.linked && !c.record_has_email && !c.has_email && !c.changed && !c.sync);
    assert_eq!(
        (c.event_setting, c.email_merge, c.retained_email),
        (None, FieldMerge::FillEmpty, RetainedEmail::default())
    );
    // Not linked: no record whose email could have changed.
    assert_eq!(email_change(&c).action, EmailChangeAction::Nothing);
}
