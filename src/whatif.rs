//! What-if (B18): the same event history under two policies, and what
//! differs: which subjects link differently, which records one policy
//! creates and the other does not, and which fields end up different, each
//! side explained.
//!
//! Each policy replays the history on its own [`InMemoryStore`] seeded
//! with the same records, event by event as a host would: planned, applied,
//! and every subject's link taken from that side's store before its next
//! event (a subject linked differently under one policy stays so).
//!
//! ```
//! use contact_sync::whatif::what_if;
//! use contact_sync::*;
//!
//! let t = TenantId::from_u128(1);
//! let ann = Record::new(RecordId::from_u128(1), t, RecordType::Contact,
//!     Fields::from_pairs([("email", "ann@example.org"), ("company", "Acme")]));
//! let booking = Event::Registered(Registration::new(EventId::from_u128(1), t,
//!     vec![Subject::booker(SubjectId::from_u128(10),
//!         Fields::from_pairs([("email", "ann@example.org"), ("company", "Globex")]))]));
//! let diff = what_if(&[ann], &[booking], &Policy::doo(), &Policy::doo().with_sync(true)).unwrap();
//! // Both link Ann's booking to her record; only sync overwrites the company (D13, D14).
//! assert!(diff.subjects.is_empty());
//! assert_eq!(diff.fields.len(), 1);
//! assert_eq!(diff.fields[0].field.as_str(), "company");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{chain, PolicyError};
use crate::event::Event;
use crate::fields::{FieldName, FieldValue, Fields};
use crate::plan::{Decision, Outcome, RuleId};
use crate::policy::Policy;
use crate::record::{EventId, Record, RecordId, SubjectId, TenantId};
use crate::store::{ApplyPlan, ContactStore, InMemoryStore};

/// Why a comparison could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WhatIfError {
    /// A policy does not validate.
    #[error("invalid policy")]
    Policy(#[from] PolicyError),
    /// Two records have this id.
    #[error("record {0} is given twice")]
    DuplicateRecord(RecordId),
}

/// One side of a difference: what one policy did with a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// What happened (`None` when the event failed under this policy).
    pub decision: Option<Decision>,
    /// The record linked afterwards.
    pub record: Option<RecordId>,
    /// The rules that fired.
    pub rules: Vec<RuleId>,
    /// The explanation, or the error when the event failed.
    pub explanation: String,
}

/// A subject the two policies decided differently (another decision or
/// another record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectDiff {
    /// The event.
    pub event: EventId,
    /// The subject.
    pub subject: SubjectId,
    /// Under the first policy.
    pub a: Side,
    /// Under the second policy.
    pub b: Side,
}

/// A field of a record that ends up different under the two policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The record (held under both policies).
    pub record: RecordId,
    /// The field.
    pub field: FieldName,
    /// Its value under the first policy (`None`: absent).
    pub a: Option<FieldValue>,
    /// Under the second.
    pub b: Option<FieldValue>,
}

/// What differs between two policies over one history (B18).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatIf {
    /// Subjects decided differently, in event order.
    pub subjects: Vec<SubjectDiff>,
    /// Records only the first policy creates, sorted.
    pub created_only_a: Vec<RecordId>,
    /// Records only the second policy creates, sorted.
    pub created_only_b: Vec<RecordId>,
    /// Fields that end up different on records both hold, by record and field.
    pub fields: Vec<FieldDiff>,
}

impl WhatIf {
    /// Nothing differs.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
            && self.created_only_a.is_empty()
            && self.created_only_b.is_empty()
            && self.fields.is_empty()
    }
}

impl fmt::Display for WhatIf {
    /// A summary: counts, then each differing subject with both
    /// explanations (no field values).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} subject(s) decided differently, {} record(s) created only under A, {} only under B, {} field(s) different",
            self.subjects.len(),
            self.created_only_a.len(),
            self.created_only_b.len(),
            self.fields.len()
        )?;
        for d in &self.subjects {
            writeln!(f, "subject {} (event {}):", d.subject, d.event)?;
            for (name, s) in [("A", &d.a), ("B", &d.b)] {
                let decision = s
                    .decision
                    .map_or_else(|| "failed".to_owned(), |x| format!("{x:?}").to_lowercase());
                writeln!(f, "  {name}: {decision}: {}", s.explanation)?;
            }
        }
        Ok(())
    }
}

/// The fields whose values differ between `a` and `b` (absent on one
/// side counts), by name, with both values.
pub(crate) fn differences(
    a: &Fields,
    b: &Fields,
) -> Vec<(FieldName, Option<FieldValue>, Option<FieldValue>)> {
    let mut names: Vec<&FieldName> = a.names().chain(b.names()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|n| {
            let (x, y) = (a.get(n.as_str()), b.get(n.as_str()));
            (x != y).then(|| (n.clone(), x.cloned(), y.cloned()))
        })
        .collect()
}

/// One policy's replay: outcomes by (event, subject), records created, and
/// the final records.
struct Replay {
    outcomes: BTreeMap<(usize, SubjectId), Side>,
    created: Vec<RecordId>,
    store: InMemoryStore,
}

fn side(o: &Outcome) -> Side {
    Side {
        decision: Some(o.decision),
        record: o.record,
        rules: o.rules.to_vec(),
        explanation: o.explanation().into_owned(),
    }
}

/// `event` with every subject's link as `store` holds it now (the host's
/// view under this policy).
fn as_linked(event: &Event, store: &InMemoryStore) -> Event {
    let t = event.tenant();
    let link = |s: &mut crate::event::Subject| s.link = store.link_of(t, s.id);
    let mut e = event.clone();
    match &mut e {
        Event::Registered(r) => r.subjects.iter_mut().for_each(link),
        Event::Edited(x) => link(&mut x.subject),
        Event::Relinked(x) => link(&mut x.subject),
        Event::RecordChanged(x) => {
            x.subjects.iter_mut().for_each(link);
            let record = x.record;
            x.subjects.retain(|s| s.link == Some(record));
        }
    }
    e
}

fn replay(records: &[Record], events: &[Event], policy: &Policy) -> Result<Replay, WhatIfError> {
    let engine = Engine::new(policy.clone())?;
    let store = InMemoryStore::with_normalization(policy.normalization);
    for r in records {
        store
            .insert(r.clone())
            .map_err(|_| WhatIfError::DuplicateRecord(r.id))?;
    }
    let mut outcomes = BTreeMap::new();
    let mut created = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let e = as_linked(event, &store);
        let result = engine
            .plan(&store, &e)
            .map_err(|x| chain(&x))
            .and_then(|plan| store.apply(&plan).map(|()| plan).map_err(|x| chain(&x)));
        match result {
            Ok(plan) => {
                created.extend(plan.created().map(|r| r.id));
                for o in &plan.outcomes {
                    outcomes.insert((i, o.subject), side(o));
                }
            }
            Err(message) => {
                for s in e.subjects() {
                    outcomes.insert(
                        (i, s.id),
                        Side {
                            decision: None,
                            record: None,
                            rules: Vec::new(),
                            explanation: message.clone(),
                        },
                    );
                }
            }
        }
    }
    created.sort_unstable();
    Ok(Replay {
        outcomes,
        created,
        store,
    })
}

/// Replays `events` on `records` under `a` and under `b` and reports what
/// differs (B18). An event that fails under one policy is a difference of
/// its subjects (the error is their explanation), not an error.
///
/// # Errors
/// A policy that does not validate ([`WhatIfError::Policy`]), or two
/// `records` with one id ([`WhatIfError::DuplicateRecord`]).
pub fn what_if(
    records: &[Record],
    events: &[Event],
    a: &Policy,
    b: &Policy,
) -> Result<WhatIf, WhatIfError> {
    let (ra, rb) = (replay(records, events, a)?, replay(records, events, b)?);
    let mut out = WhatIf::default();
    let blank = Side {
        decision: None,
        record: None,
        rules: Vec::new(),
        explanation: String::new(),
    };
    let mut keys: Vec<&(usize, SubjectId)> = ra.outcomes.keys().chain(rb.outcomes.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let (x, y) = (ra.outcomes.get(key), rb.outcomes.get(key));
        let same = match (x, y) {
            (Some(x), Some(y)) => (x.decision, x.record) == (y.decision, y.record),
            _ => false,
        };
        if !same {
            out.subjects.push(SubjectDiff {
                event: events.get(key.0).map(Event::id).unwrap_or_default(),
                subject: key.1,
                a: x.cloned().unwrap_or_else(|| blank.clone()),
                b: y.cloned().unwrap_or_else(|| blank.clone()),
            });
        }
    }
    out.created_only_a = ra
        .created
        .iter()
        .filter(|id| rb.created.binary_search(id).is_err())
        .copied()
        .collect();
    out.created_only_b = rb
        .created
        .iter()
        .filter(|id| ra.created.binary_search(id).is_err())
        .copied()
        .collect();
    let mut tenants: Vec<TenantId> = records
        .iter()
        .map(|r| r.tenant)
        .chain(events.iter().map(Event::tenant))
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    for t in tenants {
        for x in ra.store.records(t) {
            let Ok(Some(y)) = rb.store.record(t, x.id) else {
                continue;
            };
            for (field, a, b) in differences(&x.fields, &y.fields) {
                out.fields.push(FieldDiff {
                    record: x.id,
                    field,
                    a,
                    b,
                });
            }
        }
    }
    Ok(out)
}
