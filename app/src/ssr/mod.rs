//! Server-only code: application state, the store (SQLite and PostgreSQL), authentication,
//! the audit log and client addresses behind proxies. Used by the server functions in `api`
//! and by the `server` crate.

pub mod access;
pub mod audit;
pub mod auth;
pub mod coverage;
pub mod db;
pub mod error;
pub mod gates;
pub mod ingest;
pub mod outbound;
pub mod portfolio;
pub mod proxy;
pub mod review;
pub mod settle;
pub mod state;
pub mod store;
pub mod write;

pub use state::{AppState, state};

/// The audit actor for a logged-in user.
pub fn audit_actor(user: &crate::domain::Principal) -> audit::Actor {
    audit::Actor::User { id: user.id, username: user.username.clone() }
}
