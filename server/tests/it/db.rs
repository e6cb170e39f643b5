//! Migrations, concurrent writes and what is stored.

use crate::both_backends;
use crate::common::{Backend, TestApp, TestDb, premortem};
use app::domain::{TeamName, TeamSlug};
use app::ssr::audit::{self, Actor};
use app::ssr::db::{Db, DbOptions};
use app::ssr::store::teams;
use sqlx::Row;

async fn table_names(db: &Db, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '\\_%' ORDER BY table_name"
        }
    };
    sqlx::query(sql)
        .fetch_all(db.read())
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .collect()
}

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = Db::connect(&test_db.url, &DbOptions::default()).await.expect("connect");
    db.migrate().await.expect("up");
    let tables = table_names(&db, backend).await;
    for expected in ["audit_log", "login_failures", "memberships", "teams", "users"] {
        assert!(tables.contains(&expected.to_owned()), "{expected} in {tables:?}");
    }
    db.migrate_down(0).await.expect("down");
    assert_eq!(table_names(&db, backend).await, Vec::<String>::new());
    db.migrate().await.expect("up again");
    assert_eq!(table_names(&db, backend).await, tables);
}

async fn concurrent_writes_all_succeed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writers = (0..64).map(|i| {
        let db = app.db.clone();
        tokio::spawn(async move {
            let slug = TeamSlug::parse(&format!("T{i}")).expect("slug");
            teams::create(&db, &Actor::Cli, &slug, &TeamName::parse("Busy").expect("name")).await
        })
    });
    for writer in writers {
        writer.await.expect("task").expect("no write fails, none sees a locked database");
    }
    assert_eq!(teams::list(&app.db).await.expect("list").len(), 64);
    let mut conn = app.db.read().acquire().await.expect("conn");
    assert!(audit::verify_chain(&mut conn).await.expect("read").is_ok(), "concurrent appends keep one chain");
}

async fn no_plaintext_password_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let password = "correct-horse-battery-staple";
    app.user("alice", password, true).await;
    let client = app.client();
    app.login(&client, "alice", password).await;
    app.login(&client, "alice", "a-wrong-guess-1").await;

    let dump: String = match backend {
        Backend::Sqlite => {
            let dir = app.test_db.dir().expect("sqlite dir");
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(dir).expect("dir") {
                bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT string_agg(t::text, ' ') AS dump FROM (
                    SELECT row_to_json(u)::text AS t FROM users u
                    UNION ALL SELECT row_to_json(a)::text FROM audit_log a
                    UNION ALL SELECT row_to_json(l)::text FROM login_failures l
                    UNION ALL SELECT encode(s.data, 'escape') FROM tower_sessions.session s) x",
            )
            .fetch_one(app.db.read())
            .await
            .expect("dump");
            rows.get::<String, _>("dump")
        }
    };
    assert!(dump.contains("$argon2id$"), "passwords are stored as argon2id hashes");
    assert!(
        !dump.contains(password) && !dump.contains("a-wrong-guess-1"),
        "no plaintext password in the database"
    );
}

/// `migrate down` names every table and column it would drop, with rows, and changes
/// nothing without `--yes`; with it, SQLite gets a backup beside the database first.
async fn migrate_down_names_what_it_drops_and_needs_yes(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let run = |args: &'static [&'static str]| {
        let url = test_db.url.clone();
        async move {
            let output = premortem(&url, args).await;
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            (output.status.success(), text(&output.stdout), text(&output.stderr))
        }
    };
    assert!(run(&["migrate", "up"]).await.0);
    assert!(run(&["team", "create", "--slug", "QUE", "--name", "Exam queue"]).await.0);

    let (ok, out, err) = run(&["migrate", "down", "--to", "0"]).await;
    assert!(!ok, "refused without --yes: {out}");
    assert!(err.contains("--yes") && err.contains("nothing was changed"), "{err}");
    assert!(out.contains("table teams (1 row)") && out.contains("table audit_log ("), "{out}");
    assert!(out.contains("0005 catalogue: ") && out.contains("table fm_templates (0 rows)"), "{out}");
    assert!(out.contains("column failure_modes.template"), "{out}");
    let db = Db::connect(&test_db.url, &DbOptions::default()).await.expect("connect");
    assert_eq!(teams::list(&db).await.expect("nothing was dropped").len(), 1);

    let (ok, out, err) = run(&["migrate", "down", "--to", "5", "--yes"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("0006 token authorship") && !out.contains("0005"), "{out}");
    if let Some(path) = app::ssr::db::sqlite_path(&test_db.url) {
        let copy = out
            .lines()
            .find_map(|line| line.strip_prefix("backup written to "))
            .unwrap_or_else(|| panic!("no backup named: {out}"));
        assert!(copy.starts_with(&path.display().to_string()), "{copy} beside {}", path.display());
        let backup = Db::connect(&format!("sqlite://{copy}"), &DbOptions::default()).await.expect("backup");
        assert_eq!(teams::list(&backup).await.expect("the backup holds the data").len(), 1);
        backup.close().await;
    } else {
        assert!(out.contains("no backup taken: PostgreSQL is backed up with pg_dump"), "{out}");
    }
    assert_eq!(teams::list(&db).await.expect("teams survive 0006's revert").len(), 1);
    db.close().await;
    let (ok, out, _) = run(&["migrate", "down", "--to", "6"]).await;
    assert!(ok && out.contains("nothing to revert"), "{out}");
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(megabytes: u32) -> Self {
        let dir = std::env::temp_dir().join(format!("premortem-full-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "this test mounts a small tmpfs to fill it, which needs root");
        Self(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The pools run no sqlx maintenance task (no idle timeout, no maximum lifetime): in sqlx
/// 0.8.6 that task can spin a worker thread at 100% for good once the pool's idle count
/// wraps below zero (sqlx issue 3645), which the dashboard bench ran into. SQLite's idle
/// connections are closed by the server's own task instead (the test below).
async fn pools_run_no_sqlx_maintenance_task(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = Db::connect(&test_db.url, &DbOptions::default()).await.expect("connect");
    let options = db.read().options();
    assert_eq!((options.get_idle_timeout(), options.get_max_lifetime()), (None, None));
    db.close().await;
}

both_backends!(pools_run_no_sqlx_maintenance_task);

/// What a burst opened is given back: SQLite connections left idle close (each held a page
/// cache of up to 2 MiB and a thread of its own), so an idle server's memory comes back
/// after a burst. Bounded by a deadline, not timed: the pool checks every few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sqlite_connections_close_after_a_burst() {
    let test_db = TestDb::new(Backend::Sqlite).await;
    let db = Db::connect(&test_db.url, &DbOptions::default()).await.expect("connect");
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = db.read().acquire().await.expect("acquire");
        sqlx::query("SELECT 1").execute(&mut *conn).await.expect("read");
        held.push(conn);
    }
    drop(held);
    assert!(db.read().size() >= 4, "the burst opened its connections");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while db.read().size() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} connections still open after 60 s idle",
            db.read().size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // And the next request opens one again.
    let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(db.read()).await.expect("read after");
    assert_eq!(one, 1);
}

/// A real full disk: the database lives on a small tmpfs that another file fills up. A
/// write that fails answers 503 with Retry-After and no internal text, `/readyz` says the
/// database is unwritable, and once space is freed both recover without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_writes_resume_when_space_returns() {
    let disk = Tmpfs::mount(8);
    let app = TestApp::spawn_on(TestDb::sqlite_in(disk.0.clone()), &[]).await;
    let admin = app.user("ada", "ada-password-1", true).await;
    app.team("PAY", &[(admin, app::domain::Role::Member)]).await;
    let client = app.client();
    assert_eq!(app.login(&client, "ada", "ada-password-1").await.status(), reqwest::StatusCode::OK);
    let summary = "x".repeat(19_000);
    let register = |title: String| {
        let (app, client, summary) = (&app, &client, &summary);
        async move {
            let form = [
                ("team", "PAY"),
                ("title", title.as_str()),
                ("summary", summary.as_str()),
                ("ticket_url", ""),
                ("pr_url", ""),
                ("design_url", ""),
                ("type_queue", "on"),
            ];
            app.call(client, "create_change", &form).await
        }
    };
    let readyz = || async { reqwest::get(app.url("/readyz")).await.expect("readyz") };
    let first = register("Before the disk fills".to_owned()).await;
    assert!(first.status().is_success(), "{}", first.text().await.expect("body"));
    assert_eq!(readyz().await.status(), reqwest::StatusCode::OK);

    // Another file takes every free block.
    let filler = disk.0.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0_u8; 64 * 1024];
        while file.write_all(&block).and_then(|()| file.sync_data()).is_ok() {}
    }
    let mut refused = None;
    for n in 0..100 {
        let response = register(format!("While full {n}")).await;
        if !response.status().is_success() {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("a write fails once the disk is full");
    assert_eq!(refused.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let body = refused.text().await.expect("body");
    assert!(
        !body.contains("full") && !body.contains("SQL") && !body.contains("/tmp"),
        "no internal text: {body}"
    );
    let unready = readyz().await;
    assert_eq!(unready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(unready.headers().contains_key("retry-after"));
    assert_eq!(unready.text().await.expect("body"), "database unwritable");

    // Space returns: an operator deletes the file.
    std::fs::remove_file(&filler).expect("free the disk");
    assert_eq!(readyz().await.status(), reqwest::StatusCode::OK, "ready again without a restart");
    for n in 0..3 {
        let response = register(format!("After the disk is freed {n}")).await;
        assert!(response.status().is_success(), "writes resume: {}", response.text().await.expect("body"));
    }
    drop(app);
}

/// With the database away, a logged-in page answers 503 with Retry-After and says so: not
/// 200, and not a header that shows the user logged out.
async fn pages_answer_503_while_the_database_is_away(backend: Backend) {
    let logs = capture_logs();
    let app = TestApp::spawn(backend).await;
    app.user("ada", "ada-password-1", true).await;
    let client = app.client();
    assert_eq!(app.login(&client, "ada", "ada-password-1").await.status(), reqwest::StatusCode::OK);
    for path in ["/", "/teams", "/admin/users"] {
        let page = client.get(app.url(path)).send().await.expect("page");
        assert_eq!(page.status(), reqwest::StatusCode::OK, "{path}");
    }

    app.db.read().close().await;
    for path in ["/", "/teams", "/admin/users"] {
        let page = client.get(app.url(path)).send().await.expect("page");
        assert_eq!(page.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(page.headers().contains_key("retry-after"), "{path}");
        let body = page.text().await.expect("body");
        assert!(body.contains("temporarily unavailable"), "{path}: {body}");
        assert!(!body.contains(">Log in<"), "{path} does not show the user logged out: {body}");
    }
    // Every line logged about it, in the tasks Leptos spawns to render too, names its request.
    let text = String::from_utf8(logs.lock().expect("logs").clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("database unavailable")).collect();
    assert!(!lines.is_empty(), "the outage is logged: {text}");
    for line in lines {
        assert!(line.contains("request_id="), "a line without its request id: {line}");
    }
}

/// Sends this test process's log lines (plain text) to a buffer.
fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("logs").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = std::sync::Arc::default();
    let sink = Sink(std::sync::Arc::clone(&buffer));
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the only subscriber in this test process (nextest runs each test alone)");
    buffer
}

/// An idle server's first request after PostgreSQL stopped, a page or readiness, is refused
/// within about a second: the pool's idle connections are found closed, and the new one it
/// would retry until its acquire timeout (5 s, twice for a page) is checked outside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_refuses_its_first_request_of_an_outage_at_once() {
    use std::time::{Duration, Instant};
    let cluster = crate::common::PgCluster::start_new();
    let app = TestApp::spawn_on(TestDb::at(cluster.url()), &[]).await;
    app.user("ada", "ada-password-1", true).await;
    let client = app.client();
    assert_eq!(app.login(&client, "ada", "ada-password-1").await.status(), reqwest::StatusCode::OK);
    assert_eq!(client.get(app.url("/teams")).send().await.expect("page").status(), 200);
    cluster.stop();
    for path in ["/readyz", "/teams", "/readyz"] {
        let asked = Instant::now();
        let reply = client.get(app.url(path)).header("Accept", "text/html").send().await.expect("reply");
        assert_eq!(reply.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(asked.elapsed() < Duration::from_secs(3), "{path} took {:?}", asked.elapsed());
        assert!(reply.headers().contains_key("retry-after"), "{path}");
    }
}

/// A PostgreSQL that is up but stuck (here: a table locked by another session) answers
/// within the statement timeout: pages and the API get 503 with Retry-After, the page as
/// an error page for the logged-in user, and both work again once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_postgres_statement_is_cut_off_at_the_statement_timeout() {
    use sqlx::Connection;
    let app = TestApp::spawn_with(Backend::Postgres, &["--db-statement-timeout-secs", "1"]).await;
    let ada = app.user("ada", "ada-password-1", false).await;
    app.team("PAY", &[(ada, app::domain::Role::Member)]).await;
    let token = app.token("PAY", &[app::domain::scope::Scope::ChangesRead], None).await;
    let client = app.client();
    assert_eq!(app.login(&client, "ada", "ada-password-1").await.status(), reqwest::StatusCode::OK);
    let page = || client.get(app.url("/teams/PAY")).send();
    let api = || app.api(reqwest::Method::GET, "/changes", &token).send();
    assert_eq!(page().await.expect("page").status(), reqwest::StatusCode::OK);
    assert_eq!(api().await.expect("api").status(), reqwest::StatusCode::OK);

    let mut locker = sqlx::PgConnection::connect(&app.test_db.url).await.expect("connect");
    sqlx::raw_sql("BEGIN; LOCK TABLE changes IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .expect("lock");
    let stuck = page().await.expect("page");
    assert_eq!(stuck.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(stuck.headers().contains_key("retry-after"));
    let body = stuck.text().await.expect("body");
    assert!(body.contains("temporarily unavailable"), "{body}");
    assert!(!body.contains(">Log in<"), "the user is not shown logged out: {body}");
    let stuck = api().await.expect("api");
    assert_eq!(stuck.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(stuck.headers().contains_key("retry-after"));

    sqlx::raw_sql("COMMIT").execute(&mut locker).await.expect("unlock");
    assert_eq!(page().await.expect("page").status(), reqwest::StatusCode::OK, "no restart needed");
    assert_eq!(api().await.expect("api").status(), reqwest::StatusCode::OK);
}

/// PostgreSQL stopped under page and upload load, then started again. While it is away,
/// pages and the API answer 503 with Retry-After quickly (not after every query's acquire
/// timeout) and never 500; when it is back they work again without a restart, and every
/// upload that was acknowledged is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_fast_and_recovers_without_a_restart() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let cluster = crate::common::PgCluster::start_new();
    let app = TestApp::spawn_on(TestDb::at(cluster.url()), &[]).await;
    let admin = app.user("ada", "ada-password-1", true).await;
    app.team("PAY", &[(admin, app::domain::Role::Member)]).await;
    let token = app.token("PAY", &app::domain::scope::Scope::ALL, Some(admin)).await;
    let client = app.client();
    assert_eq!(app.login(&client, "ada", "ada-password-1").await.status(), reqwest::StatusCode::OK);
    let pages = ["/", "/teams", "/admin/users"];
    for path in pages {
        assert_eq!(client.get(app.url(path)).send().await.expect("page").status(), 200, "{path}");
    }

    // Load all along: a reader of pages and an uploader, recording every reply.
    let done = Arc::new(AtomicBool::new(false));
    /// What was asked, the status, and whether it carried Retry-After.
    type Replies = Arc<Mutex<Vec<(String, u16, bool)>>>;
    let replies: Replies = Arc::default();
    let record = |replies: &Replies, what: String, r: &reqwest::Response| {
        let retry = r.headers().contains_key("retry-after");
        replies.lock().expect("replies").push((what, r.status().as_u16(), retry));
    };
    let reader = {
        let (client, done, replies, base) = (client.clone(), done.clone(), replies.clone(), app.url(""));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                for path in pages {
                    if let Ok(r) =
                        client.get(format!("{base}{path}")).header("Accept", "text/html").send().await
                    {
                        record(&replies, path.to_owned(), &r);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let uploader = {
        let (client, done, replies, url) =
            (app.client(), done.clone(), replies.clone(), app.url("/api/v1/runs"));
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                let body = serde_json::json!({ "results": [{ "test_id": format!("outage::t{n}"), "outcome": "passed" }] });
                let sent = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("outage-{n}"))
                    .json(&body)
                    .send()
                    .await;
                // A connection that fails outright is not a reply: the same key is sent again.
                if let Ok(r) = sent {
                    record(&replies, "upload".to_owned(), &r);
                    if r.status() == 201 {
                        acknowledged.push(n);
                        n += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.stop();
    // From the first, every request that meets the outage is refused within about a second
    // (a check with a fresh connection finds it), never after the pool's 5 s acquire timeout
    // (twice for a page), and readiness never says ready meanwhile.
    for _ in 0..3 {
        let asked = Instant::now();
        let page = client.get(app.url("/teams")).header("Accept", "text/html").send().await.expect("page");
        assert_eq!(page.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        assert!(asked.elapsed() < Duration::from_secs(3), "a refusal takes {:?}", asked.elapsed());
        assert!(page.headers().contains_key("retry-after"));
        let body = page.text().await.expect("body");
        assert!(
            body.to_lowercase().contains("temporarily unavailable") && !body.contains(">Log in<"),
            "{body}"
        );
        let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
        assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    }
    let api = app.api(reqwest::Method::GET, "/changes", "pmt_whatever").send().await.expect("api");
    assert_eq!(api.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.headers().contains_key("retry-after"));

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = client.get(app.url("/teams")).send().await.expect("page");
        if page.status() == reqwest::StatusCode::OK {
            assert!(page.text().await.expect("body").contains("PAY"), "the page is whole again");
            break;
        }
        assert!(Instant::now() < deadline, "pages work again without a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    done.store(true, Ordering::Relaxed);
    reader.await.expect("reader");
    let acknowledged = uploader.await.expect("uploader");

    let replies = replies.lock().expect("replies").clone();
    for (what, status, retry) in &replies {
        assert!(*status < 500 || *status == 503, "{what} answered {status}");
        if *status == 503 || *status == 429 {
            assert!(retry, "{what}: a {status} says when to retry");
        }
    }
    assert!(replies.iter().any(|(_, s, _)| *s == 503), "the load met the outage");
    assert!(
        replies.iter().rev().take(3).all(|(_, s, _)| *s < 300),
        "and came out of it: {:?}",
        &replies[replies.len() - 3..]
    );
    assert!(!acknowledged.is_empty());
    for n in acknowledged {
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_latest WHERE test_id = $1")
            .bind(format!("outage::t{n}"))
            .fetch_one(app.db.read())
            .await
            .expect("count");
        assert_eq!(stored, 1, "acknowledged upload {n} is stored");
    }
}

both_backends!(
    pages_answer_503_while_the_database_is_away,
    migrate_down_names_what_it_drops_and_needs_yes,
    migrations_go_up_down_and_up_again,
    concurrent_writes_all_succeed,
    no_plaintext_password_is_stored
);
