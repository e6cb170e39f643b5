//! Release benchmark (not a test: it prints figures) of the one binary users deploy, copied
//! alone into an empty directory: the bytes a first visit downloads (wasm + JS + CSS, as
//! sent gzip- and brotli-compressed) against the 350 KiB goal, the time from start to a
//! ready `/readyz` (fresh database, then existing) against the process's own start-up
//! (`premortem --version`) measured in the same run, and resident memory when idle, at start
//! and after serving pages.
//!
//! Run with `make bench`, which builds the release bundle first: the binary embeds whatever
//! bundle existed when it was built.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GOAL_BYTES: f64 = 350.0 * 1024.0;
const STARTS: usize = 5;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Resident memory of `pid` in MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bin serve` in `dir` on `db` and returns it with the time until `/readyz` said 200.
async fn start(client: &reqwest::Client, bin: &Path, dir: &Path, db: &str) -> (Server, Duration) {
    let port = free_port();
    let begun = Instant::now();
    let child = Command::new(bin)
        .arg("serve")
        .current_dir(dir)
        .env("PREMORTEM_DATABASE_URL", db)
        .env("PREMORTEM_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start premortem");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let ready = format!("{}/readyz", server.base);
    loop {
        if let Ok(response) = client.get(&ready).send().await
            && response.status().is_success()
        {
            return (server, begun.elapsed());
        }
        assert!(begun.elapsed() < Duration::from_secs(60), "not ready after 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The `href`/`src` values of the login page's `<head>` that name the bundle.
fn bundle_urls(html: &str) -> Vec<String> {
    let head = html.split("</head>").next().unwrap_or_default();
    head.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|url| url.starts_with("/pkg/"))
        .map(str::to_owned)
        .collect()
}

/// Bytes of `url`'s body as sent with `encoding` (reqwest here does not decompress).
async fn sent_bytes(client: &reqwest::Client, url: &str, encoding: &str) -> (usize, String) {
    let response = client.get(url).header("accept-encoding", encoding).send().await.expect("asset");
    assert!(response.status().is_success(), "{url}: {}", response.status());
    let cache =
        response.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned();
    (response.bytes().await.expect("body").len(), cache)
}

async fn bundle(client: &reqwest::Client, base: &str) {
    let login = client.get(format!("{base}/login")).send().await.expect("login page");
    let urls = bundle_urls(&login.text().await.expect("html"));
    assert!(urls.len() >= 3, "the login page links no bundle (was it built before the binary?)");
    println!("\n== first visit: what the browser downloads ==");
    println!("{:<42} {:>10} {:>10} {:>10}  cache-control", "asset", "identity", "gzip", "brotli");
    let mut totals = [0usize; 3];
    for url in &urls {
        let full = format!("{base}{url}");
        let (identity, cache) = sent_bytes(client, &full, "identity").await;
        let (gzip, _) = sent_bytes(client, &full, "gzip").await;
        let (brotli, _) = sent_bytes(client, &full, "br").await;
        for (total, bytes) in totals.iter_mut().zip([identity, gzip, brotli]) {
            *total += bytes;
        }
        println!("{url:<42} {identity:>10} {gzip:>10} {brotli:>10}  {cache}");
    }
    let kib = |bytes: usize| bytes as f64 / 1024.0;
    println!(
        "{:<42} {:>9.0}K {:>9.0}K {:>9.0}K",
        "total (KiB)",
        kib(totals[0]),
        kib(totals[1]),
        kib(totals[2])
    );
    println!(
        "against the goal of 350 KiB: gzip {:.2}x, brotli {:.2}x",
        totals[1] as f64 / GOAL_BYTES,
        totals[2] as f64 / GOAL_BYTES
    );
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("premortem-release-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The binary alone in an empty directory, as a user deploys it.
    let bin = dir.join("premortem");
    std::fs::copy(env!("CARGO_BIN_EXE_premortem"), &bin).expect("copy the binary");
    let client = reqwest::Client::new();

    let mut process = Vec::new();
    for _ in 0..STARTS {
        let begun = Instant::now();
        let status = Command::new(&bin).arg("--version").stdout(Stdio::null()).status().expect("run");
        assert!(status.success());
        process.push(begun.elapsed());
    }
    let mut fresh = Vec::new();
    let mut existing = Vec::new();
    for run in 0..STARTS {
        let db = format!("sqlite://{}/start-{run}.db", dir.display());
        fresh.push(start(&client, &bin, &dir, &db).await.1);
        existing.push(start(&client, &bin, &dir, &db).await.1);
    }
    let process = median(process);
    println!("== start to a ready /readyz (median of {STARTS}) ==");
    println!("process start and exit (--version): {:>8.1} ms (baseline)", ms(process));
    for (name, samples) in [("fresh database (migrations)", fresh), ("existing database", existing)] {
        let d = median(samples);
        println!("{name:<35} {:>8.1} ms  {:>6.1}x baseline", ms(d), ms(d) / ms(process));
    }

    let db = format!("sqlite://{}/idle.db", dir.display());
    let (server, _) = start(&client, &bin, &dir, &db).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let at_start = rss_mib(server.child.id());
    bundle(&client, &server.base).await;
    for _ in 0..200 {
        for path in ["/login", "/healthz", "/no-such-page"] {
            client.get(format!("{}{path}", server.base)).send().await.expect("page").bytes().await.ok();
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mib(server.child.id());
    println!("\n== resident memory, idle ==");
    println!("after start: {at_start:.1} MiB; after 600 requests: {after:.1} MiB");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
