//! Rules for the text people and pipelines send: its length once trimmed and the
//! characters it may hold. A rule checks a value and also writes itself as a regular
//! expression, the `pattern` of the field's schema in the API's OpenAPI document: the check
//! and the document are one rule, so they cannot say different things.

/// Which characters a text may hold once trimmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chars {
    /// One line: no control characters.
    Line,
    /// Lines: no control characters but line breaks and tabs.
    Lines,
    /// Any character a database stores as text, which is all but NUL (a test's id, as a
    /// report names it: PostgreSQL's text cannot hold a NUL).
    Stored,
}

impl Chars {
    pub fn allows(self, c: char) -> bool {
        match self {
            Chars::Line => !c.is_control(),
            Chars::Lines => !c.is_control() || matches!(c, '\n' | '\r' | '\t'),
            Chars::Stored => c != '\0',
        }
    }

    /// The classes of the characters a trimmed text may start and end with, and of those it
    /// may hold: written once per process, since each is a pass over every character.
    fn classes(self) -> &'static (String, String) {
        static CLASSES: [std::sync::OnceLock<(String, String)>; 3] =
            [std::sync::OnceLock::new(), std::sync::OnceLock::new(), std::sync::OnceLock::new()];
        CLASSES[self as usize]
            .get_or_init(|| (class(|c| self.allows(c) && !c.is_whitespace()), class(|c| self.allows(c))))
    }
}

/// Why a text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing but spaces, where something is required.
    Empty,
    /// Longer than the rule's maximum: the length it has.
    TooLong(usize),
    /// A character the rule does not allow.
    Chars,
}

/// A text's rule: surrounding whitespace (Unicode's, as [`str::trim`] drops it) is dropped,
/// then what is left must be at most `max` characters (and at least one when `required`),
/// each allowed by `chars`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextRule {
    pub required: bool,
    pub max: usize,
    pub chars: Chars,
}

impl TextRule {
    /// A required line of 1 to `max` characters.
    pub const fn line(max: usize) -> Self {
        Self { required: true, max, chars: Chars::Line }
    }

    /// An optional line of at most `max` characters.
    pub const fn optional_line(max: usize) -> Self {
        Self { required: false, max, chars: Chars::Line }
    }

    /// Optional lines of text, at most `max` characters in all.
    pub const fn lines(max: usize) -> Self {
        Self { required: false, max, chars: Chars::Lines }
    }

    /// The text, trimmed, or why it is refused.
    pub fn check(self, raw: &str) -> Result<&str, Refusal> {
        let text = raw.trim();
        let len = text.chars().count();
        if self.required && len == 0 {
            return Err(Refusal::Empty);
        }
        if len > self.max {
            return Err(Refusal::TooLong(len));
        }
        if !text.chars().all(|c| self.chars.allows(c)) {
            return Err(Refusal::Chars);
        }
        Ok(text)
    }

    /// The rule as a regular expression (ECMA-262, as JSON Schema's `pattern`) that matches
    /// exactly the texts [`TextRule::check`] accepts.
    pub fn pattern(self) -> String {
        let (edge, inner) = self.chars.classes();
        format!("^{ws}*{}{ws}*$", trimmed(self, edge, inner), ws = whitespace())
    }
}

/// The pattern of what is left once trimmed: it starts and ends with an `edge` character.
fn trimmed(rule: TextRule, edge: &str, inner: &str) -> String {
    let some = match rule.max {
        0 => return String::new(),
        1 => edge.to_owned(),
        max => format!("{edge}(?:{inner}{{0,{}}}{edge})?", max - 2),
    };
    if rule.required { some } else { format!("(?:{some})?") }
}

/// The characters [`str::trim`] drops, as a class (written once per process).
pub fn whitespace() -> &'static str {
    static WHITESPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    WHITESPACE.get_or_init(|| class(char::is_whitespace))
}

/// The characters for which `allows` holds, as a regular expression's class. Written as the
/// shorter of the class and its negation, every character as `\uXXXX` (the negation when
/// the class reaches past U+FFFF, which `\uXXXX` cannot name).
pub fn class(allows: impl Fn(char) -> bool) -> String {
    // Runs of characters allowed and refused, in one pass over every character.
    let (mut allowed, mut refused) = (Vec::<(u32, u32)>::new(), Vec::<(u32, u32)>::new());
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        let ranges = if allows(c) { &mut allowed } else { &mut refused };
        let c = u32::from(c);
        match ranges.last_mut() {
            // A run over the surrogates (which are no characters) is still one run.
            Some((_, end)) if *end + 1 == c || (*end == 0xD7FF && c == 0xE000) => *end = c,
            _ => ranges.push((c, c)),
        }
    }
    if refused.is_empty() {
        return r"[\s\S]".to_owned();
    }
    let bmp = |ranges: &[(u32, u32)]| ranges.iter().all(|&(_, end)| end <= 0xFFFF);
    let (negate, ranges) = if bmp(&refused) && (refused.len() < allowed.len() || !bmp(&allowed)) {
        ("^", refused)
    } else {
        ("", allowed)
    };
    let mut class = format!("[{negate}");
    for (start, end) in ranges {
        class.push_str(&format!("\\u{start:04x}"));
        if end > start {
            class.push_str(&format!("-\\u{end:04x}"));
        }
    }
    class.push(']');
    class
}

/// The longest `Idempotency-Key`, in (ASCII) characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 200;

/// An `Idempotency-Key` as a retried request repeats it: 1 to [`IDEMPOTENCY_KEY_MAX`]
/// printable ASCII characters (spaces and tabs inside), without the spaces and tabs around.
pub fn idempotency_key(raw: &str) -> Result<&str, String> {
    let key = raw.trim_matches([' ', '\t']);
    if !key.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        return Err("Idempotency-Key must be printable ASCII.".to_owned());
    }
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX {
        return Err(format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters."));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_idempotency_key_is_printable_ascii_of_1_to_200() {
        assert_eq!(idempotency_key(" \trun 42\t "), Ok("run 42"));
        assert_eq!(idempotency_key(&"k".repeat(IDEMPOTENCY_KEY_MAX)).map(str::len), Ok(IDEMPOTENCY_KEY_MAX));
        for bad in ["", "  ", "clé", "a\nb", &"k".repeat(IDEMPOTENCY_KEY_MAX + 1)] {
            assert!(idempotency_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn classes_name_what_they_hold() {
        assert_eq!(
            whitespace(),
            r"[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028-\u2029\u202f\u205f\u3000]"
        );
        assert_eq!(class(|c| !c.is_control()), r"[^\u0000-\u001f\u007f-\u009f]");
        assert_eq!(class(|_| true), r"[\s\S]");
    }

    #[test]
    fn checks_trim_then_count() {
        let title = TextRule::line(5);
        assert_eq!(title.check("  abc \n"), Ok("abc"));
        assert_eq!(title.check(" \t "), Err(Refusal::Empty));
        assert_eq!(title.check("abcdef"), Err(Refusal::TooLong(6)));
        assert_eq!(title.check("a\nb"), Err(Refusal::Chars));
        assert_eq!(TextRule::lines(5).check("a\nb"), Ok("a\nb"));
        assert_eq!(TextRule::lines(5).check(""), Ok(""));
    }

    /// Every rule the property below tries, with its pattern compiled once.
    fn rules() -> &'static [(TextRule, regex::Regex)] {
        static RULES: std::sync::OnceLock<Vec<(TextRule, regex::Regex)>> = std::sync::OnceLock::new();
        RULES.get_or_init(|| {
            let mut rules = Vec::new();
            for chars in [Chars::Line, Chars::Lines, Chars::Stored] {
                for required in [false, true] {
                    for max in 1..5 {
                        let rule = TextRule { required, max, chars };
                        rules.push((rule, regex::Regex::new(&rule.pattern()).expect("pattern")));
                    }
                }
            }
            rules
        })
    }

    proptest! {
        /// The pattern matches exactly what the check accepts, as the `regex` engine reads it
        /// (the one the schema's validator, jsonschema-rs, is built on).
        #[test]
        fn a_pattern_matches_exactly_what_its_check_accepts(
            text in r"[ \t\n\x0b\u{85}\u{a0}\u{3000}\x00\x01\x7fab\u{1F600}]{0,8}",
            which in 0usize..24,
        ) {
            let (rule, pattern) = &rules()[which];
            prop_assert_eq!(pattern.is_match(&text), rule.check(&text).is_ok(), "{:?} {:?}", rule, text);
        }
    }
}
