//! The PostgreSQL store's schema (its migrations) and every statement it runs,
//! by name.

use super::*;

pub(super) const MIGRATIONS: &[&str] = &[
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
pub(super) const MIGRATION_LOCK: i64 = 0x636f_6e74_6163_7473;

/// A record stored once: a second insert of its id changes nothing (the
/// caller reads the row count).
pub(super) const INSERT_RECORD: &str =
    "INSERT INTO records (id, tenant, record_type, email_key, ticket, fields, version)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING";

/// Records by email key or by alias key (B15), each once, by id: each
/// half through its own index, then united (an `OR` of the two is planned
/// as a walk of the tenant's records).
pub(super) const RECORDS_BY_KEY: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = $1 AND email_key = $2
     UNION SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_aliases a JOIN records r ON r.id = a.record
     WHERE a.tenant = $1 AND a.alias_key = $2 AND r.tenant = $1
     ORDER BY id"
);
/// Records by email key, for many keys, with the key.
pub(super) const RECORDS_BY_EMAIL_KEYS: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", email_key FROM records WHERE tenant = $1 AND email_key = ANY($2)"
);
/// The records with one of many alias keys (B15), by id, with the key
/// (the records themselves are read by id: a join costs more to plan than
/// the rare alias costs to read).
pub(super) const ALIAS_RECORDS: &str =
    "SELECT alias_key, record FROM record_aliases WHERE tenant = $1 AND alias_key = ANY($2)";
/// Records by ticket id (A28), by id.
pub(super) const RECORDS_BY_TICKET: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = $1 AND ticket = $2 ORDER BY id"
);
/// Records by ticket id, for many tickets, with the ticket, by id.
pub(super) const RECORDS_BY_TICKETS: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", ticket FROM records WHERE tenant = $1 AND ticket = ANY($2) ORDER BY id"
);
/// Records by blocking key (B19), by id.
pub(super) const RECORDS_BY_BLOCK: &str =
    "SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_blocks b JOIN records r ON r.id = b.record
     WHERE b.tenant = $1 AND b.block_key = $2 AND r.tenant = $1
     ORDER BY r.id";
/// Records by blocking key, for many keys, with the key, by id.
pub(super) const RECORDS_BY_BLOCKS: &str =
    "SELECT r.id, r.tenant, r.record_type, r.fields, r.version, b.block_key
     FROM record_blocks b JOIN records r ON r.id = b.record
     WHERE b.tenant = $1 AND b.block_key = ANY($2) AND r.tenant = $1
     ORDER BY r.id";
/// Records by id, for many ids.
pub(super) const RECORDS_BY_IDS: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = $1 AND id = ANY($2)"
);
/// One record by id, in its tenant.
pub(super) const RECORD_BY_ID: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = $1 AND tenant = $2"
);
/// One record by id, in its tenant, locked for the transaction.
pub(super) const RECORD_FOR_UPDATE: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = $1 AND tenant = $2 FOR UPDATE"
);
/// Applied events' digests (B7), for many ids.
pub(super) const DIGESTS_BY_IDS: &str =
    "SELECT id, digest FROM events WHERE tenant = $1 AND id = ANY($2)";
/// An applied event's digest (B7).
pub(super) const EVENT_DIGEST: &str = "SELECT digest FROM events WHERE tenant = $1 AND id = $2";
/// A subject's link.
pub(super) const LINK_OF_SUBJECT: &str =
    "SELECT record FROM links WHERE tenant = $1 AND subject = $2";
/// A page of a tenant's links after a subject (`NULL`: from the start).
pub(super) const LINKS_PAGE: &str = "SELECT subject, record FROM links
     WHERE tenant = $1 AND ($2::uuid IS NULL OR subject > $2) ORDER BY subject LIMIT $3";
/// The subjects linked to a record, sorted.
pub(super) const SUBJECTS_BY_RECORD: &str =
    "SELECT subject FROM links WHERE tenant = $1 AND record = $2 ORDER BY subject";
/// A record's campaign memberships, by campaign.
pub(super) const MEMBERSHIPS_BY_RECORD: &str =
    "SELECT campaign, ticket FROM campaign_members WHERE tenant = $1 AND record = $2 ORDER BY campaign";
/// A record's field history (B17), oldest first.
pub(super) const HISTORY_BY_RECORD: &str =
    "SELECT field, old, new, event, rule, submitter FROM field_history
     WHERE tenant = $1 AND record = $2 ORDER BY seq";
/// A merged record's tombstone (B16).
pub(super) const TOMBSTONE_OF: &str =
    "SELECT data FROM tombstones WHERE tenant = $1 AND record = $2";
/// A record, deleted (`$1` its tenant, `$2` its id).
pub(super) const DELETE_RECORD: &str = "DELETE FROM records WHERE id = $2 AND tenant = $1";
/// A record's alias index entries (B15), dropped (by record id: ids are
/// global).
pub(super) const DELETE_ALIASES_OF_RECORD: &str = "DELETE FROM record_aliases WHERE record = $1";
/// A record's block index entries (B19), dropped (by record id).
pub(super) const DELETE_BLOCKS_OF_RECORD: &str = "DELETE FROM record_blocks WHERE record = $1";
/// A restored record's tombstone (B16), dropped.
pub(super) const DELETE_TOMBSTONE: &str = "DELETE FROM tombstones WHERE record = $1";
/// The links to a deleted record, dropped.
pub(super) const DELETE_LINKS_OF_RECORD: &str =
    "DELETE FROM links WHERE tenant = $1 AND record = $2";
/// A deleted or merged record's memberships, dropped.
pub(super) const DELETE_MEMBERSHIPS_OF_RECORD: &str =
    "DELETE FROM campaign_members WHERE tenant = $1 AND record = $2";
/// One campaign membership, removed.
pub(super) const DELETE_MEMBERSHIP: &str =
    "DELETE FROM campaign_members WHERE tenant = $1 AND campaign = $2 AND record = $3";
/// A record's fields, keys and version, written.
pub(super) const UPDATE_RECORD: &str =
    "UPDATE records SET email_key = $2, ticket = $3, fields = $4, version = $5 WHERE id = $1";
/// A subject's link to one record, dropped.
pub(super) const UNLINK: &str =
    "DELETE FROM links WHERE tenant = $1 AND subject = $2 AND record = $3";
/// A merged record's links, moved to the survivor (B9).
pub(super) const MOVE_LINKS: &str =
    "UPDATE links SET record = $3 WHERE tenant = $1 AND record = $2";
/// A merged record's memberships, taken over by the survivor: its own
/// ticket id stays, a missing one is taken over (B9).
pub(super) const MOVE_MEMBERSHIPS: &str =
    "INSERT INTO campaign_members (tenant, campaign, record, ticket)
     SELECT tenant, campaign, $3, ticket FROM campaign_members WHERE tenant = $1 AND record = $2
     ON CONFLICT (tenant, campaign, record)
     DO UPDATE SET ticket = COALESCE(campaign_members.ticket, excluded.ticket)";

// The apply's statements over arrays (one per kind of read or write).

/// The tenant's lock, shared: every apply holds it (an import waits for
/// them, and they for it).
pub(super) const LOCK_TENANT_SHARED: &str = "SELECT pg_advisory_xact_lock_shared($1)";
/// The tenant's lock, shared, then advisory locks on keys in sorted order,
/// in one statement (the target list is evaluated left to right).
pub(super) const LOCK_TENANT_SHARED_AND_KEYS: &str = "SELECT pg_advisory_xact_lock_shared($1),
     (SELECT count(*) FROM (SELECT pg_advisory_xact_lock(k) FROM unnest($2::bigint[]) AS k ORDER BY k) l)";
/// The tenant's lock, alone: an import's one lock.
pub(super) const LOCK_TENANT: &str = "SELECT pg_advisory_xact_lock($1)";
/// Advisory locks on keys, in sorted order (two applies never wait on each
/// other in a cycle).
pub(super) const LOCK_KEYS: &str =
    "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k";
/// Record ids by email key, for many keys, with the key (with
/// [`ALIAS_RECORDS`]: by email or alias key, B15).
pub(super) const IDS_BY_EMAIL_KEYS: &str =
    "SELECT email_key, id FROM records WHERE tenant = $1 AND email_key = ANY($2)";
/// Record ids by ticket id, for many tickets, with the ticket.
pub(super) const IDS_BY_TICKETS: &str =
    "SELECT ticket, id FROM records WHERE tenant = $1 AND ticket = ANY($2)";
/// Record ids by blocking key, for many keys, with the key.
pub(super) const IDS_BY_BLOCKS: &str =
    "SELECT block_key, record FROM record_blocks WHERE tenant = $1 AND block_key = ANY($2)";
/// Records by id in any tenant, locked for the transaction in id order.
pub(super) const RECORDS_FOR_UPDATE: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = ANY($1) ORDER BY id FOR UPDATE"
);
/// The subjects linked to many records, with the record.
pub(super) const SUBJECTS_BY_RECORDS: &str =
    "SELECT record, subject FROM links WHERE tenant = $1 AND record = ANY($2)";
/// The links of many subjects.
pub(super) const LINKS_OF_SUBJECTS: &str =
    "SELECT subject, record FROM links WHERE tenant = $1 AND subject = ANY($2)";
/// The campaign memberships of many records, by record and campaign (the
/// server's order of campaigns, as [`MEMBERSHIPS_BY_RECORD`] reads them).
pub(super) const MEMBERSHIPS_BY_RECORDS: &str =
    "SELECT record, campaign, ticket FROM campaign_members WHERE tenant = $1 AND record = ANY($2)
     ORDER BY record, campaign";
/// Records created (`$2` their tenant). An id taken fails the statement
/// (and the transaction).
pub(super) const INSERT_RECORDS: &str =
    "INSERT INTO records (id, tenant, record_type, email_key, ticket, fields, version)
     SELECT u.id, $2, u.ty, u.k, u.t, u.f, u.v
     FROM unnest($1::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
          AS u(id, ty, k, t, f, v)";
/// Records' fields, keys and versions, written.
pub(super) const UPDATE_RECORDS: &str =
    "UPDATE records r SET email_key = u.k, ticket = u.t, fields = u.f, version = u.v
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(id, k, t, f, v)
     WHERE r.id = u.id";
/// Many records' alias index entries (B15), dropped.
pub(super) const DELETE_ALIASES_OF_RECORDS: &str =
    "DELETE FROM record_aliases WHERE record = ANY($1)";
/// Alias index entries (B15): `$2` the keys, `$3` their records.
pub(super) const INSERT_ALIASES: &str = "INSERT INTO record_aliases (tenant, alias_key, record)
     SELECT $1, u.k, u.r FROM unnest($2::text[], $3::uuid[]) AS u(k, r) ON CONFLICT DO NOTHING";
/// Many records' block index entries (B19), dropped.
pub(super) const DELETE_BLOCKS_OF_RECORDS: &str =
    "DELETE FROM record_blocks WHERE record = ANY($1)";
/// Block index entries (B19): `$2` the keys, `$3` their records.
pub(super) const INSERT_BLOCKS: &str = "INSERT INTO record_blocks (tenant, block_key, record)
     SELECT $1, u.k, u.r FROM unnest($2::text[], $3::uuid[]) AS u(k, r) ON CONFLICT DO NOTHING";
/// Subjects linked (each once per statement): `$2` the subjects, `$3` their records.
pub(super) const UPSERT_LINKS: &str = "INSERT INTO links (tenant, subject, record)
     SELECT $1, u.s, u.r FROM unnest($2::uuid[], $3::uuid[]) AS u(s, r)
     ON CONFLICT (tenant, subject) DO UPDATE SET record = excluded.record";
/// Campaign members (each once per statement); a ticket id given replaces
/// the one held.
pub(super) const UPSERT_MEMBERS: &str =
    "INSERT INTO campaign_members (tenant, campaign, record, ticket)
     SELECT $1, u.c, u.r, u.t FROM unnest($2::text[], $3::uuid[], $4::text[]) AS u(c, r, t)
     ON CONFLICT (tenant, campaign, record)
     DO UPDATE SET ticket = COALESCE(excluded.ticket, campaign_members.ticket)";
/// Applied events (B7), numbered in the order given. An event applied
/// already fails the statement.
pub(super) const INSERT_EVENTS: &str = "INSERT INTO events (tenant, id, digest)
     SELECT $1, u.e, u.d FROM unnest($2::uuid[], $3::uuid[]) WITH ORDINALITY AS u(e, d, i) ORDER BY u.i";
/// Field history (B17), numbered in the order given.
pub(super) const INSERT_HISTORY: &str =
    "INSERT INTO field_history (tenant, record, field, old, new, event, rule, submitter)
     SELECT $1, u.r, u.f, u.o, u.n, u.e, u.ru, u.s
     FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[])
          WITH ORDINALITY AS u(r, f, o, n, e, ru, s, i) ORDER BY u.i";
