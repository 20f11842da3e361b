//! Text inside JSON payloads and byte-faithful rewrites, over real HTTP.
//!
//! TUIKit-style custom messages carry the user's text in a JSON document in
//! `TIMCustomElem.Data`, replies in `CloudCustomData`; encoders with ASCII
//! output write that text as `\u` escapes. These tests send such bodies to
//! a server on `127.0.0.1:0` on all three before-send callbacks, at the top
//! and inside relayed messages, and check that the answer's `MsgBody` is the
//! request's own bytes but for the masked characters.

use serde_json::Value;

use crate::server::util::{config, dictionaries, sample, target, TestServer};

const COMMANDS: [&str; 3] =
    ["OfficialAccount.CallbackBeforeSendMsg", "C2C.CallbackBeforeSendMsg", "Group.CallbackBeforeSendMsg"];

const FILES: &[(&str, &str)] = &[
    ("gambling.txt", "@action reject\n@code 120002\n@group-code 10102\n@info 赌博\n赌博\n"),
    ("rude.txt", "@action mask\ndarn\n"),
];

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = dictionaries(FILES);
    (TestServer::start(config(dir.path())).await, dir)
}

/// `text` as a JSON string whose every non-ASCII character (and, with
/// `all`, every letter) is a `\u` escape, as `JSON.stringify` with an ASCII
/// replacer or Python's `json.dumps` write it.
fn ascii_json_string(text: &str, all: bool) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        if !ch.is_ascii() || (all && ch.is_ascii_alphabetic()) {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(ch);
        }
    }
    out.push('"');
    out
}

/// `inner` (a JSON document) as the value of a field in the body.
fn field(inner: &str) -> String {
    Value::String(inner.to_string()).to_string()
}

fn custom(data: &str) -> String {
    format!(r#"{{"MsgType":"TIMCustomElem","MsgContent":{{"Data":{},"Desc":"","Ext":""}}}}"#, field(data))
}

fn text(text: &str) -> String {
    format!(r#"{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"{text}"}}}}"#)
}

/// `elements` inside `levels` relays.
fn relayed(elements: &str, cloud: Option<&str>, levels: usize) -> String {
    let mut body = elements.to_string();
    for _ in 0..levels {
        let cloud = cloud.map(|data| format!(r#","CloudCustomData":{}"#, field(data))).unwrap_or_default();
        body = format!(
            r#"{{"MsgType":"TIMRelayElem","MsgContent":{{"Title":"history","MsgList":[{{"From_Account":"a","MsgBody":[{body}]{cloud}}}]}}}}"#
        );
    }
    body
}

fn body(command: &str, elements: &str, cloud: Option<&str>) -> Vec<u8> {
    let cloud = cloud.map(|data| format!(r#","CloudCustomData":{}"#, field(data))).unwrap_or_default();
    format!(r#"{{"CallbackCommand":"{command}","From_Account":"a","MsgBody":[{elements}]{cloud}}}"#)
        .into_bytes()
}

#[tokio::test]
async fn escaped_words_inside_payloads_are_caught_on_every_callback_and_at_relay_depth() {
    let (server, _dir) = server().await;
    let link = format!(
        r#"{{"businessID":"text_link","text":{},"link":"https://x"}}"#,
        ascii_json_string("来赌博吧", false)
    );
    let reply = format!(
        r#"{{"messageReply":{{"messageAbstract":{},"messageSender":"b","version":1}}}}"#,
        ascii_json_string("赌博", false)
    );
    let places: [(&str, String, Option<&str>); 5] = [
        ("custom Data", custom(&link), None),
        ("CloudCustomData", text("hi"), Some(&reply)),
        ("custom Data in a relay, 3 deep", relayed(&custom(&link), None, 3), None),
        ("CloudCustomData of a relayed message", relayed(&text("hi"), Some(&reply), 1), None),
        ("CloudCustomData of a relayed message, 5 deep", relayed(&text("hi"), Some(&reply), 5), None),
    ];
    for command in COMMANDS {
        let code = if command.starts_with("Group") { 10102 } else { 120002 };
        for (place, elements, cloud) in &places {
            let request = body(command, elements, *cloud);
            assert!(!String::from_utf8_lossy(&request).contains('赌'), "the word is only ever escaped");
            let response = server.post(&target(command), &request).await;
            assert_eq!(response.status, 200, "{place}: {}", response.text());
            assert_eq!(response.json()["ErrorCode"], code, "{command}, {place}: {}", response.text());
        }
        // The same payloads with clean text are delivered.
        let clean = link.replace(r"\u8d4c\u535a", "ok");
        let response = server.post(&target(command), &body(command, &custom(&clean), None)).await;
        assert_eq!(response.json()["ErrorCode"], 0, "{}", response.text());
    }
}

#[tokio::test]
async fn a_mask_inside_a_payload_keeps_it_json_and_every_other_byte() {
    let (server, _dir) = server().await;
    // Python's json.dumps escapes everything that is not ASCII; here every
    // letter of the word too, so the word exists only once decoded.
    let data = format!(
        r#"{{"businessID": "text_link", "text": {}, "price": 1.50, "big": 1e400, "tag": "\u4f60\u597d"}}"#,
        ascii_json_string("oh darn it", true)
    );
    let reply = r#"{"messageReply":{"messageAbstract":"darn","id":7}}"#.to_string();
    for command in COMMANDS {
        let request = body(command, &format!("{},{}", custom(&data), text("fine")), Some(&reply));
        let response = server.post(&target(command), &request).await;
        let answer = response.text();
        assert_eq!(response.json()["ErrorCode"], 0, "{answer}");
        // Byte for byte: the request's MsgBody and CloudCustomData with
        // only the bytes that wrote the masked letters replaced.
        let escaped_word = ascii_json_string("darn", true);
        let escaped_word = escaped_word.trim_matches('"').replace('\\', r"\\");
        let request = String::from_utf8_lossy(&request).into_owned();
        let msg_body = &request[request.find(r#""MsgBody":"#).map_or(0, |at| at + 10)
            ..request.find(r#","CloudCustomData""#).unwrap_or(0)];
        let expected_msg_body = msg_body.replacen(&escaped_word, "****", 1);
        assert_ne!(expected_msg_body, msg_body);
        let cloud = field(&reply).replacen("darn", "****", 1);
        assert_eq!(
            answer,
            format!(
                r#"{{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":{expected_msg_body},"CloudCustomData":{cloud}}}"#
            )
        );
        // And the documents inside are still JSON, their other values exact.
        let answer = response.json();
        let Some(data) = answer["MsgBody"][0]["MsgContent"]["Data"].as_str() else { panic!("{answer}") };
        assert!(data.contains(r#""price": 1.50, "big": 1e400, "tag": "\u4f60\u597d""#), "{data}");
        let document: Value = serde_json::from_str(data).expect("the payload is still JSON");
        assert_eq!(document["text"], "oh **** it");
        assert_eq!(document["tag"], "你好");
        let cloud: Value =
            serde_json::from_str(answer["CloudCustomData"].as_str().unwrap_or_default()).expect("JSON");
        assert_eq!(cloud["messageReply"]["messageAbstract"], "****");
    }
}

/// Every element type Tencent documents, a masked word in each text field,
/// in a pretty-printed body: the rewrite is the request with only those
/// characters replaced.
#[tokio::test]
async fn a_mask_keeps_every_other_byte_of_every_element_type() {
    let (server, _dir) = server().await;
    let elements = String::from_utf8(sample("elements.json")).expect("UTF-8").trim().to_string();
    let mut masked_fields = 0;
    let mut with_words = elements.clone();
    for value in [
        "\"hello world\"",
        "\"someinfo\"",
        "\"content\"",
        "\"message\"",
        "\"notification\"",
        "\"url\"",
        "\"Chat history\"",
        "\"Upgrade to view the merged message\"",
        "\"jared: hello\"",
        "\"hello\"",
        "\"world\"",
    ] {
        assert!(with_words.contains(value), "{value}");
        masked_fields += with_words.matches(value).count();
        with_words = with_words.replace(value, &format!("\"darn {}", &value[1..]));
    }
    with_words = with_words.replace("trim.B75D5F9B", "darn.B75D5F9B");
    for command in COMMANDS {
        let request = format!(
            "{{\n  \"CallbackCommand\": \"{command}\",\n  \"MsgBody\": {with_words},\n  \"CloudCustomData\": \"x\"\n}}"
        );
        let response = server.post(&target(command), request.as_bytes()).await;
        let expected = with_words.replace("darn", "****");
        assert_eq!(expected.matches("****").count(), masked_fields + 1);
        assert_eq!(
            response.text(),
            format!(r#"{{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":{expected}}}"#)
        );
    }
}
