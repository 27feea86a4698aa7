//! Describing after deciding (B2): an outcome's [`Reason`]s, turned into
//! sentences by a [`Formatter`], with the records and subjects they name
//! written by a [`Names`] hook (an id, the host's own name, a link).
//!
//! [`English`] renders the sentences the crate has always written,
//! [`German`] the same in German; a host can render in its own words by
//! implementing [`Formatter`].
//!
//! ```
//! use contact_sync::describe::{self, English, Ids};
//! use contact_sync::{Fact, Reason, RecordId, RecordType, RuleId};
//! let reasons = [Reason::new(
//!     Some(RuleId::D11),
//!     Fact::Relinked { record: RecordId::from_u128(7), record_type: RecordType::Contact },
//! )];
//! assert_eq!(
//!     describe::sentences(&English, &Ids, &reasons),
//!     "The organizer changed the connected record to contact 00000000-0000-0000-0000-000000000007."
//! );
//! ```

use std::fmt::Write as _;

use crate::record::{RecordId, SubjectId};
use reason::{Reason, Warning};

mod english;
mod german;
pub(crate) mod reason;
#[cfg(test)]
mod tests;

pub use english::English;
pub use german::German;

/// How a sentence names a record or a subject.
pub trait Names {
    /// Writes the name of record `id` (by default its id).
    fn record(&self, id: RecordId, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{id}");
    }

    /// Writes the name of subject `id` (by default its id).
    fn subject(&self, id: SubjectId, out: &mut String) {
        let _ = write!(out, "{id}");
    }
}

/// Names records and subjects by their ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ids;

impl Names for Ids {}

/// Turns reasons into sentences.
pub trait Formatter {
    /// Appends the sentence for `reason` to `out`, naming records and
    /// subjects through `names`.
    fn reason(&self, reason: &Reason, names: &dyn Names, out: &mut String);

    /// What an outcome without reasons says.
    fn nothing_to_do(&self, out: &mut String);

    /// Appends the sentence for a plan's warning to `out`, naming records
    /// and subjects through `names`.
    fn warning(&self, warning: &Warning, names: &dyn Names, out: &mut String);
}

/// The sentence for a plan's `warning`, rendered by `f`, naming records
/// and subjects through `names`.
pub fn warning(f: &dyn Formatter, names: &dyn Names, warning: &Warning) -> String {
    let mut out = String::new();
    f.warning(warning, names, &mut out);
    out
}

/// The sentences for `reasons`, space-separated (the formatter's
/// [`Formatter::nothing_to_do`] when there are none).
pub fn sentences(f: &dyn Formatter, names: &dyn Names, reasons: &[Reason]) -> String {
    // About a hundred bytes a sentence: one allocation, mostly.
    let mut out = String::with_capacity(96 * reasons.len().max(1));
    for r in reasons {
        push(f, names, r, &mut out);
    }
    if out.is_empty() {
        f.nothing_to_do(&mut out);
    }
    out
}

/// Appends the sentence for `reason` to `out`, after a space when `out`
/// holds one already.
pub(crate) fn push(f: &dyn Formatter, names: &dyn Names, reason: &Reason, out: &mut String) {
    if !out.is_empty() {
        out.push(' ');
    }
    f.reason(reason, names, out);
}

/// Field names joined with ", " (both formatters list fields so).
pub(crate) fn list(out: &mut String, names: &[crate::fields::FieldName]) {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(n.as_str());
    }
}
