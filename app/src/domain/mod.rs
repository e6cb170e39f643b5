//! Pure, wasm-safe domain types: no I/O, no async. Everything that crosses into the
//! system is parsed into one of these types at the edge.

pub mod catalogue;
pub mod change;
pub mod error;
pub mod failure_mode;
pub mod gate;
pub mod ids;
pub mod names;
pub mod portfolio;
pub mod role;
pub mod scope;
pub mod time;

pub use error::AppError;
pub use ids::{TeamId, UserId};
pub use names::{DisplayName, Password, TeamName, TeamSlug, Username};
pub use role::{Principal, Role};
