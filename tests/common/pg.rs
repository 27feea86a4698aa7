//! What the PostgreSQL test modules share: the server's URL, a runtime, and
//! fresh schema names.

use std::sync::atomic::{AtomicUsize, Ordering};

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// The server's URL, or `None` (outside CI) when none is configured.
pub fn url() -> Option<String> {
    match std::env::var("CONTACT_SYNC_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the PostgreSQL tests: set CONTACT_SYNC_POSTGRES_URL (.ci/run starts a server)")
        }
        _ => {
            eprintln!("CONTACT_SYNC_POSTGRES_URL is not set: PostgreSQL tests not run");
            None
        }
    }
}

/// A two-thread runtime for a test's async body.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A schema name no other test in this process uses: `{prefix}{pid}_{n}`.
pub fn schema(prefix: &str) -> String {
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}_{n}", std::process::id())
}
