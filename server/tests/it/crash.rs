//! The real binary as a process: killed mid-write it restarts on a consistent database
//! that holds everything it acknowledged; SIGTERM stops it cleanly.

use crate::both_backends;
use crate::common::{Backend, TestDb};
use app::ssr::audit;
use app::ssr::db::{Db, DbOptions};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_premortem");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn premortem(db_url: &str, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("PREMORTEM_DATABASE_URL", db_url)
        .env("PREMORTEM_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn");
    command
}

fn create_admin(db_url: &str) {
    let mut child = premortem(db_url, 0)
        .args(["user", "create", "--username", "root", "--admin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"root-password-1\n").expect("write");
    assert!(child.wait().expect("wait").success());
}

async fn start(db_url: &str, port: u16) -> Child {
    let mut child = premortem(db_url, port).arg("serve").stdout(Stdio::null()).spawn().expect("spawn");
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..300 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not become healthy");
}

async fn logged_in(port: u16) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let response = client
        .post(format!("http://127.0.0.1:{port}/api/login"))
        .form(&[("username", "root"), ("password", "root-password-1")])
        .send()
        .await
        .expect("login");
    assert!(response.status().is_success());
    client
}

async fn a_sigkill_during_writes_loses_nothing_acknowledged(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    create_admin(&test_db.url);
    let port = free_port();
    let mut server = start(&test_db.url, port).await;
    let client = logged_in(port).await;

    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let writers: Vec<_> = (0..60)
        .map(|i| {
            let client = client.clone();
            let acked = acked_tx.clone();
            tokio::spawn(async move {
                let slug = format!("K{i}");
                let reply = client
                    .post(format!("http://127.0.0.1:{port}/api/admin/create_team"))
                    .form(&[("slug", slug.as_str()), ("name", "Crash test")])
                    .send()
                    .await;
                if reply.is_ok_and(|r| r.status().is_success()) {
                    let _ = acked.send(slug);
                }
            })
        })
        .collect();
    drop(acked_tx);
    // Kill once some writes are acknowledged and others are still in flight.
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 10 {
        match acked_rx.recv().await {
            Some(slug) => acknowledged.push(slug),
            None => break,
        }
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    for writer in writers {
        let _ = writer.await;
    }
    while let Ok(slug) = acked_rx.try_recv() {
        acknowledged.push(slug);
    }
    assert!(acknowledged.len() >= 10, "some writes were acknowledged before the kill");

    let mut server = start(&test_db.url, port).await;
    let client = logged_in(port).await;
    let teams: serde_json::Value = client
        .post(format!("http://127.0.0.1:{port}/api/teams"))
        .send()
        .await
        .expect("teams")
        .json()
        .await
        .expect("json");
    let stored: Vec<&str> =
        teams.as_array().expect("list").iter().filter_map(|t| t["slug"].as_str()).collect();
    for slug in &acknowledged {
        assert!(stored.contains(&slug.as_str()), "acknowledged team {slug} survived the crash");
    }
    server.kill().expect("kill");
    server.wait().expect("reaped");

    let db = Db::connect(&test_db.url, &DbOptions::default()).await.expect("reopen");
    if backend == Backend::Sqlite {
        let check: String =
            sqlx::query_scalar("PRAGMA integrity_check").fetch_one(db.read()).await.expect("integrity check");
        assert_eq!(check, "ok");
    }
    let mut conn = db.read().acquire().await.expect("conn");
    assert!(audit::verify_chain(&mut conn).await.expect("read").is_ok(), "every write kept its audit entry");
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'team.create'")
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(
        audited,
        i64::try_from(stored.len()).expect("small"),
        "a team exists exactly when its audit entry does"
    );
}

async fn sigterm_shuts_down_gracefully(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let port = free_port();
    let mut server = start(&test_db.url, port).await;
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
    assert!(status.success());
    for _ in 0..300 {
        if let Some(exit) = server.try_wait().expect("wait") {
            assert!(exit.success(), "exits cleanly on SIGTERM: {exit}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().expect("kill");
    server.wait().expect("reaped");
    panic!("server did not stop after SIGTERM");
}

both_backends!(a_sigkill_during_writes_loses_nothing_acknowledged, sigterm_shuts_down_gracefully);

/// Logs written to a pipe or a file (not a terminal) are plain text: no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_into_a_pipe_carry_no_colour_codes() {
    let test_db = TestDb::new(Backend::Sqlite).await;
    let port = free_port();
    let server = premortem(&test_db.url, port)
        .arg("serve")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut healthy = false;
    for _ in 0..300 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = server.wait_with_output().expect("wait");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(healthy, "{log}");
    assert!(log.contains("INFO"), "info lines are logged: {log}");
    assert!(!log.contains('\u{1b}'), "no ANSI escape codes: {log:?}");
}
