//! What happened: one variant per kind of mutation. The store records each event in the
//! write transaction that makes the change ([`crate::ssr::write::Write::record`]), which
//! appends the audit entry; an event says what its entry holds (action, object, the
//! state before and after), so no mutation writes an audit entry by hand.

use super::change::{ChangeKey, ChangeStatus};
use super::gate::{Acceptance, Coverage, Policy};
use super::ids::{DeliveryId, IncidentId, RunId, TeamId, TemplateId, TokenId, UserId, WebhookId};
use super::incident::{Severity, Verdict};
use super::role::Role;
use super::webhook::WebhookState;
use crate::domain::time::Timestamp;
use serde_json::{Map, Value, json};

/// A failure mode, by its change and number (`PAY-12/FM-3`).
#[derive(Clone, Debug, PartialEq)]
pub struct FailureModeRef {
    pub team: TeamId,
    pub change: ChangeKey,
    pub number: i64,
}

impl FailureModeRef {
    /// Its key, `PAY-12/FM-3`.
    pub fn key(&self) -> super::failure_mode::FailureModeKey {
        super::failure_mode::FailureModeKey { change: self.change.clone(), number: self.number }
    }
}

/// A change's move from one status to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    pub from: ChangeStatus,
    pub to: ChangeStatus,
}

/// A failure mode's coverage before and after a CI run (`FM-3`, verified, failing).
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageMove {
    pub failure_mode: String,
    pub from: Coverage,
    pub to: Coverage,
}

/// What a change's gate depends on, which the write transaction settles after an event
/// ([`Event::gate_scope`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateScope {
    /// One change of a team, by number.
    Change(TeamId, i64),
    /// Every change of a team (its policy changed).
    Team(TeamId),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    TeamCreated {
        team: TeamId,
        slug: String,
        name: String,
    },
    /// A member added (`before` none), their role changed, or removed (`after` none).
    MembershipChanged {
        team: TeamId,
        username: String,
        before: Option<Role>,
        after: Option<Role>,
    },
    PolicySet {
        team: TeamId,
        before: (Policy, bool),
        after: (Policy, bool),
    },
    ChangeRegistered {
        team: TeamId,
        key: ChangeKey,
        title: String,
        types: String,
    },
    /// Only the details that differ, as they were and as they are.
    ChangeEdited {
        team: TeamId,
        key: ChangeKey,
        before: Map<String, Value>,
        after: Map<String, Value>,
    },
    ChangeClaimed {
        team: TeamId,
        key: ChangeKey,
        author: UserId,
    },
    HappyPathRecorded {
        team: TeamId,
        key: ChangeKey,
        moved: Moved,
        at: Timestamp,
        target_at: Timestamp,
        note: Option<String>,
    },
    ChangeCancelled {
        team: TeamId,
        key: ChangeKey,
        moved: Moved,
        reason: String,
    },
    /// A signed-off change whose evidence now fails, with the failing failure modes, or
    /// that an incident after it showed its premortem did not hold (`incident`).
    ChangeRegressed {
        team: TeamId,
        key: ChangeKey,
        moved: Moved,
        failing: Vec<String>,
        incident: Option<IncidentId>,
    },
    SignedOff {
        team: TeamId,
        key: ChangeKey,
        moved: Moved,
        content_hash: String,
    },
    /// A CI run changed the coverage of some of the change's failure modes.
    CoverageChanged {
        team: TeamId,
        key: ChangeKey,
        run: RunId,
        moves: Vec<CoverageMove>,
    },
    /// The gate of a change awaiting sign-off opened or closed, with its failure modes and
    /// how many of them counted as covered then. Derived: recorded by the write
    /// transaction (or, as time passes, the sweeper) that caused it.
    GateMoved {
        team: TeamId,
        key: ChangeKey,
        open: bool,
        failure_modes: i64,
        covered: i64,
    },
    /// An open change's target date came within its team's warning days (`passed` false)
    /// or went by (`passed` true). Recorded by the sweeper, once per target date.
    TargetNear {
        team: TeamId,
        key: ChangeKey,
        target_at: Timestamp,
        passed: bool,
    },
    /// `fields` is the failure mode as added (its template included).
    FailureModeAdded {
        fm: FailureModeRef,
        fields: Value,
    },
    FailureModeEdited {
        fm: FailureModeRef,
        before: Value,
        acceptance: Option<Acceptance>,
        after: Value,
        acceptance_voided: bool,
    },
    FailureModeRemoved {
        fm: FailureModeRef,
        fields: Value,
    },
    RiskAccepted {
        fm: FailureModeRef,
        justification: String,
        expires_at: Timestamp,
    },
    /// The failure mode's current risk acceptance runs out within
    /// [`super::webhook::EXPIRING_WITHIN`] (recorded by the sweeper, once).
    RiskExpiring {
        fm: FailureModeRef,
        expires_at: Timestamp,
    },
    /// The failure mode's current risk acceptance ran out (recorded by the sweeper).
    RiskExpired {
        fm: FailureModeRef,
        expired_at: Timestamp,
    },
    TemplateCreated {
        team: TeamId,
        template: TemplateId,
        fields: Value,
    },
    TemplateUpdated {
        team: TeamId,
        template: TemplateId,
        fields: Value,
    },
    TemplateRetired {
        team: TeamId,
        template: TemplateId,
        at: Timestamp,
    },
    /// `account` is the user as shown in the audit log (never a password or its hash).
    UserCreated {
        user: UserId,
        account: Value,
    },
    UserAccessSet {
        user: UserId,
        disabled: bool,
        before: Value,
        after: Value,
    },
    PasswordReset {
        user: UserId,
        username: String,
    },
    /// A user changed their own display name (`/account`).
    UserRenamed {
        user: UserId,
        before: Value,
        after: Value,
    },
    /// An identity at the OpenID provider linked to a user at its first sign-in: to a user
    /// created then, or to the one an admin pre-linked by `email`.
    IdentityLinked {
        user: UserId,
        issuer: String,
        subject: String,
        email: Option<String>,
    },
    /// An admin pre-linked a user to the provider's identity with this address (confirmed at its
    /// first sign-in), or withdrew a pre-link still waiting (`email` none).
    IdentityPrelinked {
        user: UserId,
        before: Option<String>,
        email: Option<String>,
    },
    /// A user signed out one of their sessions, or every other one (`others`), from `/account`.
    SessionsEnded {
        user: UserId,
        others: bool,
        ended: u64,
    },
    /// A provider group mapped to a role in a team (`after`), or unmapped (`after` none).
    GroupRoleSet {
        team: TeamId,
        group: String,
        before: Option<Role>,
        after: Option<Role>,
    },
    TokenCreated {
        team: TeamId,
        token: TokenId,
        name: String,
        prefix: String,
        scopes: String,
        expires_at: Option<Timestamp>,
    },
    TokenRevoked {
        team: TeamId,
        token: TokenId,
    },
    /// A personal token given to another member of its team (its owner leaving, say).
    TokenTransferred {
        team: TeamId,
        token: TokenId,
        before: Option<String>,
        after: String,
    },
    /// `destination` is the URL's origin only: a Slack URL's path is its secret.
    WebhookCreated {
        team: TeamId,
        webhook: WebhookId,
        destination: String,
        events: String,
        format: String,
    },
    /// Paused or resumed by a lead, or disabled by Premortem with the reason.
    WebhookStateSet {
        team: TeamId,
        webhook: WebhookId,
        before: WebhookState,
        after: WebhookState,
        reason: Option<String>,
    },
    WebhookDeleted {
        team: TeamId,
        webhook: WebhookId,
        destination: String,
    },
    /// A new signing secret; the previous one signs too until `previous_until`.
    WebhookSecretRotated {
        team: TeamId,
        webhook: WebhookId,
        previous_until: Timestamp,
    },
    /// A test event queued for the webhook.
    WebhookTested {
        team: TeamId,
        webhook: WebhookId,
        delivery: DeliveryId,
    },
    /// A delivery queued again by hand.
    DeliveryRequeued {
        team: TeamId,
        webhook: WebhookId,
        delivery: DeliveryId,
    },
    /// An incident recorded as following a change (`new` false: a repeat post updated it).
    IncidentRecorded {
        team: TeamId,
        key: ChangeKey,
        incident: IncidentId,
        title: String,
        severity: Severity,
        started_at: Timestamp,
        new: bool,
    },
    /// A change's verdict on an incident after it: predicted by `failure_mode` (its design
    /// held or failed) or missed (`failure_mode` the one it became, if any).
    IncidentClassified {
        team: TeamId,
        key: ChangeKey,
        incident: IncidentId,
        before: Option<Verdict>,
        verdict: Verdict,
        failure_mode: Option<i64>,
    },
}

impl Event {
    /// The audit log's name for what happened, e.g. `change.sign_off`.
    pub fn action(&self) -> &'static str {
        match self {
            Event::TeamCreated { .. } => "team.create",
            Event::MembershipChanged { before: None, .. } => "membership.add",
            Event::MembershipChanged { after: Some(_), .. } => "membership.set_role",
            Event::MembershipChanged { .. } => "membership.remove",
            Event::PolicySet { .. } => "team.set_policy",
            Event::ChangeRegistered { .. } => "change.create",
            Event::ChangeEdited { .. } => "change.update",
            Event::ChangeClaimed { .. } => "change.claim",
            Event::HappyPathRecorded { .. } => "change.happy_path",
            Event::ChangeCancelled { .. } => "change.cancel",
            Event::ChangeRegressed { .. } => "change.regress",
            Event::SignedOff { .. } => "change.sign_off",
            Event::CoverageChanged { .. } => "change.coverage",
            Event::GateMoved { open: true, .. } => "change.gate_open",
            Event::GateMoved { .. } => "change.gate_close",
            Event::TargetNear { passed: false, .. } => "change.due_soon",
            Event::TargetNear { .. } => "change.overdue",
            Event::FailureModeAdded { .. } => "failure_mode.create",
            Event::FailureModeEdited { .. } => "failure_mode.update",
            Event::FailureModeRemoved { .. } => "failure_mode.delete",
            Event::RiskAccepted { .. } => "failure_mode.accept_risk",
            Event::RiskExpiring { .. } => "failure_mode.risk_expiring",
            Event::RiskExpired { .. } => "failure_mode.risk_expired",
            Event::TemplateCreated { .. } => "template.create",
            Event::TemplateUpdated { .. } => "template.update",
            Event::TemplateRetired { .. } => "template.retire",
            Event::UserCreated { .. } => "user.create",
            Event::UserAccessSet { disabled: true, .. } => "user.disable",
            Event::UserAccessSet { .. } => "user.enable",
            Event::PasswordReset { .. } => "user.reset_password",
            Event::UserRenamed { .. } => "user.rename",
            Event::IdentityLinked { .. } => "user.link_identity",
            Event::SessionsEnded { others: true, .. } => "user.sign_out_others",
            Event::SessionsEnded { .. } => "user.sign_out_session",
            Event::IdentityPrelinked { email: Some(_), .. } => "user.prelink_identity",
            Event::IdentityPrelinked { .. } => "user.unlink_identity",
            Event::GroupRoleSet { after: Some(_), .. } => "group_role.set",
            Event::GroupRoleSet { .. } => "group_role.remove",
            Event::TokenCreated { .. } => "token.create",
            Event::TokenRevoked { .. } => "token.revoke",
            Event::TokenTransferred { .. } => "token.transfer",
            Event::WebhookCreated { .. } => "webhook.create",
            Event::WebhookStateSet { after: WebhookState::Active, .. } => "webhook.resume",
            Event::WebhookStateSet { after: WebhookState::Paused, .. } => "webhook.pause",
            Event::WebhookStateSet { .. } => "webhook.disable",
            Event::WebhookDeleted { .. } => "webhook.delete",
            Event::WebhookSecretRotated { .. } => "webhook.rotate_secret",
            Event::WebhookTested { .. } => "webhook.test",
            Event::DeliveryRequeued { .. } => "webhook.redeliver",
            Event::IncidentRecorded { new: true, .. } => "incident.record",
            Event::IncidentRecorded { .. } => "incident.update",
            Event::IncidentClassified { .. } => "incident.classify",
        }
    }

    /// The kind and id of the object it happened to, e.g. (`change`, `PAY-12`).
    pub fn object(&self) -> (&'static str, String) {
        match self {
            Event::TeamCreated { slug, .. } => ("team", slug.clone()),
            Event::MembershipChanged { team, username, .. } => ("membership", format!("{team}/{username}")),
            Event::PolicySet { team, .. } => ("team", team.to_string()),
            Event::ChangeRegistered { key, .. }
            | Event::ChangeEdited { key, .. }
            | Event::ChangeClaimed { key, .. }
            | Event::HappyPathRecorded { key, .. }
            | Event::ChangeCancelled { key, .. }
            | Event::ChangeRegressed { key, .. }
            | Event::SignedOff { key, .. }
            | Event::CoverageChanged { key, .. }
            | Event::GateMoved { key, .. }
            | Event::TargetNear { key, .. } => ("change", key.to_string()),
            Event::FailureModeAdded { fm, .. }
            | Event::FailureModeEdited { fm, .. }
            | Event::FailureModeRemoved { fm, .. }
            | Event::RiskAccepted { fm, .. }
            | Event::RiskExpiring { fm, .. }
            | Event::RiskExpired { fm, .. } => ("failure_mode", fm.key().to_string()),
            Event::TemplateCreated { template, .. }
            | Event::TemplateUpdated { template, .. }
            | Event::TemplateRetired { template, .. } => ("fm_template", template.to_string()),
            Event::UserCreated { user, .. }
            | Event::UserAccessSet { user, .. }
            | Event::PasswordReset { user, .. }
            | Event::UserRenamed { user, .. }
            | Event::IdentityLinked { user, .. }
            | Event::SessionsEnded { user, .. }
            | Event::IdentityPrelinked { user, .. } => ("user", user.to_string()),
            Event::GroupRoleSet { team, group, .. } => ("group_role", format!("{team}/{group}")),
            Event::TokenCreated { token, .. }
            | Event::TokenRevoked { token, .. }
            | Event::TokenTransferred { token, .. } => ("token", token.to_string()),
            Event::WebhookCreated { webhook, .. }
            | Event::WebhookStateSet { webhook, .. }
            | Event::WebhookDeleted { webhook, .. }
            | Event::WebhookSecretRotated { webhook, .. }
            | Event::WebhookTested { webhook, .. }
            | Event::DeliveryRequeued { webhook, .. } => ("webhook", webhook.to_string()),
            // Under the change's key, so the change's history holds it.
            Event::IncidentRecorded { key, incident, .. }
            | Event::IncidentClassified { key, incident, .. } => {
                ("incident", format!("{key}/incident-{incident}"))
            }
        }
    }

    /// The team it happened in; none for accounts.
    pub fn team(&self) -> Option<TeamId> {
        match self {
            Event::TeamCreated { team, .. }
            | Event::MembershipChanged { team, .. }
            | Event::PolicySet { team, .. }
            | Event::ChangeRegistered { team, .. }
            | Event::ChangeEdited { team, .. }
            | Event::ChangeClaimed { team, .. }
            | Event::HappyPathRecorded { team, .. }
            | Event::ChangeCancelled { team, .. }
            | Event::ChangeRegressed { team, .. }
            | Event::SignedOff { team, .. }
            | Event::CoverageChanged { team, .. }
            | Event::GateMoved { team, .. }
            | Event::TargetNear { team, .. }
            | Event::TemplateCreated { team, .. }
            | Event::TemplateUpdated { team, .. }
            | Event::TemplateRetired { team, .. }
            | Event::TokenCreated { team, .. }
            | Event::TokenRevoked { team, .. }
            | Event::TokenTransferred { team, .. }
            | Event::WebhookCreated { team, .. }
            | Event::WebhookStateSet { team, .. }
            | Event::WebhookDeleted { team, .. }
            | Event::WebhookSecretRotated { team, .. }
            | Event::WebhookTested { team, .. }
            | Event::DeliveryRequeued { team, .. }
            | Event::IncidentRecorded { team, .. }
            | Event::IncidentClassified { team, .. }
            | Event::GroupRoleSet { team, .. } => Some(*team),
            Event::FailureModeAdded { fm, .. }
            | Event::FailureModeEdited { fm, .. }
            | Event::FailureModeRemoved { fm, .. }
            | Event::RiskAccepted { fm, .. }
            | Event::RiskExpiring { fm, .. }
            | Event::RiskExpired { fm, .. } => Some(fm.team),
            Event::UserCreated { .. }
            | Event::UserAccessSet { .. }
            | Event::PasswordReset { .. }
            | Event::UserRenamed { .. }
            | Event::IdentityLinked { .. }
            | Event::SessionsEnded { .. }
            | Event::IdentityPrelinked { .. } => None,
        }
    }

    /// The gates this event may have opened or closed; none for an event that cannot (and
    /// for a gate's own move).
    pub fn gate_scope(&self) -> Option<GateScope> {
        match self {
            Event::PolicySet { team, .. } => Some(GateScope::Team(*team)),
            Event::ChangeRegistered { team, key, .. }
            | Event::HappyPathRecorded { team, key, .. }
            | Event::ChangeCancelled { team, key, .. }
            | Event::ChangeRegressed { team, key, .. }
            | Event::SignedOff { team, key, .. }
            | Event::CoverageChanged { team, key, .. }
            | Event::IncidentClassified { team, key, .. } => Some(GateScope::Change(*team, key.number())),
            Event::FailureModeAdded { fm, .. }
            | Event::FailureModeEdited { fm, .. }
            | Event::FailureModeRemoved { fm, .. }
            | Event::RiskAccepted { fm, .. }
            | Event::RiskExpired { fm, .. } => Some(GateScope::Change(fm.team, fm.change.number())),
            Event::TeamCreated { .. }
            | Event::MembershipChanged { .. }
            | Event::ChangeEdited { .. }
            | Event::ChangeClaimed { .. }
            | Event::GateMoved { .. }
            | Event::TargetNear { .. }
            | Event::RiskExpiring { .. }
            | Event::TemplateCreated { .. }
            | Event::TemplateUpdated { .. }
            | Event::TemplateRetired { .. }
            | Event::UserCreated { .. }
            | Event::UserAccessSet { .. }
            | Event::PasswordReset { .. }
            | Event::UserRenamed { .. }
            | Event::IdentityLinked { .. }
            | Event::IdentityPrelinked { .. }
            | Event::SessionsEnded { .. }
            | Event::GroupRoleSet { .. }
            | Event::TokenCreated { .. }
            | Event::TokenRevoked { .. }
            | Event::TokenTransferred { .. }
            | Event::WebhookCreated { .. }
            | Event::WebhookStateSet { .. }
            | Event::WebhookDeleted { .. }
            | Event::WebhookSecretRotated { .. }
            | Event::WebhookTested { .. }
            | Event::DeliveryRequeued { .. }
            | Event::IncidentRecorded { .. } => None,
        }
    }

    /// The object's state before and after, as far as the event concerns it.
    pub fn states(&self) -> (Option<Value>, Option<Value>) {
        let moved = |moved: &Moved, details: Value| {
            let mut after = json!({ "status": moved.to.as_str() });
            if let (Some(after), Value::Object(details)) = (after.as_object_mut(), details) {
                after.extend(details);
            }
            (Some(json!({ "status": moved.from.as_str() })), Some(after))
        };
        match self {
            Event::TeamCreated { slug, name, .. } => (None, Some(json!({ "slug": slug, "name": name }))),
            Event::PolicySet { before, after, .. } => {
                let state =
                    |(policy, public): &(Policy, bool)| json!({ "policy": policy, "public_badges": public });
                (Some(state(before)), Some(state(after)))
            }
            Event::ChangeRegistered { title, types, .. } => (
                None,
                Some(json!({ "title": title, "status": ChangeStatus::Draft.as_str(), "types": types })),
            ),
            Event::ChangeEdited { before, after, .. } => {
                (Some(Value::Object(before.clone())), Some(Value::Object(after.clone())))
            }
            Event::ChangeClaimed { author, .. } => {
                (Some(json!({ "author": null })), Some(json!({ "author_id": author.0 })))
            }
            Event::HappyPathRecorded { moved: m, at, target_at, note, .. } => {
                moved(m, json!({ "happy_path_at": at, "target_at": target_at, "note": note }))
            }
            Event::ChangeCancelled { moved: m, reason, .. } => moved(m, json!({ "reason": reason })),
            Event::ChangeRegressed { moved: m, failing, incident, .. } => {
                moved(m, json!({ "failing": failing, "incident": incident }))
            }
            Event::SignedOff { moved: m, content_hash, .. } => {
                moved(m, json!({ "content_hash": content_hash }))
            }
            Event::FailureModeAdded { fields, .. }
            | Event::TemplateCreated { fields, .. }
            | Event::TemplateUpdated { fields, .. } => (None, Some(fields.clone())),
            Event::FailureModeEdited { before, acceptance, after, acceptance_voided, .. } => (
                Some(json!({ "fields": before, "acceptance": acceptance })),
                Some(json!({ "fields": after, "acceptance_voided": acceptance_voided })),
            ),
            Event::FailureModeRemoved { fields, .. } => (Some(fields.clone()), None),
            Event::RiskAccepted { justification, expires_at, .. } => {
                (None, Some(json!({ "justification": justification, "expires_at": expires_at })))
            }
            Event::CoverageChanged { run, moves, .. } => coverage_states(*run, moves),
            Event::GateMoved { open, failure_modes, covered, .. } => {
                let gate = |open: bool| if open { "open" } else { "closed" };
                (
                    Some(json!({ "gate": gate(!open) })),
                    Some(json!({ "gate": gate(*open), "failure_modes": failure_modes, "covered": covered })),
                )
            }
            Event::TemplateRetired { at, .. } => (None, Some(json!({ "retired_at": at }))),
            Event::TargetNear { .. } | Event::RiskExpiring { .. } | Event::RiskExpired { .. } => {
                time_states(self)
            }
            Event::UserCreated { .. }
            | Event::UserAccessSet { .. }
            | Event::UserRenamed { .. }
            | Event::PasswordReset { .. }
            | Event::IdentityLinked { .. }
            | Event::IdentityPrelinked { .. }
            | Event::SessionsEnded { .. }
            | Event::GroupRoleSet { .. }
            | Event::TokenCreated { .. }
            | Event::TokenRevoked { .. }
            | Event::TokenTransferred { .. }
            | Event::MembershipChanged { .. } => access_states(self),
            Event::WebhookCreated { .. }
            | Event::WebhookStateSet { .. }
            | Event::WebhookDeleted { .. }
            | Event::WebhookSecretRotated { .. }
            | Event::WebhookTested { .. }
            | Event::DeliveryRequeued { .. } => webhook_states(self),
            Event::IncidentRecorded { .. } | Event::IncidentClassified { .. } => incident_states(self),
        }
    }
}

/// The states of who may act: a membership's role, an account as created, its access or name before and after, a
/// new password (that it changed, never what it is), its identity at the provider, what a
/// provider group gives, an API token.
fn access_states(event: &Event) -> (Option<Value>, Option<Value>) {
    match event {
        Event::MembershipChanged { username, before, after, .. } => {
            let state = |role: &Option<Role>| role.map(|r| json!({ "user": username, "role": r.as_str() }));
            (state(before), state(after))
        }
        Event::TokenCreated { name, prefix, scopes, expires_at, .. } => (
            None,
            Some(json!({ "name": name, "prefix": prefix, "scopes": scopes, "expires_at": expires_at })),
        ),
        Event::TokenRevoked { .. } => (None, Some(json!({ "revoked": true }))),
        Event::TokenTransferred { before, after, .. } => {
            (Some(json!({ "owner": before })), Some(json!({ "owner": after })))
        }
        Event::UserCreated { account, .. } => (None, Some(account.clone())),
        Event::UserAccessSet { before, after, .. } | Event::UserRenamed { before, after, .. } => {
            (Some(before.clone()), Some(after.clone()))
        }
        Event::PasswordReset { username, .. } => {
            (None, Some(json!({ "username": username, "password": "changed" })))
        }
        Event::IdentityLinked { issuer, subject, email, .. } => {
            (None, Some(json!({ "issuer": issuer, "subject": subject, "email": email })))
        }
        Event::IdentityPrelinked { before, email, .. } => {
            let state = |email: &Option<String>| email.as_ref().map(|e| json!({ "prelinked_email": e }));
            (state(before), state(email))
        }
        Event::SessionsEnded { ended, .. } => (None, Some(json!({ "sessions_ended": ended }))),
        Event::GroupRoleSet { group, before, after, .. } => {
            let state = |role: &Option<Role>| role.map(|r| json!({ "group": group, "role": r.as_str() }));
            (state(before), state(after))
        }
        _ => (None, None),
    }
}

/// What time moved: a target date near or passed, an acceptance running out or run out.
fn time_states(event: &Event) -> (Option<Value>, Option<Value>) {
    match event {
        Event::TargetNear { target_at, passed, .. } => {
            (None, Some(json!({ "target_at": target_at, "overdue": passed })))
        }
        Event::RiskExpiring { expires_at, .. } => (None, Some(json!({ "expires_at": expires_at }))),
        Event::RiskExpired { expired_at, .. } => {
            (Some(json!({ "accepted": true })), Some(json!({ "accepted": false, "expired_at": expired_at })))
        }
        _ => (None, None),
    }
}

/// An incident as recorded, or a change's verdict on it before and after.
fn incident_states(event: &Event) -> (Option<Value>, Option<Value>) {
    match event {
        Event::IncidentRecorded { title, severity, started_at, .. } => {
            (None, Some(json!({ "title": title, "severity": severity.as_str(), "started_at": started_at })))
        }
        Event::IncidentClassified { before, verdict, failure_mode, .. } => (
            before.map(|v| json!({ "verdict": v.as_str() })),
            Some(
                json!({ "verdict": verdict.as_str(), "failure_mode": failure_mode.map(super::failure_mode::label) }),
            ),
        ),
        _ => (None, None),
    }
}

/// A webhook's state before and after (its destination only, never its whole URL).
fn webhook_states(event: &Event) -> (Option<Value>, Option<Value>) {
    match event {
        Event::WebhookCreated { destination, events, format, .. } => {
            (None, Some(json!({ "destination": destination, "events": events, "format": format })))
        }
        Event::WebhookStateSet { before, after, reason, .. } => (
            Some(json!({ "state": before.as_str() })),
            Some(json!({ "state": after.as_str(), "reason": reason })),
        ),
        Event::WebhookDeleted { destination, .. } => (Some(json!({ "destination": destination })), None),
        // Never the secrets themselves.
        Event::WebhookSecretRotated { previous_until, .. } => {
            (None, Some(json!({ "secret": "rotated", "previous_signs_until": previous_until })))
        }
        Event::WebhookTested { delivery, .. } | Event::DeliveryRequeued { delivery, .. } => {
            (None, Some(json!({ "delivery": delivery })))
        }
        _ => (None, None),
    }
}

/// Each moved failure mode's coverage before and after the run.
fn coverage_states(run: RunId, moves: &[CoverageMove]) -> (Option<Value>, Option<Value>) {
    let side = |coverage: fn(&CoverageMove) -> Coverage| -> Map<String, Value> {
        moves.iter().map(|m| (m.failure_mode.clone(), coverage(m).as_str().into())).collect()
    };
    let mut after = side(|m| m.to);
    after.insert("run".to_owned(), run.0.into());
    (Some(Value::Object(side(|m| m.from))), Some(Value::Object(after)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TeamSlug;

    fn key() -> ChangeKey {
        ChangeKey::new(&TeamSlug::parse("PAY").expect("slug"), 12)
    }

    #[test]
    fn a_membership_event_is_named_by_what_it_did() {
        let change = |before, after| Event::MembershipChanged {
            team: TeamId(1),
            username: "amy".into(),
            before,
            after,
        };
        assert_eq!(change(None, Some(Role::Member)).action(), "membership.add");
        assert_eq!(change(Some(Role::Member), Some(Role::Lead)).action(), "membership.set_role");
        assert_eq!(change(Some(Role::Lead), None).action(), "membership.remove");
        assert_eq!(
            change(Some(Role::Lead), None).states(),
            (Some(json!({ "user": "amy", "role": "lead" })), None)
        );
    }

    #[test]
    fn a_coverage_move_records_each_failure_mode_before_and_after_and_settles_its_gate() {
        let event = Event::CoverageChanged {
            team: TeamId(1),
            key: key(),
            run: RunId(7),
            moves: vec![CoverageMove {
                failure_mode: "FM-3".into(),
                from: Coverage::Verified,
                to: Coverage::Failing,
            }],
        };
        assert_eq!(event.action(), "change.coverage");
        assert_eq!(
            event.states(),
            (Some(json!({ "FM-3": "verified" })), Some(json!({ "FM-3": "failing", "run": 7 })))
        );
        assert_eq!(event.gate_scope(), Some(GateScope::Change(TeamId(1), 12)));
    }

    #[test]
    fn a_gate_move_is_named_by_its_direction_and_settles_nothing() {
        let moved =
            |open| Event::GateMoved { team: TeamId(1), key: key(), open, failure_modes: 3, covered: 2 };
        assert_eq!(moved(true).action(), "change.gate_open");
        assert_eq!(moved(false).action(), "change.gate_close");
        assert_eq!(
            moved(false).states(),
            (
                Some(json!({ "gate": "open" })),
                Some(json!({ "gate": "closed", "failure_modes": 3, "covered": 2 }))
            )
        );
        assert_eq!(moved(true).gate_scope(), None, "a gate's move cannot move a gate");
        let policy = Event::PolicySet {
            team: TeamId(1),
            before: (Policy::default(), false),
            after: (Policy::default(), true),
        };
        assert_eq!(policy.gate_scope(), Some(GateScope::Team(TeamId(1))));
    }

    #[test]
    fn a_status_move_records_both_statuses_and_its_details() {
        let event = Event::SignedOff {
            team: TeamId(1),
            key: key(),
            moved: Moved { from: ChangeStatus::HappyPathWorking, to: ChangeStatus::FailureCasesComplete },
            content_hash: "abc".into(),
        };
        assert_eq!(event.action(), "change.sign_off");
        assert_eq!(event.object(), ("change", "PAY-12".to_owned()));
        assert_eq!(event.team(), Some(TeamId(1)));
        assert_eq!(
            event.states(),
            (
                Some(json!({ "status": "happy_path_working" })),
                Some(json!({ "status": "failure_cases_complete", "content_hash": "abc" }))
            )
        );
    }

    #[test]
    fn a_failure_mode_is_named_by_its_change_and_number() {
        let fm = FailureModeRef { team: TeamId(1), change: key(), number: 3 };
        let event = Event::RiskAccepted { fm, justification: "Rare".into(), expires_at: Timestamp(5) };
        assert_eq!(event.object(), ("failure_mode", "PAY-12/FM-3".to_owned()));
        assert_eq!(event.states().1, Some(json!({ "justification": "Rare", "expires_at": 5 })));
    }
}
