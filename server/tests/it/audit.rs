//! `premortem audit verify` as a process: it passes on an untouched log and names the first
//! broken entry of a tampered one, whether it was edited or an entry before it deleted.

use crate::both_backends;
use crate::common::{Backend, TestApp, premortem};
use app::domain::Role;
use app::domain::scope::Scope;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// An app with some history: a user, a team, a membership, a token and three changes.
async fn app_with_activity(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(amy)).await;
    for title in ["Exam queue", "Rollout", "Migration"] {
        let change = json!({ "team": "PAY", "title": title, "types": ["queue"] });
        let response = app.api(Method::POST, "/changes", &token).json(&change).send().await.expect("create");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app
}

/// Lifts the database's refusal of updates and deletes on `audit_log`, as an attacker with
/// write access to the database could.
async fn unguard(app: &TestApp, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
        Backend::Postgres => &["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"],
    };
    let mut tx = app.db.begin_write().await.expect("begin");
    for statement in statements {
        sqlx::query(statement).execute(&mut *tx).await.expect("unguard");
    }
    tx.commit().await.expect("commit");
}

async fn tamper(app: &TestApp, statement: &str, id: i64) {
    let mut tx = app.db.begin_write().await.expect("begin");
    let done = sqlx::query(statement).bind(id).execute(&mut *tx).await.expect("tamper");
    assert_eq!(done.rows_affected(), 1);
    tx.commit().await.expect("commit");
}

/// A `change.create` entry in the middle of the log: its id and the next entry's.
async fn middle_entry(app: &TestApp) -> (i64, i64) {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM audit_log WHERE action = 'change.create' ORDER BY id")
            .fetch_all(app.db.read())
            .await
            .expect("ids");
    let id = ids[1];
    let next: i64 = sqlx::query_scalar("SELECT MIN(id) FROM audit_log WHERE id > $1")
        .bind(id)
        .fetch_one(app.db.read())
        .await
        .expect("next");
    (id, next)
}

async fn verify(app: &TestApp) -> (bool, String, String) {
    let output = premortem(&app.test_db.url, &["audit", "verify"]).await;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

async fn verify_passes_on_an_untouched_log(backend: Backend) {
    let app = app_with_activity(backend).await;
    let entries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(app.db.read()).await.expect("count");

    let (ok, stdout, stderr) = verify(&app).await;

    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), format!("audit chain intact: {entries} entries"));
    assert!(entries >= 7, "the log has the activity's entries");
}

async fn verify_names_an_edited_entry(backend: Backend) {
    let app = app_with_activity(backend).await;
    let (id, _) = middle_entry(&app).await;
    unguard(&app, backend).await;
    tamper(&app, r#"UPDATE audit_log SET after_json = '{"title":"Nothing happened"}' WHERE id = $1"#, id)
        .await;

    let (ok, stdout, stderr) = verify(&app).await;

    assert!(!ok, "verify fails: {stdout}");
    assert!(stderr.contains(&format!("entry {id} (change.create)")), "{stderr}");
    assert!(stderr.contains("content hash is wrong"), "{stderr}");
}

async fn verify_catches_a_deleted_entry_as_a_broken_link(backend: Backend) {
    let app = app_with_activity(backend).await;
    let (id, next) = middle_entry(&app).await;
    unguard(&app, backend).await;
    tamper(&app, "DELETE FROM audit_log WHERE id = $1", id).await;

    let (ok, stdout, stderr) = verify(&app).await;

    assert!(!ok, "verify fails: {stdout}");
    assert!(stderr.contains(&format!("entry {next} (")), "names the entry after the gap: {stderr}");
    assert!(stderr.contains("link to the previous entry is wrong"), "{stderr}");
}

both_backends!(
    verify_passes_on_an_untouched_log,
    verify_names_an_edited_entry,
    verify_catches_a_deleted_entry_as_a_broken_link,
);

both_backends!(a_changes_history_is_its_own_and_its_failure_modes);

/// A change's history holds its entries and its failure modes' (`PAY-1/FM-1`), and none of
/// a change whose key starts the same (`PAY-10`), on both engines whatever the collation.
async fn a_changes_history_is_its_own_and_its_failure_modes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(amy)).await;
    for n in 1..=10 {
        let change = json!({ "team": "PAY", "title": format!("Change {n}"), "types": ["queue"] });
        let response = app.api(Method::POST, "/changes", &token).json(&change).send().await.expect("create");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for key in ["PAY-1", "PAY-10"] {
        let fm = json!({
            "title": format!("Backlog of {key}"), "scenario": "10,000 exams queued",
            "severity": 3, "likelihood": 3, "detectability": 2,
        });
        let path = format!("/changes/{key}/failure-modes");
        let response = app.api(Method::POST, &path, &token).json(&fm).send().await.expect("fm");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let client = app.client();
    app.login(&client, "amy", "amy-password-1").await;
    let view: serde_json::Value =
        app.call(&client, "change", &[("key", "PAY-1")]).await.json().await.expect("change");
    let objects: Vec<&str> =
        view["history"].as_array().expect("history").iter().filter_map(|h| h["object"].as_str()).collect();
    assert_eq!(objects, ["PAY-1/FM-1", "PAY-1"], "newest first: {view}");
}
