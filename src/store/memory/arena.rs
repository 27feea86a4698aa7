//! How the in-memory store keeps records compactly: one allocation per
//! record (fields and email key in a blob, field names as numbers into a
//! name table), and the inline id lists of its indexes.

use super::*;

/// Record ids under one ticket index entry; almost always one, kept inline.
#[derive(Clone)]
pub(super) enum Ids {
    One(RecordId),
    Many(Vec<RecordId>),
}

impl Ids {
    pub(super) fn push(&mut self, id: RecordId) {
        match self {
            Ids::One(first) => *self = Ids::Many(vec![*first, id]),
            Ids::Many(v) => v.push(id),
        }
    }

    /// Removes `id`; true when nothing is left.
    pub(super) fn remove(&mut self, id: RecordId) -> bool {
        match self {
            Ids::One(x) => *x == id,
            Ids::Many(v) => {
                v.retain(|x| *x != id);
                if let [only] = v.as_slice() {
                    *self = Ids::One(*only);
                }
                false
            }
        }
    }

    pub(super) fn sorted(&self) -> Vec<RecordId> {
        match self {
            Ids::One(x) => vec![*x],
            Ids::Many(v) => {
                let mut v = v.clone();
                v.sort_unstable();
                v
            }
        }
    }
}

/// No slot (end of a key chain).
pub(super) const NONE: u32 = u32::MAX;

/// One record, compactly: its fields and email key in a single allocation
/// (field names are numbers into the store's name table). 48 bytes plus the
/// blob, where a [`Record`] with its fields costs several allocations.
pub(super) struct Stored {
    pub(super) id: RecordId,
    pub(super) version: u64,
    /// Index into `Inner::tenant_ids`.
    pub(super) tenant: u32,
    pub(super) record_type: RecordType,
    /// Merged away (B9): the slot stays so that other slots keep their numbers.
    pub(super) dead: bool,
    /// `[n][key]`, then `n` times `[name][value_len]` (each a LEB128
    /// varint, one byte below 128), then the values, then the email key's
    /// bytes when stored apart. `key` is 0 for none, `2 * len` for a key of
    /// `len` bytes at the end, `2 * i + 1` for a key equal to the value of
    /// field `i` (the usual case: an email already in its key form), so
    /// most records hold their email once.
    pub(super) blob: Box<[u8]>,
}

/// Appends `x` as a LEB128 varint (7 bits a byte, low first).
pub(super) fn put_varint(b: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        b.push((x & 0x7f) as u8 | 0x80);
        x >>= 7;
    }
    b.push(x as u8);
}

/// Reads the varint at `*at` and moves past it (what there is past the
/// end; a u64 takes at most ten bytes, so longer runs stop there).
pub(super) fn get_varint(b: &[u8], at: &mut usize) -> u64 {
    let mut x = 0u64;
    for shift in (0..70).step_by(7) {
        let Some(&byte) = b.get(*at) else { break };
        *at += 1;
        x |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            break;
        }
    }
    x
}

impl Stored {
    /// The field count, the key's tag, and where the field headers start.
    pub(super) fn header(&self) -> (usize, u64, usize) {
        let mut at = 0;
        let n = usize::try_from(get_varint(&self.blob, &mut at)).unwrap_or(0);
        let key = get_varint(&self.blob, &mut at);
        (n, key, at)
    }

    pub(super) fn field_count(&self) -> usize {
        self.header().0
    }

    /// The length of the key stored apart at the end (0: none or a field's).
    pub(super) fn key_len(tag: u64) -> usize {
        if tag.is_multiple_of(2) {
            usize::try_from(tag / 2).unwrap_or(0)
        } else {
            0
        }
    }

    /// The stored email key's bytes (empty: none).
    pub(super) fn key(&self) -> &[u8] {
        let (n, tag, mut at) = self.header();
        if !tag.is_multiple_of(2) {
            // Field `i`'s bytes: its offset in the values, which start
            // after the last header.
            let i = usize::try_from(tag / 2).unwrap_or(usize::MAX);
            let (mut offset, mut len) = (0usize, 0usize);
            for j in 0..n {
                get_varint(&self.blob, &mut at);
                let l = usize::try_from(get_varint(&self.blob, &mut at)).unwrap_or(0);
                match j.cmp(&i) {
                    std::cmp::Ordering::Less => offset = offset.saturating_add(l),
                    std::cmp::Ordering::Equal => len = l,
                    std::cmp::Ordering::Greater => {}
                }
            }
            let from = at.saturating_add(offset);
            return self
                .blob
                .get(from..from.saturating_add(len))
                .unwrap_or_default();
        }
        self.blob
            .get(self.blob.len().saturating_sub(Stored::key_len(tag))..)
            .unwrap_or_default()
    }

    /// Field names (as numbers) and values, in name order.
    pub(super) fn fields(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        let (n, tag, mut heads) = self.header();
        let key_len = Stored::key_len(tag);
        // The values start after the 2n header varints: each ends with the
        // one byte of its run whose high bit is clear.
        let mut start = heads;
        let mut ends = 0;
        while ends < 2 * n {
            match self.blob.get(start) {
                Some(byte) => {
                    if byte & 0x80 == 0 {
                        ends += 1;
                    }
                    start += 1;
                }
                None => break,
            }
        }
        // The values are one run of text, checked once (they were text when
        // stored; a cut at a non-boundary yields an empty value, never a panic).
        let text = self
            .blob
            .get(start..self.blob.len().saturating_sub(key_len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        let mut at = 0;
        (0..n).map(move |_| {
            let name = u32::try_from(get_varint(&self.blob, &mut heads)).unwrap_or(NONE);
            let len = usize::try_from(get_varint(&self.blob, &mut heads)).unwrap_or(0);
            let v = text.get(at..at + len).unwrap_or_default();
            at += len;
            (name, v)
        })
    }
}

/// Field names, numbered once per store.
#[derive(Default)]
pub(super) struct Names {
    pub(super) names: Vec<FieldName>,
    pub(super) ids: HashMap<FieldName, u32>,
}

impl Names {
    pub(super) fn id(&mut self, name: &FieldName) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(NONE);
        self.names.push(name.clone());
        self.ids.insert(name.clone(), id);
        id
    }
}
