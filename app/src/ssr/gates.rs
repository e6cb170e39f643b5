//! Derived events: a change's gate opening or closing, and a risk acceptance running out.
//! No mutation records them by hand. The write transaction settles, before it commits,
//! the gates its events may have moved (`settle::settle`, called by `Write::commit`); time moves
//! the rest (evidence going stale, acceptances expiring), which [`sweep`] records as the
//! clock. Each change stores its gate as last recorded (`changes.gate_open`, NULL while
//! the change is not open), so a move is recorded once, by whichever instance sees it first;
//! and its coverage tally (`changes.cov_*`, `coverage::Tally`), which the portfolio reads.

use super::audit::Actor;
use super::db::Db;
use super::settle::decode;
use crate::domain::change::{ChangeKey, ChangeStatus};
use crate::domain::event::{Event, FailureModeRef, GateScope};
use crate::domain::time::Timestamp;
use crate::domain::{TeamId, TeamSlug};
use sqlx::Row;

/// How many due acceptances one transaction records.
const BATCH: i64 = 200;

/// Records what time has moved since the last sweep: each risk acceptance that ran out
/// (once, even with several instances sweeping), and each change whose evidence went stale
/// or whose acceptance ran out, settled again (its gate may close, its tally moves). Run
/// every minute by the server.
pub async fn sweep(db: &Db) -> Result<(), sqlx::Error> {
    expire_acceptances(db).await?;
    for scope in moved_by_time(db).await? {
        let mut tx = db.begin_write().await?;
        tx.settle(scope, &Actor::Clock);
        tx.commit().await?;
    }
    Ok(())
}

/// Records [`Event::RiskExpired`] for every current acceptance whose expiry has passed, in
/// batches; an acceptance replaced by a newer one, or of a cancelled change, is marked
/// without an event.
async fn expire_acceptances(db: &Db) -> Result<(), sqlx::Error> {
    loop {
        let now = Timestamp::now();
        let mut tx = db.begin_write().await?;
        let due = sqlx::query(
            "SELECT ra.id, ra.expires_at, f.number AS fm_number, c.team_id, t.slug, c.number, c.status,
                    CASE WHEN ra.id = (SELECT MAX(id) FROM risk_acceptances r WHERE r.failure_mode_id = f.id)
                         THEN 1 ELSE 0 END AS current
             FROM risk_acceptances ra JOIN failure_modes f ON f.id = ra.failure_mode_id
             JOIN changes c ON c.id = f.change_id JOIN teams t ON t.id = c.team_id
             WHERE ra.expiry_recorded = 0 AND ra.expires_at <= $1 ORDER BY ra.id LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        for row in &due {
            // Another instance may have recorded it since this one read it.
            let marked = sqlx::query(
                "UPDATE risk_acceptances SET expiry_recorded = 1 WHERE id = $1 AND expiry_recorded = 0",
            )
            .bind(row.try_get::<i64, _>("id")?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let status: String = row.try_get("status")?;
            if marked == 0
                || row.try_get::<i64, _>("current")? == 0
                || status == ChangeStatus::Cancelled.as_str()
            {
                continue;
            }
            let slug = TeamSlug::parse(&row.try_get::<String, _>("slug")?).map_err(decode)?;
            let fm = FailureModeRef {
                team: TeamId(row.try_get("team_id")?),
                change: ChangeKey::new(&slug, row.try_get("number")?),
                number: row.try_get("fm_number")?,
            };
            tx.record(&Actor::Clock, Event::RiskExpired { fm, expired_at: row.try_get("expires_at")? })
                .await?;
        }
        tx.commit().await?;
        if i64::try_from(due.len()).unwrap_or(i64::MAX) < BATCH {
            return Ok(());
        }
    }
}

/// The changes time may have moved since they last settled: those whose tally has run out
/// (`cov_until`, see [`settle`]), which includes every change from before migration 0011.
async fn moved_by_time(db: &Db) -> Result<Vec<GateScope>, sqlx::Error> {
    let rows = sqlx::query("SELECT team_id, number FROM changes WHERE cov_until <= $1 ORDER BY id")
        .bind(Timestamp::now())
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|row| Ok(GateScope::Change(TeamId(row.try_get("team_id")?), row.try_get("number")?)))
        .collect()
}
