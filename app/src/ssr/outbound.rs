//! Where a webhook may point: `https` (or `http` when allowed) to a host whose every address
//! is on the public internet (unless internal ones are allowed), checked after its name is
//! resolved. Asked when a subscription is added (over the API and on its page) and before
//! every try (by the server's dispatcher, whose client resolves names through [`resolve`] and
//! [`is_public`] again when it connects, so a name re-pointed in between cannot reach inside).

use crate::domain::webhook;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use url::Url;

/// What a destination may be.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outbound {
    /// `http` as well as `https`.
    pub allow_http: bool,
    /// Private, loopback, link-local and metadata addresses (implies `allow_http`).
    pub allow_private: bool,
}

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
pub fn refusal(ip: IpAddr) -> String {
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
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
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
}
