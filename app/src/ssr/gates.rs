//! Derived events: a change's gate opening or closing, and a risk acceptance running out.
//! No mutation records them by hand. The write transaction settles, before it commits,
//! the gates its events may have moved ([`settle`], called by `Write::commit`); time moves
//! the rest (evidence going stale, acceptances expiring), which [`sweep`] records as the
//! clock. Each change stores its gate as last recorded (`changes.gate_open`, NULL while
//! the change is not open), so a move is recorded once, by whichever instance sees it first;
//! and its coverage tally (`changes.cov_*`, [`Tally`]), which the portfolio reads.

use super::audit::Actor;
use super::coverage::{self, TALLY_COLUMNS, Tally};
use super::db::{Backend, Db, Write};
use crate::domain::change::{ChangeKey, ChangeStatus};
use crate::domain::event::{Event, FailureModeRef, GateScope};
use crate::domain::gate::{self, ChangeFacts};
use crate::domain::time::Timestamp;
use crate::domain::{ChangeId, TeamId, TeamSlug};
use sqlx::Row;

/// A change as its gate needs it, read under its lock.
struct Facts {
    id: ChangeId,
    key: ChangeKey,
    change: ChangeFacts,
    policy: gate::Policy,
    stored: Option<bool>,
    tally: Tally,
}

fn decode(err: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(err.to_string().into())
}

/// Brings the stored gates and tallies of `scope` up to date with the facts as this
/// transaction sees them, recording each move of a change's gate as a
/// [`Event::GateMoved`] by `actor`. A change entering or leaving the open statuses moves
/// silently: its registration, sign-off or cancellation is the event.
pub async fn settle(tx: &mut Write, scope: GateScope, actor: &Actor) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    let changes = facts(tx, scope).await?;
    let ids: Vec<ChangeId> = changes.iter().map(|c| c.id).collect();
    let fms = coverage::current(tx, &ids, now).await?;
    for change in changes {
        let mine: Vec<_> = fms.iter().filter(|fm| fm.change == change.id).collect();
        let tally = Tally::of(mine.iter().copied(), &change.policy);
        let pairs: Vec<_> = mine.iter().map(|fm| (fm.coverage, fm.priority)).collect();
        let desired =
            change.change.status.is_open().then(|| gate::is_open(&change.change, &pairs, &change.policy));
        if desired == change.stored && tally == change.tally {
            continue;
        }
        let columns: Vec<String> =
            TALLY_COLUMNS.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 3)).collect();
        let sql = format!("UPDATE changes SET gate_open = $1, {} WHERE id = $2", columns.join(", "));
        let mut update = sqlx::query(&sql).bind(desired.map(i64::from)).bind(change.id.0);
        for value in tally.values() {
            update = update.bind(value);
        }
        update.execute(&mut **tx).await?;
        if let (Some(was), Some(open)) = (change.stored, desired)
            && was != open
        {
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            let covered = pairs.iter().filter(|(c, p)| c.counts_for_gate(*p, &change.policy)).count();
            let event = Event::GateMoved {
                team: change_team(scope),
                key: change.key,
                open,
                failure_modes: count(pairs.len()),
                covered: count(covered),
            };
            tx.record(actor, event).await?;
        }
    }
    Ok(())
}

fn change_team(scope: GateScope) -> TeamId {
    match scope {
        GateScope::Change(team, _) | GateScope::Team(team) => team,
    }
}

/// The changes of `scope`, locked (on PostgreSQL; SQLite's single writer already holds
/// them) so that two instances settling the same gate record its move once.
async fn facts(tx: &mut Write, scope: GateScope) -> Result<Vec<Facts>, sqlx::Error> {
    let (team, number) = match scope {
        GateScope::Change(team, number) => (team, Some(number)),
        GateScope::Team(team) => (team, None),
    };
    let filter = if number.is_some() { "c.team_id = $1 AND c.number = $2" } else { "c.team_id = $1" };
    if tx.backend() == Backend::Postgres {
        let sql = format!("SELECT c.id FROM changes c WHERE {filter} ORDER BY c.id FOR UPDATE");
        bind(sqlx::query(&sql), team, number).fetch_all(&mut **tx).await?;
    }
    let sql = format!(
        "SELECT c.id, t.slug, c.number, c.status, c.happy_path_at, c.gate_open, {tally},
                t.failure_window_days, t.freshness_days, t.min_failure_modes, t.allow_high_acceptance
         FROM changes c JOIN teams t ON t.id = c.team_id WHERE {filter} ORDER BY c.id",
        tally = TALLY_COLUMNS.map(|c| format!("c.{c}")).join(", "),
    );
    let rows = bind(sqlx::query(&sql), team, number).fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            let slug = TeamSlug::parse(&row.try_get::<String, _>("slug")?).map_err(decode)?;
            Ok(Facts {
                id: ChangeId(row.try_get("id")?),
                key: ChangeKey::new(&slug, row.try_get("number")?),
                change: ChangeFacts {
                    status: super::store::decode_status(&status)?,
                    happy_path_at: row.try_get("happy_path_at")?,
                },
                policy: super::store::changes::policy(row)?,
                stored: row.try_get::<Option<i64>, _>("gate_open")?.map(|open| open != 0),
                tally: Tally::read(row)?,
            })
        })
        .collect()
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind(query: Query<'_>, team: TeamId, number: Option<i64>) -> Query<'_> {
    let query = query.bind(team.0);
    match number {
        Some(number) => query.bind(number),
        None => query,
    }
}

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
        settle(&mut tx, scope, &Actor::Clock).await?;
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
