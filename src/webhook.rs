//! The webhook request path without a socket: query string and body bytes
//! in, HTTP status and response bytes out.
//!
//! The HTTP glue in [`crate::server`] only collects the body and writes the
//! [`Reply`]; the bench (`benches/request.rs`) and tests call [`Webhook::handle`]
//! directly, so what is measured is what is served.
//!
//! Order of checks, each answering before any later one runs:
//!
//! 1. the query string parses (a repeated `SdkAppid`, `Sign`, `RequestTime`
//!    or `CallbackCommand` is refused: which one would count is ambiguous);
//! 2. [`Auth`]: `SdkAppid` (403), then `Sign` / `RequestTime` (401);
//! 3. the body is a JSON object whose `CallbackCommand`, if present, agrees
//!    with the query's (400);
//! 4. the command: a before-send callback is moderated (a body whose
//!    `MsgBody` is not an array of elements is a 400), an after-send
//!    callback is acknowledged, anything else is acknowledged and counted.
//!
//! Moderation runs in-line (it takes microseconds) inside
//! [`std::panic::catch_unwind`]: a panic in the core, or a request that has
//! used up its budget, answers the configured [`FailPolicy`] instead, and is
//! counted in [`Counters`].
//!
//! Before moderating, an exempt sender or platform ([`Policy`]) is answered
//! allow; in shadow mode (`dry_run`) the verdict is computed, counted and
//! recorded but the answer is allow. Every authorized callback is counted
//! by command and verdict ([`CallbackMetrics`]) and, with an audit stream
//! ([`AuditLog`]), becomes one [`Record`] line queued for its writer.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::audit::{CommandLabel, Ids, Record, VerdictLabel};
use crate::audit_sink::AuditLog;
use crate::auth::{Auth, AuthError, Credentials};
use crate::engine::{Action, Channel, Engine, Hit, MessageError, Verdict};
use crate::metrics::CallbackMetrics;

pub use crate::config::FailPolicy;

/// Why the fail policy answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// The request used up its budget (body too slow, or moderation slow).
    Budget,
    /// The core panicked.
    Internal,
}

/// What the webhook counts; `/healthz` shows a summary ([`CounterValues`])
/// and `/metrics` all of it.
#[derive(Debug, Default)]
pub struct Counters {
    /// Every authorized callback by command and verdict, its time and body
    /// size; the moderated, after-send and unknown-command counts of
    /// [`CounterValues`] are sums over it.
    pub callbacks: CallbackMetrics,
    /// Answers given by the fail policy because the budget ran out.
    pub fail_policy_budget: AtomicU64,
    /// Answers given by the fail policy because the core failed.
    pub fail_policy_internal: AtomicU64,
    /// Requests refused by [`Auth`].
    pub unauthorized: AtomicU64,
    /// Requests refused as malformed (400).
    pub bad_request: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct CounterValues {
    pub moderated: u64,
    pub exempt: u64,
    pub after_send: u64,
    pub unknown_command: u64,
    pub fail_policy_budget: u64,
    pub fail_policy_internal: u64,
    pub unauthorized: u64,
    pub bad_request: u64,
}

impl Counters {
    /// The current values.
    pub fn values(&self) -> CounterValues {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let callbacks = &self.callbacks;
        let after_send = |command: CommandLabel| !command.is_before_send() && command != CommandLabel::Other;
        CounterValues {
            moderated: callbacks.sum(|command, verdict| command.is_before_send() && verdict.is_moderated()),
            exempt: callbacks.sum(|_, verdict| verdict == VerdictLabel::Exempt),
            after_send: callbacks
                .sum(|command, verdict| after_send(command) && verdict == VerdictLabel::Acknowledged),
            unknown_command: callbacks.answers(CommandLabel::Other, VerdictLabel::Acknowledged),
            fail_policy_budget: get(&self.fail_policy_budget),
            fail_policy_internal: get(&self.fail_policy_internal),
            unauthorized: get(&self.unauthorized),
            bad_request: get(&self.bad_request),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What a request got, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A before-send callback, moderated.
    Moderated {
        /// Which callback.
        channel: Channel,
        /// The verdict.
        decision: Action,
        /// How many dictionary hits.
        hits: usize,
    },
    /// A before-send callback from an exempt sender or platform, answered
    /// allow without moderation.
    Exempt,
    /// An after-send callback, acknowledged.
    AfterSend,
    /// A command this server does not handle, acknowledged.
    UnknownCommand,
    /// The fail policy answered.
    FailPolicy(FailReason),
    /// Refused by authentication (401/403).
    Unauthorized,
    /// Refused as malformed (400).
    BadRequest,
}

/// The answer to one webhook call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Vec<u8>,
    /// What happened.
    pub outcome: Outcome,
}

impl Reply {
    /// A JSON error: `{"error":"<message>","status":<code>}`.
    pub fn error(status: StatusCode, message: &str, outcome: Outcome) -> Reply {
        Reply { status, body: error_body(status, message), outcome }
    }
}

/// The JSON error body every non-200 answer of this server carries.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let mut map = Map::new();
    map.insert("error".into(), Value::String(message.into()));
    map.insert("status".into(), Value::from(status.as_u16()));
    to_bytes(&Value::Object(map))
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // Serialising a `Value` into a `Vec` cannot fail (no I/O, string keys);
    // should it ever, an empty object is still JSON.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// The query parameters this server reads, percent-decoded. Names match
/// case-insensitively (`SdkAppid` is documented, `SdkAppId` is a common
/// slip); values are kept as sent. `contenttype` is accepted with any
/// value; `ClientIP` and `OptPlatform` with any value too, and recorded
/// (the first, if repeated: they decide nothing but `exempt_restapi`, and
/// refusing a repeat would change what callers have always got).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query<'a> {
    /// `SdkAppid`.
    pub sdkappid: Option<Cow<'a, str>>,
    /// `CallbackCommand`.
    pub command: Option<Cow<'a, str>>,
    /// `Sign`.
    pub sign: Option<Cow<'a, str>>,
    /// `RequestTime`.
    pub request_time: Option<Cow<'a, str>>,
    /// `ClientIP`.
    pub client_ip: Option<Cow<'a, str>>,
    /// `OptPlatform`.
    pub opt_platform: Option<Cow<'a, str>>,
}

impl<'a> Query<'a> {
    /// Parses a query string (without the `?`).
    pub fn parse(query: &'a str) -> Result<Query<'a>, String> {
        let mut parsed = Query::default();
        // One pass over the bytes finds each pair's `&`, its first `=` and
        // whether it needs percent-decoding: this runs on every callback,
        // and `split` + `find` + a scan per part cost noticeably more.
        let bytes = query.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let mut end = start;
            let mut equals = None;
            let mut escaped = false;
            while let Some(&byte) = bytes.get(end) {
                match byte {
                    b'&' => break,
                    b'=' if equals.is_none() => equals = Some(end),
                    b'%' | b'+' => escaped = true,
                    _ => {}
                }
                end += 1;
            }
            let (name, value) = match equals {
                Some(at) => (&query[start..at], &query[at + 1..end]),
                None => (&query[start..end], ""),
            };
            start = end + 1;
            let decode = |text| if escaped { percent_decode(text) } else { Some(Cow::Borrowed(text)) };
            let name = decode(name).ok_or_else(|| "the query string is not valid UTF-8".to_string())?;
            let slot = match name.len() {
                8 if name.eq_ignore_ascii_case("SdkAppid") => &mut parsed.sdkappid,
                15 if name.eq_ignore_ascii_case("CallbackCommand") => &mut parsed.command,
                4 if name.eq_ignore_ascii_case("Sign") => &mut parsed.sign,
                11 if name.eq_ignore_ascii_case("RequestTime") => &mut parsed.request_time,
                8 if name.eq_ignore_ascii_case("ClientIP") => {
                    if parsed.client_ip.is_none() {
                        parsed.client_ip = decode(value);
                    }
                    continue;
                }
                11 if name.eq_ignore_ascii_case("OptPlatform") => {
                    if parsed.opt_platform.is_none() {
                        parsed.opt_platform = decode(value);
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("{name}: given more than once in the query string"));
            }
            *slot = Some(decode(value).ok_or_else(|| format!("{name}: the value is not valid UTF-8"))?);
        }
        Ok(parsed)
    }

    fn credentials(&self) -> Credentials<'_> {
        Credentials {
            sdkappid: self.sdkappid.as_deref(),
            sign: self.sign.as_deref(),
            request_time: self.request_time.as_deref(),
        }
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; a `%` not followed by two hex digits is kept as is. `None` when
/// the bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.bytes().any(|byte| byte == b'%' || byte == b'+') {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// What a callback command asks of this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// A before-send callback: moderate.
    BeforeSend(Channel),
    /// `*.CallbackAfterSendMsg`: acknowledge.
    AfterSend,
    /// Anything else: acknowledge and count.
    Other,
}

impl Command {
    /// Classifies a `CallbackCommand` (exact spelling, as Tencent sends it).
    pub fn classify(command: &str) -> Command {
        match command {
            "OfficialAccount.CallbackBeforeSendMsg" => Command::BeforeSend(Channel::OfficialAccount),
            "C2C.CallbackBeforeSendMsg" => Command::BeforeSend(Channel::C2C),
            "Group.CallbackBeforeSendMsg" => Command::BeforeSend(Channel::Group),
            "OfficialAccount.CallbackAfterSendMsg"
            | "C2C.CallbackAfterSendMsg"
            | "Group.CallbackAfterSendMsg" => Command::AfterSend,
            _ => Command::Other,
        }
    }
}

/// Which messages are answered without moderation, and whether verdicts
/// are enforced at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Shadow mode: moderate, count and record, but answer allow.
    pub dry_run: bool,
    /// Senders answered allow unmoderated: matched against the command's
    /// sender field, `Official_Account` for official accounts and
    /// `From_Account` for C2C and groups.
    pub exempt_senders: Vec<String>,
    /// Answer allow unmoderated when `OptPlatform` is `RESTAPI` (any case):
    /// an app administrator sending through the REST API.
    pub exempt_restapi: bool,
}

/// The webhook's settings and counters; one per server, shared by every
/// connection.
#[derive(Debug)]
pub struct Webhook {
    auth: Auth,
    fail_policy: FailPolicy,
    budget: Duration,
    counters: Counters,
    policy: Policy,
    audit: Option<AuditLog>,
}

/// A request whose query string parsed and authenticated; the body is next.
#[derive(Debug)]
pub struct Authorized<'q> {
    command: Option<Cow<'q, str>>,
    sdkappid: Option<Cow<'q, str>>,
    client_ip: Option<Cow<'q, str>>,
    opt_platform: Option<Cow<'q, str>>,
}

impl Authorized<'_> {
    /// The query's `CallbackCommand`, if it had one.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }
}

/// What a callback got, before it is counted and recorded.
struct Decided {
    reply: Reply,
    verdict: VerdictLabel,
    /// The verdict's `ErrorCode` (in shadow mode, the one not answered);
    /// none for a 400.
    error_code: Option<u32>,
    hits: Vec<Hit>,
    /// For a 400, what was wrong.
    problem: Option<String>,
}

impl Decided {
    fn answered(reply: Reply, verdict: VerdictLabel, error_code: u32) -> Decided {
        Decided { reply, verdict, error_code: Some(error_code), hits: Vec::new(), problem: None }
    }
}

impl Webhook {
    /// A webhook with these settings. `budget` is the time one request may
    /// take from its headers to its answer.
    pub fn new(auth: Auth, fail_policy: FailPolicy, budget: Duration) -> Webhook {
        Webhook {
            auth,
            fail_policy,
            budget,
            counters: Counters::default(),
            policy: Policy::default(),
            audit: None,
        }
    }

    /// The same webhook with exemptions and shadow mode.
    pub fn with_policy(mut self, policy: Policy) -> Webhook {
        self.policy = policy;
        self
    }

    /// The same webhook recording every authorized callback to `audit`.
    pub fn with_audit(mut self, audit: Option<AuditLog>) -> Webhook {
        self.audit = audit;
        self
    }

    /// The audit stream, when on.
    #[inline]
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Exemptions and shadow mode.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The per-request budget.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The fail policy.
    pub fn fail_policy(&self) -> FailPolicy {
        self.fail_policy
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The whole request path: query and body in, answer out. `now` is the
    /// wall clock for `RequestTime`; `started` is when the request arrived,
    /// against which the budget is measured.
    pub fn handle(
        &self,
        engine: &Engine,
        query: Option<&str>,
        body: &[u8],
        now: SystemTime,
        started: Instant,
    ) -> Reply {
        match self.authorize(query, now) {
            Ok(authorized) => self.handle_authorized(engine, &authorized, body, started),
            Err(reply) => reply,
        }
    }

    /// Steps 1 and 2: parse the query string and authenticate, before any
    /// body is read.
    pub fn authorize<'q>(&self, query: Option<&'q str>, now: SystemTime) -> Result<Authorized<'q>, Reply> {
        let query = match Query::parse(query.unwrap_or("")) {
            Ok(query) => query,
            Err(problem) => return Err(self.bad_request(&problem)),
        };
        if let Err(err) = self.auth.check(&query.credentials(), now) {
            return Err(self.unauthorized(&err));
        }
        Ok(Authorized {
            command: query.command,
            sdkappid: query.sdkappid,
            client_ip: query.client_ip,
            opt_platform: query.opt_platform,
        })
    }

    /// Steps 3 and 4, for a request [`Webhook::authorize`] let through.
    pub fn handle_authorized(
        &self,
        engine: &Engine,
        authorized: &Authorized<'_>,
        body: &[u8],
        started: Instant,
    ) -> Reply {
        self.respond(engine, 0, authorized, body, started)
    }

    /// [`Webhook::handle_authorized`], recording `generation` (of the
    /// dictionaries `engine` was built from) in the audit.
    pub fn respond(
        &self,
        engine: &Engine,
        generation: u64,
        authorized: &Authorized<'_>,
        body: &[u8],
        started: Instant,
    ) -> Reply {
        // Holds the body when lone surrogates had to be repaired; the parsed
        // fields borrow from it.
        let mut repaired = None;
        let parsed = CallbackBody::parse(body, &mut repaired);
        let decided = match &parsed {
            Ok(parsed) => self.decide(engine, authorized, parsed, started),
            Err(problem) => self.malformed(problem.clone()),
        };
        let parsed = parsed.as_ref().ok();
        let body_command = parsed.and_then(|parsed| match &parsed.command {
            Some(BodyCommand::Text(command)) => Some(command.as_ref()),
            _ => None,
        });
        let command = authorized.command.as_deref().or(body_command).unwrap_or("");
        let ids = parsed.map(CallbackBody::ids).unwrap_or_default();
        let include_message = self.audit.as_ref().is_some_and(AuditLog::include_message);
        let message = match parsed {
            Some(parsed) if include_message => parsed.message_text(),
            _ => (None, None),
        };
        self.finish(authorized, command, ids, message, decided, generation, started, body.len())
    }

    /// The fail policy's answer for a request whose body did not arrive
    /// within the budget, counted and recorded.
    pub fn timed_out(&self, generation: u64, authorized: &Authorized<'_>, started: Instant) -> Reply {
        let reply = self.fail(FailReason::Budget);
        let decided = Decided::answered(reply, VerdictLabel::FailPolicy, self.fail_code());
        let command = authorized.command.as_deref().unwrap_or("");
        self.finish(authorized, command, Ids::default(), (None, None), decided, generation, started, 0)
    }

    /// Counts the answer and queues its audit record.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        authorized: &Authorized<'_>,
        command: &str,
        ids: Ids<'_>,
        (msg_body, cloud_custom_data): (Option<&str>, Option<&str>),
        decided: Decided,
        generation: u64,
        started: Instant,
        body_bytes: usize,
    ) -> Reply {
        let elapsed = started.elapsed();
        self.counters.callbacks.record(CommandLabel::of(command), decided.verdict, elapsed, body_bytes);
        if let Some(audit) = &self.audit {
            let record = Record {
                time: SystemTime::now(),
                command,
                sdkappid: authorized.sdkappid.as_deref(),
                ids,
                opt_platform: authorized.opt_platform.as_deref(),
                client_ip: authorized.client_ip.as_deref(),
                verdict: decided.verdict,
                dry_run: self.policy.dry_run,
                status: decided.reply.status.as_u16(),
                error_code: decided.error_code,
                error: decided.problem.as_deref(),
                hits: &decided.hits,
                generation,
                elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                msg_body,
                cloud_custom_data,
            };
            // Straight into the queue's buffer: no allocation, no copy.
            audit.offer_with(|lines| record.write_line(lines));
        }
        decided.reply
    }

    /// Step 3's command checks and step 4.
    fn decide(
        &self,
        engine: &Engine,
        authorized: &Authorized<'_>,
        parsed: &CallbackBody<'_>,
        started: Instant,
    ) -> Decided {
        let body_command = match &parsed.command {
            None => None,
            Some(BodyCommand::Text(command)) => Some(command.as_ref()),
            Some(BodyCommand::NotText) => return self.malformed("CallbackCommand: must be a string".into()),
        };
        let command = match (authorized.command.as_deref(), body_command) {
            (Some(query), Some(body)) if query != body => {
                return self.malformed(format!(
                    "CallbackCommand: the query string says {query:?} but the body says {body:?}"
                ))
            }
            (Some(command), _) | (None, Some(command)) => command,
            (None, None) => {
                return self.malformed("CallbackCommand: missing from both query string and body".into())
            }
        };
        match Command::classify(command) {
            Command::BeforeSend(channel) => {
                if self.is_exempt(channel, authorized, parsed) {
                    return Decided::answered(ok_reply(0, "", Outcome::Exempt), VerdictLabel::Exempt, 0);
                }
                let (msg_body, cloud_custom_data) = parsed.moderated_fields();
                match self.guarded(started, || engine.moderate_json(msg_body, cloud_custom_data, channel)) {
                    Ok(mut verdict) => {
                        // The reply needs only the code, info and rewrite;
                        // the hits go to the audit.
                        let hits = std::mem::take(&mut verdict.hits);
                        let outcome =
                            Outcome::Moderated { channel, decision: verdict.decision, hits: hits.len() };
                        let label = VerdictLabel::of(verdict.decision);
                        let error_code = verdict.error_code;
                        let reply = if self.policy.dry_run {
                            ok_reply(0, "", outcome)
                        } else {
                            verdict_reply(verdict, outcome)
                        };
                        Decided { reply, verdict: label, error_code: Some(error_code), hits, problem: None }
                    }
                    Err(decided) => decided,
                }
            }
            Command::AfterSend => {
                Decided::answered(ok_reply(0, "", Outcome::AfterSend), VerdictLabel::Acknowledged, 0)
            }
            Command::Other => {
                Decided::answered(ok_reply(0, "", Outcome::UnknownCommand), VerdictLabel::Acknowledged, 0)
            }
        }
    }

    /// Whether a before-send callback is answered allow unmoderated. A body
    /// naming its sender twice is never exempt: which one Tencent meant is
    /// unknowable.
    fn is_exempt(&self, channel: Channel, authorized: &Authorized<'_>, parsed: &CallbackBody<'_>) -> bool {
        let policy = &self.policy;
        if policy.exempt_restapi
            && authorized
                .opt_platform
                .as_deref()
                .is_some_and(|platform| platform.eq_ignore_ascii_case("RESTAPI"))
        {
            return true;
        }
        if policy.exempt_senders.is_empty() || parsed.ids_repeated {
            return false;
        }
        let sender = match channel {
            Channel::OfficialAccount => parsed.ids.official_account.as_deref(),
            Channel::C2C | Channel::Group => parsed.ids.from_account.as_deref(),
        };
        sender.is_some_and(|sender| policy.exempt_senders.iter().any(|exempt| exempt == sender))
    }

    /// Runs `moderate` so that a panic or a blown budget answers the fail
    /// policy.
    fn guarded(
        &self,
        started: Instant,
        moderate: impl FnOnce() -> Result<Verdict, MessageError>,
    ) -> Result<Verdict, Decided> {
        // The engine is immutable and holds no locks, so nothing it touches
        // can be left half-updated by an unwind.
        let verdict = match catch_unwind(AssertUnwindSafe(moderate)) {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(err)) => return Err(self.malformed(err.to_string())),
            Err(_) => return Err(self.failed(FailReason::Internal)),
        };
        if started.elapsed() > self.budget {
            return Err(self.failed(FailReason::Budget));
        }
        Ok(verdict)
    }

    fn failed(&self, reason: FailReason) -> Decided {
        Decided::answered(self.fail(reason), VerdictLabel::FailPolicy, self.fail_code())
    }

    fn malformed(&self, problem: String) -> Decided {
        let reply = self.bad_request(&problem);
        Decided {
            reply,
            verdict: VerdictLabel::Error,
            error_code: None,
            hits: Vec::new(),
            problem: Some(problem),
        }
    }

    fn fail_code(&self) -> u32 {
        match self.fail_policy {
            FailPolicy::Allow => 0,
            FailPolicy::Reject => 1,
        }
    }

    /// The fail policy's answer, counted. The server also uses it when the
    /// body does not arrive within the budget.
    pub fn fail(&self, reason: FailReason) -> Reply {
        bump(match reason {
            FailReason::Budget => &self.counters.fail_policy_budget,
            FailReason::Internal => &self.counters.fail_policy_internal,
        });
        ok_reply(self.fail_code(), "", Outcome::FailPolicy(reason))
    }

    fn bad_request(&self, problem: &str) -> Reply {
        bump(&self.counters.bad_request);
        Reply::error(StatusCode::BAD_REQUEST, problem, Outcome::BadRequest)
    }

    fn unauthorized(&self, err: &AuthError) -> Reply {
        bump(&self.counters.unauthorized);
        Reply::error(err.status(), &err.to_string(), Outcome::Unauthorized)
    }
}

/// The top-level fields of a callback body that this server reads.
///
/// The engine reads `MsgBody` and the top-level `CloudCustomData` of a
/// request and nothing else (see [`crate::engine::message`]); this server
/// reads `CallbackCommand`. Nothing is built into a `serde_json::Value`
/// (ordered maps, exact numbers), which cost more than moderating the
/// message: `MsgBody` is kept as its JSON text, borrowed from the body, for
/// [`Engine::moderate_json`], which scans it from a borrowed tree and builds
/// a `Value` only to answer a mask; `CloudCustomData` is kept as its string.
/// Every field is still checked as it was when it was built: JSON syntax,
/// nesting ([`MAX_JSON_DEPTH`]), and no object naming a key twice in
/// `MsgBody` or `CloudCustomData`. The test
/// `shallow_parse_moderates_like_the_whole_body` fails if the engine starts
/// reading another top-level field.
#[derive(Debug, Default)]
struct CallbackBody<'a> {
    command: Option<BodyCommand<'a>>,
    msg_body: Option<&'a RawValue>,
    cloud_custom_data: Option<CloudData<'a>>,
    /// Sender and target ids, for exemptions and the audit; a value that is
    /// not a string is left out.
    ids: BodyIds<'a>,
    /// Some id field was given more than once.
    ids_repeated: bool,
}

/// The id fields of a body, borrowed from it when they have no escapes.
#[derive(Debug, Default)]
struct BodyIds<'a> {
    official_account: Option<Cow<'a, str>>,
    from_account: Option<Cow<'a, str>>,
    to_account: Option<Cow<'a, str>>,
    group_id: Option<Cow<'a, str>>,
    operator_account: Option<Cow<'a, str>>,
    topic_id: Option<Cow<'a, str>>,
    /// Which fields were seen, one bit each in the order above.
    seen: u8,
}

impl<'a> BodyIds<'a> {
    /// The slot for an id field and its bit in `seen`.
    fn slot(&mut self, key: &str) -> Option<(&mut Option<Cow<'a, str>>, u8)> {
        Some(match key {
            "Official_Account" => (&mut self.official_account, 1),
            "From_Account" => (&mut self.from_account, 2),
            "To_Account" => (&mut self.to_account, 4),
            "GroupId" => (&mut self.group_id, 8),
            "Operator_Account" => (&mut self.operator_account, 16),
            "TopicId" => (&mut self.topic_id, 32),
            _ => return None,
        })
    }
}

/// The body's `CloudCustomData`: the engine reads it only when it is a
/// string.
#[derive(Debug)]
enum CloudData<'a> {
    Text(Cow<'a, str>),
    Other,
}

/// The body's `CallbackCommand`: borrowed from the body when it has no
/// escapes, as it never does.
#[derive(Debug)]
enum BodyCommand<'a> {
    Text(Cow<'a, str>),
    NotText,
}

impl<'de> serde::Deserialize<'de> for BodyCommand<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyCommandVisitor)
    }
}

struct BodyCommandVisitor;

impl<'de> serde::de::Visitor<'de> for BodyCommandVisitor {
    type Value = BodyCommand<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(BodyCommand::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(BodyCommand::Text(Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(BodyCommand::Text(Cow::Owned(text)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(BodyCommand::NotText)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(BodyCommand::NotText)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(BodyCommand::NotText)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(BodyCommand::NotText)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(BodyCommand::NotText)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(BodyCommand::NotText)
    }

    // Also how serde_json hands over numbers with `arbitrary_precision`.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(BodyCommand::NotText)
    }
}

impl<'a> CallbackBody<'a> {
    /// Parses a body. When it has to be repaired (lone surrogates), the
    /// repaired copy is kept in `repaired` and the fields borrow from it.
    fn parse(body: &'a [u8], repaired: &'a mut Option<String>) -> Result<CallbackBody<'a>, String> {
        // Say "not an object" for `[...]` or `"..."` rather than a serde
        // type error; an empty or broken body is a JSON syntax error below.
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
        if first.is_some_and(|&byte| byte != b'{') {
            return Err("the body must be a JSON object".into());
        }
        // One UTF-8 check for the whole body is cheaper than serde_json's
        // check of every string in it.
        let body = std::str::from_utf8(body).map_err(|err| format!("the body is not valid UTF-8: {err}"))?;
        match CallbackBody::parse_str(body) {
            Ok(parsed) => Ok(parsed),
            // A lone surrogate escape (`"\ud800"`) is JSON no UTF-8 string
            // can hold; a client's broken UTF-16 (half an emoji) may well
            // reach Tencent and be passed on. Refusing it would leave the
            // message to Tencent's failure handling, unmoderated, so it is
            // read as U+FFFD, the way a UTF-8 decoder reads a broken
            // sequence. Only a failed parse pays for the look.
            Err(err) => match replace_lone_surrogates(body) {
                Some(copy) => CallbackBody::parse_str(repaired.insert(copy)),
                None => Err(err),
            },
        }
    }

    fn parse_str(body: &'a str) -> Result<CallbackBody<'a>, String> {
        let mut deserializer = serde_json::Deserializer::from_str(body);
        let parsed = serde::Deserializer::deserialize_map(&mut deserializer, CallbackBodyVisitor { body })
            .and_then(|parsed| deserializer.end().map(|()| parsed))
            .map_err(describe)?;
        if let Some(msg_body) = parsed.msg_body {
            check_msg_body(body, msg_body)?;
        }
        Ok(parsed)
    }

    /// The ids, for the audit.
    fn ids(&self) -> Ids<'_> {
        let ids = &self.ids;
        Ids {
            official_account: ids.official_account.as_deref(),
            from_account: ids.from_account.as_deref(),
            to_account: ids.to_account.as_deref(),
            group_id: ids.group_id.as_deref(),
            operator_account: ids.operator_account.as_deref(),
            topic_id: ids.topic_id.as_deref(),
        }
    }

    /// `MsgBody`'s JSON text as sent and `CloudCustomData`'s string, for an
    /// audit that includes the message.
    fn message_text(&self) -> (Option<&str>, Option<&str>) {
        self.moderated_fields()
    }

    /// `MsgBody`'s JSON text and `CloudCustomData`'s string, as
    /// [`Engine::moderate_json`] takes them.
    fn moderated_fields(&self) -> (Option<&str>, Option<&str>) {
        let cloud_custom_data = match &self.cloud_custom_data {
            Some(CloudData::Text(text)) => Some(text.as_ref()),
            Some(CloudData::Other) | None => None,
        };
        (self.msg_body.map(RawValue::get), cloud_custom_data)
    }
}

/// A serde_json error as the 400 answer words it.
fn describe(err: serde_json::Error) -> String {
    match err.classify() {
        // serde_json adds where the field ended; the message says where it
        // nests too deeply.
        serde_json::error::Category::Data => {
            let message = err.to_string();
            match message.strip_prefix(DEPTH_ERROR).and_then(|rest| rest.rsplit_once(" at line ")) {
                Some((place, _)) => format!("{DEPTH_ERROR}{place}"),
                None => message,
            }
        }
        // serde_json's own limit; its message says nothing of nesting.
        _ if err.to_string().starts_with("recursion limit exceeded") => format!(
            "the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels (line {} column {})",
            err.line(),
            err.column()
        ),
        _ => format!("the body is not valid JSON: {err}"),
    }
}

/// Checks `MsgBody`, which the main parse only skipped over (serde_json
/// captures a `RawValue` without its nesting limit and without decoding
/// strings), as every other field is checked while it is parsed: nesting
/// within [`MAX_JSON_DEPTH`] counted from the body, no object naming a key
/// twice, every string valid (a lone surrogate fails here and sends the
/// body to the repair in [`CallbackBody::parse`]). Errors give the line and
/// column in the body.
fn check_msg_body(body: &str, msg_body: &RawValue) -> Result<(), String> {
    use serde::de::DeserializeSeed;
    let text = msg_body.get();
    let mut keys = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // `MsgBody` itself is the second level; the body is the first.
    let strict = Strict { field: "MsgBody", depth: 2, keys: &mut keys };
    let Err(err) = strict.deserialize(&mut deserializer) else { return Ok(()) };
    // serde_json's position is counted from `MsgBody`'s start.
    let (start_line, start_column) = position(body, text, 0);
    let (line, column) = match err.line() {
        1 => (start_line, start_column - 1 + err.column()),
        line => (start_line + line - 1, err.column()),
    };
    let full = err.to_string();
    let message = full.rsplit_once(" at line ").map_or(full.as_str(), |(message, _)| message);
    Err(match err.classify() {
        serde_json::error::Category::Data if message == DEPTH_ERROR => {
            format!("{DEPTH_ERROR} (line {line} column {column})")
        }
        serde_json::error::Category::Data => format!("{message} at line {line} column {column}"),
        _ => format!("the body is not valid JSON: {message} at line {line} column {column}"),
    })
}

struct CallbackBodyVisitor<'de> {
    /// The whole body, to say where a field nests too deeply.
    body: &'de str,
}

impl<'de> serde::de::Visitor<'de> for CallbackBodyVisitor<'de> {
    type Value = CallbackBody<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CallbackBody<'de>, A::Error> {
        use serde::de::Error;
        // Which of two `MsgBody`s would be moderated, and which one
        // delivered, depends on the parser: refuse the ambiguity.
        fn once<T, E: Error>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), E> {
            if slot.is_some() {
                return Err(E::custom(format!("{key}: given more than once")));
            }
            *slot = Some(value);
            Ok(())
        }
        let mut body = CallbackBody::default();
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "CallbackCommand" => once(&mut body.command, &key, map.next_value()?)?,
                // Skipped over here, checked by `check_msg_body`.
                "MsgBody" => once(&mut body.msg_body, &key, map.next_value()?)?,
                "CloudCustomData" => once(&mut body.cloud_custom_data, &key, map.next_value()?)?,
                // Fields this server does not read are skipped over as
                // fast as serde_json can, then held to the nesting limit;
                // the id fields are read from that text when they are
                // strings (they never have nesting to skip).
                _ => {
                    let value: &'de RawValue = map.next_value()?;
                    if let Some(at) = too_deep(value.get(), 2) {
                        let (line, column) = position(self.body, value.get(), at);
                        return Err(Error::custom(format!("{DEPTH_ERROR} (line {line} column {column})")));
                    }
                    if let Some((slot, bit)) = body.ids.slot(&key) {
                        let text = value.get();
                        let id = if text.starts_with('"') {
                            serde_json::from_str::<Key<'de>>(text).ok().map(|Key(id)| id)
                        } else {
                            None
                        };
                        *slot = id;
                        if body.ids.seen & bit != 0 {
                            body.ids_repeated = true;
                        }
                        body.ids.seen |= bit;
                    }
                }
            }
        }
        Ok(body)
    }
}

/// How deeply a body may nest arrays and objects, the body itself being the
/// first level: serde_json's recursion limit (128) stops a parse at the
/// 128th. Applied to every field, read or skipped.
pub const MAX_JSON_DEPTH: usize = 127;

/// The line and column (both from 1, the column in bytes) of byte `at` of
/// `part`, a slice of `body`.
fn position(body: &str, part: &str, at: usize) -> (usize, usize) {
    let start = (part.as_ptr() as usize).saturating_sub(body.as_ptr() as usize);
    let before = body.as_bytes().get(..start + at).unwrap_or_default();
    let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    (before.iter().filter(|&&byte| byte == b'\n').count() + 1, before.len() - line_start + 1)
}

/// Where `json`, a valid JSON value at nesting level `level` (the body is
/// level 1), opens an array or object beyond [`MAX_JSON_DEPTH`]: the byte
/// offset of that bracket, or `None`. A scalar costs one comparison.
fn too_deep(json: &str, level: usize) -> Option<usize> {
    let bytes = json.as_bytes();
    if !matches!(bytes.first(), Some(b'[' | b'{')) {
        return None;
    }
    let mut depth = level - 1;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                // To the closing quote, stepping over escapes.
                at += 1;
                while let Some(&byte) = bytes.get(at) {
                    match byte {
                        b'\\' => at += 2,
                        b'"' => break,
                        _ => at += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    None
}

/// What [`check_msg_body`] and a nested [`Strict`] say of a body nested
/// deeper than [`MAX_JSON_DEPTH`], in the words `describe` uses for
/// serde_json's own limit.
const DEPTH_ERROR: &str = "the body nests arrays and objects deeper than 127 levels";

/// An object key, borrowed from the body when it has no escapes (serde's
/// own `Cow<str>` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> serde::de::Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(text)))
    }
}

impl<'de> serde::Deserialize<'de> for CloudData<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<CloudData<'de>, D::Error> {
        deserializer.deserialize_any(CloudDataVisitor)
    }
}

struct CloudDataVisitor;

impl<'de> serde::de::Visitor<'de> for CloudDataVisitor {
    type Value = CloudData<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Text(Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Text(Cow::Owned(text)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Other)
    }

    fn visit_unit<E>(self) -> Result<CloudData<'de>, E> {
        Ok(CloudData::Other)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<CloudData<'de>, A::Error> {
        let mut keys = Vec::new();
        Strict { field: "CloudCustomData", depth: 2, keys: &mut keys }
            .visit_seq(seq)
            .map(|()| CloudData::Other)
    }

    // Also how serde_json hands over numbers with `arbitrary_precision`.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<CloudData<'de>, A::Error> {
        let mut keys = Vec::new();
        Strict { field: "CloudCustomData", depth: 2, keys: &mut keys }
            .visit_map(map)
            .map(|()| CloudData::Other)
    }
}

/// Checks a JSON value without building it: an object naming a key twice is
/// an error rather than "the last one wins" (which of two `Text`s would be
/// moderated, and which one delivered, depends on the parser), and so is
/// nesting deeper than [`MAX_JSON_DEPTH`].
struct Strict<'k, 'de> {
    /// The top-level field, for the error message.
    field: &'static str,
    /// The level of the value being checked; the body is level 1.
    depth: usize,
    /// The keys of the objects being checked, innermost last: one vector
    /// for the whole value rather than a set per object.
    keys: &'k mut Vec<Cow<'de, str>>,
}

/// With `arbitrary_precision`, serde_json hands a number to a visitor as a
/// one-entry map under this key, with the digits as a string; its own
/// `Value` tells numbers from objects by the same key.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Past this many keys an object's repeats are found with a hash set rather
/// than by comparing each key with those before it.
const LINEAR_KEYS: usize = 16;

impl<'de> Strict<'_, 'de> {
    fn nested(&mut self) -> Strict<'_, 'de> {
        Strict { field: self.field, depth: self.depth + 1, keys: &mut *self.keys }
    }

    fn enter<E: serde::de::Error>(&self) -> Result<(), E> {
        if self.depth > MAX_JSON_DEPTH {
            return Err(E::custom(DEPTH_ERROR));
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.enter()?;
        while seq.next_element_seed(self.nested())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error;
        let Some(Key(mut key)) = map.next_key()? else { return self.enter() };
        if key == NUMBER_TOKEN {
            return map.next_value::<serde::de::IgnoredAny>().map(drop);
        }
        self.enter()?;
        let start = self.keys.len();
        let mut many: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        loop {
            let repeated = match &mut many {
                Some(set) => !set.insert(key.clone()),
                None if self.keys[start..].contains(&key) => true,
                None => {
                    self.keys.push(key.clone());
                    if self.keys.len() - start > LINEAR_KEYS {
                        many = Some(self.keys.drain(start..).collect());
                    }
                    false
                }
            };
            if repeated {
                let field = self.field;
                return Err(A::Error::custom(format!(
                    "{field}: an object in it names {key:?} more than once"
                )));
            }
            map.next_value_seed(self.nested())?;
            match map.next_key()? {
                Some(Key(next)) => key = next,
                None => break,
            }
        }
        self.keys.truncate(start);
        Ok(())
    }
}

/// Skips any JSON value, like `serde::de::IgnoredAny`, but through
/// `deserialize_any`: serde_json skips an `IgnoredAny` without its nesting
/// limit (and without checking escapes), and a body must not be accepted or
/// refused by which field holds the problem.
struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Skip, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> serde::de::Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// `json` with every `\uD800`–`\uDFFF` escape that is not half of a
/// surrogate pair replaced by `\uFFFD`, or `None` when it has none. The
/// replacement has the same length, so positions in later errors hold.
///
/// ```
/// use wordgate::webhook::replace_lone_surrogates;
/// assert_eq!(replace_lone_surrogates(r#"["\ud800","\ud83d\ude00"]"#).as_deref(), Some(r#"["\ufffd","\ud83d\ude00"]"#));
/// assert_eq!(replace_lone_surrogates(r#"["\\ud800"]"#), None);
/// ```
pub fn replace_lone_surrogates(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        let hex = bytes.get(at..at + 4)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        hex.iter().try_fold(0u16, |unit, &digit| Some(unit << 4 | (digit as char).to_digit(16)? as u16))
    };
    let escape =
        |at: usize| (bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'u')).then(|| unit(at + 2));
    let mut repaired: Option<Vec<u8>> = None;
    let mut at = 0;
    while let Some(offset) = bytes.get(at..).and_then(|rest| rest.iter().position(|&b| b == b'\\')) {
        at += offset;
        let Some(Some(code)) = escape(at) else {
            // `\\`, `\"` and the like: step over the escaped character.
            at += 2;
            continue;
        };
        let lone = match code {
            0xD800..=0xDBFF => match escape(at + 6) {
                Some(Some(0xDC00..=0xDFFF)) => {
                    at += 12;
                    continue;
                }
                _ => true,
            },
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let copy = repaired.get_or_insert_with(|| bytes.to_vec());
            if let Some(digits) = copy.get_mut(at + 2..at + 6) {
                digits.copy_from_slice(b"fffd");
            }
        }
        at += 6;
    }
    repaired.and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Appends `value` as JSON. Serialising into a `Vec` has no I/O to fail and
/// `Value` keys are strings, so this cannot fail in practice.
fn push_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// `{"ActionStatus":"OK","ErrorCode":N,"ErrorInfo":"…"`, unclosed.
fn envelope(code: u32, info: &str, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + info.len() + capacity);
    out.extend_from_slice(b"{\"ActionStatus\":\"OK\",\"ErrorCode\":");
    out.extend_from_slice(code.to_string().as_bytes());
    out.extend_from_slice(b",\"ErrorInfo\":");
    push_json(&mut out, info);
    out
}

fn ok_reply(code: u32, info: &str, outcome: Outcome) -> Reply {
    let mut body = envelope(code, info, 0);
    body.push(b'}');
    Reply { status: StatusCode::OK, body, outcome }
}

/// `{"ActionStatus":"OK","ErrorCode":N,"ErrorInfo":"…"}`, plus the whole
/// rewritten `MsgBody` (and `CloudCustomData` when it changed) for a mask.
/// The rewrite is serialised from the `Value`s the engine built, so every
/// field, its order and every number are echoed exactly.
fn verdict_reply(verdict: Verdict, outcome: Outcome) -> Reply {
    let mut body = envelope(verdict.error_code, &verdict.error_info, 256);
    if let Some(rewrite) = &verdict.rewrite {
        body.extend_from_slice(b",\"MsgBody\":");
        push_json(&mut body, &rewrite.msg_body);
        if let Some(data) = &rewrite.cloud_custom_data {
            body.extend_from_slice(b",\"CloudCustomData\":");
            push_json(&mut body, data);
        }
    }
    body.push(b'}');
    Reply { status: StatusCode::OK, body, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DictionarySource;

    const OA_QUERY: &str = "SdkAppid=1400000001&CallbackCommand=OfficialAccount.CallbackBeforeSendMsg\
                            &contenttype=JSON&ClientIP=127.0.0.1&OptPlatform=Mac";

    fn engine() -> Engine {
        let result = Engine::build(&[
            DictionarySource::new("ban.txt", "@action reject\n@code 120009\n@info no\nred packet\n"),
            DictionarySource::new("rude.txt", "@action mask\ndarn\n"),
        ]);
        match result {
            Ok(engine) => engine,
            Err(errors) => panic!("{errors:?}"),
        }
    }

    fn webhook(policy: FailPolicy, budget: Duration) -> Webhook {
        Webhook::new(Auth::new(vec![1400000001], None, Duration::from_secs(60)), policy, budget)
    }

    fn json(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
    }

    fn text_body(text: &str) -> Vec<u8> {
        serde_json::json!({"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn reject_mask_allow() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let engine = engine();
        let handle =
            |body: &[u8]| webhook.handle(&engine, Some(OA_QUERY), body, SystemTime::now(), Instant::now());

        let reply = handle(&text_body("a red packet"));
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, br#"{"ActionStatus":"OK","ErrorCode":120009,"ErrorInfo":"no"}"#);

        let reply = handle(&text_body("oh darn"));
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"oh ****"}}]}"#
        );

        let reply = handle(&text_body("hello"));
        assert_eq!(reply.body, br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#);
        assert_eq!(
            reply.outcome,
            Outcome::Moderated { channel: Channel::OfficialAccount, decision: Action::Allow, hits: 0 }
        );
        assert_eq!(webhook.counters().values().moderated, 3);
    }

    #[test]
    fn query_parsing() {
        let query = Query::parse("sdkappid=1&Sign=a%62c&RequestTime=1+2&x=%zz&CallbackCommand=C2C.X");
        let query = query.unwrap_or_default();
        assert_eq!(query.sdkappid.as_deref(), Some("1"));
        assert_eq!(query.sign.as_deref(), Some("abc"));
        assert_eq!(query.request_time.as_deref(), Some("1 2"));
        assert_eq!(query.command.as_deref(), Some("C2C.X"));
        assert!(Query::parse("SdkAppid=1&SdkAppid=2").is_err());
        assert!(Query::parse("Sign=%ff").is_err());
        assert_eq!(Query::parse("").unwrap_or_default(), Query::default());
        assert_eq!(percent_decode("50%").as_deref(), Some("50%"));
        assert_eq!(percent_decode("%4").as_deref(), Some("%4"));
    }

    #[test]
    fn commands_must_agree_and_exist() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let engine = engine();
        let now = SystemTime::now();
        let body = br#"{"CallbackCommand":"C2C.CallbackBeforeSendMsg","MsgBody":[]}"#;
        let reply = webhook.handle(&engine, Some(OA_QUERY), body, now, Instant::now());
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&reply.body).contains("the query string says"));

        // The body alone may name the command.
        let reply = webhook.handle(&engine, Some("SdkAppid=1400000001"), body, now, Instant::now());
        assert_eq!(reply.status, StatusCode::OK);

        let reply = webhook.handle(&engine, Some("SdkAppid=1400000001"), b"{}", now, Instant::now());
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        let reply = webhook.handle(
            &engine,
            Some("SdkAppid=1400000001"),
            br#"{"CallbackCommand":7}"#,
            now,
            Instant::now(),
        );
        assert_eq!(json(&reply)["error"], "CallbackCommand: must be a string");
    }

    #[test]
    fn malformed_bodies_name_the_problem() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let engine = engine();
        let now = SystemTime::now();
        let run = |body: &[u8]| json(&webhook.handle(&engine, Some(OA_QUERY), body, now, Instant::now()));
        assert!(run(b"{not json")
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(|e| e.starts_with("the body is not valid JSON")));
        assert_eq!(run(b"[1]")["error"], "the body must be a JSON object");
        assert_eq!(run(br#"{"MsgBody":{}}"#)["error"], "MsgBody: must be an array of message elements");
        assert_eq!(run(br#"{"MsgBody":{}}"#)["status"], 400);
        assert_eq!(webhook.counters().values().bad_request, 4);
    }

    #[test]
    fn a_panic_answers_the_fail_policy() {
        for (policy, code) in [(FailPolicy::Allow, 0), (FailPolicy::Reject, 1)] {
            let webhook = webhook(policy, Duration::from_secs(1));
            let Err(decided) = webhook.guarded(Instant::now(), || panic!("core bug")) else {
                panic!("no verdict")
            };
            assert_eq!(decided.verdict, VerdictLabel::FailPolicy);
            let reply = decided.reply;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(json(&reply)["ErrorCode"], code);
            assert_eq!(reply.outcome, Outcome::FailPolicy(FailReason::Internal));
            assert_eq!(webhook.counters().values().fail_policy_internal, 1);
        }
    }

    #[test]
    fn a_blown_budget_answers_the_fail_policy() {
        let webhook = webhook(FailPolicy::Reject, Duration::from_millis(1));
        let engine = engine();
        let request: Value = serde_json::from_slice(&text_body("hello")).unwrap_or(Value::Null);
        let decided = webhook.guarded(Instant::now(), || {
            std::thread::sleep(Duration::from_millis(5));
            engine.moderate(&request, Channel::Group)
        });
        let Err(Decided { reply, .. }) = decided else { panic!("answered in time") };
        assert_eq!(reply.body, br#"{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":""}"#);
        assert_eq!(reply.outcome, Outcome::FailPolicy(FailReason::Budget));
        assert_eq!(webhook.counters().values().fail_policy_budget, 1);
    }

    #[test]
    fn shallow_parse_moderates_like_the_whole_body() {
        // Every top-level field the server does not read is stuffed with
        // words the dictionaries hit. Should the engine ever read one of
        // them, the two verdicts differ, and `CallbackBody` must learn it.
        let engine = engine();
        let samples: [(&[u8], Channel); 4] = [
            (include_bytes!("../tests/data/samples/oa-before-send.request.json"), Channel::OfficialAccount),
            (include_bytes!("../tests/data/samples/c2c-before-send.request.json"), Channel::C2C),
            (include_bytes!("../tests/data/samples/group-before-send.request.json"), Channel::Group),
            (include_bytes!("../tests/data/samples/group-after-send.request.json"), Channel::Group),
        ];
        let elements: Value =
            serde_json::from_slice(include_bytes!("../tests/data/samples/elements.json")).unwrap_or_default();
        let noise = serde_json::json!({"Title": "red packet", "Desc": "darn", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "darn"}}]});
        for (sample, channel) in samples {
            for variant in 0..3 {
                let mut request: Value = serde_json::from_slice(sample).unwrap_or_default();
                let Value::Object(fields) = &mut request else { panic!("sample is an object") };
                let names: Vec<String> = fields.keys().cloned().collect();
                for name in names {
                    if !matches!(name.as_str(), "MsgBody" | "CloudCustomData" | "CallbackCommand") {
                        fields.insert(name, Value::String("red packet darn".into()));
                    }
                }
                for extra in ["OfflinePushInfo", "MsgList", "Extra"] {
                    fields.insert(extra.into(), noise.clone());
                }
                match variant {
                    0 => {}
                    1 => {
                        fields.insert("MsgBody".into(), elements.clone());
                        fields.insert("CloudCustomData".into(), Value::String("oh darn".into()));
                    }
                    _ => {
                        fields.insert("CloudCustomData".into(), Value::String("a red packet".into()));
                    }
                }
                let bytes = serde_json::to_vec(&request).unwrap_or_default();
                let mut repaired = None;
                let shallow =
                    CallbackBody::parse(&bytes, &mut repaired).unwrap_or_else(|err| panic!("{err}"));
                let (msg_body, cloud_custom_data) = shallow.moderated_fields();
                assert_eq!(
                    engine.moderate_json(msg_body, cloud_custom_data, channel),
                    engine.moderate(&request, channel),
                    "{request}"
                );
            }
        }
    }

    #[test]
    fn ambiguous_bodies_are_refused() {
        let twice =
            br#"{"MsgBody":[],"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}]}"#;
        let err = CallbackBody::parse(twice, &mut None).err().unwrap_or_default();
        assert!(err.starts_with("MsgBody: given more than once"), "{err}");
        let err = CallbackBody::parse(br#"{"MsgBody":[]} {}"#, &mut None).err().unwrap_or_default();
        assert!(err.starts_with("the body is not valid JSON: trailing characters"), "{err}");
        let err = CallbackBody::parse(br#"{"Other":[1,}"#, &mut None).err().unwrap_or_default();
        assert!(err.starts_with("the body is not valid JSON"), "{err}");
        assert_eq!(
            CallbackBody::parse(b" \"x\"", &mut None).err(),
            Some("the body must be a JSON object".into())
        );
        assert!(CallbackBody::parse(b"", &mut None).is_err());
    }

    /// `MsgBody` is skipped over by the main parse and checked on its own
    /// (`check_msg_body`), unread fields are skipped as raw JSON and only
    /// their nesting is checked: both must refuse what a field-by-field
    /// parse refuses, and say where in the body.
    #[test]
    fn skipped_fields_are_checked_like_parsed_ones() {
        let parse = |body: &str| CallbackBody::parse(body.as_bytes(), &mut None).map(|_| ()).err();
        let nested =
            |levels: usize, inner: &str| format!("{}{inner}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(DEPTH_ERROR.contains(&format!(" {MAX_JSON_DEPTH} ")));

        // The body is level 1 and MsgBody level 2: 127 levels in all pass,
        // a 128th is refused, wherever it is and whatever is innermost.
        for inner in ["1", "1.5", "\"x\"", "{}", "{\"a\":1}", ""] {
            for (field, levels) in [("MsgBody", 126), ("Extra", 126), ("CloudCustomData", 126)] {
                let ok = format!(r#"{{"{field}":{}}}"#, nested(levels, inner));
                let deep = format!(r#"{{"{field}":{}}}"#, nested(levels + 1, inner));
                let inner_levels = usize::from(inner.starts_with('{'));
                match (parse(&ok), inner_levels) {
                    (None, 0) => {}
                    (Some(err), 1) => assert!(err.starts_with(DEPTH_ERROR), "{field} {inner}: {err}"),
                    (err, _) => panic!("{field} {inner} at the limit: {err:?}"),
                }
                let err = parse(&deep).unwrap_or_default();
                assert!(err.starts_with(DEPTH_ERROR), "{field} {inner}: {err}");
            }
        }
        // Where: the bracket past the limit, on the body's own lines.
        let body = format!("{{\n  \"MsgBody\": {}}}", nested(200, ""));
        let err = parse(&body).unwrap_or_default();
        assert_eq!(err, format!("{DEPTH_ERROR} (line 2 column {})", 14 + 126));
        let body = format!("{{\n\n \"Extra\": {},\"MsgBody\":[]}}", nested(200, ""));
        let err = parse(&body).unwrap_or_default();
        assert_eq!(err, format!("{DEPTH_ERROR} (line 3 column {})", 11 + 126));

        // Repeated keys inside MsgBody or CloudCustomData, at any depth and
        // in objects of any size, are refused; in unread fields they are not.
        let many: String = (0..40).map(|n| format!(r#""k{n}":{n},"#)).collect();
        for (body, repeated) in [
            (
                r#"{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"a","Text":"b"}}]}"#.to_string(),
                "Text",
            ),
            (r#"{"MsgBody":[{"A":{"B":[{"C":1,"C":2}]}}]}"#.to_string(), "C"),
            (format!(r#"{{"MsgBody":[{{{many}"k7":0}}]}}"#), "k7"),
            (r#"{"MsgBody":[{"T\u0065xt":1,"Text":2}]}"#.to_string(), "Text"),
            (r#"{"CloudCustomData":{"a":[{"b":1,"b":1}]},"MsgBody":[]}"#.to_string(), "b"),
        ] {
            let err = parse(&body).unwrap_or_default();
            let field = if body.contains("CloudCustomData") { "CloudCustomData" } else { "MsgBody" };
            let expected =
                format!("{field}: an object in it names {repeated:?} more than once at line 1 column");
            assert!(err.starts_with(&expected), "{body}: {err}");
        }
        assert_eq!(parse(&format!(r#"{{"MsgBody":[{{{many}"k40":0}}]}}"#)), None);
        assert_eq!(parse(r#"{"Extra":{"a":1,"a":2},"MsgBody":[]}"#), None);
        // serde_json numbers (`arbitrary_precision`) are not objects.
        assert_eq!(parse(r#"{"MsgBody":[{"a":1e400,"b":-0.0,"c":123456789012345678901234567890}]}"#), None);

        // A repeat on a later line is placed on that line of the body.
        let err = parse("{\"MsgBody\": [\n {\"a\": 1,\n  \"a\": 2}]}").unwrap_or_default();
        assert!(
            err.starts_with(r#"MsgBody: an object in it names "a" more than once at line 3 column "#),
            "{err}"
        );
    }

    #[test]
    fn escaped_keys_and_lone_surrogates_in_msg_body() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let engine = engine();
        let handle = |body: &str| {
            let reply =
                webhook.handle(&engine, Some(OA_QUERY), body.as_bytes(), SystemTime::now(), Instant::now());
            String::from_utf8_lossy(&reply.body).into_owned()
        };
        // `Msg\u0042ody` is `MsgBody`.
        let answer =
            handle(r#"{"Msg\u0042ody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}]}"#);
        assert!(answer.contains("120009"), "{answer}");
        // A lone surrogate reads as U+FFFD, and the rewrite says so.
        let answer = handle(r#"{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"darn \ud800"}}]}"#);
        assert!(answer.contains("\"Text\":\"**** \u{FFFD}\""), "{answer}");
        // CloudCustomData is moderated only as a string.
        let answer = handle(r#"{"MsgBody":[],"CloudCustomData":"darn"}"#);
        assert!(answer.contains(r#""CloudCustomData":"****""#), "{answer}");
        let answer = handle(r#"{"MsgBody":[],"CloudCustomData":{"x":"darn"}}"#);
        assert_eq!(answer, r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#);
    }

    #[test]
    fn refused_before_the_body_is_read() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let now = SystemTime::now();
        let err = webhook.authorize(Some("SdkAppid=42"), now).err();
        assert_eq!(err.map(|reply| reply.status), Some(StatusCode::FORBIDDEN));
        let err = webhook.authorize(None, now).err();
        assert_eq!(err.map(|reply| reply.status), Some(StatusCode::FORBIDDEN));
        assert_eq!(webhook.counters().values().unauthorized, 2);
    }
}
