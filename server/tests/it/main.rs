//! Integration tests through HTTP and the CLI. Every test runs on SQLite and on PostgreSQL,
//! each on a fresh database.
//!
//! A test here is one scenario, read from top to bottom as a user or an attacker would go
//! (the hostile-input walk is one pass over every form): cutting it into pieces would hide
//! its order, so the function-length limit the rest of the code keeps does not apply.
#![allow(clippy::too_many_lines, reason = "a test is one scenario, read in order")]

mod common;

mod access;
mod account;
mod api;
mod assets;
mod audit;
mod auth;
mod backup;
mod catalogue;
mod change_edits;
mod changes;
mod crash;
mod db;
mod hostile;
mod incidents;
mod learning;
mod ops;
mod portfolio;
mod report;
mod search;
mod sso;
mod team_admin;
mod trust;
mod webhooks;
