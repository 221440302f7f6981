//! A million-row export consumed as a stream, with the process's memory watched while it runs.

use std::time::Instant;

use futures::StreamExt;
use splunk_client::{SearchParams, TimeRange};

use crate::support::World;

/// The process's resident set size in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_bench_rows_stream_in_constant_memory() {
    const ROWS: u64 = 1_000_000;
    let world = World::start(false).await;
    let admin = world.admin();
    let params = SearchParams::with_time_range(TimeRange::parse("0", "").unwrap());
    let started = Instant::now();
    let before = resident_kib();
    let mut rows = admin
        .export(&format!("index=bench | head {ROWS}"), &params)
        .await
        .unwrap();
    let (mut count, mut peak, mut last_offset) = (0u64, before, String::new());
    while let Some(row) = rows.next().await {
        let row = row.unwrap();
        count += 1;
        if count % 50_000 == 0 {
            peak = peak.max(resident_kib());
            last_offset = row.get("_raw").map(|v| v.to_string()).unwrap_or_default();
        }
    }
    assert_eq!(count, ROWS);
    assert!(!last_offset.is_empty());
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "exported {count} rows in {:?}; RSS {} MiB before, peak {} MiB",
        started.elapsed(),
        before / 1024,
        peak / 1024
    );
    // A buffered million rows would take well over a gigabyte; streaming keeps growth small
    // (the bound leaves room for other tests running in this process at the same time).
    assert!(
        growth_mib < 256,
        "RSS grew by {growth_mib} MiB while streaming"
    );
}
