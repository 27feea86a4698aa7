//! Subjects and the events that the engine decides on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fields::Fields;
pub use crate::record::CampaignId;
use crate::record::{EventId, RecordId, SubjectId, TenantId};

/// A digest of an event's payload ([`Event::digest`]: XXH3-128 over a
/// canonical binary encoding, held as a UUID): the same event id must always
/// come with the same digest (B7). Stores keep it as given and compare it
/// for equality only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct EventDigest(pub uuid::Uuid);

/// What happens when a linked subject's email changes (D8, D9, A15, A23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EmailChange {
    /// Re-match on the new email by D2–D4 (doo's default, D8).
    Reassign,
    /// Keep the link; with sync on the record's email takes the new one (D9, A14, A15).
    Retain,
    /// Create a new record for the new email (A23).
    NewRecord,
}

/// Who submitted an event's data (B14): how far it is trusted to change
/// records is the policy's [`crate::policy::Policy::trust`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Submitter {
    /// A person logged in with a verified identity.
    VerifiedLogin,
    /// The organizer (back office, contact center).
    Organizer,
    /// Self-service through a personal link or token ("My Registrations").
    SelfServiceToken,
    /// An anonymous public form: anyone may have typed any email.
    AnonymousForm,
    /// A bulk import.
    Import,
}

impl Submitter {
    /// The level's name, as explanations state it.
    pub fn name(self) -> &'static str {
        match self {
            Submitter::VerifiedLogin => "verified_login",
            Submitter::Organizer => "organizer",
            Submitter::SelfServiceToken => "self_service_token",
            Submitter::AnonymousForm => "anonymous_form",
            Submitter::Import => "import",
        }
    }

    /// The level named `name` ([`Submitter::name`]), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Submitter::VerifiedLogin,
            Submitter::Organizer,
            Submitter::SelfServiceToken,
            Submitter::AnonymousForm,
            Submitter::Import,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// Which person-shaped part of a booking a subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The booker (doo) or ticket buyer (Accelevents).
    Booker,
    /// An attendee (doo) or ticket holder (Accelevents).
    Attendee,
}

impl Role {
    /// Noun used in explanations.
    pub fn noun(self) -> &'static str {
        match self {
            Role::Booker => "booker",
            Role::Attendee => "attendee",
        }
    }
}

/// A person-shaped thing that can be linked to a record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Subject {
    /// Stable id (the booking's or attendee's id in the host).
    pub id: SubjectId,
    /// Booker or attendee.
    pub role: Role,
    /// The data entered for this subject; its email is the `email` field (D1).
    #[serde(default)]
    pub fields: Fields,
    /// The record this subject is linked to now, as stored by the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<RecordId>,
    /// The record the booking form was prefilled from (invitation, access
    /// code, contact-center prefill): assumed first (D7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<RecordId>,
    /// Number of tickets this subject holds (A19).
    #[serde(default = "one")]
    pub tickets: u32,
}

fn one() -> u32 {
    1
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("fields", &self.fields)
            .field("link", &self.link)
            .field("prefill", &self.prefill)
            .field("tickets", &self.tickets)
            .finish()
    }
}

impl Subject {
    /// A subject with no link, no prefill and one ticket.
    pub fn new(id: SubjectId, role: Role, fields: Fields) -> Self {
        Subject {
            id,
            role,
            fields,
            link: None,
            prefill: None,
            tickets: 1,
        }
    }

    /// A booker.
    pub fn booker(id: SubjectId, fields: Fields) -> Self {
        Subject::new(id, Role::Booker, fields)
    }

    /// An attendee / ticket holder.
    pub fn attendee(id: SubjectId, fields: Fields) -> Self {
        Subject::new(id, Role::Attendee, fields)
    }

    /// Sets the current link.
    pub fn linked_to(self, record: RecordId) -> Self {
        self.with_link(Some(record))
    }

    /// Sets the current link, or none (as a host reads it from its own
    /// registration row).
    #[must_use]
    pub fn with_link(mut self, link: Option<RecordId>) -> Self {
        self.link = link;
        self
    }

    /// Sets the prefill (D7), or none.
    #[must_use]
    pub fn with_prefill(mut self, prefill: Option<RecordId>) -> Self {
        self.prefill = prefill;
        self
    }

    /// Sets the prefill (D7).
    pub fn prefilled_from(self, record: RecordId) -> Self {
        self.with_prefill(Some(record))
    }

    /// Sets the number of tickets held.
    pub fn with_tickets(mut self, tickets: u32) -> Self {
        self.tickets = tickets;
        self
    }
}

/// How a registration came in (D16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// A regular booking by the booker.
    #[default]
    Online,
    /// A manual registration by the organizer.
    Manual,
    /// An import (treated like a registration).
    Import,
}

/// A completed booking / order: its booker and attendees (D2–D7, A1–A11, A21–A27).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Registration {
    /// Event id, stable across redeliveries.
    pub id: EventId,
    /// The tenant.
    pub tenant: TenantId,
    /// How it came in.
    #[serde(default)]
    pub channel: Channel,
    /// The event's campaign, if records are to become campaign members (A5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    /// Only buyer data was collected: holders carry the buyer's data (A12).
    #[serde(default)]
    pub buyer_data_only: bool,
    /// Booker first (if any), then attendees, in form order.
    pub subjects: Vec<Subject>,
    /// The event's own email-change behaviour (D22: doo sets it "on event
    /// level"); `None` follows the policy's [`crate::Policy::email_change`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_change: Option<EmailChange>,
    /// Who submitted the data (B14); `None` is trusted as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<Submitter>,
}

/// The setters registrations and edits share.
macro_rules! event_setters {
    () => {
        /// Sets the event's campaign (A5).
        pub fn campaign(self, campaign: CampaignId) -> Self {
            self.with_campaign(Some(campaign))
        }

        /// Sets the event's campaign, or none (A5).
        #[must_use]
        pub fn with_campaign(mut self, campaign: Option<CampaignId>) -> Self {
            self.campaign = campaign;
            self
        }

        /// Sets whether only the buyer's data is collected (A12).
        pub fn buyer_data_only(mut self, on: bool) -> Self {
            self.buyer_data_only = on;
            self
        }

        /// Sets the event's own email-change behaviour (D22).
        pub fn email_change(mut self, behaviour: EmailChange) -> Self {
            self.email_change = Some(behaviour);
            self
        }

        /// Sets who submitted the data (B14).
        pub fn submitter(mut self, submitter: Submitter) -> Self {
            self.submitter = Some(submitter);
            self
        }
    };
}

impl Registration {
    event_setters!();

    /// A registration of `subjects` online, without campaign, collecting
    /// every subject's data, following the policy on email change;
    /// the setters change that.
    pub fn new(id: EventId, tenant: TenantId, subjects: Vec<Subject>) -> Self {
        Registration {
            id,
            tenant,
            channel: Channel::Online,
            campaign: None,
            buyer_data_only: false,
            subjects,
            email_change: None,
            submitter: None,
        }
    }

    /// Sets how the registration was made (D6).
    pub fn channel(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }
}

/// Who changed a subject's data, and how (D10, D16, D17, A17, A18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum EditSource {
    /// The organizer in the booking details. `sync` is the per-edit choice
    /// (D17); `None` follows the policy.
    Organizer {
        /// Whether changed data syncs to the record for this edit.
        #[serde(default)]
        sync: Option<bool>,
    },
    /// The booker / attendee in self-service ("My Registrations", D10, A17).
    SelfService,
    /// The update button clicked for the ticket holder (A12, A18): pushes
    /// all data, even when nothing changed.
    UpdateTrigger,
}

/// A change of one subject's data after registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Edit {
    /// Event id.
    pub id: EventId,
    /// The tenant.
    pub tenant: TenantId,
    /// The subject as it was (old fields, current link).
    pub subject: Subject,
    /// The subject's fields after the edit (absent names are unchanged).
    pub new_fields: Fields,
    /// Who edited.
    pub source: EditSource,
    /// The event's campaign (A5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    /// The buyer's data, when only buyer data is collected (A12) or for the
    /// last-name fallback of holders without email (A26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Fields>,
    /// Only buyer data is collected for this order (A12).
    #[serde(default)]
    pub buyer_data_only: bool,
    /// The event's own email-change behaviour (D22); `None` follows the
    /// policy's [`crate::Policy::email_change`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_change: Option<EmailChange>,
    /// Who submitted the data (B14); `None` is trusted as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<Submitter>,
}

impl Edit {
    event_setters!();

    /// An edit of `subject` (as it was, with its current link) to
    /// `new_fields` (names absent there are unchanged), by `source`;
    /// without campaign or buyer data, following the policy on email
    /// change. The setters change that.
    pub fn new(
        id: EventId,
        tenant: TenantId,
        subject: Subject,
        new_fields: Fields,
        source: EditSource,
    ) -> Self {
        Edit {
            id,
            tenant,
            subject,
            new_fields,
            source,
            campaign: None,
            buyer: None,
            buyer_data_only: false,
            email_change: None,
            submitter: None,
        }
    }

    /// Sets the buyer's data (A12, A26).
    pub fn buyer(self, buyer: Fields) -> Self {
        self.with_buyer(Some(buyer))
    }

    /// Sets the buyer's data, or none (A12, A26).
    #[must_use]
    pub fn with_buyer(mut self, buyer: Option<Fields>) -> Self {
        self.buyer = buyer;
        self
    }

    /// The fields after the edit: the old ones with the new ones laid over.
    pub fn merged_fields(&self) -> Fields {
        let mut f = self.subject.fields.clone();
        for (n, v) in self.new_fields.iter() {
            f.set(n.clone(), v.clone());
        }
        f
    }
}

/// "Change connected contact": the organizer links a subject to a chosen record (D11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Relink {
    /// Event id.
    pub id: EventId,
    /// The tenant.
    pub tenant: TenantId,
    /// The subject (its current link is replaced).
    pub subject: Subject,
    /// The chosen record.
    pub to: RecordId,
}

impl Relink {
    /// The organizer links `subject` to the record `to` (D11).
    pub fn new(id: EventId, tenant: TenantId, subject: Subject, to: RecordId) -> Self {
        Relink {
            id,
            tenant,
            subject,
            to,
        }
    }
}

/// A record changed in the contact system (A20): with a two-way integration
/// the linked registrations take the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RecordChange {
    /// Event id.
    pub id: EventId,
    /// The tenant.
    pub tenant: TenantId,
    /// The record that changed.
    pub record: RecordId,
    /// Its fields after the change.
    pub new_fields: Fields,
    /// The subjects linked to it, with their current fields.
    pub subjects: Vec<Subject>,
}

impl RecordChange {
    /// The record `record` now has `new_fields`; `subjects` are linked to
    /// it, with their current fields (A20).
    pub fn new(
        id: EventId,
        tenant: TenantId,
        record: RecordId,
        new_fields: Fields,
        subjects: Vec<Subject>,
    ) -> Self {
        RecordChange {
            id,
            tenant,
            record,
            new_fields,
            subjects,
        }
    }
}

/// Something that happened to a booking, its subjects or a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A new booking / order.
    Registered(Registration),
    /// A subject's data changed.
    Edited(Edit),
    /// A manual relink (D11).
    Relinked(Relink),
    /// A record changed in the contact system (A20).
    RecordChanged(RecordChange),
}

impl Event {
    /// The event's id.
    pub fn id(&self) -> EventId {
        match self {
            Event::Registered(e) => e.id,
            Event::Edited(e) => e.id,
            Event::Relinked(e) => e.id,
            Event::RecordChanged(e) => e.id,
        }
    }

    /// The digest of the event's payload (B7): equal events have equal
    /// digests; any change to the payload changes it. XXH3-128 over a
    /// canonical binary encoding (tags, ids, length-prefixed text), so
    /// digests stored by a database stay valid across versions.
    pub fn digest(&self) -> EventDigest {
        self.digest_with(&mut Vec::with_capacity(256))
    }

    /// [`Event::digest`] with a scratch buffer the caller reuses (a batch
    /// digests a million events).
    pub(crate) fn digest_with(&self, buf: &mut Vec<u8>) -> EventDigest {
        buf.clear();
        let mut h = Digester(buf);
        match self {
            Event::Registered(r) => {
                h.tag(1);
                h.id(r.id.0);
                h.id(r.tenant.0);
                h.tag(r.channel as u8);
                h.opt_text(r.campaign.as_ref().map(|c| c.0.as_str()));
                h.tag(u8::from(r.buyer_data_only));
                h.len(r.subjects.len());
                for s in &r.subjects {
                    h.subject(s);
                }
                h.email_change(r.email_change);
                h.submitter(r.submitter);
            }
            Event::Edited(e) => {
                h.tag(2);
                h.id(e.id.0);
                h.id(e.tenant.0);
                h.subject(&e.subject);
                h.fields(&e.new_fields);
                match e.source {
                    EditSource::Organizer { sync } => {
                        h.tag(1);
                        h.tag(match sync {
                            None => 0,
                            Some(false) => 1,
                            Some(true) => 2,
                        });
                    }
                    EditSource::SelfService => h.tag(2),
                    EditSource::UpdateTrigger => h.tag(3),
                }
                h.opt_text(e.campaign.as_ref().map(|c| c.0.as_str()));
                match &e.buyer {
                    None => h.tag(0),
                    Some(b) => {
                        h.tag(1);
                        h.fields(b);
                    }
                }
                h.tag(u8::from(e.buyer_data_only));
                h.email_change(e.email_change);
                h.submitter(e.submitter);
            }
            Event::Relinked(r) => {
                h.tag(3);
                h.id(r.id.0);
                h.id(r.tenant.0);
                h.subject(&r.subject);
                h.id(r.to.0);
            }
            Event::RecordChanged(c) => {
                h.tag(4);
                h.id(c.id.0);
                h.id(c.tenant.0);
                h.id(c.record.0);
                h.fields(&c.new_fields);
                h.len(c.subjects.len());
                for s in &c.subjects {
                    h.subject(s);
                }
            }
        }
        EventDigest(uuid::Uuid::from_u128(xxhash_rust::xxh3::xxh3_128(h.0)))
    }

    /// The subjects the event is about.
    pub fn subjects(&self) -> Vec<&Subject> {
        match self {
            Event::Registered(r) => r.subjects.iter().collect(),
            Event::Edited(e) => vec![&e.subject],
            Event::Relinked(r) => vec![&r.subject],
            Event::RecordChanged(c) => c.subjects.iter().collect(),
        }
    }

    /// The event's tenant.
    pub fn tenant(&self) -> TenantId {
        match self {
            Event::Registered(e) => e.tenant,
            Event::Edited(e) => e.tenant,
            Event::Relinked(e) => e.tenant,
            Event::RecordChanged(e) => e.tenant,
        }
    }
}

/// Collects the canonical encoding of an event (hashed in one call: XXH3's
/// one-shot form is several times faster than many small updates).
struct Digester<'a>(&'a mut Vec<u8>);

impl Digester<'_> {
    fn tag(&mut self, t: u8) {
        self.0.push(t);
    }
    /// D22: written only when the event sets it, so digests of events
    /// without it (stored by earlier versions) stay as they were.
    fn email_change(&mut self, e: Option<EmailChange>) {
        if let Some(e) = e {
            self.tag(0xEC);
            self.tag(match e {
                EmailChange::Reassign => 1,
                EmailChange::Retain => 2,
                EmailChange::NewRecord => 3,
            });
        }
    }
    /// Only when set, so digests of events without one stay as they were.
    fn submitter(&mut self, s: Option<Submitter>) {
        if let Some(s) = s {
            self.tag(0x5B);
            self.tag(s as u8 + 1);
        }
    }
    fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }
    fn id(&mut self, id: uuid::Uuid) {
        self.0.extend_from_slice(id.as_bytes());
    }
    fn text(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            None => self.tag(0),
            Some(s) => {
                self.tag(1);
                self.text(s);
            }
        }
    }
    fn opt_id(&mut self, id: Option<uuid::Uuid>) {
        match id {
            None => self.tag(0),
            Some(id) => {
                self.tag(1);
                self.id(id);
            }
        }
    }
    fn fields(&mut self, f: &Fields) {
        self.len(f.len());
        for (n, v) in f.iter() {
            self.text(n.as_str());
            self.text(v.as_str());
        }
    }
    fn subject(&mut self, s: &Subject) {
        self.id(s.id.0);
        self.tag(s.role as u8);
        self.fields(&s.fields);
        self.opt_id(s.link.map(|r| r.0));
        self.opt_id(s.prefill.map(|r| r.0));
        self.0.extend_from_slice(&s.tickets.to_le_bytes());
    }
}
