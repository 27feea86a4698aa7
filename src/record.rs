//! Records (contact-center entries), their ids, types and tenants.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::email::{Email, EmailError, EmailKey, Normalization};
use crate::fields::{FieldName, Fields};

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn new(id: Uuid) -> Self {
                $name(id)
            }
            /// An id from a 128-bit number (handy in tests and examples).
            pub const fn from_u128(n: u128) -> Self {
                $name(Uuid::from_u128(n))
            }
            /// The UUID.
            pub const fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }
    };
}

uuid_newtype!(
    /// An organization (doo) or connected org (Salesforce). Nothing crosses tenants (B8).
    TenantId
);
uuid_newtype!(
    /// A record's id.
    ///
    /// Ids are global: one id names at most one record in a whole store,
    /// whatever its tenant. Creating a record under an id that another
    /// tenant's record holds fails with [`crate::Conflict::RecordExists`],
    /// as does a [`crate::Precondition::RecordAbsent`] for it; every
    /// bundled store behaves so, and `testkit::record_ids_are_global`
    /// checks a host's store. Reads stay tenant-scoped (B8): another
    /// tenant's record is never returned, updated or linked. Ids the engine
    /// derives include the tenant, so they never meet another tenant's.
    RecordId
);
uuid_newtype!(
    /// A subject's id (a booking's booker, an attendee, a ticket holder), stable across edits.
    SubjectId
);
uuid_newtype!(
    /// An event's id (a registration, an edit, …), stable across redeliveries (B7).
    EventId
);

/// The kind of record (A1). doo has one kind, which the doo preset calls `Contact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// A contact (doo contact, Salesforce Contact).
    Contact,
    /// A Salesforce Lead.
    Lead,
}

impl RecordType {
    /// Lowercase name used in explanations.
    pub fn noun(self) -> &'static str {
        match self {
            RecordType::Contact => "contact",
            RecordType::Lead => "lead",
        }
    }
}

/// A contact-center entry.
///
/// The record's email is its `email` field; stores index it by its
/// [`EmailKey`]. `version` increases by one with every applied change and is
/// what plans check before they update a record (B6).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The record's id.
    pub id: RecordId,
    /// The tenant that owns it.
    pub tenant: TenantId,
    /// Contact or Lead.
    pub record_type: RecordType,
    /// Field values.
    pub fields: Fields,
    /// Version, starting at 1 for a new record.
    pub version: u64,
}

impl fmt::Debug for Record {
    // Field values are personal data: Debug prints ids and field names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("record_type", &self.record_type)
            .field("fields", &self.fields)
            .field("version", &self.version)
            .finish()
    }
}

impl Record {
    /// A new record at version 1.
    pub fn new(id: RecordId, tenant: TenantId, record_type: RecordType, fields: Fields) -> Self {
        Record {
            id,
            tenant,
            record_type,
            fields,
            version: 1,
        }
    }

    /// The record's email, parsed. `Ok(None)` when it has none.
    ///
    /// # Errors
    /// An [`EmailError`] when the record's email field is not a valid address.
    pub fn email(&self) -> Result<Option<Email>, EmailError> {
        Email::parse(self.fields.text(FieldName::EMAIL))
    }

    /// The record's match key under `normalization`. A record whose stored
    /// email does not parse has no key: no subject can match it by email.
    pub fn email_key(&self, normalization: &Normalization) -> Option<EmailKey> {
        EmailKey::parse(self.fields.text(FieldName::EMAIL), normalization)
            .ok()
            .flatten()
    }

    /// The record's aliases (B15): its earlier addresses, as stored in
    /// [`FieldName::EMAIL_ALIASES`], oldest first.
    pub fn aliases(&self) -> impl Iterator<Item = &str> + '_ {
        alias_list(self.fields.text(FieldName::EMAIL_ALIASES))
    }

    /// The match keys of the record's aliases under `normalization` (B15),
    /// sorted, without duplicates and without the key of its email. An
    /// alias that does not parse has no key. Stores index a record under
    /// its [`Record::email_key`] and each of these.
    pub fn alias_keys(&self, normalization: &Normalization) -> Vec<EmailKey> {
        if self.fields.is_empty_at(FieldName::EMAIL_ALIASES) {
            return Vec::new();
        }
        let own = self.email_key(normalization);
        let mut keys: Vec<EmailKey> = self
            .aliases()
            .filter_map(|a| EmailKey::parse(a, normalization).ok().flatten())
            .filter(|k| Some(k) != own.as_ref())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Every key the record is found under (B1, B15): its email's, then
    /// its aliases' ([`Record::alias_keys`]).
    pub fn match_keys(&self, normalization: &Normalization) -> Vec<EmailKey> {
        let mut keys: Vec<EmailKey> = self.email_key(normalization).into_iter().collect();
        keys.extend(self.alias_keys(normalization));
        keys
    }
}

/// The addresses of an [`FieldName::EMAIL_ALIASES`] value (B15): separated
/// by commas, trimmed, blanks skipped.
pub(crate) fn alias_list(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.split(',').map(str::trim).filter(|a| !a.is_empty())
}

/// A campaign (A5), in the host's own id format.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct CampaignId(pub String);

impl fmt::Debug for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CampaignId({:?})", self.0)
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One record's membership in a campaign (A5), with the ticket id mapped on
/// it (A30). `Debug` shows the ticket id's size only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CampaignMember {
    /// The campaign.
    pub campaign: CampaignId,
    /// The member.
    pub record: RecordId,
    /// The ticket id mapped on the membership, if any.
    pub ticket: Option<crate::fields::FieldValue>,
}
