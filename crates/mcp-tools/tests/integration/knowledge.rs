//! The knowledge-object tools end to end: fired alerts, dashboards and their searches, lookups
//! and their rows, data models; and their refusals and scopes.

use mcp_tools::ToolsConfig;
use serde_json::{Value, json};

use crate::support::{World, call, caller, connect, text};

/// The values of `field` in each item of the array `items`.
fn strings<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fired_alerts_newest_first() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let result = call(&client, "splunk_list_fired_alerts", json!({})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap();
    let alerts = &structured["fired_alerts"];
    assert_eq!(alerts.as_array().unwrap().len(), 6);
    assert_eq!(
        (structured["total"].as_u64(), &structured["truncated"]),
        (Some(6), &json!(false))
    );
    let times = strings(alerts, "trigger_time");
    assert!(times.windows(2).all(|pair| pair[0] > pair[1]), "{times:?}");
    assert!(times.iter().all(|t| t.ends_with('Z')), "{times:?}");
    let newest = &alerts[0];
    assert_eq!(newest["saved_search"], "Failed logins by user");
    assert_eq!(
        (&newest["severity"], &newest["severity_label"]),
        (&json!(4), &json!("error"))
    );
    assert_eq!(
        (&newest["app"], &newest["owner"]),
        (&json!("search"), &json!("nobody"))
    );
    assert!(newest["sid"].as_str().unwrap().starts_with("scheduler__"));
    assert_eq!(newest["actions"], "email");
    assert!(text(&result).contains("6 fired alert(s), newest first"));
    // The summary, then the alerts of each saved search that fired.
    let paths: Vec<String> = world
        .emulator
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/alerts/fired_alerts"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths,
        [
            "/servicesNS/-/-/alerts/fired_alerts",
            "/servicesNS/nobody/search/alerts/fired_alerts/Blocked%20traffic%20sources",
            "/servicesNS/nobody/search/alerts/fired_alerts/Failed%20logins%20by%20user",
        ]
    );

    let one = call(
        &client,
        "splunk_list_fired_alerts",
        json!({"saved_search": "Blocked traffic sources"}),
    )
    .await;
    let alerts = &one.structured_content.unwrap()["fired_alerts"];
    assert_eq!(
        strings(alerts, "saved_search"),
        ["Blocked traffic sources"; 2]
    );
    assert_eq!(alerts[0]["severity_label"], "warn");
    assert_eq!(alerts[0]["actions"], Value::Null);

    let few = call(
        &client,
        "splunk_list_fired_alerts",
        json!({"max_results": 2}),
    )
    .await;
    let structured = few.structured_content.unwrap();
    assert_eq!(structured["returned"], 2);
    assert_eq!(structured["truncated"], true);
    assert!(
        structured["notes"][0]
            .as_str()
            .unwrap()
            .contains("newest 2 of 6")
    );
    let none = call(
        &client,
        "splunk_list_fired_alerts",
        json!({"saved_search": "Top pages"}),
    )
    .await;
    assert_eq!(none.is_error, Some(false));
    assert!(text(&none).starts_with("No fired alerts of saved search 'Top pages'"));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_listed_and_their_searches_read() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let listed = call(&client, "splunk_list_dashboards", json!({})).await;
    assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
    let dashboards = &listed.structured_content.unwrap()["dashboards"];
    assert_eq!(
        strings(dashboards, "name"),
        ["security_posture", "web_overview"]
    );
    assert_eq!(strings(dashboards, "kind"), ["studio", "simple_xml"]);
    assert_eq!(
        strings(dashboards, "title"),
        ["Security Posture", "Web Overview"]
    );
    assert_eq!(strings(dashboards, "owner"), ["nobody", "admin"]);
    assert!(
        dashboards[0]["updated"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let filtered = call(&client, "splunk_list_dashboards", json!({"filter": "web*"})).await;
    assert_eq!(
        strings(&filtered.structured_content.unwrap()["dashboards"], "name"),
        ["web_overview"]
    );

    let simple = call(
        &client,
        "splunk_get_dashboard",
        json!({"name": "web_overview"}),
    )
    .await;
    assert_eq!(simple.is_error, Some(false), "{}", text(&simple));
    let structured = simple.structured_content.clone().unwrap();
    assert_eq!(structured["kind"], "simple_xml");
    assert!(structured.get("source").is_none(), "no source unless asked");
    let searches = &structured["searches"];
    assert_eq!(
        strings(searches, "query"),
        [
            "index=web | stats count by host | sort host",
            "index=web host=$host_tok$ | timechart count by status",
            "index=web host=$host_tok$ status>=500 | top limit=10 uri",
            "index=web bytes>4000 | stats count, avg(bytes) AS avg_bytes by uri | sort - count",
            "",
        ]
    );
    assert_eq!(searches[1]["title"], "Requests by status");
    assert_eq!(searches[4]["saved_search"], "Failed logins by user");
    let words = text(&simple);
    assert!(words.contains("[Server errors by page] index=web host=$host_tok$ status>=500"));
    assert!(words.contains("saved search 'Failed logins by user'"));
    assert!(words.contains("dashboard's tokens"), "{words}");
    assert!(
        !words.contains("| delete"),
        "a commented-out panel is not shown"
    );

    let studio = call(
        &client,
        "splunk_get_dashboard",
        json!({"name": "security_posture", "app": "search", "include_source": true}),
    )
    .await;
    let structured = studio.structured_content.unwrap();
    assert_eq!(structured["kind"], "studio");
    let mut ids = strings(&structured["searches"], "id");
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "ds_blocked",
            "ds_failed_logins",
            "ds_repeat_offenders",
            "ds_top_sources"
        ]
    );
    let blocked = structured["searches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ds_blocked")
        .unwrap();
    assert_eq!(blocked["earliest"], "-7d@h");
    assert!(
        structured["source"]
            .as_str()
            .unwrap()
            .starts_with("<dashboard version=\"2\"")
    );

    let missing = call(&client, "splunk_get_dashboard", json!({"name": "nope"})).await;
    assert_eq!(missing.is_error, Some(true));
    assert!(
        text(&missing).starts_with("no dashboard named `nope` is visible to you"),
        "{}",
        text(&missing)
    );
    let page = call(&client, "splunk_get_dashboard", json!({"name": "search"})).await;
    assert!(text(&page).contains("not a dashboard"), "{}", text(&page));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_listed_with_their_fields() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let result = call(&client, "splunk_list_lookups", json!({})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap();
    let file = &structured["lookup_files"][0];
    assert_eq!(file["name"], "http_status.csv");
    assert_eq!(file["app"], "search");
    assert_eq!(
        file["fields"],
        json!(["status", "status_description", "status_type"])
    );
    let definition = &structured["lookup_definitions"][0];
    assert_eq!(definition["name"], "http_status");
    assert_eq!(definition["type"], "file");
    assert_eq!(definition["filename"], "http_status.csv");
    assert_eq!(definition["fields"], file["fields"]);
    assert!(definition.get("collection").is_none());
    assert!(text(&result).contains("splunk_lookup_query"));
    let none = call(&client, "splunk_list_lookups", json!({"app": "launcher"})).await;
    let structured = none.structured_content.unwrap();
    assert_eq!(structured["lookup_files"], json!([]));
    assert_eq!(structured["lookup_definitions"], json!([]));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_query_reads_rows_through_the_search_path() {
    let world = World::start().await;
    let server = world
        .service_server(ToolsConfig::default())
        .with_caller(Some(caller("alice", "splunk:search", "tok")));
    let client = connect(server).await;
    let result = call(
        &client,
        "splunk_lookup_query",
        json!({"lookup": "http_status", "filter": "status_type=\"Server Error\""}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(
        strings(&structured["rows"], "status"),
        ["500", "502", "503"]
    );
    assert_eq!(structured["lookup"], "http_status");
    assert_eq!(structured["truncated"], false);
    let spl = "| inputlookup http_status | search status_type=\"Server Error\" | head 100";
    assert_eq!(structured["search"], spl);
    let job = world
        .emulator
        .request_log()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/search/jobs"))
        .expect("a job was created");
    assert!(job.params.iter().any(|(k, v)| k == "search" && v == spl));

    let few = call(
        &client,
        "splunk_lookup_query",
        json!({"lookup": "http_status.csv", "max_results": 2}),
    )
    .await;
    let structured = few.structured_content.clone().unwrap();
    assert_eq!(strings(&structured["rows"], "status"), ["200", "201"]);
    let note = structured["notes"][0].as_str().unwrap();
    assert!(note.starts_with("Stopped at max_results=2 rows"), "{note}");
    assert!(text(&few).contains("Stopped at max_results=2 rows"));

    // A lookup Splunk does not know: its own words.
    let unknown = call(&client, "splunk_lookup_query", json!({"lookup": "no_such"})).await;
    assert_eq!(unknown.is_error, Some(true));
    assert!(
        text(&unknown).contains("requires a .csv or KV store lookup definition"),
        "{}",
        text(&unknown)
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_query_refuses_bad_names_and_denied_filters() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    for lookup in [
        "http_status | delete",
        "http_status.csv where 1=1",
        "max=1",
        "-append",
        "[x]",
        "",
    ] {
        let result = call(&client, "splunk_lookup_query", json!({"lookup": lookup})).await;
        assert_eq!(result.is_error, Some(true), "{lookup:?}");
        assert!(
            text(&result).starts_with("invalid argument 'lookup'"),
            "{lookup:?}: {}",
            text(&result)
        );
    }
    let cases = [
        ("status=500 | outputlookup evil.csv", "'outputlookup'"),
        ("[search index=web | collect index=summary]", "'collect'"),
        ("status=500 | delete", "'delete'"),
    ];
    for (filter, command) in cases {
        let result = call(
            &client,
            "splunk_lookup_query",
            json!({"lookup": "http_status", "filter": filter}),
        )
        .await;
        assert_eq!(result.is_error, Some(true), "{filter}");
        let message = text(&result);
        assert!(message.starts_with("search refused"), "{filter}: {message}");
        assert!(message.contains(command), "{filter}: {message}");
    }
    let zero = call(
        &client,
        "splunk_lookup_query",
        json!({"lookup": "http_status", "max_results": 0}),
    )
    .await;
    assert!(text(&zero).contains("max_results"), "{}", text(&zero));
    // Nothing reached Splunk's search endpoints.
    assert!(
        world
            .emulator
            .request_log()
            .iter()
            .all(|r| !r.path.contains("search/jobs"))
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_models_with_datasets_and_fields() {
    let world = World::start().await;
    let client = connect(world.service_server(ToolsConfig::default())).await;
    let result = call(&client, "splunk_list_data_models", json!({})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let structured = result.structured_content.clone().unwrap();
    let web = &structured["data_models"][0];
    assert_eq!(web["name"], "Web");
    assert_eq!(web["accelerated"], true);
    assert_eq!(web["acceleration"]["earliest_time"], "-7d");
    assert_eq!(
        strings(&web["datasets"], "lineage"),
        ["Web", "Web.Errors", "Web.Errors.Server_Errors"]
    );
    let server_errors = &web["datasets"][2];
    assert_eq!(server_errors["constraints"], json!(["status>=500"]));
    let fields = &server_errors["fields"];
    assert_eq!(fields.as_array().unwrap().len(), 11);
    assert_eq!(
        fields[0],
        json!({"name": "_time", "type": "timestamp", "defined_in": "BaseEvent"})
    );
    let class = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "error_class")
        .unwrap();
    assert_eq!(class["calculated"], true);
    assert_eq!(class["defined_in"], "Web.Errors");
    assert!(text(&result).contains("- Web (app search, accelerated from -7d):"));

    let overview = call(
        &client,
        "splunk_list_data_models",
        json!({"include_fields": false, "filter": "W*"}),
    )
    .await;
    let datasets = &overview.structured_content.unwrap()["data_models"][0]["datasets"];
    assert_eq!(datasets[0]["field_count"], 10);
    assert!(datasets[0].get("fields").is_none());

    let mut tiny = ToolsConfig::default();
    tiny.max_result_bytes = 500;
    let small = connect(world.service_server(tiny)).await;
    let cut = call(&small, "splunk_list_data_models", json!({})).await;
    let structured = cut.structured_content.unwrap();
    assert_eq!(
        structured["data_models"][0]["datasets"][2]["field_count"],
        11
    );
    assert!(
        structured["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("Fields are left out")
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_tools_need_their_scopes() {
    let world = World::start().await;
    let server = world.service_server(ToolsConfig::default());
    let reader = connect(server.with_caller(Some(caller("reader", "splunk:read", "r")))).await;
    for (tool, args) in [
        ("splunk_list_fired_alerts", json!({})),
        ("splunk_list_dashboards", json!({})),
        ("splunk_get_dashboard", json!({"name": "web_overview"})),
        ("splunk_list_lookups", json!({})),
        ("splunk_list_data_models", json!({})),
    ] {
        let result = call(&reader, tool, args).await;
        assert_eq!(result.is_error, Some(false), "{tool}: {}", text(&result));
    }
    let refused = call(
        &reader,
        "splunk_lookup_query",
        json!({"lookup": "http_status"}),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("splunk:search"),
        "{}",
        text(&refused)
    );

    let searcher =
        connect(server.with_caller(Some(caller("searcher", "splunk:search", "s")))).await;
    let refused = call(&searcher, "splunk_list_dashboards", json!({})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("splunk:read"), "{}", text(&refused));
    let allowed = call(
        &searcher,
        "splunk_lookup_query",
        json!({"lookup": "http_status"}),
    )
    .await;
    assert_eq!(allowed.is_error, Some(false), "{}", text(&allowed));
    assert!(
        world
            .emulator
            .request_log()
            .iter()
            .filter(|r| r.path.contains("search/jobs") && r.method == "POST")
            .count()
            == 1,
        "only the allowed query ran"
    );
}
