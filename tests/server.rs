//! `wordgate serve` over real HTTP: a server on `127.0.0.1:0`, raw bytes on
//! the wire. Dictionaries are written to a temporary directory per test,
//! except in `shipped_dictionaries`, so these tests pin the server's
//! behaviour, not the starter lists.

pub mod util;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpStream;

use util::{config, dictionaries, sample, sample_json, target, Client, ManualClock, TestServer, APP};
use wordgate::config::Secret;
use wordgate::server::Drain;
use wordgate::webhook::FailPolicy;

const OA_BEFORE: &str = "OfficialAccount.CallbackBeforeSendMsg";
const C2C_BEFORE: &str = "C2C.CallbackBeforeSendMsg";
const GROUP_BEFORE: &str = "Group.CallbackBeforeSendMsg";

/// A before-send body with one text element.
fn text_message(command: &str, text: &str) -> Vec<u8> {
    json!({
        "CallbackCommand": command,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
    })
    .to_string()
    .into_bytes()
}

/// Starts a server on these dictionary files; the directory lives as long
/// as the server.
async fn server_with(files: &[(&str, &str)]) -> (TestServer, tempfile::TempDir) {
    let dir = dictionaries(files);
    (TestServer::start(config(dir.path())).await, dir)
}

fn assert_ok_json(response: &util::Response) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
}

// ---- The documented sample request and its four documented answers ----

#[tokio::test]
async fn sample_request_gets_the_documented_allow_answer() {
    let (server, _dir) = server_with(&[("spam.txt", "@action reject\nbuy followers\n")]).await;
    let response = server.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_ok_json(&response);
    assert_eq!(response.json(), sample_json("oa-before-send.response-allow.json"));
}

#[tokio::test]
async fn sample_request_gets_the_documented_reject_answer() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let response = server.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_ok_json(&response);
    assert_eq!(response.json(), sample_json("oa-before-send.response-reject.json"));
}

#[tokio::test]
async fn sample_request_gets_the_documented_discard_answer() {
    let (server, _dir) = server_with(&[("spam.txt", "@action discard\nred packet\n")]).await;
    let response = server.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_ok_json(&response);
    assert_eq!(response.json(), sample_json("oa-before-send.response-discard.json"));
}

#[tokio::test]
async fn masked_message_gets_the_documented_rewrite_answer() {
    // Two mask lists whose mask characters turn the request into exactly
    // the documented rewrite: `q` → `p` in the text, `z` → `d` in
    // CloudCustomData. Everything else must come back untouched, in order.
    let (server, _dir) = server_with(&[
        ("p.txt", "@action mask\n@mask p\n@boundary substring\nq\n"),
        ("d.txt", "@action mask\n@mask d\n@boundary substring\nz\n"),
    ])
    .await;
    let request = json!({
        "CallbackCommand": OA_BEFORE,
        "Official_Account": "@TOA#_2J4SZEAEL",
        "OnlineOnlyFlag": 1,
        "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "red qacket"}},
            {"MsgType": "TIMCustomElem", "MsgContent": {"Desc": "CustomElement.MemberLevel", "Data": "LV1"}}
        ],
        "CloudCustomData": "your cloud custom zata",
        "EventTime": 1670574414123u64
    });
    let response = server.post(&target(OA_BEFORE), request.to_string().as_bytes()).await;
    assert_ok_json(&response);
    let expected = sample_json("oa-before-send.response-rewrite.json");
    assert_eq!(response.json(), expected);
    // Field order inside MsgBody is preserved (Value equality ignores it).
    assert_eq!(response.json()["MsgBody"].to_string(), expected["MsgBody"].to_string());
}

#[tokio::test]
async fn rewrite_keeps_unknown_fields_and_exact_numbers() {
    let (server, _dir) = server_with(&[("rude.txt", "@action mask\ndarn\n")]).await;
    let elements = String::from_utf8(sample("elements.json")).expect("UTF-8");
    // Put a masked word first so the whole element list is echoed.
    let body = format!(
        r#"{{"CallbackCommand":"{C2C_BEFORE}","MsgBody":[{{"MsgContent":{{"Text":"darn it","Extra":[1.50,0.1000000000000000055511151231257827]}},"MsgType":"TIMTextElem"}}],"Unknown":true}}"#
    );
    let response = server.post(&target(C2C_BEFORE), body.as_bytes()).await;
    assert_ok_json(&response);
    assert_eq!(
        response.text(),
        r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":[{"MsgContent":{"Text":"**** it","Extra":[1.50,0.1000000000000000055511151231257827]},"MsgType":"TIMTextElem"}]}"#
    );

    let body = format!(
        r#"{{"CallbackCommand":"{C2C_BEFORE}","MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"darn"}}}},{}]}}"#,
        elements.trim().trim_start_matches('[').trim_end_matches(']')
    );
    let response = server.post(&target(C2C_BEFORE), body.as_bytes()).await;
    assert_ok_json(&response);
    let answer = response.json();
    let original: Value = serde_json::from_slice(&sample("elements.json")).expect("JSON");
    let echoed = answer["MsgBody"].as_array().expect("MsgBody");
    assert_eq!(echoed[0]["MsgContent"]["Text"], "****");
    assert_eq!(Value::Array(echoed[1..].to_vec()).to_string(), original.to_string());
    // Spliced from the request: the sample's elements, whitespace and
    // numbers included, byte for byte.
    let inner = elements.trim().trim_start_matches('[').trim_end_matches(']');
    assert!(response.text().contains(inner), "{}", response.text());
}

// ---- C2C and group, custom codes ----

const FRAUD: &str = "@action reject\n@code 120005\n@group-code 10105\n@info 不能发送\nred packet\n";

#[tokio::test]
async fn c2c_and_group_samples_with_custom_codes_and_info() {
    let (server, _dir) = server_with(&[("fraud.txt", FRAUD)]).await;
    let expect = |code: u32| json!({"ActionStatus": "OK", "ErrorCode": code, "ErrorInfo": "不能发送"});

    let response = server.post(&target(C2C_BEFORE), &sample("c2c-before-send.request.json")).await;
    assert_ok_json(&response);
    assert_eq!(response.json(), expect(120005));

    // The group sample sends EventTime as a string; that is fine.
    let response = server.post(&target(GROUP_BEFORE), &sample("group-before-send.request.json")).await;
    assert_ok_json(&response);
    assert_eq!(response.json(), expect(10105));

    let response = server.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_eq!(response.json(), expect(120005));
}

#[tokio::test]
async fn group_rejects_without_a_group_code_answer_1() {
    let (server, _dir) =
        server_with(&[("fraud.txt", "@action reject\n@code 120005\n@info no\nred packet\n")]).await;
    let response = server.post(&target(GROUP_BEFORE), &sample("group-before-send.request.json")).await;
    assert_ok_json(&response);
    assert_eq!(response.json()["ErrorCode"], 1);
    let response = server.post(&target(C2C_BEFORE), &sample("c2c-before-send.request.json")).await;
    assert_eq!(response.json()["ErrorCode"], 120005);
}

// ---- Other commands ----

#[tokio::test]
async fn after_send_callbacks_are_acknowledged_not_moderated() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    for (command, file) in [
        ("OfficialAccount.CallbackAfterSendMsg", "oa-after-send.request.json"),
        ("C2C.CallbackAfterSendMsg", "c2c-after-send.request.json"),
        ("Group.CallbackAfterSendMsg", "group-after-send.request.json"),
    ] {
        let response = server.post(&target(command), &sample(file)).await;
        assert_ok_json(&response);
        assert_eq!(
            response.json(),
            json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}),
            "{command}"
        );
    }
    let counters = server.state.webhook.counters().values();
    assert_eq!((counters.after_send, counters.moderated), (3, 0));
}

#[tokio::test]
async fn unknown_commands_are_acknowledged_and_counted() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let command = "Group.CallbackAfterNewMemberJoin";
    let body = json!({"CallbackCommand": command, "GroupId": "@TGS#2J4SZEAEL", "Text": "red packet"});
    let response = server.post(&target(command), body.to_string().as_bytes()).await;
    assert_ok_json(&response);
    assert_eq!(response.json()["ErrorCode"], 0);
    assert_eq!(server.state.webhook.counters().values().unknown_command, 1);
}

#[tokio::test]
async fn query_and_body_commands_must_agree() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    // An after-send query must not smuggle a before-send body past
    // moderation, nor the other way round.
    let response =
        server.post(&target("C2C.CallbackAfterSendMsg"), &sample("c2c-before-send.request.json")).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["error"],
        "CallbackCommand: the query string says \"C2C.CallbackAfterSendMsg\" but the body says \"C2C.CallbackBeforeSendMsg\""
    );
}

#[tokio::test]
async fn lenient_where_tencent_is_loose() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    // Any-case contenttype, unknown OptPlatform, percent-encoded ClientIP,
    // parameters in another order, unknown body fields.
    let target = format!(
        "/?contenttype=JSON&OptPlatform=SmartFridge&ClientIP=%3A%3A1&CallbackCommand={OA_BEFORE}&SdkAppid={APP}&x=1"
    );
    let body = json!({
        "CallbackCommand": OA_BEFORE,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}],
        "EventTime": "1670574414123",
        "SomethingNew": {"nested": [1, 2]}
    });
    let response = server.post(&target, body.to_string().as_bytes()).await;
    assert_ok_json(&response);
    assert_eq!(response.json()["ErrorCode"], 0);
}

// ---- Authentication ----

const VECTOR_TIME: u64 = 1669872112;
const VECTOR_SIGN: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

fn signed_target(sign: &str, time: u64) -> String {
    format!("{}&Sign={sign}&RequestTime={time}", target(OA_BEFORE))
}

#[tokio::test]
async fn sign_test_vector_is_accepted_and_bad_or_stale_signs_are_refused() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    let clock = ManualClock::at(VECTOR_TIME);
    let config = wordgate::config::Config { token: Secret("xxxxyyyy".into()), ..config(dir.path()) };
    let server = TestServer::start_with_clock(config, Some(clock.clock())).await;
    let body = sample("oa-before-send.request.json");

    let response = server.post(&signed_target(VECTOR_SIGN, VECTOR_TIME), &body).await;
    assert_ok_json(&response);
    assert_eq!(response.json()["ErrorCode"], 1, "authenticated, then moderated");

    let mut wrong = VECTOR_SIGN.to_string();
    wrong.replace_range(63.., "0");
    let response = server.post(&signed_target(&wrong, VECTOR_TIME), &body).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json(),
        json!({"error": "Sign: does not match sha256(token + RequestTime)", "status": 401})
    );

    let response = server.post(&target(OA_BEFORE), &body).await;
    assert_eq!(response.status, 401);
    assert_eq!(response.json()["error"], "Sign: missing (webhook authentication is enabled)");

    // The right signature, 61 s later: a replay.
    clock.set(VECTOR_TIME + 61);
    let response = server.post(&signed_target(VECTOR_SIGN, VECTOR_TIME), &body).await;
    assert_eq!(response.status, 401);
    assert!(response.json()["error"].as_str().is_some_and(|e| e.starts_with("RequestTime: 61 s behind")));
    clock.set(VECTOR_TIME + 60);
    assert_eq!(server.post(&signed_target(VECTOR_SIGN, VECTOR_TIME), &body).await.status, 200);

    let counters = server.state.webhook.counters().values();
    assert_eq!((counters.unauthorized, counters.moderated), (3, 2));
}

#[tokio::test]
async fn wrong_or_missing_sdkappid_is_refused_without_moderation() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let body = sample("oa-before-send.request.json");
    let response = server.post(&format!("/?SdkAppid=1400000999&CallbackCommand={OA_BEFORE}"), &body).await;
    assert_eq!(response.status, 403);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.json(),
        json!({"error": "SdkAppid: \"1400000999\" is not an app this server is configured for", "status": 403})
    );
    let response = server.post(&format!("/?CallbackCommand={OA_BEFORE}"), &body).await;
    assert_eq!(response.status, 403);
    assert_eq!(server.state.webhook.counters().values().moderated, 0);
}

// ---- Malformed requests ----

#[tokio::test]
async fn malformed_bodies_get_400_naming_the_problem() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let response = server.post(&target(OA_BEFORE), b"{\"MsgBody\": [").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let error = response.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(error.starts_with("the body is not valid JSON: EOF while parsing"), "{error}");

    let body = json!({"CallbackCommand": OA_BEFORE, "MsgBody": {"MsgType": "TIMTextElem"}});
    let response = server.post(&target(OA_BEFORE), body.to_string().as_bytes()).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json(),
        json!({"error": "MsgBody: must be an array of message elements", "status": 400})
    );

    let body = json!({"CallbackCommand": OA_BEFORE, "MsgBody": [{"MsgContent": {}}]});
    let response = server.post(&target(OA_BEFORE), body.to_string().as_bytes()).await;
    assert_eq!(response.json()["error"], "MsgBody[0]: MsgType is missing");

    let response = server.post(&target(OA_BEFORE), b"").await;
    assert_eq!(response.status, 400);
}

#[tokio::test]
async fn oversized_body_with_content_length_is_refused_before_it_is_sent() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let mut client = server.connect().await;
    // Headers only: the server must answer without waiting for 64 KiB.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        target(OA_BEFORE),
        64 * 1024 + 1
    );
    client.send(head.as_bytes()).await;
    let response = client.response().await;
    assert_eq!(response.status, 413);
    assert_eq!(response.json(), json!({"error": "the body is larger than 65536 bytes", "status": 413}));

    // Exactly at the limit is fine (and still JSON-checked).
    let mut body = text_message(OA_BEFORE, "hello");
    body.resize(64 * 1024, b' ');
    let response = server.post(&target(OA_BEFORE), &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn oversized_chunked_body_is_refused_while_streaming() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let mut client = server.connect().await;
    let head =
        format!("POST {} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", target(OA_BEFORE));
    client.send(head.as_bytes()).await;
    // 16 chunks of 4 KiB reach the limit exactly; one byte more crosses it.
    let chunk = [b' '; 4096];
    for _ in 0..16 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        client.send(&framed).await;
    }
    client.send(b"1\r\n \r\n").await;
    let response = client.response().await;
    assert_eq!(response.status, 413);
    assert_eq!(response.json()["status"], 413);
}

#[tokio::test]
async fn wrong_method_and_unknown_path() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let mut client = server.connect().await;
    let response = client.get(&target(OA_BEFORE)).await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("POST"));
    assert_eq!(response.json()["status"], 405);

    let response = client.post("/callback", &sample("oa-before-send.request.json")).await;
    assert_eq!(response.status, 404);
    assert_eq!(response.json(), json!({"error": "no route for /callback", "status": 404}));

    let response = client.post("/healthz", b"").await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn health_endpoints() {
    let (server, _dir) = server_with(&[("banned.txt", "@action reject\nred packet\n")]).await;
    let mut client = server.connect().await;
    let response = client.get("/healthz").await;
    assert_ok_json(&response);
    let health = response.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["dictionaries"]["generation"], 1);
    assert_eq!(health["dictionaries"]["categories"], 1);
    assert!(health["dictionaries"]["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")));
    assert_eq!(health["counters"]["moderated"], 0);

    let response = client.get("/readyz").await;
    assert_ok_json(&response);
    assert_eq!(response.json()["status"], "ready");
}

#[tokio::test]
async fn configured_webhook_path() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    let config = wordgate::config::Config { webhook_path: "/im/callback".into(), ..config(dir.path()) };
    let server = TestServer::start(config).await;
    let body = sample("oa-before-send.request.json");
    let query = target(OA_BEFORE).replacen('/', "/im/callback", 1);
    assert_eq!(server.post(&query, &body).await.json()["ErrorCode"], 1);
    assert_eq!(server.post(&target(OA_BEFORE), &body).await.status, 404);
}

// ---- Connections ----

#[tokio::test]
async fn many_requests_on_one_keep_alive_connection() {
    let (server, _dir) =
        server_with(&[("banned.txt", "@action reject\nred packet\n"), ("rude.txt", "@action mask\ndarn\n")])
            .await;
    let mut client = server.connect().await;
    for round in 0..3 {
        let response = client.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
        assert_eq!(response.json()["ErrorCode"], 1, "round {round}");
        let response = client.post(&target(C2C_BEFORE), &text_message(C2C_BEFORE, "hello")).await;
        assert_eq!(response.json()["ErrorCode"], 0);
        let response = client.post(&target(GROUP_BEFORE), &text_message(GROUP_BEFORE, "darn")).await;
        assert_eq!(response.json()["MsgBody"][0]["MsgContent"]["Text"], "****");
        let response = client.post(&target(OA_BEFORE), b"not json").await;
        assert_eq!(response.status, 400);
        assert_eq!(client.get("/healthz").await.status, 200);
        assert_ne!(response.header("connection"), Some("close"));
    }
    // Pipelined: two requests in one write, two answers in order.
    let mut both = util::post_request(&target(OA_BEFORE), &text_message(OA_BEFORE, "hello"));
    both.extend(util::post_request(&target(OA_BEFORE), &sample("oa-before-send.request.json")));
    client.send(&both).await;
    assert_eq!(client.response().await.json()["ErrorCode"], 0);
    assert_eq!(client.response().await.json()["ErrorCode"], 1);
    assert_eq!(server.state.webhook.counters().values().moderated, 3 * 3 + 2);
}

#[tokio::test]
async fn graceful_shutdown_completes_an_in_flight_request() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    // With a token, the wall clock is read when a callback's headers are in
    // (to check `RequestTime`): the test learns from it that the request is
    // in flight.
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
    let clock: wordgate::server::Clock = std::sync::Arc::new(move || {
        let _ = arrived_tx.send(());
        std::time::UNIX_EPOCH + Duration::from_secs(VECTOR_TIME)
    });
    let config = wordgate::config::Config {
        request_budget_ms: 2000,
        token: Secret("xxxxyyyy".into()),
        ..config(dir.path())
    };
    let mut server = TestServer::start_with_clock(config, Some(clock)).await;
    let addr = server.addr;

    // An idle keep-alive connection, and one with a request half sent.
    let mut idle = server.connect().await;
    assert_eq!(idle.get("/readyz").await.status, 200);
    let mut busy = server.connect().await;
    let request =
        util::post_request(&signed_target(VECTOR_SIGN, VECTOR_TIME), &sample("oa-before-send.request.json"));
    let split = request.len() - 20;
    busy.send(&request[..split]).await;
    arrived.recv().await.expect("the callback reached the handler");

    server.signal_shutdown();
    // Idle connections are closed at once, after the listener is dropped.
    idle.closed().await;
    assert!(TcpStream::connect(addr).await.is_err(), "no new connections once shutting down");

    // The in-flight request still gets its real answer, then the connection
    // closes.
    busy.send(&request[split..]).await;
    let response = busy.response().await;
    assert_ok_json(&response);
    assert_eq!(response.json()["ErrorCode"], 1);
    assert_eq!(response.header("connection"), Some("close"));
    busy.closed().await;
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn shutdown_drain_is_bounded() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    let config =
        wordgate::config::Config { shutdown_timeout_secs: 0, request_budget_ms: 2000, ..config(dir.path()) };
    let server = TestServer::start(config).await;
    let mut stuck = server.connect().await;
    // A request whose body never comes.
    let head = format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{{", target(OA_BEFORE));
    stuck.send(head.as_bytes()).await;
    // Make sure the server has the connection (a second connection's
    // answer proves the accept loop got past the first).
    assert_eq!(server.connect().await.get("/healthz").await.status, 200);
    assert!(matches!(server.stop().await, Drain::TimedOut { .. }));
}

#[tokio::test]
async fn a_slow_body_gets_the_fail_policy_answer_within_the_budget() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    for (policy, code) in [(FailPolicy::Allow, 0), (FailPolicy::Reject, 1)] {
        let config =
            wordgate::config::Config { request_budget_ms: 100, fail_policy: policy, ..config(dir.path()) };
        let server = TestServer::start(config).await;
        let mut client = server.connect().await;
        let head =
            format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{{", target(C2C_BEFORE));
        client.send(head.as_bytes()).await;
        let response = client.response().await;
        assert_ok_json(&response);
        assert_eq!(response.json(), json!({"ActionStatus": "OK", "ErrorCode": code, "ErrorInfo": ""}));
        assert_eq!(server.state.webhook.counters().values().fail_policy_budget, 1);
    }
}

#[tokio::test]
async fn headers_must_arrive_in_time() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    let config = wordgate::config::Config { header_read_timeout_secs: 1, ..config(dir.path()) };
    let server = TestServer::start(config).await;
    let mut slow = server.connect().await;
    slow.send(b"POST / HTTP/1.1\r\nHost: t\r\n").await;
    slow.closed().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_their_turn() {
    let dir = dictionaries(&[("banned.txt", "@action reject\nred packet\n")]);
    let config = wordgate::config::Config { max_connections: 1, ..config(dir.path()) };
    let server = TestServer::start(config).await;
    let mut first = server.connect().await;
    assert_eq!(first.get("/healthz").await.status, 200);

    let mut second = Client::connect(server.addr).await; // queued in the backlog
    second.send(&util::get_request("/healthz")).await;
    // A negative check needs a bound: nothing may arrive while `first` holds
    // the only slot.
    let early = tokio::time::timeout(Duration::from_millis(300), second.response()).await;
    assert!(early.is_err(), "second connection was served while the first held the only slot");

    drop(first);
    assert_eq!(second.response().await.status, 200);
}

// ---- The shipped starter dictionaries, and the binary itself ----

#[tokio::test]
async fn shipped_dictionaries() {
    let server = TestServer::start(config(&util::shipped())).await;
    let response = server.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_eq!(response.json(), sample_json("oa-before-send.response-allow.json"));

    let response = server.post(&target(OA_BEFORE), &text_message(OA_BEFORE, "一起去赌博吧")).await;
    assert_eq!(
        response.json(),
        json!({"ActionStatus": "OK", "ErrorCode": 120002, "ErrorInfo": "消息包含赌博相关内容"})
    );
    let response = server.post(&target(GROUP_BEFORE), &text_message(GROUP_BEFORE, "一起去赌博吧")).await;
    assert_eq!(response.json()["ErrorCode"], 10102);
    let response = server.post(&target(C2C_BEFORE), &text_message(C2C_BEFORE, "ＦＵＣＫ this")).await;
    assert_eq!(response.json()["MsgBody"][0]["MsgContent"]["Text"], "**** this");
    let response = server.post(&target(C2C_BEFORE), &text_message(C2C_BEFORE, "buy followers now")).await;
    assert_eq!(response.json()["ErrorCode"], 2);
}

#[test]
fn binary_refuses_to_start_without_an_sdkappid() {
    let output = util::wordgate_serve(&["--listen", "127.0.0.1:0"]).output().expect("wordgate runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("wordgate: no SdkAppid configured"), "{stderr}");
}

#[test]
fn binary_refuses_unknown_config_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wordgate.toml");
    std::fs::write(&file, "sdkappid = [1]\nmax_body = 10\n").expect("write");
    let output =
        util::wordgate_serve(&["--config", file.to_str().expect("UTF-8")]).output().expect("wordgate runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `max_body`"), "{stderr}");
}

#[test]
fn binary_serves_and_stops_on_sigterm() {
    use std::io::BufReader;

    let shipped = util::shipped();
    let app = APP.to_string();
    let mut child = util::wordgate_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--sdkappid",
        &app,
        "--dictionaries",
        shipped.to_str().expect("UTF-8"),
    ])
    .spawn()
    .expect("wordgate starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let addr = util::logged_address(&mut stderr).expect("the server logs its address");
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answer = runtime.block_on(async {
        let mut client = Client::connect(addr).await;
        client.post(&target(OA_BEFORE), &text_message(OA_BEFORE, "一起去赌博吧")).await.json()
    });
    assert_eq!(answer["ErrorCode"], 120002);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("wordgate exits");
    assert!(status.success(), "{status:?}");
    let _ = drain.join();
}
