//! API tokens for CI, managed by team leads; and what the "Connect your CI" page needs.

use crate::domain::AppError;
use crate::domain::gate::RunSummary;
use crate::domain::scope::TokenInfo;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A team's CI connection: tokens, recent runs and the address CI should use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiView {
    pub team: String,
    pub base_url: String,
    pub can_manage: bool,
    pub tokens: Vec<TokenInfo>,
    pub runs: Vec<RunSummary>,
    /// A token created by a plain form post in this session, shown once.
    pub new_token: Option<String>,
}

/// The team's CI page. Members see runs; leads also manage tokens.
#[server(endpoint = "ci")]
pub async fn ci_page(team: String) -> Result<CiView, AppError> {
    use crate::domain::Role;
    use crate::ssr::store::tokens;
    let (user, state, team) = super::team_access(&team, Role::Viewer).await?;
    let can_manage = user.has_role(team.id, Role::Lead);
    let tokens = if can_manage { tokens::list(&state.db, team.id).await? } else { Vec::new() };
    let runs = crate::ssr::store::evidence::recent_runs(&state.db, team.id, 20).await?;
    let new_token = if can_manage { super::flash::take(&ci_path(&team.slug)).await? } else { None };
    Ok(CiView { team: team.slug, base_url: base_url(&state), can_manage, tokens, runs, new_token })
}

/// The team's CI page, which shows a token created by a plain form post.
#[cfg(feature = "ssr")]
fn ci_path(team: &str) -> String {
    format!("/teams/{team}/ci")
}

/// The address CI should call: the configured public URL, else what the browser used.
#[cfg(feature = "ssr")]
fn base_url(state: &crate::ssr::AppState) -> String {
    let parts = use_context::<axum::http::request::Parts>();
    state.public_url.clone().map(|u| u.trim_end_matches('/').to_owned()).unwrap_or_else(|| {
        let host = parts
            .as_ref()
            .and_then(|p| p.headers.get(axum::http::header::HOST))
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:3000");
        let scheme = parts
            .as_ref()
            .and_then(|p| p.headers.get("x-forwarded-proto"))
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http");
        format!("{scheme}://{host}")
    })
}

/// Creates a token; answers it (the only time it is shown). Team leads and admins.
#[server(endpoint = "create_token")]
pub async fn create_token(
    team: String,
    name: String,
    /// Each scope's name (`scopes[]`, one per ticked box).
    scopes: Option<Vec<String>>,
    expires_days: String,
) -> Result<String, AppError> {
    use crate::domain::Role;
    use crate::domain::change::required_line;
    use crate::domain::scope::Scope;
    use crate::domain::time::Timestamp;
    use crate::ssr::audit_actor;
    use crate::ssr::store::tokens;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let db = state.db;
    let name = required_line("name", "Name", &name, 100)?;
    let mut chosen = Vec::new();
    for name in scopes.unwrap_or_default() {
        let scope = Scope::parse(&name).ok_or_else(|| {
            AppError::invalid(
                "scopes",
                format!("There is no scope {}.", crate::domain::error::bounded(&name)),
            )
        })?;
        if !chosen.contains(&scope) {
            chosen.push(scope);
        }
    }
    let scopes = chosen;
    if scopes.is_empty() {
        return Err(AppError::invalid("scopes", "Choose at least one scope."));
    }
    let expires_at = match expires_days.trim() {
        "" => None,
        days => Some(days.parse::<i64>().ok().filter(|d| (1..=3650).contains(d)).ok_or_else(|| {
            AppError::invalid("expires_days", "Expiry must be 1 to 3650 days, or empty for never.")
        })?),
    }
    .map(|days| Timestamp::now() + crate::domain::time::Days(days));
    let token =
        tokens::create(&db, &audit_actor(&user), team.id, Some(user.id), &name, &scopes, expires_at).await?;
    super::flash::keep(&ci_path(&team.slug), &token).await?;
    Ok(token)
}

/// Revokes a token of the team. Team leads and admins.
#[server(endpoint = "revoke_token")]
pub async fn revoke_token(team: String, id: i64) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::ssr::audit_actor;
    use crate::ssr::store::tokens;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let db = state.db;
    tokens::revoke(&db, &audit_actor(&user), team.id, crate::domain::ids::TokenId(id)).await
}

/// Gives a token of the team to another member (`username`), who must be able to change the
/// team's changes: the token then works on their behalf (and stops when they leave). Team
/// leads and admins.
#[server(endpoint = "transfer_token")]
pub async fn transfer_token(team: String, id: i64, username: String) -> Result<(), AppError> {
    use crate::domain::{Role, Username};
    use crate::ssr::audit_actor;
    use crate::ssr::store::{teams, tokens, users};
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let db = state.db;
    let username = Username::parse(&username)?;
    let owner = users::id_by_username(&db, &username).await?;
    let member = teams::members(&db, team.id).await?.into_iter().find(|m| m.username == username.as_str());
    if member.is_none_or(|m| m.role < Role::Member) {
        return Err(AppError::invalid("username", "Give the token to a member or lead of this team."));
    }
    tokens::transfer(&db, &audit_actor(&user), team.id, crate::domain::ids::TokenId(id), owner).await
}
