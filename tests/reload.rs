//! Live dictionary reloads against a real server on `127.0.0.1:0`.
//!
//! `edits_under_load_never_drop_a_request_or_mix_dictionaries` is the issue's
//! acceptance test: clients keep sending callbacks on keep-alive connections
//! while the dictionary directory is edited in every way moderation teams and
//! Kubernetes edit it, and every answer is checked.
//!
//! How a mix would show: the dictionaries are made of numbered *pairs*. Pair
//! `k` is a literal `lit<k>z` and a regex `re:rx<k>q`, always written together
//! in one file by one atomic filesystem operation, so any set of files the
//! server can read holds both or neither. The probe message carries every
//! literal in a text element and every regex word in a custom element; all
//! lists mask, so the answer shows exactly which words hit. An answer where
//! `lit<k>z` is masked and `rx<k>q` is not (or the reverse) came from two sets of
//! dictionaries at once: from a literal automaton and a regex set of
//! different generations, or from two snapshot loads in one request.
//!
//! Every step of the script changes one directory entry atomically, and
//! waits until its result is enforced before the next, so the sets of pairs
//! the server may answer with are exactly the ones the script has published
//! so far; each is new (pair numbers only grow, and a removed pair never
//! returns), so an answer names its state unambiguously, and a connection
//! must never see an older state after a newer one.

use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::util::{config, dictionaries, target, Client, Response, TestServer, APP};
use wordgate::config::{Config, Secret};

const C2C_BEFORE: &str = "C2C.CallbackBeforeSendMsg";
/// Pair numbers run from 0 to below this.
const PAIRS: u32 = 26;
/// The bound: a new word is enforced within this long of the write.
const ENFORCED_WITHIN: Duration = Duration::from_secs(2);
/// Upper bound for conditions that have no latency requirement of their own.
const PATIENCE: Duration = Duration::from_secs(20);

/// `k` in two letters: digits would be read as letters by the default
/// `leet` fold step (`rx0q` is seen as `rxoq`), and letters that look alike
/// (`l`/`i`, `u`/`v`, `s`/`z`) or that mask (`x`) would let one pair's word
/// respell another's (`litalz` is a respelling of `litaiz`), so neither is
/// used.
fn letters(k: u32) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnopqrtwy";
    let letter = |n: u32| char::from(ALPHABET[n as usize % ALPHABET.len()]);
    format!("{}{}", letter(k / ALPHABET.len() as u32), letter(k))
}

fn literal(k: u32) -> String {
    format!("lit{}z", letters(k))
}

fn regex_word(k: u32) -> String {
    format!("rx{}q", letters(k))
}

/// The two lines of pair `k`.
fn pair(k: u32) -> String {
    format!("{}\nre:(?-u:\\b){}(?-u:\\b)\n", literal(k), regex_word(k))
}

/// A mask list holding `pairs`.
fn mask_list(pairs: &[u32]) -> String {
    let mut text = String::from("@action mask\n");
    for &k in pairs {
        text.push_str(&pair(k));
    }
    text
}

/// Every literal in a text element, every regex word in a custom element.
fn probe_body() -> Vec<u8> {
    let literals: Vec<String> = (0..PAIRS).map(literal).collect();
    let regex_words: Vec<String> = (0..PAIRS).map(regex_word).collect();
    json!({
        "CallbackCommand": C2C_BEFORE,
        "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": literals.join(" ")}},
            {"MsgType": "TIMCustomElem", "MsgContent": {"Data": regex_words.join(" "), "Desc": "probe"}}
        ],
    })
    .to_string()
    .into_bytes()
}

/// Which of `words` the answer masked (each fully, or not at all).
fn masked(field: &Value, words: &[String]) -> Result<Vec<bool>, String> {
    let text = field.as_str().ok_or_else(|| format!("not a string: {field}"))?;
    let tokens: Vec<&str> = text.split(' ').collect();
    if tokens.len() != words.len() {
        return Err(format!("{} words came back, {} were sent: {text}", tokens.len(), words.len()));
    }
    tokens
        .iter()
        .zip(words)
        .map(|(token, word)| match *token {
            token if token == word => Ok(false),
            token if token.len() == word.len() && token.bytes().all(|b| b == b'*') => Ok(true),
            token => Err(format!("{word} came back as {token}")),
        })
        .collect()
}

/// The pairs an answer to [`probe_body`] shows as live; an error if the
/// answer is not a successful masked rewrite, or if any pair is split.
fn live_pairs(response: &Response) -> Result<BTreeSet<u32>, String> {
    if response.status != 200 {
        return Err(format!("status {}: {}", response.status, response.text()));
    }
    let answer: Value = serde_json::from_slice(&response.body).map_err(|err| format!("not JSON: {err}"))?;
    if answer["ErrorCode"] != 0 || answer["MsgBody"].is_null() {
        return Err(format!("not a masked rewrite (pair 0 never leaves): {answer}"));
    }
    let literals: Vec<String> = (0..PAIRS).map(literal).collect();
    let regex_words: Vec<String> = (0..PAIRS).map(regex_word).collect();
    let by_literal = masked(&answer["MsgBody"][0]["MsgContent"]["Text"], &literals)?;
    let by_regex = masked(&answer["MsgBody"][1]["MsgContent"]["Data"], &regex_words)?;
    let mut live = BTreeSet::new();
    for k in 0..PAIRS {
        let (l, r) = (by_literal[k as usize], by_regex[k as usize]);
        if l != r {
            return Err(format!(
                "a mix of dictionaries: pair {k} literal {} but regex {}",
                if l { "hit" } else { "missed" },
                if r { "hit" } else { "missed" }
            ));
        }
        if l {
            live.insert(k);
        }
    }
    Ok(live)
}

/// The states of the dictionaries the script has published, in order.
#[derive(Clone, Default)]
struct States(Arc<Mutex<Vec<BTreeSet<u32>>>>);

impl States {
    fn publish(&self, pairs: &[u32]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(pairs.iter().copied().collect());
    }

    fn latest(&self) -> BTreeSet<u32> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).last().cloned().unwrap_or_default()
    }

    /// The index of `live` among the published states, at or after `from`
    /// (a connection never goes back).
    fn locate(&self, live: &BTreeSet<u32>, from: usize) -> Result<usize, String> {
        let states = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = states.iter().skip(from).position(|state| state == live) {
            return Ok(from + at);
        }
        match states.iter().position(|state| state == live) {
            Some(at) => Err(format!("went back from state {from} to state {at}: {live:?}")),
            None => {
                Err(format!("an answer from dictionaries that never existed: {live:?}; states: {states:?}"))
            }
        }
    }
}

/// One client connection checking every answer; the last state it saw.
struct Checker {
    client: Client,
    at: usize,
    body: Vec<u8>,
    target: String,
}

impl Checker {
    async fn connect(server: &TestServer) -> Checker {
        Checker { client: server.connect().await, at: 0, body: probe_body(), target: target(C2C_BEFORE) }
    }

    /// Sends the probe and checks the answer; the pairs it shows.
    async fn probe(&mut self, states: &States) -> BTreeSet<u32> {
        let response = self.client.post(&self.target, &self.body).await;
        let live = live_pairs(&response).unwrap_or_else(|problem| panic!("{problem}"));
        self.at = states.locate(&live, self.at).unwrap_or_else(|problem| panic!("{problem}"));
        live
    }

    /// Probes until the answer shows `expected`, for at most `within`.
    async fn await_state(
        &mut self,
        states: &States,
        expected: &[u32],
        within: Duration,
        what: &str,
    ) -> Duration {
        let expected: BTreeSet<u32> = expected.iter().copied().collect();
        let start = Instant::now();
        loop {
            if self.probe(states).await == expected {
                return start.elapsed();
            }
            assert!(start.elapsed() < within, "{what}: not enforced within {within:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Writes `text` to `dir/name` the way editors save: a temporary file, then
/// one rename over the old one.
fn save_by_rename(dir: &Path, name: &str, text: &str) {
    let temporary = dir.join(format!("{name}.swp"));
    std::fs::write(&temporary, text).expect("write temporary file");
    std::fs::rename(&temporary, dir.join(name)).expect("rename over the file");
}

/// Appends `text` in place, in one write (`echo … >> file`).
fn append(dir: &Path, name: &str, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(dir.join(name)).expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

/// A Kubernetes ConfigMap volume: `name -> ..data/name`, `..data -> ..vN`.
fn configmap_publish(dir: &Path, version: u32, name: &str, text: &str) {
    let versioned = dir.join(format!("..v{version}"));
    std::fs::create_dir(&versioned).expect("create the version directory");
    std::fs::write(versioned.join(name), text).expect("write the ConfigMap key");
    let link = dir.join("..data_tmp");
    symlink(format!("..v{version}"), &link).expect("symlink ..data_tmp");
    // The kubelet's atomic step: rename the new link over `..data`.
    std::fs::rename(&link, dir.join("..data")).expect("swap ..data");
    if version > 1 {
        std::fs::remove_dir_all(dir.join(format!("..v{}", version - 1))).expect("remove the old version");
    } else {
        symlink(format!("..data/{name}"), dir.join(name)).expect("symlink the key");
    }
}

async fn get_health(client: &mut Client) -> Value {
    let response = client.get("/healthz").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// Polls `/healthz` until `condition` holds (at most [`PATIENCE`]).
async fn await_health(client: &mut Client, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let health = get_health(client).await;
        if condition(&health) {
            return health;
        }
        assert!(start.elapsed() < PATIENCE, "{what}: /healthz never showed it: {health}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_under_load_never_drop_a_request_or_mix_dictionaries() {
    // Starting state: base.txt (pair 0, never edited), live.txt (pair 1),
    // cm.txt through a ConfigMap `..data` link (pair 2).
    let dir = dictionaries(&[("base.txt", &mask_list(&[0])), ("live.txt", &mask_list(&[1]))]);
    let path = dir.path();
    configmap_publish(path, 1, "cm.txt", &mask_list(&[2]));
    let states = States::default();
    states.publish(&[0, 1, 2]);

    // The shipped default debounce: the 2-second bound must hold with it.
    let config = config(path);
    assert!(config.watch);
    let server = TestServer::start(config).await;
    let mut probe = Checker::connect(&server).await;
    let mut admin = server.connect().await;
    probe.await_state(&states, &[0, 1, 2], PATIENCE, "initial dictionaries").await;

    // The load: keep-alive clients sending callbacks all along.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut checker = Checker::connect(&server).await;
        let (stop, answered, states) = (Arc::clone(&stop), Arc::clone(&answered), states.clone());
        clients.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                checker.probe(&states).await;
                sent += 1;
                answered.fetch_add(1, Ordering::Relaxed);
                // Steady traffic, a few hundred calls a second per client,
                // not a busy loop: on two cores, three clients sending back
                // to back would starve the reload's build thread, which a
                // server's own callers never do.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            sent
        }));
    }

    let mut slowest = Duration::ZERO;
    let step = |live: &[u32]| {
        states.publish(live);
        live.to_vec()
    };

    // New words, appended in place.
    let expected = step(&[0, 1, 2, 3]);
    append(path, "live.txt", &pair(3));
    slowest = slowest.max(probe.await_state(&states, &expected, ENFORCED_WITHIN, "appended pair 3").await);

    // Words removed and added: the editor's save by rename.
    let expected = step(&[0, 2, 3, 4]);
    save_by_rename(path, "live.txt", &mask_list(&[3, 4]));
    slowest = slowest.max(probe.await_state(&states, &expected, ENFORCED_WITHIN, "saved pair 4").await);

    // A file added (written under a name that is not read, then renamed).
    let expected = step(&[0, 2, 3, 4, 5]);
    save_by_rename(path, "extra.txt", &mask_list(&[5]));
    slowest = slowest.max(probe.await_state(&states, &expected, ENFORCED_WITHIN, "added extra.txt").await);

    // A ConfigMap update: the `..data` link swapped, the old version deleted.
    let expected = step(&[0, 3, 4, 5, 6]);
    configmap_publish(path, 2, "cm.txt", &mask_list(&[6]));
    slowest = slowest.max(probe.await_state(&states, &expected, ENFORCED_WITHIN, "ConfigMap swap").await);

    // A broken regex saved in place: refused, the previous dictionaries stay
    // live, and /healthz says where the problem is.
    let before = get_health(&mut admin).await;
    let generation = before["dictionaries"]["generation"].as_u64().expect("generation");
    let failed_before = before["reload"]["reloads"]["failed"].as_u64().expect("failed count");
    let broken_line = mask_list(&[3, 4]).lines().count() + 1;
    append(path, "live.txt", "re:(unclosed\n");
    let health = await_health(&mut admin, "the failed reload", |h| {
        h["reload"]["last"]["result"] == "failed"
            && h["reload"]["reloads"]["failed"].as_u64() > Some(failed_before)
    })
    .await;
    let errors = health["reload"]["last"]["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{health}");
    let error = errors[0].as_str().unwrap_or_default();
    let location = format!("live.txt:{broken_line}: regular expression does not compile");
    assert!(error.contains(&location), "expected {location:?} in {error:?}");
    assert_eq!(health["dictionaries"]["generation"], generation, "a failed reload changed the generation");
    assert_eq!(health["reload"]["last"]["generation"], generation);
    assert_eq!(probe.probe(&states).await, states.latest(), "the previous dictionaries are still enforced");

    // Fixed (and a new pair): live again, and the error is gone.
    let expected = step(&[0, 3, 4, 5, 6, 7]);
    save_by_rename(path, "live.txt", &mask_list(&[3, 4, 7]));
    slowest = slowest.max(probe.await_state(&states, &expected, ENFORCED_WITHIN, "the fix").await);
    let health =
        await_health(&mut admin, "the good reload", |h| h["reload"]["last"]["result"] != "failed").await;
    assert!(health["reload"]["last"].get("errors").is_none(), "{health}");
    assert!(health["dictionaries"]["generation"].as_u64() > Some(generation));

    // A file removed.
    let expected = step(&[0, 3, 4, 6, 7]);
    std::fs::remove_file(path.join("extra.txt")).expect("remove extra.txt");
    probe.await_state(&states, &expected, ENFORCED_WITHIN, "removed extra.txt").await;

    // Many more edits in a row, cycling through the kinds: each adds a pair;
    // a save by rename also drops the oldest pair of live.txt, a ConfigMap
    // swap replaces cm.txt's pair.
    let mut in_live = vec![3, 4, 7];
    let mut in_configmap = 6;
    let mut cm_version = 2;
    for k in 8..PAIRS {
        let mut live = states.latest();
        match k % 3 {
            0 => in_live.push(k),
            1 => {
                live.remove(&in_live.remove(0));
                in_live.push(k);
            }
            _ => {
                live.remove(&in_configmap);
                in_configmap = k;
            }
        }
        live.insert(k);
        let expected: Vec<u32> = live.into_iter().collect();
        states.publish(&expected);
        match k % 3 {
            0 => append(path, "live.txt", &pair(k)),
            1 => save_by_rename(path, "live.txt", &mask_list(&in_live)),
            _ => {
                cm_version += 1;
                configmap_publish(path, cm_version, "cm.txt", &mask_list(&[k]));
            }
        }
        let took =
            probe.await_state(&states, &expected, ENFORCED_WITHIN, &format!("edit adding pair {k}")).await;
        slowest = slowest.max(took);
    }

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let sent = client.await.expect("a client failed; its panic says why");
        assert!(sent > 0, "a client sent nothing");
    }
    let counters = server.state.webhook.counters().values();
    assert_eq!(
        (counters.fail_policy_budget, counters.fail_policy_internal, counters.bad_request),
        (0, 0, 0),
        "no answer may come from the fail policy or be refused"
    );
    // (A new connection: `admin` may have idled past the keep-alive timeout.)
    let health = get_health(&mut server.connect().await).await;
    assert_eq!(health["reload"]["last"]["result"], "reloaded", "{health}");
    assert_eq!(health["reload"]["watching"], true);
    eprintln!(
        "{} answers checked over {} states; slowest edit enforced after {slowest:?}; reloads {}",
        answered.load(Ordering::Relaxed),
        states.0.lock().map(|s| s.len()).unwrap_or(0),
        health["reload"]["reloads"]
    );
}

// ---- POST /admin/reload ----

/// `POST /admin/reload` with these extra header lines.
async fn admin_reload(client: &mut Client, headers: &str) -> Response {
    let request =
        format!("POST /admin/reload HTTP/1.1\r\nHost: wordgate.test\r\n{headers}Content-Length: 0\r\n\r\n");
    client.send(request.as_bytes()).await;
    client.response().await
}

fn text_message(text: &str) -> Vec<u8> {
    json!({
        "CallbackCommand": C2C_BEFORE,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
    })
    .to_string()
    .into_bytes()
}

/// A server that reloads only when asked (no watcher).
async fn unwatched(files: &[(&str, &str)], admin_token: &str) -> (TestServer, tempfile::TempDir) {
    let dir = dictionaries(files);
    let config = Config { watch: false, admin_token: Secret(admin_token.into()), ..config(dir.path()) };
    (TestServer::start(config).await, dir)
}

#[tokio::test]
async fn admin_reload_answers_with_the_result() {
    let (server, dir) = unwatched(&[("a.txt", "@action reject\nfoo\n")], "").await;
    let mut client = server.connect().await;

    // Nothing changed: nothing rebuilt, same generation.
    let response = admin_reload(&mut client, "").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    let report = response.json();
    assert_eq!((report["result"].as_str(), report["generation"].as_u64()), (Some("unchanged"), Some(1)));
    assert_eq!(report["trigger"], "admin");

    // New words: a new generation, with its counts and build time.
    std::fs::write(dir.path().join("a.txt"), "@action reject\nfoo\nbar\nre:ba+z\n").expect("write");
    let report = admin_reload(&mut client, "").await.json();
    assert_eq!(report["result"], "reloaded", "{report}");
    assert_eq!(report["generation"], 2);
    assert_eq!((report["categories"].as_u64(), report["literals"].as_u64()), (Some(1), Some(2)));
    assert_eq!(report["regexes"], 1);
    assert!(report["build_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{report}");
    assert!(report["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")));
    assert_eq!(server.post(&target(C2C_BEFORE), &text_message("bar")).await.json()["ErrorCode"], 1);

    // A broken file: 422 with every FILE:LINE problem; generation 2 stays.
    std::fs::write(dir.path().join("b.txt"), "@action review\n@acton mask\nre:(x\n").expect("write");
    let response = admin_reload(&mut client, "").await;
    assert_eq!(response.status, 422, "{}", response.text());
    let report = response.json();
    assert_eq!(report["status"], 422);
    assert_eq!(report["error"], "the dictionaries have 2 problems; generation 2 stays live");
    assert_eq!((report["result"].as_str(), report["generation"].as_u64()), (Some("failed"), Some(2)));
    let errors: Vec<&str> =
        report["errors"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert_eq!(errors.len(), 2, "{report}");
    assert!(errors[0].contains("b.txt:2: unknown directive @acton"), "{}", errors[0]);
    assert!(errors[1].contains("b.txt:3: regular expression does not compile"), "{}", errors[1]);
    assert_eq!(report["error_count"], 2);
    assert_eq!(server.post(&target(C2C_BEFORE), &text_message("bar")).await.json()["ErrorCode"], 1);

    // /healthz shows the failure until a good attempt replaces it.
    let health = get_health(&mut client).await;
    assert_eq!(health["dictionaries"]["generation"], 2);
    assert_eq!(health["reload"]["last"]["result"], "failed");
    assert_eq!(health["reload"]["last"]["errors"].as_array().map(Vec::len), Some(2));
    assert_eq!(health["reload"]["reloads"], json!({"reloaded": 1, "unchanged": 1, "failed": 1}));
    assert_eq!(health["reload"]["watching"], false);

    // Back to what is live: unchanged, and the failure is cleared.
    std::fs::remove_file(dir.path().join("b.txt")).expect("remove");
    let report = admin_reload(&mut client, "").await.json();
    assert_eq!((report["result"].as_str(), report["generation"].as_u64()), (Some("unchanged"), Some(2)));
    let health = get_health(&mut client).await;
    assert_eq!(health["reload"]["last"]["result"], "unchanged");
    assert!(health["reload"]["last"].get("errors").is_none());

    // Concurrent calls share reloads and all get an answer.
    std::fs::write(dir.path().join("a.txt"), "@action reject\nfoo\n").expect("write");
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut client = server.connect().await;
        calls.push(tokio::spawn(async move { admin_reload(&mut client, "").await.json() }));
    }
    for call in calls {
        let report = call.await.expect("admin call");
        assert_eq!(report["generation"], 3, "{report}");
    }
    let reloads = get_health(&mut client).await["reload"]["reloads"].clone();
    assert_eq!(reloads["reloaded"], 2, "one rebuild for six calls: {reloads}");

    assert_eq!(client.get("/admin/reload").await.status, 405);
}

#[tokio::test]
async fn admin_reload_needs_the_token_when_one_is_configured() {
    let token = "0123456789abcdef0123";
    let (server, _dir) = unwatched(&[("a.txt", "@action reject\nfoo\n")], token).await;
    let mut client = server.connect().await;

    let response = admin_reload(&mut client, "").await;
    assert_eq!(response.status, 401);
    assert_eq!(response.header("www-authenticate"), Some("Bearer realm=\"wordgate\""));
    assert_eq!(response.json()["status"], 401);
    let response = admin_reload(&mut client, "Authorization: Bearer 0123456789abcdef0124\r\n").await;
    assert_eq!(response.status, 401);
    let response = admin_reload(&mut client, &format!("Authorization: Basic {token}\r\n")).await;
    assert_eq!(response.status, 401);

    let response = admin_reload(&mut client, &format!("Authorization: Bearer {token}\r\n")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["result"], "unchanged");
    // The token never shows.
    assert!(!get_health(&mut client).await.to_string().contains(token));
}

#[tokio::test]
async fn a_burst_of_writes_is_one_reload() {
    let dir = dictionaries(&[("a.txt", "@action reject\nw0\n")]);
    let server = TestServer::start(config(dir.path())).await;
    let mut client = server.connect().await;
    let reloads = |h: &Value| {
        let r = &h["reload"]["reloads"];
        [&r["reloaded"], &r["unchanged"], &r["failed"]].iter().filter_map(|n| n.as_u64()).sum::<u64>()
    };
    let before = reloads(&get_health(&mut client).await);
    let mut text = String::from("@action reject\n");
    for n in 1..=30 {
        text.push_str(&format!("w{n}\n"));
        std::fs::write(dir.path().join("a.txt"), &text).expect("write");
    }
    let health =
        await_health(&mut client, "the burst's reload", |h| h["dictionaries"]["literals"] == 30).await;
    assert_eq!(health["reload"]["last"]["trigger"], "watch");
    let after = reloads(&health);
    // One reload for the burst, perhaps one more for its tail: never thirty.
    assert!(after - before <= 3, "{} reloads for one burst of 30 writes", after - before);
    assert_eq!(server.post(&target(C2C_BEFORE), &text_message("w30")).await.json()["ErrorCode"], 1);
}

// ---- SIGHUP, on the real binary ----

#[test]
fn sighup_reloads_the_binary() {
    use std::io::BufReader;

    let dir = dictionaries(&[("a.txt", "@action reject\nfoo\n")]);
    let app = APP.to_string();
    let dir_arg = dir.path().to_str().expect("UTF-8");
    let mut command = crate::server::util::wordgate_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--sdkappid",
        &app,
        "--dictionaries",
        dir_arg,
    ]);
    // Only SIGHUP can make this server reload.
    let mut child = command.env("WORDGATE_WATCH", "false").spawn().expect("wordgate starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let addr = crate::server::util::logged_address(&mut stderr).expect("the server logs its address");
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut client = Client::connect(addr).await;
        assert_eq!(bar(&mut client).await, 0);
        std::fs::write(dir.path().join("a.txt"), "@action reject\nfoo\nbar\n").expect("write");
        let hup = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().expect("kill runs");
        assert!(hup.success());
        let start = Instant::now();
        while bar(&mut client).await != 1 {
            assert!(start.elapsed() < PATIENCE, "SIGHUP did not reload");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let health = get_health(&mut client).await;
        assert_eq!(health["reload"]["last"]["trigger"], "signal");
        assert_eq!(health["dictionaries"]["generation"], 2);
    });

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("wordgate exits");
    assert!(status.success(), "SIGHUP must not end the process: {status:?}");
    let _ = drain.join();
}

/// The `ErrorCode` the server answers for the text `bar`.
async fn bar(client: &mut Client) -> Value {
    client.post(&target(C2C_BEFORE), &text_message("bar")).await.json()["ErrorCode"].clone()
}

#[test]
fn the_checker_sees_a_mix() {
    let answer = |literals: &str, regex_words: &str| Response {
        status: 200,
        headers: Vec::new(),
        body: json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": literals}},
            {"MsgType": "TIMCustomElem", "MsgContent": {"Data": regex_words, "Desc": "probe"}}
        ]})
        .to_string()
        .into_bytes(),
    };
    let words = |f: fn(u32) -> String, masked: &[u32]| {
        (0..PAIRS)
            .map(|k| if masked.contains(&k) { "*".repeat(f(k).len()) } else { f(k) })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let consistent = answer(&words(literal, &[0, 3]), &words(regex_word, &[0, 3]));
    assert_eq!(live_pairs(&consistent), Ok([0, 3].into_iter().collect()));
    let mixed = answer(&words(literal, &[0, 3]), &words(regex_word, &[0]));
    assert_eq!(live_pairs(&mixed), Err("a mix of dictionaries: pair 3 literal hit but regex missed".into()));

    let states = States::default();
    states.publish(&[0, 1]);
    states.publish(&[0, 2]);
    let at = states.locate(&[0, 2].into_iter().collect(), 0);
    assert_eq!(at, Ok(1));
    assert!(states.locate(&[0, 1].into_iter().collect(), 1).is_err_and(|e| e.starts_with("went back")));
    assert!(states.locate(&[0].into_iter().collect(), 0).is_err_and(|e| e.contains("never existed")));
}

#[tokio::test]
async fn a_replaced_directory_is_watched_anew() {
    let parent = tempfile::tempdir().expect("tempdir");
    let path = parent.path().join("dictionaries");
    std::fs::create_dir(&path).expect("mkdir");
    std::fs::write(path.join("a.txt"), "@action reject\nfoo\n").expect("write");
    let server = TestServer::start(config(&path)).await;
    let mut client = server.connect().await;
    assert_eq!(bar(&mut client).await, 0);

    // A deployment that swaps the whole directory: the old one's watch dies
    // with it, and the reload it triggers watches the new one.
    let staged = parent.path().join("staged");
    std::fs::create_dir(&staged).expect("mkdir");
    std::fs::write(staged.join("a.txt"), "@action reject\nfoo\nbar\n").expect("write");
    std::fs::rename(&path, parent.path().join("old")).expect("move the old directory away");
    std::fs::rename(&staged, &path).expect("move the new one in");
    let start = Instant::now();
    while bar(&mut client).await != 1 {
        assert!(start.elapsed() < PATIENCE, "the new directory was never loaded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // And its changes are seen too.
    save_by_rename(&path, "a.txt", "@action reject\nfoo\n");
    let start = Instant::now();
    while bar(&mut client).await != 0 {
        assert!(start.elapsed() < PATIENCE, "a change in the new directory was never seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(get_health(&mut client).await["reload"]["watching"], true);
}
