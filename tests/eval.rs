//! The evaluation's published figures hold: on the shipped dictionaries,
//! ≥ 99% of generated evasive spellings are caught and ≤ 0.5% of ordinary
//! lines are flagged; on the third-party set (cases copied from other
//! filters' tests and issue threads, `tests/data/eval/thirdparty`), the
//! figures the README publishes. The labelled positives are committed as
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

    let report = eval::evaluate(&engine, &wordgate::engine::Place::default(), &positives, &negatives);
    assert!(report.recall() >= 0.99, "recall fell below 99%:\n{report}");
    assert!(report.false_positive_rate() <= 0.005, "false positives above 0.5%:\n{report}");
}

/// The published third-party figures (README, "Evaluation"). The issue's
/// goals are 95% and 2%; these are what the engine reaches today, held so
/// that no change makes them worse unnoticed.
const THIRD_PARTY_RECALL: f64 = 0.895;
const THIRD_PARTY_FALSE_POSITIVES: f64 = 0.011;

#[test]
fn third_party_set_meets_its_published_figures() {
    let (engine, cases) =
        eval::load_sourced(std::path::Path::new(&format!("{ROOT}/tests/data/eval/thirdparty")))
            .expect("loads");
    let positives = cases.iter().filter(|case| case.expect_hit).count();
    let clean = cases.len() - positives;
    assert!(cases.len() >= 300 && positives >= 150 && clean >= 100, "{positives} positives, {clean} clean");
    for language in ["en", "zh"] {
        assert!(
            cases.iter().filter(|case| case.language == language).count() >= 100,
            "too few {language} cases"
        );
    }
    assert_every_case_is_sourced(&cases);
    let report = eval::evaluate_sourced(&engine, &cases);
    assert!(report.recall() >= THIRD_PARTY_RECALL, "third-party recall fell:\n{report}");
    assert!(
        report.false_positive_rate() <= THIRD_PARTY_FALSE_POSITIVES,
        "third-party false positives rose:\n{report}"
    );
}

#[test]
fn malformed_case_lines_name_the_file_and_line() {
    let err = eval::sourced_cases("x.tsv", "hit\tplain\tfuck\tsrc\tfuck\nhit\tplain\n").expect_err("refused");
    assert_eq!(err, "x.tsv:2: expected 5 tab-separated fields");
    let err = eval::sourced_cases("x.tsv", "maybe\tplain\tw\tsrc\ttext\n").expect_err("refused");
    assert!(err.starts_with("x.tsv:1: expected `hit` or `clean`"), "{err}");
}

/// Every case names where it was copied from: a file at a commit, or an
/// issue thread.
fn assert_every_case_is_sourced(cases: &[eval::SourcedCase]) {
    for case in cases {
        let at_commit = case.source.split_once('@').is_some_and(|(repo, rest)| {
            repo.contains('/')
                && rest.len() > 41
                && rest[..40].bytes().all(|b| b.is_ascii_hexdigit())
                && &rest[40..41] == ":"
        });
        let thread = case.source.contains("github.com/")
            || case
                .source
                .split_once('#')
                .is_some_and(|(repo, n)| repo.contains('/') && n.bytes().all(|b| b.is_ascii_digit()));
        assert!(at_commit || thread, "no usable source for {:?}: {:?}", case.text, case.source);
    }
}

/// The published third-party figure of the phonetic set (README,
/// "Evaluation"), held so that no change makes it worse unnoticed.
const PHONETIC_THIRD_PARTY_RECALL: f64 = 0.61;

#[test]
fn phonetic_steps_meet_their_goals() {
    let (sources, errors) = dictionary_dir::load(std::path::Path::new(&format!("{ROOT}/dictionaries")));
    assert!(errors.is_empty(), "{errors:?}");
    let set = eval::phonetic::load(std::path::Path::new(&format!("{ROOT}/tests/data/eval/phonetic")))
        .expect("loads");
    assert_every_case_is_sourced(&set.cases);
    let positives = set.cases.iter().filter(|case| case.expect_hit).count();
    let clean = set.cases.len() - positives;
    assert!(positives >= 250 && clean >= 900, "{positives} positives, {clean} clean");
    let mut negatives = eval::negatives(
        &std::fs::read_to_string(format!("{ROOT}/tests/data/eval/negatives.txt")).expect("negatives"),
    );
    let (_, thirdparty) =
        eval::load_sourced(std::path::Path::new(&format!("{ROOT}/tests/data/eval/thirdparty")))
            .expect("loads");
    negatives.extend(thirdparty.iter().filter(|case| !case.expect_hit).map(|case| case.text.clone()));

    let report = eval::phonetic::evaluate(&sources, &set, &negatives, eval::SEED).expect("evaluates");
    for step in eval::phonetic::STEPS {
        assert!(report.recall(Some(step)) >= 0.95, "{step} recall below 95%:\n{report}");
    }
    assert!(report.recall(Some("mixed")) >= 0.95, "mixed recall below 95%:\n{report}");
    assert!(report.false_positive_rate() <= 0.005, "false positives with all three on above 0.5%:\n{report}");
    assert!(
        report.default_false_positive_rate() <= report.false_positive_rate(),
        "the default steps flag more than all three:\n{report}"
    );
    assert!(report.sourced_recall() >= PHONETIC_THIRD_PARTY_RECALL, "third-party recall fell:\n{report}");
}

#[test]
fn contact_detectors_meet_their_goals() {
    let engine = dictionary_dir::build(std::path::Path::new(&format!("{ROOT}/dictionaries")))
        .expect("shipped dictionaries");
    for (set, recall) in [("contact", 0.95), ("contact-heldout", 0.95)] {
        let cases = eval::contact::load(std::path::Path::new(&format!("{ROOT}/tests/data/eval/{set}")))
            .expect("loads");
        assert_every_case_is_sourced(&cases);
        let positives = cases.iter().filter(|case| case.expect_hit).count();
        assert!(
            positives >= 100 && cases.len() - positives >= 200,
            "{set}: {positives} positives of {}",
            cases.len()
        );
        let report = eval::contact::evaluate(&engine, &wordgate::engine::Place::default(), &cases);
        for detector in wordgate::engine::Detector::ALL {
            assert!(
                report.positives.iter().any(|row| row.word == format!("detect:{}", detector.name())),
                "{set} has no case for {detector:?}"
            );
        }
        assert!(report.recall(None) >= recall, "{set}: detector recall below {recall}:\n{report}");
        assert!(report.false_positive_rate() <= 0.005, "{set}: false positives above 0.5%:\n{report}");
    }
}

/// `wordgate eval --scope`: a category out of scope in the place has no
/// row and its positives are not counted; in scope, it is measured as
/// everywhere.
#[test]
fn evaluation_in_a_place_measures_only_the_lists_in_scope() {
    use wordgate::engine::Place;
    let sources = [
        wordgate::DictionarySource::new("ads.txt", "@action reject\n@scope group:AVChatRoom\n加群领福利\n"),
        wordgate::DictionarySource::new("rude.txt", "@action mask\nshithead\n"),
    ];
    let engine = wordgate::Engine::build(&sources).expect("dictionaries");
    let positives = eval::positives(&engine, eval::SEED);
    let negatives = vec!["你好".to_string(), "加群领福利".to_string()];
    let rows = |place: &[&str]| {
        let report = eval::evaluate(&engine, &Place::parse(place).expect("place"), &positives, &negatives);
        let rows: Vec<(String, bool)> =
            report.scores.iter().map(|score| (score.category.clone(), score.positives > 0)).collect();
        (rows, report.flagged_negatives)
    };
    let both = vec![("ads".to_string(), true), ("rude".to_string(), true)];
    assert_eq!(rows(&[]), (both.clone(), 1));
    assert_eq!(rows(&["group:AVChatRoom"]), (both, 1));
    assert_eq!(rows(&["c2c"]), (vec![("rude".to_string(), true)], 0), "加群领福利 is fine one-to-one");
}
