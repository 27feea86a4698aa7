//! B19: record linkage beyond the email key — comparisons with levels,
//! Fellegi–Sunter weights, and their estimation without labels.

use contact_sync::linkage::{
    compare, BlockKey, Blocking, BlockingRule, Compare, Comparison, KeyPart, Level, Model,
    Transform,
};
use contact_sync::{Fields, Normalization};
use proptest::prelude::*;

const JW: Compare = Compare::JaroWinkler {
    close: 920,
    far: 880,
};

#[test]
fn b19_comparators_give_levels_from_exact_to_else_and_null_for_blanks() {
    assert_eq!(compare(Compare::Exact, " Ann ", "ann"), Level::Exact);
    assert_eq!(compare(Compare::Exact, "Ann", "Anne"), Level::Else);
    assert_eq!(compare(JW, "Meyer", ""), Level::Null);
    assert_eq!(compare(JW, "martha", "marhta"), Level::Close);
    assert_eq!(compare(JW, "dixon", "dicksonx"), Level::Else);
    let lev = Compare::Levenshtein { close: 1, far: 2 };
    assert_eq!(compare(lev, "3172", "3173"), Level::Close);
    assert_eq!(compare(lev, "3172", "3712"), Level::Far);
    assert_eq!(compare(lev, "3172", "9999"), Level::Else);
    let dl = Compare::DamerauLevenshtein { close: 1, far: 2 };
    assert_eq!(
        compare(dl, "3172", "3712"),
        Level::Close,
        "one transposition"
    );
    let num = Compare::Numeric {
        close: 1.0,
        far: 5.0,
    };
    assert_eq!(compare(num, "41", "42"), Level::Close);
    assert_eq!(compare(num, "41", "45"), Level::Far);
    assert_eq!(compare(num, "41", "x"), Level::Else);
    let date = Compare::Date {
        close_days: 1,
        far_days: 31,
    };
    assert_eq!(compare(date, "2000-02-28", "20000301"), Level::Far);
    assert_eq!(compare(date, "20000228", "20000229"), Level::Close);
    assert_eq!(
        compare(date, "19991301", "19991302"),
        Level::Else,
        "not a date"
    );
    assert_eq!(
        compare(Compare::Email, "Ann@Example.org", "ann@example.org"),
        Level::Exact
    );
    assert_eq!(
        compare(Compare::Email, "ann@example.org", "ann@other.org"),
        Level::Close
    );
    assert_eq!(
        compare(Compare::Email, "ann@example.org", "anne@example.org"),
        Level::Far
    );
    assert_eq!(
        compare(Compare::Email, "ann@example.org", "bob@other.org"),
        Level::Else
    );
}

#[test]
fn b19_comparisons_look_at_a_bounded_head_of_long_values() {
    // Two 64 KiB names that differ only past the compared head agree.
    let a = format!("{}x", "a".repeat(64 << 10));
    let b = format!("{}y", "a".repeat(64 << 10));
    for c in [
        JW,
        Compare::Levenshtein { close: 1, far: 2 },
        Compare::DamerauLevenshtein { close: 1, far: 2 },
    ] {
        assert_eq!(compare(c, &a, &b), Level::Exact);
    }
}

#[test]
fn b19_agreement_weighs_for_a_match_and_disagreement_against() {
    let m = Model::new(vec![Comparison::new("surname", JW)]);
    let w = |l| m.weights[0].weight(l);
    assert!(w(Level::Exact) > w(Level::Close));
    assert!(w(Level::Close) > 0.0);
    assert!(w(Level::Else) < 0.0);
    assert_eq!(w(Level::Null), 0.0);
    let p = |l| m.probability(&[l]);
    assert!(p(Level::Exact) > p(Level::Null) && p(Level::Null) > p(Level::Else));
}

/// Pairs of people: matches agree on most fields, non-matches on few.
fn pairs() -> Vec<(Fields, Fields, bool)> {
    let names = [
        "ann", "bob", "cyd", "dee", "eve", "fay", "gus", "hal", "ida", "jo",
    ];
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let a = Fields::from_pairs([
            ("given", *n),
            ("surname", "lee"),
            ("dob", &format!("1980010{i}")[..8]),
        ]);
        let mut typo = n.to_string();
        typo.push('h');
        let b = Fields::from_pairs([
            ("given", typo.as_str()),
            ("surname", "lee"),
            ("dob", &format!("1980010{i}")[..8]),
        ]);
        out.push((a.clone(), b, true));
        for (j, o) in names.iter().enumerate().filter(|(j, _)| *j != i) {
            let c = Fields::from_pairs([
                ("given", *o),
                ("surname", "kim"),
                ("dob", &format!("1990020{j}")[..8]),
            ]);
            out.push((a.clone(), c, false));
        }
    }
    out
}

fn model() -> Model {
    Model::new(vec![
        Comparison::new("given", JW),
        Comparison::new("surname", Compare::Exact),
        Comparison::new("dob", Compare::DamerauLevenshtein { close: 1, far: 2 }),
    ])
}

#[test]
fn b19_expectation_maximisation_separates_matches_without_labels() {
    let data = pairs();
    let mut m = model();
    let levels: Vec<Vec<Level>> = data.iter().map(|(a, b, _)| m.levels(a, b)).collect();
    let rounds = m.estimate(&levels, 500);
    assert!(rounds > 1);
    for ((_, _, is_match), l) in data.iter().zip(&levels) {
        assert_eq!(m.probability(l) >= 0.5, *is_match, "{l:?}");
    }
    assert!((m.prior - 0.1).abs() < 0.05, "{}", m.prior);
}

proptest! {
    /// B19: estimation is deterministic whatever the order of the pairs:
    /// the same pairs give the same parameters, bit for bit.
    #[test]
    fn b19_estimation_is_deterministic_in_any_order(seed in any::<u64>()) {
        let data = pairs();
        let m0 = model();
        let mut levels: Vec<Vec<Level>> = data.iter().map(|(a, b, _)| m0.levels(a, b)).collect();
        let mut first = model();
        first.estimate(&levels, 100);
        // A deterministic shuffle from the seed.
        let n = levels.len();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            levels.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut second = model();
        second.estimate(&levels, 100);
        prop_assert_eq!(serde_json::to_string(&first).unwrap(), serde_json::to_string(&second).unwrap());
    }
}

/// B19: each blocking transform, and the values that give no key part.
#[test]
fn b19_blocking_transforms_turn_values_into_key_parts() {
    let n = Normalization::default();
    let t = |tr: Transform, v: &str| tr.apply(v, &n);
    let some = |v: &str| Some(v.to_owned());
    assert_eq!(t(Transform::Exact, "  Meyer "), some("Meyer"));
    assert_eq!(t(Transform::Lowercase, " MEYER"), some("meyer"));
    assert_eq!(t(Transform::Prefix { chars: 3 }, "Müller"), some("mül"));
    assert_eq!(t(Transform::Prefix { chars: 9 }, "Li"), some("li"));
    assert_eq!(
        t(Transform::Soundex, "Robert"),
        t(Transform::Soundex, "Rupert")
    );
    assert_eq!(t(Transform::Soundex, "Robert"), some("R163"));
    assert_eq!(
        t(Transform::DoubleMetaphone, "Meyer"),
        t(Transform::DoubleMetaphone, "Maier")
    );
    assert_eq!(
        t(Transform::Nysiis, "Knight"),
        t(Transform::Nysiis, "Night")
    );
    assert_ne!(
        t(Transform::Soundex, "Robert"),
        t(Transform::Soundex, "Lee")
    );
    assert_eq!(t(Transform::Year, "1980-02-29"), some("1980"));
    assert_eq!(t(Transform::YearMonth, "19800229"), some("198002"));
    assert_eq!(t(Transform::MonthDay, "19800229"), some("0229"));
    assert_eq!(
        t(Transform::EmailLocal, " Ann.Lee@Example.ORG"),
        some("ann.lee")
    );
    assert_eq!(
        t(Transform::EmailDomain, "ann@BÜCHER.example"),
        some("xn--bcher-kva.example")
    );
    // No part: blanks, dates that are not dates, addresses that are not
    // addresses, names without a letter to encode.
    for (tr, v) in [
        (Transform::Exact, "   "),
        (Transform::Prefix { chars: 2 }, ""),
        (Transform::Year, "1980-13-01"),
        (Transform::MonthDay, "soon"),
        (Transform::EmailLocal, "not an address"),
        (Transform::EmailDomain, ""),
        (Transform::Soundex, "1234"),
        (Transform::DoubleMetaphone, "---"),
    ] {
        assert_eq!(t(tr, v), None, "{tr:?}");
    }
}

fn febrl_blocking() -> Blocking {
    Blocking::new(vec![
        BlockingRule::new(vec![KeyPart::new("date_of_birth", Transform::Exact)]),
        BlockingRule::new(vec![
            KeyPart::new("surname", Transform::Soundex),
            KeyPart::new("given_name", Transform::Prefix { chars: 1 }),
        ]),
        BlockingRule::new(vec![KeyPart::new("email", Transform::EmailLocal)]),
    ])
}

/// B19: a pass gives a key only when each of its fields gives a part;
/// records that agree on a pass's fields share its key, whatever else.
#[test]
fn b19_a_pass_keys_only_records_with_every_field() {
    let n = Normalization::default();
    let b = febrl_blocking();
    let ann = Fields::from_pairs([("surname", "Meyer"), ("given_name", "Ann")]);
    assert_eq!(b.keys(&ann, &n).len(), 1, "only the name pass");
    let full = Fields::from_pairs([
        ("surname", "Meier"),
        ("given_name", "anne"),
        ("date_of_birth", "19800101"),
        ("email", "ann@example.org"),
    ]);
    let keys = b.keys(&full, &n);
    assert_eq!(keys.len(), 3);
    assert_eq!(
        keys.iter().map(|k| k.pass().unwrap()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(keys.contains(&b.keys(&ann, &n)[0]));
    // Keys are personal data: `Debug` shows their size only.
    assert!(!format!("{keys:?}").contains("M600"), "{keys:?}");
    assert!(Blocking::default().keys(&full, &n).is_empty());
    assert!(Blocking::default().is_empty() && !b.is_empty());
    // The same values in another pass make another key.
    let swapped = Blocking::new(vec![
        BlockingRule::new(vec![KeyPart::new("surname", Transform::Exact)]),
        BlockingRule::new(vec![KeyPart::new("given_name", Transform::Exact)]),
    ]);
    let same = Fields::from_pairs([("surname", "Lee"), ("given_name", "Lee")]);
    assert_eq!(swapped.keys(&same, &n).len(), 2);
    assert_eq!(BlockKey::from_stored(keys[0].as_str()), keys[0]);
}

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[A-Za-z]{1,8}",
        "[0-9]{8}",
        "[a-z]{1,5}@[a-z]{1,5}\\.org",
        any::<String>(),
    ]
}

fn any_record() -> impl Strategy<Value = Fields> {
    (any_value(), any_value(), any_value(), any_value()).prop_map(|(s, g, d, e)| {
        Fields::from_pairs([
            ("surname", s.as_str()),
            ("given_name", g.as_str()),
            ("date_of_birth", d.as_str()),
            ("email", e.as_str()),
        ])
    })
}

proptest! {
    /// B19: keys never fail on any input, come sorted and each once, and
    /// depend only on the fields their passes name.
    #[test]
    fn b19_blocking_keys_are_total_sorted_and_local(
        record in any_record(),
        other in any::<String>(),
    ) {
        let n = Normalization::default();
        let b = febrl_blocking();
        let keys = b.keys(&record, &n);
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&keys, &sorted);
        prop_assert!(keys.len() <= b.rules.len());
        let mut more = record.clone();
        more.set(contact_sync::FieldName::new("company"), contact_sync::FieldValue::new(&other));
        prop_assert_eq!(b.keys(&more, &n), keys);
    }

    /// B19: comparators are symmetric: `a` against `b` is `b` against `a`.
    #[test]
    fn b19_comparators_are_symmetric(a in any_value(), b in any_value()) {
        for c in [
            Compare::Exact,
            Compare::JaroWinkler { close: 920, far: 880 },
            Compare::Levenshtein { close: 1, far: 2 },
            Compare::DamerauLevenshtein { close: 1, far: 2 },
            Compare::Numeric { close: 1.0, far: 5.0 },
            Compare::Date { close_days: 1, far_days: 31 },
            Compare::Email,
        ] {
            prop_assert_eq!(compare(c, &a, &b), compare(c, &b, &a), "{:?}", c);
        }
    }
}

/// B19: term-frequency adjustment: agreeing on a common value weighs less
/// than agreeing on a rare one; comparisons not adjusted, and levels other
/// than exact, weigh as without it.
#[test]
fn b19_term_frequencies_weigh_a_common_value_less_than_a_rare_one() {
    let model = Model::new(vec![
        Comparison::new("surname", Compare::Exact),
        Comparison::new("city", Compare::Exact),
    ]);
    let people: Vec<Fields> = ["Smith"; 8]
        .iter()
        .chain(&["Quist", ""])
        .map(|s| Fields::from_pairs([("surname", *s), ("city", "Graz")]))
        .collect();
    let prepared: Vec<_> = people.iter().map(|f| model.prepare(f)).collect();
    let tf = model.term_frequencies(prepared.iter().map(Vec::as_slice), &[0]);
    let both = [Level::Exact, Level::Exact];
    let smith = model.weight_adjusted(&both, &prepared[0], &tf);
    let quist = model.weight_adjusted(&both, &prepared[8], &tf);
    assert!(quist > smith, "{quist} > {smith}");
    // Smith is 8 of the 9 surnames: log2(m / (8 / 9)); Quist log2(m / (1 / 9)).
    assert!((quist - smith - 3.0).abs() < 1e-9, "{}", quist - smith);
    // Disagreement is not adjusted, nor is an unadjusted comparison.
    let differ = [Level::Else, Level::Exact];
    assert_eq!(
        model.weight_adjusted(&differ, &prepared[0], &tf),
        model.weight(&differ)
    );
    let none = model.term_frequencies(prepared.iter().map(Vec::as_slice), &[]);
    assert_eq!(
        model.weight_adjusted(&both, &prepared[0], &none),
        model.weight(&both)
    );
    // Prepared values compare as the raw ones do.
    assert_eq!(
        model.levels_prepared(&prepared[0], &prepared[8]),
        model.levels(&people[0], &people[8])
    );
}
