//! A change under review: everything the gate needs, loaded once, evaluated once. Used by
//! the change pages, the sign-off and (later) the CI gate endpoint.

use super::db::Db;
use super::store::changes::{self, Change};
use super::store::evidence;
use super::store::failure_modes::{self, FailureMode};
use super::store::sign_offs;
use crate::domain::AppError;
use crate::domain::change::ChangeKey;
use crate::domain::gate::{self, Assessment, ChangeSummary, EvidenceView, FailureModeSummary, Gate};
use crate::domain::time::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};

/// A change with its failure modes, evidence and the gate's verdict at `now`.
pub struct Review {
    pub change: Change,
    pub failure_modes: Vec<FailureMode>,
    pub evidence: EvidenceView,
    pub assessments: Vec<Assessment>,
    pub gate: Gate,
    pub now: Timestamp,
}

/// Loads and evaluates the change with this key.
pub async fn load(db: &Db, key: &ChangeKey) -> Result<Review, AppError> {
    of(db, changes::by_key(db, key).await?).await
}

/// Loads and evaluates `change`'s failure modes and evidence.
pub async fn of(db: &Db, change: Change) -> Result<Review, AppError> {
    let failure_modes = failure_modes::failure_modes(db, &change).await?;
    let evidence = evidence::view(db, change.team_id, change.id, &failure_modes).await?;
    let now = Timestamp::now();
    let facts: Vec<_> = failure_modes.iter().map(FailureMode::facts).collect();
    let assessments: Vec<_> =
        facts.iter().map(|fm| gate::assess(fm, &evidence, &change.policy, now)).collect();
    let gate = gate::gate(&change.facts(), &facts, &assessments, &change.policy);
    Ok(Review { change, failure_modes, evidence, assessments, gate, now })
}

impl From<&Review> for ChangeSummary {
    fn from(review: &Review) -> Self {
        let c = &review.change;
        let failure_modes = review
            .failure_modes
            .iter()
            .zip(&review.assessments)
            .map(|(fm, a)| FailureModeSummary {
                number: fm.number,
                title: fm.input.title.clone(),
                texts: fm.input.texts.clone(),
                ratings: fm.input.ratings,
                priority: fm.input.ratings.priority(),
                coverage: a.coverage,
                reason: a.reason.clone(),
                designs: fm.input.designs.clone(),
                selectors: fm.input.selectors.clone(),
                acceptance: fm.acceptance.clone(),
            })
            .collect();
        ChangeSummary {
            key: c.key.clone(),
            team_name: c.team_name.clone(),
            details: c.details.clone(),
            version: c.version,
            author: c.author_label(),
            unclaimed: c.author_id.is_none(),
            status: c.status,
            created_at: c.created_at,
            happy_path_at: c.happy_path_at,
            happy_path_by: c.happy_path_by.clone(),
            happy_path_note: c.happy_path_note.clone(),
            target_at: c.target_at,
            overdue: c.is_overdue(review.now),
            signed_off_at: c.signed_off_at,
            policy: c.policy,
            failure_modes,
            gate: review.gate.clone(),
            now: review.now,
        }
    }
}

impl Review {
    /// The immutable record of a sign-off: every failure mode with its coverage and the
    /// evidence that made the gate open, and the SHA-256 of that JSON.
    pub fn snapshot(&self, signed_by: &str) -> (String, String) {
        let failure_modes: Vec<_> = self
            .failure_modes
            .iter()
            .zip(&self.assessments)
            .map(|(fm, assessment)| {
                let matches = self.evidence.matches(fm.number, &fm.input.selectors);
                json!({
                    "number": fm.number,
                    "title": fm.input.title,
                    "priority": fm.input.ratings.priority().label(),
                    "severity": fm.input.ratings.severity.get(),
                    "likelihood": fm.input.ratings.likelihood.get(),
                    "detectability": fm.input.ratings.detectability.get(),
                    "coverage": assessment.coverage.as_str(),
                    "designs": fm.input.designs,
                    "selectors": fm.input.selectors,
                    "acceptance": fm.acceptance,
                    "evidence": matches.all(),
                })
            })
            .collect();
        let snapshot = json!({
            "change": self.change.key.to_string(),
            "title": self.change.details.title,
            "signed_by": signed_by,
            "signed_at": self.now,
            "happy_path_at": self.change.happy_path_at,
            "policy": self.change.policy,
            "failure_modes": failure_modes,
        })
        .to_string();
        let hash = hex::encode(Sha256::digest(snapshot.as_bytes()));
        (snapshot, hash)
    }
}

/// Signs off failure cases of `key`: under the change's write lock the change, its failure
/// modes and evidence are read again and the gate re-evaluated, so nothing that changed
/// while the signer typed their password can slip into the snapshot.
pub async fn sign_off(
    db: &Db,
    actor: &super::audit::Actor,
    by: crate::domain::UserId,
    signer: &str,
    key: &ChangeKey,
) -> Result<(), AppError> {
    let change = changes::by_key(db, key).await?.id;
    let mut tx = db.begin_write().await?;
    db.lock_changes(&mut tx, &[change]).await?;
    let review = load(db, key).await?;
    if let Gate::Closed(blockers) = &review.gate {
        return Err(AppError::Conflict(format!(
            "The gate is closed: {}",
            blockers.iter().map(|b| b.reason.as_str()).collect::<Vec<_>>().join(" ")
        )));
    }
    let (snapshot, hash) = review.snapshot(signer);
    sign_offs::sign_off_in(&mut tx, db, actor, by, &review.change, &snapshot, &hash).await?;
    tx.commit().await?;
    Ok(())
}
