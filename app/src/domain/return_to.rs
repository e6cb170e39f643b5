//! Where the login page sends the user once they are in: the page they asked for before it
//! sent them there (`/login?next=/changes/PAY-12`). Only a path of this site is kept, so a
//! crafted link cannot send someone who logs in to another site.

/// The longest address kept; a longer one falls back to the start page.
pub const MAX: usize = 2_000;

/// A path of this site, with its query: starts with one `/`, holds no backslash (browsers
/// read `/\host` as `//host`), no control character or space, and is not the login page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// `next` when it is a path of this site; `None` for an absolute, scheme-relative or
    /// otherwise unsafe address, which the caller replaces by the start page.
    pub fn parse(next: &str) -> Option<Self> {
        let mut chars = next.chars();
        let local = chars.next() == Some('/') && !matches!(chars.next(), Some('/'));
        let plain = next.chars().all(|c| c.is_ascii_graphic() && c != '\\');
        let loops = next == "/login" || next.starts_with("/login?") || next.starts_with("/login/");
        // Server functions and the CI API answer data, not pages.
        let page = !next.starts_with("/api/");
        (local && plain && !loops && page && next.len() <= MAX).then(|| Self(next.to_owned()))
    }

    /// Where to go once logged in: `next` if it is safe, the start page otherwise.
    pub fn or_start(next: Option<&str>) -> String {
        next.and_then(Self::parse).map_or_else(|| "/".to_owned(), |to| to.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ReturnTo;
    use proptest::prelude::*;

    #[test]
    fn paths_of_this_site_are_kept() {
        for path in ["/", "/changes/PAY-12", "/teams/PAY/changes?status=open&sort=target", "/search?q=a%20b"]
        {
            assert_eq!(ReturnTo::parse(path).map(|p| p.as_str().to_owned()).as_deref(), Some(path));
        }
    }

    #[test]
    fn other_sites_and_odd_addresses_fall_back_to_the_start_page() {
        for next in [
            "",
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "/%0d%0aSet-Cookie:x",
            "/a\r\nLocation: //evil",
            "/a b",
            "javascript:alert(1)",
            "changes/PAY-1",
            "/login",
            "/login?next=/login",
            "/api/login",
            "/api/v1/changes",
        ] {
            // A percent-encoded newline is harmless text in a path; a raw one is refused.
            let kept = ReturnTo::parse(next).is_some();
            assert_eq!(kept, next == "/%0d%0aSet-Cookie:x", "{next:?}");
        }
        assert_eq!(ReturnTo::or_start(Some("//evil.example")), "/");
        assert_eq!(ReturnTo::or_start(None), "/");
        assert_eq!(ReturnTo::or_start(Some(&format!("/{}", "a".repeat(super::MAX)))), "/");
    }

    proptest! {
        /// Whatever `next` is, the user lands on this site: a path that starts with one `/`
        /// and that no browser reads as another host.
        #[test]
        fn where_a_login_lands_is_always_this_site(next in ".{0,40}") {
            let to = ReturnTo::or_start(Some(&next));
            prop_assert!(to.starts_with('/'));
            prop_assert!(!to.starts_with("//") && !to.contains('\\'));
            prop_assert!(to.chars().all(|c| c.is_ascii_graphic()));
        }
    }
}
