//! The append-only, hash-chained audit log. Every mutation appends its entry inside the
//! same transaction as the change it records, so neither exists without the other.

use super::db::Backend;
use crate::domain::event::Event;
use crate::domain::ids::{AuditEntryId, TokenId};
use crate::domain::time::Timestamp;
use crate::domain::{TeamId, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change.
#[derive(Clone, Debug)]
pub enum Actor {
    /// A logged-in user.
    User { id: UserId, username: String },
    /// The command line on the server host (e.g. creating the first admin).
    Cli,
    /// A CI system, through an API token.
    Token { id: TokenId, name: String },
    /// Premortem itself, as time passes: a risk acceptance running out, evidence going
    /// stale (`ssr::gates::sweep`).
    Clock,
    /// The identity provider, through what a sign-in asserts: a team role its groups map to.
    Sso,
}

impl Actor {
    fn id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(id.0),
            Actor::Cli | Actor::Token { .. } | Actor::Clock | Actor::Sso => None,
        }
    }

    fn name(&self) -> &str {
        match self {
            Actor::User { username, .. } => username,
            Actor::Cli => "cli",
            Actor::Clock => "premortem:clock",
            Actor::Sso => "premortem:sso",
            Actor::Token { name, .. } => name,
        }
    }
}

/// The hashed content of an entry; field order is fixed by this struct.
#[derive(Serialize)]
struct Hashed<'a> {
    prev_hash: &'a str,
    at: Timestamp,
    actor_id: Option<i64>,
    actor: &'a str,
    action: &'a str,
    object_type: &'a str,
    object_id: &'a str,
    team_id: Option<i64>,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

impl Hashed<'_> {
    fn hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

/// Appends the entry of `event` inside the caller's write transaction (through
/// `Write::record`).
pub(super) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    actor: &Actor,
    event: &Event,
) -> Result<(), sqlx::Error> {
    // Serialises appenders so two transactions cannot chain onto the same predecessor.
    super::db::advisory_lock(&mut *conn, backend, super::db::LockSpace::AuditChain, 0).await?;
    let prev_hash: String = sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
    let (before, after) = event.states();
    let (before, after) = (before.map(|v| v.to_string()), after.map(|v| v.to_string()));
    let (object_type, object_id) = event.object();
    let hashed = Hashed {
        prev_hash: &prev_hash,
        at: Timestamp::now(),
        actor_id: actor.id(),
        actor: actor.name(),
        action: event.action(),
        object_type,
        object_id: &object_id,
        team_id: event.team().map(|t| t.0),
        before: before.as_deref(),
        after: after.as_deref(),
    };
    let hash = hashed.hash();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, object_type, object_id, team_id,
                                before_json, after_json, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(hashed.at)
    .bind(hashed.actor_id)
    .bind(hashed.actor)
    .bind(hashed.action)
    .bind(hashed.object_type)
    .bind(hashed.object_id)
    .bind(hashed.team_id)
    .bind(hashed.before)
    .bind(hashed.after)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An audit entry as read back for display.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Record {
    pub id: AuditEntryId,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An audit entry as stored: the content its hash covers, its link and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub id: AuditEntryId,
    pub at: Timestamp,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub team_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The hash of the entry before it (`GENESIS` for the first).
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEntry {
    /// The hash this entry's content and link should have, computed as `append` did.
    fn recomputed_hash(&self) -> String {
        Hashed {
            prev_hash: &self.prev_hash,
            at: self.at,
            actor_id: self.actor_id,
            actor: &self.actor,
            action: &self.action,
            object_type: &self.object_type,
            object_id: &self.object_id,
            team_id: self.team_id,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
        }
        .hash()
    }
}

/// What is wrong with the first entry that fails to verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Its hash does not match its content: the entry was edited.
    Content,
    /// Its `prev_hash` is not the hash of the entry before it: entries before it were
    /// deleted, inserted or edited and rehashed.
    Link,
    /// Both its content and its link are wrong.
    ContentAndLink,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::Content => "its content hash is wrong (the entry was edited)",
            Fault::Link => {
                "its link to the previous entry is wrong (an earlier entry was deleted, inserted or rehashed)"
            }
            Fault::ContentAndLink => "its content hash and its link to the previous entry are both wrong",
        })
    }
}

/// Where the chain first fails to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first entry whose hash or link does not match.
    pub id: AuditEntryId,
    pub action: String,
    pub fault: Fault,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry {} ({}): {}", self.id, self.action, self.fault)
    }
}

/// Checks a chain one entry at a time, in id order, so a long log never needs to be held
/// in memory at once.
#[derive(Debug)]
pub struct ChainCheck {
    expected_prev: String,
    entries: u64,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self { expected_prev: GENESIS.to_owned(), entries: 0 }
    }
}

impl ChainCheck {
    /// Checks the entry after those seen so far. After a break the rest of the chain
    /// proves nothing, so callers stop at the first one.
    pub fn next(&mut self, entry: &StoredEntry) -> Result<(), ChainBreak> {
        let content_ok = entry.recomputed_hash() == entry.hash;
        let link_ok = entry.prev_hash == self.expected_prev;
        let fault = match (content_ok, link_ok) {
            (true, true) => {
                self.expected_prev.clone_from(&entry.hash);
                self.entries += 1;
                return Ok(());
            }
            (false, true) => Fault::Content,
            (true, false) => Fault::Link,
            (false, false) => Fault::ContentAndLink,
        };
        Err(ChainBreak { id: entry.id, action: entry.action.clone(), fault })
    }

    /// How many entries verified.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// Verifies `entries`, given in id order: how many there are, or the first break. Any
/// edited, deleted or reordered entry breaks the chain at (or right after) it; removing
/// the newest entries leaves a shorter chain that still verifies.
pub fn verify(entries: impl IntoIterator<Item = StoredEntry>) -> Result<u64, ChainBreak> {
    let mut check = ChainCheck::default();
    for entry in entries {
        check.next(&entry)?;
    }
    Ok(check.entries())
}

/// Entries read per query while verifying.
const VERIFY_PAGE: i64 = 1000;

/// Reads the whole log in id order, a page at a time, and verifies it: how many entries
/// it has, or the first break.
pub async fn verify_chain(conn: &mut AnyConnection) -> Result<Result<u64, ChainBreak>, sqlx::Error> {
    let mut check = ChainCheck::default();
    let mut after_id = AuditEntryId(i64::MIN);
    loop {
        let page = stored_page(conn, after_id).await?;
        let Some(last) = page.last() else {
            return Ok(Ok(check.entries()));
        };
        after_id = last.id;
        for entry in &page {
            if let Err(broken) = check.next(entry) {
                return Ok(Err(broken));
            }
        }
    }
}

/// Up to `VERIFY_PAGE` entries with ids above `after_id`, in id order.
async fn stored_page(
    conn: &mut AnyConnection,
    after_id: AuditEntryId,
) -> Result<Vec<StoredEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, actor_id, actor, action, object_type, object_id, team_id,
                before_json, after_json, prev_hash, hash
         FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after_id)
    .bind(VERIFY_PAGE)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEntry {
                id: AuditEntryId(row.try_get("id")?),
                at: row.try_get("at")?,
                actor_id: row.try_get("actor_id")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                object_type: row.try_get("object_type")?,
                object_id: row.try_get("object_id")?,
                team_id: row.try_get("team_id")?,
                before: row.try_get("before_json")?,
                after: row.try_get("after_json")?,
                prev_hash: row.try_get("prev_hash")?,
                hash: row.try_get("hash")?,
            })
        })
        .collect()
}

const RECORD_SELECT: &str =
    "SELECT id, at, actor, action, object_type, object_id, before_json, after_json FROM audit_log";

fn record(row: &sqlx::any::AnyRow) -> Result<Record, sqlx::Error> {
    Ok(Record {
        id: AuditEntryId(row.try_get("id")?),
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object_type: row.try_get("object_type")?,
        object_id: row.try_get("object_id")?,
        before: row.try_get("before_json")?,
        after: row.try_get("after_json")?,
    })
}

/// The newest entries, optionally for one team, newest first.
pub async fn recent(
    conn: &mut AnyConnection,
    team: Option<TeamId>,
    limit: i64,
) -> Result<Vec<Record>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("{RECORD_SELECT} WHERE ($1 IS NULL OR team_id = $1) ORDER BY id DESC LIMIT $2"))
            .persistent(crate::ssr::db::Backend::of(conn).keeps_filtered_plans())
            .bind(team.map(|t| t.0))
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(record).collect()
}

/// The entries of one object and the objects under it (`PAY-12` and `PAY-12/FM-3`), newest first.
/// They are the object ids from `PAY-12` up to `PAY-120` (`'0'` follows `'/'`), read
/// through the team's index of object ids (migration 0016), bytewise on both engines, less
/// any other id in that range (`PAY-12.x`). Sorted by `id + 0`: ordered by `id` with a
/// limit, PostgreSQL walked the whole log backwards, expecting the change's entries among
/// the newest (24 ms against 0.08 ms with 200,000 entries).
pub async fn for_object(
    conn: &mut AnyConnection,
    team: TeamId,
    object_id: &str,
) -> Result<Vec<Record>, sqlx::Error> {
    let id = match Backend::of(conn) {
        Backend::Sqlite => "object_id",
        Backend::Postgres => "object_id COLLATE \"C\"",
    };
    let rows = sqlx::query(&format!(
        "{RECORD_SELECT} WHERE team_id = $1 AND {id} >= $2 AND {id} < $3 AND (object_id = $2 OR {id} >= $4)
         ORDER BY id + 0 DESC LIMIT 500"
    ))
    .bind(team)
    .bind(object_id)
    .bind(format!("{object_id}0"))
    .bind(format!("{object_id}/"))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(record).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` entries as `append` would have written it.
    fn chain(n: i64) -> Vec<StoredEntry> {
        let mut prev_hash = GENESIS.to_owned();
        (1..=n)
            .map(|id| {
                let mut entry = StoredEntry {
                    id: AuditEntryId(id),
                    at: Timestamp(1_700_000_000_000 + id),
                    actor_id: Some(1),
                    actor: "alice".to_owned(),
                    action: format!("action.{id}"),
                    object_type: "change".to_owned(),
                    object_id: format!("PAY-{id}"),
                    team_id: Some(1),
                    before: None,
                    after: Some(format!(r#"{{"title":"Change {id}"}}"#)),
                    prev_hash: prev_hash.clone(),
                    hash: String::new(),
                };
                entry.hash = entry.recomputed_hash();
                prev_hash.clone_from(&entry.hash);
                entry
            })
            .collect()
    }

    fn broken(id: i64, fault: Fault) -> Result<u64, ChainBreak> {
        Err(ChainBreak { id: AuditEntryId(id), action: format!("action.{id}"), fault })
    }

    #[test]
    fn an_untouched_chain_verifies_and_counts_its_entries() {
        assert_eq!(verify(chain(5)), Ok(5));
        assert_eq!(verify(Vec::new()), Ok(0));
    }

    #[test]
    fn an_edited_entry_is_named_with_a_wrong_content_hash() {
        let mut entries = chain(5);
        entries[2].after = Some(r#"{"title":"Something else"}"#.to_owned());
        assert_eq!(verify(entries), broken(3, Fault::Content));
    }

    #[test]
    fn a_deleted_entry_breaks_the_link_of_the_one_after_it() {
        let mut entries = chain(5);
        entries.remove(2);
        assert_eq!(verify(entries), broken(4, Fault::Link));
    }

    #[test]
    fn an_edited_and_rehashed_entry_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[1].actor = "mallory".to_owned();
        entries[1].hash = entries[1].recomputed_hash();
        assert_eq!(verify(entries), broken(3, Fault::Link));
    }

    #[test]
    fn a_missing_first_entry_is_a_broken_link_to_genesis() {
        let mut entries = chain(3);
        entries.remove(0);
        assert_eq!(verify(entries), broken(2, Fault::Link));
    }

    #[test]
    fn swapped_entries_are_caught() {
        let mut entries = chain(4);
        entries.swap(1, 2);
        assert_eq!(verify(entries), broken(3, Fault::Link));
    }

    #[test]
    fn an_entry_wrong_in_both_ways_says_so() {
        let mut entries = chain(3);
        entries[1].prev_hash = GENESIS.to_owned();
        entries[1].object_id = "PAY-99".to_owned();
        assert_eq!(verify(entries), broken(2, Fault::ContentAndLink));
    }
}
