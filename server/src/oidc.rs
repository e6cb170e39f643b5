//! Single sign-on through an OpenID provider: the authorization code flow with PKCE, `state`
//! and `nonce`, and the ID token validated by `openidconnect` (issuer, audience, expiry with a
//! minute's clock skew, signature against the provider's keys, fetched again when a token names
//! a key not seen yet). The provider is discovered in the background, retried while it is
//! down; until then its button answers with a clear message, and the server runs on.
//!
//! `GET /auth/oidc/start` keeps the flow's secrets in the (anonymous) session and sends the
//! browser to the provider; `GET /auth/oidc/callback` checks what comes back, links or creates
//! the user (`store::identities::sign_in`) and starts their session under a new id. A refusal
//! goes back to the login page with a reason code, which the page turns into a fixed message;
//! the detail goes to the log, never a token.

use crate::config::Settings;
use crate::startup::BoxError;
use app::domain::return_to::ReturnTo;
use app::ssr::store::identities::{self, Asserted, Refused};
use app::ssr::store::sessions::Device;
use app::ssr::{AppState, auth};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, SubjectIdentifier,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;
use tower_sessions::Session;

const FLOW: &str = "oidc_flow";
/// How long a sign-in may spend at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Clock skew allowed on the ID token's expiry.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

/// The provider as configured, and what discovery found.
pub struct Oidc {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    scopes: Vec<String>,
    allowed_domains: Vec<String>,
    groups_claim: Option<String>,
    http: reqwest::Client,
    discovered: RwLock<Option<Discovered>>,
}

struct Discovered {
    metadata: CoreProviderMetadata,
    jwks: CoreJsonWebKeySet,
    /// How many times the keys were fetched again since discovery.
    jwks_generation: u64,
}

/// A sign-in under way, kept in the session between the two requests.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    pkce: String,
    next: Option<String>,
    started: i64,
}

/// A client of the discovered provider: its endpoints as discovery found them.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Claims besides the standard ones, read from userinfo (the groups claim).
#[derive(Debug, Deserialize, Serialize)]
struct Extra(serde_json::Map<String, serde_json::Value>);
impl AdditionalClaims for Extra {}

/// Why a sign-in failed, as the login page names it (`?sso_error=`).
#[derive(Clone, Copy, Debug)]
enum Failure {
    Expired,
    Denied,
    Unavailable,
    Invalid,
    Domain,
    Disabled,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Denied => "denied",
            Self::Unavailable => "unavailable",
            Self::Invalid => "invalid",
            Self::Domain => "domain",
            Self::Disabled => "disabled",
        }
    }
}

impl Oidc {
    /// The provider from the settings, if single sign-on is configured; a setting that cannot
    /// work (an `http` issuer off loopback, a bad URL) stops the server at start.
    pub fn from_settings(settings: &Settings) -> Result<Option<Arc<Self>>, BoxError> {
        let (Some(issuer), Some(client_id)) = (&settings.oidc_issuer, &settings.oidc_client_id) else {
            return Ok(None);
        };
        check_issuer(issuer)?;
        let public =
            settings.public_url.as_deref().ok_or("PREMORTEM_OIDC_ISSUER needs PREMORTEM_PUBLIC_URL")?;
        let redirect = RedirectUrl::new(format!("{}/auth/oidc/callback", public.trim_end_matches('/')))?;
        let http = reqwest::Client::builder()
            // Following a redirect would let the provider's answers point us anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        let list = |raw: &str, sep: char| {
            raw.split(sep).map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect::<Vec<_>>()
        };
        Ok(Some(Arc::new(Self {
            issuer: IssuerUrl::new(issuer.clone())?,
            client_id: ClientId::new(client_id.clone()),
            client_secret: settings.oidc_client_secret.clone().map(ClientSecret::new),
            redirect,
            scopes: settings.oidc_scopes.split_whitespace().map(str::to_owned).collect(),
            allowed_domains: list(&settings.oidc_allowed_domains, ','),
            groups_claim: settings.oidc_groups_claim.clone().filter(|c| !c.is_empty()),
            http,
            discovered: RwLock::new(None),
        })))
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    pub fn groups_claim(&self) -> Option<&str> {
        self.groups_claim.as_deref()
    }

    /// Discovers the provider, retrying with growing pauses (up to 10 s) while it cannot be
    /// reached or answers nonsense; logs each failure. Runs until it succeeds.
    pub async fn discover(self: Arc<Self>) {
        let mut pause = Duration::from_millis(250);
        loop {
            match CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await {
                Ok(metadata) => {
                    let jwks = metadata.jwks().clone();
                    *self.discovered.write().await = Some(Discovered { metadata, jwks, jwks_generation: 0 });
                    tracing::info!(issuer = %self.issuer.as_str(), "identity provider discovered");
                    return;
                }
                Err(err) => {
                    tracing::warn!(issuer = %self.issuer.as_str(), error = %chain(&err), retry_in = ?pause,
                        "identity provider discovery failed");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
        }
    }

    /// A client for the discovered provider and its keys (with their generation), or none
    /// while it is not discovered.
    async fn client(&self) -> Option<(Client, (CoreJsonWebKeySet, u64))> {
        let discovered = self.discovered.read().await;
        let discovered = discovered.as_ref()?;
        let client = CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone());
        Some((client, (discovered.jwks.clone(), discovered.jwks_generation)))
    }

    /// The provider's keys fetched again, because a token named a key not among those of
    /// generation `seen`. Sign-ins that find the same unknown key at once fetch once: whoever
    /// comes second finds a newer generation and uses it. (Each fetch follows a code the
    /// provider itself issued, so the provider is asked no more often than it signs tokens.)
    async fn refresh_keys(&self, seen: u64) -> Option<CoreJsonWebKeySet> {
        let mut discovered = self.discovered.write().await;
        let discovered = discovered.as_mut()?;
        if discovered.jwks_generation == seen {
            let url = discovered.metadata.jwks_uri().clone();
            match CoreJsonWebKeySet::fetch_async(&url, &self.http).await {
                Ok(jwks) => discovered.jwks = jwks,
                Err(err) => tracing::warn!(error = %chain(&err), "fetching the provider's keys failed"),
            }
            discovered.jwks_generation += 1;
        }
        Some(discovered.jwks.clone())
    }
}

/// `https`, or `http` on a loopback address (a provider on this host, the tests').
fn check_issuer(issuer: &str) -> Result<(), BoxError> {
    let url = url::Url::parse(issuer).map_err(|e| format!("PREMORTEM_OIDC_ISSUER is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("PREMORTEM_OIDC_ISSUER must be https (http only on a loopback address)".into()),
    }
}

/// An error and its causes on one line, for the log.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Clone)]
struct SsoState {
    app: AppState,
    oidc: Arc<Oidc>,
}

/// The two routes of the flow (they need the session layer), and the provider's discovery
/// started among the server's `tasks`.
pub fn router(app: AppState, oidc: Arc<Oidc>, tasks: &mut Vec<tokio::task::JoinHandle<()>>) -> Router {
    tasks.push(tokio::spawn(oidc.clone().discover()));
    Router::new()
        .route("/auth/oidc/start", get(start))
        .route("/auth/oidc/callback", get(callback))
        .with_state(SsoState { app, oidc })
}

fn refused(failure: Failure) -> Response {
    Redirect::to(&format!("/login?sso_error={}", failure.code())).into_response()
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

async fn start(State(sso): State<SsoState>, session: Session, Query(query): Query<StartQuery>) -> Response {
    let Some((client, _)) = sso.oidc.client().await else {
        return refused(Failure::Unavailable);
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()));
    for scope in &sso.oidc.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.url();
    let flow = Flow {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce: verifier.secret().clone(),
        next: query.next.filter(|next| ReturnTo::parse(next).is_some()),
        started: app::domain::time::Timestamp::now().0,
    };
    if let Err(err) = session.insert(FLOW, flow).await {
        tracing::warn!(error = %err, "could not keep the sign-in's state in the session");
        return crate::reports::ReportError::App(app::domain::AppError::Unavailable).into_response();
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Who answered (RFC 9207), when the provider says: it must be ours (a mix-up otherwise).
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(sso): State<SsoState>,
    session: Session,
    extensions: axum::http::Extensions,
    headers: axum::http::HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    // The flow is used once, whatever comes back: a replayed callback finds none.
    let flow = match session.remove::<Flow>(FLOW).await {
        Ok(flow) => flow,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the sign-in's state from the session");
            return crate::reports::ReportError::App(app::domain::AppError::Unavailable).into_response();
        }
    };
    let (who, flow) = match verify(&sso.oidc, flow.as_ref(), query).await {
        Ok(verified) => verified,
        Err(failure) => return refused(failure),
    };
    let signed_in = match identities::sign_in(&sso.app.db, &who).await {
        Ok(Ok(user)) => user,
        Ok(Err(Refused::Disabled)) => {
            tracing::info!(subject = %who.subject, "sign-in refused: the account is disabled");
            return refused(Failure::Disabled);
        }
        Err(err) => return crate::reports::ReportError::App(err).into_response(),
    };
    let (user, epoch) = signed_in;
    let peer = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0);
    let device = Device::of(peer, &headers, &sso.app.trusted_proxies);
    if let Err(err) = auth::start_session(&sso.app.db, &session, user, epoch, &device).await {
        return crate::reports::ReportError::App(err).into_response();
    }
    tracing::info!(user = %user, "login through the identity provider");
    Redirect::to(&ReturnTo::or_start(flow.next.as_deref())).into_response()
}

/// Checks the callback against the flow and the provider: the state, the code exchanged with
/// the PKCE verifier, the ID token (and its nonce), the userinfo's subject, the email domain.
/// Who signed in, and the flow they did it in.
async fn verify<'f>(
    oidc: &Oidc,
    flow: Option<&'f Flow>,
    query: CallbackQuery,
) -> Result<(Asserted, &'f Flow), Failure> {
    let (flow, code) = check_callback(oidc, flow, query)?;
    let (client, (jwks, generation)) = oidc.client().await.ok_or(Failure::Unavailable)?;
    let exchange = client.exchange_code(AuthorizationCode::new(code)).map_err(|err| {
        tracing::error!(error = %err, "the provider has no token endpoint");
        Failure::Unavailable
    })?;
    let token =
        exchange.set_pkce_verifier(PkceCodeVerifier::new(flow.pkce.clone())).request_async(&oidc.http).await;
    let token = token.map_err(|err| {
        let failure = match &err {
            openidconnect::RequestTokenError::Request(_) => Failure::Unavailable,
            _ => Failure::Invalid,
        };
        tracing::warn!(error = %chain(&err), "exchanging the sign-in's code failed");
        failure
    })?;
    let id_token = token.id_token().ok_or_else(|| {
        tracing::warn!("the token response holds no ID token");
        Failure::Invalid
    })?;
    let claims = validate(oidc, id_token, &Nonce::new(flow.nonce.clone()), jwks, generation).await?;
    let mut who = Asserted {
        issuer: oidc.issuer.as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_lowercase()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
        groups: None,
    };
    let raw = token_payload(&id_token.to_string());
    if let Some(claim) = &oidc.groups_claim {
        who.groups = raw.as_ref().and_then(|payload| groups(payload.get(claim)));
    }
    if (who.email.is_none() || (oidc.groups_claim.is_some() && who.groups.is_none()))
        && client.user_info_url().is_some()
    {
        userinfo(oidc, &client, token.access_token(), claims.subject(), &mut who).await?;
    }
    check_domain(oidc, &who)?;
    Ok((who, flow))
}

/// The callback's own checks, before the provider is asked anything: not an error from the
/// provider, a sign-in under way in this session, its state, not too old, the issuer that
/// answered (when it says). The flow and the code.
fn check_callback<'f>(
    oidc: &Oidc,
    flow: Option<&'f Flow>,
    query: CallbackQuery,
) -> Result<(&'f Flow, String), Failure> {
    if let Some(error) = &query.error {
        tracing::warn!(
            error,
            description = query.error_description.as_deref().unwrap_or(""),
            "the identity provider refused the sign-in"
        );
        return Err(Failure::Denied);
    }
    let Some(flow) = flow else {
        tracing::info!("sign-in callback without a sign-in under way (replayed, or another browser)");
        return Err(Failure::Expired);
    };
    let age = app::domain::time::Timestamp::now().0 - flow.started;
    let state_matches = query.state.as_deref().is_some_and(|state| constant_time_eq(state, &flow.state));
    if !state_matches || age > i64::try_from(FLOW_LIFETIME.as_millis()).unwrap_or(i64::MAX) {
        tracing::warn!(state_matches, age_ms = age, "sign-in callback refused: wrong or old state");
        return Err(Failure::Expired);
    }
    if query.iss.as_deref().is_some_and(|iss| iss != oidc.issuer.as_str()) {
        tracing::warn!(iss = query.iss.as_deref().unwrap_or(""), "sign-in callback from another issuer");
        return Err(Failure::Invalid);
    }
    Ok((flow, query.code.ok_or(Failure::Invalid)?))
}

/// The ID token's claims, once its signature (fetching the provider's keys again if it names
/// one not among them), issuer, audience, expiry (with [`CLOCK_SKEW`]) and nonce are right.
async fn validate(
    oidc: &Oidc,
    id_token: &openidconnect::core::CoreIdToken,
    nonce: &Nonce,
    jwks: CoreJsonWebKeySet,
    generation: u64,
) -> Result<openidconnect::core::CoreIdTokenClaims, Failure> {
    let verifier = |jwks: CoreJsonWebKeySet| {
        let verifier = match &oidc.client_secret {
            Some(secret) => CoreIdTokenVerifier::new_confidential_client(
                oidc.client_id.clone(),
                secret.clone(),
                oidc.issuer.clone(),
                jwks,
            ),
            None => CoreIdTokenVerifier::new_public_client(oidc.client_id.clone(), oidc.issuer.clone(), jwks),
        };
        verifier.set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW)
    };
    match id_token.claims(&verifier(jwks), nonce) {
        Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
            // Keys rotated since we last looked: fetch them again, once.
            let jwks = oidc.refresh_keys(generation).await.ok_or(Failure::Unavailable)?;
            id_token.claims(&verifier(jwks), nonce).cloned()
        }
        other => other.cloned(),
    }
    .map_err(|err| {
        tracing::warn!(error = %chain(&err), "the ID token was refused");
        Failure::Invalid
    })
}

/// Fills in what the ID token left out (email, name, groups) from the provider's userinfo,
/// whose subject must be the ID token's.
async fn userinfo(
    oidc: &Oidc,
    client: &Client,
    access: &AccessToken,
    subject: &SubjectIdentifier,
    who: &mut Asserted,
) -> Result<(), Failure> {
    let request = client.user_info(access.clone(), Some(subject.clone())).map_err(|_| Failure::Invalid)?;
    let info: openidconnect::UserInfoClaims<Extra, openidconnect::core::CoreGenderClaim> =
        request.request_async(&oidc.http).await.map_err(|err| {
            tracing::warn!(error = %chain(&err), "the provider's userinfo was refused");
            Failure::Invalid
        })?;
    if who.email.is_none() {
        who.email = info.email().map(|e| e.as_str().to_lowercase());
        who.email_verified = info.email_verified().unwrap_or(false);
    }
    who.name =
        who.name.take().or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()));
    who.preferred_username =
        who.preferred_username.take().or_else(|| info.preferred_username().map(|u| u.as_str().to_owned()));
    if let (Some(claim), None) = (&oidc.groups_claim, &who.groups) {
        who.groups = groups(info.additional_claims().0.get(claim));
    }
    Ok(())
}

/// The allowed email domains, when configured: the address must be in one, and not one the
/// provider says it has not verified.
fn check_domain(oidc: &Oidc, who: &Asserted) -> Result<(), Failure> {
    if oidc.allowed_domains.is_empty() {
        return Ok(());
    }
    let domain = who.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
    match domain {
        Some(domain) if oidc.allowed_domains.iter().any(|d| d == domain) && who.email_verified => Ok(()),
        _ => {
            tracing::info!(subject = %who.subject, domain, "sign-in refused: email domain not allowed");
            Err(Failure::Domain)
        }
    }
}

/// The claims of a compact JWT whose signature was already verified, as JSON.
fn token_payload(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A groups claim: a list of strings (a lone string is one group).
fn groups(value: Option<&serde_json::Value>) -> Option<Vec<String>> {
    match value? {
        serde_json::Value::Array(items) => {
            Some(items.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect())
        }
        serde_json::Value::String(one) => Some(vec![one.clone()]),
        _ => None,
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
