//! Changes, failure modes, the gate and sign-off, through the server functions.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::gate::Outcome;
use app::ssr::audit;
use app::ssr::store::evidence::{self, ResultInput, RunInput};
use app::ssr::store::teams;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use app::domain::time::DAY_MS;

struct Team {
    app: TestApp,
    author: reqwest::Client,
    lead: reqwest::Client,
    viewer: reqwest::Client,
    outsider: reqwest::Client,
}

/// PAY with an author (member), a lead and a viewer; OPS with its own lead.
async fn team(backend: Backend) -> Team {
    let app = TestApp::spawn(backend).await;
    let author = app.user("amy", "amy-password-1", false).await;
    let lead = app.user("lena", "lena-password-1", false).await;
    let viewer = app.user("vic", "vic-password-1", false).await;
    let outsider = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(author, Role::Member), (lead, Role::Lead), (viewer, Role::Viewer)]).await;
    app.team("OPS", &[(outsider, Role::Lead)]).await;
    let client = |name: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let client = app.client();
            assert_eq!(app.login(&client, name, password).await.status(), StatusCode::OK);
            client
        }
    };
    let author = client("amy", "amy-password-1").await;
    let lead = client("lena", "lena-password-1").await;
    let viewer = client("vic", "vic-password-1").await;
    let outsider = client("olaf", "olaf-password-1").await;
    Team { app, author, lead, viewer, outsider }
}

async fn create_change(t: &Team, title: &str) -> String {
    let response = t
        .app
        .call(
            &t.author,
            "create_change",
            &[
                ("team", "PAY"),
                ("title", title),
                ("summary", "Move exam processing to a queue"),
                ("ticket_url", "https://tickets.example/PAY-1"),
                ("pr_url", ""),
                ("design_url", ""),
                ("type_queue", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("key")
}

fn fm_form<'a>(
    key: &'a str,
    title: &'a str,
    severity: &'a str,
    selectors: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("key", key),
        ("title", title),
        ("scenario", "10,000 exams queued after a 2-hour network outage"),
        ("effect", "Results arrive hours late"),
        ("detection", "Queue depth alert"),
        ("severity", severity),
        ("likelihood", "3"),
        ("detectability", "2"),
        ("designs", "Backpressure ADR https://wiki.example/adr-7"),
        ("selectors", selectors),
    ]
}

async fn detail(t: &Team, client: &reqwest::Client, key: &str) -> Value {
    let response = t.app.call(client, "change", &[("key", key)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn blockers(detail: &Value) -> Vec<String> {
    match &detail["gate"] {
        Value::String(open) if open == "Open" => vec![],
        closed => closed["Closed"]
            .as_array()
            .expect("blockers")
            .iter()
            .map(|b| b["reason"].as_str().unwrap_or_default().to_owned())
            .collect(),
    }
}

async fn from_change_to_sign_off(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    assert_eq!(key, "PAY-1");

    // Readers read; only members of the owning team write.
    assert_eq!(t.app.call(&t.viewer, "change", &[("key", &key)]).await.status(), StatusCode::OK);
    let add = fm_form(&key, "Backlog after outage", "4", "queue::backlog_*");
    assert_eq!(t.app.call(&t.viewer, "add_failure_mode", &add).await.status(), StatusCode::FORBIDDEN);
    // To an outsider another team's change does not exist.
    assert_eq!(t.app.call(&t.outsider, "add_failure_mode", &add).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(t.app.call(&t.outsider, "change", &[("key", &key)]).await.status(), StatusCode::NOT_FOUND);
    let happy = [("key", key.as_str()), ("note", "demo")];
    assert_eq!(t.app.call(&t.outsider, "happy_path", &happy).await.status(), StatusCode::NOT_FOUND);

    let draft = detail(&t, &t.author, &key).await;
    assert!(blockers(&draft).contains(&"The happy path is not recorded as working yet.".to_owned()));
    assert_eq!(t.app.call(&t.author, "happy_path", &happy).await.status(), StatusCode::OK);
    assert_eq!(t.app.call(&t.author, "happy_path", &happy).await.status(), StatusCode::CONFLICT, "only once");

    for (title, severity, selectors) in [
        ("Backlog after outage", "4", "queue::backlog_*"),
        ("More workers make it slower", "3", "queue::scaling_shared_db"),
        ("No fast lane for urgent exams", "5", "queue::priority_lane\nqueue::priority_*"),
    ] {
        let response =
            t.app.call(&t.author, "add_failure_mode", &fm_form(&key, title, severity, selectors)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let working = detail(&t, &t.author, &key).await;
    assert_eq!(working["status"], "happy_path_working");
    let happy_at = working["happy_path_at"].as_i64().expect("happy path date");
    assert_eq!(
        working["target_at"].as_i64().expect("target") - happy_at,
        30 * DAY_MS,
        "target is 30 days later"
    );
    assert_eq!(
        blockers(&working),
        [
            "FM-1 “Backlog after outage” has no passing evidence yet for: queue::backlog_*.",
            "FM-2 “More workers make it slower” has no passing evidence yet for: queue::scaling_shared_db.",
            "FM-3 “No fast lane for urgent exams” has no passing evidence yet for: queue::priority_lane, queue::priority_*.",
        ]
    );
    assert!(working["sign_off_refusal"].as_str().is_some_and(|r| r.contains("author")), "{working}");
    let sign = [("key", key.as_str()), ("password", "amy-password-1")];
    assert_eq!(t.app.call(&t.author, "sign_off", &sign).await.status(), StatusCode::FORBIDDEN, "four eyes");
    let early = [("key", key.as_str()), ("password", "lena-password-1")];
    assert_eq!(t.app.call(&t.lead, "sign_off", &early).await.status(), StatusCode::CONFLICT, "gate closed");

    // CI evidence, supplied through the store: one failing test keeps the gate closed.
    let team_id = teams::by_slug(&t.app.db, &app::domain::TeamSlug::parse("PAY").expect("slug"))
        .await
        .expect("team")
        .id;
    let result = |id: &str, outcome| ResultInput {
        test_id: id.to_owned(),
        outcome,
        duration_ms: Some(12),
        message: None,
        failure_mode: None,
    };
    let run = RunInput {
        commit: Some("abc123".into()),
        pipeline_url: Some("https://ci.example/1".into()),
        ..RunInput::default()
    };
    evidence::record_run(
        &t.app.db,
        team_id,
        &run,
        &[
            result("queue::backlog_drains", Outcome::Passed),
            result("queue::scaling_shared_db", Outcome::Passed),
            result("queue::priority_lane", Outcome::Failed),
            result("unrelated::test", Outcome::Failed),
        ],
    )
    .await
    .expect("record run");
    let failing = detail(&t, &t.lead, &key).await;
    assert_eq!(
        blockers(&failing),
        ["FM-3 “No fast lane for urgent exams” has failing tests: queue::priority_lane."]
    );
    evidence::record_run(&t.app.db, team_id, &run, &[result("queue::priority_lane", Outcome::Passed)])
        .await
        .expect("record run");
    let open = detail(&t, &t.lead, &key).await;
    assert_eq!(open["gate"], "Open", "{open}");
    assert_eq!(open["sign_off_refusal"], Value::Null);

    let wrong = [("key", key.as_str()), ("password", "not-lenas-password")];
    let refused = t.app.call(&t.lead, "sign_off", &wrong).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json::<Value>().await.expect("json")["Invalid"]["field"], "password");
    assert_eq!(t.app.call(&t.lead, "sign_off", &early).await.status(), StatusCode::OK);

    let signed = detail(&t, &t.viewer, &key).await;
    assert_eq!(signed["status"], "failure_cases_complete");
    let again = detail(&t, &t.lead, &key).await;
    assert_eq!(
        again["sign_off_refusal"], "A change that is failure cases complete cannot be signed off.",
        "the page says why, in the words of the rule that would refuse it: {again}"
    );
    let hash = signed["sign_offs"][0]["content_hash"].as_str().expect("hash").to_owned();
    let snapshot: String = sqlx::query_scalar("SELECT snapshot FROM sign_offs")
        .fetch_one(t.app.db.read())
        .await
        .expect("snapshot");
    assert_eq!(hex::encode(Sha256::digest(snapshot.as_bytes())), hash, "the hash covers the snapshot");
    let snapshot: Value = serde_json::from_str(&snapshot).expect("json");
    assert_eq!(snapshot["failure_modes"].as_array().map(Vec::len), Some(3));
    assert_eq!(snapshot["failure_modes"][2]["coverage"], "verified");
    assert_eq!(snapshot["failure_modes"][2]["evidence"][0]["test_id"], "queue::priority_lane");
    let tamper = sqlx::query("UPDATE sign_offs SET snapshot = '{}'").execute(t.app.db.read()).await;
    assert!(tamper.is_err(), "sign-offs are immutable");

    let actions: Vec<&str> =
        signed["history"].as_array().expect("history").iter().filter_map(|h| h["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "change.sign_off",
            "failure_mode.create",
            "failure_mode.create",
            "failure_mode.create",
            "change.happy_path",
            "change.create"
        ]
    );
    let mut conn = t.app.db.read().acquire().await.expect("conn");
    assert!(audit::verify_chain(&mut conn).await.expect("read").is_ok());
}

async fn concurrent_creation_hands_out_unique_keys(backend: Backend) {
    let t = team(backend).await;
    let creations: Vec<_> = (0..20)
        .map(|i| {
            let app_url = t.app.url("/api/create_change");
            let client = t.author.clone();
            tokio::spawn(async move {
                let title = format!("Change {i}");
                let form = [
                    ("team", "PAY"),
                    ("title", title.as_str()),
                    ("summary", ""),
                    ("ticket_url", ""),
                    ("pr_url", ""),
                    ("design_url", ""),
                    ("type_rollout", "on"),
                ];
                client
                    .post(app_url)
                    .form(&form)
                    .send()
                    .await
                    .expect("request")
                    .json::<String>()
                    .await
                    .expect("key")
            })
        })
        .collect();
    let mut keys = Vec::new();
    for creation in creations {
        keys.push(creation.await.expect("task"));
    }
    keys.sort_by_key(|k| k.trim_start_matches("PAY-").parse::<i64>().unwrap_or(0));
    let expected: Vec<String> = (1..=20).map(|n| format!("PAY-{n}")).collect();
    assert_eq!(keys, expected);
}

async fn a_stale_edit_is_refused_not_lost(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    t.app.call(&t.author, "add_failure_mode", &fm_form(&key, "Backlog", "3", "queue::backlog_*")).await;
    let fm: Value = t
        .app
        .call(&t.lead, "failure_mode", &[("key", &key), ("number", "1")])
        .await
        .json()
        .await
        .expect("json");
    let version = fm["version"].as_i64().expect("version").to_string();

    let edit = |title: &'static str| {
        let mut form = fm_form(&key, title, "3", "queue::backlog_*");
        form.push(("number", "1"));
        form.push(("version", &version));
        form
    };
    assert_eq!(
        t.app.call(&t.author, "update_failure_mode", &edit("Amy's title")).await.status(),
        StatusCode::OK
    );
    let second = t.app.call(&t.lead, "update_failure_mode", &edit("Lena's title")).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let message =
        second.json::<Value>().await.expect("json")["Conflict"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("Someone else changed this failure mode"), "{message}");
    let fm: Value = t
        .app
        .call(&t.lead, "failure_mode", &[("key", &key), ("number", "1")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(fm["title"], "Amy's title", "the first save was kept");
}

async fn invalid_input_is_explained_per_field_and_changes_nothing(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    let huge = "x".repeat(1_000_000);
    let base =
        [("team", "PAY"), ("ticket_url", ""), ("pr_url", ""), ("design_url", ""), ("type_queue", "on")];
    for (extra, field) in [
        (vec![("title", "   "), ("summary", "")], "title"),
        (vec![("title", "Fine"), ("summary", huge.as_str())], "summary"),
    ] {
        let mut form = base.to_vec();
        form.extend(extra);
        let response = t.app.call(&t.author, "create_change", &form).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(response.json::<Value>().await.expect("json")["Invalid"]["field"], field);
    }
    let no_type = [
        ("team", "PAY"),
        ("title", "Untyped"),
        ("summary", ""),
        ("ticket_url", ""),
        ("pr_url", ""),
        ("design_url", ""),
    ];
    let response = t.app.call(&t.author, "create_change", &no_type).await;
    assert_eq!(response.json::<Value>().await.expect("json")["Invalid"]["field"], "types");

    for (form, field) in [
        (fm_form(&key, "Bad rating", "7", "queue::x"), "severity"),
        (fm_form(&key, "Bad glob", "3", "*"), "selectors"),
        (fm_form(&key, "Bad glob", "3", "queue::[ab]"), "selectors"),
        (fm_form(&key, "", "3", "queue::x"), "title"),
    ] {
        let response = t.app.call(&t.author, "add_failure_mode", &form).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(response.json::<Value>().await.expect("json")["Invalid"]["field"], field);
    }
    let list: Value = t.app.call(&t.author, "changes", &[("team", "PAY")]).await.json().await.expect("json");
    assert_eq!(list["changes"].as_array().map(Vec::len), Some(1), "only the valid change exists");
    assert_eq!(list["changes"][0]["failure_modes"], 0, "no failure mode was added");
}

async fn risk_acceptance_needs_a_lead_who_is_not_the_author(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    t.app.call(&t.author, "add_failure_mode", &fm_form(&key, "Medium risk", "3", "queue::a_test")).await;
    t.app.call(&t.author, "add_failure_mode", &fm_form(&key, "High risk", "5", "queue::b_test")).await;
    let accept = |number: &'static str, expires: &'static str| {
        vec![
            ("key", key.as_str()),
            ("number", number),
            ("justification", "Known and monitored"),
            ("expires_on", expires),
        ]
    };
    assert_eq!(
        t.app.call(&t.author, "accept_risk", &accept("1", "2999-01-01")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.app.call(&t.outsider, "accept_risk", &accept("1", "2999-01-01")).await.status(),
        StatusCode::NOT_FOUND
    );
    let past = t.app.call(&t.lead, "accept_risk", &accept("1", "2000-01-01")).await;
    assert_eq!(past.json::<Value>().await.expect("json")["Invalid"]["field"], "expires_on");
    assert_eq!(
        t.app.call(&t.lead, "accept_risk", &accept("2", "2999-01-01")).await.status(),
        StatusCode::CONFLICT,
        "High"
    );
    assert_eq!(t.app.call(&t.lead, "accept_risk", &accept("1", "2999-01-01")).await.status(), StatusCode::OK);
    let change = detail(&t, &t.viewer, &key).await;
    assert_eq!(change["failure_modes"][0]["coverage"], "accepted");
    assert_eq!(change["failure_modes"][1]["coverage"], "designed");
}

async fn leads_set_their_teams_rules(backend: Backend) {
    let t = team(backend).await;
    let rules = |window: &'static str| {
        [
            ("team", "PAY"),
            ("window_days", window),
            ("freshness_days", "7"),
            ("min_failure_modes", "1"),
            ("warning_days", "7"),
        ]
    };
    assert_eq!(t.app.call(&t.author, "set_policy", &rules("10")).await.status(), StatusCode::FORBIDDEN);
    let bad = t.app.call(&t.lead, "set_policy", &rules("0")).await;
    assert_eq!(bad.json::<Value>().await.expect("json")["Invalid"]["field"], "window_days");
    assert_eq!(t.app.call(&t.lead, "set_policy", &rules("10")).await.status(), StatusCode::OK);

    let key = create_change(&t, "Exam queue").await;
    t.app.call(&t.author, "happy_path", &[("key", key.as_str()), ("note", "")]).await;
    let change = detail(&t, &t.author, &key).await;
    let window =
        change["target_at"].as_i64().expect("target") - change["happy_path_at"].as_i64().expect("happy");
    assert_eq!(window, 10 * DAY_MS);
    assert_eq!(blockers(&change), ["The change has 0 failure modes; this team needs at least 1."]);
}

/// A failure mode's fields as the browser's form sends them, and the same as the API's
/// JSON: ratings as numbers, designs as titles and links, selectors as a list.
fn fm_json(form: &[(&str, String)]) -> Value {
    use app::domain::failure_mode::{Design, Selector};
    let mut body = serde_json::Map::new();
    for (name, value) in form {
        let json = match *name {
            "severity" | "likelihood" | "detectability" => json!(value.parse::<u8>().expect("a number")),
            "designs" => Design::lines(value)
                .into_iter()
                .map(|(title, url)| json!({"title": title, "url": (!url.is_empty()).then_some(url)}))
                .collect(),
            "selectors" => json!(Selector::lines(value)),
            _ => json!(value),
        };
        body.insert(if *name == "selectors" { "tests" } else { name }.to_owned(), json);
    }
    Value::Object(body)
}

/// The form and the API take a failure mode through the same checks: each bad one is
/// refused by both with the same message, and a good one is stored alike.
async fn the_form_and_the_api_refuse_the_same_failure_modes(backend: Backend) {
    use app::domain::scope::Scope;
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    let token = t.app.token("PAY", &[Scope::ChangesWrite, Scope::ChangesRead], None).await;
    let good: Vec<(&str, String)> = [
        ("title", "Backlog after an outage"),
        ("scenario", "10,000 exams queued"),
        ("effect", "Results arrive late"),
        ("detection", "Queue depth alert"),
        ("owner", "Priya, payments on-call"),
        ("severity", "4"),
        ("likelihood", "3"),
        ("detectability", "2"),
        ("designs", "Backpressure ADR https://wiki.example/adr-7\nRetry with jitter"),
        ("selectors", "queue::backlog_*\nqueue::drain"),
    ]
    .map(|(name, value)| (name, value.to_owned()))
    .into();
    let many = |n: usize, line: &str| (0..n).map(|i| format!("{line}{i}")).collect::<Vec<_>>().join("\n");
    let bad: Vec<(&str, String)> = vec![
        ("title", String::new()),
        ("title", "Two\nlines".into()),
        ("title", "x".repeat(201)),
        ("severity", "0".into()),
        ("likelihood", "6".into()),
        ("scenario", "a\u{1}b".into()),
        ("detection", "x".repeat(20_001)),
        ("owner", "Priya\nSam".into()),
        ("owner", "x".repeat(201)),
        ("designs", many(21, "Design ")),
        ("designs", "x".repeat(501)),
        ("selectors", "*".into()),
        ("selectors", many(51, "queue::case_")),
    ];
    for (name, value) in bad {
        let fields: Vec<(&str, String)> =
            good.iter().map(|(n, v)| (*n, if *n == name { value.clone() } else { v.clone() })).collect();
        let mut form: Vec<(&str, &str)> = vec![("key", key.as_str())];
        form.extend(fields.iter().map(|(n, v)| (*n, v.as_str())));
        let by_form = t.app.call(&t.author, "add_failure_mode", &form).await;
        assert_eq!(by_form.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let refusal: Value = by_form.json().await.expect("json");
        let (field, message) = (&refusal["Invalid"]["field"], &refusal["Invalid"]["message"]);
        let by_api = t
            .app
            .api(reqwest::Method::POST, &format!("/changes/{key}/failure-modes"), &token)
            .json(&fm_json(&fields))
            .send()
            .await
            .expect("api");
        assert_eq!(by_api.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let detail = by_api.json::<Value>().await.expect("json")["errors"][0]["detail"].clone();
        let (field, message) = (field.as_str().expect("field"), message.as_str().expect("message"));
        assert_eq!(detail, json!(format!("{field}: {message}")), "{name}: the same refusal by both");
    }
    // JSON can say what a form cannot: a text that is not a string is refused as the
    // schema says, and so is a field that is none of a failure mode's.
    for (name, value) in [("scenario", json!(null)), ("owner", json!(7)), ("ownr", json!("Priya"))] {
        let mut body = fm_json(&good);
        body[name] = value;
        let path = format!("/changes/{key}/failure-modes");
        let refused = t.app.api(reqwest::Method::POST, &path, &token).json(&body).send().await.expect("api");
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    }
    let mut form: Vec<(&str, &str)> = vec![("key", key.as_str())];
    form.extend(good.iter().map(|(n, v)| (*n, v.as_str())));
    assert_eq!(t.app.call(&t.author, "add_failure_mode", &form).await.status(), StatusCode::OK);
    let path = format!("/changes/{key}/failure-modes");
    let added =
        t.app.api(reqwest::Method::POST, &path, &token).json(&fm_json(&good)).send().await.expect("api");
    assert_eq!(added.status(), StatusCode::CREATED);
    let doc: Value = added.json().await.expect("json");
    let (first, second) = (&doc["failure_modes"][0], &doc["failure_modes"][1]);
    assert_eq!(first["owner"], "Priya, payments on-call");
    for field in ["title", "scenario", "effect", "detection", "owner", "priority", "tests"] {
        assert_eq!(first[field], second[field], "{field} is stored alike from both");
    }
    let page = t.app.call(&t.viewer, "failure_mode", &[("key", &key), ("number", "2")]).await;
    let page: Value = page.json().await.expect("json");
    assert_eq!(
        page["texts"],
        json!(["10,000 exams queued", "Results arrive late", "Queue depth alert", "Priya, payments on-call"])
    );
}

both_backends!(
    leads_set_their_teams_rules,
    from_change_to_sign_off,
    concurrent_creation_hands_out_unique_keys,
    a_stale_edit_is_refused_not_lost,
    invalid_input_is_explained_per_field_and_changes_nothing,
    risk_acceptance_needs_a_lead_who_is_not_the_author,
    the_form_and_the_api_refuse_the_same_failure_modes,
);
