//! The counters the request path keeps for `GET /metrics`, and the
//! Prometheus text exposition (format 0.0.4) of everything the server
//! counts.
//!
//! Hand-written rather than `prometheus-client`: the set is small and
//! fixed (every label comes from a closed set, [`CommandLabel`] ×
//! [`VerdictLabel`]), so plain atomics indexed by label are all the
//! recording there is (three relaxed adds and a bucket search per
//! callback, no locks, no hashing, no allocation), and the writer below is
//! a page of code the tests parse line by line.
//!
//! A leaf: it also owns the plain counts it renders that are kept
//! elsewhere, [`ReloadCounts`] (filled in by the reload task) and
//! [`AuditStats`] (by the audit stream), so it imports nothing but the
//! audit labels; `reload` and `audit_sink` re-export those under their old
//! paths.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::audit::{CommandLabel, VerdictLabel};

/// Upper bounds of the callback duration histogram, in seconds: 10 µs (a
/// clean message takes a few) to 2 s (Tencent's own timeout).
pub const DURATION_BUCKETS: [f64; 17] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.0,
];

/// [`DURATION_BUCKETS`] in nanoseconds, for the comparison on the request
/// path.
const BUCKET_NANOS: [u64; 17] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
];

const COMMANDS: usize = CommandLabel::ALL.len();
const VERDICTS: usize = VerdictLabel::ALL.len();

/// Per-callback counters: answers by command and verdict, time to answer,
/// body bytes. Recorded once per authorized callback.
#[derive(Debug)]
pub struct CallbackMetrics {
    answers: [[AtomicU64; VERDICTS]; COMMANDS],
    /// Non-cumulative counts per bucket; the last is past 2 s.
    duration_buckets: [AtomicU64; BUCKET_NANOS.len() + 1],
    duration_nanos: AtomicU64,
    body_bytes: AtomicU64,
    /// Connections open now (kept by the accept loop).
    pub open_connections: AtomicI64,
    /// Bodies refused as larger than `max_body_bytes` (413).
    pub too_large: AtomicU64,
}

impl Default for CallbackMetrics {
    fn default() -> CallbackMetrics {
        CallbackMetrics {
            answers: [const { [const { AtomicU64::new(0) }; VERDICTS] }; COMMANDS],
            duration_buckets: [const { AtomicU64::new(0) }; BUCKET_NANOS.len() + 1],
            duration_nanos: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            open_connections: AtomicI64::new(0),
            too_large: AtomicU64::new(0),
        }
    }
}

impl CallbackMetrics {
    /// Counts one answered callback.
    pub fn record(&self, command: CommandLabel, verdict: VerdictLabel, elapsed: Duration, body_bytes: usize) {
        let relaxed = Ordering::Relaxed;
        self.answers[command.index()][verdict.index()].fetch_add(1, relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.iter().position(|&bound| nanos <= bound).unwrap_or(BUCKET_NANOS.len());
        self.duration_buckets[bucket].fetch_add(1, relaxed);
        self.duration_nanos.fetch_add(nanos, relaxed);
        self.body_bytes.fetch_add(body_bytes as u64, relaxed);
    }

    /// Answers so far for `command` with `verdict`.
    pub fn answers(&self, command: CommandLabel, verdict: VerdictLabel) -> u64 {
        self.answers[command.index()][verdict.index()].load(Ordering::Relaxed)
    }

    /// Answers so far over the commands and verdicts `keep` selects.
    pub fn sum(&self, keep: impl Fn(CommandLabel, VerdictLabel) -> bool) -> u64 {
        let mut total = 0;
        for command in CommandLabel::ALL {
            for verdict in VerdictLabel::ALL {
                if keep(command, verdict) {
                    total += self.answers(command, verdict);
                }
            }
        }
        total
    }
}

/// Everything else `/metrics` shows, read when it is asked for.
#[derive(Clone, Debug, Default)]
pub struct Levels {
    /// Fail-policy answers because the budget ran out.
    pub fail_policy_budget: u64,
    /// Fail-policy answers because the core failed.
    pub fail_policy_internal: u64,
    /// Requests refused by authentication (401/403).
    pub unauthorized: u64,
    /// Requests refused as malformed (400).
    pub bad_request: u64,
    /// Reload attempts by result.
    pub reloads: ReloadCounts,
    /// Generation of the live dictionaries.
    pub generation: u64,
    /// Dictionary entries live (literals and regex rules).
    pub entries: u64,
    /// Memory of the compiled automata, in bytes.
    pub memory_bytes: u64,
    /// When the live dictionaries were loaded, in Unix seconds.
    pub loaded_at: u64,
    /// The audit stream, when on.
    pub audit: Option<AuditStats>,
    /// Whether shadow mode is on.
    pub dry_run: bool,
}

/// How many reload attempts ended each way (`/healthz` shows it too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReloadCounts {
    /// New snapshots swapped in.
    pub reloaded: u64,
    /// Attempts that found the live dictionaries unchanged.
    pub unchanged: u64,
    /// Attempts refused because of a problem in the files.
    pub failed: u64,
}

/// A point-in-time copy of the audit stream's counts (`/healthz` shows it
/// too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditStats {
    /// Records waiting for the writer.
    pub queue_depth: u64,
    /// How many records may wait.
    pub queue_capacity: u64,
    /// Records written to the sink.
    pub written: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records the sink failed to write.
    pub write_errors: u64,
}

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole exposition.
pub fn render(callbacks: &CallbackMetrics, levels: &Levels) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let relaxed = Ordering::Relaxed;

    header(&mut out, "wordgate_callbacks_total", "counter", "Callbacks answered, by command and verdict.");
    for command in CommandLabel::ALL {
        for verdict in VerdictLabel::ALL {
            let _ = writeln!(
                out,
                "wordgate_callbacks_total{{command=\"{}\",verdict=\"{}\"}} {}",
                command.as_str(),
                verdict.as_str(),
                callbacks.answers(command, verdict)
            );
        }
    }

    header(
        &mut out,
        "wordgate_callback_duration_seconds",
        "histogram",
        "Time from a callback's headers to its answer.",
    );
    let mut cumulative = 0;
    for (at, bound) in DURATION_BUCKETS.iter().enumerate() {
        cumulative += callbacks.duration_buckets[at].load(relaxed);
        let _ = writeln!(out, "wordgate_callback_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += callbacks.duration_buckets[DURATION_BUCKETS.len()].load(relaxed);
    let _ = writeln!(out, "wordgate_callback_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
    let seconds = callbacks.duration_nanos.load(relaxed) as f64 / 1e9;
    let _ = writeln!(out, "wordgate_callback_duration_seconds_sum {seconds}");
    let _ = writeln!(out, "wordgate_callback_duration_seconds_count {cumulative}");

    counter(
        &mut out,
        "wordgate_callback_body_bytes_total",
        "Bytes of callback bodies read.",
        callbacks.body_bytes.load(relaxed),
    );

    header(
        &mut out,
        "wordgate_fail_policy_answers_total",
        "counter",
        "Answers given by the fail policy, by reason.",
    );
    let _ = writeln!(
        out,
        "wordgate_fail_policy_answers_total{{reason=\"budget\"}} {}",
        levels.fail_policy_budget
    );
    let _ = writeln!(
        out,
        "wordgate_fail_policy_answers_total{{reason=\"internal\"}} {}",
        levels.fail_policy_internal
    );

    header(
        &mut out,
        "wordgate_refused_requests_total",
        "counter",
        "Callbacks refused before moderation, by reason.",
    );
    let refused = [
        ("unauthorized", levels.unauthorized),
        ("bad_request", levels.bad_request),
        ("too_large", callbacks.too_large.load(relaxed)),
    ];
    for (reason, value) in refused {
        let _ = writeln!(out, "wordgate_refused_requests_total{{reason=\"{reason}\"}} {value}");
    }

    header(
        &mut out,
        "wordgate_dictionary_reloads_total",
        "counter",
        "Dictionary reload attempts, by result.",
    );
    let reloads = [
        ("reloaded", levels.reloads.reloaded),
        ("unchanged", levels.reloads.unchanged),
        ("failed", levels.reloads.failed),
    ];
    for (result, value) in reloads {
        let _ = writeln!(out, "wordgate_dictionary_reloads_total{{result=\"{result}\"}} {value}");
    }
    gauge(
        &mut out,
        "wordgate_dictionary_generation",
        "Generation of the live dictionaries.",
        levels.generation,
    );
    gauge(
        &mut out,
        "wordgate_dictionary_entries",
        "Live dictionary entries (literals and regex rules).",
        levels.entries,
    );
    gauge(
        &mut out,
        "wordgate_dictionary_memory_bytes",
        "Memory of the live dictionaries' compiled automata.",
        levels.memory_bytes,
    );
    gauge(
        &mut out,
        "wordgate_dictionary_loaded_timestamp_seconds",
        "When the live dictionaries were loaded (Unix time).",
        levels.loaded_at,
    );
    gauge(
        &mut out,
        "wordgate_dry_run",
        "1 when shadow mode answers allow whatever the verdict.",
        u64::from(levels.dry_run),
    );

    let audit = levels.audit.unwrap_or_default();
    gauge(
        &mut out,
        "wordgate_audit_enabled",
        "1 when the audit stream is on.",
        u64::from(levels.audit.is_some()),
    );
    gauge(&mut out, "wordgate_audit_queue_depth", "Audit records waiting to be written.", audit.queue_depth);
    gauge(&mut out, "wordgate_audit_queue_capacity", "Capacity of the audit queue.", audit.queue_capacity);
    counter(&mut out, "wordgate_audit_records_written_total", "Audit records written.", audit.written);
    counter(
        &mut out,
        "wordgate_audit_records_dropped_total",
        "Audit records dropped because the queue was full.",
        audit.dropped,
    );
    counter(
        &mut out,
        "wordgate_audit_write_errors_total",
        "Audit records the sink failed to write.",
        audit.write_errors,
    );

    header(&mut out, "wordgate_open_connections", "gauge", "Client connections open now.");
    let _ = writeln!(out, "wordgate_open_connections {}", callbacks.open_connections.load(relaxed).max(0));
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_every_answer() {
        let metrics = CallbackMetrics::default();
        let oa = CommandLabel::OfficialAccountBeforeSend;
        metrics.record(oa, VerdictLabel::Allow, Duration::from_micros(4), 300);
        metrics.record(oa, VerdictLabel::Reject, Duration::from_micros(30), 300);
        metrics.record(CommandLabel::Other, VerdictLabel::Acknowledged, Duration::from_secs(3), 10);
        let text = render(&metrics, &Levels::default());
        let value = |sample: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse::<f64>().ok())
                .unwrap_or(-1.0)
        };
        assert_eq!(value("wordgate_callback_duration_seconds_bucket{le=\"0.00001\"}"), 1.0);
        assert_eq!(value("wordgate_callback_duration_seconds_bucket{le=\"0.00005\"}"), 2.0);
        assert_eq!(value("wordgate_callback_duration_seconds_bucket{le=\"2\"}"), 2.0);
        assert_eq!(value("wordgate_callback_duration_seconds_bucket{le=\"+Inf\"}"), 3.0);
        assert_eq!(value("wordgate_callback_duration_seconds_count"), 3.0);
        assert_eq!(value("wordgate_callback_body_bytes_total"), 610.0);
        let rejected =
            "wordgate_callbacks_total{command=\"OfficialAccount.CallbackBeforeSendMsg\",verdict=\"reject\"}";
        assert_eq!(value(rejected), 1.0);
        // Every sample line has a HELP and TYPE before it.
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|_| name.contains("duration")))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }
}
