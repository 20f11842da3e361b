//! The Tencent Cloud Chat callback protocol, pure and socket-free: the only
//! place Tencent's field names and codes appear.
//!
//! Read top to bottom, one callback is:
//!
//! 1. [`query`]: the query string (`SdkAppid`, `CallbackCommand`, `Sign`…);
//! 2. [`command`]: the command table (what a command asks, whose field names
//!    its sender, which reject codes it may answer);
//! 3. [`mod@scan`]: one pass over the body bytes that checks it and hands every
//!    text a recipient can see to a [`scan::Sink`], with [`payload`] for JSON
//!    inside app-defined fields and [`json`] for the tokens;
//! 4. [`Moderation`]: the sink that runs each text through the engine and
//!    notes, for a mask, which bytes of the body to replace;
//! 5. [`answer`]: the answer envelope, and the rewrite spliced from the
//!    request's own bytes.

pub mod answer;
pub mod command;
pub mod json;
pub mod payload;
pub mod query;
pub mod scan;

pub use command::{Command, Kind};
pub use query::Query;
pub use scan::{scan, BodyError, Scanned, ShapeError};

use bytes::Bytes;

use crate::engine::{Action, Engine, Hit, Match};
use answer::Splice;
use scan::{Sink, Text};

/// The moderation of one message: every text through the engine, the hits
/// rendered, and for mask hits the bytes of the body that wrote each masked
/// character. Allocates nothing until something hits.
pub struct Moderation<'e> {
    engine: &'e Engine,
    /// Every match, for the decision.
    matches: Vec<Match>,
    /// Every hit as users see it, in body order.
    hits: Vec<Hit>,
    /// The replacements a mask verdict makes.
    splices: Vec<Splice>,
    /// One text's matches.
    found: Vec<Match>,
}

impl Sink for Moderation<'_> {
    fn text(&mut self, text: &Text<'_>) {
        self.found.clear();
        self.engine.find(text.text, &mut self.found);
        for found in self.found.drain(..) {
            self.hits.push(self.engine.hit(text.text, &found, Some(text.field())));
            if let Some(mask) = self.engine.mask_char(&found) {
                // One mask per character that starts inside the hit, as
                // `wordgate check` masks.
                let covered = text.text.get(found.span.clone()).unwrap_or_default();
                for (offset, ch) in covered.char_indices() {
                    let start = found.span.start + offset;
                    let (range, levels) = text.source(start..start + ch.len_utf8());
                    self.splices.push(Splice { range, mask, levels });
                }
            }
            self.matches.push(found);
        }
    }
}

/// What a before-send callback gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The winning action.
    pub decision: Action,
    /// The `ErrorCode` for this kind of callback.
    pub error_code: u32,
    /// The answer's bytes.
    pub answer: Bytes,
    /// Every hit, in body order.
    pub hits: Vec<Hit>,
}

impl<'e> Moderation<'e> {
    /// A moderation against `engine`.
    pub fn new(engine: &'e Engine) -> Moderation<'e> {
        Moderation { engine, matches: Vec::new(), hits: Vec::new(), splices: Vec::new(), found: Vec::new() }
    }

    /// The verdict for a `kind` callback whose body `body` was scanned into
    /// this moderation.
    pub fn verdict(mut self, kind: Kind, body: &[u8], scanned: &Scanned<'_>) -> Verdict {
        let decision = self.engine.decide(&self.matches);
        let (error_code, answer) = match decision.action {
            Action::Reject => {
                let category = decision.reject.map(|index| self.engine.category(index));
                let code = category.map_or(1, |category| kind.reject_code(category));
                let info = category.map_or("", |category| category.info.as_str());
                (code, answer::verdict(code, info))
            }
            Action::Discard => (2, answer::verdict(2, "")),
            Action::Mask => (0, answer::masked(body, scanned, &mut self.splices)),
            Action::Review | Action::Allow => (0, answer::allow()),
        };
        Verdict { decision: decision.action, error_code, answer, hits: self.hits }
    }
}

/// Moderates a whole before-send body of a `kind` callback in one call: the
/// scan, the engine, the answer. For tests, benches and fuzzing; the webhook
/// does the same steps with its policy between them.
pub fn moderate(engine: &Engine, kind: Kind, body: &[u8]) -> Result<Verdict, String> {
    let mut moderation = Moderation::new(engine);
    let scanned = scan(body, true, &mut moderation).map_err(|err| err.to_string())?;
    if let Some(shape) = &scanned.shape {
        return Err(shape.to_string());
    }
    Ok(moderation.verdict(kind, body, &scanned))
}
