//! Ingesting a CI run: bind results to failure modes, store everything in one transaction
//! (all or nothing, idempotent per token and key), mark signed-off changes regressed when a
//! linked test fails, and report which failure modes the run touched.

use super::coverage;
use super::db::Db;
use super::store::changes;
use super::store::evidence::{self, ResultInput, RunInput};
use super::store::failure_modes::{self, TeamFailureMode};
use super::store::tokens::Authenticated;
use super::write::Write;
use crate::domain::change::ChangeKey;
use crate::domain::event::{CoverageMove, Event, GateScope};
use crate::domain::gate::{Coverage, EvidenceSummary, Outcome, Policy};
use crate::domain::ids::RunId;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, ChangeId};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashSet;

/// Derives the facts of failure modes that have none yet (stored before migration 0004),
/// one team at a time, and settles the team's gates (as ingesting a run derives them for
/// the failure modes it touches). Run at startup; does nothing once
/// every row is derived.
pub async fn derive_pending(db: &Db) -> Result<usize, crate::domain::AppError> {
    let teams: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT c.team_id FROM failure_modes f JOIN changes c ON c.id = f.change_id
         WHERE f.derived_at IS NULL AND c.status <> 'cancelled'",
    )
    .fetch_all(db.read())
    .await?;
    let mut derived = 0;
    for team in teams.into_iter().map(crate::domain::TeamId) {
        let pending: Vec<_> = failure_modes::team_failure_modes(db.read(), team)
            .await?
            .into_iter()
            .filter(|t| t.fm.derived_at.is_none())
            .collect();
        let mut tx = db.begin_write().await?;
        coverage::refresh(&mut tx, team, &pending.iter().map(|t| t.fm.derivable()).collect::<Vec<_>>(), None)
            .await?;
        tx.settle(GateScope::Team(team), &super::audit::Actor::Clock);
        tx.commit().await?;
        derived += pending.len();
    }
    Ok(derived)
}

pub use crate::domain::run::Submitted;

/// Counts by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub error: usize,
}

/// A failure mode the run provided evidence for, with its coverage afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matched {
    pub change: String,
    pub failure_mode: String,
    pub coverage: String,
}

/// The reply to an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub run_id: crate::domain::ids::RunId,
    pub counts: Counts,
    pub matched: Vec<Matched>,
    /// Signed-off changes this run marked regressed.
    pub regressed: Vec<String>,
    pub warnings: Vec<String>,
}

/// What became of an upload.
pub enum Ingested {
    /// Stored now.
    Stored(Receipt),
    /// The same key and body were stored before: the earlier reply.
    Replayed(String),
}

/// Reads a binding label `PAY-12/FM-3` (any case, leading zeros allowed).
fn binding(label: &str) -> Option<(ChangeKey, i64)> {
    let key: crate::domain::failure_mode::FailureModeKey = label.parse().ok()?;
    Some((key.change, key.number))
}

/// Stores a run for the token's team. `idempotency` is (key, hash of the request).
pub async fn ingest(
    db: &Db,
    auth: &Authenticated,
    idempotency: Option<(&str, &str)>,
    run: &RunInput,
    submitted: &[Submitted],
    mut warnings: Vec<String>,
) -> Result<Ingested, AppError> {
    // A retry of a stored upload is answered before any other work.
    if let Some((key, hash)) = idempotency
        && let Some(replay) = earlier_reply(&mut *db.read().acquire().await?, auth, key, hash).await?
    {
        return Ok(Ingested::Replayed(replay));
    }
    // Everything that needs reading is read before the write transaction opens: the team's
    // failure modes (one query, however many changes) and its policy.
    let fms = failure_modes::team_failure_modes(db.read(), auth.team_id).await?;
    let policy = changes::team_policy(db, auth.team_id).await?;
    let bindings: Vec<Option<(ChangeKey, i64)>> =
        submitted.iter().map(|s| s.failure_mode.as_deref().and_then(binding)).collect();
    let (selected, touched) = evidence_for(&fms, submitted, &bindings);
    let results = bound_results(&fms, submitted, &bindings, &mut warnings);

    let mut tx = db.begin_write().await?;
    // Checked again under the key's lock: a concurrent request with the same key may have
    // committed since (on PostgreSQL, two instances).
    if let Some((key, hash)) = idempotency {
        db.lock_idempotency_key(&mut tx, auth.id, key).await?;
        if let Some(replay) = earlier_reply(&mut tx, auth, key, hash).await? {
            return Ok(Ingested::Replayed(replay));
        }
    }
    // The changes this run is evidence for are locked against their sign-off (and other
    // runs for them); runs for other changes go on in parallel.
    let mut locked: Vec<ChangeId> = touched.iter().map(|t| t.change_id).collect();
    locked.sort_unstable();
    locked.dedup();
    db.lock_changes(&mut tx, &locked).await?;
    let received_at = Timestamp::now();
    let before = coverage::current(&mut tx, &locked, received_at).await?;
    let written = evidence::write_run(&mut tx, auth.team_id, Some(auth.id), run, &results, &selected).await?;
    let run_id = written.id;
    // Coverage afterwards, from what this transaction wrote.
    let derivable: Vec<_> = touched.iter().map(|t| t.fm.derivable()).collect();
    let summaries = coverage::refresh(&mut tx, auth.team_id, &derivable, Some(&written)).await?;
    let after = coverage::current(&mut tx, &locked, received_at).await?;
    record_moves(&mut tx, auth, run_id, &touched, &before, &after).await?;
    // Evidence this run refreshed moves when its coverage goes stale, moved or not.
    for t in &touched {
        tx.settle(GateScope::Change(auth.team_id, t.change_key.number()), &auth.actor());
    }
    let (matched, failing) = coverage_after(&touched, &summaries, &policy, received_at);
    let regressed = regress_signed_off(&mut tx, db, auth, failing).await?;
    let receipt = Receipt { run_id, counts: Counts::of(submitted), matched, regressed, warnings };
    if let Some((key, hash)) = idempotency {
        remember_reply(&mut tx, auth, key, hash, &receipt, received_at).await?;
    }
    tx.commit().await?;
    Ok(Ingested::Stored(receipt))
}

impl Counts {
    fn of(submitted: &[Submitted]) -> Self {
        let mut counts = Self::default();
        for s in submitted {
            match s.outcome {
                Outcome::Passed => counts.passed += 1,
                Outcome::Failed => counts.failed += 1,
                Outcome::Skipped => counts.skipped += 1,
                Outcome::Error => counts.error += 1,
            }
        }
        counts
    }
}

/// The failure modes this run is evidence for (a selector matches one of its tests, or a
/// result is bound to it), and the tests whose history is kept (those a selector matches).
fn evidence_for<'a>(
    fms: &'a [TeamFailureMode],
    submitted: &'a [Submitted],
    bindings: &[Option<(ChangeKey, i64)>],
) -> (Vec<&'a str>, Vec<&'a TeamFailureMode>) {
    let mut by_id: Vec<&Submitted> = submitted.iter().collect();
    by_id.sort_unstable_by(|a, b| a.test_id.cmp(&b.test_id));
    let mut selected: HashSet<&str> = HashSet::new();
    let mut touched = Vec::new();
    for t in fms {
        let mut hit = false;
        for selector in &t.fm.input.selectors {
            for s in selector.select_sorted(&by_id, |s| s.test_id.as_str()) {
                selected.insert(s.test_id.as_str());
                hit = true;
            }
        }
        let bound = || bindings.iter().flatten().any(|(k, n)| *k == t.change_key && *n == t.fm.number);
        if hit || bound() {
            touched.push(t);
        }
    }
    (selected.into_iter().collect(), touched)
}

/// The results to store, each with the failure mode it is bound to; a binding to a failure
/// mode the team's open changes do not have is ignored with a warning.
fn bound_results(
    fms: &[TeamFailureMode],
    submitted: &[Submitted],
    bindings: &[Option<(ChangeKey, i64)>],
    warnings: &mut Vec<String>,
) -> Vec<ResultInput> {
    submitted
        .iter()
        .zip(bindings)
        .map(|(s, bound)| {
            let failure_mode = s.failure_mode.as_ref().and_then(|label| {
                let id = bound.as_ref().and_then(|(key, n)| {
                    fms.iter().find(|t| t.change_key == *key && t.fm.number == *n).map(|t| t.fm.id)
                });
                if id.is_none() {
                    warnings.push(format!(
                        "{}: no failure mode {label} in this team's open changes; binding ignored",
                        s.test_id
                    ));
                }
                id
            });
            s.bound_to(failure_mode)
        })
        .collect()
}

/// Each touched failure mode's coverage after the run, and the failing ones by change.
fn coverage_after<'a>(
    touched: &[&'a TeamFailureMode],
    summaries: &[EvidenceSummary],
    policy: &Policy,
    received_at: Timestamp,
) -> (Vec<Matched>, Vec<(&'a ChangeKey, Vec<String>)>) {
    let mut matched = Vec::new();
    let mut failing: Vec<(&ChangeKey, Vec<String>)> = Vec::new();
    for (t, summary) in touched.iter().zip(summaries) {
        let accepted_until = t.fm.acceptance.as_ref().map(|a| a.expires_at);
        let designed = t.fm.facts().is_designed();
        let coverage =
            Coverage::derive(designed, summary, accepted_until, t.fm.design_failed_at, policy, received_at);
        let label = crate::domain::failure_mode::label(t.fm.number);
        matched.push(Matched {
            change: t.change_key.to_string(),
            failure_mode: label.clone(),
            coverage: coverage.as_str().to_owned(),
        });
        if coverage == Coverage::Failing {
            match failing.iter_mut().find(|(k, _)| **k == t.change_key) {
                Some((_, labels)) => labels.push(label),
                None => failing.push((&t.change_key, vec![label])),
            }
        }
    }
    (matched, failing)
}

/// Records, for each change whose failure modes this run moved from one coverage to
/// another, an [`Event::CoverageChanged`] (which settles its gate at commit).
async fn record_moves(
    tx: &mut Write,
    auth: &Authenticated,
    run: RunId,
    touched: &[&TeamFailureMode],
    before: &[coverage::Current],
    after: &[coverage::Current],
) -> Result<(), AppError> {
    let mut by_change: Vec<(ChangeId, Vec<CoverageMove>)> = Vec::new();
    for now in after {
        let Some(was) = before.iter().find(|b| b.fm == now.fm) else { continue };
        if was.coverage == now.coverage {
            continue;
        }
        let step = CoverageMove {
            failure_mode: crate::domain::failure_mode::label(now.number),
            from: was.coverage,
            to: now.coverage,
        };
        match by_change.iter_mut().find(|(c, _)| *c == now.change) {
            Some((_, moves)) => moves.push(step),
            None => by_change.push((now.change, vec![step])),
        }
    }
    for (change, moves) in by_change {
        let Some(t) = touched.iter().find(|t| t.change_id == change) else { continue };
        let event = Event::CoverageChanged { team: auth.team_id, key: t.change_key.clone(), run, moves };
        tx.record(&auth.actor(), event).await?;
    }
    Ok(())
}

/// Marks regressed the signed-off changes among those with failing failure modes; returns
/// their keys. Only a signed-off change regresses, and the statuses are read under the
/// changes' locks: a sign-off that committed while this run was being matched is seen here.
async fn regress_signed_off(
    tx: &mut Write,
    db: &Db,
    auth: &Authenticated,
    mut failing: Vec<(&ChangeKey, Vec<String>)>,
) -> Result<Vec<String>, AppError> {
    let signed_off: Vec<i64> = sqlx::query_scalar(
        "SELECT number FROM changes WHERE team_id = $1 AND status = 'failure_cases_complete'",
    )
    .bind(auth.team_id)
    .fetch_all(&mut **tx)
    .await?;
    failing.retain(|(key, _)| signed_off.contains(&key.number()));
    let mut regressed = Vec::new();
    for (key, labels) in &failing {
        let change = changes::by_key(db, key).await?;
        if changes::regress_in(tx, db, &auth.actor(), &change, labels, None).await? {
            regressed.push(key.to_string());
        }
    }
    Ok(regressed)
}

/// Keeps the reply, so that a retry with the same key and body gets it again.
async fn remember_reply(
    tx: &mut sqlx::AnyConnection,
    auth: &Authenticated,
    key: &str,
    hash: &str,
    receipt: &Receipt,
    at: Timestamp,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO idempotency_keys (token_id, key, request_hash, status, reply, created_at)
         VALUES ($1, $2, $3, 201, $4, $5)",
    )
    .bind(auth.id)
    .bind(key)
    .bind(hash)
    .bind(serde_json::to_string(receipt).unwrap_or_default())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The stored reply for this token and key, if any; the same key with another body is refused.
async fn earlier_reply(
    conn: &mut sqlx::AnyConnection,
    auth: &Authenticated,
    key: &str,
    hash: &str,
) -> Result<Option<String>, AppError> {
    let earlier =
        sqlx::query("SELECT request_hash, reply FROM idempotency_keys WHERE token_id = $1 AND key = $2")
            .bind(auth.id)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    match earlier {
        None => Ok(None),
        Some(row) if row.try_get::<String, _>("request_hash")? == hash => Ok(Some(row.try_get("reply")?)),
        Some(_) => Err(AppError::invalid(
            "Idempotency-Key",
            "This Idempotency-Key was already used for a different request body.",
        )),
    }
}
