//! Test harness: the app on port 0 with a fresh database per test, on SQLite or PostgreSQL.

use app::domain::{DisplayName, Password, Role, TeamName, TeamSlug, UserId, Username};
use app::ssr::audit::Actor;
use app::ssr::auth::hash_password;
use app::ssr::db::Db;
use app::ssr::store::{teams, users};
use clap::Parser;
use server::config::{Cli, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test body once per backend: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::common::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::common::Backend::Postgres).await }
        }
    )*};
}

/// A fresh, empty database that is removed when dropped.
pub struct TestDb {
    pub url: String,
    dir: Option<PathBuf>,
    pg_name: Option<String>,
}

fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("PREMORTEM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("premortem-test-{}", random_suffix()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}/test.db", dir.display());
                Self { url, dir: Some(dir), pg_name: None }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = postgres_admin_url();
                let name = format!("premortem_test_{}", random_suffix());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL must be reachable at PREMORTEM_TEST_POSTGRES_URL (see scripts/ensure-postgres.sh)");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
                Self { url: format!("{base}/{name}"), dir: None, pg_name: Some(name) }
            }
        }
    }

    /// A database at `url` that this value does not own (nothing is removed when dropped).
    pub fn at(url: String) -> Self {
        Self { url, dir: None, pg_name: None }
    }

    /// A SQLite database in `dir` (which is emptied when dropped).
    pub fn sqlite_in(dir: PathBuf) -> Self {
        Self { url: format!("sqlite://{}/test.db", dir.display()), dir: Some(dir), pg_name: None }
    }

    /// The SQLite file's directory (SQLite only).
    pub fn dir(&self) -> Option<&PathBuf> {
        self.dir.as_ref()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside any runtime guarantee, so use a short-lived one of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&postgres_admin_url()).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// Settings as the CLI would build them, for `db`.
pub fn settings(db_url: &str, extra: &[&str]) -> Settings {
    let mut args = vec!["premortem", "--database-url", db_url, "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Cli::try_parse_from(args).expect("valid test settings").settings
}

/// The app served on a free port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    pub test_db: TestDb,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, extra: &[&str]) -> Self {
        Self::spawn_on(TestDb::new(backend).await, extra).await
    }

    /// The app on an existing database (migrated at start, like the binary does); `{origin}`
    /// in an argument is the address it listens on.
    pub async fn spawn_on(test_db: TestDb, extra: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::spawn_listening(listener, test_db, extra).await
    }

    /// The app on `listener` (bound before its settings are known: the SSO tests register the
    /// address at the provider first).
    pub async fn spawn_listening(listener: tokio::net::TcpListener, test_db: TestDb, extra: &[&str]) -> Self {
        let addr = listener.local_addr().expect("addr");
        let origin = format!("http://{addr}");
        let extra: Vec<String> = extra.iter().map(|arg| arg.replace("{origin}", &origin)).collect();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let settings = settings(&test_db.url, &extra);
        let db = server::startup::connect(&settings).await.expect("connect and migrate");
        let (router, _tasks) = server::startup::app(&settings, db.clone()).await.expect("build app");
        let limits = server::startup::ConnectionLimits::from(&settings);
        let server = tokio::spawn(server::startup::serve_connections(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        Self { addr, db, test_db, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client that keeps cookies and does not follow redirects, like a careful browser.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A stuck request fails its test instead of stalling the whole run.
            .timeout(std::time::Duration::from_secs(90))
            .build()
            .expect("client")
    }

    /// Creates a user directly in the store.
    pub async fn user(&self, username: &str, password: &str, admin: bool) -> UserId {
        let hash = hash_password(Password::parse_new("password", password).expect("valid password"))
            .await
            .expect("hash");
        users::create(
            &self.db,
            &Actor::Cli,
            &Username::parse(username).expect("valid username"),
            &DisplayName::parse(username).expect("valid name"),
            &hash,
            admin,
        )
        .await
        .expect("create user")
    }

    /// Creates a team and gives `members` their roles.
    pub async fn team(&self, slug: &str, members: &[(UserId, Role)]) {
        let slug = TeamSlug::parse(slug).expect("valid slug");
        let id = teams::create(&self.db, &Actor::Cli, &slug, &TeamName::parse("Test team").expect("name"))
            .await
            .expect("create team");
        for (user, role) in members {
            teams::set_membership(&self.db, &Actor::Cli, id, *user, Some(*role)).await.expect("membership");
        }
    }

    /// Creates an API token for a team, owned by `owner`.
    pub async fn token(
        &self,
        slug: &str,
        scopes: &[app::domain::scope::Scope],
        owner: Option<UserId>,
    ) -> String {
        let team = teams::by_slug(&self.db, &TeamSlug::parse(slug).expect("slug")).await.expect("team");
        app::ssr::store::tokens::create(&self.db, &Actor::Cli, team.id, owner, "ci", scopes, None)
            .await
            .expect("token")
    }

    /// A request to the CI API with a bearer token.
    pub fn api(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(method, self.url(&format!("/api/v1{path}"))).bearer_auth(token)
    }

    /// Calls a server function the way the browser's wasm client does (form-encoded body).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{endpoint}")))
            .header("Accept", "application/json")
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// [`TestApp::call`] with owned values.
    pub async fn call_owned(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> reqwest::Response {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call(client, endpoint, &form).await
    }

    /// `username` claims authorship of changes an API token registered (four eyes need a
    /// person as author before anyone signs off).
    pub async fn claim(&self, username: &str, password: &str, keys: &[&str]) {
        let client = self.client();
        assert_eq!(self.login(&client, username, password).await.status(), reqwest::StatusCode::OK);
        for key in keys {
            let response = self.call(&client, "claim_change", &[("key", key)]).await;
            assert_eq!(response.status(), reqwest::StatusCode::OK, "claim {key}");
        }
    }

    /// Logs in and returns the session cookie value.
    pub async fn login(&self, client: &reqwest::Client, username: &str, password: &str) -> reqwest::Response {
        self.call(client, "login", &[("username", username), ("password", password)]).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Runs the `premortem` binary to completion with `args`, on the database at `db_url`.
pub async fn premortem(db_url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_premortem"))
        .env("PREMORTEM_DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .await
        .expect("run premortem")
}

/// The `premortem_session` cookie a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response.cookies().find(|c| c.name() == "premortem_session").map(|c| c.value().to_owned())
}

/// A throwaway PostgreSQL server of its own (initdb'd in a temporary directory), which a
/// test may stop and start again; stopped and removed when dropped.
pub struct PgCluster {
    dir: PathBuf,
    port: u16,
}

impl PgCluster {
    fn bin(tool: &str) -> PathBuf {
        let root =
            std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL's binaries in /usr/lib/postgresql");
        let mut versions: Vec<PathBuf> = root.filter_map(|e| Some(e.ok()?.path())).collect();
        versions.sort();
        versions.pop().expect("a PostgreSQL version").join("bin").join(tool)
    }

    /// Runs a PostgreSQL tool, as the `postgres` user when this process is root (the server
    /// refuses to run as root).
    fn run(tool: &str, args: &[&str]) {
        if let Err(err) = Self::try_run(tool, args) {
            panic!("{err}");
        }
    }

    fn try_run(tool: &str, args: &[&str]) -> Result<(), String> {
        let is_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        let mut command = if is_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(Self::bin(tool));
            c
        } else {
            std::process::Command::new(Self::bin(tool))
        };
        let out = command.args(args).output().map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub fn start_new() -> Self {
        let dir = std::env::temp_dir().join(format!("premortem-pg-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let _ = std::process::Command::new("chown").args(["postgres:postgres"]).arg(&dir).status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let cluster = Self { dir, port };
        let data = cluster.data();
        Self::run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn start(&self) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let log = self.dir.join("log").display().to_string();
        Self::run("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"]);
    }

    /// Stops the server as an operator would for maintenance: every connection is closed.
    pub fn stop(&self) {
        Self::run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Self::try_run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
