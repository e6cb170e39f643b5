//! Plain HTML forms the app's pages post to, handled without JavaScript: adding failure
//! modes from the catalogue, and importing them from CSV or a Markdown table (preview,
//! then confirm). Browser routes: the session's user must be a member of the change's team.

mod import;

use crate::reports::{ReportError, change_access};
use app::domain::catalogue::TemplateRef;
use app::domain::failure_mode::{FailureModeInput, Ratings};
use app::domain::{AppError, Role};
use app::ssr::audit_actor;
use app::ssr::store::changes;
use app::ssr::store::templates;
use app::ssr::{AppState, review::Review};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Form fields; a name may repeat (checkboxes).
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn change_page(review: &Review) -> Redirect {
    Redirect::to(&format!("/changes/{}#failure-modes", review.change.key))
}

/// `POST /changes/{key}/suggestions`: the checked templates (`template=builtin:<id>` or
/// `team:<id>`) become failure modes to complete: title, scenario, effect, detection and
/// ratings from the template; designs and tests are the team's to add.
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
        let (s, l, d) = template.ratings;
        let text = [template.title.as_str(), &template.scenario, &template.effect, &template.detection];
        inputs.push(FailureModeInput::new(text, Ratings::checked(s, l, d)?, Vec::new(), Vec::new())?);
        keys.push(Some(key));
    }
    if !inputs.is_empty() {
        changes::add_failure_modes(&state.db, &audit_actor(&user), &review.change, &inputs, &keys).await?;
    }
    Ok(change_page(&review).into_response())
}

/// One row of the preview.
struct PreviewRow {
    line: usize,
    title: String,
    priority: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "import.html", escape = "html")]
struct ImportPage<'a> {
    key: &'a str,
    title: &'a str,
    text: &'a str,
    /// An error about the whole text.
    error: Option<String>,
    rows: Vec<PreviewRow>,
    errors: usize,
}

fn render(page: &ImportPage<'_>) -> Result<Response, ReportError> {
    let html = page.render().map_err(|e| app::ssr::error::internal("import page", &e))?;
    let headers = [
        (header::CACHE_CONTROL, "private, no-store"),
        (header::CONTENT_SECURITY_POLICY, crate::reports::DOCUMENT_CSP),
    ];
    Ok((headers, Html(html)).into_response())
}

/// `GET /changes/{key}/import`: the form.
pub async fn import_form(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
) -> Result<Response, ReportError> {
    let (_, review) = change_access(&state, &session, &key, Role::Member).await?;
    let key = review.change.key.to_string();
    render(&ImportPage {
        key: &key,
        title: &review.change.details.title,
        text: "",
        error: None,
        rows: vec![],
        errors: 0,
    })
}

/// `POST /changes/{key}/import`: previews the rows (`text`); with `confirm`, and only if no
/// row has an error, adds them all in one transaction and returns to the change.
pub async fn import(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ReportError> {
    let (user, review) = change_access(&state, &session, &key, Role::Member).await?;
    let fields = fields(&body);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let text = field("text").unwrap_or_default();
    let key = review.change.key.to_string();
    let page = |error: Option<String>, rows: Vec<PreviewRow>, errors: usize| ImportPage {
        key: &key,
        title: &review.change.details.title,
        text,
        error,
        rows,
        errors,
    };
    let parsed = match import::parse(text) {
        Ok(rows) => rows,
        Err(err) => {
            let mut response = render(&page(Some(err.to_string()), vec![], 0))?;
            *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    let errors = parsed.iter().filter(|r| r.result.is_err()).count();
    if field("confirm").is_some() && errors == 0 {
        let inputs: Vec<FailureModeInput> = parsed.into_iter().filter_map(|r| r.result.ok()).collect();
        changes::add_failure_modes(&state.db, &audit_actor(&user), &review.change, &inputs, &[]).await?;
        return Ok(change_page(&review).into_response());
    }
    let rows = parsed
        .into_iter()
        .map(|r| match r.result {
            Ok(fm) => PreviewRow {
                line: r.line,
                title: fm.title,
                priority: format!("{} (S×L×D {})", fm.ratings.priority().label(), fm.ratings.rpn()),
                error: None,
            },
            Err(error) => {
                PreviewRow { line: r.line, title: String::new(), priority: String::new(), error: Some(error) }
            }
        })
        .collect();
    let mut response = render(&page(None, rows, errors))?;
    if errors > 0 {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}
