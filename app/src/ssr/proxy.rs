//! Which address a request came from: the TCP peer, or, when the peer is a trusted
//! reverse proxy, the client address the proxies recorded in `X-Forwarded-For`.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// The reverse proxies whose `X-Forwarded-For` is believed; empty (the default) trusts
/// nobody, and the header is then ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of IP addresses and CIDR ranges (`10.0.0.0/8, ::1`); an
    /// empty string is the empty list.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{entry:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl TrustedProxies {
    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address, given the TCP peer and the `X-Forwarded-For` value.
    ///
    /// An untrusted peer is the client, whatever it claims. A trusted peer passes the
    /// request on from the right-most address in `forwarded_for` (each proxy appends the
    /// address it received from): walking right to left, the first address that is not
    /// itself a trusted proxy is the client. Entries left of it were written by the client
    /// and prove nothing. An entry that is not an address ends the walk at the last hop
    /// reached, so a missing or malformed header leaves the peer; if every entry is a
    /// trusted proxy, the left-most is the client.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        for hop in forwarded_for.unwrap_or_default().rsplit(',') {
            let Ok(hop) = IpAddr::from_str(hop.trim()) else {
                break;
            };
            client = hop.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        client
    }

    /// [`client_ip`](Self::client_ip) for a request's headers. Several `X-Forwarded-For`
    /// headers read as one list, in order; a value that is not text reads as a malformed
    /// entry.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer.to_canonical();
        }
        let forwarded_for = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|value| value.to_str().unwrap_or("not-an-address"))
            .collect::<Vec<_>>()
            .join(",");
        self.client_ip(peer, (!forwarded_for.is_empty()).then_some(forwarded_for.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().expect("valid list")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    #[test]
    fn the_list_takes_addresses_and_ranges_and_refuses_anything_else() {
        assert_eq!(proxies(""), TrustedProxies::default());
        assert_eq!(proxies(" , "), TrustedProxies::default());
        let list = proxies("127.0.0.1, 10.0.0.0/8,::1,fd00::/8");
        assert!(list.contains(ip("127.0.0.1")));
        assert!(list.contains(ip("10.200.3.4")));
        assert!(list.contains(ip("::1")));
        assert!(list.contains(ip("fd12::1")));
        assert!(!list.contains(ip("127.0.0.2")));
        assert!(!list.contains(ip("11.0.0.1")));
        for bad in ["localhost", "10.0.0.0/33", "10.0.0.1:80", "1.2.3"] {
            let err = bad.parse::<TrustedProxies>().expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let list = proxies("10.0.0.0/8");
        assert_eq!(list.client_ip(ip("203.0.113.7"), Some("10.0.0.5, 198.51.100.1")), ip("203.0.113.7"));
        assert_eq!(TrustedProxies::default().client_ip(ip("127.0.0.1"), Some("1.2.3.4")), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_peer_forwards_the_right_most_untrusted_address() {
        let list = proxies("127.0.0.1");
        // The client prepended a spoofed address; the proxy appended the real one.
        assert_eq!(list.client_ip(ip("127.0.0.1"), Some("198.51.100.1, 203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(list.client_ip(ip("127.0.0.1"), Some("203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_through() {
        let list = proxies("127.0.0.1, 10.0.0.0/8");
        let forwarded = Some("198.51.100.1, 203.0.113.7, 10.1.2.3");
        assert_eq!(list.client_ip(ip("127.0.0.1"), forwarded), ip("203.0.113.7"));
        assert_eq!(list.client_ip(ip("127.0.0.1"), Some("10.9.9.9, 10.1.2.3")), ip("10.9.9.9"));
    }

    #[test]
    fn ipv6_peers_proxies_and_clients_work_too() {
        let list = proxies("::1, fd00::/8");
        assert_eq!(list.client_ip(ip("::1"), Some("2001:db8::7, fd00::2")), ip("2001:db8::7"));
        assert_eq!(list.client_ip(ip("2001:db8::9"), Some("2001:db8::7")), ip("2001:db8::9"));
        // A proxy reached over an IPv4-mapped IPv6 socket is the IPv4 address it maps.
        let v4 = proxies("127.0.0.1");
        assert_eq!(v4.client_ip(ip("::ffff:127.0.0.1"), Some("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(v4.client_ip(ip("::ffff:203.0.113.9"), None), ip("203.0.113.9"));
    }

    #[test]
    fn a_missing_or_malformed_header_leaves_the_last_trusted_hop() {
        let list = proxies("127.0.0.1, 10.0.0.0/8");
        let peer = ip("127.0.0.1");
        assert_eq!(list.client_ip(peer, None), peer);
        assert_eq!(list.client_ip(peer, Some("")), peer);
        assert_eq!(list.client_ip(peer, Some("not an address")), peer);
        assert_eq!(list.client_ip(peer, Some("203.0.113.7, 203.0.113.8:443")), peer);
        assert_eq!(list.client_ip(peer, Some("203.0.113.7,,")), peer);
        assert_eq!(list.client_ip(peer, Some("203.0.113.7, garbage, 10.0.0.2")), ip("10.0.0.2"));
        // Garbage the client wrote left of the real address does not matter.
        assert_eq!(list.client_ip(peer, Some("garbage, 203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn several_headers_read_as_one_list() {
        let list = proxies("127.0.0.1, 10.0.0.0/8");
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "203.0.113.7".parse().expect("value"));
        headers.append("x-forwarded-for", "10.0.0.2".parse().expect("value"));
        assert_eq!(list.client_of(ip("127.0.0.1"), &headers), ip("203.0.113.7"));
        assert_eq!(list.client_of(ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"));
    }
}
