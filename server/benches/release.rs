//! Release benchmark (not a test: it prints figures) of the one binary users deploy, copied
//! alone into an empty directory: the bytes a first visit downloads (wasm + JS + CSS, as
//! sent gzip- and brotli-compressed) against the 350 KiB goal, the time from start to a
//! ready `/readyz` (fresh database, then existing) against the process's own start-up
//! (`premortem --version`) measured in the same run, and resident memory: idle at start (the
//! baseline), after serving pages, at the peak of a burst of uploads near the size limit, and
//! idle again after it.
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

/// One line of `/proc/<pid>/status` in MiB (Linux), e.g. `VmRSS` or `RssAnon`.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    kib / 1024.0
}

/// Resident memory of `pid` in MiB.
fn rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmRSS")
}

/// Where resident memory is: `anon (heap) + file (code, mapped files) + shmem` in MiB.
fn rss_parts(pid: u32) -> String {
    let [anon, file, shmem] = ["RssAnon", "RssFile", "RssShmem"].map(|field| status_mib(pid, field));
    format!("anon {anon:.1} + file {file:.1} + shmem {shmem:.1}")
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

const MIB: f64 = 1024.0 * 1024.0;
const BURST: usize = 8;
/// Near the default upload limit of 16 MiB (and under its 50,000 cases).
const BURST_BYTES: usize = 15 * 1024 * 1024;

/// A JUnit report of about `bytes`, 48,000 cases with long names.
fn junit(run: usize, bytes: usize) -> String {
    const CASES: usize = 48_000;
    let pad = "p".repeat((bytes / CASES).saturating_sub(90));
    let mut xml = String::with_capacity(bytes + 1024);
    xml.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="burst">"#);
    for i in 0..CASES {
        xml.push_str(&format!(r#"<testcase classname="burst{run}" name="case_{i}_{pad}" time="0.001"/>"#));
    }
    xml.push_str("</testsuite></testsuites>");
    xml
}

/// `BURST` concurrent uploads near the size limit (retrying as told on 503), sampling the
/// server's memory meanwhile: (peak MiB, MiB when idle 5 s later).
async fn upload_burst(
    client: &reqwest::Client,
    bin: &Path,
    dir: &Path,
    db: &str,
    server: &Server,
) -> (f64, f64) {
    let cli = |args: &[&str]| {
        let output = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .env("PREMORTEM_DATABASE_URL", db)
            .output()
            .expect("cli");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
    };
    cli(&["team", "create", "--slug", "MEM", "--name", "Memory"]);
    let token = cli(&["token", "create", "--team", "MEM", "--name", "burst", "--scope", "evidence:write"]);
    let pid = server.child.id();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = tokio::spawn({
        let sampling = sampling.clone();
        async move {
            let mut peak = 0f64;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        }
    });
    let uploads: Vec<_> = (0..BURST)
        .map(|run| {
            let (client, token) = (client.clone(), token.clone());
            let url = format!("{}/api/v1/runs?run_key=burst-{run}", server.base);
            tokio::spawn(async move {
                let body = junit(run, BURST_BYTES);
                loop {
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Content-Type", "application/xml")
                        .header("Idempotency-Key", format!("burst-{run}"))
                        .body(body.clone())
                        .send()
                        .await
                        .expect("upload");
                    let status = response.status();
                    let wait =
                        response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
                    match (status.as_u16(), wait) {
                        (200 | 201, _) => return,
                        (503, Some(secs)) => tokio::time::sleep(Duration::from_secs(secs)).await,
                        _ => panic!("upload {run}: {status} {}", response.text().await.unwrap_or_default()),
                    }
                }
            })
        })
        .collect();
    for upload in uploads {
        upload.await.expect("upload task");
    }
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.expect("sampler");
    tokio::time::sleep(Duration::from_secs(5)).await;
    (peak, rss_mib(pid))
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
    let at_start_parts = rss_parts(server.child.id());
    bundle(&client, &server.base).await;
    for _ in 0..200 {
        for path in ["/login", "/healthz", "/no-such-page"] {
            client.get(format!("{}{path}", server.base)).send().await.expect("page").bytes().await.ok();
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_pages = rss_mib(server.child.id());
    let (peak, after_burst) = upload_burst(&client, &bin, &dir, &db, &server).await;
    // Tokio's idle blocking threads (which parsed the uploads) exit after 10 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later = rss_mib(server.child.id());
    let later_parts = rss_parts(server.child.id());
    println!("\n== resident memory ==");
    println!("idle after start:                      {at_start:>7.1} MiB (baseline; {at_start_parts})");
    println!("idle after 600 page requests:          {after_pages:>7.1} MiB  {:.2}x", after_pages / at_start);
    println!("peak during {BURST} uploads of ~{:.0} MiB:  {peak:>7.1} MiB", BURST_BYTES as f64 / MIB);
    println!("idle 5 s after the burst:              {after_burst:>7.1} MiB  {:.2}x", after_burst / at_start);
    println!(
        "idle 15 s after the burst:             {later:>7.1} MiB  {:.2}x ({later_parts})",
        later / at_start
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
