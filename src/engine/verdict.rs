//! Turning matches into a decision: which action wins, which category's
//! code and info go with a reject, and how masked text is rewritten.
//!
//! Severity is reject > discard > mask > review > allow: the most severe
//! category hit anywhere in the message decides. When several reject
//! categories hit, the one that comes first in priority order (file-name
//! order when loaded from a directory) supplies `ErrorCode` and `ErrorInfo`;
//! that makes the answer independent of where in the message each word was.

use std::ops::Range;

use serde::Serialize;

use super::{Action, Engine, Match, Place};

/// One dictionary hit, as reported to users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The category (dictionary file stem).
    pub category: String,
    /// The category's action.
    pub action: Action,
    /// The entry as written in the dictionary.
    pub entry: String,
    /// Where in the message, e.g. `MsgBody[0].MsgContent.Text`; absent for
    /// plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Byte offset of the hit in the original text of its field.
    pub start: usize,
    /// Byte offset just past the hit.
    pub end: usize,
    /// The original text of the hit.
    pub matched: String,
}

/// The verdict for one string (`wordgate check`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TextVerdict {
    /// The winning action, `allow` when nothing hit.
    pub decision: Action,
    /// The `ErrorCode` the callback would answer: a group's code for a
    /// place in a group, else an official-account or C2C callback's.
    pub error_code: u32,
    /// The `ErrorInfo` that goes with it.
    pub error_info: String,
    /// The text as it would be delivered: masked for `mask`, unchanged
    /// otherwise.
    pub text: String,
    /// Every hit, in order.
    pub hits: Vec<Hit>,
}

/// What a set of matches decides: the winning action and, for a reject,
/// the category whose code and info answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The winning action, `allow` when nothing hit.
    pub action: Action,
    /// For `reject`: the first rejecting category in priority order.
    pub reject: Option<u32>,
}

/// Picks the decision for a set of matches.
pub(crate) fn decide<'m>(engine: &Engine, matches: impl IntoIterator<Item = &'m Match>) -> Decision {
    let mut action = Action::Allow;
    let mut reject: Option<u32> = None;
    for found in matches {
        let category_action = engine.category(found.category).action;
        action = action.max(category_action);
        if category_action == Action::Reject {
            reject = Some(reject.map_or(found.category, |c| c.min(found.category)));
        }
    }
    Decision { action, reject: if action == Action::Reject { reject } else { None } }
}

/// Renders a hit for users.
pub(crate) fn render(engine: &Engine, text: &str, hit: &Match, field: Option<String>) -> Hit {
    let category = engine.category(hit.category);
    Hit {
        category: category.name.clone(),
        action: category.action,
        entry: engine.entry(hit.entry).to_string(),
        field,
        start: hit.span.start,
        end: hit.span.end,
        matched: text.get(hit.span.clone()).unwrap_or_default().to_string(),
    }
}

/// The spans of `hits` that a mask verdict replaces, with their mask
/// characters.
pub(crate) fn mask_spans<'h>(
    engine: &Engine,
    hits: impl Iterator<Item = &'h Match>,
) -> Vec<(Range<usize>, char)> {
    hits.filter_map(|hit| {
        let category = engine.category(hit.category);
        (category.action == Action::Mask).then(|| (hit.span.clone(), category.mask))
    })
    .collect()
}

/// Replaces every character that starts inside one of `spans` with that
/// span's mask character: one mask per character, so the text keeps its
/// length in characters and no UTF-8 sequence is ever cut.
pub fn mask(text: &str, spans: &[(Range<usize>, char)]) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, ch) in text.char_indices() {
        match spans.iter().find(|(span, _)| span.contains(&at)) {
            Some((_, mask)) => out.push(*mask),
            None => out.push(ch),
        }
    }
    out
}

pub(crate) fn decide_text(engine: &Engine, text: &str, hits: &[Match], place: &Place) -> TextVerdict {
    let decision = decide(engine, hits);
    let (error_code, error_info) = match decision.reject.map(|index| engine.category(index)) {
        Some(category) => (category.reject_code(place.conversation), category.info.clone()),
        None if decision.action == Action::Discard => (2, String::new()),
        None => (0, String::new()),
    };
    let delivered = if decision.action == Action::Mask {
        mask(text, &mask_spans(engine, hits.iter()))
    } else {
        text.to_string()
    };
    TextVerdict {
        decision: decision.action,
        error_code,
        error_info,
        text: delivered,
        hits: hits.iter().map(|hit| render(engine, text, hit, None)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_characters_and_boundaries() {
        assert_eq!(mask("你是傻逼吗", &[(6..12, '*')]), "你是**吗");
        assert_eq!(mask("f\u{200B}uck off", &[(0..7, '#')]), "##### off");
        assert_eq!(mask("abc", &[]), "abc");
    }
}
