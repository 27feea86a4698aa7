//! The `tracing` feature: spans and events for plan, apply and retries,
//! with counts, rule ids and conflict kinds, and never an email or a field
//! value (B2, B6).
#![cfg(feature = "tracing")]

use std::cell::RefCell;
use std::io::Write;
use std::sync::Once;

use crate::common::*;
use contact_sync::*;

thread_local! {
    /// What the subscriber writes on this thread, while a test captures.
    static CAPTURE: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes into this thread's capture, if any (other tests' output is dropped).
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(v) = c.borrow_mut().as_mut() {
                v.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `f` makes the subscriber write. The subscriber is the global one:
/// a scoped one misses callsites that other tests' threads met first.
fn captured(f: impl FnOnce()) -> String {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
    f();
    let bytes = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn b2_tracing_reports_counts_and_rules_but_no_personal_data() {
    let store = store_with(vec![contact(
        1,
        &[
            ("email", "secret.person@example.org"),
            ("company", "Hidden Co"),
        ],
    )]);
    let e = engine(Policy::doo().with_sync(true));
    let ev = registration(
        1,
        vec![
            attendee(
                1,
                &[
                    ("email", "SECRET.person@example.org"),
                    ("company", "Top Secret Co"),
                ],
            ),
            attendee(2, &[("email", "another.secret@example.org")]),
        ],
    );
    let text = captured(|| {
        e.plan_and_apply(&store, &ev, 3).unwrap();
    });
    for want in [
        "contact_sync::plan",
        "subjects=2",
        "created=1",
        "rules=",
        "D2=1",
        "D3=1",
        "contact_sync::apply",
        "store=\"memory\"",
        "result=\"applied\"",
        "time.busy",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    for secret in ["secret", "SECRET", "Hidden", "Top Secret", "example.org"] {
        assert!(!text.contains(secret), "{secret:?} leaked:\n{text}");
    }
}

#[test]
fn b6_tracing_reports_each_conflict_that_makes_a_retry() {
    let first = std::sync::atomic::AtomicBool::new(true);
    let store = Rigged {
        store: InMemoryStore::new(),
        apply: |s: &InMemoryStore, p: &Plan| {
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                return Err(ApplyError::Conflict(Conflict::EmailKeyChanged));
            }
            s.apply(p)
        },
    };
    let ev = registration(1, vec![attendee(1, &[("email", "x@example.org")])]);
    let text = captured(|| {
        engine(Policy::doo())
            .plan_and_apply(&store, &ev, 3)
            .unwrap();
    });
    assert!(
        text.contains("contact_sync::retry") && text.contains("conflict=\"email_key_changed\""),
        "{text}"
    );
    // Two plans: the conflicted one and the one applied.
    assert_eq!(text.matches("planned").count(), 2, "{text}");
}
