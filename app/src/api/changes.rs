//! Changes, milestones, failure modes, risk acceptance and sign-off.

use crate::domain::AppError;
use crate::domain::change::{ChangeStatus, ChangeType};
use crate::domain::gate::TestResult;
use crate::domain::time::Timestamp;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A change in a team's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub key: String,
    pub title: String,
    pub status: ChangeStatus,
    pub types: Vec<ChangeType>,
    pub author: String,
    pub happy_path_at: Option<Timestamp>,
    pub target_at: Option<Timestamp>,
    pub overdue: bool,
    pub failure_modes: i64,
}

/// A team's changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeList {
    pub team_slug: String,
    pub team_name: String,
    pub can_create: bool,
    pub changes: Vec<ChangeRow>,
}

/// One line of a change's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
}

/// A stored sign-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOffItem {
    pub signed_by: String,
    pub signed_at: Timestamp,
    pub content_hash: String,
}

/// Everything the change page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    /// Flattened: the wire shape is the change's fields beside the page's own.
    #[serde(flatten)]
    pub change: crate::domain::gate::ChangeSummary,
    /// The change has no author (an API token registered it) and the user may claim it.
    pub can_claim: bool,
    pub can_edit: bool,
    /// `None` when the user may sign off; otherwise why not.
    pub sign_off_refusal: Option<String>,
    pub sign_offs: Vec<SignOffItem>,
    pub history: Vec<HistoryItem>,
    /// Catalogue templates for the change's types not used yet (when the user may edit).
    pub suggestions: Vec<crate::domain::catalogue::Suggestion>,
    /// The incidents that followed the change, newest first, with its verdict on each.
    pub incidents: Vec<crate::domain::incident::ChangeIncident>,
    /// The user may record and classify them (a member of the team).
    pub can_record_incidents: bool,
    /// The incident form's key: the same form posted twice records one incident.
    pub form_key: String,
}

/// Everything a failure mode's page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureModeView {
    /// Flattened: the wire shape is the failure mode's fields beside the page's own.
    #[serde(flatten)]
    pub fm: crate::domain::gate::FailureModeSummary,
    pub key: String,
    pub change_title: String,
    /// Its version, sent back with an edit (optimistic locking).
    pub version: i64,
    pub designs_text: String,
    pub selectors_text: String,
    pub evidence: Vec<TestResult>,
    pub can_edit: bool,
    /// `None` when the user may accept this risk; otherwise why not.
    pub accept_refusal: Option<String>,
    /// The catalogue template it started from: its suggested designs and tests.
    pub template: Option<crate::domain::catalogue::Suggestion>,
    pub now: Timestamp,
}

#[cfg(feature = "ssr")]
pub(super) mod server {
    use crate::domain::{AppError, Principal, Role};
    use crate::ssr::access::{self, Caller};
    use crate::ssr::review::Review;
    use crate::ssr::{AppState, auth, state};

    /// The logged-in user, the state, and the change — if the user holds `needed` in its team
    /// (and then only if the call's arguments are within their bounds).
    pub async fn authorized(key: &str, needed: Role) -> Result<(Principal, AppState, Review), AppError> {
        let user = auth::require_user().await?;
        let state = state()?;
        let review = access::change(&state.db, Caller::Person(&user), key, needed).await?;
        auth::arguments_within_bounds()?;
        Ok((user, state, review))
    }

    /// Why `user` may not act as the second pair of eyes on this change, if they may not
    /// (the rule is the domain's: `Principal::second_pair_of_eyes`).
    pub fn four_eyes_refusal(user: &Principal, review: &Review) -> Option<String> {
        let change = &review.change;
        user.second_pair_of_eyes(crate::domain::role::Registrant {
            team: change.team_id,
            author: change.author_id,
            token_owner: change.registered_by_token.as_ref().and_then(|t| t.owner),
        })
        .err()
    }
}

/// A team's changes, optionally of one status or only overdue ones.
#[server(endpoint = "changes")]
pub async fn list_changes(
    team: String,
    status: Option<String>,
    overdue: Option<String>,
) -> Result<ChangeList, AppError> {
    use crate::domain::Role;
    use crate::domain::time::Timestamp;
    use crate::ssr::store::changes;
    let (user, state, team) = super::team_access(&team, Role::Viewer).await?;
    let db = state.db;
    let status = status.as_deref().filter(|s| !s.is_empty()).and_then(ChangeStatus::parse);
    let now = Timestamp::now();
    let only_overdue = overdue.is_some_and(|o| !o.is_empty());
    let changes = changes::list(&db, team.id, status)
        .await?
        .into_iter()
        .filter(|l| !only_overdue || l.change.is_overdue(now))
        .map(|l| ChangeRow {
            overdue: l.change.is_overdue(now),
            key: l.change.key.to_string(),
            author: l.change.author_label(),
            title: l.change.details.title,
            status: l.change.status,
            types: l.change.details.types,
            happy_path_at: l.change.happy_path_at,
            target_at: l.change.target_at,
            failure_modes: l.failure_modes,
        })
        .collect();
    Ok(ChangeList {
        can_create: user.has_role(team.id, Role::Member),
        team_slug: team.slug,
        team_name: team.name,
        changes,
    })
}

/// Registers a change; answers its key. Members of the team (and admins) may. The form's
/// fields are the change's ([`ChangeFields::from_form`](crate::domain::change::ChangeFields::from_form)).
#[server(endpoint = "create_change")]
pub async fn create_change(
    team: String,
    #[server(flatten)] form: std::collections::BTreeMap<String, String>,
) -> Result<String, AppError> {
    use crate::domain::Role;
    use crate::domain::change::ChangeFields;
    use crate::ssr::audit_actor;
    use crate::ssr::store::changes;
    let (user, state, team) = super::team_access(&team, Role::Member).await?;
    let details = crate::domain::change::ChangeDetails::try_from(ChangeFields::from_form(&form))?;
    let key = changes::create(
        &state.db,
        &audit_actor(&user),
        team.id,
        changes::Registrar::Person(user.id),
        &details,
    )
    .await?;
    super::redirect_html_form(&format!("/changes/{key}"));
    Ok(key.to_string())
}

/// Edits an open change's details, if nobody else has since `version`. Members may.
#[server(endpoint = "update_change")]
pub async fn update_change(
    key: String,
    version: i64,
    #[server(flatten)] form: std::collections::BTreeMap<String, String>,
) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::change::ChangeFields;
    use crate::ssr::audit_actor;
    use crate::ssr::store::changes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    let details = crate::domain::change::ChangeDetails::try_from(ChangeFields::from_form(&form))?;
    changes::update_details(&state.db, &audit_actor(&user), &review.change, version, &details).await?;
    super::redirect_html_form(&format!("/changes/{}", review.change.key));
    Ok(())
}

/// The change page: milestones, failure modes with coverage, the gate and history.
#[server(endpoint = "change")]
pub async fn change_detail(key: String) -> Result<ChangeView, AppError> {
    use crate::domain::Role;
    use crate::ssr::store::{changes, sign_offs};
    let (user, state, review) = server::authorized(&key, Role::Viewer).await?;
    let sign_off_refusal = server::four_eyes_refusal(&user, &review)
        .or_else(|| {
            (!review.gate.is_open()).then(|| "The gate is closed: see what is missing above.".to_owned())
        })
        .or_else(|| review.change.status.sign_off().err().map(|refusal| refusal.to_string()));
    let sign_offs = sign_offs::sign_offs(&state.db, &review.change)
        .await?
        .into_iter()
        .map(|s| SignOffItem { signed_by: s.signed_by, signed_at: s.signed_at, content_hash: s.content_hash })
        .collect();
    let history = changes::history(&state.db, &review.change)
        .await?
        .into_iter()
        .map(|r| HistoryItem {
            at: r.at,
            actor: r.actor,
            action: r.action,
            object: r.object_id,
            detail: r.after.or(r.before).unwrap_or_default(),
        })
        .collect();
    let c = &review.change;
    let can_edit = user.has_role(c.team_id, Role::Member) && c.status.is_open();
    let incidents = crate::ssr::store::incidents::for_change(&state.db, c.id).await?;
    let suggestions = if can_edit {
        let used: Vec<_> = review.failure_modes.iter().filter_map(|fm| fm.template.as_ref()).collect();
        crate::ssr::store::templates::suggestions(&state.db, c.team_id, &c.details.types)
            .await?
            .into_iter()
            .filter(|s| !used.contains(&&s.key))
            .collect()
    } else {
        Vec::new()
    };
    Ok(ChangeView {
        can_claim: c.author_id.is_none() && can_edit,
        change: (&review).into(),
        can_edit,
        sign_off_refusal,
        sign_offs,
        history,
        suggestions,
        incidents,
        can_record_incidents: user.has_role(c.team_id, Role::Member),
        form_key: super::form_key(),
    })
}

/// Records that the happy path works; the failure-cases target date follows from it.
#[server(endpoint = "happy_path")]
pub async fn record_happy_path(
    key: String,
    note: String,
    /// `YYYY-MM-DD` when it started working; empty for now.
    #[server(default)]
    on: String,
) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::change::optional_text;
    use crate::domain::time::milestone_date;
    use crate::ssr::audit_actor;
    use crate::ssr::store::changes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    let note = optional_text("note", "Note", &note, crate::domain::change::NOTE_MAX)?;
    let at = milestone_date("on", &on, Timestamp::now())?;
    changes::record_happy_path(&state.db, &audit_actor(&user), Some(user.id), &review.change, &note, at).await
}

/// Makes the caller the author of a change registered through an API token. Members.
#[server(endpoint = "claim_change")]
pub async fn claim_change(key: String) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::ssr::audit_actor;
    use crate::ssr::store::changes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    changes::claim(&state.db, &audit_actor(&user), user.id, &review.change).await?;
    super::redirect_html_form(&format!("/changes/{}", review.change.key));
    Ok(())
}

/// Cancels a change that is not signed off.
#[server(endpoint = "cancel_change")]
pub async fn cancel_change(key: String, reason: String) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::change::optional_text;
    use crate::ssr::audit_actor;
    use crate::ssr::store::changes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    let reason = optional_text("reason", "Reason", &reason, crate::domain::change::NOTE_MAX)?;
    changes::cancel(&state.db, &audit_actor(&user), &review.change, &reason).await
}

/// Adds a failure mode; answers its number.
#[server(endpoint = "add_failure_mode")]
pub async fn add_failure_mode(
    key: String,
    #[server(flatten)] form: std::collections::BTreeMap<String, String>,
) -> Result<i64, AppError> {
    use crate::domain::Role;
    use crate::domain::failure_mode::{FailureModeFields, FailureModeInput};
    use crate::ssr::audit_actor;
    use crate::ssr::store::failure_modes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    let input = FailureModeInput::try_from(FailureModeFields::from_form(&form))?;
    if review.change.status == ChangeStatus::Cancelled {
        return Err(AppError::Conflict("The change is cancelled.".to_owned()));
    }
    failure_modes::add_failure_mode(&state.db, &audit_actor(&user), &review.change, &input).await
}

/// A failure mode's page.
#[server(endpoint = "failure_mode")]
pub async fn failure_mode_detail(key: String, number: i64) -> Result<FailureModeView, AppError> {
    use crate::domain::Role;
    use crate::domain::failure_mode::{Design, Selector};
    let (user, state, review) = server::authorized(&key, Role::Viewer).await?;
    let index = review.failure_modes.iter().position(|fm| fm.number == number).ok_or_else(|| {
        AppError::NotFound(format!("{} of {}", crate::domain::failure_mode::label(number), review.change.key))
    })?;
    let stored = &review.failure_modes[index];
    let fm = crate::domain::gate::ChangeSummary::from(&review).failure_modes.swap_remove(index);
    Ok(FailureModeView {
        key: review.change.key.to_string(),
        change_title: review.change.details.title.clone(),
        version: stored.version,
        designs_text: fm.designs.iter().map(Design::to_line).collect::<Vec<_>>().join("\n"),
        selectors_text: fm.selectors.iter().map(Selector::as_str).collect::<Vec<_>>().join("\n"),
        evidence: review.evidence.matches(fm.number, &fm.selectors).all().into_iter().cloned().collect(),
        can_edit: user.has_role(review.change.team_id, Role::Member) && review.change.status.is_open(),
        accept_refusal: server::four_eyes_refusal(&user, &review),
        template: match &stored.template {
            Some(key) => crate::ssr::store::templates::resolve(&state.db, review.change.team_id, key).await?,
            None => None,
        },
        now: review.now,
        fm,
    })
}

/// Saves a failure mode, refusing if someone else saved it since `version` was read.
#[server(endpoint = "update_failure_mode")]
pub async fn update_failure_mode(
    key: String,
    number: i64,
    version: i64,
    #[server(flatten)] form: std::collections::BTreeMap<String, String>,
) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::failure_mode::{FailureModeFields, FailureModeInput};
    use crate::ssr::audit_actor;
    use crate::ssr::store::failure_modes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    let input = FailureModeInput::try_from(FailureModeFields::from_form(&form))?;
    failure_modes::update_failure_mode(
        &state.db,
        &audit_actor(&user),
        &review.change,
        number,
        version,
        &input,
    )
    .await
}

/// Deletes a failure mode.
#[server(endpoint = "delete_failure_mode")]
pub async fn delete_failure_mode(key: String, number: i64) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::ssr::audit_actor;
    use crate::ssr::store::failure_modes;
    let (user, state, review) = server::authorized(&key, Role::Member).await?;
    failure_modes::delete_failure_mode(&state.db, &audit_actor(&user), &review.change, number).await?;
    super::redirect_html_form(&format!("/changes/{}", review.change.key));
    Ok(())
}

/// Accepts the risk of a failure mode until `expires_on` (YYYY-MM-DD). A lead who is not
/// the change's author; High priority only where the team allows it.
#[server(endpoint = "accept_risk")]
pub async fn accept_risk(
    key: String,
    number: i64,
    justification: String,
    expires_on: String,
) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::domain::gate::RiskAcceptanceInput;
    use crate::ssr::audit_actor;
    use crate::ssr::store::failure_modes;
    let (user, state, review) = server::authorized(&key, Role::Viewer).await?;
    if let Some(refusal) = server::four_eyes_refusal(&user, &review) {
        user.require_role(review.change.team_id, Role::Lead)?;
        return Err(AppError::Conflict(refusal));
    }
    let fm = review.failure_modes.iter().find(|fm| fm.number == number).ok_or_else(|| {
        AppError::NotFound(format!("{} of {}", crate::domain::failure_mode::label(number), review.change.key))
    })?;
    if !review.change.policy.may_accept(fm.input.ratings.priority()) {
        return Err(AppError::Conflict(
            "This failure mode is High priority and this team does not allow accepting such risks."
                .to_owned(),
        ));
    }
    let acceptance = RiskAcceptanceInput::parse(&justification, &expires_on, review.now)?;
    failure_modes::accept_risk(
        &state.db,
        &audit_actor(&user),
        user.id,
        &review.change,
        number,
        &acceptance.justification,
        acceptance.expires_at,
    )
    .await
}

/// Signs off failure cases complete, after the signer re-enters their password. Only a lead
/// of the owning team or an admin, never the author, and only while the gate is open.
#[server(endpoint = "sign_off")]
pub async fn sign_off(key: String, password: String) -> Result<(), AppError> {
    use crate::domain::Role;
    use crate::ssr::audit_actor;
    let (user, state, review) = server::authorized(&key, Role::Viewer).await?;
    if let Some(refusal) = server::four_eyes_refusal(&user, &review) {
        user.require_role(review.change.team_id, Role::Lead)?;
        return Err(AppError::Conflict(refusal));
    }
    auth::confirm_password(&state.db, &state.auth, &user, "password", &password).await?;
    crate::ssr::review::sign_off(&state.db, &audit_actor(&user), user.id, &user.username, &review.change.key)
        .await
}

#[cfg(feature = "ssr")]
use crate::ssr::auth;
