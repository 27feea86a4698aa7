//! The scenario format: the JSON document, its steps and expectations,
//! and how a policy section becomes a [`Policy`].

use super::*;

/// A scenario document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The policy.
    pub policy: PolicySpec,
    /// The records that exist before the first step.
    #[serde(default)]
    pub records: Vec<RecordSpec>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// What-if (B18): a second policy; the steps are played under it too,
    /// and the report says what differs ([`super::NamedWhatIf`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<PolicySpec>,
    /// What the comparison must find (with `compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_what_if: Option<ExpectWhatIf>,
}

/// What a comparison of two policies must find (B18). Each part given is
/// checked exactly.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpectWhatIf {
    /// The subjects decided differently, as `step:name`, in order.
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    /// How many records only the scenario's policy creates.
    #[serde(default)]
    pub created_only_a: Option<usize>,
    /// How many records only the compared policy creates.
    #[serde(default)]
    pub created_only_b: Option<usize>,
    /// The fields that end up different, as `record.field`, in order.
    #[serde(default)]
    pub fields: Option<Vec<String>>,
}

/// The policy of a scenario: a preset with overrides, or a full policy.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// `doo`, `doo_sync`, `doo_external_master`, `salesforce_contact`, `salesforce_lead`.
    #[serde(default)]
    pub preset: Option<String>,
    /// JSON merged into the preset's policy.
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
    /// A full policy (instead of a preset).
    #[serde(default)]
    pub policy: Option<serde_json::Value>,
}

/// A record that exists before the first step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Its name.
    pub name: String,
    /// Contact or Lead.
    #[serde(rename = "type", default = "contact")]
    pub record_type: RecordType,
    /// Its tenant's name.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Its fields.
    #[serde(default)]
    pub fields: Fields,
    /// Its version.
    #[serde(default = "one")]
    pub version: u64,
}

fn contact() -> RecordType {
    RecordType::Contact
}

fn one() -> u64 {
    1
}

/// One step: exactly one action, optionally with expectations.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A note shown in the report.
    #[serde(default)]
    pub note: Option<String>,
    /// A new booking / order.
    #[serde(default)]
    pub register: Option<RegisterSpec>,
    /// A change of a subject's data.
    #[serde(default)]
    pub edit: Option<EditSpec>,
    /// A change of a subject's email only.
    #[serde(default)]
    pub change_email: Option<ChangeEmailSpec>,
    /// A manual relink.
    #[serde(default)]
    pub relink: Option<RelinkSpec>,
    /// A record changed in the contact system (A20).
    #[serde(default)]
    pub record_change: Option<RecordChangeSpec>,
    /// Merge these duplicate records (B9, [`crate::plan_merge`] with the
    /// default merge policy), by name.
    #[serde(default)]
    pub merge: Option<Vec<String>>,
    /// Undo the plan of the step at this position (B16): apply the inverse
    /// the step's plan yielded (every step's plan is applied reversibly,
    /// undo steps' too).
    #[serde(default)]
    pub undo: Option<usize>,
    /// What the step must do.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// A registration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// Event name (default: the step's position).
    #[serde(default)]
    pub id: Option<String>,
    /// Tenant name.
    #[serde(default)]
    pub tenant: Option<String>,
    /// How it came in.
    #[serde(default)]
    pub channel: Channel,
    /// The event's campaign.
    #[serde(default)]
    pub campaign: Option<String>,
    /// Only buyer data is collected.
    #[serde(default)]
    pub buyer_data_only: bool,
    /// The subjects.
    pub subjects: Vec<SubjectSpec>,
    /// The event's own email-change behaviour (D22); later edits of its
    /// subjects carry it. Absent: the policy's.
    #[serde(default)]
    pub email_change: Option<EmailChange>,
    /// Who submitted the data (B14); absent: trusted as the sync rules say.
    #[serde(default)]
    pub submitter: Option<Submitter>,
}

/// A subject of a registration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SubjectSpec {
    /// Its name.
    pub name: String,
    /// Booker or attendee.
    #[serde(default = "attendee")]
    pub role: Role,
    /// Its data.
    #[serde(default)]
    pub fields: Fields,
    /// The record the form was prefilled from.
    #[serde(default)]
    pub prefill: Option<String>,
    /// Tickets held.
    #[serde(default)]
    pub tickets: Option<u32>,
}

fn attendee() -> Role {
    Role::Attendee
}

/// An edit of a registered subject.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EditSpec {
    /// Event name.
    #[serde(default)]
    pub id: Option<String>,
    /// Tenant name.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The subject's name.
    pub subject: String,
    /// The new values.
    #[serde(default)]
    pub fields: Fields,
    /// Who edited.
    #[serde(default = "self_service")]
    pub source: EditSource,
    /// The buyer's data (A12, A26).
    #[serde(default)]
    pub buyer: Option<Fields>,
    /// Only buyer data is collected (A12).
    #[serde(default)]
    pub buyer_data_only: bool,
    /// The event's campaign.
    #[serde(default)]
    pub campaign: Option<String>,
    /// Tickets held after the edit.
    #[serde(default)]
    pub tickets: Option<u32>,
    /// The event's email-change behaviour for this edit (D22); absent: the
    /// one its registration set, else the policy's.
    #[serde(default)]
    pub email_change: Option<EmailChange>,
    /// Who submitted the data (B14); absent: trusted as the sync rules say.
    #[serde(default)]
    pub submitter: Option<Submitter>,
}

fn self_service() -> EditSource {
    EditSource::SelfService
}

/// A change of a subject's email. `Debug` shows the email's size only.
#[derive(Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailSpec {
    /// The subject's name.
    pub subject: String,
    /// The new email.
    pub email: String,
    /// Who changed it.
    #[serde(default = "self_service")]
    pub source: EditSource,
    /// The event's email-change behaviour for this change (D22); absent:
    /// the one its registration set, else the policy's.
    #[serde(default)]
    pub email_change: Option<EmailChange>,
    /// Who submitted the data (B14); absent: trusted as the sync rules say.
    #[serde(default)]
    pub submitter: Option<Submitter>,
}

impl fmt::Debug for ChangeEmailSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeEmailSpec")
            .field("subject", &self.subject)
            .field("email", &Redacted(&self.email))
            .field("source", &self.source)
            .field("email_change", &self.email_change)
            .finish()
    }
}

/// A manual relink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RelinkSpec {
    /// The subject's name.
    pub subject: String,
    /// The record's name.
    pub to: String,
}

/// A record changed in the contact system.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordChangeSpec {
    /// The record's name.
    pub record: String,
    /// Its new fields.
    pub fields: Fields,
}

/// What a step must do. `Debug` shows expected field values by size only.
#[derive(Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Per subject name.
    #[serde(default)]
    pub outcomes: BTreeMap<String, ExpectOutcome>,
    /// Records the step creates.
    #[serde(default)]
    pub created: Option<usize>,
    /// Field values per record name after the step.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
    /// Links per subject name after the step (`"none"`: unlinked).
    #[serde(default)]
    pub links: BTreeMap<String, String>,
    /// Records (by name) that must not exist after the step (B16: an undo
    /// deleted them; B9: a merge retired them).
    #[serde(default)]
    pub absent: Vec<String>,
    /// Warning kinds, in order.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    /// The step fails with an error containing this text.
    #[serde(default)]
    pub error: Option<String>,
    /// Per record name, its whole field history after the step (B17),
    /// oldest first, each entry `"field: old -> new (RULE)"` (`old` is
    /// `(none)` when the field had no value before).
    #[serde(default)]
    pub history: BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: BTreeMap<&String, BTreeMap<&String, Redacted<'_>>> = self
            .fields
            .iter()
            .map(|(r, fs)| (r, fs.iter().map(|(n, v)| (n, Redacted(v))).collect()))
            .collect();
        f.debug_struct("Expect")
            .field("outcomes", &self.outcomes)
            .field("created", &self.created)
            .field("fields", &fields)
            .field("links", &self.links)
            .field("absent", &self.absent)
            .field("warnings", &self.warnings)
            .field("error", &self.error)
            .field("history", &self.history.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What one subject's outcome must be. `Debug` shows the size of the
/// expected explanation text only (it may quote an address).
#[derive(Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpectOutcome {
    /// The decision.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// The record name, `new1`…, or `"none"`.
    #[serde(default)]
    pub record: Option<String>,
    /// Rules that must have fired.
    #[serde(default)]
    pub rules: Vec<RuleId>,
    /// Text the explanation must contain.
    #[serde(default)]
    pub explanation_contains: Option<String>,
}

impl fmt::Debug for ExpectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpectOutcome")
            .field("decision", &self.decision)
            .field("record", &self.record)
            .field("rules", &self.rules)
            .field(
                "explanation_contains",
                &self.explanation_contains.as_deref().map(Redacted),
            )
            .finish()
    }
}

fn json_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> ScenarioError {
    let path = e.path().to_string();
    ScenarioError::Json {
        path: if path == "." {
            "(document)".into()
        } else {
            path
        },
        message: e.into_inner().to_string(),
    }
}

fn merge_json(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) => merge_json(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

impl PolicySpec {
    /// The policy this spec describes, validated.
    ///
    /// # Errors
    /// [`ScenarioError::UnknownPreset`], [`ScenarioError::PolicyShape`],
    /// [`ScenarioError::Json`] for overrides that do not fit,
    /// [`ScenarioError::Policy`] for an invalid policy.
    pub fn resolve(&self) -> Result<Policy, ScenarioError> {
        let value = match (&self.preset, &self.policy) {
            (Some(name), None) => {
                let preset = match name.as_str() {
                    "doo" => Policy::doo(),
                    "doo_sync" => Policy::doo().with_sync(true),
                    "doo_external_master" => Policy::doo_external_master(),
                    "salesforce_contact" => Policy::salesforce(RecordType::Contact),
                    "salesforce_lead" => Policy::salesforce(RecordType::Lead),
                    other => return Err(ScenarioError::UnknownPreset(other.into())),
                };
                let mut v = serde_json::to_value(&preset).map_err(|e| ScenarioError::Json {
                    path: "policy".into(),
                    message: e.to_string(),
                })?;
                if let Some(o) = &self.overrides {
                    merge_json(&mut v, o);
                }
                v
            }
            (None, Some(full)) if self.overrides.is_none() => full.clone(),
            _ => return Err(ScenarioError::PolicyShape),
        };
        let policy: Policy = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError::Json {
                path: format!("policy.{path}"),
                message: e.into_inner().to_string(),
            }
        })?;
        policy.validate()?;
        Ok(policy)
    }
}

impl Scenario {
    /// Parses a scenario; errors name the JSON path and the problem.
    ///
    /// # Errors
    /// [`ScenarioError::Json`] with the path and the problem,
    /// [`ScenarioError::Undefined`] / [`ScenarioError::Duplicate`] for names,
    /// [`ScenarioError::StepShape`] for a step without exactly one action.
    pub fn from_json(json: &str) -> Result<Scenario, ScenarioError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let s: Scenario = serde_path_to_error::deserialize(de).map_err(json_error)?;
        s.check()?;
        Ok(s)
    }

    /// Checks names and step shapes before anything runs.
    fn check(&self) -> Result<(), ScenarioError> {
        self.policy.resolve()?;
        let mut records = std::collections::BTreeSet::new();
        for (i, r) in self.records.iter().enumerate() {
            if !records.insert(r.name.clone()) {
                return Err(ScenarioError::Duplicate {
                    path: format!("records[{i}].name"),
                    kind: "record",
                    name: r.name.clone(),
                });
            }
        }
        let mut subjects = std::collections::BTreeSet::new();
        for (i, st) in self.steps.iter().enumerate() {
            let actions = [
                st.register.is_some(),
                st.edit.is_some(),
                st.change_email.is_some(),
                st.relink.is_some(),
                st.record_change.is_some(),
                st.merge.is_some(),
                st.undo.is_some(),
            ];
            if actions.iter().filter(|a| **a).count() != 1 {
                return Err(ScenarioError::StepShape(format!("steps[{i}]")));
            }
            let undefined_record = |path: String, name: &str| ScenarioError::Undefined {
                path,
                kind: "record",
                name: name.into(),
            };
            let undefined_subject = |path: String, name: &str| ScenarioError::Undefined {
                path,
                kind: "subject",
                name: name.into(),
            };
            if let Some(r) = &st.register {
                for (j, s) in r.subjects.iter().enumerate() {
                    if let Some(p) = &s.prefill {
                        if !records.contains(p) {
                            return Err(undefined_record(
                                format!("steps[{i}].register.subjects[{j}].prefill"),
                                p,
                            ));
                        }
                    }
                    if !subjects.insert(s.name.clone()) {
                        return Err(ScenarioError::Duplicate {
                            path: format!("steps[{i}].register.subjects[{j}].name"),
                            kind: "subject",
                            name: s.name.clone(),
                        });
                    }
                }
            }
            let subject_ref = [
                st.edit.as_ref().map(|e| ("edit", &e.subject)),
                st.change_email
                    .as_ref()
                    .map(|e| ("change_email", &e.subject)),
                st.relink.as_ref().map(|e| ("relink", &e.subject)),
            ];
            for (what, name) in subject_ref.into_iter().flatten() {
                if !subjects.contains(name) {
                    return Err(undefined_subject(
                        format!("steps[{i}].{what}.subject"),
                        name,
                    ));
                }
            }
            if let Some(r) = &st.relink {
                if !records.contains(&r.to) {
                    return Err(undefined_record(format!("steps[{i}].relink.to"), &r.to));
                }
            }
            if let Some(r) = &st.record_change {
                if !records.contains(&r.record) {
                    return Err(undefined_record(
                        format!("steps[{i}].record_change.record"),
                        &r.record,
                    ));
                }
            }
        }
        Ok(())
    }
}
