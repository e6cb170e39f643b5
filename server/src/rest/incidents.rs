//! Incidents over the API, for an incident tool or on-call with a token scoped
//! `incidents:write`: record one against the changes it followed (idempotent on its
//! `external_id`), and list a change's incidents with its verdict on each.

use super::{ApiError, JsonBody, RestState, Token};
use crate::rest::openapi::{ChangeKeyDoc, ExternalIdDoc, LinkDoc, SeverityDoc, TitleDoc, VerdictDoc};
use app::domain::Role;
use app::domain::change::ChangeKey;
use app::domain::incident::{ChangeIncident, IncidentFields, IncidentInput};
use app::domain::time::Timestamp;
use app::ssr::access::{self, Caller};
use app::ssr::store::incidents;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// An incident to record.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentDoc {
    #[schema(value_type = TitleDoc)]
    pub title: String,
    /// `SEV1` (the worst) to `SEV4`.
    #[schema(value_type = SeverityDoc)]
    pub severity: String,
    /// Unix milliseconds; not in the future.
    #[schema(value_type = i64, minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub started_at: Timestamp,
    /// Unix milliseconds; not before `started_at`, not in the future.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub resolved_at: Option<Timestamp>,
    /// The incident in its tool.
    #[serde(default)]
    #[schema(value_type = Option<LinkDoc>)]
    pub url: Option<String>,
    /// The incident tool's id: posting it again updates the incident (and links the
    /// changes it newly names) instead of recording a second one.
    #[serde(default)]
    #[schema(value_type = Option<ExternalIdDoc>)]
    pub external_id: Option<String>,
    /// The changes it followed: the token's team's.
    #[schema(value_type = Vec<ChangeKeyDoc>, min_items = 1, max_items = 20)]
    pub changes: Vec<String>,
}

/// An incident as one change sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentDoc {
    pub id: i64,
    pub title: String,
    /// `SEV1` to `SEV4`.
    pub severity: String,
    #[schema(value_type = i64)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<i64>)]
    pub resolved_at: Option<Timestamp>,
    pub url: Option<String>,
    pub external_id: Option<String>,
    /// Every change it followed.
    pub changes: Vec<String>,
    /// `held` or `failed` (a failure mode predicted it; its design held or not), `missed`,
    /// or none until the team classifies it.
    #[schema(value_type = Option<VerdictDoc>)]
    pub verdict: Option<String>,
    /// The failure mode that predicted it, or the one a miss became (`FM-3`).
    pub failure_mode: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub classified_at: Option<Timestamp>,
}

impl From<ChangeIncident> for IncidentDoc {
    fn from(i: ChangeIncident) -> Self {
        Self {
            id: i.id.0,
            title: i.title,
            severity: i.severity.as_str().to_owned(),
            started_at: i.started_at,
            resolved_at: i.resolved_at,
            url: i.url,
            external_id: i.external_id,
            changes: i.changes,
            verdict: i.verdict.map(|v| v.as_str().to_owned()),
            failure_mode: i.failure_mode.map(app::domain::failure_mode::label),
            classified_at: i.classified_at,
        }
    }
}

/// What a recording answers: the incident, as the first change it names sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecordedDoc {
    #[serde(flatten)]
    pub incident: IncidentDoc,
    /// False when `external_id` named an incident recorded before, which this updated.
    pub created: bool,
}

/// Records an incident against the changes it followed. With an `external_id` the team
/// posted before, updates that incident (201 the first time, 200 after), also when posts
/// race: one incident per id. A change of another team is a 404.
#[utoipa::path(post, path = "/incidents", tag = "incidents", request_body = NewIncidentDoc,
    responses((status = 201, body = RecordedDoc), (status = 200, body = RecordedDoc, description = "An incident with this external_id was updated"),
        (status = 404, description = "A change it names is not the token's team's (or does not exist)")),
    security(("bearer" = [])))]
pub async fn record(
    State(state): State<RestState>,
    token: Token,
    body: JsonBody<NewIncidentDoc>,
) -> Result<Response, ApiError> {
    let auth = token.require(app::domain::scope::Scope::IncidentsWrite)?;
    super::changes::require_active_owner(&state, auth, app::domain::Role::Member).await?;
    let doc = body.read().await?;
    let input = IncidentInput::check(
        IncidentFields {
            title: doc.title,
            severity: doc.severity,
            started_at: Some(doc.started_at),
            resolved_at: doc.resolved_at,
            url: doc.url.unwrap_or_default(),
            external_id: doc.external_id.unwrap_or_default(),
            changes: doc.changes,
        },
        Timestamp::now(),
    )?;
    let db = &state.app.db;
    let mut changes = Vec::with_capacity(input.changes.len());
    for key in &input.changes {
        changes.push(access::incidents_of(db, Caller::Token(auth), key, Role::Member).await?);
    }
    let (id, created) = incidents::record(db, &auth.actor(), auth.team_id, &changes, &input, None).await?;
    let first = changes
        .first()
        .map(|c| c.id)
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "changes: Name a change."))?;
    let incident = incidents::of_change(db, first, id).await?.ok_or_else(|| {
        ApiError::new(StatusCode::CONFLICT, "The incident changed while it was recorded; ask again.")
    })?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(RecordedDoc { incident: incident.into(), created })).into_response())
}

/// Which change's incidents to list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes the query a listing reads; never constructed")]
pub struct ListQuery {
    /// The change, e.g. `PAY-12`.
    #[param(value_type = ChangeKeyDoc)]
    change: String,
}

/// The incidents that followed a change (up to 200, newest first), with the change's
/// verdict on each. A token with `incidents:write` or `changes:read`.
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(ListQuery),
    responses((status = 200, body = Vec<IncidentDoc>), (status = 404, description = "No such change in the token's team")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<RestState>,
    token: Token,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<IncidentDoc>>, ApiError> {
    let raw = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "change")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Name the change: ?change=PAY-12."))?;
    let key = ChangeKey::parse(&raw).map_err(|_| {
        app::domain::AppError::NotFound(format!("Change {}", app::domain::error::bounded(&raw)))
    })?;
    let change = access::incidents_of(&state.app.db, Caller::Token(&token.0), &key, Role::Viewer).await?;
    let listed = incidents::for_change(&state.app.db, change.id).await?;
    Ok(Json(listed.into_iter().map(IncidentDoc::from).collect()))
}
