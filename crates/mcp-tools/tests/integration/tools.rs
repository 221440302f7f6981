//! The tools end to end: listing, search, guard refusals, limits, identity, scopes and
//! passthrough credentials.

use std::time::Duration;

use mcp_tools::{SplunkTools, ToolsConfig};
use serde_json::{Value, json};
use splunk_client::{ExposeSecret, NewUser, SecretString, TokenRequest};

use crate::support::{World, call, caller, connect, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_shows_schemas_and_annotations() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let tools = client.list_all_tools().await.unwrap();
    let info = client.peer_info().expect("the server introduced itself");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("splunk-mcp")
    );
    // Over a stream transport the handshake is `initialize`, whose newest version is this one;
    // 2026-07-28 has no handshake (per-request `_meta`).
    assert_eq!(
        info.protocol_version,
        rmcp::model::ProtocolVersion::LATEST_WITH_INITIALIZE
    );
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let registered: Vec<&str> = mcp_tools::registry::TOOL_SPECS
        .iter()
        .map(|s| s.name)
        .collect();
    let mut sorted_names = names.clone();
    sorted_names.sort_unstable();
    let mut sorted_registered = registered.clone();
    sorted_registered.sort_unstable();
    assert_eq!(
        sorted_names, sorted_registered,
        "every tool is in the registry and back"
    );
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        let read_only = tool.name != "splunk_search_cancel";
        assert_eq!(annotations.read_only_hint, Some(read_only), "{}", tool.name);
        assert_eq!(annotations.destructive_hint, Some(false), "{}", tool.name);
        assert_eq!(annotations.open_world_hint, Some(true), "{}", tool.name);
    }
    let mut listed = serde_json::to_value(&tools).unwrap();
    if let Value::Array(items) = &mut listed {
        items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    insta::assert_json_snapshot!("tools_list", listed);
    assert_eq!(SplunkTools::tools().len(), tools.len());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_returns_rows_as_structured_content_and_text() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let result = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | stats count by status", "max_results": 50}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap();
    let rows = structured["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.get("status").is_some() && r.get("count").is_some())
    );
    assert_eq!(structured["truncated"], false);
    assert_eq!(
        structured["search"],
        "search index=web | stats count by status"
    );
    assert!(structured["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(text(&result).contains("row(s) from search"));
    // The default time range went to Splunk.
    let job = world
        .emulator
        .request_log()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/search/jobs"))
        .expect("a job was created");
    assert!(
        job.params
            .iter()
            .any(|(k, v)| k == "earliest_time" && v == "-24h")
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_spl_tells_the_guard_and_splunks_parser_apart() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let validate = |spl: &'static str| {
        let client = &client;
        async move {
            let result = call(client, "splunk_validate_spl", json!({ "spl": spl })).await;
            assert_eq!(result.is_error, Some(false), "{spl}: {}", text(&result));
            result.structured_content.clone().expect("structured")
        }
    };
    let fine = validate("index=web | stats count by status").await;
    assert_eq!(fine["guard"]["allowed"], true, "{fine}");
    assert_eq!(
        fine["guard"]["commands"],
        json!(["search", "stats"]),
        "{fine}"
    );
    assert_eq!(fine["guard"]["indexes"], json!(["web"]), "{fine}");
    assert_eq!(fine["splunk"]["parses"], true, "{fine}");
    assert_eq!(fine["splunk"]["commands"][1]["command"], "stats", "{fine}");

    // Allowed here, but Splunk does not know the command: Splunk's own error.
    let unknown = validate("index=web | nosuchcommand x").await;
    assert_eq!(unknown["guard"]["allowed"], true, "{unknown}");
    assert_eq!(unknown["splunk"]["parses"], false, "{unknown}");
    assert!(
        unknown["splunk"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("Unknown search command 'nosuchcommand'")),
        "{unknown}"
    );

    // Refused here whatever Splunk thinks; nothing ran.
    let refused = validate("index=web | outputlookup hosts.csv").await;
    assert_eq!(refused["guard"]["allowed"], false, "{refused}");
    assert!(
        refused["guard"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("'outputlookup' is not allowed")),
        "{refused}"
    );
    assert!(
        !world
            .emulator
            .request_log()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/search/jobs")),
        "validating created a search job"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_mode_and_event_sampling_reach_splunk_for_searches_and_saved_searches() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let count = |result: &rmcp::model::CallToolResult| -> u64 {
        assert_eq!(result.is_error, Some(false), "{}", text(result));
        let rows = &result.structured_content.as_ref().unwrap()["rows"];
        rows[0]["count"].as_str().unwrap().parse().unwrap()
    };
    let spl = "index=web | stats count";
    let all = count(
        &call(
            &client,
            "splunk_search",
            json!({"spl": spl, "earliest": "0"}),
        )
        .await,
    );
    let sampled_result = call(
        &client,
        "splunk_search",
        json!({"spl": spl, "earliest": "0", "mode": "fast", "sample_ratio": 10}),
    )
    .await;
    let sampled = count(&sampled_result);
    // One event in ten, give or take the last one.
    assert!(
        sampled.abs_diff(all / 10) <= 1,
        "{sampled} sampled of {all} events"
    );
    let job = world
        .emulator
        .request_log()
        .into_iter()
        .rfind(|r| r.method == "POST" && r.path.ends_with("/search/jobs"))
        .expect("a job was created");
    for (name, value) in [("adhoc_search_level", "fast"), ("sample_ratio", "10")] {
        assert!(
            job.params.iter().any(|(k, v)| k == name && v == value),
            "{name}={value} not in {:?}",
            job.params
        );
    }
    // A short search is one blocking create of a job the server named, then its rows.
    let sid = sampled_result.structured_content.as_ref().unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, value) in [("exec_mode", "blocking"), ("id", sid.as_str())] {
        assert!(
            job.params.iter().any(|(k, v)| k == name && v == value),
            "{name}={value} not in {:?}",
            job.params
        );
    }
    let polls = world
        .emulator
        .request_log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/search/jobs/{sid}")))
        .count();
    assert_eq!(polls, 1, "one status request, beside the rows");
    let refused = call(
        &client,
        "splunk_search",
        json!({"spl": spl, "mode": "quick", "sample_ratio": 0}),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("argument `mode` must be one of: fast, smart, verbose")
            && text(&refused).contains("argument `sample_ratio` must be at least 1"),
        "{}",
        text(&refused)
    );

    // A saved search takes them too, as overrides of its own dispatch settings.
    let total = |result: &rmcp::model::CallToolResult| -> u64 {
        assert_eq!(result.is_error, Some(false), "{}", text(result));
        let rows = result.structured_content.as_ref().unwrap()["rows"]
            .as_array()
            .unwrap()
            .clone();
        rows.iter()
            .map(|row| row["count"].as_str().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let saved = |extra: Value| {
        let mut args = json!({"name": "Web server errors", "earliest": "0", "max_results": 1000});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        call(&client, "splunk_run_saved_search", args)
    };
    let all = total(&saved(json!({})).await);
    let sampled = total(&saved(json!({"mode": "verbose", "sample_ratio": 10})).await);
    assert!(all >= 20, "the seeded data has 5xx answers: {all}");
    // Events are sampled as they are read, before `status>=500` keeps some: about one in ten.
    assert!(
        sampled.abs_diff(all / 10) <= all / 40,
        "{sampled} sampled of {all} errors"
    );
    let dispatch = world
        .emulator
        .request_log()
        .into_iter()
        .rfind(|r| r.method == "POST" && r.path.ends_with("/dispatch"))
        .expect("the saved search was dispatched");
    for (name, value) in [
        ("dispatch.adhoc_search_level", "verbose"),
        ("dispatch.sample_ratio", "10"),
    ] {
        assert!(
            dispatch.params.iter().any(|(k, v)| k == name && v == value),
            "{name}={value} not in {:?}",
            dispatch.params
        );
    }
    let refused = saved(json!({"sample_ratio": 0})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("argument `sample_ratio` must be at least 1"),
        "{}",
        text(&refused)
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_refusals_are_tool_errors_naming_the_command() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let cases = [
        ("index=web | delete", "'delete'"),
        (
            "index=web [search index=x | outputlookup hosts.csv]",
            "'outputlookup'",
        ),
        ("index=web | collect index=summary", "'collect'"),
    ];
    for (spl, command) in cases {
        let result = call(&client, "splunk_search", json!({"spl": spl})).await;
        assert_eq!(result.is_error, Some(true), "{spl}");
        let message = text(&result);
        assert!(message.contains(command), "{spl}: {message}");
    }
    assert!(
        text(
            &call(
                &client,
                "splunk_search",
                json!({"spl": "index=web [search index=x | outputlookup h.csv]"})
            )
            .await
        )
        .contains("subsearch")
    );
    // Nothing reached Splunk's search endpoints.
    assert!(
        world
            .emulator
            .request_log()
            .iter()
            .all(|r| !r.path.contains("search/jobs")),
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_is_never_silent() {
    let world = World::start().await;
    let mut config = ToolsConfig::default();
    config.max_results_cap = 10;
    let client = connect(world.service_server(config)).await;
    let result = call(
        &client,
        "splunk_search",
        json!({"spl": "| makeresults count=30", "max_results": 50}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(structured["rows"].as_array().unwrap().len(), 10);
    assert_eq!(structured["truncated"], true);
    assert_eq!(structured["total"], 30);
    let note = structured["notes"][0].as_str().unwrap();
    assert!(note.contains("first 10 of 30"), "{note}");
    assert!(note.contains("cap"), "{note}");
    assert!(text(&result).contains("Results truncated"));

    let mut tiny = ToolsConfig::default();
    tiny.max_result_bytes = 200;
    let client = connect(world.service_server(tiny)).await;
    let result = call(
        &client,
        "splunk_search",
        json!({"spl": "| makeresults count=30"}),
    )
    .await;
    let structured = result.structured_content.clone().unwrap();
    let kept = structured["rows"].as_array().unwrap().len();
    assert!(kept < 30);
    assert_eq!(structured["truncated"], true);
    assert!(
        structured["notes"][0]
            .as_str()
            .unwrap()
            .contains("200 byte")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_tools_answer() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let indexes = call(&client, "splunk_list_indexes", json!({})).await;
    assert_eq!(indexes.is_error, Some(false), "{}", text(&indexes));
    let names: Vec<String> = indexes.structured_content.unwrap()["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"web".to_owned()));
    assert!(!names.iter().any(|n| n.starts_with('_')));

    let index = call(&client, "splunk_get_index", json!({"name": "web"})).await;
    assert_eq!(index.structured_content.unwrap()["name"], "web");
    let missing = call(&client, "splunk_get_index", json!({"name": "nope"})).await;
    assert_eq!(missing.is_error, Some(true));
    assert!(
        text(&missing).starts_with("no index named `nope` is visible to you"),
        "{}",
        text(&missing)
    );

    let meta = call(
        &client,
        "splunk_get_metadata",
        json!({"index": "web", "type": "sourcetypes"}),
    )
    .await;
    assert_eq!(meta.is_error, Some(false), "{}", text(&meta));
    assert!(
        !meta.structured_content.unwrap()["values"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let info = call(&client, "splunk_server_info", json!({})).await;
    assert_eq!(info.structured_content.unwrap()["version"], "10.2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_reports_mcp_and_splunk_identity() {
    let world = World::start().await;
    let server = world.service_server(ToolsConfig::default());
    let anonymous = connect(server.clone()).await;
    let result = call(&anonymous, "splunk_whoami", json!({})).await;
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["mcp"]["authenticated"], false);
    assert_eq!(structured["splunk"]["username"], "admin");
    assert_eq!(structured["credentials"], "service");

    let alice = connect(server.with_caller(Some(caller("alice", "splunk:read", "tok")))).await;
    let result = call(&alice, "splunk_whoami", json!({"skip_splunk": true})).await;
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["mcp"]["subject"], "alice");
    assert_eq!(structured["mcp"]["client_id"], "test-client");
    assert_eq!(structured["mcp"]["scopes"], json!(["splunk:read"]));
    assert_eq!(structured["mcp"]["groups"], json!(["analysts"]));
    assert!(structured.get("splunk").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_scope_is_a_tool_error_naming_it() {
    let world = World::start().await;
    let server = world
        .service_server(ToolsConfig::default())
        .with_caller(Some(caller("alice", "splunk:read", "tok")));
    let client = connect(server).await;
    let result = call(&client, "splunk_search", json!({"spl": "index=web"})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("splunk:search"), "{}", text(&result));
    // Reading the catalog is within the granted scope.
    let ok = call(&client, "splunk_list_indexes", json!({})).await;
    assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
    assert!(
        world
            .emulator
            .request_log()
            .iter()
            .all(|r| !r.path.contains("search/jobs"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_reaches_splunk_as_the_caller() {
    let world = World::start().await;
    let admin = world.admin();
    admin
        .create_user(&NewUser::new(
            "webby",
            SecretString::from("Webby-pass-1234"),
            vec!["web_analyst".to_owned()],
        ))
        .await
        .unwrap();
    let minted = admin
        .create_token(&TokenRequest::new(
            "webby",
            "mcp-tools-tests",
            Duration::from_secs(600),
        ))
        .await
        .unwrap();
    let token = minted.token.expose_secret().to_owned();
    let server = world.passthrough_server().with_caller(Some(caller(
        "webby@example.com",
        "splunk:read splunk:search",
        &token,
    )));
    let client = connect(server).await;
    let result = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["splunk"]["username"], "webby");
    assert_eq!(structured["credentials"], "passthrough");
    let last = world.emulator.request_log().pop().unwrap();
    assert_eq!(last.auth_scheme.as_deref(), Some("Bearer"));

    // Splunk's RBAC applies to the caller: a web analyst sees web events, not security ones.
    let count = |result: rmcp::model::CallToolResult| {
        let rows = result.structured_content.unwrap()["rows"].clone();
        rows.as_array()
            .and_then(|rows| rows.first())
            .and_then(|row| row["count"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "0".to_owned())
    };
    let web = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | stats count"}),
    )
    .await;
    assert_ne!(count(web), "0");
    let security = call(
        &client,
        "splunk_search",
        json!({"spl": "index=security | stats count"}),
    )
    .await;
    assert_eq!(count(security), "0");

    // Without a caller there is no token to forward.
    let anonymous = connect(world.passthrough_server()).await;
    let refused = call(&anonymous, "splunk_server_info", json!({})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("no token"), "{}", text(&refused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_jobs_start_poll_page_and_cancel() {
    let world = World::start().await;
    let server = world.service_server(ToolsConfig::default());
    let alice = connect(server.with_caller(Some(caller("alice", "splunk:search", "a")))).await;
    let started = call(
        &alice,
        "splunk_search_start",
        json!({"spl": "| makeresults count=7"}),
    )
    .await;
    assert_eq!(started.is_error, Some(false), "{}", text(&started));
    let sid = started.structured_content.unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut done = false;
    for _ in 0..100 {
        let status = call(&alice, "splunk_search_status", json!({"sid": sid})).await;
        assert_eq!(status.is_error, Some(false), "{}", text(&status));
        if status.structured_content.unwrap()["is_done"] == true {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done, "the job finishes");
    let page = call(
        &alice,
        "splunk_search_results",
        json!({"sid": sid, "offset": 0, "count": 5}),
    )
    .await;
    let page = page.structured_content.unwrap();
    assert_eq!(page["returned"], 5);
    assert_eq!(page["next_offset"], 5);
    let rest = call(
        &alice,
        "splunk_search_results",
        json!({"sid": sid, "offset": 5, "count": 5}),
    )
    .await;
    let rest = rest.structured_content.unwrap();
    assert_eq!(rest["returned"], 2);
    assert_eq!(rest["next_offset"], Value::Null);

    // Another caller of the same service account cannot use alice's job.
    let bob = connect(server.with_caller(Some(caller("bob", "splunk:search", "b")))).await;
    let stolen = call(&bob, "splunk_search_results", json!({"sid": sid})).await;
    assert_eq!(stolen.is_error, Some(true));
    assert!(text(&stolen).contains("sid"), "{}", text(&stolen));

    let cancelled = call(&alice, "splunk_search_cancel", json!({"sid": sid})).await;
    assert_eq!(cancelled.is_error, Some(false), "{}", text(&cancelled));
    let refused = call(
        &alice,
        "splunk_search_start",
        json!({"spl": "| makeresults | sendemail to=x@example.com"}),
    )
    .await;
    assert!(text(&refused).contains("'sendemail'"), "{}", text(&refused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_searches_apps_and_kvstore() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let listed = call(&client, "splunk_list_saved_searches", json!({})).await;
    assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
    let saved = listed.structured_content.unwrap();
    assert!(
        saved["saved_searches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "Web server errors")
    );

    let run = call(
        &client,
        "splunk_run_saved_search",
        json!({"name": "Top pages", "max_results": 3}),
    )
    .await;
    assert_eq!(run.is_error, Some(false), "{}", text(&run));
    let run = run.structured_content.unwrap();
    assert_eq!(run["rows"].as_array().unwrap().len(), 3);
    assert_eq!(run["truncated"], true);
    assert!(text_of(&run["search"]).contains("saved search 'Top pages'"));

    let apps = call(&client, "splunk_list_apps", json!({})).await;
    assert!(
        !apps.structured_content.unwrap()["apps"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let collections = call(&client, "splunk_kvstore_list_collections", json!({})).await;
    let names: Vec<Value> = collections.structured_content.unwrap()["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert!(names.contains(&json!("assets")), "{names:?}");

    let docs = call(
        &client,
        "splunk_kvstore_query",
        json!({"collection": "assets", "limit": 2}),
    )
    .await;
    assert_eq!(docs.is_error, Some(false), "{}", text(&docs));
    let docs = docs.structured_content.unwrap();
    assert_eq!(docs["returned"], 2);
    assert_eq!(docs["next_skip"], 2);
    let bad = call(
        &client,
        "splunk_kvstore_query",
        json!({"collection": "assets", "query": [1, 2]}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tools_need_the_admin_scope() {
    let world = World::start().await;
    let server = world.service_server(ToolsConfig::default());
    let admin = connect(server.with_caller(Some(caller("root", "splunk:admin", "t")))).await;
    let users = call(&admin, "splunk_list_users", json!({})).await;
    assert_eq!(users.is_error, Some(false), "{}", text(&users));
    assert!(
        users.structured_content.unwrap()["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["name"] == "admin")
    );
    let roles = call(&admin, "splunk_list_roles", json!({})).await;
    assert!(text(&roles).contains("web_analyst"), "{}", text(&roles));

    let reader =
        connect(server.with_caller(Some(caller("r", "splunk:read splunk:search", "t")))).await;
    let refused = call(&reader, "splunk_list_roles", json!({})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("splunk:admin"),
        "{}",
        text(&refused)
    );
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_the_timeout_is_cancelled_and_says_so() {
    let world = World::with(splunk_emulator::EmulatorConfig {
        job_min_run_ms: 5_000,
        ..splunk_emulator::EmulatorConfig::default()
    })
    .await;
    let mut config = ToolsConfig::default();
    config.search_timeout = Duration::from_millis(300);
    let client = connect(world.service_server(config)).await;
    let result = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | head 1"}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("within 0.3 s and was cancelled"),
        "{}",
        text(&result)
    );
    let cancels: Vec<_> = world
        .emulator
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/control"))
        .collect();
    assert_eq!(cancels.len(), 1, "the job was cancelled");
    assert!(
        cancels[0]
            .params
            .iter()
            .any(|(k, v)| k == "action" && v == "cancel")
    );
}

/// The sorted names `tools/list` shows through `server`.
async fn listed_names(server: SplunkTools) -> Vec<String> {
    let client = connect(server).await;
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort_unstable();
    client.cancel().await.unwrap();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_shows_each_caller_only_its_tools() {
    let world = World::start().await;
    let server = world.service_server(ToolsConfig::default());
    let searcher = caller("searcher", "splunk:search", "t1");
    let operator = caller("operator", "splunk:read splunk:admin", "t2");

    let searcher_tools = listed_names(server.with_caller(Some(searcher.clone()))).await;
    assert_eq!(
        searcher_tools,
        [
            "splunk_lookup_query",
            "splunk_run_saved_search",
            "splunk_search",
            "splunk_search_cancel",
            "splunk_search_results",
            "splunk_search_start",
            "splunk_search_status",
            "splunk_validate_spl",
            "splunk_whoami",
        ]
    );
    let operator_tools = listed_names(server.with_caller(Some(operator))).await;
    assert!(operator_tools.contains(&"splunk_list_users".to_owned()));
    assert!(operator_tools.contains(&"splunk_list_indexes".to_owned()));
    assert!(
        !operator_tools
            .iter()
            .any(|n| n.starts_with("splunk_search"))
    );
    // Every tool is listed to exactly the callers allowed to call it.
    let registry = server.registry();
    let operator = caller("operator", "splunk:read splunk:admin", "t2");
    let expected: Vec<&str> = registry.allowed_tools(&operator).collect();
    assert_eq!(operator_tools.len(), expected.len());

    // No caller (stdio), or the filter off: every tool.
    let all = SplunkTools::tools().len();
    assert_eq!(listed_names(server.clone()).await.len(), all);
    let unfiltered = world
        .service_server(ToolsConfig::default())
        .with_tools_list_filter(false)
        .with_caller(Some(searcher.clone()));
    assert_eq!(listed_names(unfiltered.clone()).await.len(), all);

    // A listed-or-not tool is still checked when called.
    let client = connect(unfiltered).await;
    let denied = call(&client, "splunk_list_users", json!({})).await;
    assert_eq!(denied.is_error, Some(true));
    client.cancel().await.unwrap();
}
