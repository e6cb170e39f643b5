//! The logged-in user's own account (`/account`): their display name and password.

use crate::domain::AppError;
use leptos::prelude::*;

/// Sets the logged-in user's display name.
#[server(endpoint = "account/display_name")]
pub async fn set_display_name(display_name: String) -> Result<(), AppError> {
    use crate::domain::DisplayName;
    use crate::ssr::{audit_actor, auth, state, store::users};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let name = DisplayName::parse(&display_name)?;
    users::set_display_name(&state()?.db, &audit_actor(&user), user.id, &name).await?;
    super::redirect_html_form("/account?done=name");
    Ok(())
}

/// Changes the logged-in user's password: the current one is required (throttled like a
/// login, per user), every other session of theirs ends, and this one goes on under a new
/// session id.
#[server(endpoint = "account/password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::domain::Password;
    use crate::ssr::{audit_actor, auth, state, store::users};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let state = state()?;
    let password = Password::parse_new("new_password", &new_password)?;
    if new_password == current_password {
        return Err(AppError::invalid("new_password", "Choose a password other than your current one."));
    }
    auth::confirm_password(&state.db, &state.auth, &user, "current_password", &current_password).await?;
    let hash = auth::hash_password(password).await?;
    let epoch = users::set_password(&state.db, &audit_actor(&user), user.id, &hash).await?;
    auth::start_session(&auth::session().await?, user.id, epoch).await?;
    tracing::info!(user = %user.id, "password changed");
    super::redirect_html_form("/account?done=password");
    Ok(())
}
