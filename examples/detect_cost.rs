//! Moderates the `detectors` bench's clean messages `N` times through
//! `Engine::check_text` with the shipped dictionaries, with `contact.txt`
//! (`on`) or without it (`off`), for exact instruction counts; a message
//! size of `chat` takes the real lines of the `chat` bench instead, and
//! `chat-clean` those of them without a numeral, a cue's first character,
//! a dot or an `@` (the text the detectors should cost nothing on):
//!
//! ```sh
//! cargo build --release --example detect_cost
//! valgrind --tool=callgrind --toggle-collect='wordgate::engine::Engine::check_text' \
//!   --callgrind-out-file=cg.out target/release/examples/detect_cost on 100 256
//! grep ^totals: cg.out    # ÷ 256 = instructions per message
//! ```

use std::hint::black_box;

use wordgate::synthetic::{self, Rng};
use wordgate::{DictionarySource, Engine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let on = args.get(1).is_some_and(|arg| arg == "on");
    let chat = args.get(2).is_some_and(|arg| arg.starts_with("chat"));
    let clean_only = args.get(2).is_some_and(|arg| arg == "chat-clean");
    let bytes: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let count: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(256);
    let root = env!("CARGO_MANIFEST_DIR");
    let (sources, errors) =
        wordgate::dictionary_dir::load(std::path::Path::new(&format!("{root}/dictionaries")));
    if !errors.is_empty() {
        eprintln!("the shipped dictionaries do not load: {errors:?}");
        std::process::exit(1);
    }
    let sources: Vec<DictionarySource> =
        sources.into_iter().filter(|source| on || !source.path.ends_with("contact.txt")).collect();
    let Ok(engine) = Engine::build(&sources) else {
        eprintln!("the shipped dictionaries do not compile");
        std::process::exit(1);
    };
    let mut rng = Rng::new(7);
    let messages: Vec<String> = if chat {
        let Ok(mut lines) = wordgate::eval::ordinary_lines(std::path::Path::new(root)) else {
            eprintln!("the evaluation's ordinary lines do not load");
            std::process::exit(1);
        };
        if clean_only {
            let marks =
                ['@', '.', '。', '点', '微', '威', '薇', '扣', '企', '加', 'q', 'Q', 'v', 'V', 'w', 'W'];
            lines.retain(|line| {
                !line.chars().any(|c| wordgate::engine::detect::digit_value(c).is_some())
                    && !line.contains(marks)
            });
        }
        lines
    } else {
        (0..256).map(|_| synthetic::message(&mut rng, bytes, None)).collect()
    };
    let mut hits = 0;
    for i in 0..count {
        hits += black_box(engine.check_text(black_box(&messages[i % messages.len()]))).hits.len();
    }
    println!("{hits} hits");
}
