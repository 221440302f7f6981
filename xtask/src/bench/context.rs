//! What reaches the model (issue 21): one `splunk_search` answer against one `run_oneshot_search`
//! answer of mcp-server-for-splunk for the same SPL at 100 and 1,000 rows, in bytes and in tokens,
//! the text content and the structured content apart, beside the rows each server returned.
//!
//! Tokens are counted by xtask/bench-peers/count_tokens.mjs with the o200k_base vocabulary that
//! the pinned npm package gpt-tokenizer ships, installed by `npm ci` from the lock file beside it,
//! so counting needs no network.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::idp::BenchIdp;
use super::load::{Call, Launch, call_once};
use crate::process::workspace_root;
use crate::progress::say;

/// The rows each server is asked for.
const ROWS: [u64; 2] = [100, 1_000];
/// The rows at which the issue sets its target.
const TARGET_ROWS: u64 = 100;
/// The target: splunk-mcp's text content at most this share of the peer's, in bytes.
const TARGET_TEXT_RATIO: f64 = 0.5;
/// The npm project (under the workspace root) that holds the token counter.
const NPM_PROJECT: &str = "xtask/bench-peers";
/// A host name of the `bench` index: every answer with rows contains one, whatever its format.
const EXPECT: &str = "bench-0";

/// The SPL both servers run: the newest `rows` events of the emulator's synthetic `bench` index,
/// with a handful of fields whose values vary from row to row as real ones do. The emulator has
/// no `random()` nor `streamstats`, so `| makeresults` rows would all be the same; the `bench`
/// index computes each event from its position, so the answers are the same on every run.
fn spl(rows: impl std::fmt::Display) -> String {
    format!(
        "search index=bench | head {rows} | eval bytes=value*49 \
         | table _time host status level user bytes"
    )
}

/// The token counter: Node and count_tokens.mjs with its installed packages.
pub(super) struct TokenCounter {
    script: PathBuf,
}

impl TokenCounter {
    /// Installs the counter's npm packages from their lock file (when missing or stale).
    pub(super) async fn install() -> anyhow::Result<Self> {
        crate::npm::ensure_project(NPM_PROJECT).await?;
        let script = workspace_root().join(NPM_PROJECT).join("count_tokens.mjs");
        Ok(Self { script })
    }

    /// The o200k_base token count of each text, in order.
    async fn count(&self, texts: &[&str]) -> anyhow::Result<Vec<u64>> {
        let mut child = tokio::process::Command::new("node")
            .arg(&self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting node for count_tokens.mjs")?;
        let mut stdin = child
            .stdin
            .take()
            .context("count_tokens.mjs without stdin")?;
        stdin
            .write_all(serde_json::to_string(texts)?.as_bytes())
            .await
            .context("writing to count_tokens.mjs")?;
        drop(stdin);
        let output = child
            .wait_with_output()
            .await
            .context("waiting for count_tokens.mjs")?;
        if !output.status.success() {
            bail!(
                "count_tokens.mjs failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let printed = String::from_utf8_lossy(&output.stdout);
        let answer: Value = serde_json::from_str(printed.trim())
            .with_context(|| format!("count_tokens.mjs printed {printed:?}"))?;
        let counts: Vec<u64> = answer
            .get("counts")
            .and_then(Value::as_array)
            .context("count_tokens.mjs printed no counts")?
            .iter()
            .map(|count| count.as_u64().context("a count that is no number"))
            .collect::<anyhow::Result<_>>()?;
        if counts.len() != texts.len() {
            bail!("{} counts for {} texts", counts.len(), texts.len());
        }
        Ok(counts)
    }
}

/// One tool answer as it reaches the model.
struct Answer {
    /// Rows in the answer: the length of its `rows` or `results` array.
    rows: Option<u64>,
    /// The `text` of each text item of `content`.
    texts: Vec<String>,
    /// `structuredContent` as compact JSON.
    structured: Option<String>,
}

impl Answer {
    fn of(result: &Value) -> Self {
        let texts: Vec<String> = result
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| item.get("text").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let structured = result.get("structuredContent");
        // splunk-mcp names its rows `rows`, mcp-server-for-splunk `results`; a server without
        // structured content may still put its JSON in the text.
        let rows = structured.and_then(row_count).or_else(|| {
            texts.iter().find_map(|text| {
                serde_json::from_str::<Value>(text)
                    .ok()
                    .as_ref()
                    .and_then(row_count)
            })
        });
        Self {
            rows,
            texts,
            structured: structured.map(Value::to_string),
        }
    }
}

fn row_count(answer: &Value) -> Option<u64> {
    ["rows", "results"]
        .iter()
        .find_map(|name| answer.get(name).and_then(Value::as_array))
        .map(|rows| rows.len() as u64)
}

/// One answer's size: bytes and o200k_base tokens of its text and of its structured content.
#[derive(Clone, Copy)]
pub(super) struct AnswerSize {
    rows: Option<u64>,
    text_bytes: usize,
    /// `None` when no tokens could be counted (see [`ContextFigures::tokens_missing`]).
    text_tokens: Option<u64>,
    /// `None` when the answer had no structured content.
    structured_bytes: Option<usize>,
    structured_tokens: Option<u64>,
}

/// One row count: splunk-mcp's answer and the peer's.
pub(super) struct ContextPoint {
    rows_asked: u64,
    ours: AnswerSize,
    /// `None` when the peer was not run, `Err` with the reason when it gave no answer.
    peer: Option<Result<AnswerSize, String>>,
}

/// Everything the context table shows.
pub(super) struct ContextFigures {
    points: Vec<ContextPoint>,
    /// Why no tokens were counted (a quick run whose counter could not be installed).
    tokens_missing: Option<String>,
}

/// Launches splunk-mcp and the peer once more (with their own logs), makes one call per row
/// count to each, and counts the tokens of what came back.
pub(super) async fn measure(
    http: &reqwest::Client,
    idp: &BenchIdp,
    ours: &Launch,
    peer: Option<&Launch>,
    counter: Result<&TokenCounter, &str>,
) -> anyhow::Result<ContextFigures> {
    let our_answers = answers_of(http, idp, ours, |rows| {
        json!({"name": "splunk_search", "arguments": {"spl": spl(rows), "max_results": rows}})
    })
    .await?;
    let peer_answers = match peer {
        None => None,
        Some(launch) => {
            // The peer takes `count` (a page of at most 100 rows) and searches the last 15
            // minutes unless told otherwise; splunk-mcp's default range is the last 24 hours.
            let answers = answers_of(http, idp, launch, |rows| {
                json!({"name": "run_oneshot_search", "arguments": {
                    "query": spl(rows), "count": rows, "earliest_time": "-24h",
                }})
            })
            .await;
            if let Err(error) = &answers {
                say(format_args!(
                    "{} gave no answer for the context table: {error:#}",
                    launch.name
                ));
            }
            Some(answers.map_err(|error| format!("{error:#}")))
        }
    };

    // Every text and structured content, ours then the peer's, counted in one Node process.
    let mut texts: Vec<&str> = Vec::new();
    let every_answer = our_answers.iter().chain(
        peer_answers
            .as_ref()
            .and_then(|answers| answers.as_ref().ok())
            .into_iter()
            .flatten(),
    );
    for answer in every_answer {
        texts.extend(answer.texts.iter().map(String::as_str));
        texts.extend(answer.structured.as_deref());
    }
    let (mut counts, tokens_missing) = match counter {
        Ok(counter) => (Some(counter.count(&texts).await?.into_iter()), None),
        Err(reason) => (None, Some(reason.to_owned())),
    };
    let mut size_of = |answer: &Answer| {
        let mut next = |n: usize| -> Option<u64> {
            let counts = counts.as_mut()?;
            Some((0..n).filter_map(|_| counts.next()).sum())
        };
        let text_tokens = next(answer.texts.len());
        let structured_tokens = answer.structured.as_ref().and_then(|_| next(1));
        AnswerSize {
            rows: answer.rows,
            text_bytes: answer.texts.iter().map(String::len).sum(),
            text_tokens,
            structured_bytes: answer.structured.as_ref().map(String::len),
            structured_tokens,
        }
    };
    let our_sizes: Vec<AnswerSize> = our_answers.iter().map(&mut size_of).collect();
    let peer_sizes: Option<Result<Vec<AnswerSize>, String>> = peer_answers
        .map(|answers| answers.map(|answers| answers.iter().map(&mut size_of).collect()));
    let points = ROWS
        .iter()
        .zip(our_sizes)
        .enumerate()
        .map(|(i, (&rows_asked, ours))| ContextPoint {
            rows_asked,
            ours,
            peer: peer_sizes.as_ref().map(|sizes| match sizes {
                Ok(sizes) => sizes.get(i).copied().ok_or_else(|| "no answer".to_owned()),
                Err(reason) => Err(reason.clone()),
            }),
        })
        .collect();
    Ok(ContextFigures {
        points,
        tokens_missing,
    })
}

/// Starts `launch`, makes one call per entry of [`ROWS`] with the params `params` gives, and
/// stops it again.
async fn answers_of(
    http: &reqwest::Client,
    idp: &BenchIdp,
    launch: &Launch,
    params: impl Fn(u64) -> Value,
) -> anyhow::Result<Vec<Answer>> {
    let server = launch.start().await?;
    let url = format!("{}/mcp", server.base);
    let token = idp.token(&url, "splunk:read splunk:search")?;
    let mut answers = Vec::new();
    for rows in ROWS {
        let call = Call {
            headers: vec![
                ("Authorization".to_owned(), format!("Bearer {token}")),
                ("MCP-Protocol-Version".to_owned(), "2025-11-25".to_owned()),
            ],
            body:
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params(rows)})
                    .to_string(),
            expect: EXPECT.to_owned(),
            expect_count: 1,
        };
        let result = first_answer(http, &url, &call)
            .await
            .with_context(|| format!("{} at {rows} rows", launch.name))?;
        let answer = Answer::of(&result);
        say(format_args!(
            "{} at {rows} rows: {} rows returned, {} bytes of text, {} bytes of structured content",
            launch.name,
            answer.rows.map_or("?".to_owned(), |rows| rows.to_string()),
            answer.texts.iter().map(String::len).sum::<usize>(),
            answer.structured.as_ref().map_or(0, String::len)
        ));
        answers.push(answer);
    }
    server.stop().await?;
    Ok(answers)
}

/// One successful answer; a server that has just started may refuse connections for a moment.
async fn first_answer(http: &reqwest::Client, url: &str, call: &Call) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match call_once(http, url, call).await {
            Ok(result) => return Ok(result),
            Err(error)
                if error.downcast_ref::<reqwest::Error>().is_some()
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Writes the context table: per row count one line for each server, the ratio of the text
/// bytes and, at [`TARGET_ROWS`], the verdict.
pub(super) fn render(out: &mut String, figures: &ContextFigures) -> std::fmt::Result {
    writeln!(
        out,
        "### What reaches the model: one `tools/call` per row count, `{}`",
        spl("N")
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Text is the `text` of the result's `content` items, structured is `structuredContent` as \
         compact JSON; tokens are o200k_base (GPT-4o/GPT-5) counted by gpt-tokenizer. \
         splunk-mcp is asked for `max_results` = N, mcp-server-for-splunk for `count` = N."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| rows asked | server | rows returned | text bytes | text tokens | structured bytes | structured tokens | text bytes, splunk-mcp ÷ peer | target |"
    )?;
    writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---|")?;
    let mut unequal_rows = false;
    for point in &figures.points {
        let peer = point.peer.as_ref().and_then(|peer| peer.as_ref().ok());
        let ratio = peer.map(|peer| point.ours.text_bytes as f64 / peer.text_bytes.max(1) as f64);
        let mut ratio_cell = ratio.map_or("–".to_owned(), |ratio| format!("{ratio:.2}×"));
        if let (Some(peer), Some(ours_rows), Some(peer_rows)) =
            (peer, point.ours.rows, peer.and_then(|peer| peer.rows))
            && ours_rows != peer_rows
            && ours_rows > 0
            && peer_rows > 0
        {
            unequal_rows = true;
            let per_row = (point.ours.text_bytes as f64 / ours_rows as f64)
                / (peer.text_bytes as f64 / peer_rows as f64).max(f64::EPSILON);
            write!(ratio_cell, " ({per_row:.2}× per row returned)")?;
        }
        let target = if point.rows_asked == TARGET_ROWS {
            let verdict = match ratio {
                Some(ratio) => super::compare::verdict(ratio <= TARGET_TEXT_RATIO).to_owned(),
                None => "no peer answer".to_owned(),
            };
            format!("text ≤ {TARGET_TEXT_RATIO}× the peer's bytes: {verdict}")
        } else {
            String::new()
        };
        writeln!(
            out,
            "| {} | splunk-mcp | {} | {ratio_cell} | {target} |",
            point.rows_asked,
            size_cells(&point.ours)
        )?;
        let peer_cells = match &point.peer {
            Some(Ok(peer)) => size_cells(peer),
            Some(Err(_)) => "no answer | – | – | – | –".to_owned(),
            None => "not run | – | – | – | –".to_owned(),
        };
        writeln!(
            out,
            "| {} | mcp-server-for-splunk | {peer_cells} | | |",
            point.rows_asked
        )?;
    }
    if unequal_rows {
        writeln!(out)?;
        writeln!(
            out,
            "mcp-server-for-splunk returns at most 100 rows a page (`count` is clamped to 1–100; \
             the rest is fetched with further calls); splunk-mcp returns up to its `max_results` cap \
             (1,000 by default). Where the rows differ, the ratio per row returned compares like \
             with like."
        )?;
    }
    if let Some(reason) = figures.points.iter().find_map(|point| match &point.peer {
        Some(Err(reason)) => Some(reason),
        _ => None,
    }) {
        writeln!(out)?;
        writeln!(
            out,
            "mcp-server-for-splunk gave no answer: {}",
            reason.replace('\n', " ")
        )?;
    }
    if let Some(reason) = &figures.tokens_missing {
        writeln!(out)?;
        writeln!(out, "No tokens counted: {}", reason.replace('\n', " "))?;
    }
    Ok(())
}

/// rows returned | text bytes | text tokens | structured bytes | structured tokens
fn size_cells(size: &AnswerSize) -> String {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "–".to_owned());
    format!(
        "{} | {} | {} | {} | {}",
        or_dash(size.rows.map(|rows| rows.to_string())),
        size.text_bytes,
        or_dash(size.text_tokens.map(|tokens| tokens.to_string())),
        or_dash(size.structured_bytes.map(|bytes| bytes.to_string())),
        or_dash(size.structured_tokens.map(|tokens| tokens.to_string())),
    )
}
