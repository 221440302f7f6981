//! The synthetic `bench` index: N events computed from their position, never stored, so a
//! million-event export costs no memory.
//!
//! Position 0 is the newest event; times step back evenly over the day before "now", which keeps
//! them sorted newest first and lets a time range become a position range by binary search.

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Event;
use super::iso_millis;
use super::rng::mix;

/// How far back the bench events reach.
const SPAN_MS: i64 = 86_400 * 1000;
/// Distinct hosts the bench events come from.
const HOST_COUNT: usize = 8;
const LEVELS: [&str; 4] = ["INFO", "INFO", "WARN", "ERROR"];

/// The generator behind `index=bench`.
#[derive(Debug)]
pub(crate) struct BenchIndex {
    count: u64,
    newest_ms: i64,
    index: Arc<str>,
    source: Arc<str>,
    sourcetype: Arc<str>,
    hosts: Vec<Arc<str>>,
    field_names: [Arc<str>; 5],
}

impl BenchIndex {
    pub(crate) fn new(now: DateTime<Utc>, count: u64) -> Self {
        Self {
            count,
            // One millisecond before now, so `latest=now` includes the newest event.
            newest_ms: now.timestamp_millis() - 1,
            index: "bench".into(),
            source: "bench".into(),
            sourcetype: "bench".into(),
            hosts: (1..=HOST_COUNT)
                .map(|n| Arc::from(format!("bench-{n:02}")))
                .collect(),
            field_names: ["seq", "level", "user", "value", "status"].map(Arc::from),
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Event time in milliseconds; never increases with the position.
    pub(crate) fn time_ms(&self, position: u64) -> i64 {
        let step_back =
            (i128::from(position) * i128::from(SPAN_MS)) / i128::from(self.count.max(1));
        self.newest_ms - step_back as i64
    }

    pub(crate) fn host(&self, position: u64) -> &Arc<str> {
        &self.hosts[(mix(position) % HOST_COUNT as u64) as usize]
    }

    pub(crate) fn source(&self) -> &Arc<str> {
        &self.source
    }

    pub(crate) fn sourcetype(&self) -> &Arc<str> {
        &self.sourcetype
    }

    /// Positions whose time `t` (in seconds) satisfies `earliest <= t < latest`.
    pub(crate) fn positions(&self, earliest: Option<i64>, latest: Option<i64>) -> Range<u64> {
        // Seconds bounds become millisecond bounds: t_s < latest ⇔ t_ms < latest * 1000.
        let start = match latest {
            Some(latest) => self.first_position(|time_ms| time_ms < latest.saturating_mul(1000)),
            None => 0,
        };
        let end = match earliest {
            Some(earliest) => {
                self.first_position(|time_ms| time_ms < earliest.saturating_mul(1000))
            }
            None => self.count,
        };
        start..end.max(start)
    }

    /// The first position whose time satisfies `predicate`, which must flip from false to true once.
    fn first_position(&self, predicate: impl Fn(i64) -> bool) -> u64 {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let middle = low + (high - low) / 2;
            if predicate(self.time_ms(middle)) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        low
    }

    pub(crate) fn event(&self, position: u64) -> Event {
        let millis = self.time_ms(position);
        let noise = mix(position ^ 0xBE7C_4000_0000_0000);
        let level = LEVELS[(noise % LEVELS.len() as u64) as usize];
        let user = format!("user{:02}", (noise >> 8) % 50);
        let value = (noise >> 16) % 1000;
        let status = if (noise >> 32).is_multiple_of(20) {
            "500"
        } else {
            "200"
        };
        let host = self.host(position).clone();
        let raw = format!(
            "{} {host} seq={position} level={level} user={user} value={value} status={status} msg=\"synthetic benchmark event\"",
            iso_millis(millis, "Z")
        );
        let [seq_name, level_name, user_name, value_name, status_name] = &self.field_names;
        Event {
            time: millis.div_euclid(1000),
            time_ms: millis.rem_euclid(1000) as u16,
            index: self.index.clone(),
            host,
            source: self.source.clone(),
            sourcetype: self.sourcetype.clone(),
            raw,
            fields: vec![
                (seq_name.clone(), position.to_string()),
                (level_name.clone(), level.to_string()),
                (user_name.clone(), user),
                (value_name.clone(), value.to_string()),
                (status_name.clone(), status.to_string()),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn time_ranges_become_position_ranges() {
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let bench = BenchIndex::new(now, 1_000);
        assert_eq!(bench.positions(None, None), 0..1_000);
        let last_hour = bench.positions(Some(1_800_000_000 - 3_600), None);
        assert!(last_hour.end > 35 && last_hour.end < 50, "{last_hour:?}");
        for position in [last_hour.end - 1, last_hour.end] {
            let inside = bench.time_ms(position) >= (1_800_000_000 - 3_600) * 1000;
            assert_eq!(inside, position < last_hour.end);
        }
        assert_eq!(bench.positions(Some(1_900_000_000), None), 0..0);
        assert_eq!(bench.positions(None, Some(1_700_000_000)), 1_000..1_000);
        assert_eq!(bench.event(7), bench.event(7), "deterministic");
    }
}
