//! Input validation (B20): the engine refuses an event or a subject whose
//! input cannot be decided on (limits, field names, emails), and a store
//! whose settings differ from the policy's.

use super::*;
use crate::linkage::Blocking;

impl Engine {
    /// A store of a sync or async kind fits this engine's policy: the
    /// same normalization (B1), and the policy's blocking when it links
    /// records (B19). Both shells call it with what the store reports.
    pub(crate) fn check_store_settings(
        &self,
        normalization: Normalization,
        blocking: impl FnOnce() -> Blocking,
    ) -> Result<(), Error> {
        if normalization != self.policy.normalization {
            return Err(Error::NormalizationMismatch);
        }
        if let Some(l) = &self.policy.linkage {
            if blocking() != l.blocking {
                return Err(Error::BlockingMismatch);
            }
        }
        Ok(())
    }

    /// [`Engine::check_store_settings`] for a synchronous store.
    pub(crate) fn check_store<S: ContactStore + ?Sized>(&self, store: &S) -> Result<(), Error> {
        self.check_store_settings(store.normalization(), || store.blocking())
    }

    /// The subjects of `event` whose input is invalid (B20), each with its
    /// first error, in subject order: limits and field names first, then
    /// emails. A problem of the event itself is the error.
    fn problems(&self, event: &Event) -> Result<Vec<(SubjectId, Error)>, Error> {
        let mut bad: Vec<(SubjectId, Error)> = Vec::new();
        self.check_limits(event, &mut bad)?;
        let norm = &self.policy.normalization;
        let mut email = |s: SubjectId, f: &Fields| {
            if bad.iter().all(|(x, _)| *x != s) {
                if let Err(e) = parse_email(s, f, norm) {
                    bad.push((s, e));
                }
            }
        };
        match event {
            Event::Registered(r) => {
                let buyer = r.subjects.iter().find(|s| s.role == Role::Booker);
                for s in &r.subjects {
                    email(
                        s.id,
                        &effective_fields(r.buyer_data_only, s, buyer.map(|b| &b.fields)),
                    );
                }
            }
            Event::Edited(e) => {
                email(e.subject.id, &e.subject.fields);
                email(e.subject.id, &edit_fields(e));
            }
            Event::Relinked(_) | Event::RecordChanged(_) => {}
        }
        if bad.len() > 1 {
            let order: std::collections::HashMap<SubjectId, usize> = event
                .subjects()
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id, i))
                .collect();
            bad.sort_by_key(|(id, _)| order.get(id).copied());
        }
        Ok(bad)
    }

    /// The problems of `event` (see [`Engine::problems`]) the policy lets
    /// the plan survive (B20): none when it fails on the first.
    pub(super) fn survivable(&self, event: &Event) -> Result<Vec<(SubjectId, Error)>, Error> {
        let mut bad = self.problems(event)?;
        if self.policy.invalid_subjects == crate::policy::InvalidSubjects::Fail && !bad.is_empty() {
            return Err(bad.swap_remove(0).1);
        }
        Ok(bad)
    }

    /// Checks `event` against the limits: a subject beyond them goes to
    /// `bad` (its first problem); a problem of the event is the error.
    fn check_limits(&self, event: &Event, bad: &mut Vec<(SubjectId, Error)>) -> Result<(), Error> {
        let l = &self.policy.limits;
        let check_fields = |s: SubjectId, f: &Fields| -> Result<(), Error> {
            if f.len() > l.max_fields {
                return Err(Error::TooManyFields {
                    subject: s,
                    count: f.len(),
                    limit: l.max_fields,
                });
            }
            for (n, v) in f.iter() {
                // Names first: later errors print the name.
                n.check(l.max_field_name_len)
                    .map_err(|problem| Error::InvalidFieldName {
                        subject: s,
                        problem,
                    })?;
                if v.len() > l.max_field_len {
                    return Err(Error::FieldTooLong {
                        subject: s,
                        field: n.clone(),
                        len: v.len(),
                        limit: l.max_field_len,
                    });
                }
                // Tabs and line breaks are text; other controls are not.
                if has_control(v.as_str()) {
                    return Err(Error::ControlCharacter {
                        subject: s,
                        field: n.clone(),
                    });
                }
            }
            Ok(())
        };
        let mut check = |s: SubjectId, f: &Fields| {
            if bad.iter().all(|(x, _)| *x != s) {
                if let Err(e) = check_fields(s, f) {
                    bad.push((s, e));
                }
            }
        };
        match event {
            Event::Registered(r) => {
                if r.subjects.len() > l.max_subjects {
                    return Err(Error::TooManySubjects {
                        count: r.subjects.len(),
                        limit: l.max_subjects,
                    });
                }
                if r.subjects.len() > 1 {
                    let mut seen = HashSet::new();
                    for s in &r.subjects {
                        if !seen.insert(s.id) {
                            return Err(Error::DuplicateSubject(s.id));
                        }
                    }
                }
                for s in &r.subjects {
                    check(s.id, &s.fields);
                }
            }
            Event::Edited(e) => {
                check(e.subject.id, &e.subject.fields);
                check(e.subject.id, &e.new_fields);
                if let Some(b) = &e.buyer {
                    check(e.subject.id, b);
                }
            }
            Event::Relinked(r) => check(r.subject.id, &r.subject.fields),
            Event::RecordChanged(c) => {
                if c.subjects.len() > l.max_subjects {
                    return Err(Error::TooManySubjects {
                        count: c.subjects.len(),
                        limit: l.max_subjects,
                    });
                }
                for s in &c.subjects {
                    check(s.id, &s.fields);
                }
            }
        }
        Ok(())
    }
}
