//! A store on SQLite (feature `sqlite`).
//!
//! * The schema is created on open and versioned with `PRAGMA user_version`.
//! * Records keep their fields as JSON, their B1 email key and ticket id in
//!   indexed columns: `(tenant, email_key, record_type)`, `(tenant, ticket)`.
//!   The keys of their aliases (B15) are rows of `record_aliases`, indexed
//!   on `(tenant, alias_key)`.
//!   Keys are compared exactly as B1 computes them (`=` on the stored key;
//!   never SQLite's ASCII-only `NOCASE` or `LIKE`).
//! * [`ApplyPlan::apply`] runs in one `BEGIN IMMEDIATE` transaction that
//!   re-checks every precondition before it writes: all of the plan or none.
//! * WAL journaling and a busy timeout let several connections (threads or
//!   processes) plan and apply concurrently without `SQLITE_BUSY` reaching the
//!   caller.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::sql::{
    record_columns, stored_version, ticket_of, type_from_name, type_name, MAX_VERSION,
    RECORD_COLUMNS,
};
use crate::email::{EmailKey, Normalization};
use crate::error::ApplyError;
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, EventDigest, Held, HistoryEntry, Observe, Observed, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::{ApplyPlan, CampaignMember, ContactStore, Tombstone, UndoStore};

mod statements;
use statements::*;
mod apply;
use apply::*;
#[cfg(test)]
mod tests;

/// The schema version this library writes.
pub const SCHEMA_VERSION: i64 = 7;

/// How long a connection waits for another one's write transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong in the SQLite store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// SQLite reported an error (SQLite's error is the
    /// [`source`](std::error::Error::source)).
    #[error("SQLite failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record could not be read back.
    #[error("stored record {0} is corrupt")]
    Corrupt(RecordId),
    /// The database was written by a newer version of this library.
    #[error("database schema version {found} is newer than the supported {SCHEMA_VERSION}")]
    SchemaVersion {
        /// The version found.
        found: i64,
    },
    /// A record with this id exists already.
    #[error("record {0} exists already")]
    Exists(RecordId),
    /// A record's version is above `i64::MAX`, the largest SQLite stores.
    #[error("record {0}: version above the largest SQLite stores (i64::MAX)")]
    VersionOutOfRange(RecordId),
    /// The store's settings (its blocking, B19) cannot be read back.
    #[error("the stored settings are corrupt")]
    CorruptSettings,
}

impl SqliteError {
    /// What this error means for a retry: the database busy or locked by
    /// another connection (`SQLITE_BUSY`, `SQLITE_LOCKED`) is
    /// [`crate::ErrorClass::Transient`]; everything else
    /// [`crate::ErrorClass::Permanent`] (a transaction either commits or
    /// reports its error, so no outcome is unknown).
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            SqliteError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                crate::ErrorClass::Transient
            }
            _ => crate::ErrorClass::Permanent,
        }
    }
}

/// Records, links and campaign members in an SQLite database.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    normalization: Normalization,
    /// The blocking records are indexed by (B19), kept in the database.
    blocking: Blocking,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn blob(id: uuid::Uuid) -> [u8; 16] {
    *id.as_bytes()
}

fn record_id(b: &[u8]) -> Option<RecordId> {
    uuid::Uuid::from_slice(b).ok().map(RecordId::new)
}

/// A record row as stored: id, tenant, type, fields JSON, version.
type RawRecord = (Vec<u8>, Vec<u8>, String, String, i64);

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn to_record(raw: RawRecord) -> Result<Record, SqliteError> {
    let (id, tenant, ty, fields, version) = raw;
    let rid = record_id(&id).ok_or(SqliteError::Corrupt(RecordId::from_u128(0)))?;
    let tenant = uuid::Uuid::from_slice(&tenant).map_err(|_| SqliteError::Corrupt(rid))?;
    let record_type = type_from_name(&ty).ok_or(SqliteError::Corrupt(rid))?;
    let fields: Fields = serde_json::from_str(&fields).map_err(|_| SqliteError::Corrupt(rid))?;
    Ok(Record {
        id: rid,
        tenant: TenantId::new(tenant),
        record_type,
        fields,
        version: u64::try_from(version).map_err(|_| SqliteError::Corrupt(rid))?,
    })
}

impl SqliteStore {
    /// The schema version this library writes (and the newest it opens).
    pub const SCHEMA_VERSION: i64 = SCHEMA_VERSION;

    /// Opens (creating if needed) the database at `path`.
    ///
    /// # Errors
    /// [`SqliteError::Sqlite`] when the file cannot be opened or migrated,
    /// [`SqliteError::SchemaVersion`] for a database of a newer version.
    pub fn open(path: impl AsRef<Path>, normalization: Normalization) -> Result<Self, SqliteError> {
        Self::init(Connection::open(path)?, normalization)
    }

    /// A private in-memory database (for tests).
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_in_memory(normalization: Normalization) -> Result<Self, SqliteError> {
        Self::init(Connection::open_in_memory()?, normalization)
    }

    fn init(mut conn: Connection, normalization: Normalization) -> Result<Self, SqliteError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers plan while a writer applies; in memory it stays "memory".
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(SqliteError::SchemaVersion { found: version });
        }
        if version < 1 {
            tx.execute_batch(
                "CREATE TABLE records (
                    id BLOB PRIMARY KEY,
                    tenant BLOB NOT NULL,
                    record_type TEXT NOT NULL,
                    email_key TEXT,
                    ticket TEXT,
                    fields TEXT NOT NULL,
                    version INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 CREATE INDEX records_by_key ON records (tenant, email_key, record_type);
                 CREATE INDEX records_by_ticket ON records (tenant, ticket);
                 CREATE TABLE links (
                    tenant BLOB NOT NULL,
                    subject BLOB NOT NULL,
                    record BLOB NOT NULL,
                    PRIMARY KEY (tenant, subject)
                 ) WITHOUT ROWID;
                 CREATE TABLE events (
                    tenant BLOB NOT NULL,
                    id BLOB NOT NULL,
                    digest BLOB NOT NULL,
                    PRIMARY KEY (tenant, id)
                 ) WITHOUT ROWID;
                 CREATE TABLE campaign_members (
                    tenant BLOB NOT NULL,
                    campaign TEXT NOT NULL,
                    record BLOB NOT NULL,
                    PRIMARY KEY (tenant, campaign, record)
                 ) WITHOUT ROWID;
                 PRAGMA user_version = 1;",
            )?;
        }
        if version < 2 {
            // 2: the ticket id mapped on a campaign member (A30); a record's
            // links and memberships found by index (the read side, merges).
            tx.execute_batch(
                "ALTER TABLE campaign_members ADD COLUMN ticket TEXT;
                 CREATE INDEX links_by_record ON links (tenant, record);
                 CREATE INDEX campaign_members_by_record ON campaign_members (tenant, record);
                 PRAGMA user_version = 2;",
            )?;
        }
        if version < 3 {
            // 3: records found by their aliases (B15).
            tx.execute_batch(
                "CREATE TABLE record_aliases (
                    tenant BLOB NOT NULL,
                    alias_key TEXT NOT NULL,
                    record BLOB NOT NULL,
                    PRIMARY KEY (tenant, alias_key, record)
                 ) WITHOUT ROWID;
                 CREATE INDEX record_aliases_by_record ON record_aliases (record);",
            )?;
            // Records a host stored with aliases before are indexed now.
            let with_aliases: Vec<Record> = {
                let mut st = tx.prepare(&format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE instr(fields, '\"{}\"') > 0",
                    FieldName::EMAIL_ALIASES
                ))?;
                let rows = st.query_map([], read_record)?;
                rows.map(|r| to_record(r?))
                    .collect::<Result<_, SqliteError>>()?
            };
            for r in &with_aliases {
                write_aliases(&tx, r, &normalization)?;
            }
            tx.execute_batch("PRAGMA user_version = 3;")?;
        }
        if version < 4 {
            // 4: records found by their blocking keys (B19), and the
            // blocking they are indexed by.
            tx.execute_batch(
                "CREATE TABLE record_blocks (
                    tenant BLOB NOT NULL,
                    block_key TEXT NOT NULL,
                    record BLOB NOT NULL,
                    PRIMARY KEY (tenant, block_key, record)
                 ) WITHOUT ROWID;
                 CREATE INDEX record_blocks_by_record ON record_blocks (record);
                 CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                 PRAGMA user_version = 4;",
            )?;
        }
        if version < 5 {
            // 5: every applied field change, append-only (B17).
            tx.execute_batch(
                "CREATE TABLE field_history (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    tenant BLOB NOT NULL,
                    record BLOB NOT NULL,
                    field TEXT NOT NULL,
                    old TEXT,
                    new TEXT NOT NULL,
                    event BLOB,
                    rule TEXT NOT NULL,
                    submitter TEXT
                 );
                 CREATE INDEX field_history_by_record ON field_history (tenant, record, seq);
                 PRAGMA user_version = 5;",
            )?;
        }
        if version < 6 {
            // 6: the records merged away, to undo a merge (B16).
            tx.execute_batch(
                "CREATE TABLE tombstones (
                    record BLOB PRIMARY KEY,
                    tenant BLOB NOT NULL,
                    data TEXT NOT NULL
                 ) WITHOUT ROWID;
                 PRAGMA user_version = 6;",
            )?;
        }
        if version < 7 {
            // 7: a record's memberships covered by their record index, in
            // campaign order (SQLite read the primary key's tenant prefix
            // instead, walking every membership of the tenant).
            tx.execute_batch(
                "DROP INDEX campaign_members_by_record;
                 CREATE INDEX campaign_members_by_record
                     ON campaign_members (tenant, record, campaign, ticket);
                 PRAGMA user_version = 7;",
            )?;
        }
        let blocking = tx
            .query_row(
                "SELECT value FROM settings WHERE name = 'blocking'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|v| serde_json::from_str::<Blocking>(&v))
            .transpose()
            .map_err(|_| SqliteError::CorruptSettings)?
            .unwrap_or_default();
        tx.commit()?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            normalization,
            blocking,
        })
    }

    /// Indexes the records by `blocking` from now on (B19), for policies
    /// that match by record linkage with the same blocking: the records
    /// held are indexed again in one transaction, and the blocking is kept
    /// in the database, so a store opened later indexes by it too.
    ///
    /// # Errors
    /// SQLite's error (nothing changed then), or [`SqliteError::Corrupt`]
    /// for a record that cannot be read back.
    pub fn set_blocking(&mut self, blocking: Blocking) -> Result<(), SqliteError> {
        let n = self.normalization;
        let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM record_blocks", [])?;
        let all: Vec<Record> = {
            let mut st = tx.prepare(&format!("SELECT {RECORD_COLUMNS} FROM records"))?;
            let rows = st.query_map([], read_record)?;
            rows.map(|r| to_record(r?))
                .collect::<Result<_, SqliteError>>()?
        };
        for r in &all {
            write_blocks(&tx, r, &n, &blocking)?;
        }
        let json = serde_json::to_string(&blocking).map_err(|_| SqliteError::CorruptSettings)?;
        tx.execute(
            "INSERT INTO settings (name, value) VALUES ('blocking', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![json],
        )?;
        tx.commit()?;
        self.blocking = blocking;
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves at most an open transaction,
        // which rusqlite rolls back on drop.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an existing record (seeding the store).
    ///
    /// # Errors
    /// [`SqliteError::Exists`] when a record has the id,
    /// [`SqliteError::VersionOutOfRange`] for a version above `i64::MAX`, or
    /// SQLite's error.
    pub fn insert(&self, record: &Record) -> Result<(), SqliteError> {
        let conn = self.conn();
        if exists(&conn, record.id)? {
            return Err(SqliteError::Exists(record.id));
        }
        insert_record(&conn, record, &self.normalization, &self.blocking)
    }

    /// The records of `tenant`, sorted by id.
    ///
    /// # Errors
    /// SQLite's error, or [`SqliteError::Corrupt`] for a record that cannot be
    /// read back.
    pub fn records(&self, tenant: TenantId) -> Result<Vec<Record>, SqliteError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE tenant = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map(params![blob(tenant.0)], read_record)?;
        rows.map(|r| to_record(r?)).collect()
    }

    /// The record `subject` is linked to.
    ///
    /// # Errors
    /// SQLite's error.
    pub fn link_of(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<Option<RecordId>, SqliteError> {
        let conn = self.conn();
        let b: Option<Vec<u8>> = conn
            .query_row(
                LINK_OF_SUBJECT,
                params![blob(tenant.0), blob(subject.0)],
                |r| r.get(0),
            )
            .optional()?;
        Ok(b.and_then(|b| record_id(&b)))
    }

    /// The members of `campaign`, sorted.
    ///
    /// # Errors
    /// SQLite's error.
    pub fn campaign_members(
        &self,
        tenant: TenantId,
        campaign: &CampaignId,
    ) -> Result<Vec<RecordId>, SqliteError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(MEMBERS_OF_CAMPAIGN)?;
        let rows = st.query_map(params![blob(tenant.0), campaign.0], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(record_id(&r?));
        }
        Ok(out)
    }
}

/// True when `id` is a record of `tenant` (without reading its fields).
/// What the store holds of record `id` (any tenant): [`Plan::check_effects`]' lookup.
fn held(conn: &Connection, id: RecordId) -> Result<Option<Held>, SqliteError> {
    let row: Option<(Vec<u8>, i64)> = conn
        .prepare_cached(RECORD_HELD)?
        .query_row(params![blob(id.0)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(tenant, version)| {
        let tenant = uuid::Uuid::from_slice(&tenant).map_err(|_| SqliteError::Corrupt(id))?;
        let version = u64::try_from(version).map_err(|_| SqliteError::Corrupt(id))?;
        Ok(Held {
            tenant: TenantId::new(tenant),
            version,
        })
    })
    .transpose()
}

fn exists(conn: &Connection, id: RecordId) -> Result<bool, SqliteError> {
    Ok(conn
        .query_row(RECORD_EXISTS, params![blob(id.0)], |_| Ok(()))
        .optional()?
        .is_some())
}

fn insert_record(
    conn: &Connection,
    r: &Record,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), SqliteError> {
    let version = stored_version(r.version).ok_or(SqliteError::VersionOutOfRange(r.id))?;
    let fields = serde_json::to_string(&r.fields).map_err(|_| SqliteError::Corrupt(r.id))?;
    conn.prepare_cached(
        "INSERT INTO records (id, tenant, record_type, email_key, ticket, fields, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        blob(r.id.0),
        blob(r.tenant.0),
        type_name(r.record_type),
        r.email_key(n).map(String::from),
        ticket_of(r),
        fields,
        version,
    ])?;
    write_aliases(conn, r, n)?;
    write_blocks(conn, r, n, b)
}

/// Indexes record `r` under its blocking keys (B19), replacing what it was
/// indexed under.
fn write_blocks(
    conn: &Connection,
    r: &Record,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), SqliteError> {
    if b.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(DELETE_BLOCKS_OF_RECORD)?
        .execute(params![blob(r.id.0)])?;
    for k in b.keys(&r.fields, n) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO record_blocks (tenant, block_key, record) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![blob(r.tenant.0), k.as_str(), blob(r.id.0)])?;
    }
    Ok(())
}

/// Indexes record `r` under the keys of its aliases (B15), replacing what
/// it was indexed under.
fn write_aliases(conn: &Connection, r: &Record, n: &Normalization) -> Result<(), SqliteError> {
    conn.prepare_cached(DELETE_ALIASES_OF_RECORD)?
        .execute(params![blob(r.id.0)])?;
    for k in r.alias_keys(n) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO record_aliases (tenant, alias_key, record) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![blob(r.tenant.0), k.as_str(), blob(r.id.0)])?;
    }
    Ok(())
}

fn ids(
    conn: &Connection,
    sql: &str,
    tenant: TenantId,
    value: &str,
) -> Result<Vec<RecordId>, SqliteError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(params![blob(tenant.0), value], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(record_id(&r?));
    }
    out.sort_unstable();
    Ok(out)
}

fn records_where(
    conn: &Connection,
    sql: &str,
    tenant: TenantId,
    value: &str,
) -> Result<Vec<Record>, SqliteError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(params![blob(tenant.0), value], read_record)?;
    rows.map(|r| to_record(r?)).collect()
}

fn get(conn: &Connection, tenant: TenantId, id: RecordId) -> Result<Option<Record>, SqliteError> {
    let raw = conn
        .prepare_cached(RECORD_BY_ID)?
        .query_row(params![blob(id.0), blob(tenant.0)], read_record)
        .optional()?;
    raw.map(to_record).transpose()
}

impl ContactStore for SqliteStore {
    type Error = SqliteError;

    fn classify(&self, error: &SqliteError) -> crate::ErrorClass {
        error.class()
    }

    fn event_digest(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> Result<Option<EventDigest>, SqliteError> {
        event_digest(&self.conn(), tenant, event)
    }

    fn normalization(&self) -> Normalization {
        self.normalization
    }

    fn records_by_email(
        &self,
        tenant: TenantId,
        key: &EmailKey,
    ) -> Result<Vec<Record>, SqliteError> {
        records_where(&self.conn(), RECORDS_BY_KEY, tenant, key.as_str())
    }

    fn blocking(&self) -> Blocking {
        self.blocking.clone()
    }

    fn record_history(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<HistoryEntry>, SqliteError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(HISTORY_BY_RECORD)?;
        let rows = st.query_map(params![blob(tenant.0), blob(record.0)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (field, old, new, event, rule, submitter) = row?;
            let rule = rule.parse().map_err(|_| SqliteError::Corrupt(record))?;
            let submitter = submitter
                .map(|s| crate::event::Submitter::from_name(&s).ok_or(SqliteError::Corrupt(record)))
                .transpose()?;
            let event = event
                .map(|b| {
                    record_id(&b)
                        .map(|r| EventId::new(r.0))
                        .ok_or(SqliteError::Corrupt(record))
                })
                .transpose()?;
            out.push(HistoryEntry {
                record,
                field: FieldName::new(&field),
                old: old.as_deref().map(FieldValue::new),
                new: FieldValue::new(&new),
                event,
                rule,
                submitter,
            });
        }
        Ok(out)
    }

    fn records_by_block(
        &self,
        tenant: TenantId,
        key: &BlockKey,
    ) -> Result<Vec<Record>, SqliteError> {
        records_where(&self.conn(), RECORDS_BY_BLOCK, tenant, key.as_str())
    }

    fn record(&self, tenant: TenantId, id: RecordId) -> Result<Option<Record>, SqliteError> {
        get(&self.conn(), tenant, id)
    }

    fn records_by_ticket(
        &self,
        tenant: TenantId,
        ticket: &str,
    ) -> Result<Vec<Record>, SqliteError> {
        records_where(&self.conn(), RECORDS_BY_TICKET, tenant, ticket.trim())
    }

    fn linked_subjects(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<SubjectId>, SqliteError> {
        linked(&self.conn(), tenant, record)
    }

    fn campaign_memberships(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<CampaignMember>, SqliteError> {
        memberships(&self.conn(), tenant, record)
    }
}

impl UndoStore for SqliteStore {
    fn subject_link(
        &self,
        tenant: TenantId,
        subject: SubjectId,
    ) -> Result<Option<RecordId>, SqliteError> {
        self.link_of(tenant, subject)
    }

    fn tombstone(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Option<Tombstone>, SqliteError> {
        let data: Option<String> = self
            .conn()
            .query_row(TOMBSTONE_OF, params![blob(tenant.0), blob(record.0)], |r| {
                r.get(0)
            })
            .optional()?;
        data.map(|d| serde_json::from_str(&d).map_err(|_| SqliteError::Corrupt(record)))
            .transpose()
    }
}

fn linked(
    conn: &Connection,
    tenant: TenantId,
    record: RecordId,
) -> Result<Vec<SubjectId>, SqliteError> {
    let mut st = conn.prepare_cached(SUBJECTS_BY_RECORD)?;
    let rows = st.query_map(params![blob(tenant.0), blob(record.0)], |r| {
        r.get::<_, Vec<u8>>(0)
    })?;
    let mut out = Vec::new();
    for r in rows {
        let b = r?;
        out.push(SubjectId::new(
            uuid::Uuid::from_slice(&b).map_err(|_| SqliteError::Corrupt(record))?,
        ));
    }
    Ok(out)
}

fn memberships(
    conn: &Connection,
    tenant: TenantId,
    record: RecordId,
) -> Result<Vec<CampaignMember>, SqliteError> {
    let mut st = conn.prepare_cached(MEMBERSHIPS_BY_RECORD)?;
    let rows = st.query_map(params![blob(tenant.0), blob(record.0)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (campaign, ticket) = r?;
        out.push(CampaignMember {
            campaign: CampaignId(campaign),
            record,
            ticket: ticket.map(FieldValue::from),
        });
    }
    Ok(out)
}

/// Deletes record `id` with its alias and block index entries (its links
/// and memberships stay).
fn delete_record(conn: &Connection, id: RecordId) -> rusqlite::Result<()> {
    let b = blob(id.0);
    conn.execute(DELETE_RECORD, params![b])?;
    conn.execute(DELETE_ALIASES_OF_RECORD, params![b])?;
    conn.execute(DELETE_BLOCKS_OF_RECORD, params![b])?;
    Ok(())
}
