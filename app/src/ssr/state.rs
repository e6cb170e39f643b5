//! The one application state shared by server functions and axum handlers.

use super::db::Db;
use super::proxy::TrustedProxies;
use crate::domain::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::time::Duration;

/// Authentication policy, from the server's settings.
#[derive(Clone, Debug)]
pub struct AuthPolicy {
    /// A session older than this is refused even while in use.
    pub session_absolute: Duration,
    /// A session unused this long has ended (the session store expires it).
    pub session_idle: Duration,
    /// Failed attempts per (account, client address), and per user for sign-off's password
    /// check, within `throttle_window` before each further attempt waits twice as long as
    /// the last (1 s, 2 s, 4 s, … up to the window). Nobody can lock another person out.
    pub free_failures: i64,
    /// Failed logins allowed per client address within `throttle_window`, for any account.
    pub max_failures_per_address: i64,
    pub throttle_window: Duration,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            session_absolute: Duration::from_secs(7 * 24 * 3600),
            session_idle: Duration::from_secs(8 * 3600),
            free_failures: 5,
            max_failures_per_address: 50,
            throttle_window: Duration::from_secs(15 * 60),
        }
    }
}

/// How people sign in, from the server's settings.
#[derive(Clone, Debug)]
pub struct SignIn {
    /// The identity provider, when single sign-on is configured: its issuer (as linked
    /// identities record it) and the label of its button.
    pub sso: Option<Sso>,
    /// Whether the password form is offered and a password login accepted.
    pub password: bool,
}

#[derive(Clone, Debug)]
pub struct Sso {
    pub issuer: String,
    pub name: String,
    /// The claim that lists a user's groups, when the group mapping is applied.
    pub groups_claim: Option<String>,
}

impl Default for SignIn {
    fn default() -> Self {
        Self { sso: None, password: true }
    }
}

/// Pools, settings and Leptos options; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    pub auth: AuthPolicy,
    pub sign_in: SignIn,
    /// The public origin users and CI reach the app at, if configured.
    pub public_url: Option<String>,
    /// Whether cookies are marked `Secure` (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for throttling and logs).
    pub trusted_proxies: TrustedProxies,
    /// Where webhooks may point.
    pub outbound: super::outbound::Outbound,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The application state inside a server function.
///
/// Every context goes with its request: when a client leaves while its page is still
/// being rendered, the page's data may still be loading and finds none, the request's
/// own parts included. That is logged at debug level, for there is no one left to answer;
/// the state missing from a request still being served is a fault in how the server was
/// put together.
pub fn state() -> Result<AppState, AppError> {
    use leptos::prelude::use_context;
    use_context::<AppState>().ok_or_else(|| {
        if use_context::<axum::http::request::Parts>().is_some() {
            tracing::error!("AppState missing from the Leptos context");
        } else {
            tracing::debug!("no Leptos context: the request was dropped before its data was read");
        }
        AppError::Internal { reference: super::error::reference() }
    })
}
