//! Walking a Tencent message: which fields carry text, and rewriting them.
//!
//! The message stays a `serde_json::Value` (with `preserve_order` and
//! `arbitrary_precision`), never a typed struct, so a masked rewrite can hand
//! back every element, every field, unknown ones included, in the order and
//! with the exact numbers Tencent sent. Only the text fields below are read:
//!
//! | element | fields |
//! | --- | --- |
//! | `TIMTextElem` | `Text` |
//! | `TIMLocationElem` | `Desc` |
//! | `TIMFaceElem` | `Data` |
//! | `TIMCustomElem` | `Data`, `Desc`, `Ext` |
//! | `TIMFileElem` | `FileName` |
//! | `TIMRelayElem` | `Title`, `CompatibleText`, each `AbstractList` entry, and each `MsgList[]` item's `MsgBody` (recursively) and `CloudCustomData` |
//!
//! plus the top-level `CloudCustomData`. Other element types (images,
//! sounds, video, and any type Tencent adds later) pass through untouched.

use std::fmt;

use serde_json::Value;

use super::verdict::{self, Rewrite, Verdict};
use super::{Action, Engine, Scratch, SpanHit};

/// Relay (merged-forward) messages may nest; deeper than this is refused
/// rather than walked, so a hostile body cannot exhaust the stack.
pub const MAX_RELAY_DEPTH: usize = 8;

/// Which before-send callback a message came from; it decides which custom
/// reject code applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `OfficialAccount.CallbackBeforeSendMsg`: codes 120001–130000.
    OfficialAccount,
    /// `C2C.CallbackBeforeSendMsg`: codes 120001–130000.
    C2C,
    /// `Group.CallbackBeforeSendMsg`: codes 10100–10200.
    Group,
}

/// A message whose shape is not a Tencent message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageError {
    /// Where, e.g. `MsgBody[2].MsgType`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.field, self.problem)
        }
    }
}

impl std::error::Error for MessageError {}

fn text_fields(msg_type: &str) -> &'static [&'static str] {
    match msg_type {
        "TIMTextElem" => &["Text"],
        "TIMLocationElem" => &["Desc"],
        "TIMFaceElem" => &["Data"],
        "TIMCustomElem" => &["Data", "Desc", "Ext"],
        // The field table in Tencent's docs spells it `fileName`, the samples
        // `FileName`; read whichever is there.
        "TIMFileElem" => &["FileName", "fileName"],
        "TIMRelayElem" => &["Title", "CompatibleText"],
        _ => &[],
    }
}

#[derive(Clone, Copy, Debug)]
enum Segment {
    Key(&'static str),
    Index(usize),
}

/// Where the walk is, kept as a stack and only formatted when a field hits.
#[derive(Default)]
struct FieldPath(Vec<Segment>);

impl FieldPath {
    fn render(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    fn error(&self, problem: impl Into<String>) -> MessageError {
        MessageError { field: self.render(), problem: problem.into() }
    }

    fn with<T>(&mut self, segment: Segment, f: impl FnOnce(&mut FieldPath) -> T) -> T {
        self.0.push(segment);
        let result = f(self);
        self.0.pop();
        result
    }
}

/// Calls `visit` for every text field, in a fixed order; checks the shape.
fn walk_request(request: &Value, visit: &mut impl FnMut(&FieldPath, &str)) -> Result<(), MessageError> {
    let Value::Object(request) = request else {
        return Err(MessageError { field: String::new(), problem: "the body must be a JSON object".into() });
    };
    let mut path = FieldPath::default();
    path.with(Segment::Key("MsgBody"), |path| match request.get("MsgBody") {
        Some(body) => walk_body(body, path, 0, visit),
        None => Err(path.error("is missing")),
    })?;
    if let Some(Value::String(text)) = request.get("CloudCustomData") {
        path.with(Segment::Key("CloudCustomData"), |path| visit(path, text));
    }
    Ok(())
}

fn walk_body(
    body: &Value,
    path: &mut FieldPath,
    depth: usize,
    visit: &mut impl FnMut(&FieldPath, &str),
) -> Result<(), MessageError> {
    let Value::Array(elements) = body else {
        return Err(path.error("must be an array of message elements"));
    };
    for (index, element) in elements.iter().enumerate() {
        path.with(Segment::Index(index), |path| walk_element(element, path, depth, visit))?;
    }
    Ok(())
}

fn walk_element(
    element: &Value,
    path: &mut FieldPath,
    depth: usize,
    visit: &mut impl FnMut(&FieldPath, &str),
) -> Result<(), MessageError> {
    let Value::Object(element) = element else {
        return Err(path.error("must be an object with MsgType and MsgContent"));
    };
    let msg_type = match element.get("MsgType") {
        Some(Value::String(msg_type)) => msg_type.as_str(),
        Some(_) => return Err(path.error("MsgType must be a string")),
        None => return Err(path.error("MsgType is missing")),
    };
    let fields = text_fields(msg_type);
    if fields.is_empty() {
        return Ok(());
    }
    path.with(Segment::Key("MsgContent"), |path| {
        let Some(Value::Object(content)) = element.get("MsgContent") else {
            return Err(path.error(format!("must be an object for {msg_type}")));
        };
        for &field in fields {
            if let Some(Value::String(text)) = content.get(field) {
                path.with(Segment::Key(field), |path| visit(path, text));
            }
        }
        if msg_type != "TIMRelayElem" {
            return Ok(());
        }
        if let Some(Value::Array(lines)) = content.get("AbstractList") {
            path.with(Segment::Key("AbstractList"), |path| {
                for (index, line) in lines.iter().enumerate() {
                    if let Value::String(text) = line {
                        path.with(Segment::Index(index), |path| visit(path, text));
                    }
                }
            });
        }
        let Some(Value::Array(list)) = content.get("MsgList") else {
            return Ok(());
        };
        if depth + 1 > MAX_RELAY_DEPTH {
            return Err(path.error(format!("relay messages nest deeper than {MAX_RELAY_DEPTH} levels")));
        }
        path.with(Segment::Key("MsgList"), |path| {
            for (index, item) in list.iter().enumerate() {
                path.with(Segment::Index(index), |path| {
                    let Value::Object(item) = item else {
                        return Err(path.error("must be an object"));
                    };
                    if let Some(body) = item.get("MsgBody") {
                        path.with(Segment::Key("MsgBody"), |path| walk_body(body, path, depth + 1, visit))?;
                    }
                    if let Some(Value::String(text)) = item.get("CloudCustomData") {
                        path.with(Segment::Key("CloudCustomData"), |path| visit(path, text));
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
    })
}

/// The mutable twin of [`walk_request`]: the same fields in the same order,
/// on a request already checked by it.
fn rewrite_body(body: &mut Value, visit: &mut impl FnMut(&mut String)) {
    let Value::Array(elements) = body else { return };
    for element in elements {
        let Value::Object(element) = element else { continue };
        let fields = match element.get("MsgType") {
            Some(Value::String(msg_type)) => text_fields(msg_type),
            _ => continue,
        };
        let is_relay = element.get("MsgType").and_then(Value::as_str) == Some("TIMRelayElem");
        let Some(Value::Object(content)) = element.get_mut("MsgContent") else { continue };
        for &field in fields {
            if let Some(Value::String(text)) = content.get_mut(field) {
                visit(text);
            }
        }
        if !is_relay {
            continue;
        }
        if let Some(Value::Array(lines)) = content.get_mut("AbstractList") {
            for line in lines {
                if let Value::String(text) = line {
                    visit(text);
                }
            }
        }
        if let Some(Value::Array(list)) = content.get_mut("MsgList") {
            for item in list {
                let Value::Object(item) = item else { continue };
                if let Some(body) = item.get_mut("MsgBody") {
                    rewrite_body(body, visit);
                }
                if let Some(Value::String(text)) = item.get_mut("CloudCustomData") {
                    visit(text);
                }
            }
        }
    }
}

/// A hit and the text field it was found in (fields numbered in walk order).
struct FieldHit {
    field: usize,
    path: String,
    hit: SpanHit,
}

impl Engine {
    /// Moderates a before-send callback body: scans every text field and
    /// decides. For a `mask` verdict the rewrite holds the whole `MsgBody`
    /// (and `CloudCustomData` if it changed), identical to the input but for
    /// masked characters.
    ///
    /// Fails only when the body is not shaped like a Tencent message (not an
    /// object, `MsgBody` not an array of elements with a string `MsgType`,
    /// relays nested too deep).
    pub fn moderate(&self, request: &Value, channel: Channel) -> Result<Verdict, MessageError> {
        let mut found: Vec<SpanHit> = Vec::new();
        let mut hits: Vec<FieldHit> = Vec::new();
        let mut field = 0;
        Scratch::with(|scratch| {
            walk_request(request, &mut |path, text| {
                found.clear();
                self.scan(text, scratch, &mut found);
                if !found.is_empty() {
                    let rendered = path.render();
                    hits.extend(found.drain(..).map(|hit| FieldHit { field, path: rendered.clone(), hit }));
                }
                field += 1;
            })
        })?;

        let outcome = verdict::outcome(self, hits.iter().map(|h| &h.hit), channel);
        let rewrite = (outcome.decision == Action::Mask).then(|| self.rewrite(request, &hits));
        // Rendering needs each hit's original text; fetch it by walking
        // again only when there is something to render.
        let mut rendered = Vec::with_capacity(hits.len());
        if !hits.is_empty() {
            let mut field = 0;
            let mut next = hits.iter().peekable();
            let _ = walk_request(request, &mut |_, text| {
                while let Some(hit) = next.next_if(|hit| hit.field == field) {
                    rendered.push(verdict::render(self, text, &hit.hit, Some(hit.path.clone())));
                }
                field += 1;
            });
        }
        Ok(Verdict {
            decision: outcome.decision,
            error_code: outcome.error_code,
            error_info: outcome.error_info,
            hits: rendered,
            rewrite,
        })
    }

    fn rewrite(&self, request: &Value, hits: &[FieldHit]) -> Rewrite {
        let mut msg_body = request.get("MsgBody").cloned().unwrap_or(Value::Null);
        let mut field = 0;
        let mut next = hits.iter().peekable();
        let mut mask_field = |text: &mut String| {
            let mut spans = Vec::new();
            while let Some(hit) = next.next_if(|hit| hit.field == field) {
                spans.extend(verdict::mask_spans(self, std::iter::once(&hit.hit)));
            }
            if !spans.is_empty() {
                *text = verdict::mask(text, &spans);
            }
            field += 1;
        };
        rewrite_body(&mut msg_body, &mut mask_field);
        let cloud_custom_data = match request.get("CloudCustomData") {
            Some(Value::String(text)) => {
                let mut text = text.clone();
                let before = text.clone();
                mask_field(&mut text);
                (text != before).then_some(text)
            }
            _ => None,
        };
        Rewrite { msg_body, cloud_custom_data }
    }
}
