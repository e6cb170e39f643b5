//! Teams and memberships.

use crate::domain::event::Event;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, Role, TeamId, TeamName, TeamSlug, UserId};
use crate::ssr::audit::Actor;
use crate::ssr::db::Db;
use crate::ssr::write::Write;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A team as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub slug: String,
    pub name: String,
    pub members: i64,
}

/// One member of a team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// Creates a team with a unique slug.
pub async fn create(db: &Db, actor: &Actor, slug: &TeamSlug, name: &TeamName) -> Result<TeamId, AppError> {
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO teams (slug, name, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (slug) DO NOTHING RETURNING id",
    )
    .bind(slug.as_str())
    .bind(name.as_str())
    .bind(Timestamp::now())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::invalid("slug", "A team with that slug already exists."))?;
    let event = Event::TeamCreated {
        team: TeamId(id),
        slug: slug.as_str().to_owned(),
        name: name.as_str().to_owned(),
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(TeamId(id))
}

const TEAM_COLUMNS: &str = "SELECT t.id, t.slug, t.name,
        (SELECT COUNT(*) FROM memberships m WHERE m.team_id = t.id) AS members
     FROM teams t";

fn team(row: &sqlx::any::AnyRow) -> Result<Team, sqlx::Error> {
    Ok(Team {
        id: TeamId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        members: row.try_get("members")?,
    })
}

/// Every team, by slug.
pub async fn list(db: &Db) -> Result<Vec<Team>, AppError> {
    let rows = sqlx::query(&format!("{TEAM_COLUMNS} ORDER BY t.slug")).fetch_all(db.read()).await?;
    Ok(rows.iter().map(team).collect::<Result<_, _>>()?)
}

/// What an unknown team answers, and so also a team the caller may not see.
pub fn not_found(slug: &str) -> AppError {
    AppError::NotFound(format!("Team {slug}"))
}

/// The team with this slug.
pub async fn by_slug(db: &Db, slug: &TeamSlug) -> Result<Team, AppError> {
    let row = sqlx::query(&format!("{TEAM_COLUMNS} WHERE t.slug = $1"))
        .bind(slug.as_str())
        .fetch_optional(db.read())
        .await?
        .ok_or_else(|| not_found(slug.as_str()))?;
    Ok(team(&row)?)
}

/// A team's members, leads first.
pub async fn members(db: &Db, team: TeamId) -> Result<Vec<Member>, AppError> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.display_name, m.role
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.team_id = $1 ORDER BY u.username",
    )
    .bind(team)
    .fetch_all(db.read())
    .await?;
    let mut members = rows
        .iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(Member {
                user_id: UserId(r.try_get("id")?),
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                role: Role::parse("role", &role).map_err(|_| sqlx::Error::Decode("unknown role".into()))?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    members.sort_by(|a, b| b.role.cmp(&a.role).then_with(|| a.username.cmp(&b.username)));
    Ok(members)
}

/// Every membership of every team, by team then role (leads first) then username; each with
/// whether the identity provider's groups gave it.
pub async fn all_memberships(db: &Db) -> Result<Vec<(String, Member, bool)>, AppError> {
    let rows = sqlx::query(
        "SELECT t.slug, u.id, u.username, u.display_name, m.role, m.by_sso
         FROM memberships m JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id
         ORDER BY t.slug, u.username",
    )
    .fetch_all(db.read())
    .await?;
    let mut all = rows
        .iter()
        .map(|r| {
            let member = Member {
                user_id: UserId(r.try_get("id")?),
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                role: Role::parse("role", &r.try_get::<String, _>("role")?)?,
            };
            Ok((r.try_get::<String, _>("slug")?, member, r.try_get::<i64, _>("by_sso")? != 0))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    all.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| b.1.role.cmp(&a.1.role)).then_with(|| a.1.username.cmp(&b.1.username))
    });
    Ok(all)
}

/// Adds a user to a team or changes their role there; `None` removes them.
pub async fn set_membership(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    user: UserId,
    role: Option<Role>,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    set_membership_in(&mut tx, actor, team, user, role).await?;
    tx.commit().await?;
    Ok(())
}

/// [`set_membership`] inside a unit of work that writes more (a sign-in's group roles). A
/// membership the identity provider's groups set is marked so (`by_sso`), one set by hand not.
pub(crate) async fn set_membership_in(
    tx: &mut Write,
    actor: &Actor,
    team: TeamId,
    user: UserId,
    role: Option<Role>,
) -> Result<(), AppError> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE team_id = $1 AND user_id = $2")
            .bind(team)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?;
    let by_sso = i64::from(matches!(actor, Actor::Sso));
    if previous.as_deref() == role.map(Role::as_str) {
        if role.is_some() {
            sqlx::query(
                "UPDATE memberships SET by_sso = $1 WHERE team_id = $2 AND user_id = $3 AND by_sso <> $1",
            )
            .bind(by_sso)
            .bind(team)
            .bind(user)
            .execute(&mut **tx)
            .await?;
        }
        // Nothing changes, so nothing is written or audited (a retried form is harmless).
        return Ok(());
    }
    match role {
        Some(role) => {
            sqlx::query(
                "INSERT INTO memberships (team_id, user_id, role, created_at, by_sso) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role, by_sso = excluded.by_sso",
            )
            .bind(team)
            .bind(user)
            .bind(role.as_str())
            .bind(Timestamp::now())
            .bind(by_sso)
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM memberships WHERE team_id = $1 AND user_id = $2")
                .bind(team)
                .bind(user)
                .execute(&mut **tx)
                .await?;
        }
    }
    let username: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(&mut **tx)
        .await?;
    let before = previous.map(|r| Role::parse("role", &r)).transpose()?;
    tx.record(actor, Event::MembershipChanged { team, username, before, after: role }).await?;
    Ok(())
}
