//! Moderates the `fold` bench's messages `N` times through
//! `Engine::check_text`, for exact instruction counts under callgrind (the
//! 100k-entry build stays outside the count with `--toggle-collect`):
//!
//! ```sh
//! cargo build --release --example fold_cost
//! valgrind --tool=callgrind --toggle-collect='wordgate::engine::Engine::check_text' \
//!   --callgrind-out-file=cg.out target/release/examples/fold_cost default 1024 256
//! grep ^totals: cg.out    # ÷ 256 = instructions per message
//! ```
//!
//! The dictionaries and messages are `benches/engine.rs`'s (`fold` group):
//! the first argument is the `@fold` value of every file, the second the
//! message size. Written against the API older builds have too, so the same
//! file measures both.

use std::hint::black_box;

use wordgate::synthetic::{self, Rng};
use wordgate::{DictionarySource, Engine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fold = args.get(1).map_or("default", String::as_str);
    let bytes: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1024);
    let count: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(256);
    let fold = format!("@fold {fold}\n");
    let entries = 100_000;
    let half = entries / 2;
    let sources = [
        DictionarySource::new(
            "reject.txt",
            synthetic::dictionary_text(1, half, &format!("@action reject\n@code 120001\n{fold}")),
        ),
        DictionarySource::new("mask.txt", synthetic::dictionary_text(2, entries - half, &format!("@action mask\n{fold}"))),
        DictionarySource::new(
            "rules.txt",
            format!("@action review\n{fold}re:加\\s*[微薇v][信x]?\\s*:?\\s*[a-z0-9_-]{{5,}}\nre:(?-u:\\b)1[3-9]\\d{{9}}(?-u:\\b)\nre:https?://\\S+\n"),
        ),
        DictionarySource::new("allow.txt", format!("@action allow\n{fold}Scunthorpe\n三黄片研究\nassassin\n")),
    ];
    let Ok(engine) = Engine::build(&sources) else {
        eprintln!("the synthetic dictionaries do not compile");
        std::process::exit(1);
    };
    let mut rng = Rng::new(7);
    let messages: Vec<String> = (0..256).map(|_| synthetic::message(&mut rng, bytes, None)).collect();
    let mut hits = 0;
    for i in 0..count {
        hits += black_box(engine.check_text(black_box(&messages[i % messages.len()]))).hits.len();
    }
    println!("{hits} hits");
}
