//! The audit record: what one callback was, what it got, and the JSON line
//! it becomes. Pure: no I/O, no clock (the time is passed in), so the
//! format is unit-tested here; the queue, writer thread and file rotation
//! that carry the lines off the request path are [`crate::audit_sink`].
//!
//! Also owns the verdict labels ([`VerdictLabel`]) that the audit and the
//! metrics ([`crate::metrics`]) share, so a verdict is spelt the same in
//! both; commands are labelled by the command table
//! ([`crate::tencent::Command`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::engine::{Action, Hit};

/// The callback commands named in metrics and the audit: the command
/// table's own closed set, so a caller cannot grow the label set.
pub use crate::tencent::Command as CommandLabel;

/// What a callback got, as the audit and the metrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictLabel {
    /// Moderated; nothing (or only allow-listed text) hit.
    Allow,
    /// Moderated; delivered, hits of a `review` category.
    Review,
    /// Moderated; delivered masked.
    Mask,
    /// Moderated; silently dropped.
    Discard,
    /// Moderated; refused.
    Reject,
    /// Not moderated: an exempt sender or platform, answered allow.
    Exempt,
    /// An after-send or unknown command, acknowledged without moderation.
    Acknowledged,
    /// No verdict in time, or the core failed: the fail policy answered.
    FailPolicy,
    /// A malformed callback, answered 400.
    Error,
}

impl VerdictLabel {
    /// Every label, in the order metrics list them.
    pub const ALL: [VerdictLabel; 9] = [
        VerdictLabel::Allow,
        VerdictLabel::Review,
        VerdictLabel::Mask,
        VerdictLabel::Discard,
        VerdictLabel::Reject,
        VerdictLabel::Exempt,
        VerdictLabel::Acknowledged,
        VerdictLabel::FailPolicy,
        VerdictLabel::Error,
    ];

    /// The label of an engine verdict.
    pub fn of(action: Action) -> VerdictLabel {
        match action {
            Action::Allow => VerdictLabel::Allow,
            Action::Review => VerdictLabel::Review,
            Action::Mask => VerdictLabel::Mask,
            Action::Discard => VerdictLabel::Discard,
            Action::Reject => VerdictLabel::Reject,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictLabel::Allow => "allow",
            VerdictLabel::Review => "review",
            VerdictLabel::Mask => "mask",
            VerdictLabel::Discard => "discard",
            VerdictLabel::Reject => "reject",
            VerdictLabel::Exempt => "exempt",
            VerdictLabel::Acknowledged => "acknowledged",
            VerdictLabel::FailPolicy => "fail_policy",
            VerdictLabel::Error => "error",
        }
    }

    /// Whether the engine decided it (the five dictionary actions).
    pub fn is_moderated(self) -> bool {
        matches!(
            self,
            VerdictLabel::Allow
                | VerdictLabel::Review
                | VerdictLabel::Mask
                | VerdictLabel::Discard
                | VerdictLabel::Reject
        )
    }

    /// Index into [`VerdictLabel::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The sender and target ids a callback body carried, borrowed from it.
/// Which ones are present depends on the command (see the protocol notes:
/// official accounts send `Official_Account`; C2C `From_Account` and
/// `To_Account`; groups `GroupId`, `From_Account`, `Operator_Account` and,
/// in topics, `TopicId`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ids<'a> {
    /// `Official_Account`.
    pub official_account: Option<&'a str>,
    /// `From_Account`.
    pub from_account: Option<&'a str>,
    /// `To_Account`.
    pub to_account: Option<&'a str>,
    /// `GroupId`.
    pub group_id: Option<&'a str>,
    /// `Operator_Account`.
    pub operator_account: Option<&'a str>,
    /// `TopicId`.
    pub topic_id: Option<&'a str>,
    /// A group's `Type`, which decides the scoped lists that apply.
    pub group_type: Option<&'a str>,
}

/// One audit record. Everything is borrowed from the request; the line is
/// built once, on the request path, and the writer only copies bytes.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// When the answer was decided.
    pub time: SystemTime,
    /// `CallbackCommand` (query's, else body's); empty when neither had one.
    pub command: &'a str,
    /// `SdkAppid` from the query.
    pub sdkappid: Option<&'a str>,
    /// The ids in the body.
    pub ids: Ids<'a>,
    /// `OptPlatform` from the query.
    pub opt_platform: Option<&'a str>,
    /// `ClientIP` from the query.
    pub client_ip: Option<&'a str>,
    /// The verdict. In shadow mode, the real one, not the answer.
    pub verdict: VerdictLabel,
    /// Shadow mode: the answer was allow whatever the verdict.
    pub dry_run: bool,
    /// HTTP status of the answer.
    pub status: u16,
    /// The `ErrorCode` the verdict carries (in shadow mode, the one that
    /// would have been answered); none for a 400.
    pub error_code: Option<u32>,
    /// For a 400: what was wrong.
    pub error: Option<&'a str>,
    /// Dictionary hits (their category, action and entry are written, never
    /// the matched text: that is user content).
    pub hits: &'a [Hit],
    /// Categories that hit but are out of this callback's scope (their
    /// hits are not in `hits`); written only when there are some.
    pub out_of_scope: &'a [String],
    /// Generation of the dictionaries that decided.
    pub generation: u64,
    /// Time from the request's headers to its answer, in microseconds.
    pub elapsed_us: u64,
    /// `MsgBody` as sent (JSON), only when `audit_include_message` is on.
    pub msg_body: Option<&'a str>,
    /// `CloudCustomData`, only when `audit_include_message` is on.
    pub cloud_custom_data: Option<&'a str>,
}

/// Most hits written per record: a message with thousands of hits makes one
/// long line, not an unbounded one.
pub const MAX_HITS: usize = 64;

impl Record<'_> {
    /// Appends the record as one line of JSON, newline included.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        // Built by hand, not through serde: this runs on the request path,
        // and fixed text as whole pieces plus strings that need no escaping
        // copied as they are took a third of serde's instructions.
        out.extend_from_slice(b"{\"time\":\"");
        write_rfc3339(out, self.time);
        out.extend_from_slice(b"\",\"command\":");
        // A known command is spelt by its label, with nothing to check.
        match CommandLabel::of(self.command) {
            CommandLabel::Other => push_str(out, self.command),
            known => {
                out.push(b'"');
                out.extend_from_slice(known.as_str().as_bytes());
                out.push(b'"');
            }
        }
        // Each key with its comma and colon, as one piece.
        let optional = [
            (&b",\"sdkappid\":"[..], self.sdkappid),
            (b",\"official_account\":", self.ids.official_account),
            (b",\"from_account\":", self.ids.from_account),
            (b",\"to_account\":", self.ids.to_account),
            (b",\"group_id\":", self.ids.group_id),
            (b",\"operator_account\":", self.ids.operator_account),
            (b",\"topic_id\":", self.ids.topic_id),
            (b",\"group_type\":", self.ids.group_type),
            (b",\"opt_platform\":", self.opt_platform),
            (b",\"client_ip\":", self.client_ip),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                out.extend_from_slice(key);
                push_str(out, value);
            }
        }
        out.extend_from_slice(b",\"verdict\":\"");
        out.extend_from_slice(self.verdict.as_str().as_bytes());
        out.extend_from_slice(if self.dry_run { b"\",\"dry_run\":true" } else { b"\",\"dry_run\":false" });
        out.extend_from_slice(b",\"status\":");
        push_number(out, u64::from(self.status));
        if let Some(code) = self.error_code {
            out.extend_from_slice(b",\"error_code\":");
            push_number(out, u64::from(code));
        }
        if let Some(error) = self.error {
            out.extend_from_slice(b",\"error\":");
            push_str(out, error);
        }
        // Categories once each, in first-hit order; a handful at most.
        out.extend_from_slice(b",\"categories\":[");
        let mut seen: Vec<&str> = Vec::new();
        for hit in self.hits {
            if !seen.contains(&hit.category.as_str()) {
                if !seen.is_empty() {
                    out.push(b',');
                }
                push_str(out, &hit.category);
                seen.push(&hit.category);
            }
        }
        out.extend_from_slice(b"],\"hits\":[");
        for (at, hit) in self.hits.iter().take(MAX_HITS).enumerate() {
            if at > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"category\":");
            push_str(out, &hit.category);
            out.extend_from_slice(b",\"action\":");
            push_str(out, hit.action.as_str());
            out.extend_from_slice(b",\"entry\":");
            push_str(out, &hit.entry);
            out.push(b'}');
        }
        out.push(b']');
        if self.hits.len() > MAX_HITS {
            out.extend_from_slice(b",\"hits_total\":");
            push_number(out, self.hits.len() as u64);
        }
        if !self.out_of_scope.is_empty() {
            out.extend_from_slice(b",\"out_of_scope\":[");
            for (at, category) in self.out_of_scope.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                push_str(out, category);
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"generation\":");
        push_number(out, self.generation);
        out.extend_from_slice(b",\"elapsed_us\":");
        push_number(out, self.elapsed_us);
        if let Some(msg_body) = self.msg_body {
            // Already JSON (checked by the parse), written as sent but for
            // line breaks: in valid JSON a raw CR or LF can only be
            // whitespace between tokens (inside strings they are escaped),
            // so a space keeps the value and the record on one line.
            out.extend_from_slice(b",\"msg_body\":");
            out.extend(msg_body.bytes().map(|byte| if byte == b'\n' || byte == b'\r' { b' ' } else { byte }));
        }
        if let Some(data) = self.cloud_custom_data {
            out.extend_from_slice(b",\"cloud_custom_data\":");
            push_str(out, data);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// `text` as a JSON string. Ids, commands and entries almost never need
/// escaping, so they are checked and copied whole; the rest go through
/// serde_json.
fn push_str(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    // Writing a `str` into a `Vec` has no I/O to fail.
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// Whether any byte is a control character, `"` or `\`: eight bytes at a
/// time (the usual bit tricks for "has a zero byte" and "has a byte less
/// than n"), which takes a third of the instructions of a byte loop.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // A byte below 0x20 (bytes ≥ 0x80 are excluded by `!word`).
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
        if control || has_zero(word ^ (ONES * u64::from(b'"'))) || has_zero(word ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

fn push_number(out: &mut Vec<u8>, number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = number;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339, UTC, microseconds). A time
/// before 1970 is written as the epoch: the clock is the system's and never
/// is.
pub fn write_rfc3339(out: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    // Records come many a second: the date and time to the second are
    // worked out once a second per thread, and only the microseconds each
    // time.
    thread_local! {
        static LAST_SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    let (cached, text) = LAST_SECOND.get();
    let text = if cached == seconds {
        text
    } else {
        let mut text = [0; 19];
        let mut written = Vec::with_capacity(19);
        write_seconds(&mut written, seconds);
        // Always 19 bytes; should that ever change, zeros beat a panic.
        if let Some(prefix) = written.get(..19) {
            text.copy_from_slice(prefix);
        }
        LAST_SECOND.set((seconds, text));
        text
    };
    out.extend_from_slice(&text);
    out.push(b'.');
    let micros = u64::from(since.subsec_micros());
    let digits = [
        micros / 100_000,
        micros / 10_000 % 10,
        micros / 1000 % 10,
        micros / 100 % 10,
        micros / 10 % 10,
        micros % 10,
    ];
    out.extend(digits.map(|digit| b'0' + digit as u8));
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS`, 19 bytes.
fn write_seconds(out: &mut Vec<u8>, seconds: u64) {
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let of_day = seconds % 86_400;
    let two = |out: &mut Vec<u8>, n: u64| {
        out.push(b'0' + (n / 10 % 10) as u8);
        out.push(b'0' + (n % 10) as u8);
    };
    let year = year.min(9999);
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, of_day / 3600);
    out.push(b':');
    two(out, of_day / 60 % 60);
    out.push(b':');
    two(out, of_day % 60);
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn time(seconds: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros)
    }

    fn rfc3339(time: SystemTime) -> String {
        let mut out = Vec::new();
        write_rfc3339(&mut out, time);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn times_are_rfc3339_utc_with_microseconds() {
        assert_eq!(rfc3339(time(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(time(951_782_400, 7)), "2000-02-29T00:00:00.000007Z");
        assert_eq!(rfc3339(time(1_795_645_402, 123_456)), "2026-11-25T22:23:22.123456Z");
        assert_eq!(rfc3339(time(4_102_444_799, 999_999)), "2099-12-31T23:59:59.999999Z");
    }

    fn hit(category: &str, entry: &str) -> Hit {
        Hit {
            category: category.into(),
            action: Action::Reject,
            entry: entry.into(),
            field: None,
            start: 0,
            end: 1,
            matched: "USER TEXT".into(),
        }
    }

    #[test]
    fn a_record_is_one_json_line_without_user_text_unless_asked() {
        let hits = [hit("fraud", "返利"), hit("fraud", "刷单"), hit("gambling", "赌博")];
        let mut record = Record {
            time: time(0, 0),
            command: "C2C.CallbackBeforeSendMsg",
            sdkappid: Some("1400000001"),
            ids: Ids { from_account: Some("jared"), to_account: Some("Jo\"hn"), ..Ids::default() },
            opt_platform: Some("iOS"),
            client_ip: Some("10.0.0.1"),
            verdict: VerdictLabel::Reject,
            dry_run: true,
            status: 200,
            error_code: Some(120001),
            error: None,
            hits: &hits,
            out_of_scope: &["ads".to_string()],
            generation: 3,
            elapsed_us: 42,
            msg_body: None,
            cloud_custom_data: None,
        };
        let mut line = Vec::new();
        record.write_line(&mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&line) else { panic!("not JSON") };
        assert_eq!(json["from_account"], "jared");
        assert_eq!(json["to_account"], "Jo\"hn");
        assert!(json.get("official_account").is_none());
        assert_eq!(json["verdict"], "reject");
        assert_eq!(json["dry_run"], true);
        assert_eq!(json["error_code"], 120001);
        assert_eq!(json["categories"], serde_json::json!(["fraud", "gambling"]));
        assert_eq!(json["hits"][2]["entry"], "赌博");
        assert_eq!(json["out_of_scope"], serde_json::json!(["ads"]));
        assert_eq!(json["generation"], 3);
        assert_eq!(json["elapsed_us"], 42);
        assert!(!String::from_utf8_lossy(&line).contains("USER TEXT"));
        assert!(json.get("msg_body").is_none());

        record.msg_body = Some("[\r\n  {\"MsgType\":\"TIMTextElem\",\n\"MsgContent\":{\"Text\":\"hi\\n\"}}]");
        record.cloud_custom_data = Some("data");
        line.clear();
        record.write_line(&mut line);
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&line) else { panic!("not JSON") };
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(json["msg_body"][0]["MsgContent"]["Text"], "hi\n");
        assert_eq!(json["cloud_custom_data"], "data");
    }

    #[test]
    fn escaping_is_found_anywhere_in_a_string() {
        for text in ["", "jared", "@TGS#2J4SZEAEL", "一起去赌博吧", "exactly8", "0123456789abcdef0"] {
            assert!(!needs_escape(text.as_bytes()), "{text}");
        }
        for at in 0..17 {
            for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}"] {
                let text = format!("{}{special}{}", "a".repeat(at), "b".repeat(16 - at));
                assert!(needs_escape(text.as_bytes()), "{text:?}");
                let mut out = Vec::new();
                push_str(&mut out, &text);
                assert_eq!(serde_json::from_slice::<String>(&out).ok().as_deref(), Some(text.as_str()));
            }
        }
        // Bytes of 0x80 and above (UTF-8) and DEL are not special.
        assert!(!needs_escape("\u{7f}éé€€".as_bytes()));
    }

    #[test]
    fn labels_are_closed_sets() {
        assert_eq!(CommandLabel::of("C2C.CallbackBeforeSendMsg"), CommandLabel::C2cBeforeSend);
        assert_eq!(CommandLabel::of("State.StateChange"), CommandLabel::Other);
        for (at, label) in CommandLabel::ALL.iter().enumerate() {
            assert_eq!(label.index(), at);
            assert_eq!(CommandLabel::of(label.as_str()), *label);
        }
        for (at, label) in VerdictLabel::ALL.iter().enumerate() {
            assert_eq!(label.index(), at);
        }
    }
}
