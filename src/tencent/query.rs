//! The query string of a callback: `SdkAppid`, `CallbackCommand`, `Sign`,
//! `RequestTime`, `ClientIP`, `OptPlatform` (and `contenttype`, accepted
//! with any value), percent-decoded only when they need it.

use std::borrow::Cow;

use crate::auth::Credentials;

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

    /// What [`crate::auth::Auth`] checks.
    pub fn credentials(&self) -> Credentials<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
