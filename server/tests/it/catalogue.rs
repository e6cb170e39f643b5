//! The catalogue: suggestions when a change is registered, team templates, imports from
//! CSV or Markdown, and the demo data set.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::scope::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Setup {
    app: TestApp,
    key: String,
    member: reqwest::Client,
    lead: reqwest::Client,
    viewer: reqwest::Client,
}

/// QUE with amy (member), lena (lead), vic (viewer) and a queue change QUE-1.
async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    let vic = app.user("vic", "vic-password-1", false).await;
    app.team("QUE", &[(amy, Role::Member), (lena, Role::Lead), (vic, Role::Viewer)]).await;
    let token = app.token("QUE", &Scope::ALL, Some(amy)).await;
    let response = app
        .api(Method::POST, "/changes", &token)
        .json(&json!({ "team": "QUE", "title": "Exam queue", "types": ["queue"] }))
        .send()
        .await
        .expect("create");
    let key = response.json::<Value>().await.expect("json")["key"].as_str().expect("key").to_owned();
    let (member, lead, viewer) = (app.client(), app.client(), app.client());
    app.login(&member, "amy", "amy-password-1").await;
    app.login(&lead, "lena", "lena-password-1").await;
    app.login(&viewer, "vic", "vic-password-1").await;
    Setup { app, key, member, lead, viewer }
}

async fn detail(s: &Setup) -> Value {
    let response = s.app.call(&s.member, "change", &[("key", &s.key)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn keys(change: &Value) -> Vec<String> {
    change["suggestions"]
        .as_array()
        .expect("suggestions")
        .iter()
        .map(|s| s["key"].as_str().expect("key").to_owned())
        .collect()
}

async fn post_form(
    s: &Setup,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client.post(s.app.url(path)).form(form).send().await.expect("post")
}

both_backends!(a_new_change_is_offered_its_types_templates);
async fn a_new_change_is_offered_its_types_templates(backend: Backend) {
    let s = setup(backend).await;
    let before = detail(&s).await;
    let offered = keys(&before);
    assert!(offered.contains(&"builtin:queue-backlog-after-outage".to_owned()));
    assert!(offered.iter().all(|k| k.starts_with("builtin:queue-")), "only queue templates: {offered:?}");

    let path = format!("/changes/{}/suggestions", s.key);
    let chosen =
        [("template", "builtin:queue-backlog-after-outage"), ("template", "builtin:queue-no-priority-lane")];
    // A viewer cannot add; an unknown template adds nothing.
    assert_eq!(post_form(&s, &s.viewer, &path, &chosen).await.status(), StatusCode::FORBIDDEN);
    let unknown = [chosen[0], ("template", "builtin:nope")];
    assert_eq!(post_form(&s, &s.member, &path, &unknown).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail(&s).await["failure_modes"].as_array().expect("fms").len(), 0);

    let added = post_form(&s, &s.member, &path, &chosen).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let after = detail(&s).await;
    let fms = after["failure_modes"].as_array().expect("fms");
    assert_eq!(fms.len(), 2);
    // To complete: no design or test yet.
    assert!(fms.iter().all(|fm| fm["coverage"] == "uncovered"));
    assert!(
        !keys(&after).contains(&"builtin:queue-backlog-after-outage".to_owned()),
        "used ones are not offered again"
    );
    let fm = s.app.call(&s.member, "failure_mode", &[("key", &s.key), ("number", "1")]).await;
    let fm: Value = fm.json().await.expect("json");
    let scenario = fm["texts"][0].as_str().expect("scenario, the first text");
    assert!(scenario.contains('['), "the magnitude is left to fill in");
    assert!(!fm["template"]["designs"].as_array().expect("designs").is_empty());
}

both_backends!(leads_keep_their_teams_own_templates);
async fn leads_keep_their_teams_own_templates(backend: Backend) {
    let s = setup(backend).await;
    let fields = |id: &'static str, title: &'static str| {
        vec![
            ("team", "QUE"),
            ("id", id),
            ("change_type", "queue"),
            ("title", title),
            ("scenario", "The PACS archive is down for [2 hours]"),
            ("effect", "Readers cannot open prior studies"),
            ("detection", "Archive health check"),
            ("designs", "Cache priors locally\nDegrade to current study only"),
            ("tests", "Archive outage drill"),
            ("severity", "4"),
            ("likelihood", "2"),
            ("detectability", "2"),
        ]
    };
    let refused = s.app.call(&s.member, "save_template", &fields("", "Archive down")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let saved = s.app.call(&s.lead, "save_template", &fields("", "Archive down")).await;
    assert_eq!(saved.status(), StatusCode::OK, "{}", saved.text().await.unwrap_or_default());
    let mut bad = fields("", "Bad");
    bad[9] = ("severity", "7");
    assert_eq!(s.app.call(&s.lead, "save_template", &bad).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let list: Value =
        s.app.call(&s.member, "templates", &[("slug", "QUE")]).await.json().await.expect("json");
    let templates = list["templates"].as_array().expect("templates");
    assert_eq!(templates.len(), 1);
    let key = templates[0][0]["key"].as_str().expect("key").to_owned();
    let id = key.trim_start_matches("team:").to_owned();
    let offered = detail(&s).await;
    assert_eq!(keys(&offered)[0], key, "the team's own templates come first");

    let edited = s
        .app
        .call(&s.lead, "save_template", &fields(Box::leak(id.clone().into_boxed_str()), "PACS archive down"))
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let offered = detail(&s).await;
    assert_eq!(offered["suggestions"][0]["title"], "PACS archive down");

    assert_eq!(
        s.app.call(&s.lead, "retire_template", &[("team", "QUE"), ("id", &id)]).await.status(),
        StatusCode::OK
    );
    assert!(!keys(&detail(&s).await).contains(&key), "a retired template is not suggested");
    let list: Value =
        s.app.call(&s.member, "templates", &[("slug", "QUE")]).await.json().await.expect("json");
    assert_eq!(list["templates"][0][1], true, "it is kept, marked retired");
}

fn csv_rows(bad: &[usize]) -> String {
    let mut text = String::from("title,scenario,severity,likelihood,detectability,designs,tests\n");
    for i in 1..=20 {
        let severity = if bad.contains(&i) { "9" } else { "3" };
        text.push_str(&format!(
            "Failure {i},\"{i},000 exams queued\",{severity},2,2,Runbook {i},queue::case_{i}\n"
        ));
    }
    text
}

both_backends!(an_import_with_bad_rows_imports_nothing_until_fixed);
async fn an_import_with_bad_rows_imports_nothing_until_fixed(backend: Backend) {
    let s = setup(backend).await;
    let path = format!("/changes/{}/import", s.key);
    let form = s.member.get(s.app.url(&path)).send().await.expect("form");
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form.text().await.expect("html").contains("Import failure modes"));

    let bad = csv_rows(&[4, 17]);
    let preview = post_form(&s, &s.member, &path, &[("text", &bad), ("confirm", "1")]).await;
    assert_eq!(preview.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = preview.text().await.expect("html");
    assert!(html.contains("2 of 20 rows have errors"), "{html}");
    // Rows are reported by their line in the pasted text (the header is line 1). The page is
    // the app's, so its text carries hydration markers.
    let html = html.replace("<!>", "");
    assert!(html.contains("<td>5</td>") && html.contains("<td>18</td>"));
    assert_eq!(detail(&s).await["failure_modes"].as_array().expect("fms").len(), 0, "nothing half-imported");

    let good = csv_rows(&[]);
    let preview = post_form(&s, &s.member, &path, &[("text", &good)]).await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert!(preview.text().await.expect("html").contains("Import 20 failure modes"));
    assert_eq!(
        detail(&s).await["failure_modes"].as_array().expect("fms").len(),
        0,
        "a preview imports nothing"
    );
    assert_eq!(
        post_form(&s, &s.viewer, &path, &[("text", &good), ("confirm", "1")]).await.status(),
        StatusCode::FORBIDDEN
    );
    let imported = post_form(&s, &s.member, &path, &[("text", &good), ("confirm", "1")]).await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    let fms = detail(&s).await["failure_modes"].as_array().expect("fms").clone();
    assert_eq!(fms.len(), 20);
    assert_eq!(fms[19]["title"], "Failure 20");

    let markdown = "| Title | S | L | D |\n|---|---|---|---|\n| No fast lane \\| stat exams | 5 | 2 | 3 |\n";
    let imported = post_form(&s, &s.member, &path, &[("text", markdown), ("confirm", "1")]).await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    let fms = detail(&s).await["failure_modes"].as_array().expect("fms").clone();
    assert_eq!(fms[20]["title"], "No fast lane | stat exams");
    let unknown = post_form(&s, &s.member, &path, &[("text", "title,colour\nx,red")]).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text().await.expect("html").contains("Unknown column"));
}

both_backends!(the_demo_has_changes_in_every_status);
async fn the_demo_has_changes_in_every_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let people = server::demo::small(&app.db, |p| async move {
        app::ssr::auth::hash_password(app::domain::Password::parse_new("password", &p)?).await
    })
    .await
    .expect("demo");
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM changes GROUP BY status ORDER BY status")
            .fetch_all(app.db.read())
            .await
            .expect("statuses");
    let names: Vec<&str> = statuses.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["cancelled", "draft", "failure_cases_complete", "happy_path_working", "regressed"]);
    // A second run refuses: demo data goes into an empty database only.
    assert!(server::demo::small(&app.db, |p| async move { Ok(p) }).await.is_err());

    let admin = people.iter().find(|p| p.username == "demo-admin").expect("admin");
    let client = app.client();
    assert_eq!(app.login(&client, "demo-admin", &admin.password).await.status(), StatusCode::OK);
    let p: Value = app.call(&client, "portfolio", &[("view", "")]).await.json().await.expect("json");
    assert_eq!(p["overdue"], 2, "release night, and the upgrade that regressed after its target date");
    let itself: Value = app.call(&client, "change", &[("key", "PM-1")]).await.json().await.expect("json");
    assert_eq!(itself["failure_modes"].as_array().expect("fms").len(), server::demo::DOGFOOD.len());
    let queue: Value = app.call(&client, "change", &[("key", "RAD-1")]).await.json().await.expect("json");
    let coverage: Vec<&str> = queue["failure_modes"]
        .as_array()
        .expect("fms")
        .iter()
        .map(|f| f["coverage"].as_str().expect("c"))
        .collect();
    assert!(coverage.contains(&"verified") && coverage.contains(&"failing"), "{coverage:?}");
}
