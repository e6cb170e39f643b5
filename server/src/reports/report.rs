//! The review report of one change: what it gathers from a [`Review`] and its sign-offs, and
//! the two askama templates that render it (printable HTML, and Markdown for pull requests
//! and wikis).

use app::domain::change::ChangeDetails;
use app::domain::failure_mode::Design;
use app::domain::gate::{Acceptance, ChangeSummary, TestResult};
use app::domain::incident::{ChangeIncident, Verdict};
use app::domain::learning::Verdicts;
use app::domain::time::{Days, Timestamp};
use app::ssr::review::Review;
use app::ssr::store::sign_offs::SignOff;
use askama::Template;
use serde::Deserialize;

/// Everything the report shows, already worded; both templates render this.
pub struct Report {
    pub key: String,
    pub title: String,
    pub team: String,
    pub status: &'static str,
    pub types: String,
    pub summary: String,
    /// The change's links (its details of kind link), those written.
    pub links: Vec<Link>,
    /// The change's texts besides the summary, each a section, written or not.
    pub sections: Vec<Section>,
    pub author: String,
    pub created: String,
    pub happy_path: Option<HappyPath>,
    /// The failure-cases target date, with days left or overdue unless signed off.
    pub target: Option<String>,
    pub overdue: bool,
    pub signed_off: Option<String>,
    pub window: Days,
    pub freshness: Days,
    pub min_failure_modes: i64,
    pub gate_open: bool,
    pub blockers: Vec<String>,
    pub failure_modes: Vec<FailureModeReport>,
    pub sign_offs: Vec<SignOffReport>,
    /// The incidents after the change, newest first, and what they say of its premortem.
    pub incidents: Vec<IncidentReport>,
    pub learning: Option<String>,
    pub generated: String,
}

/// An incident after the change and the change's verdict on it.
pub struct IncidentReport {
    pub title: String,
    /// `SEV2 (major)`.
    pub severity: String,
    pub started: String,
    pub resolved: Option<String>,
    pub url: Option<String>,
    pub external_id: Option<String>,
    /// `Predicted by FM-2, design held`, `Missed (became FM-5)`, `Not classified yet`.
    pub verdict: String,
}

/// A labelled link.
pub struct Link {
    pub label: String,
    pub url: String,
}

/// A text of the change under its own heading (e.g. the rollback plan).
pub struct Section {
    pub name: &'static str,
    pub label: &'static str,
    pub text: String,
}

/// The happy-path milestone.
pub struct HappyPath {
    pub at: String,
    pub by: String,
    pub note: Option<String>,
}

/// One failure mode with its coverage and evidence.
pub struct FailureModeReport {
    /// `FM-3`.
    pub label: String,
    pub title: String,
    /// Each of the failure mode's texts (`failure_mode::TEXTS`): its label and what is written.
    pub texts: Vec<(&'static str, String)>,
    pub severity: u8,
    pub likelihood: u8,
    pub detectability: u8,
    pub priority: &'static str,
    pub rpn: u8,
    pub coverage: &'static str,
    pub reason: Option<String>,
    pub designs: Vec<DesignReport>,
    pub selectors: Vec<String>,
    pub evidence: Vec<EvidenceReport>,
    pub acceptance: Option<AcceptanceReport>,
}

/// A design: a note, or a titled link.
pub struct DesignReport {
    pub title: String,
    pub url: Option<String>,
}

/// The latest result of one matched test.
pub struct EvidenceReport {
    pub test_id: String,
    pub outcome: &'static str,
    pub at: String,
    pub age: String,
    pub commit: Option<String>,
    pub pipeline_url: Option<String>,
}

/// A risk acceptance.
pub struct AcceptanceReport {
    pub justification: String,
    pub by: String,
    pub expires: String,
    pub expired: bool,
}

/// A stored sign-off and what its snapshot recorded.
pub struct SignOffReport {
    pub by: String,
    pub at: String,
    pub content_hash: String,
    /// `None` when the snapshot cannot be read as a snapshot (it is still hashed and kept).
    pub failure_modes: Option<Vec<SnapshotLine>>,
}

/// One failure mode as a sign-off's snapshot recorded it.
pub struct SnapshotLine {
    pub label: String,
    pub title: String,
    pub priority: String,
    pub coverage: String,
    pub results: usize,
}

/// The part of a snapshot (see [`Review::snapshot`]) the report summarises.
#[derive(Deserialize)]
struct Snapshot {
    failure_modes: Vec<SnapshotFailureMode>,
}

#[derive(Deserialize)]
struct SnapshotFailureMode {
    number: i64,
    title: String,
    priority: String,
    coverage: String,
    #[serde(default)]
    evidence: Vec<serde_json::Value>,
}

/// Only web links become links; anything else is shown as text. Links are validated when
/// stored; this keeps a report from ever carrying a `javascript:` link regardless.
fn web_link(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://")).map(str::to_owned)
}

fn plural(n: i64, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

fn evidence(result: &TestResult, now: Timestamp) -> EvidenceReport {
    let age = result.at.days_until(now);
    EvidenceReport {
        test_id: result.test_id.clone(),
        outcome: result.outcome.as_str(),
        at: result.at.date_time(),
        age: if age <= 0 { "today".to_owned() } else { format!("{} ago", plural(age, "day")) },
        commit: result.commit.clone(),
        pipeline_url: web_link(result.pipeline_url.as_deref()),
    }
}

fn acceptance(acceptance: &Acceptance, now: Timestamp) -> AcceptanceReport {
    AcceptanceReport {
        justification: acceptance.justification.clone(),
        by: acceptance.accepted_by.clone(),
        expires: acceptance.expires_at.date(),
        expired: acceptance.expires_at <= now,
    }
}

fn design(design: &Design) -> DesignReport {
    DesignReport { title: design.title.clone(), url: web_link(design.url.as_deref()) }
}

fn sign_off(sign_off: SignOff) -> SignOffReport {
    let failure_modes = serde_json::from_str::<Snapshot>(&sign_off.snapshot).ok().map(|snapshot| {
        snapshot
            .failure_modes
            .into_iter()
            .map(|fm| SnapshotLine {
                label: app::domain::failure_mode::label(fm.number),
                title: fm.title,
                priority: fm.priority,
                coverage: fm.coverage,
                results: fm.evidence.len(),
            })
            .collect()
    });
    SignOffReport {
        by: sign_off.signed_by,
        at: sign_off.signed_at.date_time(),
        content_hash: sign_off.content_hash,
        failure_modes,
    }
}

/// A change's details as the report shows them: its links (those written), and a section
/// for each text besides the summary.
fn details(d: &ChangeDetails) -> (Vec<Link>, Vec<Section>) {
    let links = d
        .links()
        .filter_map(|(detail, url)| web_link(url).map(|url| Link { label: detail.label.to_owned(), url }))
        .collect();
    let sections = d
        .sections()
        .map(|(detail, text)| Section { name: detail.name, label: detail.label, text: text.to_owned() })
        .collect();
    (links, sections)
}

fn incident(incident: &ChangeIncident) -> IncidentReport {
    let fm = incident.failure_mode.map(app::domain::failure_mode::label);
    let verdict = match (incident.verdict, fm) {
        (None, _) => "Not classified yet".to_owned(),
        (Some(Verdict::Missed), Some(fm)) => format!("Missed (became {fm})"),
        (Some(Verdict::Missed), None) => "Missed".to_owned(),
        (Some(v), Some(fm)) => format!("{}: {fm}", v.label()),
        (Some(v), None) => v.label().to_owned(),
    };
    IncidentReport {
        title: incident.title.clone(),
        severity: format!("{} ({})", incident.severity.as_str(), incident.severity.meaning()),
        started: incident.started_at.date_time(),
        resolved: incident.resolved_at.map(Timestamp::date_time),
        url: web_link(incident.url.as_deref()),
        external_id: incident.external_id.clone(),
        verdict,
    }
}

/// What the change's incidents say of its premortem, in a sentence; none without incidents.
fn learning(incidents: &[ChangeIncident]) -> Option<String> {
    let mut v = Verdicts::default();
    for incident in incidents {
        v.add(incident.verdict, 1);
    }
    if v.total() == 0 {
        return None;
    }
    let mut said = match v.prediction_rate() {
        Some(rate) => format!(
            "A failure mode had predicted {} of {} classified ({rate}%)",
            v.predicted(),
            plural(v.classified(), "incident")
        ),
        None => "No incident is classified yet".to_owned(),
    };
    if let Some(rate) = v.hold_rate() {
        said += &format!("; its design held for {} of {} ({rate}%)", v.held, v.predicted());
    }
    if v.waiting > 0 {
        said += &format!("; {} waiting for a verdict", plural(v.waiting, "incident"));
    }
    Some(said + ".")
}

impl Report {
    /// Words the review, its sign-offs (newest first) and its incidents for the report.
    pub fn new(review: &Review, sign_offs: Vec<SignOff>, incidents: &[ChangeIncident]) -> Self {
        let c = ChangeSummary::from(review);
        let d = &c.details;
        let now = c.now;
        let (links, sections) = details(d);
        let target = c.target_at.map(|t| match c.signed_off_at {
            Some(_) => t.date(),
            None => {
                let left = now.days_left_until(t);
                if left >= 0 {
                    format!("{} ({} left)", t.date(), plural(left, "day"))
                } else {
                    format!("{} ({} overdue)", t.date(), plural(-left, "day"))
                }
            }
        });
        let failure_modes = c
            .failure_modes
            .iter()
            .map(|fm| {
                let matches = review.evidence.matches(fm.number, &fm.selectors);
                let ratings = fm.ratings;
                FailureModeReport {
                    label: fm.label(),
                    texts: fm.texts.iter().map(|(t, value)| (t.label, value.to_owned())).collect(),
                    severity: ratings.severity.get(),
                    likelihood: ratings.likelihood.get(),
                    detectability: ratings.detectability.get(),
                    priority: fm.priority.label(),
                    rpn: ratings.rpn(),
                    coverage: fm.coverage.as_str(),
                    designs: fm.designs.iter().map(design).collect(),
                    selectors: fm.selectors.iter().map(|s| s.as_str().to_owned()).collect(),
                    evidence: matches.all().into_iter().map(|r| evidence(r, now)).collect(),
                    acceptance: fm.acceptance.as_ref().map(|a| acceptance(a, now)),
                    title: fm.title.clone(),
                    reason: fm.reason.clone(),
                }
            })
            .collect();
        Self {
            key: c.key.to_string(),
            title: d.title.clone(),
            status: c.status.label(),
            types: d.types.iter().map(|t| t.label()).collect::<Vec<_>>().join(", "),
            summary: d.summary.clone(),
            links,
            sections,
            created: c.created_at.date(),
            happy_path: c.happy_path_at.map(|at| HappyPath {
                at: at.date_time(),
                by: c.happy_path_by.clone().unwrap_or_default(),
                note: c.happy_path_note.clone().filter(|n| !n.is_empty()),
            }),
            target,
            overdue: c.overdue,
            signed_off: c.signed_off_at.map(Timestamp::date_time),
            window: c.policy.window_days,
            freshness: c.policy.freshness_days,
            min_failure_modes: c.policy.min_failure_modes,
            gate_open: c.gate.is_open(),
            blockers: c.gate.blockers().iter().map(|b| b.reason.clone()).collect(),
            failure_modes,
            sign_offs: sign_offs.into_iter().map(sign_off).collect(),
            incidents: incidents.iter().map(incident).collect(),
            learning: learning(incidents),
            generated: now.date_time(),
            team: c.team_name,
            author: c.author,
        }
    }
}

/// The printable HTML document.
#[derive(Template)]
#[template(path = "report.html", escape = "html")]
pub struct ReportHtml<'a> {
    pub r: &'a Report,
}

/// The Markdown export. askama does not escape here: user text goes through the
/// [`filters`] below instead.
#[derive(Template)]
#[template(path = "report.md", escape = "none")]
pub struct ReportMd<'a> {
    pub r: &'a Report,
}

/// Markdown escaping for user text, so a title with `|` cannot break a table and text
/// cannot turn into markup (HTML, links, emphasis, headings) where it is pasted.
mod filters {
    use std::fmt::Display;

    /// Backslash-escapes the characters that start inline Markdown (and `|`, which ends a
    /// table cell). Backslash escapes of ASCII punctuation are valid CommonMark.
    fn escape_inline(line: &str, out: &mut String) {
        for ch in line.chars() {
            if matches!(ch, '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '!' | '&') {
                out.push('\\');
            }
            out.push(ch);
        }
    }

    /// One line of text: line breaks become spaces (for table cells, list items, headings).
    pub fn md(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        let text = value.to_string();
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            escape_inline(line, &mut out);
        }
        Ok(out)
    }

    /// Text of several lines: its line breaks are kept (as hard breaks) and a line that
    /// would start a heading, list, quote or rule is escaped.
    pub fn md_block(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        let text = value.to_string();
        let mut out = String::with_capacity(text.len());
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            let numbered = digits > 0 && matches!(line[digits..].chars().next(), Some('.' | ')'));
            if line.starts_with(['#', '-', '+', '=']) {
                out.push('\\');
            }
            if numbered {
                out.push_str(&line[..digits]);
                out.push('\\');
                escape_inline(&line[digits..], &mut out);
            } else {
                escape_inline(line, &mut out);
            }
            let next_blank = lines.get(i + 1).is_none_or(|l| l.is_empty());
            if i + 1 < lines.len() {
                // A backslash at the end of a line is a hard line break.
                out.push_str(if line.is_empty() || next_blank { "\n" } else { "\\\n" });
            }
        }
        Ok(out)
    }

    /// A code span that holds any text: the fence is one backtick longer than the longest
    /// run inside.
    pub fn code(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        let text = value.to_string().replace(['\r', '\n'], " ");
        let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest + 1);
        let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
        Ok(format!("{fence}{pad}{text}{pad}{fence}"))
    }

    /// A web address inside `<…>` (an autolink or a link destination): characters that could
    /// end it or be read as markup are percent-encoded, which keeps the address the same.
    pub fn md_url(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        let text = value.to_string();
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~:/?#@!$&'*+,;=%_".contains(&byte) {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        Ok(out)
    }

    /// Markdown (such as a code span) placed in a table cell: GitHub splits cells at `|`
    /// even inside code, unless it is escaped.
    pub fn cell(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(value.to_string().replace('|', "\\|"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        macro_rules! run {
            ($filter:ident, $text:expr) => {
                $filter($text, askama::NO_VALUES).expect("filters do not fail")
            };
        }

        #[test]
        fn inline_text_cannot_break_a_table_or_become_markup() {
            assert_eq!(run!(md, "Retry | drop"), "Retry \\| drop");
            assert_eq!(run!(md, "two\nlines\r\n"), "two lines");
            assert_eq!(run!(md, "<script>x</script>"), "\\<script\\>x\\</script\\>");
            assert_eq!(run!(md, "[a](javascript:x) *b*"), "\\[a\\](javascript:x) \\*b\\*");
            assert_eq!(run!(md, "C:\\dir"), "C:\\\\dir");
        }

        #[test]
        fn block_text_keeps_its_lines_but_not_block_markup() {
            assert_eq!(run!(md_block, "one\ntwo"), "one\\\ntwo");
            assert_eq!(run!(md_block, "one\n\ntwo"), "one\n\ntwo");
            assert_eq!(
                run!(md_block, "# not a heading\n- not a list"),
                "\\# not a heading\\\n\\- not a list"
            );
            assert_eq!(run!(md_block, "10. not numbered"), "10\\. not numbered");
            assert_eq!(run!(md_block, "10,000 exams"), "10,000 exams");
        }

        #[test]
        fn code_spans_hold_backticks_and_pipes() {
            assert_eq!(run!(code, "queue::backlog_*"), "`queue::backlog_*`");
            assert_eq!(run!(code, "a`b"), "``a`b``");
            assert_eq!(run!(code, "`x"), "`` `x ``");
            assert_eq!(run!(cell, run!(code, "a|b")), "`a\\|b`");
            assert_eq!(run!(md_url, "https://x.example/a_b?q=1|2><"), "https://x.example/a_b?q=1%7C2%3E%3C");
        }
    }
}
