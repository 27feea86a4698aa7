//! Applying a plan on PostgreSQL: the advisory locks, the preconditions read
//! through the one check, and each effect's writes, in one transaction.

use super::*;

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
pub(super) fn lock_number(tenant: TenantId, kind: u8, value: &str) -> i64 {
    let mut bytes = Vec::with_capacity(17 + value.len());
    bytes.extend_from_slice(tenant.0.as_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(value.as_bytes());
    i64::from_ne_bytes(xxhash_rust::xxh3::xxh3_64(&bytes).to_ne_bytes())
}

/// Locks every email key, ticket id and event `plan` checks or writes, in sorted
/// order, until the transaction ends: the preconditions read after this
/// cannot change before the commit.
pub(super) async fn lock_keys(
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

pub(super) async fn ids(
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
pub(super) async fn ids_by_key(
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
pub(super) async fn write_blocks(
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
pub(super) async fn write_aliases(
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

pub(super) async fn get(
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

pub(super) async fn exists(
    tx: &Transaction<'_>,
    id: RecordId,
) -> Result<bool, ApplyError<PostgresError>> {
    Ok(tx
        .query_opt(RECORD_EXISTS, &[&id.0])
        .await
        .map_err(store_err)?
        .is_some())
}

/// What the store holds of each record the plan's effects name, in one
/// query: [`Plan::check_effects`]' lookups.
async fn held(
    tx: &Transaction<'_>,
    plan: &Plan,
) -> Result<HashMap<RecordId, Held>, ApplyError<PostgresError>> {
    let ids: Vec<uuid::Uuid> = plan.named_records().iter().map(|r| r.0).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx.query(RECORDS_HELD, &[&ids]).await.map_err(store_err)?;
    rows.iter()
        .map(|row| {
            let id = RecordId::new(row.get(0));
            let version = u64::try_from(row.get::<_, i64>(2))
                .map_err(|_| ApplyError::Store(PostgresError::Corrupt(id)))?;
            let tenant = TenantId::new(row.get(1));
            Ok((id, Held { tenant, version }))
        })
        .collect()
}

pub(super) async fn apply_in(
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
    // Every effect names a record the tenant holds (or that the plan
    // creates first), read in one query after the locks are held: a plan
    // that deletes or merges a named record holds its lock too, so what is
    // read stays true until this plan commits.
    let before = held(tx, plan).await?;
    plan.check_effects(MAX_VERSION, |id| {
        Ok::<_, PostgresError>(before.get(&id).copied())
    })?;
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                let version =
                    stored_version(record.version).ok_or(ApplyError::VersionOverflow(record.id))?;
                let fields = serde_json::to_string(&record.fields)
                    .map_err(|_| ApplyError::Store(PostgresError::Corrupt(record.id)))?;
                let inserted = tx
                    .execute(
                        INSERT_RECORD,
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
