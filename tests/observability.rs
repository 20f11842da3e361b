//! The audit stream, `/metrics`, shadow mode and exemptions, over real
//! HTTP against a server on `127.0.0.1:0`.
//!
//! Audit files are read after [`TestServer::stop`], which returns only once
//! the drain is over and the audit writer has flushed: what the file holds
//! then is everything the server will ever write, with no polling.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use serde_json::{json, Value};

use crate::server::util::{self, config, dictionaries, sample, sample_json, target, Client, TestServer, APP};
use wordgate::audit_sink::{AuditLog, Sink};
use wordgate::config::{AuditTarget, Config};
use wordgate::server::{AppState, Drain};

const OA_BEFORE: &str = "OfficialAccount.CallbackBeforeSendMsg";
const C2C_BEFORE: &str = "C2C.CallbackBeforeSendMsg";
const GROUP_BEFORE: &str = "Group.CallbackBeforeSendMsg";
const OA_AFTER: &str = "OfficialAccount.CallbackAfterSendMsg";
const ALLOW: &str = r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;

/// A reject list (`forbidden`, code 120009 / group 10109) and a mask list
/// (`darn`).
fn lists() -> tempfile::TempDir {
    dictionaries(&[
        ("ban.txt", "@action reject\n@code 120009\n@group-code 10109\n@info not allowed\nforbidden\n"),
        ("rude.txt", "@action mask\ndarn\n"),
    ])
}

/// A sample request with its text replaced, as a JSON value to edit.
fn sample_with_text(name: &str, text: &str) -> Value {
    let mut body = sample_json(name);
    body["MsgBody"][0]["MsgContent"]["Text"] = json!(text);
    body
}

fn bytes(body: &Value) -> Vec<u8> {
    body.to_string().into_bytes()
}

/// A config writing the audit to `dir/audit.jsonl`.
fn audited(dictionaries: &Path, dir: &Path) -> Config {
    Config { audit: AuditTarget::File, audit_file: dir.join("audit.jsonl"), ..config(dictionaries) }
}

/// Every line of every audit file in `dir` (rotated ones first, oldest
/// first), each parsed as JSON.
fn audit_records(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("audit dir")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("audit.jsonl")))
        .collect();
    // audit.jsonl.N: larger N is older; the live file is newest.
    let age = |path: &Path| -> i64 {
        path.extension().and_then(|ext| ext.to_str()).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    files.sort_by_key(|path| -age(path));
    let mut records = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read audit file");
        for line in text.lines() {
            let record =
                serde_json::from_str(line).unwrap_or_else(|err| panic!("{}: {err}: {line}", path.display()));
            records.push(record);
        }
    }
    records
}

async fn stop(server: TestServer) {
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn audit_records_each_callback_kind_with_its_ids() {
    let lists = lists();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(audited(lists.path(), dir.path())).await;
    let mut client = server.connect().await;

    let oa = client.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_eq!(oa.text(), ALLOW);
    let c2c = bytes(&sample_with_text("c2c-before-send.request.json", "this is forbidden"));
    let c2c = client.post(&target(C2C_BEFORE), &c2c).await;
    assert_eq!(c2c.json()["ErrorCode"], 120009);
    let group = bytes(&sample_with_text("group-before-send.request.json", "darn it"));
    let group = client.post(&target(GROUP_BEFORE), &group).await;
    assert_eq!(group.json()["MsgBody"][0]["MsgContent"]["Text"], "**** it");
    let after = client.post(&target(OA_AFTER), &sample("oa-after-send.request.json")).await;
    assert_eq!(after.text(), ALLOW);
    stop(server).await;

    let records = audit_records(dir.path());
    assert_eq!(records.len(), 4, "{records:#?}");
    for record in &records {
        assert_eq!(record["sdkappid"], APP.to_string());
        assert_eq!(record["client_ip"], "127.0.0.1");
        assert_eq!(record["opt_platform"], "RESTAPI");
        assert_eq!(record["generation"], 1);
        assert_eq!(record["status"], 200);
        assert_eq!(record["dry_run"], false);
        assert!(record["elapsed_us"].is_u64(), "{record}");
        let time = record["time"].as_str().unwrap_or_default();
        assert!(time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
        // User content stays out by default.
        assert!(record.get("msg_body").is_none() && record.get("cloud_custom_data").is_none());
        assert!(!record.to_string().contains("red packet"));
    }

    let [oa, c2c, group, after] = &records[..] else { panic!("four records") };
    assert_eq!(oa["command"], OA_BEFORE);
    assert_eq!(oa["official_account"], "@TOA#_2J4SZEAEL");
    assert_eq!(oa["verdict"], "allow");
    assert_eq!(oa["error_code"], 0);
    assert_eq!(oa["hits"], json!([]));
    assert!(oa.get("from_account").is_none());

    assert_eq!(c2c["command"], C2C_BEFORE);
    assert_eq!((&c2c["from_account"], &c2c["to_account"]), (&json!("jared"), &json!("John")));
    assert_eq!(c2c["verdict"], "reject");
    assert_eq!(c2c["error_code"], 120009);
    assert_eq!(c2c["categories"], json!(["ban"]));
    assert_eq!(c2c["hits"], json!([{"category": "ban", "action": "reject", "entry": "forbidden"}]));

    assert_eq!(group["command"], GROUP_BEFORE);
    assert_eq!(group["group_id"], "@TGS#2J4SZEAEL");
    assert_eq!(group["from_account"], "jared");
    assert_eq!(group["operator_account"], "admin");
    assert_eq!(group["topic_id"], "@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic");
    assert_eq!(group["verdict"], "mask");
    assert_eq!(group["categories"], json!(["rude"]));

    assert_eq!(after["command"], OA_AFTER);
    assert_eq!(after["official_account"], "@TOA#_2J4SZEAEL");
    assert_eq!(after["verdict"], "acknowledged");
}

#[tokio::test]
async fn audit_carries_the_message_only_when_configured() {
    let lists = lists();
    for include in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { audit_include_message: include, ..audited(lists.path(), dir.path()) };
        let server = TestServer::start(config).await;
        let body = sample("c2c-before-send.request.json");
        assert_eq!(server.post(&target(C2C_BEFORE), &body).await.text(), ALLOW);
        stop(server).await;
        let records = audit_records(dir.path());
        assert_eq!(records.len(), 1);
        let sent = sample_json("c2c-before-send.request.json");
        if include {
            assert_eq!(records[0]["msg_body"], sent["MsgBody"]);
            assert_eq!(records[0]["cloud_custom_data"], sent["CloudCustomData"]);
        } else {
            assert!(records[0].get("msg_body").is_none(), "{}", records[0]);
            assert!(records[0].get("cloud_custom_data").is_none(), "{}", records[0]);
        }
    }
}

#[tokio::test]
async fn audit_file_rotates_at_its_size_and_loses_no_record() {
    const CALLS: usize = 60;
    const MAX_BYTES: u64 = 4096;
    let lists = lists();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { audit_max_bytes: MAX_BYTES, audit_keep: 100, ..audited(lists.path(), dir.path()) };
    let server = TestServer::start(config).await;
    let mut client = server.connect().await;
    for n in 0..CALLS {
        let body = bytes(&sample_with_text("c2c-before-send.request.json", &format!("message {n}")));
        assert_eq!(client.post(&target(C2C_BEFORE), &body).await.status, 200);
    }
    stop(server).await;

    let files = std::fs::read_dir(dir.path()).expect("audit dir").count();
    // About 450 bytes a record, so 9 a file: several rotations.
    assert!(files >= 5, "only {files} audit files");
    for entry in std::fs::read_dir(dir.path()).expect("audit dir").flatten() {
        let size = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        assert!(size <= MAX_BYTES, "{:?} has {size} bytes", entry.path());
    }
    let records = audit_records(dir.path());
    assert_eq!(records.len(), CALLS, "every record is in some file");
    // In order, oldest file first: nothing lost or reordered at a rotation.
    // (The test's one connection sends the calls one after another.)
    let times: Vec<&str> = records.iter().map(|r| r["time"].as_str().unwrap_or_default()).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
}

/// A sink whose first write blocks until the test opens the gate, standing
/// in for a disk that has stopped; it keeps what it is given.
struct GatedSink {
    gate: mpsc::Receiver<()>,
    written: Arc<Mutex<Vec<u8>>>,
}

impl Sink for GatedSink {
    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        // Blocks until a send or until the sender is dropped (open for good).
        let _ = self.gate.recv();
        self.written.lock().map_err(|_| std::io::Error::other("poisoned"))?.write_all(line)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_audit_queue_drops_and_counts_without_delaying_answers() {
    const CALLS: u64 = 20;
    let lists = lists();
    let config = config(lists.path());
    let (open_gate, gate) = mpsc::channel();
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink = GatedSink { gate, written: Arc::clone(&written) };
    let audit = AuditLog::start(Box::new(sink), 1, false).expect("audit writer");
    let state = AppState::new(&config, util::snapshot(&config)).with_audit(Some(audit));
    let server = TestServer::serve(state).await;

    let mut client = server.connect().await;
    let body = sample("oa-before-send.request.json");
    for _ in 0..CALLS {
        // Each answer arrives (the client gives up after 20 s) although
        // the writer is stuck on the first record.
        assert_eq!(client.post(&target(OA_BEFORE), &body).await.text(), ALLOW);
    }
    let stats = server.state.webhook.audit().map(|audit| audit.stats()).unwrap_or_default();
    // One record in the writer's hands, at most one in the queue.
    assert!(stats.dropped >= CALLS - 2, "{stats:?}");
    assert_eq!(stats.queue_capacity, 1);
    let health = client.get("/healthz").await.json();
    assert_eq!(health["audit"]["dropped"], stats.dropped);
    let metrics = parse_metrics(&client.get("/metrics").await.text());
    assert_eq!(metrics.get("wordgate_audit_records_dropped_total"), Some(&(stats.dropped as f64)));
    assert_eq!(metrics.get("wordgate_audit_queue_capacity"), Some(&1.0));

    drop(open_gate);
    drop(client);
    stop(server).await;
    let lines = written.lock().map(|text| text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count());
    assert_eq!(lines.ok().map(|n| n as u64 + stats.dropped), Some(CALLS), "written + dropped = sent");
}

/// Parses the text exposition: `name{labels} value` → value. Checks the
/// shape on the way: every sample's family has `# HELP` and `# TYPE`
/// before it, names carry the prefix, values are numbers.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut typed = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample line: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let name = series.split('{').next().unwrap_or_default();
        assert!(name.starts_with("wordgate_"), "{line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|family| typed.get(*family).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        let kind = typed.get(family).unwrap_or_else(|| panic!("no TYPE before {line}"));
        if kind == "counter" {
            assert!(name.ends_with("_total"), "counter without _total: {line}");
        }
        assert!(samples.insert(series.to_string(), value).is_none(), "repeated series: {line}");
    }
    samples
}

fn callbacks(command: &str, verdict: &str) -> String {
    format!("wordgate_callbacks_total{{command=\"{command}\",verdict=\"{verdict}\"}}")
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let lists = lists();
    let server = TestServer::start(Config { max_body_bytes: 2048, ..config(lists.path()) }).await;
    let mut client = server.connect().await;
    let oa = sample("oa-before-send.request.json");
    for _ in 0..2 {
        assert_eq!(client.post(&target(OA_BEFORE), &oa).await.text(), ALLOW);
    }
    let rejected = bytes(&sample_with_text("c2c-before-send.request.json", "forbidden"));
    assert_eq!(client.post(&target(C2C_BEFORE), &rejected).await.json()["ErrorCode"], 120009);
    let masked = bytes(&sample_with_text("group-before-send.request.json", "darn"));
    assert!(client.post(&target(GROUP_BEFORE), &masked).await.json()["MsgBody"].is_array());
    let after = sample("oa-after-send.request.json");
    assert_eq!(client.post(&target(OA_AFTER), &after).await.text(), ALLOW);
    let unknown = br#"{"CallbackCommand":"State.StateChange"}"#;
    assert_eq!(client.post(&target("State.StateChange"), unknown).await.text(), ALLOW);
    // A body whose command disagrees with the query: 400.
    assert_eq!(client.post(&target(C2C_BEFORE), &oa).await.status, 400);
    // Another app: 403. Too large: 413 (that connection is then closed).
    let stranger = target(OA_BEFORE).replace(&APP.to_string(), "1");
    assert_eq!(client.post(&stranger, &oa).await.status, 403);
    assert_eq!(server.post(&target(OA_BEFORE), &vec![b' '; 4096]).await.status, 413);

    let response = client.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let metrics = parse_metrics(&response.text());
    let get = |series: &str| metrics.get(series).copied().unwrap_or_else(|| panic!("no {series}"));
    assert_eq!(get(&callbacks(OA_BEFORE, "allow")), 2.0);
    assert_eq!(get(&callbacks(C2C_BEFORE, "reject")), 1.0);
    assert_eq!(get(&callbacks(GROUP_BEFORE, "mask")), 1.0);
    assert_eq!(get(&callbacks(OA_AFTER, "acknowledged")), 1.0);
    assert_eq!(get(&callbacks("other", "acknowledged")), 1.0);
    assert_eq!(get(&callbacks(C2C_BEFORE, "error")), 1.0);
    assert_eq!(get("wordgate_refused_requests_total{reason=\"unauthorized\"}"), 1.0);
    assert_eq!(get("wordgate_refused_requests_total{reason=\"bad_request\"}"), 1.0);
    assert_eq!(get("wordgate_refused_requests_total{reason=\"too_large\"}"), 1.0);
    assert_eq!(get("wordgate_fail_policy_answers_total{reason=\"budget\"}"), 0.0);
    let answered: f64 = metrics
        .iter()
        .filter(|(series, _)| series.starts_with("wordgate_callbacks_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(answered, 7.0);
    assert_eq!(get("wordgate_callback_duration_seconds_count"), answered);
    assert_eq!(get("wordgate_callback_duration_seconds_bucket{le=\"+Inf\"}"), answered);
    assert!(get("wordgate_callback_duration_seconds_bucket{le=\"2\"}") <= answered);
    assert!(get("wordgate_callback_duration_seconds_sum") > 0.0);
    let body_bytes =
        (2 * oa.len() + rejected.len() + masked.len() + after.len() + unknown.len() + oa.len()) as f64;
    assert_eq!(get("wordgate_callback_body_bytes_total"), body_bytes);
    assert_eq!(get("wordgate_dictionary_generation"), 1.0);
    assert_eq!(get("wordgate_dictionary_entries"), 2.0);
    assert!(get("wordgate_dictionary_memory_bytes") > 0.0);
    assert_eq!(get("wordgate_dictionary_reloads_total{result=\"failed\"}"), 0.0);
    assert_eq!(get("wordgate_audit_enabled"), 0.0);
    // This connection, at least, is open.
    assert!(get("wordgate_open_connections") >= 1.0);
    // `/healthz` sums the same counts.
    let health = client.get("/healthz").await.json();
    assert_eq!(health["counters"]["moderated"], 4);
    assert_eq!(health["counters"]["after_send"], 1);
    assert_eq!(health["counters"]["unknown_command"], 1);
}

#[tokio::test]
async fn shadow_mode_answers_allow_and_records_the_real_verdict() {
    let lists = lists();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(Config { dry_run: true, ..audited(lists.path(), dir.path()) }).await;
    let mut client = server.connect().await;
    for text in ["forbidden", "darn"] {
        let body = bytes(&sample_with_text("oa-before-send.request.json", text));
        assert_eq!(client.post(&target(OA_BEFORE), &body).await.text(), ALLOW, "{text}");
    }
    let metrics = parse_metrics(&client.get("/metrics").await.text());
    assert_eq!(metrics.get(&callbacks(OA_BEFORE, "reject")), Some(&1.0));
    assert_eq!(metrics.get(&callbacks(OA_BEFORE, "mask")), Some(&1.0));
    assert_eq!(metrics.get("wordgate_dry_run"), Some(&1.0));
    drop(client);
    stop(server).await;
    let records = audit_records(dir.path());
    let verdicts: Vec<_> = records.iter().map(|r| (&r["verdict"], &r["dry_run"], &r["error_code"])).collect();
    assert_eq!(
        verdicts,
        [(&json!("reject"), &json!(true), &json!(120009)), (&json!("mask"), &json!(true), &json!(0))]
    );
}

#[tokio::test]
async fn exempt_senders_pass_unmoderated_and_are_recorded_as_exempt() {
    let lists = lists();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        exempt_senders: vec!["admin".into(), "@TOA#_2J4SZEAEL".into()],
        ..audited(lists.path(), dir.path())
    };
    let server = TestServer::start(config).await;
    let mut client = server.connect().await;
    let c2c_from = |sender: &str| {
        let mut body = sample_with_text("c2c-before-send.request.json", "forbidden");
        body["From_Account"] = json!(sender);
        bytes(&body)
    };
    // C2C: the sender is From_Account.
    assert_eq!(client.post(&target(C2C_BEFORE), &c2c_from("admin")).await.text(), ALLOW);
    assert_eq!(client.post(&target(C2C_BEFORE), &c2c_from("jared")).await.json()["ErrorCode"], 120009);
    // Official accounts: the sender is Official_Account.
    let oa = bytes(&sample_with_text("oa-before-send.request.json", "forbidden"));
    assert_eq!(client.post(&target(OA_BEFORE), &oa).await.text(), ALLOW);
    // Groups: From_Account, not the Operator_Account ("admin" in the sample).
    let group = bytes(&sample_with_text("group-before-send.request.json", "forbidden"));
    assert_eq!(client.post(&target(GROUP_BEFORE), &group).await.json()["ErrorCode"], 10109);
    // A sender named twice is not trusted to be the exempt one.
    let twice = String::from_utf8_lossy(&c2c_from("admin")).replacen('{', r#"{"From_Account":"mallory","#, 1);
    assert_eq!(client.post(&target(C2C_BEFORE), twice.as_bytes()).await.json()["ErrorCode"], 120009);
    let health = client.get("/healthz").await.json();
    assert_eq!(health["counters"]["exempt"], 2);
    let metrics = parse_metrics(&client.get("/metrics").await.text());
    assert_eq!(metrics.get(&callbacks(C2C_BEFORE, "exempt")), Some(&1.0));
    assert_eq!(metrics.get(&callbacks(OA_BEFORE, "exempt")), Some(&1.0));
    drop(client);
    stop(server).await;
    let verdicts: Vec<Value> = audit_records(dir.path()).iter().map(|r| r["verdict"].clone()).collect();
    assert_eq!(
        verdicts,
        [json!("exempt"), json!("reject"), json!("exempt"), json!("reject"), json!("reject")]
    );
}

#[tokio::test]
async fn rest_api_messages_are_exempt_when_configured() {
    let lists = lists();
    let body = bytes(&sample_with_text("c2c-before-send.request.json", "forbidden"));
    let from_ios = target(C2C_BEFORE).replace("OptPlatform=RESTAPI", "OptPlatform=iOS");
    for exempt_restapi in [false, true] {
        let server = TestServer::start(Config { exempt_restapi, ..config(lists.path()) }).await;
        let mut client: Client = server.connect().await;
        let from_api = client.post(&target(C2C_BEFORE), &body).await;
        if exempt_restapi {
            assert_eq!(from_api.text(), ALLOW);
        } else {
            assert_eq!(from_api.json()["ErrorCode"], 120009);
        }
        // Other platforms are moderated either way.
        assert_eq!(client.post(&from_ios, &body).await.json()["ErrorCode"], 120009);
        assert_eq!(server.state.webhook.counters().values().exempt, u64::from(exempt_restapi));
    }
}

/// `wordgate serve` as a process, with every `WORDGATE_*` of the test's
/// own environment removed and `vars` set.
fn wordgate_serve(vars: &[(&str, &str)]) -> std::process::Command {
    let mut command = util::wordgate_serve(&[]);
    command.stdout(std::process::Stdio::piped()).envs(vars.iter().copied());
    command
}

#[test]
fn binary_logs_json_without_message_text_and_audits_to_stdout() {
    use std::io::{BufRead, BufReader, Read};

    const SECRET: &str = "一起去赌博吧 never-logged-7f3a";
    let shipped = util::shipped();
    let app = APP.to_string();
    let mut child = wordgate_serve(&[
        ("WORDGATE_LISTEN", "127.0.0.1:0"),
        ("WORDGATE_SDKAPPID", &app),
        ("WORDGATE_DICTIONARIES", shipped.to_str().expect("UTF-8")),
        ("WORDGATE_LOG_FORMAT", "json"),
        // Debug, so the callback's own event is logged inside its span;
        // even at debug no message text may appear.
        ("WORDGATE_LOG", "wordgate=debug"),
        ("WORDGATE_AUDIT", "stdout"),
        ("WORDGATE_WATCH", "false"),
    ])
    .spawn()
    .expect("wordgate starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut logs = Vec::new();
    let mut addr = None;
    let mut line = String::new();
    while addr.is_none() && stderr.read_line(&mut line).expect("read stderr") > 0 {
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"));
        let message = event["fields"]["message"].as_str().unwrap_or_default();
        if let Some(rest) = message.split("listening on http://").nth(1) {
            addr = rest.split('/').next().and_then(|addr| addr.parse::<std::net::SocketAddr>().ok());
        }
        logs.push(line.clone());
        line.clear();
    }
    let addr = addr.expect("the server logs its address");
    let rest_of_logs = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answer = runtime.block_on(async {
        let mut client = Client::connect(addr).await;
        let body = json!({
            "CallbackCommand": OA_BEFORE,
            "Official_Account": "@TOA#_audit",
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": SECRET}}],
        });
        client.post(&target(OA_BEFORE), &bytes(&body)).await.json()
    });
    assert_eq!(answer["ErrorCode"], 120002);

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("read stdout");
    assert!(child.wait().expect("wordgate exits").success());
    logs.extend(rest_of_logs.join().expect("stderr reader").lines().map(str::to_string));

    // Logs: every line JSON, none with the message.
    assert!(logs.len() >= 3, "{logs:?}");
    for line in &logs {
        assert!(serde_json::from_str::<Value>(line).is_ok(), "not JSON: {line}");
        assert!(!line.contains("never-logged") && !line.contains("赌博吧"), "message text logged: {line}");
    }
    // The callback's event names its command and verdict itself (no span
    // per request: at the default level it would cost more than the shell).
    let events: Vec<Value> = logs.iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let callback = events.iter().find(|event| event["fields"]["message"] == "callback");
    let Some(callback) = callback else { panic!("no callback event in {logs:?}") };
    assert_eq!(callback["fields"]["command"], OA_BEFORE, "{callback}");
    assert_eq!(callback["fields"]["verdict"], "reject", "{callback}");
    assert_eq!(callback["fields"]["status"], 200, "{callback}");
    // The audit: flushed before exit, one record, the verdict and no text.
    let records: Vec<Value> =
        stdout.lines().map(|line| serde_json::from_str(line).expect("audit JSON")).collect();
    assert_eq!(records.len(), 1, "{stdout}");
    assert_eq!(records[0]["verdict"], "reject");
    assert_eq!(records[0]["official_account"], "@TOA#_audit");
    assert_eq!(records[0]["categories"], json!(["gambling"]));
    assert!(!stdout.contains("never-logged"), "{stdout}");
}
