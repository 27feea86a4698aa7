//! B10: weighted and fuzzy criteria for (cross) matching.

use crate::common::*;
use contact_sync::*;

fn weighted(criteria: Vec<Criterion>, threshold: u32) -> Policy {
    let mut p = sf(RecordType::Contact).with_cross_matching(RecordType::Contact, &[]);
    p.fields = p.fields.map("company", FieldClass::FormField);
    p.matching.weighted = Some(WeightedCriteria {
        criteria,
        threshold,
    });
    p
}

fn crit(field: &str, compare: Comparator, weight: u32) -> Criterion {
    Criterion {
        field: FieldName::new(field),
        compare,
        weight,
    }
}

#[test]
fn b10_jaro_winkler_matches_a_misspelled_last_name_and_rejects_another_person() {
    let p = weighted(
        vec![crit(
            "last_name",
            Comparator::JaroWinkler { min_per_mille: 900 },
            10,
        )],
        10,
    );
    let records = || {
        vec![lead(
            1,
            &[("email", "jo@example.org"), ("last_name", "Mueller")],
        )]
    };
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("last_name", "Muller")],
    );
    let o = outcome(&plan, 10);
    assert_eq!(o.record, Some(rid(1)), "{}", o.explanation());
    assert_rules(o, &[RuleId::B10, RuleId::A24]);
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("last_name", "Schmidt")],
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
    assert!(outcome(&plan, 10)
        .explanation()
        .contains("1 record(s) with this email fell short"));
}

#[test]
fn b10_weights_add_up_to_the_threshold() {
    let p = weighted(
        vec![
            crit("last_name", Comparator::Normalized, 5),
            crit("company", Comparator::Normalized, 5),
            crit("first_name", Comparator::Exact, 2),
        ],
        7,
    );
    let rec = || {
        vec![contact(
            1,
            &[
                ("email", "a@example.org"),
                ("first_name", "Jo"),
                ("last_name", "Park"),
                ("company", "Acme"),
            ],
        )]
    };
    // last name (5) + first name exact (2) = 7: a match.
    let plan = one_holder(
        &p,
        rec(),
        &[
            ("email", "a@example.org"),
            ("first_name", "Jo"),
            ("last_name", "PARK"),
            ("company", "Other"),
        ],
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    // first name differs in case (exact fails): 5 < 7, no match.
    let plan = one_holder(
        &p,
        rec(),
        &[
            ("email", "a@example.org"),
            ("first_name", "JO"),
            ("last_name", "Park"),
            ("company", "Other"),
        ],
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
    // Blank values never count.
    let plan = one_holder(
        &p,
        rec(),
        &[
            ("email", "a@example.org"),
            ("last_name", ""),
            ("company", ""),
        ],
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
}

#[test]
fn b10_b11_weighted_criteria_are_validated_and_round_trip() {
    let p = weighted(vec![crit("last_name", Comparator::Normalized, 5)], 6);
    assert_eq!(
        p.validate(),
        Err(PolicyError::UnreachableThreshold {
            threshold: 6,
            total: 5
        })
    );
    let p = weighted(
        vec![crit(
            "last_name",
            Comparator::JaroWinkler {
                min_per_mille: 1200,
            },
            5,
        )],
        5,
    );
    assert_eq!(p.validate(), Err(PolicyError::SimilarityOutOfRange(1200)));
    let p = weighted(vec![crit("email", Comparator::Exact, 5)], 5);
    assert_eq!(p.validate(), Err(PolicyError::EmailAsCriterion));
    let p = weighted(
        vec![crit(
            "last_name",
            Comparator::JaroWinkler { min_per_mille: 920 },
            3,
        )],
        3,
    );
    assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p);
    let bad = r#"{"matching": {"weighted": {"criteria": [{"field": "last_name", "compare": "exact", "weight": 1, "extra": 0}], "threshold": 1}}}"#;
    assert!(Policy::from_json(bad)
        .unwrap_err()
        .to_string()
        .contains("unknown field"));
}

#[test]
fn b10_jaro_winkler_compares_at_most_the_documented_number_of_characters() {
    let p = weighted(
        vec![crit(
            "last_name",
            Comparator::JaroWinkler { min_per_mille: 990 },
            10,
        )],
        10,
    );
    // Two 64 KiB names that agree on their first MAX_COMPARED_CHARS
    // characters and differ in every one after: only the head counts.
    let head = "Mueller".repeat(MAX_COMPARED_CHARS / 7 + 1);
    let head: String = head.chars().take(MAX_COMPARED_CHARS).collect();
    let long = |tail: char| {
        let mut s = head.clone();
        s.extend(std::iter::repeat_n(tail, 64 * 1024 - MAX_COMPARED_CHARS));
        s
    };
    let (record_name, subject_name) = (long('x'), long('y'));
    let plan = one_holder(
        &p,
        vec![lead(
            1,
            &[
                ("email", "jo@example.org"),
                ("last_name", record_name.as_str()),
            ],
        )],
        &[
            ("email", "jo@example.org"),
            ("last_name", subject_name.as_str()),
        ],
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    // A difference inside the compared head still counts.
    let mut other = long('x');
    other.replace_range(0..7, "Schmidt");
    let plan = one_holder(
        &p,
        vec![lead(
            1,
            &[("email", "jo@example.org"), ("last_name", other.as_str())],
        )],
        &[("email", "jo@example.org"), ("last_name", "Mueller")],
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
}

#[test]
fn b10_a_blank_value_earns_no_weight_even_at_a_zero_similarity_threshold() {
    // A threshold of 0 accepts any two names; a blank one is still no name.
    let p = weighted(
        vec![crit(
            "last_name",
            Comparator::JaroWinkler { min_per_mille: 0 },
            10,
        )],
        10,
    );
    let records = || {
        vec![lead(
            1,
            &[("email", "jo@example.org"), ("last_name", "Mueller")],
        )]
    };
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("last_name", "Schmidt")],
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    for blank in ["", "   "] {
        let plan = one_holder(
            &p,
            records(),
            &[("email", "jo@example.org"), ("last_name", blank)],
        );
        let o = outcome(&plan, 10);
        assert_eq!(o.decision, Decision::Created, "{}", o.explanation());
        assert_ne!(o.record, Some(rid(1)));
    }
}

#[test]
fn b10_an_exact_criterion_earns_its_weight_only_for_equal_values() {
    let p = weighted(vec![crit("company", Comparator::Exact, 10)], 10);
    let records = || vec![lead(1, &[("email", "jo@example.org"), ("company", "Acme")])];
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("company", "Acme")],
    );
    assert_eq!(outcome(&plan, 10).record, Some(rid(1)));
    let plan = one_holder(
        &p,
        records(),
        &[("email", "jo@example.org"), ("company", "Apex")],
    );
    assert_eq!(outcome(&plan, 10).decision, Decision::Created);
}
