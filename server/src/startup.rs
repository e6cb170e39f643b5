//! Pools, migrations, the session layer, router composition and graceful shutdown.

use crate::config::Settings;
use crate::{assets, forms, ops, reports, rest, webhooks};
use app::domain::time::Days;
use app::ssr::auth::RequestUser;
use app::ssr::db::{Backend, Db, DbOptions};
use app::ssr::outbound::Outbound;
use app::ssr::proxy::TrustedProxies;
use app::ssr::state::{AuthPolicy, SignIn, Sso};
use app::ssr::{AppState, auth};
use app::{App, shell};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use leptos::config::{Env, LeptosOptions};
use leptos_axum::{LeptosRoutes, generate_route_list, render_app_async_with_context};
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// A boxed error for startup failures, reported once by the CLI.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Connects to the configured database and applies pending migrations.
pub async fn connect(settings: &Settings) -> Result<Db, BoxError> {
    let options = DbOptions {
        max_connections: settings.db_max_connections,
        statement_timeout: settings.statement_timeout(),
        ..DbOptions::default()
    };
    let db = Db::connect(settings.database_url.expose(), &options).await?;
    db.migrate().await?;
    let derived = app::ssr::ingest::derive_pending(&db).await?;
    if derived > 0 {
        tracing::info!(failure_modes = derived, "derived coverage facts");
    }
    Ok(db)
}

/// The application router plus the background tasks it relies on (session and throttle
/// cleanup), which the caller aborts at shutdown.
pub async fn app(settings: &Settings, db: Db) -> Result<(Router, Vec<JoinHandle<()>>), BoxError> {
    ops::spawn_tasks_in_request_spans();
    let leptos_options =
        LeptosOptions::builder().output_name("premortem").site_addr(settings.listen).env(Env::PROD).build();
    let auth_policy = auth_policy(settings);
    let oidc = crate::oidc::Oidc::from_settings(settings)?;
    let state = AppState {
        db: db.clone(),
        leptos_options: leptos_options.clone(),
        auth: auth_policy.clone(),
        sign_in: sign_in(settings, oidc.as_deref()),
        public_url: settings.public_url.clone(),
        secure_cookies: settings.secure_cookies,
        trusted_proxies: settings.trusted_proxies.clone(),
        outbound: outbound(settings),
    };
    let rest_app_state = state.clone();

    let routes = generate_route_list(App);
    let bundle = assets::bundle();
    // What every request Leptos serves has in its context: the state (pages rendered by the
    // fallback, 404s, need it too: the layout asks for the user) and the request's user.
    let provide_state = {
        let state = state.clone();
        move || {
            leptos::prelude::provide_context(state.clone());
            leptos::prelude::provide_context(RequestUser::default());
        }
    };
    let not_found = {
        let bundle = bundle.clone();
        render_app_async_with_context(provide_state.clone(), move || shell(bundle.clone()))
    };
    let fail_fast = axum::middleware::from_fn_with_state(db.clone(), ops::fail_fast_while_database_away);
    let pages = Router::new()
        .route("/changes/{key}/report", get(reports::html))
        .route("/changes/{key}/report.md", get(reports::markdown))
        .route("/portfolio.csv", get(reports::portfolio_csv))
        .route("/changes/{key}/suggestions", axum::routing::post(forms::add_suggestions))
        .route("/changes/{key}/import", axum::routing::post(forms::import))
        .leptos_routes_with_context(&state, routes, provide_state, move || shell(bundle.clone()))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(ops::bound_server_fn_arguments))
        .layer(axum::middleware::from_fn(ops::server_fn_error_status))
        .layer(axum::middleware::from_fn(ops::return_after_login))
        .with_state(state.clone());
    let mut tasks = background_tasks(settings, &db, auth_policy)?;
    let pages = match oidc {
        Some(oidc) => pages.merge(crate::oidc::router(state.clone(), oidc, &mut tasks)),
        None => pages,
    };

    // Everything that reads the database fails fast while it is away, the session's own reads
    // and writes included (outside them, a refusal would still wait for the session store);
    // health, metrics and the embedded assets need neither the database nor a session.
    let pages = with_session_store(pages, &db, settings, &mut tasks).await?.layer(fail_fast.clone());
    let router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics_endpoint))
        .merge(assets::router())
        .with_state(state)
        .merge(pages);

    let rest_state = ci_api_state(settings, rest_app_state);
    let public_origin = settings.public_url.clone();
    let router = router
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        // The CI API has no session layer (cookies never authorize it) and its own limits.
        .nest_service("/api/v1", rest::router(rest_state).layer(fail_fast))
        .layer(axum::middleware::from_fn_with_state(public_origin, ops::refuse_cross_site))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(settings.request_timeout_secs),
        ))
        .layer(axum::middleware::from_fn_with_state(settings.secure_cookies, ops::security_headers))
        .layer(axum::middleware::from_fn(ops::track_metrics))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span(settings.trusted_proxies.clone()))
                .on_failure(log_failure),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    Ok((router, tasks))
}

/// Sessions' lifetime and login throttling, from the settings.
fn auth_policy(settings: &Settings) -> AuthPolicy {
    AuthPolicy {
        session_absolute: Duration::from_secs(u64::from(settings.session_max_hours) * 3600),
        session_idle: Duration::from_secs(u64::from(settings.session_idle_minutes) * 60),
        free_failures: i64::from(settings.login_max_failures),
        max_failures_per_address: i64::from(settings.login_max_failures) * 10,
        ..AuthPolicy::default()
    }
}

/// How people sign in: through the provider when one is configured, and with a password unless
/// it is turned off (without a provider, the password is the only way in).
fn sign_in(settings: &Settings, oidc: Option<&crate::oidc::Oidc>) -> SignIn {
    SignIn {
        sso: oidc.map(|oidc| Sso {
            issuer: oidc.issuer().to_owned(),
            name: settings.oidc_name.clone(),
            groups_claim: oidc.groups_claim().map(str::to_owned),
        }),
        password: settings.password_login || oidc.is_none(),
    }
}

/// The CI API's state: the app's, plus the upload limits and budgets from `settings`.
fn ci_api_state(settings: &Settings, app: AppState) -> rest::RestState {
    let limits = rest::IngestLimits {
        max_body: settings.upload_max_bytes,
        max_decompressed: settings.upload_max_decompressed_bytes,
        max_cases: settings.upload_max_cases,
        min_bytes_per_sec: settings.upload_min_bytes_per_sec,
        body_grace: Duration::from_secs(settings.upload_body_grace_secs),
    };
    let line = (settings.upload_queue, Duration::from_secs(settings.upload_queue_wait_secs));
    rest::RestState::new(app, limits, settings.ingest_concurrency, line, settings.token_rate_per_minute)
}

/// Adds server-side sessions kept in the app's own database (SQLite or PostgreSQL).
async fn with_session_store(
    router: Router,
    db: &Db,
    settings: &Settings,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Router, BoxError> {
    let url = settings.database_url.expose();
    Ok(match db.backend() {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .busy_timeout(Duration::from_secs(10))
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(DbOptions::default().acquire_timeout)
                .connect_with(options)
                .await?;
            let store = SqliteStore::new(pool);
            store.migrate().await?;
            with_sessions(router, store, settings, tasks)
        }
        Backend::Postgres => {
            // Bounded like the app's own pools: during an outage a session waits no longer
            // than any other query (sqlx's default is 30 s).
            let mut options = sqlx::postgres::PgConnectOptions::from_str(url)?;
            if let Some(timeout) = settings.statement_timeout() {
                options = options.options([("statement_timeout", timeout.as_millis().to_string())]);
            }
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(DbOptions::default().acquire_timeout)
                .connect_with(options)
                .await?;
            let store = PostgresStore::new(pool);
            store.migrate().await?;
            with_sessions(router, store, settings, tasks)
        }
    })
}

/// The span every log line of a request carries: its method, path, request id, and the
/// client's address (the TCP peer, or behind a trusted proxy the address it forwarded).
fn request_span<B>(trusted: TrustedProxies) -> impl Fn(&Request<B>) -> tracing::Span + Clone {
    move |req: &Request<B>| {
        let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| trusted.client_of(peer.ip(), req.headers()));
        tracing::info_span!(
            "request",
            method = %req.method(),
            path = req.uri().path(),
            request_id = id,
            client = client.map(tracing::field::display),
        )
    }
}

/// A 503 is an expected refusal (over capacity, or the database away), logged as a warning
/// with its reason already logged where it was decided; other server errors are faults.
fn log_failure(class: ServerErrorsFailureClass, latency: Duration, _: &tracing::Span) {
    let latency_ms = latency.as_millis();
    match class {
        ServerErrorsFailureClass::StatusCode(status)
            if status == axum::http::StatusCode::SERVICE_UNAVAILABLE =>
        {
            tracing::warn!(%status, latency_ms, "refused, the client was told when to retry");
        }
        class => tracing::error!(%class, latency_ms, "request failed"),
    }
}

/// Adds server-side sessions from `store`, and the task that deletes expired ones.
fn with_sessions<S>(router: Router, store: S, settings: &Settings, tasks: &mut Vec<JoinHandle<()>>) -> Router
where
    S: SessionStore + ExpiredDeletion + Clone,
{
    let cleanup = store.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(err) = cleanup.continuously_delete_expired(Duration::from_secs(60)).await {
            tracing::error!(error = %err, "expired-session cleanup stopped");
        }
    }));
    let idle = time::Duration::minutes(i64::from(settings.session_idle_minutes));
    router.layer(
        SessionManagerLayer::new(store)
            .with_name("premortem_session")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(settings.secure_cookies)
            .with_expiry(Expiry::OnInactivity(idle)),
    )
}

/// What runs beside the requests: pruning, the gates' sweep and the webhook dispatcher.
fn background_tasks(
    settings: &Settings,
    db: &Db,
    policy: AuthPolicy,
) -> Result<Vec<JoinHandle<()>>, BoxError> {
    let outbound = outbound(settings);
    let dispatcher = webhooks::Dispatcher {
        db: db.clone(),
        client: webhooks::client(outbound)?,
        outbound,
        base_url: settings.public_url.clone().unwrap_or_else(|| format!("http://{}", settings.listen)),
        give_up: Duration::from_secs(settings.webhook_give_up_hours.saturating_mul(3600)),
        concurrency: settings.webhook_concurrency,
    };
    let retention = (Days(settings.evidence_retention_days), Days(settings.webhook_retention_days));
    Ok(vec![
        tokio::spawn(prune(db.clone(), policy, retention)),
        tokio::spawn(sweep_gates(db.clone())),
        tokio::spawn(dispatcher.run()),
    ])
}

/// Where webhooks may point, from the settings.
fn outbound(settings: &Settings) -> Outbound {
    Outbound { allow_http: settings.webhook_allow_http, allow_private: settings.webhook_allow_private }
}

/// Keeps storage bounded (old login failures, ended sessions, evidence and webhook deliveries past their
/// retention) and records the day's coverage for the trend chart.
async fn prune(db: Db, policy: AuthPolicy, (retention, deliveries): (Days, Days)) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        every.tick().await;
        if let Err(err) = auth::prune_login_failures(&db, &policy).await {
            tracing::warn!(error = %err, "pruning login failures failed");
        }
        let limits = (policy.session_idle, policy.session_absolute);
        if let Err(err) = app::ssr::store::sessions::prune(&db, limits).await {
            tracing::warn!(error = %err, "pruning ended sessions failed");
        }
        if let Err(err) = app::ssr::store::evidence::prune(&db, retention).await {
            tracing::warn!(error = %err, "pruning evidence failed");
        }
        if let Err(err) = app::ssr::store::webhooks::prune(&db, deliveries).await {
            tracing::warn!(error = %err, "pruning webhook deliveries failed");
        }
        // The trend chart's daily point, kept for 400 days.
        if let Err(err) = app::ssr::coverage::record_daily(&db, Days(400)).await {
            tracing::warn!(error = %err, "recording daily coverage failed");
        }
    }
}

/// Records, every minute, the gates time closed and the risk acceptances that ran out.
async fn sweep_gates(db: Db) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(err) = app::ssr::gates::sweep(&db).await {
            tracing::warn!(error = %err, "sweeping gates failed");
        }
    }
}

/// Serves on `listener` until `shutdown` completes, then finishes in-flight requests,
/// stops background tasks and closes the database.
pub async fn serve(
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let db = connect(settings).await?;
    let (router, tasks) = app(settings, db.clone()).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    serve_connections(listener, router, ConnectionLimits::from(settings), shutdown).await;
    for task in tasks {
        task.abort();
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// What a connection may cost the server before it is closed.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// To send a request's headers, and to stay idle between requests.
    pub header_read_timeout: Duration,
    /// Request line and headers together (beyond: 431).
    pub max_header_bytes: usize,
    /// For requests still running at shutdown.
    pub shutdown_grace: Duration,
}

impl From<&Settings> for ConnectionLimits {
    fn from(settings: &Settings) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(settings.header_read_timeout_secs.max(1)),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(settings.request_timeout_secs),
        }
    }
}

/// Accepts HTTP/1.1 connections until `shutdown` completes, with `limits` on each, then
/// waits (at most the grace period) for requests in flight. axum's own `serve` has no
/// header-read timeout, so a client sending headers a byte at a time, or a keep-alive
/// connection left open, would hold its socket forever.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(err) => {
                    // Out of file descriptors, or the peer left before accept: back off briefly.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            tower::ServiceExt::map_request(router.clone(), move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(remote));
                req
            });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still running at the end of the shutdown grace period were dropped");
        }
    }
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed when this is called, not
/// when the future is first polled: a signal that arrives while the server is still
/// starting (or before its accept loop first looks at shutdown) is kept, never the
/// default action that kills the process mid-write.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutdown requested");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown requested");
        })
    }
}
