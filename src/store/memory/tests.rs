//! The in-memory store's own tests: its compact encoding and indexes.

use super::{get_varint, put_varint, InMemoryStore};
use crate::email::{EmailKey, Normalization};
use crate::fields::Fields;
use crate::record::{Record, RecordId, RecordType, TenantId};
use crate::store::ContactStore;

#[test]
fn email_key_read_back_whether_kept_in_the_field_or_apart() {
    let t = TenantId::from_u128(1);
    let rec = |n: u128, email: &str| {
        Record::new(
            RecordId::from_u128(n),
            t,
            RecordType::Contact,
            Fields::from_pairs([
                ("email", email),
                ("first_name", "Ann"),
                ("zip", "ann@x.example"),
            ]),
        )
    };
    // Already the key (kept once, in the field), typed otherwise (kept
    // apart), none at all, and a key equal to a later field's value.
    let records = [
        rec(1, "ann@x.example"),
        rec(2, " Bob@X.Example "),
        rec(3, ""),
        rec(4, "ANN@X.EXAMPLE"),
    ];
    let store = InMemoryStore::new();
    store.extend(records.iter().cloned()).unwrap();
    let key = |e: &str| {
        EmailKey::parse(e, &Normalization::default())
            .unwrap()
            .unwrap()
    };
    let ids = |e: &str| -> Vec<u128> {
        let mut v: Vec<u128> = store
            .records_by_email(t, &key(e))
            .unwrap()
            .iter()
            .map(|r| r.id.uuid().as_u128())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids("ann@x.example"), [1, 4]);
    assert_eq!(ids("bob@x.example"), [2]);
    for r in &records {
        let back = store.record(t, r.id).unwrap().unwrap();
        assert_eq!(back.fields, r.fields, "{:?}", r.id);
    }
}

#[test]
fn varints_round_trip_at_every_width() {
    for x in [
        0,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        1 << 21,
        1 << 28,
        u64::MAX,
    ] {
        let mut b = vec![7];
        put_varint(&mut b, x);
        b.push(9);
        let mut at = 1;
        assert_eq!(get_varint(&b, &mut at), x);
        assert_eq!(b.get(at), Some(&9), "{x} read past its bytes");
    }
    // Cut short: what is there, never a panic.
    let mut at = 0;
    assert_eq!(get_varint(&[0x80 | 5], &mut at), 5);
    assert_eq!(at, 1);
}
