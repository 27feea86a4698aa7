//! Explanations: the rules a decision cites, per product (B2), and the
//! sentences that say why.

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

/// The rules fired for one subject and the sentences explaining them.
pub(super) struct Trace {
    /// Whether sentences are written (rule ids always are).
    pub(super) explain: bool,
    /// Which product's rule ids are cited.
    pub(super) citations: Citations,
    pub(super) rules: Rules,
    /// The reasons stated so far (B2).
    pub(super) reasons: Vec<Reason>,
    /// The rule the next reason is stated under: the last one cited since
    /// the last reason.
    under: Option<RuleId>,
    /// The sentences, space-separated, in one buffer.
    pub(super) text: String,
}

impl Trace {
    pub(super) fn new(explain: bool, citations: Citations) -> Self {
        Trace {
            explain,
            citations,
            rules: Rules::new(),
            reasons: Vec::new(),
            under: None,
            text: String::new(),
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
        let reason = Reason::new(self.under.take(), fact);
        if self.explain {
            crate::describe::push(
                &crate::describe::English,
                &crate::describe::Ids,
                &reason,
                &mut self.text,
            );
        }
        self.reasons.push(reason);
        self
    }
    /// Appends a formatted sentence without a temporary string.
    pub(super) fn say_fmt(&mut self, args: std::fmt::Arguments<'_>) -> &mut Self {
        use std::fmt::Write as _;
        if !self.explain {
            return self;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = self.text.write_fmt(args);
        self
    }

    pub(super) fn say(&mut self, s: impl AsRef<str>) -> &mut Self {
        if !self.explain {
            return self;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(s.as_ref());
        self
    }
}

/// Names joined with ", ", written only when a sentence is (a lazy
/// `Display`: without explanations nothing is allocated).
pub(super) fn list<I>(names: I) -> List<I>
where
    I: Iterator + Clone,
    I::Item: AsRef<str>,
{
    List(names)
}

pub(super) struct List<I>(I);

impl<I> std::fmt::Display for List<I>
where
    I: Iterator + Clone,
    I::Item: AsRef<str>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, n) in self.0.clone().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(n.as_ref())?;
        }
        Ok(())
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
                    t.cite(D17).say_fmt(format_args!(
                        "The organizer chose {} this edit; missing data is added in any case.",
                        if sync_on { "to sync" } else { "not to sync" }
                    ));
                }
                EditSource::Organizer { sync: None } => {
                    t.cite(D16);
                }
                EditSource::SelfService => {
                    t.cite(self.cite(D16, A17)).say("Changed in self-service.");
                }
                EditSource::UpdateTrigger => {}
            }
        } else if doo && ctx.channel != Channel::Online {
            t.cite(D16)
                .say("Manual registrations and imports sync like bookings.");
        }
        if !sync_on {
            t.cite(D14)
                .say("Sync is off: existing values are never changed.");
        } else if doo && r.changes.iter().any(|c| c.rule == D13) {
            t.cite(D13);
        }
        if rules.name == FieldMerge::Never
            && !r.kept.is_empty()
            && r.kept
                .iter()
                .any(|n| self.fields.class_of(n.as_str()) == Some(FieldClass::Name))
        {
            t.cite(A8)
                .say("The name of an existing record is never updated from a new registration.");
        }
        // Grouped by wording and rule, in the order the changes arose.
        let mut groups: Vec<((&str, RuleId), Vec<&str>)> = Vec::new();
        for c in &r.changes {
            let verb = if c.new.is_blank() {
                "Cleared field(s) left blank"
            } else {
                match c.rule {
                    D15 => "Filled empty field(s)",
                    D9 | A14 => "Replaced",
                    _ => "Updated",
                }
            };
            match groups.iter_mut().find(|(k, _)| *k == (verb, c.rule)) {
                Some((_, names)) => names.push(c.field.as_str()),
                None => groups.push(((verb, c.rule), vec![c.field.as_str()])),
            }
        }
        for ((verb, rule), names) in &groups {
            t.cite(*rule);
            t.say_fmt(format_args!("{verb}: {} ({rule}).", list(names.iter())));
        }
        if !r.kept.is_empty() && sync_on {
            let kept: Vec<&str> = r
                .kept
                .iter()
                .map(|n| n.as_str())
                .filter(|n| {
                    rules.name != FieldMerge::Never
                        || self.fields.class_of(n) != Some(FieldClass::Name)
                })
                .collect();
            if !kept.is_empty() {
                t.say_fmt(format_args!(
                    "Kept the record's value of {}.",
                    list(kept.iter())
                ));
            }
        } else if !r.kept.is_empty() {
            t.say_fmt(format_args!(
                "Differing entered data stays on the booking only: {}.",
                list(r.kept.iter().map(|n| n.as_str()))
            ));
        }
        if !r.kept_by_trust.is_empty() {
            let level = ctx.submitter.map_or("", |s| s.name());
            t.cite(B14).say_fmt(format_args!(
                "Kept because of who submitted the data ({level}), which may not overwrite: {}.",
                list(r.kept_by_trust.iter().map(|n| n.as_str()))
            ));
        }
        if r.changes.is_empty() && r.kept.is_empty() && !r.frozen {
            t.say("No field needed a change.");
        }
    }
}
