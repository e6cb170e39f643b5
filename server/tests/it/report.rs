//! The review report of a change: printable HTML and Markdown, for readers of its team.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::gate::Outcome;
use app::domain::time::Days;
use app::domain::time::Timestamp;
use app::domain::{Role, TeamSlug};
use app::ssr::store::evidence::{self, ResultInput, RunInput};
use app::ssr::store::teams;
use reqwest::{StatusCode, header};
use serde_json::Value;

/// PAY with an author (member), a lead and a viewer; OPS with a lead of its own; an admin.
struct Team {
    app: TestApp,
    author: reqwest::Client,
    lead: reqwest::Client,
    viewer: reqwest::Client,
    outsider: reqwest::Client,
    admin: reqwest::Client,
}

async fn team(backend: Backend) -> Team {
    let app = TestApp::spawn(backend).await;
    let author = app.user("amy", "amy-password-1", false).await;
    let lead = app.user("lena", "lena-password-1", false).await;
    let viewer = app.user("vic", "vic-password-1", false).await;
    let outsider = app.user("olaf", "olaf-password-1", false).await;
    app.user("root", "root-password-1", true).await;
    app.team("PAY", &[(author, Role::Member), (lead, Role::Lead), (viewer, Role::Viewer)]).await;
    app.team("OPS", &[(outsider, Role::Lead)]).await;
    let mut clients = Vec::new();
    for (name, password) in [
        ("amy", "amy-password-1"),
        ("lena", "lena-password-1"),
        ("vic", "vic-password-1"),
        ("olaf", "olaf-password-1"),
        ("root", "root-password-1"),
    ] {
        let client = app.client();
        assert_eq!(app.login(&client, name, password).await.status(), StatusCode::OK, "{name} logs in");
        clients.push(client);
    }
    let [author, lead, viewer, outsider, admin] = <[reqwest::Client; 5]>::try_from(clients).expect("five");
    Team { app, author, lead, viewer, outsider, admin }
}

async fn create_change(t: &Team, title: &str) -> String {
    let form = [
        ("team", "PAY"),
        ("title", title),
        ("summary", "Move exam processing to a queue"),
        ("ticket_url", "https://tickets.example/PAY-1"),
        ("pr_url", ""),
        ("design_url", ""),
        ("type_queue", "on"),
    ];
    let response = t.app.call(&t.author, "create_change", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("key")
}

async fn add_failure_mode(t: &Team, key: &str, title: &str, scenario: &str, selectors: &str) {
    add_rated_failure_mode(t, key, title, scenario, selectors, "4").await;
}

async fn add_rated_failure_mode(
    t: &Team,
    key: &str,
    title: &str,
    scenario: &str,
    selectors: &str,
    severity: &str,
) {
    let form = [
        ("key", key),
        ("title", title),
        ("scenario", scenario),
        ("effect", "Results arrive hours late"),
        ("detection", "Queue depth alert"),
        ("severity", severity),
        ("likelihood", "3"),
        ("detectability", "2"),
        ("designs", "Backpressure ADR https://wiki.example/adr-7"),
        ("selectors", selectors),
    ];
    assert_eq!(t.app.call(&t.author, "add_failure_mode", &form).await.status(), StatusCode::OK);
}

async fn record(t: &Team, results: &[(&str, Outcome)]) {
    let team = teams::by_slug(&t.app.db, &TeamSlug::parse("PAY").expect("slug")).await.expect("team").id;
    let run = RunInput {
        commit: Some("abc123".into()),
        pipeline_url: Some("https://ci.example/pipelines/1".into()),
        ..RunInput::default()
    };
    let results: Vec<ResultInput> = results
        .iter()
        .map(|(id, outcome)| ResultInput {
            test_id: (*id).to_owned(),
            outcome: *outcome,
            duration_ms: Some(12),
            message: None,
            failure_mode: None,
        })
        .collect();
    evidence::record_run(&t.app.db, team, &run, &results).await.expect("record run");
}

async fn get(t: &Team, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client.get(t.app.url(path)).send().await.expect("request")
}

async fn html(t: &Team, client: &reqwest::Client, key: &str) -> String {
    let response = get(t, client, &format!("/changes/{key}/report")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    response.text().await.expect("body")
}

const SCENARIOS: [&str; 3] = [
    "10,000 exams queued after a 2-hour network outage",
    "Workers scaled 25 → 50 all hit the same database",
    "An urgent exam waits behind 10,000 routine ones",
];

async fn the_printable_report_shows_the_review_and_its_sign_off(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    assert_eq!(
        t.app.call(&t.author, "happy_path", &[("key", &key), ("note", "demo")]).await.status(),
        StatusCode::OK
    );
    add_failure_mode(&t, &key, "Backlog after outage", SCENARIOS[0], "queue::backlog_*").await;
    add_failure_mode(&t, &key, "More workers make it slower", SCENARIOS[1], "queue::scaling_shared_db").await;
    add_failure_mode(&t, &key, "No fast lane for urgent exams", SCENARIOS[2], "queue::priority_lane").await;
    record(
        &t,
        &[
            ("queue::backlog_drains", Outcome::Passed),
            ("queue::scaling_shared_db", Outcome::Passed),
            ("queue::priority_lane", Outcome::Failed),
        ],
    )
    .await;

    let before = html(&t, &t.viewer, &key).await;
    assert!(before.starts_with("<!DOCTYPE html>") && before.contains(r#"<html lang="en">"#));
    // The print styles are linked, on their content-hashed route.
    let stylesheet = before
        .split(r#"<link rel="stylesheet" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet is linked");
    assert!(stylesheet.starts_with("/report.") && stylesheet.ends_with(".css"), "{stylesheet}");
    let css = get(&t, &t.viewer, stylesheet).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.text().await.expect("css").contains("@media print"));
    assert!(before.contains("Exam queue") && before.contains("PAY-1"));
    for scenario in SCENARIOS {
        assert!(before.contains(scenario), "{scenario}");
    }
    let coverage =
        |page: &str, words: &str| page.matches(&format!(r#"<td class="{words}">{words}</td>"#)).count();
    assert_eq!((coverage(&before, "verified"), coverage(&before, "failing")), (2, 1));
    assert!(before.contains("FM-3 has failing tests: queue::priority_lane."));
    assert!(before.contains(r#"<span class="tag closed">Closed</span>"#));
    for evidence in
        ["queue::backlog_drains", "queue::scaling_shared_db", "abc123", "https://ci.example/pipelines/1"]
    {
        assert!(before.contains(evidence), "{evidence}");
    }
    assert!(before.contains(r#"<a href="https://wiki.example/adr-7">Backpressure ADR</a>"#));
    assert!(before.contains("Not signed off yet."));
    assert!(before.contains("Generated at") && before.contains("by Premortem"));

    // The last test passes, the gate opens and a lead signs off.
    record(&t, &[("queue::priority_lane", Outcome::Passed)]).await;
    let sign = [("key", key.as_str()), ("password", "lena-password-1")];
    assert_eq!(t.app.call(&t.lead, "sign_off", &sign).await.status(), StatusCode::OK);
    let detail: Value = t.app.call(&t.viewer, "change", &[("key", &key)]).await.json().await.expect("json");
    let hash = detail["sign_offs"][0]["content_hash"].as_str().expect("hash").to_owned();
    let stored: String = sqlx::query_scalar("SELECT content_hash FROM sign_offs")
        .fetch_one(t.app.db.read())
        .await
        .expect("hash");
    assert_eq!(hash, stored);

    let after = html(&t, &t.viewer, &key).await;
    assert!(
        after.contains(&format!(r#"<code class="content-hash">{hash}</code>"#)),
        "the stored hash is shown"
    );
    assert!(
        after.contains("Failure cases complete") && after.contains(r#"<span class="tag open">Open</span>"#)
    );
    assert_eq!(coverage(&after, "verified"), 6, "three now, three in the sign-off's snapshot");
    let admin = html(&t, &t.admin, &key).await;
    assert!(admin.contains(&hash), "admins read every team's reports");
}

async fn the_markdown_export_has_an_overview_table_and_escapes_user_text(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Retry | drop <script>alert(1)</script>").await;
    add_failure_mode(
        &t,
        &key,
        "Poison message | loops",
        "A malformed exam\n# is retried forever",
        "queue::poison_*",
    )
    .await;
    add_failure_mode(&t, &key, "Duplicate delivery", SCENARIOS[0], "queue::dedupe").await;
    add_rated_failure_mode(&t, &key, "Disk full", "Logs fill the disk", "ops::disk_*", "2").await;
    record(&t, &[("queue::poison_skipped", Outcome::Passed)]).await;
    let expires = (Timestamp::now() + Days(30)).date();
    let accept = [
        ("key", key.as_str()),
        ("number", "3"),
        ("justification", "Disks are | monitored"),
        ("expires_on", &expires),
    ];
    assert_eq!(t.app.call(&t.lead, "accept_risk", &accept).await.status(), StatusCode::OK);

    let response = get(&t, &t.viewer, &format!("/changes/{key}/report.md")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/markdown; charset=utf-8");
    assert_eq!(response.headers()[header::CONTENT_DISPOSITION], r#"inline; filename="PAY-1-review.md""#);
    let md = response.text().await.expect("body");
    assert!(md.starts_with("# PAY-1: Retry \\| drop \\<script\\>alert(1)\\</script\\>\n"), "{md}");
    assert!(
        md.contains("| FM | Failure mode | Priority | S/L/D | Coverage |\n|---|---|---|---|---|\n"),
        "{md}"
    );
    assert!(
        md.contains("| FM-1 | Poison message \\| loops | High (S×L×D 24) | 4/3/2 | verified |\n"),
        "{md}"
    );
    assert!(md.contains("| FM-2 | Duplicate delivery | High (S×L×D 24) | 4/3/2 | designed |\n"), "{md}");
    assert!(md.contains("| FM-3 | Disk full | Low (S×L×D 12) | 2/3/2 | accepted |\n"), "{md}");
    assert!(
        md.contains(&format!(
            "**Risk acceptance:** accepted by lena, expires {expires}: Disks are \\| monitored"
        )),
        "{md}"
    );
    assert!(md.contains("**Scenario:** A malformed exam\\\n\\# is retried forever"), "{md}");
    assert!(md.contains("| `queue::poison_skipped` | passed |"), "{md}");
    assert!(md.contains("- [Backpressure ADR](<https://wiki.example/adr-7>)"), "{md}");
    assert!(md.contains("Not signed off yet."));
    assert!(md.contains("*Generated at "));

    let page = html(&t, &t.viewer, &key).await;
    assert!(page.contains("Retry | drop &#60;script&#62;alert(1)&#60;/script&#62;"), "escaped in HTML");
    assert!(!page.contains("<script>"), "no user text becomes markup");
    assert!(page.contains("<dt>Justification</dt><dd class=\"text\">Disks are | monitored</dd>"), "{page}");
}

async fn the_report_is_for_readers_of_the_team_only(backend: Backend) {
    let t = team(backend).await;
    let key = create_change(&t, "Exam queue").await;
    for path in [format!("/changes/{key}/report"), format!("/changes/{key}/report.md")] {
        let anonymous = get(&t, &t.app.client(), &path).await;
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            anonymous.headers()[header::LOCATION],
            format!("/login?next=%2Fchanges%2F{key}%2F{}", path.rsplit('/').next().unwrap_or_default()),
            "{path}"
        );
        assert_eq!(get(&t, &t.viewer, &path).await.status(), StatusCode::OK, "{path}");
        assert_eq!(get(&t, &t.admin, &path).await.status(), StatusCode::OK, "{path}");

        // Another team's change looks exactly like a change that does not exist.
        let outsider = get(&t, &t.outsider, &path).await;
        assert_eq!(outsider.status(), StatusCode::NOT_FOUND, "{path}");
        let outsider = outsider.text().await.expect("body");
        let unknown = get(&t, &t.viewer, &path.replace("PAY-1", "PAY-99")).await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{path}");
        // The same page, but for the key asked for.
        assert_eq!(unknown.text().await.expect("body").replace("PAY-99", "PAY-1"), outsider);
        assert!(!outsider.contains("Exam queue"));
    }
    for path in ["/changes/not%20a%20key/report", "/changes/PAY-x/report.md", "/changes/-1/report"] {
        assert_eq!(get(&t, &t.admin, path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(get(&t, &t.author, &format!("/changes/{key}/report")).await.status(), StatusCode::OK);
    assert_eq!(get(&t, &t.lead, &format!("/changes/{key}/report")).await.status(), StatusCode::OK);
}

both_backends!(
    the_printable_report_shows_the_review_and_its_sign_off,
    the_markdown_export_has_an_overview_table_and_escapes_user_text,
    the_report_is_for_readers_of_the_team_only,
);
