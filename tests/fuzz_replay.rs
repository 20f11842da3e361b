//! The fuzz targets' inputs as ordinary tests, on stable.
//!
//! Every committed seed (`fuzz/seeds/<target>/`) and every minimised crash
//! (`fuzz/regressions/<target>/`) goes through the harness its cargo-fuzz
//! target calls (`wordgate::fuzzing`), so a fixed crash stays fixed whether
//! or not cargo-fuzz is installed. A short, deterministic mutation run from
//! the seeds follows, so the harnesses see more than their seeds in every
//! `cargo test`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use wordgate::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none when it is absent.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(listing) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<(String, Vec<u8>)> = listing
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .map(|entry| {
            let path = entry.path();
            let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (format!("fuzz/{kind}/{target}/{}", entry.file_name().to_string_lossy()), bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs `harness` on `data`, naming `what` if it panics.
fn run(harness: fn(&[u8]) -> bool, what: &str, data: &[u8]) -> bool {
    match catch_unwind(AssertUnwindSafe(|| harness(data))) {
        Ok(kept) => kept,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{what} fails: {message}");
        }
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> =
        listing.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into()).collect();
    names.sort();
    names
}

#[test]
fn every_target_has_a_one_line_fuzz_target_and_seeds() {
    let targets: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    for name in &targets {
        let path = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let source = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert!(
            source.contains(&format!("use wordgate::fuzzing::{name} as harness;")),
            "{} calls another harness",
            path.display()
        );
        let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap_or_default();
        assert!(manifest.contains(&format!("name = \"{name}\"")), "fuzz/Cargo.toml has no [[bin]] {name}");
        assert!(!inputs("seeds", name).is_empty(), "fuzz/seeds/{name}/ is empty");
    }
    // Nothing stray: every target file, seed folder and regression folder
    // belongs to a harness (and so to CI's fuzz step and to this replay).
    for file in names_in(&fuzz_dir().join("fuzz_targets")) {
        assert!(
            targets.iter().any(|name| file == format!("{name}.rs")),
            "fuzz/fuzz_targets/{file} is no target"
        );
    }
    for kind in ["seeds", "regressions"] {
        for dir in names_in(&fuzz_dir().join(kind)) {
            assert!(targets.contains(&dir.as_str()), "fuzz/{kind}/{dir} names no target");
        }
    }
}

#[test]
fn seeds_replay() {
    for (name, harness) in TARGETS {
        for (path, data) in inputs("seeds", name) {
            assert!(run(*harness, &path, &data), "{path} is over the harness's size cap");
        }
    }
}

#[test]
fn regressions_replay() {
    for (name, harness) in TARGETS {
        for (path, data) in inputs("regressions", name) {
            run(*harness, &path, &data);
        }
    }
}

/// xorshift64*: deterministic, so a failure here is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A libFuzzer-style mutation: flip, insert, delete, duplicate or splice.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: &[u8] = b"\0\n\\\"{}[]:,#@\xff\xc3";
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let at = at.min(data.len() - 1);
                data[at] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 => data.insert(at, rng.next() as u8),
            3 => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(32)).min(data.len());
                let chunk = data[at..end].to_vec();
                data.splice(at..at, chunk);
            }
            _ => {
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
        }
    }
}

#[test]
fn mutated_seeds() {
    for (index, (name, harness)) in TARGETS.iter().enumerate() {
        let seeds = inputs("seeds", name);
        // Compiling regexes dominates the dictionary harness in a debug build.
        let rounds = if *name == "dictionary" { 60 } else { 300 };
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ index as u64);
        for round in 0..rounds {
            let (path, seed) = &seeds[rng.below(seeds.len())];
            let (_, other) = &seeds[rng.below(seeds.len())];
            let mut data = seed.clone();
            mutate(&mut rng, &mut data, other);
            run(*harness, &format!("round {round}: {path} mutated to {data:?}"), &data);
        }
    }
}
