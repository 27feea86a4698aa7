//! Every integration test, in one test binary: the crate's generic engine
//! is compiled and linked once for the tests instead of once per file.
//! `cargo test --all-features` runs them all; each module is named after
//! the rules or the part it checks.

mod common;

mod aliases;
mod ambiguity;
mod async_store;
mod bad_rows;
mod batch;
mod builders;
mod conformance;
mod doo_email_change;
mod doo_event_level;
mod doo_matching;
mod doo_sync;
mod email;
mod fuzzy;
mod glossary;
mod hardening;
mod heal;
mod history;
mod linkage;
mod model;
mod parsers;
mod policy;
mod postgres;
mod postgres_faults;
mod postgres_import;
mod postgres_tls;
mod properties;
mod record_linkage;
mod retry_classes;
mod rules_as_functions;
mod safety;
mod salesforce_citations;
mod salesforce_new;
mod salesforce_overrides;
mod salesforce_updates;
mod scenarios;
mod schemas;
mod snapshots;
mod sqlite;
mod store;
mod strategies;
mod telemetry;
mod testkit_contract;
mod trust;
mod undo;
mod undo_model;
mod walkthrough;
mod what_if;
