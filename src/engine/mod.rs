//! The pure core: dictionaries in, compiled engine, verdicts out.
//!
//! Nothing here does I/O. [`Engine::build`] turns dictionary texts into one
//! leftmost-longest automaton for every literal of every category plus one
//! `RegexSet` for the `re:` rules (and a separate, usually tiny, pair for the
//! allow lists); [`Engine::find`] reports the [`Match`]es in one text,
//! [`Engine::decide`] turns the matches of a whole message into a
//! [`Decision`], and [`Engine::check_text`] does both for one string.
//!
//! Around the automata: [`steps`] and [`normalize`] fold the text (one
//! folding per distinct set of steps, viewed with and without leetspeak);
//! the spelling index ([`spelling`]) catches respellings of one-word
//! entries; `@boundary segment` drops CJK hits that cut through words
//! ([`segment`]).
//!
//! The core knows text, hits and verdicts only: where texts come from (a
//! Tencent callback body, a command line) and how a verdict is answered are
//! [`crate::tencent`]'s business.

pub mod chars;
pub mod detect;
pub mod dictionary;
mod explain;
pub mod fold;
pub mod literal;
pub mod normalize;
mod phonetic;
mod rules;
pub mod scope;
mod segment;
mod spelling;
pub mod steps;
pub mod verdict;

use std::ops::Range;

pub use detect::Detector;
pub use dictionary::{Action, Boundary, Category, DictionaryError, DictionarySource};
pub use explain::Suppressed;
pub use scope::{Conversation, GroupType, Place, Scope};
pub use verdict::{Decision, Hit, TextVerdict};

use chars::is_word_char;
use dictionary::{Entry, Pattern};
use literal::LiteralMatcher;
use normalize::Normalized;
use phonetic::PhoneticIndex;
use rules::RuleSet;
use spelling::{Respellings, SpellingIndex};
pub use steps::Steps;

/// Size limit for one compiled `re:` rule. Dictionaries are written by
/// people, not attackers, but a careless `.{1,1000}` repeated a few times
/// can compile to hundreds of MiB; this turns that into a clear error.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The most allow lists that may have a `@scope`: each is one bit of
/// [`Match::excused`].
pub const MAX_SCOPED_ALLOW_LISTS: usize = 64;

/// Compiled dictionaries, ready to moderate.
///
/// An engine is immutable and `Send + Sync`; the server shares one behind an
/// `ArcSwap` and replaces it whole on reload. Building one costs roughly
/// 2–3 µs per literal entry (about 0.25 s for 100k) and the automaton takes
/// about 65 bytes per entry; [`EngineStats`] reports the real figures.
#[derive(Clone)]
pub struct Engine {
    categories: Vec<Category>,
    /// One per distinct set of folding steps among the categories (usually
    /// one): text is folded once per profile.
    profiles: Vec<Profile>,
    /// Every entry as written, indexed by `Owner::entry`, with its
    /// category.
    entries: Vec<String>,
    entry_categories: Vec<u32>,
    /// Some category has `@boundary segment`.
    segmenting: bool,
    /// Some category has a `@scope`: hits are filtered by place.
    scoped: bool,
    /// The allow lists with a `@scope`, by category: bit `i` of
    /// [`Match::excused`] is the `i`-th. Unscoped allow lists excuse a hit
    /// at once; these only where they apply, which is known per message.
    scoped_allow: Vec<u32>,
    stats: EngineStats,
}

/// A summary: an engine holds hundreds of thousands of entries, which no
/// log line should print.
impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.categories.iter().map(|c| c.name.as_str()).collect();
        let steps: Vec<Steps> = self.profiles.iter().map(|p| p.steps).collect();
        f.debug_struct("Engine")
            .field("categories", &names)
            .field("fold_profiles", &steps)
            .field("stats", &self.stats)
            .finish()
    }
}

/// The categories that fold text the same way, compiled together.
#[derive(Debug, Clone)]
struct Profile {
    steps: Steps,
    block: MatcherSet,
    allow: MatcherSet,
}

/// Sizes of a compiled engine, for `/healthz`, metrics and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    /// Dictionary files (categories).
    pub categories: usize,
    /// Literal entries, as written (duplicates counted).
    pub literals: usize,
    /// `re:` rules.
    pub regexes: usize,
    /// Distinct folded literals in the automata.
    pub patterns: usize,
    /// Heap bytes of the literal automata.
    pub automaton_bytes: usize,
}

/// One category as `/healthz`, `wordgate validate` and the console show
/// it: its settings and how many entries it has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CategorySummary {
    /// The file stem.
    pub name: String,
    /// `@action`.
    pub action: Action,
    /// `@code`, for official-account and C2C rejects.
    pub code: Option<u32>,
    /// `@group-code`, for group rejects.
    pub group_code: Option<u32>,
    /// `@scope`'s selectors; empty for everywhere.
    pub scope: Scope,
    /// `@fold`: the fold steps, space-separated (`none` for none).
    pub fold: String,
    /// Entries of every kind (literals, `re:` rules, `detect:` entries).
    pub entries: usize,
}

/// The two components `ch` is written as when split (`赌` → `贝`, `者`),
/// from the table the `split` step reads.
pub fn split_components(ch: char) -> Option<(char, char)> {
    phonetic::components(ch)
}

/// Who owns a pattern: which category, which entry, and how it must stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Owner {
    category: u32,
    entry: u32,
}

/// The literals and rules of one side (blocking categories, or allow lists).
#[derive(Debug, Clone, Default)]
struct MatcherSet {
    /// Literals that match anywhere (CJK, `@boundary substring`).
    anywhere: LiteralSet,
    /// Literals that must stand as whole words (ASCII words by default).
    /// Kept in their own automaton so a match refused inside a word can
    /// skip straight to the next word instead of retrying every character.
    words: LiteralSet,
    /// The one-word entries of `words`, for respellings (`b*tch`, `shiit`).
    spelling: SpellingIndex,
    /// The CJK entries by their readings (pinyin, homophones, split).
    phonetic: PhoneticIndex,
    rules: Option<RuleSet>,
    rule_owners: Vec<Owner>,
    /// The `detect:` entries and the detectors they name (deduplicated).
    detectors: Vec<(Detector, Owner)>,
    detector_kinds: Vec<Detector>,
}

/// One automaton and who owns each of its patterns.
#[derive(Debug, Clone, Default)]
struct LiteralSet {
    matcher: Option<LiteralMatcher>,
    /// `owners[owner_starts[p]..owner_starts[p + 1]]` own pattern `p`; flat
    /// so a 100k-entry dictionary is not 100k tiny allocations.
    owners: Vec<Owner>,
    owner_starts: Vec<u32>,
    /// Every pattern has a non-ASCII character, so ASCII text (most fields
    /// of English chat, ids, URLs) cannot match and is not scanned: a call
    /// into the automaton costs hundreds of instructions even on ten bytes.
    needs_non_ascii: bool,
    /// (index into `owners`, runs) for the entries that write an
    /// ideograph more than once, sorted: a match must write it as often.
    runs: Vec<(u32, Box<[u16]>)>,
}

/// A match in folded text, before it is mapped back to the original.
#[derive(Clone, Copy, Debug)]
struct RawHit {
    owner: Owner,
    start: usize,
    end: usize,
}

/// A hit in the original text: which category and entry, and the byte
/// span of the text it covers (noise and invisible characters it skipped
/// included, so a mask covers them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Index of the category, in priority order ([`Engine::categories`]).
    pub category: u32,
    /// Index of the entry ([`Engine::entry`]).
    pub entry: u32,
    /// Byte span in the text that was scanned.
    pub span: Range<usize>,
    /// Which scoped allow lists cover the hit, one bit each
    /// ([`Engine::counts_in`] consults them); 0 when none does.
    pub excused: u64,
}

impl Engine {
    /// Parses and compiles dictionaries. Sources are taken in the order
    /// given, which is the priority among reject categories; callers loading
    /// a directory sort by file name. Every problem is returned, each naming
    /// its file and line.
    pub fn build(sources: &[DictionarySource]) -> Result<Engine, Vec<DictionaryError>> {
        let mut errors = Vec::new();
        let mut categories = Vec::with_capacity(sources.len());
        let mut entries = Vec::new();
        let mut entry_categories = Vec::new();
        // (steps, is allow list) → that side's entries.
        type Side = ((Steps, bool), Vec<(Owner, Entry)>);
        let mut sides: Vec<Side> = Vec::new();
        for source in sources {
            let parsed = dictionary::parse(source, &mut errors);
            let category = categories.len() as u32;
            let allow = parsed.category.action == Action::Allow;
            for entry in parsed.entries {
                // Regexes see the text without leetspeak folding: a rule
                // such as `re:qq\d{5,}` is about the digits as written. So
                // do allow lists: `45s` (the records) excuses `45s`, not
                // every `ass` it would read as.
                let steps = match entry.pattern {
                    Pattern::Regex(_) | Pattern::Detector(_) => {
                        parsed.category.steps.with(Steps::LEET, false)
                    }
                    Pattern::Literal { .. } if allow => parsed.category.steps.with(Steps::LEET, false),
                    Pattern::Literal { .. } => parsed.category.steps,
                };
                let key = (steps, allow);
                let side = match sides.iter().position(|(k, _)| *k == key) {
                    Some(index) => index,
                    None => {
                        sides.push((key, Vec::new()));
                        sides.len() - 1
                    }
                };
                let owner = Owner { category, entry: entries.len() as u32 };
                entries.push(entry.written.clone());
                entry_categories.push(category);
                sides[side].1.push((owner, entry));
            }
            categories.push(parsed.category);
        }
        let mut steps: Vec<Steps> = sides.iter().map(|((steps, _), _)| *steps).collect();
        steps.sort();
        steps.dedup();
        let mut profiles: Vec<Profile> = steps
            .into_iter()
            .map(|steps| Profile { steps, block: MatcherSet::default(), allow: MatcherSet::default() })
            .collect();
        for ((steps, allow), side) in sides {
            let set = MatcherSet::build(&categories, steps, allow, side, &mut errors);
            if let Some(profile) = profiles.iter_mut().find(|p| p.steps == steps) {
                *(if allow { &mut profile.allow } else { &mut profile.block }) = set;
            }
        }
        if !errors.is_empty() {
            // Parse errors come per file, regex errors after all files were
            // read; users want them in file and line order.
            errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
            return Err(errors);
        }
        let sets = || profiles.iter().flat_map(|p| [&p.block, &p.allow]);
        let regexes: usize = sets().map(|set| set.rule_owners.len()).sum();
        let detectors: usize = sets().map(|set| set.detectors.len()).sum();
        let stats = EngineStats {
            categories: categories.len(),
            literals: entries.len() - regexes - detectors,
            regexes,
            patterns: sets().map(MatcherSet::pattern_count).sum(),
            automaton_bytes: sets().map(MatcherSet::memory_usage).sum(),
        };
        if detectors > 0 {
            if let Err(reason) = detect::prepare() {
                return Err(vec![DictionaryError::new(
                    categories.first().map_or("dictionaries", |c| c.path.as_str()),
                    0,
                    reason,
                )]);
            }
        }
        let scoped_allow: Vec<u32> = (0..categories.len() as u32)
            .filter(|&index| {
                let category = &categories[index as usize];
                category.action == Action::Allow && !category.scope.is_everywhere()
            })
            .collect();
        if scoped_allow.len() > MAX_SCOPED_ALLOW_LISTS {
            let path = categories[scoped_allow[MAX_SCOPED_ALLOW_LISTS] as usize].path.as_str();
            return Err(vec![DictionaryError::new(
                path,
                0,
                format!(
                    "at most {MAX_SCOPED_ALLOW_LISTS} allow lists may have a @scope; merge some, or scope the \
                     categories they excuse instead"
                ),
            )]);
        }
        let scoped = categories.iter().any(|category| !category.scope.is_everywhere());
        // Homophone hits are checked against the words a segmenter finds.
        let segmenting = categories.iter().any(|c| c.boundary == Boundary::Segment);
        if segmenting || categories.iter().any(|c| c.steps.contains(Steps::HOMOPHONES)) {
            segment::prepare();
        }
        Ok(Engine {
            categories,
            profiles,
            entries,
            entry_categories,
            segmenting,
            scoped,
            scoped_allow,
            stats,
        })
    }

    /// Sizes of this engine.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// The categories, in priority order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// Every category's settings and entry count, in priority order.
    pub fn category_summaries(&self) -> Vec<CategorySummary> {
        let mut counts = vec![0usize; self.categories.len()];
        for &category in &self.entry_categories {
            if let Some(count) = counts.get_mut(category as usize) {
                *count += 1;
            }
        }
        self.categories
            .iter()
            .zip(counts)
            .map(|(category, entries)| CategorySummary {
                name: category.name.clone(),
                action: category.action,
                code: category.code,
                group_code: category.group_code,
                scope: category.scope.clone(),
                fold: category.steps.to_string(),
                entries,
            })
            .collect()
    }

    /// Every literal entry as written, with its category, in file order.
    pub fn literal_entries(&self) -> impl Iterator<Item = (&Category, &str)> {
        self.entries
            .iter()
            .zip(&self.entry_categories)
            .filter(|(entry, _)| !entry.starts_with("re:") && !entry.starts_with("detect:"))
            .map(|(entry, &category)| (self.category(category), entry.as_str()))
    }

    /// Moderates one string, as `wordgate check` does, with every category
    /// applying.
    pub fn check_text(&self, text: &str) -> TextVerdict {
        self.check_text_in(text, &Place::default())
    }

    /// Moderates one string as a message in `place` would be: only the
    /// categories in scope there count, and a group reject answers the
    /// category's group code.
    pub fn check_text_in(&self, text: &str, place: &Place) -> TextVerdict {
        let mut matches = Vec::new();
        self.find(text, &mut matches);
        self.retain_in(place, &mut matches);
        verdict::decide_text(self, text, &matches, place)
    }

    /// Whether some category has a `@scope` (otherwise every match counts
    /// everywhere and [`Engine::counts_in`] need not be asked).
    pub fn is_scoped(&self) -> bool {
        self.scoped
    }

    /// Whether `found` counts in `place`: its category is in scope there,
    /// and no allow list in scope there covers it.
    #[inline]
    pub fn counts_in(&self, found: &Match, place: &Place) -> bool {
        if !self.scoped {
            return true;
        }
        if !self.category(found.category).scope.contains(place) {
            return false;
        }
        found.excused == 0
            || self.scoped_allow.iter().enumerate().all(|(bit, &allow)| {
                found.excused & (1 << bit) == 0 || !self.category(allow).scope.contains(place)
            })
    }

    /// The scoped allow list in scope at `place` that excuses `found`, if
    /// one does (its category index).
    pub fn excused_by(&self, found: &Match, place: &Place) -> Option<u32> {
        self.scoped_allow.iter().enumerate().find_map(|(bit, &allow)| {
            (found.excused & (1 << bit) != 0 && self.category(allow).scope.contains(place)).then_some(allow)
        })
    }

    /// Keeps the matches that count in `place`.
    pub fn retain_in(&self, place: &Place, matches: &mut Vec<Match>) {
        if self.scoped {
            matches.retain(|found| self.counts_in(found, place));
        }
    }

    /// Appends to `out` every match in `text` that survives word boundaries
    /// and allow lists, in order of their start. Allocates nothing once this
    /// thread has scanned a text of the size before (the folding buffers are
    /// kept per thread).
    pub fn find(&self, text: &str, out: &mut Vec<Match>) {
        Scratch::with(|scratch| self.scan(text, scratch, out, None));
    }

    /// As [`Engine::find`], and also appends to `suppressed` every hit an
    /// (unscoped) allow list excused, with the allow match: for people
    /// asking why a word did not count (the console).
    pub fn find_with_suppressed(&self, text: &str, out: &mut Vec<Match>, suppressed: &mut Vec<Suppressed>) {
        Scratch::with(|scratch| self.scan(text, scratch, out, Some(suppressed)));
    }

    /// The fold steps `found` (a match of this engine in `text`) needed:
    /// none when the entry stands as written (up to case, width and
    /// invisible characters), `regex` or `detector` for those entries.
    /// Builds one-entry engines: for the console, never the request path.
    pub fn steps_for(&self, text: &str, found: &Match) -> Vec<&'static str> {
        explain::steps_for(self, text, found)
    }

    /// The verdict for a set of matches (of one text, or of every text of a
    /// message).
    pub fn decide<'m>(&self, matches: impl IntoIterator<Item = &'m Match>) -> Decision {
        verdict::decide(self, matches)
    }

    /// A match as users see it: category, entry, span and the text it
    /// covers; `field` says where the text was, when it came from a message.
    pub fn hit(&self, text: &str, found: &Match, field: Option<String>) -> Hit {
        verdict::render(self, text, found, field)
    }

    /// The character that masks the text of `found`, when its category's
    /// action is `mask`.
    pub fn mask_char(&self, found: &Match) -> Option<char> {
        let category = self.category(found.category);
        (category.action == Action::Mask).then_some(category.mask)
    }

    /// An entry as written in its dictionary.
    pub fn entry(&self, index: u32) -> &str {
        self.entries.get(index as usize).map_or("", String::as_str)
    }

    /// Finds every hit in `text` that survives boundaries and allow lists,
    /// as spans of the original text, in order of their start.
    pub(crate) fn scan(
        &self,
        text: &str,
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
        mut suppressed: Option<&mut Vec<Suppressed>>,
    ) {
        let first_new = out.len();
        scratch.begin();
        for profile in &self.profiles {
            scratch.find(text, profile.steps, &profile.block, |start, end, owner| {
                out.push(Match {
                    category: owner.category,
                    entry: owner.entry,
                    span: start..end,
                    excused: 0,
                });
            });
        }
        if out.len() == first_new {
            return;
        }
        // Allow lists are only consulted when something hit, so clean text
        // (nearly all traffic) never pays for them. Spans are compared in
        // the original text: profiles fold differently.
        let mut allowed = std::mem::take(&mut scratch.allowed);
        allowed.clear();
        for profile in &self.profiles {
            scratch.find(text, profile.steps, &profile.allow, |start, end, owner| {
                allowed.push((start..end, owner));
            });
        }
        let mut index = first_new;
        out.retain_mut(|hit| {
            index += 1;
            if index <= first_new {
                return true;
            }
            for (allow, owner) in &allowed {
                if allow.start <= hit.span.start && hit.span.end <= allow.end {
                    match self.scoped_allow.iter().position(|&scoped| scoped == owner.category) {
                        // Excused only where that list applies.
                        Some(bit) => hit.excused |= 1 << bit,
                        None => {
                            if let Some(suppressed) = suppressed.as_deref_mut() {
                                let allow = Match {
                                    category: owner.category,
                                    entry: owner.entry,
                                    span: allow.clone(),
                                    excused: 0,
                                };
                                suppressed.push(Suppressed { hit: hit.clone(), allow });
                            }
                            return false;
                        }
                    }
                }
            }
            true
        });
        scratch.allowed = allowed;
        if self.segmenting {
            let mut index = first_new;
            out.retain(|hit| {
                index += 1;
                index <= first_new
                    || self.category(hit.category).boundary != Boundary::Segment
                    || self.entry(hit.entry).starts_with("re:")
                    || self.entry(hit.entry).starts_with("detect:")
                    || !segment::straddles_words(text, hit.span.start, hit.span.end, self.entry(hit.entry))
            });
        }
        out[first_new..].sort_by_key(|hit| (hit.span.start, hit.span.end));
    }

    /// The category at `index` (as in [`Match::category`]).
    pub fn category(&self, index: u32) -> &Category {
        &self.categories[index as usize]
    }
}

/// Buffers reused across fields and across requests on one thread, so a
/// verdict allocates nothing for folding and matching.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The foldings of the current text, one per distinct set of steps
    /// (leetspeak aside); the first `foldings_used` are current.
    foldings: Vec<Folding>,
    foldings_used: usize,
    /// The views of those foldings the profiles read; the first
    /// `views_used` are current.
    views: Vec<View>,
    views_used: usize,
    raw: Vec<RawHit>,
    /// The allow-list matches of the current text, with their category.
    allowed: Vec<(Range<usize>, Owner)>,
    spelling: spelling::Scratch,
    phonetic: phonetic::Scratch,
}

/// The current text folded through one set of steps.
#[derive(Debug, Default)]
struct Folding {
    steps: Steps,
    /// Folding changes nothing: every view is the text itself.
    identity: bool,
    units: Vec<steps::Unit>,
    /// Leetspeak changed a character (views with and without it differ).
    leet_changed: bool,
    /// Two equal ideographs in a row (squeezed views differ).
    pairs: bool,
}

/// One view of a folding: the text a matcher reads.
#[derive(Debug, Default)]
struct View {
    folding: usize,
    leet: bool,
    squeeze: bool,
    normalized: Normalized,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

impl Scratch {
    /// Runs `f` with this thread's scratch buffers (fresh ones if they are
    /// somehow in use already).
    pub(crate) fn with<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let result = f(&mut scratch);
                scratch.shrink();
                result
            }
            Err(_) => f(&mut Scratch::default()),
        })
    }

    /// Forgets the foldings of the previous text.
    fn begin(&mut self) {
        self.foldings_used = 0;
        self.views_used = 0;
    }

    /// Runs `set`'s literals and rules over `text` folded through `steps`,
    /// calling `hit(start, end, owner)` with spans of the original text.
    fn find(&mut self, text: &str, steps: Steps, set: &MatcherSet, mut hit: impl FnMut(usize, usize, Owner)) {
        if set.has_literals() {
            let view = self.view(text, steps, false);
            let Scratch { views, raw, spelling, .. } = self;
            let (normalized, leet_read) = (&views[view].normalized, views[view].leet);
            raw.clear();
            set.find_literals(text, normalized.text(text), normalized, leet_read, spelling, raw);
            for found in raw.iter() {
                let (start, end) = normalized.original_span(text, found.start, found.end);
                hit(start, end, found.owner);
            }
        }
        if !set.phonetic.is_empty() {
            // Readings come from the text as written, before leetspeak
            // (`du3bo2` has tone digits, not letters).
            let view = self.view(text, steps, true);
            let Scratch { views, raw, phonetic, .. } = self;
            let normalized = &views[view].normalized;
            raw.clear();
            set.phonetic.find_all(normalized.text(text), normalized, phonetic, raw);
            for found in raw.iter() {
                let (start, end) = normalized.original_span(text, found.start, found.end);
                hit(start, end, found.owner);
            }
        }
        if let Some(rules) = &set.rules {
            let view = self.view(text, steps, true);
            let normalized = &self.views[view].normalized;
            rules.find_all(normalized.text(text), |rule, start, end| {
                let (start, end) = normalized.original_span(text, start, end);
                hit(start, end, set.rule_owners[rule]);
            });
        }
        if !set.detectors.is_empty() {
            // Detectors read the text as written (see detect.rs: a folding
            // squeezes `xyz_888` to `xyz_8` and `一一` to `一`), so they
            // cost no folding and their spans need no map.
            detect::find_all(text, &set.detector_kinds, |detector, start, end| {
                for &(_, owner) in set.detectors.iter().filter(|(d, _)| *d == detector) {
                    hit(start, end, owner);
                }
            });
        }
    }

    /// The index of the view that literals (or, with `rules`, regexes) of a
    /// file folding with `steps` read, made on first use. Regexes read it
    /// without leetspeak (a rule such as `re:qq\d{5,}` is about digits as
    /// written) but with repeats squeezed, as literals do, so that both
    /// kinds share one text unless leetspeak changed a character.
    fn view(&mut self, text: &str, steps: Steps, rules: bool) -> usize {
        // Leetspeak is read into every folding (but the core's); it and
        // the squeezing of pairs are views of it.
        // The phonetic steps read a folding; they do not make one.
        let steps = steps.with(Steps::PHONETIC, false);
        let key = if steps == Steps::NONE { Steps::NONE } else { steps.with(Steps::LEET, true) };
        let folding = match self.foldings[..self.foldings_used].iter().position(|f| f.steps == key) {
            Some(index) => index,
            None => self.fold(text, key),
        };
        let f = &self.foldings[folding];
        let leet = !rules && steps.contains(Steps::LEET) && f.leet_changed;
        let squeeze = steps.contains(Steps::REPEATS) && f.pairs;
        let same = |v: &View| v.folding == folding && v.leet == leet && v.squeeze == squeeze;
        if let Some(index) = self.views[..self.views_used].iter().position(same) {
            return index;
        }
        if self.views_used == self.views.len() {
            self.views.push(View::default());
        }
        let index = self.views_used;
        self.views_used += 1;
        let view = &mut self.views[index];
        (view.folding, view.leet, view.squeeze) = (folding, leet, squeeze);
        if key == Steps::NONE {
            view.normalized.fold_into(text);
        } else if f.identity {
            view.normalized.set_identity();
        } else {
            view.normalized.fill_from_units(&f.units, leet, squeeze);
        }
        index
    }

    fn fold(&mut self, text: &str, key: Steps) -> usize {
        if self.foldings_used == self.foldings.len() {
            self.foldings.push(Folding::default());
        }
        let index = self.foldings_used;
        self.foldings_used += 1;
        let folding = &mut self.foldings[index];
        folding.steps = key;
        folding.units.clear();
        (folding.identity, folding.leet_changed, folding.pairs) = (false, false, false);
        if key == Steps::NONE {
            return index;
        }
        if steps::folds_to_itself_ascii(text) {
            folding.identity = true;
            return index;
        }
        folding.leet_changed = steps::fold_units(text, key, &mut folding.units);
        folding.pairs = key.contains(Steps::REPEATS) && steps::has_ideograph_pair(&folding.units);
        index
    }

    /// One huge message must not pin megabytes to a thread forever.
    fn shrink(&mut self) {
        const KEEP: usize = 64 * 1024;
        if self.views.iter().map(|v| v.normalized.capacity()).sum::<usize>() > KEEP {
            self.views = Vec::new();
        }
        if self.foldings.iter().map(|f| f.units.capacity()).sum::<usize>() > KEEP / 16 {
            self.foldings = Vec::new();
        }
        if self.raw.capacity() > KEEP / 16 {
            self.raw = Vec::new();
        }
        if self.allowed.capacity() > KEEP / 16 {
            self.allowed = Vec::new();
        }
        self.spelling.shrink();
        self.phonetic.shrink();
    }
}

impl MatcherSet {
    fn build(
        categories: &[Category],
        steps: Steps,
        allow: bool,
        entries: Vec<(Owner, Entry)>,
        errors: &mut Vec<DictionaryError>,
    ) -> MatcherSet {
        let mut set = MatcherSet::default();
        let mut anywhere: Vec<(String, Owner, Vec<u16>)> = Vec::new();
        let mut words: Vec<(String, Owner, Vec<u16>)> = Vec::new();
        let mut regexes: Vec<String> = Vec::new();
        for (owner, entry) in entries {
            match entry.pattern {
                Pattern::Literal { folded, word: true, runs } => words.push((folded, owner, runs)),
                Pattern::Literal { folded, word: false, runs } => anywhere.push((folded, owner, runs)),
                Pattern::Detector(detector) => {
                    set.detectors.push((detector, owner));
                    if !set.detector_kinds.contains(&detector) {
                        set.detector_kinds.push(detector);
                    }
                }
                Pattern::Regex(pattern) => {
                    let path = &categories[owner.category as usize].path;
                    match rules::check(&pattern, REGEX_SIZE_LIMIT) {
                        Ok(()) => {
                            set.rule_owners.push(owner);
                            regexes.push(pattern);
                        }
                        Err(reason) => errors.push(DictionaryError::new(path, entry.line, reason)),
                    }
                }
            }
        }
        if !errors.is_empty() {
            return set;
        }
        let blame = categories.first().map_or("dictionaries", |c| c.path.as_str());
        // Respellings widen what blocks; an allow list is matched as
        // written, so it never excuses more than it says.
        if !allow {
            let respellings = Respellings {
                look_alikes: steps.contains(Steps::LEET),
                doubles: steps.contains(Steps::REPEATS),
                compounds: steps.contains(Steps::NOISE),
            };
            set.spelling = SpellingIndex::build(
                respellings,
                words.iter().map(|(folded, owner, _)| (folded.as_str(), *owner)),
            );
        }
        if !allow {
            let respellings = phonetic::Respellings {
                pinyin: steps.contains(Steps::PINYIN),
                homophones: steps.contains(Steps::HOMOPHONES),
                split: steps.contains(Steps::SPLIT),
            };
            let literals = anywhere
                .iter()
                .chain(&words)
                .map(|(folded, owner, runs)| (folded.as_str(), runs.as_slice(), *owner));
            match PhoneticIndex::build(respellings, literals) {
                Ok(index) => set.phonetic = index,
                Err(reason) => errors.push(DictionaryError::new(
                    blame,
                    0,
                    format!("the pinyin automaton could not be built: {reason}"),
                )),
            }
        }
        set.anywhere = LiteralSet::build(anywhere, blame, errors);
        set.words = LiteralSet::build(words, blame, errors);
        if !regexes.is_empty() {
            match RuleSet::build(&regexes, REGEX_SIZE_LIMIT) {
                Ok(rules) => set.rules = Some(rules),
                Err(reason) => errors.push(DictionaryError::new(
                    blame,
                    0,
                    format!("the regex rules together are too large: {reason}"),
                )),
            }
        }
        set
    }

    fn has_literals(&self) -> bool {
        self.anywhere.matcher.is_some() || self.words.matcher.is_some()
    }

    fn pattern_count(&self) -> usize {
        self.anywhere.pattern_count() + self.words.pattern_count() + self.phonetic.pattern_count()
    }

    fn memory_usage(&self) -> usize {
        self.anywhere.memory_usage()
            + self.words.memory_usage()
            + self.spelling.memory_usage()
            + self.phonetic.memory_usage()
    }

    /// Appends every literal match in `folded` (the text of `normalized`),
    /// respellings of one-word entries included.
    fn find_literals(
        &self,
        original: &str,
        folded: &str,
        normalized: &Normalized,
        leet_read: bool,
        spelling: &mut spelling::Scratch,
        out: &mut Vec<RawHit>,
    ) {
        let ascii = folded.is_ascii();
        if let Some(matcher) = self.anywhere.matcher_for(ascii) {
            let mut at = 0;
            while let Some(found) = matcher.find_at(folded, at) {
                if self.anywhere.push_owners(&found, folded, normalized, out) {
                    at = found.end;
                } else {
                    // Refused for writing a doubled ideograph once: a match
                    // may start at the next character.
                    at = found.start + folded[found.start..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
        let first_word = out.len();
        if let Some(matcher) = self.words.matcher_for(ascii) {
            let mut at = 0;
            while let Some(found) = matcher.find_at(folded, at) {
                if is_whole_word(folded, found.start, found.end) {
                    self.words.push_owners(&found, folded, normalized, out);
                    at = found.end;
                } else {
                    // A match refused for standing inside a word (`ass` in
                    // `classic`) must not hide a word that starts inside
                    // it; no word starts before the next non-word character.
                    // The word may still be made of entries (`fuckfuck`).
                    SpellingIndex::note_inside(
                        original,
                        folded,
                        normalized,
                        found.start,
                        found.end,
                        spelling,
                    );
                    at = next_word_start(folded, found.start);
                }
            }
        }
        self.spelling.find_all(original, folded, normalized, leet_read, &out[first_word..], spelling);
        out.extend_from_slice(&spelling.found);
    }
}

impl LiteralSet {
    fn build(
        mut literals: Vec<(String, Owner, Vec<u16>)>,
        blame: &str,
        errors: &mut Vec<DictionaryError>,
    ) -> LiteralSet {
        let mut set = LiteralSet::default();
        if literals.is_empty() {
            return set;
        }
        literals.sort_unstable();
        literals.dedup();
        let mut patterns: Vec<&str> = Vec::new();
        for (folded, owner, runs) in &literals {
            if patterns.last() != Some(&folded.as_str()) {
                patterns.push(folded);
                set.owner_starts.push(set.owners.len() as u32);
            }
            if !runs.is_empty() {
                set.runs.push((set.owners.len() as u32, runs.clone().into_boxed_slice()));
            }
            set.owners.push(*owner);
        }
        set.owner_starts.push(set.owners.len() as u32);
        set.needs_non_ascii = patterns.iter().all(|pattern| !pattern.is_ascii());
        match LiteralMatcher::build(&patterns) {
            Ok(matcher) => set.matcher = Some(matcher),
            Err(reason) => errors.push(DictionaryError::new(
                blame,
                0,
                format!("the literal automaton could not be built: {reason}"),
            )),
        }
        set
    }

    /// The automaton, unless no pattern can occur in a text that is all
    /// ASCII (`ascii`) or not.
    fn matcher_for(&self, ascii: bool) -> Option<&LiteralMatcher> {
        if ascii && self.needs_non_ascii {
            return None;
        }
        self.matcher.as_ref()
    }

    fn pattern_count(&self) -> usize {
        self.owner_starts.len().saturating_sub(1)
    }

    fn memory_usage(&self) -> usize {
        self.matcher.as_ref().map_or(0, LiteralMatcher::memory_usage)
    }

    /// Appends the owners of `found` that the text writes as often as they
    /// do; returns whether there was one.
    fn push_owners(
        &self,
        found: &literal::LiteralMatch,
        folded: &str,
        normalized: &Normalized,
        out: &mut Vec<RawHit>,
    ) -> bool {
        let owners = self.owner_starts.get(found.pattern).zip(self.owner_starts.get(found.pattern + 1));
        let Some((&first, &last)) = owners else { return false };
        let mut any = false;
        for index in first..last {
            let Some(&owner) = self.owners.get(index as usize) else { continue };
            if self.written_often_enough(index, found, folded, normalized) {
                out.push(RawHit { owner, start: found.start, end: found.end });
                any = true;
            }
        }
        any
    }

    /// Whether the text writes each character of the match at least as
    /// many times as the entry of `owner` does (`谢谢` is not met by `谢`),
    /// and writes the first and last no more than once more unless it
    /// repeats every character (`他妈妈` is `他|妈妈`, not a doubled `他妈`;
    /// `法法轮轮功功` doubles the whole entry).
    fn written_often_enough(
        &self,
        owner: u32,
        found: &literal::LiteralMatch,
        folded: &str,
        normalized: &Normalized,
    ) -> bool {
        let entry_runs: &[u16] = match self.runs.binary_search_by_key(&owner, |(index, _)| *index) {
            Ok(at) => &self.runs[at].1,
            Err(_) => &[],
        };
        if !normalized.has_runs() {
            return entry_runs.iter().all(|&run| run <= 1);
        }
        let matched = folded.get(found.start..found.end).unwrap_or_default();
        let count = matched.chars().count();
        let (mut all_repeated, mut edge_doubled) = (true, false);
        for (i, (at, _)) in matched.char_indices().enumerate() {
            let written = normalized.run_at(found.start + at);
            let wanted = entry_runs.get(i).copied().unwrap_or(1);
            if written < wanted {
                return false;
            }
            all_repeated &= written > wanted;
            edge_doubled |= (i == 0 || i + 1 == count) && written == wanted + 1 && written < 3;
        }
        !edge_doubled || all_repeated
    }
}

/// True when `text[start..end]` is not preceded or followed by a word
/// character.
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
}

/// The first position after `at` where a whole word could start: just past
/// the next non-word character (past the end when there is none).
fn next_word_start(text: &str, at: usize) -> usize {
    for (offset, ch) in text[at..].char_indices() {
        if !is_word_char(ch) {
            return at + offset + ch.len_utf8();
        }
    }
    text.len() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<Engine>();
    }

    #[test]
    fn ascii_text_skips_only_sets_it_cannot_match() {
        let sources = [
            DictionarySource::new("cjk.txt", "@boundary substring\n赌博\n"),
            DictionarySource::new("mixed.txt", "@boundary substring\n加v\nxyz\n"),
            DictionarySource::new("words.txt", "spam\n"),
        ];
        let Ok(engine) = Engine::build(&sources) else { panic!("build") };
        let needs = |name: &str| {
            let profile = engine.profiles.first().map(|profile| &profile.block);
            let set = profile.map(|block| if name == "anywhere" { &block.anywhere } else { &block.words });
            set.is_some_and(|set| set.needs_non_ascii)
        };
        // One profile: 赌博, 加v and xyz share the substring set, which an
        // ASCII text can match (xyz); spam is ASCII.
        assert!(!needs("anywhere") && !needs("words"));
        let categories = |text: &str| -> Vec<String> {
            engine.check_text(text).hits.iter().map(|hit| hit.category.clone()).collect()
        };
        assert_eq!(categories("axyzb spam"), ["mixed", "words"]);
        assert_eq!(categories("ＸＹＺ 赌博"), ["mixed", "cjk"]);

        let Ok(cjk_only) = Engine::build(&sources[..1]) else { panic!("build") };
        assert!(cjk_only.profiles.iter().all(|profile| profile.block.anywhere.needs_non_ascii));
        assert!(cjk_only.check_text("plain ascii text").hits.is_empty());
        // Fullwidth letters fold to ASCII; the CJK entry still hits beside them.
        assert_eq!(cjk_only.check_text("ＡＢ赌博").hits.len(), 1);
    }

    #[test]
    fn word_characters() {
        assert!(is_word_char('a'));
        assert!(is_word_char('é'));
        assert!(is_word_char('д'));
        assert!(!is_word_char('你'));
        assert!(!is_word_char('_'));
        assert!(!is_word_char(' '));
    }
}
