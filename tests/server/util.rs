//! A real server on `127.0.0.1:0` and a raw HTTP/1.1 client that speaks
//! bytes, so tests control exactly what goes over the wire (partial bodies,
//! chunked bodies, pipelining, half-sent headers).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use wordgate::audit_sink::AuditLog;
use wordgate::config::Config;
use wordgate::server::{self, AppState, Clock, Drain};
use wordgate::snapshot::Snapshot;

/// The SDKAppID every test server accepts.
pub const APP: u64 = 1400000001;

/// Upper bound on any single wait, so a broken server fails the test
/// instead of hanging it. Never used to wait *for* something.
const PATIENCE: Duration = Duration::from_secs(20);

/// A dictionary directory with these files.
pub fn dictionaries(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write dictionary");
    }
    dir
}

/// The shipped starter dictionaries.
pub fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dictionaries")
}

/// A valid configuration serving `dir` for [`APP`].
pub fn config(dir: &Path) -> Config {
    Config { dictionaries: dir.to_path_buf(), sdkappid: vec![APP], ..Config::default() }
}

/// One of the protocol's sample payloads in `tests/data/samples`.
pub fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/samples").join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A sample payload as JSON.
pub fn sample_json(name: &str) -> Value {
    serde_json::from_slice(&sample(name)).expect("sample is JSON")
}

/// The request target Tencent would use for `command`.
pub fn target(command: &str) -> String {
    format!(
        "/?SdkAppid={APP}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI"
    )
}

/// A clock the test can set, in Unix seconds.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn at(seconds: u64) -> ManualClock {
        let clock = ManualClock::default();
        clock.set(seconds);
        clock
    }

    pub fn set(&self, seconds: u64) {
        self.0.store(seconds, Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let seconds = Arc::clone(&self.0);
        Arc::new(move || UNIX_EPOCH + Duration::from_secs(seconds.load(Ordering::SeqCst)))
    }
}

/// The dictionaries `config` names, as generation 1, after checking the
/// config is valid.
pub fn snapshot(config: &Config) -> Snapshot {
    config.validate().expect("valid test config");
    Snapshot::load(&config.dictionaries, 1, SystemTime::now())
        .unwrap_or_else(|errors| panic!("dictionaries: {errors:?}"))
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Drain>>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        TestServer::start_with_clock(config, None).await
    }

    pub async fn start_with_clock(config: Config, clock: Option<Clock>) -> TestServer {
        let snapshot = snapshot(&config);
        // As `wordgate serve` does: the audit stream the config asks for.
        let audit = AuditLog::open(&config).unwrap_or_else(|err| panic!("audit: {err}"));
        let mut state = AppState::new(&config, snapshot).with_audit(audit);
        if let Some(clock) = clock {
            state = state.with_clock(clock);
        }
        TestServer::serve(state).await
    }

    /// Serves a state built by the test (with TLS, or an injected audit sink).
    pub async fn serve(state: AppState) -> TestServer {
        TestServer::serve_on(state, "127.0.0.1:0").await
    }

    /// Serves on every interface (`0.0.0.0:0`), for tests whose peer must
    /// not be loopback ([`non_loopback_address`]).
    pub async fn start_on_every_interface(config: Config) -> TestServer {
        let snapshot = snapshot(&config);
        TestServer::serve_on(AppState::new(&config, snapshot), "0.0.0.0:0").await
    }

    async fn serve_on(state: AppState, listen: &str) -> TestServer {
        let state = Arc::new(state);
        let listener = TcpListener::bind(listen).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, Arc::clone(&state), async {
            let _ = stopped.await;
        }));
        TestServer { addr, state, stop: Some(stop), task: Some(task) }
    }

    /// A new connection.
    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Sends one request on a new connection.
    pub async fn post(&self, target: &str, body: &[u8]) -> Response {
        self.connect().await.post(target, body).await
    }

    /// Tells the server to shut down (what SIGTERM does in the binary).
    pub fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for the drain to end.
    pub async fn stop(mut self) -> Drain {
        self.signal_shutdown();
        let task = self.task.take().expect("running");
        tokio::time::timeout(PATIENCE, task).await.expect("server stops in time").expect("server task")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// This machine's address on its default route: a peer connecting from it
/// is not loopback. Found by connecting a UDP socket (no packet is sent).
pub fn non_loopback_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp socket");
    socket.connect("192.0.2.1:9").expect("a default route (the test needs a non-loopback address)");
    let ip = socket.local_addr().expect("local address").ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "no non-loopback address: {ip}");
    ip
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The bytes of a `POST` with a `Content-Length` body.
pub fn post_request(target: &str, body: &[u8]) -> Vec<u8> {
    let mut request =
        format!("POST {target} HTTP/1.1\r\nHost: wordgate.test\r\nContent-Length: {}\r\n\r\n", body.len())
            .into_bytes();
    request.extend_from_slice(body);
    request
}

/// The bytes of a `GET`.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: wordgate.test\r\n\r\n").into_bytes()
}

/// One client connection: plain TCP, or any other byte stream (TLS).
pub struct Client<S = TcpStream> {
    stream: S,
    buffer: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client::over(stream)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client speaking over an established stream.
    pub fn over(stream: S) -> Client<S> {
        Client { stream, buffer: Vec::new() }
    }

    /// The stream underneath (e.g. to look at the TLS session).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    pub async fn post(&mut self, target: &str, body: &[u8]) -> Response {
        self.send(&post_request(target, body)).await;
        self.response().await
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.send(&get_request(path)).await;
        self.response().await
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .expect("server answers in time")
            .expect("read");
        self.buffer.extend_from_slice(&chunk[..read]);
        read
    }

    /// Reads the next response (responses are `Content-Length` framed).
    pub async fn response(&mut self) -> Response {
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            assert!(self.fill().await > 0, "connection closed before a response");
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).expect("UTF-8 head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .expect("responses carry Content-Length");
        let body_start = head_end + 4;
        while self.buffer.len() < body_start + length {
            assert!(self.fill().await > 0, "connection closed inside a response body");
        }
        let body = self.buffer[body_start..body_start + length].to_vec();
        self.buffer.drain(..body_start + length);
        Response { status, headers, body }
    }

    /// Waits until the server closes the connection (EOF or reset), with
    /// nothing else sent.
    pub async fn closed(&mut self) {
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk)).await.expect("closed in time") {
            Ok(0) | Err(_) => {}
            Ok(n) => {
                panic!("expected the connection to close, got {:?}", String::from_utf8_lossy(&chunk[..n]))
            }
        }
    }
}

/// `wordgate serve ARGS` as a process, without any `WORDGATE_*` variable of
/// the environment running the tests: stdin closed, stdout discarded,
/// stderr piped (the server logs its address there).
pub fn wordgate_serve(args: &[&str]) -> std::process::Command {
    use std::process::Stdio;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wordgate"));
    command.arg("serve").args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|name| name.starts_with("WORDGATE_")) {
            command.env_remove(name);
        }
    }
    command
}

/// Reads a server's text log until it says where it listens (`http://` or
/// `https://`); `None` if the log ends first.
pub fn logged_address(log: &mut impl std::io::BufRead) -> Option<SocketAddr> {
    let mut line = String::new();
    while log.read_line(&mut line).unwrap_or(0) > 0 {
        let rest =
            line.split("listening on http://").nth(1).or_else(|| line.split("listening on https://").nth(1));
        if let Some(addr) = rest.and_then(|rest| rest.split('/').next()).and_then(|addr| addr.parse().ok()) {
            return Some(addr);
        }
        line.clear();
    }
    None
}
