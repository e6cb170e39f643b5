//! The database handle: sqlx's Any driver over SQLite (default) or PostgreSQL.
//!
//! One set of portable queries serves both backends (`$n` placeholders, integers, text).
//! On SQLite all writes go through a single-connection pool and start with
//! `BEGIN IMMEDIATE`, so concurrent requests queue for the write lock instead of failing
//! with "database is locked"; readers use a separate pool and never block writers (WAL).

use crate::domain::ChangeId;
use crate::domain::ids::TokenId;
use crate::domain::time::Timestamp;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// Whether a statement whose best plan depends on its values (optional filters such as
    /// `$n IS NULL OR …`, the viewer's teams, a search term's rarity) may stay prepared. Not
    /// on PostgreSQL: such a statement is sent unnamed, so it is planned for its values on
    /// every call (the generic plan PostgreSQL switches a prepared statement to after five
    /// runs made the portfolio 50× slower, when its team filter was `$t IS NULL OR …`).
    /// Every other statement keeps its plan: planning them on each call was 38 % of the
    /// change page's CPU. SQLite plans without the values either way. A new statement of
    /// that kind asks for it with `.persistent(db.backend().keeps_filtered_plans())`, or
    /// writes what its plan depends on into its SQL, as the portfolio's pages, counts and
    /// cycle times do with their team and viewer (`portfolio::Shape`).
    pub fn keeps_filtered_plans(self) -> bool {
        self == Self::Sqlite
    }

    /// The backend a connection talks to.
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
}

/// Pool sizes and timeouts.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// Connections for reads (and, on PostgreSQL, writes).
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered "unavailable".
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the longest a statement may run (waiting for locks included)
    /// before it is cancelled and its request answered "unavailable"; `None` for no limit.
    /// Migrations run without it.
    pub statement_timeout: Option<Duration>,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: 8, acquire_timeout: Duration::from_secs(5), statement_timeout: None }
    }
}

/// The key spaces of PostgreSQL advisory locks (the first half of a two-part key).
#[derive(Clone, Copy, Debug)]
#[repr(i32)]
pub enum LockSpace {
    /// The audit chain: one appender at a time.
    AuditChain = 7201,
    /// Login throttling: counting failures and deciding on the next attempt.
    LoginThrottle = 7202,
    /// An idempotency key, by its hash.
    IdempotencyKey = 7203,
    /// A team's webhooks while one is added: its count against the cap, and its keys.
    TeamWebhooks = 7204,
    /// A team's incidents while one is recorded: finding one by its external id.
    TeamIncidents = 7205,
    /// Single sign-on: linking an identity at its first sign-in (two tabs signing in at once
    /// create one user).
    SignIn = 7206,
}

/// Set when the database server cannot be reached (a refused or broken connection, a
/// shutdown), cleared by [`Db::back`]: while set, requests to PostgreSQL are answered 503 at
/// once instead of each waiting out the pool's acquire timeout.
static UNREACHABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Whether a request is checking, right now, whether the database is back.
static CHECKING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Wakes every request in flight when the database is found unreachable ([`Db::lost`]).
static LOST: tokio::sync::Notify = tokio::sync::Notify::const_new();
/// When a request last checked, with a fresh connection, whether the database still answers
/// ([`process_ms`]): one check in [`PROBE_EVERY`] for all of them.
static LAST_PROBE: AtomicU64 = AtomicU64::new(0);

/// How long a request runs before it asks whether the database is still there: pool
/// connections that PostgreSQL closed are found at once, but sqlx retries a refused new
/// connection until the pool's acquire timeout (5 s), twice for a page that reads twice.
const SLOW_REQUEST: Duration = Duration::from_millis(150);
/// How often requests in flight check, at most, whether the database still answers.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long such a check waits for a connection: a refused one is known at once; no answer
/// within this proves nothing (a busy machine), and is left to the pool's own timeouts.
const PROBE_PATIENCE: Duration = Duration::from_millis(500);

/// What a check with a fresh connection found ([`Db::reach`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// It connected and answered.
    Answers,
    /// The connection was refused or broken, or the server is shutting down: it is away.
    Gone,
    /// No answer in time, or a refusal from a server that is there: nothing is known.
    Unknown,
}

/// Records that the database server could not be reached, and answers every request still
/// waiting for it ([`Db::lost`]).
pub fn note_unreachable() {
    if !UNREACHABLE.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!("database unreachable: requests are answered 503 until it is back");
    }
    LOST.notify_waiters();
}

/// Set when a write fails for want of disk or with an I/O error, cleared when
/// [`Db::writable`] sees a write work again. Process-wide, since the storage is: a false
/// alarm costs one probe write.
static WRITE_FAULT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that a write failed for want of disk or with an I/O error.
pub fn note_write_fault() {
    WRITE_FAULT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Takes PostgreSQL's transaction-scoped advisory lock `(space, key)`; on SQLite, nothing:
/// its single writer already serialises every write transaction.
pub async fn advisory_lock(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    space: LockSpace,
    key: i32,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(space as i32)
            .bind(key)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Pools for reads and writes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// Where to connect to see whether the database is back, around the pools.
    url: std::sync::Arc<str>,
}

/// Applied to every SQLite connection: WAL so readers don't block the writer, enforced
/// foreign keys, and a busy timeout as the last line of defence against lock errors.
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// How long an SQLite pool may go unused before its connections are closed.
const SQLITE_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Milliseconds since this process first asked, for [`touch`]'s stamps.
fn process_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    u64::try_from(START.get_or_init(std::time::Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Stamps a pool as used now.
fn touch(used: &AtomicU64) {
    used.store(process_ms(), Ordering::Relaxed);
}

/// Closes an SQLite pool's idle connections once it has gone unused for
/// [`SQLITE_IDLE_TIMEOUT`]: each keeps a page cache and a thread of its own, so what a burst
/// took comes back soon after it, and the next request opens one in about a millisecond.
/// (sqlx's own idle timeout is not used: see `Db::connect`.) At most the pool's size is
/// taken per round, never its idle count, which is what wraps.
fn close_when_idle(pool: AnyPool, used: Arc<AtomicU64>) {
    tokio::spawn(async move {
        let max = pool.options().get_max_connections();
        while !pool.is_closed() {
            tokio::time::sleep(SQLITE_IDLE_TIMEOUT / 2).await;
            let idle_for = process_ms().saturating_sub(used.load(Ordering::Relaxed));
            if u128::from(idle_for) < SQLITE_IDLE_TIMEOUT.as_millis() {
                continue;
            }
            for _ in 0..max {
                let Some(conn) = pool.try_acquire() else { break };
                let _ = conn.close().await;
            }
        }
    });
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`). For SQLite the file and its
    /// parent directory are created when missing.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            sqlx::Error::Configuration("database URL must start with sqlite: or postgres://".into())
        })?;
        let statement_timeout = options.statement_timeout.map_or(0, |t| t.as_millis().max(1));
        let pool = |max: u32, used: Arc<AtomicU64>| {
            let connected = used.clone();
            AnyPoolOptions::new()
                // No idle timeout and no maximum lifetime, so sqlx runs no maintenance task:
                // in sqlx 0.8.6 that task can read the pool's idle count after it wrapped below
                // zero (a connection returned while another is taken) and then spin a worker
                // thread at 100% for good (sqlx issue 3645). It did, in the dashboard bench.
                .idle_timeout(None)
                .max_lifetime(None)
                .max_connections(max)
                .acquire_timeout(options.acquire_timeout)
                .after_connect(move |conn, _meta| {
                    touch(&connected);
                    Box::pin(async move {
                        match backend {
                            Backend::Sqlite => conn.execute(SQLITE_PRAGMAS).await?,
                            // A slow or locked-up database answers "unavailable" within the
                            // statement timeout instead of holding the request. No JIT: it
                            // compiles a statement whose estimated cost is high, which for these
                            // short statements only adds latency (a range read estimated at
                            // 33,000 rows took 115 ms, 114 of them compiling, for 30 rows).
                            // Random reads cost little more than sequential ones here (the data
                            // a page reads is cached or on SSD), not the four times PostgreSQL's
                            // default assumes for spinning disks: with it, a team's gaps were
                            // found by reading every failure mode (3 ms) instead of its open
                            // changes' (0.8 ms), and their prepared plan was worse still.
                            // (Statements with optional filters: `Backend::keeps_filtered_plans`.)
                            Backend::Postgres => {
                                conn.execute(&*format!("SET statement_timeout = {statement_timeout}"))
                                    .await?;
                                conn.execute("SET jit = off").await?;
                                conn.execute("SET random_page_cost = 1.1").await?
                            }
                        };
                        Ok(())
                    })
                })
                // A connection still in a transaction is never handed out again. After a failed
                // write (a full disk, an I/O error) SQLite may roll the transaction back itself,
                // so sqlx's own rollback fails and it would keep counting a transaction that no
                // longer exists; every later write on that connection would fail. Discarded,
                // it is replaced by a fresh one, and writes resume once the fault is gone.
                .before_acquire(move |conn, _meta| {
                    touch(&used);
                    Box::pin(async move { Ok(!conn.is_in_transaction()) })
                })
        };
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url(url)?;
                // No ping before each use: a connection is a thread of this process on a local
                // file, not a socket that can go stale, and the ping was a second handover to
                // that thread for every query.
                let pool = async |max: u32| {
                    let used = Arc::new(AtomicU64::new(0));
                    let pool = pool(max, used.clone()).test_before_acquire(false).connect(&url).await?;
                    close_when_idle(pool.clone(), used);
                    Ok::<_, sqlx::Error>(pool)
                };
                // The writer is created first so WAL mode is set before readers open.
                let write = pool(1).await?;
                let read = pool(options.max_connections).await?;
                Ok(Self { backend, read, write, url: url.into() })
            }
            Backend::Postgres => {
                let shared = pool(options.max_connections, Arc::default()).connect(url).await?;
                Ok(Self { backend, read: shared.clone(), write: shared, url: url.into() })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads.
    pub fn read(&self) -> &AnyPool {
        &self.read
    }

    /// The pool every write goes through (on SQLite, one connection): a transaction on it
    /// is a `write::Write`, begun by `Db::begin_write`.
    pub(super) fn write_pool(&self) -> &AnyPool {
        &self.write
    }

    /// Refreshes PostgreSQL's planner statistics after a bulk load, as its autovacuum soon
    /// would. SQLite keeps none unless asked, and is left as a server runs it.
    pub async fn analyze(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE").execute(&self.write).await?;
        }
        Ok(())
    }

    /// Writes a consistent copy of the whole SQLite database to `path` (`VACUUM INTO`),
    /// while writers go on.
    pub async fn vacuum_into(&self, path: &str) -> Result<(), sqlx::Error> {
        sqlx::query("VACUUM INTO $1").bind(path).execute(self.read()).await.map(drop)
    }

    /// Serialises writers that must see a change's evidence and status as they commit (an
    /// upload touching the change and its sign-off). SQLite's single writer already does;
    /// PostgreSQL locks the changes' rows, in id order so that two writers never deadlock.
    /// Writers of other changes, of the same team too, go on in parallel.
    pub async fn lock_changes(
        &self,
        conn: &mut sqlx::AnyConnection,
        ids: &[ChangeId],
    ) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres && !ids.is_empty() {
            let list = (1..=ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
            let sql = format!("SELECT id FROM changes WHERE id IN ({list}) ORDER BY id FOR UPDATE");
            ids.iter().fold(sqlx::query(&sql), |q, id| q.bind(id)).fetch_all(conn).await?;
        }
        Ok(())
    }

    /// Serialises requests with the same idempotency key (on PostgreSQL, across instances),
    /// so the second sees the first's stored reply. A hash collision only serialises more.
    pub async fn lock_idempotency_key(
        &self,
        conn: &mut sqlx::AnyConnection,
        token: TokenId,
        key: &str,
    ) -> Result<(), sqlx::Error> {
        use sha2::Digest;
        let digest = sha2::Sha256::new().chain_update(token.0.to_le_bytes()).chain_update(key).finalize();
        let hashed = i32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
        advisory_lock(conn, self.backend, LockSpace::IdempotencyKey, hashed).await
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// A connection of its own for migrations, outside the pool and without the statement
    /// timeout: a migration rewriting a large table may rightly take longer than a request.
    async fn migration_connection(&self) -> Result<sqlx::AnyConnection, sqlx::Error> {
        let mut conn = self.write.acquire().await?.detach();
        if self.backend == Backend::Postgres {
            conn.execute("SET statement_timeout = 0").await?;
        }
        Ok(conn)
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let mut conn = self.migration_connection().await?;
        self.migrator().run(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }

    /// Reverts migrations down to (excluding) `target`; `0` reverts everything.
    pub async fn migrate_down(&self, target: i64) -> Result<(), sqlx::migrate::MigrateError> {
        let mut conn = self.migration_connection().await?;
        self.migrator().undo(&mut conn, target).await?;
        conn.close().await?;
        Ok(())
    }

    /// What `migrate_down(target)` would revert, newest first: each applied migration newer
    /// than `target`, with the tables (and their rows) and columns its down script drops.
    pub async fn revert_plan(&self, target: i64) -> Result<Vec<Revert>, sqlx::migrate::MigrateError> {
        use sqlx::migrate::Migrate;
        // Read the way `migrate_down` (sqlx's `undo`) reads it, so both agree on what is applied.
        let mut applied = {
            let mut conn = self.write.acquire().await?;
            conn.ensure_migrations_table().await?;
            conn.list_applied_migrations().await?
        };
        applied.sort_by_key(|m| std::cmp::Reverse(m.version));
        let mut plan = Vec::new();
        for version in applied.into_iter().map(|m| m.version).filter(|v| *v > target) {
            let Some(down) =
                self.migrator().iter().find(|m| m.version == version && m.migration_type.is_down_migration())
            else {
                continue;
            };
            let Dropped { tables: dropped, rebuilt, columns } = dropped_by(&down.sql);
            let mut tables = Vec::with_capacity(dropped.len());
            for table in dropped {
                let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&self.read)
                    .await?;
                tables.push((table, rows));
            }
            plan.push(Revert {
                version,
                description: down.description.to_string(),
                tables,
                rebuilt,
                columns,
            });
        }
        Ok(plan)
    }

    /// Whether requests should go on to the database: true unless it was found unreachable
    /// (PostgreSQL only). Then one request at a time opens a fresh connection, outside the
    /// pools, for at most `patience`; if that works the mark is cleared. Every other request
    /// meanwhile is answered false at once.
    pub async fn back(&self, patience: Duration) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.backend != Backend::Postgres || !UNREACHABLE.load(Relaxed) {
            return true;
        }
        if CHECKING.swap(true, Relaxed) {
            return false;
        }
        /// Lets the next request check, however this one ends (a client that went away drops
        /// its request mid-check).
        struct Checked;
        impl Drop for Checked {
            fn drop(&mut self) {
                CHECKING.store(false, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _checked = Checked;
        self.recheck(patience).await == Reach::Answers
    }

    /// Checks with a fresh connection now ([`Db::reach`]) and marks the database away or
    /// back by what that finds.
    pub async fn recheck(&self, patience: Duration) -> Reach {
        let reach = self.reach(patience).await;
        match reach {
            Reach::Gone => note_unreachable(),
            Reach::Answers if UNREACHABLE.swap(false, std::sync::atomic::Ordering::Relaxed) => {
                tracing::info!("database reachable again");
            }
            Reach::Answers | Reach::Unknown => {}
        }
        reach
    }

    /// Whether the database answers a fresh connection, outside the pools, within `patience`
    /// (PostgreSQL: the pools' connections may be older than an outage). SQLite, a file of
    /// this process, always does.
    pub async fn reach(&self, patience: Duration) -> Reach {
        if self.backend != Backend::Postgres {
            return Reach::Answers;
        }
        let check = async {
            let mut conn = sqlx::AnyConnection::connect(&self.url).await?;
            conn.execute("SELECT 1").await?;
            conn.close().await
        };
        match tokio::time::timeout(patience, check).await {
            Ok(Ok(())) => Reach::Answers,
            // Refused, reset or unroutable; or the server shutting down, starting up or gone
            // in recovery (57P0x), or a broken connection (08).
            Ok(Err(sqlx::Error::Io(_))) => Reach::Gone,
            Ok(Err(sqlx::Error::Database(err)))
                if err.code().is_some_and(|c| c.starts_with("57P0") || c.starts_with("08")) =>
            {
                Reach::Gone
            }
            // No answer in time (a busy machine, a network dropping packets) or a refusal that
            // says the server is there (too many connections): the pool's own timeouts decide.
            _ => Reach::Unknown,
        }
    }

    /// Completes when the database is found unreachable while a request runs (PostgreSQL;
    /// never on SQLite), so that the request is answered 503 within a second instead of
    /// waiting out the pool's acquire timeout: once the request has run [`SLOW_REQUEST`],
    /// it checks with a fresh connection (one request in [`PROBE_EVERY`] does, for all), and
    /// any request's finding the database gone completes it for every request in flight.
    pub async fn lost(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.backend != Backend::Postgres {
            return std::future::pending().await;
        }
        let notified = LOST.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if UNREACHABLE.load(Relaxed) {
            return;
        }
        let watch = async {
            tokio::time::sleep(SLOW_REQUEST).await;
            loop {
                let (now, last) = (process_ms(), LAST_PROBE.load(Relaxed));
                let due = u128::from(now.saturating_sub(last)) >= PROBE_EVERY.as_millis();
                if due
                    && LAST_PROBE.compare_exchange(last, now, Relaxed, Relaxed).is_ok()
                    && self.reach(PROBE_PATIENCE).await == Reach::Gone
                {
                    note_unreachable();
                    return;
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
        };
        tokio::select! {
            () = notified => (),
            () = watch => (),
        }
    }

    /// Whether writes work: true unless a write failed for want of disk or with an I/O
    /// error since writes were last seen to work; then a one-row write is tried, and its
    /// success clears the fault.
    pub async fn writable(&self) -> bool {
        if !WRITE_FAULT.load(std::sync::atomic::Ordering::Relaxed) {
            return true;
        }
        let probe = async {
            let mut tx = self.begin_write().await?;
            sqlx::query("UPDATE readiness SET probed_at = $1 WHERE id = 1")
                .bind(Timestamp::now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        let works = probe.await.is_ok();
        if works {
            WRITE_FAULT.store(false, std::sync::atomic::Ordering::Relaxed);
            tracing::info!("database writes work again");
        }
        works
    }

    /// Whether the database answers a trivial query (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    /// Closes both pools, waiting for checked-out connections to return.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// One migration `migrate down` would revert, and the data that goes with it.
#[derive(Debug)]
pub struct Revert {
    pub version: i64,
    pub description: String,
    /// Tables the down script drops (and does not re-create), with their row counts.
    pub tables: Vec<(String, i64)>,
    /// Tables it drops and re-creates in another shape (SQLite's way to change a column).
    pub rebuilt: Vec<String>,
    /// `table.column` for each column it drops.
    pub columns: Vec<String>,
}

/// What a down script drops, read from its SQL.
struct Dropped {
    tables: Vec<String>,
    rebuilt: Vec<String>,
    columns: Vec<String>,
}

fn dropped_by(sql: &str) -> Dropped {
    let (mut dropped, mut created, mut temporary, mut columns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let identifier = |word: &str| {
        let word = word.trim_matches('"');
        word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| word.to_owned())
    };
    for statement in sql.split(';') {
        let words: Vec<String> = statement
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .flat_map(str::split_whitespace)
            .map(str::to_ascii_lowercase)
            .filter(|w| !matches!(w.as_str(), "if" | "exists" | "not"))
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["drop", "table", name, ..] => dropped.extend(identifier(name)),
            ["create", "table", name, ..] => created.extend(identifier(name)),
            ["create", "temp" | "temporary", "table", name, ..] => temporary.extend(identifier(name)),
            ["alter", "table", table, "drop", "column", column, ..]
            | ["alter", "table", table, "drop", column, ..]
                if *column != "constraint" =>
            {
                columns.extend(identifier(table).zip(identifier(column)).map(|(t, c)| format!("{t}.{c}")));
            }
            _ => {}
        }
    }
    dropped.retain(|table| !temporary.contains(table));
    dropped.dedup();
    let (rebuilt, tables) = dropped.into_iter().partition(|table| created.contains(table));
    Dropped { tables, rebuilt, columns }
}

/// The file a `sqlite:` URL names (without its `?` options); `None` for other URLs.
pub fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(std::path::Path::new(path.split('?').next().unwrap_or_default()))
}

/// Makes SQLite create the file when missing, and its directory too.
fn sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    let path = sqlite_path(url).unwrap_or(std::path::Path::new(""));
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return Err(sqlx::Error::Configuration("SQLite needs a file path".into()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}
