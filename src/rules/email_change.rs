//! Email-change handling (D8–D10, D21, D22, A14, A15, A23): what happens
//! when the email a subject was linked with is no longer the one entered.

use serde::{Deserialize, Serialize};

use crate::policy::{EmailChange, FieldMerge, RetainedEmail};

/// Where the email is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum During {
    /// A new registration prefilled from (or already linked to) a record
    /// (D7, D21).
    Registration,
    /// An edit of a registration (D8–D10, A14, A15).
    Edit,
}

/// The facts an email-change decision rests on: plain data, no store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EmailChangeCase {
    /// A registration or an edit.
    pub during: During,
    /// The subject is linked to (or prefilled from) a record.
    pub linked: bool,
    /// That record has an email (D21 completes one without).
    pub record_has_email: bool,
    /// The subject has an email now (none: it was removed, or never given).
    pub has_email: bool,
    /// The subject's email, as a match key, is not the one the link was made
    /// with: for a registration the record's, for an edit the subject's
    /// previous one. Ignored without a record.
    pub changed: bool,
    /// The event's own setting (D22), if it has one.
    pub event_setting: Option<EmailChange>,
    /// The policy's setting ([`crate::Policy::email_change`]).
    pub policy_setting: EmailChange,
    /// Whether sync is on for this event (D13, D17).
    pub sync: bool,
    /// How the email class merges for this event (before the sync cap).
    pub email_merge: FieldMerge,
    /// Whether a retained record keeps its own email (B8).
    pub retained_email: RetainedEmail,
}

impl EmailChangeCase {
    /// A case `during` a registration or an edit under the policy's
    /// `policy_setting`: not linked, no email on either side, unchanged, no
    /// event setting, sync off, the email class filling empty fields, the
    /// retained record's email overwritten. The setters change one fact
    /// each.
    pub fn new(during: During, policy_setting: EmailChange) -> Self {
        EmailChangeCase {
            during,
            linked: false,
            record_has_email: false,
            has_email: false,
            changed: false,
            event_setting: None,
            policy_setting,
            sync: false,
            email_merge: FieldMerge::FillEmpty,
            retained_email: RetainedEmail::default(),
        }
    }

    /// During a registration or an edit.
    #[must_use]
    pub fn with_during(mut self, during: During) -> Self {
        self.during = during;
        self
    }

    /// Linked to (or prefilled from) a record, or not.
    #[must_use]
    pub fn with_linked(mut self, linked: bool) -> Self {
        self.linked = linked;
        self
    }

    /// Whether the record has an email (D21).
    #[must_use]
    pub fn with_record_has_email(mut self, has: bool) -> Self {
        self.record_has_email = has;
        self
    }

    /// Whether the subject has an email now.
    #[must_use]
    pub fn with_has_email(mut self, has: bool) -> Self {
        self.has_email = has;
        self
    }

    /// Whether the email changed (as a match key).
    #[must_use]
    pub fn with_changed(mut self, changed: bool) -> Self {
        self.changed = changed;
        self
    }

    /// The event's own setting (D22), or none.
    #[must_use]
    pub fn with_event_setting(mut self, setting: Option<EmailChange>) -> Self {
        self.event_setting = setting;
        self
    }

    /// The policy's setting.
    #[must_use]
    pub fn with_policy_setting(mut self, setting: EmailChange) -> Self {
        self.policy_setting = setting;
        self
    }

    /// Sync on or off (D13, D17).
    #[must_use]
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// How the email class merges (before the sync cap).
    #[must_use]
    pub fn with_email_merge(mut self, merge: FieldMerge) -> Self {
        self.email_merge = merge;
        self
    }

    /// Whether a retained record keeps its own email (B8).
    #[must_use]
    pub fn with_retained_email(mut self, retained: RetainedEmail) -> Self {
        self.retained_email = retained;
        self
    }
}

/// What happens to the subject and its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "action")]
#[non_exhaustive]
pub enum EmailChangeAction {
    /// The email is the record's: the linked record is updated (D1, D7).
    Unchanged,
    /// The record has no email, and the entered one completes it; the link
    /// stays (D21).
    Complete,
    /// Look the new email up and match again (D2–D4): the event reassigns
    /// (D8), or an email was added to a subject without record (D1).
    MatchAgain,
    /// The email was removed: the subject is unlinked (D5, D8, A11).
    Unlink,
    /// The link stays (D9, A15); the record's email takes the new one or
    /// not.
    Retain {
        /// Sync overwrites the record's email with the new one (A14).
        overwrite_email: bool,
        /// The policy keeps the record's own email although sync would
        /// overwrite it (B8).
        keep_record_email: bool,
    },
    /// A new record with the new email; the old one stays as it is (A23).
    NewRecord,
    /// No record and no email: nothing happens until an email is added
    /// (D5, A29).
    Nothing,
}

/// An email-change decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EmailChangeDecision {
    /// What happens.
    pub action: EmailChangeAction,
    /// The behaviour on email change that decided, when one was consulted:
    /// the event's own (D22), else the policy's.
    pub behaviour: Option<EmailChange>,
    /// The event's own setting decided (D22).
    pub event_setting_used: bool,
}

/// Email-change handling (D8–D10, D21, D22, A14, A15, A23).
///
/// Without a record, an added email is matched (D1), or makes a new
/// record under [`EmailChange::NewRecord`] (A23); no email means nothing
/// yet (D5, A29). With a record, an unchanged email updates it; a
/// registration's email completes a record without one (D21, unless the
/// behaviour is A23's); otherwise the event's own behaviour (D22) or the
/// policy's decides: reassign matches again on the new email (D8), retain
/// keeps the link and overwrites the record's email when sync writes
/// emails (D9, A14, A15; B8 may keep it), new record creates one (A23). A
/// removed email unlinks, except under retain.
///
/// ```
/// use contact_sync::{EmailChange, FieldMerge, RetainedEmail};
/// use contact_sync::rules::{email_change, During, EmailChangeAction, EmailChangeCase};
///
/// let case = EmailChangeCase::new(During::Edit, EmailChange::Reassign)
///     .with_linked(true)
///     .with_record_has_email(true)
///     .with_has_email(true)
///     .with_changed(true)
///     .with_sync(true)
///     .with_email_merge(FieldMerge::Overwrite)
///     .with_retained_email(RetainedEmail::Overwrite);
/// // D8: doo reassigns: the new email is looked up and matched again.
/// assert_eq!(email_change(&case).action, EmailChangeAction::MatchAgain);
///
/// // D22: this event retains the link instead; sync on overwrites the
/// // record's email with the new one (D9).
/// let retain = case.with_event_setting(Some(EmailChange::Retain));
/// let d = email_change(&retain);
/// assert!(d.event_setting_used);
/// assert_eq!(
///     d.action,
///     EmailChangeAction::Retain { overwrite_email: true, keep_record_email: false }
/// );
/// ```
pub fn email_change(case: &EmailChangeCase) -> EmailChangeDecision {
    use EmailChangeAction as A;
    let c = case;
    let behaviour = c.event_setting.unwrap_or(c.policy_setting);
    let plain = |action| EmailChangeDecision {
        action,
        behaviour: None,
        event_setting_used: false,
    };
    let decided = |action| EmailChangeDecision {
        action,
        behaviour: Some(behaviour),
        event_setting_used: c.event_setting.is_some(),
    };
    if !c.linked {
        return match (c.has_email, behaviour) {
            (false, _) => plain(A::Nothing),
            (true, EmailChange::NewRecord) => decided(A::NewRecord),
            (true, _) => decided(A::MatchAgain),
        };
    }
    if !c.changed {
        return plain(A::Unchanged);
    }
    if c.during == During::Registration
        && c.has_email
        && !c.record_has_email
        && behaviour != EmailChange::NewRecord
    {
        return plain(A::Complete);
    }
    decided(match (behaviour, c.has_email) {
        (EmailChange::Reassign, true) => A::MatchAgain,
        (EmailChange::NewRecord, true) => A::NewRecord,
        (EmailChange::Reassign | EmailChange::NewRecord, false) => A::Unlink,
        (EmailChange::Retain, _) => {
            let would_overwrite = c.sync && c.email_merge >= FieldMerge::Overwrite && c.has_email;
            let keep =
                would_overwrite && c.retained_email == RetainedEmail::Keep && c.record_has_email;
            A::Retain {
                overwrite_email: would_overwrite && !keep,
                keep_record_email: keep,
            }
        }
    })
}
