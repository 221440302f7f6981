//! Splitting SPL into commands and commands into tokens.
//!
//! SPL has no single token grammar: in a search `-24h`, `/var/log/x.log` and `10.0.0.*` are each
//! one term, while in `eval` `a-b` is a subtraction. The lexer therefore runs in a [`Mode`] chosen
//! by the command being parsed.

use super::SplError;

/// How characters group into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Search terms: words run until whitespace, quotes, parentheses or comparison operators;
    /// `[...]` is a subsearch.
    Search,
    /// Command arguments (`fields a, b`, `stats count(x) by y`): like [`Mode::Search`], but
    /// commas separate.
    Arguments,
    /// `eval`/`where` expressions: identifiers, numbers and arithmetic operators.
    Expression,
}

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A bare word (term, field name, number, keyword).
    Word(String),
    /// A `"double-quoted"` string, escapes resolved.
    Quoted(String),
    /// A `'single-quoted'` field name (expressions only).
    FieldName(String),
    /// An operator or punctuation: `= == != < <= > >= + - * / % . , ( )`.
    Symbol(&'static str),
    /// The text inside `[...]` (search mode only).
    Subsearch(String),
}

impl Token {
    /// True when this is the bare word `keyword`, compared case-insensitively.
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

/// Splits a whole search into its commands at `|`, ignoring pipes inside quotes and `[...]`.
pub(crate) fn split_pipeline(text: &str) -> Result<Vec<&str>, SplError> {
    let mut segments = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut chars = text.char_indices();
    while let Some((position, character)) = chars.next() {
        match character {
            '"' => skip_quoted(&mut chars, '"')?,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => {
                segments.push(&text[start..position]);
                start = position + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(SplError::Syntax(
            "Error in 'SearchParser': Mismatched ']'.".to_string(),
        ));
    }
    segments.push(&text[start..]);
    Ok(segments)
}

/// Advances past a quoted string whose opening quote was just read.
fn skip_quoted(chars: &mut std::str::CharIndices<'_>, quote: char) -> Result<(), SplError> {
    let mut escaped = false;
    for (_, character) in chars.by_ref() {
        if escaped {
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == quote {
            return Ok(());
        }
    }
    Err(SplError::Syntax(
        "Error in 'SearchParser': Unbalanced quotes.".to_string(),
    ))
}

const TWO_CHAR_SYMBOLS: [&str; 4] = ["==", "!=", "<=", ">="];
const ONE_CHAR_SYMBOLS: [&str; 13] = [
    "=", "<", ">", "+", "-", "*", "/", "%", ".", ",", "(", ")", "!",
];

fn symbol(text: &str) -> Option<&'static str> {
    TWO_CHAR_SYMBOLS
        .into_iter()
        .chain(ONE_CHAR_SYMBOLS)
        .find(|candidate| text.starts_with(candidate))
}

/// Tokenizes one command's arguments.
pub(crate) fn tokenize(text: &str, mode: Mode) -> Result<Vec<Token>, SplError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut position = 0;
    while position < bytes.len() {
        let rest = &text[position..];
        let character = rest.chars().next().unwrap_or(' ');
        if character.is_whitespace() {
            position += character.len_utf8();
            continue;
        }
        if character == '"' || (character == '\'' && mode == Mode::Expression) {
            let (value, length) = read_quoted(rest, character)?;
            tokens.push(if character == '"' {
                Token::Quoted(value)
            } else {
                Token::FieldName(value)
            });
            position += length;
            continue;
        }
        if character == '[' && mode != Mode::Expression {
            let length = subsearch_length(rest)?;
            tokens.push(Token::Subsearch(rest[1..length - 1].to_string()));
            position += length;
            continue;
        }
        let length = match mode {
            Mode::Expression => expression_token(rest, &mut tokens)?,
            Mode::Search | Mode::Arguments => search_token(rest, mode, &mut tokens),
        };
        position += length;
    }
    Ok(tokens)
}

/// Reads `"..."` (or `'...'`) at the start of `text`; returns the unescaped value and length used.
fn read_quoted(text: &str, quote: char) -> Result<(String, usize), SplError> {
    let mut value = String::new();
    let mut escaped = false;
    for (offset, character) in text.char_indices().skip(1) {
        if escaped {
            // Splunk keeps the backslash unless it escapes a quote or a backslash.
            if character != quote && character != '\\' {
                value.push('\\');
            }
            value.push(character);
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == quote {
            return Ok((value, offset + character.len_utf8()));
        } else {
            value.push(character);
        }
    }
    Err(SplError::Syntax(
        "Error in 'SearchParser': Unbalanced quotes.".to_string(),
    ))
}

/// Length of the `[...]` at the start of `text`, brackets included, honouring nesting and quotes.
fn subsearch_length(text: &str) -> Result<usize, SplError> {
    let mut depth = 0usize;
    let mut chars = text.char_indices();
    while let Some((offset, character)) = chars.next() {
        match character {
            '"' => skip_quoted(&mut chars, '"')?,
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(offset + 1);
                }
            }
            _ => {}
        }
    }
    Err(SplError::Syntax(
        "Error in 'SearchParser': Mismatched ']'.".to_string(),
    ))
}

/// One search-mode token at the start of `text`; returns its length.
fn search_token(text: &str, mode: Mode, tokens: &mut Vec<Token>) -> usize {
    for candidate in ["!=", "<=", ">=", "=", "<", ">", "(", ")"]
        .into_iter()
        .chain((mode == Mode::Arguments).then_some(","))
    {
        if text.starts_with(candidate) {
            tokens.push(Token::Symbol(symbol(candidate).unwrap_or("=")));
            return candidate.len();
        }
    }
    let end = text
        .char_indices()
        .find(|&(offset, character)| {
            character.is_whitespace()
                || matches!(character, '"' | '(' | ')' | '=' | '<' | '>' | '[' | ']')
                || (character == ',' && mode == Mode::Arguments)
                || (character == '!' && text[offset + 1..].starts_with('='))
        })
        .map_or(text.len(), |(offset, _)| offset);
    // A stray `]` stands alone rather than stalling the lexer.
    let end = if end == 0 {
        text.chars().next().map_or(1, char::len_utf8)
    } else {
        end
    };
    tokens.push(Token::Word(text[..end].to_string()));
    end
}

/// One expression token at the start of `text`; returns its length.
fn expression_token(text: &str, tokens: &mut Vec<Token>) -> Result<usize, SplError> {
    let first = text.chars().next().unwrap_or(' ');
    if first.is_ascii_digit()
        || (first == '.' && text[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        let mut end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        // An exponent: 1e6, 2.5E-3.
        let rest = &text[end..];
        if rest.starts_with(['e', 'E']) {
            let after = rest[1..].strip_prefix(['+', '-']).unwrap_or(&rest[1..]);
            let digits = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            if digits > 0 {
                end += rest.len() - after.len() + digits;
            }
        }
        tokens.push(Token::Word(text[..end].to_string()));
        return Ok(end);
    }
    if first.is_alphanumeric() || first == '_' || first == '@' {
        let end = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '@' || c == ':'))
            .unwrap_or(text.len());
        tokens.push(Token::Word(text[..end].to_string()));
        return Ok(end);
    }
    match symbol(text) {
        Some(found) => {
            tokens.push(Token::Symbol(found));
            Ok(found.len())
        }
        None => Err(SplError::Syntax(format!("Unexpected character '{first}'."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(items: &[&str]) -> Vec<Token> {
        items
            .iter()
            .map(|item| match *item {
                "=" | "!=" | "<" | ">" | "<=" | ">=" | "(" | ")" | "," | "+" | "-" | "*" | "/"
                | "." | "==" => Token::Symbol(symbol(item).unwrap()),
                word => Token::Word(word.to_string()),
            })
            .collect()
    }

    #[test]
    fn splits_pipelines_outside_quotes_and_brackets() {
        let cases: &[(&str, &[&str])] = &[
            ("search a | head 5", &["search a ", " head 5"]),
            ("| makeresults", &["", " makeresults"]),
            (r#"search "a|b" | head"#, &[r#"search "a|b" "#, " head"]),
            (
                "search [search x | fields f] | head",
                &["search [search x | fields f] ", " head"],
            ),
            (r#"search "a\"|b""#, &[r#"search "a\"|b""#]),
        ];
        for (text, expected) in cases {
            assert_eq!(split_pipeline(text).unwrap(), *expected, "{text}");
        }
        assert!(split_pipeline("search \"open").is_err());
        assert!(split_pipeline("search [search x").is_err());
    }

    #[test]
    fn tokenizes_by_mode() {
        let cases: &[(&str, Mode, Vec<Token>)] = &[
            (
                "status=404 earliest=-24h@h",
                Mode::Search,
                words(&["status", "=", "404", "earliest", "=", "-24h@h"]),
            ),
            (
                "bytes>=100 host!=web-0*",
                Mode::Search,
                words(&["bytes", ">=", "100", "host", "!=", "web-0*"]),
            ),
            (
                "NOT (a OR b)",
                Mode::Search,
                words(&["NOT", "(", "a", "OR", "b", ")"]),
            ),
            ("a,b c", Mode::Search, words(&["a,b", "c"])),
            ("a, b c", Mode::Arguments, words(&["a", ",", "b", "c"])),
            (
                "count(x) AS c",
                Mode::Arguments,
                words(&["count", "(", "x", ")", "AS", "c"]),
            ),
            (
                "- count",
                Mode::Arguments,
                vec![Token::Word("-".into()), Token::Word("count".into())],
            ),
            (
                "x=a-b*2.5",
                Mode::Expression,
                words(&["x", "=", "a", "-", "b", "*", "2.5"]),
            ),
            (
                "a.b==1e3",
                Mode::Expression,
                words(&["a", ".", "b", "==", "1e3"]),
            ),
        ];
        for (text, mode, expected) in cases {
            assert_eq!(&tokenize(text, *mode).unwrap(), expected, "{text}");
        }
        assert_eq!(
            tokenize(r#"uri="/a b" 'my field'"#, Mode::Expression).unwrap(),
            vec![
                Token::Word("uri".into()),
                Token::Symbol("="),
                Token::Quoted("/a b".into()),
                Token::FieldName("my field".into())
            ]
        );
        assert_eq!(
            tokenize("a [search b | fields c] d", Mode::Search).unwrap(),
            vec![
                Token::Word("a".into()),
                Token::Subsearch("search b | fields c".into()),
                Token::Word("d".into())
            ]
        );
        assert_eq!(
            tokenize(r#""say \"hi\"""#, Mode::Search).unwrap(),
            vec![Token::Quoted(r#"say "hi""#.into())]
        );
    }
}
