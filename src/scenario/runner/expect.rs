//! A step's expectations checked against what the step did.

use super::*;

pub(super) fn source_name(s: EditSource) -> &'static str {
    match s {
        EditSource::Organizer { sync: None } => "by the organizer",
        EditSource::Organizer { sync: Some(true) } => "by the organizer, sync chosen",
        EditSource::Organizer { sync: Some(false) } => "by the organizer, no sync chosen",
        EditSource::SelfService => "in self-service",
        EditSource::UpdateTrigger => "update triggered",
    }
}

pub(super) fn warning_kind(w: &Warning) -> &'static str {
    match w {
        Warning::SharedEmail { .. } => "shared_email",
        Warning::Ambiguous { .. } => "ambiguous",
        Warning::RecordEmailOverwritten { .. } => "record_email_overwritten",
        Warning::RecordEmailKept { .. } => "record_email_kept",
        Warning::AbsorbingDuplicates { .. } => "absorbing_duplicates",
        Warning::InvalidInput { .. } => "invalid_input",
    }
}

pub(super) fn check_expect(
    w: &World,
    tenant: TenantId,
    x: &Expect,
    plan: Option<&Plan>,
    r: &mut StepReport,
) {
    let mut miss = |m: String| r.mismatches.push(m);
    match (&x.error, plan) {
        (Some(want), None) => {
            if !r.error.as_deref().unwrap_or("").contains(want.as_str()) {
                miss(format!(
                    "expected an error containing {want:?}, got {:?}",
                    r.error
                ));
            }
            return;
        }
        (Some(want), Some(_)) => {
            miss(format!(
                "expected an error containing {want:?}, but the step succeeded"
            ));
            return;
        }
        (None, None) => {
            miss(format!(
                "the step failed: {}",
                r.error.as_deref().unwrap_or("")
            ));
            return;
        }
        (None, Some(_)) => {}
    }
    let Some(plan) = plan else { return };
    for (name, want) in &x.outcomes {
        let Some(o) = r
            .outcomes
            .iter()
            .rev()
            .find(|o| &o.subject == name)
            .cloned()
        else {
            miss(format!("no outcome for subject `{name}`"));
            continue;
        };
        if let Some(d) = want.decision {
            if d != o.decision {
                miss(format!(
                    "`{name}`: decision {:?}, expected {d:?}",
                    o.decision
                ));
            }
        }
        if let Some(rec) = &want.record {
            let got = o.record.clone().unwrap_or_else(|| "none".into());
            if &got != rec {
                miss(format!("`{name}`: record {got}, expected {rec}"));
            }
        }
        for rule in &want.rules {
            if !o.rules.contains(rule) {
                miss(format!(
                    "`{name}`: rule {rule} did not fire (fired: {:?})",
                    o.rules
                ));
            }
        }
        if let Some(t) = &want.explanation_contains {
            if !o.explanation.contains(t.as_str()) {
                miss(format!(
                    "`{name}`: explanation lacks {t:?}: {}",
                    o.explanation
                ));
            }
        }
    }
    if let Some(n) = x.created {
        let got = plan.created().count();
        if got != n {
            miss(format!("created {got} record(s), expected {n}"));
        }
    }
    for (rname, fields) in &x.fields {
        let Some(id) = w.records.get(rname) else {
            miss(format!("record `{rname}` does not exist"));
            continue;
        };
        let t = w.record_tenants.get(id).copied().unwrap_or(tenant);
        let rec = w.store.records(t).into_iter().find(|r| r.id == *id);
        let Some(rec) = rec else {
            miss(format!("record `{rname}` is not in this tenant"));
            continue;
        };
        for (f, v) in fields {
            let got = rec.fields.get(f).map(FieldValue::as_str).unwrap_or("");
            if got != v {
                miss(format!("record `{rname}`: {f} = {got:?}, expected {v:?}"));
            }
        }
    }
    for (rname, want) in &x.history {
        let Some(id) = w.records.get(rname) else {
            miss(format!("record `{rname}` does not exist"));
            continue;
        };
        let t = w.record_tenants.get(id).copied().unwrap_or(tenant);
        let got: Vec<String> = w
            .store
            .record_history(t, *id)
            .unwrap_or_default()
            .iter()
            .map(|h| {
                format!(
                    "{}: {} -> {} ({})",
                    h.field,
                    h.old.as_ref().map_or("(none)", FieldValue::as_str),
                    h.new.as_str(),
                    h.rule
                )
            })
            .collect();
        if &got != want {
            miss(format!(
                "record `{rname}`: history {got:?}, expected {want:?}"
            ));
        }
    }
    for rname in &x.absent {
        let id = w.records.get(rname);
        let t = id
            .and_then(|id| w.record_tenants.get(id))
            .copied()
            .unwrap_or(tenant);
        if id.is_some_and(|id| w.store.record(t, *id).ok().flatten().is_some()) {
            miss(format!("record `{rname}` exists, expected it absent"));
        }
    }
    for (sname, want) in &x.links {
        let Some((t, s)) = w.subjects.get(sname) else {
            miss(format!("subject `{sname}` does not exist"));
            continue;
        };
        let got = w
            .store
            .link_of(*t, s.id)
            .map(|id| w.record_name(id))
            .unwrap_or_else(|| "none".into());
        if &got != want {
            miss(format!("`{sname}` is linked to {got}, expected {want}"));
        }
    }
    if let Some(want) = &x.warnings {
        let got: Vec<&str> = plan.warnings.iter().map(warning_kind).collect();
        if got != *want {
            miss(format!("warnings {got:?}, expected {want:?}"));
        }
    }
}
