//! Lookups: by email key in every spelling, by record ids sorted, by
//! ticket id, by alias (B15) and by blocking key (B19).

use super::*;

/// One key, whatever the spelling: case, Unicode normalization form and IDN
/// form of one address find the same record; a different address does not.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn key_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "key_lookups";
    let s = fresh_pair(C, f, "Jose\u{301}.Lee@BÜCHER.example", "straße@example.org").await?;
    for spelling in [
        "josé.lee@bücher.example",
        "JOSÉ.LEE@xn--bcher-kva.example",
        " jose\u{301}.lee@Bücher.Example ",
    ] {
        let got = lookup(C, &s, A, spelling).await?;
        ensure(C, got == [RecordId::from_u128(1)], || {
            format!("{spelling:?} found {got:?}")
        })?;
    }
    let got = lookup(C, &s, A, "strasse@example.org").await?;
    ensure(C, got.is_empty(), || {
        format!("`strasse` matched `straße`: {got:?}")
    })?;
    let got = lookup(C, &s, A, "STRAßE@example.org").await?;
    ensure(C, got == [RecordId::from_u128(2)], || {
        format!("`STRAßE` found {got:?}")
    })?;
    // Every record type: a policy of one type filters, the store does not.
    let mut lead = record(4, A, "pat@example.org");
    lead.record_type = RecordType::Lead;
    seed(C, &s, &[record(3, A, "pat@example.org"), lead]).await?;
    let got = lookup(C, &s, A, "pat@example.org").await?;
    ensure(
        C,
        got == [RecordId::from_u128(3), RecordId::from_u128(4)],
        || {
            format!("a Contact (3) and a Lead (4) with one email: expected both, the store found {got:?}")
        },
    )
}

/// [`ContactStore::record_ids_by_email`] answers what
/// [`ContactStore::records_by_email`] finds, sorted (synchronous stores:
/// the async traits have no such method).
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub fn record_ids_by_email<F: StoreFactory>(f: &F) -> Check {
    const C: &str = "record_ids_by_email";
    let s = f.fresh();
    // Ids out of order on purpose: created 3, 1, 2.
    let records = [
        record(3, A, "sam@example.org"),
        record(1, A, "sam@example.org"),
        record(2, A, "Sam@Example.org"),
    ];
    ApplyPlan::apply(&s, &seed_plan(&records))
        .map_err(|e| fail(C, format!("seeding failed: {}", chain(&e))))?;
    let k = key(C, "sam@example.org")?;
    let ids = s
        .record_ids_by_email(A, &k)
        .map_err(|e| fail(C, format!("record_ids_by_email failed: {}", chain(&e))))?;
    let want = [rid(1), rid(2), rid(3)];
    ensure(C, ids == want, || {
        format!("records 3, 1, 2 created with one email: expected record_ids_by_email to answer {want:?}, the store answered {ids:?}")
    })
}

/// Ticket lookups (A28) compare trimmed values exactly, per tenant, and the
/// `TicketId` precondition fails with [`Conflict::TicketChanged`] once the
/// set of records with the ticket id changed.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn ticket_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "ticket_lookups";
    let s = f.fresh().await;
    let with_ticket = |n: u128, t: TenantId, ticket: &str| {
        Record::new(
            rid(n),
            t,
            RecordType::Contact,
            Fields::from_pairs([("first_name", "Kit"), ("ticket_id", ticket)]),
        )
    };
    seed(
        C,
        &s,
        &[
            with_ticket(1, A, "T-1"),
            with_ticket(2, A, " T-1 "),
            with_ticket(3, A, "t-1"),
            with_ticket(6, A, " "),
        ],
    )
    .await?;
    seed(C, &s, &[with_ticket(4, B, "T-1")]).await?;
    let found = async |t: TenantId, ticket: &str| -> Result<Vec<RecordId>, Failure> {
        let mut ids: Vec<RecordId> = s
            .records_by_ticket(t, ticket)
            .await
            .map_err(|e| fail(C, format!("records_by_ticket failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    };
    let blank = found(A, "  ").await?;
    ensure(C, blank.is_empty(), || {
        format!("records_by_ticket(A, \"  \"): expected nothing for a blank ticket id, the store returned {blank:?}")
    })?;
    let got = found(A, "T-1").await?;
    ensure(C, got == [rid(1), rid(2)], || {
        format!("records_by_ticket(A, \"T-1\") with tickets \"T-1\", \" T-1 \", \"t-1\" and tenant B's \"T-1\": expected records 1 and 2, the store returned {got:?}")
    })?;
    let holds = Precondition::TicketId {
        ticket: "T-1".into(),
        records: vec![rid(1), rid(2)],
    };
    must_apply(
        C,
        &s,
        "a TicketId precondition that holds",
        &effects_plan(A, vec![], vec![holds.clone()]),
    )
    .await?;
    seed(C, &s, &[with_ticket(5, A, "T-1")]).await?;
    must_refuse(
        C,
        &s,
        "a TicketId precondition for records 1, 2 after record 5 took the ticket id",
        &effects_plan(
            A,
            vec![Effect::Link {
                subject: sid(1),
                record: rid(1),
            }],
            vec![holds],
        ),
        "Conflict::TicketChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::TicketChanged)),
        async || linked(C, &s, A, rid(1)).await,
    )
    .await?;
    // An update of the ticket id moves the record in the index.
    let moved = effects_plan(
        A,
        vec![Effect::UpdateRecord {
            record: rid(3),
            changes: vec![crate::plan::FieldChange {
                field: crate::fields::FieldName::TICKET_ID.into(),
                old: Some("t-1".into()),
                new: "T-9".into(),
                rule: crate::plan::RuleId::A28,
            }],
        }],
        vec![],
    );
    must_apply(
        C,
        &s,
        "an UpdateRecord of record 3's ticket id from \"t-1\" to \"T-9\"",
        &moved,
    )
    .await?;
    let now = found(A, "T-9").await?;
    let before = found(A, "t-1").await?;
    ensure(C, now == [rid(3)] && before.is_empty(), || {
        format!("after an UpdateRecord of record 3's ticket id from \"t-1\" to \"T-9\": expected \"T-9\" to find record 3 and \"t-1\" none, the store found {now:?} and {before:?}")
    })
}

/// Aliases (B15): `records_by_email` finds a record by its email and by
/// each alias in [`crate::FieldName::EMAIL_ALIASES`] (under the store's
/// normalization), once however many of its addresses share the key, and
/// per tenant; the `EmailKey` precondition counts alias holders
/// ([`Conflict::EmailKeyChanged`] once a record takes the key as an alias);
/// `UpdateRecord` moves the alias keys with the aliases and with the email
/// (an alias equal to the email is found as the email); a merged-away
/// record is found by its aliases no more.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn alias_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "alias_lookups";
    const ALIASES: &str = crate::fields::FieldName::EMAIL_ALIASES;
    let s = f.fresh().await;
    let with_aliases = |n: u128, t: TenantId, email: &str, aliases: &str| {
        let mut r = record(n, t, email);
        r.fields.set(ALIASES.into(), aliases.into());
        r
    };
    seed(
        C,
        &s,
        &[
            with_aliases(
                1,
                A,
                "kit@example.org",
                "Old.Kit@Example.org, kit@example.org",
            ),
            record(2, A, "other@example.org"),
        ],
    )
    .await?;
    seed(
        C,
        &s,
        &[with_aliases(3, B, "x@example.org", "old.kit@example.org")],
    )
    .await?;
    let expect = async |what: &str, email: &str, t: TenantId, want: &[u128]| -> Check {
        let got = lookup(C, &s, t, email).await?;
        let want: Vec<RecordId> = want.iter().map(|n| rid(*n)).collect();
        ensure(C, got == want, || {
            format!(
                "{what}: records_by_email({email}) expected {want:?}, the store returned {got:?}"
            )
        })
    };
    expect(
        "record 1 has the alias Old.Kit@Example.org",
        "old.kit@example.org",
        A,
        &[1],
    )
    .await?;
    expect(
        "record 1's alias repeats its own email",
        "kit@example.org",
        A,
        &[1],
    )
    .await?;
    expect(
        "tenant B's record 3 has the same alias",
        "old.kit@example.org",
        B,
        &[3],
    )
    .await?;
    let update = |n: u128, field: &str, new: &str| Effect::UpdateRecord {
        record: rid(n),
        changes: vec![crate::plan::FieldChange {
            field: field.into(),
            old: None,
            new: new.into(),
            rule: crate::plan::RuleId::B15,
        }],
    };
    let holds = Precondition::EmailKey {
        key: key(C, "old.kit@example.org")?,
        records: vec![rid(1)],
    };
    must_apply(
        C,
        &s,
        "an EmailKey precondition for an alias's key, held by record 1",
        &effects_plan(
            A,
            vec![update(2, ALIASES, "old.kit@example.org")],
            vec![holds.clone()],
        ),
    )
    .await?;
    expect(
        "record 2 took the alias old.kit@example.org",
        "old.kit@example.org",
        A,
        &[1, 2],
    )
    .await?;
    must_refuse(
        C,
        &s,
        "an EmailKey precondition for records [1] after record 2 took the key as an alias",
        &effects_plan(A, vec![update(1, "first_name", "Kim")], vec![holds]),
        "Conflict::EmailKeyChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::EmailKeyChanged)),
        async || lookup(C, &s, A, "old.kit@example.org").await,
    )
    .await?;
    must_apply(
        C,
        &s,
        "UpdateRecord(email -> new@) on record 1, whose aliases hold kit@",
        &effects_plan(A, vec![update(1, "email", "new@example.org")], vec![]),
    )
    .await?;
    expect(
        "record 1's email changed; kit@ is still its alias",
        "kit@example.org",
        A,
        &[1],
    )
    .await?;
    expect("record 1's new email", "new@example.org", A, &[1]).await?;
    must_apply(
        C,
        &s,
        "UpdateRecord(email_aliases -> blank) on record 1",
        &effects_plan(A, vec![update(1, ALIASES, "")], vec![]),
    )
    .await?;
    expect("record 1 has no aliases left", "kit@example.org", A, &[]).await?;
    expect(
        "record 1 has no aliases left",
        "old.kit@example.org",
        A,
        &[2],
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    expect(
        "record 2, merged away, had the alias",
        "old.kit@example.org",
        A,
        &[],
    )
    .await
}

/// A blocking (B19) with one pass per kind of transform, for factories
/// that want [`block_lookups_async`] to exercise their block index: build
/// the stores with it.
pub fn blocking() -> Blocking {
    use crate::linkage::{BlockingRule, KeyPart, Transform};
    Blocking::new(vec![
        BlockingRule::new(vec![
            KeyPart::new("last_name", Transform::Soundex),
            KeyPart::new("first_name", Transform::Prefix { chars: 1 }),
        ]),
        BlockingRule::new(vec![KeyPart::new("date_of_birth", Transform::YearMonth)]),
        BlockingRule::new(vec![KeyPart::new("email", Transform::EmailDomain)]),
        BlockingRule::new(vec![
            KeyPart::new("city", Transform::Lowercase),
            KeyPart::new("last_name", Transform::DoubleMetaphone),
        ]),
    ])
}

/// A value of `field` that `transform` turns into a key part: one of two
/// people (`which`).
pub(super) fn block_value(transform: crate::linkage::Transform, which: bool) -> &'static str {
    use crate::linkage::Transform as T;
    match (transform, which) {
        (T::Year | T::YearMonth | T::MonthDay, false) => "1980-01-01",
        (T::Year | T::YearMonth | T::MonthDay, true) => "1975-06-30",
        (T::EmailLocal | T::EmailDomain, false) => "kit@example.org",
        (T::EmailLocal | T::EmailDomain, true) => "sam.lee@example.net",
        (_, false) => "Meyer",
        (_, true) => "Watson",
    }
}

/// Blocking keys (B19): under the store's own [`ContactStore::blocking`]
/// (the check reads it; build the stores with [`blocking`] or the host's
/// own), `records_by_block` finds each record by each of its keys
/// ([`Blocking::keys`] with the store's normalization), sorted and per
/// tenant; `UpdateRecord` moves a record between blocks; the `BlockKey`
/// precondition holds while its block is unchanged and is
/// [`Conflict::BlockChanged`] after; a merged-away record is found no
/// more. A store indexing no blocking must find nothing by any key.
///
/// # Errors
/// A [`Failure`] saying what was injected, what was expected and what
/// the store did.
pub async fn block_lookups_async<F: AsyncStoreFactory>(f: &F) -> Check {
    const C: &str = "block_lookups";
    let s = f.fresh().await;
    let b = s.blocking();
    let n = s.normalization();
    ensure(C, !(f.keeps().blocks && b.is_empty()), || {
        "the factory declares blocks (the default) but the store's blocking() is empty: \
         a store wrapping another must forward blocking() and records_by_block; a store \
         without blocks declares so (testkit::declare(Keeps::everything().with_blocks(false), ..))"
            .into()
    })?;
    let person = |n: u128, t: TenantId, which: bool| {
        let mut r = record(
            n,
            t,
            if which {
                "sam@example.com"
            } else {
                "kit@example.com"
            },
        );
        for p in b.rules.iter().flat_map(|r| &r.parts) {
            r.fields
                .set(p.field.clone(), block_value(p.transform, which).into());
        }
        r
    };
    seed(C, &s, &[person(1, A, false), person(2, A, true)]).await?;
    seed(C, &s, &[person(3, B, false)]).await?;
    let find = async |t: TenantId, k: &BlockKey| -> Result<Vec<RecordId>, Failure> {
        let mut ids: Vec<RecordId> = s
            .records_by_block(t, k)
            .await
            .map_err(|e| fail(C, format!("block lookup failed: {}", chain(&e))))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let sorted = ids.windows(2).all(|w| w.first() < w.get(1));
        ensure(C, sorted, || {
            format!("records_by_block must answer sorted by id, each once: {ids:?}")
        })?;
        ids.dedup();
        Ok(ids)
    };
    let expect = async |what: &str, t: TenantId, keys: &[BlockKey], want: &[u128]| -> Check {
        let want: Vec<RecordId> = want.iter().map(|n| rid(*n)).collect();
        for (i, k) in keys.iter().enumerate() {
            let got = find(t, k).await?;
            ensure(C, got == want, || {
                format!("{what}: records_by_block(key {i} of {}) expected {want:?}, the store returned {got:?}", keys.len())
            })?;
        }
        Ok(())
    };
    let kit = b.keys(&person(0, A, false).fields, &n);
    let sam = b.keys(&person(0, A, true).fields, &n);
    if b.is_empty() {
        let any = BlockKey::from_stored("0\u{1f}meyer");
        return expect("the store indexes no blocking", A, &[any], &[]).await;
    }
    ensure(
        C,
        !kit.is_empty() && kit.iter().all(|k| !sam.contains(k)),
        || {
            "the store's blocking gives the suite's two people no keys of their own: use testkit::blocking()".into()
        },
    )?;
    expect("record 1 (tenant A) has these keys", A, &kit, &[1]).await?;
    expect("record 2 (tenant A) has these keys", A, &sam, &[2]).await?;
    expect("record 3 has record 1's keys in tenant B", B, &kit, &[3]).await?;
    let moves: Vec<crate::plan::FieldChange> = person(0, A, true)
        .fields
        .iter()
        .map(|(name, v)| crate::plan::FieldChange {
            field: name.clone(),
            old: None,
            new: v.clone(),
            rule: crate::plan::RuleId::B19,
        })
        .collect();
    let first = sam
        .first()
        .cloned()
        .unwrap_or_else(|| BlockKey::from_stored(""));
    must_apply(
        C,
        &s,
        "UpdateRecord giving record 1 record 2's values, under a BlockKey precondition holding [2]",
        &effects_plan(
            A,
            vec![Effect::UpdateRecord {
                record: rid(1),
                changes: moves,
            }],
            vec![Precondition::BlockKey {
                key: first.clone(),
                records: vec![rid(2)],
            }],
        ),
    )
    .await?;
    expect("record 1 moved to record 2's blocks", A, &sam, &[1, 2]).await?;
    expect("record 1 left its old blocks", A, &kit, &[]).await?;
    expect("tenant B's record 3 stays", B, &kit, &[3]).await?;
    must_refuse(
        C,
        &s,
        "a BlockKey precondition holding [2] after record 1 joined the block",
        &effects_plan(
            A,
            vec![],
            vec![Precondition::BlockKey {
                key: first.clone(),
                records: vec![rid(2)],
            }],
        ),
        "Conflict::BlockChanged",
        |e| matches!(e, ApplyError::Conflict(Conflict::BlockChanged)),
        async || find(A, &first).await,
    )
    .await?;
    merge_2_into_1(C, &s).await?;
    expect("record 2, merged into 1, is found no more", A, &sam, &[1]).await
}
