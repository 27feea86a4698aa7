//! Applying a plan on SQLite: the preconditions read through the one check, and
//! each effect's writes, in one immediate transaction.

use super::*;

impl ApplyPlan for SqliteStore {
    type Error = SqliteError;

    fn classify(&self, error: &SqliteError) -> crate::ErrorClass {
        error.class()
    }

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

pub(super) fn store_err(e: impl Into<SqliteError>) -> ApplyError<SqliteError> {
    ApplyError::Store(e.into())
}

pub(super) fn apply_in(
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
    // Every effect names a record the tenant holds (or that the plan
    // creates first): checked before anything is written.
    plan.check_effects(MAX_VERSION, |id| held(tx, id))?;
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                insert_record(tx, record, n, b).map_err(store_err)?;
                if matches!(e, Effect::RestoreRecord { .. }) {
                    tx.execute(DELETE_TOMBSTONE, params![blob(record.id.0)])
                        .map_err(store_err)?;
                }
            }
            Effect::DeleteRecord { record } => {
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
pub(super) fn tombstone_of(
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

pub(super) fn event_digest(
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
