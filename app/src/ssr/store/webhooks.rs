//! Webhook subscriptions and their outbox. A mutation's own transaction queues one delivery
//! per matching subscription ([`enqueue`], called by `Write::record`), so no mutation can
//! forget to notify and nothing is queued for a mutation that rolled back. The server's
//! dispatcher takes due deliveries under a lease ([`claim`]), so several instances share the
//! work without sending a row twice at once, and a crash leaves the row to be taken again
//! when its lease runs out (at least once).

use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, WebhookId};
use crate::domain::time::{Days, Timestamp};
use crate::domain::webhook::{
    Delivery, DeliveryState, EventFilter, Format, Notice, WEBHOOKS_MAX, Webhook, WebhookState, origin,
};
use crate::domain::{AppError, TeamId, UserId};
use crate::ssr::audit::Actor;
use crate::ssr::db::{Backend, Db, LockSpace, advisory_lock};
use crate::ssr::outbound::{Outbound, check_destination};
use serde_json::{Map, Value};
use sqlx::Row;
use std::time::Duration;

/// The `type` of a test delivery (not an event type a subscription chooses).
pub const TEST_TYPE: &str = "webhook.test";

const WEBHOOK_COLUMNS: &str =
    "id, team_id, url, format, events, state, disabled_reason, failing_since, previous_until, created_at";

fn webhook(row: &sqlx::any::AnyRow) -> Result<Webhook, sqlx::Error> {
    let decode = |what: &str| sqlx::Error::Decode(format!("unknown webhook {what}").into());
    Ok(Webhook {
        id: row.try_get("id")?,
        team_id: row.try_get("team_id")?,
        url: row.try_get("url")?,
        format: Format::parse(&row.try_get::<String, _>("format")?).ok_or_else(|| decode("format"))?,
        events: EventFilter::from_stored(&row.try_get::<String, _>("events")?).names(),
        state: WebhookState::parse(&row.try_get::<String, _>("state")?).ok_or_else(|| decode("state"))?,
        disabled_reason: row.try_get("disabled_reason")?,
        failing_since: row.try_get("failing_since")?,
        previous_until: row
            .try_get::<Option<Timestamp>, _>("previous_until")?
            .filter(|until| *until > Timestamp::now()),
        created_at: row.try_get("created_at")?,
    })
}

const DELIVERY_COLUMNS: &str = "id, event_type, change_key, state, attempts, occurred_at, next_at, last_status, \
     last_error, last_attempt_at, done_at";

fn delivery(row: &sqlx::any::AnyRow) -> Result<Delivery, sqlx::Error> {
    let state = DeliveryState::parse(&row.try_get::<String, _>("state")?)
        .ok_or_else(|| sqlx::Error::Decode("unknown delivery state".into()))?;
    Ok(Delivery {
        id: row.try_get("id")?,
        event_type: row.try_get("event_type")?,
        change: row.try_get("change_key")?,
        state,
        attempts: row.try_get("attempts")?,
        occurred_at: row.try_get("occurred_at")?,
        next_at: (state == DeliveryState::Pending).then(|| row.try_get("next_at")).transpose()?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        done_at: row.try_get("done_at")?,
    })
}

pub fn not_found(id: WebhookId) -> AppError {
    AppError::NotFound(format!("Webhook {id}"))
}

/// A new signing secret: `whsec_` and the base64 of 24 random bytes (Standard Webhooks).
fn new_secret() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// What a new subscription is: where, in which format, for which events.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub url: String,
    /// The URL's origin, which the audit log shows (a Slack URL's path is its secret).
    pub destination: String,
    pub format: Format,
    pub events: EventFilter,
}

impl NewWebhook {
    /// A subscription as a lead asked for it (a URL, event type names or `*`, a format or
    /// none), each field checked by the domain's rule, the URL's destination resolved and
    /// checked; a refusal names its field.
    pub async fn check<S: AsRef<str>>(
        url: &str,
        events: &[S],
        format: Option<&str>,
        outbound: Outbound,
    ) -> Result<Self, AppError> {
        let format = Format::chosen(format).map_err(|e| AppError::invalid("format", e))?;
        let events = EventFilter::parse(events).map_err(|e| AppError::invalid("events", e))?;
        let url = check_destination(url, outbound).await.map_err(|e| AppError::invalid("url", e))?;
        Ok(NewWebhook { destination: origin(url.as_str()).to_owned(), url: url.to_string(), format, events })
    }
}

/// Adds a subscription for `team`; answers it and its secret, the only time the secret is
/// shown. With an idempotency `key` the team used before, it answers the subscription that
/// key added (the same, so a retry adds no second one) or refuses other settings.
pub async fn create(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    created_by: Option<UserId>,
    new: &NewWebhook,
    key: Option<&str>,
) -> Result<(Webhook, String), AppError> {
    let secret = new_secret();
    let mut tx = db.begin_write().await?;
    // Two adds at once (on PostgreSQL, where writers run side by side) are counted against
    // the cap, and see each other's key, one after the other. A shared lock number only
    // serialises more.
    let lock = i32::try_from(team.0 & 0x7fff_ffff).unwrap_or_default();
    advisory_lock(&mut tx, db.backend(), LockSpace::TeamWebhooks, lock).await?;
    if let Some(key) = key {
        let added = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS}, secret FROM webhooks WHERE team_id = $1 AND idempotency_key = $2"
        ))
        .bind(team)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = added {
            let hook = webhook(&row)?;
            let events: String = row.try_get("events")?;
            if hook.url != new.url || hook.format != new.format || events != new.events.to_stored() {
                return Err(AppError::invalid(
                    "idempotency_key",
                    format!(
                        "This Idempotency-Key added webhook {} with other settings: use a new key for a new webhook.",
                        hook.id
                    ),
                ));
            }
            return Ok((hook, row.try_get("secret")?));
        }
    }
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE team_id = $1")
        .bind(team)
        .fetch_one(&mut *tx)
        .await?;
    if held >= WEBHOOKS_MAX {
        return Err(AppError::Conflict(format!(
            "A team has at most {WEBHOOKS_MAX} webhooks: delete one before adding another."
        )));
    }
    let row = sqlx::query(&format!(
        "INSERT INTO webhooks (team_id, url, format, events, secret, created_by, created_at, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {WEBHOOK_COLUMNS}"
    ))
    .bind(team)
    .bind(&new.url)
    .bind(new.format.as_str())
    .bind(new.events.to_stored())
    .bind(&secret)
    .bind(created_by)
    .bind(Timestamp::now())
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    let hook = webhook(&row)?;
    tx.record(
        actor,
        Event::WebhookCreated {
            team,
            webhook: hook.id,
            destination: new.destination.clone(),
            events: new.events.to_stored(),
            format: new.format.as_str().to_owned(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((hook, secret))
}

/// The team's subscriptions, oldest first.
pub async fn list(db: &Db, team: TeamId) -> Result<Vec<Webhook>, AppError> {
    let rows = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE team_id = $1 ORDER BY id"))
        .bind(team)
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(webhook).collect::<Result<_, _>>()?)
}

/// The team's subscription `id`; another team's is not found.
pub async fn get(db: &Db, team: TeamId, id: WebhookId) -> Result<Webhook, AppError> {
    let row = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND team_id = $2"))
        .bind(id)
        .bind(team)
        .fetch_optional(db.read())
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(webhook(&row)?)
}

/// Pauses or resumes a subscription (a disabled one may be resumed: its leads fixed the
/// endpoint). Resuming clears the run of failures. Answers it as it now is.
pub async fn set_state(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    id: WebhookId,
    after: WebhookState,
) -> Result<Webhook, AppError> {
    let mut tx = db.begin_write().await?;
    let before = sqlx::query_scalar::<_, String>("SELECT state FROM webhooks WHERE id = $1 AND team_id = $2")
        .bind(id)
        .bind(team)
        .fetch_optional(&mut *tx)
        .await?
        .and_then(|s| WebhookState::parse(&s))
        .ok_or_else(|| not_found(id))?;
    if before != after {
        sqlx::query(
            "UPDATE webhooks SET state = $1, disabled_reason = NULL, failing_since = NULL WHERE id = $2",
        )
        .bind(after.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.record(actor, Event::WebhookStateSet { team, webhook: id, before, after, reason: None }).await?;
    }
    let row = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(webhook(&row)?)
}

/// Gives a subscription a new secret, answered this once; deliveries are signed with both
/// it and the one before for `overlap` (none: the old one stops at once), so receivers can
/// switch without missing one.
pub async fn rotate_secret(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    id: WebhookId,
    overlap: Duration,
) -> Result<(Webhook, String), AppError> {
    let secret = new_secret();
    let previous_until = Timestamp::now() + overlap;
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(&format!(
        "UPDATE webhooks SET previous_secret = secret, previous_until = $1, secret = $2
         WHERE id = $3 AND team_id = $4 RETURNING {WEBHOOK_COLUMNS}"
    ))
    .bind(previous_until)
    .bind(&secret)
    .bind(id)
    .bind(team)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| not_found(id))?;
    tx.record(actor, Event::WebhookSecretRotated { team, webhook: id, previous_until }).await?;
    tx.commit().await?;
    Ok((webhook(&row)?, secret))
}

/// Deletes a subscription and its deliveries, sent or not.
pub async fn delete(db: &Db, actor: &Actor, team: TeamId, id: WebhookId) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let url: String = sqlx::query_scalar("SELECT url FROM webhooks WHERE id = $1 AND team_id = $2")
        .bind(id)
        .bind(team)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(id))?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.record(actor, Event::WebhookDeleted { team, webhook: id, destination: origin(&url).to_owned() })
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The subscription's most recent deliveries, newest first.
pub async fn deliveries(db: &Db, team: TeamId, id: WebhookId, limit: i64) -> Result<Vec<Delivery>, AppError> {
    get(db, team, id).await?;
    latest(db, id, limit).await
}

/// The team's subscriptions, oldest first, each with its most recent deliveries.
pub async fn list_with_deliveries(
    db: &Db,
    team: TeamId,
    limit: i64,
) -> Result<Vec<(Webhook, Vec<Delivery>)>, AppError> {
    let mut listed = Vec::new();
    for hook in list(db, team).await? {
        let deliveries = latest(db, hook.id, limit).await?;
        listed.push((hook, deliveries));
    }
    Ok(listed)
}

async fn latest(db: &Db, id: WebhookId, limit: i64) -> Result<Vec<Delivery>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(delivery).collect::<Result<_, _>>()?)
}

/// Queues a test delivery for the subscription (sent whatever events it chose, and even
/// while paused it waits for resuming); answers it.
pub async fn test(db: &Db, actor: &Actor, team: TeamId, id: WebhookId) -> Result<Delivery, AppError> {
    get(db, team, id).await?;
    let mut tx = db.begin_write().await?;
    let now = Timestamp::now();
    let mut data = Map::new();
    data.insert("message".to_owned(), "A test event from Premortem: this endpoint is reachable.".into());
    let row = insert(id, TEST_TYPE, "", &Value::Null, &data, now).fetch_one(&mut *tx).await?;
    let queued = delivery(&row)?;
    tx.record(actor, Event::WebhookTested { team, webhook: id, delivery: queued.id }).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Queues a delivery of the subscription again, from its first try (it keeps its id, so a
/// receiver that saw it can tell).
pub async fn requeue(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    id: WebhookId,
    delivery_id: DeliveryId,
) -> Result<Delivery, AppError> {
    get(db, team, id).await?;
    let mut tx = db.begin_write().await?;
    let now = Timestamp::now();
    let row = sqlx::query(&format!(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = $1, queued_at = $1,
                lease_until = 0, done_at = NULL
         WHERE id = $2 AND webhook_id = $3 AND state <> 'pending' RETURNING {DELIVERY_COLUMNS}"
    ))
    .bind(now)
    .bind(delivery_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        let exists = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2",
        )
        .bind(delivery_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        return Err(match exists {
            Some(_) => AppError::Conflict(format!(
                "Delivery {delivery_id} of webhook {id} is waiting to be sent already."
            )),
            None => AppError::NotFound(format!("Delivery {delivery_id} of webhook {id}")),
        });
    };
    tx.record(actor, Event::DeliveryRequeued { team, webhook: id, delivery: delivery_id }).await?;
    tx.commit().await?;
    Ok(delivery(&row)?)
}

fn insert<'q>(
    webhook: WebhookId,
    kind: &'q str,
    change_key: &'q str,
    change: &Value,
    data: &Map<String, Value>,
    at: Timestamp,
) -> crate::ssr::store::AnyQuery<'q> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, event_type, change_key, change, data, queued_at, occurred_at, next_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $6)
         RETURNING id, event_type, change_key, state, attempts, occurred_at, next_at, last_status, last_error,
                   last_attempt_at, done_at",
    )
    .bind(webhook)
    .bind(kind)
    .bind(change_key)
    .bind(change.to_string())
    .bind(Value::Object(data.clone()).to_string())
    .bind(at)
}

/// Queues `notice` for each of its team's active subscriptions that chose its type, in the
/// mutation's transaction. The change is named as it is now (title, status, team).
pub async fn enqueue(conn: &mut sqlx::AnyConnection, notice: &Notice) -> Result<(), sqlx::Error> {
    let hooks = sqlx::query("SELECT id, events FROM webhooks WHERE team_id = $1 AND state = 'active'")
        .bind(notice.team)
        .fetch_all(&mut *conn)
        .await?;
    let matching: Vec<WebhookId> = hooks
        .iter()
        .filter(|row| {
            row.try_get::<String, _>("events")
                .is_ok_and(|e| EventFilter::from_stored(&e).matches(notice.kind))
        })
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    if matching.is_empty() {
        return Ok(());
    }
    let row = sqlx::query(
        "SELECT c.title, c.status, t.slug FROM changes c JOIN teams t ON t.id = c.team_id
         WHERE c.team_id = $1 AND c.number = $2",
    )
    .bind(notice.team)
    .bind(notice.change.number())
    .fetch_one(&mut *conn)
    .await?;
    let change = serde_json::json!({
        "key": notice.change.to_string(),
        "title": row.try_get::<String, _>("title")?,
        "team": row.try_get::<String, _>("slug")?,
        "status": row.try_get::<String, _>("status")?,
    });
    let key = notice.change.to_string();
    let now = Timestamp::now();
    for hook in matching {
        insert(hook, notice.kind.as_str(), &key, &change, &notice.data, now).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A delivery taken by a dispatcher, with what sending it needs.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: DeliveryId,
    pub webhook: WebhookId,
    pub team: TeamId,
    pub url: String,
    pub format: Format,
    /// The secrets that sign it: the current one, and the one before a rotation while its
    /// overlap lasts.
    pub secrets: Vec<String>,
    pub event_type: String,
    /// The change as queued (key, title, team, status), `null` for a test.
    pub change: Value,
    pub data: Map<String, Value>,
    pub occurred_at: Timestamp,
    /// This try's number, from 1.
    pub attempt: u32,
    pub queued_at: Timestamp,
}

/// Takes up to `limit` deliveries that are due, each the oldest waiting of its change for
/// its webhook (so one endpoint hears a change's events in order), holding them for `lease`.
/// On PostgreSQL, rows another instance is taking are skipped, not waited for.
pub async fn claim(db: &Db, lease: Duration, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    let now = Timestamp::now();
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = db.begin_write().await?;
    // Each due row with its webhook's, which sending needs.
    let hooks = sqlx::query(&format!(
        "SELECT d.id, w.team_id, w.url, w.format, w.secret, w.previous_secret, w.previous_until
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_at <= $1 AND d.lease_until <= $1 AND w.state = 'active'
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                           WHERE e.webhook_id = d.webhook_id AND e.change_key = d.change_key
                             AND e.state = 'pending' AND e.id < d.id)
         ORDER BY d.next_at, d.id LIMIT $2{lock}"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut due = Vec::with_capacity(hooks.len());
    for hook in hooks {
        let id: DeliveryId = hook.try_get("id")?;
        let row = sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1
             WHERE id = $2 AND state = 'pending' AND lease_until <= $3
             RETURNING webhook_id, event_type, change, data, occurred_at, attempts, queued_at",
        )
        .bind(now + lease)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { continue };
        let webhook: WebhookId = row.try_get("webhook_id")?;
        let mut secrets = vec![hook.try_get::<String, _>("secret")?];
        if let (Some(previous), Some(until)) = (
            hook.try_get::<Option<String>, _>("previous_secret")?,
            hook.try_get::<Option<Timestamp>, _>("previous_until")?,
        ) && until > now
        {
            secrets.push(previous);
        }
        let json = |column: &str| -> Result<Value, sqlx::Error> {
            serde_json::from_str(&row.try_get::<String, _>(column)?)
                .map_err(|e| sqlx::Error::Decode(e.into()))
        };
        due.push(Due {
            id,
            webhook,
            team: hook.try_get("team_id")?,
            url: hook.try_get("url")?,
            format: Format::parse(&hook.try_get::<String, _>("format")?)
                .ok_or_else(|| sqlx::Error::Decode("unknown webhook format".into()))?,
            secrets,
            event_type: row.try_get("event_type")?,
            change: json("change")?,
            data: match json("data")? {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            occurred_at: row.try_get("occurred_at")?,
            attempt: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            queued_at: row.try_get("queued_at")?,
        });
    }
    tx.commit().await?;
    Ok(due)
}

/// How a try ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered { status: i64 },
    /// It failed; try again at `next_at`, unless the delivery has waited longer than the
    /// dispatcher's patience (`give_up_before`: queued before it).
    Failed { status: Option<i64>, error: String, next_at: Timestamp, give_up_before: Timestamp },
    /// The endpoint answered 410 Gone: the subscription is disabled, the delivery given up.
    Gone { status: i64 },
}

/// Records how `due`'s try ended. A failure starts or continues the endpoint's run of
/// failures; one that has lasted [`crate::domain::webhook::DISABLE_AFTER`] disables it, as
/// does a 410. Only the dispatcher holding the lease writes; a row it lost is left alone.
pub async fn finish(db: &Db, due: &Due, outcome: Outcome) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    let mut tx = db.begin_write().await?;
    let (state, status, error, next_at) = match &outcome {
        Outcome::Delivered { status } => (DeliveryState::Delivered, Some(*status), None, now),
        Outcome::Gone { status } => {
            (DeliveryState::Failed, Some(*status), Some("The endpoint answered 410 Gone.".to_owned()), now)
        }
        Outcome::Failed { status, error, next_at, give_up_before } => {
            let state =
                if due.queued_at < *give_up_before { DeliveryState::Failed } else { DeliveryState::Pending };
            (state, *status, Some(error.clone()), *next_at)
        }
    };
    let done = (state != DeliveryState::Pending).then_some(now);
    let written = sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, last_status = $2, last_error = $3, last_attempt_at = $4,
                next_at = $5, done_at = $6, lease_until = 0
         WHERE id = $7 AND state = 'pending' AND attempts = $8",
    )
    .bind(state.as_str())
    .bind(status)
    .bind(error.as_deref().map(clip))
    .bind(now)
    .bind(next_at)
    .bind(done)
    .bind(due.id)
    .bind(i64::from(due.attempt))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if written == 1 {
        match outcome {
            Outcome::Delivered { .. } => {
                sqlx::query(
                    "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                )
                .bind(due.webhook)
                .execute(&mut *tx)
                .await?;
            }
            Outcome::Gone { .. } => {
                let reason = "The endpoint answered 410 Gone: it asked not to be sent more.";
                if let Some(event) = disable(&mut tx, due, reason).await? {
                    tx.record(&Actor::Clock, event).await?;
                }
            }
            Outcome::Failed { error, .. } => {
                let since: Option<Timestamp> = sqlx::query_scalar(
                    "UPDATE webhooks SET failing_since = COALESCE(failing_since, $1) WHERE id = $2
                     RETURNING failing_since",
                )
                .bind(now)
                .bind(due.webhook)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                if since.is_some_and(|since| since + crate::domain::webhook::DISABLE_AFTER <= now) {
                    let reason = format!(
                        "Every delivery failed for {} days; the last error: {}",
                        crate::domain::webhook::DISABLE_AFTER.as_secs() / 86_400,
                        clip(&error)
                    );
                    if let Some(event) = disable(&mut tx, due, &reason).await? {
                        tx.record(&Actor::Clock, event).await?;
                    }
                }
            }
        }
    }
    tx.commit().await
}

/// Disables the subscription of `due` with `reason`, once: answers the event to record, or
/// nothing when it was disabled already.
async fn disable(
    conn: &mut sqlx::AnyConnection,
    due: &Due,
    reason: &str,
) -> Result<Option<Event>, sqlx::Error> {
    let before: Option<String> =
        sqlx::query_scalar("SELECT state FROM webhooks WHERE id = $1 AND state <> 'disabled'")
            .bind(due.webhook)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(before) = before.and_then(|s| WebhookState::parse(&s)) else { return Ok(None) };
    sqlx::query("UPDATE webhooks SET state = 'disabled', disabled_reason = $1 WHERE id = $2")
        .bind(reason)
        .bind(due.webhook)
        .execute(&mut *conn)
        .await?;
    Ok(Some(Event::WebhookStateSet {
        team: due.team,
        webhook: due.webhook,
        before,
        after: WebhookState::Disabled,
        reason: Some(reason.to_owned()),
    }))
}

/// At most 500 characters of an error, for the delivery's page.
fn clip(error: &str) -> String {
    crate::domain::error::clip(error, 500)
}

/// Deletes deliveries that were delivered or given up more than `keep` ago.
pub async fn prune(db: &Db, keep: Days) -> Result<u64, sqlx::Error> {
    let before = Timestamp::now() - keep;
    let mut tx = db.begin_write().await?;
    let pruned = sqlx::query("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_at < $1")
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(pruned)
}
