//! Bulk writes by `COPY … FROM STDIN (FORMAT binary)`: seeding a store
//! ([`PostgresStore::insert_many`]) and an import's inserts.

use std::pin::pin;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::*;

/// Copies `rows` into the table `sql` names (`COPY t (cols) FROM STDIN
/// (FORMAT binary)`), each row's values as `values` gives them, in the
/// column types `types`. Returns the rows written.
pub(super) async fn copy_in<'r, R: 'r>(
    c: &tokio_postgres::Client,
    sql: &str,
    types: &[Type],
    rows: impl IntoIterator<Item = &'r R>,
    values: impl Fn(&'r R) -> Vec<&'r (dyn ToSql + Sync)>,
) -> Result<u64, tokio_postgres::Error> {
    let sink = c.copy_in(sql).await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, types));
    for r in rows {
        writer.as_mut().write(&values(r)).await?;
    }
    writer.as_mut().finish().await
}

/// A record as its row in `records`.
pub(super) struct RecordRow {
    pub(super) id: Uuid,
    pub(super) tenant: Uuid,
    pub(super) record_type: &'static str,
    pub(super) email_key: Option<String>,
    pub(super) ticket: Option<String>,
    pub(super) fields: String,
    pub(super) version: i64,
}

impl RecordRow {
    pub(super) fn of(r: &Record, n: &Normalization) -> Result<Self, PostgresError> {
        Ok(RecordRow {
            id: r.id.0,
            tenant: r.tenant.0,
            record_type: type_name(r.record_type),
            email_key: r.email_key(n).map(String::from),
            ticket: ticket_of(r),
            fields: serde_json::to_string(&r.fields).map_err(|_| PostgresError::Corrupt(r.id))?,
            version: stored_version(r.version).ok_or(PostgresError::VersionOutOfRange(r.id))?,
        })
    }
}

/// An index row (`record_aliases`, `record_blocks`): tenant, key, record.
pub(super) type KeyRow = (Uuid, String, Uuid);

/// Copies records and their alias and block index rows.
pub(super) async fn copy_records(
    c: &tokio_postgres::Client,
    records: &[RecordRow],
    aliases: &[KeyRow],
    blocks: &[KeyRow],
) -> Result<(), tokio_postgres::Error> {
    copy_in(
        c,
        "COPY records (id, tenant, record_type, email_key, ticket, fields, version)
         FROM STDIN (FORMAT binary)",
        &[
            Type::UUID,
            Type::UUID,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
        ],
        records,
        |r| {
            vec![
                &r.id,
                &r.tenant,
                &r.record_type,
                &r.email_key,
                &r.ticket,
                &r.fields,
                &r.version,
            ]
        },
    )
    .await?;
    for (table, rows) in [
        ("record_aliases (tenant, alias_key, record)", aliases),
        ("record_blocks (tenant, block_key, record)", blocks),
    ] {
        if rows.is_empty() {
            continue;
        }
        copy_in(
            c,
            &format!("COPY {table} FROM STDIN (FORMAT binary)"),
            &[Type::UUID, Type::TEXT, Type::UUID],
            rows,
            |(t, k, r)| vec![t, k, r],
        )
        .await?;
    }
    Ok(())
}

/// The record id a unique violation on `records` names, if it names one.
pub(super) fn taken_id(e: &tokio_postgres::Error) -> Option<RecordId> {
    let db = e.as_db_error()?;
    if *db.code() != SqlState::UNIQUE_VIOLATION || db.constraint() != Some("records_pkey") {
        return None;
    }
    let inside = db.detail()?.split_once(")=(")?.1.split_once(')')?.0;
    inside.parse::<Uuid>().ok().map(RecordId::new)
}

impl PostgresStore {
    /// Adds existing records (seeding the store) by `COPY`, all or none, in
    /// one transaction: about as fast as the server takes rows.
    ///
    /// # Errors
    /// [`PostgresError::Exists`] when a record's id is taken (or appears
    /// twice), [`PostgresError::VersionOutOfRange`] for a version above
    /// `i64::MAX`, or the database's error. Nothing is added then.
    pub async fn insert_many(&self, records: &[Record]) -> Result<(), PostgresError> {
        let n = &self.normalization;
        let rows = records
            .iter()
            .map(|r| RecordRow::of(r, n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut aliases: Vec<KeyRow> = Vec::new();
        let mut blocks: Vec<KeyRow> = Vec::new();
        for r in records {
            for k in r.alias_keys(n) {
                aliases.push((r.tenant.0, k.to_string(), r.id.0));
            }
            for k in self.blocking.keys(&r.fields, n) {
                blocks.push((r.tenant.0, k.as_str().to_owned(), r.id.0));
            }
        }
        aliases.sort();
        aliases.dedup();
        blocks.sort();
        blocks.dedup();
        let open = Open {
            client: Some(self.pool.get().await?),
        };
        let Some(c) = open.client.as_deref() else {
            return Ok(());
        };
        let copied = async {
            c.batch_execute("BEGIN").await?;
            copy_records(c, &rows, &aliases, &blocks).await
        }
        .await;
        if let Err(e) = copied {
            open.rollback().await;
            return Err(match taken_id(&e) {
                Some(id) => PostgresError::Exists(id),
                None => PostgresError::Postgres(e),
            });
        }
        if let Err(e) = c.batch_execute("COMMIT").await {
            let lost = connection_lost(&e);
            open.rollback().await;
            return Err(if lost {
                PostgresError::CommitUnknown(e)
            } else {
                PostgresError::Postgres(e)
            });
        }
        open.finish();
        Ok(())
    }
}
