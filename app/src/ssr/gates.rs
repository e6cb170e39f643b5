//! Derived events: a change's gate opening or closing, its target date coming near or
//! passing, and a risk acceptance about to run out or running out.
//! No mutation records them by hand. The write transaction settles, before it commits,
//! the gates its events may have moved (`settle::settle`, called by `Write::commit`); time moves
//! the rest (evidence going stale, acceptances expiring), which [`sweep`] records as the
//! clock. Each change stores its gate as last recorded (`changes.gate_open`, NULL while
//! the change is not open), so a move is recorded once, by whichever instance sees it first;
//! and its coverage tally (`changes.cov_*`, `coverage::Tally`), which the portfolio reads.

use super::audit::Actor;
use super::coverage;
use super::db::Db;
use super::settle::decode;
use crate::domain::change::{ChangeKey, ChangeStatus};
use crate::domain::event::{Event, FailureModeRef, GateScope};
use crate::domain::time::{DAY_MS, Timestamp};
use crate::domain::webhook::EXPIRING_WITHIN;
use crate::domain::{TeamId, TeamSlug};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How many due acceptances one transaction records.
const BATCH: i64 = 200;

/// Records what time has moved since the last sweep: each threshold time crossed (a
/// target date near or passed, a risk acceptance about to run out or run out), once even
/// with several instances sweeping; and each change whose evidence went stale or whose
/// acceptance ran out, settled again (its gate may close, its tally moves). Run every
/// minute by the server.
pub async fn sweep(db: &Db) -> Result<(), sqlx::Error> {
    for threshold in thresholds() {
        record_crossed(db, &threshold).await?;
    }
    for scope in moved_by_time(db).await? {
        let mut tx = db.begin_write().await?;
        tx.settle(scope, &Actor::Clock);
        tx.commit().await?;
    }
    Ok(())
}

/// A threshold time crosses. `due` selects the rows that crossed it and are not marked
/// (`$1` now, `$2` the batch), each with its `id` and the time `at` it concerns; `mark`
/// marks one (`$1` its id, `$2` its `at`) and affects none if another instance marked it
/// first or the time moved since; `event` is what a marked row records, if anything.
struct Threshold {
    due: String,
    mark: &'static str,
    event: fn(&AnyRow) -> Result<Option<Event>, sqlx::Error>,
}

fn thresholds() -> [Threshold; 4] {
    let open = coverage::open_statuses();
    // A change's target date: near (within its team's warning days) or passed, each
    // announced once per target date (a moved target is announced again).
    let target = |crossed: &str, column: &str| {
        format!(
            "SELECT c.id, c.target_at AS at, c.team_id, t.slug, c.number
             FROM changes c JOIN teams t ON t.id = c.team_id
             WHERE c.status IN {open} AND {crossed} AND (c.{column} IS NULL OR c.{column} <> c.target_at)
             ORDER BY c.id LIMIT $2"
        )
    };
    let acceptance = |crossed: &str, column: &str| {
        format!(
            "SELECT ra.id, ra.expires_at AS at, f.number AS fm_number, c.team_id, t.slug, c.number, c.status,
                    CASE WHEN ra.id = (SELECT MAX(id) FROM risk_acceptances r WHERE r.failure_mode_id = f.id)
                         THEN 1 ELSE 0 END AS current
             FROM risk_acceptances ra JOIN failure_modes f ON f.id = ra.failure_mode_id
             JOIN changes c ON c.id = f.change_id JOIN teams t ON t.id = c.team_id
             WHERE ra.{column} = 0 AND {crossed} ORDER BY ra.id LIMIT $2"
        )
    };
    let expiring = i64::try_from(EXPIRING_WITHIN.as_millis()).unwrap_or(i64::MAX);
    [
        Threshold {
            due: target(
                &format!("c.target_at > $1 AND c.target_at - t.warning_days * {DAY_MS} <= $1"),
                "due_soon_for",
            ),
            mark: "UPDATE changes SET due_soon_for = $2 WHERE id = $1 AND target_at = $2
                   AND (due_soon_for IS NULL OR due_soon_for <> $2)",
            event: |row| target_near(row, false),
        },
        Threshold {
            due: target("c.target_at <= $1", "overdue_for"),
            mark: "UPDATE changes SET overdue_for = $2 WHERE id = $1 AND target_at = $2
                   AND (overdue_for IS NULL OR overdue_for <> $2)",
            event: |row| target_near(row, true),
        },
        // Announced before it runs out: an acceptance already past is left to the next.
        Threshold {
            due: acceptance(
                &format!(
                    "ra.expiry_recorded = 0 AND ra.expires_at > $1 AND ra.expires_at <= $1 + {expiring}"
                ),
                "expiring_recorded",
            ),
            mark: "UPDATE risk_acceptances SET expiring_recorded = 1 WHERE id = $1 AND expires_at = $2
                   AND expiring_recorded = 0",
            event: |row| {
                let expires_at = at(row)?;
                Ok(acceptance_of(row)?.map(|fm| Event::RiskExpiring { fm, expires_at }))
            },
        },
        Threshold {
            due: acceptance("ra.expires_at <= $1", "expiry_recorded"),
            mark: "UPDATE risk_acceptances SET expiry_recorded = 1 WHERE id = $1 AND expires_at = $2
                   AND expiry_recorded = 0",
            event: |row| {
                let expired_at = at(row)?;
                Ok(acceptance_of(row)?.map(|fm| Event::RiskExpired { fm, expired_at }))
            },
        },
    ]
}

/// Records `threshold`'s event for every row that crossed it, in batches.
async fn record_crossed(db: &Db, threshold: &Threshold) -> Result<(), sqlx::Error> {
    loop {
        let mut tx = db.begin_write().await?;
        let due = sqlx::query(&threshold.due).bind(Timestamp::now()).bind(BATCH).fetch_all(&mut *tx).await?;
        for row in &due {
            let marked = sqlx::query(threshold.mark)
                .bind(row.try_get::<i64, _>("id")?)
                .bind(at(row)?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if marked == 0 {
                continue;
            }
            if let Some(event) = (threshold.event)(row)? {
                tx.record(&Actor::Clock, event).await?;
            }
        }
        tx.commit().await?;
        if i64::try_from(due.len()).unwrap_or(i64::MAX) < BATCH {
            return Ok(());
        }
    }
}

/// The time a crossed row concerns.
fn at(row: &AnyRow) -> Result<Timestamp, sqlx::Error> {
    row.try_get("at")
}

fn change_key(row: &AnyRow) -> Result<ChangeKey, sqlx::Error> {
    let slug = TeamSlug::parse(&row.try_get::<String, _>("slug")?).map_err(decode)?;
    Ok(ChangeKey::new(&slug, row.try_get("number")?))
}

fn target_near(row: &AnyRow, passed: bool) -> Result<Option<Event>, sqlx::Error> {
    let (team, key) = (TeamId(row.try_get("team_id")?), change_key(row)?);
    Ok(Some(Event::TargetNear { team, key, target_at: at(row)?, passed }))
}

/// The failure mode of a crossed acceptance, if it should be announced: an acceptance
/// replaced by a newer one, or of a cancelled change, is marked without an event.
fn acceptance_of(row: &AnyRow) -> Result<Option<FailureModeRef>, sqlx::Error> {
    let status: String = row.try_get("status")?;
    if row.try_get::<i64, _>("current")? == 0 || status == ChangeStatus::Cancelled.as_str() {
        return Ok(None);
    }
    let fm = FailureModeRef {
        team: TeamId(row.try_get("team_id")?),
        change: change_key(row)?,
        number: row.try_get("fm_number")?,
    };
    Ok(Some(fm))
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
