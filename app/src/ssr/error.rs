//! Mapping of internal failures to user-safe [`AppError`]s: the cause is logged with a
//! reference the user can quote; the message never contains SQL, paths or stack text.

use crate::domain::AppError;

/// A short random reference that ties a user-visible error to its log line.
pub fn reference() -> String {
    use rand::Rng;
    format!("{:08x}", rand::thread_rng().r#gen::<u32>())
}

/// Logs an unexpected failure and returns the opaque error for the client.
pub fn internal(context: &str, err: &dyn std::error::Error) -> AppError {
    let reference = reference();
    tracing::error!(%reference, error = %err, cause = ?err.source(), "{context}");
    AppError::Internal { reference }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => AppError::NotFound("The record".to_owned()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                AppError::Unavailable
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::Conflict("That already exists.".to_owned())
            }
            _ => internal("database error", &err),
        }
    }
}

/// The HTTP status for an error reply.
pub fn status(err: &AppError) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match err {
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Invalid { .. } | AppError::Request(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// How long a client should wait before retrying, for the errors where retrying helps; every
/// 429 and 503 carries it.
pub fn retry_after(err: &AppError) -> Option<u64> {
    match err {
        AppError::Throttled { retry_after_secs } => Some(*retry_after_secs),
        AppError::Unavailable => Some(5),
        _ => None,
    }
}
