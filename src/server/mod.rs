//! The HTTP shell: the accept loop, connection limits and graceful shutdown.
//!
//! [`run`] takes its listener, its state and the future that says when to
//! stop, so tests start it on `127.0.0.1:0` and stop it with a channel while
//! `main` passes [`signal`] (SIGTERM or SIGINT). The shutdown sequence:
//!
//! 1. the `shutdown` future resolves: the accept loop ends;
//! 2. `/readyz` starts answering 503 (for requests still on open
//!    connections), the reload task is told to stop (a reload in progress
//!    finishes) and the listener is dropped, so new connections are
//!    refused;
//! 3. every connection is told to finish: idle keep-alive connections close
//!    at once, a connection in the middle of a request answers it and then
//!    closes;
//! 4. that drain is bounded by `shutdown_timeout_secs`; connections still
//!    open then are cut off, and [`Drain::TimedOut`] says how many;
//! 5. the audit stream, if on, is flushed: every record of an answered
//!    call is written before `run` returns.
//!
//! It owns [`AppState`], what the connections share: the live snapshot and
//! the [`Reloader`] it lends to the reload task, the webhook, and what
//! `SIGHUP` does ([`AppState::hangup`]).
//!
//! [`run`] also runs the reload task ([`reload::run`]) beside the accept
//! loop, and, with built-in HTTPS ([`AppState::with_tls`]), the certificate
//! rotation task; TLS handshakes happen in each connection's task
//! ([`tls`]), never in the accept loop. Routes and status codes live in
//! [`routes`]; bounded body collection in [`body`]. The webhook logic itself is [`crate::webhook`], which knows
//! nothing of sockets.

pub mod body;
pub mod console;
pub mod routes;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, error, info, warn};

use crate::audit_sink::AuditLog;
use crate::config::Config;
use crate::reload::{self, Reloader, Trigger};
use crate::snapshot::Snapshot;
use crate::webhook::{Policy, Webhook};

/// The wall clock the server reads `RequestTime` against; tests inject a
/// fixed one.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Limits and paths of the HTTP shell, taken from [`Config`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// Path of the Tencent callback.
    pub webhook_path: String,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Time to send a request's headers (also the keep-alive idle timeout).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Bound on the drain at shutdown.
    pub shutdown_timeout: Duration,
}

impl Settings {
    /// The settings in `config`.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            webhook_path: config.webhook_path.clone(),
            max_body_bytes: config.max_body_bytes,
            header_read_timeout: config.header_read_timeout(),
            max_connections: config.max_connections,
            shutdown_timeout: config.shutdown_timeout(),
        }
    }
}

/// Everything the connections share.
pub struct AppState {
    /// The dictionaries in force. A request calls `load()` exactly once and
    /// drops the guard before its next `.await`; a reload `store`s a new
    /// snapshot.
    pub snapshot: ArcSwap<Snapshot>,
    /// Live reloading of the dictionaries: triggers, status, settings
    /// ([`crate::reload`]).
    pub reloader: Reloader,
    /// The webhook's settings and counters.
    pub webhook: Webhook,
    /// Limits and paths.
    pub settings: Settings,
    /// Built-in HTTPS, when configured: every connection is a TLS one.
    pub tls: Option<Arc<tls::Tls>>,
    /// Set once shutdown begins: `/readyz` fails from then on.
    shutting_down: AtomicBool,
    clock: Clock,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("generation", &self.snapshot.load().generation)
            .field("webhook", &self.webhook)
            .field("settings", &self.settings)
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for a server configured by `config`, serving `snapshot`, on the
    /// system clock.
    pub fn new(config: &Config, snapshot: Snapshot) -> AppState {
        AppState {
            snapshot: ArcSwap::from_pointee(snapshot),
            reloader: Reloader::new(config),
            webhook: Webhook::new(config.auth(), config.fail_policy, config.request_budget()).with_policy(
                Policy {
                    dry_run: config.dry_run,
                    exempt_senders: config.exempt_senders.clone(),
                    exempt_restapi: config.exempt_restapi,
                },
            ),
            settings: Settings::from_config(config),
            tls: None,
            shutting_down: AtomicBool::new(false),
            clock: Arc::new(SystemTime::now),
        }
    }

    /// The same state, recording every callback to `audit`
    /// ([`AuditLog::open`] makes one from the config; tests inject their
    /// own sink).
    pub fn with_audit(mut self, audit: Option<AuditLog>) -> AppState {
        self.webhook = self.webhook.with_audit(audit);
        self
    }

    /// The same state on another clock.
    pub fn with_clock(mut self, clock: Clock) -> AppState {
        self.clock = clock;
        self
    }

    /// The same state serving HTTPS with `tls`.
    pub fn with_tls(mut self, tls: Arc<tls::Tls>) -> AppState {
        self.tls = Some(tls);
        self
    }

    /// The time now, by this server's clock.
    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Marks the server as shutting down (`/readyz` → 503).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// What `SIGHUP` does ([`reload::Hangup::forward`]): reload the
    /// dictionaries now, and the TLS certificate if there is one.
    pub fn hangup(&self) {
        self.reloader.trigger(Trigger::Signal);
        if let Some(tls) = &self.tls {
            tls.trigger();
        }
    }
}

/// How the drain at shutdown ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// Every connection finished.
    Complete,
    /// The shutdown timeout passed with this many connections still open;
    /// they were cut off.
    TimedOut {
        /// Connections still open.
        open: usize,
    },
}

/// Accepts connections on `listener` and serves them until `shutdown`
/// resolves, then drains (see the module docs).
pub async fn run(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>) -> Drain {
    let settings = state.settings.clone();
    // One builder for every connection. HTTP/1.1 only, keep-alive on
    // (Tencent holds connections open); the timer is what makes the header
    // timeout work at all (hyper panics on a timeout without one).
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout).keep_alive(true);

    // Step 3 of shutdown: every connection is registered here, and told to
    // finish when `graceful.shutdown()` is called.
    let graceful = GracefulShutdown::new();
    // The connection limit. A permit is taken *before* accepting, so at the
    // limit the loop stops accepting and new clients wait in the kernel's
    // backlog; each connection task holds its permit until it ends.
    let max_connections = settings.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut backoff = ACCEPT_BACKOFF_START;
    // Live reloads run beside the accept loop until shutdown.
    let reload_state = Arc::clone(&state);
    let reloads = AbortOnDrop(tokio::spawn(async move {
        reload::run(&reload_state.snapshot, &reload_state.reloader).await;
    }));
    let rotations = state.tls.as_ref().map(|tls| AbortOnDrop(tokio::spawn(tls::run(Arc::clone(tls)))));

    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; if it were, stop serving.
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff = ACCEPT_BACKOFF_START;
                    accepted
                }
                Err(err) => {
                    // Usually out of file descriptors: wait for connections
                    // to close rather than spin. Never give up; the next
                    // accept may well succeed.
                    error!(cause = %err, retry_in = ?backoff, "failed to accept a connection");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
        };
        // Answers are one small write; don't let Nagle hold them back.
        if let Err(err) = stream.set_nodelay(true) {
            debug!(%peer, cause = %err, "could not set TCP_NODELAY");
        }
        let service_state = Arc::clone(&state);
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let state = Arc::clone(&service_state);
            // Who is calling, for the routes that care (`/admin/reload`).
            async move { Ok::<_, Infallible>(routes::route(&state, Some(routes::Peer(peer)), request).await) }
        });
        // Registered with the drain now, before the handshake, so a
        // connection accepted just before shutdown is still waited for.
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = state.tls.clone();
        let handshake_timeout = settings.header_read_timeout;
        let open = OpenConnection::new(&state);
        tokio::spawn(async move {
            let _open = open;
            let served = match tls {
                None => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                Some(tls) => match tls.handshake(stream, handshake_timeout).await {
                    Ok(stream) => {
                        watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await
                    }
                    Err(err) => {
                        debug!(%peer, cause = %err, "connection closed before serving");
                        Ok(())
                    }
                },
            };
            if let Err(err) = served {
                // Header timeouts, resets, malformed requests: the client's
                // business, not an operator's.
                debug!(%peer, cause = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }

    // Steps 2 to 4. A reload in progress finishes; no other starts.
    state.begin_shutdown();
    state.reloader.stop();
    drop(listener);
    let open = max_connections - permits.available_permits();
    info!(open_connections = open, timeout = ?settings.shutdown_timeout, "shutting down: draining connections");
    let drain = match tokio::time::timeout(settings.shutdown_timeout, graceful.shutdown()).await {
        Ok(()) => {
            info!("all connections finished");
            Drain::Complete
        }
        Err(_) => {
            let open = max_connections - permits.available_permits();
            warn!(open_connections = open, "shutdown timeout passed; cutting off the remaining connections");
            Drain::TimedOut { open }
        }
    };
    // Still building? Its result has no one to serve any more.
    drop(reloads);
    drop(rotations);
    // Every call that was answered has queued its record; write them all.
    if let Some(audit) = state.webhook.audit() {
        if !audit.flush(settings.shutdown_timeout).await {
            warn!("the audit stream could not be flushed in time; records still queued may be lost");
        }
    }
    drain
}

/// Counts a connection in `wordgate_open_connections` while it lives.
struct OpenConnection(Arc<AppState>);

impl OpenConnection {
    fn new(state: &Arc<AppState>) -> OpenConnection {
        state.webhook.counters().callbacks.open_connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(state))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.webhook.counters().callbacks.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ends the reload task with the server, even when `run` itself is
/// cancelled rather than shut down.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Resolves on SIGTERM (what containers send) or SIGINT (Ctrl-C).
pub async fn signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            // Without a handler there is nothing to wait for; never resolve
            // rather than shut down at once.
            error!(cause = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => info!("SIGTERM received"),
                    () = ctrl_c => info!("SIGINT received"),
                }
            }
            Err(err) => {
                error!(cause = %err, "cannot listen for SIGTERM; only SIGINT will stop the server");
                ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
