//! The console for moderation teams, at `/console`: try a message, see the
//! dictionaries and the last reload, watch the last hour's verdicts.
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /console` | the page (HTML, CSS and script embedded in the binary; nothing is fetched from elsewhere) |
//! | `GET /console/console.js`, `/console/console.css` | its script and style |
//! | `POST /console/api/try` | a message judged as a callback in a given place would be, explained |
//! | `GET /console/api/dictionaries` | each category's settings, the live generation, the last reload |
//! | `POST /console/api/reload` | reload now (as `POST /admin/reload`) |
//! | `GET /console/api/now` | verdicts per minute by category, last hour ([`crate::recent`]) |
//! | `POST /console/login` | the token form, when an admin token is configured |
//!
//! **Access** is `POST /admin/reload`'s rule. Without an admin token, only
//! loopback peers are answered, and only when the `Host` they asked for is
//! a loopback name too (so a web page cannot reach the console by pointing
//! a host name of its own at 127.0.0.1); everyone else gets 403 and nothing
//! of the console. With a token, any peer that sends it
//! (`Authorization: Bearer`, or the session cookie the login form sets) is
//! answered; without it, a page is answered with the login form (401) and
//! every other path with a 401 error. The cookie holds a digest of the
//! token, `HttpOnly` and `SameSite=Strict`, scoped to `/console`. Every
//! `POST` under `/console/api/` must carry `X-Wordgate-Console: 1`, which a
//! form on another site cannot send.
//!
//! **Off the request path**: a try runs on the blocking pool (explaining a
//! hit rebuilds its entry alone, see [`Engine::steps_for`]); the rest reads
//! counters and summaries. Nothing here touches the webhook's state but
//! through the same atomics `/healthz` reads.

use std::error::Error as StdError;
use std::ops::Range;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::body;
use super::routes::{self, Peer, ResponseBody};
use super::AppState;
use crate::engine::{Engine, Match, Place, Suppressed};
use crate::tencent::{self, scan, Kind, Moderation};

/// Where the console lives.
pub const PATH: &str = "/console";

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");
const LOGIN: &str = include_str!("console/login.html");

/// The session cookie's name.
const COOKIE_NAME: &str = "wordgate_console";

/// The header every console `POST` must carry.
const CSRF_HEADER: &str = "x-wordgate-console";

/// The largest body the console's API reads: a pasted callback body.
const MAX_API_BODY: usize = 1 << 20;

/// Whether `path` is the console's.
pub fn owns(path: &str) -> bool {
    path == PATH || path.strip_prefix(PATH).is_some_and(|rest| rest.starts_with('/'))
}

/// Who may see the console.
enum Access {
    Granted,
    /// A token is configured and was not given.
    NeedsLogin,
    /// No token is configured and the peer is not local.
    Refused,
}

/// Answers one request under `/console`.
pub async fn route<B>(state: &AppState, peer: Option<Peer>, request: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let path = request.uri().path().to_string();
    let page = &path[PATH.len()..];
    let method = request.method().clone();
    match access(state, peer, &request) {
        Access::Granted => {}
        Access::Refused => {
            return routes::error(
                StatusCode::FORBIDDEN,
                "the console answers loopback peers only; configure admin_token to reach it from elsewhere",
            )
        }
        Access::NeedsLogin => {
            return match (&method, page) {
                (&Method::POST, "/login") => login(state, request).await,
                (&Method::GET | &Method::HEAD, "" | "/") => login_page(StatusCode::UNAUTHORIZED, ""),
                _ => routes::error(
                    StatusCode::UNAUTHORIZED,
                    "the console needs the admin token; log in at /console",
                ),
            };
        }
    }
    if method == Method::POST
        && page.starts_with("/api/")
        && request.headers().get(CSRF_HEADER).is_none_or(|value| value.as_bytes() != b"1")
    {
        return routes::error(StatusCode::FORBIDDEN, "console API calls carry X-Wordgate-Console: 1");
    }
    let get = method == Method::GET || method == Method::HEAD;
    match page {
        "" | "/" if get => asset(INDEX, "text/html; charset=utf-8"),
        "/console.js" if get => asset(SCRIPT, "text/javascript; charset=utf-8"),
        "/console.css" if get => asset(STYLE, "text/css; charset=utf-8"),
        "/api/dictionaries" if get => dictionaries(state),
        "/api/now" if get => now(state),
        "/api/try" if method == Method::POST => try_message(state, request).await,
        "/api/reload" if method == Method::POST => routes::reload_answer(state).await,
        // Logged in already (or no token needed): on to the console.
        "/login" if method == Method::POST => redirect_to_console(None),
        "" | "/" | "/console.js" | "/console.css" | "/api/dictionaries" | "/api/now" => {
            routes::not_allowed(&method, &path, "GET, HEAD")
        }
        "/api/try" | "/api/reload" | "/login" => routes::not_allowed(&method, &path, "POST"),
        _ => routes::error(StatusCode::NOT_FOUND, &format!("no route for {path}")),
    }
}

fn access<B>(state: &AppState, peer: Option<Peer>, request: &Request<B>) -> Access {
    let headers = request.headers();
    match state.reloader.admin_token() {
        Some(token) => {
            let bearer = headers
                .get(AUTHORIZATION)
                .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
                .is_some_and(|given| bool::from(given.ct_eq(token.as_bytes())));
            let expected = session(token);
            let cookie = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(';'))
                .filter_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
                .any(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
            if bearer || cookie {
                Access::Granted
            } else {
                Access::NeedsLogin
            }
        }
        None => {
            let local_peer = peer.is_some_and(|Peer(addr)| routes::is_loopback(&addr));
            let host = headers.get(HOST).and_then(|value| value.to_str().ok()).unwrap_or("");
            if local_peer && is_loopback_host(host) {
                Access::Granted
            } else {
                Access::Refused
            }
        }
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The session cookie's value for `token`: a digest, so the cookie is not
/// the token itself.
fn session(token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"wordgate-console-session\0");
    hasher.update(token.as_bytes());
    hex::encode(hasher.finalize())
}

/// The headers every console answer carries: nothing cached, nothing
/// loaded from elsewhere, no framing.
fn secured(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn asset(text: &'static str, content_type: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    secured(response)
}

fn json(status: StatusCode, value: &Value) -> Response<ResponseBody> {
    secured(routes::json_response(status, serde_json::to_vec(value).unwrap_or_default()))
}

fn login_page(status: StatusCode, problem: &str) -> Response<ResponseBody> {
    let problem = if problem.is_empty() {
        String::new()
    } else {
        format!("<p class=\"problem\" role=\"alert\">{problem}</p>")
    };
    let page = LOGIN.replace("<!--problem-->", &problem);
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let mut response = secured(response);
    // The form is all there is before logging in: its style is inline, and
    // nothing else may load.
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

fn redirect_to_console(cookie: Option<String>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(LOCATION, HeaderValue::from_static(PATH));
    if let Some(value) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    secured(response)
}

/// `POST /console/login`: `token=…` from the form; a right token sets the
/// session cookie.
async fn login<B>(state: &AppState, request: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let Some(token) = state.reloader.admin_token().map(str::to_string) else {
        return redirect_to_console(None);
    };
    let secure = state.tls.is_some();
    let Ok(form) = read_body(request).await else {
        return login_page(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let given = form_urlencoded::parse(&form).find(|(name, _)| name == "token").map(|(_, value)| value);
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => {
            let cookie = format!(
                "{COOKIE_NAME}={}; Path={PATH}; HttpOnly; SameSite=Strict{}",
                session(&token),
                if secure { "; Secure" } else { "" }
            );
            redirect_to_console(Some(cookie))
        }
        _ => login_page(StatusCode::UNAUTHORIZED, "That is not the admin token."),
    }
}

/// The body of a console request, at most [`MAX_API_BODY`], within 10 s.
async fn read_body<B>(request: Request<B>) -> Result<Bytes, body::BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    body::collect(request.into_body(), MAX_API_BODY, Instant::now(), std::time::Duration::from_secs(10)).await
}

/// `GET /console/api/dictionaries`.
fn dictionaries(state: &AppState) -> Response<ResponseBody> {
    let snapshot = state.snapshot.load();
    json(
        StatusCode::OK,
        &json!({
            "dictionaries": snapshot.summary(),
            "categories": snapshot.engine.category_summaries(),
            "reload": state.reloader.status(),
            "dry_run": state.webhook.policy().dry_run,
        }),
    )
}

/// `GET /console/api/now`.
fn now(state: &AppState) -> Response<ResponseBody> {
    let hour = state.webhook.counters().recent.hour(Instant::now());
    json(StatusCode::OK, &json!({ "hour": hour, "counters": state.webhook.counters().values() }))
}

/// What the "Try a message" form sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TryRequest {
    /// `text`: `input` is a message's text; `body`: a whole callback body.
    mode: String,
    input: String,
    /// `oa`, `c2c` or `group`.
    callback: String,
    /// A group's `Type` (text mode; in body mode the body's own counts).
    #[serde(default)]
    group_type: String,
    /// The SDKAppID, or empty for any.
    #[serde(default)]
    app: String,
}

/// `POST /console/api/try`.
async fn try_message<B>(state: &AppState, request: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let bytes = match read_body(request).await {
        Ok(bytes) => bytes,
        Err(body::BodyError::TooLarge) => {
            return routes::error(StatusCode::PAYLOAD_TOO_LARGE, "the console reads at most 1 MiB")
        }
        Err(_) => return routes::error(StatusCode::BAD_REQUEST, "the request body could not be read"),
    };
    let asked: TryRequest = match serde_json::from_slice(&bytes) {
        Ok(asked) => asked,
        Err(err) => return routes::error(StatusCode::BAD_REQUEST, &format!("not a try request: {err}")),
    };
    let snapshot = state.snapshot.load_full();
    let worked = tokio::task::spawn_blocking(move || judge(&snapshot.engine, &asked)).await;
    match worked {
        Ok(Ok(answer)) => json(StatusCode::OK, &answer),
        Ok(Err(problem)) => routes::error(StatusCode::BAD_REQUEST, &problem),
        Err(_) => routes::error(StatusCode::INTERNAL_SERVER_ERROR, "the try failed inside wordgate"),
    }
}

/// Judges a try as the webhook would, and explains it.
fn judge(engine: &Engine, asked: &TryRequest) -> Result<Value, String> {
    let kind = match asked.callback.as_str() {
        "oa" => Kind::OfficialAccount,
        "c2c" => Kind::C2c,
        "group" => Kind::Group,
        other => return Err(format!("callback {other:?}: expected oa, c2c or group")),
    };
    let command = kind.before_send();
    let app = asked.app.trim();
    if !app.is_empty() && app.parse::<u64>().is_err() {
        return Err(format!("app {app:?}: an SDKAppID is a number"));
    }
    let body = match asked.mode.as_str() {
        "text" => {
            let mut body = json!({
                "CallbackCommand": command.as_str(),
                "From_Account": "console",
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": asked.input}}],
            });
            if kind == Kind::Group && !asked.group_type.is_empty() {
                body["Type"] = json!(asked.group_type);
            }
            body.to_string()
        }
        "body" => asked.input.clone(),
        other => return Err(format!("mode {other:?}: expected text or body")),
    };
    let mut moderation = Moderation::new(engine);
    let scanned = scan(body.as_bytes(), true, &mut moderation).map_err(|err| format!("the body: {err}"))?;
    if let Some(shape) = &scanned.shape {
        return Err(format!("the body: {shape}"));
    }
    let app = (!app.is_empty()).then_some(app);
    let place = moderation.place(kind, &scanned, app);
    // What the webhook reads of the place is what scopes need; the console
    // shows all of it.
    let shown_place = tencent::place(kind, &scanned, app);
    let verdict = moderation.verdict(&place, body.as_bytes(), &scanned);
    let answer: Value = serde_json::from_slice(&verdict.answer).unwrap_or(Value::Null);
    let mut out = json!({
        "place": shown_place.to_string(),
        "command": command.as_str(),
        "decision": verdict.decision,
        "error_code": verdict.error_code,
        "answer": answer,
        "hits": verdict.hits,
        "out_of_scope": verdict.out_of_scope,
    });
    if asked.mode == "text" {
        out["explained"] = explain(engine, &asked.input, &place);
    }
    Ok(out)
}

/// The text with its hits and allow-list suppressions, for highlighting:
/// segments of the original text, each with the marks that cover it.
fn explain(engine: &Engine, text: &str, place: &Place) -> Value {
    let mut matches: Vec<Match> = Vec::new();
    let mut suppressed: Vec<Suppressed> = Vec::new();
    engine.find_with_suppressed(text, &mut matches, &mut suppressed);
    let mut marks: Vec<(Range<usize>, Value)> = Vec::new();
    let mut hits = Vec::new();
    let mut allowed = Vec::new();
    let describe = |found: &Match| {
        let category = engine.category(found.category);
        json!({
            "category": category.name,
            "action": category.action,
            "entry": engine.entry(found.entry),
            "matched": text.get(found.span.clone()).unwrap_or_default(),
        })
    };
    for found in &matches {
        if engine.counts_in(found, place) {
            let mut hit = describe(found);
            hit["steps"] = json!(engine.steps_for(text, found));
            marks.push((found.span.clone(), json!({"hit": hits.len()})));
            hits.push(hit);
        } else if let Some(list) = engine.excused_by(found, place) {
            // In scope, but a scoped allow list that applies here covers it.
            let mut excused = describe(found);
            excused["allowed_by"] = json!({"category": engine.category(list).name});
            marks.push((found.span.clone(), json!({"suppressed": allowed.len()})));
            allowed.push(excused);
        }
        // Otherwise out of scope here: the verdict lists its category.
    }
    for Suppressed { hit, allow } in &suppressed {
        if !engine.category(hit.category).scope.contains(place) {
            continue;
        }
        let mut excused = describe(hit);
        excused["allowed_by"] =
            json!({"category": engine.category(allow.category).name, "entry": engine.entry(allow.entry)});
        marks.push((hit.span.clone(), json!({"suppressed": allowed.len()})));
        allowed.push(excused);
    }
    json!({ "segments": segments(text, &marks), "hits": hits, "suppressed": allowed })
}

/// `text` cut at every mark's edges: `[{text, marks: [...]}]`.
fn segments(text: &str, marks: &[(Range<usize>, Value)]) -> Value {
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for (span, _) in marks {
        cuts.extend([span.start, span.end]);
    }
    cuts.retain(|&at| text.is_char_boundary(at));
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    for pair in cuts.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let covering: Vec<&Value> = marks
            .iter()
            .filter(|(span, _)| span.start <= start && end <= span.end)
            .map(|(_, mark)| mark)
            .collect();
        out.push(json!({ "text": text.get(start..end).unwrap_or_default(), "marks": covering }));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "localhost:8080", "127.0.0.1:1", "127.9.9.9", "[::1]:80", "LOCALHOST"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in
            ["", "evil.example", "evil.example:80", "10.0.0.1:80", "[2001:db8::1]:80", "localhost.evil"]
        {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_console_owns_its_paths_only() {
        assert!(owns("/console") && owns("/console/") && owns("/console/api/now"));
        assert!(!owns("/consoles") && !owns("/") && !owns("/console.js"));
    }

    #[test]
    fn segments_cut_at_every_mark() {
        let marks = [(6..12, json!("a")), (9..12, json!("b"))];
        let cut = segments("快来加群吧", &marks);
        let texts: Vec<&str> =
            cut.as_array().into_iter().flatten().filter_map(|s| s["text"].as_str()).collect();
        assert_eq!(texts, ["快来", "加", "群", "吧"]);
        assert_eq!(cut[2]["marks"], json!(["a", "b"]));
    }
}
