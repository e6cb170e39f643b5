//! Coverage that dashboards can aggregate in SQL. Each failure mode stores the facts its
//! coverage is derived from (priority weight and an [`EvidenceSummary`]); they are written
//! here whenever its selectors or its evidence change. Time-dependent parts (staleness,
//! acceptance expiry) are left to the query, in [`FM_COVERAGE`], which mirrors
//! [`Coverage::derive`]; a test holds the two to the same answers.

use super::db::Db;
use crate::domain::change::ChangeStatus;
use crate::domain::failure_mode::{Priority, Ratings, Selector};
use crate::domain::gate::{Coverage, EvidenceSummary, Matches, Outcome, Policy, TestResult};
use crate::domain::portfolio::CoverageCounts;
use crate::domain::time::DAY_MS;
use crate::domain::time::Timestamp;
use crate::domain::{ChangeId, FailureModeId, TeamId};
use crate::ssr::store::evidence::{WrittenRun, selected_latest};
use sqlx::{AnyConnection, Row};

/// 1 when coverage `cov` counts for the gate (verified, or accepted where allowed: below
/// High priority, or where the team allows accepting High), as `Coverage::counts_for_gate`.
pub static COUNTS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "CASE WHEN cov = 'verified'
    OR (cov = 'accepted' AND (priority_weight < {} OR allow_high_acceptance = 1)) THEN 1 ELSE 0 END",
        Priority::High.weight()
    )
});

fn weight(priority: Priority) -> i64 {
    priority.weight()
}

fn priority(stored: i64) -> Option<Priority> {
    Priority::of_weight(stored)
}

/// `('draft', …)`, for `status IN …`: the statuses [`ChangeStatus::is_open`] holds open.
pub fn open_statuses() -> String {
    let open: Vec<String> =
        ChangeStatus::ALL.iter().filter(|s| s.is_open()).map(|s| format!("'{}'", s.as_str())).collect();
    format!("({})", open.join(", "))
}

/// A failure mode's coverage now, from its stored facts.
pub struct Current {
    pub change: ChangeId,
    pub fm: FailureModeId,
    pub number: i64,
    pub coverage: Coverage,
    pub priority: Priority,
    /// When time alone changes `coverage`, if it ever does.
    pub until: Option<Timestamp>,
}

/// The coverage at `now` of every failure mode of `changes` ([`FM_COVERAGE`]), read through
/// `conn` (inside a write transaction, from what it wrote), by change and number.
pub async fn current(
    conn: &mut AnyConnection,
    changes: &[ChangeId],
    now: Timestamp,
) -> Result<Vec<Current>, sqlx::Error> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = changes.iter().map(|c| c.0.to_string()).collect();
    let rows = sqlx::query(&format!(
        "SELECT change_id, fm_id, fm_number, cov, cov_until, priority_weight FROM ({fm_coverage}) x
         WHERE change_id IN ({ids}) ORDER BY change_id, fm_number",
        fm_coverage = *FM_COVERAGE,
        ids = ids.join(", "),
    ))
    .bind(now)
    .fetch_all(conn)
    .await?;
    let decode = |what: &str| sqlx::Error::Decode(format!("unknown {what}").into());
    rows.iter()
        .map(|row| {
            Ok(Current {
                change: ChangeId(row.try_get("change_id")?),
                fm: FailureModeId(row.try_get("fm_id")?),
                number: row.try_get("fm_number")?,
                coverage: Coverage::parse(&row.try_get::<String, _>("cov")?)
                    .ok_or_else(|| decode("coverage"))?,
                priority: priority(row.try_get("priority_weight")?)
                    .ok_or_else(|| decode("priority weight"))?,
                until: row.try_get("cov_until")?,
            })
        })
        .collect()
}

/// A change's coverage as the portfolio shows it, stored on the change when its gate
/// settles (`changes.cov_*`): how many failure modes are in each state, their weights, and
/// until when that holds without a write (the earliest [`Current::until`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: CoverageCounts,
    pub weight_total: i64,
    pub weight_covered: i64,
    pub until: Timestamp,
}

/// The stored tally's columns on `changes`, in the order [`Tally::values`] gives them.
pub const TALLY_COLUMNS: [&str; 9] = [
    "cov_verified",
    "cov_accepted",
    "cov_stale",
    "cov_failing",
    "cov_designed",
    "cov_uncovered",
    "cov_weight_total",
    "cov_weight_covered",
    "cov_until",
];

impl Tally {
    /// The tally of one change's failure modes.
    pub fn of<'a>(fms: impl IntoIterator<Item = &'a Current>, policy: &Policy) -> Self {
        let mut tally = Tally { until: Timestamp(i64::MAX), ..Tally::default() };
        for fm in fms {
            tally.counts.add(fm.coverage, 1);
            tally.weight_total += weight(fm.priority);
            if fm.coverage.counts_for_gate(fm.priority, policy) {
                tally.weight_covered += weight(fm.priority);
            }
            tally.until = tally.until.min(fm.until.unwrap_or(Timestamp(i64::MAX)));
        }
        tally
    }

    /// Its values, in the order of [`TALLY_COLUMNS`].
    pub fn values(&self) -> [i64; 9] {
        let c = &self.counts;
        [
            c.verified,
            c.accepted,
            c.stale,
            c.failing,
            c.designed,
            c.uncovered,
            self.weight_total,
            self.weight_covered,
            self.until.0,
        ]
    }

    /// Reads the columns named as in [`TALLY_COLUMNS`]; a missing count (NULL) is 0.
    pub fn read(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        let mut v = [0; 9];
        for (value, name) in v.iter_mut().zip(TALLY_COLUMNS) {
            *value = row.try_get::<Option<i64>, _>(name)?.unwrap_or(0);
        }
        Ok(Self::from_values(v))
    }

    /// The tally of values in the order of [`TALLY_COLUMNS`].
    pub fn from_values(values: [i64; 9]) -> Self {
        let [verified, accepted, stale, failing, designed, uncovered, weight_total, weight_covered, until] =
            values;
        Tally {
            counts: CoverageCounts { verified, accepted, stale, failing, designed, uncovered },
            weight_total,
            weight_covered,
            until: Timestamp(until),
        }
    }
}

/// What deriving a failure mode's facts needs.
pub struct Derivable<'a> {
    pub id: FailureModeId,
    pub ratings: Ratings,
    pub selectors: &'a [Selector],
}

/// Derives and stores the facts of `fms` (all of `team`), reading the evidence through
/// `conn`: inside the caller's write transaction it sees what that transaction wrote.
/// `written` is a run that transaction wrote, whose selected results are taken as it holds
/// them rather than read back. Returns each one's summary, in order.
pub async fn refresh(
    conn: &mut AnyConnection,
    team: TeamId,
    fms: &[Derivable<'_>],
    written: Option<&WrittenRun>,
) -> Result<Vec<EvidenceSummary>, sqlx::Error> {
    if fms.is_empty() {
        return Ok(Vec::new());
    }
    // Only the results these failure modes' selectors can select, and not those the run
    // just wrote: an upload's thousands of results are not read back.
    let selectors: Vec<&Selector> = fms.iter().flat_map(|fm| fm.selectors.iter()).collect();
    let mut latest = selected_latest(&mut *conn, team, &selectors, written.map(|w| w.id)).await?;
    latest.extend(written.iter().flat_map(|w| w.selected.iter().cloned()));
    // Bytewise, whatever the database's collation: `select_sorted` relies on it.
    latest.sort_unstable_by(|a, b| a.test_id.cmp(&b.test_id));
    let mut bound: Vec<(i64, TestResult)> = Vec::new();
    let ids: Vec<String> = fms.iter().map(|fm| fm.id.0.to_string()).collect();
    for row in sqlx::query(&format!(
        "SELECT failure_mode_id, test_id, outcome, at FROM evidence_bindings
         WHERE failure_mode_id IN ({})",
        ids.join(", ")
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        bound.push((row.try_get("failure_mode_id")?, result(&row)?));
    }
    let now = Timestamp::now();
    let mut summaries = Vec::with_capacity(fms.len());
    for fm in fms {
        let matches = Matches {
            by_selector: fm
                .selectors
                .iter()
                .map(|s| (s, s.select_sorted(&latest, |r| r.test_id.as_str()).collect()))
                .collect(),
            bound: bound.iter().filter(|(id, _)| *id == fm.id.0).map(|(_, r)| r).collect(),
        };
        let summary = EvidenceSummary::of(&matches);
        sqlx::query(
            "UPDATE failure_modes SET priority_weight = $1, ev_failing = $2, ev_unmatched = $3,
                    ev_oldest_at = $4, derived_at = $5 WHERE id = $6",
        )
        .bind(weight(fm.ratings.priority()))
        .bind(summary.failing)
        .bind(summary.unmatched)
        .bind(summary.oldest_at)
        .bind(now)
        .bind(fm.id)
        .execute(&mut *conn)
        .await?;
        summaries.push(summary);
    }
    Ok(summaries)
}

fn result(row: &sqlx::any::AnyRow) -> Result<TestResult, sqlx::Error> {
    let outcome: String = row.try_get("outcome")?;
    Ok(TestResult {
        test_id: row.try_get("test_id")?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| sqlx::Error::Decode("unknown outcome".into()))?,
        at: row.try_get("at")?,
        commit: None,
        pipeline_url: None,
    })
}

/// Records today's coverage per team (its changes that are not cancelled) for the trend
/// chart, replacing today's earlier figures; drops days older than `keep`.
pub async fn record_daily(db: &Db, keep: crate::domain::time::Days) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    let day = now.day();
    let figures = today(db, now).await?;
    let mut tx = db.begin_write().await?;
    for f in figures {
        sqlx::query(
            "INSERT INTO coverage_daily (team_id, day, failure_modes, covered, weighted_covered, weighted_total,
                                         failing, stale)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (team_id, day) DO UPDATE SET failure_modes = excluded.failure_modes,
                 covered = excluded.covered, weighted_covered = excluded.weighted_covered,
                 weighted_total = excluded.weighted_total, failing = excluded.failing, stale = excluded.stale",
        )
        .bind(f.team)
        .bind(day)
        .bind(f.failure_modes)
        .bind(f.covered)
        .bind(f.weighted_covered)
        .bind(f.weighted_total)
        .bind(f.failing)
        .bind(f.stale)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM coverage_daily WHERE day < $1").bind(day - keep.get()).execute(&mut *tx).await?;
    tx.commit().await
}

/// A team's coverage at one moment: a point of the trend chart.
pub struct DayFigures {
    pub team: TeamId,
    pub failure_modes: i64,
    pub covered: i64,
    pub weighted_covered: i64,
    pub weighted_total: i64,
    pub failing: i64,
    pub stale: i64,
}

/// Every team's coverage at `now` (its changes that are not cancelled), in one query.
pub async fn today(db: &Db, now: Timestamp) -> Result<Vec<DayFigures>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT team_id, COUNT(*) AS fms,
                CAST(COALESCE(SUM(counted), 0) AS BIGINT) AS covered,
                CAST(COALESCE(SUM(counted * priority_weight), 0) AS BIGINT) AS weighted_covered,
                CAST(COALESCE(SUM(priority_weight), 0) AS BIGINT) AS weighted_total,
                CAST(COALESCE(SUM(CASE WHEN cov = 'failing' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing,
                CAST(COALESCE(SUM(CASE WHEN cov = 'stale' THEN 1 ELSE 0 END), 0) AS BIGINT) AS stale
         FROM (SELECT team_id, cov, priority_weight, {counts} AS counted
               FROM ({fm_coverage}) x WHERE status <> 'cancelled') y
         GROUP BY team_id",
        fm_coverage = *FM_COVERAGE,
        counts = *COUNTS_SQL,
    ))
    .bind(now)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DayFigures {
                team: TeamId(row.try_get("team_id")?),
                failure_modes: row.try_get("fms")?,
                covered: row.try_get("covered")?,
                weighted_covered: row.try_get("weighted_covered")?,
                weighted_total: row.try_get("weighted_total")?,
                failing: row.try_get("failing")?,
                stale: row.try_get("stale")?,
            })
        })
        .collect()
}

/// Every failure mode with its team, change, priority weight, the team's acceptance rule and
/// its coverage `cov` at `$1` (now, Unix ms): [`Coverage::derive`] over the stored facts and
/// the current (newest) risk acceptance; and `cov_until`, the first moment at which time
/// alone changes `cov` (the acceptance runs out, the evidence goes stale), NULL if never.
///
/// [`Coverage::derive`]: crate::domain::gate::Coverage::derive
pub static FM_COVERAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT c.team_id, t.slug, c.number AS change_number, c.status, f.change_id,
        f.id AS fm_id, f.number AS fm_number, f.title AS fm_title, f.priority_weight, f.ev_oldest_at,
        t.allow_high_acceptance,
        CASE
            WHEN ra.expires_at > $1 THEN 'accepted'
            WHEN f.designs = '[]' OR f.selectors = '[]' THEN 'uncovered'
            WHEN f.ev_failing > 0 THEN 'failing'
            WHEN f.ev_unmatched > 0 THEN 'designed'
            WHEN $1 - f.ev_oldest_at > t.freshness_days * {DAY_MS} OR f.ev_oldest_at < f.design_failed_at THEN 'stale'
            ELSE 'verified' END AS cov,
        CASE
            WHEN ra.expires_at > $1 THEN ra.expires_at
            WHEN f.designs = '[]' OR f.selectors = '[]' OR f.ev_failing > 0 OR f.ev_unmatched > 0 THEN NULL
            WHEN $1 - f.ev_oldest_at > t.freshness_days * {DAY_MS} OR f.ev_oldest_at < f.design_failed_at THEN NULL
            ELSE f.ev_oldest_at + t.freshness_days * {DAY_MS} + 1 END AS cov_until
    FROM failure_modes f JOIN changes c ON c.id = f.change_id JOIN teams t ON t.id = c.team_id
    LEFT JOIN risk_acceptances ra
        ON ra.id = (SELECT MAX(id) FROM risk_acceptances WHERE failure_mode_id = f.id)"
    )
});
