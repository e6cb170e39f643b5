//! Changes: keys, validated fields, types and the status machine.

use super::AppError;
use super::text::{Chars, Refusal, TextRule};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A change's stable key, `<TEAM>-<n>` (e.g. `PAY-12`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ChangeKeyFields")]
pub struct ChangeKey {
    team: String,
    number: i64,
}

/// A [`ChangeKey`] as serialized, checked by `parse` on the way in.
#[derive(Deserialize)]
struct ChangeKeyFields {
    team: String,
    number: i64,
}

impl TryFrom<ChangeKeyFields> for ChangeKey {
    type Error = AppError;

    fn try_from(fields: ChangeKeyFields) -> Result<Self, AppError> {
        Self::parse(&format!("{}-{}", fields.team, fields.number))
    }
}

impl ChangeKey {
    pub fn new(team: &super::TeamSlug, number: i64) -> Self {
        Self { team: team.as_str().to_owned(), number }
    }

    /// Parses `PAY-12` (case-insensitive team part; spaces only around the whole key).
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let not_found = || AppError::NotFound(format!("Change {}", super::error::bounded(raw)));
        let (team, number) = raw.trim().rsplit_once('-').ok_or_else(not_found)?;
        if team.trim() != team || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found());
        }
        let team = super::TeamSlug::parse(team).map_err(|_| not_found())?;
        let number: i64 = number.parse().map_err(|_| not_found())?;
        if !(1..Self::NUMBER_LIMIT).contains(&number) {
            return Err(not_found());
        }
        Ok(Self::new(&team, number))
    }

    /// Change numbers are below this (18 digits), so any key [`ChangeKey::pattern`] allows
    /// names a number the store can hold.
    const NUMBER_LIMIT: i64 = 1_000_000_000_000_000_000;

    /// The keys [`ChangeKey::parse`] reads, as a regular expression: a slug, a hyphen and
    /// a number from 1 (leading zeros allowed), with spaces only around the whole.
    pub fn pattern() -> String {
        let digits = Self::NUMBER_LIMIT.ilog10() - 1;
        format!(
            "^{ws}*{slug}-0*[1-9][0-9]{{0,{digits}}}{ws}*$",
            ws = super::text::whitespace(),
            slug = super::TeamSlug::shape()
        )
    }

    pub fn team(&self) -> &str {
        &self.team
    }

    pub fn number(&self) -> i64 {
        self.number
    }
}

impl std::fmt::Display for ChangeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.team, self.number)
    }
}

/// Checks a required single-line text field: trimmed, 1..=`max` characters.
pub fn required_line(field: &str, label: &str, raw: &str, max: usize) -> Result<String, AppError> {
    checked(TextRule::line(max), field, label, raw)
}

/// Checks an optional multi-line text field: at most `max` characters.
pub fn optional_text(field: &str, label: &str, raw: &str, max: usize) -> Result<String, AppError> {
    checked(TextRule::lines(max), field, label, raw)
}

/// `raw` checked by `rule`, trimmed, or an error naming `field`.
pub fn checked(rule: TextRule, field: &str, label: &str, raw: &str) -> Result<String, AppError> {
    let refusal = match rule.check(raw) {
        Ok(text) => return Ok(text.to_owned()),
        Err(refusal) => refusal,
    };
    let message = match refusal {
        Refusal::Empty => format!("{label} is required."),
        Refusal::TooLong(len) => format!("{label} must be at most {} characters (it has {len}).", rule.max),
        Refusal::Chars if rule.chars == Chars::Line => format!("{label} must be a single line."),
        Refusal::Chars => format!("{label} contains control characters."),
    };
    Err(AppError::invalid(field, message))
}

/// Longest title of a change or failure mode.
pub const TITLE_MAX: usize = 200;
/// Longest summary, scenario or other free text.
pub const TEXT_MAX: usize = 20_000;
/// Longest note on a milestone (the happy path, a cancellation).
pub const NOTE_MAX: usize = 2000;
/// Longest link, in characters.
pub const LINK_MAX: usize = 2000;
/// The schemes a link may have.
const LINK_SCHEMES: [&str; 2] = ["http://", "https://"];

/// Checks an optional link: empty, or an `http(s)://` URL of at most [`LINK_MAX`]
/// characters, something after the scheme and no spaces or control characters.
pub fn optional_url(field: &str, raw: &str) -> Result<Option<String>, AppError> {
    let url = raw.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let valid = LINK_SCHEMES.iter().any(|scheme| url.len() > scheme.len() && url.starts_with(scheme))
        && url.chars().count() <= LINK_MAX
        && url.chars().all(link_char);
    if valid {
        Ok(Some(url.to_owned()))
    } else {
        Err(AppError::invalid(field, "Links must be http:// or https:// addresses without spaces."))
    }
}

fn link_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control()
}

/// The links [`optional_url`] accepts (or `""`, none), as a regular expression.
pub fn link_pattern() -> String {
    let ws = super::text::whitespace();
    let char = super::text::class(link_char);
    let links: Vec<String> = LINK_SCHEMES
        .iter()
        .map(|scheme| format!("{scheme}{char}{{1,{}}}", LINK_MAX - scheme.len()))
        .collect();
    format!("^{ws}*(?:{})?{ws}*$", links.join("|"))
}

/// How one of a change's details is written and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailKind {
    /// Free text of several lines, up to [`TEXT_MAX`]; empty when none is written.
    Text,
    /// An `http(s)://` link ([`optional_url`]); none when left empty.
    Link,
}

/// One of a change's details besides its title and types. Its name is the same everywhere:
/// the form field, the database column, the JSON key and the CSV column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detail {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: DetailKind,
    /// What to write, shown in an empty form field.
    pub hint: &'static str,
}

impl Detail {
    /// A link's name where it is shown: "Ticket" for the "Ticket link".
    pub fn link_name(&self) -> &'static str {
        self.label.strip_suffix(" link").unwrap_or(self.label)
    }
}

const fn detail(name: &'static str, label: &'static str, kind: DetailKind, hint: &'static str) -> Detail {
    Detail { name, label, kind, hint }
}

/// A change's details besides its title and types, in the order forms and documents show
/// them. A new detail is a row here, a field of [`ChangeDetails`] and of [`ChangeFields`]
/// with its place in their `slots`/`values`/`texts`, and a column of `changes` (a
/// migration): the store, the checks, the form, the server functions' arguments, the REST
/// bodies and their OpenAPI schemas, the report and the CSV follow from this list. Where
/// the change page shows it is the page's to decide.
pub const DETAILS: [Detail; 6] = [
    detail("summary", "Summary", DetailKind::Text, "What changes, and why"),
    detail("ticket_url", "Ticket link", DetailKind::Link, "https://"),
    detail("pr_url", "Pull request link", DetailKind::Link, "https://"),
    detail("design_url", "Design document link", DetailKind::Link, "https://"),
    detail(
        "rollback_plan",
        "Rollback plan",
        DetailKind::Text,
        "How to undo this change if it goes wrong in production, e.g. turn the exam-queue flag off; the old path keeps working",
    ),
    detail("rollback_url", "Rollback runbook link", DetailKind::Link, "https://"),
];

/// What describes a change, checked: what a person gives when registering it and may edit
/// while it is open. Every entry point (form, REST, demo) builds it from [`ChangeFields`],
/// so there is one set of rules and each error names its field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDetails {
    pub title: String,
    pub summary: String,
    pub types: Vec<ChangeType>,
    pub ticket_url: Option<String>,
    pub pr_url: Option<String>,
    pub design_url: Option<String>,
    /// How to undo the change if it goes wrong in production; empty when none is written.
    pub rollback_plan: String,
    pub rollback_url: Option<String>,
}

/// Where a detail of [`ChangeDetails`] is held, by its kind.
pub enum Slot<'a> {
    Text(&'a mut String),
    Link(&'a mut Option<String>),
}

impl ChangeDetails {
    /// The details of [`DETAILS`], in that order, to be filled in.
    pub fn slots(&mut self) -> [Slot<'_>; DETAILS.len()] {
        [
            Slot::Text(&mut self.summary),
            Slot::Link(&mut self.ticket_url),
            Slot::Link(&mut self.pr_url),
            Slot::Link(&mut self.design_url),
            Slot::Text(&mut self.rollback_plan),
            Slot::Link(&mut self.rollback_url),
        ]
    }

    /// The values of [`DETAILS`], in that order: a text as written (perhaps empty), a link
    /// or none.
    pub fn values(&self) -> [Option<&str>; DETAILS.len()] {
        [
            Some(&self.summary),
            self.ticket_url.as_deref(),
            self.pr_url.as_deref(),
            self.design_url.as_deref(),
            Some(&self.rollback_plan),
            self.rollback_url.as_deref(),
        ]
    }

    /// The links, in the order of [`DETAILS`], with those not written: a change's header
    /// shows them.
    pub fn links(&self) -> impl Iterator<Item = (&'static Detail, Option<&str>)> {
        DETAILS.iter().zip(self.values()).filter(|(detail, _)| detail.kind == DetailKind::Link)
    }

    /// The texts besides the summary (which leads the page), each a section of its own.
    pub fn sections(&self) -> impl Iterator<Item = (&'static Detail, &str)> {
        DETAILS
            .iter()
            .zip(self.values())
            .filter(|(detail, _)| detail.kind == DetailKind::Text && detail.name != "summary")
            .map(|(detail, text)| (detail, text.unwrap_or_default()))
    }
}

/// A change's describing fields as typed in, not yet checked: what every wire shape (a
/// browser form, a REST body, a PATCH over the current values) turns into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeFields {
    pub title: String,
    pub summary: String,
    pub types: Vec<ChangeType>,
    pub ticket_url: String,
    pub pr_url: String,
    pub design_url: String,
    pub rollback_plan: String,
    pub rollback_url: String,
}

impl ChangeFields {
    /// The typed-in values of [`DETAILS`], in that order.
    pub fn texts(&mut self) -> [&mut String; DETAILS.len()] {
        [
            &mut self.summary,
            &mut self.ticket_url,
            &mut self.pr_url,
            &mut self.design_url,
            &mut self.rollback_plan,
            &mut self.rollback_url,
        ]
    }

    /// The fields of a plain HTML form: `title`, a `type_<type>` checkbox per type and one
    /// field per detail, each named as in [`DETAILS`]. Fields left out are empty.
    pub fn from_form(form: &std::collections::BTreeMap<String, String>) -> Self {
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        let mut fields = Self {
            title: field("title"),
            types: ChangeType::ALL
                .into_iter()
                .filter(|t| form.contains_key(&format!("type_{}", t.as_str())))
                .collect(),
            ..Self::default()
        };
        for (detail, text) in DETAILS.iter().zip(fields.texts()) {
            *text = field(detail.name);
        }
        fields
    }
}

impl TryFrom<ChangeFields> for ChangeDetails {
    type Error = AppError;

    fn try_from(mut f: ChangeFields) -> Result<Self, AppError> {
        let title = required_line("title", "Title", &f.title, TITLE_MAX)?;
        let mut types = std::mem::take(&mut f.types);
        types.sort_by_key(|t| ChangeType::ALL.iter().position(|a| a == t));
        types.dedup();
        if types.is_empty() {
            return Err(AppError::invalid("types", "Choose at least one type of change."));
        }
        let mut details = Self { title, types, ..Self::default() };
        for ((detail, raw), slot) in DETAILS.iter().zip(f.texts()).zip(details.slots()) {
            match slot {
                Slot::Text(text) => *text = optional_text(detail.name, detail.label, raw, TEXT_MAX)?,
                Slot::Link(link) => *link = optional_url(detail.name, raw)?,
            }
        }
        Ok(details)
    }
}

impl From<ChangeDetails> for ChangeFields {
    fn from(d: ChangeDetails) -> Self {
        let mut fields = Self { title: d.title.clone(), types: d.types.clone(), ..Self::default() };
        for (text, value) in fields.texts().into_iter().zip(d.values()) {
            value.unwrap_or_default().clone_into(text);
        }
        fields
    }
}

/// What kind of change this is; drives catalogue suggestions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeType {
    Queue,
    Migration,
    Rollout,
    Dependency,
    AiAgent,
    Infrastructure,
    Other,
}

impl ChangeType {
    pub const ALL: [ChangeType; 7] = [
        ChangeType::Queue,
        ChangeType::Migration,
        ChangeType::Rollout,
        ChangeType::Dependency,
        ChangeType::AiAgent,
        ChangeType::Infrastructure,
        ChangeType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Queue => "queue",
            ChangeType::Migration => "migration",
            ChangeType::Rollout => "rollout",
            ChangeType::Dependency => "dependency",
            ChangeType::AiAgent => "ai_agent",
            ChangeType::Infrastructure => "infrastructure",
            ChangeType::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChangeType::Queue => "Queue / event-driven",
            ChangeType::Migration => "Data or schema migration",
            ChangeType::Rollout => "Rolling deployment / release",
            ChangeType::Dependency => "External dependency",
            ChangeType::AiAgent => "AI agent / automation",
            ChangeType::Infrastructure => "Infrastructure",
            ChangeType::Other => "Other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw.trim()).ok_or_else(|| {
            AppError::invalid("types", format!("Unknown change type {:?}.", super::error::bounded(raw)))
        })
    }

    /// Stored as a comma-separated list.
    pub fn join(types: &[ChangeType]) -> String {
        types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Reads the stored list, skipping anything unknown.
    pub fn split(stored: &str) -> Vec<ChangeType> {
        stored.split(',').filter_map(|t| Self::parse(t).ok()).collect()
    }
}

/// A change's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// Registered; the happy path does not work yet.
    Draft,
    /// The happy path works; failure cases are being worked through.
    HappyPathWorking,
    /// Signed off: every failure mode covered.
    FailureCasesComplete,
    /// Signed off, then a linked test failed; needs a new sign-off.
    Regressed,
    /// Abandoned.
    Cancelled,
}

/// Who a change is by, as every edge shows it: its author, or else the API token that
/// registered it.
pub fn author_label(author: Option<&str>, registering_token: Option<&str>) -> String {
    match (author, registering_token) {
        (Some(author), _) => author.to_owned(),
        (None, Some(token)) => format!("API token “{token}” (no author yet)"),
        (None, None) => "nobody".to_owned(),
    }
}

impl ChangeStatus {
    /// A change in this status is overdue at `now` when its failure-cases target has passed
    /// and it is still open (not signed off or cancelled).
    pub fn is_overdue(self, target_at: Option<Timestamp>, now: Timestamp) -> bool {
        self.is_open() && target_at.is_some_and(|t| t < now)
    }

    pub const ALL: [ChangeStatus; 5] = [
        ChangeStatus::Draft,
        ChangeStatus::HappyPathWorking,
        ChangeStatus::FailureCasesComplete,
        ChangeStatus::Regressed,
        ChangeStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Draft => "draft",
            ChangeStatus::HappyPathWorking => "happy_path_working",
            ChangeStatus::FailureCasesComplete => "failure_cases_complete",
            ChangeStatus::Regressed => "regressed",
            ChangeStatus::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChangeStatus::Draft => "Draft",
            ChangeStatus::HappyPathWorking => "Happy path working",
            ChangeStatus::FailureCasesComplete => "Failure cases complete",
            ChangeStatus::Regressed => "Regressed",
            ChangeStatus::Cancelled => "Cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    fn refuse(self, action: &str) -> AppError {
        AppError::Conflict(format!("A change that is {} cannot {action}.", self.label().to_lowercase()))
    }

    /// Records the first milestone: only from draft.
    pub fn record_happy_path(self) -> Result<Self, AppError> {
        match self {
            ChangeStatus::Draft => Ok(ChangeStatus::HappyPathWorking),
            other => Err(other.refuse("record the happy path again")),
        }
    }

    /// Signs off failure cases: after the happy path, or again after a regression.
    pub fn sign_off(self) -> Result<Self, AppError> {
        match self {
            ChangeStatus::HappyPathWorking | ChangeStatus::Regressed => {
                Ok(ChangeStatus::FailureCasesComplete)
            }
            other => Err(other.refuse("be signed off")),
        }
    }

    /// A linked test failed after sign-off.
    pub fn regress(self) -> Result<Self, AppError> {
        match self {
            ChangeStatus::FailureCasesComplete => Ok(ChangeStatus::Regressed),
            other => Err(other.refuse("regress")),
        }
    }

    /// Abandons the change; signed-off and cancelled changes stay as they are.
    pub fn cancel(self) -> Result<Self, AppError> {
        match self {
            ChangeStatus::Draft | ChangeStatus::HappyPathWorking | ChangeStatus::Regressed => {
                Ok(ChangeStatus::Cancelled)
            }
            other => Err(other.refuse("be cancelled")),
        }
    }

    /// Whether the change is still being worked on (not signed off or cancelled).
    pub fn is_open(self) -> bool {
        matches!(self, ChangeStatus::Draft | ChangeStatus::HappyPathWorking | ChangeStatus::Regressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeStatus::*;

    #[test]
    fn keys_round_trip_and_refuse_garbage() {
        let key = ChangeKey::parse("pay-12").expect("valid");
        assert_eq!(key.to_string(), "PAY-12");
        for bad in ["PAY", "PAY-0", "PAY-x", "-3", "1A-2"] {
            assert!(ChangeKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_status_machine_allows_only_the_documented_moves() {
        assert_eq!(Draft.record_happy_path(), Ok(HappyPathWorking));
        assert!(HappyPathWorking.record_happy_path().is_err());
        assert!(Draft.sign_off().is_err(), "no sign-off before the happy path");
        assert_eq!(HappyPathWorking.sign_off(), Ok(FailureCasesComplete));
        assert_eq!(FailureCasesComplete.regress(), Ok(Regressed));
        assert!(HappyPathWorking.regress().is_err());
        assert_eq!(Regressed.sign_off(), Ok(FailureCasesComplete), "a regression needs a new sign-off");
        assert!(FailureCasesComplete.cancel().is_err());
        assert_eq!(Draft.cancel(), Ok(Cancelled));
        for status in ChangeStatus::ALL {
            assert!(Cancelled.record_happy_path().is_err() && Cancelled.sign_off().is_err());
            assert_eq!(ChangeStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn text_fields_name_their_limits() {
        let err = required_line("title", "Title", "  ", TITLE_MAX).expect_err("empty");
        assert_eq!(err.for_field("title").as_deref(), Some("Title is required."));
        let huge = "x".repeat(1_000_000);
        let err = optional_text("summary", "Summary", &huge, TEXT_MAX).expect_err("huge");
        assert!(err.for_field("summary").is_some_and(|m| m.contains("at most 20000")));
        assert!(optional_url("ticket_url", "javascript:alert(1)").is_err());
        assert_eq!(optional_url("ticket_url", " ").expect("empty is fine"), None);
    }

    #[test]
    fn change_details_check_every_field_and_name_it() {
        let fields = ChangeFields {
            title: "  Exam queue  ".into(),
            types: vec![ChangeType::Rollout, ChangeType::Queue, ChangeType::Rollout],
            rollback_plan: "Flip the flag off.".into(),
            ..ChangeFields::default()
        };
        let details = ChangeDetails::try_from(fields.clone()).expect("valid");
        assert_eq!(details.title, "Exam queue");
        assert_eq!(details.types, [ChangeType::Queue, ChangeType::Rollout], "sorted, no duplicates");
        assert_eq!(details.rollback_url, None);
        assert_eq!(ChangeDetails::try_from(ChangeFields::from(details.clone())), Ok(details));
        let refused = |f: ChangeFields, field: &str| {
            let err = ChangeDetails::try_from(f).expect_err("refused");
            assert!(err.for_field(field).is_some(), "{field}: {err:?}");
        };
        refused(ChangeFields { types: vec![], ..fields.clone() }, "types");
        refused(ChangeFields { title: "\n".into(), ..fields.clone() }, "title");
        refused(ChangeFields { rollback_url: "ftp://x".into(), ..fields.clone() }, "rollback_url");
        refused(ChangeFields { rollback_plan: "x".repeat(TEXT_MAX + 1), ..fields }, "rollback_plan");
    }

    #[test]
    fn every_detail_is_held_where_its_kind_says() {
        let mut details = ChangeDetails::default();
        for (detail, slot) in DETAILS.iter().zip(details.slots()) {
            let kind = match slot {
                Slot::Text(_) => DetailKind::Text,
                Slot::Link(_) => DetailKind::Link,
            };
            assert_eq!(kind, detail.kind, "{}", detail.name);
        }
        // Each detail reaches its own field: a distinct value for each comes back in order.
        let mut fields =
            ChangeFields { title: "T".into(), types: vec![ChangeType::Other], ..ChangeFields::default() };
        for ((detail, text), i) in DETAILS.iter().zip(fields.texts()).zip(1..) {
            *text = match detail.kind {
                DetailKind::Text => format!("text {i}"),
                DetailKind::Link => format!("https://example.com/{i}"),
            };
        }
        let details = ChangeDetails::try_from(fields.clone()).expect("valid");
        let values: Vec<String> = details.values().iter().map(|v| v.unwrap_or_default().to_owned()).collect();
        let mut expected = fields.clone();
        assert_eq!(values, expected.texts().map(|t| t.clone()));
        assert_eq!(ChangeFields::from(details), fields);
        let form: std::collections::BTreeMap<String, String> =
            [("title", "T"), ("type_other", "on"), ("rollback_plan", "text 5")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into();
        let posted = ChangeFields::from_form(&form);
        assert_eq!(
            (posted.types, posted.rollback_plan.as_str(), posted.summary.as_str()),
            (vec![ChangeType::Other], "text 5", "")
        );
    }

    #[test]
    fn change_types_round_trip_through_storage() {
        let types = [ChangeType::Queue, ChangeType::AiAgent];
        assert_eq!(ChangeType::split(&ChangeType::join(&types)), types);
    }
}
