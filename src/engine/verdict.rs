//! Turning hits into a verdict: which action wins, which code and info go
//! with it, and how masked text is rewritten.
//!
//! Severity is reject > discard > mask > review > allow: the most severe
//! category hit anywhere in the message decides. When several reject
//! categories hit, the one that comes first in priority order (file-name
//! order when loaded from a directory) supplies `ErrorCode` and `ErrorInfo`;
//! that makes the answer independent of where in the message each word was.

use std::ops::Range;

use serde::Serialize;
use serde_json::Value;

use super::{Action, Channel, Engine, SpanHit};

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
    /// The `ErrorCode` an official-account or C2C callback would answer.
    pub error_code: u32,
    /// The `ErrorInfo` that goes with it.
    pub error_info: String,
    /// The text as it would be delivered: masked for `mask`, unchanged
    /// otherwise.
    pub text: String,
    /// Every hit, in order.
    pub hits: Vec<Hit>,
}

/// The verdict for a whole message.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The winning action, `allow` when nothing hit.
    pub decision: Action,
    /// The `ErrorCode` to answer.
    pub error_code: u32,
    /// The `ErrorInfo` to answer.
    pub error_info: String,
    /// Every hit in every field, in message order.
    pub hits: Vec<Hit>,
    /// For `mask`: what to send back instead.
    pub rewrite: Option<Rewrite>,
}

/// A masked message: the whole `MsgBody`, and `CloudCustomData` when it
/// changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Rewrite {
    /// The rewritten `MsgBody`, identical to the input but for masked
    /// characters.
    pub msg_body: Value,
    /// The rewritten top-level `CloudCustomData`, when it had masked words.
    pub cloud_custom_data: Option<String>,
}

/// The decision and what goes with it, before hits are rendered.
pub(crate) struct Outcome {
    pub decision: Action,
    pub error_code: u32,
    pub error_info: String,
}

/// Picks the verdict for a set of hits.
pub(crate) fn outcome<'h>(
    engine: &Engine,
    hits: impl Iterator<Item = &'h SpanHit>,
    channel: Channel,
) -> Outcome {
    let mut decision = Action::Allow;
    let mut first_reject: Option<u32> = None;
    for hit in hits {
        let action = engine.category(hit.category).action;
        decision = decision.max(action);
        if action == Action::Reject {
            first_reject = Some(first_reject.map_or(hit.category, |c| c.min(hit.category)));
        }
    }
    match (decision, first_reject) {
        (Action::Reject, Some(index)) => {
            let category = engine.category(index);
            let code = match channel {
                Channel::Group => category.group_code,
                Channel::OfficialAccount | Channel::C2C => category.code,
            };
            Outcome { decision, error_code: code.unwrap_or(1), error_info: category.info.clone() }
        }
        (Action::Discard, _) => Outcome { decision, error_code: 2, error_info: String::new() },
        _ => Outcome { decision, error_code: 0, error_info: String::new() },
    }
}

/// Renders a hit for users.
pub(crate) fn render(engine: &Engine, text: &str, hit: &SpanHit, field: Option<String>) -> Hit {
    let category = engine.category(hit.category);
    Hit {
        category: category.name.clone(),
        action: category.action,
        entry: engine.entry_text(hit).to_string(),
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
    hits: impl Iterator<Item = &'h SpanHit>,
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

pub(crate) fn decide_text(engine: &Engine, text: &str, hits: &[SpanHit]) -> TextVerdict {
    let outcome = outcome(engine, hits.iter(), Channel::OfficialAccount);
    let delivered = if outcome.decision == Action::Mask {
        mask(text, &mask_spans(engine, hits.iter()))
    } else {
        text.to_string()
    };
    TextVerdict {
        decision: outcome.decision,
        error_code: outcome.error_code,
        error_info: outcome.error_info,
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
