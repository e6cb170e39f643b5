//! A team's webhooks on their page, for its leads: add (the secret is shown once), pause and
//! resume, rotate the secret, delete, send a test event, recent deliveries and sending one
//! again. The same store functions serve the API (`server/src/rest/webhooks.rs`).

use crate::domain::AppError;
use crate::domain::webhook::{Delivery, Webhook};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How many of each webhook's deliveries its page shows, newest first.
pub const DELIVERIES_SHOWN: i64 = 10;

/// A team's webhooks page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub team: String,
    /// Each webhook, oldest first, with its most recent deliveries.
    pub hooks: Vec<(Webhook, Vec<Delivery>)>,
    /// A secret made by a plain form post in this session (a new webhook's, or a rotated
    /// one's), shown once.
    pub new_secret: Option<String>,
    /// The add form's idempotency key, new with each page: the form sent twice (a double
    /// click, a resent post) adds one webhook.
    pub form_key: String,
}

/// The team's webhooks page; what the page shows as a rotated or new secret.
#[cfg(feature = "ssr")]
fn page_path(team: &str) -> String {
    format!("/teams/{team}/webhooks")
}

/// The team's webhooks. Team leads and admins.
#[server(endpoint = "webhooks")]
pub async fn webhooks_page(team: String) -> Result<WebhooksView, AppError> {
    use crate::domain::Role;
    use crate::ssr::store::webhooks;
    let (_, state, team) = super::team_access(&team, Role::Lead).await?;
    let hooks = webhooks::list_with_deliveries(&state.db, team.id, DELIVERIES_SHOWN).await?;
    let new_secret = super::flash::take(&page_path(&team.slug)).await?;
    Ok(WebhooksView { team: team.slug, hooks, new_secret, form_key: super::form_key() })
}

/// Adds a webhook; answers its signing secret (the only time it is shown). `events` are
/// type names, or `*` for every type (which wins over any listed beside it). The same
/// `idempotency_key` again answers the webhook it added. Team leads and admins.
#[server(endpoint = "create_webhook")]
pub async fn create_webhook(
    team: String,
    url: String,
    format: String,
    events: Option<Vec<String>>,
    idempotency_key: Option<String>,
) -> Result<String, AppError> {
    use crate::domain::Role;
    use crate::ssr::audit_actor;
    use crate::ssr::store::webhooks::{self, NewWebhook};
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let mut events = events.unwrap_or_default();
    if events.iter().any(|e| e == "*") {
        events = vec!["*".to_owned()];
    }
    let key = idempotency_key
        .as_deref()
        .map(crate::domain::text::idempotency_key)
        .transpose()
        .map_err(|e| AppError::invalid("idempotency_key", e))?;
    let new = NewWebhook::check(&url, &events, Some(&format), state.outbound).await?;
    let actor = audit_actor(&user);
    let (_, secret) = webhooks::create(&state.db, &actor, team.id, Some(user.id), &new, key).await?;
    // A Slack message is not signed: its URL is its secret.
    if new.format == crate::domain::webhook::Format::Standard {
        super::flash::keep(&page_path(&team.slug), &secret).await?;
    }
    Ok(secret)
}

/// Pauses (`paused`) or resumes (`active`) a webhook. Team leads and admins.
#[server(endpoint = "set_webhook_state")]
pub async fn set_webhook_state(team: String, id: i64, state: String) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::ids::WebhookId;
    use crate::domain::webhook::WebhookState;
    use crate::ssr::audit_actor;
    use crate::ssr::store::webhooks;
    let (user, app, team) = super::team_access(&team, Role::Lead).await?;
    let after = WebhookState::settable(&state).map_err(|e| AppError::invalid("state", e))?;
    webhooks::set_state(&app.db, &audit_actor(&user), team.id, WebhookId(id), after).await.map(drop)
}

/// Gives a webhook a new signing secret, answered (and shown) once; the one it replaces
/// signs too for `overlap_hours`. Team leads and admins.
#[server(endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(team: String, id: i64, overlap_hours: String) -> Result<String, AppError> {
    use crate::domain::Role;
    use crate::domain::ids::WebhookId;
    use crate::domain::webhook::overlap;
    use crate::ssr::audit_actor;
    use crate::ssr::store::webhooks;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let overlap = overlap(&overlap_hours).map_err(|e| AppError::invalid("overlap_hours", e))?;
    let (_, secret) =
        webhooks::rotate_secret(&state.db, &audit_actor(&user), team.id, WebhookId(id), overlap).await?;
    super::flash::keep(&page_path(&team.slug), &secret).await?;
    Ok(secret)
}

/// Deletes a webhook and its deliveries, sent or not. Team leads and admins.
#[server(endpoint = "delete_webhook")]
pub async fn delete_webhook(team: String, id: i64) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::ids::WebhookId;
    use crate::ssr::audit_actor;
    use crate::ssr::store::webhooks;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    webhooks::delete(&state.db, &audit_actor(&user), team.id, WebhookId(id)).await
}

/// Queues a test event for a webhook. Team leads and admins.
#[server(endpoint = "test_webhook")]
pub async fn test_webhook(team: String, id: i64) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::ids::WebhookId;
    use crate::ssr::audit_actor;
    use crate::ssr::store::webhooks;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    webhooks::test(&state.db, &audit_actor(&user), team.id, WebhookId(id)).await.map(drop)
}

/// Sends one of a webhook's deliveries again, from its first try. Team leads and admins.
#[server(endpoint = "redeliver_webhook")]
pub async fn redeliver_webhook(team: String, id: i64, delivery: i64) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::ids::{DeliveryId, WebhookId};
    use crate::ssr::audit_actor;
    use crate::ssr::store::webhooks;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    webhooks::requeue(&state.db, &audit_actor(&user), team.id, WebhookId(id), DeliveryId(delivery))
        .await
        .map(drop)
}
