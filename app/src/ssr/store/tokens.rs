//! API tokens for CI: shown once, stored only as a SHA-256 hash, scoped, expiring, revocable.
//!
//! Format: `pmt_` + 40 random hex characters + `_` + an 8-character checksum, so a token is
//! recognisable in logs and secret scanners, and a mistyped one is refused without a lookup.

use crate::domain::event::Event;
use crate::domain::ids::TokenId;
use crate::domain::scope::{Scope, TokenInfo};
use crate::domain::time::Timestamp;
use crate::domain::{AppError, TeamId, UserId};
use crate::ssr::audit::Actor;
use crate::ssr::db::Db;
use sha2::{Digest, Sha256};
use sqlx::Row;

const PREFIX: &str = "pmt_";

fn checksum(secret: &str) -> String {
    hex::encode(&Sha256::digest(format!("premortem-token:{secret}").as_bytes())[..4])
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the right shape and checksum (no database needed).
pub fn well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')).is_some_and(|(secret, sum)| {
        secret.len() == 40 && secret.bytes().all(|b| b.is_ascii_hexdigit()) && checksum(secret) == sum
    })
}

/// A token that authenticated a request.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub id: TokenId,
    pub team_id: TeamId,
    /// The team's slug (the prefix of its change keys).
    pub team_slug: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The person a personal token belongs to (who created it in the browser, or
    /// `--owner` on the command line); `None` for a pipeline token. A token never acts as
    /// its owner: it only bounds when the token works and who may not sign off its changes.
    pub owner: Option<UserId>,
}

impl Authenticated {
    /// The audit actor for what this token does.
    pub fn actor(&self) -> Actor {
        Actor::Token { id: self.id, name: format!("token:{}", self.name) }
    }
}

/// Creates a token and returns it: the only time the secret exists outside the caller.
pub async fn create(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    created_by: Option<UserId>,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<Timestamp>,
) -> Result<String, AppError> {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let token = format!("{PREFIX}{secret}_{}", checksum(&secret));
    let prefix: String = token.chars().take(12).collect();
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (team_id, name, prefix, token_hash, scopes, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(team)
    .bind(name)
    .bind(&prefix)
    .bind(hash(&token))
    .bind(Scope::join(scopes))
    .bind(created_by.map(|u| u.0))
    .bind(Timestamp::now())
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    let event = Event::TokenCreated {
        team,
        token: TokenId(id),
        name: name.to_owned(),
        prefix,
        scopes: Scope::join(scopes),
        expires_at,
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(token)
}

/// Revokes a team's token.
pub async fn revoke(db: &Db, actor: &Actor, team: TeamId, id: TokenId) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND team_id = $3 AND revoked_at IS NULL",
    )
    .bind(Timestamp::now())
    .bind(id)
    .bind(team)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound("The token".to_owned()));
    }
    tx.record(actor, Event::TokenRevoked { team, token: id }).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a team's unrevoked token to `owner` (a personal token from then on, whatever it was).
pub async fn transfer(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    id: TokenId,
    owner: UserId,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let before: Option<Option<String>> = sqlx::query_scalar(
        "SELECT u.username FROM api_tokens k LEFT JOIN users u ON u.id = k.created_by
         WHERE k.id = $1 AND k.team_id = $2 AND k.revoked_at IS NULL",
    )
    .bind(id)
    .bind(team)
    .fetch_optional(&mut *tx)
    .await?;
    let before = before.ok_or_else(|| AppError::NotFound("The token".to_owned()))?;
    let after: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
    if before.as_deref() == Some(after.as_str()) {
        return Ok(());
    }
    sqlx::query("UPDATE api_tokens SET created_by = $1 WHERE id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.record(actor, Event::TokenTransferred { team, token: id, before, after }).await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes a personal token of `owner`'s, in whichever team (a token that is not theirs is
/// not found).
pub async fn revoke_owned(db: &Db, actor: &Actor, owner: UserId, id: TokenId) -> Result<(), AppError> {
    let team: Option<i64> = sqlx::query_scalar(
        "SELECT team_id FROM api_tokens WHERE id = $1 AND created_by = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(db.read())
    .await?;
    let team = team.ok_or_else(|| AppError::NotFound("The token".to_owned()))?;
    revoke(db, actor, TeamId(team), id).await
}

/// A team's tokens, newest first.
pub async fn list(db: &Db, team: TeamId) -> Result<Vec<TokenInfo>, AppError> {
    let rows = sqlx::query(
        "SELECT k.id, k.name, u.display_name AS owner, k.prefix, k.scopes, k.created_at, k.expires_at,
                k.last_used_at, k.revoked_at
         FROM api_tokens k LEFT JOIN users u ON u.id = k.created_by WHERE k.team_id = $1 ORDER BY k.id DESC",
    )
    .bind(team)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(token_info).collect()
}

/// The personal tokens `owner` holds, in every team, with the team's slug; newest first.
pub async fn owned_by(db: &Db, owner: UserId) -> Result<Vec<(String, TokenInfo)>, AppError> {
    let rows = sqlx::query(
        "SELECT k.id, k.name, u.display_name AS owner, k.prefix, k.scopes, k.created_at, k.expires_at,
                k.last_used_at, k.revoked_at, t.slug
         FROM api_tokens k JOIN users u ON u.id = k.created_by JOIN teams t ON t.id = k.team_id
         WHERE k.created_by = $1 ORDER BY k.id DESC",
    )
    .bind(owner)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("slug")?, token_info(r)?))).collect()
}

fn token_info(r: &sqlx::any::AnyRow) -> Result<TokenInfo, AppError> {
    Ok(TokenInfo {
        id: TokenId(r.try_get("id")?),
        name: r.try_get("name")?,
        owner: r.try_get("owner")?,
        prefix: r.try_get("prefix")?,
        scopes: Scope::split(&r.try_get::<String, _>("scopes")?),
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// The token presented in a request, if it is well formed, known, unrevoked and unexpired.
/// Records when it was last used (at most once a minute, to spare the writer).
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Authenticated>, AppError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some(row) = sqlx::query(
        "SELECT k.id, k.team_id, t.slug, k.name, k.scopes, k.expires_at, k.last_used_at, k.created_by
         FROM api_tokens k JOIN teams t ON t.id = k.team_id
         WHERE k.token_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash(token))
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let now = Timestamp::now();
    if row.try_get::<Option<Timestamp>, _>("expires_at")?.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let id: i64 = row.try_get("id")?;
    if row.try_get::<Option<Timestamp>, _>("last_used_at")?.is_none_or(|at| now - at > 60_000) {
        let mut tx = db.begin_write().await?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some(Authenticated {
        id: TokenId(id),
        team_id: TeamId(row.try_get("team_id")?),
        team_slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        scopes: Scope::split(&row.try_get::<String, _>("scopes")?),
        owner: row.try_get::<Option<i64>, _>("created_by")?.map(UserId),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_a_checksum() {
        let secret = "0123456789abcdef0123456789abcdef01234567";
        let token = format!("{PREFIX}{secret}_{}", checksum(secret));
        assert!(well_formed(&token));
        let typo = token.replacen('1', "2", 1);
        assert!(!well_formed(&typo), "a mistyped token fails its checksum");
        assert!(!well_formed("Bearer nonsense"));
    }
}
