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
    let client = super::client_address().await;
    let (user, epoch) =
        auth::check_credentials(&state.db, &state.auth, &username, &password, &client).await?;
    auth::start_session(&auth::session().await?, user, epoch).await?;
    tracing::info!(user = %user, "login");
    super::redirect_html_form(&crate::domain::return_to::ReturnTo::or_start(next.as_deref()));
    Ok(())
}

/// Ends the session; the old session cookie is refused from then on.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::auth;
    auth::end_session(&auth::session().await?).await?;
    super::redirect_html_form("/login");
    Ok(())
}

/// The logged-in user, or `None`.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<Principal>, AppError> {
    crate::ssr::auth::current_user().await
}
