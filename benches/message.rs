//! Moderating a whole message with many elements, and the masking rewrite
//! that answers a `mask` verdict with the entire `MsgBody` spliced back.
//!
//! The message is `tests/data/samples/elements.json`: one element of every
//! type Tencent documents (text, location, face, custom, sound, image,
//! file, and a merged-forward relay holding two more messages), 3.1 KB of
//! JSON with 13 text fields, wrapped in a C2C body. The dictionary is like
//! the request bench's: 100k synthetic reject entries (seed 2, leaving out
//! the few, such as `url`, that the sample's text happens to contain) plus
//! a mask list (`damn`).
//!
//! Group `message`, ids `<case>/scan`: [`wordgate::tencent::moderate`] (one
//! scan of the body, every text through the engine, the answer written) on
//! - `allow`: the sample verbatim, nothing hits;
//! - `mask`: `damn` in the first text element and in a message inside the
//!   relay, so the rewrite masks two fields, one of them nested.
//!
//! Run: `cargo bench --bench message`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wordgate::engine::Action;
use wordgate::synthetic;
use wordgate::tencent::{self, Kind};
use wordgate::{DictionarySource, Engine};

const ELEMENTS: &str = include_str!("../tests/data/samples/elements.json");
const CLOUD: &str = "your cloud custom data";

fn body_of(msg_body: &str) -> Vec<u8> {
    format!(r#"{{"CallbackCommand":"C2C.CallbackBeforeSendMsg","MsgBody":{msg_body},"CloudCustomData":"{CLOUD}"}}"#)
        .into_bytes()
}

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
    let hits: Vec<String> = match tencent::moderate(&engine_of(&words), Kind::C2c, &body_of(ELEMENTS)) {
        Ok(verdict) => verdict.hits.into_iter().map(|hit| hit.entry).collect(),
        Err(err) => panic!("{err}"),
    };
    words.retain(|word| !hits.contains(word));
    words.truncate(100_000);
    assert_eq!(words.len(), 100_000);
    engine_of(&words)
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
        let body = body_of(msg_body);
        let verdict = tencent::moderate(&engine, Kind::C2c, &body);
        let Ok(verdict) = verdict else { panic!("{verdict:?}") };
        assert_eq!(verdict.decision, decision, "{:?}", verdict.hits);
        if decision == Action::Mask {
            let answer = String::from_utf8_lossy(&verdict.answer);
            assert_eq!(answer.matches("****").count(), 2, "{answer}");
        }

        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new(case, "scan"), &body, |b, body| {
            b.iter(|| tencent::moderate(&engine, Kind::C2c, black_box(body)))
        });
    }
    group.finish();
}

criterion_group!(benches, message);
criterion_main!(benches);
