//! The conformance suite (feature `testkit`) on both bundled stores, and on a
//! deliberately broken store that must fail it (B6).
#![cfg(feature = "testkit")]

use crate::common::skips_preconditions;
use contact_sync::testkit;
use contact_sync::Ready;
use contact_sync::*;

/// Everything but an index of blocking keys (the stores are built
/// without a blocking).
fn no_blocks() -> testkit::Keeps {
    testkit::Keeps::everything().with_blocks(false)
}

#[test]
fn b6_in_memory_store_passes_the_conformance_suite() {
    // Without a blocking, declared: the block check wants no blocks found.
    let plain = testkit::declare(no_blocks(), InMemoryStore::new);
    if let Err(f) = testkit::run_all_undo(&plain) {
        panic!("{f:#?}");
    }
}

#[test]
fn b6_in_memory_store_passes_the_async_conformance_suite() {
    let factory = testkit::declare(no_blocks(), || {
        std::future::ready(Ready(InMemoryStore::new()))
    });
    if let Err(f) = pollster::block_on(testkit::run_all_undo_async(&factory)) {
        panic!("{f:#?}");
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn b6_sqlite_store_passes_the_async_conformance_suite() {
    let factory = testkit::declare(no_blocks(), || {
        std::future::ready(Ready(
            SqliteStore::open_in_memory(Normalization::default()).unwrap(),
        ))
    });
    if let Err(f) = pollster::block_on(testkit::run_all_undo_async(&factory)) {
        panic!("{f:#?}");
    }
}

/// B19: with a blocking to index, the block check exercises the index.
#[test]
fn b6_b19_in_memory_store_with_a_blocking_passes_both_suites() {
    let blocked = || crate::common::blocked_by(testkit::blocking());
    if let Err(f) = testkit::run_all_undo(&blocked) {
        panic!("{f:#?}");
    }
    let factory = || std::future::ready(Ready(blocked()));
    if let Err(f) = pollster::block_on(testkit::run_all_undo_async(&factory)) {
        panic!("{f:#?}");
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn b6_b19_sqlite_store_with_a_blocking_passes_the_suite() {
    let factory = || {
        let mut s = SqliteStore::open_in_memory(Normalization::default()).unwrap();
        s.set_blocking(testkit::blocking()).unwrap();
        s
    };
    if let Err(f) = testkit::run_all_undo(&factory) {
        panic!("{f:#?}");
    }
}

#[test]
fn b6_a_store_that_skips_preconditions_fails_the_async_suite() {
    let factory = || std::future::ready(Ready(skips_preconditions()));
    let failures = pollster::block_on(testkit::run_all_async(&factory)).unwrap_err();
    let checks: Vec<&str> = failures.iter().map(|f| f.check).collect();
    assert!(checks.contains(&"stale_preconditions"), "{failures:#?}");
    assert!(
        checks.contains(&"concurrent_registrations"),
        "{failures:#?}"
    );
}

#[cfg(feature = "sqlite")]
#[test]
fn b6_sqlite_store_passes_the_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("contact-sync-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let factory = || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SqliteStore::open(dir.join(format!("{i}.db")), Normalization::default()).unwrap()
    };
    let result = testkit::run_all_undo(&testkit::declare(no_blocks(), factory));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(f) = result {
        panic!("{f:#?}");
    }
}

#[test]
fn b6_a_store_that_skips_preconditions_fails_the_suite() {
    let failures = testkit::run_all(&skips_preconditions).unwrap_err();
    let checks: Vec<&str> = failures.iter().map(|f| f.check).collect();
    assert!(checks.contains(&"stale_preconditions"), "{failures:#?}");
    assert!(
        checks.contains(&"concurrent_registrations"),
        "{failures:#?}"
    );
}

/// A factory declaring undo (the default) run through `run_all`, which
/// cannot check undo, fails the suite: no part of the contract is skipped
/// unsaid. Declared without undo, the same store passes it.
#[test]
fn b16_b17_run_all_runs_what_the_declaration_implies() {
    let blocked = || crate::common::blocked_by(testkit::blocking());
    let failures = testkit::run_all(&blocked).unwrap_err();
    let checks: Vec<&str> = failures.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["undo"], "{failures:#?}");
    assert!(failures[0].message.contains("run_all_undo"));
    let declared = testkit::declare(testkit::Keeps::everything().with_undo(false), blocked);
    testkit::run_all(&declared).unwrap();
}
