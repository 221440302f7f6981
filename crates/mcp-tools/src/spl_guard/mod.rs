//! The SPL guard: vets a Splunk search before it is sent, command by command.
//!
//! The guard tokenizes the search (it does not run regexes over the raw text) and finds every
//! command that Splunk will run: the first command of the main search, every command after a
//! `|`, the first command of every subsearch `[ ... ]` at any depth, and the commands of the
//! search string given to `map search="..."`, which is checked again as a search of its own.
//! Text inside double-quoted strings and inside ```` ``` ```` comments is never a command.
//!
//! Policy, all from [`GuardConfig`]:
//! - a deny-list of commands (by default the commands that delete, write to indexes, lookups or
//!   files, send mail or alerts, or run scripts), and an optional allow-list; deny wins;
//! - backtick macros are refused unless allowed, because their expansion lives in Splunk and
//!   can be any SPL (see [`MacroPolicy`]);
//! - `map` must be given its search inline, and without `$field$` tokens unless allowed;
//! - limits on length, pipes and subsearch depth.
//!
//! The guard is a second line of defence. Splunk's role-based access control is the first: a
//! caller whose role lacks `delete_by_keyword`, `run_collect` or `run_sendalert` cannot do
//! harm even with a search the guard let through. The crate README lists what the guard cannot
//! see.

pub(crate) mod lexer;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use lexer::{Token, TokenKind, tokenize};

/// The commands refused by default.
///
/// The first ten are the ones splunk-mcp has always refused. The rest complete Splunk's own list
/// of risky commands (the commands that trigger its "SPL safeguards" warning), minus `map`,
/// which the guard inspects instead of refusing:
/// - `sendalert` runs a custom alert action's script with the results on its stdin;
/// - `dump` writes the results to files on the search head's disk;
/// - `runshellscript` runs a scripted-alert shell script;
/// - `outputtelemetry` sends results to Splunk's telemetry service, off the premises;
/// - `summaryindex` is an older name of `collect`; denying a name that no longer exists
///   costs nothing;
/// - `rest` reaches any management endpoint with the caller's rights, including ones that take
///   a search as a parameter, which the guard would never see. Deployments that want it back
///   for catalog look-ups replace this list.
pub const DEFAULT_DENIED_COMMANDS: &[&str] = &[
    "delete",
    "collect",
    "outputlookup",
    "outputcsv",
    "sendemail",
    "script",
    "run",
    "tscollect",
    "mcollect",
    "meventcollect",
    "sendalert",
    "dump",
    "runshellscript",
    "outputtelemetry",
    "summaryindex",
    "rest",
];

/// The longest command or macro name the guard accepts; longer ones are refused as malformed.
const MAX_NAME_LENGTH: usize = 100;

/// What the guard does with backtick macros such as `` `my_macro(arg)` ``.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MacroPolicy {
    /// Refuse every macro not named in [`GuardConfig::allowed_macros`] (the default).
    ///
    /// A macro expands, inside Splunk, to SPL the guard never sees: `` `cleanup` `` can be
    /// defined as `| delete`. Only a macro an administrator has read and listed is safe.
    #[default]
    Refuse,
    /// Let every macro through, except one whose name or arguments contain a denied command's
    /// name as a word. What the macro expands to is still not inspected.
    Allow,
}

/// Configuration of the [`SplGuard`]; every field has a default, so `{}` is a valid config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GuardConfig {
    /// Commands that are always refused, compared without regard to case.
    /// Defaults to [`DEFAULT_DENIED_COMMANDS`]; setting it replaces that list.
    pub denied_commands: Vec<String>,
    /// When set, only these commands may run (allow-list mode). `search` must be listed, since
    /// a search that does not start with `|` runs it. The deny-list still applies.
    pub allowed_commands: Option<Vec<String>>,
    /// What to do with backtick macros.
    pub macros: MacroPolicy,
    /// Macros allowed even under [`MacroPolicy::Refuse`], by name without arguments
    /// (`my_macro` for `` `my_macro(1,2)` ``), compared exactly as Splunk does.
    pub allowed_macros: Vec<String>,
    /// Whether a `map search="..."` may contain `$field$` tokens. Off by default: Splunk
    /// substitutes them with values from the results at run time, so the search that finally
    /// runs can hold a `| delete` the guard never saw.
    pub allow_map_tokens: bool,
    /// The longest search accepted, in characters.
    pub max_length: usize,
    /// The most `|` a search may contain, counting subsearches and `map` searches.
    pub max_pipes: usize,
    /// The deepest nesting of subsearches (and `map` searches) accepted; `[ ]` is depth 1.
    pub max_subsearch_depth: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            denied_commands: DEFAULT_DENIED_COMMANDS
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            allowed_commands: None,
            macros: MacroPolicy::Refuse,
            allowed_macros: Vec::new(),
            allow_map_tokens: false,
            max_length: 10_000,
            max_pipes: 50,
            max_subsearch_depth: 3,
        }
    }
}

/// Where in a search a command or macro was found; its `Display` completes "found ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The main search, outside any subsearch.
    MainSearch,
    /// A subsearch; depth 1 is `[ ... ]`, depth 2 a subsearch inside that one, and so on.
    Subsearch {
        /// How deeply the subsearch is nested.
        depth: usize,
    },
    /// The search string of a `map search="..."`, or a subsearch inside it.
    MapSearch,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MainSearch => f.write_str("in the main search"),
            Self::Subsearch { depth: 1 } => f.write_str("in a subsearch"),
            Self::Subsearch { depth } => write!(f, "in a nested subsearch at depth {depth}"),
            Self::MapSearch => f.write_str("in the search string of a map command"),
        }
    }
}

/// Why the guard refused a search.
///
/// Every `Display` text is safe to show the caller (and the LLM behind it): it names the
/// refused command or the broken construct, and never echoes more of the search than a
/// validated command or macro name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The search is empty or only whitespace and comments.
    #[error("the SPL search is empty")]
    Empty,
    /// The search is longer than [`GuardConfig::max_length`].
    #[error("the SPL search is {length} characters long; the limit is {max}")]
    TooLong {
        /// Length of the search, in characters.
        length: usize,
        /// The configured limit.
        max: usize,
    },
    /// The search has more pipes than [`GuardConfig::max_pipes`].
    #[error("the SPL search has {pipes} pipes ('|'); the limit is {max}")]
    TooManyPipes {
        /// Pipes counted so far, including subsearches and `map` searches.
        pipes: usize,
        /// The configured limit.
        max: usize,
    },
    /// Subsearches (or `map` searches) are nested deeper than
    /// [`GuardConfig::max_subsearch_depth`].
    #[error("the SPL search nests subsearches more than {max} deep")]
    TooDeep {
        /// The configured limit.
        max: usize,
    },
    /// A command on the deny-list, or missing from the allow-list.
    #[error("the SPL command '{command}' is not allowed (found {location})")]
    CommandNotAllowed {
        /// The command's name, lowercased.
        command: String,
        /// Where it was found.
        location: Location,
    },
    /// A backtick macro the policy does not allow.
    #[error(
        "the search macro '{name}' is not allowed (found {location}): macros expand inside \
         Splunk to SPL that cannot be checked"
    )]
    MacroNotAllowed {
        /// The macro's name, without arguments.
        name: String,
        /// Where it was found.
        location: Location,
    },
    /// A `|`, or the start of a subsearch, with no command after it.
    #[error(
        "a '|' or the start of a subsearch is not followed by a command name (found {location})"
    )]
    MissingCommand {
        /// Where it was found.
        location: Location,
    },
    /// A command name that is not letters, digits and underscores starting with a letter.
    #[error(
        "a command name must start with a letter and contain only letters, digits and \
         underscores (found {location})"
    )]
    MalformedCommand {
        /// Where it was found.
        location: Location,
    },
    /// A macro that is not `` `name` `` or `` `name(arguments)` ``.
    #[error("a search macro must look like `name` or `name(arguments)` (found {location})")]
    MalformedMacro {
        /// Where it was found.
        location: Location,
    },
    /// A `[` that is never closed.
    #[error("unbalanced brackets: a subsearch '[' is never closed")]
    UnclosedBracket,
    /// A `]` with no `[` before it.
    #[error("unbalanced brackets: a ']' has no matching '['")]
    UnmatchedCloseBracket,
    /// A `"` that is never closed.
    #[error("unbalanced quotes: a double-quoted string is never closed")]
    UnclosedQuote,
    /// A ```` ``` ```` comment that is never closed.
    #[error("a ``` comment is never closed")]
    UnclosedComment,
    /// A macro backtick that is never closed.
    #[error("a search macro's backtick '`' is never closed")]
    UnclosedMacro,
    /// Text that Splunk could read in two ways, one of which may hide a command.
    #[error("the SPL search is ambiguous and was refused: {reason}")]
    Ambiguous {
        /// What is ambiguous.
        reason: &'static str,
    },
    /// A `map` command whose search is not given inline as `search="..."`.
    #[error(
        "the map command must be given its search inline as search=\"...\"; a saved search or \
         a subsearch's output cannot be checked"
    )]
    MapWithoutSearch,
    /// A `map search="..."` with `$field$` tokens while [`GuardConfig::allow_map_tokens`] is off.
    #[error(
        "the map command's search contains $field$ tokens, which Splunk fills in from the \
         results when the search runs, so the search cannot be checked"
    )]
    MapTokens,
}

/// A search the guard accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedSpl {
    text: String,
    commands: Vec<String>,
    macros: Vec<String>,
    indexes: Vec<String>,
}

impl GuardedSpl {
    /// The text to send to Splunk: trimmed, with `search ` prefixed when the search did not
    /// start with `search` or `|`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Consumes the result, giving the text to send to Splunk.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The commands found, lowercased, each once, in order of first appearance.
    pub fn commands(&self) -> &[String] {
        &self.commands
    }

    /// The macros found (by name, without arguments), each once, in order of first appearance.
    pub fn macros(&self) -> &[String] {
        &self.macros
    }

    /// The indexes named by `index=<name>` terms of `search` commands (not wildcards), each
    /// once, in order of first appearance: what a search that finds nothing may be explained by.
    pub fn indexes(&self) -> &[String] {
        &self.indexes
    }
}

/// Checks SPL searches against a [`GuardConfig`].
#[derive(Debug, Clone)]
pub struct SplGuard {
    config: GuardConfig,
    denied: HashSet<String>,
    allowed: Option<HashSet<String>>,
}

impl Default for SplGuard {
    fn default() -> Self {
        Self::new(GuardConfig::default())
    }
}

impl SplGuard {
    /// Builds a guard; command names in the config are compared without regard to case.
    pub fn new(config: GuardConfig) -> Self {
        let lower = |names: &[String]| -> HashSet<String> {
            names.iter().map(|name| name.to_ascii_lowercase()).collect()
        };
        let denied = lower(&config.denied_commands);
        let allowed = config.allowed_commands.as_deref().map(lower);
        Self {
            config,
            denied,
            allowed,
        }
    }

    /// The configuration this guard applies.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// Checks `spl` and returns the text to send to Splunk, or why it was refused.
    pub fn check(&self, spl: &str) -> Result<GuardedSpl, GuardError> {
        let trimmed = spl.trim();
        let length = trimmed.chars().count();
        if length > self.config.max_length {
            return Err(GuardError::TooLong {
                length,
                max: self.config.max_length,
            });
        }
        if tokenize(trimmed)?.is_empty() {
            return Err(GuardError::Empty);
        }
        let text = if needs_search_prefix(trimmed) {
            format!("search {trimmed}")
        } else {
            trimmed.to_owned()
        };
        let mut findings = Findings::default();
        self.analyze(&text, 0, false, &mut findings)?;
        Ok(GuardedSpl {
            text,
            commands: findings.commands,
            macros: findings.macros,
            indexes: findings.indexes,
        })
    }

    /// Walks one search (the main one, or a `map` search string) and its subsearches.
    fn analyze(
        &self,
        text: &str,
        base_depth: usize,
        in_map: bool,
        findings: &mut Findings,
    ) -> Result<(), GuardError> {
        let tokens = tokenize(text)?;
        findings.pipes += tokens
            .iter()
            .filter(|token| token.kind == TokenKind::Pipe)
            .count();
        if findings.pipes > self.config.max_pipes {
            return Err(GuardError::TooManyPipes {
                pipes: findings.pipes,
                max: self.config.max_pipes,
            });
        }
        if tokens.is_empty() {
            return Err(GuardError::Empty);
        }
        let location = |depth: usize| match (in_map, depth) {
            (true, _) => Location::MapSearch,
            (false, 0) => Location::MainSearch,
            (false, depth) => Location::Subsearch { depth },
        };

        let mut frames = vec![Frame::new(base_depth, Expect::SearchStart)];
        let mut index = 0;
        while index < tokens.len() {
            let token = &tokens[index];
            let next = tokens.get(index + 1);
            let frame = frames.last_mut().expect("the root frame is never popped");
            let here = location(frame.depth);
            match (&token.kind, frame.expect) {
                (TokenKind::Macro(body), expect) => {
                    self.check_macro(body, here, findings)?;
                    if expect != Expect::Arguments {
                        // A macro in command position stands for commands we cannot see.
                        frame.begin_command(None);
                    }
                    frame.after_macro = true;
                }
                (TokenKind::Pipe, Expect::SearchStart | Expect::SubsearchStart) => {
                    frame.expect = Expect::CommandAfterPipe;
                }
                (TokenKind::Pipe, Expect::Arguments) => {
                    frame.end_command()?;
                    frame.expect = Expect::CommandAfterPipe;
                }
                (TokenKind::Word(word), Expect::SearchStart)
                    if word.eq_ignore_ascii_case("search") && !is_assignment(token, next) =>
                {
                    self.record_command("search", here, findings)?;
                    frame.begin_command(Some("search"));
                }
                (_, Expect::SearchStart) => {
                    // Splunk runs an implicit `search` over leading search terms. The main
                    // search got an explicit prefix; a `map` string may still rely on this.
                    self.record_command("search", here, findings)?;
                    frame.begin_command(Some("search"));
                    continue; // Read this token again as an argument.
                }
                (TokenKind::Word(word), Expect::SubsearchStart | Expect::CommandAfterPipe) => {
                    if is_assignment(token, next) {
                        if frame.expect == Expect::CommandAfterPipe {
                            return Err(GuardError::MalformedCommand { location: here });
                        }
                        // `[index=x ...]`: search terms with an implicit `search`.
                        self.record_command("search", here, findings)?;
                        frame.begin_command(Some("search"));
                        continue;
                    }
                    let starts_like_a_name =
                        word.starts_with(|first: char| first.is_ascii_alphabetic() || first == '_');
                    if frame.expect == Expect::SubsearchStart && !starts_like_a_name {
                        // `[(a OR b)]`, `[404]`: search terms with an implicit `search`.
                        self.record_command("search", here, findings)?;
                        frame.begin_command(Some("search"));
                        continue;
                    }
                    if !is_command_name(word) || is_glued(token, next) {
                        return Err(GuardError::MalformedCommand { location: here });
                    }
                    let name = word.to_ascii_lowercase();
                    self.record_command(&name, here, findings)?;
                    frame.begin_command(Some(&name));
                }
                (TokenKind::Quoted(_) | TokenKind::Open, Expect::SubsearchStart) => {
                    // `["term"]`, `[[...]]`: search terms with an implicit `search`.
                    self.record_command("search", here, findings)?;
                    frame.begin_command(Some("search"));
                    continue;
                }
                (_, Expect::SubsearchStart | Expect::CommandAfterPipe) => {
                    return Err(GuardError::MissingCommand { location: here });
                }
                (TokenKind::Open, Expect::Arguments) => {
                    let depth = frame.depth + 1;
                    if depth > self.config.max_subsearch_depth {
                        return Err(GuardError::TooDeep {
                            max: self.config.max_subsearch_depth,
                        });
                    }
                    frame.map_step(&token.kind);
                    frames.push(Frame::new(depth, Expect::SubsearchStart));
                }
                (TokenKind::Close, Expect::Arguments) => {
                    frame.end_command()?;
                    if frames.len() == 1 {
                        return Err(GuardError::UnmatchedCloseBracket);
                    }
                    frames.pop();
                }
                (TokenKind::Quoted(content), Expect::Arguments) => {
                    if frame.map_step(&token.kind) == MapStep::SearchString {
                        self.check_map_search(content, frame.depth, findings)?;
                    }
                }
                (TokenKind::Word(word), Expect::Arguments) => {
                    // A macro may expand to nothing or to a `|`, turning the next word into a
                    // command: after one, a denied command's name is refused even as a term.
                    let lower = word.to_ascii_lowercase();
                    if frame.after_macro && self.denied.contains(&lower) {
                        return Err(GuardError::CommandNotAllowed {
                            command: lower,
                            location: here,
                        });
                    }
                    if frame.in_search
                        && word.eq_ignore_ascii_case("index")
                        && next.is_some_and(|n| n.kind == TokenKind::Equals)
                    {
                        let name = match tokens.get(index + 2).map(|t| &t.kind) {
                            Some(TokenKind::Word(name)) => Some((*name).to_owned()),
                            Some(TokenKind::Quoted(name)) => Some(name.clone()),
                            _ => None,
                        };
                        if let Some(name) = name.filter(|n| !n.is_empty() && !n.contains('*'))
                            && !findings.indexes.contains(&name)
                        {
                            findings.indexes.push(name);
                        }
                    }
                    frame.map_step(&token.kind);
                }
                (kind, Expect::Arguments) => {
                    frame.map_step(kind);
                }
            }
            index += 1;
        }

        if frames.len() > 1 {
            return Err(GuardError::UnclosedBracket);
        }
        let frame = frames.last_mut().expect("the root frame is never popped");
        match frame.expect {
            Expect::Arguments => frame.end_command()?,
            Expect::SearchStart => return Err(GuardError::Empty),
            Expect::SubsearchStart | Expect::CommandAfterPipe => {
                return Err(GuardError::MissingCommand {
                    location: location(frame.depth),
                });
            }
        }
        Ok(())
    }

    /// Checks the string given to `map search="..."` as a search of its own, one level deeper.
    fn check_map_search(
        &self,
        content: &str,
        depth: usize,
        findings: &mut Findings,
    ) -> Result<(), GuardError> {
        if !self.config.allow_map_tokens && has_map_token(content) {
            return Err(GuardError::MapTokens);
        }
        let depth = depth + 1;
        if depth > self.config.max_subsearch_depth {
            return Err(GuardError::TooDeep {
                max: self.config.max_subsearch_depth,
            });
        }
        self.analyze(content.trim(), depth, true, findings)
    }

    /// Applies the deny-list and the allow-list to one command, and records it.
    fn record_command(
        &self,
        name: &str,
        location: Location,
        findings: &mut Findings,
    ) -> Result<(), GuardError> {
        let allowed = !self.denied.contains(name)
            && self
                .allowed
                .as_ref()
                .is_none_or(|allowed| allowed.contains(name));
        if !allowed {
            return Err(GuardError::CommandNotAllowed {
                command: name.to_owned(),
                location,
            });
        }
        push_once(&mut findings.commands, name);
        Ok(())
    }

    /// Applies the macro policy to one macro, and records it.
    fn check_macro(
        &self,
        body: &str,
        location: Location,
        findings: &mut Findings,
    ) -> Result<(), GuardError> {
        let name = macro_name(body).ok_or(GuardError::MalformedMacro { location })?;
        let listed = self
            .config
            .allowed_macros
            .iter()
            .any(|allowed| allowed == name);
        if !listed && self.config.macros == MacroPolicy::Refuse {
            return Err(GuardError::MacroNotAllowed {
                name: name.to_owned(),
                location,
            });
        }
        // The expansion is invisible, but a denied command's name in the macro's own name or
        // arguments is a strong hint of what it does; arguments are pasted into the expansion.
        let denied_word = body
            .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .map(str::to_ascii_lowercase)
            .find(|word| self.denied.contains(word));
        if let Some(command) = denied_word {
            return Err(GuardError::CommandNotAllowed { command, location });
        }
        push_once(&mut findings.macros, name);
        Ok(())
    }
}

/// What the guard found in an accepted search.
#[derive(Debug, Default)]
struct Findings {
    commands: Vec<String>,
    macros: Vec<String>,
    indexes: Vec<String>,
    pipes: usize,
}

/// What a frame (the main search, a subsearch, a `map` string) expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The start of a main or `map` search: `search`, `|`, or search terms.
    SearchStart,
    /// The start of a subsearch: a command, `|`, or search terms.
    SubsearchStart,
    /// A command name, right after a `|`.
    CommandAfterPipe,
    /// Arguments of the current command.
    Arguments,
}

/// Progress through a `map` command's arguments towards `search="..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MapStep {
    /// Not inside a `map`, or nothing relevant yet.
    Idle,
    /// Just read the word `search`.
    SearchWord,
    /// Just read `search =`.
    SearchEquals,
    /// Just read `search = "..."`: the quoted string is the search.
    SearchString,
}

/// One level of nesting: the main search, a subsearch or a `map` search string.
#[derive(Debug)]
struct Frame {
    depth: usize,
    expect: Expect,
    /// `Some` while the current command is `map`; its progress towards `search="..."`.
    map: Option<MapStep>,
    /// Whether the current `map` has had its `search="..."`.
    map_has_search: bool,
    /// Whether a macro appeared in the current command.
    after_macro: bool,
    /// Whether the current command is `search`.
    in_search: bool,
}

impl Frame {
    fn new(depth: usize, expect: Expect) -> Self {
        Self {
            depth,
            expect,
            map: None,
            map_has_search: false,
            after_macro: false,
            in_search: false,
        }
    }

    fn begin_command(&mut self, name: Option<&str>) {
        self.expect = Expect::Arguments;
        self.map = (name == Some("map")).then_some(MapStep::Idle);
        self.map_has_search = false;
        self.after_macro = false;
        self.in_search = name == Some("search");
    }

    /// Ends the current command; a `map` that never got `search="..."` is refused.
    fn end_command(&mut self) -> Result<(), GuardError> {
        if self.map.is_some() && !self.map_has_search {
            return Err(GuardError::MapWithoutSearch);
        }
        self.map = None;
        Ok(())
    }

    /// Advances the `map` argument state with the next token of this frame.
    fn map_step(&mut self, kind: &TokenKind<'_>) -> MapStep {
        let Some(step) = self.map else {
            return MapStep::Idle;
        };
        let next = match (step, kind) {
            (_, TokenKind::Word(word)) if word.eq_ignore_ascii_case("search") => {
                MapStep::SearchWord
            }
            (MapStep::SearchWord, TokenKind::Equals) => MapStep::SearchEquals,
            (MapStep::SearchEquals, TokenKind::Quoted(_)) => MapStep::SearchString,
            _ => MapStep::Idle,
        };
        if next == MapStep::SearchString {
            self.map_has_search = true;
        }
        self.map = Some(next);
        next
    }
}

/// Whether Splunk needs `search ` in front of `trimmed` (it does unless the text starts with
/// `|` or with the word `search`).
fn needs_search_prefix(trimmed: &str) -> bool {
    if trimmed.starts_with('|') {
        return false;
    }
    let first_word = trimmed
        .split(|ch: char| ch.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    !first_word.eq_ignore_ascii_case("search")
}

/// Whether `token` is immediately followed by `=`, making it a field name, not a command.
fn is_assignment(token: &Token<'_>, next: Option<&Token<'_>>) -> bool {
    next.is_some_and(|next| next.kind == TokenKind::Equals && next.start == token.end)
}

/// Whether a command name is immediately followed by a quoted string or a macro, as in
/// `de"lete"`: if Splunk joins the two into one name, that name is not the one the guard read.
fn is_glued(token: &Token<'_>, next: Option<&Token<'_>>) -> bool {
    next.is_some_and(|next| {
        next.start == token.end && matches!(next.kind, TokenKind::Quoted(_) | TokenKind::Macro(_))
    })
}

/// Whether `word` is a plausible command name: ASCII letters, digits and `_`, not too long.
fn is_command_name(word: &str) -> bool {
    let mut chars = word.chars();
    word.len() <= MAX_NAME_LENGTH
        && chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// The name of a macro `name` or `name(arguments)`; `None` when the body is malformed.
fn macro_name(body: &str) -> Option<&str> {
    let name = match body.find('(') {
        Some(open) => body.ends_with(')').then_some(&body[..open])?,
        None => body,
    };
    let valid_name = !name.is_empty()
        && name.len() <= MAX_NAME_LENGTH
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':'));
    valid_name.then_some(name)
}

/// Whether a `map` search string holds a `$field$` token.
fn has_map_token(content: &str) -> bool {
    content.matches('$').count() >= 2
}

fn push_once(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|seen| seen == name) {
        list.push(name.to_owned());
    }
}
