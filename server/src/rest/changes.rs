//! Changes for automation: list, read, create, record the happy path, add failure modes,
//! the gate for deploy pipelines, and a status badge.

use super::{ApiError, JsonBody, RestState, Token};
use crate::rest::openapi::{
    ChangeKeyDoc, ChangeTypeDoc, DesignTitleDoc, LinkDoc, MilestoneDateDoc, NoteDoc, RequireDoc, SelectorDoc,
    SlugDoc, TitleDoc,
};
use app::domain::Role;
use app::domain::change::{
    ChangeDetails, ChangeFields, ChangeKey, ChangeType, DETAILS, DetailKind, NOTE_MAX, optional_text,
};
use app::domain::failure_mode::{FailureModeFields, FailureModeInput, TEXTS, Texts};
use app::domain::gate::{ChangeSummary, Gate};
use app::domain::time::Timestamp;
use app::ssr::access::{self, Caller};
use app::ssr::review::{self, Review};
use app::ssr::store::tokens::Authenticated;
use app::ssr::store::{changes, failure_modes};
use askama::Template;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The change `key`, if the token may do work of `needed` on it: its own team's, with the
/// scope that work takes (`access::change`).
async fn owned(state: &RestState, token: &Token, key: &str, needed: Role) -> Result<Review, ApiError> {
    Ok(access::change(&state.app.db, Caller::Token(&token.0), key, needed).await?)
}

/// A blocker as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BlockerDoc {
    /// `FM-3`, when the blocker is about one failure mode.
    pub failure_mode: Option<String>,
    pub reason: String,
}

/// The gate of a change.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GateDoc {
    pub change: String,
    pub status: String,
    /// `open` or `closed`.
    pub gate: String,
    pub blockers: Vec<BlockerDoc>,
}

fn gate_doc(change: &ChangeSummary) -> GateDoc {
    GateDoc {
        change: change.key.to_string(),
        status: change.status.as_str().to_owned(),
        gate: if change.gate.is_open() { "open" } else { "closed" }.to_owned(),
        blockers: change
            .gate
            .blockers()
            .iter()
            .map(|b| BlockerDoc { failure_mode: b.failure_mode.clone(), reason: b.reason.clone() })
            .collect(),
    }
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes the query the gate reads; never constructed")]
pub struct GateQuery {
    /// `open`: answer 412 while the gate is closed (for `curl --fail` in deploy steps).
    #[param(inline, value_type = RequireDoc, required = false)]
    require: Option<String>,
}

/// Whether the gate's query asks for it to be open (`require=open`, perhaps more than once).
/// Other parameters are ignored, as the gate takes no others.
fn requires_open(query: Option<&str>) -> Result<bool, ApiError> {
    let mut open = false;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name == "require" {
            if value != "open" {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "require={:?} is unknown; use require=open.",
                        app::domain::error::bounded(&value)
                    ),
                ));
            }
            open = true;
        }
    }
    Ok(open)
}

/// Whether failure cases complete can be signed off, with every blocker.
#[utoipa::path(get, path = "/changes/{key}/gate", tag = "changes", params(("key" = ChangeKeyDoc, Path), GateQuery),
    responses((status = 200, body = GateDoc), (status = 412, description = "require=open and the gate is closed", body = GateDoc)),
    security(("bearer" = [])))]
pub async fn gate(
    State(state): State<RestState>,
    token: Token,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let change = ChangeSummary::from(&owned(&state, &token, &key, Role::Viewer).await?);
    let require_open = requires_open(query.as_deref())?;
    let status =
        if require_open && !change.gate.is_open() { StatusCode::PRECONDITION_FAILED } else { StatusCode::OK };
    Ok((status, Json(gate_doc(&change))).into_response())
}

/// A failure mode as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FailureModeDoc {
    pub failure_mode: String,
    pub title: String,
    /// Each of its texts by its name (`openapi::FailureModeTexts` describes them).
    #[serde(flatten)]
    #[schema(ignore)]
    pub texts: serde_json::Map<String, serde_json::Value>,
    pub priority: String,
    pub coverage: String,
    pub tests: Vec<String>,
}

/// A change as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChangeDoc {
    pub key: String,
    pub title: String,
    pub status: String,
    pub types: Vec<String>,
    /// Each of the change's details by its name (`openapi::ChangeDetails` describes them).
    #[serde(flatten)]
    #[schema(ignore)]
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Bumped by every edit of the details; also the `ETag`, for `If-Match` on `PATCH`.
    pub version: i64,
    /// Unix milliseconds.
    #[schema(value_type = Option<i64>)]
    pub happy_path_at: Option<Timestamp>,
    /// Unix milliseconds.
    #[schema(value_type = Option<i64>)]
    pub target_at: Option<Timestamp>,
    pub failure_modes: Vec<FailureModeDoc>,
    pub gate: GateDoc,
}

fn change_doc(review: &Review) -> ChangeDoc {
    let c = ChangeSummary::from(review);
    let d = &c.details;
    ChangeDoc {
        key: c.key.to_string(),
        title: d.title.clone(),
        status: c.status.as_str().to_owned(),
        types: d.types.iter().map(|t| t.as_str().to_owned()).collect(),
        details: DETAILS
            .iter()
            .zip(d.values())
            .map(|(detail, value)| {
                let value = match (detail.kind, value) {
                    (DetailKind::Link, None) => serde_json::Value::Null,
                    (_, value) => value.unwrap_or_default().into(),
                };
                (detail.name.to_owned(), value)
            })
            .collect(),
        version: c.version,
        happy_path_at: c.happy_path_at,
        target_at: c.target_at,
        gate: gate_doc(&c),
        failure_modes: c
            .failure_modes
            .into_iter()
            .map(|fm| FailureModeDoc {
                failure_mode: fm.label(),
                texts: fm.texts.iter().map(|(t, value)| (t.name.to_owned(), value.into())).collect(),
                priority: fm.priority.label().to_owned(),
                coverage: fm.coverage.as_str().to_owned(),
                tests: fm.selectors.iter().map(|s| s.as_str().to_owned()).collect(),
                title: fm.title,
            })
            .collect(),
    }
}

/// A change with its failure modes and gate.
#[utoipa::path(get, path = "/changes/{key}", tag = "changes", params(("key" = ChangeKeyDoc, Path)),
    responses((status = 200, body = ChangeDoc), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<RestState>,
    token: Token,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let doc = change_doc(&owned(&state, &token, &key, Role::Viewer).await?);
    Ok((etag(doc.version), Json(doc)).into_response())
}

/// A change in a list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChangeSummaryDoc {
    pub key: String,
    pub title: String,
    pub status: String,
    /// Unix milliseconds.
    #[schema(value_type = Option<i64>)]
    pub target_at: Option<Timestamp>,
}

/// The token's team's changes, newest first.
#[utoipa::path(get, path = "/changes", tag = "changes",
    responses((status = 200, body = Vec<ChangeSummaryDoc>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<RestState>,
    token: Token,
) -> Result<Json<Vec<ChangeSummaryDoc>>, ApiError> {
    Caller::Token(&token.0).may(Role::Viewer)?;
    let auth = &token.0;
    let listed = changes::list(&state.app.db, auth.team_id, None).await?;
    Ok(Json(
        listed
            .into_iter()
            .map(|l| ChangeSummaryDoc {
                key: l.change.key.to_string(),
                title: l.change.details.title,
                status: l.change.status.as_str().to_owned(),
                target_at: l.change.target_at,
            })
            .collect(),
    ))
}

/// A new change. Its details (`openapi::ChangeDetails`) come by their names beside these.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewChangeDoc {
    /// The team's slug; must be the token's team.
    #[schema(value_type = SlugDoc)]
    pub team: String,
    #[schema(value_type = TitleDoc)]
    pub title: String,
    /// One or more of queue, migration, rollout, dependency, ai_agent, infrastructure, other.
    #[schema(value_type = Vec<ChangeTypeDoc>, min_items = 1)]
    pub types: Vec<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Lays the details given in a JSON body over `fields`: each key must name a detail; a text
/// is a string, a link a string or `null` (none). A text given as `null` is left as it is.
fn given_details(
    fields: &mut ChangeFields,
    given: serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    let texts = fields.texts();
    for (name, value) in given {
        let Some(i) = DETAILS.iter().position(|d| d.name == name) else {
            let known = ["team", "title", "types"].into_iter().chain(DETAILS.iter().map(|d| d.name));
            let known = known.collect::<Vec<_>>().join(", ");
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown field `{}`; the fields are {known}", app::domain::error::bounded(&name)),
            ));
        };
        match (DETAILS[i].kind, value) {
            (_, serde_json::Value::String(text)) => *texts[i] = text,
            (DetailKind::Link, serde_json::Value::Null) => texts[i].clear(),
            (DetailKind::Text, serde_json::Value::Null) => {}
            (kind, _) => {
                let expected = if kind == DetailKind::Link { "a string or null" } else { "a string" };
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{name} must be {expected}."),
                ));
            }
        }
    }
    Ok(())
}

/// Change types as the API names them.
fn parse_types(types: &[String]) -> Result<Vec<ChangeType>, ApiError> {
    types.iter().map(|t| ChangeType::parse(t)).collect::<Result<_, _>>().map_err(ApiError::from)
}

impl TryFrom<NewChangeDoc> for ChangeDetails {
    type Error = ApiError;

    fn try_from(doc: NewChangeDoc) -> Result<Self, ApiError> {
        let mut fields =
            ChangeFields { title: doc.title, types: parse_types(&doc.types)?, ..ChangeFields::default() };
        given_details(&mut fields, doc.details)?;
        Ok(ChangeDetails::try_from(fields)?)
    }
}

/// The key of a created change.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedDoc {
    pub key: String,
}

/// Refuses a personal token whose owner is disabled or does not hold `needed` in its team: it
/// works only while its owner is an active member (every request, `rest::Token`), and
/// changes only what its owner could change in the browser. A pipeline token (no owner) is
/// bounded by its scopes alone. Either way a token never acts *as* its owner: what it
/// registers has no human author until a person claims it.
pub(super) async fn require_active_owner(
    state: &RestState,
    auth: &Authenticated,
    needed: app::domain::Role,
) -> Result<(), ApiError> {
    let Some(owner) = auth.owner else {
        return Ok(());
    };
    let user = app::ssr::store::users::session_user(&state.app.db, owner, None).await?;
    match user {
        Some(user) if !user.disabled && user.principal.has_role(auth.team_id, needed) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "This token's owner is disabled or no longer a member of the team.",
        )),
    }
}

fn unprocessable(err: app::domain::AppError) -> ApiError {
    ApiError::from(err)
}

/// Registers a change. It records the token and has no author until a member claims it.
#[utoipa::path(post, path = "/changes", tag = "changes", request_body = NewChangeDoc,
    responses((status = 201, body = CreatedDoc), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<RestState>,
    token: Token,
    body: JsonBody<NewChangeDoc>,
) -> Result<(StatusCode, Json<CreatedDoc>), ApiError> {
    Caller::Token(&token.0).may(Role::Member)?;
    let auth = &token.0;
    let body = body.read().await?;
    let slug = &auth.team_slug;
    if app::domain::TeamSlug::parse(&body.team)?.as_str() != slug {
        return Err(ApiError::new(StatusCode::FORBIDDEN, format!("This token belongs to team {slug}.")));
    }
    require_active_owner(&state, auth, app::domain::Role::Member).await?;
    let new = ChangeDetails::try_from(body)?;
    let key =
        changes::create(&state.app.db, &auth.actor(), auth.team_id, changes::Registrar::Token(auth.id), &new)
            .await?;
    Ok((StatusCode::CREATED, Json(CreatedDoc { key: key.to_string() })))
}

/// An edit of a change's details: every field is optional, and what is left out stays as
/// it is. A detail (`openapi::ChangeDetails`) given as `""` (or a link as `null`) is removed.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePatchDoc {
    #[schema(value_type = Option<TitleDoc>)]
    pub title: Option<String>,
    /// One or more of queue, migration, rollout, dependency, ai_agent, infrastructure, other.
    #[schema(value_type = Option<Vec<ChangeTypeDoc>>, min_items = 1)]
    pub types: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ChangePatchDoc {
    /// The details as they are, with this edit laid over them.
    fn over(self, current: ChangeDetails) -> Result<ChangeFields, ApiError> {
        let mut f = ChangeFields::from(current);
        f.title = self.title.unwrap_or(f.title);
        if let Some(types) = self.types {
            f.types = parse_types(&types)?;
        }
        given_details(&mut f, self.details)?;
        Ok(f)
    }
}

/// The version an `If-Match` header names (`"3"`, `W/"3"` or `3`), if one was sent.
fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let refused = || {
        ApiError::new(StatusCode::PRECONDITION_FAILED, "If-Match must be the change's version, e.g. \"3\".")
    };
    let tag = value.to_str().map_err(|_| refused())?.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
    tag.parse().map(Some).map_err(|_| refused())
}

/// A change's version as an `ETag`.
fn etag(version: i64) -> [(header::HeaderName, String); 1] {
    [(header::ETAG, format!("\"{version}\""))]
}

/// Edits an open change's title, summary, types, links or rollback plan. With `If-Match`
/// (the `version` or `ETag` of a read), refuses with 412 if someone edited it since.
#[utoipa::path(patch, path = "/changes/{key}", tag = "changes", params(("key" = ChangeKeyDoc, Path)),
    request_body = ChangePatchDoc,
    responses((status = 200, body = ChangeDoc), (status = 404), (status = 409, description = "The change is signed off or cancelled, or was edited at the same moment"),
        (status = 412, description = "If-Match names an older version"), (status = 422)),
    security(("bearer" = [])))]
pub async fn edit(
    State(state): State<RestState>,
    token: Token,
    Path(key): Path<String>,
    headers: axum::http::HeaderMap,
    body: JsonBody<ChangePatchDoc>,
) -> Result<Response, ApiError> {
    let review = owned(&state, &token, &key, Role::Member).await?;
    let auth = &token.0;
    let body = body.read().await?;
    let change = &review.change;
    let version = match if_match(&headers)? {
        Some(version) if version != change.version => {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                format!("Change {key} is at version {}, not {version}: read it again.", change.version),
            ));
        }
        _ => change.version,
    };
    let details = ChangeDetails::try_from(body.over(change.details.clone())?)?;
    require_active_owner(&state, auth, app::domain::Role::Member).await?;
    changes::update_details(&state.app.db, &auth.actor(), change, version, &details).await?;
    let doc = change_doc(&owned(&state, &token, &key, Role::Viewer).await?);
    Ok((etag(doc.version), Json(doc)).into_response())
}

/// The happy-path milestone.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HappyPathDoc {
    #[serde(default)]
    #[schema(value_type = NoteDoc)]
    pub note: String,
    /// `YYYY-MM-DD` (UTC) when it started working, up to a year back; today when omitted.
    #[serde(default)]
    #[schema(value_type = MilestoneDateDoc)]
    pub on: String,
}

/// Records that the change's happy path works.
#[utoipa::path(post, path = "/changes/{key}/happy-path", tag = "changes", params(("key" = ChangeKeyDoc, Path)),
    request_body = Option<HappyPathDoc>, responses((status = 200, body = ChangeDoc), (status = 409)), security(("bearer" = [])))]
pub async fn happy_path(
    State(state): State<RestState>,
    token: Token,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ChangeDoc>, ApiError> {
    let review = owned(&state, &token, &key, Role::Member).await?;
    let auth = &token.0;
    // The body is optional: an empty one (or `null`) records the milestone without a note.
    let doc = if body.iter().all(u8::is_ascii_whitespace) {
        HappyPathDoc::default()
    } else {
        serde_json::from_slice::<Option<HappyPathDoc>>(&body)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Malformed JSON at line {}, column {}: {e}", e.line(), e.column()),
                )
            })?
            .unwrap_or_default()
    };
    let note = optional_text("note", "Note", &doc.note, NOTE_MAX).map_err(unprocessable)?;
    let at = app::domain::time::milestone_date("on", &doc.on, Timestamp::now()).map_err(unprocessable)?;
    require_active_owner(&state, auth, app::domain::Role::Member).await?;
    changes::record_happy_path(&state.app.db, &auth.actor(), None, &review.change, &note, at).await?;
    Ok(Json(change_doc(&owned(&state, &token, &key, Role::Viewer).await?)))
}

/// A design link or note.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignDoc {
    #[schema(value_type = DesignTitleDoc)]
    pub title: String,
    #[schema(value_type = Option<LinkDoc>)]
    pub url: Option<String>,
}

/// A new failure mode. Its texts (`openapi::FailureModeTexts`) come by their names beside
/// these.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewFailureModeDoc {
    /// One line of 1 to 200 characters (surrounding spaces are dropped).
    #[schema(value_type = TitleDoc)]
    pub title: String,
    #[schema(minimum = 1, maximum = 5)]
    #[serde(deserialize_with = "whole_number")]
    pub severity: u8,
    #[schema(minimum = 1, maximum = 5)]
    #[serde(deserialize_with = "whole_number")]
    pub likelihood: u8,
    #[schema(minimum = 1, maximum = 5)]
    #[serde(deserialize_with = "whole_number")]
    pub detectability: u8,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub designs: Vec<DesignDoc>,
    /// Test selectors: exact test ids or globs with `*` and `?`.
    #[serde(default)]
    #[schema(value_type = Vec<SelectorDoc>, max_items = 50)]
    pub tests: Vec<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub texts: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<NewFailureModeDoc> for FailureModeFields {
    type Error = ApiError;

    /// The fields a form would carry: the same checks, caps and messages apply to both.
    fn try_from(doc: NewFailureModeDoc) -> Result<Self, ApiError> {
        let mut texts = Texts::default();
        for (name, value) in doc.texts {
            let known = || {
                let fixed = ["title", "severity", "likelihood", "detectability", "designs", "tests"];
                let names: Vec<&str> = fixed.into_iter().chain(TEXTS.iter().map(|t| t.name)).collect();
                names.join(", ")
            };
            let Some(slot) = texts.get_mut(&name) else {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "unknown field `{}`; the fields are {}",
                        app::domain::error::bounded(&name),
                        known()
                    ),
                ));
            };
            match value {
                serde_json::Value::String(text) => *slot = text,
                _ => {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("{name} must be a string."),
                    ));
                }
            }
        }
        Ok(Self {
            title: doc.title,
            texts,
            severity: doc.severity.to_string(),
            likelihood: doc.likelihood.to_string(),
            detectability: doc.detectability.to_string(),
            designs: doc.designs.into_iter().map(|d| (d.title, d.url.unwrap_or_default())).collect(),
            selectors: doc.tests,
        })
    }
}

/// A rating as JSON writes it: `3`, or `3.0` (the same number to JSON Schema), never `3.5`.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_u64()
        .or_else(|| number.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0).map(|n| n as u64))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| {
            serde::de::Error::custom(format!("invalid value: {number}, expected a whole number 1 to 5"))
        })
}

/// Adds a failure mode to a change.
#[utoipa::path(post, path = "/changes/{key}/failure-modes", tag = "changes", params(("key" = ChangeKeyDoc, Path)),
    request_body = NewFailureModeDoc, responses((status = 201, body = ChangeDoc), (status = 422)), security(("bearer" = [])))]
pub async fn add_failure_mode(
    State(state): State<RestState>,
    token: Token,
    Path(key): Path<String>,
    body: JsonBody<NewFailureModeDoc>,
) -> Result<(StatusCode, Json<ChangeDoc>), ApiError> {
    let review = owned(&state, &token, &key, Role::Member).await?;
    let auth = &token.0;
    let input = FailureModeInput::try_from(FailureModeFields::try_from(body.read().await?)?)?;
    failure_modes::add_failure_mode(&state.app.db, &auth.actor(), &review.change, &input).await?;
    Ok((StatusCode::CREATED, Json(change_doc(&owned(&state, &token, &key, Role::Viewer).await?))))
}

#[derive(Template)]
#[template(path = "badge.svg", escape = "html")]
struct Badge<'a> {
    label: &'a str,
    message: &'a str,
    color: &'a str,
    width: usize,
    label_width: usize,
    message_width: usize,
}

/// A status badge for READMEs: public, but only for teams that enable it.
pub async fn badge(State(state): State<RestState>, Path(key): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("Change {key} was not found."));
    let parsed = ChangeKey::parse(&key).map_err(|_| not_found())?;
    let review = review::load(&state.app.db, &parsed).await?;
    // A team that has not made its badges public has none: to the world, no such change.
    if !changes::public_badges_enabled(&state.app.db, review.change.team_id).await? {
        return Err(not_found());
    }
    let (message, color) = match (&review.gate, review.change.status) {
        (_, app::domain::change::ChangeStatus::FailureCasesComplete) => ("failure cases complete", "#2e7d32"),
        (_, app::domain::change::ChangeStatus::Regressed) => ("regressed", "#c62828"),
        (_, app::domain::change::ChangeStatus::Cancelled) => ("cancelled", "#757575"),
        (Gate::Open, _) => ("gate open", "#1565c0"),
        (Gate::Closed(_), _) => ("gate closed", "#ef6c00"),
    };
    let label = review.change.key.to_string();
    let (label_width, message_width) = (label.len() * 7 + 12, message.len() * 7 + 12);
    let svg = Badge {
        label: &label,
        message,
        color,
        width: label_width + message_width,
        label_width,
        message_width,
    }
    .render()
    .map_err(|e| ApiError::from(app::ssr::error::internal("badge template failed", &e)))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=60")], svg)
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn severity(json: &str) -> Result<u8, String> {
        let body =
            format!(r#"{{"title": "Backlog", "severity": {json}, "likelihood": 3, "detectability": 2}}"#);
        serde_json::from_str::<NewFailureModeDoc>(&body).map(|d| d.severity).map_err(|e| e.to_string())
    }

    #[test]
    fn a_rating_is_a_whole_number_however_json_writes_it() {
        assert_eq!(severity("4"), Ok(4));
        assert_eq!(severity("4.0"), Ok(4), "4.0 is the integer 4 to JSON Schema");
        assert!(severity("4.5").is_err());
        assert!(severity("-1").is_err());
        assert!(severity("300").is_err());
        assert!(severity("\"4\"").is_err());
    }
}
