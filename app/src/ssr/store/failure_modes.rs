//! A change's failure modes and their risk acceptances.

use super::changes::{Change, require_editable};
use super::{AnyQuery, assignments, parameters};
use crate::domain::catalogue::TemplateRef;
use crate::domain::change::ChangeKey;
use crate::domain::event::{Event, FailureModeRef};
use crate::domain::failure_mode::{Design, FailureModeInput, Rating, Ratings, Selector, TEXTS, Texts};
use crate::domain::gate::{Acceptance, FailureModeFacts};
use crate::domain::time::Timestamp;
use crate::domain::{AppError, ChangeId, FailureModeId, TeamId, TeamSlug, UserId};
use crate::ssr::audit::Actor;
use crate::ssr::coverage::{self, Derivable};
use crate::ssr::db::Db;
use crate::ssr::write::Write;
use serde_json::json;
use sqlx::Row;
use std::sync::LazyLock;

/// A failure mode as stored, with its current risk acceptance.
#[derive(Clone, Debug)]
pub struct FailureMode {
    pub id: FailureModeId,
    pub number: i64,
    pub input: FailureModeInput,
    pub version: i64,
    pub acceptance: Option<Acceptance>,
    pub accepted_by_id: Option<UserId>,
    /// When its coverage facts were last derived (`ssr::coverage`); `None` until then.
    pub derived_at: Option<Timestamp>,
    /// The template it started from.
    pub template: Option<TemplateRef>,
    /// When an incident last showed its design failing: evidence from before no longer counts.
    pub design_failed_at: Option<Timestamp>,
}

impl FailureMode {
    pub fn facts(&self) -> FailureModeFacts {
        FailureModeFacts {
            number: self.number,
            title: self.input.title.clone(),
            ratings: self.input.ratings,
            designs: self.input.designs.clone(),
            selectors: self.input.selectors.clone(),
            acceptance: self.acceptance.clone(),
            design_failed_at: self.design_failed_at,
        }
    }

    fn audit_view(&self) -> serde_json::Value {
        audit_input(&self.input)
    }

    pub fn derivable(&self) -> Derivable<'_> {
        derivable(&self.input, self.id)
    }
}

/// What deriving the coverage facts of failure mode `id` needs, from its input.
fn derivable(input: &FailureModeInput, id: FailureModeId) -> Derivable<'_> {
    Derivable { id, ratings: input.ratings, selectors: &input.selectors }
}

fn audit_input(input: &FailureModeInput) -> serde_json::Value {
    let mut fields = json!({
        "title": input.title,
        "severity": input.ratings.severity.get(), "likelihood": input.ratings.likelihood.get(),
        "detectability": input.ratings.detectability.get(),
        "designs": input.designs.iter().map(Design::to_line).collect::<Vec<_>>(),
        "selectors": input.selectors.iter().map(Selector::as_str).collect::<Vec<_>>(),
    });
    for (text, value) in input.texts.iter() {
        fields[text.name] = json!(value);
    }
    fields
}

/// The columns that hold what is written of a failure mode, in the order
/// [`bind_failure_mode`] binds them: its title, each of [`TEXTS`], its ratings, designs and
/// selectors.
static FM_COLUMNS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let rest = ["severity", "likelihood", "detectability", "designs", "selectors"];
    ["title"].into_iter().chain(TEXTS.iter().map(|t| t.name)).chain(rest).collect()
});

/// Binds `input` as [`FM_COLUMNS`] lists them, as the next parameters of `query`.
fn bind_failure_mode<'q>(query: AnyQuery<'q>, input: &'q FailureModeInput) -> AnyQuery<'q> {
    let query = query.bind(&input.title);
    let query = input.texts.iter().fold(query, |query, (_, text)| query.bind(text));
    query
        .bind(i64::from(input.ratings.severity.get()))
        .bind(i64::from(input.ratings.likelihood.get()))
        .bind(i64::from(input.ratings.detectability.get()))
        .bind(json_text(&input.designs))
        .bind(json_text(&input.selectors))
}

static FM_SELECT: LazyLock<String> = LazyLock::new(|| {
    let columns = FM_COLUMNS.iter().map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT f.id, f.change_id, f.number, {columns}, f.version, f.derived_at, f.template, f.design_failed_at,
        r.justification, r.expires_at, r.accepted_by, u.display_name AS accepted_by_name
     FROM failure_modes f
     LEFT JOIN risk_acceptances r ON r.id = (
        SELECT MAX(id) FROM risk_acceptances WHERE failure_mode_id = f.id)
     LEFT JOIN users u ON u.id = r.accepted_by"
    )
});

fn failure_mode(row: &sqlx::any::AnyRow) -> Result<FailureMode, AppError> {
    let rating = |name: &str| -> Result<Rating, AppError> {
        let value: i64 = row.try_get(name)?;
        u8::try_from(value)
            .ok()
            .and_then(Rating::new)
            .ok_or_else(|| sqlx::Error::Decode(format!("{name} out of range").into()).into())
    };
    let decode = |e: serde_json::Error| AppError::from(sqlx::Error::Decode(Box::new(e)));
    let designs: Vec<Design> = serde_json::from_str(&row.try_get::<String, _>("designs")?).map_err(decode)?;
    let selectors: Vec<Selector> =
        serde_json::from_str(&row.try_get::<String, _>("selectors")?).map_err(decode)?;
    let acceptance = match row.try_get::<Option<String>, _>("justification")? {
        Some(justification) => Some(Acceptance {
            justification,
            accepted_by: row.try_get::<Option<String>, _>("accepted_by_name")?.unwrap_or_default(),
            expires_at: row.try_get::<Option<Timestamp>, _>("expires_at")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(FailureMode {
        id: FailureModeId(row.try_get("id")?),
        number: row.try_get("number")?,
        input: FailureModeInput {
            title: row.try_get("title")?,
            texts: {
                let mut texts = Texts::default();
                for text in TEXTS {
                    if let Some(slot) = texts.get_mut(text.name) {
                        *slot = row.try_get(text.name)?;
                    }
                }
                texts
            },
            ratings: Ratings {
                severity: rating("severity")?,
                likelihood: rating("likelihood")?,
                detectability: rating("detectability")?,
            },
            designs,
            selectors,
        },
        version: row.try_get("version")?,
        design_failed_at: row.try_get("design_failed_at")?,
        acceptance,
        accepted_by_id: row.try_get::<Option<i64>, _>("accepted_by")?.map(UserId),
        derived_at: row.try_get("derived_at")?,
        // A record that no longer reads as a template (none should) shows none.
        template: row.try_get::<Option<String>, _>("template")?.and_then(|t| TemplateRef::parse(&t).ok()),
    })
}

/// A change's failure modes, by number.
pub async fn failure_modes(db: &Db, change: &Change) -> Result<Vec<FailureMode>, AppError> {
    sqlx::query(&format!("{} WHERE f.change_id = $1 ORDER BY f.number", *FM_SELECT))
        .bind(change.id)
        .fetch_all(db.read())
        .await?
        .iter()
        .map(failure_mode)
        .collect()
}

/// A failure mode with its change, as ingestion sees a team's failure modes.
#[derive(Clone, Debug)]
pub struct TeamFailureMode {
    pub change_id: ChangeId,
    pub change_key: ChangeKey,
    pub fm: FailureMode,
}

/// Every failure mode of the team's changes that are not cancelled, in one query.
pub async fn team_failure_modes(
    pool: &sqlx::AnyPool,
    team: TeamId,
) -> Result<Vec<TeamFailureMode>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM ({FM_SELECT}) x JOIN (SELECT c.id AS cid, c.number AS change_number, t.slug
                                             FROM changes c JOIN teams t ON t.id = c.team_id
                                             WHERE c.team_id = $1 AND c.status <> 'cancelled') c
           ON c.cid = x.change_id
         ORDER BY c.change_number, x.number",
        FM_SELECT = *FM_SELECT
    ))
    .bind(team)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let slug = TeamSlug::parse(&row.try_get::<String, _>("slug")?)?;
            Ok(TeamFailureMode {
                change_id: ChangeId(row.try_get("cid")?),
                change_key: ChangeKey::new(&slug, row.try_get("change_number")?),
                fm: failure_mode(row)?,
            })
        })
        .collect()
}

/// One failure mode of a change.
pub async fn failure_mode_by_number(db: &Db, change: &Change, number: i64) -> Result<FailureMode, AppError> {
    let row = sqlx::query(&format!("{} WHERE f.change_id = $1 AND f.number = $2", *FM_SELECT))
        .bind(change.id)
        .bind(number)
        .fetch_optional(db.read())
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("{} of {}", crate::domain::failure_mode::label(number), change.key))
        })?;
    failure_mode(&row)
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// Adds a failure mode as the change's next `FM-n`.
pub async fn add_failure_mode(
    db: &Db,
    actor: &Actor,
    change: &Change,
    input: &FailureModeInput,
) -> Result<i64, AppError> {
    let numbers = add_failure_modes(db, actor, change, std::slice::from_ref(input), &[]).await?;
    numbers.first().copied().ok_or_else(|| AppError::Conflict("Nothing was added.".to_owned()))
}

/// Adds failure modes in one transaction (all or none), numbered in order. `templates`
/// names the template each one started from, if any (missing entries: none).
pub async fn add_failure_modes(
    db: &Db,
    actor: &Actor,
    change: &Change,
    inputs: &[FailureModeInput],
    templates: &[Option<TemplateRef>],
) -> Result<Vec<i64>, AppError> {
    let mut tx = db.begin_write().await?;
    require_editable(&mut tx, db, change).await?;
    let mut numbers = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let template = templates.get(i).and_then(Option::as_ref);
        numbers.push(insert_failure_mode(&mut tx, actor, change, input, template).await?);
    }
    tx.commit().await?;
    Ok(numbers)
}

/// Adds a failure mode as the change's next `FM-n` inside the caller's transaction (which
/// checked the change may be edited); answers its number.
pub(super) async fn insert_failure_mode(
    tx: &mut Write,
    actor: &Actor,
    change: &Change,
    input: &FailureModeInput,
    template: Option<&TemplateRef>,
) -> Result<i64, AppError> {
    let now = Timestamp::now();
    let number: i64 = sqlx::query_scalar(
        "UPDATE changes SET last_fm_number = last_fm_number + 1, updated_at = $1 WHERE id = $2 RETURNING last_fm_number",
    )
    .bind(now)
    .bind(change.id)
    .fetch_one(&mut **tx)
    .await?;
    let n = FM_COLUMNS.len();
    let sql = format!(
        "INSERT INTO failure_modes ({}, change_id, number, template, created_at, updated_at)
         VALUES ({}, {}, ${}) RETURNING id",
        FM_COLUMNS.join(", "),
        parameters(1, n),
        parameters(n + 1, 4),
        n + 4,
    );
    let id: i64 = bind_failure_mode(sqlx::query(&sql), input)
        .bind(change.id)
        .bind(number)
        .bind(template.map(TemplateRef::to_string))
        .bind(now)
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
    coverage::refresh(tx, change.team_id, &[derivable(input, FailureModeId(id))], None).await?;
    let mut after = audit_input(input);
    if let Some(template) = template {
        after["template"] = json!(template);
    }
    tx.record(actor, Event::FailureModeAdded { fm: fm_ref(change, number), fields: after }).await?;
    Ok(number)
}

/// A failure mode of `change`, as events name it.
fn fm_ref(change: &Change, number: i64) -> FailureModeRef {
    FailureModeRef { team: change.team_id, change: change.key.clone(), number }
}

const STALE_EDIT: &str = "Someone else changed this failure mode after you opened it. \
     Reload the page to see their version, then make your change again.";

/// Replaces a failure mode's fields if it is still at `version` (optimistic locking:
/// two people editing at once cannot silently overwrite each other).
pub async fn update_failure_mode(
    db: &Db,
    actor: &Actor,
    change: &Change,
    number: i64,
    version: i64,
    input: &FailureModeInput,
) -> Result<(), AppError> {
    let before = failure_mode_by_number(db, change, number).await?;
    let mut tx = db.begin_write().await?;
    require_editable(&mut tx, db, change).await?;
    let n = FM_COLUMNS.len();
    let sql = format!(
        "UPDATE failure_modes SET {}, version = version + 1, updated_at = ${} WHERE id = ${} AND version = ${}",
        assignments(&FM_COLUMNS, 1),
        n + 1,
        n + 2,
        n + 3,
    );
    let updated = bind_failure_mode(sqlx::query(&sql), input)
        .bind(Timestamp::now())
        .bind(before.id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::Conflict(STALE_EDIT.to_owned()));
    }
    coverage::refresh(&mut tx, change.team_id, &[derivable(input, before.id)], None).await?;
    // An acceptance covered the failure mode as it was; an edit needs a new one.
    let voided = sqlx::query("DELETE FROM risk_acceptances WHERE failure_mode_id = $1")
        .bind(before.id)
        .execute(&mut *tx)
        .await?;
    let event = Event::FailureModeEdited {
        fm: fm_ref(change, number),
        before: before.audit_view(),
        acceptance: before.acceptance,
        after: audit_input(input),
        acceptance_voided: voided.rows_affected() > 0,
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a failure mode with its acceptances and bound evidence; its number is not reused.
pub async fn delete_failure_mode(
    db: &Db,
    actor: &Actor,
    change: &Change,
    number: i64,
) -> Result<(), AppError> {
    let before = failure_mode_by_number(db, change, number).await?;
    let mut tx = db.begin_write().await?;
    require_editable(&mut tx, db, change).await?;
    for table in ["risk_acceptances", "evidence_bindings"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE failure_mode_id = $1"))
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
    }
    let deleted =
        sqlx::query("DELETE FROM failure_modes WHERE id = $1").bind(before.id).execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::NotFound(format!(
            "{} of {}",
            crate::domain::failure_mode::label(number),
            change.key
        )));
    }
    tx.record(actor, Event::FailureModeRemoved { fm: fm_ref(change, number), fields: before.audit_view() })
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a risk acceptance for a failure mode.
pub async fn accept_risk(
    db: &Db,
    actor: &Actor,
    by: UserId,
    change: &Change,
    number: i64,
    justification: &str,
    expires_at: Timestamp,
) -> Result<(), AppError> {
    let fm = failure_mode_by_number(db, change, number).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO risk_acceptances (failure_mode_id, justification, accepted_by, accepted_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(fm.id)
    .bind(justification)
    .bind(by)
    .bind(Timestamp::now())
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let event = Event::RiskAccepted {
        fm: fm_ref(change, number),
        justification: justification.to_owned(),
        expires_at,
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(())
}
