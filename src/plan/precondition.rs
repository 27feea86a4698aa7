//! Preconditions: the facts a plan was decided on, and the one check of
//! each against what a store holds now (B6).
//!
//! A store reads what [`Precondition::observe`] names, in the plan's tenant
//! and inside the transaction that applies the plan, and hands the value to
//! [`Precondition::check`]; the comparison and the conflict it reports are
//! written here once, for every bundled store, the undo model and host
//! stores alike.

use serde::{Deserialize, Serialize};

use crate::email::EmailKey;
use crate::error::Conflict;
use crate::event::EventDigest;
use crate::fields::{FieldValue, Fields};
use crate::linkage::BlockKey;
use crate::record::{CampaignMember, EventId, RecordId, SubjectId};

/// A fact the plan was decided on; applying checks it first (B6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Precondition {
    /// Exactly these records (any type) had this email key.
    EmailKey {
        /// The key.
        key: EmailKey,
        /// The records, sorted.
        records: Vec<RecordId>,
    },
    /// The record exists at this version.
    RecordVersion {
        /// The record.
        record: RecordId,
        /// Its version.
        version: u64,
    },
    /// No record has this id (the plan creates it).
    RecordAbsent {
        /// The id.
        record: RecordId,
    },
    /// The store has not applied this event yet (B7). A store that has
    /// applied it records `digest` with it; applying again is a conflict.
    EventNew {
        /// The event.
        event: EventId,
        /// Its payload's digest.
        digest: EventDigest,
    },
    /// Exactly these records had this ticket id (A28).
    TicketId {
        /// The ticket id.
        ticket: FieldValue,
        /// The records, sorted.
        records: Vec<RecordId>,
    },
    /// Exactly these records had this blocking key (B19: a record-linkage
    /// decision was made over them).
    BlockKey {
        /// The key.
        key: BlockKey,
        /// The records, sorted.
        records: Vec<RecordId>,
    },
    /// The record exists and holds exactly these values (blank values and
    /// missing fields read alike; B16: an inverse plan relies on the
    /// values its plan left, whatever the record's version is since an
    /// undo of a later plan).
    RecordFields {
        /// The record.
        record: RecordId,
        /// Its fields.
        fields: Fields,
    },
    /// Exactly these subjects are linked to the record (B16: a reversible
    /// plan and its inverse rely on the links they restore).
    Links {
        /// The record (of the plan's tenant; one that does not exist has none).
        record: RecordId,
        /// The subjects, sorted.
        subjects: Vec<SubjectId>,
    },
    /// The subject is linked to this record (`None`: to none) (B16).
    SubjectLink {
        /// The subject.
        subject: SubjectId,
        /// Its record.
        record: Option<RecordId>,
    },
    /// The record has exactly these campaign memberships, with these ticket
    /// ids (B16).
    Memberships {
        /// The record.
        record: RecordId,
        /// The memberships, sorted by campaign, as
        /// [`crate::ContactStore::campaign_memberships`] reads them.
        members: Vec<CampaignMember>,
    },
}

/// What a store reads to check one precondition (in the plan's tenant,
/// unless said otherwise), as [`Precondition::observe`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observe<'a> {
    /// The ids of the tenant's records (any type) with this email key,
    /// through their aliases too (B15), sorted: [`Observed::Records`].
    EmailKey(&'a EmailKey),
    /// The ids of the tenant's records with this ticket id (trimmed, as
    /// [`crate::ContactStore::records_by_ticket`] matches it), sorted:
    /// [`Observed::Records`].
    TicketId(&'a str),
    /// The ids of the tenant's records with this blocking key, sorted:
    /// [`Observed::Records`].
    BlockKey(&'a BlockKey),
    /// The record's version (`None`: the tenant has no such record):
    /// [`Observed::Version`].
    Version(RecordId),
    /// Whether a record with this id exists in any tenant (ids are
    /// global): [`Observed::Exists`].
    Exists(RecordId),
    /// The digest the event was applied with (`None`: not applied):
    /// [`Observed::Event`].
    Event(EventId),
    /// The record's fields (`None`: the tenant has no such record):
    /// [`Observed::Fields`].
    Fields(RecordId),
    /// The subjects linked to the record, sorted: [`Observed::Subjects`].
    Links(RecordId),
    /// The record the subject is linked to (`None`: none):
    /// [`Observed::Link`].
    SubjectLink(SubjectId),
    /// The record's campaign memberships, sorted by campaign:
    /// [`Observed::Memberships`].
    Memberships(RecordId),
}

/// What a store holds now for one [`Observe`].
///
/// Handing [`Precondition::check`] an observation of another kind than its
/// [`Observe`] asks for counts as a change (the plan is refused, never
/// applied on a fact nobody checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observed<'a> {
    /// For [`Observe::EmailKey`], [`Observe::TicketId`] and [`Observe::BlockKey`]:
    /// the record ids, sorted.
    Records(&'a [RecordId]),
    /// For [`Observe::Version`]: the record's version, `None` when the tenant
    /// has no such record.
    Version(Option<u64>),
    /// For [`Observe::Exists`]: whether the id is taken.
    Exists(bool),
    /// For [`Observe::Event`]: the digest the event was applied with.
    Event(Option<&'a EventDigest>),
    /// For [`Observe::Fields`]: the record's fields, `None` when the tenant
    /// has no such record.
    Fields(Option<&'a Fields>),
    /// For [`Observe::Links`]: the subjects, sorted.
    Subjects(&'a [SubjectId]),
    /// For [`Observe::SubjectLink`]: the subject's record.
    Link(Option<RecordId>),
    /// For [`Observe::Memberships`]: the memberships, sorted by campaign.
    Memberships(&'a [CampaignMember]),
}

impl Precondition {
    /// What a store reads to check this precondition.
    pub fn observe(&self) -> Observe<'_> {
        match self {
            Precondition::EmailKey { key, .. } => Observe::EmailKey(key),
            Precondition::TicketId { ticket, .. } => Observe::TicketId(ticket.as_str().trim()),
            Precondition::BlockKey { key, .. } => Observe::BlockKey(key),
            Precondition::RecordVersion { record, .. } => Observe::Version(*record),
            Precondition::RecordAbsent { record } => Observe::Exists(*record),
            Precondition::EventNew { event, .. } => Observe::Event(*event),
            Precondition::RecordFields { record, .. } => Observe::Fields(*record),
            Precondition::Links { record, .. } => Observe::Links(*record),
            Precondition::SubjectLink { subject, .. } => Observe::SubjectLink(*subject),
            Precondition::Memberships { record, .. } => Observe::Memberships(*record),
        }
    }

    /// Checks this precondition against what the store holds now (the
    /// value its [`Precondition::observe`] names): `Ok` when it holds, else
    /// the conflict to report. A store checks a plan's preconditions in
    /// order and reports the first that fails.
    ///
    /// # Errors
    /// The precondition's own [`Conflict`] (the table of
    /// [`crate::ApplyPlan`]) when the observation differs from what the plan
    /// was decided on, or is of another kind than [`Precondition::observe`]
    /// asks for.
    pub fn check(&self, observed: Observed<'_>) -> Result<(), Conflict> {
        match (self, observed) {
            (Precondition::EmailKey { records, .. }, Observed::Records(now))
                if now == &records[..] =>
            {
                Ok(())
            }
            (Precondition::EmailKey { .. }, _) => Err(Conflict::EmailKeyChanged),
            (Precondition::TicketId { records, .. }, Observed::Records(now))
                if now == &records[..] =>
            {
                Ok(())
            }
            (Precondition::TicketId { .. }, _) => Err(Conflict::TicketChanged),
            (Precondition::BlockKey { records, .. }, Observed::Records(now))
                if now == &records[..] =>
            {
                Ok(())
            }
            (Precondition::BlockKey { .. }, _) => Err(Conflict::BlockChanged),
            (Precondition::RecordVersion { version, .. }, Observed::Version(now))
                if now.unwrap_or(0) == *version =>
            {
                Ok(())
            }
            (Precondition::RecordVersion { record, version }, now) => {
                Err(Conflict::VersionChanged {
                    record: *record,
                    expected: *version,
                    actual: match now {
                        Observed::Version(v) => v.unwrap_or(0),
                        _ => 0,
                    },
                })
            }
            (Precondition::RecordAbsent { .. }, Observed::Exists(false)) => Ok(()),
            (Precondition::RecordAbsent { record }, _) => Err(Conflict::RecordExists(*record)),
            (Precondition::EventNew { .. }, Observed::Event(None)) => Ok(()),
            (Precondition::EventNew { event, digest }, Observed::Event(Some(d))) if d == digest => {
                Err(Conflict::EventApplied(*event))
            }
            (Precondition::EventNew { event, .. }, _) => Err(Conflict::EventPayloadChanged(*event)),
            (Precondition::RecordFields { fields, .. }, Observed::Fields(Some(now)))
                if now.same_values(fields) =>
            {
                Ok(())
            }
            (Precondition::RecordFields { record, .. }, _) => Err(Conflict::FieldsChanged(*record)),
            (Precondition::Links { subjects, .. }, Observed::Subjects(now))
                if now == &subjects[..] =>
            {
                Ok(())
            }
            (Precondition::Links { record, .. }, _) => Err(Conflict::LinksChanged(*record)),
            (Precondition::SubjectLink { record, .. }, Observed::Link(now)) if now == *record => {
                Ok(())
            }
            (Precondition::SubjectLink { subject, .. }, _) => {
                Err(Conflict::SubjectLinkChanged(*subject))
            }
            (Precondition::Memberships { members, .. }, Observed::Memberships(now))
                if now == &members[..] =>
            {
                Ok(())
            }
            (Precondition::Memberships { record, .. }, _) => {
                Err(Conflict::MembershipsChanged(*record))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CampaignId;
    use crate::Normalization;

    fn rid(n: u128) -> RecordId {
        RecordId::from_u128(n)
    }
    fn sid(n: u128) -> SubjectId {
        SubjectId::from_u128(n)
    }

    /// Each precondition holds on exactly the observation it names, and
    /// fails with its own conflict on any other value or on an
    /// observation of another kind.
    #[test]
    fn b6_b16_each_precondition_holds_on_what_it_names_and_reports_its_own_conflict() {
        let key = EmailKey::parse("a@example.org", &Normalization::default())
            .unwrap()
            .unwrap();
        let ev = EventId(uuid::Uuid::from_u128(9));
        let digest = EventDigest(uuid::Uuid::from_u128(10));
        let other_digest = EventDigest(uuid::Uuid::from_u128(11));
        let fields = Fields::from_pairs([("email", "a@example.org"), ("city", "")]);
        let same_fields = Fields::from_pairs([("email", "a@example.org")]);
        let other_fields = Fields::from_pairs([("email", "b@example.org")]);
        let member = CampaignMember {
            campaign: CampaignId("c".into()),
            record: rid(1),
            ticket: None,
        };
        let one = [rid(1)];
        let two = [rid(1), rid(2)];
        let subjects = [sid(1)];
        let members = [member.clone()];
        type Case<'a> = (Precondition, Observed<'a>, Observed<'a>, Conflict);
        let cases: Vec<Case<'_>> = vec![
            (
                Precondition::EmailKey {
                    key: key.clone(),
                    records: one.to_vec(),
                },
                Observed::Records(&one),
                Observed::Records(&two),
                Conflict::EmailKeyChanged,
            ),
            (
                Precondition::TicketId {
                    ticket: FieldValue::new(" T-1 "),
                    records: one.to_vec(),
                },
                Observed::Records(&one),
                Observed::Records(&[]),
                Conflict::TicketChanged,
            ),
            (
                Precondition::BlockKey {
                    key: BlockKey::from_stored("k"),
                    records: two.to_vec(),
                },
                Observed::Records(&two),
                Observed::Records(&one),
                Conflict::BlockChanged,
            ),
            (
                Precondition::RecordVersion {
                    record: rid(1),
                    version: 3,
                },
                Observed::Version(Some(3)),
                Observed::Version(Some(4)),
                Conflict::VersionChanged {
                    record: rid(1),
                    expected: 3,
                    actual: 4,
                },
            ),
            (
                Precondition::RecordAbsent { record: rid(1) },
                Observed::Exists(false),
                Observed::Exists(true),
                Conflict::RecordExists(rid(1)),
            ),
            (
                Precondition::EventNew { event: ev, digest },
                Observed::Event(None),
                Observed::Event(Some(&digest)),
                Conflict::EventApplied(ev),
            ),
            (
                Precondition::EventNew { event: ev, digest },
                Observed::Event(None),
                Observed::Event(Some(&other_digest)),
                Conflict::EventPayloadChanged(ev),
            ),
            (
                Precondition::RecordFields {
                    record: rid(1),
                    fields: fields.clone(),
                },
                Observed::Fields(Some(&same_fields)),
                Observed::Fields(Some(&other_fields)),
                Conflict::FieldsChanged(rid(1)),
            ),
            (
                Precondition::RecordFields {
                    record: rid(1),
                    fields: fields.clone(),
                },
                Observed::Fields(Some(&fields)),
                Observed::Fields(None),
                Conflict::FieldsChanged(rid(1)),
            ),
            (
                Precondition::Links {
                    record: rid(1),
                    subjects: subjects.to_vec(),
                },
                Observed::Subjects(&subjects),
                Observed::Subjects(&[]),
                Conflict::LinksChanged(rid(1)),
            ),
            (
                Precondition::SubjectLink {
                    subject: sid(1),
                    record: Some(rid(1)),
                },
                Observed::Link(Some(rid(1))),
                Observed::Link(Some(rid(2))),
                Conflict::SubjectLinkChanged(sid(1)),
            ),
            (
                Precondition::SubjectLink {
                    subject: sid(1),
                    record: None,
                },
                Observed::Link(None),
                Observed::Link(Some(rid(1))),
                Conflict::SubjectLinkChanged(sid(1)),
            ),
            (
                Precondition::Memberships {
                    record: rid(1),
                    members: members.to_vec(),
                },
                Observed::Memberships(&members),
                Observed::Memberships(&[]),
                Conflict::MembershipsChanged(rid(1)),
            ),
        ];
        for (p, holds, changed, conflict) in cases {
            assert_eq!(p.check(holds), Ok(()), "{p:?} on {holds:?}");
            assert_eq!(
                p.check(changed),
                Err(conflict.clone()),
                "{p:?} on {changed:?}"
            );
            // An observation of another kind counts as a change (the
            // "exists" answer fits none but RecordAbsent; "not applied"
            // fits none but EventNew).
            let wrong = if matches!(p, Precondition::RecordAbsent { .. }) {
                Observed::Event(None)
            } else {
                Observed::Exists(false)
            };
            let err = p.check(wrong).unwrap_err();
            if let Precondition::EventNew { event, .. } = p {
                // An event whose digest nobody read is not "applied".
                assert_eq!(err, Conflict::EventPayloadChanged(event));
            } else {
                assert_eq!(
                    std::mem::discriminant(&err),
                    std::mem::discriminant(&conflict),
                    "{p:?} on {wrong:?}"
                );
            }
        }
    }

    /// What a store reads for each precondition: the key, ticket (trimmed,
    /// as stores match it), record, event or subject it names.
    #[test]
    fn b6_each_precondition_names_what_a_store_reads() {
        let key = EmailKey::parse("a@example.org", &Normalization::default())
            .unwrap()
            .unwrap();
        let t = Precondition::TicketId {
            ticket: FieldValue::new(" T-1 "),
            records: vec![],
        };
        assert_eq!(t.observe(), Observe::TicketId("T-1"));
        let e = Precondition::EmailKey {
            key: key.clone(),
            records: vec![],
        };
        assert_eq!(e.observe(), Observe::EmailKey(&key));
        let ev = EventId(uuid::Uuid::from_u128(9));
        let cases = [
            (
                Precondition::RecordVersion {
                    record: rid(1),
                    version: 1,
                },
                Observe::Version(rid(1)),
            ),
            (
                Precondition::RecordAbsent { record: rid(2) },
                Observe::Exists(rid(2)),
            ),
            (
                Precondition::EventNew {
                    event: ev,
                    digest: EventDigest(uuid::Uuid::nil()),
                },
                Observe::Event(ev),
            ),
            (
                Precondition::RecordFields {
                    record: rid(3),
                    fields: Fields::new(),
                },
                Observe::Fields(rid(3)),
            ),
            (
                Precondition::Links {
                    record: rid(4),
                    subjects: vec![],
                },
                Observe::Links(rid(4)),
            ),
            (
                Precondition::SubjectLink {
                    subject: sid(5),
                    record: None,
                },
                Observe::SubjectLink(sid(5)),
            ),
            (
                Precondition::Memberships {
                    record: rid(6),
                    members: vec![],
                },
                Observe::Memberships(rid(6)),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(p.observe(), want);
        }
        let b = Precondition::BlockKey {
            key: BlockKey::from_stored("k"),
            records: vec![],
        };
        assert!(matches!(b.observe(), Observe::BlockKey(k) if k.as_str() == "k"));
    }
}
