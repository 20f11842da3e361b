//! Scoped lists (`@scope`) over real HTTP: one server, one engine, the
//! same message judged by where it is sent — the kind of callback, a
//! group's `Type`, the SDKAppID — and a reload that changes only a scope.

use std::path::Path;

use serde_json::{json, Value};

use crate::server::util::{config, dictionaries, sample_json, Client, TestServer, APP};
use wordgate::config::{AuditTarget, Config};
use wordgate::server::Drain;

/// A second app served by the same wordgate.
const DATING_APP: u64 = 1400000002;

const OA_BEFORE: &str = "OfficialAccount.CallbackBeforeSendMsg";
const C2C_BEFORE: &str = "C2C.CallbackBeforeSendMsg";
const GROUP_BEFORE: &str = "Group.CallbackBeforeSendMsg";

/// Lists for a deployment with live rooms, private groups, one-to-one
/// chats, an official account and two apps.
fn scoped_lists() -> tempfile::TempDir {
    dictionaries(&[
        // Strict anti-ad list for live-streaming rooms only.
        (
            "ads.txt",
            "@action reject\n@code 120020\n@group-code 10120\n@info no ads in live rooms\n\
             @scope group:AVChatRoom\n加群\n",
        ),
        // Insults masked in private conversations.
        ("rude.txt", "@action mask\n@scope c2c group:Private\n傻逼\n"),
        // The political list applies everywhere.
        ("politics.txt", "@action reject\n@code 120030\n@group-code 10130\n反动\n"),
        // Only the dating app blocks this.
        ("dating.txt", "@action reject\n@code 120040\n@scope app:1400000002\n约炮\n"),
        // The official account's history articles may say 反动派.
        ("zz-history.txt", "@action allow\n@scope oa\n反动派\n"),
    ])
}

fn served_for_both_apps(dir: &Path) -> Config {
    Config { sdkappid: vec![APP, DATING_APP], ..config(dir) }
}

fn target(app: u64, command: &str) -> String {
    format!("/?SdkAppid={app}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1&OptPlatform=iOS")
}

/// A before-send body of `command` carrying `text`; for groups, `Type`.
fn body(command: &str, group_type: Option<&str>, text: &str) -> Vec<u8> {
    let sample = match command {
        OA_BEFORE => "oa-before-send.request.json",
        C2C_BEFORE => "c2c-before-send.request.json",
        _ => "group-before-send.request.json",
    };
    let mut body = sample_json(sample);
    body["MsgBody"] = json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]);
    match (group_type, body.as_object_mut()) {
        (Some(kind), Some(fields)) => drop(fields.insert("Type".into(), json!(kind))),
        (None, Some(fields)) => drop(fields.remove("Type")),
        (_, None) => panic!("a sample is an object"),
    }
    body.to_string().into_bytes()
}

/// `(ErrorCode, masked text or null)` of the answer.
async fn judged(client: &mut Client, app: u64, command: &str, group_type: Option<&str>, text: &str) -> Value {
    let response = client.post(&target(app, command), &body(command, group_type, text)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let answer = response.json();
    json!([answer["ErrorCode"], answer["MsgBody"][0]["MsgContent"]["Text"]])
}

#[tokio::test]
async fn the_same_message_is_judged_by_the_place_it_is_sent_in() {
    let lists = scoped_lists();
    let server = TestServer::start(served_for_both_apps(lists.path())).await;
    let mut client = server.connect().await;

    let text = "快来加群 傻逼";
    let places: [(&str, Option<&str>, Value); 7] = [
        // The live room's anti-ad list rejects, with its group code.
        (GROUP_BEFORE, Some("AVChatRoom"), json!([10120, null])),
        // A private work group masks the insult and lets the invitation be.
        (GROUP_BEFORE, Some("Private"), json!([0, "快来加群 **"])),
        // `Work` is Tencent's other name for a private group.
        (GROUP_BEFORE, Some("Work"), json!([0, "快来加群 **"])),
        // A public group has neither list.
        (GROUP_BEFORE, Some("Public"), json!([0, null])),
        // A group of a type no list names, or of none: only plain `group`.
        (GROUP_BEFORE, None, json!([0, null])),
        (C2C_BEFORE, None, json!([0, "快来加群 **"])),
        (OA_BEFORE, None, json!([0, null])),
    ];
    for (command, group_type, expected) in places {
        let got = judged(&mut client, APP, command, group_type, text).await;
        assert_eq!(got, expected, "{command} {group_type:?}");
    }

    // Two apps behind one wordgate.
    assert_eq!(judged(&mut client, APP, C2C_BEFORE, None, "约炮吗").await, json!([0, null]));
    assert_eq!(judged(&mut client, DATING_APP, C2C_BEFORE, None, "约炮吗").await, json!([120040, null]));
    assert_eq!(
        judged(&mut client, DATING_APP, GROUP_BEFORE, Some("Public"), "约炮吗").await,
        json!([1, null])
    );

    // A scoped allow list excuses only where it applies.
    assert_eq!(judged(&mut client, APP, OA_BEFORE, None, "反动派的历史").await, json!([0, null]));
    assert_eq!(judged(&mut client, APP, C2C_BEFORE, None, "反动派的历史").await, json!([120030, null]));
    assert_eq!(
        judged(&mut client, APP, GROUP_BEFORE, Some("AVChatRoom"), "反动派的历史").await,
        json!([10130, null])
    );

    // `Type` after `MsgBody` decides as well: the place is settled once the
    // body has been read, not when the text is.
    let late_type = format!(
        r#"{{"CallbackCommand":"{GROUP_BEFORE}","GroupId":"@TGS#1","From_Account":"jared","MsgBody":[{{"MsgType":"TIMTextElem","MsgContent":{{"Text":"{text}"}}}}],"Type":"AVChatRoom"}}"#
    );
    let answer = client.post(&target(APP, GROUP_BEFORE), late_type.as_bytes()).await.json();
    assert_eq!(answer["ErrorCode"], 10120, "{answer}");

    // /healthz shows each category's scope.
    let health = client.get("/healthz").await.json();
    let scopes: Vec<(String, Value)> = health["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|category| {
            (category["name"].as_str().unwrap_or_default().to_string(), category["scope"].clone())
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("ads".to_string(), json!(["group:AVChatRoom"])),
            ("dating".to_string(), json!(["app:1400000002"])),
            ("politics".to_string(), json!([])),
            ("rude".to_string(), json!(["c2c", "group:Private"])),
            ("zz-history".to_string(), json!(["oa"])),
        ]
    );
}

#[tokio::test]
async fn shadow_mode_exemptions_and_the_audit_work_per_scope() {
    let lists = scoped_lists();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        dry_run: true,
        exempt_senders: vec!["host".into()],
        audit: AuditTarget::File,
        audit_file: dir.path().join("audit.jsonl"),
        ..served_for_both_apps(lists.path())
    };
    let server = TestServer::start(config).await;
    let mut client = server.connect().await;

    // Shadow mode answers allow everywhere...
    for group_type in ["AVChatRoom", "Private"] {
        let got = judged(&mut client, APP, GROUP_BEFORE, Some(group_type), "快来加群").await;
        assert_eq!(got, json!([0, null]), "{group_type}");
    }
    // ...and an exempt sender is exempt in every scope.
    let mut exempt: Value =
        serde_json::from_slice(&body(GROUP_BEFORE, Some("AVChatRoom"), "快来加群")).expect("json");
    exempt["From_Account"] = json!("host");
    let answer = client.post(&target(APP, GROUP_BEFORE), exempt.to_string().as_bytes()).await.json();
    assert_eq!(answer["ErrorCode"], 0);
    assert_eq!(server.stop().await, Drain::Complete);

    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit file");
    let records: Vec<Value> =
        text.lines().map(|line| serde_json::from_str(line).expect("JSON line")).collect();
    assert_eq!(records.len(), 3, "{text}");
    // The verdict that would have been answered in the live room, with its
    // group code; in the private group the ad list is out of scope, and
    // the record says so.
    let summary: Vec<Value> = records
        .iter()
        .map(|record| {
            json!([
                record["group_type"],
                record["verdict"],
                record["error_code"],
                record["categories"],
                record["out_of_scope"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            json!(["AVChatRoom", "reject", 10120, ["ads"], null]),
            json!(["Private", "allow", 0, [], ["ads"]]),
            json!(["AVChatRoom", "exempt", 0, [], null]),
        ]
    );
}

/// `POST /admin/reload` from loopback.
async fn admin_reload(client: &mut Client) -> Value {
    let request = "POST /admin/reload HTTP/1.1\r\nHost: wordgate.test\r\nContent-Length: 0\r\n\r\n";
    client.send(request.as_bytes()).await;
    client.response().await.json()
}

#[tokio::test]
async fn a_reload_that_changes_only_a_scope_takes_effect() {
    let lists = scoped_lists();
    let config = Config { watch: false, ..served_for_both_apps(lists.path()) };
    let server = TestServer::start(config).await;
    let mut client = server.connect().await;
    assert_eq!(judged(&mut client, APP, C2C_BEFORE, None, "快来加群").await, json!([0, null]));

    let ads = lists.path().join("ads.txt");
    let edited =
        std::fs::read_to_string(&ads).expect("read").replace("@scope group:AVChatRoom", "@scope c2c");
    std::fs::write(&ads, edited).expect("write");
    let report = admin_reload(&mut client).await;
    assert_eq!(
        (report["result"].as_str(), report["generation"].as_u64()),
        (Some("reloaded"), Some(2)),
        "{report}"
    );
    assert_eq!(judged(&mut client, APP, C2C_BEFORE, None, "快来加群").await, json!([120020, null]));
    assert_eq!(
        judged(&mut client, APP, GROUP_BEFORE, Some("AVChatRoom"), "快来加群").await,
        json!([0, null])
    );

    // A misspelt selector is refused with its file and line; the edited
    // generation stays live.
    std::fs::write(&ads, "@action reject\n@scope group:AVChatroomm\n加群\n").expect("write");
    let report = admin_reload(&mut client).await;
    assert_eq!(report["result"], "failed", "{report}");
    let error = report["errors"][0].as_str().unwrap_or_default();
    assert!(error.contains("ads.txt:2: unknown group type `AVChatroomm`"), "{error}");
    assert_eq!(judged(&mut client, APP, C2C_BEFORE, None, "快来加群").await, json!([120020, null]));
}
