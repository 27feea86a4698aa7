//! The glossary: every rule id the crate cites (B2), where it comes from
//! and what it says.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleSource {
    /// doo's article "Datamatching & Synchronization of booking data and doo
    /// contact" (`D` rules).
    Doo,
    /// Accelevents' article "Default Contact Creation and Updating Rules"
    /// for its Salesforce integration (`A` rules).
    Salesforce,
    /// This crate, beyond both products (`B` rules).
    Beyond,
}

impl RuleSource {
    /// A short name for the source (`"doo"`, `"Accelevents → Salesforce"`,
    /// `"contact-sync"`).
    pub fn name(self) -> &'static str {
        match self {
            RuleSource::Doo => "doo",
            RuleSource::Salesforce => "Accelevents → Salesforce",
            RuleSource::Beyond => "contact-sync",
        }
    }
}

macro_rules! glossary {
    ($($id:ident: $source:ident, $text:literal;)*) => {
        /// A rule of the glossary, cited by explanations, field changes,
        /// warnings and tests. Each variant's documentation is its text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        pub enum RuleId {
            $(
                #[doc = concat!("**", stringify!($id), "** (", stringify!($source), "): ", $text)]
                $id,
            )*
        }

        impl RuleId {
            /// Every rule, in glossary order (`D`, then `A`, then `B`).
            pub const ALL: &'static [RuleId] = &[$(RuleId::$id),*];

            /// The id as written (`"D4"`).
            pub fn as_str(self) -> &'static str {
                match self { $(RuleId::$id => stringify!($id)),* }
            }

            /// What the rule says.
            ///
            /// ```
            /// use contact_sync::RuleId;
            /// assert!(RuleId::D4.text().contains("never guess between several"));
            /// ```
            pub fn text(self) -> &'static str {
                match self { $(RuleId::$id => $text),* }
            }

            /// Where the rule comes from.
            pub fn source(self) -> RuleSource {
                match self { $(RuleId::$id => RuleSource::$source),* }
            }
        }
    };
}

glossary! {
    D1: Doo, "The match key of a subject is its email address (booker for the booking, attendee for the attendee).";
    D2: Doo, "When a booking completes, if exactly one record has the subject's email, the subject is linked to it.";
    D3: Doo, "If no record has that email, a new record is created from the subject's data and linked.";
    D4: Doo, "If more than one record has that email, a new record is created and linked (never guess between several).";
    D5: Doo, "A subject without an email is linked to nothing and creates nothing.";
    D6: Doo, "New bookers and attendees fill the contact center automatically (D3/D4 run for both roles).";
    D7: Doo, "A subject prefilled from a record (invitation, access code, contact-center prefill) carries that link: the system assumes that record first.";
    D8: Doo, "Email changed on a linked subject, event setting *reassign* (the default): the subject is re-matched on the new email by D2-D4 (to an existing single record, else a new one).";
    D9: Doo, "Email changed, event setting *retain*: the link stays; if sync is on, the record's email is overwritten with the new email; if sync is off it is not.";
    D10: Doo, "D8/D9 apply alike to prefilled bookings, edits by the organizer in the booking details and edits by the booker in self-service.";
    D11: Doo, "Manual relink (\"change connected contact\") sets the link to a chosen record, for a booking or an attendee.";
    D12: Doo, "The link of every booking and attendee is visible (exports carry the linked record id): every outcome names the record id per subject.";
    D13: Doo, "Organization setting sync *on*: for a new booking from an existing record, the record's fields are overwritten with the newly entered data.";
    D14: Doo, "Sync *off*: non-empty record fields are never changed; differing data stays only on the booking/attendee.";
    D15: Doo, "In both cases, empty record fields are filled from newly entered data.";
    D16: Doo, "Sync applies to new regular bookings, manual registrations by the organizer, and data changes made by the booker.";
    D17: Doo, "An organizer editing a booker/attendee in the booking details chooses per edit whether changed data syncs; missing data is added to the record in any case.";
    D18: Doo, "doo keeps no history: an overwritten value is gone. (See B3.)";
    D19: Doo, "Several people sharing one email can overwrite each other's data when sync is on. (See B4.)";
    D20: Doo, "When another system (CRM, customer database) owns the data, sync should be off: a preset for that case.";
    D21: Doo, "Access codes complete records: a subject prefilled from a record without email (personalized access code) stays linked to it when the booker enters an email, and the record's empty email is filled, under either email-change setting.";
    D22: Doo, "The email-change behaviour (D8 reassign / D9 retain) is chosen per event (\"on event level\"); the policy only gives the default.";
    A1: Salesforce, "The integration has one record type, Lead or Contact: records are created in it and searched in it.";
    A2: Salesforce, "Linear matching (default): only records of the configured type are searched, by email.";
    A3: Salesforce, "No record of that type has the holder's email → a new record of that type is created, even if a record of the other type has the email.";
    A4: Salesforce, "A new record receives all mapped fields.";
    A5: Salesforce, "Each created or updated record is added as a member of the event's campaign.";
    A6: Salesforce, "No record is created for the ticket buyer (only ticket holders get records).";
    A7: Salesforce, "A record of the type with the holder's email exists → that record is updated.";
    A8: Salesforce, "Updating an existing record from a new registration never changes its name.";
    A9: Salesforce, "Other mapped order-form fields (job title, organization, custom fields) replace the record's values; a field the holder left blank blanks the record's field.";
    A10: Salesforce, "Mapped auto-generated fields (Order Id, Ticket Type, Ticket Id, Tracking Link, Barcode Id, discount count (so the article; presumably the discount code), access code) replace the record's values; unused ones blank the record's field.";
    A11: Salesforce, "A holder without an email gets no record (default).";
    A12: Salesforce, "When only buyer data is collected, the buyer's data is what carries over, and only when the update is triggered on the holder.";
    A13: Salesforce, "Changed order-form answers replace the record's data.";
    A14: Salesforce, "Name and email changed in the order replace the record's name and email.";
    A15: Salesforce, "An email changed in the order does not create a new record (default).";
    A16: Salesforce, "A field blanked in the update blanks the record's field.";
    A17: Salesforce, "Changes made by the attendee in self-service (\"My Registrations\") update the record.";
    A18: Salesforce, "Triggering the update for a holder updates the record even when nothing changed.";
    A19: Salesforce, "Auto-generated fields are not updated on an update when the attendee holds several tickets.";
    A20: Salesforce, "Record changes flow back into the registration only with a two-way integration.";
    A21: Salesforce, "Toggle *new record for every holder*: a new record is created for every holder, match or not, duplicate or not.";
    A22: Salesforce, "Toggle *record for the buyer*: a record is created for the buyer too, even if the buyer holds no ticket and even if a record of the type has the buyer's email.";
    A23: Salesforce, "Toggle *new record on email change*: when a holder's email changes in the order, a new record is created instead of updating the linked one.";
    A24: Salesforce, "Cross matching: both Contacts and Leads are searched, and matching may require criteria beyond email (e.g. last name, company).";
    A25: Salesforce, "With the ticket id mapped and A23 on, a holder with a blank email still gets a record.";
    A26: Salesforce, "Last name and email blank → the record gets the holder's first name and the buyer's last name.";
    A27: Salesforce, "First name and email blank → no record.";
    A28: Salesforce, "Later updates of the order update the record created without email (found through its ticket id / link).";
    A29: Salesforce, "First name, last name and email all blank at registration, names added later → still no record; a record is created only once an email is added.";
    A30: Salesforce, "For records without email, the ticket id is mapped on the campaign member as well as on the record (\"map the Ticket ID for the campaign member\").";
    B1: Beyond, "Email keys are normalized: surrounding whitespace trimmed, Unicode NFC, case folded, IDN domains in ASCII (punycode); optional plus-tag and Gmail-dot folding, off by default. Invalid addresses get a clear error, never a panic.";
    B2: Beyond, "Every outcome explains itself: the rule ids that fired, in order, and a human-readable sentence per subject.";
    B3: Beyond, "Every field change in an outcome carries the old and the new value, so a host can keep the history that doo lacks.";
    B4: Beyond, "Shared-email guard: when sync would overwrite a record's name with a clearly different person's name, the outcome warns, and policy chooses: overwrite anyway, keep the record's name, or create a new record.";
    B5: Beyond, "Batches see themselves: two subjects in one batch with the same new email create exactly one record.";
    B6: Beyond, "Concurrency: a plan carries the preconditions it was decided on; applying it is atomic and fails with a conflict when they no longer hold; re-planning resolves it. N concurrent registrations of one new email create exactly one record.";
    B7: Beyond, "Idempotency: re-processing the same registration (a retried webhook) yields the same plan, and applying it twice changes nothing; new record ids are derived deterministically from the subject's identity.";
    B8: Beyond, "Tenant isolation: a subject is never matched to, nor changes, a record of another tenant.";
    B9: Beyond, "Duplicate healing: report the groups of records that share an email key (which D4 keeps creating once two exist), and plan a merge with a deterministic survivor and per-field conflict resolution.";
    B10: Beyond, "Fuzzy and weighted criteria for cross matching: per-field comparators (exact, normalized, Jaro-Winkler ≥ threshold) with weights and a threshold, as in CiviCRM's dedupe rules.";
    B11: Beyond, "Policies are data: serde (JSON) round-trip, unknown fields rejected, invalid combinations rejected with a clear error.";
    B12: Beyond, "A scenario simulator: a JSON scenario (policy, records, a sequence of events) in, an explained outcome out.";
    B13: Beyond, "Ambiguity policies as data: create new (D4), skip, most recently modified, a waterfall where the first criterion with exactly one match wins, best score, review; every outcome names the policy; a key that already holds several records is always reported.";
    B14: Beyond, "Trust by submitter: events say who submitted the data (verified login, organizer, self-service with token, anonymous form, import); the policy maps each level to write rights per field class (an anonymous form may fill but never overwrite).";
    B15: Beyond, "Email aliases: on an email change the old address may stay an alias of the record; lookups match aliases; the explanation names the alias.";
    B16: Beyond, "Reversible plans: every applied plan yields its inverse; merges are undoable (tombstones keep links and losing values).";
    B17: Beyond, "Field history: every applied change yields an append-only history entry (record, field, old, new, event, rule, submitter); stores keep it.";
    B18: Beyond, "What-if: one event history under two policies yields an explained diff (links, creations, field changes).";
    B19: Beyond, "Record linkage: candidates by blocking keys beyond the email, multi-level comparators, Fellegi-Sunter weights with term-frequency adjustment and deterministic EM, two thresholds (link / review / create), scores and per-field comparisons in outcomes.";
    B20: Beyond, "Batches survive bad rows: an invalid email or field in one subject gives that subject an outcome and a warning, not a failed batch (failing is a policy choice).";
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule id that is not in the glossary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a rule id of the glossary", crate::error::Echo(.0))]
pub struct UnknownRule(pub String);

impl std::str::FromStr for RuleId {
    type Err = UnknownRule;
    /// Parses an id as written (`"D4"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRule(s.to_owned()))
    }
}
