//! doo's preset (D1–D22): the policy's defaults, each resting on a
//! sentence of doo's article.

use super::*;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            normalization: Normalization::default(),
            matching: Matching::default(),
            sync: SyncRules::default(),
            email_change: EmailChange::Reassign,
            retained_email: RetainedEmail::Overwrite,
            roles: Roles::default(),
            no_email: NoEmail::default(),
            campaign_members: false,
            campaign_member_ticket: false,
            name_guard: NameGuard::Warn,
            fields: FieldMap::default(),
            two_way: false,
            limits: Limits::default(),
            citations: Citations::Doo,
            trust: BTreeMap::new(),
            aliases: Aliases::default(),
            invalid_subjects: InvalidSubjects::default(),
            linkage: None,
        }
    }
}

impl Policy {
    /// doo's documented defaults (D1–D22), each resting on a sentence of
    /// doo's article:
    ///
    /// * Exact-one email matching (D1, D2): "If there is exactly one doo
    ///   contact with the email address, the attendee or booking is
    ///   automatically assigned to this contact."
    /// * A new contact when none or several match (D3, D4): "If there is more
    ///   than one or no doo contact with this email address, a new contact is
    ///   created."
    /// * No contact without email (D5): "If there is no email address for a
    ///   attendee, the attendee will not be assigned to a contact."
    /// * Bookers and attendees alike (D6): "Your contact center automatically
    ///   fills with contacts when new bookers or attendees register."
    /// * Reassign on email change (D8, D22): "The system reassigns the booking
    ///   or the attendee. […] (default behavior)". An event may choose retain
    ///   ([`crate::Registration::email_change`]).
    /// * Synchronization off (D14, D15): "you can activate the
    ///   synchronization of attendee and booking data with your contact
    ///   data"; "If you decide to use the synchronization feature": it is
    ///   something an administrator turns on. Off, "existing data in the
    ///   contact center is not changed", and "in both cases, previously
    ///   empty data fields are supplemented". [`Policy::with_sync`]`(true)`
    ///   activates it (D13: "the existing data records are overwritten").
    /// * The shared-email guard warns but overwrites, as doo does (D19, B4):
    ///   "it can happen that the data of one person is overwritten by that
    ///   of another".
    pub fn doo() -> Self {
        Policy::default()
    }

    /// doo with sync off, for organizations where another system (a CRM, a
    /// customer database) owns the contact data (D20): existing values never
    /// change, empty fields are still filled. Sync is off in [`Policy::doo`]
    /// too; this preset names the case and stays off whatever doo's default
    /// becomes ("The same applies if you synchronize or import your contact
    /// data from a third-party system […] and this system has data
    /// sovereignty").
    pub fn doo_external_master() -> Self {
        Policy::doo().with_sync(false)
    }
}
