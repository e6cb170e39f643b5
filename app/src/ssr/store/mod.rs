//! Persistence. Reads take the read pool; every mutation runs in one write transaction
//! together with its audit entry.

pub mod changes;
pub mod evidence;
pub mod search;
pub mod teams;
pub mod templates;
pub mod tokens;
pub mod users;

/// A change's status as stored.
pub(crate) fn decode_status(raw: &str) -> Result<crate::domain::change::ChangeStatus, sqlx::Error> {
    crate::domain::change::ChangeStatus::parse(raw)
        .ok_or_else(|| sqlx::Error::Decode("unknown change status".into()))
}

/// A query whose parameters are still being bound.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// `$from, $from+1, …` for `count` parameters.
fn parameters(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// `column = $from, …` for each of `columns`, numbered from `from`.
fn assignments(columns: &[&str], from: usize) -> String {
    columns.iter().zip(from..).map(|(column, n)| format!("{column} = ${n}")).collect::<Vec<_>>().join(", ")
}
