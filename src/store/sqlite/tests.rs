//! The SQLite store's own tests: query plans and migrations.

use super::*;

/// `EXPLAIN QUERY PLAN`'s detail lines for `sql`, its parameters bound
/// to placeholder values.
fn plan_of(store: &SqliteStore, sql: &str) -> Vec<String> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let n = stmt.parameter_count();
    let values: Vec<Vec<u8>> = (0..n).map(|_| vec![0u8; 16]).collect();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// What is wrong with `sql`'s plan: a table walked, or an index in
/// `expected` not searched by.
fn violations(store: &SqliteStore, name: &str, sql: &str, expected: &[&str]) -> Vec<String> {
    let plan = plan_of(store, sql);
    let mut out: Vec<String> = plan
        .iter()
        .filter(|line| line.contains("SCAN"))
        .map(|line| format!("{name}: walks a table: {line}"))
        .collect();
    for want in expected {
        if !plan.iter().any(|line| line.ends_with(want)) {
            out.push(format!("{name}: no `{want}` in {plan:?}"));
        }
    }
    out
}

#[test]
fn b15_b19_every_lookup_searches_by_its_index_and_never_scans() {
    let store = SqliteStore::open_in_memory(Normalization::default()).unwrap();
    let failures: Vec<String> = LOOKUPS
        .iter()
        .flat_map(|(name, sql, expected)| violations(&store, name, sql, expected))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_plan_check_sees_a_lookup_that_walks_the_tenant() {
    // The query aliases (B15) first shipped with: the check must flag it.
    let store = SqliteStore::open_in_memory(Normalization::default()).unwrap();
    let walks = violations(
        &store,
        "records by email key, as first shipped",
        "SELECT id FROM records WHERE tenant = ?1 AND (email_key = ?2 OR id IN
         (SELECT record FROM record_aliases WHERE tenant = ?1 AND alias_key = ?2))",
        &["records USING INDEX records_by_key (tenant=? AND email_key=?)"],
    );
    assert!(!walks.is_empty());
    // And the membership lookup on schema 6's index (tenant, record):
    // SQLite reads the primary key's tenant prefix instead.
    store
        .conn()
        .execute_batch(
            "DROP INDEX campaign_members_by_record;
             CREATE INDEX campaign_members_by_record ON campaign_members (tenant, record);",
        )
        .unwrap();
    let walks = violations(
        &store,
        "memberships by record, schema 6",
        MEMBERSHIPS_BY_RECORD,
        &["campaign_members USING INDEX campaign_members_by_record (tenant=? AND record=?)"],
    );
    assert!(!walks.is_empty());
}
