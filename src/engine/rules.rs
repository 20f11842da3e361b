//! The `re:` rules: one `RegexSet` to learn which rules match in one pass,
//! and a compiled `Regex` per rule to find their spans, consulted only for
//! the rules the set reported.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

#[derive(Debug, Clone)]
pub(crate) struct RuleSet {
    set: RegexSet,
    rules: Vec<Regex>,
}

/// Checks one rule on its own, so its error can name its line: it must
/// compile within `size_limit` and must not match the empty string (a rule
/// like `a*` would hit every message, at every position).
pub(crate) fn check(pattern: &str, size_limit: usize) -> Result<(), String> {
    compile(pattern, size_limit).map_err(|err| match err {
        regex::Error::CompiledTooBig(limit) => {
            format!("regular expression is too large once compiled (limit {limit} bytes)")
        }
        err => format!("regular expression does not compile: {}", one_line(&err.to_string())),
    })?;
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(pattern)
        .map_err(|err| format!("regular expression does not compile: {}", one_line(&err.to_string())))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err("regular expression can match the empty string; it would hit every message".into());
    }
    Ok(())
}

fn compile(pattern: &str, size_limit: usize) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).case_insensitive(true).size_limit(size_limit).build()
}

/// The compiler's multi-line message (pattern, caret, reason) on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl RuleSet {
    /// Compiles rules that have each passed [`check`].
    pub(crate) fn build(patterns: &[String], size_limit: usize) -> Result<RuleSet, String> {
        let total_limit = size_limit.saturating_mul(patterns.len().max(1));
        let set = RegexSetBuilder::new(patterns)
            .case_insensitive(true)
            .size_limit(total_limit)
            .build()
            .map_err(|err| err.to_string())?;
        let rules = patterns
            .iter()
            .map(|pattern| compile(pattern, size_limit))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| err.to_string())?;
        Ok(RuleSet { set, rules })
    }

    /// Calls `found(rule, start, end)` for every match of every rule.
    pub(crate) fn find_all(&self, haystack: &str, mut found: impl FnMut(usize, usize, usize)) {
        for rule in self.set.matches(haystack).iter() {
            for m in self.rules[rule].find_iter(haystack) {
                found(rule, m.start(), m.end());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_matches_and_bad_syntax() {
        assert!(check("赌.{0,3}场", 1 << 20).is_ok());
        assert!(check("a*", 1 << 20).unwrap_err().contains("empty string"));
        assert!(check("\\b", 1 << 20).unwrap_err().contains("empty string"));
        assert!(check("(", 1 << 20).unwrap_err().starts_with("regular expression does not compile"));
        assert!(check("\\w{1000}{1000}", 1 << 20).unwrap_err().contains("too large"));
    }
}
