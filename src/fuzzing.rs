//! Fuzz harnesses, shared by the cargo-fuzz targets in `fuzz/` and by
//! `tests/fuzz_replay.rs`.
//!
//! Each target in `fuzz/fuzz_targets/` is one line that calls a function
//! here, so `cargo test` replays the committed seeds and every minimised
//! crash through exactly the code the fuzzer ran, on the stable toolchain.
//! A harness panics when a property fails (that is what the fuzzer reports
//! as a crash) and returns `false` for an input it refuses to consider
//! (larger than its cap), which the target turns into `Corpus::Reject`.
//!
//! | harness | input | property |
//! | --- | --- | --- |
//! | [`webhook`] | optional `?query` line, then body bytes | never panics; the answer is JSON of the documented shape; a rewritten `MsgBody` has the input's elements, types and keys, and each rewritten string its character count |
//! | [`dictionary`] | dictionary files separated by NUL bytes | `Engine::build` is `Ok`, or every error names a file and a line in it (line 0 only for whole-set problems) on one line; a built engine moderates the files' own lines soundly |
//! | [`differential`] | bytes decoded into small dictionaries and a text | [`Engine::check_text`] agrees with a naive reference implementation of folding, leftmost-longest matching, word boundaries, allow lists and masking |
//! | [`scan`] | body bytes | the body scanner accepts exactly what serde_json accepts (but for its documented extra refusals: repeated keys where they matter, nesting, a non-object body, a non-string `CallbackCommand`), and hands over exactly the text fields a walk of serde_json's `Value` finds, payload strings included |
//! | [`query`] | a query string | `Query::parse` never panics, round-trips percent-encoding, and `Auth` accepts exactly a correct `Sign` within the window |

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::auth::{self, Auth, Credentials};
use crate::config::FailPolicy;
use crate::engine::chars::is_invisible;
use crate::engine::{Action, DictionarySource, Engine, TextVerdict};
use crate::server::routes;
use crate::tencent::{self, Query};
use crate::webhook::{Outcome, Webhook};

/// A harness: `false` for an input over its size cap (`Corpus::Reject`).
pub type Harness = fn(&[u8]) -> bool;

/// The fuzz targets, by name, with their harness: what `tests/fuzz_replay.rs`
/// walks and `.ci/run` runs.
pub const TARGETS: &[(&str, Harness)] = &[
    ("webhook", webhook),
    ("scan", scan),
    ("dictionary", dictionary),
    ("differential", differential),
    ("query", query),
];

/// The SDKAppID the harnesses' webhook accepts.
pub const APP: u64 = 1400000001;

/// The token of the [`query`] harness (Tencent's documented test vector).
const TOKEN: &str = "xxxxyyyy";

/// The clock of the [`query`] harness: the test vector's `RequestTime`.
const NOW: u64 = 1669872112;

// ---- webhook ----------------------------------------------------------------

/// Largest [`webhook`] input: the server's default body limit plus a query.
pub const MAX_WEBHOOK_INPUT: usize = 64 * 1024 + 1024;

/// Used when the input has no `?query` line: the command then comes from
/// the body's `CallbackCommand`, as the protocol samples carry it.
const DEFAULT_QUERY: &str = "SdkAppid=1400000001&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI";

/// The fixture dictionaries of [`webhook`]: every action, a multi-byte mask
/// character, substring and word boundaries, a regex and an allow list.
const FIXTURE: &[(&str, &str)] = &[
    (
        "10-fraud.txt",
        "@action reject\n@code 120001\n@group-code 10101\n@info 诈骗\nred packet\n刷单\nre:加\\s*v[x信]\n",
    ),
    ("20-spam.txt", "@action discard\nbuy followers\n"),
    ("30-rude.txt", "@action mask\ndarn\nfuck\n傻逼\n"),
    ("40-letters.txt", "@action mask\n@mask ＃\n@boundary substring\nq\nz\n赌\n"),
    ("50-watch.txt", "@action review\n私聊\nre:1[3-9][0-9]{9}\n"),
    ("allow.txt", "@action allow\nqq\nScunthorpe\n"),
];

/// Mask characters of [`FIXTURE`].
const FIXTURE_MASKS: &[char] = &['*', '＃'];

/// Fields whose strings a mask may change (see `src/tencent/scan.rs`).
const TEXT_FIELDS: &[&str] =
    &["Text", "Desc", "Data", "Ext", "FileName", "fileName", "Title", "CompatibleText", "CloudCustomData"];

fn fixture_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let sources: Vec<DictionarySource> =
            FIXTURE.iter().map(|(name, text)| DictionarySource::new(*name, *text)).collect();
        match Engine::build(&sources) {
            Ok(engine) => engine,
            Err(errors) => panic!("the fuzz fixture dictionaries do not compile: {errors:?}"),
        }
    })
}

fn fixture_webhook() -> &'static Webhook {
    static WEBHOOK: OnceLock<Webhook> = OnceLock::new();
    // A budget no input can use up, so the answer never depends on timing.
    WEBHOOK.get_or_init(|| {
        Webhook::new(
            Auth::new(vec![APP], None, Duration::from_secs(60)),
            FailPolicy::Allow,
            Duration::MAX / 4,
        )
    })
}

/// The whole webhook request path, as [`Webhook::handle`] serves it.
///
/// The input is the body, or `?` + a query string + `\n` + the body. The
/// answer must be JSON: `{"error","status"}` matching a 4xx status, or the
/// 200 envelope; a rewritten `MsgBody` (only ever for a mask verdict) must
/// have exactly the input's shape, with only the characters of text fields
/// changed, each to a mask character.
pub fn webhook(data: &[u8]) -> bool {
    if data.len() > MAX_WEBHOOK_INPUT {
        return false;
    }
    let (query, body) = match data.strip_prefix(b"?") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            (String::from_utf8_lossy(&rest[..end]).into_owned(), rest.get(end + 1..).unwrap_or_default())
        }
        None => (DEFAULT_QUERY.to_string(), data),
    };
    let reply =
        fixture_webhook().handle(fixture_engine(), Some(&query), body, SystemTime::now(), Instant::now());
    let outcome = reply.outcome;
    let (status, answer_bytes) = routes::status_and_body(reply);
    let answer: Value = match serde_json::from_slice(&answer_bytes) {
        Ok(answer) => answer,
        Err(err) => panic!("the answer is not JSON ({err}): {:?}", String::from_utf8_lossy(&answer_bytes)),
    };
    let Value::Object(fields) = &answer else { panic!("the answer is not an object: {answer}") };
    let status = status.as_u16();
    match status {
        200 => {
            assert_eq!(fields.get("ActionStatus"), Some(&Value::from("OK")), "{answer}");
            assert!(fields.get("ErrorCode").is_some_and(Value::is_u64), "{answer}");
            assert!(fields.get("ErrorInfo").is_some_and(Value::is_string), "{answer}");
            for key in fields.keys() {
                let known = ["ActionStatus", "ErrorCode", "ErrorInfo", "MsgBody", "CloudCustomData"];
                assert!(known.contains(&key.as_str()), "unexpected key {key} in {answer}");
            }
        }
        400 | 401 | 403 => {
            assert!(fields.get("error").is_some_and(Value::is_string), "{answer}");
            assert_eq!(fields.get("status").and_then(Value::as_u64), Some(u64::from(status)), "{answer}");
            assert_eq!(fields.len(), 2, "{answer}");
        }
        _ => panic!("unexpected status {status}: {answer}"),
    }

    let masked = matches!(outcome, Outcome::Moderated { decision: Action::Mask, .. });
    let Some(rewritten) = fields.get("MsgBody") else {
        assert!(!masked, "a mask verdict without a rewritten MsgBody: {answer}");
        assert!(fields.get("CloudCustomData").is_none(), "{answer}");
        return true;
    };
    assert!(masked, "a rewritten MsgBody without a mask verdict ({outcome:?}): {answer}");
    assert_eq!(fields.get("ErrorCode").and_then(Value::as_u64), Some(0), "{answer}");
    // As the server reads it: lone surrogate escapes are U+FFFD.
    let text = String::from_utf8_lossy(body);
    let text = replace_lone_surrogates(&text).map_or(text, Into::into);
    let request: Value = match serde_json::from_str(&text) {
        Ok(request) => request,
        Err(err) => panic!("a body the server accepted does not parse ({err})"),
    };
    let Some(original) = request.get("MsgBody") else { panic!("a rewrite of a body without MsgBody") };
    same_shape(original, rewritten, None, "MsgBody");
    // Spliced: outside its strings, the echoed MsgBody is the request's
    // bytes exactly (whitespace, numbers, key order).
    let span = tencent::scan(body, false, &mut ()).ok().and_then(|scanned| scanned.msg_body);
    let Some(span) = span else { panic!("a rewrite of a body the scanner refuses") };
    let start = answer_bytes.windows(11).position(|w| w == br#","MsgBody":"#).map_or(0, |at| at + 11);
    // The envelope ends with `,"CloudCustomData":"…"}` when it was rewritten.
    let cloud = fields.contains_key("CloudCustomData");
    let end = match answer_bytes.windows(19).rposition(|w| w == br#","CloudCustomData":"#) {
        Some(at) if cloud && at > start => at,
        _ => answer_bytes.len() - 1,
    };
    assert_eq!(
        skeleton(&body[span]),
        skeleton(&answer_bytes[start..end]),
        "the rewrite changed bytes outside strings"
    );
    if let Some(data) = fields.get("CloudCustomData") {
        let Some(Value::String(before)) = request.get("CloudCustomData") else {
            panic!("a rewritten CloudCustomData the body did not have: {answer}")
        };
        let Value::String(after) = data else { panic!("CloudCustomData is not a string: {answer}") };
        assert_ne!(before, after, "CloudCustomData echoed although unchanged");
        same_text(before, after, "CloudCustomData");
    }
    true
}

/// JSON text with the contents of every string left out (quotes kept).
fn skeleton(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut at = 0;
    while let Some(&byte) = json.get(at) {
        if byte == b'"' {
            let end = tencent::json::string_token(json, at).map_or(json.len(), |token| token.end);
            out.extend_from_slice(b"\"\"");
            at = end + 1;
        } else {
            out.push(byte);
            at += 1;
        }
    }
    out
}

/// `after` is `before` with only the characters of text fields masked.
fn same_shape(before: &Value, after: &Value, key: Option<&str>, path: &str) {
    match (before, after) {
        (Value::Array(before), Value::Array(after)) => {
            assert_eq!(before.len(), after.len(), "{path}: elements added or removed");
            // Only `AbstractList` holds text directly in an array.
            let key = key.filter(|&key| key == "AbstractList");
            for (index, (b, a)) in before.iter().zip(after).enumerate() {
                same_shape(b, a, key, &format!("{path}[{index}]"));
            }
        }
        (Value::Object(before), Value::Object(after)) => {
            let keys = |map: &serde_json::Map<String, Value>| map.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(before), keys(after), "{path}: keys differ or moved");
            for (name, b) in before {
                if let Some(a) = after.get(name) {
                    same_shape(b, a, Some(name), &format!("{path}.{name}"));
                }
            }
        }
        (Value::String(before), Value::String(after)) => {
            if before != after {
                let text_field = key.is_some_and(|key| TEXT_FIELDS.contains(&key) || key == "AbstractList");
                assert!(text_field, "{path}: a string that is not a text field was changed");
                same_text(before, after, path);
            }
        }
        (before, after) => assert_eq!(before, after, "{path}: a value changed"),
    }
}

/// `after` has `before`'s characters but for some replaced by a mask; for
/// a field holding a JSON document, `after` is the same document with only
/// characters of its strings masked.
fn same_text(before: &str, after: &str, path: &str) {
    if let Ok(document @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(before) {
        let Ok(rewritten) = serde_json::from_str::<Value>(after) else {
            panic!("{path}: a JSON payload is no longer JSON: {before:?} → {after:?}")
        };
        return same_document(&document, &rewritten, path);
    }
    // A field that starts like JSON but is not is moderated (and masked)
    // with its escapes resolved: compare it so.
    let looks_like_json = before.trim_start_matches([' ', '\t', '\n', '\r']).starts_with(['{', '[']);
    if looks_like_json && before.contains('\\') {
        let resolved = |text: &str| {
            let mut out = String::new();
            tencent::json::decode(text, &mut out, &mut Vec::new(), true, None);
            out
        };
        let (before, after) = (resolved(before), resolved(after));
        assert_eq!(before.chars().count(), after.chars().count(), "{path}: {before:?} → {after:?}");
        for (b, a) in before.chars().zip(after.chars()) {
            assert!(b == a || FIXTURE_MASKS.contains(&a), "{path}: {b:?} became {a:?}");
        }
        return;
    }
    assert_eq!(before.chars().count(), after.chars().count(), "{path}: {before:?} → {after:?}");
    for (b, a) in before.chars().zip(after.chars()) {
        assert!(b == a || FIXTURE_MASKS.contains(&a), "{path}: {b:?} became {a:?}");
    }
}

/// `json` with every `\uD800`–`\uDFFF` escape that is not half of a
/// surrogate pair replaced by `\uFFFD`, or `None` when it has none. The
/// replacement has the same length, so positions in later errors hold.
///
fn replace_lone_surrogates(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        let hex = bytes.get(at..at + 4)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        hex.iter().try_fold(0u16, |unit, &digit| Some(unit << 4 | (digit as char).to_digit(16)? as u16))
    };
    let escape =
        |at: usize| (bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'u')).then(|| unit(at + 2));
    let mut repaired: Option<Vec<u8>> = None;
    let mut at = 0;
    while let Some(offset) = bytes.get(at..).and_then(|rest| rest.iter().position(|&b| b == b'\\')) {
        at += offset;
        let Some(Some(code)) = escape(at) else {
            // `\\`, `\"` and the like: step over the escaped character.
            at += 2;
            continue;
        };
        let lone = match code {
            0xD800..=0xDBFF => match escape(at + 6) {
                Some(Some(0xDC00..=0xDFFF)) => {
                    at += 12;
                    continue;
                }
                _ => true,
            },
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let copy = repaired.get_or_insert_with(|| bytes.to_vec());
            if let Some(digits) = copy.get_mut(at + 2..at + 6) {
                digits.copy_from_slice(b"fffd");
            }
        }
        at += 6;
    }
    repaired.and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Two JSON payloads: the same values but for masked characters of strings.
fn same_document(before: &Value, after: &Value, path: &str) {
    match (before, after) {
        (Value::Array(before), Value::Array(after)) => {
            assert_eq!(before.len(), after.len(), "{path}: payload items added or removed");
            for (b, a) in before.iter().zip(after) {
                same_document(b, a, path);
            }
        }
        (Value::Object(before), Value::Object(after)) => {
            let keys = |map: &serde_json::Map<String, Value>| map.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(before), keys(after), "{path}: payload keys differ");
            for (name, b) in before {
                if let Some(a) = after.get(name) {
                    same_document(b, a, path);
                }
            }
        }
        (Value::String(before), Value::String(after)) => {
            assert_eq!(before.chars().count(), after.chars().count(), "{path}: {before:?} → {after:?}");
            for (b, a) in before.chars().zip(after.chars()) {
                assert!(b == a || FIXTURE_MASKS.contains(&a), "{path}: {b:?} became {a:?}");
            }
        }
        (before, after) => assert_eq!(before, after, "{path}: a payload value changed"),
    }
}

// ---- scan ------------------------------------------------------------------

/// Collects what the scanner hands over: (field, text).
struct Collected(Vec<(String, String)>);

impl tencent::scan::Sink for Collected {
    fn text(&mut self, text: &tencent::scan::Text<'_>) {
        self.0.push((text.field(), text.text.to_string()));
    }
}

/// The body scanner against serde_json, on arbitrary bytes.
///
/// - Whatever the scanner accepts, serde_json accepts (lone surrogate
///   escapes read as U+FFFD first, as the scanner reads them), as an object.
/// - Whatever serde_json accepts as an object, the scanner accepts unless
///   one of its documented refusals applies (a repeated key where it reads,
///   nesting past 127, a `CallbackCommand` that is not a string).
/// - For a body whose `MsgBody` is a message, the scanner hands over, in
///   order, exactly the text fields a walk of serde_json's `Value` finds; a
///   field holding a JSON document is handed over as its strings, which are
///   those serde_json finds in it.
pub fn scan(data: &[u8]) -> bool {
    if data.len() > MAX_WEBHOOK_INPUT {
        return false;
    }
    let mut collected = Collected(Vec::new());
    let ours = tencent::scan(data, true, &mut collected);
    let text = String::from_utf8_lossy(data);
    let repaired = replace_lone_surrogates(&text).map_or(text.clone(), Into::into);
    let reference: Result<Value, _> = if std::str::from_utf8(data).is_ok() {
        serde_json::from_str(&repaired)
    } else {
        serde_json::from_slice(data)
    };
    match (&ours, &reference) {
        (Ok(_), Ok(Value::Object(_))) => {}
        (Ok(_), other) => panic!("the scanner accepted what serde_json reads as {other:?}"),
        (Err(err), Ok(Value::Object(_))) => {
            use tencent::BodyError;
            let documented = matches!(
                err,
                BodyError::RepeatedKey { .. }
                    | BodyError::GivenTwice(_)
                    | BodyError::CommandNotString
                    | BodyError::TooDeep { .. }
            );
            assert!(documented, "the scanner refused a JSON object serde_json reads: {err}");
            return true;
        }
        (Err(_), _) => return true,
    }
    let (Ok(scanned), Ok(request)) = (ours, reference) else { return true };
    if scanned.shape.is_some() {
        return true;
    }
    // In body order, as the scanner hands them over.
    let mut expected = Vec::new();
    for (key, value) in request.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            ("MsgBody", body) => reference_body(body, "MsgBody", &mut expected),
            ("CloudCustomData", Value::String(data)) => {
                reference_text("CloudCustomData", data, true, &mut expected)
            }
            _ => {}
        }
    }
    // Payload strings: serde_json keeps the last of repeated keys, the
    // scanner hands over every one, so compare field by field as sets.
    let plain = |texts: &[(String, String)]| -> Vec<(String, String)> {
        texts.iter().filter(|(field, _)| !field.contains('#')).cloned().collect()
    };
    assert_eq!(plain(&collected.0), plain(&expected), "text fields differ");
    for (field, text) in expected.iter().filter(|(field, _)| field.contains('#')) {
        assert!(
            collected.0.iter().any(|(f, t)| f.split('#').next() == field.split('#').next() && t == text),
            "payload string {text:?} of {field} not handed over: {:?}",
            collected.0
        );
    }
    true
}

/// The texts of a `MsgBody` value, as the protocol table says.
fn reference_body(body: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let Some(elements) = body.as_array() else { return };
    for (index, element) in elements.iter().enumerate() {
        let path = format!("{path}[{index}]");
        let Some(kind) = element.get("MsgType").and_then(Value::as_str) else { continue };
        let Some(content) = element.get("MsgContent").filter(|c| c.is_object()) else { continue };
        let fields: &[(&str, bool)] = match kind {
            "TIMTextElem" => &[("Text", false)],
            "TIMLocationElem" => &[("Desc", true)],
            "TIMFaceElem" => &[("Data", true)],
            "TIMCustomElem" => &[("Data", true), ("Desc", true), ("Ext", true)],
            "TIMFileElem" => &[("FileName", false), ("fileName", false)],
            "TIMRelayElem" => &[("Title", false), ("CompatibleText", false)],
            _ => &[],
        };
        // In the order the body writes them.
        let Some(map) = content.as_object() else { continue };
        for (key, value) in map {
            let field = format!("{path}.MsgContent.{key}");
            if let (Some(&(_, payload)), Value::String(text)) =
                (fields.iter().find(|(name, _)| name == key), value)
            {
                reference_text(&field, text, payload, out);
            }
            if kind != "TIMRelayElem" {
                continue;
            }
            match (key.as_str(), value) {
                ("AbstractList", Value::Array(lines)) => {
                    for (line, text) in lines.iter().enumerate() {
                        if let Value::String(text) = text {
                            out.push((format!("{field}[{line}]"), text.clone()));
                        }
                    }
                }
                ("MsgList", Value::Array(items)) => {
                    for (item_index, item) in items.iter().enumerate() {
                        let Some(item) = item.as_object() else { continue };
                        for (name, value) in item {
                            let item_path = format!("{field}[{item_index}].{name}");
                            match (name.as_str(), value) {
                                ("MsgBody", body) => reference_body(body, &item_path, out),
                                ("CloudCustomData", Value::String(text)) => {
                                    reference_text(&item_path, text, true, out)
                                }
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// One text field: a JSON document's strings when `payload` and it is one
/// the scanner reads as JSON, else the text.
fn reference_text(field: &str, text: &str, payload: bool, out: &mut Vec<(String, String)>) {
    let starts_like_json = text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with(['{', '[']);
    if payload && starts_like_json && text.len() <= tencent::payload::MAX_PAYLOAD_BYTES {
        // Lone surrogates read as U+FFFD here too.
        let repaired = replace_lone_surrogates(text);
        let parsed = serde_json::from_str::<Value>(repaired.as_deref().unwrap_or(text));
        if let Ok(document @ (Value::Object(_) | Value::Array(_))) = parsed {
            if depth(&document) <= tencent::payload::MAX_PAYLOAD_DEPTH {
                strings(&document, &format!("{field}#"), out);
                return;
            }
        }
        if text.contains('\\') {
            // Not JSON (for the scanner): read as text with escapes resolved.
            let mut resolved = String::new();
            tencent::json::decode(text, &mut resolved, &mut Vec::new(), true, None);
            out.push((field.to_string(), resolved));
            return;
        }
    }
    out.push((field.to_string(), text.to_string()));
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn strings(value: &Value, field: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) => out.push((field.to_string(), text.clone())),
        Value::Array(items) => items.iter().for_each(|item| strings(item, field, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, field, out)),
        _ => {}
    }
}

// ---- dictionary -------------------------------------------------------------

/// Largest [`dictionary`] input. Dictionaries are written by moderation
/// teams, not strangers, but a save must still never hang a reload; regex
/// compilation is what costs, and each rule is capped at 1 MiB compiled.
pub const MAX_DICTIONARY_INPUT: usize = 4096;

/// Problems that concern the whole set rather than a line (line 0).
const WHOLE_SET_PROBLEMS: &[&str] =
    &["the literal automaton could not be built", "the regex rules together are too large"];

/// Dictionary parsing and compiling from arbitrary file contents: the input
/// is up to four files separated by NUL bytes, decoded exactly as the
/// dictionary directory loader decodes files.
pub fn dictionary(data: &[u8]) -> bool {
    if data.len() > MAX_DICTIONARY_INPUT {
        return false;
    }
    let files: Vec<&[u8]> = data.splitn(4, |&b| b == 0).collect();
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let mut lines_in = Vec::new();
    for (index, bytes) in files.iter().enumerate() {
        let path = format!("d/{index}.txt");
        lines_in.push((path.clone(), bytes.iter().filter(|&&b| b == b'\n').count() + 1));
        match crate::dictionary_dir::decode(&path, bytes.to_vec()) {
            Ok(source) => sources.push(source),
            Err(error) => errors.push(error),
        }
    }
    let built = Engine::build(&sources);
    if let Err(more) = &built {
        errors.extend(more.iter().cloned());
        assert!(!more.is_empty(), "Engine::build failed without saying why");
    }
    for error in &errors {
        let Some(&(_, lines)) = lines_in.iter().find(|(path, _)| *path == error.path) else {
            panic!("an error names a file that was not given: {error}")
        };
        if error.line == 0 {
            assert!(
                WHOLE_SET_PROBLEMS.iter().any(|problem| error.message.starts_with(problem)),
                "an error without a line number: {error}"
            );
        } else {
            assert!(error.line <= lines, "line {} of a {lines}-line file: {error}", error.line);
        }
        assert!(!error.message.is_empty(), "an empty error message at {}:{}", error.path, error.line);
        assert!(!error.message.contains('\n'), "a multi-line error message: {:?}", error.message);
    }
    if let Ok(engine) = built {
        // Moderate the dictionaries' own lines with themselves: every
        // literal and regex then has something to hit.
        for source in &sources {
            for line in source.text.lines().take(64) {
                check_text_verdict(&engine, line);
            }
        }
    }
    true
}

/// What holds for any verdict: spans on character boundaries, `matched`
/// is the spanned text, masking keeps the character count.
fn check_text_verdict(engine: &Engine, text: &str) -> TextVerdict {
    let verdict = engine.check_text(text);
    for hit in &verdict.hits {
        assert!(hit.start < hit.end && hit.end <= text.len(), "{hit:?} in {text:?}");
        assert_eq!(text.get(hit.start..hit.end), Some(hit.matched.as_str()), "{hit:?} in {text:?}");
    }
    assert_eq!(verdict.text.chars().count(), text.chars().count(), "{text:?} → {:?}", verdict.text);
    if verdict.decision != Action::Mask {
        assert_eq!(verdict.text, text);
    }
    verdict
}

// ---- differential -----------------------------------------------------------

/// Directive lines written into every generated dictionary after its
/// `@action`. The reference below implements the engine's default
/// normalisation; when the engine grows switchable steps (`@fold …`), the
/// lines that switch the extra ones off go here, and only here.
pub const REFERENCE_DIRECTIVES: &[&str] = &["@fold none"];

/// Characters chosen to collide under folding: ASCII in both cases and
/// widths, characters that fold to several (`ß`, `İ`), to ASCII (the Kelvin
/// sign), or to nothing (invisibles), final sigma, spaces that trim, CJK
/// (not word characters) next to Latin, Cyrillic (a non-ASCII word
/// character), a combining mark, punctuation. No `#`, `@`, `:` or line
/// breaks, which would make a literal a comment, directive or rule.
const PALETTE: &[char] = &[
    'a', 'b', 'a', 'b', 'c', 'A', 'B', 's', 'S', 'i', '1', ' ', ' ', '-', '_', 'ａ', 'Ｂ', '１', '\u{3000}',
    '\u{200B}', '\u{00AD}', '\u{FEFF}', 'ß', 'ẞ', 'ς', 'σ', 'Σ', 'İ', '\u{212A}', 'k', 'é', 'É', 'д', 'Д',
    '\u{0301}', '赌', '博', '你', 'ｶ', '.', 'ǅ',
];

/// Whether whole-word literals are matched apart from the others, each
/// kind leftmost-longest on its own, as the engine does since commit
/// 2f39bbb ("whole-word literals in their own automaton"). Then a word
/// literal and a longer substring literal that start at the same place
/// both hit: in ` b你` the word `b` and the substring `b你` overlap (the
/// committed regression `fuzz/regressions/differential/word-inside-substring`).
/// `dictionaries/README.md` still promises one leftmost-longest match across
/// all entries ("where several entries start at the same character, the
/// longest one wins, whatever file it is in"), which is `false` here.
const WORDS_APART: bool = true;

/// Mask characters the generated mask lists choose from.
const REFERENCE_MASKS: &[char] = &['*', '＊', 'x', '█'];

/// Largest [`differential`] input: small dictionaries and a short text are
/// where the interesting collisions are, and keep the naive reference fast.
pub const MAX_DIFFERENTIAL_INPUT: usize = 256;

/// One generated category.
#[derive(Clone, Debug)]
struct RefCategory {
    action: Action,
    mask: char,
    code: Option<u32>,
    info: String,
    literals: Vec<String>,
}

impl RefCategory {
    /// The dictionary file for this category, directives written out.
    fn file(&self) -> String {
        let mut text = format!("@action {}\n", self.action);
        match self.action {
            Action::Mask => text.push_str(&format!("@mask {}\n", self.mask)),
            Action::Reject => {
                if let Some(code) = self.code {
                    text.push_str(&format!("@code {code}\n"));
                }
                text.push_str(&format!("@info {}\n", self.info));
            }
            _ => {}
        }
        for directive in REFERENCE_DIRECTIVES {
            text.push_str(directive);
            text.push('\n');
        }
        for literal in &self.literals {
            text.push_str(literal);
            text.push('\n');
        }
        text
    }
}

/// Reads the fuzzer's bytes as a stream; zeros once it runs out.
struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }

    fn string(&mut self, len: usize) -> String {
        (0..len).map(|_| PALETTE[usize::from(self.next()) % PALETTE.len()]).collect()
    }

    fn literals(&mut self) -> Vec<String> {
        let count = usize::from(self.next() % 4) + 1;
        (0..count)
            .map(|_| {
                let len = usize::from(self.next() % 4) + 1;
                self.string(len)
            })
            .collect()
    }
}

/// The generated dictionaries (block categories, then an optional allow
/// list) and the text, decoded from the fuzzer's bytes.
fn decode_case(data: &[u8]) -> (Vec<RefCategory>, String) {
    let mut bytes = Bytes(data.iter());
    let header = bytes.next();
    let mut categories = Vec::new();
    for index in 0..usize::from(header % 3) + 1 {
        let flags = bytes.next();
        let action = if flags & 1 == 0 { Action::Mask } else { Action::Reject };
        categories.push(RefCategory {
            action,
            mask: REFERENCE_MASKS[usize::from(flags >> 1) % REFERENCE_MASKS.len()],
            code: (flags & 0x10 != 0).then_some(120_001 + index as u32),
            info: format!("info {index}"),
            literals: bytes.literals(),
        });
    }
    if header & 0x04 != 0 {
        let literals = bytes.literals();
        categories.push(RefCategory {
            action: Action::Allow,
            mask: '*',
            code: None,
            info: String::new(),
            literals,
        });
    }
    let rest: Vec<u8> = bytes.0.copied().take(48).collect();
    let text = rest.iter().map(|&b| PALETTE[usize::from(b) % PALETTE.len()]).collect();
    (categories, text)
}

/// Normalise + match + mask against [`reference`], on small generated
/// dictionaries of plain literals (mask and reject lists, optionally an
/// allow list).
pub fn differential(data: &[u8]) -> bool {
    if data.len() > MAX_DIFFERENTIAL_INPUT {
        return false;
    }
    let (categories, text) = decode_case(data);
    let sources: Vec<DictionarySource> = categories
        .iter()
        .enumerate()
        .map(|(index, category)| DictionarySource::new(format!("c{index}.txt"), category.file()))
        .collect();
    let expected = reference(&categories, &text);
    let engine = match (Engine::build(&sources), &expected) {
        (Ok(engine), Ok(_)) => engine,
        (Err(_), Err(())) => return true,
        (Ok(_), Err(())) => panic!("the engine accepted a literal that normalises to nothing: {sources:?}"),
        (Err(errors), Ok(_)) => panic!("the engine refused valid dictionaries {sources:?}: {errors:?}"),
    };
    let Ok(expected) = expected else { return true };
    let verdict = check_text_verdict(&engine, &text);
    let actual = Expected {
        decision: verdict.decision,
        error_code: verdict.error_code,
        error_info: verdict.error_info,
        text: verdict.text,
        hits: verdict
            .hits
            .iter()
            .map(|hit| {
                let index = hit.category.strip_prefix('c').and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
                (index, hit.entry.clone(), hit.start, hit.end)
            })
            .collect(),
    };
    assert_eq!(actual, expected, "\ntext {text:?}\ndictionaries {:#?}", sources);
    true
}

/// A verdict as the reference computes it; hits are (category index, entry
/// as written, start, end).
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    decision: Action,
    error_code: u32,
    error_info: String,
    text: String,
    hits: Vec<(usize, String, usize, usize)>,
}

/// The naive reference: what `dictionaries/README.md` promises, written
/// for clarity, not speed. `Err(())` when some literal normalises to
/// nothing, which the engine must refuse.
///
/// 1. Fold every character on its own: invisible characters vanish;
///    full-width ASCII and the ideographic space become ASCII; then Unicode
///    lower case, with `ß`/`ẞ` → `ss` and `ς` → `σ`.
/// 2. Find literals leftmost-longest: at the leftmost position where any
///    literal matches, the longest one. A literal whose letters and digits
///    are all ASCII must stand as a whole word (no letter or digit of a
///    non-CJK script either side); a match refused for that resumes one
///    character after its start. Whole-word literals and the others are
///    matched in two separate passes ([`WORDS_APART`]). Allow lists are
///    matched the same way, on their own.
/// 3. Map every match back to the original characters that produced it,
///    and drop each hit that lies inside an allow match there. (Compared on
///    the original text: an allow entry matching the `i` of `İ`'s folding
///    `i̇` covers the whole `İ`, and so a hit of `İ`.)
/// 4. Decide: the most severe action; the first reject category's code and
///    info. Mask: every original character that starts inside a mask hit
///    becomes that category's mask character.
fn reference(categories: &[RefCategory], text: &str) -> Result<Expected, ()> {
    fn fold_char(ch: char) -> String {
        if is_invisible(ch) {
            return String::new();
        }
        let ch = match ch {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{3000}' => ' ',
            _ => ch,
        };
        match ch {
            'ß' | 'ẞ' => "ss".into(),
            'ς' => "σ".into(),
            _ => ch.to_lowercase().collect(),
        }
    }
    fn is_cjk(ch: char) -> bool {
        matches!(ch as u32,
            0x2E80..=0x2FDF | 0x3040..=0x30FF | 0x3100..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
            | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x3FFFF)
    }
    fn is_word_char(ch: char) -> bool {
        ch.is_alphanumeric() && !is_cjk(ch)
    }
    /// (category, entry index in its file, folded literal, whole word)
    type Literal = (usize, usize, Vec<char>, bool);
    /// Leftmost-longest, non-overlapping; (owner index into `literals`,
    /// start, end) in folded characters.
    fn find(literals: &[Literal], folded: &[char]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < folded.len() {
            let longest = (at..folded.len()).find_map(|start| {
                let len = literals
                    .iter()
                    .filter(|(_, _, lit, _)| folded[start..].starts_with(lit))
                    .map(|(_, _, lit, _)| lit.len())
                    .max()?;
                Some((start, start + len))
            });
            let Some((start, end)) = longest else { break };
            let word_before = start > 0 && is_word_char(folded[start - 1]);
            let word_after = folded.get(end).is_some_and(|&ch| is_word_char(ch));
            let whole = !word_before && !word_after;
            let mut accepted = false;
            for (owner, (_, _, lit, word)) in literals.iter().enumerate() {
                if lit.as_slice() == &folded[start..end] && (whole || !word) {
                    out.push((owner, start, end));
                    accepted = true;
                }
            }
            at = if accepted { end } else { start + 1 };
        }
        out
    }

    // 1. The text, folded, and for each folded character the original one.
    let original: Vec<(usize, char)> = text.char_indices().collect();
    let mut folded = Vec::new();
    let mut origin = Vec::new();
    for (index, &(_, ch)) in original.iter().enumerate() {
        for folded_ch in fold_char(ch).chars() {
            folded.push(folded_ch);
            origin.push(index);
        }
    }

    // The literals, as the parser reads them: trimmed, blank ones skipped.
    let mut block = Vec::new();
    let mut allow = Vec::new();
    for (category, cat) in categories.iter().enumerate() {
        for (entry, literal) in cat.literals.iter().enumerate() {
            let written = literal.trim();
            if written.is_empty() {
                continue;
            }
            let lit: String = written.chars().map(fold_char).collect();
            if lit.trim().is_empty() {
                return Err(());
            }
            let word = lit.chars().all(|ch| !ch.is_alphanumeric() || ch.is_ascii());
            let side = if cat.action == Action::Allow { &mut allow } else { &mut block };
            side.push((category, entry, lit.chars().collect::<Vec<_>>(), word));
        }
    }

    // 2 and 3.
    let find_all = |literals: &[Literal]| {
        if !WORDS_APART {
            return find(literals, &folded);
        }
        let (words, anywhere): (Vec<Literal>, Vec<Literal>) =
            literals.iter().cloned().partition(|(_, _, _, word)| *word);
        let index = |kind: &[Literal], owner: usize| {
            let (category, entry, ..) = &kind[owner];
            literals.iter().position(|(c, e, ..)| c == category && e == entry).unwrap_or(usize::MAX)
        };
        let mut found: Vec<(usize, usize, usize)> =
            find(&anywhere, &folded).into_iter().map(|(o, s, e)| (index(&anywhere, o), s, e)).collect();
        found.extend(find(&words, &folded).into_iter().map(|(o, s, e)| (index(&words, o), s, e)));
        found
    };
    // A span of folded characters as the original characters that made them.
    let original_span = |start: usize, end: usize| {
        let (first, last) = (original[origin[start]], original[origin[end - 1]]);
        (first.0, last.0 + last.1.len_utf8())
    };
    let allowed: Vec<(usize, usize)> =
        find_all(&allow).into_iter().map(|(_, start, end)| original_span(start, end)).collect();
    let mut hits: Vec<(usize, usize, usize, usize)> = find_all(&block)
        .into_iter()
        .map(|(owner, start, end)| {
            let (category, entry, _, _) = &block[owner];
            let (start, end) = original_span(start, end);
            (*category, *entry, start, end)
        })
        .filter(|&(_, _, start, end)| {
            !allowed.iter().any(|&(a_start, a_end)| a_start <= start && end <= a_end)
        })
        .collect();
    hits.sort_by_key(|&(category, entry, start, end)| (start, end, category, entry));

    // 4.
    let decision = hits.iter().map(|h| categories[h.0].action).max().unwrap_or(Action::Allow);
    let (error_code, error_info) = match decision {
        Action::Reject => {
            let first = hits.iter().filter(|h| categories[h.0].action == Action::Reject).map(|h| h.0).min();
            let category = &categories[first.unwrap_or_default()];
            (category.code.unwrap_or(1), category.info.clone())
        }
        _ => (0, String::new()),
    };
    let delivered = if decision == Action::Mask {
        original
            .iter()
            .map(|&(at, ch)| {
                hits.iter()
                    .find(|&&(category, _, start, end)| {
                        categories[category].action == Action::Mask && start <= at && at < end
                    })
                    .map_or(ch, |&(category, ..)| categories[category].mask)
            })
            .collect()
    } else {
        text.to_string()
    };
    Ok(Expected {
        decision,
        error_code,
        error_info,
        text: delivered,
        hits: hits
            .into_iter()
            .map(|(category, entry, start, end)| {
                (category, categories[category].literals[entry].trim().to_string(), start, end)
            })
            .collect(),
    })
}

// ---- query ------------------------------------------------------------------

/// Largest [`query`] input (hyper refuses request lines far shorter than
/// this would need to be slow).
pub const MAX_QUERY_INPUT: usize = 8192;

/// The query string and `Sign` path: [`Query::parse`] never panics; what it
/// parses survives a full percent-encoding round trip; and [`Auth`]
/// accepts a request exactly when its `SdkAppid` is ours, its `Sign` is
/// `sha256(token + RequestTime)` and `RequestTime` is an integer within the
/// window.
pub fn query(data: &[u8]) -> bool {
    if data.len() > MAX_QUERY_INPUT {
        return false;
    }
    // hyper hands the server the query as `&str`; bytes that are not
    // UTF-8 never reach the parser.
    let Ok(text) = std::str::from_utf8(data) else { return true };
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let window = Duration::from_secs(60);
    let auth = Auth::new(vec![APP], Some(TOKEN.into()), window);
    let signed = Webhook::new(auth.clone(), FailPolicy::Allow, Duration::from_secs(1));
    if let Err(reply) = signed.authorize(Some(text), now) {
        let (status, body) = routes::status_and_body(reply);
        assert!(matches!(status.as_u16(), 400 | 401 | 403), "{status:?}");
        let error: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert!(error.get("error").is_some_and(Value::is_string), "{body:?}");
    }

    let Ok(parsed) = Query::parse(text) else { return true };
    let values = [
        &parsed.sdkappid,
        &parsed.command,
        &parsed.sign,
        &parsed.request_time,
        &parsed.client_ip,
        &parsed.opt_platform,
    ];
    if !text.contains(['%', '+']) {
        for value in values.iter().copied().flatten() {
            assert!(text.contains(value.as_ref()), "{value:?} is not in {text:?}");
        }
    }
    // Encode every byte: the parse must give back the same values.
    let names = ["SdkAppid", "CallbackCommand", "Sign", "RequestTime", "ClientIP", "OptPlatform"];
    let encoded: Vec<String> = names
        .iter()
        .zip(values)
        .filter_map(|(name, value)| {
            let value = value.as_deref()?;
            Some(format!("{name}={}", value.bytes().map(|b| format!("%{b:02X}")).collect::<String>()))
        })
        .collect();
    let encoded = encoded.join("&");
    match Query::parse(&encoded) {
        Ok(again) => assert_eq!(again, parsed, "round trip through {encoded:?}"),
        Err(err) => panic!("{encoded:?} does not parse: {err}"),
    }

    let credentials = Credentials {
        sdkappid: parsed.sdkappid.as_deref(),
        sign: parsed.sign.as_deref(),
        request_time: parsed.request_time.as_deref(),
    };
    if let Err(err) = auth.check(&credentials, now) {
        // At most 32 characters of what was sent are echoed, each escaped
        // to at most 10 bytes (`\u{10ffff}`), plus the fixed wording.
        assert!(err.to_string().len() <= 32 * 10 + 100, "an error echoes too much: {err}");
    }
    // With the right signature for whatever RequestTime was sent, the
    // answer depends on the time alone.
    if let Some(time) = parsed.request_time.as_deref() {
        let good = auth::sign(TOKEN, time);
        let app = APP.to_string();
        let credentials = Credentials { sdkappid: Some(&app), sign: Some(&good), request_time: Some(time) };
        let within = time.parse::<i128>().is_ok_and(|t| (i128::from(NOW) - t).unsigned_abs() <= 60);
        let result = auth.check(&credentials, now);
        assert_eq!(result.is_ok(), within, "RequestTime {time:?}: {result:?}");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_agrees_on_documented_examples() {
        let mask = |literals: &[&str]| RefCategory {
            action: Action::Mask,
            mask: '*',
            code: None,
            info: String::new(),
            literals: literals.iter().map(|s| s.to_string()).collect(),
        };
        let allow = RefCategory { action: Action::Allow, ..mask(&["Moby Dick"]) };
        let run = |cats: &[RefCategory], text: &str| reference(cats, text).map(|e| e.text);
        assert_eq!(run(&[mask(&["fucking"])], "you fucking idiot"), Ok("you ******* idiot".into()));
        assert_eq!(run(&[mask(&["fuck"])], "ＦＵＣＫ"), Ok("****".into()));
        assert_eq!(run(&[mask(&["fuck"])], "f\u{200B}uck"), Ok("*****".into()));
        assert_eq!(run(&[mask(&["傻逼"])], "你个傻逼"), Ok("你个**".into()));
        assert_eq!(run(&[mask(&["ass"])], "classic ass"), Ok("classic ***".into()));
        assert_eq!(run(&[mask(&["dick"]), allow], "Moby Dick is a dick"), Ok("Moby Dick is a ****".into()));
        assert_eq!(run(&[mask(&["\u{200B}"])], "x"), Err(()));
    }
}
