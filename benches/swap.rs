//! The cost of live reloads (`src/reload.rs`).
//!
//! - `reload_build/100k`: compiling a 100k-entry dictionary (60% English,
//!   40% Chinese, from fixed seeds, plus regex rules and an allow list) into
//!   a snapshot: parsing, folding, the automata, the regex set, the digest.
//!   Goal: at most 0.5 s.
//! - `reload_from_disk/100k`: what one reload costs end to end: reading the
//!   same files from a directory, the digest, and the build.
//! - `swap_verdict/uncontended` vs `swap_verdict/contended`: one verdict as
//!   the request path takes it (one `load()` of the `ArcSwap`, then the
//!   engine on a chat message), alone, and while another thread swaps two
//!   snapshots in and out as fast as it can. Goal: contended within 10% of
//!   uncontended. Real reloads are seconds apart, so this is the worst case.
//!
//! Before the timings the bench prints the memory a 100k snapshot keeps and
//! the peak while building one (a counting allocator, switched on only for
//! that measurement); after them, the two verdict medians and their ratio.
//!
//! `cargo bench --bench swap`. Timings compare only on the same machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use wordgate::snapshot::{Read, Snapshot};
use wordgate::synthetic::{self, Rng};
use wordgate::DictionarySource;

/// The system allocator, counting live bytes and their peak while
/// `COUNTING` is on (off, it costs one relaxed load per call).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && COUNTING.load(Ordering::Relaxed) {
            let delta = new_size as isize - layout.size() as isize;
            let live = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ENTRIES: usize = 100_000;

/// A realistic 100k deployment: half reject, half mask, a few regex rules
/// and an allow list.
fn sources() -> Vec<DictionarySource> {
    let half = ENTRIES / 2;
    vec![
        DictionarySource::new("allow.txt", "@action allow\nScunthorpe\n三黄片研究\nassassin\n"),
        DictionarySource::new("mask.txt", synthetic::dictionary_text(2, ENTRIES - half, "@action mask\n")),
        DictionarySource::new(
            "reject.txt",
            synthetic::dictionary_text(1, half, "@action reject\n@code 120001\n"),
        ),
        DictionarySource::new(
            "rules.txt",
            "@action review\nre:加\\s*[微薇v][信x]?\\s*:?\\s*[a-z0-9_-]{5,}\nre:(?-u:\\b)1[3-9]\\d{9}(?-u:\\b)\nre:https?://\\S+\n",
        ),
    ]
}

fn build(sources: &[DictionarySource], generation: u64) -> Snapshot {
    match Snapshot::build(sources, generation, SystemTime::now()) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("the synthetic dictionary does not compile: {errors:?}"),
    }
}

fn mib(bytes: isize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Prints what a snapshot keeps and what building one peaks at.
fn memory(sources: &[DictionarySource]) {
    let text: usize = sources.iter().map(|s| s.text.len()).sum();
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let snapshot = build(sources, 1);
    let kept = LIVE.load(Ordering::SeqCst);
    let peak = PEAK.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    println!(
        "memory: 100k-entry snapshot keeps {:.1} MiB (automata {:.1} MiB, {} patterns); building it peaks at \
         {:.1} MiB above the {:.1} MiB of source text. During a reload the live snapshot stays in memory \
         meanwhile: about {:.1} MiB in all at the peak.",
        mib(kept),
        mib(snapshot.stats.automaton_bytes as isize),
        snapshot.stats.patterns,
        mib(peak),
        mib(text as isize),
        mib(kept + peak + text as isize),
    );
}

fn write_dir(sources: &[DictionarySource]) -> tempfile::TempDir {
    let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
    for source in sources {
        if let Err(err) = std::fs::write(dir.path().join(&source.path), &source.text) {
            panic!("write {}: {err}", source.path);
        }
    }
    dir
}

fn reload_from_disk(dir: &Path) -> Snapshot {
    let read = Read::dir(dir);
    let digest = read.digest();
    match read.build(digest, 2, SystemTime::now()) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("{errors:?}"),
    }
}

fn build_time(c: &mut Criterion) {
    let sources = sources();
    memory(&sources);
    let dir = write_dir(&sources);

    let entries = sources.iter().map(|source| source.text.lines().count() as u64).sum();
    let mut group = c.benchmark_group("reload_build");
    group.throughput(Throughput::Elements(entries));
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    group.bench_function(BenchmarkId::from_parameter("100k"), |b| b.iter(|| build(black_box(&sources), 2)));
    group.finish();

    let mut group = c.benchmark_group("reload_from_disk");
    group.throughput(Throughput::Elements(entries));
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    group.bench_function(BenchmarkId::from_parameter("100k"), |b| b.iter(|| reload_from_disk(dir.path())));
    group.finish();
}

/// Chat messages of about 200 bytes, a few with hits, as the engine bench
/// makes them.
fn messages() -> Vec<String> {
    let mut rng = Rng::new(7);
    let words = synthetic::words(1, 1000);
    (0..256).map(|n| synthetic::message(&mut rng, 200, (n % 8 == 0).then_some(words.as_slice()))).collect()
}

/// What the background thread does while `contended` cases run.
#[derive(Clone, Copy, Debug)]
enum Background {
    /// Stores the two snapshots by turns, as fast as it can.
    Swap,
    /// Stores the same snapshot again and again (the swap without the
    /// alternation between two engines' memory).
    SwapSame,
    /// Stores the two snapshots by turns, sleeping a millisecond between
    /// stores: a thousand swaps a second, some 400 times more often than
    /// reloads can come (each takes a build), without taking a core.
    SwapPaced,
    /// Spins on its own counter: takes the other core, touches nothing shared.
    Spin,
    /// Control, no writer at all: the *reader* alternates between the two
    /// engines (still loading the `ArcSwap` once per verdict), to show what
    /// working on two engines' memory costs by itself.
    AlternateEngines,
}

/// A background thread, running until [`Neighbour::finish`].
struct Neighbour {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Neighbour {
    fn start(
        kind: Background,
        swap: &Arc<ArcSwap<Snapshot>>,
        a: &Arc<Snapshot>,
        b: &Arc<Snapshot>,
    ) -> Neighbour {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let (swap, a, b) = (Arc::clone(swap), Arc::clone(a), Arc::clone(b));
        let (flag, total) = (Arc::clone(&stop), Arc::clone(&count));
        let thread = thread::spawn(move || {
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) {
                match kind {
                    Background::Swap => swap.store(Arc::clone(if n % 2 == 0 { &b } else { &a })),
                    Background::SwapSame => swap.store(Arc::clone(&a)),
                    Background::SwapPaced => {
                        swap.store(Arc::clone(if n % 2 == 0 { &b } else { &a }));
                        thread::sleep(Duration::from_millis(1));
                    }
                    Background::Spin => {
                        black_box(n);
                    }
                    Background::AlternateEngines => thread::park(),
                }
                n += 1;
            }
            total.store(n, Ordering::Relaxed);
        });
        Neighbour { stop, count, thread: Some(thread) }
    }

    /// Stops the thread; how many rounds it made.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.count.load(Ordering::Relaxed)
    }
}

fn verdict(c: &mut Criterion) {
    let sources = sources();
    // Two snapshots of the same dictionaries, built separately: the verdict
    // is the same whichever is loaded, the memory is not shared.
    let a = Arc::new(build(&sources, 1));
    let b = Arc::new(build(&sources, 2));
    let swap = Arc::new(ArcSwap::new(Arc::clone(&a)));
    let messages = messages();

    // Exactly the request path: one load, the verdict, the guard dropped.
    let verdict = |swap: &ArcSwap<Snapshot>, text: &str| {
        let snapshot = swap.load();
        snapshot.engine.check_text(text)
    };

    let mut group = c.benchmark_group("swap_verdict");
    // One message (of `messages`, in turn) per iteration.
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("uncontended", None),
        ("contended", Some(Background::Swap)),
        ("contended_paced", Some(Background::SwapPaced)),
    ];
    for (name, background) in cases {
        swap.store(Arc::clone(&a));
        let neighbour = background.map(|kind| Neighbour::start(kind, &swap, &a, &b));
        let started = std::time::Instant::now();
        group.bench_function(name, |bencher| {
            let mut next = 0;
            bencher.iter(|| {
                next = (next + 1) % messages.len();
                black_box(verdict(&swap, black_box(&messages[next])))
            })
        });
        if let (Some(neighbour), Some(kind)) = (neighbour, background) {
            let rounds = neighbour.finish() as f64 / started.elapsed().as_secs_f64();
            println!("{name}: background {kind:?} at {rounds:.0} rounds per second");
        }
    }
    group.finish();
}

/// Verdict latency in every [`Background`] mode and with none, measured in
/// interleaved windows of a few milliseconds, so that load from other
/// processes (which on a shared 2-core machine moves criterion's separate
/// runs by tens of percent) falls on every mode alike. Each verdict is
/// timed on its own; prints the median and 99th percentile per mode.
fn paired() {
    const ROUNDS: usize = 150;
    const WINDOW: usize = 1000;
    const SETTLE: usize = 50;
    let sources = sources();
    let a = Arc::new(build(&sources, 1));
    let b = Arc::new(build(&sources, 2));
    let swap = Arc::new(ArcSwap::new(Arc::clone(&a)));
    let messages = messages();

    // 0: idle (parked); 1 + Background as below.
    let modes = [
        None,
        Some(Background::Swap),
        Some(Background::SwapPaced),
        Some(Background::SwapSame),
        Some(Background::Spin),
        Some(Background::AlternateEngines),
    ];
    let mode = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (mode, stop, swap, a, b) =
            (Arc::clone(&mode), Arc::clone(&stop), Arc::clone(&swap), Arc::clone(&a), Arc::clone(&b));
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match modes[mode.load(Ordering::Relaxed) % modes.len()] {
                    None | Some(Background::AlternateEngines) => thread::park(),
                    Some(Background::Swap) => swap.store(Arc::clone(if n % 2 == 0 { &b } else { &a })),
                    Some(Background::SwapSame) => swap.store(Arc::clone(&a)),
                    Some(Background::SwapPaced) => {
                        swap.store(Arc::clone(if n % 2 == 0 { &b } else { &a }));
                        thread::sleep(Duration::from_millis(1));
                    }
                    Some(Background::Spin) => {
                        black_box(n);
                    }
                }
                n += 1;
            }
        })
    };

    let mut latencies: Vec<Vec<u32>> = vec![Vec::with_capacity(ROUNDS * WINDOW); modes.len()];
    let mut next = 0;
    for _ in 0..ROUNDS {
        for (m, samples) in latencies.iter_mut().enumerate() {
            mode.store(m, Ordering::Relaxed);
            background.thread().unpark();
            for i in 0..SETTLE + WINDOW {
                next = (next + 1) % messages.len();
                let started = std::time::Instant::now();
                {
                    let snapshot = swap.load();
                    let engine = match modes[m] {
                        Some(Background::AlternateEngines) if next % 2 == 1 => &b.engine,
                        _ => &snapshot.engine,
                    };
                    black_box(engine.check_text(black_box(&messages[next])));
                }
                let took = started.elapsed().as_nanos();
                if i >= SETTLE {
                    samples.push(u32::try_from(took).unwrap_or(u32::MAX));
                }
            }
            swap.store(Arc::clone(&a));
        }
    }
    stop.store(true, Ordering::Relaxed);
    mode.store(0, Ordering::Relaxed);
    background.thread().unpark();
    let _ = background.join();

    let mut rows = Vec::new();
    for (m, samples) in latencies.iter_mut().enumerate() {
        samples.sort_unstable();
        let at = |q: f64| samples.get(((samples.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0);
        rows.push((m, at(0.5), at(0.99)));
    }
    let base = rows.first().map_or(1, |r| r.1.max(1)) as f64;
    println!("paired verdict latency ({ROUNDS} rounds of {WINDOW} verdicts per mode, interleaved):");
    for (m, median, p99) in rows {
        let name = match modes[m] {
            None => "uncontended",
            Some(Background::Swap) => "contended (swapping as fast as it can)",
            Some(Background::SwapPaced) => "contended_paced (1000 swaps/s)",
            Some(Background::SwapSame) => "contended_same (re-storing one snapshot)",
            Some(Background::Spin) => "neighbour_spinning (control: a busy core, nothing shared)",
            Some(Background::AlternateEngines) => "alternate_engines (control: two engines, no writer)",
        };
        println!(
            "  {name:<58} median {median:>6} ns  p99 {p99:>7} ns  median ratio {:.3}",
            median as f64 / base
        );
    }
}

/// The medians criterion saved for the two verdict benches, and their ratio
/// (nothing when run as a test: `cargo test --benches` saves none).
fn report_ratio() {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let median = |id: &str| -> Option<f64> {
        let path = target.join("criterion/swap_verdict").join(id).join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
        estimates["median"]["point_estimate"].as_f64()
    };
    let Some(alone) = median("uncontended") else { return };
    println!("verdict median: uncontended {alone:.0} ns");
    for id in ["contended", "contended_paced"] {
        if let Some(time) = median(id) {
            println!("verdict median: {id} {time:.0} ns, ratio to uncontended {:.3}", time / alone);
        }
    }
}

criterion_group!(benches, build_time, verdict);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().any(|arg| arg == "--bench") {
        report_ratio();
        paired();
    }
}
