//! A dry run on several threads: the batch is split into parts whose
//! events touch disjoint keys and records, the parts are decided in
//! parallel, and the results are handed over in event order, exactly as
//! one thread hands them over.

use crate::email::{EmailKey, Normalization};
use crate::engine::source::StoreSource;
use crate::error::{Error, PlanError};
use crate::event::Event;
use crate::fields::{FieldName, Fields};
use crate::record::alias_list;
use crate::store::ContactStore;

use crate::engine::{derive_record_id, Decided, Engine, Handed, Sink};

/// What an event touches, hashed: events that share a token are decided
/// in order, in one part. Two values hashing alike only put their events
/// in one part, which is never wrong (the hasher's seed is random, so
/// crafted values cannot force it).
type Token = u64;

const EVENT: u8 = 0;
const SUBJECT: u8 = 1;
const RECORD: u8 = 2;
const EMAIL: u8 = 3;
const TICKET: u8 = 4;

/// Union-find over event positions.
struct Parts {
    parent: Vec<u32>,
}

impl Parts {
    fn new(events: usize) -> Self {
        Parts {
            parent: (0..u32::try_from(events).unwrap_or(u32::MAX)).collect(),
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while let Some(&p) = self.parent.get(x as usize) {
            if p == x {
                break;
            }
            // Path halving.
            let gp = self.parent.get(p as usize).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(x as usize) {
                *slot = gp;
            }
            x = gp;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller root wins: a part's root is its first event.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            if let Some(slot) = self.parent.get_mut(hi as usize) {
                *slot = lo;
            }
        }
    }
}

/// The shard of `t` among `shards` (a range reduction of the hash).
fn shard(t: Token, shards: usize) -> usize {
    ((u128::from(t) * shards as u128) >> 64) as usize
}

/// A key an event looks records up by.
enum Lookup {
    Email(EmailKey),
    Ticket(String),
}

/// Every email key in `f`: the email's and its aliases' (B15).
fn email_keys(f: &Fields, n: &Normalization, out: &mut Vec<Lookup>) {
    if let Ok(Some(k)) = EmailKey::parse(f.text(FieldName::EMAIL), n) {
        out.push(Lookup::Email(k));
    }
    if !f.is_empty_at(FieldName::EMAIL_ALIASES) {
        for a in alias_list(f.text(FieldName::EMAIL_ALIASES)) {
            if let Ok(Some(k)) = EmailKey::parse(a, n) {
                out.push(Lookup::Email(k));
            }
        }
    }
}

/// What a run of events touches: (event position, token), in event order.
type Touches = Vec<(u32, Token)>;

/// A thread's events (by position), what it handed over, and its error.
type Share<E> = (Vec<usize>, Vec<Handed>, Option<PlanError<E>>);

impl Engine {
    /// What `e` touches: its event id, subjects, the records they are
    /// linked to, prefilled from or created as, and every email key (email
    /// and aliases) and ticket id in its fields; the keys also as lookups.
    fn touches(&self, e: &Event, ids: &mut Vec<(u8, u128)>, keys: &mut Vec<Lookup>) {
        let n = &self.policy().normalization;
        ids.push((EVENT, e.id().0.as_u128()));
        let subject = |ids: &mut Vec<(u8, u128)>, s: &crate::event::Subject| {
            ids.push((SUBJECT, s.id.0.as_u128()));
            ids.extend(s.link.map(|r| (RECORD, r.0.as_u128())));
            ids.extend(s.prefill.map(|r| (RECORD, r.0.as_u128())));
        };
        let mut fields = |f: &Fields| {
            email_keys(f, n, keys);
            let t = f.text(FieldName::TICKET_ID).trim();
            if !t.is_empty() {
                keys.push(Lookup::Ticket(t.to_owned()));
            }
        };
        match e {
            Event::Registered(r) => {
                for s in &r.subjects {
                    subject(ids, s);
                    let created = derive_record_id(r.tenant, r.id, s.id, s.role);
                    ids.push((RECORD, created.0.as_u128()));
                    fields(&s.fields);
                }
            }
            Event::Edited(x) => {
                subject(ids, &x.subject);
                fields(&x.subject.fields);
                fields(&x.new_fields);
                if let Some(b) = &x.buyer {
                    fields(b);
                }
            }
            Event::Relinked(x) => {
                subject(ids, &x.subject);
                ids.push((RECORD, x.to.0.as_u128()));
            }
            Event::RecordChanged(x) => {
                ids.push((RECORD, x.record.0.as_u128()));
                fields(&x.new_fields);
                for s in &x.subjects {
                    subject(ids, s);
                }
            }
        }
    }

    /// The part of each event: events that touch a common key, ticket id,
    /// subject, event id or record (also through the records the store
    /// finds by a key) share a part. Parts are numbered by their first
    /// event.
    fn partition<S>(
        &self,
        store: &S,
        events: &[Event],
        threads: usize,
    ) -> Result<Vec<u32>, S::Error>
    where
        S: ContactStore + Sync + ?Sized,
        S::Error: Send,
    {
        let tenant = events.first().map(Event::tenant).unwrap_or_default();
        let threads = threads.max(1);
        // 1. What each event touches, as (event, token) pairs in event
        // order, found on every thread. A record the store holds under a
        // key the event looks up is touched by the event itself: it joins
        // the same events as joining the key to the record would.
        let chunk = events.len().div_ceil(threads).max(1);
        let hasher = &foldhash::fast::RandomState::default();
        let found: Vec<Result<Touches, S::Error>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                events
                    .chunks(chunk)
                    .enumerate()
                    .map(|(c, evs)| {
                        scope.spawn(move || {
                            let hash = |kind: u8, v: &[u8]| -> Token {
                                use std::hash::BuildHasher;
                                hasher.hash_one((kind, v))
                            };
                            let mut out = Vec::with_capacity(evs.len() * 5);
                            let (mut ids, mut keys) = (Vec::new(), Vec::new());
                            for (i, e) in evs.iter().enumerate() {
                                let at = u32::try_from(c * chunk + i).unwrap_or(u32::MAX);
                                self.touches(e, &mut ids, &mut keys);
                                for (kind, id) in ids.drain(..) {
                                    out.push((at, hash(kind, &id.to_le_bytes())));
                                }
                                for k in keys.drain(..) {
                                    let (t, ids) = match &k {
                                        Lookup::Email(k) => (
                                            hash(EMAIL, k.as_str().as_bytes()),
                                            store.record_ids_by_email(tenant, k)?,
                                        ),
                                        Lookup::Ticket(x) => (
                                            hash(TICKET, x.as_bytes()),
                                            store
                                                .records_by_ticket(tenant, x)?
                                                .into_iter()
                                                .map(|r| r.id)
                                                .collect(),
                                        ),
                                    };
                                    out.push((at, t));
                                    out.extend(ids.into_iter().map(|id| {
                                        (at, hash(RECORD, &id.0.as_u128().to_le_bytes()))
                                    }));
                                }
                            }
                            Ok(out)
                        })
                    })
                    .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let found = found.into_iter().collect::<Result<Vec<_>, _>>()?;
        // 2. Per shard of the tokens, on every thread: the first event
        // that touches each token; every later one is joined to it.
        let total: usize = found.iter().map(Vec::len).sum();
        let found = &found;
        let joins: Vec<Vec<(u32, u32)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    scope.spawn(move || {
                        let mut first: foldhash::HashMap<Token, u32> =
                            foldhash::HashMap::with_capacity_and_hasher(
                                total / threads + 16,
                                Default::default(),
                            );
                        let mut out = Vec::new();
                        for &(at, t) in found.iter().flatten() {
                            if shard(t, threads) != k {
                                continue;
                            }
                            let f = *first.entry(t).or_insert(at);
                            if f != at {
                                out.push((at, f));
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        // 3. The parts: union-find over the events alone.
        let mut parts = Parts::new(events.len());
        for &(a, b) in joins.iter().flatten() {
            parts.union(a, b);
        }
        Ok((0..u32::try_from(events.len()).unwrap_or(u32::MAX))
            .map(|n| parts.find(n))
            .collect())
    }

    /// [`Engine::dry_run`] on up to `threads` threads (at least one): the
    /// same events handed over in the same order with the same outcomes,
    /// effects and warnings, whatever the number of threads.
    ///
    /// The batch is split into parts whose events share nothing (no email
    /// key, alias key, ticket id, subject, event id, or record, also
    /// through what the store holds under a key); each thread decides a
    /// share of the parts, and the results are handed over in event order.
    /// A policy that matches by record linkage (B19) runs on one thread:
    /// blocking keys of records changed in the batch are not known ahead.
    ///
    /// # Errors
    /// As [`Engine::dry_run`]: the first error in event order, after the
    /// events before it were handed over.
    pub fn dry_run_threads<S>(
        &self,
        store: &S,
        events: &[Event],
        threads: usize,
        mut each: impl FnMut(&Decided<'_>),
    ) -> Result<(), PlanError<S::Error>>
    where
        S: ContactStore + Sync + ?Sized,
        S::Error: Send,
    {
        let threads = threads.max(1);
        if threads == 1 || self.policy().linkage.is_some() || events.len() < 2 {
            return self.dry_run(store, events, each);
        }
        self.check_store(store)?;
        let tenant = events.first().map(Event::tenant).unwrap_or_default();
        if events.iter().any(|e| e.tenant() != tenant) {
            return Err(Error::MixedTenants.into());
        }
        let part_of = self
            .partition(store, events, threads)
            .map_err(PlanError::Store)?;
        // Parts to threads: the largest first, each to the least loaded.
        // A part is numbered by its first event, so tables by event serve.
        let mut sizes = vec![0u32; events.len()];
        for p in &part_of {
            if let Some(n) = sizes.get_mut(*p as usize) {
                *n += 1;
            }
        }
        let mut by_size: Vec<(u32, u32)> = (0u32..)
            .zip(&sizes)
            .filter(|(_, n)| **n > 0)
            .map(|(p, n)| (p, *n))
            .collect();
        by_size.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut load = vec![0usize; threads];
        let mut thread_of = vec![0u32; events.len()];
        for (p, size) in by_size {
            let t = (0..threads)
                .min_by_key(|t| (load.get(*t).copied().unwrap_or(usize::MAX), *t))
                .unwrap_or(0);
            if let Some(l) = load.get_mut(t) {
                *l += size as usize;
            }
            if let Some(slot) = thread_of.get_mut(p as usize) {
                *slot = u32::try_from(t).unwrap_or(0);
            }
        }
        // Each thread's events, by reference, in event order.
        let mut shares: Vec<(Vec<usize>, Vec<&Event>)> = vec![(Vec::new(), Vec::new()); threads];
        for (i, (e, p)) in events.iter().zip(&part_of).enumerate() {
            let t = thread_of.get(*p as usize).copied().unwrap_or(0);
            if let Some((at, evs)) = shares.get_mut(t as usize) {
                at.push(i);
                evs.push(e);
            }
        }
        let results: Vec<Share<S::Error>> = std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|(at, evs)| {
                    scope.spawn(move || {
                        let mut got = Vec::with_capacity(evs.len());
                        let r = self.run_with(
                            StoreSource(store),
                            evs.as_slice(),
                            Some(Sink::Take(&mut |h: Handed| got.push(h))),
                        );
                        (at, got, r.err())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        // The first error in event order: each share failed at the event
        // after the ones it handed over.
        let mut first_error: Option<(usize, PlanError<S::Error>)> = None;
        let mut slots: Vec<Option<Handed>> = Vec::new();
        slots.resize_with(events.len(), || None);
        for (at, got, err) in results {
            if let Some(e) = err {
                let failed = at.get(got.len()).copied().unwrap_or(usize::MAX);
                if first_error.as_ref().is_none_or(|(f, _)| failed < *f) {
                    first_error = Some((failed, e));
                }
            }
            for (i, o) in at.into_iter().zip(got) {
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(o);
                }
            }
        }
        let stop = first_error.as_ref().map_or(usize::MAX, |(f, _)| *f);
        for o in slots.into_iter().take(stop).flatten() {
            each(&o.decided());
        }
        match first_error {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}
