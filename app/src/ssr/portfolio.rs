//! The leaders' portfolio, aggregated in SQL: a handful of queries per view however many
//! changes and failure modes there are (coverage facts are stored per failure mode, see
//! `ssr::coverage`). Used by the dashboard page and the CSV export.

use super::coverage::{self, COUNTS_SQL, FM_COVERAGE, TALLY_COLUMNS, Tally};
use super::db::{Backend, Db};
use super::store::decode_status;
use crate::domain::change::{ChangeStatus, ChangeType, DETAILS};
use crate::domain::gate::Coverage;
use crate::domain::incident::Verdict;
use crate::domain::learning::{Learning, TeamLearning, Verdicts, Window};
use crate::domain::portfolio::{
    Cycle, Filter, Gap, MonthCycle, PAGE_SIZE, Portfolio, Row, Sort, TREND_DAYS, TeamWork, Trend, TrendPoint,
    Upcoming, percent, percentile_of_counts,
};
use crate::domain::time::{Days, Quarter, Timestamp};
use crate::domain::{AppError, Principal};
use sqlx::Row as _;

use crate::domain::time::DAY_MS;

/// Which teams a view covers: `$u` is the viewer (negative for an admin) and `$t` a team
/// slug or NULL; `team_col` is the team id column to restrict. Only the clauses `view`
/// needs are written, so the engine reaches a team's rows through its index instead of
/// testing every row; each parameter is still named (`$u < 0`, `$t IS NULL`), so the binds
/// are the same whatever the shape.
fn visible(team_col: &str, (u, t): (u8, u8), view: Shape) -> String {
    let readable = if view.admin {
        format!("${u} < 0")
    } else {
        format!("{team_col} IN (SELECT team_id FROM memberships WHERE user_id = ${u})")
    };
    let team = if view.team {
        format!("{team_col} = (SELECT id FROM teams WHERE slug = ${t})")
    } else {
        format!("${t} IS NULL")
    };
    format!("{readable} AND {team}")
}

/// What the SQL of a view depends on besides its parameters: whether the viewer reads every
/// team, and whether the view is of one team.
#[derive(Clone, Copy)]
struct Shape {
    admin: bool,
    team: bool,
}

impl Shape {
    fn of(user: &Principal, filter: &Filter) -> Self {
        Shape { admin: user.is_admin, team: filter.team.is_some() }
    }

    /// `c.team_id` as the view reaches its changes: through the team's index for a view of
    /// one team, and never through it for the others, which read an index of changes in the
    /// order they need instead. (`+` keeps SQLite from using an index on the column.)
    fn changes_team(self) -> &'static str {
        if self.team { "c.team_id" } else { "+c.team_id" }
    }
}

fn viewer(user: &Principal) -> i64 {
    if user.is_admin { -1 } else { user.id.0 }
}

/// `,queue,` as a LIKE pattern over `',' || types || ','`.
fn type_pattern(filter: &Filter) -> Option<String> {
    filter.change_type.map(|t| format!("%,{},%", t.as_str()))
}

/// Refuses a team the viewer cannot see, as if it did not exist.
fn check_team(teams: &[(i64, String, String)], filter: &Filter) -> Result<(), AppError> {
    match &filter.team {
        Some(slug) if !teams.iter().any(|(_, s, _)| s == slug) => {
            Err(AppError::NotFound("The team".to_owned()))
        }
        _ => Ok(()),
    }
}

/// The teams the viewer can see: (id, slug, name).
async fn teams(db: &Db, user: &Principal) -> Result<Vec<(i64, String, String)>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT id, slug, name FROM teams t WHERE {} ORDER BY slug",
        visible("t.id", (1, 2), Shape { admin: user.is_admin, team: false })
    ))
    .bind(viewer(user))
    .bind(None::<String>)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("slug")?, r.try_get("name")?))).collect()
}

/// The rows of the view, in the order the page shows them: overdue first, then by
/// `filter.sort`, then by team and number; `limit` of them from `offset`. Each change's
/// coverage is its stored tally ([`Tally`]) while that holds, and aggregated live from its
/// failure modes once time has moved past it (until the sweeper settles it again). The
/// changes' details are read only `with_details` (the CSV carries them; the page does not
/// show them).
///
/// The rows come back as one JSON array, built by the database: a row at a time, SQLite's
/// driver hands each one from its thread to ours, and those handovers cost five times what
/// the query does (1,000 rows: 22 ms against 4 ms).
pub async fn rows(
    conn: &mut sqlx::AnyConnection,
    user: &Principal,
    filter: &Filter,
    now: Timestamp,
    window: (i64, i64),
    with_details: bool,
) -> Result<Vec<Row>, AppError> {
    let backend = Backend::of(conn);
    let sql = page_sql(backend, filter.sort, with_details, Shape::of(user, filter));
    let page: Vec<Vec<serde_json::Value>> = from_json(
        bind_rows(sqlx::query_scalar(&sql), user, filter, now, window).fetch_one(&mut *conn).await?,
    )?;
    Ok(page.iter().map(|values| row(values, with_details)).collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// The columns of a row, in the order [`row`] reads them; the details follow when read.
const ROW_COLUMNS: [&str; 8] =
    ["slug", "number", "title", "status", "types", "happy_path_at", "target_at", "signed_off_at"];

/// A change's incident verdicts, as maintained (`change_incident_counts`, migration 0024),
/// read after the details: the CSV's columns.
const INCIDENT_COLUMNS: [&str; 5] = ["held", "failed", "missed", "waiting", "after_sign_off"];

/// [`rows_sql`]'s rows as one JSON array of arrays (columns as [`ROW_COLUMNS`], then the
/// tally's, then the details), in the same order.
fn page_sql(backend: Backend, sort: Sort, with_details: bool, view: Shape) -> String {
    let (aggregate, array) = json_functions(backend);
    let details: Vec<String> = if with_details {
        DETAILS
            .iter()
            .map(|d| d.name.to_owned())
            .chain(INCIDENT_COLUMNS.map(|k| format!("inc_{k}")))
            .collect()
    } else {
        Vec::new()
    };
    let columns: Vec<String> = ROW_COLUMNS
        .iter()
        .chain(&TALLY_COLUMNS)
        .map(|c| format!("r.{c}"))
        .chain(details.iter().map(|c| format!("r.{c}")))
        .collect();
    format!(
        "SELECT CAST({aggregate}({array}({columns}) ORDER BY {order}) AS TEXT) FROM ({rows}) r",
        columns = columns.join(", "),
        order = order_by(sort),
        rows = rows_sql(sort, with_details, view),
    )
}

/// The engine's functions that build one JSON array of arrays from rows: the aggregate,
/// and the array of one row's values.
fn json_functions(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => ("json_group_array", "json_array"),
        Backend::Postgres => ("json_agg", "json_build_array"),
    }
}

/// Rows the database handed over as one JSON value, built by [`json_functions`]; NULL (what
/// PostgreSQL's aggregate gives for no rows) is none.
fn from_json<T: serde::de::DeserializeOwned>(json: Option<String>) -> Result<Vec<T>, sqlx::Error> {
    json.map_or(Ok(Vec::new()), |json| {
        serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    })
}

/// The view's order over its rows `r`: overdue first whatever the sort; the sort's own
/// order; then team and number.
fn order_by(sort: Sort) -> String {
    format!("r.overdue DESC, {}{BY_KEY}", sort_key(sort))
}

/// The order every view ends with: team and number.
const BY_KEY: &str = "r.slug, r.number";

/// The sort's own order over rows `r`, before [`BY_KEY`].
fn sort_key(sort: Sort) -> &'static str {
    match sort {
        Sort::Target => "CASE WHEN r.target_at IS NULL THEN 1 ELSE 0 END, r.target_at, ",
        Sort::Coverage => {
            "CASE WHEN r.cov_weight_total > 0 THEN r.cov_weight_covered * 100 / r.cov_weight_total ELSE -1 END, "
        }
        Sort::Age => "CASE WHEN r.happy_path_at IS NULL THEN 1 ELSE 0 END, r.happy_path_at, ",
        Sort::Key => "",
    }
}

/// The query of the view's rows: binds `$1` now, `$2` the viewer, `$3` the team, `$4` the
/// status, `$5` the type pattern, `$6` overdue only, `$7` the limit and `$8` the offset.
///
/// The page is chosen first (`p`) from the few columns its order needs; only its rows are
/// then read whole and their tallies taken. For the sorts an index can give (target date,
/// key), it is chosen from four parts of the view, each read in its own order and cut at
/// the page's end, then merged: the overdue changes, the open ones due later, the closed
/// ones with a target, and those without one. The sort by target date reads each of the
/// first three in the order of an index of open or closed changes by target (migration
/// 0013) and the last team by team (as the sort by key reads every part), so a page costs
/// what it shows (and its offset), not the size of the portfolio. The team is never used to
/// reach the rows of several teams ([`Shape::changes_team`]), so that the engine walks those
/// indexes in order; a view of one team reads that team's changes. The sorts by coverage
/// and by age, which no index holds, sort the view whole. The page's changes are then read
/// by id (`+p.id`: without it SQLite 3.46 read every change and looked each up in the page,
/// 0.75 ms against 0.32 ms at 10,000 changes).
fn rows_sql(sort: Sort, with_details: bool, view: Shape) -> String {
    let open = coverage::open_statuses();
    let (tally, live) = match sort {
        Sort::Coverage => (format!("{}, ", stored_or_live()), "LEFT JOIN x ON x.change_id = c.id"),
        _ => (String::new(), ""),
    };
    let filters = format!(
        "{} AND ($4 IS NULL OR c.status = $4) AND ($5 IS NULL OR (',' || c.types || ',') LIKE $5)",
        visible(view.changes_team(), (2, 3), view)
    );
    // Each part: which changes, whether they are overdue, and its order. In the first three
    // every target is set, in the last none is: the sort by target orders only the first.
    let in_order = format!("{}{BY_KEY}", if sort == Sort::Target { "r.target_at, " } else { "" });
    let parts = match sort {
        Sort::Target | Sort::Key => vec![
            (format!("c.status IN {open} AND c.target_at < $1"), "1".to_owned(), in_order.clone()),
            (format!("c.status IN {open} AND c.target_at >= $1"), "0".to_owned(), in_order.clone()),
            (format!("c.status NOT IN {open} AND c.target_at IS NOT NULL"), "0".to_owned(), in_order.clone()),
            ("c.target_at IS NULL".to_owned(), "0".to_owned(), BY_KEY.to_owned()),
        ],
        // No index holds these orders: the view is sorted whole, overdue changes and others.
        Sort::Coverage | Sort::Age => vec![(
            "1 = 1".to_owned(),
            format!("CASE WHEN c.status IN {open} AND c.target_at < $1 THEN 1 ELSE 0 END"),
            order_by(sort),
        )],
    };
    let parts: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(n, (part, overdue, order))| {
            // In order of team and number alone, the teams are read in order of slug and each
            // team's changes in order of number (`CROSS JOIN` keeps SQLite to that order).
            let from = if order == BY_KEY {
                format!("teams t CROSS JOIN changes c {live} WHERE t.id = c.team_id AND")
            } else {
                format!("changes c JOIN teams t ON t.id = c.team_id {live} WHERE")
            };
            format!(
                "SELECT * FROM (SELECT r.* FROM (
                    SELECT c.id, t.slug, c.number, c.happy_path_at, c.target_at, {tally}{overdue} AS overdue
                    FROM {from} {part} AND {filters} AND ($6 = 0 OR ({overdue}) = 1)) r
                 ORDER BY {order} LIMIT $7 + $8) part{n}"
            )
        })
        .collect();
    format!(
        "WITH x AS ({live_tally})
         SELECT c.id, t.slug, c.number, c.title, c.status, c.types, c.happy_path_at, c.target_at, c.signed_off_at,
                {details}{all_tally}, c.cov_until, p.overdue
         FROM (SELECT r.id, r.overdue FROM ({parts}) r ORDER BY {order} LIMIT $7 OFFSET $8) p
         JOIN changes c ON c.id = +p.id JOIN teams t ON t.id = c.team_id
         LEFT JOIN x ON x.change_id = c.id {incidents}",
        live_tally = live_tally(view),
        parts = parts.join(" UNION ALL "),
        details = if with_details {
            DETAILS.map(|d| format!("c.{}, ", d.name)).concat() + &INCIDENT_COLUMNS.map(|k| format!("k.{k} AS inc_{k}, ")).concat()
        } else {
            String::new()
        },
        incidents = if with_details { "LEFT JOIN change_incident_counts k ON k.change_id = c.id" } else { "" },
        all_tally = stored_or_live(),
        order = order_by(sort),
    )
}

/// Each change's tally aggregated live from its failure modes, for the changes of the view
/// whose stored tally has run out (`cov_until` past; binds as [`rows_sql`]).
fn live_tally(view: Shape) -> String {
    format!(
        "SELECT change_id,
                CAST(SUM(CASE WHEN cov = 'verified' THEN 1 ELSE 0 END) AS BIGINT) AS verified,
                CAST(SUM(CASE WHEN cov = 'accepted' THEN 1 ELSE 0 END) AS BIGINT) AS accepted,
                CAST(SUM(CASE WHEN cov = 'stale' THEN 1 ELSE 0 END) AS BIGINT) AS stale,
                CAST(SUM(CASE WHEN cov = 'failing' THEN 1 ELSE 0 END) AS BIGINT) AS failing,
                CAST(SUM(CASE WHEN cov = 'designed' THEN 1 ELSE 0 END) AS BIGINT) AS designed,
                CAST(SUM(CASE WHEN cov = 'uncovered' THEN 1 ELSE 0 END) AS BIGINT) AS uncovered,
                CAST(SUM(priority_weight) AS BIGINT) AS weight_total,
                CAST(SUM(counted * priority_weight) AS BIGINT) AS weight_covered
         FROM (SELECT change_id, cov, priority_weight, {counts} AS counted
               FROM ({fm_coverage}
                     WHERE f.change_id IN (SELECT id FROM changes WHERE cov_until <= $1) AND {visible}) a) b
         GROUP BY change_id",
        fm_coverage = *FM_COVERAGE,
        counts = *COUNTS_SQL,
        visible = visible("c.team_id", (2, 3), view),
    )
}

fn bind_rows<'q>(
    query: Query<'q>,
    user: &Principal,
    filter: &'q Filter,
    now: Timestamp,
    (offset, limit): (i64, i64),
) -> Query<'q> {
    query
        .bind(now)
        .bind(viewer(user))
        .bind(filter.team.as_deref())
        .bind(filter.status.map(ChangeStatus::as_str))
        .bind(type_pattern(filter))
        .bind(i64::from(filter.overdue))
        .bind(limit)
        .bind(offset)
}

/// The page's one value: its rows as JSON (NULL on PostgreSQL when there are none).
type Query<'q> = sqlx::query::QueryScalar<'q, sqlx::Any, Option<String>, sqlx::any::AnyArguments<'q>>;

/// The tally's columns of [`rows`]: stored until `cov_until`, live (`x`) from then on.
fn stored_or_live() -> String {
    let live = [
        "verified",
        "accepted",
        "stale",
        "failing",
        "designed",
        "uncovered",
        "weight_total",
        "weight_covered",
    ];
    let columns: Vec<String> = TALLY_COLUMNS
        .iter()
        .zip(live)
        .map(|(stored, live)| {
            format!("CASE WHEN c.cov_until > $1 THEN c.{stored} ELSE x.{live} END AS {stored}")
        })
        .collect();
    columns.join(", ")
}

/// One row of the view, from its values in [`page_sql`]'s order.
fn row(values: &[serde_json::Value], with_details: bool) -> Result<Row, sqlx::Error> {
    let bad = |what: &str| sqlx::Error::Decode(format!("portfolio row: {what}").into());
    let text = |i: usize| values.get(i).and_then(|v| v.as_str()).ok_or_else(|| bad(ROW_COLUMNS[i]));
    let number = |i: usize| values.get(i).and_then(serde_json::Value::as_i64);
    let time = |i: usize| number(i).map(Timestamp);
    let slug = text(0)?.to_owned();
    let mut tally = [0; 9];
    for (k, value) in tally.iter_mut().enumerate() {
        *value = number(ROW_COLUMNS.len() + k).unwrap_or(0);
    }
    let tally = Tally::from_values(tally);
    let details_from = ROW_COLUMNS.len() + TALLY_COLUMNS.len();
    let incident = |k: usize| number(details_from + DETAILS.len() + k).unwrap_or(0);
    Ok(Row {
        key: change_key(slug.clone(), number(1).ok_or_else(|| bad("number"))?),
        team: slug,
        title: text(2)?.to_owned(),
        status: decode_status(text(3)?)?,
        types: ChangeType::split(text(4)?),
        happy_path_at: time(5),
        target_at: time(6),
        signed_off_at: time(7),
        coverage: tally.counts,
        weight_covered: tally.weight_covered,
        weight_total: tally.weight_total,
        details: if with_details {
            (0..DETAILS.len())
                .map(|k| values.get(details_from + k).and_then(|v| v.as_str()).map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        },
        incidents: Verdicts {
            held: incident(0),
            failed: incident(1),
            missed: incident(2),
            waiting: incident(3),
        },
        incidents_after_sign_off: incident(4),
    })
}

/// The portfolio page for a view: counts, one page of rows, cycle times and chart data.
pub async fn load(db: &Db, user: &Principal, filter: &Filter) -> Result<Portfolio, AppError> {
    let now = Timestamp::now();
    let teams = teams(db, user).await?;
    check_team(&teams, filter)?;
    let size = i64::try_from(PAGE_SIZE).unwrap_or(i64::MAX);
    let page = i64::try_from(filter.page.saturating_sub(1)).unwrap_or(i64::MAX);
    let rows =
        rows(&mut *db.read().acquire().await?, user, filter, now, (page.saturating_mul(size), size), false)
            .await?;
    let (status_counts, overdue, total_rows) = status_counts(db, user, filter, now).await?;
    let total_rows = usize::try_from(total_rows).unwrap_or(0);
    let (cycles, month_cycles) = cycle_times(db, user, filter, now).await?;
    let trends = trends(db, user, filter, &teams, now).await?;
    let learning = learning(db, user, filter, now).await?;

    Ok(Portfolio {
        now,
        filter: filter.clone(),
        teams: teams.into_iter().map(|(_, slug, name)| (slug, name)).collect(),
        status_counts,
        overdue,
        total_rows,
        rows,
        cycles,
        trends,
        month_cycles,
        learning,
    })
}

/// How many changes of the view are in each status (whatever its status filter), how many
/// open ones are overdue, and how many rows the view has.
async fn status_counts(
    db: &Db,
    user: &Principal,
    filter: &Filter,
    now: Timestamp,
) -> Result<(Vec<(ChangeStatus, i64)>, i64, i64), AppError> {
    // The counts as maintained per team, status and types (migration 0013); then, in a row
    // of its own (no status), the overdue ones, which time alone changes: all of them, and
    // those of the status shown, counted in the index of open changes by target (or the
    // team's).
    let view = Shape::of(user, filter);
    let counted = sqlx::query(&format!(
        "SELECT c.status, CAST(SUM(c.n) AS BIGINT) AS n, 0 AS shown FROM change_counts c
         WHERE {visible} AND ($4 IS NULL OR (',' || c.types || ',') LIKE $4)
         GROUP BY c.status
         UNION ALL
         SELECT NULL, COUNT(*), CAST(SUM(CASE WHEN $5 IS NULL OR c.status = $5 THEN 1 ELSE 0 END) AS BIGINT)
         FROM changes c
         WHERE c.status IN {open} AND c.target_at < $1 AND {late} AND ($4 IS NULL OR (',' || c.types || ',') LIKE $4)",
        visible = visible("c.team_id", (2, 3), view),
        late = visible(view.changes_team(), (2, 3), view),
        open = coverage::open_statuses(),
    ))
    .bind(now)
    .bind(viewer(user))
    .bind(filter.team.as_deref())
    .bind(type_pattern(filter))
    .bind(filter.status.map(ChangeStatus::as_str))
    .fetch_all(db.read())
    .await?;
    let mut status_counts: Vec<(ChangeStatus, i64)> = ChangeStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let (mut overdue, mut overdue_shown, mut shown) = (0, 0, 0);
    for row in &counted {
        let n: i64 = row.try_get("n")?;
        match row.try_get::<Option<String>, _>("status")? {
            None => (overdue, overdue_shown) = (n, row.try_get::<Option<i64>, _>("shown")?.unwrap_or(0)),
            Some(status) => {
                let status = decode_status(&status)?;
                if let Some((_, count)) = status_counts.iter_mut().find(|(s, _)| *s == status) {
                    *count = n;
                }
                if filter.status.is_none_or(|s| s == status) {
                    shown += n;
                }
            }
        }
    }
    let total = if filter.overdue { overdue_shown } else { shown };
    Ok((status_counts, overdue, total))
}

/// Days from happy path to sign-off by team, and by calendar month over the last year (the
/// month a year ago counted whole). SQL counts the sign-offs of each length per team and
/// per month and hands the counts over as one JSON value; the median and 90th percentile
/// are read off those counts. The counts are kept per team, month and length
/// (`cycle_counts`, migration 0013), so a view reads a value per team, month and length,
/// however many changes were signed off; a view of one type counts its changes live.
async fn cycle_times(
    db: &Db,
    user: &Principal,
    filter: &Filter,
    now: Timestamp,
) -> Result<(Vec<Cycle>, Vec<MonthCycle>), AppError> {
    let first_month = (now - Days(365)).date()[..7].to_owned();
    let view = Shape::of(user, filter);
    // Parameters: $1 viewer, $2 team, $3 type pattern, $4 the first month (YYYY-MM). The
    // sign-offs as the team's lengths read them, then as the months' do: the maintained
    // counts through their key and through their index by month, so that neither is sorted.
    let (aggregate, array) = json_functions(db.backend());
    let sql = format!(
        "SELECT CAST({aggregate}({array}(kind, grp, days, n) ORDER BY kind, grp, days) AS TEXT) FROM (
            SELECT 't' AS kind, t.slug AS grp, h.days, h.n
            FROM (SELECT team_id, days, CAST(SUM(n) AS BIGINT) AS n FROM ({by_team}) s GROUP BY team_id, days) h
            JOIN teams t ON t.id = h.team_id
            UNION ALL
            SELECT 'm' AS kind, month AS grp, days, CAST(SUM(n) AS BIGINT) AS n
            FROM ({by_month}) s WHERE month >= $4 GROUP BY month, days) h
         WHERE n > 0",
        by_team = sign_offs(db.backend(), view, filter, "s.team_id"),
        by_month = sign_offs(db.backend(), view, filter, "+s.team_id"),
    );
    let counted: Vec<(String, String, i64, usize)> = from_json(
        sqlx::query_scalar(&sql)
            .bind(viewer(user))
            .bind(filter.team.as_deref())
            .bind(type_pattern(filter))
            .bind(first_month)
            .fetch_one(db.read())
            .await?,
    )?;
    let (mut cycles, mut month_cycles) = (Vec::new(), Vec::new());
    for group in counted.chunk_by(|a, b| (&a.0, &a.1) == (&b.0, &b.1)) {
        let (kind, grp) = (&group[0].0, group[0].1.clone());
        let histogram: Vec<(i64, usize)> = group.iter().map(|(_, _, days, n)| (*days, *n)).collect();
        let signed_off = histogram.iter().map(|(_, n)| n).sum();
        let median_days = percentile_of_counts(&histogram, 50).unwrap_or(0);
        if kind == "t" {
            let p90_days = percentile_of_counts(&histogram, 90).unwrap_or(0);
            cycles.push(Cycle {
                team: grp,
                signed_off,
                median_days: Days(median_days),
                p90_days: Days(p90_days),
            });
        } else {
            month_cycles.push(MonthCycle { month: grp, signed_off, median_days: Days(median_days) });
        }
    }
    Ok((cycles, month_cycles))
}

/// The view's sign-offs as rows `(team_id, month, days, n)`: the maintained counts
/// (`cycle_counts`), or for a view of one type the changes themselves. Binds `$1` the
/// viewer, `$2` the team and `$3` the type pattern; `team_col` is how the team is reached
/// (`+s.team_id` to keep SQLite off the team's index).
fn sign_offs(backend: Backend, view: Shape, filter: &Filter, team_col: &str) -> String {
    let visible = visible(team_col, (1, 2), view);
    if filter.change_type.is_none() {
        return format!(
            "SELECT s.team_id, s.month, s.days, s.n FROM cycle_counts s WHERE {visible} AND $3 IS NULL"
        );
    }
    let (month, days) = match backend {
        Backend::Sqlite => (
            "strftime('%Y-%m', s.signed_off_at / 1000, 'unixepoch')".to_owned(),
            format!(
                "CASE WHEN s.signed_off_at > s.happy_path_at THEN (s.signed_off_at - s.happy_path_at) / {DAY_MS} ELSE 0 END"
            ),
        ),
        Backend::Postgres => (
            "sign_off_month(s.signed_off_at)".to_owned(),
            "sign_off_days(s.happy_path_at, s.signed_off_at)".to_owned(),
        ),
    };
    format!(
        "SELECT s.team_id, {month} AS month, {days} AS days, 1 AS n FROM changes s
         WHERE {visible} AND (',' || s.types || ',') LIKE $3
           AND s.signed_off_at IS NOT NULL AND s.happy_path_at IS NOT NULL"
    )
}

/// The view's learning metrics over its window (`domain::learning`), read from maintained
/// counts: `incident_counts` (migration 0024: verdicts per team, quarter, set of types and
/// whether the change had been signed off) and the sign-offs' ([`sign_offs`]). So a view
/// reads a value per team, quarter, set of types and verdict, however many incidents
/// there are. SQL hands those rows over as they are stored, in one JSON value beside the
/// teams' sign-offs, and [`learning_of`] sums them by team, by quarter and by set of types:
/// grouped three times in SQL, the same rows cost three times as much to read.
async fn learning(db: &Db, user: &Principal, filter: &Filter, now: Timestamp) -> Result<Learning, AppError> {
    let first = filter.window.first(now);
    let view = Shape::of(user, filter);
    // Parameters: $1 viewer, $2 team, $3 type pattern, $4 the first quarter ('' for all
    // time), $5 its first month.
    let (aggregate, array) = json_functions(db.backend());
    let sql = format!(
        "SELECT
            (SELECT CAST({aggregate}({array}(t.slug, s.quarter, s.types, s.verdict, s.after_sign_off, s.n)) AS TEXT)
             FROM incident_counts s JOIN teams t ON t.id = s.team_id
             WHERE {visible} AND ($3 IS NULL OR (',' || s.types || ',') LIKE $3) AND s.quarter >= $4 AND s.n > 0),
            (SELECT CAST({aggregate}({array}(t.slug, h.n)) AS TEXT)
             FROM (SELECT team_id, CAST(SUM(n) AS BIGINT) AS n FROM ({signed}) s WHERE month >= $5 GROUP BY team_id) h
             JOIN teams t ON t.id = h.team_id)",
        visible = visible("s.team_id", (1, 2), view),
        signed = sign_offs(db.backend(), view, filter, "s.team_id"),
    );
    let (counts, signed): (Option<String>, Option<String>) = sqlx::query_as(&sql)
        .bind(viewer(user))
        .bind(filter.team.as_deref())
        .bind(type_pattern(filter))
        .bind(first.map(|q| q.to_string()).unwrap_or_default())
        .bind(first.map(Quarter::first_month).unwrap_or_default())
        .fetch_one(db.read())
        .await?;
    learning_of(from_json(counts)?, from_json(signed)?, filter.window, first, now)
}

/// [`learning`]'s rows summed: `counts` as `incident_counts` keeps them, `(team, quarter,
/// types, verdict or '', after sign-off, n)`, and each team's sign-offs `(team, n)`.
fn learning_of(
    counts: Vec<(String, String, String, String, i64, i64)>,
    signed: Vec<(String, i64)>,
    window: Window,
    first: Option<Quarter>,
    now: Timestamp,
) -> Result<Learning, AppError> {
    fn entry<'a, T>(groups: &'a mut Vec<(String, T)>, group: &str) -> &'a mut T
    where
        T: Default,
    {
        let at = groups.iter().position(|(g, _)| g == group).unwrap_or_else(|| {
            groups.push((group.to_owned(), T::default()));
            groups.len() - 1
        });
        &mut groups[at].1
    }
    let mut teams: Vec<(String, TeamLearning)> = Vec::new();
    let mut quarters: Vec<(String, Verdicts)> = Vec::new();
    let mut types: Vec<(String, Verdicts)> = Vec::new();
    for (team, quarter, set, verdict, after_sign_off, n) in counts {
        let verdict = if verdict.is_empty() { None } else { Some(Verdict::parse(&verdict)?) };
        let learning = entry(&mut teams, &team);
        learning.verdicts.add(verdict, n);
        learning.after_sign_off += if after_sign_off == 1 { n } else { 0 };
        entry(&mut quarters, &quarter).add(verdict, n);
        entry(&mut types, &set).add(verdict, n);
    }
    for (team, n) in signed {
        entry(&mut teams, &team).signed_off += n;
    }
    let mut teams: Vec<TeamLearning> =
        teams.into_iter().map(|(team, learning)| TeamLearning { team, ..learning }).collect();
    teams.sort_by(|a, b| a.team.cmp(&b.team));
    let mut total = TeamLearning { team: "All teams".to_owned(), ..TeamLearning::default() };
    for team in &teams {
        total.signed_off += team.signed_off;
        total.after_sign_off += team.after_sign_off;
        total.verdicts += team.verdicts;
    }
    let current = Quarter::of(now);
    let earliest = quarters.iter().filter_map(|(q, _)| Quarter::parse(q)).min().unwrap_or(current);
    Ok(Learning {
        window,
        since: first.map(|q| q.to_string()),
        total,
        teams,
        quarters: Learning::quarters(first.unwrap_or(earliest), current, &quarters),
        types: Learning::types(&types),
    })
}

/// Each team's weighted coverage per day over the trend window, today's included.
async fn trends(
    db: &Db,
    user: &Principal,
    filter: &Filter,
    teams: &[(i64, String, String)],
    now: Timestamp,
) -> Result<Vec<Trend>, AppError> {
    let daily = sqlx::query(&format!(
        "SELECT t.id, t.slug, d.day, d.weighted_covered, d.weighted_total FROM coverage_daily d
         JOIN teams t ON t.id = d.team_id WHERE d.day >= $1 AND {} ORDER BY t.slug, d.day",
        visible("d.team_id", (2, 3), Shape::of(user, filter))
    ))
    .bind(now.day() - TREND_DAYS)
    .bind(viewer(user))
    .bind(filter.team.as_deref())
    .fetch_all(db.read())
    .await?;
    let mut trends: Vec<(i64, Trend)> = Vec::new();
    for row in &daily {
        let (id, slug): (i64, String) = (row.try_get("id")?, row.try_get("slug")?);
        let point = TrendPoint {
            day: row.try_get("day")?,
            percent: percent(row.try_get("weighted_covered")?, row.try_get("weighted_total")?).unwrap_or(0),
        };
        match trends.last_mut() {
            Some((_, trend)) if trend.team == slug => trend.points.push(point),
            _ => trends.push((id, Trend { team: slug, points: vec![point] })),
        }
    }
    // Today's point is recorded every few minutes by the server; until a team has one (a
    // new installation, a first failure mode), it is computed live.
    let today = now.day();
    let shown = if filter.team.is_some() { 1 } else { teams.len() };
    let missing_today =
        trends.len() < shown || trends.iter().any(|(_, t)| t.points.last().is_none_or(|p| p.day < today));
    for live in if missing_today { coverage::today(db, now).await? } else { Vec::new() } {
        let Some(percent) = percent(live.weighted_covered, live.weighted_total) else { continue };
        let point = TrendPoint { day: today, percent };
        match trends.iter_mut().find(|(id, _)| *id == live.team.0) {
            Some((_, trend)) if trend.points.last().is_some_and(|p| p.day == today) => {}
            Some((_, trend)) => trend.points.push(point),
            None => {
                let visible_team = teams.iter().find(|(id, ..)| *id == live.team.0);
                if let Some((_, slug, _)) = visible_team
                    && filter.team.as_ref().is_none_or(|t| t == slug)
                {
                    trends.push((live.team.0, Trend { team: slug.clone(), points: vec![point] }));
                }
            }
        }
    }
    trends.sort_by(|a, b| a.1.team.cmp(&b.1.team));
    Ok(trends.into_iter().map(|(_, t)| t).collect())
}

/// Most items each list of a team's work shows.
const WORK_LIMIT: i64 = 100;

/// A team's upcoming target dates and the failure modes of its open changes that lack
/// evidence, fail or are stale.
pub async fn team_work(db: &Db, team: crate::domain::TeamId) -> Result<TeamWork, AppError> {
    let now = Timestamp::now();
    let open = coverage::open_statuses();
    let upcoming = sqlx::query(&format!(
        "SELECT t.slug, c.number, c.title, c.status, c.target_at FROM changes c JOIN teams t ON t.id = c.team_id
         WHERE c.team_id = $1 AND c.status IN {open} AND c.target_at IS NOT NULL
         ORDER BY c.target_at, c.number LIMIT $2"
    ))
    .bind(team)
    .bind(WORK_LIMIT)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let status: String = r.try_get("status")?;
        Ok(Upcoming {
            key: change_key(r.try_get("slug")?, r.try_get("number")?),
            title: r.try_get("title")?,
            status: decode_status(&status)?,
            target_at: r.try_get("target_at")?,
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    let gaps = sqlx::query(&format!(
        "SELECT slug, change_number, fm_number, fm_title, cov, ev_oldest_at FROM ({fm_coverage}) x
         WHERE team_id = $2 AND status IN {open}
           AND cov IN ('uncovered', 'designed', 'failing', 'stale')
         ORDER BY change_number, fm_number LIMIT $3",
        fm_coverage = *FM_COVERAGE,
    ))
    .bind(now)
    .bind(team)
    .bind(WORK_LIMIT)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let cov: String = r.try_get("cov")?;
        Ok(Gap {
            change: change_key(r.try_get("slug")?, r.try_get("change_number")?),
            number: r.try_get("fm_number")?,
            title: r.try_get("fm_title")?,
            coverage: Coverage::parse(&cov).ok_or_else(|| sqlx::Error::Decode("unknown coverage".into()))?,
            oldest_at: r.try_get("ev_oldest_at")?,
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    Ok(TeamWork { now, upcoming, gaps })
}

fn change_key(slug: String, number: i64) -> String {
    format!("{}-{number}", slug.to_uppercase())
}

/// How many bytes of CSV are sent at a time.
const CSV_CHUNK: usize = 32 * 1024;

/// A streamed export holds a read connection until its last row is sent, so a few slow
/// downloads could take every one the pages need. At most this many run at once, each
/// within [`CSV_DEADLINE`]; another waits up to [`CSV_WAIT`] for its turn, then is told to
/// come back (503).
const CSV_AT_ONCE: usize = 2;
const CSV_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const CSV_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// Rows read at a time: what an export holds in memory at most, whatever the view's size.
const CSV_ROWS: i64 = 2_000;
static CSV_TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CSV_AT_ONCE);

/// The view as CSV: every row (not only one page), the columns the table shows, then each
/// of the change's details; written as the rows arrive from the database and sent in
/// chunks, so that memory stays flat however many rows the view has. A database error
/// past the first chunk, or a client too slow to take it all within [`CSV_DEADLINE`], ends
/// the stream with an error (the download is cut short, never silently incomplete).
pub async fn csv(db: &Db, user: &Principal, filter: &Filter) -> Result<CsvChunks, AppError> {
    check_team(&teams(db, user).await?, filter)?;
    let turn = tokio::time::timeout(CSV_WAIT, CSV_TURNS.acquire())
        .await
        .map_err(|_| AppError::Unavailable)?
        .map_err(|_| AppError::Unavailable)?;
    let (send, receive) = tokio::sync::mpsc::channel(2);
    let (db, user, filter) = (db.clone(), user.clone(), filter.clone());
    tokio::spawn(async move {
        let _turn = turn;
        let deadline = tokio::time::Instant::now() + CSV_DEADLINE;
        let mut out = csv::Writer::from_writer(Vec::with_capacity(CSV_CHUNK * 2));
        let written = write_csv(&db, &user, &filter, &mut out, &send, deadline).await;
        let last =
            written.and_then(|()| out.into_inner().map_err(|e| super::error::internal("portfolio CSV", &e)));
        // The receiver is gone when the client went away, and a client past the deadline
        // gets no more: either way nothing more to do.
        let _ = tokio::time::timeout_at(deadline, send.send(last.map(|bytes| (bytes, true)))).await;
    });
    Ok(CsvChunks { receive, done: false })
}

/// The chunks of a CSV being written, in order.
pub struct CsvChunks {
    receive: tokio::sync::mpsc::Receiver<Result<(Vec<u8>, bool), AppError>>,
    done: bool,
}

impl CsvChunks {
    /// The next chunk, `None` after the last. A writer that stopped before its last chunk
    /// (an error it could not send, a panic) is an error here, never a quiet end.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, AppError>> {
        if self.done {
            return None;
        }
        let next = match self.receive.recv().await {
            Some(Ok((bytes, last))) => {
                self.done = last;
                return Some(Ok(bytes));
            }
            Some(Err(err)) => err,
            None => AppError::Unavailable,
        };
        self.done = true;
        Some(Err(next))
    }
}

async fn write_csv(
    db: &Db,
    user: &Principal,
    filter: &Filter,
    out: &mut csv::Writer<Vec<u8>>,
    send: &tokio::sync::mpsc::Sender<Result<(Vec<u8>, bool), AppError>>,
    deadline: tokio::time::Instant,
) -> Result<(), AppError> {
    let now = Timestamp::now();
    let write = |out: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        out.write_record(record).map_err(|e| super::error::internal("portfolio CSV", &e))
    };
    write(
        out,
        &[
            "change",
            "team",
            "title",
            "status",
            "types",
            "overdue",
            "happy_path",
            "days_since_happy_path",
            "target",
            "signed_off",
            "failure_modes",
            "verified",
            "accepted",
            "stale",
            "failing",
            "designed",
            "uncovered",
            "weighted_coverage_percent",
            "incidents_after_sign_off",
            "incidents_held",
            "incidents_failed",
            "incidents_missed",
            "incidents_waiting",
        ]
        .into_iter()
        .chain(DETAILS.iter().map(|d| d.name))
        .map(str::to_owned)
        .collect::<Vec<_>>(),
    )?;
    // Read in pages of [`CSV_ROWS`], all in one transaction, so every page sees the same
    // data (PostgreSQL: repeatable read; SQLite: one read snapshot).
    let mut conn = db.read().begin().await?;
    if Backend::of(&conn) == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *conn).await?;
    }
    let mut offset = 0;
    loop {
        let page = rows(&mut conn, user, filter, now, (offset, CSV_ROWS), true).await?;
        for r in &page {
            if write_row(out, r, now)? == Written::Full && !send_chunk(out, send, deadline).await? {
                return Ok(());
            }
        }
        if page.len() < usize::try_from(CSV_ROWS).unwrap_or(usize::MAX) {
            return Ok(());
        }
        offset += CSV_ROWS;
    }
}

/// Whether the CSV's buffer holds a chunk to send.
#[derive(PartialEq, Eq)]
enum Written {
    Room,
    Full,
}

/// Writes one change's record.
fn write_row(out: &mut csv::Writer<Vec<u8>>, r: &Row, now: Timestamp) -> Result<Written, AppError> {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let day = |v: Option<Timestamp>| v.map(Timestamp::date).unwrap_or_default();
    let c = &r.coverage;
    let details = r.details.iter().map(|v| csv_safe(v.as_deref().unwrap_or_default()));
    let record = [
        r.key.clone(),
        r.team.clone(),
        csv_safe(&r.title),
        r.status.as_str().to_owned(),
        ChangeType::join(&r.types),
        r.is_overdue(now).to_string(),
        day(r.happy_path_at),
        opt(r.days_since_happy_path(now)),
        day(r.target_at),
        day(r.signed_off_at),
        c.total().to_string(),
        c.verified.to_string(),
        c.accepted.to_string(),
        c.stale.to_string(),
        c.failing.to_string(),
        c.designed.to_string(),
        c.uncovered.to_string(),
        opt(r.weighted_percent()),
        r.incidents_after_sign_off.to_string(),
        r.incidents.held.to_string(),
        r.incidents.failed.to_string(),
        r.incidents.missed.to_string(),
        r.incidents.waiting.to_string(),
    ];
    let record: Vec<String> = record.into_iter().chain(details).collect();
    out.write_record(&record).map_err(|e| super::error::internal("portfolio CSV", &e))?;
    Ok(if out.get_ref().len() >= CSV_CHUNK { Written::Full } else { Written::Room })
}

/// Sends what the buffer holds as a chunk; false when the client has gone away.
async fn send_chunk(
    out: &mut csv::Writer<Vec<u8>>,
    send: &tokio::sync::mpsc::Sender<Result<(Vec<u8>, bool), AppError>>,
    deadline: tokio::time::Instant,
) -> Result<bool, AppError> {
    let full = std::mem::replace(out, csv::Writer::from_writer(Vec::with_capacity(CSV_CHUNK * 2)));
    let chunk = full.into_inner().map_err(|e| super::error::internal("portfolio CSV", &e))?;
    match tokio::time::timeout_at(deadline, send.send(Ok((chunk, false)))).await {
        Ok(Ok(())) => Ok(true),
        Ok(Err(_)) => Ok(false),
        Err(_) => {
            tracing::warn!("a portfolio CSV download took longer than {CSV_DEADLINE:?}; cut short");
            Err(AppError::Unavailable)
        }
    }
}

/// Keeps a spreadsheet from running user text as a formula (CSV injection): text that
/// starts with `= + - @` or a tab gets a leading apostrophe.
fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}
