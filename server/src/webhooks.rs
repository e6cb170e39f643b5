//! Sending webhooks: how a delivery is signed (Standard Webhooks v1, [`sign`]) and the
//! dispatcher that takes due deliveries from the outbox (`store::webhooks`) and sends them.
//!
//! Outbound safety: every try asks `app::ssr::outbound::check_destination` first (only
//! `https`, or `http` when allowed, never an address inside the network unless allowed,
//! checked after the name is resolved), and the client's own resolver asks again when it
//! connects, so a name re-pointed between the check and the connection cannot reach inside;
//! no redirects, no proxy, a 10 s timeout, at most 64 KiB of an answer
//! read; the URL (whose path may be a secret) and the secrets are never logged.

use app::domain::time::Timestamp;
use app::domain::webhook::{self, ChangeRef, Format};
use app::ssr::db::Db;
use app::ssr::outbound::{Outbound, check_destination, is_public, refusal, resolve};
use app::ssr::store::webhooks::{self as outbox, Due, Outcome};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long one try may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (for the delivery's page); the rest is dropped.
const ANSWER_MAX: usize = 64 * 1024;
/// How long a dispatcher holds a delivery it took: well past [`TIMEOUT`], so only a crash
/// lets another take it.
const LEASE: Duration = Duration::from_secs(60);
/// How often an idle dispatcher looks for due deliveries.
const POLL: Duration = Duration::from_millis(500);

/// The client's resolver: a name resolves only to public addresses (unless private ones are
/// allowed), so what [`check_destination`] saw is what the connection gets.
struct Guarded {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = resolve(name.as_str(), 0).await.map_err(Refused)?;
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|a| allow_private || is_public(a.ip())).collect();
            match (allowed.is_empty(), found.first()) {
                (true, Some(first)) => Err(Box::new(Refused(refusal(first.ip()))) as _),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// A destination refused when connecting, with why.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The HTTP client every delivery uses: no proxy, no redirects, the guarded resolver.
pub fn client(outbound: Outbound) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("Premortem-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(Guarded { allow_private: outbound.allow_private }))
        .build()
}

/// The `webhook-signature` value for a message: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under each secret (`whsec_` and its base64 key), separated by spaces.
pub fn sign(secrets: &[String], id: &str, timestamp: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    secrets
        .iter()
        .filter_map(|secret| {
            let key = BASE64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Takes due deliveries from the outbox and sends them, at most `concurrency` at once.
pub struct Dispatcher {
    pub db: Db,
    pub client: reqwest::Client,
    pub outbound: Outbound,
    /// The origin links in messages point at (`PREMORTEM_PUBLIC_URL`).
    pub base_url: String,
    /// How long a delivery is retried before it is given up.
    pub give_up: Duration,
    pub concurrency: usize,
}

impl Dispatcher {
    /// Runs until the task is stopped. A delivery in flight when it stops is sent again
    /// once its lease runs out (at least once).
    pub async fn run(self) {
        let this = Arc::new(self);
        let slots = Arc::new(tokio::sync::Semaphore::new(this.concurrency.max(1)));
        // A finished delivery may have made its change's next event due: look at once
        // rather than at the next poll, so one change's events do not go out two a second.
        let finished = Arc::new(tokio::sync::Notify::new());
        loop {
            let free = i64::try_from(slots.available_permits()).unwrap_or(0);
            if free == 0 {
                drop(slots.acquire().await);
                continue;
            }
            let due = match outbox::claim(&this.db, LEASE, free).await {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(error = %err, "taking webhook deliveries failed");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = finished.notified() => {}
                }
                continue;
            }
            for due in due {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let (this, finished) = (this.clone(), finished.clone());
                tokio::spawn(async move {
                    let outcome = this.attempt(&due).await;
                    tracing::info!(webhook = %due.webhook, delivery = %due.id, attempt = due.attempt,
                        outcome = ?outcome, "webhook delivery tried");
                    metrics::counter!("premortem_webhook_attempts_total", "outcome" => outcome_name(&outcome))
                        .increment(1);
                    if let Err(err) = outbox::finish(&this.db, &due, outcome).await {
                        tracing::warn!(error = %err, delivery = %due.id, "recording a webhook delivery failed");
                    }
                    drop(slot);
                    finished.notify_one();
                });
            }
        }
    }

    /// One try of `due`: what the endpoint answered, or why it could not be reached.
    async fn attempt(&self, due: &Due) -> Outcome {
        let fail = |status: Option<i64>, error: String, asked: Option<Duration>| {
            let now = Timestamp::now();
            let wait = webhook::retry_after(due.attempt, rand::random::<f64>(), asked);
            Outcome::Failed { status, error, next_at: now + wait, give_up_before: now - self.give_up }
        };
        let url = match check_destination(&due.url, self.outbound).await {
            Ok(url) => url,
            Err(why) => return fail(None, why, None),
        };
        let body = self.body(due);
        let id = format!("msg_{}", due.id);
        let mut request = self.client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json");
        if due.format == Format::Standard {
            let timestamp = Timestamp::now().0 / 1000;
            request = request
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", sign(&due.secrets, &id, timestamp, &body));
        }
        let mut response = match request.body(body).send().await {
            Ok(response) => response,
            Err(err) => return fail(None, transport_error(&err), None),
        };
        let status = i64::from(response.status().as_u16());
        if response.status().is_success() {
            return Outcome::Delivered { status };
        }
        if response.status() == reqwest::StatusCode::GONE {
            return Outcome::Gone { status };
        }
        let asked = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut answer = Vec::new();
        while answer.len() < ANSWER_MAX {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        answer.truncate(ANSWER_MAX);
        let said: String =
            String::from_utf8_lossy(&answer).chars().filter(|c| !c.is_control()).take(200).collect();
        let error = if response.status().is_redirection() {
            format!("HTTP {status}: redirects are not followed; point the webhook at the final URL.")
        } else if said.trim().is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {}", said.trim())
        };
        fail(Some(status), error, asked)
    }

    /// The body `due` is sent with: the same bytes on every try.
    fn body(&self, due: &Due) -> String {
        let change = serde_json::from_value::<ChangeRef>(with_url(&due.change, &self.base_url)).ok();
        let body = match due.format {
            Format::Standard => {
                webhook::standard_body(&due.event_type, due.occurred_at, change.as_ref(), &due.data)
            }
            Format::Slack => webhook::slack_body(&due.event_type, change.as_ref()),
        };
        body.to_string()
    }
}

/// The change as queued, with the link to its page.
fn with_url(change: &serde_json::Value, base_url: &str) -> serde_json::Value {
    let mut change = change.clone();
    if let Some(map) = change.as_object_mut()
        && let Some(key) = map.get("key").and_then(|k| k.as_str()).map(str::to_owned)
    {
        map.insert("url".to_owned(), format!("{}/changes/{key}", base_url.trim_end_matches('/')).into());
    }
    change
}

/// Why a request got no answer, without its URL (whose path may be a secret).
fn transport_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return format!("No answer within {} s.", TIMEOUT.as_secs());
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        if let Some(refused) = inner.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        cause = inner;
    }
    if err.is_connect() {
        format!("Could not connect: {cause}.")
    } else {
        format!("The request failed: {cause}.")
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::Failed { .. } => "failed",
        Outcome::Gone { .. } => "gone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_standard_webhooks_v1() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = r#"{"test": 2432232314}"#;
        let signature = sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
