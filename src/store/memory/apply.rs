//! Applying a plan in memory: every precondition through the one check and
//! every effect validated first, then the writes (which cannot fail).

use super::*;

impl Inner {
    pub(super) fn check(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        let t = plan.tenant;
        for p in &plan.preconditions {
            let ids;
            let subjects;
            let members;
            let fields;
            let observed = match p.observe() {
                Observe::EmailKey(key) => {
                    ids = self.ids_by_key(t, key);
                    Observed::Records(&ids)
                }
                Observe::TicketId(ticket) => {
                    ids = self.ids_by_ticket(t, ticket);
                    Observed::Records(&ids)
                }
                Observe::BlockKey(key) => {
                    ids = self
                        .by_block
                        .get(&(t, key.clone()))
                        .map(Ids::sorted)
                        .unwrap_or_default();
                    Observed::Records(&ids)
                }
                Observe::Version(record) => Observed::Version(
                    self.slot_of(t, &record)
                        .and_then(|s| self.stored(s))
                        .map(|x| x.version),
                ),
                Observe::Exists(record) => Observed::Exists(self.contains(&record)),
                Observe::Event(event) => Observed::Event(self.events.get(&(t, event))),
                Observe::Fields(record) => {
                    fields = self.get(t, record).map(|r| r.fields);
                    Observed::Fields(fields.as_ref())
                }
                Observe::Links(record) => {
                    subjects = self.linked_to(t, record);
                    Observed::Subjects(&subjects)
                }
                Observe::SubjectLink(subject) => {
                    Observed::Link(self.links.get(&(t, subject)).copied())
                }
                Observe::Memberships(record) => {
                    members = self.memberships(t, record);
                    Observed::Memberships(&members)
                }
            };
            p.check(observed)?;
        }
        // Lengths are stored in 32 bits: larger values are refused, never cut.
        let storable = plan.effects.iter().all(|e| match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                Inner::storable(&record.fields)
            }
            Effect::UpdateRecord { changes, .. } => {
                changes.iter().all(|c| c.new.len() < NONE as usize)
            }
            _ => true,
        });
        if !storable {
            return Err(ApplyError::InvalidPlan("a field value of 4 GiB or more"));
        }
        // Effects must name records that exist (or that the plan creates
        // first) in the plan's tenant, so that applying cannot fail halfway.
        plan.check_effects(u64::MAX, |id| {
            Ok(self
                .find_slot(&id)
                .and_then(|s| self.stored(s))
                .and_then(|x| {
                    let tenant = *self.tenant_ids.get(x.tenant as usize)?;
                    Some(Held {
                        tenant,
                        version: x.version,
                    })
                }))
        })
    }

    pub(super) fn apply_effect(&mut self, t: TenantId, e: &Effect, n: &Normalization) {
        match e {
            Effect::CreateRecord { record } => {
                // Checked before any effect was applied: the id is free.
                let _ = self.add(record.clone(), n);
            }
            Effect::RestoreRecord { record } => {
                let _ = self.add(record.clone(), n);
                self.tombstones.remove(&(t, record.id));
            }
            Effect::DeleteRecord { record } => {
                self.retire(t, *record, n);
                self.links.retain(|(lt, _), r| !(*lt == t && r == record));
                self.campaigns
                    .retain(|(ct, _, r), _| !(*ct == t && r == record));
            }
            Effect::RemoveCampaignMember { record, campaign } => {
                self.campaigns.remove(&(t, campaign.clone(), *record));
            }
            Effect::UpdateRecord { record, changes } => {
                let Some(slot) = self.slot_of(t, record) else {
                    return;
                };
                let Some(mut r) = self.stored(slot).map(|x| self.decode(x)) else {
                    return;
                };
                let reindex = changes
                    .iter()
                    .any(|c| matches!(c.field.as_str(), FieldName::EMAIL | FieldName::TICKET_ID));
                // Alias keys leave out the email's: they move with either.
                let realias = changes.iter().any(|c| {
                    matches!(
                        c.field.as_str(),
                        FieldName::EMAIL | FieldName::EMAIL_ALIASES
                    )
                });
                if reindex {
                    self.unindex_key(slot);
                    self.unindex_ticket(&r);
                }
                if realias {
                    self.unindex_aliases(&r, n);
                }
                self.unindex_blocks(&r, n);
                for c in changes {
                    r.fields.set(c.field.clone(), c.new.clone());
                }
                // The stored key stays right unless the email changed.
                let new_key = changes
                    .iter()
                    .any(|c| c.field.as_str() == FieldName::EMAIL)
                    .then(|| r.email_key(n));
                let key: Box<[u8]> = match &new_key {
                    Some(k) => key_bytes(k).into(),
                    None => self.stored(slot).map_or(&b""[..], Stored::key).into(),
                };
                let blob = self.encode(&r, &key);
                if let Some(x) = self.records.get_mut(slot as usize) {
                    x.blob = blob;
                    // Checked before any effect was applied: no overflow.
                    x.version = x.version.saturating_add(1);
                }
                if reindex {
                    self.index_key(slot);
                    self.index_ticket(&r);
                }
                if realias {
                    self.index_aliases(&r, n);
                }
                self.index_blocks(&r, n);
            }
            Effect::Link { subject, record } => {
                self.links.insert((t, *subject), *record);
            }
            Effect::Unlink { subject, record } => {
                if self.links.get(&(t, *subject)) == Some(record) {
                    self.links.remove(&(t, *subject));
                }
            }
            Effect::AddCampaignMember {
                record,
                campaign,
                ticket,
            } => {
                let held = self
                    .campaigns
                    .entry((t, campaign.clone(), *record))
                    .or_default();
                if ticket.is_some() {
                    held.clone_from(ticket);
                }
            }
            Effect::MergeRecord { record, into } => self.merge(t, *record, *into, n),
            // The registration's data lives in the host (A20).
            Effect::UpdateSubject { .. } => {}
        }
    }

    /// The subjects of `t` linked to `record`, sorted (a scan of the
    /// tenant's links).
    pub(super) fn linked_to(&self, t: TenantId, record: RecordId) -> Vec<SubjectId> {
        self.links
            .range((t, SubjectId::from_u128(0))..=(t, SubjectId::from_u128(u128::MAX)))
            .filter(|(_, r)| **r == record)
            .map(|((_, s), _)| *s)
            .collect()
    }

    /// The campaign memberships of `record`, sorted by campaign.
    pub(super) fn memberships(&self, t: TenantId, record: RecordId) -> Vec<CampaignMember> {
        self.campaigns
            .iter()
            .filter(|((ct, _, r), _)| *ct == t && *r == record)
            .map(|((_, c, r), ticket)| CampaignMember {
                campaign: c.clone(),
                record: *r,
                ticket: ticket.clone(),
            })
            .collect()
    }

    /// Removes `record` from the records and their indexes (its links and
    /// memberships stay).
    pub(super) fn retire(&mut self, t: TenantId, record: RecordId, n: &Normalization) {
        let Some(slot) = self.slot_of(t, &record) else {
            return;
        };
        if let Some(gone) = self.stored(slot).map(|x| self.decode(x)) {
            self.unindex_ticket(&gone);
            self.unindex_aliases(&gone, n);
            self.unindex_blocks(&gone, n);
        }
        self.unindex_key(slot);
        let h = hash_id(&self.hasher, &record);
        if let Ok(e) = self.slots.find_entry(h, |&s| s == slot) {
            e.remove();
        }
        if let Some(x) = self.records.get_mut(slot as usize) {
            x.dead = true;
            // The slot stays; its text goes.
            x.blob = Box::default();
        }
        self.live = self.live.saturating_sub(1);
    }

    /// B9: removes `record`, moving its links and campaign memberships to
    /// `into`, and keeps its tombstone (B16).
    pub(super) fn merge(
        &mut self,
        t: TenantId,
        record: RecordId,
        into: RecordId,
        n: &Normalization,
    ) {
        let Some(gone) = self.get(t, record) else {
            return;
        };
        let memberships = self.memberships(t, record);
        let into_memberships = self
            .memberships(t, into)
            .into_iter()
            .filter(|m| memberships.iter().any(|c| c.campaign == m.campaign))
            .collect();
        let tomb = Tombstone::new(
            gone,
            into,
            self.linked_to(t, record),
            memberships,
            into_memberships,
        );
        self.tombstones.insert((t, record), tomb);
        self.retire(t, record, n);
        for (_, r) in self
            .links
            .iter_mut()
            .filter(|((lt, _), r)| *lt == t && **r == record)
        {
            *r = into;
        }
        let moved: Vec<CampaignId> = self
            .campaigns
            .keys()
            .filter(|(ct, _, r)| *ct == t && *r == record)
            .map(|(_, c, _)| c.clone())
            .collect();
        for c in moved {
            let ticket = self.campaigns.remove(&(t, c.clone(), record)).flatten();
            // The survivor's own ticket id stays; a missing one is taken over.
            let held = self.campaigns.entry((t, c, into)).or_default();
            if held.is_none() {
                *held = ticket;
            }
        }
    }
}
