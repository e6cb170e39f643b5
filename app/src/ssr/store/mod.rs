//! Persistence. Reads take the read pool; every mutation runs in one write transaction
//! together with its audit entry.

pub mod changes;
pub mod evidence;
pub mod failure_modes;
pub mod identities;
pub mod incidents;
pub mod search;
pub mod sessions;
pub mod sign_offs;
pub mod teams;
pub mod templates;
pub mod tokens;
pub mod users;
pub mod webhooks;

/// A change's status as stored.
pub(crate) fn decode_status(raw: &str) -> Result<crate::domain::change::ChangeStatus, sqlx::Error> {
    crate::domain::change::ChangeStatus::parse(raw)
        .ok_or_else(|| sqlx::Error::Decode("unknown change status".into()))
}

/// A query whose parameters are still being bound.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Bound values per multi-row `INSERT`: an upload's thousands of results take a few
/// statements, not one each, well under both engines' limits (SQLite 32,766, PostgreSQL
/// 65,535).
const VALUES_PER_INSERT: usize = 8_000;

/// Runs `insert` (`INSERT INTO … VALUES`) with `rows`, each bound by `bind` as `width`
/// values, then `conflict`, in statements of at most [`VALUES_PER_INSERT`] values. The rows
/// must not repeat a conflict key (one statement cannot update a row twice).
///
/// SQLite gets anonymous `?` parameters: it finds a numbered one's name by scanning every
/// name of the statement, so binding thousands of `$n` costs quadratic time (three
/// quarters of a 10,000-case upload's time went there); `?`s are bound by position.
pub async fn insert_rows<T>(
    conn: &mut sqlx::AnyConnection,
    insert: &str,
    conflict: &str,
    width: usize,
    rows: &[T],
    bind: impl for<'a> Fn(AnyQuery<'a>, &'a T) -> AnyQuery<'a>,
) -> Result<(), sqlx::Error> {
    use std::fmt::Write as _;
    let numbered = crate::ssr::db::Backend::of(conn) == crate::ssr::db::Backend::Postgres;
    for batch in rows.chunks((VALUES_PER_INSERT / width.max(1)).max(1)) {
        let mut sql = String::with_capacity(insert.len() + conflict.len() + batch.len() * width * 8);
        sql.push_str(insert);
        for row in 0..batch.len() {
            sql.push_str(if row == 0 { " (" } else { ", (" });
            for column in 0..width {
                if column > 0 {
                    sql.push_str(", ");
                }
                if numbered {
                    let _ = write!(sql, "${}", row * width + column + 1);
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(conflict);
        let query = batch.iter().fold(sqlx::query(&sql), &bind);
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `$from, $from+1, …` for `count` parameters.
fn parameters(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// `column = $from, …` for each of `columns`, numbered from `from`.
fn assignments(columns: &[&str], from: usize) -> String {
    columns.iter().zip(from..).map(|(column, n)| format!("{column} = ${n}")).collect::<Vec<_>>().join(", ")
}
