//! The account page: a user's own display name and password.

use crate::both_backends;
use crate::common::{Backend, TestApp, session_cookie};
use app::ssr::audit;
use reqwest::StatusCode;
use serde_json::Value;

async fn me(app: &TestApp, client: &reqwest::Client) -> Value {
    app.call(client, "me", &[]).await.json().await.expect("json")
}

async fn a_user_changes_their_password_and_every_other_session_ends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let (laptop, phone) = (app.client(), app.client());
    let before = app.login(&laptop, "alice", "alice-password-1").await;
    let before = session_cookie(&before).expect("cookie");
    app.login(&phone, "alice", "alice-password-1").await;

    let change =
        |current: &'static str, new: &'static str| [("current_password", current), ("new_password", new)];
    // Refusals change nothing: a wrong current password, a short new one, the same one.
    let wrong = app.call(&laptop, "account/password", &change("not-her-password", "alice-password-2")).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong: Value = wrong.json().await.expect("json");
    assert_eq!(wrong["Invalid"]["field"], "current_password", "{wrong}");
    let short = app.call(&laptop, "account/password", &change("alice-password-1", "short")).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let same = app.call(&laptop, "account/password", &change("alice-password-1", "alice-password-1")).await;
    assert_eq!(same.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(me(&app, &phone).await["username"], "alice", "nothing changed yet");

    let changed =
        app.call(&laptop, "account/password", &change("alice-password-1", "alice-password-2")).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let after = session_cookie(&changed).expect("the session id rotates");
    assert_ne!(after, before);
    assert_eq!(me(&app, &laptop).await["username"], "alice", "this session goes on");
    assert_eq!(me(&app, &phone).await, Value::Null, "every other session ends");
    let old = reqwest::Client::new()
        .post(app.url("/api/me"))
        .header("Cookie", format!("premortem_session={before}"))
        .send()
        .await
        .expect("request");
    assert_eq!(old.json::<Value>().await.expect("json"), Value::Null, "the old session id is worthless");

    let fresh = app.client();
    assert_eq!(
        app.login(&fresh, "alice", "alice-password-1").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.login(&fresh, "alice", "alice-password-2").await.status(), StatusCode::OK);

    // Guessing the current password from a stolen session is throttled like a login.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            app.call(&fresh, "account/password", &change("guess-password-x", "alice-password-3"))
                .await
                .status(),
        );
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let right = app.call(&fresh, "account/password", &change("alice-password-2", "alice-password-3")).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");

    let mut conn = app.db.read().acquire().await.expect("conn");
    let entries = audit::recent(&mut conn, None, 100).await.expect("audit");
    let changes: Vec<_> = entries.iter().filter(|e| e.action == "user.reset_password").collect();
    assert_eq!(changes.len(), 1, "one change, audited once");
    assert!(entries.iter().all(|e| !e.after.as_deref().unwrap_or_default().contains("argon2")));

    // Anonymous callers are refused before anything is read.
    let anonymous =
        app.call(&app.client(), "account/password", &change("alice-password-2", "x-password-44")).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn the_account_page_works_as_plain_forms(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let client = app.client();
    app.login(&client, "alice", "alice-password-1").await;
    let page = client.get(app.url("/account")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("text");
    assert!(page.contains("Your account") && page.contains(r#"href="/account""#), "{page}");

    let form = |path: &str, fields: &[(&str, &str)]| {
        client
            .post(app.url(path))
            .header("Accept", "text/html")
            .header("Referer", app.url("/account"))
            .form(fields)
            .send()
    };
    let renamed =
        form("/api/account/display_name", &[("display_name", "  Alice Liddell  ")]).await.expect("post");
    assert_eq!(renamed.status(), StatusCode::FOUND);
    assert_eq!(renamed.headers()["location"], "/account?done=name");
    let page =
        client.get(app.url("/account?done=name")).send().await.expect("page").text().await.expect("text");
    assert!(page.contains("Your display name is saved."), "{page}");
    assert!(page.contains(r#"class="user-name">Alice Liddell<"#), "the header: {page}");
    assert_eq!(me(&app, &client).await["display_name"], "Alice Liddell");

    let blank = form("/api/account/display_name", &[("display_name", "   ")]).await.expect("post");
    let location = blank.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(location.contains("__err="), "{location}");
    let page = client.get(&location).send().await.expect("page").text().await.expect("text");
    assert!(page.contains("Name must be 1 to 100 characters"), "{page}");
    assert_eq!(me(&app, &client).await["display_name"], "Alice Liddell", "a refusal changes nothing");
    // The same name again records nothing.
    form("/api/account/display_name", &[("display_name", "Alice Liddell")]).await.expect("post");

    let fields = [("current_password", "alice-password-1"), ("new_password", "alice-password-2")];
    let changed = form("/api/account/password", &fields).await.expect("post");
    assert_eq!(changed.status(), StatusCode::FOUND);
    assert_eq!(changed.headers()["location"], "/account?done=password");
    let page =
        client.get(app.url("/account?done=password")).send().await.expect("page").text().await.expect("text");
    assert!(page.contains("Every other session of yours is signed out."), "{page}");

    let mut conn = app.db.read().acquire().await.expect("conn");
    let entries = audit::recent(&mut conn, None, 100).await.expect("audit");
    let renames: Vec<_> = entries.iter().filter(|e| e.action == "user.rename").collect();
    assert_eq!(renames.len(), 1, "{renames:?}");
    assert!(renames[0].after.as_deref().is_some_and(|a| a.contains("Alice Liddell")), "{:?}", renames[0]);
}

/// The account page's list of sessions: one signed out, then every other one; nobody signs
/// out a session that is not theirs.
async fn a_user_sees_their_sessions_and_signs_out_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    app.user("mallory", "mallory-password-1", false).await;
    let agent = |name: &str| {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(name)
            .build()
            .expect("client")
    };
    let (laptop, phone, tablet) = (agent("Laptop/1.0"), agent("Phone/2.0"), agent("Tablet/3.0 <b>"));
    for client in [&laptop, &phone, &tablet] {
        assert_eq!(app.login(client, "alice", "alice-password-1").await.status(), StatusCode::OK);
    }
    let mallory = app.client();
    app.login(&mallory, "mallory", "mallory-password-1").await;

    let list: Value = app.call(&laptop, "account/sessions", &[]).await.json().await.expect("json");
    let list = list.as_array().expect("sessions").clone();
    assert_eq!(list.len(), 3, "{list:?}");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Laptop/1.0");
    assert_eq!(current[0]["client"], "127.0.0.1");
    let phone_id = list.iter().find(|s| s["user_agent"] == "Phone/2.0").expect("phone")["id"].to_string();

    // Mallory cannot sign out Alice's phone: it is not hers to see.
    let refused = app.call(&mallory, "account/sign_out", &[("id", phone_id.as_str())]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(me(&app, &phone).await["username"], "alice");
    // Nor does anyone sign out the session they are in by its id (that is logging out).
    let own = current[0]["id"].to_string();
    assert_eq!(
        app.call(&laptop, "account/sign_out", &[("id", own.as_str())]).await.status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.call(&laptop, "account/sign_out", &[("id", phone_id.as_str())]).await.status(),
        StatusCode::OK
    );
    assert_eq!(me(&app, &phone).await, Value::Null, "the phone is signed out");
    assert_eq!(me(&app, &tablet).await["username"], "alice");
    assert_eq!(app.call(&laptop, "account/sign_out", &[]).await.status(), StatusCode::OK);
    assert_eq!(me(&app, &tablet).await, Value::Null, "everywhere else");
    assert_eq!(me(&app, &laptop).await["username"], "alice", "this session goes on");
    assert_eq!(me(&app, &mallory).await["username"], "mallory", "nobody else is touched");
    let list: Value = app.call(&laptop, "account/sessions", &[]).await.json().await.expect("json");
    assert_eq!(list.as_array().expect("sessions").len(), 1);

    // The page lists them, the user agent as text.
    let page = laptop.get(app.url("/account")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("Where you are signed in") && page.contains("This session"), "{page}");
    // Logging out forgets the session's row too.
    app.call(&laptop, "logout", &[]).await;
    let again = agent("Laptop/1.0");
    app.login(&again, "alice", "alice-password-1").await;
    let list: Value = app.call(&again, "account/sessions", &[]).await.json().await.expect("json");
    assert_eq!(list.as_array().expect("sessions").len(), 1);

    let mut conn = app.db.read().acquire().await.expect("conn");
    let entries = audit::recent(&mut conn, None, 100).await.expect("audit");
    let actions: Vec<_> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"user.sign_out_session") && actions.contains(&"user.sign_out_others"),
        "{actions:?}"
    );
}

/// A user's personal tokens on their account page, revoked from there; someone else's token
/// is not theirs to revoke.
async fn a_user_revokes_their_own_personal_tokens(backend: Backend) {
    use app::domain::Role;
    use app::domain::scope::Scope;
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice", "alice-password-1", false).await;
    let bob = app.user("bob", "bob-password-1", false).await;
    app.team("QUE", &[(alice, Role::Member), (bob, Role::Member)]).await;
    let mine = app.token("QUE", &[Scope::ChangesRead], Some(alice)).await;
    let bobs = app.token("QUE", &[Scope::ChangesRead], Some(bob)).await;
    let client = app.client();
    app.login(&client, "alice", "alice-password-1").await;
    let list: Value = app.call(&client, "account/tokens", &[]).await.json().await.expect("json");
    let list = list.as_array().expect("tokens").clone();
    assert_eq!(list.len(), 1, "only her own: {list:?}");
    assert_eq!(list[0]["team"], "QUE");
    let id = list[0]["token"]["id"].to_string();
    let bob_id = (id.parse::<i64>().expect("id") + 1).to_string();
    assert!(!list[0].to_string().contains(&mine), "the secret is never listed");

    let refused = app.call(&client, "account/revoke_token", &[("id", bob_id.as_str())]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.api(reqwest::Method::GET, "/changes", &bobs).send().await.expect("api").status(),
        StatusCode::OK
    );

    assert_eq!(
        app.api(reqwest::Method::GET, "/changes", &mine).send().await.expect("api").status(),
        StatusCode::OK
    );
    assert_eq!(
        app.call(&client, "account/revoke_token", &[("id", id.as_str())]).await.status(),
        StatusCode::OK
    );
    let after = app.api(reqwest::Method::GET, "/changes", &mine).send().await.expect("api");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "a revoked token stops working");
    let again = app.call(&client, "account/revoke_token", &[("id", id.as_str())]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "revoked once");
    let page = client.get(app.url("/account")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("Your API tokens") && page.contains("revoked"), "{page}");
}

both_backends!(
    a_user_changes_their_password_and_every_other_session_ends,
    the_account_page_works_as_plain_forms,
    a_user_sees_their_sessions_and_signs_out_others,
    a_user_revokes_their_own_personal_tokens,
);
