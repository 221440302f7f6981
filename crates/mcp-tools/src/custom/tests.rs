//! Custom tools: checks at start, rendering, schemas. The injection corpus runs end to end
//! through the emulator in the binary's tests (`custom_tools.rs`).

use auth_core::{BearerToken, Claims};
use serde_json::json;

use super::*;

fn config(toml_text: &str) -> CustomToolConfig {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}: {e}"))
}

const STATUS_TOOL: &str = r#"
name = "web_status_hosts"
description = "Hosts that answered with one HTTP status"
spl = "search index=web status=$status$ method=$method$ | head $limit$"
[[parameters]]
name = "status"
type = "integer"
required = true
min = 100
max = 599
[[parameters]]
name = "method"
type = "enum"
allowed_values = ["GET", "POST"]
default = "GET"
[[parameters]]
name = "limit"
type = "integer"
default = 10
"#;

fn compile(text: &str) -> Result<CustomTool, CustomToolError> {
    CustomTool::compile(&config(text), &GuardConfig::default())
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

fn caller(claims: Value) -> AuthContext {
    let mut base = Claims::for_subject("u-1");
    if let Value::Object(extra) = claims {
        base.preferred_username = extra
            .get("preferred_username")
            .and_then(Value::as_str)
            .map(str::to_owned);
        base.extra = extra;
    }
    AuthContext::new(base, BearerToken::new("t")).unwrap()
}

#[test]
fn a_tool_renders_typed_values_as_literals() {
    let tool = compile(STATUS_TOOL).unwrap();
    let search = tool.render(&args(json!({"status": 404})), None).unwrap();
    assert_eq!(
        search.spl,
        "search index=web status=404 method=\"GET\" | head 10"
    );
    let search = tool
        .render(
            &args(json!({"status": 500.0, "method": "POST", "limit": 3, "earliest": "-7d"})),
            None,
        )
        .unwrap();
    assert_eq!(
        search.spl,
        "search index=web status=500 method=\"POST\" | head 3"
    );
    assert_eq!(search.earliest.as_deref(), Some("-7d"));

    let refused = tool
        .render(&args(json!({"status": 42, "method": "PUT"})), None)
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "invalid arguments: web_status_hosts: argument `status` must be at least 100; got 42; \
         argument `method` must be one of: GET, POST; got \"PUT\""
    );
    let refused = tool.render(&args(json!({})), None).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "invalid arguments: web_status_hosts: missing argument `status`"
    );
}

#[test]
fn the_schema_lists_parameters_but_not_claims() {
    let tool = compile(
        r#"
name = "my_logins"
description = "My sign-ins"
spl = "search index=security user=$user$ action=$action$"
title = "My logins"
[[parameters]]
name = "user"
from_claim = "preferred_username"
[[parameters]]
name = "action"
description = "What happened"
required = true
pattern = "[a-z]+"
"#,
    )
    .unwrap();
    let definition = tool.definition();
    let schema = Value::Object((*definition.input_schema).clone());
    assert_eq!(schema["required"], json!(["action"]));
    assert!(schema["properties"].get("user").is_none(), "{schema}");
    assert_eq!(
        schema["properties"]["action"],
        json!({"type": "string", "description": "What happened", "pattern": "^(?:[a-z]+)$",
               "maxLength": 1024})
    );
    assert_eq!(schema["properties"]["earliest"]["type"], "string");
    let annotations = definition.annotations.as_ref().unwrap();
    assert_eq!(annotations.read_only_hint, Some(true));
    assert_eq!(annotations.title.as_deref(), Some("My logins"));
    assert_eq!(tool.tags(), ["custom"]);
    assert_eq!(tool.scopes(), ["splunk:search"]);
    assert_eq!(tool.claims().collect::<Vec<_>>(), ["preferred_username"]);

    // The claim's value is used whatever the client sends.
    let alice = caller(json!({"preferred_username": "alice"}));
    let search = tool
        .render(
            &args(json!({"user": "root", "action": "failed"})),
            Some(&alice),
        )
        .unwrap();
    assert_eq!(
        search.spl,
        "search index=security user=\"alice\" action=\"failed\""
    );
    let nobody = caller(json!({}));
    let refused = tool
        .render(&args(json!({"action": "failed"})), Some(&nobody))
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "this tool needs the claim `preferred_username`, which the token lacks"
    );
    let hostile = caller(json!({"preferred_username": "a\" | delete"}));
    let search = tool
        .render(&args(json!({"action": "x"})), Some(&hostile))
        .unwrap();
    assert_eq!(
        search.spl,
        "search index=security user=\"a\\\" | delete\" action=\"x\""
    );
    assert!(
        tool.render(&args(json!({"action": "x"})), None).is_err(),
        "no caller, no claim"
    );
}

#[test]
fn strings_are_quoted_and_what_cannot_be_is_refused() {
    let tool = compile(
        r#"
name = "echo"
description = "Echo"
spl = "| makeresults | eval v=$v$"
[[parameters]]
name = "v"
required = true
max_length = 20
"#,
    )
    .unwrap();
    let render = |value: &str| tool.render(&args(json!({"v": value})), None);
    let cases = [
        ("plain", Ok("\"plain\"")),
        ("a\"b", Ok("\"a\\\"b\"")),
        ("back\\slash\\", Ok("\"back\\\\slash\\\\\"")),
        (
            "x | delete [search y] $v$",
            Err("is 25 characters long; at most 20"),
        ),
        ("| delete [search y]", Ok("\"| delete [search y]\"")),
        ("$v$", Ok("\"$v$\"")),
        ("a`m`", Err("contains a backtick")),
        ("a*", Err("contains `*`")),
        ("line\nbreak", Err("contains the character U+000A")),
        ("rtl\u{202E}", Err("contains the character U+202E")),
        ("", Ok("\"\"")),
    ];
    for (value, want) in cases {
        match (render(value), want) {
            (Ok(search), Ok(literal)) => {
                assert_eq!(
                    search.spl,
                    format!("| makeresults | eval v={literal}"),
                    "{value:?}"
                )
            }
            (Err(e), Err(problem)) => assert!(
                e.to_string()
                    .starts_with(&format!("invalid arguments: echo: argument `v` {problem}")),
                "{value:?}: {e}"
            ),
            (got, want) => panic!("{value:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn bad_definitions_name_the_tool_and_the_fix() {
    let cases = [
        (
            "name = \"bad name\"\ndescription = \"d\"\nspl = \"search x\"",
            "the name is not a valid MCP tool name",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$y$\"",
            "the template uses `$y$`, which is no parameter",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x\"\n[[parameters]]\nname = \"y\"\nrequired = true",
            "the parameter `y` is used nowhere in the template",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$y$\"\n[[parameters]]\nname = \"y\"\nrequired = true\npattern = \"(\"",
            "parameter `y`: the pattern \"(\" is not a valid regular expression",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$y$\"\n[[parameters]]\nname = \"y\"",
            "parameter `y`: optional without a `default`",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$y$\"\n[[parameters]]\nname = \"y\"\ntype = \"integer\"\ndefault = \"ten\"",
            "parameter `y`: the default must be a whole number",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$earliest$\"\n[[parameters]]\nname = \"earliest\"\nrequired = true",
            "parameter `earliest`: the name is taken by the time range",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$y$ | delete\"\n[[parameters]]\nname = \"y\"\nrequired = true",
            "the SPL guard refuses the template: the SPL command 'delete' is not allowed",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=\\\"$y$\\\"\"\n[[parameters]]\nname = \"y\"\nrequired = true",
            "in `spl`, the placeholder `$y$` is inside double quotes, a comment or a macro",
        ),
        (
            // A quote inside a comment must not make the check lose track of quotes.
            "name = \"t\"\ndescription = \"d\"\nspl = 'search index=web ```no \"x``` user=\"$y$\"'\n[[parameters]]\nname = \"y\"\nrequired = true",
            "in `spl`, the placeholder `$y$` is inside double quotes, a comment or a macro",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=1 ``` $y$ ```\"\n[[parameters]]\nname = \"y\"\ntype = \"integer\"\nrequired = true",
            "in `spl`, the placeholder `$y$` is inside double quotes, a comment or a macro",
        ),
        (
            "name = \"t\"\ndescription = \"d\"\nspl = \"search x=$y$\"\n[[parameters]]\nname = \"y\"\nfrom_claim = \"sub\"\nrequired = true",
            "parameter `y`: `from_claim` with `required` or `default`",
        ),
    ];
    for (text, want) in cases {
        let error = compile(text).map(|_| ()).unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!("custom tool `{}`: {want}", error.tool)),
            "{text}\n{shown}"
        );
        assert!(!error.fix.is_empty());
    }
}

#[test]
fn the_documented_examples_are_valid_tools() {
    #[derive(serde::Deserialize)]
    struct File {
        tools: Tables,
    }
    #[derive(serde::Deserialize)]
    struct Tables {
        custom: Vec<CustomToolConfig>,
    }
    let guide = include_str!("../../../../docs/custom-tools.md");
    let example = include_str!("../../../../docs/examples/custom-tools.toml");
    let mut blocks: Vec<&str> = guide
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    blocks.push(example);
    let mut tools = 0;
    for block in blocks {
        let file: File = toml::from_str(block).unwrap_or_else(|e| panic!("{block}\n{e}"));
        for tool in &file.tools.custom {
            CustomTool::compile(tool, &GuardConfig::default()).unwrap_or_else(|e| panic!("{e}"));
            tools += 1;
        }
    }
    assert!(tools >= 8, "{tools} documented tools");
}
