//! Identities at the OpenID provider and the provider groups that give team roles, as the
//! admin and account pages show them.

use super::time::Timestamp;
use super::{AppError, Role, TeamId};
use serde::{Deserialize, Serialize};

/// A user's identity at the provider: linked at its first sign-in, or a pre-link waiting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    /// The address it was pre-linked by, if it was.
    pub email: Option<String>,
    /// When its first sign-in linked it; none while a pre-link waits.
    pub linked_at: Option<Timestamp>,
    pub last_sign_in_at: Option<Timestamp>,
}

/// A session a user is signed in with, as their account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub id: i64,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub client: String,
    pub user_agent: String,
    /// The session this page was loaded with.
    pub current: bool,
}

/// A provider group's role in a team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRole {
    pub group: String,
    pub team: TeamId,
    pub team_slug: String,
    pub role: Role,
}

/// A group's name as the provider sends it: 1–200 characters, no control characters, kept as
/// written (providers compare them exactly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let len = raw.chars().count();
        if raw.trim().is_empty() || len > 200 || raw.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "group",
                "A group is 1 to 200 characters without control characters.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address to pre-link by, lowercased; none for an empty field (withdraw the pre-link).
pub fn parse_email(raw: &str) -> Result<Option<String>, AppError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Ok(None);
    }
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.matches('@').count() == 1;
    if valid {
        Ok(Some(email))
    } else {
        Err(AppError::invalid("email", "Enter an email address like name@example.com."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_lowercased() {
        assert_eq!(parse_email(" Ada@Example.COM ").expect("valid"), Some("ada@example.com".to_owned()));
        assert_eq!(parse_email("").expect("empty"), None);
        for bad in
            ["ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@example.com", "ada@.com"]
        {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_names_are_kept_as_written() {
        assert_eq!(GroupName::parse("Premortem Leads").expect("valid").as_str(), "Premortem Leads");
        assert!(GroupName::parse(" ").is_err());
        assert!(GroupName::parse("a\nb").is_err());
        assert!(GroupName::parse(&"g".repeat(201)).is_err());
    }
}
