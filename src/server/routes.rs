//! Routes, and the one place where every outcome becomes a status code.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST <webhook_path>` | the Tencent callback ([`crate::webhook`]) |
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 when dictionaries are loaded and not shutting down, else 503 |
//! | other methods on these paths | 405 with `Allow` |
//! | any other path | 404 |
//!
//! Every answer is JSON; every non-200 answer is
//! `{"error":"<what is wrong>","status":<code>}`.

use std::error::Error as StdError;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde_json::json;
use tracing::{debug, warn};

use super::body::{self, BodyError};
use super::AppState;
use crate::webhook::{error_body, FailReason, Outcome, Reply};

/// The response body type of every route.
pub type ResponseBody = Full<Bytes>;

/// Answers one request. Never fails: every problem is a status code here.
pub async fn route<B>(state: &AppState, request: Request<B>) -> Response<ResponseBody>
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
        "/healthz" | "/readyz" if method != Method::GET && method != Method::HEAD => {
            not_allowed(method, path, "GET, HEAD")
        }
        "/healthz" => healthz(state),
        "/readyz" => readyz(state),
        _ => error(StatusCode::NOT_FOUND, &format!("no route for {path}")),
    }
}

async fn webhook<B>(state: &AppState, request: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // The budget runs from here: headers are in, the answer is due.
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started) + state.webhook.budget();
    let now = state.now();
    let (parts, body) = request.into_parts();

    // Who is calling is in the query string: refuse strangers before
    // reading a byte of their body.
    let authorized = match state.webhook.authorize(parts.uri.query(), now) {
        Ok(authorized) => authorized,
        Err(reply) => return answer(reply),
    };
    let reply = match body::collect(body, state.settings.max_body_bytes, deadline).await {
        Ok(bytes) => {
            // Exactly one load per request; the guard is dropped at the end
            // of this block, before anything else is awaited.
            let snapshot = state.snapshot.load();
            state.webhook.handle_authorized(&snapshot.engine, &authorized, &bytes, started)
        }
        Err(BodyError::TooLarge) => {
            let limit = state.settings.max_body_bytes;
            return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is larger than {limit} bytes"));
        }
        Err(BodyError::TimedOut) => state.webhook.fail(FailReason::Budget),
        Err(BodyError::Read(err)) => {
            return error(StatusCode::BAD_REQUEST, &format!("the body could not be read: {err}"));
        }
    };
    match reply.outcome {
        Outcome::FailPolicy(reason) => warn!(
            ?reason,
            policy = state.webhook.fail_policy().as_str(),
            elapsed = ?started.elapsed(),
            "answered by the fail policy"
        ),
        outcome => debug!(?outcome, status = reply.status.as_u16(), elapsed = ?started.elapsed(), "callback"),
    }
    answer(reply)
}

fn healthz(state: &AppState) -> Response<ResponseBody> {
    let dictionaries = state.snapshot.load().summary();
    let body = json!({
        "status": "ok",
        "dictionaries": dictionaries,
        "counters": state.webhook.counters().values(),
    });
    json_response(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
}

fn readyz(state: &AppState) -> Response<ResponseBody> {
    if state.is_shutting_down() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let dictionaries = state.snapshot.load().summary();
    let body = json!({ "status": "ready", "dictionaries": dictionaries });
    json_response(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
}

fn not_allowed(method: &Method, path: &str, allow: &'static str) -> Response<ResponseBody> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} is not allowed on {path}; use {allow}"),
    );
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn error(status: StatusCode, message: &str) -> Response<ResponseBody> {
    debug!(status = status.as_u16(), message, "refused");
    json_response(status, error_body(status, message))
}

fn answer(reply: Reply) -> Response<ResponseBody> {
    json_response(reply.status, reply.body)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
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
        let response = route(state, request).await;
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

    #[tokio::test]
    async fn methods_and_paths() {
        let Some(state) = state() else { panic!("state") };
        assert_eq!(get(&state, Method::GET, "/").await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get(&state, Method::POST, "/healthz").await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get(&state, Method::HEAD, "/healthz").await.0, StatusCode::OK);
        let (status, body) = get(&state, Method::GET, "/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "no route for /nope");
    }
}
