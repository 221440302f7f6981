//! Splunk's time modifiers (`now`, epoch, `-24h`, `-7d@d`, `@w1`, ISO 8601) resolved against an instant.
//!
//! Snapping happens in UTC: the emulator has no user time zone, and tests are easier to reason
//! about when `@d` is midnight UTC.

use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};

use super::SplError;

/// Parses a Splunk time modifier relative to `now`.
///
/// Accepts `now`, `0`, epoch seconds (integer or fractional), relative offsets with optional
/// snapping (`-24h`, `-7d@d`, `@d`, `-1h@h`, `+1h`, `-1d@d+8h`), ISO 8601 / RFC 3339 instants,
/// plain dates and Splunk's own `%m/%d/%Y:%H:%M:%S` format.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, SplError> {
    let bad = || SplError::BadTime(text.to_string());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower == "now" || lower == "now()" {
        return Ok(now);
    }
    if let Some(instant) = parse_epoch(trimmed) {
        return Ok(instant);
    }
    if let Some(instant) = parse_absolute(trimmed) {
        return Ok(instant);
    }
    if lower.starts_with(['+', '-', '@']) {
        return parse_relative(&lower, now).ok_or_else(bad);
    }
    Err(bad())
}

/// Epoch seconds, integer or fractional, never signed (a sign means a relative offset).
fn parse_epoch(text: &str) -> Option<DateTime<Utc>> {
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || !text.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let seconds: f64 = text.parse().ok()?;
    let millis = (seconds * 1000.0).round() as i64;
    Utc.timestamp_millis_opt(millis).single()
}

fn parse_absolute(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(instant) = DateTime::parse_from_str(text, format) {
            return Some(instant.with_timezone(&Utc));
        }
    }
    // Without an offset the instant is taken as UTC, the emulator's only time zone.
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%m/%d/%Y:%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    for format in ["%Y-%m-%d", "%m/%d/%Y"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

/// A calendar unit of a relative time modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

fn unit_from_name(name: &str) -> Option<TimeUnit> {
    Some(match name {
        "s" | "sec" | "secs" | "second" | "seconds" => TimeUnit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => TimeUnit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => TimeUnit::Hour,
        "d" | "day" | "days" => TimeUnit::Day,
        "w" | "week" | "weeks" => TimeUnit::Week,
        "mon" | "month" | "months" => TimeUnit::Month,
        "q" | "qtr" | "qtrs" | "quarter" | "quarters" => TimeUnit::Quarter,
        "y" | "yr" | "yrs" | "year" | "years" => TimeUnit::Year,
        _ => return None,
    })
}

/// `[+-]N unit ... [@snap] [+-]N unit ...`, e.g. `-7d@d`, `@w1`, `-1d@d+8h`.
fn parse_relative(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut instant = now;
    let mut rest = text;
    let mut snapped = false;
    while !rest.is_empty() {
        if let Some(after_at) = rest.strip_prefix('@') {
            if snapped {
                return None;
            }
            snapped = true;
            let end = after_at.find(['+', '-']).unwrap_or(after_at.len());
            instant = snap(instant, &after_at[..end])?;
            rest = &after_at[end..];
            continue;
        }
        let negative = match rest.as_bytes()[0] {
            b'-' => true,
            b'+' => false,
            _ => return None,
        };
        rest = &rest[1..];
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let amount: i64 = if digits_end == 0 {
            1
        } else {
            rest[..digits_end].parse().ok()?
        };
        rest = &rest[digits_end..];
        let unit_end = rest.find(['+', '-', '@']).unwrap_or(rest.len());
        let unit_name = &rest[..unit_end];
        rest = &rest[unit_end..];
        // A bare signed number is an offset in seconds.
        let unit = if unit_name.is_empty() {
            TimeUnit::Second
        } else {
            unit_from_name(unit_name)?
        };
        instant = shift(instant, if negative { -amount } else { amount }, unit)?;
    }
    Some(instant)
}

fn shift(instant: DateTime<Utc>, amount: i64, unit: TimeUnit) -> Option<DateTime<Utc>> {
    let months = |count: i64| -> Option<DateTime<Utc>> {
        let magnitude = Months::new(u32::try_from(count.unsigned_abs()).ok()?);
        if count < 0 {
            instant.checked_sub_months(magnitude)
        } else {
            instant.checked_add_months(magnitude)
        }
    };
    match unit {
        TimeUnit::Second => instant.checked_add_signed(Duration::try_seconds(amount)?),
        TimeUnit::Minute => instant.checked_add_signed(Duration::try_minutes(amount)?),
        TimeUnit::Hour => instant.checked_add_signed(Duration::try_hours(amount)?),
        TimeUnit::Day => instant.checked_add_signed(Duration::try_days(amount)?),
        TimeUnit::Week => instant.checked_add_signed(Duration::try_weeks(amount)?),
        TimeUnit::Month => months(amount),
        TimeUnit::Quarter => months(amount.checked_mul(3)?),
        TimeUnit::Year => months(amount.checked_mul(12)?),
    }
}

/// Rounds down to the start of the named unit (`d`, `h`, `w0`..`w6`, `mon`, `q`, `y`, ...).
fn snap(instant: DateTime<Utc>, unit_text: &str) -> Option<DateTime<Utc>> {
    let date = instant.date_naive();
    let midnight = |day: NaiveDate| Some(Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0)?));
    if let Some(weekday_text) = unit_text.strip_prefix('w').filter(|d| d.len() == 1) {
        // `@w0` is Sunday, `@w1` Monday...; snap back to the most recent such day.
        let target: i64 = weekday_text.parse::<u8>().ok().filter(|d| *d <= 7)?.into();
        let today = i64::from(date.weekday().num_days_from_sunday());
        let back = (today - target % 7).rem_euclid(7);
        return midnight(date - Duration::days(back));
    }
    match unit_from_name(unit_text)? {
        TimeUnit::Second => instant.with_nanosecond(0),
        TimeUnit::Minute => instant.with_nanosecond(0)?.with_second(0),
        TimeUnit::Hour => instant.with_nanosecond(0)?.with_second(0)?.with_minute(0),
        TimeUnit::Day => midnight(date),
        TimeUnit::Week => {
            midnight(date - Duration::days(i64::from(date.weekday().num_days_from_sunday())))
        }
        TimeUnit::Month => midnight(date.with_day(1)?),
        TimeUnit::Quarter => midnight(NaiveDate::from_ymd_opt(
            date.year(),
            (date.month0() / 3) * 3 + 1,
            1,
        )?),
        TimeUnit::Year => midnight(NaiveDate::from_ymd_opt(date.year(), 1, 1)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn resolves_modifiers() {
        // 2026-11-20 is a Friday.
        let now = at("2026-11-20T10:34:56.789Z");
        let cases = [
            ("now", "2026-11-20T10:34:56.789Z"),
            ("0", "1970-01-01T00:00:00Z"),
            ("1763632800", "2025-11-20T10:00:00Z"),
            ("1763632800.5", "2025-11-20T10:00:00.500Z"),
            ("-24h", "2026-11-19T10:34:56.789Z"),
            ("-7d@d", "2026-11-13T00:00:00Z"),
            ("@d", "2026-11-20T00:00:00Z"),
            ("-1h@h", "2026-11-20T09:00:00Z"),
            ("+1h", "2026-11-20T11:34:56.789Z"),
            ("-30m", "2026-11-20T10:04:56.789Z"),
            ("-30s", "2026-11-20T10:34:26.789Z"),
            ("-2secs", "2026-11-20T10:34:54.789Z"),
            ("-1min", "2026-11-20T10:33:56.789Z"),
            ("-2hrs", "2026-11-20T08:34:56.789Z"),
            ("-1day", "2026-11-19T10:34:56.789Z"),
            ("-1w", "2026-11-13T10:34:56.789Z"),
            ("-2weeks", "2026-11-06T10:34:56.789Z"),
            ("-1mon", "2026-10-20T10:34:56.789Z"),
            ("-1q", "2026-08-20T10:34:56.789Z"),
            ("-1y", "2025-11-20T10:34:56.789Z"),
            ("-d", "2026-11-19T10:34:56.789Z"),
            ("@w0", "2026-11-15T00:00:00Z"),
            ("@w1", "2026-11-16T00:00:00Z"),
            ("@w5", "2026-11-20T00:00:00Z"),
            ("@w6", "2026-11-14T00:00:00Z"),
            ("@w", "2026-11-15T00:00:00Z"),
            ("@mon", "2026-11-01T00:00:00Z"),
            ("@q", "2026-10-01T00:00:00Z"),
            ("@y", "2026-01-01T00:00:00Z"),
            ("-1d@d+8h", "2026-11-19T08:00:00Z"),
            ("@m", "2026-11-20T10:34:00Z"),
            ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
            ("2026-11-20T10:00:00.000+00:00", "2026-11-20T10:00:00Z"),
            ("2026-11-20T12:00:00+02:00", "2026-11-20T10:00:00Z"),
            ("2026-11-20T10:00:00", "2026-11-20T10:00:00Z"),
            ("2026-11-20", "2026-11-20T00:00:00Z"),
            ("2026-11-20T10:05", "2026-11-20T10:05:00Z"),
            ("11/20/2026:10:00:00", "2026-11-20T10:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text, now).unwrap(), at(expected), "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        let now = at("2026-11-20T10:34:56Z");
        for text in [
            "",
            "yesterday",
            "-5x",
            "@foo",
            "-1d@d@h",
            "2026-13-40",
            "12abc",
        ] {
            assert_eq!(
                parse_time(text, now),
                Err(SplError::BadTime(text.to_string())),
                "{text}"
            );
        }
    }
}
