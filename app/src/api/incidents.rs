//! Incidents on a change's page: record one that followed the change, and classify it
//! (predicted by a failure mode whose design held or failed, or missed). Members and leads.

use crate::domain::AppError;
use leptos::prelude::*;

/// Records an incident that followed the change `key` (and any others of its team named in
/// `also`). The form's fields: `title`, `severity`, `started_at` and `resolved_at`
/// (`YYYY-MM-DDTHH:MM`, UTC), `url`, `external_id`, `also`.
#[server(endpoint = "record_incident")]
pub async fn record_incident(
    key: String,
    #[server(flatten)] form: std::collections::BTreeMap<String, String>,
) -> Result<i64, AppError> {
    use crate::domain::Role;
    use crate::domain::incident::{IncidentFields, IncidentInput};
    use crate::domain::time::Timestamp;
    use crate::ssr::access::{self, Caller};
    use crate::ssr::audit_actor;
    use crate::ssr::store::incidents;
    let (user, state, review) = super::changes::server::authorized(&key, Role::Member).await?;
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let time = |name: &str, label: &str| -> Result<Option<Timestamp>, AppError> {
        match field(name).trim() {
            "" => Ok(None),
            raw => Timestamp::parse_date_time(raw).map(Some).ok_or_else(|| {
                AppError::invalid(
                    name,
                    format!("Give {label} as a date and time (UTC), e.g. 2026-11-02 14:05."),
                )
            }),
        }
    };
    let mut changes = vec![review.change.key.to_string()];
    changes.extend(field("also").split([',', ' ', '\n']).map(str::to_owned));
    let fields = IncidentFields {
        title: field("title"),
        severity: field("severity"),
        started_at: time("started_at", "when it started")?,
        resolved_at: time("resolved_at", "when it was resolved")?,
        url: field("url"),
        external_id: field("external_id"),
        changes,
    };
    let input = IncidentInput::check(fields, Timestamp::now())?;
    let form_key = form
        .get("idempotency_key")
        .map(|k| crate::domain::text::idempotency_key(k))
        .transpose()
        .map_err(|e| AppError::invalid("idempotency_key", e))?;
    // The page's change is the first; the others are asked for one by one.
    let mut named = vec![review.change.clone()];
    for change in &input.changes[1..] {
        named.push(access::incidents_of(&state.db, Caller::Person(&user), change, Role::Member).await?);
    }
    if named.iter().any(|c| c.team_id != review.change.team_id) {
        return Err(AppError::invalid("also", "An incident's changes must all be this team's."));
    }
    let (id, _) =
        incidents::record(&state.db, &audit_actor(&user), review.change.team_id, &named, &input, form_key)
            .await?;
    Ok(id.0)
}

/// Records the change's verdict on incident `incident`: `verdict` is `held` or `failed`
/// (with `failure_mode`, its number) or `missed`. A miss with `lesson` on adds the failure
/// mode the form describes (`title`, `scenario`, `effect`, `severity`, `likelihood`,
/// `detectability`), and with `template` on also a team template for changes of type
/// `template_type`. Answers the failure mode's number, if any.
#[server(endpoint = "classify_incident")]
pub async fn classify_incident(
    key: String,
    incident: i64,
    #[server(flatten)] form: std::collections::BTreeMap<String, String>,
) -> Result<Option<i64>, AppError> {
    use crate::domain::Role;
    use crate::domain::catalogue::{TemplateFields, TemplateInput};
    use crate::domain::failure_mode::{FailureModeFields, FailureModeInput};
    use crate::domain::ids::IncidentId;
    use crate::domain::incident::Classification;
    use crate::ssr::audit_actor;
    use crate::ssr::store::incidents::{self, Lesson};
    let (user, state, review) = super::changes::server::authorized(&key, Role::Member).await?;
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let classification = Classification::parse(&field("verdict"), &field("failure_mode"))?;
    let on = |name: &str| !field(name).is_empty();
    let lesson = if classification == Classification::Missed && on("lesson") {
        let fields = FailureModeFields::from_form(&form);
        let template = on("template")
            .then(|| {
                TemplateInput::try_from(TemplateFields::of_failure_mode(field("template_type"), &fields))
            })
            .transpose()?;
        Some(Lesson { failure_mode: FailureModeInput::try_from(fields)?, template })
    } else {
        None
    };
    let actor = audit_actor(&user);
    incidents::classify(
        &state.db,
        &actor,
        &review.change,
        IncidentId(incident),
        &classification,
        lesson.as_ref(),
    )
    .await
}
