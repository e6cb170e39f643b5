//! Integration tests through HTTP and the CLI. Every test runs on SQLite and on PostgreSQL,
//! each on a fresh database.

mod common;

mod access;
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
mod ops;
mod portfolio;
mod report;
mod search;
mod trust;
