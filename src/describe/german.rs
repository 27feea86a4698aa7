//! The German sentences: every reason of both presets and of the rules
//! beyond them, as a German-speaking organizer reads them.

use std::fmt::Write as _;

use super::reason::{ChangeKind, Fact, InputProblem, Reason, Warning};
use super::{list, Formatter, Names};
use crate::event::Role;
use crate::fields::{FieldName, FieldNameProblem};
use crate::policy::NameGuard;
use crate::record::RecordType;

/// The German formatter (`de`).
#[derive(Debug, Clone, Copy, Default)]
pub struct German;

/// The record type, as a noun (both are masculine).
fn noun(t: RecordType) -> &'static str {
    match t {
        RecordType::Contact => "Kontakt",
        RecordType::Lead => "Lead",
    }
}

/// The record type in the plural.
fn plural(t: RecordType) -> &'static str {
    match t {
        RecordType::Contact => "Kontakte",
        RecordType::Lead => "Leads",
    }
}

/// The record type in the genitive ("des Kontakts").
fn genitive(t: RecordType) -> &'static str {
    match t {
        RecordType::Contact => "Kontakts",
        RecordType::Lead => "Leads",
    }
}

fn role(r: Role) -> &'static str {
    match r {
        Role::Booker => "Bucher",
        Role::Attendee => "Teilnehmer",
    }
}

/// `n` and the noun in the number `n` asks for.
fn count(out: &mut String, n: usize, one: &str, many: &str) {
    let _ = write!(out, "{n} {}", if n == 1 { one } else { many });
}

/// Thousandths of a bit, in bits with a decimal comma.
fn bits(out: &mut String, millibits: i32) {
    let text = format!("{:.3}", f64::from(millibits) / 1000.0);
    out.push_str(&text.replace('.', ","));
}

/// "{n} Kontakte haben diese E-Mail-Adresse; " (the start of the
/// ambiguity sentences).
fn several(out: &mut String, n: usize, t: RecordType) {
    let _ = write!(out, "{n} {} haben diese E-Mail-Adresse; ", plural(t));
}

fn problem(out: &mut String, p: &InputProblem) {
    let _ = match p {
        InputProblem::InvalidEmail => write!(out, "ungültige E-Mail-Adresse"),
        InputProblem::FieldTooLong { field, len, limit } => write!(
            out,
            "Feld `{field}` ist {len} Bytes lang; die Grenze liegt bei {limit}"
        ),
        InputProblem::ControlCharacter { field } => {
            write!(out, "Feld `{field}` enthält ein Steuerzeichen")
        }
        InputProblem::InvalidFieldName { problem } => match problem {
            FieldNameProblem::Empty => write!(out, "ein Feldname ist leer"),
            FieldNameProblem::TooLong { len, limit } => write!(
                out,
                "ein Feldname ist {len} Bytes lang; die Grenze liegt bei {limit}"
            ),
            FieldNameProblem::ControlCharacter { position } => write!(
                out,
                "ein Feldname enthält an Byte {position} ein Steuerzeichen"
            ),
        },
        InputProblem::TooManyFields { count, limit } => {
            write!(out, "{count} Felder; die Grenze liegt bei {limit}")
        }
        InputProblem::Other => write!(out, "ungültige Eingabe"),
    };
}

impl Formatter for German {
    fn nothing_to_do(&self, out: &mut String) {
        out.push_str("Nichts zu tun.");
    }

    fn warning(&self, warning: &Warning, names: &dyn Names, out: &mut String) {
        out.push_str("Person ");
        match warning {
            Warning::SharedEmail {
                subject,
                record,
                action,
            } => {
                names.subject(*subject, out);
                out.push_str(" teilt eine E-Mail-Adresse mit Datensatz ");
                names.record(*record, out);
                let what = match action {
                    NameGuard::Off | NameGuard::Warn => "er wurde trotzdem überschrieben",
                    NameGuard::KeepName => "der Name des Datensatzes blieb erhalten",
                    NameGuard::CreateNew => "stattdessen wurde ein neuer Datensatz angelegt",
                };
                let _ = write!(
                    out,
                    ", hat aber einen eindeutig anderen Namen; {what} (B4, D19)"
                );
            }
            Warning::Ambiguous { subject, records } => {
                names.subject(*subject, out);
                let _ = write!(
                    out,
                    ": {} Datensätze passen; siehe die Mehrdeutigkeitsregel der Richtlinie",
                    records.len()
                );
            }
            Warning::AbsorbingDuplicates { subject, count } => {
                names.subject(*subject, out);
                let _ = write!(
                    out,
                    ": ihre E-Mail-Adresse gehört bereits zu {count} Datensätzen (Dubletten; B13, B9)"
                );
            }
            Warning::RecordEmailKept { subject, record } => {
                names.subject(*subject, out);
                out.push_str(": Der verbundene Datensatz ");
                names.record(*record, out);
                out.push_str(" hat eine andere E-Mail-Adresse, die erhalten bleibt (D9, B8)");
            }
            Warning::RecordEmailOverwritten { subject, record } => {
                names.subject(*subject, out);
                out.push_str(": Die E-Mail-Adresse des verbundenen Datensatzes ");
                names.record(*record, out);
                out.push_str(" wird mit der neuen E-Mail-Adresse der Person überschrieben (D9)");
            }
            Warning::InvalidInput {
                subject,
                problem: p,
            } => {
                names.subject(*subject, out);
                out.push_str(": ungültige Eingaben, bei ihrem Ereignis außen vor (");
                problem(out, p);
                out.push_str("; B20)");
            }
        }
    }

    fn reason(&self, reason: &Reason, names: &dyn Names, out: &mut String) {
        match &reason.fact {
            Fact::Relinked {
                record,
                record_type,
            } => {
                let _ = write!(
                    out,
                    "Der Veranstalter hat den verbundenen Datensatz auf {} ",
                    noun(*record_type)
                );
                names.record(*record, out);
                out.push_str(" geändert.");
            }
            Fact::AlreadyLinked => {
                out.push_str("Die Person ist bereits mit dem gewählten Datensatz verbunden.")
            }
            Fact::NoTwoWay => out.push_str(
                "Ohne Zwei-Wege-Integration fließen Änderungen an Datensätzen nicht in die Anmeldungen zurück.",
            ),
            Fact::RegistrationCurrent => {
                out.push_str("Die Anmeldung enthält die Daten des Datensatzes bereits.")
            }
            Fact::TwoWayCopied { fields } => {
                out.push_str("Zwei-Wege-Integration: Die Anmeldung übernimmt aus dem Datensatz ");
                list(out, fields);
                out.push('.');
            }
            Fact::RoleHasNoRecord { role: r } => {
                let _ = write!(
                    out,
                    "Der {} erhält keinen Datensatz; Käuferdaten gelangen nur über den Aktualisierungs-Trigger der Ticketinhaber in Datensätze.",
                    role(*r)
                );
            }
            Fact::BuyerDataWaitsForTrigger => out.push_str(
                "Es werden nur Käuferdaten erfasst: Sie werden nur übernommen, wenn die Aktualisierung beim Ticketinhaber ausgelöst wird.",
            ),
            Fact::BuyerDataTriggered => out.push_str(
                "Es werden nur Käuferdaten erfasst, und die Aktualisierung wurde beim Ticketinhaber ausgelöst: Die Daten des Käufers werden übernommen.",
            ),
            Fact::FoundByTicket {
                record,
                record_type,
            } => {
                let _ = write!(out, "{} ", noun(*record_type));
                names.record(*record, out);
                out.push_str(" wurde über die Ticket-ID gefunden.");
            }
            Fact::EmailAdded => out.push_str(
                "Bei einer Person ohne Datensatz wurde eine E-Mail-Adresse ergänzt.",
            ),
            Fact::NoEmailNoRecordYet => out.push_str(
                "Die Person hat weder eine E-Mail-Adresse noch einen Datensatz; ein Datensatz wird erst angelegt, sobald eine E-Mail-Adresse ergänzt wird.",
            ),
            Fact::Redelivery => out.push_str(
                "Dieses Ereignis wurde bereits mit denselben Daten angewendet (eine erneute Zustellung): Es ist nichts zu tun.",
            ),
            Fact::BuyerDataCarried => out.push_str(
                "Es werden nur Käuferdaten erfasst, daher trägt der Ticketinhaber die Daten des Käufers.",
            ),
            Fact::BuyerGetsNoRecord => out.push_str(
                "Der Ticketkäufer erhält keinen Datensatz: Nur Ticketinhaber erhalten einen.",
            ),
            Fact::Prefilled {
                record,
                record_type,
            } => {
                let _ = write!(out, "Die Buchung wurde aus {} ", noun(*record_type));
                names.record(*record, out);
                out.push_str(" vorausgefüllt, der zuerst angenommen wird.");
            }
            Fact::EnteredEmailIsRecords => {
                out.push_str("Die eingegebene E-Mail-Adresse ist die dieses Datensatzes.")
            }
            Fact::EmailCompletesRecord { record_type } => {
                let _ = write!(
                    out,
                    "Dieser {} hat keine E-Mail-Adresse: Die eingegebene ergänzt ihn, und die Verknüpfung bleibt bestehen.",
                    noun(*record_type)
                );
            }
            Fact::EveryHolderNew { record_type } => {
                let _ = write!(
                    out,
                    "Jeder Ticketinhaber erhält einen neuen {}, ob es einen Treffer gibt oder nicht.",
                    noun(*record_type)
                );
            }
            Fact::BuyerNewToo { record_type } => {
                let _ = write!(
                    out,
                    "Auch der Ticketkäufer erhält einen neuen {}, selbst wenn einer dieselbe E-Mail-Adresse hat.",
                    noun(*record_type)
                );
            }
            Fact::CrossMatching { criteria, prefer } => {
                out.push_str("Der typübergreifende Abgleich durchsucht Kontakte und Leads");
                if !criteria.is_empty() {
                    out.push_str(" nach E-Mail-Adresse und ");
                    list(out, criteria);
                }
                let _ = write!(out, " und bevorzugt {}.", plural(*prefer));
            }
            Fact::FailedCriteria { count: n } => {
                count(out, *n, "Datensatz", "Datensätze");
                out.push_str(if *n == 1 {
                    " mit dieser E-Mail-Adresse erfüllte die zusätzlichen Kriterien nicht."
                } else {
                    " mit dieser E-Mail-Adresse erfüllten die zusätzlichen Kriterien nicht."
                });
            }
            Fact::WeightedCriteria {
                criteria,
                threshold,
                fell_short,
            } => {
                out.push_str("Gewichtete Kriterien auf ");
                list(out, criteria);
                let _ = write!(out, " verlangen eine Punktzahl von {threshold}; ");
                count(out, *fell_short, "Datensatz", "Datensätze");
                out.push_str(if *fell_short == 1 {
                    " mit dieser E-Mail-Adresse blieb darunter."
                } else {
                    " mit dieser E-Mail-Adresse blieben darunter."
                });
            }
            Fact::OnlyOtherTypeHasEmail { record_type } => {
                let n = noun(*record_type);
                let _ = write!(
                    out,
                    "Kein {n} hat diese E-Mail-Adresse (nur ein Datensatz des anderen Typs, und der Abgleich ist linear), daher wird ein neuer {n} angelegt."
                );
            }
            Fact::NoneHasEmail { record_type } => {
                let _ = write!(
                    out,
                    "Kein {} hat diese E-Mail-Adresse, daher wird ein neuer angelegt.",
                    noun(*record_type)
                );
            }
            Fact::ExactlyOne {
                record,
                record_type,
                criteria,
            } => {
                let n = noun(*record_type);
                let has = if *criteria {
                    "passt"
                } else {
                    "hat diese E-Mail-Adresse"
                };
                let _ = write!(out, "Genau ein {n} {has}: Die Person wird mit {n} ");
                names.record(*record, out);
                out.push_str(" verbunden.");
            }
            Fact::CreatedInBatch => {
                out.push_str("Er wurde zuvor in dieser Buchung oder diesem Stapel angelegt.")
            }
            Fact::SeveralCreateNew {
                count: n,
                record_type,
            } => {
                several(out, *n, *record_type);
                out.push_str(
                    "das System rät nie zwischen mehreren, daher wird ein neuer angelegt.",
                );
            }
            Fact::SeveralUnresolved {
                count: n,
                record_type,
                ambiguity,
            } => {
                several(out, *n, *record_type);
                let _ = write!(
                    out,
                    "die Mehrdeutigkeitsregel `{ambiguity}` konnte keinen einzelnen bestimmen, daher wird ein neuer angelegt (sie rät nie)."
                );
            }
            Fact::SeveralSmallestId {
                count: n,
                record_type,
                record,
            } => {
                several(out, *n, *record_type);
                out.push_str("die Richtlinie nimmt den mit der kleinsten ID, ");
                names.record(*record, out);
                out.push('.');
            }
            Fact::SeveralMostRecent {
                count: n,
                record_type,
                record,
            } => {
                several(out, *n, *record_type);
                out.push_str(
                    "die Mehrdeutigkeitsregel `most_recently_modified` nimmt den zuletzt geänderten, ",
                );
                names.record(*record, out);
                out.push('.');
            }
            Fact::SeveralWaterfall {
                count: n,
                record_type,
                record,
                rule,
            } => {
                several(out, *n, *record_type);
                out.push_str("die Mehrdeutigkeitsregel `waterfall` nimmt ");
                names.record(*record, out);
                let _ = write!(out, ", den einzigen, auf den Regel {rule} passt.");
            }
            Fact::SeveralBestScore {
                count: n,
                record_type,
                record,
                score,
            } => {
                several(out, *n, *record_type);
                out.push_str("die Mehrdeutigkeitsregel `best_score` nimmt ");
                names.record(*record, out);
                let _ = write!(out, ", den einzigen mit der Punktzahl {score}.");
            }
            Fact::SeveralReview {
                count: n,
                record_type,
            } => {
                several(out, *n, *record_type);
                out.push_str(
                    "die Mehrdeutigkeitsregel `review` überlässt die Wahl einer Person: Nichts wird verbunden oder angelegt.",
                );
            }
            Fact::SeveralSkip {
                count: n,
                record_type,
            } => {
                several(out, *n, *record_type);
                out.push_str("die Richtlinie verbindet keinen und legt keinen an.");
            }
            Fact::NoEmail => out.push_str(
                "Es wurde keine E-Mail-Adresse angegeben, daher wird die Person mit nichts verbunden und nichts angelegt.",
            ),
            Fact::NoEmailNoFirstName => out.push_str(
                "Weder E-Mail-Adresse noch Vorname wurden angegeben, daher wird kein Datensatz angelegt.",
            ),
            Fact::TicketCarrier {
                record,
                record_type,
            } => {
                let _ = write!(
                    out,
                    "Es wurde keine E-Mail-Adresse angegeben; {} ",
                    noun(*record_type)
                );
                names.record(*record, out);
                out.push_str(" trägt diese Ticket-ID bereits und wird verbunden.");
            }
            Fact::BuyerLastName => out.push_str(
                "Der Nachname war leer, daher wird der Nachname des Käufers verwendet.",
            ),
            Fact::NoEmailCreates { record_type } => {
                let _ = write!(
                    out,
                    "Es wurde keine E-Mail-Adresse angegeben, aber Datensätze ohne E-Mail-Adresse sind aktiviert: Ein neuer {} wird angelegt und später über seine Ticket-ID wiedergefunden.",
                    noun(*record_type)
                );
            }
            Fact::InvalidInput {
                subject,
                problem: p,
            } => {
                out.push_str("Die Eingaben der Person sind ungültig (Person ");
                names.subject(*subject, out);
                out.push_str(": ");
                problem(out, p);
                out.push_str(
                    "), daher bleibt sie bei diesem Ereignis außen vor; der Rest wird verarbeitet.",
                );
            }
            Fact::FoundThroughAlias {
                alias,
                of,
                record_type,
            } => {
                let _ = write!(
                    out,
                    "Er wurde über Alias {alias} von {of} in {} gefunden (eine frühere Adresse des {}); seine E-Mail-Adresse bleibt.",
                    FieldName::EMAIL_ALIASES,
                    genitive(*record_type)
                );
            }
            Fact::AliasKept { alias, record_type } => {
                let _ = write!(
                    out,
                    "Die alte Adresse bleibt als Alias {alias} in {} erhalten (eine Anmeldung damit findet den {} wieder).",
                    FieldName::EMAIL_ALIASES,
                    noun(*record_type)
                );
            }
            Fact::AliasesDropped { max, dropped } => {
                let _ = write!(out, "Höchstens {max} Aliase bleiben erhalten: ");
                if *dropped == 1 {
                    out.push_str("Der älteste wurde verworfen.");
                } else {
                    let _ = write!(out, "Die ältesten {dropped} wurden verworfen.");
                }
            }
            Fact::Created {
                record,
                record_type,
                fields,
            } => {
                let _ = write!(out, "{} ", noun(*record_type));
                names.record(*record, out);
                out.push_str(" wurde mit ");
                count(out, *fields, "Feld", "Feldern");
                out.push_str(" angelegt und verbunden.");
            }
            Fact::AddedToCampaign { campaign } => {
                let _ = write!(out, "Zur Kampagne {campaign} hinzugefügt.");
            }
            Fact::TicketOnMember => out.push_str(
                "Die Ticket-ID wird auch beim Kampagnenmitglied eingetragen.",
            ),
            Fact::GeneratedBlanked { fields } => {
                out.push_str(
                    "Automatisch erzeugte Felder, die diese Anmeldung nicht verwendet, werden geleert: ",
                );
                list(out, fields);
                out.push('.');
            }
            Fact::NameClashOverwritten => out.push_str(
                "Warnung: Der Datensatz enthält den Namen einer eindeutig anderen Person, der überschrieben wird (mehrere Personen können sich diese E-Mail-Adresse teilen).",
            ),
            Fact::NameClashKept => out.push_str(
                "Warnung: Der Datensatz enthält den Namen einer eindeutig anderen Person; der Name des Datensatzes bleibt erhalten.",
            ),
            Fact::NameClashNewRecord => out.push_str(
                "Warnung: Der Datensatz enthält den Namen einer eindeutig anderen Person, daher wird stattdessen ein neuer Datensatz angelegt.",
            ),
            Fact::WrittenUnchanged => out.push_str(
                "Die Aktualisierung wurde für den Ticketinhaber ausgelöst, daher wird der Datensatz geschrieben, obwohl sich nichts geändert hat.",
            ),
            Fact::GeneratedFrozen => out.push_str(
                "Der Ticketinhaber hat mehrere Tickets, daher werden automatisch erzeugte Felder nicht aktualisiert.",
            ),
            Fact::LinkedTo {
                record,
                record_type,
            } => {
                let _ = write!(out, "Mit {} ", noun(*record_type));
                names.record(*record, out);
                out.push_str(" verbunden.");
            }
            Fact::EventSetsEmailChange => out.push_str(
                "Dieses Ereignis legt sein eigenes Verhalten bei E-Mail-Änderungen fest.",
            ),
            Fact::Reassigned => out.push_str(
                "Die E-Mail-Adresse weicht von der des verbundenen Datensatzes ab, und das Ereignis ordnet bei E-Mail-Änderungen neu zu: Es wird erneut mit der neuen E-Mail-Adresse abgeglichen.",
            ),
            Fact::ReassignKeepsNoAlias {
                record,
                record_type,
            } => {
                let _ = write!(out, "Die Neuzuordnung lässt {} ", noun(*record_type));
                names.record(*record, out);
                out.push_str(
                    " und seine E-Mail-Adresse unverändert, daher wird kein Alias angelegt: Die alte Adresse findet ihn weiterhin.",
                );
            }
            Fact::RetainKeepsRecordEmail { record_type } => {
                let _ = write!(
                    out,
                    "Die E-Mail-Adresse hat sich geändert und das Ereignis behält die Verknüpfung bei, aber die Richtlinie behält die eigene E-Mail-Adresse des {}.",
                    genitive(*record_type)
                );
            }
            Fact::RetainOverwritesEmail { record_type } => {
                let _ = write!(
                    out,
                    "Die E-Mail-Adresse hat sich geändert und das Ereignis behält die Verknüpfung bei: Die E-Mail-Adresse des {} wird mit der neuen überschrieben.",
                    genitive(*record_type)
                );
            }
            Fact::RetainLeavesEmail { record_type } => {
                let _ = write!(
                    out,
                    "Die E-Mail-Adresse hat sich geändert und das Ereignis behält die Verknüpfung bei; die E-Mail-Adresse des {} wird nicht überschrieben.",
                    genitive(*record_type)
                );
            }
            Fact::EmailChangedNewRecord { record_type } => {
                let _ = write!(
                    out,
                    "Die E-Mail-Adresse hat sich geändert, daher wird ein neuer {} angelegt, statt den verbundenen zu aktualisieren.",
                    noun(*record_type)
                );
            }
            Fact::EmailRemoved => out.push_str(
                "Die E-Mail-Adresse wurde entfernt, daher wird die Verknüpfung der Person aufgehoben.",
            ),
            Fact::OrganizerChoseSync { sync } => {
                let _ = write!(
                    out,
                    "Der Veranstalter hat entschieden, diese Änderung {}; fehlende Daten werden in jedem Fall ergänzt.",
                    if *sync {
                        "zu synchronisieren"
                    } else {
                        "nicht zu synchronisieren"
                    }
                );
            }
            Fact::SelfService => out.push_str("Im Self-Service geändert."),
            Fact::ManualSyncsLikeBookings => out.push_str(
                "Manuelle Anmeldungen und Importe werden wie Buchungen synchronisiert.",
            ),
            Fact::SyncOff => out.push_str(
                "Die Synchronisierung ist ausgeschaltet: Vorhandene Werte werden nie geändert.",
            ),
            Fact::NameNeverUpdated => out.push_str(
                "Der Name eines vorhandenen Datensatzes wird nie aus einer neuen Anmeldung aktualisiert.",
            ),
            Fact::FieldsChanged { change, by, fields } => {
                out.push_str(match change {
                    ChangeKind::Cleared => "Leer gelassene Felder geleert",
                    ChangeKind::Filled => "Leere Felder gefüllt",
                    ChangeKind::Replaced => "Ersetzt",
                    ChangeKind::Updated => "Aktualisiert",
                });
                out.push_str(": ");
                list(out, fields);
                let _ = write!(out, " ({by}).");
            }
            Fact::KeptRecordValues { fields } => {
                out.push_str(if fields.len() == 1 {
                    "Der Wert des Datensatzes bleibt erhalten: "
                } else {
                    "Die Werte des Datensatzes bleiben erhalten: "
                });
                list(out, fields);
                out.push('.');
            }
            Fact::StaysOnBooking { fields } => {
                out.push_str("Abweichende eingegebene Daten bleiben nur an der Buchung: ");
                list(out, fields);
                out.push('.');
            }
            Fact::KeptBySubmitter { submitter, fields } => {
                let level = submitter.map_or("", |s| s.name());
                let _ = write!(
                    out,
                    "Wegen der Herkunft der Daten ({level}), die nicht überschreiben darf, bleibt erhalten: "
                );
                list(out, fields);
                out.push('.');
            }
            Fact::NoFieldChanged => out.push_str("Kein Feld musste geändert werden."),
            Fact::LinkageCut { candidates, max } => {
                let _ = write!(
                    out,
                    "Record Linkage: {candidates} Kandidaten teilen einen Blocking-Schlüssel; die ersten {max} nach ID werden bewertet."
                );
            }
            Fact::LinkageFoundNone { record_type } => {
                let _ = write!(
                    out,
                    "Kein {} hat diese E-Mail-Adresse, und Record Linkage fand keinen mit gemeinsamem Blocking-Schlüssel, daher wird ein neuer angelegt.",
                    noun(*record_type)
                );
            }
            Fact::LinkageScored {
                record_type,
                scored,
                record,
                score,
                link_at,
                review_at,
            } => {
                let n = noun(*record_type);
                // "Kandidaten" is the accusative of one and of many.
                let _ = write!(
                    out,
                    "Kein {n} hat diese E-Mail-Adresse; Record Linkage bewertete {scored} Kandidaten mit gemeinsamem Blocking-Schlüssel, der beste {n} "
                );
                names.record(*record, out);
                out.push_str(" mit ");
                bits(out, *score);
                out.push_str(" Bit (Verknüpfung ab ");
                bits(out, *link_at);
                out.push_str(", Prüfung ab ");
                bits(out, *review_at);
                out.push_str(").");
            }
            Fact::EmailStays => out.push_str("Seine E-Mail-Adresse bleibt."),
            Fact::LinkageReview => out.push_str(
                "Die Punktzahl liegt im Prüfbereich: Eine Person entscheidet, und nichts wird verbunden oder angelegt.",
            ),
            Fact::LinkageBelowReview { record_type } => {
                let _ = write!(
                    out,
                    "Unter der Prüfschwelle: nicht dieselbe Person, daher wird ein neuer {} angelegt.",
                    noun(*record_type)
                );
            }
        }
    }
}
