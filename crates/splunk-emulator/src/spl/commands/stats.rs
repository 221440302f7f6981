//! `stats` (and the aggregation half of `tstats`): group rows and compute statistical functions.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::spl::ast::{AggregateFunction, Aggregation};
use crate::spl::row::{self, as_number, format_number, values};
use crate::spl::{Row, Value};

/// `list()` keeps at most this many values, like Splunk's default `list_maxsize`.
const LIST_LIMIT: usize = 100;

/// The running state of one aggregation in one group.
#[derive(Debug)]
enum Accumulator {
    Count(u64),
    Distinct(HashSet<String>),
    Sum {
        total: f64,
        seen: bool,
    },
    Average {
        total: f64,
        count: u64,
    },
    Extreme {
        number: Option<f64>,
        text: Option<String>,
        want_max: bool,
    },
    Range {
        low: Option<f64>,
        high: Option<f64>,
    },
    Values(BTreeSet<String>),
    List(Vec<String>),
    First(Option<Value>),
    Last(Option<Value>),
}

impl Accumulator {
    fn new(function: AggregateFunction) -> Self {
        match function {
            AggregateFunction::Count => Accumulator::Count(0),
            AggregateFunction::DistinctCount => Accumulator::Distinct(HashSet::new()),
            AggregateFunction::Sum => Accumulator::Sum {
                total: 0.0,
                seen: false,
            },
            AggregateFunction::Average => Accumulator::Average {
                total: 0.0,
                count: 0,
            },
            AggregateFunction::Min => Accumulator::Extreme {
                number: None,
                text: None,
                want_max: false,
            },
            AggregateFunction::Max => Accumulator::Extreme {
                number: None,
                text: None,
                want_max: true,
            },
            AggregateFunction::Range => Accumulator::Range {
                low: None,
                high: None,
            },
            AggregateFunction::Values => Accumulator::Values(BTreeSet::new()),
            AggregateFunction::List => Accumulator::List(Vec::new()),
            AggregateFunction::First => Accumulator::First(None),
            AggregateFunction::Last => Accumulator::Last(None),
        }
    }

    fn add(&mut self, field: Option<&str>, row: &Row) {
        let Some(field) = field else {
            if let Accumulator::Count(count) = self {
                *count += 1;
            }
            return;
        };
        let Some(value) = row::get(row, field) else {
            return;
        };
        match self {
            Accumulator::First(slot) => {
                if slot.is_none() {
                    *slot = Some(value.clone());
                }
                return;
            }
            Accumulator::Last(slot) => {
                *slot = Some(value.clone());
                return;
            }
            _ => {}
        }
        for text in values(value) {
            self.add_text(text);
        }
    }

    fn add_text(&mut self, text: &str) {
        let number = as_number(text);
        match self {
            Accumulator::Count(count) => *count += 1,
            Accumulator::Distinct(seen) => {
                if !seen.contains(text) {
                    seen.insert(text.to_string());
                }
            }
            Accumulator::Sum { total, seen } => {
                if let Some(number) = number {
                    *total += number;
                    *seen = true;
                }
            }
            Accumulator::Average { total, count } => {
                if let Some(number) = number {
                    *total += number;
                    *count += 1;
                }
            }
            Accumulator::Extreme {
                number: best_number,
                text: best_text,
                want_max,
            } => match number {
                Some(number) => {
                    let better = best_number.is_none_or(|best| {
                        if *want_max {
                            number > best
                        } else {
                            number < best
                        }
                    });
                    if better {
                        *best_number = Some(number);
                    }
                }
                None => {
                    let better = best_text.as_deref().is_none_or(|best| {
                        let ordering = text.cmp(best);
                        if *want_max {
                            ordering == Ordering::Greater
                        } else {
                            ordering == Ordering::Less
                        }
                    });
                    if better {
                        *best_text = Some(text.to_string());
                    }
                }
            },
            Accumulator::Range { low, high } => {
                if let Some(number) = number {
                    *low = Some(low.map_or(number, |low| low.min(number)));
                    *high = Some(high.map_or(number, |high| high.max(number)));
                }
            }
            Accumulator::Values(set) => {
                if !set.contains(text) {
                    set.insert(text.to_string());
                }
            }
            Accumulator::List(list) => {
                if list.len() < LIST_LIMIT {
                    list.push(text.to_string());
                }
            }
            Accumulator::First(_) | Accumulator::Last(_) => {}
        }
    }

    fn finish(self) -> Option<Value> {
        let number = |n: f64| Some(Value::Single(format_number(n)));
        let many = |items: Vec<String>| match items.len() {
            0 => None,
            1 => items.into_iter().next().map(Value::Single),
            _ => Some(Value::Multi(items)),
        };
        match self {
            Accumulator::Count(count) => Some(Value::Single(count.to_string())),
            Accumulator::Distinct(seen) => Some(Value::Single(seen.len().to_string())),
            Accumulator::Sum { total, seen } => seen.then(|| number(total)).flatten(),
            Accumulator::Average { total, count } => {
                (count > 0).then(|| number(total / count as f64)).flatten()
            }
            // Numbers win over strings, as Splunk's min/max prefer numeric values.
            Accumulator::Extreme {
                number: Some(n), ..
            } => number(n),
            Accumulator::Extreme { text, .. } => text.map(Value::Single),
            Accumulator::Range {
                low: Some(low),
                high: Some(high),
            } => number(high - low),
            Accumulator::Range { .. } => None,
            Accumulator::Values(set) => many(set.into_iter().collect()),
            Accumulator::List(list) => many(list),
            Accumulator::First(value) | Accumulator::Last(value) => value,
        }
    }
}

/// Orders group keys the way Splunk lists `stats ... by` groups: numbers numerically, then strings.
pub(crate) fn compare_group_keys(left: &[String], right: &[String]) -> Ordering {
    for (a, b) in left.iter().zip(right) {
        let ordering = super::ordering::compare_auto(a, b);
        if ordering.is_ne() {
            return ordering;
        }
    }
    Ordering::Equal
}

/// The values of the `by` fields, or `None` when one is missing (such rows are left out).
pub(crate) fn group_key(row: &Row, by: &[String]) -> Option<Vec<String>> {
    by.iter()
        .map(|field| row::get_text(row, field).map(str::to_string))
        .collect()
}

pub(crate) fn stats(
    rows: impl Iterator<Item = Row>,
    aggregations: &[Aggregation],
    by: &[String],
) -> Vec<Row> {
    let mut groups: HashMap<Vec<String>, Vec<Accumulator>> = HashMap::new();
    let fresh = || {
        aggregations
            .iter()
            .map(|a| Accumulator::new(a.function))
            .collect::<Vec<_>>()
    };
    if by.is_empty() {
        // Without `by`, stats answers one row even over no events (`count` = 0).
        groups.insert(Vec::new(), fresh());
    }
    for row in rows {
        let Some(key) = group_key(&row, by) else {
            continue;
        };
        let accumulators = groups.entry(key).or_insert_with(fresh);
        for (accumulator, aggregation) in accumulators.iter_mut().zip(aggregations) {
            accumulator.add(aggregation.field.as_deref(), &row);
        }
    }
    let mut groups: Vec<(Vec<String>, Vec<Accumulator>)> = groups.into_iter().collect();
    groups.sort_by(|(a, _), (b, _)| compare_group_keys(a, b));
    groups
        .into_iter()
        .map(|(key, accumulators)| {
            let mut result: Row = by
                .iter()
                .cloned()
                .zip(key.into_iter().map(Value::Single))
                .collect();
            for (accumulator, aggregation) in accumulators.into_iter().zip(aggregations) {
                if let Some(value) = accumulator.finish() {
                    row::set(&mut result, &aggregation.name, value);
                }
            }
            result
        })
        .collect()
}

/// `eventstats`: the rows unchanged in order, each extended with its group's aggregates.
pub(crate) fn event_stats(
    rows: impl Iterator<Item = Row>,
    aggregations: &[Aggregation],
    by: &[String],
) -> Vec<Row> {
    let mut all: Vec<Row> = rows.collect();
    let groups: HashMap<Vec<String>, Row> = stats(all.iter().cloned(), aggregations, by)
        .into_iter()
        .filter_map(|mut result| {
            let key = group_key(&result, by)?;
            result.retain(|(name, _)| !by.contains(name));
            Some((key, result))
        })
        .collect();
    for row in &mut all {
        let Some(additions) = group_key(row, by).and_then(|key| groups.get(&key)) else {
            continue;
        };
        for (name, value) in additions {
            row::set(row, name, value.clone());
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spl::commands::Rows;

    fn input() -> Rows {
        let rows: Vec<Row> = [("a", "3"), ("b", "10"), ("a", "x"), ("a", "5")]
            .iter()
            .map(|(group, value)| {
                vec![
                    ("g".to_string(), Value::Single(group.to_string())),
                    ("v".to_string(), Value::Single(value.to_string())),
                ]
            })
            .collect();
        Box::new(rows.into_iter())
    }

    fn aggregation(function: AggregateFunction, field: Option<&str>, name: &str) -> Aggregation {
        Aggregation {
            function,
            field: field.map(String::from),
            name: name.to_string(),
        }
    }

    #[test]
    fn aggregates_by_group() {
        let aggregations = [
            aggregation(AggregateFunction::Count, None, "count"),
            aggregation(AggregateFunction::Count, Some("v"), "count(v)"),
            aggregation(AggregateFunction::DistinctCount, Some("v"), "dc"),
            aggregation(AggregateFunction::Sum, Some("v"), "sum"),
            aggregation(AggregateFunction::Average, Some("v"), "avg"),
            aggregation(AggregateFunction::Min, Some("v"), "min"),
            aggregation(AggregateFunction::Max, Some("v"), "max"),
            aggregation(AggregateFunction::Values, Some("v"), "values"),
            aggregation(AggregateFunction::First, Some("v"), "first"),
            aggregation(AggregateFunction::Last, Some("v"), "last"),
            aggregation(AggregateFunction::Range, Some("v"), "range"),
        ];
        let result = stats(input(), &aggregations, &["g".to_string()]);
        assert_eq!(result.len(), 2);
        let expected_a = [
            ("g", "a"),
            ("count", "3"),
            ("count(v)", "3"),
            ("dc", "3"),
            ("sum", "8"),
            ("avg", "4"),
            ("min", "3"),
            ("max", "5"),
            ("first", "3"),
            ("last", "5"),
            ("range", "2"),
        ];
        for (field, value) in expected_a {
            assert_eq!(row::get_text(&result[0], field), Some(value), "{field}");
        }
        assert_eq!(
            row::get(&result[0], "values"),
            Some(&Value::Multi(vec!["3".into(), "5".into(), "x".into()]))
        );
        assert_eq!(
            row::get(&result[1], "values"),
            Some(&Value::Single("10".into()))
        );
    }

    #[test]
    fn answers_one_row_without_by() {
        let empty: Rows = Box::new(std::iter::empty());
        let result = stats(
            empty,
            &[
                aggregation(AggregateFunction::Count, None, "count"),
                aggregation(AggregateFunction::Average, Some("v"), "avg"),
            ],
            &[],
        );
        assert_eq!(
            result,
            vec![vec![("count".to_string(), Value::Single("0".into()))]]
        );
        let by_nothing = stats(
            Box::new(std::iter::empty()),
            &[aggregation(AggregateFunction::Count, None, "count")],
            &["g".into()],
        );
        assert!(by_nothing.is_empty());
    }
}
