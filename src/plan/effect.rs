//! Effects: what applying a plan does to the store and to the host's
//! registrations.

use serde::{Deserialize, Serialize};

use crate::event::CampaignId;
use crate::fields::FieldValue;
use crate::record::{Record, RecordId, SubjectId};

use super::FieldChange;

/// One thing to do to the store or the host's registrations.
///
/// The enum and each of its variants are `#[non_exhaustive]`: build
/// effects with the constructors ([`Effect::create_record`],
/// [`Effect::add_campaign_member`], ...) and match variants with `..`, so
/// a field added to a variant (as `ticket` was to `AddCampaignMember`)
/// breaks no host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// Create this record (at version 1).
    #[non_exhaustive]
    CreateRecord {
        /// The new record.
        record: Record,
    },
    /// Change fields of an existing record (its version goes up by one).
    /// `changes` may be empty when the update trigger writes without changes
    /// (A18).
    #[non_exhaustive]
    UpdateRecord {
        /// The record.
        record: RecordId,
        /// The changes, in field order.
        changes: Vec<FieldChange>,
    },
    /// Link the subject to the record (replacing any link it had).
    #[non_exhaustive]
    Link {
        /// The subject.
        subject: SubjectId,
        /// The record.
        record: RecordId,
    },
    /// Remove the subject's link.
    #[non_exhaustive]
    Unlink {
        /// The subject.
        subject: SubjectId,
        /// The record it was linked to.
        record: RecordId,
    },
    /// Add the record to the event's campaign (A5).
    #[non_exhaustive]
    AddCampaignMember {
        /// The record.
        record: RecordId,
        /// The campaign.
        campaign: CampaignId,
        /// The subject's ticket id, mapped on the membership (A30, with
        /// [`crate::Policy::campaign_member_ticket`]). A store keeps it on
        /// the membership; `None` leaves a ticket id it holds as it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<FieldValue>,
    },
    /// Duplicate healing (B9): retire `record` into `into`. The subjects
    /// linked to `record` and its campaign memberships move to `into`;
    /// `record` is deleted.
    #[non_exhaustive]
    MergeRecord {
        /// The record that goes.
        record: RecordId,
        /// The record that stays.
        into: RecordId,
    },
    /// Undo of a `CreateRecord` (B16): delete the record, with its links
    /// and campaign memberships (an inverse plan pins them first with
    /// [`crate::Precondition::Links`] and [`crate::Precondition::Memberships`]). Its field
    /// history stays.
    #[non_exhaustive]
    DeleteRecord {
        /// The record.
        record: RecordId,
    },
    /// Undo of an `AddCampaignMember` (B16): the record leaves the campaign.
    #[non_exhaustive]
    RemoveCampaignMember {
        /// The record.
        record: RecordId,
        /// The campaign.
        campaign: CampaignId,
    },
    /// Undo of a `MergeRecord` (B16): store the merged-away record again as
    /// given (its fields as they were, its version one above the
    /// tombstone's, so no plan decided before the merge applies to it) and
    /// drop the store's tombstone of it. Its links and memberships come
    /// back through the `Link`, `AddCampaignMember` and
    /// `RemoveCampaignMember` effects that follow.
    #[non_exhaustive]
    RestoreRecord {
        /// The record as it comes back.
        record: Record,
    },
    /// Two-way integration (A20): change the registration's data.
    #[non_exhaustive]
    UpdateSubject {
        /// The subject.
        subject: SubjectId,
        /// The changes.
        changes: Vec<FieldChange>,
    },
}

impl Effect {
    /// [`Effect::CreateRecord`]. The constructors are the stable way to
    /// build effects: a field added to a variant gets a default here (as
    /// `ticket` did on `AddCampaignMember`), where a literal stops
    /// compiling.
    pub fn create_record(record: Record) -> Self {
        Effect::CreateRecord { record }
    }

    /// [`Effect::UpdateRecord`].
    pub fn update_record(record: RecordId, changes: Vec<FieldChange>) -> Self {
        Effect::UpdateRecord { record, changes }
    }

    /// [`Effect::Link`].
    pub fn link(subject: SubjectId, record: RecordId) -> Self {
        Effect::Link { subject, record }
    }

    /// [`Effect::Unlink`].
    pub fn unlink(subject: SubjectId, record: RecordId) -> Self {
        Effect::Unlink { subject, record }
    }

    /// [`Effect::AddCampaignMember`], with the ticket id to keep on the
    /// membership (`None`: leave the one held).
    pub fn add_campaign_member(
        record: RecordId,
        campaign: CampaignId,
        ticket: Option<FieldValue>,
    ) -> Self {
        Effect::AddCampaignMember {
            record,
            campaign,
            ticket,
        }
    }

    /// [`Effect::MergeRecord`]: `record` goes, `into` stays.
    pub fn merge_record(record: RecordId, into: RecordId) -> Self {
        Effect::MergeRecord { record, into }
    }

    /// [`Effect::DeleteRecord`].
    pub fn delete_record(record: RecordId) -> Self {
        Effect::DeleteRecord { record }
    }

    /// [`Effect::RemoveCampaignMember`].
    pub fn remove_campaign_member(record: RecordId, campaign: CampaignId) -> Self {
        Effect::RemoveCampaignMember { record, campaign }
    }

    /// [`Effect::RestoreRecord`].
    pub fn restore_record(record: Record) -> Self {
        Effect::RestoreRecord { record }
    }

    /// [`Effect::UpdateSubject`].
    pub fn update_subject(subject: SubjectId, changes: Vec<FieldChange>) -> Self {
        Effect::UpdateSubject { subject, changes }
    }
}
