//! Single sign-on against a real OpenID provider: `oidc-provider` (end2end/oidc/provider.mjs),
//! started once per run by scripts/oidc-provider.sh. Each test registers its own client there
//! (dynamic registration) with its own redirect URI, and drives the provider's login form over
//! HTTP as a browser would.

use crate::both_backends;
use crate::common::{Backend, TestApp, TestDb, session_cookie};
use app::domain::{Role, TeamSlug};
use app::ssr::audit::{self, Actor};
use app::ssr::store::{identities, teams, users};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

fn issuer() -> String {
    std::env::var("PREMORTEM_TEST_OIDC_ISSUER")
        .expect("PREMORTEM_TEST_OIDC_ISSUER: the tests' OpenID provider (source scripts/oidc-provider.sh)")
}

/// Registers a client for `origin`'s callback; its id and secret.
async fn register(issuer: &str, origin: &str) -> (String, String) {
    let body = json!({
        "redirect_uris": [format!("{origin}/auth/oidc/callback")],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let response =
        reqwest::Client::new().post(format!("{issuer}/reg")).json(&body).send().await.expect("register");
    assert_eq!(response.status(), StatusCode::CREATED, "registration");
    let client: Value = response.json().await.expect("client");
    (
        client["client_id"].as_str().expect("id").to_owned(),
        client["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// The app signing in through the provider at `issuer` (groups on, the given extra settings),
/// and its client id there.
async fn sso_app_at(backend: Backend, issuer: &str, extra: &[&str]) -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let (id, secret) = match issuer.strip_prefix("unregistered:") {
        // The provider's static client, which it is started with (OIDC_REDIRECT_URI).
        Some(_) => ("premortem".to_owned(), "static-client-secret".to_owned()),
        None => register(issuer, &origin).await,
    };
    let issuer = issuer.trim_start_matches("unregistered:");
    // `--name=value`: a generated id or secret may begin with `-`.
    let (issuer_arg, id_arg, secret_arg) = (
        format!("--oidc-issuer={issuer}"),
        format!("--oidc-client-id={id}"),
        format!("--oidc-client-secret={secret}"),
    );
    let mut args = vec![
        "--public-url",
        "{origin}",
        &issuer_arg,
        &id_arg,
        &secret_arg,
        "--oidc-name",
        "Example SSO",
        "--oidc-scopes",
        "groups",
        "--oidc-groups-claim",
        "groups",
    ];
    args.extend_from_slice(extra);
    let app = TestApp::spawn_listening(listener, TestDb::new(backend).await, &args).await;
    (app, id)
}

async fn sso_app(backend: Backend, extra: &[&str]) -> (TestApp, String) {
    sso_app_at(backend, &issuer(), extra).await
}

fn location(response: &reqwest::Response, base: &str) -> String {
    let raw = response.headers().get(LOCATION).expect("a redirect").to_str().expect("ascii");
    url::Url::parse(base).expect("base").join(raw).expect("location").to_string()
}

/// Starts a sign-in (waiting out the app's discovery of the provider) and walks the provider's
/// login as `login`; the callback address the provider sends the browser back to.
async fn walk(app: &TestApp, client: &reqwest::Client, login: &str, next: Option<&str>) -> String {
    let start = match next {
        Some(next) => app.url(&format!("/auth/oidc/start?next={}", urlencode(next))),
        None => app.url("/auth/oidc/start"),
    };
    let mut url = String::new();
    for _ in 0..100 {
        let response = client.get(&start).send().await.expect("start");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        url = location(&response, &app.url("/"));
        if !url.contains("sso_error=unavailable") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!url.starts_with(&app.url("/")), "sent to the provider: {url}");
    for _ in 0..10 {
        if url.starts_with(&app.url("/auth/oidc/callback")) {
            return url;
        }
        let mut response = client.get(&url).send().await.expect("provider");
        if response.status() == StatusCode::OK && url.contains("/interaction/") {
            let form = [("prompt", "login"), ("login", login), ("password", "whatever")];
            response = client.post(&url).form(&form).send().await.expect("login form");
        }
        assert!(response.status().is_redirection(), "{url}: {}", response.status());
        url = location(&response, &url);
    }
    panic!("the provider never sent the browser back: {url}");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Follows the callback; where the app sends the browser then.
async fn finish(app: &TestApp, client: &reqwest::Client, callback: &str) -> String {
    let response = client.get(callback).send().await.expect("callback");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{callback}");
    location(&response, &app.url("/")).trim_start_matches(&app.url("")).to_owned()
}

async fn sign_in(app: &TestApp, client: &reqwest::Client, login: &str) -> String {
    let callback = walk(app, client, login, None).await;
    finish(app, client, &callback).await
}

/// Who the client is logged in as, if anyone.
async fn me(app: &TestApp, client: &reqwest::Client) -> Value {
    let response = app.call(client, "me", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("me")
}

async fn tamper(client_id: &str, kind: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/__test/tamper", issuer()))
        .json(&json!({ "client_id": client_id, "kind": kind }))
        .send()
        .await
        .expect("tamper");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

async fn actions(app: &TestApp) -> Vec<(String, String)> {
    let mut conn = app.db.read().acquire().await.expect("conn");
    let entries = audit::recent(&mut conn, None, 200).await.expect("audit");
    entries.into_iter().rev().map(|e| (e.action, e.actor)).collect()
}

async fn signing_in_creates_one_account_linked_by_subject_and_maps_groups(backend: Backend) {
    let (app, _) = sso_app(backend, &[]).await;
    app.team("QUE", &[]).await;
    app.team("OPS", &[]).await;
    let que = teams::by_slug(&app.db, &TeamSlug::parse("QUE").expect("slug")).await.expect("team").id;
    let ops = teams::by_slug(&app.db, &TeamSlug::parse("OPS").expect("slug")).await.expect("team").id;
    let admin = Actor::Cli;
    identities::set_group_role(&app.db, &admin, "premortem-que-leads", que, Some(Role::Lead))
        .await
        .expect("map");
    identities::set_group_role(&app.db, &admin, "everyone", que, Some(Role::Viewer)).await.expect("map");
    identities::set_group_role(&app.db, &admin, "everyone", ops, Some(Role::Viewer)).await.expect("map");

    // The login page offers the provider beside the password form.
    let page =
        app.client().get(app.url("/login")).send().await.expect("login page").text().await.expect("html");
    assert!(page.contains("Sign in with Example SSO"), "{page}");
    assert!(page.contains("name=\"password\""), "the password form stays");

    // The first sign-in creates alice, from what the provider says, and lands where she was going.
    let browser = app.client();
    assert_eq!(me(&app, &browser).await, Value::Null);
    let callback = walk(&app, &browser, "alice", Some("/teams/QUE")).await;
    assert_eq!(finish(&app, &browser, &callback).await, "/teams/QUE");
    let alice = me(&app, &browser).await;
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["display_name"], "Alice Able");
    let roles: Vec<_> =
        alice["teams"].as_array().expect("teams").iter().map(|t| (t[1].clone(), t[2].clone())).collect();
    assert_eq!(
        roles,
        vec![(json!("OPS"), json!("viewer")), (json!("QUE"), json!("lead"))],
        "highest mapped role"
    );

    // A second sign-in, elsewhere, is the same account; bob gets his own.
    let laptop = app.client();
    assert_eq!(sign_in(&app, &laptop, "alice").await, "/");
    assert_eq!(me(&app, &laptop).await["id"], alice["id"]);
    let bob_browser = app.client();
    sign_in(&app, &bob_browser, "bob").await;
    let bob = me(&app, &bob_browser).await;
    assert_eq!(bob["username"], "bob");
    assert_ne!(bob["id"], alice["id"]);
    assert_eq!(users::list(&app.db).await.expect("users").len(), 2);

    // A mapping taken away takes the role away at the next sign-in; teams nobody maps are
    // left as set by hand.
    identities::set_group_role(&app.db, &admin, "everyone", ops, None).await.expect("unmap");
    sign_in(&app, &laptop, "alice").await;
    let roles = me(&app, &laptop).await["teams"].clone();
    assert_eq!(roles.as_array().expect("teams").len(), 1, "{roles}");

    let log = actions(&app).await;
    let by_sso = |action: &str| log.iter().filter(|(a, who)| a == action && who == "premortem:sso").count();
    assert_eq!(log.iter().filter(|(a, _)| a == "user.create").count(), 2, "{log:?}");
    assert_eq!(log.iter().filter(|(a, _)| a == "user.link_identity").count(), 2, "{log:?}");
    assert_eq!(by_sso("membership.add"), 4, "{log:?}");
    assert_eq!(by_sso("membership.remove"), 1, "{log:?}");
    assert!(
        log.iter().all(|(a, _)| a != "membership.set_role"),
        "a sign-in that changes nothing writes nothing"
    );

    // Disabling the user ends their sessions and refuses the next sign-in.
    let id = app::domain::UserId(alice["id"].as_i64().expect("id"));
    users::set_disabled(&app.db, &admin, id, true).await.expect("disable");
    assert_eq!(me(&app, &browser).await, Value::Null, "the session ended");
    assert_eq!(sign_in(&app, &browser, "alice").await, "/login?sso_error=disabled");
    assert_eq!(me(&app, &browser).await, Value::Null);
    let page = browser
        .get(app.url("/login?sso_error=disabled"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Your account here is disabled."), "{page}");
}

async fn a_prelink_is_confirmed_by_a_verified_address_and_an_address_alone_links_nothing(backend: Backend) {
    let (app, _) = sso_app(backend, &[]).await;
    let carol = app.user("carol", "carol-password-1", false).await;
    let dave = app.user("dave", "dave-password-1", false).await;
    app.user("erin", "erin-password-1", false).await;
    let iss = issuer();
    identities::prelink(&app.db, &Actor::Cli, &iss, carol, Some("Carol@Example.com")).await.expect("prelink");
    identities::prelink(&app.db, &Actor::Cli, &iss, dave, Some("dave.unverified@example.com"))
        .await
        .expect("prelink");

    // Carol's verified address confirms the pre-link: she is the local carol from now on.
    let browser = app.client();
    sign_in(&app, &browser, "carol").await;
    assert_eq!(me(&app, &browser).await["id"], json!(carol.0));
    let linked = identities::of_user(&app.db, carol).await.expect("identity");
    assert!(linked[0].linked_at.is_some(), "{linked:?}");
    // Once linked, the pre-link cannot be pointed elsewhere.
    let moved = identities::prelink(&app.db, &Actor::Cli, &iss, carol, Some("other@example.com")).await;
    assert!(moved.is_err(), "{moved:?}");

    // An address the provider has not verified confirms nothing: a new account, not dave's.
    let other = app.client();
    sign_in(&app, &other, "dave.unverified").await;
    let who = me(&app, &other).await;
    assert_ne!(who["id"], json!(dave.0));
    assert_eq!(who["username"], "dave.unverified");
    assert!(identities::of_user(&app.db, dave).await.expect("identity")[0].linked_at.is_none());

    // A local user with the same name and address as a new identity is not taken over.
    let third = app.client();
    sign_in(&app, &third, "erin").await;
    assert_eq!(me(&app, &third).await["username"], "erin-2");
}

/// What an admin does in the browser: pre-link a local user, map a group; what a user made by
/// the provider sees on their account page (no password to change).
async fn admins_pre_link_and_map_groups_and_provider_users_have_no_password(backend: Backend) {
    let (app, _) = sso_app(backend, &[]).await;
    app.user("root", "root-password-1", true).await;
    let frank = app.user("frank", "frank-password-1", false).await;
    app.team("QUE", &[]).await;
    let admin = app.client();
    assert_eq!(app.login(&admin, "root", "root-password-1").await.status(), StatusCode::OK);
    let user = app.client();
    assert_eq!(app.login(&user, "frank", "frank-password-1").await.status(), StatusCode::OK);

    // Only an admin may pre-link or map, and bad input changes nothing.
    let frank_id = frank.0.to_string();
    let attempt = [("user_id", frank_id.as_str()), ("email", "frank@example.com")];
    assert_eq!(app.call(&user, "admin/prelink", &attempt).await.status(), StatusCode::FORBIDDEN);
    let bad = app
        .call(&admin, "admin/prelink", &[("user_id", frank_id.as_str()), ("email", "not an address")])
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let map = [("group", "everyone"), ("team", "QUE"), ("role", "member")];
    assert_eq!(app.call(&user, "admin/set_group_role", &map).await.status(), StatusCode::FORBIDDEN);
    let bad_role = [("group", "g"), ("team", "QUE"), ("role", "owner")];
    assert_eq!(
        app.call(&admin, "admin/set_group_role", &bad_role).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let no_team = [("group", "g"), ("team", "NOPE"), ("role", "member")];
    assert_eq!(app.call(&admin, "admin/set_group_role", &no_team).await.status(), StatusCode::NOT_FOUND);
    assert!(identities::group_roles(&app.db).await.expect("roles").is_empty());

    assert_eq!(app.call(&admin, "admin/prelink", &attempt).await.status(), StatusCode::OK);
    assert_eq!(app.call(&admin, "admin/set_group_role", &map).await.status(), StatusCode::OK);
    let users_page =
        admin.get(app.url("/admin/users")).send().await.expect("page").text().await.expect("html");
    assert!(users_page.contains("a password; Example SSO once frank@example.com signs in"), "{users_page}");
    let teams_page =
        admin.get(app.url("/admin/teams")).send().await.expect("page").text().await.expect("html");
    assert!(teams_page.contains("data-group=\"everyone\""), "{teams_page}");
    assert!(teams_page.contains("Groups are read from the"), "{teams_page}");

    // Frank signs in at the provider: his own account, now with the mapped role.
    let browser = app.client();
    sign_in(&app, &browser, "frank").await;
    let who = me(&app, &browser).await;
    assert_eq!(who["id"], json!(frank.0));
    assert_eq!(who["teams"][0][2], "member");
    let account = browser.get(app.url("/account")).send().await.expect("page").text().await.expect("html");
    assert!(account.contains("A password kept by Premortem, and Example SSO"), "{account}");

    // Bob has no password here: no form to change one, and the endpoint says why.
    let bob = app.client();
    sign_in(&app, &bob, "bob").await;
    let account = bob.get(app.url("/account")).send().await.expect("page").text().await.expect("html");
    assert!(account.contains("Example SSO (last sign-in"), "{account}");
    assert!(!account.contains("current_password"), "{account}");
    let change = [("current_password", ""), ("new_password", "a-new-password-1")];
    let refused = app.call(&bob, "account/password", &change).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.expect("body").contains("there is no password here"));
    let log = actions(&app).await;
    for action in ["user.prelink_identity", "group_role.set", "user.link_identity"] {
        assert!(log.iter().any(|(a, _)| a == action), "{action}: {log:?}");
    }
}

both_backends!(
    signing_in_creates_one_account_linked_by_subject_and_maps_groups,
    a_prelink_is_confirmed_by_a_verified_address_and_an_address_alone_links_nothing,
    admins_pre_link_and_map_groups_and_provider_users_have_no_password,
);

/// The way back in when the provider is broken and password login is off: the command line
/// sets an admin's password, and with password login on again it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_resets_a_password_for_recovery() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("root", "root-password-1", true).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_premortem"))
        .env("PREMORTEM_DATABASE_URL", &app.test_db.url)
        .env("RUST_LOG", "warn")
        .args(["user", "reset-password", "--username", "root"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run premortem");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"recovered-password-1\n").await.expect("write");
    drop(stdin);
    let out = child.wait_with_output().await.expect("wait");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("password reset for root"));
    let client = app.client();
    assert_eq!(
        app.login(&client, "root", "root-password-1").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.login(&client, "root", "recovered-password-1").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_refused_callbacks_sign_nobody_in() {
    let (app, _) = sso_app(Backend::Sqlite, &[]).await;
    let browser = app.client();

    // A tampered state.
    let callback = walk(&app, &browser, "alice", None).await;
    let forged = callback.replace("state=", "state=x");
    assert_eq!(finish(&app, &browser, &forged).await, "/login?sso_error=expired");
    assert_eq!(me(&app, &browser).await, Value::Null);
    // The flow was used up by the forged attempt: the real callback now fails too.
    assert_eq!(finish(&app, &browser, &callback).await, "/login?sso_error=expired");

    // A callback delivered to another browser (a login CSRF) finds no sign-in under way.
    let callback = walk(&app, &browser, "alice", None).await;
    let victim = app.client();
    assert_eq!(finish(&app, &victim, &callback).await, "/login?sso_error=expired");
    assert_eq!(me(&app, &victim).await, Value::Null);

    // A callback naming another issuer (a mix-up).
    let callback = walk(&app, &browser, "alice", None).await;
    let mixed = url::Url::parse(&callback).expect("url");
    let pairs: Vec<(String, String)> = mixed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" { "https://evil.example".to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    let mut mixed = mixed.clone();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(finish(&app, &browser, mixed.as_str()).await, "/login?sso_error=invalid");

    // The real one once, then its replay.
    let callback = walk(&app, &browser, "alice", None).await;
    assert_eq!(finish(&app, &browser, &callback).await, "/");
    let session = me(&app, &browser).await;
    assert_eq!(session["username"], "alice");
    let replay = app.client();
    assert_eq!(finish(&app, &replay, &callback).await, "/login?sso_error=expired");

    // The provider's refusal reaches the user as a fixed message, never its own words.
    let start = browser.get(app.url("/auth/oidc/start")).send().await.expect("start");
    let sent = url::Url::parse(&location(&start, &app.url("/"))).expect("url");
    let state = sent.query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned();
    let refused = app.url(&format!(
        "/auth/oidc/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}"
    ));
    assert_eq!(finish(&app, &browser, &refused).await, "/login?sso_error=denied");
    let page = browser
        .get(app.url("/login?sso_error=denied"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("did not sign you in"), "{page}");
    assert!(!page.contains("alert(1)"));
    // A sign-in that was refused leaves an earlier session as it was.
    assert_eq!(me(&app, &browser).await["username"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_that_fail_validation_are_refused() {
    let (app, client_id) = sso_app(Backend::Sqlite, &[]).await;
    for kind in ["nonce", "expired", "issuer", "audience", "unknown-key"] {
        let browser = app.client();
        let callback = walk(&app, &browser, "alice", None).await;
        tamper(&client_id, kind).await;
        assert_eq!(finish(&app, &browser, &callback).await, "/login?sso_error=invalid", "{kind}");
        assert_eq!(me(&app, &browser).await, Value::Null, "{kind}");
    }
    assert!(users::list(&app.db).await.expect("users").is_empty(), "no account was made");

    // Within the minute of clock skew allowed, and signed by a key the provider published
    // since the app last fetched its keys: both accepted.
    for kind in ["skewed", "rotated"] {
        let browser = app.client();
        let callback = walk(&app, &browser, "alice", None).await;
        tamper(&client_id, kind).await;
        assert_eq!(finish(&app, &browser, &callback).await, "/", "{kind}");
        assert_eq!(me(&app, &browser).await["username"], "alice", "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_domains_refuse_other_addresses() {
    let (app, _) = sso_app(Backend::Sqlite, &["--oidc-allowed-domains", "example.com, example.org"]).await;
    for refused in ["zed@other.test", "yan.unverified"] {
        let browser = app.client();
        assert_eq!(sign_in(&app, &browser, refused).await, "/login?sso_error=domain", "{refused}");
        assert_eq!(me(&app, &browser).await, Value::Null);
    }
    let browser = app.client();
    assert_eq!(sign_in(&app, &browser, "xia@example.org").await, "/");
    assert_eq!(me(&app, &browser).await["username"], "xia");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_password_login_off_only_the_provider_signs_in() {
    let (app, _) = sso_app(Backend::Sqlite, &["--password-login", "false"]).await;
    app.user("local", "local-password-1", true).await;
    let page =
        app.client().get(app.url("/login")).send().await.expect("login page").text().await.expect("html");
    assert!(page.contains("Sign in with Example SSO"), "{page}");
    assert!(!page.contains("name=\"password\""), "no password form: {page}");

    let browser = app.client();
    let refused = app.login(&browser, "local", "local-password-1").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&refused).is_none());
    assert!(refused.text().await.expect("body").contains("Password login is turned off here"));
    assert_eq!(me(&app, &browser).await, Value::Null);
    sign_in(&app, &browser, "alice").await;
    assert_eq!(me(&app, &browser).await["username"], "alice");
}

/// The tests' own provider process (killed when dropped).
struct OwnProvider(std::process::Child);

impl Drop for OwnProvider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The provider down when the app starts: the app serves, says so on the button's way, keeps
/// the password login, and signs in through the provider once it is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_at_start_is_retried_and_the_app_serves_meanwhile() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let down = format!("http://127.0.0.1:{port}");
    let (app, _) = sso_app_at(Backend::Sqlite, &format!("unregistered:{down}"), &[]).await;
    app.user("local", "local-password-1", false).await;
    let browser = app.client();
    let start = browser.get(app.url("/auth/oidc/start")).send().await.expect("start");
    assert_eq!(location(&start, &app.url("/")), app.url("/login?sso_error=unavailable"));
    let page = browser.get(app.url("/login?sso_error=unavailable")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("cannot be reached just now"));
    assert_eq!(app.login(&browser, "local", "local-password-1").await.status(), StatusCode::OK);
    assert_eq!(app.client().get(app.url("/healthz")).send().await.expect("health").status(), StatusCode::OK);

    // The provider comes up: the app's retries find it, and a sign-in goes through.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/oidc/provider.mjs");
    let _provider = OwnProvider(
        std::process::Command::new("node")
            .args([script, "--port", &port.to_string()])
            .env("OIDC_CLIENT_SECRET", "static-client-secret")
            .env("OIDC_REDIRECT_URI", app.url("/auth/oidc/callback"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs the provider"),
    );
    let browser = app.client();
    assert_eq!(sign_in(&app, &browser, "alice").await, "/");
    assert_eq!(me(&app, &browser).await["username"], "alice");
}
