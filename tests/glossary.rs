//! B2: the rule glossary inside the crate: every id with its text and source.

use contact_sync::{RuleId, RuleSource};

#[test]
fn b2_every_rule_id_has_its_text_and_source_in_the_glossary() {
    let count = |p: char| {
        RuleId::ALL
            .iter()
            .filter(|r| r.as_str().starts_with(p))
            .count()
    };
    assert_eq!((count('D'), count('A'), count('B')), (22, 30, 20));
    for r in RuleId::ALL {
        let expected = match r.as_str().as_bytes()[0] {
            b'D' => RuleSource::Doo,
            b'A' => RuleSource::Salesforce,
            _ => RuleSource::Beyond,
        };
        assert_eq!(r.source(), expected, "{r}");
        assert!(
            r.text().len() > 20 && r.text().ends_with(['.', ')']),
            "{r}: {}",
            r.text()
        );
        assert_eq!(r.as_str().parse::<RuleId>(), Ok(*r));
        assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{r}\""));
    }
    // In glossary order, which is also the enum's order.
    assert!(RuleId::ALL.windows(2).all(|w| w[0] < w[1]));
    assert!("D23".parse::<RuleId>().is_err());
}

#[test]
fn d21_d22_a30_the_new_ids_are_in_the_glossary() {
    assert!(RuleId::D21.text().contains("Access codes complete records"));
    assert!(RuleId::D22.text().contains("on event level"));
    assert!(RuleId::A30.text().contains("campaign member"));
}
