//! Evaluating `eval`/`where` expressions against a row.
//!
//! Like Splunk, evaluation never fails at run time: a type mismatch or a missing field yields
//! null, which `eval` turns into "no field" and `where` into "no match".

use std::cmp::Ordering;

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use regex::Regex;

use super::ast::{BinaryOp, CompareOp, Expr};
use super::parser::convert_replacement;
use super::row::{self, as_number, format_number};
use super::{Row, Value};

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EvalValue {
    Null,
    Text(String),
    Number(f64),
    Bool(bool),
}

impl EvalValue {
    fn number(&self) -> Option<f64> {
        match self {
            EvalValue::Number(number) => Some(*number),
            EvalValue::Text(text) => as_number(text),
            _ => None,
        }
    }

    /// The value as Splunk would print it; null has no text.
    fn text(&self) -> Option<String> {
        match self {
            EvalValue::Null => None,
            EvalValue::Text(text) => Some(text.clone()),
            EvalValue::Number(number) => Some(format_number(*number)),
            EvalValue::Bool(flag) => Some(if *flag { "true" } else { "false" }.to_string()),
        }
    }

    /// Truthiness for `if`, `where` and boolean operators.
    pub(crate) fn is_true(&self) -> bool {
        match self {
            EvalValue::Bool(flag) => *flag,
            EvalValue::Number(number) => *number != 0.0,
            EvalValue::Text(text) => !text.is_empty(),
            EvalValue::Null => false,
        }
    }

    /// The row value `eval` stores, or `None` to remove the field.
    pub(crate) fn into_field(self) -> Option<Value> {
        self.text().map(Value::Single)
    }
}

/// Everything evaluation needs besides the row: the search's notion of "now".
#[derive(Debug, Clone, Copy)]
pub(crate) struct EvalContext {
    pub(crate) now: DateTime<Utc>,
}

/// Evaluates `expression` against `row`.
pub(crate) fn evaluate(expression: &Expr, row: &Row, context: EvalContext) -> EvalValue {
    match expression {
        Expr::Text(text) => EvalValue::Text(text.clone()),
        Expr::Number(number) => EvalValue::Number(*number),
        Expr::Field(name) => match row::get_text(row, name) {
            Some(text) => EvalValue::Text(text.to_string()),
            None => EvalValue::Null,
        },
        Expr::Negate(inner) => match evaluate(inner, row, context).number() {
            Some(number) => EvalValue::Number(-number),
            None => EvalValue::Null,
        },
        Expr::Not(inner) => match evaluate(inner, row, context) {
            EvalValue::Null => EvalValue::Null,
            value => EvalValue::Bool(!value.is_true()),
        },
        Expr::Binary(op, left, right) => binary(*op, left, right, row, context),
        Expr::Call(name, arguments) => call(name, arguments, row, context),
    }
}

fn binary(op: BinaryOp, left: &Expr, right: &Expr, row: &Row, context: EvalContext) -> EvalValue {
    let left_value = evaluate(left, row, context);
    // Short-circuit like Splunk, so `isnotnull(x) AND x>1` is safe.
    match op {
        BinaryOp::And if !left_value.is_true() => return EvalValue::Bool(false),
        BinaryOp::Or if left_value.is_true() => return EvalValue::Bool(true),
        _ => {}
    }
    let right_value = evaluate(right, row, context);
    let arithmetic =
        |apply: fn(f64, f64) -> Option<f64>| match (left_value.number(), right_value.number()) {
            (Some(a), Some(b)) => apply(a, b)
                .filter(|n| n.is_finite())
                .map_or(EvalValue::Null, EvalValue::Number),
            _ => EvalValue::Null,
        };
    match op {
        BinaryOp::Add => match (left_value.number(), right_value.number()) {
            (Some(a), Some(b)) => EvalValue::Number(a + b),
            // `+` on two strings concatenates them.
            _ => match (&left_value, &right_value) {
                (EvalValue::Text(a), EvalValue::Text(b)) => EvalValue::Text(format!("{a}{b}")),
                _ => EvalValue::Null,
            },
        },
        BinaryOp::Subtract => arithmetic(|a, b| Some(a - b)),
        BinaryOp::Multiply => arithmetic(|a, b| Some(a * b)),
        BinaryOp::Divide => arithmetic(|a, b| (b != 0.0).then(|| a / b)),
        BinaryOp::Modulo => arithmetic(|a, b| (b != 0.0).then(|| a % b)),
        BinaryOp::Concat => match (left_value.text(), right_value.text()) {
            (Some(a), Some(b)) => EvalValue::Text(a + &b),
            _ => EvalValue::Null,
        },
        BinaryOp::Compare(compare) => match compare_eval(&left_value, &right_value) {
            None => EvalValue::Null,
            Some(ordering) => EvalValue::Bool(match compare {
                CompareOp::Equal => ordering.is_eq(),
                CompareOp::NotEqual => ordering.is_ne(),
                CompareOp::Less => ordering.is_lt(),
                CompareOp::LessOrEqual => ordering.is_le(),
                CompareOp::Greater => ordering.is_gt(),
                CompareOp::GreaterOrEqual => ordering.is_ge(),
            }),
        },
        BinaryOp::Like => match (left_value.text(), right_value.text()) {
            (Some(text), Some(pattern)) => EvalValue::Bool(like(&text, &pattern)),
            _ => EvalValue::Null,
        },
        BinaryOp::And => EvalValue::Bool(right_value.is_true()),
        BinaryOp::Or => EvalValue::Bool(right_value.is_true()),
        BinaryOp::Xor => EvalValue::Bool(left_value.is_true() != right_value.is_true()),
    }
}

/// Numbers compare numerically, anything else as case-sensitive strings; null is incomparable.
fn compare_eval(left: &EvalValue, right: &EvalValue) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (left.number(), right.number()) {
        return a.partial_cmp(&b);
    }
    Some(left.text()?.cmp(&right.text()?))
}

/// SQL-style `LIKE`: `%` any run, `_` one character; case-sensitive like Splunk.
fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    let (mut t, mut p) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '%' {
            p += 1;
            backtrack = Some((p, t));
        } else if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if let Some((after, covered)) = backtrack {
            p = after;
            t = covered + 1;
            backtrack = Some((after, covered + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '%')
}

fn call(name: &str, arguments: &[Expr], row: &Row, context: EvalContext) -> EvalValue {
    let argument = |position: usize| {
        arguments
            .get(position)
            .map_or(EvalValue::Null, |e| evaluate(e, row, context))
    };
    let number = |position: usize| argument(position).number();
    let text = |position: usize| argument(position).text();
    let number_result = |value: Option<f64>| {
        value
            .filter(|n| n.is_finite())
            .map_or(EvalValue::Null, EvalValue::Number)
    };
    match name {
        "if" => {
            if argument(0).is_true() {
                argument(1)
            } else {
                argument(2)
            }
        }
        "case" => arguments
            .chunks(2)
            .find(|pair| pair.len() == 2 && evaluate(&pair[0], row, context).is_true())
            .map_or(EvalValue::Null, |pair| evaluate(&pair[1], row, context)),
        "coalesce" => arguments
            .iter()
            .map(|e| evaluate(e, row, context))
            .find(|value| *value != EvalValue::Null)
            .unwrap_or(EvalValue::Null),
        "len" => text(0).map_or(EvalValue::Null, |t| {
            EvalValue::Number(t.chars().count() as f64)
        }),
        "lower" => text(0).map_or(EvalValue::Null, |t| EvalValue::Text(t.to_lowercase())),
        "upper" => text(0).map_or(EvalValue::Null, |t| EvalValue::Text(t.to_uppercase())),
        "trim" => text(0).map_or(EvalValue::Null, |t| EvalValue::Text(t.trim().to_string())),
        "ltrim" => text(0).map_or(EvalValue::Null, |t| {
            EvalValue::Text(t.trim_start().to_string())
        }),
        "rtrim" => text(0).map_or(EvalValue::Null, |t| {
            EvalValue::Text(t.trim_end().to_string())
        }),
        "tostring" => match (argument(0), text(1).as_deref()) {
            (EvalValue::Number(n), Some("commas")) => EvalValue::Text(with_commas(n)),
            (EvalValue::Number(n), Some("hex")) => EvalValue::Text(format!("0x{:X}", n as i64)),
            (value, _) => value.text().map_or(EvalValue::Null, EvalValue::Text),
        },
        "tonumber" => {
            let base = number(1).map_or(10, |b| b as u32);
            match text(0) {
                Some(t) if base == 10 => number_result(as_number(&t)),
                Some(t) if (2..=36).contains(&base) => {
                    let digits = t.trim().trim_start_matches("0x").trim_start_matches("0X");
                    i64::from_str_radix(digits, base)
                        .map_or(EvalValue::Null, |n| EvalValue::Number(n as f64))
                }
                _ => EvalValue::Null,
            }
        }
        "round" => {
            let digits = number(1).unwrap_or(0.0).clamp(0.0, 15.0) as i32;
            let scale = 10f64.powi(digits);
            number_result(number(0).map(|n| (n * scale).round() / scale))
        }
        "abs" => number_result(number(0).map(f64::abs)),
        "ceil" | "ceiling" => number_result(number(0).map(f64::ceil)),
        "floor" => number_result(number(0).map(f64::floor)),
        "sqrt" => number_result(number(0).filter(|n| *n >= 0.0).map(f64::sqrt)),
        "pow" => number_result(
            number(0)
                .zip(number(1))
                .map(|(base, exponent)| base.powf(exponent)),
        ),
        "min" | "max" => {
            let values: Vec<EvalValue> = arguments
                .iter()
                .map(|e| evaluate(e, row, context))
                .collect();
            let best =
                values
                    .into_iter()
                    .filter(|v| *v != EvalValue::Null)
                    .reduce(|best, candidate| {
                        let ordering = compare_eval(&candidate, &best).unwrap_or(Ordering::Equal);
                        let better = if name == "min" {
                            ordering.is_lt()
                        } else {
                            ordering.is_gt()
                        };
                        if better { candidate } else { best }
                    });
            best.unwrap_or(EvalValue::Null)
        }
        "substr" => match (text(0), number(1)) {
            (Some(t), Some(start)) => {
                let characters: Vec<char> = t.chars().collect();
                // 1-based; a negative start counts from the end.
                let start = if start < 0.0 {
                    characters.len().saturating_sub(start.abs() as usize)
                } else {
                    (start as usize).saturating_sub(1)
                };
                let length = number(2).map_or(usize::MAX, |l| l.max(0.0) as usize);
                EvalValue::Text(characters.iter().skip(start).take(length).collect())
            }
            _ => EvalValue::Null,
        },
        "isnull" => EvalValue::Bool(argument(0) == EvalValue::Null),
        "isnotnull" => EvalValue::Bool(argument(0) != EvalValue::Null),
        "isnum" => EvalValue::Bool(argument(0).number().is_some()),
        "isstr" => {
            EvalValue::Bool(matches!(argument(0), EvalValue::Text(t) if as_number(&t).is_none()))
        }
        "typeof" => EvalValue::Text(
            match argument(0) {
                EvalValue::Null => "Invalid",
                EvalValue::Bool(_) => "Boolean",
                value if value.number().is_some() => "Number",
                _ => "String",
            }
            .to_string(),
        ),
        "like" => match (text(0), text(1)) {
            (Some(t), Some(pattern)) => EvalValue::Bool(like(&t, &pattern)),
            _ => EvalValue::Null,
        },
        "in" => {
            let needle = argument(0);
            let found = arguments.iter().skip(1).any(|candidate| {
                compare_eval(&needle, &evaluate(candidate, row, context)) == Some(Ordering::Equal)
            });
            EvalValue::Bool(needle != EvalValue::Null && found)
        }
        "null" => EvalValue::Null,
        "true" => EvalValue::Bool(true),
        "false" => EvalValue::Bool(false),
        "now" | "time" => EvalValue::Number(context.now.timestamp() as f64),
        "exact" => argument(0),
        "mvcount" => {
            let count = match arguments.first() {
                Some(Expr::Field(field)) => row::get(row, field).map(|v| row::values(v).len()),
                Some(other) => evaluate(other, row, context).text().map(|_| 1),
                None => None,
            };
            count.map_or(EvalValue::Null, |c| EvalValue::Number(c as f64))
        }
        "match" => match (text(0), text(1)) {
            (Some(subject), Some(pattern)) => {
                with_regex(&pattern, |regex| EvalValue::Bool(regex.is_match(&subject)))
            }
            _ => EvalValue::Null,
        },
        "replace" => match (text(0), text(1), text(2)) {
            (Some(subject), Some(pattern), Some(replacement)) => with_regex(&pattern, |regex| {
                let replacement = convert_replacement(&replacement);
                EvalValue::Text(
                    regex
                        .replace_all(&subject, replacement.as_str())
                        .into_owned(),
                )
            }),
            _ => EvalValue::Null,
        },
        "strftime" => match (number(0), text(1)) {
            (Some(epoch), Some(format)) => {
                strftime(epoch, &format).map_or(EvalValue::Null, EvalValue::Text)
            }
            _ => EvalValue::Null,
        },
        _ => EvalValue::Null,
    }
}

/// Compiles `pattern` once per thread: eval patterns are nearly always literals, and compiling
/// per row would dominate the search. An invalid pattern evaluates to null.
fn with_regex(pattern: &str, apply: impl FnOnce(&Regex) -> EvalValue) -> EvalValue {
    const CACHE_LIMIT: usize = 64;
    thread_local! {
        static CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_LIMIT && !cache.contains_key(pattern) {
            cache.clear();
        }
        let compiled = cache
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok());
        compiled.as_ref().map_or(EvalValue::Null, apply)
    })
}

fn with_commas(number: f64) -> String {
    let rounded = format_number((number * 100.0).round() / 100.0);
    let (integer, fraction) = rounded
        .split_once('.')
        .map_or((rounded.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = integer
        .strip_prefix('-')
        .map_or(("", integer), |d| ("-", d));
    let mut grouped = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Formats epoch seconds with a strftime pattern, refusing patterns chrono cannot render.
fn strftime(epoch: f64, format: &str) -> Option<String> {
    use std::fmt::Write;
    let instant = Utc
        .timestamp_millis_opt((epoch * 1000.0).round() as i64)
        .single()?;
    // Splunk's %3N (milliseconds) has a chrono equivalent.
    let format = format.replace("%3N", "%3f").replace("%6N", "%6f");
    let mut rendered = String::new();
    write!(rendered, "{}", instant.format(&format)).ok()?;
    Some(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spl::lexer::{Mode, tokenize};
    use crate::spl::parser::parse_pipeline;

    fn eval_text(expression: &str, row: &Row) -> Option<String> {
        let pipeline = parse_pipeline(&format!("search x | eval result={expression}")).unwrap();
        let crate::spl::ast::Command::Eval(assignments) = &pipeline.commands[1] else {
            panic!()
        };
        let context = EvalContext {
            now: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        };
        evaluate(&assignments[0].1, row, context).text()
    }

    #[test]
    fn evaluates_table_of_expressions() {
        let row: Row = vec![
            ("status".into(), Value::Single("404".into())),
            ("host".into(), Value::Single("Web-01".into())),
            ("bytes".into(), Value::Single("1536".into())),
        ];
        let cases: &[(&str, Option<&str>)] = &[
            ("1+2*3", Some("7")),
            ("(1+2)*3", Some("9")),
            ("7/2", Some("3.5")),
            ("7%4", Some("3")),
            ("-status", Some("-404")),
            ("status+1", Some("405")),
            ("\"a\".\"b\"", Some("ab")),
            ("host.\"/\".status", Some("Web-01/404")),
            ("\"a\"+\"b\"", Some("ab")),
            ("missing+1", None),
            ("1/0", None),
            ("status=404", Some("true")),
            ("status==\"404\"", Some("true")),
            ("status>1000", Some("false")),
            ("host=\"web-01\"", Some("false")),
            ("if(status>=400, \"error\", \"ok\")", Some("error")),
            (
                "case(status<300, \"ok\", status<500, \"client\", true(), \"server\")",
                Some("client"),
            ),
            ("len(host)", Some("6")),
            ("lower(host)", Some("web-01")),
            ("upper(host)", Some("WEB-01")),
            ("tostring(status)", Some("404")),
            ("tostring(1234567, \"commas\")", Some("1,234,567")),
            ("tonumber(\"42\")+1", Some("43")),
            ("tonumber(\"ff\", 16)", Some("255")),
            ("tonumber(\"abc\")", None),
            ("round(bytes/1024, 2)", Some("1.5")),
            ("round(2.5)", Some("3")),
            ("coalesce(missing, host)", Some("Web-01")),
            ("isnull(missing)", Some("true")),
            ("isnotnull(host)", Some("true")),
            ("like(host, \"Web-%\")", Some("true")),
            ("host LIKE \"web%\"", Some("false")),
            ("NOT status=404", Some("false")),
            ("status=404 AND host=\"Web-01\"", Some("true")),
            ("status=1 OR bytes>1000", Some("true")),
            ("substr(host, 1, 3)", Some("Web")),
            ("substr(host, -2)", Some("01")),
            ("max(1, 5, 3)", Some("5")),
            ("min(status, bytes)", Some("404")),
            ("in(status, 200, 404)", Some("true")),
            ("abs(-2)", Some("2")),
            ("now()", Some("1800000000")),
            ("strftime(0, \"%Y-%m-%d\")", Some("1970-01-01")),
            ("null()", None),
            ("'host'", Some("Web-01")),
            ("match(host, \"^Web-\\d+$\")", Some("true")),
            ("match(host, \"^db\")", Some("false")),
            (
                "replace(host, \"(\\w+)-(\\d+)\", \"\\2-\\1\")",
                Some("01-Web"),
            ),
        ];
        for (expression, expected) in cases {
            assert_eq!(
                eval_text(expression, &row).as_deref(),
                *expected,
                "{expression}"
            );
        }
    }

    #[test]
    fn like_patterns() {
        let cases = [
            ("abc", "a%", true),
            ("abc", "a_c", true),
            ("abc", "a_", false),
            ("abc", "%", true),
            ("", "%", true),
        ];
        for (text, pattern, expected) in cases {
            assert_eq!(like(text, pattern), expected, "{text} {pattern}");
        }
        assert!(tokenize("x", Mode::Expression).is_ok());
    }
}
