//! Search: changes by key, and by the words of their titles, summaries and failure-mode
//! scenarios, in the teams the user may read (SQLite FTS5; PostgreSQL full-text search;
//! the indexes are migration 0010's).

use crate::domain::change::ChangeKey;
use crate::domain::search::{ChangeHit, FailureModeHit, Found, MAX_HITS, Query, excerpt};
use crate::domain::{AppError, Principal, TeamSlug};
use crate::ssr::db::{Backend, Db};
use sqlx::Row;

/// How much of a summary or scenario a hit shows.
const EXCERPT: usize = 160;

/// `c.team_id IN (…)` for the teams `user` may read; `None` for an admin, who reads every
/// team. (A user in no team reads nothing and is answered before any query.)
fn readable(user: &Principal) -> Option<String> {
    (!user.is_admin).then(|| {
        let ids: Vec<String> = user.teams.iter().map(|(id, ..)| id.0.to_string()).collect();
        format!("c.team_id IN ({})", ids.join(", "))
    })
}

/// The changes and failure modes that have every word of `query`, newest first, in the teams
/// `user` may read.
pub async fn find(db: &Db, user: &Principal, query: &Query) -> Result<Found, AppError> {
    if query.is_empty() || (!user.is_admin && user.teams.is_empty()) {
        return Ok(Found::default());
    }
    let scope = readable(user).map(|r| format!("AND {r}")).unwrap_or_default();
    // Newest first: ranking every match costs as much as the matches are many, and a
    // search for a common word would slow with the portfolio's size.
    let (changes, failure_modes, term) = match db.backend() {
        Backend::Sqlite => (
            format!(
                "FROM changes_fts JOIN changes c ON c.id = changes_fts.rowid JOIN teams t ON t.id = c.team_id
                 WHERE changes_fts MATCH $1 {scope} ORDER BY changes_fts.rowid DESC"
            ),
            format!(
                "FROM failure_modes_fts JOIN failure_modes f ON f.id = failure_modes_fts.rowid
                 JOIN changes c ON c.id = f.change_id JOIN teams t ON t.id = c.team_id
                 WHERE failure_modes_fts MATCH $1 {scope} ORDER BY failure_modes_fts.rowid DESC"
            ),
            query.fts5(),
        ),
        Backend::Postgres => (
            format!(
                "FROM changes c JOIN teams t ON t.id = c.team_id
                 WHERE c.search_words @@ to_tsquery('simple', $1) {scope} ORDER BY c.id DESC"
            ),
            format!(
                "FROM failure_modes f JOIN changes c ON c.id = f.change_id JOIN teams t ON t.id = c.team_id
                 WHERE f.search_words @@ to_tsquery('simple', $1) {scope} ORDER BY f.id DESC"
            ),
            query.tsquery(),
        ),
    };
    let change_rows = sqlx::query(&format!(
        "SELECT t.slug, c.number, c.title, c.status, c.summary AS text {changes} LIMIT {MAX_HITS}"
    ))
    .persistent(db.backend().keeps_filtered_plans())
    .bind(&term)
    .fetch_all(db.read())
    .await?;
    let fm_rows = sqlx::query(&format!(
        "SELECT t.slug, c.number, f.number AS fm_number, f.title, f.scenario AS text {failure_modes} LIMIT {MAX_HITS}"
    ))
    .persistent(db.backend().keeps_filtered_plans())
    .bind(&term)
    .fetch_all(db.read())
    .await?;
    let key = |row: &sqlx::any::AnyRow| -> Result<String, AppError> {
        Ok(ChangeKey::new(&TeamSlug::parse(&row.try_get::<String, _>("slug")?)?, row.try_get("number")?)
            .to_string())
    };
    let text = |row: &sqlx::any::AnyRow| -> Result<String, AppError> {
        Ok(excerpt(&row.try_get::<String, _>("text")?, EXCERPT))
    };
    Ok(Found {
        jump: None,
        changes: change_rows
            .iter()
            .map(|row| {
                Ok(ChangeHit {
                    key: key(row)?,
                    title: row.try_get("title")?,
                    status: super::decode_status(&row.try_get::<String, _>("status")?)?,
                    excerpt: text(row)?,
                })
            })
            .collect::<Result<_, AppError>>()?,
        failure_modes: fm_rows
            .iter()
            .map(|row| {
                Ok(FailureModeHit {
                    change: key(row)?,
                    number: row.try_get("fm_number")?,
                    title: row.try_get("title")?,
                    excerpt: text(row)?,
                })
            })
            .collect::<Result<_, AppError>>()?,
    })
}
