//! Each preset speaks its own rules: a Salesforce plan cites only `A` and
//! `B` rules, in outcomes and field changes, and the ordinary order email
//! change (A14) carries no doo warning.

use crate::common::*;
use contact_sync::scenario::Scenario;
use contact_sync::*;
use proptest::prelude::*;

fn doo_rule(r: RuleId) -> bool {
    r.as_str().starts_with('D')
}

#[track_caller]
fn assert_speaks_salesforce(plan: &Plan) {
    for o in &plan.outcomes {
        assert!(
            !o.rules.iter().any(|r| doo_rule(*r)),
            "{:?}: {}",
            o.rules,
            o.explanation()
        );
    }
    for e in &plan.effects {
        if let Effect::UpdateRecord { changes, .. } = e {
            for c in changes {
                assert!(!doo_rule(c.rule), "{} cites {}", c.field, c.rule);
            }
        }
    }
    for w in &plan.warnings {
        assert!(!w.message().contains("(D"), "{}", w.message());
    }
}

#[test]
fn a14_an_order_email_change_replaces_the_email_without_a_doo_warning() {
    let store = store_with(vec![contact(
        1,
        &[("email", "old@example.org"), ("first_name", "Jo")],
    )]);
    let h = holder(10, &[("email", "old@example.org"), ("first_name", "Jo")]).linked_to(rid(1));
    let plan = run(
        &sf(RecordType::Contact),
        &store,
        &edit(
            1,
            h,
            &[("email", "new@example.org")],
            EditSource::SelfService,
        ),
    );
    assert_rules(outcome(&plan, 10), &[RuleId::A14]);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert_eq!(text(&store, rid(1), "email"), "new@example.org");
    assert_speaks_salesforce(&plan);
}

#[test]
fn a2_to_a29_salesforce_scenarios_cite_only_a_and_b_rules() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut outcomes = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("a_")
        {
            continue;
        }
        let report = Scenario::from_json(&std::fs::read_to_string(&path).unwrap())
            .unwrap()
            .run()
            .unwrap();
        for step in &report.steps {
            for o in &step.outcomes {
                outcomes += 1;
                assert!(
                    !o.rules.iter().any(|r| doo_rule(*r)),
                    "{}: {:?}",
                    path.display(),
                    o.rules
                );
            }
            for w in &step.warnings {
                assert!(!w.contains("(D"), "{}: {w}", path.display());
            }
        }
    }
    assert!(outcomes > 10);
}

fn subject_fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let email = prop_oneof![
        Just(""),
        Just("jo@example.org"),
        Just("new@example.org"),
        Just("dup@example.org")
    ];
    let name = prop_oneof![Just(""), Just("Jo"), Just("Kim")];
    let title = prop_oneof![Just(""), Just("CEO"), Just("CTO")];
    (email, name.clone(), name, title).prop_map(|(e, f, l, t)| {
        vec![
            ("email".into(), e.into()),
            ("first_name".into(), f.into()),
            ("last_name".into(), l.into()),
            ("job_title".into(), t.into()),
            ("ticket_id".into(), "T-1".into()),
        ]
    })
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a1_to_a29_every_salesforce_plan_cites_only_a_and_b_rules(
        as_lead in any::<bool>(),
        cross in any::<bool>(),
        registered in subject_fields(),
        edited in subject_fields(),
        source in 0..3u8,
    ) {
        let t = if as_lead { RecordType::Lead } else { RecordType::Contact };
        let mut policy = sf(t);
        if cross {
            policy = policy.with_cross_matching(RecordType::Contact, &[]);
        }
        let store = store_with(vec![
            contact(1, &[("email", "jo@example.org"), ("first_name", "Jo"), ("job_title", "CFO")]),
            lead(2, &[("email", "jo@example.org"), ("first_name", "Jo")]),
            contact(3, &[("email", "dup@example.org")]),
            contact(4, &[("email", "dup@example.org")]),
        ]);
        let first = order(1, vec![booker(9, &[("email", "buyer@example.org")]), holder(10, &pairs(&registered))]);
        let Ok(plan) = engine(policy.clone()).plan(&store, &first) else { return Ok(()) };
        assert_speaks_salesforce(&plan);
        store.apply(&plan).unwrap();
        let now = holder(10, &pairs(&registered));
        let now = match store.link_of(T, sid(10)) { Some(r) => now.linked_to(r), None => now };
        let source = match source {
            0 => EditSource::SelfService,
            1 => EditSource::UpdateTrigger,
            _ => EditSource::Organizer { sync: None },
        };
        let second = edit(2, now, &pairs(&edited), source);
        if let Ok(plan) = engine(policy).plan(&store, &second) {
            assert_speaks_salesforce(&plan);
        }
    }
}
