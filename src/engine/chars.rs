//! Character classes: one definition of each, shared by folding, word
//! boundaries, the evaluation generator and the fuzz reference.
//!
//! | class | used for |
//! | --- | --- |
//! | [`is_ideograph`] | Han characters: never noise, folded by `simplified`, joined across noise |
//! | [`is_cjk`] | scripts written without spaces between words: never word characters, never confusables |
//! | [`is_word_char`] | whole-word literals (`ass` does not hit `classic`) |
//! | [`is_invisible`] | characters that render as nothing, dropped before matching |
//! | [`is_noise`] | what evaders put between the characters of a word |
//! | [`is_combining_mark`] | marks stacked on letters ("zalgo"), dropped by `confusables` |
//! | [`is_clause_break`] | CJK clause punctuation, never skipped as noise |

/// Han ideographs: the unified block, extension A, the compatibility block
/// and the supplementary planes' extensions B and later.
pub fn is_ideograph(ch: char) -> bool {
    matches!(ch, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}')
}

/// Characters of the scripts written without spaces between words (Chinese,
/// Japanese kana, Korean Hangul, Yi) and their radicals, symbols and
/// half-width forms. Chinese puts no space between words, so `你ass好` has
/// `ass` as a word of its own.
pub fn is_cjk(ch: char) -> bool {
    matches!(ch,
        '\u{2E80}'..='\u{A4CF}'     // radicals, CJK symbols, kana, bopomofo, jamo, enclosed, ext. A, unified, Yi
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}'   // half-width kana
        | '\u{20000}'..='\u{3FFFF}' // extensions B and later
    )
}

/// Letters and digits of alphabetic scripts: what a whole-word literal must
/// not touch on either side.
pub fn is_word_char(ch: char) -> bool {
    if ch.is_ascii() {
        return ch.is_ascii_alphanumeric();
    }
    ch.is_alphanumeric() && !is_cjk(ch)
}

/// Characters that render as nothing and are used to split words unseen.
pub fn is_invisible(ch: char) -> bool {
    matches!(
        ch,
        '\u{00AD}'              // soft hyphen
        | '\u{034F}'            // combining grapheme joiner
        | '\u{061C}'            // Arabic letter mark
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{180B}'..='\u{180F}' // Mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}' // bidi isolates, deprecated format characters
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}'            // zero-width no-break space (BOM)
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}' // tag characters
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// Spaces, punctuation, symbols and emoji: what evaders put between the
/// characters of a word.
pub fn is_noise(ch: char) -> bool {
    if ch.is_ascii() {
        return !ch.is_ascii_alphanumeric();
    }
    if is_ideograph(ch) {
        return false;
    }
    !ch.is_alphanumeric()
}

/// Combining marks of the Latin, Greek and Cyrillic blocks and their
/// extensions: what "zalgo" text stacks on letters (`f̶u̶c̶k̶`, `f̵̛u̴c̷k̸`).
/// Marks of scripts that need them to be read (Indic vowel signs, Thai
/// tones, the kana voicing marks) are outside these blocks.
pub fn is_combining_mark(ch: char) -> bool {
    matches!(
        ch,
        '\u{0300}'..='\u{036F}'   // combining diacritical marks
        | '\u{0483}'..='\u{0489}' // Cyrillic combining marks
        | '\u{1AB0}'..='\u{1AFF}' // combining diacritical marks extended
        | '\u{1DC0}'..='\u{1DFF}' // combining diacritical marks supplement
        | '\u{20D0}'..='\u{20FF}' // combining marks for symbols
        | '\u{FE20}'..='\u{FE2F}' // combining half marks
    )
}

/// CJK clause punctuation ends clauses in ordinary text; joining across it
/// would invent words (`去赌。博物馆` is not `赌博`).
pub fn is_clause_break(ch: char) -> bool {
    matches!(ch, '，' | '。' | '！' | '？' | '；' | '：' | '、' | '｡' | '､')
}

/// The digit a numeral form stands for: circled, parenthesised, full-stop
/// and dingbat digits (`①`, `⑴`, `⒈`, `❶`, `➀`), and Chinese numerals,
/// plain and financial (`一`, `壹`). The one table the `numbers` fold step
/// and the contact detectors share; each adds the forms only it reads
/// (`两` for the step, `幺` and ASCII digits for the detectors).
pub fn numeral_digit(ch: char) -> Option<u8> {
    let value = match ch {
        '①'..='⑨' => ch as u32 - '①' as u32 + 1,
        '⑴'..='⑼' => ch as u32 - '⑴' as u32 + 1,
        '⒈'..='⒐' => ch as u32 - '⒈' as u32 + 1,
        '➀'..='➈' => ch as u32 - '➀' as u32 + 1,
        '❶'..='❾' => ch as u32 - '❶' as u32 + 1,
        '⓪' | '〇' | '零' => 0,
        '一' | '壹' => 1,
        '二' | '贰' | '貳' => 2,
        '三' | '叁' | '參' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' | '陸' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        _ => return None,
    };
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is_word_char('a') && is_word_char('é') && is_word_char('д') && is_word_char('7'));
        assert!(!is_word_char('你') && !is_word_char('_') && !is_word_char(' ') && !is_word_char('か'));
        assert!(is_ideograph('赌') && is_ideograph('\u{20000}') && !is_ideograph('か'));
        assert!(is_cjk('か') && is_cjk('한') && is_cjk('赌') && !is_cjk('a'));
        assert!(is_noise('@') && is_noise(' ') && is_noise('😀') && !is_noise('赌') && !is_noise('a'));
        assert!(is_invisible('\u{200B}') && !is_invisible(' '));
        assert!(is_clause_break('。') && !is_clause_break('.'));
        assert!(
            is_combining_mark('\u{0336}') && is_combining_mark('\u{0489}') && !is_combining_mark('\u{3099}')
        );
    }
}
