//! `POST /api/v1/runs`: a CI run's results as JUnit XML (plain or gzip) or JSON.
//!
//! Everything is read, decompressed (bounded), parsed and validated before the write
//! transaction opens; the run is then stored all or nothing.

use super::junit::{self, JunitError};
use super::{ApiError, RestState, Token};
use app::domain::change::{ChangeKey, optional_url};
use app::domain::gate::Outcome;
use app::domain::scope::Scope;
use app::ssr::ingest::{self, Ingested, Submitted};
use app::ssr::store::evidence::RunInput;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Read;

/// Bounds on one upload.
#[derive(Clone, Copy, Debug)]
pub struct IngestLimits {
    /// Largest body as sent (compressed or not), in bytes.
    pub max_body: usize,
    /// Largest body after gzip decompression, in bytes.
    pub max_decompressed: usize,
    /// Most test cases in one run.
    pub max_cases: usize,
    /// Slowest body accepted, after `body_grace` (see [`receive`]).
    pub min_bytes_per_sec: u64,
    pub body_grace: std::time::Duration,
}

/// Reads an upload's body, at most `limits.max_body` bytes (else 413), at no less than
/// `limits.min_bytes_per_sec` once the grace period is over (else 408): each next piece is
/// due by the time the bytes so far would have taken at that pace. A client trickling a
/// body holds only its own connection and its place, never an ingestion slot.
async fn receive(body: &mut Body, limits: &IngestLimits) -> Result<Vec<u8>, ApiError> {
    let mut received = Vec::new();
    let ended = read_paced(body, limits, |data| {
        if received.len() + data.len() > limits.max_body {
            return false;
        }
        received.extend_from_slice(data);
        true
    })
    .await?;
    if ended { Ok(received) } else { Err(too_large(limits)) }
}

/// Reads `body` at the minimum pace, handing each piece to `take` until it returns false
/// (then `Ok(false)`) or the body ends (`Ok(true)`).
async fn read_paced(
    body: &mut Body,
    limits: &IngestLimits,
    mut take: impl FnMut(&[u8]) -> bool,
) -> Result<bool, ApiError> {
    use http_body_util::BodyExt;
    let started = tokio::time::Instant::now();
    let rate = limits.min_bytes_per_sec.max(1);
    let mut received: u64 = 0;
    loop {
        let due = started + limits.body_grace + std::time::Duration::from_secs(received / rate);
        let frame = match tokio::time::timeout_at(due, body.frame()).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("The upload arrived slower than {rate} bytes per second; send it again."),
                ));
            }
            Ok(None) => return Ok(true),
            Ok(Some(Err(_))) => {
                return Err(ApiError::new(StatusCode::BAD_REQUEST, "The upload was cut off."));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            received += u64::try_from(data.len()).unwrap_or(u64::MAX);
            if !take(&data) {
                return Ok(false);
            }
        }
    }
}

fn too_large(limits: &IngestLimits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The upload is larger than {}.", mib(limits.max_body)),
    )
}

/// How much of an over-large body is read (and dropped) so that its sender hears the 413,
/// as a multiple of the largest upload.
const DRAINED_PER_LIMIT: usize = 4;

/// Answers `error` (a 413) so that the client hears it and closes the connection. A client
/// that sends its whole body before it reads (Python's `http.client`, many CI scripts)
/// would find the connection reset under it, the reply unread, if the server stopped
/// reading; so the rest of the body, up to four times the limit, is read and dropped
/// first, at the minimum pace. A client that waits for `100 Continue` has sent nothing
/// and is answered at once.
async fn refuse_after_draining(
    mut body: Body,
    headers: &HeaderMap,
    limits: &IngestLimits,
    error: ApiError,
) -> Response {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let waits_for_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let cap = limits.max_body.saturating_mul(DRAINED_PER_LIMIT);
    if !waits_for_continue && declared.is_none_or(|len| len <= cap) {
        let mut drained = 0_usize;
        let _ = read_paced(&mut body, limits, |data| {
            drained += data.len();
            drained <= cap
        })
        .await;
    }
    let mut response = error.into_response();
    response.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    response
}

const MAX_TEST_ID: usize = 1000;
const MAX_MESSAGE: usize = 2000;

fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// The JSON upload format.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonRun {
    pub results: Vec<JsonResult>,
}

/// One result in the JSON upload format.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonResult {
    /// The test's id, e.g. `queue::backlog_drains`.
    pub test_id: String,
    /// `passed`, `failed`, `skipped` or `error`.
    pub outcome: String,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
    /// Binds the result to a failure mode directly: `PAY-12/FM-3`.
    pub failure_mode: Option<String>,
}

struct Metadata {
    run: RunInput,
    changes: Vec<ChangeKey>,
}

fn metadata(query: Option<&str>) -> Result<Metadata, ApiError> {
    let mut run = RunInput::default();
    let mut changes = Vec::new();
    let invalid = |detail: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.trim().to_owned();
        let bounded = |max: usize| {
            if value.chars().count() > max || value.chars().any(char::is_control) {
                Err(invalid(format!("{name} must be at most {max} characters on one line.")))
            } else {
                Ok(Some(value.clone()).filter(|v| !v.is_empty()))
            }
        };
        match name.as_ref() {
            "commit" => run.commit = bounded(100)?,
            "branch" => run.branch = bounded(200)?,
            "run_key" => run.run_key = bounded(200)?,
            "pipeline_url" => {
                run.pipeline_url = optional_url("pipeline_url", &value).map_err(|_| {
                    invalid(
                        "pipeline_url must be an http:// or https:// address of at most 2000 characters."
                            .into(),
                    )
                })?;
            }
            "change" => changes.push(ChangeKey::parse(&value).map_err(|_| {
                invalid(format!(
                    "change {:?} is not a change key like PAY-12.",
                    app::domain::error::bounded(&value)
                ))
            })?),
            other => {
                return Err(invalid(format!(
                    "Unknown query parameter {:?}.",
                    app::domain::error::bounded(other)
                )));
            }
        }
    }
    Ok(Metadata { run, changes })
}

fn read_body(bytes: &[u8], headers: &HeaderMap, limits: &IngestLimits) -> Result<Vec<u8>, ApiError> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    match encoding.trim() {
        "identity" | "" => Ok(bytes.to_vec()),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            let limit = u64::try_from(limits.max_decompressed).unwrap_or(u64::MAX);
            flate2::read::GzDecoder::new(bytes).take(limit + 1).read_to_end(&mut out).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("The body is not valid gzip: {e}."))
            })?;
            if out.len() > limits.max_decompressed {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The upload is larger than {} once decompressed.", mib(limits.max_decompressed)),
                ));
            }
            Ok(out)
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Encoding {:?} is not supported; send gzip or nothing.",
                app::domain::error::bounded(other)
            ),
        )),
    }
}

enum Format {
    Junit,
    Json,
}

fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/xml" | "text/xml" | "application/junit+xml" => Ok(Format::Junit),
        "application/json" => Ok(Format::Json),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/xml (JUnit XML) or application/json.",
        )),
    }
}

fn parse(text: &str, format: Format, limits: &IngestLimits) -> Result<Vec<Submitted>, ApiError> {
    match format {
        Format::Junit => {
            let cases = junit::parse(text, junit::Limits { max_cases: limits.max_cases, max_depth: 64 })
                .map_err(|e| match e {
                    JunitError::TooManyCases(_) => {
                        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
                    }
                    JunitError::Malformed { .. } => ApiError::new(StatusCode::BAD_REQUEST, e.to_string()),
                })?;
            Ok(cases
                .into_iter()
                .map(|c| Submitted {
                    test_id: c.test_id,
                    outcome: c.outcome,
                    duration_ms: c.duration_ms,
                    message: c.message,
                    failure_mode: c.failure_mode,
                })
                .collect())
        }
        Format::Json => {
            let run: JsonRun = serde_json::from_str(text).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Malformed JSON at line {}, column {}: {e}", e.line(), e.column()),
                )
            })?;
            if run.results.len() > limits.max_cases {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the report has more than {} test cases", limits.max_cases),
                ));
            }
            run.results
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let outcome = Outcome::parse(&r.outcome).ok_or_else(|| {
                        ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!("results[{i}].outcome must be passed, failed, skipped or error."),
                        )
                    })?;
                    Ok(Submitted {
                        test_id: r.test_id,
                        outcome,
                        duration_ms: r.duration_ms.filter(|d| *d >= 0),
                        message: r.message,
                        failure_mode: r.failure_mode,
                    })
                })
                .collect()
        }
    }
}

/// Checks field lengths, truncates long messages and drops duplicate test ids (the last
/// result of each counts), reporting what it changed.
fn validate(mut results: Vec<Submitted>, warnings: &mut Vec<String>) -> Result<Vec<Submitted>, ApiError> {
    let mut truncated = 0;
    for (i, r) in results.iter_mut().enumerate() {
        r.test_id = r.test_id.trim().to_owned();
        let len = r.test_id.chars().count();
        if len == 0 || len > MAX_TEST_ID {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Test case {} has an id of {len} characters; ids must be 1 to {MAX_TEST_ID}.", i + 1),
            ));
        }
        if let Some(message) = &mut r.message
            && message.chars().count() > MAX_MESSAGE
        {
            *message = message.chars().take(MAX_MESSAGE).collect();
            truncated += 1;
        }
        if r.failure_mode.as_ref().is_some_and(|f| f.len() > 100) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Test case {} binds an invalid failure mode.", i + 1),
            ));
        }
    }
    if truncated > 0 {
        warnings.push(format!("{truncated} message(s) longer than {MAX_MESSAGE} characters were truncated"));
    }
    // A test id reported more than once (merged matrix reports) counts with its worst
    // outcome, so a failure on one platform is never hidden by a pass on another.
    let rank = |o: Outcome| match o {
        Outcome::Error => 3,
        Outcome::Failed => 2,
        Outcome::Passed => 1,
        Outcome::Skipped => 0,
    };
    let mut worst: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, r) in results.iter().enumerate() {
        let keep = worst.get(&r.test_id).is_none_or(|&j| rank(r.outcome) >= rank(results[j].outcome));
        if keep {
            worst.insert(r.test_id.clone(), i);
        }
    }
    let duplicates = results.len() - worst.len();
    if duplicates > 0 {
        warnings.push(format!("{duplicates} duplicate test id(s); each counts with its worst outcome"));
        let keep: std::collections::HashSet<usize> = worst.into_values().collect();
        results = results.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, r)| r).collect();
    }
    Ok(results)
}

/// Uploads a test run.
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "evidence",
    params(
        ("commit" = Option<String>, Query, description = "Commit SHA"),
        ("branch" = Option<String>, Query, description = "Branch"),
        ("pipeline_url" = Option<String>, Query, description = "Link to the CI pipeline"),
        ("run_key" = Option<String>, Query, description = "The CI system's id for the run"),
        ("change" = Option<Vec<String>>, Query, description = "Change keys this run is for (repeatable)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the same reply"),
    ),
    request_body(content = JsonRun, description = "JUnit XML (application/xml, optionally Content-Encoding: gzip) or JSON"),
    responses(
        (status = 201, description = "Stored", body = crate::rest::openapi::ReceiptDoc),
        (status = 400, description = "Malformed body (with line and column)"),
        (status = 409, description = "The same Idempotency-Key is being processed"),
        (status = 413, description = "Over a size or case limit"),
        (status = 422, description = "Invalid metadata or fields, or a reused Idempotency-Key"),
        (status = 429, description = "Rate limit; see Retry-After"),
        (status = 503, description = "The upload queue is full, or the wait for a place would be too long; see Retry-After"),
    ),
    security(("bearer" = []))
)]
pub async fn upload(
    State(state): State<RestState>,
    token: Token,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let auth = token.require(Scope::EvidenceWrite)?.clone();
    let key =
        headers.get("idempotency-key").map(|v| v.to_str().map(str::trim)).transpose().map_err(|_| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Idempotency-Key must be printable ASCII.")
        })?;
    if key.is_some_and(|k| k.is_empty() || k.len() > 200) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key must be 1 to 200 characters.",
        ));
    }
    let limits = state.limits;
    let format = format(&headers)?;
    let meta = metadata(query.as_deref())?;
    let mut body = body;
    // The declared size is checked before anything waits: an over-large upload is told at once.
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > u64::try_from(limits.max_body).unwrap_or(u64::MAX)) {
        return Ok(refuse_after_draining(body, &headers, &limits, too_large(&limits)).await);
    }
    let _claim = state.claim_key(auth.id, key)?;
    // Wait for a place, then receive the body; the body is read before an ingestion slot
    // is taken, so slots go to uploads that have arrived.
    let place = state.enter_queue(auth.team_id).await?;
    metrics::histogram!("ingest_queue_wait_seconds").record(place.waited.as_secs_f64());
    let raw = match receive(&mut body, &limits).await {
        Ok(raw) => raw,
        Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            drop(place);
            return Ok(refuse_after_draining(body, &headers, &limits, error).await);
        }
        Err(error) => return Err(error),
    };
    let _slot = state.ingest_slot().await?;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let query_text = query.unwrap_or_default();
    let body_headers = headers.clone();
    let parsed =
        tokio::task::spawn_blocking(move || -> Result<(Vec<Submitted>, Vec<String>, String), ApiError> {
            let body = read_body(&raw, &body_headers, &limits)?;
            let text = std::str::from_utf8(&body).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("The body is not valid UTF-8 (at byte {}).", e.valid_up_to()),
                )
            })?;
            let mut warnings = Vec::new();
            let results = validate(parse(text, format, &limits)?, &mut warnings)?;
            let mut hasher = Sha256::new();
            hasher.update(query_text.as_bytes());
            hasher.update([0]);
            hasher.update(content_type.as_bytes());
            hasher.update([0]);
            hasher.update(&body);
            Ok((results, warnings, hex::encode(hasher.finalize())))
        })
        .await
        .map_err(|e| ApiError::from(app::ssr::error::internal("parsing task failed", &e)))??;
    let (results, mut warnings, hash) = parsed;
    if results.is_empty() {
        warnings.push("the report has no test cases".to_owned());
    }
    for change in &meta.changes {
        if change.team() != auth.team_slug {
            warnings.push(format!("change {change} belongs to another team; ignored"));
        }
    }
    let idempotency = key.map(|k| (k, hash.as_str()));
    match ingest::ingest(&state.app.db, &auth, idempotency, &meta.run, &results, warnings).await? {
        Ingested::Stored(receipt) => Ok((StatusCode::CREATED, Json(receipt)).into_response()),
        Ingested::Replayed(reply) => Ok((
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::HeaderName::from_static("idempotent-replayed"), "true"),
            ],
            reply,
        )
            .into_response()),
    }
}

/// Where a new upload from this token's team would stand in the upload queue.
#[utoipa::path(
    get,
    path = "/api/v1/runs/queue",
    tag = "evidence",
    responses((status = 200, description = "The upload queue now", body = super::queue::Status)),
    security(("bearer" = []))
)]
pub async fn queue_status(State(state): State<RestState>, token: Token) -> Result<Response, ApiError> {
    let auth = token.require(Scope::EvidenceWrite)?;
    Ok(Json(state.queue.status(auth.team_id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, outcome: Outcome) -> Submitted {
        Submitted { test_id: id.into(), outcome, duration_ms: None, message: None, failure_mode: None }
    }

    #[test]
    fn a_repeated_test_id_counts_with_its_worst_outcome() {
        let mut warnings = Vec::new();
        let results = vec![
            result("queue::a", Outcome::Failed),
            result("queue::a", Outcome::Passed),
            result("queue::b", Outcome::Skipped),
            result("queue::b", Outcome::Passed),
        ];
        let kept = validate(results, &mut warnings).expect("valid");
        let outcomes: Vec<(&str, Outcome)> = kept.iter().map(|r| (r.test_id.as_str(), r.outcome)).collect();
        assert_eq!(outcomes, [("queue::a", Outcome::Failed), ("queue::b", Outcome::Passed)]);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn over_long_ids_are_refused_and_long_messages_truncated() {
        let mut warnings = Vec::new();
        assert!(validate(vec![result(&"x".repeat(1001), Outcome::Passed)], &mut warnings).is_err());
        let mut long = result("queue::a", Outcome::Failed);
        long.message = Some("m".repeat(5000));
        let kept = validate(vec![long], &mut warnings).expect("valid");
        assert_eq!(kept[0].message.as_ref().map(|m| m.chars().count()), Some(MAX_MESSAGE));
        assert!(warnings[0].contains("truncated"));
    }
}
