//! Record linkage as a matching mode (B19): blocking, scores, the
//! link / review / create band, the not-a-duplicate list, preconditions on
//! blocks, and the sans-IO path.

use crate::common::*;
use contact_sync::linkage::{
    Agreement, Band, Blocking, BlockingRule, Compare, Comparison, KeyPart, Level, Linkage, Model,
    NotDuplicate, Transform,
};
use contact_sync::*;
use proptest::prelude::*;

pub fn blocking() -> Blocking {
    Blocking::new(vec![
        BlockingRule::new(vec![
            KeyPart::new("last_name", Transform::Soundex),
            KeyPart::new("first_name", Transform::Prefix { chars: 1 }),
        ]),
        BlockingRule::new(vec![KeyPart::new("date_of_birth", Transform::Exact)]),
    ])
}

/// CiviCRM-style integer weights (thousandths of a bit) per level:
/// `[else, far, close, exact]`.
pub fn linkage() -> Linkage {
    let jw = Compare::JaroWinkler {
        close: 900,
        far: 800,
    };
    Linkage {
        blocking: blocking(),
        comparisons: vec![
            Comparison::new("first_name", jw),
            Comparison::new("last_name", jw),
            Comparison::new(
                "date_of_birth",
                Compare::Date {
                    close_days: 0,
                    far_days: 31,
                },
            ),
            Comparison::new("city", Compare::Exact),
        ],
        weights: vec![
            [-2000, 0, 2000, 3000],
            [-3000, 0, 2000, 4000],
            [-4000, 1000, 3000, 6000],
            [-500, 0, 0, 1000],
        ],
        prior: -3000,
        link_at: 6000,
        review_at: 2000,
        max_candidates: 1000,
        not_duplicates: Vec::new(),
    }
}

pub fn policy() -> Policy {
    let mut p = Policy::doo();
    p.linkage = Some(linkage());
    p
}

fn ann() -> Record {
    contact(
        1,
        &[
            ("email", "ann@old.example"),
            ("first_name", "Ann"),
            ("last_name", "Meyer"),
            ("date_of_birth", "1980-01-01"),
            ("city", "Graz"),
        ],
    )
}

fn bob() -> Record {
    contact(
        2,
        &[
            ("email", "bob@example.org"),
            ("first_name", "Bob"),
            ("last_name", "Smith"),
            ("date_of_birth", "1970-05-05"),
        ],
    )
}

fn linked_store() -> InMemoryStore {
    let s = crate::common::blocked_by(blocking());
    s.extend([ann(), bob()]).unwrap();
    s
}

fn subject(n: u128, pairs: &[(&str, &str)]) -> Event {
    registration(n, vec![booker(n + 100, pairs)])
}

/// A registration of one booker (subject `n + 100`) with these details.
fn person(n: u128, email: &str, first: &str, last: &str, born: &str, city: Option<&str>) -> Event {
    let mut pairs = vec![
        ("email", email),
        ("first_name", first),
        ("last_name", last),
        ("date_of_birth", born),
    ];
    pairs.extend(city.map(|c| ("city", c)));
    subject(n, &pairs)
}

#[test]
fn b19_an_email_finding_nothing_links_the_best_score() {
    let store = linked_store();
    let plan = run(
        &policy(),
        &store,
        &person(
            1,
            "ann@new.example",
            "Ann",
            "Meyers",
            "1980-01-01",
            Some("Graz"),
        ),
    );
    let o = outcome(&plan, 101);
    assert_eq!(o.decision, Decision::Linked, "{}", o.explanation());
    assert_eq!(o.record, Some(rid(1)));
    assert!(o.rules.contains(&RuleId::B19));
    let score = o.linkage.as_ref().expect("a score");
    assert_eq!(score.band, Band::Link);
    assert_eq!(score.record, rid(1));
    assert_eq!(score.candidates, 1);
    assert_eq!((score.link_at, score.review_at), (6000, 2000));
    // -3 prior, +3 first name, +2 close last name, +6 birth date, +1 city.
    assert_eq!(score.score, 9000);
    let agreements: Vec<(&str, Agreement)> = score
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.agreement))
        .collect();
    assert_eq!(
        agreements,
        [
            ("first_name", Agreement::Same),
            (
                "last_name",
                Agreement::Similar {
                    level: Level::Close
                }
            ),
            ("date_of_birth", Agreement::Same),
            ("city", Agreement::Same),
        ]
    );
    assert!(
        o.explanation()
            .contains("9.000 bits (link at 6.000, review at 2.000)"),
        "{}",
        o.explanation()
    );
    assert!(
        !o.explanation().contains('@') && !o.explanation().contains("Meyers"),
        "{}",
        o.explanation()
    );
    // The record keeps its email; nothing was created.
    assert_eq!(text(&store, rid(1), "email"), "ann@old.example");
    assert_eq!(store.records(T).len(), 2);
    assert_eq!(store.link_of(T, sid(101)), Some(rid(1)));
}

#[test]
fn b19_a_score_in_the_review_band_links_and_creates_nothing() {
    let store = linked_store();
    let plan = run(
        &policy(),
        &store,
        &person(1, "ann@new.example", "Ann", "Meyer", "1980-01-20", None),
    );
    let o = outcome(&plan, 101);
    // -3 + 3 + 4 + 1 (a far date) = 5: review.
    assert_eq!(
        o.linkage.as_ref().map(|s| (s.score, s.band)),
        Some((5000, Band::Review))
    );
    assert_eq!(o.decision, Decision::Review, "{}", o.explanation());
    assert_eq!(o.no_record, Some(NoRecordReason::Review));
    assert_eq!(o.record, None);
    let city = o
        .linkage
        .as_ref()
        .unwrap()
        .fields
        .iter()
        .find(|f| f.field.as_str() == "city")
        .unwrap();
    assert_eq!((city.agreement, city.weight), (Agreement::InputAbsent, 0));
    assert!(plan.effects.is_empty(), "{:?}", plan.effects);
    assert_eq!(store.records(T).len(), 2);
}

#[test]
fn b19_below_the_review_threshold_a_new_record_is_created() {
    let store = linked_store();
    let plan = run(
        &policy(),
        &store,
        &person(
            1,
            "anna@new.example",
            "Alex",
            "Meyer",
            "1990-07-07",
            Some("Linz"),
        ),
    );
    let o = outcome(&plan, 101);
    assert_eq!(o.decision, Decision::Created, "{}", o.explanation());
    let score = o.linkage.as_ref().unwrap();
    assert_eq!(score.band, Band::Create);
    assert_eq!(score.record, rid(1), "the best candidate is still reported");
    assert!(o.rules.contains(&RuleId::B19) && o.rules.contains(&RuleId::D6));
    assert_eq!(store.records(T).len(), 3);
}

#[test]
fn b19_d2_an_email_finding_one_record_decides_as_without_linkage() {
    let store = linked_store();
    let plan = run(
        &policy(),
        &store,
        &subject(1, &[("email", "bob@example.org"), ("first_name", "Robert")]),
    );
    let o = outcome(&plan, 101);
    assert_eq!((o.decision, o.record), (Decision::Linked, Some(rid(2))));
    assert!(o.linkage.is_none());
    assert!(!o.rules.contains(&RuleId::B19));
    // Without a blocking key of its own, a subject is not scored at all.
    let plan = run(
        &policy(),
        &store,
        &subject(2, &[("email", "kim@example.org"), ("first_name", "Kim")]),
    );
    let o = outcome(&plan, 102);
    assert_eq!(o.decision, Decision::Created);
    assert!(o.linkage.is_none());
    assert!(
        o.explanation()
            .contains("found none sharing a blocking key"),
        "{}",
        o.explanation()
    );
}

#[test]
fn b19_a_pair_declared_not_duplicates_is_never_linked() {
    let store = linked_store();
    let mut p = policy();
    p.linkage.as_mut().unwrap().not_duplicates = vec![NotDuplicate::Subject {
        subject: sid(101),
        record: rid(1),
    }];
    let event = person(1, "ann@new.example", "Ann", "Meyer", "1980-01-01", None);
    let plan = run(&p, &store, &event);
    let o = outcome(&plan, 101);
    assert_eq!(o.decision, Decision::Created, "{}", o.explanation());
    assert!(o.linkage.is_none());
}

#[test]
fn b19_ties_go_to_the_smallest_id_and_the_type_is_respected() {
    let twin = |n: u128| {
        contact(
            n,
            &[
                ("email", &format!("twin{n}@example.org")),
                ("first_name", "Ann"),
                ("last_name", "Meyer"),
                ("date_of_birth", "1980-01-01"),
            ],
        )
    };
    let store = crate::common::blocked_by(blocking());
    let mut l = lead(
        3,
        &[
            ("first_name", "Ann"),
            ("last_name", "Meyer"),
            ("date_of_birth", "1980-01-01"),
            ("city", "Graz"),
        ],
    );
    l.fields
        .set(FieldName::new("email"), FieldValue::new("lead@example.org"));
    store.extend([twin(9), twin(5), twin(7), l]).unwrap();
    let plan = run(
        &policy(),
        &store,
        &person(
            1,
            "ann@new.example",
            "Ann",
            "Meyer",
            "1980-01-01",
            Some("Graz"),
        ),
    );
    let o = outcome(&plan, 101);
    // The lead scores higher (its city agrees) but is not a contact.
    assert_eq!(o.record, Some(rid(5)), "{}", o.explanation());
    assert_eq!(o.linkage.as_ref().unwrap().candidates, 3);
}

#[test]
fn b19_the_store_must_index_the_policys_blocking() {
    let store = store_with(vec![ann()]);
    let err = engine(policy())
        .plan(&store, &subject(1, &[("email", "x@example.org")]))
        .unwrap_err();
    assert!(
        matches!(err, PlanError::Invalid(Error::BlockingMismatch)),
        "{err:?}"
    );
}

#[test]
fn b19_b5_a_later_subject_of_a_batch_links_to_a_record_an_earlier_one_created() {
    let store = crate::common::blocked_by(blocking());
    fn person(email: &str) -> Vec<(&str, &str)> {
        vec![
            ("email", email),
            ("first_name", "Ann"),
            ("last_name", "Meyer"),
            ("date_of_birth", "1980-01-01"),
        ]
    }
    let events = [
        subject(1, &person("ann@one.example")),
        subject(2, &person("ann@two.example")),
    ];
    let plan = engine(policy()).plan_batch(&store, &events).unwrap();
    let first = outcome(&plan, 101);
    let second = outcome(&plan, 102);
    assert_eq!(first.decision, Decision::Created);
    assert_eq!(
        second.decision,
        Decision::Linked,
        "{}",
        second.explanation()
    );
    assert_eq!(second.record, first.record);
    assert!(second.rules.contains(&RuleId::B5));
    // A block the plan read is a precondition.
    assert!(plan
        .preconditions
        .iter()
        .any(|p| matches!(p, Precondition::BlockKey { records, .. } if records.is_empty())));
    store.apply(&plan).unwrap();
    assert_eq!(store.records(T).len(), 1);
}

#[test]
fn b19_a_block_changed_since_planning_is_a_conflict() {
    let store = linked_store();
    let event = person(1, "carl@example.org", "Carl", "Meyer", "1966-06-06", None);
    let plan = engine(policy()).plan(&store, &event).unwrap();
    assert_eq!(outcome(&plan, 101).decision, Decision::Created);
    // Meanwhile a record joins the subject's block.
    store
        .insert(contact(
            8,
            &[
                ("email", "c@example.org"),
                ("first_name", "Carl"),
                ("last_name", "Meyer"),
                ("date_of_birth", "1966-06-06"),
            ],
        ))
        .unwrap();
    let err = store.apply(&plan).unwrap_err();
    assert!(
        matches!(err, ApplyError::Conflict(Conflict::BlockChanged)),
        "{err:?}"
    );
    // Planned again, the subject links to it.
    let plan = run(&policy(), &store, &event);
    assert_eq!(outcome(&plan, 101).record, Some(rid(8)));
}

#[test]
fn b19_an_update_moves_a_record_between_blocks() {
    let store = linked_store();
    // Bob's record changes its last name through an edit of its subject.
    store
        .apply(&{
            let mut p = Plan::new(T);
            p.effects = vec![Effect::update_record(
                rid(2),
                vec![FieldChange {
                    field: FieldName::new("last_name"),
                    old: Some(FieldValue::new("Smith")),
                    new: FieldValue::new("Meyer"),
                    rule: RuleId::D16,
                }],
            )];
            p
        })
        .unwrap();
    let keys = blocking().keys(
        &fields(&[("first_name", "Bob"), ("last_name", "Meyer")]),
        &Normalization::default(),
    );
    let found: Vec<RecordId> = store
        .records_by_block(T, &keys[0])
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(found, [rid(2)]);
    let old = blocking().keys(
        &fields(&[("first_name", "Bob"), ("last_name", "Smith")]),
        &Normalization::default(),
    );
    assert!(store.records_by_block(T, &old[0]).unwrap().is_empty());
    assert!(store.records_by_block(OTHER, &keys[0]).unwrap().is_empty());
}

#[test]
fn b19_sans_io_needs_the_blocks_and_decides_as_the_store_does() {
    let store = linked_store();
    let event = person(1, "ann@new.example", "Ann", "Maier", "1980-01-01", None);
    let e = engine(policy());
    let needs = e.needs(&event).unwrap();
    assert_eq!(needs.block_keys.len(), 2);
    let candidates = ContactStore::fetch(&store, &needs).unwrap();
    let decided = e.decide(&event, &candidates).unwrap();
    assert_eq!(decided, e.plan(&store, &event).unwrap());
    // A block the host did not fetch is an error, not a silent "no match".
    let mut short = needs.clone();
    short.block_keys.clear();
    let err = e
        .decide(&event, &ContactStore::fetch(&store, &short).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::MissingCandidates(_)), "{err:?}");
}

#[test]
fn b19_linkage_settings_that_cannot_work_are_refused() {
    let refuse = |f: fn(&mut Linkage)| {
        let mut p = policy();
        f(p.linkage.as_mut().unwrap());
        matches!(Engine::new(p), Err(PolicyError::Linkage(_)))
    };
    assert!(refuse(|l| l.blocking = Blocking::default()));
    assert!(refuse(|l| l.weights.pop().map(drop).unwrap_or_default()));
    assert!(refuse(|l| l.review_at = l.link_at + 1));
    assert!(refuse(|l| l.max_candidates = 0));
    assert!(refuse(
        |l| l.blocking.rules[0].parts[1].transform = Transform::Prefix { chars: 0 }
    ));
    assert!(refuse(|l| l.comparisons[0].compare = Compare::Numeric {
        close: f64::NAN,
        far: 1.0
    }));
    assert!(Engine::new(policy()).is_ok());
    // The presets match by email alone.
    assert!(Policy::doo().linkage.is_none() && sf(RecordType::Contact).linkage.is_none());
}

#[test]
fn b19_a_fitted_model_becomes_integer_weights_and_thresholds() {
    let model = Model::new(vec![Comparison::new("last_name", Compare::Exact)]);
    let l = Linkage::from_model(&model, blocking(), 0.9, 0.5);
    // Starting weights: exact log2(0.8 / 0.02) = 5.322 bits, far log2(0.05 / 0.08),
    // else log2(0.05 / 0.85).
    assert_eq!(l.weights, [[-4087, -678, 1000, 5322]]);
    assert_eq!((l.link_at, l.review_at), (3170, 0));
    assert_eq!(l.prior, -6629);
    // As policy data, it round-trips through JSON exactly.
    let mut p = Policy::doo();
    p.linkage = Some(l);
    let back: Policy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

proptest! {
    /// B19: decisions are monotone in the score: a higher score never
    /// decides a weaker band.
    #[test]
    fn b19_decisions_are_monotone_in_the_score(
        a in any::<i32>(),
        b in any::<i32>(),
        review in -20_000i32..20_000,
        gap in 0i32..20_000,
    ) {
        let mut l = linkage();
        l.review_at = review;
        l.link_at = review + gap;
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(l.band(lo) <= l.band(hi));
        prop_assert_eq!(l.band(l.link_at), Band::Link);
        prop_assert_eq!(l.band(l.review_at), if gap == 0 { Band::Link } else { Band::Review });
    }

    /// B19: the plan does not depend on the order the store holds its
    /// records in, and planning twice gives the same bytes.
    #[test]
    fn b19_linkage_plans_are_deterministic(
        order in Just((1u128..=6).collect::<Vec<_>>()).prop_shuffle(),
        first in prop_oneof![Just("Ann"), Just("Anne"), Just("Ana")],
        born in prop_oneof![Just("1980-01-01"), Just("1980-01-02"), Just("1980-03-01")],
    ) {
        let people = |n: u128| {
            contact(n, &[
                ("email", &format!("p{n}@example.org")),
                ("first_name", ["Ann", "Anne", "Ana"][(n % 3) as usize]),
                ("last_name", "Meyer"),
                ("date_of_birth", ["1980-01-01", "1980-01-02"][(n % 2) as usize]),
            ])
        };
        let sorted = crate::common::blocked_by(blocking());
        sorted.extend((1..=6).map(people)).unwrap();
        let shuffled = crate::common::blocked_by(blocking());
        shuffled.extend(order.iter().map(|n| people(*n))).unwrap();
        let event = subject(1, &[
            ("email", "new@example.org"),
            ("first_name", first),
            ("last_name", "Meier"),
            ("date_of_birth", born),
        ]);
        let e = engine(policy());
        let a = e.plan(&sorted, &event).unwrap();
        let b = e.plan(&shuffled, &event).unwrap();
        prop_assert_eq!(a.to_json(), b.to_json());
        prop_assert_eq!(a.to_json(), e.plan(&sorted, &event).unwrap().to_json());
    }
}

/// B19: the explained outcomes of the three bands, with their scores and
/// per-field comparisons (reviewed snapshot).
#[test]
fn b19_outcomes_explain_link_review_and_create() {
    let store = linked_store();
    let person = |email: &str, first: &str, last: &str, born: &str| {
        vec![
            ("email", email.to_owned()),
            ("first_name", first.to_owned()),
            ("last_name", last.to_owned()),
            ("date_of_birth", born.to_owned()),
        ]
    };
    let subjects = [
        person("ann@new.example", "Ann", "Meyers", "1980-01-01"),
        person("ann@other.example", "Ann", "Meyer", "1980-01-20"),
        person("alex@example.org", "Alex", "Meyer", "1990-07-07"),
    ];
    let subjects: Vec<Subject> = subjects
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let pairs: Vec<(&str, &str)> = p.iter().map(|(n, v)| (*n, v.as_str())).collect();
            attendee(11 + i as u128, &pairs)
        })
        .collect();
    let plan = run(&policy(), &store, &registration(1, subjects));
    let view: Vec<_> = plan
        .outcomes
        .iter()
        .map(|o| {
            (
                o.subject.uuid().as_u128(),
                o.decision,
                o.rules
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                o.explanation().into_owned(),
                &o.linkage,
            )
        })
        .collect();
    insta::assert_yaml_snapshot!("b19_outcomes_explain_link_review_and_create", view);
}

fn born_1980(n: u128, first: &str, last: &str, city: &str) -> Record {
    contact(
        n,
        &[
            ("email", &format!("p{n}@example.org")),
            ("first_name", first),
            ("last_name", last),
            ("date_of_birth", "1980-01-01"),
            ("city", city),
        ],
    )
}

/// B19: duplicate groups by score are single-linkage clusters: records
/// linked through a third are one group; a weak pair stays apart; the type
/// is respected.
#[test]
fn b19_duplicate_groups_by_score_cluster_transitively() {
    let store = crate::common::blocked_by(blocking());
    let mut other_type = born_1980(9, "Ann", "Meyer", "Graz");
    other_type.record_type = RecordType::Lead;
    store
        .extend([
            born_1980(1, "Ann", "Meyer", "Graz"),
            born_1980(2, "Ann", "Meyers", "Graz"),
            born_1980(3, "Anne", "Meyers", "Linz"),
            born_1980(4, "Zoe", "Quist", "Wien"),
            other_type,
            born_1980(5, "Bob", "Smith", "Graz"),
        ])
        .unwrap();
    let l = linkage();
    // Scores: 1–2 9.0 bits, 2–3 8.5, 1–3 6.5.
    let groups = store.duplicate_groups_by_score(T, &l, 8000);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!(g.records, [rid(1), rid(2), rid(3)]);
    assert_eq!(g.record_type, RecordType::Contact);
    // 1 and 3 are joined through 2, the strongest link first.
    assert_eq!(g.links, [(rid(1), rid(2), 9000), (rid(2), rid(3), 8500)]);
    // A stricter threshold leaves 3 out.
    let strict = store.duplicate_groups_by_score(T, &l, 8800);
    assert_eq!(strict.len(), 1, "{strict:?}");
    assert_eq!(strict[0].records, [rid(1), rid(2)]);
}

/// B19: a pair declared not duplicates never ends up in one group, even
/// through a third record.
#[test]
fn b19_records_declared_distinct_are_never_grouped() {
    let store = crate::common::blocked_by(blocking());
    store
        .extend([
            born_1980(1, "Ann", "Meyer", "Graz"),
            born_1980(2, "Ann", "Meyer", "Graz"),
            born_1980(3, "Ann", "Meyers", "Graz"),
        ])
        .unwrap();
    let mut l = linkage();
    l.not_duplicates = vec![NotDuplicate::Records {
        a: rid(3),
        b: rid(1),
    }];
    let groups = store.duplicate_groups_by_score(T, &l, l.link_at);
    // 1–2 is the strongest link; 2–3 would bring 3 to 1's group.
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].records, [rid(1), rid(2)]);
}

proptest! {
    /// B19: duplicate groups by score do not depend on the order of the
    /// records.
    #[test]
    fn b19_duplicate_groups_by_score_are_deterministic(
        order in Just((1u128..=8).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let people = |n: u128| born_1980(
            n,
            ["Ann", "Anne", "Ana", "Bo"][(n % 4) as usize],
            ["Meyer", "Meyers", "Meier"][(n % 3) as usize],
            ["Graz", "Linz"][(n % 2) as usize],
        );
        let l = linkage();
        let n = Normalization::default();
        let sorted: Vec<Record> = (1..=8).map(people).collect();
        let shuffled: Vec<Record> = order.iter().map(|i| people(*i)).collect();
        let a = contact_sync::duplicate_groups_by_score(&sorted, &l, 2000, &n);
        let b = contact_sync::duplicate_groups_by_score(&shuffled, &l, 2000, &n);
        prop_assert_eq!(a, b);
    }
}

/// B19: the README's linkage policy is valid policy data and decides as
/// this file's `linkage()` does on its three comparisons.
#[test]
fn b19_the_readmes_linkage_policy_parses_and_validates() {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Record linkage")
        .nth(1)
        .expect("a record linkage section");
    let json = section
        .split("```json")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a JSON block");
    let p: Policy = serde_json::from_str(json).unwrap();
    let l = p.linkage.clone().unwrap();
    assert_eq!(l.blocking, blocking());
    assert_eq!(l.weights, linkage().weights[..3]);
    assert!(Engine::new(p).is_ok());
}

/// B19: a Salesforce-style rule equation, `(first AND last) OR email`,
/// is integer weights and a threshold.
#[test]
fn b19_a_rule_equation_is_weights_and_a_threshold() {
    let exact = |f: &str| Comparison::new(f, Compare::Exact);
    let l = Linkage {
        blocking: blocking(),
        comparisons: vec![exact("first_name"), exact("last_name"), exact("phone")],
        weights: vec![[0, 0, 0, 1000], [0, 0, 0, 1000], [0, 0, 0, 2000]],
        prior: 0,
        link_at: 2000,
        review_at: 2000,
        max_candidates: 10,
        not_duplicates: vec![],
    };
    let record = fields(&[("first_name", "Ann"), ("last_name", "Lee"), ("phone", "1")]);
    for (first, last, phone, links) in [
        ("Ann", "Lee", "", true),
        ("Ann", "", "1", true),
        ("", "", "1", true),
        ("Ann", "Kim", "2", false),
        ("", "Lee", "", false),
    ] {
        let input = fields(&[("first_name", first), ("last_name", last), ("phone", phone)]);
        let (score, _) = l.score(&input, &record);
        assert_eq!(l.band(score) == Band::Link, links, "{first} {last} {phone}");
    }
}
