//! Retry hints: how long the provider asked us to wait, from headers and bodies.
//!
//! Sources, in the order [`classify`](crate::classify) prefers them:
//! 1. `retry-after-ms` (milliseconds, fractions allowed — OpenAI, Anthropic);
//! 2. `retry-after` (seconds, fractions allowed, or an HTTP-date);
//! 3. a hint in the body: Gemini's `RetryInfo.retryDelay` ("17s"), OpenAI's
//!    "Please try again in 41.724s." when no header came with it;
//! 4. for a 429 only, the provider's rate-limit reset headers for the limit that is exhausted
//!    (`x-ratelimit-reset-requests: 6m0s`, `anthropic-ratelimit-requests-reset: <RFC 3339>`,
//!    `ratelimit-reset: 30`).
//!
//! Every hint is clamped to `0..=`[`MAX_RETRY_HINT`]: a server cannot make us wait a day by
//! accident, and arithmetic on a hint can never overflow. Whether a long hint is worth
//! waiting for is the retry policy's decision, not the classifier's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// The longest retry hint that is ever reported: one hour.
pub const MAX_RETRY_HINT: Duration = Duration::from_secs(3600);

/// What the response headers say about retrying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderHints {
    /// From `retry-after-ms` or `retry-after`.
    pub retry_after: Option<Duration>,
    /// From the provider's rate-limit reset headers, for the limit that is exhausted.
    pub rate_limit_reset: Option<Duration>,
    /// From `x-should-retry: true|false`, which overrides the kind's retry rule.
    pub should_retry: Option<bool>,
}

impl HeaderHints {
    /// Reads the retry headers, measuring HTTP-dates and reset times against `now`.
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> HeaderHints {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = get("retry-after-ms")
            .and_then(parse_retry_after_ms)
            .or_else(|| get("retry-after").and_then(|v| parse_retry_after(v, now)));
        let should_retry = get("x-should-retry").and_then(|v| match v.trim() {
            v if v.eq_ignore_ascii_case("true") => Some(true),
            v if v.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        });
        HeaderHints {
            retry_after,
            rate_limit_reset: rate_limit_reset(&get, now),
            should_retry,
        }
    }
}

/// Parses a `retry-after` value: delay-seconds (fractions allowed) or an HTTP-date.
///
/// A date in the past gives zero; a negative or malformed number gives `None`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use steadfast_errors::hint::parse_retry_after;
///
/// let now = SystemTime::now();
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("1.5", now), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
        return seconds(value.parse::<f64>().ok()?);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(cap(at.duration_since(now).unwrap_or(Duration::ZERO)))
}

/// Parses a `retry-after-ms` value (milliseconds, fractions allowed).
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    seconds(value.trim().parse::<f64>().ok()? / 1000.0)
}

pub(crate) fn seconds(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Round to the nearest nanosecond first so that "1.001" is 1001 ms, not 1000.999999 ms.
    let nanos = (secs * 1e9).round();
    if nanos >= MAX_RETRY_HINT.as_nanos() as f64 {
        return Some(MAX_RETRY_HINT);
    }
    Some(Duration::from_nanos(nanos as u64))
}

/// Clamps a hint to [`MAX_RETRY_HINT`].
pub fn cap(d: Duration) -> Duration {
    d.min(MAX_RETRY_HINT)
}

/// Parses a Go-style or protobuf-JSON duration: `"17s"`, `"1.500s"`, `"6m0s"`, `"12ms"`,
/// `"1h2m3.5s"`, `"250us"`. The whole string must be a duration.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::hint::parse_duration;
///
/// assert_eq!(parse_duration("6m0s"), Some(Duration::from_secs(360)));
/// assert_eq!(parse_duration("41.724s"), Some(Duration::from_millis(41_724)));
/// assert_eq!(parse_duration("12ms"), Some(Duration::from_millis(12)));
/// assert_eq!(parse_duration("12"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    match duration_prefix(s.trim()) {
        Some((d, "")) => Some(d),
        _ => None,
    }
}

/// Parses the longest duration at the start of `s`, returning it and the rest.
fn duration_prefix(s: &str) -> Option<(Duration, &str)> {
    let (secs, rest) = duration_secs_prefix(s)?;
    Some((seconds(secs)?, rest))
}

/// Scans the longest Go-style duration at the start of `s` (`1h2m3.5s`, `250ms`, `12us`),
/// returning it in seconds, uncapped, and the rest of `s`. Shared with
/// [`serde_duration`](crate::serde_duration), which must not cap config durations.
pub(crate) fn duration_secs_prefix(s: &str) -> Option<(f64, &str)> {
    let mut total = 0f64;
    let mut rest = s;
    let mut parsed_any = false;
    loop {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            break;
        }
        let Ok(n) = rest[..num_len].parse::<f64>() else {
            break;
        };
        let after = &rest[num_len..];
        let (unit, scale) = [
            ("ms", 1e-3),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ns", 1e-9),
            ("h", 3600.0),
            ("m", 60.0),
            ("s", 1.0),
        ]
        .into_iter()
        .find(|(u, _)| after.starts_with(u))?;
        total += n * scale;
        rest = &after[unit.len()..];
        parsed_any = true;
    }
    parsed_any.then_some((total, rest))
}

/// Finds OpenAI's "try again in 41.724s" (also "in 20ms", "in 1m30s") in a message.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::hint::try_again_in;
///
/// let msg = "Rate limit reached for gpt-4 on tokens per min. Please try again in 41.724s. Visit…";
/// assert_eq!(try_again_in(msg), Some(Duration::from_millis(41_724)));
/// ```
pub fn try_again_in(message: &str) -> Option<Duration> {
    const NEEDLE: &str = "try again in ";
    let lower = message.to_ascii_lowercase();
    let at = lower.find(NEEDLE)? + NEEDLE.len();
    let (d, _) = duration_prefix(&message[at..])?;
    Some(d)
}

/// Reads the rate-limit reset headers of the limit that is exhausted.
fn rate_limit_reset<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    now: SystemTime,
) -> Option<Duration> {
    let exhausted = |remaining: &str| get(remaining).is_some_and(|v| v.trim() == "0");
    let mut best: Option<Duration> = None;
    let mut consider = |d: Option<Duration>| {
        if let Some(d) = d {
            best = Some(best.map_or(d, |b| b.max(d)));
        }
    };
    // OpenAI, DeepSeek, xAI, OpenRouter: Go-style durations.
    for limit in ["requests", "tokens"] {
        if exhausted(&format!("x-ratelimit-remaining-{limit}")) {
            consider(get(&format!("x-ratelimit-reset-{limit}")).and_then(reset_value_relative));
        }
    }
    // Anthropic: RFC 3339 instants.
    for limit in ["requests", "tokens", "input-tokens", "output-tokens"] {
        if exhausted(&format!("anthropic-ratelimit-{limit}-remaining")) {
            consider(
                get(&format!("anthropic-ratelimit-{limit}-reset"))
                    .and_then(parse_rfc3339)
                    // A reset already past says nothing about waiting: no hint.
                    .and_then(|at| at.duration_since(now).ok())
                    .map(cap),
            );
        }
    }
    // IETF draft (Pollinations): `ratelimit-reset: 30`, or `ratelimit: limit=100, remaining=0, reset=30`.
    if let Some(reset) = get("ratelimit-reset")
        && get("ratelimit-remaining").is_none_or(|v| v.trim() == "0")
    {
        consider(reset_value_relative(reset));
    }
    if let Some(structured) = get("ratelimit") {
        let param = |name: &str| {
            structured.split([',', ';']).find_map(|part| {
                let (k, v) = part.split_once('=')?;
                (k.trim() == name).then(|| v.trim())
            })
        };
        if param("remaining").is_none_or(|r| r == "0") {
            consider(
                param("reset")
                    .or_else(|| param("t"))
                    .and_then(reset_value_relative),
            );
        }
    }
    best
}

/// A relative reset value: plain seconds or a Go-style duration.
fn reset_value_relative(v: &str) -> Option<Duration> {
    let v = v.trim();
    v.parse::<f64>()
        .ok()
        .and_then(seconds)
        .or_else(|| parse_duration(v))
}

/// Parses an RFC 3339 timestamp such as `2024-10-03T12:34:56Z` or with an offset and
/// fractional seconds. Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if digits == 0 {
            return None;
        }
        let mut scaled: String = frac[..digits].chars().take(9).collect();
        while scaled.len() < 9 {
            scaled.push('0');
        }
        nanos = scaled.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let now = SystemTime::now();
        let h = headers(&[("retry-after", "3"), ("retry-after-ms", "1500.7")]);
        let hints = HeaderHints::from_headers(&h, now);
        assert_eq!(hints.retry_after.unwrap().as_millis(), 1500);
    }

    #[test]
    fn http_date_is_measured_from_now() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 2015-10-21T07:27:50Z
        let h = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(
            HeaderHints::from_headers(&h, now).retry_after,
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn absurd_hints_are_capped_or_refused() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("99999999999", now), Some(MAX_RETRY_HINT));
        assert_eq!(parse_retry_after("1e400", now), None); // infinite
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after_ms("inf"), None);
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_HINT)
        );
    }

    #[test]
    fn x_should_retry_is_read_both_ways() {
        let now = SystemTime::now();
        let yes = HeaderHints::from_headers(&headers(&[("x-should-retry", "true")]), now);
        let no = HeaderHints::from_headers(&headers(&[("x-should-retry", "FALSE")]), now);
        let junk = HeaderHints::from_headers(&headers(&[("x-should-retry", "maybe")]), now);
        assert_eq!(
            (yes.should_retry, no.should_retry, junk.should_retry),
            (Some(true), Some(false), None)
        );
    }

    #[test]
    fn reset_headers_count_only_for_the_exhausted_limit() {
        let now = SystemTime::now();
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-remaining-tokens", "1200"),
            ("x-ratelimit-reset-tokens", "12ms"),
        ]);
        assert_eq!(
            HeaderHints::from_headers(&h, now).rate_limit_reset,
            Some(Duration::from_secs(360))
        );
        let none = headers(&[("x-ratelimit-reset-requests", "6m0s")]);
        assert_eq!(HeaderHints::from_headers(&none, now).rate_limit_reset, None);
    }

    #[test]
    fn anthropic_and_ietf_reset_headers() {
        let now = parse_rfc3339("2025-03-01T12:00:00Z").unwrap();
        let h = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            (
                "anthropic-ratelimit-requests-reset",
                "2025-03-01T12:00:07.5Z",
            ),
        ]);
        assert_eq!(
            HeaderHints::from_headers(&h, now).rate_limit_reset,
            Some(Duration::from_millis(7500))
        );
        let ietf = headers(&[("ratelimit", "limit=100, remaining=0, reset=30")]);
        assert_eq!(
            HeaderHints::from_headers(&ietf, now).rate_limit_reset,
            Some(Duration::from_secs(30))
        );
        let draft = headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "12")]);
        assert_eq!(
            HeaderHints::from_headers(&draft, now).rate_limit_reset,
            Some(Duration::from_secs(12))
        );
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        let t = |s| parse_rfc3339(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(t("2024-10-03T12:34:56+02:00"), Some(1_727_951_696));
        assert_eq!(t("2024-13-03T12:34:56Z"), None);
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("2024-10-03T12:34:56"), None);
    }

    #[test]
    fn try_again_in_reads_openai_messages() {
        assert_eq!(
            try_again_in("Please try again in 20ms."),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            try_again_in("Please try again in 1m30s."),
            Some(Duration::from_secs(90))
        );
        assert_eq!(try_again_in("Please try again later."), None);
    }

    proptest! {
        #[test]
        fn seconds_round_trip(ms in 0u64..3_600_000) {
            let text = format!("{}.{:03}", ms / 1000, ms % 1000);
            let d = parse_retry_after(&text, SystemTime::now()).unwrap();
            prop_assert_eq!(d.as_millis() as u64, ms);
            let d = parse_retry_after_ms(&ms.to_string()).unwrap();
            prop_assert_eq!(d.as_millis() as u64, ms);
        }

        #[test]
        fn http_dates_round_trip(secs in 0u64..3600, base in 0u64..4_000_000_000) {
            let now = UNIX_EPOCH + Duration::from_secs(base);
            let text = httpdate::fmt_http_date(now + Duration::from_secs(secs));
            prop_assert_eq!(parse_retry_after(&text, now), Some(Duration::from_secs(secs)));
        }

        #[test]
        fn hints_are_never_above_the_cap(s in "\\PC{0,40}") {
            let now = SystemTime::now();
            for d in [parse_retry_after(&s, now), parse_retry_after_ms(&s), parse_duration(&s), try_again_in(&s)]
                .into_iter()
                .flatten()
            {
                prop_assert!(d <= MAX_RETRY_HINT);
            }
            let _ = parse_rfc3339(&s);
        }

        #[test]
        fn go_durations_round_trip(h in 0u64..1, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
            let text = format!("{h}h{m}m{s}.{ms:03}s");
            let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
            prop_assert_eq!(parse_duration(&text).unwrap().as_millis(), want.as_millis());
        }
    }
}
