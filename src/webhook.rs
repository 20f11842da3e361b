//! Orchestration of one callback, without a socket: authorize → scan and
//! moderate → apply the policy → answer, count and record.
//!
//! The HTTP shell ([`crate::server`]) collects the body and turns the
//! [`Reply`] into a response (it alone decides HTTP statuses); the protocol
//! is [`crate::tencent`], the moderation [`crate::engine`]. The bench
//! (`benches/request.rs`) and tests call [`Webhook::handle`] directly, so
//! what is measured is what is served.
//!
//! Order of checks, each answering before any later one runs:
//!
//! 1. the query string parses (a repeated `SdkAppid`, `Sign`, `RequestTime`
//!    or `CallbackCommand` is refused: which one would count is ambiguous);
//! 2. [`Auth`]: `SdkAppid`, then `Sign` / `RequestTime`;
//! 3. one scan of the body ([`mod@crate::tencent::scan`]), which checks it and
//!    hands each text to the engine as it goes; its `CallbackCommand`, if
//!    present, must agree with the query's;
//! 4. the command: a before-send callback is answered with its verdict (a
//!    body whose `MsgBody` is not a message is malformed), an after-send
//!    callback is acknowledged, anything else is acknowledged and counted.
//!
//! Moderation runs in-line (it takes microseconds) inside
//! [`std::panic::catch_unwind`]: a panic in the core, or a request that has
//! used up its budget, answers the configured [`FailPolicy`] instead, and is
//! counted in [`Counters`]. The clock is read twice per request: when it
//! arrives (by the caller) and when its answer is ready.
//!
//! An exempt sender or platform ([`Policy`]) is answered allow; in shadow
//! mode (`dry_run`) the verdict is computed, counted and recorded but the
//! answer is allow. Every authorized callback is counted by command and
//! verdict ([`CallbackMetrics`]) and, with an audit stream ([`AuditLog`]),
//! becomes one [`Record`] line queued for its writer.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;

use crate::audit::{CommandLabel, Ids, Record, VerdictLabel};
use crate::audit_sink::AuditLog;
use crate::auth::{Auth, AuthError};
use crate::engine::{Action, Engine, Hit};
use crate::metrics::CallbackMetrics;
use crate::recent::Recent;
use crate::tencent::{answer, json, scan, Command, Kind, Moderation, Query, Scanned};

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
    /// The last hour by minute, for the console.
    pub recent: Recent,
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

/// What a request got, for logs, metrics and the HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A before-send callback, moderated.
    Moderated {
        /// Which kind of callback.
        kind: Kind,
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
    /// Refused: not an app of ours, or no `SdkAppid`.
    UnknownApp,
    /// Refused: a missing, wrong or stale signature.
    BadSignature,
    /// Refused as malformed.
    BadRequest,
}

/// The answer to one webhook call: for a refusal, what is wrong (the HTTP
/// shell words the error body); otherwise the JSON answer's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// What happened.
    pub outcome: Outcome,
    /// The answer (empty for a refusal).
    pub body: Bytes,
    /// For a refusal, why.
    pub problem: Option<String>,
}

impl Reply {
    fn answered(body: Bytes, outcome: Outcome) -> Reply {
        Reply { outcome, body, problem: None }
    }

    fn refused(outcome: Outcome, problem: String) -> Reply {
        Reply { outcome, body: Bytes::new(), problem: Some(problem) }
    }

    /// Whether the call was refused (not answered with an `ErrorCode`).
    pub fn is_refused(&self) -> bool {
        self.problem.is_some()
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
    /// Categories that hit out of scope (`@scope`).
    out_of_scope: Vec<String>,
}

impl Decided {
    fn answered(reply: Reply, verdict: VerdictLabel, error_code: u32) -> Decided {
        Decided { reply, verdict, error_code: Some(error_code), hits: Vec::new(), out_of_scope: Vec::new() }
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

    /// Whether [`Webhook::authorize`] reads the wall clock (only to check
    /// `RequestTime` when a token is configured).
    pub fn needs_clock(&self) -> bool {
        self.auth.signs()
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
            Ok(authorized) => self.respond(engine, 0, &authorized, body, started),
            Err(reply) => reply,
        }
    }

    /// Steps 1 and 2: parse the query string and authenticate, before any
    /// body is read.
    pub fn authorize<'q>(&self, query: Option<&'q str>, now: SystemTime) -> Result<Authorized<'q>, Reply> {
        let query = match Query::parse(query.unwrap_or("")) {
            Ok(query) => query,
            Err(problem) => return Err(self.bad_request(problem)),
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

    /// Steps 3 and 4, for a request [`Webhook::authorize`] let through,
    /// recording `generation` (of the dictionaries `engine` was built from)
    /// in the audit.
    pub fn respond(
        &self,
        engine: &Engine,
        generation: u64,
        authorized: &Authorized<'_>,
        body: &[u8],
        started: Instant,
    ) -> Reply {
        // An after-send or unknown command named by the query is only
        // checked, not moderated; without one, the body's decides.
        let moderate =
            authorized.command.as_deref().is_none_or(|command| Command::of(command).is_before_send());
        let mut moderation = Moderation::new(engine);
        let (decided, scanned) = match self.guarded(|| scan(body, moderate, &mut moderation)) {
            Ok(Ok(scanned)) => (self.decide(authorized, moderation, body, &scanned), Some(scanned)),
            Ok(Err(problem)) => (self.malformed(problem.to_string()), None),
            Err(failed) => (*failed, None),
        };
        let body_command = scanned.as_ref().and_then(|scanned| scanned.command.as_deref());
        let command = authorized.command.as_deref().or(body_command).unwrap_or("");
        self.finish(authorized, command, scanned.as_ref(), body, decided, generation, started)
    }

    /// The fail policy's answer for a request whose body did not arrive
    /// within the budget, counted and recorded.
    pub fn timed_out(&self, generation: u64, authorized: &Authorized<'_>, started: Instant) -> Reply {
        let decided = self.failed(FailReason::Budget);
        let command = authorized.command.as_deref().unwrap_or("");
        self.finish(authorized, command, None, &[], decided, generation, started)
    }

    /// Counts the answer and queues its audit record.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        authorized: &Authorized<'_>,
        command: &str,
        scanned: Option<&Scanned<'_>>,
        body: &[u8],
        decided: Decided,
        generation: u64,
        started: Instant,
    ) -> Reply {
        // The request's second and last clock read.
        let elapsed = started.elapsed();
        let mut decided = decided;
        if elapsed > self.budget && matches!(decided.reply.outcome, Outcome::Moderated { .. }) {
            decided = self.failed(FailReason::Budget);
        }
        self.counters.callbacks.record(CommandLabel::of(command), decided.verdict, elapsed, body.len());
        let categories = decided.hits.iter().map(|hit| hit.category.as_str());
        self.counters.recent.record(started + elapsed, decided.verdict, categories);
        if let Some(audit) = &self.audit {
            let include_message = audit.include_message();
            let text = |span: &Option<std::ops::Range<usize>>| {
                span.as_ref()
                    .and_then(|span| body.get(span.clone()))
                    .and_then(|raw| std::str::from_utf8(raw).ok())
            };
            let msg_body = scanned.filter(|_| include_message).and_then(|scanned| text(&scanned.msg_body));
            let cloud_custom_data = scanned
                .filter(|_| include_message)
                .and_then(|scanned| text(&scanned.cloud_custom_data))
                .map(decode_string);
            let ids = scanned.map(|scanned| ids_of(scanned)).unwrap_or_default();
            let record = Record {
                time: SystemTime::now(),
                command,
                sdkappid: authorized.sdkappid.as_deref(),
                ids,
                opt_platform: authorized.opt_platform.as_deref(),
                client_ip: authorized.client_ip.as_deref(),
                verdict: decided.verdict,
                dry_run: self.policy.dry_run,
                status: if decided.reply.is_refused() { 400 } else { 200 },
                error_code: decided.error_code,
                error: decided.reply.problem.as_deref(),
                hits: &decided.hits,
                out_of_scope: &decided.out_of_scope,
                generation,
                elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                msg_body,
                cloud_custom_data: cloud_custom_data.as_deref(),
            };
            // Straight into the queue's buffer: no allocation, no copy.
            audit.offer_with(|lines| record.write_line(lines));
        }
        decided.reply
    }

    /// Step 3's command checks and step 4.
    fn decide(
        &self,
        authorized: &Authorized<'_>,
        moderation: Moderation<'_>,
        body: &[u8],
        scanned: &Scanned<'_>,
    ) -> Decided {
        let command = match (authorized.command.as_deref(), scanned.command.as_deref()) {
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
        let command = Command::of(command);
        let Some(kind) = command.kind().filter(|_| command.is_before_send()) else {
            let outcome =
                if command == Command::Other { Outcome::UnknownCommand } else { Outcome::AfterSend };
            return Decided::answered(
                Reply::answered(answer::allow(), outcome),
                VerdictLabel::Acknowledged,
                0,
            );
        };
        if let Some(shape) = &scanned.shape {
            return self.malformed(shape.to_string());
        }
        if self.is_exempt(kind, authorized, scanned) {
            return Decided::answered(
                Reply::answered(answer::allow(), Outcome::Exempt),
                VerdictLabel::Exempt,
                0,
            );
        }
        let place = moderation.place(kind, scanned, authorized.sdkappid.as_deref());
        let verdict = match self.guarded(|| moderation.verdict(&place, body, scanned)) {
            Ok(verdict) => verdict,
            Err(failed) => return *failed,
        };
        let outcome = Outcome::Moderated { kind, decision: verdict.decision, hits: verdict.hits.len() };
        let answer = if self.policy.dry_run { answer::allow() } else { verdict.answer };
        Decided {
            reply: Reply::answered(answer, outcome),
            verdict: VerdictLabel::of(verdict.decision),
            error_code: Some(verdict.error_code),
            hits: verdict.hits,
            out_of_scope: verdict.out_of_scope,
        }
    }

    /// Whether a before-send callback is answered allow unmoderated. A body
    /// naming its sender twice is never exempt: which one Tencent meant is
    /// unknowable.
    fn is_exempt(&self, kind: Kind, authorized: &Authorized<'_>, scanned: &Scanned<'_>) -> bool {
        let policy = &self.policy;
        if policy.exempt_restapi
            && authorized
                .opt_platform
                .as_deref()
                .is_some_and(|platform| platform.eq_ignore_ascii_case("RESTAPI"))
        {
            return true;
        }
        if policy.exempt_senders.is_empty() || scanned.ids_repeated {
            return false;
        }
        let sender = match kind {
            Kind::OfficialAccount => scanned.ids.official_account.as_deref(),
            Kind::C2c | Kind::Group => scanned.ids.from_account.as_deref(),
        };
        sender.is_some_and(|sender| policy.exempt_senders.iter().any(|exempt| exempt == sender))
    }

    /// Runs `work` (the scan and the engine) so that a panic answers the
    /// fail policy. The engine is immutable and holds no locks, so nothing
    /// it touches can be left half-updated by an unwind. (Boxed: the
    /// answer is large and a panic is rare.)
    fn guarded<T>(&self, work: impl FnOnce() -> T) -> Result<T, Box<Decided>> {
        catch_unwind(AssertUnwindSafe(work)).map_err(|_| Box::new(self.failed(FailReason::Internal)))
    }

    fn failed(&self, reason: FailReason) -> Decided {
        Decided::answered(self.fail(reason), VerdictLabel::FailPolicy, self.fail_code())
    }

    fn malformed(&self, problem: String) -> Decided {
        Decided {
            reply: self.bad_request(problem),
            verdict: VerdictLabel::Error,
            error_code: None,
            hits: Vec::new(),
            out_of_scope: Vec::new(),
        }
    }

    fn fail_code(&self) -> u32 {
        match self.fail_policy {
            FailPolicy::Allow => 0,
            FailPolicy::Reject => 1,
        }
    }

    /// The fail policy's answer, counted.
    pub fn fail(&self, reason: FailReason) -> Reply {
        bump(match reason {
            FailReason::Budget => &self.counters.fail_policy_budget,
            FailReason::Internal => &self.counters.fail_policy_internal,
        });
        Reply::answered(answer::verdict(self.fail_code(), ""), Outcome::FailPolicy(reason))
    }

    fn bad_request(&self, problem: String) -> Reply {
        bump(&self.counters.bad_request);
        Reply::refused(Outcome::BadRequest, problem)
    }

    fn unauthorized(&self, err: &AuthError) -> Reply {
        bump(&self.counters.unauthorized);
        let outcome = match err {
            AuthError::MissingSdkAppid | AuthError::UnknownSdkAppid(_) => Outcome::UnknownApp,
            _ => Outcome::BadSignature,
        };
        Reply::refused(outcome, err.to_string())
    }
}

/// The ids of a scanned body, for the audit.
fn ids_of<'s>(scanned: &'s Scanned<'_>) -> Ids<'s> {
    let ids = &scanned.ids;
    Ids {
        official_account: ids.official_account.as_deref(),
        from_account: ids.from_account.as_deref(),
        to_account: ids.to_account.as_deref(),
        group_id: ids.group_id.as_deref(),
        operator_account: ids.operator_account.as_deref(),
        topic_id: ids.topic_id.as_deref(),
        group_type: scanned.group_type.as_deref(),
    }
}

/// A string token (quotes included) as its text.
fn decode_string(token: &str) -> String {
    let content = token.get(1..token.len().saturating_sub(1)).unwrap_or_default();
    let mut out = String::new();
    json::decode(content, &mut out, &mut Vec::new(), false, None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DictionarySource;
    use crate::server::routes;
    use http::StatusCode;
    use serde_json::Value;

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

    /// The status and JSON the HTTP shell would answer.
    fn http(reply: Reply) -> (StatusCode, Value) {
        let (status, body) = routes::status_and_body(reply);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
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
        assert_eq!(routes::status(&reply), StatusCode::OK);
        assert_eq!(&reply.body[..], br#"{"ActionStatus":"OK","ErrorCode":120009,"ErrorInfo":"no"}"#);

        let reply = handle(&text_body("oh darn"));
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"oh ****"}}]}"#
        );

        let reply = handle(&text_body("hello"));
        assert_eq!(&reply.body[..], br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#);
        assert_eq!(
            reply.outcome,
            Outcome::Moderated { kind: Kind::OfficialAccount, decision: Action::Allow, hits: 0 }
        );
        assert_eq!(webhook.counters().values().moderated, 3);
    }

    #[test]
    fn commands_must_agree_and_exist() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let engine = engine();
        let now = SystemTime::now();
        let body = br#"{"CallbackCommand":"C2C.CallbackBeforeSendMsg","MsgBody":[]}"#;
        let (status, answer) = http(webhook.handle(&engine, Some(OA_QUERY), body, now, Instant::now()));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["error"].as_str().is_some_and(|error| error.contains("the query string says")));

        // The body alone may name the command.
        let reply = webhook.handle(&engine, Some("SdkAppid=1400000001"), body, now, Instant::now());
        assert_eq!(routes::status(&reply), StatusCode::OK);

        let reply = webhook.handle(&engine, Some("SdkAppid=1400000001"), b"{}", now, Instant::now());
        assert_eq!(routes::status(&reply), StatusCode::BAD_REQUEST);

        let reply = webhook.handle(
            &engine,
            Some("SdkAppid=1400000001"),
            br#"{"CallbackCommand":7}"#,
            now,
            Instant::now(),
        );
        assert_eq!(http(reply).1["error"], "CallbackCommand: must be a string");
    }

    #[test]
    fn malformed_bodies_name_the_problem() {
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let engine = engine();
        let now = SystemTime::now();
        let run = |body: &[u8]| http(webhook.handle(&engine, Some(OA_QUERY), body, now, Instant::now())).1;
        assert!(run(b"{not json")
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(|e| e.starts_with("the body is not valid JSON")));
        assert_eq!(run(b"[1]")["error"], "the body must be a JSON object");
        assert_eq!(run(br#"{"MsgBody":{}}"#)["error"], "MsgBody: must be an array of message elements");
        assert_eq!(run(br#"{"MsgBody":{}}"#)["status"], 400);
        assert_eq!(webhook.counters().values().bad_request, 4);
        // An after-send callback is only checked: its shape is not ours to judge.
        let after = "SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg";
        let reply = webhook.handle(&engine, Some(after), br#"{"MsgBody":{}}"#, now, Instant::now());
        assert_eq!(reply.outcome, Outcome::AfterSend);
    }

    #[test]
    fn a_panic_answers_the_fail_policy() {
        for (policy, code) in [(FailPolicy::Allow, 0), (FailPolicy::Reject, 1)] {
            let webhook = webhook(policy, Duration::from_secs(1));
            let Err(decided) = webhook.guarded(|| panic!("core bug")) else { panic!("no verdict") };
            assert_eq!(decided.verdict, VerdictLabel::FailPolicy);
            let reply = decided.reply;
            assert_eq!(reply.outcome, Outcome::FailPolicy(FailReason::Internal));
            let (status, answer) = http(reply);
            assert_eq!(status, StatusCode::OK);
            assert_eq!(answer["ErrorCode"], code);
            assert_eq!(webhook.counters().values().fail_policy_internal, 1);
        }
    }

    #[test]
    fn a_blown_budget_answers_the_fail_policy() {
        let webhook = webhook(FailPolicy::Reject, Duration::from_millis(1));
        let engine = engine();
        // A request that arrived 50 ms ago has used up its 1 ms.
        let started = Instant::now().checked_sub(Duration::from_millis(50)).unwrap_or_else(Instant::now);
        let reply = webhook.handle(&engine, Some(OA_QUERY), &text_body("hello"), SystemTime::now(), started);
        assert_eq!(&reply.body[..], br#"{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":""}"#);
        assert_eq!(reply.outcome, Outcome::FailPolicy(FailReason::Budget));
        assert_eq!(webhook.counters().values().fail_policy_budget, 1);
    }

    #[test]
    fn fields_the_server_does_not_read_do_not_change_the_verdict() {
        // Every top-level field the server does not read is stuffed with
        // words the dictionaries hit; the verdict must be the sample's own.
        let engine = engine();
        let webhook = webhook(FailPolicy::Allow, Duration::from_secs(1));
        let samples: [&[u8]; 3] = [
            include_bytes!("../tests/data/samples/oa-before-send.request.json"),
            include_bytes!("../tests/data/samples/c2c-before-send.request.json"),
            include_bytes!("../tests/data/samples/group-before-send.request.json"),
        ];
        let noise = serde_json::json!({"Title": "red packet", "Desc": "darn", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "darn"}}]});
        for sample in samples {
            let request: Value = serde_json::from_slice(sample).unwrap_or_default();
            let mut stuffed = request.clone();
            let Value::Object(fields) = &mut stuffed else { panic!("sample is an object") };
            let names: Vec<String> = fields.keys().cloned().collect();
            for name in names {
                if !matches!(name.as_str(), "MsgBody" | "CloudCustomData" | "CallbackCommand") {
                    fields.insert(name, Value::String("red packet darn".into()));
                }
            }
            for extra in ["OfflinePushInfo", "MsgList", "Extra"] {
                fields.insert(extra.into(), noise.clone());
            }
            let answer = |body: &Value| {
                let bytes = serde_json::to_vec(body).unwrap_or_default();
                webhook
                    .handle(&engine, Some("SdkAppid=1400000001"), &bytes, SystemTime::now(), Instant::now())
                    .body
            };
            assert_eq!(answer(&stuffed), answer(&request), "{stuffed}");
            // The samples say "red packet": rejected for their own text.
            // (code 1 in groups: the list has no @group-code).
            let rejected = String::from_utf8_lossy(&answer(&stuffed)).into_owned();
            assert!(rejected.ends_with(r#","ErrorInfo":"no"}"#), "{rejected}");
        }
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
        // A lone surrogate reads as U+FFFD, and the rewrite writes it so.
        let answer = handle(r#"{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"darn \ud800"}}]}"#);
        assert!(answer.contains(r#""Text":"**** \ufffd""#), "{answer}");
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
        assert_eq!(err.map(|reply| routes::status(&reply)), Some(StatusCode::FORBIDDEN));
        let err = webhook.authorize(None, now).err();
        assert_eq!(err.map(|reply| routes::status(&reply)), Some(StatusCode::FORBIDDEN));
        assert_eq!(webhook.counters().values().unauthorized, 2);
    }
}
