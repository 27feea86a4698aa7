//! Changes made in the contact system, taken by linked registrations
//! with a two-way integration (A20).

use super::*;

impl<S: Source> Decider<'_, S> {
    /// A20.
    pub(super) fn record_changed(&mut self, c: &RecordChange) {
        let ctx = Ctx::plain(c.id);
        for s in &c.subjects {
            let mut t = self.trace();
            t.cite(A20);
            if !self.policy.two_way {
                t.reason(Fact::NoTwoWay);
                self.outcome(&ctx, s, Decision::NoChange, Some(c.record), None, t);
                continue;
            }
            let changes: Vec<FieldChange> = c
                .new_fields
                .iter()
                .filter(|(n, _)| self.fields.class_of(n.as_str()).is_some())
                .filter_map(|(n, v)| {
                    let old = s.fields.get(n.as_str());
                    let differs = match old {
                        Some(o) => o != v,
                        None => !v.is_blank(),
                    };
                    differs.then(|| FieldChange {
                        field: n.clone(),
                        old: old.cloned(),
                        new: v.clone(),
                        rule: A20,
                    })
                })
                .collect();
            if changes.is_empty() {
                t.reason(Fact::RegistrationCurrent);
                self.outcome(&ctx, s, Decision::NoChange, Some(c.record), None, t);
            } else {
                t.cite(B3).reason(Fact::TwoWayCopied {
                    fields: changes.iter().map(|c| c.field.clone()).collect(),
                });
                self.effects.push(Effect::UpdateSubject {
                    subject: s.id,
                    changes,
                });
                self.outcome(&ctx, s, Decision::SubjectUpdated, Some(c.record), None, t);
            }
        }
    }
}
