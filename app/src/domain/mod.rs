//! Pure, wasm-safe domain types: no I/O, no async. Everything that crosses into the
//! system is parsed into one of these types at the edge.

/// Lets serde build these validated types only through their `parse`, so a value read
/// from the wire (a server-function reply, stored JSON) is as checked as one typed in.
/// Each type says `#[serde(try_from = "String")]`; serializing stays the plain string.
macro_rules! deserialize_through_parse {
    ($($name:ty),+ $(,)?) => {$(
        impl TryFrom<String> for $name {
            type Error = $crate::domain::AppError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }
    )+};
}

pub mod catalogue;
pub mod change;
pub mod error;
pub mod event;
pub mod failure_mode;
pub mod gate;
pub mod identity;
pub mod ids;
pub mod incident;
pub mod learning;
pub mod names;
pub mod portfolio;
pub mod return_to;
pub mod role;
pub mod run;
pub mod scope;
pub mod search;
pub mod text;
pub mod time;
pub mod webhook;

pub use error::AppError;
pub use ids::{ChangeId, FailureModeId, TeamId, UserId};
pub use names::{DisplayName, Password, TeamName, TeamSlug, Username};
pub use role::{Principal, Role};
