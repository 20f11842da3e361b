//! The evaluation's published figures hold: on the shipped dictionaries,
//! ≥ 95% of generated evasive spellings are caught and ≤ 0.5% of ordinary
//! lines are flagged. The labelled positives are committed as
//! `tests/data/eval/positives.tsv` for review; rerun with
//! `WORDGATE_BLESS=1` after changing the dictionaries or the generator.

use wordgate::{dictionary_dir, eval};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn evaluation_meets_its_goals() {
    let engine = dictionary_dir::build(std::path::Path::new(&format!("{ROOT}/dictionaries")))
        .expect("shipped dictionaries");
    let negatives = eval::negatives(
        &std::fs::read_to_string(format!("{ROOT}/tests/data/eval/negatives.txt")).expect("negatives"),
    );
    assert!(negatives.len() >= 500, "the ordinary-text set shrank to {}", negatives.len());
    let positives = eval::positives(&engine, eval::SEED);

    let listed: String = positives
        .iter()
        .map(|case| format!("{}\t{}\t{}\n", case.category, case.evasion, case.text))
        .collect();
    let path = format!("{ROOT}/tests/data/eval/positives.tsv");
    if std::env::var_os("WORDGATE_BLESS").is_some() {
        std::fs::write(&path, &listed).expect("write positives");
    }
    assert_eq!(
        std::fs::read_to_string(&path).expect("positives.tsv"),
        listed,
        "regenerate with WORDGATE_BLESS=1"
    );

    let report = eval::evaluate(&engine, &positives, &negatives);
    assert!(report.recall() >= 0.95, "recall fell below 95%:\n{report}");
    assert!(report.false_positive_rate() <= 0.005, "false positives above 0.5%:\n{report}");
}
