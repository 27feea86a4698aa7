//! The walkthrough (the README's first command) reads right: its headings
//! name only rules its scenarios print, it explains its notation, derived
//! ids do not repeat across unrelated scenarios, and it ends with the
//! glossary's text of every rule it cited (B2, B12).

#[allow(dead_code)]
#[path = "../examples/walkthrough.rs"]
mod example;

use std::collections::{BTreeMap, BTreeSet};

use contact_sync::RuleId;

fn rule_ids(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.parse::<RuleId>().is_ok())
        .map(str::to_owned)
        .collect()
}

/// Each scenario's heading and the text under it.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("=== ") {
            out.push((h.to_owned(), String::new()));
        } else if line.starts_with("#####") {
            out.push((String::new(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.retain(|(h, _)| !h.is_empty());
    out
}

/// Rules nearly every outcome cites: matching by email, the visible link,
/// old and new values, the record type, mapped fields, campaigns, the
/// guard's companion rule.
const EVERYWHERE: &[&str] = &["D1", "D12", "B3", "A1", "A2", "A4", "A5", "D15", "D6"];

#[test]
fn b2_every_heading_names_the_rules_its_scenario_prints() {
    let text = example::render(None);
    let sections = sections(&text);
    assert!(sections.len() > 15);
    let mut wrong = Vec::new();
    for (heading, body) in &sections {
        let (ids, _) = heading.split_once(':').expect("`=== RULES: what happens`");
        let printed: BTreeSet<String> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix("rules: "))
            .flat_map(|l| l.split(' ').map(str::to_owned))
            .collect();
        let named = rule_ids(ids);
        for id in &named {
            if !printed.contains(id) {
                wrong.push(format!("`{heading}` names {id}; printed {printed:?}"));
            }
        }
        // And it names every rule that sets the scenario apart (all but the
        // ones nearly every outcome cites).
        for id in printed.difference(&named) {
            if !EVERYWHERE.contains(&id.as_str()) {
                wrong.push(format!("`{heading}` prints {id} but does not name it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn b2_the_walkthrough_explains_its_notation_and_cites_the_glossary() {
    let text = example::render(None);
    let legend = text.lines().next().unwrap();
    for notation in ["->", "! ", "[contact #1 v2]", "…"] {
        assert!(
            legend.contains(notation),
            "the legend explains {notation:?}"
        );
    }
    let glossary = text
        .split("##### The rules cited above")
        .nth(1)
        .expect("a glossary section");
    let printed: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("rules: "))
        .flat_map(|l| l.split(' ').map(str::to_owned))
        .collect();
    assert!(printed.len() > 30);
    for id in printed {
        let r: RuleId = id.parse().unwrap();
        assert!(
            glossary.contains(&format!("{r} (")),
            "{r} is cited but not explained"
        );
        assert!(glossary.contains(r.text()));
    }
}

#[test]
fn b7_derived_ids_differ_between_unrelated_scenarios() {
    let text = example::render(None);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (heading, body) in sections(&text) {
        let ids: BTreeSet<&str> = body
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| w.ends_with('…') && w.trim_end_matches('…').len() == 8)
            .collect();
        for id in ids {
            if let Some(other) = seen.insert(id.to_owned(), heading.clone()) {
                panic!("{id} appears in `{other}` and in `{heading}`");
            }
        }
    }
    assert!(!seen.is_empty(), "the walkthrough creates records");
}

/// B2: `--lang de` explains every outcome in German, line for line where
/// the English walkthrough explains it, with the same decisions and rules.
#[test]
fn b2_the_walkthrough_speaks_german_with_the_same_decisions() {
    let en = example::render(None);
    let de = example::render_in(None, true);
    let (en, de): (Vec<&str>, Vec<&str>) = (en.lines().collect(), de.lines().collect());
    assert_eq!(en.len(), de.len());
    let mut translated = 0;
    for (i, (e, d)) in en.iter().zip(&de).enumerate() {
        // The explanation follows a `subject -> decision` line; everything
        // else (decisions, rules, records, headings) is the same.
        let explains = i > 0 && en[i - 1].contains(" -> ") && e.starts_with("      ");
        if explains && !en[i - 1].starts_with("    ") {
            assert_ne!(e, d, "line {i} is not translated");
            translated += 1;
        } else if let Some(w) = e.strip_prefix("  ! subject ") {
            // Warnings are translated too, naming the same subject.
            let who = w.split([' ', ':']).next().unwrap_or_default();
            assert!(d.starts_with(&format!("  ! Person {who}")), "line {i}: {d}");
        } else if !e.starts_with("      ") || e.contains("rules: ") {
            assert_eq!(e, d, "line {i}");
        }
    }
    assert!(translated > 30, "{translated} explanations translated");
    assert!(de
        .iter()
        .any(|l| l.contains("Genau ein Kontakt hat diese E-Mail-Adresse")));
}
