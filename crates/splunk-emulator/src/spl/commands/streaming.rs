//! Streaming commands: each row in, at most one row out, in constant memory (except `dedup`,
//! which remembers the keys it has seen, as Splunk's does).

use std::collections::HashMap;

use super::Rows;
use crate::spl::ast::{Expr, RexExtraction, SearchExpr};
use crate::spl::eval::{EvalContext, evaluate};
use crate::spl::matching::{glob_match, matches};
use crate::spl::row::{self, values};
use crate::spl::{Row, Value};

pub(crate) fn head(rows: Rows, count: u64) -> Rows {
    Box::new(rows.take(usize::try_from(count).unwrap_or(usize::MAX)))
}

pub(crate) fn search(rows: Rows, expression: SearchExpr) -> Rows {
    Box::new(rows.filter(move |row| matches(&expression, row)))
}

pub(crate) fn where_command(rows: Rows, condition: Expr, context: EvalContext) -> Rows {
    Box::new(rows.filter(move |row| evaluate(&condition, row, context).is_true()))
}

pub(crate) fn eval(rows: Rows, assignments: Vec<(String, Expr)>, context: EvalContext) -> Rows {
    Box::new(rows.map(move |mut row| {
        // Later assignments see earlier ones, as in Splunk.
        for (target, expression) in &assignments {
            match evaluate(expression, &row, context).into_field() {
                Some(value) => row::set(&mut row, target, value),
                None => row::remove(&mut row, target),
            }
        }
        row
    }))
}

pub(crate) fn fields(rows: Rows, remove: bool, patterns: Vec<String>) -> Rows {
    let matches_any =
        move |name: &str, patterns: &[String]| patterns.iter().any(|p| glob_match(p, name, false));
    Box::new(rows.map(move |mut row| {
        if remove {
            row.retain(|(name, _)| !matches_any(name, &patterns));
        } else {
            // Internal fields (`_time`, `_raw`, ...) survive `fields` unless removed explicitly.
            row.retain(|(name, _)| name.starts_with('_') || matches_any(name, &patterns));
        }
        row
    }))
}

pub(crate) fn table(rows: Rows, patterns: Vec<String>) -> Rows {
    Box::new(rows.map(move |row| {
        let mut taken = vec![false; row.len()];
        let mut ordered: Row = Vec::with_capacity(patterns.len());
        for pattern in &patterns {
            for (position, (name, value)) in row.iter().enumerate() {
                if !taken[position] && glob_match(pattern, name, false) {
                    taken[position] = true;
                    ordered.push((name.clone(), value.clone()));
                }
            }
        }
        ordered
    }))
}

/// The new name of `name` under `from AS to`, where a `*` in `from` carries over into `to`.
fn renamed(name: &str, from: &str, to: &str) -> Option<String> {
    if !from.contains('*') {
        return (name == from).then(|| to.to_string());
    }
    if !glob_match(from, name, false) {
        return None;
    }
    let (prefix, suffix) = from.split_once('*').unwrap_or((from, ""));
    let suffix = suffix.trim_start_matches('*');
    let end = name.len().saturating_sub(suffix.len()).max(prefix.len());
    let captured = &name[prefix.len()..end];
    Some(to.replacen('*', captured, 1))
}

pub(crate) fn rename(rows: Rows, pairs: Vec<(String, String)>) -> Rows {
    Box::new(rows.map(move |mut row| {
        for (from, to) in &pairs {
            let renames: Vec<(usize, String)> = row
                .iter()
                .enumerate()
                .filter_map(|(position, (name, _))| {
                    renamed(name, from, to).map(|new| (position, new))
                })
                .collect();
            for (position, new_name) in &renames {
                row[*position].0 = new_name.clone();
            }
            // A renamed field replaces any field that already had the new name.
            let renamed_positions: Vec<usize> =
                renames.iter().map(|(position, _)| *position).collect();
            let mut position = 0;
            row.retain(|(name, _)| {
                let keep = renamed_positions.contains(&position)
                    || !renames.iter().any(|(_, new)| new == name);
                position += 1;
                keep
            });
        }
        row
    }))
}

/// `fillnull value=X f1 f2`: missing or empty fields get `value`.
pub(crate) fn fill_null(rows: Rows, value: String, fields: Vec<String>) -> Rows {
    Box::new(rows.map(move |mut row| {
        fill_row(&mut row, &value, &fields);
        row
    }))
}

pub(crate) fn fill_row(row: &mut Row, value: &str, fields: &[String]) {
    for field in fields {
        let empty = match row::get(row, field) {
            None => true,
            Some(Value::Single(text)) => text.is_empty(),
            Some(Value::Multi(items)) => items.is_empty(),
        };
        if empty {
            row::set(row, field, Value::Single(value.to_string()));
        }
    }
}

/// `rex`: named groups become fields, or `mode=sed` rewrites the field.
pub(crate) fn rex(rows: Rows, field: String, extraction: RexExtraction) -> Rows {
    Box::new(rows.map(move |mut row| {
        let Some(text) = row::get_text(&row, &field).map(str::to_string) else {
            return row;
        };
        match &extraction {
            RexExtraction::Sed {
                regex,
                replacement,
                global,
            } => {
                let rewritten = if *global {
                    regex.replace_all(&text, replacement.as_str())
                } else {
                    regex.replace(&text, replacement.as_str())
                };
                row::set(&mut row, &field, Value::Single(rewritten.into_owned()));
            }
            RexExtraction::Fields { regex, max_match } => {
                let limit = if *max_match == 0 {
                    usize::MAX
                } else {
                    *max_match
                };
                let names: Vec<&str> = regex.capture_names().flatten().collect();
                let mut found: Vec<Vec<String>> = vec![Vec::new(); names.len()];
                for captures in regex.captures_iter(&text).take(limit) {
                    for (position, name) in names.iter().enumerate() {
                        if let Some(matched) = captures.name(name) {
                            found[position].push(matched.as_str().to_string());
                        }
                    }
                }
                for (name, mut values) in names.into_iter().zip(found) {
                    match values.len() {
                        0 => {}
                        1 => row::set(&mut row, name, Value::Single(values.remove(0))),
                        _ => row::set(&mut row, name, Value::Multi(values)),
                    }
                }
            }
        }
        row
    }))
}

pub(crate) fn dedup(rows: Rows, keep: u64, fields: Vec<String>, keep_empty: bool) -> Rows {
    let mut seen: HashMap<Vec<String>, u64> = HashMap::new();
    Box::new(rows.filter(move |row| {
        let key: Option<Vec<String>> = fields
            .iter()
            .map(|field| row::get(row, field).map(|value| values(value).join("\n")))
            .collect();
        let Some(key) = key else { return keep_empty };
        let count = seen.entry(key).or_insert(0);
        *count += 1;
        *count <= keep
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), Value::Single(value.to_string())))
            .collect()
    }

    fn names(row: &Row) -> Vec<&str> {
        row.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn one(rows: Rows) -> Row {
        rows.into_iter().next().unwrap()
    }

    fn input() -> Rows {
        Box::new(
            vec![row(&[
                ("_time", "1"),
                ("a", "1"),
                ("b", "2"),
                ("src_ip", "x"),
                ("dest_ip", "y"),
            ])]
            .into_iter(),
        )
    }

    #[test]
    fn shapes_fields() {
        assert_eq!(
            names(&one(fields(input(), false, vec!["b".into()]))),
            ["_time", "b"]
        );
        assert_eq!(
            names(&one(fields(
                input(),
                true,
                vec!["*_ip".into(), "_time".into()]
            ))),
            ["a", "b"]
        );
        assert_eq!(
            names(&one(table(
                input(),
                vec!["b".into(), "*_ip".into(), "nope".into()]
            ))),
            ["b", "src_ip", "dest_ip"]
        );
        assert_eq!(
            names(&one(rename(
                input(),
                vec![("a".into(), "b".into()), ("*_ip".into(), "ip_*".into())]
            ))),
            ["_time", "b", "ip_src", "ip_dest"]
        );
    }

    #[test]
    fn dedups_by_key() {
        let rows = vec![
            row(&[("h", "x")]),
            row(&[("h", "y")]),
            row(&[("h", "x")]),
            row(&[("other", "1")]),
        ];
        let kept: Vec<Row> = dedup(
            Box::new(rows.clone().into_iter()),
            1,
            vec!["h".into()],
            false,
        )
        .collect();
        assert_eq!(kept.len(), 2);
        let kept: Vec<Row> = dedup(Box::new(rows.into_iter()), 2, vec!["h".into()], true).collect();
        assert_eq!(kept.len(), 4);
    }
}
