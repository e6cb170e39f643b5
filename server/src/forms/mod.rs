//! Plain HTML forms the app's pages post to, handled without JavaScript: adding failure
//! modes from the catalogue, and importing them from CSV or a Markdown table (preview,
//! then confirm). Browser routes: the session's user must be a member of the change's team.

mod import;

use crate::reports::{ReportError, change_access};
use app::api::import::{ImportPreview, PreviewRow};
use app::domain::catalogue::TemplateRef;
use app::domain::failure_mode::FailureModeInput;
use app::domain::{AppError, Role};
use app::ssr::audit_actor;
use app::ssr::store::failure_modes;
use app::ssr::store::templates;
use app::ssr::{AppState, review::Review};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use leptos::prelude::provide_context;
use leptos_axum::render_app_async_with_context;
use tower_sessions::Session;

/// Form fields; a name may repeat (checkboxes).
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn change_page(review: &Review) -> Redirect {
    Redirect::to(&format!("/changes/{}#failure-modes", review.change.key))
}

/// `POST /changes/{key}/suggestions`: the checked templates (`template=builtin:<id>` or
/// `team:<id>`) become failure modes to complete: title, texts and ratings from the
/// template; designs and tests are the team's to add.
pub async fn add_suggestions(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ReportError> {
    let (user, review) = change_access(&state, &session, &key, Role::Member).await?;
    let mut inputs = Vec::new();
    let mut keys = Vec::new();
    for (name, value) in fields(&body) {
        if name != "template" {
            continue;
        }
        let key = TemplateRef::parse(&value)?;
        let template =
            templates::resolve(&state.db, review.change.team_id, &key).await?.ok_or_else(|| {
                AppError::invalid(
                    "template",
                    format!("There is no template {:?}.", app::domain::error::bounded(&value)),
                )
            })?;
        inputs.push(FailureModeInput::try_from(template.fields())?);
        keys.push(Some(key));
    }
    if !inputs.is_empty() {
        failure_modes::add_failure_modes(&state.db, &audit_actor(&user), &review.change, &inputs, &keys)
            .await?;
    }
    Ok(change_page(&review).into_response())
}

/// `POST /changes/{key}/import`: previews the rows (`text`); with `confirm`, and only if no
/// row has an error, adds them all in one transaction and returns to the change. A preview
/// is the app's import page, rendered with what was posted in its context.
pub async fn import(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Result<Response, ReportError> {
    let (user, review) = change_access(&state, &session, &key, Role::Member).await?;
    let fields = fields(&body);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let text = field("text").unwrap_or_default();
    let preview = match import::parse(text) {
        Ok(rows) if field("confirm").is_some() && rows.iter().all(|r| r.result.is_ok()) => {
            let inputs: Vec<FailureModeInput> = rows.into_iter().filter_map(|r| r.result.ok()).collect();
            failure_modes::add_failure_modes(&state.db, &audit_actor(&user), &review.change, &inputs, &[])
                .await?;
            return Ok(change_page(&review).into_response());
        }
        Ok(rows) => ImportPreview {
            text: text.to_owned(),
            problem: None,
            rows: rows.into_iter().map(preview_row).collect(),
        },
        Err(err) => ImportPreview { text: text.to_owned(), problem: Some(err.to_string()), rows: vec![] },
    };
    let status = if preview.importable() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let render = render_app_async_with_context(
        move || {
            provide_context(state.clone());
            provide_context(preview.clone());
        },
        || app::shell(crate::assets::bundle()),
    );
    let mut response = render(Request::from_parts(parts, Body::empty())).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    Ok(response)
}

fn preview_row(row: import::Row) -> PreviewRow {
    match row.result {
        Ok(fm) => PreviewRow {
            line: row.line,
            priority: format!("{} (S×L×D {})", fm.ratings.priority().label(), fm.ratings.rpn()),
            title: fm.title,
            problem: None,
        },
        Err(problem) => PreviewRow {
            line: row.line,
            title: String::new(),
            priority: String::new(),
            problem: Some(problem),
        },
    }
}
