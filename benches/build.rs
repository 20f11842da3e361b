//! Dictionary build time, which is the cost of a reload: parsing the
//! dictionary text and compiling it into the automata and regex set
//! (`Engine::build`), for 1k / 10k / 100k synthetic entries from a fixed
//! seed (half reject, half mask, a few regex rules and an allow list, like
//! the other benches).
//!
//! Group `build`, ids `<entries>` (and `100k/phonetic`: both lists with
//! `@fold +pinyin +homophones +split`); throughput is in entries per second.
//! Reading the files from disk and swapping the snapshot are not included
//! (see `benches/swap.rs` for a reload under load, where it exists).
//!
//! Memory cannot be measured by criterion, so before measuring, each size's
//! engine prints its `EngineStats` to standard error:
//!
//! ```text
//! build/100k: 100000 literals, 3 regexes, 100007 patterns, automaton_bytes 12345678 (11.8 MiB)
//! ```
//!
//! `automaton_bytes` is what the engine knows it holds (automata, regex set,
//! entry tables); the process's resident memory with a 100k dictionary is
//! measured by `scripts/load.sh` (see BENCHMARKS.md).
//!
//! Run: `cargo bench --bench build`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wordgate::synthetic;
use wordgate::{DictionarySource, Engine};

/// The dictionary files of a deployment with `entries` literal entries.
fn sources(entries: usize, fold: &str) -> Vec<DictionarySource> {
    let half = entries / 2;
    vec![
        DictionarySource::new(
            "reject.txt",
            synthetic::dictionary_text(1, half, &format!("@action reject\n@code 120001\n{fold}")),
        ),
        DictionarySource::new("mask.txt", synthetic::dictionary_text(2, entries - half, &format!("@action mask\n{fold}"))),
        DictionarySource::new(
            "rules.txt",
            "@action review\nre:加\\s*[微薇v][信x]?\\s*:?\\s*[a-z0-9_-]{5,}\nre:(?-u:\\b)1[3-9]\\d{9}(?-u:\\b)\nre:https?://\\S+\n",
        ),
        DictionarySource::new("allow.txt", "@action allow\nScunthorpe\n三黄片研究\nassassin\n"),
    ]
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    // A 100k build takes a large fraction of a second; ten samples are
    // plenty to see a change.
    group.sample_size(10);
    // `phonetic`: the two lists with `@fold +pinyin +homophones +split`
    // (the readings of every Chinese entry expanded at build time).
    let cases = [(1_000, ""), (10_000, ""), (100_000, ""), (100_000, "@fold +pinyin +homophones +split\n")];
    for (entries, fold) in cases {
        let sources = sources(entries, fold);
        let label = format!("{}k{}", entries / 1000, if fold.is_empty() { "" } else { "/phonetic" });
        match Engine::build(&sources) {
            Ok(engine) => {
                let stats = engine.stats();
                eprintln!(
                    "build/{label}: {} literals, {} regexes, {} patterns, automaton_bytes {} ({:.1} MiB)",
                    stats.literals,
                    stats.regexes,
                    stats.patterns,
                    stats.automaton_bytes,
                    stats.automaton_bytes as f64 / (1024.0 * 1024.0)
                );
            }
            Err(errors) => panic!("synthetic dictionary does not compile: {errors:?}"),
        }
        group.throughput(Throughput::Elements(entries as u64));
        group.bench_with_input(BenchmarkId::from_parameter(&label), &sources, |b, sources| {
            // The old engine is dropped when the last request lets go of
            // it, not on the reload's clock: keep drops out of the timing.
            b.iter_with_large_drop(|| Engine::build(black_box(sources)))
        });
    }
    group.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
