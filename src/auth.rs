//! Who may call the webhook: the `SdkAppid` check and Tencent's optional
//! `Sign` / `RequestTime` authentication.
//!
//! Tencent appends `Sign = sha256(Token ‖ RequestTime)` (lower-case hex, no
//! separator, no HMAC) and `RequestTime` (Unix seconds) to the callback URL
//! when webhook authentication is enabled in its console. The signature is
//! compared in constant time and the timestamp must lie within a window of
//! the server's clock (±60 s by default, the convention Tencent documents
//! for the same scheme in its RTC webhooks), which bounds replays.
//!
//! Everything here is pure: the clock is a parameter, so tests are exact.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lower-case hex `sha256(token + request_time)`, as Tencent computes `Sign`.
///
/// ```
/// assert_eq!(
///     wordgate::auth::sign("xxxxyyyy", "1669872112"),
///     "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
/// );
/// ```
pub fn sign(token: &str, request_time: &str) -> String {
    hex::encode(digest(token, request_time))
}

fn digest(token: &str, request_time: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(request_time.as_bytes());
    hasher.finalize().into()
}

/// The 32 bytes written as 64 lower-case hex digits, or `None`. Upper-case
/// digits are refused: Tencent sends lower case, and one spelling per
/// signature keeps the check simple to reason about.
fn decode_lower_hex(text: &str) -> Option<[u8; 32]> {
    // `hex` accepts either case; refuse upper case before it looks.
    if text.bytes().any(|digit| digit.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// The authentication settings of one server.
#[derive(Clone)]
pub struct Auth {
    sdkappids: Vec<u64>,
    token: Option<String>,
    window: Duration,
}

// By hand so the token never reaches a log line.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("sdkappids", &self.sdkappids)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("window", &self.window)
            .finish()
    }
}

/// The authentication parameters of one request, as found in its query
/// string (already percent-decoded).
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// `SdkAppid`.
    pub sdkappid: Option<&'a str>,
    /// `Sign`.
    pub sign: Option<&'a str>,
    /// `RequestTime`.
    pub request_time: Option<&'a str>,
}

/// Why a request was refused. `Display` is the message sent back in the
/// JSON error; it never echoes the expected signature or the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No `SdkAppid` parameter.
    MissingSdkAppid,
    /// An `SdkAppid` that is not one of the configured ids.
    UnknownSdkAppid(String),
    /// A token is configured but the request has no `Sign`.
    MissingSign,
    /// A token is configured but the request has no `RequestTime`.
    MissingRequestTime,
    /// `RequestTime` is not a whole number of seconds.
    BadRequestTime,
    /// `Sign` is not `sha256(token + RequestTime)`.
    BadSign,
    /// `RequestTime` is further from now than the window allows.
    Stale {
        /// `now - RequestTime`, in seconds (negative: from the future).
        skew: i128,
        /// The allowed window, in seconds.
        window: u64,
    },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingSdkAppid => f.write_str("SdkAppid: missing from the query string"),
            AuthError::UnknownSdkAppid(id) => {
                write!(f, "SdkAppid: {id:?} is not an app this server is configured for")
            }
            AuthError::MissingSign => f.write_str("Sign: missing (webhook authentication is enabled)"),
            AuthError::MissingRequestTime => {
                f.write_str("RequestTime: missing (webhook authentication is enabled)")
            }
            AuthError::BadRequestTime => f.write_str("RequestTime: must be Unix seconds"),
            AuthError::BadSign => f.write_str("Sign: does not match sha256(token + RequestTime)"),
            AuthError::Stale { skew, window } => write!(
                f,
                "RequestTime: {} s {} the server's clock, outside the allowed ±{window} s",
                skew.unsigned_abs(),
                if *skew >= 0 { "behind" } else { "ahead of" }
            ),
        }
    }
}

impl std::error::Error for AuthError {}

impl Auth {
    /// Settings for the given apps; `token` `None` (or empty) disables
    /// signature checks.
    pub fn new(sdkappids: Vec<u64>, token: Option<String>, window: Duration) -> Auth {
        Auth { sdkappids, token: token.filter(|token| !token.is_empty()), window }
    }

    /// Whether `Sign` / `RequestTime` are checked.
    pub fn signs(&self) -> bool {
        self.token.is_some()
    }

    /// Checks one request's credentials against these settings at `now`.
    pub fn check(&self, credentials: &Credentials<'_>, now: SystemTime) -> Result<(), AuthError> {
        let id = credentials.sdkappid.ok_or(AuthError::MissingSdkAppid)?;
        let known = id.parse::<u64>().is_ok_and(|id| self.sdkappids.contains(&id));
        if !known {
            // Echo at most a little of what was sent: it goes into a log and
            // a response, and it is attacker-controlled.
            let shown: String = id.chars().take(32).collect();
            return Err(AuthError::UnknownSdkAppid(shown));
        }
        let Some(token) = &self.token else { return Ok(()) };
        let given = credentials.sign.ok_or(AuthError::MissingSign)?;
        let request_time = credentials.request_time.ok_or(AuthError::MissingRequestTime)?;
        let seconds: i64 = request_time.parse().map_err(|_| AuthError::BadRequestTime)?;
        // Decoding looks only at what the caller sent; the comparison with
        // the secret-derived digest is constant-time.
        let given = decode_lower_hex(given).ok_or(AuthError::BadSign)?;
        if !bool::from(digest(token, request_time).ct_eq(&given)) {
            return Err(AuthError::BadSign);
        }
        let now = unix_seconds(now);
        let skew = i128::from(now) - i128::from(seconds);
        if skew.unsigned_abs() > u128::from(self.window.as_secs()) {
            return Err(AuthError::Stale { skew, window: self.window.as_secs() });
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch (negative before it).
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SIGN: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn auth() -> Auth {
        Auth::new(vec![1400000001, 1400000002], Some("xxxxyyyy".into()), Duration::from_secs(60))
    }

    fn creds<'a>(id: &'a str, sign: &'a str, time: &'a str) -> Credentials<'a> {
        Credentials { sdkappid: Some(id), sign: Some(sign), request_time: Some(time) }
    }

    #[test]
    fn documented_test_vector() {
        assert_eq!(sign("xxxxyyyy", "1669872112"), VECTOR_SIGN);
        // The older doc revision's `xxxyyy` is a typo: it does not give
        // the printed hash.
        assert_ne!(sign("xxxyyy", "1669872112"), VECTOR_SIGN);
        assert_eq!(auth().check(&creds("1400000002", VECTOR_SIGN, "1669872112"), at(1669872112)), Ok(()));
    }

    #[test]
    fn window_is_inclusive_both_ways() {
        let auth = auth();
        let good = creds("1400000001", VECTOR_SIGN, "1669872112");
        assert_eq!(auth.check(&good, at(1669872112 + 60)), Ok(()));
        assert_eq!(auth.check(&good, at(1669872112 - 60)), Ok(()));
        assert_eq!(auth.check(&good, at(1669872112 + 61)), Err(AuthError::Stale { skew: 61, window: 60 }));
        assert_eq!(auth.check(&good, at(1669872112 - 61)), Err(AuthError::Stale { skew: -61, window: 60 }));
    }

    #[test]
    fn refusals() {
        let auth = auth();
        let now = at(1669872112);
        let check = |c: Credentials<'_>| auth.check(&c, now);
        assert_eq!(check(Credentials::default()), Err(AuthError::MissingSdkAppid));
        assert_eq!(
            check(creds("1400000003", VECTOR_SIGN, "1669872112")),
            Err(AuthError::UnknownSdkAppid("1400000003".into()))
        );
        assert!(matches!(check(creds("abc", VECTOR_SIGN, "1669872112")), Err(AuthError::UnknownSdkAppid(_))));
        let upper = VECTOR_SIGN.to_uppercase();
        assert_eq!(check(creds("1400000001", &upper, "1669872112")), Err(AuthError::BadSign));
        assert_eq!(check(creds("1400000001", &VECTOR_SIGN[1..], "1669872112")), Err(AuthError::BadSign));
        assert_eq!(check(creds("1400000001", VECTOR_SIGN, "1669872113")), Err(AuthError::BadSign));
        assert_eq!(check(creds("1400000001", VECTOR_SIGN, "soon")), Err(AuthError::BadRequestTime));
        assert_eq!(
            check(Credentials { sdkappid: Some("1400000001"), sign: None, request_time: Some("1") }),
            Err(AuthError::MissingSign)
        );
        assert_eq!(
            check(Credentials { sdkappid: Some("1400000001"), sign: Some(VECTOR_SIGN), request_time: None }),
            Err(AuthError::MissingRequestTime)
        );
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_lower_hex(VECTOR_SIGN).map(hex::encode), Some(VECTOR_SIGN.to_string()));
        assert_eq!(decode_lower_hex(&VECTOR_SIGN.to_uppercase()), None);
        assert_eq!(decode_lower_hex(&format!("{}A", &VECTOR_SIGN[1..])), None);
        assert_eq!(decode_lower_hex(&VECTOR_SIGN[2..]), None);
        assert_eq!(decode_lower_hex(&format!("{}g", &VECTOR_SIGN[1..])), None);
        assert_eq!(decode_lower_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn extreme_request_times_do_not_overflow() {
        let auth = auth();
        for time in [i64::MAX.to_string(), i64::MIN.to_string()] {
            let sign = sign("xxxxyyyy", &time);
            let result = auth.check(&creds("1400000001", &sign, &time), at(0));
            assert!(matches!(result, Err(AuthError::Stale { .. })), "{result:?}");
        }
    }

    #[test]
    fn without_token_only_the_app_is_checked() {
        let auth = Auth::new(vec![7], Some(String::new()), Duration::from_secs(60));
        assert!(!auth.signs());
        let c = Credentials { sdkappid: Some("7"), sign: None, request_time: None };
        assert_eq!(auth.check(&c, at(0)), Ok(()));
    }

    #[test]
    fn debug_never_shows_the_token() {
        assert!(!format!("{:?}", auth()).contains("xxxxyyyy"));
    }
}
