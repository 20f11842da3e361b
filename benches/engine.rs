//! Verdict latency of the core: one chat message against synthetic
//! dictionaries (60% English, 40% Chinese, from a fixed seed), normalisation
//! included.
//!
//! Groups:
//! - `automaton`: the literal automaton alone (aho-corasick and daachorse),
//!   10k / 100k entries × 100 B / 1 KiB, clean: the floor of a scan.
//! - `verdict`: scan + verdict (`Engine::check_text`), 1k / 10k / 100k
//!   entries × 100 B / 1 KiB / 12 KiB (Tencent's largest message) × `clean`
//!   (no dictionary word injected) / `hits` (one about every 100 bytes).
//! - `fold`: the same 100k dictionary with `@fold none`, `default`,
//!   `phonetic` (`default +pinyin +homophones +split`) and `all`: what the
//!   evasion-resistant steps cost. The worst case for the phonetic steps:
//!   random CJK text against 100k random entries reads like some entry
//!   almost everywhere.
//! - `chat`: the shipped dictionaries as they are (`default`) and with
//!   `+pinyin +homophones +split` added to every file (`phonetic`), on
//!   real chat and prose lines (the evaluation's negatives, Chinese and
//!   English): what the phonetic steps cost a real deployment.
//! - `detectors`: the shipped dictionaries without `contact.txt` (`off`)
//!   and with it (`on`: the five `detect:` entries), on clean 100-byte
//!   messages (synthetic chat: Chinese words, English filler and numbers)
//!   and on the real lines of `chat`.
//!
//! `cargo bench --bench engine`; each iteration moderates one message, so
//! the reported time is per message. Ids read `<entries>/<message size>`
//! then the case, e.g. `verdict/100k/1024B/clean`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wordgate::engine::literal::{AutomatonKind, LiteralMatcher};
use wordgate::synthetic::{self, Rng};
use wordgate::{DictionarySource, Engine};

fn engine(entries: usize) -> Engine {
    engine_folded(entries, "default")
}

/// `fold` is the `@fold` value of every file: `none` for the core folding
/// (case, width, invisibles) alone, `default` for every evasion step but
/// numbers, `all` for every step.
fn engine_folded(entries: usize, fold: &str) -> Engine {
    // Half reject, half mask, plus a handful of regex rules and an allow
    // list, like a real deployment. Every file folds the same way, so the
    // text is folded once.
    let half = entries / 2;
    let fold = format!("@fold {fold}\n");
    let sources = [
        DictionarySource::new(
            "reject.txt",
            synthetic::dictionary_text(1, half, &format!("@action reject\n@code 120001\n{fold}")),
        ),
        DictionarySource::new(
            "mask.txt",
            synthetic::dictionary_text(2, entries - half, &format!("@action mask\n{fold}")),
        ),
        DictionarySource::new(
            "rules.txt",
            format!("@action review\n{fold}re:加\\s*[微薇v][信x]?\\s*:?\\s*[a-z0-9_-]{{5,}}\nre:(?-u:\\b)1[3-9]\\d{{9}}(?-u:\\b)\nre:https?://\\S+\n"),
        ),
        DictionarySource::new("allow.txt", format!("@action allow\n{fold}Scunthorpe\n三黄片研究\nassassin\n")),
    ];
    match Engine::build(&sources) {
        Ok(engine) => engine,
        Err(errors) => panic!("synthetic dictionary does not compile: {errors:?}"),
    }
}

fn messages(bytes: usize, with_hits: bool) -> Vec<String> {
    let mut rng = Rng::new(7);
    let words = synthetic::words(1, 1000);
    (0..256).map(|_| synthetic::message(&mut rng, bytes, with_hits.then_some(words.as_slice()))).collect()
}

/// The literal automaton alone, on the same dictionary and messages: the
/// floor the verdict is measured against (ratio verdict / automaton).
fn automaton(c: &mut Criterion) {
    let mut group = c.benchmark_group("automaton");
    for entries in [10_000, 100_000] {
        let half = entries / 2;
        let mut patterns: Vec<String> =
            synthetic::words(1, half).into_iter().chain(synthetic::words(2, entries - half)).collect();
        patterns.sort();
        patterns.dedup();
        for kind in [AutomatonKind::AhoCorasick, AutomatonKind::Daachorse] {
            let Ok(matcher) = LiteralMatcher::build_with(kind, &patterns) else { panic!("automaton builds") };
            for bytes in [100, 1024] {
                let messages = messages(bytes, false);
                let average = messages.iter().map(String::len).sum::<usize>() / messages.len();
                group.throughput(Throughput::Bytes(average as u64));
                let id = BenchmarkId::new(format!("{kind:?}/{}k/{bytes}B", entries / 1000), "clean");
                group.bench_with_input(id, &messages, |b, messages| {
                    let mut next = 0;
                    b.iter(|| {
                        next = (next + 1) % messages.len();
                        let text = black_box(messages[next].as_str());
                        let (mut at, mut found) = (0, 0);
                        while let Some(m) = matcher.find_at(text, at) {
                            at = m.end;
                            found += 1;
                        }
                        found
                    })
                });
            }
        }
    }
    group.finish();
}

fn verdict(c: &mut Criterion) {
    let mut group = c.benchmark_group("verdict");
    for entries in [1_000, 10_000, 100_000] {
        let engine = engine(entries);
        for bytes in [100, 1024, 12 * 1024] {
            for (label, with_hits) in [("clean", false), ("hits", true)] {
                let messages = messages(bytes, with_hits);
                let average = messages.iter().map(String::len).sum::<usize>() / messages.len();
                group.throughput(Throughput::Bytes(average as u64));
                let id = BenchmarkId::new(format!("{}k/{bytes}B", entries / 1000), label);
                group.bench_with_input(id, &messages, |b, messages| {
                    let mut next = 0;
                    b.iter(|| {
                        next = (next + 1) % messages.len();
                        black_box(engine.check_text(black_box(&messages[next])))
                    })
                });
            }
        }
    }
    group.finish();
}

/// The cost of the evasion steps: the same 100k dictionary and messages,
/// folded with the core alone and with every step (ratio all / none).
fn fold(c: &mut Criterion) {
    let mut group = c.benchmark_group("fold");
    for (label, fold) in [
        ("none", "none"),
        ("default", "default"),
        ("phonetic", "default +pinyin +homophones +split"),
        ("all", "all"),
    ] {
        let engine = engine_folded(100_000, fold);
        for bytes in [100, 1024] {
            let messages = messages(bytes, false);
            let average = messages.iter().map(String::len).sum::<usize>() / messages.len();
            group.throughput(Throughput::Bytes(average as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("100k/{bytes}B"), label),
                &messages,
                |b, messages| {
                    let mut next = 0;
                    b.iter(|| {
                        next = (next + 1) % messages.len();
                        black_box(engine.check_text(black_box(&messages[next])))
                    })
                },
            );
        }
    }
    group.finish();
}

/// Real chat and prose lines: the ordinary text of the evaluation sets.
fn chat_lines(root: &str) -> Vec<String> {
    wordgate::eval::ordinary_lines(std::path::Path::new(root)).unwrap_or_else(|err| panic!("{err}"))
}

/// The phonetic steps on real text: the shipped dictionaries with and
/// without them, one line of the evaluation's ordinary text per iteration.
fn chat(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let (sources, errors) =
        wordgate::dictionary_dir::load(std::path::Path::new(&format!("{root}/dictionaries")));
    assert!(errors.is_empty(), "{errors:?}");
    let lines = chat_lines(root);
    let average = lines.iter().map(String::len).sum::<usize>() / lines.len().max(1);
    let mut group = c.benchmark_group("chat");
    group.throughput(Throughput::Bytes(average as u64));
    for (label, sources) in [
        ("default", sources.clone()),
        ("phonetic", wordgate::eval::phonetic::with_steps(&sources, "+pinyin +homophones +split")),
    ] {
        let engine = Engine::build(&sources).expect("the shipped dictionaries compile");
        group.bench_with_input(BenchmarkId::new("shipped", label), &lines, |b, lines| {
            let mut next = 0;
            b.iter(|| {
                next = (next + 1) % lines.len();
                black_box(engine.check_text(black_box(&lines[next])))
            })
        });
    }
    group.finish();
}

/// What the contact detectors cost a clean message: the shipped
/// dictionaries with and without `contact.txt`.
fn detectors(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let (sources, errors) =
        wordgate::dictionary_dir::load(std::path::Path::new(&format!("{root}/dictionaries")));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(sources.iter().any(|s| s.path.ends_with("contact.txt")), "the shipped contact.txt");
    let without: Vec<DictionarySource> =
        sources.iter().filter(|s| !s.path.ends_with("contact.txt")).cloned().collect();
    let synthetic = messages(100, false);
    let chat = chat_lines(root);
    let mut group = c.benchmark_group("detectors");
    for (case, messages) in [("shipped/100B/clean", &synthetic), ("shipped/chat", &chat)] {
        let average = messages.iter().map(String::len).sum::<usize>() / messages.len().max(1);
        group.throughput(Throughput::Bytes(average as u64));
        for (label, sources) in [("off", &without), ("on", &sources)] {
            let engine = Engine::build(sources).expect("the shipped dictionaries compile");
            group.bench_with_input(BenchmarkId::new(case, label), messages, |b, messages| {
                let mut next = 0;
                b.iter(|| {
                    next = (next + 1) % messages.len();
                    black_box(engine.check_text(black_box(&messages[next])))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, automaton, verdict, fold, chat, detectors);
criterion_main!(benches);
