//! Incidents and each change's verdict on them. Recording is idempotent on the incident
//! tool's `external_id` per team (a repeat updates the incident and adds the changes it newly
//! names); classifying a miss can add the failure mode it became (and a team template), and a
//! miss or a failed design reopens a signed-off change, all in one transaction.

use super::changes::{self, Change};
use super::failure_modes::insert_failure_mode;
use super::templates;
use crate::domain::catalogue::TemplateInput;
use crate::domain::change::ChangeStatus;
use crate::domain::event::Event;
use crate::domain::failure_mode::FailureModeInput;
use crate::domain::ids::IncidentId;
use crate::domain::incident::{ChangeIncident, Classification, IncidentInput, Severity, Verdict};
use crate::domain::time::Timestamp;
use crate::domain::{AppError, ChangeId, TeamId};
use crate::ssr::audit::Actor;
use crate::ssr::db::{Db, LockSpace, advisory_lock};
use sqlx::Row;

/// Records an incident of `team` as following `changes` (the team's; the caller checked
/// them): with an `external_id` the team used before, updates that incident instead and adds
/// the changes it newly names (none is ever unlinked: a verdict is the team's judgement).
/// A form's `form_key` used before answers the incident it recorded and records nothing.
/// Answers its id and whether it is new.
pub async fn record(
    db: &Db,
    actor: &Actor,
    team: TeamId,
    changes: &[Change],
    input: &IncidentInput,
    form_key: Option<&str>,
) -> Result<(IncidentId, bool), AppError> {
    let mut tx = db.begin_write().await?;
    let now = Timestamp::now();
    // Two posts of one external id at once (PostgreSQL runs writers side by side) find or
    // add the incident one after the other.
    let lock = i32::try_from(team.0 & 0x7fff_ffff).unwrap_or_default();
    advisory_lock(&mut tx, db.backend(), LockSpace::TeamIncidents, lock).await?;
    if let Some(key) = form_key {
        let sent: Option<i64> =
            sqlx::query_scalar("SELECT id FROM incidents WHERE team_id = $1 AND idempotency_key = $2")
                .bind(team)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = sent {
            return Ok((IncidentId(id), false));
        }
    }
    let (id, new, same) = upsert(&mut tx, team, input, form_key, now).await?;
    for change in changes {
        // Whether the change had been signed off when the incident started is judged now,
        // once (the learning metrics count it; migration 0024).
        let linked = sqlx::query(
            "INSERT INTO incident_changes (incident_id, change_id, after_sign_off)
             SELECT i.id, c.id, CASE WHEN c.signed_off_at <= i.started_at THEN 1 ELSE 0 END
             FROM incidents i, changes c WHERE i.id = $1 AND c.id = $2
             ON CONFLICT (incident_id, change_id) DO NOTHING",
        )
        .bind(id)
        .bind(change.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // A repeat that changes nothing records nothing.
        if linked || !same {
            let event = Event::IncidentRecorded {
                team,
                key: change.key.clone(),
                incident: id,
                title: input.title.clone(),
                severity: input.severity,
                started_at: input.started_at,
                new: linked,
            };
            tx.record(actor, event).await?;
        }
    }
    tx.commit().await?;
    Ok((id, new))
}

/// The incident `input` names by its external id, updated to `input` (unless `same`), or
/// a new one: its id, whether it is new, and whether it was already as `input` says.
async fn upsert(
    tx: &mut crate::ssr::write::Write,
    team: TeamId,
    input: &IncidentInput,
    form_key: Option<&str>,
    now: Timestamp,
) -> Result<(IncidentId, bool, bool), AppError> {
    let existing = match &input.external_id {
        Some(external) => sqlx::query(
            "SELECT id, title, severity, started_at, resolved_at, url FROM incidents
             WHERE team_id = $1 AND external_id = $2",
        )
        .bind(team)
        .bind(external)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| -> Result<_, sqlx::Error> {
            let same = row.try_get::<String, _>("title")? == input.title
                && row.try_get::<String, _>("severity")? == input.severity.as_str()
                && row.try_get::<Timestamp, _>("started_at")? == input.started_at
                && row.try_get::<Option<Timestamp>, _>("resolved_at")? == input.resolved_at
                && row.try_get::<Option<String>, _>("url")? == input.url;
            Ok((IncidentId(row.try_get("id")?), same))
        })
        .transpose()?,
        None => None,
    };
    Ok(match existing {
        Some((id, same)) => {
            if !same {
                sqlx::query(
                    "UPDATE incidents SET title = $1, severity = $2, started_at = $3, resolved_at = $4,
                            url = $5, updated_at = $6 WHERE id = $7",
                )
                .bind(&input.title)
                .bind(input.severity.as_str())
                .bind(input.started_at)
                .bind(input.resolved_at)
                .bind(&input.url)
                .bind(now)
                .bind(id)
                .execute(&mut **tx)
                .await?;
                // A start corrected judges again whether each change had been signed off.
                sqlx::query(
                    "UPDATE incident_changes SET after_sign_off = (
                        SELECT CASE WHEN c.signed_off_at <= $1 THEN 1 ELSE 0 END FROM changes c
                        WHERE c.id = incident_changes.change_id)
                     WHERE incident_id = $2",
                )
                .bind(input.started_at)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            }
            (id, false, same)
        }
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO incidents (team_id, title, severity, started_at, resolved_at, url, external_id,
                        idempotency_key, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(team)
            .bind(&input.title)
            .bind(input.severity.as_str())
            .bind(input.started_at)
            .bind(input.resolved_at)
            .bind(&input.url)
            .bind(&input.external_id)
            .bind(form_key)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            (IncidentId(id), true, false)
        }
    })
}

/// The most incidents a change's page and listing show, newest first.
pub const LISTED: i64 = 200;

/// The incidents that followed `change` (up to [`LISTED`]), newest first, with its verdict
/// on each.
pub async fn for_change(db: &Db, change: ChangeId) -> Result<Vec<ChangeIncident>, AppError> {
    read(db, change, None).await
}

/// Incident `id` as `change` sees it, if it names the change.
pub async fn of_change(
    db: &Db,
    change: ChangeId,
    id: IncidentId,
) -> Result<Option<ChangeIncident>, AppError> {
    Ok(read(db, change, Some(id)).await?.pop())
}

/// `change`'s incidents, or only `only`, with the changes each names.
async fn read(db: &Db, change: ChangeId, only: Option<IncidentId>) -> Result<Vec<ChangeIncident>, AppError> {
    let mut conn = db.read().acquire().await?;
    let rows = sqlx::query(
        "SELECT i.id, i.title, i.severity, i.started_at, i.resolved_at, i.url, i.external_id,
                ic.verdict, ic.classified_at, fm.number AS fm_number
         FROM incident_changes ic
         JOIN incidents i ON i.id = ic.incident_id
         LEFT JOIN failure_modes fm ON fm.id = ic.failure_mode_id
         WHERE ic.change_id = $1 AND ($3 = 0 OR ic.incident_id = $3)
         ORDER BY i.started_at DESC, i.id DESC LIMIT $2",
    )
    .bind(change)
    .bind(LISTED)
    .bind(only.map_or(0, |id| id.0))
    .fetch_all(&mut *conn)
    .await?;
    let decode = |what: &str| sqlx::Error::Decode(format!("unknown incident {what}").into());
    let mut incidents = Vec::with_capacity(rows.len());
    for row in &rows {
        let verdict = row
            .try_get::<Option<String>, _>("verdict")?
            .map(|v| Verdict::parse(&v).map_err(|_| decode("verdict")))
            .transpose()?;
        incidents.push(ChangeIncident {
            id: IncidentId(row.try_get("id")?),
            title: row.try_get("title")?,
            severity: Severity::parse(&row.try_get::<String, _>("severity")?)
                .map_err(|_| decode("severity"))?,
            started_at: row.try_get("started_at")?,
            resolved_at: row.try_get("resolved_at")?,
            url: row.try_get("url")?,
            external_id: row.try_get("external_id")?,
            changes: Vec::new(),
            verdict,
            failure_mode: row.try_get("fm_number")?,
            classified_at: row.try_get("classified_at")?,
        });
    }
    if incidents.is_empty() {
        return Ok(incidents);
    }
    // Every change each of the listed ones names (ids from the database: numbers).
    let ids: Vec<String> = incidents.iter().map(|i| i.id.0.to_string()).collect();
    let links = sqlx::query(&format!(
        "SELECT ic.incident_id, t.slug, c.number FROM incident_changes ic
         JOIN changes c ON c.id = ic.change_id JOIN teams t ON t.id = c.team_id
         WHERE ic.incident_id IN ({}) ORDER BY ic.incident_id, t.slug, c.number",
        ids.join(", ")
    ))
    .fetch_all(&mut *conn)
    .await?;
    for row in &links {
        let id = IncidentId(row.try_get("incident_id")?);
        let key = format!("{}-{}", row.try_get::<String, _>("slug")?, row.try_get::<i64, _>("number")?);
        if let Some(incident) = incidents.iter_mut().find(|i| i.id == id) {
            incident.changes.push(key);
        }
    }
    Ok(incidents)
}

/// What a missed incident becomes: a failure mode of the change and, optionally, a team
/// template, so the next change of that type is asked about it.
pub struct Lesson {
    pub failure_mode: FailureModeInput,
    pub template: Option<TemplateInput>,
}

/// Records `change`'s verdict on incident `id` (one that names it). A prediction names a
/// failure mode of the change; a miss may add `lesson`. A miss or a failed design reopens a
/// signed-off change (regressed, with the incident as the reason) until a lead signs off
/// again. Answers the failure mode's number (the one added for a miss), if any.
pub async fn classify(
    db: &Db,
    actor: &Actor,
    change: &Change,
    id: IncidentId,
    classification: &Classification,
    lesson: Option<&Lesson>,
) -> Result<Option<i64>, AppError> {
    let not_found = || AppError::NotFound(format!("Incident {id} of {}", change.key));
    let mut tx = db.begin_write().await?;
    let status = changes::locked_status(&mut tx, db, change.id).await?;
    let (before, stored) = verdict_of(&mut tx, id, change).await?.ok_or_else(not_found)?;
    let verdict = classification.verdict();
    // The same verdict again (a form sent twice) changes nothing: a miss adds its failure
    // mode once, and a change signed off since is not reopened by a repeat.
    let repeat = before == Some(verdict)
        && match classification {
            Classification::Predicted { failure_mode, .. } => stored == Some(*failure_mode),
            Classification::Missed => stored.is_some() || lesson.is_none(),
        };
    if repeat {
        return Ok(stored);
    }
    if verdict.reopens() && status == ChangeStatus::FailureCasesComplete {
        changes::regress_in(&mut tx, db, actor, change, &[], Some(id)).await?;
    }
    let (fm_id, number) = match (classification, lesson) {
        (Classification::Predicted { failure_mode, .. }, _) => {
            let label = crate::domain::failure_mode::label(*failure_mode);
            let fm_id = failure_mode_id(&mut tx, change, *failure_mode).await?.ok_or_else(|| {
                AppError::invalid("failure_mode", format!("{} has no {label}.", change.key))
            })?;
            (Some(fm_id), Some(*failure_mode))
        }
        (Classification::Missed, Some(lesson)) => {
            if status == ChangeStatus::Cancelled {
                return Err(AppError::Conflict(
                    "The change is cancelled: record the miss without adding a failure mode to it."
                        .to_owned(),
                ));
            }
            let number = insert_failure_mode(&mut tx, actor, change, &lesson.failure_mode, None).await?;
            if let Some(template) = &lesson.template {
                templates::insert(&mut tx, actor, change.team_id, template).await?;
            }
            (failure_mode_id(&mut tx, change, number).await?, Some(number))
        }
        (Classification::Missed, None) => (None, None),
    };
    sqlx::query(
        "UPDATE incident_changes SET verdict = $1, failure_mode_id = $2, classified_at = $3
         WHERE incident_id = $4 AND change_id = $5",
    )
    .bind(verdict.as_str())
    .bind(fm_id)
    .bind(Timestamp::now())
    .bind(id)
    .bind(change.id)
    .execute(&mut *tx)
    .await?;
    // Each failure mode of the change holds when an incident last showed its design failing
    // (the evidence from before stops counting; the event settles the gate at commit).
    sqlx::query(
        "UPDATE failure_modes SET design_failed_at = (
            SELECT MAX(l.classified_at) FROM incident_changes l
            WHERE l.failure_mode_id = failure_modes.id AND l.verdict = 'failed')
         WHERE change_id = $1",
    )
    .bind(change.id)
    .execute(&mut *tx)
    .await?;
    let event = Event::IncidentClassified {
        team: change.team_id,
        key: change.key.clone(),
        incident: id,
        before,
        verdict,
        failure_mode: number,
    };
    tx.record(actor, event).await?;
    tx.commit().await?;
    Ok(number)
}

/// The id of `change`'s failure mode `number`, if it has one.
async fn failure_mode_id(
    tx: &mut crate::ssr::write::Write,
    change: &Change,
    number: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM failure_modes WHERE change_id = $1 AND number = $2")
        .bind(change.id)
        .bind(number)
        .fetch_optional(&mut **tx)
        .await
}

/// `change`'s verdict on incident `id` and the number of the failure mode it names, if the
/// incident names the change.
async fn verdict_of(
    tx: &mut crate::ssr::write::Write,
    id: IncidentId,
    change: &Change,
) -> Result<Option<(Option<Verdict>, Option<i64>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT ic.verdict, fm.number FROM incident_changes ic
         LEFT JOIN failure_modes fm ON fm.id = ic.failure_mode_id
         WHERE ic.incident_id = $1 AND ic.change_id = $2",
    )
    .bind(id)
    .bind(change.id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        let verdict = row.try_get::<Option<String>, _>("verdict")?.and_then(|v| Verdict::parse(&v).ok());
        Ok((verdict, row.try_get::<Option<i64>, _>("number")?))
    })
    .transpose()
}
