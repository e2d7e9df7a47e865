//! The one writer: a dedicated thread owns the write connection, takes commands from a channel,
//! runs every command waiting in the queue in one transaction, and answers only after COMMIT
//! returned. Whatever the collector acknowledges is therefore on disk (WAL, synchronous=FULL).
//! The one exception is asked for by name: a transaction holding only `insert_unsynced`
//! commands (a replay's) commits without waiting for the disk, and `sync` then makes everything
//! committed durable (the replay calls it before it returns).
//! Between transactions it keeps the WAL under its limit (`checkpoint::WalLimit`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction, params};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::WalLimit;
use crate::probe_keys::{ProbeKey, ProbeKeys};

/// Commands taken into one transaction, counted in measurements (a non-insert counts 1).
const MAX_GROUP_WEIGHT: usize = 20_000;

/// A verified measurement, ready to store. Holds no address: only its ASN and country.
#[derive(Debug, Clone)]
pub struct NewMeasurement {
    pub id: String,
    pub key_id: String,
    pub test_name: String,
    pub input: Option<String>,
    pub measurement_start_time: String,
    pub asn: u32,
    pub cc: String,
    pub claimed_asn: String,
    pub claimed_cc: String,
    pub format: String,
    pub payload: String,
    pub signature: String,
    /// Set only by `replay`: when the recorded measurement arrived (RFC 3339); None = the batch's.
    pub received_at: Option<String>,
    /// False for a summary of a platform the collector's battery does not know: stored as
    /// evidence, observed only as a sign of life (no platform observation, no timeline row).
    pub platform_known: bool,
    /// What `vigil_detect::obs::observe` reads from the payload, when the check already parsed
    /// it (`ingest::precheck`), so the writer does not parse the payload again; None: the writer
    /// parses it.
    pub parsed: Option<Parsed>,
}

/// The parts of a measurement's observation read from its payload: its `what` (None when the
/// payload yields no observation) and its meta. Everything else of the observation comes from
/// the stored row's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub what: Option<vigil_detect::What>,
    pub meta: vigil_detect::Meta,
}

impl Parsed {
    /// Parse what `observe` reads of a `test_name` payload (the same two functions it calls).
    pub fn of(test_name: &str, payload: &str) -> Parsed {
        Parsed::with(vigil_detect::obs::what_of(test_name, payload).ok(), test_name, payload)
    }

    /// With the `what` already parsed (`what_of`).
    pub fn with(what: Option<vigil_detect::What>, test_name: &str, payload: &str) -> Parsed {
        Parsed { what, meta: vigil_detect::obs::meta_of(test_name, payload) }
    }
}

/// The observation the writer stores for a measurement row: `observe(row)`, with the payload's
/// parts taken from `parsed` when given. A summary of a platform the battery does not know
/// (`platform_known` false) is only a sign of life, so probes cannot add platforms to the
/// timelines and pages.
pub fn observation_of(
    row: &vigil_detect::obs::StoredMeasurement<'_>,
    parsed: Option<&Parsed>,
    platform_known: bool,
) -> Option<vigil_detect::Observation> {
    let mut o = match parsed {
        None => vigil_detect::obs::observe(row).ok()?,
        Some(p) => vigil_detect::Observation {
            at: vigil_detect::obs::parse_utc(row.measurement_start_time)?,
            received_at: row.received_at,
            probe: row.key_id.to_string(),
            cc: row.cc.to_string(),
            asn: row.asn,
            measurement_id: Some(row.id.to_string()),
            what: p.what.clone()?,
            meta: p.meta.clone(),
        },
    };
    use vigil_detect::What;
    if !platform_known && matches!(o.what, What::Platform { .. } | What::Throttling { .. }) {
        o.what = What::Alive;
    }
    Some(o)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Accepted,
    /// The same id from the same key is already stored.
    Duplicate,
    /// The id is stored under another key.
    IdConflict,
    /// The key was revoked before this batch reached the writer.
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollOutcome {
    New,
    Existing,
    Revoked,
}

/// The write could not be committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreFailure {
    #[error("database write failed: {0}")]
    Db(String),
    #[error("the storage writer has stopped")]
    Gone,
}

type Reply<T> = oneshot::Sender<Result<T, StoreFailure>>;

enum Command {
    Insert {
        received_at: String,
        items: Vec<NewMeasurement>,
        /// Whether the COMMIT waits for the disk (false: `insert_unsynced`).
        synced: bool,
        reply: Reply<Vec<InsertOutcome>>,
    },
    /// Make everything committed so far durable.
    Sync {
        reply: Reply<()>,
    },
    Enroll {
        key_id: String,
        key: ProbeKey,
        public_key: String,
        software_version: String,
        now: String,
        reply: Reply<EnrollOutcome>,
    },
    Revoke {
        key_id: String,
        now: String,
        reply: Reply<Option<String>>,
    },
    Events {
        changes: Vec<vigil_detect::Change>,
        now: i64,
        /// The detector's place after the pass, saved with its events (`detect_store`).
        checkpoint: Option<crate::detect_store::Checkpoint>,
        reply: Reply<()>,
    },
    Ooni {
        rows: Vec<crate::ooni_store::OoniRow>,
        now: i64,
        reply: Reply<usize>,
    },
    Disclosures {
        parsed: crate::disclosures::Parsed,
        now: i64,
        reply: Reply<crate::disclosures_store::ImportReport>,
    },
    Uptime {
        op: crate::uptime::Op,
        reply: Reply<i64>,
    },
    Blockpages {
        op: crate::blockpages_store::Op,
        now: String,
        reply: Reply<bool>,
    },
    Rotate {
        old_key_id: String,
        new_key_id: String,
        new_public_key: String,
        statement: String,
        now: String,
        reply: Reply<()>,
    },
}

enum Outcome {
    Insert(Vec<InsertOutcome>),
    Enroll(EnrollOutcome),
    Revoke(Option<String>),
    Disclosures(crate::disclosures_store::ImportReport),
    Uptime(i64),
    Flag(bool),
    Count(usize),
    Unit,
}

/// Key-table changes of the running transaction, applied to `ProbeKeys` after COMMIT.
#[derive(Default)]
struct Pending {
    enrolled: HashMap<String, ProbeKey>,
    revoked: HashSet<String>,
}

/// Handle to the writer thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Command>,
}

/// What the writer keeps besides measurements: the blockpage candidates' cap.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    pub blockpage_candidates: usize,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl Writer {
    /// Start the writer thread; it ends when every `Writer` handle is dropped. Receipts
    /// `quiet` s or more apart record a quiet stretch between them (`uptime`). `conn` must be
    /// configured by `wal.configure`.
    pub fn start(
        conn: Connection,
        keys: Arc<ProbeKeys>,
        quiet: i64,
        wal: WalLimit,
        keep: Keep,
    ) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(1024);
        let handle = std::thread::Builder::new()
            .name("vigil-writer".into())
            .spawn(move || run(conn, keys, quiet, wal, keep, rx))?;
        Ok((Writer { tx }, handle))
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, StoreFailure> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| StoreFailure::Gone)?;
        rx.await.map_err(|_| StoreFailure::Gone)?
    }

    /// Store verified measurements; one outcome per item, in order.
    pub async fn insert(
        &self,
        received_at: String,
        items: Vec<NewMeasurement>,
    ) -> Result<Vec<InsertOutcome>, StoreFailure> {
        self.call(|reply| Command::Insert { received_at, items, synced: true, reply }).await
    }

    /// Store verified measurements as [`Writer::insert`] does, except that a transaction holding
    /// only such commands commits with `synchronous=NORMAL`: visible to readers at once, but on
    /// disk only at the next checkpoint or [`Writer::sync`]. For `replay`, which stores thousands
    /// of transactions nobody waits on and syncs before it returns; a transaction that also
    /// holds any other command (a probe's submission) commits with `synchronous=FULL`, which
    /// syncs the whole WAL, these frames included.
    pub async fn insert_unsynced(
        &self,
        received_at: String,
        items: Vec<NewMeasurement>,
    ) -> Result<Vec<InsertOutcome>, StoreFailure> {
        self.call(|reply| Command::Insert { received_at, items, synced: false, reply }).await
    }

    /// Make everything committed so far durable: the WAL file and the database file are synced
    /// (after the transactions before this command).
    pub async fn sync(&self) -> Result<(), StoreFailure> {
        self.call(|reply| Command::Sync { reply }).await
    }

    /// Enroll a key (idempotent); a revoked key stays revoked.
    pub async fn enroll(
        &self,
        key_id: String,
        key: ProbeKey,
        public_key: String,
        software_version: String,
        now: String,
    ) -> Result<EnrollOutcome, StoreFailure> {
        self.call(|reply| Command::Enroll { key_id, key, public_key, software_version, now, reply }).await
    }

    /// Write a detection pass's new events and revisions (one transaction).
    pub async fn write_events(&self, changes: Vec<vigil_detect::Change>, now: i64) -> Result<(), StoreFailure> {
        self.write_pass(changes, now, None).await
    }

    /// Write a detection pass's new events and revisions and, when given, the detector's
    /// checkpoint (one transaction: the state saved is the one the events came from).
    pub async fn write_pass(
        &self,
        changes: Vec<vigil_detect::Change>,
        now: i64,
        checkpoint: Option<crate::detect_store::Checkpoint>,
    ) -> Result<(), StoreFailure> {
        self.call(|reply| Command::Events { changes, now, checkpoint, reply }).await
    }

    /// Store imported OONI measurements (`ooni_store`); the answer is how many were new.
    pub async fn import_ooni(&self, rows: Vec<crate::ooni_store::OoniRow>, now: i64) -> Result<usize, StoreFailure> {
        self.call(|reply| Command::Ooni { rows, now, reply }).await
    }

    /// Store imported disclosures (the good rows of `parsed`), in the writer's transaction.
    pub async fn import_disclosures(
        &self,
        parsed: crate::disclosures::Parsed,
        now: i64,
    ) -> Result<crate::disclosures_store::ImportReport, StoreFailure> {
        self.call(|reply| Command::Disclosures { parsed, now, reply }).await
    }

    /// Record the collector's own uptime (`uptime::apply`; the answer is its run's seq).
    pub async fn uptime(&self, op: crate::uptime::Op) -> Result<i64, StoreFailure> {
        self.call(|reply| Command::Uptime { op, reply }).await
    }

    /// Promote or withdraw a blockpage fingerprint (`blockpages_store::apply`).
    pub async fn blockpages(&self, op: crate::blockpages_store::Op, now: String) -> Result<bool, StoreFailure> {
        self.call(|reply| Command::Blockpages { op, now, reply }).await
    }

    /// Revoke a key; the answer is its revocation time, None when the key is unknown.
    pub async fn revoke(&self, key_id: String, now: String) -> Result<Option<String>, StoreFailure> {
        self.call(|reply| Command::Revoke { key_id, now, reply }).await
    }

    /// Record a collector key rotation (`statement` is the JSON of the signed statement).
    pub async fn rotate(
        &self,
        old_key_id: String,
        new_key_id: String,
        new_public_key: String,
        statement: String,
        now: String,
    ) -> Result<(), StoreFailure> {
        self.call(|reply| Command::Rotate { old_key_id, new_key_id, new_public_key, statement, now, reply }).await
    }
}

fn weight(cmd: &Command) -> usize {
    match cmd {
        Command::Insert { items, .. } => items.len().max(1),
        Command::Disclosures { parsed, .. } => parsed.rows.len().max(1),
        _ => 1,
    }
}

/// The measurement bytes a command writes (what a transaction's WAL frames grow with).
fn bytes(cmd: &Command) -> usize {
    match cmd {
        Command::Insert { items, .. } => items.iter().map(|m| m.payload.len() + m.signature.len()).sum(),
        _ => 0,
    }
}

fn run(
    mut conn: Connection,
    keys: Arc<ProbeKeys>,
    quiet: i64,
    wal: WalLimit,
    keep: Keep,
    mut rx: mpsc::Receiver<Command>,
) {
    let max_bytes = wal.group_bytes();
    while let Some(first) = rx.blocking_recv() {
        let mut total = weight(&first);
        let mut size = bytes(&first);
        let mut group = vec![first];
        while total < MAX_GROUP_WEIGHT && size < max_bytes {
            match rx.try_recv() {
                Ok(cmd) => {
                    total += weight(&cmd);
                    size += bytes(&cmd);
                    group.push(cmd);
                }
                Err(_) => break,
            }
        }
        let mut pending = Pending::default();
        // FULL unless every command asked not to wait for the disk; set for each transaction,
        // so a failure to set it fails the transaction rather than weakening the next one.
        let level = synchronous(&group);
        let done = conn
            .pragma_update(None, "synchronous", level)
            .and_then(|()| execute_group(&mut conn, &keys, quiet, keep, &group, &mut pending));
        match done {
            Ok(outcomes) => {
                for (key_id, key) in pending.enrolled {
                    keys.insert(key_id, key);
                }
                for key_id in &pending.revoked {
                    keys.revoke(key_id);
                }
                // Committed; a `sync` in the group is answered once the files are synced.
                let synced = match group.iter().any(|c| matches!(c, Command::Sync { .. })) {
                    true => sync_files(&conn).map_err(|e| format!("syncing the database files: {e}")),
                    false => Ok(()),
                };
                for (cmd, outcome) in group.into_iter().zip(outcomes) {
                    match (&cmd, &synced) {
                        (Command::Sync { .. }, Err(e)) => reply_err(cmd, StoreFailure::Db(e.clone())),
                        _ => reply_ok(cmd, outcome),
                    }
                }
                // Acknowledged; now, before the next transaction, keep the WAL bounded.
                wal.after_commit(&conn);
            }
            Err(e) => {
                let failure = StoreFailure::Db(e.to_string());
                for cmd in group {
                    reply_err(cmd, failure.clone());
                }
            }
        }
    }
}

/// The `synchronous` level of a group's transaction: NORMAL only when every command in it is an
/// unsynced insert.
fn synchronous(group: &[Command]) -> &'static str {
    if group.iter().all(|c| matches!(c, Command::Insert { synced: false, .. })) { "NORMAL" } else { "FULL" }
}

/// Sync the database's WAL file (when there is one) and its file to disk.
fn sync_files(conn: &Connection) -> std::io::Result<()> {
    let Some(path) = conn.path().filter(|p| !p.is_empty()) else { return Ok(()) };
    let path = std::path::Path::new(path);
    match std::fs::File::open(crate::checkpoint::wal_path(path)) {
        Ok(wal) => wal.sync_all()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::File::open(path)?.sync_all()
}

/// Run the group in one transaction; Err rolls everything back.
fn execute_group(
    conn: &mut Connection,
    keys: &ProbeKeys,
    quiet: i64,
    keep: Keep,
    group: &[Command],
    pending: &mut Pending,
) -> rusqlite::Result<Vec<Outcome>> {
    let tx = conn.transaction()?;
    let mut outcomes = Vec::with_capacity(group.len());
    for cmd in group {
        outcomes.push(execute(&tx, keys, quiet, keep, cmd, pending)?);
    }
    tx.commit()?;
    Ok(outcomes)
}

fn is_revoked(keys: &ProbeKeys, pending: &Pending, key_id: &str) -> bool {
    pending.revoked.contains(key_id) || keys.get(key_id).is_some_and(|k| k.revoked)
}

fn execute(
    tx: &Transaction<'_>,
    keys: &ProbeKeys,
    quiet: i64,
    keep: Keep,
    cmd: &Command,
    pending: &mut Pending,
) -> rusqlite::Result<Outcome> {
    match cmd {
        Command::Insert { received_at, items, .. } => {
            let outcomes = insert(tx, keys, pending, received_at, items, keep)?;
            // The collector heard from someone (its own uptime): live items at the batch's time,
            // replayed ones at their recorded times.
            let replayed: Vec<i64> = items
                .iter()
                .filter_map(|m| m.received_at.as_deref().and_then(crate::events::rfc3339_to_unix))
                .collect();
            let live: Vec<i64> = match crate::events::rfc3339_to_unix(received_at) {
                Some(t) if items.iter().any(|m| m.received_at.is_none()) => vec![t],
                _ => Vec::new(),
            };
            crate::uptime::heard(tx, &live, &replayed, quiet)?;
            Ok(Outcome::Insert(outcomes))
        }
        Command::Uptime { op, .. } => crate::uptime::apply(tx, *op).map(Outcome::Uptime),
        Command::Sync { .. } => Ok(Outcome::Unit),
        Command::Enroll { key_id, key, public_key, software_version, now, .. } => {
            if is_revoked(keys, pending, key_id) {
                return Ok(Outcome::Enroll(EnrollOutcome::Revoked));
            }
            let n = tx.execute(
                "INSERT INTO probes (key_id, public_key, software_version, enrolled_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key_id) DO UPDATE SET software_version = excluded.software_version",
                params![key_id, public_key, software_version, now],
            )?;
            let existed = keys.get(key_id).is_some() || pending.enrolled.contains_key(key_id);
            pending.enrolled.insert(key_id.clone(), *key);
            Ok(Outcome::Enroll(if existed || n == 0 { EnrollOutcome::Existing } else { EnrollOutcome::New }))
        }
        Command::Revoke { key_id, now, .. } => {
            tx.execute(
                "UPDATE probes SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL",
                params![key_id, now],
            )?;
            let at: Option<String> = rusqlite::OptionalExtension::optional(tx.query_row(
                "SELECT revoked_at FROM probes WHERE key_id = ?1",
                params![key_id],
                |r| r.get(0),
            ))?
            .flatten();
            if at.is_some() {
                pending.revoked.insert(key_id.clone());
            }
            Ok(Outcome::Revoke(at))
        }
        Command::Rotate { old_key_id, new_key_id, new_public_key, statement, now, .. } => {
            tx.execute("UPDATE collector_keys SET retired_at = ?2 WHERE key_id = ?1", params![old_key_id, now])?;
            tx.execute(
                "INSERT INTO collector_keys (key_id, public_key, created_at) VALUES (?1, ?2, ?3)",
                params![new_key_id, new_public_key, now],
            )?;
            tx.execute(
                "INSERT INTO key_rotations (new_key_id, statement) VALUES (?1, ?2)",
                params![new_key_id, statement],
            )?;
            Ok(Outcome::Unit)
        }
        Command::Blockpages { op, now, .. } => crate::blockpages_store::apply(tx, op, now).map(Outcome::Flag),
        Command::Events { changes, now, checkpoint, .. } => {
            crate::events::write_changes(tx, changes, *now)?;
            if let Some(cp) = checkpoint {
                crate::detect_store::save(tx, cp)?;
            }
            Ok(Outcome::Unit)
        }
        Command::Ooni { rows, now, .. } => crate::ooni_store::insert(tx, rows, *now).map(Outcome::Count),
        Command::Disclosures { parsed, now, .. } => {
            crate::disclosures_store::import_in(tx, parsed, *now).map(Outcome::Disclosures)
        }
    }
}

fn insert(
    tx: &Transaction<'_>,
    keys: &ProbeKeys,
    pending: &Pending,
    received_at: &str,
    items: &[NewMeasurement],
    keep: Keep,
) -> rusqlite::Result<Vec<InsertOutcome>> {
    let mut candidates = 0;
    let mut put = tx.prepare_cached(
        "INSERT INTO measurements (id, key_id, test_name, input, measurement_start_time, received_at, asn, cc,
             claimed_asn, claimed_cc, format, payload, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT(id) DO NOTHING",
    )?;
    let mut owner = tx.prepare_cached("SELECT key_id FROM measurements WHERE id = ?1")?;
    let mut stored: HashMap<&str, i64> = HashMap::new();
    let mut outcomes = Vec::with_capacity(items.len());
    for m in items {
        if is_revoked(keys, pending, &m.key_id) {
            outcomes.push(InsertOutcome::Revoked);
            continue;
        }
        let arrived = m.received_at.as_deref().unwrap_or(received_at);
        let n = put.execute(params![
            m.id,
            m.key_id,
            m.test_name,
            m.input,
            m.measurement_start_time,
            arrived,
            m.asn,
            m.cc,
            m.claimed_asn,
            m.claimed_cc,
            m.format,
            m.payload,
            m.signature
        ])?;
        let outcome = if n == 1 {
            // The observation detection reads, in the same transaction.
            let row = vigil_detect::obs::StoredMeasurement {
                id: &m.id,
                key_id: &m.key_id,
                test_name: &m.test_name,
                measurement_start_time: &m.measurement_start_time,
                received_at: crate::events::rfc3339_to_unix(arrived).unwrap_or_default(),
                asn: m.asn,
                cc: &m.cc,
                payload: &m.payload,
            };
            // ... and the hourly counts timelines are drawn from.
            if let Some(o) = observation_of(&row, m.parsed.as_ref(), m.platform_known) {
                crate::observation_store::insert_observation(tx, &m.test_name, &o)?;
                crate::timeline::record(tx, &o, &m.key_id)?;
            }
            // ... and, for an unexplained http-diff page, a blockpage candidate: extracted here
            // so candidates and measurements never disagree (only such pages pay the parse).
            if keep.blockpage_candidates > 0
                && m.payload.contains("http-diff")
                && let Some(page) = crate::blockpages::candidate(&m.test_name, &m.payload)
            {
                let src = crate::blockpages_store::Source {
                    measurement_id: &m.id,
                    key_id: &m.key_id,
                    cc: &m.cc,
                    asn: m.asn,
                    seen_at: &m.measurement_start_time,
                };
                crate::blockpages_store::add(tx, &src, &page)?;
                candidates += 1;
            }
            InsertOutcome::Accepted
        } else {
            let existing: String = owner.query_row(params![m.id], |r| r.get(0))?;
            if existing == m.key_id { InsertOutcome::Duplicate } else { InsertOutcome::IdConflict }
        };
        // Per key: how many were added (and that it was seen, for `last_seen`).
        match outcome {
            InsertOutcome::Accepted => *stored.entry(&m.key_id).or_default() += 1,
            InsertOutcome::Duplicate => {
                stored.entry(&m.key_id).or_default();
            }
            InsertOutcome::IdConflict | InsertOutcome::Revoked => {}
        }
        outcomes.push(outcome);
    }
    if candidates > 0 {
        crate::blockpages_store::prune(tx, keep.blockpage_candidates)?;
    }
    let mut seen =
        tx.prepare_cached("UPDATE probes SET measurements = measurements + ?2, last_seen = ?3 WHERE key_id = ?1")?;
    for (key_id, n) in stored {
        seen.execute(params![key_id, n, received_at])?;
    }
    Ok(outcomes)
}

fn reply_ok(cmd: Command, outcome: Outcome) {
    // A caller that went away (client disconnected) no longer needs the answer.
    match (cmd, outcome) {
        (Command::Insert { reply, .. }, Outcome::Insert(v)) => drop(reply.send(Ok(v))),
        (Command::Enroll { reply, .. }, Outcome::Enroll(v)) => drop(reply.send(Ok(v))),
        (Command::Revoke { reply, .. }, Outcome::Revoke(v)) => drop(reply.send(Ok(v))),
        (Command::Rotate { reply, .. }, Outcome::Unit) => drop(reply.send(Ok(()))),
        (Command::Sync { reply, .. }, Outcome::Unit) => drop(reply.send(Ok(()))),
        (Command::Events { reply, .. }, Outcome::Unit) => drop(reply.send(Ok(()))),
        (Command::Disclosures { reply, .. }, Outcome::Disclosures(v)) => drop(reply.send(Ok(v))),
        (Command::Uptime { reply, .. }, Outcome::Uptime(v)) => drop(reply.send(Ok(v))),
        (Command::Blockpages { reply, .. }, Outcome::Flag(v)) => drop(reply.send(Ok(v))),
        (Command::Ooni { reply, .. }, Outcome::Count(v)) => drop(reply.send(Ok(v))),
        (cmd, _) => reply_err(cmd, StoreFailure::Db("internal: outcome does not match command".into())),
    }
}

fn reply_err(cmd: Command, failure: StoreFailure) {
    match cmd {
        Command::Insert { reply, .. } => drop(reply.send(Err(failure))),
        Command::Enroll { reply, .. } => drop(reply.send(Err(failure))),
        Command::Revoke { reply, .. } => drop(reply.send(Err(failure))),
        Command::Rotate { reply, .. } => drop(reply.send(Err(failure))),
        Command::Sync { reply, .. } => drop(reply.send(Err(failure))),
        Command::Events { reply, .. } => drop(reply.send(Err(failure))),
        Command::Disclosures { reply, .. } => drop(reply.send(Err(failure))),
        Command::Uptime { reply, .. } => drop(reply.send(Err(failure))),
        Command::Blockpages { reply, .. } => drop(reply.send(Err(failure))),
        Command::Ooni { reply, .. } => drop(reply.send(Err(failure))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(synced: bool) -> Command {
        Command::Insert { received_at: String::new(), items: Vec::new(), synced, reply: oneshot::channel().0 }
    }

    /// Only a transaction of unsynced inserts alone skips waiting for the disk: with a probe's
    /// submission, a key's enrollment or a `sync` in it, it commits with synchronous=FULL.
    #[test]
    fn a_transaction_waits_for_the_disk_unless_all_of_it_is_unsynced_inserts() {
        assert_eq!(synchronous(&[insert(false), insert(false)]), "NORMAL");
        assert_eq!(synchronous(&[insert(false), insert(true)]), "FULL");
        assert_eq!(synchronous(&[insert(true)]), "FULL");
        assert_eq!(synchronous(&[insert(false), Command::Sync { reply: oneshot::channel().0 }]), "FULL");
        let revoke = Command::Revoke { key_id: "k".into(), now: String::new(), reply: oneshot::channel().0 };
        assert_eq!(synchronous(&[revoke, insert(false)]), "FULL");
    }

    /// Unsynced inserts are visible to readers as soon as they are answered (the replay's
    /// detection pass reads them next), and `sync` answers after them.
    #[tokio::test]
    async fn unsynced_inserts_are_visible_at_once_and_sync_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.sqlite");
        let conn = crate::store::open_and_migrate(&path).unwrap();
        let wal = WalLimit::new(&path, 64 << 20);
        wal.configure(&conn).unwrap();
        let keys = Arc::new(ProbeKeys::default());
        let (writer, thread) = Writer::start(conn, keys, 600, wal, Keep { blockpage_candidates: 0 }).unwrap();
        let m = NewMeasurement {
            id: "m1".into(),
            key_id: "k1".into(),
            test_name: "t".into(),
            input: None,
            measurement_start_time: "2026-01-01 00:00:00".into(),
            asn: 64500,
            cc: "NL".into(),
            claimed_asn: "AS64500".into(),
            claimed_cc: "NL".into(),
            format: vigil_report::MEASUREMENT_FORMAT.into(),
            payload: "{}".into(),
            signature: "s".into(),
            received_at: None,
            platform_known: true,
            parsed: None,
        };
        let stored = writer.insert_unsynced("2026-01-01T00:01:00Z".into(), vec![m]).await.unwrap();
        assert_eq!(stored, vec![InsertOutcome::Accepted]);
        let reader = Connection::open(&path).unwrap();
        let count =
            |table: &str| reader.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0));
        assert_eq!((count("measurements").unwrap(), count("observations").unwrap()), (1, 1));
        writer.sync().await.unwrap();
        drop(writer);
        thread.join().unwrap();
    }
}
