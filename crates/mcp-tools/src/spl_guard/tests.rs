//! Table-driven tests of the SPL guard: accepted searches, refusals, limits and policies.

use super::*;

/// The outcome a case expects.
enum Want {
    /// Accepted; the text sent to Splunk.
    Sent(&'static str),
    /// Refused with exactly this message.
    Refused(&'static str),
}

use Want::{Refused, Sent};

fn run_table(guard: &SplGuard, cases: &[(&str, Want)]) -> usize {
    let mut failures = Vec::new();
    for (input, want) in cases {
        let got = guard.check(input);
        let ok = match (want, &got) {
            (Sent(text), Ok(checked)) => checked.text() == *text,
            (Refused(message), Err(error)) => error.to_string() == *message,
            _ => false,
        };
        if !ok {
            failures.push(format!("input {input:?}: got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    cases.len()
}

fn denied(command: &str, location: &str) -> String {
    format!("the SPL command '{command}' is not allowed (found {location})")
}

#[test]
fn accepted_searches_are_sent_unchanged_or_prefixed() {
    let cases = [
        (
            "index=web status>=500",
            Sent("search index=web status>=500"),
        ),
        ("  \n\tindex=web  ", Sent("search index=web")),
        (
            "search index=web | head 5",
            Sent("search index=web | head 5"),
        ),
        ("SEARCH index=web", Sent("SEARCH index=web")),
        ("Search\tindex=web", Sent("Search\tindex=web")),
        ("searchterm=1", Sent("search searchterm=1")),
        ("search=1", Sent("search search=1")),
        ("| makeresults count=3", Sent("| makeresults count=3")),
        (
            "|tstats count where index=* by index",
            Sent("|tstats count where index=* by index"),
        ),
        ("delete", Sent("search delete")),
        ("index=web delete", Sent("search index=web delete")),
        (
            "index=web \"| delete\"",
            Sent("search index=web \"| delete\""),
        ),
        (
            "index=web | eval msg=\"run | collect index=x\" | table msg",
            Sent("search index=web | eval msg=\"run | collect index=x\" | table msg"),
        ),
        (
            r#"index=web | eval q="say \"| delete\" now""#,
            Sent(r#"search index=web | eval q="say \"| delete\" now""#),
        ),
        (
            r#"index=web | where path="C:\\temp\\" | stats count"#,
            Sent(r#"search index=web | where path="C:\\temp\\" | stats count"#),
        ),
        (
            "index=web ```| delete``` | stats count",
            Sent("search index=web ```| delete``` | stats count"),
        ),
        (
            "index=web [search index=dns | fields host] | stats count by host",
            Sent("search index=web [search index=dns | fields host] | stats count by host"),
        ),
        (
            "index=web [| inputlookup hosts.csv]",
            Sent("search index=web [| inputlookup hosts.csv]"),
        ),
        (
            "index=web [index=dns | fields host]",
            Sent("search index=web [index=dns | fields host]"),
        ),
        (
            "| makeresults | appendpipe [stats count]",
            Sent("| makeresults | appendpipe [stats count]"),
        ),
        (
            "| multisearch [search index=a] [search index=b]",
            Sent("| multisearch [search index=a] [search index=b]"),
        ),
        (
            "index=a | join host [search index=b [search index=c | fields host] | fields host]",
            Sent(
                "search index=a | join host [search index=b [search index=c | fields host] | fields host]",
            ),
        ),
        (
            "| makeresults | map search=\"search index=web | head 1\" maxsearches=2",
            Sent("| makeresults | map search=\"search index=web | head 1\" maxsearches=2"),
        ),
        (
            "index=web | rex field=_raw \"(?<user>[a-z]+)\\|(?<id>\\d+)\"",
            Sent("search index=web | rex field=_raw \"(?<user>[a-z]+)\\|(?<id>\\d+)\""),
        ),
        (
            "index=web \"foo`bar`baz\"",
            Sent("search index=web \"foo`bar`baz\""),
        ),
        (
            "index=web | stats count by host",
            Sent("search index=web | stats count by host"),
        ),
        (
            "index=web [(a OR b) | fields host]",
            Sent("search index=web [(a OR b) | fields host]"),
        ),
        ("index=web [404]", Sent("search index=web [404]")),
    ];
    let count = run_table(&SplGuard::default(), &cases);
    assert!(count >= 25);
}

#[test]
fn every_default_denied_command_is_refused_everywhere() {
    let guard = SplGuard::default();
    let mut cases = 0;
    for command in DEFAULT_DENIED_COMMANDS {
        let upper = command.to_ascii_uppercase();
        let mixed: String = command
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                if i % 2 == 0 {
                    ch.to_ascii_uppercase()
                } else {
                    ch
                }
            })
            .collect();
        let main = denied(command, "in the main search");
        let sub = denied(command, "in a subsearch");
        let nested = denied(command, "in a nested subsearch at depth 2");
        let map = denied(command, "in the search string of a map command");
        let table = [
            (format!("index=web | {command} x=1"), main.clone()),
            (format!("index=web |{command}"), main.clone()),
            (format!("index=web |\n{command}"), main.clone()),
            (format!("index=web\n|\t{command}\n"), main.clone()),
            (format!("index=web | {upper}"), main.clone()),
            (format!("index=web | {mixed}"), main.clone()),
            (format!("| {command}"), main.clone()),
            (format!("index=web ```c``` | {command}"), main.clone()),
            (
                format!("index=web [search index=x | {command}]"),
                sub.clone(),
            ),
            (format!("index=web [{command} index=x]"), sub.clone()),
            (format!("index=web [ |{command}]"), sub.clone()),
            (
                format!("index=web [search x [search y | {upper}]]"),
                nested.clone(),
            ),
            (format!("index=web [search x [{command}]]"), nested),
            (
                format!("| makeresults | map search=\"search index=x | {command}\""),
                map.clone(),
            ),
            (
                format!("| makeresults | map search=\"| {mixed}\""),
                map.clone(),
            ),
            (
                format!("| makeresults | map search=\"search x [search y | {command}]\""),
                map,
            ),
        ];
        for (input, message) in table {
            let error = guard.check(&input).expect_err(&input);
            assert_eq!(error.to_string(), message, "input {input:?}");
            assert!(
                matches!(&error, GuardError::CommandNotAllowed { command: found, .. } if found == command),
                "input {input:?}: {error:?}"
            );
            cases += 1;
        }
        // Inside quotes, a denied command is only text.
        let quoted = format!("index=web \"| {command}\" | eval x=\"[{command}]\"");
        assert!(guard.check(&quoted).is_ok(), "{quoted:?}");
        let escaped = format!(r#"index=web | eval x="a \" | {command} \" b""#);
        assert!(guard.check(&escaped).is_ok(), "{escaped:?}");
        cases += 2;
    }
    assert!(cases >= 15 * 18);
}

#[test]
fn malformed_and_ambiguous_input_is_refused_with_a_clear_message() {
    let cases = [
        ("", Refused("the SPL search is empty")),
        ("   \n\t ", Refused("the SPL search is empty")),
        ("```only a comment```", Refused("the SPL search is empty")),
        (
            "index=web [search x",
            Refused("unbalanced brackets: a subsearch '[' is never closed"),
        ),
        (
            "index=web [search x [search y]",
            Refused("unbalanced brackets: a subsearch '[' is never closed"),
        ),
        (
            "index=web [",
            Refused("unbalanced brackets: a subsearch '[' is never closed"),
        ),
        (
            "index=web ] | delete",
            Refused("unbalanced brackets: a ']' has no matching '['"),
        ),
        (
            "index=web \"unterminated | delete",
            Refused("unbalanced quotes: a double-quoted string is never closed"),
        ),
        (
            "index=web \"ends in a backslash\\\"",
            Refused("unbalanced quotes: a double-quoted string is never closed"),
        ),
        (
            "index=web ```never closed | delete",
            Refused("a ``` comment is never closed"),
        ),
        (
            "index=web `never closed",
            Refused("a search macro's backtick '`' is never closed"),
        ),
        (
            "index=web |",
            Refused(
                "a '|' or the start of a subsearch is not followed by a command name (found in the main search)",
            ),
        ),
        (
            "index=web | | stats count",
            Refused(
                "a '|' or the start of a subsearch is not followed by a command name (found in the main search)",
            ),
        ),
        (
            "index=web []",
            Refused(
                "a '|' or the start of a subsearch is not followed by a command name (found in a subsearch)",
            ),
        ),
        (
            "index=web | \"delete\"",
            Refused(
                "a '|' or the start of a subsearch is not followed by a command name (found in the main search)",
            ),
        ),
        (
            "index=web | de\"lete\"",
            Refused(
                "a command name must start with a letter and contain only letters, digits and underscores (found in the main search)",
            ),
        ),
        (
            "index=web | dele\\te",
            Refused(
                "a command name must start with a letter and contain only letters, digits and underscores (found in the main search)",
            ),
        ),
        (
            "index=web | \u{ff44}elete",
            Refused(
                "a command name must start with a letter and contain only letters, digits and underscores (found in the main search)",
            ),
        ),
        (
            "index=web | x=1",
            Refused(
                "a command name must start with a letter and contain only letters, digits and underscores (found in the main search)",
            ),
        ),
        (
            "index=web | dele```c```te",
            Refused(
                "the SPL search is ambiguous and was refused: a ``` comment is joined to the text on both sides; put a space before or after it",
            ),
        ),
        (
            "index=web \"```\" | delete ```\"",
            Refused(
                "the SPL search is ambiguous and was refused: a quoted string contains a ``` comment fence",
            ),
        ),
        (
            "index=web \\\" | delete \\\"",
            Refused(
                "the SPL search is ambiguous and was refused: a backslash-escaped quote appears outside a quoted string",
            ),
        ),
        (
            "| makeresults | map mysavedsearch",
            Refused(
                "the map command must be given its search inline as search=\"...\"; a saved search or a subsearch's output cannot be checked",
            ),
        ),
        (
            "| makeresults | map [search index=x | return search]",
            Refused(
                "the map command must be given its search inline as search=\"...\"; a saved search or a subsearch's output cannot be checked",
            ),
        ),
        (
            "| makeresults | map search=unquoted",
            Refused(
                "the map command must be given its search inline as search=\"...\"; a saved search or a subsearch's output cannot be checked",
            ),
        ),
        (
            "| makeresults | eval q=\"| delete\" | map search=\"search $q$\"",
            Refused(
                "the map command's search contains $field$ tokens, which Splunk fills in from the results when the search runs, so the search cannot be checked",
            ),
        ),
        (
            "| makeresults | map search=\"search x \\\"unclosed\"",
            Refused("unbalanced quotes: a double-quoted string is never closed"),
        ),
    ];
    let count = run_table(&SplGuard::default(), &cases);
    assert!(count >= 25);
}

#[test]
fn macros_are_refused_by_default_and_policed_when_allowed() {
    let refuse = SplGuard::default();
    let listed = SplGuard::new(GuardConfig {
        allowed_macros: vec!["web_errors".to_owned()],
        ..GuardConfig::default()
    });
    let allow = SplGuard::new(GuardConfig {
        macros: MacroPolicy::Allow,
        ..GuardConfig::default()
    });

    let not_allowed = |name: &str, location: &str| {
        format!(
            "the search macro '{name}' is not allowed (found {location}): macros expand inside \
             Splunk to SPL that cannot be checked"
        )
    };
    let refused_cases = [
        (
            "index=web `cleanup`",
            not_allowed("cleanup", "in the main search"),
        ),
        (
            "index=web | `cleanup(1,2)`",
            not_allowed("cleanup", "in the main search"),
        ),
        ("index=web [search `x`]", not_allowed("x", "in a subsearch")),
        (
            "| makeresults | map search=\"search `x`\"",
            not_allowed("x", "in the search string of a map command"),
        ),
        (
            "index=web `web_errors(1)` `WEB_ERRORS`",
            not_allowed("WEB_ERRORS", "in the main search"),
        ),
    ];
    for (input, message) in &refused_cases {
        let guard = if input.contains("web_errors") {
            &listed
        } else {
            &refuse
        };
        assert_eq!(
            guard.check(input).unwrap_err().to_string(),
            *message,
            "{input:?}"
        );
    }

    let checked = listed
        .check("index=web `web_errors(500)` | stats count")
        .unwrap();
    assert_eq!(checked.macros(), ["web_errors"]);
    let checked = allow.check("`my_macro(\"a b\")` | `other`").unwrap();
    assert_eq!(checked.macros(), ["my_macro", "other"]);
    assert_eq!(checked.text(), "search `my_macro(\"a b\")` | `other`");

    let allow_cases = [
        ("index=web `DELETE`", denied("delete", "in the main search")),
        (
            "index=web `x(\"| outputlookup a.csv\")`",
            denied("outputlookup", "in the main search"),
        ),
        (
            "index=web [search `safe(COLLECT)`]",
            denied("collect", "in a subsearch"),
        ),
        (
            "index=web | `empty` delete",
            denied("delete", "in the main search"),
        ),
        (
            "index=web `pipe` sendemail to=x",
            denied("sendemail", "in the main search"),
        ),
    ];
    for (input, message) in &allow_cases {
        assert_eq!(
            allow.check(input).unwrap_err().to_string(),
            *message,
            "{input:?}"
        );
    }
    for malformed in [
        "index=web ``",
        "index=web `a b`",
        "index=web `m(1`",
        "index=web `m|x`",
    ] {
        assert!(
            matches!(
                allow.check(malformed),
                Err(GuardError::MalformedMacro { .. })
            ),
            "{malformed:?}"
        );
    }
}

#[test]
fn limits_are_enforced() {
    let guard = SplGuard::new(GuardConfig {
        max_length: 40,
        max_pipes: 2,
        max_subsearch_depth: 2,
        ..GuardConfig::default()
    });
    let cases = [
        (
            "index=web | head 1 | stats count",
            Sent("search index=web | head 1 | stats count"),
        ),
        (
            "index=web | head 1 | stats count | table",
            Refused("the SPL search has 3 pipes ('|'); the limit is 2"),
        ),
        (
            "x [| a | b] | c",
            Refused("the SPL search has 3 pipes ('|'); the limit is 2"),
        ),
        (
            "| makeresults | map search=\"|a|b\"",
            Refused("the SPL search has 4 pipes ('|'); the limit is 2"),
        ),
        (
            "x [search y [search z]]",
            Sent("search x [search y [search z]]"),
        ),
        (
            "x [search y [search z [search w]]]",
            Refused("the SPL search nests subsearches more than 2 deep"),
        ),
        (
            "x [y [z | map search=\"w\"]]",
            Refused("the SPL search nests subsearches more than 2 deep"),
        ),
        (
            "index=web 0123456789012345678901234567890123456789",
            Refused("the SPL search is 50 characters long; the limit is 40"),
        ),
        (
            "   index=web ééééééééééééééééééééééé   ",
            Sent("search index=web ééééééééééééééééééééééé"),
        ),
    ];
    run_table(&guard, &cases);
}

#[test]
fn allow_list_mode_only_lets_listed_commands_through() {
    let guard = SplGuard::new(GuardConfig {
        allowed_commands: Some(
            ["search", "stats", "head", "table", "collect"]
                .map(str::to_owned)
                .to_vec(),
        ),
        ..GuardConfig::default()
    });
    let cases = [
        (
            "index=web | stats count | head 5",
            Sent("search index=web | stats count | head 5"),
        ),
        (
            "index=web [index=x | head 1]",
            Sent("search index=web [index=x | head 1]"),
        ),
        (
            "index=web | STATS count",
            Sent("search index=web | STATS count"),
        ),
        (
            "index=web | eval x=1",
            Refused("the SPL command 'eval' is not allowed (found in the main search)"),
        ),
        (
            "index=web [search x | rest /services]",
            Refused("the SPL command 'rest' is not allowed (found in a subsearch)"),
        ),
        (
            "| makeresults",
            Refused("the SPL command 'makeresults' is not allowed (found in the main search)"),
        ),
        // Deny wins over allow.
        (
            "index=web | collect index=summary",
            Refused("the SPL command 'collect' is not allowed (found in the main search)"),
        ),
    ];
    run_table(&guard, &cases);
}

#[test]
fn custom_deny_list_and_map_tokens() {
    let guard = SplGuard::new(GuardConfig {
        denied_commands: vec!["REST".to_owned()],
        allow_map_tokens: true,
        ..GuardConfig::default()
    });
    let cases = [
        (
            "index=web | collect index=x",
            Sent("search index=web | collect index=x"),
        ),
        (
            "| rest /services/server/info",
            Refused("the SPL command 'rest' is not allowed (found in the main search)"),
        ),
        (
            "| makeresults | map search=\"search host=$host$\"",
            Sent("| makeresults | map search=\"search host=$host$\""),
        ),
    ];
    run_table(&guard, &cases);
}

#[test]
fn map_search_strings_are_found_however_they_are_written() {
    let map_denied = |command: &str| denied(command, "in the search string of a map command");
    let cases = [
        (
            "| makeresults | MAP SEARCH = \"| delete\"",
            map_denied("delete"),
        ),
        (
            "| makeresults | map maxsearches=1 search=\"search x |collect index=y\"",
            map_denied("collect"),
        ),
        (
            "| makeresults | map search=\"search x\" search=\"| sendemail to=a\"",
            map_denied("sendemail"),
        ),
        (
            "| makeresults | map search=\"| map search=\\\"| delete\\\"\"",
            map_denied("delete"),
        ),
        (
            "index=web [search x | map search=\"search y | outputcsv z\"]",
            map_denied("outputcsv"),
        ),
    ];
    let guard = SplGuard::default();
    for (input, message) in &cases {
        assert_eq!(
            guard.check(input).unwrap_err().to_string(),
            *message,
            "{input:?}"
        );
    }
    let checked = guard
        .check("| makeresults | map maxsearches=1 search=\"search index=web\"")
        .unwrap();
    assert_eq!(checked.commands(), ["makeresults", "map", "search"]);
}

#[test]
fn guarded_spl_lists_commands_once_in_order() {
    let checked = SplGuard::default()
        .check("index=web [search x | fields host] | STATS count | stats sum(count) | map search=\"| makeresults\"")
        .unwrap();
    assert_eq!(
        checked.commands(),
        ["search", "fields", "stats", "map", "makeresults"]
    );
    assert!(checked.macros().is_empty());
    assert!(checked.into_text().starts_with("search index=web"));
}

#[test]
fn config_deserializes_with_defaults() {
    let config: GuardConfig = toml::from_str(
        r#"
        allowed_commands = ["search", "stats"]
        macros = "allow"
        max_pipes = 5
        "#,
    )
    .unwrap();
    assert_eq!(config.denied_commands.len(), DEFAULT_DENIED_COMMANDS.len());
    assert_eq!(config.macros, MacroPolicy::Allow);
    assert_eq!(config.max_pipes, 5);
    assert_eq!(config.max_length, GuardConfig::default().max_length);
    let empty: GuardConfig = toml::from_str("").unwrap();
    assert_eq!(empty, GuardConfig::default());
    assert!(toml::from_str::<GuardConfig>("max_pipe = 3").is_err());
}

#[test]
fn never_panics_on_generated_input() {
    const PIECES: &[&str] = &[
        " ",
        "\n",
        "\t",
        "|",
        "[",
        "]",
        "\"",
        "\\",
        "`",
        "```",
        "=",
        "search",
        "delete",
        "map",
        "search=",
        "$x$",
        "é",
        "(",
        ")",
        "index=web",
        "`m(1)`",
        "\\\"",
        "OutputLookup",
        "[|",
        "x",
    ];
    let guard = SplGuard::default();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let length = (next() % 24) as usize;
        let input: String = (0..length)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        if let Ok(checked) = guard.check(&input) {
            let text = checked.text();
            assert!(
                text.starts_with('|') || text[..6].eq_ignore_ascii_case("search"),
                "{input:?}"
            );
            for command in checked.commands() {
                assert!(
                    !DEFAULT_DENIED_COMMANDS.contains(&command.as_str()),
                    "{input:?}"
                );
            }
        }
    }
}

#[test]
fn the_indexes_a_search_names_are_found() {
    let guard = SplGuard::new(GuardConfig::default());
    let cases: &[(&str, &[&str])] = &[
        ("index=web status=500", &["web"]),
        (
            "INDEX=\"security\" OR index=web | stats count",
            &["security", "web"],
        ),
        ("index=web* | stats count", &[]),
        (
            "index=main [search index=firewall | fields src]",
            &["main", "firewall"],
        ),
        // Not a search term: an eval assignment names no index to read.
        ("| makeresults | eval index=\"web\"", &[]),
        ("index=web index=web", &["web"]),
    ];
    for (spl, expected) in cases {
        let checked = guard.check(spl).unwrap_or_else(|e| panic!("{spl}: {e}"));
        assert_eq!(checked.indexes(), *expected, "{spl}");
    }
}
