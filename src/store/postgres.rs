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
//! * **What one registration costs:** [`PostgresStore::fetch`] answers
//!   everything a plan (or a whole batch, [`crate::Engine::needs_batch`])
//!   needs in one round trip, one statement per kind of lookup. The apply
//!   is one transaction of two round trips: `BEGIN`, the locks and every
//!   read of the preconditions and effects, one statement per kind over
//!   arrays, sent together; then, once the preconditions hold, the writes,
//!   one statement per kind, and `COMMIT`, sent together (a write that
//!   fails aborts the transaction, so the `COMMIT` behind it rolls back).
//!   A new registration is about eleven statements in three round trips;
//!   every statement is prepared once per connection.
//! * Every apply holds its tenant's advisory lock shared and takes one on
//!   every email key and ticket id the plan relies on or writes (in one
//!   sorted statement, so two applies never wait on each other in a
//!   cycle), locks the records it checks (`FOR UPDATE`), and only then
//!   re-checks the preconditions. Two instances racing to create a record
//!   for one new email take turns: the second sees the first's record and
//!   fails with [`Conflict::EmailKeyChanged`] (re-plan). Unrelated emails
//!   never wait on each other (`SERIALIZABLE` would abort them on shared
//!   index pages). A deadlock between row locks is a
//!   [`Conflict::Serialization`]. Primary keys make a record id or an
//!   applied event exist at most once.
//! * **Imports:** a plan of more than 256 locks takes the tenant's lock
//!   alone instead of one per key, so the server's lock table
//!   (`max_locks_per_transaction`) never fills; [`PostgresStore::import`]
//!   reads, decides and writes each chunk inside such a transaction (it
//!   never conflicts), and [`PostgresStore::insert_many`] seeds by `COPY`.
//! * **Errors:** [`PostgresError::class`] says which errors are worth
//!   trying again (by SQLSTATE class) and when a commit's outcome is
//!   unknown; the retries act on it.
//!
//! Connect with a URL (`postgres://user@host:port/db`) or
//! [`PostgresConnect`] (pool size and timeouts, TLS with `postgres-tls`, a
//! schema of its own), or hand in a pool ([`PostgresStore::from_pool`]).

use std::collections::{BTreeMap, HashMap};

use deadpool_postgres::Pool;
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::sql::{
    record_columns, stored_version, ticket_of, type_from_name, type_name, MAX_VERSION,
    RECORD_COLUMNS,
};
use crate::candidates::{Candidates, Needs};
use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, Conflict, Echo, ErrorClass};
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, EventDigest, Held, HistoryEntry, Observe, Observed, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::asynchronous::{AsyncApplyPlan, AsyncContactStore, AsyncUndoStore};
use crate::store::{CampaignMember, Tombstone};

mod connect;
pub use connect::PostgresConnect;
mod copy;
mod schema;
use schema::*;
mod apply;
use apply::*;
#[cfg(test)]
mod tests;

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
    /// The connection was lost (or the server shut down) while the plan's
    /// last round trip, its writes and `COMMIT`, was under way: the plan
    /// may or may not have been applied ([`ErrorClass::OutcomeUnknown`]).
    #[error("the connection was lost while committing: the plan may or may not be applied")]
    CommitUnknown(#[source] tokio_postgres::Error),
}

impl PostgresError {
    /// What this error means for a retry, by its SQLSTATE class:
    ///
    /// | error | class |
    /// | --- | --- |
    /// | connection lost (no SQLSTATE, I/O), `08` connection exception | [`ErrorClass::Transient`] |
    /// | `57P01`-`57P03` server shutting down, crashed, starting | [`ErrorClass::Transient`] |
    /// | `40001` serialization failure, `40P01` deadlock | [`ErrorClass::Transient`] |
    /// | `55P03` lock not available (`lock_timeout`), `57014` cancelled (`statement_timeout`) | [`ErrorClass::Transient`] |
    /// | `53` insufficient resources (out of memory, disk full, too many connections) | [`ErrorClass::Transient`] |
    /// | no connection from the pool in time | [`ErrorClass::Transient`] |
    /// | [`PostgresError::CommitUnknown`] | [`ErrorClass::OutcomeUnknown`] |
    /// | every other SQLSTATE, bad settings, corrupt rows, schema versions | [`ErrorClass::Permanent`] |
    ///
    /// (An apply reports a serialization failure or deadlock as
    /// [`Conflict::Serialization`], which the retries plan again at once.)
    pub fn class(&self) -> ErrorClass {
        match self {
            PostgresError::Postgres(e) => class_of(e),
            PostgresError::Pool(deadpool_postgres::PoolError::Timeout(_)) => ErrorClass::Transient,
            PostgresError::Pool(deadpool_postgres::PoolError::Backend(e)) => class_of(e),
            PostgresError::CommitUnknown(_) => ErrorClass::OutcomeUnknown,
            _ => ErrorClass::Permanent,
        }
    }

    /// The SQLSTATE PostgreSQL reported, if it reported one.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            PostgresError::Postgres(e) | PostgresError::CommitUnknown(e) => e.code(),
            PostgresError::Pool(deadpool_postgres::PoolError::Backend(e)) => e.code(),
            _ => None,
        }
    }
}

/// [`PostgresError::class`] of a driver error.
fn class_of(e: &tokio_postgres::Error) -> ErrorClass {
    let Some(code) = e.code() else {
        let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
        return if e.is_closed() || io {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
    };
    let c = code.code();
    let transient = c.starts_with("08")
        || c.starts_with("53")
        || matches!(
            c,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "55P03" | "57014"
        );
    if transient {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

/// Whether `e` means the connection is gone (it closed, or the server
/// ended the session).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        None => class_of(e) == ErrorClass::Transient,
        Some(c) => c.code().starts_with("08") || c.code().starts_with("57P"),
    }
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
    /// The schema version this library writes (and the newest it opens).
    pub const SCHEMA_VERSION: i32 = SCHEMA_VERSION;

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
        Self::open(url, Some(schema), normalization, max_connections).await
    }

    async fn open(
        url: &str,
        schema: Option<&str>,
        normalization: Normalization,
        max_connections: usize,
    ) -> Result<Self, PostgresError> {
        let mut c = PostgresConnect::url(url)?
            .normalization(normalization)
            .max_connections(max_connections);
        if let Some(s) = schema {
            c = c.schema(s)?;
        }
        c.connect().await
    }

    /// A store on a pool the host built and owns (its TLS, its settings,
    /// its hooks): the schema is created or migrated through it, in the
    /// connections' own `search_path`.
    ///
    /// Set `plan_cache_mode=force_custom_plan` on the pool's connections
    /// (`options=-c plan_cache_mode=force_custom_plan` in the URL), as
    /// [`PostgresConnect`] does: the store prepares each statement once per
    /// connection, and a plan made once for a generic array of keys while a
    /// table was small walks the table once it is large.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn from_pool(
        pool: Pool,
        normalization: Normalization,
    ) -> Result<Self, PostgresError> {
        Self::on_pool(pool, None, normalization).await
    }

    /// Migrates through `pool` and reads the stored settings.
    async fn on_pool(
        pool: Pool,
        schema: Option<&str>,
        normalization: Normalization,
    ) -> Result<Self, PostgresError> {
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
            write_blocks(&*tx, &to_record(row)?, &self.normalization, &blocking).await?;
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
                write_aliases(&*tx, &to_record(row)?, &self.normalization).await?;
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
                INSERT_RECORD,
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
        write_aliases(&*tx, record, &self.normalization).await?;
        write_blocks(&*tx, record, &self.normalization, &self.blocking).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Imports `events` through `engine`: chunks of
    /// [`crate::ImportOptions::chunk`] events, each read, decided and
    /// written inside one transaction that holds the tenant's lock alone
    /// (other applies in the tenant wait for the chunk, and it for them), so
    /// a chunk never conflicts and the server's lock table never fills,
    /// whatever the chunk's size. A transient error is tried again after the
    /// options' pause. Resumable: applied events plan nothing (B7).
    ///
    /// # Errors
    /// [`crate::ImportError`], saying how far the import got.
    pub async fn import(
        &self,
        engine: &crate::Engine,
        events: &[crate::Event],
        options: crate::ImportOptions,
    ) -> Result<crate::ImportReport, crate::ImportError<PostgresError, PostgresError>> {
        engine
            .check_store_settings(self.normalization, || self.blocking.clone())
            .map_err(|e| crate::ImportError {
                done: 0,
                source: crate::RetryError::Plan(e.into()),
            })?;
        let mut run = crate::attempts::ImportRun::new(events.len(), &options);
        for chunk in events.chunks(options.chunk_len()) {
            let mut retry = crate::attempts::Retry::new(options.retry_policy());
            let mut applied = None;
            while let Some(attempt) = retry.next_attempt() {
                let next = match self.import_chunk(engine, chunk).await {
                    Err(e) => retry.plan_failed(e, PostgresError::class),
                    Ok((plan, result)) => retry.settle(attempt, plan, result, PostgresError::class),
                }
                .map_err(|e| run.failed(e))?;
                match next {
                    crate::attempts::Next::Applied(plan) => {
                        applied = Some(plan);
                        break;
                    }
                    crate::attempts::Next::Again(pause) => tokio::time::sleep(pause).await,
                }
            }
            match applied {
                Some(plan) => run.applied(chunk.len(), &plan),
                None => return Err(run.failed(retry.exhausted())),
            }
        }
        Ok(run.report)
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

    /// A page of `tenant`'s links, `(subject, record)` sorted by subject:
    /// at most `limit` of them, from the first subject after `after`
    /// (`None`: from the start). Pass the last subject of a page to get the
    /// next; an empty page is the end. Each page is one index range read,
    /// however many links the tenant has (for exports and checks).
    ///
    /// # Errors
    /// The database's error.
    pub async fn links_page(
        &self,
        tenant: TenantId,
        after: Option<SubjectId>,
        limit: usize,
    ) -> Result<Vec<(SubjectId, RecordId)>, PostgresError> {
        let client = self.pool.get().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let statement = client.prepare_cached(LINKS_PAGE).await?;
        let rows = client
            .query(&statement, &[&tenant.0, &after.map(|s| s.0), &limit])
            .await?;
        rows.iter()
            .map(|r| Ok((SubjectId::new(r.try_get(0)?), RecordId::new(r.try_get(1)?))))
            .collect()
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

    /// Everything `needs` asks for in one round trip: one prepared
    /// statement per kind of lookup, sent together (the store's
    /// [`AsyncContactStore::fetch`]).
    async fn fetch_bulk(&self, needs: &Needs) -> Result<Candidates, PostgresError> {
        let client = self.pool.get().await?;
        fetch_on(&client, needs).await
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

/// [`PostgresStore::fetch_bulk`] on connection `client` (inside a
/// transaction or not).
async fn fetch_on(
    client: &deadpool_postgres::ClientWrapper,
    needs: &Needs,
) -> Result<Candidates, PostgresError> {
    let t = needs.tenant;
    let keys: Vec<&str> = needs.email_keys.iter().map(EmailKey::as_str).collect();
    let ids: Vec<Uuid> = needs.records.iter().map(|r| r.0).collect();
    let tickets: Vec<&str> = needs.tickets.iter().map(|s| s.trim()).collect();
    let blocks: Vec<&str> = needs.block_keys.iter().map(BlockKey::as_str).collect();
    let events: Vec<Uuid> = needs.events.iter().map(|e| e.0).collect();
    let p_keys: apply::Params = vec![&t.0, &keys];
    let p_ids: apply::Params = vec![&t.0, &ids];
    let p_tickets: apply::Params = vec![&t.0, &tickets];
    let p_blocks: apply::Params = vec![&t.0, &blocks];
    let p_events: apply::Params = vec![&t.0, &events];
    let lookups: [(bool, &str, &apply::Params); 6] = [
        (!keys.is_empty(), RECORDS_BY_EMAIL_KEYS, &p_keys),
        (!keys.is_empty(), ALIAS_RECORDS, &p_keys),
        (!ids.is_empty(), RECORDS_BY_IDS, &p_ids),
        (!tickets.is_empty(), RECORDS_BY_TICKETS, &p_tickets),
        (!blocks.is_empty(), RECORDS_BY_BLOCKS, &p_blocks),
        (!events.is_empty(), DIGESTS_BY_IDS, &p_events),
    ];
    let mut answers = apply::read_together(client, &lookups).await?.into_iter();
    let mut c = Candidates::new(t);
    let mut next = || answers.next().flatten().unwrap_or_default();
    let mut by_key = grouped(&next())?;
    // B15: records found by an alias's key, read by id in a second round
    // trip (only when an alias matched a record not found by its email).
    let aliased: Vec<(String, RecordId)> = next()
        .iter()
        .map(|r| Ok((r.try_get(0)?, RecordId::new(r.try_get(1)?))))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    if !aliased.is_empty() {
        let known: HashMap<RecordId, Record> = by_key
            .values()
            .flatten()
            .map(|r| (r.id, r.clone()))
            .collect();
        let missing: Vec<Uuid> = aliased
            .iter()
            .filter(|(_, id)| !known.contains_key(id))
            .map(|(_, id)| id.0)
            .collect();
        let mut found = known;
        if !missing.is_empty() {
            let p_missing: apply::Params = vec![&t.0, &missing];
            let rows = apply::read_together(client, &[(true, RECORDS_BY_IDS, &p_missing)]).await?;
            for row in rows.into_iter().flatten().flatten() {
                let r = to_record(&row)?;
                found.insert(r.id, r);
            }
        }
        for (key, id) in aliased {
            // A record of another tenant is not found by id (and not here).
            if let Some(r) = found.get(&id) {
                by_key.entry(key).or_default().push(r.clone());
            }
        }
    }
    // Each group sorted by id, each record once per key (B15: a record
    // found by its email and by an alias of the same key).
    for group in by_key.values_mut() {
        group.sort_by_key(|r| r.id);
        group.dedup_by_key(|r| r.id);
    }
    for k in &needs.email_keys {
        c.add_email_key(k.clone(), by_key.remove(k.as_str()).unwrap_or_default());
    }
    let mut by_id: BTreeMap<RecordId, Record> = BTreeMap::new();
    for row in &next() {
        let r = to_record(row)?;
        by_id.insert(r.id, r);
    }
    for id in &needs.records {
        c.add_record(*id, by_id.remove(id));
    }
    let by_ticket = grouped(&next())?;
    for ticket in &needs.tickets {
        c.add_ticket(
            ticket,
            by_ticket.get(ticket.trim()).cloned().unwrap_or_default(),
        );
    }
    let mut by_block = grouped(&next())?;
    for k in &needs.block_keys {
        c.add_block(k.clone(), by_block.remove(k.as_str()).unwrap_or_default());
    }
    for row in &next() {
        c.add_applied_event(EventId::new(row.try_get(0)?), EventDigest(row.try_get(1)?));
    }
    Ok(c)
}

/// Records with the key (email key, ticket or block key) each row carries
/// in its sixth column, grouped by that key, each group sorted by id.
fn grouped(rows: &[Row]) -> Result<BTreeMap<String, Vec<Record>>, PostgresError> {
    let mut out: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for row in rows {
        out.entry(row.try_get::<_, String>(5)?)
            .or_default()
            .push(to_record(row)?);
    }
    for group in out.values_mut() {
        group.sort_by_key(|r| r.id);
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

    fn classify(&self, error: &PostgresError) -> ErrorClass {
        error.class()
    }

    /// Waits on tokio's timer (the runtime the driver runs on).
    async fn pause(&self, pause: std::time::Duration) {
        tokio::time::sleep(pause).await;
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
async fn tombstone_of<C: GenericClient>(
    tx: &C,
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
async fn delete_record<C: GenericClient>(
    tx: &C,
    t: TenantId,
    id: RecordId,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(DELETE_RECORD, &[&t.0, &id.0]).await?;
    for sql in [DELETE_ALIASES_OF_RECORD, DELETE_BLOCKS_OF_RECORD] {
        tx.execute(sql, &[&id.0]).await?;
    }
    Ok(())
}
