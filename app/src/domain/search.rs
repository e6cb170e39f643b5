//! Finding changes: what a search box's text asks for, and what it finds.

use super::AppError;
use super::change::{ChangeKey, ChangeStatus};
use serde::{Deserialize, Serialize};

/// The longest search text taken, in characters.
pub const MAX_QUERY: usize = 200;
/// The words of a search that count; the rest are ignored.
pub const MAX_WORDS: usize = 8;
/// The most hits of each kind a search shows.
pub const MAX_HITS: usize = 50;

/// A search as typed: perhaps a change's key (`RAD-12`, which the search jumps to) and the
/// words every hit must contain (each as a word or the start of one, any case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub key: Option<ChangeKey>,
    pub words: Vec<String>,
}

impl Query {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_QUERY {
            return Err(AppError::invalid("q", format!("A search is at most {MAX_QUERY} characters.")));
        }
        let mut words: Vec<String> = Vec::new();
        for word in raw.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let word = word.to_lowercase();
            if !words.contains(&word) && words.len() < MAX_WORDS {
                words.push(word);
            }
        }
        Ok(Query { key: ChangeKey::parse(raw).ok(), words })
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words as an SQLite FTS5 query: each a prefix, all required. The words hold only
    /// letters and digits, so nothing in them is FTS5 syntax.
    pub fn fts5(&self) -> String {
        self.words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" AND ")
    }

    /// The words as a PostgreSQL `tsquery`: each a prefix, all required; quoted, so a word
    /// PostgreSQL's parser splits stays one term.
    pub fn tsquery(&self) -> String {
        self.words.iter().map(|w| format!("'{w}':*")).collect::<Vec<_>>().join(" & ")
    }
}

/// What a search found, newest first within each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The page of the change whose key was searched for, which the search goes to.
    pub jump: Option<String>,
    pub changes: Vec<ChangeHit>,
    pub failure_modes: Vec<FailureModeHit>,
}

/// A change whose title or summary has every word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeHit {
    pub key: String,
    pub title: String,
    pub status: ChangeStatus,
    /// The start of its summary.
    pub excerpt: String,
}

/// A failure mode whose title or scenario has every word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureModeHit {
    pub change: String,
    pub number: i64,
    pub title: String,
    /// The start of its scenario.
    pub excerpt: String,
}

/// The first `max` characters of `text` on one line, with an ellipsis if cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_takes_its_words_once_in_lower_case_and_drops_punctuation() {
        let q = Query::parse("  Queue, QUEUE backlog's drain  ").expect("query");
        assert_eq!(q.words, ["queue", "backlog", "s", "drain"]);
        assert_eq!(q.key, None);
        assert_eq!(q.fts5(), r#""queue"* AND "backlog"* AND "s"* AND "drain"*"#);
        assert_eq!(q.tsquery(), "'queue':* & 'backlog':* & 's':* & 'drain':*");
    }

    #[test]
    fn a_key_is_a_key_and_its_words() {
        let q = Query::parse("rad-12").expect("query");
        assert_eq!(q.key.map(|k| k.to_string()), Some("RAD-12".to_owned()));
        assert_eq!(q.words, ["rad", "12"]);
    }

    #[test]
    fn syntax_of_either_engine_is_only_punctuation_here() {
        let q = Query::parse(r#"" OR * NEAR( ) & | ! :* -- ; DROP"#).expect("query");
        assert_eq!(q.words, ["or", "near", "drop"]);
        assert!(Query::parse("***").expect("query").is_empty());
    }

    #[test]
    fn a_search_has_a_length_and_a_word_limit() {
        assert!(Query::parse(&"a".repeat(MAX_QUERY)).is_ok());
        let refused = Query::parse(&"a".repeat(MAX_QUERY + 1)).expect_err("too long");
        assert!(refused.for_field("q").is_some());
        let many = (0..20).map(|n| format!("w{n}")).collect::<Vec<_>>().join(" ");
        assert_eq!(Query::parse(&many).expect("query").words.len(), MAX_WORDS);
    }

    #[test]
    fn an_excerpt_is_one_line_cut_at_a_character() {
        assert_eq!(excerpt("a\n  b", 10), "a b");
        assert_eq!(excerpt("ééééé", 3), "ééé…");
    }
}
