//! `POST /api/v1/runs`: a CI run's results as JUnit XML (plain or gzip) or JSON.
//!
//! The body is decompressed (bounded) and parsed as it arrives, and validated, before the
//! write transaction opens; the run is then stored all or nothing.

use super::junit::{self, JunitError};
use super::{ApiError, RestState, Token};
use app::domain::change::{ChangeKey, optional_url};
use app::domain::gate::Outcome;
use app::domain::run::{self, Submitted};
use app::domain::scope::Scope;
use app::domain::text::{IDEMPOTENCY_KEY_MAX, TextRule};
use app::ssr::ingest::{self, Ingested};
use app::ssr::store::evidence::RunInput;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use tokio::sync::{mpsc, oneshot};

/// Bounds on one upload.
#[derive(Clone, Copy, Debug)]
pub struct IngestLimits {
    /// Largest body as sent (compressed or not), in bytes.
    pub max_body: usize,
    /// Largest body after gzip decompression, in bytes.
    pub max_decompressed: usize,
    /// Most test cases in one run.
    pub max_cases: usize,
    /// Slowest body accepted, after `body_grace` (see [`Incoming`]).
    pub min_bytes_per_sec: u64,
    pub body_grace: std::time::Duration,
}

/// An upload's body as it arrives, read at no less than `limits.min_bytes_per_sec` once
/// the grace period is over (else 408): each next piece is due by the time the bytes so
/// far would have taken at that pace, counted from the first read (a body waiting for its
/// place in line is not late). It knows whether the client is still sending, so that a
/// refusal can be heard (see [`refuse`]).
struct Incoming {
    body: Body,
    started: Option<tokio::time::Instant>,
    received: u64,
    arrival: Arrival,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arrival {
    Sending,
    Ended,
    /// Cut off, or too slow: nothing more will be read.
    Broken,
}

impl Incoming {
    fn new(body: Body) -> Self {
        Self { body, started: None, received: 0, arrival: Arrival::Sending }
    }

    /// The next piece of the body, or `None` once it has ended.
    async fn next(&mut self, limits: &IngestLimits) -> Result<Option<Bytes>, ApiError> {
        use http_body_util::BodyExt;
        let rate = limits.min_bytes_per_sec.max(1);
        let started = *self.started.get_or_insert_with(tokio::time::Instant::now);
        while self.arrival == Arrival::Sending {
            let due = started + limits.body_grace + std::time::Duration::from_secs(self.received / rate);
            match tokio::time::timeout_at(due, self.body.frame()).await {
                Err(_) => {
                    self.arrival = Arrival::Broken;
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        format!("The upload arrived slower than {rate} bytes per second; send it again."),
                    ));
                }
                Ok(None) => self.arrival = Arrival::Ended,
                Ok(Some(Err(_))) => {
                    self.arrival = Arrival::Broken;
                    return Err(ApiError::new(StatusCode::BAD_REQUEST, "The upload was cut off."));
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.received += u64::try_from(data.len()).unwrap_or(u64::MAX);
                        return Ok(Some(data));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Hands the body to the parser piece by piece, at most `limits.max_body` bytes (else
    /// 413), until it ends or the parser stops reading (it then has an error to tell).
    async fn pump(&mut self, limits: &IngestLimits, parser: mpsc::Sender<Bytes>) -> Result<(), ApiError> {
        let max_body = u64::try_from(limits.max_body).unwrap_or(u64::MAX);
        while let Some(data) = self.next(limits).await? {
            if self.received > max_body {
                return Err(too_large(limits));
            }
            if parser.send(data).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

fn too_large(limits: &IngestLimits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The upload is larger than {}.", mib(limits.max_body)),
    )
}

/// How much of a refused body is read (and dropped) so that its sender hears the refusal,
/// as a multiple of the largest upload.
const DRAINED_PER_LIMIT: usize = 4;

/// Answers `error` so that the client hears it. A client that sends its whole body before
/// it reads (Python's `http.client`, many CI scripts) would find the connection reset
/// under it, the reply unread, if the server stopped reading halfway; so whatever is left
/// of a body still being sent, up to four times the largest upload, is read and dropped
/// first, at the minimum pace, and the connection is then closed. A client that waits for
/// `100 Continue` and has not been asked for its body has sent nothing and is answered at
/// once.
async fn refuse(
    incoming: &mut Incoming,
    headers: &HeaderMap,
    limits: &IngestLimits,
    error: ApiError,
) -> Response {
    let mut response = error.into_response();
    if incoming.arrival == Arrival::Ended {
        return response;
    }
    let declared = declared_length(headers);
    let waits_for_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let cap = u64::try_from(limits.max_body.saturating_mul(DRAINED_PER_LIMIT)).unwrap_or(u64::MAX);
    let asked_for_body = incoming.started.is_some();
    if (asked_for_body || !waits_for_continue) && declared.is_none_or(|len| len <= cap) {
        while incoming.received <= cap && matches!(incoming.next(limits).await, Ok(Some(_))) {}
    }
    response.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    response
}

/// A commit's SHA, in the query: one line of up to 100 characters.
pub const COMMIT: TextRule = TextRule::optional_line(100);
/// A branch or the CI system's run id, in the query: one line of up to 200 characters.
pub const RUN_LINE: TextRule = TextRule::optional_line(200);
/// The `Idempotency-Key`s the API takes ([`app::domain::text::idempotency_key`]), as a regular expression: 1 to
/// [`IDEMPOTENCY_KEY_MAX`] printable ASCII characters once spaces and tabs around are dropped.
pub fn idempotency_key_pattern() -> String {
    format!(r"^[\t ]*[!-~](?:[\t -~]{{0,{}}}[!-~])?[\t ]*$", IDEMPOTENCY_KEY_MAX - 2)
}

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
    #[schema(value_type = crate::rest::openapi::TestIdDoc)]
    pub test_id: String,
    /// `passed`, `failed`, `skipped` or `error`.
    #[schema(value_type = crate::rest::openapi::OutcomeDoc)]
    pub outcome: String,
    /// How long it ran, in milliseconds (a fraction is rounded; a negative one is dropped).
    pub duration_ms: Option<f64>,
    pub message: Option<String>,
    /// Binds the result to a failure mode directly: `PAY-12/FM-3`.
    #[schema(value_type = Option<crate::rest::openapi::BindingDoc>)]
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
        let bounded = |rule: TextRule| match rule.check(&value) {
            Ok(value) => Ok(Some(value.to_owned()).filter(|v| !v.is_empty())),
            Err(_) => Err(invalid(format!("{name} must be at most {} characters on one line.", rule.max))),
        };
        match name.as_ref() {
            "commit" => run.commit = bounded(COMMIT)?,
            "branch" => run.branch = bounded(RUN_LINE)?,
            "run_key" => run.run_key = bounded(RUN_LINE)?,
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

/// How the body is encoded on the wire.
#[derive(Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    match encoding.trim() {
        "identity" | "" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Encoding {:?} is not supported; send gzip or nothing.",
                app::domain::error::bounded(other)
            ),
        )),
    }
}

#[derive(Clone, Copy)]
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

/// Pieces of the body in flight between the connection and the parser.
const PIECES_IN_FLIGHT: usize = 16;

/// An upload's results, read and checked, with the warnings to tell and the hash that an
/// Idempotency-Key is bound to.
struct Parsed {
    results: Vec<Submitted>,
    warnings: Vec<String>,
    hash: String,
}

/// Parses the body as it arrives, on a blocking thread, so that what an upload holds in
/// memory is what the parse has read, never the body itself. `salt` (the query and
/// content type) goes into the hash before the body.
///
/// The results are to be sent back through the returned sender once stored: the thread
/// that allocated them frees them. Freed on a worker instead, their memory went back to
/// the system only when the parsing thread next ran, and after a burst it stayed.
async fn receive_and_parse(
    incoming: &mut Incoming,
    limits: &IngestLimits,
    format: Format,
    encoding: Encoding,
    salt: Vec<u8>,
) -> Result<(Parsed, oneshot::Sender<Vec<Submitted>>), ApiError> {
    let (to_parser, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
    let (parsed_tx, parsed_rx) = oneshot::channel();
    let (home, back_home) = oneshot::channel::<Vec<Submitted>>();
    let parser_limits = *limits;
    tokio::task::spawn_blocking(move || {
        let pieces = Pieces { from: pieces, current: Bytes::new() };
        if parsed_tx.send(parse_stream(pieces, encoding, format, &parser_limits, &salt)).is_ok() {
            drop(back_home.blocking_recv());
        }
    });
    let pumped = incoming.pump(limits, to_parser).await;
    let parsed =
        parsed_rx.await.map_err(|e| ApiError::from(app::ssr::error::internal("parsing task failed", &e)))?;
    // What went wrong with the body itself (too large, too slow) is what the client is told.
    pumped?;
    Ok((parsed?, home))
}

/// The body as the parser pulls it: the pieces from the connection, in order, until the
/// connection's side is dropped (the body has ended, or was refused).
struct Pieces {
    from: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.from.blocking_recv() {
                Some(piece) => self.current = piece,
                None => return Ok(0),
            }
        }
        let n = self.current.len().min(out.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// The body as the parser reads it, decoded: counted against `limit`, hashed (for the
/// Idempotency-Key) and checked to be UTF-8 as it passes. What is wrong below the parser
/// is kept in `fault`, so that the reply names it rather than the parser's view of it.
struct Decoded<R> {
    inner: R,
    limit: u64,
    total: u64,
    hasher: Sha256,
    /// The start of a character the last read cut in two.
    partial: Vec<u8>,
    fault: Option<ApiError>,
}

impl<R: Read> Decoded<R> {
    fn fail(&mut self, error: ApiError) -> std::io::Error {
        self.fault.get_or_insert(error);
        std::io::Error::other("refused")
    }

    /// Checks that `data`, read at byte `offset`, continues valid UTF-8; else the offset
    /// of the first character that is not.
    fn check_utf8(&mut self, data: &[u8], offset: u64) -> Result<(), u64> {
        let mut rest = data;
        while !self.partial.is_empty() {
            let Some((byte, tail)) = rest.split_first() else { return Ok(()) };
            self.partial.push(*byte);
            rest = tail;
            match std::str::from_utf8(&self.partial) {
                Ok(_) => self.partial.clear(),
                Err(e) if e.error_len().is_some() => {
                    return Err(offset + (data.len() - rest.len()) as u64 - self.partial.len() as u64);
                }
                Err(_) => {}
            }
        }
        let start = offset + (data.len() - rest.len()) as u64;
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                self.partial = rest[e.valid_up_to()..].to_vec();
                Ok(())
            }
            Err(e) => Err(start + e.valid_up_to() as u64),
        }
    }
}

fn not_utf8(at: u64) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("The body is not valid UTF-8 (at byte {at})."))
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(out) {
            Ok(n) => n,
            Err(e) => {
                let error =
                    ApiError::new(StatusCode::BAD_REQUEST, format!("The body is not valid gzip: {e}."));
                return Err(self.fail(error));
            }
        };
        let offset = self.total;
        self.total += n as u64;
        if self.total > self.limit {
            let error = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The upload is larger than {} once decompressed.", mib(self.limit as usize)),
            );
            return Err(self.fail(error));
        }
        if n == 0 && !self.partial.is_empty() {
            let at = offset - self.partial.len() as u64;
            return Err(self.fail(not_utf8(at)));
        }
        self.hasher.update(&out[..n]);
        if let Err(at) = self.check_utf8(&out[..n], offset) {
            return Err(self.fail(not_utf8(at)));
        }
        Ok(n)
    }
}

/// Decodes, parses and checks the body as `pieces` brings it.
fn parse_stream(
    pieces: Pieces,
    encoding: Encoding,
    format: Format,
    limits: &IngestLimits,
    salt: &[u8],
) -> Result<Parsed, ApiError> {
    let (inner, limit): (Box<dyn Read>, u64) = match encoding {
        Encoding::Identity => (Box::new(pieces), u64::MAX),
        Encoding::Gzip => (
            Box::new(flate2::read::GzDecoder::new(pieces)),
            u64::try_from(limits.max_decompressed).unwrap_or(u64::MAX),
        ),
    };
    let mut hasher = Sha256::new();
    hasher.update(salt);
    let mut body = Decoded { inner, limit, total: 0, hasher, partial: Vec::new(), fault: None };
    let parsed = parse(&mut body, format, limits).and_then(|results| {
        // The hash covers the whole body, past what the parser needed.
        std::io::copy(&mut body, &mut std::io::sink())
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "The upload was cut off."))?;
        Ok(results)
    });
    if let Some(fault) = body.fault.take() {
        return Err(fault);
    }
    let run =
        run::counted(parsed?).map_err(|detail| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail))?;
    Ok(Parsed { results: run.results, warnings: run.warnings, hash: hex::encode(body.hasher.finalize()) })
}

fn parse(body: impl Read, format: Format, limits: &IngestLimits) -> Result<Vec<Submitted>, ApiError> {
    match format {
        Format::Junit => junit::parse(body, junit::Limits { max_cases: limits.max_cases, max_depth: 64 })
            .map_err(|e| match e {
                JunitError::TooManyCases(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
                JunitError::Malformed { .. } => ApiError::new(StatusCode::BAD_REQUEST, e.to_string()),
            }),
        Format::Json => {
            let run: JsonRun = serde_json::from_reader(std::io::BufReader::new(body)).map_err(|e| {
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
                        duration_ms: r
                            .duration_ms
                            .filter(|d| d.is_finite() && *d >= 0.0)
                            .map(|d| d.round() as i64),
                        message: r.message,
                        failure_mode: r.failure_mode,
                    })
                })
                .collect()
        }
    }
}

/// Uploads a test run.
#[utoipa::path(
    post,
    path = "/runs",
    tag = "evidence",
    params(
        ("commit" = Option<crate::rest::openapi::CommitDoc>, Query, description = "Commit SHA"),
        ("branch" = Option<crate::rest::openapi::RunLineDoc>, Query, description = "Branch"),
        ("pipeline_url" = Option<crate::rest::openapi::LinkDoc>, Query, description = "Link to the CI pipeline"),
        ("run_key" = Option<crate::rest::openapi::RunLineDoc>, Query, description = "The CI system's id for the run"),
        ("change" = Option<Vec<crate::rest::openapi::ChangeKeyDoc>>, Query, description = "Change keys this run is for (repeatable)"),
        ("Idempotency-Key" = Option<crate::rest::openapi::IdempotencyKeyDoc>, Header,
            description = "Retries with the same key and body get the same reply"),
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
    token: Result<Token, ApiError>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut incoming = Incoming::new(body);
    match accept(&state, token, query, &headers, &mut incoming).await {
        Ok(response) => response,
        Err(error) => refuse(&mut incoming, &headers, &state.limits, error).await,
    }
}

/// Checks, queues, parses and stores an upload; a refusal is answered by [`refuse`].
async fn accept(
    state: &RestState,
    token: Result<Token, ApiError>,
    query: Option<String>,
    headers: &HeaderMap,
    incoming: &mut Incoming,
) -> Result<Response, ApiError> {
    let token = token?;
    let auth = token.require(Scope::EvidenceWrite)?;
    let key = super::idempotency_key(headers)?;
    let limits = state.limits;
    let format = format(headers)?;
    let encoding = encoding(headers)?;
    let meta = metadata(query.as_deref())?;
    // The declared size is checked before anything waits: an over-large upload is told at once.
    let declared = declared_length(headers);
    if declared.is_some_and(|len| len > u64::try_from(limits.max_body).unwrap_or(u64::MAX)) {
        return Err(too_large(&limits));
    }
    let _claim = state.claim_key(auth.id, key)?;
    // Wait for a place, then receive and parse the body; that happens before an ingestion
    // slot is taken, so slots go to uploads that have arrived.
    let place = state.enter_queue(auth.team_id).await?;
    metrics::histogram!("ingest_queue_wait_seconds").record(place.waited.as_secs_f64());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut salt = Vec::new();
    for part in [query.as_deref().unwrap_or_default(), content_type] {
        salt.extend_from_slice(part.as_bytes());
        salt.push(0);
    }
    let (Parsed { results, mut warnings, hash }, home) =
        receive_and_parse(incoming, &limits, format, encoding, salt).await?;
    let _slot = state.ingest_slot().await?;
    if results.is_empty() {
        warnings.push("the report has no test cases".to_owned());
    }
    for change in &meta.changes {
        if change.team() != auth.team_slug {
            warnings.push(format!("change {change} belongs to another team; ignored"));
        }
    }
    let idempotency = key.map(|k| (k, hash.as_str()));
    let stored = ingest::ingest(&state.app.db, auth, idempotency, &meta.run, &results, warnings).await;
    let _ = home.send(results);
    match stored? {
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
    path = "/runs/queue",
    tag = "evidence",
    responses((status = 200, description = "The upload queue now", body = super::queue::Status)),
    security(("bearer" = []))
)]
pub async fn queue_status(State(state): State<RestState>, token: Token) -> Result<Response, ApiError> {
    let auth = token.require(Scope::EvidenceWrite)?;
    Ok(Json(state.queue.status(auth.team_id)).into_response())
}

/// The body size the client declared (`Content-Length`), when it declared one that parses.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole of `bytes` read through [`Decoded`] in pieces of `size`.
    fn decode_in_pieces(bytes: &[u8], size: usize, limit: u64) -> (Result<Vec<u8>, ApiError>, String) {
        let mut body = Decoded {
            inner: bytes,
            limit,
            total: 0,
            hasher: Sha256::new(),
            partial: Vec::new(),
            fault: None,
        };
        let mut out = Vec::new();
        let mut piece = vec![0; size];
        let read = loop {
            match body.read(&mut piece) {
                Ok(0) => break Ok(out),
                Ok(n) => out.extend_from_slice(&piece[..n]),
                Err(_) => break Err(body.fault.take().expect("a fault is kept")),
            }
        };
        (read, hex::encode(body.hasher.finalize()))
    }

    #[test]
    fn utf8_is_checked_across_pieces_and_a_bad_byte_is_placed_where_it_is() {
        let text = "passé — 测试 🦀 done".repeat(3);
        for size in 1..=7 {
            let (read, hash) = decode_in_pieces(text.as_bytes(), size, u64::MAX);
            assert_eq!(read.expect("valid UTF-8"), text.as_bytes(), "pieces of {size}");
            assert_eq!(hash, hex::encode(Sha256::digest(text.as_bytes())), "the hash is the body's");
        }
        for cut in [5, 6, 7, text.len() - 2] {
            let mut bad = text.as_bytes().to_vec();
            bad.insert(cut, 0xff);
            let expected = std::str::from_utf8(&bad).expect_err("invalid").valid_up_to();
            for size in [1, 2, 3, 64] {
                let error = decode_in_pieces(&bad, size, u64::MAX).0.expect_err("refused");
                assert_eq!(error.status(), StatusCode::BAD_REQUEST);
                assert!(
                    error.detail.contains(&format!("at byte {expected}")),
                    "{} (pieces of {size})",
                    error.detail
                );
            }
        }
        // A body cut inside a character is refused at the character's start.
        let cut = &text.as_bytes()[..text.find('🦀').expect("crab") + 2];
        let error = decode_in_pieces(cut, 3, u64::MAX).0.expect_err("refused");
        assert!(error.detail.contains(&format!("at byte {}", cut.len() - 2)), "{}", error.detail);
    }

    #[test]
    fn a_decoded_body_past_its_limit_is_refused_as_too_large() {
        let error = decode_in_pieces(&[b'a'; 100], 7, 99).0.expect_err("refused");
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(decode_in_pieces(&[b'a'; 99], 7, 99).0.is_ok());
    }
}
