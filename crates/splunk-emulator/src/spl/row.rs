//! Helpers over result rows, and the conversions between events, numbers and Splunk's strings.

use super::{Row, Value};
use crate::data::Event;

/// What `splunk_server` and `_si` name.
pub(crate) const SERVER_NAME: &str = "splunk-emulator";

/// The value of `name` in `row`.
pub(crate) fn get<'a>(row: &'a Row, name: &str) -> Option<&'a Value> {
    row.iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value)
}

/// The first (or only) value of `name` in `row`.
pub(crate) fn get_text<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    match get(row, name)? {
        Value::Single(text) => Some(text),
        Value::Multi(values) => values.first().map(String::as_str),
    }
}

/// Sets `name`, keeping its position when it already exists.
pub(crate) fn set(row: &mut Row, name: &str, value: Value) {
    match row.iter_mut().find(|(field, _)| field == name) {
        Some(slot) => slot.1 = value,
        None => row.push((name.to_string(), value)),
    }
}

/// Removes `name` if present.
pub(crate) fn remove(row: &mut Row, name: &str) {
    row.retain(|(field, _)| field != name);
}

/// Every value of a field, single or multi.
pub(crate) fn values(value: &Value) -> &[String] {
    match value {
        Value::Single(text) => std::slice::from_ref(text),
        Value::Multi(values) => values,
    }
}

/// Parses a string the way Splunk decides a value is numeric.
pub(crate) fn as_number(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    // Rust accepts "inf", "nan" and "1e5"; Splunk only treats plain decimals as numbers.
    let looks_numeric = !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && trimmed.bytes().any(|b| b.is_ascii_digit());
    if !looks_numeric {
        return None;
    }
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

/// Renders a number like Splunk: integers without a decimal point, others in shortest form.
pub(crate) fn format_number(number: f64) -> String {
    if number.is_finite() && number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}

/// `_time` inside the pipeline: epoch seconds with milliseconds, so it sorts and computes.
pub(crate) fn epoch_text(seconds: i64, millis: u16) -> String {
    format!("{seconds}.{millis:03}")
}

/// `_time` as Splunk's JSON output shows it: `2026-11-20T10:00:00.123+00:00`.
pub(crate) fn render_time(epoch: f64) -> Option<String> {
    let millis = (epoch * 1000.0).round();
    // chrono's range, so absurd numbers in `_time` stay as they are rather than wrapping.
    (millis.abs() < 8.0e15).then(|| crate::data::iso_millis(millis as i64, "+00:00"))
}

/// Replaces the internal epoch `_time` with its rendered form, as the last step of a search.
pub(crate) fn render_row_time(mut row: Row) -> Row {
    if let Some((_, Value::Single(text))) = row.iter_mut().find(|(field, _)| field == "_time")
        && let Some(rendered) = as_number(text).and_then(render_time)
    {
        *text = rendered;
    }
    row
}

/// An event as a result row: Splunk's internal fields, default fields, then extracted fields.
pub(crate) fn event_to_row(event: Event, serial: u64) -> Row {
    // Plausible bucket bookkeeping: one bucket per index per day, offsets from the event time.
    let bucket = event.time.div_euclid(86_400) % 1_000;
    let offset = (event.time.rem_euclid(86_400) * 1000 + i64::from(event.time_ms)) * 7;
    let index_time = event.time + 1 + i64::from(event.time_ms % 3);
    let mut row: Row = Vec::with_capacity(15 + event.fields.len());
    let single = |text: String| Value::Single(text);
    row.push((
        "_bkt".into(),
        single(format!(
            "{}~{bucket}~3C7E2B1A-5D4F-4E8A-9B6C-0D1E2F3A4B5C",
            event.index
        )),
    ));
    row.push(("_cd".into(), single(format!("{bucket}:{offset}"))));
    row.push(("_indextime".into(), single(index_time.to_string())));
    row.push(("_raw".into(), single(event.raw)));
    row.push(("_serial".into(), single(serial.to_string())));
    row.push((
        "_si".into(),
        Value::Multi(vec![SERVER_NAME.to_string(), event.index.to_string()]),
    ));
    row.push(("_sourcetype".into(), single(event.sourcetype.to_string())));
    row.push((
        "_time".into(),
        single(epoch_text(event.time, event.time_ms)),
    ));
    row.push(("host".into(), single(event.host.to_string())));
    row.push(("index".into(), single(event.index.to_string())));
    row.push(("linecount".into(), single("1".to_string())));
    row.push(("source".into(), single(event.source.to_string())));
    row.push(("sourcetype".into(), single(event.sourcetype.to_string())));
    row.push(("splunk_server".into(), single(SERVER_NAME.to_string())));
    for (name, value) in event.fields {
        row.push((name.to_string(), Value::Single(value)));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_like_splunk() {
        let cases = [
            (404.0, "404"),
            (-3.0, "-3"),
            (2.5, "2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (0.0, "0"),
        ];
        for (number, expected) in cases {
            assert_eq!(format_number(number), expected);
        }
    }

    #[test]
    fn recognises_numbers() {
        let cases = [
            ("404", Some(404.0)),
            (" 2.5 ", Some(2.5)),
            ("-1", Some(-1.0)),
            ("abc", None),
            ("inf", None),
            ("", None),
            ("-", None),
        ];
        for (text, expected) in cases {
            assert_eq!(as_number(text), expected, "{text}");
        }
    }

    #[test]
    fn renders_time() {
        assert_eq!(
            render_time(1_763_632_800.123).unwrap(),
            "2025-11-20T10:00:00.123+00:00"
        );
        let row = render_row_time(vec![(
            "_time".into(),
            Value::Single("1763632800.000".into()),
        )]);
        assert_eq!(
            row[0].1,
            Value::Single("2025-11-20T10:00:00.000+00:00".into())
        );
    }
}
