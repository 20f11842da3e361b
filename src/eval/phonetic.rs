//! Measuring the phonetic steps (`pinyin`, `homophones`, `split`): recall per
//! step on positives generated from a dictionary directory's Chinese entries
//! and on third-party cases, and false positives on ordinary text with all
//! three steps on.
//!
//! The shipped dictionaries do not switch these steps on, so the evaluation
//! adds them to every file (`+pinyin` and so on after the file's own
//! `@fold`), one engine per step: a step's positives are measured with that
//! step alone, the `mixed` ones and the negatives with all three.

use std::fmt;
use std::path::Path;

use pinyin::ToPinyin;

use super::{ratio, SourcedCase, CJK_CONTEXTS};
use crate::engine::chars::is_ideograph;
use crate::engine::steps::traditional_of;
use crate::engine::{Action, DictionarySource, Engine};
use crate::synthetic::Rng;

/// The steps measured, each with the techniques of its positives.
pub const STEPS: [&str; 3] = ["pinyin", "homophones", "split"];

/// One generated or collected positive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneticCase {
    /// `pinyin`, `homophones`, `split` or `mixed` (all three on).
    pub step: &'static str,
    /// How it is spelt (`joined`, `spaced`, `toned`, …).
    pub technique: &'static str,
    /// The entry it must hit, as written.
    pub entry: String,
    /// The message.
    pub text: String,
}

/// One row of the table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// The step on (`mixed`: all three; `third-party`: the set's own).
    pub step: &'static str,
    /// How the cases are spelt.
    pub technique: String,
    /// Cases in the row.
    pub cases: usize,
    /// Of those, how many hit the entry meant.
    pub caught: usize,
}

/// What [`evaluate`] found.
#[derive(Clone, Debug, Default)]
pub struct PhoneticReport {
    /// Generated positives, by step and technique.
    pub generated: Vec<Row>,
    /// Third-party positives, by technique (their dictionary's own steps).
    pub sourced: Vec<Row>,
    /// Negative lines.
    pub negatives: usize,
    /// Negative lines hit with all three steps on (the dictionaries and the
    /// third-party dictionary together).
    pub flagged_all_on: usize,
    /// Negative lines hit with the default steps (the dictionaries as they
    /// are, the third-party dictionary without the phonetic steps).
    pub flagged_default: usize,
    /// Positives missed, for inspection.
    pub missed: Vec<PhoneticCase>,
    /// Flagged negatives, with the entries that hit.
    pub flagged: Vec<(String, Vec<String>)>,
}

impl PhoneticReport {
    /// Recall of the generated positives of `step` (all of them for `None`).
    pub fn recall(&self, step: Option<&str>) -> f64 {
        let rows = self.generated.iter().filter(|row| step.is_none_or(|step| row.step == step));
        let (cases, caught) = rows.fold((0, 0), |(c, h), row| (c + row.cases, h + row.caught));
        ratio(caught, cases)
    }

    /// Recall of the third-party positives.
    pub fn sourced_recall(&self) -> f64 {
        let (cases, caught) = self.sourced.iter().fold((0, 0), |(c, h), row| (c + row.cases, h + row.caught));
        ratio(caught, cases)
    }

    /// Share of negatives flagged with all three steps on.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.flagged_all_on, self.negatives.max(1))
    }

    /// Share of negatives flagged with the default steps.
    pub fn default_false_positive_rate(&self) -> f64 {
        ratio(self.flagged_default, self.negatives.max(1))
    }
}

/// `sources` with `extra` (such as `+pinyin`) added to every file's fold
/// steps.
pub fn with_steps(sources: &[DictionarySource], extra: &str) -> Vec<DictionarySource> {
    sources
        .iter()
        .map(|source| {
            let mut found = false;
            let mut text = String::with_capacity(source.text.len() + 32);
            for line in source.text.lines() {
                if !found && line.trim_start().starts_with("@fold") {
                    found = true;
                    text.push_str(line.split('#').next().unwrap_or(line).trim_end());
                    text.push(' ');
                    text.push_str(extra);
                } else {
                    text.push_str(line);
                }
                text.push('\n');
            }
            if !found {
                text = format!("@fold default {extra}\n{text}");
            }
            DictionarySource::new(source.path.clone(), text)
        })
        .collect()
}

fn build(sources: &[DictionarySource]) -> Result<Engine, String> {
    Engine::build(sources)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
}

/// Generates the positives of every Chinese entry of two or more
/// characters of `engine`'s blocking categories.
pub fn positives(engine: &Engine, seed: u64) -> Vec<PhoneticCase> {
    let mut rng = Rng::new(seed);
    let homophones = homophone_table();
    let mut cases = Vec::new();
    for (category, entry) in engine.literal_entries() {
        if category.action == Action::Allow {
            continue;
        }
        let chars: Vec<char> = entry.chars().collect();
        if chars.len() < 2 || !chars.iter().all(|&c| is_ideograph(c)) {
            continue;
        }
        let Some(readings) = chars.iter().map(|c| c.to_pinyin()).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let plain: Vec<&str> = readings.iter().map(|r| r.plain()).collect();
        if plain.iter().any(|r| r.contains('ü')) {
            continue;
        }
        let mut push = |step, technique, text: String| {
            let (before, after) = CJK_CONTEXTS[rng.below(CJK_CONTEXTS.len())];
            cases.push(PhoneticCase {
                step,
                technique,
                entry: entry.to_string(),
                text: format!("{before}{text}{after}"),
            });
        };
        let title: Vec<String> = plain.iter().map(|r| capitalised(r)).collect();
        push("pinyin", "joined", plain.concat());
        push("pinyin", "spaced", plain.join(" "));
        push("pinyin", "capitalised", title.concat());
        push("pinyin", "upper", plain.concat().to_uppercase());
        push("pinyin", "tone-marks", readings.iter().map(|r| r.with_tone()).collect::<Vec<_>>().join(" "));
        push("pinyin", "tone-digits", readings.iter().map(|r| r.with_tone_num_end()).collect::<String>());
        let half = chars.len() / 2;
        let mixed: String = chars[..half].iter().collect::<String>() + plain[half..].concat().as_str();
        push("pinyin", "half-and-half", mixed);
        // One character written as a homophone (the entry's first reading).
        let at = cases_len_hint(entry) % chars.len();
        if let Some(candidates) = homophones.get(plain[at]) {
            let others: Vec<char> = candidates.iter().copied().filter(|&c| c != chars[at]).collect();
            if !others.is_empty() {
                let substitute = others[(entry.len() * 7 + at) % others.len()];
                let mut spelt = chars.clone();
                spelt[at] = substitute;
                push("homophones", "one-character", spelt.iter().collect());
            }
        }
        // One character written as its two components.
        if let Some((at, (first, second))) =
            chars.iter().enumerate().find_map(|(i, &c)| crate::engine::split_components(c).map(|p| (i, p)))
        {
            let mut spelt = String::new();
            for (i, &c) in chars.iter().enumerate() {
                if i == at {
                    spelt.push(first);
                    spelt.push(second);
                } else {
                    spelt.push(c);
                }
            }
            push("split", "one-character", spelt.clone());
            // With the others traditional and noise between.
            let mut noisy = String::new();
            for (i, &c) in chars.iter().enumerate() {
                if i > 0 {
                    noisy.push('*');
                }
                if i == at {
                    noisy.push(first);
                    noisy.push(second);
                } else {
                    noisy.push(traditional_of(c).unwrap_or(c));
                }
            }
            push("mixed", "split+traditional+noise", noisy);
        }
        push("mixed", "pinyin+noise", plain.join("*"));
        let traditional_then_pinyin: String =
            chars[..half].iter().map(|&c| traditional_of(c).unwrap_or(c)).collect::<String>()
                + plain[half..].join(" ").as_str();
        push("mixed", "traditional+pinyin", traditional_then_pinyin);
    }
    cases
}

fn cases_len_hint(entry: &str) -> usize {
    entry.chars().map(|c| c as usize).sum()
}

fn capitalised(reading: &str) -> String {
    let mut chars = reading.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Toneless first reading → the common ideographs read that way first.
fn homophone_table() -> std::collections::HashMap<&'static str, Vec<char>> {
    let mut table: std::collections::HashMap<&'static str, Vec<char>> = std::collections::HashMap::new();
    for ch in '\u{4E00}'..='\u{9FA5}' {
        if let Some(reading) = ch.to_pinyin() {
            table.entry(reading.plain()).or_default().push(ch);
        }
    }
    table
}

/// Runs the phonetic evaluation: `sources` are the dictionaries whose
/// entries the positives are generated from, `sourced` the third-party
/// phonetic set (its dictionary and cases), `negatives` ordinary text.
pub fn evaluate(
    sources: &[DictionarySource],
    sourced: &PhoneticSet,
    negatives: &[String],
    seed: u64,
) -> Result<PhoneticReport, String> {
    let default = build(sources)?;
    let all_on = build(&with_steps(sources, "+pinyin +homophones +split"))?;
    let mut engines = Vec::new();
    for step in STEPS {
        engines.push((step, build(&with_steps(sources, &format!("+{step}")))?));
    }
    let mut report = PhoneticReport::default();
    for case in positives(&default, seed) {
        let engine = engines.iter().find(|(step, _)| *step == case.step).map_or(&all_on, |(_, e)| e);
        let caught = engine.check_text(&case.text).hits.iter().any(|hit| hit.entry == case.entry);
        let row = row_for(&mut report.generated, case.step, case.technique);
        row.cases += 1;
        if caught {
            row.caught += 1;
        } else {
            report.missed.push(case);
        }
    }
    let (sourced_engine, sourced_cases) = (&sourced.engine, &sourced.cases);
    for case in sourced_cases.iter().filter(|case| case.expect_hit) {
        let caught = !sourced_engine.check_text(&case.text).hits.is_empty();
        let row = row_for(&mut report.sourced, "third-party", &case.technique);
        row.cases += 1;
        if caught {
            row.caught += 1;
        } else {
            report.missed.push(PhoneticCase {
                step: "third-party",
                technique: "sourced",
                entry: case.word.clone(),
                text: case.text.clone(),
            });
        }
    }
    let clean = sourced_cases.iter().filter(|case| !case.expect_hit).map(|case| case.text.clone());
    let negatives: Vec<String> = negatives.iter().cloned().chain(clean).collect();
    report.negatives = negatives.len();
    for line in &negatives {
        let mut hits: Vec<String> = Vec::new();
        // The contact detectors are measured by the contact set; a real
        // address in a treebank sentence is not a phonetic false positive.
        let counted = |hit: &&crate::engine::Hit| !hit.entry.starts_with("detect:");
        for engine in [&all_on, sourced_engine] {
            let verdict = engine.check_text(line);
            hits.extend(
                verdict.hits.iter().filter(counted).map(|hit| format!("{}:{}", hit.category, hit.entry)),
            );
        }
        if !hits.is_empty() {
            report.flagged_all_on += 1;
            report.flagged.push((line.clone(), hits));
        }
        if [&default, &sourced.defaults]
            .iter()
            .any(|engine| engine.check_text(line).hits.iter().any(|h| counted(&h)))
        {
            report.flagged_default += 1;
        }
    }
    Ok(report)
}

/// The row of `rows` for `step` and `technique`, added if new.
fn row_for<'r>(rows: &'r mut Vec<Row>, step: &'static str, technique: &str) -> &'r mut Row {
    let index = match rows.iter().position(|r| r.step == step && r.technique == technique) {
        Some(index) => index,
        None => {
            rows.push(Row { step, technique: technique.to_string(), ..Row::default() });
            rows.len() - 1
        }
    };
    &mut rows[index]
}

/// The third-party phonetic set: its dictionaries compiled as written and
/// again with the phonetic steps taken out (the baseline the negatives are
/// compared with), and its cases.
pub struct PhoneticSet {
    /// The set's dictionaries as written.
    pub engine: Engine,
    /// The same files with `pinyin`, `homophones` and `split` removed from
    /// every `@fold`.
    pub defaults: Engine,
    /// Positives and clean lines.
    pub cases: Vec<SourcedCase>,
}

/// Loads the third-party phonetic set in `dir` (`dictionaries/` and `cases/`).
pub fn load(dir: &Path) -> Result<PhoneticSet, String> {
    let (engine, cases) = super::load_sourced(dir)?;
    let (sources, errors) = crate::dictionary_dir::load(&dir.join("dictionaries"));
    if let Some(error) = errors.first() {
        return Err(error.to_string());
    }
    let defaults = build(&without_steps(&sources))?;
    Ok(PhoneticSet { engine, defaults, cases })
}

/// `sources` with the phonetic step names removed from every `@fold` line.
pub fn without_steps(sources: &[DictionarySource]) -> Vec<DictionarySource> {
    sources
        .iter()
        .map(|source| {
            let mut text = String::with_capacity(source.text.len());
            for line in source.text.lines() {
                if line.trim_start().starts_with("@fold") {
                    let directive = line.split('#').next().unwrap_or(line);
                    let kept: Vec<&str> = directive
                        .split_whitespace()
                        .filter(|word| !STEPS.contains(&word.trim_start_matches(['+', '-'])))
                        .collect();
                    // `@fold +pinyin` alone would become a bare `@fold`.
                    text.push_str(if kept.len() == 1 { "@fold default" } else { "" });
                    if kept.len() > 1 {
                        text.push_str(&kept.join(" "));
                    }
                } else {
                    text.push_str(line);
                }
                text.push('\n');
            }
            DictionarySource::new(source.path.clone(), text)
        })
        .collect()
}

impl fmt::Display for PhoneticReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<12} {:<26} {:>6} {:>7} {:>8}", "step", "technique", "cases", "caught", "recall")?;
        for row in self.generated.iter().chain(&self.sourced) {
            writeln!(
                f,
                "{:<12} {:<26} {:>6} {:>7} {:>7.1}%",
                row.step,
                row.technique,
                row.cases,
                row.caught,
                100.0 * ratio(row.caught, row.cases)
            )?;
        }
        for step in STEPS {
            write!(f, "{step}: recall {:.1}%; ", 100.0 * self.recall(Some(step)))?;
        }
        writeln!(f, "third-party: recall {:.1}%", 100.0 * self.sourced_recall())?;
        writeln!(
            f,
            "negatives: {} lines; flagged with all three steps on {} ({:.2}%), with the default steps {} ({:.2}%)",
            self.negatives,
            self.flagged_all_on,
            100.0 * self.false_positive_rate(),
            self.flagged_default,
            100.0 * self.default_false_positive_rate(),
        )
    }
}
