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
    /// Their identity at the configured provider: linked, or a pre-link waiting.
    pub identity: Option<crate::domain::identity::Identity>,
}

/// The users, and the identity provider's name when single sign-on is configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersView {
    pub users: Vec<UserItem>,
    pub provider: Option<String>,
}

/// Every user account, with their identities at the provider.
#[server(endpoint = "admin/users")]
pub async fn list_users() -> Result<UsersView, AppError> {
    use crate::ssr::{auth, state, store::identities, store::users};
    auth::require_admin().await?;
    let state = state()?;
    let mut linked = match &state.sign_in.sso {
        Some(sso) => identities::all(&state.db, &sso.issuer).await?,
        None => Default::default(),
    };
    let users = users::list(&state.db)
        .await?
        .into_iter()
        .map(|u| UserItem {
            identity: linked.remove(&u.id),
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            is_admin: u.is_admin,
            disabled: u.disabled,
        })
        .collect();
    Ok(UsersView { users, provider: state.sign_in.sso.map(|sso| sso.name) })
}

/// Pre-links a user to the identity the provider will present with `email`, confirmed at its
/// first sign-in (the provider must say it verified the address); an empty `email` withdraws a
/// pre-link still waiting.
#[server(endpoint = "admin/prelink")]
pub async fn prelink_user(user_id: i64, email: String) -> Result<(), AppError> {
    use crate::ssr::{audit_actor, auth, state, store::identities};
    let admin = auth::require_admin().await?;
    let state = state()?;
    let sso =
        state.sign_in.sso.ok_or_else(|| AppError::Conflict("Single sign-on is not configured.".into()))?;
    let email = crate::domain::identity::parse_email(&email)?;
    identities::prelink(&state.db, &audit_actor(&admin), &sso.issuer, UserId(user_id), email.as_deref()).await
}

/// The provider groups that give team roles.
#[server(endpoint = "admin/group_roles")]
pub async fn group_roles() -> Result<GroupRolesView, AppError> {
    use crate::ssr::{auth, state, store::identities};
    auth::require_admin().await?;
    let state = state()?;
    Ok(GroupRolesView {
        roles: identities::group_roles(&state.db).await?,
        claim: state.sign_in.sso.and_then(|sso| sso.groups_claim),
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRolesView {
    pub roles: Vec<crate::domain::identity::GroupRole>,
    /// The claim groups are read from; none when it is not configured (nothing is applied).
    pub claim: Option<String>,
}

/// Maps a provider group to a role in a team (`role` viewer, member or lead), or removes the
/// mapping (`role` none). Members' roles follow at their next sign-in.
#[server(endpoint = "admin/set_group_role")]
pub async fn set_group_role(group: String, team: String, role: String) -> Result<(), AppError> {
    use crate::domain::{Role, TeamSlug, identity::GroupName};
    use crate::ssr::{audit_actor, auth, state, store::identities, store::teams};
    let admin = auth::require_admin().await?;
    let group = GroupName::parse(&group)?;
    let role = match role.as_str() {
        "none" => None,
        other => Some(Role::parse("role", other)?),
    };
    let db = state()?.db;
    let team = teams::by_slug(&db, &TeamSlug::parse(&team)?).await?;
    identities::set_group_role(&db, &audit_actor(&admin), group.as_str(), team.id, role).await
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

/// One membership on the admin page of who is in which team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipItem {
    pub team: String,
    pub username: String,
    pub display_name: String,
    pub role: crate::domain::Role,
    /// Given by the identity provider's groups (and taken away with them).
    pub by_sso: bool,
}

/// Who is in which team, with what role.
#[server(endpoint = "admin/memberships")]
pub async fn memberships() -> Result<Vec<MembershipItem>, AppError> {
    use crate::ssr::{auth, state, store::teams};
    auth::require_admin().await?;
    let all = teams::all_memberships(&state()?.db).await?;
    Ok(all
        .into_iter()
        .map(|(team, m, by_sso)| MembershipItem {
            team,
            username: m.username,
            display_name: m.display_name,
            role: m.role,
            by_sso,
        })
        .collect())
}
