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

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::verdict::{self, Rewrite, Verdict};
use super::{Action, Engine, Scratch, SpanHit};

/// Relay (merged-forward) messages may nest; deeper than this is refused
/// rather than walked, so a hostile value cannot exhaust the stack.
///
/// Each relay level takes five levels of JSON nesting, so a request body
/// within the server's 127-level limit holds at most 25: every body the
/// server accepts is walked whole. A refusal would be worse than the walk:
/// Tencent delivers a message whose callback fails, so nesting must never
/// become a way around moderation. Only a `Value` built in code can reach
/// this limit.
pub const MAX_RELAY_DEPTH: usize = 32;

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

/// What the walk needs of a JSON value, so one walk serves both the
/// `serde_json::Value` of a whole request and the cheap borrowed [`Tree`]
/// the server parses `MsgBody` into.
trait Json: Sized {
    fn string(&self) -> Option<&str>;
    fn array(&self) -> Option<&[Self]>;
    fn is_object(&self) -> bool;
    /// The value of `key` in an object (the last one, if repeated, as
    /// serde_json keeps).
    fn get(&self, key: &str) -> Option<&Self>;
}

impl Json for Value {
    fn string(&self) -> Option<&str> {
        self.as_str()
    }
    fn array(&self) -> Option<&[Value]> {
        self.as_array().map(Vec::as_slice)
    }
    fn is_object(&self) -> bool {
        self.is_object()
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }
}

/// Calls `visit` for every text field, in a fixed order; checks the shape.
fn walk_request<J: Json>(
    msg_body: Option<&J>,
    cloud_custom_data: Option<&J>,
    visit: &mut impl FnMut(&FieldPath, &str),
) -> Result<(), MessageError> {
    let mut path = FieldPath::default();
    path.with(Segment::Key("MsgBody"), |path| match msg_body {
        Some(body) => walk_body(body, path, 0, visit),
        None => Err(path.error("is missing")),
    })?;
    if let Some(text) = cloud_custom_data.and_then(J::string) {
        path.with(Segment::Key("CloudCustomData"), |path| visit(path, text));
    }
    Ok(())
}

fn walk_body<J: Json>(
    body: &J,
    path: &mut FieldPath,
    depth: usize,
    visit: &mut impl FnMut(&FieldPath, &str),
) -> Result<(), MessageError> {
    let Some(elements) = body.array() else {
        return Err(path.error("must be an array of message elements"));
    };
    for (index, element) in elements.iter().enumerate() {
        path.with(Segment::Index(index), |path| walk_element(element, path, depth, visit))?;
    }
    Ok(())
}

fn walk_element<J: Json>(
    element: &J,
    path: &mut FieldPath,
    depth: usize,
    visit: &mut impl FnMut(&FieldPath, &str),
) -> Result<(), MessageError> {
    if !element.is_object() {
        return Err(path.error("must be an object with MsgType and MsgContent"));
    }
    let msg_type = match element.get("MsgType") {
        Some(msg_type) => match msg_type.string() {
            Some(msg_type) => msg_type,
            None => return Err(path.error("MsgType must be a string")),
        },
        None => return Err(path.error("MsgType is missing")),
    };
    let fields = text_fields(msg_type);
    if fields.is_empty() {
        return Ok(());
    }
    path.with(Segment::Key("MsgContent"), |path| {
        let Some(content) = element.get("MsgContent").filter(|content| content.is_object()) else {
            return Err(path.error(format!("must be an object for {msg_type}")));
        };
        for &field in fields {
            if let Some(text) = content.get(field).and_then(J::string) {
                path.with(Segment::Key(field), |path| visit(path, text));
            }
        }
        if msg_type != "TIMRelayElem" {
            return Ok(());
        }
        if let Some(lines) = content.get("AbstractList").and_then(J::array) {
            path.with(Segment::Key("AbstractList"), |path| {
                for (index, line) in lines.iter().enumerate() {
                    if let Some(text) = line.string() {
                        path.with(Segment::Index(index), |path| visit(path, text));
                    }
                }
            });
        }
        let Some(list) = content.get("MsgList").and_then(J::array) else {
            return Ok(());
        };
        if depth + 1 > MAX_RELAY_DEPTH {
            return Err(path.error(format!("relay messages nest deeper than {MAX_RELAY_DEPTH} levels")));
        }
        path.with(Segment::Key("MsgList"), |path| {
            for (index, item) in list.iter().enumerate() {
                path.with(Segment::Index(index), |path| {
                    if !item.is_object() {
                        return Err(path.error("must be an object"));
                    }
                    if let Some(body) = item.get("MsgBody") {
                        path.with(Segment::Key("MsgBody"), |path| walk_body(body, path, depth + 1, visit))?;
                    }
                    if let Some(text) = item.get("CloudCustomData").and_then(J::string) {
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

/// A borrowed JSON tree: strings point into the request body (unless they
/// hold escapes), objects are plain vectors, numbers are not kept. Building
/// it costs a fraction of a `serde_json::Value` with ordered maps and exact
/// numbers, which only a mask verdict needs.
enum Tree<'a> {
    Str(Cow<'a, str>),
    Arr(Vec<Tree<'a>>),
    Obj(Vec<(Cow<'a, str>, Tree<'a>)>),
    Other,
}

impl Json for Tree<'_> {
    fn string(&self) -> Option<&str> {
        match self {
            Tree::Str(text) => Some(text),
            _ => None,
        }
    }
    fn array(&self) -> Option<&[Self]> {
        match self {
            Tree::Arr(items) => Some(items),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Tree::Obj(_))
    }
    fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Tree::Obj(fields) => fields.iter().rev().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Tree<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

/// How serde_json hands a number over when `arbitrary_precision` is on: a
/// one-entry map under this key.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Tree<'de>, E> {
        Ok(Tree::Str(Cow::Borrowed(text)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Tree<'de>, E> {
        Ok(Tree::Str(Cow::Owned(text.to_string())))
    }
    fn visit_string<E>(self, text: String) -> Result<Tree<'de>, E> {
        Ok(Tree::Str(Cow::Owned(text)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Tree<'de>, E> {
        Ok(Tree::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Tree<'de>, E> {
        Ok(Tree::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Tree<'de>, E> {
        Ok(Tree::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Tree<'de>, E> {
        Ok(Tree::Other)
    }
    fn visit_unit<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let mut fields = Vec::new();
        while let Some(Key(name)) = map.next_key()? {
            if fields.is_empty() && name == NUMBER_TOKEN {
                map.next_value::<IgnoredAny>()?;
                return Ok(Tree::Other);
            }
            fields.push((name, map.next_value()?));
        }
        Ok(Tree::Obj(fields))
    }
}

/// An object key, borrowed from the body when it has no escapes (serde's
/// own `Cow<str>` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
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
        if !request.is_object() {
            return Err(MessageError {
                field: String::new(),
                problem: "the body must be a JSON object".into(),
            });
        }
        let msg_body = request.get("MsgBody");
        self.moderate_parts(msg_body, request.get("CloudCustomData"), channel, || msg_body.cloned())
    }

    /// [`Engine::moderate`] for a server that has kept `MsgBody` as its raw
    /// JSON text (`None` when the body had none) and `CloudCustomData` as
    /// its string value: the text is scanned from a borrowed tree, and a
    /// `serde_json::Value` is built only for a mask verdict's rewrite. This
    /// is the request path's entry point; it answers exactly as `moderate`
    /// does on the same body.
    pub fn moderate_json(
        &self,
        msg_body: Option<&str>,
        cloud_custom_data: Option<&str>,
        channel: Channel,
    ) -> Result<Verdict, MessageError> {
        let tree = match msg_body {
            Some(raw) => Some(serde_json::from_str::<Tree>(raw).map_err(|err| MessageError {
                field: "MsgBody".into(),
                problem: format!("is not valid JSON: {err}"),
            })?),
            None => None,
        };
        let cloud = cloud_custom_data.map(|text| Tree::Str(Cow::Borrowed(text)));
        let materialise = || msg_body.and_then(|raw| serde_json::from_str::<Value>(raw).ok());
        self.moderate_parts(tree.as_ref(), cloud.as_ref(), channel, materialise)
    }

    fn moderate_parts<J: Json>(
        &self,
        msg_body: Option<&J>,
        cloud_custom_data: Option<&J>,
        channel: Channel,
        materialise_msg_body: impl FnOnce() -> Option<Value>,
    ) -> Result<Verdict, MessageError> {
        let mut found: Vec<SpanHit> = Vec::new();
        let mut hits: Vec<FieldHit> = Vec::new();
        let mut field = 0;
        Scratch::with(|scratch| {
            walk_request(msg_body, cloud_custom_data, &mut |path, text| {
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
        let rewrite = (outcome.decision == Action::Mask).then(|| {
            let msg_body = materialise_msg_body().unwrap_or(Value::Null);
            self.rewrite(msg_body, cloud_custom_data.and_then(J::string), &hits)
        });
        // Rendering needs each hit's original text; fetch it by walking
        // again only when there is something to render.
        let mut rendered = Vec::with_capacity(hits.len());
        if !hits.is_empty() {
            let mut field = 0;
            let mut next = hits.iter().peekable();
            let _ = walk_request(msg_body, cloud_custom_data, &mut |_, text| {
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

    fn rewrite(&self, mut msg_body: Value, cloud_custom_data: Option<&str>, hits: &[FieldHit]) -> Rewrite {
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
        let cloud_custom_data = cloud_custom_data.and_then(|text| {
            let mut masked = text.to_string();
            mask_field(&mut masked);
            (masked != text).then_some(masked)
        });
        Rewrite { msg_body, cloud_custom_data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The borrowed path answers exactly as the `Value` path.
    #[test]
    fn raw_and_value_paths_agree() {
        let Ok(engine) = Engine::build(&[
            super::super::DictionarySource::new("m.txt", "@action mask\nfuck\n"),
            super::super::DictionarySource::new("r.txt", "@action reject\n赌博\n"),
        ]) else {
            panic!("builds")
        };
        let bodies = [
            r#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"fu\u0063k it","N":1.50}}]"#,
            r#"[{"MsgContent":{"Text":"去赌博"},"MsgType":"TIMTextElem"}]"#,
            r#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"a","Text":"fuck"}}]"#,
            r#"[1]"#,
            r#"[{"MsgType":2}]"#,
            r#"{"a":1}"#,
        ];
        for raw in bodies {
            let value: Value = serde_json::from_str(raw).expect("JSON");
            let request = serde_json::json!({ "MsgBody": value, "CloudCustomData": "fuck" });
            let by_value = engine.moderate(&request, Channel::C2C);
            let by_json = engine.moderate_json(Some(raw), Some("fuck"), Channel::C2C);
            assert_eq!(by_value, by_json, "{raw}");
        }
        assert_eq!(
            engine.moderate_json(None, None, Channel::C2C).map_err(|e| e.to_string()),
            Err("MsgBody: is missing".to_string())
        );
    }
}
