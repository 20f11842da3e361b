//! Measuring the engine: precision, recall and false-positive rate per
//! category, on a labelled set.
//!
//! Positives are generated from a fixed seed: every literal entry of every
//! blocking category, spelt the ways evaders spell it (traditional
//! characters, noise between characters, look-alike letters, leetspeak,
//! repeated characters, case and width, and pairs of these), inside a short
//! ordinary sentence. Negatives are ordinary chat lines and known
//! false-positive traps, written by hand (`tests/data/eval/negatives.txt`).
//! `wordgate eval` prints the table; a test holds the goals.

use std::fmt;

use crate::engine::steps::traditional_of;
use crate::engine::{Action, Engine};
use crate::synthetic::Rng;

/// The seed of the published figures.
pub const SEED: u64 = 2026;

/// One labelled message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The category it must hit.
    pub category: String,
    /// How it was spelt (`noise`, `leet`, …).
    pub evasion: &'static str,
    /// The message.
    pub text: String,
}

const CJK_CONTEXTS: &[(&str, &str)] = &[
    ("", ""),
    ("你好，", "吧"),
    ("我觉得", "挺好的"),
    ("今天", "。"),
    ("听说有人在", "，真的吗"),
    ("看这个：", ""),
];
const LATIN_CONTEXTS: &[(&str, &str)] = &[
    ("", ""),
    ("hey ", " lol"),
    ("what the ", "!"),
    ("they said ", " again"),
    ("omg ", " 😂"),
    ("我说 ", " 了"),
];
// No `。`: clause punctuation is never skipped (see `engine::steps`).
const CJK_NOISE: &[&str] = &[" ", "*", "·", "😀", "-", "_", "~", " ", "/", "❤"];
const LATIN_NOISE: &[&str] = &[".", " ", "-", "*", "_"];

/// Look-alikes for Latin letters, in the styles evaders use.
fn look_alike(letter: char, style: usize) -> Option<char> {
    let index = (letter as u32).checked_sub('a' as u32)?;
    if index >= 26 {
        return None;
    }
    let cyrillic = |c: char| match c {
        'a' => Some('а'),
        'c' => Some('с'),
        'e' => Some('е'),
        'o' => Some('о'),
        'p' => Some('р'),
        'x' => Some('х'),
        'y' => Some('у'),
        'i' => Some('і'),
        _ => None,
    };
    match style % 5 {
        0 => cyrillic(letter).or_else(|| char::from_u32(0x1D41A + index)),
        1 => char::from_u32(0x1D41A + index), // mathematical bold
        2 => char::from_u32(0x24D0 + index),  // circled
        3 => char::from_u32(0xFF41 + index),  // full width
        _ => char::from_u32(0x1D5EE + index), // sans-serif bold
    }
}

fn leet_of(letter: char) -> Option<&'static str> {
    Some(match letter {
        'a' => "4",
        'e' => "3",
        'i' => "1",
        'o' => "0",
        's' => "$",
        't' => "7",
        _ => return None,
    })
}

fn is_cjk(ch: char) -> bool {
    ('\u{3400}'..='\u{9FFF}').contains(&ch)
}

/// The evasions of one entry that apply to it.
fn evasions(entry: &str, rng: &mut Rng) -> Vec<(&'static str, String)> {
    let chars: Vec<char> = entry.chars().collect();
    let cjk = chars.iter().any(|&c| is_cjk(c));
    let mut out = Vec::new();
    out.push(("plain", entry.to_string()));
    if cjk {
        if chars.iter().any(|&c| traditional_of(c).is_some()) {
            out.push(("traditional", chars.iter().map(|&c| traditional_of(c).unwrap_or(c)).collect()));
        }
        if chars.len() >= 2 {
            out.push(("noise", join_with(&chars, || CJK_NOISE[rng.below(CJK_NOISE.len())])));
            let at = rng.below(chars.len());
            let mut repeated = String::new();
            for (i, &c) in chars.iter().enumerate() {
                let times = if i == at { 3 + rng.below(3) } else { 1 };
                repeated.extend(std::iter::repeat_n(c, times));
            }
            out.push(("repeats", repeated));
            let noisy_traditional: Vec<char> =
                chars.iter().map(|&c| traditional_of(c).unwrap_or(c)).collect();
            out.push(("traditional+noise", join_with(&noisy_traditional, || CJK_NOISE[rng.below(4)])));
        }
        return out;
    }
    let letters = chars.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if letters == 0 {
        return out;
    }
    out.push(("upper", entry.to_uppercase()));
    out.push(("full-width", chars.iter().map(|&c| look_alike(c, 3).unwrap_or(c)).collect()));
    let style = rng.below(5);
    let picks = pick_letters(&chars, 2, rng);
    out.push((
        "confusables",
        chars
            .iter()
            .enumerate()
            .map(|(i, &c)| if picks.contains(&i) { look_alike(c, style).unwrap_or(c) } else { c })
            .collect(),
    ));
    let styled = rng.below(5);
    out.push(("styled", chars.iter().map(|&c| look_alike(c, styled).unwrap_or(c)).collect()));
    let leet_positions: Vec<usize> = (0..chars.len()).filter(|&i| leet_of(chars[i]).is_some()).collect();
    if !leet_positions.is_empty() {
        let at = leet_positions[rng.below(leet_positions.len())];
        let mut leet = String::new();
        for (i, &c) in chars.iter().enumerate() {
            match leet_of(c) {
                Some(symbol) if i == at || (rng.below(3) == 0 && i != 0) => leet.push_str(symbol),
                _ => leet.push(c),
            }
        }
        // A word made only of leet digits is a number, not a word.
        if leet.chars().any(|c| c.is_ascii_alphabetic()) {
            out.push(("leet", leet));
        }
    }
    if !entry.contains(' ') && chars.len() >= 3 {
        let separator = LATIN_NOISE[rng.below(LATIN_NOISE.len())];
        out.push(("noise", join_with(&chars, || separator)));
        let vowels: Vec<usize> = (0..chars.len()).filter(|&i| "aeiouy".contains(chars[i])).collect();
        if let Some(&at) = vowels.get(rng.below(vowels.len().max(1))) {
            let mut repeated = String::new();
            for (i, &c) in chars.iter().enumerate() {
                let times = if i == at { 3 + rng.below(4) } else { 1 };
                repeated.extend(std::iter::repeat_n(c, times));
            }
            out.push(("repeats", repeated));
        }
        let shouted: Vec<char> = entry.to_uppercase().chars().collect();
        out.push(("upper+noise", join_with(&shouted, || separator)));
    }
    out
}

fn join_with<'a>(chars: &[char], mut separator: impl FnMut() -> &'a str) -> String {
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 {
            out.push_str(separator());
        }
        out.push(*c);
    }
    out
}

fn pick_letters(chars: &[char], count: usize, rng: &mut Rng) -> Vec<usize> {
    let letters: Vec<usize> = (0..chars.len()).filter(|&i| chars[i].is_ascii_alphabetic()).collect();
    (0..count).map(|_| letters[rng.below(letters.len())]).collect()
}

/// Generates the positive cases for an engine's blocking categories.
pub fn positives(engine: &Engine, seed: u64) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    let mut cases = Vec::new();
    for (category, entry) in engine.literal_entries() {
        if category.action == Action::Allow {
            continue;
        }
        for (evasion, spelt) in evasions(entry, &mut rng) {
            let cjk = spelt.chars().any(is_cjk);
            let contexts = if cjk { CJK_CONTEXTS } else { LATIN_CONTEXTS };
            let (before, after) = contexts[rng.below(contexts.len())];
            cases.push(Case {
                category: category.name.clone(),
                evasion,
                text: format!("{before}{spelt}{after}"),
            });
        }
    }
    cases
}

/// Scores for one category.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// The category.
    pub category: String,
    /// Positive cases generated from it.
    pub positives: usize,
    /// Of those, how many hit it.
    pub detected: usize,
    /// Negative lines it hit.
    pub false_positives: usize,
}

impl Score {
    /// detected / positives.
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.positives)
    }

    /// detected / (detected + false positives).
    pub fn precision(&self) -> f64 {
        ratio(self.detected, self.detected + self.false_positives)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// The result of an evaluation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One row per blocking category.
    pub scores: Vec<Score>,
    /// Negative lines.
    pub negatives: usize,
    /// Negative lines hit by any blocking category.
    pub flagged_negatives: usize,
    /// Positives missed, for inspection.
    pub missed: Vec<Case>,
    /// Negative lines flagged, with the categories that hit them.
    pub flagged: Vec<(String, Vec<String>)>,
}

impl Report {
    /// Recall over every positive.
    pub fn recall(&self) -> f64 {
        let detected = self.scores.iter().map(|s| s.detected).sum();
        ratio(detected, self.scores.iter().map(|s| s.positives).sum())
    }

    /// Share of negative lines flagged.
    pub fn false_positive_rate(&self) -> f64 {
        if self.negatives == 0 {
            0.0
        } else {
            self.flagged_negatives as f64 / self.negatives as f64
        }
    }
}

/// Runs the labelled set through `engine`.
pub fn evaluate(engine: &Engine, positives: &[Case], negatives: &[String]) -> Report {
    let mut report = Report { negatives: negatives.len(), ..Report::default() };
    for category in engine.categories() {
        if category.action != Action::Allow {
            report.scores.push(Score { category: category.name.clone(), ..Score::default() });
        }
    }
    let row = |scores: &mut Vec<Score>, name: &str| scores.iter().position(|s| s.category == name);
    for case in positives {
        let verdict = engine.check_text(&case.text);
        let Some(index) = row(&mut report.scores, &case.category) else { continue };
        report.scores[index].positives += 1;
        if verdict.hits.iter().any(|hit| hit.category == case.category) {
            report.scores[index].detected += 1;
        } else {
            report.missed.push(case.clone());
        }
    }
    for line in negatives {
        let verdict = engine.check_text(line);
        let mut hit_by: Vec<String> = verdict.hits.iter().map(|hit| hit.category.clone()).collect();
        hit_by.sort();
        hit_by.dedup();
        if hit_by.is_empty() {
            continue;
        }
        report.flagged_negatives += 1;
        for category in &hit_by {
            if let Some(index) = row(&mut report.scores, category) {
                report.scores[index].false_positives += 1;
            }
        }
        report.flagged.push((line.clone(), hit_by));
    }
    report
}

/// Negative lines from a file's text: one per line, `#` lines and blank
/// lines skipped.
pub fn negatives(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<14} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8}",
            "category", "positives", "detected", "recall", "precision", "false pos", "fp rate"
        )?;
        for s in &self.scores {
            writeln!(
                f,
                "{:<14} {:>9} {:>9} {:>7.1}% {:>8.1}% {:>9} {:>7.2}%",
                s.category,
                s.positives,
                s.detected,
                100.0 * s.recall(),
                100.0 * s.precision(),
                s.false_positives,
                100.0 * ratio(s.false_positives, self.negatives),
            )?;
        }
        let positives: usize = self.scores.iter().map(|s| s.positives).sum();
        writeln!(
            f,
            "{:<14} {:>9} {:>9} {:>7.1}%           {:>9} {:>7.2}%  (of {} negative lines)",
            "all",
            positives,
            self.scores.iter().map(|s| s.detected).sum::<usize>(),
            100.0 * self.recall(),
            self.flagged_negatives,
            100.0 * self.false_positive_rate(),
            self.negatives,
        )
    }
}
