//! Edits of registrations (D8–D10, D16, D17, A12–A19).

use super::*;

impl<S: Source> Decider<'_, S> {
    pub(super) fn edit(&mut self, e: &Edit) -> Result<(), PlanError<S::Error>> {
        let s = &e.subject;
        let sync = match e.source {
            EditSource::Organizer { sync: Some(b) } => b,
            _ => self.policy.sync.enabled,
        };
        let ctx = Ctx {
            protect_email: false,
            event: e.id,
            channel: Channel::Online,
            campaign: e.campaign.as_ref(),
            buyer: e.buyer.as_ref(),
            situation: Situation::Edit {
                source: e.source,
                sync,
            },
            email_change: e.email_change,
            submitter: e.submitter,
        };
        let mut t = self.trace();
        if e.source == EditSource::UpdateTrigger {
            t.cite(A18);
        }
        let rule = self.policy.roles.get(s.role);
        if rule == RoleRule::NoRecord {
            t.cite(A6)
                .cite(A12)
                .reason(Fact::RoleHasNoRecord { role: s.role });
            let link = self.ov.link_of(s.id, s.link);
            self.outcome(
                &ctx,
                s,
                Decision::NoChange,
                link,
                Some(NoRecordReason::Role),
                t,
            );
            return Ok(());
        }
        if e.buyer_data_only && s.role == Role::Attendee {
            t.cite(A12);
            if e.source != EditSource::UpdateTrigger {
                t.reason(Fact::BuyerDataWaitsForTrigger);
                let link = self.ov.link_of(s.id, s.link);
                self.outcome(
                    &ctx,
                    s,
                    Decision::NoChange,
                    link,
                    Some(NoRecordReason::AwaitingUpdateTrigger),
                    t,
                );
                return Ok(());
            }
            t.reason(Fact::BuyerDataTriggered);
        }
        let new = edit_fields(e);
        let old_email = parse_email(s.id, &s.fields, &self.policy.normalization)?;
        let new_email = parse_email(s.id, &new, &self.policy.normalization)?;
        let mut link = self.ov.link_of(s.id, s.link);
        if link.is_none() && self.policy.no_email.create {
            if let Some(rec) = self.record_by_ticket(&new)? {
                t.cite(A28).reason(Fact::FoundByTicket {
                    record: rec.id,
                    record_type: rec.record_type,
                });
                link = Some(rec.id);
            }
        }
        let Some(rid) = link else {
            let decision = self.decide_email_change(&ctx, During::Edit, None, &new_email, true);
            return match (decision.action, new_email) {
                (EmailChangeAction::MatchAgain | EmailChangeAction::NewRecord, Some(email)) => {
                    if self.policy.citations == Citations::Salesforce {
                        t.cite(A29);
                    }
                    t.reason(Fact::EmailAdded);
                    self.cite_event_setting(&decision, &mut t);
                    if decision.action == EmailChangeAction::NewRecord {
                        t.cite(A23);
                        return self.create_keyed(&ctx, s, &new, Some(email), t);
                    }
                    let ctx2 = Ctx {
                        situation: Situation::Registration,
                        ..ctx
                    };
                    t.cite(D1);
                    self.match_email(&ctx2, s, &new, email, t)
                }
                _ => {
                    t.cite(self.cite(D5, A29)).reason(Fact::NoEmailNoRecordYet);
                    self.no_record(&ctx, s, NoRecordReason::NoEmail, t);
                    Ok(())
                }
            };
        };
        let rec = self.existing(s, rid)?;
        let norm = &self.policy.normalization;
        // With buyer data only, the holder's own fields hold no email: the
        // linked record's is the one the buyer's data is compared with.
        let old_key = if e.buyer_data_only && s.role == Role::Attendee {
            rec.email_key(norm)
        } else {
            old_email
        };
        let decision = self.decide_email_change(
            &ctx,
            During::Edit,
            Some(&rec),
            &new_email,
            old_key != new_email,
        );
        if decision.action != EmailChangeAction::Unchanged {
            return self.email_changed(&ctx, s, &new, &rec, new_email, decision, t);
        }
        let entered = if e.source == EditSource::UpdateTrigger {
            Entered::All
        } else {
            Entered::Only(changed_names(&s.fields, &new))
        };
        self.update_existing(&ctx, s, &new, rec, entered, false, t)
    }
}
