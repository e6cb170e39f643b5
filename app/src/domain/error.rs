//! The one error type of the browser boundary. Every message here is safe to show a user:
//! internal causes are logged on the server and never carried in this type.

use serde::{Deserialize, Serialize};

/// What a server function can answer instead of a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No valid session.
    #[error("Please log in to continue.")]
    Unauthenticated,
    /// Logged in, but this action is not allowed for this user on this object.
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// Not allowed, and why: what the caller holds can never do this (an API token without
    /// the scope).
    #[error("{0}")]
    Denied(String),
    /// The object does not exist (or is not visible to this user).
    #[error("{0} was not found.")]
    NotFound(String),
    /// Input that failed validation; `field` names the form field it belongs to.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The request conflicts with existing data (a duplicate name, a stale version).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the client should wait.
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    /// The database or another dependency is unavailable; retrying later may succeed.
    #[error("The service is temporarily unavailable. Please try again shortly.")]
    Unavailable,
    /// An unexpected failure; details are in the server log under this reference.
    #[error("Something went wrong on our side (reference {reference}).")]
    Internal { reference: String },
    /// The request itself could not be transported or decoded.
    #[error("The request could not be processed: {0}")]
    Request(String),
}

impl AppError {
    /// A validation error for one form field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), message: message.into() }
    }

    /// The message to show next to `field`, if this error belongs to it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid { field: f, message } if f == field => Some(message.clone()),
            _ => None,
        }
    }
}

/// `raw` as it may appear inside an error message: at most 40 characters, so no reply
/// (or the redirect a plain form gets) grows with what a client sent.
pub fn bounded(raw: &str) -> String {
    clip(raw.trim(), 40)
}

/// `text` cut to its first `max` characters, with `…` where it was cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) => {
                Self::Request("some fields were missing or malformed".to_owned())
            }
            E::Request(_) | E::Response(_) => Self::Request("the server could not be reached".to_owned()),
            _ => Self::Request("unexpected reply".to_owned()),
        }
    }
}
