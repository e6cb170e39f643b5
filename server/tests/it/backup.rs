//! `premortem backup` as a process: a copy taken while the server takes writes holds every
//! write acknowledged before it started, and its audit chain verifies.
//!
//! Unlike the other modules these tests are not run once per backend: the command copies
//! SQLite databases, and on PostgreSQL it only points to `pg_dump`, which has its own test.

use crate::common::{Backend, TestApp, TestDb, premortem};
use app::domain::scope::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A write the server acknowledged, and when the acknowledgement arrived.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Write {
    /// A change, by key.
    Change(String),
    /// An uploaded run, by commit.
    Run(String),
}

/// Clients writing changes and test runs through the CI API until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<(Write, Instant)>>>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(app: &TestApp, token: &str, writers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let writers = (0..writers)
            .map(|writer| {
                let api =
                    Api { client: reqwest::Client::new(), base: app.url("/api/v1"), token: token.to_owned() };
                let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let write = if n % 2 == 0 {
                            api.create_change(writer, n).await
                        } else {
                            api.upload_run(writer, n).await
                        };
                        if let Some(write) = write {
                            acknowledged.lock().expect("lock").push((write, Instant::now()));
                        }
                    }
                })
            })
            .collect();
        Self { stop, acknowledged, writers }
    }

    async fn wait_for(&self, count: usize) {
        for _ in 0..600 {
            if self.acknowledged.lock().expect("lock").len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the load never reached {count} acknowledged writes");
    }

    async fn stop(self) -> Vec<(Write, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            writer.await.expect("writer");
        }
        std::mem::take(&mut *self.acknowledged.lock().expect("lock"))
    }
}

/// One writer's way to the CI API.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn create_change(&self, writer: usize, n: usize) -> Option<Write> {
        let body = json!({ "team": "PAY", "title": format!("Load {writer}/{n}"), "types": ["queue"] });
        let request = self.client.post(format!("{}/changes", self.base)).bearer_auth(&self.token);
        let response = request.json(&body).send().await.ok()?;
        if response.status() != StatusCode::CREATED {
            return None;
        }
        let created: Value = response.json().await.ok()?;
        Some(Write::Change(created["key"].as_str()?.to_owned()))
    }

    async fn upload_run(&self, writer: usize, n: usize) -> Option<Write> {
        let commit = format!("load-{writer}-{n}");
        let results = json!({ "results": [{ "test_id": "tests::load", "outcome": "passed" }] });
        let request =
            self.client.post(format!("{}/runs?commit={commit}", self.base)).bearer_auth(&self.token);
        let response = request.json(&results).send().await.ok()?;
        (response.status() == StatusCode::CREATED).then_some(Write::Run(commit))
    }
}

/// Every change and run the restored app holds.
async fn stored_writes(app: &TestApp, token: &str) -> HashSet<Write> {
    let changes: Value =
        app.api(Method::GET, "/changes", token).send().await.expect("list").json().await.expect("json");
    let commits: Vec<String> =
        sqlx::query_scalar("SELECT commit_sha FROM evidence_runs WHERE commit_sha IS NOT NULL")
            .fetch_all(app.db.read())
            .await
            .expect("runs");
    let changes = changes.as_array().expect("list").iter().filter_map(|c| c["key"].as_str());
    changes.map(|key| Write::Change(key.to_owned())).chain(commits.into_iter().map(Write::Run)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_holds_every_write_acknowledged_before_it() {
    // Arrange: a server taking changes and uploads from four clients at once.
    let app = TestApp::spawn_with(Backend::Sqlite, &["--token-rate-per-minute", "1000000"]).await;
    app.team("PAY", &[]).await;
    let token = app.token("PAY", &Scope::ALL, None).await;
    let load = Load::start(&app, &token, 4);
    load.wait_for(20).await;
    let file = app.test_db.dir().expect("SQLite").join("backup.db");

    // Act: back up while the writes go on.
    let started = Instant::now();
    let output = premortem(&app.test_db.url, &["backup", "--to", file.to_str().expect("utf-8")]).await;
    let finished = Instant::now();
    let acknowledged = load.stop().await;

    // Assert
    assert!(output.status.success(), "backup failed: {}", String::from_utf8_lossy(&output.stderr));
    let during = acknowledged.iter().filter(|(_, at)| (started..finished).contains(at)).count();
    assert!(during > 0, "writes were acknowledged while the backup ran");
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().expect("dir"))
        .expect("list")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains("partial"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "no temporary file is left behind");

    let restored_db = TestDb::new(Backend::Sqlite).await;
    std::fs::copy(&file, restored_db.dir().expect("SQLite").join("test.db")).expect("copy the backup");
    let restored = TestApp::spawn_on(restored_db, &[]).await;
    let check: String =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(restored.db.read()).await.expect("check");
    assert_eq!(check, "ok");
    let stored = stored_writes(&restored, &token).await;
    let before: Vec<_> = acknowledged.iter().filter(|(_, at)| *at < started).map(|(w, _)| w).collect();
    assert!(before.len() >= 20);
    for write in before {
        assert!(stored.contains(write), "{write:?}, acknowledged before the backup, is in it");
    }
    let verified = premortem(&restored.test_db.url, &["audit", "verify"]).await;
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    assert!(String::from_utf8_lossy(&verified.stdout).starts_with("audit chain intact: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_overwrites_a_file() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let file = app.test_db.dir().expect("SQLite").join("precious.db");
    std::fs::write(&file, "keep me").expect("write");

    let output = premortem(&app.test_db.url, &["backup", "--to", file.to_str().expect("utf-8")]).await;

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "keep me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_postgres_is_refused_with_the_pg_dump_command() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let dir = std::env::temp_dir().join(format!("premortem-pg-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("backup.db");

    let output = premortem(&app.test_db.url, &["backup", "--to", file.to_str().expect("utf-8")]).await;

    let _ = std::fs::remove_dir_all(&dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pg_dump --format=custom"), "{stderr}");
    assert!(!file.exists(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_missing_database_creates_nothing() {
    let dir = std::env::temp_dir().join(format!("premortem-no-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/absent.db", dir.display());
    let file = dir.join("backup.db");

    let output = premortem(&url, &["backup", "--to", file.to_str().expect("utf-8")]).await;

    let created = (dir.join("absent.db").exists(), file.exists());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no SQLite database"));
    assert_eq!(created, (false, false), "neither an empty database nor a backup was created");
}
