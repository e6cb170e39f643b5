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

    /// The app on an existing database (migrated at start, like the binary does).
    pub async fn spawn_on(test_db: TestDb, extra: &[&str]) -> Self {
        let settings = settings(&test_db.url, extra);
        let db = server::startup::connect(&settings).await.expect("connect and migrate");
        let (router, _tasks) = server::startup::app(&settings, db.clone()).await.expect("build app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
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
