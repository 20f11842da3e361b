//! wordgate: a content-moderation gate for Tencent Cloud Chat before-send
//! webhooks.
//!
//! # Layout
//!
//! One callback, read top to bottom; arrows only point down, and
//! [`config`], [`metrics`], [`audit`] and [`auth`] are leaves.
//!
//! - [`server`]: the hyper/tokio shell: the shared state, accept loop,
//!   limits, routes (the one place that decides HTTP statuses), TLS,
//!   graceful shutdown, and what `SIGHUP` does.
//! - [`webhook`]: orchestration of one callback without a socket:
//!   authorize → scan and moderate → policy (exemptions, shadow mode, fail
//!   policy) → answer, count and record.
//! - [`tencent`]: the protocol, pure: the only place Tencent's field names
//!   and codes appear: the query string, the command table, the one-pass
//!   body scanner (with JSON inside app-defined fields) and the answer,
//!   spliced from the request's bytes for a mask.
//! - [`engine`]: the pure core. Dictionary text → compiled [`Engine`] →
//!   [`Match`]es → [`Decision`]. No JSON, no Tencent, no I/O, no clock;
//!   benchmarked, fuzzed and property-tested without a socket.
//! - [`reload`]: live dictionaries: the directory watcher, `SIGHUP` and
//!   `POST /admin/reload` triggers, debounced one-at-a-time rebuilds off the
//!   request path, and the status `/healthz` shows; works on the snapshot
//!   the server lends it and imports nothing of [`server`] or [`webhook`].
//! - [`snapshot`]: the compiled dictionaries and what is known of them, the
//!   unit that is swapped on reload; [`dictionary_dir`] reads a directory
//!   into sources.
//! - [`audit`]: the audit record and its JSON line (pure);
//!   [`audit_sink`]: the bounded queue, writer thread and rotated file that
//!   carry the lines off the request path.
//! - [`metrics`]: the request path's counters, the reload and audit counts,
//!   and the Prometheus text exposition of `GET /metrics`.
//! - [`config`]: settings from defaults, TOML, `WORDGATE_*` and flags, and
//!   the setting types others share (`FailPolicy`).
//! - [`auth`]: `SdkAppid` and `Sign`/`RequestTime` checks, clock injected.
//! - [`cli`], [`eval`], [`healthcheck`]: the `check`, `validate`, `eval` and
//!   `healthcheck` commands; [`memory`]: handing a build's freed scratch back
//!   to the system; [`synthetic`]: seeded generators of dictionaries and
//!   chat text shared by benches and tests.
//!
//! # Example
//!
//! ```
//! use wordgate::{Action, DictionarySource, Engine};
//!
//! let engine = Engine::build(&[
//!     DictionarySource::new("profanity.txt", "@action mask\nfuck\n傻逼\n"),
//!     DictionarySource::new("gambling.txt", "@action reject\n@code 120002\n赌博\n"),
//! ])
//! .unwrap();
//!
//! let verdict = engine.check_text("ＦＵＣＫ，你个傻逼");
//! assert_eq!(verdict.decision, Action::Mask);
//! assert_eq!(verdict.text, "****，你个**");
//!
//! let verdict = engine.check_text("一起去赌博吧");
//! assert_eq!((verdict.decision, verdict.error_code), (Action::Reject, 120002));
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod audit_sink;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dictionary_dir;
pub mod engine;
pub mod eval;
#[doc(hidden)]
pub mod fuzzing;
pub mod healthcheck;
pub mod memory;
pub mod metrics;
pub mod recent;
pub mod reload;
pub mod server;
pub mod snapshot;
#[doc(hidden)]
pub mod synthetic;
pub mod tencent;
pub mod webhook;

pub use engine::{
    Action, Decision, DictionaryError, DictionarySource, Engine, EngineStats, Hit, Match, TextVerdict,
};
