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

use crate::engine::{Action, Engine, Hit, Match, Place};
use answer::Splice;
use scan::{Sink, Text};

/// The moderation of one message: every text through the engine, the hits
/// rendered, and for mask hits the bytes of the body that wrote each masked
/// character. Allocates nothing until something hits.
pub struct Moderation<'e> {
    engine: &'e Engine,
    /// Every match, for the decision.
    matches: Vec<Match>,
    /// Every hit as users see it, in body order: `hits[i]` is `matches[i]`.
    hits: Vec<Hit>,
    /// The replacements a mask verdict makes, with the index of the match
    /// each comes from (hits out of scope mask nothing).
    splices: Vec<(usize, Splice)>,
    /// One text's matches.
    found: Vec<Match>,
}

impl Sink for Moderation<'_> {
    fn text(&mut self, text: &Text<'_>) {
        self.found.clear();
        self.engine.find(text.text, &mut self.found);
        for found in self.found.drain(..) {
            let index = self.matches.len();
            self.hits.push(self.engine.hit(text.text, &found, Some(text.field())));
            if let Some(mask) = self.engine.mask_char(&found) {
                // One mask per character that starts inside the hit, as
                // `wordgate check` masks.
                let covered = text.text.get(found.span.clone()).unwrap_or_default();
                for (offset, ch) in covered.char_indices() {
                    let start = found.span.start + offset;
                    let (range, levels) = text.source(start..start + ch.len_utf8());
                    self.splices.push((index, Splice { range, mask, levels }));
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
    /// Every hit that counts here, in body order.
    pub hits: Vec<Hit>,
    /// The categories that hit but are out of scope for this callback
    /// (`@scope`), each once; empty unless one did.
    pub out_of_scope: Vec<String>,
}

/// The place a before-send callback of `kind` from app `sdkappid` is in,
/// all of it: for a group, its `Type` says which kind of group.
pub fn place(kind: Kind, scanned: &Scanned<'_>, sdkappid: Option<&str>) -> Place {
    Place {
        conversation: Some(kind.conversation(scanned.group_type.as_deref())),
        app: sdkappid.and_then(|id| id.parse().ok()),
    }
}

impl<'e> Moderation<'e> {
    /// A moderation against `engine`.
    pub fn new(engine: &'e Engine) -> Moderation<'e> {
        Moderation { engine, matches: Vec::new(), hits: Vec::new(), splices: Vec::new(), found: Vec::new() }
    }

    /// The place a before-send callback of `kind` from app `sdkappid` is
    /// judged in: for a group, its `Type` says which kind of group. Only
    /// what the engine's scopes can tell apart is read: without a
    /// `@scope`, the conversation is all that matters (for the reject
    /// code).
    pub fn place(&self, kind: Kind, scanned: &Scanned<'_>, sdkappid: Option<&str>) -> Place {
        if !self.engine.is_scoped() {
            return Place { conversation: Some(kind.conversation(None)), app: None };
        }
        place(kind, scanned, sdkappid)
    }

    /// The verdict for a callback in `place` whose body `body` was scanned
    /// into this moderation. The body's texts were matched against every
    /// category; only the hits of categories in scope at `place` count.
    pub fn verdict(mut self, place: &Place, body: &[u8], scanned: &Scanned<'_>) -> Verdict {
        let engine = self.engine;
        let mut out_of_scope = Vec::new();
        if engine.is_scoped() && self.matches.iter().any(|found| !engine.counts_in(found, place)) {
            let counts: Vec<bool> = self.matches.iter().map(|found| engine.counts_in(found, place)).collect();
            for (found, _) in self.matches.iter().zip(&counts).filter(|(_, counts)| !**counts) {
                let category = engine.category(found.category);
                if !category.scope.contains(place) && !out_of_scope.contains(&category.name) {
                    out_of_scope.push(category.name.clone());
                }
            }
            let mut keep = counts.iter();
            self.matches.retain(|_| keep.next().copied().unwrap_or(true));
            let mut keep = counts.iter();
            self.hits.retain(|_| keep.next().copied().unwrap_or(true));
            self.splices.retain(|(owner, _)| counts.get(*owner).copied().unwrap_or(true));
        }
        let decision = engine.decide(&self.matches);
        let (error_code, answer) = match decision.action {
            Action::Reject => {
                let category = decision.reject.map(|index| engine.category(index));
                let code = category.map_or(1, |category| category.reject_code(place.conversation));
                let info = category.map_or("", |category| category.info.as_str());
                (code, answer::verdict(code, info))
            }
            Action::Discard => (2, answer::verdict(2, "")),
            Action::Mask => {
                let mut splices: Vec<Splice> = self.splices.into_iter().map(|(_, splice)| splice).collect();
                (0, answer::masked(body, scanned, &mut splices))
            }
            Action::Review | Action::Allow => (0, answer::allow()),
        };
        Verdict { decision: decision.action, error_code, answer, hits: self.hits, out_of_scope }
    }
}

/// Moderates a whole before-send body of a `kind` callback in one call: the
/// scan, the engine, the answer, with every app's lists. For tests, benches
/// and fuzzing; the webhook does the same steps with its policy between
/// them.
pub fn moderate(engine: &Engine, kind: Kind, body: &[u8]) -> Result<Verdict, String> {
    let mut moderation = Moderation::new(engine);
    let scanned = scan(body, true, &mut moderation).map_err(|err| err.to_string())?;
    if let Some(shape) = &scanned.shape {
        return Err(shape.to_string());
    }
    let place = moderation.place(kind, &scanned, None);
    Ok(moderation.verdict(&place, body, &scanned))
}
