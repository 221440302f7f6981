//! Time and number bucketing: `bin` and `timechart`.

use std::collections::{BTreeMap, HashMap};

use super::Rows;
use super::ordering::compare_auto;
use super::stats::stats;
use crate::spl::ast::{AggregateFunction, Aggregation};
use crate::spl::row::{self, as_number, format_number};
use crate::spl::{Row, Value};

/// Timechart never draws more buckets than this when filling the search's time range.
const MAX_FILLED_BUCKETS: i64 = 10_000;

/// Splunk's default bucket width for a time range of `range_seconds` (unknown: all time).
pub(crate) fn auto_span(range_seconds: Option<i64>) -> f64 {
    match range_seconds {
        Some(range) if range <= 15 * 60 => 10.0,
        Some(range) if range <= 60 * 60 => 60.0,
        Some(range) if range <= 4 * 3_600 => 300.0,
        Some(range) if range <= 86_400 => 1_800.0,
        _ => 86_400.0,
    }
}

/// `_time` values are floored to the bucket start; other numbers become `low-high` ranges.
pub(crate) fn bin(rows: Rows, field: String, span: f64, alias: Option<String>) -> Rows {
    Box::new(rows.map(move |mut row| {
        let Some(number) = row::get_text(&row, &field).and_then(as_number) else {
            return row;
        };
        let low = (number / span).floor() * span;
        let value = if field == "_time" {
            format_number(low)
        } else {
            format!("{}-{}", format_number(low), format_number(low + span))
        };
        row::set(
            &mut row,
            alias.as_deref().unwrap_or(&field),
            Value::Single(value),
        );
        row
    }))
}

/// The time window timechart fills with empty buckets, in bucket numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChartWindow {
    pub(crate) earliest: Option<i64>,
    pub(crate) latest: Option<i64>,
}

fn bucket_number(epoch: f64, span: f64) -> i64 {
    (epoch / span).floor() as i64
}

/// The bucket numbers to draw: the search's range when known and reasonable, else the data's.
fn buckets_to_draw(
    present: impl Iterator<Item = i64> + Clone,
    span: f64,
    window: ChartWindow,
) -> Vec<i64> {
    let (Some(first), Some(last)) = (present.clone().min(), present.max()) else {
        return Vec::new();
    };
    let start = window.earliest.map_or(first, |earliest| {
        bucket_number(earliest as f64, span).min(first)
    });
    let end = window.latest.map_or(last, |latest| {
        bucket_number((latest - 1) as f64, span).max(last)
    });
    if end - start > MAX_FILLED_BUCKETS {
        return (first..=last).collect();
    }
    (start..=end).collect()
}

fn empty_cell(aggregation: &Aggregation) -> Option<Value> {
    matches!(
        aggregation.function,
        AggregateFunction::Count | AggregateFunction::DistinctCount
    )
    .then(|| Value::Single("0".to_string()))
}

pub(crate) fn timechart(
    rows: Rows,
    span: f64,
    limit: usize,
    aggregations: &[Aggregation],
    by: Option<&str>,
    window: ChartWindow,
) -> Vec<Row> {
    let binned = rows.filter_map(|mut row| {
        let epoch = row::get_text(&row, "_time").and_then(as_number)?;
        row::set(
            &mut row,
            "_time",
            Value::Single(bucket_number(epoch, span).to_string()),
        );
        if let Some(field) = by
            && row::get(&row, field).is_none()
        {
            row::set(&mut row, field, Value::Single("NULL".to_string()));
        }
        Some(row)
    });
    let group_fields: Vec<String> = std::iter::once("_time".to_string())
        .chain(by.map(String::from))
        .collect();
    let grouped = stats(binned, aggregations, &group_fields);
    let bucket_of = |row: &Row| row::get_text(row, "_time").and_then(|t| t.parse::<i64>().ok());
    let mut cells: BTreeMap<i64, Vec<(String, Value)>> = BTreeMap::new();
    match by {
        None => {
            for mut row in grouped {
                if let Some(bucket) = bucket_of(&row) {
                    row.retain(|(name, _)| name != "_time");
                    cells.insert(bucket, row);
                }
            }
        }
        Some(field) => cells = split_series(grouped, bucket_of, field, aggregations, limit),
    }
    let columns = column_order(cells.values(), aggregations, by.is_some());
    buckets_to_draw(cells.keys().copied(), span, window)
        .into_iter()
        .map(|bucket| {
            let mut row: Row = vec![(
                "_time".to_string(),
                Value::Single(format_number(bucket as f64 * span)),
            )];
            let present = cells.get(&bucket);
            for (column, aggregation) in &columns {
                let value = present
                    .and_then(|cells| cells.iter().find(|(name, _)| name == column))
                    .map(|(_, value)| value.clone())
                    .or_else(|| empty_cell(aggregation));
                if let Some(value) = value {
                    row.push((column.clone(), value));
                }
            }
            row.push(("_span".to_string(), Value::Single(format_number(span))));
            row
        })
        .collect()
}

/// Turns `stats ... by key, series` rows into one cell list per key, a column per series.
///
/// Series are ranked by their total of the first aggregation; beyond `limit` (0 = no limit)
/// they merge into OTHER, as Splunk's `chart` and `timechart` do.
fn split_series<K: Ord>(
    grouped: Vec<Row>,
    key_of: impl Fn(&Row) -> Option<K>,
    series_field: &str,
    aggregations: &[Aggregation],
    limit: usize,
) -> BTreeMap<K, Vec<(String, Value)>> {
    let mut totals: HashMap<String, f64> = HashMap::new();
    for row in &grouped {
        let series = row::get_text(row, series_field)
            .unwrap_or("NULL")
            .to_string();
        let amount = row::get_text(row, &aggregations[0].name)
            .and_then(as_number)
            .unwrap_or(0.0);
        *totals.entry(series).or_insert(0.0) += amount;
    }
    let mut ranked: Vec<(String, f64)> = totals.into_iter().collect();
    ranked.sort_by(|(a_name, a), (b_name, b)| {
        b.total_cmp(a).then_with(|| compare_auto(a_name, b_name))
    });
    let kept: Vec<String> = ranked
        .iter()
        .take(if limit == 0 { usize::MAX } else { limit })
        .map(|(name, _)| name.clone())
        .collect();
    let mut cells: BTreeMap<K, Vec<(String, Value)>> = BTreeMap::new();
    for row in grouped {
        let Some(key) = key_of(&row) else { continue };
        let series = row::get_text(&row, series_field).unwrap_or("NULL");
        let series = if kept.iter().any(|name| name == series) {
            series.to_string()
        } else {
            "OTHER".to_string()
        };
        let key_cells = cells.entry(key).or_default();
        for aggregation in aggregations {
            let Some(value) = row::get(&row, &aggregation.name) else {
                continue;
            };
            let column = if aggregations.len() == 1 {
                series.clone()
            } else {
                format!("{}: {series}", aggregation.name)
            };
            merge_cell(key_cells, column, value.clone());
        }
    }
    cells
}

/// `chart aggregations over row_field by series_field`: one row per `row_field` value.
pub(crate) fn chart(
    rows: Rows,
    limit: usize,
    aggregations: &[Aggregation],
    row_field: &str,
    series_field: Option<&str>,
) -> Vec<Row> {
    let Some(series_field) = series_field else {
        return stats(rows, aggregations, &[row_field.to_string()]);
    };
    let with_null = rows.map(|mut row| {
        if row::get(&row, series_field).is_none() {
            row::set(&mut row, series_field, Value::Single("NULL".to_string()));
        }
        row
    });
    let grouped = stats(
        with_null,
        aggregations,
        &[row_field.to_string(), series_field.to_string()],
    );
    let key_of = |row: &Row| row::get_text(row, row_field).map(str::to_string);
    let cells = split_series(grouped, key_of, series_field, aggregations, limit);
    let columns = column_order(cells.values(), aggregations, true);
    let mut keys: Vec<&String> = cells.keys().collect();
    keys.sort_by(|a, b| compare_auto(a, b));
    keys.into_iter()
        .map(|key| {
            let mut row: Row = vec![(row_field.to_string(), Value::Single(key.clone()))];
            let present = &cells[key];
            for (column, aggregation) in &columns {
                let value = present
                    .iter()
                    .find(|(name, _)| name == column)
                    .map(|(_, value)| value.clone())
                    .or_else(|| empty_cell(aggregation));
                if let Some(value) = value {
                    row.push((column.clone(), value));
                }
            }
            row
        })
        .collect()
}

/// OTHER gathers several series into one cell: their numbers add up.
fn merge_cell(cells: &mut Vec<(String, Value)>, column: String, value: Value) {
    match cells.iter_mut().find(|(name, _)| *name == column) {
        Some((_, existing)) => {
            let sum = |v: &Value| match v {
                Value::Single(text) => as_number(text).unwrap_or(0.0),
                Value::Multi(_) => 0.0,
            };
            *existing = Value::Single(format_number(sum(existing) + sum(&value)));
        }
        None => cells.push((column, value)),
    }
}

/// Columns in Splunk's order: series sorted by name with OTHER last, or the aggregations as written.
fn column_order<'a, 'c>(
    cells: impl Iterator<Item = &'c Vec<(String, Value)>>,
    aggregations: &'a [Aggregation],
    split: bool,
) -> Vec<(String, &'a Aggregation)> {
    if !split {
        return aggregations
            .iter()
            .map(|aggregation| (aggregation.name.clone(), aggregation))
            .collect();
    }
    let mut names: Vec<String> = cells.flatten().map(|(name, _)| name.clone()).collect();
    names.sort_by(|a, b| {
        (a == "OTHER")
            .cmp(&(b == "OTHER"))
            .then_with(|| compare_auto(a, b))
    });
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let aggregation = aggregations
                .iter()
                .find(|aggregation| name.starts_with(&format!("{}: ", aggregation.name)))
                .unwrap_or(&aggregations[0]);
            (name, aggregation)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spl::row::get_text;

    fn rows(items: &[(&str, Option<&str>)]) -> Rows {
        let rows: Vec<Row> = items
            .iter()
            .map(|(time, host)| {
                let mut row = vec![("_time".to_string(), Value::Single(time.to_string()))];
                if let Some(host) = host {
                    row.push(("host".to_string(), Value::Single(host.to_string())));
                }
                row
            })
            .collect();
        Box::new(rows.into_iter())
    }

    fn count() -> Vec<Aggregation> {
        vec![Aggregation {
            function: AggregateFunction::Count,
            field: None,
            name: "count".into(),
        }]
    }

    const NO_WINDOW: ChartWindow = ChartWindow {
        earliest: None,
        latest: None,
    };

    #[test]
    fn fills_gaps_and_splits_series() {
        let input = [
            ("10", Some("a")),
            ("15", Some("b")),
            ("35", Some("a")),
            ("36", None),
        ];
        let plain = timechart(rows(&input), 10.0, 10, &count(), None, NO_WINDOW);
        let counts: Vec<(&str, &str)> = plain
            .iter()
            .map(|row| {
                (
                    get_text(row, "_time").unwrap(),
                    get_text(row, "count").unwrap(),
                )
            })
            .collect();
        assert_eq!(counts, [("10", "2"), ("20", "0"), ("30", "2")]);
        assert_eq!(get_text(&plain[0], "_span"), Some("10"));
        let split = timechart(rows(&input), 10.0, 1, &count(), Some("host"), NO_WINDOW);
        let names: Vec<&str> = split[0].iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["_time", "a", "OTHER", "_span"]);
        assert_eq!(
            (get_text(&split[0], "a"), get_text(&split[0], "OTHER")),
            (Some("1"), Some("1"))
        );
        assert_eq!(
            (get_text(&split[2], "a"), get_text(&split[2], "OTHER")),
            (Some("1"), Some("1"))
        );
    }

    #[test]
    fn bins_numbers_and_times() {
        let input: Rows = Box::new(
            vec![vec![
                ("_time".to_string(), Value::Single("3725.5".into())),
                ("b".to_string(), Value::Single("250".into())),
            ]]
            .into_iter(),
        );
        let timed = bin(input, "_time".into(), 3_600.0, None).next().unwrap();
        assert_eq!(get_text(&timed, "_time"), Some("3600"));
        let again: Rows = Box::new(vec![timed].into_iter());
        let sized = bin(again, "b".into(), 100.0, Some("range".into()))
            .next()
            .unwrap();
        assert_eq!(get_text(&sized, "range"), Some("200-300"));
        assert_eq!(auto_span(Some(86_400)), 1_800.0);
        assert_eq!(auto_span(None), 86_400.0);
    }
}
