//! The append-only, hash-chained audit log. Every mutation appends its entry inside the
//! same transaction as the change it records, so neither exists without the other.

use super::db::{Backend, now_ms};
use crate::domain::{TeamId, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change.
#[derive(Clone, Debug)]
pub enum Actor {
    /// A logged-in user.
    User { id: UserId, username: String },
    /// The command line on the server host (e.g. creating the first admin).
    Cli,
    /// A CI system, through an API token.
    Token { id: i64, name: String },
}

impl Actor {
    fn id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(id.0),
            Actor::Cli | Actor::Token { .. } => None,
        }
    }

    fn name(&self) -> &str {
        match self {
            Actor::User { username, .. } => username,
            Actor::Cli => "cli",
            Actor::Token { name, .. } => name,
        }
    }
}

/// One entry to append: what happened to which object, with its state before and after.
#[derive(Debug)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub team_id: Option<TeamId>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The hashed content of an entry; field order is fixed by this struct.
#[derive(Serialize)]
struct Hashed<'a> {
    prev_hash: &'a str,
    at: i64,
    actor_id: Option<i64>,
    actor: &'a str,
    action: &'a str,
    object_type: &'a str,
    object_id: &'a str,
    team_id: Option<i64>,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

impl Hashed<'_> {
    fn hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

/// Appends `entry` inside the caller's write transaction.
pub async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        // Serialises appenders so two transactions cannot chain onto the same predecessor.
        // (SQLite's single writer with BEGIN IMMEDIATE already does.)
        sqlx::query("SELECT pg_advisory_xact_lock(7201)").execute(&mut *conn).await?;
    }
    let prev_hash: String = sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
    let before = entry.before.map(|v| v.to_string());
    let after = entry.after.map(|v| v.to_string());
    let hashed = Hashed {
        prev_hash: &prev_hash,
        at: now_ms(),
        actor_id: actor.id(),
        actor: actor.name(),
        action: entry.action,
        object_type: entry.object_type,
        object_id: &entry.object_id,
        team_id: entry.team_id.map(|t| t.0),
        before: before.as_deref(),
        after: after.as_deref(),
    };
    let hash = hashed.hash();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, object_type, object_id, team_id,
                                before_json, after_json, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(hashed.at)
    .bind(hashed.actor_id)
    .bind(hashed.actor)
    .bind(hashed.action)
    .bind(hashed.object_type)
    .bind(hashed.object_id)
    .bind(hashed.team_id)
    .bind(hashed.before)
    .bind(hashed.after)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An audit entry as read back for display.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Record {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Where the chain first fails to verify.
#[derive(Debug, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first entry whose hash or link does not match.
    pub id: i64,
}

/// Recomputes every hash in order. Any edited, deleted or reordered entry breaks the chain
/// at (or right after) the first affected entry.
pub async fn verify_chain(conn: &mut AnyConnection) -> Result<Result<(), ChainBreak>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, actor_id, actor, action, object_type, object_id, team_id,
                before_json, after_json, prev_hash, hash
         FROM audit_log ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut expected_prev = GENESIS.to_owned();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let prev_hash: String = row.try_get("prev_hash")?;
        let stored: String = row.try_get("hash")?;
        let before: Option<String> = row.try_get("before_json")?;
        let after: Option<String> = row.try_get("after_json")?;
        let recomputed = Hashed {
            prev_hash: &prev_hash,
            at: row.try_get("at")?,
            actor_id: row.try_get("actor_id")?,
            actor: &row.try_get::<String, _>("actor")?,
            action: &row.try_get::<String, _>("action")?,
            object_type: &row.try_get::<String, _>("object_type")?,
            object_id: &row.try_get::<String, _>("object_id")?,
            team_id: row.try_get("team_id")?,
            before: before.as_deref(),
            after: after.as_deref(),
        }
        .hash();
        if prev_hash != expected_prev || recomputed != stored {
            return Ok(Err(ChainBreak { id }));
        }
        expected_prev = stored;
    }
    Ok(Ok(()))
}

const RECORD_SELECT: &str =
    "SELECT id, at, actor, action, object_type, object_id, before_json, after_json FROM audit_log";

fn record(row: &sqlx::any::AnyRow) -> Result<Record, sqlx::Error> {
    Ok(Record {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object_type: row.try_get("object_type")?,
        object_id: row.try_get("object_id")?,
        before: row.try_get("before_json")?,
        after: row.try_get("after_json")?,
    })
}

/// The newest entries, optionally for one team, newest first.
pub async fn recent(
    conn: &mut AnyConnection,
    team: Option<TeamId>,
    limit: i64,
) -> Result<Vec<Record>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("{RECORD_SELECT} WHERE ($1 IS NULL OR team_id = $1) ORDER BY id DESC LIMIT $2"))
            .bind(team.map(|t| t.0))
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(record).collect()
}

/// The entries of one object and the objects under it (`PAY-12` and `PAY-12/FM-3`), newest first.
pub async fn for_object(
    conn: &mut AnyConnection,
    team: TeamId,
    object_id: &str,
) -> Result<Vec<Record>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{RECORD_SELECT} WHERE team_id = $1 AND (object_id = $2 OR object_id LIKE $3) ORDER BY id DESC LIMIT 500"
    ))
    .bind(team.0)
    .bind(object_id)
    .bind(format!("{object_id}/%"))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(record).collect()
}
