//! The search box: words and keys, in the teams the user may read, kept current by every
//! write.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use reqwest::StatusCode;
use serde_json::Value;

struct Teams {
    app: TestApp,
    /// A member of PAY.
    amy: reqwest::Client,
    /// The lead of OPS, and in no other team.
    olaf: reqwest::Client,
}

/// PAY-1 "Exam queue" with a failure mode about a network outage; OPS-1 "Invoice queue".
async fn teams(backend: Backend) -> Teams {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let olaf = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member)]).await;
    app.team("OPS", &[(olaf, Role::Lead)]).await;
    let (amy, olaf) = (app.client(), app.client());
    assert_eq!(app.login(&amy, "amy", "amy-password-1").await.status(), StatusCode::OK);
    assert_eq!(app.login(&olaf, "olaf", "olaf-password-1").await.status(), StatusCode::OK);
    for (client, team, title, summary) in [
        (&amy, "PAY", "Exam queue", "Move exam processing to a durable queue"),
        (&olaf, "OPS", "Invoice queue", "Queue invoices instead of sending them at once"),
    ] {
        let change = [("team", team), ("title", title), ("summary", summary), ("type_queue", "on")];
        assert_eq!(app.call(client, "create_change", &change).await.status(), StatusCode::OK);
    }
    let fm = [
        ("key", "PAY-1"),
        ("title", "Backlog after an outage"),
        ("scenario", "10,000 exams queued after a two-hour network outage"),
        ("severity", "3"),
        ("likelihood", "3"),
        ("detectability", "2"),
    ];
    assert_eq!(app.call(&amy, "add_failure_mode", &fm).await.status(), StatusCode::OK);
    Teams { app, amy, olaf }
}

async fn search(t: &Teams, client: &reqwest::Client, q: &str) -> Value {
    let response = t.app.call(client, "search", &[("q", q)]).await;
    assert_eq!(response.status(), StatusCode::OK, "{q}");
    response.json().await.expect("json")
}

/// The keys of the changes found, and the failure modes as `PAY-1/FM-1`.
fn keys(found: &Value) -> (Vec<String>, Vec<String>) {
    let list = |name: &str, key: fn(&Value) -> String| {
        found[name].as_array().map(|hits| hits.iter().map(key).collect()).unwrap_or_default()
    };
    (
        list("changes", |c| c["key"].as_str().unwrap_or_default().to_owned()),
        list("failure_modes", |f| format!("{}/FM-{}", f["change"].as_str().unwrap_or_default(), f["number"])),
    )
}

async fn words_find_changes_and_failure_modes_only_in_the_readers_teams(backend: Backend) {
    let t = teams(backend).await;
    // "queue" starts "queued", in the failure mode's scenario.
    assert_eq!(
        keys(&search(&t, &t.amy, "queue").await),
        (vec!["PAY-1".to_owned()], vec!["PAY-1/FM-1".to_owned()])
    );
    assert_eq!(keys(&search(&t, &t.olaf, "QUEUE").await), (vec!["OPS-1".to_owned()], vec![]));
    // Every word, each as a word or the start of one, in a title or a scenario.
    assert_eq!(keys(&search(&t, &t.amy, "netw outage").await), (vec![], vec!["PAY-1/FM-1".to_owned()]));
    assert_eq!(keys(&search(&t, &t.amy, "outage invoices").await), (vec![], vec![]));
    assert_eq!(keys(&search(&t, &t.olaf, "outage").await), (vec![], vec![]), "another team's failure mode");
    let hit = search(&t, &t.amy, "durable").await;
    assert_eq!(hit["changes"][0]["excerpt"], "Move exam processing to a durable queue");
    assert_eq!(hit["changes"][0]["status"], "draft");

    // The index follows every write: an edited title is found by its new words only, and a
    // removed failure mode is found no more.
    let mut tx = t.app.db.begin_write().await.expect("begin");
    sqlx::query("UPDATE changes SET title = 'Grading pipeline' WHERE number = 1 AND title = 'Exam queue'")
        .execute(&mut *tx)
        .await
        .expect("edit");
    tx.commit().await.expect("commit");
    assert_eq!(keys(&search(&t, &t.amy, "grading").await).0, ["PAY-1"]);
    assert_eq!(keys(&search(&t, &t.amy, "exam").await).0, ["PAY-1"], "still in its summary");
    let removed = t.app.call(&t.amy, "delete_failure_mode", &[("key", "PAY-1"), ("number", "1")]).await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(keys(&search(&t, &t.amy, "outage").await), (vec![], vec![]));
}

async fn a_key_goes_to_its_change_for_those_who_may_read_it(backend: Backend) {
    let t = teams(backend).await;
    let page = |client: &reqwest::Client, q: &str| {
        client.get(t.app.url("/search")).query(&[("q", q)]).header("Accept", "text/html").send()
    };
    let jump = page(&t.amy, " pay-1 ").await.expect("search");
    assert_eq!(jump.status(), StatusCode::FOUND);
    assert_eq!(jump.headers()["location"], "/changes/PAY-1");
    // Another team's key is not a way to learn that the change exists.
    let other = page(&t.olaf, "PAY-1").await.expect("search");
    assert_eq!(other.status(), StatusCode::OK);
    let body = other.text().await.expect("body");
    assert!(body.contains("Nothing found"), "{body}");
    assert!(!body.contains("Exam queue"));
    // A key that does not exist searches its words.
    let none = page(&t.amy, "PAY-99").await.expect("search");
    assert_eq!(none.status(), StatusCode::OK);
    // Logged out, the search asks for a login like every page.
    let anonymous =
        t.app.client().get(t.app.url("/api/search")).query(&[("q", "queue")]).send().await.expect("search");
    assert_ne!(anonymous.status(), StatusCode::OK);
}

async fn any_text_is_a_search_and_too_much_is_refused_clearly(backend: Backend) {
    let t = teams(backend).await;
    for hostile in [r#"" OR 1=1 --"#, "queue* NEAR(", "'; DROP TABLE changes; --", "ü ß 東京 ½", "&|!:*()"]
    {
        search(&t, &t.amy, hostile).await;
    }
    let long = "q".repeat(201);
    let refused = t.app.call(&t.amy, "search", &[("q", long.as_str())]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json::<Value>().await.expect("json")["Invalid"]["field"], "q");
    assert_eq!(keys(&search(&t, &t.amy, "queue").await).0, ["PAY-1"], "nothing changed");
}

both_backends!(
    words_find_changes_and_failure_modes_only_in_the_readers_teams,
    a_key_goes_to_its_change_for_those_who_may_read_it,
    any_text_is_a_search_and_too_much_is_refused_clearly,
);
