//! `cargo xtask bench`: measurements that must not live in timed tests.
//!
//! `export` streams `search index=bench | head N` out of a release-built emulator for growing N
//! and samples the emulator's resident memory, to show the export path streams rather than buffers.
//!
//! `client-export` reads the same export with splunk-client (`examples/export_bench.rs`) and with
//! Python's splunk-sdk `JSONResultsReader` (`bench/export_reader.py`, in a venv under `target/`
//! with a pinned splunk-sdk), one process per run so each reports its own peak memory.
//!
//! `compare` sets splunk-mcp against the Python MCP servers (FastMCP, mcp-server-for-splunk)
//! under wrk, and what one search answer of each puts in front of the model, and writes
//! docs/benchmarks.md; see [`compare`] and [`context`].

mod compare;
mod context;
mod idp;
mod load;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;

use crate::process::{Service, built_binary, cargo, workspace_root};

/// What `cargo xtask bench` measures.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Target {
    /// Emulator export: rows/s and resident memory for 10k, 100k and 1M rows.
    Export,
    /// splunk-client's export stream against Python splunk-sdk's JSONResultsReader, side by side.
    ClientExport,
    /// splunk-mcp against FastMCP and mcp-server-for-splunk under wrk: protocol path, search
    /// path, what reaches the model (bytes and tokens of a search answer), resource use and
    /// micro figures; writes docs/benchmarks.md.
    Compare,
}

/// Runs the chosen measurement and prints a table.
pub(crate) async fn run(target: Target, quick: bool) -> anyhow::Result<()> {
    match target {
        Target::Export => export(quick).await,
        Target::ClientExport => client_export(quick).await.map(drop),
        Target::Compare => compare::run(quick).await,
    }
}

struct ExportFigures {
    rows: u64,
    bytes: u64,
    elapsed: Duration,
    rss_before_kib: u64,
    rss_peak_kib: u64,
}

async fn export(quick: bool) -> anyhow::Result<()> {
    cargo(
        "build emulator (release)",
        &[
            "build",
            "--release",
            "--package",
            "splunk-emulator",
            "--bin",
            "splunk-emulator",
        ],
    )
    .await?;
    let emulator = Service::start(
        "splunk-emulator-bench",
        &built_binary("release", "splunk-emulator"),
        &["--bind", "127.0.0.1:0"],
    )
    .await?;
    let pid = emulator.pid().context("emulator pid")?;
    let http = reqwest::Client::new();
    let session_key = login(&http, &emulator.url).await?;

    let sizes: &[u64] = if quick {
        &[10_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    println!(
        "| rows | seconds | rows/s | MB/s | emulator RSS before (MiB) | peak RSS while streaming (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &rows in sizes {
        let figures = stream_export(&http, &emulator.url, &session_key, pid, rows).await?;
        if figures.rows != rows {
            bail!("export returned {} rows, expected {rows}", figures.rows);
        }
        let secs = figures.elapsed.as_secs_f64();
        println!(
            "| {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} |",
            figures.rows,
            secs,
            figures.rows as f64 / secs,
            figures.bytes as f64 / secs / 1e6,
            figures.rss_before_kib as f64 / 1024.0,
            figures.rss_peak_kib as f64 / 1024.0,
        );
    }
    emulator.stop().await
}

async fn login(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let body: serde_json::Value = http
        .post(format!("{url}/services/auth/login"))
        .form(&[
            ("username", "admin"),
            ("password", "changeme"),
            ("output_mode", "json"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body.get("sessionKey")
        .and_then(|key| key.as_str())
        .map(str::to_owned)
        .context("login answer without sessionKey")
}

/// Starts the export of `search index=bench | head {rows}` (all time) as admin.
async fn start_bench_export(
    http: &reqwest::Client,
    url: &str,
    session_key: &str,
    rows: u64,
) -> anyhow::Result<reqwest::Response> {
    let search = format!("search index=bench | head {rows}");
    Ok(http
        .post(format!("{url}/services/search/jobs/export"))
        .header("Authorization", format!("Splunk {session_key}"))
        .form(&[
            ("search", search.as_str()),
            ("output_mode", "json"),
            ("earliest_time", "0"),
        ])
        .send()
        .await?
        .error_for_status()?)
}

async fn stream_export(
    http: &reqwest::Client,
    url: &str,
    session_key: &str,
    pid: u32,
    rows: u64,
) -> anyhow::Result<ExportFigures> {
    let rss_before_kib = resident_kib(pid)?;
    let started = Instant::now();
    let response = start_bench_export(http, url, session_key, rows).await?;
    let mut body = response.bytes_stream();
    let (mut bytes, mut result_rows, mut rss_peak_kib) = (0u64, 0u64, rss_before_kib);
    let mut partial_line: Vec<u8> = Vec::new();
    let mut last_sample = Instant::now();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            partial_line.extend_from_slice(piece);
            if partial_line.ends_with(b"\n") {
                result_rows += u64::from(is_final_result_row(&partial_line)?);
                partial_line.clear();
            }
        }
        if last_sample.elapsed() >= Duration::from_millis(20) {
            rss_peak_kib = rss_peak_kib.max(resident_kib(pid)?);
            last_sample = Instant::now();
        }
    }
    if !partial_line.is_empty() {
        result_rows += u64::from(is_final_result_row(&partial_line)?);
    }
    let elapsed = started.elapsed();
    rss_peak_kib = rss_peak_kib.max(resident_kib(pid)?);
    Ok(ExportFigures {
        rows: result_rows,
        bytes,
        elapsed,
        rss_before_kib,
        rss_peak_kib,
    })
}

/// Whether an export line is a final (non-preview) result row; a `messages` line is an error.
/// Only the line's head is looked at (Splunk puts `preview`, `offset` and `result` first), so the
/// debug-built xtask keeps up with the release-built emulator.
fn is_final_result_row(line: &[u8]) -> anyhow::Result<bool> {
    let head = String::from_utf8_lossy(&line[..line.len().min(96)]);
    if head.starts_with("{\"messages\"") {
        bail!(
            "export reported an error: {}",
            String::from_utf8_lossy(line)
        );
    }
    Ok(head.contains("\"preview\":false") && head.contains("\"result\":"))
}

/// The process's resident set size in KiB, from /proc.
fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS missing from /proc status")
}

/// splunk-sdk's newest release (3.x) needs Python 3.13; 2.1.1 is the newest that runs on the
/// `python3` these machines have. Pinned so runs stay comparable.
const SPLUNK_SDK: &str = "splunk-sdk==2.1.1";

/// One reader's figures, as the bench programs print them (one JSON line).
struct ReaderFigures {
    rows_per_sec: f64,
    seconds: f64,
    peak_rss_kib: u64,
}

/// The largest size's figures of `client-export`: rows/s of splunk-client and of splunk-sdk.
struct ClientExportSummary {
    rows: u64,
    /// Reading the export over HTTP from the emulator: (splunk-client, splunk-sdk).
    network: (f64, f64),
    /// Parsing the saved body from a file: (splunk-client, splunk-sdk).
    file: (f64, f64),
}

async fn client_export(quick: bool) -> anyhow::Result<ClientExportSummary> {
    cargo(
        "build emulator (release)",
        &[
            "build",
            "--release",
            "--package",
            "splunk-emulator",
            "--bin",
            "splunk-emulator",
        ],
    )
    .await?;
    cargo(
        "build splunk-client export bench (release)",
        &[
            "build",
            "--release",
            "--package",
            "splunk-client",
            "--example",
            "export_bench",
        ],
    )
    .await?;
    let python = python_venv().await?;
    let script = workspace_root().join("crates/splunk-client/bench/export_reader.py");
    let rust_bench = built_binary("release", "examples/export_bench");
    let emulator = Service::start(
        "splunk-emulator-client-bench",
        &built_binary("release", "splunk-emulator"),
        &["--bind", "127.0.0.1:0"],
    )
    .await?;
    let sizes: &[u64] = if quick {
        &[10_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    println!("| rows | reader | seconds | rows/s | peak RSS (MiB) |");
    println!("|---:|---|---:|---:|---:|");
    let mut ratios = Vec::new();
    let mut network = (0.0, 0.0);
    for &rows in sizes {
        let rows_arg = rows.to_string();
        let args = ["--url", emulator.url.as_str(), "--rows", rows_arg.as_str()];
        let rust = run_reader(rust_bench.as_os_str(), &[], &args).await?;
        let py = run_reader(python.as_os_str(), &[script.as_os_str()], &args).await?;
        print_reader_rows(rows, "splunk-client (Rust)", &rust, &py);
        network = (rust.rows_per_sec, py.rows_per_sec);
        ratios.push((
            rows,
            rust.rows_per_sec / py.rows_per_sec,
            py.peak_rss_kib as f64 / rust.peak_rss_kib.max(1) as f64,
        ));
    }
    println!();
    for (rows, speed, memory) in ratios {
        println!(
            "{rows} rows: splunk-client reads {speed:.1}x as many rows/s as splunk-sdk, with {memory:.1}x less peak memory"
        );
    }

    // Over the network both readers wait on the emulator; a saved body times the parsers alone.
    let rows = *sizes.last().context("no sizes")?;
    let body = workspace_root()
        .join("target")
        .join(format!("bench-export-{rows}.ndjson"));
    let http = reqwest::Client::new();
    let session_key = login(&http, &emulator.url).await?;
    save_export(&http, &emulator.url, &session_key, rows, &body).await?;
    emulator.stop().await?;
    let rows_arg = rows.to_string();
    let body_arg = body.to_string_lossy().into_owned();
    let args = ["--file", body_arg.as_str(), "--rows", rows_arg.as_str()];
    let rust = run_reader(rust_bench.as_os_str(), &[], &args).await?;
    let py = run_reader(python.as_os_str(), &[script.as_os_str()], &args).await?;
    println!();
    println!("Parsers alone, reading the saved {rows}-row export body from a file:");
    println!("| rows | reader | seconds | rows/s | peak RSS (MiB) |");
    println!("|---:|---|---:|---:|---:|");
    print_reader_rows(rows, "splunk-client ExportDecoder (Rust)", &rust, &py);
    println!(
        "{rows} rows from a file: splunk-client parses {:.1}x as many rows/s as splunk-sdk, with {:.1}x less peak memory",
        rust.rows_per_sec / py.rows_per_sec,
        py.peak_rss_kib as f64 / rust.peak_rss_kib.max(1) as f64
    );
    std::fs::remove_file(&body).ok();
    Ok(ClientExportSummary {
        rows,
        network,
        file: (rust.rows_per_sec, py.rows_per_sec),
    })
}

/// Saves the body of `search index=bench | head N`'s export to a file, streaming.
async fn save_export(
    http: &reqwest::Client,
    url: &str,
    session_key: &str,
    rows: u64,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use std::io::Write;
    let response = start_bench_export(http, url, session_key, rows).await?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        file.write_all(&chunk?)?;
    }
    file.flush()?;
    Ok(())
}

/// Creates `target/bench-venv` with the pinned splunk-sdk (once) and returns its interpreter.
async fn python_venv() -> anyhow::Result<std::path::PathBuf> {
    let venv = workspace_root().join("target").join("bench-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run_step(
            "create the Python venv",
            "python3",
            &["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
        )
        .await?;
    }
    let pip = venv.join("bin").join("pip");
    run_step(
        "install splunk-sdk",
        pip.as_os_str(),
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SPLUNK_SDK,
        ]
        .map(std::ffi::OsStr::new),
    )
    .await?;
    Ok(python)
}

async fn run_step(
    step: &str,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&std::ffi::OsStr],
) -> anyhow::Result<()> {
    crate::progress::say(step);
    let status = tokio::process::Command::new(program)
        .args(args)
        .status()
        .await
        .with_context(|| format!("starting: {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

/// Runs one reader process and reads the JSON line it prints.
/// Prints one table row per reader: the Rust one under `rust_label`, then splunk-sdk.
fn print_reader_rows(rows: u64, rust_label: &str, rust: &ReaderFigures, py: &ReaderFigures) {
    for (name, figures) in [
        (rust_label, rust),
        ("splunk-sdk JSONResultsReader (Python)", py),
    ] {
        println!(
            "| {rows} | {name} | {:.2} | {:.0} | {:.1} |",
            figures.seconds,
            figures.rows_per_sec,
            figures.peak_rss_kib as f64 / 1024.0
        );
    }
}

async fn run_reader(
    program: &std::ffi::OsStr,
    leading: &[&std::ffi::OsStr],
    args: &[&str],
) -> anyhow::Result<ReaderFigures> {
    let output = tokio::process::Command::new(program)
        .args(leading)
        .args(args)
        .output()
        .await
        .with_context(|| format!("starting {}", program.to_string_lossy()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): {}",
            program.to_string_lossy(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let figures: serde_json::Value =
        serde_json::from_str(line.trim()).with_context(|| format!("reader printed {line:?}"))?;
    let number = |name: &str| {
        figures
            .get(name)
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("reader output lacks {name}"))
    };
    Ok(ReaderFigures {
        rows_per_sec: number("rows_per_sec")?,
        seconds: number("seconds")?,
        peak_rss_kib: number("peak_rss_kib")? as u64,
    })
}
