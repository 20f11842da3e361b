//! Invariants of masking and verdicts, over generated dictionaries and text.

use proptest::prelude::*;
use wordgate::engine::fold::fold;
use wordgate::{Action, DictionarySource, Engine};

/// Characters chosen to collide: a few Latin letters in both cases and
/// widths, CJK, invisible characters, spaces and punctuation.
fn text_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        'a', 'b', 'c', 'A', 'B', 'ａ', 'Ｂ', '赌', '博', '傻', '逼', ' ', '.', '\u{200B}', '\u{FE0F}',
        '\u{00AD}', 'é', 'ß', '😀',
    ])
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 0..max).prop_map(|chars| chars.into_iter().collect())
}

fn entry() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!['a', 'b', 'c', 'B', '赌', '博', '傻', 'é']), 1..4)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Dictionaries with only the core folding (`@fold none`), whose matches
/// the properties can predict with `fold`.
fn engine(action: &str, entries: &[String], allow: &[String]) -> Engine {
    engine_with("none", action, entries, allow)
}

fn engine_with(fold: &str, action: &str, entries: &[String], allow: &[String]) -> Engine {
    let list = |action: &str, entries: &[String]| {
        format!("@action {action}\n@fold {fold}\n{}\n", entries.join("\n"))
    };
    let mut sources = vec![DictionarySource::new("block.txt", list(action, entries))];
    if !allow.is_empty() {
        sources.push(DictionarySource::new("zz-allow.txt", list("allow", allow)));
    }
    match Engine::build(&sources) {
        Ok(engine) => engine,
        Err(errors) => panic!("generated dictionary does not compile: {errors:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Masking replaces characters one for one: never a cut UTF-8 sequence,
    /// never a changed length in characters, and only characters inside
    /// hits change.
    #[test]
    fn masking_keeps_characters(
        fold in prop::sample::select(vec!["none", "all -repeats"]),
        entries in prop::collection::vec(entry(), 1..6),
        input in text(24),
    ) {
        let verdict = engine_with(fold, "mask", &entries, &[]).check_text(&input);
        prop_assert_eq!(verdict.text.chars().count(), input.chars().count());
        for ((at, original), masked) in input.char_indices().zip(verdict.text.chars()) {
            let inside = verdict.hits.iter().any(|hit| hit.start <= at && at < hit.end);
            prop_assert_eq!(masked == '*', inside || original == '*', "at {} of {:?}", at, input);
        }
        for hit in &verdict.hits {
            prop_assert!(input.is_char_boundary(hit.start) && input.is_char_boundary(hit.end));
            prop_assert_eq!(&input[hit.start..hit.end], hit.matched.as_str());
        }
    }

    /// Text that contains no entry, even after folding, is allowed unchanged.
    #[test]
    fn text_without_entries_is_allowed(entries in prop::collection::vec(entry(), 1..6), input in text(24)) {
        let folded = fold(&input);
        prop_assume!(entries.iter().all(|entry| !folded.contains(&fold(entry))));
        let verdict = engine("reject", &entries, &[]).check_text(&input);
        prop_assert_eq!(verdict.decision, Action::Allow);
        prop_assert_eq!(verdict.text, input);
        prop_assert!(verdict.hits.is_empty());
    }

    /// The same dictionaries and text give the same verdict, every time and
    /// from every build.
    #[test]
    fn verdicts_are_deterministic(entries in prop::collection::vec(entry(), 1..6), input in text(24)) {
        let first = engine("mask", &entries, &[]).check_text(&input);
        let again = engine("mask", &entries, &[]);
        prop_assert_eq!(&first, &again.check_text(&input));
        prop_assert_eq!(&first, &again.check_text(&input));
    }

    /// An allow entry can only take hits away.
    #[test]
    fn allow_entries_never_make_a_verdict_more_severe(
        action in prop::sample::select(vec!["review", "mask", "discard", "reject"]),
        entries in prop::collection::vec(entry(), 1..6),
        allow in prop::collection::vec(entry(), 1..3),
        input in text(24),
    ) {
        let without = engine(action, &entries, &[]).check_text(&input);
        let with = engine(action, &entries, &allow).check_text(&input);
        prop_assert!(with.decision <= without.decision);
        prop_assert!(with.hits.len() <= without.hits.len());
    }
}

/// Characters contact details are made of, and the noise around them.
fn contact_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        '1', '3', '8', '0', '6', '①', '一', '八', '幺', '壹', '１', 'q', 'Q', 'v', 'x', 'w', '微', '信',
        '扣', '@', '＠', '.', '点', '。', '·', '[', ']', '(', ')', '/', ':', '：', '-', ' ', '\u{3000}',
        '\u{FE0F}', '\u{20E3}', 'a', 'c', 'o', 'm', 'n', '号', '群', '😀',
    ])
}

proptest! {
    /// The detectors never panic, and every span they report is a
    /// non-empty slice of the text on character boundaries.
    #[test]
    fn detector_spans_are_slices(chars in prop::collection::vec(contact_char(), 0..40)) {
        let text: String = chars.into_iter().collect();
        let mut spans = Vec::new();
        wordgate::engine::detect::find_all(&text, &wordgate::engine::Detector::ALL, |_, start, end| spans.push((start, end)));
        for (start, end) in spans {
            prop_assert!(start < end && end <= text.len(), "{start}..{end} of {text:?}");
            prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "{start}..{end} of {text:?}");
        }
    }
}
