//! Hostile input: every field a user (or CI) can write gets a payload that breaks out of text,
//! attributes, `<textarea>`, `<title>` and `<script>`; then every page that shows it is fetched
//! and must contain no markup the payload brought with it.
//!
//! Each field's payload starts with its own marker (`PMX-<field>`), so a finding names the
//! field. Each page must also show the markers it is expected to show, so the test cannot
//! pass because the data is missing. Findings are collected and reported together.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use app::domain::time::Timestamp;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const DNAME: &str = "PMX-dname";
const TNAME: &str = "PMX-tname";
const TITLE: &str = "PMX-title";
const SUMMARY: &str = "PMX-summary";
const TICKET: &str = "PMX-ticketurl";
const PR: &str = "PMX-prurl";
const DOC: &str = "PMX-docurl";
const HAPPY: &str = "PMX-happynote";
const CANCEL: &str = "PMX-cancelreason";
const FM1_TITLE: &str = "PMX-fm1title";
const FM1_SCENARIO: &str = "PMX-fm1scenario";
const FM1_EFFECT: &str = "PMX-fm1effect";
const FM1_DETECTION: &str = "PMX-fm1detection";
const FM1_DESIGN: &str = "PMX-fm1design";
const FM1_DESIGN_URL: &str = "PMX-fm1dsurl";
const FM1_NOTE: &str = "PMX-fm1dnote";
const FM1_SELECTOR: &str = "PMX-fm1selector";
const FM2_TITLE: &str = "PMX-fm2title";
const FM2_SCENARIO: &str = "PMX-fm2scenario";
const FM2_EFFECT: &str = "PMX-fm2effect";
const FM2_DETECTION: &str = "PMX-fm2detection";
const FM2_DESIGN: &str = "PMX-fm2design";
const FM2_DESIGN_URL: &str = "PMX-fm2dsurl";
const FM2_SELECTOR: &str = "PMX-fm2selector";
const JUSTIFICATION: &str = "PMX-justification";
const TPL_TITLE: &str = "PMX-tpltitle";
const TPL_SCENARIO: &str = "PMX-tplscenario";
const TPL_EFFECT: &str = "PMX-tpleffect";
const TPL_DETECTION: &str = "PMX-tpldetection";
const TPL_DESIGNS: &str = "PMX-tpldesigns";
const TPL_TESTS: &str = "PMX-tpltests";
const TOKEN: &str = "PMX-tokenname";
const INC_TITLE: &str = "PMX-inctitle";
const INC_URL: &str = "PMX-incurl";
const INC_EXTERNAL: &str = "PMX-incext";
const CSV_TITLE: &str = "PMX-csvtitle";
const CSV_SCENARIO: &str = "PMX-csvscenario";
const CSV_EFFECT: &str = "PMX-csveffect";
const CSV_DETECTION: &str = "PMX-csvdetection";
const CSV_DESIGNS: &str = "PMX-csvdesigns";
const CSV_TESTS: &str = "PMX-csvtests";
const CSV_COLUMN: &str = "PMX-csvcolumn";
/// Pages show only a commit's first 10 characters: the marker and the breakout fit in them.
const COMMIT: &str = "PMX-C1";
const BRANCH: &str = "PMX-branch";
const RUN_KEY: &str = "PMX-runkey";
const PIPELINE: &str = "PMX-pipeline";
const TEST_FAILING: &str = "PMX-tidfail";
const TEST_PASSING: &str = "PMX-tidpass";
const MESSAGE: &str = "PMX-failmessage";
const MESSAGE_TEXT: &str = "PMX-failtext";
const FX_EQ: &str = "PMX-fxeq";
const FX_PLUS: &str = "PMX-fxplus";
const FX_MINUS: &str = "PMX-fxminus";
const FX_AT: &str = "PMX-fxat";
const PATH: &str = "PMX-path";
const SEGMENT: &str = "PMX-seg";

/// Every marker and the field it stands for.
const FIELDS: &[(&str, &str)] = &[
    (DNAME, "user display name (admin/create_user)"),
    (TNAME, "team name (admin/create_team)"),
    (TITLE, "change title (create_change)"),
    (SUMMARY, "change summary (create_change)"),
    (TICKET, "change ticket_url (create_change)"),
    (PR, "change pr_url (create_change)"),
    (DOC, "change design_url (create_change)"),
    (HAPPY, "happy-path note (happy_path)"),
    (CANCEL, "cancel reason (cancel_change)"),
    (FM1_TITLE, "failure mode title (add_failure_mode)"),
    (FM1_SCENARIO, "failure mode scenario (add_failure_mode)"),
    (FM1_EFFECT, "failure mode effect (add_failure_mode)"),
    (FM1_DETECTION, "failure mode detection (add_failure_mode)"),
    (FM1_DESIGN, "failure mode design title (add_failure_mode)"),
    (FM1_DESIGN_URL, "failure mode design URL (add_failure_mode)"),
    (FM1_NOTE, "failure mode design note (add_failure_mode)"),
    (FM1_SELECTOR, "failure mode test selector (add_failure_mode)"),
    (FM2_TITLE, "failure mode title (update_failure_mode)"),
    (FM2_SCENARIO, "failure mode scenario (update_failure_mode)"),
    (FM2_EFFECT, "failure mode effect (update_failure_mode)"),
    (FM2_DETECTION, "failure mode detection (update_failure_mode)"),
    (FM2_DESIGN, "failure mode design title (update_failure_mode)"),
    (FM2_DESIGN_URL, "failure mode design URL (update_failure_mode)"),
    (FM2_SELECTOR, "failure mode test selector (update_failure_mode)"),
    (JUSTIFICATION, "risk acceptance justification (accept_risk)"),
    (TPL_TITLE, "team template title (save_template)"),
    (TPL_SCENARIO, "team template scenario (save_template)"),
    (TPL_EFFECT, "team template effect (save_template)"),
    (TPL_DETECTION, "team template detection (save_template)"),
    (TPL_DESIGNS, "team template designs (save_template)"),
    (TPL_TESTS, "team template tests (save_template)"),
    (TOKEN, "API token name (create_token)"),
    (INC_TITLE, "incident title (POST /api/v1/incidents)"),
    (INC_URL, "incident url (POST /api/v1/incidents)"),
    (INC_EXTERNAL, "incident external_id (POST /api/v1/incidents)"),
    (CSV_TITLE, "CSV import title"),
    (CSV_SCENARIO, "CSV import scenario"),
    (CSV_EFFECT, "CSV import effect"),
    (CSV_DETECTION, "CSV import detection"),
    (CSV_DESIGNS, "CSV import designs"),
    (CSV_TESTS, "CSV import tests"),
    (CSV_COLUMN, "CSV import header (unknown column)"),
    (COMMIT, "run commit (POST /api/v1/runs)"),
    (BRANCH, "run branch (POST /api/v1/runs)"),
    (RUN_KEY, "run run_key (POST /api/v1/runs)"),
    (PIPELINE, "run pipeline_url (POST /api/v1/runs)"),
    (TEST_FAILING, "JUnit test id, failing"),
    (TEST_PASSING, "JUnit test id, passing"),
    (MESSAGE, "JUnit failure message attribute"),
    (MESSAGE_TEXT, "JUnit failure text"),
    (FX_EQ, "change title starting with ="),
    (FX_PLUS, "change title starting with +"),
    (FX_MINUS, "change title starting with -"),
    (FX_AT, "change title starting with @"),
    (PATH, "path segment or query value (with /)"),
    (SEGMENT, "path segment or query value (without /)"),
];

/// Stored but shown on no page today (checked for escaping wherever they do appear).
const NOT_SHOWN: &[&str] = &[RUN_KEY, MESSAGE, MESSAGE_TEXT];

fn field(marker: &str) -> &'static str {
    FIELDS.iter().find(|(m, _)| *m == marker).map_or("unknown field", |(_, f)| f)
}

/// Breaks out of attributes, `<textarea>`, `<title>` and `<script>`, then injects three ways.
fn payload(marker: &str) -> String {
    format!(
        "{marker}&\"'><img src=x onerror=alert(1)></textarea></title><script>alert(2)</script><svg onload=alert(3)>"
    )
}

/// The same within 100 characters (display and team names, token names).
fn short(marker: &str) -> String {
    format!("{marker}&\"'><img src=x onerror=alert(1)></textarea></title><script>alert(2)</script>")
}

/// Without whitespace (test selectors).
fn compact(marker: &str) -> String {
    format!("{marker}&\"'></textarea></title><script>alert(2)</script><svg/onload=alert(3)>")
}

/// An http(s) address (the only kind links accept, without whitespace) that leaves its `href`.
fn url(marker: &str) -> String {
    format!("https://x.test/{marker}&\"'></textarea></title><script>alert(2)</script><svg/onload=alert(3)>")
}

/// Several lines, later ones starting Markdown block syntax and holding more markup.
fn multiline(marker: &str) -> String {
    format!("{}\n# {marker} two <b>bold</b>\n- {}", payload(marker), compact(marker))
}

/// Percent-encodes everything but unreserved characters, for a path segment or query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn csv_cell(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Literal bytes that only unescaped payload text produces: every escaper in use encodes `<`
/// (text and attributes alike), and `"'><` survives only where quotes and `>` were not
/// escaped. (`onerror=alert` itself is literal in correctly escaped text too, so event
/// handlers are judged by `event_handlers`, on tags a browser would actually parse.)
const NEEDLES: [&str; 6] = ["<img src=x", "<script>alert", "<svg onload", "<svg/onload", "<img/src", "\"'><"];

fn floor(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// 80 characters either side of `at..at + len`, on one line.
fn context(text: &str, at: usize, len: usize) -> String {
    let from = floor(text, at.saturating_sub(80));
    let to = ceil(text, at + len + 80);
    text[from..to].replace(['\n', '\r'], "⏎")
}

/// The marker of the payload a finding at `at` came from: the nearest one before it.
fn marker_before(text: &str, at: usize) -> String {
    let from = floor(text, at.saturating_sub(400));
    let at = floor(text, at);
    match text[from..at].rfind("PMX-") {
        Some(i) => {
            let start = from + i;
            let end = text[start + 4..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .map_or(text.len(), |n| start + 4 + n);
            text[start..end].to_owned()
        }
        None => "(no marker)".to_owned(),
    }
}

fn find_ascii_ci(text: &str, from: usize, needle: &str) -> Option<usize> {
    let hay = text.as_bytes().get(from..)?;
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle.as_bytes())).map(|p| from + p)
}

/// Start tags a browser would parse that carry an `on…` handler calling `alert`: a small
/// tokenizer that knows quoted attribute values, comments and the raw-text elements.
fn event_handlers(html: &str) -> Vec<(usize, usize, String)> {
    let b = html.as_bytes();
    let len = b.len();
    let mut found = Vec::new();
    let mut i = 0;
    while i < len {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            i = html[i + 4..].find("-->").map_or(len, |n| i + 4 + n + 3);
            continue;
        }
        let closing = b.get(i + 1) == Some(&b'/');
        let name_start = i + 1 + usize::from(closing);
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        let mut j = name_start;
        while j < len && !(b[j].is_ascii_whitespace() || b[j] == b'/' || b[j] == b'>') {
            j += 1;
        }
        let name = html[name_start..j].to_ascii_lowercase();
        loop {
            while j < len && (b[j].is_ascii_whitespace() || b[j] == b'/') {
                j += 1;
            }
            if j >= len || b[j] == b'>' {
                j = (j + 1).min(len);
                break;
            }
            let attr_start = j;
            while j < len && !(b[j].is_ascii_whitespace() || matches!(b[j], b'/' | b'>' | b'=')) {
                j += 1;
            }
            if j == attr_start {
                j += 1;
            }
            let attr = html[attr_start..j].to_ascii_lowercase();
            while j < len && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let mut value = "";
            if j < len && b[j] == b'=' {
                j += 1;
                while j < len && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < len && matches!(b[j], b'"' | b'\'') {
                    let quote = char::from(b[j]);
                    let from = j + 1;
                    let to = html[from..].find(quote).map_or(len, |n| from + n);
                    value = &html[from..to];
                    j = (to + 1).min(len);
                } else {
                    let from = j;
                    while j < len && !(b[j].is_ascii_whitespace() || b[j] == b'>') {
                        j += 1;
                    }
                    value = &html[from..j];
                }
            }
            if !closing && attr.starts_with("on") && value.contains("alert(") {
                found.push((i, j - i, format!("parsed tag <{name}> with handler {attr}={value}")));
            }
        }
        if !closing && matches!(name.as_str(), "script" | "style" | "textarea" | "title") {
            j = find_ascii_ci(html, j, &format!("</{name}")).unwrap_or(len);
        }
        i = j.max(i + 1);
    }
    found
}

/// Unescaped markup in an HTML or SVG document: (offset, length, what).
fn html_hazards(html: &str) -> Vec<(usize, usize, String)> {
    let mut found: Vec<(usize, usize, String)> = NEEDLES
        .iter()
        .flat_map(|needle| {
            html.match_indices(needle).map(move |(at, _)| (at, needle.len(), format!("raw `{needle}`")))
        })
        .collect();
    found.extend(event_handlers(html));
    found.sort();
    found
}

/// Markup in Markdown that a wiki or forge would render as HTML: a raw tag outside code
/// spans and backslash escapes, or an autolink to something other than http(s)/mailto.
fn markdown_hazards(md: &str) -> Vec<(usize, usize, String)> {
    let b = md.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if b.get(i + 1).is_some_and(u8::is_ascii_punctuation) => i += 2,
            b'`' => {
                let run = b[i..].iter().take_while(|&&c| c == b'`').count();
                let line_end = md[i..].find('\n').map_or(b.len(), |n| i + n);
                let mut j = i + run;
                let mut end = None;
                while j < line_end {
                    if b[j] == b'`' {
                        let r = b[j..line_end].iter().take_while(|&&c| c == b'`').count();
                        if r == run {
                            end = Some(j + r);
                            break;
                        }
                        j += r;
                    } else {
                        j += 1;
                    }
                }
                i = end.unwrap_or(i + run);
            }
            b'<' => {
                let rest = &md[i + 1..];
                let name_from = usize::from(rest.starts_with('/'));
                let name: String = rest[name_from..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                let next = rest[name_from + name.len()..].chars().next();
                let starts_with_letter = name.starts_with(|c: char| c.is_ascii_alphabetic());
                if starts_with_letter && next == Some(':') {
                    if !matches!(name.to_ascii_lowercase().as_str(), "http" | "https" | "mailto") {
                        found.push((i, name.len() + 2, format!("autolink with scheme {name}:")));
                    }
                } else if starts_with_letter && next.is_none_or(|c| c.is_whitespace() || c == '/' || c == '>')
                {
                    found.push((i, name.len() + 1, format!("raw HTML tag <{}{name}", &rest[..name_from])));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    found
}

/// Cells a spreadsheet would run as a formula.
fn csv_hazards(csv: &str) -> Vec<(usize, usize, String)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(csv.as_bytes());
    let mut found = Vec::new();
    for record in reader.records() {
        let record = record.expect("the portfolio CSV parses");
        let offset = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(0));
        for cell in &record {
            if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                let at = csv[offset..].find(cell).map_or(offset, |n| offset + n);
                found.push((at, cell.len(), format!("cell starts with {:?} (a formula)", &cell[..1])));
            }
        }
    }
    found
}

/// What the pages showed, and what was wrong with them.
#[derive(Default)]
struct Findings {
    failures: Vec<String>,
    log: Vec<String>,
    seen: BTreeSet<String>,
}

impl Findings {
    /// Checks one response: no unescaped markup, and every expected marker shown.
    async fn inspect(&mut self, place: String, response: reqwest::Response, expect: &[&str]) {
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.expect("body");
        let hazards = if status.is_redirection() {
            // Browsers follow the Location header and never render a redirect's body.
            Vec::new()
        } else if content_type.starts_with("text/html")
            || content_type.contains("svg")
            || content_type.contains("xml")
            || (content_type.is_empty() && !body.is_empty())
        {
            html_hazards(&body)
        } else if content_type.starts_with("text/markdown") {
            markdown_hazards(&body)
        } else if content_type.starts_with("text/csv") {
            csv_hazards(&body)
        } else {
            // JSON and text/plain (error texts) are not rendered as documents.
            Vec::new()
        };
        self.log.push(format!("{status} {content_type:<32} {} hazard(s) {place}", hazards.len()));
        for (marker, _) in FIELDS {
            if body.contains(marker) {
                self.seen.insert((*marker).to_owned());
            }
        }
        // One line per payload on the page, with every kind of hazard it caused.
        let mut by_marker: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
        for (at, len, what) in hazards {
            let marker = marker_before(&body, at);
            let entry = by_marker.entry(marker).or_insert_with(|| (Vec::new(), context(&body, at, len)));
            if !entry.0.contains(&what) {
                entry.0.push(what);
            }
        }
        for (marker, (what, snippet)) in by_marker {
            self.failures.push(format!(
                "{place}\n    field: {marker} ({})\n    found: {}\n    at: …{snippet}…",
                field(&marker),
                what.join("; ")
            ));
        }
        let readable = status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY;
        if !expect.is_empty() && !readable {
            self.failures
                .push(format!("{place}\n    answered {status}, so the fields it should show went unchecked"));
            return;
        }
        for marker in expect {
            if !body.contains(marker) {
                self.failures.push(format!(
                    "{place}\n    does not show {marker} ({}) at all, so its escaping there is untested",
                    field(marker)
                ));
            }
        }
    }

    async fn get(&mut self, app: &TestApp, who: &str, client: &reqwest::Client, path: &str, expect: &[&str]) {
        let response =
            client.get(app.url(path)).header(header::ACCEPT, "text/html").send().await.expect("request");
        self.inspect(format!("{who} GET {path}"), response, expect).await;
    }
}

/// Calls a server function and insists it accepted the hostile input, so that what fails
/// later is about escaping, not about setting up.
async fn call(app: &TestApp, client: &reqwest::Client, endpoint: &str, form: &[(&str, &str)]) -> Value {
    let response = app.call(client, endpoint, form).await;
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{endpoint} refused its input: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn logged_in(app: &TestApp, username: &str, password: &str) -> reqwest::Client {
    let client = app.client();
    assert_eq!(app.login(&client, username, password).await.status(), StatusCode::OK, "{username} logs in");
    client
}

async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client.post(app.url(path)).header(header::ACCEPT, "text/html").form(form).send().await.expect("post")
}

fn key_of(value: &Value) -> String {
    value.as_str().expect("a change key").to_owned()
}

/// The detectors find what they should and nothing else, so a clean run means clean pages.
fn detectors_work() {
    let raw = format!("<p>{}</p>", payload("PMX-x"));
    assert!(html_hazards(&raw).len() >= 5, "{:?}", html_hazards(&raw));
    let escaped = format!(
        "<p title=\"{0}\">{0}</p><textarea>{0}</textarea>",
        payload("PMX-x")
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    );
    assert_eq!(html_hazards(&escaped), vec![], "{escaped}");
    let handler =
        event_handlers("<p class=\"a\" title='<img src=x onerror=alert(1)>'><img src=y onerror=alert(1)>");
    assert_eq!(handler.len(), 1, "{handler:?}");
    assert_eq!(markdown_hazards("a \\<img src=x\\> `<img src=x>` <https://x.test/a> ``<b>`` c"), vec![]);
    assert_eq!(markdown_hazards("a <img src=x> </b> <javascript:alert(1)>").len(), 3);
    assert_eq!(csv_hazards("a,b\n'=1,x\n").len(), 0);
    assert_eq!(csv_hazards("a,b\n=1,@x\n").len(), 2);
}

async fn hostile_input_never_becomes_markup(backend: Backend) {
    detectors_work();
    for (i, (a, _)) in FIELDS.iter().enumerate() {
        for (j, (b, _)) in FIELDS.iter().enumerate() {
            assert!(i == j || !b.starts_with(a), "marker {a} is a prefix of {b}");
        }
    }
    let app = TestApp::spawn(backend).await;
    app.user("root", "root-password-1", true).await;
    app.user("lena", "lena-password-1", false).await;
    let admin = logged_in(&app, "root", "root-password-1").await;
    let anonymous = app.client();

    // People and the team, through the admin pages' server functions.
    let display_name = short(DNAME);
    let form = [
        ("username", "hauthor"),
        ("display_name", display_name.as_str()),
        ("password", "hauthor-password-1"),
    ];
    call(&app, &admin, "admin/create_user", &form).await;
    let team_name = short(TNAME);
    call(&app, &admin, "admin/create_team", &[("slug", "HOS"), ("name", &team_name)]).await;
    for (username, role) in [("hauthor", "member"), ("lena", "lead")] {
        call(&app, &admin, "set_member", &[("team", "HOS"), ("username", username), ("role", role)]).await;
    }
    let author = logged_in(&app, "hauthor", "hauthor-password-1").await;
    let lead = logged_in(&app, "lena", "lena-password-1").await;
    let policy = [
        ("team", "HOS"),
        ("window_days", "30"),
        ("freshness_days", "7"),
        ("min_failure_modes", "1"),
        ("warning_days", "7"),
        ("public_badges", "on"),
    ];
    call(&app, &lead, "set_policy", &policy).await;

    // A team template of type queue: suggested on the queue changes below.
    let (tpl_title, tpl_scenario, tpl_effect, tpl_detection, tpl_designs, tpl_tests) = (
        payload(TPL_TITLE),
        multiline(TPL_SCENARIO),
        multiline(TPL_EFFECT),
        multiline(TPL_DETECTION),
        multiline(TPL_DESIGNS),
        multiline(TPL_TESTS),
    );
    let template = [
        ("team", "HOS"),
        ("id", ""),
        ("change_type", "queue"),
        ("title", tpl_title.as_str()),
        ("scenario", &tpl_scenario),
        ("effect", &tpl_effect),
        ("detection", &tpl_detection),
        ("designs", &tpl_designs),
        ("tests", &tpl_tests),
        ("severity", "2"),
        ("likelihood", "2"),
        ("detectability", "2"),
    ];
    call(&app, &lead, "save_template", &template).await;
    let templates = call(&app, &lead, "templates", &[("slug", "HOS")]).await;
    let template_key = templates["templates"][0][0]["key"].as_str().expect("template key").to_owned();
    let template_id = template_key.trim_start_matches("team:").to_owned();

    // The change under review, with every text and link field hostile.
    let (title, summary, ticket, pr, doc) =
        (payload(TITLE), multiline(SUMMARY), url(TICKET), url(PR), url(DOC));
    let change = [
        ("team", "HOS"),
        ("title", title.as_str()),
        ("summary", &summary),
        ("ticket_url", &ticket),
        ("pr_url", &pr),
        ("design_url", &doc),
        ("type_queue", "on"),
    ];
    let key = key_of(&call(&app, &author, "create_change", &change).await);
    let note = multiline(HAPPY);
    call(&app, &author, "happy_path", &[("key", &key), ("note", &note)]).await;

    // FM-1, added hostile; it selects the hostile test ids uploaded below.
    let (fm1_title, fm1_scenario, fm1_effect, fm1_detection) =
        (payload(FM1_TITLE), multiline(FM1_SCENARIO), multiline(FM1_EFFECT), multiline(FM1_DETECTION));
    let fm1_designs = format!("{} {}\n{}", payload(FM1_DESIGN), url(FM1_DESIGN_URL), payload(FM1_NOTE));
    let fm1_selectors = format!("hostile::PMX-tid*\n{}", compact(FM1_SELECTOR));
    let fm1 = [
        ("key", key.as_str()),
        ("title", &fm1_title),
        ("scenario", &fm1_scenario),
        ("effect", &fm1_effect),
        ("detection", &fm1_detection),
        ("severity", "4"),
        ("likelihood", "3"),
        ("detectability", "2"),
        ("designs", &fm1_designs),
        ("selectors", &fm1_selectors),
    ];
    let fm1_number = call(&app, &author, "add_failure_mode", &fm1).await.as_i64().expect("FM number");

    // FM-2, added plain, then edited hostile; a lead accepts its (Low) risk.
    let plain = [
        ("key", key.as_str()),
        ("title", "Plain"),
        ("scenario", ""),
        ("effect", ""),
        ("detection", ""),
        ("severity", "2"),
        ("likelihood", "2"),
        ("detectability", "2"),
        ("designs", ""),
        ("selectors", ""),
    ];
    let fm2_number = call(&app, &author, "add_failure_mode", &plain).await.as_i64().expect("FM number");
    let fm2_number = fm2_number.to_string();
    let read = call(&app, &author, "failure_mode", &[("key", &key), ("number", &fm2_number)]).await;
    let version = read["version"].as_i64().expect("version").to_string();
    let (fm2_title, fm2_scenario, fm2_effect, fm2_detection) =
        (payload(FM2_TITLE), multiline(FM2_SCENARIO), multiline(FM2_EFFECT), multiline(FM2_DETECTION));
    let fm2_designs = format!("{} {}", payload(FM2_DESIGN), url(FM2_DESIGN_URL));
    let fm2_selectors = compact(FM2_SELECTOR);
    let fm2 = [
        ("key", key.as_str()),
        ("number", &fm2_number),
        ("version", &version),
        ("title", &fm2_title),
        ("scenario", &fm2_scenario),
        ("effect", &fm2_effect),
        ("detection", &fm2_detection),
        ("severity", "2"),
        ("likelihood", "2"),
        ("detectability", "2"),
        ("designs", &fm2_designs),
        ("selectors", &fm2_selectors),
    ];
    call(&app, &author, "update_failure_mode", &fm2).await;
    let (justification, expires) =
        (payload(JUSTIFICATION), (Timestamp::now() + app::domain::time::Days(30)).date());
    let accept = [
        ("key", key.as_str()),
        ("number", &fm2_number),
        ("justification", &justification),
        ("expires_on", &expires),
    ];
    call(&app, &lead, "accept_risk", &accept).await;

    // FM-3 from a CSV import; the preview pages are checked as they come.
    let mut findings = Findings::default();
    let csv_header = "title,scenario,effect,detection,severity,likelihood,detectability,designs,tests";
    let csv_row = [
        csv_cell(&payload(CSV_TITLE)),
        csv_cell(&multiline(CSV_SCENARIO)),
        csv_cell(&payload(CSV_EFFECT)),
        csv_cell(&payload(CSV_DETECTION)),
        "2".to_owned(),
        "3".to_owned(),
        "2".to_owned(),
        csv_cell(&payload(CSV_DESIGNS)),
        csv_cell(&compact(CSV_TESTS)),
    ]
    .join(",");
    let csv = format!("{csv_header}\n{csv_row}\n");
    let import = format!("/changes/{key}/import");
    let csv_fields = [CSV_TITLE, CSV_SCENARIO, CSV_EFFECT, CSV_DETECTION, CSV_DESIGNS, CSV_TESTS];
    let preview = post_form(&app, &author, &import, &[("text", &csv)]).await;
    assert_eq!(preview.status(), StatusCode::OK, "the hostile row is valid");
    findings.inspect(format!("author POST {import} (preview)"), preview, &csv_fields).await;
    let unknown = format!("title,{}\nx,y\n", csv_cell(&payload(CSV_COLUMN)));
    let refused = post_form(&app, &author, &import, &[("text", &unknown)]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "an unknown column is refused");
    findings.inspect(format!("author POST {import} (unknown column)"), refused, &[CSV_COLUMN]).await;
    let imported = post_form(&app, &author, &import, &[("text", &csv), ("confirm", "1")]).await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER, "the hostile row is imported");
    let fm3_number = "3";

    // A second change: a failure mode from the team template, then cancelled with a reason.
    let second = [
        ("team", "HOS"),
        ("title", "Second change"),
        ("summary", ""),
        ("ticket_url", ""),
        ("pr_url", ""),
        ("design_url", ""),
        ("type_queue", "on"),
    ];
    let second_key = key_of(&call(&app, &author, "create_change", &second).await);
    let suggestions = format!("/changes/{second_key}/suggestions");
    let added = post_form(&app, &author, &suggestions, &[("template", &template_key)]).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER, "the team template is added");
    let reason = multiline(CANCEL);
    call(&app, &author, "cancel_change", &[("key", &second_key), ("reason", &reason)]).await;

    // Titles a spreadsheet would run as formulas, for the portfolio CSV.
    for formula in [
        format!("=HYPERLINK(\"https://x.test/\",\"{FX_EQ}\")"),
        format!("+SUM(1) {FX_PLUS}"),
        format!("-SUM(1) {FX_MINUS}"),
        format!("@SUM(1) {FX_AT}"),
    ] {
        let form = [
            ("team", "HOS"),
            ("title", formula.as_str()),
            ("summary", ""),
            ("ticket_url", ""),
            ("pr_url", ""),
            ("design_url", ""),
            ("type_other", "on"),
        ];
        call(&app, &author, "create_change", &form).await;
    }

    // CI: a token with a hostile name, and a JUnit run with hostile metadata and test ids.
    let token_name = short(TOKEN);
    let token_form = [
        ("team", "HOS"),
        ("name", token_name.as_str()),
        ("scopes[]", "evidence:write"),
        ("scopes[]", "changes:read"),
        ("scopes[]", "changes:write"),
        ("scopes[]", "incidents:write"),
        ("expires_days", "30"),
    ];
    let token = call(&app, &lead, "create_token", &token_form).await.as_str().expect("token").to_owned();
    let commit =
        format!("{COMMIT}\"'><img src=x onerror=alert(1)></textarea></title><script>alert(2)</script>&");
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("commit", &commit)
        .append_pair("branch", &payload(BRANCH))
        .append_pair("run_key", &payload(RUN_KEY))
        .append_pair("pipeline_url", &url(PIPELINE))
        .append_pair("change", &key)
        .finish();
    let junit = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="hostile" tests="2" failures="1"><testcase classname="hostile" name="{failing}" time="0.01"><failure message="{message}">{text}</failure></testcase><testcase classname="hostile" name="{passing}" time="0.01"/></testsuite></testsuites>"#,
        failing = xml_escape(&payload(TEST_FAILING)),
        message = xml_escape(&payload(MESSAGE)),
        text = xml_escape(&multiline(MESSAGE_TEXT)),
        passing = xml_escape(&payload(TEST_PASSING)),
    );
    let upload = app
        .api(Method::POST, &format!("/runs?{query}"), &token)
        .header(header::CONTENT_TYPE, "application/xml")
        .body(junit)
        .send()
        .await
        .expect("upload");
    let status = upload.status();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the hostile run is stored: {}",
        upload.text().await.unwrap_or_default()
    );
    // An incident after the change, as an incident tool posts it; its page offers to classify
    // it, with the title in the new failure mode's fields.
    let incident = json!({
        "title": payload(INC_TITLE),
        "severity": "SEV2",
        "started_at": Timestamp::now().0 - 60_000,
        "url": url(INC_URL),
        "external_id": payload(INC_EXTERNAL),
        "changes": [key],
    });
    let recorded =
        app.api(Method::POST, "/incidents", &token).json(&incident).send().await.expect("incident");
    assert_eq!(recorded.status(), StatusCode::CREATED, "{}", recorded.text().await.unwrap_or_default());

    // What each page must show; `true` when only leads and admins see it.
    let fm = |n: &str| format!("/changes/{key}/fm/{n}");
    let report_fields: Vec<&str> = vec![
        TITLE,
        TNAME,
        DNAME,
        TICKET,
        PR,
        DOC,
        SUMMARY,
        HAPPY,
        FM1_TITLE,
        FM1_SCENARIO,
        FM1_EFFECT,
        FM1_DETECTION,
        FM1_DESIGN,
        FM1_DESIGN_URL,
        FM1_NOTE,
        FM1_SELECTOR,
        FM2_TITLE,
        FM2_SCENARIO,
        FM2_EFFECT,
        FM2_DETECTION,
        FM2_DESIGN,
        FM2_DESIGN_URL,
        FM2_SELECTOR,
        JUSTIFICATION,
        CSV_TITLE,
        CSV_SCENARIO,
        CSV_EFFECT,
        CSV_DETECTION,
        CSV_DESIGNS,
        CSV_TESTS,
        TEST_FAILING,
        TEST_PASSING,
        COMMIT,
        PIPELINE,
    ];
    let template_fields =
        vec![TNAME, TPL_TITLE, TPL_SCENARIO, TPL_EFFECT, TPL_DETECTION, TPL_DESIGNS, TPL_TESTS];
    let pages: Vec<(String, Vec<&str>, bool)> = vec![
        ("/".into(), vec![TITLE, TNAME, FX_EQ], false),
        ("/teams".into(), vec![TNAME], false),
        (
            "/teams/HOS".into(),
            vec![TNAME, DNAME, TITLE, FM1_TITLE, CSV_TITLE, BRANCH, COMMIT, PIPELINE],
            false,
        ),
        ("/teams/HOS/changes".into(), vec![TNAME, TITLE, FX_EQ, FX_PLUS, FX_MINUS, FX_AT], false),
        ("/teams/HOS/ci".into(), vec![BRANCH, COMMIT, PIPELINE], false),
        ("/teams/HOS/ci".into(), vec![TOKEN], true),
        ("/teams/HOS/templates".into(), vec![TNAME, TPL_TITLE, TPL_SCENARIO], false),
        (format!("/teams/HOS/templates?edit={template_id}"), template_fields, true),
        ("/teams/HOS/changes/new".into(), vec![], false),
        (
            format!("/changes/{key}"),
            vec![
                TNAME,
                TITLE,
                DNAME,
                SUMMARY,
                TICKET,
                PR,
                DOC,
                HAPPY,
                FM1_TITLE,
                FM2_TITLE,
                CSV_TITLE,
                TEST_FAILING,
                CSV_TESTS,
                TPL_TITLE,
                TPL_SCENARIO,
                INC_TITLE,
                INC_URL,
                INC_EXTERNAL,
            ],
            false,
        ),
        (
            fm(&fm1_number.to_string()),
            vec![
                TITLE,
                FM1_TITLE,
                FM1_SCENARIO,
                FM1_EFFECT,
                FM1_DETECTION,
                FM1_DESIGN,
                FM1_DESIGN_URL,
                FM1_NOTE,
                FM1_SELECTOR,
                TEST_FAILING,
                TEST_PASSING,
                COMMIT,
                PIPELINE,
            ],
            false,
        ),
        (
            fm(&fm2_number),
            vec![
                TITLE,
                FM2_TITLE,
                FM2_SCENARIO,
                FM2_EFFECT,
                FM2_DETECTION,
                FM2_DESIGN,
                FM2_DESIGN_URL,
                FM2_SELECTOR,
                JUSTIFICATION,
            ],
            false,
        ),
        (
            fm(fm3_number),
            vec![TITLE, CSV_TITLE, CSV_SCENARIO, CSV_EFFECT, CSV_DETECTION, CSV_DESIGNS, CSV_TESTS],
            false,
        ),
        (format!("/changes/{key}/report"), report_fields.clone(), false),
        (format!("/changes/{key}/report.md"), report_fields, false),
        (format!("/changes/{key}/import"), vec![TITLE], false),
        (format!("/changes/{second_key}"), vec![CANCEL, TPL_TITLE], false),
        (
            format!("/changes/{second_key}/fm/1"),
            vec![TPL_TITLE, TPL_SCENARIO, TPL_EFFECT, TPL_DETECTION, TPL_DESIGNS, TPL_TESTS],
            false,
        ),
        (format!("/changes/{second_key}/report"), vec![TPL_TITLE], false),
        (format!("/changes/{second_key}/report.md"), vec![TPL_TITLE], false),
        ("/portfolio.csv".into(), vec![TITLE, FX_EQ, FX_PLUS, FX_MINUS, FX_AT], false),
        (format!("/api/v1/changes/{key}/badge.svg"), vec![], false),
        // Search results: a change found by words of its title, a failure mode by its own.
        ("/search?q=PMX+title".into(), vec![TITLE], false),
        ("/search?q=PMX+fm2title".into(), vec![FM2_TITLE], false),
    ];
    let badge =
        anonymous.get(app.url(&format!("/api/v1/changes/{key}/badge.svg"))).send().await.expect("badge");
    assert_eq!(badge.status(), StatusCode::OK, "the team's badges are public");

    for (who, client) in [("lead", &lead), ("admin", &admin), ("author", &author)] {
        for (path, expect, leads_only) in &pages {
            let expect: &[&str] = if who == "author" && *leads_only { &[] } else { expect.as_slice() };
            findings.get(&app, who, client, path, expect).await;
        }
    }
    // The author sees their own name in the header of every app page.
    findings.get(&app, "author", &author, "/", &[DNAME]).await;
    findings.get(&app, "admin", &admin, "/admin/users", &[DNAME]).await;
    findings.get(&app, "admin", &admin, "/admin/teams", &[TNAME]).await;
    for (who, client) in [("lead", &lead), ("author", &author), ("anonymous", &anonymous)] {
        findings.get(&app, who, client, "/admin/users", &[]).await;
        findings.get(&app, who, client, "/admin/teams", &[]).await;
    }
    for (path, _, _) in &pages {
        findings.get(&app, "anonymous", &anonymous, path, &[]).await;
    }

    // Payloads in the address itself.
    for marker in [PATH, SEGMENT] {
        let hostile = if marker == PATH {
            payload(marker)
        } else {
            format!("{marker}&\"'><img src=x onerror=alert(1)><svg onload=alert(3)>")
        };
        let p = encode(&hostile);
        let paths = [
            format!("/changes/{p}"),
            format!("/changes/{p}/fm/1"),
            format!("/changes/{p}/report"),
            format!("/changes/{p}/report.md"),
            format!("/changes/{p}/import"),
            format!("/teams/{p}"),
            format!("/teams/{p}/ci"),
            format!("/teams/{p}/templates"),
            format!("/teams/{p}/changes"),
            format!("/teams/{p}/changes/new"),
            format!("/api/v1/changes/{p}/badge.svg"),
            format!("/?team={p}"),
            format!("/portfolio.csv?team={p}"),
            format!("/teams/HOS/changes?status={p}"),
        ];
        for path in &paths {
            for (who, client) in [("anonymous", &anonymous), ("lead", &lead), ("admin", &admin)] {
                findings.get(&app, who, client, path, &[]).await;
            }
        }
    }

    let Findings { failures, log, seen } = findings;
    println!("[{backend:?}] responses checked:\n{}", log.join("\n"));
    let never: Vec<&str> = FIELDS.iter().map(|(m, _)| *m).filter(|m| !seen.contains(*m)).collect();
    println!("[{backend:?}] markers shown on no page: {never:?} (expected: {NOT_SHOWN:?})");
    assert!(
        failures.is_empty(),
        "[{backend:?}] {} finding(s) of hostile input that was not escaped or not shown:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

both_backends!(hostile_input_never_becomes_markup);
