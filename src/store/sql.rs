//! What the two SQL stores share: how a record's type, ticket id and
//! version are stored, and the columns a record is read from. Each store
//! keeps its own statements (the placeholders differ) and its own reads.

use crate::fields::FieldName;
use crate::record::{Record, RecordType};

/// The columns a record is read from, in the order both stores' readers
/// take them (a macro, so statements can `concat!` it).
macro_rules! record_columns {
    () => {
        "id, tenant, record_type, fields, version"
    };
}
pub(crate) use record_columns;

/// [`record_columns!`] as a constant.
pub(crate) const RECORD_COLUMNS: &str = record_columns!();

/// A record type as stored in the `record_type` column.
pub(crate) fn type_name(t: RecordType) -> &'static str {
    match t {
        RecordType::Contact => "contact",
        RecordType::Lead => "lead",
    }
}

/// The record type a `record_type` column holds (`None`: not one of ours,
/// the row is corrupt).
pub(crate) fn type_from_name(name: &str) -> Option<RecordType> {
    match name {
        "contact" => Some(RecordType::Contact),
        "lead" => Some(RecordType::Lead),
        _ => None,
    }
}

/// The record's ticket id as indexed (trimmed; `None` when blank), as
/// [`crate::ContactStore::records_by_ticket`] matches it.
pub(crate) fn ticket_of(r: &Record) -> Option<String> {
    let t = r.fields.text(FieldName::TICKET_ID).trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A version as both databases store it (a signed 64-bit integer). Larger
/// versions are refused, never clamped: a clamped version would stop
/// changing, and a stale plan would apply (B6).
/// The largest version a SQL store holds (versions are `BIGINT`).
pub(crate) const MAX_VERSION: u64 = i64::MAX as u64;

pub(crate) fn stored_version(version: u64) -> Option<i64> {
    i64::try_from(version).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Fields;
    use crate::record::{RecordId, TenantId};

    #[test]
    fn a28_b6_types_tickets_and_versions_round_trip_as_stored() {
        for t in [RecordType::Contact, RecordType::Lead] {
            assert_eq!(type_from_name(type_name(t)), Some(t));
        }
        assert_eq!(type_from_name("Contact"), None);
        let r = |ticket: &str| {
            Record::new(
                RecordId::from_u128(1),
                TenantId::from_u128(1),
                RecordType::Contact,
                Fields::from_pairs([(FieldName::TICKET_ID, ticket)]),
            )
        };
        assert_eq!(ticket_of(&r(" T-1 ")).as_deref(), Some("T-1"));
        assert_eq!(ticket_of(&r("  ")), None);
        assert_eq!(stored_version(i64::MAX as u64), Some(i64::MAX));
        assert_eq!(stored_version(i64::MAX as u64 + 1), None);
    }
}
