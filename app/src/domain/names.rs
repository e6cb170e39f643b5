//! Validated names. Each type keeps its field private and is built only through `parse`,
//! which returns a validation error naming the form field.

use super::AppError;
use serde::{Deserialize, Serialize};

/// A login name: 3–32 characters of `a-z`, `0-9`, `.`, `_`, `-`, stored lowercase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim().to_lowercase();
        let len = name.chars().count();
        if !(3..=32).contains(&len) {
            return Err(AppError::invalid("username", "Username must be 3 to 32 characters."));
        }
        if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)) {
            return Err(AppError::invalid(
                "username",
                "Username may contain only letters, digits, '.', '_' and '-'.",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name as shown in the UI: 1–100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 100 || name.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "display_name",
                "Name must be 1 to 100 characters without control characters.",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 10–256 characters. Its `Debug` never prints it and it cannot be serialized.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Validates a password chosen by a user.
    pub fn parse_new(field: &str, raw: &str) -> Result<Self, AppError> {
        let len = raw.chars().count();
        if len < 10 {
            return Err(AppError::invalid(field, "Password must be at least 10 characters."));
        }
        if len > 256 {
            return Err(AppError::invalid(field, "Password must be at most 256 characters."));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps a password typed at login, where only a length cap applies (long inputs are
    /// refused before any hashing work is spent on them).
    pub fn attempt(raw: &str) -> Option<Self> {
        (raw.len() <= 1024).then(|| Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A team's short handle, also the prefix of its change keys (`PAY` in `PAY-12`):
/// 2–12 characters, a letter then letters or digits, stored uppercase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct TeamSlug(String);

impl TeamSlug {
    const MIN: usize = 2;
    const MAX: usize = 12;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let slug = raw.trim().to_ascii_uppercase();
        let valid = (Self::MIN..=Self::MAX).contains(&slug.len())
            && slug.starts_with(|c: char| c.is_ascii_uppercase())
            && slug.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !valid {
            return Err(AppError::invalid(
                "slug",
                "Slug must be 2 to 12 letters or digits, starting with a letter (e.g. PAY).",
            ));
        }
        Ok(Self(slug))
    }

    /// A slug as [`TeamSlug::parse`] reads it once trimmed, as a regular expression (not
    /// anchored): a letter, then letters or digits, any case.
    pub fn shape() -> String {
        format!("[A-Za-z][A-Za-z0-9]{{{},{}}}", Self::MIN - 1, Self::MAX - 1)
    }

    /// The slugs [`TeamSlug::parse`] reads, with spaces around, as a regular expression.
    pub fn pattern() -> String {
        format!("^{ws}*{}{ws}*$", Self::shape(), ws = super::text::whitespace())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A team's display name: 1–100 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 100 || name.chars().any(char::is_control) {
            return Err(AppError::invalid("name", "Team name must be 1 to 100 characters."));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

deserialize_through_parse!(Username, DisplayName, TeamSlug, TeamName);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_from_the_wire_go_through_parse() {
        let slug: TeamSlug = serde_json::from_str("\" pay \"").expect("valid");
        assert_eq!(slug.as_str(), "PAY");
        assert_eq!(serde_json::to_string(&slug).expect("json"), "\"PAY\"");
        for bad in ["\"P\"", "\"1PAY\"", "\"PA Y\""] {
            assert!(serde_json::from_str::<TeamSlug>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Username>("\"no\"").is_err());
        assert!(serde_json::from_str::<DisplayName>("\"a\\u0007b\"").is_err());
        assert!(serde_json::from_str::<TeamName>("\"\"").is_err());
        let key: crate::domain::change::ChangeKey =
            serde_json::from_str(r#"{"team":"pay","number":12}"#).expect("valid");
        assert_eq!(key.to_string(), "PAY-12");
        assert_eq!(serde_json::to_string(&key).expect("json"), r#"{"team":"PAY","number":12}"#);
        for bad in [r#"{"team":"pay","number":0}"#, r#"{"team":"p-1","number":3}"#] {
            assert!(serde_json::from_str::<crate::domain::change::ChangeKey>(bad).is_err(), "{bad}");
        }
        let selector: crate::domain::failure_mode::Selector =
            serde_json::from_str("\"queue::*\"").expect("valid");
        assert_eq!(serde_json::to_string(&selector).expect("json"), "\"queue::*\"");
        assert!(serde_json::from_str::<crate::domain::failure_mode::Selector>("\"\"").is_err());
        use crate::domain::failure_mode::Rating;
        assert_eq!(serde_json::from_str::<Rating>("5").expect("valid").get(), 5);
        for bad in ["0", "6", "255"] {
            assert!(serde_json::from_str::<Rating>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(Username::parse("  Alice.B ").map(|u| u.0), Ok("alice.b".to_owned()));
    }

    #[test]
    fn bad_usernames_name_the_field() {
        for bad in ["", "ab", "has space", "semi;colon", &"x".repeat(33)] {
            let err = Username::parse(bad).expect_err(bad);
            assert!(err.for_field("username").is_some(), "{bad}: {err:?}");
        }
    }

    #[test]
    fn passwords_need_ten_characters_and_never_print() {
        assert!(Password::parse_new("password", "short").is_err());
        let password = Password::parse_new("password", "long enough secret").expect("valid");
        assert!(!format!("{password:?}").contains("secret"));
        assert!(Password::attempt(&"x".repeat(2000)).is_none());
    }

    #[test]
    fn slugs_are_uppercase_letters_then_digits() {
        assert_eq!(TeamSlug::parse("pay").map(|s| s.0), Ok("PAY".to_owned()));
        for bad in ["P", "1PAY", "PAY-2", "PAYMENTSPLATFORM", "pä"] {
            assert!(TeamSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn team_names_refuse_empty_and_control_characters() {
        assert!(TeamName::parse("   ").is_err());
        assert!(TeamName::parse("a\u{7}b").is_err());
        assert!(TeamName::parse("Payments").is_ok());
    }

    proptest! {
        #[test]
        fn any_accepted_username_parses_to_itself(raw in "\\PC{0,40}") {
            if let Ok(name) = Username::parse(&raw) {
                prop_assert_eq!(Username::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(name.as_str().len() <= 32);
            }
        }

        #[test]
        fn any_accepted_slug_is_a_valid_key_prefix(raw in "\\PC{0,16}") {
            if let Ok(slug) = TeamSlug::parse(&raw) {
                prop_assert!(!slug.as_str().contains('-'));
                prop_assert_eq!(TeamSlug::parse(slug.as_str()), Ok(slug.clone()));
            }
        }
    }
}
