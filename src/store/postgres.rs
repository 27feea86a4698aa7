//! A store on PostgreSQL (feature `postgres`): the async traits on a
//! database many instances of a service share.
//!
//! * The schema is created on connect and versioned in
//!   `contact_sync_schema`; migrations run under an advisory lock, so
//!   instances starting together migrate once.
//! * Records are indexed on `(tenant, email_key, record_type)` and
//!   `(tenant, ticket)`, the keys of their aliases (B15) in
//!   `record_aliases` on `(tenant, alias_key)`; links and campaign members
//!   by record.
//! * Every apply is one transaction that first takes a transaction-scoped
//!   advisory lock on every email key and ticket id the plan relies on or
//!   writes (in one sorted statement, so two applies never wait on each
//!   other in a cycle), locks the records it checks by version
//!   (`FOR UPDATE`), and only then re-checks the preconditions and writes.
//!   Two instances racing to create a record for one new email take turns:
//!   the second sees the first's record and fails with
//!   [`Conflict::EmailKeyChanged`] (re-plan). Unrelated emails never wait
//!   on each other (`SERIALIZABLE` would abort them on shared index pages).
//!   A deadlock between row locks is a [`Conflict::Serialization`]. Primary
//!   keys make a record id or an applied event exist at most once.
//! * [`PostgresStore::fetch`] answers everything a batch needs
//!   ([`crate::Engine::needs_batch`]) in one query per kind of lookup.
//!
//! Connect with a URL (`postgres://user@host:port/db`); the store keeps a
//! pool of connections. [`PostgresStore::connect_in_schema`] puts the tables
//! in a schema of their own (tests give each store a fresh one).

use std::collections::BTreeMap;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, IsolationLevel, NoTls, Row, Transaction};
use uuid::Uuid;

use super::sql::{
    record_columns, stored_version, ticket_of, type_from_name, type_name, RECORD_COLUMNS,
};
use crate::candidates::{Candidates, Needs};
use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, Conflict, Echo};
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, EventDigest, HistoryEntry, Observe, Observed, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::asynchronous::{AsyncApplyPlan, AsyncContactStore, AsyncUndoStore};
use crate::store::{CampaignMember, Tombstone};

/// The schema version this library writes.
pub const SCHEMA_VERSION: i32 = 6;

/// What can go wrong in the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// PostgreSQL or the connection reported an error (it is the
    /// [`source`](std::error::Error::source)).
    #[error("PostgreSQL failed")]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("no PostgreSQL connection could be had")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The connection settings are invalid.
    #[error("invalid PostgreSQL settings: {}", Echo(.0))]
    Config(String),
    /// A stored record could not be read back.
    #[error("stored record {0} is corrupt")]
    Corrupt(RecordId),
    /// The database was written by a newer version of this library.
    #[error("database schema version {found} is newer than the supported {SCHEMA_VERSION}")]
    SchemaVersion {
        /// The version found.
        found: i32,
    },
    /// A record's version is above `i64::MAX`, the largest PostgreSQL stores.
    #[error("record {0}: version above the largest PostgreSQL stores (i64::MAX)")]
    VersionOutOfRange(RecordId),
    /// A record with this id exists already.
    #[error("record {0} exists already")]
    Exists(RecordId),
    /// The store's settings (its blocking, B19) cannot be read back.
    #[error("the stored settings are corrupt")]
    CorruptSettings,
}

/// Records, links, campaign members and applied events in PostgreSQL.
pub struct PostgresStore {
    pool: Pool,
    normalization: Normalization,
    /// The blocking records are indexed by (B19), kept in the database.
    blocking: Blocking,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE records (
        id uuid PRIMARY KEY,
        tenant uuid NOT NULL,
        record_type text NOT NULL,
        email_key text,
        ticket text,
        fields text NOT NULL,
        version bigint NOT NULL
    );
    CREATE INDEX records_by_key ON records (tenant, email_key, record_type);
    CREATE INDEX records_by_ticket ON records (tenant, ticket);
    CREATE TABLE links (
        tenant uuid NOT NULL,
        subject uuid NOT NULL,
        record uuid NOT NULL,
        PRIMARY KEY (tenant, subject)
    );
    CREATE INDEX links_by_record ON links (tenant, record);
    CREATE TABLE events (
        tenant uuid NOT NULL,
        id uuid NOT NULL,
        digest uuid NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE campaign_members (
        tenant uuid NOT NULL,
        campaign text NOT NULL,
        record uuid NOT NULL,
        ticket text,
        PRIMARY KEY (tenant, campaign, record)
    );
    CREATE INDEX campaign_members_by_record ON campaign_members (tenant, record);
",
    "
    -- 2: the order applied events committed in (PostgresStore::applied_events).
    ALTER TABLE events ADD COLUMN seq bigserial;
    CREATE INDEX events_in_order ON events (tenant, seq);
",
    "
    -- 3: records found by the keys of their aliases (B15).
    CREATE TABLE record_aliases (
        tenant uuid NOT NULL,
        alias_key text NOT NULL,
        record uuid NOT NULL,
        PRIMARY KEY (tenant, alias_key, record)
    );
    CREATE INDEX record_aliases_by_record ON record_aliases (record);
",
    "
    -- 4: records found by their blocking keys (B19), and the blocking
    -- they are indexed by.
    CREATE TABLE record_blocks (
        tenant uuid NOT NULL,
        block_key text NOT NULL,
        record uuid NOT NULL,
        PRIMARY KEY (tenant, block_key, record)
    );
    CREATE INDEX record_blocks_by_record ON record_blocks (record);
    CREATE TABLE contact_sync_settings (name text PRIMARY KEY, value text NOT NULL);
",
    "
    -- 5: every applied field change, append-only (B17).
    CREATE TABLE field_history (
        seq bigserial PRIMARY KEY,
        tenant uuid NOT NULL,
        record uuid NOT NULL,
        field text NOT NULL,
        old text,
        new text NOT NULL,
        event uuid,
        rule text NOT NULL,
        submitter text
    );
    CREATE INDEX field_history_by_record ON field_history (tenant, record, seq);
",
    "
    -- 6: the records merged away, to undo a merge (B16).
    CREATE TABLE tombstones (
        record uuid PRIMARY KEY,
        tenant uuid NOT NULL,
        data text NOT NULL
    );
",
];

/// The advisory lock migrations hold (any number; this one is ours).
const MIGRATION_LOCK: i64 = 0x636f_6e74_6163_7473;

/// Records by email key or by alias key (B15), each once, by id: each
/// half through its own index, then united (an `OR` of the two is planned
/// as a walk of the tenant's records).
const RECORDS_BY_KEY: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = $1 AND email_key = $2
     UNION SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_aliases a JOIN records r ON r.id = a.record
     WHERE a.tenant = $1 AND a.alias_key = $2 AND r.tenant = $1
     ORDER BY id"
);
/// Records by alias key (B15), for many keys, with the key: the bulk fetch.
const RECORDS_BY_ALIASES: &str =
    "SELECT r.id, r.tenant, r.record_type, r.fields, r.version, a.alias_key
     FROM record_aliases a JOIN records r ON r.id = a.record
     WHERE a.tenant = $1 AND a.alias_key = ANY($2) AND r.tenant = $1";
/// Records by email key, for many keys, with the key, by id.
const RECORDS_BY_KEYS: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", email_key FROM records WHERE tenant = $1 AND email_key = ANY($2) ORDER BY id"
);
/// Records by ticket id (A28), by id.
const RECORDS_BY_TICKET: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = $1 AND ticket = $2 ORDER BY id"
);
/// Records by ticket id, for many tickets, with the ticket, by id.
const RECORDS_BY_TICKETS: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", ticket FROM records WHERE tenant = $1 AND ticket = ANY($2) ORDER BY id"
);
/// Records by blocking key (B19), by id.
const RECORDS_BY_BLOCK: &str = "SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_blocks b JOIN records r ON r.id = b.record
     WHERE b.tenant = $1 AND b.block_key = $2 AND r.tenant = $1
     ORDER BY r.id";
/// Records by blocking key, for many keys, with the key, by id.
const RECORDS_BY_BLOCKS: &str =
    "SELECT r.id, r.tenant, r.record_type, r.fields, r.version, b.block_key
     FROM record_blocks b JOIN records r ON r.id = b.record
     WHERE b.tenant = $1 AND b.block_key = ANY($2) AND r.tenant = $1
     ORDER BY r.id";
/// Records by id, for many ids.
const RECORDS_BY_IDS: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = $1 AND id = ANY($2)"
);
/// One record by id, in its tenant.
const RECORD_BY_ID: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = $1 AND tenant = $2"
);
/// One record by id, in its tenant, locked for the transaction.
const RECORD_FOR_UPDATE: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = $1 AND tenant = $2 FOR UPDATE"
);
/// Whether a record of the tenant exists.
const RECORD_EXISTS_IN: &str = "SELECT 1 FROM records WHERE id = $1 AND tenant = $2";
/// Whether a record exists in any tenant.
const RECORD_EXISTS: &str = "SELECT 1 FROM records WHERE id = $1";
/// Record ids by email or alias key (B15), each once, sorted.
const IDS_BY_KEY: &str = "SELECT id FROM records WHERE tenant = $1 AND email_key = $2
     UNION SELECT record FROM record_aliases WHERE tenant = $1 AND alias_key = $2
     ORDER BY 1";
/// Record ids by ticket id, sorted.
const IDS_BY_TICKET: &str = "SELECT id FROM records WHERE tenant = $1 AND ticket = $2 ORDER BY id";
/// Record ids by blocking key, sorted.
const IDS_BY_BLOCK: &str =
    "SELECT record FROM record_blocks WHERE tenant = $1 AND block_key = $2 ORDER BY 1";
/// Applied events' digests (B7), for many ids.
const DIGESTS_BY_IDS: &str = "SELECT id, digest FROM events WHERE tenant = $1 AND id = ANY($2)";
/// An applied event's digest (B7).
const EVENT_DIGEST: &str = "SELECT digest FROM events WHERE tenant = $1 AND id = $2";
/// A subject's link.
const LINK_OF_SUBJECT: &str = "SELECT record FROM links WHERE tenant = $1 AND subject = $2";
/// The subjects linked to a record, sorted.
const SUBJECTS_BY_RECORD: &str =
    "SELECT subject FROM links WHERE tenant = $1 AND record = $2 ORDER BY subject";
/// A record's campaign memberships, by campaign.
const MEMBERSHIPS_BY_RECORD: &str =
    "SELECT campaign, ticket FROM campaign_members WHERE tenant = $1 AND record = $2 ORDER BY campaign";
/// A record's field history (B17), oldest first.
const HISTORY_BY_RECORD: &str = "SELECT field, old, new, event, rule, submitter FROM field_history
     WHERE tenant = $1 AND record = $2 ORDER BY seq";
/// A merged record's tombstone (B16).
const TOMBSTONE_OF: &str = "SELECT data FROM tombstones WHERE tenant = $1 AND record = $2";
/// A record, deleted (`$1` its tenant, `$2` its id).
const DELETE_RECORD: &str = "DELETE FROM records WHERE id = $2 AND tenant = $1";
/// A record's alias index entries (B15), dropped (by record id: ids are
/// global).
const DELETE_ALIASES_OF_RECORD: &str = "DELETE FROM record_aliases WHERE record = $1";
/// A record's block index entries (B19), dropped (by record id).
const DELETE_BLOCKS_OF_RECORD: &str = "DELETE FROM record_blocks WHERE record = $1";
/// A restored record's tombstone (B16), dropped.
const DELETE_TOMBSTONE: &str = "DELETE FROM tombstones WHERE record = $1";
/// The links to a deleted record, dropped.
const DELETE_LINKS_OF_RECORD: &str = "DELETE FROM links WHERE tenant = $1 AND record = $2";
/// A deleted or merged record's memberships, dropped.
const DELETE_MEMBERSHIPS_OF_RECORD: &str =
    "DELETE FROM campaign_members WHERE tenant = $1 AND record = $2";
/// One campaign membership, removed.
const DELETE_MEMBERSHIP: &str =
    "DELETE FROM campaign_members WHERE tenant = $1 AND campaign = $2 AND record = $3";
/// A record's fields, keys and version, written.
const UPDATE_RECORD: &str =
    "UPDATE records SET email_key = $2, ticket = $3, fields = $4, version = $5 WHERE id = $1";
/// A subject's link to one record, dropped.
const UNLINK: &str = "DELETE FROM links WHERE tenant = $1 AND subject = $2 AND record = $3";
/// A merged record's links, moved to the survivor (B9).
const MOVE_LINKS: &str = "UPDATE links SET record = $3 WHERE tenant = $1 AND record = $2";
/// A merged record's memberships, taken over by the survivor: its own
/// ticket id stays, a missing one is taken over (B9).
const MOVE_MEMBERSHIPS: &str = "INSERT INTO campaign_members (tenant, campaign, record, ticket)
     SELECT tenant, campaign, $3, ticket FROM campaign_members WHERE tenant = $1 AND record = $2
     ON CONFLICT (tenant, campaign, record)
     DO UPDATE SET ticket = COALESCE(campaign_members.ticket, excluded.ticket)";

fn to_record(row: &Row) -> Result<Record, PostgresError> {
    let id = RecordId::new(row.try_get::<_, Uuid>(0)?);
    let tenant = TenantId::new(row.try_get::<_, Uuid>(1)?);
    let record_type =
        type_from_name(row.try_get::<_, &str>(2)?).ok_or(PostgresError::Corrupt(id))?;
    let fields: Fields =
        serde_json::from_str(row.try_get::<_, &str>(3)?).map_err(|_| PostgresError::Corrupt(id))?;
    let version =
        u64::try_from(row.try_get::<_, i64>(4)?).map_err(|_| PostgresError::Corrupt(id))?;
    Ok(Record {
        id,
        tenant,
        record_type,
        fields,
        version,
    })
}

/// A serialization failure or deadlock is a conflict: re-plan.
fn is_contention(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn store_err(e: tokio_postgres::Error) -> ApplyError<PostgresError> {
    if is_contention(&e) {
        return Conflict::Serialization.into();
    }
    ApplyError::Store(e.into())
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/database`) with a pool
    /// of at most `max_connections`, and creates or migrates the schema.
    ///
    /// # Errors
    /// [`PostgresError::Config`] for an invalid URL, [`PostgresError::Postgres`]
    /// when the server cannot be reached or refuses the schema,
    /// [`PostgresError::SchemaVersion`] for a database of a newer version.
    pub async fn connect(
        url: &str,
        normalization: Normalization,
        max_connections: usize,
    ) -> Result<Self, PostgresError> {
        Self::open(url, None, normalization, max_connections).await
    }

    /// Like [`PostgresStore::connect`], with the tables in `schema` (created
    /// if missing): several stores in one database, as the tests use.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`]; [`PostgresError::Config`] for a schema
    /// name that is not a plain identifier (`[a-z_][a-z0-9_]*`).
    pub async fn connect_in_schema(
        url: &str,
        schema: &str,
        normalization: Normalization,
        max_connections: usize,
    ) -> Result<Self, PostgresError> {
        let plain = schema
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && schema.len() <= 63;
        if !plain {
            return Err(PostgresError::Config(format!("schema name {schema}")));
        }
        Self::open(url, Some(schema), normalization, max_connections).await
    }

    async fn open(
        url: &str,
        schema: Option<&str>,
        normalization: Normalization,
        max_connections: usize,
    ) -> Result<Self, PostgresError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| PostgresError::Config(e.to_string()))?;
        if let Some(s) = schema {
            // Created (if missing) by `migrate`, under its lock.
            config.options(format!("-c search_path={s}"));
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| PostgresError::Config(e.to_string()))?;
        let mut store = PostgresStore {
            pool,
            normalization,
            blocking: Blocking::default(),
        };
        store.migrate(schema).await?;
        let client = store.pool.get().await?;
        store.blocking = client
            .query_opt(
                "SELECT value FROM contact_sync_settings WHERE name = 'blocking'",
                &[],
            )
            .await?
            .map(|r| serde_json::from_str::<Blocking>(r.get(0)))
            .transpose()
            .map_err(|_| PostgresError::CorruptSettings)?
            .unwrap_or_default();
        drop(client);
        Ok(store)
    }

    /// Indexes the records by `blocking` from now on (B19), for policies
    /// that match by record linkage with the same blocking: every record
    /// is indexed again in one transaction, and the blocking is kept in
    /// the database, so stores connecting later index by it too. Other
    /// stores already connected keep the blocking they read: reconnect
    /// them.
    ///
    /// # Errors
    /// The database's error (nothing changed then), or
    /// [`PostgresError::Corrupt`].
    pub async fn set_blocking(&mut self, blocking: Blocking) -> Result<(), PostgresError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.execute("DELETE FROM record_blocks", &[]).await?;
        let rows = tx
            .query(&format!("SELECT {RECORD_COLUMNS} FROM records"), &[])
            .await?;
        for row in &rows {
            write_blocks(&tx, &to_record(row)?, &self.normalization, &blocking).await?;
        }
        let json = serde_json::to_string(&blocking).map_err(|_| PostgresError::CorruptSettings)?;
        tx.execute(
            "INSERT INTO contact_sync_settings (name, value) VALUES ('blocking', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&json],
        )
        .await?;
        tx.commit().await?;
        self.blocking = blocking;
        Ok(())
    }

    async fn migrate(&self, schema: Option<&str>) -> Result<(), PostgresError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        if let Some(s) = schema {
            // The connection's search path names it already; once it
            // exists, the tables are created in it.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
                .await?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS contact_sync_schema (version integer NOT NULL)",
        )
        .await?;
        let found: Option<i32> = tx
            .query_opt("SELECT max(version) FROM contact_sync_schema", &[])
            .await?
            .and_then(|r| r.get(0));
        let found = found.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(PostgresError::SchemaVersion { found });
        }
        for (i, m) in MIGRATIONS.iter().enumerate() {
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            if version > found {
                tx.batch_execute(m).await?;
                tx.execute(
                    "INSERT INTO contact_sync_schema (version) VALUES ($1)",
                    &[&version],
                )
                .await?;
            }
        }
        if found < 3 {
            // Records a host stored with aliases before are indexed now.
            let rows = tx
                .query(
                    &format!("SELECT {RECORD_COLUMNS} FROM records WHERE strpos(fields, $1) > 0"),
                    &[&format!("\"{}\"", FieldName::EMAIL_ALIASES)],
                )
                .await?;
            for row in &rows {
                write_aliases(&tx, &to_record(row)?, &self.normalization).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds an existing record (seeding the store).
    ///
    /// # Errors
    /// [`PostgresError::Exists`] when a record has the id,
    /// [`PostgresError::VersionOutOfRange`] for a version above `i64::MAX`,
    /// or the database's error.
    pub async fn insert(&self, record: &Record) -> Result<(), PostgresError> {
        let version =
            stored_version(record.version).ok_or(PostgresError::VersionOutOfRange(record.id))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let fields =
            serde_json::to_string(&record.fields).map_err(|_| PostgresError::Corrupt(record.id))?;
        let n = tx
            .execute(
                "INSERT INTO records (id, tenant, record_type, email_key, ticket, fields, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                &[
                    &record.id.0,
                    &record.tenant.0,
                    &type_name(record.record_type),
                    &record.email_key(&self.normalization).map(String::from),
                    &ticket_of(record),
                    &fields,
                    &version,
                ],
            )
            .await?;
        if n == 0 {
            return Err(PostgresError::Exists(record.id));
        }
        write_aliases(&tx, record, &self.normalization).await?;
        write_blocks(&tx, record, &self.normalization, &self.blocking).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every record of `tenant`, sorted by id.
    ///
    /// # Errors
    /// The database's error, or [`PostgresError::Corrupt`].
    pub async fn records(&self, tenant: TenantId) -> Result<Vec<Record>, PostgresError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant = $1 ORDER BY id"),
                &[&tenant.0],
            )
            .await?;
        rows.iter().map(to_record).collect()
    }

    /// The events of `tenant` the store has applied, in an order their
    /// plans could have run in one at a time with the same result: each
    /// plan draws its number after every lock it takes, so plans that
    /// touched the same records, keys, tickets or events are in the order
    /// they committed (plans that touched nothing in common commute). For
    /// audits and replays; events of a schema-1 database come first, in
    /// no particular order.
    ///
    /// # Errors
    /// The database's error.
    pub async fn applied_events(&self, tenant: TenantId) -> Result<Vec<EventId>, PostgresError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT id FROM events WHERE tenant = $1 ORDER BY seq",
                &[&tenant.0],
            )
            .await?;
        Ok(rows.iter().map(|r| EventId::new(r.get(0))).collect())
    }

    /// The record `subject` is linked to.
    ///
    /// # Errors
    /// The database's error.
    pub async fn link_of(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<Option<RecordId>, PostgresError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(LINK_OF_SUBJECT, &[&tenant.0, &subject.0])
            .await?;
        Ok(row.map(|r| RecordId::new(r.get(0))))
    }

    /// Everything `needs` asks for in one query per kind of lookup (the
    /// store's [`AsyncContactStore::fetch`]).
    async fn fetch_bulk(&self, needs: &Needs) -> Result<Candidates, PostgresError> {
        let client = self.pool.get().await?;
        let t = needs.tenant;
        let mut c = Candidates::new(t);
        let keys: Vec<&str> = needs.email_keys.iter().map(EmailKey::as_str).collect();
        let mut by_key = grouped(&client, RECORDS_BY_KEYS, t, &keys).await?;
        // B15: and by their aliases, each record once per key.
        let rows = client.query(RECORDS_BY_ALIASES, &[&t.0, &keys]).await?;
        for row in &rows {
            let r = to_record(row)?;
            let group = by_key.entry(row.try_get::<_, String>(5)?).or_default();
            if let Err(at) = group.binary_search_by_key(&r.id, |x| x.id) {
                group.insert(at, r);
            }
        }
        for k in &needs.email_keys {
            c.add_email_key(k.clone(), by_key.remove(k.as_str()).unwrap_or_default());
        }
        let ids: Vec<Uuid> = needs.records.iter().map(|r| r.0).collect();
        let mut by_id: BTreeMap<RecordId, Record> = BTreeMap::new();
        if !ids.is_empty() {
            let rows = client.query(RECORDS_BY_IDS, &[&t.0, &ids]).await?;
            for row in &rows {
                let r = to_record(row)?;
                by_id.insert(r.id, r);
            }
        }
        for id in &needs.records {
            c.add_record(*id, by_id.remove(id));
        }
        let tickets: Vec<&str> = needs.tickets.iter().map(|s| s.trim()).collect();
        let by_ticket = grouped(&client, RECORDS_BY_TICKETS, t, &tickets).await?;
        for ticket in &needs.tickets {
            c.add_ticket(
                ticket,
                by_ticket.get(ticket.trim()).cloned().unwrap_or_default(),
            );
        }
        let blocks: Vec<&str> = needs.block_keys.iter().map(BlockKey::as_str).collect();
        let mut by_block: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        if !blocks.is_empty() {
            let rows = client.query(RECORDS_BY_BLOCKS, &[&t.0, &blocks]).await?;
            for row in &rows {
                by_block
                    .entry(row.try_get::<_, String>(5)?)
                    .or_default()
                    .push(to_record(row)?);
            }
        }
        for k in &needs.block_keys {
            c.add_block(k.clone(), by_block.remove(k.as_str()).unwrap_or_default());
        }
        let events: Vec<Uuid> = needs.events.iter().map(|e| e.0).collect();
        if !events.is_empty() {
            let rows = client.query(DIGESTS_BY_IDS, &[&t.0, &events]).await?;
            for row in &rows {
                c.add_applied_event(EventId::new(row.get(0)), EventDigest(row.get(1)));
            }
        }
        Ok(c)
    }

    async fn records_where(
        &self,
        sql: &str,
        tenant: TenantId,
        value: &str,
    ) -> Result<Vec<Record>, PostgresError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql, &[&tenant.0, &value]).await?;
        rows.iter().map(to_record).collect()
    }
}

/// The tenant's records whose key (email key or ticket, as `sql` selects
/// it in its sixth column) is one of `values`, grouped by that value, each
/// group sorted by id: one query.
async fn grouped(
    client: &deadpool_postgres::Client,
    sql: &str,
    tenant: TenantId,
    values: &[&str],
) -> Result<BTreeMap<String, Vec<Record>>, PostgresError> {
    let mut out: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    if values.is_empty() {
        return Ok(out);
    }
    let rows = client.query(sql, &[&tenant.0, &values]).await?;
    for row in &rows {
        out.entry(row.try_get::<_, String>(5)?)
            .or_default()
            .push(to_record(row)?);
    }
    Ok(out)
}

impl AsyncContactStore for PostgresStore {
    type Error = PostgresError;

    /// Everything `needs` asks for (one event's or a whole batch's, see
    /// [`crate::Engine::needs_batch`]) in one query per kind of lookup, on
    /// one connection: what [`crate::Engine::plan_async`] and
    /// [`crate::Engine::plan_batch_async`] read through.
    ///
    /// # Errors
    /// The database's error, or [`PostgresError::Corrupt`].
    async fn fetch(&self, needs: &Needs) -> Result<Candidates, PostgresError> {
        self.fetch_bulk(needs).await
    }

    fn normalization(&self) -> Normalization {
        self.normalization
    }

    fn blocking(&self) -> Blocking {
        self.blocking.clone()
    }

    async fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<HistoryEntry>, PostgresError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(HISTORY_BY_RECORD, &[&tenant.0, &record.0])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let rule: String = r.try_get(4)?;
            let submitter: Option<String> = r.try_get(5)?;
            out.push(HistoryEntry {
                record,
                field: FieldName::new(r.try_get::<_, &str>(0)?),
                old: r.try_get::<_, Option<&str>>(1)?.map(FieldValue::new),
                new: FieldValue::new(r.try_get::<_, &str>(2)?),
                event: r.try_get::<_, Option<Uuid>>(3)?.map(EventId::new),
                rule: rule.parse().map_err(|_| PostgresError::Corrupt(record))?,
                submitter: submitter
                    .map(|s| {
                        crate::event::Submitter::from_name(&s).ok_or(PostgresError::Corrupt(record))
                    })
                    .transpose()?,
            });
        }
        Ok(out)
    }

    async fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, PostgresError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(RECORDS_BY_BLOCK, &[&tenant.0, &key.as_str()])
            .await?;
        rows.iter().map(to_record).collect()
    }

    async fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, PostgresError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(RECORDS_BY_KEY, &[&tenant.0, &key.as_str()])
            .await?;
        rows.iter().map(to_record).collect()
    }

    async fn record(
        &self,
        tenant: TenantId,
        id: RecordId,
    ) -> Result<Option<Record>, PostgresError> {
        let client = self.pool.get().await?;
        let row = client.query_opt(RECORD_BY_ID, &[&id.0, &tenant.0]).await?;
        row.as_ref().map(to_record).transpose()
    }

    async fn records_by_ticket(
        &self,
        tenant: TenantId,
        ticket: &str,
    ) -> Result<Vec<Record>, PostgresError> {
        self.records_where(RECORDS_BY_TICKET, tenant, ticket.trim())
            .await
    }

    async fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, PostgresError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(EVENT_DIGEST, &[&tenant.0, &event.0])
            .await?;
        Ok(row.map(|r| EventDigest(r.get(0))))
    }

    async fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<SubjectId>, PostgresError> {
        let client = self.pool.get().await?;
        Ok(linked(&**client, tenant, record).await?)
    }

    async fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<CampaignMember>, PostgresError> {
        let client = self.pool.get().await?;
        Ok(memberships(&**client, tenant, record).await?)
    }
}

impl AsyncUndoStore for PostgresStore {
    async fn subject_link(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<Option<RecordId>, PostgresError> {
        self.link_of(tenant, subject).await
    }

    async fn tombstone(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Option<Tombstone>, PostgresError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(TOMBSTONE_OF, &[&tenant.0, &record.0])
            .await?;
        row.map(|r| {
            serde_json::from_str(r.get::<_, &str>(0)).map_err(|_| PostgresError::Corrupt(record))
        })
        .transpose()
    }
}

async fn linked<C: GenericClient>(
    c: &C,
    tenant: TenantId,
    record: RecordId,
) -> Result<Vec<SubjectId>, tokio_postgres::Error> {
    let rows = c.query(SUBJECTS_BY_RECORD, &[&tenant.0, &record.0]).await?;
    Ok(rows.iter().map(|r| SubjectId::new(r.get(0))).collect())
}

async fn memberships<C: GenericClient>(
    c: &C,
    tenant: TenantId,
    record: RecordId,
) -> Result<Vec<CampaignMember>, tokio_postgres::Error> {
    let rows = c
        .query(MEMBERSHIPS_BY_RECORD, &[&tenant.0, &record.0])
        .await?;
    Ok(rows
        .iter()
        .map(|r| CampaignMember {
            campaign: CampaignId(r.get(0)),
            record,
            ticket: r.get::<_, Option<String>>(1).map(FieldValue::from),
        })
        .collect())
}

/// What the store holds of `record` before merging it into `into` (B16).
async fn tombstone_of(
    tx: &Transaction<'_>,
    t: TenantId,
    record: RecordId,
    into: RecordId,
) -> Result<Tombstone, ApplyError<PostgresError>> {
    let gone = get(tx, t, record).await?.ok_or(ApplyError::InvalidPlan(
        "merge of unknown or identical records",
    ))?;
    let moved = memberships(tx, t, record).await.map_err(store_err)?;
    let into_memberships = memberships(tx, t, into)
        .await
        .map_err(store_err)?
        .into_iter()
        .filter(|m| moved.iter().any(|c| c.campaign == m.campaign))
        .collect();
    let subjects = linked(tx, t, record).await.map_err(store_err)?;
    Ok(Tombstone::new(
        gone,
        into,
        subjects,
        moved,
        into_memberships,
    ))
}

/// Deletes record `id` of `t` with its alias and block index entries (its
/// links and memberships stay).
async fn delete_record(
    tx: &Transaction<'_>,
    t: TenantId,
    id: RecordId,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(DELETE_RECORD, &[&t.0, &id.0]).await?;
    for sql in [DELETE_ALIASES_OF_RECORD, DELETE_BLOCKS_OF_RECORD] {
        tx.execute(sql, &[&id.0]).await?;
    }
    Ok(())
}

impl AsyncApplyPlan for PostgresStore {
    type Error = PostgresError;

    async fn apply(&self, plan: &Plan) -> Result<(), ApplyError<PostgresError>> {
        // No span across the awaits (an entered span is not `Send`): the
        // result event says what happened.
        let result = self.apply_plan(plan).await;
        crate::telemetry::applied("postgres", &result);
        result
    }
}

impl PostgresStore {
    /// [`AsyncApplyPlan::apply`], without the telemetry.
    async fn apply_plan(&self, plan: &Plan) -> Result<(), ApplyError<PostgresError>> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| ApplyError::Store(e.into()))?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(store_err)?;
        lock_keys(&tx, plan, &self.normalization, &self.blocking).await?;
        apply_in(&tx, plan, &self.normalization, &self.blocking).await?;
        tx.commit().await.map_err(store_err)
        // On any error above, dropping `tx` rolls everything back.
    }
}

/// The advisory-lock number of an email key or ticket id in a tenant (one
/// 64-bit space; a collision only makes two applies take turns).
fn lock_number(tenant: TenantId, kind: u8, value: &str) -> i64 {
    let mut bytes = Vec::with_capacity(17 + value.len());
    bytes.extend_from_slice(tenant.0.as_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(value.as_bytes());
    i64::from_ne_bytes(xxhash_rust::xxh3::xxh3_64(&bytes).to_ne_bytes())
}

/// Locks every email key, ticket id and event `plan` checks or writes, in sorted
/// order, until the transaction ends: the preconditions read after this
/// cannot change before the commit.
async fn lock_keys(
    tx: &Transaction<'_>,
    plan: &Plan,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), ApplyError<PostgresError>> {
    let t = plan.tenant;
    let mut locks: Vec<i64> = Vec::new();
    for p in &plan.preconditions {
        match p.observe() {
            Observe::EmailKey(key) => locks.push(lock_number(t, 0, key.as_str())),
            Observe::TicketId(ticket) => locks.push(lock_number(t, 1, ticket)),
            // A redelivery racing its first delivery waits for it, then
            // finds it applied.
            Observe::Event(event) => locks.push(lock_number(t, 2, &event.to_string())),
            Observe::BlockKey(key) => locks.push(lock_number(t, 3, key.as_str())),
            // B16: the links and memberships of a record, and each subject
            // whose link the plan relies on.
            Observe::Links(record) | Observe::Memberships(record) => {
                locks.push(lock_number(t, 4, &record.to_string()));
            }
            Observe::SubjectLink(subject) => locks.push(lock_number(t, 5, &subject.to_string())),
            Observe::Version(_) | Observe::Exists(_) | Observe::Fields(_) => {}
        }
        if let Precondition::Links { subjects, .. } = p {
            locks.extend(subjects.iter().map(|s| lock_number(t, 5, &s.to_string())));
        }
    }
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } => {
                for k in record.match_keys(n) {
                    locks.push(lock_number(t, 0, k.as_str()));
                }
                if let Some(ticket) = ticket_of(record) {
                    locks.push(lock_number(t, 1, &ticket));
                }
                for k in b.keys(&record.fields, n) {
                    locks.push(lock_number(t, 3, k.as_str()));
                }
            }
            Effect::UpdateRecord { changes, .. } => {
                for c in changes {
                    if c.field.as_str() == FieldName::EMAIL {
                        if let Ok(Some(k)) = EmailKey::parse(c.new.as_str(), n) {
                            locks.push(lock_number(t, 0, k.as_str()));
                        }
                    } else if c.field.as_str() == FieldName::EMAIL_ALIASES {
                        for a in crate::record::alias_list(c.new.as_str()) {
                            if let Ok(Some(k)) = EmailKey::parse(a, n) {
                                locks.push(lock_number(t, 0, k.as_str()));
                            }
                        }
                    } else if c.field.as_str() == FieldName::TICKET_ID && !c.new.is_blank() {
                        locks.push(lock_number(t, 1, c.new.as_str().trim()));
                    }
                }
            }
            // What a `Links` or `Memberships` precondition of another plan
            // checks cannot change before that plan commits.
            Effect::Link { subject, record } | Effect::Unlink { subject, record } => {
                locks.push(lock_number(t, 4, &record.to_string()));
                locks.push(lock_number(t, 5, &subject.to_string()));
            }
            Effect::AddCampaignMember { record, .. }
            | Effect::RemoveCampaignMember { record, .. }
            | Effect::DeleteRecord { record } => {
                locks.push(lock_number(t, 4, &record.to_string()));
            }
            Effect::MergeRecord { record, into } => {
                locks.push(lock_number(t, 4, &record.to_string()));
                locks.push(lock_number(t, 4, &into.to_string()));
            }
            _ => {}
        }
    }
    locks.sort_unstable();
    locks.dedup();
    if !locks.is_empty() {
        tx.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k",
            &[&locks],
        )
        .await
        .map_err(store_err)?;
    }
    Ok(())
}

async fn ids(
    tx: &Transaction<'_>,
    sql: &str,
    tenant: TenantId,
    value: &str,
) -> Result<Vec<RecordId>, ApplyError<PostgresError>> {
    let rows = tx
        .query(sql, &[&tenant.0, &value])
        .await
        .map_err(store_err)?;
    Ok(rows.iter().map(|r| RecordId::new(r.get(0))).collect())
}

/// The tenant's records with `key` as their email's or an alias's key
/// (B15), sorted, each once.
async fn ids_by_key(
    tx: &Transaction<'_>,
    tenant: TenantId,
    key: &EmailKey,
) -> Result<Vec<RecordId>, ApplyError<PostgresError>> {
    let rows = tx
        .query(IDS_BY_KEY, &[&tenant.0, &key.as_str()])
        .await
        .map_err(store_err)?;
    Ok(rows.iter().map(|r| RecordId::new(r.get(0))).collect())
}

/// Indexes record `r` under its blocking keys (B19), replacing what it was
/// indexed under.
async fn write_blocks(
    tx: &Transaction<'_>,
    r: &Record,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), tokio_postgres::Error> {
    if b.is_empty() {
        return Ok(());
    }
    tx.execute(DELETE_BLOCKS_OF_RECORD, &[&r.id.0]).await?;
    let keys: Vec<String> = b
        .keys(&r.fields, n)
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    if !keys.is_empty() {
        tx.execute(
            "INSERT INTO record_blocks (tenant, block_key, record)
             SELECT $1, k, $2 FROM unnest($3::text[]) AS k ON CONFLICT DO NOTHING",
            &[&r.tenant.0, &r.id.0, &keys],
        )
        .await?;
    }
    Ok(())
}

/// Indexes record `r` under the keys of its aliases (B15), replacing what
/// it was indexed under.
async fn write_aliases(
    tx: &Transaction<'_>,
    r: &Record,
    n: &Normalization,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(DELETE_ALIASES_OF_RECORD, &[&r.id.0]).await?;
    let keys: Vec<String> = r.alias_keys(n).into_iter().map(String::from).collect();
    if !keys.is_empty() {
        tx.execute(
            "INSERT INTO record_aliases (tenant, alias_key, record)
             SELECT $1, k, $2 FROM unnest($3::text[]) AS k ON CONFLICT DO NOTHING",
            &[&r.tenant.0, &r.id.0, &keys],
        )
        .await?;
    }
    Ok(())
}

async fn get(
    tx: &Transaction<'_>,
    tenant: TenantId,
    id: RecordId,
) -> Result<Option<Record>, ApplyError<PostgresError>> {
    let row = tx
        .query_opt(RECORD_FOR_UPDATE, &[&id.0, &tenant.0])
        .await
        .map_err(store_err)?;
    row.as_ref()
        .map(to_record)
        .transpose()
        .map_err(ApplyError::Store)
}

async fn exists(tx: &Transaction<'_>, id: RecordId) -> Result<bool, ApplyError<PostgresError>> {
    Ok(tx
        .query_opt(RECORD_EXISTS, &[&id.0])
        .await
        .map_err(store_err)?
        .is_some())
}

async fn exists_in(
    tx: &Transaction<'_>,
    tenant: TenantId,
    id: RecordId,
) -> Result<bool, ApplyError<PostgresError>> {
    Ok(tx
        .query_opt(RECORD_EXISTS_IN, &[&id.0, &tenant.0])
        .await
        .map_err(store_err)?
        .is_some())
}

async fn apply_in(
    tx: &Transaction<'_>,
    plan: &Plan,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), ApplyError<PostgresError>> {
    let t = plan.tenant;
    for p in &plan.preconditions {
        let ids_now;
        let subjects;
        let members;
        let fields;
        let digest;
        let observed = match p.observe() {
            Observe::EmailKey(key) => {
                ids_now = ids_by_key(tx, t, key).await?;
                Observed::Records(&ids_now)
            }
            Observe::TicketId(ticket) => {
                ids_now = ids(tx, IDS_BY_TICKET, t, ticket).await?;
                Observed::Records(&ids_now)
            }
            Observe::BlockKey(key) => {
                ids_now = ids(tx, IDS_BY_BLOCK, t, key.as_str()).await?;
                Observed::Records(&ids_now)
            }
            Observe::Version(record) => {
                Observed::Version(get(tx, t, record).await?.map(|r| r.version))
            }
            Observe::Exists(record) => Observed::Exists(exists(tx, record).await?),
            Observe::Event(event) => {
                digest = tx
                    .query_opt(EVENT_DIGEST, &[&t.0, &event.0])
                    .await
                    .map_err(store_err)?
                    .map(|r| EventDigest(r.get(0)));
                Observed::Event(digest.as_ref())
            }
            Observe::Fields(record) => {
                fields = get(tx, t, record).await?.map(|r| r.fields);
                Observed::Fields(fields.as_ref())
            }
            Observe::Links(record) => {
                subjects = linked(tx, t, record).await.map_err(store_err)?;
                Observed::Subjects(&subjects)
            }
            Observe::SubjectLink(subject) => Observed::Link(
                tx.query_opt(LINK_OF_SUBJECT, &[&t.0, &subject.0])
                    .await
                    .map_err(store_err)?
                    .map(|r| RecordId::new(r.get(0))),
            ),
            Observe::Memberships(record) => {
                members = memberships(tx, t, record).await.map_err(store_err)?;
                Observed::Memberships(&members)
            }
        };
        p.check(observed)?;
    }
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                if record.tenant != t {
                    return Err(ApplyError::InvalidPlan("record of another tenant"));
                }
                let version =
                    stored_version(record.version).ok_or(ApplyError::VersionOverflow(record.id))?;
                let fields = serde_json::to_string(&record.fields)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(record.id)))?;
                let inserted = tx
                    .execute(
                        "INSERT INTO records (id, tenant, record_type, email_key, ticket, fields, version)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                        &[
                            &record.id.0,
                            &record.tenant.0,
                            &type_name(record.record_type),
                            &record.email_key(n).map(String::from),
                            &ticket_of(record),
                            &fields,
                            &version,
                        ],
                    )
                    .await
                    .map_err(store_err)?;
                if inserted == 0 {
                    return Err(Conflict::RecordExists(record.id).into());
                }
                write_aliases(tx, record, n).await.map_err(store_err)?;
                write_blocks(tx, record, n, b).await.map_err(store_err)?;
                if matches!(e, Effect::RestoreRecord { .. }) {
                    tx.execute(DELETE_TOMBSTONE, &[&record.id.0])
                        .await
                        .map_err(store_err)?;
                }
            }
            Effect::DeleteRecord { record } => {
                if !exists_in(tx, t, *record).await? {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                }
                delete_record(tx, t, *record).await.map_err(store_err)?;
                for sql in [DELETE_LINKS_OF_RECORD, DELETE_MEMBERSHIPS_OF_RECORD] {
                    tx.execute(sql, &[&t.0, &record.0])
                        .await
                        .map_err(store_err)?;
                }
            }
            Effect::RemoveCampaignMember { record, campaign } => {
                tx.execute(DELETE_MEMBERSHIP, &[&t.0, &campaign.0, &record.0])
                    .await
                    .map_err(store_err)?;
            }
            Effect::UpdateRecord { record, changes } => {
                let Some(mut r) = get(tx, t, *record).await? else {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                };
                for c in changes {
                    r.fields.set(c.field.clone(), c.new.clone());
                }
                let version = r
                    .version
                    .checked_add(1)
                    .and_then(stored_version)
                    .ok_or(ApplyError::VersionOverflow(r.id))?;
                let fields = serde_json::to_string(&r.fields)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(r.id)))?;
                tx.execute(
                    UPDATE_RECORD,
                    &[
                        &r.id.0,
                        &r.email_key(n).map(String::from),
                        &ticket_of(&r),
                        &fields,
                        &version,
                    ],
                )
                .await
                .map_err(store_err)?;
                let rekeys = changes.iter().any(|c| {
                    matches!(
                        c.field.as_str(),
                        FieldName::EMAIL | FieldName::EMAIL_ALIASES
                    )
                });
                if rekeys {
                    write_aliases(tx, &r, n).await.map_err(store_err)?;
                }
                if !b.is_empty() {
                    // The keys the record moves into are locked before it
                    // is written there: a plan that checked one of them
                    // (and holds its lock) commits first, or sees it.
                    let mut locks: Vec<i64> = b
                        .keys(&r.fields, n)
                        .iter()
                        .map(|k| lock_number(t, 3, k.as_str()))
                        .collect();
                    locks.sort_unstable();
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k",
                        &[&locks],
                    )
                    .await
                    .map_err(store_err)?;
                    write_blocks(tx, &r, n, b).await.map_err(store_err)?;
                }
            }
            Effect::Link { subject, record } => {
                if !exists_in(tx, t, *record).await? {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                }
                tx.execute(
                    "INSERT INTO links (tenant, subject, record) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant, subject) DO UPDATE SET record = excluded.record",
                    &[&t.0, &subject.0, &record.0],
                )
                .await
                .map_err(store_err)?;
            }
            Effect::Unlink { subject, record } => {
                tx.execute(UNLINK, &[&t.0, &subject.0, &record.0])
                    .await
                    .map_err(store_err)?;
            }
            Effect::AddCampaignMember {
                record,
                campaign,
                ticket,
            } => {
                if !exists_in(tx, t, *record).await? {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                }
                tx.execute(
                    "INSERT INTO campaign_members (tenant, campaign, record, ticket) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant, campaign, record)
                     DO UPDATE SET ticket = COALESCE(excluded.ticket, campaign_members.ticket)",
                    &[&t.0, &campaign.0, &record.0, &ticket.as_ref().map(FieldValue::as_str)],
                )
                .await
                .map_err(store_err)?;
            }
            Effect::MergeRecord { record, into } => {
                if record == into
                    || !exists_in(tx, t, *record).await?
                    || !exists_in(tx, t, *into).await?
                {
                    return Err(ApplyError::InvalidPlan(
                        "merge of unknown or identical records",
                    ));
                }
                let tomb = tombstone_of(tx, t, *record, *into).await?;
                let data = serde_json::to_string(&tomb)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(*record)))?;
                tx.execute(
                    "INSERT INTO tombstones (record, tenant, data) VALUES ($1, $2, $3)
                     ON CONFLICT (record) DO UPDATE SET tenant = excluded.tenant, data = excluded.data",
                    &[&record.0, &t.0, &data],
                )
                .await
                .map_err(store_err)?;
                delete_record(tx, t, *record).await.map_err(store_err)?;
                for (sql, params) in [
                    (MOVE_LINKS, 3),
                    (MOVE_MEMBERSHIPS, 3),
                    (DELETE_MEMBERSHIPS_OF_RECORD, 2),
                ] {
                    let result = if params == 2 {
                        tx.execute(sql, &[&t.0, &record.0]).await
                    } else {
                        tx.execute(sql, &[&t.0, &record.0, &into.0]).await
                    };
                    result.map_err(store_err)?;
                }
            }
            // The registration's data lives in the host (A20).
            Effect::UpdateSubject { .. } => {}
        }
    }
    for p in &plan.preconditions {
        if let Precondition::EventNew { event, digest } = p {
            tx.execute(
                "INSERT INTO events (tenant, id, digest) VALUES ($1, $2, $3)",
                &[&t.0, &event.0, &digest.0],
            )
            .await
            .map_err(|e| match e.code() {
                // A racing redelivery committed first.
                Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                    ApplyError::Conflict(Conflict::EventApplied(*event))
                }
                _ => store_err(e),
            })?;
        }
    }
    for h in plan.history() {
        tx.execute(
            "INSERT INTO field_history (tenant, record, field, old, new, event, rule, submitter)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &t.0,
                &h.record.0,
                &h.field.as_str(),
                &h.old.as_ref().map(FieldValue::as_str),
                &h.new.as_str(),
                &h.event.map(|e| e.0),
                &h.rule.as_str(),
                &h.submitter.map(crate::event::Submitter::name),
            ],
        )
        .await
        .map_err(store_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
            "records by alias keys",
            RECORDS_BY_ALIASES,
            &["record_aliases_pkey"],
        ),
        (
            "records by email keys",
            RECORDS_BY_KEYS,
            &["records_by_key"],
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
        ("record exists in", RECORD_EXISTS_IN, &["records_pkey"]),
        ("record exists", RECORD_EXISTS, &["records_pkey"]),
        (
            "ids by key",
            IDS_BY_KEY,
            &["records_by_key", "record_aliases_pkey"],
        ),
        ("ids by ticket", IDS_BY_TICKET, &["records_by_ticket"]),
        ("ids by block", IDS_BY_BLOCK, &["record_blocks_pkey"]),
        ("digests by ids", DIGESTS_BY_IDS, &["events_pkey"]),
        ("event digest", EVENT_DIGEST, &["events_pkey"]),
        ("link of a subject", LINK_OF_SUBJECT, &["links_pkey"]),
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
            client.batch_execute("SET enable_seqscan = off").await.unwrap();
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
}
