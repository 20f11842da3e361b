//! Carries audit lines ([`crate::audit`]) off the request path: a bounded
//! queue, one dedicated writer thread, and the sinks it writes to (standard
//! output, a size-rotated file, or any [`Sink`] a test injects).
//!
//! A request serialises its record straight into a shared buffer
//! ([`AuditLog::offer_with`]) under a lock held for that alone: when the queue is full (`audit_queue` records) the record
//! is dropped and counted (`/metrics`, `/healthz`), so a slow disk can never
//! delay an answer. The writer thread swaps the buffer out at least every
//! [`WRITER_POLL`], writes its lines through a 64 KiB buffer and flushes,
//! so a quiet server's records reach the file within milliseconds and a
//! busy one's in large writes. (A `tokio::sync::mpsc` channel with a writer
//! parked on `blocking_recv` was the first version: each record's
//! `try_send` then woke the writer, which nearly doubled a request's time;
//! see BENCHMARKS.md.)
//! [`AuditLog::flush`] (called at the end of the shutdown drain) waits until
//! everything queued before it is written and flushed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::warn;

use crate::config::{AuditTarget, Config};
pub use crate::metrics::AuditStats;

/// Where the writer thread puts lines. Each call gets one whole line.
pub trait Sink: Send + 'static {
    /// Writes one line (newline included), possibly into a buffer.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()>;
    /// Pushes buffered lines to their destination.
    fn flush(&mut self) -> io::Result<()>;
}

/// Buffer of the writer thread's sinks: a burst of records becomes one
/// write call per 64 KiB instead of one per record.
const BUFFER_BYTES: usize = 64 * 1024;

/// Any writer as a sink, buffered: standard output, or a test's writer.
pub struct WriterSink<W: Write>(BufWriter<W>);

impl<W: Write> WriterSink<W> {
    /// Buffers `writer`.
    pub fn new(writer: W) -> WriterSink<W> {
        WriterSink(BufWriter::with_capacity(BUFFER_BYTES, writer))
    }
}

impl<W: Write + Send + 'static> Sink for WriterSink<W> {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.0.write_all(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A file that is rotated before a line would take it past `max_bytes`:
/// `audit.jsonl` → `audit.jsonl.1` → … → `audit.jsonl.<keep>`, the oldest
/// deleted. Lines are never split across files and none is lost: the
/// buffer is flushed into the old file before it is renamed.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    out: BufWriter<File>,
    size: u64,
}

impl RotatingFile {
    /// Opens (appends to) `path`; its current size counts toward the limit.
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            keep,
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            size,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        for n in (1..self.keep).rev() {
            match std::fs::rename(self.numbered(n), self.numbered(n + 1)) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.out = BufWriter::with_capacity(BUFFER_BYTES, file);
        self.size = 0;
        Ok(())
    }
}

impl Sink for RotatingFile {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let length = line.len() as u64;
        if self.size > 0 && self.size + length > self.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(line)?;
        self.size += length;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// What the request path hands the writer: whole lines, appended to one
/// buffer, and how many there are.
#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    records: usize,
    /// Callers of [`AuditLog::flush`] waiting for what is queued before them.
    flushes: Vec<oneshot::Sender<()>>,
    /// The [`AuditLog`] is gone: write what is left and end.
    closed: bool,
}

/// The queue between the request path and the writer thread.
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled for flushes and the end only. A record never signals: on
    /// this 2-core machine waking a parked writer for each record (a futex
    /// call on the request path, and a context switch) cost more than the
    /// whole request (BENCHMARKS.md), so the writer looks every
    /// [`WRITER_POLL`] instead.
    wake: Condvar,
    capacity: usize,
    dropped: AtomicU64,
    written: AtomicU64,
    write_errors: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only whole lines behind
        // (appends are one `extend_from_slice`), so the data is still good.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How often the writer thread looks for records when it has none: the
/// longest a record waits before it is written on a quiet server.
pub const WRITER_POLL: Duration = Duration::from_millis(10);

/// Most bytes waiting for the writer, whatever `audit_queue` says: records
/// that carry large messages cannot take much more memory than this (the
/// record that crosses it is still queued).
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// The request path's handle on the audit stream. Dropping it lets the
/// writer thread finish what is queued and end.
pub struct AuditLog {
    shared: Arc<Shared>,
    include_message: bool,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts a writer thread for `sink` behind a queue of `capacity`
    /// records (at least 1).
    pub fn start(sink: Box<dyn Sink>, capacity: usize, include_message: bool) -> io::Result<AuditLog> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("wordgate-audit".into())
            .spawn(move || write_until_closed(sink, &writer))?;
        Ok(AuditLog { shared, include_message })
    }

    /// The audit stream `config` asks for: `None` when `audit = "off"`; an
    /// error (worded for the operator) when the file cannot be opened.
    pub fn open(config: &Config) -> Result<Option<AuditLog>, String> {
        let sink: Box<dyn Sink> = match config.audit {
            AuditTarget::Off => return Ok(None),
            AuditTarget::Stdout => Box::new(WriterSink::new(io::stdout())),
            AuditTarget::File => {
                let path = &config.audit_file;
                let file = RotatingFile::open(path, config.audit_max_bytes, config.audit_keep)
                    .map_err(|err| format!("audit_file: cannot open {}: {err}", path.display()))?;
                Box::new(file)
            }
        };
        AuditLog::start(sink, config.audit_queue, config.audit_include_message)
            .map(Some)
            .map_err(|err| format!("cannot start the audit writer thread: {err}"))
    }

    /// Queues one line (newline included), or drops and counts it when the
    /// queue is full. Never waits for the writer: the lock is held only to
    /// append the bytes, and the writer holds it only to swap buffers.
    pub fn offer(&self, line: &[u8]) {
        self.offer_with(|lines| lines.extend_from_slice(line));
    }

    /// Queues the line `write` appends (one whole line, newline included)
    /// straight into the queue's buffer, saving the copy [`AuditLog::offer`]
    /// makes; or, when the queue is full, drops and counts it without
    /// calling `write`. The lock is held while `write` runs (a record takes
    /// about a quarter of a microsecond), so it must not block.
    pub fn offer_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.shared.lock();
        if pending.records >= self.shared.capacity || pending.lines.len() >= MAX_PENDING_BYTES {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        write(&mut pending.lines);
        pending.records += 1;
    }

    /// Whether records carry `MsgBody` and `CloudCustomData`.
    pub fn include_message(&self) -> bool {
        self.include_message
    }

    /// The current counts.
    pub fn stats(&self) -> AuditStats {
        let queue_depth = self.shared.lock().records as u64;
        AuditStats {
            queue_depth,
            queue_capacity: self.shared.capacity as u64,
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            write_errors: self.shared.write_errors.load(Ordering::Relaxed),
        }
    }

    /// Waits (at most `timeout`) until every line queued before this call
    /// is written and flushed. `false` if the writer did not get there in
    /// time (a stuck disk).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, flushed) = oneshot::channel();
        self.shared.lock().flushes.push(done);
        self.shared.wake.notify_one();
        matches!(tokio::time::timeout(timeout, flushed).await, Ok(Ok(())))
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The writer thread: take everything queued in one swap, write it line by
/// line, flush, answer waiting flushes; until the [`AuditLog`] is dropped.
fn write_until_closed(mut sink: Box<dyn Sink>, shared: &Shared) {
    let mut batch = Vec::new();
    loop {
        let (records, flushes, closed) = {
            let mut pending = shared.lock();
            while pending.records == 0 && pending.flushes.is_empty() && !pending.closed {
                pending = match shared.wake.wait_timeout(pending, WRITER_POLL) {
                    Ok((pending, _)) => pending,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            batch.clear();
            std::mem::swap(&mut batch, &mut pending.lines);
            let records = std::mem::take(&mut pending.records);
            (records, std::mem::take(&mut pending.flushes), pending.closed)
        };
        let mut written = 0;
        for line in batch.split_inclusive(|&byte| byte == b'\n') {
            match sink.write_line(line) {
                Ok(()) => written += 1,
                Err(err) => {
                    let errors = shared.write_errors.fetch_add(1, Ordering::Relaxed) + 1;
                    // A full disk fails every line; log the 1st, 2nd, 4th, 8th…
                    if errors.is_power_of_two() {
                        warn!(cause = %err, errors, "cannot write an audit record; it is lost");
                    }
                }
            }
        }
        if records > 0 || !flushes.is_empty() {
            if let Err(err) = sink.flush() {
                shared.write_errors.fetch_add(1, Ordering::Relaxed);
                warn!(cause = %err, "cannot flush the audit stream");
            }
        }
        shared.written.fetch_add(written, Ordering::Relaxed);
        for done in flushes {
            let _ = done.send(());
        }
        // A large batch (a burst, or big messages) is not kept for good;
        // up to 8 MiB is, so a busy server does not grow a new one each time.
        if batch.capacity() > BUFFER_BYTES * 128 {
            batch = Vec::new();
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_every_line_and_the_newest_files() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("audit.jsonl");
        let Ok(mut file) = RotatingFile::open(&path, 100, 3) else { panic!("open") };
        // 30-byte lines: three per file, so 10 lines make 4 files.
        for n in 0..10u8 {
            let line = format!("{:028}\n", n);
            assert_eq!(line.len(), 29);
            assert!(file.write_line(line.as_bytes()).is_ok());
        }
        assert!(file.flush().is_ok());
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        assert_eq!(read("audit.jsonl").lines().count(), 1);
        assert_eq!(read("audit.jsonl.1").lines().count(), 3);
        assert_eq!(read("audit.jsonl.3").lines().count(), 3);
        let first = |name: &str| read(name).lines().next().and_then(|line| line.parse::<u64>().ok());
        assert_eq!(first("audit.jsonl.3"), Some(0));
        assert_eq!(first("audit.jsonl"), Some(9));
        assert!(!dir.path().join("audit.jsonl.4").exists());
        for name in ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"] {
            assert!(read(name).len() <= 100, "{name}");
        }
    }
}
