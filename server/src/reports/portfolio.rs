//! The portfolio view as CSV, for spreadsheets: exactly the rows of the filtered view.

use super::ReportError;
use app::domain::portfolio::Filter;
use app::ssr::{AppState, auth};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use tower_sessions::Session;

/// `GET /portfolio.csv?<the view's query>`.
pub async fn csv(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, ReportError> {
    let user = auth::session_principal(&state.db, &state.auth, &session).await?.ok_or(ReportError::Login)?;
    let filter = Filter::parse_query(query.as_deref().unwrap_or_default())?;
    let mut chunks = app::ssr::portfolio::csv(&state.db, &user, &filter).await?;
    // The first chunk (the whole file, when small) is awaited before answering, so that a
    // database that fails at once gets its error page, not a 200 with no rows.
    let first = chunks.next().await.unwrap_or_else(|| Ok(Vec::new()))?;
    let rest = futures::stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.next().await?;
        // Past the first chunk the status is sent: the download is cut short instead.
        Some((chunk.map_err(|_| std::io::Error::other("the portfolio CSV failed")), chunks))
    });
    let body = Body::from_stream(futures::stream::iter([Ok(first)]).chain(rest));
    let name = match &filter.team {
        Some(team) => format!("premortem-portfolio-{team}.csv"),
        None => "premortem-portfolio.csv".to_owned(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
