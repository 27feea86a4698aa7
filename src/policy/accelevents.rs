//! The Accelevents → Salesforce preset (A1–A30), each setting resting on
//! a sentence of Accelevents' article.

use super::*;

impl Policy {
    /// The Accelevents → Salesforce defaults (A1–A30) for `record_type`,
    /// each resting on a sentence of Accelevents' article:
    ///
    /// * Linear matching in `record_type` (A1, A2): "Since Accelevents only
    ///   searches in Contacts and not in Leads, we call it 'Linear
    ///   Matching.'" A record of the other type with the email does not count
    ///   (A3): "A new contact is created if there is a lead with the same
    ///   email address as the ticket holder."
    /// * Only ticket holders get records (A6): "A contact record will not be
    ///   created for the ticket buyer." The buyer's data carries over only
    ///   where the order collects buyer data only (A12): "If only BUYER data
    ///   is collected, the information that would carry over to Salesforce
    ///   is the data from the BUYER information."
    /// * On a match from a new registration the name never changes (A8):
    ///   "The name will not be updated in the existing Salesforce record."
    ///   Form fields and generated fields are replaced, and blanks clear (A9,
    ///   A10): "The existing data in Salesforce will be replaced with the new
    ///   data. The Salesforce field will be blank if the attendee leaves the
    ///   field blank during registration." Unused generated fields clear too
    ///   ([`SyncRules::absent_generated_as_blank`]): "The Salesforce field
    ///   will be blank if the fields are unused during registration".
    /// * On an update everything is replaced and blanks clear (A13–A16):
    ///   "Changes in order form answers will replace the data in the
    ///   Salesforce record", "The Salesforce field will also be blank if an
    ///   order form field is left blank in the update." Generated fields stay
    ///   as they are for holders of several tickets (A19): "It will not
    ///   update the auto-generated fields (if the attendee has multiple
    ///   tickets)". The update trigger writes even without changes (A18):
    ///   "It will update if the update button is clicked for the ticket
    ///   holder, even if no changes are made."
    /// * An email change keeps the link and replaces the record's email (A14,
    ///   A15): "If the email is changed in the order, it will not create a
    ///   new contact record for that new email."
    /// * Several records of the type with one email: the one with the
    ///   smallest id is updated and a warning names them all (the source is
    ///   silent; a Salesforce administrator expects no new duplicate). Set
    ///   [`Matching::ambiguity`] to change it.
    /// * Only mapped fields flow (A4): "All mapped fields will be included in
    ///   the new contact record." The preset maps email, names and ticket
    ///   id; map more with [`FieldMap::map`].
    /// * Created and updated records join the event's campaign (A5): "The
    ///   new contact will be added as a campaign member."
    /// * The toggles are off (A21–A23): "By default, these toggles are turned
    ///   off in this section." [`Policy::with_buyer_records`] turns A22 on:
    ///   `true` follows the source literally (a new record even when one has
    ///   the buyer's email), `false` matches the buyer like a holder, which
    ///   avoids duplicates when buyers register repeatedly.
    /// * No record without an email (A11): "A contact or lead record will
    ///   not be created if the attendee email address field is left blank
    ///   during registration." [`Policy::with_records_without_email`] takes
    ///   the article's three steps (A25, A30).
    /// * An email change with A23 on ([`EmailChange::NewRecord`]) always
    ///   creates a record, as the source says; [`EmailChange::Reassign`]
    ///   re-matches on the new email instead.
    /// * A Lead that Salesforce later converts is a Contact the host reports
    ///   with its new type: under linear matching on Leads it is no longer
    ///   found, and a new Lead is created, which is what Salesforce itself
    ///   does for a converted Lead.
    pub fn salesforce(record_type: RecordType) -> Self {
        let fields = FieldMap {
            unmapped_as_form_fields: false,
            ..FieldMap::default()
        };
        Policy {
            matching: Matching {
                record_type,
                scope: Scope::Linear,
                criteria: Vec::new(),
                ambiguity: Ambiguity::UpdateFirst,
                weighted: None,
            },
            sync: SyncRules {
                enabled: true,
                on_match: ClassRules {
                    name: FieldMerge::Never,
                    email: FieldMerge::Replace,
                    form_field: FieldMerge::Replace,
                    generated: FieldMerge::Replace,
                },
                on_update: ClassRules::all(FieldMerge::Replace),
                freeze_generated_for_multiple_tickets: true,
                update_trigger_always_writes: true,
                absent_generated_as_blank: true,
            },
            email_change: EmailChange::Retain,
            roles: Roles {
                booker: RoleRule::NoRecord,
                attendee: RoleRule::Match,
            },
            no_email: NoEmail::default(),
            campaign_members: true,
            name_guard: NameGuard::Off,
            fields,
            two_way: false,
            citations: Citations::Salesforce,
            ..Policy::default()
        }
    }
}
