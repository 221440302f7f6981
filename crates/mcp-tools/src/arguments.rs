//! A tool call's arguments checked against the tool's input schema before the call runs, so
//! a person reads "missing argument `spl` (text)" rather than serde's "missing field `spl`".
//!
//! Only what the schemas of this crate use is read: `required`, and per property its `type`
//! (or a nullable `anyOf`/`type` list), `enum` or `oneOf` of `const`s (through a `$ref` to
//! `$defs`), `minimum` and `description`. Anything else is left to deserialization, whose error still applies.

use serde_json::{Map, Value};

/// The problems with `args` under `schema`, joined into one sentence; `Ok` when none is found.
pub(crate) fn check(schema: &Map<String, Value>, args: &Map<String, Value>) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let mut problems = Vec::new();
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if args.get(name).is_none_or(Value::is_null) {
            let property = properties.and_then(|p| p.get(name));
            let kind = property
                .and_then(|p| expected(schema, p))
                .map(|e| format!(" ({})", e.describe()))
                .unwrap_or_default();
            let about = property
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str)
                .map(|d| format!(": {}", first_sentence(d)))
                .unwrap_or_default();
            problems.push(format!("missing argument `{name}`{kind}{about}"));
        }
    }
    // By name, so the message does not depend on the order the client sent them in.
    let mut given: Vec<(&String, &Value)> = args.iter().collect();
    given.sort_by_key(|(name, _)| *name);
    for (name, value) in given {
        let Some(property) = properties.and_then(|p| p.get(name)) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let Some(expected) = expected(schema, property) else {
            continue;
        };
        if let Some(problem) = expected.problem_with(value) {
            problems.push(format!("argument `{name}` {problem}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What a property takes.
enum Expected {
    /// A JSON type, with a lower bound for numbers.
    Type { name: String, minimum: Option<f64> },
    /// One of these strings.
    OneOf(Vec<String>),
}

impl Expected {
    fn describe(&self) -> String {
        match self {
            Self::Type { name, .. } => type_words(name).to_owned(),
            Self::OneOf(values) => format!("one of: {}", values.join(", ")),
        }
    }

    fn problem_with(&self, value: &Value) -> Option<String> {
        match self {
            Self::OneOf(values) => {
                let fits = value
                    .as_str()
                    .is_some_and(|v| values.iter().any(|x| x == v));
                (!fits).then(|| {
                    format!(
                        "must be one of: {}; got {}",
                        values.join(", "),
                        value_words(value)
                    )
                })
            }
            Self::Type { name, minimum } => {
                let fits = match name.as_str() {
                    "string" => value.is_string(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    "array" => value.is_array(),
                    "object" => value.is_object(),
                    _ => true,
                };
                if !fits {
                    return Some(format!(
                        "must be {}; got {}",
                        type_words(name),
                        value_words(value)
                    ));
                }
                let below = minimum.zip(value.as_f64()).is_some_and(|(min, v)| v < min);
                below.then(|| format!("must be at least {}", minimum.unwrap_or_default()))
            }
        }
    }
}

/// What `property` takes, following one `$ref` into the schema's `$defs`; `None` when the
/// schema says something this reader does not know.
fn expected(schema: &Map<String, Value>, property: &Value) -> Option<Expected> {
    let property = resolve(schema, property)?;
    if let Some(values) = property.get("enum").and_then(Value::as_array) {
        let values: Option<Vec<String>> = values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect();
        return values.map(Expected::OneOf);
    }
    // Documented enum variants come as `oneOf: [{"const": "a", "description": ...}, ...]`.
    if let Some(list) = property.get("oneOf").and_then(Value::as_array) {
        let consts: Option<Vec<String>> = list
            .iter()
            .map(|v| {
                resolve(schema, v)
                    .and_then(|v| v.get("const"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        return consts.filter(|c| !c.is_empty()).map(Expected::OneOf);
    }
    // `Option<T>` comes as `"type": ["T", "null"]` or `anyOf: [T, {"type": "null"}]`.
    if let Some(any) = property.get("anyOf").and_then(Value::as_array) {
        let mut others = any
            .iter()
            .filter(|v| v.get("type") != Some(&Value::from("null")));
        let only = others.next()?;
        return if others.next().is_none() {
            expected(schema, only)
        } else {
            None
        };
    }
    let name = match property.get("type")? {
        Value::String(name) => name.clone(),
        Value::Array(names) => {
            let mut names = names
                .iter()
                .filter_map(Value::as_str)
                .filter(|n| *n != "null");
            let name = names.next()?.to_owned();
            if names.next().is_some() {
                return None;
            }
            name
        }
        _ => return None,
    };
    Some(Expected::Type {
        name,
        minimum: property.get("minimum").and_then(Value::as_f64),
    })
}

/// `value`, or what its `$ref` (`#/$defs/X` or `#/definitions/X`) points at.
fn resolve<'a>(schema: &'a Map<String, Value>, value: &'a Value) -> Option<&'a Value> {
    let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
        return Some(value);
    };
    let (table, name) = reference.strip_prefix("#/")?.split_once('/')?;
    schema.get(table)?.get(name)
}

fn type_words(name: &str) -> &str {
    match name {
        "string" => "text",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "an object",
        other => other,
    }
}

fn value_words(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "…" } else { "" };
            format!("the text \"{shown}{more}\"")
        }
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// The first sentence of a description, without its full stop: up to the first `. ` that
/// is followed by a capital (so `e.g. x` does not end it).
fn first_sentence(text: &str) -> &str {
    let end = text
        .match_indices(". ")
        .find(|(at, _)| {
            text[at + 2..]
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
        })
        .map_or(text.len(), |(at, _)| at);
    text[..end].trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn problems_are_told_in_plain_words() {
        let schema = object(json!({
            "type": "object",
            "required": ["spl", "type"],
            "properties": {
                "spl": {"type": "string", "description": "The SPL query, e.g. `x`. More words."},
                "max_results": {"type": ["integer", "null"], "format": "uint64", "minimum": 0},
                "include_internal": {"type": "boolean"},
                "type": {"$ref": "#/$defs/Kind"},
                "earliest": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "$defs": {"Kind": {"oneOf": [
                {"type": "string", "const": "hosts", "description": "Hosts."},
                {"type": "string", "const": "sources"},
            ]}},
        }));
        let cases = [
            (
                json!({}),
                Err(
                    "missing argument `spl` (text): The SPL query, e.g. `x`; missing argument `type` \
                     (one of: hosts, sources)",
                ),
            ),
            (
                json!({"spl": 5, "type": "hosts"}),
                Err("argument `spl` must be text; got the number 5"),
            ),
            (
                json!({"spl": "x", "type": "users", "max_results": "ten"}),
                Err(
                    "argument `max_results` must be a whole number; got the text \"ten\"; \
                     argument `type` must be one of: hosts, sources; got the text \"users\"",
                ),
            ),
            (
                json!({"spl": "x", "type": "hosts", "max_results": -1}),
                Err("argument `max_results` must be at least 0"),
            ),
            (
                json!({"spl": "x", "type": "hosts", "earliest": 3}),
                Err("argument `earliest` must be text; got the number 3"),
            ),
            (
                json!({"spl": "x", "type": "hosts", "max_results": null, "other": 1}),
                Ok(()),
            ),
        ];
        for (args, want) in cases {
            let got = check(&schema, &object(args.clone()));
            assert_eq!(got, want.map_err(str::to_owned), "{args}");
        }
    }
}
