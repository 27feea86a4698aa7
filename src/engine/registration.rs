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
            let mut t = Trace::new(self.explain, self.policy.citations);
            let fields = effective_fields(r.buyer_data_only, s, buyer);
            if r.buyer_data_only && s.role == Role::Attendee && buyer.is_some() {
                t.cite(A12)
                    .say("Only buyer data is collected, so the holder carries the buyer's data.");
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
            t.cite(A6)
                .say("The ticket buyer gets no record: only ticket holders do.");
            self.no_record(ctx, s, NoRecordReason::Role, t);
            return Ok(());
        }
        let email = parse_email(s.id, fields, &self.policy.normalization)?;
        if let Some(pid) = s.prefill.or(s.link) {
            let rec = self.existing(s, pid)?;
            t.cite(D7).say_fmt(format_args!(
                "The booking was prefilled from {} {}, which is assumed first.",
                rec.record_type.noun(),
                rec.id
            ));
            let changed = email != rec.email_key(&self.policy.normalization);
            let decision =
                self.decide_email_change(ctx, During::Registration, Some(&rec), &email, changed);
            match decision.action {
                EmailChangeAction::Unchanged => {
                    t.cite(D1).say("The entered email is that record's.");
                    return self.update_existing(ctx, s, fields, rec, Entered::All, false, t);
                }
                // D21: a record without email is completed by the entered
                // one (a personalized access code).
                EmailChangeAction::Complete => {
                    t.cite(D21).cite(D15).say_fmt(format_args!(
                        "That {} has no email: the entered one completes it, and the link stays.",
                        rec.record_type.noun()
                    ));
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
                    Role::Attendee => t.cite(A21).say_fmt(format_args!(
                        "Every ticket holder gets a new {}, match or not.",
                        self.noun()
                    )),
                    Role::Booker => t.cite(A22).say_fmt(format_args!(
                        "The ticket buyer gets a new {} too, even if one has the same email.",
                        self.noun()
                    )),
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
        let noun = sel.record_type.noun();
        match m.scope {
            Scope::Linear => {
                if self.policy.citations == Citations::Salesforce {
                    t.cite(A2);
                }
            }
            Scope::Cross { prefer } => {
                t.cite(A24).say_fmt(format_args!(
                    "Cross matching searches contacts and leads{}{}, preferring {}s.",
                    if m.criteria.is_empty() {
                        ""
                    } else {
                        " on email and "
                    },
                    list(m.criteria.iter().map(|c| c.as_str())),
                    prefer.noun()
                ));
                if sel.failed_criteria() > 0 {
                    t.say_fmt(format_args!(
                        "{} record(s) with this email failed the extra criteria.",
                        sel.failed_criteria()
                    ));
                }
            }
        }
        if let Some(w) = &m.weighted {
            t.cite(B10).say_fmt(format_args!(
                "Weighted criteria on {} need a score of {}; {} record(s) with this email fell short.",
                list(w.criteria.iter().map(|c| c.field.as_str())),
                w.threshold,
                sel.failed_criteria()
            ));
        }
        match action {
            MatchAction::Create if self.policy.linkage.is_some() => {
                let key = self.ov.asked_key(at);
                self.link_by_score(ctx, s, fields, sel.record_type, key, t)
            }
            MatchAction::Create => {
                if sel.other_type_has_email() && m.scope == Scope::Linear {
                    t.cite(A3).say_fmt(format_args!(
                        "No {noun} has this email (only a record of the other type has, and matching is linear), so a new {noun} is created."
                    ));
                } else {
                    t.cite(self.cite(D3, A3)).say_fmt(format_args!(
                        "No {noun} has this email, so a new one is created."
                    ));
                }
                self.create_keyed(ctx, s, fields, self.ov.asked_key(at), t)
            }
            MatchAction::Link { record } => {
                let rec = self.chosen(record)?;
                let has = if m.criteria.is_empty() {
                    "has this email"
                } else {
                    "matches"
                };
                t.cite(self.cite(D2, A7)).say_fmt(format_args!(
                    "Exactly one {noun} {has}: linked to {noun} {record}."
                ));
                if self.ov.created_here(&record) {
                    t.cite(B5)
                        .say("It was created earlier in this booking or batch.");
                }
                let ctx = &self.through_alias(ctx, &rec, fields, &mut t);
                self.update_existing(ctx, s, fields, rec, Entered::All, true, t)
            }
            MatchAction::CreateDespite { records } => {
                if m.ambiguity == Ambiguity::CreateNew {
                    t.cite(D4).say_fmt(format_args!(
                        "{} {noun}s have this email; the system never guesses between several, so a new one is created.",
                        records.len()
                    ));
                } else {
                    t.cite(D4).cite(B13).say_fmt(format_args!(
                        "{} {noun}s have this email; the ambiguity policy `{}` could not single out one, so a new one is created (it never guesses).",
                        records.len(),
                        m.ambiguity.name()
                    ));
                }
                self.create_keyed(ctx, s, fields, self.ov.asked_key(at), t)
            }
            MatchAction::LinkChosen {
                record,
                records,
                by,
            } => {
                let rec = self.chosen(record)?;
                let n = records.len();
                match by {
                    Chosen::SmallestId => {
                        t.cite(self.cite(D4, A7)).say_fmt(format_args!(
                            "{n} {noun}s have this email; the policy takes the one with the smallest id, {record}."
                        ));
                    }
                    Chosen::MostRecentlyModified => {
                        t.cite(D4).cite(B13).say_fmt(format_args!(
                            "{n} {noun}s have this email; the ambiguity policy `most_recently_modified` takes the most recently modified, {record}."
                        ));
                    }
                    Chosen::Waterfall { rule } => {
                        t.cite(D4).cite(B13).say_fmt(format_args!(
                            "{n} {noun}s have this email; the ambiguity policy `waterfall` takes {record}, the only one rule {} matches.",
                            rule + 1
                        ));
                    }
                    Chosen::BestScore { score } => {
                        t.cite(D4).cite(B13).cite(B10).say_fmt(format_args!(
                            "{n} {noun}s have this email; the ambiguity policy `best_score` takes {record}, the only one scoring {score}."
                        ));
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
                    t.cite(D4).cite(B13).say_fmt(format_args!(
                        "{} {noun}s have this email; the ambiguity policy `review` leaves the choice to a person: nothing is linked or created.",
                        records.len()
                    ));
                } else {
                    t.cite(D4).say_fmt(format_args!(
                        "{} {noun}s have this email; the policy links none and creates none.",
                        records.len()
                    ));
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
            t.cite(self.cite(D5, A11)).say(
                "No email was given, so the subject is linked to nothing and nothing is created.",
            );
            self.no_record(ctx, s, NoRecordReason::NoEmail, t);
            return Ok(());
        }
        if ne.first_name_required && fields.is_empty_at(FieldName::FIRST_NAME) {
            t.cite(A27)
                .say("Neither email nor first name was given, so no record is created.");
            self.no_record(ctx, s, NoRecordReason::NoFirstName, t);
            return Ok(());
        }
        if let Some(rec) = self.record_by_ticket(fields)? {
            t.cite(A28).say_fmt(format_args!(
                "No email was given; {} {} already carries this ticket id and is linked.",
                rec.record_type.noun(),
                rec.id
            ));
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
                t.cite(A26)
                    .say("The last name was blank, so the buyer's last name is used.");
            }
        }
        t.cite(A25).say_fmt(format_args!(
            "No email was given, but records without email are enabled: a new {} is created, found again later through its ticket id.",
            self.noun()
        ));
        self.create(ctx, s, &f, t)
    }
}
