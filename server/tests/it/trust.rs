//! The attacks of the "Trust" review, each kept as a regression test: markup in titles and
//! text areas, four eyes through a shared token, unbounded input, what a stranger can learn
//! from 403 and 404, the token shown once, slow clients, and login throttling.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::scope::Scope;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MARKUP: &str = "<img src=x onerror=alert(6)>";

/// GETs `path` as a browser would ask for a page.
async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client.get(app.url(path)).header(header::ACCEPT, "text/html").send().await.expect("page")
}

async fn markup_in_the_address_stays_text_and_pages_allow_no_inline_script(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("lena", "lena-password-1", false).await;
    let lena = app.client();
    app.login(&lena, "lena", "lena-password-1").await;
    let payload = "%3C%2Ftitle%3E%3Cimg%20src%3Dx%20onerror%3Dalert(6)%3E";
    for client in [&app.client(), &lena] {
        for path in [
            format!("/changes/{payload}"),
            format!("/changes/{payload}/fm/1"),
            format!("/teams/{payload}"),
            format!("/teams/{payload}/ci"),
            format!("/teams/{payload}/templates"),
            format!("/teams/{payload}/changes"),
        ] {
            let response = page(&app, client, &path).await;
            let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("csp").to_owned();
            let body = response.text().await.expect("body");
            assert!(!body.contains(MARKUP), "{path}: {body}");
            if body.contains("<title>") {
                assert!(body.contains("&lt;/title&gt;&lt;img src=x onerror=alert(6)&gt;"), "{path}: {body}");
            }
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        }
    }

    // An app page: every inline script carries this response's nonce, and no other runs.
    let response = page(&app, &lena, "/").await;
    let headers = response.headers().clone();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("csp");
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce");
    assert!(nonce.len() >= 16, "{csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    let body = response.text().await.expect("body");
    let scripts = body.matches("<script").count();
    assert!(scripts > 0, "the hydration script is inline");
    assert_eq!(body.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{body}");
    let again = page(&app, &lena, "/").await;
    let other = again.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("csp").to_owned();
    assert!(!other.contains(nonce), "a new nonce for every response");

    // The not-found page is an app page too: it hydrates under its own nonce.
    let missing = page(&app, &lena, "/no/such/page").await;
    let csp = missing.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("csp").to_owned();
    let nonce =
        csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_owned();
    let body = missing.text().await.expect("body");
    assert_eq!(
        body.matches(&format!("nonce=\"{nonce}\"")).count(),
        body.matches("<script").count(),
        "{body}"
    );

    // Responses that are not app pages allow nothing at all.
    for path in ["/healthz", "/api/v1/openapi.json", "/no/such/file.js"] {
        let response = app.client().get(app.url(path)).send().await.expect("get");
        assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY), "{path}");
    }
}

/// The new-change form's fields.
fn new_change<'a>(team: &'a str, title: &'a str) -> [(&'a str, &'a str); 7] {
    [
        ("team", team),
        ("title", title),
        ("summary", ""),
        ("ticket_url", ""),
        ("pr_url", ""),
        ("design_url", ""),
        ("type_queue", "on"),
    ]
}

async fn markup_in_a_failure_mode_stays_text_in_the_edit_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member), (lena, Role::Lead)]).await;
    let member = app.client();
    app.login(&member, "amy", "amy-password-1").await;
    let created = app.call(&member, "create_change", &new_change("PAY", "Exam queue")).await;
    assert_eq!(created.status(), StatusCode::OK);
    let hostile = "SC</textarea><img src=x onerror=alert(5)>";
    let form = [
        ("key", "PAY-1"),
        ("title", "Backlog"),
        ("scenario", hostile),
        ("effect", hostile),
        ("detection", hostile),
        ("owner", "\"><img src=x onerror=alert(6)>"),
        ("severity", "3"),
        ("likelihood", "3"),
        ("detectability", "3"),
        ("designs", hostile),
        ("selectors", "queue::x"),
    ];
    assert_eq!(app.call(&member, "add_failure_mode", &form).await.status(), StatusCode::OK);

    let lead = app.client();
    app.login(&lead, "lena", "lena-password-1").await;
    let body = page(&app, &lead, "/changes/PAY-1/fm/1").await.text().await.expect("body");
    assert!(!body.contains("<img src=x onerror=alert(5)>"), "{body}");
    assert!(body.contains("SC&lt;/textarea&gt;&lt;img src=x onerror=alert(5)&gt;"), "shown as text: {body}");
    // The owner sits in an input's value too: quoting out of it is text as well.
    assert!(!body.contains("<img src=x onerror=alert(6)>"), "{body}");
    let report = page(&app, &lead, "/changes/PAY-1/report").await.text().await.expect("report");
    assert!(!report.contains("<img src=x onerror=alert(6)>"), "{report}");
    assert!(report.contains("&#60;img src=x onerror=alert(6)&#62;"), "the owner is shown as text: {report}");
}

/// A team with a member, two leads and a token of the first lead (as a lead creates one in
/// the browser); PAY-1 registered through that token with its gate open.
struct Shared {
    app: TestApp,
    token: String,
}

const PASSING: &str = r#"<testsuite name="t" tests="3"><testcase classname="q" name="a"/><testcase classname="q" name="b"/><testcase classname="q" name="c"/></testsuite>"#;

async fn gate_opened_through_a_leads_token(backend: Backend) -> Shared {
    let app = TestApp::spawn(backend).await;
    let amy = app.user("amy", "amy-password-1", false).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    let lisa = app.user("lisa", "lisa-password-1", false).await;
    app.team("PAY", &[(amy, Role::Member), (lena, Role::Lead), (lisa, Role::Lead)]).await;
    let token = app.token("PAY", &Scope::ALL, Some(lena)).await;
    let create = json!({ "team": "PAY", "title": "Exam queue", "types": ["queue"] });
    let created = app.api(Method::POST, "/changes", &token).json(&create).send().await.expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let happy = app.api(Method::POST, "/changes/PAY-1/happy-path", &token).send().await.expect("happy");
    assert_eq!(happy.status(), StatusCode::OK);
    for test in ["q::a", "q::b", "q::c"] {
        let fm = json!({
            "title": format!("Fails {test}"), "severity": 3, "likelihood": 3, "detectability": 2,
            "designs": [{ "title": "ADR 7" }], "tests": [test],
        });
        let added = app.api(Method::POST, "/changes/PAY-1/failure-modes", &token).json(&fm).send().await;
        assert_eq!(added.expect("fm").status(), StatusCode::CREATED);
    }
    let run = app
        .api(Method::POST, "/runs", &token)
        .header(header::CONTENT_TYPE, "application/xml")
        .body(PASSING)
        .send()
        .await
        .expect("upload");
    assert_eq!(run.status(), StatusCode::CREATED);
    let gate = app.api(Method::GET, "/changes/PAY-1/gate?require=open", &token).send().await.expect("gate");
    assert_eq!(gate.status(), StatusCode::OK, "the gate is open");
    Shared { app, token }
}

async fn sign_off(app: &TestApp, who: &str, password: &str) -> reqwest::Response {
    let client = app.client();
    app.login(&client, who, password).await;
    app.call(&client, "sign_off", &[("key", "PAY-1"), ("password", password)]).await
}

async fn nobody_signs_off_what_they_or_their_token_registered(backend: Backend) {
    let s = gate_opened_through_a_leads_token(backend).await;
    let app = &s.app;
    // Lisa registered PAY-1 with Lena's token. It has no author: nobody can sign it off.
    for (who, password) in [("lisa", "lisa-password-1"), ("lena", "lena-password-1")] {
        let refused = sign_off(app, who, password).await;
        assert_eq!(refused.status(), StatusCode::CONFLICT, "{who}");
        let reason = refused.text().await.expect("body");
        assert!(reason.contains("no author yet"), "{who}: {reason}");
    }
    // The page says who registered it: the token, not Lena.
    let lisa = app.client();
    app.login(&lisa, "lisa", "lisa-password-1").await;
    let view: Value = app.call(&lisa, "change", &[("key", "PAY-1")]).await.json().await.expect("json");
    assert_eq!(view["author"], "API token “ci” (no author yet)");
    assert_eq!(view["happy_path_by"], "an API token", "not the token's owner");
    assert_eq!(view["can_claim"], true);

    // Lisa claims it: she answers for it, so she cannot also be its second pair of eyes.
    assert_eq!(app.call(&lisa, "claim_change", &[("key", "PAY-1")]).await.status(), StatusCode::OK);
    let again = app.call(&lisa, "claim_change", &[("key", "PAY-1")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "one author");
    assert_eq!(sign_off(app, "lisa", "lisa-password-1").await.status(), StatusCode::CONFLICT);
    // Lena owns the token that registered it: not a second pair of eyes either.
    let refused = sign_off(app, "lena", "lena-password-1").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.expect("body").contains("your API token"));
    let status: String = sqlx::query_scalar("SELECT status FROM changes WHERE number = 1")
        .fetch_one(app.db.read())
        .await
        .expect("status");
    assert_eq!(status, "happy_path_working", "nothing was signed off");

    // The audit log says the token registered it, and who claimed it.
    let history: Value = app.call(&lisa, "change", &[("key", "PAY-1")]).await.json().await.expect("json");
    let actions: Vec<(String, String)> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap_or_default().to_owned(),
                h["actor"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        actions.iter().any(|(a, actor)| a == "change.create" && actor.contains("token:ci")),
        "{actions:?}"
    );
    assert!(actions.iter().any(|(a, _)| a == "change.claim"), "{actions:?}");
    let _ = &s.token;
}

async fn a_token_never_makes_its_owner_the_author(backend: Backend) {
    let s = gate_opened_through_a_leads_token(backend).await;
    let app = &s.app;
    // Amy (a member) claims the change Lisa registered with Lena's token: two people now
    // stand behind it, and a lead who is neither signs off.
    app.claim("amy", "amy-password-1", &["PAY-1"]).await;
    let signed = sign_off(app, "lisa", "lisa-password-1").await;
    assert_eq!(signed.status(), StatusCode::OK, "{}", signed.text().await.unwrap_or_default());
    let author: Option<i64> = sqlx::query_scalar("SELECT author_id FROM changes WHERE number = 1")
        .fetch_one(app.db.read())
        .await
        .expect("author");
    let amy: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'amy'")
        .fetch_one(app.db.read())
        .await
        .expect("amy");
    assert_eq!(author, Some(amy));
}

async fn over_long_input_gets_a_small_4xx_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    let olaf = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead)]).await;
    app.team("OPS", &[(olaf, Role::Lead)]).await;
    let client = app.client();
    app.login(&client, "lena", "lena-password-1").await;
    let created = app.call(&client, "create_change", &new_change("PAY", "Queue")).await;
    assert!(created.status().is_success(), "{}", created.text().await.unwrap_or_default());
    let outsider = app.client();
    app.login(&outsider, "olaf", "olaf-password-1").await;
    let anonymous = app.client();
    let huge = "x".repeat(200_000);
    // Each call names a real object and carries one argument far over its bound.
    let calls: [(&str, Vec<(&str, &str)>); 6] = [
        ("happy_path", vec![("key", "PAY-1"), ("note", &huge)]),
        ("cancel_change", vec![("key", "PAY-1"), ("reason", &huge)]),
        ("sign_off", vec![("key", "PAY-1"), ("password", &huge)]),
        ("set_member", vec![("team", "PAY"), ("username", &huge), ("role", "member")]),
        ("search", vec![("q", &huge)]),
        ("admin/create_team", vec![("slug", &huge), ("name", "n")]),
    ];
    for (endpoint, args) in &calls {
        // A caller who may not act learns that first, whatever they sent.
        let response = app.call(&anonymous, endpoint, args).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{endpoint} anonymous");
        assert!(response.text().await.expect("body").len() < 500, "{endpoint}");
        let expected = if endpoint.starts_with("admin/") {
            StatusCode::FORBIDDEN
        } else if *endpoint == "search" {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::NOT_FOUND
        };
        let response = app.call(&outsider, endpoint, args).await;
        assert_eq!(response.status(), expected, "{endpoint} from another team");
        assert!(response.text().await.expect("body").len() < 500, "{endpoint}");
        // A caller who may act hears which argument is too long, in a small reply.
        let response = app.call(&client, endpoint, args).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        let expected = if endpoint.starts_with("admin/") {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(status, expected, "{endpoint}: {body}");
        assert!(body.len() < 500, "{endpoint}: {} bytes", body.len());
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert!(body.contains("at most 2000 characters"), "{endpoint}: {body}");
        }
    }
    // Logging in asks nobody's right: an over-long username is refused as such.
    let response = app.call(&anonymous, "login", &[("username", &huge), ("password", "p")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("body").contains("at most 2000 characters"));
    // A key far too long to be one names no change.
    let response = app.call(&client, "change", &[("key", &huge)]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.expect("body").len() < 500);
    // A key long enough to pass the bound but not a key: the reply does not echo it.
    let long = "x".repeat(1_900);
    let response = app.call(&client, "change", &[("key", &long)]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.expect("body").len() < 200);
    // A plain form post: no redirect carrying the input.
    let form = client
        .post(app.url("/api/cancel_change"))
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, app.url("/changes/PAY-1"))
        .form(&[("key", "PAY-1"), ("reason", huge.as_str())])
        .send()
        .await
        .expect("post");
    assert!(form.status().is_client_error() || form.status().is_redirection(), "{}", form.status());
    let headers_size: usize = form.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    assert!(headers_size < 2_000, "{headers_size} bytes of headers");
    // The CI API: a parser's message that would quote the input is cut short.
    let token = app.token("PAY", &[Scope::ChangesWrite], Some(lena)).await;
    let body = format!(r#"{{"team":"PAY","title":"t","types":["queue"],"{huge}":1}}"#);
    let response = app
        .api(Method::POST, "/changes", &token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("body").len() < 1_000);
    // Nothing changed: the one change is as it was registered, and nobody joined a team.
    let (changes, status): (i64, String) = sqlx::query_as("SELECT COUNT(*), MIN(status) FROM changes")
        .fetch_one(app.db.read())
        .await
        .expect("count");
    assert_eq!((changes, status.as_str()), (1, "draft"));
    let teams: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM teams").fetch_one(app.db.read()).await.expect("teams");
    assert_eq!(teams, 2);
}

async fn a_stranger_cannot_tell_which_changes_and_teams_exist(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rita = app.user("rita", "rita-password-1", false).await;
    let olaf = app.user("olaf", "olaf-password-1", false).await;
    app.team("RAD", &[(rita, Role::Lead)]).await;
    app.team("OPS", &[(olaf, Role::Lead)]).await;
    let rad = app.client();
    app.login(&rad, "rita", "rita-password-1").await;
    let created = app.call(&rad, "create_change", &new_change("RAD", "Scanner")).await;
    assert_eq!(created.status(), StatusCode::OK);

    let stranger = app.client();
    app.login(&stranger, "olaf", "olaf-password-1").await;
    let answer = |key: &'static str| {
        let (app, stranger) = (&app, &stranger);
        async move {
            let mut seen = Vec::new();
            for (endpoint, form) in [
                ("change", vec![("key", key)]),
                ("happy_path", vec![("key", key), ("note", "")]),
                ("cancel_change", vec![("key", key), ("reason", "")]),
                ("sign_off", vec![("key", key), ("password", "olaf-password-1")]),
                ("failure_mode", vec![("key", key), ("number", "1")]),
            ] {
                let response = app.call(stranger, endpoint, &form).await;
                seen.push((
                    endpoint,
                    response.status(),
                    response.text().await.expect("body").replace(key, "KEY"),
                ));
            }
            seen
        }
    };
    let existing = answer("RAD-1").await;
    assert_eq!(existing, answer("RAD-999").await);
    assert!(existing.iter().all(|(_, status, _)| *status == StatusCode::NOT_FOUND), "{existing:?}");

    for endpoint in ["team", "ci", "templates"] {
        let field = if endpoint == "team" || endpoint == "templates" { "slug" } else { "team" };
        let real = app.call(&stranger, endpoint, &[(field, "RAD")]).await;
        let unknown = app.call(&stranger, endpoint, &[(field, "NOPE")]).await;
        assert_eq!(real.status(), StatusCode::NOT_FOUND, "{endpoint}");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{endpoint}");
        let real = real.text().await.expect("body").replace("RAD", "X");
        assert_eq!(real, unknown.text().await.expect("body").replace("NOPE", "X"), "{endpoint}");
    }

    // The pages say so too: a 404 that reads the same for another team's object as for one
    // that does not exist (link checkers, monitors and history see it).
    for (real, unknown) in [
        ("/changes/RAD-1", "/changes/RAD-999"),
        ("/changes/RAD-1/edit", "/changes/RAD-999/edit"),
        ("/changes/RAD-1/import", "/changes/RAD-999/import"),
        ("/changes/RAD-1/fm/1", "/changes/RAD-999/fm/1"),
        ("/teams/RAD", "/teams/NOPE"),
        ("/teams/RAD/changes", "/teams/NOPE/changes"),
        ("/teams/RAD/ci", "/teams/NOPE/ci"),
        ("/teams/RAD/templates", "/teams/NOPE/templates"),
        ("/teams/RAD/changes/new", "/teams/NOPE/changes/new"),
    ] {
        let shown = page(&app, &stranger, real).await;
        assert_eq!(shown.status(), StatusCode::NOT_FOUND, "{real}");
        let missing = page(&app, &stranger, unknown).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{unknown}");
        let main = |html: String| {
            html.split("<main")
                .nth(1)
                .and_then(|main| main.split("</main>").next())
                .unwrap_or_default()
                .to_owned()
        };
        let shown = main(shown.text().await.expect("body")).replace("RAD-1", "X").replace("RAD", "X");
        let missing = main(missing.text().await.expect("body")).replace("RAD-999", "X").replace("NOPE", "X");
        assert_eq!(shown, missing, "{real}");
        assert!(shown.contains("not found"), "{real}: {shown}");
    }
    // Its own team's pages are there, and a page for admins only is 403 to others.
    assert_eq!(page(&app, &rad, "/changes/RAD-1").await.status(), StatusCode::OK);
    assert_eq!(page(&app, &rad, "/changes/RAD-1/fm/9").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(page(&app, &rad, "/admin/users").await.status(), StatusCode::FORBIDDEN);
}

async fn the_api_answers_who_may_act_before_what_was_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    let olaf = app.user("olaf", "olaf-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead)]).await;
    app.team("OPS", &[(olaf, Role::Lead)]).await;
    let writer = app.token("PAY", &[Scope::ChangesWrite], Some(lena)).await;
    let created = app
        .api(Method::POST, "/changes", &writer)
        .json(&json!({ "team": "PAY", "title": "Queue", "types": ["queue"] }))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let reader = app.token("PAY", &[Scope::ChangesRead], Some(lena)).await;
    let stranger = app.token("OPS", &[Scope::ChangesWrite], Some(olaf)).await;
    let send = |method: Method, path: &'static str, token: &str, body: &'static str| {
        app.api(method, path, token).header(header::CONTENT_TYPE, "application/json").body(body).send()
    };
    for (method, path) in [
        (Method::POST, "/changes"),
        (Method::PATCH, "/changes/PAY-1"),
        (Method::POST, "/changes/PAY-1/failure-modes"),
        (Method::POST, "/changes/PAY-1/happy-path"),
    ] {
        for body in ["{not json", r#"{"title": 5, "designs": "x"}"#] {
            let anonymous = send(method.clone(), path, "pmt_not-a-token", body).await.expect("send");
            assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{method} {path} {body}");
            let read_only = send(method.clone(), path, &reader, body).await.expect("send");
            assert_eq!(read_only.status(), StatusCode::FORBIDDEN, "{method} {path} {body}");
            if path != "/changes" {
                let other_team = send(method.clone(), path, &stranger, body).await.expect("send");
                assert_eq!(other_team.status(), StatusCode::NOT_FOUND, "{method} {path} {body}");
            }
            // The team's own writer hears what is wrong with the body.
            let own = send(method.clone(), path, &writer, body).await.expect("send");
            assert!(
                [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&own.status()),
                "{method} {path} {body}: {}",
                own.status()
            );
        }
    }
}

/// Every byte the database keeps: the files of a SQLite database (with its WAL), the
/// session rows of a PostgreSQL one.
async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    match app.test_db.dir() {
        Some(dir) => std::fs::read_dir(dir)
            .expect("dir")
            .flat_map(|entry| std::fs::read(entry.expect("entry").path()).unwrap_or_default())
            .collect(),
        None => {
            let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM tower_sessions.session")
                .fetch_all(app.db.read())
                .await
                .expect("sessions");
            rows.concat()
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn a_new_token_is_shown_once_and_never_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead)]).await;
    let client = app.client();
    app.login(&client, "lena", "lena-password-1").await;
    // Without JavaScript: a plain form post, then the page the redirect leads to.
    let posted = client
        .post(app.url("/api/create_token"))
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, app.url("/teams/PAY/ci"))
        .form(&[("team", "PAY"), ("name", "github"), ("scopes[]", "evidence:write"), ("expires_days", "")])
        .send()
        .await
        .expect("post");
    assert!(posted.status().is_redirection(), "{}", posted.status());
    let first = page(&app, &client, "/teams/PAY/ci").await.text().await.expect("page");
    let token = first
        .split("pmt_")
        .nth(1)
        .map(|rest| {
            format!(
                "pmt_{}",
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
            )
        })
        .expect("the new token is shown");
    assert!(app::ssr::store::tokens::well_formed(&token), "{token}");
    let second = page(&app, &client, "/teams/PAY/ci").await.text().await.expect("page");
    assert!(!second.contains(&token), "shown once");
    assert!(!contains(&stored_bytes(&app).await, token.as_bytes()), "the secret is never stored");
    let works = app.api(Method::POST, "/runs", &token).header(header::CONTENT_TYPE, "application/xml");
    let works = works.body(PASSING).send().await.expect("upload");
    assert_eq!(works.status(), StatusCode::CREATED);
}

/// Opens a connection and sends the head of an upload whose body then trickles.
async fn trickling_upload(app: &TestApp, token: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/runs HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/xml\r\nContent-Length: 100000\r\n\r\n<",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
}

/// Reads until the server closes the connection (or `limit` passes); what it answered.
async fn until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    let mut reply = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut reply)).await.ok()?.ok()?;
    Some(String::from_utf8_lossy(&reply).into_owned())
}

async fn slow_clients_hold_only_their_own_connection(backend: Backend) {
    let extra =
        ["--header-read-timeout-secs", "1", "--upload-body-grace-secs", "1", "--ingest-concurrency", "2"];
    let app = TestApp::spawn_with(backend, &extra).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(lena, Role::Lead)]).await;
    let token = app.token("PAY", &[Scope::EvidenceWrite], Some(lena)).await;

    // More trickling uploads than there are ingestion slots.
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(trickling_upload(&app, &token).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for attempt in 0..3 {
        let upload = app.api(Method::POST, "/runs", &token).header(header::CONTENT_TYPE, "application/xml");
        let response = upload.body(PASSING).send().await.expect("upload");
        assert_eq!(response.status(), StatusCode::CREATED, "upload {attempt} beside the slow ones");
    }
    // Past the grace period the trickling ones are told, and closed.
    for mut stream in slow {
        let reply = until_closed(&mut stream, Duration::from_secs(10)).await.expect("answered and closed");
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    }

    // Headers sent a byte at a time, and an idle keep-alive connection: both closed.
    let mut slow_headers = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    slow_headers.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("partial head");
    assert!(until_closed(&mut slow_headers, Duration::from_secs(5)).await.is_some(), "slow headers closed");
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("request");
    let reply = until_closed(&mut idle, Duration::from_secs(5)).await.expect("idle connection closed");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

fn from_address(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .local_address(std::net::IpAddr::from([127, 0, 0, last_octet]))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn nobody_can_lock_someone_else_out(backend: Backend) {
    let s = gate_opened_through_a_leads_token(backend).await;
    let app = &s.app;
    app.claim("amy", "amy-password-1", &["PAY-1"]).await;
    // A stranger guesses Lisa's password from another address until throttled.
    let stranger = from_address(2);
    let mut throttled = None;
    for _ in 0..8 {
        let response = app.login(&stranger, "lisa", "wrong-password-1").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let throttled = throttled.expect("guessing is throttled");
    let retry_after: u64 =
        throttled.headers()[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("secs");
    assert!((1..=2).contains(&retry_after), "the first wait is short and grows: {retry_after}");

    // Lisa, from her own address, logs in and signs off as if nothing happened.
    let lisa = from_address(1);
    assert_eq!(app.login(&lisa, "lisa", "lisa-password-1").await.status(), StatusCode::OK);
    // Wrong passwords at sign-off slow down sign-off only, and say when to come back.
    let mut confirm_throttled = false;
    for _ in 0..8 {
        let response = app.call(&lisa, "sign_off", &[("key", "PAY-1"), ("password", "not-it-at-all")]).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key(header::RETRY_AFTER));
            confirm_throttled = true;
            break;
        }
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert!(confirm_throttled);
    let other = from_address(3);
    assert_eq!(
        app.login(&other, "lisa", "lisa-password-1").await.status(),
        StatusCode::OK,
        "logins unaffected"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let signed = app.call(&lisa, "sign_off", &[("key", "PAY-1"), ("password", "lisa-password-1")]).await;
    assert_eq!(signed.status(), StatusCode::OK, "{}", signed.text().await.unwrap_or_default());
}

both_backends!(
    markup_in_the_address_stays_text_and_pages_allow_no_inline_script,
    markup_in_a_failure_mode_stays_text_in_the_edit_form,
    nobody_signs_off_what_they_or_their_token_registered,
    a_token_never_makes_its_owner_the_author,
    over_long_input_gets_a_small_4xx_naming_the_field,
    a_stranger_cannot_tell_which_changes_and_teams_exist,
    the_api_answers_who_may_act_before_what_was_sent,
    a_new_token_is_shown_once_and_never_stored,
    slow_clients_hold_only_their_own_connection,
    nobody_can_lock_someone_else_out,
);
