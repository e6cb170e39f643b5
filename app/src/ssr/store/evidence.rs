//! Evidence: test runs and the latest result per test id, as the gate reads them.

use crate::domain::failure_mode::Selector;
use crate::domain::gate::RunSummary;
use crate::domain::gate::{EvidenceView, Outcome, ReportedResult, TestResult};
use crate::domain::ids::{RunId, TokenId};
use crate::domain::time::{Days, Timestamp};
use crate::domain::{AppError, ChangeId, FailureModeId, TeamId};
use crate::ssr::db::{Backend, Db};
use crate::ssr::store::failure_modes::FailureMode;
use crate::ssr::store::insert_rows;
use sqlx::{AnyConnection, Row};

/// Metadata of a test run.
#[derive(Clone, Debug, Default)]
pub struct RunInput {
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub pipeline_url: Option<String>,
    pub run_key: Option<String>,
}

/// One test result of a run; `failure_mode` binds it to a failure mode directly (by its
/// database id, already resolved and authorized by the caller).
pub type ResultInput = ReportedResult<Option<FailureModeId>>;

/// Stores a run and its results in one transaction: all or nothing.
pub async fn record_run(
    db: &Db,
    team: TeamId,
    run: &RunInput,
    results: &[ResultInput],
) -> Result<RunId, AppError> {
    let mut tx = db.begin_write().await?;
    let written = write_run(&mut tx, team, None, run, results, &[]).await?;
    tx.commit().await?;
    Ok(written.id)
}

/// A run as [`write_run`] wrote it.
pub struct WrittenRun {
    pub id: RunId,
    /// Its results for the tests in `history_for` (those some failure mode selects), as
    /// now stored as their latest.
    pub selected: Vec<TestResult>,
}

/// Writes a run inside the caller's transaction: the run with its counts, the latest result
/// per test id, direct bindings, and history rows for the tests in `history_for`.
pub async fn write_run(
    conn: &mut AnyConnection,
    team: TeamId,
    token: Option<TokenId>,
    run: &RunInput,
    results: &[ResultInput],
    history_for: &[&str],
) -> Result<WrittenRun, sqlx::Error> {
    let now = Timestamp::now();
    let run_id = insert_run(conn, team, token, run, results, now).await?;
    let team = team.0;
    // The last result of a test id counts, as if each were written in turn.
    let mut seen = std::collections::HashSet::new();
    let mut results: Vec<&ResultInput> = results.iter().rev().filter(|r| seen.insert(&r.test_id)).collect();
    // Rows go in in test id order, the same for every run, so two runs that write the same
    // tests lock their rows in the same order and never deadlock (PostgreSQL).
    results.sort_unstable_by(|a, b| a.test_id.cmp(&b.test_id));
    insert_rows(
        conn,
        "INSERT INTO evidence_latest (team_id, test_id, outcome, duration_ms, message, run_id, at) VALUES",
        "ON CONFLICT (team_id, test_id) DO UPDATE SET outcome = excluded.outcome,
             duration_ms = excluded.duration_ms, message = excluded.message,
             run_id = excluded.run_id, at = excluded.at",
        7,
        &results,
        |q, r| {
            q.bind(team)
                .bind(r.test_id.as_str())
                .bind(r.outcome.as_str())
                .bind(r.duration_ms)
                .bind(r.message.as_deref())
                .bind(run_id)
                .bind(now)
        },
    )
    .await?;
    let bound: Vec<(FailureModeId, &ResultInput)> =
        results.iter().filter_map(|r| Some((r.failure_mode?, *r))).collect();
    insert_rows(
        conn,
        "INSERT INTO evidence_bindings (failure_mode_id, test_id, outcome, run_id, at) VALUES",
        "ON CONFLICT (failure_mode_id, test_id) DO UPDATE SET outcome = excluded.outcome,
             run_id = excluded.run_id, at = excluded.at",
        5,
        &bound,
        |q, (fm, r)| q.bind(fm).bind(r.test_id.as_str()).bind(r.outcome.as_str()).bind(run_id).bind(now),
    )
    .await?;
    let history_for: std::collections::HashSet<&str> = history_for.iter().copied().collect();
    let kept: Vec<&ResultInput> =
        results.iter().copied().filter(|r| history_for.contains(r.test_id.as_str())).collect();
    insert_rows(
        conn,
        "INSERT INTO evidence_history (team_id, test_id, outcome, run_id, at) VALUES",
        "",
        5,
        &kept,
        |q, r| q.bind(team).bind(r.test_id.as_str()).bind(r.outcome.as_str()).bind(run_id).bind(now),
    )
    .await?;
    let selected = kept
        .iter()
        .map(|r| TestResult {
            test_id: r.test_id.clone(),
            outcome: r.outcome,
            at: now,
            commit: run.commit.clone(),
            pipeline_url: run.pipeline_url.clone(),
        })
        .collect();
    Ok(WrittenRun { id: run_id, selected })
}

/// The run's own row, with its counts by outcome; returns its id.
async fn insert_run(
    conn: &mut AnyConnection,
    team: TeamId,
    token: Option<TokenId>,
    run: &RunInput,
    results: &[ResultInput],
    now: Timestamp,
) -> Result<RunId, sqlx::Error> {
    let count =
        |o: Outcome| i64::try_from(results.iter().filter(|r| r.outcome == o).count()).unwrap_or(i64::MAX);
    sqlx::query_scalar(
        "INSERT INTO evidence_runs (team_id, commit_sha, branch, pipeline_url, run_key, received_at, token_id,
                                    passed, failed, skipped, errored)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(team)
    .bind(run.commit.as_deref())
    .bind(run.branch.as_deref())
    .bind(run.pipeline_url.as_deref())
    .bind(run.run_key.as_deref())
    .bind(now)
    .bind(token.map(|t| t.0))
    .bind(count(Outcome::Passed))
    .bind(count(Outcome::Failed))
    .bind(count(Outcome::Skipped))
    .bind(count(Outcome::Error))
    .fetch_one(&mut *conn)
    .await
    .map(RunId)
}

/// A team's newest runs.
pub async fn recent_runs(db: &Db, team: TeamId, limit: i64) -> Result<Vec<RunSummary>, AppError> {
    let rows = sqlx::query(
        "SELECT id, received_at, commit_sha, branch, pipeline_url, passed, failed, skipped, errored
         FROM evidence_runs WHERE team_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(team)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RunSummary {
                id: RunId(r.try_get("id")?),
                received_at: r.try_get("received_at")?,
                commit: r.try_get("commit_sha")?,
                branch: r.try_get("branch")?,
                pipeline_url: r.try_get("pipeline_url")?,
                passed: r.try_get("passed")?,
                failed: r.try_get("failed")?,
                skipped: r.try_get("skipped")?,
                errored: r.try_get("errored")?,
            })
        })
        .collect()
}

/// Deletes history and runs older than `keep`, keeping any run still referenced as some
/// test's latest result or binding (so coverage never loses its evidence).
pub async fn prune(db: &Db, keep: Days) -> Result<u64, sqlx::Error> {
    let cutoff = Timestamp::now() - keep;
    let mut tx = db.begin_write().await?;
    // A history row's time is its run's receipt: found by run, through two indexes, not
    // by reading every row.
    let history = sqlx::query(
        "DELETE FROM evidence_history
         WHERE run_id IN (SELECT id FROM evidence_runs WHERE received_at < $1)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(Timestamp::now() - Days(1))
        .execute(&mut *tx)
        .await?;
    // NOT EXISTS, not NOT IN: PostgreSQL hashes a NOT IN list only while it fits in
    // work_mem, and otherwise scans the subquery for every run (16 s on the large data set
    // against 20 ms as an anti-join).
    let runs = sqlx::query(
        "DELETE FROM evidence_runs WHERE received_at < $1
           AND NOT EXISTS (SELECT 1 FROM evidence_latest e WHERE e.run_id = evidence_runs.id)
           AND NOT EXISTS (SELECT 1 FROM evidence_bindings b WHERE b.run_id = evidence_runs.id)
           AND NOT EXISTS (SELECT 1 FROM evidence_history h WHERE h.run_id = evidence_runs.id)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(history.rows_affected() + runs.rows_affected())
}

fn test_result(row: &sqlx::any::AnyRow) -> Result<TestResult, sqlx::Error> {
    let outcome: String = row.try_get("outcome")?;
    Ok(TestResult {
        test_id: row.try_get("test_id")?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| sqlx::Error::Decode("unknown outcome".into()))?,
        at: row.try_get("at")?,
        commit: row.try_get("commit_sha")?,
        pipeline_url: row.try_get("pipeline_url")?,
    })
}

/// Most prefix ranges read one by one; past it, the team's results are read whole and
/// matched here.
const MAX_RANGES: usize = 200;

/// The team's latest results that `selectors` select, read through `conn`: SQL returns
/// those in the selectors' prefix ranges (bytewise: PostgreSQL compares under the "C"
/// collation, indexed by migration 0012), or every one of the team's when a selector has no
/// literal prefix or there are too many; each is then matched here. Results of the run
/// `except` are left out (its writer holds them already).
pub async fn selected_latest(
    conn: &mut AnyConnection,
    team: TeamId,
    selectors: &[&Selector],
    except: Option<RunId>,
) -> Result<Vec<TestResult>, sqlx::Error> {
    if selectors.is_empty() {
        return Ok(Vec::new());
    }
    let ranges = disjoint_ranges(selectors);
    let backend = Backend::of(conn);
    let except_sql = |n: usize| except.map(|_| format!(" AND e.run_id <> ${n}")).unwrap_or_default();
    let select = "SELECT e.test_id, e.outcome, e.at, r.commit_sha, r.pipeline_url
         FROM evidence_latest e JOIN evidence_runs r ON r.id = e.run_id WHERE e.team_id = $1";
    let within = |i: usize| format!("e.test_id >= ${} AND e.test_id < ${}", 2 * i + 2, 2 * i + 3);
    // The statement, and the strings it binds after the team.
    let (sql, ranges_bound): (String, Vec<String>) = match (ranges, backend) {
        (None, _) => (format!("{select}{}", except_sql(2)), Vec::new()),
        // One index seek per range: SQLite answered the same ranges OR-ed in one WHERE by
        // scanning all of the team's results (2.8 ms against 0.08 ms for 49 ranges).
        (Some(ranges), Backend::Sqlite) => (
            (0..ranges.len())
                .map(|i| format!("{select} AND {}{}", within(i), except_sql(2 * ranges.len() + 2)))
                .collect::<Vec<_>>()
                .join(" UNION ALL "),
            ranges.into_iter().flat_map(|(from, to)| [from, to]).collect(),
        ),
        // The ranges as one JSON parameter, an index seek each: one statement whatever their
        // number, which PostgreSQL plans once. OR-ed in the WHERE, they were planned on every
        // call (1.5 ms for 50 ranges, against 0.15 ms to run). The runs are looked up per
        // result: with the ranges' size unknown to the planner, a join would hash every run.
        (Some(ranges), Backend::Postgres) => (
            format!(
                "SELECT e.test_id, e.outcome, e.at,
                        (SELECT r.commit_sha FROM evidence_runs r WHERE r.id = e.run_id) AS commit_sha,
                        (SELECT r.pipeline_url FROM evidence_runs r WHERE r.id = e.run_id) AS pipeline_url
                 FROM json_array_elements(CAST($2 AS json)) AS k(range_of_ids)
                 JOIN evidence_latest e ON e.team_id = $1
                  AND e.test_id COLLATE \"C\" >= k.range_of_ids->>0 AND e.test_id COLLATE \"C\" < k.range_of_ids->>1{}",
                except_sql(3)
            ),
            vec![serde_json::to_string(&ranges).map_err(|e| sqlx::Error::Encode(e.into()))?],
        ),
    };
    let mut query = sqlx::query(&sql).bind(team);
    for bound in &ranges_bound {
        query = query.bind(bound.as_str());
    }
    if let Some(run) = except {
        query = query.bind(run);
    }
    let mut candidates: Vec<TestResult> =
        query.fetch_all(conn).await?.iter().map(test_result).collect::<Result<_, _>>()?;
    // Matched by binary search on each selector's prefix, not each result against every
    // selector: read whole, a team of 10,000 failure modes has 30,000 of each.
    candidates.sort_unstable_by(|a, b| a.test_id.cmp(&b.test_id));
    let mut selected = vec![false; candidates.len()];
    for selector in selectors {
        for hit in selector.select_sorted(&candidates, |r| r.test_id.as_str()) {
            if let Ok(i) = candidates.binary_search_by(|c| c.test_id.cmp(&hit.test_id)) {
                selected[i] = true;
            }
        }
    }
    Ok(candidates.into_iter().zip(selected).filter_map(|(r, keep)| keep.then_some(r)).collect())
}

/// The selectors' prefix ranges, sorted and merged so that none overlaps (a result is read
/// once); `None` when one has no literal prefix or there are more than [`MAX_RANGES`].
fn disjoint_ranges(selectors: &[&Selector]) -> Option<Vec<(String, String)>> {
    let mut ranges: Vec<(String, String)> = Vec::new();
    for selector in selectors {
        ranges.push(selector.prefix_range()?);
        if ranges.len() > MAX_RANGES * 4 {
            return None;
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(String, String)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some((_, end)) if from <= *end => {
                if to > *end {
                    *end = to;
                }
            }
            _ => merged.push((from, to)),
        }
    }
    (merged.len() <= MAX_RANGES).then_some(merged)
}

/// The evidence for a change's failure modes: the team's latest results that any of their
/// selectors select, and the results bound to them directly.
pub async fn view(
    db: &Db,
    team: TeamId,
    change_id: ChangeId,
    fms: &[FailureMode],
) -> Result<EvidenceView, AppError> {
    let selectors: Vec<_> = fms.iter().flat_map(|fm| fm.input.selectors.iter()).collect();
    let latest = selected_latest(&mut *db.read().acquire().await?, team, &selectors, None).await?;
    let bound = sqlx::query(
        "SELECT f.number, b.test_id, b.outcome, b.at, r.commit_sha, r.pipeline_url
         FROM evidence_bindings b JOIN failure_modes f ON f.id = b.failure_mode_id
         JOIN evidence_runs r ON r.id = b.run_id WHERE f.change_id = $1",
    )
    .bind(change_id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|row| Ok((row.try_get("number")?, test_result(row)?)))
    .collect::<Result<Vec<_>, AppError>>()?;
    Ok(EvidenceView { latest, bound })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(selectors: &[&str]) -> Option<Vec<(String, String)>> {
        let parsed: Vec<Selector> = selectors.iter().map(|s| Selector::parse(s).expect("selector")).collect();
        disjoint_ranges(&parsed.iter().collect::<Vec<_>>())
    }

    #[test]
    fn ranges_are_merged_until_none_overlaps() {
        let merged = ranges(&["q::b*", "q::a*", "q::a1*", "q::a", "q::c::x"]).expect("ranges");
        let pairs: Vec<(&str, &str)> = merged.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(pairs, [("q::a", "q::c"), ("q::c::x", "q::c::y")]);
        assert_eq!(ranges(&["*::slow"]), None, "no literal prefix: the team is read whole");
    }
}
