//! The JSON Schemas of policies and scenarios in `schemas/` are those the
//! types describe today (B11, B12): editors validate policy and scenario
//! files against them. When a type changes, regenerate them with
//! `CONTACT_SYNC_UPDATE_SCHEMAS=1 cargo test --all-features schemas`.
#![cfg(feature = "schemars")]

use contact_sync::scenario::Scenario;
use contact_sync::Policy;

fn check(file: &str, schema: schemars::Schema) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file);
    let fresh = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("CONTACT_SYNC_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == fresh,
        "schemas/{file} is stale: run CONTACT_SYNC_UPDATE_SCHEMAS=1 cargo test --all-features schemas"
    );
}

#[test]
fn b11_the_policy_schema_is_fresh() {
    check("policy.schema.json", schemars::schema_for!(Policy));
}

#[test]
fn b12_the_scenario_schema_is_fresh() {
    check("scenario.schema.json", schemars::schema_for!(Scenario));
}

/// The schemas describe what the types accept: unknown fields are refused
/// (as `deny_unknown_fields` does), and the presets' defaults are stated.
#[test]
fn b11_the_policy_schema_refuses_unknown_fields_and_states_defaults() {
    let schema = serde_json::to_value(schemars::schema_for!(Policy)).unwrap();
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    assert_eq!(
        schema["properties"]["email_change"]["default"],
        serde_json::json!("reassign")
    );
}
