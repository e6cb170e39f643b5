//! A streaming JUnit XML reader (quick-xml): `<testsuites>` or bare `<testsuite>` roots,
//! nested suites, properties, skipped/error/failure, flaky and rerun elements, missing
//! `time` or `classname`. No DTDs and no entities beyond XML's five predefined ones, so
//! entity-expansion and external-entity attacks have nothing to work with.

use app::domain::gate::Outcome;
use app::ssr::ingest::Submitted;
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use std::io::{self, BufRead, Read};

/// Why a report was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JunitError {
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Malformed { line: usize, column: usize, message: String },
    #[error("the report has more than {0} test cases")]
    TooManyCases(usize),
}

/// Bounds on what one report may contain.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_cases: usize,
    pub max_depth: usize,
}

const PROPERTY: &str = "premortem.failure_mode";

/// A buffered reader that knows the line and column of what it has handed on, so that a
/// report refused halfway through a stream can say where.
struct Counted<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    line: usize,
    column: usize,
}

impl<R: Read> Counted<R> {
    fn new(inner: R) -> Self {
        Self { inner, buf: vec![0; 64 * 1024].into_boxed_slice(), start: 0, end: 0, line: 1, column: 1 }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.end = self.inner.read(&mut self.buf)?;
            self.start = 0;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        let consumed = &self.buf[self.start..(self.start + n).min(self.end)];
        match consumed.iter().rposition(|b| *b == b'\n') {
            Some(last) => {
                self.line += consumed.iter().filter(|b| **b == b'\n').count();
                self.column = consumed.len() - last;
            }
            None => self.column += consumed.len(),
        }
        self.start += consumed.len();
    }
}

struct Partial {
    test_id: String,
    duration_ms: Option<i64>,
    outcome: Outcome,
    message: Option<String>,
    text: String,
    in_message_element: bool,
    failure_mode: Option<String>,
}

impl Partial {
    /// The case a `<testcase>` opens: its id from `classname` and `name`, its duration from
    /// `time` (seconds); passed until an outcome element says otherwise.
    fn open(e: &BytesStart<'_>) -> Result<Self, String> {
        let name = attribute(e, "name")?.unwrap_or_default();
        if name.is_empty() {
            return Err("a <testcase> has no name".into());
        }
        let classname = attribute(e, "classname")?.unwrap_or_default();
        let test_id = if classname.is_empty() || name.starts_with(&classname) {
            name
        } else {
            format!("{classname}::{name}")
        };
        let duration_ms = attribute(e, "time")?
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| (t * 1000.0).round() as i64);
        Ok(Self {
            test_id,
            duration_ms,
            outcome: Outcome::Passed,
            message: None,
            text: String::new(),
            in_message_element: false,
            failure_mode: None,
        })
    }

    /// A `<failure>`, `<error>` or `<skipped>` inside the case. A failure outranks a skip,
    /// whatever their order.
    fn mark(&mut self, outcome: Outcome, e: &BytesStart<'_>, empty: bool) -> Result<(), String> {
        if self.outcome == Outcome::Passed || outcome != Outcome::Skipped {
            self.outcome = outcome;
        }
        if self.message.is_none() {
            self.message = attribute(e, "message")?.filter(|m| !m.is_empty());
        }
        self.in_message_element = !empty;
        Ok(())
    }
}

/// Why reading stopped, before the reader's position is known.
enum Stop {
    Malformed(String),
    Refused(JunitError),
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Self::Malformed(message)
    }
}

/// What has been read so far.
struct Cases {
    limits: Limits,
    cases: Vec<Submitted>,
    depth: usize,
    seen_root: bool,
    current: Option<Partial>,
}

impl Cases {
    fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), Stop> {
        if !empty {
            self.depth += 1;
            if self.depth > self.limits.max_depth {
                return Err(format!("elements nested deeper than {} levels", self.limits.max_depth).into());
            }
        }
        let name = e.local_name();
        let name = name.as_ref();
        if !self.seen_root {
            if name != "testsuites" && name != "testsuite" {
                return Err(String::from("the root element must be <testsuites> or <testsuite>").into());
            }
            self.seen_root = true;
        }
        match (name, self.current.as_mut()) {
            ("testcase", None) => {
                let case = Partial::open(e)?;
                if empty {
                    self.push(case)?;
                } else {
                    self.current = Some(case);
                }
            }
            ("failure", Some(case)) => case.mark(Outcome::Failed, e, empty)?,
            ("error", Some(case)) => case.mark(Outcome::Error, e, empty)?,
            ("skipped", Some(case)) => case.mark(Outcome::Skipped, e, empty)?,
            // Flaky and rerun elements record earlier attempts: the case counts with its
            // final outcome.
            ("property", Some(case)) if attribute(e, "name")?.as_deref() == Some(PROPERTY) => {
                case.failure_mode = attribute(e, "value")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str) -> Result<(), Stop> {
        self.depth = self.depth.saturating_sub(1);
        match name {
            "testcase" => {
                if let Some(case) = self.current.take() {
                    self.push(case)?;
                }
            }
            "failure" | "error" | "skipped" => {
                if let Some(case) = self.current.as_mut() {
                    case.in_message_element = false;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some(case) = self.current.as_mut().filter(|c| c.in_message_element) {
            // Only the start of a failure's text is kept; the caller truncates further.
            if case.text.len() < 8192 {
                case.text.push_str(text);
            }
        }
    }

    fn push(&mut self, case: Partial) -> Result<(), Stop> {
        if self.cases.len() >= self.limits.max_cases {
            return Err(Stop::Refused(JunitError::TooManyCases(self.limits.max_cases)));
        }
        let message = case.message.or_else(|| {
            let text = case.text.trim();
            (!text.is_empty()).then(|| text.to_owned())
        });
        self.cases.push(Submitted {
            test_id: case.test_id,
            outcome: case.outcome,
            duration_ms: case.duration_ms,
            message,
            failure_mode: case.failure_mode,
        });
        Ok(())
    }

    /// One event of the document; `Ok(false)` at its end.
    fn read(&mut self, event: Event<'_>) -> Result<bool, Stop> {
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::DocType(_) => return Err(String::from("DTDs (<!DOCTYPE>) are not accepted").into()),
            Event::Start(ref e) | Event::Empty(ref e) => self.start(e, empty)?,
            Event::End(e) => self.end(e.local_name().as_ref())?,
            Event::Text(ref t) if !self.seen_root && !t.trim().is_empty() => {
                return Err(String::from("text before the root element (not a JUnit report?)").into());
            }
            Event::Text(ref t) => self.text(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(ref t) => self.text(t),
            Event::GeneralRef(ref r) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(r).map(str::to_owned).ok_or_else(
                            || format!("entity &{}; is not defined (entities are not accepted)", &**r),
                        )?
                    }
                    Err(e) => return Err(e.to_string().into()),
                };
                self.text(&text);
            }
            Event::Eof => {
                if self.depth != 0 || self.current.is_some() {
                    return Err(String::from("the report ends before its closing tags (truncated?)").into());
                }
                return Ok(false);
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        Ok(true)
    }
}

/// Reads every test case of a JUnit report as it arrives: what is held is the cases read
/// so far and the element being read, never the whole document.
pub fn parse(xml: impl Read, limits: Limits) -> Result<Vec<Submitted>, JunitError> {
    let mut reader = Reader::from_reader(Counted::new(xml));
    let malformed = |reader: &Reader<Counted<_>>, message: String| {
        let input = reader.get_ref();
        JunitError::Malformed { line: input.line, column: input.column, message }
    };
    let mut cases = Cases { limits, cases: Vec::new(), depth: 0, seen_root: false, current: None };
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(|e| malformed(&reader, e.to_string()))?;
        match cases.read(event) {
            Ok(true) => {}
            Ok(false) => break,
            Err(Stop::Malformed(message)) => return Err(malformed(&reader, message)),
            Err(Stop::Refused(refused)) => return Err(refused),
        }
    }
    if !cases.seen_root {
        return Err(JunitError::Malformed { line: 1, column: 1, message: "the document is empty".into() });
    }
    Ok(cases.cases)
}

fn attribute(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, String> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| err.to_string())?;
        if attr.key.local_name().as_ref() == key {
            return attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| Some(v.into_owned()))
                .map_err(|err| err.to_string());
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_cases: 1000, max_depth: 32 };

    fn outcomes(xml: &str) -> Vec<(String, Outcome)> {
        parse(xml.as_bytes(), LIMITS).expect("valid").into_iter().map(|c| (c.test_id, c.outcome)).collect()
    }

    #[test]
    fn pytest_report() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="0.05" timestamp="2026-11-27T10:00:00" hostname="ci"><testcase classname="tests.test_queue" name="test_backlog_drains" time="0.001" /><testcase classname="tests.test_queue" name="test_fast_lane" time="0.002"><failure message="assert 3 == 2">def test_fast_lane():
&gt;       assert 3 == 2
E       assert 3 == 2</failure></testcase><testcase classname="tests.test_queue" name="test_eta" time="0.000"><skipped type="pytest.skip" message="no eta yet">tests/test_queue.py:20: no eta yet</skipped></testcase></testsuite></testsuites>"#;
        let cases = parse(xml.as_bytes(), LIMITS).expect("valid");
        assert_eq!(
            cases.iter().map(|c| (c.test_id.as_str(), c.outcome)).collect::<Vec<_>>(),
            [
                ("tests.test_queue::test_backlog_drains", Outcome::Passed),
                ("tests.test_queue::test_fast_lane", Outcome::Failed),
                ("tests.test_queue::test_eta", Outcome::Skipped),
            ]
        );
        assert_eq!(cases[0].duration_ms, Some(1));
        assert_eq!(cases[1].message.as_deref(), Some("assert 3 == 2"));
    }

    #[test]
    fn cargo_nextest_report_with_flaky_test() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="2" failures="0" errors="0" uuid="x" timestamp="2026-11-27T10:00:00.000Z" time="1.5">
    <testsuite name="server::it" tests="2" disabled="0" errors="0" failures="0">
        <testcase name="auth::login_rotates::sqlite" classname="server::it" timestamp="2026-11-27T10:00:00.000Z" time="0.512">
        </testcase>
        <testcase name="db::concurrent_writes::postgres" classname="server::it" timestamp="2026-11-27T10:00:00.000Z" time="0.9">
            <flakyFailure type="test failure" message="thread panicked">
                <system-out>out</system-out>
            </flakyFailure>
        </testcase>
    </testsuite>
</testsuites>"#;
        let cases = parse(xml.as_bytes(), LIMITS).expect("valid");
        assert_eq!(cases[0].test_id, "server::it::auth::login_rotates::sqlite");
        assert_eq!(cases[1].outcome, Outcome::Passed, "a test that passed on a rerun counts as passed");
    }

    #[test]
    fn jest_gotestsum_and_surefire_shapes() {
        let jest = r#"<testsuites name="jest tests" tests="2" failures="1"><testsuite name="queue" tests="2"><testcase classname="queue backlog drains" name="queue backlog drains" time="0.004"></testcase><testcase classname="queue fast lane" name="queue fast lane" time="0.01"><failure>Error: expected 2</failure></testcase></testsuite></testsuites>"#;
        assert_eq!(
            outcomes(jest),
            [("queue backlog drains".into(), Outcome::Passed), ("queue fast lane".into(), Outcome::Failed)]
        );
        let go = r#"<testsuites tests="2"><testsuite tests="2" failures="0" time="0.01" name="example.com/queue" timestamp="2026-11-27T10:00:00Z"><properties><property name="go.version" value="go1.23"></property></properties><testcase classname="example.com/queue" name="TestBacklog" time="0.00"></testcase><testcase classname="example.com/queue" name="TestPanics" time="0.00"><error message="panic">panic: boom</error></testcase></testsuite></testsuites>"#;
        assert_eq!(
            outcomes(go),
            [
                ("example.com/queue::TestBacklog".into(), Outcome::Passed),
                ("example.com/queue::TestPanics".into(), Outcome::Error)
            ]
        );
        let surefire = r#"<?xml version="1.0" encoding="UTF-8"?><testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.example.QueueTest" time="0.2" tests="2" errors="0" skipped="0" failures="1"><properties><property name="java.version" value="17"/></properties><testcase name="backlog" classname="com.example.QueueTest" time="0.01"/><testcase name="fastLane" classname="com.example.QueueTest" time="0.02"><failure message="expected:&lt;2&gt; but was:&lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected:<2>]]></failure><rerunFailure message="again" type="X"/></testcase></testsuite>"#;
        let cases = parse(surefire.as_bytes(), LIMITS).expect("valid");
        assert_eq!(cases[0].test_id, "com.example.QueueTest::backlog");
        assert_eq!(cases[1].outcome, Outcome::Failed);
        assert_eq!(cases[1].message.as_deref(), Some("expected:<2> but was:<3>"));
    }

    #[test]
    fn nested_suites_missing_attributes_and_bindings() {
        let xml = r#"<testsuite name="outer"><testsuite name="inner"><testcase name="no_class_no_time"><properties><property name="premortem.failure_mode" value="PAY-12/FM-3"/></properties></testcase></testsuite></testsuite>"#;
        let cases = parse(xml.as_bytes(), LIMITS).expect("valid");
        assert_eq!(cases[0].test_id, "no_class_no_time");
        assert_eq!(cases[0].duration_ms, None);
        assert_eq!(cases[0].failure_mode.as_deref(), Some("PAY-12/FM-3"));
    }

    #[test]
    fn hostile_or_broken_reports_are_refused_with_a_position() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><testsuites><testcase name="x">&lol2;</testcase></testsuites>"#;
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&xxe;"/></testsuite>"#;
        let undefined = r#"<testsuite><testcase name="a"><failure>&xxe;</failure></testcase></testsuite>"#;
        for xml in [laughs, xxe] {
            let err = parse(xml.as_bytes(), LIMITS).expect_err("refused");
            assert!(err.to_string().contains("DTDs"), "{err}");
        }
        assert!(
            parse(undefined.as_bytes(), LIMITS).expect_err("refused").to_string().contains("not defined")
        );
        let deep = format!("<testsuites>{}", "<testsuite>".repeat(10_000));
        assert!(parse(deep.as_bytes(), LIMITS).expect_err("refused").to_string().contains("nested deeper"));
        let broken = "<testsuites>\n  <testcase name=\"a\">\n</testsuites>";
        let JunitError::Malformed { line, .. } = parse(broken.as_bytes(), LIMITS).expect_err("refused")
        else {
            panic!("malformed")
        };
        assert_eq!(line, 3);
        assert!(parse(&b"<html></html>"[..], LIMITS).is_err());
        assert!(
            parse(&b"ok\n<testsuite/>"[..], LIMITS)
                .expect_err("refused")
                .to_string()
                .contains("before the root")
        );
        let truncated = r#"<testsuite><testcase name="a"/><testcase name="b"><failure message="boom">trace"#;
        assert!(parse(truncated.as_bytes(), LIMITS).expect_err("refused").to_string().contains("truncated"));
        assert!(parse(&b""[..], LIMITS).is_err());
        let many = format!("<testsuite>{}</testsuite>", "<testcase name=\"t\"/>".repeat(11));
        assert_eq!(
            parse(many.as_bytes(), Limits { max_cases: 10, max_depth: 8 }).expect_err("refused"),
            JunitError::TooManyCases(10)
        );
    }

    /// Hands on at most one byte per read, as a network stream may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else { return Ok(0) };
            if out.is_empty() {
                return Ok(0);
            }
            out[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn a_report_arriving_a_byte_at_a_time_reads_the_same_and_errors_keep_their_position() {
        let xml = "<testsuite name=\"s\">\n  <testcase classname=\"a\" name=\"b\" time=\"0.5\">\n    <failure message=\"\u{e9}t\u{e9} &amp; co\">trace</failure>\n  </testcase>\n  <testcase name=\"c\"/>\n</testsuite>\n";
        assert_eq!(
            format!("{:?}", parse(Trickle(xml.as_bytes()), LIMITS)),
            format!("{:?}", parse(xml.as_bytes(), LIMITS))
        );
        let cases = parse(Trickle(xml.as_bytes()), LIMITS).expect("valid");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].message.as_deref(), Some("\u{e9}t\u{e9} & co"));
        let broken = "<testsuite>\n  <testcase name=\"a\">\n  <oops>\n</testsuite>";
        let whole = parse(broken.as_bytes(), LIMITS).expect_err("refused");
        assert_eq!(parse(Trickle(broken.as_bytes()), LIMITS).expect_err("refused"), whole);
        let JunitError::Malformed { line, .. } = &whole else { panic!("malformed: {whole}") };
        assert_eq!(*line, 4, "{whole}");
    }
}
