//! The CI-facing API under `/api/v1`: plain axum, bearer tokens only (cookies never
//! authorize it, and no token can sign off). Errors answer `{"errors":[{"detail":…}]}`.

mod changes;
mod evidence;
mod incidents;
pub mod junit;
mod openapi;
mod queue;
mod webhooks;

use app::domain::AppError;
use app::domain::ids::TokenId;
use app::domain::scope::Scope;
use app::ssr::AppState;
use app::ssr::store::tokens::{self, Authenticated};
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use evidence::IngestLimits;
pub use queue::QueueLimits;

/// Everything the API handlers share.
#[derive(Clone)]
pub struct RestState {
    pub app: AppState,
    pub limits: IngestLimits,
    /// Uploads being parsed and stored at once; the others with a place wait for one.
    ingest_slots: Arc<Semaphore>,
    /// Places for uploads being received or stored (bounds their memory), and the line of
    /// uploads waiting for one.
    queue: queue::Queue,
    /// Per-token request budget (a token bucket per token id).
    rate: Arc<Mutex<HashMap<TokenId, Bucket>>>,
    rate_per_minute: u32,
    /// (token, Idempotency-Key) pairs being processed, so a concurrent duplicate gets 409.
    in_flight: Arc<Mutex<HashSet<(TokenId, String)>>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RestState {
    pub fn new(
        app: AppState,
        limits: IngestLimits,
        concurrent_ingestions: usize,
        line: (usize, std::time::Duration),
        rate_per_minute: u32,
    ) -> Self {
        let (capacity, deadline) = line;
        let places = concurrent_ingestions.max(1) * RECEIVING_PER_SLOT;
        Self {
            app,
            limits,
            ingest_slots: Arc::new(Semaphore::new(concurrent_ingestions.max(1))),
            queue: queue::Queue::new(QueueLimits { places, capacity, deadline }),
            rate: Arc::default(),
            rate_per_minute: rate_per_minute.max(1),
            in_flight: Arc::default(),
        }
    }

    /// Spends one request from the token's budget, or says how long to wait.
    fn spend(&self, token: TokenId) -> Result<(), ApiError> {
        let capacity = f64::from(self.rate_per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.rate.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let bucket = buckets.entry(token).or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil() as u64;
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests for this token; slow down.")
                .retry_after(wait.max(1)))
        }
    }
}

/// The API's documented operations, each routed by the path and method its OpenAPI
/// operation names (relative to `/api/v1`): nothing is served undocumented, nothing
/// documented goes unserved.
fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::default()
        .routes(routes!(evidence::upload))
        .routes(routes!(evidence::queue_status))
        .routes(routes!(changes::list, changes::create))
        .routes(routes!(changes::get_one, changes::edit))
        .routes(routes!(changes::gate))
        .routes(routes!(changes::happy_path))
        .routes(routes!(changes::add_failure_mode))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::delete, webhooks::set_state))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(incidents::list, incidents::record))
}

/// The `/api/v1` router: the documented operations, the badge (an image for READMEs, not
/// an API call) and the document itself.
pub fn router(state: RestState) -> axum::Router {
    let (router, _) = routes().split_for_parts();
    router
        .route("/changes/{key}/badge.svg", get(changes::badge))
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "No such API endpoint.") })
        .with_state(state)
}

/// An API error: a status, a user-safe detail and optionally when to retry.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    retry_after: Option<u64>,
}

/// The longest detail an error reply carries: messages that quote input (a parser's, say)
/// never grow with what the client sent.
const DETAIL_MAX: usize = 500;

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: app::domain::error::clip(&detail.into(), DETAIL_MAX), retry_after: None }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

/// The request's `Idempotency-Key`, if it sent one; a refusal says what is wrong with it.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let refuse = |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message);
    let Some(raw) = headers.get("idempotency-key") else { return Ok(None) };
    let raw = raw.to_str().map_err(|_| refuse("Idempotency-Key must be printable ASCII.".to_owned()))?;
    app::domain::text::idempotency_key(raw).map(Some).map_err(refuse)
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let retry_after = app::ssr::error::retry_after(&err);
        let detail = match &err {
            AppError::Invalid { field, message } => format!("{field}: {message}"),
            other => other.to_string(),
        };
        Self { retry_after, ..Self::new(app::ssr::error::status(&err), detail) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(json!({ "errors": [{ "detail": self.detail }] }))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A JSON request body, read only when the handler asks ([`JsonBody::read`]): once it has
/// decided that the caller may act, so that a caller who may not hears 401, 403 or 404
/// whatever they sent. Its refusals use the API's error shape (400 for malformed JSON with
/// its position, 422 for a body of the wrong shape, 415 without a JSON content type).
pub struct JsonBody<T> {
    request: axum::extract::Request,
    shape: std::marker::PhantomData<fn() -> T>,
}

impl<T: serde::de::DeserializeOwned> JsonBody<T> {
    /// The body, parsed.
    pub async fn read(self) -> Result<T, ApiError> {
        use axum::extract::FromRequest;
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(self.request, &()).await {
            Ok(Json(value)) => Ok(value),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Send Content-Type: application/json."))
            }
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
            }
            Err(other) => Err(ApiError::new(StatusCode::BAD_REQUEST, other.body_text())),
        }
    }
}

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(request: axum::extract::Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self { request, shape: std::marker::PhantomData })
    }
}

/// The bearer token of a request. Cookies are never looked at.
pub struct Token(pub Authenticated);

impl Token {
    /// Refuses unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<&Authenticated, ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("This token lacks the {} scope.", scope.as_str()),
            ))
        }
    }
}

impl FromRequestParts<RestState> for Token {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, Self::Rejection> {
        let unauthorized = |detail: &str| ApiError::new(StatusCode::UNAUTHORIZED, detail);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("Send an API token: Authorization: Bearer pmt_…"))?;
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .ok_or_else(|| unauthorized("Use the Bearer scheme."))?;
        let authenticated = tokens::authenticate(&state.app.db, token)
            .await?
            .ok_or_else(|| unauthorized("The token is unknown, revoked or expired."))?;
        // A personal token stops working when its owner leaves the team or is disabled.
        changes::require_active_owner(state, &authenticated, app::domain::Role::Viewer).await?;
        state.spend(authenticated.id)?;
        Ok(Token(authenticated))
    }
}

/// Marks an Idempotency-Key as being processed until dropped.
pub struct KeyClaim {
    key: Option<(TokenId, String)>,
    in_flight: Arc<Mutex<HashSet<(TokenId, String)>>>,
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&key);
        }
    }
}

/// Places per ingestion slot: a few slow senders cannot keep uploads that have arrived from
/// being stored, and the bodies in memory stay bounded.
const RECEIVING_PER_SLOT: usize = 4;

impl RestState {
    /// Claims `key` for this token: a concurrent request with the same key gets 409.
    fn claim_key(&self, token: TokenId, key: Option<&str>) -> Result<KeyClaim, ApiError> {
        let key = key.map(|k| (token, k.to_owned()));
        if let Some(key) = &key {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !in_flight.insert(key.clone()) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "A request with this Idempotency-Key is still being processed; retry when it has finished.",
                )
                .retry_after(1));
            }
        }
        Ok(KeyClaim { key, in_flight: Arc::clone(&self.in_flight) })
    }

    /// Waits for a place in the upload queue, or says when to come back.
    async fn enter_queue(&self, team: app::domain::TeamId) -> Result<queue::Place, ApiError> {
        self.queue.enter(team).await.map_err(|refusal| {
            let wait = refusal.expected_wait.as_secs_f64().ceil().max(1.0) as u64;
            let detail = if refusal.full {
                format!(
                    "The upload queue is full. This upload would have been number {} in line, \
                     with about {wait} s to wait; retry after Retry-After.",
                    refusal.position
                )
            } else {
                format!(
                    "This upload is number {} in line, with about {wait} s to wait: longer than \
                     uploads are held waiting. Retry after Retry-After.",
                    refusal.position
                )
            };
            tracing::info!(position = refusal.position, wait_s = wait, full = refusal.full, "upload refused");
            metrics::counter!("ingest_queue_refused_total").increment(1);
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail).retry_after(wait)
        })
    }

    /// An ingestion slot; the uploads with a place take them first come, first served.
    async fn ingest_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.ingest_slots)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Shutting down.").retry_after(1))
    }
}
