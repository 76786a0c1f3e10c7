//! Serde helpers for durations in config files: whole milliseconds or human strings.
//!
//! Every steadfast config that a user may put in a file (retry policies, breakers, routes)
//! reads durations the same way: an integer is milliseconds, a string is a Go-style duration
//! (`"250ms"`, `"1.5s"`, `"2m"`, `"1h30m"`). Durations are written back as strings.
//!
//! ```
//! use std::time::Duration;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Config {
//!     #[serde(with = "steadfast_errors::serde_duration")]
//!     timeout: Duration,
//!     #[serde(default, with = "steadfast_errors::serde_duration::option")]
//!     deadline: Option<Duration>,
//! }
//!
//! let c: Config = serde_json::from_str(r#"{"timeout": "1.5s", "deadline": 30000}"#).unwrap();
//! assert_eq!(c.timeout, Duration::from_millis(1500));
//! assert_eq!(c.deadline, Some(Duration::from_secs(30)));
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Reads a duration: integer milliseconds or a duration string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// Writes a duration as a string such as `"1.5s"` or `"250ms"`.
pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*value))
}

/// Formats a duration the way [`serialize`] writes it.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if !nanos.is_multiple_of(1000) {
        format!("{nanos}ns")
    } else if !nanos.is_multiple_of(1_000_000) {
        format!("{}us", d.as_micros())
    } else if !nanos.is_multiple_of(1_000_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("milliseconds as an integer, or a duration string such as \"1.5s\"")
    }

    fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(ms))
    }

    fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Duration, E> {
        u64::try_from(ms)
            .map(Duration::from_millis)
            .map_err(|_| E::custom("a duration cannot be negative"))
    }

    fn visit_f64<E: de::Error>(self, ms: f64) -> Result<Duration, E> {
        if ms.is_finite() && ms >= 0.0 {
            Duration::try_from_secs_f64(ms / 1000.0).map_err(E::custom)
        } else {
            Err(E::custom("a duration must be finite and not negative"))
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
        parse(s)
            .ok_or_else(|| E::custom(format!("`{s}` is not a duration (try \"500ms\" or \"2s\")")))
    }
}

/// Parses a duration string without the one-hour cap that applies to retry hints.
fn parse(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let (secs, rest) = crate::hint::duration_secs_prefix(s)?;
    if !rest.is_empty() || !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Round to the nanosecond so that "1001ms" is exactly 1.001 s.
    let nanos = (secs * 1e9).round();
    if nanos < u64::MAX as f64 {
        Some(Duration::from_nanos(nanos as u64))
    } else {
        Duration::try_from_secs_f64(secs).ok()
    }
}

/// The same for `Option<Duration>` (`null` or absent with `#[serde(default)]` is `None`).
pub mod option {
    use super::*;

    /// Reads an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<Duration>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or a duration")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::deserialize(d).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }

    /// Writes an optional duration.
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&format(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct C {
        #[serde(with = "super")]
        d: Duration,
        #[serde(default, with = "super::option")]
        o: Option<Duration>,
    }

    #[test]
    fn reads_both_forms_and_refuses_nonsense() {
        let c: C = serde_json::from_str(r#"{"d":"1h30m","o":null}"#).unwrap();
        assert_eq!(
            c,
            C {
                d: Duration::from_secs(5400),
                o: None
            }
        );
        let c: C = serde_json::from_str(r#"{"d":250}"#).unwrap();
        assert_eq!(c.d, Duration::from_millis(250));
        for bad in [
            r#"{"d":-1}"#,
            r#"{"d":"soon"}"#,
            r#"{"d":""}"#,
            r#"{"d":"5"}"#,
            r#"{"d":true}"#,
        ] {
            assert!(serde_json::from_str::<C>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(ms in 0u64..10_000_000, us in 0u64..1000) {
            for d in [Duration::from_millis(ms), Duration::from_micros(ms * 1000 + us)] {
                let c = C { d, o: Some(d) };
                let json = serde_json::to_string(&c).unwrap();
                prop_assert_eq!(serde_json::from_str::<C>(&json).unwrap(), c);
            }
        }
    }
}
