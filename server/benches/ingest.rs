//! Ingestion benchmark (not a test: it prints figures, it asserts only that nothing is lost).
//!
//! 1. One 10,000-case JUnit upload through the HTTP API, beside a raw SQLite bulk insert
//!    of the same rows measured in the same run, and their ratio.
//! 2. 32 concurrent uploads of 2,000 cases each, honouring 503/Retry-After backpressure:
//!    p50/p99 latency, errors, and rows lost (must be 0).
//!
//! Run with `make bench`.

use app::domain::scope::Scope;
use app::domain::{DisplayName, Role, TeamName, TeamSlug, Username};
use app::ssr::audit::Actor;
use app::ssr::store::{teams, tokens, users};
use clap::Parser;
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

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("premortem-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/bench.db", dir.display());
    let settings =
        server::config::Cli::try_parse_from(["premortem", "--database-url", &url, "--listen", "127.0.0.1:0"])
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
    let user = users::create(
        &db,
        &Actor::Cli,
        &Username::parse("bench").expect("name"),
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
    // A change whose failure modes select some of the uploaded tests, so matching runs too.
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
            "designs": [{"title": "d"}], "tests": [format!("single::test_{i}*")] });
        client
            .post(format!("{base}/changes/{key}/failure-modes"))
            .bearer_auth(&token)
            .json(&fm)
            .send()
            .await
            .expect("fm");
    }

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

    // The baseline: the same 10,000 rows inserted straight into SQLite in one transaction.
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
    let (h, b) = (http[1], baseline[1]);
    println!("10,000-case JUnit upload via HTTP:   median {:>8.1} ms (of 3)", h.as_secs_f64() * 1000.0);
    println!("raw SQLite bulk insert, same rows:   median {:>8.1} ms (of 3)", b.as_secs_f64() * 1000.0);
    println!("ratio HTTP / raw insert:             {:>8.1}x", h.as_secs_f64() / b.as_secs_f64());

    // 2. 32 concurrent uploads of 2,000 cases, retrying on 503/429 as told by Retry-After.
    let started = Instant::now();
    let uploads: Vec<_> = (0..32)
        .map(|n| {
            let client = client.clone();
            let token = token.clone();
            let url = format!("{base}/runs?run_key=burst-{n}");
            let body = junit(&format!("burst{n}"), 2_000);
            tokio::spawn(async move {
                let begun = Instant::now();
                let mut retries = 0;
                loop {
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Content-Type", "application/xml")
                        .header("Idempotency-Key", format!("burst-{n}"))
                        .body(body.clone())
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status().is_success() => return (begun.elapsed(), retries, true),
                        Ok(r) if r.status() == 503 || r.status() == 429 || r.status() == 409 => {
                            let wait = r
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok()?.parse().ok())
                                .unwrap_or(1);
                            retries += 1;
                            tokio::time::sleep(Duration::from_millis(wait * 250)).await;
                        }
                        Ok(r) => {
                            eprintln!(
                                "upload {n} failed: {} {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            );
                            return (begun.elapsed(), retries, false);
                        }
                        Err(e) => {
                            eprintln!("upload {n} failed: {e}");
                            return (begun.elapsed(), retries, false);
                        }
                    }
                    if retries > 400 {
                        return (begun.elapsed(), retries, false);
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut retries) = (0_i64, 0);
    for upload in uploads {
        let (latency, tries, ok) = upload.await.expect("task");
        latencies.push(latency);
        retries += tries;
        if !ok {
            errors += 1;
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_latest WHERE test_id LIKE 'burst%'")
        .fetch_one(db.read())
        .await
        .expect("count");
    // Rows of acknowledged uploads that are missing (failed uploads were never acknowledged).
    let acknowledged = (32 - errors) * 2_000;
    let lost = acknowledged - stored;
    println!(
        "32 concurrent uploads x 2,000 cases: p50 {:>8.1} ms, p99 {:>8.1} ms, wall {:.1} s",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        wall.as_secs_f64()
    );
    println!(
        "  backpressure retries (503/Retry-After): {retries}, errors: {errors}, rows lost: {lost} (stored {stored} of {acknowledged} acknowledged)"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(lost, 0, "nothing acknowledged may be lost, and nothing unacknowledged half-stored");
}
