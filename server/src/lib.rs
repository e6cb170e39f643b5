//! The Premortem server: settings, startup and the command line. `main.rs` only calls
//! [`cli::run`]; integration tests build the app through [`startup`].

pub mod assets;
pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod forms;
pub mod oidc;
pub mod ops;
pub mod reports;
pub mod rest;
pub mod startup;
pub mod webhooks;
