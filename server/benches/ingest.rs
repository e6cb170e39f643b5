//! Ingestion benchmark (not a test: it prints figures, it asserts only that nothing is lost).
//!
//! 1. One 10,000-case JUnit upload through the HTTP API in the steady state (its tests
//!    already known), beside the physical limit measured in the same run: on SQLite the same
//!    rows upserted through SQLite's C API with one prepared statement, on PostgreSQL a
//!    `COPY` of the same rows; best and median of 5, and their ratios.
//! 2. The burst: 20 CI clients each sending 10 uploads of 5,000 cases one after another,
//!    honouring `Retry-After`, on SQLite and on PostgreSQL: p50/p99/max latency per upload
//!    (first attempt to stored, waiting included), throughput, PostgreSQL's throughput as a
//!    share of SQLite's, 5xx replies, and uploads lost or duplicated (both must be 0).
//!
//! Run with `make bench`.

mod common;

use app::ssr::db::Db;
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
/// some of the uploaded tests, so matching, history and coverage run too: about a tenth of
/// the single upload's (`single::test_17*` is 111 of them), one of each burst client's.
struct Served {
    db: Db,
    base: String,
    token: String,
}

async fn serve(url: &str) -> Served {
    let (db, base, _) = common::serve(url, &[]).await;
    let token = common::team(&db).await;
    let client = reqwest::Client::new();
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
            "designs": [{"title": "d"}], "tests": [format!("single::test_{}7*", i + 1), format!("c{i}::test_{i}")] });
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

/// Rounds of each single-upload measurement, after one that writes the tests for the first
/// time: the figures are the steady state, every test already known.
const ROUNDS: usize = 5;
/// Cases in the single upload.
const SINGLE: usize = 10_000;

/// The rows a 10,000-case upload writes to `evidence_latest`, as the baselines write them.
fn baseline_rows() -> Vec<String> {
    (0..SINGLE).map(|i| format!("single::test_{i}")).collect()
}

/// The physical limit on SQLite: the same 10,000 rows upserted into a table of
/// `evidence_latest`'s shape (columns, key, check) through SQLite's C API, one prepared
/// statement in one transaction, WAL, `synchronous = FULL`, as the server's file is. One
/// round writes them first; then `ROUNDS` rounds, sorted.
fn sqlite_baseline(dir: &std::path::Path) -> Vec<Duration> {
    let conn = rusqlite::Connection::open(dir.join("baseline.db")).expect("baseline db");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE evidence_latest (team_id INTEGER NOT NULL, test_id TEXT NOT NULL,
             outcome TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'skipped', 'error')),
             duration_ms INTEGER, message TEXT, run_id INTEGER NOT NULL, at INTEGER NOT NULL,
             PRIMARY KEY (team_id, test_id));",
    )
    .expect("table");
    let rows = baseline_rows();
    let mut times = Vec::new();
    for round in 0..=ROUNDS {
        let started = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        {
            let mut upsert = conn
                .prepare_cached(
                    "INSERT INTO evidence_latest (team_id, test_id, outcome, duration_ms, message, run_id, at)
                     VALUES (1, ?1, 'passed', 1, NULL, ?2, ?3)
                     ON CONFLICT (team_id, test_id) DO UPDATE SET outcome = excluded.outcome,
                         duration_ms = excluded.duration_ms, message = excluded.message,
                         run_id = excluded.run_id, at = excluded.at",
                )
                .expect("prepare");
            let round = i64::try_from(round).expect("small");
            for id in &rows {
                upsert.execute(rusqlite::params![id, round, round]).expect("upsert");
            }
        }
        conn.execute_batch("COMMIT").expect("commit");
        if round > 0 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    times
}

/// The physical limit on PostgreSQL: the same 10,000 rows by `COPY` into an empty table of
/// `evidence_latest`'s shape, in one transaction, `ROUNDS` times, sorted.
async fn postgres_baseline(url: &str) -> Vec<Duration> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("baseline connection");
    sqlx::query(
        "CREATE TABLE baseline_latest (team_id BIGINT NOT NULL, test_id TEXT NOT NULL,
             outcome TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'skipped', 'error')),
             duration_ms BIGINT, message TEXT, run_id BIGINT NOT NULL, at BIGINT NOT NULL,
             PRIMARY KEY (team_id, test_id))",
    )
    .execute(&mut conn)
    .await
    .expect("table");
    let rows = baseline_rows();
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        sqlx::query("TRUNCATE baseline_latest").execute(&mut conn).await.expect("truncate");
        let text: String =
            rows.iter().map(|id| format!("1\t{id}\tpassed\t1\t\\N\t{round}\t{round}\n")).collect();
        let started = Instant::now();
        let mut tx = conn.begin().await.expect("begin");
        let mut copy = tx.copy_in_raw("COPY baseline_latest FROM STDIN").await.expect("copy");
        copy.send(text.as_bytes()).await.expect("send");
        copy.finish().await.expect("finish");
        tx.commit().await.expect("commit");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// The same 10,000-case JUnit file uploaded through `POST /api/v1/runs`: once to make its
/// tests known, then `ROUNDS` times, sorted.
async fn single_uploads(served: &Served) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let body = junit("single", SINGLE);
    let mut times = Vec::new();
    for round in 0..=ROUNDS {
        let started = Instant::now();
        let response = client
            .post(format!("{}/runs?run_key=single-{round}", served.base))
            .bearer_auth(&served.token)
            .header("Content-Type", "application/xml")
            .header("Idempotency-Key", format!("single-{round}"))
            .body(body.clone())
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{:?}", response.text().await);
        if round > 0 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    times
}

/// Prints an upload's figures beside its baseline's (best and median of `ROUNDS`).
fn compare(engine: &str, uploads: &[Duration], baseline_name: &str, baseline: &[Duration]) {
    let (best, median) = (uploads[0], uploads[ROUNDS / 2]);
    let (base_best, base_median) = (baseline[0], baseline[ROUNDS / 2]);
    println!(
        "{engine:<10} 10,000-case JUnit upload via HTTP (tests known): best {:>7.1} ms, median {:>7.1} ms",
        ms(best),
        ms(median)
    );
    println!(
        "{engine:<10} {baseline_name:<45} best {:>7.1} ms, median {:>7.1} ms",
        ms(base_best),
        ms(base_median)
    );
    println!(
        "{engine:<10} ratio upload / baseline: best {:.2}x, median {:.2}x",
        best.as_secs_f64() / base_best.as_secs_f64(),
        median.as_secs_f64() / base_median.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("premortem-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = serve(&format!("sqlite://{}/bench.db", dir.display())).await;

    // 1. One 10,000-case upload, steady state, beside the C-level upsert of the same rows.
    let uploads = single_uploads(&sqlite).await;
    let baseline = sqlite_baseline(&dir);
    compare("SQLite", &uploads, "C API upsert, one prepared statement:", &baseline);

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
    let url = format!("{base}/{name}");
    let postgres = serve(&url).await;
    let uploads = single_uploads(&postgres).await;
    let baseline = postgres_baseline(&url).await;
    compare("PostgreSQL", &uploads, "COPY of the same rows:", &baseline);
    report("PostgreSQL", &burst(&postgres).await, Some(sqlite_throughput));
    postgres.db.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop");
}
