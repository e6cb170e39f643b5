//! A team's webhooks over the API, for a token scoped `webhooks:manage`: list, add (the
//! secret is answered once), pause and resume, rotate the secret, delete, send a test
//! event, read recent deliveries and send one again.

use super::{ApiError, JsonBody, RestState, Token};
use crate::rest::openapi::{EventNameDoc, FormatDoc, SettableStateDoc, WebhookIdDoc, WebhookUrlDoc};
use app::domain::ids::{DeliveryId, WebhookId};
use app::domain::scope::Scope;
use app::domain::time::Timestamp;
use app::domain::webhook::{self, Delivery, Webhook, WebhookState};
use app::ssr::store::tokens::Authenticated;
use app::ssr::store::webhooks::{self, NewWebhook};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// How many deliveries a listing shows, newest first.
const DELIVERIES_LISTED: i64 = 100;

/// The token, if it may manage its team's webhooks.
async fn manager<'a>(state: &RestState, token: &'a Token) -> Result<&'a Authenticated, ApiError> {
    let auth = token.require(Scope::WebhooksManage)?;
    super::changes::require_active_owner(state, auth, app::domain::Role::Member).await?;
    Ok(auth)
}

/// A webhook id from the path: one that cannot be an id names no webhook.
fn webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    path_id(raw).map(WebhookId)
}

fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "No such webhook or delivery in the token's team.")
    })
}

/// A refusal of one field's value, naming the field.
fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {message}"))
}

/// A webhook as the API shows it (never its secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookDoc {
    pub id: i64,
    pub url: String,
    /// `standard` (Standard Webhooks v1, signed) or `slack`.
    pub format: String,
    /// The event types it receives, or `["*"]` for all.
    pub events: Vec<String>,
    /// `active`, `paused` or `disabled` (by Premortem: see `disabled_reason`).
    pub state: String,
    pub disabled_reason: Option<String>,
    /// Unix milliseconds since which every delivery has failed.
    #[schema(value_type = Option<i64>)]
    pub failing_since: Option<Timestamp>,
    /// Unix milliseconds until which the secret before the last rotation signs too.
    #[schema(value_type = Option<i64>)]
    pub previous_secret_until: Option<Timestamp>,
    /// Unix milliseconds.
    #[schema(value_type = i64)]
    pub created_at: Timestamp,
}

impl From<Webhook> for WebhookDoc {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id.0,
            url: w.url,
            format: w.format.as_str().to_owned(),
            events: w.events,
            state: w.state.as_str().to_owned(),
            disabled_reason: w.disabled_reason,
            failing_since: w.failing_since,
            previous_secret_until: w.previous_until,
            created_at: w.created_at,
        }
    }
}

/// A new webhook, with its signing secret: shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedWebhookDoc {
    #[serde(flatten)]
    pub webhook: WebhookDoc,
    /// `whsec_…`: verify each delivery's `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

/// One delivery of one event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryDoc {
    pub id: i64,
    /// Also its `webhook-id` header: `msg_` and the id, the same on every try.
    pub message_id: String,
    pub event_type: String,
    /// The change it is about (`""` for a test).
    pub change: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    pub attempts: i64,
    /// Unix milliseconds.
    #[schema(value_type = i64)]
    pub occurred_at: Timestamp,
    /// Unix milliseconds: when it is tried next, while pending.
    #[schema(value_type = Option<i64>)]
    pub next_at: Option<Timestamp>,
    /// The endpoint's last HTTP status.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub last_attempt_at: Option<Timestamp>,
    #[schema(value_type = Option<i64>)]
    pub done_at: Option<Timestamp>,
}

impl From<Delivery> for DeliveryDoc {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.0,
            message_id: format!("msg_{}", d.id),
            event_type: d.event_type,
            change: d.change,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            occurred_at: d.occurred_at,
            next_at: d.next_at,
            last_status: d.last_status,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at,
            done_at: d.done_at,
        }
    }
}

/// A webhook to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookDoc {
    /// Where deliveries are posted.
    #[schema(value_type = WebhookUrlDoc)]
    pub url: String,
    /// Event types, or `["*"]` for every type (those added later included).
    #[schema(value_type = Vec<EventNameDoc>, min_items = 1, max_items = 20)]
    pub events: Vec<String>,
    /// `standard` when omitted.
    #[serde(default)]
    #[schema(value_type = Option<FormatDoc>)]
    pub format: Option<String>,
}

/// The team's webhooks.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookDoc>)), security(("bearer" = [])))]
pub async fn list(State(state): State<RestState>, token: Token) -> Result<Json<Vec<WebhookDoc>>, ApiError> {
    let auth = manager(&state, &token).await?;
    let hooks = webhooks::list(&state.app.db, auth.team_id).await?;
    Ok(Json(hooks.into_iter().map(WebhookDoc::from).collect()))
}

/// Adds a webhook. Its URL must be `https` (or allowed `http`) to a public address, checked
/// after its name is resolved; the reply holds its secret, which is never shown again. A
/// team has at most 25 webhooks (409 past that). A retry with the same `Idempotency-Key`
/// answers the webhook that key added, secret included, and adds none; the key with other
/// settings is a 422.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewWebhookDoc,
    params(("Idempotency-Key" = Option<crate::rest::openapi::IdempotencyKeyDoc>, Header,
        description = "Makes a retried request add the webhook once")),
    responses((status = 201, body = CreatedWebhookDoc),
        (status = 409, description = "The team has 25 webhooks already, or this Idempotency-Key is adding one now")), security(("bearer" = [])))]
pub async fn create(
    State(state): State<RestState>,
    token: Token,
    headers: HeaderMap,
    body: JsonBody<NewWebhookDoc>,
) -> Result<Response, ApiError> {
    let auth = manager(&state, &token).await?;
    let key = super::idempotency_key(&headers)?;
    let doc = body.read().await?;
    let new = NewWebhook::check(&doc.url, &doc.events, doc.format.as_deref(), state.app.outbound).await?;
    let (hook, secret) =
        webhooks::create(&state.app.db, &auth.actor(), auth.team_id, auth.owner, &new, key).await?;
    Ok((StatusCode::CREATED, Json(CreatedWebhookDoc { webhook: hook.into(), secret })).into_response())
}

/// Deletes a webhook and its deliveries, sent or not.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = WebhookIdDoc, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<RestState>,
    token: Token,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let auth = manager(&state, &token).await?;
    webhooks::delete(&state.app.db, &auth.actor(), auth.team_id, webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a test event (`webhook.test`) for the webhook; answers its delivery.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", params(("id" = WebhookIdDoc, Path)),
    responses((status = 202, body = DeliveryDoc)), security(("bearer" = [])))]
pub async fn test(
    State(state): State<RestState>,
    token: Token,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let auth = manager(&state, &token).await?;
    let queued = webhooks::test(&state.app.db, &auth.actor(), auth.team_id, webhook_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryDoc::from(queued))).into_response())
}

/// The webhook's most recent deliveries (up to 100), newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = WebhookIdDoc, Path)),
    responses((status = 200, body = Vec<DeliveryDoc>)), security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<RestState>,
    token: Token,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeliveryDoc>>, ApiError> {
    let auth = manager(&state, &token).await?;
    let listed =
        webhooks::deliveries(&state.app.db, auth.team_id, webhook_id(&id)?, DELIVERIES_LISTED).await?;
    Ok(Json(listed.into_iter().map(DeliveryDoc::from).collect()))
}

/// What a webhook's leads change of it: its state.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChangeDoc {
    /// `paused` stops deliveries (they wait, and new events still queue nothing); `active`
    /// resumes a paused webhook or one Premortem disabled.
    #[schema(value_type = SettableStateDoc)]
    pub state: String,
}

/// Pauses or resumes a webhook; answers it as it now is.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", params(("id" = WebhookIdDoc, Path)),
    request_body = WebhookChangeDoc, responses((status = 200, body = WebhookDoc)), security(("bearer" = [])))]
pub async fn set_state(
    State(state): State<RestState>,
    token: Token,
    Path(id): Path<String>,
    body: JsonBody<WebhookChangeDoc>,
) -> Result<Json<WebhookDoc>, ApiError> {
    let auth = manager(&state, &token).await?;
    let id = webhook_id(&id)?;
    let doc = body.read().await?;
    let after = WebhookState::settable(&doc.state).map_err(|e| invalid("state", e))?;
    let hook = webhooks::set_state(&state.app.db, &auth.actor(), auth.team_id, id, after).await?;
    Ok(Json(hook.into()))
}

/// How long the secret before a rotation keeps signing.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes the query a rotation reads; never constructed")]
pub struct RotateQuery {
    /// Hours, 0 to 168; 24 when omitted. 0 stops the old secret at once (it leaked).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 168)]
    overlap_hours: Option<String>,
}

/// Gives the webhook a new signing secret, answered this once. Until `previous_secret_until`
/// every delivery carries a signature by each secret, so receivers switch at their pace.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = WebhookIdDoc, Path), RotateQuery),
    responses((status = 200, body = CreatedWebhookDoc)), security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<RestState>,
    token: Token,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<CreatedWebhookDoc>, ApiError> {
    let auth = manager(&state, &token).await?;
    let id = webhook_id(&id)?;
    // Every `overlap_hours` given must be valid; the last counts. Others are ignored.
    let mut overlap = std::time::Duration::from_secs(webhook::OVERLAP_DEFAULT_HOURS * 3600);
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name == "overlap_hours" {
            overlap = webhook::overlap(&value).map_err(|e| invalid("overlap_hours", e))?;
        }
    }
    let (hook, secret) =
        webhooks::rotate_secret(&state.app.db, &auth.actor(), auth.team_id, id, overlap).await?;
    Ok(Json(CreatedWebhookDoc { webhook: hook.into(), secret }))
}

/// Sends a delivery again from its first try (it keeps its `webhook-id`): one that was
/// delivered or failed; one still waiting is a 409.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(("id" = WebhookIdDoc, Path), ("delivery" = WebhookIdDoc, Path)),
    responses((status = 202, body = DeliveryDoc), (status = 409)), security(("bearer" = [])))]
pub async fn redeliver(
    State(state): State<RestState>,
    token: Token,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let auth = manager(&state, &token).await?;
    let (id, delivery) = (webhook_id(&id)?, DeliveryId(path_id(&delivery)?));
    let queued = webhooks::requeue(&state.app.db, &auth.actor(), auth.team_id, id, delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryDoc::from(queued))).into_response())
}
