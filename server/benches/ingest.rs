//! Ingestion benchmark (not a test: it prints figures, it asserts only that nothing is lost).
//!
//! 1. One 10,000-case JUnit upload through the HTTP API, beside a raw SQLite bulk insert
//!    of the same rows measured in the same run, and their ratio.
//! 2. The burst: 20 CI clients each sending 10 uploads of 5,000 cases one after another,
//!    honouring `Retry-After`, on SQLite and on PostgreSQL: p50/p99/max latency per upload
//!    (first attempt to stored, waiting included), throughput, PostgreSQL's throughput as a
//!    share of SQLite's, 5xx replies, and uploads lost or duplicated (both must be 0).
//!
//! Run with `make bench`.

use app::domain::scope::Scope;
use app::domain::{DisplayName, Role, TeamName, TeamSlug, Username};
use app::ssr::audit::Actor;
use app::ssr::db::Db;
use app::ssr::store::{teams, tokens, users};
use clap::Parser;
use sqlx::Connection;
use std::time::{Duration, Instant};

fn junit(prefix: &str, cases: usize) -> String {
    let mut xml = String::with_capacity(cases * 90);
    xml.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="bench">"#);
    for i in 0..cases {
        xml.push_str(&format!(r#"<testcase classname="{prefix}" name="test_{i}" time="0.001"/>"#));
    }
    xml.push_str("</testsuite></testsuites>");
    xml
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A server on `url` with a team BEN, a token and a change whose ten failure modes select
/// some of the uploaded tests, so matching and coverage run too.
struct Served {
    db: Db,
    base: String,
    token: String,
}

async fn serve(url: &str) -> Served {
    let settings =
        server::config::Cli::try_parse_from(["premortem", "--database-url", url, "--listen", "127.0.0.1:0"])
            .expect("settings")
            .settings;
    let db = server::startup::connect(&settings).await.expect("database");
    let (router, _tasks) = server::startup::app(&settings, db.clone()).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = server::startup::ConnectionLimits::from(&settings);
    tokio::spawn(server::startup::serve_connections(listener, router, limits, std::future::pending()));
    let hash =
        app::ssr::auth::hash_password(app::domain::Password::parse_new("p", "bench-password-1").expect("pw"))
            .await
            .expect("hash");
    let name = |n: &str| Username::parse(n).expect("name");
    let user = users::create(
        &db,
        &Actor::Cli,
        &name("bench"),
        &DisplayName::parse("Bench").expect("name"),
        &hash,
        false,
    )
    .await
    .expect("user");
    let team = teams::create(
        &db,
        &Actor::Cli,
        &TeamSlug::parse("BEN").expect("slug"),
        &TeamName::parse("Bench").expect("n"),
    )
    .await
    .expect("team");
    teams::set_membership(&db, &Actor::Cli, team, user, Some(Role::Lead)).await.expect("member");
    let token =
        tokens::create(&db, &Actor::Cli, team, Some(user), "bench", &Scope::ALL, None).await.expect("token");
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let change: serde_json::Value = client
        .post(format!("{base}/changes"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "team": "BEN", "title": "Bench", "types": ["queue"] }))
        .send()
        .await
        .expect("change")
        .json()
        .await
        .expect("json");
    let key = change["key"].as_str().expect("key").to_owned();
    for i in 0..10 {
        let fm = serde_json::json!({ "title": format!("FM {i}"), "severity": 3, "likelihood": 3, "detectability": 3,
            "designs": [{"title": "d"}], "tests": [format!("single::test_{i}*"), format!("c{i}::test_{i}")] });
        client
            .post(format!("{base}/changes/{key}/failure-modes"))
            .bearer_auth(&token)
            .json(&fm)
            .send()
            .await
            .expect("fm");
    }
    Served { db, base, token }
}

/// What one burst measured.
struct Burst {
    latencies: Vec<Duration>,
    wall: Duration,
    refusals: u64,
    server_errors: u64,
    failed: u64,
    lost: i64,
    duplicated: i64,
}

const CLIENTS: usize = 20;
const UPLOADS: usize = 10;
const CASES: usize = 5_000;

/// One client's uploads, one after another: their latencies, and how many were refused
/// (and retried), answered with a server error, or failed.
async fn pipeline(
    client: &reqwest::Client,
    token: &str,
    base: &str,
    c: usize,
    body: String,
) -> (Vec<Duration>, u64, u64, u64) {
    let mut latencies = Vec::new();
    let (mut refusals, mut server_errors, mut failed) = (0, 0, 0);
    for u in 0..UPLOADS {
        let begun = Instant::now();
        loop {
            let response = client
                .post(format!("{base}/runs?run_key=burst-{c}-{u}"))
                .bearer_auth(token)
                .header("Content-Type", "application/xml")
                .header("Idempotency-Key", format!("burst-{c}-{u}"))
                .body(body.clone())
                .send()
                .await;
            match response {
                Ok(r) if r.status().is_success() => {
                    latencies.push(begun.elapsed());
                    break;
                }
                Ok(r) if r.status() == 503 || r.status() == 429 || r.status() == 409 => {
                    refusals += 1;
                    if r.status() == 503 {
                        server_errors += 1;
                    }
                    let wait: u64 = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .expect("every 503, 429 and 409 says when to retry");
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(r) => {
                    if r.status().is_server_error() {
                        server_errors += 1;
                    }
                    eprintln!("upload {c}-{u}: {} {}", r.status(), r.text().await.unwrap_or_default());
                    failed += 1;
                    break;
                }
                Err(e) => {
                    eprintln!("upload {c}-{u}: {e}");
                    failed += 1;
                    break;
                }
            }
        }
    }
    (latencies, refusals, server_errors, failed)
}

/// Each client sends its uploads one after another; a 503 or 429 is retried after exactly
/// the `Retry-After` it carried, with the same `Idempotency-Key`.
async fn burst(served: &Served) -> Burst {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let pipelines: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, token, base) = (client.clone(), served.token.clone(), served.base.clone());
            let body = junit(&format!("c{c}"), CASES);
            tokio::spawn(async move { pipeline(&client, &token, &base, c, body).await })
        })
        .collect();
    let mut result = Burst {
        latencies: Vec::new(),
        wall: Duration::ZERO,
        refusals: 0,
        server_errors: 0,
        failed: 0,
        lost: 0,
        duplicated: 0,
    };
    for pipeline in pipelines {
        let (latencies, refusals, server_errors, failed) = pipeline.await.expect("task");
        result.latencies.extend(latencies);
        result.refusals += refusals;
        result.server_errors += server_errors;
        result.failed += failed;
    }
    result.wall = started.elapsed();
    result.latencies.sort();
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT run_key) FROM evidence_runs WHERE run_key LIKE 'burst-%'")
            .fetch_one(served.db.read())
            .await
            .expect("count");
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_runs WHERE run_key LIKE 'burst-%'")
        .fetch_one(served.db.read())
        .await
        .expect("count");
    let acknowledged = i64::try_from(result.latencies.len()).expect("small");
    result.lost = acknowledged - stored;
    result.duplicated = runs - stored;
    result
}

fn report(engine: &str, b: &Burst, sqlite_throughput: Option<f64>) -> f64 {
    let (p50, p99, max) =
        (percentile(&b.latencies, 0.5), percentile(&b.latencies, 0.99), *b.latencies.last().expect("some"));
    let throughput = b.latencies.len() as f64 / b.wall.as_secs_f64();
    println!(
        "{engine:<10} {CLIENTS}x{UPLOADS}x{CASES}: p50 {:>7.0} ms, p99 {:>7.0} ms ({:.2}x p50), max {:>7.0} ms, \
         {throughput:.2} uploads/s{}",
        ms(p50),
        ms(p99),
        p99.as_secs_f64() / p50.as_secs_f64(),
        ms(max),
        sqlite_throughput
            .map(|s| format!(" ({:.0}% of SQLite's)", 100.0 * throughput / s))
            .unwrap_or_default(),
    );
    println!(
        "{:<10} refusals {} (503s among them: {}), failed {}, lost {}, duplicated {}",
        "", b.refusals, b.server_errors, b.failed, b.lost, b.duplicated
    );
    assert_eq!((b.lost, b.duplicated), (0, 0), "nothing acknowledged is lost, nothing stored twice");
    throughput
}

/// The baseline: the same 10,000 rows inserted straight into SQLite in one transaction,
/// three times, sorted.
async fn raw_insert_baseline(dir: &std::path::Path) -> Vec<Duration> {
    let raw_url = format!("sqlite://{}/raw.db?mode=rwc", dir.display());
    let raw = sqlx::SqlitePool::connect(&raw_url).await.expect("raw db");
    sqlx::query("PRAGMA journal_mode = WAL").execute(&raw).await.expect("wal");
    sqlx::query(
        "CREATE TABLE results (team_id INTEGER, test_id TEXT, outcome TEXT, duration_ms INTEGER, run_id INTEGER, at INTEGER,
                               PRIMARY KEY (team_id, test_id))",
    )
    .execute(&raw)
    .await
    .expect("table");
    let mut baseline = Vec::new();
    for round in 0..3 {
        let started = Instant::now();
        let mut tx = raw.begin().await.expect("tx");
        for i in 0..10_000 {
            sqlx::query(
                "INSERT INTO results VALUES ($1, $2, 'passed', 1, $3, $4)
                 ON CONFLICT (team_id, test_id) DO UPDATE SET outcome = excluded.outcome, run_id = excluded.run_id",
            )
            .bind(1_i64)
            .bind(format!("single::test_{i}"))
            .bind(i64::from(round))
            .bind(0_i64)
            .execute(&mut *tx)
            .await
            .expect("insert");
        }
        tx.commit().await.expect("commit");
        baseline.push(started.elapsed());
    }
    baseline.sort();
    baseline
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("premortem-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = serve(&format!("sqlite://{}/bench.db", dir.display())).await;
    let (client, base, token) = (reqwest::Client::new(), sqlite.base.clone(), sqlite.token.clone());

    // 1. One 10,000-case upload through HTTP, three times (distinct ids each time).
    let mut http = Vec::new();
    for round in 0..3 {
        let body = junit(if round == 0 { "single" } else { "again" }, 10_000);
        let started = Instant::now();
        let response = client
            .post(format!("{base}/runs?run_key=single-{round}"))
            .bearer_auth(&token)
            .header("Content-Type", "application/xml")
            .header("Idempotency-Key", format!("single-{round}"))
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{:?}", response.text().await);
        http.push(started.elapsed());
    }
    http.sort();

    let baseline = raw_insert_baseline(&dir).await;
    let (h, b) = (http[1], baseline[1]);
    println!("10,000-case JUnit upload via HTTP:   median {:>8.1} ms (of 3)", h.as_secs_f64() * 1000.0);
    println!("raw SQLite bulk insert, same rows:   median {:>8.1} ms (of 3)", b.as_secs_f64() * 1000.0);
    println!("ratio HTTP / raw insert:             {:>8.1}x", h.as_secs_f64() / b.as_secs_f64());

    // 2. The burst, on SQLite and then PostgreSQL.
    let sqlite_throughput = report("SQLite", &burst(&sqlite).await, None);
    sqlite.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let admin = std::env::var("PREMORTEM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("premortem_bench_ingest_{}", std::process::id());
    let mut conn =
        sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL (scripts/ensure-postgres.sh)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    let postgres = serve(&format!("{base}/{name}")).await;
    report("PostgreSQL", &burst(&postgres).await, Some(sqlite_throughput));
    postgres.db.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop");
}
