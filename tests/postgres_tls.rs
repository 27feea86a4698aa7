//! The PostgreSQL store over TLS (feature `postgres-tls`): a private server
//! that accepts TLS connections only, with a certificate for 127.0.0.1
//! signed by a CA generated for the test. Trusting that CA, the store
//! connects, plans and applies over TLS; without TLS, or trusting another
//! CA, it cannot connect.
#![cfg(feature = "postgres-tls")]

use contact_sync::*;

use crate::common::*;
use crate::postgres_faults::Private;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A CA certificate the server's certificate is not signed by.
fn other_ca() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("contact-sync-other-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=someone else", "-keyout"])
        .arg(dir.join("k.pem"))
        .arg("-out")
        .arg(dir.join("c.pem"))
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .output()
        .unwrap();
    assert!(status.status.success());
    let pem = std::fs::read(dir.join("c.pem")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    pem
}

#[test]
fn b6_postgres_store_connects_over_tls_trusting_the_servers_ca() {
    if std::env::var_os("CONTACT_SYNC_POSTGRES_URL").is_none() && std::env::var_os("CI").is_none() {
        eprintln!("CONTACT_SYNC_POSTGRES_URL is not set: PostgreSQL TLS test not run");
        return;
    }
    let Some(server) = Private::start_with(&["tls"]) else {
        return;
    };
    let ca = std::fs::read(format!("{}/ca.pem", server.dir)).unwrap();
    runtime().block_on(async {
        let url = format!("{}?application_name=contact_sync_tls", server.url);
        let store = PostgresConnect::url(&url)
            .unwrap()
            .tls_trusting_pem(&ca)
            .unwrap()
            .max_connections(2)
            .connect()
            .await
            .unwrap();
        let engine = Engine::new(Policy::doo()).unwrap();
        let ev = registration(1, vec![attendee(10, &[("email", "tls@example.org")])]);
        engine.plan_and_apply_async(&store, &ev, 3).await.unwrap();
        assert_eq!(store.records(T).await.unwrap().len(), 1);
        // The server takes TLS connections only (`hostssl`): the store's
        // are encrypted.
        // Trusting another CA, the server's certificate is refused.
        let refused = PostgresConnect::url(&url)
            .unwrap()
            .tls_trusting_pem(&other_ca())
            .unwrap()
            .connect()
            .await;
        let Err(e) = refused else {
            panic!("an untrusted certificate was accepted")
        };
        assert!(
            matches!(e, PostgresError::Pool(_) | PostgresError::Postgres(_)),
            "{e:?}"
        );
        let why = contact_sync::chain(&e);
        assert!(why.contains("UnknownIssuer"), "{why}");
        // Plain settings cannot reach a TLS-only server either.
        let plain = PostgresConnect::url(&url).unwrap().connect().await;
        assert!(plain.is_err());
        // A PEM without certificates is a settings error.
        let empty = PostgresConnect::url(&url)
            .unwrap()
            .tls_trusting_pem(b"nothing");
        assert!(matches!(empty, Err(PostgresError::Config(_))));
    });
}
