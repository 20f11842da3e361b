//! The core fold of one character: case (Unicode case folding), width
//! (full-width ASCII) and invisible characters. Every category folds this
//! way; the optional steps of [`super::steps`] come after it, and
//! [`super::normalize`] applies both to whole texts with their offset map.

use super::chars::is_invisible;

/// Folds a whole string (used for dictionary literals).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        push_folded(ch, &mut out);
    }
    out
}

pub(crate) fn folds_to_itself(ch: char) -> bool {
    match ch {
        'A'..='Z' => false,
        '\0'..='\x7F' => true,
        _ if is_caseless_cjk(ch) => true,
        'ß' | 'ẞ' | 'ς' => false,
        _ => {
            if is_invisible(ch) || fold_width(ch) != ch {
                return false;
            }
            let mut lower = ch.to_lowercase();
            lower.next() == Some(ch) && lower.next().is_none()
        }
    }
}

/// Appends the folded form of one character (possibly nothing, possibly
/// several characters, e.g. `İ` folds to `i̇`).
pub(crate) fn push_folded(ch: char, out: &mut String) {
    if ch.is_ascii() {
        out.push(ch.to_ascii_lowercase());
        return;
    }
    if is_caseless_cjk(ch) {
        out.push(ch);
        return;
    }
    if is_invisible(ch) {
        return;
    }
    let ch = fold_width(ch);
    if ch.is_ascii() {
        out.push(ch.to_ascii_lowercase());
        return;
    }
    // `to_lowercase` is Unicode's full lower-case mapping; with the few
    // characters whose case *folding* differs from lower-casing handled here,
    // it is Unicode case folding for every script a chat message uses.
    match ch {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        _ => out.extend(ch.to_lowercase()),
    }
}

/// CJK punctuation, kana, ideographs and Hangul syllables have no case and
/// no width variant; answering without the case tables keeps Chinese text
/// cheap. (U+3000, the ideographic space, and U+3164, a Hangul filler, are
/// left out: they do fold.)
fn is_caseless_cjk(ch: char) -> bool {
    matches!(ch, '\u{3001}'..='\u{3163}' | '\u{3165}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7A3}')
}

/// Full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space fold
/// to their ASCII counterparts.
fn fold_width(ch: char) -> char {
    match ch {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
        '\u{3000}' => ' ',
        _ => ch,
    }
}
