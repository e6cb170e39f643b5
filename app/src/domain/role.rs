//! Roles and the authorization rules built on them.

use super::{TeamId, UserId};
use serde::{Deserialize, Serialize};

/// A member's role in a team. Ordered: each role can do everything the previous one can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the team's changes.
    Viewer,
    /// Edits the team's changes.
    Member,
    /// Also accepts risk, signs off and manages tokens and members.
    Lead,
}

impl Role {
    /// All roles, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Member, Role::Lead];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Lead => "lead",
        }
    }

    /// Parses the stored spelling; anything else is a validation error for `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, super::AppError> {
        match raw.trim() {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "lead" => Ok(Role::Lead),
            _ => Err(super::AppError::invalid(field, "Role must be viewer, member or lead.")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The logged-in user as authorization sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    /// Teams this user belongs to, with slug and role.
    pub teams: Vec<(TeamId, String, Role)>,
}

/// Who put a change up for review, as the four-eyes rule reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registrant {
    pub team: TeamId,
    /// Its author: `None` while a change an API token registered is unclaimed.
    pub author: Option<UserId>,
    /// The owner of the personal token that registered it, if one did.
    pub token_owner: Option<UserId>,
}

impl Principal {
    /// Why this person may not be the second pair of eyes on a change (sign it off, accept
    /// one of its risks), if they may not. Four eyes mean two people: the change needs a
    /// person as its author (one an API token registered must be claimed first), and the
    /// second is neither its author nor the owner of the token that registered it, and a
    /// lead of its team (or an admin).
    pub fn second_pair_of_eyes(&self, change: Registrant) -> Result<(), String> {
        match change.author {
            None => Err("This change was registered by an API token and has no author yet: a member of the \
                 team must claim it first; someone else then signs it off or accepts its risks."
                .to_owned()),
            Some(author) if author == self.id => {
                Err("The change's author cannot do this: it needs a second pair of eyes.".to_owned())
            }
            _ if change.token_owner == Some(self.id) => Err(
                "This change was registered with your API token, so you cannot be its second pair of eyes."
                    .to_owned(),
            ),
            _ if !self.has_role(change.team, Role::Lead) => {
                Err("Only a lead of the owning team or an admin can do this.".to_owned())
            }
            _ => Ok(()),
        }
    }

    /// The user's role in `team`, if any.
    pub fn role_in(&self, team: TeamId) -> Option<Role> {
        self.teams.iter().find(|(id, _, _)| *id == team).map(|(_, _, role)| *role)
    }

    /// Whether the user holds at least `needed` in `team`. Admins hold every role everywhere.
    pub fn has_role(&self, team: TeamId, needed: Role) -> bool {
        self.is_admin || self.role_in(team).is_some_and(|role| role >= needed)
    }

    /// Refuses unless the user holds at least `needed` in `team`.
    pub fn require_role(&self, team: TeamId, needed: Role) -> Result<(), super::AppError> {
        if self.has_role(team, needed) { Ok(()) } else { Err(super::AppError::Forbidden) }
    }

    /// Like [`Self::require_role`], but to someone outside the team the object does not
    /// exist: they get `not_found`, the answer for an unknown object, so a stranger cannot
    /// tell which objects exist.
    pub fn require_role_or_hide(
        &self,
        team: TeamId,
        needed: Role,
        not_found: impl FnOnce() -> super::AppError,
    ) -> Result<(), super::AppError> {
        if !self.has_role(team, Role::Viewer) {
            return Err(not_found());
        }
        self.require_role(team, needed)
    }

    /// Refuses unless the user is a global administrator.
    pub fn require_admin(&self) -> Result<(), super::AppError> {
        if self.is_admin { Ok(()) } else { Err(super::AppError::Forbidden) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(is_admin: bool, teams: Vec<(TeamId, String, Role)>) -> Principal {
        Principal { id: UserId(1), username: "u".into(), display_name: "U".into(), is_admin, teams }
    }

    #[test]
    fn roles_are_ordered_viewer_member_lead() {
        assert!(Role::Viewer < Role::Member && Role::Member < Role::Lead);
    }

    #[test]
    fn a_role_in_one_team_grants_nothing_in_another() {
        let member = user(false, vec![(TeamId(1), "A".into(), Role::Lead)]);
        assert!(member.has_role(TeamId(1), Role::Member));
        assert!(!member.has_role(TeamId(2), Role::Viewer));
        assert_eq!(member.require_role(TeamId(2), Role::Viewer), Err(super::super::AppError::Forbidden));
        let hidden = || super::super::AppError::NotFound("Team B".into());
        assert_eq!(member.require_role_or_hide(TeamId(2), Role::Viewer, hidden), Err(hidden()));
        assert_eq!(member.require_role_or_hide(TeamId(1), Role::Lead, hidden), Ok(()));
    }

    #[test]
    fn a_viewer_cannot_do_what_a_member_can() {
        let viewer = user(false, vec![(TeamId(1), "A".into(), Role::Viewer)]);
        assert!(viewer.has_role(TeamId(1), Role::Viewer));
        assert!(!viewer.has_role(TeamId(1), Role::Member));
        assert!(viewer.require_admin().is_err());
        let hidden = || super::super::AppError::NotFound("Team A".into());
        assert_eq!(
            viewer.require_role_or_hide(TeamId(1), Role::Member, hidden),
            Err(super::super::AppError::Forbidden),
            "who can see the team is told they lack the role"
        );
    }

    #[test]
    fn admins_hold_every_role_everywhere() {
        let admin = user(true, vec![]);
        assert!(admin.has_role(TeamId(9), Role::Lead));
        assert!(admin.require_admin().is_ok());
    }

    #[test]
    fn role_parses_only_known_spellings() {
        assert_eq!(Role::parse("role", "lead"), Ok(Role::Lead));
        assert!(Role::parse("role", "owner").is_err());
        for role in Role::ALL {
            assert_eq!(Role::parse("role", role.as_str()), Ok(role));
        }
    }
}
