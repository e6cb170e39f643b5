//! The CI API: tokens, uploads (JUnit and JSON), limits, idempotency, the gate, regressions.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::scope::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::Write;

pub(crate) const PYTEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="3" time="0.05"><testcase classname="tests.test_queue" name="test_backlog_drains" time="0.001" /><testcase classname="tests.test_queue" name="test_scaling_shared_db" time="0.002" /><testcase classname="tests.test_queue" name="test_priority_lane" time="0.003" /></testsuite></testsuites>"#;

pub(crate) struct Setup {
    pub app: TestApp,
    pub token: String,
    pub lead: reqwest::Client,
}

/// PAY with a change PAY-1 whose three failure modes select the tests in `PYTEST`.
pub(crate) async fn setup(backend: Backend) -> Setup {
    setup_with(backend, &[]).await
}

async fn setup_with(backend: Backend, extra: &[&str]) -> Setup {
    let app = TestApp::spawn_with(backend, extra).await;
    let author = app.user("amy", "amy-password-1", false).await;
    let lead_id = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(author, Role::Member), (lead_id, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(author)).await;
    let create =
        json!({ "team": "PAY", "title": "Exam queue", "types": ["queue"], "summary": "Queue exams" });
    let response = app.api(Method::POST, "/changes", &token).json(&create).send().await.expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.json::<Value>().await.expect("json")["key"], "PAY-1");
    let happy = app
        .api(Method::POST, "/changes/PAY-1/happy-path", &token)
        .json(&json!({"note": "demo"}))
        .send()
        .await;
    assert_eq!(happy.expect("happy").status(), StatusCode::OK);
    for (title, test) in [
        ("Backlog after outage", "tests.test_queue::test_backlog_*"),
        ("Scaling saturates the database", "tests.test_queue::test_scaling_shared_db"),
        ("No fast lane", "tests.test_queue::test_priority_lane"),
    ] {
        let fm = json!({
            "title": title, "scenario": "10,000 exams queued", "severity": 3, "likelihood": 3, "detectability": 2,
            "designs": [{"title": "ADR 7", "url": "https://wiki.example/adr-7"}], "tests": [test],
        });
        let response =
            app.api(Method::POST, "/changes/PAY-1/failure-modes", &token).json(&fm).send().await.expect("fm");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app.claim("amy", "amy-password-1", &["PAY-1"]).await;
    let lead = app.client();
    app.login(&lead, "lena", "lena-password-1").await;
    Setup { app, token, lead }
}

pub(crate) async fn upload(s: &Setup, body: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = s
        .app
        .api(
            Method::POST,
            "/runs?commit=abc123&branch=main&pipeline_url=https://ci.example/1&change=PAY-1",
            &s.token,
        )
        .header("Content-Type", "application/xml")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("upload")
}

async fn runs(s: &Setup) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM evidence_runs").fetch_one(s.app.db.read()).await.expect("count")
}

/// PAY-1 as the API shows it.
pub(crate) async fn pay_1(s: &Setup) -> Value {
    let response = s.app.api(Method::GET, "/changes/PAY-1", &s.token).send().await.expect("get");
    response.json().await.expect("json")
}

/// `PYTEST` with `test_priority_lane` (PAY-1's FM-3) failing.
fn failing_priority_lane() -> String {
    PYTEST.replace(
        r#"name="test_priority_lane" time="0.003" />"#,
        r#"name="test_priority_lane" time="0.003"><failure message="lane blocked">boom</failure></testcase>"#,
    )
}

pub(crate) async fn gate(s: &Setup, require: bool) -> reqwest::Response {
    let path = if require { "/changes/PAY-1/gate?require=open" } else { "/changes/PAY-1/gate" };
    s.app.api(Method::GET, path, &s.token).send().await.expect("gate")
}

async fn evidence_opens_the_gate_and_a_failure_regresses_the_change(backend: Backend) {
    let s = setup(backend).await;
    let closed = gate(&s, true).await;
    assert_eq!(
        closed.status(),
        StatusCode::PRECONDITION_FAILED,
        "curl --fail fails while the gate is closed"
    );
    assert_eq!(closed.json::<Value>().await.expect("json")["blockers"].as_array().map(Vec::len), Some(3));

    let response = upload(&s, PYTEST, Some("run-1")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("json");
    assert_eq!(receipt["counts"], json!({ "passed": 3, "failed": 0, "skipped": 0, "error": 0 }));
    let matched: Vec<(&str, &str)> = receipt["matched"]
        .as_array()
        .expect("matched")
        .iter()
        .map(|m| (m["failure_mode"].as_str().unwrap_or_default(), m["coverage"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(matched, [("FM-1", "verified"), ("FM-2", "verified"), ("FM-3", "verified")]);

    let open = gate(&s, true).await;
    assert_eq!(open.status(), StatusCode::OK);
    assert_eq!(open.json::<Value>().await.expect("json")["gate"], "open");

    // A lead signs off in the browser; then a later run fails one of the tests.
    let sign = s.app.call(&s.lead, "sign_off", &[("key", "PAY-1"), ("password", "lena-password-1")]).await;
    assert_eq!(sign.status(), StatusCode::OK);
    // Signed off, the failure modes are frozen: the snapshot must stay true.
    let late = json!({ "title": "Late addition", "severity": 2, "likelihood": 2, "detectability": 2 });
    let refused = s
        .app
        .api(Method::POST, "/changes/PAY-1/failure-modes", &s.token)
        .json(&late)
        .send()
        .await
        .expect("fm");
    assert_eq!(refused.status(), StatusCode::CONFLICT);

    let failing = failing_priority_lane();
    let receipt: Value = upload(&s, &failing, Some("run-2")).await.json().await.expect("json");
    assert_eq!(receipt["regressed"], json!(["PAY-1"]));
    let change = pay_1(&s).await;
    assert_eq!(change["status"], "regressed");
    // The same failing upload again (another key) does not regress it twice, nor fail.
    let again = upload(&s, &failing, Some("run-3")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.expect("json")["regressed"], json!([]));
    assert_eq!(change["failure_modes"][2]["coverage"], "failing");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'change.regress' AND actor = 'token:ci'",
    )
    .fetch_one(s.app.db.read())
    .await
    .expect("count");
    assert_eq!(audited, 1);
}

/// JUnit with one test case per `(name, passed)` in `tests.test_queue`.
fn junit(cases: &[(&str, bool)]) -> String {
    let cases: String = cases
        .iter()
        .map(|(name, passed)| {
            let failure = if *passed { "" } else { r#"<failure message="no">boom</failure>"# };
            format!(r#"<testcase classname="tests.test_queue" name="{name}">{failure}</testcase>"#)
        })
        .collect();
    format!("<testsuites><testsuite name=\"q\">{cases}</testsuite></testsuites>")
}

/// FM-1's coverage as the receipt of `body`'s upload and then the change page give it.
async fn fm_1_after(s: &Setup, body: &str) -> (String, String) {
    let receipt: Value = upload(s, body, None).await.json().await.expect("receipt");
    let matched = receipt["matched"].as_array().expect("matched");
    let fm_1 = matched.iter().find(|m| m["failure_mode"] == "FM-1").expect("FM-1 matched");
    let page = pay_1(s).await["failure_modes"][0]["coverage"].as_str().unwrap_or_default().to_owned();
    (fm_1["coverage"].as_str().unwrap_or_default().to_owned(), page)
}

/// A run that reports only some of a failure mode's tests leaves the others' latest results
/// standing: a failure reported earlier still counts until that test passes.
async fn a_partial_run_keeps_the_other_tests_latest_results(backend: Backend) {
    let s = setup(backend).await;
    let failing = junit(&[("test_backlog_drains", false), ("test_backlog_recovers", true)]);
    assert_eq!(fm_1_after(&s, &failing).await, ("failing".into(), "failing".into()));

    let other_only = junit(&[("test_backlog_recovers", true)]);
    assert_eq!(
        fm_1_after(&s, &other_only).await,
        ("failing".into(), "failing".into()),
        "drains still failed"
    );

    let fixed = junit(&[("test_backlog_drains", true)]);
    assert_eq!(fm_1_after(&s, &fixed).await, ("verified".into(), "verified".into()));
}

/// Retention: old history goes, and so does an old run nothing refers to any more; a run
/// that still holds some test's latest result stays, whatever its age, so coverage never
/// loses its evidence.
async fn pruning_keeps_every_run_that_holds_a_latest_result(backend: Backend) {
    let s = setup(backend).await;
    let mut runs = Vec::new();
    for body in [
        junit(&[("test_backlog_drains", true), ("test_unselected", true)]),
        junit(&[("test_unselected", true)]),
        junit(&[("test_unselected", false)]),
    ] {
        let receipt: Value = upload(&s, &body, None).await.json().await.expect("receipt");
        runs.push(receipt["run_id"].as_i64().expect("run id"));
    }
    let day = app::domain::time::DAY_MS;
    backdate(
        &s,
        &["UPDATE evidence_runs SET received_at = $1", "UPDATE evidence_history SET at = $1"],
        100 * day,
    )
    .await;
    // A run within the retention: its history stays.
    let recent = junit(&[("test_backlog_recovers", true)]);
    let receipt: Value = upload(&s, &recent, None).await.json().await.expect("receipt");
    let recent = receipt["run_id"].as_i64().expect("run id");
    let before = pay_1(&s).await["failure_modes"][0]["coverage"].clone();

    app::ssr::store::evidence::prune(&s.app.db, app::domain::time::Days(30)).await.expect("prune");

    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM evidence_runs ORDER BY id")
        .fetch_all(s.app.db.read())
        .await
        .expect("runs");
    assert_eq!(left, [runs[0], runs[2], recent], "the middle run holds no latest result any more");
    let history: Vec<(i64, String)> =
        sqlx::query_as("SELECT run_id, test_id FROM evidence_history ORDER BY id")
            .fetch_all(s.app.db.read())
            .await
            .expect("history");
    assert_eq!(
        history,
        [(recent, "tests.test_queue::test_backlog_recovers".to_owned())],
        "history older than the retention is gone, the recent run's stays"
    );
    assert_eq!(pay_1(&s).await["failure_modes"][0]["coverage"], before, "coverage kept its evidence");
}

/// A sign-off and a run that fails one of the change's tests, sent at the same moment, end
/// either signed off and then regressed, or refused: never signed off on failing evidence.
async fn a_sign_off_racing_a_failing_run_never_stands_on_failing_evidence(backend: Backend) {
    let s = setup(backend).await;
    let failing = failing_priority_lane();
    let mut outcomes = std::collections::BTreeSet::new();
    for round in 0..8 {
        assert_eq!(upload(&s, PYTEST, Some(&format!("pass-{round}"))).await.status(), StatusCode::CREATED);
        assert_eq!(gate(&s, true).await.status(), StatusCode::OK, "round {round}: the gate is open");
        let sign = s.app.call(&s.lead, "sign_off", &[("key", "PAY-1"), ("password", "lena-password-1")]);
        let fail_key = format!("fail-{round}");
        // The sign-off first checks a password (slow by design): the run starts later and
        // later, so that in some rounds it lands before the sign-off's transaction, in some
        // inside it, and in some after it.
        let fail = async {
            tokio::time::sleep(std::time::Duration::from_millis(round * 80)).await;
            upload(&s, &failing, Some(&fail_key)).await
        };
        let (sign, fail) = tokio::join!(sign, fail);
        assert_eq!(fail.status(), StatusCode::CREATED);
        let regressed = fail.json::<Value>().await.expect("json")["regressed"] == json!(["PAY-1"]);
        let change = pay_1(&s).await;
        let status = change["status"].as_str().unwrap_or_default().to_owned();
        match sign.status() {
            StatusCode::OK => {
                assert_eq!(
                    status, "regressed",
                    "round {round}: signed off, then the failing run regressed it"
                );
                assert!(regressed, "round {round}: the run that came second reports the regression");
            }
            StatusCode::CONFLICT => {
                assert_ne!(status, "failure_cases_complete", "round {round}");
                assert!(!regressed, "round {round}");
            }
            other => panic!("round {round}: sign-off answered {other}"),
        }
        outcomes.insert(sign.status().as_u16());
    }
    eprintln!("sign-off outcomes seen: {outcomes:?}");
}

/// Sends a whole upload of `len` bytes before reading anything, as Python's `http.client`
/// does, and returns the status line it then reads.
/// Sends an upload of `len` bytes that starts with `first` (then `x`s) whole, as Python's
/// `http.client` does, before reading a byte of the reply; returns the reply's status line.
fn send_all_then_read(
    addr: std::net::SocketAddr,
    headers: &str,
    first: &[u8],
    len: usize,
    chunked: bool,
) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let framing =
        if chunked { "Transfer-Encoding: chunked".to_owned() } else { format!("Content-Length: {len}") };
    write!(stream, "POST /api/v1/runs HTTP/1.1\r\nHost: {addr}\r\n{headers}{framing}\r\n\r\n").expect("head");
    let mut body = first.to_vec();
    body.resize(len, b'x');
    for (i, piece) in body.chunks(64 * 1024).enumerate() {
        if chunked {
            write!(stream, "{:x}\r\n", piece.len()).expect("chunk size");
        }
        stream
            .write_all(piece)
            .unwrap_or_else(|e| panic!("the body could not be sent after {} bytes: {e}", i * 64 * 1024));
        if chunked {
            stream.write_all(b"\r\n").expect("chunk end");
        }
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").expect("last chunk");
    }
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).expect("the reply can be read");
    status.trim().to_owned()
}

fn upload_headers(token: &str, content_type: &str) -> String {
    format!("Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n")
}

/// Uploads over the size limit, eight at once, all hear 413: clients that send the whole
/// body before reading (declared or chunked), and curl (which waits for 100 Continue, or
/// with `Expect:` cleared, streams while reading). None is refused for capacity first.
async fn over_large_uploads_all_hear_413(backend: Backend) {
    let s = setup_with(backend, &["--upload-max-bytes", "8388608", "--ingest-concurrency", "1"]).await;
    let len = 24 * 1024 * 1024;
    let raw: Vec<_> = (0..8)
        .map(|i| {
            let (addr, headers) = (s.app.addr, upload_headers(&s.token, "application/xml"));
            tokio::task::spawn_blocking(move || send_all_then_read(addr, &headers, b"", len, i % 2 == 1))
        })
        .collect();
    let file = std::env::temp_dir().join(format!("premortem-large-{}.xml", std::process::id()));
    std::fs::write(&file, vec![b'x'; len]).expect("write");
    let curls: Vec<_> = (0..8)
        .map(|i| {
            let mut curl = tokio::process::Command::new("curl");
            curl.args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Content-Type: application/xml",
            ])
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", s.token))
            .arg("--data-binary")
            .arg(format!("@{}", file.display()));
            if i % 2 == 1 {
                curl.args(["-H", "Expect:"]);
            }
            curl.arg(s.app.url("/api/v1/runs"));
            tokio::spawn(async move { curl.output().await.expect("curl runs") })
        })
        .collect();
    for upload in raw {
        assert!(upload.await.expect("task").starts_with("HTTP/1.1 413"), "a send-all client hears 413");
    }
    for curl in curls {
        let out = curl.await.expect("task");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "413", "{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_file(&file);
    assert_eq!(runs(&s).await, 0);
    // Within the limit, the same clients are served.
    let (addr, headers) = (s.app.addr, upload_headers(&s.token, "application/xml"));
    let small = tokio::task::spawn_blocking(move || send_all_then_read(addr, &headers, b"", 10, false));
    assert!(small.await.expect("task").starts_with("HTTP/1.1 400"), "a small malformed body is parsed");
}

/// Every refusal of an upload within the size limit is heard by a client that sends its
/// whole body first: refused before the body is read (no token, wrong type, bad key), or
/// refused by the parser a few bytes in while the rest is still coming. Nothing is stored.
async fn uploads_refused_before_their_body_ends_are_heard(backend: Backend) {
    let s = setup_with(backend, &["--upload-max-bytes", "8388608"]).await;
    let len = 6 * 1024 * 1024;
    let xml = "application/xml";
    let cases = [
        (upload_headers("pmt_nonsense", xml), &b""[..], "401"),
        (upload_headers(&s.token, "text/plain"), &b""[..], "415"),
        (
            format!("{}Idempotency-Key: {}\r\n", upload_headers(&s.token, xml), "k".repeat(201)),
            &b""[..],
            "422",
        ),
        (upload_headers(&s.token, xml), &b"<html><body>"[..], "400"),
        (upload_headers(&s.token, xml), &b"<testsuite><testcase name=\"a\"/></oops>"[..], "400"),
        (upload_headers(&s.token, "application/json"), &b"{\"results\": 3"[..], "400"),
    ];
    for (headers, first, status) in cases {
        for chunked in [false, true] {
            let addr = s.app.addr;
            let (sent, first) = (headers.clone(), first.to_vec());
            let reply =
                tokio::task::spawn_blocking(move || send_all_then_read(addr, &sent, &first, len, chunked))
                    .await
                    .expect("task");
            assert!(
                reply.starts_with(&format!("HTTP/1.1 {status}")),
                "{headers:?} (chunked: {chunked}): {reply}"
            );
        }
    }
    assert_eq!(runs(&s).await, 0);
}

async fn tokens_are_scoped_and_cookies_do_not_count(backend: Backend) {
    let s = setup(backend).await;
    let read_only = s.app.token("PAY", &[Scope::ChangesRead], None).await;
    let response = s
        .app
        .api(Method::POST, "/runs", &read_only)
        .header("Content-Type", "application/xml")
        .body(PYTEST)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["detail"], "This token lacks the evidence:write scope.");

    for bad in ["pmt_nonsense", "", "pmt_0123456789abcdef0123456789abcdef01234567_00000000"] {
        let response = s.app.api(Method::GET, "/changes", bad).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    let with_cookie = s.lead.get(s.app.url("/api/v1/changes")).send().await.expect("request");
    assert_eq!(with_cookie.status(), StatusCode::UNAUTHORIZED, "a session cookie never authorizes the API");

    // Bad JSON gets the API's error shape, never a framework or database message.
    for (body, status) in
        [("{\"team\": \"PAY\"", StatusCode::BAD_REQUEST), ("{\"team\": 3}", StatusCode::UNPROCESSABLE_ENTITY)]
    {
        let response = s
            .app
            .api(Method::POST, "/changes", &s.token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.expect("json error");
        assert!(error["errors"][0]["detail"].as_str().is_some_and(|d| !d.is_empty()), "{error}");
    }

    // A token acts as its owner, who must still be an active member of the team.
    let amy = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = 'amy'")
        .fetch_one(s.app.db.read())
        .await
        .expect("amy");
    app::ssr::store::users::set_disabled(
        &s.app.db,
        &app::ssr::audit::Actor::Cli,
        app::domain::UserId(amy),
        true,
    )
    .await
    .expect("disable");
    let create = json!({ "team": "PAY", "title": "After amy left", "types": ["other"] });
    let response = s.app.api(Method::POST, "/changes", &s.token).json(&create).send().await.expect("create");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Another team's token cannot see PAY's change.
    let other = s.app.user("olaf", "olaf-password-1", false).await;
    s.app.team("OPS", &[(other, Role::Lead)]).await;
    let ops = s.app.token("OPS", &Scope::ALL, Some(other)).await;
    let response = s.app.api(Method::GET, "/changes/PAY-1/gate", &ops).send().await.expect("gate");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn retries_with_a_key_store_one_run(backend: Backend) {
    let s = setup(backend).await;
    let first: Value = upload(&s, PYTEST, Some("same")).await.json().await.expect("json");
    let again = upload(&s, PYTEST, Some("same")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    assert_eq!(again.json::<Value>().await.expect("json"), first, "the same reply");
    assert_eq!(runs(&s).await, 1, "no duplicate run");
    let different = upload(&s, &PYTEST.replace("0.001", "0.009"), Some("same")).await;
    assert_eq!(different.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(runs(&s).await, 1);
}

async fn concurrent_uploads_lose_nothing(backend: Backend) {
    let s = setup_with(backend, &["--ingest-concurrency", "64"]).await;
    let uploads: Vec<_> = (0..20)
        .map(|i| {
            let request = s
                .app
                .api(Method::POST, &format!("/runs?run_key=r{i}"), &s.token)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", format!("key-{i}"))
                .body(
                    json!({ "results": [{ "test_id": format!("load::test_{i}"), "outcome": "passed" }] })
                        .to_string(),
                );
            tokio::spawn(async move { request.send().await.map(|r| r.status()) })
        })
        .collect();
    for upload in uploads {
        assert_eq!(upload.await.expect("task").expect("response"), StatusCode::CREATED);
    }
    assert_eq!(runs(&s).await, 20);
    let latest: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_latest WHERE test_id LIKE 'load::%'")
        .fetch_one(s.app.db.read())
        .await
        .expect("count");
    assert_eq!(latest, 20);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("finish")
}

async fn hostile_uploads_get_a_clear_4xx_and_store_nothing(backend: Backend) {
    let s = setup_with(backend, &["--upload-max-cases", "100", "--upload-max-decompressed-bytes", "1000000"])
        .await;
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><testsuites><testsuite><testcase name="&lol2;"/></testsuite></testsuites>"#;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&xxe;"/></testsuite>"#;
    let deep = format!("<testsuites>{}", "<testsuite>".repeat(10_000));
    let many = format!("<testsuite>{}</testsuite>", "<testcase name=\"t\"/>".repeat(101));
    let cases: Vec<(&str, Vec<u8>, &str, StatusCode, &str)> = vec![
        ("billion laughs", laughs.into(), "application/xml", StatusCode::BAD_REQUEST, "DTDs"),
        ("XXE", xxe.into(), "application/xml", StatusCode::BAD_REQUEST, "DTDs"),
        ("deep nesting", deep.into_bytes(), "application/xml", StatusCode::BAD_REQUEST, "nested deeper"),
        (
            "invalid UTF-8",
            b"<testsuite>\xff\xfe</testsuite>".to_vec(),
            "application/xml",
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            "malformed",
            b"<testsuite>\n<testcase name=\"a\">\n</testsuite>".to_vec(),
            "application/xml",
            StatusCode::BAD_REQUEST,
            "line 3",
        ),
        (
            "too many cases",
            many.into_bytes(),
            "application/xml",
            StatusCode::PAYLOAD_TOO_LARGE,
            "more than 100 test cases",
        ),
        ("bad JSON", b"{\"results\": [}".to_vec(), "application/json", StatusCode::BAD_REQUEST, "line 1"),
        (
            "bad outcome",
            br#"{"results":[{"test_id":"a","outcome":"meh"}]}"#.to_vec(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "outcome",
        ),
        ("wrong type", b"hello".to_vec(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
    ];
    for (name, body, content_type, status, detail) in cases {
        let response = s
            .app
            .api(Method::POST, "/runs", &s.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), status, "{name}");
        let body: Value = response.json().await.expect("json error body");
        let text = body["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(text.contains(detail), "{name}: {text}");
    }
    let bomb = gzip(&vec![b' '; 50_000_000]);
    let response = s
        .app
        .api(Method::POST, "/runs", &s.token)
        .header("Content-Type", "application/xml")
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "gzip bomb");
    let zipped = s
        .app
        .api(Method::POST, "/runs", &s.token)
        .header("Content-Type", "application/xml")
        .header("Content-Encoding", "gzip")
        .body(gzip(PYTEST.as_bytes()))
        .send()
        .await
        .expect("upload");
    assert_eq!(zipped.status(), StatusCode::CREATED, "gzip is accepted");
    assert_eq!(runs(&s).await, 1, "only the valid upload was stored");
}

async fn a_token_has_a_request_budget(backend: Backend) {
    let s = setup_with(backend, &["--token-rate-per-minute", "12"]).await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = s.app.api(Method::GET, "/changes", &s.token).send().await.expect("request");
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 =
                response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
            assert!((1..=10).contains(&retry), "{retry}");
            return;
        }
    }
    panic!("no 429 after 30 requests: {statuses:?}");
}

async fn the_badge_is_public_only_when_enabled_and_the_api_is_documented(backend: Backend) {
    let s = setup(backend).await;
    let badge = reqwest::get(s.app.url("/api/v1/changes/PAY-1/badge.svg")).await.expect("badge");
    assert_eq!(badge.status(), StatusCode::NOT_FOUND);
    sqlx::query("UPDATE teams SET public_badges = 1").execute(s.app.db.read()).await.expect("enable");
    let badge = reqwest::get(s.app.url("/api/v1/changes/PAY-1/badge.svg")).await.expect("badge");
    assert_eq!(badge.status(), StatusCode::OK);
    assert_eq!(badge.headers()["content-type"], "image/svg+xml");
    let svg = badge.text().await.expect("svg");
    assert!(svg.contains("<title>PAY-1: gate closed</title>"), "{svg}");
    let doc: Value =
        reqwest::get(s.app.url("/api/v1/openapi.json")).await.expect("doc").json().await.expect("json");
    for path in ["/api/v1/runs", "/api/v1/changes/{key}/gate", "/api/v1/changes/{key}/failure-modes"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

/// What the server answers is what its OpenAPI document says it can answer: each refusal
/// below is listed for its operation, with the error envelope the reply carries.
async fn every_refusal_the_api_gives_is_in_its_document(backend: Backend) {
    let s = setup(backend).await;
    let doc: Value =
        reqwest::get(s.app.url("/api/v1/openapi.json")).await.expect("doc").json().await.expect("json");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let client = reqwest::Client::new();
    let url = |path: &str| s.app.url(&format!("/api/v1{path}"));
    let refusals = [
        ("get", "/changes", client.get(url("/changes")), 401),
        ("get", "/changes/{key}/gate", client.get(url("/changes/PAY-99/gate")).bearer_auth(&s.token), 404),
        (
            "post",
            "/changes",
            client.post(url("/changes")).bearer_auth(&s.token).header("Content-Type", "text/plain").body("x"),
            415,
        ),
        (
            "post",
            "/changes",
            client
                .post(url("/changes"))
                .bearer_auth(&s.token)
                .header("Content-Type", "application/json")
                .body("{"),
            400,
        ),
        (
            "post",
            "/changes",
            client.post(url("/changes")).bearer_auth(&s.token).json(&json!({ "team": "PAY" })),
            422,
        ),
        (
            "post",
            "/runs",
            client.post(url("/runs")).bearer_auth(&s.token).header("Content-Type", "text/csv").body("a,b"),
            415,
        ),
    ];
    for (method, path, request, status) in refusals {
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = response.json().await.expect("json error");
        assert!(body["errors"][0]["detail"].is_string(), "{method} {path}: {body}");
        let documented = &doc["paths"][&format!("/api/v1{path}")][method]["responses"][status.to_string()];
        assert_eq!(
            documented["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorsDoc",
            "{method} {path} documents {status}"
        );
    }
    // Every operation lists the refusals any request can meet, 503 and 429 with Retry-After.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            for status in ["401", "403", "429", "503"] {
                assert!(operation["responses"].get(status).is_some(), "{method} {path} documents {status}");
            }
            assert!(operation["responses"]["503"]["headers"].get("Retry-After").is_some(), "{method} {path}");
        }
    }
    // A change's details are in its schemas by name, as the handlers read and write them;
    // bodies take nothing else.
    let schemas = &doc["components"]["schemas"];
    for detail in app::domain::change::DETAILS {
        for schema in ["ChangeDoc", "NewChangeDoc", "ChangePatchDoc"] {
            assert!(
                schemas[schema]["properties"].get(detail.name).is_some(),
                "{schema} lists {}",
                detail.name
            );
        }
    }
    for schema in ["NewChangeDoc", "ChangePatchDoc"] {
        assert_eq!(schemas[schema]["additionalProperties"], false, "{schema}");
    }
}

/// What the document allows, the API takes, and what the server refuses, the document
/// refuses too: at the edges schemathesis found with fresh seeds.
async fn what_the_document_allows_the_api_takes(backend: Backend) {
    let s = setup(backend).await;
    let api = |method, path: &str| s.app.api(method, path, &s.token);
    let draft = json!({ "team": " pay ", "title": "Rollout", "types": ["rollout"] });
    let created = api(Method::POST, "/changes").json(&draft).send().await.expect("create");
    assert_eq!(created.status(), StatusCode::CREATED, "a slug is read as the schema says: trimmed, any case");
    // No body, or `null`, records the happy path without a note; a note may hold lines and tabs.
    let happy = api(Method::POST, "/changes/PAY-2/happy-path").header("Content-Type", "application/json");
    assert_eq!(happy.body("null").send().await.expect("happy").status(), StatusCode::OK);
    let again = api(Method::POST, "/changes/PAY-1/happy-path").json(&json!({"note": "a\tb\nc"}));
    assert_eq!(
        again.send().await.expect("again").status(),
        StatusCode::CONFLICT,
        "checked, then refused as a repeat"
    );
    let fm = |designs: Value, tests: Value| json!({"title": "T", "severity": 1, "likelihood": 1, "detectability": 1, "designs": designs, "tests": tests});
    let add = |body: Value| api(Method::POST, "/changes/PAY-1/failure-modes").json(&body).send();
    let added =
        add(fm(json!([{"title": "  ADR 7 ", "url": null}]), json!(["abc", "abc"]))).await.expect("fm");
    assert_eq!(added.status(), StatusCode::CREATED);
    for (designs, tests) in [
        (json!([{"title": ""}]), json!([])),
        (json!([]), json!([" abc"])),
        (json!([]), json!(vec!["abc"; 51])),
        (json!(vec![json!({"title": "x"}); 21]), json!([])),
    ] {
        let refused = add(fm(designs.clone(), tests.clone())).await.expect("fm");
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{designs} {tests}");
    }
    // The gate reads `require=open`, however often it is given, and refuses anything else.
    let gate = api(Method::GET, "/changes/PAY-1/gate?require=open&require=open").send().await.expect("gate");
    assert_eq!(gate.status(), StatusCode::PRECONDITION_FAILED);
    let gate = api(Method::GET, "/changes/PAY-1/gate?require=null&require=null").send().await.expect("gate");
    assert_eq!(gate.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(gate.json::<Value>().await.expect("json")["errors"][0]["detail"].is_string());
    let doc: Value =
        reqwest::get(s.app.url("/api/v1/openapi.json")).await.expect("doc").json().await.expect("json");
    let gate = &doc["paths"]["/api/v1/changes/{key}/gate"]["get"]["parameters"];
    assert_eq!(gate[1]["in"], "query", "{gate}");
    let runs = &doc["paths"]["/api/v1/runs"]["post"]["responses"];
    for status in ["409", "422"] {
        assert!(
            runs[status]["description"].as_str().is_some_and(|d| d.contains("Idempotency-Key")),
            "{status}"
        );
    }
    // A NUL, which JSON can carry and PostgreSQL's text cannot hold, is refused in a test's
    // id and replaced in its message, on both engines alike, never a 500.
    let upload = |results: Value, key: &str| {
        api(Method::POST, "/runs").header("Idempotency-Key", key).json(&json!({ "results": results })).send()
    };
    let nul_id = upload(json!([{"test_id": "queue::a\0b", "outcome": "passed"}]), "nul-1");
    let nul_id = nul_id.await.expect("upload");
    assert_eq!(nul_id.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nul_id.text().await.expect("body").contains("NUL"));
    let nul_message = json!([{"test_id": "queue::nul", "outcome": "failed", "message": "a\0b",
        "failure_mode": "PAY-1/FM-\u{0}1"}]);
    let stored = upload(nul_message.clone(), "nul-2").await.expect("upload");
    assert_eq!(stored.status(), StatusCode::CREATED, "{}", stored.text().await.unwrap_or_default());
    let replayed = upload(nul_message, "nul-2").await.expect("upload");
    assert_eq!(replayed.status(), StatusCode::CREATED, "the same key and body get the same reply");
}

/// Sends the headers and part of the body of an upload, then waits.
async fn half_sent(s: &Setup) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut held = tokio::net::TcpStream::connect(s.app.addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/runs HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        s.app.addr,
        s.token,
        PYTEST.len(),
        &PYTEST[..10]
    );
    held.write_all(head.as_bytes()).await.expect("write");
    held
}

async fn uploads_beyond_capacity_wait_their_turn_and_a_full_line_says_when_to_return(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = setup_with(backend, &["--ingest-concurrency", "1", "--upload-queue", "1"]).await;
    // A half-sent upload holds a place but no ingestion slot: uploads that arrived whole go ahead.
    let mut held = vec![half_sent(&s).await];
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(upload(&s, PYTEST, None).await.status(), StatusCode::CREATED);
    // Four places per ingestion slot: with four bodies arriving, the next upload waits in line.
    for _ in 0..3 {
        held.push(half_sent(&s).await);
    }
    let queue = || async {
        let response = s.app.api(Method::GET, "/runs/queue", &s.token).send().await.expect("queue");
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.expect("json")
    };
    for _ in 0..100 {
        if queue().await["in_progress"] == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let waiting = {
        let request = s
            .app
            .api(Method::POST, "/runs?run_key=waiting", &s.token)
            .header("Content-Type", "application/xml")
            .body(PYTEST);
        tokio::spawn(async move { request.send().await.map(|r| r.status()) })
    };
    let mut status = queue().await;
    for _ in 0..100 {
        if status["waiting"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        status = queue().await;
    }
    assert_eq!(status["waiting"], 1, "{status}");
    assert_eq!(status["position"], 2, "a new upload would be second in line: {status}");
    assert!(!waiting.is_finished(), "the upload waits its turn instead of being refused");

    // The line holds one: the next is refused, told its place and when to come back.
    let refused = upload(&s, PYTEST, None).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 =
        refused.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry_after >= 1);
    let detail = refused.json::<Value>().await.expect("json")["errors"][0]["detail"].to_string();
    assert!(detail.contains("queue is full") && detail.contains("number 2 in line"), "{detail}");
    let before = runs(&s).await;

    // The held uploads complete normally once their bodies arrive, and the waiting one is stored.
    for mut stream in held {
        stream.write_all(&PYTEST.as_bytes()[10..]).await.expect("write rest");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.expect("read");
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    }
    assert_eq!(waiting.await.expect("task").expect("response"), StatusCode::CREATED);
    assert_eq!(runs(&s).await, before + 5);
}

/// How many audit entries of `action` on PAY-1 (or its failure modes) `actor` recorded.
async fn entries(s: &Setup, action: &str, actor: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND actor = $2 AND object_id LIKE 'PAY-1%'",
    )
    .bind(action)
    .bind(actor)
    .fetch_one(s.app.db.read())
    .await
    .expect("count")
}

/// PAY-1's gate as last recorded: `Some(true)` open.
async fn stored_gate(s: &Setup) -> Option<bool> {
    let open: Option<i64> = sqlx::query_scalar("SELECT gate_open FROM changes WHERE number = 1")
        .fetch_one(s.app.db.read())
        .await
        .expect("gate");
    open.map(|open| open != 0)
}

/// Asserts the recorded gate is the one the gate endpoint answers.
async fn assert_gate(s: &Setup, open: bool) {
    let answered = gate(s, true).await.status();
    assert_eq!(answered == StatusCode::OK, open, "the gate endpoint answers {answered}");
    assert_eq!(stored_gate(s).await, Some(open), "the recorded gate");
}

/// Moves `statements`' times to `ms` ago, as time passing would.
async fn backdate(s: &Setup, statements: &[&str], ms: i64) {
    let then = app::domain::time::Timestamp::now().0 - ms;
    let mut tx = s.app.db.begin_write().await.expect("begin");
    for statement in statements {
        sqlx::query(statement).bind(then).execute(&mut *tx).await.expect("backdate");
    }
    tx.commit().await.expect("commit");
}

/// Coverage moves, gate moves and expiries are recorded as they happen, once each, by the
/// token whose run caused them or, as time passes, by the clock.
async fn the_gate_records_each_move_once_and_time_closes_it(backend: Backend) {
    let s = setup(backend).await;
    let (ci, clock) = ("token:ci", "premortem:clock");
    assert_gate(&s, false).await;

    assert_eq!(upload(&s, PYTEST, None).await.status(), StatusCode::CREATED);
    assert_gate(&s, true).await;
    assert_eq!((entries(&s, "change.coverage", ci).await, entries(&s, "change.gate_open", ci).await), (1, 1));
    let coverage: Value = sqlx::query_scalar::<_, String>(
        "SELECT after_json FROM audit_log WHERE action = 'change.coverage' ORDER BY id DESC",
    )
    .fetch_one(s.app.db.read())
    .await
    .map(|text| serde_json::from_str(&text).expect("json"))
    .expect("entry");
    assert_eq!(coverage["FM-3"], "verified");

    let failing = failing_priority_lane();
    assert_eq!(upload(&s, &failing, None).await.status(), StatusCode::CREATED);
    assert_gate(&s, false).await;
    assert_eq!(
        (entries(&s, "change.coverage", ci).await, entries(&s, "change.gate_close", ci).await),
        (2, 1)
    );
    // The same evidence again moves nothing, so records nothing.
    assert_eq!(upload(&s, &failing, None).await.status(), StatusCode::CREATED);
    assert_eq!(
        (entries(&s, "change.coverage", ci).await, entries(&s, "change.gate_close", ci).await),
        (2, 1)
    );

    // A lead accepts FM-3's risk: the gate opens, recorded as the lead's.
    let accept = [
        ("key", "PAY-1"),
        ("number", "3"),
        ("justification", "Lane is monitored"),
        ("expires_on", "2999-01-01"),
    ];
    assert_eq!(s.app.call(&s.lead, "accept_risk", &accept).await.status(), StatusCode::OK);
    assert_gate(&s, true).await;
    assert_eq!(entries(&s, "change.gate_open", "lena").await, 1);

    // The acceptance runs out: the sweep records it and the gate closing, once, however often
    // it runs.
    // (Every stored time moves back, the change's tally's too, as if the clock moved on.)
    backdate(&s, &["UPDATE risk_acceptances SET expires_at = $1", "UPDATE changes SET cov_until = $1"], 1000)
        .await;
    for _ in 0..3 {
        app::ssr::gates::sweep(&s.app.db).await.expect("sweep");
    }
    assert_gate(&s, false).await;
    assert_eq!(
        (
            entries(&s, "failure_mode.risk_expired", clock).await,
            entries(&s, "change.gate_close", clock).await
        ),
        (1, 1)
    );

    // Passing evidence opens it again; the evidence growing stale closes it, with no write.
    assert_eq!(upload(&s, PYTEST, None).await.status(), StatusCode::CREATED);
    assert_gate(&s, true).await;
    let evidence = [
        "UPDATE evidence_latest SET at = $1",
        "UPDATE evidence_bindings SET at = $1",
        "UPDATE failure_modes SET ev_oldest_at = $1",
        "UPDATE changes SET cov_until = $1",
    ];
    backdate(&s, &evidence, 40 * app::domain::time::DAY_MS).await;
    for _ in 0..3 {
        app::ssr::gates::sweep(&s.app.db).await.expect("sweep");
    }
    assert_gate(&s, false).await;
    assert_eq!(entries(&s, "change.gate_close", clock).await, 2);
    let mut conn = s.app.db.read().acquire().await.expect("conn");
    assert!(app::ssr::audit::verify_chain(&mut conn).await.expect("read").is_ok(), "the chain is intact");
}

both_backends!(
    pruning_keeps_every_run_that_holds_a_latest_result,
    a_partial_run_keeps_the_other_tests_latest_results,
    the_gate_records_each_move_once_and_time_closes_it,
    uploads_beyond_capacity_wait_their_turn_and_a_full_line_says_when_to_return,
    evidence_opens_the_gate_and_a_failure_regresses_the_change,
    tokens_are_scoped_and_cookies_do_not_count,
    retries_with_a_key_store_one_run,
    a_sign_off_racing_a_failing_run_never_stands_on_failing_evidence,
    over_large_uploads_all_hear_413,
    uploads_refused_before_their_body_ends_are_heard,
    concurrent_uploads_lose_nothing,
    hostile_uploads_get_a_clear_4xx_and_store_nothing,
    a_token_has_a_request_budget,
    the_badge_is_public_only_when_enabled_and_the_api_is_documented,
    every_refusal_the_api_gives_is_in_its_document,
    what_the_document_allows_the_api_takes,
);
