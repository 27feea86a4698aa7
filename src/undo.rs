//! Reversible plans (B16): applying a plan yields its inverse, and a merge
//! can be undone from the tombstone the store keeps.
//!
//! The plans already say what they change (B3); what they replace (a
//! subject's previous link, a campaign membership's ticket id, the record a
//! merge takes away) is read from the store first. [`prepare`] reads it and
//! returns two plans:
//!
//! * the plan to apply, with preconditions added that pin what was read
//!   (the records' versions, the subjects linked to each record it changes
//!   links of, the memberships it changes), so a concurrent change between
//!   the read and the apply is a [`crate::Conflict`], never a wrong inverse;
//! * its inverse, whose preconditions are the state the plan leaves behind
//!   and whose effects restore the state before: created records are
//!   deleted, fields restored, links and memberships restored, records
//!   merged away brought back. An inverse applied after something it relies
//!   on has changed (a restored field edited since, a new link to a created
//!   record) fails with a [`crate::Conflict`] and changes nothing.
//!
//! [`apply_reversible`] does both. Versions only go up: an undone record has
//! the fields it had, at a higher version, so a plan decided before the undo
//! no longer applies to it. The events a plan decided stay recorded as
//! applied (a redelivery does not redo an undone plan), and the field
//! history keeps both the change and its undo (the undo's entries cite B16).
//!
//! ```
//! use contact_sync::{undo, Effect, FieldName, FieldValue, Fields, InMemoryStore, Plan,
//!     Record, RecordId, RecordType, TenantId, ContactStore};
//! let tenant = TenantId::new(uuid::Uuid::from_u128(1));
//! let store = InMemoryStore::new();
//! let mut fields = Fields::new();
//! fields.set(FieldName::new("email"), FieldValue::new("ann@example.com"));
//! let record = Record::new(RecordId::new(uuid::Uuid::from_u128(2)), tenant, RecordType::Contact, fields);
//! let mut plan = Plan::new(tenant);
//! plan.effects.push(Effect::create_record(record.clone()));
//! let inverse = undo::apply_reversible(&store, &plan).unwrap();
//! assert!(store.record(tenant, record.id).unwrap().is_some());
//! contact_sync::ApplyPlan::apply(&store, &inverse).unwrap();
//! assert!(store.record(tenant, record.id).unwrap().is_none());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ApplyError;
use crate::event::CampaignId;
use crate::fields::{FieldName, FieldValue};
use crate::plan::{Effect, FieldChange, Plan, Precondition, RuleId};
use crate::record::{Record, RecordId, SubjectId, TenantId};
use crate::store::asynchronous::AsyncUndoStore;
use crate::store::{ApplyPlan, CampaignMember, ContactStore, Tombstone, UndoStore};

/// A plan ready to apply with its inverse (B16), from [`prepare`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reversible {
    /// The plan to apply: the given plan with preconditions that pin what
    /// its inverse was computed from.
    pub plan: Plan,
    /// The plan that undoes it, valid once `plan` is applied.
    pub inverse: Plan,
}

/// What a plan touches, as the store holds it before the plan.
#[derive(Debug, Default, Clone)]
struct State {
    records: BTreeMap<RecordId, Option<Record>>,
    /// The subjects linked to each record read.
    linked: BTreeMap<RecordId, BTreeSet<SubjectId>>,
    /// Each subject's link, for the subjects read or found linked.
    links: BTreeMap<SubjectId, Option<RecordId>>,
    members: BTreeMap<RecordId, BTreeMap<CampaignId, Option<FieldValue>>>,
}

/// The subjects and records whose state a plan's inverse needs.
fn subjects_of(plan: &Plan) -> BTreeSet<SubjectId> {
    plan.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Link { subject, .. } | Effect::Unlink { subject, .. } => Some(*subject),
            _ => None,
        })
        .collect()
}

fn records_of(plan: &Plan, links: &BTreeMap<SubjectId, Option<RecordId>>) -> BTreeSet<RecordId> {
    let mut out: BTreeSet<RecordId> = links.values().flatten().copied().collect();
    for e in &plan.effects {
        match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                out.insert(record.id);
            }
            Effect::UpdateRecord { record, .. }
            | Effect::Link { record, .. }
            | Effect::Unlink { record, .. }
            | Effect::AddCampaignMember { record, .. }
            | Effect::RemoveCampaignMember { record, .. }
            | Effect::DeleteRecord { record } => {
                out.insert(*record);
            }
            Effect::MergeRecord { record, into } => {
                out.insert(*record);
                out.insert(*into);
            }
            // The host's registration data: no record state.
            Effect::UpdateSubject { .. } => {}
        }
    }
    out
}

impl State {
    fn add_record(
        &mut self,
        id: RecordId,
        record: Option<Record>,
        linked: Vec<SubjectId>,
        members: Vec<CampaignMember>,
    ) {
        for s in &linked {
            self.links.insert(*s, Some(id));
        }
        self.records.insert(id, record);
        self.linked.insert(id, linked.into_iter().collect());
        self.members.insert(
            id,
            members
                .into_iter()
                .map(|m| (m.campaign, m.ticket))
                .collect(),
        );
    }

    fn members_of(&self, record: RecordId) -> Vec<CampaignMember> {
        self.members
            .get(&record)
            .map(|m| {
                m.iter()
                    .map(|(c, t)| CampaignMember {
                        campaign: c.clone(),
                        record,
                        ticket: t.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn linked_to(&self, record: RecordId) -> Vec<SubjectId> {
        self.linked
            .get(&record)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    fn link(&mut self, subject: SubjectId, to: Option<RecordId>) {
        if let Some(Some(old)) = self.links.get(&subject).copied() {
            if let Some(set) = self.linked.get_mut(&old) {
                set.remove(&subject);
            }
        }
        if let Some(r) = to {
            self.linked.entry(r).or_default().insert(subject);
        }
        self.links.insert(subject, to);
    }

    fn remove_record(&mut self, id: RecordId) {
        for s in self.linked_to(id) {
            self.link(s, None);
        }
        self.records.insert(id, None);
        self.members.insert(id, BTreeMap::new());
    }

    /// The records and subjects whose state `e` reads or changes.
    fn touched(&self, e: &Effect) -> (Vec<RecordId>, Vec<SubjectId>) {
        match e {
            // Undone by deleting the record: no state before it is needed.
            Effect::CreateRecord { .. }
            | Effect::RestoreRecord { .. }
            | Effect::UpdateSubject { .. } => (Vec::new(), Vec::new()),
            Effect::Link { subject, record } | Effect::Unlink { subject, record } => {
                let mut records = vec![*record];
                records.extend(self.links.get(subject).copied().flatten());
                (records, vec![*subject])
            }
            Effect::UpdateRecord { record, .. }
            | Effect::AddCampaignMember { record, .. }
            | Effect::RemoveCampaignMember { record, .. }
            | Effect::DeleteRecord { record } => (vec![*record], Vec::new()),
            Effect::MergeRecord { record, into } => (vec![*record, *into], Vec::new()),
        }
    }

    /// A copy of the state of `records` (with their linked subjects'
    /// links) and of `subjects`' links.
    fn part(&self, records: &[RecordId], subjects: &[SubjectId]) -> State {
        let mut out = State::default();
        for id in records {
            if let Some(r) = self.records.get(id) {
                out.records.insert(*id, r.clone());
            }
            if let Some(set) = self.linked.get(id) {
                out.links.extend(set.iter().map(|s| (*s, Some(*id))));
                out.linked.insert(*id, set.clone());
            }
            if let Some(m) = self.members.get(id) {
                out.members.insert(*id, m.clone());
            }
        }
        for s in subjects {
            if let Some(l) = self.links.get(s) {
                out.links.insert(*s, *l);
            }
        }
        out
    }

    /// Applies `e` (as a store would) to what was read.
    fn apply(&mut self, e: &Effect) {
        match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                self.records.insert(record.id, Some(record.clone()));
            }
            Effect::UpdateRecord { record, changes } => {
                if let Some(Some(r)) = self.records.get_mut(record) {
                    for c in changes {
                        r.fields.set(c.field.clone(), c.new.clone());
                    }
                    r.version = r.version.saturating_add(1);
                }
            }
            Effect::Link { subject, record } => self.link(*subject, Some(*record)),
            // A store unlinks only a subject linked to this record.
            Effect::Unlink { subject, record } => {
                if self.links.get(subject) == Some(&Some(*record)) {
                    self.link(*subject, None);
                }
            }
            Effect::AddCampaignMember {
                record,
                campaign,
                ticket,
            } => {
                let held = self
                    .members
                    .entry(*record)
                    .or_default()
                    .entry(campaign.clone())
                    .or_default();
                if ticket.is_some() {
                    held.clone_from(ticket);
                }
            }
            Effect::RemoveCampaignMember { record, campaign } => {
                if let Some(m) = self.members.get_mut(record) {
                    m.remove(campaign);
                }
            }
            Effect::MergeRecord { record, into } => {
                for s in self.linked_to(*record) {
                    self.link(s, Some(*into));
                }
                let moved = std::mem::take(self.members.entry(*record).or_default());
                let target = self.members.entry(*into).or_default();
                for (c, t) in moved {
                    let held = target.entry(c).or_default();
                    if held.is_none() {
                        *held = t;
                    }
                }
                self.records.insert(*record, None);
            }
            Effect::DeleteRecord { record } => self.remove_record(*record),
            // The host's registration data: no record state.
            Effect::UpdateSubject { .. } => {}
        }
    }
}

/// The effects that bring a merged-away record back (B16), given the
/// links and memberships of the record it went into now.
fn restore(
    t: &Tombstone,
    into_linked: &[SubjectId],
    into_members: &[CampaignMember],
) -> Vec<Effect> {
    let mut record = t.record.clone();
    record.version = record.version.saturating_add(1);
    let mut out = vec![Effect::RestoreRecord { record }];
    // Subjects moved since stay where they are now.
    out.extend(
        t.subjects
            .iter()
            .filter(|s| into_linked.contains(s))
            .map(|s| Effect::Link {
                subject: *s,
                record: t.record.id,
            }),
    );
    for m in &t.memberships {
        let before = t.into_memberships.iter().find(|b| b.campaign == m.campaign);
        let now = into_members.iter().find(|b| b.campaign == m.campaign);
        match (before, now) {
            (None, Some(_)) => out.push(Effect::RemoveCampaignMember {
                record: t.into,
                campaign: m.campaign.clone(),
            }),
            (Some(b), Some(n)) if b.ticket != n.ticket => {
                out.push(Effect::RemoveCampaignMember {
                    record: t.into,
                    campaign: m.campaign.clone(),
                });
                out.push(Effect::AddCampaignMember {
                    record: t.into,
                    campaign: m.campaign.clone(),
                    ticket: b.ticket.clone(),
                });
            }
            _ => {}
        }
        out.push(Effect::AddCampaignMember {
            record: t.record.id,
            campaign: m.campaign.clone(),
            ticket: m.ticket.clone(),
        });
    }
    out
}

/// The effects that undo `e`, applied to `before` (which `after` is).
fn undo_effect(
    e: &Effect,
    before: &State,
    after: &State,
    created: &BTreeSet<RecordId>,
) -> Vec<Effect> {
    match e {
        Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
            vec![Effect::DeleteRecord { record: record.id }]
        }
        // A record the plan creates or restores is deleted whole.
        Effect::UpdateRecord { record, .. } if created.contains(record) => Vec::new(),
        Effect::UpdateRecord { record, changes } => {
            let (Some(Some(old)), Some(Some(new))) =
                (before.records.get(record), after.records.get(record))
            else {
                return Vec::new();
            };
            let mut fields: Vec<&FieldName> = Vec::new();
            for c in changes {
                if !fields.contains(&&c.field) {
                    fields.push(&c.field);
                }
            }
            let changes: Vec<FieldChange> = fields
                .into_iter()
                .filter_map(|f| {
                    let was = old.fields.get(f.as_str());
                    let is = new.fields.get(f.as_str());
                    (was != is).then(|| FieldChange {
                        field: f.clone(),
                        old: is.cloned(),
                        new: was.cloned().unwrap_or_else(FieldValue::blank),
                        rule: RuleId::B16,
                    })
                })
                .collect();
            if changes.is_empty() {
                Vec::new()
            } else {
                vec![Effect::UpdateRecord {
                    record: *record,
                    changes,
                }]
            }
        }
        Effect::Link { subject, record } | Effect::Unlink { subject, record } => {
            match before.links.get(subject).copied().flatten() {
                prev if prev == after.links.get(subject).copied().flatten() => Vec::new(),
                Some(prev) => vec![Effect::Link {
                    subject: *subject,
                    record: prev,
                }],
                None => vec![Effect::Unlink {
                    subject: *subject,
                    record: *record,
                }],
            }
        }
        Effect::AddCampaignMember {
            record, campaign, ..
        }
        | Effect::RemoveCampaignMember { record, campaign } => {
            let was = before.members.get(record).and_then(|m| m.get(campaign));
            let is = after.members.get(record).and_then(|m| m.get(campaign));
            match (was, is) {
                (a, b) if a == b => Vec::new(),
                (None, _) => vec![Effect::RemoveCampaignMember {
                    record: *record,
                    campaign: campaign.clone(),
                }],
                (Some(t), None) => vec![Effect::AddCampaignMember {
                    record: *record,
                    campaign: campaign.clone(),
                    ticket: t.clone(),
                }],
                (Some(t), Some(_)) => vec![
                    Effect::RemoveCampaignMember {
                        record: *record,
                        campaign: campaign.clone(),
                    },
                    Effect::AddCampaignMember {
                        record: *record,
                        campaign: campaign.clone(),
                        ticket: t.clone(),
                    },
                ],
            }
        }
        Effect::MergeRecord { record, into } => match tombstone(before, *record, *into) {
            Some(tomb) => restore(&tomb, &after.linked_to(*into), &after.members_of(*into)),
            None => Vec::new(),
        },
        Effect::DeleteRecord { record } => match tombstone(before, *record, *record) {
            // Everything comes back to the record itself.
            Some(tomb) => {
                let mut r = tomb.record.clone();
                r.version = r.version.saturating_add(1);
                let mut out = vec![Effect::RestoreRecord { record: r }];
                out.extend(tomb.subjects.iter().map(|s| Effect::Link {
                    subject: *s,
                    record: *record,
                }));
                out.extend(tomb.memberships.iter().map(|m| Effect::AddCampaignMember {
                    record: *record,
                    campaign: m.campaign.clone(),
                    ticket: m.ticket.clone(),
                }));
                out
            }
            None => Vec::new(),
        },
        Effect::UpdateSubject { subject, changes } => {
            let back: Vec<FieldChange> = changes
                .iter()
                .rev()
                .map(|c| FieldChange {
                    field: c.field.clone(),
                    old: Some(c.new.clone()),
                    new: c.old.clone().unwrap_or_else(FieldValue::blank),
                    rule: RuleId::B16,
                })
                .collect();
            vec![Effect::UpdateSubject {
                subject: *subject,
                changes: back,
            }]
        }
    }
}

/// The tombstone of `record` going into `into`, from the state before.
fn tombstone(before: &State, record: RecordId, into: RecordId) -> Option<Tombstone> {
    let gone = before.records.get(&record)?.as_ref()?;
    let campaigns = before.members_of(record);
    let into_memberships = before
        .members_of(into)
        .into_iter()
        .filter(|m| campaigns.iter().any(|c| c.campaign == m.campaign))
        .collect();
    Some(Tombstone::new(
        gone.clone(),
        into,
        before.linked_to(record),
        campaigns,
        into_memberships,
    ))
}

/// What a precondition [`build`] adds is about: a record's version, links
/// or memberships, or a subject's link. Two preconditions can be equal only
/// when their pins are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pin {
    Version(RecordId),
    Links(RecordId),
    Memberships(RecordId),
    Subject(SubjectId),
}

fn pin(p: &Precondition) -> Option<Pin> {
    match p {
        Precondition::RecordVersion { record, .. } => Some(Pin::Version(*record)),
        Precondition::Links { record, .. } => Some(Pin::Links(*record)),
        Precondition::Memberships { record, .. } => Some(Pin::Memberships(*record)),
        Precondition::SubjectLink { subject, .. } => Some(Pin::Subject(*subject)),
        _ => None,
    }
}

/// Appends each of `added` to `out` unless `out` holds it already, in
/// linear time: `added` holds each pin once, so only the preconditions
/// `out` held before are compared, and only those of the same pin.
fn append_new(out: &mut Vec<Precondition>, added: Vec<Precondition>) {
    let mut held: BTreeMap<Pin, Vec<&Precondition>> = BTreeMap::new();
    for p in out.iter() {
        if let Some(k) = pin(p) {
            held.entry(k).or_default().push(p);
        }
    }
    let kept: Vec<Precondition> = added
        .into_iter()
        .filter(|p| {
            pin(p)
                .and_then(|k| held.get(&k))
                .is_none_or(|at| !at.contains(&p))
        })
        .collect();
    out.extend(kept);
}

/// The plan to apply and its inverse, from the state read before.
fn build(plan: &Plan, before: &State) -> Reversible {
    // The records the plan brings into being (created or restored): the
    // inverse deletes them whole.
    let created: BTreeSet<RecordId> = plan
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => Some(record.id),
            _ => None,
        })
        .collect();
    let mut state = before.clone();
    let mut groups: Vec<Vec<Effect>> = Vec::with_capacity(plan.effects.len());
    for e in &plan.effects {
        // Only what the effect touches is compared, so a large plan costs
        // no copy of the whole state per effect.
        let (records, subjects) = state.touched(e);
        let was = state.part(&records, &subjects);
        state.apply(e);
        let is = state.part(&records, &subjects);
        groups.push(undo_effect(e, &was, &is, &created));
    }
    let after = state;
    let mut inverse = Plan::new(plan.tenant);
    inverse.effects = groups.into_iter().rev().flatten().collect();

    // What the plan relies on: the versions of the records whose fields the
    // inverse restores, the links and memberships it changes.
    let mut pinned = plan.clone();
    let mut forward: Vec<Precondition> = Vec::new();
    let mut back: Vec<Precondition> = Vec::new();
    for (id, was) in &before.records {
        let is = after.records.get(id).cloned().flatten();
        let fields_change = match (was, &is) {
            (Some(a), Some(b)) => a.version != b.version,
            (None, None) => false,
            _ => true,
        };
        if fields_change {
            if let Some(a) = was {
                forward.push(Precondition::RecordVersion {
                    record: *id,
                    version: a.version,
                });
            }
            match &is {
                // Values, not the version: undoing a later plan restores
                // the values at a higher version.
                Some(b) => back.push(Precondition::RecordFields {
                    record: *id,
                    fields: b.fields.clone(),
                }),
                None => back.push(Precondition::RecordAbsent { record: *id }),
            }
        }
        let links_change = before.linked.get(id) != after.linked.get(id) || created.contains(id);
        if links_change {
            forward.push(Precondition::Links {
                record: *id,
                subjects: before.linked_to(*id),
            });
            back.push(Precondition::Links {
                record: *id,
                subjects: after.linked_to(*id),
            });
        }
        let members_change =
            before.members.get(id) != after.members.get(id) || created.contains(id);
        if members_change {
            forward.push(Precondition::Memberships {
                record: *id,
                members: before.members_of(*id),
            });
            back.push(Precondition::Memberships {
                record: *id,
                members: after.members_of(*id),
            });
        }
    }
    // A record the plan already pins (at the version it read, or absent)
    // keeps that pin beside this one: both hold, or the apply is refused
    // for the plan's own pin, which comes first.
    for (s, was) in &before.links {
        let is = after.links.get(s).copied().flatten();
        if *was != is {
            forward.push(Precondition::SubjectLink {
                subject: *s,
                record: *was,
            });
            back.push(Precondition::SubjectLink {
                subject: *s,
                record: is,
            });
        }
    }
    append_new(&mut pinned.preconditions, forward);
    inverse.preconditions = back;
    Reversible {
        plan: pinned,
        inverse,
    }
}

/// Reads the state `plan` touches through `store`, then builds the plan to
/// apply and its inverse (B16). Apply [`Reversible::plan`], not `plan`: its
/// added preconditions make the inverse exact.
///
/// # Errors
/// The store's own error.
pub fn prepare<S: UndoStore + ?Sized>(
    store: &S,
    plan: &Plan,
) -> Result<Reversible, <S as ContactStore>::Error> {
    let t = plan.tenant;
    let mut state = State::default();
    for s in subjects_of(plan) {
        state.links.insert(s, store.subject_link(t, s)?);
    }
    for id in records_of(plan, &state.links) {
        let record = store.record(t, id)?;
        let linked = store.linked_subjects(t, id)?;
        let members = store.campaign_memberships(t, id)?;
        state.add_record(id, record, linked, members);
    }
    Ok(build(plan, &state))
}

/// [`prepare`] for an asynchronous store.
///
/// # Errors
/// The store's own error.
pub async fn prepare_async<S: AsyncUndoStore + ?Sized>(
    store: &S,
    plan: &Plan,
) -> Result<Reversible, <S as crate::AsyncContactStore>::Error> {
    let t = plan.tenant;
    let mut state = State::default();
    for s in subjects_of(plan) {
        state.links.insert(s, store.subject_link(t, s).await?);
    }
    for id in records_of(plan, &state.links) {
        let record = store.record(t, id).await?;
        let linked = store.linked_subjects(t, id).await?;
        let members = store.campaign_memberships(t, id).await?;
        state.add_record(id, record, linked, members);
    }
    Ok(build(plan, &state))
}

/// Applies `plan` and returns its inverse (B16): apply the inverse to undo
/// it. All or nothing, like [`ApplyPlan::apply`].
///
/// # Errors
/// As [`ApplyPlan::apply`]; a [`crate::Conflict`] also when the store
/// changed between reading and applying (re-plan).
pub fn apply_reversible<S: UndoStore + ?Sized>(
    store: &S,
    plan: &Plan,
) -> Result<Plan, ApplyError<<S as ContactStore>::Error>> {
    let r = prepare(store, plan).map_err(ApplyError::Store)?;
    ApplyPlan::apply(store, &r.plan)?;
    Ok(r.inverse)
}

/// [`apply_reversible`] for an asynchronous store.
///
/// # Errors
/// As [`apply_reversible`].
pub async fn apply_reversible_async<S: AsyncUndoStore + ?Sized>(
    store: &S,
    plan: &Plan,
) -> Result<Plan, ApplyError<<S as crate::AsyncContactStore>::Error>> {
    let r = prepare_async(store, plan)
        .await
        .map_err(ApplyError::Store)?;
    crate::AsyncApplyPlan::apply(store, &r.plan).await?;
    Ok(r.inverse)
}

fn unmerge_plan(
    tenant: TenantId,
    tomb: &Tombstone,
    into_linked: Vec<SubjectId>,
    into_members: Vec<CampaignMember>,
) -> Plan {
    let mut plan = Plan::new(tenant);
    plan.effects = restore(tomb, &into_linked, &into_members);
    plan.preconditions = vec![
        Precondition::RecordAbsent {
            record: tomb.record.id,
        },
        Precondition::Links {
            record: tomb.into,
            subjects: into_linked,
        },
        Precondition::Memberships {
            record: tomb.into,
            members: into_members,
        },
    ];
    plan
}

/// The plan that brings back `record`, merged away (B9) in `tenant`, from
/// the store's [`Tombstone`] (B16), for a host that did not keep the
/// merge's inverse: the record with the fields it had, the subjects that
/// were linked to it and are still linked to the record it went into, and
/// its campaign memberships. The field values the merge filled into the
/// survivor stay there (undo them with the merge's inverse, or edit them).
/// `None` when the store holds no tombstone of `record`.
///
/// # Errors
/// The store's own error.
pub fn unmerge<S: UndoStore + ?Sized>(
    store: &S,
    tenant: TenantId,
    record: RecordId,
) -> Result<Option<Plan>, <S as ContactStore>::Error> {
    let Some(tomb) = store.tombstone(tenant, record)? else {
        return Ok(None);
    };
    let linked = store.linked_subjects(tenant, tomb.into)?;
    let members = store.campaign_memberships(tenant, tomb.into)?;
    Ok(Some(unmerge_plan(tenant, &tomb, linked, members)))
}

/// [`unmerge`] for an asynchronous store.
///
/// # Errors
/// The store's own error.
pub async fn unmerge_async<S: AsyncUndoStore + ?Sized>(
    store: &S,
    tenant: TenantId,
    record: RecordId,
) -> Result<Option<Plan>, <S as crate::AsyncContactStore>::Error> {
    let Some(tomb) = store.tombstone(tenant, record).await? else {
        return Ok(None);
    };
    let linked = store.linked_subjects(tenant, tomb.into).await?;
    let members = store.campaign_memberships(tenant, tomb.into).await?;
    Ok(Some(unmerge_plan(tenant, &tomb, linked, members)))
}
