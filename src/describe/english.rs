//! The English sentences.

use std::fmt::Write as _;

use super::reason::{ChangeKind, Fact, InputProblem, Reason, Warning};
use super::{list, Formatter, Names};
use crate::fields::FieldName;
use crate::policy::NameGuard;

/// The English formatter: the sentences of every explanation, plan report
/// and scenario output.
#[derive(Debug, Clone, Copy, Default)]
pub struct English;

/// Thousandths of a bit, in bits.
fn bits(millibits: i32) -> f64 {
    f64::from(millibits) / 1000.0
}

impl Formatter for English {
    fn nothing_to_do(&self, out: &mut String) {
        out.push_str("Nothing to do.");
    }

    fn warning(&self, warning: &Warning, names: &dyn Names, out: &mut String) {
        out.push_str("subject ");
        match warning {
            Warning::SharedEmail {
                subject,
                record,
                action,
            } => {
                names.subject(*subject, out);
                out.push_str(" shares an email with record ");
                names.record(*record, out);
                let what = match action {
                    NameGuard::Off | NameGuard::Warn => "overwritten anyway",
                    NameGuard::KeepName => "the record's name was kept",
                    NameGuard::CreateNew => "a new record was created instead",
                };
                let _ = write!(out, " but has a clearly different name; {what} (B4, D19)");
            }
            Warning::Ambiguous { subject, records } => {
                names.subject(*subject, out);
                let _ = write!(
                    out,
                    ": {} records match; see the policy's ambiguity rule",
                    records.len()
                );
            }
            Warning::AbsorbingDuplicates { subject, count } => {
                names.subject(*subject, out);
                let _ = write!(
                    out,
                    ": its email already holds {count} records (duplicates; B13, B9)"
                );
            }
            Warning::RecordEmailKept { subject, record } => {
                names.subject(*subject, out);
                out.push_str(": linked record ");
                names.record(*record, out);
                out.push_str(" has another email, which is kept (D9, B8)");
            }
            Warning::RecordEmailOverwritten { subject, record } => {
                names.subject(*subject, out);
                out.push_str(": the email of linked record ");
                names.record(*record, out);
                out.push_str(" is overwritten with the subject's new email (D9)");
            }
            Warning::InvalidInput { subject, problem } => {
                // As the engine's error says it: "subject …: what".
                names.subject(*subject, out);
                out.push_str(": invalid input, left out of its event (subject ");
                names.subject(*subject, out);
                out.push_str(": ");
                input_problem(problem, out);
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
                    "The organizer changed the connected record to {} ",
                    record_type.noun()
                );
                names.record(*record, out);
                out.push('.');
            }
            Fact::AlreadyLinked => {
                out.push_str("The subject is already linked to the chosen record.")
            }
            Fact::NoTwoWay => out.push_str(
                "Without a two-way integration, record changes do not flow back into registrations.",
            ),
            Fact::RegistrationCurrent => {
                out.push_str("The registration already holds the record's data.")
            }
            Fact::TwoWayCopied { fields } => {
                out.push_str("Two-way integration: the registration takes the record's ");
                list(out, fields);
                out.push('.');
            }
            Fact::RoleHasNoRecord { role } => {
                let _ = write!(
                    out,
                    "The {} has no record; buyer data reaches records only through the holders' update trigger.",
                    role.noun()
                );
            }
            Fact::BuyerDataWaitsForTrigger => out.push_str(
                "Only buyer data is collected: it carries over only when the update is triggered on the holder.",
            ),
            Fact::BuyerDataTriggered => out.push_str(
                "Only buyer data is collected, and the update was triggered on the holder: the buyer's data carries over.",
            ),
            Fact::FoundByTicket {
                record,
                record_type,
            } => {
                let _ = write!(out, "Found {} ", record_type.noun());
                names.record(*record, out);
                out.push_str(" through the ticket id.");
            }
            Fact::EmailAdded => out.push_str("An email was added to a subject without record."),
            Fact::NoEmailNoRecordYet => out.push_str(
                "The subject has no email and no record; a record is created only once an email is added.",
            ),
            Fact::Redelivery => out.push_str(
                "This event was applied before with the same payload (a redelivery): nothing to do.",
            ),
            Fact::BuyerDataCarried => out.push_str(
                "Only buyer data is collected, so the holder carries the buyer's data.",
            ),
            Fact::BuyerGetsNoRecord => {
                out.push_str("The ticket buyer gets no record: only ticket holders do.")
            }
            Fact::Prefilled {
                record,
                record_type,
            } => {
                let _ = write!(out, "The booking was prefilled from {} ", record_type.noun());
                names.record(*record, out);
                out.push_str(", which is assumed first.");
            }
            Fact::EnteredEmailIsRecords => out.push_str("The entered email is that record's."),
            Fact::EmailCompletesRecord { record_type } => {
                let _ = write!(
                    out,
                    "That {} has no email: the entered one completes it, and the link stays.",
                    record_type.noun()
                );
            }
            Fact::EveryHolderNew { record_type } => {
                let _ = write!(
                    out,
                    "Every ticket holder gets a new {}, match or not.",
                    record_type.noun()
                );
            }
            Fact::BuyerNewToo { record_type } => {
                let _ = write!(
                    out,
                    "The ticket buyer gets a new {} too, even if one has the same email.",
                    record_type.noun()
                );
            }
            Fact::CrossMatching { criteria, prefer } => {
                out.push_str("Cross matching searches contacts and leads");
                if !criteria.is_empty() {
                    out.push_str(" on email and ");
                }
                list(out, criteria);
                let _ = write!(out, ", preferring {}s.", prefer.noun());
            }
            Fact::FailedCriteria { count } => {
                let _ = write!(
                    out,
                    "{count} record(s) with this email failed the extra criteria."
                );
            }
            Fact::WeightedCriteria {
                criteria,
                threshold,
                fell_short,
            } => {
                out.push_str("Weighted criteria on ");
                list(out, criteria);
                let _ = write!(
                    out,
                    " need a score of {threshold}; {fell_short} record(s) with this email fell short."
                );
            }
            Fact::OnlyOtherTypeHasEmail { record_type } => {
                let noun = record_type.noun();
                let _ = write!(
                    out,
                    "No {noun} has this email (only a record of the other type has, and matching is linear), so a new {noun} is created."
                );
            }
            Fact::NoneHasEmail { record_type } => {
                let _ = write!(
                    out,
                    "No {} has this email, so a new one is created.",
                    record_type.noun()
                );
            }
            Fact::ExactlyOne {
                record,
                record_type,
                criteria,
            } => {
                let noun = record_type.noun();
                let has = if *criteria { "matches" } else { "has this email" };
                let _ = write!(out, "Exactly one {noun} {has}: linked to {noun} ");
                names.record(*record, out);
                out.push('.');
            }
            Fact::CreatedInBatch => out.push_str("It was created earlier in this booking or batch."),
            Fact::SeveralCreateNew { count, record_type } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the system never guesses between several, so a new one is created.",
                    record_type.noun()
                );
            }
            Fact::SeveralUnresolved {
                count,
                record_type,
                ambiguity,
            } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the ambiguity policy `{ambiguity}` could not single out one, so a new one is created (it never guesses).",
                    record_type.noun()
                );
            }
            Fact::SeveralSmallestId {
                count,
                record_type,
                record,
            } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the policy takes the one with the smallest id, ",
                    record_type.noun()
                );
                names.record(*record, out);
                out.push('.');
            }
            Fact::SeveralMostRecent {
                count,
                record_type,
                record,
            } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the ambiguity policy `most_recently_modified` takes the most recently modified, ",
                    record_type.noun()
                );
                names.record(*record, out);
                out.push('.');
            }
            Fact::SeveralWaterfall {
                count,
                record_type,
                record,
                rule,
            } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the ambiguity policy `waterfall` takes ",
                    record_type.noun()
                );
                names.record(*record, out);
                let _ = write!(out, ", the only one rule {rule} matches.");
            }
            Fact::SeveralBestScore {
                count,
                record_type,
                record,
                score,
            } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the ambiguity policy `best_score` takes ",
                    record_type.noun()
                );
                names.record(*record, out);
                let _ = write!(out, ", the only one scoring {score}.");
            }
            Fact::SeveralReview { count, record_type } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the ambiguity policy `review` leaves the choice to a person: nothing is linked or created.",
                    record_type.noun()
                );
            }
            Fact::SeveralSkip { count, record_type } => {
                let _ = write!(
                    out,
                    "{count} {}s have this email; the policy links none and creates none.",
                    record_type.noun()
                );
            }
            Fact::NoEmail => out.push_str(
                "No email was given, so the subject is linked to nothing and nothing is created.",
            ),
            Fact::NoEmailNoFirstName => {
                out.push_str("Neither email nor first name was given, so no record is created.")
            }
            Fact::TicketCarrier {
                record,
                record_type,
            } => {
                let _ = write!(out, "No email was given; {} ", record_type.noun());
                names.record(*record, out);
                out.push_str(" already carries this ticket id and is linked.");
            }
            Fact::BuyerLastName => {
                out.push_str("The last name was blank, so the buyer's last name is used.")
            }
            Fact::InvalidInput { subject, problem } => {
                out.push_str("The subject's input is invalid (subject ");
                names.subject(*subject, out);
                out.push_str(": ");
                input_problem(problem, out);
                out.push_str("), so it is left out of this event; the rest goes on.");
            }
            Fact::FoundThroughAlias {
                alias,
                of,
                record_type,
            } => {
                let _ = write!(
                    out,
                    "It was found through alias {alias} of {of} in {} (an earlier address of the {}); its email stays.",
                    FieldName::EMAIL_ALIASES,
                    record_type.noun()
                );
            }
            Fact::AliasKept { alias, record_type } => {
                let _ = write!(
                    out,
                    "The old address is kept as alias {alias} in {} (a registration with it finds the {} again).",
                    FieldName::EMAIL_ALIASES,
                    record_type.noun()
                );
            }
            Fact::AliasesDropped { max, dropped } => {
                let _ = write!(
                    out,
                    "At most {max} aliases are kept: the oldest {dropped} dropped."
                );
            }
            Fact::Created {
                record,
                record_type,
                fields,
            } => {
                let _ = write!(out, "Created {} ", record_type.noun());
                names.record(*record, out);
                let _ = write!(out, " with {fields} field(s) and linked to it.");
            }
            Fact::AddedToCampaign { campaign } => {
                let _ = write!(out, "Added to campaign {campaign}.");
            }
            Fact::TicketOnMember => {
                out.push_str("The ticket id is mapped on the campaign member too.")
            }
            Fact::GeneratedBlanked { fields } => {
                out.push_str("Auto-generated field(s) unused in this registration are blanked: ");
                list(out, fields);
                out.push('.');
            }
            Fact::NameClashOverwritten => out.push_str(
                "Warning: the record holds a clearly different person's name, which is overwritten (several people may share this email).",
            ),
            Fact::NameClashKept => out.push_str(
                "Warning: the record holds a clearly different person's name; the record's name is kept.",
            ),
            Fact::NameClashNewRecord => out.push_str(
                "Warning: the record holds a clearly different person's name, so a new record is created instead.",
            ),
            Fact::WrittenUnchanged => out.push_str(
                "The update was triggered for the holder, so the record is written even though nothing changed.",
            ),
            Fact::GeneratedFrozen => out.push_str(
                "The holder has several tickets, so auto-generated fields are not updated.",
            ),
            Fact::LinkedTo {
                record,
                record_type,
            } => {
                let _ = write!(out, "Linked to {} ", record_type.noun());
                names.record(*record, out);
                out.push('.');
            }
            Fact::EventSetsEmailChange => {
                out.push_str("This event sets its own behaviour on email change.")
            }
            Fact::Reassigned => out.push_str(
                "The email differs from the linked record's, and the event reassigns on email change: matched again on the new email.",
            ),
            Fact::ReassignKeepsNoAlias {
                record,
                record_type,
            } => {
                let _ = write!(out, "Reassign leaves {} ", record_type.noun());
                names.record(*record, out);
                out.push_str(
                    " and its email as they are, so no alias is kept: the old address still finds it.",
                );
            }
            Fact::RetainKeepsRecordEmail { record_type } => {
                let _ = write!(
                    out,
                    "The email changed and the event retains the link, but the policy keeps the {}'s own email.",
                    record_type.noun()
                );
            }
            Fact::RetainOverwritesEmail { record_type } => {
                let _ = write!(
                    out,
                    "The email changed and the event retains the link: the {}'s email is overwritten with the new one.",
                    record_type.noun()
                );
            }
            Fact::RetainLeavesEmail { record_type } => {
                let _ = write!(
                    out,
                    "The email changed and the event retains the link; the {}'s email is not overwritten.",
                    record_type.noun()
                );
            }
            Fact::EmailChangedNewRecord { record_type } => {
                let _ = write!(
                    out,
                    "The email changed, so a new {} is created instead of updating the linked one.",
                    record_type.noun()
                );
            }
            Fact::EmailRemoved => out.push_str("The email was removed, so the subject is unlinked."),
            Fact::OrganizerChoseSync { sync } => {
                let _ = write!(
                    out,
                    "The organizer chose {} this edit; missing data is added in any case.",
                    if *sync { "to sync" } else { "not to sync" }
                );
            }
            Fact::SelfService => out.push_str("Changed in self-service."),
            Fact::ManualSyncsLikeBookings => {
                out.push_str("Manual registrations and imports sync like bookings.")
            }
            Fact::SyncOff => out.push_str("Sync is off: existing values are never changed."),
            Fact::NameNeverUpdated => out.push_str(
                "The name of an existing record is never updated from a new registration.",
            ),
            Fact::FieldsChanged { change, by, fields } => {
                out.push_str(match change {
                    ChangeKind::Cleared => "Cleared field(s) left blank",
                    ChangeKind::Filled => "Filled empty field(s)",
                    ChangeKind::Replaced => "Replaced",
                    ChangeKind::Updated => "Updated",
                });
                out.push_str(": ");
                list(out, fields);
                let _ = write!(out, " ({by}).");
            }
            Fact::KeptRecordValues { fields } => {
                out.push_str("Kept the record's value of ");
                list(out, fields);
                out.push('.');
            }
            Fact::StaysOnBooking { fields } => {
                out.push_str("Differing entered data stays on the booking only: ");
                list(out, fields);
                out.push('.');
            }
            Fact::KeptBySubmitter { submitter, fields } => {
                let level = submitter.map_or("", |s| s.name());
                let _ = write!(
                    out,
                    "Kept because of who submitted the data ({level}), which may not overwrite: "
                );
                list(out, fields);
                out.push('.');
            }
            Fact::NoFieldChanged => out.push_str("No field needed a change."),
            Fact::LinkageCut { candidates, max } => {
                let _ = write!(
                    out,
                    "Record linkage: {candidates} candidates share a blocking key; the first {max} by id are scored."
                );
            }
            Fact::LinkageFoundNone { record_type } => {
                let _ = write!(
                    out,
                    "No {} has this email, and record linkage found none sharing a blocking key, so a new one is created.",
                    record_type.noun()
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
                let noun = record_type.noun();
                let _ = write!(
                    out,
                    "No {noun} has this email; record linkage scored {scored} candidate(s) sharing a blocking key, the best {noun} "
                );
                names.record(*record, out);
                let _ = write!(
                    out,
                    " at {:.3} bits (link at {:.3}, review at {:.3}).",
                    bits(*score),
                    bits(*link_at),
                    bits(*review_at)
                );
            }
            Fact::EmailStays => out.push_str("Its email stays."),
            Fact::LinkageReview => out.push_str(
                "The score is in the review band: a person decides, and nothing is linked or created.",
            ),
            Fact::LinkageBelowReview { record_type } => {
                let _ = write!(
                    out,
                    "Below the review threshold: not the same party, so a new {} is created.",
                    record_type.noun()
                );
            }
            Fact::NoEmailCreates { record_type } => {
                let _ = write!(
                    out,
                    "No email was given, but records without email are enabled: a new {} is created, found again later through its ticket id.",
                    record_type.noun()
                );
            }
        }
    }
}

/// What is wrong with a subject's input, as [`crate::Error`] says it after
/// the subject.
fn input_problem(problem: &InputProblem, out: &mut String) {
    let _ = match problem {
        InputProblem::InvalidEmail => write!(out, "invalid email"),
        InputProblem::FieldTooLong { field, len, limit } => {
            write!(out, "field `{field}` is {len} bytes; the limit is {limit}")
        }
        InputProblem::ControlCharacter { field } => {
            write!(out, "field `{field}` contains a control character")
        }
        InputProblem::InvalidFieldName { problem } => write!(out, "{problem}"),
        InputProblem::TooManyFields { count, limit } => {
            write!(out, "{count} fields; the limit is {limit}")
        }
        InputProblem::Other => write!(out, "invalid input"),
    };
}
