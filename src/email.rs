//! Email addresses and their match keys (B1).
//!
//! An [`Email`] is a validated address that keeps the spelling the person
//! typed (trimmed) for display. Matching never uses that spelling: it uses an
//! [`EmailKey`], computed under a [`Normalization`]:
//!
//! * surrounding Unicode whitespace is trimmed;
//! * the local part is put in Unicode NFC and lowercased (never NFKC, never
//!   full case folding: `straße` and `strasse` stay different keys, and so do
//!   `mıke` and `mike`);
//! * the domain goes through UTS-46 to ASCII with strict validation
//!   (IDN domains become punycode, `BÜCHER.example` becomes
//!   `xn--bcher-kva.example`);
//! * optionally, plus tags (`ann+news@…`) and dots in Gmail local parts are
//!   folded away; both are off by default because they merge addresses that
//!   their owners may consider different.
//!
//! An empty or whitespace-only input means "no email" (D5) and parses to
//! `Ok(None)`; anything else that is not a plain `local@domain` address is an
//! [`EmailError`] naming the kind of problem. Errors never repeat the address.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Longest address accepted, in octets (RFC 5321 path limit minus the brackets).
pub const MAX_ADDRESS_LEN: usize = 254;
/// Longest local part accepted, in octets (RFC 5321).
pub const MAX_LOCAL_LEN: usize = 64;
/// Longest domain label accepted, in octets after conversion to ASCII (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// Inputs longer than this (after trimming) are rejected before any Unicode
/// processing, so that hostile input costs time linear in its length only.
/// A Unicode domain can be longer in UTF-8 than its ASCII form is in octets,
/// so the cut-off is well above [`MAX_ADDRESS_LEN`].
const MAX_RAW_LEN: usize = 1024;

/// Why an email address was rejected.
///
/// One variant per kind of problem, so hosts can show a precise message. The
/// messages never contain the address itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The address has no `@`.
    #[error("email address has no '@'")]
    MissingAt,
    /// The address has more than one unquoted `@`.
    #[error("email address has more than one '@'")]
    MultipleAt,
    /// Nothing before the `@`.
    #[error("email address has an empty local part")]
    EmptyLocalPart,
    /// Nothing after the `@`.
    #[error("email address has an empty domain")]
    EmptyDomain,
    /// A display-name form such as `Ann <ann@example.org>`.
    #[error("email address is in display-name form ('Name <address>'); give the bare address")]
    DisplayName,
    /// Several addresses separated by `,` or `;`.
    #[error("email field holds a list of addresses; give exactly one")]
    List,
    /// A quoted local part such as `"ann smith"@example.org`.
    #[error("quoted local parts are not supported")]
    QuotedLocalPart,
    /// An address literal such as `ann@[192.0.2.1]`.
    #[error("address literals ('[...]' domains) are not supported")]
    AddressLiteral,
    /// A control character (C0, C1, DEL) anywhere in the address.
    #[error("email address contains a control character at byte {position}")]
    ControlCharacter {
        /// Byte offset in the trimmed input.
        position: usize,
    },
    /// An invisible or formatting character (zero-width space, bidi control,
    /// soft hyphen, byte order mark, …).
    #[error("email address contains an invisible character (U+{code:04X}) at byte {position}")]
    InvisibleCharacter {
        /// The code point.
        code: u32,
        /// Byte offset in the trimmed input.
        position: usize,
    },
    /// Whitespace inside the address.
    #[error("email address contains whitespace at byte {position}")]
    Whitespace {
        /// Byte offset in the trimmed input.
        position: usize,
    },
    /// A character not allowed in an unquoted local part.
    #[error("local part contains a character that is not allowed (U+{code:04X})")]
    InvalidLocalCharacter {
        /// The code point.
        code: u32,
    },
    /// A dot at the start or end of the local part, or two dots in a row.
    #[error("local part has a leading, trailing or doubled dot")]
    InvalidLocalDots,
    /// The address is longer than [`MAX_ADDRESS_LEN`] octets.
    #[error("email address is {len} octets long; at most {MAX_ADDRESS_LEN} are allowed")]
    AddressTooLong {
        /// Length in octets (of the input, if it was cut off early).
        len: usize,
    },
    /// The local part is longer than [`MAX_LOCAL_LEN`] octets.
    #[error("local part is {len} octets long; at most {MAX_LOCAL_LEN} are allowed")]
    LocalPartTooLong {
        /// Length in octets.
        len: usize,
    },
    /// A domain label is longer than [`MAX_LABEL_LEN`] octets.
    #[error("a domain label is {len} octets long; at most {MAX_LABEL_LEN} are allowed")]
    LabelTooLong {
        /// Length in octets, after conversion to ASCII.
        len: usize,
    },
    /// The domain has an empty label (`a..b`, a leading dot).
    #[error("domain has an empty label")]
    EmptyLabel,
    /// The domain ends with a dot.
    #[error("domain ends with a dot")]
    TrailingDot,
    /// A domain label starts or ends with a hyphen.
    #[error("a domain label starts or ends with a hyphen")]
    HyphenAtLabelEdge,
    /// The domain contains a character not allowed in host names (such as `_`
    /// or a space), or is rejected by UTS-46 (bad punycode, disallowed code
    /// points, bidi rules).
    #[error("domain is not a valid (internationalized) host name")]
    InvalidDomain,
}

/// Optional foldings applied on top of the B1 key.
///
/// Both are off by default: they merge addresses that may belong to different
/// people (`ann+work@…` is routinely a different inbox rule, and dots only
/// don't matter for Gmail).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Normalization {
    /// Drop everything from the first `+` of the local part (`ann+x@…` → `ann@…`).
    pub fold_plus_tags: bool,
    /// Drop dots from local parts at `gmail.com` and `googlemail.com`, and
    /// treat `googlemail.com` as `gmail.com`.
    pub fold_gmail_dots: bool,
}

impl Normalization {
    /// True when no optional folding is on (the default).
    pub fn is_plain(&self) -> bool {
        !self.fold_plus_tags && !self.fold_gmail_dots
    }
}

/// A validated email address.
///
/// Keeps the spelling it was given (trimmed) for display, and the B1 base key
/// (NFC + lowercase local part, ASCII domain) for matching.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    /// The spelling as given, when it differs from `base_key` (most
    /// addresses are typed as their key: one allocation instead of two).
    original: Option<Box<str>>,
    base_key: Box<str>,
    /// Byte offset of the `@` in `base_key`.
    at: u32,
}

impl fmt::Debug for Email {
    // Addresses are personal data: Debug says only that one is there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(..)")
    }
}

impl Email {
    /// Parses an address (B1).
    ///
    /// Returns `Ok(None)` for an empty or whitespace-only input ("no email",
    /// D5), `Ok(Some(_))` for a valid address and an [`EmailError`] otherwise.
    ///
    /// ```
    /// use contact_sync::{Email, Normalization};
    /// let e = Email::parse("  Ann.Smith@BÜCHER.example ").unwrap().unwrap();
    /// assert_eq!(e.as_str(), "Ann.Smith@BÜCHER.example");
    /// assert_eq!(e.key(&Normalization::default()).as_str(), "ann.smith@xn--bcher-kva.example");
    /// assert_eq!(Email::parse("   ").unwrap(), None);
    /// assert!(Email::parse("Ann <ann@example.org>").is_err());
    /// ```
    ///
    /// # Errors
    /// An [`EmailError`] naming what is wrong: a missing or misplaced `@`, a
    /// length beyond RFC 5321, a character an address cannot hold, a domain
    /// that is not a valid IDN.
    pub fn parse(input: &str) -> Result<Option<Email>, EmailError> {
        Self::parse_with(input, true)
    }

    /// `fast`: try the one-pass ASCII path first (the general path gives
    /// the same answers; a unit proptest checks it).
    fn parse_with(input: &str, fast: bool) -> Result<Option<Email>, EmailError> {
        Ok(parse_base(input, fast)?.map(|p| Email {
            original: (p.trimmed != &*p.base_key).then(|| p.trimmed.into()),
            base_key: p.base_key,
            at: p.at,
        }))
    }

    /// The address as given, trimmed.    /// The address as given, trimmed.
    pub fn as_str(&self) -> &str {
        self.original.as_deref().unwrap_or(&self.base_key)
    }

    /// The match key of this address under `normalization`.
    pub fn key(&self, normalization: &Normalization) -> EmailKey {
        EmailKey(self.key_str(normalization).into_owned().into_boxed_str())
    }

    /// Like [`Email::key`], consuming the address (no copy without folding).
    pub fn into_key(self, normalization: &Normalization) -> EmailKey {
        if normalization.is_plain() {
            return EmailKey(self.base_key);
        }
        self.key(normalization)
    }

    /// Like [`Email::key`], borrowing when no optional folding applies.
    ///
    /// A folded key is itself a key: it is the B1 base key of the folded
    /// address, and a fold whose result would not be an address is not made
    /// (`a.+news@…` keeps its tag, since `a.@…` is no address).
    fn key_str(&self, n: &Normalization) -> Cow<'_, str> {
        if n.is_plain() {
            return Cow::Borrowed(&self.base_key);
        }
        let at = self.at as usize;
        let (local, domain) = (
            self.base_key.get(..at).unwrap_or_default(),
            self.base_key.get(at + 1..).unwrap_or_default(),
        );
        let mut local: Cow<'_, str> = Cow::Borrowed(local);
        let mut domain = domain;
        // Gmail's dots go first, so that `a.+x@gmail.com` folds to `a`.
        if n.fold_gmail_dots && (domain == "gmail.com" || domain == "googlemail.com") {
            domain = "gmail.com";
            let folded: String = local.chars().filter(|&c| c != '.').collect();
            if !folded.is_empty() {
                local = Cow::Owned(folded);
            }
        }
        if n.fold_plus_tags {
            if let Some(plus) = local.find('+') {
                // An address that is all tag keeps its key (`+x@…`), and so
                // does one whose head ends in a dot.
                if let Some(head) = local
                    .get(..plus)
                    .filter(|h| !h.is_empty() && !h.ends_with('.'))
                {
                    local = Cow::Owned(head.to_owned());
                }
            }
        }
        if matches!(local, Cow::Borrowed(_)) && domain.len() + at + 1 == self.base_key.len() {
            // Nothing was folded.
            return Cow::Borrowed(&self.base_key);
        }
        let folded = format!("{local}@{domain}");
        // Taking characters out can join a base character and a combining
        // mark that a dot kept apart: the key is the folded address's own
        // base key. A fold that is no address falls back to the base key.
        match parse_base(&folded, true) {
            Ok(Some(p)) => Cow::Owned(p.base_key.into_string()),
            _ => Cow::Borrowed(&self.base_key),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The normalized match key of an email address (B1).
///
/// Two subjects match the same records exactly when their keys are equal.
/// Build one with [`Email::key`] or [`EmailKey::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct EmailKey(Box<str>);

impl EmailKey {
    /// Parses an address and returns its key, `Ok(None)` for "no email".
    ///
    /// # Errors
    /// As [`Email::parse`].
    pub fn parse(
        input: &str,
        normalization: &Normalization,
    ) -> Result<Option<EmailKey>, EmailError> {
        let Some(p) = parse_base(input, true)? else {
            return Ok(None);
        };
        if normalization.is_plain() {
            return Ok(Some(EmailKey(p.base_key)));
        }
        let e = Email {
            original: None,
            base_key: p.base_key,
            at: p.at,
        };
        Ok(Some(e.key(normalization)))
    }

    /// The key as text (`local@ascii-domain`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailKey(..)")
    }
}

impl fmt::Display for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailKey {
    type Error = EmailError;
    /// Accepts a key only if it is already a key: parsing it gives itself.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match Email::parse(&s)? {
            Some(e) if *e.base_key == *s => Ok(EmailKey(s.into_boxed_str())),
            Some(_) => Err(EmailError::InvalidDomain),
            None => Err(EmailError::MissingAt),
        }
    }
}

impl From<EmailKey> for String {
    fn from(k: EmailKey) -> String {
        k.0.into_string()
    }
}

/// Rejects display-name forms and lists first (their spaces are not the
/// problem), then the first control, invisible or whitespace character.
fn scan_characters(s: &str) -> Result<(), EmailError> {
    if s.is_ascii() {
        // One pass over the bytes: the common case.
        let (mut display, mut list) = (false, false);
        let mut first_bad: Option<EmailError> = None;
        for (position, b) in s.bytes().enumerate() {
            match b {
                b'<' | b'>' => display = true,
                b',' | b';' => list = true,
                0..=0x1f | 0x7f if first_bad.is_none() => {
                    first_bad = Some(EmailError::ControlCharacter { position })
                }
                b' ' if first_bad.is_none() => {
                    first_bad = Some(EmailError::Whitespace { position })
                }
                _ => {}
            }
        }
        return match (display, list, first_bad) {
            (true, _, _) => Err(EmailError::DisplayName),
            (_, true, _) => Err(EmailError::List),
            (_, _, Some(e)) => Err(e),
            _ => Ok(()),
        };
    }
    if s.contains(['<', '>']) {
        return Err(EmailError::DisplayName);
    }
    if s.contains([',', ';']) {
        return Err(EmailError::List);
    }
    for (position, c) in s.char_indices() {
        if c.is_control() {
            return Err(EmailError::ControlCharacter { position });
        }
        if is_invisible(c) {
            return Err(EmailError::InvisibleCharacter {
                code: c as u32,
                position,
            });
        }
        if c.is_whitespace() {
            return Err(EmailError::Whitespace { position });
        }
    }
    Ok(())
}

/// Format and other invisible code points that must never be part of a key:
/// they make two addresses look identical while comparing different.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5
        | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
        | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// An address taken apart: its trimmed spelling and B1 base key.
struct Parsed<'a> {
    trimmed: &'a str,
    base_key: Box<str>,
    /// Byte offset of the `@` in `base_key`.
    at: u32,
}

/// Parses an address into its base key without copying its spelling
/// (the key is all matching needs).
fn parse_base(input: &str, fast: bool) -> Result<Option<Parsed<'_>>, EmailError> {
    if fast {
        if let Some(p) = plain_ascii(input) {
            return Ok(Some(p));
        }
    }
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_RAW_LEN {
        return Err(EmailError::AddressTooLong { len: s.len() });
    }
    if s.starts_with('"') {
        return Err(EmailError::QuotedLocalPart);
    }
    scan_characters(s)?;
    let (local, domain) = split_at_sign(s)?;
    if local.is_empty() {
        return Err(EmailError::EmptyLocalPart);
    }
    if domain.is_empty() {
        return Err(EmailError::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(EmailError::AddressLiteral);
    }
    let local_key = local_key(local)?;
    let domain_key = domain_key(domain)?;
    let len = local_key.len() + 1 + domain_key.len();
    if len > MAX_ADDRESS_LEN {
        return Err(EmailError::AddressTooLong { len });
    }
    let mut base_key = String::with_capacity(len);
    base_key.push_str(&local_key);
    base_key.push('@');
    base_key.push_str(&domain_key);
    Ok(Some(Parsed {
        trimmed: s,
        at: u32::try_from(local_key.len()).map_err(|_| EmailError::LocalPartTooLong {
            len: local_key.len(),
        })?,
        base_key: base_key.into_boxed_str(),
    }))
}

/// The commonest case in a single pass: a valid ASCII address of atext
/// local characters and letter-digit-hyphen labels, without a label that
/// could be punycode (`??--`). `None` for anything else, which goes the
/// careful way (and gets its precise error there).
fn plain_ascii(input: &str) -> Option<Parsed<'_>> {
    let s = input.trim_ascii();
    let at = plain_at(s.as_bytes())?;
    Some(Parsed {
        trimmed: s,
        // Plain addresses are ASCII: their key is their lowercase.
        base_key: s.to_ascii_lowercase().into_boxed_str(),
        at: u32::try_from(at).ok()?,
    })
}

/// Whether `input` is a plain address (see [`plain_ascii`]), without
/// building its key.
pub(crate) fn is_plain(input: &str) -> bool {
    plain_at(input.trim_ascii().as_bytes()).is_some()
}

/// The position of the `@` of a plain address, `None` for anything else.
fn plain_at(b: &[u8]) -> Option<usize> {
    if b.len() > MAX_ADDRESS_LEN {
        return None;
    }
    let mut at: Option<usize> = None;
    // The previous byte; a dot at the start acts like one before a dot.
    let mut prev = b'.';
    let mut label = 0usize;
    for (i, &c) in b.iter().enumerate() {
        if at.is_none() {
            if c == b'@' {
                if i == 0 || prev == b'.' || i > MAX_LOCAL_LEN {
                    return None;
                }
                at = Some(i);
                prev = b'.';
                label = 0;
                continue;
            }
            let ok = if c == b'.' {
                prev != b'.'
            } else {
                LOCAL_ASCII.get(usize::from(c)).copied().unwrap_or(false)
            };
            if !ok {
                return None;
            }
        } else if c == b'.' {
            if prev == b'.' || prev == b'-' || label > MAX_LABEL_LEN {
                return None;
            }
            label = 0;
        } else if c == b'-' {
            // A hyphen may not start a label; `??--` may be punycode.
            if prev == b'.' || (label == 3 && prev == b'-') {
                return None;
            }
            label += 1;
        } else if c.is_ascii_alphanumeric() {
            label += 1;
        } else {
            return None;
        }
        prev = c;
    }
    if prev == b'.' || prev == b'-' || label > MAX_LABEL_LEN {
        return None;
    }
    at
}

/// Splits at the single `@`.
fn split_at_sign(s: &str) -> Result<(&str, &str), EmailError> {
    if s.starts_with('"') {
        return Err(EmailError::QuotedLocalPart);
    }
    let (local, domain) = s.split_once('@').ok_or(EmailError::MissingAt)?;
    if domain.contains('@') {
        if s.contains('"') {
            return Err(EmailError::QuotedLocalPart);
        }
        return Err(EmailError::MultipleAt);
    }
    Ok((local, domain))
}

/// RFC 5322 `atext` for ASCII bytes (`.` is handled separately).
// Evaluated at compile time: an out-of-range index would fail the build.
#[allow(clippy::indexing_slicing)]
const LOCAL_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'/'
                    | b'='
                    | b'?'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// RFC 5322 `atext` and, per RFC 6531, any non-ASCII character.
fn is_local_char(c: char) -> bool {
    match LOCAL_ASCII.get(c as usize) {
        Some(ok) => *ok,
        None => true,
    }
}

fn local_key(local: &str) -> Result<Cow<'_, str>, EmailError> {
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::InvalidLocalDots);
    }
    if let Some(c) = local.chars().find(|&c| c != '.' && !is_local_char(c)) {
        if c == '"' {
            return Err(EmailError::QuotedLocalPart);
        }
        return Err(EmailError::InvalidLocalCharacter { code: c as u32 });
    }
    let key: Cow<'_, str> = if local.is_ascii() {
        if local.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(local.to_ascii_lowercase())
        } else {
            Cow::Borrowed(local)
        }
    } else {
        let nfc: String = if is_nfc_quick(local.chars()) == IsNormalized::Yes {
            local.to_owned()
        } else {
            local.nfc().collect()
        };
        let lower = nfc.to_lowercase();
        // Lowercasing can, rarely, un-normalize; normalize once more.
        if is_nfc_quick(lower.chars()) == IsNormalized::Yes {
            Cow::Owned(lower)
        } else {
            Cow::Owned(lower.nfc().collect())
        }
    };
    if key.len() > MAX_LOCAL_LEN {
        return Err(EmailError::LocalPartTooLong { len: key.len() });
    }
    Ok(key)
}

fn domain_key(domain: &str) -> Result<Cow<'_, str>, EmailError> {
    if domain.ends_with('.') {
        return Err(EmailError::TrailingDot);
    }
    let ascii: Cow<'_, str> = if domain.is_ascii() && !has_ace_label(domain) {
        // Fast path: plain LDH host names need no UTS-46 processing beyond
        // lowercasing; the label checks below validate them.
        if domain.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(domain.to_ascii_lowercase())
        } else {
            Cow::Borrowed(domain)
        }
    } else {
        Cow::Owned(idna::domain_to_ascii_strict(domain).map_err(|_| {
            // UTS-46 reports one opaque error; give the specific kind where
            // the raw labels show it.
            raw_label_problem(domain).unwrap_or(EmailError::InvalidDomain)
        })?)
    };
    for label in ascii.split('.') {
        check_label(label)?;
    }
    Ok(ascii)
}

fn has_ace_label(domain: &str) -> bool {
    domain
        .split('.')
        .any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")))
}

fn raw_label_problem(domain: &str) -> Option<EmailError> {
    domain.split(['.', '。', '．', '｡']).find_map(|l| {
        if l.is_empty() {
            Some(EmailError::EmptyLabel)
        } else if l.starts_with('-') || l.ends_with('-') {
            Some(EmailError::HyphenAtLabelEdge)
        } else {
            None
        }
    })
}

fn check_label(label: &str) -> Result<(), EmailError> {
    if label.is_empty() {
        return Err(EmailError::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(EmailError::LabelTooLong { len: label.len() });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(EmailError::HyphenAtLabelEdge);
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(EmailError::InvalidDomain);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        Email::parse(s)
            .unwrap()
            .unwrap()
            .key(&Normalization::default())
            .to_string()
    }

    #[test]
    fn ascii_and_unicode_paths_agree_on_ascii_input() {
        assert_eq!(key("Ann@Example.ORG"), "ann@example.org");
        assert_eq!(key("ännchen@example.org"), "ännchen@example.org");
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_agrees_with_the_general_path(s in "[a-zA-Z0-9.@_+\\-\"\\[\\]<>, ]{0,30}|[a-z]{1,8}@([a-zA-Z0-9-]{0,8}\\.){1,3}[a-zA-Z-]{0,6}") {
            let fast = Email::parse_with(&s, true);
            let general = Email::parse_with(&s, false);
            proptest::prop_assert_eq!(fast.clone().map(|e| e.map(|e| e.base_key)), general.map(|e| e.map(|e| e.base_key)));
        }

        #[test]
        fn plain_path_agrees_with_the_general_path(s in "[ \t\u{a0}]{0,2}[a-zA-Z0-9.!#+-]{0,10}@(x[nN]-{0,3}[a-zA-Z0-9-]{0,5}\\.|[a-zA-Z0-9-]{0,6}\\.){0,3}([a-zA-Z0-9-]{0,6}|[a-z-]{60,66})[ \t.\u{a0}]{0,2}") {
            let fast = Email::parse_with(&s, true);
            let general = Email::parse_with(&s, false);
            proptest::prop_assert_eq!(fast.clone().map(|e| e.map(|e| (e.base_key, e.at))), general.map(|e| e.map(|e| (e.base_key, e.at))));
            proptest::prop_assert_eq!(fast.map(|e| e.map(|e| e.original)), Email::parse_with(&s, false).map(|e| e.map(|e| e.original)));
        }
    }

    #[test]
    fn plain_path_takes_common_addresses_and_leaves_the_rest() {
        let p = plain_ascii(" Ann.Smith+x@Mail.Example-1.ORG\t").unwrap();
        assert_eq!(
            (&*p.base_key, p.trimmed, p.at),
            (
                "ann.smith+x@mail.example-1.org",
                "Ann.Smith+x@Mail.Example-1.ORG",
                11
            )
        );
        for s in [
            "a@xn--bcher-kva.example",
            "a@ab--c.example",
            "ä@example.org",
            "a@b_c.org",
            "a.@b.org",
            "a@b.org.",
            "a@-b.org",
            "a@b-.org",
            "a@b.org-",
            "a@b.-org",
            "a@b..org",
            "@b.org",
            "a@",
            "a b@c.org",
            "\u{a0}a@b.org",
        ] {
            assert!(plain_ascii(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn plain_path_leaves_labels_over_63_octets_to_the_general_path() {
        let long = format!("a@b.{}", "c".repeat(64));
        assert!(plain_ascii(&long).is_none());
        assert_eq!(
            Email::parse(&long).unwrap_err(),
            EmailError::LabelTooLong { len: 64 }
        );
        let first = format!("a@{}.org", "c".repeat(64));
        assert!(plain_ascii(&first).is_none());
    }

    #[test]
    fn ace_labels_are_validated() {
        assert_eq!(key("a@xn--bcher-kva.example"), "a@xn--bcher-kva.example");
        assert!(Email::parse("a@xn--zz-.example").is_err());
    }
}
