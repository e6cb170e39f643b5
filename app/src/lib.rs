//! Premortem: plan how a change will break before it ships.
//!
//! The module tree: `domain` (pure, wasm-safe), `api` (server functions), `ui` (routes and
//! pages), `ssr` (server-only state, store and auth).

// Leptos views are nested types; the change page's is deep enough that a fresh (not
// incremental) build of the browser bundle can exceed the default limit of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;

pub use ui::{App, Bundle, shell};

/// Browser entry point: starts the reactive runtime. The page script (`ui::BundleScripts`)
/// then hydrates each island on the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
