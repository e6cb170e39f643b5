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
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => {
                super::db::note_unreachable();
                tracing::warn!(error = %err, "database unavailable");
                AppError::Unavailable
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::Conflict("That already exists.".to_owned())
            }
            sqlx::Error::Database(db) if is_transient(db.code().as_deref()) => {
                if is_storage_fault(db.code().as_deref()) {
                    super::db::note_write_fault();
                }
                // Connection failures (08) and the server shutting down or starting (57P0x).
                if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")) {
                    super::db::note_unreachable();
                }
                tracing::warn!(error = %err, "database cannot write or answer now");
                AppError::Unavailable
            }
            _ => internal("database error", &err),
        }
    }
}

/// Database errors that pass when the database or its disk recovers, so the client is told
/// to retry (503) instead of being shown a fault: SQLite's full disk, I/O errors and files it
/// cannot open (numeric result codes); PostgreSQL's connection exceptions (class 08),
/// transaction rollbacks (40: a deadlock or serialisation failure, which a retry resolves),
/// insufficient resources (53: disk full, out of memory, too many connections), operator
/// intervention (57: shutdown, statement timeout).
fn is_transient(code: Option<&str>) -> bool {
    const SQLITE_IOERR: u32 = 10;
    const SQLITE_FULL: u32 = 13;
    const SQLITE_CANTOPEN: u32 = 14;
    match code {
        Some(code) if code.bytes().all(|b| b.is_ascii_digit()) && code.len() < 5 => code
            .parse::<u32>()
            .is_ok_and(|c| matches!(c & 0xff, SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN)),
        Some(sqlstate) => ["08", "40", "53", "57"].iter().any(|class| sqlstate.starts_with(class)),
        None => false,
    }
}

/// A full disk or an I/O error (SQLite FULL, IOERR; PostgreSQL disk_full):
/// readiness then checks that writes work.
fn is_storage_fault(code: Option<&str>) -> bool {
    match code {
        Some("53100") => true,
        Some(code) if code.len() < 5 => code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 10 | 13)),
        _ => false,
    }
}

/// The HTTP status for an error reply.
pub fn status(err: &AppError) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match err {
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden | AppError::Denied(_) => StatusCode::FORBIDDEN,
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

/// Sets the status (and `Retry-After`) of the page being rendered to those of `err`: always
/// when the error is about the page itself (`page`: what it shows does not exist, or the user
/// may not see it), and otherwise only for a server-side failure, so that a form's refusal
/// shown on its page (a validation message) leaves the page's own status alone.
pub fn answer_page_with(err: &AppError, page: bool) {
    let status = status(err);
    if !(status.is_server_error() || page && !matches!(err, AppError::Invalid { .. })) {
        return;
    }
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
        if let Some(secs) = retry_after(err) {
            response.insert_header(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_storage_fault, is_transient};

    #[test]
    fn full_disks_io_errors_and_lost_connections_are_transient() {
        // SQLite: SQLITE_FULL, SQLITE_IOERR_WRITE (extended), SQLITE_CANTOPEN.
        for code in ["13", "778", "10", "14"] {
            assert!(is_transient(Some(code)), "{code}");
        }
        // SQLite: a constraint (19) or a syntax error (1) is the app's fault, not the disk's.
        for code in ["19", "2067", "1"] {
            assert!(!is_transient(Some(code)), "{code}");
        }
        // PostgreSQL: disk full, admin shutdown, statement timeout, connection failure, and a
        // serialisation failure or deadlock, which a retry resolves.
        for code in ["53100", "57P01", "57014", "08006", "40001", "40P01"] {
            assert!(is_transient(Some(code)), "{code}");
        }
        // PostgreSQL: unique violation, undefined table.
        for code in ["23505", "42P01"] {
            assert!(!is_transient(Some(code)), "{code}");
        }
        assert!(!is_transient(None));
        // Of those, a full disk and an I/O error make readiness check that writes work.
        for code in ["13", "778", "10", "53100"] {
            assert!(is_storage_fault(Some(code)), "{code}");
        }
        for code in ["14", "57P01", "08006", "40001"] {
            assert!(!is_storage_fault(Some(code)), "{code}");
        }
    }
}
