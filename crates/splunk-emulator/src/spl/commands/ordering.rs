//! Blocking commands that reorder rows: `sort` and `tail`.

use std::cmp::Ordering;
use std::collections::VecDeque;

use super::Rows;
use crate::spl::Row;
use crate::spl::ast::{SortKey, SortMode};
use crate::spl::row::{as_number, get_text};

/// Splunk's `auto` order: numbers numerically and before strings, strings lexicographically.
fn compare_keys(left: &str, right: &str, mode: SortMode) -> Ordering {
    let numbers = (as_number(left), as_number(right));
    match (mode, numbers) {
        (SortMode::Lexicographic, _) => left.cmp(right),
        (_, (Some(a), Some(b))) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (SortMode::Auto, (Some(_), None)) => Ordering::Less,
        (SortMode::Auto, (None, Some(_))) => Ordering::Greater,
        // `num()` puts non-numbers after numbers, and orders them as strings among themselves.
        (SortMode::Numeric, (Some(_), None)) => Ordering::Less,
        (SortMode::Numeric, (None, Some(_))) => Ordering::Greater,
        (_, (None, None)) => left.cmp(right),
    }
}

/// [`SortMode::Auto`] ordering of two values, shared with `stats` and `top` group ordering.
pub(crate) fn compare_auto(left: &str, right: &str) -> Ordering {
    compare_keys(left, right, SortMode::Auto)
}

fn compare_rows(left: &Row, right: &Row, keys: &[SortKey]) -> Ordering {
    for key in keys {
        let ordering = match (get_text(left, &key.field), get_text(right, &key.field)) {
            (Some(a), Some(b)) => {
                let ordering = compare_keys(a, b, key.mode);
                if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
            // Rows without the field go last whichever the direction.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    Ordering::Equal
}

pub(crate) fn sort(rows: Rows, limit: Option<usize>, keys: Vec<SortKey>) -> Rows {
    let mut all: Vec<Row> = rows.collect();
    all.sort_by(|left, right| compare_rows(left, right, &keys));
    if let Some(limit) = limit {
        all.truncate(limit);
    }
    Box::new(all.into_iter())
}

/// The last `count` rows, last first (Splunk's `tail` reverses them).
pub(crate) fn tail(rows: Rows, count: u64) -> Rows {
    let capacity = usize::try_from(count).unwrap_or(usize::MAX);
    let mut last: VecDeque<Row> = VecDeque::with_capacity(capacity.min(10_000));
    if capacity > 0 {
        for row in rows {
            if last.len() == capacity {
                last.pop_front();
            }
            last.push_back(row);
        }
    }
    Box::new(last.into_iter().rev())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spl::Value;

    fn rows(values: &[&str]) -> Rows {
        let rows: Vec<Row> = values
            .iter()
            .map(|value| {
                if value.is_empty() {
                    Vec::new()
                } else {
                    vec![("v".to_string(), Value::Single(value.to_string()))]
                }
            })
            .collect();
        Box::new(rows.into_iter())
    }

    fn texts(rows: Rows) -> Vec<String> {
        rows.map(|row| get_text(&row, "v").unwrap_or("").to_string())
            .collect()
    }

    fn key(descending: bool, mode: SortMode) -> Vec<SortKey> {
        vec![SortKey {
            field: "v".into(),
            descending,
            mode,
        }]
    }

    #[test]
    fn sorts_like_splunk() {
        let input = ["10", "9", "b", "", "a", "100"];
        let cases: [(bool, SortMode, Option<usize>, &[&str]); 4] = [
            (
                false,
                SortMode::Auto,
                None,
                &["9", "10", "100", "a", "b", ""],
            ),
            (
                true,
                SortMode::Auto,
                None,
                &["b", "a", "100", "10", "9", ""],
            ),
            (
                false,
                SortMode::Lexicographic,
                None,
                &["10", "100", "9", "a", "b", ""],
            ),
            (false, SortMode::Auto, Some(2), &["9", "10"]),
        ];
        for (descending, mode, limit, expected) in cases {
            assert_eq!(
                texts(sort(rows(&input), limit, key(descending, mode))),
                expected,
                "{descending} {mode:?}"
            );
        }
    }

    #[test]
    fn tails_in_reverse() {
        assert_eq!(texts(tail(rows(&["1", "2", "3", "4"]), 2)), ["4", "3"]);
        assert_eq!(texts(tail(rows(&["1"]), 0)), Vec::<String>::new());
    }
}
