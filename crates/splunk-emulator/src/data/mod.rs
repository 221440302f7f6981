//! The emulator's data: deterministic seeded indexes, the synthetic `bench` index, and the
//! knowledge objects around them (fired alerts, dashboards, lookups, data models).
//!
//! Seeded indexes (`seed.rs`) are generated once and held newest first, so a time range is a
//! slice found by binary search; `bench` (`bench.rs`) computes each event from its position.
//! Knowledge objects (`knowledge.rs`) live here because searches read them too: `inputlookup`
//! reads the lookup tables.

mod bench;
pub(crate) mod knowledge;
mod rng;
mod seed;
mod timestamp;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use bench::BenchIndex;
use knowledge::Knowledge;
pub(crate) use timestamp::iso_millis;

/// One indexed event, as search sees it before any command runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event time, seconds since the epoch (sub-second part in `time_ms`).
    pub time: i64,
    /// Milliseconds within the second, so `_time` renders like Splunk's `2026-11-20T10:00:00.123+00:00`.
    pub time_ms: u16,
    /// The index the event lives in.
    pub index: Arc<str>,
    /// The `host` default field.
    pub host: Arc<str>,
    /// The `source` default field.
    pub source: Arc<str>,
    /// The `sourcetype` default field.
    pub sourcetype: Arc<str>,
    /// The raw text (`_raw`).
    pub raw: String,
    /// Search-time extracted fields (e.g. `status`, `user`, `action`), in extraction order.
    pub fields: Vec<(Arc<str>, String)>,
}

/// What `GET /services/data/indexes` reports about one index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSummary {
    /// Index name.
    pub name: String,
    /// Number of events (the `bench` index reports its configured size).
    pub total_event_count: u64,
    /// Oldest event time, if any.
    pub min_time: Option<DateTime<Utc>>,
    /// Newest event time, if any.
    pub max_time: Option<DateTime<Utc>>,
    /// `event` or `metric`.
    pub datatype: &'static str,
    /// Whether the name starts with `_`.
    pub is_internal: bool,
    /// Approximate size on disk in MB (Splunk reports it as a string).
    pub current_db_size_mb: u64,
}

/// Name of the synthetic, generated-on-demand index.
pub const BENCH_INDEX: &str = "bench";

/// The default fields of an event that Splunk indexes (what `tstats` and `metadata` read).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFields {
    /// Event time, seconds since the epoch.
    pub time: i64,
    /// The `index` field.
    pub index: Arc<str>,
    /// The `host` field.
    pub host: Arc<str>,
    /// The `source` field.
    pub source: Arc<str>,
    /// The `sourcetype` field.
    pub sourcetype: Arc<str>,
}

/// One stored index: its events newest first, and their raw size for `currentDBSizeMB`.
#[derive(Debug)]
struct StoredIndex {
    events: Arc<[Event]>,
    raw_bytes: u64,
}

impl StoredIndex {
    fn new(events: Vec<Event>) -> Self {
        let raw_bytes = events.iter().map(|event| event.raw.len() as u64).sum();
        Self {
            events: events.into(),
            raw_bytes,
        }
    }

    /// Index range of events with `earliest <= time < latest` (events are sorted newest first).
    fn window(&self, earliest: Option<i64>, latest: Option<i64>) -> Range<usize> {
        let start = latest.map_or(0, |latest| {
            self.events.partition_point(|event| event.time >= latest)
        });
        let end = earliest.map_or(self.events.len(), |earliest| {
            self.events.partition_point(|event| event.time >= earliest)
        });
        start..end.max(start)
    }
}

/// All indexes the emulator serves (seeded ones held in memory and the generated `bench`
/// index) and its knowledge objects.
#[derive(Debug)]
pub struct Dataset {
    stored: BTreeMap<String, StoredIndex>,
    bench: BenchIndex,
    knowledge: Knowledge,
}

impl Dataset {
    /// Builds the deterministic seeded data (about 42k events over the 7 days before `now`), a
    /// `bench` index of `bench_events` events over the day before `now`, and the knowledge
    /// objects.
    pub fn seeded(now: DateTime<Utc>, bench_events: u64) -> Dataset {
        type Generator = fn(DateTime<Utc>) -> Vec<Event>;
        let generators: [(&str, Generator); 6] = [
            ("web", seed::web),
            ("security", seed::security),
            ("firewall", seed::firewall),
            ("main", seed::main),
            ("_internal", seed::internal),
            ("_audit", seed::audit),
        ];
        let stored = generators
            .into_iter()
            .map(|(name, generate)| (name.to_string(), StoredIndex::new(generate(now))))
            .collect();
        Dataset {
            stored,
            bench: BenchIndex::new(now, bench_events),
            knowledge: Knowledge::seeded(now),
        }
    }

    /// The fired alerts, views, lookups and data models.
    pub(crate) fn knowledge(&self) -> &Knowledge {
        &self.knowledge
    }

    /// Every index name, sorted (internal ones start with `_`).
    pub fn index_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.stored.keys().cloned().collect();
        names.push(BENCH_INDEX.to_string());
        names.sort();
        names
    }

    /// Counts, time span and size of one index, or `None` when it does not exist.
    pub fn index_summary(&self, name: &str) -> Option<IndexSummary> {
        let to_time = |seconds: i64, millis: u16| {
            Utc.timestamp_millis_opt(seconds * 1000 + i64::from(millis))
                .single()
        };
        let (count, newest, oldest, bytes) = if name == BENCH_INDEX {
            let count = self.bench.count();
            let newest = (count > 0)
                .then(|| Utc.timestamp_millis_opt(self.bench.time_ms(0)).single())
                .flatten();
            let oldest = (count > 0)
                .then(|| {
                    Utc.timestamp_millis_opt(self.bench.time_ms(count - 1))
                        .single()
                })
                .flatten();
            (count, newest, oldest, count * 120)
        } else {
            let stored = self.stored.get(name)?;
            let newest = stored
                .events
                .first()
                .and_then(|event| to_time(event.time, event.time_ms));
            let oldest = stored
                .events
                .last()
                .and_then(|event| to_time(event.time, event.time_ms));
            (stored.events.len() as u64, newest, oldest, stored.raw_bytes)
        };
        Some(IndexSummary {
            name: name.to_string(),
            total_event_count: count,
            min_time: oldest,
            max_time: newest,
            datatype: "event",
            is_internal: name.starts_with('_'),
            // Compressed buckets on disk are roughly half the raw size; never report 0 for data.
            current_db_size_mb: if bytes == 0 {
                0
            } else {
                (bytes / 2 / 1_048_576).max(1)
            },
        })
    }

    /// Events of `index` with `earliest <= time < latest` (seconds), newest first.
    pub fn scan(
        &self,
        index: &str,
        earliest: Option<i64>,
        latest: Option<i64>,
    ) -> Box<dyn Iterator<Item = Event> + Send + '_> {
        if index == BENCH_INDEX {
            let bench = &self.bench;
            return Box::new(
                bench
                    .positions(earliest, latest)
                    .map(move |position| bench.event(position)),
            );
        }
        match self.stored.get(index) {
            Some(stored) => Box::new(
                stored.events[stored.window(earliest, latest)]
                    .iter()
                    .cloned(),
            ),
            None => Box::new(std::iter::empty()),
        }
    }

    /// Like [`Dataset::scan`], but owning a handle on the data so the iterator can outlive the
    /// borrow (a search job streams it from another task).
    pub fn scan_shared(
        self: &Arc<Self>,
        index: &str,
        earliest: Option<i64>,
        latest: Option<i64>,
    ) -> Box<dyn Iterator<Item = Event> + Send + 'static> {
        if index == BENCH_INDEX {
            let dataset = Arc::clone(self);
            return Box::new(
                self.bench
                    .positions(earliest, latest)
                    .map(move |position| dataset.bench.event(position)),
            );
        }
        match self.stored.get(index) {
            Some(stored) => {
                let events = Arc::clone(&stored.events);
                Box::new(
                    stored
                        .window(earliest, latest)
                        .map(move |position| events[position].clone()),
                )
            }
            None => Box::new(std::iter::empty()),
        }
    }

    /// The indexed fields of the events in range, newest first: what `tstats` and `metadata`
    /// read, cheap even for the `bench` index because no event text is generated.
    pub fn scan_indexed(
        &self,
        index: &str,
        earliest: Option<i64>,
        latest: Option<i64>,
    ) -> Box<dyn Iterator<Item = IndexedFields> + Send + '_> {
        if index == BENCH_INDEX {
            let bench = &self.bench;
            let index: Arc<str> = Arc::from(BENCH_INDEX);
            return Box::new(bench.positions(earliest, latest).map(move |position| {
                IndexedFields {
                    time: bench.time_ms(position).div_euclid(1000),
                    index: index.clone(),
                    host: bench.host(position).clone(),
                    source: bench.source().clone(),
                    sourcetype: bench.sourcetype().clone(),
                }
            }));
        }
        match self.stored.get(index) {
            Some(stored) => Box::new(stored.events[stored.window(earliest, latest)].iter().map(
                |event| IndexedFields {
                    time: event.time,
                    index: event.index.clone(),
                    host: event.host.clone(),
                    source: event.source.clone(),
                    sourcetype: event.sourcetype.clone(),
                },
            )),
            None => Box::new(std::iter::empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
    }

    #[test]
    fn seeded_data_is_deterministic_and_sorted() {
        let first = Dataset::seeded(now(), 100);
        let second = Dataset::seeded(now(), 100);
        for name in first.index_names() {
            let a: Vec<Event> = first.scan(&name, None, None).collect();
            let b: Vec<Event> = second.scan(&name, None, None).collect();
            assert_eq!(a, b, "{name}");
            assert!(
                a.windows(2)
                    .all(|pair| (pair[0].time, pair[0].time_ms) >= (pair[1].time, pair[1].time_ms)),
                "{name}"
            );
            let seven_days_ago = now().timestamp() - 7 * 86_400;
            assert!(
                a.iter()
                    .all(|event| event.time >= seven_days_ago && event.time < now().timestamp()),
                "{name}"
            );
        }
        assert_eq!(
            first.index_names(),
            [
                "_audit",
                "_internal",
                "bench",
                "firewall",
                "main",
                "security",
                "web"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn summaries_report_counts() {
        let dataset = Dataset::seeded(now(), 1_000_000);
        let web = dataset.index_summary("web").unwrap();
        assert_eq!(web.total_event_count, seed::WEB_EVENTS as u64);
        assert!(!web.is_internal && web.current_db_size_mb >= 1);
        assert!(web.min_time < web.max_time);
        assert!(dataset.index_summary("_internal").unwrap().is_internal);
        assert_eq!(
            dataset.index_summary("bench").unwrap().total_event_count,
            1_000_000
        );
        assert_eq!(dataset.index_summary("nope"), None);
    }

    #[test]
    fn time_windows_bound_the_scan() {
        let dataset = Arc::new(Dataset::seeded(now(), 10_000));
        let day_ago = now().timestamp() - 86_400;
        for index in ["web", "bench"] {
            let all = dataset.scan(index, None, None).count();
            let recent: Vec<Event> = dataset.scan(index, Some(day_ago), None).collect();
            let older: Vec<Event> = dataset.scan_shared(index, None, Some(day_ago)).collect();
            assert_eq!(recent.len() + older.len(), all, "{index}");
            assert!(recent.iter().all(|event| event.time >= day_ago));
            assert!(older.iter().all(|event| event.time < day_ago));
            assert_eq!(
                dataset.scan_indexed(index, Some(day_ago), None).count(),
                recent.len()
            );
        }
    }

    #[test]
    fn seeding_is_fast_enough() {
        let started = std::time::Instant::now();
        let dataset = Dataset::seeded(now(), 0);
        let total: u64 = dataset
            .index_names()
            .iter()
            .filter_map(|name| dataset.index_summary(name))
            .map(|s| s.total_event_count)
            .sum();
        assert!(total > 40_000);
        // Debug builds are ~10x slower than release; this only catches accidental quadratic work.
        assert!(started.elapsed().as_secs() < 10);
    }
}
