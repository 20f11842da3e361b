//! The literal matcher: every literal of every category in one automaton.
//!
//! This is the one seam between wordgate and its multi-pattern automaton.
//! Everything else sees only `build`, `find_at` and `memory_usage`, so the
//! choice of automaton is a benchmark decision, made in this file alone.
//! Both candidates are kept compiled in and benched side by side
//! (`cargo bench --bench engine -- automaton`), so the decision can be
//! re-checked on new data without writing code.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder};

/// Which automaton compiles the literals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutomatonKind {
    /// `daachorse`'s charwise double-array Aho-Corasick: one transition
    /// per character rather than per byte, which suits Chinese text (three
    /// UTF-8 bytes per character, and every lead byte starts thousands of
    /// patterns). The default: measured faster on this project's mixed
    /// Chinese and English messages, see `BENCHMARKS` in the README.
    #[default]
    Daachorse,
    /// `aho-corasick`'s contiguous NFA. Measured here (2026-11, 2-core EPYC
    /// VM) with 100k entries: 6.5 MiB and ~1.2 µs for a 100-byte message,
    /// while its full DFA takes 228 MiB, builds 5× slower (1.2 s) and
    /// searches 2× slower, its tables no longer fitting in cache; the
    /// noncontiguous NFA is 4× slower still.
    AhoCorasick,
}

/// A leftmost-longest automaton over folded literals.
///
/// Leftmost-longest makes the longest entry win where entries start at the
/// same place (`fucking` over `fuck`), which is what a moderator expects.
#[derive(Clone)]
pub struct LiteralMatcher {
    automaton: Automaton,
}

#[derive(Clone)]
enum Automaton {
    AhoCorasick(AhoCorasick),
    Daachorse(CharwiseDoubleArrayAhoCorasick<u32>),
}

impl std::fmt::Debug for LiteralMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.automaton {
            Automaton::AhoCorasick(_) => AutomatonKind::AhoCorasick,
            Automaton::Daachorse(_) => AutomatonKind::Daachorse,
        };
        f.debug_struct("LiteralMatcher").field("kind", &kind).field("bytes", &self.memory_usage()).finish()
    }
}

/// One literal found in a haystack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiteralMatch {
    /// Index of the pattern, in the order given to [`LiteralMatcher::build`].
    pub pattern: usize,
    /// Byte offset where the match starts.
    pub start: usize,
    /// Byte offset just past the match.
    pub end: usize,
}

impl LiteralMatcher {
    /// Compiles distinct, non-empty patterns with the default automaton.
    pub fn build<P: AsRef<str>>(patterns: &[P]) -> Result<LiteralMatcher, String> {
        LiteralMatcher::build_with(AutomatonKind::default(), patterns)
    }

    /// Compiles distinct, non-empty patterns with the given automaton.
    pub fn build_with<P: AsRef<str>>(kind: AutomatonKind, patterns: &[P]) -> Result<LiteralMatcher, String> {
        let automaton = match kind {
            AutomatonKind::AhoCorasick => Automaton::AhoCorasick(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(patterns.iter().map(|p| p.as_ref().as_bytes()))
                    .map_err(|err| err.to_string())?,
            ),
            AutomatonKind::Daachorse => Automaton::Daachorse(
                CharwiseDoubleArrayAhoCorasickBuilder::new()
                    .match_kind(daachorse::MatchKind::LeftmostLongest)
                    .build(patterns.iter().map(AsRef::as_ref))
                    .map_err(|err| err.to_string())?,
            ),
        };
        Ok(LiteralMatcher { automaton })
    }

    /// The leftmost-longest match starting at or after byte `at` (which
    /// must be a character boundary, as every caller's offsets are).
    pub fn find_at(&self, haystack: &str, at: usize) -> Option<LiteralMatch> {
        let rest = haystack.get(at..)?;
        match &self.automaton {
            Automaton::AhoCorasick(automaton) => {
                let input = Input::new(haystack).span(at..haystack.len());
                automaton.find(input).map(|found| LiteralMatch {
                    pattern: found.pattern().as_usize(),
                    start: found.start(),
                    end: found.end(),
                })
            }
            // Searching the rest of the haystack is the same as searching
            // from `at`: Aho-Corasick matches never look behind their start.
            Automaton::Daachorse(automaton) => {
                automaton.leftmost_find_iter(rest).next().map(|found| LiteralMatch {
                    pattern: found.value() as usize,
                    start: at + found.start(),
                    end: at + found.end(),
                })
            }
        }
    }

    /// Heap bytes used by the automaton.
    pub fn memory_usage(&self) -> usize {
        match &self.automaton {
            Automaton::AhoCorasick(automaton) => automaton.memory_usage(),
            Automaton::Daachorse(automaton) => automaton.heap_bytes(),
        }
    }
}

/// Every match, overlapping ones included, of ASCII patterns in an ASCII
/// haystack: for readings (`src/engine/phonetic.rs`), where a match is
/// judged by where it starts and ends, so the leftmost-longest one is not
/// necessarily the one that counts, and retrying from every refused start
/// would scan the text again and again. Bytewise, because the haystack is
/// ASCII.
#[derive(Clone)]
pub struct OverlappingMatcher {
    automaton: daachorse::DoubleArrayAhoCorasick<u32>,
}

impl std::fmt::Debug for OverlappingMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlappingMatcher").field("bytes", &self.memory_usage()).finish()
    }
}

impl OverlappingMatcher {
    /// Compiles distinct, non-empty patterns.
    pub fn build<P: AsRef<[u8]>>(patterns: &[P]) -> Result<OverlappingMatcher, String> {
        let automaton = daachorse::DoubleArrayAhoCorasick::new(patterns.iter().map(AsRef::as_ref))
            .map_err(|err| err.to_string())?;
        Ok(OverlappingMatcher { automaton })
    }

    /// Calls `found` with every match, in order of their ends.
    pub fn for_each(&self, haystack: &[u8], mut found: impl FnMut(LiteralMatch)) {
        for hit in self.automaton.find_overlapping_iter(haystack) {
            found(LiteralMatch { pattern: hit.value() as usize, start: hit.start(), end: hit.end() });
        }
    }

    /// Heap bytes used by the automaton.
    pub fn memory_usage(&self) -> usize {
        self.automaton.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both automata give the same leftmost-longest matches.
    #[test]
    fn automata_agree() {
        let patterns = ["fuck", "fucking", "赌博", "博彩", "a", "ab", "b c"];
        let haystack = "fucking 赌博彩 ab c a 赌";
        let all = |kind| {
            let Ok(matcher) = LiteralMatcher::build_with(kind, &patterns) else { panic!("builds") };
            let mut found = Vec::new();
            let mut at = 0;
            while let Some(m) = matcher.find_at(haystack, at) {
                found.push((m.pattern, m.start, m.end));
                at = m.end;
            }
            found
        };
        let expected = vec![(1, 0, 7), (2, 8, 14), (5, 18, 20), (4, 23, 24)];
        assert_eq!(all(AutomatonKind::AhoCorasick), expected);
        assert_eq!(all(AutomatonKind::Daachorse), expected);
    }
}
