//! The steps every event kind shares: outcomes, records created or
//! updated (the field merge of [`crate::rules::merge_fields`]), links and
//! campaign membership.

use super::*;
use crate::fields::FieldValue;
use crate::record::RecordType;

impl<S: Source> Decider<'_, S> {
    /// Gives the parts decided since the last hand-over to `sink` and
    /// forgets them: a sink that looks leaves the buffers (and the outcomes'
    /// reason lists) to be reused, one that takes them gets them moved.
    pub(super) fn hand_over(&mut self, event: EventId, sink: &mut Sink<'_>) {
        match sink {
            Sink::Look(f) => {
                f(&Decided {
                    event,
                    outcomes: &self.outcomes,
                    effects: &self.effects,
                    warnings: &self.warnings,
                });
                for o in self.outcomes.drain(..) {
                    let mut reasons = o.reasons;
                    reasons.clear();
                    self.spare.push(reasons);
                }
                self.effects.clear();
                self.warnings.clear();
            }
            Sink::Take(f) => f(Handed {
                event,
                outcomes: std::mem::take(&mut self.outcomes),
                effects: std::mem::take(&mut self.effects),
                warnings: std::mem::take(&mut self.warnings),
            }),
        }
    }

    /// A trace for the next subject, in the policy's citations, on a spare
    /// reason list when there is one.
    pub(super) fn trace(&mut self) -> Trace {
        let reasons = self.spare.pop().unwrap_or_default();
        Trace::new(self.policy.citations, reasons)
    }

    pub(super) fn cite(&self, doo: RuleId, sf: RuleId) -> RuleId {
        match self.policy.citations {
            Citations::Doo => doo,
            Citations::Salesforce => sf,
        }
    }

    pub(super) fn outcome(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        decision: Decision,
        record: Option<RecordId>,
        no_record: Option<NoRecordReason>,
        t: Trace,
    ) {
        self.outcomes.push(Outcome {
            event: ctx.event,
            subject: s.id,
            role: s.role,
            decision,
            record,
            no_record,
            rules: t.rules,
            reasons: t.reasons,
            explanation: String::new(),
            linkage: self.score.take(),
        });
    }

    /// The subject gets no record, for `reason`.
    pub(super) fn no_record(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        reason: NoRecordReason,
        t: Trace,
    ) {
        self.outcome(ctx, s, Decision::NoRecord, None, Some(reason), t);
    }

    /// B20: decides `e` without its subjects with invalid input (`bad`,
    /// each with its error), which get an outcome and a warning of their
    /// own; the event's outcomes stay in subject order.
    pub(super) fn without_invalid(
        &mut self,
        e: &Event,
        bad: Vec<(SubjectId, Error)>,
    ) -> Result<(), PlanError<S::Error>> {
        let start = self.outcomes.len();
        let is_bad = |id: &SubjectId| bad.iter().any(|(x, _)| x == id);
        match e {
            Event::Registered(r) => {
                let mut rest = r.clone();
                rest.subjects.retain(|s| !is_bad(&s.id));
                if !rest.subjects.is_empty() {
                    self.registration(&rest)?;
                }
            }
            Event::RecordChanged(c) => {
                let mut rest = c.clone();
                rest.subjects.retain(|s| !is_bad(&s.id));
                self.record_changed(&rest);
            }
            // Their one subject is the one left out.
            Event::Edited(_) | Event::Relinked(_) => {}
        }
        let ctx = Ctx::plain(e.id());
        let subjects = e.subjects();
        for (id, error) in bad {
            let Some(s) = subjects.iter().find(|s| s.id == id) else {
                continue;
            };
            let mut t = self.trace();
            let problem = Box::new(InputProblem::of(&error));
            t.cite(B20).reason(Fact::InvalidInput {
                subject: id,
                problem: problem.clone(),
            });
            let link = self.ov.link_of(s.id, s.link);
            self.outcome(
                &ctx,
                s,
                Decision::NoRecord,
                link,
                Some(NoRecordReason::InvalidInput),
                t,
            );
            self.warnings.push(Warning::InvalidInput {
                subject: s.id,
                problem,
            });
        }
        let order: std::collections::HashMap<SubjectId, usize> = subjects
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        if let Some(decided) = self.outcomes.get_mut(start..) {
            decided.sort_by_key(|o| order.get(&o.subject).copied());
        }
        Ok(())
    }

    /// B7: the event was applied before with the same payload.
    pub(super) fn already_applied(&mut self, e: &Event) {
        for s in e.subjects() {
            let mut t = self.trace();
            t.cite(B7).reason(Fact::Redelivery);
            let link = self.ov.link_of(s.id, s.link);
            self.outcomes.push(Outcome {
                event: e.id(),
                subject: s.id,
                role: s.role,
                decision: Decision::NoChange,
                record: link,
                no_record: None,
                rules: t.rules,
                reasons: t.reasons,
                explanation: String::new(),
                linkage: None,
            });
        }
    }

    /// A linked or prefilled record; absent and foreign look the same (B8).
    pub(super) fn existing(
        &mut self,
        s: &Subject,
        id: RecordId,
    ) -> Result<Record, PlanError<S::Error>> {
        self.ov.by_id(id)?.cloned().ok_or_else(|| {
            PlanError::Invalid(Error::RecordNotFound {
                subject: s.id,
                record: id,
            })
        })
    }

    /// The record a selection chose (it came from the overlay).
    pub(super) fn chosen(&mut self, id: RecordId) -> Result<Record, PlanError<S::Error>> {
        self.ov
            .get(&id)
            .cloned()
            .ok_or(PlanError::Invalid(Error::MissingCandidates("selection")))
    }

    /// B15: when `rec` was found through one of its aliases rather than its
    /// email, says which, and keeps the record's email (the entered address
    /// is an old one). The context to update the record with.
    pub(super) fn through_alias<'c>(
        &self,
        ctx: &Ctx<'c>,
        rec: &Record,
        fields: &Fields,
        t: &mut Trace,
    ) -> Ctx<'c> {
        if rec.fields.is_empty_at(FieldName::EMAIL_ALIASES) {
            return *ctx;
        }
        let norm = &self.policy.normalization;
        let Ok(Some(key)) = EmailKey::parse(fields.text(FieldName::EMAIL), norm) else {
            return *ctx;
        };
        if rec.email_key(norm).as_ref() == Some(&key) {
            return *ctx;
        }
        // Explanations name fields and positions, never values.
        let Some(at) = rec
            .aliases()
            .position(|a| EmailKey::parse(a, norm).ok().flatten().as_ref() == Some(&key))
        else {
            return *ctx;
        };
        t.cite(B15).reason(Fact::FoundThroughAlias {
            alias: at + 1,
            of: rec.aliases().count(),
            record_type: rec.record_type,
        });
        Ctx {
            protect_email: true,
            ..*ctx
        }
    }

    /// B15: when `changes` overwrite the record's email with another
    /// address, the old one joins its aliases (`before`: their value now),
    /// the oldest dropped beyond [`crate::Aliases::max`].
    fn keep_alias(
        &self,
        changes: &mut Vec<FieldChange>,
        before: Option<FieldValue>,
        record_type: RecordType,
        t: &mut Trace,
    ) {
        let norm = &self.policy.normalization;
        let key = |a: &str| EmailKey::parse(a, norm).ok().flatten();
        let Some(change) = changes
            .iter()
            .find(|c| c.field.as_str() == FieldName::EMAIL)
        else {
            return;
        };
        let Some(old) = change.old.as_ref().map(|v| v.as_str().trim()) else {
            return;
        };
        // An address that does not parse was never found by lookups.
        let Some(old_key) = key(old) else {
            return;
        };
        let new_key = key(change.new.as_str());
        if new_key.as_ref() == Some(&old_key) {
            return;
        }
        let text = before.as_ref().map_or("", FieldValue::as_str);
        let mut list: Vec<&str> = crate::record::alias_list(text)
            .filter(|a| {
                let k = key(a);
                k != new_key && k.as_ref() != Some(&old_key)
            })
            .collect();
        list.push(old);
        let max = usize::from(self.policy.aliases.max);
        let dropped = list.len().saturating_sub(max);
        list.drain(..dropped);
        t.cite(B15).reason(Fact::AliasKept {
            alias: list.len(),
            record_type,
        });
        if dropped > 0 {
            t.reason(Fact::AliasesDropped { max, dropped });
        }
        let new = FieldValue::new(&list.join(", "));
        changes.push(FieldChange {
            field: FieldName::new(FieldName::EMAIL_ALIASES),
            old: before,
            new,
            rule: B15,
        });
    }

    /// The one record carrying the subject's ticket id, if exactly one does (A28).
    pub(super) fn record_by_ticket(
        &mut self,
        fields: &Fields,
    ) -> Result<Option<Record>, PlanError<S::Error>> {
        let ticket = fields.text(FieldName::TICKET_ID).trim();
        if ticket.is_empty() {
            return Ok(None);
        }
        let found = self.ov.by_ticket(ticket)?;
        Ok(match found.as_slice() {
            [one] => self.ov.get(one).cloned(),
            _ => None,
        })
    }

    /// Creates a record for the subject and links it (D3, D4, D6, A3, A4).
    pub(super) fn create(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let key = EmailKey::parse(fields.text(FieldName::EMAIL), &self.policy.normalization)
            .ok()
            .flatten();
        self.create_keyed(ctx, s, fields, key, t)
    }

    /// [`Self::create`] when the caller knows the email key already.
    pub(super) fn create_keyed(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        key: Option<EmailKey>,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let id = derive_record_id(self.ov.tenant, ctx.event, s.id, s.role);
        let rf = merge::new_record_fields(fields, self.fields);
        if self.policy.citations == Citations::Doo {
            t.cite(D6);
        } else {
            t.cite(A1).cite(A4);
        }
        t.cite(D12).reason(Fact::Created {
            record: id,
            record_type: self.policy.matching.record_type,
            fields: rf.len(),
        });
        let record = Record::new(id, self.ov.tenant, self.policy.matching.record_type, rf);
        self.ov.create(record.clone(), key);
        self.effects.push(Effect::CreateRecord { record });
        self.relink_to(s, id);
        self.campaign(ctx, id, fields, &mut t);
        self.outcome(ctx, s, Decision::Created, Some(id), None, t);
        Ok(())
    }

    pub(super) fn relink_to(&mut self, s: &Subject, id: RecordId) -> bool {
        use std::collections::hash_map::Entry;
        // One lookup of the subject's link for reading and writing it.
        let slot = self.ov.links.entry(s.id);
        let old = match &slot {
            Entry::Occupied(o) => *o.get(),
            Entry::Vacant(_) => s.link,
        };
        if old == Some(id) {
            return false;
        }
        if let Some(old) = old {
            self.effects.push(Effect::Unlink {
                subject: s.id,
                record: old,
            });
        }
        self.effects.push(Effect::Link {
            subject: s.id,
            record: id,
        });
        match slot {
            Entry::Occupied(mut o) => {
                o.insert(Some(id));
            }
            Entry::Vacant(v) => {
                v.insert(Some(id));
            }
        }
        true
    }

    /// A5, A30: the record joins the event's campaign, with the subject's
    /// ticket id on the membership when the policy maps it there.
    pub(super) fn campaign(
        &mut self,
        ctx: &Ctx<'_>,
        record: RecordId,
        fields: &Fields,
        t: &mut Trace,
    ) {
        if let (true, Some(c)) = (self.policy.campaign_members, ctx.campaign) {
            let ticket = fields
                .get(FieldName::TICKET_ID)
                .filter(|v| self.policy.campaign_member_ticket && !v.is_blank())
                .cloned();
            t.cite(A5).reason(Fact::AddedToCampaign {
                campaign: c.clone(),
            });
            if ticket.is_some() {
                t.cite(A30).reason(Fact::TicketOnMember);
            }
            self.effects.push(Effect::AddCampaignMember {
                record,
                campaign: c.clone(),
                ticket,
            });
        }
    }

    /// The merge rules in force for this situation.
    pub(super) fn rules(&self, ctx: &Ctx<'_>) -> (ClassRules, bool) {
        let sync = &self.policy.sync;
        match ctx.situation {
            Situation::Registration => (sync.on_match, sync.enabled),
            Situation::Edit { sync: on, .. } => (sync.on_update, on),
        }
    }

    /// Merges the subject's data into an existing record and links the
    /// subject to it (D2, D7, D9, D13–D17, A7–A10, A13–A19, B3, B4). The
    /// decision is `Linked` when the link is new, `Kept` otherwise;
    /// `says_link`: the trace already names the record as linked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn update_existing(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        rec: Record,
        entered: Entered,
        says_link: bool,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let (class_rules, sync_on) = self.rules(ctx);
        let (on, is_edit, source) = match ctx.situation {
            Situation::Edit { source, .. } => (MergeOn::Update, true, Some(source)),
            Situation::Registration => (MergeOn::Match, false, None),
        };
        let mut mr = MergeRules {
            classes: class_rules,
            sync: sync_on,
            entered,
            freeze_generated: is_edit
                && self.policy.sync.freeze_generated_for_multiple_tickets
                && s.tickets > 1,
            on,
            citations: self.policy.citations,
            trust: ctx
                .submitter
                .and_then(|level| self.policy.trust.get(&level))
                .cloned(),
        };
        if ctx.protect_email {
            mr.classes.email = mr.classes.email.min(FieldMerge::FillEmpty);
        }
        let mut rules = mr.effective();
        // A10: mapped generated fields a new registration leaves unused
        // count as blank.
        let padded;
        let mut unused: Vec<&FieldName> = Vec::new();
        let fields = if self.policy.sync.absent_generated_as_blank
            && matches!(ctx.situation, Situation::Registration)
        {
            unused = self
                .policy
                .fields
                .classes
                .iter()
                .filter(|(n, c)| **c == FieldClass::Generated && fields.get(n.as_str()).is_none())
                .map(|(n, _)| n)
                .filter(|n| !rec.fields.is_empty_at(n.as_str()))
                .collect();
            if unused.is_empty() {
                fields
            } else {
                let mut f = fields.clone();
                for n in &unused {
                    f.set((*n).clone(), crate::fields::FieldValue::blank());
                }
                padded = f;
                &padded
            }
        } else {
            fields
        };
        if !unused.is_empty() && rules.generated >= FieldMerge::Replace {
            t.cite(A10).reason(Fact::GeneratedBlanked {
                fields: unused.iter().map(|n| (*n).clone()).collect(),
            });
        }
        // B14: the submitter may be kept from writing names at all.
        let trusted_name = mr.trust.as_ref().map_or(FieldMerge::Replace, |t| {
            let owns_a_name = t
                .owns
                .iter()
                .any(|f| self.fields.class_of(f.as_str()) == Some(FieldClass::Name));
            if owns_a_name {
                FieldMerge::Replace
            } else {
                t.max.name
            }
        });
        // B4, D19: a clearly different person's name about to be overwritten.
        if rules.name.min(trusted_name) >= FieldMerge::Overwrite
            && self.policy.name_guard != NameGuard::Off
            && merge::names_clearly_differ(&rec.fields, fields)
        {
            let action = self.policy.name_guard;
            self.warnings.push(Warning::SharedEmail {
                subject: s.id,
                record: rec.id,
                action,
            });
            t.cite(B4).cite(D19);
            match action {
                NameGuard::Off | NameGuard::Warn => {
                    t.reason(Fact::NameClashOverwritten);
                }
                NameGuard::KeepName => {
                    t.reason(Fact::NameClashKept);
                    mr.classes.name = mr.classes.name.min(FieldMerge::FillEmpty);
                    rules = mr.effective();
                }
                NameGuard::CreateNew => {
                    t.reason(Fact::NameClashNewRecord);
                    return self.create(ctx, s, fields, t);
                }
            }
        }
        let mut result = rules::merge_fields(&rec.fields, fields, self.fields, &mr);
        let aliases_before = self
            .policy
            .aliases
            .keep_old
            .then(|| rec.fields.get(FieldName::EMAIL_ALIASES).cloned());
        // The overlay's copy is changed next: without this one it changes
        // in place instead of copying the fields.
        let (id, record_type) = (rec.id, rec.record_type);
        drop(rec);
        self.explain_merge(ctx, sync_on, &rules, &result, &mut t);
        let trigger = source == Some(EditSource::UpdateTrigger);
        let always = trigger && self.policy.sync.update_trigger_always_writes;
        if always {
            t.cite(A18);
            if result.changes.is_empty() {
                t.reason(Fact::WrittenUnchanged);
            }
        }
        if result.frozen {
            t.cite(A19).reason(Fact::GeneratedFrozen);
        }
        // D9's warning is doo's retain mode speaking; an order's email
        // change replacing the record's (A14) is the documented path.
        let warn_overwrite = self.policy.citations == Citations::Doo;
        if let Some(email_change) = result
            .changes
            .iter()
            .find(|c| warn_overwrite && c.field.as_str() == FieldName::EMAIL)
        {
            let norm = &self.policy.normalization;
            let differs = match (
                &email_change.old,
                EmailKey::parse(email_change.new.as_str(), norm),
            ) {
                (Some(old), Ok(Some(new))) => {
                    EmailKey::parse(old.as_str(), norm).ok().flatten() != Some(new)
                }
                _ => false,
            };
            if differs {
                self.warnings.push(Warning::RecordEmailOverwritten {
                    subject: s.id,
                    record: id,
                });
            }
        }
        if let Some(before) = aliases_before {
            self.keep_alias(&mut result.changes, before, record_type, &mut t);
        }
        if !result.changes.is_empty() || always {
            t.cite(B3);
            self.ov.update(id, &result.changes);
            self.effects.push(Effect::UpdateRecord {
                record: id,
                changes: result.changes,
            });
        } else {
            // (An update marks the record used too.)
            self.ov.use_record(id);
        }
        let newly = self.relink_to(s, id);
        if newly && !says_link {
            t.reason(Fact::LinkedTo {
                record: id,
                record_type,
            });
        }
        t.cite(D12);
        self.campaign(ctx, id, fields, &mut t);
        let decision = if newly {
            Decision::Linked
        } else {
            Decision::Kept
        };
        self.outcome(ctx, s, decision, Some(id), None, t);
        Ok(())
    }
}
