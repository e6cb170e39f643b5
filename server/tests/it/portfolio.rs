//! The leaders' portfolio: numbers that match the change pages, filters, CSV, the team
//! page's work lists and the coverage trend.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::scope::Scope;
use app::domain::time::{Days, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Setup {
    app: TestApp,
    token: String,
    lead: reqwest::Client,
}

/// Creates a change in PAY; `happy`: the date its happy path started working ("" for today).
async fn create_change(
    app: &TestApp,
    token: &str,
    title: &str,
    happy: Option<&str>,
    fms: &[(&str, u8, &[&str])],
) -> String {
    let response = app
        .api(Method::POST, "/changes", token)
        .json(&json!({ "team": "PAY", "title": title, "types": ["queue"] }))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let key = response.json::<Value>().await.expect("json")["key"].as_str().expect("key").to_owned();
    if let Some(on) = happy {
        let response = app
            .api(Method::POST, &format!("/changes/{key}/happy-path"), token)
            .json(&json!({ "note": "works", "on": on }))
            .send()
            .await
            .expect("happy path");
        assert_eq!(response.status(), StatusCode::OK);
    }
    for (title, severity, tests) in fms {
        let fm = json!({
            "title": title, "scenario": "10,000 exams queued", "severity": severity, "likelihood": 3,
            "detectability": 2, "designs": [{ "title": "ADR 7" }], "tests": tests,
        });
        let response = app
            .api(Method::POST, &format!("/changes/{key}/failure-modes"), token)
            .json(&fm)
            .send()
            .await
            .expect("failure mode");
        assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
    }
    key
}

async fn upload_json(app: &TestApp, token: &str, results: &[(&str, &str)]) {
    let results: Vec<Value> =
        results.iter().map(|(id, outcome)| json!({ "test_id": id, "outcome": outcome })).collect();
    let response = app
        .api(Method::POST, "/runs", token)
        .json(&json!({ "results": results }))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
}

/// PAY-1: verified, failing, designed (and later accepted); PAY-2: a draft with an
/// uncovered failure mode and a title a spreadsheet would run; PAY-3: overdue, stale.
async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    let author = app.user("amy", "amy-password-1", false).await;
    let lead_id = app.user("lena", "lena-password-1", false).await;
    let other = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(author, Role::Member), (lead_id, Role::Lead)]).await;
    app.team("OPS", &[(other, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(author)).await;
    create_change(
        &app,
        &token,
        "Exam queue",
        Some(""),
        &[
            ("Backlog after outage", 5, &["queue::backlog_*"]),
            ("Scaling saturates the database", 3, &["queue::scaling"]),
            ("No fast lane", 2, &["queue::priority_lane"]),
            ("No ETA", 2, &["queue::eta"]),
        ],
    )
    .await;
    create_change(&app, &token, "=HYPERLINK(\"x\")", None, &[("Nobody knows", 4, &[])]).await;
    // Working since 37 days ago: 7 days past its 30-day target.
    let since = (Timestamp::now() - Days(37)).date();
    let fms: &[(&str, u8, &[&str])] = &[("Cannot roll back", 4, &["rollout::rollback"])];
    create_change(&app, &token, "Release night", Some(&since), fms).await;
    upload_json(
        &app,
        &token,
        &[
            ("queue::backlog_drains", "passed"),
            ("queue::backlog_resumes", "passed"),
            ("queue::scaling", "failed"),
            ("queue::eta", "passed"),
            ("rollout::rollback", "passed"),
        ],
    )
    .await;
    app.claim("amy", "amy-password-1", &["PAY-1", "PAY-2", "PAY-3"]).await;
    // PAY-3's evidence is 30 days old: as if recorded then, and derived again at startup.
    for sql in [
        "UPDATE evidence_latest SET at = at - 2592000000 WHERE test_id = 'rollout::rollback'",
        "UPDATE failure_modes SET derived_at = NULL",
    ] {
        sqlx::query(sql).execute(app.db.read()).await.expect("backdate");
    }
    app::ssr::ingest::derive_pending(&app.db).await.expect("derive");
    let lead = app.client();
    app.login(&lead, "lena", "lena-password-1").await;
    let accepted = app
        .call(
            &lead,
            "accept_risk",
            &[
                ("key", "PAY-1"),
                ("number", "4"),
                ("justification", "ETA comes later"),
                ("expires_on", "2099-01-01"),
            ],
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK, "{}", accepted.text().await.unwrap_or_default());
    Setup { app, token, lead }
}

async fn portfolio(s: &Setup, client: &reqwest::Client, view: &str) -> reqwest::Response {
    s.app.call(client, "portfolio", &[("view", view)]).await
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn coverage_counts(row: &Value) -> Vec<(String, i64)> {
    let mut counts: Vec<(String, i64)> = row["coverage"]
        .as_object()
        .expect("counts")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().expect("count")))
        .filter(|(_, n)| *n > 0)
        .collect();
    counts.sort();
    counts
}

/// Checks every number of every row of the portfolio against its change page; returns
/// the rows.
async fn rows_match_the_change_pages(s: &Setup) -> Vec<Value> {
    let p = json(portfolio(s, &s.lead, "").await).await;
    let rows = p["rows"].as_array().expect("rows").clone();
    for row in &rows {
        let key = row["key"].as_str().expect("key");
        let page = json(s.app.call(&s.lead, "change", &[("key", key)]).await).await;
        let mut expected: Vec<(String, i64)> = Vec::new();
        let (mut covered, mut total) = (0, 0);
        for fm in page["failure_modes"].as_array().expect("fms") {
            let coverage = fm["coverage"].as_str().expect("coverage").to_owned();
            match expected.iter_mut().find(|(c, _)| *c == coverage) {
                Some((_, n)) => *n += 1,
                None => expected.push((coverage.clone(), 1)),
            }
            let weight = match fm["priority"].as_str().expect("priority") {
                "High" => 3,
                "Medium" => 2,
                _ => 1,
            };
            total += weight;
            // The change page's reason is empty exactly when the gate counts it.
            if fm["reason"].is_null() {
                covered += weight;
            }
        }
        expected.sort();
        assert_eq!(coverage_counts(row), expected, "{key}");
        assert_eq!(row["weight_total"], total, "{key}");
        assert_eq!(row["weight_covered"], covered, "{key}");
        assert_eq!(row["target_at"], page["target_at"], "{key}");
        assert_eq!(row["status"], page["status"], "{key}");
    }
    rows
}

/// Checks that each change's stored tally holds now and says what `rows` (the portfolio,
/// already checked against the change pages) say: the numbers were maintained, not only
/// aggregated live.
async fn tallies_are_stored(s: &Setup, rows: &[Value]) {
    let stored = sqlx::query(
        "SELECT number, cov_verified, cov_accepted, cov_stale, cov_failing, cov_designed, cov_uncovered,
                cov_weight_total, cov_weight_covered, cov_until FROM changes ORDER BY number",
    )
    .fetch_all(s.app.db.read())
    .await
    .expect("tallies");
    assert_eq!(stored.len(), rows.len());
    for tally in &stored {
        use sqlx::Row as _;
        let get = |name: &str| tally.try_get::<i64, _>(name).expect(name);
        let key = format!("PAY-{}", get("number"));
        let row = rows.iter().find(|r| r["key"] == key.as_str()).expect("row");
        assert!(get("cov_until") > Timestamp::now().0, "{key}'s tally holds");
        let mut counts: Vec<(String, i64)> =
            ["verified", "accepted", "stale", "failing", "designed", "uncovered"]
                .iter()
                .map(|c| ((*c).to_owned(), get(&format!("cov_{c}"))))
                .filter(|(_, n)| *n > 0)
                .collect();
        counts.sort();
        assert_eq!(counts, coverage_counts(row), "{key}");
        assert_eq!(row["weight_total"], get("cov_weight_total"), "{key}");
        assert_eq!(row["weight_covered"], get("cov_weight_covered"), "{key}");
    }
}

/// Moves every stored time back by `ms`, as the clock moving on would (the freshness
/// window and acceptances run out; no write happens).
async fn time_passes(s: &Setup, ms: i64) {
    for sql in [
        "UPDATE evidence_latest SET at = at - $1",
        "UPDATE evidence_bindings SET at = at - $1",
        "UPDATE failure_modes SET ev_oldest_at = ev_oldest_at - $1",
        "UPDATE risk_acceptances SET expires_at = expires_at - $1",
        "UPDATE changes SET cov_until = cov_until - $1 WHERE cov_until < 9000000000000000000",
    ] {
        sqlx::query(sql).bind(ms).execute(s.app.db.read()).await.expect("time passes");
    }
}

both_backends!(portfolio_numbers_match_the_change_pages);
async fn portfolio_numbers_match_the_change_pages(backend: Backend) {
    let s = setup(backend).await;
    let p = json(portfolio(&s, &s.lead, "").await).await;
    let keys: Vec<&str> =
        p["rows"].as_array().expect("rows").iter().map(|r| r["key"].as_str().expect("key")).collect();
    assert_eq!(keys[0], "PAY-3", "the overdue change comes first: {keys:?}");
    assert_eq!(keys.len(), 3);
    assert_eq!(p["overdue"], 1);

    let rows = rows_match_the_change_pages(&s).await;
    tallies_are_stored(&s, &rows).await;
    let pay1 = rows.iter().find(|r| r["key"] == "PAY-1").expect("PAY-1");
    let expected = [("accepted", 1), ("designed", 1), ("failing", 1), ("verified", 1)];
    assert_eq!(coverage_counts(pay1), expected.map(|(c, n)| (c.to_owned(), n)));
    let pay3 = rows.iter().find(|r| r["key"] == "PAY-3").expect("PAY-3");
    assert_eq!(coverage_counts(pay3), [("stale".to_owned(), 1)]);
}

both_backends!(the_maintained_numbers_follow_ingestion_edits_and_time);
async fn the_maintained_numbers_follow_ingestion_edits_and_time(backend: Backend) {
    let s = setup(backend).await;
    // Ingestion: FM-2 passes now, PAY-3's evidence is fresh again.
    upload_json(&s.app, &s.token, &[("queue::scaling", "passed"), ("rollout::rollback", "passed")]).await;
    let rows = rows_match_the_change_pages(&s).await;
    tallies_are_stored(&s, &rows).await;
    let pay3 = rows.iter().find(|r| r["key"] == "PAY-3").expect("PAY-3");
    assert_eq!(coverage_counts(pay3), [("verified".to_owned(), 1)]);

    // Edits: a failure mode removed from PAY-1, one added to PAY-2.
    let removed = s.app.call(&s.lead, "delete_failure_mode", &[("key", "PAY-1"), ("number", "2")]).await;
    assert_eq!(removed.status(), StatusCode::OK, "{}", removed.text().await.unwrap_or_default());
    let fm = json!({
        "title": "Retry storm", "scenario": "every client retries at once", "severity": 3, "likelihood": 3,
        "detectability": 3, "designs": [{ "title": "Jitter" }], "tests": ["queue::jitter"],
    });
    let added = s.app.api(Method::POST, "/changes/PAY-2/failure-modes", &s.token).json(&fm).send().await;
    assert_eq!(added.expect("add").status(), StatusCode::CREATED);
    let rows = rows_match_the_change_pages(&s).await;
    tallies_are_stored(&s, &rows).await;
    let pay2 = rows.iter().find(|r| r["key"] == "PAY-2").expect("PAY-2");
    assert_eq!(coverage_counts(pay2), [("designed".to_owned(), 1), ("uncovered".to_owned(), 1)]);

    // Time: past the freshness window and the acceptance, with no write, every number is
    // still right; the sweep then stores them.
    let accepted = s
        .app
        .call(
            &s.lead,
            "accept_risk",
            &[
                ("key", "PAY-2"),
                ("number", "2"),
                ("justification", "Known"),
                ("expires_on", &(Timestamp::now() + Days(3)).date()),
            ],
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK, "{}", accepted.text().await.unwrap_or_default());
    let rows = rows_match_the_change_pages(&s).await;
    tallies_are_stored(&s, &rows).await;
    time_passes(&s, 20 * app::domain::time::DAY_MS).await;
    let rows = rows_match_the_change_pages(&s).await;
    let pay3 = rows.iter().find(|r| r["key"] == "PAY-3").expect("PAY-3");
    assert_eq!(coverage_counts(pay3), [("stale".to_owned(), 1)], "stale with no write");
    let pay2 = rows.iter().find(|r| r["key"] == "PAY-2").expect("PAY-2");
    assert_eq!(coverage_counts(pay2), [("designed".to_owned(), 1), ("uncovered".to_owned(), 1)], "expired");
    app::ssr::gates::sweep(&s.app.db).await.expect("sweep");
    let after = rows_match_the_change_pages(&s).await;
    assert_eq!(after, rows, "the sweep moves no number");
    tallies_are_stored(&s, &after).await;
}

both_backends!(every_sort_puts_overdue_changes_first_and_pages_count_the_whole_view);
async fn every_sort_puts_overdue_changes_first_and_pages_count_the_whole_view(backend: Backend) {
    let s = setup(backend).await;
    let keys = |p: &Value| -> Vec<String> {
        p["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["key"].as_str().expect("key").to_owned())
            .collect()
    };
    // PAY-3 is overdue; PAY-1 has a target and some coverage; the draft PAY-2 has neither.
    for (sort, expected) in [
        ("target", ["PAY-3", "PAY-1", "PAY-2"]),
        ("coverage", ["PAY-3", "PAY-2", "PAY-1"]),
        ("age", ["PAY-3", "PAY-1", "PAY-2"]),
        ("key", ["PAY-3", "PAY-1", "PAY-2"]),
    ] {
        let p = json(portfolio(&s, &s.lead, &format!("sort={sort}")).await).await;
        assert_eq!(keys(&p), expected, "sort={sort}");
        assert_eq!(p["total_rows"], 3);
    }
    // Past the last page: no rows, and still the view's count.
    let p = json(portfolio(&s, &s.lead, "page=2").await).await;
    assert!(keys(&p).is_empty());
    assert_eq!(p["total_rows"], 3);
}

both_backends!(change_pages_find_evidence_by_prefix_and_by_wildcard);
async fn change_pages_find_evidence_by_prefix_and_by_wildcard(backend: Backend) {
    let s = setup(backend).await;
    // PAY-4's selectors all have a literal prefix (read by range); PAY-5 has one without.
    let prefixed: &[(&str, u8, &[&str])] = &[
        ("Accents", 3, &["queue::ünï*"]),
        ("Exact", 3, &["queue::eta"]),
        ("Missing", 3, &["queue::gone_*"]),
    ];
    create_change(&s.app, &s.token, "Prefixed", Some(""), prefixed).await;
    let wild: &[(&str, u8, &[&str])] =
        &[("Anywhere", 3, &["*::backlog_drains"]), ("Accents", 3, &["queue::ünï*"])];
    create_change(&s.app, &s.token, "Wild", Some(""), wild).await;
    upload_json(
        &s.app,
        &s.token,
        &[("queue::ünïcode", "passed"), ("queue::ünï", "passed"), ("queue::gone", "passed")],
    )
    .await;
    let coverage = |page: &Value| -> Vec<(String, String)> {
        page["failure_modes"]
            .as_array()
            .expect("fms")
            .iter()
            .map(|fm| {
                (
                    fm["title"].as_str().expect("title").to_owned(),
                    fm["coverage"].as_str().expect("cov").to_owned(),
                )
            })
            .collect()
    };
    let pay4 = json(s.app.call(&s.lead, "change", &[("key", "PAY-4")]).await).await;
    let expected = [("Accents", "verified"), ("Exact", "verified"), ("Missing", "designed")];
    assert_eq!(coverage(&pay4), expected.map(|(t, c)| (t.to_owned(), c.to_owned())));
    let pay5 = json(s.app.call(&s.lead, "change", &[("key", "PAY-5")]).await).await;
    assert_eq!(
        coverage(&pay5),
        [("Anywhere", "verified"), ("Accents", "verified")].map(|(t, c)| (t.to_owned(), c.to_owned()))
    );
    rows_match_the_change_pages(&s).await;
}

both_backends!(filters_narrow_the_view_and_refuse_what_they_do_not_know);
async fn filters_narrow_the_view_and_refuse_what_they_do_not_know(backend: Backend) {
    let s = setup(backend).await;
    let p = json(portfolio(&s, &s.lead, "status=draft").await).await;
    let keys: Vec<&str> =
        p["rows"].as_array().expect("rows").iter().map(|r| r["key"].as_str().expect("key")).collect();
    assert_eq!(keys, ["PAY-2"]);
    // Counts per status ignore the status filter, so the tiles still show the whole team.
    let counts: Vec<(String, i64)> = p["status_counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| (c[0].as_str().expect("status").to_owned(), c[1].as_i64().expect("n")))
        .collect();
    assert!(
        counts.contains(&("draft".to_owned(), 1)) && counts.contains(&("happy_path_working".to_owned(), 2))
    );
    let overdue = json(portfolio(&s, &s.lead, "overdue=1").await).await;
    assert_eq!(overdue["rows"].as_array().expect("rows").len(), 1);
    let other_type = json(portfolio(&s, &s.lead, "type=ai_agent").await).await;
    assert_eq!(other_type["total_rows"], 0);

    let bad = portfolio(&s, &s.lead, "status=done").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("body").contains("status"));
    // A team the viewer is not in does not exist for them.
    assert_eq!(portfolio(&s, &s.lead, "team=ops").await.status(), StatusCode::NOT_FOUND);
    // OPS's lead sees nothing of PAY.
    let olaf = s.app.client();
    s.app.login(&olaf, "olaf", "olaf-password-1").await;
    let theirs = json(portfolio(&s, &olaf, "").await).await;
    assert_eq!(theirs["total_rows"], 0);
    let anonymous = portfolio(&s, &s.app.client(), "").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

both_backends!(the_csv_export_has_exactly_the_rows_of_the_view);
async fn the_csv_export_has_exactly_the_rows_of_the_view(backend: Backend) {
    let s = setup(backend).await;
    let response = s.lead.get(s.app.url("/portfolio.csv?team=pay&sort=key")).send().await.expect("csv");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().expect("disposition").contains("attachment"));
    let body = response.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect("column");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    let keys: Vec<&str> = records.iter().map(|r| &r[column("change")]).collect();
    // Overdue first, then by key: the same order as the page.
    assert_eq!(keys, ["PAY-3", "PAY-1", "PAY-2"]);
    let pay1 = &records[1];
    assert_eq!(&pay1[column("failure_modes")], "4");
    assert_eq!(&pay1[column("failing")], "1");
    assert_eq!(&pay1[column("overdue")], "false");
    assert_eq!(&records[0][column("overdue")], "true");
    // A title that starts like a formula is defused.
    assert_eq!(&records[2][column("title")], "'=HYPERLINK(\"x\")");

    let page = json(portfolio(&s, &s.lead, "team=pay&sort=key").await).await;
    for (record, row) in records.iter().zip(page["rows"].as_array().expect("rows")) {
        assert_eq!(&record[column("change")], row["key"].as_str().expect("key"));
        let percent = row["weight_total"]
            .as_i64()
            .filter(|t| *t > 0)
            .map(|t| (row["weight_covered"].as_i64().expect("covered") * 100 / t).to_string())
            .unwrap_or_default();
        assert_eq!(record[column("weighted_coverage_percent")], percent);
    }

    let bad = s.lead.get(s.app.url("/portfolio.csv?overdue=1&sort=random")).send().await.expect("csv");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("body").contains("sort"));
    let anonymous = s.app.client().get(s.app.url("/portfolio.csv")).send().await.expect("csv");
    assert!(anonymous.status().is_redirection());
}

both_backends!(a_csv_larger_than_a_chunk_streams_every_row_once);
async fn a_csv_larger_than_a_chunk_streams_every_row_once(backend: Backend) {
    let s = setup(backend).await;
    // 40 more changes with 2,000-character summaries: about 80 KB, sent in several chunks.
    let summary = "retries pile up, ".repeat(118);
    for n in 0..40 {
        let body =
            json!({ "team": "PAY", "title": format!("Bulk {n}"), "types": ["queue"], "summary": summary });
        let created = s.app.api(Method::POST, "/changes", &s.token).json(&body).send().await.expect("create");
        assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap_or_default());
    }
    let response = s.lead.get(s.app.url("/portfolio.csv?sort=key")).send().await.expect("csv");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("body");
    assert!(body.len() > 64 * 1024, "{} bytes", body.len());
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let keys: Vec<String> = reader.records().map(|r| r.expect("record")[0].to_owned()).collect();
    // Overdue PAY-3 first, then every other change by number, each once.
    let expected: Vec<String> = ["PAY-3".to_owned()]
        .into_iter()
        .chain((1..=43).filter(|n| *n != 3).map(|n| format!("PAY-{n}")))
        .collect();
    assert_eq!(keys, expected);
}

both_backends!(team_pages_list_what_needs_work_and_the_trend_records_it);
async fn team_pages_list_what_needs_work_and_the_trend_records_it(backend: Backend) {
    let s = setup(backend).await;
    let team = json(s.app.call(&s.lead, "team", &[("slug", "pay")]).await).await;
    let upcoming: Vec<&str> = team["work"]["upcoming"]
        .as_array()
        .expect("upcoming")
        .iter()
        .map(|u| u["key"].as_str().expect("key"))
        .collect();
    assert_eq!(upcoming, ["PAY-3", "PAY-1"], "soonest target first; the draft has none");
    let gaps: Vec<(String, String)> = team["work"]["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(|g| {
            (
                format!("{}/FM-{}", g["change"].as_str().expect("change"), g["number"]),
                g["coverage"].as_str().expect("cov").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            ("PAY-1/FM-2".to_owned(), "failing".to_owned()),
            ("PAY-1/FM-3".to_owned(), "designed".to_owned()),
            ("PAY-2/FM-1".to_owned(), "uncovered".to_owned()),
            ("PAY-3/FM-1".to_owned(), "stale".to_owned()),
        ]
    );
    assert_eq!(team["recent_runs"].as_array().expect("runs").len(), 1);

    // The daily point is the team's weighted coverage (today's is live); recording twice a
    // day replaces the day's row.
    app::ssr::coverage::record_daily(&s.app.db, Days(400)).await.expect("record");
    app::ssr::coverage::record_daily(&s.app.db, Days(400)).await.expect("record again");
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM coverage_daily")
        .fetch_one(s.app.db.read())
        .await
        .expect("count");
    assert_eq!(recorded, 1, "one row per team and day");
    let p = json(portfolio(&s, &s.lead, "").await).await;
    let rows = p["rows"].as_array().expect("rows");
    let sum = |field: &str| rows.iter().map(|r| r[field].as_i64().expect("weight")).sum::<i64>();
    let trend = &p["trends"][0];
    assert_eq!(trend["team"], "PAY");
    assert_eq!(trend["points"].as_array().expect("points").len(), 1);
    assert_eq!(trend["points"][0]["percent"], sum("weight_covered") * 100 / sum("weight_total"));

    // Passing evidence for everything moves the numbers on the next upload.
    upload_json(&s.app, &s.token, &[("queue::scaling", "passed"), ("queue::priority_lane", "passed")]).await;
    let p = json(portfolio(&s, &s.lead, "team=pay&sort=key").await).await;
    let pay1 = &p["rows"].as_array().expect("rows")[1];
    assert_eq!(pay1["key"], "PAY-1");
    assert_eq!(coverage_counts(pay1), [("accepted".to_owned(), 1), ("verified".to_owned(), 3)]);
}

both_backends!(the_dashboard_renders_its_charts_without_javascript);
async fn the_dashboard_renders_its_charts_without_javascript(backend: Backend) {
    let s = setup(backend).await;
    let page = s.lead.get(s.app.url("/?team=pay")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    for expected in
        ["Portfolio", "PAY-3", "overdue by", "Changes by status", "<svg", "Weighted coverage per team"]
    {
        assert!(html.contains(expected), "missing {expected:?}");
    }
    let bad = s.lead.get(s.app.url("/?status=done")).send().await.expect("page");
    assert!(bad.text().await.expect("html").contains("Unknown status"));
}

both_backends!(a_happy_path_date_must_be_past_and_recent);
async fn a_happy_path_date_must_be_past_and_recent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let author = app.user("amy", "amy-password-1", false).await;
    app.team("PAY", &[(author, Role::Member)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(author)).await;
    let key = create_change(&app, &token, "Exam queue", None, &[]).await;
    for (on, expected) in [
        ((Timestamp::now() + Days(2)).date(), "future"),
        ((Timestamp::now() - Days(400)).date(), "last year"),
        ("2026-13-01".to_owned(), "YYYY-MM-DD"),
    ] {
        let response = app
            .api(Method::POST, &format!("/changes/{key}/happy-path"), &token)
            .json(&json!({ "on": on }))
            .send()
            .await
            .expect("happy path");
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.expect("body").contains(expected), "{on}");
    }
    let change: Value = app
        .api(Method::GET, &format!("/changes/{key}"), &token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(change["status"], "draft", "a refused date changes nothing");
}

/// The cycle times per team and per month, as a view shows them: the nearest-rank median
/// and 90th percentile of whole days from happy path to sign-off of its signed-off changes.
fn expected_cycles(signed: &[(String, String, Timestamp, Timestamp)], kind: Option<&str>) -> (Value, Value) {
    use app::domain::portfolio::percentile;
    let now = Timestamp::now();
    let (mut by_team, mut by_month) = (
        std::collections::BTreeMap::<&str, Vec<i64>>::new(),
        std::collections::BTreeMap::<String, Vec<i64>>::new(),
    );
    for (team, types, happy, signed_off) in signed {
        if kind.is_some_and(|k| !types.split(',').any(|t| t == k)) {
            continue;
        }
        let days = happy.days_until(*signed_off).max(0);
        by_team.entry(team).or_default().push(days);
        // Calendar months, the one a year ago whole.
        let month = &signed_off.date()[..7];
        if month >= &(now - Days(365)).date()[..7] {
            by_month.entry(month.to_owned()).or_default().push(days);
        }
    }
    let teams: Vec<Value> = by_team
        .into_iter()
        .map(|(team, mut days)| {
            days.sort_unstable();
            json!({ "team": team, "signed_off": days.len(), "median_days": percentile(&days, 50),
                    "p90_days": percentile(&days, 90) })
        })
        .collect();
    let months: Vec<Value> = by_month
        .into_iter()
        .map(|(month, mut days)| {
            days.sort_unstable();
            json!({ "month": month, "signed_off": days.len(), "median_days": percentile(&days, 50) })
        })
        .collect();
    (Value::from(teams), Value::from(months))
}

/// A demo portfolio of three teams of `changes_per_team` changes, one failure mode each,
/// and its lead (`bench-lead`), logged in.
async fn demo_portfolio(backend: Backend, changes_per_team: i64) -> (TestApp, reqwest::Client) {
    let app = TestApp::spawn(backend).await;
    let password = app::domain::Password::parse_new("password", "bench-lead-password").expect("password");
    let hash = app::ssr::auth::hash_password(password).await.expect("hash");
    let scale = server::demo::Scale {
        teams: 3,
        changes_per_team,
        failure_modes_per_change: 1,
        tests_per_failure_mode: 1,
        runs_per_team: 1,
        incidents_per_team: changes_per_team,
    };
    server::demo::generate(&app.db, scale, &hash).await.expect("data set");
    let lead = app.client();
    app.login(&lead, "bench-lead", "bench-lead-password").await;
    (app, lead)
}

/// Every sign-off as stored: (team, types, happy path, signed off).
async fn sign_offs(app: &TestApp) -> Vec<(String, String, Timestamp, Timestamp)> {
    sqlx::query_as(
        "SELECT t.slug, c.types, c.happy_path_at, c.signed_off_at FROM changes c JOIN teams t ON t.id = c.team_id
         WHERE c.signed_off_at IS NOT NULL AND c.happy_path_at IS NOT NULL",
    )
    .fetch_all(app.db.read())
    .await
    .expect("signed off")
}

both_backends!(cycle_times_are_the_percentiles_of_every_sign_off);
async fn cycle_times_are_the_percentiles_of_every_sign_off(backend: Backend) {
    let (app, lead) = demo_portfolio(backend, 50).await;
    let signed = sign_offs(&app).await;
    assert_eq!(signed.len(), 60, "20 sign-offs a team: ranks that a rounding error would move");
    for (view, kind) in [("", None), ("type=queue", Some("queue")), ("team=TEAM02", None)] {
        let p: Value = app.call(&lead, "portfolio", &[("view", view)]).await.json().await.expect("json");
        let mine: Vec<_> =
            signed.iter().filter(|s| view != "team=TEAM02" || s.0 == "TEAM02").cloned().collect();
        let (teams, months) = expected_cycles(&mine, kind);
        assert!(months.as_array().is_some_and(|m| m.len() > 2), "{view}: sign-offs in several months");
        assert_eq!(p["cycles"], teams, "{view}");
        assert_eq!(p["month_cycles"], months, "{view}");
    }
}

/// A demo portfolio's changes as the database holds them: (key, team, status, types, target).
async fn changes_as_stored(app: &TestApp) -> Vec<(String, String, String, String, Option<i64>)> {
    sqlx::query_as(
        "SELECT t.slug, c.number, c.status, c.types, c.target_at FROM changes c JOIN teams t ON t.id = c.team_id",
    )
    .fetch_all(app.db.read())
    .await
    .expect("changes")
    .into_iter()
    .map(|(slug, number, status, types, target): (String, i64, String, String, Option<i64>)| {
        (format!("{slug}-{number}"), slug, status, types, target)
    })
    .collect()
}

/// Every page of every sort and filter against the changes themselves: each page is the
/// view's order (overdue first, then the sort, then key), the pages hold each change of the
/// view once, and the counts are the view's, whatever writes the changes went through.
async fn views_match_the_changes(app: &TestApp, lead: &reqwest::Client) {
    use app::domain::change::ChangeStatus;
    use app::domain::portfolio::{PAGE_SIZE, Portfolio, Row};
    let changes = changes_as_stored(app).await;
    let number = |key: &str| key.rsplit_once('-').and_then(|(_, n)| n.parse::<i64>().ok()).expect("number");
    for view in [
        "",
        "sort=coverage",
        "sort=age",
        "sort=key",
        "team=TEAM02",
        "team=TEAM02&sort=coverage",
        "team=TEAM02&sort=key",
        "type=queue",
        "overdue=1",
        "status=happy_path_working&overdue=1",
        "status=failure_cases_complete&sort=age",
    ] {
        let (mut rows, mut page, mut first): (Vec<Row>, usize, Option<Portfolio>) = (Vec::new(), 1, None);
        loop {
            let response = app.call(lead, "portfolio", &[("view", &format!("{view}&page={page}"))]).await;
            let p: Portfolio = response.json().await.expect("portfolio");
            let more = p.rows.len() == PAGE_SIZE;
            rows.extend(p.rows.clone());
            first.get_or_insert(p);
            if !more {
                break;
            }
            page += 1;
        }
        let p = first.expect("a page");
        let now = p.now;
        let wanted = |f: &str| view.split('&').find_map(|kv| kv.strip_prefix(f)).map(str::to_owned);
        let (team, kind, status) = (wanted("team="), wanted("type="), wanted("status="));
        let overdue_only = wanted("overdue=").is_some();
        let late = |s: &str, target: Option<i64>| {
            ChangeStatus::parse(s).is_some_and(ChangeStatus::is_open) && target.is_some_and(|t| t < now.0)
        };
        let in_view: Vec<_> = changes
            .iter()
            .filter(|(_, slug, _, types, _)| {
                team.as_ref().is_none_or(|t| t == slug)
                    && kind.as_ref().is_none_or(|k| types.split(',').any(|t| t == k))
            })
            .collect();
        let mut expected: Vec<&str> = in_view
            .iter()
            .filter(|(_, _, s, _, target)| {
                status.as_ref().is_none_or(|w| w == s) && (!overdue_only || late(s, *target))
            })
            .map(|(key, ..)| key.as_str())
            .collect();
        expected.sort_unstable();
        let mut got: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        got.sort_unstable();
        assert_eq!(got, expected, "{view}: every change of the view, once");
        assert_eq!(p.total_rows, expected.len(), "{view}");
        assert_eq!(
            p.overdue,
            i64::try_from(in_view.iter().filter(|(_, _, s, _, t)| late(s, *t)).count()).expect("count"),
            "{view}"
        );
        for (s, n) in &p.status_counts {
            let stored = in_view.iter().filter(|(_, _, x, ..)| x == s.as_str()).count();
            assert_eq!(usize::try_from(*n).expect("count"), stored, "{view}: {s:?}");
        }
        // The order: overdue first, then the sort (missing values last), then team and number.
        let key = |r: &Row| {
            let last = |v: Option<i64>| (v.is_none(), v.unwrap_or(0));
            let sort = match wanted("sort=").as_deref() {
                Some("coverage") => (false, r.weighted_percent().unwrap_or(-1)),
                Some("age") => last(r.happy_path_at.map(|t| t.0)),
                Some("key") => (false, 0),
                _ => last(r.target_at.map(|t| t.0)),
            };
            (!r.is_overdue(now), sort, r.team.clone(), number(&r.key))
        };
        let mut sorted = rows.clone();
        sorted.sort_by_key(key);
        let keys = |rows: &[Row]| rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&rows), keys(&sorted), "{view}: in the view's order across its pages");
    }
}

both_backends!(the_maintained_counts_and_pages_follow_every_write_to_a_change);
async fn the_maintained_counts_and_pages_follow_every_write_to_a_change(backend: Backend) {
    let (app, lead) = demo_portfolio(backend, 70).await;
    views_match_the_changes(&app, &lead).await;

    // Writes of every kind the counts follow, straight to the table: the triggers keep the
    // counts, whoever writes.
    let day = app::domain::time::DAY_MS;
    let now = Timestamp::now().0;
    for (sql, binds) in [
        ("UPDATE changes SET status = 'cancelled' WHERE number % 7 = 0", vec![]),
        ("UPDATE changes SET status = 'draft', happy_path_at = NULL, signed_off_at = NULL WHERE number % 11 = 0", vec![]),
        ("UPDATE changes SET types = 'queue' WHERE number % 5 = 1", vec![]),
        ("UPDATE changes SET target_at = NULL WHERE number % 9 = 2", vec![]),
        ("UPDATE changes SET target_at = $1 WHERE number % 13 = 3", vec![now - 2 * day]),
        ("UPDATE changes SET target_at = $1 WHERE number % 17 = 4", vec![now + 2 * day]),
        (
            "UPDATE changes SET status = 'failure_cases_complete', happy_path_at = $1, signed_off_at = $2
             WHERE number % 19 = 5",
            vec![now - 40 * day, now - day],
        ),
        ("UPDATE changes SET team_id = (SELECT id FROM teams WHERE slug = 'TEAM01'), number = number + 1000
          WHERE team_id = (SELECT id FROM teams WHERE slug = 'TEAM03') AND number % 4 = 0", vec![]),
    ] {
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(bind);
        }
        query.execute(app.db.read()).await.expect(sql);
    }
    views_match_the_changes(&app, &lead).await;
    let signed = sign_offs(&app).await;
    for (view, kind) in [("", None), ("type=queue", Some("queue"))] {
        let p: Value = app.call(&lead, "portfolio", &[("view", view)]).await.json().await.expect("json");
        let (teams, months) = expected_cycles(&signed, kind);
        assert_eq!(p["cycles"], teams, "{view}");
        assert_eq!(p["month_cycles"], months, "{view}");
    }
}

/// Changes of one team and set of types moving between two statuses in opposite directions
/// at once (one regressing while another is signed off again) each change the same two
/// count rows: every write goes through (the trigger takes them in key order, where it
/// once deadlocked and PostgreSQL aborted one of the writes), and the counts stay right.
/// SQLite has one writer at a time, so this is PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposite_status_moves_at_once_are_all_counted() {
    let (app, lead) = demo_portfolio(Backend::Postgres, 8).await;
    let team = "(SELECT id FROM teams WHERE slug = 'TEAM01')";
    sqlx::query(&format!("UPDATE changes SET types = 'queue', status = 'regressed' WHERE team_id = {team}"))
        .execute(app.db.read())
        .await
        .expect("one team, one set of types");
    let writers = (1..=8).map(|number| {
        let pool = app.db.read().clone();
        // Odd numbers start by moving forward, even ones back: opposite moves at once.
        let statuses = if number % 2 == 1 {
            ["failure_cases_complete", "regressed"]
        } else {
            ["regressed", "failure_cases_complete"]
        };
        tokio::spawn(async move {
            for round in 0..60 {
                sqlx::query(&format!(
                    "UPDATE changes SET status = $1 WHERE team_id = {team} AND number = $2"
                ))
                .bind(statuses[round % 2])
                .bind(number)
                .execute(&pool)
                .await
                .map_err(|e| format!("change {number}, round {round}: {e}"))?;
            }
            Ok::<(), String>(())
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.expect("writer").expect("every write goes through");
    }
    views_match_the_changes(&app, &lead).await;
}
