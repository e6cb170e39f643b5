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

both_backends!(
    a_user_changes_their_password_and_every_other_session_ends,
    the_account_page_works_as_plain_forms,
);
