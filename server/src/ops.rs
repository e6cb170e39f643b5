//! Operational endpoints and middleware: health, readiness, metrics, cross-site request
//! refusal and logging setup.

use crate::config::LogFormat;
use app::ssr::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Liveness: the process is up and serving.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers a new connection and a pooled one within a second, and
/// takes writes (checked by a write after a disk fault). Never ready while it is away.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let unready = |why: &'static str| {
        (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, HeaderValue::from_static("5"))], why)
            .into_response()
    };
    // A fresh connection, not only a pooled one: the pool's connections may outlive the
    // server's accepting new ones (a shutdown in progress), and the pool waits out its
    // acquire timeout for a refused one.
    let answers = state.db.recheck(BACK_PATIENCE).await == app::ssr::db::Reach::Answers;
    let pinged = answers && tokio::time::timeout(BACK_PATIENCE, state.db.ping()).await.unwrap_or(false);
    if !pinged {
        unready("database unavailable")
    } else if !state.db.writable().await {
        unready("database unwritable")
    } else {
        "ready".into_response()
    }
}

/// Leptos renders a page in tasks it spawns. Spawned plainly, as by default, their log
/// lines lose the request's span, and with it the request id. This executor spawns each
/// task inside the span current where it was spawned.
struct InSpan;

impl any_spawner::CustomExecutor for InSpan {
    fn spawn(&self, fut: any_spawner::PinnedFuture<()>) {
        use tracing::Instrument;
        tokio::spawn(fut.in_current_span());
    }

    fn spawn_local(&self, fut: any_spawner::PinnedLocalFuture<()>) {
        use tracing::Instrument;
        tokio::task::spawn_local(fut.in_current_span());
    }

    fn poll_local(&self) {}
}

/// Makes every task Leptos spawns log within its request's span. Once per process; later
/// calls (a second app in one process) change nothing.
pub fn spawn_tasks_in_request_spans() {
    let _ = any_spawner::Executor::init_custom_executor(InSpan);
}

/// How long a request waits to learn whether an unreachable database is back.
const BACK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Fails requests fast while the database is unreachable (PostgreSQL stopped, the network
/// gone): 503 with `Retry-After` at once, instead of every query waiting out the pool's
/// acquire timeout, so pages do not hang and nothing piles up. A request already running when
/// the database goes is answered the same way as soon as that is known (`Db::lost`: within a
/// second). One request at a time checks whether the database is back; once it is, requests
/// go through again, with no restart.
pub async fn fail_fast_while_database_away(
    State(db): State<app::ssr::db::Db>,
    req: Request,
    next: Next,
) -> Response {
    use tracing::Instrument;
    let asked = Asked::of(&req);
    if !db.back(BACK_PATIENCE).await {
        return database_away(asked);
    }
    // The request runs in a task of its own, to its end, whether it is answered by its own
    // response or by the refusal, and whether its client waits or leaves: a page dropped
    // halfway can leave a render task to drop the page's reactive owner inside its own
    // lookup of a context, which deadlocks the worker thread for good (reactive_graph
    // 0.2.16). What it does once refused is answered to no one and, with the database gone,
    // commits nothing.
    let mut request = tokio::spawn(next.run(req).in_current_span());
    // The request's own answer first, when both are ready: it says what happened.
    tokio::select! {
        biased;
        done = &mut request => done.unwrap_or_else(|err| {
            let err = app::ssr::error::internal("request task failed", &err);
            (app::ssr::error::status(&err), err.to_string()).into_response()
        }),
        () = db.lost() => database_away(asked),
    }
}

/// What a request asked for, as far as the shape of a refusal goes.
#[derive(Clone, Copy)]
enum Asked {
    /// The CI API (`/api/v1/`): its error envelope.
    Api,
    /// A server function called for data: its error, as the function would answer it.
    ServerFn,
    /// A page, or a plain form's post: a page.
    Html,
    /// Anything else: text.
    Text,
}

impl Asked {
    fn of(req: &Request) -> Self {
        let wants_html = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        // The CI API is nested: its requests carry the address as sent beside the nested one.
        let uri =
            req.extensions().get::<axum::extract::OriginalUri>().map_or(req.uri(), |original| &original.0);
        match uri.path() {
            path if path.starts_with("/api/v1/") => Self::Api,
            _ if wants_html => Self::Html,
            path if path.starts_with("/api/") => Self::ServerFn,
            _ => Self::Text,
        }
    }
}

/// The 503 a request gets while the database is away, in the shape it asked for.
fn database_away(asked: Asked) -> Response {
    let retry = [(header::RETRY_AFTER, HeaderValue::from_static("2"))];
    let detail = "Premortem is temporarily unavailable: its database cannot be reached. Nothing was \
                  changed; retry in a few seconds.";
    let status = StatusCode::SERVICE_UNAVAILABLE;
    match asked {
        Asked::Api => (status, retry, axum::Json(serde_json::json!({ "errors": [{ "detail": detail }] })))
            .into_response(),
        Asked::ServerFn => (status, retry, axum::Json(app::domain::AppError::Unavailable)).into_response(),
        Asked::Html => {
            let page = format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Temporarily unavailable · \
                 Premortem</title></head><body><main><h1>Temporarily unavailable</h1><p>{detail}</p></main></body></html>"
            );
            (status, retry, axum::response::Html(page)).into_response()
        }
        Asked::Text => (status, retry, detail).into_response(),
    }
}

/// The process-wide Prometheus recorder (installed once, shared by every router).
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; metrics then go there.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Metrics in the Prometheus text format.
pub async fn metrics_endpoint() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render()).into_response()
}

/// Counts requests and their latency by method and status class.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    prometheus();
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Refuses state-changing requests that a browser marks as coming from another site,
/// by `Sec-Fetch-Site` or by an `Origin` that is not this server's.
pub async fn refuse_cross_site(
    State(public_origin): State<Option<String>>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || is_same_site(req.headers(), public_origin.as_deref())
    {
        next.run(req).await
    } else {
        tracing::warn!(method = %req.method(), path = req.uri().path(), "cross-site request refused");
        (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response()
    }
}

fn is_same_site(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let text = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match text(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let origin = origin.trim_end_matches('/');
            public_origin.is_some_and(|p| p.trim_end_matches('/') == origin)
                || text(header::HOST).is_some_and(|host| {
                    origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
                })
        }
    }
}

/// What every response carries: no MIME sniffing, no referrer to other sites, no framing,
/// HSTS when the site is served over HTTPS (secure cookies on), and a Content-Security-Policy.
/// App pages get one allowing only this site's scripts and inline scripts with this
/// response's nonce (handed to the page renderer in a request header, see
/// `app::ui::CSP_NONCE_HEADER`) and are not stored by caches; a response that set its own
/// policy keeps it; anything else allows nothing.
pub async fn security_headers(State(https): State<bool>, mut req: Request, next: Next) -> Response {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let nonce_header = header::HeaderName::from_static(app::ui::CSP_NONCE_HEADER);
    req.headers_mut()
        .insert(nonce_header, HeaderValue::from_str(&nonce).unwrap_or(HeaderValue::from_static("")));
    let mut response = next.run(req).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if is_html {
            headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-store"));
            format!(
                "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
                 img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
                 frame-ancestors 'none'"
            )
        } else {
            "default-src 'none'; frame-ancestors 'none'".to_owned()
        };
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// Arguments that hold free text (a form's textareas) may be as long as the domain's
/// longest text: a change's text details, a failure mode's texts of several lines (a
/// template's are the same), and lists one per line. Every other argument is a name, key,
/// number, date or address.
fn is_long_argument(name: &str) -> bool {
    use app::domain::change::{DETAILS, DetailKind};
    use app::domain::failure_mode::{TEXTS, TextKind};
    const LISTS: [&str; 3] = ["designs", "selectors", "tests"];
    LISTS.contains(&name)
        || TEXTS.iter().any(|t| matches!(t.kind, TextKind::Lines { .. }) && t.name == name)
        || DETAILS.iter().any(|d| d.kind == DetailKind::Text && d.name == name)
}
const LONG_ARGUMENT_MAX: usize = app::domain::change::TEXT_MAX;
const ARGUMENT_MAX: usize = 2_000;
const ARGUMENTS_MAX: usize = 100;

/// Makes every redirect to the login page bring the user back: a page, report or export
/// asked for without a session answers `303 Location: /login`, which this turns into
/// `/login?next=` the address asked for, when it is one the login may return to
/// ([`ReturnTo`]). Deep links (in mail, chat, bookmarks) then survive a login.
pub async fn return_after_login(req: Request, next: Next) -> Response {
    use app::domain::return_to::ReturnTo;
    let here = (req.method() == Method::GET)
        .then(|| req.uri().path_and_query().and_then(|pq| ReturnTo::parse(pq.as_str())))
        .flatten();
    let mut response = next.run(req).await;
    let to_login = response.status().is_redirection()
        && response.headers().get(header::LOCATION).is_some_and(|to| to == "/login");
    if let Some(here) = here.filter(|here| to_login && here.as_str() != "/") {
        let login = format!(
            "/login?next={}",
            form_urlencoded::byte_serialize(here.as_str().as_bytes()).collect::<String>()
        );
        if let Ok(location) = HeaderValue::from_str(&login) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    response
}

/// Bounds every server-function argument before the function runs, so that no function sees
/// unbounded input and no error reply (or the redirect a plain form gets) can grow with it: an
/// argument over its bound is cut to one character past it, and the call carries the refusal
/// naming the argument ([`ArgumentOverBound`](app::ssr::auth::ArgumentOverBound)), which the
/// function answers (422) once it knows that the caller may act at all: a caller who may not
/// hears 401, 403 or 404 first, as for any other input. More than 100 fields are refused here.
pub async fn bound_server_fn_arguments(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") || path.starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    // The body limit layer outside bounds what this reads.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.").into_response();
    };
    let query = parts.uri.query().unwrap_or_default();
    let fields = form_urlencoded::parse(query.as_bytes()).count() + form_urlencoded::parse(&bytes).count();
    if fields > ARGUMENTS_MAX {
        let err = app::domain::AppError::Request(format!("more than {ARGUMENTS_MAX} fields"));
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&err).unwrap_or_default(),
        )
            .into_response();
    }
    let mut over = None;
    let bounded_query = bounded_arguments(query.as_bytes(), &mut over);
    let bounded_body = bounded_arguments(&bytes, &mut over);
    let Some(refusal) = over else {
        return next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await;
    };
    if let Some(query) = bounded_query {
        let path_and_query = format!("{}?{query}", parts.uri.path());
        let Ok(uri) = path_and_query.parse() else {
            return (StatusCode::BAD_REQUEST, "The address is not valid.").into_response();
        };
        parts.uri = uri;
    }
    parts.extensions.insert(app::ssr::auth::ArgumentOverBound(refusal));
    let body = bounded_body.map_or(bytes, axum::body::Bytes::from);
    next.run(Request::from_parts(parts, axum::body::Body::from(body))).await
}

/// What the domain calls the argument `name` in its refusals (a text's or a detail's label),
/// so that a value over its bound is refused in the words the domain's own check uses.
fn argument_label(name: &str) -> String {
    use app::domain::change::DETAILS;
    use app::domain::failure_mode::TEXTS;
    let label = TEXTS.iter().map(|t| (t.name, t.label)).chain(DETAILS.iter().map(|d| (d.name, d.label)));
    match label.into_iter().find(|(n, _)| *n == name) {
        Some((_, label)) => label.to_owned(),
        None => {
            let words = name.replace('_', " ");
            let mut chars = words.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

/// The longest a server-function argument named `name` may be.
fn argument_max(name: &str) -> usize {
    if is_long_argument(name) { LONG_ARGUMENT_MAX } else { ARGUMENT_MAX }
}

/// The form-encoded `arguments` re-encoded with every value over its bound cut to one
/// character past it, or `None` (and nothing encoded) when all are within their bounds;
/// `over` keeps the refusal naming the first argument over its bound.
fn bounded_arguments(arguments: &[u8], over: &mut Option<app::domain::AppError>) -> Option<String> {
    let (name, value) = form_urlencoded::parse(arguments)
        .find(|(name, value)| value.chars().nth(argument_max(name)).is_some())?;
    over.get_or_insert_with(|| {
        let (field, max) = (app::domain::error::bounded(&name), argument_max(&name));
        let len = value.chars().count();
        let message = format!("{} must be at most {max} characters (it has {len}).", argument_label(&field));
        app::domain::AppError::invalid(&field, message)
    });
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(arguments) {
        let kept: String = value.chars().take(argument_max(&name) + 1).collect();
        encoded.append_pair(&name, &kept);
    }
    Some(encoded.finish())
}

/// Gives server-function error replies the status their error means (401, 403, 422, 429,
/// 503, …) instead of server_fn's blanket 500, in one place for every function and for
/// failures before the function runs (such as a missing field).
pub async fn server_fn_error_status(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    // Plain HTML form posts get a redirect carrying the error instead; leave those alone.
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error reply too large").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<app::domain::AppError>(&bytes) {
        parts.status = app::ssr::error::status(&err);
        if let Some(seconds) = app::ssr::error::retry_after(&err) {
            parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Sets up logging: text by default, JSON lines when configured; `RUST_LOG` filters.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colour codes only for a person at a terminal, never into files, pipes or the journal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn same_origin_and_header_less_requests_pass() {
        assert!(is_same_site(&headers(&[]), None));
        assert!(is_same_site(&headers(&[("host", "a:3000"), ("origin", "http://a:3000")]), None));
        assert!(is_same_site(&headers(&[("sec-fetch-site", "same-origin")]), None));
    }

    #[test]
    fn cross_site_markers_are_refused() {
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "cross-site")]), None));
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "same-site")]), None));
        assert!(!is_same_site(&headers(&[("host", "a:3000"), ("origin", "http://evil.test")]), None));
        assert!(!is_same_site(&headers(&[("host", "a:3000"), ("origin", "null")]), None));
    }

    #[test]
    fn the_configured_public_origin_passes_behind_a_proxy() {
        let h = headers(&[("host", "internal:3000"), ("origin", "https://pm.example.com")]);
        assert!(is_same_site(&h, Some("https://pm.example.com")));
        assert!(!is_same_site(&h, None));
    }
}
