//! Measuring the contact detectors (`detect:phone`, `detect:wechat`,
//! `detect:qq`, `detect:url`, `detect:email`) on the contact set
//! (`tests/data/eval/contact`): cases copied from other projects' tests,
//! public datasets and issue threads, each with its source. A positive is
//! caught when the detector it names hits; a negative is flagged when any
//! detector hits (other entries of the dictionaries are not counted: the
//! set measures the detectors).

use std::fmt;
use std::path::Path;

use super::{ratio, SourcedCase};
use crate::engine::{Detector, Engine, Place};

/// One row: a detector (or `-` for negatives) and a technique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// `detect:phone` …, or `-` for the negatives.
    pub word: String,
    /// How the contact is written, or what the negative holds.
    pub technique: String,
    /// Cases in the row.
    pub cases: usize,
    /// Positives caught, or negatives flagged.
    pub hits: usize,
}

/// What [`evaluate`] found.
#[derive(Clone, Debug, Default)]
pub struct ContactReport {
    /// Positives by detector and technique.
    pub positives: Vec<Row>,
    /// Negatives by technique.
    pub negatives: Vec<Row>,
    /// Missed positives and flagged negatives (`missed` / `flagged`, the
    /// detector, the text), for inspection.
    pub listed: Vec<(&'static str, String, String)>,
}

impl ContactReport {
    /// Recall of one detector's positives (all of them for `None`).
    pub fn recall(&self, detector: Option<Detector>) -> f64 {
        let name = detector.map(|d| format!("detect:{}", d.name()));
        let rows = self.positives.iter().filter(|row| name.as_ref().is_none_or(|name| &row.word == name));
        let (cases, hits) = rows.fold((0, 0), |(c, h), row| (c + row.cases, h + row.hits));
        ratio(hits, cases)
    }

    /// Share of negatives some detector hits.
    pub fn false_positive_rate(&self) -> f64 {
        let (cases, hits) = self.negatives.iter().fold((0, 0), |(c, h), row| (c + row.cases, h + row.hits));
        ratio(hits, cases.max(1))
    }

    /// Number of negative lines.
    pub fn negative_count(&self) -> usize {
        self.negatives.iter().map(|row| row.cases).sum()
    }
}

/// Reads `dir/cases/*.tsv`.
pub fn load(dir: &Path) -> Result<Vec<SourcedCase>, String> {
    super::load_cases(dir)
}

/// Runs the cases through `engine` (dictionaries that list the detectors)
/// as messages in `place`.
pub fn evaluate(engine: &Engine, place: &Place, cases: &[SourcedCase]) -> ContactReport {
    let mut report = ContactReport::default();
    for case in cases {
        let verdict = engine.check_text_in(&case.text, place);
        let detected: Vec<&str> = verdict
            .hits
            .iter()
            .map(|hit| hit.entry.as_str())
            .filter(|entry| entry.starts_with("detect:"))
            .collect();
        let (rows, word, hit) = if case.expect_hit {
            (&mut report.positives, case.word.clone(), detected.contains(&case.word.as_str()))
        } else {
            (&mut report.negatives, "-".to_string(), !detected.is_empty())
        };
        let row = match rows.iter().position(|r| r.word == word && r.technique == case.technique) {
            Some(index) => index,
            None => {
                rows.push(Row { word: word.clone(), technique: case.technique.clone(), ..Row::default() });
                rows.len() - 1
            }
        };
        rows[row].cases += 1;
        if hit {
            rows[row].hits += 1;
        }
        if case.expect_hit != hit {
            let what = if case.expect_hit { "missed" } else { "flagged" };
            let detector = if case.expect_hit { case.word.clone() } else { detected.join(",") };
            report.listed.push((what, detector, case.text.clone()));
        }
    }
    report.positives.sort_by(|a, b| (&a.word, &a.technique).cmp(&(&b.word, &b.technique)));
    report.negatives.sort_by(|a, b| a.technique.cmp(&b.technique));
    report
}

impl fmt::Display for ContactReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<15} {:<22} {:>6} {:>7} {:>8}", "detector", "technique", "cases", "caught", "rate")?;
        for row in &self.positives {
            let rate = 100.0 * ratio(row.hits, row.cases);
            writeln!(
                f,
                "{:<15} {:<22} {:>6} {:>7} {:>7.1}%",
                row.word, row.technique, row.cases, row.hits, rate
            )?;
        }
        for row in &self.negatives {
            let rate = 100.0 * ratio(row.hits, row.cases);
            writeln!(
                f,
                "{:<15} {:<22} {:>6} {:>7} {:>7.1}%  (clean: flagged)",
                "-", row.technique, row.cases, row.hits, rate
            )?;
        }
        let per_detector: Vec<String> = Detector::ALL
            .iter()
            .map(|&d| format!("{} {:.1}%", d.name(), 100.0 * self.recall(Some(d))))
            .collect();
        writeln!(
            f,
            "detectors: recall {:.1}% ({}); false positives {:.2}% of {} clean lines",
            100.0 * self.recall(None),
            per_detector.join(", "),
            100.0 * self.false_positive_rate(),
            self.negative_count()
        )
    }
}
