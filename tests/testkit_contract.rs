//! The testkit checks the whole apply contract (B6, B7, B8, A28, A30, B9, B15):
//! for each check, a store broken in exactly that part fails it, and only
//! the checks that cover that part fail.
#![cfg(feature = "testkit")]

use std::convert::Infallible;

use contact_sync::testkit::{self, Check};
use contact_sync::Ready;
use contact_sync::*;

/// A part of the contract a store gets wrong: one sentence of the contract
/// each, so that every check is shown to catch its own sentence and no
/// other (the testkit's own mutation control). These stay here, not in
/// `testkit::Fault`, which holds the faults a host injects into its own
/// tests.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `Link` effects are dropped.
    IgnoresLinks,
    /// `Unlink` removes the subject's link whatever record it names.
    UnlinksAnyRecord,
    /// Ticket ids on campaign members are dropped.
    DropsMemberTickets,
    /// Ticket lookups find nothing.
    NoTicketLookups,
    /// `TicketId` preconditions are not checked.
    SkipsTicketPrecondition,
    /// An `UpdateRecord` without changes does not raise the version.
    NoBumpWithoutChanges,
    /// A change to a blank value is not written.
    KeepsValuesOnBlank,
    /// A merge deletes the record without moving its links.
    MergeDropsLinks,
    /// Applied events are recorded but not checked again.
    ReappliesEvents,
    /// Record ids are per tenant: another tenant's id is silently skipped.
    IdsPerTenant,
    /// Email lookups match a record's email only, never its aliases.
    IgnoresAliases,
    /// Block lookups answer what the record's keys were when it was
    /// created: an update never moves it between blocks.
    KeepsFirstBlocks,
    /// Applied events are keyed by event id alone, without the tenant.
    EventsWithoutTenant,
    /// Only the first event of a batch plan is recorded as applied.
    FirstEventOnly,
    /// Email lookups find Contacts only.
    ContactsOnly,
    /// Ticket lookups answer the ticket ids records were created with.
    KeepsFirstTickets,
    /// Ticket lookups answer the ticket ids records have and the ones
    /// they were created with (a changed ticket id is added to the index,
    /// the old one never removed).
    KeepsOldTickets,
    /// `record_ids_by_email` answers in reverse order.
    UnsortedIds,
    /// Effects other than `Link` and `UpdateRecord` that name another
    /// tenant's record are skipped as if applied.
    AcceptsForeignRecords,
    /// `CreateRecord` stores every record at version 1.
    ResetsCreatedVersions,
    /// A version at the store's largest stays there: the update "succeeds".
    ClampsVersions,
    /// `VersionOverflow` names another record than the one that overflowed.
    OverflowNamesAnotherRecord,
    /// Versions above `i64::MAX` are refused (as the SQL stores do), with a
    /// `VersionOverflow` naming another record.
    BoundNamesAnotherRecord,
    /// Not a break: records are created at versions up to `i64::MAX` only
    /// (the right record named), and updates go on past it.
    CreatesUpToI64Max,
    /// A merge survivor that is a member without a ticket id stays without.
    MergeKeepsNoTicket,
    /// `SubjectLink` preconditions are not checked (B16).
    SkipsSubjectLinkPrecondition,
    /// `Memberships` preconditions are not checked (B16).
    SkipsMembershipsPrecondition,
    /// `RestoreRecord` stores the record at version 1 (B16).
    RestoreResetsVersion,
    /// `DeleteRecord` keeps the links to the record (B16).
    DeleteKeepsLinks,
    /// `DeleteRecord` unlinks the subjects, but the record still lists
    /// them as linked (B16: the two reads of one link disagree).
    DeleteKeepsLinkedSubjects,
}

/// The suite's tenants.
const TENANTS: [TenantId; 2] = [TenantId::from_u128(0xA), TenantId::from_u128(0xB)];

struct Broken {
    store: InMemoryStore,
    fault: Fault,
    /// Every record as created (for `KeepsFirstBlocks`).
    first: std::sync::Mutex<Vec<Record>>,
    /// The links of deleted records, kept (for `DeleteKeepsLinks`).
    kept: std::sync::Mutex<Vec<(SubjectId, RecordId)>>,
}

impl Broken {
    fn new(fault: Fault) -> Self {
        Broken {
            store: crate::common::blocked_by(testkit::blocking()),
            fault,
            first: std::sync::Mutex::default(),
            kept: std::sync::Mutex::default(),
        }
    }
}

impl Broken {
    /// Whether another of the suite's tenants than `t` holds record `id`.
    fn foreign(&self, t: TenantId, id: RecordId) -> bool {
        TENANTS
            .iter()
            .any(|o| *o != t && matches!(self.store.record(*o, id), Ok(Some(_))))
    }
}

impl ContactStore for Broken {
    type Error = Infallible;
    fn blocking(&self) -> contact_sync::linkage::Blocking {
        self.store.blocking()
    }
    fn records_by_block(
        &self,
        t: TenantId,
        k: &contact_sync::linkage::BlockKey,
    ) -> Result<Vec<Record>, Infallible> {
        if let Fault::KeepsFirstBlocks = self.fault {
            // Answers from the records as created, whatever changed since.
            let n = Normalization::default();
            let b = self.store.blocking();
            return Ok(self
                .first
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.tenant == t && b.keys(&r.fields, &n).contains(k))
                .filter_map(|r| self.store.record(t, r.id).unwrap())
                .collect());
        }
        self.store.records_by_block(t, k)
    }
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, Infallible> {
        let mut found = self.store.records_by_email(t, k)?;
        if let Fault::IgnoresAliases = self.fault {
            let n = Normalization::default();
            found.retain(|r| r.email_key(&n).as_ref() == Some(k));
        }
        if let Fault::ContactsOnly = self.fault {
            found.retain(|r| r.record_type == RecordType::Contact);
        }
        Ok(found)
    }
    fn record_ids_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<RecordId>, Infallible> {
        let mut ids = self.store.record_ids_by_email(t, k)?;
        if let Fault::UnsortedIds = self.fault {
            ids.reverse();
        }
        Ok(ids)
    }
    fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, Infallible> {
        self.store.record(t, id)
    }
    fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, Infallible> {
        match self.fault {
            Fault::NoTicketLookups => Ok(vec![]),
            Fault::KeepsFirstTickets => Ok(self
                .first
                .lock()
                .unwrap()
                .iter()
                .filter(|r| {
                    r.tenant == t && r.fields.text(FieldName::TICKET_ID).trim() == ticket.trim()
                })
                .filter_map(|r| self.store.record(t, r.id).unwrap())
                .collect()),
            Fault::KeepsOldTickets => {
                let mut found = self.store.records_by_ticket(t, ticket)?;
                for r in self.first.lock().unwrap().iter() {
                    let had = !ticket.trim().is_empty()
                        && r.fields.text(FieldName::TICKET_ID).trim() == ticket.trim();
                    if r.tenant == t && had && !found.iter().any(|x| x.id == r.id) {
                        found.extend(self.store.record(t, r.id)?);
                    }
                }
                found.sort_by_key(|r| r.id);
                Ok(found)
            }
            _ => self.store.records_by_ticket(t, ticket),
        }
    }
    fn event_digest(&self, t: TenantId, e: EventId) -> Result<Option<EventDigest>, Infallible> {
        if let Fault::EventsWithoutTenant = self.fault {
            // Whichever tenant applied an event of this id.
            for o in std::iter::once(t).chain(TENANTS) {
                if let Some(d) = self.store.event_digest(o, e)? {
                    return Ok(Some(d));
                }
            }
            return Ok(None);
        }
        self.store.event_digest(t, e)
    }
    fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, Infallible> {
        let mut out = self.store.linked_subjects(t, r)?;
        let kept = self.kept.lock().unwrap();
        out.extend(kept.iter().filter(|(_, k)| *k == r).map(|(s, _)| *s));
        out.sort_unstable();
        Ok(out)
    }
    fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, Infallible> {
        self.store.campaign_memberships(t, r)
    }
}

impl ApplyPlan for Broken {
    type Error = Infallible;
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        let mut p = plan.clone();
        let t = p.tenant;
        let mut merged: Vec<(RecordId, Vec<SubjectId>)> = Vec::new();
        match self.fault {
            Fault::IgnoresLinks => p.effects.retain(|e| !matches!(e, Effect::Link { .. })),
            Fault::UnlinksAnyRecord => {
                for e in &mut p.effects {
                    if let Effect::Unlink {
                        subject, record, ..
                    } = e
                    {
                        if let Some(r) = self.store.link_of(t, *subject) {
                            *record = r;
                        }
                    }
                }
            }
            Fault::DropsMemberTickets => {
                for e in &mut p.effects {
                    if let Effect::AddCampaignMember { ticket, .. } = e {
                        *ticket = None;
                    }
                }
            }
            Fault::SkipsTicketPrecondition => p
                .preconditions
                .retain(|c| !matches!(c, Precondition::TicketId { .. })),
            Fault::NoBumpWithoutChanges => p.effects.retain(
                |e| !matches!(e, Effect::UpdateRecord { changes, .. } if changes.is_empty()),
            ),
            Fault::KeepsValuesOnBlank => {
                for e in &mut p.effects {
                    if let Effect::UpdateRecord { changes, .. } = e {
                        changes.retain(|c| !c.new.is_blank());
                    }
                }
            }
            Fault::MergeDropsLinks => {
                for e in &p.effects {
                    if let Effect::MergeRecord { record, into, .. } = e {
                        merged.push((
                            *into,
                            self.store.linked_subjects(t, *record).unwrap_or_default(),
                        ));
                    }
                }
            }
            Fault::ReappliesEvents => p.preconditions.retain(|c| match c {
                Precondition::EventNew { event, .. } => {
                    !matches!(self.store.event_digest(t, *event), Ok(Some(_)))
                }
                _ => true,
            }),
            Fault::IdsPerTenant => {
                // An id another of the suite's tenants (A = 0xA, B = 0xB) holds.
                let foreign = |id: &RecordId| self.foreign(t, *id);
                p.effects.retain(
                    |e| !matches!(e, Effect::CreateRecord { record, .. } if foreign(&record.id)),
                );
                p.preconditions.retain(
                    |c| !matches!(c, Precondition::RecordAbsent { record } if foreign(record)),
                );
            }
            Fault::EventsWithoutTenant => {
                for c in &p.preconditions {
                    if let Precondition::EventNew { event, digest } = c {
                        if let Ok(Some(d)) = self.event_digest(t, *event) {
                            return Err(ApplyError::Conflict(if d == *digest {
                                Conflict::EventApplied(*event)
                            } else {
                                Conflict::EventPayloadChanged(*event)
                            }));
                        }
                    }
                }
            }
            Fault::FirstEventOnly => {
                let mut seen = false;
                p.preconditions.retain(|c| match c {
                    Precondition::EventNew { .. } => !std::mem::replace(&mut seen, true),
                    _ => true,
                });
            }
            Fault::AcceptsForeignRecords => {
                let foreign = |id: &RecordId| self.foreign(t, *id);
                p.effects.retain(|e| match e {
                    Effect::AddCampaignMember { record, .. }
                    | Effect::DeleteRecord { record, .. } => !foreign(record),
                    Effect::MergeRecord { record, into, .. } => !foreign(record) && !foreign(into),
                    Effect::CreateRecord { record, .. } => record.tenant == t,
                    _ => true,
                });
            }
            Fault::MergeKeepsNoTicket => {
                // Drop the survivor's ticketless memberships before the
                // merge and add them back, still without, after it.
                let mut back = Vec::new();
                for e in &p.effects {
                    if let Effect::MergeRecord { into, .. } = e {
                        for m in self
                            .store
                            .campaign_memberships(t, *into)
                            .unwrap_or_default()
                        {
                            if m.ticket.is_none() {
                                back.push(Effect::add_campaign_member(
                                    *into,
                                    m.campaign.clone(),
                                    None,
                                ));
                            }
                        }
                    }
                }
                if !back.is_empty() {
                    self.store.apply(&p)?;
                    let mut fix = Plan::new(t);
                    for e in &back {
                        if let Effect::AddCampaignMember {
                            record, campaign, ..
                        } = e
                        {
                            fix.effects
                                .push(Effect::remove_campaign_member(*record, campaign.clone()));
                        }
                    }
                    fix.effects.extend(back);
                    return self.store.apply(&fix);
                }
            }
            Fault::SkipsSubjectLinkPrecondition => p
                .preconditions
                .retain(|c| !matches!(c, Precondition::SubjectLink { .. })),
            Fault::SkipsMembershipsPrecondition => p
                .preconditions
                .retain(|c| !matches!(c, Precondition::Memberships { .. })),
            Fault::DeleteKeepsLinks | Fault::DeleteKeepsLinkedSubjects => {
                for e in &p.effects {
                    if let Effect::DeleteRecord { record, .. } = e {
                        for s in self.store.linked_subjects(t, *record).unwrap_or_default() {
                            self.kept.lock().unwrap().push((s, *record));
                        }
                    }
                }
            }
            Fault::RestoreResetsVersion => {
                for e in &mut p.effects {
                    if let Effect::RestoreRecord { record, .. } = e {
                        record.version = 1;
                    }
                }
            }
            Fault::ResetsCreatedVersions => {
                for e in &mut p.effects {
                    if let Effect::CreateRecord { record, .. } = e {
                        record.version = 1;
                    }
                }
            }
            Fault::OverflowNamesAnotherRecord => {
                return match self.store.apply(&p) {
                    Err(ApplyError::VersionOverflow(_)) => {
                        Err(ApplyError::VersionOverflow(RecordId::from_u128(0xDEAD)))
                    }
                    other => other,
                };
            }
            Fault::BoundNamesAnotherRecord | Fault::CreatesUpToI64Max => {
                let too_big = p.effects.iter().find_map(|e| match e {
                    Effect::CreateRecord { record, .. } if record.version > i64::MAX as u64 => {
                        Some(record.id)
                    }
                    _ => None,
                });
                if let Some(id) = too_big {
                    let named = match self.fault {
                        Fault::CreatesUpToI64Max => id,
                        _ => RecordId::from_u128(0xDEAD),
                    };
                    return Err(ApplyError::VersionOverflow(named));
                }
            }
            Fault::ClampsVersions => {
                return match self.store.apply(&p) {
                    Err(ApplyError::VersionOverflow(_)) => Ok(()),
                    other => other,
                };
            }
            Fault::NoTicketLookups
            | Fault::IgnoresAliases
            | Fault::ContactsOnly
            | Fault::UnsortedIds => {}
            Fault::KeepsFirstBlocks | Fault::KeepsFirstTickets | Fault::KeepsOldTickets => {
                let created = p.effects.iter().filter_map(|e| match e {
                    Effect::CreateRecord { record, .. } => Some(record.clone()),
                    _ => None,
                });
                self.first.lock().unwrap().extend(created);
            }
        }
        self.store.apply(&p)?;
        for (into, subjects) in merged {
            let unlink: Vec<Effect> = subjects
                .into_iter()
                .map(|subject| Effect::unlink(subject, into))
                .collect();
            let mut undo = p.clone();
            undo.effects = unlink;
            undo.preconditions.clear();
            self.store.apply(&undo)?;
        }
        Ok(())
    }
}

fn failing_checks(fault: Fault) -> Vec<&'static str> {
    let factory = move || Broken::new(fault);
    match testkit::run_all_undo(&factory) {
        Ok(()) => vec![],
        Err(failures) => failures.iter().map(|f| f.check).collect(),
    }
}

/// The checks the async suite fails for the store behind the async traits.
fn failing_checks_async(fault: Fault) -> Vec<&'static str> {
    let factory = move || std::future::ready(Ready(Broken::new(fault)));
    match pollster::block_on(testkit::run_all_undo_async(&factory)) {
        Ok(()) => vec![],
        Err(failures) => failures.iter().map(|f| f.check).collect(),
    }
}

#[track_caller]
fn caught_by(fault: Fault, check: fn(&dyn Fn() -> Broken) -> Check, name: &str) {
    let factory = move || Broken::new(fault);
    let failure = check(&factory).expect_err("the broken store passed the check");
    assert_eq!(failure.check, name);
    // The message says what was injected, what was expected, what happened.
    assert!(
        failure.message.len() > 30,
        "{fault:?}: an unhelpful message: {}",
        failure.message
    );
    assert!(failing_checks(fault).contains(&name), "{fault:?}");
    assert!(
        failing_checks_async(fault).contains(&name),
        "{fault:?}: the async suite missed it"
    );
}

#[test]
fn d11_d12_a_store_ignoring_links_fails_links_and_unlinks() {
    caught_by(
        Fault::IgnoresLinks,
        |f| testkit::links_and_unlinks(&f),
        "links_and_unlinks",
    );
}

#[test]
fn d8_a_store_unlinking_any_record_fails_links_and_unlinks() {
    caught_by(
        Fault::UnlinksAnyRecord,
        |f| testkit::links_and_unlinks(&f),
        "links_and_unlinks",
    );
}

#[test]
fn a5_a30_a_store_dropping_member_tickets_fails_campaign_membership() {
    caught_by(
        Fault::DropsMemberTickets,
        |f| testkit::campaign_membership(&f),
        "campaign_membership",
    );
}

#[test]
fn a28_a_store_without_ticket_lookups_fails_ticket_lookups() {
    caught_by(
        Fault::NoTicketLookups,
        |f| testkit::ticket_lookups(&f),
        "ticket_lookups",
    );
}

#[test]
fn a28_b6_a_store_skipping_the_ticket_precondition_fails_ticket_lookups() {
    caught_by(
        Fault::SkipsTicketPrecondition,
        |f| testkit::ticket_lookups(&f),
        "ticket_lookups",
    );
}

#[test]
fn a18_b6_a_store_not_bumping_empty_updates_fails_updates_and_versions() {
    caught_by(
        Fault::NoBumpWithoutChanges,
        |f| testkit::updates_and_versions(&f),
        "updates_and_versions",
    );
}

#[test]
fn a16_a_store_keeping_values_on_blank_fails_updates_and_versions() {
    caught_by(
        Fault::KeepsValuesOnBlank,
        |f| testkit::updates_and_versions(&f),
        "updates_and_versions",
    );
}

#[test]
fn b9_a_store_whose_merge_drops_links_fails_merges_move_links_and_members() {
    caught_by(
        Fault::MergeDropsLinks,
        |f| testkit::merges_move_links_and_members(&f),
        "merges_move_links_and_members",
    );
}

#[test]
fn b7_a_store_reapplying_events_fails_events() {
    caught_by(Fault::ReappliesEvents, |f| testkit::events(&f), "events");
}

#[test]
fn b8_a_store_with_ids_per_tenant_fails_record_ids_are_global() {
    caught_by(
        Fault::IdsPerTenant,
        |f| testkit::record_ids_are_global(&f),
        "record_ids_are_global",
    );
}

#[test]
fn b19_a_store_not_moving_records_between_blocks_fails_block_lookups() {
    caught_by(
        Fault::KeepsFirstBlocks,
        |f| testkit::block_lookups(&f),
        "block_lookups",
    );
}

#[test]
fn b15_a_store_ignoring_aliases_fails_alias_lookups() {
    caught_by(
        Fault::IgnoresAliases,
        |f| testkit::alias_lookups(&f),
        "alias_lookups",
    );
}

#[test]
fn b7_a_store_keying_events_without_the_tenant_fails_events() {
    caught_by(
        Fault::EventsWithoutTenant,
        |f| testkit::events(&f),
        "events",
    );
}

#[test]
fn b5_b7_a_store_recording_only_a_batchs_first_event_fails_events() {
    caught_by(Fault::FirstEventOnly, |f| testkit::events(&f), "events");
}

#[test]
fn a1_a7_a_store_finding_one_record_type_fails_key_lookups() {
    caught_by(
        Fault::ContactsOnly,
        |f| testkit::key_lookups(&f),
        "key_lookups",
    );
}

#[test]
fn a28_a_store_not_moving_a_changed_ticket_id_fails_ticket_lookups() {
    caught_by(
        Fault::KeepsFirstTickets,
        |f| testkit::ticket_lookups(&f),
        "ticket_lookups",
    );
}

#[test]
fn a28_a_store_keeping_an_old_ticket_id_fails_ticket_lookups() {
    caught_by(
        Fault::KeepsOldTickets,
        |f| testkit::ticket_lookups(&f),
        "ticket_lookups",
    );
    let failure = testkit::ticket_lookups(&|| Broken::new(Fault::KeepsOldTickets)).unwrap_err();
    assert!(
        failure.message.contains("from \"t-1\" to \"T-9\""),
        "{}",
        failure.message
    );
}

#[test]
fn d4_a_store_answering_unsorted_record_ids_fails_record_ids_by_email() {
    let factory = move || Broken::new(Fault::UnsortedIds);
    let failure = testkit::record_ids_by_email(&factory).expect_err("unsorted ids passed");
    assert_eq!(failure.check, "record_ids_by_email");
    assert!(failure.message.contains("answered"), "{}", failure.message);
    assert!(failing_checks(Fault::UnsortedIds).contains(&"record_ids_by_email"));
}

#[test]
fn b8_a_store_accepting_another_tenants_record_fails_tenant_isolation() {
    caught_by(
        Fault::AcceptsForeignRecords,
        |f| testkit::tenant_isolation(&f),
        "tenant_isolation",
    );
}

#[test]
fn b6_a_store_resetting_created_versions_fails_updates_and_versions() {
    caught_by(
        Fault::ResetsCreatedVersions,
        |f| testkit::updates_and_versions(&f),
        "updates_and_versions",
    );
}

#[test]
fn b6_a_store_clamping_versions_fails_updates_and_versions() {
    caught_by(
        Fault::ClampsVersions,
        |f| testkit::updates_and_versions(&f),
        "updates_and_versions",
    );
}

#[test]
fn b6_a_store_naming_another_record_in_version_overflow_fails_updates_and_versions() {
    for fault in [
        Fault::OverflowNamesAnotherRecord,
        Fault::BoundNamesAnotherRecord,
    ] {
        caught_by(
            fault,
            |f| testkit::updates_and_versions(&f),
            "updates_and_versions",
        );
    }
}

/// A store creating records at versions up to `i64::MAX` only, whose
/// updates go on past it, keeps the contract.
#[test]
fn b6_a_store_bounded_at_i64_max_on_create_passes_updates_and_versions() {
    let factory = || Broken::new(Fault::CreatesUpToI64Max);
    if let Err(f) = testkit::updates_and_versions(&factory) {
        panic!("{f}");
    }
}

#[test]
fn b9_a30_a_merge_survivor_without_a_ticket_id_not_taking_one_fails_merges_move_links_and_members()
{
    caught_by(
        Fault::MergeKeepsNoTicket,
        |f| testkit::merges_move_links_and_members(&f),
        "merges_move_links_and_members",
    );
}

impl UndoStore for Broken {
    fn subject_link(&self, t: TenantId, s: SubjectId) -> Result<Option<RecordId>, Infallible> {
        if let Fault::DeleteKeepsLinkedSubjects = self.fault {
            return self.store.subject_link(t, s);
        }
        let kept = self.kept.lock().unwrap();
        if let Some((_, r)) = kept.iter().rev().find(|(k, _)| *k == s) {
            return Ok(Some(*r));
        }
        drop(kept);
        self.store.subject_link(t, s)
    }
    fn tombstone(&self, t: TenantId, r: RecordId) -> Result<Option<Tombstone>, Infallible> {
        self.store.tombstone(t, r)
    }
}

#[track_caller]
fn caught_by_undo(fault: Fault, says: &str) {
    let factory = move || Broken::new(fault);
    let failure = testkit::undo(&factory).expect_err("the broken store passed the undo check");
    assert_eq!(failure.check, "undo");
    // The part of the check that names the fault is the one that failed.
    assert!(
        failure.message.contains(says),
        "{fault:?}: expected a failure saying {says:?}, got: {}",
        failure.message
    );
    assert!(
        failure.message.len() > 30,
        "{fault:?}: an unhelpful message: {}",
        failure.message
    );
    let factory = move || std::future::ready(Ready(Broken::new(fault)));
    assert!(
        pollster::block_on(testkit::undo_async(&factory)).is_err(),
        "{fault:?}: the async undo check missed it"
    );
    assert!(failing_checks(fault).contains(&"undo"), "{fault:?}");
    assert!(
        failing_checks_async(fault).contains(&"undo"),
        "{fault:?}: the async suite missed it"
    );
}

#[test]
fn b16_a_store_skipping_subject_link_preconditions_fails_undo() {
    caught_by_undo(
        Fault::SkipsSubjectLinkPrecondition,
        "injected a SubjectLink precondition",
    );
}

#[test]
fn b16_a_store_skipping_memberships_preconditions_fails_undo() {
    caught_by_undo(
        Fault::SkipsMembershipsPrecondition,
        "injected a Memberships precondition",
    );
}

#[test]
fn b16_a_store_keeping_a_deleted_records_links_fails_undo() {
    caught_by_undo(Fault::DeleteKeepsLinks, "after a DeleteRecord of r1");
}

#[test]
fn b16_a_store_listing_a_deleted_records_subjects_fails_undo() {
    caught_by_undo(
        Fault::DeleteKeepsLinkedSubjects,
        "after a DeleteRecord of r1",
    );
}

#[test]
fn b16_a_store_restoring_records_at_version_1_fails_undo() {
    caught_by_undo(Fault::RestoreResetsVersion, "injected a RestoreRecord");
}

#[test]
fn b7_a_store_keeping_the_default_event_digest_passes_the_suite() {
    // It declares only the core contract.
    let keeps = testkit::Keeps::core();
    // A store that records no events (the default `event_digest`) is
    // within the contract: the suite passes it.
    let forgetful = || testkit::Faulty::new(InMemoryStore::new(), testkit::Fault::ForgetEvents);
    if let Err(f) = testkit::run_all(&testkit::declare(keeps, forgetful)) {
        panic!("{f:#?}");
    }
    let factory = testkit::declare(keeps, || std::future::ready(Ready(forgetful())));
    if let Err(f) = pollster::block_on(testkit::run_all_async(&factory)) {
        panic!("{f:#?}");
    }
}

/// A store that forwards only the required methods: it records no events,
/// keeps no history and no tombstones, and inherits the default blocking
/// (what a minimal host wrapper looks like; `testkit::Faulty` forwards
/// everything).
struct Forgetful(InMemoryStore);

impl ContactStore for Forgetful {
    type Error = Infallible;
    fn records_by_email(&self, t: TenantId, k: &EmailKey) -> Result<Vec<Record>, Infallible> {
        self.0.records_by_email(t, k)
    }
    fn record(&self, t: TenantId, id: RecordId) -> Result<Option<Record>, Infallible> {
        self.0.record(t, id)
    }
    fn records_by_ticket(&self, t: TenantId, ticket: &str) -> Result<Vec<Record>, Infallible> {
        self.0.records_by_ticket(t, ticket)
    }
    fn linked_subjects(&self, t: TenantId, r: RecordId) -> Result<Vec<SubjectId>, Infallible> {
        self.0.linked_subjects(t, r)
    }
    fn campaign_memberships(
        &self,
        t: TenantId,
        r: RecordId,
    ) -> Result<Vec<CampaignMember>, Infallible> {
        self.0.campaign_memberships(t, r)
    }
}

impl ApplyPlan for Forgetful {
    type Error = Infallible;
    fn apply(&self, plan: &Plan) -> Result<(), ApplyError<Infallible>> {
        let mut p = plan.clone();
        p.preconditions
            .retain(|c| !matches!(c, Precondition::EventNew { .. }));
        self.0.apply(&p)
    }
}

/// It undoes plans but keeps no tombstones.
impl UndoStore for Forgetful {
    fn subject_link(&self, t: TenantId, s: SubjectId) -> Result<Option<RecordId>, Infallible> {
        self.0.subject_link(t, s)
    }
    fn tombstone(&self, _: TenantId, _: RecordId) -> Result<Option<Tombstone>, Infallible> {
        Ok(None)
    }
}

/// B17: a store that keeps no history (the trait's default) passes the
/// suite but fails the history check, which names what it read back.
#[test]
fn b17_a_store_keeping_no_history_fails_field_history() {
    let failure = testkit::field_history(&|| Forgetful(InMemoryStore::new()))
        .expect_err("a store without history passed");
    assert_eq!(failure.check, "field_history");
    assert!(
        failure.message.contains("read back 0"),
        "{}",
        failure.message
    );
}

/// B17: the bundled stores keep the field history the suite checks.
#[test]
fn b17_the_bundled_stores_pass_field_history() {
    testkit::field_history(&InMemoryStore::new).unwrap();
    let factory = || std::future::ready(Ready(InMemoryStore::new()));
    pollster::block_on(testkit::field_history_async(&factory)).unwrap();
    #[cfg(feature = "sqlite")]
    testkit::field_history(&|| SqliteStore::open_in_memory(Normalization::default()).unwrap())
        .unwrap();
}

/// B16: a store that keeps no tombstones fails the undo check, which says
/// what it expected.
#[test]
fn b16_a_store_keeping_no_tombstones_fails_undo() {
    let failure = testkit::undo(&|| Forgetful(InMemoryStore::new()))
        .expect_err("a store without tombstones passed");
    assert_eq!(failure.check, "undo");
    assert!(
        failure.message.contains("expected a tombstone of r2"),
        "{}",
        failure.message
    );
}

/// B16: the bundled stores undo plans as the undo check expects.
#[test]
fn b16_the_bundled_stores_pass_undo() {
    testkit::undo(&InMemoryStore::new).unwrap();
    let factory = || std::future::ready(Ready(InMemoryStore::new()));
    pollster::block_on(testkit::undo_async(&factory)).unwrap();
    #[cfg(feature = "sqlite")]
    testkit::undo(&|| SqliteStore::open_in_memory(Normalization::default()).unwrap()).unwrap();
}

/// B17: a store keeping no history that does not say so fails `run_all`
/// (the default declaration keeps one).
#[test]
fn b17_an_undeclared_missing_history_fails_run_all() {
    let keeps = testkit::Keeps::core().with_history(true);
    let failures =
        testkit::run_all(&testkit::declare(keeps, || Forgetful(InMemoryStore::new()))).unwrap_err();
    let checks: Vec<&str> = failures.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["field_history"], "{failures:#?}");
}

/// B19: a wrapper that forwards only the required methods inherits the
/// default (empty) blocking, and the engine would decide without blocks:
/// the block check tells it apart from a store that declares none.
#[test]
fn b19_a_wrapper_inheriting_the_default_blocking_fails_block_lookups() {
    let wrapper = || Forgetful(crate::common::blocked_by(testkit::blocking()));
    let failure = testkit::block_lookups(&wrapper).expect_err("the inherited default passed");
    assert_eq!(failure.check, "block_lookups");
    assert!(
        failure.message.contains("forward blocking()"),
        "{}",
        failure.message
    );
    let declared = testkit::declare(testkit::Keeps::everything().with_blocks(false), wrapper);
    testkit::block_lookups(&declared).unwrap();
}

/// `testkit::Faulty` injects each of its faults, and the suite catches
/// each: a partial apply, unchecked preconditions, forgotten events; with
/// no fault the store passes.
#[test]
fn b6_b7_faulty_stores_fail_the_checks_of_their_fault() {
    use testkit::{Fault, Faulty};
    let keeps = testkit::Keeps::everything()
        .with_undo(false)
        .with_blocks(false);
    let failing = |fault: Fault| -> Vec<&'static str> {
        let factory = testkit::declare(keeps, move || Faulty::new(InMemoryStore::new(), fault));
        match testkit::run_all(&factory) {
            Ok(()) => vec![],
            Err(f) => f.iter().map(|f| f.check).collect(),
        }
    };
    assert_eq!(failing(Fault::None), Vec::<&str>::new());
    assert!(failing(Fault::FailAtEffect(1)).contains(&"all_or_nothing"));
    assert!(failing(Fault::SkipPreconditions).contains(&"stale_preconditions"));
    // A store that records no events is within the contract (B7's
    // fallback: derived record ids).
    assert_eq!(failing(Fault::ForgetEvents), Vec::<&str>::new());
    // A store that always conflicts applies nothing: the apply checks fail.
    let conflicting = failing(Fault::Conflict);
    assert!(conflicting.contains(&"all_or_nothing"), "{conflicting:?}");
    // Every apply reaches the store and is counted, failed or not.
    let store = Faulty::new(InMemoryStore::new(), Fault::Conflict);
    let t = TenantId::from_u128(1);
    let r = Record::new(
        RecordId::from_u128(1),
        t,
        RecordType::Contact,
        Fields::new(),
    );
    let plan = Plan::new(t).with_effects([Effect::create_record(r)]);
    for n in 1..=3 {
        assert!(matches!(
            store.apply(&plan),
            Err(ApplyError::Conflict(Conflict::EmailKeyChanged))
        ));
        assert_eq!(store.applies(), n);
    }
    assert!(store.inner().records(t).is_empty());
}

/// What each fault does to one plan, on the store behind it.
#[test]
fn b6_b7_faulty_applies_part_skips_checks_or_forgets_as_told() {
    use testkit::{Fault, Faulty};
    let t = TENANTS[0];
    let rec = |n: u128| {
        Record::new(
            RecordId::from_u128(n),
            t,
            RecordType::Contact,
            Fields::from_pairs([("email", format!("p{n}@example.org"))]),
        )
    };
    let two =
        Plan::new(t).with_effects([Effect::create_record(rec(1)), Effect::create_record(rec(2))]);
    // The first effect applied, then the failure.
    let partial = Faulty::new(InMemoryStore::new(), Fault::FailAtEffect(1));
    assert!(matches!(
        partial.apply(&two),
        Err(ApplyError::InvalidPlan(_))
    ));
    assert_eq!(partial.inner().records(t).len(), 1);
    assert_eq!(partial.fault(), Fault::FailAtEffect(1));
    // A plan no longer than the fault's count applies whole.
    let whole = Faulty::new(InMemoryStore::new(), Fault::FailAtEffect(2));
    whole.apply(&two).unwrap();
    assert_eq!(whole.inner().records(t).len(), 2);
    // A stale precondition is not checked.
    let skipping = Faulty::new(InMemoryStore::new(), Fault::SkipPreconditions);
    let stale = Plan::new(t)
        .with_effects([Effect::create_record(rec(3))])
        .with_preconditions([Precondition::RecordVersion {
            record: RecordId::from_u128(9),
            version: 4,
        }]);
    skipping.apply(&stale).unwrap();
    assert_eq!(skipping.inner().records(t).len(), 1);
    // An applied event is forgotten, through every read.
    let engine = Engine::new(Policy::doo()).unwrap();
    let ev = Event::Registered(Registration::new(
        EventId::from_u128(7),
        t,
        vec![Subject::attendee(
            SubjectId::from_u128(70),
            Fields::from_pairs([("email", "e@example.org")]),
        )],
    ));
    let forgetful = Faulty::new(InMemoryStore::new(), Fault::ForgetEvents);
    let plan = engine.plan(&forgetful, &ev).unwrap();
    forgetful.apply(&plan).unwrap();
    assert_eq!(
        forgetful.event_digest(t, EventId::from_u128(7)).unwrap(),
        None
    );
    assert_eq!(
        forgetful
            .inner()
            .event_digest(t, EventId::from_u128(7))
            .unwrap(),
        None
    );
    let needs = engine.needs(&ev).unwrap();
    let fetched = forgetful.fetch(&needs).unwrap();
    let again = engine.decide(&ev, &fetched).unwrap();
    assert!(!again.is_empty(), "the redelivery is planned again");
    // ... and creates nothing twice: the record the first delivery
    // created is found by its email (and a derived record id would
    // collide with it).
    assert_eq!(again.created().count(), 0);
    forgetful.apply(&again).unwrap();
    let replanned = engine.plan_and_apply(&forgetful, &ev, 3).unwrap();
    assert_eq!(replanned.created().count(), 0);
    assert_eq!(forgetful.inner().records(t).len(), 1);
}

/// `testkit::Faulty` forwards every read of the store it wraps (settings
/// included), and only `Fault::ForgetEvents` hides the recorded events.
#[test]
fn b6_b7_b19_faulty_forwards_every_read() {
    use testkit::{Fault, Faulty};
    let norm = Normalization {
        fold_plus_tags: true,
        fold_gmail_dots: false,
    };
    let mut store = InMemoryStore::with_normalization(norm);
    store.set_blocking(testkit::blocking());
    let t = TenantId::from_u128(1);
    let mut fields = Fields::new();
    fields.set(
        FieldName::new("email"),
        FieldValue::new("ann+x@example.org"),
    );
    fields.set(FieldName::new("last_name"), FieldValue::new("Lee"));
    fields.set(FieldName::new("first_name"), FieldValue::new("Ann"));
    let rid = RecordId::from_u128(1);
    store
        .insert(Record::new(rid, t, RecordType::Contact, fields.clone()))
        .unwrap();
    // An applied event, recorded by its `EventNew` precondition.
    let event = Event::Registered(Registration::new(
        EventId::from_u128(5),
        t,
        vec![Subject::new(
            SubjectId::from_u128(10),
            Role::Attendee,
            fields.clone(),
        )],
    ));
    let plan = Plan::new(t).with_preconditions([Precondition::EventNew {
        event: event.id(),
        digest: event.digest(),
    }]);
    store.apply(&plan).unwrap();
    let key = EmailKey::parse("ann@example.org", &norm).unwrap().unwrap();
    let block = testkit::blocking().keys(&fields, &norm)[0].clone();
    let digest = store.event_digest(t, EventId::from_u128(5)).unwrap();
    assert!(digest.is_some());
    for fault in [Fault::None, Fault::ForgetEvents] {
        let f = Faulty::new(&store, fault);
        assert_eq!(f.normalization(), norm);
        assert_eq!(f.blocking(), store.blocking());
        assert_eq!(
            f.records_by_email(t, &key).unwrap(),
            store.records_by_email(t, &key).unwrap()
        );
        assert_eq!(
            f.records_by_block(t, &block).unwrap(),
            store.records_by_block(t, &block).unwrap()
        );
        assert_eq!(f.records_by_block(t, &block).unwrap().len(), 1);
        let events = f.event_digest(t, EventId::from_u128(5)).unwrap();
        if fault == Fault::ForgetEvents {
            assert_eq!(events, None);
        } else {
            assert_eq!(events, digest);
        }
    }
}
