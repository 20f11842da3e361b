//! Live dictionaries: reloading them while the server answers, without
//! dropping or stalling a request.
//!
//! The dictionaries in force are one [`Snapshot`] in an `ArcSwap` that the
//! server owns and lends to [`run`], with its [`Reloader`]. A request loads
//! it once and never across an `.await`; a reload replaces it whole with
//! one pointer swap, so every answer comes from exactly one set of
//! dictionaries, old or new, never a mix.
//!
//! This module owns the triggers, the reload task and its status; it
//! imports nothing of the server or the webhook (the server calls it).
//!
//! # Triggers
//!
//! - **the directory changes** (`watch = true`): a `notify` watcher on the
//!   dictionary *directory* (not on its files, whose inodes editors and
//!   Kubernetes replace). Any event in it counts, whatever file it names:
//!   editors that save to a temporary file and rename it, files added or
//!   removed, and ConfigMap volumes, whose `x.txt` are symlinks through a
//!   `..data` link that the kubelet swaps by renaming. Only reads (opening
//!   or closing a file without writing) are ignored, because the reload's
//!   own reading of the files would otherwise trigger the next reload.
//!   Changes are *debounced*: the reload starts once the directory has been
//!   quiet for `reload_debounce_ms`, and at the latest
//!   [`max_delay`]`(reload_debounce_ms)` after the first change of a burst,
//!   so a steady stream of writes cannot postpone it forever.
//! - **`SIGHUP`** (the binary, [`Hangup`]): reload now (the server
//!   reloads its TLS certificate on it too).
//! - **`POST /admin/reload`**: reload now and answer with the result; see
//!   [`Reloader::reload_now`].
//!
//! # One at a time
//!
//! A single task ([`run`]) performs every reload, so at most one runs at a
//! time. Triggers that arrive during a reload, or during the debounce, are
//! coalesced into the next one: a burst of fifty writes and three admin
//! calls costs one or two reloads, not fifty-three.
//!
//! # A reload
//!
//! On a blocking thread (`spawn_blocking`, off the request path): read the
//! directory, compute its [`digest`](crate::snapshot::digest); if it equals
//! the live snapshot's, stop there (`unchanged`). Otherwise compile a new
//! snapshot (generation + 1) and swap it in (`reloaded`). If any file has a
//! problem, nothing changes: the previous snapshot stays live and the
//! attempt is `failed`, logged with every `FILE:LINE: reason`, counted, and
//! reported by `/healthz` until a later attempt succeeds or finds the
//! directory back to what is live.
//!
//! # Cost
//!
//! Building takes about as long as `wordgate validate` on the same files
//! (`benches/swap.rs`, November 2026: about 0.5 s for 100k entries on a
//! shared 2-core machine). The new snapshot exists next to the old one until
//! the swap, and the build itself peaks at several times a snapshot's size
//! (14 MiB kept, about 51 MiB at the peak for 100k entries). The old snapshot is freed on a blocking thread once
//! the last request that loaded it is done, never on a request's thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode, ModifyKind, RemoveKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tracing::{debug, error, info, warn};

use crate::config::{Config, Secret};
use crate::engine::EngineStats;
pub use crate::metrics::ReloadCounts;
use crate::snapshot::{Read, Snapshot};

/// How long [`Reloader::reload_now`] waits for its reload before giving up
/// (the reload itself goes on).
pub const RELOAD_WAIT: Duration = Duration::from_secs(60);

/// At most this many problems are kept in a [`Report`] and logged one by
/// one; the rest are counted. A binary file saved as `.txt` can produce
/// thousands.
pub const MAX_REPORTED_ERRORS: usize = 50;

/// How long a retired snapshot waits for the requests still using it before
/// it is freed anyway.
const RETIRE_PATIENCE: Duration = Duration::from_secs(5);

/// The latest a debounced reload starts after the first change of a burst:
/// four debounce periods, and never less than one second.
pub fn max_delay(debounce: Duration) -> Duration {
    (debounce * 4).max(Duration::from_secs(1))
}

/// What asked for a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A change in the dictionary directory.
    Watch,
    /// `SIGHUP`.
    Signal,
    /// `POST /admin/reload`.
    Admin,
}

impl Trigger {
    fn bit(self) -> u8 {
        match self {
            Trigger::Watch => WATCH,
            Trigger::Signal => SIGNAL,
            Trigger::Admin => ADMIN,
        }
    }

    /// The most explicit of the pending triggers.
    fn from_bits(bits: u8) -> Trigger {
        if bits & ADMIN != 0 {
            Trigger::Admin
        } else if bits & SIGNAL != 0 {
            Trigger::Signal
        } else {
            Trigger::Watch
        }
    }
}

const WATCH: u8 = 1;
const SIGNAL: u8 = 2;
const ADMIN: u8 = 4;
/// Triggers that skip the debounce.
const URGENT: u8 = SIGNAL | ADMIN;

/// How a reload attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new snapshot is live.
    Reloaded,
    /// The files are what is already live; nothing was rebuilt.
    Unchanged,
    /// A file has a problem (or could not be read); the previous snapshot
    /// stays live.
    Failed,
}

/// The result of one reload attempt, as `/healthz` and `/admin/reload`
/// show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// How it ended.
    pub result: Outcome,
    /// What asked for it (the most explicit, when triggers were coalesced).
    pub trigger: Trigger,
    /// When it ended, Unix seconds.
    pub at: u64,
    /// Time to read, digest and (unless unchanged) compile the files, in
    /// milliseconds.
    pub build_ms: f64,
    /// The generation live after the attempt (the previous one when it
    /// failed).
    pub generation: u64,
    /// The digest of the live dictionaries after the attempt.
    pub digest: String,
    /// Sizes of the live dictionaries after the attempt.
    #[serde(flatten)]
    pub stats: EngineStats,
    /// When failed: every problem as `FILE:LINE: reason`, in file and line
    /// order, at most [`MAX_REPORTED_ERRORS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// When failed: how many problems there were in all.
    #[serde(skip_serializing_if = "is_zero")]
    pub error_count: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What `/healthz` shows about reloading.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// Whether the directory watcher is running.
    pub watching: bool,
    /// The configured debounce, in milliseconds.
    pub debounce_ms: u64,
    /// Attempts so far, by outcome.
    pub reloads: ReloadCounts,
    /// The latest attempt, if any. After a failure it stays `failed`, with
    /// its errors, until an attempt succeeds or finds the files unchanged.
    pub last: Option<Report>,
}

/// Why [`Reloader::reload_now`] has no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// The server is shutting down; no more reloads.
    Stopped,
    /// The reload did not finish within [`RELOAD_WAIT`].
    TimedOut,
}

/// What the reload task publishes after each attempt.
#[derive(Clone, Debug, Default)]
struct Published {
    /// Every [`Reloader::reload_now`] ticket up to this one was taken
    /// before the files of `last` were read.
    covered: u64,
    last: Option<Report>,
    stopped: bool,
}

/// Pending triggers, shared with the watcher's thread.
#[derive(Debug, Default)]
struct Pending {
    /// `WATCH | SIGNAL | ADMIN` bits not yet taken by the reload task.
    bits: AtomicU8,
    wake: Notify,
    /// Whether the watcher is running.
    watching: AtomicBool,
    /// The watched directory itself was removed or renamed: the watch is
    /// dead and must be set up again.
    lost: AtomicBool,
}

impl Pending {
    fn fire(&self, bits: u8) {
        self.bits.fetch_or(bits, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

#[derive(Debug, Default)]
struct Counts {
    reloaded: AtomicU64,
    unchanged: AtomicU64,
    failed: AtomicU64,
}

/// The reload settings and the channels between the triggers and the
/// reload task. The server keeps one beside the live snapshot.
#[derive(Debug)]
pub struct Reloader {
    dir: PathBuf,
    debounce: Duration,
    watch: bool,
    admin_token: Secret,
    pending: Arc<Pending>,
    tickets: AtomicU64,
    published: watch::Sender<Published>,
    stop: watch::Sender<bool>,
    counts: Counts,
}

impl Reloader {
    /// The reloader `config` describes. Nothing runs until [`run`].
    pub fn new(config: &Config) -> Reloader {
        Reloader {
            dir: config.dictionaries.clone(),
            debounce: config.reload_debounce(),
            watch: config.watch,
            admin_token: config.admin_token.clone(),
            pending: Arc::default(),
            tickets: AtomicU64::new(0),
            published: watch::Sender::new(Published::default()),
            stop: watch::Sender::new(false),
            counts: Counts::default(),
        }
    }

    /// The dictionary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token `POST /admin/reload` requires, if one is configured.
    pub fn admin_token(&self) -> Option<&str> {
        (!self.admin_token.0.is_empty()).then_some(self.admin_token.0.as_str())
    }

    /// Asks for a reload and returns at once (`SIGHUP`). A
    /// [`Trigger::Watch`] is debounced; the others are not.
    pub fn trigger(&self, trigger: Trigger) {
        self.pending.fire(trigger.bit());
    }

    /// Asks for a reload and waits for one that read the files *after* this
    /// call began, then returns its report. Concurrent callers share one
    /// reload.
    pub async fn reload_now(&self, trigger: Trigger) -> Result<Report, WaitError> {
        let mut published = self.published.subscribe();
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        self.pending.fire(trigger.bit());
        let done = published.wait_for(|p| p.stopped || p.covered >= ticket);
        let result = match tokio::time::timeout(RELOAD_WAIT, done).await {
            Err(_) => Err(WaitError::TimedOut),
            Ok(Err(_)) => Err(WaitError::Stopped),
            Ok(Ok(p)) if p.covered >= ticket => p.last.clone().ok_or(WaitError::Stopped),
            Ok(Ok(_)) => Err(WaitError::Stopped),
        };
        result
    }

    /// What `/healthz` shows.
    pub fn status(&self) -> Status {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Status {
            watching: self.pending.watching.load(Ordering::Relaxed),
            debounce_ms: u64::try_from(self.debounce.as_millis()).unwrap_or(u64::MAX),
            reloads: ReloadCounts {
                reloaded: get(&self.counts.reloaded),
                unchanged: get(&self.counts.unchanged),
                failed: get(&self.counts.failed),
            },
            last: self.published.borrow().last.clone(),
        }
    }

    /// Tells the reload task to stop once any reload in progress is done.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// The reload task: watches the directory (when configured), waits for
/// triggers, debounces, and performs reloads one at a time into `snapshot`,
/// until [`Reloader::stop`]. The server spawns it.
pub async fn run(snapshot: &ArcSwap<Snapshot>, reloader: &Reloader) {
    let pending = &reloader.pending;
    let mut watcher = if reloader.watch { start_watcher(&reloader.dir, pending) } else { None };
    let mut stop = reloader.stop.subscribe();
    'serve: loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break 'serve,
            () = pending.wake.notified() => {}
        }
        let mut bits = pending.bits.swap(0, Ordering::SeqCst);
        if bits == 0 {
            continue;
        }
        if bits & URGENT == 0 {
            // Debounce: wait for the directory to be quiet, within bounds.
            let first = tokio::time::Instant::now();
            let latest = first + max_delay(reloader.debounce);
            let mut deadline = (first + reloader.debounce).min(latest);
            loop {
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|stopped| *stopped) => break 'serve,
                    () = tokio::time::sleep_until(deadline) => break,
                    () = pending.wake.notified() => {
                        let more = pending.bits.swap(0, Ordering::SeqCst);
                        bits |= more;
                        if more & URGENT != 0 {
                            break;
                        }
                        if more != 0 {
                            deadline = (tokio::time::Instant::now() + reloader.debounce).min(latest);
                        }
                    }
                }
            }
        }
        if reloader.watch && (watcher.is_none() || pending.lost.load(Ordering::SeqCst)) {
            // The directory was replaced (or the watcher could not start):
            // watch whatever is there now.
            drop(watcher.take());
            watcher = start_watcher(&reloader.dir, pending);
        }
        // Every ticket taken so far was taken before the files are read.
        let covered = reloader.tickets.load(Ordering::SeqCst);
        let (report, retired) = reload(snapshot, reloader, Trigger::from_bits(bits)).await;
        reloader.published.send_modify(|published| {
            published.covered = covered;
            published.last = Some(report);
        });
        if let Some(old) = retired {
            retire(old).await;
        }
    }
    reloader.published.send_modify(|published| published.stopped = true);
    pending.watching.store(false, Ordering::Relaxed);
    drop(watcher);
    debug!("reload task stopped");
}

/// What the blocking part of a reload found.
enum Built {
    Unchanged,
    New(Box<Snapshot>),
    Failed(Vec<String>),
}

/// One reload attempt: returns its report, and the replaced snapshot when
/// there is one.
async fn reload(
    snapshot: &ArcSwap<Snapshot>,
    reloader: &Reloader,
    trigger: Trigger,
) -> (Report, Option<Arc<Snapshot>>) {
    let (live_digest, next_generation) = {
        let live = snapshot.load();
        (live.digest.clone(), live.generation + 1)
    };
    let dir = reloader.dir.clone();
    let started = Instant::now();
    let built = tokio::task::spawn_blocking(move || {
        let read = Read::dir(&dir);
        let digest = read.digest();
        if read.errors.is_empty() && digest == live_digest {
            return Built::Unchanged;
        }
        let built = match read.build(digest, next_generation, SystemTime::now()) {
            Ok(snapshot) => Built::New(Box::new(snapshot)),
            Err(errors) => Built::Failed(errors.iter().map(ToString::to_string).collect()),
        };
        // The build's scratch (several times the engine it leaves) is free
        // now; give it back rather than let the process keep its peak.
        crate::memory::release_freed_memory();
        built
    })
    .await
    .unwrap_or_else(|err| {
        // A panic in the core while compiling: the old snapshot is still
        // good, so this is a failed reload like any other.
        Built::Failed(vec![format!("internal error while compiling the dictionaries: {err}")])
    });
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());

    let (result, errors, retired) = match built {
        Built::Unchanged => {
            reloader.counts.unchanged.fetch_add(1, Ordering::Relaxed);
            (Outcome::Unchanged, Vec::new(), None)
        }
        Built::New(new) => {
            reloader.counts.reloaded.fetch_add(1, Ordering::Relaxed);
            let old = snapshot.swap(Arc::new(*new));
            (Outcome::Reloaded, Vec::new(), Some(old))
        }
        Built::Failed(errors) => {
            reloader.counts.failed.fetch_add(1, Ordering::Relaxed);
            if errors.iter().any(|e| e.contains("cannot read directory")) {
                // Perhaps the directory was replaced: watch it anew next time.
                reloader.pending.lost.store(true, Ordering::SeqCst);
            }
            (Outcome::Failed, errors, None)
        }
    };
    let live = snapshot.load();
    let error_count = errors.len();
    let mut errors = errors;
    errors.truncate(MAX_REPORTED_ERRORS);
    let report = Report {
        result,
        trigger,
        at,
        build_ms: (build_ms * 1000.0).round() / 1000.0,
        generation: live.generation,
        digest: live.digest.clone(),
        stats: live.stats,
        errors,
        error_count,
    };
    drop(live);
    match result {
        Outcome::Reloaded => info!(
            ?trigger,
            generation = report.generation,
            digest = %report.digest,
            categories = report.stats.categories,
            literals = report.stats.literals,
            regexes = report.stats.regexes,
            build_ms = report.build_ms,
            "dictionaries reloaded"
        ),
        Outcome::Unchanged => info!(
            ?trigger,
            generation = report.generation,
            build_ms = report.build_ms,
            "dictionaries unchanged; nothing rebuilt"
        ),
        Outcome::Failed => {
            warn!(
                ?trigger,
                problems = error_count,
                generation = report.generation,
                "dictionary reload failed; generation {} stays live",
                report.generation
            );
            for problem in &report.errors {
                warn!(%problem, "dictionary problem");
            }
            if error_count > report.errors.len() {
                warn!("… and {} more problems", error_count - report.errors.len());
            }
        }
    }
    (report, retired)
}

/// Frees a replaced snapshot off the request path. Requests that loaded it
/// before the swap may still be using it, and whoever lets go of it last
/// frees it: that must not be a request, since freeing a large engine takes
/// milliseconds. So wait (briefly; requests take microseconds) until only
/// this task holds it, then drop it on a blocking thread.
async fn retire(old: Arc<Snapshot>) {
    let patience = tokio::time::Instant::now() + RETIRE_PATIENCE;
    while Arc::strong_count(&old) > 1 && tokio::time::Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let generation = old.generation;
    let freed = move || {
        drop(old);
        crate::memory::release_freed_memory();
    };
    if tokio::task::spawn_blocking(freed).await.is_err() {
        error!(generation, "freeing a replaced snapshot panicked");
    }
}

/// Starts watching `dir`, reporting every change to `pending`. `None`
/// (logged) when the watch cannot be set up: reloading then needs
/// `SIGHUP` or `POST /admin/reload`, and the next of those tries again.
fn start_watcher(dir: &Path, pending: &Arc<Pending>) -> Option<RecommendedWatcher> {
    let sink = Arc::clone(pending);
    let watched = dir.to_path_buf();
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            if is_read_only(&event.kind) {
                return;
            }
            if removes_watched_dir(&event, &watched) {
                sink.lost.store(true, Ordering::SeqCst);
            }
            sink.fire(WATCH);
        }
        Err(err) => {
            // Lost events (queue overflow) and the like: the directory may
            // have changed in ways we did not hear of, so re-read it.
            warn!(cause = %err, "dictionary watcher error");
            sink.fire(WATCH);
        }
    };
    let started = notify::recommended_watcher(handler)
        .and_then(|mut watcher| watcher.watch(dir, RecursiveMode::NonRecursive).map(|()| watcher));
    match started {
        Ok(watcher) => {
            pending.lost.store(false, Ordering::SeqCst);
            pending.watching.store(true, Ordering::Relaxed);
            info!(dir = %dir.display(), "watching the dictionary directory for changes");
            Some(watcher)
        }
        Err(err) => {
            pending.watching.store(false, Ordering::Relaxed);
            error!(
                dir = %dir.display(),
                cause = %err,
                "cannot watch the dictionary directory; reload with SIGHUP or POST /admin/reload"
            );
            None
        }
    }
}

/// Events that only say a file was read: ours, when a reload reads the
/// files. (A close after writing is a change and is not among them.) The
/// TLS certificate watcher uses it too.
pub(crate) fn is_read_only(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Open(_) | AccessKind::Read | AccessKind::Close(AccessMode::Read))
    )
}

fn removes_watched_dir(event: &notify::Event, watched: &Path) -> bool {
    let gone = matches!(
        event.kind,
        EventKind::Remove(RemoveKind::Folder | RemoveKind::Any | RemoveKind::Other)
            | EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::Any))
    );
    gone && event.paths.iter().any(|path| path == watched)
}

/// `SIGHUP`, registered: from then on it no longer ends the process (its
/// default action), and each one is kept until [`Hangup::forward`] turns it
/// into a reload. Register early, before the dictionaries are loaded. (Not
/// on Windows, which has no `SIGHUP`: [`Hangup::register`] fails there.)
#[derive(Debug)]
pub struct Hangup {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangup {
    /// Registers for `SIGHUP`; needs a Tokio runtime context.
    pub fn register() -> std::io::Result<Hangup> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            signal(SignalKind::hangup()).map(|signal| Hangup { signal })
        }
        #[cfg(not(unix))]
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "no SIGHUP on this platform"))
    }

    /// Calls `reload` on each `SIGHUP`, for as long as the process runs.
    /// The binary passes the server's `AppState::hangup`, which triggers a
    /// [`Trigger::Signal`] reload of the dictionaries, and of the TLS
    /// certificate if there is one.
    pub async fn forward(self, reload: impl Fn() + Send + 'static) {
        #[cfg(unix)]
        {
            let mut hangup = self;
            while hangup.signal.recv().await.is_some() {
                info!("SIGHUP received: reloading the dictionaries (and the TLS certificate, if any)");
                reload();
            }
        }
        #[cfg(not(unix))]
        drop((self, reload));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_changes() {
        assert!(is_read_only(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(is_read_only(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(!is_read_only(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(!is_read_only(&EventKind::Modify(ModifyKind::Name(RenameMode::To))));
        assert!(!is_read_only(&EventKind::Any));
        assert!(!is_read_only(&EventKind::Other));
    }

    #[test]
    fn coalesced_triggers_report_the_most_explicit() {
        assert_eq!(Trigger::from_bits(WATCH), Trigger::Watch);
        assert_eq!(Trigger::from_bits(WATCH | SIGNAL), Trigger::Signal);
        assert_eq!(Trigger::from_bits(WATCH | SIGNAL | ADMIN), Trigger::Admin);
    }

    #[test]
    fn debounce_is_bounded() {
        assert_eq!(max_delay(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(max_delay(Duration::from_millis(250)), Duration::from_secs(1));
        assert_eq!(max_delay(Duration::from_secs(2)), Duration::from_secs(8));
    }

    #[test]
    fn report_shows_errors_only_when_failed() {
        let report = Report {
            result: Outcome::Reloaded,
            trigger: Trigger::Admin,
            at: 1,
            build_ms: 1.5,
            generation: 2,
            digest: "sha256:x".into(),
            stats: EngineStats::default(),
            errors: Vec::new(),
            error_count: 0,
        };
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["result"], "reloaded");
        assert_eq!(json["trigger"], "admin");
        assert_eq!(json["literals"], 0);
        assert!(json.get("errors").is_none() && json.get("error_count").is_none());
    }
}
