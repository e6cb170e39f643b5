//! A streaming JUnit XML reader (quick-xml): `<testsuites>` or bare `<testsuite>` roots,
//! nested suites, properties, skipped/error/failure, flaky and rerun elements, missing
//! `time` or `classname`. No DTDs and no entities beyond XML's five predefined ones, so
//! entity-expansion and external-entity attacks have nothing to work with.

use app::domain::gate::Outcome;
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

/// One test case as read from a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub test_id: String,
    pub outcome: Outcome,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
    /// `PAY-12/FM-3` from a `premortem.failure_mode` property.
    pub failure_mode: Option<String>,
    /// Passed only after reruns.
    pub flaky: bool,
}

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

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, column)
}

struct Partial {
    test_id: String,
    duration_ms: Option<i64>,
    outcome: Outcome,
    message: Option<String>,
    text: String,
    in_message_element: bool,
    failure_mode: Option<String>,
    flaky: bool,
}

/// Reads every test case of a JUnit report.
pub fn parse(xml: &str, limits: Limits) -> Result<Vec<Case>, JunitError> {
    let mut reader = Reader::from_str(xml);
    let malformed = |reader: &Reader<&[u8]>, message: String| {
        let (line, column) = position(xml, usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX));
        JunitError::Malformed { line, column, message }
    };
    let mut cases = Vec::new();
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut current: Option<Partial> = None;
    loop {
        let event = reader.read_event().map_err(|e| malformed(&reader, e.to_string()))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::DocType(_) => return Err(malformed(&reader, "DTDs (<!DOCTYPE>) are not accepted".into())),
            Event::Start(ref e) | Event::Empty(ref e) => {
                if !empty {
                    depth += 1;
                    if depth > limits.max_depth {
                        return Err(malformed(
                            &reader,
                            format!("elements nested deeper than {} levels", limits.max_depth),
                        ));
                    }
                }
                let name = e.local_name();
                let name = name.as_ref();
                if !seen_root {
                    if name != "testsuites" && name != "testsuite" {
                        return Err(malformed(
                            &reader,
                            "the root element must be <testsuites> or <testsuite>".into(),
                        ));
                    }
                    seen_root = true;
                }
                let attr = |key: &str| attribute(e, key).map_err(|m| malformed(&reader, m));
                match (name, current.as_mut()) {
                    ("testcase", None) => {
                        let case_name = attr("name")?.unwrap_or_default();
                        if case_name.is_empty() {
                            return Err(malformed(&reader, "a <testcase> has no name".into()));
                        }
                        let classname = attr("classname")?.unwrap_or_default();
                        let test_id = if classname.is_empty() || case_name.starts_with(&classname) {
                            case_name
                        } else {
                            format!("{classname}::{case_name}")
                        };
                        let duration_ms = attr("time")?
                            .and_then(|t| t.trim().parse::<f64>().ok())
                            .filter(|t| t.is_finite() && *t >= 0.0)
                            .map(|t| (t * 1000.0).round() as i64);
                        let partial = Partial {
                            test_id,
                            duration_ms,
                            outcome: Outcome::Passed,
                            message: None,
                            text: String::new(),
                            in_message_element: false,
                            failure_mode: None,
                            flaky: false,
                        };
                        if empty {
                            push(&mut cases, partial, limits)?;
                        } else {
                            current = Some(partial);
                        }
                    }
                    ("failure" | "error" | "skipped", Some(case)) => {
                        let outcome = match name {
                            "failure" => Outcome::Failed,
                            "error" => Outcome::Error,
                            _ => Outcome::Skipped,
                        };
                        // A failure outranks a skip, whatever their order.
                        if case.outcome == Outcome::Passed || outcome != Outcome::Skipped {
                            case.outcome = outcome;
                        }
                        if case.message.is_none() {
                            case.message = attr("message")?.filter(|m| !m.is_empty());
                        }
                        case.in_message_element = !empty;
                    }
                    ("flakyFailure" | "flakyError" | "rerunFailure" | "rerunError", Some(case)) => {
                        case.flaky = true;
                    }
                    ("property", Some(case)) if attr("name")?.as_deref() == Some(PROPERTY) => {
                        case.failure_mode = attr("value")?;
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    "testcase" => {
                        if let Some(case) = current.take() {
                            push(&mut cases, case, limits)?;
                        }
                    }
                    "failure" | "error" | "skipped" => {
                        if let Some(case) = current.as_mut() {
                            case.in_message_element = false;
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(ref t) => collect_text(&mut current, &t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(ref t) => collect_text(&mut current, t),
            Event::GeneralRef(ref r) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(r)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            malformed(
                                &reader,
                                format!("entity &{}; is not defined (entities are not accepted)", &**r),
                            )
                        })?,
                    Err(e) => return Err(malformed(&reader, e.to_string())),
                };
                collect_text(&mut current, &text);
            }
            Event::Eof => {
                if depth != 0 || current.is_some() {
                    return Err(malformed(
                        &reader,
                        "the report ends before its closing tags (truncated?)".into(),
                    ));
                }
                break;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !seen_root {
        return Err(JunitError::Malformed { line: 1, column: 1, message: "the document is empty".into() });
    }
    Ok(cases)
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

fn collect_text(current: &mut Option<Partial>, text: &str) {
    if let Some(case) = current.as_mut().filter(|c| c.in_message_element) {
        // Only the start of a failure's text is kept; the caller truncates further.
        if case.text.len() < 8192 {
            case.text.push_str(text);
        }
    }
}

fn push(cases: &mut Vec<Case>, case: Partial, limits: Limits) -> Result<(), JunitError> {
    if cases.len() >= limits.max_cases {
        return Err(JunitError::TooManyCases(limits.max_cases));
    }
    let message = case.message.or_else(|| {
        let text = case.text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    });
    cases.push(Case {
        test_id: case.test_id,
        outcome: case.outcome,
        duration_ms: case.duration_ms,
        message,
        failure_mode: case.failure_mode,
        flaky: case.flaky,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_cases: 1000, max_depth: 32 };

    fn outcomes(xml: &str) -> Vec<(String, Outcome)> {
        parse(xml, LIMITS).expect("valid").into_iter().map(|c| (c.test_id, c.outcome)).collect()
    }

    #[test]
    fn pytest_report() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="0.05" timestamp="2026-11-27T10:00:00" hostname="ci"><testcase classname="tests.test_queue" name="test_backlog_drains" time="0.001" /><testcase classname="tests.test_queue" name="test_fast_lane" time="0.002"><failure message="assert 3 == 2">def test_fast_lane():
&gt;       assert 3 == 2
E       assert 3 == 2</failure></testcase><testcase classname="tests.test_queue" name="test_eta" time="0.000"><skipped type="pytest.skip" message="no eta yet">tests/test_queue.py:20: no eta yet</skipped></testcase></testsuite></testsuites>"#;
        let cases = parse(xml, LIMITS).expect("valid");
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
        let cases = parse(xml, LIMITS).expect("valid");
        assert_eq!(cases[0].test_id, "server::it::auth::login_rotates::sqlite");
        assert_eq!(cases[1].outcome, Outcome::Passed);
        assert!(cases[1].flaky);
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
        let cases = parse(surefire, LIMITS).expect("valid");
        assert_eq!(cases[0].test_id, "com.example.QueueTest::backlog");
        assert_eq!(cases[1].outcome, Outcome::Failed);
        assert_eq!(cases[1].message.as_deref(), Some("expected:<2> but was:<3>"));
    }

    #[test]
    fn nested_suites_missing_attributes_and_bindings() {
        let xml = r#"<testsuite name="outer"><testsuite name="inner"><testcase name="no_class_no_time"><properties><property name="premortem.failure_mode" value="PAY-12/FM-3"/></properties></testcase></testsuite></testsuite>"#;
        let cases = parse(xml, LIMITS).expect("valid");
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
            let err = parse(xml, LIMITS).expect_err("refused");
            assert!(err.to_string().contains("DTDs"), "{err}");
        }
        assert!(parse(undefined, LIMITS).expect_err("refused").to_string().contains("not defined"));
        let deep = format!("<testsuites>{}", "<testsuite>".repeat(10_000));
        assert!(parse(&deep, LIMITS).expect_err("refused").to_string().contains("nested deeper"));
        let broken = "<testsuites>\n  <testcase name=\"a\">\n</testsuites>";
        let JunitError::Malformed { line, .. } = parse(broken, LIMITS).expect_err("refused") else {
            panic!("malformed")
        };
        assert_eq!(line, 3);
        assert!(parse("<html></html>", LIMITS).is_err());
        let truncated = r#"<testsuite><testcase name="a"/><testcase name="b"><failure message="boom">trace"#;
        assert!(parse(truncated, LIMITS).expect_err("refused").to_string().contains("truncated"));
        assert!(parse("", LIMITS).is_err());
        let many = format!("<testsuite>{}</testsuite>", "<testcase name=\"t\"/>".repeat(11));
        assert_eq!(parse(&many, Limits { max_cases: 10, max_depth: 8 }), Err(JunitError::TooManyCases(10)));
    }
}
