//! Server functions, one file per resource. Each is thin: authorize, call the store,
//! answer. Their errors are [`AppError`](crate::domain::AppError)s with user-safe text.

pub mod account;
pub mod admin;
pub mod auth;
pub mod changes;
pub mod import;
pub mod incidents;
pub mod portfolio;
pub mod search;
pub mod teams;
pub mod tokens;
pub mod webhooks;

#[cfg(feature = "ssr")]
mod flash;

/// The logged-in user, the state, and the team with this slug, if the user holds at least
/// `needed` there (admins hold every role), and then only if the call's arguments are within
/// their bounds. An unparsable slug is a team not found.
#[cfg(feature = "ssr")]
async fn team_access(
    slug: &str,
    needed: crate::domain::Role,
) -> Result<
    (crate::domain::Principal, crate::ssr::AppState, crate::ssr::store::teams::Team),
    crate::domain::AppError,
> {
    use crate::ssr::access::{self, Caller};
    let user = crate::ssr::auth::require_user().await?;
    let state = crate::ssr::state()?;
    let team = access::team(&state.db, Caller::Person(&user), slug, needed).await?;
    crate::ssr::auth::arguments_within_bounds()?;
    Ok((user, state, team))
}

/// A fresh key for a form that adds something: posted with it, the same form sent twice
/// (a double click, a resent post) adds it once.
#[cfg(feature = "ssr")]
fn form_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether the request is a plain HTML form post (no JavaScript).
#[cfg(feature = "ssr")]
fn is_html_form() -> bool {
    leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

/// Sends a page's form post on to `path` (every page form is a plain HTML form: the app is
/// rendered on the server, see `ui`); a caller that asked for data gets the reply itself.
#[cfg(feature = "ssr")]
fn redirect_html_form(path: &str) {
    if is_html_form() {
        leptos_axum::redirect(path);
    }
}

/// The device of the request a server function serves: the client's address (for throttling
/// and the account page's sessions) and its user agent.
#[cfg(feature = "ssr")]
async fn device() -> crate::ssr::store::sessions::Device {
    use axum::extract::ConnectInfo;
    let peer =
        leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>().await.ok().map(|ConnectInfo(peer)| peer);
    // Without the state (never in practice) nobody is trusted: the peer is the client.
    let trusted = crate::ssr::state().map(|state| state.trusted_proxies).unwrap_or_default();
    let headers = leptos::prelude::use_context::<axum::http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default();
    crate::ssr::store::sessions::Device::of(peer, &headers, &trusted)
}
