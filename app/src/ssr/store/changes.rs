//! Changes: their details, milestones, statuses and history.

use super::{AnyQuery, assignments, parameters};
use crate::domain::change::{ChangeDetails, ChangeKey, ChangeStatus, ChangeType, DETAILS, Slot};
use crate::domain::event::{Event, Moved};
use crate::domain::gate::{ChangeFacts, Policy};
use crate::domain::ids::TokenId;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, ChangeId, TeamId, TeamSlug, UserId};
use crate::ssr::audit::{self, Actor};
use crate::ssr::db::Db;
use crate::ssr::write::Write;
use sqlx::{AnyConnection, Row};
use std::sync::LazyLock;

/// A change as stored.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: ChangeId,
    pub key: ChangeKey,
    pub team_id: TeamId,
    pub team_name: String,
    pub policy: Policy,
    pub details: ChangeDetails,
    /// Bumped by every edit of the details (optimistic locking).
    pub version: i64,
    /// The person answerable for the change; `None` for one registered through an API token
    /// until a member of the team claims it.
    pub author_id: Option<UserId>,
    pub author: Option<String>,
    /// The API token that registered the change, if one did.
    pub registered_by_token: Option<RegisteringToken>,
    pub status: ChangeStatus,
    pub happy_path_at: Option<Timestamp>,
    pub happy_path_by: Option<String>,
    pub happy_path_note: Option<String>,
    pub target_at: Option<Timestamp>,
    pub signed_off_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// The API token that registered a change.
#[derive(Clone, Debug)]
pub struct RegisteringToken {
    pub name: String,
    /// The person the token belongs to (`None` for a pipeline token).
    pub owner: Option<UserId>,
}

/// Who registers a change: a person, who is then its author, or an API token, which never
/// counts as anyone's authorship.
#[derive(Clone, Copy, Debug)]
pub enum Registrar {
    Person(UserId),
    Token(TokenId),
}

impl Change {
    /// Who the change is by, as pages show it: its author, or the token that registered it.
    pub fn author_label(&self) -> String {
        crate::domain::change::author_label(
            self.author.as_deref(),
            self.registered_by_token.as_ref().map(|t| t.name.as_str()),
        )
    }

    pub fn facts(&self) -> ChangeFacts {
        ChangeFacts { status: self.status, happy_path_at: self.happy_path_at }
    }

    /// The failure-cases target date has passed and the change is not signed off.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status.is_overdue(self.target_at, now)
    }
}

pub(crate) fn policy(row: &sqlx::any::AnyRow) -> Result<Policy, sqlx::Error> {
    Ok(Policy {
        window_days: row.try_get("failure_window_days")?,
        freshness_days: row.try_get("freshness_days")?,
        min_failure_modes: row.try_get("min_failure_modes")?,
        allow_high_acceptance: row.try_get::<i64, _>("allow_high_acceptance")? != 0,
        warning_days: row.try_get("warning_days")?,
    })
}

/// Whether any change exists.
pub async fn any(db: &Db) -> Result<bool, AppError> {
    let some: Option<i64> =
        sqlx::query_scalar("SELECT id FROM changes LIMIT 1").fetch_optional(db.read()).await?;
    Ok(some.is_some())
}

/// A team's policy.
pub async fn team_policy(db: &Db, team: TeamId) -> Result<Policy, AppError> {
    let row = sqlx::query(
        "SELECT failure_window_days, freshness_days, min_failure_modes, allow_high_acceptance, warning_days
         FROM teams WHERE id = $1",
    )
    .bind(team)
    .fetch_one(db.read())
    .await?;
    Ok(policy(&row)?)
}

/// Changes a team's policy.
pub async fn set_policy(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    new: Policy,
    public_badges: bool,
) -> Result<(), AppError> {
    let before = team_policy(db, team).await?;
    let was_public = public_badges_enabled(db, team).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE teams SET failure_window_days = $1, freshness_days = $2, min_failure_modes = $3,
                          allow_high_acceptance = $4, public_badges = $5, warning_days = $6 WHERE id = $7",
    )
    .bind(new.window_days)
    .bind(new.freshness_days)
    .bind(new.min_failure_modes)
    .bind(i64::from(new.allow_high_acceptance))
    .bind(i64::from(public_badges))
    .bind(new.warning_days)
    .bind(team)
    .execute(&mut *tx)
    .await?;
    tx.record(actor, Event::PolicySet { team, before: (before, was_public), after: (new, public_badges) })
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the team's change badges are public.
pub async fn public_badges_enabled(db: &Db, team: TeamId) -> Result<bool, AppError> {
    let flag: i64 = sqlx::query_scalar("SELECT public_badges FROM teams WHERE id = $1")
        .bind(team)
        .fetch_one(db.read())
        .await?;
    Ok(flag != 0)
}

/// Registers a change under the team's next key. Keys are handed out inside the write
/// transaction, so concurrent creations never share one.
pub async fn create(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    by: Registrar,
    new: &ChangeDetails,
) -> Result<ChangeKey, AppError> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "UPDATE teams SET last_change_number = last_change_number + 1 WHERE id = $1 RETURNING last_change_number, slug",
    )
    .bind(team)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("The team".to_owned()))?;
    let number: i64 = row.try_get("last_change_number")?;
    let slug: String = row.try_get("slug")?;
    let key = ChangeKey::new(&TeamSlug::parse(&slug)?, number);
    let now = Timestamp::now();
    let n = DETAIL_COLUMNS.len();
    let sql = format!(
        "INSERT INTO changes ({}, team_id, number, author_id, created_by_token, status, created_at, updated_at)
         VALUES ({}, {}, 'draft', ${}, ${})",
        DETAIL_COLUMNS.join(", "),
        parameters(1, n),
        parameters(n + 1, 4),
        n + 5,
        n + 5,
    );
    bind_details(sqlx::query(&sql), new)
        .bind(team)
        .bind(number)
        .bind(match by {
            Registrar::Person(user) => Some(user.0),
            Registrar::Token(_) => None,
        })
        .bind(match by {
            Registrar::Token(token) => Some(token.0),
            Registrar::Person(_) => None,
        })
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let event = Event::ChangeRegistered {
        team,
        key: key.clone(),
        title: new.title.clone(),
        types: ChangeType::join(&new.types),
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(key)
}

/// The columns that hold a change's details, in the order [`bind_details`] binds them and
/// [`details_of`] reads them: the title, the types, then each of [`DETAILS`].
static DETAIL_COLUMNS: LazyLock<Vec<&str>> =
    LazyLock::new(|| ["title", "types"].into_iter().chain(DETAILS.iter().map(|d| d.name)).collect());

/// Binds `details` as [`DETAIL_COLUMNS`] lists them, as the first parameters of `query`: a
/// text as written (perhaps empty), a link or NULL.
fn bind_details<'q>(query: AnyQuery<'q>, details: &'q ChangeDetails) -> AnyQuery<'q> {
    let query = query.bind(&details.title).bind(ChangeType::join(&details.types));
    details.values().into_iter().fold(query, |query, value| query.bind(value))
}

/// A change's details from a row holding [`DETAIL_COLUMNS`].
fn details_of(row: &sqlx::any::AnyRow) -> Result<ChangeDetails, sqlx::Error> {
    let mut details = ChangeDetails {
        title: row.try_get("title")?,
        types: ChangeType::split(&row.try_get::<String, _>("types")?),
        ..ChangeDetails::default()
    };
    for (detail, slot) in DETAILS.iter().zip(details.slots()) {
        match slot {
            Slot::Text(text) => *text = row.try_get(detail.name)?,
            Slot::Link(link) => *link = row.try_get(detail.name)?,
        }
    }
    Ok(details)
}

/// A change with its team's policy, its author and who registered it.
static CHANGE_SELECT: LazyLock<String> = LazyLock::new(|| {
    let details = DETAIL_COLUMNS.iter().map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT c.id, c.number, c.version, {details},
        c.author_id, a.display_name AS author, k.name AS token_name, k.created_by AS token_owner, c.status, c.happy_path_at, h.display_name AS happy_path_by,
        c.happy_path_note, c.target_at, c.signed_off_at, c.created_at,
        t.id AS team_id, t.slug, t.name AS team_name,
        t.failure_window_days, t.freshness_days, t.min_failure_modes, t.allow_high_acceptance, t.warning_days
     FROM changes c JOIN teams t ON t.id = c.team_id LEFT JOIN users a ON a.id = c.author_id
     LEFT JOIN api_tokens k ON k.id = c.created_by_token LEFT JOIN users h ON h.id = c.happy_path_by"
    )
});

fn change(row: &sqlx::any::AnyRow) -> Result<Change, AppError> {
    let slug: String = row.try_get("slug")?;
    let status: String = row.try_get("status")?;
    Ok(Change {
        id: ChangeId(row.try_get("id")?),
        key: ChangeKey::new(&TeamSlug::parse(&slug)?, row.try_get("number")?),
        team_id: TeamId(row.try_get("team_id")?),
        team_name: row.try_get("team_name")?,
        policy: policy(row)?,
        details: details_of(row)?,
        version: row.try_get("version")?,
        author_id: row.try_get::<Option<i64>, _>("author_id")?.map(UserId),
        author: row.try_get("author")?,
        registered_by_token: row
            .try_get::<Option<String>, _>("token_name")?
            .map(|name| -> Result<_, sqlx::Error> {
                Ok(RegisteringToken {
                    name,
                    owner: row.try_get::<Option<i64>, _>("token_owner")?.map(UserId),
                })
            })
            .transpose()?,
        status: super::decode_status(&status)?,
        happy_path_at: row.try_get("happy_path_at")?,
        // Recorded by a person, or (with no person) through an API token.
        happy_path_by: row.try_get::<Option<String>, _>("happy_path_by")?.or_else(|| {
            row.try_get::<Option<i64>, _>("happy_path_at").ok().flatten().map(|_| "an API token".to_owned())
        }),
        happy_path_note: row.try_get("happy_path_note")?,
        target_at: row.try_get("target_at")?,
        signed_off_at: row.try_get("signed_off_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// What an unknown change answers, and so also a change the caller may not see.
pub fn not_found(key: &ChangeKey) -> AppError {
    AppError::NotFound(format!("Change {key}"))
}

/// The change with this key.
pub async fn by_key(db: &Db, key: &ChangeKey) -> Result<Change, AppError> {
    let row = sqlx::query(&format!("{} WHERE t.slug = $1 AND c.number = $2", *CHANGE_SELECT))
        .bind(key.team())
        .bind(key.number())
        .fetch_optional(db.read())
        .await?
        .ok_or_else(|| not_found(key))?;
    change(&row)
}

/// A change in a list, with how many failure modes it has.
#[derive(Clone, Debug)]
pub struct Listed {
    pub change: Change,
    pub failure_modes: i64,
}

/// A team's changes, newest first, optionally of one status.
pub async fn list(db: &Db, team: TeamId, status: Option<ChangeStatus>) -> Result<Vec<Listed>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM ({change_select} WHERE c.team_id = $1 AND ($2 IS NULL OR c.status = $2)) x
         LEFT JOIN (SELECT change_id, COUNT(*) AS fm_count FROM failure_modes GROUP BY change_id) f
           ON f.change_id = x.id
         ORDER BY x.number DESC LIMIT 500",
        change_select = *CHANGE_SELECT
    ))
    .persistent(db.backend().keeps_filtered_plans())
    .bind(team)
    .bind(status.map(ChangeStatus::as_str))
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Listed {
                change: change(row)?,
                failure_modes: row.try_get::<Option<i64>, _>("fm_count")?.unwrap_or(0),
            })
        })
        .collect()
}

/// Reads the change's status inside the write transaction and applies `step` to it, so
/// two concurrent transitions cannot both succeed.
pub(super) async fn next_status(
    tx: &mut AnyConnection,
    db: &Db,
    change: &Change,
    step: impl FnOnce(ChangeStatus) -> Result<ChangeStatus, AppError>,
) -> Result<Moved, AppError> {
    let from = locked_status(tx, db, change.id).await?;
    Ok(Moved { from, to: step(from)? })
}

/// The change's status, read inside the write transaction and locked until it ends (on
/// SQLite the transaction already holds the write lock; on PostgreSQL `FOR UPDATE`).
pub async fn locked_status(
    tx: &mut AnyConnection,
    db: &Db,
    change_id: ChangeId,
) -> Result<ChangeStatus, AppError> {
    let sql = match db.backend() {
        crate::ssr::db::Backend::Sqlite => "SELECT status FROM changes WHERE id = $1",
        crate::ssr::db::Backend::Postgres => "SELECT status FROM changes WHERE id = $1 FOR UPDATE",
    };
    let current: String = sqlx::query_scalar(sql).bind(change_id).fetch_one(&mut *tx).await?;
    Ok(super::decode_status(&current)?)
}

/// Records that the happy path works: sets the failure-cases target date.
pub async fn record_happy_path(
    db: &Db,
    actor: &Actor,
    by: Option<UserId>,
    change: &Change,
    note: &str,
    at: Timestamp,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let moved = next_status(&mut tx, db, change, ChangeStatus::record_happy_path).await?;
    let now = Timestamp::now();
    let target = change.policy.target_at(at);
    let note = Some(note).filter(|n| !n.is_empty());
    sqlx::query(
        "UPDATE changes SET status = $1, happy_path_at = $2, happy_path_by = $3, target_at = $4,
                happy_path_note = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(moved.to.as_str())
    .bind(at)
    .bind(by.map(|u| u.0))
    .bind(target)
    .bind(note)
    .bind(now)
    .bind(change.id)
    .execute(&mut *tx)
    .await?;
    let event = Event::HappyPathRecorded {
        team: change.team_id,
        key: change.key.clone(),
        moved,
        at,
        target_at: target,
        note: note.map(str::to_owned),
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the change to a status that needs no other field changed (cancel); `event` says
/// what happened.
async fn set_status(
    db: &Db,
    actor: &Actor,
    change: &Change,
    step: impl FnOnce(ChangeStatus) -> Result<ChangeStatus, AppError>,
    event: impl FnOnce(Moved) -> Event,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let moved = next_status(&mut tx, db, change, step).await?;
    sqlx::query("UPDATE changes SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(moved.to.as_str())
        .bind(Timestamp::now())
        .bind(change.id)
        .execute(&mut *tx)
        .await?;
    tx.record(actor, event(moved)).await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels the change.
pub async fn cancel(db: &Db, actor: &Actor, change: &Change, reason: &str) -> Result<(), AppError> {
    set_status(db, actor, change, ChangeStatus::cancel, |moved| Event::ChangeCancelled {
        team: change.team_id,
        key: change.key.clone(),
        moved,
        reason: reason.to_owned(),
    })
    .await
}

/// Makes `user` the author of a change registered through an API token, which has none:
/// from then on they answer for it, and cannot be its second pair of eyes.
pub async fn claim(db: &Db, actor: &Actor, user: UserId, change: &Change) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let done =
        sqlx::query("UPDATE changes SET author_id = $1, updated_at = $2 WHERE id = $3 AND author_id IS NULL")
            .bind(user)
            .bind(Timestamp::now())
            .bind(change.id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::Conflict("This change already has an author.".to_owned()));
    }
    tx.record(actor, Event::ChangeClaimed { team: change.team_id, key: change.key.clone(), author: user })
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces an open change's details if it is still at `version` (optimistic locking, as
/// for failure modes). Answers whether anything changed: saving the same details again
/// writes nothing and is not audited.
pub async fn update_details(
    db: &Db,
    actor: &Actor,
    change: &Change,
    version: i64,
    details: &ChangeDetails,
) -> Result<bool, AppError> {
    if !change.status.is_open() {
        return Err(not_editable(change.status));
    }
    if version != change.version {
        return Err(AppError::Conflict(STALE_CHANGE.to_owned()));
    }
    let (before, after) = changed_fields(&change.details, details);
    if before.is_empty() {
        return Ok(false);
    }
    let mut tx = db.begin_write().await?;
    require_editable(&mut tx, db, change).await?;
    let n = DETAIL_COLUMNS.len();
    let sql = format!(
        "UPDATE changes SET {}, version = version + 1, updated_at = ${} WHERE id = ${} AND version = ${}",
        assignments(&DETAIL_COLUMNS, 1),
        n + 1,
        n + 2,
        n + 3,
    );
    let updated = bind_details(sqlx::query(&sql), details)
        .bind(Timestamp::now())
        .bind(change.id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::Conflict(STALE_CHANGE.to_owned()));
    }
    tx.record(actor, Event::ChangeEdited { team: change.team_id, key: change.key.clone(), before, after })
        .await?;
    tx.commit().await?;
    Ok(true)
}

const STALE_CHANGE: &str = "Someone else changed this change's details after you opened it. \
     Reload the page to see their version, then make your change again.";

/// The fields that differ between two sets of details, as they were and as they are.
fn changed_fields(
    before: &ChangeDetails,
    after: &ChangeDetails,
) -> (serde_json::Map<String, serde_json::Value>, serde_json::Map<String, serde_json::Value>) {
    let as_map = |d: &ChangeDetails| match serde_json::to_value(d) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (mut was, mut now) = (as_map(before), as_map(after));
    was.retain(|field, value| now.get(field) != Some(value));
    now.retain(|field, _| was.contains_key(field));
    (was, now)
}

/// Marks a signed-off change regressed inside the caller's transaction: a linked test
/// failed after sign-off (`failing`), or an incident after it showed its premortem did not
/// hold (`incident`). The sign-off stays in history; a new one is needed.
pub async fn regress_in(
    tx: &mut Write,
    db: &Db,
    actor: &Actor,
    change: &Change,
    failing: &[String],
    incident: Option<crate::domain::ids::IncidentId>,
) -> Result<bool, AppError> {
    // Another upload may have regressed it first: then there is nothing to do.
    if locked_status(tx, db, change.id).await? != ChangeStatus::FailureCasesComplete {
        return Ok(false);
    }
    let moved = next_status(tx, db, change, ChangeStatus::regress).await?;
    sqlx::query("UPDATE changes SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(moved.to.as_str())
        .bind(Timestamp::now())
        .bind(change.id)
        .execute(&mut **tx)
        .await?;
    let event = Event::ChangeRegressed {
        team: change.team_id,
        key: change.key.clone(),
        moved,
        failing: failing.to_vec(),
        incident,
    };
    tx.record(actor, event).await?;
    Ok(true)
}

/// Refuses changes to failure modes once the change is signed off or cancelled: the
/// sign-off snapshot must stay true (a regression reopens the change for edits).
pub(super) async fn require_editable(
    tx: &mut AnyConnection,
    db: &Db,
    change: &Change,
) -> Result<(), AppError> {
    let status = locked_status(tx, db, change.id).await?;
    if status.is_open() { Ok(()) } else { Err(not_editable(status)) }
}

pub(super) fn not_editable(status: ChangeStatus) -> AppError {
    AppError::Conflict(format!(
        "The change is {}; it and its failure modes can no longer be changed.",
        status.label().to_lowercase()
    ))
}

/// The audit entries of a change and its failure modes, newest first.
pub async fn history(db: &Db, change: &Change) -> Result<Vec<audit::Record>, AppError> {
    let mut conn: sqlx::pool::PoolConnection<sqlx::Any> = db.read().acquire().await?;
    Ok(audit::for_object(&mut conn, change.team_id, &change.key.to_string()).await?)
}
