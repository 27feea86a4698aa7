//! B12: the JSON scenarios under tests/scenarios/ (one or more per rule
//! group) run and every expectation holds; bad files get clear errors.

use contact_sync::scenario::Scenario;
use contact_sync::scenario::ScenarioError;

fn run_file(path: &std::path::Path) -> contact_sync::scenario::Report {
    let text = std::fs::read_to_string(path).unwrap();
    Scenario::from_json(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .run()
        .unwrap()
}

#[test]
fn b12_every_scenario_file_passes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "one scenario per rule group at least");
    for f in &files {
        let report = run_file(f);
        assert!(
            report.passed(),
            "{}:\n{report}\n{:#?}",
            f.display(),
            report.mismatches()
        );
        assert!(report
            .steps
            .iter()
            .any(|s| !s.outcomes.is_empty() || s.error.is_some()));
    }
}

#[test]
fn b12_a_wrong_expectation_is_reported_as_a_mismatch() {
    let json = r#"{
      "policy": { "preset": "doo" },
      "steps": [ { "register": { "subjects": [ { "name": "a", "fields": { "email": "a@example.org" } } ] },
                   "expect": { "outcomes": { "a": { "decision": "linked", "rules": ["D2"] } }, "created": 0 } } ]
    }"#;
    let report = Scenario::from_json(json).unwrap().run().unwrap();
    assert!(!report.passed());
    let m = report.mismatches();
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(m[0].contains("decision Created, expected Linked"), "{m:?}");
    assert!(m[1].contains("rule D2 did not fire"), "{m:?}");
    assert!(m[2].contains("created 1 record(s), expected 0"), "{m:?}");
}

#[test]
fn b12_unknown_fields_name_their_path() {
    let json = r#"{ "policy": { "preset": "doo" }, "steps": [ { "register": { "subjects": [ { "name": "a", "rol": "booker" } ] } } ] }"#;
    let e = Scenario::from_json(json).unwrap_err();
    let ScenarioError::Json { path, message } = &e else {
        panic!("{e}")
    };
    assert_eq!(path, "steps[0].register.subjects[0].rol");
    assert!(message.contains("unknown field `rol`"), "{message}");
    let e = Scenario::from_json(r#"{ "policy": { "preset": "doo", "overrides": { "sync": { "enabeld": false } } }, "steps": [] }"#).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("policy.sync.enabeld: unknown field"),
        "{e}"
    );
    let e = Scenario::from_json(r#"{ "policy": { "preset": "doo" }, "stepz": [] }"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `stepz`"), "{e}");
}

#[test]
fn b12_unknown_preset_is_an_error() {
    let e =
        Scenario::from_json(r#"{ "policy": { "preset": "hubspot" }, "steps": [] }"#).unwrap_err();
    assert_eq!(e, ScenarioError::UnknownPreset("hubspot".into()));
    assert!(e.to_string().contains("unknown preset `hubspot`"));
}

#[test]
fn b12_undefined_names_are_errors_with_their_path() {
    let e = Scenario::from_json(
        r#"{ "policy": { "preset": "doo" }, "steps": [
        { "register": { "subjects": [ { "name": "a", "prefill": "r9" } ] } } ] }"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "steps[0].register.subjects[0].prefill: record `r9` is not defined"
    );
    let e = Scenario::from_json(r#"{ "policy": { "preset": "doo" }, "steps": [ { "relink": { "subject": "ghost", "to": "r1" } } ] }"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "steps[0].relink.subject: subject `ghost` is not defined"
    );
    let e =
        Scenario::from_json(r#"{ "policy": { "preset": "doo" }, "steps": [ {} ] }"#).unwrap_err();
    assert!(matches!(e, ScenarioError::StepShape(_)), "{e}");
}

/// B2: a scenario run in German explains in German, names records and
/// subjects by their scenario names, and checks its expectations on
/// explanations in English (so they still hold).
#[test]
fn b2_b12_a_scenario_runs_in_german_with_its_english_expectations() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/b13_review.json");
    let s = Scenario::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let en = s.run().unwrap();
    let de = s.run_in(&contact_sync::describe::German).unwrap();
    assert!(en.mismatches().is_empty() && de.mismatches().is_empty());
    let outcomes = |r: &contact_sync::scenario::Report| -> Vec<(String, String)> {
        r.steps
            .iter()
            .flat_map(|s| &s.outcomes)
            .map(|o| (o.subject.clone(), o.explanation.clone()))
            .collect()
    };
    let (en, de) = (outcomes(&en), outcomes(&de));
    assert_eq!(en.len(), de.len());
    for ((se, e), (sd, d)) in en.iter().zip(&de) {
        assert_eq!(se, sd);
        assert_ne!(e, d);
    }
    assert!(
        de.iter()
            .any(|(_, d)| d.contains("Mehrdeutigkeitsregel `review`")),
        "{de:?}"
    );
    assert!(!de.iter().any(|(_, d)| d.contains("00000000-")), "{de:?}");
}
