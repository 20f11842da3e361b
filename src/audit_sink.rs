//! Carries audit lines ([`crate::audit`]) off the request path: a bounded
//! queue, one dedicated writer thread, and the sinks it writes to (standard
//! output, a size-rotated file, or any [`Sink`] a test injects).
//!
//! A request only serialises its record and calls [`AuditLog::offer`], a
//! non-blocking `try_send`: when the queue is full the record is dropped and
//! counted (`/metrics`, `/healthz`), so a slow disk can never delay an
//! answer. The writer thread takes lines as they come, writes them through
//! a buffer, and flushes whenever the queue runs empty, so a quiet server's
//! records reach the file at once and a busy one's in large writes.
//! [`AuditLog::flush`] (called at the end of the shutdown drain) waits until
//! everything queued before it is written and flushed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::config::{AuditTarget, Config};

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

enum Message {
    Line(Vec<u8>),
    Flush(oneshot::Sender<()>),
}

/// Counts the writer thread keeps.
#[derive(Debug, Default)]
struct WriterCounts {
    written: AtomicU64,
    write_errors: AtomicU64,
}

/// A point-in-time copy of the audit stream's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditStats {
    /// Records waiting in the queue.
    pub queue_depth: u64,
    /// The queue's capacity.
    pub queue_capacity: u64,
    /// Records written to the sink.
    pub written: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records the sink failed to write.
    pub write_errors: u64,
}

/// The request path's handle on the audit stream.
#[derive(Debug)]
pub struct AuditLog {
    sender: mpsc::Sender<Message>,
    include_message: bool,
    dropped: AtomicU64,
    counts: Arc<WriterCounts>,
}

impl AuditLog {
    /// Starts a writer thread for `sink` behind a queue of `capacity`
    /// records (at least 1).
    pub fn start(sink: Box<dyn Sink>, capacity: usize, include_message: bool) -> io::Result<AuditLog> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let counts = Arc::new(WriterCounts::default());
        let thread_counts = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("wordgate-audit".into())
            .spawn(move || write_until_closed(sink, receiver, &thread_counts))?;
        Ok(AuditLog { sender, include_message, dropped: AtomicU64::new(0), counts })
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

    /// Queues one line, or drops and counts it when the queue is full.
    /// Never waits.
    pub fn offer(&self, line: Vec<u8>) {
        if self.sender.try_send(Message::Line(line)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether records carry `MsgBody` and `CloudCustomData`.
    pub fn include_message(&self) -> bool {
        self.include_message
    }

    /// The current counts.
    pub fn stats(&self) -> AuditStats {
        let capacity = self.sender.max_capacity();
        AuditStats {
            queue_depth: capacity.saturating_sub(self.sender.capacity()) as u64,
            queue_capacity: capacity as u64,
            written: self.counts.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            write_errors: self.counts.write_errors.load(Ordering::Relaxed),
        }
    }

    /// Waits (at most `timeout`) until every line queued before this call
    /// is written and flushed. `false` if the writer did not get there in
    /// time (a stuck disk) or is gone.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, flushed) = oneshot::channel();
        let flush = async { self.sender.send(Message::Flush(done)).await.is_ok() && flushed.await.is_ok() };
        tokio::time::timeout(timeout, flush).await.unwrap_or(false)
    }
}

/// The writer thread: until every sender is gone, take a line, write it,
/// and flush once the queue is empty.
fn write_until_closed(mut sink: Box<dyn Sink>, mut receiver: mpsc::Receiver<Message>, counts: &WriterCounts) {
    let handle = |sink: &mut Box<dyn Sink>, message: Message| match message {
        Message::Line(line) => match sink.write_line(&line) {
            Ok(()) => {
                counts.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                let errors = counts.write_errors.fetch_add(1, Ordering::Relaxed) + 1;
                // A full disk fails every line; log the 1st, 2nd, 4th, 8th…
                if errors.is_power_of_two() {
                    warn!(cause = %err, errors, "cannot write an audit record; it is lost");
                }
            }
        },
        Message::Flush(done) => {
            if let Err(err) = sink.flush() {
                warn!(cause = %err, "cannot flush the audit stream");
            }
            let _ = done.send(());
        }
    };
    while let Some(message) = receiver.blocking_recv() {
        handle(&mut sink, message);
        while let Ok(message) = receiver.try_recv() {
            handle(&mut sink, message);
        }
        if let Err(err) = sink.flush() {
            counts.write_errors.fetch_add(1, Ordering::Relaxed);
            warn!(cause = %err, "cannot flush the audit stream");
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
