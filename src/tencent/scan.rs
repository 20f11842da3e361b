//! One pass over a callback body's bytes: every check the README promises,
//! and every text a recipient can see handed to a [`Sink`] as it is found.
//!
//! Checked, each a 400 ([`BodyError`]): UTF-8 (once, for the whole body);
//! RFC 8259 syntax; nesting of at most [`MAX_JSON_DEPTH`] levels anywhere;
//! no object in `MsgBody` or `CloudCustomData` naming a key twice, and no
//! second `CallbackCommand`, `MsgBody` or `CloudCustomData` (which of two
//! would be moderated, and which delivered, depends on the parser); a
//! string `CallbackCommand`. A lone surrogate escape reads as U+FFFD.
//! The shape of `MsgBody` ([`Scanned::shape`]) matters only to a
//! before-send callback, which refuses a body that is not a message.
//!
//! The text fields, by element type (plus `CloudCustomData` at the top and
//! in every relayed message):
//!
//! | element | fields |
//! | --- | --- |
//! | `TIMTextElem` | `Text` |
//! | `TIMLocationElem` | `Desc` |
//! | `TIMFaceElem` | `Data` |
//! | `TIMCustomElem` | `Data`, `Desc`, `Ext` |
//! | `TIMFileElem` | `FileName` (the samples' spelling) and `fileName` (the field table's) |
//! | `TIMRelayElem` | `Title`, `CompatibleText`, each `AbstractList` line, and each `MsgList[]` item's `MsgBody` (recursively) and `CloudCustomData` |
//!
//! A field is borrowed from the body unless it holds escapes; then it is
//! decoded once, keeping the [`Mapping`] back to its bytes. The app-defined
//! fields (`Data`, `Desc`, `Ext`, `CloudCustomData`) may hold a JSON
//! document: [`super::payload`] reads each string inside it.
//!
//! Nothing is built: no tree, no `serde_json::Value`. Numbers are checked
//! for syntax and never converted, so an answer that echoes the body echoes
//! them digit for digit.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::json::{self, Escape, Mapping, SyntaxError};
use super::payload;

/// How deeply a body may nest arrays and objects, the body itself being the
/// first level: what serde_json allowed (its recursion limit of 128 stops a
/// parse at the 128th), kept so no body accepted before is refused now.
pub const MAX_JSON_DEPTH: usize = 127;

/// Why a body is refused (400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not a JSON object at the top.
    NotObject,
    /// Not UTF-8.
    NotUtf8(std::str::Utf8Error),
    /// Not JSON.
    Syntax {
        /// What is wrong.
        message: &'static str,
        /// Line and column (from 1; the column in bytes).
        line: usize,
        /// See `line`.
        column: usize,
    },
    /// Arrays and objects nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep {
        /// Where the bracket past the limit is.
        line: usize,
        /// See `line`.
        column: usize,
    },
    /// An object in `field` names `key` twice.
    RepeatedKey {
        /// `MsgBody` or `CloudCustomData`.
        field: &'static str,
        /// The key, decoded.
        key: String,
        /// Where the second one is.
        line: usize,
        /// See `line`.
        column: usize,
    },
    /// A top-level field the server reads, given twice.
    GivenTwice(&'static str),
    /// `CallbackCommand` is not a string.
    CommandNotString,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::NotObject => f.write_str("the body must be a JSON object"),
            BodyError::NotUtf8(err) => write!(f, "the body is not valid UTF-8: {err}"),
            BodyError::Syntax { message, line, column } => {
                write!(f, "the body is not valid JSON: {message} at line {line} column {column}")
            }
            BodyError::TooDeep { line, column } => write!(
                f,
                "the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels (line {line} column {column})"
            ),
            BodyError::RepeatedKey { field, key, line, column } => {
                write!(f, "{field}: an object in it names {key:?} more than once at line {line} column {column}")
            }
            BodyError::GivenTwice(field) => write!(f, "{field}: given more than once"),
            BodyError::CommandNotString => f.write_str("CallbackCommand: must be a string"),
        }
    }
}

impl std::error::Error for BodyError {}

/// A `MsgBody` that is not a message: `field` (e.g. `MsgBody[2]`) and what
/// is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// Where, e.g. `MsgBody[2].MsgContent`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// One step of a field's place in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// An object key (only the keys on the way to a text field: all known).
    Key(&'static str),
    /// An array index.
    Index(u32),
}

/// One text a recipient can see, as the scanner hands it over.
#[derive(Debug)]
pub struct Text<'t> {
    /// The text, decoded.
    pub text: &'t str,
    /// Its field, e.g. `MsgBody[0].MsgContent.Text`.
    pub path: &'t [Segment],
    /// Inside a JSON payload: the string's JSON pointer in it, e.g.
    /// `/messageReply/messageAbstract` (rendered after a `#`).
    pub pointer: Option<&'t str>,
    /// Where its bytes are: the field's string token in the body, and, for a
    /// string inside a payload, that string's token in the decoded field.
    pub(crate) outer: Mapping<'t>,
    pub(crate) inner: Option<Mapping<'t>>,
}

impl Text<'_> {
    /// The field as the audit and `wordgate check` name it, e.g.
    /// `MsgBody[0].MsgContent.Data#/text`.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for segment in self.path {
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
        if let Some(pointer) = self.pointer {
            out.push('#');
            out.push_str(pointer);
        }
        out
    }

    /// The bytes of the body that wrote `range` of the text (a range on
    /// character boundaries), and how many levels of JSON string escaping
    /// they are under (1 for a field, 2 for a string inside a payload).
    pub fn source(&self, range: Range<usize>) -> (Range<usize>, u8) {
        match &self.inner {
            None => (self.outer.source(range.start)..self.outer.source(range.end), 1),
            Some(inner) => {
                let (start, end) = (inner.source(range.start), inner.source(range.end));
                (self.outer.source(start)..self.outer.source(end), 2)
            }
        }
    }
}

/// Where the texts of a body go.
pub trait Sink {
    /// Called for every text, in body order.
    fn text(&mut self, text: &Text<'_>);
}

/// Ignores every text: a scan that only checks.
impl Sink for () {
    fn text(&mut self, _: &Text<'_>) {}
}

/// What a scan found besides the texts.
#[derive(Debug, Default)]
pub struct Scanned<'b> {
    /// `CallbackCommand`, if given.
    pub command: Option<Cow<'b, str>>,
    /// The sender and target ids, when they are strings.
    pub ids: Ids<'b>,
    /// Some id field was given more than once: the sender is unknowable.
    pub ids_repeated: bool,
    /// `Type` (a group's type), when it is a string given once; a repeated
    /// `Type` leaves it unknown.
    pub group_type: Option<Cow<'b, str>>,
    /// The byte range of `MsgBody`'s value.
    pub msg_body: Option<Range<usize>>,
    /// The byte range of the top-level `CloudCustomData`'s string token
    /// (quotes included), when it is a string.
    pub cloud_custom_data: Option<Range<usize>>,
    /// The first problem with the shape of the message, if any (a missing
    /// `MsgBody` included).
    pub shape: Option<ShapeError>,
    /// Offsets of lone surrogate escapes (`\ud800`) in `MsgBody` and
    /// `CloudCustomData`, in keys as in values: an answer that echoes them
    /// writes `\ufffd`.
    pub lone_surrogates: Vec<usize>,
}

/// The id fields of a body, borrowed from it when they have no escapes.
#[derive(Debug, Default)]
pub struct Ids<'b> {
    /// `Official_Account`.
    pub official_account: Option<Cow<'b, str>>,
    /// `From_Account`.
    pub from_account: Option<Cow<'b, str>>,
    /// `To_Account`.
    pub to_account: Option<Cow<'b, str>>,
    /// `GroupId`.
    pub group_id: Option<Cow<'b, str>>,
    /// `Operator_Account`.
    pub operator_account: Option<Cow<'b, str>>,
    /// `TopicId`.
    pub topic_id: Option<Cow<'b, str>>,
}

impl<'b> Ids<'b> {
    fn slot(&mut self, key: &str) -> Option<&mut Option<Cow<'b, str>>> {
        Some(match key {
            "Official_Account" => &mut self.official_account,
            "From_Account" => &mut self.from_account,
            "To_Account" => &mut self.to_account,
            "GroupId" => &mut self.group_id,
            "Operator_Account" => &mut self.operator_account,
            "TopicId" => &mut self.topic_id,
            _ => return None,
        })
    }
}

/// The id fields, one bit each: a repeat makes the sender unknowable.
fn id_bit(key: &str) -> Option<u8> {
    Some(match key {
        "Official_Account" => 1,
        "From_Account" => 2,
        "To_Account" => 4,
        "GroupId" => 8,
        "Operator_Account" => 16,
        "TopicId" => 32,
        _ => return None,
    })
}

/// Scans `body`. With `texts`, every text field is handed to `sink` as it
/// is found; without, the body is only checked (an after-send callback).
pub fn scan<'b>(body: &'b [u8], texts: bool, sink: &mut impl Sink) -> Result<Scanned<'b>, BodyError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|&byte| byte != b'{') {
        return Err(BodyError::NotObject);
    }
    let text = std::str::from_utf8(body).map_err(BodyError::NotUtf8)?;
    let mut scanner = Scanner {
        text,
        bytes: body,
        keys: Vec::new(),
        path: Vec::new(),
        scanned: Scanned::default(),
        texts,
        decoded: String::new(),
        escapes: Vec::new(),
        field: None,
    };
    POOL.with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            scanner.keys = std::mem::take(&mut pool.keys);
            scanner.path = std::mem::take(&mut pool.path);
            scanner.decoded = std::mem::take(&mut pool.decoded);
            scanner.escapes = std::mem::take(&mut pool.escapes);
        }
    });
    let result = scanner.body(sink);
    let Scanner { keys, path, decoded, escapes, scanned, .. } = scanner;
    POOL.with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            pool.put_back(keys, path, decoded, escapes);
        }
    });
    result.map(|()| scanned).map_err(|err| err.located(text))
}

/// Buffers a thread's scans reuse, so a scan allocates nothing for keys,
/// paths and decoded fields once warm.
#[derive(Default)]
struct Pool {
    keys: Vec<Key>,
    path: Vec<Segment>,
    decoded: String,
    escapes: Vec<Escape>,
}

impl Pool {
    fn put_back(
        &mut self,
        mut keys: Vec<Key>,
        mut path: Vec<Segment>,
        mut decoded: String,
        mut escapes: Vec<Escape>,
    ) {
        // One huge body must not pin its buffers to a thread forever.
        const KEEP: usize = 4096;
        keys.clear();
        path.clear();
        decoded.clear();
        escapes.clear();
        if keys.capacity() <= KEEP {
            self.keys = keys;
        }
        if path.capacity() <= KEEP {
            self.path = path;
        }
        if decoded.capacity() <= 16 * KEEP {
            self.decoded = decoded;
        }
        if escapes.capacity() <= KEEP {
            self.escapes = escapes;
        }
    }
}

thread_local! {
    static POOL: std::cell::RefCell<Pool> = std::cell::RefCell::new(Pool::default());
}

/// An error inside the scanner, located in the body only when it is
/// reported.
enum Fail {
    Syntax(SyntaxError),
    TooDeep(usize),
    Repeated { field: &'static str, key: String, at: usize },
    GivenTwice(&'static str),
    CommandNotString,
}

impl From<SyntaxError> for Fail {
    fn from(err: SyntaxError) -> Fail {
        Fail::Syntax(err)
    }
}

impl Fail {
    fn located(self, text: &str) -> BodyError {
        match self {
            Fail::Syntax(SyntaxError { message, at }) => {
                let (line, column) = position(text, at, message.starts_with("EOF"));
                BodyError::Syntax { message, line, column }
            }
            Fail::TooDeep(at) => {
                let (line, column) = position(text, at, false);
                BodyError::TooDeep { line, column }
            }
            Fail::Repeated { field, key, at } => {
                let (line, column) = position(text, at, false);
                BodyError::RepeatedKey { field, key, line, column }
            }
            Fail::GivenTwice(field) => BodyError::GivenTwice(field),
            Fail::CommandNotString => BodyError::CommandNotString,
        }
    }
}

/// Line and column (from 1, in bytes) of byte `at`; at the end of the text
/// (`eof`), the column of the last byte, as serde_json counts.
fn position(text: &str, at: usize, eof: bool) -> (usize, usize) {
    let before = text.as_bytes().get(..at).unwrap_or(text.as_bytes());
    let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let column = before.len() - line_start + usize::from(!eof);
    (line, column)
}

/// A key of an object being checked for repeats.
#[derive(Clone, Copy, Debug)]
struct Key {
    start: u32,
    end: u32,
    escaped: bool,
}

/// Which keys of a value must be unique.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strict {
    /// Not checked (fields the server does not read).
    No,
    /// Checked, errors naming this top-level field.
    In(&'static str),
}

/// The text fields of an element type, and whether each may hold a JSON
/// payload.
fn text_fields(msg_type: &str) -> &'static [(&'static str, bool)] {
    match msg_type {
        "TIMTextElem" => &[("Text", false)],
        "TIMLocationElem" => &[("Desc", true)],
        "TIMFaceElem" => &[("Data", true)],
        "TIMCustomElem" => &[("Data", true), ("Desc", true), ("Ext", true)],
        "TIMFileElem" => &[("FileName", false), ("fileName", false)],
        "TIMRelayElem" => &[("Title", false), ("CompatibleText", false)],
        _ => &[],
    }
}

struct Scanner<'b> {
    text: &'b str,
    bytes: &'b [u8],
    /// Keys of the objects being checked for repeats, innermost last.
    keys: Vec<Key>,
    path: Vec<Segment>,
    scanned: Scanned<'b>,
    texts: bool,
    /// The decoded text of the field being handed over, when it had escapes.
    decoded: String,
    escapes: Vec<Escape>,
    /// The top-level field being read, for lone surrogates.
    field: Option<&'static str>,
}

type Step<T = ()> = Result<T, Fail>;

impl<'b> Scanner<'b> {
    fn ws(&self, at: usize) -> usize {
        json::skip_whitespace(self.bytes, at)
    }

    fn expect(&self, at: usize, byte: u8, message: &'static str) -> Step<usize> {
        match self.bytes.get(at) {
            Some(&found) if found == byte => Ok(at + 1),
            Some(_) => Err(SyntaxError { message, at }.into()),
            None => Err(SyntaxError { message: eof_message(message), at: self.bytes.len() }.into()),
        }
    }

    /// The string at `at`, decoded (borrowed when it has no escapes).
    fn string(&self, token: json::Token) -> Cow<'b, str> {
        let content = &self.text[token.start..token.end];
        if !token.escaped {
            return Cow::Borrowed(content);
        }
        let mut out = String::new();
        json::decode(content, &mut out, &mut Vec::new(), false, None);
        Cow::Owned(out)
    }

    fn note_lone_surrogates(&mut self, token: json::Token) {
        if !token.escaped || self.field.is_none() {
            return;
        }
        let content = &self.text[token.start..token.end];
        let mut lone = Vec::new();
        json::decode(content, &mut String::new(), &mut Vec::new(), false, Some(&mut lone));
        self.scanned.lone_surrogates.extend(lone.into_iter().map(|at| token.start + at));
    }

    fn shape(&mut self, problem: impl Into<String>) {
        if self.scanned.shape.is_none() {
            let text = Text {
                text: "",
                path: &self.path,
                pointer: None,
                outer: Mapping { base: 0, escapes: &[] },
                inner: None,
            };
            let field = text.field();
            self.scanned.shape = Some(ShapeError { field, problem: problem.into() });
        }
    }

    /// The whole body: an object whose known fields are read.
    fn body(&mut self, sink: &mut impl Sink) -> Step {
        let mut at = self.ws(0);
        at = self.expect(at, b'{', "expected value")?;
        let mut seen = 0u8;
        let mut ids_seen = 0u8;
        let mut type_seen = false;
        at = self.ws(at);
        if self.bytes.get(at) == Some(&b'}') {
            at += 1;
        } else {
            loop {
                let (key, after) = self.key(at)?;
                at = self.ws(after);
                at = self.expect(at, b':', "expected `:`")?;
                at = self.ws(at);
                let once = |seen: &mut u8, bit: u8, name: &'static str| {
                    if *seen & bit != 0 {
                        return Err(Fail::GivenTwice(name));
                    }
                    *seen |= bit;
                    Ok(())
                };
                at = match key.as_ref() {
                    "CallbackCommand" => {
                        once(&mut seen, 1, "CallbackCommand")?;
                        if self.bytes.get(at) == Some(&b'"') {
                            let token = json::string_token(self.bytes, at)?;
                            self.scanned.command = Some(self.string(token));
                            token.end + 1
                        } else {
                            let end = self.value(at, 2, Strict::No)?;
                            // Reported once the body is known to be JSON.
                            seen |= 8;
                            end
                        }
                    }
                    "MsgBody" => {
                        once(&mut seen, 2, "MsgBody")?;
                        self.field = Some("MsgBody");
                        self.path.push(Segment::Key("MsgBody"));
                        let end = self.msg_body(at, 2, sink)?;
                        self.path.pop();
                        self.field = None;
                        self.scanned.msg_body = Some(at..end);
                        end
                    }
                    "CloudCustomData" => {
                        once(&mut seen, 4, "CloudCustomData")?;
                        self.field = Some("CloudCustomData");
                        let end = if self.bytes.get(at) == Some(&b'"') {
                            self.path.push(Segment::Key("CloudCustomData"));
                            let end = self.text_field(at, true, sink)?;
                            self.path.pop();
                            self.scanned.cloud_custom_data = Some(at..end);
                            end
                        } else {
                            self.value(at, 2, Strict::In("CloudCustomData"))?
                        };
                        self.field = None;
                        end
                    }
                    "Type" => {
                        // A repeated `Type` leaves the group's type unknown:
                        // only a plain `group` scope takes it in.
                        let first = !type_seen;
                        type_seen = true;
                        self.scanned.group_type = None;
                        if self.bytes.get(at) == Some(&b'"') {
                            let token = json::string_token(self.bytes, at)?;
                            if first {
                                self.scanned.group_type = Some(self.string(token));
                            }
                            token.end + 1
                        } else {
                            self.value(at, 2, Strict::No)?
                        }
                    }
                    name => match id_bit(name) {
                        Some(bit) => {
                            let id = if self.bytes.get(at) == Some(&b'"') {
                                let token = json::string_token(self.bytes, at)?;
                                Some((self.string(token), token.end + 1))
                            } else {
                                None
                            };
                            if ids_seen & bit != 0 {
                                self.scanned.ids_repeated = true;
                            }
                            ids_seen |= bit;
                            let (id, end) = match id {
                                Some((id, end)) => (Some(id), end),
                                None => (None, self.value(at, 2, Strict::No)?),
                            };
                            if let Some(slot) = self.scanned.ids.slot(name) {
                                *slot = id;
                            }
                            end
                        }
                        None => self.value(at, 2, Strict::No)?,
                    },
                };
                at = self.ws(at);
                match self.bytes.get(at) {
                    Some(b',') => at = self.ws(at + 1),
                    Some(b'}') => {
                        at += 1;
                        break;
                    }
                    Some(_) => return Err(SyntaxError { message: "expected `,` or `}`", at }.into()),
                    None => {
                        return Err(SyntaxError {
                            message: "EOF while parsing an object",
                            at: self.bytes.len(),
                        }
                        .into())
                    }
                }
            }
        }
        let end = self.ws(at);
        if end < self.bytes.len() {
            return Err(SyntaxError { message: "trailing characters", at: end }.into());
        }
        if seen & 8 != 0 {
            return Err(Fail::CommandNotString);
        }
        if seen & 2 == 0 {
            self.path.push(Segment::Key("MsgBody"));
            self.shape("is missing");
            self.path.pop();
        }
        Ok(())
    }

    /// An object key at `at` (whitespace skipped), decoded.
    fn key(&self, at: usize) -> Step<(Cow<'b, str>, usize)> {
        match self.bytes.get(at) {
            Some(b'"') => {
                let token = json::string_token(self.bytes, at)?;
                Ok((self.string(token), token.end + 1))
            }
            Some(_) => Err(SyntaxError { message: "key must be a string", at }.into()),
            None => Err(SyntaxError { message: "EOF while parsing an object", at: self.bytes.len() }.into()),
        }
    }

    /// Checks the key token at `at` against the others of its object (from
    /// `first` in `self.keys`) and records it.
    fn unique(&mut self, first: usize, token: json::Token, field: &'static str) -> Step {
        let key = Key { start: token.start as u32, end: token.end as u32, escaped: token.escaped };
        let text = self.text;
        let raw = |key: &Key| &text[key.start as usize..key.end as usize];
        let decoded = |key: &Key| -> Cow<'_, str> {
            if key.escaped {
                let mut out = String::new();
                json::decode(raw(key), &mut out, &mut Vec::new(), false, None);
                Cow::Owned(out)
            } else {
                Cow::Borrowed(raw(key))
            }
        };
        let earlier = &self.keys[first..];
        // Objects in messages have a handful of keys; past 16 a sort finds
        // repeats in n log n instead of comparing every pair.
        let repeated = if earlier.len() < 16 {
            earlier.iter().any(|other| match (other.escaped, key.escaped) {
                (false, false) => raw(other) == raw(&key),
                _ => decoded(other) == decoded(&key),
            })
        } else {
            let mut all: Vec<Cow<'_, str>> = earlier.iter().map(decoded).collect();
            all.sort_unstable();
            all.binary_search(&decoded(&key)).is_ok()
        };
        if repeated {
            return Err(Fail::Repeated { field, key: decoded(&key).into_owned(), at: token.start - 1 });
        }
        self.keys.push(key);
        Ok(())
    }

    /// Any value at `at` (whitespace skipped) at nesting `level` (the body is
    /// level 1), checked and skipped. Returns the offset past it.
    fn value(&mut self, at: usize, level: usize, strict: Strict) -> Step<usize> {
        match self.bytes.get(at) {
            Some(b'{') => {
                if level > MAX_JSON_DEPTH {
                    return Err(Fail::TooDeep(at));
                }
                let first = self.keys.len();
                let mut at = self.ws(at + 1);
                if self.bytes.get(at) == Some(&b'}') {
                    return Ok(at + 1);
                }
                loop {
                    if self.bytes.get(at) != Some(&b'"') {
                        self.keys.truncate(first);
                        return match self.bytes.get(at) {
                            None => Err(SyntaxError {
                                message: "EOF while parsing an object",
                                at: self.bytes.len(),
                            }
                            .into()),
                            Some(_) => Err(SyntaxError { message: "key must be a string", at }.into()),
                        };
                    }
                    let token = json::string_token(self.bytes, at)?;
                    self.note_lone_surrogates(token);
                    if let Strict::In(field) = strict {
                        self.unique(first, token, field)?;
                    }
                    at = self.ws(token.end + 1);
                    at = self.expect(at, b':', "expected `:`")?;
                    at = self.ws(at);
                    at = self.value(at, level + 1, strict)?;
                    at = self.ws(at);
                    match self.bytes.get(at) {
                        Some(b',') => at = self.ws(at + 1),
                        Some(b'}') => {
                            self.keys.truncate(first);
                            return Ok(at + 1);
                        }
                        Some(_) => return Err(SyntaxError { message: "expected `,` or `}`", at }.into()),
                        None => {
                            return Err(SyntaxError {
                                message: "EOF while parsing an object",
                                at: self.bytes.len(),
                            }
                            .into())
                        }
                    }
                }
            }
            Some(b'[') => {
                if level > MAX_JSON_DEPTH {
                    return Err(Fail::TooDeep(at));
                }
                let mut at = self.ws(at + 1);
                if self.bytes.get(at) == Some(&b']') {
                    return Ok(at + 1);
                }
                loop {
                    at = self.value(at, level + 1, strict)?;
                    at = self.ws(at);
                    match self.bytes.get(at) {
                        Some(b',') => at = self.ws(at + 1),
                        Some(b']') => return Ok(at + 1),
                        Some(_) => return Err(SyntaxError { message: "expected `,` or `]`", at }.into()),
                        None => {
                            return Err(SyntaxError {
                                message: "EOF while parsing a list",
                                at: self.bytes.len(),
                            }
                            .into())
                        }
                    }
                }
            }
            Some(b'"') => {
                let token = json::string_token(self.bytes, at)?;
                self.note_lone_surrogates(token);
                Ok(token.end + 1)
            }
            Some(b'-' | b'0'..=b'9') => Ok(json::number(self.bytes, at)?),
            Some(_) => Ok(json::literal(self.bytes, at)?),
            None => Err(SyntaxError { message: "EOF while parsing a value", at: self.bytes.len() }.into()),
        }
    }

    /// The string token at `at` is a text field: hand it to the sink (after
    /// reading it as a JSON payload when `payload` and it holds one).
    fn text_field<S: Sink>(&mut self, at: usize, payload: bool, sink: &mut S) -> Step<usize> {
        let token = json::string_token(self.bytes, at)?;
        self.note_lone_surrogates(token);
        if !self.texts {
            return Ok(token.end + 1);
        }
        let content = &self.text[token.start..token.end];
        let (text, escapes): (&str, &[Escape]) = if token.escaped {
            self.decoded.clear();
            self.escapes.clear();
            json::decode(content, &mut self.decoded, &mut self.escapes, false, None);
            (&self.decoded, &self.escapes)
        } else {
            (content, &[])
        };
        let outer = Mapping { base: token.start, escapes };
        if !(payload && payload::hand_over(text, &self.path, outer, sink)) {
            sink.text(&Text { text, path: &self.path, pointer: None, outer, inner: None });
        }
        Ok(token.end + 1)
    }

    /// `MsgBody` (or a relayed message's): an array of elements.
    fn msg_body<S: Sink>(&mut self, at: usize, level: usize, sink: &mut S) -> Step<usize> {
        if self.bytes.get(at) != Some(&b'[') {
            self.shape("must be an array of message elements");
            return self.value(at, level, Strict::In("MsgBody"));
        }
        self.array(at, level, sink, |scanner, at, level, sink| scanner.element(at, level, sink))
    }

    /// The members of the object whose `{` is at `at`, at nesting `level`:
    /// each key checked against the others of the object (errors naming
    /// `field`) and decoded, its value read by `member`, which returns the
    /// offset past it. Returns the offset past the `}`.
    fn members<S: Sink>(
        &mut self,
        at: usize,
        level: usize,
        field: &'static str,
        sink: &mut S,
        mut member: impl FnMut(&mut Self, Cow<'b, str>, usize, &mut S) -> Step<usize>,
    ) -> Step<usize> {
        if level > MAX_JSON_DEPTH {
            return Err(Fail::TooDeep(at));
        }
        let first = self.keys.len();
        let mut at = self.ws(at + 1);
        if self.bytes.get(at) == Some(&b'}') {
            return Ok(at + 1);
        }
        loop {
            match self.bytes.get(at) {
                Some(b'"') => {}
                Some(_) => return Err(SyntaxError { message: "key must be a string", at }.into()),
                None => {
                    return Err(
                        SyntaxError { message: "EOF while parsing an object", at: self.bytes.len() }.into()
                    )
                }
            }
            let token = json::string_token(self.bytes, at)?;
            self.note_lone_surrogates(token);
            self.unique(first, token, field)?;
            let key = self.string(token);
            at = self.ws(token.end + 1);
            at = self.expect(at, b':', "expected `:`")?;
            at = self.ws(at);
            at = member(self, key, at, sink)?;
            at = self.ws(at);
            match self.bytes.get(at) {
                Some(b',') => at = self.ws(at + 1),
                Some(b'}') => {
                    self.keys.truncate(first);
                    return Ok(at + 1);
                }
                Some(_) => return Err(SyntaxError { message: "expected `,` or `}`", at }.into()),
                None => {
                    return Err(
                        SyntaxError { message: "EOF while parsing an object", at: self.bytes.len() }.into()
                    )
                }
            }
        }
    }

    /// One element: `MsgType` and `MsgContent`, in either order.
    fn element<S: Sink>(&mut self, at: usize, level: usize, sink: &mut S) -> Step<usize> {
        if self.bytes.get(at) != Some(&b'{') {
            self.shape("must be an object with MsgType and MsgContent");
            return self.value(at, level, Strict::In("MsgBody"));
        }
        let mut msg_type: Option<Result<Cow<'b, str>, ()>> = None;
        // MsgContent seen before MsgType: read again once the type is known.
        let mut content_at: Option<usize> = None;
        let mut content_is_object = false;
        let mut content_read = false;
        let end = self.members(at, level, "MsgBody", sink, |scanner, key, at, sink| match key.as_ref() {
            "MsgType" if scanner.bytes.get(at) == Some(&b'"') => {
                let token = json::string_token(scanner.bytes, at)?;
                scanner.note_lone_surrogates(token);
                msg_type = Some(Ok(scanner.string(token)));
                Ok(token.end + 1)
            }
            "MsgType" => {
                msg_type = Some(Err(()));
                scanner.value(at, level + 1, Strict::In("MsgBody"))
            }
            "MsgContent" => {
                content_is_object = scanner.bytes.get(at) == Some(&b'{');
                match &msg_type {
                    Some(Ok(kind)) if content_is_object && !text_fields(kind).is_empty() => {
                        let kind = kind.clone();
                        content_read = true;
                        scanner.path.push(Segment::Key("MsgContent"));
                        let end = scanner.content(at, level + 1, &kind, sink)?;
                        scanner.path.pop();
                        Ok(end)
                    }
                    _ => {
                        content_at = Some(at);
                        scanner.value(at, level + 1, Strict::In("MsgBody"))
                    }
                }
            }
            _ => scanner.value(at, level + 1, Strict::In("MsgBody")),
        })?;
        let kind = match msg_type {
            Some(Ok(kind)) => kind,
            Some(Err(())) => {
                self.shape("MsgType must be a string");
                return Ok(end);
            }
            None => {
                self.shape("MsgType is missing");
                return Ok(end);
            }
        };
        if text_fields(&kind).is_empty() || content_read {
            return Ok(end);
        }
        self.path.push(Segment::Key("MsgContent"));
        match content_at {
            Some(content_at) if content_is_object => {
                // Already checked; read again for its texts.
                self.content(content_at, level + 1, &kind, sink)?;
            }
            _ => self.shape(format!("must be an object for {kind}")),
        }
        self.path.pop();
        Ok(end)
    }

    /// `MsgContent` of an element of type `kind`, which has text fields.
    fn content<S: Sink>(&mut self, at: usize, level: usize, kind: &str, sink: &mut S) -> Step<usize> {
        let fields = text_fields(kind);
        let relay = kind == "TIMRelayElem";
        self.members(at, level, "MsgBody", sink, |scanner, key, at, sink| {
            let opens = scanner.bytes.get(at).copied();
            // Each text-bearing member is read with its key on the path.
            let end = match fields.iter().find(|(name, _)| *name == key.as_ref()) {
                Some(&(name, payload)) if opens == Some(b'"') => {
                    scanner.path.push(Segment::Key(name));
                    scanner.text_field(at, payload, sink)
                }
                _ if relay && key == "AbstractList" && opens == Some(b'[') => {
                    scanner.path.push(Segment::Key("AbstractList"));
                    scanner.lines(at, level + 1, sink)
                }
                _ if relay && key == "MsgList" && opens == Some(b'[') => {
                    scanner.path.push(Segment::Key("MsgList"));
                    scanner.relayed(at, level + 1, sink)
                }
                _ => return scanner.value(at, level + 1, Strict::In("MsgBody")),
            };
            scanner.path.pop();
            end
        })
    }

    /// A relay's `AbstractList`: each string is a text.
    fn lines<S: Sink>(&mut self, at: usize, level: usize, sink: &mut S) -> Step<usize> {
        self.array(at, level, sink, |scanner, at, level, sink| {
            if scanner.bytes.get(at) == Some(&b'"') {
                scanner.text_field(at, false, sink)
            } else {
                scanner.value(at, level, Strict::In("MsgBody"))
            }
        })
    }

    /// A relay's `MsgList`: each item's `MsgBody` and `CloudCustomData`.
    fn relayed<S: Sink>(&mut self, at: usize, level: usize, sink: &mut S) -> Step<usize> {
        self.array(at, level, sink, |scanner, at, level, sink| scanner.relayed_item(at, level, sink))
    }

    fn relayed_item<S: Sink>(&mut self, at: usize, level: usize, sink: &mut S) -> Step<usize> {
        if self.bytes.get(at) != Some(&b'{') {
            self.shape("must be an object");
            return self.value(at, level, Strict::In("MsgBody"));
        }
        self.members(at, level, "MsgBody", sink, |scanner, key, at, sink| {
            let end = match key.as_ref() {
                "MsgBody" => {
                    scanner.path.push(Segment::Key("MsgBody"));
                    scanner.msg_body(at, level + 1, sink)
                }
                "CloudCustomData" if scanner.bytes.get(at) == Some(&b'"') => {
                    scanner.path.push(Segment::Key("CloudCustomData"));
                    scanner.text_field(at, true, sink)
                }
                _ => return scanner.value(at, level + 1, Strict::In("MsgBody")),
            };
            scanner.path.pop();
            end
        })
    }

    /// An array at `at` whose items are read by `item`, with their indexes
    /// on the path.
    fn array<S: Sink>(
        &mut self,
        at: usize,
        level: usize,
        sink: &mut S,
        mut item: impl FnMut(&mut Self, usize, usize, &mut S) -> Step<usize>,
    ) -> Step<usize> {
        if level > MAX_JSON_DEPTH {
            return Err(Fail::TooDeep(at));
        }
        let mut at = self.ws(at + 1);
        if self.bytes.get(at) == Some(&b']') {
            return Ok(at + 1);
        }
        let mut index = 0u32;
        loop {
            self.path.push(Segment::Index(index));
            at = item(self, at, level + 1, sink)?;
            self.path.pop();
            index += 1;
            at = self.ws(at);
            match self.bytes.get(at) {
                Some(b',') => at = self.ws(at + 1),
                Some(b']') => return Ok(at + 1),
                Some(_) => return Err(SyntaxError { message: "expected `,` or `]`", at }.into()),
                None => {
                    return Err(
                        SyntaxError { message: "EOF while parsing a list", at: self.bytes.len() }.into()
                    )
                }
            }
        }
    }
}

fn eof_message(expected: &'static str) -> &'static str {
    match expected {
        "expected `:`" => "EOF while parsing an object",
        _ => "EOF while parsing a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPTH_ERROR: &str = "the body nests arrays and objects deeper than 127 levels";

    fn parse(body: &str) -> Option<String> {
        scan(body.as_bytes(), true, &mut ()).err().map(|err| err.to_string())
    }

    #[test]
    fn ambiguous_bodies_are_refused() {
        let twice =
            r#"{"MsgBody":[],"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}]}"#;
        assert_eq!(parse(twice).as_deref(), Some("MsgBody: given more than once"));
        let err = parse(r#"{"MsgBody":[]} {}"#).unwrap_or_default();
        assert!(err.starts_with("the body is not valid JSON: trailing characters"), "{err}");
        let err = parse(r#"{"Other":[1,}"#).unwrap_or_default();
        assert!(err.starts_with("the body is not valid JSON"), "{err}");
        assert_eq!(parse(" \"x\"").as_deref(), Some("the body must be a JSON object"));
        assert!(parse("").is_some());
        let err = parse(r#"{"MsgBody": ["#).unwrap_or_default();
        assert_eq!(err, "the body is not valid JSON: EOF while parsing a value at line 1 column 13");
    }

    /// Every field, read or skipped, is held to the same grammar and nesting
    /// limit, and errors say where in the body.
    #[test]
    fn every_field_is_checked_alike() {
        let nested =
            |levels: usize, inner: &str| format!("{}{inner}{}", "[".repeat(levels), "]".repeat(levels));
        // The body is level 1 and MsgBody level 2: 127 levels in all pass,
        // a 128th is refused, wherever it is and whatever is innermost.
        for inner in ["1", "1.5", "\"x\"", "{}", "{\"a\":1}", ""] {
            for field in ["MsgBody", "Extra", "CloudCustomData"] {
                let ok = format!(r#"{{"{field}":{}}}"#, nested(126, inner));
                let deep = format!(r#"{{"{field}":{}}}"#, nested(127, inner));
                match (parse(&ok), inner.starts_with('{')) {
                    (None, false) => {}
                    (Some(err), true) => assert!(err.starts_with(DEPTH_ERROR), "{field} {inner}: {err}"),
                    (err, _) => panic!("{field} {inner} at the limit: {err:?}"),
                }
                let err = parse(&deep).unwrap_or_default();
                assert!(err.starts_with(DEPTH_ERROR), "{field} {inner}: {err}");
            }
        }
        // Where: the bracket past the limit, on the body's own lines.
        let body = format!("{{\n  \"MsgBody\": {}}}", nested(200, ""));
        assert_eq!(parse(&body).unwrap_or_default(), format!("{DEPTH_ERROR} (line 2 column {})", 14 + 126));
        let body = format!("{{\n\n \"Extra\": {},\"MsgBody\":[]}}", nested(200, ""));
        assert_eq!(parse(&body).unwrap_or_default(), format!("{DEPTH_ERROR} (line 3 column {})", 11 + 126));

        // Repeated keys inside MsgBody or CloudCustomData, at any depth and
        // in objects of any size, are refused; in unread fields they are not.
        let many: String = (0..40).map(|n| format!(r#""k{n}":{n},"#)).collect();
        for (body, repeated) in [
            (
                r#"{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"a","Text":"b"}}]}"#.to_string(),
                "Text",
            ),
            (r#"{"MsgBody":[{"A":{"B":[{"C":1,"C":2}]}}]}"#.to_string(), "C"),
            (format!(r#"{{"MsgBody":[{{{many}"k7":0}}]}}"#), "k7"),
            (r#"{"MsgBody":[{"T\u0065xt":1,"Text":2}]}"#.to_string(), "Text"),
            (r#"{"CloudCustomData":{"a":[{"b":1,"b":1}]},"MsgBody":[]}"#.to_string(), "b"),
            (
                r#"{"MsgBody":[{"MsgContent":{},"MsgType":"TIMTextElem","MsgType":"TIMTextElem"}]}"#
                    .to_string(),
                "MsgType",
            ),
        ] {
            let err = parse(&body).unwrap_or_default();
            let field = if body.contains("CloudCustomData") { "CloudCustomData" } else { "MsgBody" };
            let expected =
                format!("{field}: an object in it names {repeated:?} more than once at line 1 column");
            assert!(err.starts_with(&expected), "{body}: {err}");
        }
        assert_eq!(parse(&format!(r#"{{"MsgBody":[{{{many}"k40":0}}]}}"#)), None);
        assert_eq!(parse(r#"{"Extra":{"a":1,"a":2},"MsgBody":[]}"#), None);
        assert_eq!(parse(r#"{"MsgBody":[{"a":1e400,"b":-0.0,"c":123456789012345678901234567890}]}"#), None);
        // A repeat on a later line is placed on that line of the body.
        let err = parse("{\"MsgBody\": [\n {\"a\": 1,\n  \"a\": 2}]}").unwrap_or_default();
        assert!(
            err.starts_with(r#"MsgBody: an object in it names "a" more than once at line 3 column 3"#),
            "{err}"
        );
        // RFC 8259, not more.
        for bad in
            [r#"{"MsgBody":[01]}"#, r#"{"MsgBody":[1,]}"#, "{\"a\":\"\t\"}", r#"{"a":tru}"#, r#"{'a':1}"#]
        {
            let err = parse(bad).unwrap_or_default();
            assert!(err.starts_with("the body is not valid JSON"), "{bad}: {err}");
        }
    }

    struct Collect(Vec<(String, String)>);

    impl Sink for Collect {
        fn text(&mut self, text: &Text<'_>) {
            self.0.push((text.field(), text.text.to_string()));
        }
    }

    #[test]
    fn texts_in_either_key_order_and_only_of_text_types() {
        let body = r#"{"MsgBody":[
            {"MsgContent":{"Text":"late type"},"MsgType":"TIMTextElem"},
            {"MsgType":"TIMImageElem","MsgContent":{"Text":"not a text field here"}},
            {"MsgType":"TIMCustomElem","MsgContent":{"Data":"{\"text\":\"\\u8d4c\"}","Sound":"x"}},
            {"MsgType":"TIMRelayElem","MsgContent":{"AbstractList":["a: hi",3],"MsgList":[{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"deep"}}],"CloudCustomData":"c"}]}}
        ],"CloudCustomData":"top","From_Account":"u\u0031"}"#;
        let mut sink = Collect(Vec::new());
        let scanned = scan(body.as_bytes(), true, &mut sink).map_err(|err| err.to_string());
        let Ok(scanned) = scanned else { panic!("{scanned:?}") };
        let texts: Vec<(&str, &str)> = sink.0.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
        assert_eq!(
            texts,
            [
                ("MsgBody[0].MsgContent.Text", "late type"),
                ("MsgBody[2].MsgContent.Data#/text", "赌"),
                ("MsgBody[3].MsgContent.AbstractList[0]", "a: hi"),
                ("MsgBody[3].MsgContent.MsgList[0].MsgBody[0].MsgContent.Text", "deep"),
                ("MsgBody[3].MsgContent.MsgList[0].CloudCustomData", "c"),
                ("CloudCustomData", "top"),
            ]
        );
        assert_eq!(scanned.ids.from_account.as_deref(), Some("u1"));
        assert!(scanned.shape.is_none());
        // Only checked: no texts.
        let mut sink = Collect(Vec::new());
        assert!(scan(body.as_bytes(), false, &mut sink).is_ok() && sink.0.is_empty());
    }
}
