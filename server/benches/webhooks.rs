//! Webhooks benchmark (not a test: it prints figures, it asserts only that nothing is lost).
//!
//! 1. The outbox's cost: a 10,000-case JUnit upload that moves the coverage of a change's 50
//!    failure modes (all failing, then all passing again), with three subscriptions to every
//!    event type, beside the same uploads while they are paused (nothing queued); medians of
//!    the same number of rounds taken in turn, and their ratio (goal ≤ 1.05).
//! 2. Deliveries per second to a local receiver that answers 204: 2,000 events of as many
//!    changes (sent side by side, up to the dispatcher's concurrency), and 200 events of one
//!    change (one after another, in order), beside the baseline of the same 2,000 signed-size
//!    bodies posted by a plain HTTP client at the same concurrency.
//!
//! On SQLite and on PostgreSQL. Run with `make bench`.

mod common;

use app::ssr::db::Db;
use serde_json::{Value, json};
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CASES: usize = 10_000;
const FAILURE_MODES: usize = 50;
const ROUNDS: usize = 6;
const SUBSCRIPTIONS: usize = 3;
const SPREAD: usize = 2_000;
const IN_ORDER: usize = 200;

/// A JUnit report of `CASES` tests, the first `FAILURE_MODES` of them failing or not.
fn junit(failing: bool) -> String {
    let mut xml = String::with_capacity(CASES * 90);
    xml.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="bench">"#);
    for i in 0..CASES {
        if failing && i < FAILURE_MODES {
            xml.push_str(&format!(
                r#"<testcase classname="hook" name="test_{i}" time="0.001"><failure message="boom"/></testcase>"#
            ));
        } else {
            xml.push_str(&format!(r#"<testcase classname="hook" name="test_{i}" time="0.001"/>"#));
        }
    }
    xml.push_str("</testsuite></testsuites>");
    xml
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A receiver on 127.0.0.1 that counts what it is posted and answers 204.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("receiver") });
    (url, count)
}

struct Served {
    db: Db,
    base: String,
    token: String,
    client: reqwest::Client,
    /// The dispatcher's deliveries in flight at once.
    concurrency: usize,
}

impl Served {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.expect("request");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }
}

/// A server on `url` (private destinations allowed: the receiver is local) with a team
/// BEN, a token, and change BEN-1 whose happy path works and whose 50 failure modes each
/// select one test of the report.
async fn serve(url: &str) -> Served {
    let (db, base, settings) = common::serve(url, &["--webhook-allow-private"]).await;
    let token = common::team(&db).await;
    let served =
        Served { db, base, token, client: reqwest::Client::new(), concurrency: settings.webhook_concurrency };
    let change = json!({ "team": "BEN", "title": "Bench", "types": ["queue"] });
    served.call(reqwest::Method::POST, "/changes", Some(change)).await;
    served.call(reqwest::Method::POST, "/changes/BEN-1/happy-path", None).await;
    for i in 0..FAILURE_MODES {
        let fm = json!({ "title": format!("FM {i}"), "severity": 2, "likelihood": 2, "detectability": 2,
            "designs": [{ "title": "d" }], "tests": [format!("hook::test_{i}")] });
        served.call(reqwest::Method::POST, "/changes/BEN-1/failure-modes", Some(fm)).await;
    }
    served
}

/// One upload; answers how long it took.
async fn upload(served: &Served, body: &str, key: &str) -> Duration {
    let started = Instant::now();
    let response = served
        .client
        .post(format!("{}/runs?change=BEN-1&run_key={key}", served.base))
        .bearer_auth(&served.token)
        .header("Content-Type", "application/xml")
        .header("Idempotency-Key", key)
        .body(body.to_owned())
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{:?}", response.text().await);
    started.elapsed()
}

async fn set_state(served: &Served, hooks: &[i64], state: &str) {
    for id in hooks {
        served
            .call(reqwest::Method::PATCH, &format!("/webhooks/{id}"), Some(json!({ "state": state })))
            .await;
    }
}

async fn pending(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
        .fetch_one(db.read())
        .await
        .expect("count")
}

async fn wait_until_sent(db: &Db) {
    while pending(db).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 1: the same uploads with the subscriptions paused and active, in turn.
async fn outbox_cost(engine: &str, served: &Served, hooks: &[i64]) {
    let (failing, passing) = (junit(true), junit(false));
    // The tests become known and the change's failure modes verified.
    upload(served, &passing, "warm").await;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let queued_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries")
        .fetch_one(served.db.read())
        .await
        .expect("n");
    for round in 0..ROUNDS {
        for (paused, times) in [(true, &mut without), (false, &mut with)] {
            // What the last uploads queued is sent first (a paused webhook's rows would wait).
            wait_until_sent(&served.db).await;
            set_state(served, hooks, if paused { "paused" } else { "active" }).await;
            times.push(upload(served, &failing, &format!("f-{round}-{paused}")).await);
            times.push(upload(served, &passing, &format!("p-{round}-{paused}")).await);
        }
    }
    wait_until_sent(&served.db).await;
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries")
        .fetch_one(served.db.read())
        .await
        .expect("n");
    let per_upload = (queued - queued_before) as f64 / with.len() as f64;
    let (without, with) = (median(without), median(with));
    println!(
        "{engine:<10} 10,000-case upload moving 50 failure modes, no subscription: median {:>7.1} ms",
        ms(without)
    );
    println!(
        "{engine:<10} the same with {SUBSCRIPTIONS} subscriptions to every event ({per_upload:.0} deliveries queued per upload): median {:>7.1} ms",
        ms(with)
    );
    println!(
        "{engine:<10} ratio with / without: {:.3}x (goal 1.05x)",
        with.as_secs_f64() / without.as_secs_f64()
    );
}

/// Queues `events` deliveries for `hook` in one transaction: of `changes` distinct changes,
/// each change's in order.
async fn queue(db: &Db, hook: i64, events: usize, changes: usize) {
    let mut tx = db.begin_write().await.expect("begin");
    let now = app::domain::time::Timestamp::now();
    for i in 0..events {
        let key = format!("BEN-{}", 1000 + i % changes);
        let change = json!({ "key": key, "title": "Bench", "team": "BEN", "status": "draft" }).to_string();
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_type, change_key, change, data, queued_at, occurred_at, next_at)
             VALUES ($1, 'change.edited', $2, $3, '{\"fields\": [\"title\"]}', $4, $4, $4)",
        )
        .bind(hook)
        .bind(&key)
        .bind(&change)
        .bind(now)
        .execute(&mut *tx)
        .await
        .expect("queue");
    }
    tx.commit().await.expect("commit");
}

/// 2: deliveries per second, spread over many changes and of one change in order, beside
/// a plain client posting the same number of bodies at the same concurrency.
async fn throughput(engine: &str, served: &Served, hook: i64, url: &str, count: &AtomicUsize) {
    for (events, changes, what) in
        [(SPREAD, SPREAD, "of as many changes"), (IN_ORDER, 1, "of one change, in order")]
    {
        let before = count.load(Ordering::Relaxed);
        let started = Instant::now();
        queue(&served.db, hook, events, changes).await;
        while count.load(Ordering::Relaxed) < before + events {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let wall = started.elapsed();
        println!(
            "{engine:<10} {events} deliveries {what}: {:>6.0} per second ({:.0} ms)",
            events as f64 / wall.as_secs_f64(),
            ms(wall)
        );
    }
    let body = json!({ "type": "change.edited", "timestamp": "2026-12-07T00:00:00Z",
        "data": { "change": { "key": "BEN-1", "title": "Bench", "team": "BEN", "status": "draft",
        "url": "http://127.0.0.1/changes/BEN-1" }, "fields": ["title"] } })
    .to_string();
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..served.concurrency)
        .map(|_| {
            let (client, next, body, url) = (client.clone(), next.clone(), body.clone(), url.to_owned());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < SPREAD {
                    let response = client.post(&url).body(body.clone()).send().await.expect("post");
                    assert!(response.status().is_success());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let wall = started.elapsed();
    println!(
        "{engine:<10} baseline, {SPREAD} posts by a plain client at the same concurrency: {:>6.0} per second",
        SPREAD as f64 / wall.as_secs_f64()
    );
}

async fn run(engine: &str, url: &str) {
    let served = serve(url).await;
    let (hook_url, count) = receiver().await;
    let mut hooks = Vec::new();
    for _ in 0..SUBSCRIPTIONS {
        let created = served
            .call(reqwest::Method::POST, "/webhooks", Some(json!({ "url": hook_url, "events": ["*"] })))
            .await;
        hooks.push(created["id"].as_i64().expect("id"));
    }
    outbox_cost(engine, &served, &hooks).await;
    set_state(&served, &hooks[1..], "paused").await;
    throughput(engine, &served, hooks[0], &hook_url, &count).await;
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'failed'")
        .fetch_one(served.db.read())
        .await
        .expect("count");
    assert_eq!(failed, 0, "no delivery failed");
    served.db.close().await;
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("premortem-bench-webhooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    run("SQLite", &format!("sqlite://{}/bench.db", dir.display())).await;
    let _ = std::fs::remove_dir_all(&dir);

    let admin = std::env::var("PREMORTEM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("premortem_bench_webhooks_{}", std::process::id());
    let mut conn =
        sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL (scripts/ensure-postgres.sh)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    run("PostgreSQL", &format!("{base}/{name}")).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop");
}
