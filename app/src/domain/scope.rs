//! What an API token may do.

use serde::{Deserialize, Serialize};

/// A permission of an API token. No scope allows signing off: that needs a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Upload test runs.
    EvidenceWrite,
    /// Read changes, failure modes and gates.
    ChangesRead,
    /// Create changes and failure modes, record the happy path.
    ChangesWrite,
    /// List, add, test and delete the team's webhooks, and read their deliveries.
    WebhooksManage,
    /// Record the team's incidents and read them (an incident tool's, or on-call's).
    IncidentsWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::EvidenceWrite,
        Scope::ChangesRead,
        Scope::ChangesWrite,
        Scope::WebhooksManage,
        Scope::IncidentsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EvidenceWrite => "evidence:write",
            Scope::ChangesRead => "changes:read",
            Scope::ChangesWrite => "changes:write",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::IncidentsWrite => "incidents:write",
        }
    }

    /// What it lets a token do, as the CI page lists it.
    pub fn meaning(self) -> &'static str {
        match self {
            Scope::EvidenceWrite => "upload test runs",
            Scope::ChangesRead => "read changes and gates",
            Scope::ChangesWrite => "create changes and failure modes",
            Scope::WebhooksManage => "add, test and delete the team's webhooks",
            Scope::IncidentsWrite => "record the team's incidents (an incident tool's)",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim())
    }

    /// Stored as a space-separated list.
    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn split(stored: &str) -> Vec<Scope> {
        stored.split_whitespace().filter_map(Self::parse).collect()
    }
}

/// A token as listed (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: super::ids::TokenId,
    pub name: String,
    /// The person a personal token belongs to (display name); `None` for a pipeline token.
    pub owner: Option<String>,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: super::time::Timestamp,
    pub expires_at: Option<super::time::Timestamp>,
    pub last_used_at: Option<super::time::Timestamp>,
    pub revoked_at: Option<super::time::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        assert_eq!(Scope::split(&Scope::join(&Scope::ALL)), Scope::ALL);
        assert_eq!(Scope::parse("admin"), None);
    }
}
