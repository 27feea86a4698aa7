//! New registrations (D1–D7, D21, A1–A7, A11, A21–A29): each subject is
//! matched by its email ([`crate::rules::select`],
//! [`crate::rules::exact_one`]), or by ticket id without email.

use super::*;

impl<S: Source> Decider<'_, S> {
    pub(super) fn registration(&mut self, r: &Registration) -> Result<(), PlanError<S::Error>> {
        let buyer = r
            .subjects
            .iter()
            .find(|s| s.role == Role::Booker)
            .map(|b| &b.fields);
        let ctx = Ctx {
            protect_email: false,
            event: r.id,
            channel: r.channel,
            campaign: r.campaign.as_ref(),
            buyer,
            situation: Situation::Registration,
            email_change: r.email_change,
            submitter: r.submitter,
        };
        for s in &r.subjects {
            let mut t = self.trace();
            let fields = effective_fields(r.buyer_data_only, s, buyer);
            if r.buyer_data_only && s.role == Role::Attendee && buyer.is_some() {
                t.cite(A12).reason(Fact::BuyerDataCarried);
            }
            self.register_subject(&ctx, s, &fields, t)?;
        }
        Ok(())
    }

    pub(super) fn register_subject(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let rule = self.policy.roles.get(s.role);
        if rule == RoleRule::NoRecord {
            t.cite(A6).reason(Fact::BuyerGetsNoRecord);
            self.no_record(ctx, s, NoRecordReason::Role, t);
            return Ok(());
        }
        let email = parse_email(s.id, fields, &self.policy.normalization)?;
        if let Some(pid) = s.prefill.or(s.link) {
            let rec = self.existing(s, pid)?;
            t.cite(D7).reason(Fact::Prefilled {
                record: rec.id,
                record_type: rec.record_type,
            });
            let changed = email != rec.email_key(&self.policy.normalization);
            let decision =
                self.decide_email_change(ctx, During::Registration, Some(&rec), &email, changed);
            match decision.action {
                EmailChangeAction::Unchanged => {
                    t.cite(D1).reason(Fact::EnteredEmailIsRecords);
                    return self.update_existing(ctx, s, fields, rec, Entered::All, false, t);
                }
                // D21: a record without email is completed by the entered
                // one (a personalized access code).
                EmailChangeAction::Complete => {
                    t.cite(D21).cite(D15).reason(Fact::EmailCompletesRecord {
                        record_type: rec.record_type,
                    });
                    return self.update_existing(ctx, s, fields, rec, Entered::All, false, t);
                }
                _ => {}
            }
            return self.email_changed(ctx, s, fields, &rec, email, decision, t);
        }
        match (rule, email) {
            (_, None) => self.no_email(ctx, s, fields, t),
            (RoleRule::AlwaysCreate, Some(e)) => {
                match s.role {
                    Role::Attendee => t.cite(A21).reason(Fact::EveryHolderNew {
                        record_type: self.policy.matching.record_type,
                    }),
                    Role::Booker => t.cite(A22).reason(Fact::BuyerNewToo {
                        record_type: self.policy.matching.record_type,
                    }),
                };
                self.create_keyed(ctx, s, fields, Some(e), t)
            }
            (_, Some(e)) => {
                if self.policy.citations == Citations::Doo {
                    t.cite(D1);
                }
                self.match_email(ctx, s, fields, e, t)
            }
        }
    }

    /// D2–D4, A2, A3, A7, A24.
    pub(super) fn match_email(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        key: EmailKey,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        // The overlay keeps the key; a record created below takes it from there.
        let (ids, at) = self.ov.by_key(key)?;
        let candidates: SmallVec<[&Record; 2]> =
            ids.iter().filter_map(|id| self.ov.get(id)).collect();
        let m = &self.policy.matching;
        let sel = rules::select(m, fields, &candidates);
        let action = rules::exact_one(&sel, m, fields, &candidates);
        // B13: a key holding several records of the type is reported,
        // whatever the policy does about it.
        let on_key = candidates
            .iter()
            .filter(|r| r.record_type == sel.record_type)
            .count();
        drop(candidates);
        if on_key >= 2 {
            self.warnings.push(Warning::AbsorbingDuplicates {
                subject: s.id,
                count: on_key,
            });
        }
        let record_type = sel.record_type;
        match m.scope {
            Scope::Linear => {
                if self.policy.citations == Citations::Salesforce {
                    t.cite(A2);
                }
            }
            Scope::Cross { prefer } => {
                t.cite(A24).reason(Fact::CrossMatching {
                    criteria: m.criteria.clone(),
                    prefer,
                });
                if sel.failed_criteria() > 0 {
                    t.reason(Fact::FailedCriteria {
                        count: sel.failed_criteria(),
                    });
                }
            }
        }
        if let Some(w) = &m.weighted {
            t.cite(B10).reason(Fact::WeightedCriteria {
                criteria: w.criteria.iter().map(|c| c.field.clone()).collect(),
                threshold: w.threshold,
                fell_short: sel.failed_criteria(),
            });
        }
        match action {
            MatchAction::Create if self.policy.linkage.is_some() => {
                let key = self.ov.asked_key(at);
                self.link_by_score(ctx, s, fields, sel.record_type, key, t)
            }
            MatchAction::Create => {
                if sel.other_type_has_email() && m.scope == Scope::Linear {
                    t.cite(A3)
                        .reason(Fact::OnlyOtherTypeHasEmail { record_type });
                } else {
                    t.cite(self.cite(D3, A3))
                        .reason(Fact::NoneHasEmail { record_type });
                }
                self.create_keyed(ctx, s, fields, self.ov.asked_key(at), t)
            }
            MatchAction::Link { record } => {
                let rec = self.chosen(record)?;
                t.cite(self.cite(D2, A7)).reason(Fact::ExactlyOne {
                    record,
                    record_type,
                    criteria: !m.criteria.is_empty(),
                });
                if self.ov.created_here(&record) {
                    t.cite(B5).reason(Fact::CreatedInBatch);
                }
                let ctx = &self.through_alias(ctx, &rec, fields, &mut t);
                self.update_existing(ctx, s, fields, rec, Entered::All, true, t)
            }
            MatchAction::CreateDespite { records } => {
                if m.ambiguity == Ambiguity::CreateNew {
                    t.cite(D4).reason(Fact::SeveralCreateNew {
                        count: records.len(),
                        record_type,
                    });
                } else {
                    t.cite(D4).cite(B13).reason(Fact::SeveralUnresolved {
                        count: records.len(),
                        record_type,
                        ambiguity: m.ambiguity.name().into(),
                    });
                }
                self.create_keyed(ctx, s, fields, self.ov.asked_key(at), t)
            }
            MatchAction::LinkChosen {
                record,
                records,
                by,
            } => {
                let rec = self.chosen(record)?;
                let count = records.len();
                match by {
                    Chosen::SmallestId => {
                        t.cite(self.cite(D4, A7)).reason(Fact::SeveralSmallestId {
                            count,
                            record_type,
                            record,
                        });
                    }
                    Chosen::MostRecentlyModified => {
                        t.cite(D4).cite(B13).reason(Fact::SeveralMostRecent {
                            count,
                            record_type,
                            record,
                        });
                    }
                    Chosen::Waterfall { rule } => {
                        t.cite(D4).cite(B13).reason(Fact::SeveralWaterfall {
                            count,
                            record_type,
                            record,
                            rule: rule + 1,
                        });
                    }
                    Chosen::BestScore { score } => {
                        t.cite(D4)
                            .cite(B13)
                            .cite(B10)
                            .reason(Fact::SeveralBestScore {
                                count,
                                record_type,
                                record,
                                score,
                            });
                    }
                }
                self.warnings.push(Warning::Ambiguous {
                    subject: s.id,
                    records,
                });
                let ctx = &self.through_alias(ctx, &rec, fields, &mut t);
                self.update_existing(ctx, s, fields, rec, Entered::All, true, t)
            }
            MatchAction::Skip { records } | MatchAction::Review { records } => {
                let review = m.ambiguity == Ambiguity::Review;
                if review {
                    t.cite(D4).cite(B13).reason(Fact::SeveralReview {
                        count: records.len(),
                        record_type,
                    });
                } else {
                    t.cite(D4).reason(Fact::SeveralSkip {
                        count: records.len(),
                        record_type,
                    });
                }
                self.warnings.push(Warning::Ambiguous {
                    subject: s.id,
                    records,
                });
                let link = self.ov.link_of(s.id, s.link);
                let decision = if review {
                    Decision::Review
                } else {
                    Decision::NoRecord
                };
                self.outcome(ctx, s, decision, link, Some(NoRecordReason::Ambiguous), t);
                Ok(())
            }
        }
    }

    /// D5, A11, A25–A28.
    pub(super) fn no_email(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let ne = self.policy.no_email;
        if !ne.create {
            t.cite(self.cite(D5, A11)).reason(Fact::NoEmail);
            self.no_record(ctx, s, NoRecordReason::NoEmail, t);
            return Ok(());
        }
        if ne.first_name_required && fields.is_empty_at(FieldName::FIRST_NAME) {
            t.cite(A27).reason(Fact::NoEmailNoFirstName);
            self.no_record(ctx, s, NoRecordReason::NoFirstName, t);
            return Ok(());
        }
        if let Some(rec) = self.record_by_ticket(fields)? {
            t.cite(A28).reason(Fact::TicketCarrier {
                record: rec.id,
                record_type: rec.record_type,
            });
            return self.update_existing(ctx, s, fields, rec, Entered::All, true, t);
        }
        let mut f = fields.clone();
        if ne.last_name_from_buyer && f.is_empty_at(FieldName::LAST_NAME) {
            if let Some(last) = ctx
                .buyer
                .and_then(|b| b.get(FieldName::LAST_NAME))
                .filter(|v| !v.is_blank())
            {
                f.set(FieldName::new(FieldName::LAST_NAME), last.clone());
                t.cite(A26).reason(Fact::BuyerLastName);
            }
        }
        t.cite(A25).reason(Fact::NoEmailCreates {
            record_type: self.policy.matching.record_type,
        });
        self.create(ctx, s, &f, t)
    }
}
