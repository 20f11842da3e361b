//! The answer Tencent gets: `{"ActionStatus":"OK","ErrorCode":N,"ErrorInfo":"…"}`,
//! and for a mask the whole `MsgBody` (and `CloudCustomData` when it
//! changed) spliced from the request's own bytes.
//!
//! A rewrite is the request's bytes with only the masked characters' bytes
//! replaced ([`Splice`]): every element, every field (known or not), their
//! order, whitespace, escapes and numbers are exactly as sent. The one
//! other change: a lone surrogate escape (`\ud800`, which strict parsers
//! refuse) is written `\ufffd`, the character it was moderated as.

use std::ops::Range;

use bytes::Bytes;

use super::json;
use super::scan::Scanned;

/// The allow answer, the same bytes every time.
pub const ALLOW: &[u8] = br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;

/// The allow answer, without allocating.
pub fn allow() -> Bytes {
    Bytes::from_static(ALLOW)
}

/// `{"ActionStatus":"OK","ErrorCode":code,"ErrorInfo":info}`.
pub fn verdict(code: u32, info: &str) -> Bytes {
    if code == 0 && info.is_empty() {
        return allow();
    }
    let mut out = envelope(code, info, 0);
    out.push(b'}');
    Bytes::from(out)
}

fn envelope(code: u32, info: &str, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + info.len() + capacity);
    out.extend_from_slice(b"{\"ActionStatus\":\"OK\",\"ErrorCode\":");
    out.extend_from_slice(code.to_string().as_bytes());
    out.extend_from_slice(b",\"ErrorInfo\":");
    json::push_string(&mut out, info);
    out
}

/// One replacement in the body: the bytes of one masked character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    /// The bytes replaced.
    pub range: Range<usize>,
    /// The mask character.
    pub mask: char,
    /// How many levels of JSON string escaping the character is under: 1 in
    /// a field, 2 in a string of a payload inside a field.
    pub levels: u8,
}

impl Splice {
    fn write(&self, out: &mut Vec<u8>) {
        let mut text = self.mask.to_string();
        for _ in 1..self.levels {
            let mut escaped = Vec::new();
            for ch in text.chars() {
                json::push_escaped(&mut escaped, ch);
            }
            text = String::from_utf8(escaped).unwrap_or_default();
        }
        for ch in text.chars() {
            json::push_escaped(out, ch);
        }
    }
}

/// The mask answer: `ErrorCode` 0 and the rewritten `MsgBody` (and
/// `CloudCustomData` when one of its characters is masked), spliced from
/// `body` with `splices` (sorted here).
pub fn masked(body: &[u8], scanned: &Scanned<'_>, splices: &mut [Splice]) -> Bytes {
    splices.sort_by_key(|splice| (splice.range.start, splice.range.end));
    let mut out = envelope(0, "", body.len());
    if let Some(span) = &scanned.msg_body {
        out.extend_from_slice(b",\"MsgBody\":");
        splice_into(&mut out, body, span.clone(), splices, &scanned.lone_surrogates);
    }
    if let Some(span) = &scanned.cloud_custom_data {
        if splices.iter().any(|splice| span.start <= splice.range.start && splice.range.end <= span.end) {
            out.extend_from_slice(b",\"CloudCustomData\":");
            splice_into(&mut out, body, span.clone(), splices, &scanned.lone_surrogates);
        }
    }
    out.push(b'}');
    Bytes::from(out)
}

/// Appends `body[span]` with the splices and lone-surrogate repairs inside
/// it applied. A character masked twice (by two categories) is written once.
fn splice_into(out: &mut Vec<u8>, body: &[u8], span: Range<usize>, splices: &[Splice], lone: &[usize]) {
    let inside = |range: &Range<usize>| span.start <= range.start && range.end <= span.end;
    let mut lone: Vec<usize> = lone.iter().copied().filter(|&at| inside(&(at..at + 6))).collect();
    lone.sort_unstable();
    lone.dedup();
    let mut lone = lone.into_iter().peekable();
    let mut at = span.start;
    for splice in splices.iter().filter(|splice| inside(&splice.range)) {
        if splice.range.start < at {
            continue;
        }
        while let Some(repair) = lone.next_if(|&repair| repair < splice.range.start) {
            if repair >= at {
                out.extend_from_slice(&body[at..repair]);
                out.extend_from_slice(b"\\ufffd");
                at = repair + 6;
            }
        }
        out.extend_from_slice(&body[at..splice.range.start]);
        splice.write(out);
        at = splice.range.end;
    }
    for repair in lone {
        if repair >= at {
            out.extend_from_slice(&body[at..repair]);
            out.extend_from_slice(b"\\ufffd");
            at = repair + 6;
        }
    }
    out.extend_from_slice(&body[at..span.end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_escaped_for_their_level() {
        let splice = |mask, levels| {
            let mut out = Vec::new();
            Splice { range: 0..1, mask, levels }.write(&mut out);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(splice('*', 1), "*");
        assert_eq!(splice('*', 2), "*");
        assert_eq!(splice('"', 1), r#"\""#);
        assert_eq!(splice('"', 2), r#"\\\""#);
        assert_eq!(splice('＊', 2), "＊");
    }

    #[test]
    fn splicing_keeps_every_other_byte() {
        let body = br#"{"MsgBody":[{"Text":"ab\ud800cd"}], "X":1e400}"#;
        let scanned = Scanned { msg_body: Some(11..34), ..Scanned::default() };
        let mut splices = vec![
            Splice { range: 30..31, mask: '#', levels: 1 },
            Splice { range: 21..22, mask: '#', levels: 1 },
            Splice { range: 21..22, mask: '*', levels: 1 },
        ];
        let scanned = Scanned { lone_surrogates: vec![23, 23], ..scanned };
        let answer = masked(body, &scanned, &mut splices);
        assert_eq!(
            std::str::from_utf8(&answer).unwrap_or_default(),
            r##"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":[{"Text":"#b\ufffdc#"}]}"##
        );
        assert_eq!(&verdict(0, "")[..], ALLOW);
        assert_eq!(
            &verdict(120001, "不\"行")[..],
            r#"{"ActionStatus":"OK","ErrorCode":120001,"ErrorInfo":"不\"行"}"#.as_bytes()
        );
    }
}
