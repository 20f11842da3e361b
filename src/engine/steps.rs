//! Evasion-resistant folding: the steps a category may switch on beyond the
//! core's case, width and invisible-character folding.
//!
//! | step | what it folds | table |
//! | --- | --- | --- |
//! | `simplified` | traditional → simplified Chinese (`賭博` → `赌博`) | OpenCC's `TSCharacters`, via `ferrous-opencc` |
//! | `confusables` | Latin look-alikes from other scripts and styles (`ƒ`, Cyrillic `с`, `Ⓕ`, `𝐟`); combining marks stacked on letters (zalgo) and other scripts' marks on Latin letters dropped | `decancer`'s confusables table |
//! | `leet` | digits and symbols standing for letters inside a word (`$h1t`, `h4ck`, `¢unt`, `fu(k`, `@$$`) | the list in [`leet`], and decancer's for symbols |
//! | `noise` | noise between the characters of a word: between CJK characters (`赌 博`, `色@#$%&情`, `色2情`), between a CJK character and a Latin letter (`加 v`), between single Latin letters (`f.u.c.k`); see [`skip_noise`] | |
//! | `repeats` | a character repeated three times or more (`fuuuuck`, `赌赌赌博`); an ideograph pair, in the literal view ([`view`]) | |
//! | `numbers` | circled and Chinese numerals to digits (`①`, `三`) | the list in [`number`] |
//!
//! Entries and message text go through the same steps, so what an entry
//! says is what it matches. Each step keeps the offset map exact: every
//! folded character knows the span of original characters it stands for,
//! and the noise a hit skipped lies inside the hit's original span, so masks
//! cover it. Respellings that a fold cannot express without flagging
//! ordinary words (`b*tch`, `shiit`, `fu ck`) are the spelling index's
//! ([`super::spelling`]), switched on by the same steps.

use std::fmt;
use std::sync::OnceLock;

use super::chars::{is_cjk, is_clause_break, is_combining_mark, is_ideograph, is_invisible, is_noise};
use super::fold::push_folded;

/// A set of folding steps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Steps(u16);

impl Steps {
    /// Traditional → simplified Chinese.
    pub const SIMPLIFIED: Steps = Steps(1);
    /// Latin look-alikes.
    pub const CONFUSABLES: Steps = Steps(2);
    /// Leetspeak inside words.
    pub const LEET: Steps = Steps(4);
    /// Noise between characters of a word.
    pub const NOISE: Steps = Steps(8);
    /// Characters repeated three times or more.
    pub const REPEATS: Steps = Steps(16);
    /// Circled and Chinese numerals.
    pub const NUMBERS: Steps = Steps(32);
    /// A CJK entry also matches its pinyin (`dubo`, `du bo`, `赌bo`).
    pub const PINYIN: Steps = Steps(64);
    /// A character of a CJK entry may be written as a homophone (`睹博`).
    pub const HOMOPHONES: Steps = Steps(128);
    /// A character of a CJK entry may be written as its two components
    /// (`贝者博`).
    pub const SPLIT: Steps = Steps(256);
    /// The respellings of [`super::phonetic`]: they read the folded text,
    /// they do not fold it.
    pub const PHONETIC: Steps = Steps(64 | 128 | 256);
    /// Only the core folding.
    pub const NONE: Steps = Steps(0);
    /// Every step.
    pub const ALL: Steps = Steps(511);
    /// What a file gets without `@fold`: everything but `numbers`, which
    /// would turn `一起` into `1起` and is for lists about numbers.
    pub const DEFAULT: Steps = Steps(31);

    const NAMES: [(&'static str, Steps); 9] = [
        ("simplified", Steps::SIMPLIFIED),
        ("confusables", Steps::CONFUSABLES),
        ("leet", Steps::LEET),
        ("noise", Steps::NOISE),
        ("repeats", Steps::REPEATS),
        ("numbers", Steps::NUMBERS),
        ("pinyin", Steps::PINYIN),
        ("homophones", Steps::HOMOPHONES),
        ("split", Steps::SPLIT),
    ];

    /// The steps in `self`, each with its name, in `@fold`'s order.
    pub fn each(self) -> impl Iterator<Item = (&'static str, Steps)> {
        Steps::NAMES.into_iter().filter(move |(_, step)| self.contains(*step))
    }

    /// True when every step of `other` is in `self`.
    pub fn contains(self, other: Steps) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with `other` added or removed.
    pub fn with(self, other: Steps, on: bool) -> Steps {
        if on {
            Steps(self.0 | other.0)
        } else {
            Steps(self.0 & !other.0)
        }
    }

    /// Parses an `@fold` value: words applied in order to the defaults;
    /// `name` or `+name` switches a step on, `-name` off, `none` and `all`
    /// reset.
    pub fn parse(value: &str) -> Result<Steps, String> {
        let mut steps = Steps::DEFAULT;
        for word in value.split_whitespace() {
            match word {
                "none" => steps = Steps::NONE,
                "all" => steps = Steps::ALL,
                "default" => steps = Steps::DEFAULT,
                _ => {
                    let (on, name) = match word.strip_prefix('-') {
                        Some(name) => (false, name),
                        None => (true, word.strip_prefix('+').unwrap_or(word)),
                    };
                    let Some(&(_, step)) = Steps::NAMES.iter().find(|(known, _)| *known == name) else {
                        return Err(format!(
                            "unknown fold step {word:?} (expected none, all, or [+|-] simplified, \
                             confusables, leet, noise, repeats, numbers, pinyin, homophones, split)"
                        ));
                    };
                    steps = steps.with(step, on);
                }
            }
        }
        Ok(steps)
    }
}

impl fmt::Debug for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Steps::NONE {
            return f.write_str("none");
        }
        let names: Vec<&str> =
            Steps::NAMES.iter().filter(|(_, step)| self.contains(*step)).map(|(name, _)| *name).collect();
        f.write_str(&names.join(" "))
    }
}

/// At most this many noise characters in a row are skipped; a longer gap
/// separates words, so unrelated words far apart do not join.
pub const MAX_NOISE_GAP: usize = 3;

/// A character of folded text and the original span it stands for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unit {
    /// The character with leetspeak read (`$` in `$hit` is `s`).
    pub ch: char,
    /// The character before leetspeak: what regexes and lists with
    /// `-leet` see.
    pub plain: char,
    pub start: u32,
    pub end: u32,
    /// How many equal characters this unit stands for (`u` in `fuuuck`
    /// is 3): a run of three or more became one unit.
    pub run: u16,
    /// Written as CJK clause punctuation (`，。！？；：、`): noise skipping
    /// never joins across it, whatever it folded to.
    pub clause_break: bool,
    /// Marked by a pass for removal.
    pub skip: bool,
}

/// Folds `original` through the core folding and `steps`, into `units`.
///
/// Leetspeak is read into each unit's `ch` whether or not `steps` has it
/// (`plain` keeps the character as it was), so one folding serves both the
/// literals of a file and its regexes, which see the text without leet.
/// Returns whether leetspeak changed any character.
pub(crate) fn fold_units(original: &str, steps: Steps, units: &mut Vec<Unit>) -> bool {
    units.clear();
    units.reserve(original.len());
    let mut buf = String::new();
    // Passes that need context run only when their characters occur.
    let (mut maybe_leet, mut maybe_noise, mut maybe_x) = (false, false, false);
    let table = steps.contains(Steps::SIMPLIFIED).then(simplified_table);
    let numbers = steps.contains(Steps::NUMBERS);
    let marks = steps.contains(Steps::CONFUSABLES);
    for (at, ch) in original.char_indices() {
        let start = offset(at);
        let end = offset(at + ch.len_utf8());
        // The common characters of chat text, without the general path's
        // string buffer and tables.
        if ch.is_ascii() {
            let folded = ch.to_ascii_lowercase();
            maybe_leet |= ascii_class(folded) & (LEET | BRACKET) != 0;
            // Digits count: between ideographs a few are noise (`色2情`).
            maybe_noise |= !folded.is_ascii_alphabetic();
            maybe_x |= folded == 'x';
            units.push(Unit::new(folded, start, end, false));
            continue;
        }
        if is_ideograph(ch) && !(numbers && number(ch).is_some()) {
            let folded = match table {
                Some(table) => simplified_in(table, ch),
                None => ch,
            };
            units.push(Unit::new(folded, start, end, false));
            continue;
        }
        if is_invisible(ch) {
            continue;
        }
        let after_letter = units.last().is_some_and(|unit| unit.ch.is_ascii_alphabetic());
        if marks && (is_combining_mark(ch) || (after_letter && is_decoration(ch))) {
            // Zalgo text stacks marks on letters (`f̶u̶c̶k̶`): they go, and
            // the letter before them stands for them, so a mask covers them.
            if let Some(last) = units.last_mut() {
                last.end = end;
            }
            continue;
        }
        buf.clear();
        push_folded(ch, &mut buf);
        let clause_break = is_clause_break(ch);
        for folded in buf.chars() {
            if marks && is_combining_mark(folded) {
                continue;
            }
            let folded = fold_char(folded, steps);
            maybe_leet |= leet(folded).is_some();
            maybe_noise |= is_noise(folded);
            units.push(Unit::new(folded, start, end, clause_break));
        }
    }
    let leet_changed = maybe_leet && fold_leet(units);
    if (maybe_noise || maybe_x) && steps.contains(Steps::NOISE) {
        skip_noise(units, maybe_x);
    }
    if steps.contains(Steps::REPEATS) {
        collapse_repeats(units);
    }
    leet_changed
}

impl Unit {
    fn new(ch: char, start: u32, end: u32, clause_break: bool) -> Unit {
        Unit { ch, plain: ch, start, end, run: 1, clause_break, skip: false }
    }
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// The context-free steps for one (already core-folded) character.
fn fold_char(ch: char, steps: Steps) -> char {
    if ch.is_ascii() {
        return ch;
    }
    if steps.contains(Steps::NUMBERS) {
        if let Some(digit) = number(ch) {
            return digit;
        }
    }
    if is_ideograph(ch) {
        if steps.contains(Steps::SIMPLIFIED) {
            return simplified(ch);
        }
        return ch;
    }
    if steps.contains(Steps::CONFUSABLES) && !is_noise(ch) {
        if let Some(latin) = confusable(ch) {
            return latin;
        }
    }
    ch
}

/// A character decancer removes outright (a mark of another script, such
/// as Devanagari's `ऀ`, put on Latin letters as decoration: `fऀuऀcऀk`).
fn is_decoration(ch: char) -> bool {
    !is_cjk(ch)
        && matches!(decancer::cure_char(ch, decancer::Options::default()), decancer::Translation::None)
}

/// The simplified form of a traditional character (itself otherwise).
///
/// The table is OpenCC's character table (`TSCharacters`, Apache-2.0, the
/// reference for Chinese conversion, maintained since 2010) as embedded by
/// the `ferrous-opencc` crate: each ideograph is converted once, on first
/// use (~8 ms), into a dense array, so the request path is one index.
fn simplified(ch: char) -> char {
    simplified_in(simplified_table(), ch)
}

fn simplified_in(table: &[char], ch: char) -> char {
    let code = ch as u32;
    if (TABLE_FIRST..=TABLE_LAST).contains(&code) {
        table.get((code - TABLE_FIRST) as usize).copied().unwrap_or(ch)
    } else {
        ch
    }
}

const TABLE_FIRST: u32 = 0x3400;
const TABLE_LAST: u32 = 0x9FFF;

fn simplified_table() -> &'static [char] {
    static TABLE: OnceLock<Vec<char>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<char> = (TABLE_FIRST..=TABLE_LAST).filter_map(char::from_u32).collect();
        let Ok(converter) = ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s)
        else {
            // The table is compiled into the binary; if it ever failed to
            // load, folding would simply leave characters as they are.
            return table;
        };
        let mut buf = String::new();
        for slot in table.iter_mut() {
            buf.clear();
            buf.push(*slot);
            let converted = converter.convert(&buf);
            let mut chars = converted.chars();
            if let (Some(single), None) = (chars.next(), chars.next()) {
                *slot = single;
            }
        }
        table
    })
}

/// A traditional character that folds to `ch`, if `ch` is simplified (the
/// evaluation uses it to write traditional spellings of entries).
pub fn traditional_of(ch: char) -> Option<char> {
    let table = simplified_table();
    (TABLE_FIRST..=TABLE_LAST)
        .zip(table.iter())
        .find(|&(code, &simple)| simple == ch && code != ch as u32)
        .and_then(|(code, _)| char::from_u32(code))
}

/// The ASCII letter or digit a look-alike stands for, from `decancer`'s
/// table (maintained, built from Unicode's confusables data plus styled
/// alphabets). Only single ASCII alphanumerics are taken: decancer also
/// turns emoji and whole symbols into letters (`😀` → `o`), which in chat
/// text would invent words.
fn confusable(ch: char) -> Option<char> {
    if is_cjk(ch) {
        return None;
    }
    match decancer::cure_char(ch, decancer::Options::default()) {
        decancer::Translation::Character(latin) if latin.is_ascii_alphanumeric() => Some(latin),
        _ => None,
    }
}

/// Circled, parenthesised and Chinese numerals (and `两`, a count's 2).
pub fn number(ch: char) -> Option<char> {
    let digit = if ch == '两' { 2 } else { super::chars::numeral_digit(ch)? };
    char::from_digit(u32::from(digit), 10)
}

/// Digits and symbols that stand for letters when they sit next to a letter:
/// `$h1t`, `h4ck`, `b1tch`, `¢unt`, `sh€`. Alone (`2024`, `$5`, `€10`) they
/// stay what they are. The symbols beyond ASCII are the look-alikes the
/// confusables table reads as letters but which are symbols, not letters,
/// in Unicode (so the `confusables` step, which folds letters only, leaves
/// them): read here, they need a letter beside them.
pub fn leet(ch: char) -> Option<char> {
    if ch.is_ascii() {
        return ascii_leet(ch);
    }
    if is_cjk(ch) || is_pictograph(ch) || !is_noise(ch) {
        return None;
    }
    symbol_letter(ch)
}

/// The ASCII part of [`leet`].
const fn ascii_leet(ch: char) -> Option<char> {
    Some(match ch {
        '4' | '@' => 'a',
        '8' => 'b',
        '3' => 'e',
        '1' | '!' | '|' => 'i',
        '0' => 'o',
        '$' | '5' => 's',
        '7' | '+' => 't',
        _ => return None,
    })
}

/// Brackets read as `c` only between two letters (`fu(k`, `fu<k`): at the
/// edge of a word they are brackets (`(fuck)`).
const fn interior_leet(ch: char) -> Option<char> {
    if matches!(ch, '(' | '<' | '[' | '{') {
        Some('c')
    } else {
        None
    }
}

/// The letter a symbol looks like, from `decancer`'s table: `¢` `©` `⊂`
/// are `c`, `€` `£` are `e`, `×` is `x`, `🄐` is `a`.
fn symbol_letter(ch: char) -> Option<char> {
    match decancer::cure_char(ch, decancer::Options::default()) {
        decancer::Translation::Character(latin) if latin.is_ascii_alphabetic() => Some(latin),
        _ => None,
    }
}

/// Emoji and pictographs: decancer reads some as letters (`😀` as `o`),
/// which in chat would invent words.
fn is_pictograph(ch: char) -> bool {
    matches!(ch, '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{1F300}'..='\u{1FAFF}')
}

/// Symbols that may stand for one letter inside a word (`b*tch`, `s#it`,
/// `f'ck`): they do not end a run of leetspeak, and the spelling index
/// ([`super::spelling`]) tries them as every letter.
pub fn is_wildcard(ch: char) -> bool {
    ascii_class(ch) & WILDCARD != 0
}

const fn is_ascii_wildcard(ch: char) -> bool {
    matches!(ch, '*' | '#' | '%' | '?' | '_' | '-' | '.' | '^' | '~' | '"' | '\'' | '&')
}

/// Classes of ASCII characters, one table look-up each: this runs for
/// every character of most texts. Built from [`ascii_leet`],
/// [`interior_leet`] and [`is_ascii_wildcard`], so each list is written
/// once.
const LEET: u8 = 1;
const BRACKET: u8 = 2;
const WILDCARD: u8 = 4;
const LETTER: u8 = 8;
const ASCII_CLASSES: [u8; 128] = {
    let mut table = [0; 128];
    let mut byte = 0;
    while byte < 128 {
        let ch = byte as u8 as char;
        let mut class = 0;
        if ascii_leet(ch).is_some() {
            class |= LEET;
        }
        if interior_leet(ch).is_some() {
            class |= BRACKET;
        }
        if is_ascii_wildcard(ch) {
            class |= WILDCARD;
        }
        if ch.is_ascii_alphabetic() {
            class |= LETTER;
        }
        table[byte] = class;
        byte += 1;
    }
    table
};

/// The class bits of an ASCII character (0 for any other).
fn ascii_class(ch: char) -> u8 {
    ASCII_CLASSES.get(ch as usize).copied().unwrap_or(0)
}

/// Reads the leet characters of every run of letters and leet characters
/// that holds at least one letter (`$h1t`, `b4$7ard`, `h4ck`) into `ch`,
/// except a trailing `!` or `|`, which ends a sentence more often than it
/// spells an `i` (`fuck!` is not `fucki`). Runs without a letter (`2024`,
/// `$5`) stay. Returns whether any character was read.
fn fold_leet(units: &mut [Unit]) -> bool {
    let mut changed = false;
    let in_run = |unit: &Unit| {
        let ch = unit.ch;
        if ch.is_ascii() {
            ascii_class(ch) != 0
        } else {
            !is_ideograph(ch) && leet(ch).is_some()
        }
    };
    let mut start = 0;
    while start < units.len() {
        if !in_run(&units[start]) {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < units.len() && in_run(&units[end]) {
            end += 1;
        }
        let run = &mut units[start..end];
        let mut last = run.len();
        while last > 0 && matches!(run[last - 1].ch, '!' | '|') {
            last -= 1;
        }
        let letters = run[..last].iter().filter(|unit| unit.ch.is_ascii_alphabetic()).count();
        // A run of three or more symbols without a letter or digit (`@$$`)
        // reads as letters too, unless it is all one symbol (`$$$`); with
        // a digit it is an amount (`€10`, `$100`).
        let symbols_only = letters == 0
            && last >= 3
            && run[..last].iter().all(|unit| leet(unit.ch).is_some() && !unit.ch.is_ascii_digit())
            && run[..last].iter().any(|unit| unit.ch != run[0].ch);
        // The same symbol between every letter (`f!u!c!k`, `s@h@i@t`) is a
        // separator, left for noise skipping.
        let separated = last >= 5
            && last % 2 == 1
            && run[..last].iter().step_by(2).all(|unit| unit.ch.is_ascii_alphabetic())
            && run[1..last]
                .iter()
                .step_by(2)
                .all(|unit| unit.ch == run[1].ch && !unit.ch.is_ascii_alphanumeric());
        if (letters > 0 || symbols_only) && !separated {
            for i in 0..last {
                let letter = match leet(run[i].ch) {
                    Some(letter) => Some(letter),
                    None => interior_leet(run[i].ch).filter(|_| {
                        i > 0
                            && run[i - 1].ch.is_ascii_alphabetic()
                            && run.get(i + 1).is_some_and(|next| next.ch.is_ascii_alphabetic())
                    }),
                };
                if let Some(letter) = letter {
                    run[i].ch = letter;
                    changed = true;
                }
            }
        }
        start = end;
    }
    changed
}

/// Between two ideographs noise may be longer when it holds no space: a
/// string of symbols (`色@#$%&情`) is one obstacle, where spaces between
/// words of ordinary text are several.
pub const MAX_CJK_NOISE_GAP: usize = 8;

/// At most this many digits between two ideographs are skipped with the
/// noise (`色2情`); a longer number (a price, a phone number) is text.
pub const MAX_CJK_DIGITS: usize = 2;

fn is_latin_letter(ch: char) -> bool {
    ch.is_ascii_alphabetic()
}

/// Marks for removal the noise between the characters of a word:
/// - between two ideographs: up to [`MAX_NOISE_GAP`] symbols, spaces or
///   emoji, or up to [`MAX_CJK_NOISE_GAP`] without a space, with up to
///   [`MAX_CJK_DIGITS`] digits among them when there is no space; a lone
///   `x` (`垃x圾`); CJK clause punctuation only run together with other
///   noise and no space (`法！@轮。。功`), never alone (`去赌。博物馆`);
/// - between an ideograph and a Latin letter (`加 v`, `QQ*群`): up to
///   [`MAX_NOISE_GAP`];
/// - between two single Latin letters (`f.u.c.k`): up to [`MAX_NOISE_GAP`],
///   or up to [`MAX_CJK_NOISE_GAP`] spaces; never across a space next to
///   `a` or `i`, which are words (`a f^ck`).
fn skip_noise(units: &mut Vec<Unit>, maybe_x: bool) {
    let len = units.len();
    let is_single_letter = |units: &[Unit], i: usize| {
        is_latin_letter(units[i].ch)
            && !(i > 0 && units[i - 1].ch.is_alphanumeric())
            && !units.get(i + 1).is_some_and(|u| u.ch.is_alphanumeric())
    };
    // Clause punctuation is skippable too, but a gap holding one joins
    // only as below.
    let skippable = |unit: &Unit| is_noise(unit.ch) || unit.ch.is_ascii_digit() || unit.clause_break;
    // A lone `x` between two ideographs masks nothing in Chinese text: it
    // is the letter people censor with (`垃x圾`).
    if maybe_x {
        for i in 1..len.saturating_sub(1) {
            if units[i].ch == 'x' && is_ideograph(units[i - 1].ch) && is_ideograph(units[i + 1].ch) {
                units[i].skip = true;
            }
        }
    }
    let mut i = 0;
    while i < len {
        if !skippable(&units[i]) {
            i += 1;
            continue;
        }
        let gap_start = i;
        let (mut digits, mut spaced, mut clause) = (0, false, false);
        while i < len && skippable(&units[i]) {
            digits += usize::from(units[i].ch.is_ascii_digit());
            spaced |= units[i].ch.is_whitespace();
            clause |= units[i].clause_break;
            i += 1;
        }
        let gap = i - gap_start;
        if gap_start == 0 || i == len {
            continue;
        }
        let (left, right) = (units[gap_start - 1].ch, units[i].ch);
        let blank = units[gap_start..i].iter().all(|unit| unit.ch.is_whitespace());
        let joins = if clause {
            // One clause mark ends a clause (`去赌。博物馆`); marks run
            // together with other noise and no space are an obstacle
            // (`法！@轮。。功`).
            is_ideograph(left)
                && is_ideograph(right)
                && gap >= 2
                && !spaced
                && digits == 0
                && gap <= MAX_CJK_NOISE_GAP
        } else if is_ideograph(left) && is_ideograph(right) {
            // Digits only without a space: `色2情`, not `有 2 个`.
            let digits_ok = digits == 0 || (digits <= MAX_CJK_DIGITS && !spaced);
            digits_ok && (gap <= MAX_NOISE_GAP || (!spaced && gap <= MAX_CJK_NOISE_GAP))
        } else if digits > 0 {
            false
        } else if is_ideograph(left) || is_ideograph(right) {
            gap <= MAX_NOISE_GAP && (is_latin_letter(left) || is_latin_letter(right))
        } else if gap > MAX_NOISE_GAP && !(blank && gap <= MAX_CJK_NOISE_GAP) {
            // Spaces alone may be longer between single letters
            // (`f    u     c k`).
            false
        } else {
            // `a` and `I` are words: `a f^ck` is not `af^ck`. Between other
            // single letters any noise is a separator (`a s s`, `f u c k`).
            let word = |ch: char| matches!(ch, 'a' | 'i');
            let spaced_word = spaced && (word(left) || word(right));
            !spaced_word && is_single_letter(units, gap_start - 1) && is_single_letter(units, i)
        };
        if joins {
            for unit in &mut units[gap_start..i] {
                unit.skip = true;
            }
        }
    }
    units.retain(|unit| !unit.skip);
}

/// A run of three or more of the same letter or ideograph becomes one unit
/// standing for the whole run (`fuuuuck`, `赌赌赌博`), its `run` the count.
/// Runs of two stay in the units: `good`, `assassin` and `谢谢` are spelt
/// that way. Doubles are matched later and more precisely: an ideograph
/// pair by the literal view ([`super::normalize`]), a doubled letter by the
/// spelling index ([`super::spelling`]), both only where the entry has the
/// character fewer times.
fn collapse_repeats(units: &mut Vec<Unit>) {
    // Nearly all text has no triple: find the first before moving anything.
    let Some(first) = units.windows(3).position(|w| w[0].ch == w[1].ch && w[1].ch == w[2].ch) else {
        return;
    };
    let mut write = first;
    let mut i = first;
    while i < units.len() {
        let unit = units[i];
        let mut j = i + 1;
        while j < units.len() && units[j].ch == unit.ch {
            j += 1;
        }
        if j - i >= 3 && (unit.ch.is_alphabetic() || is_ideograph(unit.ch)) {
            let run = u16::try_from(j - i).unwrap_or(u16::MAX);
            units[write] = Unit { end: units[j - 1].end, run, ..unit };
            write += 1;
        } else {
            if write != i {
                units.copy_within(i..j, write);
            }
            write += j - i;
        }
        i = j;
    }
    units.truncate(write);
}

/// Whether `text` folds to itself through the core folding and any steps:
/// ASCII without upper case, without a character leetspeak reads, without
/// a single-letter word (the only Latin letters noise skipping joins) and
/// without three equal characters in a row. Most chat text in Latin script
/// is like this, and is then matched as it is, without building units
/// (which cost about 100 instructions a character).
pub(crate) fn folds_to_itself_ascii(text: &str) -> bool {
    let bytes = text.as_bytes();
    // The length of the current run of letters and digits, and whether its
    // first character is a letter.
    let mut run = 0usize;
    let mut starts_with_letter = false;
    for (i, &byte) in bytes.iter().enumerate() {
        if !byte.is_ascii() || byte.is_ascii_uppercase() {
            return false;
        }
        let class = ascii_class(byte as char);
        if class & LEET != 0 {
            return false;
        }
        // A bracket reads as `c` only between two letters (`fu(k`).
        let between_letters = i > 0
            && bytes[i - 1].is_ascii_alphabetic()
            && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        if class & BRACKET != 0 && between_letters {
            return false;
        }
        if i >= 2 && bytes[i - 1] == byte && bytes[i - 2] == byte {
            return false;
        }
        if byte.is_ascii_alphanumeric() {
            if run == 0 {
                starts_with_letter = byte.is_ascii_alphabetic();
            }
            run += 1;
        } else {
            if run == 1 && starts_with_letter {
                return false;
            }
            run = 0;
        }
    }
    !(run == 1 && starts_with_letter)
}

/// Walks one view of folded units, calling `emit(ch, start, end, run)`
/// for each character: with leetspeak read (`leet`) or as written, and with
/// each pair (or longer run) of equal ideographs squeezed into one
/// character (`squeeze`) or not. Literals see leetspeak and squeezed pairs
/// when their file has `leet` and `repeats`; regexes see squeezed pairs but
/// not leetspeak, since a rule such as `re:qq\d{5,}` is about the digits
/// as written.
pub(crate) fn view(units: &[Unit], leet: bool, squeeze: bool, mut emit: impl FnMut(char, u32, u32, u16)) {
    let mut i = 0;
    while i < units.len() {
        let unit = units[i];
        let ch = if leet { unit.ch } else { unit.plain };
        let (mut end, mut run) = (unit.end, unit.run);
        let mut j = i + 1;
        if squeeze && is_ideograph(ch) {
            while j < units.len() && units[j].plain == unit.plain {
                end = units[j].end;
                run = run.saturating_add(units[j].run);
                j += 1;
            }
        }
        emit(ch, unit.start, end, run);
        i = j;
    }
}

/// Whether squeezing would change `units`: two equal ideographs in a row.
pub(crate) fn has_ideograph_pair(units: &[Unit]) -> bool {
    units.windows(2).any(|w| w[0].plain == w[1].plain && is_ideograph(w[0].plain))
}

/// Folds a dictionary literal through the steps.
pub fn fold_literal(text: &str, steps: Steps) -> String {
    fold_literal_runs(text, steps).0
}

/// Folds a dictionary literal through the steps, with how many times each
/// folded character was written (`谢谢` is `谢` written twice).
pub fn fold_literal_runs(text: &str, steps: Steps) -> (String, Vec<u16>) {
    let mut units = Vec::new();
    let _ = fold_units(text, steps, &mut units);
    let (mut folded, mut runs) = (String::new(), Vec::new());
    view(&units, steps.contains(Steps::LEET), steps.contains(Steps::REPEATS), |ch, _, _, run| {
        folded.push(ch);
        runs.push(run);
    });
    (folded, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_shortcut_agrees_with_the_steps() {
        let all = Steps::ALL;
        for text in [
            "red packet",
            "your cloud custom data",
            "hello, see you tomorrow",
            "",
            "ok",
            "a b",
            "x",
            "Red",
            "sh1t",
            "f.u.c.k",
            "fuuuck",
            "www",
            "it's",
            "e-mail me",
            "100%",
            "go   now",
            "aa bb",
        ] {
            if folds_to_itself_ascii(text) {
                let mut units = Vec::new();
                let leet_changed = fold_units(text, all, &mut units);
                let folded: String = units.iter().map(|unit| unit.ch).collect();
                assert_eq!((folded.as_str(), leet_changed), (text, false), "{text:?}");
                let identity =
                    units.iter().enumerate().all(|(i, u)| (u.start, u.end) == (i as u32, i as u32 + 1));
                assert!(identity, "{text:?}");
            }
        }
        assert!(folds_to_itself_ascii("red packet") && folds_to_itself_ascii("your cloud custom data"));
        for changed in ["Red", "sh1t", "f.u.c.k", "fuuuck", "a b", "x", "赌博"] {
            assert!(!folds_to_itself_ascii(changed), "{changed:?}");
        }
    }

    fn folded(text: &str, steps: Steps) -> String {
        fold_literal(text, steps)
    }

    #[test]
    fn parses_fold_directives() {
        assert_eq!(Steps::parse(""), Ok(Steps::DEFAULT));
        assert_eq!(Steps::parse("none"), Ok(Steps::NONE));
        assert_eq!(Steps::parse("none simplified"), Ok(Steps::SIMPLIFIED));
        assert_eq!(Steps::parse("-noise +numbers"), Ok(Steps(31 - 8 + 32)));
        assert!(Steps::parse("-nois").unwrap_err().contains("unknown fold step \"-nois\""));
        assert_eq!(Steps::DEFAULT.to_string(), "simplified confusables leet noise repeats");
    }

    #[test]
    fn each_step_alone() {
        assert_eq!(folded("賭博", Steps::SIMPLIFIED), "赌博");
        assert_eq!(folded("賭博", Steps::NONE), "賭博");
        assert_eq!(folded("ƒuсk", Steps::CONFUSABLES), "fuck");
        assert_eq!(folded("Ⓕⓤⓒⓚ 𝐟𝐮𝐜𝐤", Steps::CONFUSABLES), "fuck fuck");
        assert_eq!(folded("$h1t h4ck b4$7ard 2024 $5 fuck!", Steps::LEET), "shit hack bastard 2024 $5 fuck!");
        assert_eq!(folded("赌 博 赌*博 赌😀博", Steps::NOISE), "赌博赌博赌博");
        assert_eq!(folded("f.u.c.k or f u c k", Steps::NOISE), "fuck or fuck");
        // `a` and `I` are words: across a space they do not join single
        // letters after them; other noise still joins them (`a_s_s`).
        assert_eq!(folded("a f u c k", Steps::NOISE), "a fuck");
        assert_eq!(folded("a_s_s a s s", Steps::NOISE), "ass a ss");
        assert_eq!(folded("a cat is here", Steps::NOISE), "a cat is here");
        assert_eq!(folded("赌    博", Steps::NOISE), "赌    博");
        assert_eq!(folded("去赌。博物馆", Steps::NOISE), "去赌。博物馆");
        assert_eq!(folded("fuuuuck 赌赌赌博 good", Steps::REPEATS), "fuck 赌博 good");
        assert_eq!(folded("①②③ 三百", Steps::NUMBERS), "123 3百");
        // Longer noise between ideographs when it has no space, digits
        // among it, and noise between an ideograph and a Latin letter.
        for (text, expected) in [
            ("色@#$%&情", "色情"),
            ("色2情", "色情"),
            ("色1 2情", "色1 2情"),
            ("有 2 个", "有 2 个"),
            ("色 12 情", "色 12 情"),
            ("色123情", "色123情"),
            ("加 v", "加v"),
            ("qq*群", "qq群"),
            ("色     情", "色     情"),
            ("垃x圾", "垃圾"),
            ("法！@轮。。功", "法轮功"),
            ("去赌。博", "去赌。博"),
            ("f    u     c k", "fuck"),
        ] {
            assert_eq!(folded(text, Steps::NOISE), expected, "{text:?}");
        }
        assert_eq!(folded("第123章", Steps::NOISE), "第123章");
        // Symbols that look like letters read as letters beside letters.
        assert_eq!(
            folded("¢unt sh€ se× 🄐ss €10 fu(k (fuck)", Steps::LEET),
            "cunt she sex ass €10 fuck (fuck)"
        );
        assert_eq!(folded("@$$ $$$ 2024 $#1t", Steps::LEET), "ass $$$ 2024 s#it");
        // Zalgo marks go with the confusables.
        assert_eq!(folded("f\u{336}u\u{336}c\u{336}k\u{336} café", Steps::CONFUSABLES), "fuck cafe");
        assert_eq!(folded("三百", Steps::NONE), "三百");
    }

    #[test]
    fn units_cover_what_they_stand_for() {
        let mut units = Vec::new();
        let _ = fold_units("oh f.u.c.k", Steps::ALL, &mut units);
        let text: String = units.iter().map(|u| u.ch).collect();
        assert_eq!(text, "oh fuck");
        // `f` starts at 3, `k` ends at 10: the dots between lie inside.
        assert_eq!((units[3].start, units[6].end), (3, 10));
        let _ = fold_units("fuuuuck", Steps::REPEATS, &mut units);
        assert_eq!((units[1].ch, units[1].start, units[1].end, units[1].run), ('u', 1, 5, 4));
        // A zalgo mark belongs to the letter before it, so masks cover it.
        let _ = fold_units("f\u{336}u", Steps::ALL, &mut units);
        assert_eq!((units[0].start, units[0].end, units[1].start), (0, 3, 3));
        // Squeezed pairs of ideographs: one character written twice.
        let _ = fold_units("谢谢你", Steps::ALL, &mut units);
        let mut squeezed = Vec::new();
        view(&units, true, true, |ch, start, end, run| squeezed.push((ch, start, end, run)));
        assert_eq!(squeezed, [('谢', 0, 6, 2), ('你', 6, 9, 1)]);
    }
}
