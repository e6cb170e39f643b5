//! Roles: who may do what, on which object, and that every mutation is audited.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::ssr::audit;
use reqwest::StatusCode;
use serde_json::Value;

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut conn = app.db.read().acquire().await.expect("conn");
    let mut actions: Vec<String> =
        audit::recent(&mut conn, None, 1000).await.expect("audit").into_iter().map(|r| r.action).collect();
    actions.reverse();
    actions
}

async fn only_admins_administer_users_and_teams(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    let member = app.user("mia", "mia-password-12", false).await;
    app.team("PAY", &[(member, Role::Lead)]).await;
    let mia = app.client();
    app.login(&mia, "mia", "mia-password-12").await;

    let create_user = [("username", "eve"), ("display_name", "Eve"), ("password", "eve-password-1")];
    for (endpoint, form) in [
        ("admin/create_user", &create_user[..]),
        ("admin/create_team", &[("slug", "OPS"), ("name", "Ops")][..]),
        ("admin/reset_password", &[("user_id", "1"), ("password", "taken-over-1")][..]),
        ("admin/set_disabled", &[("user_id", "1"), ("disabled", "true")][..]),
        ("admin/users", &[][..]),
    ] {
        let response = app.call(&mia, endpoint, form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{endpoint}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, Value::from("Forbidden"), "{endpoint}");
    }
    let anonymous = app.call(&app.client(), "admin/create_team", &[("slug", "OPS"), ("name", "Ops")]).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let root = app.client();
    app.login(&root, "root", "root-password-1").await;
    assert_eq!(app.call(&root, "admin/create_user", &create_user).await.status(), StatusCode::OK);
    assert_eq!(
        app.call(&root, "admin/create_team", &[("slug", "ops"), ("name", "Ops")]).await.status(),
        StatusCode::OK
    );
    let users: Value = app.call(&root, "admin/users", &[]).await.json().await.expect("json");
    let names: Vec<&str> =
        users["users"].as_array().expect("list").iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["eve", "mia", "root"]);
    assert!(!users.to_string().contains("argon2"), "no password hash leaves the server");
    let actions = audit_actions(&app).await;
    assert!(actions.ends_with(&["user.create".to_owned(), "team.create".to_owned()]), "{actions:?}");
}

async fn leads_manage_their_own_team_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lead = app.user("lena", "lena-password-1", false).await;
    let viewer = app.user("vic", "vic-password-12", false).await;
    app.user("newbie", "newbie-password", false).await;
    app.team("PAY", &[(lead, Role::Lead), (viewer, Role::Viewer)]).await;
    app.team("OPS", &[]).await;

    let vic = app.client();
    app.login(&vic, "vic", "vic-password-12").await;
    let form = [("team", "PAY"), ("username", "newbie"), ("role", "member")];
    assert_eq!(app.call(&vic, "set_member", &form).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.call(&vic, "team", &[("slug", "PAY")]).await.status(), StatusCode::OK, "viewers read");
    // Another team's page looks like a team that does not exist.
    assert_eq!(app.call(&vic, "team", &[("slug", "OPS")]).await.status(), StatusCode::NOT_FOUND);

    let lena = app.client();
    app.login(&lena, "lena", "lena-password-1").await;
    assert_eq!(app.call(&lena, "set_member", &form).await.status(), StatusCode::OK);
    let other_team = [("team", "OPS"), ("username", "newbie"), ("role", "member")];
    assert_eq!(app.call(&lena, "set_member", &other_team).await.status(), StatusCode::NOT_FOUND);
    let bad_role = [("team", "PAY"), ("username", "newbie"), ("role", "owner")];
    let response = app.call(&lena, "set_member", &bad_role).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["Invalid"]["field"], "role");

    let page: Value = app.call(&lena, "team", &[("slug", "pay")]).await.json().await.expect("json");
    let members: Vec<(&str, &str)> = page["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (m["username"].as_str().unwrap_or_default(), m["role"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(members, [("lena", "lead"), ("newbie", "member"), ("vic", "viewer")]);

    // The member now sees the team in their session.
    let newbie = app.client();
    app.login(&newbie, "newbie", "newbie-password").await;
    let me: Value = app.call(&newbie, "me", &[]).await.json().await.expect("json");
    assert_eq!(me["teams"][0][1], "PAY");
    assert_eq!(me["teams"][0][2], "member");
    assert!(audit_actions(&app).await.ends_with(&["membership.add".to_owned()]));
}

async fn disabling_or_resetting_ends_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    let alice_id = app.user("alice", "alice-password-1", false).await;
    let root = app.client();
    app.login(&root, "root", "root-password-1").await;
    let alice = app.client();
    app.login(&alice, "alice", "alice-password-1").await;
    let id = alice_id.0.to_string();

    let reset = [("user_id", id.as_str()), ("password", "new-alice-password")];
    assert_eq!(app.call(&root, "admin/reset_password", &reset).await.status(), StatusCode::OK);
    let me: Value = app.call(&alice, "me", &[]).await.json().await.expect("json");
    assert_eq!(me, Value::Null, "a password reset ends existing sessions");
    assert_eq!(
        app.login(&alice, "alice", "alice-password-1").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.login(&alice, "alice", "new-alice-password").await.status(), StatusCode::OK);

    let disable = [("user_id", id.as_str()), ("disabled", "true")];
    assert_eq!(app.call(&root, "admin/set_disabled", &disable).await.status(), StatusCode::OK);
    let me: Value = app.call(&alice, "me", &[]).await.json().await.expect("json");
    assert_eq!(me, Value::Null, "disabling ends existing sessions");
    let refused = app.login(&alice, "alice", "new-alice-password").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "disabled looks like a wrong password");

    let actions = audit_actions(&app).await;
    assert!(actions.ends_with(&["user.reset_password".to_owned(), "user.disable".to_owned()]), "{actions:?}");
    let mut conn = app.db.read().acquire().await.expect("conn");
    let entries = audit::recent(&mut conn, None, 10).await.expect("audit");
    assert!(entries.iter().all(|e| !e.after.as_deref().unwrap_or_default().contains("argon2")));
}

async fn invalid_input_is_refused_with_the_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    let root = app.client();
    app.login(&root, "root", "root-password-1").await;
    let before = audit_actions(&app).await.len();

    for (form, field) in [
        ([("username", "x"), ("display_name", "X"), ("password", "long-enough-1")], "username"),
        ([("username", "okname"), ("display_name", " "), ("password", "long-enough-1")], "display_name"),
        ([("username", "okname"), ("display_name", "Ok"), ("password", "short")], "password"),
        ([("username", "root"), ("display_name", "Again"), ("password", "long-enough-1")], "username"),
    ] {
        let response = app.call(&root, "admin/create_user", &form).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["Invalid"]["field"], field, "{body}");
    }
    // Beyond the body limit the server answers 413 at once; a client still sending may
    // instead see the connection close. Either way nothing is stored.
    let huge = "x".repeat(5 * 1024 * 1024);
    let form = [("slug", "BIG"), ("name", huge.as_str())];
    if let Ok(response) = root.post(app.url("/api/admin/create_team")).form(&form).send().await {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let response = app.call(&root, "admin/create_team", &[("slug", "1-bad"), ("name", "Bad")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app.call(&root, "admin/create_team", &[("slug", "MISSING")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "a missing field is the client's error");
    assert_eq!(audit_actions(&app).await.len(), before, "nothing was written");
}

async fn the_audit_chain_detects_tampering(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.user("alice", "alice-password-1", false).await;
    app.team("PAY", &[(a, Role::Member)]).await;
    let mut conn = app.db.read().acquire().await.expect("conn");
    assert!(audit::verify_chain(&mut conn).await.expect("read").is_ok());

    // The log refuses edits outright...
    let edit = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE id = 2").execute(&mut *conn).await;
    assert!(edit.is_err(), "updates are refused by the database");
    let delete = sqlx::query("DELETE FROM audit_log WHERE id = 1").execute(&mut *conn).await;
    assert!(delete.is_err(), "deletes are refused by the database");

    // ...and someone who bypasses that (drops the guard) is still caught by the chain.
    let unguard = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    };
    sqlx::query(unguard).execute(&mut *conn).await.expect("drop guard");
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
        .execute(&mut *conn)
        .await
        .expect("edit");
    let broken = audit::verify_chain(&mut conn).await.expect("read").expect_err("the edit is caught");
    assert_eq!((broken.id, broken.fault), (app::domain::ids::AuditEntryId(2), audit::Fault::Content));
}

both_backends!(
    only_admins_administer_users_and_teams,
    leads_manage_their_own_team_only,
    disabling_or_resetting_ends_sessions,
    invalid_input_is_refused_with_the_field_and_changes_nothing,
    the_audit_chain_detects_tampering,
);
