//! Chinese word boundaries for `@boundary segment`: a CJK hit must start
//! and end where a word segmenter puts word boundaries.
//!
//! Chinese writes no spaces, so a two-character entry can straddle two
//! words: `口交` in `路口|交通`, `色情` in `白色|情人节`, `大麻` in
//! `大麻烦`. The segmenter is `jieba-rs` (jieba's dictionary of ~350k
//! words, MIT), in search mode, which also reports the dictionary words
//! inside a long word, so `赌博机` has a boundary after `赌博` and still
//! hits it.
//!
//! Only the text around a hit is segmented (at most [`WINDOW`] characters
//! on each side), so clean text costs nothing. A hit costs one segmentation
//! of its window, about 10–30 µs; the dictionary loads once, on the first
//! build of dictionaries that use the mode (~0.3 s, ~40 MiB).

use std::sync::OnceLock;

use jieba_rs::Jieba;

use super::chars::{is_clause_break, is_ideograph};

/// Characters of context on each side of a hit that the segmenter sees.
pub const WINDOW: usize = 12;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Loads the segmenter's dictionary now (engine build), so no request
/// waits for it.
pub(crate) fn prepare() {
    let _ = jieba();
}

/// Whether the hit `text[start..end]` cuts through words, for a hit that
/// starts or ends with an ideograph (others are never dropped):
///
/// - a hit across a word boundary of the segmentation (`口交` across
///   `路口|交通`, `去死` across `去|死胡同`) must start and end on its word
///   boundaries;
/// - a hit inside one word must start and end on the boundaries of the
///   dictionary words inside it, which search mode reports (`赌博` in
///   `赌博|机` stays; `大麻` in `大|麻烦`, `靠` in `可靠` go).
///
/// The segmenter reads the entry as written between the text before and
/// after the hit, so noise inside the hit (`垃x圾`, `赌 博`) does not
/// confuse it.
pub(crate) fn straddles_words(text: &str, start: usize, end: usize, entry: &str) -> bool {
    let (Some(first), Some(last)) = (entry.chars().next(), entry.chars().next_back()) else { return false };
    if !is_ideograph(first) && !is_ideograph(last) {
        return false;
    }
    let (Some(before), Some(after)) =
        (text.get(window_start(text, start)..start), text.get(end..window_end(text, end)))
    else {
        return false;
    };
    let mut window = String::with_capacity(before.len() + entry.len() + after.len());
    window.push_str(before);
    window.push_str(entry);
    window.push_str(after);
    let (start, end) = (before.len(), before.len() + entry.len());
    let words = boundaries(&window, jieba().cut(&window, true));
    let crosses = words.iter().any(|&b| start < b && b < end);
    let (check_start, check_end) = (is_ideograph(first), is_ideograph(last));
    let on = |set: &[usize], offset: usize| set.contains(&offset);
    if crosses {
        return (check_start && !on(&words, start)) || (check_end && !on(&words, end));
    }
    let inner = boundaries(&window, jieba().cut_for_search(&window, true));
    (check_start && !on(&inner, start)) || (check_end && !on(&inner, end))
}

/// The offsets in `window` where the segmenter's `words` (slices of it)
/// start and end.
/// Whether a word of the segmenter's dictionary crosses the start or the
/// end of `text[start..end]` (a word of up to [`MAX_CROSSING`] characters on
/// either side of the edge): `读博士` holds `博士`, so a hit on `读博` cuts
/// it; in `来睹博吧` no word holds `来睹` or `博吧`. Dictionary look-ups
/// only, no segmentation: jieba's guesses at unknown words (`来睹|博`) say
/// nothing about the text, and a look-up is a few hundred instructions
/// where a cut of the window is tens of thousands.
pub(crate) fn crosses_dictionary_word(text: &str, start: usize, end: usize) -> bool {
    let jieba = jieba();
    let crosses = |edge: usize| {
        // Up to MAX_CROSSING character starts before the edge and ends
        // after it, nearest first: the two-character word across the edge
        // is looked up first, and it is the one most often there.
        let (mut befores, mut afters) = ([0usize; MAX_CROSSING], [0usize; MAX_CROSSING]);
        let mut before_count = 0;
        for (at, _) in text[..edge].char_indices().rev().take(MAX_CROSSING) {
            befores[before_count] = at;
            before_count += 1;
        }
        let mut after_count = 0;
        let mut to = edge;
        for ch in text[edge..].chars().take(MAX_CROSSING) {
            to += ch.len_utf8();
            afters[after_count] = to;
            after_count += 1;
        }
        befores[..before_count]
            .iter()
            .any(|&from| afters[..after_count].iter().any(|&to| jieba.has_word(&text[from..to])))
    };
    crosses(start) || crosses(end)
}

/// Whether `word` is in the segmenter's dictionary (`出生`, `几把`).
pub(crate) fn is_dictionary_word(word: &str) -> bool {
    jieba().has_word(word)
}

/// The most characters a crossing word has on one side of a hit's edge.
const MAX_CROSSING: usize = 3;

fn boundaries(window: &str, words: Vec<&str>) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(words.len() * 2 + 2);
    offsets.push(0);
    for word in words {
        let Some(at) = (word.as_ptr() as usize).checked_sub(window.as_ptr() as usize) else { continue };
        offsets.push(at);
        offsets.push(at + word.len());
    }
    offsets.push(window.len());
    offsets
}

fn window_start(text: &str, start: usize) -> usize {
    let mut from = start;
    for (taken, (at, ch)) in text[..start].char_indices().rev().enumerate() {
        if taken == WINDOW || is_clause_break(ch) {
            break;
        }
        from = at;
    }
    from
}

fn window_end(text: &str, end: usize) -> usize {
    let mut to = end;
    for (taken, (at, ch)) in text[end..].char_indices().enumerate() {
        if taken == WINDOW || is_clause_break(ch) {
            break;
        }
        to = end + at + ch.len_utf8();
    }
    to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn straddles(text: &str, hit: &str) -> bool {
        let start = text.find(hit).unwrap_or(0);
        straddles_words(text, start, start + hit.len(), hit)
    }

    #[test]
    fn word_boundaries() {
        assert!(straddles("路口交通", "口交"));
        assert!(straddles("我在路口交通很堵", "口交"));
        assert!(straddles("白色情人节快乐", "色情"));
        assert!(!straddles("赌博机", "赌博"));
        assert!(straddles("迷宫去死胡同", "去死"));
        assert!(straddles("大麻烦了", "大麻"));
        assert!(straddles("可靠度", "靠"));
        assert!(!straddles("你他妈的", "他妈的"));
        assert!(!straddles("有人在网上赌博吗", "赌博"));
        assert!(!straddles("法轮功学员", "法轮功"));
        assert!(!straddles("hello world", "world"));
        // The entry as written stands in for the hit: noise inside it does
        // not confuse the segmenter.
        let text = "这篇文章真的好垃x圾";
        let start = text.find('垃').unwrap_or(0);
        assert!(!straddles_words(text, start, text.len(), "垃圾"));
    }
}
