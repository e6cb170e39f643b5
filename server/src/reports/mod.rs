//! Documents rendered with askama for people rather than pipelines: the review report of a
//! change, printable HTML and Markdown. Browser routes: the session's user must be able to
//! read the change's team.

mod portfolio;
mod report;

pub use portfolio::csv as portfolio_csv;

use app::domain::{AppError, Principal, Role};
use app::ssr::access::Caller;
use app::ssr::store::sign_offs;
use app::ssr::{AppState, auth, review};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use report::{Report, ReportHtml, ReportMd};
use tower_sessions::Session;

/// Why a report is not served.
pub enum ReportError {
    /// No valid session: log in first.
    Login,
    /// A user-safe error; a change the user may not read is one that does not exist.
    App(AppError),
}

impl From<AppError> for ReportError {
    fn from(err: AppError) -> Self {
        Self::App(err)
    }
}

impl IntoResponse for ReportError {
    fn into_response(self) -> Response {
        let err = match self {
            Self::Login => return Redirect::to("/login").into_response(),
            // Objects of other teams are already reported as not found (change_access).
            Self::App(AppError::Unauthenticated) => return Redirect::to("/login").into_response(),
            Self::App(other) => other,
        };
        let mut response = (app::ssr::error::status(&err), err.to_string()).into_response();
        let retry_after = match err {
            AppError::Throttled { retry_after_secs } => Some(retry_after_secs),
            AppError::Unavailable => Some(5),
            _ => None,
        };
        if let Some(value) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The session's user and the change `key` under review, if the user holds at least
/// `needed` in its team (a change they may not see is one that does not exist).
pub async fn change_access(
    state: &AppState,
    session: &Session,
    key: &str,
    needed: Role,
) -> Result<(Principal, review::Review), ReportError> {
    let user = auth::session_principal(&state.db, &state.auth, session).await?.ok_or(ReportError::Login)?;
    let review = app::ssr::access::change(&state.db, Caller::Person(&user), key, needed).await?;
    Ok((user, review))
}

/// The report of `key`, if the session's user holds at least `viewer` in its team.
async fn load(state: &AppState, session: &Session, key: &str) -> Result<Report, ReportError> {
    let (_, review) = change_access(state, session, key, Role::Viewer).await?;
    let sign_offs = sign_offs::sign_offs(&state.db, &review.change).await?;
    let incidents = app::ssr::store::incidents::for_change(&state.db, review.change.id).await?;
    Ok(Report::new(&review, sign_offs, &incidents))
}

fn render(template: &impl Template) -> Result<String, ReportError> {
    template.render().map_err(|e| app::ssr::error::internal("report template failed", &e).into())
}

/// The Content-Security-Policy of the report, a document rendered without the app: it holds
/// user-written text, so nothing in it may run; it loads only this site's stylesheets and
/// posts only to this site.
pub const DOCUMENT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; connect-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The review report as a standalone, printable HTML document.
pub async fn html(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
) -> Result<Response, ReportError> {
    let report = load(&state, &session, &key).await?;
    let body = render(&ReportHtml { r: &report })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::CONTENT_SECURITY_POLICY, DOCUMENT_CSP),
        ],
        body,
    )
        .into_response())
}

/// The review report as Markdown, for pasting into a pull request or wiki.
pub async fn markdown(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
) -> Result<Response, ReportError> {
    let report = load(&state, &session, &key).await?;
    let mut body = render(&ReportMd { r: &report })?;
    body.push('\n');
    // The key is a validated `<TEAM>-<n>`, safe inside the quoted file name.
    let disposition = format!("inline; filename=\"{}-review.md\"", report.key);
    let disposition = HeaderValue::from_str(&disposition)
        .map_err(|e| ReportError::from(app::ssr::error::internal("report file name", &e)))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/markdown; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
