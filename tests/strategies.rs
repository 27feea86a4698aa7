//! The `proptest` feature's strategies make valid inputs that reach the
//! rules' cases: one match (D2), several (D4), none (D3), no email (D5).
#![cfg(feature = "proptest")]

use std::collections::BTreeSet;

use contact_sync::strategies;
use contact_sync::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

#[test]
fn d2_d3_d4_d5_generated_inputs_reach_every_matching_case() {
    let mut runner = TestRunner::deterministic();
    let mut rules = BTreeSet::new();
    for _ in 0..200 {
        let records = strategies::store_contents(strategies::TENANT, 6)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let event = strategies::registration(strategies::TENANT, 3)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let store = InMemoryStore::new();
        store.extend(records).unwrap();
        let plan = Engine::new(Policy::doo())
            .unwrap()
            .plan(&store, &event)
            .unwrap();
        for o in &plan.outcomes {
            rules.extend(o.rules.iter().copied());
        }
    }
    for r in [RuleId::D2, RuleId::D3, RuleId::D4, RuleId::D5] {
        assert!(rules.contains(&r), "{r} never fired: {rules:?}");
    }
}

#[test]
fn b11_generated_policies_validate_and_store_contents_have_distinct_ids() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..100 {
        let policy = strategies::policy()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        policy.validate().unwrap();
        let records = strategies::store_contents(strategies::TENANT, 8)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let ids: BTreeSet<RecordId> = records.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), records.len());
    }
}
