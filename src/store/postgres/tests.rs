//! The PostgreSQL store's own tests: query plans, locks and migrations.

use super::*;
use tokio_postgres::types::{ToSql, Type};

/// Every lookup and write the store runs per key or id, with what its
/// plan must show (`enable_seqscan = off`: an index that can serve the
/// query is chosen, so a query that no index serves shows a `Seq Scan`;
/// `a|b`: either index serves it).
const LOOKUPS: &[(&str, &str, &[&str])] = &[
    (
        "records by email key",
        RECORDS_BY_KEY,
        &["records_by_key", "record_aliases_pkey"],
    ),
    (
        "records by email keys",
        RECORDS_BY_EMAIL_KEYS,
        &["records_by_key"],
    ),
    (
        "records by alias keys",
        ALIAS_RECORDS,
        &["record_aliases_pkey"],
    ),
    (
        "records by ticket",
        RECORDS_BY_TICKET,
        &["records_by_ticket"],
    ),
    (
        "records by tickets",
        RECORDS_BY_TICKETS,
        &["records_by_ticket"],
    ),
    (
        "records by block",
        RECORDS_BY_BLOCK,
        &["record_blocks_pkey"],
    ),
    (
        "records by blocks",
        RECORDS_BY_BLOCKS,
        &["record_blocks_pkey"],
    ),
    ("records by ids", RECORDS_BY_IDS, &["records_pkey"]),
    ("record by id", RECORD_BY_ID, &["records_pkey"]),
    ("record for update", RECORD_FOR_UPDATE, &["records_pkey"]),
    ("records for update", RECORDS_FOR_UPDATE, &["records_pkey"]),
    ("ids by email keys", IDS_BY_EMAIL_KEYS, &["records_by_key"]),
    ("ids by tickets", IDS_BY_TICKETS, &["records_by_ticket"]),
    ("ids by blocks", IDS_BY_BLOCKS, &["record_blocks_pkey"]),
    (
        "subjects by records",
        SUBJECTS_BY_RECORDS,
        &["links_by_record"],
    ),
    ("links of subjects", LINKS_OF_SUBJECTS, &["links_pkey"]),
    (
        "memberships by records",
        MEMBERSHIPS_BY_RECORDS,
        &["campaign_members_by_record"],
    ),
    ("update records", UPDATE_RECORDS, &["records_pkey"]),
    (
        "delete aliases of records",
        DELETE_ALIASES_OF_RECORDS,
        &["record_aliases_by_record"],
    ),
    (
        "delete blocks of records",
        DELETE_BLOCKS_OF_RECORDS,
        &["record_blocks_by_record"],
    ),
    ("digests by ids", DIGESTS_BY_IDS, &["events_pkey"]),
    ("event digest", EVENT_DIGEST, &["events_pkey"]),
    ("link of a subject", LINK_OF_SUBJECT, &["links_pkey"]),
    ("a page of links", LINKS_PAGE, &["links_pkey"]),
    (
        "subjects by record",
        SUBJECTS_BY_RECORD,
        &["links_by_record"],
    ),
    (
        "memberships by record",
        MEMBERSHIPS_BY_RECORD,
        &["campaign_members_by_record"],
    ),
    (
        "history by record",
        HISTORY_BY_RECORD,
        &["field_history_by_record"],
    ),
    ("tombstone", TOMBSTONE_OF, &["tombstones_pkey"]),
    ("delete record", DELETE_RECORD, &["records_pkey"]),
    (
        "delete aliases",
        DELETE_ALIASES_OF_RECORD,
        &["record_aliases_by_record"],
    ),
    (
        "delete blocks",
        DELETE_BLOCKS_OF_RECORD,
        &["record_blocks_by_record"],
    ),
    ("delete tombstone", DELETE_TOMBSTONE, &["tombstones_pkey"]),
    (
        "delete links of record",
        DELETE_LINKS_OF_RECORD,
        &["links_by_record"],
    ),
    (
        "delete memberships of record",
        DELETE_MEMBERSHIPS_OF_RECORD,
        &["campaign_members_by_record"],
    ),
    (
        "delete membership",
        DELETE_MEMBERSHIP,
        &["campaign_members_pkey|campaign_members_by_record"],
    ),
    ("update record", UPDATE_RECORD, &["records_pkey"]),
    ("unlink", UNLINK, &["links_pkey|links_by_record"]),
    ("move links", MOVE_LINKS, &["links_by_record"]),
    (
        "move memberships",
        MOVE_MEMBERSHIPS,
        &["campaign_members_by_record"],
    ),
];

/// 20,000 rows in each table, over two tenants (the nil one, which the
/// placeholders name, and another), then statistics of these tables
/// alone (a bare `ANALYZE` takes every table of the database).
const SEED: &str = "
    CREATE TEMP TABLE n AS SELECT i,
        CASE WHEN i % 2 = 0 THEN '00000000-0000-0000-0000-000000000000'::uuid
             ELSE md5('tenant')::uuid END AS t
        FROM generate_series(1, 20000) i;
    INSERT INTO records SELECT md5('r' || i)::uuid, t, 'contact', 'e' || i, 't' || i, '{}', 1 FROM n;
    INSERT INTO record_aliases SELECT t, 'a' || i, md5('r' || i)::uuid FROM n;
    INSERT INTO record_blocks SELECT t, 'b' || (i % 5000), md5('r' || i)::uuid FROM n;
    INSERT INTO links SELECT t, md5('s' || i)::uuid, md5('r' || (i % 10000))::uuid FROM n;
    INSERT INTO events (tenant, id, digest) SELECT t, md5('e' || i)::uuid, md5('d' || i)::uuid FROM n;
    INSERT INTO campaign_members SELECT t, 'c' || (i % 50), md5('r' || i)::uuid, NULL FROM n;
    INSERT INTO field_history (tenant, record, field, new, rule)
        SELECT t, md5('r' || (i % 10000))::uuid, 'f', 'v', 'D1' FROM n;
    INSERT INTO tombstones SELECT md5('x' || i)::uuid, t, '{}' FROM n;
    DROP TABLE n;
    ANALYZE records, record_aliases, record_blocks, links, events, campaign_members,
        field_history, tombstones;
";

/// A value of `ty` for a query's parameter (the plan, not the rows,
/// is what the test reads).
fn placeholder(ty: &Type) -> Box<dyn ToSql + Sync> {
    match *ty {
        Type::UUID => Box::new(Uuid::nil()),
        Type::UUID_ARRAY => Box::new(vec![Uuid::nil()]),
        Type::TEXT_ARRAY => Box::new(vec![String::from("k")]),
        Type::INT8 => Box::new(0_i64),
        Type::INT8_ARRAY => Box::new(vec![0_i64]),
        _ => Box::new(String::from("k")),
    }
}

/// The plan of `sql` on `client`, one line per node.
async fn plan_of(client: &deadpool_postgres::Client, sql: &str) -> Vec<String> {
    let explain = format!("EXPLAIN {sql}");
    let stmt = client.prepare(&explain).await.unwrap();
    let values: Vec<Box<dyn ToSql + Sync>> = stmt.params().iter().map(placeholder).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v).collect();
    let rows = client.query(&stmt, &refs).await.unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}

/// What is wrong with `sql`'s plan: a table walked, or an index in
/// `expected` not used.
async fn violations(
    client: &deadpool_postgres::Client,
    name: &str,
    sql: &str,
    expected: &[&str],
) -> Vec<String> {
    let plan = plan_of(client, sql).await;
    let mut out: Vec<String> = plan
        .iter()
        .filter(|l| l.contains("Seq Scan"))
        .map(|l| format!("{name}: walks a table: {}", l.trim()))
        .collect();
    for want in expected {
        let through = |index: &str| plan.iter().any(|l| l.contains(&format!(" {index} ")));
        if !want.split('|').any(through) {
            out.push(format!("{name}: not through `{want}`: {plan:#?}"));
        }
    }
    out
}

fn url() -> Option<String> {
    match std::env::var("CONTACT_SYNC_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the PostgreSQL tests: set CONTACT_SYNC_POSTGRES_URL")
        }
        _ => {
            eprintln!("CONTACT_SYNC_POSTGRES_URL is not set: PostgreSQL tests not run");
            None
        }
    }
}

#[test]
fn b15_b19_every_lookup_searches_by_its_index_and_never_scans_on_postgres() {
    let Some(url) = url() else { return };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let schema = format!("plans_{}", std::process::id());
        let store = PostgresStore::connect_in_schema(&url, &schema, Normalization::default(), 1)
            .await
            .unwrap();
        let client = store.pool.get().await.unwrap();
        // Enough rows, half of them in the tenant the lookups ask
        // about, that an index walking the tenant costs more than one
        // searched by the key.
        client.batch_execute(SEED).await.unwrap();
        client
            .batch_execute("SET enable_seqscan = off")
            .await
            .unwrap();
        let mut failures = Vec::new();
        for (name, sql, expected) in LOOKUPS {
            failures.extend(violations(&client, name, sql, expected).await);
        }
        // The check sees the lookup aliases first shipped with.
        let walks = violations(
            &client,
            "records by email key, as first shipped",
            "SELECT id FROM records WHERE tenant = $1 AND (email_key = $2
             OR id IN (SELECT record FROM record_aliases WHERE tenant = $1 AND alias_key = $2))",
            &["records_by_key"],
        )
        .await;
        client.batch_execute("RESET enable_seqscan").await.unwrap();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(!walks.is_empty(), "the check passed an OR of key and alias");
    });
}
