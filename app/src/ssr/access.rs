//! Who may read or change what: the one check every edge asks before it acts (server
//! functions, the forms, the reports and the REST API). Who is asking is a person or an API
//! token ([`Caller`]); what they ask for is an object (a change, with its failure modes, or a
//! team) and the role the work needs. An object the caller holds nothing in is one that does
//! not exist for them (404); one they see but may not change is 403.

use super::db::Db;
use super::review::{self, Review};
use super::store::tokens::Authenticated;
use super::store::{changes, teams};
use crate::domain::change::ChangeKey;
use crate::domain::scope::Scope;
use crate::domain::{AppError, Principal, Role, TeamId, TeamSlug};

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub enum Caller<'a> {
    /// A signed-in person, with their roles (an admin holds every role in every team).
    Person(&'a Principal),
    /// An API token: its team, and the scopes it was given.
    Token(&'a Authenticated),
}

impl Caller<'_> {
    /// Refuses (403) what the caller may do nowhere: work of `needed` by a token without the
    /// scope it takes (reading takes `changes:read`, changing `changes:write`; a lead's work
    /// none can do). A person may hold a role in some team, so is asked per object.
    pub fn may(self, needed: Role) -> Result<(), AppError> {
        let Caller::Token(token) = self else { return Ok(()) };
        let scope = match needed {
            Role::Viewer => Scope::ChangesRead,
            Role::Member => Scope::ChangesWrite,
            Role::Lead => return Err(AppError::Denied("An API token cannot do a lead's work.".to_owned())),
        };
        if token.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AppError::Denied(format!("This token lacks the {} scope.", scope.as_str())))
        }
    }

    /// Whether the caller, who [`may`](Caller::may) do work of `needed`, holds it in `team`:
    /// `hidden()` when they hold nothing there (a token holds only its own team), 403 when
    /// they see it but may not do this.
    fn require(self, team: TeamId, needed: Role, hidden: impl FnOnce() -> AppError) -> Result<(), AppError> {
        match self {
            Caller::Person(person) => person.require_role_or_hide(team, needed, hidden),
            Caller::Token(token) if token.team_id == team => Ok(()),
            Caller::Token(_) => Err(hidden()),
        }
    }
}

/// The change `key` under review, if the caller holds `needed` in its team. A key that
/// cannot be one is a change not found; the review is loaded only once access is granted.
pub async fn change(db: &Db, caller: Caller<'_>, key: &str, needed: Role) -> Result<Review, AppError> {
    caller.may(needed)?;
    let not_found = || AppError::NotFound(format!("Change {}", crate::domain::error::bounded(key)));
    let key = ChangeKey::parse(key).map_err(|_| not_found())?;
    let change = changes::by_key(db, &key).await?;
    caller.require(change.team_id, needed, || changes::not_found(&key))?;
    review::of(db, change).await
}

/// The team `slug`, if the caller holds `needed` there. A slug that cannot be one is a team
/// not found.
pub async fn team(db: &Db, caller: Caller<'_>, slug: &str, needed: Role) -> Result<teams::Team, AppError> {
    caller.may(needed)?;
    let slug = TeamSlug::parse(slug).map_err(|_| teams::not_found(&crate::domain::error::bounded(slug)))?;
    let team = teams::by_slug(db, &slug).await?;
    caller.require(team.id, needed, || teams::not_found(slug.as_str()))?;
    Ok(team)
}

/// The change `key`, if the caller may work with its incidents: read them (`Viewer`) or
/// record and classify them (`Member`). A person needs the role in its team; a token of its
/// team needs `incidents:write` (or, to read, `changes:read`). A change they cannot see is a
/// 404.
pub async fn incidents_of(
    db: &Db,
    caller: Caller<'_>,
    key: &ChangeKey,
    needed: Role,
) -> Result<changes::Change, AppError> {
    if let Caller::Token(token) = caller {
        let has = |scope| token.scopes.contains(&scope);
        let may = match needed {
            Role::Viewer => has(Scope::ChangesRead) || has(Scope::IncidentsWrite),
            Role::Member => has(Scope::IncidentsWrite),
            // No token does a lead's work: `may` says so.
            Role::Lead => {
                caller.may(needed)?;
                false
            }
        };
        if !may {
            return Err(AppError::Denied("This token lacks the incidents:write scope.".to_owned()));
        }
    }
    let change = changes::by_key(db, key).await?;
    caller.require(change.team_id, needed, || changes::not_found(key))?;
    Ok(change)
}
