//! What a team's lead and an admin do about people: remove a member (their personal tokens
//! stop working), give a token to another member, and see who is in which team.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::Role;
use app::domain::scope::Scope;
use app::ssr::audit;
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn removing_a_member_stops_their_tokens_and_a_lead_gives_one_to_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    let lena = app.user("lena", "lena-password-1", false).await;
    let mia = app.user("mia", "mia-password-1", false).await;
    let max = app.user("max", "max-password-1", false).await;
    let vic = app.user("vic", "vic-password-1", false).await;
    app.team("QUE", &[(lena, Role::Lead), (mia, Role::Member), (max, Role::Member), (vic, Role::Viewer)])
        .await;
    let token = app.token("QUE", &[Scope::ChangesRead, Scope::EvidenceWrite], Some(mia)).await;
    let works = |expected: StatusCode| {
        let request = app.api(Method::GET, "/changes", &token);
        async move {
            let response = request.send().await.expect("api");
            assert_eq!(response.status(), expected);
            response.text().await.expect("body")
        }
    };
    works(StatusCode::OK).await;

    let lead = app.client();
    app.login(&lead, "lena", "lena-password-1").await;
    let removed =
        app.call(&lead, "set_member", &[("team", "QUE"), ("username", "mia"), ("role", "remove")]).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let refusal = works(StatusCode::FORBIDDEN).await;
    assert!(refusal.contains("no longer a member"), "{refusal}");

    // The lead gives the token to someone who may change the team's changes, and it works again.
    let tokens: Value = app.call(&lead, "ci", &[("team", "QUE")]).await.json().await.expect("ci");
    let id = tokens["tokens"][0]["id"].to_string();
    let give =
        |to: &'static str| [("team", "QUE".to_owned()), ("id", id.clone()), ("username", to.to_owned())];
    let to_viewer = app.call_owned(&lead, "transfer_token", &give("vic")).await;
    assert_eq!(to_viewer.status(), StatusCode::UNPROCESSABLE_ENTITY, "a viewer cannot hold it");
    let to_nobody = app.call_owned(&lead, "transfer_token", &give("nobody")).await;
    assert_eq!(to_nobody.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let member = app.client();
    app.login(&member, "max", "max-password-1").await;
    let not_lead = app.call_owned(&member, "transfer_token", &give("max")).await;
    assert_eq!(not_lead.status(), StatusCode::FORBIDDEN, "only leads give tokens away");
    works(StatusCode::FORBIDDEN).await;
    assert_eq!(app.call_owned(&lead, "transfer_token", &give("max")).await.status(), StatusCode::OK);
    works(StatusCode::OK).await;
    let page = lead.get(app.url("/teams/QUE/ci")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("max (personal)"), "{page}");

    // A disabled owner's token stops too.
    app::ssr::store::users::set_disabled(&app.db, &app::ssr::audit::Actor::Cli, max, true)
        .await
        .expect("disable");
    works(StatusCode::FORBIDDEN).await;

    // An admin sees who is in which team, with what role.
    let root = app.client();
    app.login(&root, "root", "root-password-1").await;
    assert_eq!(app.call(&lead, "admin/memberships", &[]).await.status(), StatusCode::FORBIDDEN);
    let all: Value = app.call(&root, "admin/memberships", &[]).await.json().await.expect("json");
    let rows: Vec<(String, String)> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|m| {
            (m["username"].as_str().expect("name").to_owned(), m["role"].as_str().expect("role").to_owned())
        })
        .collect();
    let expected = [("lena", "lead"), ("max", "member"), ("vic", "viewer")];
    assert_eq!(rows, expected.map(|(u, r)| (u.to_owned(), r.to_owned())), "leads first, mia gone");
    let page = root.get(app.url("/admin/teams")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("Who is in which team") && page.contains("data-member=\"QUE/vic\""), "{page}");

    let mut conn = app.db.read().acquire().await.expect("conn");
    let entries = audit::recent(&mut conn, None, 100).await.expect("audit");
    let transfer: Vec<_> = entries.iter().filter(|e| e.action == "token.transfer").collect();
    assert_eq!(transfer.len(), 1);
    assert!(transfer[0].before.as_deref().is_some_and(|b| b.contains("mia")), "{transfer:?}");
    assert!(transfer[0].after.as_deref().is_some_and(|a| a.contains("max")), "{transfer:?}");
    assert!(entries.iter().any(|e| e.action == "membership.remove"));
}

both_backends!(removing_a_member_stops_their_tokens_and_a_lead_gives_one_to_another);
