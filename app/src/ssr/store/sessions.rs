//! The sessions users are signed in with: one row per session, named by a random handle the
//! session keeps in its data, listed on the account page and signed out from there. A session
//! whose row is gone is refused at its next request (`ssr::auth::session_principal`).

use crate::domain::event::Event;
use crate::domain::identity::SignedIn;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, UserId};
use crate::ssr::audit::Actor;
use crate::ssr::db::Db;
use sqlx::Row;
use std::time::Duration;

/// Where a session was started from, as the account page shows it.
#[derive(Clone, Debug, Default)]
pub struct Device {
    pub client: String,
    pub user_agent: String,
}

impl Device {
    /// The device of a request: the client's address (the TCP peer, or behind a trusted proxy
    /// the address it forwarded) and its `User-Agent`.
    pub fn of(
        peer: Option<std::net::SocketAddr>,
        headers: &axum::http::HeaderMap,
        trusted: &crate::ssr::proxy::TrustedProxies,
    ) -> Self {
        let client = peer
            .map_or_else(|| "unknown".to_owned(), |peer| trusted.client_of(peer.ip(), headers).to_string());
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .unwrap_or("unknown")
            .to_owned();
        Self { client, user_agent }
    }
}

/// How long "last seen" may lag: a session in use writes at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;
/// The longest user agent kept.
const MAX_USER_AGENT: usize = 300;

/// Records a new session of `user` under epoch `epoch`; its handle, for the session to keep.
pub async fn open(db: &Db, user: UserId, epoch: i64, device: &Device) -> Result<String, AppError> {
    let handle = format!("{:032x}", rand::random::<u128>());
    let now = Timestamp::now();
    let agent: String = device.user_agent.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT).collect();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO user_sessions (handle, user_id, epoch, created_at, last_seen_at, client, user_agent)
         VALUES ($1, $2, $3, $4, $4, $5, $6)",
    )
    .bind(&handle)
    .bind(user)
    .bind(epoch)
    .bind(now)
    .bind(&device.client)
    .bind(agent)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(handle)
}

/// Notes that the session `handle`, last seen at `last`, was seen now (at most once a minute,
/// to spare the writer).
pub async fn seen(db: &Db, handle: &str, last: Timestamp) -> Result<(), AppError> {
    let now = Timestamp::now();
    if now - last >= TOUCH_EVERY_MS {
        let mut tx = db.begin_write().await?;
        sqlx::query("UPDATE user_sessions SET last_seen_at = $1 WHERE handle = $2")
            .bind(now)
            .bind(handle)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Forgets a session that logged out.
pub async fn close(db: &Db, handle: &str) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM user_sessions WHERE handle = $1").bind(handle).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The user's live sessions (of their current epoch, not idle or older than the limits),
/// most recently seen first; `current` marks the one with `handle`.
pub async fn list(
    db: &Db,
    user: UserId,
    handle: &str,
    (idle, absolute): (Duration, Duration),
) -> Result<Vec<SignedIn>, AppError> {
    let now = Timestamp::now();
    let rows = sqlx::query(
        "SELECT s.id, s.handle, s.created_at, s.last_seen_at, s.client, s.user_agent
         FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.user_id = $1 AND s.epoch = u.session_epoch AND s.last_seen_at > $2 AND s.created_at > $3
         ORDER BY s.last_seen_at DESC, s.id DESC",
    )
    .bind(user)
    .bind(now - idle)
    .bind(now - absolute)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SignedIn {
                id: row.try_get("id")?,
                current: row.try_get::<String, _>("handle")? == handle,
                created_at: row.try_get("created_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                client: row.try_get("client")?,
                user_agent: row.try_get("user_agent")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Signs out one session of `user` (`id`), or every session of theirs but `keep` (`id` none).
/// A session that is not theirs is not found; the sign-out is audited.
pub async fn end(db: &Db, actor: &Actor, user: UserId, id: Option<i64>, keep: &str) -> Result<u64, AppError> {
    let mut tx = db.begin_write().await?;
    let done = match id {
        Some(id) => sqlx::query("DELETE FROM user_sessions WHERE id = $1 AND user_id = $2 AND handle <> $3")
            .bind(id)
            .bind(user)
            .bind(keep),
        None => {
            sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND handle <> $2").bind(user).bind(keep)
        }
    }
    .execute(&mut *tx)
    .await?;
    let ended = done.rows_affected();
    if id.is_some() && ended == 0 {
        return Err(AppError::NotFound("The session".to_owned()));
    }
    tx.record(actor, Event::SessionsEnded { user, others: id.is_none(), ended }).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Forgets sessions idle or older than the limits (run periodically; their records in the
/// session store expire on their own).
pub async fn prune(db: &Db, (idle, absolute): (Duration, Duration)) -> Result<u64, AppError> {
    let now = Timestamp::now();
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("DELETE FROM user_sessions WHERE last_seen_at <= $1 OR created_at <= $2")
        .bind(now - idle)
        .bind(now - absolute)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
