//! A CI run's results as they count: the rules every upload's results follow, whatever
//! format they came in (the JUnit reader and the JSON body both produce
//! [`ReportedResult`]s).

use super::gate::ReportedResult;
use super::text::{Chars, Refusal, TextRule};

/// A test's id: 1 to 1,000 characters once trimmed, any but NUL (as its report names it).
pub const TEST_ID: TextRule = TextRule { required: true, max: 1000, chars: Chars::Stored };
/// The longest message kept; a longer one is truncated, with a warning.
pub const MESSAGE_MAX: usize = 2000;
/// The longest binding of a result to a failure mode (`PAY-12/FM-3`).
pub const BINDING_MAX: usize = 100;

/// One result as the client sent it; `failure_mode` is `PAY-12/FM-3` if bound.
pub type Submitted = ReportedResult<Option<String>>;

/// A run's results as they count, with a warning for each kind of change made to them.
#[derive(Debug, PartialEq, Eq)]
pub struct Counted {
    pub results: Vec<Submitted>,
    pub warnings: Vec<String>,
}

/// Checks each result's id and binding (refusing the run, in words for the client, at the
/// first that is wrong), keeps each message within [`MESSAGE_MAX`] and free of NUL, and
/// counts a test id reported more than once (merged matrix reports) with its worst
/// outcome, so a failure on one platform is never hidden by a pass on another.
pub fn counted(mut results: Vec<Submitted>) -> Result<Counted, String> {
    let mut warnings = Vec::new();
    let mut truncated = 0;
    for (i, r) in results.iter_mut().enumerate() {
        r.test_id = match TEST_ID.check(&r.test_id) {
            Ok(id) => id.to_owned(),
            Err(Refusal::Chars) => {
                return Err(format!(
                    "Test case {} has an id with a NUL character, which no id may hold.",
                    i + 1
                ));
            }
            Err(_) => {
                let (len, max) = (r.test_id.trim().chars().count(), TEST_ID.max);
                return Err(format!(
                    "Test case {} has an id of {len} characters; ids must be 1 to {max}.",
                    i + 1
                ));
            }
        };
        if let Some(message) = &mut r.message {
            // A message is kept as it came, but for what no database text can hold.
            if message.contains('\0') {
                *message = message.replace('\0', "\u{FFFD}");
            }
            if message.chars().count() > MESSAGE_MAX {
                *message = message.chars().take(MESSAGE_MAX).collect();
                truncated += 1;
            }
        }
        if r.failure_mode.as_ref().is_some_and(|f| f.chars().count() > BINDING_MAX) {
            return Err(format!("Test case {} binds an invalid failure mode.", i + 1));
        }
    }
    if truncated > 0 {
        warnings.push(format!("{truncated} message(s) longer than {MESSAGE_MAX} characters were truncated"));
    }
    let mut worst: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, r) in results.iter().enumerate() {
        let keep = worst
            .get(r.test_id.as_str())
            .is_none_or(|&j| r.outcome.badness() >= results[j].outcome.badness());
        if keep {
            worst.insert(&r.test_id, i);
        }
    }
    let duplicates = results.len() - worst.len();
    if duplicates > 0 {
        warnings.push(format!("{duplicates} duplicate test id(s); each counts with its worst outcome"));
        let mut keep = vec![false; results.len()];
        for i in worst.into_values() {
            keep[i] = true;
        }
        let mut kept = keep.into_iter();
        results.retain(|_| kept.next().unwrap_or(false));
    }
    Ok(Counted { results, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::Outcome;

    fn result(id: &str, outcome: Outcome) -> Submitted {
        Submitted { test_id: id.into(), outcome, duration_ms: None, message: None, failure_mode: None }
    }

    #[test]
    fn a_repeated_test_id_counts_with_its_worst_outcome() {
        let run = counted(vec![
            result("queue::a", Outcome::Failed),
            result("queue::a", Outcome::Passed),
            result("queue::b", Outcome::Skipped),
            result("queue::b", Outcome::Passed),
            result("queue::c", Outcome::Error),
            result("queue::c", Outcome::Failed),
        ])
        .expect("valid");
        let outcomes: Vec<(&str, Outcome)> =
            run.results.iter().map(|r| (r.test_id.as_str(), r.outcome)).collect();
        assert_eq!(
            outcomes,
            [("queue::a", Outcome::Failed), ("queue::b", Outcome::Passed), ("queue::c", Outcome::Error)]
        );
        assert_eq!(run.warnings, ["3 duplicate test id(s); each counts with its worst outcome"]);
    }

    #[test]
    fn over_long_ids_are_refused_and_long_messages_truncated() {
        assert!(counted(vec![result(&"x".repeat(1001), Outcome::Passed)]).is_err());
        let mut long = result("queue::a", Outcome::Failed);
        long.message = Some("m".repeat(5000));
        let run = counted(vec![long]).expect("valid");
        assert_eq!(run.results[0].message.as_ref().map(|m| m.chars().count()), Some(MESSAGE_MAX));
        assert!(run.warnings[0].contains("truncated"));
    }

    #[test]
    fn no_nul_reaches_the_database() {
        assert!(counted(vec![result("queue::a\0b", Outcome::Passed)]).is_err());
        let mut nul = result("queue::a", Outcome::Failed);
        nul.message = Some("before\0after".to_owned());
        let run = counted(vec![nul]).expect("valid");
        assert_eq!(run.results[0].message.as_deref(), Some("before\u{FFFD}after"));
    }
}
