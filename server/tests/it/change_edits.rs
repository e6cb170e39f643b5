//! Editing an open change's details (title, summary, types, links, rollback plan): in the
//! browser with and without JavaScript, and by `PATCH /api/v1/changes/{key}`.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::scope::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

struct Team {
    app: TestApp,
    amy: reqwest::Client,
    vic: reqwest::Client,
    olaf: reqwest::Client,
}

/// PAY with a member (amy) and a viewer (vic); OPS with its own lead (olaf).
async fn team(backend: Backend) -> Team {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let vic = app.user("vic", "vic-password-1", false).await;
    let olaf = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member), (vic, Role::Viewer)]).await;
    app.team("OPS", &[(olaf, Role::Lead)]).await;
    let login = async |name: &str, password: &str| {
        let client = app.client();
        assert_eq!(app.login(&client, name, password).await.status(), StatusCode::OK);
        client
    };
    let (amy, vic, olaf) = (
        login("amy", "amy-password-1").await,
        login("vic", "vic-password-1").await,
        login("olaf", "olaf-password-1").await,
    );
    Team { app, amy, vic, olaf }
}

async fn create(t: &Team) -> String {
    let form = [
        ("team", "PAY"),
        ("title", "Exam qeue"),
        ("summary", "Move exam processing to a queue"),
        ("ticket_url", "https://tickets.example/PAY-1"),
        ("pr_url", ""),
        ("design_url", ""),
        ("type_queue", "on"),
    ];
    let response = t.app.call(&t.amy, "create_change", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("key")
}

async fn detail(t: &Team, key: &str) -> Value {
    let response = t.app.call(&t.amy, "change", &[("key", key)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// The edit form as the browser posts it.
fn edit_form<'a>(
    key: &'a str,
    version: &'a str,
    title: &'a str,
    rollback_url: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("key", key),
        ("version", version),
        ("title", title),
        ("summary", "Move exam processing to a queue"),
        ("ticket_url", "https://tickets.example/PAY-1"),
        ("pr_url", "https://git.example/pay/pull/7"),
        ("design_url", ""),
        ("rollback_plan", "Turn the exam-queue flag off: the old path still works.\nDrain the queue first."),
        ("rollback_url", rollback_url),
        ("type_queue", "on"),
        ("type_rollout", "on"),
    ]
}

/// Every `change.update` audit entry of the change, oldest first: (before, after).
async fn updates(t: &Team, key: &str) -> Vec<(Value, Value)> {
    let rows = sqlx::query(
        "SELECT before_json, after_json FROM audit_log WHERE action = 'change.update' AND object_id = $1 ORDER BY id",
    )
    .bind(key)
    .fetch_all(t.app.db.read())
    .await
    .expect("audit");
    let json = |text: Option<String>| serde_json::from_str(&text.unwrap_or_default()).unwrap_or(Value::Null);
    rows.iter().map(|r| (json(r.get("before_json")), json(r.get("after_json")))).collect()
}

async fn members_edit_an_open_change_with_javascript(backend: Backend) {
    let t = team(backend).await;
    let key = create(&t).await;
    let before = detail(&t, &key).await;
    assert_eq!(before["version"], 1);
    assert_eq!(before["details"]["rollback_plan"], "");

    let form = edit_form(&key, "1", "Exam queue", "https://wiki.example/rollback/exam-queue");
    // Viewers read but do not write; to another team the change does not exist.
    assert_eq!(t.app.call(&t.vic, "update_change", &form).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(t.app.call(&t.olaf, "update_change", &form).await.status(), StatusCode::NOT_FOUND);
    let unchanged = detail(&t, &key).await;
    assert_eq!((&unchanged["details"], &unchanged["version"]), (&before["details"], &before["version"]));
    assert_eq!(unchanged["history"], before["history"], "refused edits change nothing");

    assert_eq!(t.app.call(&t.amy, "update_change", &form).await.status(), StatusCode::OK);
    let after = detail(&t, &key).await;
    let d = &after["details"];
    assert_eq!(d["title"], "Exam queue", "the typo is fixed");
    assert_eq!(d["types"], json!(["queue", "rollout"]));
    assert_eq!(d["pr_url"], "https://git.example/pay/pull/7");
    assert_eq!(
        d["rollback_plan"],
        "Turn the exam-queue flag off: the old path still works.\nDrain the queue first."
    );
    assert_eq!(d["rollback_url"], "https://wiki.example/rollback/exam-queue");
    assert_eq!(after["version"], 2);

    // Only what changed is audited, as it was and as it is.
    let audited = updates(&t, &key).await;
    assert_eq!(audited.len(), 1);
    let (was, now) = &audited[0];
    assert_eq!(was["title"], "Exam qeue");
    assert_eq!(now["title"], "Exam queue");
    assert_eq!(was["rollback_url"], Value::Null);
    assert_eq!(now["types"], json!(["queue", "rollout"]));
    assert!(was.get("summary").is_none() && now.get("summary").is_none(), "{was} {now}");
    let history = after["history"].as_array().expect("history");
    assert!(history.iter().any(|h| h["action"] == "change.update"), "{history:?}");

    // A second editor who opened version 1 is told, and the first save is kept.
    let stale = t.app.call(&t.amy, "update_change", &edit_form(&key, "1", "Someone else's title", "")).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let message =
        stale.json::<Value>().await.expect("json")["Conflict"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("Someone else changed"), "{message}");
    assert_eq!(detail(&t, &key).await["details"]["title"], "Exam queue");

    // Saving the same details again is not an edit: no new version, nothing audited.
    let same = edit_form(&key, "2", "Exam queue", "https://wiki.example/rollback/exam-queue");
    assert_eq!(t.app.call(&t.amy, "update_change", &same).await.status(), StatusCode::OK);
    assert_eq!(detail(&t, &key).await["version"], 2);
    assert_eq!(updates(&t, &key).await.len(), 1);

    // Bad input names its field and changes nothing.
    for (form, field) in [
        (edit_form(&key, "2", "  ", ""), "title"),
        (edit_form(&key, "2", "Fine", "javascript:alert(1)"), "rollback_url"),
        (
            edit_form(&key, "2", "Fine", "").into_iter().filter(|(k, _)| !k.starts_with("type_")).collect(),
            "types",
        ),
    ] {
        let response = t.app.call(&t.amy, "update_change", &form).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(response.json::<Value>().await.expect("json")["Invalid"]["field"], field);
    }
    assert_eq!(detail(&t, &key).await["version"], 2);

    // The report and the portfolio CSV carry the rollback plan.
    let report = t.amy.get(t.app.url(&format!("/changes/{key}/report.md"))).send().await.expect("report");
    let report = report.text().await.expect("text");
    assert!(
        report.contains("## Rollback plan") && report.contains("Turn the exam-queue flag off"),
        "{report}"
    );
    assert!(report.contains("https://wiki.example/rollback/exam-queue"), "{report}");
    let html = t.amy.get(t.app.url(&format!("/changes/{key}/report"))).send().await.expect("report");
    assert!(html.text().await.expect("text").contains("Turn the exam-queue flag off"));
    let csv = t.amy.get(t.app.url("/portfolio.csv?team=PAY")).send().await.expect("csv");
    let csv = csv.text().await.expect("text");
    let header = csv.lines().next().unwrap_or_default();
    let details = app::domain::change::DETAILS.map(|d| d.name).join(",");
    assert!(header.ends_with(&format!(",incidents_waiting,{details}")), "every detail is a column: {header}");
    assert!(header.ends_with(",rollback_plan,rollback_url"), "{header}");
    assert!(
        csv.contains("Turn the exam-queue flag off")
            && csv.contains("https://wiki.example/rollback/exam-queue")
            && csv.contains("https://git.example/pay/pull/7")
    );

    // A long rollback plan is free text like the summary: the form takes it, up to the
    // domain's limit for text (it was once refused at 2,000 characters as if it were a name).
    let long = "Step.\n".repeat(1_000);
    let mut form = edit_form(&key, "2", "Exam queue", "https://wiki.example/rollback/exam-queue");
    form.retain(|(k, _)| *k != "rollback_plan");
    form.push(("rollback_plan", &long));
    assert_eq!(t.app.call(&t.amy, "update_change", &form).await.status(), StatusCode::OK);
    let kept = detail(&t, &key).await;
    assert_eq!(kept["details"]["rollback_plan"], long.trim());
    assert_eq!(kept["version"], 3);

    // A cancelled change is history: its details are no longer edited.
    let cancel = [("key", key.as_str()), ("reason", "superseded")];
    assert_eq!(t.app.call(&t.amy, "cancel_change", &cancel).await.status(), StatusCode::OK);
    let late = t.app.call(&t.amy, "update_change", &edit_form(&key, "3", "Too late", "")).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    assert_eq!(detail(&t, &key).await["details"]["title"], "Exam queue");
}

async fn a_plain_html_form_edits_a_change(backend: Backend) {
    let t = team(backend).await;
    let key = create(&t).await;
    let page = t.amy.get(t.app.url(&format!("/changes/{key}/edit"))).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains(r#"value="Exam qeue""#), "the form starts from the current title");
    assert!(html.contains("Rollback plan"), "{html}");

    let posted = t
        .amy
        .post(t.app.url("/api/update_change"))
        .header("Accept", "text/html")
        .header("Referer", t.app.url(&format!("/changes/{key}/edit")))
        .form(&edit_form(&key, "1", "Exam queue <fixed>", ""))
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), StatusCode::FOUND);
    assert_eq!(posted.headers()["location"], format!("/changes/{key}"));
    let change = t.amy.get(t.app.url(&format!("/changes/{key}"))).send().await.expect("page");
    let html = change.text().await.expect("html");
    assert!(html.contains("Exam queue &lt;fixed&gt;"), "escaped, and shown without JavaScript");
    assert!(html.contains("Turn the exam-queue flag off"));

    // A viewer's edit page says why there is no form.
    let viewer = t.vic.get(t.app.url(&format!("/changes/{key}/edit"))).send().await.expect("page");
    let html = viewer.text().await.expect("html");
    assert!(html.contains("Only members of the team can edit this change."), "{html}");
    assert!(!html.contains("Save changes"));
}

async fn the_api_patches_a_change(backend: Backend) {
    let t = team(backend).await;
    let key = create(&t).await;
    let path = format!("/changes/{key}");
    let writer = t.app.token("PAY", &[Scope::ChangesRead, Scope::ChangesWrite], None).await;
    let reader = t.app.token("PAY", &[Scope::ChangesRead], None).await;
    let other = t.app.token("OPS", &[Scope::ChangesWrite], None).await;
    let patch = |token: &str, body: Value| t.app.api(Method::PATCH, &path, token).json(&body);

    let read = t.app.api(Method::GET, &path, &writer).send().await.expect("get");
    assert_eq!(read.headers()["etag"], "\"1\"");

    let fixed = patch(&writer, json!({ "title": "Exam queue", "rollback_plan": "Flag off.", "rollback_url": "https://wiki.example/rb" }))
        .header("If-Match", "\"1\"")
        .send()
        .await
        .expect("patch");
    assert_eq!(fixed.status(), StatusCode::OK);
    assert_eq!(fixed.headers()["etag"], "\"2\"");
    let doc: Value = fixed.json().await.expect("json");
    assert_eq!(doc["title"], "Exam queue");
    assert_eq!(doc["summary"], "Move exam processing to a queue", "fields left out stay");
    assert_eq!(doc["ticket_url"], "https://tickets.example/PAY-1");
    assert_eq!(doc["rollback_plan"], "Flag off.");
    assert_eq!(doc["rollback_url"], "https://wiki.example/rb");
    assert_eq!(doc["version"], 2);

    // An If-Match of a version read before someone else's edit is refused.
    let stale = patch(&writer, json!({ "title": "Lost update" })).header("If-Match", "\"1\"").send().await;
    assert_eq!(stale.expect("patch").status(), StatusCode::PRECONDITION_FAILED);

    // null (or "") removes a link; other fields stay.
    let cleared =
        patch(&writer, json!({ "ticket_url": null, "rollback_url": "" })).send().await.expect("patch");
    assert_eq!(cleared.status(), StatusCode::OK);
    let doc: Value = cleared.json().await.expect("json");
    assert_eq!(doc["ticket_url"], Value::Null);
    assert_eq!(doc["rollback_url"], Value::Null);
    assert_eq!(doc["title"], "Exam queue");
    assert_eq!(doc["version"], 3);

    // Refusals: each a clear 4xx, none changes anything.
    for (token, body, status) in [
        (&writer, json!({ "types": [] }), StatusCode::UNPROCESSABLE_ENTITY),
        (&writer, json!({ "types": ["queue", "teleport"] }), StatusCode::UNPROCESSABLE_ENTITY),
        (&writer, json!({ "title": "" }), StatusCode::UNPROCESSABLE_ENTITY),
        (&writer, json!({ "rollback_url": "ftp://x" }), StatusCode::UNPROCESSABLE_ENTITY),
        (&writer, json!({ "status": "cancelled" }), StatusCode::UNPROCESSABLE_ENTITY),
        (&writer, json!({ "summary": 5 }), StatusCode::UNPROCESSABLE_ENTITY),
        (&writer, json!({ "pr_url": ["https://git.example/1"] }), StatusCode::UNPROCESSABLE_ENTITY),
        (&reader, json!({ "title": "Read-only" }), StatusCode::FORBIDDEN),
        (&other, json!({ "title": "Not yours" }), StatusCode::NOT_FOUND),
    ] {
        let response = patch(token, body.clone()).send().await.expect("patch");
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.expect("error envelope");
        assert!(error["errors"][0]["detail"].as_str().is_some_and(|d| !d.is_empty()), "{error}");
    }
    let bad_tag = patch(&writer, json!({ "title": "x" })).header("If-Match", "soon").send().await;
    assert_eq!(bad_tag.expect("patch").status(), StatusCode::PRECONDITION_FAILED);
    let doc: Value =
        t.app.api(Method::GET, &path, &writer).send().await.expect("get").json().await.expect("json");
    assert_eq!((doc["title"].as_str(), doc["version"].as_i64()), (Some("Exam queue"), Some(3)));
    assert_eq!(updates(&t, &key).await.len(), 2, "one audit entry per edit that changed something");
}

both_backends!(
    members_edit_an_open_change_with_javascript,
    a_plain_html_form_edits_a_change,
    the_api_patches_a_change,
);
