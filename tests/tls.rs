//! Built-in HTTPS against a real TLS client (tokio-rustls, trusting a CA
//! generated at test time): the documented sample over TLS, keep-alive,
//! certificate rotation by rename and by a Kubernetes `..data` swap, a bad
//! certificate keeping the old one, `SIGHUP`-style reloads, slow
//! handshakes, and the drain. Which certificate a connection got is read
//! from the TLS session itself (the peer certificate), not from the server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::server::util::{config, dictionaries, sample, sample_json, target, Client, TestServer};
use wordgate::config::Config;
use wordgate::server::tls::{Tls, TlsStatus};
use wordgate::server::{AppState, Drain};
use wordgate::snapshot::Snapshot;

const OA_BEFORE: &str = "OfficialAccount.CallbackBeforeSendMsg";

/// Upper bound on any wait for the server to do something; never slept.
const PATIENCE: Duration = Duration::from_secs(20);

/// A certificate authority made for one test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate for `localhost` and its key, as PEM.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let Ok(mut params) = CertificateParams::new(Vec::<String>::new()) else { panic!("CA params") };
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let Ok(key) = KeyPair::generate() else { panic!("CA key") };
        let Ok(issuer) = CertifiedIssuer::self_signed(params, key) else { panic!("CA certificate") };
        Ca { issuer }
    }

    fn leaf(&self) -> Leaf {
        let Ok(params) = CertificateParams::new(vec!["localhost".to_string()]) else { panic!("leaf params") };
        let Ok(key) = KeyPair::generate() else { panic!("leaf key") };
        let Ok(cert) = params.signed_by(&key, &self.issuer) else { panic!("leaf certificate") };
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().clone() }
    }

    /// A client that trusts only this CA and offers HTTP/1.1.
    fn connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        let Ok(()) = roots.add(self.issuer.der().clone()) else { panic!("trust the CA") };
        let Ok(builder) = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
        else {
            panic!("client protocol versions")
        };
        let mut config = builder.with_root_certificates(roots).with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsConnector::from(Arc::new(config))
    }
}

fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Writes `text` to `path` the way editors and `mv` do: a new file renamed
/// over the old one, so the server never reads half a file.
fn replace_file(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    let Ok(()) = std::fs::write(&temporary, text) else { panic!("write {}", temporary.display()) };
    let Ok(()) = std::fs::rename(&temporary, path) else { panic!("rename to {}", path.display()) };
}

/// A TLS server on `127.0.0.1:0` with `leaf` in `tls_dir`, serving the
/// documented allow answer, with `adjust` applied to its configuration.
struct TlsServer {
    server: TestServer,
    tls: Arc<Tls>,
    cert: PathBuf,
    key: PathBuf,
    _dictionaries: tempfile::TempDir,
}

impl TlsServer {
    async fn start(tls_dir: &Path, leaf: &Leaf, adjust: impl FnOnce(&mut Config)) -> TlsServer {
        let (cert, key) = (tls_dir.join("tls.crt"), tls_dir.join("tls.key"));
        replace_file(&cert, &leaf.cert_pem);
        replace_file(&key, &leaf.key_pem);
        TlsServer::start_on(cert, key, adjust).await
    }

    async fn start_on(cert: PathBuf, key: PathBuf, adjust: impl FnOnce(&mut Config)) -> TlsServer {
        let dir = dictionaries(&[("spam.txt", "@action reject\nbuy followers\n")]);
        let mut config = Config { tls_cert: cert.clone(), tls_key: key.clone(), ..config(dir.path()) };
        adjust(&mut config);
        let Ok(()) = config.validate() else { panic!("valid TLS config") };
        let tls = match Tls::load(&cert, &key, config.reload_debounce()) {
            Ok(tls) => Arc::new(tls),
            Err(err) => panic!("{err}"),
        };
        let Ok(snapshot) = Snapshot::load(&config.dictionaries, 1, SystemTime::now()) else {
            panic!("dictionaries")
        };
        let state = AppState::new(&config, snapshot).with_tls(Arc::clone(&tls));
        let server = TestServer::serve(state).await;
        TlsServer { server, tls, cert, key, _dictionaries: dir }
    }

    async fn connect(&self, ca: &Ca) -> Client<TlsStream<TcpStream>> {
        let Ok(tcp) = TcpStream::connect(self.server.addr).await else { panic!("connect") };
        let Ok(name) = ServerName::try_from("localhost") else { panic!("server name") };
        match tokio::time::timeout(PATIENCE, ca.connector().connect(name, tcp)).await {
            Ok(Ok(stream)) => Client::over(stream),
            Ok(Err(err)) => panic!("TLS handshake: {err}"),
            Err(_) => panic!("TLS handshake timed out"),
        }
    }

    /// Waits until the certificate status satisfies `condition`.
    async fn await_status(&self, what: &str, condition: impl Fn(&TlsStatus) -> bool) -> TlsStatus {
        let mut status = self.tls.subscribe();
        let reached = tokio::time::timeout(PATIENCE, status.wait_for(|s| condition(s)))
            .await
            .map(|result| result.map(|status| status.clone()));
        match reached {
            Ok(Ok(status)) => status,
            _ => panic!("{what}: never happened; status: {:?}", self.tls.status()),
        }
    }
}

/// The certificate the server presented on this connection.
fn peer_certificate(client: &Client<TlsStream<TcpStream>>) -> Vec<u8> {
    let (_, session) = client.stream().get_ref();
    let chain = session.peer_certificates().unwrap_or_default();
    let Some(leaf) = chain.first() else { panic!("no peer certificate") };
    leaf.as_ref().to_vec()
}

async fn post_sample(client: &mut Client<TlsStream<TcpStream>>) -> Value {
    let response = client.post(&target(OA_BEFORE), &sample("oa-before-send.request.json")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

async fn health_tls(client: &mut Client<TlsStream<TcpStream>>) -> Value {
    let response = client.get("/healthz").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["tls"].clone()
}

#[tokio::test]
async fn https_answers_the_documented_sample() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let leaf = ca.leaf();
    let server = TlsServer::start(tls_dir.path(), &leaf, |_| {}).await;
    let mut client = server.connect(&ca).await;
    let (_, session) = client.stream().get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(peer_certificate(&client), leaf.der.as_ref());
    assert_eq!(post_sample(&mut client).await, sample_json("oa-before-send.response-allow.json"));
}

#[tokio::test]
async fn several_requests_share_one_tls_connection() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let leaf = ca.leaf();
    let server = TlsServer::start(tls_dir.path(), &leaf, |_| {}).await;
    let mut client = server.connect(&ca).await;
    let allow = sample_json("oa-before-send.response-allow.json");
    for _ in 0..3 {
        assert_eq!(post_sample(&mut client).await, allow);
    }
    let spam = br#"{"CallbackCommand":"OfficialAccount.CallbackBeforeSendMsg","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"buy followers"}}]}"#;
    let rejected = client.post(&target(OA_BEFORE), spam).await;
    assert_eq!(rejected.json()["ErrorCode"], 1, "{}", rejected.text());
    let tls = health_tls(&mut client).await;
    assert_eq!(tls["loaded"]["generation"], 1);
    assert_eq!(tls["loaded"]["fingerprint"], fingerprint(&leaf.der));
    assert_eq!(tls["cert"], server.cert.display().to_string());
    assert_eq!(tls["key"], server.key.display().to_string());
    assert_eq!(tls["last_error"], Value::Null);
    assert_eq!(server.server.state.webhook.counters().values().moderated, 4, "all on one connection");
}

#[tokio::test]
async fn a_rotated_certificate_reaches_new_connections_without_a_restart() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let (old, new) = (ca.leaf(), ca.leaf());
    let server = TlsServer::start(tls_dir.path(), &old, |config| config.reload_debounce_ms = 50).await;
    let mut before = server.connect(&ca).await;
    assert_eq!(peer_certificate(&before), old.der.as_ref());

    replace_file(&server.key, &new.key_pem);
    replace_file(&server.cert, &new.cert_pem);
    let status = server.await_status("rotation", |s| s.loaded.generation == 2).await;
    assert_eq!(status.loaded.fingerprint, fingerprint(&new.der));
    assert_eq!(status.last_error, None);

    let mut after = server.connect(&ca).await;
    assert_eq!(peer_certificate(&after), new.der.as_ref());
    assert_eq!(post_sample(&mut after).await, sample_json("oa-before-send.response-allow.json"));
    assert_eq!(health_tls(&mut after).await["loaded"]["fingerprint"], fingerprint(&new.der));
    // The connection made before the rotation goes on, on its certificate.
    assert_eq!(post_sample(&mut before).await, sample_json("oa-before-send.response-allow.json"));
    assert_eq!(peer_certificate(&before), old.der.as_ref());
}

#[tokio::test]
async fn a_broken_certificate_keeps_the_old_one() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let (good, other) = (ca.leaf(), ca.leaf());
    let server = TlsServer::start(tls_dir.path(), &good, |config| config.reload_debounce_ms = 50).await;

    // Not PEM at all.
    replace_file(&server.cert, "an editor saved the wrong file here\n");
    let status = server.await_status("a failed reload", |s| s.reloads.failed == 1).await;
    let error = status.last_error.unwrap_or_default();
    assert!(error.starts_with(&format!("{}: no certificate in it", server.cert.display())), "{error}");
    let mut client = server.connect(&ca).await;
    assert_eq!(peer_certificate(&client), good.der.as_ref());
    let tls = health_tls(&mut client).await;
    assert_eq!(tls["last_error"], error.as_str());
    assert_eq!(tls["loaded"]["generation"], 1);

    // A valid certificate whose key is not the one beside it.
    replace_file(&server.cert, &other.cert_pem);
    let status = server.await_status("a second failed reload", |s| s.reloads.failed == 2).await;
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains("the certificate and key cannot be used together"), "{error}");
    assert_eq!(peer_certificate(&server.connect(&ca).await), good.der.as_ref());

    // Putting the good files back clears the error without a new generation.
    replace_file(&server.cert, &good.cert_pem);
    let status = server.await_status("recovery", |s| s.last_error.is_none()).await;
    assert_eq!((status.loaded.generation, status.reloads.unchanged), (1, 1));
}

#[tokio::test]
async fn a_kubernetes_secret_update_rotates_the_certificate() {
    // A Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>;
    // the kubelet writes a new timestamped directory and renames a new
    // `..data` link over the old one.
    use std::os::unix::fs::symlink;
    let (ca, volume) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let (old, new) = (ca.leaf(), ca.leaf());
    let volume = volume.path();
    let write_version = |name: &str, leaf: &Leaf| {
        let dir = volume.join(name);
        let Ok(()) = std::fs::create_dir(&dir) else { panic!("mkdir {}", dir.display()) };
        replace_file(&dir.join("tls.crt"), &leaf.cert_pem);
        replace_file(&dir.join("tls.key"), &leaf.key_pem);
    };
    write_version("..2026_11_25_00_00_00.1", &old);
    let Ok(()) = symlink("..2026_11_25_00_00_00.1", volume.join("..data")) else { panic!("..data") };
    for file in ["tls.crt", "tls.key"] {
        let Ok(()) = symlink(format!("..data/{file}"), volume.join(file)) else { panic!("{file}") };
    }
    let server = TlsServer::start_on(volume.join("tls.crt"), volume.join("tls.key"), |config| {
        config.reload_debounce_ms = 50;
    })
    .await;
    assert_eq!(peer_certificate(&server.connect(&ca).await), old.der.as_ref());

    write_version("..2026_11_25_00_01_00.2", &new);
    let Ok(()) = symlink("..2026_11_25_00_01_00.2", volume.join("..data_tmp")) else { panic!("..data_tmp") };
    let Ok(()) = std::fs::rename(volume.join("..data_tmp"), volume.join("..data")) else { panic!("swap") };

    let status = server.await_status("rotation through ..data", |s| s.loaded.generation == 2).await;
    assert_eq!(status.loaded.fingerprint, fingerprint(&new.der));
    assert_eq!(peer_certificate(&server.connect(&ca).await), new.der.as_ref());
}

#[tokio::test]
async fn a_hangup_reloads_at_once_without_waiting_for_the_debounce() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let (old, new) = (ca.leaf(), ca.leaf());
    // A debounce far longer than the wait below: only the trigger can make
    // the reload happen in time.
    let server = TlsServer::start(tls_dir.path(), &old, |config| config.reload_debounce_ms = 10_000).await;
    replace_file(&server.key, &new.key_pem);
    replace_file(&server.cert, &new.cert_pem);
    server.tls.trigger(); // what SIGHUP does
    let mut status = server.tls.subscribe();
    let reloaded =
        tokio::time::timeout(Duration::from_secs(5), status.wait_for(|s| s.loaded.generation == 2)).await;
    assert!(matches!(reloaded, Ok(Ok(_))), "no reload within 5 s of the trigger: {:?}", server.tls.status());
    assert_eq!(peer_certificate(&server.connect(&ca).await), new.der.as_ref());
}

#[tokio::test]
async fn a_silent_client_does_not_stall_other_handshakes() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let leaf = ca.leaf();
    let server = TlsServer::start(tls_dir.path(), &leaf, |config| config.header_read_timeout_secs = 1).await;
    // Connects and never says a word of TLS.
    let Ok(mut silent) = TcpStream::connect(server.server.addr).await else { panic!("connect") };
    // Others are accepted and served meanwhile.
    let mut client = server.connect(&ca).await;
    assert_eq!(post_sample(&mut client).await, sample_json("oa-before-send.response-allow.json"));
    // The silent one is cut off by the handshake timeout.
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(PATIENCE, silent.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "the silent connection was not closed: {closed:?}");
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_no_answer() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let server = TlsServer::start(tls_dir.path(), &ca.leaf(), |_| {}).await;
    let Ok(mut plain) = TcpStream::connect(server.server.addr).await else { panic!("connect") };
    let Ok(()) = plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await else { panic!("send") };
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut answer)).await;
    assert!(matches!(read, Ok(Ok(_) | Err(_))), "the connection was not closed");
    // At most a TLS alert record (content type 21), never an HTTP answer.
    assert!(answer.is_empty() || answer[0] == 21, "{:?}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn healthcheck_probes_the_https_port() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let server = TlsServer::start(tls_dir.path(), &ca.leaf(), |_| {}).await;
    let addr = server.server.addr;
    let probe = |url: String| {
        tokio::task::spawn_blocking(move || {
            wordgate::healthcheck::probe(&url, wordgate::healthcheck::TIMEOUT)
        })
    };
    // The certificate names `localhost`, not the address probed, and its CA
    // is unknown to the probe: neither matters to a self-check.
    let Ok(healthy) = probe(format!("https://{addr}/healthz")).await else { panic!("probe task") };
    assert!(healthy.as_ref().is_ok_and(|line| line.starts_with("HTTP/1.1 200")), "{healthy:?}");
    let Ok(missing) = probe(format!("https://{addr}/nope")).await else { panic!("probe task") };
    assert!(missing.as_ref().is_err_and(|err| err.contains("404")), "{missing:?}");
    // Plain HTTP to the TLS port is not an answer.
    let Ok(plain) = probe(format!("http://{addr}/healthz")).await else { panic!("probe task") };
    assert!(plain.is_err(), "{plain:?}");

    // With built-in TLS configured, the URL the binary derives is https.
    let config = Config {
        listen: addr.to_string(),
        tls_cert: server.cert.clone(),
        tls_key: server.key.clone(),
        ..Config::default()
    };
    assert_eq!(wordgate::healthcheck::url_for(&config), format!("https://{addr}/healthz"));
    let (listen, cert, key) = (addr.to_string(), server.cert.clone(), server.key.clone());
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wordgate"))
            .arg("healthcheck")
            .env("WORDGATE_LISTEN", listen)
            .env("WORDGATE_SDKAPPID", "1400000000")
            .env("WORDGATE_TLS_CERT", cert)
            .env("WORDGATE_TLS_KEY", key)
            .env_remove("WORDGATE_CONFIG")
            .output()
    });
    let Ok(Ok(output)) = run.await else { panic!("run wordgate healthcheck") };
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn tls_connections_drain_at_shutdown() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let server = TlsServer::start(tls_dir.path(), &ca.leaf(), |_| {}).await;
    let mut idle = server.connect(&ca).await;
    assert_eq!(post_sample(&mut idle).await, sample_json("oa-before-send.response-allow.json"));
    let TlsServer { server, .. } = server;
    assert_eq!(server.stop().await, Drain::Complete);
    idle.closed().await;
}

#[test]
fn a_bad_certificate_at_startup_names_the_file() {
    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let (leaf, other) = (ca.leaf(), ca.leaf());
    let (cert, key) = (tls_dir.path().join("tls.crt"), tls_dir.path().join("tls.key"));
    replace_file(&cert, &leaf.cert_pem);
    replace_file(&key, &other.key_pem);
    let err = Tls::load(&cert, &key, Duration::ZERO).err().map(|e| e.0).unwrap_or_default();
    assert!(err.starts_with(&format!("{} with {}", cert.display(), key.display())), "{err}");

    // The binary refuses to start, exit status 2, naming the file.
    replace_file(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wordgate"))
        .args(["serve", "--sdkappid", "1", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env_remove("WORDGATE_CONFIG")
        .output();
    let Ok(output) = output else { panic!("run wordgate") };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&key.display().to_string()), "{stderr}");
}

#[test]
fn the_binary_serves_https_and_rotates_its_certificate_on_sighup() {
    use std::io::BufReader;
    use std::process::Command;

    let (ca, tls_dir) = (Ca::new(), tempfile::tempdir().expect("tempdir"));
    let (old, new) = (ca.leaf(), ca.leaf());
    let (cert, key) = (tls_dir.path().join("tls.crt"), tls_dir.path().join("tls.key"));
    replace_file(&cert, &old.cert_pem);
    replace_file(&key, &old.key_pem);
    let dir = dictionaries(&[("a.txt", "@action reject\nfoo\n")]);
    let app = crate::server::util::APP.to_string();
    let mut command = crate::server::util::wordgate_serve(&["--listen", "127.0.0.1:0", "--sdkappid", &app]);
    command.arg("--dictionaries").arg(dir.path()).arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
    // A debounce longer than the wait below: only SIGHUP can rotate in time.
    let Ok(mut child) = command.env("WORDGATE_RELOAD_DEBOUNCE_MS", "10000").spawn() else { panic!("spawn") };
    let Some(stderr) = child.stderr.take() else { panic!("stderr") };
    let mut stderr = BufReader::new(stderr);
    let Some(addr) = crate::server::util::logged_address(&mut stderr) else {
        panic!("the server logs its address")
    };
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));

    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        panic!("runtime")
    };
    runtime.block_on(async {
        let served = || async {
            let Ok(tcp) = TcpStream::connect(addr).await else { panic!("connect") };
            let Ok(name) = ServerName::try_from("localhost") else { panic!("server name") };
            match ca.connector().connect(name, tcp).await {
                Ok(stream) => peer_certificate(&Client::over(stream)),
                Err(err) => panic!("TLS handshake: {err}"),
            }
        };
        assert_eq!(served().await, old.der.as_ref());
        replace_file(&key, &new.key_pem);
        replace_file(&cert, &new.cert_pem);
        let Ok(hup) = Command::new("kill").args(["-HUP", &child.id().to_string()]).status() else {
            panic!("kill")
        };
        assert!(hup.success());
        // Poll with a deadline: nothing in the process to await from here.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while served().await != new.der.as_ref() {
            assert!(std::time::Instant::now() < deadline, "SIGHUP did not rotate the certificate within 5 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    let Ok(term) = Command::new("kill").args(["-TERM", &child.id().to_string()]).status() else {
        panic!("kill")
    };
    assert!(term.success());
    let status = child.wait();
    assert!(status.as_ref().is_ok_and(|s| s.success()), "{status:?}");
    let _ = drain.join();
}
