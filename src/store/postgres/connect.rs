//! How a [`PostgresStore`] reaches its server: the URL or a driver
//! configuration, the pool's size and timeouts, TLS (feature
//! `postgres-tls`), the schema.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::{PostgresError, PostgresStore};
use crate::email::Normalization;

/// The settings a [`PostgresStore`] connects with, built up and then
/// [`connect`](PostgresConnect::connect)ed:
///
/// ```no_run
/// # async fn run() -> Result<(), contact_sync::PostgresError> {
/// use std::time::Duration;
/// use contact_sync::PostgresConnect;
/// let store = PostgresConnect::url("postgres://app@db.internal/contacts")?
///     .max_connections(16)
///     .wait_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
///
/// Without TLS settings ([`PostgresConnect::tls`], feature `postgres-tls`)
/// the connection is plain, and a URL's `sslmode=require` fails to connect.
#[derive(Clone)]
pub struct PostgresConnect {
    config: tokio_postgres::Config,
    schema: Option<String>,
    normalization: Normalization,
    max_connections: usize,
    wait: Option<Duration>,
    create: Option<Duration>,
    recycle: Option<Duration>,
    #[cfg(feature = "postgres-tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for PostgresConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The driver's configuration holds the password: left out.
        f.debug_struct("PostgresConnect")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("wait_timeout", &self.wait)
            .field("create_timeout", &self.create)
            .field("recycle_timeout", &self.recycle)
            .finish_non_exhaustive()
    }
}

impl PostgresConnect {
    /// Settings from a URL (`postgres://user:password@host:port/database?…`,
    /// every parameter tokio-postgres reads), a pool of 4 connections, no
    /// timeouts.
    ///
    /// # Errors
    /// [`PostgresError::Config`] for a URL the driver cannot read.
    pub fn url(url: &str) -> Result<Self, PostgresError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| PostgresError::Config(e.to_string()))?;
        Ok(Self::config(config))
    }

    /// Settings from a driver configuration.
    pub fn config(config: tokio_postgres::Config) -> Self {
        PostgresConnect {
            config,
            schema: None,
            normalization: Normalization::default(),
            max_connections: 4,
            wait: None,
            create: None,
            recycle: None,
            #[cfg(feature = "postgres-tls")]
            tls: None,
        }
    }

    /// Settings from a `deadpool_postgres::Config` (what a host reads from
    /// its environment or files): the connection, the pool's size and its
    /// timeouts.
    ///
    /// # Errors
    /// [`PostgresError::Config`] when the configuration names no usable
    /// connection.
    pub fn deadpool(config: &deadpool_postgres::Config) -> Result<Self, PostgresError> {
        let pg = config
            .get_pg_config()
            .map_err(|e| PostgresError::Config(e.to_string()))?;
        let pool = config.get_pool_config();
        let mut c = Self::config(pg).max_connections(pool.max_size);
        c.wait = pool.timeouts.wait;
        c.create = pool.timeouts.create;
        c.recycle = pool.timeouts.recycle;
        Ok(c)
    }

    /// The tables in `schema` (created if missing), so several stores share
    /// a database.
    ///
    /// # Errors
    /// [`PostgresError::Config`] for a name that is not a plain identifier
    /// (`[a-z_][a-z0-9_]*`, at most 63 bytes).
    pub fn schema(mut self, schema: &str) -> Result<Self, PostgresError> {
        let plain = schema
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && schema.len() <= 63;
        if !plain {
            return Err(PostgresError::Config(format!("schema name {schema}")));
        }
        self.schema = Some(schema.to_owned());
        Ok(self)
    }

    /// The normalization email keys are computed with (it must equal the
    /// policy's).
    #[must_use]
    pub fn normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// At most `n` connections (at least one).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a call waits for a free connection before it fails with
    /// [`PostgresError::Pool`] (transient); `None`: as long as it takes.
    #[must_use]
    pub fn wait_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.wait = timeout.into();
        self
    }

    /// How long opening a connection may take.
    #[must_use]
    pub fn create_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.create = timeout.into();
        self
    }

    /// How long checking a returned connection may take.
    #[must_use]
    pub fn recycle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.recycle = timeout.into();
        self
    }

    /// Connects over TLS with `config` (its root certificates decide which
    /// servers are trusted); the URL's `sslmode` decides whether TLS is
    /// required (`require`) or only preferred (the default).
    #[cfg(feature = "postgres-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres-tls")))]
    #[must_use]
    pub fn tls(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(std::sync::Arc::new(config));
        self
    }

    /// Connects over TLS, trusting the certificate authorities in `pem`
    /// (one or more PEM `CERTIFICATE` blocks, such as a managed server's CA
    /// bundle), with TLS required. The cryptography is the process's default
    /// rustls provider if the host installed one, else ring's.
    ///
    /// # Errors
    /// [`PostgresError::Config`] when `pem` holds no certificate or one
    /// that cannot be used as a root.
    #[cfg(feature = "postgres-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres-tls")))]
    pub fn tls_trusting_pem(mut self, pem: &[u8]) -> Result<Self, PostgresError> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let mut found = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| PostgresError::Config(format!("CA certificate PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| PostgresError::Config(format!("CA certificate: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(PostgresError::Config(
                "CA certificate PEM: no certificate".into(),
            ));
        }
        // The process's provider if the host installed one, else ring's.
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::new(ring_provider()));
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PostgresError::Config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        self.config
            .ssl_mode(tokio_postgres::config::SslMode::Require);
        Ok(self.tls(config))
    }

    /// Opens the pool, creates or migrates the schema, and reads the stored
    /// settings.
    ///
    /// # Errors
    /// [`PostgresError::Postgres`] when the server cannot be reached or
    /// refuses the schema, [`PostgresError::Config`] for settings the pool
    /// refuses, [`PostgresError::SchemaVersion`] for a database of a newer
    /// version.
    pub async fn connect(self) -> Result<PostgresStore, PostgresError> {
        let mut config = self.config;
        // Every statement is prepared once per connection, but planned for
        // its arguments each time: a plan made once for a generic array of
        // keys, while a table was small, walks it once it is large.
        let mut options = format!(
            "{} -c plan_cache_mode=force_custom_plan",
            config.get_options().unwrap_or_default()
        );
        if let Some(s) = &self.schema {
            // Created (if missing) by `migrate`, under its lock.
            options.push_str(&format!(" -c search_path={s}"));
        }
        config.options(options.trim());
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        #[cfg(feature = "postgres-tls")]
        let manager = match self.tls {
            Some(tls) => Manager::from_config(
                config,
                tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone()),
                manager_config,
            ),
            None => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        };
        #[cfg(not(feature = "postgres-tls"))]
        let manager = Manager::from_config(config, tokio_postgres::NoTls, manager_config);
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(self.wait)
            .create_timeout(self.create)
            .recycle_timeout(self.recycle)
            .build()
            .map_err(|e| PostgresError::Config(e.to_string()))?;
        PostgresStore::on_pool(pool, self.schema.as_deref(), self.normalization).await
    }
}

/// ring's cryptography for rustls: chosen over aws-lc-rs because it builds
/// without cmake; rustls 0.23.48 deprecates it for offering no
/// post-quantum key exchange (install another provider process-wide with
/// `CryptoProvider::install_default` to get one).
#[cfg(feature = "postgres-tls")]
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
