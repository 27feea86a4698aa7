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
    record_columns, stored_version, ticket_of, type_from_name, type_name, RECORD_COLUMNS,
};
use crate::email::{EmailKey, Normalization};
use crate::error::{ApplyError, Conflict};
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::linkage::{BlockKey, Blocking};
use crate::plan::{Effect, EventDigest, HistoryEntry, Observe, Observed, Plan, Precondition};
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::{ApplyPlan, CampaignMember, ContactStore, Tombstone, UndoStore};

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

/// Records by email key or by alias key (B15), each once, by id: each
/// half through its own index (`records_by_key`, `record_aliases`'s key),
/// then united. An `OR` of the two kept SQLite on the tenant prefix of
/// `records_by_ticket`, walking every record of the tenant.
const RECORDS_BY_KEY: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = ?1 AND email_key = ?2
     UNION SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_aliases a CROSS JOIN records r ON r.id = a.record
     WHERE a.tenant = ?1 AND a.alias_key = ?2 AND r.tenant = ?1
     ORDER BY id"
);
/// Records by blocking key (B19), by id: the key's rows first, then each
/// record by its primary key.
const RECORDS_BY_BLOCK: &str = "SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_blocks b CROSS JOIN records r ON r.id = b.record
     WHERE b.tenant = ?1 AND b.block_key = ?2 AND r.tenant = ?1
     ORDER BY r.id";
/// Records by ticket id (A28), by id.
const RECORDS_BY_TICKET: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = ?1 AND ticket = ?2 ORDER BY id"
);
/// One record by id, in its tenant.
const RECORD_BY_ID: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = ?1 AND tenant = ?2"
);
/// The subjects linked to a record, sorted.
const SUBJECTS_BY_RECORD: &str =
    "SELECT subject FROM links WHERE tenant = ?1 AND record = ?2 ORDER BY subject";
/// A subject's link.
const LINK_OF_SUBJECT: &str = "SELECT record FROM links WHERE tenant = ?1 AND subject = ?2";
/// A record's campaign memberships, by campaign (covered by
/// `campaign_members_by_record`, schema 7).
const MEMBERSHIPS_BY_RECORD: &str =
    "SELECT campaign, ticket FROM campaign_members WHERE tenant = ?1 AND record = ?2 ORDER BY campaign";
/// An applied event's digest (B7).
const EVENT_DIGEST: &str = "SELECT digest FROM events WHERE tenant = ?1 AND id = ?2";
/// A record's field history (B17), oldest first.
const HISTORY_BY_RECORD: &str = "SELECT field, old, new, event, rule, submitter FROM field_history
     WHERE tenant = ?1 AND record = ?2 ORDER BY seq";
/// A merged record's tombstone (B16).
const TOMBSTONE_OF: &str = "SELECT data FROM tombstones WHERE tenant = ?1 AND record = ?2";

/// A record's block index entries (B19), dropped.
const DELETE_BLOCKS_OF_RECORD: &str = "DELETE FROM record_blocks WHERE record = ?1";
/// A record's alias index entries (B15), dropped.
const DELETE_ALIASES_OF_RECORD: &str = "DELETE FROM record_aliases WHERE record = ?1";
/// A record, deleted by id.
const DELETE_RECORD: &str = "DELETE FROM records WHERE id = ?1";
/// A restored record's tombstone (B16), dropped.
const DELETE_TOMBSTONE: &str = "DELETE FROM tombstones WHERE record = ?1";
/// The links to a deleted record, dropped.
const DELETE_LINKS_OF_RECORD: &str = "DELETE FROM links WHERE tenant = ?1 AND record = ?2";
/// A deleted or merged record's memberships, dropped.
const DELETE_MEMBERSHIPS_OF_RECORD: &str =
    "DELETE FROM campaign_members WHERE tenant = ?1 AND record = ?2";
/// One campaign membership, removed.
const DELETE_MEMBERSHIP: &str =
    "DELETE FROM campaign_members WHERE tenant = ?1 AND campaign = ?2 AND record = ?3";
/// A record's fields, keys and version, written.
const UPDATE_RECORD: &str =
    "UPDATE records SET email_key = ?2, ticket = ?3, fields = ?4, version = ?5 WHERE id = ?1";
/// A subject's link to one record, dropped.
const UNLINK: &str = "DELETE FROM links WHERE tenant = ?1 AND subject = ?2 AND record = ?3";
/// A merged record's links, moved to the survivor (B9).
const MOVE_LINKS: &str = "UPDATE links SET record = ?3 WHERE tenant = ?1 AND record = ?2";
/// A merged record's memberships, taken over by the survivor: its own
/// ticket id stays, a missing one is taken over (B9).
const MOVE_MEMBERSHIPS: &str = "INSERT INTO campaign_members (tenant, campaign, record, ticket)
     SELECT tenant, campaign, ?3, ticket FROM campaign_members WHERE tenant = ?1 AND record = ?2
     ON CONFLICT (tenant, campaign, record) DO UPDATE SET ticket = COALESCE(ticket, excluded.ticket)";
/// A campaign's members, by record.
const MEMBERS_OF_CAMPAIGN: &str =
    "SELECT record FROM campaign_members WHERE tenant = ?1 AND campaign = ?2 ORDER BY record";
/// Whether a record of the tenant exists.
const RECORD_EXISTS_IN: &str = "SELECT 1 FROM records WHERE id = ?1 AND tenant = ?2";
/// Whether a record exists in any tenant.
const RECORD_EXISTS: &str = "SELECT 1 FROM records WHERE id = ?1";

/// Every lookup and write the store runs per key or id, by name, with the index
/// each table in it must be searched by (the tests check each with
/// `EXPLAIN QUERY PLAN`: a lookup that walks a table, or a tenant, shows
/// up there before it shows up in a profile).
#[cfg(test)]
const LOOKUPS: &[(&str, &str, &[&str])] = &[
    (
        "records by email key",
        RECORDS_BY_KEY,
        &[
            "records USING INDEX records_by_key (tenant=? AND email_key=?)",
            "a USING PRIMARY KEY (tenant=? AND alias_key=?)",
            "r USING PRIMARY KEY (id=?)",
        ],
    ),
    (
        "record ids by email key",
        IDS_BY_KEY,
        &[
            "records USING COVERING INDEX records_by_key (tenant=? AND email_key=?)",
            "record_aliases USING PRIMARY KEY (tenant=? AND alias_key=?)",
        ],
    ),
    (
        "records by block",
        RECORDS_BY_BLOCK,
        &[
            "b USING PRIMARY KEY (tenant=? AND block_key=?)",
            "r USING PRIMARY KEY (id=?)",
        ],
    ),
    (
        "record ids by block",
        IDS_BY_BLOCK,
        &["record_blocks USING PRIMARY KEY (tenant=? AND block_key=?)"],
    ),
    (
        "records by ticket",
        RECORDS_BY_TICKET,
        &["records USING INDEX records_by_ticket (tenant=? AND ticket=?)"],
    ),
    (
        "record ids by ticket",
        IDS_BY_TICKET,
        &["records USING COVERING INDEX records_by_ticket (tenant=? AND ticket=?)"],
    ),
    (
        "record by id",
        RECORD_BY_ID,
        &["records USING PRIMARY KEY (id=?)"],
    ),
    (
        "subjects by record",
        SUBJECTS_BY_RECORD,
        &["links USING COVERING INDEX links_by_record (tenant=? AND record=?)"],
    ),
    (
        "link of a subject",
        LINK_OF_SUBJECT,
        &["links USING PRIMARY KEY (tenant=? AND subject=?)"],
    ),
    (
        "memberships by record",
        MEMBERSHIPS_BY_RECORD,
        &["campaign_members USING COVERING INDEX campaign_members_by_record (tenant=? AND record=?)"],
    ),
    (
        "event digest",
        EVENT_DIGEST,
        &["events USING PRIMARY KEY (tenant=? AND id=?)"],
    ),
    (
        "history by record",
        HISTORY_BY_RECORD,
        &["field_history USING INDEX field_history_by_record (tenant=? AND record=?)"],
    ),
    (
        "tombstone",
        TOMBSTONE_OF,
        &["tombstones USING PRIMARY KEY (record=?)"],
    ),
    (
        "delete blocks of record",
        DELETE_BLOCKS_OF_RECORD,
        &["record_blocks USING COVERING INDEX record_blocks_by_record (record=?)"],
    ),
    (
        "delete aliases of record",
        DELETE_ALIASES_OF_RECORD,
        &["record_aliases USING COVERING INDEX record_aliases_by_record (record=?)"],
    ),
    (
        "delete record",
        DELETE_RECORD,
        &["records USING PRIMARY KEY (id=?)"],
    ),
    (
        "delete tombstone",
        DELETE_TOMBSTONE,
        &["tombstones USING PRIMARY KEY (record=?)"],
    ),
    (
        "delete links of record",
        DELETE_LINKS_OF_RECORD,
        &["links USING COVERING INDEX links_by_record (tenant=? AND record=?)"],
    ),
    (
        "delete memberships of record",
        DELETE_MEMBERSHIPS_OF_RECORD,
        &["campaign_members USING COVERING INDEX campaign_members_by_record (tenant=? AND record=?)"],
    ),
    (
        "delete membership",
        DELETE_MEMBERSHIP,
        &["campaign_members USING PRIMARY KEY (tenant=? AND campaign=? AND record=?)"],
    ),
    (
        "update record",
        UPDATE_RECORD,
        &["records USING PRIMARY KEY (id=?)"],
    ),
    (
        "unlink",
        UNLINK,
        &["links USING PRIMARY KEY (tenant=? AND subject=?)"],
    ),
    (
        "move links",
        MOVE_LINKS,
        &["links USING COVERING INDEX links_by_record (tenant=? AND record=?)"],
    ),
    (
        "move memberships",
        MOVE_MEMBERSHIPS,
        &["campaign_members USING COVERING INDEX campaign_members_by_record (tenant=? AND record=?)"],
    ),
    (
        "members of campaign",
        MEMBERS_OF_CAMPAIGN,
        &["campaign_members USING PRIMARY KEY (tenant=? AND campaign=?)"],
    ),
    (
        "record exists in",
        RECORD_EXISTS_IN,
        &["records USING PRIMARY KEY (id=?)"],
    ),
    (
        "record exists",
        RECORD_EXISTS,
        &["records USING PRIMARY KEY (id=?)"],
    ),
];

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
fn exists_in(conn: &Connection, tenant: TenantId, id: RecordId) -> Result<bool, SqliteError> {
    Ok(conn
        .prepare_cached(RECORD_EXISTS_IN)?
        .query_row(params![blob(id.0), blob(tenant.0)], |_| Ok(()))
        .optional()?
        .is_some())
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

/// Records by email or alias key (B15), each once.
const IDS_BY_KEY: &str = "SELECT id FROM records WHERE tenant = ?1 AND email_key = ?2
     UNION SELECT record FROM record_aliases WHERE tenant = ?1 AND alias_key = ?2";
const IDS_BY_BLOCK: &str = "SELECT record FROM record_blocks WHERE tenant = ?1 AND block_key = ?2";
const IDS_BY_TICKET: &str = "SELECT id FROM records WHERE tenant = ?1 AND ticket = ?2";

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

impl ApplyPlan for SqliteStore {
    type Error = SqliteError;

    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<SqliteError>> {
        crate::telemetry::traced("sqlite", plan, || self.apply_plan(plan))
    }
}

impl SqliteStore {
    /// [`ApplyPlan::apply`], without the telemetry.
    fn apply_plan(&self, plan: &Plan) -> Result<(), ApplyError<SqliteError>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| ApplyError::Store(e.into()))?;
        apply_in(&tx, plan, &self.normalization, &self.blocking)?;
        tx.commit().map_err(|e| ApplyError::Store(e.into()))
        // On any error above, dropping `tx` rolls everything back.
    }
}

fn store_err(e: impl Into<SqliteError>) -> ApplyError<SqliteError> {
    ApplyError::Store(e.into())
}

fn apply_in(
    tx: &Connection,
    plan: &Plan,
    n: &Normalization,
    b: &Blocking,
) -> Result<(), ApplyError<SqliteError>> {
    let t = plan.tenant;
    for p in &plan.preconditions {
        let ids_now;
        let subjects;
        let members;
        let fields;
        let digest;
        let observed = match p.observe() {
            Observe::EmailKey(key) => {
                ids_now = ids(tx, IDS_BY_KEY, t, key.as_str()).map_err(store_err)?;
                Observed::Records(&ids_now)
            }
            Observe::TicketId(ticket) => {
                ids_now = ids(tx, IDS_BY_TICKET, t, ticket).map_err(store_err)?;
                Observed::Records(&ids_now)
            }
            Observe::BlockKey(key) => {
                ids_now = ids(tx, IDS_BY_BLOCK, t, key.as_str()).map_err(store_err)?;
                Observed::Records(&ids_now)
            }
            Observe::Version(record) => {
                Observed::Version(get(tx, t, record).map_err(store_err)?.map(|r| r.version))
            }
            Observe::Exists(record) => Observed::Exists(exists(tx, record).map_err(store_err)?),
            Observe::Event(event) => {
                digest = event_digest(tx, t, event).map_err(store_err)?;
                Observed::Event(digest.as_ref())
            }
            Observe::Fields(record) => {
                fields = get(tx, t, record).map_err(store_err)?.map(|r| r.fields);
                Observed::Fields(fields.as_ref())
            }
            Observe::Links(record) => {
                subjects = linked(tx, t, record).map_err(store_err)?;
                Observed::Subjects(&subjects)
            }
            Observe::SubjectLink(subject) => {
                let now: Option<Vec<u8>> = tx
                    .prepare_cached(LINK_OF_SUBJECT)
                    .and_then(|mut st| {
                        st.query_row(params![blob(t.0), blob(subject.0)], |r| r.get(0))
                            .optional()
                    })
                    .map_err(store_err)?;
                Observed::Link(now.as_deref().and_then(record_id))
            }
            Observe::Memberships(record) => {
                members = memberships(tx, t, record).map_err(store_err)?;
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
                if exists(tx, record.id).map_err(store_err)? {
                    return Err(Conflict::RecordExists(record.id).into());
                }
                if stored_version(record.version).is_none() {
                    return Err(ApplyError::VersionOverflow(record.id));
                }
                insert_record(tx, record, n, b).map_err(store_err)?;
                if matches!(e, Effect::RestoreRecord { .. }) {
                    tx.execute(DELETE_TOMBSTONE, params![blob(record.id.0)])
                        .map_err(store_err)?;
                }
            }
            Effect::DeleteRecord { record } => {
                if !exists_in(tx, t, *record).map_err(store_err)? {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                }
                let (tb, rb) = (blob(t.0), blob(record.0));
                delete_record(tx, *record)
                    .and_then(|_| tx.execute(DELETE_LINKS_OF_RECORD, params![tb, rb]))
                    .and_then(|_| tx.execute(DELETE_MEMBERSHIPS_OF_RECORD, params![tb, rb]))
                    .map_err(store_err)?;
            }
            Effect::RemoveCampaignMember { record, campaign } => {
                tx.execute(
                    DELETE_MEMBERSHIP,
                    params![blob(t.0), campaign.0, blob(record.0)],
                )
                .map_err(store_err)?;
            }
            Effect::UpdateRecord { record, changes } => {
                let Some(mut r) = get(tx, t, *record).map_err(store_err)? else {
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
                    .map_err(|_| store_err(SqliteError::Corrupt(r.id)))?;
                tx.prepare_cached(UPDATE_RECORD)
                    .and_then(|mut st| {
                        st.execute(params![
                            blob(r.id.0),
                            r.email_key(n).map(String::from),
                            ticket_of(&r),
                            fields,
                            version,
                        ])
                    })
                    .map_err(store_err)?;
                let rekeys = changes.iter().any(|c| {
                    matches!(
                        c.field.as_str(),
                        FieldName::EMAIL | FieldName::EMAIL_ALIASES
                    )
                });
                if rekeys {
                    write_aliases(tx, &r, n).map_err(store_err)?;
                }
                if !b.is_empty() {
                    write_blocks(tx, &r, n, b).map_err(store_err)?;
                }
            }
            Effect::Link { subject, record } => {
                if !exists_in(tx, t, *record).map_err(store_err)? {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                }
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO links (tenant, subject, record) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut st| st.execute(params![blob(t.0), blob(subject.0), blob(record.0)]))
                .map_err(store_err)?;
            }
            Effect::Unlink { subject, record } => {
                tx.prepare_cached(UNLINK)
                    .and_then(|mut st| {
                        st.execute(params![blob(t.0), blob(subject.0), blob(record.0)])
                    })
                    .map_err(store_err)?;
            }
            Effect::AddCampaignMember {
                record,
                campaign,
                ticket,
            } => {
                if !exists_in(tx, t, *record).map_err(store_err)? {
                    return Err(ApplyError::InvalidPlan("effect names an unknown record"));
                }
                // A ticket id given replaces the one held; none keeps it (A30).
                tx.prepare_cached(
                    "INSERT INTO campaign_members (tenant, campaign, record, ticket) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, campaign, record) DO UPDATE SET ticket = COALESCE(excluded.ticket, ticket)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        blob(t.0),
                        campaign.0,
                        blob(record.0),
                        ticket.as_ref().map(|v| v.as_str())
                    ])
                })
                .map_err(store_err)?;
            }
            Effect::MergeRecord { record, into } => {
                if record == into
                    || !exists_in(tx, t, *record).map_err(store_err)?
                    || !exists_in(tx, t, *into).map_err(store_err)?
                {
                    return Err(ApplyError::InvalidPlan(
                        "merge of unknown or identical records",
                    ));
                }
                let (tb, rb, ib) = (blob(t.0), blob(record.0), blob(into.0));
                let tomb = tombstone_of(tx, t, *record, *into).map_err(store_err)?;
                let data = serde_json::to_string(&tomb)
                    .map_err(|_| store_err(SqliteError::Corrupt(*record)))?;
                tx.execute(
                    "INSERT OR REPLACE INTO tombstones (record, tenant, data) VALUES (?1, ?2, ?3)",
                    params![rb, tb, data],
                )
                .map_err(store_err)?;
                delete_record(tx, *record)
                    .and_then(|_| tx.execute(MOVE_LINKS, params![tb, rb, ib]))
                    .and_then(|_| {
                        // The survivor's own ticket id stays; a missing one is taken over.
                        tx.execute(MOVE_MEMBERSHIPS, params![tb, rb, ib])
                    })
                    .and_then(|_| tx.execute(DELETE_MEMBERSHIPS_OF_RECORD, params![tb, rb]))
                    .map_err(store_err)?;
            }
            // The registration's data lives in the host (A20).
            Effect::UpdateSubject { .. } => {}
        }
    }
    for p in &plan.preconditions {
        if let Precondition::EventNew { event, digest } = p {
            tx.prepare_cached("INSERT INTO events (tenant, id, digest) VALUES (?1, ?2, ?3)")
                .and_then(|mut st| st.execute(params![blob(t.0), blob(event.0), blob(digest.0)]))
                .map_err(store_err)?;
        }
    }
    for h in plan.history() {
        tx.prepare_cached(
            "INSERT INTO field_history (tenant, record, field, old, new, event, rule, submitter)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut st| {
            st.execute(params![
                blob(t.0),
                blob(h.record.0),
                h.field.as_str(),
                h.old.as_ref().map(FieldValue::as_str),
                h.new.as_str(),
                h.event.map(|e| blob(e.0)),
                h.rule.as_str(),
                h.submitter.map(crate::event::Submitter::name),
            ])
        })
        .map_err(store_err)?;
    }
    Ok(())
}

/// What the store holds of `record` before merging it into `into` (B16).
fn tombstone_of(
    conn: &Connection,
    t: TenantId,
    record: RecordId,
    into: RecordId,
) -> Result<Tombstone, SqliteError> {
    let gone = get(conn, t, record)?.ok_or(SqliteError::Corrupt(record))?;
    let moved = memberships(conn, t, record)?;
    let into_memberships = memberships(conn, t, into)?
        .into_iter()
        .filter(|m| moved.iter().any(|c| c.campaign == m.campaign))
        .collect();
    Ok(Tombstone::new(
        gone,
        into,
        linked(conn, t, record)?,
        moved,
        into_memberships,
    ))
}

fn event_digest(
    conn: &Connection,
    tenant: TenantId,
    event: EventId,
) -> Result<Option<EventDigest>, SqliteError> {
    let b: Option<Vec<u8>> = conn
        .prepare_cached(EVENT_DIGEST)?
        .query_row(params![blob(tenant.0), blob(event.0)], |r| r.get(0))
        .optional()?;
    Ok(b.and_then(|b| uuid::Uuid::from_slice(&b).ok())
        .map(EventDigest))
}

#[cfg(test)]
mod tests {
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
}
