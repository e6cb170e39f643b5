//! Identities at the OpenID provider, linked to users, and the provider groups that give team
//! roles. An identity is its issuer and subject, never its email: an address is only ever
//! trusted to confirm a pre-link an admin made, and only when the provider says it verified it.

use super::teams::set_membership_in;
use crate::domain::event::Event;
use crate::domain::identity::{GroupRole, Identity};
use crate::domain::time::Timestamp;
use crate::domain::{AppError, DisplayName, Role, TeamId, UserId, Username};
use crate::ssr::audit::Actor;
use crate::ssr::db::{Db, LockSpace, advisory_lock};
use crate::ssr::write::Write;
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeMap;

/// What a validated ID token (and the provider's userinfo) says about who signed in.
#[derive(Clone, Debug, Default)]
pub struct Asserted {
    pub issuer: String,
    pub subject: String,
    /// Lowercased.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// The configured groups claim; none when no claim is configured, and then no role is
    /// touched.
    pub groups: Option<Vec<String>>,
}

/// Why a sign-in the provider vouched for is still refused here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The account it is linked to is disabled.
    Disabled,
}

/// Signs in the identity `who`: finds the user linked to its issuer and subject, or links the
/// user an admin pre-linked to its (verified) address, or creates a user for it; then gives
/// the user the team roles its groups map to. One unit of work, serialized with every other
/// first sign-in so that two at once link one user. Returns the user and their session epoch.
pub async fn sign_in(db: &Db, who: &Asserted) -> Result<Result<(UserId, i64), Refused>, AppError> {
    let mut tx = db.begin_write().await?;
    advisory_lock(&mut tx, db.backend(), LockSpace::SignIn, 0).await?;
    let linked: Option<i64> =
        sqlx::query_scalar("SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2")
            .bind(&who.issuer)
            .bind(&who.subject)
            .fetch_optional(&mut *tx)
            .await?;
    let user = match linked {
        Some(user) => UserId(user),
        None => match confirm_prelink(&mut tx, who).await? {
            Some(user) => user,
            None => create_linked(&mut tx, who).await?,
        },
    };
    let (disabled, epoch): (i64, i64) =
        sqlx::query_as("SELECT disabled, session_epoch FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
    if disabled != 0 {
        // What was linked stays linked: the account is the same person's, only refused.
        tx.commit().await?;
        return Ok(Err(Refused::Disabled));
    }
    sqlx::query("UPDATE identities SET last_sign_in_at = $1 WHERE issuer = $2 AND subject = $3")
        .bind(Timestamp::now())
        .bind(&who.issuer)
        .bind(&who.subject)
        .execute(&mut *tx)
        .await?;
    if let Some(groups) = &who.groups {
        apply_group_roles(&mut tx, user, groups).await?;
    }
    tx.commit().await?;
    Ok(Ok((user, epoch)))
}

/// Links the pre-link waiting for this identity's address, when the provider verified it.
async fn confirm_prelink(tx: &mut Write, who: &Asserted) -> Result<Option<UserId>, AppError> {
    let Some(email) = who.email.as_deref().filter(|_| who.email_verified) else {
        return Ok(None);
    };
    let user: Option<i64> = sqlx::query_scalar(
        "UPDATE identities SET subject = $1, linked_at = $2
         WHERE issuer = $3 AND email = $4 AND subject IS NULL RETURNING user_id",
    )
    .bind(&who.subject)
    .bind(Timestamp::now())
    .bind(&who.issuer)
    .bind(email)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(user) = user.map(UserId) else { return Ok(None) };
    let event = Event::IdentityLinked {
        user,
        issuer: who.issuer.clone(),
        subject: who.subject.clone(),
        email: Some(email.to_owned()),
    };
    let actor = actor_for(tx, user).await?;
    tx.record(&actor, event).await?;
    Ok(Some(user))
}

/// Creates a user for a new identity ("just in time"), under a free username made from what
/// the provider calls them; they have no password here.
async fn create_linked(tx: &mut Write, who: &Asserted) -> Result<UserId, AppError> {
    let base = username_base(who);
    let mut username = base.clone();
    let mut n = 1;
    while sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
        .bind(&username)
        .fetch_optional(&mut **tx)
        .await?
        .is_some()
    {
        n += 1;
        let suffix = format!("-{n}");
        username = format!("{}{suffix}", truncate(&base, 32 - suffix.len()));
    }
    let display_name = who
        .name
        .as_deref()
        .and_then(|name| DisplayName::parse(name).ok())
        .map_or_else(|| username.clone(), |name| name.as_str().to_owned());
    let now = Timestamp::now();
    let id = UserId(
        sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, is_admin, created_at, updated_at)
             VALUES ($1, $2, '', 0, $3, $3) RETURNING id",
        )
        .bind(&username)
        .bind(&display_name)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?,
    );
    sqlx::query(
        "INSERT INTO identities (user_id, issuer, subject, created_at, linked_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id)
    .bind(&who.issuer)
    .bind(&who.subject)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let actor = Actor::User { id, username: username.clone() };
    let account = json!({
        "username": username, "display_name": display_name, "is_admin": false, "disabled": false,
        "sign_in": "sso",
    });
    tx.record(&actor, Event::UserCreated { user: id, account }).await?;
    let event = Event::IdentityLinked {
        user: id,
        issuer: who.issuer.clone(),
        subject: who.subject.clone(),
        email: None,
    };
    tx.record(&actor, event).await?;
    Ok(id)
}

/// A valid username from the provider's `preferred_username`, else the address's local part,
/// else `user`: lowercased, other characters dropped, cut to 32.
fn username_base(who: &Asserted) -> String {
    let candidates =
        [who.preferred_username.as_deref(), who.email.as_deref().and_then(|e| e.split('@').next())];
    for raw in candidates.into_iter().flatten() {
        let cleaned: String = raw
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c))
            .collect();
        let cut = truncate(&cleaned, 32).to_owned();
        if Username::parse(&cut).is_ok() {
            return cut;
        }
    }
    "user".to_owned()
}

fn truncate(s: &str, max: usize) -> &str {
    // Usernames here are ASCII, so any byte is a character boundary.
    &s[..s.len().min(max)]
}

async fn actor_for(tx: &mut Write, user: UserId) -> Result<Actor, AppError> {
    let username: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Actor::User { id: user, username })
}

/// Gives `user` the role their groups map to in every team the mapping names (the highest, if
/// several), and takes away a membership the mapping gave once none of their groups maps to
/// its team any more. A membership given by hand stays while no group maps its team. Each
/// change is audited as the provider's.
async fn apply_group_roles(tx: &mut Write, user: UserId, groups: &[String]) -> Result<(), AppError> {
    let mut wanted: BTreeMap<TeamId, Option<Role>> = BTreeMap::new();
    let granted: Vec<i64> =
        sqlx::query_scalar("SELECT team_id FROM memberships WHERE user_id = $1 AND by_sso = 1")
            .bind(user)
            .fetch_all(&mut **tx)
            .await?;
    for team in granted {
        wanted.insert(TeamId(team), None);
    }
    let rows = sqlx::query("SELECT group_name, team_id, role FROM group_roles").fetch_all(&mut **tx).await?;
    for row in &rows {
        let group: String = row.try_get("group_name")?;
        if groups.contains(&group) {
            let role = Role::parse("role", &row.try_get::<String, _>("role")?)?;
            let slot = wanted.entry(TeamId(row.try_get("team_id")?)).or_insert(None);
            *slot = (*slot).max(Some(role));
        }
    }
    for (team, role) in wanted {
        set_membership_in(tx, &Actor::Sso, team, user, role).await?;
    }
    Ok(())
}

/// Pre-links `user` to the identity the provider will present with `email` (lowercased), or
/// withdraws a pre-link still waiting (`email` none). A linked identity cannot be re-pointed:
/// that would hand the account to someone else.
pub async fn prelink(
    db: &Db,
    actor: &Actor,
    issuer: &str,
    user: UserId,
    email: Option<&str>,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let current = sqlx::query("SELECT subject, email FROM identities WHERE user_id = $1 AND issuer = $2")
        .bind(user)
        .bind(issuer)
        .fetch_optional(&mut *tx)
        .await?;
    let before: Option<String> = match &current {
        Some(row) if row.try_get::<Option<String>, _>("subject")?.is_some() => {
            return Err(AppError::Conflict(
                "This user has already signed in with the identity provider; the link cannot change.".into(),
            ));
        }
        Some(row) => row.try_get("email")?,
        None => None,
    };
    let email = email.map(str::to_lowercase);
    if before == email {
        return Ok(());
    }
    sqlx::query("DELETE FROM identities WHERE user_id = $1 AND issuer = $2 AND subject IS NULL")
        .bind(user)
        .bind(issuer)
        .execute(&mut *tx)
        .await?;
    if let Some(email) = &email {
        let done = sqlx::query(
            "INSERT INTO identities (user_id, issuer, email, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(issuer)
        .bind(email)
        .bind(Timestamp::now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(AppError::invalid("email", "Another user is already pre-linked to that address."));
        }
    }
    tx.record(actor, Event::IdentityPrelinked { user, before, email }).await?;
    tx.commit().await?;
    Ok(())
}

/// Every user's identity at `issuer` (linked or waiting), by user.
pub async fn all(db: &Db, issuer: &str) -> Result<BTreeMap<UserId, Identity>, AppError> {
    let rows = sqlx::query(
        "SELECT user_id, issuer, email, linked_at, last_sign_in_at FROM identities WHERE issuer = $1",
    )
    .bind(issuer)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| Ok((UserId(row.try_get("user_id")?), identity(row)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The user's identities (linked or waiting), at whichever issuer.
pub async fn of_user(db: &Db, user: UserId) -> Result<Vec<Identity>, AppError> {
    let rows = sqlx::query(
        "SELECT issuer, email, linked_at, last_sign_in_at FROM identities WHERE user_id = $1 ORDER BY issuer",
    )
    .bind(user)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(identity).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
}

fn identity(row: &sqlx::any::AnyRow) -> Result<Identity, sqlx::Error> {
    Ok(Identity {
        issuer: row.try_get("issuer")?,
        email: row.try_get("email")?,
        linked_at: row.try_get("linked_at")?,
        last_sign_in_at: row.try_get("last_sign_in_at")?,
    })
}

/// The group mapping, by group then team.
pub async fn group_roles(db: &Db) -> Result<Vec<GroupRole>, AppError> {
    let rows = sqlx::query(
        "SELECT g.group_name, g.team_id, t.slug, g.role FROM group_roles g JOIN teams t ON t.id = g.team_id
         ORDER BY g.group_name, t.slug",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(GroupRole {
                group: row.try_get("group_name")?,
                team: TeamId(row.try_get("team_id")?),
                team_slug: row.try_get("slug")?,
                role: Role::parse("role", &row.try_get::<String, _>("role")?)?,
            })
        })
        .collect()
}

/// Maps a provider group to a role in a team, or unmaps it (`role` none). Members' roles
/// follow at their next sign-in.
pub async fn set_group_role(
    db: &Db,
    actor: &Actor,
    group: &str,
    team: TeamId,
    role: Option<Role>,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT role FROM group_roles WHERE group_name = $1 AND team_id = $2")
            .bind(group)
            .bind(team)
            .fetch_optional(&mut *tx)
            .await?;
    let before = before.map(|r| Role::parse("role", &r)).transpose()?;
    if before == role {
        return Ok(());
    }
    match role {
        Some(role) => sqlx::query(
            "INSERT INTO group_roles (group_name, team_id, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_name, team_id) DO UPDATE SET role = excluded.role",
        )
        .bind(group)
        .bind(team)
        .bind(role.as_str())
        .bind(Timestamp::now()),
        None => sqlx::query("DELETE FROM group_roles WHERE group_name = $1 AND team_id = $2")
            .bind(group)
            .bind(team),
    }
    .execute(&mut *tx)
    .await?;
    tx.record(actor, Event::GroupRoleSet { team, group: group.to_owned(), before, after: role }).await?;
    tx.commit().await?;
    Ok(())
}
