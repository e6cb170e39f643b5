//! The logged-in user's own account (`/account`): how they sign in, their display name and
//! password.

use crate::domain::AppError;
use crate::domain::identity::Identity;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How the logged-in user signs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInView {
    /// They have a password here.
    pub password: bool,
    /// The identity provider's name, when single sign-on is configured, and their identity
    /// there (linked, or a pre-link waiting).
    pub provider: Option<String>,
    pub identity: Option<Identity>,
}

#[server(endpoint = "account/sign_in")]
pub async fn how_i_sign_in() -> Result<SignInView, AppError> {
    use crate::ssr::{auth, state, store::identities, store::users};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let state = state()?;
    let password = users::has_password(&state.db, user.id).await?;
    let (provider, identity) = match state.sign_in.sso {
        Some(sso) => {
            let identity =
                identities::of_user(&state.db, user.id).await?.into_iter().find(|i| i.issuer == sso.issuer);
            (Some(sso.name), identity)
        }
        None => (None, None),
    };
    Ok(SignInView { password, provider, identity })
}

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
    if !users::has_password(&state.db, user.id).await? {
        return Err(AppError::Conflict(
            "You sign in through your identity provider; there is no password here to change.".into(),
        ));
    }
    let password = Password::parse_new("new_password", &new_password)?;
    if new_password == current_password {
        return Err(AppError::invalid("new_password", "Choose a password other than your current one."));
    }
    auth::confirm_password(&state.db, &state.auth, &user, "current_password", &current_password).await?;
    let hash = auth::hash_password(password).await?;
    let epoch = users::set_password(&state.db, &audit_actor(&user), user.id, &hash).await?;
    auth::start_session(&state.db, &auth::session().await?, user.id, epoch, &super::device().await).await?;
    tracing::info!(user = %user.id, "password changed");
    super::redirect_html_form("/account?done=password");
    Ok(())
}

/// The sessions the logged-in user is signed in with, this one marked.
#[server(endpoint = "account/sessions")]
pub async fn my_sessions() -> Result<Vec<crate::domain::identity::SignedIn>, AppError> {
    use crate::ssr::{auth, state, store::sessions};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let state = state()?;
    let handle = auth::session_handle(&auth::session().await?).await?;
    sessions::list(&state.db, user.id, &handle, (state.auth.session_idle, state.auth.session_absolute)).await
}

/// Signs out one of the logged-in user's other sessions (`id`), or every other one (`id`
/// absent); this one goes on.
#[server(endpoint = "account/sign_out")]
pub async fn sign_out_sessions(id: Option<i64>) -> Result<(), AppError> {
    use crate::ssr::{audit_actor, auth, state, store::sessions};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let handle = auth::session_handle(&auth::session().await?).await?;
    sessions::end(&state()?.db, &audit_actor(&user), user.id, id, &handle).await?;
    super::redirect_html_form(if id.is_some() {
        "/account?done=signed_out"
    } else {
        "/account?done=signed_out_others"
    });
    Ok(())
}

/// The logged-in user's personal API tokens, with their teams.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyToken {
    pub team: String,
    pub token: crate::domain::scope::TokenInfo,
}

#[server(endpoint = "account/tokens")]
pub async fn my_tokens() -> Result<Vec<MyToken>, AppError> {
    use crate::ssr::{auth, state, store::tokens};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let owned = tokens::owned_by(&state()?.db, user.id).await?;
    Ok(owned.into_iter().map(|(team, token)| MyToken { team, token }).collect())
}

/// Revokes one of the logged-in user's personal tokens.
#[server(endpoint = "account/revoke_token")]
pub async fn revoke_my_token(id: i64) -> Result<(), AppError> {
    use crate::ssr::{audit_actor, auth, state, store::tokens};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    tokens::revoke_owned(&state()?.db, &audit_actor(&user), user.id, crate::domain::ids::TokenId(id)).await?;
    super::redirect_html_form("/account?done=token_revoked");
    Ok(())
}
