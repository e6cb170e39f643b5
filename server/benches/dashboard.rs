//! Dashboard benchmark (not a test: it prints figures). On SQLite and on PostgreSQL:
//! loads the large data set (1,000 changes, 10,000 failure modes, 1,020,000 results), then
//! measures, at 16 concurrent connections, the portfolio page as a leader opens it (server-
//! side render of all teams), a filtered view, the CSV export, the team page, a change page
//! with 50 failure modes, search and, as the baseline measured in the same run, the trivial
//! `/healthz` route. CPU per request is the machine's cores over the throughput. Then the
//! growth figure: the same routes on SQLite with ten times the changes and failure modes,
//! each route measured right after the same route at 1× (the first SQLite server, still
//! up), its CPU per request beside that figure.
//!
//! Run with `make bench` (PostgreSQL from PREMORTEM_TEST_POSTGRES_URL or 127.0.0.1:5432).

use clap::Parser;
use sqlx::Connection;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;
const REQUESTS: usize = 960;
const WARM_UP: usize = 4 * CONCURRENCY;
const PASSWORD: &str = "bench-lead-password";

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

impl Figures {
    /// Milliseconds of CPU per request, with every core busy.
    fn cpu_ms(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        cores as f64 * 1000.0 / self.per_second
    }
}

/// The routes measured, by name.
const ROUTES: [(&str, &str); 8] = [
    ("portfolio page, all teams", "/"),
    ("portfolio page, one team, overdue first", "/?team=TEAM03&sort=coverage"),
    ("CSV export, every change", "/portfolio.csv"),
    ("team page (upcoming, gaps, stale, runs)", "/teams/TEAM03"),
    ("change page, 50 failure modes", "/changes/{big}"),
    ("search page, two words (change 17)", "/search?q=change+17"),
    ("search page, a word of every failure mode", "/search?q=magnitude"),
    ("search for a key, to its change page", "/search?q=TEAM03-5"),
];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `REQUESTS` GETs of `path`, `CONCURRENCY` at a time, each worker on its own connection,
/// after a warm-up the same way (caches, prepared statements and every pooled connection).
async fn measure(client: &reqwest::Client, base: &str, path: &str) -> Figures {
    let url = format!("{base}{path}");
    concurrently(client, &url, WARM_UP).await;
    let started = Instant::now();
    let mut all = concurrently(client, &url, REQUESTS).await;
    let elapsed = started.elapsed();
    all.sort();
    let at = |p: f64| all[(((all.len() - 1) as f64) * p).round() as usize];
    Figures { p50: at(0.50), p99: at(0.99), per_second: all.len() as f64 / elapsed.as_secs_f64() }
}

/// `requests` GETs of `url` by `CONCURRENCY` workers; their latencies.
async fn concurrently(client: &reqwest::Client, url: &str, requests: usize) -> Vec<Duration> {
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(requests / CONCURRENCY);
                for _ in 0..requests / CONCURRENCY {
                    let begun = Instant::now();
                    let response = client.get(&url).send().await.expect("request");
                    assert!(response.status().is_success(), "{url}: {}", response.status());
                    response.bytes().await.expect("body");
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::with_capacity(requests);
    for worker in workers {
        all.extend(worker.await.expect("worker"));
    }
    all
}

/// A data set loaded and served in this process, with a leader logged in.
struct Served {
    db: app::ssr::db::Db,
    client: reqwest::Client,
    base: String,
    /// The key of the change with 50 failure modes.
    big: String,
}

impl Served {
    fn url(&self, path: &str) -> String {
        path.replace("{big}", &self.big)
    }

    async fn measure(&self, path: &str) -> Figures {
        measure(&self.client, &self.base, &self.url(path)).await
    }
}

/// Loads `scale` into the database at `url` and serves it.
async fn serve(url: &str, scale: server::demo::Scale) -> Served {
    let settings =
        server::config::Cli::try_parse_from(["premortem", "--database-url", url, "--listen", "127.0.0.1:0"])
            .expect("settings")
            .settings;
    let db = server::startup::connect(&settings).await.expect("database");
    let hash = app::ssr::auth::hash_password(app::domain::Password::parse_new("p", PASSWORD).expect("pw"))
        .await
        .expect("hash");
    let started = Instant::now();
    let written = server::demo::generate(&db, scale, &hash).await.expect("data set");
    println!(
        "data set: {} teams, {} changes, {} failure modes, {} results, {} incidents, loaded in {:.1} s",
        written.teams,
        written.changes,
        written.failure_modes,
        written.results,
        written.incidents,
        started.elapsed().as_secs_f64()
    );
    let (router, _tasks) = server::startup::app(&settings, db.clone()).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = server::startup::ConnectionLimits::from(&settings);
    tokio::spawn(server::startup::serve_connections(listener, router, limits, std::future::pending()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let login = client
        .post(format!("{base}/api/login"))
        .header("Accept", "application/json")
        .form(&[("username", "bench-lead"), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    assert!(login.status().is_success(), "login: {}", login.status());
    let big = grow_a_change(&db, &client, &base).await;
    // The server's first round of maintenance (it records the day's coverage: 0.2 s of
    // work at 10x) runs as it starts; the figures are of a server past it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Served { db, client, base, big }
}

/// Prints a route's figures; `baseline`: `/healthz` of the same server.
fn row(name: &str, f: &Figures, baseline: &Figures, extra: &str) {
    println!(
        "{name:<44} {:>8.1} {:>8.1} {:>8.0} {:>10.1}x {:>11.2}{extra}",
        ms(f.p50),
        ms(f.p99),
        f.per_second,
        f.p50.as_secs_f64() / baseline.p50.as_secs_f64(),
        f.cpu_ms(),
    );
}

fn header(extra: &str) {
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>11} {:>11}{extra}",
        "route (16 connections, 960 requests)", "p50 ms", "p99 ms", "req/s", "p50 / base", "CPU ms/req",
    );
}

/// Measures every route of `served`, after its baseline.
async fn measure_routes(served: &Served) {
    let baseline = served.measure("/healthz").await;
    header("");
    row("GET /healthz (baseline)", &baseline, &baseline, "");
    for (name, path) in ROUTES {
        row(name, &served.measure(path).await, &baseline, "");
    }
}

/// The growth figure: each route on `tenfold`, measured right after the same route on
/// `onefold`, so that both see the machine as it is that minute (this machine's speed
/// drifts between minutes by more than the difference sought).
async fn measure_growth(onefold: &Served, tenfold: &Served) {
    let baseline = tenfold.measure("/healthz").await;
    header("   CPU at 1x   CPU / 1x");
    row("GET /healthz (baseline)", &baseline, &baseline, "");
    for (name, path) in ROUTES {
        let before = onefold.measure(path).await;
        let f = tenfold.measure(path).await;
        row(
            name,
            &f,
            &baseline,
            &format!(" {:>11.2} {:>9.2}x", before.cpu_ms(), f.cpu_ms() / before.cpu_ms()),
        );
    }
}

/// Gives an open change 50 failure modes in all (the data set's have 10), through the
/// server function a browser calls; returns its key.
async fn grow_a_change(db: &app::ssr::db::Db, client: &reqwest::Client, base: &str) -> String {
    let (slug, number): (String, i64) = sqlx::query_as(
        "SELECT t.slug, c.number FROM changes c JOIN teams t ON t.id = c.team_id
         WHERE c.status IN ('draft', 'happy_path_working') ORDER BY c.id LIMIT 1",
    )
    .fetch_one(db.read())
    .await
    .expect("an open change");
    let key = format!("{slug}-{number}");
    for n in 0..40 {
        let title = format!("Grown failure mode {n}");
        let selectors = format!("{}::grown::f{n}::*", slug.to_lowercase());
        let form = [
            ("key", key.as_str()),
            ("title", &title),
            ("scenario", "Scenario with a magnitude"),
            ("severity", "3"),
            ("likelihood", "3"),
            ("detectability", "2"),
            ("designs", "Design note"),
            ("selectors", &selectors),
        ];
        let added = client
            .post(format!("{base}/api/add_failure_mode"))
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .expect("add failure mode");
        assert!(added.status().is_success(), "add failure mode: {}", added.status());
    }
    key
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("premortem-dashboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    println!("\n== SQLite ==");
    let sqlite = serve(&format!("sqlite://{}/bench.db", dir.display()), server::demo::Scale::LARGE).await;
    measure_routes(&sqlite).await;

    let admin = std::env::var("PREMORTEM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("premortem_bench_{}", std::process::id());
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut conn) => {
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
            println!("\n== PostgreSQL ==");
            let postgres = serve(&format!("{base}/{name}"), server::demo::Scale::LARGE).await;
            measure_routes(&postgres).await;
            postgres.db.close().await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .expect("drop database");
        }
        Err(err) => println!("\nPostgreSQL skipped: cannot connect to {admin}: {err}"),
    }
    println!("\n== SQLite, 10x the changes and failure modes, each route right after it at 1x ==");
    let tenfold =
        serve(&format!("sqlite://{}/tenfold.db", dir.display()), server::demo::Scale::TENFOLD).await;
    measure_growth(&sqlite, &tenfold).await;
    tenfold.db.close().await;
    sqlite.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
