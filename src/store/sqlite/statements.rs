//! Every statement the SQLite store runs, by name, and the index each lookup
//! must search by.

use super::*;

/// Records by email key or by alias key (B15), each once, by id: each
/// half through its own index (`records_by_key`, `record_aliases`'s key),
/// then united. An `OR` of the two kept SQLite on the tenant prefix of
/// `records_by_ticket`, walking every record of the tenant.
pub(super) const RECORDS_BY_KEY: &str = concat!(
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
pub(super) const RECORDS_BY_BLOCK: &str =
    "SELECT r.id, r.tenant, r.record_type, r.fields, r.version
     FROM record_blocks b CROSS JOIN records r ON r.id = b.record
     WHERE b.tenant = ?1 AND b.block_key = ?2 AND r.tenant = ?1
     ORDER BY r.id";
/// Records by ticket id (A28), by id.
pub(super) const RECORDS_BY_TICKET: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE tenant = ?1 AND ticket = ?2 ORDER BY id"
);
/// One record by id, in its tenant.
pub(super) const RECORD_BY_ID: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE id = ?1 AND tenant = ?2"
);
/// The subjects linked to a record, sorted.
pub(super) const SUBJECTS_BY_RECORD: &str =
    "SELECT subject FROM links WHERE tenant = ?1 AND record = ?2 ORDER BY subject";
/// A subject's link.
pub(super) const LINK_OF_SUBJECT: &str =
    "SELECT record FROM links WHERE tenant = ?1 AND subject = ?2";
/// A record's campaign memberships, by campaign (covered by
/// `campaign_members_by_record`, schema 7).
pub(super) const MEMBERSHIPS_BY_RECORD: &str =
    "SELECT campaign, ticket FROM campaign_members WHERE tenant = ?1 AND record = ?2 ORDER BY campaign";
/// An applied event's digest (B7).
pub(super) const EVENT_DIGEST: &str = "SELECT digest FROM events WHERE tenant = ?1 AND id = ?2";
/// A record's field history (B17), oldest first.
pub(super) const HISTORY_BY_RECORD: &str =
    "SELECT field, old, new, event, rule, submitter FROM field_history
     WHERE tenant = ?1 AND record = ?2 ORDER BY seq";
/// A merged record's tombstone (B16).
pub(super) const TOMBSTONE_OF: &str =
    "SELECT data FROM tombstones WHERE tenant = ?1 AND record = ?2";

/// A record's block index entries (B19), dropped.
pub(super) const DELETE_BLOCKS_OF_RECORD: &str = "DELETE FROM record_blocks WHERE record = ?1";
/// A record's alias index entries (B15), dropped.
pub(super) const DELETE_ALIASES_OF_RECORD: &str = "DELETE FROM record_aliases WHERE record = ?1";
/// A record, deleted by id.
pub(super) const DELETE_RECORD: &str = "DELETE FROM records WHERE id = ?1";
/// A restored record's tombstone (B16), dropped.
pub(super) const DELETE_TOMBSTONE: &str = "DELETE FROM tombstones WHERE record = ?1";
/// The links to a deleted record, dropped.
pub(super) const DELETE_LINKS_OF_RECORD: &str =
    "DELETE FROM links WHERE tenant = ?1 AND record = ?2";
/// A deleted or merged record's memberships, dropped.
pub(super) const DELETE_MEMBERSHIPS_OF_RECORD: &str =
    "DELETE FROM campaign_members WHERE tenant = ?1 AND record = ?2";
/// One campaign membership, removed.
pub(super) const DELETE_MEMBERSHIP: &str =
    "DELETE FROM campaign_members WHERE tenant = ?1 AND campaign = ?2 AND record = ?3";
/// A record's fields, keys and version, written.
pub(super) const UPDATE_RECORD: &str =
    "UPDATE records SET email_key = ?2, ticket = ?3, fields = ?4, version = ?5 WHERE id = ?1";
/// A subject's link to one record, dropped.
pub(super) const UNLINK: &str =
    "DELETE FROM links WHERE tenant = ?1 AND subject = ?2 AND record = ?3";
/// A merged record's links, moved to the survivor (B9).
pub(super) const MOVE_LINKS: &str =
    "UPDATE links SET record = ?3 WHERE tenant = ?1 AND record = ?2";
/// A merged record's memberships, taken over by the survivor: its own
/// ticket id stays, a missing one is taken over (B9).
pub(super) const MOVE_MEMBERSHIPS: &str = "INSERT INTO campaign_members (tenant, campaign, record, ticket)
     SELECT tenant, campaign, ?3, ticket FROM campaign_members WHERE tenant = ?1 AND record = ?2
     ON CONFLICT (tenant, campaign, record) DO UPDATE SET ticket = COALESCE(ticket, excluded.ticket)";
/// A campaign's members, by record.
pub(super) const MEMBERS_OF_CAMPAIGN: &str =
    "SELECT record FROM campaign_members WHERE tenant = ?1 AND campaign = ?2 ORDER BY record";
/// The tenant and version of a record (any tenant).
pub(super) const RECORD_HELD: &str = "SELECT tenant, version FROM records WHERE id = ?1";
/// Whether a record exists in any tenant.
pub(super) const RECORD_EXISTS: &str = "SELECT 1 FROM records WHERE id = ?1";

/// Every lookup and write the store runs per key or id, by name, with the index
/// each table in it must be searched by (the tests check each with
/// `EXPLAIN QUERY PLAN`: a lookup that walks a table, or a tenant, shows
/// up there before it shows up in a profile).
#[cfg(test)]
pub(super) const LOOKUPS: &[(&str, &str, &[&str])] = &[
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
        "record held",
        RECORD_HELD,
        &["records USING PRIMARY KEY (id=?)"],
    ),
    (
        "record exists",
        RECORD_EXISTS,
        &["records USING PRIMARY KEY (id=?)"],
    ),
];

/// Records by email or alias key (B15), each once.
pub(super) const IDS_BY_KEY: &str = "SELECT id FROM records WHERE tenant = ?1 AND email_key = ?2
     UNION SELECT record FROM record_aliases WHERE tenant = ?1 AND alias_key = ?2";
pub(super) const IDS_BY_BLOCK: &str =
    "SELECT record FROM record_blocks WHERE tenant = ?1 AND block_key = ?2";
pub(super) const IDS_BY_TICKET: &str = "SELECT id FROM records WHERE tenant = ?1 AND ticket = ?2";
