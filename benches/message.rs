//! Moderating a whole `MsgBody` with many elements, and the masking rewrite
//! that answers a `mask` verdict with the entire message echoed back.
//!
//! The message is `tests/data/samples/elements.json`: one element of every
//! type Tencent documents (text, location, face, custom, sound, image,
//! file, and a merged-forward relay holding two more messages), 3.1 KB of
//! JSON with 13 text fields. The dictionary is like the request bench's:
//! 100k synthetic reject entries (seed 2, leaving out the few, such as
//! `url`, that the sample's text happens to contain) plus a mask list
//! (`damn`).
//!
//! Group `message`, ids `<case>/<path>`:
//! - cases: `allow` (the sample verbatim, nothing hits) and `mask` (`damn`
//!   in the first text element and in a message inside the relay, so the
//!   rewrite masks two fields, one of them nested).
//! - paths: `json` is what the server runs, [`Engine::moderate_json`] on the
//!   raw `MsgBody` text (a borrowed tree for the scan; a
//!   `serde_json::Value` built only for the rewrite); `value` parses
//!   `MsgBody` into a `serde_json::Value` first and calls
//!   [`Engine::moderate`], the path the server took before.
//!
//! Run: `cargo bench --bench message`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::Value;
use wordgate::engine::{Action, Channel};
use wordgate::synthetic;
use wordgate::{DictionarySource, Engine};

const ELEMENTS: &str = include_str!("../tests/data/samples/elements.json");
const CLOUD: &str = "your cloud custom data";

fn engine_of(words: &[String]) -> Engine {
    let sources = [
        DictionarySource::new("blocked.txt", format!("@action reject\n{}\n", words.join("\n"))),
        DictionarySource::new("rude.txt", "@action mask\ndamn\n"),
    ];
    match Engine::build(&sources) {
        Ok(engine) => engine,
        Err(errors) => panic!("synthetic dictionary: {errors:?}"),
    }
}

/// 100k reject entries, none of which the sample contains.
fn engine() -> Engine {
    let mut words = synthetic::words(2, 100_100);
    let hits: Vec<String> = match engine_of(&words).moderate_json(Some(ELEMENTS), Some(CLOUD), Channel::C2C) {
        Ok(verdict) => verdict.hits.into_iter().map(|hit| hit.entry).collect(),
        Err(err) => panic!("{err}"),
    };
    words.retain(|word| !hits.contains(word));
    words.truncate(100_000);
    assert_eq!(words.len(), 100_000);
    engine_of(&words)
}

/// `Engine::moderate` as the server used it: `MsgBody` parsed into a
/// `Value` inside a request object.
fn by_value(engine: &Engine, msg_body: &str) -> Action {
    let Ok(msg_body) = serde_json::from_str::<Value>(msg_body) else { panic!("sample is JSON") };
    let request = serde_json::json!({ "MsgBody": msg_body, "CloudCustomData": CLOUD });
    match engine.moderate(&request, Channel::C2C) {
        Ok(verdict) => verdict.decision,
        Err(err) => panic!("{err}"),
    }
}

fn message(c: &mut Criterion) {
    let engine = engine();
    let masked = ELEMENTS.replacen("\"hello world\"", "\"oh damn, hello world\"", 1).replacen(
        "\"Text\": \"hello\"",
        "\"Text\": \"damn hello\"",
        1,
    );
    assert_ne!(masked, ELEMENTS);

    let mut group = c.benchmark_group("message");
    for (case, msg_body, decision) in
        [("allow", ELEMENTS, Action::Allow), ("mask", masked.as_str(), Action::Mask)]
    {
        let verdict = engine.moderate_json(Some(msg_body), Some(CLOUD), Channel::C2C);
        let Ok(verdict) = verdict else { panic!("{verdict:?}") };
        assert_eq!(verdict.decision, decision, "{:?}", verdict.hits);
        assert_eq!(by_value(&engine, msg_body), decision);
        if decision == Action::Mask {
            let rewrite = verdict.rewrite.as_ref().map(|rewrite| rewrite.msg_body.to_string());
            assert!(rewrite.is_some_and(|json| json.matches("****").count() == 2));
        }

        group.throughput(Throughput::Bytes(msg_body.len() as u64));
        group.bench_with_input(BenchmarkId::new(case, "json"), msg_body, |b, msg_body| {
            b.iter(|| engine.moderate_json(Some(black_box(msg_body)), Some(CLOUD), Channel::C2C))
        });
        group.bench_with_input(BenchmarkId::new(case, "value"), msg_body, |b, msg_body| {
            b.iter(|| by_value(&engine, black_box(msg_body)))
        });
    }
    group.finish();
}

criterion_group!(benches, message);
criterion_main!(benches);
