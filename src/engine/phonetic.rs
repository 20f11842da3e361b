//! Phonetic and shape respellings of Chinese entries: pinyin, homophones and
//! split characters, the fold steps `pinyin`, `homophones` and `split`.
//!
//! | step | respelling of `赌博` | what must hold |
//! | --- | --- | --- |
//! | `pinyin` | `dubo`, `du bo`, `DuBo`, `dǔ bó`, `du3bo2`, `赌bo`, `du博` | the Latin letters start and end on word boundaries, and every break between Latin words falls between two syllables of the entry |
//! | `homophones` | `睹博`, `堵博` | at most [`MAX_HOMOPHONES`] characters of a hit are homophones, and at least one syllable is not |
//! | `split` | `贝者博` | the two components, side by side, of a character of an entry (table: `data/split.tsv`) |
//!
//! The design is the established one: each entry is expanded when the
//! dictionary compiles, and the text is read once. An entry of two or more
//! ideographs becomes the toneless readings of its characters joined
//! (`赌博` → `dubo`; every reading of a character with several, at most
//! [`MAX_SPELLINGS`] spellings an entry), all in one automaton. A text is
//! read into a *reading view* the same way: an ideograph by its first
//! reading, Latin letters lower-cased with tone marks and tone digits
//! dropped, a gap of up to [`MAX_GAP`] spaces or symbols between readable
//! pieces closed up, and two components that compose a character of an
//! entry read as that character. A match of the automaton is then checked
//! syllable by syllable against the entry it spells: a syllable is written
//! as the entry's character, in pinyin, as a homophone or split, and each
//! kind must be switched on by the file's steps. A match whose every
//! syllable is written as the entry is left to the literal automaton (which
//! has already decided it, boundaries and allow lists included).
//!
//! Every byte of the view knows the folded characters it was read from, so
//! a hit maps back to exactly what the sender typed, the spaces and tone
//! digits between its syllables included (`du bo` is masked `*****`).
//!
//! Cost: nothing unless a file switches one of the steps on. Then, per
//! text, one pass to build the view (Latin letters only when `pinyin` is on;
//! a text without ideographs or, with `pinyin`, Latin letters, is not read at
//! all) and one automaton scan of it. Build: one reading look-up per
//! character of every CJK entry.

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::{ToPinyin, ToPinyinMulti};

use super::chars::{is_clause_break, is_ideograph};
use super::literal::OverlappingMatcher;
use super::normalize::Normalized;
use super::segment;
use super::{Owner, RawHit};

/// At most this many characters of one hit may be homophones of the
/// entry's. Measured on the phonetic negatives: with 2, ordinary text
/// full of everyday words that read like a listed pair (`读博` for `赌博`)
/// would hit (see dictionaries/README.md).
pub const MAX_HOMOPHONES: usize = 1;

/// At most this many spellings of one entry (the product of its characters'
/// readings); characters beyond the budget keep their first reading.
pub const MAX_SPELLINGS: usize = 16;

/// Entries shorter than this many characters are not respelt: one syllable
/// of pinyin (`ma`, `bi`) is an English word or a name too often.
pub const MIN_ENTRY_CHARS: usize = 2;

/// A hit written all in pinyin spells at least this many letters (`ayi`
/// for `阿姨` is too short to tell from English).
pub const MIN_PINYIN_LETTERS: usize = 4;

/// At most this many spaces or symbols between two pieces of a respelling
/// (`du  bo`, `赌 . bo`); a longer gap separates them.
pub const MAX_GAP: usize = 3;

/// Which respellings a file's steps switch on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Respellings {
    pub pinyin: bool,
    pub homophones: bool,
    pub split: bool,
}

impl Respellings {
    fn any(self) -> bool {
        self.pinyin || self.homophones || self.split
    }
}

/// One entry spelt one way: who owns it, and where its characters and the
/// ends of its syllables are (`chars[at..at + len]`, `ends[at..at + len]`).
#[derive(Clone, Copy, Debug)]
struct Spelling {
    owner: Owner,
    at: u32,
    len: u8,
}

/// The CJK entries of one side, by their readings.
#[derive(Debug, Clone, Default)]
pub(crate) struct PhoneticIndex {
    respellings: Respellings,
    matcher: Option<OverlappingMatcher>,
    /// Pattern `p` is spelt by `spellings[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    spellings: Vec<Spelling>,
    /// The entries' characters, one run per spelling.
    chars: Vec<char>,
    /// The end of each syllable in the pattern, parallel to `chars`.
    ends: Vec<u8>,
    /// (first, second component, the entry character they compose),
    /// sorted.
    compose: Vec<(char, char, char)>,
    /// One bit per BMP character: whether it is a first component in
    /// `compose` (so most characters cost one load, not a search).
    first_components: Vec<u64>,
}

impl PhoneticIndex {
    /// Indexes the entries (folded literals and their owners) that are
    /// two or more ideographs with readings.
    pub(crate) fn build<'a>(
        respellings: Respellings,
        entries: impl IntoIterator<Item = (&'a str, &'a [u16], Owner)>,
    ) -> Result<PhoneticIndex, String> {
        let mut index = PhoneticIndex { respellings, ..PhoneticIndex::default() };
        if !respellings.any() {
            return Ok(index);
        }
        let mut patterns: Vec<(String, Spelling)> = Vec::new();
        let mut entry_chars: Vec<char> = Vec::new();
        for (folded, runs, owner) in entries {
            // A doubled character is folded once with its run (`时时彩` is
            // `时彩` written 2, 1 times); its reading is not.
            let mut chars: Vec<char> = Vec::new();
            for (i, ch) in folded.chars().enumerate() {
                let run = runs.get(i).copied().unwrap_or(1).clamp(1, 4);
                chars.extend(std::iter::repeat_n(ch, usize::from(run)));
            }
            if chars.len() < MIN_ENTRY_CHARS
                || chars.len() > usize::from(u8::MAX)
                || !chars.iter().all(|&c| is_ideograph(c))
            {
                continue;
            }
            let Some(readings) = chars.iter().map(|&c| readings_of(c)).collect::<Option<Vec<_>>>() else {
                continue;
            };
            entry_chars.extend_from_slice(&chars);
            for spelling in spellings(&readings) {
                let at = index.chars.len() as u32;
                let mut pattern = String::new();
                for (&ch, syllable) in chars.iter().zip(&spelling) {
                    pattern.push_str(syllable);
                    index.chars.push(ch);
                    index.ends.push(u8::try_from(pattern.len()).unwrap_or(u8::MAX));
                }
                if pattern.len() > usize::from(u8::MAX) {
                    index.chars.truncate(at as usize);
                    index.ends.truncate(at as usize);
                    continue;
                }
                patterns.push((pattern, Spelling { owner, at, len: chars.len() as u8 }));
            }
        }
        if patterns.is_empty() {
            return Ok(index);
        }
        patterns.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.owner.cmp(&b.1.owner)));
        let mut distinct: Vec<&str> = Vec::new();
        for (pattern, spelling) in &patterns {
            if distinct.last() != Some(&pattern.as_str()) {
                distinct.push(pattern);
                index.starts.push(index.spellings.len() as u32);
            }
            index.spellings.push(*spelling);
        }
        index.starts.push(index.spellings.len() as u32);
        index.matcher = Some(OverlappingMatcher::build(&distinct)?);
        if respellings.split {
            entry_chars.sort_unstable();
            entry_chars.dedup();
            let table = split_table();
            for ch in entry_chars {
                if let Some(&(first, second)) = table.get(&ch) {
                    for first in typed_forms(first) {
                        for second in typed_forms(second) {
                            index.compose.push((first, second, ch));
                        }
                    }
                }
            }
            index.compose.sort_unstable();
            index.first_components = vec![0; 0x1_0000 / 64];
            for &(first, _, _) in &index.compose {
                if let Some(word) = index.first_components.get_mut(first as usize / 64) {
                    *word |= 1 << (first as usize % 64);
                }
            }
        }
        Ok(index)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    pub(crate) fn pattern_count(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.matcher.as_ref().map_or(0, OverlappingMatcher::memory_usage)
            + self.spellings.capacity() * std::mem::size_of::<Spelling>()
            + self.chars.capacity() * 4
            + self.ends.capacity()
            + self.starts.capacity() * 4
            + self.compose.capacity() * 12
            + self.first_components.capacity() * 8
    }

    /// Appends to `out` a hit for every respelling in `folded` (a text
    /// folded through the file's steps, without leetspeak), as spans of
    /// `folded`.
    pub(crate) fn find_all(
        &self,
        folded: &str,
        normalized: &Normalized,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        let Some(matcher) = &self.matcher else { return };
        if !self.read(folded, normalized, scratch) {
            return;
        }
        let scratch = &*scratch;
        matcher.for_each(scratch.view.as_bytes(), |found| {
            // Most matches inside ordinary words fail here, at two loads.
            if !scratch.boundary[found.start] || !scratch.boundary[found.end] {
                return;
            }
            let (first, last) = match (self.starts.get(found.pattern), self.starts.get(found.pattern + 1)) {
                (Some(&first), Some(&last)) => (first as usize, last as usize),
                _ => return,
            };
            for spelling in &self.spellings[first..last] {
                let Some(Accepted { homophones, all_pinyin }) =
                    self.accepts(spelling, found.start, found.end, scratch)
                else {
                    continue;
                };
                let start = scratch.pieces[scratch.origin[found.start] as usize].start as usize;
                let end = scratch.pieces[scratch.origin[found.end - 1] as usize].end as usize;
                // `made` is not 妈的: an English word read as pinyin is the
                // English word.
                if all_pinyin && folded.get(start..end).is_some_and(is_english_word) {
                    continue;
                }
                // Ordinary Chinese is full of words that read like a listed
                // pair (`读博士` holds `读博`, read like `赌博`): a homophone
                // hit must not cut through a dictionary word of the text as
                // written.
                // And a hit that is itself a word (`出生` reads like `畜生`)
                // is that word.
                if homophones > 0
                    && (folded.get(start..end).is_some_and(segment::is_dictionary_word)
                        || segment::crosses_dictionary_word(folded, start, end))
                {
                    continue;
                }
                out.push(RawHit { owner: spelling.owner, start, end });
            }
        });
    }

    /// Whether the match `view[start..end]` respells `spelling` the way the
    /// file's steps allow.
    fn accepts(&self, spelling: &Spelling, start: usize, end: usize, scratch: &Scratch) -> Option<Accepted> {
        let Scratch { pieces, origin, boundary, .. } = scratch;
        if !boundary[start] || !boundary[end] {
            return None;
        }
        let at = spelling.at as usize;
        let len = usize::from(spelling.len);
        let (Some(chars), Some(ends)) = (self.chars.get(at..at + len), self.ends.get(at..at + len)) else {
            return None;
        };
        // Every break inside the match lies between two syllables.
        let mut next_end = 0;
        let breaks = boundary.get(start + 1..end).unwrap_or_default();
        for p in breaks.iter().enumerate().filter(|(_, &is_break)| is_break).map(|(i, _)| start + 1 + i) {
            while next_end < len && start + usize::from(ends[next_end]) < p {
                next_end += 1;
            }
            if next_end == len || start + usize::from(ends[next_end]) != p {
                return None;
            }
        }
        let (mut written, mut pinyin, mut homophones, mut split, mut letters) = (0, 0, 0, 0, 0);
        let mut syllable_start = start;
        for (&wanted, &syllable_end) in chars.iter().zip(ends) {
            let syllable_end = start + usize::from(syllable_end);
            let first = &pieces[origin[syllable_start] as usize];
            let last = &pieces[origin[syllable_end - 1] as usize];
            match first.kind {
                Kind::Latin => {
                    if last.kind != Kind::Latin {
                        return None;
                    }
                    pinyin += 1;
                    letters += syllable_end - syllable_start;
                }
                Kind::Ideograph | Kind::Split => {
                    // One character's reading, exactly.
                    if origin[syllable_start] != origin[syllable_end - 1]
                        || !boundary[syllable_start]
                        || !boundary[syllable_end]
                    {
                        return None;
                    }
                    if first.kind == Kind::Split {
                        split += 1;
                    }
                    if first.ch != wanted {
                        homophones += 1;
                        // Most matches in Chinese text read like an entry
                        // and are not one: they end here.
                        if !self.respellings.homophones && first.kind == Kind::Ideograph
                            || homophones > MAX_HOMOPHONES
                        {
                            return None;
                        }
                    } else if first.kind == Kind::Ideograph {
                        written += 1;
                    }
                }
                Kind::Separator => return None,
            }
            syllable_start = syllable_end;
        }
        let r = self.respellings;
        let allowed = written < len
            && (pinyin == 0 || r.pinyin)
            && (split == 0 || r.split)
            && (homophones == 0 || (r.homophones && homophones <= MAX_HOMOPHONES && homophones < len))
            && (pinyin < len || letters >= MIN_PINYIN_LETTERS);
        allowed.then_some(Accepted { homophones, all_pinyin: pinyin == len })
    }

    fn may_compose(&self, first: char) -> bool {
        // The bitmap covers the BMP; the few components beyond it (`𡰯` of
        // 刷) go straight to the search.
        let at = first as usize;
        at >= 0x1_0000 || self.first_components.get(at / 64).is_some_and(|word| word & (1 << (at % 64)) != 0)
    }

    fn composed(&self, first: char, second: char) -> Option<char> {
        let at = self.compose.partition_point(|&(f, s, _)| (f, s) < (first, second));
        self.compose.get(at).filter(|&&(f, s, _)| (f, s) == (first, second)).map(|&(_, _, ch)| ch)
    }

    /// Builds the reading view of `folded` in `scratch`; returns false when
    /// nothing in it can be a respelling.
    fn read(&self, folded: &str, normalized: &Normalized, scratch: &mut Scratch) -> bool {
        let pinyin = self.respellings.pinyin;
        let worth_reading = folded.chars().any(|c| is_ideograph(c) || (pinyin && c.is_ascii_alphabetic()));
        if !worth_reading {
            return false;
        }
        let Scratch { view, pieces, origin, boundary } = scratch;
        view.clear();
        pieces.clear();
        origin.clear();
        boundary.clear();
        // What the view last took: whether a break (a gap, a tone digit)
        // came after it.
        let mut gap = 0usize;
        let mut after_latin = false;
        let mut chars = folded.char_indices().peekable();
        let push = |view: &mut String,
                    pieces: &mut Vec<Piece>,
                    origin: &mut Vec<u32>,
                    boundary: &mut Vec<bool>,
                    text: &str,
                    piece: Piece,
                    boundary_before: bool| {
            let index = pieces.len() as u32;
            // Where Latin letters meet an ideograph or a separator, a
            // syllable may begin (`赌bo`).
            let kind_changes = pieces.last().is_some_and(|last| last.kind != piece.kind);
            pieces.push(piece);
            view.push_str(text);
            origin.extend(std::iter::repeat_n(index, text.len()));
            boundary.push(boundary_before || kind_changes);
            boundary.extend(std::iter::repeat_n(false, text.len().saturating_sub(1)));
        };
        while let Some((at, ch)) = chars.next() {
            let start = at as u32;
            let end = (at + ch.len_utf8()) as u32;
            if is_ideograph(ch) {
                let next = chars.peek().copied();
                if let Some((next_at, second)) = next.filter(|_| self.may_compose(ch)) {
                    if let Some(composed) = self.composed(ch, second) {
                        if let Some(reading) = first_reading(composed) {
                            chars.next();
                            let end = (next_at + second.len_utf8()) as u32;
                            let piece = Piece { start, end, ch: composed, kind: Kind::Split };
                            push(view, pieces, origin, boundary, reading, piece, true);
                            (gap, after_latin) = (0, false);
                            continue;
                        }
                    }
                }
                if let Some(reading) = first_reading(ch) {
                    // A doubled character the fold squeezed is read twice.
                    let run = normalized.run_at(at).clamp(1, 4);
                    for _ in 0..run {
                        let piece = Piece { start, end, ch, kind: Kind::Ideograph };
                        push(view, pieces, origin, boundary, reading, piece, true);
                    }
                    (gap, after_latin) = (0, false);
                    continue;
                }
            } else if pinyin {
                if let Some(letter) = pinyin_letter(ch) {
                    let piece = Piece { start, end, ch: letter, kind: Kind::Latin };
                    let mut buf = [0u8; 4];
                    let word_start = !after_latin || gap > 0;
                    push(view, pieces, origin, boundary, letter.encode_utf8(&mut buf), piece, word_start);
                    (gap, after_latin) = (0, true);
                    continue;
                }
                // A tone digit: a break, not a separator (`du3bo2`).
                let tone = after_latin
                    && gap == 0
                    && matches!(ch, '1'..='5')
                    && !chars.peek().is_some_and(|(_, next)| next.is_ascii_digit());
                if tone {
                    // The letter before stands for its tone digit too, so a
                    // mask covers it.
                    if let Some(last) = pieces.last_mut() {
                        last.end = end;
                    }
                    gap = 1;
                    continue;
                }
            }
            if is_joinable_gap(ch) && gap < MAX_GAP && !view.is_empty() {
                gap += 1;
                continue;
            }
            // Anything else separates; a run of separators is one.
            if let Some(last) = pieces.last_mut().filter(|last| last.kind == Kind::Separator) {
                last.end = end;
                (gap, after_latin) = (0, false);
                continue;
            }
            let piece = Piece { start, end, ch, kind: Kind::Separator };
            push(view, pieces, origin, boundary, "|", piece, true);
            (gap, after_latin) = (0, false);
        }
        boundary.push(true);
        true
    }
}

/// Buffers of the reading view, kept per thread.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    view: String,
    /// What the view was read from.
    pieces: Vec<Piece>,
    /// For each byte of the view, its piece.
    origin: Vec<u32>,
    /// For each position `0..=view.len()`, whether a syllable may begin or
    /// end there.
    boundary: Vec<bool>,
}

impl Scratch {
    pub(crate) fn shrink(&mut self) {
        if self.view.capacity() > 16 * 1024 {
            *self = Scratch::default();
        }
    }
}

/// A character (or two components) of the folded text, as the view read it.
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: u32,
    end: u32,
    /// The ideograph, the character two components compose, or the letter.
    ch: char,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ideograph,
    Split,
    Latin,
    Separator,
}

/// Spaces and symbols a respelling may have inside it (`du bo`, `赌.bo`);
/// clause punctuation and digits end it.
/// What [`PhoneticIndex::accepts`] learnt of a match it takes.
struct Accepted {
    /// Characters of the hit that are homophones of the entry's.
    homophones: usize,
    /// Every syllable is written in pinyin.
    all_pinyin: bool,
}

/// Whether `word` (any case) is an English word that reads as pinyin
/// (`data/english-pinyin.txt`: 3,811 words of SCOWL's 104k, such as
/// `made`, `being`, `china`, `dating`).
fn is_english_word(word: &str) -> bool {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let words = WORDS.get_or_init(|| {
        let table = include_str!("data/english-pinyin.txt");
        let mut words: Vec<&str> =
            table.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
        words.sort_unstable();
        words
    });
    // The longest word in the table has 16 letters.
    let mut lower = [0u8; 32];
    let Some(buffer) = lower.get_mut(..word.len()) else { return false };
    buffer.copy_from_slice(word.as_bytes());
    buffer.make_ascii_lowercase();
    std::str::from_utf8(buffer).is_ok_and(|word| words.binary_search(&word).is_ok())
}

fn is_joinable_gap(ch: char) -> bool {
    if is_clause_break(ch) || ch.is_alphanumeric() {
        return false;
    }
    ch.is_whitespace() || ch.is_ascii_punctuation() || !ch.is_ascii()
}

/// A Latin letter of pinyin, lower case, tone mark dropped (`ǔ` → `u`,
/// `ü` → `v`, as pinyin keyboards type it).
fn pinyin_letter(ch: char) -> Option<char> {
    Some(match ch {
        'a'..='z' => ch,
        'A'..='Z' => ch.to_ascii_lowercase(),
        'ā' | 'á' | 'ǎ' | 'à' | 'Ā' | 'Á' | 'Ǎ' | 'À' => 'a',
        'ē' | 'é' | 'ě' | 'è' | 'Ē' | 'É' | 'Ě' | 'È' | 'ê' => 'e',
        'ī' | 'í' | 'ǐ' | 'ì' | 'Ī' | 'Í' | 'Ǐ' | 'Ì' => 'i',
        'ō' | 'ó' | 'ǒ' | 'ò' | 'Ō' | 'Ó' | 'Ǒ' | 'Ò' => 'o',
        'ū' | 'ú' | 'ǔ' | 'ù' | 'Ū' | 'Ú' | 'Ǔ' | 'Ù' => 'u',
        'ü' | 'ǖ' | 'ǘ' | 'ǚ' | 'ǜ' | 'Ü' | 'Ǖ' | 'Ǘ' | 'Ǚ' | 'Ǜ' => 'v',
        'ń' | 'ň' | 'ǹ' => 'n',
        'ḿ' => 'm',
        _ => return None,
    })
}

/// The toneless reading a text's ideograph is read by: its first (most
/// common) one, `ü` written `v`.
fn first_reading(ch: char) -> Option<&'static str> {
    let reading = ch.to_pinyin()?.plain();
    // Only `ü` is not ASCII in a toneless reading.
    Some(if reading.is_ascii() { reading } else { u_umlaut_as(reading, 'v') })
}

/// Every distinct toneless reading of an entry's character, `ü` as `v`
/// (and also as `u`, which many type).
fn readings_of(ch: char) -> Option<Vec<&'static str>> {
    let multi = ch.to_pinyin_multi()?;
    let mut readings: Vec<&'static str> = Vec::new();
    for reading in multi {
        let plain = reading.plain();
        let spelt: &[&'static str] =
            if plain.is_ascii() { &[plain] } else { &[u_umlaut_as(plain, 'v'), u_umlaut_as(plain, 'u')] };
        for &spelling in spelt {
            if !spelling.is_empty() && spelling.is_ascii() && !readings.contains(&spelling) {
                readings.push(spelling);
            }
        }
    }
    (!readings.is_empty()).then_some(readings)
}

/// The four toneless syllables with `ü` (`lü`, `lüe`, `nü`, `nüe`), the
/// `ü` typed `v` or `u`; anything else unchanged (and then not ASCII, so
/// never matched).
fn u_umlaut_as(plain: &'static str, letter: char) -> &'static str {
    match (plain, letter) {
        ("lü", 'v') => "lv",
        ("lüe", 'v') => "lve",
        ("nü", 'v') => "nv",
        ("nüe", 'v') => "nve",
        ("lü", _) => "lu",
        ("lüe", _) => "lue",
        ("nü", _) => "nu",
        ("nüe", _) => "nue",
        _ => plain,
    }
}

/// The spellings of an entry: every combination of its characters'
/// readings, the first ones first, at most [`MAX_SPELLINGS`].
fn spellings(readings: &[Vec<&'static str>]) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&'static str>> = vec![Vec::new()];
    for choices in readings {
        let room = MAX_SPELLINGS / out.len().max(1);
        let take = choices.len().min(room.max(1));
        let mut next = Vec::with_capacity(out.len() * take);
        for spelling in &out {
            for &choice in &choices[..take] {
                let mut longer = spelling.clone();
                longer.push(choice);
                next.push(longer);
            }
        }
        out = next;
    }
    out
}

/// Radicals as the split table writes them, with the characters people
/// type for them when the radical is not on their keyboard (`才妾` for 接,
/// `牜勿` for 物, `九木` for 杂). By hand, from the radicals' full forms.
const TYPED_FORMS: &[(char, &[char])] = &[
    ('扌', &['才', '手']),
    ('亻', &['人']),
    ('氵', &['水']),
    ('忄', &['心']),
    ('犭', &['犬']),
    ('纟', &['糸']),
    ('讠', &['言']),
    ('钅', &['金']),
    ('饣', &['食']),
    ('衤', &['衣']),
    ('礻', &['示']),
    ('牛', &['牜']),
    ('朩', &['木']),
];

/// `component` and the characters typed for it.
fn typed_forms(component: char) -> impl Iterator<Item = char> {
    let typed =
        TYPED_FORMS.iter().find(|(radical, _)| *radical == component).map_or(&[][..], |(_, typed)| *typed);
    std::iter::once(component).chain(typed.iter().copied())
}

/// The two components a character is written as when split, if the table
/// has it.
pub fn components(ch: char) -> Option<(char, char)> {
    split_table().get(&ch).copied()
}

/// The split table: a character → its two components as written side by
/// side, from `data/split.tsv` (source and licence in its header).
fn split_table() -> &'static HashMap<char, (char, char)> {
    static TABLE: OnceLock<HashMap<char, (char, char)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for line in include_str!("data/split.tsv").lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('\t').map(|field| {
                let mut chars = field.chars();
                (chars.next(), chars.next())
            });
            if let (Some((Some(ch), None)), Some((Some(first), None)), Some((Some(second), None))) =
                (fields.next(), fields.next(), fields.next())
            {
                table.entry(ch).or_insert((first, second));
            }
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(respellings: Respellings, entries: &[&str]) -> PhoneticIndex {
        let owned: Vec<(&str, &[u16], Owner)> = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| (*entry, &[][..], Owner { category: 0, entry: i as u32 }))
            .collect();
        PhoneticIndex::build(respellings, owned).unwrap_or_default()
    }

    fn found<'t>(index: &PhoneticIndex, text: &'t str) -> Vec<&'t str> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let mut normalized = Normalized::new(text);
        normalized.set_identity();
        index.find_all(text, &normalized, &mut scratch, &mut out);
        out.iter().map(|hit| &text[hit.start..hit.end]).collect()
    }

    const ALL: Respellings = Respellings { pinyin: true, homophones: true, split: true };

    #[test]
    fn pinyin_joined_spaced_toned_and_mixed() {
        let index = index(Respellings { pinyin: true, ..Respellings::default() }, &["赌博"]);
        for text in ["dubo", "来 du bo 吧", "DuBo", "dǔ bó", "du3bo2", "赌bo", "du博", "du-bo", "du . bo"]
        {
            assert_eq!(found(&index, text).len(), 1, "{text}");
        }
        for text in ["dubois", "a dub of", "赌博", "du bo", "d ubo"] {
            let expect = usize::from(text == "du bo");
            assert_eq!(found(&index, text).len(), expect, "{text}");
        }
        assert_eq!(found(&index, "play du bo now"), vec!["du bo"]);
    }

    #[test]
    fn homophones_need_their_step_and_a_syllable_written() {
        let only_pinyin = index(Respellings { pinyin: true, ..Respellings::default() }, &["赌博"]);
        assert!(found(&only_pinyin, "睹博").is_empty());
        let homophones = index(Respellings { homophones: true, ..Respellings::default() }, &["赌博"]);
        assert_eq!(found(&homophones, "来睹博吧"), vec!["睹博"]);
        // Both characters replaced: too many homophones for one hit.
        assert!(found(&homophones, "杜波").is_empty());
    }

    #[test]
    fn split_characters_compose_entry_characters() {
        let index = index(Respellings { split: true, ..Respellings::default() }, &["赌博"]);
        assert_eq!(found(&index, "去贝者博吧"), vec!["贝者博"]);
        let all = self::index(ALL, &["赌博"]);
        assert_eq!(found(&all, "贝者bo"), vec!["贝者bo"]);
    }

    #[test]
    fn every_reading_of_a_heteronym() {
        let index = index(Respellings { pinyin: true, ..Respellings::default() }, &["银行"]);
        assert_eq!(found(&index, "yinhang").len(), 1);
        assert_eq!(found(&index, "yinxing").len(), 1);
    }
}
