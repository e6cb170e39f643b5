//! Coverage of failure modes by evidence, and the sign-off gate: one pure function of the
//! change, its failure modes, the evidence, the team policy and the current time.

use super::change::{ChangeDetails, ChangeKey, ChangeStatus};
use super::failure_mode::{Design, Priority, Ratings, Selector, Texts};
use crate::domain::time::{Days, Timestamp};
use serde::{Deserialize, Serialize};

use super::time::DAY_MS;

/// A team's rules for its changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Days from happy path to the failure-cases target date.
    pub window_days: Days,
    /// Days a passing result stays fresh.
    pub freshness_days: Days,
    /// Failure modes a change needs at least.
    pub min_failure_modes: i64,
    /// Whether High-priority failure modes may be covered by a risk acceptance.
    pub allow_high_acceptance: bool,
    /// Days before its target date that a change is announced as due soon (webhooks).
    #[serde(default = "Policy::default_warning_days")]
    pub warning_days: Days,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            window_days: Days(30),
            freshness_days: Days(14),
            min_failure_modes: 3,
            allow_high_acceptance: false,
            warning_days: Self::default_warning_days(),
        }
    }
}

impl Policy {
    /// Policies recorded before the warning days existed had the default.
    fn default_warning_days() -> Days {
        Days(7)
    }

    /// The failure-cases target date for a happy path recorded at `happy_path_at`.
    pub fn target_at(&self, happy_path_at: Timestamp) -> Timestamp {
        happy_path_at + self.window_days
    }

    /// Whether a failure mode of this priority may be covered by accepting its risk.
    pub fn may_accept(&self, priority: Priority) -> bool {
        priority != Priority::High || self.allow_high_acceptance
    }
}

/// What a test run said about one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Passed, Outcome::Failed, Outcome::Skipped, Outcome::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Error => "error",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == raw)
    }

    /// How bad the outcome is, for a test reported more than once: an error over a
    /// failure over a pass over a skip.
    pub fn badness(self) -> u8 {
        match self {
            Outcome::Error => 3,
            Outcome::Failed => 2,
            Outcome::Passed => 1,
            Outcome::Skipped => 0,
        }
    }
}

/// One test result as a CI run reports it, whichever format it came in (the JUnit reader
/// and the JSON body both produce it). `failure_mode` is what it is bound to: as the client
/// wrote it (`PAY-12/FM-3`), then, resolved by the store's caller, the failure mode's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedResult<B> {
    pub test_id: String,
    pub outcome: Outcome,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
    pub failure_mode: B,
}

impl<B> ReportedResult<B> {
    /// The same result, bound to `failure_mode`.
    pub fn bound_to<C>(&self, failure_mode: C) -> ReportedResult<C> {
        ReportedResult {
            test_id: self.test_id.clone(),
            outcome: self.outcome,
            duration_ms: self.duration_ms,
            message: self.message.clone(),
            failure_mode,
        }
    }
}

/// The latest result of one test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub test_id: String,
    pub outcome: Outcome,
    /// When the run that produced it was received (Unix ms).
    pub at: Timestamp,
    pub commit: Option<String>,
    pub pipeline_url: Option<String>,
}

/// The evidence the gate sees: the latest result per test id of the owning team, plus
/// results bound directly to a failure mode (by its number) regardless of selectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceView {
    pub latest: Vec<TestResult>,
    pub bound: Vec<(i64, TestResult)>,
}

impl EvidenceView {
    /// The results relevant to a failure mode: those its selectors select (each selector
    /// with its matches) and those bound to it directly.
    pub fn matches<'a>(&'a self, number: i64, selectors: &'a [Selector]) -> Matches<'a> {
        Matches {
            by_selector: selectors
                .iter()
                .map(|s| (s, self.latest.iter().filter(|r| s.matches(&r.test_id)).collect()))
                .collect(),
            bound: self.bound.iter().filter(|(n, _)| *n == number).map(|(_, r)| r).collect(),
        }
    }
}

/// A failure mode's matched evidence.
pub struct Matches<'a> {
    pub by_selector: Vec<(&'a Selector, Vec<&'a TestResult>)>,
    pub bound: Vec<&'a TestResult>,
}

impl Matches<'_> {
    /// Every matched result, once each.
    pub fn all(&self) -> Vec<&TestResult> {
        let mut all: Vec<&TestResult> =
            self.by_selector.iter().flat_map(|(_, rs)| rs.iter().copied()).collect();
        all.extend(self.bound.iter().copied());
        all.sort_by(|a, b| a.test_id.cmp(&b.test_id));
        all.dedup_by(|a, b| a.test_id == b.test_id && a.at == b.at);
        all
    }
}

/// A risk acceptance: the team knowingly leaves a failure mode uncovered until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub justification: String,
    pub accepted_by: String,
    pub expires_at: Timestamp,
}

/// A failure mode as every edge shows it (the change page, the API, the report), built
/// once from its change's review (`ssr::review::Review::summaries`); each edge wraps it
/// in its own wire shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureModeSummary {
    pub number: i64,
    pub title: String,
    pub texts: Texts,
    pub ratings: Ratings,
    /// What its ratings give ([`Ratings::priority`]), as every edge shows it.
    pub priority: Priority,
    pub coverage: Coverage,
    /// Why it does not count as covered yet, when it does not.
    pub reason: Option<String>,
    pub designs: Vec<Design>,
    pub selectors: Vec<Selector>,
    /// Its current risk acceptance, if a lead gave one (it may have expired).
    pub acceptance: Option<Acceptance>,
}

impl FailureModeSummary {
    /// `FM-3`.
    pub fn label(&self) -> String {
        super::failure_mode::label(self.number)
    }
}

/// A change as every edge shows it (the change page, the API, the report), built once
/// from its review (`impl From<&Review>` in `ssr::review`); each edge wraps it in its own
/// wire shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    pub key: ChangeKey,
    pub team_name: String,
    pub details: ChangeDetails,
    /// The details' version, sent back with an edit (optimistic locking).
    pub version: i64,
    /// Who the change is by: its author, or the token that registered it.
    pub author: String,
    /// An API token registered it and no member has claimed it yet.
    pub unclaimed: bool,
    pub status: ChangeStatus,
    pub created_at: Timestamp,
    pub happy_path_at: Option<Timestamp>,
    pub happy_path_by: Option<String>,
    pub happy_path_note: Option<String>,
    pub target_at: Option<Timestamp>,
    /// The target has passed and the change is not signed off.
    pub overdue: bool,
    pub signed_off_at: Option<Timestamp>,
    pub policy: Policy,
    pub failure_modes: Vec<FailureModeSummary>,
    pub gate: Gate,
    /// The moment the gate was evaluated.
    pub now: Timestamp,
}

/// A lead's acceptance of a failure mode's risk, as given: checked, before anything is
/// written. It runs to the end of the day it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskAcceptanceInput {
    pub justification: String,
    /// The last moment it holds: the end (UTC) of the day chosen.
    pub expires_at: Timestamp,
}

impl RiskAcceptanceInput {
    /// A justification (one line, up to [`NOTE_MAX`](super::change::NOTE_MAX)) and an expiry
    /// `YYYY-MM-DD` after `now`.
    pub fn parse(justification: &str, expires_on: &str, now: Timestamp) -> Result<Self, super::AppError> {
        use super::change::{NOTE_MAX, required_line};
        let justification = required_line("justification", "Justification", justification, NOTE_MAX)?;
        let day = Timestamp::parse_date(expires_on).filter(|at| *at > now).ok_or_else(|| {
            super::AppError::invalid("expires_on", "Expiry must be a future date (YYYY-MM-DD).")
        })?;
        Ok(Self { justification, expires_at: day + Days(1) - std::time::Duration::from_millis(1) })
    }
}

/// What the gate needs to know about a failure mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureModeFacts {
    pub number: i64,
    pub title: String,
    pub ratings: Ratings,
    pub designs: Vec<Design>,
    pub selectors: Vec<Selector>,
    pub acceptance: Option<Acceptance>,
    /// When an incident last showed its design failing (a `failed` verdict): evidence
    /// received before then no longer counts.
    pub design_failed_at: Option<Timestamp>,
}

/// What the gate needs to know about a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFacts {
    pub status: ChangeStatus,
    pub happy_path_at: Option<Timestamp>,
}

/// A failure mode's coverage, derived from its design, selectors, evidence and acceptance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    /// No design or no test selector.
    Uncovered,
    /// Designed and selected, but not every selector has evidence yet.
    Designed,
    /// The latest result of a matched test failed.
    Failing,
    /// All passing, but some result is older than the freshness window.
    Stale,
    /// Every selector matched, every latest result passed and is fresh.
    Verified,
    /// Covered by an unexpired risk acceptance.
    Accepted,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Uncovered => "uncovered",
            Coverage::Designed => "designed",
            Coverage::Failing => "failing",
            Coverage::Stale => "stale",
            Coverage::Verified => "verified",
            Coverage::Accepted => "accepted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Coverage::Uncovered,
            Coverage::Designed,
            Coverage::Failing,
            Coverage::Stale,
            Coverage::Verified,
            Coverage::Accepted,
        ]
        .into_iter()
        .find(|c| c.as_str() == raw)
    }
}

/// A failure mode's coverage with the reason it is not (yet) verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub coverage: Coverage,
    /// Why the failure mode does not count as covered; empty when it does.
    pub reason: Option<String>,
}

fn days(ms: i64) -> i64 {
    ms / DAY_MS
}

/// What the evidence says about a failure mode, whatever the time and any acceptance. It
/// is stored with each failure mode so dashboards can derive coverage in SQL
/// (`ssr::coverage`); [`Coverage::derive`] is the rule both use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSummary {
    /// Matched results (selected or bound) whose latest outcome is failed or error.
    pub failing: i64,
    /// Selectors without a passing or failing result.
    pub unmatched: i64,
    /// When the oldest counted (not skipped) matched result was received.
    pub oldest_at: Option<Timestamp>,
}

fn counted(result: &&&TestResult) -> bool {
    result.outcome != Outcome::Skipped
}

fn is_failure(result: &&&TestResult) -> bool {
    matches!(result.outcome, Outcome::Failed | Outcome::Error)
}

impl EvidenceSummary {
    pub fn of(matches: &Matches<'_>) -> Self {
        let all = matches.all();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        EvidenceSummary {
            failing: count(all.iter().filter(is_failure).count()),
            unmatched: count(
                matches.by_selector.iter().filter(|(_, rs)| !rs.iter().any(|r| counted(&r))).count(),
            ),
            oldest_at: all.iter().filter(counted).map(|r| r.at).min(),
        }
    }
}

impl Coverage {
    /// The coverage rule. `designed`: the failure mode has a design and a test selector;
    /// `accepted_until`: the expiry of its current risk acceptance, if any.
    /// Evidence older than the team's freshness window, or received before an incident
    /// showed the design failing (`design_failed_at`), is stale.
    pub fn derive(
        designed: bool,
        summary: &EvidenceSummary,
        accepted_until: Option<Timestamp>,
        design_failed_at: Option<Timestamp>,
        policy: &Policy,
        now: Timestamp,
    ) -> Coverage {
        if accepted_until.is_some_and(|expires| expires > now) {
            Coverage::Accepted
        } else if !designed {
            Coverage::Uncovered
        } else if summary.failing > 0 {
            Coverage::Failing
        } else if summary.unmatched > 0 {
            Coverage::Designed
        } else if summary.oldest_at.is_some_and(|oldest| {
            now - oldest > policy.freshness_days.ms()
                || design_failed_at.is_some_and(|failed| oldest < failed)
        }) {
            Coverage::Stale
        } else {
            Coverage::Verified
        }
    }

    /// Whether the gate counts it as covered: verified, or accepted where accepting is allowed.
    pub fn counts_for_gate(self, priority: Priority, policy: &Policy) -> bool {
        match self {
            Coverage::Verified => true,
            Coverage::Accepted => policy.may_accept(priority),
            _ => false,
        }
    }
}

impl FailureModeFacts {
    /// It has a design and a test selector.
    pub fn is_designed(&self) -> bool {
        !self.designs.is_empty() && !self.selectors.is_empty()
    }
}

/// Assesses one failure mode at `now`.
pub fn assess(fm: &FailureModeFacts, evidence: &EvidenceView, policy: &Policy, now: Timestamp) -> Assessment {
    let matches = evidence.matches(fm.number, &fm.selectors);
    let summary = EvidenceSummary::of(&matches);
    let accepted_until = fm.acceptance.as_ref().map(|a| a.expires_at);
    let coverage =
        Coverage::derive(fm.is_designed(), &summary, accepted_until, fm.design_failed_at, policy, now);
    let reason = match coverage {
        Coverage::Verified => None,
        Coverage::Accepted => (!coverage.counts_for_gate(fm.ratings.priority(), policy)).then(|| {
            format!(
                "is High priority; this team does not allow accepting the risk of High failure modes (accepted by {})",
                fm.acceptance.as_ref().map(|a| a.accepted_by.as_str()).unwrap_or_default()
            )
        }),
        Coverage::Uncovered => Some(
            match (fm.designs.is_empty(), fm.selectors.is_empty()) {
                (true, true) => "has no design and no test selector",
                (true, false) => "has no design",
                _ => "has no test selector",
            }
            .to_owned(),
        ),
        Coverage::Failing => {
            let failing: Vec<&str> =
                matches.all().iter().filter(is_failure).map(|r| r.test_id.as_str()).collect();
            Some(format!("has failing tests: {}", failing.join(", ")))
        }
        Coverage::Designed => {
            let unmatched: Vec<&str> = matches
                .by_selector
                .iter()
                .filter(|(_, results)| !results.iter().any(|r| counted(&r)))
                .map(|(s, _)| s.as_str())
                .collect();
            Some(format!("has no passing evidence yet for: {}", unmatched.join(", ")))
        }
        Coverage::Stale => {
            let oldest = summary.oldest_at.unwrap_or(now);
            if let Some(failed) = fm.design_failed_at.filter(|failed| oldest < *failed) {
                return Assessment {
                    coverage,
                    reason: Some(format!(
                        "has evidence from before {}, when an incident showed its design failing; it needs a passing run since",
                        failed.date_time()
                    )),
                };
            }
            let age = now - oldest;
            Some(format!(
                "has evidence {} days old; results count for {} days",
                days(age),
                policy.freshness_days
            ))
        }
    };
    Assessment { coverage, reason }
}

/// One thing that keeps the gate closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// The failure mode concerned (`FM-3`), if the blocker is about one.
    pub failure_mode: Option<String>,
    pub reason: String,
}

/// Whether failure cases complete can be signed off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gate {
    Open,
    Closed(Vec<Blocker>),
}

impl Gate {
    pub fn is_open(&self) -> bool {
        matches!(self, Gate::Open)
    }

    pub fn blockers(&self) -> &[Blocker] {
        match self {
            Gate::Open => &[],
            Gate::Closed(blockers) => blockers,
        }
    }
}

/// The gate, from each failure mode's [`assess`]ment. Open only when the happy path is
/// recorded, the change has at least the team's minimum number of failure modes, and every
/// failure mode is verified or (if allowed) accepted. Otherwise every blocker is named.
pub fn gate(
    change: &ChangeFacts,
    fms: &[FailureModeFacts],
    assessments: &[Assessment],
    policy: &Policy,
) -> Gate {
    let mut blockers = Vec::new();
    let mut change_blocker = |reason: String| blockers.push(Blocker { failure_mode: None, reason });
    if change.status == ChangeStatus::Cancelled {
        change_blocker("The change is cancelled.".to_owned());
    }
    if change.happy_path_at.is_none() {
        change_blocker("The happy path is not recorded as working yet.".to_owned());
    }
    let count = i64::try_from(fms.len()).unwrap_or(i64::MAX);
    if count < policy.min_failure_modes {
        change_blocker(format!(
            "The change has {count} failure mode{}; this team needs at least {}.",
            if count == 1 { "" } else { "s" },
            policy.min_failure_modes
        ));
    }
    for (fm, assessment) in fms.iter().zip(assessments) {
        if let Some(reason) = &assessment.reason {
            let label = super::failure_mode::label(fm.number);
            blockers.push(Blocker {
                reason: format!("{label} “{}” {reason}.", fm.title),
                failure_mode: Some(label),
            });
        }
    }
    if blockers.is_empty() { Gate::Open } else { Gate::Closed(blockers) }
}

/// Whether the gate is open, from each failure mode's coverage and priority: what [`gate`]
/// decides, for callers that hold coverage rather than evidence (the stored facts the write
/// transaction and the sweeper settle gates from, `ssr::gates`). A test holds the two to the
/// same answers.
pub fn is_open(change: &ChangeFacts, fms: &[(Coverage, Priority)], policy: &Policy) -> bool {
    change.status != ChangeStatus::Cancelled
        && change.happy_path_at.is_some()
        && i64::try_from(fms.len()).unwrap_or(i64::MAX) >= policy.min_failure_modes
        && fms.iter().all(|(coverage, priority)| coverage.counts_for_gate(*priority, policy))
}

/// A CI run as a team's pages list it: when it came, from which commit, and its counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: crate::domain::ids::RunId,
    pub received_at: Timestamp,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub pipeline_url: Option<String>,
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub errored: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::failure_mode::Rating;
    use proptest::prelude::*;

    /// The gate of `fms` on `evidence`, each failure mode assessed as the review does.
    fn gate(
        change: &ChangeFacts,
        fms: &[FailureModeFacts],
        evidence: &EvidenceView,
        policy: &Policy,
        now: Timestamp,
    ) -> Gate {
        let assessments: Vec<_> = fms.iter().map(|fm| assess(fm, evidence, policy, now)).collect();
        super::gate(change, fms, &assessments, policy)
    }

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn ratings(s: u8) -> Ratings {
        let r = |v| Rating::new(v).expect("1..=5");
        Ratings { severity: r(s), likelihood: r(2), detectability: r(2) }
    }

    fn fm(number: i64, severity: u8, selectors: &[&str]) -> FailureModeFacts {
        FailureModeFacts {
            number,
            title: format!("Failure {number}"),
            ratings: ratings(severity),
            designs: vec![Design { title: "Backpressure".into(), url: None }],
            selectors: selectors.iter().map(|s| Selector::parse(s).expect("valid")).collect(),
            acceptance: None,
            design_failed_at: None,
        }
    }

    fn result(test_id: &str, outcome: Outcome, age_days: i64) -> TestResult {
        TestResult {
            test_id: test_id.into(),
            outcome,
            at: NOW - Days(age_days),
            commit: None,
            pipeline_url: None,
        }
    }

    fn happy() -> ChangeFacts {
        ChangeFacts { status: ChangeStatus::HappyPathWorking, happy_path_at: Some(NOW - Days(5)) }
    }

    fn three() -> Vec<FailureModeFacts> {
        vec![fm(1, 3, &["queue::backlog_*"]), fm(2, 4, &["queue::fast_lane"]), fm(3, 2, &["eta::*"])]
    }

    fn all_passing() -> EvidenceView {
        EvidenceView {
            latest: vec![
                result("queue::backlog_drains", Outcome::Passed, 1),
                result("queue::fast_lane", Outcome::Passed, 2),
                result("eta::shown", Outcome::Passed, 0),
            ],
            bound: vec![],
        }
    }

    #[test]
    fn the_gate_opens_when_everything_is_verified() {
        assert_eq!(gate(&happy(), &three(), &all_passing(), &Policy::default(), NOW), Gate::Open);
    }

    #[test]
    fn the_gate_names_every_blocker() {
        let draft = ChangeFacts { status: ChangeStatus::Draft, happy_path_at: None };
        let mut fms = vec![fm(1, 3, &["queue::backlog_*"]), fm(2, 4, &[])];
        fms[1].designs.clear();
        let evidence =
            EvidenceView { latest: vec![result("queue::backlog_drains", Outcome::Failed, 0)], bound: vec![] };
        let blockers = gate(&draft, &fms, &evidence, &Policy::default(), NOW).blockers().to_vec();
        let reasons: Vec<&str> = blockers.iter().map(|b| b.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "The happy path is not recorded as working yet.",
                "The change has 2 failure modes; this team needs at least 3.",
                "FM-1 “Failure 1” has failing tests: queue::backlog_drains.",
                "FM-2 “Failure 2” has no design and no test selector.",
            ]
        );
        assert_eq!(blockers[2].failure_mode.as_deref(), Some("FM-1"));
    }

    #[test]
    fn coverage_statuses_follow_the_evidence() {
        let policy = Policy::default();
        let fm = fm(1, 3, &["queue::backlog_*", "queue::retry"]);
        let view = |results: Vec<TestResult>| EvidenceView { latest: results, bound: vec![] };
        let coverage = |results| assess(&fm, &view(results), &policy, NOW).coverage;
        assert_eq!(coverage(vec![]), Coverage::Designed);
        assert_eq!(
            coverage(vec![result("queue::backlog_a", Outcome::Passed, 0)]),
            Coverage::Designed,
            "one selector unmatched"
        );
        assert_eq!(
            coverage(vec![
                result("queue::backlog_a", Outcome::Passed, 0),
                result("queue::retry", Outcome::Skipped, 0)
            ]),
            Coverage::Designed,
            "a skipped test proves nothing"
        );
        assert_eq!(
            coverage(vec![
                result("queue::backlog_a", Outcome::Passed, 0),
                result("queue::retry", Outcome::Error, 0)
            ]),
            Coverage::Failing
        );
        assert_eq!(
            coverage(vec![
                result("queue::backlog_a", Outcome::Passed, 15),
                result("queue::retry", Outcome::Passed, 0)
            ]),
            Coverage::Stale
        );
        assert_eq!(
            coverage(vec![
                result("queue::backlog_a", Outcome::Passed, 14),
                result("queue::retry", Outcome::Passed, 0)
            ]),
            Coverage::Verified
        );
    }

    #[test]
    fn a_design_an_incident_showed_failing_needs_evidence_from_after_the_verdict() {
        let policy = Policy::default();
        let mut fm = fm(1, 3, &["queue::backlog_*"]);
        fm.design_failed_at = Some(NOW - Days(2));
        let view = |age_days| EvidenceView {
            latest: vec![result("queue::backlog_drains", Outcome::Passed, age_days)],
            bound: vec![],
        };
        let before = assess(&fm, &view(3), &policy, NOW);
        assert_eq!(before.coverage, Coverage::Stale, "a passing run from before the incident's verdict");
        assert!(
            before.reason.as_deref().is_some_and(|r| r.contains("showed its design failing")),
            "{before:?}"
        );
        assert_eq!(assess(&fm, &view(1), &policy, NOW).coverage, Coverage::Verified, "a run since");
        let fms = [fm.clone(), fm.clone(), fm];
        assert!(!gate(&happy(), &fms, &view(3), &policy, NOW).is_open());
    }

    #[test]
    fn a_bound_result_counts_for_its_failure_mode_only() {
        let fms = three();
        let mut evidence = all_passing();
        evidence.bound.push((2, result("integration::whatever", Outcome::Failed, 0)));
        let blockers = gate(&happy(), &fms, &evidence, &Policy::default(), NOW).blockers().to_vec();
        assert_eq!(blockers.len(), 1);
        assert_eq!(blockers[0].failure_mode.as_deref(), Some("FM-2"));
    }

    #[test]
    fn acceptances_count_until_they_expire_and_high_needs_permission() {
        let mut fms = three();
        let evidence = EvidenceView { latest: all_passing().latest[..1].to_vec(), bound: vec![] };
        for fm in &mut fms[1..] {
            fm.acceptance = Some(Acceptance {
                justification: "Known".into(),
                accepted_by: "lena".into(),
                expires_at: NOW + Days(1),
            });
        }
        // FM-2 is High (severity 4, likelihood 2, detectability 2 → Medium). Make it High:
        fms[1].ratings = ratings(5);
        let strict = Policy::default();
        let lenient = Policy { allow_high_acceptance: true, ..strict };
        let closed = gate(&happy(), &fms, &evidence, &strict, NOW);
        assert_eq!(closed.blockers().len(), 1);
        assert!(closed.blockers()[0].reason.contains("does not allow accepting"), "{closed:?}");
        assert_eq!(gate(&happy(), &fms, &evidence, &lenient, NOW), Gate::Open);
        let expired = gate(&happy(), &fms, &evidence, &lenient, NOW + Days(2));
        assert_eq!(expired.blockers().len(), 2, "expired acceptances no longer count");
    }

    #[test]
    fn a_cancelled_change_cannot_be_signed_off() {
        let cancelled = ChangeFacts { status: ChangeStatus::Cancelled, ..happy() };
        assert!(!gate(&cancelled, &three(), &all_passing(), &Policy::default(), NOW).is_open());
    }

    fn arb_outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Passed),
            Just(Outcome::Failed),
            Just(Outcome::Skipped),
            Just(Outcome::Error)
        ]
    }

    fn arb_evidence() -> impl Strategy<Value = EvidenceView> {
        let ids = prop_oneof![
            Just("queue::backlog_drains"),
            Just("queue::backlog_x"),
            Just("queue::fast_lane"),
            Just("eta::shown"),
            Just("other::thing")
        ];
        proptest::collection::vec((ids, arb_outcome(), 0i64..30), 0..8).prop_map(|rows| {
            let mut latest: Vec<TestResult> = Vec::new();
            for (id, outcome, age) in rows {
                // The view holds one latest result per test id.
                latest.retain(|r| r.test_id != id);
                latest.push(result(id, outcome, age));
            }
            EvidenceView { latest, bound: vec![] }
        })
    }

    proptest! {
        #[test]
        fn a_fresh_passing_result_for_a_new_test_never_closes_an_open_gate(
            noise in arb_evidence(), id in "[a-z]{3,8}::[a-z_]{3,8}"
        ) {
            // Start from an open gate with random other results beside it.
            let mut evidence = noise;
            for passing in all_passing().latest {
                evidence.latest.retain(|r| r.test_id != passing.test_id);
                evidence.latest.push(passing);
            }
            let policy = Policy::default();
            let before = gate(&happy(), &three(), &evidence, &policy, NOW);
            prop_assume!(before.is_open());
            prop_assume!(!evidence.latest.iter().any(|r| r.test_id == id));
            let mut more = evidence.clone();
            more.latest.push(result(&id, Outcome::Passed, 0));
            prop_assert!(gate(&happy(), &three(), &more, &policy, NOW).is_open());
        }

        #[test]
        fn an_open_gate_has_its_preconditions(evidence in arb_evidence(), n in 0usize..4, min in 0i64..5) {
            let policy = Policy { min_failure_modes: min, ..Policy::default() };
            let fms = three()[..n.min(3)].to_vec();
            if gate(&happy(), &fms, &evidence, &policy, NOW).is_open() {
                prop_assert!(i64::try_from(fms.len()).unwrap_or(0) >= min);
                for fm in &fms {
                    prop_assert_eq!(assess(fm, &evidence, &policy, NOW).coverage, Coverage::Verified);
                }
            }
            let draft = ChangeFacts { status: ChangeStatus::Draft, happy_path_at: None };
            prop_assert!(!gate(&draft, &fms, &evidence, &policy, NOW).is_open());
        }

        #[test]
        fn the_gate_opens_from_coverage_as_it_opens_from_evidence(
            evidence in arb_evidence(),
            n in 0usize..4,
            min in 0i64..5,
            accepted in proptest::collection::vec(-3i64..3, 3),
            severity in 1u8..=5,
            allow in any::<bool>(),
            status in proptest::sample::select(ChangeStatus::ALL.to_vec()),
            recorded in any::<bool>(),
            later in 0i64..40,
        ) {
            let policy = Policy { min_failure_modes: min, allow_high_acceptance: allow, ..Policy::default() };
            let mut fms = three()[..n.min(3)].to_vec();
            for (fm, days) in fms.iter_mut().zip(&accepted) {
                fm.ratings = ratings(severity);
                fm.acceptance = (*days != 0).then(|| Acceptance {
                    justification: "ok".into(),
                    accepted_by: "lena".into(),
                    expires_at: NOW + Days(*days),
                });
            }
            let change = ChangeFacts { status, happy_path_at: recorded.then_some(NOW) };
            let now = NOW + Days(later);
            let coverage: Vec<(Coverage, Priority)> = fms
                .iter()
                .map(|fm| (assess(fm, &evidence, &policy, now).coverage, fm.ratings.priority()))
                .collect();
            prop_assert_eq!(
                gate(&change, &fms, &evidence, &policy, now).is_open(),
                is_open(&change, &coverage, &policy)
            );
        }

        #[test]
        fn a_failing_matched_result_always_closes_the_gate(evidence in arb_evidence()) {
            let mut failing = evidence.clone();
            failing.latest.retain(|r| r.test_id != "queue::fast_lane");
            failing.latest.push(result("queue::fast_lane", Outcome::Failed, 0));
            prop_assert!(!gate(&happy(), &three(), &failing, &Policy::default(), NOW).is_open());
        }

        #[test]
        fn acceptance_counts_exactly_while_unexpired(expires_in in -10i64..10, severity in 1u8..=5, allow in any::<bool>()) {
            let policy = Policy { allow_high_acceptance: allow, ..Policy::default() };
            let mut fm = fm(1, severity, &[]);
            fm.acceptance = Some(Acceptance { justification: "ok".into(), accepted_by: "lena".into(), expires_at: NOW + Days(expires_in) });
            let assessment = assess(&fm, &EvidenceView::default(), &policy, NOW);
            if expires_in > 0 {
                prop_assert_eq!(assessment.coverage, Coverage::Accepted);
                let high = fm.ratings.priority() == Priority::High;
                prop_assert_eq!(assessment.reason.is_none(), !high || allow);
            } else {
                prop_assert_eq!(assessment.coverage, Coverage::Uncovered);
            }
        }
    }
}
