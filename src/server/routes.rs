//! Routes, and the one place where every outcome becomes a status code.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST <webhook_path>` | the Tencent callback ([`crate::webhook`]) |
//! | `GET /healthz` | 200 while the process serves; with built-in HTTPS, `tls` shows the certificate in force |
//! | `GET /readyz` | 200 when dictionaries are loaded and not shutting down, else 503 |
//! | `GET /metrics` | Prometheus text exposition ([`crate::metrics`]) |
//! | `POST /admin/reload` | reload the dictionaries now ([`crate::reload`]); loopback peers only, or any peer with the admin token |
//! | `/console`, `/console/…` | the console for moderation teams ([`super::console`]), under the same access rule |
//! | other methods on these paths | 405 with `Allow` |
//! | any other path | 404 |
//!
//! Every answer is JSON; every non-200 answer is
//! `{"error":"<what is wrong>","status":<code>}`.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde_json::json;
use subtle::ConstantTimeEq;
use tracing::{debug, warn};

use super::body::{self, BodyError};
use super::{console, AppState};
use crate::metrics::{self, Levels};
use crate::reload::{self, Trigger, WaitError};
use crate::tencent::json;
use crate::webhook::{Outcome, Reply};

/// The peer of the connection a request came on, handed to [`route`] by the
/// accept loop (not through the request's extensions, whose map costs an
/// allocation per request). `None` (a request built in-process) counts as
/// remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The path of the reload endpoint.
pub const ADMIN_RELOAD: &str = "/admin/reload";

/// The response body type of every route.
pub type ResponseBody = Full<Bytes>;

/// Answers one request. Never fails: every problem is a status code here.
pub async fn route<B>(state: &AppState, peer: Option<Peer>, request: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let path = request.uri().path();
    let method = request.method();
    if path == state.settings.webhook_path {
        if method == Method::POST {
            return webhook(state, request).await;
        }
        return not_allowed(method, path, "POST");
    }
    match path {
        "/healthz" | "/readyz" | "/metrics" if method != Method::GET && method != Method::HEAD => {
            not_allowed(method, path, "GET, HEAD")
        }
        "/healthz" => healthz(state),
        "/readyz" => readyz(state),
        "/metrics" => metrics(state),
        ADMIN_RELOAD if method != Method::POST => not_allowed(method, path, "POST"),
        ADMIN_RELOAD => admin_reload(state, peer, &request).await,
        _ if console::owns(path) => console::route(state, peer, request).await,
        _ => error(StatusCode::NOT_FOUND, &format!("no route for {path}")),
    }
}

async fn webhook<B>(state: &AppState, request: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // The budget runs from here: headers are in, the answer is due. This
    // and the webhook's reading of the elapsed time are the request's only
    // clock reads, unless `Sign` is checked (the wall clock) or the body is
    // slow to arrive (the deadline's timer).
    let started = Instant::now();
    let now = if state.webhook.needs_clock() { state.now() } else { SystemTime::UNIX_EPOCH };
    let (parts, body) = request.into_parts();

    // Who is calling is in the query string: refuse strangers before
    // reading a byte of their body.
    let authorized = match state.webhook.authorize(parts.uri.query(), now) {
        Ok(authorized) => authorized,
        Err(reply) => return answer(reply),
    };
    let reply = match body::collect(body, state.settings.max_body_bytes, started, state.webhook.budget())
        .await
    {
        Ok(bytes) => {
            // Exactly one load per request; the guard is dropped at the end
            // of this block, before anything else is awaited.
            let snapshot = state.snapshot.load();
            state.webhook.respond(&snapshot.engine, snapshot.generation, &authorized, &bytes, started)
        }
        Err(BodyError::TooLarge) => {
            state.webhook.counters().callbacks.too_large.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let limit = state.settings.max_body_bytes;
            return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is larger than {limit} bytes"));
        }
        Err(BodyError::TimedOut) => {
            let generation = state.snapshot.load().generation;
            state.webhook.timed_out(generation, &authorized, started)
        }
        Err(BodyError::Read(err)) => {
            return error(StatusCode::BAD_REQUEST, &format!("the body could not be read: {err}"));
        }
    };
    // Events name the callback themselves: a span per request cost more
    // than the rest of the shell at the default level, where nothing logs.
    let command = authorized.command().unwrap_or("");
    let verdict = outcome_name(reply.outcome);
    match reply.outcome {
        Outcome::FailPolicy(reason) => warn!(
            command,
            verdict,
            ?reason,
            policy = state.webhook.fail_policy().as_str(),
            "answered by the fail policy"
        ),
        outcome => debug!(command, verdict, ?outcome, status = status(&reply).as_u16(), "callback"),
    }
    answer(reply)
}

/// The verdict as logs show it: the answer's, so in shadow mode `allow`,
/// with the real verdict in the audit.
fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Moderated { decision, .. } => decision.as_str(),
        Outcome::Exempt => "exempt",
        Outcome::AfterSend | Outcome::UnknownCommand => "acknowledged",
        Outcome::FailPolicy(_) => "fail_policy",
        Outcome::UnknownApp | Outcome::BadSignature => "unauthorized",
        Outcome::BadRequest => "error",
    }
}

/// The HTTP status of a webhook answer: 200 for every answer Tencent reads
/// an `ErrorCode` from, 403 for a caller that is not one of our apps, 401
/// for a bad signature, 400 for a malformed request.
pub fn status(reply: &Reply) -> StatusCode {
    match reply.outcome {
        Outcome::UnknownApp => StatusCode::FORBIDDEN,
        Outcome::BadSignature => StatusCode::UNAUTHORIZED,
        Outcome::BadRequest => StatusCode::BAD_REQUEST,
        Outcome::Moderated { .. }
        | Outcome::Exempt
        | Outcome::AfterSend
        | Outcome::UnknownCommand
        | Outcome::FailPolicy(_) => StatusCode::OK,
    }
}

/// A webhook answer as status and body: the JSON error for a refusal.
pub fn status_and_body(reply: Reply) -> (StatusCode, Bytes) {
    let status = status(&reply);
    match &reply.problem {
        Some(problem) => (status, Bytes::from(error_body(status, problem))),
        None => (status, reply.body),
    }
}

fn healthz(state: &AppState) -> Response<ResponseBody> {
    let snapshot = state.snapshot.load();
    let mut body = json!({
        "status": "ok",
        "dictionaries": snapshot.summary(),
        "categories": snapshot.engine.category_summaries(),
        "reload": state.reloader.status(),
        "counters": state.webhook.counters().values(),
        "audit": state.webhook.audit().map(|audit| audit.stats()),
        "dry_run": state.webhook.policy().dry_run,
    });
    if let Some(tls) = &state.tls {
        body["tls"] = serde_json::to_value(tls.status()).unwrap_or_default();
    }
    json_response(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
}

fn metrics(state: &AppState) -> Response<ResponseBody> {
    let summary = state.snapshot.load().summary();
    let counters = state.webhook.counters().values();
    let levels = Levels {
        fail_policy_budget: counters.fail_policy_budget,
        fail_policy_internal: counters.fail_policy_internal,
        unauthorized: counters.unauthorized,
        bad_request: counters.bad_request,
        reloads: state.reloader.status().reloads,
        generation: summary.generation,
        entries: (summary.stats.literals + summary.stats.regexes) as u64,
        memory_bytes: summary.stats.automaton_bytes as u64,
        loaded_at: summary.loaded_at,
        audit: state.webhook.audit().map(|audit| audit.stats()),
        dry_run: state.webhook.policy().dry_run,
    };
    let text = metrics::render(&state.webhook.counters().callbacks, &levels);
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
    response
}

fn readyz(state: &AppState) -> Response<ResponseBody> {
    if state.is_shutting_down() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let dictionaries = state.snapshot.load().summary();
    let body = json!({ "status": "ready", "dictionaries": dictionaries });
    json_response(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
}

/// `POST /admin/reload`: reloads now and answers with the result. Only the
/// request line and headers matter; a body is ignored.
async fn admin_reload<B>(
    state: &AppState,
    peer: Option<Peer>,
    request: &Request<B>,
) -> Response<ResponseBody> {
    if let Some(refused) = admin_refusal(state, peer, request) {
        return refused;
    }
    reload_answer(state).await
}

/// Reloads now and answers with the report: 200, or 422 with every
/// problem when the files are broken (`/admin/reload` and the console).
pub(super) async fn reload_answer(state: &AppState) -> Response<ResponseBody> {
    match state.reloader.reload_now(Trigger::Admin).await {
        Ok(report) => {
            let failed = report.result == reload::Outcome::Failed;
            let mut body = serde_json::to_value(&report).unwrap_or_default();
            if failed {
                // The shape of every non-200 answer, with the report's
                // fields beside it.
                let problems = report.error_count;
                let message = format!(
                    "the dictionaries have {problems} problem{}; generation {} stays live",
                    if problems == 1 { "" } else { "s" },
                    report.generation
                );
                if let Some(fields) = body.as_object_mut() {
                    fields.insert("error".into(), message.into());
                    fields.insert("status".into(), StatusCode::UNPROCESSABLE_ENTITY.as_u16().into());
                }
            }
            let status = if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            json_response(status, serde_json::to_vec(&body).unwrap_or_default())
        }
        Err(WaitError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down; no more reloads"),
        Err(WaitError::TimedOut) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the reload did not finish within {} s; it goes on, see /healthz",
                reload::RELOAD_WAIT.as_secs()
            ),
        ),
    }
}

/// With an admin token configured, `Authorization: Bearer <token>` is
/// required from every peer; without one, only loopback peers are answered.
/// The answer for a caller who may not reload; `None` for one who may.
fn admin_refusal<B>(
    state: &AppState,
    peer: Option<Peer>,
    request: &Request<B>,
) -> Option<Response<ResponseBody>> {
    match state.reloader.admin_token() {
        Some(token) => {
            let given = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
                .unwrap_or_default();
            // Constant time over the bytes; only the length can leak.
            if bool::from(given.ct_eq(token.as_bytes())) {
                return None;
            }
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs the admin token: Authorization: Bearer <admin_token>",
            );
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"wordgate\""));
            Some(response)
        }
        None => {
            if peer.is_some_and(|Peer(addr)| is_loopback(&addr)) {
                return None;
            }
            Some(error(
                StatusCode::FORBIDDEN,
                "this endpoint answers loopback peers only; configure admin_token to reach it from elsewhere",
            ))
        }
    }
}

pub(super) fn is_loopback(addr: &SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(v4) => v4.ip().is_loopback(),
        // `::1`, or `::ffff:127.x.y.z` on a dual-stack listener.
        SocketAddr::V6(v6) => {
            v6.ip().is_loopback() || v6.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

pub(super) fn not_allowed(method: &Method, path: &str, allow: &'static str) -> Response<ResponseBody> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} is not allowed on {path}; use {allow}"),
    );
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

pub(super) fn error(status: StatusCode, message: &str) -> Response<ResponseBody> {
    debug!(status = status.as_u16(), message, "refused");
    json_response(status, error_body(status, message))
}

fn answer(reply: Reply) -> Response<ResponseBody> {
    let (status, body) = status_and_body(reply);
    json_response(status, body)
}

/// The JSON error body every non-200 answer of this server carries:
/// `{"error":"<message>","status":<code>}`.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + message.len());
    out.extend_from_slice(b"{\"error\":");
    json::push_string(&mut out, message);
    out.extend_from_slice(b",\"status\":");
    out.extend_from_slice(status.as_u16().to_string().as_bytes());
    out.push(b'}');
    out
}

pub(super) fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::DictionarySource;
    use crate::snapshot::Snapshot;
    use http_body_util::BodyExt;

    fn state() -> Option<AppState> {
        let config = Config { sdkappid: vec![1], ..Config::default() };
        let snapshot =
            Snapshot::build(&[DictionarySource::new("a.txt", "x\n")], 1, std::time::SystemTime::now())
                .ok()?;
        Some(AppState::new(&config, snapshot))
    }

    async fn get(state: &AppState, method: Method, path: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder().method(method).uri(path).body(Full::new(Bytes::new()));
        let Ok(request) = request else { return (StatusCode::IM_A_TEAPOT, serde_json::Value::Null) };
        let response = route(state, None, request).await;
        let status = response.status();
        let body = response.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    #[tokio::test]
    async fn readyz_fails_once_shutting_down() {
        let Some(state) = state() else { panic!("state") };
        assert_eq!(get(&state, Method::GET, "/readyz").await.0, StatusCode::OK);
        assert_eq!(get(&state, Method::GET, "/healthz").await.0, StatusCode::OK);
        state.begin_shutdown();
        let (status, body) = get(&state, Method::GET, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, json!({"error": "shutting down", "status": 503}));
        // Alive all the same.
        assert_eq!(get(&state, Method::GET, "/healthz").await.0, StatusCode::OK);
    }

    async fn admin(state: &AppState, peer: Option<&str>, authorization: Option<&str>) -> StatusCode {
        let mut request = Request::builder().method(Method::POST).uri(ADMIN_RELOAD);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let Ok(request) = request.body(Full::new(Bytes::new())) else { return StatusCode::IM_A_TEAPOT };
        let peer = peer.and_then(|peer| peer.parse().ok()).map(Peer);
        route(state, peer, request).await.status()
    }

    #[tokio::test]
    async fn admin_reload_is_for_loopback_peers_or_token_holders() {
        let Some(state) = state() else { panic!("state") };
        // (Refusals only: no reload task runs here to answer a permitted call.)
        assert_eq!(admin(&state, Some("10.1.2.3:5000"), None).await, StatusCode::FORBIDDEN);
        assert_eq!(admin(&state, Some("[2001:db8::1]:5000"), None).await, StatusCode::FORBIDDEN);
        assert_eq!(admin(&state, None, None).await, StatusCode::FORBIDDEN);
        assert!(is_loopback(&"127.0.0.1:1".parse().unwrap_or_else(|_| panic!())));
        assert!(is_loopback(&"127.9.9.9:1".parse().unwrap_or_else(|_| panic!())));
        assert!(is_loopback(&"[::1]:1".parse().unwrap_or_else(|_| panic!())));
        assert!(is_loopback(&"[::ffff:127.0.0.1]:1".parse().unwrap_or_else(|_| panic!())));
        assert!(!is_loopback(&"[::ffff:10.0.0.1]:1".parse().unwrap_or_else(|_| panic!())));

        let config = Config {
            sdkappid: vec![1],
            admin_token: crate::config::Secret("0123456789abcdef".into()),
            ..Config::default()
        };
        let snapshot =
            Snapshot::build(&[DictionarySource::new("a.txt", "x\n")], 1, std::time::SystemTime::now());
        let Ok(snapshot) = snapshot else { panic!("snapshot") };
        let state = AppState::new(&config, snapshot);
        // With a token, even loopback peers need it.
        assert_eq!(admin(&state, Some("127.0.0.1:5000"), None).await, StatusCode::UNAUTHORIZED);
        let wrong = Some("Bearer 0123456789abcdeF");
        assert_eq!(admin(&state, Some("127.0.0.1:5000"), wrong).await, StatusCode::UNAUTHORIZED);
        let prefix = Some("Bearer 0123456789abcde");
        assert_eq!(admin(&state, Some("10.1.2.3:5000"), prefix).await, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn methods_and_paths() {
        let Some(state) = state() else { panic!("state") };
        assert_eq!(get(&state, Method::GET, "/").await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get(&state, Method::POST, "/healthz").await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get(&state, Method::HEAD, "/healthz").await.0, StatusCode::OK);
        assert_eq!(get(&state, Method::GET, ADMIN_RELOAD).await.0, StatusCode::METHOD_NOT_ALLOWED);
        let (status, body) = get(&state, Method::GET, "/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "no route for /nope");
    }
}
