//! Incremental decoder of `search/jobs/export`'s newline-delimited JSON.
//!
//! The body can be gigabytes long, so it is decoded as it arrives: bytes are appended to one
//! buffer that only ever holds the current partial line (plus the unread lines of the latest
//! chunk), and each complete line becomes one row. Memory is bounded by the longest line, and
//! that is capped too.

use serde::Deserialize;

use crate::error::{Error, Message, Result};
use crate::wire;

/// One result row: field name → value (a string, or an array of strings for multivalue fields).
pub type Row = serde_json::Map<String, serde_json::Value>;

/// Longest accepted line by default: far above any real row, low enough to stop a runaway body.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Turns export body chunks, split anywhere, into final result rows.
///
/// Preview rows (`"preview":true`) are skipped; a line whose `messages` hold an `ERROR` or
/// `FATAL` message ends decoding with [`Error::SearchFailed`]; other messages are logged.
#[derive(Debug)]
pub struct ExportDecoder {
    buffer: Vec<u8>,
    /// Start of the first unread line in `buffer`.
    start: usize,
    /// Where to resume looking for `\n`, so a long partial line is scanned only once.
    scanned: usize,
    max_line_bytes: usize,
    rows: u64,
    saw_last_row: bool,
}

#[derive(Deserialize)]
struct ExportLine {
    #[serde(default, deserialize_with = "wire::flex_bool")]
    preview: bool,
    #[serde(default, deserialize_with = "wire::flex_bool")]
    lastrow: bool,
    #[serde(default)]
    result: Option<Row>,
    #[serde(default)]
    messages: Vec<Message>,
}

impl Default for ExportDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ExportDecoder {
    /// A decoder with the default line limit.
    pub fn new() -> Self {
        Self::with_max_line_bytes(DEFAULT_MAX_LINE_BYTES)
    }

    /// A decoder that refuses lines longer than `max_line_bytes`.
    pub fn with_max_line_bytes(max_line_bytes: usize) -> Self {
        Self {
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            max_line_bytes,
            rows: 0,
            saw_last_row: false,
        }
    }

    /// Appends a chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            // Drop the lines already read so the buffer never grows with the body.
            self.buffer.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The next final row among the complete lines received so far; `Ok(None)` when more bytes
    /// are needed.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        loop {
            let Some(offset) = self.buffer[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buffer.len();
                if self.scanned - self.start > self.max_line_bytes {
                    return Err(Error::decode(format!(
                        "an export line exceeds {} bytes",
                        self.max_line_bytes
                    )));
                }
                return Ok(None);
            };
            let end = self.scanned + offset;
            let (start, next) = (self.start, end + 1);
            self.start = next;
            self.scanned = next;
            if let Some(row) = self.decode_line(start, end)? {
                return Ok(Some(row));
            }
        }
    }

    /// Decodes what is left once the body has ended (a last line without `\n`).
    pub fn finish(&mut self) -> Result<Option<Row>> {
        if let Some(row) = self.next_row()? {
            return Ok(Some(row));
        }
        let (start, end) = (self.start, self.buffer.len());
        self.start = end;
        self.scanned = end;
        self.decode_line(start, end)
    }

    /// Final rows returned so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether a row marked `"lastrow":true` was seen (Splunk marks the last one).
    pub fn saw_last_row(&self) -> bool {
        self.saw_last_row
    }

    fn decode_line(&mut self, start: usize, end: usize) -> Result<Option<Row>> {
        let line = self.buffer[start..end].trim_ascii();
        if line.is_empty() {
            return Ok(None);
        }
        let parsed: ExportLine = serde_json::from_slice(line).map_err(|e| {
            Error::decode(format!("export line {} is not JSON: {e}", self.rows + 1))
        })?;
        if parsed.messages.iter().any(|m| m.kind.is_error()) {
            let (mut errors, others): (Vec<Message>, Vec<Message>) =
                parsed.messages.into_iter().partition(|m| m.kind.is_error());
            errors.extend(others);
            return Err(Error::SearchFailed { messages: errors });
        }
        for message in &parsed.messages {
            tracing::debug!(kind = ?message.kind, text = %message.text, "export message");
        }
        if parsed.lastrow {
            self.saw_last_row = true;
        }
        if parsed.preview {
            return Ok(None);
        }
        Ok(parsed.result.inspect(|_| self.rows += 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = concat!(
        r#"{"preview":true,"offset":0,"result":{"count":"1"}}"#,
        "\n",
        r#"{"preview":false,"offset":0,"result":{"_raw":"a \"quoted\" line\nwith newline","x":"1","mv":["a","b"]}}"#,
        "\r\n",
        "\n",
        r#"{"preview":false,"offset":1,"messages":[{"type":"INFO","text":"just so you know"}]}"#,
        "\n",
        r#"{"preview":false,"offset":1,"result":{"x":"2","u":"é✓"}}"#,
        "\n",
        r#"{"preview":false,"offset":2,"lastrow":true,"result":{"x":"3"}}"#,
    );

    fn decode_in_pieces(body: &[u8], cuts: &[usize]) -> Result<Vec<Row>> {
        let mut decoder = ExportDecoder::new();
        let mut rows = Vec::new();
        let mut previous = 0;
        for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
            decoder.push(&body[previous..cut]);
            previous = cut;
            while let Some(row) = decoder.next_row()? {
                rows.push(row);
            }
        }
        while let Some(row) = decoder.finish()? {
            rows.push(row);
        }
        Ok(rows)
    }

    #[test]
    fn same_rows_whatever_the_chunking() {
        let body = BODY.as_bytes();
        let whole = decode_in_pieces(body, &[]).unwrap();
        let xs: Vec<_> = whole.iter().map(|r| r["x"].as_str().unwrap()).collect();
        assert_eq!(xs, ["1", "2", "3"]);
        assert_eq!(whole[0]["_raw"], "a \"quoted\" line\nwith newline");
        assert_eq!(whole[0]["mv"], serde_json::json!(["a", "b"]));
        assert_eq!(whole[1]["u"], "é✓");
        // One cut at every position (splitting UTF-8 sequences and escapes too)...
        for cut in 1..body.len() {
            assert_eq!(
                decode_in_pieces(body, &[cut]).unwrap(),
                whole,
                "cut at {cut}"
            );
        }
        // ...and byte-by-byte.
        let every: Vec<usize> = (1..body.len()).collect();
        assert_eq!(decode_in_pieces(body, &every).unwrap(), whole);
    }

    #[test]
    fn counts_rows_and_notices_lastrow() {
        let mut decoder = ExportDecoder::new();
        decoder.push(BODY.as_bytes());
        while decoder.next_row().unwrap().is_some() {}
        assert!(!decoder.saw_last_row(), "the last line has no newline yet");
        assert!(decoder.finish().unwrap().is_some());
        assert_eq!(decoder.rows(), 3);
        assert!(decoder.saw_last_row());
    }

    #[test]
    fn error_messages_mid_stream_are_errors() {
        let body = concat!(
            r#"{"preview":false,"offset":0,"result":{"x":"1"}}"#,
            "\n",
            r#"{"messages":[{"type":"WARN","text":"w"},{"type":"FATAL","text":"Search was cancelled."}]}"#,
            "\n",
            r#"{"preview":false,"offset":1,"result":{"x":"2"}}"#,
            "\n",
        );
        for cut in 0..body.len() {
            let cuts: Vec<usize> = if cut == 0 { vec![] } else { vec![cut] };
            let error = decode_in_pieces(body.as_bytes(), &cuts).unwrap_err();
            match error {
                Error::SearchFailed { messages } => {
                    assert_eq!(messages[0].text, "Search was cancelled.");
                    assert_eq!(messages[1].text, "w");
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_and_oversized_lines_are_decode_errors() {
        let mut decoder = ExportDecoder::new();
        decoder.push(b"<html>oops</html>\n");
        assert!(matches!(decoder.next_row(), Err(Error::Decode { .. })));

        let mut small = ExportDecoder::with_max_line_bytes(16);
        small.push(b"{\"preview\":false,");
        assert!(matches!(small.next_row(), Err(Error::Decode { .. })));
    }

    #[test]
    fn buffer_stays_small_over_a_long_stream() {
        let line = br#"{"preview":false,"offset":0,"result":{"x":"1"}}"#;
        let mut decoder = ExportDecoder::new();
        let mut body = Vec::new();
        for _ in 0..100 {
            body.extend_from_slice(line);
            body.push(b'\n');
        }
        for _ in 0..1000 {
            for chunk in body.chunks(37) {
                decoder.push(chunk);
                while decoder.next_row().unwrap().is_some() {}
            }
        }
        assert_eq!(decoder.rows(), 100_000);
        assert!(
            decoder.buffer.capacity() < 4096,
            "{}",
            decoder.buffer.capacity()
        );
    }
}
