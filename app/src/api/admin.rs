//! Administration: users and teams. Every function here requires a global admin.

use crate::domain::{AppError, UserId};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A user on the admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserItem {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
}

/// Every user account.
#[server(endpoint = "admin/users")]
pub async fn list_users() -> Result<Vec<UserItem>, AppError> {
    use crate::ssr::{auth, state, store::users};
    auth::require_admin().await?;
    Ok(users::list(&state()?.db)
        .await?
        .into_iter()
        .map(|u| UserItem {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            is_admin: u.is_admin,
            disabled: u.disabled,
        })
        .collect())
}

/// Creates a user. `is_admin` is present (any value) when the checkbox was ticked.
#[server(endpoint = "admin/create_user")]
pub async fn create_user(
    username: String,
    display_name: String,
    password: String,
    is_admin: Option<String>,
) -> Result<(), AppError> {
    use crate::domain::{DisplayName, Password, Username};
    use crate::ssr::{audit_actor, auth, state, store::users};
    let admin = auth::require_admin().await?;
    let username = Username::parse(&username)?;
    let display_name = DisplayName::parse(&display_name)?;
    let password = Password::parse_new("password", &password)?;
    let hash = auth::hash_password(password).await?;
    let db = state()?.db;
    users::create(&db, &audit_actor(&admin), &username, &display_name, &hash, is_admin.is_some()).await?;
    Ok(())
}

/// Disables (`disabled` = "true") or re-enables an account. Admins cannot disable
/// themselves, so an instance never loses its last way in by accident.
#[server(endpoint = "admin/set_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: String) -> Result<(), AppError> {
    use crate::ssr::{audit_actor, auth, state, store::users};
    let admin = auth::require_admin().await?;
    let disabled = disabled == "true";
    if disabled && admin.id == UserId(user_id) {
        return Err(AppError::Conflict("You cannot disable your own account.".to_owned()));
    }
    users::set_disabled(&state()?.db, &audit_actor(&admin), UserId(user_id), disabled).await
}

/// Sets a new password for a user and ends their sessions.
#[server(endpoint = "admin/reset_password")]
pub async fn reset_password(user_id: i64, password: String) -> Result<(), AppError> {
    use crate::domain::Password;
    use crate::ssr::{audit_actor, auth, state, store::users};
    let admin = auth::require_admin().await?;
    let password = Password::parse_new("password", &password)?;
    let hash = auth::hash_password(password).await?;
    users::set_password(&state()?.db, &audit_actor(&admin), UserId(user_id), &hash).await?;
    Ok(())
}

/// Creates a team.
#[server(endpoint = "admin/create_team")]
pub async fn create_team(slug: String, name: String) -> Result<(), AppError> {
    use crate::domain::{TeamName, TeamSlug};
    use crate::ssr::{audit_actor, auth, state, store::teams};
    let admin = auth::require_admin().await?;
    let slug = TeamSlug::parse(&slug)?;
    let name = TeamName::parse(&name)?;
    teams::create(&state()?.db, &audit_actor(&admin), &slug, &name).await?;
    Ok(())
}
