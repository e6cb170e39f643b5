//! Sign-offs of failure cases complete: the snapshot and its hash.

use super::changes::{Change, next_status};
use crate::domain::change::ChangeStatus;
use crate::domain::event::Event;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, UserId};
use crate::ssr::audit::Actor;
use crate::ssr::db::Db;
use crate::ssr::write::Write;
use sqlx::Row;

/// A stored sign-off.
#[derive(Clone, Debug)]
pub struct SignOff {
    pub signed_by: String,
    pub signed_at: Timestamp,
    pub snapshot: String,
    pub content_hash: String,
}

/// Signs off failure cases inside the caller's transaction: stores the snapshot and its
/// hash and moves the change to `failure_cases_complete`, if its status still allows it.
pub async fn sign_off_in(
    tx: &mut Write,
    db: &Db,
    actor: &Actor,
    by: UserId,
    change: &Change,
    snapshot: &str,
    hash: &str,
) -> Result<(), AppError> {
    let moved = next_status(tx, db, change, ChangeStatus::sign_off).await?;
    let now = Timestamp::now();
    sqlx::query("UPDATE changes SET status = $1, signed_off_at = $2, updated_at = $2 WHERE id = $3")
        .bind(moved.to.as_str())
        .bind(now)
        .bind(change.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO sign_offs (change_id, signed_by, signed_at, snapshot, content_hash) VALUES ($1, $2, $3, $4, $5)")
        .bind(change.id)
        .bind(by)
        .bind(now)
        .bind(snapshot)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    let event = Event::SignedOff {
        team: change.team_id,
        key: change.key.clone(),
        moved,
        content_hash: hash.to_owned(),
    };
    tx.record(actor, event).await?;
    Ok(())
}

/// A change's sign-offs, newest first.
pub async fn sign_offs(db: &Db, change: &Change) -> Result<Vec<SignOff>, AppError> {
    let rows = sqlx::query(
        "SELECT u.display_name, s.signed_at, s.snapshot, s.content_hash FROM sign_offs s
         JOIN users u ON u.id = s.signed_by WHERE s.change_id = $1 ORDER BY s.id DESC",
    )
    .bind(change.id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SignOff {
                signed_by: row.try_get("display_name")?,
                signed_at: row.try_get("signed_at")?,
                snapshot: row.try_get("snapshot")?,
                content_hash: row.try_get("content_hash")?,
            })
        })
        .collect()
}
