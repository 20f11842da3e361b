//! Writes a synthetic dictionary file for `scripts/load.sh`: `ENTRIES`
//! words from [`wordgate::synthetic::words`] (60% English, 40% Chinese,
//! fixed seed, so every run serves the same list), under `@action reject`
//! and `@code 120001`.
//!
//! ```sh
//! cargo run --release --example synthetic_dictionary -- /tmp/dict/synthetic.txt 100000
//! ```
//!
//! The default seed is 2: the seed-1 list happens to contain `red`, which
//! would reject Tencent's documented samples (`red packet`) and turn the
//! common, clean case into a reject.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [path, entries] => entries.parse().ok().map(|entries| (path, entries, 2)),
        [path, entries, seed] => {
            entries.parse().ok().zip(seed.parse().ok()).map(|(entries, seed)| (path, entries, seed))
        }
        _ => None,
    };
    let Some((path, entries, seed)) = parsed else {
        eprintln!("usage: synthetic_dictionary FILE ENTRIES [SEED]");
        return ExitCode::from(2);
    };
    let header = format!(
        "# {entries} synthetic entries (wordgate::synthetic, seed {seed}), written by\n\
         # `cargo run --release --example synthetic_dictionary` for scripts/load.sh.\n\
         @action reject\n@code 120001\n@info 消息包含违规内容\n"
    );
    match std::fs::write(path, wordgate::synthetic::dictionary_text(seed, entries, &header)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("synthetic_dictionary: cannot write {path}: {err}");
            ExitCode::FAILURE
        }
    }
}
