//! User accounts.

use crate::domain::event::Event;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, DisplayName, Principal, Role, TeamId, UserId, Username};
use crate::ssr::audit::Actor;
use crate::ssr::db::Db;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

/// A user as listed on the admin page. Never carries the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
}

/// What login needs to check a password.
pub struct LoginRecord {
    pub id: UserId,
    pub password_hash: String,
    pub disabled: bool,
    pub session_epoch: i64,
}

/// A user with their validity for a session.
pub struct SessionUser {
    pub principal: Principal,
    pub disabled: bool,
    pub session_epoch: i64,
    /// When the session asked about was last seen; none when it is not among the user's
    /// sessions (signed out elsewhere), or none was asked about.
    pub session_seen: Option<Timestamp>,
}

fn audit_view(user: &UserSummary) -> serde_json::Value {
    json!({
        "username": user.username,
        "display_name": user.display_name,
        "is_admin": user.is_admin,
        "disabled": user.disabled,
    })
}

/// Creates an account. The username must be unused.
pub async fn create(
    db: &Db,
    actor: &Actor,
    username: &Username,
    display_name: &DisplayName,
    password_hash: &str,
    is_admin: bool,
) -> Result<UserId, AppError> {
    let mut tx = db.begin_write().await?;
    let now = Timestamp::now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash, is_admin, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (username) DO NOTHING
         RETURNING id",
    )
    .bind(username.as_str())
    .bind(display_name.as_str())
    .bind(password_hash)
    .bind(i64::from(is_admin))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::invalid("username", "That username is already taken."))?;
    let created = UserSummary {
        id: UserId(id),
        username: username.as_str().to_owned(),
        display_name: display_name.as_str().to_owned(),
        is_admin,
        disabled: false,
    };
    tx.record(actor, Event::UserCreated { user: UserId(id), account: audit_view(&created) }).await?;
    tx.commit().await?;
    Ok(UserId(id))
}

/// All users, by username.
pub async fn list(db: &Db) -> Result<Vec<UserSummary>, AppError> {
    let rows =
        sqlx::query("SELECT id, username, display_name, is_admin, disabled FROM users ORDER BY username")
            .fetch_all(db.read())
            .await?;
    rows.iter().map(summary).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
}

fn summary(row: &sqlx::any::AnyRow) -> Result<UserSummary, sqlx::Error> {
    Ok(UserSummary {
        id: UserId(row.try_get("id")?),
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

async fn find_summary(conn: &mut sqlx::AnyConnection, id: UserId) -> Result<UserSummary, AppError> {
    let row = sqlx::query("SELECT id, username, display_name, is_admin, disabled FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("The user".to_owned()))?;
    Ok(summary(&row)?)
}

/// The account a login attempt names, if it exists.
pub async fn login_record(db: &Db, username: &str) -> Result<Option<LoginRecord>, AppError> {
    let row = sqlx::query("SELECT id, password_hash, disabled, session_epoch FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db.read())
        .await?;
    row.map(|row| {
        Ok(LoginRecord {
            id: UserId(row.try_get("id")?),
            password_hash: row.try_get("password_hash")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            session_epoch: row.try_get("session_epoch")?,
        })
    })
    .transpose()
    .map_err(|e: sqlx::Error| e.into())
}

/// A user and their team roles, for a session; with `handle`, when that session of theirs was
/// last seen (read with the user, so a request asks once).
pub async fn session_user(
    db: &Db,
    id: UserId,
    handle: Option<&str>,
) -> Result<Option<SessionUser>, AppError> {
    let Some(row) = sqlx::query(
        "SELECT u.id, u.username, u.display_name, u.is_admin, u.disabled, u.session_epoch,
                (SELECT s.last_seen_at FROM user_sessions s WHERE s.handle = $2 AND s.user_id = u.id) AS seen
         FROM users u WHERE u.id = $1",
    )
    .bind(id)
    .bind(handle.map(str::to_owned))
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let teams = sqlx::query(
        "SELECT t.id, t.slug, m.role FROM memberships m JOIN teams t ON t.id = m.team_id
         WHERE m.user_id = $1 ORDER BY t.slug",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let role: String = r.try_get("role")?;
        Ok((
            TeamId(r.try_get("id")?),
            r.try_get("slug")?,
            Role::parse("role", &role).map_err(|_| sqlx::Error::Decode("unknown role".into()))?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(SessionUser {
        principal: Principal {
            id,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            is_admin: row.try_get::<i64, _>("is_admin")? != 0,
            teams,
        },
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        session_epoch: row.try_get("session_epoch")?,
        session_seen: row.try_get("seen")?,
    }))
}

/// Disables or re-enables an account. Disabling ends the user's sessions.
pub async fn set_disabled(db: &Db, actor: &Actor, id: UserId, disabled: bool) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let before = find_summary(&mut tx, id).await?;
    sqlx::query(
        "UPDATE users SET disabled = $1, session_epoch = session_epoch + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(i64::from(disabled))
    .bind(Timestamp::now())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = UserSummary { disabled, ..before.clone() };
    let event =
        Event::UserAccessSet { user: id, disabled, before: audit_view(&before), after: audit_view(&after) };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces a user's password hash and ends their sessions; returns the new session epoch
/// (a session the user keeps is restarted under it). The audit entry records that the
/// password changed, never the hash.
pub async fn set_password(db: &Db, actor: &Actor, id: UserId, password_hash: &str) -> Result<i64, AppError> {
    let mut tx = db.begin_write().await?;
    let user = find_summary(&mut tx, id).await?;
    let epoch: i64 = sqlx::query_scalar(
        "UPDATE users SET password_hash = $1, session_epoch = session_epoch + 1, updated_at = $2 WHERE id = $3
         RETURNING session_epoch",
    )
    .bind(password_hash)
    .bind(Timestamp::now())
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.record(actor, Event::PasswordReset { user: id, username: user.username }).await?;
    tx.commit().await?;
    Ok(epoch)
}

/// Sets a user's display name; the same name again changes nothing and records nothing.
pub async fn set_display_name(
    db: &Db,
    actor: &Actor,
    id: UserId,
    name: &DisplayName,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let before = find_summary(&mut tx, id).await?;
    if before.display_name == name.as_str() {
        return Ok(());
    }
    sqlx::query("UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3")
        .bind(name.as_str())
        .bind(Timestamp::now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = UserSummary { display_name: name.as_str().to_owned(), ..before.clone() };
    tx.record(actor, Event::UserRenamed { user: id, before: audit_view(&before), after: audit_view(&after) })
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The id of the account with this username.
pub async fn id_by_username(db: &Db, username: &Username) -> Result<UserId, AppError> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
        .bind(username.as_str())
        .fetch_optional(db.read())
        .await?
        .map(UserId)
        .ok_or_else(|| AppError::invalid("username", "No user has that username."))
}

/// Whether the user has a password here (a user single sign-on created has none).
pub async fn has_password(db: &Db, id: UserId) -> Result<bool, AppError> {
    let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(hash.is_some_and(|hash| !hash.is_empty()))
}
