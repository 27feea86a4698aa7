//! Explanations: the rules a decision cites, per product (B2), and the
//! reasons, as data, that say why.

use super::*;

/// What the Salesforce article calls a decision the engine reaches by a doo
/// rule; `A` and `B` rules are their own. `None`: the article has no such
/// rule (doo's prefill, relink, sync settings and exports).
pub(super) fn salesforce_counterpart(r: RuleId) -> Option<RuleId> {
    match r {
        D2 => Some(A7),
        D3 => Some(A3),
        // Several records share the key: the ambiguity rule is ours.
        D4 => Some(B13),
        D5 => Some(A11),
        D9 => Some(A14),
        D13 => Some(A9),
        D16 => Some(A13),
        D19 => Some(B4),
        D1 | D6 | D7 | D8 | D10 | D11 | D12 | D14 | D15 | D17 | D18 | D20 | D21 | D22 => None,
        other => Some(other),
    }
}

/// The rules fired for one subject and the reasons they were fired for
/// (rendered after deciding: see [`crate::describe`]).
pub(super) struct Trace {
    /// Which product's rule ids are cited.
    pub(super) citations: Citations,
    pub(super) rules: Rules,
    /// The reasons stated so far (B2).
    pub(super) reasons: Vec<Reason>,
    /// The rule the next reason is stated under: the last one cited since
    /// the last reason.
    under: Option<RuleId>,
}

impl Trace {
    /// A trace citing `citations`' rules, stating reasons into `reasons`
    /// (empty; a spare list keeps its capacity).
    pub(super) fn new(citations: Citations, reasons: Vec<Reason>) -> Self {
        debug_assert!(reasons.is_empty());
        Trace {
            citations,
            rules: Rules::new(),
            reasons,
            under: None,
        }
    }
    /// Cites `r`; under [`Citations::Salesforce`] a doo rule is cited as
    /// the Salesforce article's counterpart, or not at all when it has
    /// none (each preset speaks its own rules).
    pub(super) fn cite(&mut self, r: RuleId) -> &mut Self {
        let r = match self.citations {
            Citations::Doo => Some(r),
            Citations::Salesforce => salesforce_counterpart(r),
        };
        if let Some(r) = r {
            // Capacity exceeds what any decision cites; see `Rules::CAPACITY`.
            let _ = self.rules.push(r);
            self.under = Some(r);
        }
        self
    }

    /// States `fact`, under the rule cited last since the previous reason.
    pub(super) fn reason(&mut self, fact: Fact) -> &mut Self {
        let rule = self.under.take();
        self.reasons.push(Reason::new(rule, fact));
        self
    }
}

impl<S: Source> Decider<'_, S> {
    pub(super) fn explain_merge(
        &self,
        ctx: &Ctx<'_>,
        sync_on: bool,
        rules: &ClassRules,
        r: &rules::MergeResult,
        t: &mut Trace,
    ) {
        let doo = self.policy.citations == Citations::Doo;
        if let Situation::Edit { source, .. } = ctx.situation {
            match source {
                EditSource::Organizer { sync: Some(_) } => {
                    t.cite(D17)
                        .reason(Fact::OrganizerChoseSync { sync: sync_on });
                }
                EditSource::Organizer { sync: None } => {
                    t.cite(D16);
                }
                EditSource::SelfService => {
                    t.cite(self.cite(D16, A17)).reason(Fact::SelfService);
                }
                EditSource::UpdateTrigger => {}
            }
        } else if doo && ctx.channel != Channel::Online {
            t.cite(D16).reason(Fact::ManualSyncsLikeBookings);
        }
        if !sync_on {
            t.cite(D14).reason(Fact::SyncOff);
        } else if doo && r.changes.iter().any(|c| c.rule == D13) {
            t.cite(D13);
        }
        if rules.name == FieldMerge::Never
            && !r.kept.is_empty()
            && r.kept
                .iter()
                .any(|n| self.fields.class_of(n.as_str()) == Some(FieldClass::Name))
        {
            t.cite(A8).reason(Fact::NameNeverUpdated);
        }
        // Grouped by wording and rule, in the order the changes arose.
        let mut groups: Vec<((ChangeKind, RuleId), Vec<FieldName>)> = Vec::new();
        for c in &r.changes {
            let change = if c.new.is_blank() {
                ChangeKind::Cleared
            } else {
                match c.rule {
                    D15 => ChangeKind::Filled,
                    D9 | A14 => ChangeKind::Replaced,
                    _ => ChangeKind::Updated,
                }
            };
            match groups.iter_mut().find(|(k, _)| *k == (change, c.rule)) {
                Some((_, names)) => names.push(c.field.clone()),
                None => groups.push(((change, c.rule), vec![c.field.clone()])),
            }
        }
        for ((change, by), fields) in groups {
            t.cite(by)
                .reason(Fact::FieldsChanged { change, by, fields });
        }
        if !r.kept.is_empty() && sync_on {
            let kept: Vec<FieldName> = r
                .kept
                .iter()
                .filter(|n| {
                    rules.name != FieldMerge::Never
                        || self.fields.class_of(n.as_str()) != Some(FieldClass::Name)
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                t.reason(Fact::KeptRecordValues { fields: kept });
            }
        } else if !r.kept.is_empty() {
            t.reason(Fact::StaysOnBooking {
                fields: r.kept.clone(),
            });
        }
        if !r.kept_by_trust.is_empty() {
            t.cite(B14).reason(Fact::KeptBySubmitter {
                submitter: ctx.submitter,
                fields: r.kept_by_trust.clone(),
            });
        }
        if r.changes.is_empty() && r.kept.is_empty() && !r.frozen {
            t.reason(Fact::NoFieldChanged);
        }
    }
}
