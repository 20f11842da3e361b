//! The one integration test binary (`autotests = false` keeps it one link).
//!
//! - `engine`: the core through its public API, table-driven.
//! - `cli`: `wordgate check` / `validate` as processes.
//! - `properties`: proptest invariants of masking and verdicts.
//! - `server`: `wordgate serve` over real HTTP.
//! - `reload`: live dictionary reloads under load, `/admin/reload`, `SIGHUP`.

mod cli;
mod engine;
mod eval;
mod properties;
mod reload;
mod server;
