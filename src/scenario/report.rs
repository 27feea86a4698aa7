//! What a scenario run reports: each step's decisions with names, the
//! final records, the what-ifs, and the expectations that did not hold;
//! and how a report reads as text.

use super::*;

/// One subject's outcome, with names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedOutcome {
    /// The subject's name.
    pub subject: String,
    /// What happened.
    pub decision: Decision,
    /// The record's name, if any.
    pub record: Option<String>,
    /// The rules that fired.
    pub rules: Vec<RuleId>,
    /// The explanation, with names for ids.
    pub explanation: String,
    /// The reasons the explanation was rendered from (B2; not part of the
    /// report's JSON, whose shape is unchanged).
    #[serde(skip)]
    pub reasons: Vec<crate::plan::Reason>,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The step's position (from 0).
    pub index: usize,
    /// The action, in a few words.
    pub action: String,
    /// The step's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// One per subject.
    pub outcomes: Vec<NamedOutcome>,
    /// Warnings, as sentences.
    pub warnings: Vec<String>,
    /// The warnings the sentences were rendered from (B2; not part of the
    /// report's JSON, whose shape is unchanged).
    #[serde(skip)]
    pub warned: Vec<crate::plan::Warning>,
    /// The error, when the step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Expectations that did not hold.
    pub mismatches: Vec<String>,
}

/// A record at the end, with names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedRecord {
    /// Its name.
    pub name: String,
    /// Its tenant's name.
    pub tenant: String,
    /// Contact or Lead.
    pub record_type: RecordType,
    /// Its version.
    pub version: u64,
    /// Its fields.
    pub fields: Fields,
}

/// The outcome of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The scenario's description.
    pub description: String,
    /// One per step.
    pub steps: Vec<StepReport>,
    /// Every record at the end, by tenant and name.
    pub records: Vec<NamedRecord>,
    /// What differs under the compared policy (B18), when the scenario
    /// names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<NamedWhatIf>,
    /// Expectations of the comparison that did not hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what_if_mismatches: Vec<String>,
}

/// A subject decided differently under the compared policy (B18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedSubjectDiff {
    /// The step (from 0).
    pub step: usize,
    /// The subject's name.
    pub subject: String,
    /// Under the scenario's policy (`None`: the step failed).
    pub a: Option<NamedOutcome>,
    /// Under the compared policy.
    pub b: Option<NamedOutcome>,
}

/// A field that ends up different under the compared policy (B18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedFieldDiff {
    /// The record's tenant.
    pub tenant: String,
    /// The record's name.
    pub record: String,
    /// The field.
    pub field: String,
    /// Its value under the scenario's policy (`None`: absent).
    pub a: Option<String>,
    /// Under the compared policy.
    pub b: Option<String>,
}

/// What differs when the steps are played under the compared policy
/// (B18), with names: records both runs create have the scenario's names;
/// those only the compared run creates are `b_new1`, `b_new2`, ….
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamedWhatIf {
    /// Subjects decided differently (another decision or record), in step order.
    pub subjects: Vec<NamedSubjectDiff>,
    /// Records only the scenario's policy creates.
    pub created_only_a: Vec<String>,
    /// Records only the compared policy creates.
    pub created_only_b: Vec<String>,
    /// Fields that end up different on records both hold.
    pub fields: Vec<NamedFieldDiff>,
}

impl Report {
    /// Every expectation that did not hold, with its step (and those of
    /// the comparison, B18).
    pub fn mismatches(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|s| {
                s.mismatches
                    .iter()
                    .map(move |m| format!("step {}: {m}", s.index))
            })
            .chain(self.what_if_mismatches.iter().cloned())
            .collect()
    }

    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.mismatches.is_empty()) && self.what_if_mismatches.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.description.is_empty() {
            writeln!(f, "{}", self.description)?;
        }
        for s in &self.steps {
            writeln!(f, "\nstep {}: {}", s.index, s.action)?;
            if let Some(n) = &s.note {
                writeln!(f, "  ({n})")?;
            }
            for o in &s.outcomes {
                let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
                writeln!(
                    f,
                    "  {} -> {:?}, {}\n      {}\n      rules: {}",
                    o.subject,
                    o.decision,
                    o.record.as_deref().unwrap_or("no record"),
                    o.explanation,
                    rules.join(" ")
                )?;
            }
            for w in &s.warnings {
                writeln!(f, "  ! {w}")?;
            }
            if let Some(e) = &s.error {
                writeln!(f, "  error: {e}")?;
            }
            for m in &s.mismatches {
                writeln!(f, "  MISMATCH: {m}")?;
            }
        }
        if let Some(d) = &self.what_if {
            writeln!(
                f,
                "\nwhat if (B18): {} subject(s) decided differently, {} record(s) created only under the scenario's policy, {} only under the compared one, {} field(s) different",
                d.subjects.len(),
                d.created_only_a.len(),
                d.created_only_b.len(),
                d.fields.len()
            )?;
            for s in &d.subjects {
                writeln!(f, "  step {} {}:", s.step, s.subject)?;
                for (side, o) in [("scenario", &s.a), ("compared", &s.b)] {
                    match o {
                        Some(o) => writeln!(
                            f,
                            "    {side}: {:?}, {}: {}",
                            o.decision,
                            o.record.as_deref().unwrap_or("no record"),
                            o.explanation
                        )?,
                        None => writeln!(f, "    {side}: the step failed")?,
                    }
                }
            }
            for x in &d.fields {
                writeln!(
                    f,
                    "  {}.{}: {} / {}",
                    x.record,
                    x.field,
                    x.a.as_deref().unwrap_or("(absent)"),
                    x.b.as_deref().unwrap_or("(absent)")
                )?;
            }
            for m in &self.what_if_mismatches {
                writeln!(f, "  MISMATCH: {m}")?;
            }
        }
        writeln!(f, "\nrecords:")?;
        for r in &self.records {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|(n, v)| format!("{n}={}", v.as_str()))
                .collect();
            writeln!(
                f,
                "  [{} {} {} v{}] {}",
                r.tenant,
                r.record_type.noun(),
                r.name,
                r.version,
                fields.join(", ")
            )?;
        }
        Ok(())
    }
}
