//! Persistence. Reads take the read pool; every mutation runs in one write transaction
//! together with its audit entry.

pub mod changes;
pub mod evidence;
pub mod teams;
pub mod templates;
pub mod tokens;
pub mod users;
