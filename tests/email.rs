//! B1: email parsing and match keys.

use contact_sync::*;

fn key(s: &str) -> String {
    EmailKey::parse(s, &Normalization::default())
        .unwrap()
        .unwrap()
        .to_string()
}

fn err(s: &str) -> EmailError {
    Email::parse(s).expect_err(s)
}

#[test]
fn b1_trims_unicode_whitespace_and_lowercases() {
    assert_eq!(
        key("\u{3000} Ann.Lee@Example.ORG\u{a0}\n"),
        "ann.lee@example.org"
    );
    assert_eq!(
        Email::parse(" Ann@X.org ").unwrap().unwrap().as_str(),
        "Ann@X.org"
    );
}

#[test]
fn b1_empty_or_whitespace_is_no_email_not_an_error() {
    assert_eq!(Email::parse("").unwrap(), None);
    assert_eq!(Email::parse(" \t\u{2003} ").unwrap(), None);
}

#[test]
fn b1_local_part_is_nfc_then_lowercase_never_nfkc_or_full_folding() {
    // Decomposed and composed forms meet.
    assert_eq!(key("Jose\u{301}@example.org"), key("jos\u{e9}@example.org"));
    assert_eq!(key("ÄNNE@example.org"), "änne@example.org");
    // No full case folding: ß stays ß, dotless ı stays ı.
    assert_ne!(key("straße@example.org"), key("strasse@example.org"));
    assert_ne!(key("mıke@example.org"), key("mike@example.org"));
    // No NFKC: the fullwidth letter stays distinct from ASCII in the local part.
    assert_ne!(key("ａnn@example.org"), key("ann@example.org"));
}

#[test]
fn b1_idn_domains_become_punycode() {
    assert_eq!(key("ann@BÜCHER.example"), "ann@xn--bcher-kva.example");
    assert_eq!(
        key("ann@xn--bcher-kva.example"),
        "ann@xn--bcher-kva.example"
    );
    assert_eq!(key("ann@müller.de"), key("ann@MÜLLER.de"));
}

#[test]
fn b1_strict_domain_validation() {
    assert_eq!(
        err("a@exa mple.org"),
        EmailError::Whitespace { position: 5 }
    );
    assert_eq!(err("a@ex_ample.org"), EmailError::InvalidDomain);
    assert_eq!(err("a@-example.org"), EmailError::HyphenAtLabelEdge);
    assert_eq!(err("a@example-.org"), EmailError::HyphenAtLabelEdge);
    assert_eq!(err("a@example..org"), EmailError::EmptyLabel);
    assert_eq!(err("a@.example.org"), EmailError::EmptyLabel);
    assert_eq!(err("a@example.org."), EmailError::TrailingDot);
    assert!(matches!(
        err("a@xn--a.example"),
        EmailError::InvalidDomain | EmailError::HyphenAtLabelEdge
    ));
    assert!(matches!(
        err("a@bü_cher.example"),
        EmailError::InvalidDomain
    ));
}

#[test]
fn b1_rfc5321_lengths() {
    let local = "a".repeat(64);
    assert!(Email::parse(&format!("{local}@example.org")).is_ok());
    assert_eq!(
        err(&format!("{local}a@example.org")),
        EmailError::LocalPartTooLong { len: 65 }
    );
    let label = "b".repeat(63);
    assert!(Email::parse(&format!("a@{label}.org")).is_ok());
    assert_eq!(
        err(&format!("a@{label}b.org")),
        EmailError::LabelTooLong { len: 64 }
    );
    let domain = format!("{label}.{label}.{label}.{}", "c".repeat(59));
    let addr = format!("abc@{domain}");
    assert_eq!(addr.len(), 255);
    assert_eq!(err(&addr), EmailError::AddressTooLong { len: 255 });
    assert!(Email::parse(&addr[1..]).is_ok(), "254 octets is fine");
}

#[test]
fn b1_rejects_each_bad_form_with_its_own_kind() {
    assert_eq!(err("ann.example.org"), EmailError::MissingAt);
    assert_eq!(err("a@b@example.org"), EmailError::MultipleAt);
    assert_eq!(err("@example.org"), EmailError::EmptyLocalPart);
    assert_eq!(err("ann@"), EmailError::EmptyDomain);
    assert_eq!(err("Ann <ann@example.org>"), EmailError::DisplayName);
    assert_eq!(err("<ann@example.org>"), EmailError::DisplayName);
    assert_eq!(err("a@example.org, b@example.org"), EmailError::List);
    assert_eq!(err("a@example.org;b@example.org"), EmailError::List);
    assert_eq!(err("\"ann lee\"@example.org"), EmailError::QuotedLocalPart);
    assert_eq!(err("\"a@b\"@example.org"), EmailError::QuotedLocalPart);
    assert_eq!(err("ann@[192.0.2.1]"), EmailError::AddressLiteral);
    assert_eq!(
        err("an\u{0}n@example.org"),
        EmailError::ControlCharacter { position: 2 }
    );
    assert_eq!(
        err("an\u{7f}n@example.org"),
        EmailError::ControlCharacter { position: 2 }
    );
    assert_eq!(
        err("ann\u{200b}@example.org"),
        EmailError::InvisibleCharacter {
            code: 0x200b,
            position: 3
        }
    );
    assert_eq!(
        err("ann@exa\u{ad}mple.org"),
        EmailError::InvisibleCharacter {
            code: 0xad,
            position: 7
        }
    );
    assert_eq!(
        err("\u{feff}ann@example.org"),
        EmailError::InvisibleCharacter {
            code: 0xfeff,
            position: 0
        }
    );
    assert_eq!(err("a..b@example.org"), EmailError::InvalidLocalDots);
    assert_eq!(err(".ab@example.org"), EmailError::InvalidLocalDots);
    assert_eq!(
        err("a(b)@example.org"),
        EmailError::InvalidLocalCharacter { code: '(' as u32 }
    );
}

#[test]
fn b1_plus_tag_and_gmail_dot_folding_are_options_off_by_default() {
    let plain = Normalization::default();
    let folded = Normalization {
        fold_plus_tags: true,
        fold_gmail_dots: true,
    };
    let k = |s: &str, n: &Normalization| EmailKey::parse(s, n).unwrap().unwrap().to_string();
    assert_eq!(k("Ann+News@example.org", &plain), "ann+news@example.org");
    assert_eq!(k("Ann+News@example.org", &folded), "ann@example.org");
    assert_eq!(k("a.n.n@gmail.com", &plain), "a.n.n@gmail.com");
    assert_eq!(k("a.n.n+x@googlemail.com", &folded), "ann@gmail.com");
    assert_eq!(
        k("a.n.n@example.org", &folded),
        "a.n.n@example.org",
        "dots matter outside Gmail"
    );
}

#[test]
fn b1_errors_never_repeat_the_address() {
    for bad in [
        "secret.person@ex_ample.org",
        "Secret Person <sp@example.org>",
        "secret\u{200b}@example.org",
    ] {
        let e = Email::parse(bad).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("Secret"),
            "{shown}"
        );
    }
    let e = Email::parse("secret@example.org").unwrap().unwrap();
    assert!(!format!("{e:?}").contains("secret"));
}

#[test]
fn b1_hostile_lengths_fail_fast() {
    let huge = "a".repeat(1 << 20);
    assert!(matches!(
        Email::parse(&huge),
        Err(EmailError::AddressTooLong { .. })
    ));
    let huge_at = format!("{huge}@example.org");
    assert!(matches!(
        Email::parse(&huge_at),
        Err(EmailError::AddressTooLong { .. })
    ));
}

#[test]
fn b1_key_serde_accepts_only_keys() {
    let k: EmailKey = serde_json::from_str("\"ann@xn--bcher-kva.example\"").unwrap();
    assert_eq!(k.as_str(), "ann@xn--bcher-kva.example");
    assert!(serde_json::from_str::<EmailKey>("\"Ann@example.org\"").is_err());
    assert!(serde_json::from_str::<EmailKey>("\"nope\"").is_err());
}

#[test]
fn b1_invalid_email_in_registration_is_a_typed_error() {
    let store = InMemoryStore::new();
    let e = Engine::new(crate::common::strict(Policy::doo())).unwrap();
    let ev = Event::Registered(Registration::new(
        EventId::from_u128(1),
        TenantId::from_u128(1),
        vec![Subject::booker(
            SubjectId::from_u128(9),
            Fields::from_pairs([("email", "Ann <a@b.org>")]),
        )],
    ));
    match e.plan(&store, &ev) {
        Err(PlanError::Invalid(Error::InvalidEmail { subject, source })) => {
            assert_eq!(subject, SubjectId::from_u128(9));
            assert_eq!(source, EmailError::DisplayName);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn b1_the_first_bad_character_is_the_one_reported() {
    assert_eq!(
        err("a\u{1}b\u{2}@example.org"),
        EmailError::ControlCharacter { position: 1 }
    );
    assert_eq!(
        err("a b c@example.org"),
        EmailError::Whitespace { position: 1 }
    );
    assert_eq!(
        err("a\u{1}b c@example.org"),
        EmailError::ControlCharacter { position: 1 }
    );
    assert_eq!(
        err("a b\u{1}c@example.org"),
        EmailError::Whitespace { position: 1 }
    );
}

#[test]
fn b1_display_shows_the_spelling_and_debug_hides_it() {
    let e = Email::parse(" Ann@Example.org ").unwrap().unwrap();
    assert_eq!(e.to_string(), "Ann@Example.org");
    assert_eq!(format!("{e:?}"), "Email(..)");
    let k = e.key(&Normalization::default());
    assert_eq!(k.to_string(), "ann@example.org");
    assert_eq!(format!("{k:?}"), "EmailKey(..)");
}

#[test]
fn b1_length_limits_sit_exactly_at_their_bounds() {
    // Up to 1,024 bytes of input are parsed (and their real problem told);
    // longer input is refused on its length alone.
    let at_cap = format!("{}@", "a".repeat(1023));
    assert_eq!(err(&at_cap), EmailError::EmptyDomain);
    let over = format!("{}@", "a".repeat(1024));
    assert_eq!(err(&over), EmailError::AddressTooLong { len: 1025 });
    // A key of exactly 254 octets is an address; 255 is not (RFC 5321). The
    // `ä` keeps it off the plain ASCII path.
    let local = format!("ä{}", "a".repeat(62));
    let domain = format!("{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(61));
    let max = format!("{local}@{domain}");
    assert_eq!(key(&max).len(), 254);
    let too_long = format!("{local}@{domain}c");
    assert_eq!(err(&too_long), EmailError::AddressTooLong { len: 255 });
}

#[test]
fn b1_label_problems_are_named_on_the_general_path_too() {
    // `ä` keeps these off the plain ASCII path.
    assert_eq!(err("ä@b..org"), EmailError::EmptyLabel);
    assert_eq!(err("ä@-b.org"), EmailError::HyphenAtLabelEdge);
    assert_eq!(err("ä@b-.org"), EmailError::HyphenAtLabelEdge);
    assert_eq!(err("ä@bü.-org"), EmailError::HyphenAtLabelEdge);
}
