//! What the benchmarks that serve the API share: a server on a database, and a team BEN
//! with a lead and a token of every scope.

use app::domain::scope::Scope;
use app::domain::{DisplayName, Role, TeamName, TeamSlug, Username};
use app::ssr::audit::Actor;
use app::ssr::db::Db;
use app::ssr::store::{teams, tokens, users};
use clap::Parser;

/// A server on `url` with the settings `extra` adds, listening on a free local port; its
/// database, the API's base URL and its settings.
pub async fn serve(url: &str, extra: &[&str]) -> (Db, String, server::config::Settings) {
    let mut args = vec!["premortem", "--database-url", url, "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let settings = server::config::Cli::try_parse_from(args).expect("settings").settings;
    let db = server::startup::connect(&settings).await.expect("database");
    let (router, _tasks) = server::startup::app(&settings, db.clone()).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = server::startup::ConnectionLimits::from(&settings);
    tokio::spawn(server::startup::serve_connections(listener, router, limits, std::future::pending()));
    (db, format!("http://{addr}/api/v1"), settings)
}

/// Team BEN with its lead `bench`; answers a token of every scope.
pub async fn team(db: &Db) -> String {
    let hash =
        app::ssr::auth::hash_password(app::domain::Password::parse_new("p", "bench-password-1").expect("pw"))
            .await
            .expect("hash");
    let user = users::create(
        db,
        &Actor::Cli,
        &Username::parse("bench").expect("name"),
        &DisplayName::parse("Bench").expect("name"),
        &hash,
        false,
    )
    .await
    .expect("user");
    let team = teams::create(
        db,
        &Actor::Cli,
        &TeamSlug::parse("BEN").expect("slug"),
        &TeamName::parse("Bench").expect("n"),
    )
    .await
    .expect("team");
    teams::set_membership(db, &Actor::Cli, team, user, Some(Role::Lead)).await.expect("member");
    tokens::create(db, &Actor::Cli, team, Some(user), "bench", &Scope::ALL, None).await.expect("token")
}
