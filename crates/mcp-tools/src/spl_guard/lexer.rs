//! The SPL tokenizer: splits a search into words, quoted strings, pipes, brackets and macros.
//!
//! Only the structure that decides *which commands run* is recognised: `|`, `[`, `]`, `=`,
//! double-quoted strings with backslash escapes, backtick macros and triple-backtick comments.
//! Everything else is a word. Where Splunk's reading of a text is uncertain, the tokenizer either
//! picks the reading that exposes more commands (a backslash outside quotes never hides a `|`,
//! `[` or `]`) or refuses the text as ambiguous (see [`GuardError::Ambiguous`]).

use super::GuardError;

/// One token of a search, with its byte span in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// What the token is.
    pub(crate) kind: TokenKind<'a>,
    /// Byte offset of the first character.
    pub(crate) start: usize,
    /// Byte offset just past the last character.
    pub(crate) end: usize,
}

/// The kinds of token the guard cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind<'a> {
    /// A run of characters that are not whitespace and not one of `"|[]=` or a backtick.
    Word(&'a str),
    /// A double-quoted string, with `\"` and `\\` unescaped and every other backslash kept.
    Quoted(String),
    /// `=`, kept apart so `search="..."` and `index=x` can be told from a command name.
    Equals,
    /// `|`.
    Pipe,
    /// `[`, which opens a subsearch.
    Open,
    /// `]`, which closes a subsearch.
    Close,
    /// A backtick macro: the text between the backticks.
    Macro(&'a str),
}

/// The opening and closing fence of an SPL comment.
const COMMENT_FENCE: &str = "```";

/// Splits `text` into tokens; comments and whitespace are dropped.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, GuardError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let byte = bytes[pos];
        let start = pos;
        let kind = match byte {
            b if b.is_ascii_whitespace() => {
                pos += 1;
                continue;
            }
            b'|' => {
                pos += 1;
                TokenKind::Pipe
            }
            b'[' => {
                pos += 1;
                TokenKind::Open
            }
            b']' => {
                pos += 1;
                TokenKind::Close
            }
            b'=' => {
                pos += 1;
                TokenKind::Equals
            }
            b'"' => {
                let (content, next) = quoted(text, pos)?;
                pos = next;
                TokenKind::Quoted(content)
            }
            b'`' if text[pos..].starts_with(COMMENT_FENCE) => {
                let body = pos + COMMENT_FENCE.len();
                let close = text[body..]
                    .find(COMMENT_FENCE)
                    .ok_or(GuardError::UnclosedComment)?;
                pos = body + close + COMMENT_FENCE.len();
                // `dele```c```te` is `delete` if Splunk removes comments and `dele te` if it
                // replaces them with a space: refuse a comment glued to text on both sides.
                let glued_before = start
                    .checked_sub(1)
                    .and_then(|before| bytes.get(before))
                    .is_some_and(|b| !b.is_ascii_whitespace());
                let glued_after = bytes.get(pos).is_some_and(|b| !b.is_ascii_whitespace());
                if glued_before && glued_after {
                    return Err(GuardError::Ambiguous {
                        reason: "a ``` comment is joined to the text on both sides; put a space \
                                 before or after it",
                    });
                }
                continue;
            }
            b'`' => {
                let body = pos + 1;
                let close = text[body..].find('`').ok_or(GuardError::UnclosedMacro)?;
                pos = body + close + 1;
                TokenKind::Macro(&text[body..body + close])
            }
            _ => {
                pos = word_end(bytes, pos)?;
                TokenKind::Word(&text[start..pos])
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: pos,
        });
    }
    Ok(tokens)
}

/// Reads the double-quoted string opening at `open`; returns its content and the offset after it.
fn quoted(text: &str, open: usize) -> Result<(String, usize), GuardError> {
    let mut content = String::new();
    let mut chars = text[open + 1..].char_indices();
    while let Some((offset, ch)) = chars.next() {
        match ch {
            '"' => {
                // A comment fence inside a string is read one way if Splunk strips comments
                // before it parses strings and another way if it does not; refuse rather than
                // guess which one it does.
                if content.contains(COMMENT_FENCE) {
                    return Err(GuardError::Ambiguous {
                        reason: "a quoted string contains a ``` comment fence",
                    });
                }
                return Ok((content, open + 1 + offset + 1));
            }
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => content.push(escaped),
                Some((_, other)) => {
                    content.push('\\');
                    content.push(other);
                }
                None => break,
            },
            other => content.push(other),
        }
    }
    Err(GuardError::UnclosedQuote)
}

/// Finds the end of the word starting at `start`.
///
/// A backslash outside quotes is part of the word and escapes nothing structural, so `\|` still
/// reads as a pipe: if Splunk treats it as a literal instead, the guard only looked at more than
/// it had to. A quote after an odd run of backslashes is different: one reading makes it the
/// start of a string (which may hide a `| delete`), the other a literal (which may expose one),
/// so it is refused.
fn word_end(bytes: &[u8], start: usize) -> Result<usize, GuardError> {
    let mut pos = start;
    while pos < bytes.len() {
        match bytes[pos] {
            b'\\' => {
                let run_start = pos;
                while pos < bytes.len() && bytes[pos] == b'\\' {
                    pos += 1;
                }
                let odd = (pos - run_start) % 2 == 1;
                if odd && bytes.get(pos) == Some(&b'"') {
                    return Err(GuardError::Ambiguous {
                        reason: "a backslash-escaped quote appears outside a quoted string",
                    });
                }
            }
            b if b.is_ascii_whitespace() => break,
            b'"' | b'|' | b'[' | b']' | b'=' | b'`' => break,
            _ => pos += 1,
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind<'_>> {
        tokenize(text)
            .expect("tokenizes")
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn splits_structure_from_words() {
        assert_eq!(
            kinds("index=web |stats count [search x]"),
            vec![
                TokenKind::Word("index"),
                TokenKind::Equals,
                TokenKind::Word("web"),
                TokenKind::Pipe,
                TokenKind::Word("stats"),
                TokenKind::Word("count"),
                TokenKind::Open,
                TokenKind::Word("search"),
                TokenKind::Word("x"),
                TokenKind::Close,
            ]
        );
    }

    #[test]
    fn unescapes_quotes_and_backslashes_only() {
        assert_eq!(
            kinds(r#""a \"b\" \\ \| c""#),
            vec![TokenKind::Quoted(r#"a "b" \ \| c"#.to_owned())]
        );
    }

    #[test]
    fn drops_comments_and_keeps_macros() {
        assert_eq!(
            kinds("x ```a | delete``` `m(1)`"),
            vec![TokenKind::Word("x"), TokenKind::Macro("m(1)")]
        );
    }

    #[test]
    fn spans_are_byte_offsets() {
        let tokens = tokenize("ab =\"c\"").expect("tokenizes");
        let spans: Vec<_> = tokens.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(spans, vec![(0, 2), (3, 4), (4, 7)]);
    }

    #[test]
    fn even_backslashes_before_a_quote_are_not_ambiguous() {
        assert_eq!(
            kinds(r#"a\\"b""#),
            vec![TokenKind::Word(r"a\\"), TokenKind::Quoted("b".to_owned())]
        );
        assert!(matches!(
            tokenize(r#"a\"b"#),
            Err(GuardError::Ambiguous { .. })
        ));
    }
}
