//! Text normalisation with an exact map back to the original bytes.
//!
//! Dictionary literals and message text go through the same folding, so that
//! `ｆｕｃｋ`, `FUCK` and `f\u{200b}uck` all meet the entry `fuck`. Matching
//! happens on the folded text, but masks must land on what the sender typed,
//! so every folded byte remembers the original character it came from.

use super::fold::{folds_to_itself, push_folded};
use super::steps::{view, Unit};

/// Text after folding, plus where each of its bytes came from.
///
/// When folding changes nothing (the common case for lower-case ASCII and for
/// most CJK chat text) no copy and no map are made: `origin` is empty and
/// offsets map to themselves.
#[derive(Debug, Default)]
pub struct Normalized {
    text: String,
    /// `origin[i]` is where folded byte `i` came from in the original text:
    /// the same byte for characters copied unchanged, the first byte of the
    /// character for characters that folded. Empty when nothing changed.
    origin: Vec<u32>,
    /// With folding steps (which can merge characters), `origin_end[i]` is
    /// where the original characters behind folded byte `i` end. Empty for
    /// the core folding alone, where each folded character comes from one
    /// original character.
    origin_end: Vec<u32>,
    /// `runs[i]` is how many times the character of folded byte `i` was
    /// written (a squeezed `谢谢` is one `谢` written twice). Empty when
    /// every character was written once.
    runs: Vec<u16>,
    identity: bool,
}

impl Normalized {
    /// Folds `original` into this buffer, reusing its allocations.
    ///
    /// Runs of characters that fold to themselves are copied in bulk; only
    /// the characters that change are folded one by one.
    pub fn fold_into(&mut self, original: &str) {
        self.text.clear();
        self.origin.clear();
        self.origin_end.clear();
        self.runs.clear();
        self.identity = true;
        let mut copied_to = 0;
        for (at, ch) in original.char_indices() {
            if folds_to_itself(ch) {
                continue;
            }
            if self.identity {
                self.identity = false;
                self.text.reserve(original.len());
                self.origin.reserve(original.len());
            }
            self.copy_unchanged(original, copied_to, at);
            let before = self.text.len();
            push_folded(ch, &mut self.text);
            let added = self.text.len() - before;
            self.origin.extend(std::iter::repeat_n(offset(at), added));
            copied_to = at + ch.len_utf8();
        }
        if !self.identity {
            self.copy_unchanged(original, copied_to, original.len());
        }
    }

    fn copy_unchanged(&mut self, original: &str, from: usize, to: usize) {
        self.text.push_str(&original[from..to]);
        self.origin.extend((from..to).map(offset));
    }

    /// Makes this buffer the text as it is: folding changed nothing.
    pub(crate) fn set_identity(&mut self) {
        self.text.clear();
        self.origin.clear();
        self.origin_end.clear();
        self.runs.clear();
        self.identity = true;
    }

    /// Fills this buffer with one view of folded `units` (see
    /// [`super::steps::view`]).
    pub(crate) fn fill_from_units(&mut self, units: &[Unit], leet: bool, squeeze: bool) {
        self.text.clear();
        self.origin.clear();
        self.origin_end.clear();
        self.runs.clear();
        self.identity = false;
        let Normalized { text, origin, origin_end, runs, .. } = self;
        text.reserve(units.len() * 3);
        origin.reserve(units.len() * 3);
        origin_end.reserve(units.len() * 3);
        let mut counting = false;
        view(units, leet, squeeze, |ch, start, end, run| {
            if run > 1 && !counting {
                counting = true;
                runs.resize(text.len(), 1);
            }
            // Four entries written and the surplus dropped, rather than a
            // loop of one or three: text alternating between ASCII and CJK
            // makes that loop's count a branch mispredicted ~30 times a
            // message.
            let added = ch.len_utf8();
            let at = origin.len();
            text.push(ch);
            origin.extend_from_slice(&[start; 4]);
            origin.truncate(at + added);
            origin_end.extend_from_slice(&[end; 4]);
            origin_end.truncate(at + added);
            if counting {
                runs.extend_from_slice(&[run; 4]);
                runs.truncate(at + added);
            }
        });
    }

    /// Where in the original text the character behind folded byte `at`
    /// starts.
    pub fn original_start(&self, at: usize) -> usize {
        if self.identity {
            return at;
        }
        self.origin.get(at).map_or(at, |&start| start as usize)
    }

    /// How many times the folded character at byte `at` was written.
    pub fn run_at(&self, at: usize) -> u16 {
        self.runs.get(at).copied().unwrap_or(1)
    }

    /// Whether some folded character was written more than once.
    pub fn has_runs(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Bytes held by the buffers.
    pub fn capacity(&self) -> usize {
        self.text.capacity()
            + (self.origin.capacity() + self.origin_end.capacity()) * 4
            + self.runs.capacity() * 2
    }

    /// Folds `original` into a new buffer.
    pub fn new(original: &str) -> Normalized {
        let mut normalized = Normalized::default();
        normalized.fold_into(original);
        normalized
    }

    /// The folded text; `original` must be the text given to `fold_into`.
    pub fn text<'a>(&'a self, original: &'a str) -> &'a str {
        if self.identity {
            original
        } else {
            &self.text
        }
    }

    /// Maps a span of the folded text back to a span of the original text.
    ///
    /// The result starts at the first original character that produced folded
    /// byte `start` and ends after the character that produced byte `end - 1`,
    /// so invisible characters dropped inside the span are covered too.
    pub fn original_span(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        if self.identity {
            return (start, end);
        }
        if start >= end || end > self.origin.len() {
            return (start.min(original.len()), start.min(original.len()));
        }
        let first = (self.origin[start] as usize).min(original.len());
        if let Some(&last) = self.origin_end.get(end - 1) {
            return (first, (last as usize).min(original.len()));
        }
        let mut end = (self.origin[end - 1] as usize).saturating_add(1).min(original.len());
        while !original.is_char_boundary(end) {
            end += 1;
        }
        (first, end)
    }
}

/// Offsets are u32: messages are a few KiB (Tencent caps them at 12 KB) and
/// the server refuses bodies above its limit; a larger offset saturates, and
/// `original_span` clamps, so even a gigantic `check` line cannot panic.
fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fold::fold;

    #[test]
    fn folds_case_width_and_invisibles() {
        assert_eq!(fold("ＦＵＣＫ"), "fuck");
        assert_eq!(fold("FuCk"), "fuck");
        assert_eq!(fold("f\u{200B}u\u{FEFF}c\u{00AD}k"), "fuck");
        assert_eq!(fold("ПРИВЕТ"), "привет");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("赌博"), "赌博");
        assert_eq!(fold("\u{200B}"), "");
    }

    #[test]
    fn unchanged_text_is_not_copied() {
        let n = Normalized::new("hello 世界");
        assert!(n.identity);
        assert_eq!(n.text("hello 世界"), "hello 世界");
        assert_eq!(n.original_span("hello 世界", 6, 9), (6, 9));
    }

    #[test]
    fn spans_map_back_over_invisible_characters() {
        let original = "a F\u{200B}UCK!";
        let n = Normalized::new(original);
        let folded = n.text(original);
        assert_eq!(folded, "a fuck!");
        let (s, e) = n.original_span(original, 2, 6);
        assert_eq!(&original[s..e], "F\u{200B}UCK");
    }

    #[test]
    fn spans_map_back_over_full_width() {
        let original = "说ｆｕｃｋ了";
        let n = Normalized::new(original);
        let folded = n.text(original);
        let at = folded.find("fuck").unwrap();
        let (s, e) = n.original_span(original, at, at + 4);
        assert_eq!(&original[s..e], "ｆｕｃｋ");
    }
}
