//! Incidents after a change: posted by an incident tool, classified by the team, and what a
//! miss does to a signed-off change (it reopens until the new failure mode is covered and a
//! lead signs off again); one incident per external id however often, however at once.

use crate::api::{PYTEST, Setup, gate, pay_1, setup, upload};
use crate::both_backends;
use crate::common::Backend;
use app::domain::Role;
use app::domain::incident::{IncidentFields, IncidentInput};
use app::domain::scope::Scope;
use app::domain::time::Timestamp;
use app::ssr::store::incidents;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const HOUR_MS: i64 = 3_600_000;

/// An incident of PAY-1 with external id `external`.
fn incident(external: &str, severity: &str) -> Value {
    let now = Timestamp::now().0;
    json!({
        "title": "Every worker crashed on one exam",
        "severity": severity,
        "started_at": now - 2 * HOUR_MS,
        "resolved_at": now - HOUR_MS,
        "url": "https://incidents.example.com/7",
        "external_id": external,
        "changes": ["PAY-1"],
    })
}

async fn post(s: &Setup, token: &str, body: &Value) -> reqwest::Response {
    s.app.api(Method::POST, "/incidents", token).json(body).send().await.expect("post")
}

async fn count(s: &Setup, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(s.app.db.read()).await.expect("count")
}

/// PAY-1's incidents, as the API lists them.
async fn listed(s: &Setup) -> Vec<Value> {
    let response = s.app.api(Method::GET, "/incidents?change=PAY-1", &s.token).send().await.expect("list");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn a_missed_incident_reopens_a_signed_off_change_until_its_new_failure_mode_is_covered(
    backend: Backend,
) {
    let s = setup(backend).await;
    assert_eq!(upload(&s, PYTEST, Some("run-1")).await.status(), StatusCode::CREATED);
    let sign = [("key", "PAY-1"), ("password", "lena-password-1")];
    assert_eq!(s.app.call(&s.lead, "sign_off", &sign).await.status(), StatusCode::OK);
    assert_eq!(pay_1(&s).await["status"], "failure_cases_complete");

    // The incident tool posts it; the change's page shows it, waiting for a verdict.
    let recorded = post(&s, &s.token, &incident("INC-7", "SEV2")).await;
    assert_eq!(recorded.status(), StatusCode::CREATED);
    let recorded: Value = recorded.json().await.expect("json");
    assert_eq!((recorded["created"].clone(), recorded["verdict"].clone()), (json!(true), Value::Null));
    let page =
        s.lead.get(s.app.url("/changes/PAY-1")).send().await.expect("page").text().await.expect("html");
    assert!(
        page.contains("Every worker crashed on one exam") && page.contains("Not classified yet"),
        "{page}"
    );

    // A member classifies it missed: it becomes FM-4 and a team template for queues.
    let amy = s.app.client();
    s.app.login(&amy, "amy", "amy-password-1").await;
    let id = recorded["id"].to_string();
    let classify = [
        ("key", "PAY-1"),
        ("incident", id.as_str()),
        ("verdict", "missed"),
        ("failure_mode", ""),
        ("lesson", "on"),
        ("title", "A poison exam crashes every worker"),
        ("scenario", "One malformed exam is retried by each worker in turn"),
        ("effect", "The queue stops for everyone"),
        ("severity", "4"),
        ("likelihood", "3"),
        ("detectability", "3"),
        ("template", "on"),
        ("template_type", "queue"),
    ];
    let classified = s.app.call(&amy, "classify_incident", &classify).await;
    assert_eq!(classified.status(), StatusCode::OK);
    assert_eq!(classified.json::<Value>().await.expect("json"), json!(4));
    // Sent twice (a double click), the miss becomes one failure mode, one template.
    let again = s.app.call(&amy, "classify_incident", &classify).await;
    assert_eq!(again.json::<Value>().await.expect("json"), json!(4));
    let change = pay_1(&s).await;
    assert_eq!(change["status"], "regressed", "a miss reopens the signed-off change");
    assert_eq!(change["failure_modes"].as_array().map(Vec::len), Some(4));
    assert_eq!(change["failure_modes"][3]["title"], "A poison exam crashes every worker");
    assert_eq!(gate(&s, true).await.status(), StatusCode::PRECONDITION_FAILED, "FM-4 has no evidence");
    let listed = listed(&s).await;
    assert_eq!(
        (listed[0]["verdict"].clone(), listed[0]["failure_mode"].clone()),
        (json!("missed"), json!("FM-4"))
    );
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM fm_templates WHERE title = 'A poison exam crashes every worker'")
            .await,
        1
    );
    for action in
        ["incident.record", "incident.classify", "change.regress", "failure_mode.create", "template.create"]
    {
        let entries = count(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")).await;
        assert!(entries >= 1, "{action} is audited");
    }
    let regress: String =
        sqlx::query_scalar("SELECT after_json FROM audit_log WHERE action = 'change.regress'")
            .fetch_one(s.app.db.read())
            .await
            .expect("regress");
    assert!(regress.contains(&format!("\"incident\":{id}")), "{regress}");

    // The gate stays closed for a sign-off until FM-4 has passing evidence.
    let refused = s.app.call(&s.lead, "sign_off", &sign).await;
    assert_ne!(refused.status(), StatusCode::OK);
    let version: i64 = sqlx::query_scalar("SELECT version FROM failure_modes WHERE number = 4")
        .fetch_one(s.app.db.read())
        .await
        .expect("version");
    let version = version.to_string();
    let edit = [
        ("key", "PAY-1"),
        ("number", "4"),
        ("version", version.as_str()),
        ("title", "A poison exam crashes every worker"),
        ("scenario", "One malformed exam is retried by each worker in turn"),
        ("severity", "4"),
        ("likelihood", "3"),
        ("detectability", "3"),
        ("designs", "Dead-letter after two tries"),
        ("selectors", "tests.test_queue::test_poison_exam"),
    ];
    assert_eq!(s.app.call(&amy, "update_failure_mode", &edit).await.status(), StatusCode::OK);
    let poison = PYTEST.replace(r#"tests="3""#, r#"tests="4""#).replace(
        "</testsuite>",
        r#"<testcase classname="tests.test_queue" name="test_poison_exam" time="0.001" /></testsuite>"#,
    );
    assert_eq!(upload(&s, &poison, Some("run-2")).await.status(), StatusCode::CREATED);
    assert_eq!(gate(&s, true).await.status(), StatusCode::OK);
    // The author may not sign off (four eyes); the lead, who is not the author, may.
    assert_eq!(
        s.app.call(&amy, "sign_off", &[("key", "PAY-1"), ("password", "amy-password-1")]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.app.call(&s.lead, "sign_off", &sign).await.status(), StatusCode::OK);
    assert_eq!(pay_1(&s).await["status"], "failure_cases_complete");
    // The same verdict sent again later does not reopen it, nor add a failure mode.
    assert_eq!(s.app.call(&amy, "classify_incident", &classify).await.status(), StatusCode::OK);
    assert_eq!(pay_1(&s).await["status"], "failure_cases_complete");
    assert_eq!(pay_1(&s).await["failure_modes"].as_array().map(Vec::len), Some(4));

    // Predicted by FM-1, whose design held: the signed-off change stays signed off.
    let held = post(
        &s,
        &s.token,
        &json!({ "title": "Backlog after the network outage", "severity": "SEV3",
        "started_at": Timestamp::now().0 - HOUR_MS, "changes": ["PAY-1"] }),
    )
    .await;
    assert_eq!(held.status(), StatusCode::CREATED);
    let held_id = held.json::<Value>().await.expect("json")["id"].to_string();
    let verdict =
        [("key", "PAY-1"), ("incident", held_id.as_str()), ("verdict", "held"), ("failure_mode", "1")];
    assert_eq!(s.app.call(&amy, "classify_incident", &verdict).await.status(), StatusCode::OK);
    assert_eq!(pay_1(&s).await["status"], "failure_cases_complete");
    // A prediction must name a failure mode the change has.
    let unknown =
        [("key", "PAY-1"), ("incident", held_id.as_str()), ("verdict", "failed"), ("failure_mode", "9")];
    assert_eq!(
        s.app.call(&amy, "classify_incident", &unknown).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(pay_1(&s).await["status"], "failure_cases_complete", "a refused verdict changes nothing");

    // The team judges again: FM-1's design did not hold. The change reopens, and FM-1's
    // passing evidence, all from before the verdict, no longer counts: the gate stays closed
    // until CI reports FM-1's tests passing again.
    let failed =
        [("key", "PAY-1"), ("incident", held_id.as_str()), ("verdict", "failed"), ("failure_mode", "1")];
    assert_eq!(s.app.call(&amy, "classify_incident", &failed).await.status(), StatusCode::OK);
    let change = pay_1(&s).await;
    assert_eq!(change["status"], "regressed");
    assert_eq!(change["failure_modes"][0]["coverage"], "stale", "{}", change["failure_modes"][0]);
    assert_eq!(gate(&s, true).await.status(), StatusCode::PRECONDITION_FAILED);
    let page = s.app.call(&s.lead, "change", &[("key", "PAY-1")]).await.text().await.expect("page");
    assert!(page.contains("showed its design failing"), "the page says why: {page}");
    assert_ne!(s.app.call(&s.lead, "sign_off", &sign).await.status(), StatusCode::OK);
    assert_eq!(upload(&s, &poison, Some("run-3")).await.status(), StatusCode::CREATED);
    assert_eq!(pay_1(&s).await["failure_modes"][0]["coverage"], "verified");
    assert_eq!(gate(&s, true).await.status(), StatusCode::OK);
    assert_eq!(s.app.call(&s.lead, "sign_off", &sign).await.status(), StatusCode::OK);
    assert_eq!(pay_1(&s).await["status"], "failure_cases_complete");
}

async fn one_external_id_posted_again_and_at_once_is_one_incident(backend: Backend) {
    let s = setup(backend).await;
    let body = incident("PD-123", "SEV2");
    // Twenty clients retrying the same post at once.
    let posts = (0..20).map(|_| post(&s, &s.token, &body));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(posts).await.iter().map(|r| r.status()).collect();
    let mut sorted: Vec<u16> = statuses.iter().map(StatusCode::as_u16).collect();
    sorted.sort_unstable();
    let mut expected = vec![200; 19];
    expected.push(201);
    assert_eq!(sorted, expected, "one records it, the others find it");
    // A later post with the same id updates it: still one.
    let updated = post(&s, &s.token, &incident("PD-123", "SEV1")).await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(updated.json::<Value>().await.expect("json")["severity"], "SEV1");
    assert_eq!(count(&s, "SELECT COUNT(*) FROM incidents").await, 1);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM incident_changes").await, 1);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM audit_log WHERE action = 'incident.record'").await, 1);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM audit_log WHERE action = 'incident.update'").await, 1);
    let listed = listed(&s).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["external_id"].clone(), listed[0]["changes"].clone()),
        (json!("PD-123"), json!(["PAY-1"]))
    );

    // Behind more newer incidents than the change's page lists, a repeat still answers its
    // incident.
    let key = app::domain::change::ChangeKey::parse("PAY-1").expect("key");
    let change = app::ssr::store::changes::by_key(&s.app.db, &key).await.expect("change");
    for n in 0..incidents::LISTED {
        let fields = IncidentFields {
            title: format!("Later incident {n}"),
            severity: "SEV4".into(),
            started_at: Some(Timestamp::now()),
            changes: vec!["PAY-1".into()],
            ..IncidentFields::default()
        };
        let input = IncidentInput::check(fields, Timestamp::now()).expect("valid");
        let actor = app::ssr::audit::Actor::Cli;
        incidents::record(&s.app.db, &actor, change.team_id, std::slice::from_ref(&change), &input, None)
            .await
            .expect("recorded");
    }
    let repeat = post(&s, &s.token, &incident("PD-123", "SEV1")).await;
    assert_eq!(repeat.status(), StatusCode::OK);
    assert_eq!(repeat.json::<Value>().await.expect("json")["external_id"], "PD-123");
}

async fn other_teams_viewers_and_bad_input_change_nothing(backend: Backend) {
    let s = setup(backend).await;
    let olaf = s.app.user("olaf", "olaf-password-1", false).await;
    let vic = s.app.user("vic", "vic-password-1", false).await;
    s.app.team("OPS", &[(olaf, Role::Lead)]).await;
    let pay = app::domain::TeamSlug::parse("PAY").expect("slug");
    let pay = app::ssr::store::teams::by_slug(&s.app.db, &pay).await.expect("team");
    app::ssr::store::teams::set_membership(
        &s.app.db,
        &app::ssr::audit::Actor::Cli,
        pay.id,
        vic,
        Some(Role::Viewer),
    )
    .await
    .expect("viewer");

    // Another team's token neither sees nor names PAY-1.
    let ops = s.app.token("OPS", &Scope::ALL, Some(olaf)).await;
    assert_eq!(post(&s, &ops, &incident("X-1", "SEV2")).await.status(), StatusCode::NOT_FOUND);
    let seen = s.app.api(Method::GET, "/incidents?change=PAY-1", &ops).send().await.expect("list");
    assert_eq!(seen.status(), StatusCode::NOT_FOUND);
    // A token without the scope is refused before its body is read.
    let evidence_only = s.app.token("PAY", &[Scope::EvidenceWrite], None).await;
    assert_eq!(post(&s, &evidence_only, &incident("X-2", "SEV2")).await.status(), StatusCode::FORBIDDEN);
    // Bad fields are refused with the field's name.
    let mut future = incident("X-3", "SEV2");
    future["started_at"] = json!(Timestamp::now().0 + 24 * HOUR_MS);
    let mut backwards = incident("X-4", "SEV2");
    backwards["resolved_at"] = json!(Timestamp::now().0 - 3 * HOUR_MS);
    for (body, field) in
        [(incident("X-5", "SEV9"), "severity"), (future, "started_at"), (backwards, "resolved_at")]
    {
        let refused = post(&s, &s.token, &body).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let detail = refused.json::<Value>().await.expect("json")["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.starts_with(field), "{detail}");
    }
    assert_eq!(count(&s, "SELECT COUNT(*) FROM incidents").await, 0);

    let recorded = post(&s, &s.token, &incident("X-6", "SEV2")).await.json::<Value>().await.expect("json");
    let id = recorded["id"].to_string();
    let verdict = [("key", "PAY-1"), ("incident", id.as_str()), ("verdict", "missed"), ("failure_mode", "")];
    // A viewer of the team may read it, not classify or record one.
    let viewer = s.app.client();
    s.app.login(&viewer, "vic", "vic-password-1").await;
    assert_eq!(s.app.call(&viewer, "classify_incident", &verdict).await.status(), StatusCode::FORBIDDEN);
    let record =
        [("key", "PAY-1"), ("title", "Outage"), ("severity", "SEV2"), ("started_at", "2026-01-02T10:00")];
    assert_eq!(s.app.call(&viewer, "record_incident", &record).await.status(), StatusCode::FORBIDDEN);
    // Another team's lead does not see the change at all.
    let other = s.app.client();
    s.app.login(&other, "olaf", "olaf-password-1").await;
    assert_eq!(s.app.call(&other, "classify_incident", &verdict).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM incident_changes WHERE verdict IS NOT NULL").await, 0);

    // A member records one in the browser, naming another change of the team too; one of
    // another team is refused.
    let amy = s.app.client();
    s.app.login(&amy, "amy", "amy-password-1").await;
    let create = json!({ "team": "PAY", "title": "Second change", "types": ["queue"] });
    assert_eq!(
        s.app.api(Method::POST, "/changes", &s.token).json(&create).send().await.expect("create").status(),
        StatusCode::CREATED
    );
    let both = [
        ("key", "PAY-1"),
        ("title", "Outage"),
        ("severity", "SEV2"),
        ("started_at", "2026-01-02T10:00"),
        ("also", "PAY-2"),
    ];
    // Sent twice (a double click, a resent post), the form records it once.
    let both: Vec<(&str, &str)> = both.into_iter().chain([("idempotency_key", "form-1")]).collect();
    let first = s.app.call(&amy, "record_incident", &both).await.json::<Value>().await.expect("json");
    let second = s.app.call(&amy, "record_incident", &both).await.json::<Value>().await.expect("json");
    assert_eq!(first, second, "the same incident");
    let ops_change = json!({ "team": "OPS", "title": "Ops change", "types": ["queue"] });
    assert_eq!(
        s.app.api(Method::POST, "/changes", &ops).json(&ops_change).send().await.expect("create").status(),
        StatusCode::CREATED
    );
    let foreign = [
        ("key", "PAY-1"),
        ("title", "Outage"),
        ("severity", "SEV2"),
        ("started_at", "2026-01-02T10:00"),
        ("also", "OPS-1"),
    ];
    assert_eq!(s.app.call(&amy, "record_incident", &foreign).await.status(), StatusCode::NOT_FOUND);
    let bad_time = [("key", "PAY-1"), ("title", "Outage"), ("severity", "SEV2"), ("started_at", "yesterday")];
    assert_eq!(
        s.app.call(&amy, "record_incident", &bad_time).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(count(&s, "SELECT COUNT(*) FROM incidents").await, 2);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM incident_changes").await, 3);
}

both_backends!(
    a_missed_incident_reopens_a_signed_off_change_until_its_new_failure_mode_is_covered,
    one_external_id_posted_again_and_at_once_is_one_incident,
    other_teams_viewers_and_bad_input_change_nothing,
);
