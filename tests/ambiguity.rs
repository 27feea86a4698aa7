//! B13: ambiguity policies as data. Each policy by name, the fallback to a
//! new record when a policy cannot single out one, the duplicates warning
//! whatever the policy, and the policy's validation.

use crate::common::*;
use contact_sync::*;
use contact_sync::{Ambiguity, Comparator, Criterion, WeightedCriteria};

const TEAM: &str = "team@example.org";

/// Three contacts share an email; they differ in company, city, modification
/// time and last name.
fn three() -> InMemoryStore {
    store_with(vec![
        contact(
            1,
            &[
                ("email", TEAM),
                ("company", "Acme"),
                ("city", "Graz"),
                ("last_modified", "2026-01-01"),
                ("last_name", "Lee"),
            ],
        ),
        contact(
            2,
            &[
                ("email", TEAM),
                ("company", "Acme"),
                ("city", "Wien"),
                ("last_modified", "2026-06-01"),
                ("last_name", "Leigh"),
            ],
        ),
        contact(
            3,
            &[
                ("email", TEAM),
                ("company", "Globex"),
                ("last_name", "Smith"),
            ],
        ),
    ])
}

fn plan_with(a: Ambiguity, subject: &[(&str, &str)]) -> Plan {
    let mut p = Policy::doo();
    p.matching.ambiguity = a;
    engine(p)
        .plan(&three(), &registration(1, vec![attendee(10, subject)]))
        .unwrap()
}

fn duplicates_reported(plan: &Plan) -> bool {
    plan.warnings.iter().any(
        |w| matches!(w, Warning::AbsorbingDuplicates { subject, count: 3 } if *subject == sid(10)),
    )
}

#[test]
fn b13_d4_create_new_is_the_default_and_reports_the_duplicates() {
    assert_eq!(Policy::doo().matching.ambiguity, Ambiguity::CreateNew);
    let plan = plan_with(Ambiguity::CreateNew, &[("email", TEAM)]);
    let o = outcome(&plan, 10);
    assert_eq!(o.decision, Decision::Created);
    assert_rules(o, &[RuleId::D4]);
    assert!(!o.rules.contains(&RuleId::B13), "doo's own rule speaks");
    assert!(duplicates_reported(&plan), "{:?}", plan.warnings);
}

#[test]
fn b13_skip_links_none_creates_none_and_warns() {
    let plan = plan_with(Ambiguity::Skip, &[("email", TEAM)]);
    let o = outcome(&plan, 10);
    assert_eq!((o.decision, o.record), (Decision::NoRecord, None));
    assert_eq!(o.no_record, Some(NoRecordReason::Ambiguous));
    assert_eq!(plan.created().count(), 0);
    assert!(duplicates_reported(&plan));
    assert!(plan
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::Ambiguous { records, .. } if records.len() == 3)));
    // The policy file of earlier versions spelled it `no_record`.
    let json = r#"{ "matching": { "ambiguity": "no_record" } }"#;
    assert_eq!(
        Policy::from_json(json).unwrap().matching.ambiguity,
        Ambiguity::Skip
    );
}

#[test]
fn b13_review_is_a_distinct_outcome_for_a_person() {
    let plan = plan_with(Ambiguity::Review, &[("email", TEAM)]);
    let o = outcome(&plan, 10);
    assert_eq!((o.decision, o.record), (Decision::Review, None));
    assert_rules(o, &[RuleId::D4, RuleId::B13]);
    assert!(o.explanation().contains("`review`"), "{}", o.explanation());
    assert!(plan
        .effects
        .iter()
        .all(|e| !matches!(e, Effect::CreateRecord { .. } | Effect::Link { .. })));
    assert!(duplicates_reported(&plan));
}

#[test]
fn b13_most_recently_modified_takes_the_latest_and_ties_create() {
    let latest = Ambiguity::MostRecentlyModified {
        field: FieldName::new("last_modified"),
    };
    let plan = plan_with(latest.clone(), &[("email", TEAM)]);
    let o = outcome(&plan, 10);
    assert_eq!(
        o.record,
        Some(rid(2)),
        "record 2 was modified last; 3 has no time"
    );
    assert_rules(o, &[RuleId::D4, RuleId::B13]);
    assert!(
        o.explanation().contains("most_recently_modified"),
        "{}",
        o.explanation()
    );
    // A tie: never guess.
    let tied = store_with(vec![
        contact(1, &[("email", TEAM), ("last_modified", "2026-02-01")]),
        contact(2, &[("email", TEAM), ("last_modified", "2026-02-01")]),
    ]);
    let mut p = Policy::doo();
    p.matching.ambiguity = latest;
    let plan = engine(p)
        .plan(
            &tied,
            &registration(1, vec![attendee(10, &[("email", TEAM)])]),
        )
        .unwrap();
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
}

#[test]
fn b13_waterfall_takes_the_first_rule_with_exactly_one_match() {
    let waterfall = Ambiguity::Waterfall {
        rules: vec![
            vec![FieldName::new("company")],
            vec![FieldName::new("city")],
        ],
    };
    let by_company = plan_with(
        waterfall.clone(),
        &[("email", TEAM), ("company", " globex ")],
    );
    assert_eq!(outcome(&by_company, 10).record, Some(rid(3)));
    let by_city = plan_with(
        waterfall.clone(),
        &[("email", TEAM), ("company", "Acme"), ("city", "Graz")],
    );
    let o = outcome(&by_city, 10);
    assert_eq!(o.record, Some(rid(1)));
    assert!(o.explanation().contains("rule 2"), "{}", o.explanation());
    let none = plan_with(waterfall, &[("email", TEAM), ("company", "Initech")]);
    let o = outcome(&none, 10);
    assert_eq!(o.decision, Decision::Created);
    assert!(
        o.explanation().contains("could not single out"),
        "{}",
        o.explanation()
    );
}

#[test]
fn b13_b10_best_score_takes_the_single_highest_score() {
    let mut p = Policy::doo();
    // Both criteria weigh; the last name must match for the threshold.
    p.matching.weighted = Some(WeightedCriteria {
        criteria: vec![
            Criterion {
                field: FieldName::new("last_name"),
                compare: Comparator::JaroWinkler { min_per_mille: 900 },
                weight: 10,
            },
            Criterion {
                field: FieldName::new("city"),
                compare: Comparator::Exact,
                weight: 1,
            },
        ],
        threshold: 10,
    });
    p.matching.ambiguity = Ambiguity::BestScore;
    let e = engine(p);
    let store = store_with(vec![
        contact(
            1,
            &[("email", TEAM), ("last_name", "Lee"), ("city", "Graz")],
        ),
        contact(
            2,
            &[("email", TEAM), ("last_name", "Lee"), ("city", "Wien")],
        ),
        contact(3, &[("email", TEAM), ("last_name", "Smith")]),
    ]);
    let reg = |city: &str| {
        registration(
            1,
            vec![attendee(
                10,
                &[("email", TEAM), ("last_name", "Lee"), ("city", city)],
            )],
        )
    };
    // Records 1 and 2 pass the threshold; the city makes record 1's 11 the best.
    let plan = e.plan(&store, &reg("Graz")).unwrap();
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(1)));
    assert_rules(o, &[RuleId::D4, RuleId::B13, RuleId::B10]);
    assert!(
        o.explanation().contains("scoring 11"),
        "{}",
        o.explanation()
    );
    // Both score 10: a tie, never guess.
    let tie = e.plan(&store, &reg("Linz")).unwrap();
    assert_eq!(outcome(&tie, 10).decision, Decision::Created);
}

#[test]
fn b13_policies_that_cannot_work_are_refused() {
    let mut p = Policy::doo();
    p.matching.ambiguity = Ambiguity::BestScore;
    assert!(matches!(
        p.validate(),
        Err(PolicyError::BestScoreWithoutWeights)
    ));
    p.matching.ambiguity = Ambiguity::Waterfall { rules: vec![] };
    assert!(matches!(p.validate(), Err(PolicyError::EmptyWaterfall)));
    p.matching.ambiguity = Ambiguity::Waterfall {
        rules: vec![vec![]],
    };
    assert!(matches!(p.validate(), Err(PolicyError::EmptyWaterfall)));
    let mut sf = Policy::salesforce(RecordType::Contact);
    sf.matching.ambiguity = Ambiguity::MostRecentlyModified {
        field: FieldName::new("not_mapped"),
    };
    assert!(matches!(
        sf.validate(),
        Err(PolicyError::UnmappedCriterion(_))
    ));
}
