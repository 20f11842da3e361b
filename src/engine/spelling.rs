//! The spelling index: one-word Latin entries looked up by the shape of a
//! word, for respellings that an automaton of folded literals cannot match
//! without listing every variant of every entry.
//!
//! | respelling | example | step that switches it on |
//! | --- | --- | --- |
//! | a symbol for exactly one letter, the way people self-censor | `b*tch`, `f**k`, `s#it` | `leet` |
//! | letters that look alike in chat fonts: `l` for `i` (and `I` for `l`), `v` for `u` | `shlt`, `fvck`, `buIIshit` | `leet` |
//! | a letter written more times than the entry has it | `shiit`, `fuckk`, `asss` | `repeats` |
//! | a space, `-`, `_` or `.` inside a compound entry | `mother fucker`, `bull-shit` | `noise` |
//!
//! Each rule is precise rather than broad, because every one of them would
//! flag ordinary words if applied to the text as a fold: a word matches an
//! entry only when it spells that entry letter for letter, a symbol
//! standing for one letter, a look-alike for the letter it resembles, a
//! letter repeated at least as often as the entry has it. Symbols count
//! only inside a word (`*` at either end is punctuation), at most
//! [`MAX_WILDCARDS`] of them and never more than the word's letters, so
//! `a**` or `*` alone mean nothing; a compound's parts must each have
//! [`MIN_COMPOUND_PART`] letters, so `pen is` is not `penis`.
//!
//! Words are the whole-word runs of the folded text (after case, width,
//! confusables and leetspeak), so `Ｂ*ＴＣＨ` and `b*7ch` are found too. A
//! word that the automaton already matched is not looked up again.
//!
//! Cost: one hash and one binary search per word of the text (about 60
//! instructions); a word with symbols in it tries every letter for each
//! symbol (26 or 676 look-ups), for at most [`MAX_WILDCARD_WORDS`] words a
//! text, so a message of asterisks costs at most ~25k look-ups. Memory:
//! about 20 bytes per indexed entry.

use super::chars::is_word_char;
use super::normalize::Normalized;
use super::{Owner, RawHit};

/// At most this many symbols in one word stand for letters.
pub const MAX_WILDCARDS: usize = 2;

/// Words with symbols looked up per text; later ones are not.
pub const MAX_WILDCARD_WORDS: usize = 32;

/// The parts of a compound written apart have at least this many letters
/// each.
pub const MIN_COMPOUND_PART: usize = 3;

/// Entries shorter than this are not indexed: a two-letter word has too
/// many innocent look-alikes.
const MIN_ENTRY: usize = 3;

/// Entries shorter than this are not met by look-alike letters.
const MIN_LOOK_ALIKE_ENTRY: usize = 4;

/// Words longer than this are not looked up (no entry is that long).
const MAX_WORD: usize = 40;

/// Endings of inflected entries, longest first, and the least a stem
/// keeps: `tits` and `hoes` are left to the list (`ho` + `es` is a tool).
const ENDINGS: &[&str] = &["ing", "ers", "es", "ed", "er", "s"];
const MIN_STEM: usize = 4;

/// The least letters each entry of a word made of entries has.
const MIN_TILE: usize = 4;

/// Symbols that may stand for one letter inside a word (one list, shared
/// with leetspeak: [`super::steps::is_wildcard`]).
fn is_wildcard(byte: u8) -> bool {
    super::steps::is_wildcard(byte as char)
}

/// Words of at most two letters that are words (`pen is` is not `penis`):
/// a split word is joined only when one of its pieces is not one of these.
fn is_short_word(piece: &[u8]) -> bool {
    matches!(
        piece,
        b"a" | b"i"
            | b"ad"
            | b"ah"
            | b"am"
            | b"an"
            | b"as"
            | b"at"
            | b"aw"
            | b"ax"
            | b"be"
            | b"by"
            | b"do"
            | b"eh"
            | b"go"
            | b"ha"
            | b"he"
            | b"hi"
            | b"ho"
            | b"id"
            | b"if"
            | b"in"
            | b"is"
            | b"it"
            | b"la"
            | b"lo"
            | b"ma"
            | b"me"
            | b"my"
            | b"no"
            | b"of"
            | b"oh"
            | b"ok"
            | b"on"
            | b"or"
            | b"ow"
            | b"ox"
            | b"oy"
            | b"pa"
            | b"re"
            | b"so"
            | b"to"
            | b"uh"
            | b"um"
            | b"up"
            | b"us"
            | b"we"
            | b"ya"
            | b"ye"
            | b"yo"
    )
}

/// Most pieces a split word is joined from.
const MAX_PIECES: usize = 8;

/// Noise between the pieces of a split word: at most this many
/// characters, none of them an apostrophe (`he'll` is not `hell`).
const MAX_PIECE_GAP: usize = 3;

/// Symbols that may join the parts of a compound (`bull-shit`).
fn is_joiner(byte: u8) -> bool {
    matches!(byte, b'-' | b'_' | b'.')
}

/// Which respellings the index answers for, from the steps of its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Respellings {
    /// `leet`: symbols for letters, `l`/`i` and `v`/`u`.
    pub look_alikes: bool,
    /// `repeats`: letters written more often than the entry has them.
    pub doubles: bool,
    /// `noise`: compounds written apart.
    pub compounds: bool,
}

impl Respellings {
    fn any(self) -> bool {
        self.look_alikes || self.doubles || self.compounds
    }
}

/// One-word entries by the key of their spelling.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpellingIndex {
    respellings: Respellings,
    /// (hash of the key, index into `entries`), sorted.
    keys: Vec<(u64, u32)>,
    /// A bit per hash bucket that some key falls in: most words of a
    /// message are no key, and one bit says so without the binary search
    /// (16 probes for 60k keys). About 16 bits per key.
    filter: Vec<u64>,
    /// (start in `spellings`, length, owner).
    entries: Vec<(u32, u8, Owner)>,
    spellings: String,
}

impl SpellingIndex {
    /// Indexes the one-word entries among `literals` (folded, whole-word).
    pub(crate) fn build<'a>(
        respellings: Respellings,
        literals: impl Iterator<Item = (&'a str, Owner)>,
    ) -> SpellingIndex {
        let mut index = SpellingIndex { respellings, ..SpellingIndex::default() };
        if !respellings.any() {
            return index;
        }
        for (folded, owner) in literals {
            let bytes = folded.as_bytes();
            if bytes.len() < MIN_ENTRY || bytes.len() > MAX_WORD || !bytes.iter().all(u8::is_ascii_lowercase)
            {
                continue;
            }
            let Ok(start) = u32::try_from(index.spellings.len()) else { break };
            index.keys.push((index.key_hash(bytes.iter().copied()), index.entries.len() as u32));
            index.entries.push((start, bytes.len() as u8, owner));
            index.spellings.push_str(folded);
        }
        index.keys.sort_unstable();
        index.keys.shrink_to_fit();
        let words = (index.keys.len() * 16 / 64).next_power_of_two().max(16);
        index.filter = vec![0; words];
        for &(hash, _) in &index.keys {
            let bit = index.filter_bit(hash);
            index.filter[bit / 64] |= 1 << (bit % 64);
        }
        index.entries.shrink_to_fit();
        index.spellings.shrink_to_fit();
        index
    }

    /// Heap bytes.
    pub(crate) fn memory_usage(&self) -> usize {
        self.keys.capacity() * 16
            + self.entries.capacity() * 12
            + self.spellings.capacity()
            + self.filter.len() * 8
    }

    fn filter_bit(&self, hash: u64) -> usize {
        // The high bits: FNV's low bits mix least.
        ((hash >> 40) as usize) & (self.filter.len() * 64 - 1)
    }

    fn may_hold(&self, hash: u64) -> bool {
        let bit = self.filter_bit(hash);
        self.filter.get(bit / 64).is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The letter a look-alike class reads as.
    fn class(&self, letter: u8) -> u8 {
        if !self.respellings.look_alikes {
            return letter;
        }
        match letter {
            b'l' => b'i',
            b'v' => b'u',
            b'z' => b's',
            _ => letter,
        }
    }

    /// The hash of the key of a spelling: its letters by class, runs
    /// squeezed when doubles count. The key itself is never built.
    fn key_hash(&self, letters: impl IntoIterator<Item = u8>) -> u64 {
        let mut hash = FNV_OFFSET;
        let mut last = None;
        for letter in letters {
            let class = self.class(letter);
            if self.respellings.doubles && last == Some(class) {
                continue;
            }
            last = Some(class);
            hash = fnv_step(hash, class);
        }
        hash
    }

    /// Puts in `scratch.found` a hit for every word of `folded` that
    /// respells an entry. `matched` are the hits the automaton found in
    /// this text (a word among them is not looked up again).
    /// `leet_read` says whether leetspeak read any letter of this text
    /// from a symbol or digit (when not, no letter is tried as a hole).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn find_all(
        &self,
        original: &str,
        folded: &str,
        normalized: &Normalized,
        leet_read: bool,
        matched: &[RawHit],
        scratch: &mut Scratch,
    ) {
        scratch.found.clear();
        if self.is_empty() {
            scratch.inside.clear();
            return;
        }
        let Scratch { word, found: out, inside } = scratch;
        let mut search = Search { index: self, original, normalized, word };
        let mut wildcard_words = 0;
        let mut previous: Option<Word> = None;
        // Whether some word could be a piece of a split word (too short
        // to be a word of its own, or with symbols in it): when none is,
        // the search for split words is skipped.
        let mut short_pieces = false;
        for word in words(folded) {
            short_pieces |= word.wildcards > 0
                || (word.letters <= 2 && !is_short_word(&folded.as_bytes()[word.start..word.end]));
            let taken = matched.iter().any(|hit| hit.start < word.end && word.start < hit.end);
            if !taken {
                let before = out.len();
                if self.respellings.compounds && word.wildcards == 1 {
                    search.joined(folded, &word, out);
                }
                if word.wildcards == 0 && (self.respellings.look_alikes || self.respellings.doubles) {
                    search.exact(folded, &word, out);
                }
                let maybe_holes = word.wildcards > 0
                    || leet_read
                    || folded.as_bytes()[word.start..word.end].contains(&b'x');
                if out.len() == before
                    && maybe_holes
                    && self.respellings.look_alikes
                    && wildcard_words < MAX_WILDCARD_WORDS
                {
                    // Symbols, and letters read from symbols or written as
                    // `x` (`f@ck`, `f00k`, `shxt`), as any letter.
                    if search.wildcards(folded, &word, out) {
                        wildcard_words += 1;
                    }
                }
            }
            if self.respellings.compounds {
                if let Some(first) = previous.filter(|first| is_pair(folded, first, &word)) {
                    let both = matched.iter().any(|hit| hit.start <= first.start && word.end <= hit.end);
                    if !both {
                        search.pair(folded, &first, &word, out);
                    }
                }
            }
            previous = Some(word);
        }
        if self.respellings.compounds && short_pieces {
            search.split_words(folded, matched, out);
        }
        for &(start, end, first) in inside.iter() {
            let taken = out.iter().any(|hit| hit.start < end && start < hit.end);
            if !taken {
                search.tiled(folded, start, end, first, out);
            }
        }
        inside.clear();
    }

    /// Notes a word of `folded` that holds an entry the automaton refused
    /// for not standing alone, for [`Search::tiled`].
    ///
    /// Only a word whose first entry starts it (after digits) can be made
    /// of entries, and the automaton's match is the leftmost: a match
    /// further in (`ack` in `packet`) rules the word out without a look-up.
    pub(crate) fn note_inside(
        original: &str,
        folded: &str,
        normalized: &Normalized,
        at: usize,
        first: usize,
        scratch: &mut Scratch,
    ) {
        let bytes = folded.as_bytes();
        let mut start = at.min(bytes.len());
        while start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            start -= 1;
        }
        let written_digit = |i: usize| written_digit(original, folded, normalized, i);
        if !(start..at).all(written_digit) {
            return;
        }
        let mut end = at.min(bytes.len());
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        if scratch.inside.last().map(|w| (w.0, w.1)) != Some((start, end))
            && scratch.inside.len() < MAX_WILDCARD_WORDS
        {
            scratch.inside.push((start, end, first));
        }
    }
}

/// Whether folded byte `at` was written as a digit (leetspeak may have
/// read it as a letter: `123motherfucker` folds to `i2emotherfucker`).
fn written_digit(original: &str, folded: &str, normalized: &Normalized, at: usize) -> bool {
    folded.as_bytes().get(at).is_some_and(u8::is_ascii_digit)
        || original.as_bytes().get(normalized.original_start(at)).is_some_and(u8::is_ascii_digit)
}

/// A word of the folded text: a run of ASCII letters with symbols inside,
/// standing alone (no word character touches it).
#[derive(Clone, Copy, Debug)]
struct Word {
    start: usize,
    end: usize,
    letters: usize,
    wildcards: usize,
}

/// The words of `folded` that could be entries: ASCII letters and inner
/// wildcard symbols, no digit, not touching another word character.
fn words(folded: &str) -> impl Iterator<Item = Word> + '_ {
    let bytes = folded.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            // A run of letters, digits and wildcards.
            while at < bytes.len() && !bytes[at].is_ascii_lowercase() {
                at += 1;
            }
            let run_start = at;
            while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || is_wildcard(bytes[at])) {
                at += 1;
            }
            let mut end = at;
            while end > run_start && is_wildcard(bytes[end - 1]) {
                end -= 1;
            }
            let start = run_start;
            if start >= end {
                continue;
            }
            let run = &bytes[start..end];
            if run.iter().any(u8::is_ascii_digit) || end - start > MAX_WORD {
                continue;
            }
            let before = folded[..start].chars().next_back();
            let after = folded[at..].chars().next();
            if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
                continue;
            }
            let wildcards = run.iter().filter(|&&b| is_wildcard(b)).count();
            return Some(Word { start, end, letters: run.len() - wildcards, wildcards });
        }
        None
    })
}

/// Two words with exactly one space between them.
fn is_pair(folded: &str, first: &Word, second: &Word) -> bool {
    first.wildcards == 0
        && second.wildcards == 0
        && second.start == first.end + 1
        && folded.as_bytes()[first.end] == b' '
        && first.letters >= MIN_COMPOUND_PART
        && second.letters >= MIN_COMPOUND_PART
}

/// Buffers kept per thread, so a look-up allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    word: Vec<(u8, u16)>,
    /// The hits of the last [`SpellingIndex::find_all`].
    pub found: Vec<RawHit>,
    /// Words holding an entry that did not stand alone.
    /// (start, end, end of the entry found at its start)
    inside: Vec<(usize, usize, usize)>,
}

impl Scratch {
    pub(crate) fn shrink(&mut self) {
        if self.found.capacity() > 4096 {
            self.found = Vec::new();
        }
    }
}

struct Search<'a> {
    index: &'a SpellingIndex,
    original: &'a str,
    normalized: &'a Normalized,
    /// The candidate spelling: (letter, how many times it is written).
    word: &'a mut Vec<(u8, u16)>,
}

impl Search<'_> {
    /// A word without symbols: look-alikes and doubles.
    fn exact(&mut self, folded: &str, word: &Word, out: &mut Vec<RawHit>) {
        let index = self.index;
        let bytes = &folded.as_bytes()[word.start..word.end];
        let before = out.len();
        // A word without a look-alike letter, a doubled letter or a run
        // spells only itself, which the automaton has already looked for.
        let respelt = self.normalized.has_runs()
            || bytes.iter().enumerate().any(|(i, &b)| {
                index.class(b) != b || matches!(b, b'i' | b'u' | b's') || (i > 0 && bytes[i - 1] == b)
            });
        if respelt && index.may_hold(index.key_hash(bytes.iter().copied())) {
            self.load(folded, word.start, word.end, None);
            self.look_up(word.start, word.end, out);
        }
        if out.len() > before || !index.respellings.look_alikes {
            return;
        }
        // An inflected entry (`dicks`, `retarded`, `fucker`): a stem of
        // [`MIN_STEM`] letters or more that is an entry, and an ending.
        for ending in ENDINGS {
            let stem = bytes.len().saturating_sub(ending.len());
            if stem >= MIN_STEM
                && bytes.ends_with(ending.as_bytes())
                && index.may_hold(index.key_hash(bytes[..stem].iter().copied()))
            {
                self.load(folded, word.start, word.start + stem, None);
                self.look_up(word.start, word.end, out);
                if out.len() > before {
                    break;
                }
            }
        }
    }

    /// A word made of entries and digits (`fuckfuck`, `bitchfuck`,
    /// `123motherfucker123`): digits, the entry the automaton found at the
    /// start of the word (`first`, its end), then either nothing but digits
    /// or one more entry and digits, each entry of [`MIN_TILE`] letters or
    /// more. One look-up at most; `assassin` (`ass` + `assin`), `classic`
    /// and `packet` (`pac` + `ket`) stay clean.
    fn tiled(&mut self, folded: &str, start: usize, end: usize, first: usize, out: &mut Vec<RawHit>) {
        if end - start > MAX_WORD || first > end {
            return;
        }
        // Pieces of [`MIN_TILE`] letters or more: English is full of words
        // made of two short entries' letters (`pac` + `ket`).
        let written_digit = |i: usize| written_digit(self.original, folded, self.normalized, i);
        let mut rest_end = end;
        while rest_end > first && written_digit(rest_end - 1) {
            rest_end -= 1;
        }
        let digits = rest_end < end || (start..first).any(written_digit);
        let mut entry_start = start;
        while entry_start < first && written_digit(entry_start) {
            entry_start += 1;
        }
        if first - entry_start < MIN_TILE {
            return;
        }
        if rest_end == first {
            // The entry and digits (`motherfucker1`).
            if digits {
                self.word.clear();
                self.word.extend(folded.as_bytes()[entry_start..first].iter().map(|&b| (b, 1)));
                self.look_up(start, end, out);
            }
            return;
        }
        // The entry and one more (`fuckfuck`): the second piece looked up.
        let second = &folded.as_bytes()[first..rest_end];
        if second.len() < MIN_TILE || !second.iter().all(u8::is_ascii_lowercase) {
            return;
        }
        self.word.clear();
        self.word.extend(second.iter().map(|&b| (b, 1)));
        let before = out.len();
        self.look_up(start, end, out);
        if out.len() > before {
            // Reported as the first entry, which is what the word starts with.
            out.truncate(before);
            self.word.clear();
            self.word.extend(folded.as_bytes()[entry_start..first].iter().map(|&b| (b, 1)));
            self.look_up(start, end, out);
        }
    }

    /// Tries the holes of a word as every letter: its symbols, then also
    /// the letters leetspeak read from a symbol or digit (`f@ck`, `f00k`)
    /// and an `x` inside a word of four letters or more, the letter people
    /// mask with (`shxt`; not `fax`, which would meet `fag`).
    /// Returns whether the word had holes to try.
    fn wildcards(&mut self, folded: &str, word: &Word, out: &mut Vec<RawHit>) -> bool {
        let found_before = out.len();
        let mut tried = false;
        // First the symbols alone (`m0th3rf*cker` is `motherf*cker`), then
        // with the letters read from symbols and the `x`s.
        for read_letters in [false, true] {
            if out.len() > found_before {
                break;
            }
            tried |= self.try_holes(folded, word, read_letters, out);
        }
        tried
    }

    fn try_holes(&mut self, folded: &str, word: &Word, read_letters: bool, out: &mut Vec<RawHit>) -> bool {
        self.load(folded, word.start, word.end, None);
        let mut holes = [0usize; MAX_WILDCARDS];
        let mut count = 0;
        let letters = self.word.len();
        for at in 0..letters {
            let byte = self.word[at].0;
            let masked_with_x = byte == b'x' && at > 0 && at + 1 < letters && letters >= 4;
            let hole = is_wildcard(byte)
                || (read_letters && (masked_with_x || self.read_from_symbol(word.start + at)));
            if hole {
                if count == MAX_WILDCARDS {
                    return false;
                }
                holes[count] = at;
                count += 1;
            }
        }
        if count == 0
            || count * 2 > letters
            || letters - count < 2
            || (read_letters && count == word.wildcards)
        {
            return false;
        }
        let holes = &holes[..count];
        let combinations = 26usize.pow(count as u32);
        let found_before = out.len();
        for mut n in 0..combinations {
            for &hole in holes {
                self.word[hole].0 = b'a' + (n % 26) as u8;
                n /= 26;
            }
            self.look_up(word.start, word.end, out);
            if out.len() > found_before {
                break;
            }
        }
        true
    }

    /// Whether the folded letter at `at` was written as a symbol or digit.
    fn read_from_symbol(&self, at: usize) -> bool {
        let start = self.normalized.original_start(at);
        let written = self.original.get(start..).and_then(|rest| rest.chars().next());
        written.is_some_and(|ch| !ch.is_alphabetic() && super::steps::leet(ch).is_some())
    }

    /// Words split by noise (`fu ck`, `pe ni s`, `mother*fu-c_ker`): runs
    /// of pieces of letters, a little noise apart, whose letters together
    /// spell an entry, when one piece is too short to be a word of its own
    /// (so `pen is` stays two words).
    fn split_words(&mut self, folded: &str, matched: &[RawHit], out: &mut Vec<RawHit>) {
        let bytes = folded.as_bytes();
        // (start, end, too short to be a word of its own)
        let mut pieces: [(usize, usize, bool); MAX_PIECES] = [(0, 0, false); MAX_PIECES];
        let mut count = 0;
        let mut at = 0;
        while at < bytes.len() {
            if !bytes[at].is_ascii_lowercase() {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_lowercase() {
                at += 1;
            }
            let end = at;
            let before = folded[..start].chars().next_back();
            let after = folded[end..].chars().next();
            // A piece touching a digit or another script's letter is part
            // of something else; so is one after too long a gap.
            let joins_previous = count > 0 && {
                let gap = &bytes[pieces[count - 1].1..start];
                gap.len() <= MAX_PIECE_GAP
                    && gap.iter().all(|&b| b.is_ascii() && !b.is_ascii_alphanumeric() && b != b'\'')
            };
            if !joins_previous {
                count = 0;
            }
            // A piece by an apostrophe is a contraction (`isn't it` is not
            // `tit`).
            let apostrophe = |c: Option<char>| matches!(c, Some('\'' | '’'));
            if before.is_some_and(|c| is_word_char(c) && !c.is_ascii_lowercase())
                || after.is_some_and(|c| is_word_char(c) && !c.is_ascii_lowercase())
                || apostrophe(before)
                || apostrophe(after)
            {
                count = 0;
                continue;
            }
            if count == MAX_PIECES {
                pieces.copy_within(1.., 0);
                count -= 1;
            }
            pieces[count] = (start, end, end - start <= 2 && !is_short_word(&bytes[start..end]));
            count += 1;
            // The last piece too short to be a word of its own: only runs
            // that hold one are tried (in ordinary text, none is).
            let Some(last_short) = pieces[..count].iter().rposition(|piece| piece.2) else { continue };
            // Every run of two or more pieces that ends with this one.
            for first in (0..count.saturating_sub(1).min(last_short + 1)).rev() {
                let run = &pieces[first..count];
                let letters: usize = run.iter().map(|(s, e, _)| e - s).sum();
                if letters > MAX_WORD {
                    break;
                }
                let (span_start, span_end) = (run[0].0, end);
                let taken =
                    matched.iter().chain(out.iter()).any(|hit| hit.start < span_end && span_start < hit.end);
                if taken {
                    continue;
                }
                self.word.clear();
                for &(s, e, _) in run {
                    for (i, &byte) in bytes.iter().enumerate().take(e).skip(s) {
                        self.word.push((byte, self.normalized.run_at(i)));
                    }
                }
                self.look_up(span_start, span_end, out);
            }
        }
    }

    /// A word with one joining symbol (`bull-shit`): the parts joined.
    fn joined(&mut self, folded: &str, word: &Word, out: &mut Vec<RawHit>) {
        let bytes = &folded.as_bytes()[word.start..word.end];
        let Some(at) = bytes.iter().position(|&b| is_wildcard(b)) else { return };
        if !is_joiner(bytes[at]) || at < MIN_COMPOUND_PART || bytes.len() - at - 1 < MIN_COMPOUND_PART {
            return;
        }
        self.load(folded, word.start, word.end, Some(word.start + at));
        self.look_up(word.start, word.end, out);
    }

    /// Two words one space apart (`mother fucker`): joined.
    fn pair(&mut self, folded: &str, first: &Word, second: &Word, out: &mut Vec<RawHit>) {
        self.load(folded, first.start, second.end, Some(first.end));
        self.look_up(first.start, second.end, out);
    }

    /// Loads `folded[start..end]` as the candidate, leaving out byte `skip`.
    fn load(&mut self, folded: &str, start: usize, end: usize, skip: Option<usize>) {
        self.word.clear();
        for (at, &byte) in folded.as_bytes()[start..end].iter().enumerate() {
            if Some(start + at) != skip {
                self.word.push((byte, self.normalized.run_at(start + at)));
            }
        }
    }

    fn look_up(&mut self, start: usize, end: usize, out: &mut Vec<RawHit>) {
        let index = self.index;
        let hash = index.key_hash(self.word.iter().map(|&(b, _)| b));
        if !index.may_hold(hash) {
            return;
        }
        let first = index.keys.partition_point(|&(h, _)| h < hash);
        for &(h, entry) in &index.keys[first..] {
            if h != hash {
                break;
            }
            let Some(&(at, len, owner)) = index.entries.get(entry as usize) else { continue };
            let spelling = &index.spellings.as_bytes()[at as usize..at as usize + len as usize];
            if self.spells(spelling) {
                out.push(RawHit { owner, start, end });
            }
        }
    }

    /// Whether the candidate spells `entry` letter for letter: the same
    /// letters by class, run by run, each run at least as long as the
    /// entry's (exactly as long unless doubles count). Look-alike letters
    /// count only for entries of [`MIN_LOOK_ALIKE_ENTRY`] letters or more:
    /// among three-letter words they meet too many others (`vip` is `ulp`).
    fn spells(&self, entry: &[u8]) -> bool {
        let index = self.index;
        let look_alikes = entry.len() >= MIN_LOOK_ALIKE_ENTRY;
        let class = |b: u8| if look_alikes { index.class(b) } else { b };
        let mut word = self.word.iter().map(|&(b, run)| (class(b), run)).peekable();
        let mut entry = entry.iter().map(|&b| class(b)).peekable();
        loop {
            let (Some((letter, mut written)), Some(wanted)) = (word.next(), entry.next()) else {
                return word.next().is_none() && entry.next().is_none();
            };
            if letter != wanted {
                return false;
            }
            let mut needed = 1u32;
            let mut written_total = u32::from(written);
            while entry.peek() == Some(&letter) {
                entry.next();
                needed += 1;
            }
            while let Some(&(next, run)) = word.peek() {
                if next != letter {
                    break;
                }
                word.next();
                written = run;
                written_total += u32::from(written);
            }
            let enough =
                if index.respellings.doubles { written_total >= needed } else { written_total == needed };
            if !enough {
                return false;
            }
        }
    }
}

/// FNV-1a: keys are a few bytes long and come from the dictionary (a text
/// can only probe them), so a fast hash without seeding is enough.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(respellings: Respellings, entries: &[&str]) -> SpellingIndex {
        SpellingIndex::build(
            respellings,
            entries.iter().enumerate().map(|(i, e)| (*e, Owner { category: 0, entry: i as u32 })),
        )
    }

    const ALL: Respellings = Respellings { look_alikes: true, doubles: true, compounds: true };

    fn found(index: &SpellingIndex, text: &str) -> Vec<(u32, String)> {
        let normalized = Normalized::new(text);
        let mut scratch = Scratch::default();
        index.find_all(text, text, &normalized, true, &[], &mut scratch);
        scratch.found.iter().map(|hit| (hit.owner.entry, text[hit.start..hit.end].to_string())).collect()
    }

    #[test]
    fn respellings_of_one_word_entries() {
        let index = index(ALL, &["bitch", "fuck", "shit", "bullshit", "motherfucker", "ass", "penis"]);
        assert_eq!(found(&index, "you b*tch"), [(0, "b*tch".to_string())]);
        assert_eq!(found(&index, "f**k this"), [(1, "f**k".to_string())]);
        assert_eq!(found(&index, "s#it happens"), [(2, "s#it".to_string())]);
        assert_eq!(found(&index, "fvck shlt"), [(1, "fvck".to_string()), (2, "shlt".to_string())]);
        assert_eq!(found(&index, "shiit fuckk"), [(2, "shiit".to_string()), (1, "fuckk".to_string())]);
        assert_eq!(found(&index, "bull-shit"), [(3, "bull-shit".to_string())]);
        // `fucker` is `fuck` inflected, and the two words are the compound.
        assert_eq!(
            found(&index, "a mother fucker"),
            [(1, "fucker".to_string()), (4, "mother fucker".to_string())]
        );
        assert_eq!(found(&index, "dicks retarded"), []);
        let inflected = super::tests::index(ALL, &["dick", "retard"]);
        assert_eq!(
            found(&inflected, "dicks retarded"),
            [(0, "dicks".to_string()), (1, "retarded".to_string())]
        );
        assert_eq!(found(&inflected, "shxt dxck"), [(0, "dxck".to_string())]);
        assert_eq!(found(&index, "asss"), [(5, "asss".to_string())]);
    }

    #[test]
    fn ordinary_words_stay_clean() {
        let index = index(ALL, &["bitch", "fuck", "shit", "ass", "penis", "cunt", "tits"]);
        for clean in [
            "the pen is blue",
            "a* b* *",
            "as",
            "a**",
            "f*",
            "*fuck",
            "count",
            "it's",
            "bitcoin",
            "e-mail",
            "shift",
            "fuckface2",
            "co-op",
            "isn't it",
            "Well?  Is it, or isn't it?",
        ] {
            let hits = found(&index, clean);
            assert!(hits.is_empty() || clean == "*fuck", "{clean:?} → {hits:?}");
        }
        // `*fuck` is `fuck` with punctuation before it: the automaton's,
        // not a respelling (the index sees the word `fuck` only).
        assert_eq!(found(&index, "*fuck"), [(1, "fuck".to_string())]);
    }

    #[test]
    fn each_respelling_follows_its_step() {
        let none = index(Respellings::default(), &["shit"]);
        assert!(found(&none, "shiit sh*t shlt").is_empty());
        let doubles = index(Respellings { doubles: true, ..Respellings::default() }, &["shit"]);
        assert_eq!(found(&doubles, "shiit sh*t shlt"), [(0, "shiit".to_string())]);
    }
}
