//! Email changes of linked subjects (D8–D10, D22, A14, A15, A23), as
//! [`crate::rules::email_change`] decides them.

use super::*;

impl<S: Source> Decider<'_, S> {
    /// The email-change decision (D8–D10, D21, D22, A14, A15, A23) for a
    /// subject linked to `rec` (`None`: without record) whose email is now
    /// `email`.
    pub(super) fn decide_email_change(
        &self,
        ctx: &Ctx<'_>,
        during: During,
        rec: Option<&Record>,
        email: &Option<EmailKey>,
        changed: bool,
    ) -> EmailChangeDecision {
        let (class_rules, sync) = self.rules(ctx);
        rules::email_change(&EmailChangeCase {
            during,
            linked: rec.is_some(),
            record_has_email: rec.is_some_and(|r| !r.fields.is_empty_at(FieldName::EMAIL)),
            has_email: email.is_some(),
            changed,
            event_setting: ctx.email_change,
            policy_setting: self.policy.email_change,
            sync,
            email_merge: class_rules.email,
            retained_email: self.policy.retained_email,
        })
    }

    /// D22: an event that sets its own email-change behaviour is cited.
    pub(super) fn cite_event_setting(&self, decision: &EmailChangeDecision, t: &mut Trace) {
        if decision.event_setting_used {
            if self.policy.citations == Citations::Doo {
                t.cite(D22);
            }
            t.reason(Fact::EventSetsEmailChange);
        }
    }

    /// D8, D9, A14, A15, A23: the email of a linked (or prefilled) subject
    /// changed, and `decision` says what happens.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn email_changed(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        rec: &Record,
        email: Option<EmailKey>,
        decision: EmailChangeDecision,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        if let (Situation::Edit { .. }, Citations::Doo) = (ctx.situation, self.policy.citations) {
            t.cite(D10);
        }
        self.cite_event_setting(&decision, &mut t);
        let reassign = decision.behaviour == Some(EmailChange::Reassign);
        match (decision.action, email) {
            (EmailChangeAction::MatchAgain, Some(e)) => {
                t.cite(D8);
                t.reason(Fact::Reassigned);
                if self.policy.aliases.keep_old {
                    t.cite(B15).reason(Fact::ReassignKeepsNoAlias {
                        record: rec.id,
                        record_type: rec.record_type,
                    });
                }
                let ctx2 = Ctx {
                    situation: Situation::Registration,
                    ..*ctx
                };
                self.match_email(&ctx2, s, fields, e, t)
            }
            (EmailChangeAction::Unlink, _) => {
                if reassign {
                    t.cite(D8).cite(D5);
                } else {
                    t.cite(A23).cite(A11);
                }
                self.unlink_without_email(ctx, s, t);
                Ok(())
            }
            (
                EmailChangeAction::Retain {
                    overwrite_email,
                    keep_record_email,
                },
                _,
            ) => {
                t.cite(self.cite(D9, A15));
                let ctx = &Ctx {
                    protect_email: ctx.protect_email || keep_record_email,
                    ..*ctx
                };
                if keep_record_email {
                    self.warnings.push(Warning::RecordEmailKept {
                        subject: s.id,
                        record: rec.id,
                    });
                    t.cite(B8).reason(Fact::RetainKeepsRecordEmail {
                        record_type: rec.record_type,
                    });
                } else if overwrite_email {
                    t.reason(Fact::RetainOverwritesEmail {
                        record_type: rec.record_type,
                    });
                } else {
                    t.reason(Fact::RetainLeavesEmail {
                        record_type: rec.record_type,
                    });
                }
                let entered = match ctx.situation {
                    Situation::Registration => Entered::All,
                    Situation::Edit {
                        source: EditSource::UpdateTrigger,
                        ..
                    } => Entered::All,
                    Situation::Edit { .. } => Entered::Only(changed_names(&s.fields, fields)),
                };
                self.update_existing(ctx, s, fields, rec.clone(), entered, false, t)
            }
            (EmailChangeAction::NewRecord, Some(e)) => {
                t.cite(A23).reason(Fact::EmailChangedNewRecord {
                    record_type: self.policy.matching.record_type,
                });
                self.create_keyed(ctx, s, fields, Some(e), t)
            }
            // The decision was taken for a linked subject whose email changed.
            _ => Err(PlanError::Invalid(Error::MissingCandidates("email change"))),
        }
    }

    /// The email was removed from a linked subject: it is unlinked (D5, A11).
    pub(super) fn unlink_without_email(&mut self, ctx: &Ctx<'_>, s: &Subject, mut t: Trace) {
        t.reason(Fact::EmailRemoved);
        if let Some(old) = self.ov.link_of(s.id, s.link) {
            self.effects.push(Effect::Unlink {
                subject: s.id,
                record: old,
            });
            self.ov.links.insert(s.id, None);
        }
        self.outcome(
            ctx,
            s,
            Decision::Unlinked,
            None,
            Some(NoRecordReason::NoEmail),
            t,
        );
    }
}
