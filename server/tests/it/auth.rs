//! Login, sessions, throttling (also behind trusted proxies) and cross-site protection.

use crate::both_backends;
use crate::common::{Backend, TestApp, session_cookie};
use reqwest::StatusCode;
use serde_json::Value;

async fn me(app: &TestApp, client: &reqwest::Client) -> Value {
    let response = app.call(client, "me", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn login_rotates_the_session_and_logout_kills_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let client = app.client();

    let first = app.login(&client, "alice", "alice-password-1").await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_cookie = session_cookie(&first).expect("login sets a session cookie");
    assert_eq!(me(&app, &client).await["username"], "alice");

    let second = app.login(&client, "alice", "alice-password-1").await;
    let second_cookie = session_cookie(&second).expect("a second login sets a cookie");
    assert_ne!(first_cookie, second_cookie, "the session id changes at login");

    let logout = app.call(&client, "logout", &[]).await;
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(me(&app, &client).await, Value::Null);

    // Replaying the cookie from before logout gets nobody.
    let replay = reqwest::Client::new()
        .post(app.url("/api/me"))
        .header("Cookie", format!("premortem_session={second_cookie}"))
        .send()
        .await
        .expect("request");
    assert_eq!(replay.json::<Value>().await.expect("json"), Value::Null);
}

async fn the_session_cookie_is_http_only_and_same_site_lax(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let response = app.login(&app.client(), "alice", "alice-password-1").await;
    let header = response.headers().get("set-cookie").expect("set-cookie").to_str().expect("ascii");
    assert!(header.starts_with("premortem_session="), "{header}");
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    assert!(!header.contains("Secure"), "plain HTTP by default: {header}");

    let tls = TestApp::spawn_with(backend, &["--secure-cookies"]).await;
    tls.user("alice", "alice-password-1", false).await;
    let response = tls.login(&tls.client(), "alice", "alice-password-1").await;
    let header = response.headers().get("set-cookie").expect("set-cookie").to_str().expect("ascii");
    assert!(header.contains("Secure"), "{header}");
}

async fn wrong_passwords_are_throttled_and_unknown_users_look_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let client = app.client();

    let unknown = app.login(&client, "nobody", "whatever-password").await;
    let wrong = app.login(&client, "alice", "not-her-password").await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.status(), unknown.status());
    let unknown: Value = unknown.json().await.expect("json");
    let wrong: Value = wrong.json().await.expect("json");
    assert_eq!(unknown, wrong, "the same answer for unknown users and wrong passwords");

    for _ in 0..4 {
        app.login(&client, "alice", "not-her-password").await;
    }
    let throttled = app.login(&client, "alice", "alice-password-1").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    let body: Value = throttled.json().await.expect("json");
    assert!(body["Throttled"]["retry_after_secs"].as_u64().is_some_and(|s| s > 0 && s <= 900), "{body}");
    assert_eq!(me(&app, &client).await, Value::Null);

    // Another account from the same address is not locked by alice's failures.
    app.user("bob", "bob-password-12", false).await;
    assert_eq!(app.login(&client, "bob", "bob-password-12").await.status(), StatusCode::OK);
}

async fn cross_site_posts_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    let client = app.client();
    assert_eq!(app.login(&client, "root", "root-password-1").await.status(), StatusCode::OK);

    let form = [("slug", "EVIL"), ("name", "Evil team")];
    let by_origin = client
        .post(app.url("/api/admin/create_team"))
        .header("Origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .expect("request");
    assert_eq!(by_origin.status(), StatusCode::FORBIDDEN);
    let by_fetch_metadata = client
        .post(app.url("/api/admin/create_team"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&form)
        .send()
        .await
        .expect("request");
    assert_eq!(by_fetch_metadata.status(), StatusCode::FORBIDDEN);
    let teams: Value = app.call(&client, "teams", &[]).await.json().await.expect("json");
    assert_eq!(teams, serde_json::json!([]), "no team was created");

    // The same request from the app's own origin works.
    let same_origin = client
        .post(app.url("/api/admin/create_team"))
        .header("Origin", app.url(""))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&form)
        .send()
        .await
        .expect("request");
    assert_eq!(same_origin.status(), StatusCode::OK);
}

async fn mutations_are_not_reachable_by_get(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    let client = app.client();
    app.login(&client, "root", "root-password-1").await;
    let response =
        client.get(app.url("/api/admin/create_team?slug=GET&name=Sneaky")).send().await.expect("request");
    assert!(response.status().is_client_error(), "{}", response.status());
    let teams: Value = app.call(&client, "teams", &[]).await.json().await.expect("json");
    assert_eq!(teams, serde_json::json!([]));
}

async fn sessions_end_at_their_absolute_lifetime(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--session-max-hours", "0"]).await;
    app.user("alice", "alice-password-1", false).await;
    let client = app.client();
    assert_eq!(app.login(&client, "alice", "alice-password-1").await.status(), StatusCode::OK);
    assert_eq!(me(&app, &client).await, Value::Null);
}

async fn a_plain_html_form_login_redirects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let client = app.client();
    let form = |password: &'static str| {
        client
            .post(app.url("/api/login"))
            .header("Accept", "text/html")
            .header("Referer", app.url("/login"))
            .form(&[("username", "alice"), ("password", password)])
    };

    let failed = form("wrong-password").send().await.expect("request");
    assert_eq!(failed.status(), StatusCode::FOUND);
    let location = failed.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(&app.url("/login?")) && location.contains("__err="), "{location}");
    // The login page shows the error without JavaScript.
    let page = client.get(location).send().await.expect("request").text().await.expect("text");
    assert!(page.contains("Username or password is incorrect."), "{page}");

    let ok = form("alice-password-1").send().await.expect("request");
    assert_eq!(ok.status(), StatusCode::FOUND);
    assert_eq!(ok.headers()["location"], "/");
    let dashboard = client.get(app.url("/")).send().await.expect("request");
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert!(dashboard.text().await.expect("text").contains("Your teams"));
}

async fn pages_send_anonymous_users_to_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Browsers and plain clients alike get a real redirect, whatever they accept.
    for accept in ["text/html", "*/*"] {
        let response =
            app.client().get(app.url("/admin/users")).header("Accept", accept).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{accept}");
        assert_eq!(response.headers()["location"], "/login?next=%2Fadmin%2Fusers", "{accept}");
    }
    let login = app.client().get(app.url("/login")).send().await.expect("request");
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.expect("text");
    assert!(html.contains(r#"<label for="username">"#) && html.contains("/pkg/premortem"), "{html}");
}

/// Where a GET of `path` without a session is sent.
async fn login_redirect(app: &TestApp, path: &str) -> String {
    let response =
        app.client().get(app.url(path)).header("Accept", "text/html").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
    response.headers()["location"].to_str().expect("ascii").to_owned()
}

async fn a_deep_link_survives_the_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    app.team("PAY", &[(lena, app::domain::Role::Lead)]).await;
    // Pages, reports and exports alike name the page asked for, query and all.
    let deep = "/teams/PAY/changes?status=open&overdue=1";
    let location = login_redirect(&app, deep).await;
    assert_eq!(location, "/login?next=%2Fteams%2FPAY%2Fchanges%3Fstatus%3Dopen%26overdue%3D1");
    assert_eq!(
        login_redirect(&app, "/changes/PAY-1/report").await,
        "/login?next=%2Fchanges%2FPAY-1%2Freport"
    );
    assert_eq!(
        login_redirect(&app, "/portfolio.csv?team=PAY").await,
        "/login?next=%2Fportfolio.csv%3Fteam%3DPAY"
    );
    // The start page needs no `next`.
    assert_eq!(login_redirect(&app, "/").await, "/login");

    // The login page keeps it through a refused attempt, as a plain form (no JavaScript).
    let client = app.client();
    let page = client.get(app.url(&location)).send().await.expect("login page").text().await.expect("html");
    assert!(page.contains(r#"name="next" value="/teams/PAY/changes?status=open&amp;overdue=1""#), "{page}");
    let post = |password: &'static str, next: &'static str, referer: String| {
        client.post(app.url("/api/login")).header("Accept", "text/html").header("Referer", referer).form(&[
            ("username", "lena"),
            ("password", password),
            ("next", next),
        ])
    };
    let failed = post("wrong-password", deep, app.url(&location)).send().await.expect("request");
    let back = failed.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(back.contains("next=%2Fteams%2FPAY%2Fchanges") && back.contains("__err="), "{back}");
    let page = client.get(back).send().await.expect("login page").text().await.expect("html");
    assert!(page.contains(r#"name="next" value="/teams/PAY/changes?status=open&amp;overdue=1""#), "{page}");
    // Then lands where it was going.
    let ok = post("lena-password-1", deep, app.url(&location)).send().await.expect("request");
    assert_eq!(ok.headers()["location"], deep);
    let landed = client.get(app.url(deep)).send().await.expect("page");
    assert_eq!(landed.status(), StatusCode::OK);

    // Only this site's pages: another site, a scheme-relative or backslashed address, or the
    // server's own endpoints land on the start page.
    for next in ["https://evil.example/", "//evil.example/", "/\\evil.example", "/api/v1/changes", "/login"] {
        let client = app.client();
        let ok = client
            .post(app.url("/api/login"))
            .header("Accept", "text/html")
            .form(&[("username", "lena"), ("password", "lena-password-1"), ("next", next)])
            .send()
            .await
            .expect("request");
        assert_eq!(ok.headers()["location"], "/", "{next}");
    }
}

async fn parallel_guesses_cannot_slip_under_the_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let request = app
                .client()
                .post(app.url("/api/login"))
                .form(&[("username", "alice".to_owned()), ("password", format!("wrong-guess-{i:02}"))]);
            tokio::spawn(async move { request.send().await.map(|r| r.status()) })
        })
        .collect();
    let mut checked = 0;
    for guess in guesses {
        if guess.await.expect("task").expect("response") == StatusCode::UNPROCESSABLE_ENTITY {
            checked += 1;
        }
    }
    assert!(checked <= 5, "{checked} passwords were checked; the limit is 5");
}

/// A login attempt arriving with `X-Forwarded-For: forwarded_for`; its status.
async fn login_forwarded_for(app: &TestApp, forwarded_for: &str, password: &str) -> StatusCode {
    app.client()
        .post(app.url("/api/login"))
        .header("Accept", "application/json")
        .header("X-Forwarded-For", forwarded_for)
        .form(&[("username", "alice"), ("password", password)])
        .send()
        .await
        .expect("request")
        .status()
}

/// Five wrong passwords for alice from 203.0.113.7 (through the proxy at 127.0.0.1).
async fn five_failures_from_one_client(app: &TestApp) {
    for _ in 0..5 {
        let status = login_forwarded_for(app, "203.0.113.7", "not-her-password").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

async fn behind_a_trusted_proxy_each_forwarded_client_is_throttled_alone(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--trusted-proxies", "127.0.0.1"]).await;
    app.user("alice", "alice-password-1", false).await;

    five_failures_from_one_client(&app).await;

    let throttled = login_forwarded_for(&app, "203.0.113.7", "not-her-password").await;
    assert_eq!(throttled, StatusCode::TOO_MANY_REQUESTS, "the guessing client waits");
    // A spoofed address left of the proxy's entry changes nothing: the right-most counts.
    let spoofed = login_forwarded_for(&app, "198.51.100.1, 203.0.113.7", "not-her-password").await;
    assert_eq!(spoofed, StatusCode::TOO_MANY_REQUESTS);
    let other = login_forwarded_for(&app, "203.0.113.8", "not-her-password").await;
    assert_eq!(other, StatusCode::UNPROCESSABLE_ENTITY, "another client behind the proxy is not");
}

async fn without_trusted_proxies_forwarded_for_is_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;

    five_failures_from_one_client(&app).await;

    let other = login_forwarded_for(&app, "203.0.113.8", "not-her-password").await;
    assert_eq!(other, StatusCode::TOO_MANY_REQUESTS, "both share the peer's count");
}

both_backends!(
    behind_a_trusted_proxy_each_forwarded_client_is_throttled_alone,
    without_trusted_proxies_forwarded_for_is_ignored,
    parallel_guesses_cannot_slip_under_the_limit,
    login_rotates_the_session_and_logout_kills_it,
    the_session_cookie_is_http_only_and_same_site_lax,
    wrong_passwords_are_throttled_and_unknown_users_look_the_same,
    cross_site_posts_are_refused_and_change_nothing,
    mutations_are_not_reachable_by_get,
    sessions_end_at_their_absolute_lifetime,
    a_plain_html_form_login_redirects,
    pages_send_anonymous_users_to_login,
    a_deep_link_survives_the_login,
);
