//! The whole webhook request path without a socket: query string and body
//! bytes in, status and response bytes out. That is query parsing, the
//! `SdkAppid` (and, in `signed`, `Sign`) check, the one scan of the body
//! that checks it and hands its texts to the engine (100k dictionary
//! entries), and the answer (spliced from the request for a mask):
//! everything `wordgate serve` does per callback except HTTP framing.
//!
//! Group `request`, one case per before-send callback, each on the
//! protocol's documented sample (`tests/data/samples/*-before-send.request.json`),
//! with no token configured; all three samples are clean (allow):
//! - `oa_sample`: `OfficialAccount.CallbackBeforeSendMsg` (329 B);
//! - `c2c_sample`: `C2C.CallbackBeforeSendMsg` (405 B);
//! - `group_sample`: `Group.CallbackBeforeSendMsg` (469 B);
//!
//! and variations of the official-account sample:
//! - `oa_sample_signed`: with a token, so `sha256(token + RequestTime)` is
//!   computed and compared too;
//! - `oa_sample_masked`: one word to mask, so the answer carries the
//!   rewritten `MsgBody`;
//! - `oa_sample_rejected`: one word of the 100k reject list;
//! - `oa_after_send`: `OfficialAccount.CallbackAfterSendMsg`, acknowledged
//!   without moderation: the cost of the parse and answer alone.
//!
//! Group `audit`, the official-account sample with the audit stream:
//! - `off`: no audit (the same work as `request/oa_sample`);
//! - `file`: every call serialises its record and queues it for the writer
//!   thread, which appends it to a rotated file in a temporary directory.
//!   The writer runs on another core meanwhile, as in the server; after the
//!   run the bench prints how many records were written and dropped (a
//!   dropped record would make the figure look cheaper than it is).
//!
//! Requests/s with the audit on, relative to off, is the ratio of the two
//! medians (BENCHMARKS.md).
//!
//! Group `scopes`, the group sample against five categories
//! ([`synthetic::scope_bench_sources`]) without and with a `@scope` on
//! each, interleaved in one run: `clean` is the sample as it is, `hits` the
//! sample with a word of the mask list and one of the review list, so
//! every hit is checked against its category's scope.
//!
//! Group `console`, the group sample with a hit (`hits` above, unscoped)
//! while the console is `closed` and while it is `open`: a thread on the
//! other core does what the console's panels ask of the server — the last
//! hour's per-minute counts, the category summaries, a try of a message —
//! every millisecond (the page asks every 2 s), reading the same counters
//! the requests write.
//!
//! Run: `cargo bench --bench request`. Timings are only comparable on the
//! same machine (`-- --save-baseline main`, then `-- --baseline main`).

use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use wordgate::audit_sink::AuditLog;
use wordgate::auth::{self, Auth};
use wordgate::config::{AuditTarget, Config};
use wordgate::synthetic;
use wordgate::webhook::{FailPolicy, Webhook};
use wordgate::{DictionarySource, Engine};

const OA: &[u8] = include_bytes!("../tests/data/samples/oa-before-send.request.json");
const C2C: &[u8] = include_bytes!("../tests/data/samples/c2c-before-send.request.json");
const GROUP: &[u8] = include_bytes!("../tests/data/samples/group-before-send.request.json");
const OA_AFTER: &[u8] = include_bytes!("../tests/data/samples/oa-after-send.request.json");
const APP: u64 = 1400000001;
const TOKEN: &str = "xxxxyyyy";
const REQUEST_TIME: u64 = 1669872112;

fn query(command: &str) -> String {
    format!(
        "SdkAppid={APP}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI"
    )
}

fn engine() -> Engine {
    // Seed 2: with seed 1 the random list happens to contain `red`, and the
    // clean-message case (nearly all traffic) would not be measured.
    let sources = [
        DictionarySource::new("blocked.txt", synthetic::dictionary_text(2, 100_000, "@action reject\n")),
        DictionarySource::new("rude.txt", "@action mask\ndamn\n"),
    ];
    match Engine::build(&sources) {
        Ok(engine) => engine,
        Err(errors) => panic!("synthetic dictionary: {errors:?}"),
    }
}

fn webhook(token: Option<&str>) -> Webhook {
    let auth = Auth::new(vec![APP], token.map(str::to_string), Duration::from_secs(60));
    Webhook::new(auth, FailPolicy::Allow, Duration::from_millis(500))
}

fn request(c: &mut Criterion) {
    let engine = engine();
    assert!(engine.stats().literals >= 100_000);
    let now = UNIX_EPOCH + Duration::from_secs(REQUEST_TIME);
    let plain = webhook(None);
    let signed = webhook(Some(TOKEN));
    let oa_query = query("OfficialAccount.CallbackBeforeSendMsg");
    let signed_query = format!(
        "{oa_query}&Sign={}&RequestTime={REQUEST_TIME}",
        auth::sign(TOKEN, &REQUEST_TIME.to_string())
    );
    // The documented samples ("red packet") are clean; these copies hit
    // the mask list and the reject list.
    let with_text = |text: &str| String::from_utf8_lossy(OA).replace("red packet", text).into_bytes();
    let to_mask = with_text("damn red packet");
    let rejected_word = synthetic::words(2, 1).pop().unwrap_or_default();
    let to_reject = with_text(&format!("{rejected_word} red packet"));

    let allow: &[u8] = br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;
    let check = |webhook: &Webhook, query: &str, body: &[u8]| {
        webhook.handle(&engine, Some(query), body, now, Instant::now())
    };
    let cases: [(&str, &Webhook, String, &[u8]); 7] = [
        ("oa_sample", &plain, oa_query.clone(), OA),
        ("c2c_sample", &plain, query("C2C.CallbackBeforeSendMsg"), C2C),
        ("group_sample", &plain, query("Group.CallbackBeforeSendMsg"), GROUP),
        ("oa_sample_signed", &signed, signed_query, OA),
        ("oa_sample_masked", &plain, oa_query.clone(), &to_mask),
        ("oa_sample_rejected", &plain, oa_query, &to_reject),
        ("oa_after_send", &plain, query("OfficialAccount.CallbackAfterSendMsg"), OA_AFTER),
    ];
    for (name, webhook, query, body) in &cases {
        let reply = check(webhook, query, body);
        let text = String::from_utf8_lossy(&reply.body);
        match *name {
            "oa_sample_masked" => assert!(text.contains("**** red packet"), "{name}: {text}"),
            "oa_sample_rejected" => assert!(text.contains("\"ErrorCode\":1,"), "{name}: {text}"),
            _ => assert_eq!(reply.body, allow, "{name}: {text}"),
        }
    }

    let mut group = c.benchmark_group("request");
    for (name, webhook, query, body) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| webhook.handle(&engine, Some(black_box(query)), black_box(body), now, Instant::now()))
        });
    }
    group.finish();
}

fn audit(c: &mut Criterion) {
    let engine = engine();
    let now = UNIX_EPOCH + Duration::from_secs(REQUEST_TIME);
    let query = query("OfficialAccount.CallbackBeforeSendMsg");
    let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
    let config = Config {
        audit: AuditTarget::File,
        audit_file: dir.path().join("audit.jsonl"),
        // A few hundred MB at most over a run.
        audit_max_bytes: 64 * 1024 * 1024,
        audit_keep: 2,
        // The loop offers a record every few µs, far above any real rate;
        // a deeper queue rides out the writer being descheduled on this
        // shared machine, so records are written rather than dropped.
        audit_queue: 1 << 20,
        ..Config::default()
    };
    let audit = match AuditLog::open(&config) {
        Ok(audit) => audit,
        Err(err) => panic!("audit: {err}"),
    };
    let off = webhook(None);
    let file = webhook(None).with_audit(audit);
    let mut group = c.benchmark_group("audit");
    group.throughput(Throughput::Bytes(OA.len() as u64));
    for (name, webhook) in [("off", &off), ("file", &file)] {
        group.bench_function(name, |b| {
            b.iter(|| webhook.handle(&engine, Some(black_box(&query)), black_box(OA), now, Instant::now()))
        });
    }
    group.finish();
    if let Some(stats) = file.audit().map(AuditLog::stats) {
        eprintln!("audit/file: {} records written, {} dropped (queue full)", stats.written, stats.dropped);
    }
}

fn scopes(c: &mut Criterion) {
    let build = |scoped| match Engine::build(&synthetic::scope_bench_sources(scoped)) {
        Ok(engine) => engine,
        Err(errors) => panic!("scope bench dictionaries: {errors:?}"),
    };
    let (unscoped, scoped) = (build(false), build(true));
    assert!(scoped.is_scoped() && !unscoped.is_scoped());
    let now = UNIX_EPOCH + Duration::from_secs(REQUEST_TIME);
    let webhook = webhook(None);
    let query = query("Group.CallbackBeforeSendMsg");
    let hits = String::from_utf8_lossy(GROUP).replace("red packet", "damn 代购 red packet").into_bytes();
    for engine in [&unscoped, &scoped] {
        let reply = webhook.handle(engine, Some(&query), &hits, now, Instant::now());
        let text = String::from_utf8_lossy(&reply.body);
        assert!(text.contains("**** 代购 red packet"), "{text}");
    }
    let mut group = c.benchmark_group("scopes");
    for (case, body) in [("clean", GROUP), ("hits", &hits[..])] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        for (name, engine) in [("unscoped", &unscoped), ("scoped", &scoped)] {
            group.bench_function(format!("{case}/{name}"), |b| {
                b.iter(|| {
                    webhook.handle(engine, Some(black_box(&query)), black_box(body), now, Instant::now())
                })
            });
        }
    }
    group.finish();
}

fn console(c: &mut Criterion) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let engine = match Engine::build(&synthetic::scope_bench_sources(false)) {
        Ok(engine) => Arc::new(engine),
        Err(errors) => panic!("scope bench dictionaries: {errors:?}"),
    };
    let now = UNIX_EPOCH + Duration::from_secs(REQUEST_TIME);
    let webhook = Arc::new(webhook(None));
    let query = query("Group.CallbackBeforeSendMsg");
    let hits = String::from_utf8_lossy(GROUP).replace("red packet", "damn 代购 red packet").into_bytes();
    let mut group = c.benchmark_group("console");
    group.throughput(Throughput::Bytes(hits.len() as u64));
    group.bench_function("closed", |b| {
        b.iter(|| webhook.handle(&engine, Some(black_box(&query)), black_box(&hits), now, Instant::now()))
    });
    let polling = Arc::new(AtomicBool::new(true));
    let (started, first_poll) = std::sync::mpsc::channel();
    let poller = {
        let (engine, webhook, polling) = (Arc::clone(&engine), Arc::clone(&webhook), Arc::clone(&polling));
        std::thread::spawn(move || {
            let mut polls = 0u64;
            loop {
                black_box(webhook.counters().recent.hour(Instant::now()));
                black_box(engine.category_summaries());
                black_box(engine.check_text("一起去赌博吧 damn 代购"));
                polls += 1;
                if polls == 1 {
                    let _ = started.send(());
                }
                if !polling.load(Ordering::Relaxed) {
                    return polls;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    // `open` is measured only once the console is polling.
    first_poll.recv().unwrap_or_else(|_| panic!("the console poller stopped before its first poll"));
    group.bench_function("open", |b| {
        b.iter(|| webhook.handle(&engine, Some(black_box(&query)), black_box(&hits), now, Instant::now()))
    });
    group.finish();
    polling.store(false, Ordering::Relaxed);
    let polls = poller.join().unwrap_or_default();
    assert!(polls > 0, "the console poller ran");
    eprintln!("console/open: the poller asked {polls} times");
}

criterion_group!(benches, request, audit, scopes, console);
criterion_main!(benches);
