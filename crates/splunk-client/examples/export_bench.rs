//! Export benchmark: streams `search index=bench | head N` through [`Client::export`] and prints
//! one JSON line with rows/s and this process's peak resident memory (VmHWM).
//!
//! Run by `cargo xtask bench client-export` next to the Python splunk-sdk reader
//! (`bench/export_reader.py`), one process per measurement so each peak is its own.
//!
//! Usage: `export_bench --url http://127.0.0.1:8089 --rows 100000 [--username admin --password changeme]`,
//! or `export_bench --file body.ndjson --rows N` to time the decoder alone on a saved export body.

use std::io::Read;
use std::time::Instant;

use futures::TryStreamExt;
use splunk_client::{Client, ClientConfig, Credentials, ExportDecoder, SearchParams, TimeRange};

/// Command-line arguments, parsed by hand to keep the example dependency-free.
struct Args {
    url: String,
    rows: u64,
    username: String,
    password: String,
    file: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "http://127.0.0.1:8089".to_owned(),
        rows: 10_000,
        username: "admin".to_owned(),
        password: "changeme".to_owned(),
        file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--rows" => args.rows = value.parse().map_err(|e| format!("--rows: {e}"))?,
            "--username" => args.username = value,
            "--password" => args.password = value,
            "--file" => args.file = Some(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// This process's peak resident set size in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// One thread, like the Python reader it is compared with.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    if let Some(path) = &args.file {
        return decode_file(path, args.rows);
    }
    let client = Client::new(
        &ClientConfig::new(&args.url),
        Credentials::session(&args.username, &args.password),
    )?;
    // Log in before the clock starts: the Python side does the same.
    client.server_info().await?;
    let params = SearchParams::with_time_range(TimeRange::parse("0", "")?);
    let started = Instant::now();
    let mut rows = client
        .export(&format!("index=bench | head {}", args.rows), &params)
        .await?;
    let mut count = 0u64;
    while let Some(row) = rows.try_next().await? {
        // Touch the row so the work cannot be skipped.
        count += u64::from(!row.is_empty());
    }
    report("splunk-client", args.rows, count, started)
}

/// The decoder alone, fed a saved export body in 64 KiB pieces (as a socket would).
fn decode_file(path: &str, rows: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = std::fs::File::open(path)?;
    let started = Instant::now();
    let mut decoder = ExportDecoder::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut count = 0u64;
    loop {
        let read = file.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        decoder.push(&chunk[..read]);
        while let Some(row) = decoder.next_row()? {
            count += u64::from(!row.is_empty());
        }
    }
    while let Some(row) = decoder.finish()? {
        count += u64::from(!row.is_empty());
    }
    report("splunk-client ExportDecoder", rows, count, started)
}

fn report(
    reader: &str,
    expected: u64,
    count: u64,
    started: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let seconds = started.elapsed().as_secs_f64();
    if count != expected {
        return Err(format!("expected {expected} rows, got {count}").into());
    }
    println!(
        "{}",
        serde_json::json!({
            "reader": reader,
            "rows": count,
            "seconds": seconds,
            "rows_per_sec": count as f64 / seconds,
            "peak_rss_kib": peak_rss_kib(),
        })
    );
    Ok(())
}
