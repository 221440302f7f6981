//! The SPL parser: pipeline text → [`Pipeline`] of typed commands.
//!
//! Each command parses its own arguments from tokens of the lexer mode it needs. Errors carry
//! Splunk's wording (`Error in 'head' command: ...`) because clients show them to people.

use super::SplError;
use super::ast::{
    AggregateFunction, Aggregation, BinaryOp, Command, CompareOp, Expr, InputLookup, MetadataKind,
    Pipeline, RexExtraction, SearchExpr, SortKey, SortMode, TopOptions,
};
use super::lexer::{Mode, Token, split_pipeline, tokenize};

/// Functions `eval`/`where` know; anything else is "unsupported or undefined" at parse time.
pub(crate) const EVAL_FUNCTIONS: &[&str] = &[
    "if",
    "case",
    "len",
    "lower",
    "upper",
    "tostring",
    "tonumber",
    "round",
    "coalesce",
    "isnull",
    "isnotnull",
    "like",
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "sqrt",
    "pow",
    "min",
    "max",
    "substr",
    "trim",
    "ltrim",
    "rtrim",
    "null",
    "true",
    "false",
    "now",
    "time",
    "in",
    "isnum",
    "isstr",
    "typeof",
    "strftime",
    "match",
    "replace",
    "mvcount",
    "exact",
];

/// Sorting keeps at most this many rows unless told otherwise, like Splunk's `sort`.
const DEFAULT_SORT_LIMIT: usize = 10_000;

fn command_error(command: &str, message: &str) -> SplError {
    SplError::Syntax(format!("Error in '{command}' command: {message}"))
}

/// Parses a whole search (`search ...` or `| generating ... | ...`).
pub(crate) fn parse_pipeline(text: &str) -> Result<Pipeline, SplError> {
    let text = text.trim();
    let leading_pipe = text.starts_with('|');
    let mut segments = split_pipeline(text)?;
    if leading_pipe {
        segments.remove(0);
    }
    let mut commands = Vec::with_capacity(segments.len());
    for (position, segment) in segments.into_iter().enumerate() {
        let segment = segment.trim();
        if segment.is_empty() {
            if position == 0 && !leading_pipe {
                commands.push(Command::Search(SearchExpr::everything()));
                continue;
            }
            return Err(SplError::Syntax(
                "Error in 'SearchParser': Missing a search command before '|'.".to_string(),
            ));
        }
        let (name, arguments) = segment
            .split_once(char::is_whitespace)
            .unwrap_or((segment, ""));
        let name = name.to_ascii_lowercase();
        if position == 0 && !leading_pipe && name != "search" {
            // The first command is `search` even when the word is left out.
            commands.push(Command::Search(parse_search_expression(segment)?));
            continue;
        }
        commands.push(parse_command(&name, arguments)?);
    }
    Ok(Pipeline {
        commands,
        leading_pipe,
    })
}

fn parse_command(name: &str, arguments: &str) -> Result<Command, SplError> {
    match name {
        "search" => Ok(Command::Search(parse_search_expression(arguments)?)),
        "head" => Ok(Command::Head(parse_count_argument("head", arguments)?)),
        "tail" => Ok(Command::Tail(parse_count_argument("tail", arguments)?)),
        "fields" => parse_fields(arguments),
        "table" => {
            let patterns = field_list(&mut Cursor::new(arguments, Mode::Arguments, "table")?, &[])?;
            Ok(Command::Table(patterns))
        }
        "rename" => parse_rename(arguments),
        "sort" => parse_sort(arguments),
        "dedup" => parse_dedup(arguments),
        "where" => {
            let mut cursor = Cursor::new(arguments, Mode::Expression, "where")?;
            let expression = parse_expression(&mut cursor)?;
            cursor.expect_end()?;
            Ok(Command::Where(expression))
        }
        "eval" => parse_eval(arguments),
        "stats" => {
            let mut cursor = Cursor::new(arguments, Mode::Arguments, "stats")?;
            let aggregations = parse_aggregations(&mut cursor)?;
            let by = parse_by_clause(&mut cursor)?;
            Ok(Command::Stats { aggregations, by })
        }
        "eventstats" => {
            let mut cursor = Cursor::new(arguments, Mode::Arguments, "eventstats")?;
            let aggregations = parse_aggregations(&mut cursor)?;
            let by = parse_by_clause(&mut cursor)?;
            Ok(Command::EventStats { aggregations, by })
        }
        "chart" => parse_chart(arguments),
        "top" | "rare" => parse_top(name, arguments),
        "makeresults" => {
            let mut cursor = Cursor::new(arguments, Mode::Arguments, "makeresults")?;
            let mut count = 1;
            while let Some((option, value)) = cursor.option()? {
                if option == "count" {
                    count = value
                        .parse()
                        .map_err(|_| command_error("makeresults", "Invalid argument: 'count'"))?;
                }
            }
            cursor.expect_end()?;
            Ok(Command::MakeResults { count })
        }
        "metadata" => parse_metadata(arguments),
        "tstats" => parse_tstats(arguments),
        "eventcount" => parse_eventcount(arguments),
        "fillnull" => parse_fillnull(arguments),
        "bin" | "bucket" => parse_bin(arguments),
        "timechart" => parse_timechart(arguments),
        "rex" => parse_rex(arguments),
        "inputlookup" => parse_inputlookup(arguments),
        _ => Err(SplError::UnknownCommand(name.to_string())),
    }
}

/// A position in a token list, with the command name for error messages.
struct Cursor {
    tokens: Vec<Token>,
    position: usize,
    command: &'static str,
}

impl Cursor {
    fn new(text: &str, mode: Mode, command: &'static str) -> Result<Self, SplError> {
        Ok(Self {
            tokens: tokenize(text, mode)?,
            position: 0,
            command,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.position + offset)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += usize::from(token.is_some());
        token
    }

    fn is_done(&self) -> bool {
        self.position >= self.tokens.len()
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol);
        self.position += usize::from(found);
        found
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|token| token.is_keyword(keyword));
        self.position += usize::from(found);
        found
    }

    /// Reads `name=value` if it comes next; the name is lowercased.
    fn option(&mut self) -> Result<Option<(String, String)>, SplError> {
        let is_option = matches!(
            (self.peek(), self.peek_at(1)),
            (Some(Token::Word(_)), Some(Token::Symbol("=")))
        );
        if !is_option {
            return Ok(None);
        }
        let Some(Token::Word(name)) = self.next() else {
            return Ok(None);
        };
        self.next();
        let value = match self.next() {
            Some(Token::Word(value) | Token::Quoted(value)) => value,
            _ => return Err(self.error(&format!("Invalid argument: '{name}'"))),
        };
        Ok(Some((name.to_ascii_lowercase(), value)))
    }

    /// A field name: a bare word or a quoted string.
    fn name(&mut self) -> Option<String> {
        match self.peek() {
            Some(Token::Word(word)) => {
                let word = word.clone();
                self.position += 1;
                Some(word)
            }
            Some(Token::Quoted(text) | Token::FieldName(text)) => {
                let text = text.clone();
                self.position += 1;
                Some(text)
            }
            _ => None,
        }
    }

    fn error(&self, message: &str) -> SplError {
        command_error(self.command, message)
    }

    fn malformed(&self) -> SplError {
        self.error("The expression is malformed.")
    }

    fn expect_end(&self) -> Result<(), SplError> {
        match self.peek() {
            None => Ok(()),
            Some(_) if matches!(self.command, "eval" | "where") => Err(self.malformed()),
            Some(token) => Err(self.error(&format!("Invalid argument: '{}'", token_text(token)))),
        }
    }
}

fn token_text(token: &Token) -> String {
    match token {
        Token::Word(text) | Token::Quoted(text) | Token::FieldName(text) => text.clone(),
        Token::Symbol(symbol) => (*symbol).to_string(),
        Token::Subsearch(text) => format!("[{text}]"),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Some(true),
        "false" | "f" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `head`/`tail`: `N`, `limit=N` or nothing (10).
fn parse_count_argument(command: &'static str, arguments: &str) -> Result<u64, SplError> {
    let invalid = || command_error(command, "The argument must be a positive integer.");
    let mut cursor = Cursor::new(arguments, Mode::Arguments, command)?;
    let mut count = 10;
    while !cursor.is_done() {
        if let Some((option, value)) = cursor.option()? {
            match option.as_str() {
                "limit" | "count" => count = value.parse().map_err(|_| invalid())?,
                _ => return Err(invalid()),
            }
        } else {
            match cursor.next() {
                Some(Token::Word(word)) => count = word.parse().map_err(|_| invalid())?,
                _ => return Err(invalid()),
            }
        }
    }
    Ok(count)
}

/// Field names separated by spaces or commas, up to the end or one of `stop` keywords.
fn field_list(cursor: &mut Cursor, stop: &[&str]) -> Result<Vec<String>, SplError> {
    let mut names = Vec::new();
    while let Some(token) = cursor.peek() {
        if stop.iter().any(|keyword| token.is_keyword(keyword)) {
            break;
        }
        if cursor.eat_symbol(",") {
            continue;
        }
        match cursor.name() {
            Some(name) => names.push(name),
            None => {
                return Err(cursor.error(&format!(
                    "Invalid argument: '{}'",
                    token_text(&cursor.tokens[cursor.position])
                )));
            }
        }
    }
    Ok(names)
}

fn parse_fields(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "fields")?;
    let remove = match cursor.peek() {
        Some(Token::Word(sign)) if sign == "-" || sign == "+" => {
            let remove = sign == "-";
            cursor.next();
            remove
        }
        _ => false,
    };
    let patterns = field_list(&mut cursor, &[])?;
    if patterns.is_empty() {
        return Err(cursor.error("Must specify at least one field."));
    }
    Ok(Command::Fields { remove, patterns })
}

fn parse_rename(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "rename")?;
    let usage = || command_error("rename", "Usage: rename [old_name AS/TO/-> new_name]+.");
    let mut pairs = Vec::new();
    while !cursor.is_done() {
        if cursor.eat_symbol(",") {
            continue;
        }
        let from = cursor.name().ok_or_else(usage)?;
        if !(cursor.eat_keyword("as") || cursor.eat_keyword("to")) {
            return Err(usage());
        }
        let to = cursor.name().ok_or_else(usage)?;
        pairs.push((from, to));
    }
    if pairs.is_empty() {
        return Err(usage());
    }
    Ok(Command::Rename(pairs))
}

fn parse_sort(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "sort")?;
    let mut limit = Some(DEFAULT_SORT_LIMIT);
    let to_limit = |count: usize| (count > 0).then_some(count);
    if let Some(Token::Word(word)) = cursor.peek()
        && let Ok(count) = word.parse::<usize>()
    {
        limit = to_limit(count);
        cursor.next();
    }
    let mut keys = Vec::new();
    let mut pending_descending = None;
    while !cursor.is_done() {
        if cursor.eat_symbol(",") {
            continue;
        }
        if let Some((option, value)) = cursor.option()? {
            if option == "limit" {
                limit = to_limit(
                    value
                        .parse()
                        .map_err(|_| cursor.error("Invalid argument: 'limit'"))?,
                );
                continue;
            }
            return Err(cursor.error(&format!("Invalid argument: '{option}'")));
        }
        let Some(mut word) = cursor.name() else {
            return Err(cursor.error("Invalid argument."));
        };
        match word.as_str() {
            "-" | "+" => {
                pending_descending = Some(word == "-");
                continue;
            }
            "d" | "desc" if !keys.is_empty() && cursor.is_done() => {
                keys.iter_mut()
                    .for_each(|key: &mut SortKey| key.descending = !key.descending);
                continue;
            }
            _ => {}
        }
        let mut descending = pending_descending.take().unwrap_or(false);
        if let Some(rest) = word.strip_prefix('-') {
            descending = true;
            word = rest.to_string();
        } else if let Some(rest) = word.strip_prefix('+') {
            word = rest.to_string();
        }
        let mut mode = SortMode::Auto;
        if cursor.eat_symbol("(") {
            mode = match word.to_ascii_lowercase().as_str() {
                "num" => SortMode::Numeric,
                "str" => SortMode::Lexicographic,
                "auto" | "ip" => SortMode::Auto,
                _ => return Err(cursor.error(&format!("Invalid argument: '{word}'"))),
            };
            word = cursor
                .name()
                .ok_or_else(|| cursor.error("Invalid argument."))?;
            if !cursor.eat_symbol(")") {
                return Err(cursor.error("Invalid argument."));
            }
        }
        keys.push(SortKey {
            field: word,
            descending,
            mode,
        });
    }
    if keys.is_empty() {
        return Err(cursor.error("Must specify at least one field to sort by."));
    }
    Ok(Command::Sort { limit, keys })
}

fn parse_dedup(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "dedup")?;
    let mut keep = 1;
    let mut keep_empty = false;
    if let Some(Token::Word(word)) = cursor.peek()
        && let Ok(count) = word.parse::<u64>()
    {
        keep = count.max(1);
        cursor.next();
    }
    let mut fields = Vec::new();
    while !cursor.is_done() {
        if cursor.eat_symbol(",") {
            continue;
        }
        if let Some((option, value)) = cursor.option()? {
            if option == "keepempty" {
                keep_empty = parse_bool(&value).unwrap_or(false);
            }
            continue;
        }
        if cursor.eat_keyword("sortby") {
            // Reordering after dedup is rarely relied on; the rest of the arguments are ignored.
            break;
        }
        match cursor.name() {
            Some(name) => fields.push(name),
            None => return Err(cursor.error("Invalid argument.")),
        }
    }
    if fields.is_empty() {
        return Err(cursor.error("At least one field must be specified."));
    }
    Ok(Command::Dedup {
        keep,
        fields,
        keep_empty,
    })
}

fn parse_eval(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Expression, "eval")?;
    let mut assignments = Vec::new();
    while !cursor.is_done() {
        if cursor.eat_symbol(",") {
            continue;
        }
        let target = cursor.name().ok_or_else(|| cursor.malformed())?;
        if !cursor.eat_symbol("=") {
            return Err(cursor.malformed());
        }
        assignments.push((target, parse_expression(&mut cursor)?));
        if !cursor.is_done() && !cursor.eat_symbol(",") {
            return Err(cursor.malformed());
        }
    }
    if assignments.is_empty() {
        return Err(cursor.malformed());
    }
    Ok(Command::Eval(assignments))
}

/// `count, count(x) AS c, dc(y)` up to `by`, `where`, `from` or the end.
fn parse_aggregations(cursor: &mut Cursor) -> Result<Vec<Aggregation>, SplError> {
    parse_aggregations_with_options(cursor, &mut Vec::new())
}

/// Like [`parse_aggregations`], collecting `name=value` options met on the way into `options`.
fn parse_aggregations_with_options(
    cursor: &mut Cursor,
    options: &mut Vec<(String, String)>,
) -> Result<Vec<Aggregation>, SplError> {
    let mut aggregations = Vec::new();
    while let Some(token) = cursor.peek() {
        if ["by", "where", "from", "over"]
            .iter()
            .any(|keyword| token.is_keyword(keyword))
        {
            break;
        }
        if cursor.eat_symbol(",") {
            continue;
        }
        if let Some(option) = cursor.option()? {
            options.push(option);
            continue;
        }
        let Some(Token::Word(written)) = cursor.next() else {
            return Err(cursor.error("The argument is invalid."));
        };
        let function_name = written.to_ascii_lowercase();
        let function = AggregateFunction::from_name(&function_name)
            .ok_or_else(|| cursor.error(&format!("The argument '{written}' is invalid.")))?;
        let field = if cursor.eat_symbol("(") {
            let field = cursor
                .name()
                .ok_or_else(|| cursor.error(&format!("The argument '{written}(' is invalid.")))?;
            if !cursor.eat_symbol(")") {
                return Err(cursor.error(&format!("The argument '{written}({field}' is invalid.")));
            }
            Some(field)
        } else if function == AggregateFunction::Count {
            None
        } else {
            return Err(cursor.error(&format!("The argument '{written}' is invalid.")));
        };
        let name = if cursor.eat_keyword("as") {
            cursor
                .name()
                .ok_or_else(|| cursor.error("The argument 'as' is invalid."))?
        } else {
            match &field {
                Some(field) => format!("{function_name}({field})"),
                None => function_name,
            }
        };
        aggregations.push(Aggregation {
            function,
            field,
            name,
        });
    }
    if aggregations.is_empty() {
        return Err(cursor.error("This command requires at least one statistical function."));
    }
    Ok(aggregations)
}

fn parse_by_clause(cursor: &mut Cursor) -> Result<Vec<String>, SplError> {
    if cursor.is_done() {
        return Ok(Vec::new());
    }
    if !cursor.eat_keyword("by") {
        return Err(cursor.error(&format!(
            "Invalid argument: '{}'",
            token_text(&cursor.tokens[cursor.position])
        )));
    }
    let by = field_list(cursor, &[])?;
    if by.is_empty() {
        return Err(cursor.error("The 'by' clause requires at least one field."));
    }
    Ok(by)
}

fn parse_top(name: &str, arguments: &str) -> Result<Command, SplError> {
    let command = if name == "rare" { "rare" } else { "top" };
    let mut cursor = Cursor::new(arguments, Mode::Arguments, command)?;
    let mut options = TopOptions {
        rare: name == "rare",
        limit: 10,
        fields: Vec::new(),
        by: Vec::new(),
        count_field: "count".to_string(),
        percent_field: "percent".to_string(),
        show_count: true,
        show_percent: true,
    };
    if let Some(Token::Word(word)) = cursor.peek()
        && let Ok(limit) = word.parse::<usize>()
    {
        options.limit = limit;
        cursor.next();
    }
    while !cursor.is_done() {
        if cursor.eat_symbol(",") {
            continue;
        }
        if let Some((option, value)) = cursor.option()? {
            let invalid =
                || command_error(command, &format!("Invalid argument: '{option}={value}'"));
            match option.as_str() {
                "limit" => options.limit = value.parse().map_err(|_| invalid())?,
                "countfield" => options.count_field = value.clone(),
                "percentfield" => options.percent_field = value.clone(),
                "showcount" => options.show_count = parse_bool(&value).ok_or_else(invalid)?,
                "showperc" => options.show_percent = parse_bool(&value).ok_or_else(invalid)?,
                "useother" | "otherstr" => {}
                _ => return Err(invalid()),
            }
            continue;
        }
        if cursor.eat_keyword("by") {
            options.by = field_list(&mut cursor, &[])?;
            break;
        }
        match cursor.name() {
            Some(field) => options.fields.push(field),
            None => return Err(cursor.error("Invalid argument.")),
        }
    }
    if options.fields.is_empty() {
        return Err(cursor.error("Must specify at least one field."));
    }
    Ok(Command::Top(options))
}

fn parse_metadata(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "metadata")?;
    let mut kind = None;
    let mut indexes = Vec::new();
    while !cursor.is_done() {
        match cursor.option()? {
            Some((option, value)) if option == "type" => {
                kind = Some(match value.to_ascii_lowercase().as_str() {
                    "hosts" => MetadataKind::Hosts,
                    "sources" => MetadataKind::Sources,
                    "sourcetypes" => MetadataKind::Sourcetypes,
                    _ => {
                        return Err(cursor.error(&format!(
                            "Invalid type '{value}'. Valid values are: hosts, sources, sourcetypes."
                        )));
                    }
                })
            }
            Some((option, value)) if option == "index" => indexes.push(value),
            // Options such as `datatype=` or `splunk_server=` do not change what the emulator returns.
            Some(_) => {}
            None => {
                return Err(cursor.error(&format!(
                    "Invalid argument: '{}'",
                    token_text(&cursor.tokens[cursor.position])
                )));
            }
        }
    }
    let kind = kind.ok_or_else(|| cursor.error("The 'type' argument is required."))?;
    Ok(Command::Metadata { kind, indexes })
}

/// Byte offset of the first whole-word, unquoted, case-insensitive `keyword` in `text`.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    for (offset, character) in text.char_indices() {
        match character {
            '"' => in_quotes = !in_quotes,
            '[' if !in_quotes => depth += 1,
            ']' if !in_quotes => depth = depth.saturating_sub(1),
            _ => {}
        }
        if in_quotes || depth > 0 {
            continue;
        }
        let starts_word = offset == 0 || bytes[offset - 1].is_ascii_whitespace();
        let end = offset + keyword.len();
        let ends_word = end == text.len() || bytes.get(end).is_some_and(u8::is_ascii_whitespace);
        if starts_word
            && ends_word
            && text
                .get(offset..end)
                .is_some_and(|word| word.eq_ignore_ascii_case(keyword))
        {
            return Some(offset);
        }
    }
    None
}

fn parse_tstats(arguments: &str) -> Result<Command, SplError> {
    let (head, by_text) = match find_keyword(arguments, "by") {
        Some(offset) => (&arguments[..offset], Some(&arguments[offset + 2..])),
        None => (arguments, None),
    };
    let (aggregation_text, filter_text) = match find_keyword(head, "where") {
        Some(offset) => (&head[..offset], &head[offset + 5..]),
        None => (head, ""),
    };
    let mut cursor = Cursor::new(aggregation_text, Mode::Arguments, "tstats")?;
    let aggregations = parse_aggregations(&mut cursor)?;
    if cursor.eat_keyword("from") {
        return Err(cursor.error("Data models are not supported by this emulator."));
    }
    cursor.expect_end()?;
    let filter = parse_search_expression(filter_text)?;
    let by = match by_text {
        Some(text) => field_list(&mut Cursor::new(text, Mode::Arguments, "tstats")?, &[])?,
        None => Vec::new(),
    };
    Ok(Command::Tstats {
        aggregations,
        filter,
        by,
    })
}

/// `inputlookup [append=bool] [start=N] [max=N] [strict=bool] <table> [WHERE <search>]`.
fn parse_inputlookup(arguments: &str) -> Result<Command, SplError> {
    let (head, filter_text) = match find_keyword(arguments, "where") {
        Some(offset) => (&arguments[..offset], Some(&arguments[offset + 5..])),
        None => (arguments, None),
    };
    let mut cursor = Cursor::new(head, Mode::Arguments, "inputlookup")?;
    let count = |cursor: &Cursor, name: &str, value: &str| {
        value
            .parse::<usize>()
            .map_err(|_| cursor.error(&format!("Invalid value for '{name}': {value}")))
    };
    let mut lookup = InputLookup {
        table: String::new(),
        append: false,
        start: 0,
        max: None,
        filter: None,
    };
    while !cursor.is_done() {
        if let Some((option, value)) = cursor.option()? {
            match option.as_str() {
                "append" => {
                    lookup.append = parse_bool(&value)
                        .ok_or_else(|| cursor.error("Invalid value for 'append'."))?;
                }
                "start" => lookup.start = count(&cursor, "start", &value)?,
                "max" => lookup.max = Some(count(&cursor, "max", &value)?),
                // Errors on a missing table are always raised here; reading locally only changes
                // where a distributed search looks.
                "strict" | "local" => {}
                _ => return Err(cursor.error(&format!("Invalid argument: '{option}'"))),
            }
            continue;
        }
        match cursor.next() {
            Some(Token::Word(name) | Token::Quoted(name)) if lookup.table.is_empty() => {
                lookup.table = name;
            }
            Some(token) => {
                return Err(cursor.error(&format!("Invalid argument: '{}'", token_text(&token))));
            }
            None => break,
        }
    }
    if lookup.table.is_empty() {
        return Err(cursor.error("Missing the lookup table name."));
    }
    if let Some(text) = filter_text {
        lookup.filter = Some(parse_search_expression(text)?);
    }
    Ok(Command::InputLookup(lookup))
}

fn parse_eventcount(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "eventcount")?;
    let mut indexes = Vec::new();
    let mut summarize = true;
    while !cursor.is_done() {
        match cursor.option()? {
            Some((option, value)) if option == "index" => indexes.push(value),
            Some((option, value)) if option == "summarize" => {
                summarize = parse_bool(&value)
                    .ok_or_else(|| cursor.error("Invalid value for 'summarize'."))?;
            }
            Some(_) => {}
            None => return Err(cursor.error("Invalid argument.")),
        }
    }
    Ok(Command::EventCount { indexes, summarize })
}

fn parse_fillnull(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "fillnull")?;
    let mut value = "0".to_string();
    let mut fields = Vec::new();
    while !cursor.is_done() {
        if cursor.eat_symbol(",") {
            continue;
        }
        if let Some((option, given)) = cursor.option()? {
            if option == "value" {
                value = given;
            }
            continue;
        }
        fields.push(
            cursor
                .name()
                .ok_or_else(|| cursor.error("Invalid argument."))?,
        );
    }
    Ok(Command::FillNull { value, fields })
}

/// `30m`, `1h`, `2d`, `100`: a bin width in seconds (for `_time`) or in the field's own unit.
pub(crate) fn parse_span(text: &str) -> Option<f64> {
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let amount: f64 = text[..digits_end].parse().ok()?;
    let seconds_per_unit = match text[digits_end..].to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 7.0 * 86_400.0,
        // Calendar months vary; thirty days is close enough for an emulator's charts.
        "mon" | "month" | "months" => 30.0 * 86_400.0,
        _ => return None,
    };
    Some(amount * seconds_per_unit).filter(|span| *span > 0.0)
}

fn parse_bin(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "bin")?;
    let mut span = None;
    let mut field = None;
    let mut alias = None;
    while !cursor.is_done() {
        if let Some((option, value)) = cursor.option()? {
            if option == "span" {
                span = Some(parse_span(&value).ok_or_else(|| {
                    cursor.error(&format!("The value for option span ({value}) is invalid."))
                })?);
            }
            continue;
        }
        if field.is_some() && cursor.eat_keyword("as") {
            alias = Some(
                cursor
                    .name()
                    .ok_or_else(|| cursor.error("Invalid argument."))?,
            );
            continue;
        }
        field = Some(
            cursor
                .name()
                .ok_or_else(|| cursor.error("Invalid argument."))?,
        );
    }
    let field = field.ok_or_else(|| cursor.error("You must specify a field to bin."))?;
    Ok(Command::Bin { field, span, alias })
}

fn parse_chart(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "chart")?;
    let mut options = Vec::new();
    let aggregations = parse_aggregations_with_options(&mut cursor, &mut options)?;
    let mut row_field = None;
    if cursor.eat_keyword("over") {
        row_field = Some(
            cursor
                .name()
                .ok_or_else(|| cursor.error("The 'over' clause requires a field."))?,
        );
    }
    let mut by = parse_by_clause(&mut cursor)?.into_iter();
    if row_field.is_none() {
        row_field = by.next();
    }
    let series_field = by.next();
    if by.next().is_some() {
        return Err(cursor.error("The chart command takes at most two fields to split by."));
    }
    let mut limit = 10;
    for (option, value) in options {
        if option == "limit" {
            limit = value.parse().map_err(|_| {
                command_error(
                    "chart",
                    &format!("The value for option limit ({value}) is invalid."),
                )
            })?;
        }
    }
    Ok(Command::Chart {
        limit,
        aggregations,
        row_field,
        series_field,
    })
}

fn parse_timechart(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "timechart")?;
    let mut options = Vec::new();
    let aggregations = parse_aggregations_with_options(&mut cursor, &mut options)?;
    let by = parse_by_clause(&mut cursor)?;
    if by.len() > 1 {
        return Err(cursor.error("The 'by' clause of timechart takes a single field."));
    }
    let mut span = None;
    let mut limit = 10;
    for (option, value) in options {
        let invalid = || {
            command_error(
                "timechart",
                &format!("The value for option {option} ({value}) is invalid."),
            )
        };
        match option.as_str() {
            "span" => span = Some(parse_span(&value).ok_or_else(invalid)?),
            "limit" => limit = value.parse().map_err(|_| invalid())?,
            _ => {}
        }
    }
    Ok(Command::Timechart {
        span,
        limit,
        aggregations,
        by: by.into_iter().next(),
    })
}

/// Splunk's `\1` back-references in a replacement become the regex crate's `${1}`.
pub(crate) fn convert_replacement(replacement: &str) -> String {
    let mut converted = String::with_capacity(replacement.len());
    let mut characters = replacement.chars().peekable();
    while let Some(character) = characters.next() {
        match (character, characters.peek()) {
            ('\\', Some(digit)) if digit.is_ascii_digit() => {
                converted.push_str(&format!("${{{digit}}}"));
                characters.next();
            }
            ('$', _) => converted.push_str("$$"),
            _ => converted.push(character),
        }
    }
    converted
}

fn compile_regex(command: &str, pattern: &str) -> Result<regex::Regex, SplError> {
    regex::Regex::new(pattern).map_err(|error| {
        let detail = error.to_string();
        let last_line = detail.lines().last().unwrap_or("invalid regex").trim().to_string();
        command_error(
            command,
            &format!("Encountered the following error while compiling the regex '{pattern}': {last_line}."),
        )
    })
}

fn parse_rex(arguments: &str) -> Result<Command, SplError> {
    let mut cursor = Cursor::new(arguments, Mode::Arguments, "rex")?;
    let mut field = "_raw".to_string();
    let mut max_match = 1;
    let mut sed = false;
    let mut pattern = None;
    while !cursor.is_done() {
        if let Some((option, value)) = cursor.option()? {
            match option.as_str() {
                "field" => field = value,
                "max_match" => {
                    max_match = value
                        .parse()
                        .map_err(|_| cursor.error("Invalid max_match."))?
                }
                "mode" => sed = value.eq_ignore_ascii_case("sed"),
                _ => {}
            }
            continue;
        }
        match cursor.next() {
            Some(Token::Quoted(text)) => pattern = Some(text),
            _ => return Err(cursor.error("Invalid argument.")),
        }
    }
    let pattern = pattern.ok_or_else(|| cursor.error("Must specify a regular expression."))?;
    if sed {
        return parse_sed(field, &pattern);
    }
    let regex = compile_regex("rex", &pattern)?;
    if regex.capture_names().flatten().next().is_none() {
        return Err(cursor.error(&format!(
            "The regex '{pattern}' does not extract anything. It should specify at least one named group. Format: (?<name>...)."
        )));
    }
    Ok(Command::Rex {
        field,
        extraction: RexExtraction::Fields { regex, max_match },
    })
}

/// `s/regex/replacement/flags`, with any delimiter after the `s`.
fn parse_sed(field: String, expression: &str) -> Result<Command, SplError> {
    let invalid = || command_error("rex", &format!("Invalid sed expression '{expression}'."));
    let mut characters = expression.chars();
    if characters.next() != Some('s') {
        return Err(invalid());
    }
    let delimiter = characters.next().ok_or_else(invalid)?;
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for character in characters {
        if escaped {
            if character != delimiter {
                parts.last_mut().ok_or_else(invalid)?.push('\\');
            }
            parts.last_mut().ok_or_else(invalid)?.push(character);
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == delimiter {
            parts.push(String::new());
        } else {
            parts.last_mut().ok_or_else(invalid)?.push(character);
        }
    }
    let [pattern, replacement, flags] = <[String; 3]>::try_from(parts).map_err(|_| invalid())?;
    let regex = compile_regex("rex", &pattern)?;
    Ok(Command::Rex {
        field,
        extraction: RexExtraction::Sed {
            regex,
            replacement: convert_replacement(&replacement),
            global: flags.contains('g'),
        },
    })
}

/// Parses search-language terms: implicit AND binds loosest, then OR, then NOT, like Splunk.
pub(crate) fn parse_search_expression(text: &str) -> Result<SearchExpr, SplError> {
    let mut cursor = Cursor::new(text, Mode::Search, "search")?;
    let expression = parse_conjunction(&mut cursor)?;
    if !cursor.is_done() {
        return Err(search_error("Unbalanced parentheses."));
    }
    Ok(expression)
}

fn search_error(detail: &str) -> SplError {
    SplError::Syntax(format!(
        "Error in 'search' command: Unable to parse the search: {detail}"
    ))
}

fn is_exact_word(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(found)) if found == word)
}

fn parse_conjunction(cursor: &mut Cursor) -> Result<SearchExpr, SplError> {
    let mut parts = Vec::new();
    loop {
        match cursor.peek() {
            None | Some(Token::Symbol(")")) => break,
            token if is_exact_word(token, "AND") => {
                cursor.next();
                if parts.is_empty() || matches!(cursor.peek(), None | Some(Token::Symbol(")"))) {
                    return Err(search_error("AND must have a search term on each side."));
                }
            }
            _ => parts.push(parse_disjunction(cursor)?),
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        SearchExpr::And(parts)
    })
}

fn parse_disjunction(cursor: &mut Cursor) -> Result<SearchExpr, SplError> {
    let mut alternatives = vec![parse_negation(cursor)?];
    while is_exact_word(cursor.peek(), "OR") {
        cursor.next();
        alternatives.push(parse_negation(cursor)?);
    }
    Ok(if alternatives.len() == 1 {
        alternatives.remove(0)
    } else {
        SearchExpr::Or(alternatives)
    })
}

fn parse_negation(cursor: &mut Cursor) -> Result<SearchExpr, SplError> {
    if is_exact_word(cursor.peek(), "NOT") {
        cursor.next();
        return Ok(SearchExpr::Not(Box::new(parse_negation(cursor)?)));
    }
    parse_search_term(cursor)
}

fn parse_search_term(cursor: &mut Cursor) -> Result<SearchExpr, SplError> {
    match cursor.next() {
        Some(Token::Symbol("(")) => {
            let inner = parse_conjunction(cursor)?;
            if !cursor.eat_symbol(")") {
                return Err(search_error("Unbalanced parentheses."));
            }
            Ok(inner)
        }
        Some(Token::Subsearch(text)) => Ok(SearchExpr::Subsearch(text)),
        Some(Token::Quoted(phrase)) => Ok(SearchExpr::Phrase(phrase)),
        Some(Token::Word(word)) => {
            let operator = match cursor.peek() {
                Some(Token::Symbol(symbol)) => CompareOp::from_symbol(symbol),
                _ => None,
            };
            let Some(op) = operator else {
                return Ok(if word == "*" {
                    SearchExpr::everything()
                } else {
                    SearchExpr::Term(word)
                });
            };
            cursor.next();
            let value = match cursor.peek() {
                Some(Token::Word(value) | Token::Quoted(value)) => {
                    let value = value.clone();
                    cursor.next();
                    value
                }
                _ => String::new(),
            };
            Ok(SearchExpr::Compare {
                field: word,
                op,
                value,
            })
        }
        Some(Token::Symbol(")")) => Err(search_error("Unbalanced parentheses.")),
        Some(Token::Symbol(symbol)) => Err(search_error(&format!(
            "Comparator '{symbol}' is missing a term on the left hand side."
        ))),
        Some(Token::FieldName(text)) => Ok(SearchExpr::Term(text)),
        None => Err(search_error("Missing a search term.")),
    }
}

/// Expression grammar, loosest first: OR/XOR, AND, NOT, comparison, `+ - .`, `* / %`, unary minus.
fn parse_expression(cursor: &mut Cursor) -> Result<Expr, SplError> {
    let mut left = parse_and_expression(cursor)?;
    loop {
        let op = if cursor.eat_keyword("or") {
            BinaryOp::Or
        } else if cursor.eat_keyword("xor") {
            BinaryOp::Xor
        } else {
            return Ok(left);
        };
        let right = parse_and_expression(cursor)?;
        left = Expr::Binary(op, Box::new(left), Box::new(right));
    }
}

fn parse_and_expression(cursor: &mut Cursor) -> Result<Expr, SplError> {
    let mut left = parse_not_expression(cursor)?;
    while cursor.eat_keyword("and") {
        let right = parse_not_expression(cursor)?;
        left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(right));
    }
    Ok(left)
}

fn parse_not_expression(cursor: &mut Cursor) -> Result<Expr, SplError> {
    if cursor.eat_keyword("not") || cursor.eat_symbol("!") {
        return Ok(Expr::Not(Box::new(parse_not_expression(cursor)?)));
    }
    parse_comparison(cursor)
}

fn parse_comparison(cursor: &mut Cursor) -> Result<Expr, SplError> {
    let left = parse_additive(cursor)?;
    let op = match cursor.peek() {
        Some(Token::Symbol(symbol)) => CompareOp::from_symbol(symbol).map(BinaryOp::Compare),
        Some(token) if token.is_keyword("like") => Some(BinaryOp::Like),
        _ => None,
    };
    let Some(op) = op else { return Ok(left) };
    cursor.next();
    let right = parse_additive(cursor)?;
    Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
}

fn parse_additive(cursor: &mut Cursor) -> Result<Expr, SplError> {
    let mut left = parse_multiplicative(cursor)?;
    loop {
        let op = if cursor.eat_symbol("+") {
            BinaryOp::Add
        } else if cursor.eat_symbol("-") {
            BinaryOp::Subtract
        } else if cursor.eat_symbol(".") {
            BinaryOp::Concat
        } else {
            return Ok(left);
        };
        let right = parse_multiplicative(cursor)?;
        left = Expr::Binary(op, Box::new(left), Box::new(right));
    }
}

fn parse_multiplicative(cursor: &mut Cursor) -> Result<Expr, SplError> {
    let mut left = parse_unary(cursor)?;
    loop {
        let op = if cursor.eat_symbol("*") {
            BinaryOp::Multiply
        } else if cursor.eat_symbol("/") {
            BinaryOp::Divide
        } else if cursor.eat_symbol("%") {
            BinaryOp::Modulo
        } else {
            return Ok(left);
        };
        let right = parse_unary(cursor)?;
        left = Expr::Binary(op, Box::new(left), Box::new(right));
    }
}

fn parse_unary(cursor: &mut Cursor) -> Result<Expr, SplError> {
    if cursor.eat_symbol("-") {
        return Ok(Expr::Negate(Box::new(parse_unary(cursor)?)));
    }
    if cursor.eat_symbol("+") {
        return parse_unary(cursor);
    }
    parse_primary(cursor)
}

fn parse_primary(cursor: &mut Cursor) -> Result<Expr, SplError> {
    match cursor.next() {
        Some(Token::Quoted(text)) => Ok(Expr::Text(text)),
        Some(Token::FieldName(name)) => Ok(Expr::Field(name)),
        Some(Token::Symbol("(")) => {
            let inner = parse_expression(cursor)?;
            if !cursor.eat_symbol(")") {
                return Err(cursor.malformed());
            }
            Ok(inner)
        }
        Some(Token::Word(word)) if word.starts_with(|c: char| c.is_ascii_digit()) => word
            .parse()
            .map(Expr::Number)
            .map_err(|_| cursor.malformed()),
        Some(Token::Word(word)) => {
            if !cursor.eat_symbol("(") {
                return Ok(Expr::Field(word));
            }
            let name = word.to_ascii_lowercase();
            if !EVAL_FUNCTIONS.contains(&name.as_str()) {
                return Err(cursor.error(&format!(
                    "The '{word}' function is unsupported or undefined."
                )));
            }
            let mut arguments = Vec::new();
            if !cursor.eat_symbol(")") {
                loop {
                    arguments.push(parse_expression(cursor)?);
                    if cursor.eat_symbol(")") {
                        break;
                    }
                    if !cursor.eat_symbol(",") {
                        return Err(cursor.malformed());
                    }
                }
            }
            Ok(Expr::Call(name, arguments))
        }
        _ => Err(cursor.malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(text: &str) -> SearchExpr {
        SearchExpr::Term(text.to_string())
    }

    fn equals(field: &str, value: &str) -> SearchExpr {
        SearchExpr::Compare {
            field: field.to_string(),
            op: CompareOp::Equal,
            value: value.to_string(),
        }
    }

    #[test]
    fn parses_search_precedence() {
        let cases = [
            ("a b", SearchExpr::And(vec![term("a"), term("b")])),
            (
                "a b OR c",
                SearchExpr::And(vec![term("a"), SearchExpr::Or(vec![term("b"), term("c")])]),
            ),
            ("a AND b", SearchExpr::And(vec![term("a"), term("b")])),
            (
                "NOT a OR b",
                SearchExpr::Or(vec![SearchExpr::Not(Box::new(term("a"))), term("b")]),
            ),
            (
                "(a OR b) c",
                SearchExpr::And(vec![SearchExpr::Or(vec![term("a"), term("b")]), term("c")]),
            ),
            (
                "index=web status=404",
                SearchExpr::And(vec![equals("index", "web"), equals("status", "404")]),
            ),
            (r#"uri="/a b""#, equals("uri", "/a b")),
            (
                r#""failed password""#,
                SearchExpr::Phrase("failed password".to_string()),
            ),
            (
                "a or b",
                SearchExpr::And(vec![term("a"), term("or"), term("b")]),
            ),
            ("*", SearchExpr::everything()),
            ("", SearchExpr::everything()),
            (
                "bytes>100",
                SearchExpr::Compare {
                    field: "bytes".into(),
                    op: CompareOp::Greater,
                    value: "100".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_search_expression(text).unwrap(), expected, "{text}");
        }
        for text in ["(a", "a)", "a AND", "=b"] {
            assert!(parse_search_expression(text).is_err(), "{text}");
        }
    }

    #[test]
    fn parses_commands() {
        let cases: Vec<(&str, Command)> = vec![
            ("head", Command::Head(10)),
            ("head 5", Command::Head(5)),
            ("head limit=7", Command::Head(7)),
            ("tail 3", Command::Tail(3)),
            (
                "fields - a, b",
                Command::Fields {
                    remove: true,
                    patterns: vec!["a".into(), "b".into()],
                },
            ),
            (
                "fields a b*",
                Command::Fields {
                    remove: false,
                    patterns: vec!["a".into(), "b*".into()],
                },
            ),
            (
                "table a, b c",
                Command::Table(vec!["a".into(), "b".into(), "c".into()]),
            ),
            (
                "rename a AS b, c as \"d e\"",
                Command::Rename(vec![("a".into(), "b".into()), ("c".into(), "d e".into())]),
            ),
            (
                "sort 0 - count, +host num(x)",
                Command::Sort {
                    limit: None,
                    keys: vec![
                        SortKey {
                            field: "count".into(),
                            descending: true,
                            mode: SortMode::Auto,
                        },
                        SortKey {
                            field: "host".into(),
                            descending: false,
                            mode: SortMode::Auto,
                        },
                        SortKey {
                            field: "x".into(),
                            descending: false,
                            mode: SortMode::Numeric,
                        },
                    ],
                },
            ),
            (
                "sort -count",
                Command::Sort {
                    limit: Some(DEFAULT_SORT_LIMIT),
                    keys: vec![SortKey {
                        field: "count".into(),
                        descending: true,
                        mode: SortMode::Auto,
                    }],
                },
            ),
            (
                "dedup 2 host user",
                Command::Dedup {
                    keep: 2,
                    fields: vec!["host".into(), "user".into()],
                    keep_empty: false,
                },
            ),
            (
                "stats count, dc(user) AS users by host, status",
                Command::Stats {
                    aggregations: vec![
                        Aggregation {
                            function: AggregateFunction::Count,
                            field: None,
                            name: "count".into(),
                        },
                        Aggregation {
                            function: AggregateFunction::DistinctCount,
                            field: Some("user".into()),
                            name: "users".into(),
                        },
                    ],
                    by: vec!["host".into(), "status".into()],
                },
            ),
            ("makeresults count=3", Command::MakeResults { count: 3 }),
            (
                "metadata type=hosts index=web",
                Command::Metadata {
                    kind: MetadataKind::Hosts,
                    indexes: vec!["web".into()],
                },
            ),
            (
                "inputlookup http_status.csv",
                Command::InputLookup(InputLookup {
                    table: "http_status.csv".into(),
                    append: false,
                    start: 0,
                    max: None,
                    filter: None,
                }),
            ),
            (
                "inputlookup append=t start=2 max=5 http_status where status>=500 status_type=\"Server Error\"",
                Command::InputLookup(InputLookup {
                    table: "http_status".into(),
                    append: true,
                    start: 2,
                    max: Some(5),
                    filter: Some(SearchExpr::And(vec![
                        SearchExpr::Compare {
                            field: "status".into(),
                            op: CompareOp::GreaterOrEqual,
                            value: "500".into(),
                        },
                        equals("status_type", "Server Error"),
                    ])),
                }),
            ),
        ];
        for (text, expected) in cases {
            let (name, arguments) = text.split_once(' ').unwrap_or((text, ""));
            assert_eq!(parse_command(name, arguments).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn parses_top_and_tstats() {
        let Command::Top(top) = parse_command("top", "limit=3 status by host").unwrap() else {
            panic!()
        };
        assert_eq!(
            (top.limit, top.fields, top.by),
            (3, vec!["status".to_string()], vec!["host".to_string()])
        );
        let Command::Top(rare) = parse_command("rare", "5 user").unwrap() else {
            panic!()
        };
        assert!(rare.rare && rare.limit == 5);
        let Command::Tstats {
            aggregations,
            filter,
            by,
        } = parse_command(
            "tstats",
            "count where index=web sourcetype=access_* by host",
        )
        .unwrap()
        else {
            panic!()
        };
        assert_eq!(aggregations.len(), 1);
        assert_eq!(
            filter,
            SearchExpr::And(vec![
                equals("index", "web"),
                equals("sourcetype", "access_*")
            ])
        );
        assert_eq!(by, vec!["host".to_string()]);
    }

    #[test]
    fn parses_expressions() {
        let Command::Eval(assignments) =
            parse_command("eval", "x=1+2*3, y=if(a>1, \"big\", 'b c') . \"!\"").unwrap()
        else {
            panic!()
        };
        assert_eq!(assignments.len(), 2);
        assert_eq!(
            assignments[0].1,
            Expr::Binary(
                BinaryOp::Add,
                Box::new(Expr::Number(1.0)),
                Box::new(Expr::Binary(
                    BinaryOp::Multiply,
                    Box::new(Expr::Number(2.0)),
                    Box::new(Expr::Number(3.0))
                ))
            )
        );
        let Command::Where(condition) = parse_command("where", "a=1 OR b<2 AND NOT c").unwrap()
        else {
            panic!()
        };
        assert!(matches!(condition, Expr::Binary(BinaryOp::Or, _, _)));
    }

    #[test]
    fn reports_errors_like_splunk() {
        let cases = [
            (
                "search a | nosuchcommand",
                "Unknown search command 'nosuchcommand'.",
            ),
            (
                "search a | head x",
                "Error in 'head' command: The argument must be a positive integer.",
            ),
            (
                "search a | head -1",
                "Error in 'head' command: The argument must be a positive integer.",
            ),
            (
                "search a | eval x=",
                "Error in 'eval' command: The expression is malformed.",
            ),
            (
                "search a | eval x 1",
                "Error in 'eval' command: The expression is malformed.",
            ),
            (
                "search a | eval x=foo(1)",
                "Error in 'eval' command: The 'foo' function is unsupported or undefined.",
            ),
            (
                "search a | where (a",
                "Error in 'where' command: The expression is malformed.",
            ),
            (
                "search a | stats nope(x)",
                "Error in 'stats' command: The argument 'nope' is invalid.",
            ),
            (
                "search a | rename a",
                "Error in 'rename' command: Usage: rename [old_name AS/TO/-> new_name]+.",
            ),
            (
                "search a | | head",
                "Error in 'SearchParser': Missing a search command before '|'.",
            ),
            (
                "| metadata index=web",
                "Error in 'metadata' command: The 'type' argument is required.",
            ),
            (
                "| inputlookup max=5",
                "Error in 'inputlookup' command: Missing the lookup table name.",
            ),
            (
                "| inputlookup a.csv b.csv",
                "Error in 'inputlookup' command: Invalid argument: 'b.csv'",
            ),
            (
                "| inputlookup max=many a.csv",
                "Error in 'inputlookup' command: Invalid value for 'max': many",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(
                parse_pipeline(text).unwrap_err().to_string(),
                message,
                "{text}"
            );
        }
    }

    #[test]
    fn parses_pipelines() {
        let pipeline = parse_pipeline("search index=web | head 5").unwrap();
        assert!(!pipeline.leading_pipe);
        assert_eq!(
            pipeline.commands,
            vec![Command::Search(equals("index", "web")), Command::Head(5)]
        );
        let implicit = parse_pipeline("index=web").unwrap();
        assert_eq!(
            implicit.commands,
            vec![Command::Search(equals("index", "web"))]
        );
        let generating = parse_pipeline("| makeresults count=2 | eval x=1").unwrap();
        assert!(generating.leading_pipe);
        assert_eq!(generating.commands.len(), 2);
    }
}
