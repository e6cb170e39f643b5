//! Failure modes: ratings and the priority they give, designs and test selectors.

use super::AppError;
use super::text::TextRule;
use serde::{Deserialize, Serialize};

/// A failure mode's name within its change: `FM-3`.
pub fn label(number: i64) -> String {
    format!("FM-{number}")
}

/// A failure mode by its change's key and its number, written `PAY-12/FM-3`: how a test
/// result binds to one, and how the audit and search name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailureModeKey {
    pub change: super::change::ChangeKey,
    pub number: i64,
}

impl std::fmt::Display for FailureModeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.change, label(self.number))
    }
}

impl std::str::FromStr for FailureModeKey {
    type Err = ();

    /// `PAY-12/FM-3`, in any case, with spaces around either part and leading zeros.
    fn from_str(written: &str) -> Result<Self, ()> {
        let (key, number) = written.trim().split_once('/').ok_or(())?;
        let number = number.trim();
        let number = number.strip_prefix("FM-").or_else(|| number.strip_prefix("fm-")).ok_or(())?;
        let change = super::change::ChangeKey::parse(key).map_err(|_| ())?;
        Ok(Self { change, number: number.parse().map_err(|_| ())? })
    }
}

/// A rating from 1 to 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8")]
pub struct Rating(u8);

impl TryFrom<u8> for Rating {
    type Error = &'static str;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value).ok_or("a rating is a whole number from 1 to 5")
    }
}

impl Rating {
    pub fn new(value: u8) -> Option<Self> {
        (1..=5).contains(&value).then_some(Self(value))
    }

    pub fn parse(field: &str, label: &str, raw: &str) -> Result<Self, AppError> {
        Self::checked(field, label, raw.trim().parse::<u8>().unwrap_or(0))
    }

    /// `value` as a rating, or an error naming `field`.
    pub fn checked(field: &str, label: &str, value: u8) -> Result<Self, AppError> {
        Self::new(value)
            .ok_or_else(|| AppError::invalid(field, format!("{label} must be a whole number from 1 to 5.")))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Severity (how bad the effect is), likelihood (how likely it happens) and detectability
/// (how hard it is to notice: 1 = noticed at once, 5 = goes unnoticed), as in an FMEA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ratings {
    pub severity: Rating,
    pub likelihood: Rating,
    pub detectability: Rating,
}

/// How urgently a failure mode needs covering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

    /// Its weight in "coverage weighted by priority" (the portfolio's), and as stored.
    pub fn weight(self) -> i64 {
        match self {
            Priority::High => 3,
            Priority::Medium => 2,
            Priority::Low => 1,
        }
    }

    /// The priority a stored weight stands for.
    pub fn of_weight(weight: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.weight() == weight)
    }

    pub fn label(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
        }
    }
}

impl Ratings {
    /// The severity-led priority. Severity sets the band; likelihood and detectability can
    /// only raise it by one step, and only when both are high (4+) or, at severity 4, when
    /// either is:
    ///
    /// | severity | priority |
    /// |---|---|
    /// | 5 | High |
    /// | 4 | High if likelihood ≥ 3 or detectability ≥ 4, else Medium |
    /// | 3 | High if likelihood ≥ 4 and detectability ≥ 4, else Medium |
    /// | 1–2 | Medium if likelihood ≥ 4 and detectability ≥ 4, else Low |
    ///
    /// So a catastrophic failure is never Low however unlikely, and a trivial one is never
    /// High however likely — unlike ranking by S×L×D alone.
    pub fn priority(self) -> Priority {
        let (s, l, d) = (self.severity.0, self.likelihood.0, self.detectability.0);
        match s {
            5 => Priority::High,
            4 if l >= 3 || d >= 4 => Priority::High,
            4 => Priority::Medium,
            3 if l >= 4 && d >= 4 => Priority::High,
            3 => Priority::Medium,
            _ if l >= 4 && d >= 4 => Priority::Medium,
            _ => Priority::Low,
        }
    }

    /// The risk priority number S×L×D (1–125), shown for those used to FMEA.
    pub fn rpn(self) -> u8 {
        self.severity.0 * self.likelihood.0 * self.detectability.0
    }
}

/// A test selector: an exact test id, or a glob where `*` matches any run of characters
/// and `?` one character (e.g. `queue::backlog_*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct Selector(String);

deserialize_through_parse!(Selector);

impl Selector {
    /// The longest selector.
    pub const MAX: usize = 300;
    /// The most selectors one failure mode has.
    pub const MAX_PER_FAILURE_MODE: usize = 50;
    /// The fewest characters other than wildcards a selector has, so none selects every test.
    const LITERALS: usize = 3;

    /// A selector as written: 1 to [`Selector::MAX`] characters, none a space (a line of
    /// selectors is trimmed by [`Selector::lines`], a selector itself is not).
    pub fn parse(pattern: &str) -> Result<Self, AppError> {
        let invalid = |why: &str| {
            AppError::invalid(
                "selectors",
                format!("Test selector {:?} {why}.", super::error::bounded(pattern)),
            )
        };
        if pattern.is_empty() || pattern.chars().count() > Self::MAX {
            return Err(invalid(&format!("must be 1 to {} characters", Self::MAX)));
        }
        if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces"));
        }
        if !pattern.chars().all(Self::allows) {
            return Err(invalid("may use only * and ? as wildcards"));
        }
        if pattern.chars().filter(|&c| Self::literal(c)).count() < Self::LITERALS {
            return Err(invalid("needs at least 3 literal characters, so it cannot match every test"));
        }
        Ok(Self(pattern.to_owned()))
    }

    /// Whether a selector may hold `c` (brackets and braces are kept for wildcards to come).
    fn allows(c: char) -> bool {
        !c.is_whitespace() && !c.is_control() && !matches!(c, '[' | ']' | '{' | '}')
    }

    /// Whether `c`, in a selector, stands for itself.
    fn literal(c: char) -> bool {
        Self::allows(c) && !matches!(c, '*' | '?')
    }

    /// The selectors [`Selector::parse`] accepts, as a regular expression, but for their
    /// length ([`Selector::MAX`], a schema's `maxLength`).
    pub fn pattern() -> String {
        let (literal, any) = (super::text::class(Self::literal), super::text::class(Self::allows));
        format!(r"^(?:[*?]*{literal}){{{}}}{any}*$", Self::LITERALS)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `test_id` is selected. Linear-time glob matching (no backtracking blow-up),
    /// over byte offsets of whole characters: it runs for every selector and result of a
    /// change each time its page is read, so it allocates nothing.
    pub fn matches(&self, test_id: &str) -> bool {
        let (pattern, text) = (self.0.as_str(), test_id);
        let char_at = |s: &str, i: usize| s[i..].chars().next();
        let (mut p, mut t) = (0, 0);
        // The last `*` seen and where in the text it began to match.
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = char_at(text, t) {
            match char_at(pattern, p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(w) if w == '?' || w == c => {
                    p += w.len_utf8();
                    t += c.len_utf8();
                }
                _ => {
                    let Some((sp, st)) = star else { return false };
                    // The `*` takes one more character.
                    let st = st + char_at(text, st).map_or(1, char::len_utf8);
                    (p, t, star) = (sp + 1, st, Some((sp, st)));
                }
            }
        }
        pattern[p..].bytes().all(|b| b == b'*')
    }

    /// The literal text before the first wildcard: every selected id starts with it.
    pub fn literal_prefix(&self) -> &str {
        self.0.split(['*', '?']).next().unwrap_or_default()
    }

    /// The range `[from, to)` (bytewise, as UTF-8 orders code points) that holds every test
    /// id this selector selects: the ids that start with its literal prefix. `None` when
    /// it has no literal prefix (it may select any id).
    pub fn prefix_range(&self) -> Option<(String, String)> {
        let prefix = self.literal_prefix();
        let mut end: Vec<char> = prefix.chars().collect();
        // The least string above every one that starts with the prefix: its last character
        // raised by one (dropped when it is the last code point there is).
        while let Some(last) = end.pop() {
            let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
            if let Some(next) = next {
                end.push(next);
                return Some((prefix.to_owned(), end.into_iter().collect()));
            }
        }
        None
    }

    /// The items of `sorted` (sorted by `id`, bytewise) this selector selects, found by
    /// binary search on the literal prefix instead of a scan of every item.
    pub fn select_sorted<'a, T>(
        &'a self,
        sorted: &'a [T],
        id: impl Fn(&T) -> &str + Copy + 'a,
    ) -> impl Iterator<Item = &'a T> + 'a {
        let prefix = self.literal_prefix();
        let start = sorted.partition_point(|item| id(item) < prefix);
        sorted[start..]
            .iter()
            .take_while(move |item| id(item).starts_with(prefix))
            .filter(move |item| self.matches(id(item)))
    }

    /// The selectors of a form's field, one per line: trimmed, blank lines skipped.
    pub fn lines(raw: &str) -> Vec<String> {
        raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }

    /// Each selector as written, checked; duplicates are dropped. More than
    /// [`Selector::MAX_PER_FAILURE_MODE`] written are refused, duplicates or not, before
    /// any is read.
    pub fn parse_all<'a>(written: impl IntoIterator<Item = &'a str>) -> Result<Vec<Self>, AppError> {
        let written: Vec<&str> = written.into_iter().collect();
        if written.len() > Self::MAX_PER_FAILURE_MODE {
            let max = Self::MAX_PER_FAILURE_MODE;
            return Err(AppError::invalid(
                "selectors",
                format!("At most {max} test selectors per failure mode."),
            ));
        }
        let mut selectors: Vec<Self> = Vec::new();
        for pattern in written {
            let selector = Self::parse(pattern)?;
            if !selectors.contains(&selector) {
                selectors.push(selector);
            }
        }
        Ok(selectors)
    }
}

/// How the system handles a failure mode: a link to a design document, or a note.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Design {
    pub title: String,
    pub url: Option<String>,
}

impl Design {
    /// The longest title of a design.
    pub const TITLE_MAX: usize = 500;
    /// The most designs one failure mode has.
    pub const MAX_PER_FAILURE_MODE: usize = 20;

    /// A design's title and link (`""` for none), checked.
    pub fn parse(title: &str, url: &str) -> Result<Self, AppError> {
        let url = super::change::optional_url("designs", url)?;
        Ok(Self {
            title: super::change::required_line("designs", "A design's title", title, Self::TITLE_MAX)?,
            url,
        })
    }

    /// Each design as a title and a link (`""`: none), checked; more than
    /// [`Design::MAX_PER_FAILURE_MODE`] are refused.
    pub fn parse_all(written: &[(String, String)]) -> Result<Vec<Self>, AppError> {
        if written.len() > Self::MAX_PER_FAILURE_MODE {
            let max = Self::MAX_PER_FAILURE_MODE;
            return Err(AppError::invalid("designs", format!("At most {max} designs per failure mode.")));
        }
        written.iter().map(|(title, url)| Self::parse(title, url)).collect()
    }

    /// The designs of a form's field, one per line: `Title https://…`, a bare URL, or a short
    /// note, as a title and a link (`""`: none) each.
    pub fn lines(raw: &str) -> Vec<(String, String)> {
        let is_link = |s: &str| s.starts_with("http://") || s.starts_with("https://");
        raw.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| match line.rsplit_once(char::is_whitespace) {
                Some((title, url)) if is_link(url) => {
                    (title.trim().trim_end_matches(['-', '–', '—', ':']).trim().to_owned(), url.to_owned())
                }
                _ if is_link(line) => (line.to_owned(), line.to_owned()),
                _ => (line.to_owned(), String::new()),
            })
            .collect()
    }

    /// The line form [`Design::lines`] reads back.
    pub fn to_line(&self) -> String {
        match &self.url {
            Some(url) if *url == self.title => url.clone(),
            Some(url) => format!("{} {url}", self.title),
            None => self.title.clone(),
        }
    }
}

/// How one of a failure mode's texts is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// One line of up to [`TITLE_MAX`](super::change::TITLE_MAX) characters.
    Line,
    /// Free text of several lines, up to [`TEXT_MAX`](super::change::TEXT_MAX); a form gives
    /// it `rows` lines.
    Lines { rows: u8 },
}

/// One of a failure mode's texts besides its title. Its name is the same everywhere: the
/// form field, the column of `failure_modes`, the JSON key and the import column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FmText {
    pub name: &'static str,
    /// What it is called where it is shown (the failure mode's page, the report); an import
    /// header may use it too.
    pub label: &'static str,
    /// What the form asks.
    pub question: &'static str,
    pub kind: TextKind,
    /// An example, shown in an empty form field (`""`: none).
    pub hint: &'static str,
}

impl FmText {
    /// The rule `raw` is checked by: every text is optional.
    pub fn rule(&self) -> TextRule {
        use super::change::{TEXT_MAX, TITLE_MAX};
        match self.kind {
            TextKind::Line => TextRule::optional_line(TITLE_MAX),
            TextKind::Lines { .. } => TextRule::lines(TEXT_MAX),
        }
    }

    /// `raw` checked, trimmed, or an error naming this text.
    pub fn check(&self, raw: &str) -> Result<String, AppError> {
        super::change::checked(self.rule(), self.name, self.label, raw)
    }
}

const fn fm_text(
    name: &'static str,
    label: &'static str,
    question: &'static str,
    kind: TextKind,
    hint: &'static str,
) -> FmText {
    FmText { name, label, question, kind, hint }
}

/// A failure mode's texts besides its title, in the order forms and documents show them. A
/// new text is a row here and a column of `failure_modes` (a migration): the checks, the
/// store, the form and the server functions' arguments, the REST bodies and replies and
/// their OpenAPI schemas, the page, the report, the import columns and the audit follow
/// from this list.
pub const TEXTS: [FmText; 4] = [
    fm_text(
        "scenario",
        "Scenario",
        "Scenario: what happens, and how big",
        TextKind::Lines { rows: 3 },
        "e.g. 10,000 exams queue up after a network outage; workers scaled 25 → 50",
    ),
    fm_text("effect", "Effect on users", "Effect on users", TextKind::Lines { rows: 2 }, ""),
    fm_text("detection", "Detection", "Detection: how would we know?", TextKind::Lines { rows: 2 }, ""),
    fm_text(
        "owner",
        "Owner",
        "Owner: who answers for it",
        TextKind::Line,
        "e.g. Priya Raman, payments on-call",
    ),
];

/// The values of [`TEXTS`], in that order: as typed (in [`FailureModeFields`]) or checked
/// (in [`FailureModeInput`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Texts([String; TEXTS.len()]);

impl Texts {
    /// Each text as `value` gives it.
    pub fn from_fn(mut value: impl FnMut(&'static FmText) -> String) -> Self {
        Self(std::array::from_fn(|i| value(&TEXTS[i])))
    }

    /// The text named `name` (`""` for a name that is none of [`TEXTS`]).
    pub fn get(&self, name: &str) -> &str {
        TEXTS.iter().position(|t| t.name == name).map_or("", |i| &self.0[i])
    }

    /// The text named `name`, to be filled in; `None` for a name that is none of [`TEXTS`].
    pub fn get_mut(&mut self, name: &str) -> Option<&mut String> {
        TEXTS.iter().position(|t| t.name == name).map(|i| &mut self.0[i])
    }

    /// Each of [`TEXTS`] with its value.
    pub fn iter(&self) -> impl Iterator<Item = (&'static FmText, &str)> {
        TEXTS.iter().zip(self.0.iter().map(String::as_str))
    }

    /// Every text checked by its rule.
    pub fn checked(&self) -> Result<Self, AppError> {
        let mut checked = Self::default();
        for ((text, raw), slot) in TEXTS.iter().zip(&self.0).zip(&mut checked.0) {
            *slot = text.check(raw)?;
        }
        Ok(checked)
    }
}

/// A failure mode to add or to store in place of one, checked: built only from
/// [`FailureModeFields`], whatever the edge (a form, an import, a template, the API's
/// JSON), so one set of rules, caps and messages applies to all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureModeInput {
    pub title: String,
    pub texts: Texts,
    pub ratings: Ratings,
    pub designs: Vec<Design>,
    pub selectors: Vec<Selector>,
}

/// A failure mode as it was given, not yet checked: ratings as typed, each design as a
/// title and a link (`""`: none) and each test selector as written.
#[derive(Clone, Debug, Default)]
pub struct FailureModeFields {
    pub title: String,
    pub texts: Texts,
    pub severity: String,
    pub likelihood: String,
    pub detectability: String,
    pub designs: Vec<(String, String)>,
    pub selectors: Vec<String>,
}

impl FailureModeFields {
    /// Each field as `field` gives it by its name here (a text by its name in [`TEXTS`]),
    /// with designs and selectors one per line.
    pub fn named(field: impl Fn(&str) -> String) -> Self {
        Self {
            title: field("title"),
            texts: Texts::from_fn(|text| field(text.name)),
            severity: field("severity"),
            likelihood: field("likelihood"),
            detectability: field("detectability"),
            designs: Design::lines(&field("designs")),
            selectors: Selector::lines(&field("selectors")),
        }
    }

    /// The fields of a plain HTML form, each named as in [`FailureModeFields::named`];
    /// fields left out are empty.
    pub fn from_form(form: &std::collections::BTreeMap<String, String>) -> Self {
        Self::named(|name| form.get(name).cloned().unwrap_or_default())
    }
}

impl From<&FailureModeInput> for FailureModeFields {
    fn from(input: &FailureModeInput) -> Self {
        let r = input.ratings;
        Self {
            title: input.title.clone(),
            texts: input.texts.clone(),
            severity: r.severity.get().to_string(),
            likelihood: r.likelihood.get().to_string(),
            detectability: r.detectability.get().to_string(),
            designs: input
                .designs
                .iter()
                .map(|d| (d.title.clone(), d.url.clone().unwrap_or_default()))
                .collect(),
            selectors: input.selectors.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }
}

impl Ratings {
    /// Severity, likelihood and detectability as typed in a form, each checked (1 to 5).
    pub fn parse(severity: &str, likelihood: &str, detectability: &str) -> Result<Self, AppError> {
        Ok(Self {
            severity: Rating::parse("severity", "Severity", severity)?,
            likelihood: Rating::parse("likelihood", "Likelihood", likelihood)?,
            detectability: Rating::parse("detectability", "Detectability", detectability)?,
        })
    }

    /// Severity, likelihood and detectability from numbers, each checked (1 to 5).
    pub fn checked(severity: u8, likelihood: u8, detectability: u8) -> Result<Self, AppError> {
        Ok(Self {
            severity: Rating::checked("severity", "Severity", severity)?,
            likelihood: Rating::checked("likelihood", "Likelihood", likelihood)?,
            detectability: Rating::checked("detectability", "Detectability", detectability)?,
        })
    }
}

/// A failure mode's title: one line of 1 to [`TITLE_MAX`](super::change::TITLE_MAX).
pub fn checked_title(raw: &str) -> Result<String, AppError> {
    super::change::required_line("title", "Title", raw, super::change::TITLE_MAX)
}

impl TryFrom<FailureModeFields> for FailureModeInput {
    type Error = AppError;

    fn try_from(f: FailureModeFields) -> Result<Self, AppError> {
        Ok(Self {
            title: checked_title(&f.title)?,
            texts: f.texts.checked()?,
            ratings: Ratings::parse(&f.severity, &f.likelihood, &f.detectability)?,
            designs: Design::parse_all(&f.designs)?,
            selectors: Selector::parse_all(f.selectors.iter().map(String::as_str))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_prefix_range_holds_what_its_selector_selects() {
        let range = |raw: &str| Selector::parse(raw).expect("selector").prefix_range();
        assert_eq!(range("queue::backlog_*"), Some(("queue::backlog_".into(), "queue::backlog`".into())));
        assert_eq!(range("*::backlog"), None);
        assert_eq!(range("ab\u{10FFFF}c?x"), Some(("ab\u{10FFFF}c".into(), "ab\u{10FFFF}d".into())));
        assert_eq!(range("ab\u{10FFFF}*"), Some(("ab\u{10FFFF}".into(), "ac".into())));
    }

    proptest! {
        #[test]
        fn every_selected_id_lies_in_the_prefix_range(
            prefix in "[a-z:\u{80}-\u{10FFFF}]{3,6}",
            rest in "[a-z:\u{10FFFF}]{0,6}",
        ) {
            let selector = Selector::parse(&format!("{prefix}*"));
            // (Spaces and control characters inside, which the generator may draw, are
            // refused; at either end they are trimmed, so the id is built on what was kept.)
            prop_assume!(selector.is_ok());
            let selector = selector.expect("selector");
            let id = format!("{}{rest}", selector.literal_prefix());
            let (from, to) = selector.prefix_range().expect("a literal prefix");
            prop_assert!(selector.matches(&id));
            prop_assert!(from.as_str() <= id.as_str() && id.as_str() < to.as_str(), "{id:?} in [{from:?}, {to:?})");
        }
    }

    /// The glob's meaning, written as plainly as possible: `*` any run of characters, `?`
    /// one, anything else itself.
    fn glob(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
            Some((w, rest)) => {
                text.split_first().is_some_and(|(c, more)| (*w == '?' || w == c) && glob(rest, more))
            }
        }
    }

    fn field(err: AppError) -> Option<String> {
        match err {
            AppError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    fn form(pairs: &[(&str, &str)]) -> FailureModeFields {
        FailureModeFields::from_form(&pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn a_failure_mode_reads_the_same_from_a_form_and_from_its_own_fields() {
        let fields = form(&[
            ("title", "  Backlog after an outage "),
            ("scenario", "10,000 exams queued"),
            ("owner", " Priya, payments on-call "),
            ("severity", "4"),
            ("likelihood", " 3"),
            ("detectability", "2"),
            ("designs", "Drain-rate alert https://wiki.example/adr/12\n\nRetry with jitter"),
            ("selectors", " exams::queue::*\nexams::queue::*"),
        ]);
        let input = FailureModeInput::try_from(fields.clone()).expect("valid");
        assert_eq!(input.title, "Backlog after an outage");
        assert_eq!(input.texts.get("owner"), "Priya, payments on-call");
        assert_eq!(input.texts.get("scenario"), "10,000 exams queued");
        assert_eq!(input.designs.len(), 2);
        assert_eq!(input.selectors.len(), 1, "a selector written twice is kept once");
        let again = FailureModeInput::try_from(FailureModeFields::from(&input)).expect("valid");
        assert_eq!(again, input, "a stored failure mode reads back as it was");

        let refused = |f: FailureModeFields| field(FailureModeInput::try_from(f).expect_err("refused"));
        assert_eq!(
            refused(FailureModeFields { title: " ".into(), ..fields.clone() }).as_deref(),
            Some("title")
        );
        assert_eq!(
            refused(FailureModeFields { likelihood: "6".into(), ..fields.clone() }).as_deref(),
            Some("likelihood")
        );
        let mut two_lines = fields.clone();
        *two_lines.texts.get_mut("owner").expect("a text") = "Priya\nSam".into();
        assert_eq!(refused(two_lines).as_deref(), Some("owner"), "an owner is one line");
        let designs = vec![("A design".to_owned(), String::new()); Design::MAX_PER_FAILURE_MODE + 1];
        assert_eq!(refused(FailureModeFields { designs, ..fields.clone() }).as_deref(), Some("designs"));
        assert_eq!(
            field(Ratings::checked(3, 3, 0).expect_err("refused")).as_deref(),
            Some("detectability"),
            "typed ratings are refused with the same field names"
        );
    }

    #[test]
    fn a_failure_mode_key_reads_back_as_written() {
        let key: FailureModeKey = " pay-12 / fm-003 ".parse().expect("a key");
        assert_eq!(key.to_string(), "PAY-12/FM-3");
        assert_eq!(key.to_string().parse(), Ok(key));
        for bad in ["PAY-12", "PAY-12/3", "PAY/FM-3", "PAY-12/FM-x", ""] {
            assert!(bad.parse::<FailureModeKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_text_has_its_own_name_and_slot() {
        let mut names: Vec<&str> = TEXTS.iter().map(|t| t.name).collect();
        names.extend(["title", "severity", "likelihood", "detectability", "designs", "selectors", "tests"]);
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a text is named like another field");
        let texts = Texts::from_fn(|t| t.name.to_owned());
        for text in TEXTS {
            assert_eq!(texts.get(text.name), text.name);
        }
    }

    fn ratings(s: u8, l: u8, d: u8) -> Ratings {
        let r = |v| Rating::new(v).expect("1..=5");
        Ratings { severity: r(s), likelihood: r(l), detectability: r(d) }
    }

    #[test]
    fn ratings_outside_one_to_five_are_refused() {
        assert!(Rating::parse("severity", "Severity", "7").is_err());
        assert!(Rating::parse("severity", "Severity", "0").is_err());
        assert!(Rating::parse("severity", "Severity", "two").is_err());
        assert_eq!(Rating::parse("severity", "Severity", " 3 ").map(Rating::get), Ok(3));
    }

    #[test]
    fn priority_follows_the_documented_table() {
        assert_eq!(ratings(5, 1, 1).priority(), Priority::High);
        assert_eq!(ratings(4, 3, 1).priority(), Priority::High);
        assert_eq!(ratings(4, 1, 4).priority(), Priority::High);
        assert_eq!(ratings(4, 2, 3).priority(), Priority::Medium);
        assert_eq!(ratings(3, 4, 4).priority(), Priority::High);
        assert_eq!(ratings(3, 5, 3).priority(), Priority::Medium);
        assert_eq!(ratings(2, 5, 5).priority(), Priority::Medium);
        assert_eq!(ratings(1, 3, 5).priority(), Priority::Low);
        assert_eq!(ratings(5, 5, 5).rpn(), 125);
    }

    #[test]
    fn selectors_match_exactly_or_by_glob() {
        let exact = Selector::parse("queue::backlog_drains").expect("valid");
        assert!(exact.matches("queue::backlog_drains"));
        assert!(!exact.matches("queue::backlog_drains_fast"));
        let glob = Selector::parse("queue::backlog_*").expect("valid");
        assert!(glob.matches("queue::backlog_drains") && glob.matches("queue::backlog_"));
        assert!(!glob.matches("queue::other"));
        let mid = Selector::parse("tests/*::test_?_retry").expect("valid");
        assert!(mid.matches("tests/test_q.py::test_1_retry"));
        assert!(!mid.matches("tests/test_q.py::test_10_retry"));
        // A literal '*' in a test id is still matched by a wildcard.
        assert!(Selector::parse("calc::mul_*").expect("valid").matches("calc::mul_2*3"));
    }

    #[test]
    fn bad_globs_are_refused_with_a_reason() {
        for bad in ["*", "**?", "a b", " abc", "queue::[ab]", "", &"x".repeat(301)] {
            let err = Selector::parse(bad).expect_err(bad);
            assert!(err.for_field("selectors").is_some(), "{bad}");
        }
    }

    #[test]
    fn designs_read_titles_links_and_notes() {
        let parse = |raw: &str| Design::parse_all(&Design::lines(raw));
        let designs =
            parse("Backpressure ADR https://wiki.example/adr-7\nhttps://example.com/d\n\nRetry with jitter")
                .expect("valid");
        assert_eq!(
            designs[0],
            Design { title: "Backpressure ADR".into(), url: Some("https://wiki.example/adr-7".into()) }
        );
        assert_eq!(designs[1].url.as_deref(), Some("https://example.com/d"));
        assert_eq!(designs[2], Design { title: "Retry with jitter".into(), url: None });
        for design in &designs {
            assert_eq!(parse(&design.to_line()).expect("round trip"), vec![design.clone()]);
        }
    }

    proptest! {
        #[test]
        fn priority_never_falls_when_a_rating_rises(s in 1u8..=5, l in 1u8..=5, d in 1u8..=5, bump in 0usize..3) {
            let before = ratings(s, l, d);
            let mut raised = [s, l, d];
            raised[bump] = (raised[bump] + 1).min(5);
            let after = ratings(raised[0], raised[1], raised[2]);
            prop_assert!(after.priority() >= before.priority());
        }

        #[test]
        fn severity_leads(l in 1u8..=5, d in 1u8..=5) {
            prop_assert_eq!(ratings(5, l, d).priority(), Priority::High);
            prop_assert!(ratings(2, l, d).priority() < Priority::High);
            prop_assert!(ratings(4, l, d).priority() > Priority::Low);
        }

        #[test]
        fn selecting_from_a_sorted_list_finds_what_a_scan_finds(
            pattern in "[ab:]{1,4}[*?]?[ab]{0,3}[*]?[ab:]{1,3}",
            ids in proptest::collection::vec("[ab:]{0,10}", 0..40),
        ) {
            prop_assume!(pattern.chars().filter(|c| !matches!(c, '*' | '?')).count() >= 3);
            let selector = Selector::parse(&pattern).expect("valid");
            let mut sorted = ids.clone();
            sorted.sort();
            let found: Vec<&String> = selector.select_sorted(&sorted, |s| s.as_str()).collect();
            let scanned: Vec<&String> = sorted.iter().filter(|s| selector.matches(s)).collect();
            prop_assert_eq!(found, scanned);
        }

        #[test]
        fn matching_agrees_with_a_match_over_characters(
            pattern in "[aé:]{0,3}[*?]?[aé]{0,3}[*?]?[aé:*]{0,3}",
            id in "[aé:]{0,10}",
        ) {
            prop_assume!(pattern.chars().filter(|c| !matches!(c, '*' | '?')).count() >= 3);
            let selector = Selector::parse(&pattern).expect("valid");
            prop_assert_eq!(selector.matches(&id), glob(&pattern.chars().collect::<Vec<_>>(), &id.chars().collect::<Vec<_>>()));
        }

        #[test]
        fn the_selector_pattern_allows_what_parse_accepts(raw in r"[ab:é*?\[ \t\u{85}\x01]{0,7}") {
            static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
            let pattern = PATTERN.get_or_init(|| regex::Regex::new(&Selector::pattern()).expect("pattern"));
            prop_assert_eq!(pattern.is_match(&raw), Selector::parse(&raw).is_ok(), "{:?}", raw);
        }

        #[test]
        fn a_literal_selector_matches_only_itself(id in "[a-z:_]{3,20}", other in "[a-z:_]{3,20}") {
            let selector = Selector::parse(&id).expect("literal ids are valid");
            prop_assert!(selector.matches(&id));
            prop_assert_eq!(selector.matches(&other), id == other);
        }

        #[test]
        fn a_prefix_glob_matches_every_extension(prefix in "[a-z:_]{3,12}", rest in "[a-z0-9:_]{0,12}") {
            let selector = Selector::parse(&format!("{prefix}*")).expect("valid");
            let id = format!("{prefix}{rest}");
            prop_assert!(selector.matches(&id));
        }
    }
}
