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

use crate::engine::chars::is_ideograph;
use crate::engine::steps::traditional_of;
use crate::engine::{Action, Engine, Place};
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

/// The evasions of one entry that apply to it.
fn evasions(entry: &str, rng: &mut Rng) -> Vec<(&'static str, String)> {
    let chars: Vec<char> = entry.chars().collect();
    let cjk = chars.iter().any(|&c| is_ideograph(c));
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
            let cjk = spelt.chars().any(is_ideograph);
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

/// Runs the labelled set through `engine`, as messages in `place` are
/// judged: the categories out of scope there have no row and their
/// positives are not counted.
pub fn evaluate(engine: &Engine, place: &Place, positives: &[Case], negatives: &[String]) -> Report {
    let mut report = Report { negatives: negatives.len(), ..Report::default() };
    for category in engine.categories() {
        if category.action != Action::Allow && category.scope.contains(place) {
            report.scores.push(Score { category: category.name.clone(), ..Score::default() });
        }
    }
    let row = |scores: &mut Vec<Score>, name: &str| scores.iter().position(|s| s.category == name);
    for case in positives {
        let Some(index) = row(&mut report.scores, &case.category) else { continue };
        let verdict = engine.check_text_in(&case.text, place);
        report.scores[index].positives += 1;
        if verdict.hits.iter().any(|hit| hit.category == case.category) {
            report.scores[index].detected += 1;
        } else {
            report.missed.push(case.clone());
        }
    }
    for line in negatives {
        let verdict = engine.check_text_in(line, place);
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
        // A category with nothing to generate (only `detect:` entries, say)
        // and nothing flagged has no row.
        for s in self.scores.iter().filter(|s| s.positives > 0 || s.false_positives > 0) {
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

/// A case of the third-party set: copied from a public source outside this
/// project (another filter's tests or issue threads), with that source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedCase {
    /// The source expects a hit (`hit`) or none (`clean`).
    pub expect_hit: bool,
    /// How the text is spelt (`leet`, `noise`, …) or what trap it is
    /// (`substring-trap`, `boundary-trap`, …).
    pub technique: String,
    /// The listed word it should hit (or could be mistaken for).
    pub word: String,
    /// `owner/repo@commit:path#Lline` or `owner/repo#issue`.
    pub source: String,
    /// The message.
    pub text: String,
    /// `en` or `zh`: whether the text has Chinese characters.
    pub language: &'static str,
}

/// Reads a third-party case file: `expect TAB technique TAB word TAB
/// source TAB text` per line, blank and `#` lines skipped. A malformed line
/// is an error naming `file` and the line.
pub fn sourced_cases(file: &str, text: &str) -> Result<Vec<SourcedCase>, String> {
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.splitn(5, '\t').collect();
        let [expect, technique, word, source, text] = fields[..] else {
            return Err(format!("{file}:{}: expected 5 tab-separated fields", index + 1));
        };
        let expect_hit = match expect {
            "hit" => true,
            "clean" => false,
            _ => return Err(format!("{file}:{}: expected `hit` or `clean`, found {expect:?}", index + 1)),
        };
        if source.trim().is_empty() || text.is_empty() {
            return Err(format!("{file}:{}: a case needs a source and a text", index + 1));
        }
        let language = if text.chars().any(is_ideograph) { "zh" } else { "en" };
        cases.push(SourcedCase {
            expect_hit,
            technique: technique.to_string(),
            word: word.to_string(),
            source: source.to_string(),
            text: text.to_string(),
            language,
        });
    }
    Ok(cases)
}

/// One row of the third-party table: a language and a technique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TechniqueRow {
    /// `en` or `zh`.
    pub language: &'static str,
    /// The technique (or trap).
    pub technique: String,
    /// Whether the cases of this row expect hits.
    pub expect_hit: bool,
    /// Cases in the row.
    pub cases: usize,
    /// Cases that got a hit (caught positives, or false positives).
    pub hit: usize,
}

/// The result of running the third-party set.
#[derive(Clone, Debug, Default)]
pub struct SourcedReport {
    /// Rows by language, then positives before traps, then technique.
    pub rows: Vec<TechniqueRow>,
    /// Positives that got no hit.
    pub missed: Vec<SourcedCase>,
    /// Clean cases that got a hit, with the entries that hit.
    pub flagged: Vec<(SourcedCase, Vec<String>)>,
}

impl SourcedReport {
    fn total(&self, expect_hit: bool) -> (usize, usize) {
        self.rows
            .iter()
            .filter(|row| row.expect_hit == expect_hit)
            .fold((0, 0), |(cases, hit), row| (cases + row.cases, hit + row.hit))
    }

    /// Positives caught / positives.
    pub fn recall(&self) -> f64 {
        let (cases, hit) = self.total(true);
        ratio(hit, cases)
    }

    /// Clean cases flagged / clean cases.
    pub fn false_positive_rate(&self) -> f64 {
        let (cases, hit) = self.total(false);
        if cases == 0 {
            0.0
        } else {
            hit as f64 / cases as f64
        }
    }

    /// Positives and clean cases.
    pub fn counts(&self) -> (usize, usize) {
        (self.total(true).0, self.total(false).0)
    }
}

/// Runs the third-party cases through `engine` (any blocking hit counts).
pub fn evaluate_sourced(engine: &Engine, cases: &[SourcedCase]) -> SourcedReport {
    let mut report = SourcedReport::default();
    for case in cases {
        let verdict = engine.check_text(&case.text);
        let hits: Vec<String> = verdict
            .hits
            .iter()
            .filter(|hit| {
                engine.categories().iter().any(|c| c.name == hit.category && c.action != Action::Allow)
            })
            .map(|hit| format!("{}:{}", hit.category, hit.entry))
            .collect();
        let row = match report.rows.iter().position(|row| {
            row.language == case.language
                && row.technique == case.technique
                && row.expect_hit == case.expect_hit
        }) {
            Some(index) => index,
            None => {
                report.rows.push(TechniqueRow {
                    language: case.language,
                    technique: case.technique.clone(),
                    expect_hit: case.expect_hit,
                    ..TechniqueRow::default()
                });
                report.rows.len() - 1
            }
        };
        report.rows[row].cases += 1;
        if !hits.is_empty() {
            report.rows[row].hit += 1;
        }
        match (case.expect_hit, hits.is_empty()) {
            (true, true) => report.missed.push(case.clone()),
            (false, false) => report.flagged.push((case.clone(), hits)),
            _ => {}
        }
    }
    report.rows.sort_by(|a, b| {
        (a.language, !a.expect_hit, &a.technique).cmp(&(b.language, !b.expect_hit, &b.technique))
    });
    report
}

impl fmt::Display for SourcedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<4} {:<20} {:>6} {:>7} {:>8}", "lang", "technique", "cases", "caught", "rate")?;
        for row in &self.rows {
            writeln!(
                f,
                "{:<4} {:<20} {:>6} {:>7} {:>7.1}%{}",
                row.language,
                row.technique,
                row.cases,
                row.hit,
                100.0 * ratio(row.hit, row.cases),
                if row.expect_hit { "" } else { "  (clean: flagged)" },
            )?;
        }
        let (positives, caught) = self.total(true);
        let (negatives, flagged) = self.total(false);
        writeln!(
            f,
            "all: recall {:.1}% ({caught} of {positives}), false positives {:.1}% ({flagged} of {negatives} clean)",
            100.0 * self.recall(),
            100.0 * self.false_positive_rate(),
        )
    }
}

/// The third-party set in `dir`: its dictionaries (`dir/dictionaries`, the
/// words of the filters the cases come from) compiled, and its cases
/// (`dir/cases/*.tsv`, in file-name order).
pub fn load_sourced(dir: &std::path::Path) -> Result<(Engine, Vec<SourcedCase>), String> {
    let engine = crate::dictionary_dir::build(&dir.join("dictionaries"))
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    Ok((engine, load_cases(dir)?))
}

/// The evaluation's ordinary chat and prose lines under `root` (the
/// project directory): the phonetic set's Chinese and English negatives
/// and `tests/data/eval/negatives.txt`. The `chat` and `detectors` benches
/// and `examples/detect_cost.rs` time the engine on them.
pub fn ordinary_lines(root: &std::path::Path) -> Result<Vec<String>, String> {
    let eval = root.join("tests/data/eval");
    let mut lines: Vec<String> = Vec::new();
    for file in ["negatives-zh.tsv", "negatives-en.tsv"] {
        let path = eval.join("phonetic/cases").join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        lines.extend(sourced_cases(file, &text)?.into_iter().map(|case| case.text));
    }
    let path = eval.join("negatives.txt");
    let text =
        std::fs::read_to_string(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    lines.extend(negatives(&text));
    Ok(lines)
}

/// The cases of `dir/cases/*.tsv`, files in name order.
pub fn load_cases(dir: &std::path::Path) -> Result<Vec<SourcedCase>, String> {
    let cases_dir = dir.join("cases");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&cases_dir)
        .map_err(|err| format!("cannot read {}: {err}", cases_dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "tsv"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        cases.extend(sourced_cases(&path.display().to_string(), &text)?);
    }
    Ok(cases)
}

pub mod contact;
pub mod phonetic;
