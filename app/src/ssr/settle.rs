//! Settling: brings the stored gates and coverage tallies of a change, or of a team's
//! changes, up to date with the facts a write transaction sees, and says which gates moved.
//! `Write::commit` settles what its events named and records the moves this returns.

use super::coverage::{self, TALLY_COLUMNS, Tally};
use super::db::Backend;
use crate::domain::change::ChangeKey;
use crate::domain::event::{Event, GateScope};
use crate::domain::gate::{self, ChangeFacts};
use crate::domain::time::Timestamp;
use crate::domain::{ChangeId, TeamId, TeamSlug};
use sqlx::{AnyConnection, Row};

/// A change as its gate needs it, read under its lock.
struct Facts {
    id: ChangeId,
    key: ChangeKey,
    change: ChangeFacts,
    policy: gate::Policy,
    stored: Option<bool>,
    tally: Tally,
}

pub(super) fn decode(err: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(err.to_string().into())
}

/// Brings the stored gates and tallies of `scope` up to date with the facts as this
/// transaction sees them, and answers each move of a change's gate as an
/// [`Event::GateMoved`] for the caller to record. A change entering or leaving the open
/// statuses moves silently: its registration, sign-off or cancellation is the event.
pub async fn settle(
    tx: &mut AnyConnection,
    backend: Backend,
    scope: GateScope,
) -> Result<Vec<Event>, sqlx::Error> {
    let now = Timestamp::now();
    let changes = facts(tx, backend, scope).await?;
    let mut moves = Vec::new();
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
        let mut update = sqlx::query(&sql).bind(desired.map(i64::from)).bind(change.id);
        for value in tally.values() {
            update = update.bind(value);
        }
        update.execute(&mut *tx).await?;
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
            moves.push(event);
        }
    }
    Ok(moves)
}

fn change_team(scope: GateScope) -> TeamId {
    match scope {
        GateScope::Change(team, _) | GateScope::Team(team) => team,
    }
}

/// The changes of `scope`, locked (on PostgreSQL; SQLite's single writer already holds
/// them) so that two instances settling the same gate record its move once.
async fn facts(
    tx: &mut AnyConnection,
    backend: Backend,
    scope: GateScope,
) -> Result<Vec<Facts>, sqlx::Error> {
    let (team, number) = match scope {
        GateScope::Change(team, number) => (team, Some(number)),
        GateScope::Team(team) => (team, None),
    };
    let filter = if number.is_some() { "c.team_id = $1 AND c.number = $2" } else { "c.team_id = $1" };
    if backend == Backend::Postgres {
        let sql = format!("SELECT c.id FROM changes c WHERE {filter} ORDER BY c.id FOR UPDATE");
        bind(sqlx::query(&sql), team, number).fetch_all(&mut *tx).await?;
    }
    let sql = format!(
        "SELECT c.id, t.slug, c.number, c.status, c.happy_path_at, c.gate_open, {tally},
                t.failure_window_days, t.freshness_days, t.min_failure_modes, t.allow_high_acceptance, t.warning_days
         FROM changes c JOIN teams t ON t.id = c.team_id WHERE {filter} ORDER BY c.id",
        tally = TALLY_COLUMNS.map(|c| format!("c.{c}")).join(", "),
    );
    let rows = bind(sqlx::query(&sql), team, number).fetch_all(&mut *tx).await?;
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
    let query = query.bind(team);
    match number {
        Some(number) => query.bind(number),
        None => query,
    }
}
