//! Field names, values and the ordered field maps of records and subjects.
//!
//! Input fields have three states, and the merge rules depend on them:
//! *absent* (the name is not in the map: the form did not ask), *blank* (the
//! value is empty or whitespace: the person left it empty) and a *value*.

use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most characters of a value a similarity comparison looks at (B10):
/// two values that agree on their first 256 characters are as similar as
/// those characters are. This bounds one comparison to microseconds, whatever
/// the field limit (two 64 KiB values compared in full took seconds).
pub const MAX_COMPARED_CHARS: usize = 256;

/// The name of a field (`first_name`, `job_title`, …).
///
/// Cheap to clone (shared text), so millions of records can share one
/// allocation per distinct name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldName(Arc<str>);

impl FieldName {
    /// The subject's and record's email address (class [`FieldClass::Email`]).
    pub const EMAIL: &'static str = "email";
    /// First name (class [`FieldClass::Name`]).
    pub const FIRST_NAME: &'static str = "first_name";
    /// Last name (class [`FieldClass::Name`]).
    pub const LAST_NAME: &'static str = "last_name";
    /// Ticket id, by which records created without an email are found again (A25, A28).
    pub const TICKET_ID: &'static str = "ticket_id";
    /// A record's earlier email addresses, kept as aliases (B15): addresses
    /// separated by commas, oldest first. Lookups by email match them as
    /// well as [`FieldName::EMAIL`]; only the engine writes them (a policy
    /// may not map the field), when [`crate::policy::Aliases::keep_old`] is on.
    pub const EMAIL_ALIASES: &'static str = "email_aliases";

    /// A field name. Names are compared exactly; map your system's names onto
    /// the constants above for the fields the rules know.
    pub fn new(name: &str) -> Self {
        FieldName(Arc::from(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a field name is refused (see [`crate::Limits::max_field_name_len`]).
///
/// Its message never repeats the name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldNameProblem {
    /// The name is empty or whitespace only.
    #[error("a field name is empty")]
    Empty,
    /// The name is longer than the limit.
    #[error("a field name is {len} bytes; the limit is {limit}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The name holds a control character (NUL, a line break, …) at this
    /// byte offset.
    #[error("a field name contains a control character at byte {position}")]
    ControlCharacter {
        /// Byte offset of the character.
        position: usize,
    },
}

impl FieldName {
    /// Checks the name rules: not blank, at most `max_len` bytes, no
    /// control character (C0, DEL, C1: NUL and line breaks among them).
    ///
    /// # Errors
    /// The first rule the name breaks, as a [`FieldNameProblem`].
    ///
    /// ```
    /// use contact_sync::{FieldName, FieldNameProblem};
    /// assert!(FieldName::new("job_title").check(128).is_ok());
    /// assert_eq!(FieldName::new("a\nb").check(128), Err(FieldNameProblem::ControlCharacter { position: 1 }));
    /// assert_eq!(FieldName::new(" ").check(128), Err(FieldNameProblem::Empty));
    /// ```
    pub fn check(&self, max_len: usize) -> Result<(), FieldNameProblem> {
        if self.0.len() > max_len {
            return Err(FieldNameProblem::TooLong {
                len: self.0.len(),
                limit: max_len,
            });
        }
        if let Some((position, _)) = self.0.char_indices().find(|(_, c)| c.is_control()) {
            return Err(FieldNameProblem::ControlCharacter { position });
        }
        if self.0.trim().is_empty() {
            return Err(FieldNameProblem::Empty);
        }
        Ok(())
    }
}

impl fmt::Debug for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for FieldName {
    fn from(s: &str) -> Self {
        FieldName::new(s)
    }
}

impl Serialize for FieldName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for FieldName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldName".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A field's name (`email`, `first_name`, `ticket_id`, any other); non-blank, no control characters."
        })
    }
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(FieldName::new(&s))
    }
}

/// A field value as text. A value that is empty after trimming is *blank*.
///
/// Shared text: the copies a plan makes (old and new values of a change, a
/// record's fields after an update) cost a reference count, not a copy.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct FieldValue(Arc<str>);

impl FieldValue {
    /// A value.
    pub fn new(value: &str) -> Self {
        if value.is_empty() {
            return FieldValue::blank();
        }
        FieldValue(value.into())
    }

    /// The blank value (what a field left empty holds). Empty values share
    /// one allocation (an empty `Arc<str>` still needs its counts).
    pub fn blank() -> Self {
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        FieldValue(EMPTY.get_or_init(|| Arc::from("")).clone())
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the value is empty or whitespace only.
    pub fn is_blank(&self) -> bool {
        match self.0.as_bytes().first() {
            None => true,
            // A value starting with a visible ASCII character is not blank
            // (the common case, decided without a Unicode trim).
            Some(&b) if b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r') => false,
            Some(_) => self.0.trim().is_empty(),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string (see [`FieldValue::is_blank`] for whitespace).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for FieldValue {
    // Values are personal data: Debug shows only their size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Redacted(&self.0), f)
    }
}

/// Personal text in a `Debug` output: only its size shows.
pub(crate) struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::new(s)
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue(Arc::from(s))
    }
}

/// How a field takes part in merging (see [`crate::policy::ClassRules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    /// First and last name (A8: never changed on a match in the Salesforce preset).
    Name,
    /// The email address (D9, A14).
    Email,
    /// Order-form and contact fields: job title, organization, custom fields (A9, A13).
    FormField,
    /// Auto-generated fields: order id, ticket type, ticket id, tracking link,
    /// barcode id, discount and access codes (A10, A19).
    Generated,
}

/// An ordered map of fields (sorted by name, one value per name).
///
/// Stored as a shared sorted vector: records have a handful of fields, a
/// vector costs one allocation where a tree map costs several, and sharing
/// makes the copies that flow from a store through a plan cost nothing
/// (copy on write).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Fields(Arc<Vec<(FieldName, FieldValue)>>);

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Fields::default()
    }

    /// Fields from pairs already sorted by name without duplicates (checked;
    /// unsorted input is sorted, and later duplicates win).
    pub(crate) fn from_sorted(pairs: Vec<(FieldName, FieldValue)>) -> Self {
        if pairs.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)) {
            return Fields(Arc::new(pairs));
        }
        Fields::from_pairs(pairs)
    }

    /// No fields, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Fields(Arc::new(Vec::with_capacity(n)))
    }

    /// True when both hold the same non-blank values (a blank value and a
    /// missing field read alike, as in a store).
    pub fn same_values(&self, other: &Fields) -> bool {
        let a = self.0.iter().filter(|(_, v)| !v.is_blank());
        let b = other.0.iter().filter(|(_, v)| !v.is_blank());
        a.eq(b)
    }

    /// Builds fields from pairs; a later pair replaces an earlier one of the same name.
    pub fn from_pairs<N: Into<FieldName>, V: Into<FieldValue>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut v: Vec<(FieldName, FieldValue)> = pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        // One sort instead of an insertion per pair (hosts build a map for
        // every subject of every event).
        if !v.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)) {
            // Stable: pairs of one name stay in their order...
            v.sort_by(|a, b| a.0.cmp(&b.0));
            // ...and the kept first one takes the later one's value.
            v.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    std::mem::swap(&mut later.1, &mut kept.1);
                }
                same
            });
        }
        Fields(Arc::new(v))
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    /// The value of `name`, if present (it may be blank).
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.position(name)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v)
    }

    /// The value of `name` as text, `""` when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", FieldValue::as_str)
    }

    /// True when `name` is absent or blank.
    pub fn is_empty_at(&self, name: &str) -> bool {
        self.get(name).is_none_or(FieldValue::is_blank)
    }

    /// Sets `name` to `value`, returning the previous value.
    pub fn set(&mut self, name: FieldName, value: FieldValue) -> Option<FieldValue> {
        match self.position(name.as_str()) {
            Ok(i) => Arc::make_mut(&mut self.0)
                .get_mut(i)
                .map(|slot| std::mem::replace(&mut slot.1, value)),
            Err(i) => {
                Arc::make_mut(&mut self.0).insert(i, (name, value));
                None
            }
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<FieldValue> {
        let i = self.position(name).ok()?;
        Some(Arc::make_mut(&mut self.0).remove(i).1)
    }

    /// Fields in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&FieldName, &FieldValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// Names in order.
    pub fn names(&self) -> impl Iterator<Item = &FieldName> {
        self.0.iter().map(|(n, _)| n)
    }

    /// Number of fields (blank ones included).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no fields at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Total bytes of value text (for size limits and memory accounting).
    pub fn text_len(&self) -> usize {
        self.0.iter().map(|(n, v)| n.as_str().len() + v.len()).sum()
    }
}

impl fmt::Debug for Fields {
    // Names only: values are personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

impl<N: Into<FieldName>, V: Into<FieldValue>> FromIterator<(N, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Fields::from_pairs(iter)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(n, v)| (n, v)))
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Fields {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Fields".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Field names to text values; a blank value is empty after trimming.",
            "additionalProperties": { "type": "string" }
        })
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to text values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Fields::new();
                while let Some((n, v)) = map.next_entry::<FieldName, FieldValue>()? {
                    if fields.set(n.clone(), v).is_some() {
                        return Err(serde::de::Error::custom(format_args!(
                            "field `{n}` appears twice"
                        )));
                    }
                }
                Ok(fields)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod blank_tests {
    use super::{FieldName, FieldValue, Fields};
    use proptest::prelude::*;

    proptest! {
        /// Building from pairs is setting them one after the other: sorted
        /// by name, the later of two pairs of one name wins.
        #[test]
        fn from_pairs_is_set_in_order(
            pairs in prop::collection::vec(
                (prop::sample::select(vec!["email", "a", "b", "first_name", "zz", ""]), "[a-c]{0,2}"),
                0..12,
            )
        ) {
            let mut want = Fields::new();
            for (n, v) in &pairs {
                want.set(FieldName::new(n), FieldValue::new(v));
            }
            let got = Fields::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str())));
            prop_assert_eq!(got.iter().collect::<Vec<_>>(), want.iter().collect::<Vec<_>>());
            prop_assert!(got.names().zip(got.names().skip(1)).all(|(a, b)| a < b));
        }
    }

    #[test]
    fn blank_means_empty_after_a_unicode_trim() {
        for c in (0u32..0x3100).filter_map(char::from_u32) {
            for s in [format!("{c}"), format!("{c}x"), format!("{c}{c}")] {
                assert_eq!(
                    FieldValue::new(&s).is_blank(),
                    s.trim().is_empty(),
                    "U+{:04X}",
                    c as u32
                );
            }
        }
        assert!(FieldValue::new("").is_blank());
    }
}
