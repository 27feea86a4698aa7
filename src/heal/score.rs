//! Duplicate detection by score (B19): the records of one tenant that
//! record linkage scores as one party, clustered deterministically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::email::Normalization;
use crate::linkage::{BlockKey, Linkage, NotDuplicate};
use crate::record::{Record, RecordId, RecordType};

/// Records that record linkage scores as one party (B19).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ScoredGroup {
    /// The records' type.
    pub record_type: RecordType,
    /// The records, sorted by id (at least two).
    pub records: Vec<RecordId>,
    /// The links that joined them: both records (smaller id first) and the
    /// pair's score in thousandths of a bit, in the order they were made.
    pub links: Vec<(RecordId, RecordId, i32)>,
}

/// Union-find over record positions.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut x: usize) -> usize {
        while let Some(&p) = self.0.get(x) {
            if p == x {
                break;
            }
            // Path halving.
            let gp = self.0.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.0.get_mut(x) {
                *slot = gp;
            }
            x = gp;
        }
        x
    }
}

/// The duplicate groups of `records` (one tenant) by score (B19).
///
/// Candidates are the pairs of records of one type sharing a blocking key
/// of `linkage` (blocks of more than `max_candidates` records are skipped
/// as uninformative); each pair is scored with [`Linkage::score`], and
/// pairs scoring at least `threshold` (thousandths of a bit) are links.
/// Clustering is single linkage, strongest links first: links are taken in
/// order of score (higher first, then by the pair's ids), and each joins
/// two groups unless that would put a pair declared
/// [`NotDuplicate::Records`] into one group. The result depends only on
/// the records and the settings, not on their order: groups are sorted by
/// their smallest id.
pub fn duplicate_groups_by_score<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    linkage: &Linkage,
    threshold: i32,
    normalization: &Normalization,
) -> Vec<ScoredGroup> {
    let mut records: Vec<&Record> = records.into_iter().collect();
    records.sort_unstable_by_key(|r| r.id);
    records.dedup_by_key(|r| r.id);
    let mut blocks: BTreeMap<(RecordType, BlockKey), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        for k in linkage.blocking.keys(&r.fields, normalization) {
            blocks.entry((r.record_type, k)).or_default().push(i);
        }
    }
    let max = usize::try_from(linkage.max_candidates).unwrap_or(usize::MAX);
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for members in blocks.values().filter(|m| m.len() <= max) {
        for (n, &x) in members.iter().enumerate() {
            for &y in members.iter().skip(n + 1) {
                pairs.push((x, y));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    // Each record's values are prepared once, not once per pair.
    let prepared: Vec<_> = records.iter().map(|r| linkage.prepare(&r.fields)).collect();
    let mut links: Vec<(i32, usize, usize)> = pairs
        .into_iter()
        .filter_map(|(x, y)| {
            let (score, _) = linkage.score_prepared(prepared.get(x)?, prepared.get(y)?);
            (score >= threshold).then_some((score, x, y))
        })
        .collect();
    links.sort_unstable_by(|p, q| q.0.cmp(&p.0).then((p.1, p.2).cmp(&(q.1, q.2))));
    let position = |id: RecordId| records.binary_search_by_key(&id, |r| r.id).ok();
    let apart: Vec<(usize, usize)> = linkage
        .not_duplicates
        .iter()
        .filter_map(|n| match n {
            NotDuplicate::Records { a, b } => Some((position(*a)?, position(*b)?)),
            NotDuplicate::Subject { .. } => None,
        })
        .collect();
    let mut sets = Sets((0..records.len()).collect());
    let mut made: Vec<(usize, usize, i32)> = Vec::new();
    for (score, x, y) in links {
        let (rx, ry) = (sets.find(x), sets.find(y));
        if rx == ry {
            continue;
        }
        let blocked = apart.iter().any(|&(a, b)| {
            let (ra, rb) = (sets.find(a), sets.find(b));
            (ra == rx && rb == ry) || (ra == ry && rb == rx)
        });
        if blocked {
            continue;
        }
        let (lo, hi) = if rx < ry { (rx, ry) } else { (ry, rx) };
        if let Some(slot) = sets.0.get_mut(hi) {
            *slot = lo;
        }
        made.push((x, y, score));
    }
    let mut groups: BTreeMap<usize, ScoredGroup> = BTreeMap::new();
    for i in 0..records.len() {
        let root = sets.find(i);
        let Some(r) = records.get(i) else { continue };
        groups
            .entry(root)
            .or_insert_with(|| ScoredGroup {
                record_type: r.record_type,
                records: Vec::new(),
                links: Vec::new(),
            })
            .records
            .push(r.id);
    }
    for (x, y, score) in made {
        let root = sets.find(x);
        if let (Some(g), Some(a), Some(b)) = (groups.get_mut(&root), records.get(x), records.get(y))
        {
            g.links.push((a.id, b.id, score));
        }
    }
    // Roots are the smallest position, so the smallest id: groups come
    // sorted by it.
    groups
        .into_values()
        .filter(|g| g.records.len() > 1)
        .collect()
}
