//! Failure-mode templates: the built-in catalogue (in the code) and each team's own, which
//! its leads add, edit and retire.

use super::{AnyQuery, assignments, parameters};
use crate::domain::catalogue::{self, Suggestion, TemplateInput, TemplateRef};
use crate::domain::change::ChangeType;
use crate::domain::event::Event;
use crate::domain::ids::TemplateId;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, TeamId};
use crate::ssr::audit::Actor;
use crate::ssr::db::Db;
use crate::ssr::write::Write;
use serde_json::json;
use sqlx::Row;
use std::sync::LazyLock;

/// What the audit log keeps of a template's fields.
fn audit_view(input: &TemplateInput) -> serde_json::Value {
    json!({ "change_type": input.change_type.as_str(), "title": input.title, "scenario": input.scenario })
}

const SELECT: &str = "SELECT id, change_type, title, scenario, effect, detection, designs, tests, severity,
        likelihood, detectability, retired_at FROM fm_templates";

fn suggestion(row: &sqlx::any::AnyRow) -> Result<(Suggestion, bool), AppError> {
    let lines = |name: &str| -> Result<Vec<String>, sqlx::Error> {
        Ok(row.try_get::<String, _>(name)?.lines().map(str::to_owned).collect())
    };
    let rating = |name: &str| -> Result<u8, sqlx::Error> {
        u8::try_from(row.try_get::<i64, _>(name)?).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    let change_type: String = row.try_get("change_type")?;
    Ok((
        Suggestion {
            key: TemplateRef::Team(row.try_get("id")?),
            change_type: ChangeType::parse(&change_type)?,
            title: row.try_get("title")?,
            scenario: row.try_get("scenario")?,
            effect: row.try_get("effect")?,
            detection: row.try_get("detection")?,
            designs: lines("designs")?,
            tests: lines("tests")?,
            ratings: (rating("severity")?, rating("likelihood")?, rating("detectability")?),
            team_owned: true,
        },
        row.try_get::<Option<i64>, _>("retired_at")?.is_some(),
    ))
}

/// The team's own templates, with whether each is retired.
pub async fn team_templates(db: &Db, team: TeamId) -> Result<Vec<(Suggestion, bool)>, AppError> {
    sqlx::query(&format!("{SELECT} WHERE team_id = $1 ORDER BY change_type, title, id"))
        .bind(team)
        .fetch_all(db.read())
        .await?
        .iter()
        .map(suggestion)
        .collect()
}

/// What to suggest for a change of these types: the team's own templates first, then the
/// built-in ones.
pub async fn suggestions(db: &Db, team: TeamId, types: &[ChangeType]) -> Result<Vec<Suggestion>, AppError> {
    let mut out: Vec<Suggestion> = team_templates(db, team)
        .await?
        .into_iter()
        .filter(|(s, retired)| !retired && types.contains(&s.change_type))
        .map(|(s, _)| s)
        .collect();
    out.extend(types.iter().flat_map(|t| catalogue::for_type(*t)).map(Suggestion::from));
    Ok(out)
}

/// The template behind `key` (a built-in one, or one of this team's), retired or not.
pub async fn resolve(db: &Db, team: TeamId, key: &TemplateRef) -> Result<Option<Suggestion>, AppError> {
    let id = match key {
        TemplateRef::BuiltIn(id) => return Ok(catalogue::by_id(id).map(Suggestion::from)),
        TemplateRef::Team(id) => *id,
    };
    let row = sqlx::query(&format!("{SELECT} WHERE team_id = $1 AND id = $2"))
        .bind(team)
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(suggestion).transpose().map(|s| s.map(|(s, _)| s))
}

/// The columns of a template's fields, in the order [`bind_fields`] binds them.
const FIELD_COLUMNS: [&str; 10] = [
    "change_type",
    "title",
    "scenario",
    "effect",
    "detection",
    "designs",
    "tests",
    "severity",
    "likelihood",
    "detectability",
];

static INSERT: LazyLock<String> = LazyLock::new(|| {
    let n = FIELD_COLUMNS.len();
    format!(
        "INSERT INTO fm_templates ({}, team_id, created_at, updated_at) VALUES ({}, ${}, ${}, ${}) RETURNING id",
        FIELD_COLUMNS.join(", "),
        parameters(1, n),
        n + 1,
        n + 2,
        n + 2,
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let n = FIELD_COLUMNS.len();
    format!(
        "UPDATE fm_templates SET {}, updated_at = ${} WHERE id = ${} AND team_id = ${}",
        assignments(&FIELD_COLUMNS, 1),
        n + 1,
        n + 2,
        n + 3,
    )
});

/// Binds a template's fields as [`FIELD_COLUMNS`] lists them, as the first parameters.
fn bind_fields<'q>(query: AnyQuery<'q>, input: &'q TemplateInput) -> AnyQuery<'q> {
    query
        .bind(input.change_type.as_str())
        .bind(&input.title)
        .bind(&input.scenario)
        .bind(&input.effect)
        .bind(&input.detection)
        .bind(&input.designs)
        .bind(&input.tests)
        .bind(i64::from(input.ratings.severity.get()))
        .bind(i64::from(input.ratings.likelihood.get()))
        .bind(i64::from(input.ratings.detectability.get()))
}

/// Adds a team template.
pub async fn create(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    input: &TemplateInput,
) -> Result<TemplateId, AppError> {
    let mut tx = db.begin_write().await?;
    let id = insert(&mut tx, actor, team, input).await?;
    tx.commit().await?;
    Ok(id)
}

/// Adds a team template inside the caller's transaction.
pub(super) async fn insert(
    tx: &mut Write,
    actor: &Actor,
    team: TeamId,
    input: &TemplateInput,
) -> Result<TemplateId, AppError> {
    let id: i64 = bind_fields(sqlx::query(&INSERT), input)
        .bind(team)
        .bind(Timestamp::now())
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
    tx.record(actor, Event::TemplateCreated { team, template: TemplateId(id), fields: audit_view(input) })
        .await?;
    Ok(TemplateId(id))
}

/// Replaces a team template's fields; a retired one stays retired.
pub async fn update(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    id: TemplateId,
    input: &TemplateInput,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let updated = bind_fields(sqlx::query(&UPDATE), input)
        .bind(Timestamp::now())
        .bind(id)
        .bind(team)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound("The template".to_owned()));
    }
    tx.record(actor, Event::TemplateUpdated { team, template: id, fields: audit_view(input) }).await?;
    tx.commit().await?;
    Ok(())
}

/// Retires a team template: it is no longer suggested; failure modes made from it keep it.
pub async fn retire(db: &Db, actor: &Actor, team: TeamId, id: TemplateId) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let now = Timestamp::now();
    let retired = sqlx::query(
        "UPDATE fm_templates SET retired_at = $1, updated_at = $1 WHERE id = $2 AND team_id = $3 AND retired_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(team)
    .execute(&mut *tx)
    .await?;
    if retired.rows_affected() == 0 {
        return Err(AppError::NotFound("An active template with that id".to_owned()));
    }
    tx.record(actor, Event::TemplateRetired { team, template: id, at: now }).await?;
    tx.commit().await?;
    Ok(())
}
