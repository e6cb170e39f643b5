//! Sending webhooks: where a subscription may point ([`check_destination`], at creation and
//! before every try), how a delivery is signed (Standard Webhooks v1, [`sign`]) and the
//! dispatcher that takes due deliveries from the outbox (`store::webhooks`) and sends them.
//!
//! Outbound safety: only `https` (or `http` when allowed), never an address inside the
//! network unless allowed, checked after the name is resolved, and again by the client's own
//! resolver when it connects, so a name re-pointed between the check and the connection
//! cannot reach inside; no redirects, no proxy, a 10 s timeout, at most 64 KiB of an answer
//! read; the URL (whose path may be a secret) and the secrets are never logged.

use app::domain::time::Timestamp;
use app::domain::webhook::{self, ChangeRef, Format};
use app::ssr::db::Db;
use app::ssr::store::webhooks::{self as outbox, Due, Outcome};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// What a destination may be.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outbound {
    /// `http` as well as `https`.
    pub allow_http: bool,
    /// Private, loopback, link-local and metadata addresses (implies `allow_http`).
    pub allow_private: bool,
}

/// How long one try may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (for the delivery's page); the rest is dropped.
const ANSWER_MAX: usize = 64 * 1024;
/// How long a dispatcher holds a delivery it took: well past [`TIMEOUT`], so only a crash
/// lets another take it.
const LEASE: Duration = Duration::from_secs(60);
/// How often an idle dispatcher looks for due deliveries.
const POLL: Duration = Duration::from_millis(500);
/// How long resolving a destination's name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `ip` is an address on the public internet: not loopback, private, link-local
/// (the cloud metadata service, 169.254.169.254), shared (CGNAT), multicast, reserved,
/// documentation or unspecified; an IPv6 address that carries an IPv4 one is judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7])));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 (metadata) among them
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Why an address may not be reached, in the words a lead reads.
fn refusal(ip: IpAddr) -> String {
    format!(
        "{ip} is a private, loopback, link-local or otherwise internal address: webhooks may reach \
         only the public internet (set PREMORTEM_WEBHOOK_ALLOW_PRIVATE=true to allow it)."
    )
}

/// `url` as a destination: `https` (or `http` when allowed), no user name or password,
/// and a host whose every address is public (unless private ones are allowed). Answers the
/// URL, or why it is refused.
pub async fn check_destination(raw: &str, outbound: Outbound) -> Result<Url, String> {
    let raw = raw.trim();
    if raw.chars().count() > webhook::URL_MAX {
        return Err(format!("A webhook URL is at most {} characters.", webhook::URL_MAX));
    }
    let url = Url::parse(raw).map_err(|e| format!("Not a URL ({e}): write it as https://host/path."))?;
    match url.scheme() {
        "https" => {}
        "http" if outbound.allow_http || outbound.allow_private => {}
        "http" => {
            return Err(
                "A webhook URL must use https (set PREMORTEM_WEBHOOK_ALLOW_HTTP=true to allow http).".into(),
            );
        }
        other => return Err(format!("A webhook URL must use https, not {other}.")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("A webhook URL may not hold a user name or password.".into());
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("A webhook URL needs a host.")?;
    let port = url.port_or_known_default().unwrap_or(443);
    if outbound.allow_private {
        return Ok(url);
    }
    for ip in resolve(host, port).await? {
        if !is_public(ip.ip()) {
            return Err(refusal(ip.ip()));
        }
    }
    Ok(url)
}

/// The addresses `host` stands for (an address itself stands for itself).
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let unresolved = || format!("The host {bare} could not be resolved.");
    let found: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
        .await
        .map_err(|_| unresolved())?
        .map_err(|_| unresolved())?
        .collect();
    if found.is_empty() {
        return Err(format!("The host {bare} has no address."));
    }
    Ok(found)
}

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
    fn only_public_addresses_are_reachable() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(!is_public(internal.parse().expect("address")), "{internal} must be refused");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().expect("address")), "{public} is public");
        }
    }

    #[tokio::test]
    async fn a_destination_is_https_to_a_public_address() {
        let strict = Outbound::default();
        for (url, why) in [
            ("http://example.com/hook", "must use https"),
            ("https://169.254.169.254/latest/meta-data", "internal address"),
            ("https://127.0.0.1:8443/", "internal address"),
            ("https://[::1]/", "internal address"),
            ("https://user:pw@example.com/", "user name or password"),
            ("ftp://example.com/", "not ftp"),
            ("not a url", "Not a URL"),
        ] {
            let err = check_destination(url, strict).await.expect_err(url);
            assert!(err.contains(why), "{url}: {err}");
        }
        let open = Outbound { allow_http: false, allow_private: true };
        assert!(check_destination("http://127.0.0.1:9/", open).await.is_ok());
    }

    #[test]
    fn the_signature_is_standard_webhooks_v1() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = r#"{"test": 2432232314}"#;
        let signature = sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
