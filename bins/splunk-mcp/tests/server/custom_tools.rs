//! Custom SPL tools from configuration (issue 17), end to end through the real IdP, the
//! emulator and real MCP clients: listed with their schema, run with typed arguments as the
//! caller, a claim's value used whatever the client sends, refused like built-in tools (step-up,
//! group), no SPL injection (a corpus of hostile values, each refused with a clear error or
//! searched as that exact text), the tools file re-read on SIGHUP without dropping a session,
//! and bad definitions stopping the binary with exit status 2.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmcp::RoleClient;
use rmcp::service::NotificationContext;
use serde_json::{Value, json};

use crate::policy::{RawSession, listed_tools};
use crate::support::{
    Server, call, connect, connect_with, log_path, passthrough_server, run_to_end, text, token_for,
    ts_client, wait_for_audit,
};

/// The tools of these tests, as an administrator writes them.
const TOOLS: &str = r#"
[[tools.custom]]
name = "web_status_hosts"
description = "Hosts that answered with one HTTP status"
title = "Hosts by status"
spl = "search index=web status=$status$ | stats count by host"
[[tools.custom.parameters]]
name = "status"
type = "integer"
description = "The HTTP status, e.g. 404"
required = true
min = 100
max = 599

[[tools.custom]]
name = "my_web_requests"
description = "The caller's own web requests, by status"
spl = "search index=web user=$user$ | stats count by user, status"
earliest = "0"
[[tools.custom.parameters]]
name = "user"
from_claim = "preferred_username"

[[tools.custom]]
name = "web_totals_for_admins"
description = "Web events in all"
spl = "search index=web | stats count"
groups = ["admins"]

[[tools.custom]]
name = "echo_text"
description = "Finds a text by searching for it"
spl = "| makeresults | eval echoed=$text$ | search echoed=$text$ | table echoed"
[[tools.custom.parameters]]
name = "text"
required = true
"#;

/// Read and search, asked of the IdP.
const READ_SEARCH: &str = "openid splunk:read splunk:search";

/// A tools file holding `text`; its path.
fn tools_file(text: &str) -> String {
    let path = log_path("tools").with_extension("toml");
    std::fs::write(&path, text).expect("write the tools file");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// The rows of a search answer.
fn rows(result: &rmcp::model::CallToolResult) -> Vec<Value> {
    let structured = result
        .structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("no structured content: {}", text(result)));
    structured["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {structured}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_tools_list_run_and_refuse_like_built_in_ones() {
    let (world, server) = passthrough_server(&[("MCP_TOOLS_FILE", tools_file(TOOLS))]).await;
    let mcp = server.mcp_url.as_str();
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect(mcp, &alice).await;

    // Listed with a schema built from the parameters; the claim-bound one is not in it, and
    // the admins-only tool is not listed to an analyst.
    let tools = client.list_all_tools().await.expect("tools/list");
    let find = |name: &str| tools.iter().find(|tool| tool.name == name).cloned();
    let hosts = find("web_status_hosts").expect("web_status_hosts is listed");
    let schema = Value::Object((*hosts.input_schema).clone());
    assert_eq!(schema["required"], json!(["status"]), "{schema}");
    assert_eq!(
        schema["properties"]["status"],
        json!({"type": "integer", "description": "The HTTP status, e.g. 404",
               "minimum": 100.0, "maximum": 599.0}),
        "{schema}"
    );
    assert_eq!(hosts.title.as_deref(), Some("Hosts by status"));
    let annotations = hosts.annotations.expect("annotations");
    assert_eq!(annotations.read_only_hint, Some(true));
    let mine = find("my_web_requests").expect("my_web_requests is listed");
    assert!(
        mine.input_schema["properties"].get("user").is_none(),
        "{:?}",
        mine.input_schema
    );
    assert!(find("web_totals_for_admins").is_none(), "listed to alice");

    // Typed arguments: the same answer as the search written by hand.
    let answer = call(&client, "web_status_hosts", json!({"status": 404})).await;
    assert_ne!(answer.is_error, Some(true), "{}", text(&answer));
    let by_hand = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web status=404 | stats count by host"}),
    )
    .await;
    assert!(!rows(&answer).is_empty(), "{}", text(&answer));
    assert_eq!(rows(&answer), rows(&by_hand));
    let audited = wait_for_audit(&server.log, 1, |e| e["tool"] == "web_status_hosts").await;
    assert_eq!(
        audited[0]["spl"], "search index=web status=404 | stats count by host",
        "{audited:?}"
    );
    assert_eq!(audited[0]["subject"], "alice", "{audited:?}");

    // Bad arguments are refused naming the argument, and audited.
    for (args, problem) in [
        (
            json!({"status": "404; | delete"}),
            "argument `status` must be a whole number; got the text \"404; | delete\"",
        ),
        (
            json!({"status": 42}),
            "argument `status` must be at least 100",
        ),
        (json!({}), "missing argument `status`"),
    ] {
        let refused = call(&client, "web_status_hosts", args.clone()).await;
        assert_eq!(refused.is_error, Some(true), "{args}");
        let said = text(&refused);
        assert!(
            said.starts_with("invalid arguments: web_status_hosts: ") && said.contains(problem),
            "{args}: {said}"
        );
    }
    wait_for_audit(&server.log, 3, |e| {
        e["tool"] == "web_status_hosts" && e["outcome"] == "invalid_arguments"
    })
    .await;

    // The claim's value, whatever the client sends.
    let answer = call(&client, "my_web_requests", json!({"user": "bob"})).await;
    assert_ne!(answer.is_error, Some(true), "{}", text(&answer));
    let found = rows(&answer);
    assert!(!found.is_empty(), "{}", text(&answer));
    assert!(found.iter().all(|row| row["user"] == "alice"), "{found:?}");
    let audited = wait_for_audit(&server.log, 1, |e| e["tool"] == "my_web_requests").await;
    assert_eq!(
        audited[0]["spl"],
        "search index=web user=\"alice\" | stats count by user, status"
    );
    client.cancel().await.expect("close the session");

    // Refused before it runs like a built-in tool: a group the caller lacks, a scope the
    // token lacks (step-up).
    let session = RawSession::open(&world.http, mcp, &alice).await;
    let refused = session.call("web_totals_for_admins").await;
    assert_eq!(
        refused.access_denied("web_totals_for_admins"),
        "calling web_totals_for_admins needs membership of one of: admins"
    );
    let reader = token_for(&world, &server, "alice", "openid splunk:read").await;
    let session = RawSession::open(&world.http, mcp, &reader).await;
    session
        .call("web_status_hosts")
        .await
        .assert_step_up("web_status_hosts", "splunk:search");

    // An admin may; and the TypeScript SDK client calls a custom tool end to end.
    let bob = token_for(&world, &server, "bob", READ_SEARCH).await;
    let run = ts_client(mcp, Some(&bob), &["call", "web_totals_for_admins"]).await;
    assert!(run.success, "{}", run.stderr);
    let result: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON line");
    assert_ne!(result["isError"], true, "{result}");
    let total = result["structuredContent"]["rows"][0]["count"]
        .as_str()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("a count in {result}"));
    assert!(total > 0, "{result}");
    let run = ts_client(
        mcp,
        Some(&alice),
        &["call", "web_status_hosts", r#"{"status":500}"#],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("row(s) from search index=web status=500"),
        "{}",
        run.stdout
    );
}

/// Values a caller (or a prompt-injected model) might send to break out of a literal.
fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "\"",
        "a\"b",
        "\" OR 1=1",
        "x\" | delete",
        "\\",
        "a\\",
        "\\\"",
        "\\\\\" | delete",
        "| delete",
        "|",
        "x | outputlookup users.csv",
        "[search index=_audit]",
        "]",
        "[",
        "x [| makeresults | eval a=1]",
        "`macro`",
        "`delete_all()`",
        "``` comment ```",
        "line\nbreak",
        "carriage\rreturn",
        "tab\there",
        "nul\0byte",
        "$text$",
        "$status$",
        "$$",
        "$",
        "\u{FF02} fullwidth quote",
        "\u{201C}smart\u{201D} quotes",
        "\u{FF5C} fullwidth pipe",
        "\u{01C0} dental click",
        "\u{FF3B}search index=_audit\u{FF3D}",
        "\u{FF3C} fullwidth backslash",
        "\u{202E}right-to-left override",
        "\u{2028}line separator",
        "zero\u{200B}width",
        "a*",
        "*",
        "'single' quotes",
        "eval x=1",
        "index=_internal OR index=main",
        "NOT x",
        "() ) (",
        "</script><script>alert(1)</script>",
        "%22%7C%20delete",
        "emoji \u{1F525}",
        "\"\"",
        "\\\\\\\\",
        "  spaces around  ",
    ]
    .iter()
    .map(|v| (*v).to_owned())
    .collect();
    values.push("x".repeat(1024));
    values.push("A".repeat(100_000));
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_are_refused_or_searched_as_that_exact_text() {
    let (world, server) = passthrough_server(&[("MCP_TOOLS_FILE", tools_file(TOOLS))]).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect(&server.mcp_url, &alice).await;
    let values = hostile_values();
    assert!(values.len() >= 40, "{} values", values.len());
    let (mut refused, mut exact) = (0, 0);
    for value in &values {
        let answer = call(&client, "echo_text", json!({"text": value})).await;
        let said = text(&answer);
        if answer.is_error == Some(true) {
            assert!(
                said.starts_with("invalid arguments: echo_text: argument `text` "),
                "{value:?} was refused without saying why: {said}"
            );
            refused += 1;
        } else {
            // Found by searching for it: the literal is that exact text, in `eval` and in
            // `search` alike.
            assert_eq!(
                rows(&answer),
                [json!({"echoed": value})],
                "{value:?}: {said}"
            );
            exact += 1;
        }
    }
    assert!(
        refused >= 10 && exact >= 30,
        "{refused} refused, {exact} exact"
    );
    // Nothing but the one search per call reached Splunk: no command of a value ran.
    let spls: Vec<String> = wait_for_audit(&server.log, exact, |e| {
        e["tool"] == "echo_text" && e["outcome"] == "ok"
    })
    .await
    .iter()
    .map(|e| e["spl"].as_str().unwrap_or_default().to_owned())
    .collect();
    for spl in spls {
        assert!(
            spl.starts_with("| makeresults | eval echoed=\"") && spl.ends_with("\" | table echoed"),
            "{spl}"
        );
    }
}

/// An MCP client that counts the server's `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct ListChanges(Arc<AtomicUsize>);

impl rmcp::ClientHandler for ListChanges {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl ListChanges {
    /// Waits (10 s at most) until `count` notifications have come.
    async fn wait_for(&self, count: usize) {
        for _ in 0..100 {
            if self.0.load(Ordering::SeqCst) >= count {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "{} tools/list_changed notifications, not {count}",
            self.0.load(Ordering::SeqCst)
        );
    }
}

/// A 2026-07-28 client's `subscriptions/listen` stream (no session: the protocol version and
/// capabilities travel in `_meta`) asking for tool list changes, counting the
/// `notifications/tools/list_changed` tagged with its subscription id; returns once the server
/// acknowledged it.
async fn listen_for_tool_changes(mcp_url: &str, token: &str) -> ListChanges {
    const ID: &str = "tools-watch";
    let body = json!({
        "jsonrpc": "2.0",
        "id": ID,
        "method": "subscriptions/listen",
        "params": {
            "notifications": {"toolsListChanged": true, "promptsListChanged": true},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "listener", "version": "1.0.0"},
            },
        },
    });
    let mut response = reqwest::Client::new()
        .post(mcp_url)
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "subscriptions/listen")
        .json(&body)
        .send()
        .await
        .expect("subscriptions/listen");
    assert_eq!(response.status(), 200, "subscriptions/listen");
    let changes = ListChanges::default();
    let counter = changes.clone();
    let (acknowledged, acknowledgment) = tokio::sync::oneshot::channel::<Value>();
    tokio::spawn(async move {
        let mut acknowledged = Some(acknowledged);
        let mut buffer: Vec<u8> = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = buffer.drain(..end + 2).collect();
                let event = String::from_utf8_lossy(&event);
                for data in event.lines().filter_map(|line| line.strip_prefix("data:")) {
                    let Ok(message) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    if message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] != ID {
                        continue;
                    }
                    match message["method"].as_str() {
                        Some("notifications/subscriptions/acknowledged") => {
                            if let Some(acknowledged) = acknowledged.take() {
                                let _ = acknowledged.send(message["params"].clone());
                            }
                        }
                        Some("notifications/tools/list_changed") => {
                            counter.0.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    let accepted = tokio::time::timeout(std::time::Duration::from_secs(10), acknowledgment)
        .await
        .expect("acknowledged within 10 s")
        .expect("the stream acknowledged the subscription");
    // Only what the server declares: tool list changes, not prompts (it serves none).
    assert_eq!(
        accepted["notifications"],
        json!({"toolsListChanged": true}),
        "{accepted}"
    );
    changes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_tools_file_without_dropping_a_session() {
    let path = tools_file(TOOLS);
    let (world, server) = passthrough_server(&[("MCP_TOOLS_FILE", path.clone())]).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let changes = ListChanges::default();
    let client = connect_with(&server.mcp_url, &alice, changes.clone()).await;
    // A 2026-07-28 client has no session: it listens for changes on a stream of its own.
    let listened = listen_for_tool_changes(&server.mcp_url, &alice).await;
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.into_owned()).collect()
    };
    assert!(names(client.list_all_tools().await.unwrap()).contains(&"echo_text".to_owned()));

    let renamed = TOOLS.replace("\"echo_text\"", "\"find_text\"");
    std::fs::write(&path, &renamed).expect("rewrite the tools file");
    server.hangup();
    wait_for_log(&server, "reloaded the tools file", 1).await;
    // The session is told, and the listening stream, so clients list the tools again.
    changes.wait_for(1).await;
    listened.wait_for(1).await;
    // The same session, not a new one.
    let listed = names(
        client
            .list_all_tools()
            .await
            .expect("tools/list after the reload"),
    );
    assert!(listed.contains(&"find_text".to_owned()), "{listed:?}");
    assert!(!listed.contains(&"echo_text".to_owned()), "{listed:?}");
    let answer = call(&client, "find_text", json!({"text": "reloaded"})).await;
    assert_eq!(
        rows(&answer),
        [json!({"echoed": "reloaded"})],
        "{}",
        text(&answer)
    );
    let gone = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("echo_text").with_arguments(
                json!({"text": "x"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect_err("a tool removed by the reload is not found");
    assert!(gone.to_string().contains("tool not found"), "{gone}");

    // A file that does not check, or that needs a scope not offered at start, changes nothing.
    for (round, (broken, why)) in [
        (
            renamed.replace("eval echoed=$text$", "eval echoed=$txt$"),
            "the template uses `$txt$`, which is no parameter",
        ),
        (
            format!("{renamed}\n[[tools.custom]]\nname = \"t\"\ndescription = \"d\"\nspl = \"search x\"\nscopes = [\"splunk:new\"]\n"),
            "the tools need the scope(s) splunk:new",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(&path, broken).expect("rewrite the tools file");
        server.hangup();
        let log = wait_for_log(&server, "the tools file was not reloaded", round + 1).await;
        assert!(log.contains(why), "{log}");
        let answer = call(&client, "find_text", json!({"text": "kept"})).await;
        assert_eq!(rows(&answer), [json!({"echoed": "kept"})], "{}", text(&answer));
        // A refused file changed nothing, so nobody was told of a change.
        assert_eq!(changes.0.load(Ordering::SeqCst), round + 1);
        assert_eq!(listened.0.load(Ordering::SeqCst), round + 1);
        std::fs::write(&path, &renamed).expect("restore the tools file");
        server.hangup();
        wait_for_log(&server, "reloaded the tools file", round + 2).await;
        changes.wait_for(round + 2).await;
        listened.wait_for(round + 2).await;
    }
    client.cancel().await.expect("close the session");
}

/// Waits (10 s at most) until the server's log has `count` lines containing `what`; the log.
async fn wait_for_log(server: &Server, what: &str, count: usize) -> String {
    for _ in 0..100 {
        let log = server.log_text();
        if log.lines().filter(|line| line.contains(what)).count() >= count {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {count} log lines with {what:?}:\n{}", server.log_text());
}

#[tokio::test]
async fn bad_definitions_exit_2_naming_the_tool_and_the_fix() {
    let tool = |spl: &str, parameter: &str| {
        format!(
            "[[tools.custom]]\nname = \"failed_logins\"\ndescription = \"Failed logins\"\n\
             spl = \"{spl}\"\n{parameter}"
        )
    };
    let user = "[[tools.custom.parameters]]\nname = \"user\"\nrequired = true\n";
    let cases = [
        (
            tool("search index=security user=$usr$", user),
            "the template uses `$usr$`, which is no parameter",
            "add a [[tools.custom.parameters]] named `usr`",
        ),
        (
            tool("search index=security action=failure", user),
            "the parameter `user` is used nowhere in the template",
            "use it as `$user$` in `spl`, or remove it",
        ),
        (
            tool("search index=security", "").replace("failed_logins", "splunk_search"),
            "a custom tool is named `splunk_search`, like a built-in tool",
            "rename the custom tool",
        ),
        (
            tool(
                "search index=security user=$user$",
                &format!("{user}pattern = \"[a-z\"\n"),
            ),
            "the pattern \"[a-z\" is not a valid regular expression",
            "correct the pattern",
        ),
    ];
    let service = [
        ("SPLUNK_HOST", "splunk.example".to_owned()),
        ("SPLUNK_CREDENTIALS", "service".to_owned()),
        ("SPLUNK_TOKEN", "t".to_owned()),
    ];
    for (text, problem, fix) in &cases {
        let mut env = service.to_vec();
        env.push(("MCP_TOOLS_FILE", tools_file(text)));
        let (code, stdout, stderr) = run_to_end(&env, &["config", "check"]).await;
        assert_eq!(code, Some(2), "{text}\n{stdout}{stderr}");
        for part in ["MCP_TOOLS_FILE", problem, fix] {
            assert!(stderr.contains(part), "{part:?} not in: {stderr}");
        }
    }

    // A claim-bound parameter over stdio, where no caller has a token.
    let claim = tool(
        "search index=security user=$user$",
        "[[tools.custom.parameters]]\nname = \"user\"\nfrom_claim = \"preferred_username\"\n",
    );
    let mut env = service.to_vec();
    env.push(("MCP_TOOLS_FILE", tools_file(&claim)));
    let (code, _, stderr) = run_to_end(&env, &["serve", "--transport", "stdio"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("custom tool `failed_logins` takes a value from the token claim `preferred_username`, and over stdio no caller has a token"),
        "{stderr}"
    );

    // A good one: `config check` lists it with its effective scopes and groups, and writes the
    // main file's custom tools back so that the output loads again.
    let main_file = log_path("config").with_extension("toml");
    let good = format!(
        "[[tools.custom]]\nname = \"failed_logins\"\ndescription = \"Failed logins\"\n\
         spl = \"search index=security user=$user$\"\ngroups = [\"soc\"]\n{user}\n\
         [auth.tags.custom]\ngroups = [\"analysts\"]\n"
    );
    std::fs::write(&main_file, good).expect("write the config file");
    let mut env = service.to_vec();
    env.push(("MCP_CONFIG_FILE", main_file.display().to_string()));
    let (code, stdout, stderr) = run_to_end(&env, &["config", "check"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|line| line.contains("failed_logins (custom)"))
        .unwrap_or_else(|| panic!("no policy line for the custom tool:\n{stdout}"));
    assert!(
        line.contains(
            "scopes: splunk:search (default); groups: soc (default), analysts (tag custom)"
        ),
        "{line}"
    );
    assert!(stdout.contains("[[tools.custom]]"), "{stdout}");
    let again = log_path("config-again").with_extension("toml");
    std::fs::write(&again, &stdout).expect("write the printed config");
    let mut env = service.to_vec();
    env.push(("MCP_CONFIG_FILE", again.display().to_string()));
    let (code, reprinted, stderr) = run_to_end(&env, &["config", "check"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(reprinted.contains("failed_logins (custom)"), "{reprinted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_tools_answer_over_the_sample_data() {
    let example = e2e_tests::workspace_root()
        .join("docs")
        .join("examples")
        .join("custom-tools.toml");
    let (world, server) =
        passthrough_server(&[("MCP_TOOLS_FILE", example.display().to_string())]).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let listed = listed_tools(&server.mcp_url, &alice).await;
    assert!(
        !listed.contains(&"failed_logins_for_user".to_owned()),
        "{listed:?}"
    );
    let client = connect(&server.mcp_url, &alice).await;
    for (tool, args) in [
        ("web_errors_by_host", json!({})),
        ("my_web_activity", json!({"limit": 5})),
    ] {
        let answer = call(&client, tool, args).await;
        assert_ne!(answer.is_error, Some(true), "{tool}: {}", text(&answer));
        assert!(!rows(&answer).is_empty(), "{tool}: {}", text(&answer));
    }
    client.cancel().await.expect("close the session");

    let bob = token_for(&world, &server, "bob", READ_SEARCH).await;
    let client = connect(&server.mcp_url, &bob).await;
    let answer = call(
        &client,
        "failed_logins_for_user",
        json!({"user": "root", "hours": 720}),
    )
    .await;
    assert_ne!(answer.is_error, Some(true), "{}", text(&answer));
    assert!(!rows(&answer).is_empty(), "{}", text(&answer));
    let refused = call(
        &client,
        "failed_logins_for_user",
        json!({"user": "root OR user=admin"}),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("argument `user` must match the pattern"),
        "{}",
        text(&refused)
    );
    client.cancel().await.expect("close the session");
}
