//! Built-in HTTPS: the certificate in force, its rotation without a restart,
//! and the handshake of each connection.
//!
//! The certificate and key are two PEM files (`tls_cert`, `tls_key`). They
//! are compiled into one rustls [`ServerConfig`] (TLS 1.2 and 1.3 only,
//! rustls's defaults; ALPN `http/1.1`; the `ring` provider), held in an
//! `ArcSwap`. Each new connection loads the config in force when its
//! handshake starts, so a rotation reaches new connections while open ones
//! keep the certificate they were made with.
//!
//! # Rotation
//!
//! [`run`] watches the *parent directories* of both files with `notify`,
//! not the files themselves: editors and `mv` replace a file's inode, and a
//! Kubernetes Secret volume swaps a `..data` symlink in the directory, so a
//! watch on the old file would go deaf after the first rotation. Any change
//! there (other than a read, which our own loading causes) schedules a
//! reload once the directories have been quiet for the debounce, because
//! `cp cert && cp key` would otherwise be loaded half done. `SIGHUP`
//! ([`Tls::trigger`]) reloads at once.
//!
//! A reload reads both files; when their bytes are what is already loaded
//! nothing changes (`unchanged`). Otherwise they are compiled into a new
//! config and swapped in. A file that cannot be read or parsed, or a key
//! that does not match the certificate, keeps the previous config in force:
//! the problem is logged and shown in `/healthz` (`tls.last_error`) until a
//! later reload succeeds or finds the files back to what is loaded, the
//! same contract as a bad dictionary edit ([`crate::reload`]).
//!
//! # Handshakes
//!
//! The accept loop only accepts; the handshake runs in the connection's own
//! task ([`Tls::handshake`]), under a timeout (`header_read_timeout_secs`),
//! while holding that connection's permit. A client that opens a socket and
//! never finishes its handshake costs one permit until the timeout, never
//! the accept loop.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::reload::max_delay;

/// The ALPN protocol offered: HTTP/1.1 only, like the plain listener.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// A problem with the certificate or key, naming the file at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// Why a connection's handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// The client did not finish within the handshake timeout.
    TimedOut,
    /// The handshake failed (bad client hello, no common cipher, reset).
    Failed(std::io::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::TimedOut => f.write_str("TLS handshake timed out"),
            HandshakeError::Failed(err) => write!(f, "TLS handshake failed: {err}"),
        }
    }
}

/// The certificate in force, as `/healthz` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Loaded {
    /// 1 for the certificate loaded at start, plus one per rotation.
    pub generation: u64,
    /// When it was loaded, Unix seconds.
    pub loaded_at: u64,
    /// `sha256:` of the leaf certificate's DER bytes: what `openssl x509
    /// -fingerprint -sha256` prints, in lower-case hex without colons.
    pub fingerprint: String,
}

/// How many reload attempts ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsReloads {
    /// New certificates swapped in.
    pub reloaded: u64,
    /// Attempts that found the files as loaded.
    pub unchanged: u64,
    /// Attempts refused (unreadable, unparsable, key not matching).
    pub failed: u64,
}

/// What `/healthz` shows under `tls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsStatus {
    /// The certificate file.
    pub cert: String,
    /// The key file.
    pub key: String,
    /// Whether the directories of both files are being watched.
    pub watching: bool,
    /// The certificate in force.
    pub loaded: Loaded,
    /// Reload attempts so far, by outcome.
    pub reloads: TlsReloads,
    /// The problem of the latest attempt, while it stands: cleared by a
    /// successful reload or one that finds the files as loaded.
    pub last_error: Option<String>,
}

/// A compiled certificate and key, with what identifies them.
struct Compiled {
    config: Arc<ServerConfig>,
    /// `sha256` of the two files' bytes, to tell a real change from a
    /// touch.
    files_digest: [u8; 32],
    fingerprint: String,
}

/// The TLS side of a server: the config in force and its rotation.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    debounce: Duration,
    config: ArcSwap<ServerConfig>,
    files_digest: std::sync::Mutex<[u8; 32]>,
    status: watch::Sender<TlsStatus>,
    /// Set by the watcher's thread: something changed, debounce it.
    changed: Arc<Trigger>,
    /// Set by `SIGHUP`: reload at once.
    urgent: AtomicBool,
    /// The directory watcher; `None` when it could not be set up, in which
    /// case the next reload tries again.
    watcher: std::sync::Mutex<Option<RecommendedWatcher>>,
}

/// Wakes [`run`]; shared with the watcher's thread.
#[derive(Debug, Default)]
struct Trigger {
    pending: AtomicBool,
    wake: Notify,
}

impl Trigger {
    fn fire(&self) {
        self.pending.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

impl Tls {
    /// Loads the certificate chain and key; a problem is an error naming
    /// the file, for the server to refuse to start with. `debounce` is the
    /// quiet time after a change in the files' directories before they are
    /// reloaded.
    pub fn load(cert: &Path, key: &Path, debounce: Duration) -> Result<Tls, TlsError> {
        // Watch before reading, so a change made while (or just after) the
        // files are read is not missed: it fires a reload that [`run`]
        // performs as soon as it starts.
        let changed = Arc::<Trigger>::default();
        let watcher = start_watcher(cert, key, &changed);
        let compiled = compile(cert, key)?;
        let status = TlsStatus {
            cert: cert.display().to_string(),
            key: key.display().to_string(),
            watching: watcher.is_some(),
            loaded: Loaded { generation: 1, loaded_at: unix_now(), fingerprint: compiled.fingerprint },
            reloads: TlsReloads::default(),
            last_error: None,
        };
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            debounce,
            config: ArcSwap::new(compiled.config),
            files_digest: std::sync::Mutex::new(compiled.files_digest),
            status: watch::Sender::new(status),
            changed,
            urgent: AtomicBool::new(false),
            watcher: std::sync::Mutex::new(watcher),
        })
    }

    /// Performs the TLS handshake on an accepted connection with the config
    /// in force now, within `timeout`.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        timeout: Duration,
    ) -> Result<TlsStream<TcpStream>, HandshakeError> {
        let acceptor = TlsAcceptor::from(self.config.load_full());
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(HandshakeError::Failed(err)),
            Err(_) => Err(HandshakeError::TimedOut),
        }
    }

    /// Asks for a reload now, without the debounce (`SIGHUP`).
    pub fn trigger(&self) {
        self.urgent.store(true, Ordering::SeqCst);
        self.changed.fire();
    }

    /// Sets the directory watch up again if it could not be before (a
    /// directory was missing), now that something asked for a reload.
    fn ensure_watching(&self) {
        let mut watcher = self.watcher.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if watcher.is_none() {
            *watcher = start_watcher(&self.cert, &self.key, &self.changed);
            let watching = watcher.is_some();
            self.status.send_modify(|status| status.watching = watching);
        }
    }

    /// What `/healthz` shows.
    pub fn status(&self) -> TlsStatus {
        self.status.borrow().clone()
    }

    /// The status, updated after every reload attempt: tests and callers
    /// wait on it instead of sleeping.
    pub fn subscribe(&self) -> watch::Receiver<TlsStatus> {
        self.status.subscribe()
    }

    /// One reload attempt: reads and compiles the files off the async
    /// threads, swaps the new config in, or keeps the old one on a problem.
    pub async fn reload(&self) {
        let (cert, key) = (self.cert.clone(), self.key.clone());
        let compiled =
            tokio::task::spawn_blocking(move || compile(&cert, &key)).await.unwrap_or_else(|err| {
                Err(TlsError(format!("internal error while loading the certificate: {err}")))
            });
        match compiled {
            Ok(compiled) => {
                let unchanged = {
                    let mut digest =
                        self.files_digest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    let unchanged = *digest == compiled.files_digest;
                    *digest = compiled.files_digest;
                    unchanged
                };
                if unchanged {
                    self.status.send_modify(|status| {
                        status.reloads.unchanged += 1;
                        status.last_error = None;
                    });
                    info!(cert = %self.cert.display(), "TLS certificate unchanged");
                    return;
                }
                self.config.store(compiled.config);
                self.status.send_modify(|status| {
                    status.reloads.reloaded += 1;
                    status.last_error = None;
                    status.loaded = Loaded {
                        generation: status.loaded.generation + 1,
                        loaded_at: unix_now(),
                        fingerprint: compiled.fingerprint,
                    };
                });
                let status = self.status();
                info!(
                    cert = %self.cert.display(),
                    generation = status.loaded.generation,
                    fingerprint = %status.loaded.fingerprint,
                    "TLS certificate reloaded; new connections use it"
                );
            }
            Err(err) => {
                self.status.send_modify(|status| {
                    status.reloads.failed += 1;
                    status.last_error = Some(err.0.clone());
                });
                let generation = self.status.borrow().loaded.generation;
                warn!(cause = %err, generation, "TLS certificate reload failed; the previous certificate stays in force");
            }
        }
    }
}

/// The rotation task: watches the files' directories, debounces their
/// changes, and reloads on them and on [`Tls::trigger`]. Runs until it is
/// aborted ([`crate::server::run`] does at shutdown).
pub async fn run(tls: Arc<Tls>) {
    loop {
        tls.changed.wake.notified().await;
        if !tls.changed.pending.swap(false, Ordering::SeqCst) {
            continue;
        }
        if !tls.urgent.swap(false, Ordering::SeqCst) {
            // Debounce: wait until the directories are quiet, so a cert
            // and key written one after the other are loaded together.
            let latest = tokio::time::Instant::now() + max_delay(tls.debounce);
            loop {
                let deadline = (tokio::time::Instant::now() + tls.debounce).min(latest);
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    () = tls.changed.wake.notified() => {
                        tls.changed.pending.store(false, Ordering::SeqCst);
                        if tls.urgent.swap(false, Ordering::SeqCst) {
                            break;
                        }
                    }
                }
            }
        }
        tls.ensure_watching();
        tls.reload().await;
    }
}

/// The directories to watch: the parents of both files, once each.
fn parent_dirs(cert: &Path, key: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [cert, key]
        .iter()
        .map(|file| match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    dirs.dedup();
    dirs
}

fn start_watcher(cert: &Path, key: &Path, changed: &Arc<Trigger>) -> Option<RecommendedWatcher> {
    let trigger = Arc::clone(changed);
    let names: Vec<OsString> =
        [cert, key].iter().filter_map(|file| file.file_name()).map(OsString::from).collect();
    let handler = move |event: notify::Result<notify::Event>| match event {
        // Our own reading of the files: not a change.
        Ok(event) if crate::reload::is_read_only(&event.kind) => {}
        Ok(event) if concerns_the_files(&event.paths, &names) => trigger.fire(),
        // Another file in a shared directory (a log, other certificates):
        // reloading on it would be wasted work, or a loop if it is our log.
        Ok(_) => {}
        Err(err) => {
            // Lost events: the files may have changed unheard; re-read.
            warn!(cause = %err, "TLS certificate watcher error");
            trigger.fire();
        }
    };
    let dirs = parent_dirs(cert, key);
    let started = notify::recommended_watcher(handler).and_then(|mut watcher| {
        for dir in &dirs {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        Ok(watcher)
    });
    match started {
        Ok(watcher) => {
            info!(dirs = ?dirs, "watching the TLS certificate and key for changes");
            Some(watcher)
        }
        Err(err) => {
            warn!(cause = %err, dirs = ?dirs, "cannot watch the TLS certificate directories; rotate with SIGHUP");
            None
        }
    }
}

/// Whether an event in a watched directory may have changed the files:
/// it names one of them, or a `..`-prefixed entry (a Kubernetes volume's
/// `..data` link and the timestamped directories it points to), or no path
/// at all (a rescan: anything may have changed).
fn concerns_the_files(paths: &[PathBuf], names: &[OsString]) -> bool {
    paths.is_empty()
        || paths.iter().any(|path| {
            path.file_name().is_some_and(|name| {
                names.iter().any(|watched| watched == name) || name.to_string_lossy().starts_with("..")
            })
        })
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads and compiles the certificate chain and key. Every error names the
/// file at fault.
fn compile(cert_path: &Path, key_path: &Path) -> Result<Compiled, TlsError> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path)
            .map_err(|err| TlsError(format!("cannot read TLS {what} {}: {err}", path.display())))
    };
    let cert_pem = read(cert_path, "certificate")?;
    let key_pem = read(key_path, "key")?;

    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError(format!("{}: not a PEM certificate chain: {err}", cert_path.display())))?;
    let Some(leaf) = certs.first() else {
        return Err(TlsError(format!(
            "{}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            cert_path.display()
        )));
    };
    let fingerprint = format!("sha256:{}", hex::encode(Sha256::digest(leaf.as_ref())));
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| {
        TlsError(format!(
            "{}: no usable private key in it (expected PEM PKCS#8, PKCS#1 or SEC1): {err}",
            key_path.display()
        ))
    })?;

    let builder = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError(format!("TLS protocol versions: {err}")))?;
    // `with_single_cert` also checks that the key belongs to the leaf
    // certificate, so a half-finished rotation is refused here.
    let mut config = builder.with_no_client_auth().with_single_cert(certs, key).map_err(|err| {
        TlsError(format!(
            "{} with {}: the certificate and key cannot be used together: {err}",
            cert_path.display(),
            key_path.display()
        ))
    })?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];

    let mut files = Sha256::new();
    files.update((cert_pem.len() as u64).to_le_bytes());
    files.update(&cert_pem);
    files.update(&key_pem);
    Ok(Compiled { config: Arc::new(config), files_digest: files.finalize().into(), fingerprint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let err =
            Tls::load(Path::new("/nonexistent/cert.pem"), Path::new("/nonexistent/key.pem"), Duration::ZERO)
                .err()
                .map(|e| e.0)
                .unwrap_or_default();
        assert!(err.starts_with("cannot read TLS certificate /nonexistent/cert.pem"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_pem_is_named() {
        let dir = tempfile::tempdir().ok();
        let dir = dir.as_ref().map_or(Path::new("."), |d| d.path());
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        assert!(std::fs::write(&cert, "not a certificate").is_ok());
        assert!(std::fs::write(&key, "not a key").is_ok());
        let err = Tls::load(&cert, &key, Duration::ZERO).err().map(|e| e.0).unwrap_or_default();
        assert!(err.starts_with(&format!("{}: no certificate in it", cert.display())), "{err}");
    }

    #[test]
    fn only_events_about_the_files_count() {
        let names = [OsString::from("tls.crt"), OsString::from("tls.key")];
        let event = |paths: &[&str]| paths.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert!(concerns_the_files(&event(&["/etc/tls/tls.crt"]), &names));
        assert!(concerns_the_files(&event(&["/etc/tls/tls.key.tmp", "/etc/tls/tls.key"]), &names));
        assert!(concerns_the_files(&event(&["/etc/tls/..data"]), &names));
        assert!(concerns_the_files(&event(&["/etc/tls/..2026_11_25_00_00_00.1"]), &names));
        assert!(concerns_the_files(&event(&[]), &names));
        assert!(!concerns_the_files(&event(&["/etc/tls/wordgate.log"]), &names));
        assert!(!concerns_the_files(&event(&["/etc/tls/other.crt"]), &names));
    }

    #[test]
    fn watched_dirs_are_the_parents_once() {
        assert_eq!(
            parent_dirs(Path::new("/etc/tls/tls.crt"), Path::new("/etc/tls/tls.key")),
            vec![PathBuf::from("/etc/tls")]
        );
        assert_eq!(
            parent_dirs(Path::new("cert.pem"), Path::new("/k/key.pem")),
            vec![PathBuf::from("."), PathBuf::from("/k")]
        );
    }
}
