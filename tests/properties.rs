//! Property tests of the invariants (determinism, sync off, fill-empty, D4,
//! tenant isolation) and an oracle for matching.

use crate::common::*;
use contact_sync::*;
use proptest::prelude::*;

const EMAILS: &[&str] = &[
    "ann@example.org",
    "ANN@example.org ",
    "ben@example.org",
    "cleo@bücher.example",
    "dan@example.org",
    "eve@example.org",
];
const NAMES: &[&str] = &["", "Ann", "Ben", "Cleo"];
const COMPANIES: &[&str] = &["", " ", "Acme", "Globex"];

fn field_set() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    (
        prop::sample::select(EMAILS),
        prop::sample::select(NAMES),
        prop::sample::select(COMPANIES),
        prop::option::of(prop::sample::select(COMPANIES)),
    )
        .prop_map(|(e, n, c, p)| {
            let mut v = vec![("email", e), ("first_name", n), ("company", c)];
            if let Some(p) = p {
                v.push(("phone", p));
            }
            v
        })
}

fn records() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec((field_set(), any::<bool>(), any::<bool>()), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (f, other_tenant, lead))| {
                let t = if other_tenant { OTHER } else { T };
                let ty = if lead {
                    RecordType::Lead
                } else {
                    RecordType::Contact
                };
                Record::new(rid(i as u128 + 1), t, ty, fields(&f))
            })
            .collect()
    })
}

fn subjects() -> impl Strategy<Value = Vec<Subject>> {
    prop::collection::vec((field_set(), any::<bool>(), any::<bool>()), 1..5).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (f, booker, no_email))| {
                let mut f = fields(&f);
                if no_email {
                    f.remove("email");
                }
                let role = if booker && i == 0 {
                    Role::Booker
                } else {
                    Role::Attendee
                };
                Subject::new(sid(100 + i as u128), role, f)
            })
            .collect()
    })
}

fn policies() -> impl Strategy<Value = Policy> {
    prop::sample::select(vec![
        Policy::doo(),
        Policy::doo_external_master(),
        Policy::doo().with_email_change(EmailChange::Retain),
        Policy::doo().with_name_guard(NameGuard::KeepName),
        Policy::salesforce(RecordType::Contact),
        Policy::salesforce(RecordType::Lead).with_cross_matching(RecordType::Contact, &[]),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn determinism_same_input_gives_an_identical_plan(p in policies(), rs in records(), ss in subjects()) {
        let ev = registration(1, ss);
        let a = engine(p.clone()).plan(&store_with(rs.clone()), &ev).unwrap();
        let b = engine(p).plan(&store_with(rs), &ev).unwrap();
        prop_assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn d14_sync_off_never_changes_a_non_empty_record_field(rs in records(), ss in subjects()) {
        let store = store_with(rs.clone());
        run(&Policy::doo_external_master(), &store, &registration(1, ss));
        for before in rs.iter().filter(|r| r.tenant == T) {
            let after = record(&store, before.id);
            for (n, v) in before.fields.iter().filter(|(_, v)| !v.is_blank()) {
                prop_assert_eq!(after.fields.get(n.as_str()), Some(v));
            }
        }
    }

    #[test]
    fn d15_empty_record_fields_are_filled_in_both_modes(sync in any::<bool>(), rs in records(), ss in subjects()) {
        let store = store_with(rs.clone());
        let plan = run(&Policy::doo().with_sync(sync), &store, &registration(1, ss.clone()));
        for o in plan.outcomes.iter().filter(|o| o.decision == Decision::Linked) {
            let s = ss.iter().find(|s| s.id == o.subject).unwrap();
            let after = record(&store, o.record.unwrap());
            for (n, v) in s.fields.iter().filter(|(_, v)| !v.is_blank()) {
                prop_assert!(!after.fields.is_empty_at(n.as_str()), "{} left empty", n);
                let _ = v;
            }
        }
    }

    #[test]
    fn d4_a_key_shared_by_two_or_more_records_never_links_by_d2(rs in records(), ss in subjects()) {
        let store = store_with(rs.clone());
        let plan = engine(Policy::doo()).plan(&store, &registration(1, ss)).unwrap();
        for o in &plan.outcomes {
            if o.decision == Decision::Linked {
                let id = o.record.unwrap();
                let linked = rs.iter().chain(plan.created()).find(|r| r.id == id).unwrap();
                let key = linked.email_key(&Normalization::default()).unwrap();
                let sharing = rs.iter().filter(|r| r.tenant == T && r.record_type == RecordType::Contact && r.email_key(&Normalization::default()).as_ref() == Some(&key)).count();
                prop_assert!(sharing <= 1, "linked into a key shared by {} records", sharing);
            }
        }
    }

    #[test]
    fn b8_a_subject_never_touches_a_record_of_another_tenant(p in policies(), rs in records(), ss in subjects()) {
        let store = store_with(rs.clone());
        let plan = run(&p, &store, &registration(1, ss));
        let foreign: Vec<RecordId> = rs.iter().filter(|r| r.tenant == OTHER).map(|r| r.id).collect();
        for e in &plan.effects {
            match e {
                Effect::UpdateRecord { record, .. } | Effect::Link { record, .. } | Effect::AddCampaignMember { record, .. } => {
                    prop_assert!(!foreign.contains(record));
                }
                Effect::CreateRecord { record, .. } => prop_assert_eq!(record.tenant, T),
                _ => {}
            }
        }
        for r in rs.iter().filter(|r| r.tenant == OTHER) {
            prop_assert_eq!(&store.record(OTHER, r.id).unwrap().unwrap(), r);
        }
    }

    /// Oracle (pubgrub style): the indexed store agrees with "filter every
    /// record by key and count" for the exact-one rule.
    #[test]
    fn d2_d3_d4_indexed_matching_agrees_with_a_scan(rs in records(), e in prop::sample::select(EMAILS)) {
        let store = store_with(rs.clone());
        let plan = engine(Policy::doo()).plan(&store, &registration(1, vec![attendee(100, &[("email", e)])])).unwrap();
        let key = EmailKey::parse(e, &Normalization::default()).unwrap().unwrap();
        let hits: Vec<&Record> = rs.iter()
            .filter(|r| r.tenant == T && r.record_type == RecordType::Contact && r.email_key(&Normalization::default()).as_ref() == Some(&key))
            .collect();
        let o = outcome(&plan, 100);
        match hits.as_slice() {
            [one] => { prop_assert_eq!(o.decision, Decision::Linked); prop_assert_eq!(o.record, Some(one.id)); }
            _ => prop_assert_eq!(o.decision, Decision::Created),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// A2: linear scope never returns or changes a record of the other type.
    #[test]
    fn a2_linear_scope_never_touches_a_record_of_the_other_type(lead_type in any::<bool>(), rs in records(), ss in subjects()) {
        let t = if lead_type { RecordType::Lead } else { RecordType::Contact };
        let store = store_with(rs.clone());
        let plan = run(&sf(t), &store, &registration(1, ss));
        let other: Vec<RecordId> = rs.iter().filter(|r| r.record_type != t).map(|r| r.id).collect();
        for o in &plan.outcomes {
            prop_assert!(o.record.is_none_or(|r| !other.contains(&r)));
        }
        for e in &plan.effects {
            if let Effect::UpdateRecord { record, .. } = e {
                prop_assert!(!other.contains(record));
            }
        }
        prop_assert!(plan.created().all(|r| r.record_type == t));
    }

    /// A21: with the toggle on, every holder with an email gets a new record.
    #[test]
    fn a21_every_holder_gets_a_new_record(rs in records(), ss in subjects()) {
        let store = store_with(rs);
        let plan = run(&sf(RecordType::Contact).with_record_for_every_holder(), &store, &registration(1, ss.clone()));
        for s in ss.iter().filter(|s| s.role == Role::Attendee && !s.fields.is_empty_at("email")) {
            prop_assert_eq!(outcome(&plan, s.id.uuid().as_u128()).decision, Decision::Created);
        }
    }

    /// A8: names never change on a match from a new registration.
    #[test]
    fn a8_names_never_change_on_a_match_from_a_new_registration(t in any::<bool>(), rs in records(), ss in subjects()) {
        let t = if t { RecordType::Lead } else { RecordType::Contact };
        let store = store_with(rs.clone());
        let plan = run(&sf(t), &store, &registration(1, ss));
        for e in &plan.effects {
            if let Effect::UpdateRecord { changes, .. } = e {
                prop_assert!(changes.iter().all(|c| c.field.as_str() != "first_name" && c.field.as_str() != "last_name"));
            }
        }
    }

    /// The two presets differ only in policy data: changing the citations
    /// never changes a decision.
    #[test]
    fn b2_citations_never_change_effects(p in policies(), rs in records(), ss in subjects()) {
        let mut q = p.clone();
        q.citations = match p.citations { Citations::Doo => Citations::Salesforce, Citations::Salesforce => Citations::Doo };
        let ev = registration(1, ss);
        let a = engine(p).plan(&store_with(rs.clone()), &ev).unwrap();
        let b = engine(q).plan(&store_with(rs), &ev).unwrap();
        let strip = |effects: Vec<Effect>| -> Vec<Effect> {
            effects.into_iter().map(|mut e| {
                if let Effect::UpdateRecord { changes, .. } = &mut e {
                    for c in changes { c.rule = RuleId::B2; }
                }
                e
            }).collect()
        };
        prop_assert_eq!(strip(a.effects), strip(b.effects));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// B2: the sentences are the reasons rendered after deciding, and
    /// `with_explanations` (kept for one release) changes nothing.
    #[test]
    #[allow(deprecated)]
    fn b2_explanations_are_the_reasons_rendered_and_the_switch_is_a_no_op(p in policies(), rs in records(), ss in subjects()) {
        let ev = registration(1, ss);
        let with = engine(p.clone()).plan(&store_with(rs.clone()), &ev).unwrap();
        let off = engine(p).with_explanations(false).plan(&store_with(rs), &ev).unwrap();
        prop_assert_eq!(&with, &off);
        for o in &with.outcomes {
            prop_assert!(!o.reasons.is_empty() && !o.explanation().is_empty());
            prop_assert_eq!(
                o.explanation(),
                describe::sentences(&describe::English, &describe::Ids, &o.reasons)
            );
        }
        // The JSON carries the rendered sentence, as before reasons were data.
        let json: serde_json::Value = serde_json::from_str(&with.to_json()).unwrap();
        for (o, j) in with.outcomes.iter().zip(json["outcomes"].as_array().unwrap()) {
            prop_assert_eq!(j["explanation"].as_str(), Some(&*o.explanation()));
        }
    }
}
