//! Every reason renders in every formatter.

use super::reason::{ChangeKind, Fact, InputProblem, Reason, Warning};
use super::*;
use crate::event::{Role, Submitter};
use crate::fields::FieldName;
use crate::record::{CampaignId, RecordId, RecordType, SubjectId};
use crate::rules::ids::RuleId;

const R: RecordId = RecordId::from_u128(7);
const S: SubjectId = SubjectId::from_u128(9);

fn fields() -> Vec<FieldName> {
    vec![FieldName::new("company"), FieldName::new("job_title")]
}

/// How many kinds of fact there are.
const KINDS: usize = 77;

/// The position of `f`'s kind (exhaustive: a new kind does not compile
/// until it is numbered here and has a sample in [`every_fact`]).
fn kind(f: &Fact) -> usize {
    match f {
        Fact::Relinked { .. } => 0,
        Fact::AlreadyLinked => 1,
        Fact::NoTwoWay => 2,
        Fact::RegistrationCurrent => 3,
        Fact::TwoWayCopied { .. } => 4,
        Fact::RoleHasNoRecord { .. } => 5,
        Fact::BuyerDataWaitsForTrigger => 6,
        Fact::BuyerDataTriggered => 7,
        Fact::FoundByTicket { .. } => 8,
        Fact::EmailAdded => 9,
        Fact::NoEmailNoRecordYet => 10,
        Fact::Redelivery => 11,
        Fact::BuyerDataCarried => 12,
        Fact::BuyerGetsNoRecord => 13,
        Fact::Prefilled { .. } => 14,
        Fact::EnteredEmailIsRecords => 15,
        Fact::EmailCompletesRecord { .. } => 16,
        Fact::EveryHolderNew { .. } => 17,
        Fact::BuyerNewToo { .. } => 18,
        Fact::CrossMatching { .. } => 19,
        Fact::FailedCriteria { .. } => 20,
        Fact::WeightedCriteria { .. } => 21,
        Fact::OnlyOtherTypeHasEmail { .. } => 22,
        Fact::NoneHasEmail { .. } => 23,
        Fact::ExactlyOne { .. } => 24,
        Fact::CreatedInBatch => 25,
        Fact::SeveralCreateNew { .. } => 26,
        Fact::SeveralUnresolved { .. } => 27,
        Fact::SeveralSmallestId { .. } => 28,
        Fact::SeveralMostRecent { .. } => 29,
        Fact::SeveralWaterfall { .. } => 30,
        Fact::SeveralBestScore { .. } => 31,
        Fact::SeveralReview { .. } => 32,
        Fact::SeveralSkip { .. } => 33,
        Fact::NoEmail => 34,
        Fact::NoEmailNoFirstName => 35,
        Fact::TicketCarrier { .. } => 36,
        Fact::BuyerLastName => 37,
        Fact::InvalidInput { .. } => 38,
        Fact::FoundThroughAlias { .. } => 39,
        Fact::AliasKept { .. } => 40,
        Fact::AliasesDropped { .. } => 41,
        Fact::Created { .. } => 42,
        Fact::AddedToCampaign { .. } => 43,
        Fact::TicketOnMember => 44,
        Fact::GeneratedBlanked { .. } => 45,
        Fact::NameClashOverwritten => 46,
        Fact::NameClashKept => 47,
        Fact::NameClashNewRecord => 48,
        Fact::WrittenUnchanged => 49,
        Fact::GeneratedFrozen => 50,
        Fact::LinkedTo { .. } => 51,
        Fact::EventSetsEmailChange => 52,
        Fact::Reassigned => 53,
        Fact::ReassignKeepsNoAlias { .. } => 54,
        Fact::RetainKeepsRecordEmail { .. } => 55,
        Fact::RetainOverwritesEmail { .. } => 56,
        Fact::RetainLeavesEmail { .. } => 57,
        Fact::EmailChangedNewRecord { .. } => 58,
        Fact::EmailRemoved => 59,
        Fact::OrganizerChoseSync { .. } => 60,
        Fact::SelfService => 61,
        Fact::ManualSyncsLikeBookings => 62,
        Fact::SyncOff => 63,
        Fact::NameNeverUpdated => 64,
        Fact::FieldsChanged { .. } => 65,
        Fact::KeptRecordValues { .. } => 66,
        Fact::StaysOnBooking { .. } => 67,
        Fact::KeptBySubmitter { .. } => 68,
        Fact::NoFieldChanged => 69,
        Fact::LinkageCut { .. } => 70,
        Fact::LinkageFoundNone { .. } => 71,
        Fact::LinkageScored { .. } => 72,
        Fact::EmailStays => 73,
        Fact::LinkageReview => 74,
        Fact::LinkageBelowReview { .. } => 75,
        Fact::NoEmailCreates { .. } => 76,
    }
}

/// One fact of every kind.
fn every_fact() -> Vec<Fact> {
    vec![
        Fact::Relinked {
            record: R,
            record_type: RecordType::Contact,
        },
        Fact::AlreadyLinked,
        Fact::NoTwoWay,
        Fact::RegistrationCurrent,
        Fact::TwoWayCopied { fields: fields() },
        Fact::RoleHasNoRecord { role: Role::Booker },
        Fact::BuyerDataWaitsForTrigger,
        Fact::BuyerDataTriggered,
        Fact::FoundByTicket {
            record: R,
            record_type: RecordType::Contact,
        },
        Fact::EmailAdded,
        Fact::NoEmailNoRecordYet,
        Fact::Redelivery,
        Fact::BuyerDataCarried,
        Fact::BuyerGetsNoRecord,
        Fact::Prefilled {
            record: R,
            record_type: RecordType::Contact,
        },
        Fact::EnteredEmailIsRecords,
        Fact::EmailCompletesRecord {
            record_type: RecordType::Contact,
        },
        Fact::EveryHolderNew {
            record_type: RecordType::Contact,
        },
        Fact::BuyerNewToo {
            record_type: RecordType::Contact,
        },
        Fact::CrossMatching {
            criteria: fields(),
            prefer: RecordType::Contact,
        },
        Fact::FailedCriteria { count: 2 },
        Fact::WeightedCriteria {
            criteria: fields(),
            threshold: 3,
            fell_short: 2,
        },
        Fact::OnlyOtherTypeHasEmail {
            record_type: RecordType::Contact,
        },
        Fact::NoneHasEmail {
            record_type: RecordType::Contact,
        },
        Fact::ExactlyOne {
            record: R,
            record_type: RecordType::Contact,
            criteria: true,
        },
        Fact::CreatedInBatch,
        Fact::SeveralCreateNew {
            count: 2,
            record_type: RecordType::Contact,
        },
        Fact::SeveralUnresolved {
            count: 2,
            record_type: RecordType::Contact,
            ambiguity: "waterfall".into(),
        },
        Fact::SeveralSmallestId {
            count: 2,
            record_type: RecordType::Contact,
            record: R,
        },
        Fact::SeveralMostRecent {
            count: 2,
            record_type: RecordType::Contact,
            record: R,
        },
        Fact::SeveralWaterfall {
            count: 2,
            record_type: RecordType::Contact,
            record: R,
            rule: 2,
        },
        Fact::SeveralBestScore {
            count: 2,
            record_type: RecordType::Contact,
            record: R,
            score: 140,
        },
        Fact::SeveralReview {
            count: 2,
            record_type: RecordType::Contact,
        },
        Fact::SeveralSkip {
            count: 2,
            record_type: RecordType::Contact,
        },
        Fact::NoEmail,
        Fact::NoEmailNoFirstName,
        Fact::TicketCarrier {
            record: R,
            record_type: RecordType::Contact,
        },
        Fact::BuyerLastName,
        Fact::InvalidInput {
            subject: S,
            problem: Box::new(InputProblem::TooManyFields {
                count: 300,
                limit: 256,
            }),
        },
        Fact::FoundThroughAlias {
            alias: 2,
            of: 2,
            record_type: RecordType::Contact,
        },
        Fact::AliasKept {
            alias: 2,
            record_type: RecordType::Contact,
        },
        Fact::AliasesDropped { max: 2, dropped: 2 },
        Fact::Created {
            record: R,
            record_type: RecordType::Contact,
            fields: 2,
        },
        Fact::AddedToCampaign {
            campaign: CampaignId("spring".into()),
        },
        Fact::TicketOnMember,
        Fact::GeneratedBlanked { fields: fields() },
        Fact::NameClashOverwritten,
        Fact::NameClashKept,
        Fact::NameClashNewRecord,
        Fact::WrittenUnchanged,
        Fact::GeneratedFrozen,
        Fact::LinkedTo {
            record: R,
            record_type: RecordType::Contact,
        },
        Fact::EventSetsEmailChange,
        Fact::Reassigned,
        Fact::ReassignKeepsNoAlias {
            record: R,
            record_type: RecordType::Contact,
        },
        Fact::RetainKeepsRecordEmail {
            record_type: RecordType::Contact,
        },
        Fact::RetainOverwritesEmail {
            record_type: RecordType::Contact,
        },
        Fact::RetainLeavesEmail {
            record_type: RecordType::Contact,
        },
        Fact::EmailChangedNewRecord {
            record_type: RecordType::Contact,
        },
        Fact::EmailRemoved,
        Fact::OrganizerChoseSync { sync: true },
        Fact::SelfService,
        Fact::ManualSyncsLikeBookings,
        Fact::SyncOff,
        Fact::NameNeverUpdated,
        Fact::FieldsChanged {
            change: ChangeKind::Filled,
            by: RuleId::D15,
            fields: fields(),
        },
        Fact::KeptRecordValues { fields: fields() },
        Fact::StaysOnBooking { fields: fields() },
        Fact::KeptBySubmitter {
            submitter: Some(Submitter::AnonymousForm),
            fields: fields(),
        },
        Fact::NoFieldChanged,
        Fact::LinkageCut {
            candidates: 2,
            max: 2,
        },
        Fact::LinkageFoundNone {
            record_type: RecordType::Contact,
        },
        Fact::LinkageScored {
            record_type: RecordType::Contact,
            scored: 3,
            record: R,
            score: 12345,
            link_at: 12345,
            review_at: 12345,
        },
        Fact::EmailStays,
        Fact::LinkageReview,
        Fact::LinkageBelowReview {
            record_type: RecordType::Contact,
        },
        Fact::NoEmailCreates {
            record_type: RecordType::Contact,
        },
    ]
}

/// Names records `<record>` and subjects `<subject>`, to see the hook used.
struct Marked;

impl Names for Marked {
    fn record(&self, _: RecordId, out: &mut String) {
        out.push_str("<record>");
    }
    fn subject(&self, _: SubjectId, out: &mut String) {
        out.push_str("<subject>");
    }
}

fn render(f: &dyn Formatter, fact: &Fact, names: &dyn Names) -> String {
    let mut out = String::new();
    f.reason(&Reason::new(None, fact.clone()), names, &mut out);
    out
}

#[test]
fn b2_there_is_a_sample_of_every_kind_of_fact() {
    let kinds: Vec<usize> = every_fact().iter().map(kind).collect();
    assert_eq!(kinds, (0..KINDS).collect::<Vec<_>>());
}

#[test]
fn b2_every_reason_renders_in_english_and_german() {
    for fact in every_fact() {
        for (lang, f) in [("en", &English as &dyn Formatter), ("de", &German)] {
            let text = render(f, &fact, &Ids);
            assert!(!text.trim().is_empty(), "{lang}: {fact:?} renders nothing");
            assert!(
                text.ends_with('.') || text.ends_with(')'),
                "{lang}: {fact:?} is not a sentence: {text}"
            );
            assert!(!text.contains("{}"), "{lang}: {text}");
        }
        let (en, de) = (render(&English, &fact, &Ids), render(&German, &fact, &Ids));
        assert_ne!(en, de, "{fact:?} is not translated");
    }
}

#[test]
fn b2_records_and_subjects_are_named_through_the_hook() {
    for fact in every_fact() {
        let names_record = matches!(
            fact,
            Fact::Relinked { .. }
                | Fact::FoundByTicket { .. }
                | Fact::Prefilled { .. }
                | Fact::ExactlyOne { .. }
                | Fact::SeveralSmallestId { .. }
                | Fact::SeveralMostRecent { .. }
                | Fact::SeveralWaterfall { .. }
                | Fact::SeveralBestScore { .. }
                | Fact::TicketCarrier { .. }
                | Fact::Created { .. }
                | Fact::LinkedTo { .. }
                | Fact::ReassignKeepsNoAlias { .. }
                | Fact::LinkageScored { .. }
        );
        for f in [&English as &dyn Formatter, &German] {
            let text = render(f, &fact, &Marked);
            assert_eq!(text.contains("<record>"), names_record, "{text}");
            assert_eq!(
                text.contains("<subject>"),
                matches!(fact, Fact::InvalidInput { .. }),
                "{text}"
            );
            // Ids only through the hook.
            assert!(!text.contains("00000000-"), "{text}");
        }
    }
}

#[test]
fn b2_sentences_join_reasons_with_a_space_and_say_when_there_are_none() {
    let reasons = [
        Reason::new(Some(RuleId::D11), Fact::AlreadyLinked),
        Reason::new(None, Fact::EmailStays),
    ];
    assert_eq!(
        sentences(&English, &Ids, &reasons),
        "The subject is already linked to the chosen record. Its email stays."
    );
    assert_eq!(sentences(&English, &Ids, &[]), "Nothing to do.");
    assert_eq!(sentences(&German, &Ids, &[]), "Nichts zu tun.");
}

#[test]
fn b2_german_counts_agree_with_their_nouns() {
    let one = render(&German, &Fact::FailedCriteria { count: 1 }, &Ids);
    assert!(
        one.starts_with("1 Datensatz ") && one.contains(" erfüllte "),
        "{one}"
    );
    let two = render(&German, &Fact::FailedCriteria { count: 2 }, &Ids);
    assert!(
        two.starts_with("2 Datensätze ") && two.contains(" erfüllten "),
        "{two}"
    );
    let created = |fields| {
        render(
            &German,
            &Fact::Created {
                record: R,
                record_type: RecordType::Lead,
                fields,
            },
            &Ids,
        )
    };
    assert!(created(1).contains("mit 1 Feld angelegt"), "{}", created(1));
    assert!(
        created(3).contains("mit 3 Feldern angelegt"),
        "{}",
        created(3)
    );
    let score = render(
        &German,
        &Fact::LinkageScored {
            record_type: RecordType::Contact,
            scored: 1,
            record: R,
            score: 12345,
            link_at: 8000,
            review_at: -500,
        },
        &Ids,
    );
    assert!(
        score.contains("12,345 Bit (Verknüpfung ab 8,000, Prüfung ab -0,500)"),
        "{score}"
    );
}

/// One warning of every kind.
fn every_warning() -> Vec<Warning> {
    vec![
        Warning::SharedEmail {
            subject: S,
            record: R,
            action: crate::policy::NameGuard::KeepName,
        },
        Warning::Ambiguous {
            subject: S,
            records: vec![R, RecordId::from_u128(8)],
        },
        Warning::AbsorbingDuplicates {
            subject: S,
            count: 2,
        },
        Warning::RecordEmailKept {
            subject: S,
            record: R,
        },
        Warning::RecordEmailOverwritten {
            subject: S,
            record: R,
        },
        Warning::InvalidInput {
            subject: S,
            problem: Box::new(InputProblem::TooManyFields { count: 3, limit: 2 }),
        },
    ]
}

#[test]
fn b2_every_warning_renders_in_english_and_german_naming_through_the_hook() {
    for w in every_warning() {
        let mut en = String::new();
        English.warning(&w, &Marked, &mut en);
        let mut de = String::new();
        German.warning(&w, &Marked, &mut de);
        assert_ne!(en, de);
        for text in [&en, &de] {
            assert!(text.contains("<subject>"), "{text}");
            let names_record = matches!(
                w,
                Warning::SharedEmail { .. }
                    | Warning::RecordEmailKept { .. }
                    | Warning::RecordEmailOverwritten { .. }
            );
            assert_eq!(text.contains("<record>"), names_record, "{text}");
        }
        // `message` is the English with ids.
        assert_eq!(
            w.message()
                .replace(&S.to_string(), "<subject>")
                .replace(&R.to_string(), "<record>"),
            en
        );
    }
}

fn de(fact: Fact) -> String {
    render(&German, &fact, &Ids)
}

fn en(fact: Fact) -> String {
    render(&English, &fact, &Ids)
}

#[test]
fn b2_sentences_that_depend_on_a_count_or_a_list_read_right_in_both_languages() {
    let cross = |criteria| Fact::CrossMatching {
        criteria,
        prefer: RecordType::Lead,
    };
    assert_eq!(
        en(cross(vec![])),
        "Cross matching searches contacts and leads, preferring leads."
    );
    assert_eq!(
        en(cross(fields())),
        "Cross matching searches contacts and leads on email and company, job_title, preferring leads."
    );
    assert_eq!(
        de(cross(vec![])),
        "Der typübergreifende Abgleich durchsucht Kontakte und Leads und bevorzugt Leads."
    );
    assert_eq!(
        de(cross(fields())),
        "Der typübergreifende Abgleich durchsucht Kontakte und Leads nach E-Mail-Adresse und company, job_title und bevorzugt Leads."
    );
    let weighted = |fell_short| Fact::WeightedCriteria {
        criteria: fields(),
        threshold: 70,
        fell_short,
    };
    assert!(de(weighted(1)).ends_with("; 1 Datensatz mit dieser E-Mail-Adresse blieb darunter."));
    assert!(de(weighted(3)).ends_with("; 3 Datensätze mit dieser E-Mail-Adresse blieben darunter."));
    let dropped = |dropped| Fact::AliasesDropped { max: 3, dropped };
    assert_eq!(
        de(dropped(1)),
        "Höchstens 3 Aliase bleiben erhalten: Der älteste wurde verworfen."
    );
    assert_eq!(
        de(dropped(2)),
        "Höchstens 3 Aliase bleiben erhalten: Die ältesten 2 wurden verworfen."
    );
    assert_eq!(
        de(Fact::RoleHasNoRecord { role: Role::Booker }),
        "Der Bucher erhält keinen Datensatz; Käuferdaten gelangen nur über den Aktualisierungs-Trigger der Ticketinhaber in Datensätze."
    );
    assert!(de(Fact::RoleHasNoRecord {
        role: Role::Attendee
    })
    .starts_with("Der Teilnehmer erhält"));
}

#[test]
fn b2_b20_an_invalid_input_names_its_problem_in_both_languages() {
    use crate::error::Error;
    use crate::fields::FieldNameProblem;
    let field = FieldName::new("company");
    let cases = [
        (
            Error::FieldTooLong {
                subject: S,
                field: field.clone(),
                len: 300,
                limit: 256,
            },
            InputProblem::FieldTooLong {
                field: field.clone(),
                len: 300,
                limit: 256,
            },
            "Feld `company` ist 300 Bytes lang; die Grenze liegt bei 256",
        ),
        (
            Error::ControlCharacter {
                subject: S,
                field: field.clone(),
            },
            InputProblem::ControlCharacter {
                field: field.clone(),
            },
            "Feld `company` enthält ein Steuerzeichen",
        ),
        (
            Error::InvalidFieldName {
                subject: S,
                problem: FieldNameProblem::Empty,
            },
            InputProblem::InvalidFieldName {
                problem: FieldNameProblem::Empty,
            },
            "ein Feldname ist leer",
        ),
        (
            Error::TooManyFields {
                subject: S,
                count: 9,
                limit: 8,
            },
            InputProblem::TooManyFields { count: 9, limit: 8 },
            "9 Felder; die Grenze liegt bei 8",
        ),
        (
            Error::InvalidEmail {
                subject: S,
                source: crate::email::EmailError::EmptyDomain,
            },
            InputProblem::InvalidEmail,
            "ungültige E-Mail-Adresse",
        ),
    ];
    for (error, problem, german) in cases {
        assert_eq!(InputProblem::of(&error), problem);
        let fact = Fact::InvalidInput {
            subject: S,
            problem: Box::new(problem),
        };
        // English says what the engine's error says.
        assert_eq!(
            en(fact.clone()),
            format!("The subject's input is invalid ({error}), so it is left out of this event; the rest goes on.")
        );
        assert_eq!(
            de(fact),
            format!("Die Eingaben der Person sind ungültig (Person {S}: {german}), daher bleibt sie bei diesem Ereignis außen vor; der Rest wird verarbeitet.")
        );
        // The warning, too, as the error said it when it held the text.
        let w = Warning::InvalidInput {
            subject: S,
            problem: Box::new(InputProblem::of(&error)),
        };
        assert_eq!(
            w.message(),
            format!("subject {S}: invalid input, left out of its event ({error}; B20)")
        );
        let mut text = String::new();
        German.warning(&w, &Ids, &mut text);
        assert_eq!(
            text,
            format!("Person {S}: ungültige Eingaben, bei ihrem Ereignis außen vor ({german}; B20)")
        );
    }
    assert_eq!(InputProblem::of(&Error::MixedTenants), InputProblem::Other);
}
