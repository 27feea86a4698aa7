//! Deterministic data shaped like `perf/gen.py`: about 3% of contact emails
//! shared by 2–3 contacts, mixed case and stray spaces, some empty fields;
//! 10% of registrations without email, 60% matching a contact modulo case and
//! spaces, the rest new.
#![allow(dead_code)]

use contact_sync::*;

pub const TENANT: TenantId = TenantId::from_u128(1);

/// splitmix64: a tiny fixed-seed generator, so the data never changes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karl",
    "Lena", "Max", "Nina", "Otto", "Paula",
];
const LAST: &[&str] = &[
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
];
const COMPANY: &[&str] = &["Acme", "Globex", "Initech", "Umbrella", "Hooli", "", ""];

fn email(rng: &mut Rng, i: usize) -> String {
    format!(
        "{}.{}{i}@example{}.com",
        rng.pick(FIRST).to_lowercase(),
        rng.pick(LAST).to_lowercase(),
        i % 97
    )
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = true;
    for c in s.chars() {
        out.extend(if up {
            c.to_uppercase().collect::<Vec<_>>()
        } else {
            vec![c]
        });
        up = !c.is_alphabetic();
    }
    out
}

/// `n` contacts and `m` registrations (one attendee each).
pub fn data(n: usize, m: usize, record_type: RecordType) -> (Vec<Record>, Vec<Event>) {
    let mut rng = Rng::new(42);
    let mut emails = Vec::with_capacity(n);
    let mut records = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let e = email(&mut rng, i);
        let k = if rng.unit() > 0.03 {
            1
        } else {
            2 + (rng.next() % 2) as usize
        };
        for _ in 0..k {
            if i >= n {
                break;
            }
            let mut shown = if rng.unit() < 0.2 {
                e.to_uppercase()
            } else {
                e.clone()
            };
            if rng.unit() < 0.05 {
                shown = format!(" {shown} ");
            }
            let first = if rng.unit() < 0.05 {
                ""
            } else {
                rng.pick(FIRST)
            };
            let last = if rng.unit() < 0.05 {
                ""
            } else {
                rng.pick(LAST)
            };
            let phone = if rng.unit() < 0.3 {
                String::new()
            } else {
                format!("+49{:09}", rng.next() % 1_000_000_000)
            };
            let company = rng.pick(COMPANY);
            records.push(Record::new(
                RecordId::from_u128(((rng.next() as u128) << 64) | rng.next() as u128),
                TENANT,
                record_type,
                Fields::from_pairs([
                    ("email", shown.as_str()),
                    ("first_name", first),
                    ("last_name", last),
                    ("company", company),
                    ("phone", phone.as_str()),
                ]),
            ));
            i += 1;
        }
        emails.push(e);
    }
    let mut events = Vec::with_capacity(m);
    for j in 0..m {
        let r = rng.unit();
        let e = if r < 0.10 {
            String::new()
        } else if r < 0.70 {
            let mut e = emails[(rng.next() % emails.len() as u64) as usize].clone();
            if rng.unit() < 0.3 {
                e = title(&e);
            }
            if rng.unit() < 0.1 {
                e = format!(" {e}");
            }
            e
        } else {
            email(&mut rng, n + j)
        };
        let phone = if rng.unit() < 0.5 {
            String::new()
        } else {
            format!("+49{:09}", rng.next() % 1_000_000_000)
        };
        let id = ((rng.next() as u128) << 64) | rng.next() as u128;
        let fields = Fields::from_pairs([
            ("email", e.as_str()),
            ("first_name", rng.pick(FIRST)),
            ("last_name", rng.pick(LAST)),
            ("company", rng.pick(COMPANY)),
            ("phone", phone.as_str()),
        ]);
        events.push(Event::Registered({
            let mut r = Registration::new(
                EventId::from_u128(id),
                TENANT,
                vec![Subject::attendee(SubjectId::from_u128(id), fields)],
            );
            r.channel = Channel::Import;
            r
        }));
    }
    (records, events)
}

/// Sizes to run: 10k, 100k and 1M; 10M as well when
/// `CONTACT_SYNC_BENCH_10M` is set (about 12 GB of memory).
pub fn sizes() -> Vec<usize> {
    let mut v = vec![10_000, 100_000, 1_000_000];
    if std::env::var_os("CONTACT_SYNC_BENCH_10M").is_some() {
        v.push(10_000_000);
    }
    v
}
