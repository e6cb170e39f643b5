//! Teams as their members see them.
#![allow(clippy::too_many_arguments, reason = "one argument per form field")]

use crate::domain::{AppError, Role};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A team in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamItem {
    pub slug: String,
    pub name: String,
    pub members: i64,
    /// The viewer's own role there (`None` for admins who are not members).
    pub my_role: Option<Role>,
}

/// A team's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub slug: String,
    pub name: String,
    pub members: Vec<MemberItem>,
    /// Whether the viewer may add members and change roles (team lead or admin).
    pub can_manage: bool,
    pub policy: crate::domain::gate::Policy,
    /// Whether the team's change badges are served without a token.
    pub public_badges: bool,
    pub work: crate::domain::portfolio::TeamWork,
    pub recent_runs: Vec<crate::domain::gate::RunSummary>,
    /// For its leads: how many of the team's webhooks Premortem disabled (their page says
    /// why).
    pub webhooks_disabled: usize,
}

/// A member on a team page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberItem {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// Teams the user belongs to; every team for admins.
#[server(endpoint = "teams")]
pub async fn my_teams() -> Result<Vec<TeamItem>, AppError> {
    use crate::ssr::{auth, state, store::teams};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let all = teams::list(&state()?.db).await?;
    Ok(all
        .into_iter()
        .filter(|t| user.is_admin || user.role_in(t.id).is_some())
        .map(|t| TeamItem { my_role: user.role_in(t.id), slug: t.slug, name: t.name, members: t.members })
        .collect())
}

/// One team with its members. Visible to its members and to admins.
#[server(endpoint = "team")]
pub async fn team_page(slug: String) -> Result<TeamView, AppError> {
    use crate::ssr::store::teams;
    let (user, state, team) = super::team_access(&slug, Role::Viewer).await?;
    let db = state.db;
    let members = teams::members(&db, team.id)
        .await?
        .into_iter()
        .map(|m| MemberItem { username: m.username, display_name: m.display_name, role: m.role })
        .collect();
    let policy = crate::ssr::store::changes::team_policy(&db, team.id).await?;
    let public_badges = crate::ssr::store::changes::public_badges_enabled(&db, team.id).await?;
    let work = crate::ssr::portfolio::team_work(&db, team.id).await?;
    let recent_runs = crate::ssr::store::evidence::recent_runs(&db, team.id, 5).await?;
    let can_manage = user.has_role(team.id, Role::Lead);
    let webhooks_disabled = if can_manage {
        use crate::domain::webhook::WebhookState;
        let hooks = crate::ssr::store::webhooks::list(&db, team.id).await?;
        hooks.iter().filter(|h| h.state == WebhookState::Disabled).count()
    } else {
        0
    };
    Ok(TeamView {
        work,
        recent_runs,
        webhooks_disabled,
        can_manage,
        slug: team.slug,
        name: team.name,
        members,
        policy,
        public_badges,
    })
}

/// Adds a user to a team, or changes their role, or removes them (`role` = `remove`).
/// Allowed to the team's leads and to admins.
#[server(endpoint = "set_member")]
pub async fn set_member(team: String, username: String, role: String) -> Result<(), AppError> {
    use crate::domain::Username;
    use crate::ssr::store::{teams, users};
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let db = state.db;
    let username = Username::parse(&username)?;
    let role = if role == "remove" { None } else { Some(Role::parse("role", &role)?) };
    let member = users::id_by_username(&db, &username).await?;
    teams::set_membership(&db, &crate::ssr::audit_actor(&user), team.id, member, role).await
}

/// Sets a team's rules for its changes. Leads of the team and admins.
#[server(endpoint = "set_policy")]
pub async fn set_policy(
    team: String,
    window_days: String,
    freshness_days: String,
    min_failure_modes: String,
    warning_days: String,
    allow_high_acceptance: Option<String>,
    public_badges: Option<String>,
) -> Result<(), AppError> {
    use crate::domain::gate::Policy;
    use crate::ssr::audit_actor;
    use crate::ssr::store::changes;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let db = state.db;
    let number = |field: &str, label: &str, raw: &str, range: std::ops::RangeInclusive<i64>| {
        raw.trim().parse::<i64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            AppError::invalid(
                field,
                format!("{label} must be a whole number from {} to {}.", range.start(), range.end()),
            )
        })
    };
    use crate::domain::time::Days;
    let policy = Policy {
        window_days: Days(number("window_days", "Failure-case window", &window_days, 1..=365)?),
        freshness_days: Days(number("freshness_days", "Evidence freshness", &freshness_days, 1..=365)?),
        min_failure_modes: number("min_failure_modes", "Minimum failure modes", &min_failure_modes, 0..=100)?,
        allow_high_acceptance: allow_high_acceptance.is_some(),
        warning_days: Days(number("warning_days", "Warning days", &warning_days, 0..=365)?),
    };
    changes::set_policy(&db, &audit_actor(&user), team.id, policy, public_badges.is_some()).await
}

/// A team's own failure-mode templates, for its template page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatesView {
    pub slug: String,
    pub name: String,
    /// Team leads (and admins) add, edit and retire templates.
    pub can_manage: bool,
    /// Each with whether it is retired.
    pub templates: Vec<(crate::domain::catalogue::Suggestion, bool)>,
    /// How many built-in templates there are per change type.
    pub built_in: Vec<(crate::domain::change::ChangeType, usize)>,
}

/// The team's templates. Visible to its members and to admins.
#[server(endpoint = "templates")]
pub async fn team_templates(slug: String) -> Result<TemplatesView, AppError> {
    use crate::domain::catalogue;
    use crate::domain::change::ChangeType;
    let (user, state, team) = super::team_access(&slug, Role::Viewer).await?;
    let templates = crate::ssr::store::templates::team_templates(&state.db, team.id).await?;
    Ok(TemplatesView {
        can_manage: user.has_role(team.id, Role::Lead),
        slug: team.slug,
        name: team.name,
        templates,
        built_in: ChangeType::ALL.into_iter().map(|t| (t, catalogue::for_type(t).count())).collect(),
    })
}

/// Adds a team template (`id` empty) or replaces one. Team leads and admins.
#[server(endpoint = "save_template")]
pub async fn save_template(
    team: String,
    id: String,
    change_type: String,
    title: String,
    scenario: String,
    effect: String,
    detection: String,
    designs: String,
    tests: String,
    severity: String,
    likelihood: String,
    detectability: String,
) -> Result<(), AppError> {
    use crate::domain::catalogue::{TemplateFields, TemplateInput};
    use crate::ssr::store::templates;
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    let input = TemplateInput::try_from(TemplateFields {
        change_type,
        title,
        scenario,
        effect,
        detection,
        designs,
        tests,
        severity,
        likelihood,
        detectability,
    })?;
    let actor = crate::ssr::audit_actor(&user);
    match id.trim() {
        "" => templates::create(&state.db, &actor, team.id, &input).await.map(|_| ()),
        raw => {
            let id = raw
                .parse()
                .map(crate::domain::ids::TemplateId)
                .map_err(|_| AppError::NotFound("The template".to_owned()))?;
            templates::update(&state.db, &actor, team.id, id, &input).await
        }
    }
}

/// Retires a team template: no longer suggested. Team leads and admins.
#[server(endpoint = "retire_template")]
pub async fn retire_template(team: String, id: i64) -> Result<(), AppError> {
    let (user, state, team) = super::team_access(&team, Role::Lead).await?;
    crate::ssr::store::templates::retire(
        &state.db,
        &crate::ssr::audit_actor(&user),
        team.id,
        crate::domain::ids::TemplateId(id),
    )
    .await
}
