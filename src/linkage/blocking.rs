//! Blocking (B19): which records are compared with a subject at all.
//!
//! A [`Blocking`] is a list of passes ([`BlockingRule`]); each pass builds
//! one key from some fields of a record, each field through a
//! [`Transform`] (as entered, lowercased, its first characters, a phonetic
//! code, a part of a date, the local part or domain of an email). Two
//! records share a block when one pass gives both the same key; the
//! candidates of a subject are the union over the passes. A pass gives no
//! key when one of its fields is blank (or not a date, not an address):
//! blank values never make a block.
//!
//! Stores index records by their keys ([`crate::ContactStore::blocking`],
//! [`crate::ContactStore::records_by_block`]); the engine computes the
//! subject's keys with the policy's blocking, which must equal the
//! store's.
//!
//! ```
//! use contact_sync::linkage::{Blocking, BlockingRule, KeyPart, Transform};
//! use contact_sync::{Fields, Normalization};
//!
//! let blocking = Blocking::new(vec![
//!     BlockingRule::new(vec![KeyPart::new("date_of_birth", Transform::Exact)]),
//!     BlockingRule::new(vec![
//!         KeyPart::new("surname", Transform::Soundex),
//!         KeyPart::new("given_name", Transform::Prefix { chars: 1 }),
//!     ]),
//! ]);
//! let n = Normalization::default();
//! let a = Fields::from_pairs([("surname", "Meyer"), ("given_name", "Ann")]);
//! let b = Fields::from_pairs([("surname", "Maier"), ("given_name", "anna"), ("date_of_birth", "19800101")]);
//! // No date of birth on `a`: only the second pass gives it a key, which `b` shares.
//! assert_eq!(blocking.keys(&a, &n).len(), 1);
//! assert!(blocking.keys(&a, &n).iter().all(|k| blocking.keys(&b, &n).contains(k)));
//! ```

use std::fmt;

use rphonetic::{DoubleMetaphone, Encoder, Nysiis, Soundex};
use serde::{Deserialize, Serialize};

use super::{cut, days, head};
use crate::email::{EmailKey, Normalization};
use crate::fields::{FieldName, Fields, Redacted};

/// How a field's value becomes part of a blocking key. Every transform
/// works on the value trimmed and cut to
/// [`crate::fields::MAX_COMPARED_CHARS`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Transform {
    /// The value as entered (trimmed).
    Exact,
    /// The value lowercased.
    Lowercase,
    /// The first `chars` characters, lowercased.
    Prefix {
        /// How many characters (at least 1).
        chars: u8,
    },
    /// The Soundex code (American English): `Robert` and `Rupert` share
    /// `R163`.
    Soundex,
    /// The primary Double Metaphone code: `Meyer` and `Maier` share `MR`.
    DoubleMetaphone,
    /// The NYSIIS code.
    Nysiis,
    /// The year of a `YYYYMMDD` or `YYYY-MM-DD` date.
    Year,
    /// Year and month of a date (`YYYYMM`).
    YearMonth,
    /// Month and day of a date (`MMDD`): survives a mistyped year.
    MonthDay,
    /// The local part of an email's key (B1).
    EmailLocal,
    /// The domain of an email's key (B1).
    EmailDomain,
}

impl Transform {
    /// The transformed value, or `None` when there is none (a blank value,
    /// not a date, not an address, no letters for a phonetic code).
    pub fn apply(self, value: &str, normalization: &Normalization) -> Option<String> {
        let v = value.trim();
        if v.is_empty() {
            return None;
        }
        let out = match self {
            Transform::Exact => cut(v).to_owned(),
            Transform::Lowercase => head(v),
            Transform::Prefix { chars } => head(v).chars().take(usize::from(chars)).collect(),
            Transform::Soundex => phonetic(&Soundex::default(), v),
            Transform::DoubleMetaphone => phonetic(&DoubleMetaphone::default(), v),
            Transform::Nysiis => phonetic(&Nysiis::default(), v),
            Transform::Year | Transform::YearMonth | Transform::MonthDay => {
                let digits = date_digits(cut(v))?;
                let range = match self {
                    Transform::Year => 0..4,
                    Transform::YearMonth => 0..6,
                    _ => 4..8,
                };
                digits.get(range)?.to_owned()
            }
            Transform::EmailLocal | Transform::EmailDomain => {
                let key = EmailKey::parse(cut(v), normalization).ok().flatten()?;
                let (local, domain) = key.as_str().rsplit_once('@')?;
                if self == Transform::EmailLocal {
                    local.to_owned()
                } else {
                    domain.to_owned()
                }
            }
        };
        (!out.is_empty()).then_some(out)
    }
}

/// A phonetic code of the value's letters (ASCII letters only: the codes
/// are defined for English spellings; other letters are dropped).
fn phonetic(encoder: &dyn Encoder, v: &str) -> String {
    let letters: String = cut(v).chars().filter(char::is_ascii_alphabetic).collect();
    if letters.is_empty() {
        return String::new();
    }
    encoder.encode(&letters)
}

/// The eight digits of a valid date.
fn date_digits(v: &str) -> Option<String> {
    days(v)?;
    Some(v.chars().filter(|c| *c != '-').collect())
}

/// One field of a blocking key and its transform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct KeyPart {
    /// The field.
    pub field: FieldName,
    /// How its value enters the key.
    pub transform: Transform,
}

impl KeyPart {
    /// `field` through `transform`.
    pub fn new(field: &str, transform: Transform) -> Self {
        KeyPart {
            field: FieldName::new(field),
            transform,
        }
    }
}

/// One blocking pass: a key built from several fields, all of which must
/// give a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct BlockingRule {
    /// The parts of the key, in order.
    pub parts: Vec<KeyPart>,
}

impl BlockingRule {
    /// A pass over `parts`.
    pub fn new(parts: Vec<KeyPart>) -> Self {
        BlockingRule { parts }
    }
}

/// The passes of a blocking, whose candidates are unioned. Empty: no
/// blocking (the default; stores then index nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Blocking {
    /// The passes, in order (a key names its pass by position).
    pub rules: Vec<BlockingRule>,
}

/// The separator of a key's parts (a control character, which no part
/// holds: field values with control characters are refused, B20).
const SEP: char = '\u{1f}';

impl Blocking {
    /// A blocking with these passes.
    pub fn new(rules: Vec<BlockingRule>) -> Self {
        Blocking { rules }
    }

    /// No passes.
    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(|r| r.parts.is_empty())
    }

    /// The keys of a record's (or a subject's) fields: one per pass whose
    /// parts all give a value, sorted, each once.
    pub fn keys(&self, fields: &Fields, normalization: &Normalization) -> Vec<BlockKey> {
        let mut out = Vec::with_capacity(self.rules.len());
        'rules: for (pass, rule) in self.rules.iter().enumerate() {
            if rule.parts.is_empty() {
                continue;
            }
            let mut key = pass.to_string();
            for part in &rule.parts {
                let Some(v) = part
                    .transform
                    .apply(fields.text(part.field.as_str()), normalization)
                else {
                    continue 'rules;
                };
                key.push(SEP);
                // A separator inside a value would let two keys collide.
                key.extend(v.chars().map(|c| if c == SEP { ' ' } else { c }));
            }
            out.push(BlockKey(key));
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A blocking key: its pass and the transformed values. `Debug` shows its
/// size only (it is built from personal data).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct BlockKey(String);

impl BlockKey {
    /// The key as stored in an index.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pass that made the key (its position in [`Blocking::rules`]).
    pub fn pass(&self) -> Option<usize> {
        self.0.split(SEP).next()?.parse().ok()
    }

    /// A key read back from an index (as [`BlockKey::as_str`] gave it).
    pub fn from_stored(s: &str) -> Self {
        BlockKey(s.to_owned())
    }
}

impl fmt::Debug for BlockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlockKey").field(&Redacted(&self.0)).finish()
    }
}
