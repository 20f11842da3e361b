//! Parsing one dictionary file (a category) from its text.
//!
//! The format is the contract moderation teams write against; it is
//! documented for them in `dictionaries/README.md`. Parsing is strict about
//! directives (a typo must not silently change what a list does) and reports
//! every problem with its file and line rather than stopping at the first.

use std::fmt;

use super::scope::{Conversation, Scope};
use super::steps::{self, Steps};

/// Custom reject codes Tencent accepts for official-account and C2C messages.
pub const CODE_RANGE: std::ops::RangeInclusive<u32> = 120_001..=130_000;
/// Custom reject codes Tencent documents for group messages.
pub const GROUP_CODE_RANGE: std::ops::RangeInclusive<u32> = 10_100..=10_200;

/// The text of one dictionary file and the name to report it by.
#[derive(Clone, Debug)]
pub struct DictionarySource {
    /// How errors name the file, e.g. `dictionaries/ads.txt`.
    pub path: String,
    /// The file's contents.
    pub text: String,
}

impl DictionarySource {
    /// A source named `path` (its file stem becomes the category name).
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> DictionarySource {
        DictionarySource { path: path.into(), text: text.into() }
    }

    /// The category name: the file name without directory and `.txt`.
    pub fn category(&self) -> &str {
        let name = self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path);
        name.strip_suffix(".txt").unwrap_or(name)
    }
}

/// What a category does to a message it hits, ordered by severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// An allow list: hits inside its matches are ignored.
    Allow,
    /// Delivered, but recorded.
    Review,
    /// Delivered with the offending characters masked.
    Mask,
    /// Silently dropped; the sender believes it was sent.
    Discard,
    /// Refused; the sender is told.
    Reject,
}

impl Action {
    /// The word used in dictionaries and in verdicts.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Review => "review",
            Action::Mask => "mask",
            Action::Discard => "discard",
            Action::Reject => "reject",
        }
    }

    fn parse(word: &str) -> Option<Action> {
        Some(match word {
            "allow" => Action::Allow,
            "review" => Action::Review,
            "mask" => Action::Mask,
            "discard" => Action::Discard,
            "reject" => Action::Reject,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether literals must stand as whole words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// Whole words for literals whose letters are all ASCII, anywhere for
    /// the rest (CJK has no spaces between words).
    Auto,
    /// Every literal matches whole words only.
    Word,
    /// Every literal matches anywhere.
    Substring,
    /// As `Auto`, and a CJK hit must also start and end where a Chinese
    /// word segmenter puts word boundaries (`路口交通` is `路口|交通`, so
    /// `口交` does not hit it; `赌博机` still hits `赌博`).
    Segment,
}

impl Boundary {
    /// `(boundary, the value of @boundary that sets it)`; `Auto` is the
    /// absence of the directive.
    const NAMES: [(Boundary, &'static str); 3] =
        [(Boundary::Word, "word"), (Boundary::Substring, "substring"), (Boundary::Segment, "segment")];

    fn parse(value: &str) -> Option<Boundary> {
        Boundary::NAMES.iter().find(|(_, name)| *name == value).map(|row| row.0)
    }

    /// The `@boundary` value that sets this boundary; none for `Auto`.
    pub fn directive_value(self) -> Option<&'static str> {
        Boundary::NAMES.iter().find(|(boundary, _)| *boundary == self).map(|row| row.1)
    }
}

/// A category's settings, from its directives.
#[derive(Clone, Debug)]
pub struct Category {
    /// The file stem, e.g. `gambling`.
    pub name: String,
    /// The file as errors name it.
    pub path: String,
    /// What a hit does.
    pub action: Action,
    /// `@code`: custom `ErrorCode` for official-account and C2C rejects.
    pub code: Option<u32>,
    /// `@group-code`: custom `ErrorCode` for group rejects.
    pub group_code: Option<u32>,
    /// `@info`: the `ErrorInfo` that goes with a reject.
    pub info: String,
    /// `@mask`: the character that replaces each masked character.
    pub mask: char,
    /// `@boundary`.
    pub boundary: Boundary,
    /// `@fold`: the folding steps beyond case, width and invisibles.
    pub steps: Steps,
    /// `@scope`: the callbacks this category judges (everywhere without).
    pub scope: Scope,
}

impl Category {
    /// The `ErrorCode` a reject by this category answers in
    /// `conversation`: `@group-code` in a group (Tencent documents a range
    /// of its own for groups), `@code` elsewhere, else 1.
    pub fn reject_code(&self, conversation: Option<Conversation>) -> u32 {
        let code = match conversation {
            Some(Conversation::Group(_)) => self.group_code,
            _ => self.code,
        };
        code.unwrap_or(1)
    }
}

/// One entry line of a category.
#[derive(Clone, Debug)]
pub struct Entry {
    /// 1-based line number in the file.
    pub line: usize,
    /// The entry as written (after trimming and comment removal).
    pub written: String,
    /// What to match.
    pub pattern: Pattern,
}

/// A literal or a regular expression.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// A literal, already folded like message text is.
    Literal {
        /// The literal after case, width and invisible-character folding.
        folded: String,
        /// Whether it must stand as a whole word.
        word: bool,
        /// How many times each character of `folded` is written, when one
        /// is written more than once (`谢谢` folds to `谢` twice, `kkk` to
        /// `k` three times): text must write it at least as often. Empty
        /// otherwise.
        runs: Vec<u16>,
    },
    /// A `re:` rule.
    Regex(String),
    /// A `detect:` entry: a built-in detector of contact details.
    Detector(super::detect::Detector),
}

/// A problem in a dictionary file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DictionaryError {
    /// The file as given in [`DictionarySource::path`].
    pub path: String,
    /// 1-based line, or 0 when the problem is the file as a whole.
    pub line: usize,
    /// What is wrong, in lower case, without the location.
    pub message: String,
}

impl DictionaryError {
    pub(crate) fn new(path: &str, line: usize, message: impl Into<String>) -> DictionaryError {
        DictionaryError { path: path.to_string(), line, message: message.into() }
    }
}

impl fmt::Display for DictionaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(f, "{}:{}: {}", self.path, self.line, self.message)
        }
    }
}

impl std::error::Error for DictionaryError {}

/// A parsed file: its category and its entries.
#[derive(Debug)]
pub struct ParsedFile {
    /// Settings from the directives.
    pub category: Category,
    /// Every entry, in file order.
    pub entries: Vec<Entry>,
}

/// Parses one file, appending every problem found to `errors`.
pub fn parse(source: &DictionarySource, errors: &mut Vec<DictionaryError>) -> ParsedFile {
    let path = source.path.as_str();
    let first_error = errors.len();
    let mut category = Category {
        name: source.category().to_string(),
        path: path.to_string(),
        action: Action::Reject,
        code: None,
        group_code: None,
        info: String::new(),
        mask: '*',
        boundary: Boundary::Auto,
        steps: Steps::DEFAULT,
        scope: Scope::EVERYWHERE,
    };
    let mut seen_directives: Vec<&str> = Vec::new();
    // Directive lines remembered to check, once the action is known, that
    // each fits it (`@code` makes no sense on a mask list).
    let mut needs_action: Vec<(usize, &'static str, Action)> = Vec::new();
    let mut entries = Vec::new();
    let mut raw_entries: Vec<(usize, &str)> = Vec::new();

    let text = source.text.strip_prefix('\u{FEFF}').unwrap_or(&source.text);
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let content = strip_comment(raw_line).trim();
        if content.is_empty() {
            continue;
        }
        let Some(directive) = content.strip_prefix('@') else {
            raw_entries.push((line, content));
            continue;
        };
        let (name, mut value) = match directive.split_once(char::is_whitespace) {
            Some((name, value)) => (name, value.trim()),
            None => (directive, ""),
        };
        if name == "mask" {
            // `@mask #` must mean the character `#`, not an empty comment:
            // the first character after the directive is the value, and only
            // what follows it can be a comment.
            value = mask_value(raw_line);
        }
        if !raw_entries.is_empty() {
            errors.push(DictionaryError::new(
                path,
                line,
                format!("directive @{name} after the first entry; directives must come first"),
            ));
            continue;
        }
        let known = ["action", "code", "group-code", "info", "mask", "boundary", "fold", "scope"];
        let Some(&name) = known.iter().find(|&&known| known == name) else {
            errors.push(DictionaryError::new(
                path,
                line,
                format!(
                    "unknown directive @{name} (expected one of @action, @code, @group-code, \
                     @info, @mask, @boundary, @fold, @scope)"
                ),
            ));
            continue;
        };
        if seen_directives.contains(&name) {
            errors.push(DictionaryError::new(path, line, format!("directive @{name} given twice")));
            continue;
        }
        seen_directives.push(name);
        if value.is_empty() && name != "info" {
            errors.push(DictionaryError::new(path, line, format!("directive @{name} needs a value")));
            continue;
        }
        match name {
            "action" => match Action::parse(value) {
                Some(action) => category.action = action,
                None => errors.push(DictionaryError::new(
                    path,
                    line,
                    format!("unknown action {value:?} (expected reject, discard, mask, review or allow)"),
                )),
            },
            "code" => {
                if let Some(code) = parse_code(path, line, "@code", value, CODE_RANGE, errors) {
                    category.code = Some(code);
                }
                needs_action.push((line, "@code", Action::Reject));
            }
            "group-code" => {
                if let Some(code) = parse_code(path, line, "@group-code", value, GROUP_CODE_RANGE, errors) {
                    category.group_code = Some(code);
                }
                needs_action.push((line, "@group-code", Action::Reject));
            }
            "info" => {
                category.info = value.to_string();
                needs_action.push((line, "@info", Action::Reject));
            }
            "mask" => {
                let mut chars = value.chars();
                match (chars.next(), chars.next()) {
                    (Some(mask), None) if !mask.is_control() => category.mask = mask,
                    _ => errors.push(DictionaryError::new(
                        path,
                        line,
                        format!("@mask takes exactly one visible character, got {value:?}"),
                    )),
                }
                needs_action.push((line, "@mask", Action::Mask));
            }
            "scope" => match Scope::parse(value) {
                Ok(scope) => category.scope = scope,
                Err(reason) => errors.push(DictionaryError::new(path, line, reason)),
            },
            "fold" => match Steps::parse(value) {
                Ok(steps) => category.steps = steps,
                Err(reason) => errors.push(DictionaryError::new(path, line, reason)),
            },
            "boundary" => match Boundary::parse(value) {
                Some(boundary) => category.boundary = boundary,
                None => errors.push(DictionaryError::new(
                    path,
                    line,
                    format!("unknown boundary {value:?} (expected word, substring or segment)"),
                )),
            },
            _ => {}
        }
    }

    for (line, directive, action) in needs_action {
        if category.action != action {
            errors.push(DictionaryError::new(
                path,
                line,
                format!("{directive} only applies to @action {action}, this file is {}", category.action),
            ));
        }
    }

    for (line, content) in raw_entries {
        if let Some(name) = content.strip_prefix("detect:") {
            let Some(detector) = super::detect::Detector::from_name(name.trim()) else {
                let known: Vec<String> =
                    super::detect::Detector::ALL.iter().map(|d| format!("detect:{}", d.name())).collect();
                errors.push(DictionaryError::new(
                    path,
                    line,
                    format!("unknown detector `{content}`; the detectors are {}", known.join(", ")),
                ));
                continue;
            };
            if category.action == Action::Allow {
                errors.push(DictionaryError::new(
                    path,
                    line,
                    format!(
                        "`{content}` only works in a blocking list; an allow list excuses what it writes"
                    ),
                ));
                continue;
            }
            entries.push(Entry { line, written: content.to_string(), pattern: Pattern::Detector(detector) });
            continue;
        }
        if let Some(regex) = content.strip_prefix("re:") {
            if regex.is_empty() {
                errors.push(DictionaryError::new(path, line, "empty regular expression after re:"));
                continue;
            }
            entries.push(Entry {
                line,
                written: content.to_string(),
                pattern: Pattern::Regex(regex.to_string()),
            });
            continue;
        }
        // Allow lists are read without leetspeak (see `Engine::build`).
        let fold = if category.action == Action::Allow {
            category.steps.with(Steps::LEET, false)
        } else {
            category.steps
        };
        let (folded, mut runs) = steps::fold_literal_runs(content, fold);
        if runs.iter().all(|&run| run == 1) {
            runs = Vec::new();
        }
        if folded.trim().is_empty() {
            errors.push(DictionaryError::new(
                path,
                line,
                format!("entry {content:?} normalises to nothing (only invisible characters or spaces)"),
            ));
            continue;
        }
        let word = match category.boundary {
            Boundary::Word => true,
            Boundary::Substring => false,
            Boundary::Auto | Boundary::Segment => {
                folded.chars().all(|ch| !ch.is_alphanumeric() || ch.is_ascii())
            }
        };
        entries.push(Entry {
            line,
            written: content.to_string(),
            pattern: Pattern::Literal { folded, word, runs },
        });
    }

    errors[first_error..].sort_by_key(|error| error.line);
    ParsedFile { category, entries }
}

/// The value of an `@mask` line: its first character after the directive
/// and whatever follows up to a trailing comment.
fn mask_value(raw_line: &str) -> &str {
    let rest = raw_line.trim().strip_prefix("@mask").unwrap_or_default().trim_start();
    let Some(first) = rest.chars().next() else { return "" };
    let after = &rest[first.len_utf8()..];
    let end = first.len_utf8() + strip_comment(after).trim_end().len();
    &rest[..end]
}

/// Removes a trailing `# comment`: a `#` at the start or after whitespace.
fn strip_comment(line: &str) -> &str {
    let mut previous_is_space = true;
    for (at, ch) in line.char_indices() {
        if ch == '#' && previous_is_space {
            return &line[..at];
        }
        previous_is_space = ch.is_whitespace();
    }
    line
}

fn parse_code(
    path: &str,
    line: usize,
    directive: &str,
    value: &str,
    range: std::ops::RangeInclusive<u32>,
    errors: &mut Vec<DictionaryError>,
) -> Option<u32> {
    match value.parse::<u32>() {
        Ok(code) if range.contains(&code) => Some(code),
        _ => {
            errors.push(DictionaryError::new(
                path,
                line,
                format!(
                    "{directive} {value} is out of range: Tencent accepts {}–{}",
                    range.start(),
                    range.end()
                ),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (ParsedFile, Vec<String>) {
        let mut errors = Vec::new();
        let parsed = parse(&DictionarySource::new("d/x.txt", text), &mut errors);
        (parsed, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn comments_are_stripped_only_after_whitespace() {
        assert_eq!(strip_comment("赌博   # note"), "赌博   ");
        assert_eq!(strip_comment("c#"), "c#");
        assert_eq!(strip_comment("# all"), "");
    }

    #[test]
    fn directives_and_entries() {
        let (parsed, errors) =
            parse_text("@action reject # r\n@code 120001\n@info 不行\n\n赌博\nre:赌.{0,3}场\nBad Word\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parsed.category.name, "x");
        assert_eq!(parsed.category.code, Some(120001));
        assert_eq!(parsed.category.info, "不行");
        assert_eq!(parsed.entries.len(), 3);
        assert!(
            matches!(&parsed.entries[2].pattern, Pattern::Literal { folded, word: true, .. } if folded == "bad word")
        );
        assert!(matches!(&parsed.entries[0].pattern, Pattern::Literal { word: false, .. }));
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let (_, errors) = parse_text("@acton reject\n@action mask\n@code 5\nword\n@mask #\n\u{200B}\n");
        assert_eq!(
            errors,
            [
                "d/x.txt:1: unknown directive @acton (expected one of @action, @code, @group-code, @info, @mask, @boundary, @fold, @scope)",
                "d/x.txt:3: @code 5 is out of range: Tencent accepts 120001–130000",
                "d/x.txt:3: @code only applies to @action reject, this file is mask",
                "d/x.txt:5: directive @mask after the first entry; directives must come first",
                "d/x.txt:6: entry \"\\u{200b}\" normalises to nothing (only invisible characters or spaces)",
            ]
        );
    }
}
