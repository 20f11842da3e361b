//! Why a hit matched, for the people who read hits (the console): which
//! fold steps it needed, and which hits an allow list excused.
//!
//! Never on the request path. An explanation rebuilds the hit's entry alone
//! (a one-entry engine builds in well under a millisecond once the shared
//! tables are loaded) under smaller sets of its category's steps and keeps
//! the smallest set that still finds the same span: at most one build per
//! step the category has, nine at most.

use super::{DictionarySource, Engine, Match, Steps};

/// A hit an allow list excused, and the allow entry that did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppressed {
    /// The hit, as it would have counted.
    pub hit: Match,
    /// The allow list's match that covers it.
    pub allow: Match,
}

/// What made `found` (a match of `engine` in `text`) match: `["regex"]`
/// for a `re:` rule, `["detector"]` for a `detect:` entry, otherwise the
/// fold steps it needs (none when the entry is written as it stands, up to
/// case, width and invisible characters).
pub(crate) fn steps_for(engine: &Engine, text: &str, found: &Match) -> Vec<&'static str> {
    let entry = engine.entry(found.entry);
    if entry.starts_with("re:") {
        return vec!["regex"];
    }
    if entry.starts_with("detect:") {
        return vec!["detector"];
    }
    let category = engine.category(found.category);
    let boundary =
        category.boundary.directive_value().map_or(String::new(), |value| format!("@boundary {value}\n"));
    let finds_it = |steps: Steps| {
        // `none` first: the steps named are all there are.
        let source = DictionarySource::new(
            "explain.txt",
            format!("@action review\n{boundary}@fold none {steps}\n{entry}\n"),
        );
        let Ok(alone) = Engine::build(&[source]) else { return false };
        let mut matches = Vec::new();
        alone.find(text, &mut matches);
        matches.iter().any(|other| other.span == found.span)
    };
    let mut needed = category.steps;
    if finds_it(Steps::NONE) {
        return Vec::new();
    }
    // Greedy: drop every step the match does without. Steps rarely depend
    // on each other for one hit, so this is the smallest set in practice.
    for (_, step) in category.steps.each() {
        let without = needed.with(step, false);
        if finds_it(without) {
            needed = without;
        }
    }
    needed.each().map(|(name, _)| name).collect()
}
