//! Login, logout and the current user.

use crate::domain::{AppError, Principal};
use leptos::prelude::*;

/// Logs in and starts a new session, then sends the browser to the page it asked for before
/// the login (`next`, when it is a page of this site), or to the dashboard.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::ssr::{auth, state};
    auth::arguments_within_bounds()?;
    let state = state()?;
    if !state.sign_in.password {
        let provider = state.sign_in.sso.as_ref().map_or("your identity provider", |sso| sso.name.as_str());
        return Err(AppError::Denied(format!("Password login is turned off here: sign in with {provider}.")));
    }
    let device = super::device().await;
    let (user, epoch) =
        auth::check_credentials(&state.db, &state.auth, &username, &password, &device.client).await?;
    auth::start_session(&state.db, &auth::session().await?, user, epoch, &device).await?;
    tracing::info!(user = %user, "login");
    super::redirect_html_form(&crate::domain::return_to::ReturnTo::or_start(next.as_deref()));
    Ok(())
}

/// How people sign in here, for the login page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignInOptions {
    /// The label of the identity provider's button ("Sign in with …"), when configured.
    pub sso: Option<String>,
    /// Whether the password form is offered.
    pub password: bool,
}

#[server(endpoint = "login_options")]
pub async fn login_options() -> Result<SignInOptions, AppError> {
    let sign_in = crate::ssr::state()?.sign_in;
    Ok(SignInOptions { sso: sign_in.sso.map(|sso| sso.name), password: sign_in.password })
}

/// Ends the session; the old session cookie is refused from then on.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::auth;
    auth::end_session(&crate::ssr::state()?.db, &auth::session().await?).await?;
    super::redirect_html_form("/login");
    Ok(())
}

/// The logged-in user, or `None`.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<Principal>, AppError> {
    crate::ssr::auth::current_user().await
}
