//! Incidents: a failure that happened after a change, and whether the change's premortem
//! predicted it. Each change an incident names is judged on its own ([`Verdict`]): a failure
//! mode described it and its design held or failed, or none did and it was missed.

use super::AppError;
use super::change::{ChangeKey, TITLE_MAX, checked, optional_url};
use super::ids::IncidentId;
use super::text::{Chars, TextRule};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How bad it was: `SEV1` the worst. Serialized as [`Severity::as_str`] writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Sev1, Severity::Sev2, Severity::Sev3, Severity::Sev4];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }

    /// `SEV1` to `SEV4`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw).ok_or_else(|| {
            AppError::invalid("severity", "Severity must be one of SEV1 (the worst), SEV2, SEV3 or SEV4.")
        })
    }

    /// What it means, as incident tools commonly grade.
    pub fn meaning(self) -> &'static str {
        match self {
            Severity::Sev1 => "critical: the service is down or data is lost",
            Severity::Sev2 => "major: a core function is broken for many",
            Severity::Sev3 => "minor: degraded, with a workaround",
            Severity::Sev4 => "low: little or no effect on users",
        }
    }

    /// The severity rating (1 to 5) a failure mode written from such an incident starts with.
    pub fn rating(self) -> u8 {
        match self {
            Severity::Sev1 => 5,
            Severity::Sev2 => 4,
            Severity::Sev3 => 3,
            Severity::Sev4 => 2,
        }
    }
}

/// What one change's premortem made of an incident after it. Serialized as
/// [`Verdict::as_str`] writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Predicted by a failure mode, whose design contained it as designed.
    Held,
    /// Predicted by a failure mode, whose design or test did not hold.
    Failed,
    /// No failure mode described it.
    Missed,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Held, Verdict::Failed, Verdict::Missed];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::Failed => "failed",
            Verdict::Missed => "missed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL.into_iter().find(|v| v.as_str() == raw).ok_or_else(|| {
            AppError::invalid(
                "verdict",
                "Choose whether a failure mode predicted it (its design held or failed) or it was missed.",
            )
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Held => "Predicted, design held",
            Verdict::Failed => "Predicted, design failed",
            Verdict::Missed => "Missed",
        }
    }

    /// A failure mode described it.
    pub fn is_predicted(self) -> bool {
        self != Verdict::Missed
    }

    /// The premortem did not hold: a signed-off change is reopened until it is covered again.
    pub fn reopens(self) -> bool {
        self != Verdict::Held
    }
}

/// The longest external id (the incident tool's).
pub const EXTERNAL_ID_MAX: usize = 200;
/// The most changes one incident may name.
pub const CHANGES_MAX: usize = 20;
/// The title's rule.
pub const TITLE: TextRule = TextRule::line(TITLE_MAX);
/// The external id's rule: optional, one line.
pub const EXTERNAL_ID: TextRule = TextRule { required: false, max: EXTERNAL_ID_MAX, chars: Chars::Line };
/// How far ahead of the server's clock a time may be (another machine's clock).
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(300);
/// The latest time an incident may name: the end of year 9999.
pub const LATEST: Timestamp = Timestamp(253_402_300_799_999);

/// An incident as it was sent, not yet checked.
#[derive(Clone, Debug, Default)]
pub struct IncidentFields {
    pub title: String,
    pub severity: String,
    pub started_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub url: String,
    pub external_id: String,
    pub changes: Vec<String>,
}

/// An incident to record, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentInput {
    pub title: String,
    pub severity: Severity,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub url: Option<String>,
    pub external_id: Option<String>,
    /// At least one, each once, in the order given.
    pub changes: Vec<ChangeKey>,
}

impl IncidentInput {
    /// The incident, if every field is valid at `now`; else the first field's refusal.
    pub fn check(fields: IncidentFields, now: Timestamp) -> Result<Self, AppError> {
        let title = checked(TITLE, "title", "Title", &fields.title)?;
        let severity = Severity::parse(&fields.severity)?;
        let started_at =
            fields.started_at.ok_or_else(|| AppError::invalid("started_at", "Say when it started."))?;
        let latest = now + CLOCK_SKEW;
        if started_at.0 < 0 || started_at > latest {
            return Err(AppError::invalid("started_at", "It cannot have started in the future."));
        }
        if let Some(resolved) = fields.resolved_at {
            if resolved < started_at {
                return Err(AppError::invalid("resolved_at", "It cannot be resolved before it started."));
            }
            if resolved > latest {
                return Err(AppError::invalid("resolved_at", "It cannot be resolved in the future."));
            }
        }
        let url = optional_url("url", &fields.url)?;
        let external_id = checked(EXTERNAL_ID, "external_id", "External id", &fields.external_id)?;
        let mut changes: Vec<ChangeKey> = Vec::new();
        for raw in fields.changes.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            let key = ChangeKey::parse(raw).map_err(|_| {
                AppError::invalid(
                    "changes",
                    format!("{} is not a change key like PAY-12.", super::error::bounded(raw)),
                )
            })?;
            if !changes.contains(&key) {
                changes.push(key);
            }
        }
        if changes.is_empty() {
            return Err(AppError::invalid("changes", "Name the change it followed, like PAY-12."));
        }
        if changes.len() > CHANGES_MAX {
            return Err(AppError::invalid(
                "changes",
                format!("An incident may name at most {CHANGES_MAX} changes."),
            ));
        }
        Ok(Self {
            title,
            severity,
            started_at,
            resolved_at: fields.resolved_at,
            url,
            external_id: Some(external_id).filter(|e| !e.is_empty()),
            changes,
        })
    }
}

/// An incident as one change sees it: the incident, and that change's verdict on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeIncident {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub url: Option<String>,
    pub external_id: Option<String>,
    /// Every change it names (this one among them).
    pub changes: Vec<String>,
    pub verdict: Option<Verdict>,
    /// The failure mode that predicted it (or that a miss became), by number; `None` also
    /// when that failure mode was removed since.
    pub failure_mode: Option<i64>,
    pub classified_at: Option<Timestamp>,
}

/// A classification as it was sent: the verdict and, for a prediction, the failure mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Classification {
    /// `FM-n` of the change described it; its design held or did not.
    Predicted { failure_mode: i64, held: bool },
    /// None described it; it becomes the failure mode given (and, if `template`, a team
    /// template for changes of that type).
    Missed,
}

impl Classification {
    /// The verdict, and for a prediction the failure mode (`3` or `FM-3`).
    pub fn parse(verdict: &str, failure_mode: &str) -> Result<Self, AppError> {
        let verdict = Verdict::parse(verdict)?;
        if verdict == Verdict::Missed {
            return Ok(Classification::Missed);
        }
        let raw = failure_mode.trim();
        let number =
            raw.strip_prefix("FM-").unwrap_or(raw).parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(
                || AppError::invalid("failure_mode", "Choose the failure mode that predicted it."),
            )?;
        Ok(Classification::Predicted { failure_mode: number, held: verdict == Verdict::Held })
    }

    pub fn verdict(&self) -> Verdict {
        match self {
            Classification::Predicted { held: true, .. } => Verdict::Held,
            Classification::Predicted { .. } => Verdict::Failed,
            Classification::Missed => Verdict::Missed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> IncidentFields {
        IncidentFields {
            title: " Exam queue stalled ".into(),
            severity: "SEV2".into(),
            started_at: Some(Timestamp(1_000)),
            resolved_at: Some(Timestamp(2_000)),
            url: "https://incidents.example.com/7".into(),
            external_id: "INC-7".into(),
            changes: vec!["QUE-1".into(), " QUE-1".into(), "QUE-2".into()],
        }
    }

    #[test]
    fn an_incident_is_trimmed_and_names_each_change_once() {
        let input = IncidentInput::check(fields(), Timestamp(10_000)).expect("valid");
        assert_eq!(input.title, "Exam queue stalled");
        assert_eq!(input.severity, Severity::Sev2);
        assert_eq!(input.changes.iter().map(ToString::to_string).collect::<Vec<_>>(), ["QUE-1", "QUE-2"]);
        assert_eq!(input.external_id.as_deref(), Some("INC-7"));
    }

    #[test]
    fn an_incident_is_refused_by_the_field_at_fault() {
        let refused = |f: IncidentFields| match IncidentInput::check(f, Timestamp(10_000)) {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(IncidentFields { severity: "SEV5".into(), ..fields() }), "severity");
        assert_eq!(refused(IncidentFields { severity: "sev2".into(), ..fields() }), "severity");
        assert_eq!(refused(IncidentFields { resolved_at: Some(Timestamp(500)), ..fields() }), "resolved_at");
        assert_eq!(
            refused(IncidentFields { started_at: Some(Timestamp(10_000_000)), ..fields() }),
            "started_at"
        );
        assert_eq!(refused(IncidentFields { changes: vec![" ".into()], ..fields() }), "changes");
        assert_eq!(refused(IncidentFields { changes: vec!["not a key".into()], ..fields() }), "changes");
        assert_eq!(refused(IncidentFields { url: "ftp://x".into(), ..fields() }), "url");
        assert_eq!(refused(IncidentFields { title: "a\nb".into(), ..fields() }), "title");
    }

    #[test]
    fn a_classification_names_its_failure_mode_unless_missed() {
        assert_eq!(
            Classification::parse("failed", "FM-3"),
            Ok(Classification::Predicted { failure_mode: 3, held: false })
        );
        assert_eq!(Classification::parse("missed", ""), Ok(Classification::Missed));
        assert!(Classification::parse("held", "").is_err());
        assert!(Classification::parse("maybe", "2").is_err());
        assert!(Verdict::Failed.reopens() && Verdict::Missed.reopens() && !Verdict::Held.reopens());
        // The wire carries each as its name.
        for v in Verdict::ALL {
            assert_eq!(serde_json::to_value(v).expect("json"), serde_json::json!(v.as_str()));
        }
        for s in Severity::ALL {
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
    }
}
