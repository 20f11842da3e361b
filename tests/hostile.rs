//! Hostile input against a running server (`127.0.0.1:0`): each gets the
//! status the README's "Limits and hostile input" section documents, or is
//! closed on time, and a normal request gets its correct answer while the
//! hostile one is in flight and after it.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::util::{self, config, dictionaries, target, Client, Response, TestServer};
use wordgate::auth::Auth;
use wordgate::config::Config;
use wordgate::tencent::scan::MAX_JSON_DEPTH;
use wordgate::webhook::{FailPolicy, Webhook};
use wordgate::{DictionarySource, Engine};

const C2C: &str = "C2C.CallbackBeforeSendMsg";

const FILES: &[(&str, &str)] = &[
    ("banned.txt", "@action reject\n@code 120009\n@info no\nred packet\n"),
    ("rude.txt", "@action mask\ndarn\n"),
];

/// Upper bound on any wait, so a broken server fails the test instead of
/// hanging it; never used to wait *for* something.
const PATIENCE: Duration = Duration::from_secs(30);

async fn start(tweak: impl FnOnce(&mut Config)) -> (TestServer, tempfile::TempDir) {
    let dir = dictionaries(FILES);
    let mut config = config(dir.path());
    // Hostile requests are held half-sent while a normal one is served; the
    // budget must not run out meanwhile.
    config.request_budget_ms = 2000;
    tweak(&mut config);
    (TestServer::start(config).await, dir)
}

/// A C2C before-send body with these elements.
fn body(elements: &[Value]) -> Vec<u8> {
    json!({"CallbackCommand": C2C, "MsgBody": elements}).to_string().into_bytes()
}

fn text(text: &str) -> Value {
    json!({"MsgType": "TIMTextElem", "MsgContent": {"Text": text}})
}

/// A normal request on its own connection gets its correct answer: a mask
/// rewrite, which exercises the whole path.
async fn assert_serving(server: &TestServer) {
    let response = server.post(&target(C2C), &body(&[text("oh darn"), text("fine")])).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json(),
        json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
               "MsgBody": [text("oh ****"), text("fine")]})
    );
}

/// Sends all of `request` but its last byte, checks that a normal request
/// is served meanwhile, then sends the last byte and returns the answer.
async fn held(server: &TestServer, request: &[u8]) -> (Client, Response) {
    let mut client = server.connect().await;
    let split = request.len().saturating_sub(1);
    client.send(&request[..split]).await;
    assert_serving(server).await;
    client.send(&request[split..]).await;
    let response = client.response().await;
    assert_serving(server).await;
    (client, response)
}

/// Posts `body` as a held request (see [`held`]).
async fn post_held(server: &TestServer, body: &[u8]) -> Response {
    held(server, &util::post_request(&target(C2C), body)).await.1
}

fn error_of(response: &Response) -> String {
    assert_eq!(response.header("content-type"), Some("application/json"));
    let answer = response.json();
    assert_eq!(answer["status"], response.status, "{answer}");
    answer["error"].as_str().unwrap_or_default().to_string()
}

/// Arrays (`[[…]]`) or objects (`{"a":{"a":…}}`) nested `depth` deep.
fn nested(depth: usize, objects: bool) -> String {
    if objects {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

#[tokio::test]
async fn deeply_nested_json_gets_400_wherever_it_is() {
    let (server, _dir) = start(|_| {}).await;
    let depth_error = "the body nests arrays and objects deeper than 127 levels";
    // Tens of thousands of levels, in a field the server reads, in one it
    // skips, and as arrays or objects; all within the 64 KiB body limit.
    for (inside, objects, depth) in [(true, false, 30_000), (false, false, 30_000), (false, true, 10_000)] {
        let deep = nested(depth, objects);
        let body = if inside {
            format!(
                r#"{{"CallbackCommand":"{C2C}","MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"darn","X":{deep}}}}}]}}"#
            )
        } else {
            format!(r#"{{"CallbackCommand":"{C2C}","Extra":{deep},"MsgBody":[]}}"#)
        };
        assert!(body.len() <= 64 * 1024);
        let response = post_held(&server, body.as_bytes()).await;
        assert_eq!(response.status, 400);
        let error = error_of(&response);
        assert!(error.starts_with(depth_error), "{error}");
    }
    // The limit exactly: the body object is level 1.
    let at_limit = |levels: usize| {
        format!(
            r#"{{"CallbackCommand":"{C2C}","Extra":{},"MsgBody":[{}]}}"#,
            nested(levels - 1, false),
            text("darn")
        )
    };
    let response = post_held(&server, at_limit(MAX_JSON_DEPTH).as_bytes()).await;
    assert_eq!(response.json()["MsgBody"][0]["MsgContent"]["Text"], "****", "{}", response.text());
    let response = post_held(&server, at_limit(MAX_JSON_DEPTH + 1).as_bytes()).await;
    assert!(error_of(&response).starts_with(depth_error));
    // Not an object at all.
    let response = post_held(&server, nested(30_000, false).as_bytes()).await;
    assert_eq!(error_of(&response), "the body must be a JSON object");
}

/// Streams `total` bytes of `chunk`s to `stream`, ignoring write errors (the
/// server is expected to stop reading).
async fn stream_body(mut writer: tokio::net::tcp::OwnedWriteHalf, total: usize, chunked: bool) {
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        let framed = if chunked {
            let mut framed = format!("{n:x}\r\n").into_bytes();
            framed.extend_from_slice(&chunk[..n]);
            framed.extend_from_slice(b"\r\n");
            framed
        } else {
            chunk[..n].to_vec()
        };
        if writer.write_all(&framed).await.is_err() {
            return;
        }
        sent += n;
    }
}

/// Reads one response from `reader`, then waits for the connection to close.
async fn response_then_close(reader: &mut tokio::net::tcp::OwnedReadHalf) -> (u16, Value) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let status_and_body = loop {
        if let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase().strip_prefix("content-length:").map(str::trim).map(String::from)
                })
                .and_then(|value| value.parse::<usize>().ok())
                .unwrap_or(0);
            if buffer.len() >= head_end + 4 + length {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                let body =
                    serde_json::from_slice(&buffer[head_end + 4..head_end + 4 + length]).unwrap_or_default();
                break (status, body);
            }
        }
        match tokio::time::timeout(PATIENCE, reader.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
            other => panic!("no response: {other:?}"),
        }
    };
    // Then the server closes: EOF or a reset, and nothing more.
    loop {
        match tokio::time::timeout(PATIENCE, reader.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection stayed open after refusing the body"),
        }
    }
    status_and_body
}

#[tokio::test]
async fn a_ten_megabyte_body_gets_413_and_is_not_read() {
    const TEN_MB: usize = 10 * 1024 * 1024;
    let (server, _dir) = start(|_| {}).await;
    let too_large = json!({"error": "the body is larger than 65536 bytes", "status": 413});
    for chunked in [false, true] {
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_string()
        } else {
            format!("Content-Length: {TEN_MB}")
        };
        let head = format!("POST {} HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n", target(C2C));
        writer.write_all(head.as_bytes()).await.expect("send headers");
        let upload = tokio::spawn(stream_body(writer, TEN_MB, chunked));
        assert_serving(&server).await;
        let (status, answer) = response_then_close(&mut reader).await;
        assert_eq!((status, &answer), (413, &too_large), "chunked: {chunked}");
        // The upload ends early: the server stopped reading.
        tokio::time::timeout(PATIENCE, upload).await.expect("upload ends").expect("upload task");
        assert_serving(&server).await;
    }
}

#[tokio::test]
async fn invalid_utf8_gets_400() {
    let (server, _dir) = start(|_| {}).await;
    let mut broken = body(&[text("darn")]);
    let at = broken.windows(4).position(|w| w == b"darn").expect("text");
    broken[at] = 0xFF;
    let response = post_held(&server, &broken).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        error_of(&response),
        format!("the body is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index {at}")
    );

    // Percent-encoded into the query string.
    let request = util::post_request(&format!("/?SdkAppid={}&CallbackCommand=%FF", util::APP), &body(&[]));
    let (_, response) = held(&server, &request).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "CallbackCommand: the value is not valid UTF-8");

    // Raw in the request line: hyper refuses it before any route runs.
    let mut request = util::post_request(&target(C2C), &body(&[]));
    request.splice(6..6, *b"\xFF");
    let mut client = server.connect().await;
    client.send(&request).await;
    let response = client.response().await;
    assert_eq!(response.status, 400);
    client.closed().await;
    assert_serving(&server).await;
}

#[tokio::test]
async fn lone_surrogates_read_as_replacement_characters() {
    let (server, _dir) = start(|_| {}).await;
    let escaped = |text: &str| {
        format!(
            r#"{{"CallbackCommand":"{C2C}","MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"{text}"}}}}]}}"#
        )
    };
    // Moderated, not refused: a lone half of a pair is U+FFFD, a whole pair
    // is its character.
    let response = post_held(&server, escaped(r"darn \ud800 \ud83d\ude00 \udc00").as_bytes()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["MsgBody"][0]["MsgContent"]["Text"], "**** \u{FFFD} 😀 \u{FFFD}");
    let response = post_held(&server, escaped(r"red\ud800 packet, red packet").as_bytes()).await;
    assert_eq!(response.json(), json!({"ActionStatus": "OK", "ErrorCode": 120009, "ErrorInfo": "no"}));
    // In a field the server skips: read, and the message moderated.
    let body =
        format!(r#"{{"Extra":"\udfff","CallbackCommand":"{C2C}","MsgBody":[{}]}}"#, text("red packet"));
    let response = post_held(&server, body.as_bytes()).await;
    assert_eq!(response.json()["ErrorCode"], 120009);
    // Escaped backslashes are not escapes.
    let response = post_held(&server, escaped(r"\\ud800 darn").as_bytes()).await;
    assert_eq!(response.json()["MsgBody"][0]["MsgContent"]["Text"], r"\ud800 ****");
    // A broken escape is still broken JSON.
    let response = post_held(&server, escaped(r"\ud8").as_bytes()).await;
    assert_eq!(response.status, 400);
    assert!(error_of(&response).starts_with("the body is not valid JSON"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_elements() {
    let mut elements = vec![text("fine"); 100_000];
    elements[99_999] = text("darn");
    let big = body(&elements);

    // Over the default limit long before it is parsed.
    let (server, _dir) = start(|_| {}).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", target(C2C), big.len());
    writer.write_all(head.as_bytes()).await.expect("send headers");
    let upload = big.clone();
    let upload = tokio::spawn(async move {
        let _ = writer.write_all(&upload).await;
    });
    assert_serving(&server).await;
    let (status, answer) = response_then_close(&mut reader).await;
    assert_eq!(
        (status, answer),
        (413, json!({"error": "the body is larger than 65536 bytes", "status": 413}))
    );
    let _ = upload.await;

    // With the limit raised, the whole message is moderated in-line, and
    // other requests are served meanwhile. In a debug build it takes longer
    // than the budget, and the fail policy answers (as documented); the
    // rewrite itself is checked below without a clock.
    let (server, _dir) = start(|config| {
        config.max_body_bytes = 16 * 1024 * 1024;
        config.fail_policy = FailPolicy::Reject;
    })
    .await;
    let mut client = server.connect().await;
    client.send(&util::post_request(&target(C2C), &big)).await;
    let pending = tokio::spawn(async move { client.response().await });
    assert_serving(&server).await;
    let response = tokio::time::timeout(PATIENCE, pending).await.expect("answered").expect("task");
    assert_eq!(response.status, 200);
    let answer = response.json();
    let counters = server.state.webhook.counters().values();
    if counters.fail_policy_budget == 1 {
        assert_eq!(answer, json!({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": ""}));
    } else {
        assert_eq!(answer["MsgBody"].as_array().map(Vec::len), Some(100_000));
    }
    assert_serving(&server).await;

    // The same request path without a socket or a clock.
    let engine = Engine::build(
        &FILES.iter().map(|(name, text)| DictionarySource::new(*name, *text)).collect::<Vec<_>>(),
    )
    .expect("dictionaries");
    let auth = Auth::new(vec![util::APP], None, Duration::from_secs(60));
    let webhook = Webhook::new(auth, FailPolicy::Reject, Duration::MAX / 4);
    let query = format!("SdkAppid={}", util::APP);
    let reply = webhook.handle(&engine, Some(&query), &big, SystemTime::now(), Instant::now());
    let answer: Value = serde_json::from_slice(&reply.body).expect("JSON");
    let echoed = answer["MsgBody"].as_array().expect("a rewrite");
    assert_eq!(echoed.len(), 100_000);
    assert_eq!(echoed[99_999], text("****"));
    assert!(echoed[..99_999].iter().all(|element| *element == text("fine")));
}

#[tokio::test]
async fn huge_numbers_are_echoed_digit_for_digit() {
    let (server, _dir) = start(|_| {}).await;
    let digits = "9".repeat(5_000);
    let numbers = format!("[{digits}, -{digits}.{digits}, 0.1000000000000000055511151231257827, -0, 1e400]");
    let body = format!(
        r#"{{"CallbackCommand":"{C2C}","EventTime":{digits},"MsgBody":[{{"MsgType":"TIMLocationElem","MsgContent":{{"Desc":"darn","Latitude":{numbers}}}}}]}}"#
    );
    let response = post_held(&server, body.as_bytes()).await;
    assert_eq!(response.status, 200);
    // Numbers are echoed exactly as sent, spaces included.
    let echoed = format!(r#""Latitude":{numbers}"#);
    assert!(response.text().contains(&echoed), "{}", &response.text()[..200]);
    assert!(response.text().contains(r#""Desc":"****""#));

    // A number where a string belongs.
    let body = format!(r#"{{"CallbackCommand":{digits},"MsgBody":[]}}"#);
    let response = post_held(&server, body.as_bytes()).await;
    assert_eq!(error_of(&response), "CallbackCommand: must be a string");
}

#[tokio::test]
async fn duplicate_keys() {
    let (server, _dir) = start(|_| {}).await;
    // In the fields the server reads: ambiguous, so refused.
    let twice = format!(r#"{{"CallbackCommand":"{C2C}","MsgBody":[],"MsgBody":[{}]}}"#, text("red packet"));
    let response = post_held(&server, twice.as_bytes()).await;
    assert_eq!(response.status, 400);
    assert!(error_of(&response).starts_with("MsgBody: given more than once"));
    let inner = format!(
        r#"{{"CallbackCommand":"{C2C}","MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"red packet","Text":"fine"}}}}]}}"#
    );
    let response = post_held(&server, inner.as_bytes()).await;
    assert_eq!(response.status, 400);
    assert!(error_of(&response).starts_with(r#"MsgBody: an object in it names "Text" more than once"#));
    let command = format!(r#"{{"CallbackCommand":"{C2C}","CallbackCommand":"Other","MsgBody":[]}}"#);
    let response = post_held(&server, command.as_bytes()).await;
    assert!(error_of(&response).starts_with("CallbackCommand: given more than once"));
    // In fields it skips: harmless.
    let skipped = format!(r#"{{"CallbackCommand":"{C2C}","X":1,"X":2,"MsgBody":[{}]}}"#, text("red packet"));
    let response = post_held(&server, skipped.as_bytes()).await;
    assert_eq!(response.json()["ErrorCode"], 120009);
}

#[tokio::test]
async fn huge_headers_and_request_lines_are_refused_by_hyper() {
    let (server, _dir) = start(|_| {}).await;
    let cases = [
        // More than hyper's ~400 KB for a request head, or its 100 headers:
        // 431. A request line too long to parse, but within the buffer: 414.
        (format!("POST / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "a".repeat(1024 * 1024)), 431),
        (format!("POST / HTTP/1.1\r\nHost: t\r\n{}\r\n", "X-Many: 1\r\n".repeat(1000)), 431),
        (format!("POST /?{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(1024 * 1024)), 431),
        (format!("POST /?{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(100 * 1024)), 414),
    ];
    for (request, expected) in cases {
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let bytes = request.into_bytes();
        let send = tokio::spawn(async move {
            let _ = writer.write_all(&bytes).await;
        });
        assert_serving(&server).await;
        let (status, _) = response_then_close(&mut reader).await;
        assert_eq!(status, expected);
        let _ = send.await;
    }
    assert_serving(&server).await;
}

/// Sends `bytes` one per `every` until the server closes the connection;
/// returns how long that took from the first byte.
async fn drip(stream: TcpStream, bytes: &'static [u8], every: Duration) -> Duration {
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let writing = async move {
        let mut ticks = tokio::time::interval(every);
        for byte in bytes {
            ticks.tick().await;
            if writer.write_all(std::slice::from_ref(byte)).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let closed = async {
        let mut chunk = [0u8; 256];
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => {}
            Ok(n) => {
                panic!("expected the connection to close, got {:?}", String::from_utf8_lossy(&chunk[..n]))
            }
        }
    };
    tokio::select! {
        () = writing => unreachable!("writing never ends"),
        () = closed => {}
    }
    started.elapsed()
}

/// Runs `hostile` to completion while serving normal requests; at least one
/// is answered before `hostile` ends.
async fn while_serving<T>(server: &TestServer, hostile: impl Future<Output = T> + Send + 'static) -> T
where
    T: Send + 'static,
{
    let hostile = tokio::spawn(hostile);
    assert_serving(server).await;
    assert!(!hostile.is_finished(), "the hostile client was done before a normal request was served");
    let result = tokio::time::timeout(PATIENCE, hostile).await.expect("hostile client ends").expect("task");
    assert_serving(server).await;
    result
}

#[tokio::test]
async fn headers_at_one_byte_a_second_are_cut_off_at_the_header_timeout() {
    let (server, _dir) = start(|config| config.header_read_timeout_secs = 2).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let request: &'static [u8] = b"POST / HTTP/1.1\r\nHost: wordgate.test\r\nContent-Length: 2\r\n\r\n{}";
    let took = while_serving(&server, drip(stream, request, Duration::from_secs(1))).await;
    // Cut off at the timeout, not at the end of the (60-second) request.
    assert!(took >= Duration::from_millis(1500), "closed after {took:?}");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_are_closed_at_the_header_timeout() {
    let (server, _dir) = start(|config| config.header_read_timeout_secs = 2).await;
    let started = Instant::now();
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // The accept loop takes connections in order: an answer on the 1001st
    // means all thousand are being served, each holding a slot.
    assert_serving(&server).await;
    let closing = idle.into_iter().map(|mut stream| async move {
        let mut chunk = [0u8; 64];
        matches!(stream.read(&mut chunk).await, Ok(0) | Err(_))
    });
    let closed = tokio::time::timeout(PATIENCE, futures_join_all(closing)).await.expect("all closed");
    assert!(closed.iter().all(|&closed| closed), "an idle connection was sent data");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500), "closed after {took:?}");
    assert!(took < Duration::from_secs(10), "closed after {took:?}");
    assert_serving(&server).await;
}

/// `futures::future::join_all` without the dependency: one task each.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

/// Relays nested as deep as the JSON limit allows are moderated all the way
/// down: a refusal would let Tencent deliver the message unmoderated.
#[tokio::test]
async fn relays_nested_to_the_json_limit_are_moderated_to_the_bottom() {
    let (server, _dir) = start(|_| {}).await;
    let relay =
        |inner: Value| json!({"MsgType": "TIMRelayElem", "MsgContent": {"MsgList": [{"MsgBody": [inner]}]}});
    // The deepest nesting within the limit: the body is level 1, `MsgBody`
    // 2, and each relay takes 5 more (element, MsgContent, MsgList, item,
    // MsgBody), with the text element's two below the last.
    let levels = (MAX_JSON_DEPTH - 2 - 2) / 5;
    assert!(levels >= 24, "{levels}");
    let nest = |word: &str| (0..levels).fold(text(word), |inner, _| relay(inner));

    let response = server.post(&target(C2C), &body(&[nest("red packet")])).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), json!({"ActionStatus": "OK", "ErrorCode": 120009, "ErrorInfo": "no"}));

    // A mask at the bottom comes back rewritten, every level kept.
    let response = server.post(&target(C2C), &body(&[nest("oh darn")])).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["MsgBody"], json!([nest("oh ****")]));

    // One level more passes the JSON limit: refused as too deep, as any body is.
    let response = server.post(&target(C2C), &body(&[relay(nest("red packet"))])).await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(error_of(&response).contains("deeper than 127 levels"), "{}", response.text());
}
