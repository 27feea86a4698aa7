//! Model-based test: random sequences of registrations, edits, email changes
//! and relinks through the engine and the in-memory store, checked after
//! every step against a small reference model of the doo rules (D2-D5, D8,
//! D11, D13, D15, D16).

use crate::common::*;
use contact_sync::*;
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use std::collections::BTreeMap;

const EMAILS: &[&str] = &[
    "ann@example.org",
    "ANN@example.org",
    "ben@example.org",
    "cy@example.org",
];
const COMPANIES: &[&str] = &["", "Acme", "Globex"];

type FieldMap = BTreeMap<String, String>;

#[derive(Clone, Debug, Default)]
struct Model {
    records: BTreeMap<RecordId, FieldMap>,
    links: BTreeMap<usize, RecordId>,
    subjects: Vec<FieldMap>,
    next_event: u128,
}

#[derive(Clone, Debug)]
enum Step {
    Register {
        ev: u128,
        email: Option<&'static str>,
        company: &'static str,
    },
    Edit {
        ev: u128,
        s: usize,
        company: &'static str,
    },
    ChangeEmail {
        ev: u128,
        s: usize,
        email: Option<&'static str>,
    },
    Relink {
        ev: u128,
        s: usize,
        to: usize,
    },
}

fn key(email: &str) -> Option<String> {
    let k = email.trim().to_lowercase();
    (!k.is_empty()).then_some(k)
}

fn subject_id(s: usize) -> SubjectId {
    sid(1000 + s as u128)
}

impl Model {
    /// D2-D4 and the on-match merge (D13, D15): exactly one record with the
    /// key links and takes non-blank entered values; otherwise a new record.
    fn match_and_link(&mut self, s: usize, ev: u128, f: &FieldMap) {
        let Some(k) = f.get("email").and_then(|e| key(e)) else {
            return;
        };
        let ids: Vec<RecordId> = self
            .records
            .iter()
            .filter(|(_, r)| r.get("email").and_then(|e| key(e)).as_deref() == Some(k.as_str()))
            .map(|(id, _)| *id)
            .collect();
        if let [one] = ids.as_slice() {
            let r = self.records.get_mut(one).unwrap();
            for (n, v) in f {
                if v.trim().is_empty() {
                    continue;
                }
                if n == "email" && r.get(n).and_then(|e| key(e)) == key(v) {
                    continue;
                }
                r.insert(n.clone(), v.clone());
            }
            self.links.insert(s, *one);
        } else {
            let id = derive_record_id(T, eid(ev), subject_id(s), Role::Attendee);
            let fields: FieldMap = f
                .iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(n, v)| (n.clone(), v.trim().to_owned()))
                .collect();
            self.records.insert(id, fields);
            self.links.insert(s, id);
        }
    }

    /// An edit of a linked subject (D16): changed non-blank values
    /// overwrite, empty record fields are filled (D15).
    fn merge_update(&mut self, s: usize, old: &FieldMap, new: &FieldMap) {
        let Some(id) = self.links.get(&s) else { return };
        let r = self.records.get_mut(id).unwrap();
        for (n, v) in new {
            if v.trim().is_empty() {
                continue;
            }
            let empty = r.get(n).is_none_or(|x| x.trim().is_empty());
            let changed = old.get(n) != Some(v);
            if n == "email" && r.get(n).and_then(|e| key(e)) == key(v) {
                continue;
            }
            if empty || changed {
                r.insert(n.clone(), v.clone());
            }
        }
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let ev = state.next_event;
        let n = state.subjects.len().max(1);
        let r = state.records.len().max(1);
        let email = prop::option::weighted(0.85, prop::sample::select(EMAILS));
        let company = prop::sample::select(COMPANIES);
        prop_oneof![
            (email.clone(), company.clone()).prop_map(move |(email, company)| Step::Register {
                ev,
                email,
                company
            }),
            (0..n, company).prop_map(move |(s, company)| Step::Edit { ev, s, company }),
            (0..n, email).prop_map(move |(s, email)| Step::ChangeEmail { ev, s, email }),
            (0..n, 0..r).prop_map(move |(s, to)| Step::Relink { ev, s, to }),
        ]
        .boxed()
    }

    fn preconditions(state: &Model, t: &Step) -> bool {
        match t {
            Step::Register { .. } => true,
            Step::Edit { s, .. } | Step::ChangeEmail { s, .. } => *s < state.subjects.len(),
            Step::Relink { s, to, .. } => *s < state.subjects.len() && *to < state.records.len(),
        }
    }

    fn apply(mut state: Model, t: &Step) -> Model {
        state.next_event += 1;
        match t {
            Step::Register { ev, email, company } => {
                let s = state.subjects.len();
                let mut f = FieldMap::new();
                if let Some(e) = email {
                    f.insert("email".into(), (*e).into());
                }
                f.insert("first_name".into(), format!("P{s}"));
                f.insert("company".into(), (*company).into());
                state.subjects.push(f.clone());
                state.match_and_link(s, *ev, &f);
            }
            Step::Edit { s, company, .. } => {
                let old = state.subjects[*s].clone();
                let mut new = old.clone();
                new.insert("company".into(), (*company).into());
                state.merge_update(*s, &old, &new);
                state.subjects[*s] = new;
            }
            Step::ChangeEmail { ev, s, email } => {
                let old = state.subjects[*s].clone();
                let mut new = old.clone();
                new.insert("email".into(), email.unwrap_or("").into());
                let (ko, kn) = (old.get("email").and_then(|e| key(e)), email.and_then(key));
                if ko == kn {
                    state.merge_update(*s, &old, &new);
                } else if kn.is_none() {
                    state.links.remove(s); // D5, D8
                } else {
                    state.match_and_link(*s, *ev, &new); // D8: re-matched
                }
                state.subjects[*s] = new;
            }
            Step::Relink { s, to, .. } => {
                let id = *state.records.keys().nth(*to).unwrap();
                state.links.insert(*s, id); // D11
            }
        }
        state
    }
}

struct Sut {
    store: InMemoryStore,
    engine: Engine,
    subjects: Vec<Fields>,
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        Sut {
            store: InMemoryStore::new(),
            engine: engine(Policy::doo().with_sync(true)),
            subjects: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, model: &Model, t: Step) -> Sut {
        let subject = |sut: &Sut, s: usize| {
            let mut x = Subject::attendee(subject_id(s), sut.subjects[s].clone());
            x.link = sut.store.link_of(T, subject_id(s));
            x
        };
        let edit = |sut: &Sut, ev: u128, s: usize, new: Fields| {
            Event::Edited(Edit::new(
                eid(ev),
                T,
                subject(sut, s),
                new,
                EditSource::SelfService,
            ))
        };
        let event = match t {
            Step::Register { ev, email, company } => {
                let s = sut.subjects.len();
                let mut f = fields(&[("first_name", &format!("P{s}")), ("company", company)]);
                if let Some(e) = email {
                    f.set(FieldName::new("email"), e.into());
                }
                sut.subjects.push(f.clone());
                Event::Registered(Registration::new(
                    eid(ev),
                    T,
                    vec![Subject::attendee(subject_id(s), f)],
                ))
            }
            Step::Edit { ev, s, company } => {
                let e = edit(&sut, ev, s, fields(&[("company", company)]));
                sut.subjects[s].set(FieldName::new("company"), company.into());
                e
            }
            Step::ChangeEmail { ev, s, email } => {
                let e = edit(&sut, ev, s, fields(&[("email", email.unwrap_or(""))]));
                sut.subjects[s].set(FieldName::new("email"), email.unwrap_or("").into());
                e
            }
            Step::Relink { ev, s, to } => {
                let target = *model.records.keys().nth(to).unwrap();
                Event::Relinked(Relink::new(eid(ev), T, subject(&sut, s), target))
            }
        };
        let plan = sut.engine.plan(&sut.store, &event).unwrap();
        sut.store.apply(&plan).unwrap();
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let records: BTreeMap<RecordId, FieldMap> = sut
            .store
            .records(T)
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    r.fields
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.as_str().to_owned()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(records, model.records);
        let links: BTreeMap<SubjectId, RecordId> = model
            .links
            .iter()
            .map(|(s, r)| (subject_id(*s), *r))
            .collect();
        assert_eq!(sut.store.links(T), links);
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn d2_d8_d11_d13_engine_and_store_follow_the_reference_model(sequential 1..40 => Sut);
}
