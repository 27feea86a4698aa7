//! The effect checks: whether a plan's effects can be applied in order to
//! what a store holds, written once for every store (B6).
//!
//! A plan is invalid for a store when an effect names a record the store
//! does not hold in the plan's tenant (and the plan has not created by then),
//! creates a record of another tenant or one whose id is taken, merges a
//! record into itself, or would raise a version past what the store can
//! hold. [`Plan::check_effects`] walks the effects in order against what the
//! store holds before the plan (read through a lookup the store supplies,
//! each record once), so a store can refuse such a plan before it writes
//! anything.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Effect, Plan};
use crate::error::{ApplyError, Conflict};
use crate::record::{RecordId, TenantId};

/// What a store holds of one record before a plan is applied: the answer
/// to [`Plan::check_effects`]' lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Held {
    /// The tenant that holds the record.
    pub tenant: TenantId,
    /// The record's version.
    pub version: u64,
}

impl Effect {
    /// The records this effect names (what [`Plan::named_records`] collects).
    pub(crate) fn names(&self) -> impl Iterator<Item = RecordId> {
        let (a, b) = match self {
            Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                (Some(record.id), None)
            }
            Effect::UpdateRecord { record, .. }
            | Effect::DeleteRecord { record }
            | Effect::Link { record, .. }
            | Effect::AddCampaignMember { record, .. } => (Some(*record), None),
            Effect::MergeRecord { record, into } => (Some(*record), Some(*into)),
            Effect::Unlink { .. }
            | Effect::UpdateSubject { .. }
            | Effect::RemoveCampaignMember { .. } => (None, None),
        };
        a.into_iter().chain(b)
    }
}

impl Plan {
    /// Every record the plan's effects name, sorted, each once: what a store
    /// reads (in one query, if it can) to answer [`Plan::check_effects`].
    pub fn named_records(&self) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self.effects.iter().flat_map(Effect::names).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Checks that the effects can be applied in order to what the store
    /// holds, before anything is written.
    ///
    /// `held` answers, for a record id, what the store holds of it before
    /// the plan, in any tenant (`None`: no such record); it is asked at most
    /// once per record, and only for the records [`Plan::named_records`]
    /// lists. `max_version` is the largest version the store can hold
    /// (`u64::MAX` in memory, `i64::MAX` in SQL).
    ///
    /// # Errors
    ///
    /// - [`ApplyError::InvalidPlan`]: an effect creates a record of another
    ///   tenant, names a record the store does not hold in the plan's tenant
    ///   (and that no earlier effect created, or that an earlier effect
    ///   deleted or merged away), or merges a record into itself;
    /// - [`ApplyError::Conflict`] with [`Conflict::RecordExists`]: an effect
    ///   creates a record whose id is taken (in any tenant), or that an
    ///   earlier effect deleted or merged away (a plan brings back no id it
    ///   retires itself);
    /// - [`ApplyError::VersionOverflow`]: a created record's version, or an
    ///   updated one's next version, exceeds `max_version`;
    /// - [`ApplyError::Store`]: the lookup failed.
    ///
    /// ```
    /// use contact_sync::{ApplyError, Effect, Held, Plan, RecordId, TenantId};
    /// let tenant = TenantId::from_u128(1);
    /// let record = RecordId::from_u128(7);
    /// let plan = Plan::new(tenant).with_effects([Effect::delete_record(record)]);
    /// // The store holds the record in another tenant: the plan is not for it.
    /// let other = Held { tenant: TenantId::from_u128(2), version: 1 };
    /// let checked = plan.check_effects(u64::MAX, |_| Ok::<_, ()>(Some(other)));
    /// assert!(matches!(checked, Err(ApplyError::InvalidPlan(_))));
    /// ```
    pub fn check_effects<E>(
        &self,
        max_version: u64,
        held: impl FnMut(RecordId) -> Result<Option<Held>, E>,
    ) -> Result<(), ApplyError<E>> {
        const UNKNOWN: &str = "effect names an unknown record";
        let mut s = Walk {
            tenant: self.tenant,
            held,
            now: HashMap::new(),
        };
        for e in &self.effects {
            match e {
                Effect::CreateRecord { record } | Effect::RestoreRecord { record } => {
                    if record.tenant != self.tenant {
                        return Err(ApplyError::InvalidPlan("record of another tenant"));
                    }
                    if s.state(record.id)? != State::Absent {
                        return Err(Conflict::RecordExists(record.id).into());
                    }
                    if record.version > max_version {
                        return Err(ApplyError::VersionOverflow(record.id));
                    }
                    s.now.insert(record.id, State::Here(record.version));
                }
                Effect::UpdateRecord { record, .. } => {
                    let State::Here(v) = s.state(*record)? else {
                        return Err(ApplyError::InvalidPlan(UNKNOWN));
                    };
                    let next = v
                        .checked_add(1)
                        .filter(|&n| n <= max_version)
                        .ok_or(ApplyError::VersionOverflow(*record))?;
                    s.now.insert(*record, State::Here(next));
                }
                Effect::Link { record, .. } | Effect::AddCampaignMember { record, .. } => {
                    if !s.here(*record)? {
                        return Err(ApplyError::InvalidPlan(UNKNOWN));
                    }
                }
                Effect::MergeRecord { record, into } => {
                    if record == into || !s.here(*record)? || !s.here(*into)? {
                        return Err(ApplyError::InvalidPlan(
                            "merge of unknown or identical records",
                        ));
                    }
                    s.now.insert(*record, State::Retired);
                }
                Effect::DeleteRecord { record } => {
                    if !s.here(*record)? {
                        return Err(ApplyError::InvalidPlan(UNKNOWN));
                    }
                    s.now.insert(*record, State::Retired);
                }
                Effect::Unlink { .. }
                | Effect::UpdateSubject { .. }
                | Effect::RemoveCampaignMember { .. } => {}
            }
        }
        Ok(())
    }
}

/// A record as the effects so far leave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Held in the plan's tenant, at this version.
    Here(u64),
    /// Held in another tenant.
    Elsewhere,
    /// Deleted or merged away by an earlier effect: the plan cannot create
    /// the id again (its undo could not tell the two records apart).
    Retired,
    /// No record has the id.
    Absent,
}

/// The walk over a plan's effects: what they changed so far, over what the
/// store held before (each record looked up once).
struct Walk<F> {
    tenant: TenantId,
    held: F,
    now: HashMap<RecordId, State>,
}

impl<E, F: FnMut(RecordId) -> Result<Option<Held>, E>> Walk<F> {
    fn state(&mut self, id: RecordId) -> Result<State, ApplyError<E>> {
        if let Some(&s) = self.now.get(&id) {
            return Ok(s);
        }
        let s = match (self.held)(id).map_err(ApplyError::Store)? {
            Some(h) if h.tenant == self.tenant => State::Here(h.version),
            Some(_) => State::Elsewhere,
            None => State::Absent,
        };
        self.now.insert(id, s);
        Ok(s)
    }

    fn here(&mut self, id: RecordId) -> Result<bool, ApplyError<E>> {
        Ok(matches!(self.state(id)?, State::Here(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Fields;
    use crate::record::{Record, RecordType};

    const T: TenantId = TenantId::from_u128(1);
    const OTHER: TenantId = TenantId::from_u128(2);

    fn rid(n: u128) -> RecordId {
        RecordId::from_u128(n)
    }

    fn record(n: u128, tenant: TenantId, version: u64) -> Record {
        let mut r = Record::new(rid(n), tenant, RecordType::Contact, Fields::new());
        r.version = version;
        r
    }

    /// The store holds record 1 in `T` at version 3 and record 2 in `OTHER`.
    fn check(effects: Vec<Effect>, max: u64) -> Result<(), ApplyError<()>> {
        Plan::new(T).with_effects(effects).check_effects(max, |id| {
            Ok(match id.0.as_u128() {
                1 => Some(Held {
                    tenant: T,
                    version: 3,
                }),
                2 => Some(Held {
                    tenant: OTHER,
                    version: 1,
                }),
                _ => None,
            })
        })
    }

    fn invalid(r: Result<(), ApplyError<()>>) -> Option<&'static str> {
        match r {
            Err(ApplyError::InvalidPlan(w)) => Some(w),
            _ => None,
        }
    }

    #[test]
    fn b6_effects_on_held_or_created_records_pass() {
        let sid = crate::record::SubjectId::from_u128(9);
        assert!(check(
            vec![
                Effect::create_record(record(5, T, 1)),
                Effect::link(sid, rid(5)),
                Effect::update_record(rid(1), vec![]),
                Effect::merge_record(rid(5), rid(1)),
            ],
            u64::MAX
        )
        .is_ok());
    }

    #[test]
    fn b6_an_effect_on_an_unknown_or_foreign_record_makes_the_plan_invalid() {
        let sid = crate::record::SubjectId::from_u128(9);
        for e in [
            Effect::link(sid, rid(7)),
            Effect::link(sid, rid(2)),
            Effect::update_record(rid(2), vec![]),
            Effect::delete_record(rid(7)),
        ] {
            assert_eq!(
                invalid(check(vec![e], u64::MAX)),
                Some("effect names an unknown record")
            );
        }
        assert_eq!(
            invalid(check(vec![Effect::merge_record(rid(1), rid(1))], u64::MAX)),
            Some("merge of unknown or identical records")
        );
        assert_eq!(
            invalid(check(vec![Effect::merge_record(rid(1), rid(2))], u64::MAX)),
            Some("merge of unknown or identical records")
        );
        assert_eq!(
            invalid(check(
                vec![Effect::create_record(record(5, OTHER, 1))],
                u64::MAX
            )),
            Some("record of another tenant")
        );
    }

    #[test]
    fn b6_a_record_deleted_or_merged_away_by_the_plan_is_unknown_after() {
        let sid = crate::record::SubjectId::from_u128(9);
        for gone in [
            Effect::delete_record(rid(1)),
            Effect::merge_record(rid(1), rid(5)),
        ] {
            let effects = vec![
                Effect::create_record(record(5, T, 1)),
                gone,
                Effect::link(sid, rid(1)),
            ];
            assert_eq!(
                invalid(check(effects, u64::MAX)),
                Some("effect names an unknown record")
            );
        }
        // Nor may a later effect create or restore the id again.
        for again in [
            Effect::create_record(record(1, T, 1)),
            Effect::restore_record(record(1, T, 4)),
        ] {
            assert!(matches!(
                check(vec![Effect::delete_record(rid(1)), again], u64::MAX),
                Err(ApplyError::Conflict(Conflict::RecordExists(r))) if r == rid(1)
            ));
        }
    }

    #[test]
    fn b6_creating_a_taken_id_is_a_conflict() {
        for effects in [
            vec![Effect::create_record(record(1, T, 1))],
            vec![Effect::restore_record(record(2, T, 1))],
            vec![
                Effect::create_record(record(5, T, 1)),
                Effect::create_record(record(5, T, 1)),
            ],
        ] {
            let id = match &effects[0] {
                Effect::CreateRecord { record } | Effect::RestoreRecord { record } => record.id,
                _ => unreachable!(),
            };
            assert!(matches!(
                check(effects, u64::MAX),
                Err(ApplyError::Conflict(Conflict::RecordExists(r))) if r == id
            ));
        }
    }

    #[test]
    fn b6_versions_never_pass_the_stores_bound() {
        // Record 1 is at 3: two updates reach 5.
        let two = vec![
            Effect::update_record(rid(1), vec![]),
            Effect::update_record(rid(1), vec![]),
        ];
        assert!(check(two.clone(), 5).is_ok());
        assert!(matches!(
            check(two, 4),
            Err(ApplyError::VersionOverflow(r)) if r == rid(1)
        ));
        assert!(check(vec![Effect::create_record(record(5, T, 9))], 9).is_ok());
        assert!(matches!(
            check(vec![Effect::create_record(record(5, T, 9))], 8),
            Err(ApplyError::VersionOverflow(r)) if r == rid(5)
        ));
        // A created record's updates count from its own version.
        assert!(matches!(
            check(
                vec![
                    Effect::create_record(record(5, T, u64::MAX)),
                    Effect::update_record(rid(5), vec![]),
                ],
                u64::MAX
            ),
            Err(ApplyError::VersionOverflow(r)) if r == rid(5)
        ));
    }

    #[test]
    fn b6_each_named_record_is_looked_up_once_and_lookup_errors_pass_through() {
        let sid = crate::record::SubjectId::from_u128(9);
        let plan = Plan::new(T).with_effects([
            Effect::link(sid, rid(1)),
            Effect::add_campaign_member(rid(1), crate::record::CampaignId("c".into()), None),
            Effect::update_record(rid(1), vec![]),
            Effect::unlink(sid, rid(8)),
        ]);
        assert_eq!(plan.named_records(), vec![rid(1)]);
        let mut asked = Vec::new();
        let r = plan.check_effects(u64::MAX, |id| {
            asked.push(id);
            Ok::<_, ()>(Some(Held {
                tenant: T,
                version: 0,
            }))
        });
        assert!(r.is_ok());
        assert_eq!(asked, vec![rid(1)]);
        assert!(matches!(
            plan.check_effects(u64::MAX, |_| Err::<Option<Held>, _>("down")),
            Err(ApplyError::Store("down"))
        ));
    }

    #[test]
    fn b6_named_records_are_sorted_and_once() {
        let plan = Plan::new(T).with_effects([
            Effect::merge_record(rid(3), rid(1)),
            Effect::create_record(record(2, T, 1)),
            Effect::delete_record(rid(3)),
        ]);
        assert_eq!(plan.named_records(), vec![rid(1), rid(2), rid(3)]);
    }
}
