//! JSON inside app-defined fields.
//!
//! Apps built on Tencent's TUIKit send custom messages whose `Data` is a
//! JSON document with the user's text inside
//! (`{"businessID":"text_link","text":"…"}`) and put replies into
//! `CloudCustomData` (`{"messageReply":{"messageAbstract":"…"}}`). Encoders
//! with ASCII output (`JSON.stringify` replacers, iOS, Python's defaults)
//! write that text as `\u` escapes, which every receiving client decodes
//! and shows. So when a field that may carry app data holds a JSON object or
//! array, each string value inside it is handed over decoded, on its own
//! (keys are names, not text). The [`Mapping`] of each string into the
//! field, and of the field into the body, lets a mask replace exactly the
//! bytes that wrote the masked characters, so the inner document stays
//! valid JSON and every other inner value keeps its exact text.
//!
//! A field that starts like JSON but is not (or nests deeper than
//! [`MAX_PAYLOAD_DEPTH`], or is larger than [`MAX_PAYLOAD_BYTES`]) is read
//! as text with every escape in it resolved, so neither broken JSON nor
//! nesting is a way around moderation.

use super::json::{self, Escape, Mapping};
use super::scan::{Segment, Sink, Text};

/// The deepest nesting of a payload read as JSON; the body's own limit
/// bounds the stack for the body, this one for the payload inside a string.
pub const MAX_PAYLOAD_DEPTH: usize = 64;

/// The largest payload read as JSON. Larger ones are read as text with
/// escapes resolved (no match is lost, masks still land).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// Hands the strings of `text` to `sink` if it is a JSON payload (or looks
/// like one and has escapes); `false` when it is plain text, for the caller
/// to hand over as it is.
pub(crate) fn hand_over(text: &str, path: &[Segment], outer: Mapping<'_>, sink: &mut impl Sink) -> bool {
    let bytes = text.as_bytes();
    let start = json::skip_whitespace(bytes, 0);
    if !matches!(bytes.get(start), Some(b'{' | b'[')) {
        return false;
    }
    let is_json = text.len() <= MAX_PAYLOAD_BYTES
        && check(bytes, start, 1).is_some_and(|end| json::skip_whitespace(bytes, end) == bytes.len());
    if is_json {
        let mut walker =
            Walker { text, path, outer, pointer: String::new(), decoded: String::new(), escapes: Vec::new() };
        walker.value(start, sink);
        return true;
    }
    if !text.contains('\\') {
        return false;
    }
    let (mut decoded, mut escapes) = (String::new(), Vec::new());
    json::decode(text, &mut decoded, &mut escapes, true, None);
    let inner = Mapping { base: 0, escapes: &escapes };
    sink.text(&Text { text: &decoded, path, pointer: None, outer, inner: Some(inner) });
    true
}

/// Checks the JSON value at `at` (nesting `level`); the offset past it.
fn check(bytes: &[u8], at: usize, level: usize) -> Option<usize> {
    match bytes.get(at)? {
        open @ (b'{' | b'[') => {
            if level > MAX_PAYLOAD_DEPTH {
                return None;
            }
            let (object, close) = (*open == b'{', if *open == b'{' { b'}' } else { b']' });
            let mut at = json::skip_whitespace(bytes, at + 1);
            if bytes.get(at) == Some(&close) {
                return Some(at + 1);
            }
            loop {
                if object {
                    if bytes.get(at) != Some(&b'"') {
                        return None;
                    }
                    at = json::skip_whitespace(bytes, json::string_token(bytes, at).ok()?.end + 1);
                    if bytes.get(at) != Some(&b':') {
                        return None;
                    }
                    at = json::skip_whitespace(bytes, at + 1);
                }
                at = json::skip_whitespace(bytes, check(bytes, at, level + 1)?);
                match bytes.get(at)? {
                    b',' => at = json::skip_whitespace(bytes, at + 1),
                    found if *found == close => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b'"' => Some(json::string_token(bytes, at).ok()?.end + 1),
        b'-' | b'0'..=b'9' => json::number(bytes, at).ok(),
        _ => json::literal(bytes, at).ok(),
    }
}

/// Walks a payload [`check`] accepted, handing over each string value.
struct Walker<'t, 'p> {
    text: &'t str,
    path: &'p [Segment],
    outer: Mapping<'p>,
    /// The JSON pointer of the value being walked.
    pointer: String,
    decoded: String,
    escapes: Vec<Escape>,
}

impl Walker<'_, '_> {
    fn ws(&self, at: usize) -> usize {
        json::skip_whitespace(self.text.as_bytes(), at)
    }

    /// The value at `at`; the offset past it (the text was checked, so every
    /// token is where it should be; a surprise ends the walk).
    fn value(&mut self, at: usize, sink: &mut impl Sink) -> usize {
        let bytes = self.text.as_bytes();
        match bytes.get(at) {
            Some(open @ (b'{' | b'[')) => {
                let (object, close) = (*open == b'{', if *open == b'{' { b'}' } else { b']' });
                let mut at = self.ws(at + 1);
                let mut index = 0usize;
                while bytes.get(at).is_some_and(|&byte| byte != close) {
                    let mark = self.pointer.len();
                    self.pointer.push('/');
                    if object {
                        let Ok(token) = json::string_token(bytes, at) else { return bytes.len() };
                        let key = &self.text[token.start..token.end];
                        if token.escaped {
                            let mut name = String::new();
                            json::decode(key, &mut name, &mut Vec::new(), false, None);
                            push_pointer_token(&mut self.pointer, &name);
                        } else {
                            push_pointer_token(&mut self.pointer, key);
                        }
                        // Past the colon.
                        at = self.ws(self.ws(token.end + 1) + 1);
                    } else {
                        self.pointer.push_str(&index.to_string());
                    }
                    let end = self.value(at, sink);
                    at = self.ws(end);
                    self.pointer.truncate(mark);
                    index += 1;
                    if bytes.get(at) == Some(&b',') {
                        at = self.ws(at + 1);
                    }
                }
                at + 1
            }
            Some(b'"') => {
                let Ok(token) = json::string_token(bytes, at) else { return bytes.len() };
                let content = &self.text[token.start..token.end];
                self.decoded.clear();
                self.escapes.clear();
                let text = if token.escaped {
                    json::decode(content, &mut self.decoded, &mut self.escapes, false, None);
                    self.decoded.as_str()
                } else {
                    content
                };
                let inner = Mapping { base: token.start, escapes: &self.escapes };
                sink.text(&Text {
                    text,
                    path: self.path,
                    pointer: Some(&self.pointer),
                    outer: self.outer,
                    inner: Some(inner),
                });
                token.end + 1
            }
            Some(b'-' | b'0'..=b'9') => json::number(bytes, at).unwrap_or(bytes.len()),
            Some(_) => json::literal(bytes, at).unwrap_or(bytes.len()),
            None => bytes.len(),
        }
    }
}

/// Appends a key to a JSON pointer (RFC 6901: `~` is `~0`, `/` is `~1`).
fn push_pointer_token(pointer: &mut String, key: &str) {
    for ch in key.chars() {
        match ch {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            ch => pointer.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(String, String, std::ops::Range<usize>)>);

    impl Sink for Collect {
        fn text(&mut self, text: &Text<'_>) {
            let (source, _) = text.source(0..text.text.len());
            self.0.push((text.text.to_string(), text.field(), source));
        }
    }

    fn run(field: &str) -> (bool, Vec<(String, String, std::ops::Range<usize>)>) {
        let mut sink = Collect::default();
        let path = [Segment::Key("Data")];
        let handled = hand_over(field, &path, Mapping { base: 100, escapes: &[] }, &mut sink);
        (handled, sink.0)
    }

    #[test]
    fn strings_inside_a_payload_are_decoded_and_placed() {
        let (handled, texts) =
            run(r#"{"businessID":"text_link","text":"\u8d4c\u535a","n":[1,"a/b",{"x~":"y"}]}"#);
        assert!(handled);
        let found: Vec<(&str, &str)> = texts.iter().map(|(t, f, _)| (t.as_str(), f.as_str())).collect();
        assert_eq!(
            found,
            [
                ("text_link", "Data#/businessID"),
                ("赌博", "Data#/text"),
                ("a/b", "Data#/n/1"),
                ("y", "Data#/n/2/x~0")
            ]
        );
        // `赌博` was written by bytes 34..46 of the field, at 100 in the body.
        assert_eq!(texts[1].2, 134..146);
    }

    #[test]
    fn plain_text_and_broken_json() {
        assert!(!run("hello {not json}").0);
        assert!(!run("{not json}").0, "no escapes: read as it is by the caller");
        let (handled, texts) = run(r#"{"text":"\u8d4c\u535a""#);
        assert!(handled, "broken JSON with escapes is read with them resolved");
        assert_eq!(texts[0].0, r#"{"text":"赌博""#);
        let deep =
            format!("{}\"\\u8d4c\"{}", "[".repeat(MAX_PAYLOAD_DEPTH + 1), "]".repeat(MAX_PAYLOAD_DEPTH + 1));
        let (handled, texts) = run(&deep);
        assert!(handled && texts.len() == 1 && texts[0].0.contains('赌'), "too deep: read as text, decoded");
        let at_limit =
            format!("{}\"\\u8d4c\"{}", "[".repeat(MAX_PAYLOAD_DEPTH), "]".repeat(MAX_PAYLOAD_DEPTH));
        assert_eq!(run(&at_limit).1[0].0, "赌");
    }
}
