//! The console's HTTP side over real connections: who gets it (loopback,
//! a remote peer with and without the admin token), and what its API
//! answers. The browser tests (`tests/browser/`) drive the page itself.

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::server::util::{config, dictionaries, non_loopback_address, target, Client, Response, TestServer};
use wordgate::config::{Config, Secret};

const TOKEN: &str = "0123456789abcdef0123";
const C2C_BEFORE: &str = "C2C.CallbackBeforeSendMsg";

fn lists() -> tempfile::TempDir {
    dictionaries(&[
        ("ads.txt", "@action reject\n@group-code 10120\n@scope group:AVChatRoom\n加群\n"),
        ("rude.txt", "@action mask\n傻逼\nfuck\n"),
        ("zz-allow.txt", "@action allow\n加群聊\n"),
    ])
}

/// One request with exactly these header lines.
async fn request(client: &mut Client, method: &str, path: &str, headers: &str, body: &str) -> Response {
    let request =
        format!("{method} {path} HTTP/1.1\r\n{headers}Content-Length: {}\r\n\r\n{body}", body.len());
    client.send(request.as_bytes()).await;
    client.response().await
}

const LOCAL: &str = "Host: 127.0.0.1\r\n";
const API: &str = "Host: 127.0.0.1\r\nX-Wordgate-Console: 1\r\nContent-Type: application/json\r\n";

/// Every path of the console, with a method it answers.
const EVERY_PATH: [(&str, &str); 8] = [
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/console.js"),
    ("GET", "/console/console.css"),
    ("GET", "/console/api/dictionaries"),
    ("GET", "/console/api/now"),
    ("POST", "/console/api/try"),
    ("POST", "/console/api/reload"),
];

/// Nothing of the console is in `response`: no page, script, style or data.
fn nothing_of_the_console(response: &Response) {
    let text = response.text();
    for sign in ["console.js", "tablist", "function", "--ink", "\"categories\"", "\"hour\"", "\"generation\""]
    {
        assert!(!text.contains(sign), "{} gave away {sign:?}: {text}", response.status);
    }
}

#[tokio::test]
async fn without_a_token_only_local_pages_are_answered() {
    let lists = lists();
    let server = TestServer::start_on_every_interface(config(lists.path())).await;
    let port = server.addr.port();

    // Loopback, asking for a loopback host: the console.
    let mut local = Client::connect(SocketAddr::from(([127, 0, 0, 1], port))).await;
    let page = request(&mut local, "GET", "/console", LOCAL, "").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.text().contains("<title>wordgate console</title>"));
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(policy.starts_with("default-src 'self'"), "nothing may load from elsewhere: {policy}");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let script = request(&mut local, "GET", "/console/console.js", LOCAL, "").await;
    assert_eq!((script.status, script.header("content-type")), (200, Some("text/javascript; charset=utf-8")));

    // Loopback, but a host name of someone else's pointed at 127.0.0.1 (DNS
    // rebinding): nothing.
    for (method, path) in EVERY_PATH {
        let response =
            request(&mut local, method, path, "Host: evil.example\r\nX-Wordgate-Console: 1\r\n", "").await;
        assert_eq!(response.status, 403, "{method} {path}");
        assert!(response.json()["error"].is_string());
        nothing_of_the_console(&response);
    }

    // A remote peer: nothing, whatever it asks for, login included.
    let remote_addr = SocketAddr::new(non_loopback_address(), port);
    let mut remote = Client::connect(remote_addr).await;
    for (method, path) in EVERY_PATH.iter().copied().chain([("POST", "/console/login")]) {
        let host = format!("Host: {remote_addr}\r\nX-Wordgate-Console: 1\r\n");
        let response = request(&mut remote, method, path, &host, "token=x").await;
        assert_eq!(response.status, 403, "{method} {path}: {}", response.text());
        nothing_of_the_console(&response);
    }
    // The webhook itself still answers the remote peer.
    let body = json!({"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]}).to_string();
    let answer = remote.post(&target(C2C_BEFORE), body.as_bytes()).await;
    assert_eq!(answer.json()["ErrorCode"], 0);
}

#[tokio::test]
async fn with_a_token_a_remote_peer_logs_in() {
    let lists = lists();
    let config = Config { admin_token: Secret(TOKEN.into()), ..config(lists.path()) };
    let server = TestServer::start_on_every_interface(config).await;
    let remote_addr = SocketAddr::new(non_loopback_address(), server.addr.port());
    let host = format!("Host: {remote_addr}\r\n");
    let mut remote = Client::connect(remote_addr).await;

    // Without the token: the login form for the page, 401 for the rest.
    let page = request(&mut remote, "GET", "/console", &host, "").await;
    assert_eq!(page.status, 401);
    assert!(page.text().contains("name=\"token\""), "{}", page.text());
    nothing_of_the_console(&page);
    for (method, path) in EVERY_PATH.into_iter().skip(2) {
        let response =
            request(&mut remote, method, path, &format!("{host}X-Wordgate-Console: 1\r\n"), "").await;
        assert_eq!(response.status, 401, "{method} {path}");
        nothing_of_the_console(&response);
    }
    // Loopback is no exception once a token is configured.
    let mut local = Client::connect(SocketAddr::from(([127, 0, 0, 1], server.addr.port()))).await;
    assert_eq!(request(&mut local, "GET", "/console/api/now", LOCAL, "").await.status, 401);

    // A wrong token: the form again.
    let form = format!("{host}Content-Type: application/x-www-form-urlencoded\r\n");
    let wrong = request(&mut remote, "POST", "/console/login", &form, "token=nope").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("That is not the admin token."));
    assert!(wrong.header("set-cookie").is_none());

    // The right one sets the session cookie and sends the browser on.
    let right = request(&mut remote, "POST", "/console/login", &form, &format!("token={TOKEN}")).await;
    assert_eq!((right.status, right.header("location")), (303, Some("/console")));
    let cookie = right.header("set-cookie").unwrap_or_default().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/console")
    );
    assert!(!cookie.contains(TOKEN), "the cookie is not the token itself: {cookie}");
    let session = cookie.split(';').next().unwrap_or_default();
    let page = request(&mut remote, "GET", "/console", &format!("{host}Cookie: {session}\r\n"), "").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>wordgate console</title>"));
    // A forged cookie is not a session.
    let forged = request(
        &mut remote,
        "GET",
        "/console/api/now",
        &format!("{host}Cookie: wordgate_console=00\r\n"),
        "",
    )
    .await;
    assert_eq!(forged.status, 401);

    // The token as a bearer works for the API too.
    let bearer = format!("{host}Authorization: Bearer {TOKEN}\r\n");
    let now = request(&mut remote, "GET", "/console/api/now", &bearer, "").await;
    assert_eq!(now.status, 200);
    assert!(now.json()["hour"]["minutes"].is_array());
}

async fn try_message(client: &mut Client, asked: Value) -> Value {
    let response = request(client, "POST", "/console/api/try", API, &asked.to_string()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

#[tokio::test]
async fn try_judges_as_the_webhook_would_and_explains() {
    let lists = lists();
    let server = TestServer::start(config(lists.path())).await;
    let mut client = server.connect().await;

    // A text in a live room: the scoped ad list rejects with its group code;
    // the allow list excuses 加群 inside 加群聊; the fold step that made
    // `f u c k` match is named.
    let judged = try_message(
        &mut client,
        json!({"mode": "text", "input": "快来加群聊 加群 f u c k", "callback": "group", "group_type": "AVChatRoom"}),
    )
    .await;
    assert_eq!((judged["decision"].as_str(), judged["error_code"].as_u64()), (Some("reject"), Some(10120)));
    assert_eq!(judged["place"], "group:AVChatRoom");
    assert_eq!(judged["answer"]["ErrorCode"], 10120);
    let explained = &judged["explained"];
    let hits: Vec<(String, String, Value)> = explained["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|hit| {
            (
                hit["entry"].as_str().unwrap_or_default().into(),
                hit["matched"].as_str().unwrap_or_default().into(),
                hit["steps"].clone(),
            )
        })
        .collect();
    assert_eq!(
        hits,
        [("加群".into(), "加群".into(), json!([])), ("fuck".into(), "f u c k".into(), json!(["noise"]))]
    );
    assert_eq!(explained["suppressed"][0]["allowed_by"], json!({"category": "zz-allow", "entry": "加群聊"}));
    let marked: Vec<(&str, Value)> = explained["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|segment| segment["marks"].as_array().is_some_and(|marks| !marks.is_empty()))
        .map(|segment| (segment["text"].as_str().unwrap_or_default(), segment["marks"][0].clone()))
        .collect();
    assert_eq!(
        marked,
        [("加群", json!({"suppressed": 0})), ("加群", json!({"hit": 0})), ("f u c k", json!({"hit": 1}))]
    );

    // The same text one-to-one: the ad list is out of scope, the mask is
    // the answer, with the rewritten MsgBody Tencent would get.
    let judged =
        try_message(&mut client, json!({"mode": "text", "input": "加群 f u c k", "callback": "c2c"})).await;
    assert_eq!(judged["decision"], "mask");
    assert_eq!(judged["out_of_scope"], json!(["ads"]));
    assert_eq!(judged["answer"]["MsgBody"][0]["MsgContent"]["Text"], "加群 *******");

    // A whole callback body: its own `Type` places it.
    let body = json!({
        "CallbackCommand": "Group.CallbackBeforeSendMsg", "GroupId": "@TGS#1", "Type": "AVChatRoom",
        "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "{\"text\":\"\\u52a0\\u7fa4\"}"}}],
    });
    let judged =
        try_message(&mut client, json!({"mode": "body", "input": body.to_string(), "callback": "group"}))
            .await;
    assert_eq!(judged["error_code"], 10120, "{judged}");
    assert_eq!(judged["hits"][0]["field"], "MsgBody[0].MsgContent.Data#/text");

    // Mistakes are JSON errors, and the console keeps serving.
    for (asked, says) in [
        (json!({"mode": "body", "input": "{not json", "callback": "c2c"}), "the body:"),
        (json!({"mode": "text", "input": "x", "callback": "broadcast"}), "expected oa, c2c or group"),
        (json!({"mode": "text", "input": "x", "callback": "c2c", "app": "14x"}), "an SDKAppID is a number"),
        (json!({"mode": "text"}), "not a try request"),
    ] {
        let response = request(&mut client, "POST", "/console/api/try", API, &asked.to_string()).await;
        assert_eq!(response.status, 400, "{asked}");
        assert!(
            response.json()["error"].as_str().is_some_and(|error| error.contains(says)),
            "{}",
            response.text()
        );
    }
    // Without the console's header a POST is refused (a form on another
    // site cannot send it).
    let forged = request(&mut client, "POST", "/console/api/reload", LOCAL, "").await;
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn dictionaries_and_now_show_what_is_live() {
    let lists = lists();
    let server = TestServer::start(Config { watch: false, ..config(lists.path()) }).await;
    let mut client = server.connect().await;
    let dictionaries = request(&mut client, "GET", "/console/api/dictionaries", LOCAL, "").await.json();
    assert_eq!(dictionaries["dictionaries"]["generation"], 1);
    assert_eq!(dictionaries["categories"][0]["name"], "ads");
    assert_eq!(dictionaries["categories"][0]["scope"], json!(["group:AVChatRoom"]));
    assert_eq!(dictionaries["categories"][0]["group_code"], 10120);
    assert_eq!(dictionaries["categories"][1]["entries"], 2);

    // A broken file: the reload's report names it, generation 1 stays.
    std::fs::write(lists.path().join("bad.txt"), "@action reject\n@scope live\nx\n").expect("write");
    let reloaded = request(&mut client, "POST", "/console/api/reload", API, "").await;
    assert_eq!(reloaded.status, 422);
    let dictionaries = request(&mut client, "GET", "/console/api/dictionaries", LOCAL, "").await.json();
    assert_eq!(dictionaries["reload"]["last"]["result"], "failed");
    let error = dictionaries["reload"]["last"]["errors"][0].as_str().unwrap_or_default();
    assert!(error.ends_with("bad.txt:2: unknown scope selector `live` (expected oa, c2c, group, group:<Type> (Public, Private, ChatRoom, AVChatRoom, Community; Work and Meeting name Private and ChatRoom) or app:<SDKAppID>)"), "{error}");

    // Callbacks move the minute counters.
    for text in ["hello", "傻逼", "傻逼 fuck"] {
        let body = json!({"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]}).to_string();
        client.post(&target(C2C_BEFORE), body.as_bytes()).await;
    }
    let hour = request(&mut client, "GET", "/console/api/now", LOCAL, "").await.json()["hour"].clone();
    let last = |list: &Value, name: &str| {
        list.as_array().into_iter().flatten().find(|series| series["name"] == name).and_then(|series| {
            series["counts"].as_array().and_then(|counts| counts.last()).and_then(Value::as_u64)
        })
    };
    assert_eq!(last(&hour["verdicts"], "allow"), Some(1), "{hour}");
    assert_eq!(last(&hour["verdicts"], "mask"), Some(2), "{hour}");
    assert_eq!(last(&hour["categories"], "rude"), Some(2), "once per callback: {hour}");
}
