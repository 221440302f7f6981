//! `top` and `rare`: the most (or least) common values of fields, with counts and percentages.

use std::collections::HashMap;

use super::Rows;
use super::ordering::compare_auto;
use super::stats::{compare_group_keys, group_key};
use crate::spl::ast::TopOptions;
use crate::spl::{Row, Value};

/// How often each combination of the `top` fields occurs within one group.
type ValueCounts = HashMap<Vec<String>, u64>;

pub(crate) fn top(rows: Rows, options: &TopOptions) -> Vec<Row> {
    // group key → (value key → count), and group key → rows counted.
    let mut counts: HashMap<Vec<String>, ValueCounts> = HashMap::new();
    let mut totals: HashMap<Vec<String>, u64> = HashMap::new();
    for row in rows {
        let (Some(group), Some(values)) = (
            group_key(&row, &options.by),
            group_key(&row, &options.fields),
        ) else {
            continue;
        };
        *totals.entry(group.clone()).or_insert(0) += 1;
        *counts.entry(group).or_default().entry(values).or_insert(0) += 1;
    }
    let mut groups: Vec<_> = counts.into_iter().collect();
    groups.sort_by(|(a, _), (b, _)| compare_group_keys(a, b));
    let mut result = Vec::new();
    for (group, value_counts) in groups {
        let total = totals.get(&group).copied().unwrap_or(1).max(1);
        let mut ranked: Vec<(Vec<String>, u64)> = value_counts.into_iter().collect();
        ranked.sort_by(|(values_a, count_a), (values_b, count_b)| {
            let by_count = if options.rare {
                count_a.cmp(count_b)
            } else {
                count_b.cmp(count_a)
            };
            by_count.then_with(|| {
                values_a
                    .iter()
                    .zip(values_b)
                    .map(|(a, b)| compare_auto(a, b))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        });
        if options.limit > 0 {
            ranked.truncate(options.limit);
        }
        for (values, count) in ranked {
            let mut row: Row = options
                .by
                .iter()
                .cloned()
                .zip(group.iter().cloned().map(Value::Single))
                .collect();
            row.extend(
                options
                    .fields
                    .iter()
                    .cloned()
                    .zip(values.into_iter().map(Value::Single)),
            );
            if options.show_count {
                row.push((
                    options.count_field.clone(),
                    Value::Single(count.to_string()),
                ));
            }
            if options.show_percent {
                let percent = count as f64 * 100.0 / total as f64;
                row.push((
                    options.percent_field.clone(),
                    Value::Single(format!("{percent:.6}")),
                ));
            }
            result.push(row);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spl::row::get_text;

    fn options(rare: bool, limit: usize, by: &[&str]) -> TopOptions {
        TopOptions {
            rare,
            limit,
            fields: vec!["v".into()],
            by: by.iter().map(|b| b.to_string()).collect(),
            count_field: "count".into(),
            percent_field: "percent".into(),
            show_count: true,
            show_percent: true,
        }
    }

    fn input() -> Rows {
        let rows: Vec<Row> = [
            ("g1", "a"),
            ("g1", "a"),
            ("g1", "b"),
            ("g2", "c"),
            ("g1", "a"),
            ("g2", "b"),
        ]
        .iter()
        .map(|(g, v)| {
            vec![
                ("g".to_string(), Value::Single(g.to_string())),
                ("v".to_string(), Value::Single(v.to_string())),
            ]
        })
        .collect();
        Box::new(rows.into_iter())
    }

    fn summary(rows: &[Row]) -> Vec<(String, String, String)> {
        rows.iter()
            .map(|row| {
                let text = |f: &str| get_text(row, f).unwrap_or("").to_string();
                (text("v"), text("count"), text("percent"))
            })
            .collect()
    }

    #[test]
    fn ranks_values() {
        let expected = [
            ("a", "3", "50.000000"),
            ("b", "2", "33.333333"),
            ("c", "1", "16.666667"),
        ];
        let as_strings = |items: &[(&str, &str, &str)]| {
            items
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            summary(&top(input(), &options(false, 10, &[]))),
            as_strings(&expected)
        );
        assert_eq!(
            summary(&top(input(), &options(false, 1, &[]))),
            as_strings(&expected[..1])
        );
        let rare = top(input(), &options(true, 10, &[]));
        assert_eq!(get_text(&rare[0], "v"), Some("c"));
        let grouped = top(input(), &options(false, 1, &["g"]));
        assert_eq!(grouped.len(), 2);
        assert_eq!(
            (get_text(&grouped[1], "g"), get_text(&grouped[1], "percent")),
            (Some("g2"), Some("50.000000"))
        );
    }
}
