//! One file per page.

mod account;
mod admin;
mod changes;
mod ci;
mod dashboard;
mod failure_mode;
mod import;
mod incidents;
mod login;
mod search;
mod teams;
mod templates;
mod webhooks;

pub use account::AccountPage;
pub use admin::{AdminTeams, AdminUsers};
pub use changes::{ChangePage, ChangesPage, EditChangePage, NewChangePage};
pub use ci::CiPage;
pub use dashboard::Dashboard;
pub use failure_mode::FailureModePage;
pub use import::ImportPage;
pub use login::LoginPage;
pub use search::SearchPage;
pub use teams::{TeamPage, TeamsPage};
pub use templates::TemplatesPage;
pub use webhooks::WebhooksPage;

use leptos::prelude::*;
use leptos_meta::Title;

/// Any path no route matches.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <h1>"Page not found"</h1>
        <p>"There is nothing at this address. " <a href="/">"Go to the dashboard"</a> "."</p>
    }
}
