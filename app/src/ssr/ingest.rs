//! Ingesting a CI run: bind results to failure modes, store everything in one transaction
//! (all or nothing, idempotent per token and key), mark signed-off changes regressed when a
//! linked test fails, and report which failure modes the run touched.

use super::db::Db;
use super::review::{self, Review};
use super::store::changes::{self, FailureMode};
use super::store::evidence::{self, ResultInput, RunInput};
use super::store::tokens::Authenticated;
use crate::domain::AppError;
use crate::domain::change::{ChangeKey, ChangeStatus};
use crate::domain::gate::{self, Outcome, TestResult};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// One result as the client sent it, validated; `failure_mode` is `PAY-12/FM-3` if bound.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub test_id: String,
    pub outcome: Outcome,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
    pub failure_mode: Option<String>,
}

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
    pub run_id: i64,
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

/// The team's changes a run can provide evidence for: open and signed-off ones.
async fn candidate_changes(db: &Db, auth: &Authenticated) -> Result<Vec<ChangeKey>, AppError> {
    let rows = sqlx::query(
        "SELECT t.slug, c.number FROM changes c JOIN teams t ON t.id = c.team_id
         WHERE c.team_id = $1 AND c.status <> 'cancelled' ORDER BY c.number",
    )
    .bind(auth.team_id.0)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            let slug = crate::domain::TeamSlug::parse(&r.try_get::<String, _>("slug")?)?;
            Ok(ChangeKey::new(&slug, r.try_get("number")?))
        })
        .collect()
}

/// Reads a binding label `PAY-12/FM-3` (any case, leading zeros allowed).
fn binding(label: &str) -> Option<(ChangeKey, i64)> {
    let (key, number) = label.trim().split_once('/')?;
    let number = number.trim().strip_prefix("FM-").or_else(|| number.trim().strip_prefix("fm-"))?;
    Some((ChangeKey::parse(key).ok()?, number.parse().ok()?))
}

/// Whether a result is evidence for a failure mode: selected by it or bound to it.
fn relevant(fm: &FailureMode, key: &ChangeKey, result: &Submitted) -> bool {
    fm.input.selectors.iter().any(|s| s.matches(&result.test_id))
        || result.failure_mode.as_deref().and_then(binding).is_some_and(|(k, n)| &k == key && n == fm.number)
}

fn touches(fm: &FailureMode, key: &ChangeKey, results: &[Submitted]) -> bool {
    results.iter().any(|r| relevant(fm, key, r))
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
    // Everything that needs reading is read before the write transaction opens.
    let mut reviews: Vec<Review> = Vec::new();
    for key in candidate_changes(db, auth).await? {
        let review = review::load(db, &key).await?;
        if review.failure_modes.iter().any(|fm| touches(fm, &key, submitted)) {
            reviews.push(review);
        }
    }
    let mut results = Vec::with_capacity(submitted.len());
    for s in submitted {
        let failure_mode = match &s.failure_mode {
            None => None,
            Some(label) => {
                let bound = binding(label).and_then(|(key, n)| {
                    reviews
                        .iter()
                        .find(|r| r.change.key == key)?
                        .failure_modes
                        .iter()
                        .find(|fm| fm.number == n)
                        .map(|fm| fm.id)
                });
                if bound.is_none() {
                    warnings.push(format!(
                        "{}: no failure mode {label} in this team's open changes; binding ignored",
                        s.test_id
                    ));
                }
                bound
            }
        };
        results.push(ResultInput {
            test_id: s.test_id.clone(),
            outcome: s.outcome,
            duration_ms: s.duration_ms,
            message: s.message.clone(),
            failure_mode,
        });
    }
    let selected: Vec<&str> = submitted
        .iter()
        .filter(|s| {
            reviews.iter().any(|r| {
                r.failure_modes.iter().any(|fm| fm.input.selectors.iter().any(|sel| sel.matches(&s.test_id)))
            })
        })
        .map(|s| s.test_id.as_str())
        .collect();

    // The reply describes coverage with this run's results laid over the stored evidence.
    let received_at = super::db::now_ms();
    let mut matched = Vec::new();
    let mut regress = Vec::new();
    for review in &mut reviews {
        let key = review.change.key.clone();
        let here: Vec<&Submitted> = submitted
            .iter()
            .filter(|s| review.failure_modes.iter().any(|fm| relevant(fm, &key, s)))
            .collect();
        let replaced: std::collections::HashSet<&str> = here.iter().map(|s| s.test_id.as_str()).collect();
        review.evidence.latest.retain(|r| !replaced.contains(r.test_id.as_str()));
        for s in here {
            let result = TestResult {
                test_id: s.test_id.clone(),
                outcome: s.outcome,
                at: received_at,
                commit: run.commit.clone(),
                pipeline_url: run.pipeline_url.clone(),
            };
            if let Some((bound_key, n)) = s.failure_mode.as_deref().and_then(binding)
                && bound_key == key
            {
                review.evidence.bound.retain(|(num, r)| !(*num == n && r.test_id == s.test_id));
                review.evidence.bound.push((n, result.clone()));
            }
            review.evidence.latest.push(result);
        }
        let mut failing_here = Vec::new();
        for fm in &review.failure_modes {
            if !touches(fm, &review.change.key, submitted) {
                continue;
            }
            let assessment = gate::assess(&fm.facts(), &review.evidence, &review.change.policy, received_at);
            if assessment.coverage == gate::Coverage::Failing {
                failing_here.push(format!("FM-{}", fm.number));
            }
            matched.push(Matched {
                change: review.change.key.to_string(),
                failure_mode: format!("FM-{}", fm.number),
                coverage: assessment.coverage.as_str().to_owned(),
            });
        }
        // Whether it is (still) signed off is decided under the lock in the transaction.
        if review.change.status != ChangeStatus::Cancelled && !failing_here.is_empty() {
            regress.push((review.change.clone(), failing_here));
        }
    }
    let mut counts = Counts::default();
    for s in submitted {
        match s.outcome {
            Outcome::Passed => counts.passed += 1,
            Outcome::Failed => counts.failed += 1,
            Outcome::Skipped => counts.skipped += 1,
            Outcome::Error => counts.error += 1,
        }
    }

    let mut tx = db.begin_write().await?;
    db.lock_team(&mut tx, auth.team_id).await?;
    // Checked again under the write lock: a concurrent request with the same key may have
    // committed since (on PostgreSQL, two instances).
    if let Some((key, hash)) = idempotency
        && let Some(replay) = earlier_reply(&mut tx, auth, key, hash).await?
    {
        return Ok(Ingested::Replayed(replay));
    }
    let run_id = evidence::write_run(&mut tx, auth.team_id, Some(auth.id), run, &results, &selected).await?;
    let mut regressed = Vec::new();
    for (change, failing) in &regress {
        if changes::regress_in(&mut tx, db, &auth.actor(), change, failing).await? {
            regressed.push(change.key.to_string());
        }
    }
    let receipt = Receipt { run_id, counts, matched, regressed, warnings };
    if let Some((key, hash)) = idempotency {
        sqlx::query(
            "INSERT INTO idempotency_keys (token_id, key, request_hash, status, reply, created_at)
             VALUES ($1, $2, $3, 201, $4, $5)",
        )
        .bind(auth.id)
        .bind(key)
        .bind(hash)
        .bind(serde_json::to_string(&receipt).unwrap_or_default())
        .bind(received_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Ingested::Stored(receipt))
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
