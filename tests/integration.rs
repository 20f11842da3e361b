//! The one integration test binary (`autotests = false` keeps it one link).
//!
//! - `engine`: the core through its public API, table-driven.
//! - `cli`: `wordgate check` / `validate` as processes.
//! - `properties`: proptest invariants of masking and verdicts.
//! - `hostile`: hostile input against a running server; limits and timeouts.
//! - `fuzz_replay`: the fuzz seeds and minimised crashes, replayed on stable.
//! - `server`: `wordgate serve` over real HTTP.
//! - `reload`: live dictionary reloads under load, `/admin/reload`, `SIGHUP`.
//! - `deployment`: the Dockerfile and Kubernetes manifests agree with the
//!   code; `wordgate healthcheck`.
//! - `tls`: built-in HTTPS with a real TLS client; certificate rotation.
//! - `observability`: the audit stream, `/metrics`, shadow mode, exemptions.
//! - `payload`: text inside JSON payloads; rewrites spliced byte for byte.

mod browser;
mod cli;
mod console;
mod deployment;
mod engine;
mod eval;
mod fuzz_replay;
mod hostile;
mod observability;
mod operators;
mod payload;
mod properties;
mod reload;
mod scope;
mod server;
mod tls;
