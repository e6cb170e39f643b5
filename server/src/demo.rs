//! Data sets to try Premortem with. `large` is a load fixture for the dashboard benchmark:
//! 10 teams × 100 changes × 10 failure modes, 30,000 tests and 1,000,000 results, written
//! with bulk statements (one run per team and day over ~100 days), then derived with the
//! same code ingestion uses.

use app::domain::change::{ChangeStatus, ChangeType};
use app::domain::{AppError, TeamId};
use app::ssr::coverage::{self, Derivable};
use app::ssr::db::{Db, now_ms};
use app::ssr::store::changes;
use sqlx::{Any, AnyConnection, query::Query};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// How big a data set is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub teams: i64,
    pub changes_per_team: i64,
    pub failure_modes_per_change: i64,
    pub tests_per_failure_mode: i64,
    /// Runs per team; each reports every test of the team once.
    pub runs_per_team: i64,
}

impl Scale {
    /// 1,000 changes, 10,000 failure modes, 30,000 tests, 1,020,000 results.
    pub const LARGE: Scale = Scale {
        teams: 10,
        changes_per_team: 100,
        failure_modes_per_change: 10,
        tests_per_failure_mode: 3,
        runs_per_team: 34,
    };

    pub fn results(&self) -> i64 {
        self.teams
            * self.changes_per_team
            * self.failure_modes_per_change
            * self.tests_per_failure_mode
            * self.runs_per_team
    }
}

/// What a fixture wrote.
#[derive(Debug, Default)]
pub struct Written {
    pub teams: i64,
    pub changes: i64,
    pub failure_modes: i64,
    pub results: i64,
}

/// A value to bind in a bulk insert.
enum V {
    I(i64),
    S(String),
    N,
}

fn bind<'q>(
    query: Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    v: &'q V,
) -> Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    match v {
        V::I(i) => query.bind(*i),
        V::S(s) => query.bind(s.as_str()),
        V::N => query.bind(None::<i64>),
    }
}

/// Inserts `rows` into `table` in statements of a few hundred rows each.
async fn insert(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<V>],
) -> Result<(), sqlx::Error> {
    let per_statement = (8_000 / columns.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..columns.len() {
                n += 1;
                if c > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                query = bind(query, v);
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes a data set of `scale` into a database without changes. Users: `bench-lead`, a
/// lead of every team, authors its changes (its password hash is `password_hash`).
pub async fn generate(db: &Db, scale: Scale, password_hash: &str) -> Result<Written, AppError> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes").fetch_one(db.read()).await?;
    if existing > 0 {
        return Err(AppError::Conflict(
            "Demo data goes into an empty database; this one has changes.".into(),
        ));
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let lead: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash, is_admin, created_at, updated_at)
         VALUES ('bench-lead', 'Bench Lead', $1, 0, $2, $2) RETURNING id",
    )
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let statuses = [
        ChangeStatus::Draft,
        ChangeStatus::HappyPathWorking,
        ChangeStatus::HappyPathWorking,
        ChangeStatus::HappyPathWorking,
        ChangeStatus::FailureCasesComplete,
        ChangeStatus::FailureCasesComplete,
        ChangeStatus::FailureCasesComplete,
        ChangeStatus::HappyPathWorking,
        ChangeStatus::Regressed,
        ChangeStatus::Cancelled,
    ];
    let mut written = Written::default();
    let mut team_ids = Vec::new();
    for t in 1..=scale.teams {
        let slug = format!("TEAM{t:02}");
        let team: i64 = sqlx::query_scalar(
            "INSERT INTO teams (slug, name, created_at, last_change_number) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&slug)
        .bind(format!("Team {t}"))
        .bind(now)
        .bind(scale.changes_per_team)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (team_id, user_id, role, created_at) VALUES ($1, $2, 'lead', $3)",
        )
        .bind(team)
        .bind(lead)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        team_ids.push(TeamId(team));
        written.teams += 1;

        let mut rows = Vec::new();
        for c in 1..=scale.changes_per_team {
            let status = statuses[(c as usize) % statuses.len()];
            let created = now - (c * 7 % 180 + 30) * DAY_MS;
            let happy = (status != ChangeStatus::Draft).then_some(created + (c % 20 + 5) * DAY_MS);
            let target = happy.map(|h| h + 30 * DAY_MS);
            let signed = matches!(status, ChangeStatus::FailureCasesComplete | ChangeStatus::Regressed)
                .then(|| happy.map(|h| (h + (c % 40 + 10) * DAY_MS).min(now)))
                .flatten();
            let kind = ChangeType::ALL[(c as usize) % ChangeType::ALL.len()];
            let opt = |v: Option<i64>| v.map(V::I).unwrap_or(V::N);
            rows.push(vec![
                V::I(team),
                V::I(c),
                V::S(format!("Change {c} of team {t}")),
                V::S(kind.as_str().to_owned()),
                V::I(lead),
                V::S(status.as_str().to_owned()),
                opt(happy),
                opt(target),
                opt(signed),
                V::I(scale.failure_modes_per_change),
                V::I(created),
                V::I(created),
            ]);
        }
        insert(
            &mut tx,
            "changes",
            &[
                "team_id",
                "number",
                "title",
                "types",
                "author_id",
                "status",
                "happy_path_at",
                "target_at",
                "signed_off_at",
                "last_fm_number",
                "created_at",
                "updated_at",
            ],
            &rows,
        )
        .await?;
        written.changes += scale.changes_per_team;

        let ids: Vec<(i64, i64)> = sqlx::query_as("SELECT id, number FROM changes WHERE team_id = $1")
            .bind(team)
            .fetch_all(&mut *tx)
            .await?;
        let mut fms = Vec::new();
        let mut tests = Vec::new();
        for (change_id, c) in &ids {
            for f in 1..=scale.failure_modes_per_change {
                let prefix = format!("t{t}::c{c}::f{f}::");
                // One in ten has no selector yet: uncovered.
                let selectors = if (c + f) % 10 == 0 { "[]".to_owned() } else { format!("[\"{prefix}*\"]") };
                fms.push(vec![
                    V::I(*change_id),
                    V::I(f),
                    V::S(format!("Failure mode {f}")),
                    V::S("Scenario with a magnitude".into()),
                    V::I(1 + (c + f) % 5),
                    V::I(1 + (c * f) % 5),
                    V::I(1 + f % 5),
                    V::S("[{\"title\":\"Design note\",\"url\":null}]".into()),
                    V::S(selectors),
                    V::I(now),
                    V::I(now),
                ]);
                for k in 0..scale.tests_per_failure_mode {
                    tests.push(format!("{prefix}case_{k}"));
                }
            }
        }
        insert(
            &mut tx,
            "failure_modes",
            &[
                "change_id",
                "number",
                "title",
                "scenario",
                "severity",
                "likelihood",
                "detectability",
                "designs",
                "selectors",
                "created_at",
                "updated_at",
            ],
            &fms,
        )
        .await?;
        written.failure_modes += i64::try_from(fms.len()).unwrap_or(0);

        // Runs every third day, newest last; every run reports every test.
        let runs: Vec<Vec<V>> = (0..scale.runs_per_team)
            .map(|r| {
                let at = now - (scale.runs_per_team - r) * 3 * DAY_MS + DAY_MS;
                vec![V::I(team), V::S(format!("{:040x}", r * 7919 + t)), V::S("main".into()), V::I(at)]
            })
            .collect();
        insert(&mut tx, "evidence_runs", &["team_id", "commit_sha", "branch", "received_at"], &runs).await?;
        let (last_run, last_at): (i64, i64) = sqlx::query_as(
            "SELECT id, received_at FROM evidence_runs WHERE team_id = $1 ORDER BY received_at DESC LIMIT 1",
        )
        .bind(team)
        .fetch_one(&mut *tx)
        .await?;
        // The latest result per test: a few fail, the rest pass.
        let latest: Vec<Vec<V>> = tests
            .iter()
            .enumerate()
            .map(|(i, test)| {
                let outcome = if i % 97 == 0 { "failed" } else { "passed" };
                vec![V::I(team), V::S(test.clone()), V::S(outcome.into()), V::I(last_run), V::I(last_at)]
            })
            .collect();
        insert(&mut tx, "evidence_latest", &["team_id", "test_id", "outcome", "run_id", "at"], &latest)
            .await?;
        // Every run's results as history, generated by the database from the two tables.
        let history = sqlx::query(
            "INSERT INTO evidence_history (team_id, test_id, outcome, run_id, at)
             SELECT l.team_id, l.test_id, CASE WHEN (r.id + LENGTH(l.test_id)) % 53 = 0 THEN 'failed' ELSE 'passed' END,
                    r.id, r.received_at
             FROM evidence_latest l JOIN evidence_runs r ON r.team_id = l.team_id WHERE l.team_id = $1",
        )
        .bind(team)
        .execute(&mut *tx)
        .await?;
        written.results += i64::try_from(history.rows_affected()).unwrap_or(0);
    }
    tx.commit().await?;

    // Coverage facts, derived by the code ingestion uses.
    for team in team_ids {
        let fms = changes::team_failure_modes(db.read(), team).await?;
        let derivable: Vec<Derivable<'_>> = fms.iter().map(|t| t.fm.derivable()).collect();
        let mut tx = db.begin_write().await?;
        coverage::refresh(&mut tx, team, &derivable).await?;
        tx.commit().await?;
    }
    coverage::record_daily(db, 400).await?;
    Ok(written)
}

/// A password to print for a demo account: 20 random letters and digits.
pub fn random_password() -> String {
    use rand::Rng;
    use rand::distributions::Alphanumeric;
    rand::thread_rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect()
}
