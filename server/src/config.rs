//! The one typed settings struct, read from the command line or `PREMORTEM_*` variables.

use app::ssr::proxy::TrustedProxies;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Premortem: plan how a change will break before it ships.
#[derive(Parser, Debug)]
#[command(name = "premortem", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings shared by every command.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Address to serve on.
    #[arg(long, env = "PREMORTEM_LISTEN", default_value = "127.0.0.1:3000", global = true)]
    pub listen: SocketAddr,
    /// `sqlite://path` (created when missing) or `postgres://user@host/db`.
    #[arg(long, env = "PREMORTEM_DATABASE_URL", default_value = "sqlite://data/premortem.db", global = true)]
    pub database_url: DatabaseUrl,
    /// Mark the session cookie `Secure`; set when users reach the app over HTTPS.
    #[arg(long, env = "PREMORTEM_SECURE_COOKIES", default_value_t = false, global = true)]
    pub secure_cookies: bool,
    /// The public origin users reach the app at (e.g. `https://premortem.example.com`);
    /// requests from it pass the cross-site check even behind a proxy that rewrites Host.
    #[arg(long, env = "PREMORTEM_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Reverse proxies in front of the app: comma-separated IP addresses or CIDR ranges
    /// (`127.0.0.1,10.0.0.0/8`). Only from them is `X-Forwarded-For` believed, naming the
    /// client for login throttling and logs; by default nobody is trusted.
    #[arg(
        long,
        env = "PREMORTEM_TRUSTED_PROXIES",
        default_value = "",
        hide_default_value = true,
        global = true
    )]
    pub trusted_proxies: TrustedProxies,
    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "PREMORTEM_SESSION_IDLE_MINUTES", default_value_t = 480, global = true)]
    pub session_idle_minutes: u32,
    /// Hours after login after which a session ends, even while in use.
    #[arg(long, env = "PREMORTEM_SESSION_MAX_HOURS", default_value_t = 168, global = true)]
    pub session_max_hours: u32,
    /// Failed logins per account and client address within 15 minutes before each further
    /// attempt from there waits twice as long as the last; ten times as many per address.
    #[arg(long, env = "PREMORTEM_LOGIN_MAX_FAILURES", default_value_t = 5, global = true)]
    pub login_max_failures: u32,
    /// Database connections (readers on SQLite; all connections on PostgreSQL).
    #[arg(long, env = "PREMORTEM_DB_MAX_CONNECTIONS", default_value_t = 8, global = true)]
    pub db_max_connections: u32,
    /// PostgreSQL: seconds a statement may run (waiting for locks included) before it is
    /// cancelled and its request answered 503 with Retry-After; 0 for no limit. Migrations
    /// and command-line tools run without it.
    #[arg(long, env = "PREMORTEM_DB_STATEMENT_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub db_statement_timeout_secs: u64,
    /// Largest request body accepted by browser endpoints, in bytes.
    #[arg(long, env = "PREMORTEM_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Seconds after which a request still being handled is answered 408 and abandoned,
    /// so nothing waits forever on a stuck dependency.
    #[arg(long, env = "PREMORTEM_REQUEST_TIMEOUT_SECS", default_value_t = 120, global = true)]
    pub request_timeout_secs: u64,
    /// Seconds a connection may take to send a request's headers, and may stay idle between
    /// requests, before it is closed (slow-header clients and idle keep-alives hold nothing).
    #[arg(long, env = "PREMORTEM_HEADER_READ_TIMEOUT_SECS", default_value_t = 15, global = true)]
    pub header_read_timeout_secs: u64,
    /// Slowest upload body accepted, in bytes per second after a grace period; a slower
    /// sender gets 408 instead of holding a place among the uploads being received.
    #[arg(long, env = "PREMORTEM_UPLOAD_MIN_BYTES_PER_SEC", default_value_t = 32 * 1024, global = true)]
    pub upload_min_bytes_per_sec: u64,
    /// Seconds an upload's body may take before the minimum rate applies.
    #[arg(long, env = "PREMORTEM_UPLOAD_BODY_GRACE_SECS", default_value_t = 10, global = true)]
    pub upload_body_grace_secs: u64,
    /// Largest CI upload as sent (compressed or not), in bytes.
    #[arg(long, env = "PREMORTEM_UPLOAD_MAX_BYTES", default_value_t = 16 * 1024 * 1024, global = true)]
    pub upload_max_bytes: usize,
    /// Largest CI upload after gzip decompression, in bytes.
    #[arg(long, env = "PREMORTEM_UPLOAD_MAX_DECOMPRESSED_BYTES", default_value_t = 128 * 1024 * 1024, global = true)]
    pub upload_max_decompressed_bytes: usize,
    /// Most test cases in one uploaded run.
    #[arg(long, env = "PREMORTEM_UPLOAD_MAX_CASES", default_value_t = 50_000, global = true)]
    pub upload_max_cases: usize,
    /// Uploads parsed and stored at once; four times as many are received at once, and
    /// the rest wait in line (see the next two settings).
    #[arg(long, env = "PREMORTEM_INGEST_CONCURRENCY", default_value_t = 4, global = true)]
    pub ingest_concurrency: usize,
    /// Uploads that may wait in line for their turn; more get 503 with Retry-After.
    #[arg(long, env = "PREMORTEM_UPLOAD_QUEUE", default_value_t = 512, global = true)]
    pub upload_queue: usize,
    /// Longest wait in line, in seconds; an upload expected to wait longer gets 503 at once,
    /// with a Retry-After from the rate the line really moves at.
    #[arg(long, env = "PREMORTEM_UPLOAD_QUEUE_WAIT_SECS", default_value_t = 30, global = true)]
    pub upload_queue_wait_secs: u64,
    /// API requests per minute per token; more get 429 with Retry-After.
    #[arg(long, env = "PREMORTEM_TOKEN_RATE_PER_MINUTE", default_value_t = 600, global = true)]
    pub token_rate_per_minute: u32,
    /// Days test runs and result history are kept (latest results are kept while they count).
    #[arg(long, env = "PREMORTEM_EVIDENCE_RETENTION_DAYS", default_value_t = 90, global = true)]
    pub evidence_retention_days: i64,
    /// Let webhooks be sent over plain `http` (else only `https`).
    #[arg(long, env = "PREMORTEM_WEBHOOK_ALLOW_HTTP", default_value_t = false, global = true)]
    pub webhook_allow_http: bool,
    /// Let webhooks reach private, loopback, link-local and metadata addresses (and `http`):
    /// for receivers inside your network, and tests. Off, such a destination is refused at
    /// creation and at every delivery, after its name is resolved.
    #[arg(long, env = "PREMORTEM_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, global = true)]
    pub webhook_allow_private: bool,
    /// Hours a webhook delivery is retried before it is given up as failed.
    #[arg(long, env = "PREMORTEM_WEBHOOK_GIVE_UP_HOURS", default_value_t = 24, global = true)]
    pub webhook_give_up_hours: u64,
    /// Days delivered and given-up webhook deliveries are kept for their subscriptions' pages.
    #[arg(long, env = "PREMORTEM_WEBHOOK_RETENTION_DAYS", default_value_t = 7, global = true)]
    pub webhook_retention_days: i64,
    /// Webhook deliveries in flight at once, per instance.
    #[arg(long, env = "PREMORTEM_WEBHOOK_CONCURRENCY", default_value_t = 16, global = true)]
    pub webhook_concurrency: usize,
    /// Single sign-on: the OpenID provider's issuer (`https://…`; `http://` only on a loopback
    /// address). With it, the login page offers "Sign in with …" and the redirect URI is
    /// `{PREMORTEM_PUBLIC_URL}/auth/oidc/callback`, so the public URL must be set too.
    #[arg(long, env = "PREMORTEM_OIDC_ISSUER", global = true, requires_all = ["oidc_client_id", "public_url"])]
    pub oidc_issuer: Option<String>,
    /// The client id registered at the provider.
    #[arg(long, env = "PREMORTEM_OIDC_CLIENT_ID", global = true)]
    pub oidc_client_id: Option<String>,
    /// The client's secret (sent to the token endpoint with HTTP Basic authentication).
    #[arg(long, env = "PREMORTEM_OIDC_CLIENT_SECRET", global = true, hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Email domains whose accounts may sign in (comma-separated); any when empty.
    #[arg(
        long,
        env = "PREMORTEM_OIDC_ALLOWED_DOMAINS",
        default_value = "",
        hide_default_value = true,
        global = true
    )]
    pub oidc_allowed_domains: String,
    /// The provider's name on the login button ("Sign in with …").
    #[arg(long, env = "PREMORTEM_OIDC_NAME", default_value = "single sign-on", global = true)]
    pub oidc_name: String,
    /// The ID token or userinfo claim that lists the user's groups (e.g. `groups`); with it,
    /// the group mapping on the admin page sets team roles at every sign-in.
    #[arg(long, env = "PREMORTEM_OIDC_GROUPS_CLAIM", global = true)]
    pub oidc_groups_claim: Option<String>,
    /// Scopes asked for besides `openid email profile` (space-separated; e.g. `groups`).
    #[arg(long, env = "PREMORTEM_OIDC_SCOPES", default_value = "", hide_default_value = true, global = true)]
    pub oidc_scopes: String,
    /// Offer the password form and accept password logins. With single sign-on, `false` leaves
    /// only the provider's button (`premortem user reset-password` still works on the host).
    #[arg(long, env = "PREMORTEM_PASSWORD_LOGIN", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub password_login: bool,
    /// Log format.
    #[arg(long, env = "PREMORTEM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

impl Settings {
    /// The statement timeout on PostgreSQL, if any.
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        (self.db_statement_timeout_secs > 0)
            .then(|| std::time::Duration::from_secs(self.db_statement_timeout_secs))
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A database URL; its `Debug` hides any password it contains.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if app::ssr::db::Backend::of_url(s).is_some() {
            Ok(Self(s.to_owned()))
        } else {
            Err("must start with sqlite: or postgres://".to_owned())
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.split_once('@') {
            Some((_, host)) => write!(f, "DatabaseUrl(<credentials>@{host})"),
            None => write!(f, "DatabaseUrl({})", self.0),
        }
    }
}

/// Commands besides serving.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app and API (the default).
    Serve,
    /// Apply or revert database migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Manage API tokens for CI.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the audit log: recompute every entry's hash and its link to the one before.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Copy the SQLite database to a new file, consistently, while the server runs and
    /// takes writes. PostgreSQL is backed up with `pg_dump` instead.
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Load a data set into an empty database and print how to log in.
    Demo {
        /// `small`: four teams, people to log in as, changes in every status (the hospital
        /// exam queue, a release-night rollout, an AI-agent change, Premortem itself).
        /// `large`: 10 teams, 1,000 changes, 10,000 failure modes, 1,020,000 results (a load
        /// fixture for the dashboard benchmark).
        #[arg(long, value_enum, default_value = "small")]
        scale: DemoScale,
    },
}

/// The size of a demo data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoScale {
    Small,
    /// The benchmark's data set: 1,000 changes, 10,000 failure modes, 1,020,000 results.
    Large,
    /// The growth benchmark's: 10,000 changes, 100,000 failure modes, 900,000 results.
    Tenfold,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token and print it (shown only this once).
    Create {
        /// The team whose evidence and changes the token works on.
        #[arg(long)]
        team: String,
        /// evidence:write, changes:read, changes:write or webhooks:manage (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Makes it a personal token of this user: it works only while they are a member of
        /// the team, and they cannot sign off what it registers. Without it: a pipeline token.
        #[arg(long)]
        owner: Option<String>,
        /// Days until the token expires (never when omitted).
        #[arg(long)]
        expires_days: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Report "audit chain intact: N entries", or name the first broken entry and fail.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// Apply every pending migration (also done at start).
    Up,
    /// Revert migrations newer than `--to` (0 reverts everything, data included). Names what
    /// it would drop and does nothing without `--yes`; on SQLite it takes a backup first.
    Down {
        #[arg(long, default_value_t = 0)]
        to: i64,
        /// Revert even though tables, columns and their rows are dropped.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (not echoed on a terminal).
    Create {
        #[arg(long)]
        username: String,
        /// Full name shown in the UI (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Make the user a global administrator.
        #[arg(long)]
        admin: bool,
        /// Add the user to this team.
        #[arg(long, requires = "role")]
        team: Option<String>,
        /// Role in `--team`: viewer, member or lead.
        #[arg(long, requires = "team")]
        role: Option<String>,
    },
    /// Set a new password for a user (read from standard input) and end their sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Create a team.
    Create {
        /// Short handle and change-key prefix, e.g. PAY.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
}
