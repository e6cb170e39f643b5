//! The learning metrics of the portfolio (prediction rate, hold rate, incidents waiting,
//! incidents after sign-off per change, the types missed most), read from maintained
//! counts, against what the change pages say of each incident.

use crate::api::{PYTEST, Setup, setup, upload};
use crate::both_backends;
use crate::common::Backend;
use app::domain::Role;
use app::domain::scope::Scope;
use app::domain::time::{DAY_MS, Quarter, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Posts an incident with `token`; answers its id.
async fn post(s: &Setup, token: &str, external: &str, started_at: i64, changes: &[&str]) -> String {
    let body = json!({
        "title": format!("Incident {external}"), "severity": "SEV2", "started_at": started_at,
        "external_id": external, "changes": changes,
    });
    let response = s.app.api(Method::POST, "/incidents", token).json(&body).send().await.expect("post");
    assert!(response.status().is_success(), "{external}: {}", response.status());
    response.json::<Value>().await.expect("json")["id"].to_string()
}

async fn classify(s: &Setup, member: &reqwest::Client, key: &str, id: &str, verdict: &str, fm: &str) {
    let form = [("key", key), ("incident", id), ("verdict", verdict), ("failure_mode", fm)];
    let response = s.app.call(member, "classify_incident", &form).await;
    assert_eq!(response.status(), StatusCode::OK, "{key} {id} {verdict}");
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// What the change pages of the view's rows say: verdicts (held, failed, missed, waiting)
/// of the incidents started in the window, how many of them after the change's sign-off,
/// and how many of the changes were signed off in the window.
async fn from_change_pages(s: &Setup, client: &reqwest::Client, view: &str, first: Option<Quarter>) -> Value {
    let portfolio = json(s.app.call(client, "portfolio", &[("view", view)]).await).await;
    let (mut held, mut failed, mut missed, mut waiting, mut after, mut signed) = (0, 0, 0, 0, 0, 0);
    let within = |at: i64| first.is_none_or(|q| Quarter::of(Timestamp(at)) >= q);
    for row in portfolio["rows"].as_array().expect("rows") {
        let key = row["key"].as_str().expect("key");
        let page = json(s.app.call(client, "change", &[("key", key)]).await).await;
        let signed_off = page["signed_off_at"].as_i64();
        signed += i64::from(signed_off.is_some_and(within));
        for incident in page["incidents"].as_array().expect("incidents") {
            let started = incident["started_at"].as_i64().expect("started");
            if !within(started) {
                continue;
            }
            after += i64::from(signed_off.is_some_and(|at| at <= started));
            match incident["verdict"].as_str() {
                Some("held") => held += 1,
                Some("failed") => failed += 1,
                Some("missed") => missed += 1,
                _ => waiting += 1,
            }
        }
    }
    json!({
        "signed_off": signed, "after_sign_off": after,
        "verdicts": { "held": held, "failed": failed, "missed": missed, "waiting": waiting },
    })
}

/// The portfolio's learning for `view`, checked against the change pages; answers it.
async fn learning_matches_the_change_pages(s: &Setup, client: &reqwest::Client, view: &str) -> Value {
    let portfolio = json(s.app.call(client, "portfolio", &[("view", view)]).await).await;
    let learning = portfolio["learning"].clone();
    let first = learning["since"].as_str().map(|q| Quarter::parse(q).expect("quarter"));
    let expected = from_change_pages(s, client, view, first).await;
    let total = &learning["total"];
    for field in ["signed_off", "after_sign_off", "verdicts"] {
        assert_eq!(total[field], expected[field], "{view}: {field}");
    }
    // The teams add up to the total.
    let teams = learning["teams"].as_array().expect("teams");
    let sum = |f: &dyn Fn(&Value) -> i64| teams.iter().map(f).sum::<i64>();
    assert_eq!(sum(&|t| t["signed_off"].as_i64().expect("n")), total["signed_off"].as_i64().expect("n"));
    for verdict in ["held", "failed", "missed", "waiting"] {
        assert_eq!(
            sum(&|t| t["verdicts"][verdict].as_i64().expect("n")),
            total["verdicts"][verdict].as_i64().expect("n"),
            "{view}: {verdict}"
        );
    }
    learning
}

fn rates(learning: &Value) -> (i64, i64, i64) {
    let v = &learning["total"]["verdicts"];
    let n = |k: &str| v[k].as_i64().expect("count");
    let predicted = n("held") + n("failed");
    (predicted, predicted + n("missed"), n("held"))
}

both_backends!(prediction_and_hold_rates_on_the_portfolio_match_the_incidents_on_the_change_pages);
async fn prediction_and_hold_rates_on_the_portfolio_match_the_incidents_on_the_change_pages(
    backend: Backend,
) {
    let s = setup(backend).await;
    let now = Timestamp::now().0;
    // PAY-1 (a queue) is signed off; PAY-2 (a migration) is not.
    assert_eq!(upload(&s, PYTEST, Some("run-1")).await.status(), StatusCode::CREATED);
    let sign = [("key", "PAY-1"), ("password", "lena-password-1")];
    assert_eq!(s.app.call(&s.lead, "sign_off", &sign).await.status(), StatusCode::OK);
    let create = json!({ "team": "PAY", "title": "Schema move", "types": ["migration"], "summary": "Move" });
    let created = s.app.api(Method::POST, "/changes", &s.token).json(&create).send().await.expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    // Another team, OPS, with a queue change of its own.
    let oscar = s.app.user("oscar", "oscar-password-1", false).await;
    s.app.team("OPS", &[(oscar, Role::Member)]).await;
    let ops_token = s.app.token("OPS", &Scope::ALL, Some(oscar)).await;
    let ops_change = json!({ "team": "OPS", "title": "Ops queue", "types": ["queue"], "summary": "Queue" });
    let created =
        s.app.api(Method::POST, "/changes", &ops_token).json(&ops_change).send().await.expect("ops");
    assert_eq!(created.status(), StatusCode::CREATED);

    // Before any incident: nothing to learn yet, one sign-off in the window.
    let empty = learning_matches_the_change_pages(&s, &s.lead, "").await;
    assert_eq!((rates(&empty), empty["total"]["signed_off"].clone()), ((0, 0, 0), json!(1)));

    let amy = s.app.client();
    s.app.login(&amy, "amy", "amy-password-1").await;
    // A moment after the sign-off (within the clock skew an incident's start may have).
    let later = Timestamp::now().0 + 1000;
    // After PAY-1's sign-off: held by FM-1; then one after PAY-1 and PAY-2, which PAY-1's
    // FM-2 failed to contain (PAY-1 reopens) and PAY-2 missed; one waiting on PAY-2; one
    // 100 days ago (an earlier quarter, before PAY-1's sign-off), missed.
    let held = post(&s, &s.token, "INC-1", later, &["PAY-1"]).await;
    classify(&s, &amy, "PAY-1", &held, "held", "1").await;
    let both = post(&s, &s.token, "INC-2", later, &["PAY-1", "PAY-2"]).await;
    classify(&s, &amy, "PAY-1", &both, "failed", "2").await;
    classify(&s, &amy, "PAY-2", &both, "missed", "").await;
    post(&s, &s.token, "INC-3", later, &["PAY-2"]).await;
    let old = post(&s, &s.token, "INC-4", now - 100 * DAY_MS, &["PAY-1"]).await;
    classify(&s, &amy, "PAY-1", &old, "missed", "").await;
    // OPS's own: the PAY lead never sees it.
    let ops = post(&s, &ops_token, "INC-9", later, &["OPS-1"]).await;
    let oscar_client = s.app.client();
    s.app.login(&oscar_client, "oscar", "oscar-password-1").await;
    classify(&s, &oscar_client, "OPS-1", &ops, "missed", "").await;

    // The last four quarters: 2 predicted of 4 classified (held 1, failed 1, missed 2), 1 waiting;
    // after sign-off: INC-1 and INC-2 on PAY-1.
    let year = learning_matches_the_change_pages(&s, &s.lead, "").await;
    assert_eq!(rates(&year), (2, 4, 1));
    assert_eq!(year["total"]["verdicts"]["waiting"], 1);
    assert_eq!(year["total"]["after_sign_off"], 2);
    assert_eq!(year["teams"].as_array().map(Vec::len), Some(1), "the PAY lead sees PAY alone");
    let types: Vec<(String, i64, i64)> = year["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| {
            (
                t["change_type"].as_str().expect("type").to_owned(),
                t["missed"].as_i64().expect("n"),
                t["classified"].as_i64().expect("n"),
            )
        })
        .collect();
    assert_eq!(types, [("queue".to_owned(), 1, 3), ("migration".to_owned(), 1, 1)]);
    // This quarter alone leaves out the incident of 100 days ago.
    let quarter = learning_matches_the_change_pages(&s, &s.lead, "window=quarter").await;
    assert_eq!(rates(&quarter), (2, 3, 1));
    // One type: the migration's verdicts alone.
    let migration = learning_matches_the_change_pages(&s, &s.lead, "type=migration").await;
    assert_eq!(rates(&migration), (0, 1, 0));
    assert_eq!(migration["total"]["signed_off"], 0);

    // An admin sees both teams; a view of OPS sees OPS's miss.
    s.app.user("root", "root-password-1", true).await;
    let admin = s.app.client();
    s.app.login(&admin, "root", "root-password-1").await;
    let all = learning_matches_the_change_pages(&s, &admin, "window=all").await;
    assert_eq!(rates(&all), (2, 5, 1));
    assert_eq!(all["teams"].as_array().map(Vec::len), Some(2));
    let ops_view = learning_matches_the_change_pages(&s, &admin, "team=OPS").await;
    assert_eq!(rates(&ops_view), (0, 1, 0));
    // Another team's view is not the PAY lead's to read.
    let refused = s.app.call(&s.lead, "portfolio", &[("view", "team=OPS")]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    // The counts follow every write: the incident tool moves INC-4's start into this quarter,
    // a member classifies INC-3, and PAY-2 becomes a queue change too.
    post(&s, &s.token, "INC-4", later, &["PAY-1"]).await;
    let listed = s.app.api(Method::GET, "/incidents?change=PAY-2", &s.token).send().await.expect("list");
    let listed: Vec<Value> = listed.json().await.expect("json");
    let waiting = listed.iter().find(|i| i["external_id"] == "INC-3").expect("INC-3")["id"].to_string();
    classify(&s, &amy, "PAY-2", &waiting, "missed", "").await;
    let patch = json!({ "types": ["migration", "queue"] });
    let edited =
        s.app.api(Method::PATCH, "/changes/PAY-2", &s.token).json(&patch).send().await.expect("patch");
    assert_eq!(edited.status(), StatusCode::OK);
    let quarter = learning_matches_the_change_pages(&s, &s.lead, "window=quarter").await;
    assert_eq!(rates(&quarter), (2, 5, 1));
    assert_eq!(quarter["total"]["verdicts"]["waiting"], 0);
    let queue = learning_matches_the_change_pages(&s, &s.lead, "type=queue").await;
    assert_eq!(rates(&queue), (2, 5, 1), "PAY-2's verdicts moved with its new type");
    let year = learning_matches_the_change_pages(&s, &s.lead, "").await;
    let chart = year["quarters"].as_array().expect("quarters");
    assert_eq!(chart.len(), 4, "one bar for each quarter of the window");
    let this_quarter = chart.last().expect("this quarter");
    assert_eq!(this_quarter["quarter"], Quarter::of(Timestamp(later)).to_string());
    assert_eq!(this_quarter["verdicts"]["missed"], 3);

    // The page: rates, the table by team and the chart, with JavaScript off.
    let html = s.lead.get(s.app.url("/")).send().await.expect("page").text().await.expect("html");
    for expected in [
        "Learning from incidents",
        "40%",
        "2 of 5 classified",
        "50%",
        "designs held",
        "Incidents after changes, by team",
        "Types of change whose incidents were missed most",
        "Prediction rate of incidents, per quarter",
        "<svg",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }

    // The CSV: each change's verdicts, all time.
    let csv = s.lead.get(s.app.url("/portfolio.csv")).send().await.expect("csv").text().await.expect("text");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let mut seen = 0;
    for record in reader.records() {
        let record = record.expect("record");
        let counts: Vec<&str> = [
            "incidents_after_sign_off",
            "incidents_held",
            "incidents_failed",
            "incidents_missed",
            "incidents_waiting",
        ]
        .iter()
        .map(|c| &record[column(c)])
        .collect();
        match &record[column("change")] {
            "PAY-1" => assert_eq!(counts, ["3", "1", "1", "1", "0"], "INC-4 moved after the sign-off"),
            "PAY-2" => assert_eq!(counts, ["0", "0", "0", "2", "0"]),
            other => panic!("unexpected row {other}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 2);

    // The review report says what PAY-1's incidents say of its premortem.
    let report = s.lead.get(s.app.url("/changes/PAY-1/report.md")).send().await.expect("report");
    let report = report.text().await.expect("text");
    assert!(report.contains("## Incidents after this change"), "{report}");
    assert!(report.contains("A failure mode had predicted 2 of 3 incidents classified (66%); its design held for 1 of 2 (50%)."), "{report}");
    assert!(report.contains("Missed"), "{report}");
}
