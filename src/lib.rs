//! wordgate: a content-moderation gate for Tencent Cloud Chat before-send
//! webhooks.
//!
//! # Layout
//!
//! - [`engine`]: the pure core. Dictionary text → compiled [`Engine`] →
//!   [`Verdict`]. No I/O, no clock, no globals; benchmarked, fuzzed and
//!   property-tested without a socket.
//! - [`dictionary_dir`]: reads a dictionary directory into sources (the only
//!   file access the core's callers need).
//! - [`cli`]: the `check` and `validate` commands.
//! - [`webhook`]: the request path without a socket: query string and body
//!   bytes in, status and JSON answer out (query parsing, authentication,
//!   moderation, fail policy).
//! - [`auth`]: `SdkAppid` and `Sign`/`RequestTime` checks, clock injected.
//! - [`snapshot`]: the compiled dictionaries and what is known of them, the
//!   unit that is swapped on reload.
//! - [`reload`]: live dictionaries: the directory watcher, `SIGHUP` and
//!   `POST /admin/reload` triggers, debounced one-at-a-time rebuilds off the
//!   request path, and the status `/healthz` shows; works on the snapshot
//!   the server lends it and imports nothing of [`server`] or [`webhook`].
//! - [`server`]: the hyper/tokio shell: the shared state, accept loop,
//!   limits, routes, graceful shutdown, and what `SIGHUP` does.
//! - [`config`]: settings from defaults, TOML, `WORDGATE_*` and flags, and
//!   the setting types others share (`FailPolicy`); imports only [`auth`].
//! - [`healthcheck`]: `wordgate healthcheck`, the container image's probe.
//! - [`memory`]: handing a dictionary build's freed scratch back to the
//!   system.
//! - [`audit`]: the audit record and its JSON line (pure);
//!   [`audit_sink`]: the bounded queue, writer thread and rotated file that
//!   carry the lines off the request path.
//! - [`metrics`]: the request path's counters, the reload and audit counts,
//!   and the Prometheus text exposition of `GET /metrics`; imports only
//!   [`audit`]'s labels.
//! - [`synthetic`]: seeded generators of dictionaries and chat text shared by
//!   benches and tests.
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
