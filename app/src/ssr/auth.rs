//! Passwords, login throttling and the session's user.

use super::db::Db;
use super::state::AuthPolicy;
use super::store::{sessions, users};
use crate::domain::time::Timestamp;
use crate::domain::{AppError, Password, Principal, UserId};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use std::sync::OnceLock;
use tower_sessions::Session;

const SESSION_USER: &str = "uid";
const SESSION_EPOCH: &str = "epoch";
const SESSION_AUTH_AT: &str = "auth_at";
/// The session's row among the user's sessions (`store::sessions`).
const SESSION_HANDLE: &str = "handle";

/// Hashes a new password with argon2id, off the async runtime.
pub async fn hash_password(password: Password) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| super::error::internal("password hashing failed", &e))
    })
    .await
    .map_err(|e| super::error::internal("password hashing task failed", &e))?
}

/// Checks a password against a stored hash, off the async runtime.
async fn verify_password(hash: String, password: Password) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the account does not exist so that
/// unknown and known usernames take the same time to refuse.
async fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return hash.clone();
    }
    let random = format!("{:032x}", rand::random::<u128>());
    let hash = match Password::attempt(&random) {
        Some(password) => hash_password(password).await.unwrap_or_default(),
        None => String::new(),
    };
    DUMMY.get_or_init(|| hash).clone()
}

const WRONG_CREDENTIALS: &str = "Username or password is incorrect.";

/// How failed attempts counted under one subject slow further attempts down.
#[derive(Clone, Copy)]
enum Limit {
    /// After this many failures each further attempt waits twice as long as the last.
    Growing(i64),
    /// After this many failures attempts wait until the oldest leaves the window.
    Capped(i64),
}

/// Logs in: checks credentials, throttled per (account, client address) with growing
/// delays and per address with a cap, so guessing is slow and nobody elsewhere can lock an
/// account. Unknown users, wrong passwords and disabled accounts get the same answer.
pub async fn check_credentials(
    db: &Db,
    policy: &AuthPolicy,
    username: &str,
    password: &str,
    client: &str,
) -> Result<(UserId, i64), AppError> {
    let username = username.trim().to_lowercase();
    let subjects = [
        (format!("login:{username}|{client}"), Limit::Growing(policy.free_failures)),
        (format!("addr:{client}"), Limit::Capped(policy.max_failures_per_address)),
    ];
    verify_throttled(db, policy, &username, password, &subjects).await
}

/// Confirms the logged-in user's password (sign-off re-authentication, a password change),
/// throttled per user apart from logins: only the user themself can slow it down, and
/// failed logins under their name elsewhere do not. A wrong password is an error on `field`,
/// the form's field that carried it.
pub async fn confirm_password(
    db: &Db,
    policy: &AuthPolicy,
    user: &Principal,
    field: &str,
    password: &str,
) -> Result<(), AppError> {
    let subjects = [(format!("confirm:{}", user.id.0), Limit::Growing(policy.free_failures))];
    let wrong = || AppError::invalid(field, "That is not your password.");
    let (id, _) =
        verify_throttled(db, policy, &user.username, password, &subjects).await.map_err(|err| match err {
            AppError::Invalid { .. } => wrong(),
            other => other,
        })?;
    if id == user.id { Ok(()) } else { Err(wrong()) }
}

/// Verifies `password` for `username` unless a subject is throttled. The attempt is
/// counted (as a failure) before any time is spent on the hash, in one write transaction
/// with the check, so parallel guesses cannot all slip under a limit; a right password
/// forgets it again, with the earlier failures of the first subject.
async fn verify_throttled(
    db: &Db,
    policy: &AuthPolicy,
    username: &str,
    password: &str,
    subjects: &[(String, Limit)],
) -> Result<(UserId, i64), AppError> {
    let mut tx = db.begin_write().await?;
    super::db::advisory_lock(&mut tx, db.backend(), super::db::LockSpace::LoginThrottle, 0).await?;
    for (subject, limit) in subjects {
        throttle(&mut tx, policy, subject, *limit).await?;
    }
    let mut attempt = Vec::new();
    for (subject, _) in subjects {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO login_failures (subject, at) VALUES ($1, $2) RETURNING id")
                .bind(subject)
                .bind(Timestamp::now())
                .fetch_one(&mut *tx)
                .await?;
        attempt.push(id);
    }
    tx.commit().await?;

    let record = users::login_record(db, username).await?;
    let ok = match (Password::attempt(password), &record) {
        (Some(attempt), Some(record)) => verify_password(record.password_hash.clone(), attempt).await,
        (Some(attempt), None) => {
            verify_password(dummy_hash().await, attempt).await;
            false
        }
        (None, _) => false,
    };
    match record {
        Some(record) if ok && !record.disabled => {
            let mut tx = db.begin_write().await?;
            sqlx::query("DELETE FROM login_failures WHERE subject = $1")
                .bind(&subjects[0].0)
                .execute(&mut *tx)
                .await?;
            for id in &attempt[1..] {
                sqlx::query("DELETE FROM login_failures WHERE id = $1").bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok((record.id, record.session_epoch))
        }
        _ => Err(AppError::invalid("password", WRONG_CREDENTIALS)),
    }
}

/// Refuses with `Throttled` (and when to come back) if `subject` is over its limit.
async fn throttle(
    conn: &mut sqlx::AnyConnection,
    policy: &AuthPolicy,
    subject: &str,
    limit: Limit,
) -> Result<(), AppError> {
    let window = policy.throttle_window;
    let now = Timestamp::now();
    let since = now - window;
    let (count, oldest, newest): (i64, Option<Timestamp>, Option<Timestamp>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(at), MAX(at) FROM login_failures WHERE subject = $1 AND at > $2",
    )
    .bind(subject)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    let free_at = match limit {
        Limit::Growing(free) if count >= free => {
            let doublings = u32::try_from(count - free).unwrap_or(u32::MAX).min(20);
            newest.unwrap_or(now) + std::time::Duration::from_secs(1 << doublings).min(window)
        }
        Limit::Capped(max) if count >= max => oldest.unwrap_or(since) + window,
        _ => return Ok(()),
    };
    if free_at > now {
        let retry_after_secs = u64::try_from(free_at - now).unwrap_or(1).div_ceil(1000).max(1);
        return Err(AppError::Throttled { retry_after_secs });
    }
    Ok(())
}

/// Forgets failures older than the throttle window (run periodically).
pub async fn prune_login_failures(db: &Db, policy: &AuthPolicy) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("DELETE FROM login_failures WHERE at <= $1")
        .bind(Timestamp::now() - policy.throttle_window)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// The session store's backend failing is the database being away (503, retry); a session
/// that cannot be encoded or decoded is a fault.
fn session_error(err: tower_sessions::session::Error) -> AppError {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as Store;
    match err {
        Error::Store(Store::Backend(_)) => {
            tracing::warn!(error = %err, "session store unavailable");
            super::db::note_unreachable();
            AppError::Unavailable
        }
        err => super::error::internal("session store error", &err),
    }
}

/// Starts an authenticated session under a new session id (no fixation), listed among the
/// user's sessions with the device it came from.
pub async fn start_session(
    db: &Db,
    session: &Session,
    user: UserId,
    epoch: i64,
    device: &sessions::Device,
) -> Result<(), AppError> {
    if let Some(old) = session.get::<String>(SESSION_HANDLE).await.map_err(session_error)? {
        sessions::close(db, &old).await?;
    }
    let handle = sessions::open(db, user, epoch, device).await?;
    session.cycle_id().await.map_err(session_error)?;
    session.insert(SESSION_USER, user.0).await.map_err(session_error)?;
    session.insert(SESSION_EPOCH, epoch).await.map_err(session_error)?;
    session.insert(SESSION_AUTH_AT, Timestamp::now()).await.map_err(session_error)?;
    session.insert(SESSION_HANDLE, handle).await.map_err(session_error)?;
    Ok(())
}

/// Ends the session and deletes it from the store, so the old cookie is worthless.
pub async fn end_session(db: &Db, session: &Session) -> Result<(), AppError> {
    if let Some(handle) = session.get::<String>(SESSION_HANDLE).await.map_err(session_error)? {
        sessions::close(db, &handle).await?;
    }
    session.flush().await.map_err(session_error)
}

/// The handle of the session's row among its user's sessions.
pub async fn session_handle(session: &Session) -> Result<String, AppError> {
    Ok(session.get::<String>(SESSION_HANDLE).await.map_err(session_error)?.unwrap_or_default())
}

/// The session's user, if the session is valid: not past its absolute lifetime, the user
/// not disabled, the password not reset since login, and not signed out from another of the
/// user's sessions (its row among theirs still there).
pub async fn session_principal(
    db: &Db,
    policy: &AuthPolicy,
    session: &Session,
) -> Result<Option<Principal>, AppError> {
    let Some(id) = session.get::<i64>(SESSION_USER).await.map_err(session_error)? else {
        return Ok(None);
    };
    let epoch = session.get::<i64>(SESSION_EPOCH).await.map_err(session_error)?;
    let auth_at = session.get::<Timestamp>(SESSION_AUTH_AT).await.map_err(session_error)?.unwrap_or_default();
    let handle = session.get::<String>(SESSION_HANDLE).await.map_err(session_error)?;
    let lifetime = i64::try_from(policy.session_absolute.as_millis()).unwrap_or(i64::MAX);
    let user = users::session_user(db, UserId(id), handle.as_deref()).await?;
    let seen = user.as_ref().and_then(|user| user.session_seen);
    match (user, handle, seen) {
        (Some(user), Some(handle), Some(seen))
            if !user.disabled
                && Some(user.session_epoch) == epoch
                && Timestamp::now() - auth_at < lifetime =>
        {
            sessions::seen(db, &handle, seen).await?;
            Ok(Some(user.principal))
        }
        _ => {
            end_session(db, session).await?;
            Ok(None)
        }
    }
}

/// The logged-in user inside a server function, or `Unauthenticated`.
pub async fn require_user() -> Result<Principal, AppError> {
    current_user().await?.ok_or(AppError::Unauthenticated)
}

/// The logged-in admin inside a server function, once the call's arguments are known to be
/// within their bounds ([`arguments_within_bounds`]).
pub async fn require_admin() -> Result<Principal, AppError> {
    let admin = require_user().await?;
    admin.require_admin()?;
    arguments_within_bounds()?;
    Ok(admin)
}

/// The refusal of a server-function call one of whose arguments was over its bound: the
/// server's middleware cuts such an argument short and attaches this to the request, and the
/// function answers with it once it knows that the caller may act (a caller who may not hears
/// 401, 403 or 404 first, whatever they sent).
#[derive(Clone, Debug)]
pub struct ArgumentOverBound(pub AppError);

/// Refuses the call if one of its arguments was over its bound. Every server function calls
/// it right after deciding that the caller may act (the access helpers do), before it reads
/// an argument.
pub fn arguments_within_bounds() -> Result<(), AppError> {
    let over = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ArgumentOverBound>().cloned());
    over.map_or(Ok(()), |ArgumentOverBound(refusal)| Err(refusal))
}

/// The request's user, loaded once however many parts of a page ask for it (the layout, then
/// the page's server functions). A fresh one is provided for each request Leptos serves, a
/// page or a server function's call (`server::startup`); where there is none, the user is
/// loaded on every ask. Nothing reads the user after changing the session in one request
/// (login and logout only change it).
#[derive(Clone, Default)]
pub struct RequestUser(std::sync::Arc<tokio::sync::OnceCell<Option<Principal>>>);

/// Answers the page being rendered with a redirect (303) to the login page. (The server adds
/// the page's address as the login's `next`, for every route alike: `server::ops`.)
pub fn send_to_login() {
    use axum::http::{HeaderValue, StatusCode, header};
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(StatusCode::SEE_OTHER);
        response.insert_header(header::LOCATION, HeaderValue::from_static("/login"));
    }
}

/// The logged-in user inside a server function, if any.
pub async fn current_user() -> Result<Option<Principal>, AppError> {
    let load = async {
        let state = super::state()?;
        let session = session().await?;
        session_principal(&state.db, &state.auth, &session).await
    };
    match leptos::prelude::use_context::<RequestUser>() {
        Some(RequestUser(user)) => user.get_or_try_init(|| load).await.cloned(),
        None => load.await,
    }
}

/// The request's session inside a server function.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "session layer missing");
        AppError::Unavailable
    })
}
