//! Runs one request case `N` times through `Webhook::handle`, for exact
//! instruction counts under callgrind (the 100k-entry build stays outside
//! the count with `--toggle-collect`):
//!
//! ```sh
//! cargo build --release --example request_cost
//! valgrind --tool=callgrind --toggle-collect='wordgate::webhook::Webhook::handle' \
//!   --callgrind-out-file=cg.out target/release/examples/request_cost oa_sample 1000
//! grep ^totals: cg.out    # ÷ 1000 = instructions per request
//! ```
//!
//! The cases and dictionaries are `benches/request.rs`'s. Written against
//! the API older builds have too, so the same file measures both.

use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use wordgate::auth::{self, Auth};
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

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "oa_sample".into());
    let times: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let sources = [
        DictionarySource::new("blocked.txt", synthetic::dictionary_text(2, 100_000, "@action reject\n")),
        DictionarySource::new("rude.txt", "@action mask\ndamn\n"),
    ];
    let sources = match case.strip_prefix("scopes_") {
        Some(rest) => synthetic::scope_bench_sources(rest.ends_with("_scoped")),
        None => sources.to_vec(),
    };
    let Ok(engine) = Engine::build(&sources) else { panic!("synthetic dictionary") };
    let webhook = |token: Option<&str>| {
        let auth = Auth::new(vec![APP], token.map(str::to_string), Duration::from_secs(60));
        Webhook::new(auth, FailPolicy::Allow, Duration::from_millis(500))
    };
    let (plain, signed) = (webhook(None), webhook(Some(TOKEN)));
    let oa = query("OfficialAccount.CallbackBeforeSendMsg");
    let with_text = |text: &str| String::from_utf8_lossy(OA).replace("red packet", text).into_bytes();
    let rejected_word = synthetic::words(2, 1).pop().unwrap_or_default();
    let (server, query, body): (&Webhook, String, Vec<u8>) = match case.as_str() {
        "oa_sample" => (&plain, oa, OA.to_vec()),
        "c2c_sample" => (&plain, query("C2C.CallbackBeforeSendMsg"), C2C.to_vec()),
        "group_sample" => (&plain, query("Group.CallbackBeforeSendMsg"), GROUP.to_vec()),
        "oa_sample_signed" => {
            let sign = auth::sign(TOKEN, &REQUEST_TIME.to_string());
            (&signed, format!("{oa}&Sign={sign}&RequestTime={REQUEST_TIME}"), OA.to_vec())
        }
        "oa_sample_masked" => (&plain, oa, with_text("damn red packet")),
        "oa_sample_rejected" => (&plain, oa, with_text(&format!("{rejected_word} red packet"))),
        "oa_after_send" => (&plain, query("OfficialAccount.CallbackAfterSendMsg"), OA_AFTER.to_vec()),
        // The `scopes` bench group's cases: the group sample, clean or with
        // a mask and a review hit, against `scope_bench_sources`.
        "scopes_clean_unscoped" | "scopes_clean_scoped" => {
            (&plain, query("Group.CallbackBeforeSendMsg"), GROUP.to_vec())
        }
        "scopes_hits_unscoped" | "scopes_hits_scoped" => (
            &plain,
            query("Group.CallbackBeforeSendMsg"),
            String::from_utf8_lossy(GROUP).replace("red packet", "damn 代购 red packet").into_bytes(),
        ),
        other => panic!("unknown case {other}"),
    };
    let now = UNIX_EPOCH + Duration::from_secs(REQUEST_TIME);
    for _ in 0..times {
        black_box(server.handle(&engine, Some(black_box(&query)), black_box(&body), now, Instant::now()));
    }
}
