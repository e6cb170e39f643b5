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
    let new_token = if can_manage { flash::take(&team.slug).await? } else { None };
    Ok(CiView { team: team.slug, base_url: base_url(&state), can_manage, tokens, runs, new_token })
}

/// A token created by a plain form post waits for the page the browser is redirected to,
/// split in two so that neither the session store nor the browser alone holds it: the
/// session keeps the token XOR a random pad (a one-time pad), the browser the pad, in a
/// short-lived cookie for this page only. Showing it deletes the cookie.
#[cfg(feature = "ssr")]
mod flash {
    use crate::domain::AppError;
    use leptos::prelude::*;

    const SESSION_KEY: &str = "new_token_sealed";
    const COOKIE: &str = "premortem_new_token";

    fn cookie_path(team: &str) -> String {
        format!("/teams/{team}/ci")
    }

    fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
        a.iter().zip(b).map(|(x, y)| x ^ y).collect()
    }

    fn set_cookie(value: &str) {
        if let (Some(response), Ok(value)) =
            (use_context::<leptos_axum::ResponseOptions>(), axum::http::HeaderValue::from_str(value))
        {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }

    /// Keeps `token` for the team's CI page, which shows it once.
    pub async fn keep(team: &str, token: &str) -> Result<(), AppError> {
        use rand::RngCore;
        let mut pad = vec![0u8; token.len()];
        rand::rngs::OsRng.fill_bytes(&mut pad);
        let sealed = hex::encode(xor(token.as_bytes(), &pad));
        crate::ssr::auth::session()
            .await?
            .insert(SESSION_KEY, sealed)
            .await
            .map_err(|e| crate::ssr::error::internal("session", &e))?;
        let secure = crate::ssr::state()?.secure_cookies;
        set_cookie(&format!(
            "{COOKIE}={}; Path={}; Max-Age=120; HttpOnly; SameSite=Strict{}",
            hex::encode(pad),
            cookie_path(team),
            if secure { "; Secure" } else { "" }
        ));
        Ok(())
    }

    /// The token kept for this page, if the browser brought its pad; the pad cookie is
    /// deleted with this response. (One page render may call this more than once.)
    pub async fn take(team: &str) -> Result<Option<String>, AppError> {
        let session = crate::ssr::auth::session().await?;
        let sealed = session
            .get::<String>(SESSION_KEY)
            .await
            .map_err(|e| crate::ssr::error::internal("session", &e))?;
        let pad =
            use_context::<axum::http::request::Parts>().and_then(|parts| {
                parts.headers.get_all(axum::http::header::COOKIE).iter().find_map(|header| {
                    header.to_str().ok()?.split(';').find_map(|pair| {
                        pair.trim().strip_prefix(COOKIE)?.strip_prefix('=').map(str::to_owned)
                    })
                })
            });
        let (Some(sealed), Some(pad)) = (sealed, pad) else {
            return Ok(None);
        };
        set_cookie(&format!("{COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict", cookie_path(team)));
        let (Ok(sealed), Ok(pad)) = (hex::decode(sealed), hex::decode(pad)) else {
            return Ok(None);
        };
        Ok(String::from_utf8(xor(&sealed, &pad)).ok().filter(|t| t.len() == sealed.len()))
    }
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
    scope_evidence: Option<String>,
    scope_read: Option<String>,
    scope_write: Option<String>,
    scope_webhooks: Option<String>,
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
    let scopes: Vec<Scope> = [
        (scope_evidence, Scope::EvidenceWrite),
        (scope_read, Scope::ChangesRead),
        (scope_write, Scope::ChangesWrite),
        (scope_webhooks, Scope::WebhooksManage),
    ]
    .into_iter()
    .filter(|(on, _)| on.is_some())
    .map(|(_, s)| s)
    .collect();
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
    if super::is_html_form() {
        // Without JavaScript the reply is a redirect: the page it leads to shows the token.
        flash::keep(&team.slug, &token).await?;
    }
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
