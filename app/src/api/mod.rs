//! Server functions, one file per resource. Each is thin: authorize, call the store,
//! answer. Their errors are [`AppError`](crate::domain::AppError)s with user-safe text.

pub mod admin;
pub mod auth;
pub mod changes;
pub mod teams;
pub mod tokens;

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

/// Sends a plain HTML form post on to `path`. With JavaScript the page does it itself
/// (see `ui::load_page_after`), loading a fresh page for the new session.
#[cfg(feature = "ssr")]
fn redirect_html_form(path: &str) {
    if is_html_form() {
        leptos_axum::redirect(path);
    }
}

/// The client's IP address, for login throttling.
#[cfg(feature = "ssr")]
async fn client_address() -> String {
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|info| info.0.ip().to_string())
        .unwrap_or_else(|_| "unknown".to_owned())
}
