//! Webhooks, as a subscriber gets them: a receiver that verifies every delivery with the
//! Standard Webhooks reference library (`scripts/webhooks/receiver.py`), down for a while
//! and then up; and destinations inside the network refused at creation and at delivery.

use crate::both_backends;
use crate::common::{Backend, TestApp, TestDb};
use app::domain::Role;
use app::domain::scope::Scope;
use app::domain::webhook::{EventFilter, Format};
use app::ssr::audit::Actor;
use app::ssr::store::{teams, webhooks};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// The Python with `standardwebhooks` installed (by `make unit`, through
/// `scripts/python-venv.sh`).
fn python() -> std::path::PathBuf {
    let target =
        std::env::var("TARGET_DIR").unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let python = std::path::Path::new(&target).join("webhooks/bin/python");
    assert!(python.exists(), "{} is missing: run make unit, which installs it", python.display());
    python
}

/// The reference receiver on `port`, the file it reads its secret from, and what it has
/// printed so far.
struct Receiver {
    child: tokio::process::Child,
    secret_file: std::path::PathBuf,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts it on `port`, verifying with `secret`.
    async fn start(port: u16, secret: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("premortem-webhooks-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let secret_file = dir.join("secret");
        std::fs::write(&secret_file, secret).expect("secret file");
        let script = format!("{}/../scripts/webhooks/receiver.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = tokio::process::Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .arg(&secret_file)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("receiver");
        let mut out = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = out.next_line().await.expect("read").expect("the receiver's port");
        assert_eq!(serde_json::from_str::<Value>(&first).expect("json")["port"], json!(port));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                kept.lock().expect("lines").push(serde_json::from_str(&line).expect("json line"));
            }
        });
        Self { child, secret_file, lines }
    }

    /// Verifies with `secret` from the next request on.
    fn hold(&self, secret: &str) {
        std::fs::write(&self.secret_file, secret).expect("secret file");
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits (up to two minutes: retries back off) until `done` holds for what arrived.
    async fn until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..1200 {
            let lines = self.lines();
            if done(&lines) {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver did not get what was expected; it got {:#?}", self.lines());
    }
}

fn types_of<'a>(lines: &'a [Value], key: &str) -> Vec<&'a str> {
    lines.iter().filter(|l| l["data"]["change"]["key"] == key).filter_map(|l| l["type"].as_str()).collect()
}

async fn deliveries(app: &TestApp, token: &str, id: &Value) -> Vec<Value> {
    let response =
        app.api(Method::GET, &format!("/webhooks/{id}/deliveries"), token).send().await.expect("list");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn run(app: &TestApp, token: &str, outcome: &str) {
    let body = json!({ "results": [{ "test_id": "queue::drains", "outcome": outcome }] });
    let response = app.api(Method::POST, "/runs?change=PAY-1", token).json(&body).send().await.expect("run");
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
}

async fn a_change_life_reaches_a_verifying_receiver_in_order_after_a_minute_down(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--webhook-allow-private"]).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member), (lena, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(amy)).await;

    // Subscribed while nothing listens at the address: the receiver is down.
    let down = std::time::Instant::now();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = subscribe(&app, &token, &url, json!(["*"])).await;
    let secret = created["secret"].as_str().expect("secret shown once");
    assert!(secret.starts_with("whsec_"));
    let listed: Value =
        app.api(Method::GET, "/webhooks", &token).send().await.expect("list").json().await.expect("json");
    assert_eq!(listed[0]["url"], url);
    assert!(listed[0].get("secret").is_none(), "the secret is never listed");

    // The change's life, over the API and by its lead.
    let change = json!({ "team": "PAY", "title": "Exam <queue> & co", "types": ["queue"] });
    let response = app.api(Method::POST, "/changes", &token).json(&change).send().await.expect("change");
    assert_eq!(response.status(), StatusCode::CREATED);
    let happy = app.api(Method::POST, "/changes/PAY-1/happy-path", &token).send().await.expect("happy");
    assert_eq!(happy.status(), StatusCode::OK);
    // The team's policy asks for three failure modes; all three select the same test.
    for title in ["Backlog after outage", "Scaling saturates the database", "No fast lane"] {
        let fm = json!({ "title": title, "severity": 3, "likelihood": 3, "detectability": 2,
            "designs": [{ "title": "ADR 7" }], "tests": ["queue::drains"] });
        let added =
            app.api(Method::POST, "/changes/PAY-1/failure-modes", &token).json(&fm).send().await.expect("fm");
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    app.claim("amy", "amy-password-1", &["PAY-1"]).await;
    run(&app, &token, "passed").await;
    run(&app, &token, "failed").await;
    run(&app, &token, "passed").await;
    let lead = app.client();
    app.login(&lead, "lena", "lena-password-1").await;
    let signed = app.call(&lead, "sign_off", &[("key", "PAY-1"), ("password", "lena-password-1")]).await;
    assert_eq!(signed.status(), StatusCode::OK, "{}", signed.text().await.unwrap_or_default());
    run(&app, &token, "failed").await;

    // Tried and failed while the receiver is down, waiting for the next try.
    let id = &created["id"];
    for _ in 0..100 {
        if deliveries(&app, &token, id).await.iter().any(|d| d["attempts"].as_i64() >= Some(1)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting = deliveries(&app, &token, id).await;
    let tried = waiting.iter().find(|d| d["attempts"].as_i64() >= Some(1)).expect("a delivery was tried");
    assert_eq!(tried["state"], "pending");
    assert!(tried["last_error"].as_str().is_some_and(|e| e.contains("connect")), "{tried}");

    // Up again after a minute (the tries have backed off to half a minute and more): every
    // event arrives, verified, in the order it happened.
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(down.elapsed())).await;
    let receiver = Receiver::start(port, secret).await;
    let lines = receiver.until(|lines| types_of(lines, "PAY-1").contains(&"change.regressed")).await;
    assert!(lines.iter().all(|l| l.get("invalid").is_none()), "every delivery verifies: {lines:#?}");
    let types = types_of(&lines, "PAY-1");
    let expected = [
        "change.registered",
        "change.happy_path_recorded",
        "change.gate_opened",
        "change.gate_closed",
        "change.gate_opened",
        "change.signed_off",
        "change.regressed",
    ];
    let mut rest = types.iter();
    for wanted in expected {
        assert!(rest.any(|t| *t == wanted), "{wanted} in order among {types:?}");
    }
    assert!(types.contains(&"failure_mode.coverage_changed"), "{types:?}");
    let ids: Vec<i64> =
        lines.iter().filter_map(|l| l["id"].as_str()?.strip_prefix("msg_")?.parse().ok()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "one change's events arrive once each, in order: {ids:?}");
    let first = &lines[0]["data"]["change"];
    assert_eq!(first["title"], "Exam <queue> & co");
    assert!(first["url"].as_str().is_some_and(|u| u.ends_with("/changes/PAY-1")), "{first}");

    // A test event reaches it too, and the deliveries say what happened.
    let test = app.api(Method::POST, &format!("/webhooks/{id}/test"), &token).send().await.expect("test");
    assert_eq!(test.status(), StatusCode::ACCEPTED);
    receiver.until(|lines| lines.iter().any(|l| l["type"] == "webhook.test")).await;
    let done = deliveries(&app, &token, id).await;
    assert!(done.iter().all(|d| d["state"] == "delivered" && d["last_status"] == 204), "{done:#?}");
    let deleted = app.api(Method::DELETE, &format!("/webhooks/{id}"), &token).send().await.expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone =
        app.api(Method::GET, &format!("/webhooks/{id}/deliveries"), &token).send().await.expect("list");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    drop(receiver.child);
}

async fn destinations_inside_the_network_are_refused_at_creation_and_at_delivery(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(amy)).await;
    let create = |url: &str, events: Value| {
        app.api(Method::POST, "/webhooks", &token).json(&json!({ "url": url, "events": events })).send()
    };
    for (url, why) in [
        ("http://169.254.169.254/latest/meta-data", "must use https"),
        ("https://169.254.169.254/latest/meta-data", "internal address"),
        ("https://127.0.0.1:8443/hook", "internal address"),
        ("https://localhost/hook", "internal address"),
        ("https://[::1]/hook", "internal address"),
        ("https://10.0.0.7/hook", "internal address"),
    ] {
        let response = create(url, json!(["*"])).await.expect("create");
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let text = response.text().await.expect("text");
        assert!(text.contains(why), "{url}: {text}");
    }
    let unknown = create("https://example.com/hook", json!(["change.exploded"])).await.expect("create");
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reader = app.token("PAY", &[Scope::ChangesRead], Some(amy)).await;
    let denied = app.api(Method::GET, "/webhooks", &reader).send().await.expect("list");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let none: Value =
        app.api(Method::GET, "/webhooks", &token).send().await.expect("list").json().await.expect("json");
    assert_eq!(none, json!([]), "nothing refused was stored");

    // A subscription whose address became internal (a name re-pointed after it was added)
    // is refused at every try, and says why.
    let team =
        teams::by_slug(&app.db, &app::domain::TeamSlug::parse("PAY").expect("slug")).await.expect("team");
    let port = free_port();
    let new = webhooks::NewWebhook {
        url: format!("https://127.0.0.1:{port}/hook"),
        destination: format!("https://127.0.0.1:{port}"),
        format: Format::Standard,
        events: EventFilter::All,
    };
    let (hook, _) =
        webhooks::create(&app.db, &Actor::Cli, team.id, None, &new, None).await.expect("stored directly");
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("a listener that must not hear");
    let change = json!({ "team": "PAY", "title": "Exam queue", "types": ["queue"] });
    let response = app.api(Method::POST, "/changes", &token).json(&change).send().await.expect("change");
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = json!(hook.id.0);
    let mut last = Vec::new();
    for _ in 0..100 {
        last = deliveries(&app, &token, &id).await;
        if last.iter().any(|d| d["last_error"].is_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = last.iter().find(|d| d["last_error"].is_string()).expect("tried");
    assert_eq!(refused["state"], "pending");
    assert!(refused["last_error"].as_str().is_some_and(|e| e.contains("internal address")), "{refused}");
    let heard = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(heard.is_err(), "nothing connected to the internal address");
}

/// The server as a process on `db_url`, allowed to reach the test's receiver, once healthy.
async fn serve(db_url: &str, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_premortem"))
        .env("PREMORTEM_DATABASE_URL", db_url)
        .env("PREMORTEM_LISTEN", format!("127.0.0.1:{port}"))
        .env("PREMORTEM_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("RUST_LOG", "warn")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    for _ in 0..300 {
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready");
}

/// A database set up from the command line, as an operator would (team PAY, a token that
/// writes changes and manages webhooks), for tests that run the server as a process on `port`.
struct Process {
    test_db: TestDb,
    token: String,
    port: u16,
}

impl Process {
    async fn new(backend: Backend) -> Self {
        let test_db = TestDb::new(backend).await;
        let cli = |args: &'static [&'static str]| crate::common::premortem(&test_db.url, args);
        assert!(cli(&["team", "create", "--slug", "PAY", "--name", "Payments"]).await.status.success());
        let token = cli(&[
            "token",
            "create",
            "--team",
            "PAY",
            "--scope",
            "changes:write",
            "--scope",
            "webhooks:manage",
        ])
        .await;
        let token = String::from_utf8(token.stdout).expect("utf-8").trim().to_owned();
        Self { test_db, token, port: free_port() }
    }

    /// A request to the API of the server on `port`, with the token.
    fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("http://127.0.0.1:{}/api/v1{path}", self.port))
            .bearer_auth(&self.token)
    }
}

/// An event whose delivery had not succeeded when the server was SIGKILLed is delivered
/// once it is back: the outbox row committed with the change outlives the process.
async fn a_delivery_pending_at_a_sigkill_arrives_after_the_restart(backend: Backend) {
    let (process, receiver_port) = (Process::new(backend).await, free_port());
    let api = |method, path: &str| process.api(method, path);
    let mut server = serve(&process.test_db.url, process.port).await;
    let hook = json!({ "url": format!("http://127.0.0.1:{receiver_port}/hook"), "events": ["*"] });
    let created: Value =
        api(Method::POST, "/webhooks").json(&hook).send().await.expect("create").json().await.expect("json");
    let change = json!({ "team": "PAY", "title": "Exam queue", "types": ["queue"] });
    assert_eq!(
        api(Method::POST, "/changes").json(&change).send().await.expect("change").status(),
        StatusCode::CREATED
    );
    // Tried once against the receiver that is not there yet, then the process dies.
    let path = format!("/webhooks/{}/deliveries", created["id"]);
    for _ in 0..100 {
        let listed: Value = api(Method::GET, &path).send().await.expect("list").json().await.expect("json");
        if listed[0]["attempts"].as_i64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("reaped");

    let receiver = Receiver::start(receiver_port, created["secret"].as_str().expect("secret")).await;
    let _server = serve(&process.test_db.url, process.port).await;
    let lines = receiver.until(|lines| types_of(lines, "PAY-1").contains(&"change.registered")).await;
    assert!(lines.iter().all(|l| l.get("invalid").is_none()), "{lines:#?}");
}

/// Two instances on one PostgreSQL database share the outbox: a burst of 500 events (500
/// changes registered, through both) reaches the receiver once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgresql_deliver_a_burst_once_each() {
    let private = ["--webhook-allow-private"];
    let first = TestApp::spawn_with(Backend::Postgres, &private).await;
    let second = TestApp::spawn_on(TestDb::at(first.test_db.url.clone()), &private).await;
    let amy = first.user("amy", "amy-password-1", false).await;
    first.team("PAY", &[(amy, Role::Member)]).await;
    let token = first.token("PAY", &Scope::ALL, Some(amy)).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = subscribe(&first, &token, &url, json!(["change.registered"])).await;
    let receiver = Receiver::start(port, created["secret"].as_str().expect("secret")).await;

    const BURST: usize = 500;
    for batch in (0..BURST).collect::<Vec<_>>().chunks(25) {
        let posts: Vec<_> = batch
            .iter()
            .map(|i| {
                let app = if i % 2 == 0 { &first } else { &second };
                let change = json!({ "team": "PAY", "title": format!("Change {i}"), "types": ["queue"] });
                app.api(Method::POST, "/changes", &token).json(&change).send()
            })
            .collect();
        for response in futures::future::join_all(posts).await {
            assert_eq!(response.expect("change").status(), StatusCode::CREATED);
        }
    }
    receiver.until(|lines| lines.len() >= BURST).await;
    // Time for a late second copy to show, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lines = receiver.lines();
    assert!(lines.iter().all(|l| l.get("invalid").is_none()), "every delivery verifies");
    let ids: std::collections::HashSet<&str> = lines.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids.len(), BURST, "every event arrived");
    assert_eq!(lines.len(), BURST, "no event arrived twice");
}

/// Moves every row `statement` names to `ms` from now (a negative `ms` is in the past).
async fn set_time(app: &TestApp, statement: &str, ms: i64) {
    let at = app::domain::time::Timestamp::now().0 + ms;
    let mut tx = app.db.begin_write().await.expect("begin");
    sqlx::query(statement).bind(at).execute(&mut *tx).await.expect("set time");
    tx.commit().await.expect("commit");
}

/// Sweeps as often as several instances would; each threshold is announced once.
async fn sweep(app: &TestApp) {
    for _ in 0..3 {
        app::ssr::gates::sweep(&app.db).await.expect("sweep");
    }
}

/// The types of the webhook's deliveries so far, in order of name.
async fn types_queued(app: &TestApp, token: &str, id: &Value) -> Vec<String> {
    let mut all: Vec<String> = deliveries(app, token, id)
        .await
        .iter()
        .inspect(|d| assert_eq!(d["change"], "PAY-1"))
        .filter_map(|d| d["event_type"].as_str().map(str::to_owned))
        .collect();
    all.sort();
    all
}

/// Time's events, as the sweeper records them: a target date within the team's warning
/// days, then passed, and a risk acceptance three days from running out; each once per
/// threshold however often the sweep runs, and a moved target announced again.
async fn time_announces_a_target_near_and_passed_and_an_acceptance_running_out(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--webhook-allow-private"]).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member), (lena, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(amy)).await;
    let events = ["change.due_soon", "change.overdue", "risk_acceptance.expiring"];
    let created =
        subscribe(&app, &token, &format!("http://127.0.0.1:{}/hook", free_port()), json!(events)).await;
    let id = &created["id"];
    let change = json!({ "team": "PAY", "title": "Exam queue", "types": ["queue"] });
    let response = app.api(Method::POST, "/changes", &token).json(&change).send().await.expect("change");
    assert_eq!(response.status(), StatusCode::CREATED);
    let happy = app.api(Method::POST, "/changes/PAY-1/happy-path", &token).send().await.expect("happy");
    assert_eq!(happy.status(), StatusCode::OK);

    // The target is 30 days out: beyond the default 7 warning days.
    sweep(&app).await;
    assert_eq!(types_queued(&app, &token, id).await, Vec::<String>::new());

    // The lead warns 40 days ahead: the change is due soon, announced once.
    let lead = app.client();
    app.login(&lead, "lena", "lena-password-1").await;
    let rules = [
        ("team", "PAY"),
        ("window_days", "30"),
        ("freshness_days", "14"),
        ("min_failure_modes", "3"),
        ("warning_days", "40"),
    ];
    let set = app.call(&lead, "set_policy", &rules).await;
    assert_eq!(set.status(), StatusCode::OK, "{}", set.text().await.unwrap_or_default());
    let mut wrong = rules;
    wrong[4].1 = "-1";
    let bad = app.call(&lead, "set_policy", &wrong).await;
    assert_eq!(bad.json::<Value>().await.expect("json")["Invalid"]["field"], "warning_days");
    sweep(&app).await;
    assert_eq!(types_queued(&app, &token, id).await, ["change.due_soon"]);

    // The target passes: overdue, once; moved out again, due soon again.
    set_time(&app, "UPDATE changes SET target_at = $1", -1000).await;
    sweep(&app).await;
    assert_eq!(types_queued(&app, &token, id).await, ["change.due_soon", "change.overdue"]);
    set_time(&app, "UPDATE changes SET target_at = $1", 2 * app::domain::time::DAY_MS).await;
    sweep(&app).await;
    assert_eq!(
        types_queued(&app, &token, id).await,
        ["change.due_soon", "change.due_soon", "change.overdue"]
    );

    // A risk acceptance two days from running out is announced once, before it runs out.
    let fm = json!({ "title": "No fast lane", "severity": 1, "likelihood": 1, "detectability": 1 });
    let added =
        app.api(Method::POST, "/changes/PAY-1/failure-modes", &token).json(&fm).send().await.expect("fm");
    assert_eq!(added.status(), StatusCode::CREATED);
    app.claim("amy", "amy-password-1", &["PAY-1"]).await;
    let accept =
        [("key", "PAY-1"), ("number", "1"), ("justification", "Monitored"), ("expires_on", "2999-01-01")];
    let accepted = app.call(&lead, "accept_risk", &accept).await;
    assert_eq!(accepted.status(), StatusCode::OK, "{}", accepted.text().await.unwrap_or_default());
    sweep(&app).await;
    assert_eq!(types_queued(&app, &token, id).await.len(), 3, "an acceptance years away is not announced");
    set_time(&app, "UPDATE risk_acceptances SET expires_at = $1", 2 * app::domain::time::DAY_MS).await;
    sweep(&app).await;
    let list = deliveries(&app, &token, id).await;
    let expiring: Vec<&Value> =
        list.iter().filter(|d| d["event_type"] == "risk_acceptance.expiring").collect();
    assert_eq!(expiring.len(), 1, "{list:#?}");
    assert_eq!(expiring[0]["change"], "PAY-1");
}

/// A receiver that hangs: it takes each connection and never answers. One slow endpoint
/// holds only its own deliveries: another team's receiver still hears at once, and the slow
/// one's delivery waits for its next try, saying it had no answer.
async fn a_receiver_that_never_answers_times_out_and_holds_up_no_other(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--webhook-allow-private"]).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member)]).await;
    app.team("OPS", &[(amy, Role::Member)]).await;
    let pay = app.token("PAY", &Scope::ALL, Some(amy)).await;
    let ops = app.token("OPS", &Scope::ALL, Some(amy)).await;
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hang_port = hang.local_addr().expect("addr").port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let kept = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = hang.accept().await {
            kept.lock().expect("held").push(socket);
        }
    });
    let slow = subscribe(&app, &pay, &format!("http://127.0.0.1:{hang_port}/hook"), json!(["*"])).await;
    let port = free_port();
    let fine = subscribe(&app, &ops, &format!("http://127.0.0.1:{port}/hook"), json!(["*"])).await;
    let receiver = Receiver::start(port, fine["secret"].as_str().expect("secret")).await;

    for team in ["PAY", "OPS"] {
        let token = if team == "PAY" { &pay } else { &ops };
        let change = json!({ "team": team, "title": "Exam queue", "types": ["queue"] });
        let response = app.api(Method::POST, "/changes", token).json(&change).send().await.expect("change");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    receiver.until(|lines| types_of(lines, "OPS-1") == ["change.registered"]).await;
    assert!(
        deliveries(&app, &pay, &slow["id"]).await.iter().all(|d| d["state"] == "pending"),
        "the hanging endpoint has not been answered"
    );
    let mut waiting = Vec::new();
    for _ in 0..300 {
        waiting = deliveries(&app, &pay, &slow["id"]).await;
        if waiting.iter().any(|d| d["attempts"].as_i64() >= Some(1) && !d["last_error"].is_null()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tried = &waiting[0];
    assert_eq!(tried["state"], "pending", "{tried}");
    assert_eq!(tried["last_error"], "No answer within 10 s.", "{tried}");
    assert!(!held.lock().expect("held").is_empty(), "the request reached the hanging endpoint");
    drop(receiver.child);
}

async fn register(app: &TestApp, token: &str, title: &str) {
    let change = json!({ "team": "PAY", "title": title, "types": ["queue"] });
    let response = app.api(Method::POST, "/changes", token).json(&change).send().await.expect("change");
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = app.api(method, path, token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Adds a webhook for `token`'s team posting `events` to `url`; answers it with its secret.
async fn subscribe(app: &TestApp, token: &str, url: &str, events: Value) -> Value {
    let hook = json!({ "url": url, "events": events });
    let (status, created) = send(app, Method::POST, "/webhooks", token, Some(hook)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// A webhook's leads pause and resume it, rotate its secret (both sign during the overlap,
/// only the new one after), and send a delivery again; another team's token finds none of
/// it, and each change is audited.
async fn leads_pause_rotate_and_redeliver_and_other_teams_see_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--webhook-allow-private"]).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member)]).await;
    app.team("OPS", &[(amy, Role::Member)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(amy)).await;
    let other = app.token("OPS", &Scope::ALL, Some(amy)).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");

    // A format that does not exist is refused and stores nothing.
    let bad = json!({ "url": url, "events": ["*"], "format": "teams" });
    let (status, body) = send(&app, Method::POST, "/webhooks", &token, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.to_string().contains("format"), "{body}");
    assert_eq!(send(&app, Method::GET, "/webhooks", &token, None).await.1, json!([]));

    let hook = json!({ "url": url, "events": ["change.registered"] });
    let (status, created) = send(&app, Method::POST, "/webhooks", &token, Some(hook)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_i64().expect("id");
    let receiver = Receiver::start(port, created["secret"].as_str().expect("secret")).await;

    // Another team's token: no such webhook, whatever it asks.
    for (method, path, body) in [
        (Method::GET, format!("/webhooks/{id}/deliveries"), None),
        (Method::PATCH, format!("/webhooks/{id}"), Some(json!({ "state": "paused" }))),
        (Method::POST, format!("/webhooks/{id}/rotate-secret"), None),
        (Method::POST, format!("/webhooks/{id}/test"), None),
        (Method::POST, format!("/webhooks/{id}/deliveries/1/redeliver"), None),
        (Method::DELETE, format!("/webhooks/{id}"), None),
    ] {
        assert_eq!(
            send(&app, method.clone(), &path, &other, body).await.0,
            StatusCode::NOT_FOUND,
            "{method} {path}"
        );
    }
    assert_eq!(send(&app, Method::GET, "/webhooks", &other, None).await.1, json!([]));

    // Paused, it queues nothing; resumed, it hears again.
    let (status, paused) =
        send(&app, Method::PATCH, &format!("/webhooks/{id}"), &token, Some(json!({ "state": "paused" })))
            .await;
    assert_eq!((status, paused["state"].as_str()), (StatusCode::OK, Some("paused")));
    let (status, _) =
        send(&app, Method::PATCH, &format!("/webhooks/{id}"), &token, Some(json!({ "state": "disabled" })))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "only Premortem disables");
    register(&app, &token, "While paused").await;
    let path = format!("/webhooks/{id}/deliveries");
    assert_eq!(
        send(&app, Method::GET, &path, &token, None).await.1,
        json!([]),
        "a paused webhook queues nothing"
    );
    let resumed =
        send(&app, Method::PATCH, &format!("/webhooks/{id}"), &token, Some(json!({ "state": "active" })))
            .await;
    assert_eq!(resumed.1["state"], "active");
    register(&app, &token, "Resumed").await;
    receiver.until(|lines| types_of(lines, "PAY-2") == ["change.registered"]).await;

    // Rotated with the default overlap: the receiver still holding the old secret verifies,
    // and so does one holding the new.
    let (status, rotated) =
        send(&app, Method::POST, &format!("/webhooks/{id}/rotate-secret"), &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let second = rotated["secret"].as_str().expect("new secret").to_owned();
    assert_ne!(Some(second.as_str()), created["secret"].as_str());
    assert!(rotated["previous_secret_until"].as_i64().is_some(), "{rotated}");
    register(&app, &token, "Old secret").await;
    receiver.until(|lines| types_of(lines, "PAY-3").len() == 1).await;
    receiver.hold(&second);
    register(&app, &token, "New secret").await;
    receiver.until(|lines| types_of(lines, "PAY-4").len() == 1).await;
    assert!(receiver.lines().iter().all(|l| l.get("invalid").is_none()), "{:#?}", receiver.lines());

    // Rotated with no overlap (the secret leaked): the old one no longer verifies at all.
    let rotate_now = format!("/webhooks/{id}/rotate-secret?overlap_hours=0");
    let (status, now) = send(&app, Method::POST, &rotate_now, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(now["previous_secret_until"].is_null(), "{now}");
    let too_long = format!("/webhooks/{id}/rotate-secret?overlap_hours=1000");
    assert_eq!(send(&app, Method::POST, &too_long, &token, None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    register(&app, &token, "Leaked secret").await;
    receiver.until(|lines| lines.iter().any(|l| l.get("invalid").is_some())).await;
    receiver.hold(now["secret"].as_str().expect("secret"));
    receiver.until(|lines| types_of(lines, "PAY-5").len() == 1).await;

    // A delivered event sent again keeps its id; one that does not exist is not found.
    let listed = send(&app, Method::GET, &path, &token, None).await.1;
    let delivered =
        listed.as_array().expect("list").iter().find(|d| d["change"] == "PAY-2").expect("PAY-2").clone();
    let again = format!("/webhooks/{id}/deliveries/{}/redeliver", delivered["id"]);
    let (status, queued) = send(&app, Method::POST, &again, &token, None).await;
    assert_eq!((status, queued["state"].as_str()), (StatusCode::ACCEPTED, Some("pending")));
    let message = delivered["message_id"].as_str().expect("message id").to_owned();
    receiver.until(|lines| lines.iter().filter(|l| l["id"] == message.as_str()).count() == 2).await;
    let missing = format!("/webhooks/{id}/deliveries/999999/redeliver");
    assert_eq!(send(&app, Method::POST, &missing, &token, None).await.0, StatusCode::NOT_FOUND);

    for action in
        ["webhook.create", "webhook.pause", "webhook.resume", "webhook.rotate_secret", "webhook.redeliver"]
    {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(app.db.read())
            .await
            .expect("count");
        let expected = if action == "webhook.rotate_secret" { 2 } else { 1 };
        assert_eq!(count, expected, "{action}");
    }
    drop(receiver.child);
}

/// The webhooks page's forms are a second door: they refuse the same destinations with the
/// same words as the API, only the team's leads pass them (a member is refused, another
/// team's lead finds no such team), the page never lists a secret, and a team holds at most
/// 25 webhooks through either door.
async fn the_page_refuses_what_the_api_refuses_and_only_the_teams_leads_manage(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let olaf = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead), (amy, Role::Member)]).await;
    app.team("OPS", &[(olaf, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(lena)).await;
    let lead = app.client();
    assert_eq!(app.login(&lead, "lena", "lena-password-1").await.status(), StatusCode::OK);
    let add = |url: &'static str, events: &'static [&'static str]| {
        let mut form = vec![("team", "PAY"), ("url", url), ("format", "standard")];
        form.extend(events.iter().map(|e| ("events[]", *e)));
        let lead = lead.clone();
        let app = &app;
        async move { app.call(&lead, "create_webhook", &form).await }
    };
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:8443/hook",
        "https://localhost/hook",
        "https://[::ffff:10.0.0.7]/hook",
        "ftp://example.com/hook",
    ] {
        let page = add(url, &["*"]).await;
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let page: Value = page.json().await.expect("json");
        let api = app
            .api(Method::POST, "/webhooks", &token)
            .json(&json!({ "url": url, "events": ["*"] }))
            .send()
            .await
            .expect("api");
        let api = api.text().await.expect("text");
        let message = page["Invalid"]["message"].as_str().expect("a refusal of a field").to_owned();
        assert_eq!(page["Invalid"]["field"], "url", "{page}");
        assert!(api.contains(&message), "{url}: the page said {message}, the API {api}");
    }
    let none = add("https://93.184.216.34/hook", &[]).await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.text().await.expect("text").contains("at least one event type"));
    assert_eq!(
        app.api(Method::GET, "/webhooks", &token).send().await.expect("list").text().await.expect("text"),
        "[]"
    );

    // Every event wins over any listed beside it; the page lists the webhook, never its secret.
    let added = add("https://93.184.216.34/hook", &["*", "change.registered"]).await;
    assert_eq!(added.status(), StatusCode::OK);
    let secret: String = added.json().await.expect("secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let page = app.call(&lead, "webhooks", &[("team", "PAY")]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    assert!(page.contains("93.184.216.34") && page.contains("[\"*\"]"), "{page}");
    assert!(!page.contains(&secret), "the page does not list the secret");

    // A member may not manage; another team's lead finds no such team.
    for (who, password, status) in
        [("amy", "amy-password-1", StatusCode::FORBIDDEN), ("olaf", "olaf-password-1", StatusCode::NOT_FOUND)]
    {
        let client = app.client();
        assert_eq!(app.login(&client, who, password).await.status(), StatusCode::OK);
        assert_eq!(app.call(&client, "webhooks", &[("team", "PAY")]).await.status(), status, "{who}");
        let form =
            [("team", "PAY"), ("url", "https://93.184.216.34/x"), ("format", "slack"), ("events[]", "*")];
        assert_eq!(app.call(&client, "create_webhook", &form).await.status(), status, "{who}");
        let form = [("team", "PAY"), ("id", "1")];
        assert_eq!(app.call(&client, "delete_webhook", &form).await.status(), status, "{who}");
    }

    // 25 webhooks at most, whichever door adds them.
    for _ in 1..app::domain::webhook::WEBHOOKS_MAX {
        let hook = json!({ "url": "https://93.184.216.34/hook", "events": ["*"], "format": "slack" });
        let created = app.api(Method::POST, "/webhooks", &token).json(&hook).send().await.expect("api");
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let over = add("https://93.184.216.34/hook", &["*"]).await;
    assert_eq!(over.status(), StatusCode::CONFLICT);
    assert!(over.text().await.expect("text").contains("at most 25 webhooks"));
    let hook = json!({ "url": "https://93.184.216.34/hook", "events": ["*"] });
    let over = app.api(Method::POST, "/webhooks", &token).json(&hook).send().await.expect("api");
    assert_eq!(over.status(), StatusCode::CONFLICT);
}

/// A client that retries an add it heard no answer to, through either door, adds one
/// webhook (a second would hear every event twice): the same Idempotency-Key answers the
/// same webhook and secret, the key with other settings is refused, and one add is audited.
async fn a_retried_add_adds_one_webhook_through_either_door(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(lena)).await;
    let add = |key: &'static str, url: &'static str| {
        app.api(Method::POST, "/webhooks", &token)
            .header("Idempotency-Key", key)
            .json(&json!({ "url": url, "events": ["change.registered"] }))
            .send()
    };
    let first = add("retry-1", "https://93.184.216.34/hook").await.expect("add");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = add("retry-1", "https://93.184.216.34/hook").await.expect("retry");
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.expect("json");
    assert_eq!((&again["id"], &again["secret"]), (&first["id"], &first["secret"]));
    let other = add("retry-1", "https://93.184.216.34/other").await.expect("other");
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(other.text().await.expect("text").contains("Idempotency-Key added webhook"));
    let bad = app
        .api(Method::POST, "/webhooks", &token)
        .header("Idempotency-Key", "x".repeat(201))
        .json(&json!({ "url": "https://93.184.216.34/hook", "events": ["*"] }))
        .send()
        .await
        .expect("bad key");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let lead = app.client();
    assert_eq!(app.login(&lead, "lena", "lena-password-1").await.status(), StatusCode::OK);
    let form = [
        ("team", "PAY"),
        ("url", "https://93.184.216.34/page"),
        ("format", "standard"),
        ("events[]", "*"),
        ("idempotency_key", "form-7f3a"),
    ];
    let mut secrets = Vec::new();
    for _ in 0..2 {
        let posted = app.call(&lead, "create_webhook", &form).await;
        assert_eq!(posted.status(), StatusCode::OK);
        secrets.push(posted.json::<String>().await.expect("secret"));
    }
    assert_eq!(secrets[0], secrets[1], "the form sent twice added one webhook");
    let listed: Value =
        app.api(Method::GET, "/webhooks", &token).send().await.expect("list").json().await.expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let adds: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.create'")
        .fetch_one(app.db.read())
        .await
        .expect("count");
    assert_eq!(adds, 2);
}

/// A server SIGKILLed while a delivery is on the wire (the receiver has the request and has
/// not answered) leaves the delivery leased; once the lease runs out after the restart it is
/// sent again, with the same webhook-id, and arrives (at least once).
async fn a_delivery_in_flight_at_a_sigkill_is_sent_again_after_the_restart(backend: Backend) {
    let process = Process::new(backend).await;
    let api = |method, path: &str| process.api(method, path);
    // A receiver that takes the request and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let receiver_port = hang.local_addr().expect("addr").port();
    let mut server = serve(&process.test_db.url, process.port).await;
    let hook =
        json!({ "url": format!("http://127.0.0.1:{receiver_port}/hook"), "events": ["change.registered"] });
    let created: Value =
        api(Method::POST, "/webhooks").json(&hook).send().await.expect("create").json().await.expect("json");
    let change = json!({ "team": "PAY", "title": "Exam queue", "types": ["queue"] });
    assert_eq!(
        api(Method::POST, "/changes").json(&change).send().await.expect("change").status(),
        StatusCode::CREATED
    );
    let (socket, _) = tokio::time::timeout(Duration::from_secs(30), hang.accept())
        .await
        .expect("the delivery reached the receiver")
        .expect("accept");
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("reaped");
    drop((socket, hang));

    let receiver = Receiver::start(receiver_port, created["secret"].as_str().expect("secret")).await;
    let _server = serve(&process.test_db.url, process.port).await;
    let lines = receiver.until(|lines| types_of(lines, "PAY-1") == ["change.registered"]).await;
    assert!(lines.iter().all(|l| l.get("invalid").is_none()), "{lines:#?}");
    let path = format!("/webhooks/{}/deliveries", created["id"]);
    let listed: Value = api(Method::GET, &path).send().await.expect("list").json().await.expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(lines[0]["id"], listed[0]["message_id"], "the same message, sent again");
    assert_eq!(listed[0]["attempts"], 2, "{listed}");
}

/// Adds at once are counted against the cap one after the other (on PostgreSQL writers run
/// side by side): 30 adds to an empty team make 25 webhooks and 5 refusals, and adds racing
/// with one Idempotency-Key make one.
async fn adds_at_once_keep_to_the_cap_and_to_one_per_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(lena)).await;
    let add = |key: Option<String>| {
        let mut request = app
            .api(Method::POST, "/webhooks", &token)
            .json(&json!({ "url": "https://93.184.216.34/hook", "events": ["*"] }));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        async move { request.send().await.expect("add").status() }
    };
    let keyed = futures::future::join_all((0..8).map(|_| add(Some("same".to_owned())))).await;
    assert!(keyed.iter().all(|s| *s == StatusCode::CREATED), "{keyed:?}");
    let statuses = futures::future::join_all((0..30).map(|_| add(None))).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((created, refused), (24, 6), "{statuses:?}");
    let listed: Value =
        app.api(Method::GET, "/webhooks", &token).send().await.expect("list").json().await.expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(25));
}

both_backends!(
    adds_at_once_keep_to_the_cap_and_to_one_per_key,
    a_delivery_in_flight_at_a_sigkill_is_sent_again_after_the_restart,
    a_retried_add_adds_one_webhook_through_either_door,
    the_page_refuses_what_the_api_refuses_and_only_the_teams_leads_manage,
    leads_pause_rotate_and_redeliver_and_other_teams_see_nothing,
    a_receiver_that_never_answers_times_out_and_holds_up_no_other,
    time_announces_a_target_near_and_passed_and_an_acceptance_running_out,
    a_delivery_pending_at_a_sigkill_arrives_after_the_restart,
    a_change_life_reaches_a_verifying_receiver_in_order_after_a_minute_down,
    destinations_inside_the_network_are_refused_at_creation_and_at_delivery,
);
