//! `wordgate serve` configuration: built-in defaults < TOML file <
//! `WORDGATE_*` environment variables < command-line flags.
//!
//! Every key is a top-level TOML key; its environment variable is
//! `WORDGATE_` + the key in upper case (`max_body_bytes` →
//! `WORDGATE_MAX_BODY_BYTES`). `wordgate.example.toml` lists every key with
//! its default and is parsed by a test, so it cannot drift from this file.
//!
//! Unknown keys in the file and unknown `WORDGATE_*` variables are errors,
//! not warnings: a misspelt `tokn` must not silently switch authentication
//! off.
//!
//! This module owns the settings and the plain types they are made of
//! ([`FailPolicy`], [`AuditTarget`], [`LogFormat`], [`Secret`]), which the
//! modules that act on them import from here; it imports only [`crate::auth`],
//! nothing of the server, the webhook or the reload task.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::auth::Auth;

/// Paths the server answers itself, which the webhook path may not take.
pub const RESERVED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The flags of `wordgate serve`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file (or WORDGATE_CONFIG); see wordgate.example.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Dictionary directory [default: ./dictionaries].
    #[arg(long, value_name = "DIR")]
    pub dictionaries: Option<PathBuf>,
    /// SDKAppID of an app whose callbacks are accepted; repeat for several. Required.
    #[arg(long = "sdkappid", value_name = "ID")]
    pub sdkappid: Vec<u64>,
    /// Webhook authentication token from Tencent's console; enables the Sign check.
    /// Prefer WORDGATE_TOKEN or the config file: flags show up in `ps`.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// PEM certificate chain for built-in HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in HTTPS (with --tls-cert).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

/// A secret string: never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "<redacted>" })
    }
}

/// The server's settings. Field docs are the reference; the README and
/// `wordgate.example.toml` repeat them for users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`host:port`).
    pub listen: String,
    /// Dictionary directory.
    pub dictionaries: PathBuf,
    /// Path of the Tencent callback URL (any query string is accepted).
    pub webhook_path: String,
    /// SDKAppIDs whose callbacks are accepted. At least one is required.
    #[serde(deserialize_with = "one_or_many")]
    pub sdkappid: Vec<u64>,
    /// Webhook authentication token; empty disables the `Sign` check.
    pub token: Secret,
    /// How far `RequestTime` may be from the server's clock, in seconds.
    pub sign_window_secs: u64,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Time one callback may take from its headers to its answer, in
    /// milliseconds (Tencent waits 2000); past it the fail policy answers.
    pub request_budget_ms: u64,
    /// What to answer when no verdict is reached: `allow` or `reject`.
    pub fail_policy: FailPolicy,
    /// Time a client has to send a request's headers, in seconds. hyper
    /// starts this timer whenever a connection waits for its next request,
    /// so it also closes idle keep-alive connections. With built-in HTTPS it
    /// also bounds the TLS handshake.
    pub header_read_timeout_secs: u64,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests get to finish, in
    /// seconds.
    pub shutdown_timeout_secs: u64,
    /// Log filter (`tracing` env-filter syntax), e.g. `info` or
    /// `wordgate=debug`.
    pub log: String,
    /// Threads of the tokio runtime that serve connections; 0 means one
    /// per CPU core (tokio's default), which served the most in
    /// BENCHMARKS.md. Fewer leave cores to other processes.
    pub worker_threads: usize,
    /// Watch the dictionary directory and reload when anything in it
    /// changes. `SIGHUP` and `POST /admin/reload` reload either way.
    pub watch: bool,
    /// After a change in the dictionary directory, how long it must stay
    /// quiet before the reload starts, in milliseconds (0 to 10000). A
    /// burst of changes becomes one reload, started at most four times this
    /// long (at least one second) after its first change.
    pub reload_debounce_ms: u64,
    /// Token for `POST /admin/reload` (`Authorization: Bearer <token>`).
    /// Empty: the endpoint answers loopback peers only, without a token.
    pub admin_token: Secret,
    /// PEM certificate chain (leaf first) for built-in HTTPS; empty serves
    /// plain HTTP. Set together with `tls_key`. Reloaded when it changes.
    pub tls_cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: PathBuf,

    // Observability and moderation policy (issue 8): README "Audit,
    // metrics and logs".
    /// Log line format on standard error: `text` or `json`.
    pub log_format: LogFormat,
    /// Where audit records go: `off`, `stdout` or `file`.
    pub audit: AuditTarget,
    /// The audit file (`audit = "file"`); rotated to `<file>.1`, `.2`, …
    pub audit_file: PathBuf,
    /// Size at which the audit file is rotated, in bytes.
    pub audit_max_bytes: u64,
    /// Rotated audit files kept (1 to 1000); older ones are deleted.
    pub audit_keep: usize,
    /// Audit records that may wait for the writer; more are dropped and
    /// counted rather than delay an answer.
    pub audit_queue: usize,
    /// Put `MsgBody` and `CloudCustomData` (user content) in audit records.
    pub audit_include_message: bool,
    /// Shadow mode: moderate, record and count the real verdicts, but answer
    /// every message allow.
    pub dry_run: bool,
    /// Senders whose messages are not moderated (answered allow, recorded
    /// as `exempt`): `Official_Account` for official accounts,
    /// `From_Account` for C2C and groups.
    pub exempt_senders: Vec<String>,
    /// Do not moderate messages sent through the REST API
    /// (`OptPlatform=RESTAPI`, an app administrator).
    pub exempt_restapi: bool,
}

/// What to answer when no verdict could be reached in time (or the core
/// failed): deliver the message, like Tencent's own default for a webhook
/// that times out, or refuse it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailPolicy {
    /// Answer `ErrorCode` 0: the message is delivered (fail open).
    #[default]
    Allow,
    /// Answer `ErrorCode` 1: the message is refused (fail closed).
    Reject,
}

impl FailPolicy {
    /// `allow` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailPolicy::Allow => "allow",
            FailPolicy::Reject => "reject",
        }
    }
}

/// Where audit records go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditTarget {
    /// No audit stream.
    #[default]
    Off,
    /// One JSON line per callback on standard output.
    Stdout,
    /// One JSON line per callback in `audit_file`, rotated by size.
    File,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            dictionaries: PathBuf::from("./dictionaries"),
            webhook_path: "/".into(),
            sdkappid: Vec::new(),
            token: Secret::default(),
            sign_window_secs: 60,
            max_body_bytes: 64 * 1024,
            request_budget_ms: 500,
            fail_policy: FailPolicy::Allow,
            header_read_timeout_secs: 30,
            max_connections: 1024,
            shutdown_timeout_secs: 10,
            log: "info".into(),
            worker_threads: 0,
            watch: true,
            reload_debounce_ms: 250,
            admin_token: Secret::default(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            log_format: LogFormat::Text,
            audit: AuditTarget::Off,
            audit_file: PathBuf::from("./audit.jsonl"),
            audit_max_bytes: 100 * 1024 * 1024,
            audit_keep: 5,
            audit_queue: 8192,
            audit_include_message: false,
            dry_run: false,
            exempt_senders: Vec::new(),
            exempt_restapi: false,
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u64),
        Many(Vec<u64>),
    }
    OneOrMany::deserialize(deserializer).map(|ids| match ids {
        OneOrMany::One(id) => vec![id],
        OneOrMany::Many(ids) => ids,
    })
}

/// A configuration problem, worded for the person starting the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

const ENV_PREFIX: &str = "WORDGATE_";

/// Most accepted [`Config::worker_threads`].
pub const MAX_WORKER_THREADS: usize = 1024;

/// Longest accepted [`Config::reload_debounce_ms`]: beyond ten seconds an
/// edit would no longer go live "in seconds".
pub const MAX_RELOAD_DEBOUNCE_MS: u64 = 10_000;

/// Shortest accepted [`Config::admin_token`]: anything shorter is guessable.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// Smallest accepted [`Config::audit_max_bytes`]: below it nearly every
/// record (about 400 bytes without the message) would start a file. A
/// record larger than the limit still goes whole into a file of its own.
pub const MIN_AUDIT_MAX_BYTES: u64 = 4096;

/// Most accepted [`Config::audit_keep`].
pub const MAX_AUDIT_KEEP: usize = 1000;

/// Most accepted [`Config::audit_queue`]: each waiting record is one small
/// allocation; a million is already hundreds of MB at worst.
pub const MAX_AUDIT_QUEUE: usize = 1 << 20;

impl Config {
    /// Builds the configuration from the flags and the environment
    /// (`std::env::vars_os()` in the binary; tests pass their own), then
    /// validates it.
    pub fn load(
        args: &ServeArgs,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Config, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in env {
            let Some(name) = name.to_str() else { continue };
            let Some(key) = name.strip_prefix(ENV_PREFIX) else { continue };
            let value = value
                .into_string()
                .map_err(|_| ConfigError(format!("{name}: the value is not valid UTF-8")))?;
            vars.push((key.to_ascii_lowercase(), value));
        }

        let file = args
            .config
            .clone()
            .or_else(|| vars.iter().find(|(key, _)| key == "config").map(|(_, value)| PathBuf::from(value)));
        let mut config = match &file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        for (key, value) in &vars {
            if key != "config" {
                config.apply_env(key, value)?;
            }
        }
        config.apply_args(args);
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file; keys it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError(format!("cannot read config file {}: {err}", path.display())))?;
        Config::from_toml(&text).map_err(|err| ConfigError(format!("{}: {err}", path.display())))
    }

    /// Parses TOML text; keys it leaves out keep their defaults.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Applies one `WORDGATE_<KEY>` variable (`key` in lower case).
    pub fn apply_env(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let name = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
        let number = |value: &str| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| ConfigError(format!("{name}: expected a whole number, got {value:?}")))
        };
        let boolean = |value: &str| match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError(format!("{name}: expected true or false, got {value:?}"))),
        };
        match key {
            "listen" => self.listen = value.to_string(),
            "dictionaries" => self.dictionaries = PathBuf::from(value),
            "webhook_path" => self.webhook_path = value.to_string(),
            "sdkappid" => {
                self.sdkappid = value
                    .split([',', ' '])
                    .filter(|id| !id.is_empty())
                    .map(|id| {
                        id.parse::<u64>().map_err(|_| {
                            ConfigError(format!(
                                "{name}: expected SDKAppIDs separated by commas, got {value:?}"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            "token" => self.token = Secret(value.to_string()),
            "sign_window_secs" => self.sign_window_secs = number(value)?,
            "max_body_bytes" => self.max_body_bytes = usize::try_from(number(value)?).unwrap_or(usize::MAX),
            "request_budget_ms" => self.request_budget_ms = number(value)?,
            "fail_policy" => {
                self.fail_policy = match value.trim() {
                    "allow" => FailPolicy::Allow,
                    "reject" => FailPolicy::Reject,
                    _ => return Err(ConfigError(format!("{name}: expected allow or reject, got {value:?}"))),
                }
            }
            "header_read_timeout_secs" => self.header_read_timeout_secs = number(value)?,
            "max_connections" => {
                self.max_connections = usize::try_from(number(value)?).unwrap_or(usize::MAX);
            }
            "shutdown_timeout_secs" => self.shutdown_timeout_secs = number(value)?,
            "log" => self.log = value.to_string(),
            "worker_threads" => self.worker_threads = usize::try_from(number(value)?).unwrap_or(usize::MAX),
            "watch" => {
                self.watch = match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => return Err(ConfigError(format!("{name}: expected true or false, got {value:?}"))),
                }
            }
            "reload_debounce_ms" => self.reload_debounce_ms = number(value)?,
            "admin_token" => self.admin_token = Secret(value.to_string()),
            "tls_cert" => self.tls_cert = PathBuf::from(value),
            "tls_key" => self.tls_key = PathBuf::from(value),
            "log_format" => {
                self.log_format = match value.trim() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(ConfigError(format!("{name}: expected text or json, got {value:?}"))),
                }
            }
            "audit" => {
                self.audit = match value.trim() {
                    "off" => AuditTarget::Off,
                    "stdout" => AuditTarget::Stdout,
                    "file" => AuditTarget::File,
                    _ => {
                        return Err(ConfigError(format!(
                            "{name}: expected off, stdout or file, got {value:?}"
                        )))
                    }
                }
            }
            "audit_file" => self.audit_file = PathBuf::from(value),
            "audit_max_bytes" => self.audit_max_bytes = number(value)?,
            "audit_keep" => self.audit_keep = usize::try_from(number(value)?).unwrap_or(usize::MAX),
            "audit_queue" => self.audit_queue = usize::try_from(number(value)?).unwrap_or(usize::MAX),
            "audit_include_message" => self.audit_include_message = boolean(value)?,
            "dry_run" => self.dry_run = boolean(value)?,
            "exempt_senders" => {
                self.exempt_senders =
                    value.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_string).collect();
            }
            "exempt_restapi" => self.exempt_restapi = boolean(value)?,
            _ => {
                return Err(ConfigError(format!(
                    "{name}: unknown setting (the WORDGATE_* variables are WORDGATE_CONFIG and one per key \
                     of wordgate.example.toml, e.g. WORDGATE_MAX_BODY_BYTES)"
                )))
            }
        }
        Ok(())
    }

    /// Applies the command-line flags that were given.
    pub fn apply_args(&mut self, args: &ServeArgs) {
        if let Some(listen) = &args.listen {
            self.listen = listen.clone();
        }
        if let Some(dictionaries) = &args.dictionaries {
            self.dictionaries = dictionaries.clone();
        }
        if !args.sdkappid.is_empty() {
            self.sdkappid = args.sdkappid.clone();
        }
        if let Some(token) = &args.token {
            self.token = Secret(token.clone());
        }
        if let Some(cert) = &args.tls_cert {
            self.tls_cert = cert.clone();
        }
        if let Some(key) = &args.tls_key {
            self.tls_key = key.clone();
        }
    }

    /// Checks every setting; all problems are reported together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.sdkappid.is_empty() {
            problems.push(
                "no SdkAppid configured: the server accepts callbacks only from the Tencent apps it is told \
                 about. Pass --sdkappid ID (repeatable), set WORDGATE_SDKAPPID=ID[,ID...], or put \
                 `sdkappid = [ID]` in the config file"
                    .to_string(),
            );
        }
        if self.listen.trim().is_empty() {
            problems.push("listen: must be an address such as 127.0.0.1:8080".into());
        }
        let path = &self.webhook_path;
        if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
            problems.push(format!("webhook_path: must be a path starting with / (no query), got {path:?}"));
        } else if RESERVED_PATHS.contains(&path.as_str()) || path.starts_with("/admin/") {
            problems.push(format!("webhook_path: {path} is reserved for the server's own endpoints"));
        }
        if self.sign_window_secs == 0 {
            problems.push("sign_window_secs: must be at least 1".into());
        }
        if self.max_body_bytes == 0 {
            problems.push("max_body_bytes: must be at least 1".into());
        }
        if !(1..=2000).contains(&self.request_budget_ms) {
            problems.push(format!(
                "request_budget_ms: must be from 1 to 2000 (Tencent waits 2000 ms), got {}",
                self.request_budget_ms
            ));
        }
        if self.header_read_timeout_secs == 0 {
            problems.push("header_read_timeout_secs: must be at least 1".into());
        }
        if self.max_connections == 0 {
            problems.push("max_connections: must be at least 1".into());
        }
        if self.worker_threads > MAX_WORKER_THREADS {
            problems.push(format!(
                "worker_threads: must be from 0 (one per CPU core) to {MAX_WORKER_THREADS}, got {}",
                self.worker_threads
            ));
        }
        if self.reload_debounce_ms > MAX_RELOAD_DEBOUNCE_MS {
            problems.push(format!(
                "reload_debounce_ms: must be from 0 to {MAX_RELOAD_DEBOUNCE_MS}, got {}",
                self.reload_debounce_ms
            ));
        }
        let admin_token = &self.admin_token.0;
        if !admin_token.is_empty()
            && (admin_token.len() < MIN_ADMIN_TOKEN_LEN || !admin_token.bytes().all(|b| b.is_ascii_graphic()))
        {
            problems.push(format!(
                "admin_token: must be at least {MIN_ADMIN_TOKEN_LEN} visible ASCII characters (no spaces), \
                 e.g. from `openssl rand -hex 32`"
            ));
        }
        if self.tls_cert.as_os_str().is_empty() != self.tls_key.as_os_str().is_empty() {
            problems.push(
                "tls_cert and tls_key: set both (built-in HTTPS) or neither (plain HTTP); \
                 --tls-cert/--tls-key, WORDGATE_TLS_CERT/WORDGATE_TLS_KEY"
                    .into(),
            );
        }
        if self.audit_max_bytes < MIN_AUDIT_MAX_BYTES {
            problems.push(format!(
                "audit_max_bytes: must be at least {MIN_AUDIT_MAX_BYTES}, got {}",
                self.audit_max_bytes
            ));
        }
        if !(1..=MAX_AUDIT_KEEP).contains(&self.audit_keep) {
            problems.push(format!("audit_keep: must be from 1 to {MAX_AUDIT_KEEP}, got {}", self.audit_keep));
        }
        if !(1..=MAX_AUDIT_QUEUE).contains(&self.audit_queue) {
            problems
                .push(format!("audit_queue: must be from 1 to {MAX_AUDIT_QUEUE}, got {}", self.audit_queue));
        }
        if self.audit == AuditTarget::File && self.audit_file.as_os_str().is_empty() {
            problems.push("audit_file: must name a file when audit = \"file\"".into());
        }
        if self.exempt_senders.iter().any(|id| id.trim().is_empty()) {
            problems.push("exempt_senders: an empty account id would match nothing; remove it".into());
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            problems.push(format!("log: {err}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems.join("\n")))
        }
    }

    /// The authentication settings.
    pub fn auth(&self) -> Auth {
        let token = (!self.token.0.is_empty()).then(|| self.token.0.clone());
        Auth::new(self.sdkappid.clone(), token, Duration::from_secs(self.sign_window_secs))
    }

    /// [`Config::request_budget_ms`] as a duration.
    pub fn request_budget(&self) -> Duration {
        Duration::from_millis(self.request_budget_ms)
    }

    /// [`Config::header_read_timeout_secs`] as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// [`Config::reload_debounce_ms`] as a duration.
    pub fn reload_debounce(&self) -> Duration {
        Duration::from_millis(self.reload_debounce_ms)
    }

    /// [`Config::admin_token`], if one is set.
    pub fn admin_token(&self) -> Option<&str> {
        (!self.admin_token.0.is_empty()).then_some(self.admin_token.0.as_str())
    }

    /// The certificate and key files when built-in HTTPS is configured.
    pub fn tls_files(&self) -> Option<(&Path, &Path)> {
        (!self.tls_cert.as_os_str().is_empty() && !self.tls_key.as_os_str().is_empty())
            .then_some((self.tls_cert.as_path(), self.tls_key.as_path()))
    }

    /// [`Config::shutdown_timeout_secs`] as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../wordgate.example.toml");

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect()
    }

    fn keys(table: &toml::Table) -> Vec<String> {
        let mut keys: Vec<String> = table.keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn example_lists_every_key_with_its_default() {
        let example = Config::from_toml(EXAMPLE);
        assert_eq!(example.as_ref().ok(), Some(&Config::default()), "{example:?}");
        let listed: toml::Table = toml::from_str(EXAMPLE).unwrap_or_default();
        let all = toml::Table::try_from(Config::default()).unwrap_or_default();
        assert!(!all.is_empty());
        assert_eq!(keys(&listed), keys(&all));
    }

    #[test]
    fn every_key_has_an_environment_variable() {
        let all = toml::Table::try_from(Config::default()).unwrap_or_default();
        for key in all.keys() {
            let result = Config::default().apply_env(key, "x");
            if let Err(ConfigError(message)) = result {
                assert!(!message.contains("unknown setting"), "{key}: {message}");
            }
        }
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let dir = tempfile::tempdir().ok();
        let dir = dir.as_ref().map_or(Path::new("."), |d| d.path());
        let file = dir.join("wordgate.toml");
        let written = std::fs::write(
            &file,
            "listen = \"0.0.0.0:1\"\ndictionaries = \"/from/file\"\nsdkappid = 1\ntoken = \"file\"\n\
             max_body_bytes = 1000\nfail_policy = \"reject\"\n",
        );
        assert!(written.is_ok());
        let args = ServeArgs {
            config: Some(file.clone()),
            listen: Some("127.0.0.1:3".into()),
            sdkappid: vec![3, 4],
            ..ServeArgs::default()
        };
        let vars = env(&[
            ("WORDGATE_LISTEN", "0.0.0.0:2"),
            ("WORDGATE_SDKAPPID", "2"),
            ("WORDGATE_TOKEN", "env"),
            ("WORDGATE_MAX_BODY_BYTES", "2000"),
            ("PATH", "/bin"),
        ]);
        let config = Config::load(&args, vars);
        let config = config.unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(config.listen, "127.0.0.1:3"); // flag over env over file
        assert_eq!(config.sdkappid, vec![3, 4]); // flag
        assert_eq!(config.token, Secret("env".into())); // env over file
        assert_eq!(config.max_body_bytes, 2000); // env over file
        assert_eq!(config.dictionaries, PathBuf::from("/from/file")); // file over default
        assert_eq!(config.fail_policy, FailPolicy::Reject); // file
        assert_eq!(config.request_budget_ms, 500); // default

        // WORDGATE_CONFIG names the file when --config does not.
        let vars = env(&[("WORDGATE_CONFIG", file.to_str().unwrap_or_default())]);
        let config = Config::load(&ServeArgs::default(), vars).map(|c| c.listen);
        assert_eq!(config, Ok("0.0.0.0:1".to_string()));
    }

    #[test]
    fn unknown_keys_and_variables_are_refused() {
        let err = Config::from_toml("tokn = \"x\"\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unknown field `tokn`"), "{err}");
        let args = ServeArgs { sdkappid: vec![1], ..ServeArgs::default() };
        let err = Config::load(&args, env(&[("WORDGATE_TOKN", "x")])).err();
        assert!(err.is_some_and(|e| e.0.starts_with("WORDGATE_TOKN: unknown setting")));
        let err = Config::load(&args, env(&[("WORDGATE_MAX_BODY_BYTES", "lots")])).err();
        assert_eq!(
            err.map(|e| e.0),
            Some("WORDGATE_MAX_BODY_BYTES: expected a whole number, got \"lots\"".into())
        );
    }

    #[test]
    fn a_server_without_an_app_does_not_start() {
        let err = Config::load(&ServeArgs::default(), Vec::new()).err().map(|e| e.0).unwrap_or_default();
        assert!(err.starts_with("no SdkAppid configured"), "{err}");
        let config =
            Config::load(&ServeArgs::default(), env(&[("WORDGATE_SDKAPPID", "1400000001, 1400000002")]));
        assert_eq!(config.map(|c| c.sdkappid), Ok(vec![1400000001, 1400000002]));
    }

    #[test]
    fn validation_reports_every_problem() {
        let config = Config {
            sdkappid: vec![1],
            webhook_path: "/healthz".into(),
            request_budget_ms: 5000,
            max_connections: 0,
            log: "wordgate=loud".into(),
            ..Config::default()
        };
        let err = config.validate().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(err.lines().count(), 4, "{err}");
        assert!(err.contains("webhook_path: /healthz is reserved"));
        assert!(err.contains("request_budget_ms: must be from 1 to 2000"));
        let relative = Config { sdkappid: vec![1], webhook_path: "callback".into(), ..Config::default() };
        assert!(relative.validate().is_err());
    }

    #[test]
    fn tls_needs_both_files_from_any_source() {
        let args = ServeArgs { sdkappid: vec![1], tls_cert: Some("cert.pem".into()), ..ServeArgs::default() };
        let err = Config::load(&args, Vec::new()).err().map(|e| e.0).unwrap_or_default();
        assert!(err.starts_with("tls_cert and tls_key: set both"), "{err}");
        let config = Config::load(&args, env(&[("WORDGATE_TLS_KEY", "key.pem")]));
        let files =
            config.as_ref().ok().and_then(|c| c.tls_files().map(|(c, k)| (c.to_owned(), k.to_owned())));
        assert_eq!(files, Some((PathBuf::from("cert.pem"), PathBuf::from("key.pem"))));
        let plain = Config::load(&ServeArgs { tls_cert: None, ..args }, Vec::new());
        assert_eq!(plain.map(|c| c.tls_files().is_none()), Ok(true));
    }

    #[test]
    fn observability_settings_parse_and_validate() {
        let args = ServeArgs { sdkappid: vec![1], ..ServeArgs::default() };
        let vars = env(&[
            ("WORDGATE_AUDIT", "file"),
            ("WORDGATE_EXEMPT_SENDERS", "admin, ops,"),
            ("WORDGATE_LOG_FORMAT", "json"),
            ("WORDGATE_DRY_RUN", "yes"),
        ]);
        let config = Config::load(&args, vars).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(config.audit, AuditTarget::File);
        assert_eq!(config.exempt_senders, ["admin", "ops"]);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.dry_run);
        let err = Config::load(&args, env(&[("WORDGATE_AUDIT", "syslog")])).err().map(|e| e.0);
        assert_eq!(err.as_deref(), Some("WORDGATE_AUDIT: expected off, stdout or file, got \"syslog\""));

        let bad = Config {
            sdkappid: vec![1],
            audit_max_bytes: 100,
            audit_keep: 0,
            audit_queue: 0,
            exempt_senders: vec![" ".into()],
            ..Config::default()
        };
        let err = bad.validate().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(err.lines().count(), 4, "{err}");
        for key in ["audit_max_bytes:", "audit_keep:", "audit_queue:", "exempt_senders:"] {
            assert!(err.contains(key), "{key} in {err}");
        }
        let from_file =
            Config::from_toml("audit = \"stdout\"\nexempt_senders = [\"admin\"]\nlog_format = \"text\"\n");
        assert_eq!(
            from_file.map(|c| (c.audit, c.exempt_senders)).ok(),
            Some((AuditTarget::Stdout, vec!["admin".into()]))
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let config = Config { token: Secret("hunter2".into()), ..Config::default() };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
