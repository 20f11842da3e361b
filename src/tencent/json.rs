//! JSON at the byte level: string tokens, their escapes, and the map from a
//! decoded string back to the bytes it was decoded from.
//!
//! The body scanner ([`mod@super::scan`]) and the payload reader
//! ([`super::payload`]) read JSON through these, so both accept exactly RFC
//! 8259's grammar and both can say, for any character of a decoded string,
//! which bytes of the source wrote it: that is what lets a mask replace only
//! the masked characters' bytes ([`super::answer`]).

use std::fmt;

/// A problem with JSON text, at a byte offset of that text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong, in serde_json's words where it has them.
    pub message: &'static str,
    /// Byte offset of the problem.
    pub at: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.at)
    }
}

/// One escape sequence of a string token: where its character is in the
/// decoded string and where its bytes are in the source. Characters between
/// escapes map one to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escape {
    /// Offset of the decoded character, from the start of the decoded string.
    pub decoded: u32,
    /// Its length in bytes (1 to 4).
    pub decoded_len: u8,
    /// Offset of the escape, from the start of the token's content.
    pub source: u32,
    /// Its length in bytes (2, 6, or 12 for a surrogate pair).
    pub source_len: u8,
}

/// Where the bytes of a decoded string are in its source: `base` is the
/// offset of the token's content (just past the opening quote).
#[derive(Clone, Copy, Debug)]
pub struct Mapping<'m> {
    /// Offset of the token's content in the source.
    pub base: usize,
    /// The token's escapes, in order (empty for a token without any).
    pub escapes: &'m [Escape],
}

impl Mapping<'_> {
    /// The source offset of a character boundary `decoded` of the decoded
    /// string: between escapes the two advance together.
    pub fn source(&self, decoded: usize) -> usize {
        let before =
            self.escapes.partition_point(|e| (e.decoded as usize + e.decoded_len as usize) <= decoded);
        match before.checked_sub(1).and_then(|last| self.escapes.get(last)) {
            Some(e) => {
                let decoded_end = e.decoded as usize + e.decoded_len as usize;
                self.base + e.source as usize + e.source_len as usize + (decoded - decoded_end)
            }
            None => self.base + decoded,
        }
    }
}

/// A string token: the byte range of its content (between the quotes) and
/// whether it holds escapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Offset just past the opening quote.
    pub start: usize,
    /// Offset of the closing quote.
    pub end: usize,
    /// Whether the content has a backslash.
    pub escaped: bool,
}

/// The bytes that end a run of plain string content: `"`, `\\` and the
/// control characters.
static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        stops[byte] = true;
        byte += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

/// Reads the string token whose opening quote is at `at`: checks every
/// escape and refuses raw control characters, as RFC 8259 does. Returns the
/// token; its closing quote is at `token.end`.
pub fn string_token(bytes: &[u8], at: usize) -> Result<Token, SyntaxError> {
    let start = at + 1;
    let mut i = start;
    let mut escaped = false;
    loop {
        // The common case: a run of plain bytes, found with a table (a
        // third of the instructions of comparing each byte three ways).
        i += bytes.get(i..).map_or(0, |rest| rest.iter().take_while(|&&byte| !STOPS[byte as usize]).count());
        match bytes.get(i) {
            None => return Err(SyntaxError { message: "EOF while parsing a string", at: bytes.len() }),
            Some(b'"') => return Ok(Token { start, end: i, escaped }),
            Some(b'\\') => {
                escaped = true;
                match bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        for k in 2..6 {
                            match bytes.get(i + k) {
                                Some(digit) if digit.is_ascii_hexdigit() => {}
                                Some(_) => {
                                    return Err(SyntaxError { message: "invalid escape", at: i + k });
                                }
                                None => {
                                    return Err(SyntaxError {
                                        message: "EOF while parsing a string",
                                        at: bytes.len(),
                                    })
                                }
                            }
                        }
                        i += 6;
                    }
                    Some(_) => return Err(SyntaxError { message: "invalid escape", at: i + 1 }),
                    None => {
                        return Err(SyntaxError { message: "EOF while parsing a string", at: bytes.len() })
                    }
                }
            }
            Some(_) => {
                return Err(SyntaxError {
                    message: "control character (\\u0000-\\u001F) found while parsing a string",
                    at: i,
                })
            }
        }
    }
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    digits.iter().try_fold(0u16, |value, &digit| Some(value << 4 | (digit as char).to_digit(16)? as u16))
}

/// Decodes the content of a string token (already checked by
/// [`string_token`], or any text when `lenient`), appending the text to
/// `out` and each escape to `escapes`. A lone surrogate (`\ud800` without
/// its pair: broken UTF-16 from a client) reads as U+FFFD, the way a UTF-8
/// decoder reads a broken sequence; its offset in `content` is pushed to
/// `lone` when given. With `lenient`, a backslash that starts no escape is
/// kept as written.
pub fn decode(
    content: &str,
    out: &mut String,
    escapes: &mut Vec<Escape>,
    lenient: bool,
    mut lone: Option<&mut Vec<usize>>,
) {
    let bytes = content.as_bytes();
    let base = out.len();
    let mut i = 0;
    let mut plain = 0;
    while let Some(offset) = bytes.get(i..).and_then(|rest| rest.iter().position(|&b| b == b'\\')) {
        i += offset;
        let (ch, len) = match bytes.get(i + 1) {
            Some(b'"') => ('"', 2),
            Some(b'\\') => ('\\', 2),
            Some(b'/') => ('/', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => match hex4(bytes, i + 2) {
                Some(high @ 0xD800..=0xDBFF) => {
                    let low = (bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u'))
                        .then(|| hex4(bytes, i + 8))
                        .flatten()
                        .filter(|low| (0xDC00..=0xDFFF).contains(low));
                    match low {
                        Some(low) => {
                            let code =
                                0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                            (char::from_u32(code).unwrap_or('\u{FFFD}'), 12)
                        }
                        None => {
                            if let Some(lone) = lone.as_deref_mut() {
                                lone.push(i);
                            }
                            ('\u{FFFD}', 6)
                        }
                    }
                }
                Some(code @ 0xDC00..=0xDFFF) => {
                    let _ = code;
                    if let Some(lone) = lone.as_deref_mut() {
                        lone.push(i);
                    }
                    ('\u{FFFD}', 6)
                }
                Some(code) => (char::from_u32(u32::from(code)).unwrap_or('\u{FFFD}'), 6),
                None if lenient => {
                    i += 1;
                    continue;
                }
                None => ('\u{FFFD}', 2),
            },
            _ if lenient => {
                i += 1;
                continue;
            }
            _ => ('\u{FFFD}', 2),
        };
        out.push_str(&content[plain..i]);
        escapes.push(Escape {
            decoded: (out.len() - base) as u32,
            decoded_len: ch.len_utf8() as u8,
            source: i as u32,
            source_len: len as u8,
        });
        out.push(ch);
        i += len;
        plain = i;
    }
    out.push_str(&content[plain..]);
}

/// Appends `ch` as it is written inside a JSON string.
pub fn push_escaped(out: &mut Vec<u8>, ch: char) {
    match ch {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        ch if (ch as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", ch as u32).as_bytes()),
        ch => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
    }
}

/// Appends `text` as a JSON string, quotes included.
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut plain = 0;
    for (at, byte) in text.bytes().enumerate() {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            out.extend_from_slice(&text.as_bytes()[plain..at]);
            push_escaped(out, byte as char);
            plain = at + 1;
        }
    }
    out.extend_from_slice(&text.as_bytes()[plain..]);
    out.push(b'"');
}

/// Skips JSON whitespace from `at`.
pub fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Reads a number starting at `at` (RFC 8259: `-? int frac? exp?`, no
/// leading zeros); returns the offset just past it. Numbers are never
/// converted: they are echoed as sent.
pub fn number(bytes: &[u8], at: usize) -> Result<usize, SyntaxError> {
    let mut i = at;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits =
        |i: usize| bytes.get(i..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        Some(_) => return Err(SyntaxError { message: "invalid number", at: i }),
        None => return Err(SyntaxError { message: "EOF while parsing a value", at: bytes.len() }),
    }
    if bytes.get(i) == Some(&b'.') {
        let count = digits(i + 1);
        if count == 0 {
            return Err(SyntaxError { message: "invalid number", at: i + 1 });
        }
        i += 1 + count;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        let count = digits(i);
        if count == 0 {
            return Err(SyntaxError { message: "invalid number", at: i });
        }
        i += count;
    }
    Ok(i)
}

/// Reads `true`, `false` or `null` at `at`; returns the offset past it.
pub fn literal(bytes: &[u8], at: usize) -> Result<usize, SyntaxError> {
    for word in [&b"true"[..], b"false", b"null"] {
        if bytes.get(at) == word.first() {
            return match bytes.get(at..at + word.len()) {
                Some(found) if found == word => Ok(at + word.len()),
                Some(_) => Err(SyntaxError { message: "expected ident", at }),
                None => Err(SyntaxError { message: "EOF while parsing a value", at: bytes.len() }),
            };
        }
    }
    Err(SyntaxError { message: "expected value", at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(content: &str) -> (String, Vec<Escape>, Vec<usize>) {
        let (mut out, mut escapes, mut lone) = (String::new(), Vec::new(), Vec::new());
        decode(content, &mut out, &mut escapes, false, Some(&mut lone));
        (out, escapes, lone)
    }

    #[test]
    fn decoding_and_mapping_back() {
        let content = r"a\u8d4c\n\ud83d\ude00b\ud800";
        let (text, escapes, lone) = decoded(content);
        assert_eq!(text, "a赌\n😀b\u{FFFD}");
        assert_eq!(lone, vec![22]);
        let map = Mapping { base: 10, escapes: &escapes };
        // `赌` is decoded bytes 1..4 and source bytes 1..7.
        assert_eq!((map.source(1), map.source(4)), (11, 17));
        assert_eq!((map.source(5), map.source(9)), (19, 31));
        assert_eq!(map.source(9 + 1), 32, "b follows the pair one to one");
        assert_eq!(map.source(text.len()), 10 + content.len());
        let plain = Mapping { base: 3, escapes: &[] };
        assert_eq!(plain.source(5), 8);
    }

    #[test]
    fn tokens() {
        assert_eq!(string_token(br#""ab\"c" x"#, 0), Ok(Token { start: 1, end: 6, escaped: true }));
        assert_eq!(string_token(b"\"a\x01\"", 0).map_err(|e| e.at), Err(2));
        assert_eq!(string_token(br#""\x""#, 0).map_err(|e| e.message), Err("invalid escape"));
        assert_eq!(string_token(br#""\u12g4""#, 0).map_err(|e| e.at), Err(5));
        assert!(string_token(br#""abc"#, 0).is_err());
        assert_eq!(number(b"-0.5e+3,", 0), Ok(7));
        assert!(number(b"01", 0).is_ok_and(|end| end == 1), "a leading zero ends the number");
        assert!(number(b"1.", 0).is_err() && number(b"-", 0).is_err() && number(b"1e", 0).is_err());
        assert_eq!(literal(b"null", 0), Ok(4));
        assert!(literal(b"nul", 0).is_err() && literal(b"nulx", 0).is_err());
        let mut out = Vec::new();
        push_string(&mut out, "a\"\\\n\u{1}赌");
        assert_eq!(out, r#""a\"\\\n\u0001赌""#.as_bytes());
    }

    #[test]
    fn lenient_decoding_keeps_stray_backslashes() {
        let (mut out, mut escapes) = (String::new(), Vec::new());
        decode(r"C:\dir \u8d4c\q", &mut out, &mut escapes, true, None);
        assert_eq!(out, "C:\\dir 赌\\q");
        assert_eq!(escapes.len(), 1);
    }
}
