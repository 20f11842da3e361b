//! Built-in detectors of contact details, the entries `detect:phone`,
//! `detect:wechat`, `detect:qq`, `detect:url` and `detect:email`: the ways
//! spammers lure users off the platform (引流), written the way they write
//! them.
//!
//! A detector reads the text as the sender wrote it, not its file's
//! folding: the fold steps squeeze repeated characters (`xyz_888` would
//! read `xyz_8`, `一一` read `一`) and read digits as letters, which is what
//! contact details are made of. It reads, on its own, the spellings contact
//! details take (case, full-width digits and invisible characters
//! included):
//!
//! - **numerals**: ASCII and full-width digits (the core fold), circled,
//!   parenthesised, full-stop and dingbat digits (`①③⑧`, `⑴`, `⒈`, `❶`),
//!   keycaps (`1️⃣`), Chinese and financial numerals (`一三八`, `幺`,
//!   `壹叁捌`), and up to [`MAX_DIGIT_GAP`] spaces or symbols between two
//!   digits (`138 1234 5678`, `1-3-8`);
//! - **cues** for WeChat and QQ (`微信 威信 薇信 V信 vx wx 加v` …, `QQ 扣扣
//!   企鹅 Q号` …) with up to [`MAX_CUE_GAP`] characters of noise between the
//!   cue and the ID (`V❤: xyz_888`, `扣扣：一二三四五六七八九`);
//! - **dots** spelt out in links and addresses (`点 。 [.] (.) dot`).
//!
//! Precise rules over broad ones, so that prices, dates, times, order
//! numbers and years do not hit:
//!
//! | detector | hits | does not hit |
//! | --- | --- | --- |
//! | `phone` | a run of exactly 11 digits `1[3-9]…` (mainland mobile), with `+86`/`0086` before it or not; a landline: `0` + area code (`010`, `02X`, or four digits) + 7–8 digits starting 2–8 | a run of any other length (`2024-01-05`, `13:45`, an order number of 12 digits), `12345678901` (no `1[3-9]`) |
//! | `qq` | 5–11 digits, not starting with 0, after a QQ cue | digits without a cue |
//! | `wechat` | after a WeChat cue: a WeChat ID (a letter, then 5–19 letters, digits, `_` or `-`), or 5–11 digits or a phone number; a cue followed by `见头像` and the like | an ID without a cue; a cue followed by Chinese (`微信支付`) |
//! | `url` | a scheme (`http://`, `https://`); `www` and a dot; a domain whose last label is one of [`SUFFIXES`] | `e.g.`, `file.txt`, `3.14`, `U.S.`, `node.js` |
//! | `email` | `name@domain.suffix`, `@` also written `＠`, `(at)`, `[at]` | an `@` mention without a domain |
//!
//! The hit covers exactly the contact: the digits (and the separators
//! between them), the ID, the link or the address. The cue word stays
//! unmasked.
//!
//! Cost: one automaton pass over the text for the marks the detectors
//! need (a numeral, the first characters of a cue, an `@`, a dot), then
//! only the patterns whose marks are there: 24% of the verdict's
//! instructions on a clean 100-byte message that has numbers in it (the
//! `detectors` bench, `examples/detect_cost.rs`).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;

use super::chars::numeral_digit;

/// At most this many spaces or symbols between two digits of one number.
pub const MAX_DIGIT_GAP: usize = 3;

/// At most this many characters of noise between a cue and the ID.
pub const MAX_CUE_GAP: usize = 6;

/// A QQ number of 6 digits or more may also come this many characters
/// after its cue, in the same clause (`加一下您QQ么，我的是345865759`).
pub const MAX_FAR_CUE: usize = 24;

/// The public suffixes a link without a scheme or `www` must end with: the
/// ones spam uses (measured on the contact evaluation set), not the whole
/// Public Suffix List, whose 1,500 top-level domains include English words
/// (`.world`, `.music`, `.is`, `.to`) that sentences missing a space after
/// a full stop would hit.
pub const SUFFIXES: &[&str] = &[
    "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "com.hk", "com.tw", "co.uk", "com", "cn", "net", "org",
    "top", "xyz", "vip", "info", "club", "site", "online", "shop", "store", "app", "ltd", "link", "live",
    "pro", "biz", "asia", "wang", "ren", "icu", "fun", "work", "tech", "cc", "io", "hk", "tw", "jp", "kr",
    "ru", "uk", "edu", "gov", "mobi", "name", "tk", "ml", "ga", "cf", "gq", "cyou", "buzz", "bond", "sbs",
    "cfd", "win", "au", "ws", "ca", "nz", "sg", "de", "fr",
];

/// One built-in detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    /// Mainland China mobile and landline numbers.
    Phone,
    /// A WeChat ID or number after a WeChat cue.
    Wechat,
    /// A QQ number after a QQ cue.
    Qq,
    /// A link.
    Url,
    /// An e-mail address.
    Email,
}

impl Detector {
    /// Every detector, in the order their names are listed in errors.
    pub const ALL: [Detector; 5] =
        [Detector::Phone, Detector::Wechat, Detector::Qq, Detector::Url, Detector::Email];

    /// The detector named `name` (the part after `detect:`).
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|detector| detector.name() == name)
    }

    /// The name after `detect:`.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Phone => "phone",
            Detector::Wechat => "wechat",
            Detector::Qq => "qq",
            Detector::Url => "url",
            Detector::Email => "email",
        }
    }
}

/// The digit a numeral character stands for: ASCII and full-width digits,
/// `幺` (1, as phone numbers are read aloud), the negative circled digits
/// `➊`–`➒`, and the numeral forms of [`numeral_digit`].
pub fn digit_value(ch: char) -> Option<u8> {
    // Most characters of chat are below the first numeral form (U+2460),
    // digits aside.
    if (ch as u32) < 0x2460 {
        return ch.is_ascii_digit().then(|| ch as u8 - b'0');
    }
    match ch {
        '０'..='９' => u8::try_from(ch as u32 - '０' as u32).ok(),
        '➊'..='➒' => u8::try_from(ch as u32 - '➊' as u32 + 1).ok(),
        '幺' => Some(1),
        _ => numeral_digit(ch),
    }
}

/// The compiled patterns, shared by every engine (they do not depend on
/// the dictionaries).
struct Patterns {
    /// What a text must hold for a detector to look at it (see
    /// [`Signals`]): one automaton pass, not a loop over characters.
    marks: AhoCorasick,
    /// What each pattern of `marks` signals.
    mark_kinds: Vec<Mark>,
    /// Any QQ or WeChat cue: without one, the cue patterns below are not
    /// run (a captures search costs microseconds; this is one pass).
    cues: Regex,
    /// A QQ cue and the noise after it, anchored at the end of the text
    /// before a run.
    qq_cue: Regex,
    /// A QQ cue, searched for earlier in the same clause
    /// (`QQ么，我的是345865759`), for numbers of 6 digits or more.
    qq_far: Regex,
    /// A WeChat cue and what follows it: an ID, or a pointer elsewhere.
    wechat: Regex,
    /// A WeChat cue and the noise after it, anchored at the end.
    wechat_cue: Regex,
    url: Regex,
    email: Regex,
}

/// Compiles the patterns once per process, at the first engine build that
/// lists a detector (so no request waits for it, and a pattern that does
/// not compile is a build error, not a panic).
pub(crate) fn prepare() -> Result<(), String> {
    patterns().map(|_| ()).ok_or_else(|| "the built-in detectors' patterns do not compile".to_string())
}

fn patterns() -> Option<&'static Patterns> {
    static PATTERNS: OnceLock<Option<Patterns>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let cue_gap = format!(
            r"(?:[^\p{{L}}\p{{N}}]|号码|号|是|为|加|吧|联系|交流群|群号|群|电话|手机号|手机|:|：){{0,{MAX_CUE_GAP}}}"
        );
        let qq = r"(?:qq|ｑｑ|q\s?q|扣扣|抠抠|寇寇|企鹅|球球|q号|q群|qq群|扣扣群)";
        let wechat = r"(?:微信|威信|薇信|徽信|维信|微心|微x|威x|v信|ｖ信|v新|vx|ｖｘ|wx|ｗｘ|wechat|weixin|wei\s?xin|加v|\+v|v❤|v♥|v💗|v\s?[:：]|加微)";
        let dot = r"(?:\.|点|。|｡|·|\[\.\]|\(\.\)|［\.］|（\.）|\s?\[dot\]\s?|\s?\(dot\)\s?|\s(?:dot)\s)";
        // Unbounded, not DNS's 63: a counted repetition multiplies the
        // lazy DFA's states, and its cache then thrashes (measured: 2×
        // the verdict cost of a clean message).
        let label = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
        let mut suffixes: Vec<&str> = SUFFIXES.to_vec();
        // Longest first: the regex takes the first alternative that
        // matches, and `com.cn` must win over `com`.
        suffixes.sort_by_key(|suffix| std::cmp::Reverse(suffix.len()));
        let suffixes = suffixes.iter().map(|s| s.replace('.', dot)).collect::<Vec<_>>().join("|");
        let build = |pattern: &str| Regex::new(pattern).ok();
        let mut marks: Vec<String> = Vec::new();
        let mut mark_kinds: Vec<Mark> = Vec::new();
        let mut add = |kind: Mark, words: &[&str]| {
            for word in words {
                marks.push((*word).to_string());
                mark_kinds.push(kind);
            }
        };
        let numerals: Vec<String> = ('\u{2460}'..='\u{FFEF}')
            .filter(|&ch| digit_value(ch).is_some())
            .map(String::from)
            .collect();
        add(Mark::Numeral, &numerals.iter().map(String::as_str).collect::<Vec<_>>());
        add(Mark::Cue, CUE_MARKS);
        add(Mark::At, &["@", "＠", "(at)", "[at]"]);
        add(Mark::Dot, &[".", "点", "。", "｡", "·"]);
        add(Mark::Link, &["://", " dot ", "[dot]", "(dot)"]);
        let marks = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&marks)
            .ok()?;
        Some(Patterns {
            marks,
            mark_kinds,
            cues: build(&format!("(?i){qq}|{wechat}"))?,
            qq_cue: build(&format!("(?i){qq}{cue_gap}$"))?,
            qq_far: build(&format!("(?i){qq}"))?,
            wechat: build(&format!(
                r"(?i){wechat}(?:{cue_gap}([a-z][a-z0-9_-]{{5,19}})(?:[^a-z0-9_-]|$)|[^\p{{L}}\p{{N}}]{{0,2}}(?:号|id)?[^\p{{L}}\p{{N}}]{{0,2}}((?:见|看|在|加)(?:头像|主页|简介|签名|资料|昵称)))"
            ))?,
            wechat_cue: build(&format!("(?i){wechat}{cue_gap}$"))?,
            url: build(&format!(
                r"(?i)(?:https?|ftp)://[^\s<>'\x22，。、）)】]+|www{dot}{label}(?:{dot}{label})+(?:/[^\s<>'\x22，。、）)】]*)?|(?:{label}{dot})+(?:{suffixes})(?:[^a-z0-9-]|$)"
            ))?,
            email: build(&format!(
                r"(?i)[\p{{L}}\p{{N}}][\p{{L}}\p{{N}}._%+-]*(?:@|＠|\(at\)|\[at\])(?:{label}{dot})+(?:[a-z]{{2,24}})(?:[^a-z0-9-]|$)"
            ))?,
        })
    })
    .as_ref()
}

/// Calls `found` with the span (`start..end` in `text`) of every contact
/// that one of `wanted` detects, with that detector.
pub fn find_all(text: &str, wanted: &[Detector], mut found: impl FnMut(Detector, usize, usize)) {
    let wants = |detector| wanted.contains(&detector);
    let Some(patterns) = patterns() else { return };
    let signals = Signals::of(text, patterns);
    let cued =
        (wants(Detector::Qq) || wants(Detector::Wechat)) && signals.cue && patterns.cues.is_match(text);
    let numeric = wants(Detector::Phone) || cued;
    if let Some(first) = signals.numeral.filter(|_| numeric) {
        numeral_runs(text, first, |run_start, run_end| {
            let spaced = || text[run_start..run_end].contains(char::is_whitespace);
            if !numeral_run(text, run_start, run_end, patterns, cued, &wants, &mut found) && spaced() {
                // Several numbers a space apart (`QQ群： 776036021 495929039`):
                // each on its own, the cue of the first carrying over.
                let mut part_start = run_start;
                let mut parts = text[run_start..run_end].split(char::is_whitespace).peekable();
                while let Some(part) = parts.next() {
                    let part_end = part_start + part.len();
                    if !part.is_empty() {
                        numeral_run(text, part_start, part_end, patterns, cued, &wants, &mut found);
                    }
                    part_start = part_end + parts.peek().map_or(0, |_| 1);
                    while part_start < run_end && !text.is_char_boundary(part_start) {
                        part_start += 1;
                    }
                }
            }
        });
    }
    if wants(Detector::Wechat) && cued {
        for captures in patterns.wechat.captures_iter(text) {
            let Some(id) = captures.get(1).or_else(|| captures.get(2)) else { continue };
            // A Latin cue (`vx`, `wx`) must start a word.
            let Some(cue) = captures.get(0) else { continue };
            if text[..cue.start()].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            found(Detector::Wechat, id.start(), id.end());
        }
    }
    // Links need a dot of some kind between two letters or digits;
    // addresses an `@` of some kind.
    let links = wants(Detector::Url) && signals.dot;
    // Addresses are found for links too: an address's domain is not a
    // link of its own.
    let addresses = (wants(Detector::Email) || links) && signals.at;
    if links || addresses {
        let mut emails: Vec<(usize, usize)> = Vec::new();
        if addresses {
            for hit in patterns.email.find_iter(text) {
                let end = trim_boundary(text, hit.start(), hit.end());
                emails.push((hit.start(), end));
                if wants(Detector::Email) {
                    found(Detector::Email, hit.start(), end);
                }
            }
        }
        if links {
            for hit in patterns.url.find_iter(text) {
                let end = trim_boundary(text, hit.start(), hit.end());
                // An address's domain is not a link of its own.
                if emails.iter().any(|&(s, e)| s <= hit.start() && end <= e) {
                    continue;
                }
                found(Detector::Url, hit.start(), end);
            }
        }
    }
}

/// The first characters of every QQ and WeChat cue (any case): a text
/// without one of these holds no cue.
const CUE_MARKS: &[&str] = &[
    "qq", "q q", "ｑｑ", "ＱＱ", "q号", "q群", "扣扣", "抠抠", "寇寇", "企鹅", "球球", "微信", "威信",
    "薇信", "徽信", "维信", "微心", "微x", "威x", "v信", "ｖ信", "v新", "vx", "ｖｘ", "ＶＸ", "wx", "ｗｘ",
    "ＷＸ", "wechat", "weixin", "wei xin", "加v", "+v", "v❤", "v♥", "v💗", "v:", "v：", "v :", "v ：",
    "加微",
];

/// What a pattern of [`Patterns::marks`] signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Numeral,
    Cue,
    At,
    /// A dot of some kind; a link needs an ASCII letter or digit on both
    /// sides of it.
    Dot,
    /// A scheme or a spelt-out dot.
    Link,
}

/// What one pass over a text finds that the detectors need: a detector's
/// patterns are searched only when its signal is there.
#[derive(Debug, Default)]
struct Signals {
    /// Where the first numeral is.
    numeral: Option<usize>,
    /// A QQ or WeChat cue.
    cue: bool,
    /// A dot of some kind (`.` `点` `。` `｡` `·`, bracketed or not) between
    /// two ASCII letters or digits, a scheme, or a spelt-out dot.
    dot: bool,
    /// An `@` of some kind.
    at: bool,
}

impl Signals {
    fn of(text: &str, patterns: &Patterns) -> Signals {
        // ASCII digits by a byte scan; every other mark by the automaton,
        // which skips ahead with its prefilter between them.
        let mut signals =
            Signals { numeral: text.bytes().position(|b| b.is_ascii_digit()), ..Signals::default() };
        for found in patterns.marks.find_iter(text) {
            match patterns.mark_kinds.get(found.pattern().as_usize()) {
                Some(Mark::Numeral) if signals.numeral.is_none_or(|first| found.start() < first) => {
                    signals.numeral = Some(found.start());
                }
                Some(Mark::Cue) => signals.cue = true,
                Some(Mark::At) => signals.at = true,
                Some(Mark::Link) => signals.dot = true,
                Some(Mark::Dot) => signals.dot |= dot_between_letters(text, found.start(), found.end()),
                Some(Mark::Numeral) | None => {}
            }
        }
        signals
    }
}

/// Whether the dot at `text[start..end]` has an ASCII letter or digit on
/// both sides, a bracket around it allowed (`example[.]com`).
fn dot_between_letters(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let mut after = text[end..].chars();
    let mut previous = before.next();
    let mut next = after.next();
    if matches!(previous, Some('[' | '(' | '［' | '（')) {
        previous = before.next();
    }
    if matches!(next, Some(']' | ')' | '］' | '）')) {
        next = after.next();
    }
    previous.is_some_and(|c| c.is_ascii_alphanumeric()) && next.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Calls `each` with the span of every run of numerals in `text`: a
/// numeral, then any number of (at most [`MAX_DIGIT_GAP`] gap characters,
/// a numeral). By hand rather than a regex: it runs on every text with a
/// digit, and a loop over characters is a tenth of a regex search there.
fn numeral_runs(text: &str, from: usize, mut each: impl FnMut(usize, usize)) {
    let mut run: Option<(usize, usize)> = None;
    let mut gap = 0;
    for (at, ch) in text[from..].char_indices().map(|(at, ch)| (from + at, ch)) {
        let end = at + ch.len_utf8();
        if digit_value(ch).is_some() {
            run = Some((run.map_or(at, |(start, _)| start), end));
            gap = 0;
        } else if let Some((start, last)) = run {
            // A keycap: the digit, a variation selector, U+20E3.
            if gap == 0 && matches!(ch, '\u{FE0F}' | '\u{20E3}') && last == at {
                run = Some((start, end));
            } else if gap < MAX_DIGIT_GAP && is_digit_gap(ch) {
                gap += 1;
            } else {
                each(start, last);
                run = None;
                gap = 0;
            }
        }
    }
    if let Some((start, end)) = run {
        each(start, end);
    }
}

/// What may stand between two digits of one number (`138 1234 5678`,
/// `1-3-8`, `(010) 6217`). Not `,` `，` `、`: they separate the numbers of
/// a list (`010-63779779,13911218526`).
fn is_digit_gap(ch: char) -> bool {
    ch.is_whitespace()
        || matches!(
            ch,
            '-' | '_'
                | '.'
                | '·'
                | '・'
                | '/'
                | '*'
                | '~'
                | '—'
                | '–'
                | '+'
                | '#'
                | '|'
                | '\\'
                | ':'
                | '：'
                | '('
                | ')'
                | '（'
                | '）'
                | '='
                | '❤'
                | '♥'
                | '♡'
                | '★'
                | '☆'
                | '\u{FE0F}'
                | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// Reads `text[start..end]`, a run of numerals, as a phone number or as a
/// QQ or WeChat number after its cue; reports it and returns true if it is
/// one.
fn numeral_run(
    text: &str,
    start: usize,
    end: usize,
    patterns: &Patterns,
    any_cue: bool,
    wants: &impl Fn(Detector) -> bool,
    found: &mut impl FnMut(Detector, usize, usize),
) -> bool {
    let written = &text[start..end];
    let mut digits = [0u8; 20];
    let mut count = 0;
    for ch in written.chars() {
        if let Some(digit) = digit_value(ch) {
            if count == digits.len() {
                return false;
            }
            digits[count] = digit;
            count += 1;
        }
    }
    // A run of ordinary text (`一` alone) is not a number, and without a
    // cue only a phone number's lengths matter (mobile 11, with +86 13,
    // 0086 15, landline 10–12).
    if count < 5 || !any_cue && !(10..=15).contains(&count) {
        return false;
    }
    let digits = &digits[..count];
    let cued = |cue: &Regex| {
        let window_start = floor_char_boundary(text, start.saturating_sub(96));
        cue.is_match(&text[window_start..start])
    };
    // Part of a longer number or word (`a12345678901`, `12345678901x`),
    // unless a cue is glued to it (`qq12345678`).
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let far_qq = || {
        // The clause before the run, at most MAX_FAR_CUE characters of it.
        let clause_start = text[..start]
            .char_indices()
            .rev()
            .take(MAX_FAR_CUE)
            .take_while(|&(_, c)| !matches!(c, '。' | '！' | '？' | '!' | '?' | '\n'))
            .last()
            .map_or(start, |(at, _)| at);
        digits.len() >= 6 && patterns.qq_far.is_match(&text[clause_start..start])
    };
    let qq = any_cue && wants(Detector::Qq) && (cued(&patterns.qq_cue) || far_qq());
    let wechat = any_cue && wants(Detector::Wechat) && cued(&patterns.wechat_cue);
    let glued_before = before.is_some_and(|c| c.is_ascii_alphanumeric()) && !qq && !wechat;
    if glued_before || after.is_some_and(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let phone = phone_start(digits, written);
    let mut any = false;
    if wants(Detector::Phone) && phone.is_some() {
        found(Detector::Phone, include_prefix(text, start, written), end);
        any = true;
    }
    let id_like = (5..=11).contains(&digits.len()) && digits[0] != 0;
    if qq && id_like {
        found(Detector::Qq, start, end);
        any = true;
    } else if wechat && (id_like || phone.is_some()) {
        // A WeChat ID may be the phone number it was opened with.
        found(Detector::Wechat, start, end);
        any = true;
    }
    any
}

/// Where the mobile or landline number in `digits` starts (0, or after
/// `86`/`0086`), if it is one.
fn phone_start(digits: &[u8], written: &str) -> Option<usize> {
    let mobile = |d: &[u8]| d.len() == 11 && d[0] == 1 && (3..=9).contains(&d[1]);
    for prefix in [&[][..], &[8, 6], &[0, 0, 8, 6]] {
        if digits.starts_with(prefix) && mobile(&digits[prefix.len()..]) {
            return Some(prefix.len());
        }
    }
    // Landlines: 010 and 02X have three digits, the rest four; the
    // subscriber number has 7 or 8, starting 2–8; written in ASCII digits
    // with at most a bracket, a space or a dash after the area code and one
    // inside the subscriber number (`(010) 6217 9665`), so that a date and
    // a time (`07/06/2000 14:57`) are not one.
    if digits.first() == Some(&0) && digits.len() >= 10 && digits[1] != 0 {
        let area = if matches!(digits.get(1), Some(1 | 2)) { 3 } else { 4 };
        let subscriber = &digits[area..];
        if (7..=8).contains(&subscriber.len()) && (2..=8).contains(&subscriber[0]) && landline_shape(written)
        {
            return Some(0);
        }
    }
    None
}

fn landline_shape(written: &str) -> bool {
    static SHAPE: OnceLock<Option<Regex>> = OnceLock::new();
    SHAPE
        .get_or_init(|| Regex::new(r"^[(（]?0[0-9]{2,3}[)）]?[ -]{0,2}[2-8][0-9]{2,3}[ -]?[0-9]{4}$").ok())
        .as_ref()
        .is_some_and(|shape| shape.is_match(written))
}

/// `start`, or the `+` just before it (`+86 138…`), or the bracket that
/// opens an area code the number closes (`(010) 6217 9665`).
fn include_prefix(text: &str, start: usize, written: &str) -> usize {
    let before = &text[..start];
    let opened = written.contains([')', '）']);
    let prefix = before
        .strip_suffix(['+', '＋'])
        .or_else(|| opened.then(|| before.strip_suffix(['(', '（'])).flatten());
    prefix.map_or(start, str::len)
}

/// The end of a match that may have taken the character after it (the
/// `[^a-z0-9-]` that ends a suffix), and trailing dots.
fn trim_boundary(text: &str, start: usize, end: usize) -> usize {
    let mut end = end;
    let matched = &text[start..end];
    if let Some(last) = matched.chars().next_back() {
        if !(last.is_ascii_alphanumeric() || last == '/') {
            end -= last.len_utf8();
        }
    }
    while end > start && text[..end].ends_with(['.', ',', '!', '?', ';', ':']) {
        end -= 1;
    }
    end
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, detector: Detector) -> Vec<&str> {
        let mut out = Vec::new();
        find_all(text, &[detector], |d, start, end| {
            assert_eq!(d, detector);
            out.push(&text[start..end]);
        });
        out
    }

    #[test]
    fn patterns_compile() {
        assert!(prepare().is_ok());
    }

    #[test]
    fn phones_in_every_spelling() {
        for text in [
            "13812345678",
            "138 1234 5678",
            "+86 138-1234-5678",
            "①③⑧①②③④⑤⑥⑦⑧",
            "幺三八一二三四五六七八",
            "壹叁捌壹贰叁肆伍陆柒捌",
            "010-62345678",
            "0755 2345678",
        ] {
            assert_eq!(found(&format!("电话{text}吧"), Detector::Phone).len(), 1, "{text}");
        }
        for text in ["2024-01-05", "13:45", "价格1380元", "订单号202401051234", "12345678901", "第一二三名"]
        {
            assert!(found(text, Detector::Phone).is_empty(), "{text}");
        }
    }

    #[test]
    fn qq_and_wechat_need_their_cue() {
        assert_eq!(found("加我扣扣：一二三四五六七八九", Detector::Qq), ["一二三四五六七八九"]);
        assert_eq!(found("QQ 123456789", Detector::Qq), ["123456789"]);
        assert!(found("我有123456789个", Detector::Qq).is_empty());
        assert_eq!(found("加我微信 abc12345", Detector::Wechat), ["abc12345"]);
        assert_eq!(found("V❤: xyz_888", Detector::Wechat), ["xyz_888"]);
        assert_eq!(found("wx号见头像", Detector::Wechat), ["见头像"]);
        assert!(found("用微信支付100元", Detector::Wechat).is_empty());
        assert!(found("abc12345", Detector::Wechat).is_empty());
    }

    #[test]
    fn links_and_addresses() {
        assert_eq!(found("看 www点example点com 吧", Detector::Url), ["www点example点com"]);
        assert_eq!(found("上example。com看看", Detector::Url), ["example。com"]);
        assert_eq!(found("go to https://t.cn/abc now", Detector::Url), ["https://t.cn/abc"]);
        for text in ["e.g. this", "file.txt", "3.14", "the U.S. and", "node.js"] {
            assert!(found(text, Detector::Url).is_empty(), "{text}");
        }
        assert_eq!(found("mail me: bob.smith@example.com.", Detector::Email), ["bob.smith@example.com"]);
        assert!(found("mail me: bob.smith@example.com.", Detector::Url).is_empty());
        assert!(found("@everyone hi", Detector::Email).is_empty());
    }
}
