//! The running collector: its shared state, opening the data directory, and serving HTTP with a
//! graceful shutdown that lets the writer finish.

use std::future::Future;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rusqlite::params;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;
use vigil_control::{ControlConfig, LocalAddresses, SystemResolver, TargetPolicy};
use vigil_report::signed::{encode_public_key, key_id};

use crate::asn::AsnDb;
use crate::checkpoint::{Checkpointer, WalLimit};
use crate::config::Config;
use crate::error::CollectorError;
use crate::keys;
use crate::metrics::Metrics;
use crate::probe_keys::ProbeKeys;
use crate::ratelimit::Limits;
use crate::routes;
use crate::store::{self, ReadPool};
use crate::writer::Writer;

/// How long requests in flight may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// State shared by every handler.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub probe_keys: Arc<ProbeKeys>,
    pub writer: Writer,
    pub reads: ReadPool,
    pub metrics: Metrics,
    pub asn: Arc<AsnDb>,
    /// Per-client-network rate limits (control, enrollment, heavy reads, open enrollments).
    pub limits: Limits,
    /// The platform ids probes' summaries become observations for (`Config::known_platforms`).
    pub platforms: Arc<std::collections::HashSet<String>>,
    /// The current collector key (acks and statements are signed with it).
    pub collector_key: RwLock<SigningKey>,
    /// Serialises key rotations.
    pub rotation: tokio::sync::Mutex<()>,
    /// Threads used to verify a batch.
    pub parallelism: usize,
    /// Ingest stored something: the detection task runs a pass soon.
    pub detect_wanted: tokio::sync::Notify,
    /// This process's run, once serving (the collector's own uptime).
    pub uptime: crate::uptime::Uptime,
    /// The last clustering of the blockpage candidates (redone when they change).
    pub blockpages: crate::api_blockpages::Cache,
    /// The detector between detection passes and where it stopped reading (None until the
    /// first pass restores or builds one: `detection::pass`).
    pub detector: tokio::sync::Mutex<Option<crate::events::Incremental>>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn current_key(&self) -> SigningKey {
        self.collector_key.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Run a read query on a blocking thread.
    pub async fn read<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, crate::error::HttpError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.reads.with(f))
            .await
            .map_err(crate::error::HttpError::storage)?
            .map_err(crate::error::HttpError::storage)
    }
}

/// The addresses that are this collector's besides its interfaces' (which the field control reads
/// from the system itself): the listen address, the public URL's host's addresses (looked up now,
/// best effort; behind a 1:1 NAT the public address is on no interface) and the configured ones.
fn own_addresses(config: &Config) -> Vec<IpAddr> {
    let mut addrs = config.own_addresses.clone();
    if !config.listen.ip().is_unspecified() {
        addrs.push(config.listen.ip());
    }
    let host = config.public_url.as_deref().and_then(|u| url::Url::parse(u).ok());
    if let Some(url) = host {
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            Some(url::Host::Ipv4(ip)) => addrs.push(ip.into()),
            Some(url::Host::Ipv6(ip)) => addrs.push(ip.into()),
            Some(url::Host::Domain(name)) => {
                if let Ok(found) = (name, port).to_socket_addrs() {
                    addrs.extend(found.map(|a| a.ip()));
                }
            }
            None => {}
        }
    }
    addrs.sort();
    addrs.dedup();
    addrs
}

/// The control as deployed: system resolver, public web PKI, public targets only, never an
/// address of this host (every interface's, re-read as they change, and [`own_addresses`]).
fn field_control(config: &Config, asn: Arc<AsnDb>) -> Result<Arc<ControlConfig>, CollectorError> {
    let tls = vigil_control::public_roots_tls()
        .map_err(|e| CollectorError::Config(format!("control TLS configuration: {e}")))?;
    let interfaces = LocalAddresses::system().map_err(|e| CollectorError::Io {
        op: "list network interfaces (getifaddrs)",
        path: String::new(),
        source: e,
    })?;
    Ok(Arc::new(ControlConfig {
        resolver: Arc::new(SystemResolver),
        policy: TargetPolicy::public_only()
            .with_own_addresses(own_addresses(config))
            .with_local_interfaces(Arc::new(interfaces)),
        tls,
        timeout: config.control_timeout,
        asn_lookup: Arc::new(move |ip| asn.lookup(ip).asn),
    }))
}

/// Now, UTC, RFC 3339.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// An opened collector, ready to serve.
#[derive(Debug)]
pub struct Collector {
    state: AppState,
    writer_thread: JoinHandle<()>,
    checkpointer: Checkpointer,
    control: Arc<ControlConfig>,
}

impl Collector {
    /// Open (creating on first start) the data directory: database, key, ASN table.
    pub fn open(config: Config) -> Result<Collector, CollectorError> {
        let dir = &config.data_dir;
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| CollectorError::io("create", dir, e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let private = std::fs::Permissions::from_mode(0o700);
                std::fs::set_permissions(dir, private).map_err(|e| CollectorError::io("chmod", dir, e))?;
            }
        }
        let db_path = config.db_path();
        let conn = store::open_and_migrate(&db_path)?;
        let db_err = |source| CollectorError::Db { path: db_path.display().to_string(), source };
        let key_path = config.key_path();
        keys::recover_rotation(&key_path, |id| store::rotation_recorded(&conn, id).unwrap_or(false))?;
        let key = keys::load_or_create(&key_path)?;
        let vk = key.verifying_key();
        conn.execute(
            "INSERT OR IGNORE INTO collector_keys (key_id, public_key, created_at) VALUES (?1, ?2, ?3)",
            params![key_id(&vk), encode_public_key(&vk), now_rfc3339()],
        )
        .map_err(db_err)?;
        let probe_keys = Arc::new(ProbeKeys::load(&conn).map_err(db_err)?);
        let asn = Arc::new(match &config.asn_db {
            Some(path) => AsnDb::load(path)?,
            None => AsnDb::empty(),
        });
        let control = match &config.control {
            Some(c) => c.clone(),
            None => field_control(&config, asn.clone())?,
        };
        // The writer only appends to the WAL; the checkpointer copies it into the database, and
        // the writer restarts it between transactions once it passes the limit.
        let wal = WalLimit::new(&db_path, config.wal_limit_bytes);
        wal.configure(&conn).map_err(db_err)?;
        store::set_cache_bytes(&conn, config.writer_cache_bytes).map_err(db_err)?;
        let checkpointer = Checkpointer::start(&db_path)?;
        let (writer, writer_thread) = Writer::start(
            conn,
            probe_keys.clone(),
            config.detection.collector_quiet(),
            wal,
            crate::writer::Keep { blockpage_candidates: config.blockpage_max_candidates },
        )
        .map_err(|e| CollectorError::io("spawn writer", dir, e))?;
        let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
        let state = Arc::new(Shared {
            reads: ReadPool::new(db_path),
            limits: Limits::new(&config),
            platforms: Arc::new(config.known_platforms()),
            config,
            probe_keys,
            writer,
            metrics: Metrics::new(),
            asn,
            collector_key: RwLock::new(key),
            rotation: tokio::sync::Mutex::new(()),
            parallelism,
            detect_wanted: tokio::sync::Notify::new(),
            uptime: crate::uptime::Uptime::default(),
            blockpages: crate::api_blockpages::Cache::default(),
            detector: tokio::sync::Mutex::new(None),
        });
        Ok(Collector { state, writer_thread, checkpointer, control })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> axum::Router {
        let control = vigil_control::router(self.control.clone());
        routes::router(self.state.clone(), crate::control_auth::guard(self.state.clone(), control))
    }

    /// Stop without serving (offline commands): the writer finishes what it was given.
    pub fn close(self) {
        let Collector { state, writer_thread, checkpointer, control } = self;
        drop(control);
        drop(state);
        let _ = writer_thread.join();
        checkpointer.stop();
    }

    /// Serve on `listener` until `shutdown` completes, then drain connections and stop the writer.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), CollectorError> {
        let app = self.router();
        let limits = crate::limits::ServeLimits::from_config(&self.state.config);
        let draining = CancellationToken::new();
        let signal = draining.clone();
        // The run is recorded before detection's first pass, which reads it.
        crate::uptime::start_now(&self.state).await;
        let uptime = tokio::spawn(crate::uptime::run(self.state.clone(), draining.clone()));
        let detection = tokio::spawn(crate::detection::run(self.state.clone(), draining.clone()));
        tokio::spawn(async move {
            shutdown.await;
            signal.cancel();
        });
        // Requests in flight get SHUTDOWN_GRACE to finish; then the connections are dropped.
        crate::limits::serve(listener, app, limits, draining.clone(), SHUTDOWN_GRACE).await;
        draining.cancel();
        let _ = detection.await;
        let _ = uptime.await;
        let Collector { state, writer_thread, checkpointer, control } = self;
        drop(control);
        drop(state);
        // The writer ends once the last handle is gone; give stragglers a moment.
        let joined = tokio::task::spawn_blocking(move || {
            let _ = writer_thread.join();
            checkpointer.stop();
        });
        let _ = tokio::time::timeout(Duration::from_secs(10), joined).await;
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
