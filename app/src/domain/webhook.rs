//! What Premortem tells the world: the public event types subscribers code against, which
//! domain [`Event`]s they come from (once, here), what each carries, the formats a
//! subscription may receive, and when a failed delivery is tried again.

use super::event::{Event, Moved};
use super::ids::{DeliveryId, WebhookId};
use super::time::Timestamp;
use crate::domain::TeamId;
use crate::domain::change::ChangeKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// A public event type: past tense, stable. Its name is what a subscription lists and what
/// a delivery's `type` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum EventType {
    ChangeRegistered,
    ChangeEdited,
    HappyPathRecorded,
    GateOpened,
    GateClosed,
    SignedOff,
    Regressed,
    Cancelled,
    DueSoon,
    Overdue,
    CoverageChanged,
    RiskExpiring,
    RiskExpired,
    IncidentRecorded,
    IncidentClassified,
}

impl EventType {
    pub const ALL: [EventType; 15] = [
        EventType::ChangeRegistered,
        EventType::ChangeEdited,
        EventType::HappyPathRecorded,
        EventType::GateOpened,
        EventType::GateClosed,
        EventType::SignedOff,
        EventType::Regressed,
        EventType::Cancelled,
        EventType::DueSoon,
        EventType::Overdue,
        EventType::CoverageChanged,
        EventType::RiskExpiring,
        EventType::RiskExpired,
        EventType::IncidentRecorded,
        EventType::IncidentClassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ChangeRegistered => "change.registered",
            EventType::ChangeEdited => "change.edited",
            EventType::HappyPathRecorded => "change.happy_path_recorded",
            EventType::GateOpened => "change.gate_opened",
            EventType::GateClosed => "change.gate_closed",
            EventType::SignedOff => "change.signed_off",
            EventType::Regressed => "change.regressed",
            EventType::Cancelled => "change.cancelled",
            EventType::DueSoon => "change.due_soon",
            EventType::Overdue => "change.overdue",
            EventType::CoverageChanged => "failure_mode.coverage_changed",
            EventType::RiskExpiring => "risk_acceptance.expiring",
            EventType::RiskExpired => "risk_acceptance.expired",
            EventType::IncidentRecorded => "incident.recorded",
            EventType::IncidentClassified => "incident.classified",
        }
    }

    /// What it means, as `docs/webhooks.md` and the management page say it.
    pub fn meaning(self) -> &'static str {
        match self {
            EventType::ChangeRegistered => "A change was registered.",
            EventType::ChangeEdited => "A change's title, types or details were edited.",
            EventType::HappyPathRecorded => "A change's happy path was recorded as working.",
            EventType::GateOpened => "Every failure mode of a change is covered: it may be signed off.",
            EventType::GateClosed => "A change's gate closed: a failure mode is no longer covered.",
            EventType::SignedOff => "A leader signed off a change's failure cases as complete.",
            EventType::Regressed => "A signed-off change's evidence now fails.",
            EventType::Cancelled => "A change was cancelled.",
            EventType::DueSoon => "An open change's target date is within the team's warning days.",
            EventType::Overdue => "An open change's target date passed.",
            EventType::CoverageChanged => "A CI run moved the coverage of some of a change's failure modes.",
            EventType::RiskExpiring => "A risk acceptance runs out within three days.",
            EventType::RiskExpired => "A risk acceptance ran out.",
            EventType::IncidentRecorded => "An incident was recorded as following a change.",
            EventType::IncidentClassified => {
                "An incident after a change was classified: predicted by a failure mode (its design held or failed) or missed."
            }
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// Every name, for a refusal that lists them.
    pub fn names() -> String {
        Self::ALL.map(EventType::as_str).join(", ")
    }
}

impl From<EventType> for &'static str {
    fn from(t: EventType) -> Self {
        t.as_str()
    }
}

impl TryFrom<String> for EventType {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or_else(|| unknown_type(&raw))
    }
}

fn unknown_type(raw: &str) -> String {
    format!(
        "Unknown event type \"{}\"; the types are {}, or \"*\" for all.",
        super::error::bounded(raw),
        EventType::names()
    )
}

/// Which events a subscription receives: all of them (`["*"]`, including types added
/// later), or those listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(Vec<EventType>),
}

impl EventFilter {
    /// From a subscription's list: `["*"]` or one or more type names, each at most once.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        if names.iter().any(|n| n.as_ref() == "*") {
            return if names.len() == 1 {
                Ok(EventFilter::All)
            } else {
                Err("\"*\" selects every event type: list it alone.".to_owned())
            };
        }
        if names.is_empty() {
            return Err(format!("Choose at least one event type: {}, or \"*\" for all.", EventType::names()));
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let t = EventType::parse(name.as_ref()).ok_or_else(|| unknown_type(name.as_ref()))?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        Ok(EventFilter::Only(types))
    }

    pub fn matches(&self, t: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(types) => types.contains(&t),
        }
    }

    /// As stored and listed: `*`, or the names separated by spaces.
    pub fn to_stored(&self) -> String {
        match self {
            EventFilter::All => "*".to_owned(),
            EventFilter::Only(types) => types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" "),
        }
    }

    /// The stored form read back (unknown names, from a newer version, are dropped).
    pub fn from_stored(stored: &str) -> Self {
        if stored.trim() == "*" {
            EventFilter::All
        } else {
            EventFilter::Only(stored.split_whitespace().filter_map(EventType::parse).collect())
        }
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            EventFilter::All => vec!["*".to_owned()],
            EventFilter::Only(types) => types.iter().map(|t| t.as_str().to_owned()).collect(),
        }
    }
}

/// What a subscription's deliveries look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Standard Webhooks v1: the event as JSON, signed.
    Standard,
    /// A Slack incoming webhook's message (`text` and `blocks`), unsigned: Slack's URL is
    /// its secret.
    Slack,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Standard, Format::Slack];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Standard => "standard",
            Format::Slack => "slack",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    /// A subscription's chosen format: `standard` when none is given.
    pub fn chosen(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw else { return Ok(Format::Standard) };
        Self::parse(raw.trim()).ok_or_else(|| {
            format!("The format is \"standard\" or \"slack\", not \"{}\".", super::error::bounded(raw))
        })
    }

    /// What a lead reads the format as.
    pub fn label(self) -> &'static str {
        match self {
            Format::Standard => "Standard Webhooks (signed JSON)",
            Format::Slack => "Slack message",
        }
    }
}

/// A subscription's state: receiving, paused by a lead, or disabled by Premortem (the
/// endpoint answered 410 Gone, or failed for [`DISABLE_AFTER`]) with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookState {
    Active,
    Paused,
    Disabled,
}

impl WebhookState {
    pub const ALL: [WebhookState; 3] = [WebhookState::Active, WebhookState::Paused, WebhookState::Disabled];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookState::Active => "active",
            WebhookState::Paused => "paused",
            WebhookState::Disabled => "disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// A state a lead may set: `active` (resume) or `paused`; only Premortem disables.
    pub fn settable(raw: &str) -> Result<Self, String> {
        match Self::parse(raw.trim()) {
            Some(state @ (WebhookState::Active | WebhookState::Paused)) => Ok(state),
            _ => {
                Err(format!("The state is \"active\" or \"paused\", not \"{}\".", super::error::bounded(raw)))
            }
        }
    }
}

/// The longest a secret replaced by a rotation keeps signing, in hours.
pub const OVERLAP_MAX_HOURS: u64 = 168;
/// How long it does when a rotation does not say, in hours.
pub const OVERLAP_DEFAULT_HOURS: u64 = 24;

/// How long the secret a rotation replaces keeps signing, from a number of hours (0 stops it
/// at once: it leaked).
pub fn overlap(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|h| *h <= OVERLAP_MAX_HOURS)
        .map(|h| Duration::from_secs(h * 3600))
        .ok_or_else(|| format!("The overlap is a whole number of hours from 0 to {OVERLAP_MAX_HOURS}."))
}

/// How many subscriptions a team may have: each event is queued once per subscription, in
/// the transaction of the mutation that caused it.
pub const WEBHOOKS_MAX: i64 = 25;

/// A delivery's state: waiting (for its first try or its next), delivered, or given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] =
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A subscription as its team's leads see it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub team_id: TeamId,
    pub url: String,
    pub format: Format,
    pub events: Vec<String>,
    pub state: WebhookState,
    /// Why Premortem disabled it.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed.
    pub failing_since: Option<Timestamp>,
    /// Until when the secret before the last rotation signs too (none when it no longer does).
    pub previous_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One delivery of one event to one webhook, as its page and the API list it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_type: String,
    pub change: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub occurred_at: Timestamp,
    pub next_at: Option<Timestamp>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    pub done_at: Option<Timestamp>,
}

/// `scheme://host[:port]` of a URL: what may be shown of it where its path may be secret
/// (a Slack URL's is).
pub fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The longest URL a subscription may have.
pub const URL_MAX: usize = 2000;

/// The URLs a subscription may be given before its host is checked, as a regular
/// expression: `http://` or `https://` and no spaces or control characters.
pub fn url_pattern() -> String {
    let ws = super::text::whitespace();
    let char = super::text::class(|c| !c.is_whitespace() && !c.is_control());
    format!("^{ws}*https?://{char}{{1,{}}}{ws}*$", URL_MAX - "https://".len())
}

/// How long before a risk acceptance runs out `risk_acceptance.expiring` is sent.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(3 * 24 * 3600);

/// An endpoint that has failed every delivery for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);

/// What a domain event tells subscribers: its public type, the change it concerns, and
/// what the type carries besides the change (`data`, beside `data.change`).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub kind: EventType,
    pub team: TeamId,
    pub change: ChangeKey,
    pub data: Map<String, Value>,
}

impl Event {
    /// The public event this one is, if any: the one mapping from what happened inside to
    /// what subscribers hear.
    pub fn notice(&self) -> Option<Notice> {
        let status = |moved: &Moved| json!({ "from": moved.from.as_str(), "to": moved.to.as_str() });
        match self {
            Event::ChangeRegistered { team, key, .. } => {
                notice(EventType::ChangeRegistered, team, key, json!({}))
            }
            Event::ChangeEdited { team, key, after, .. } => {
                let fields: Vec<&String> = after.keys().collect();
                notice(EventType::ChangeEdited, team, key, json!({ "fields": fields }))
            }
            Event::HappyPathRecorded { team, key, at, target_at, note, .. } => notice(
                EventType::HappyPathRecorded,
                team,
                key,
                json!({ "happy_path_at": at, "target_at": target_at, "note": note }),
            ),
            Event::GateMoved { team, key, open, failure_modes, covered } => notice(
                if *open { EventType::GateOpened } else { EventType::GateClosed },
                team,
                key,
                json!({ "failure_modes": failure_modes, "covered": covered }),
            ),
            Event::SignedOff { team, key, .. } => notice(EventType::SignedOff, team, key, json!({})),
            Event::ChangeRegressed { team, key, moved, failing, incident } => notice(
                EventType::Regressed,
                team,
                key,
                json!({ "status": status(moved), "failing": failing, "incident": incident }),
            ),
            Event::IncidentRecorded { new: true, .. } | Event::IncidentClassified { .. } => {
                self.incident_notice()
            }
            Event::ChangeCancelled { team, key, moved, reason } => {
                notice(EventType::Cancelled, team, key, json!({ "status": status(moved), "reason": reason }))
            }
            Event::CoverageChanged { team, key, run, moves } => {
                let moves: Vec<Value> = moves
                    .iter()
                    .map(|m| json!({ "failure_mode": m.failure_mode, "from": m.from.as_str(), "to": m.to.as_str() }))
                    .collect();
                notice(EventType::CoverageChanged, team, key, json!({ "run": run, "failure_modes": moves }))
            }
            Event::TargetNear { .. } | Event::RiskExpiring { .. } | Event::RiskExpired { .. } => {
                self.time_notice()
            }
            Event::TeamCreated { .. }
            | Event::MembershipChanged { .. }
            | Event::PolicySet { .. }
            | Event::ChangeClaimed { .. }
            | Event::FailureModeAdded { .. }
            | Event::FailureModeEdited { .. }
            | Event::FailureModeRemoved { .. }
            | Event::RiskAccepted { .. }
            | Event::TemplateCreated { .. }
            | Event::TemplateUpdated { .. }
            | Event::TemplateRetired { .. }
            | Event::UserCreated { .. }
            | Event::UserAccessSet { .. }
            | Event::PasswordReset { .. }
            | Event::UserRenamed { .. }
            | Event::IdentityLinked { .. }
            | Event::SessionsEnded { .. }
            | Event::IdentityPrelinked { .. }
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
            | Event::IncidentRecorded { new: false, .. } => None,
        }
    }

    /// What incidents' events tell: one recorded after a change, or the change's verdict.
    fn incident_notice(&self) -> Option<Notice> {
        match self {
            Event::IncidentRecorded { team, key, incident, title, severity, started_at, .. } => notice(
                EventType::IncidentRecorded,
                team,
                key,
                json!({ "incident": { "id": incident, "title": title, "severity": severity.as_str(), "started_at": started_at } }),
            ),
            Event::IncidentClassified { team, key, incident, verdict, failure_mode, .. } => notice(
                EventType::IncidentClassified,
                team,
                key,
                json!({
                    "incident": { "id": incident },
                    "verdict": verdict.as_str(),
                    "predicted": verdict.is_predicted(),
                    "failure_mode": failure_mode.map(super::failure_mode::label),
                }),
            ),
            _ => None,
        }
    }

    /// What time's events tell: a target date near or passed, an acceptance running out.
    fn time_notice(&self) -> Option<Notice> {
        let risk = |kind, fm: &super::event::FailureModeRef, at_name: &str, at: &Timestamp| {
            notice(kind, &fm.team, &fm.change, json!({ "failure_mode": fm.key().to_string(), at_name: at }))
        };
        match self {
            Event::TargetNear { team, key, target_at, passed } => notice(
                if *passed { EventType::Overdue } else { EventType::DueSoon },
                team,
                key,
                json!({ "target_at": target_at }),
            ),
            Event::RiskExpiring { fm, expires_at } => {
                risk(EventType::RiskExpiring, fm, "expires_at", expires_at)
            }
            Event::RiskExpired { fm, expired_at } => {
                risk(EventType::RiskExpired, fm, "expired_at", expired_at)
            }
            _ => None,
        }
    }
}

fn notice(kind: EventType, team: &TeamId, change: &ChangeKey, data: Value) -> Option<Notice> {
    let data = match data {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Some(Notice { kind, team: *team, change: change.clone(), data })
}

/// The change as every delivery names it (`data.change`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRef {
    pub key: String,
    pub title: String,
    pub team: String,
    pub status: String,
    pub url: String,
}

/// A delivery's body in the Standard Webhooks format: `{"type", "timestamp", "data"}`,
/// `timestamp` as RFC 3339 (when it happened), `data.change` (none for a test event) beside
/// what the type carries.
pub fn standard_body(
    kind: &str,
    at: Timestamp,
    change: Option<&ChangeRef>,
    data: &Map<String, Value>,
) -> Value {
    let mut all = Map::new();
    if let Some(change) = change {
        all.insert("change".to_owned(), json!(change));
    }
    for (k, v) in data {
        all.insert(k.clone(), v.clone());
    }
    json!({ "type": kind, "timestamp": at.rfc3339(), "data": all })
}

/// A delivery's body as a Slack message: one line of text (also the notification's), and
/// blocks with the change, what happened and a link.
pub fn slack_body(kind: &str, change: Option<&ChangeRef>) -> Value {
    let Some(change) = change else {
        return json!({ "text": "A test message from Premortem: this webhook is reachable." });
    };
    let what = EventType::parse(kind).map_or("Something happened.", EventType::meaning);
    let text = format!("{} {}: {}", change.key, slack_escape(&change.title), what);
    json!({
        "text": text,
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": format!("*<{}|{} {}>*\n{}", change.url, change.key, slack_escape(&change.title), what),
                },
            },
            {
                "type": "context",
                "elements": [{ "type": "mrkdwn", "text": format!("`{}` · team {} · status {}", kind, change.team, change.status) }],
            },
        ],
    })
}

/// Slack's three control characters in message text, so a title cannot make a link or a
/// mention.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// When the next try of a delivery that failed its `attempt`th try (1 for the first) is
/// due: twice as long after each (1 s, 2 s, 4 s, … up to an hour), less up to half of it
/// at random (`jitter` in 0..1), so endpoints coming back are not all retried at once. A
/// `Retry-After` the endpoint sent wins, up to the same hour.
pub fn retry_after(attempt: u32, jitter: f64, asked: Option<Duration>) -> Duration {
    const CAP: Duration = Duration::from_secs(3600);
    if let Some(asked) = asked {
        return asked.min(CAP);
    }
    let full = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(12)).min(CAP);
    full.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TeamSlug;
    use crate::domain::change::ChangeStatus;

    fn key() -> ChangeKey {
        ChangeKey::new(&TeamSlug::parse("PAY").expect("slug"), 12)
    }

    #[test]
    fn every_type_has_one_name_that_reads_back() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).expect("json"), json!(t.as_str()));
        }
        let names: std::collections::HashSet<_> = EventType::ALL.map(EventType::as_str).into();
        assert_eq!(names.len(), EventType::ALL.len());
    }

    #[test]
    fn a_filter_is_everything_or_known_types() {
        assert_eq!(EventFilter::parse(&["*"]), Ok(EventFilter::All));
        assert!(EventFilter::parse::<&str>(&[]).is_err());
        assert!(EventFilter::parse(&["*", "change.registered"]).is_err());
        let err = EventFilter::parse(&["change.exploded"]).expect_err("unknown");
        assert!(err.contains("change.exploded") && err.contains("change.regressed"), "{err}");
        let only = EventFilter::parse(&["change.regressed", "change.regressed"]).expect("known");
        assert_eq!(only, EventFilter::Only(vec![EventType::Regressed]));
        assert!(only.matches(EventType::Regressed) && !only.matches(EventType::SignedOff));
        assert_eq!(EventFilter::from_stored(&only.to_stored()), only);
        assert_eq!(EventFilter::from_stored("*"), EventFilter::All);
    }

    #[test]
    fn a_gate_move_is_opened_or_closed_and_audit_only_events_say_nothing() {
        let gate =
            |open| Event::GateMoved { team: TeamId(1), key: key(), open, failure_modes: 3, covered: 2 };
        let opened = gate(true).notice().expect("public");
        assert_eq!((opened.kind, opened.change.to_string()), (EventType::GateOpened, "PAY-12".to_owned()));
        assert_eq!(opened.data["covered"], json!(2));
        assert_eq!(gate(false).notice().map(|n| n.kind), Some(EventType::GateClosed));
        let claimed = Event::ChangeClaimed { team: TeamId(1), key: key(), author: crate::domain::UserId(2) };
        assert_eq!(claimed.notice(), None);
    }

    #[test]
    fn a_regression_names_its_failing_failure_modes() {
        let event = Event::ChangeRegressed {
            team: TeamId(1),
            key: key(),
            moved: Moved { from: ChangeStatus::FailureCasesComplete, to: ChangeStatus::Regressed },
            failing: vec!["FM-2".into()],
            incident: None,
        };
        let notice = event.notice().expect("public");
        assert_eq!(notice.kind, EventType::Regressed);
        assert_eq!(notice.data["failing"], json!(["FM-2"]));
        assert_eq!(notice.data["status"]["to"], json!(ChangeStatus::Regressed.as_str()));
    }

    #[test]
    fn an_incident_is_told_once_when_recorded_and_again_when_classified() {
        use crate::domain::ids::IncidentId;
        use crate::domain::incident::{Severity, Verdict};
        let recorded = |new| Event::IncidentRecorded {
            team: TeamId(1),
            key: key(),
            incident: IncidentId(7),
            title: "Queue stalled".into(),
            severity: Severity::Sev2,
            started_at: Timestamp(5),
            new,
        };
        let told = recorded(true).notice().expect("public");
        assert_eq!(told.kind, EventType::IncidentRecorded);
        assert_eq!(
            told.data["incident"],
            json!({ "id": 7, "title": "Queue stalled", "severity": "SEV2", "started_at": 5 })
        );
        assert_eq!(recorded(false).notice(), None, "an update of the same incident is not news");
        let classified = Event::IncidentClassified {
            team: TeamId(1),
            key: key(),
            incident: IncidentId(7),
            before: None,
            verdict: Verdict::Missed,
            failure_mode: Some(4),
        };
        let told = classified.notice().expect("public");
        assert_eq!(told.kind, EventType::IncidentClassified);
        assert_eq!(
            (told.data["verdict"].clone(), told.data["predicted"].clone()),
            (json!("missed"), json!(false))
        );
        assert_eq!(told.data["failure_mode"], json!("FM-4"));
    }

    #[test]
    fn a_body_puts_the_change_beside_what_its_type_carries() {
        let change = ChangeRef {
            key: "PAY-12".into(),
            title: "<@here> & co".into(),
            team: "PAY".into(),
            status: "signed_off".into(),
            url: "https://pm.example/changes/PAY-12".into(),
        };
        let mut data = Map::new();
        data.insert("failing".into(), json!(["FM-2"]));
        let body = standard_body("change.regressed", Timestamp(0), Some(&change), &data);
        assert_eq!(body["type"], json!("change.regressed"));
        assert_eq!(body["timestamp"], json!("1970-01-01T00:00:00.000Z"));
        assert_eq!(body["data"]["change"]["key"], json!("PAY-12"));
        assert_eq!(body["data"]["failing"], json!(["FM-2"]));
        let slack = slack_body("change.regressed", Some(&change)).to_string();
        assert!(!slack.contains("<@here>") && slack.contains("&lt;@here&gt; &amp; co"), "{slack}");
        assert!(slack.contains("https://pm.example/changes/PAY-12"));
    }

    #[test]
    fn retries_back_off_with_jitter_and_heed_retry_after() {
        assert_eq!(retry_after(1, 0.0, None), Duration::from_secs(1));
        assert_eq!(retry_after(4, 0.0, None), Duration::from_secs(8));
        assert_eq!(retry_after(4, 1.0, None), Duration::from_secs(4));
        assert_eq!(retry_after(40, 0.0, None), Duration::from_secs(3600));
        assert_eq!(retry_after(2, 0.5, Some(Duration::from_secs(30))), Duration::from_secs(30));
        assert_eq!(retry_after(2, 0.5, Some(Duration::from_secs(86_400))), Duration::from_secs(3600));
    }
}
