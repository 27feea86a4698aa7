//! The scenario runner: plays the steps on an [`InMemoryStore`] and
//! reports every decision, the final records, and the expectations that
//! did not hold.

use super::*;
use crate::describe;

mod expect;
use expect::*;

impl NamedWhatIf {
    fn between(ra: &Report, a: &World, rb: &Report, b: &World) -> Self {
        let mut out = NamedWhatIf::default();
        for (sa, sb) in ra.steps.iter().zip(&rb.steps) {
            let mut names: Vec<&str> = sa
                .outcomes
                .iter()
                .chain(&sb.outcomes)
                .map(|o| o.subject.as_str())
                .collect();
            names.dedup();
            let mut seen = std::collections::BTreeSet::new();
            for n in names {
                if !seen.insert(n) {
                    continue;
                }
                let x = sa.outcomes.iter().find(|o| o.subject == n);
                let y = sb.outcomes.iter().find(|o| o.subject == n);
                let same = matches!((x, y), (Some(x), Some(y)) if (x.decision, &x.record) == (y.decision, &y.record));
                if !same {
                    out.subjects.push(NamedSubjectDiff {
                        step: sa.index,
                        subject: n.to_owned(),
                        a: x.cloned(),
                        b: y.cloned(),
                    });
                }
            }
        }
        out.created_only_a = a
            .created_ids
            .iter()
            .filter(|id| !b.created_ids.contains(id))
            .map(|id| a.record_name(*id))
            .collect();
        out.created_only_b = b
            .created_ids
            .iter()
            .filter(|id| !a.created_ids.contains(id))
            .map(|id| b.record_name(*id))
            .collect();
        for x in &ra.records {
            let Some(y) = rb
                .records
                .iter()
                .find(|y| (&y.tenant, &y.name) == (&x.tenant, &x.name))
            else {
                continue;
            };
            for (field, va, vb) in crate::whatif::differences(&x.fields, &y.fields) {
                out.fields.push(NamedFieldDiff {
                    tenant: x.tenant.clone(),
                    record: x.name.clone(),
                    field: field.to_string(),
                    a: va.map(|v| v.as_str().to_owned()),
                    b: vb.map(|v| v.as_str().to_owned()),
                });
            }
        }
        out
    }

    /// The expectations `x` states that this comparison does not meet.
    fn check(&self, x: &ExpectWhatIf) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(want) = &x.subjects {
            let got: Vec<String> = self
                .subjects
                .iter()
                .map(|d| format!("{}:{}", d.step, d.subject))
                .collect();
            if &got != want {
                out.push(format!("what-if subjects: expected {want:?}, got {got:?}"));
            }
        }
        for (what, want, got) in [
            (
                "created only under the scenario's policy",
                x.created_only_a,
                self.created_only_a.len(),
            ),
            (
                "created only under the compared policy",
                x.created_only_b,
                self.created_only_b.len(),
            ),
        ] {
            if let Some(want) = want {
                if want != got {
                    out.push(format!(
                        "what-if records {what}: expected {want}, got {got}"
                    ));
                }
            }
        }
        if let Some(want) = &x.fields {
            let got: Vec<String> = self
                .fields
                .iter()
                .map(|d| format!("{}.{}", d.record, d.field))
                .collect();
            if &got != want {
                out.push(format!("what-if fields: expected {want:?}, got {got:?}"));
            }
        }
        out
    }
}

/// The simulator's state: names, ids, subjects as registered.
struct World {
    store: InMemoryStore,
    tenants: BTreeMap<String, TenantId>,
    records: BTreeMap<String, RecordId>,
    record_names: BTreeMap<RecordId, String>,
    record_tenants: BTreeMap<RecordId, TenantId>,
    subjects: BTreeMap<String, (TenantId, Subject)>,
    subject_names: BTreeMap<SubjectId, String>,
    /// The email-change behaviour of the event each subject registered
    /// for, when it sets one (D22): its later edits carry it too.
    email_change: BTreeMap<String, EmailChange>,
    created: usize,
    /// Created records' names from the scenario's own run (B18: the
    /// compared run names the records both create alike, and its own
    /// `b_new1`, `b_new2`, …).
    known: Option<BTreeMap<RecordId, String>>,
    /// The ids of the records the steps created, in order.
    created_ids: Vec<RecordId>,
    /// The inverse of each step's applied plan, by step position (B16).
    inverses: BTreeMap<usize, Plan>,
}

impl World {
    fn tenant(&mut self, name: Option<&str>) -> TenantId {
        let name = name.unwrap_or("default");
        *self
            .tenants
            .entry(name.to_owned())
            .or_insert_with(|| TenantId::new(named("tenant", name)))
    }

    fn record(&self, path: &str, name: &str) -> Result<RecordId, ScenarioError> {
        self.records
            .get(name)
            .copied()
            .ok_or_else(|| ScenarioError::Undefined {
                path: path.into(),
                kind: "record",
                name: name.into(),
            })
    }

    fn subject(&self, path: &str, name: &str) -> Result<(TenantId, Subject), ScenarioError> {
        let (t, s) = self
            .subjects
            .get(name)
            .cloned()
            .ok_or_else(|| ScenarioError::Undefined {
                path: path.into(),
                kind: "subject",
                name: name.into(),
            })?;
        let link = self.store.link_of(t, s.id);
        Ok((
            t,
            Subject {
                link,
                prefill: None,
                ..s
            },
        ))
    }

    /// D22: an edit's own email-change setting, else the one its subject's
    /// registration set.
    fn email_change_for(&self, subject: &str, own: Option<EmailChange>) -> Option<EmailChange> {
        own.or_else(|| self.email_change.get(subject).copied())
    }

    fn record_name(&self, id: RecordId) -> String {
        self.record_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// Replaces ids in `text` by names, in one pass over the text (each
    /// hyphenated UUID in it is looked up once), so a report is linear in
    /// the number of subjects.
    fn names(&self, text: &str) -> String {
        const UUID_LEN: usize = 36;
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) {
            let name = text
                .get(i..i + UUID_LEN)
                .filter(|_| c.is_ascii_hexdigit())
                .and_then(|s| Uuid::try_parse(s).ok())
                .and_then(|u| {
                    self.record_names
                        .get(&RecordId::new(u))
                        .or_else(|| self.subject_names.get(&SubjectId::new(u)))
                });
            match name {
                Some(n) => {
                    out.push_str(n);
                    i += UUID_LEN;
                }
                None => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out
    }
}

/// Records and subjects by their scenario names (ids where a name is
/// unknown).
impl describe::Names for World {
    fn record(&self, id: RecordId, out: &mut String) {
        match self.record_names.get(&id) {
            Some(n) => out.push_str(n),
            None => out.push_str(&id.to_string()),
        }
    }

    fn subject(&self, id: SubjectId, out: &mut String) {
        match self.subject_names.get(&id) {
            Some(n) => out.push_str(n),
            None => out.push_str(&id.to_string()),
        }
    }
}

impl StepReport {
    /// The report of step `index`, before anything happened.
    fn new(index: usize, action: String, st: &Step) -> Self {
        StepReport {
            index,
            action,
            note: st.note.clone(),
            outcomes: Vec::new(),
            warnings: Vec::new(),
            warned: Vec::new(),
            error: None,
            mismatches: Vec::new(),
        }
    }
}

impl Scenario {
    /// Plays the scenario on an in-memory store.
    ///
    /// # Errors
    /// The errors of [`PolicySpec::resolve`]. A step that fails is reported in
    /// the [`Report`], not returned.
    pub fn run(&self) -> Result<Report, ScenarioError> {
        self.run_with(None)
    }

    /// [`Scenario::run`], with the outcomes explained by `f` (expectations
    /// on explanations are checked against the English ones).
    ///
    /// # Errors
    /// As [`Scenario::run`].
    pub fn run_in(&self, f: &dyn describe::Formatter) -> Result<Report, ScenarioError> {
        self.run_with(Some(f))
    }

    fn run_with(&self, f: Option<&dyn describe::Formatter>) -> Result<Report, ScenarioError> {
        let (mut report, a) = self.play(&self.policy, None)?;
        if let Some(f) = f {
            for step in &mut report.steps {
                for o in &mut step.outcomes {
                    o.explanation = describe::sentences(f, &a, &o.reasons);
                }
                step.warnings = step
                    .warned
                    .iter()
                    .map(|w| describe::warning(f, &a, w))
                    .collect();
            }
        }
        if let Some(spec) = &self.compare {
            let known: BTreeMap<RecordId, String> = a
                .created_ids
                .iter()
                .map(|id| (*id, a.record_name(*id)))
                .collect();
            let (other, b) = self.play(spec, Some(known))?;
            let diff = NamedWhatIf::between(&report, &a, &other, &b);
            report.what_if_mismatches = self
                .expect_what_if
                .as_ref()
                .map(|x| diff.check(x))
                .unwrap_or_default();
            report.what_if = Some(diff);
        }
        Ok(report)
    }

    /// Plays the steps under `spec`'s policy; `known` names created
    /// records after another run's (the compared run).
    fn play(
        &self,
        spec: &PolicySpec,
        known: Option<BTreeMap<RecordId, String>>,
    ) -> Result<(Report, World), ScenarioError> {
        let policy = spec.resolve()?;
        let engine = Engine::new(policy.clone())?;
        let mut w = World {
            store: InMemoryStore::with_normalization(policy.normalization),
            tenants: BTreeMap::new(),
            records: BTreeMap::new(),
            record_names: BTreeMap::new(),
            record_tenants: BTreeMap::new(),
            subjects: BTreeMap::new(),
            subject_names: BTreeMap::new(),
            email_change: BTreeMap::new(),
            created: 0,
            known,
            created_ids: Vec::new(),
            inverses: BTreeMap::new(),
        };
        for (i, r) in self.records.iter().enumerate() {
            let tenant = w.tenant(r.tenant.as_deref());
            let id = RecordId::new(named("record", &r.name));
            let mut rec = Record::new(id, tenant, r.record_type, r.fields.clone());
            rec.version = r.version;
            w.store.insert(rec).map_err(|_| ScenarioError::Duplicate {
                path: format!("records[{i}].name"),
                kind: "record",
                name: r.name.clone(),
            })?;
            w.records.insert(r.name.clone(), id);
            w.record_names.insert(id, r.name.clone());
            w.record_tenants.insert(id, tenant);
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for (i, st) in self.steps.iter().enumerate() {
            steps.push(self.step(&engine, &mut w, i, st)?);
        }
        let mut records = Vec::new();
        for (tname, t) in w.tenants.clone() {
            for r in w.store.records(t) {
                records.push(NamedRecord {
                    name: w.record_name(r.id),
                    tenant: tname.clone(),
                    record_type: r.record_type,
                    version: r.version,
                    fields: r.fields,
                });
            }
        }
        records.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
        Ok((
            Report {
                description: self.description.clone(),
                steps,
                records,
                what_if: None,
                what_if_mismatches: Vec::new(),
            },
            w,
        ))
    }

    fn step(
        &self,
        engine: &Engine,
        w: &mut World,
        i: usize,
        st: &Step,
    ) -> Result<StepReport, ScenarioError> {
        let path = format!("steps[{i}]");
        if st.merge.is_some() || st.undo.is_some() {
            return self.direct_step(w, i, st, &path);
        }
        let event_id = |id: &Option<String>| {
            EventId::new(named(
                "event",
                id.as_deref().unwrap_or(&format!("step-{i}")),
            ))
        };
        let (tenant, event, action) = if let Some(r) = &st.register {
            let tenant = w.tenant(r.tenant.as_deref());
            let mut subjects = Vec::with_capacity(r.subjects.len());
            for s in &r.subjects {
                let id = SubjectId::new(named("subject", &s.name));
                let mut subject = Subject::new(id, s.role, s.fields.clone());
                if let Some(p) = &s.prefill {
                    subject.prefill = Some(w.record(&path, p)?);
                }
                if let Some(t) = s.tickets {
                    subject.tickets = t;
                }
                w.subject_names.insert(id, s.name.clone());
                match r.email_change {
                    Some(e) => w.email_change.insert(s.name.clone(), e),
                    None => w.email_change.remove(&s.name),
                };
                w.subjects.insert(
                    s.name.clone(),
                    (
                        tenant,
                        Subject {
                            prefill: None,
                            ..subject.clone()
                        },
                    ),
                );
                subjects.push(subject);
            }
            let names: Vec<&str> = r.subjects.iter().map(|s| s.name.as_str()).collect();
            let event = Event::Registered(Registration {
                id: event_id(&r.id),
                tenant,
                channel: r.channel,
                campaign: r.campaign.clone().map(CampaignId),
                buyer_data_only: r.buyer_data_only,
                subjects,
                email_change: r.email_change,
                submitter: r.submitter,
            });
            (tenant, event, format!("register {}", names.join(", ")))
        } else if let Some(e) = &st.edit {
            let (tenant, mut subject) = w.subject(&path, &e.subject)?;
            if let Some(t) = e.tickets {
                subject.tickets = t;
            }
            let event = Event::Edited(Edit {
                id: event_id(&e.id),
                tenant,
                subject,
                new_fields: e.fields.clone(),
                source: e.source,
                campaign: e.campaign.clone().map(CampaignId),
                buyer: e.buyer.clone(),
                buyer_data_only: e.buyer_data_only,
                email_change: w.email_change_for(&e.subject, e.email_change),
                submitter: e.submitter,
            });
            (
                tenant,
                event,
                format!("edit {} ({})", e.subject, source_name(e.source)),
            )
        } else if let Some(e) = &st.change_email {
            let (tenant, subject) = w.subject(&path, &e.subject)?;
            let event = Event::Edited(Edit {
                id: event_id(&None),
                tenant,
                subject,
                new_fields: Fields::from_pairs([(FieldName::EMAIL, e.email.as_str())]),
                source: e.source,
                campaign: None,
                buyer: None,
                buyer_data_only: false,
                email_change: w.email_change_for(&e.subject, e.email_change),
                submitter: e.submitter,
            });
            (
                tenant,
                event,
                format!(
                    "change the email of {} ({})",
                    e.subject,
                    source_name(e.source)
                ),
            )
        } else if let Some(r) = &st.relink {
            let (tenant, subject) = w.subject(&path, &r.subject)?;
            let to = w.record(&path, &r.to)?;
            let event = Event::Relinked(Relink {
                id: event_id(&None),
                tenant,
                subject,
                to,
            });
            (tenant, event, format!("relink {} to {}", r.subject, r.to))
        } else if let Some(c) = &st.record_change {
            let record = w.record(&path, &c.record)?;
            let tenant = match w.record_tenants.get(&record) {
                Some(t) => *t,
                None => w.tenant(None),
            };
            let linked: Vec<Subject> = w
                .subjects
                .values()
                .filter(|(t, s)| *t == tenant && w.store.link_of(*t, s.id) == Some(record))
                .map(|(_, s)| Subject {
                    link: Some(record),
                    ..s.clone()
                })
                .collect();
            let event = Event::RecordChanged(RecordChange {
                id: event_id(&None),
                tenant,
                record,
                new_fields: c.fields.clone(),
                subjects: linked,
            });
            (tenant, event, format!("record {} changes", c.record))
        } else {
            return Err(ScenarioError::StepShape(path));
        };

        let mut report = StepReport::new(i, action, st);
        let planned = engine.plan(&w.store, &event);
        let plan = match planned {
            Ok(plan) => match crate::undo::apply_reversible(&w.store, &plan) {
                Ok(inverse) => {
                    w.inverses.insert(i, inverse);
                    Some(plan)
                }
                Err(e) => {
                    report.error = Some(crate::error::chain(&e));
                    None
                }
            },
            Err(e) => {
                report.error = Some(w.names(&crate::error::chain(&e)));
                None
            }
        };
        if let Some(plan) = &plan {
            self.record_plan(w, &event, plan, &mut report);
        }
        if let Some(x) = &st.expect {
            check_expect(w, tenant, x, plan.as_ref(), &mut report);
        }
        Ok(report)
    }

    /// A step that applies a plan of its own, not an event's: a merge of
    /// duplicates (B9) or the undo of an earlier step (B16).
    fn direct_step(
        &self,
        w: &mut World,
        i: usize,
        st: &Step,
        path: &str,
    ) -> Result<StepReport, ScenarioError> {
        let (plan, action) = if let Some(names) = &st.merge {
            let mut records = Vec::with_capacity(names.len());
            for n in names {
                let id = w.record(path, n)?;
                let t = w.record_tenants.get(&id).copied().unwrap_or_default();
                records.extend(w.store.record(t, id).ok().flatten());
            }
            let tenant = records.first().map(|r| r.tenant).unwrap_or_default();
            let plan =
                crate::heal::plan_merge(tenant, &records, &crate::heal::RecordMerge::default())
                    .map_err(|e| crate::error::chain(&e));
            (plan, format!("merge {}", names.join(", ")))
        } else {
            let n = st.undo.unwrap_or_default();
            let plan = w
                .inverses
                .get(&n)
                .cloned()
                .ok_or_else(|| format!("step {n} applied no plan to undo"));
            (plan, format!("undo step {n}"))
        };
        let mut report = StepReport::new(i, action, st);
        let tenant = plan.as_ref().map(|p| p.tenant).unwrap_or_default();
        let applied = plan.and_then(|p| {
            crate::undo::apply_reversible(&w.store, &p)
                .map(|inverse| (p, inverse))
                .map_err(|e| crate::error::chain(&e))
        });
        let plan = match applied {
            Ok((p, inverse)) => {
                w.inverses.insert(i, inverse);
                Some(p)
            }
            Err(e) => {
                report.error = Some(w.names(&e));
                None
            }
        };
        if let Some(x) = &st.expect {
            check_expect(w, tenant, x, plan.as_ref(), &mut report);
        }
        Ok(report)
    }

    fn record_plan(&self, w: &mut World, event: &Event, plan: &Plan, report: &mut StepReport) {
        for r in plan.created() {
            w.created_ids.push(r.id);
            let name = match w.known.as_ref().map(|k| k.get(&r.id)) {
                None => {
                    w.created += 1;
                    format!("new{}", w.created)
                }
                Some(Some(name)) => name.clone(),
                Some(None) => {
                    w.created += 1;
                    format!("b_new{}", w.created)
                }
            };
            w.records.insert(name.clone(), r.id);
            w.record_names.insert(r.id, name);
            w.record_tenants.insert(r.id, r.tenant);
        }
        // Subjects keep their latest data, as a host would.
        if let Event::Edited(e) = event {
            if let Some(name) = w.subject_names.get(&e.subject.id).cloned() {
                if let Some((_, s)) = w.subjects.get_mut(&name) {
                    s.fields = e.merged_fields();
                    s.tickets = e.subject.tickets;
                }
            }
        }
        for o in &plan.outcomes {
            report.outcomes.push(NamedOutcome {
                subject: w
                    .subject_names
                    .get(&o.subject)
                    .cloned()
                    .unwrap_or_else(|| o.subject.to_string()),
                decision: o.decision,
                record: o.record.map(|r| w.record_name(r)),
                rules: o.rules.to_vec(),
                // Named through the formatter's hook, from the reasons.
                explanation: describe::sentences(&describe::English, w, &o.reasons),
                reasons: o.reasons.clone(),
            });
        }
        // Named through the formatter's hook too.
        report.warnings = plan
            .warnings
            .iter()
            .map(|x| describe::warning(&describe::English, w, x))
            .collect();
        report.warned = plan.warnings.clone();
    }
}
