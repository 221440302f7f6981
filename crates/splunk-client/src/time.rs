//! Typed search time bounds (`earliest_time` / `latest_time`), validated before anything is sent.
//!
//! Splunk answers a malformed time modifier with a job that fails later or, worse, silently
//! searches all time; refusing it here gives the caller an immediate, precise error.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat};

use crate::error::{Error, Result};

/// One time bound of a search.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TimeModifier {
    /// `now`.
    Now,
    /// A relative modifier with optional snapping, e.g. `-24h`, `@d`, `-7d@d`, `-1d@d+8h`,
    /// `@w1`; kept as written (validated).
    Relative(String),
    /// Seconds since the Unix epoch (may be fractional).
    Epoch(f64),
    /// An absolute instant (RFC 3339 on input).
    Absolute(DateTime<FixedOffset>),
}

impl TimeModifier {
    /// Parses and validates a modifier in any of the accepted forms.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let invalid = |reason: &str| Error::invalid("time modifier", format!("{text:?}: {reason}"));
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        if text.eq_ignore_ascii_case("now") {
            return Ok(Self::Now);
        }
        if text.starts_with(|c: char| c.is_ascii_digit())
            && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            let seconds: f64 = text
                .parse()
                .map_err(|_| invalid("not a valid epoch time"))?;
            return Self::epoch(seconds);
        }
        if text.starts_with(['+', '-', '@']) {
            validate_relative(text).map_err(|reason| invalid(&reason))?;
            return Ok(Self::Relative(text.to_owned()));
        }
        DateTime::parse_from_rfc3339(text)
            .map(Self::Absolute)
            .map_err(|_| {
                invalid("expected now, epoch seconds, a relative modifier like -24h or @d, or an RFC 3339 time")
            })
    }

    /// An epoch time; negative or non-finite values are refused.
    pub fn epoch(seconds: f64) -> Result<Self> {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(Error::invalid(
                "time modifier",
                format!("{seconds} is not a valid epoch time"),
            ));
        }
        Ok(Self::Epoch(seconds))
    }

    /// The instant of an absolute modifier, in epoch seconds; `None` for relative ones.
    pub fn as_epoch(&self) -> Option<f64> {
        match self {
            Self::Epoch(seconds) => Some(*seconds),
            Self::Absolute(instant) => Some(
                instant.timestamp() as f64 + f64::from(instant.timestamp_subsec_micros()) / 1e6,
            ),
            Self::Now | Self::Relative(_) => None,
        }
    }

    /// The value sent to Splunk. Absolute times go as RFC 3339 with their offset, which
    /// Splunk's default `time_format` (`%FT%T.%Q%:z`) reads.
    pub fn to_param(&self) -> String {
        match self {
            Self::Now => "now".to_owned(),
            Self::Relative(text) => text.clone(),
            Self::Epoch(seconds) if seconds.fract() == 0.0 => format!("{}", *seconds as u64),
            Self::Epoch(seconds) => format!("{seconds:.3}"),
            Self::Absolute(instant) => instant.to_rfc3339_opts(SecondsFormat::Millis, false),
        }
    }
}

impl FromStr for TimeModifier {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl fmt::Display for TimeModifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_param())
    }
}

/// The time window of a search: either bound may be open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeRange {
    /// `earliest_time`; `None` leaves Splunk's default (all time for the REST API).
    pub earliest: Option<TimeModifier>,
    /// `latest_time`; `None` means now.
    pub latest: Option<TimeModifier>,
}

impl TimeRange {
    /// A range from two modifiers, checked for order when both are absolute.
    pub fn new(earliest: Option<TimeModifier>, latest: Option<TimeModifier>) -> Result<Self> {
        if let (Some(from), Some(to)) = (
            earliest.as_ref().and_then(TimeModifier::as_epoch),
            latest.as_ref().and_then(TimeModifier::as_epoch),
        ) && from > to
        {
            return Err(Error::invalid(
                "time range",
                "earliest time is after latest time",
            ));
        }
        Ok(Self { earliest, latest })
    }

    /// Parses both bounds from text (empty text means an open bound).
    pub fn parse(earliest: &str, latest: &str) -> Result<Self> {
        let parse_opt = |text: &str| {
            let text = text.trim();
            (!text.is_empty())
                .then(|| TimeModifier::parse(text))
                .transpose()
        };
        Self::new(parse_opt(earliest)?, parse_opt(latest)?)
    }

    /// From `earliest` (e.g. `-24h`) to now.
    pub fn since(earliest: &str) -> Result<Self> {
        Self::new(Some(TimeModifier::parse(earliest)?), None)
    }

    /// All time.
    pub fn all_time() -> Self {
        Self::default()
    }
}

/// Checks `[+-][N]unit ... [@snap[+-N unit ...]]`, Splunk's relative time grammar.
fn validate_relative(text: &str) -> std::result::Result<(), String> {
    let (offsets, snap) = match text.split_once('@') {
        Some((offsets, snap)) => (offsets, Some(snap)),
        None => (text, None),
    };
    validate_offsets(offsets)?;
    if let Some(snap) = snap {
        let unit_end = snap.find(['+', '-']).unwrap_or(snap.len());
        let (unit, rest) = snap.split_at(unit_end);
        let is_weekday = unit.len() == 2
            && unit.starts_with('w')
            && unit.as_bytes()[1].is_ascii_digit()
            && unit.as_bytes()[1] <= b'7';
        if !is_weekday && !is_unit(unit) {
            return Err(format!("unknown snap unit {unit:?}"));
        }
        validate_offsets(rest)?;
    } else if offsets.is_empty() {
        return Err("empty relative modifier".to_owned());
    }
    Ok(())
}

fn validate_offsets(mut text: &str) -> std::result::Result<(), String> {
    while !text.is_empty() {
        let Some(rest) = text.strip_prefix(['+', '-']) else {
            return Err(format!("expected + or - before {text:?}"));
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &rest[digits..];
        let unit_len = rest.find(['+', '-']).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if !is_unit(unit) {
            return Err(format!("unknown time unit {unit:?}"));
        }
        text = &rest[unit_len..];
    }
    Ok(())
}

fn is_unit(unit: &str) -> bool {
    matches!(
        unit.to_ascii_lowercase().as_str(),
        "s" | "sec"
            | "secs"
            | "second"
            | "seconds"
            | "m"
            | "min"
            | "mins"
            | "minute"
            | "minutes"
            | "h"
            | "hr"
            | "hrs"
            | "hour"
            | "hours"
            | "d"
            | "day"
            | "days"
            | "w"
            | "week"
            | "weeks"
            | "mon"
            | "month"
            | "months"
            | "q"
            | "qtr"
            | "qtrs"
            | "quarter"
            | "quarters"
            | "y"
            | "yr"
            | "yrs"
            | "year"
            | "years"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_splunk_forms() {
        let cases: &[(&str, &str)] = &[
            ("now", "now"),
            ("NOW", "now"),
            ("-24h", "-24h"),
            ("@d", "@d"),
            ("-7d@d", "-7d@d"),
            ("-1d@d+8h", "-1d@d+8h"),
            ("@w1", "@w1"),
            ("+1h", "+1h"),
            ("-h", "-h"),
            ("-30minutes", "-30minutes"),
            ("-1mon@mon", "-1mon@mon"),
            ("-2q@q", "-2q@q"),
            ("0", "0"),
            ("1700000000", "1700000000"),
            ("1700000000.5", "1700000000.500"),
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000+00:00"),
            (
                "2026-01-02T03:04:05.250+02:00",
                "2026-01-02T03:04:05.250+02:00",
            ),
        ];
        for (input, sent) in cases {
            let modifier = TimeModifier::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(modifier.to_param(), *sent, "{input}");
        }
    }

    #[test]
    fn refuses_malformed_modifiers() {
        for input in [
            "",
            "   ",
            "yesterday",
            "-24",
            "-24x",
            "24h",
            "@",
            "@x",
            "@w9",
            "-1d@",
            "1.2.3",
            "-1d; | delete",
            "2026-13-01T00:00:00Z",
            "-",
            "rt-5m",
            "+-1h",
            "-1h@d*",
        ] {
            let error = TimeModifier::parse(input).expect_err(input);
            assert!(matches!(error, Error::InvalidArgument { .. }), "{input}");
        }
        assert!(TimeModifier::epoch(-1.0).is_err());
        assert!(TimeModifier::epoch(f64::NAN).is_err());
    }

    #[test]
    fn ranges_are_checked_for_order() {
        assert!(TimeRange::parse("-24h", "now").is_ok());
        assert!(TimeRange::parse("", "").unwrap() == TimeRange::all_time());
        assert!(TimeRange::parse("1700000000", "2023-11-14T22:13:21Z").is_ok());
        let error = TimeRange::parse("1700000001", "1700000000").unwrap_err();
        assert!(matches!(
            error,
            Error::InvalidArgument {
                what: "time range",
                ..
            }
        ));
        assert!(TimeRange::parse("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z").is_err());
        assert!(TimeRange::since("-15m").unwrap().latest.is_none());
    }
}
