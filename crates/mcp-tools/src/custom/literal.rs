//! A parameter's value as SPL: a double-quoted string literal or a checked number, never raw
//! text. This is where SPL injection is stopped, so it refuses what it cannot quote exactly.
//!
//! Inside double quotes Splunk reads `\\` as a backslash and `\"` as a quote, and nothing else
//! ends the string: `|`, `[`, `]` and `$` are plain characters there. Three things still
//! change a quoted value's meaning, so they are refused rather than passed on: a backtick
//! (macro expansion happens before parsing), `*` (a wildcard in the `search` command, unless the
//! parameter allows wildcards), and control or direction-changing characters (a newline, or a
//! bidi override that makes the audit log read differently from what ran).

use serde_json::Value;
use splunk_client::TimeModifier;

use super::{ParamKind, Parameter};

/// Characters a string value may have when its parameter sets no `max_length`.
pub(super) const DEFAULT_MAX_LENGTH: usize = 1024;

/// `value` as an SPL literal for `parameter`, or why it cannot be one (after "argument `x` ").
pub(super) fn render(parameter: &Parameter, value: &Value) -> Result<String, String> {
    match &parameter.kind {
        ParamKind::String => {
            let text = as_text(value, "text")?;
            check_text(text, parameter)?;
            if let Some(pattern) = &parameter.pattern
                && !pattern.is_match(text)
            {
                return Err(format!(
                    "must match the pattern {}; got {}",
                    parameter.pattern_source.as_deref().unwrap_or_default(),
                    shown(text)
                ));
            }
            Ok(quoted(text))
        }
        ParamKind::Enum(allowed) => {
            let text = as_text(value, "text")?;
            if !allowed.iter().any(|a| a == text) {
                return Err(format!(
                    "must be one of: {}; got {}",
                    allowed.join(", "),
                    shown(text)
                ));
            }
            Ok(quoted(text))
        }
        ParamKind::Time => {
            let text = as_text(value, "a Splunk time")?;
            TimeModifier::parse(text.trim()).map_err(|e| {
                format!(
                    "must be a Splunk time such as -24h, -7d@d, now or epoch seconds ({e}); got {}",
                    shown(text)
                )
            })?;
            Ok(quoted(text.trim()))
        }
        ParamKind::Integer => {
            // `3.0` is a whole number to most clients; past 2^53 a float is no longer exact.
            let whole = value.as_i64().or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            });
            let Some(whole) = whole else {
                return Err(format!("must be a whole number; got {}", words(value)));
            };
            check_bounds(parameter, whole as f64)?;
            Ok(whole.to_string())
        }
        ParamKind::Number => {
            let Some(number) = value.as_f64().filter(|f| f.is_finite()) else {
                return Err(format!("must be a number; got {}", words(value)));
            };
            check_bounds(parameter, number)?;
            Ok(format!("{number}"))
        }
        ParamKind::Boolean => match value {
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("must be true or false; got {}", words(other))),
        },
    }
}

/// `text` as a double-quoted SPL string.
pub(super) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn as_text<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("must be {what}; got {}", words(value)))
}

/// Refuses text a quoted literal would not carry exactly.
fn check_text(text: &str, parameter: &Parameter) -> Result<(), String> {
    let max = parameter.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
    let length = text.chars().count();
    if length > max {
        return Err(format!(
            "is {length} characters long; at most {max} are allowed"
        ));
    }
    if let Some(c) = text.chars().find(|c| is_unsafe_character(*c)) {
        return Err(format!(
            "contains the character U+{:04X}, which is not allowed (no control, line-breaking \
             or text-direction characters)",
            u32::from(c)
        ));
    }
    if text.contains('`') {
        return Err(
            "contains a backtick (`), which Splunk reads as a macro call; it is not allowed"
                .to_owned(),
        );
    }
    if !parameter.wildcards && text.contains('*') {
        return Err(
            "contains `*`, which Splunk reads as a wildcard; this parameter takes exact text"
                .to_owned(),
        );
    }
    Ok(())
}

/// Control characters, line and paragraph separators, and the Unicode bidi controls.
fn is_unsafe_character(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
        )
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn check_bounds(parameter: &Parameter, value: f64) -> Result<(), String> {
    if let Some(min) = parameter.min
        && value < min
    {
        return Err(format!("must be at least {min}; got {value}"));
    }
    if let Some(max) = parameter.max
        && value > max
    {
        return Err(format!("must be at most {max}; got {value}"));
    }
    Ok(())
}

/// A value in words for an error message, text cut short.
fn words(value: &Value) -> String {
    match value {
        Value::String(s) => shown(s),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "nothing".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Text as quoted in an error message: at most 40 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(40).flat_map(char::escape_debug).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    format!("\"{out}\"")
}
