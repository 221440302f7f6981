//! Knowledge objects: fired alerts, views (dashboards), lookup table files and definitions,
//! data models, and `inputlookup` reading the lookups through the search endpoint.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{self, Cred};
use crate::snap;

fn names(body: &Value) -> Vec<String> {
    body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A session for a new user holding only the `user` role.
async fn plain_user(world: &helpers::World) -> Cred {
    let (status, body) = world
        .post(
            "/services/authentication/users",
            &[
                ("name", "uma"),
                ("password", "uma-pass-1"),
                ("roles", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Cred::Splunk(helpers::login(&world.http, world.emu.url(), "uma", "uma-pass-1").await)
}

#[tokio::test]
async fn fired_alerts_summary_and_records() {
    let world = helpers::start().await;
    let (status, body) = world.get("/services/alerts/fired_alerts", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&body),
        ["-", "Blocked traffic sources", "Failed logins by user"]
    );
    let counts: Vec<u64> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["triggered_alert_count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [6, 2, 4]);
    snap!("fired_alerts_summary", world, body);

    let now = chrono::Utc::now().timestamp();
    let (status, body) = world
        .get(
            "/servicesNS/-/-/alerts/fired_alerts/Failed%20logins%20by%20user",
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let mut previous = i64::MAX;
    for entry in entries {
        let content = &entry["content"];
        let sid = content["sid"].as_str().unwrap();
        let trigger = content["trigger_time"].as_i64().unwrap();
        assert!(
            trigger <= now && trigger < previous,
            "newest first: {entry}"
        );
        previous = trigger;
        assert_eq!(entry["name"], format!("{sid}_{trigger}"));
        assert!(sid.starts_with("scheduler__nobody__search__RMD5"), "{sid}");
        assert_eq!(content["savedsearch_name"], "Failed logins by user");
        assert_eq!(content["severity"], 4);
        assert_eq!(content["actions"], "email");
        assert_eq!(content["digest_mode"], true);
        assert!(
            content["trigger_time_rendered"]
                .as_str()
                .unwrap()
                .ends_with(" UTC")
        );
        assert_eq!(entry["acl"]["app"], "search");
        assert_eq!(entry["acl"]["owner"], "nobody");
        assert!(
            entry["links"]["job"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/search/jobs/{sid}"))
        );
    }
    let (_, all) = world.get("/services/alerts/fired_alerts/-", &[]).await;
    let all = all["entry"].as_array().unwrap();
    assert_eq!(all.len(), 6);
    let blocked: Vec<&Value> = all
        .iter()
        .filter(|e| e["content"]["savedsearch_name"] == "Blocked traffic sources")
        .collect();
    assert_eq!(blocked.len(), 2);
    assert!(
        blocked
            .iter()
            .all(|e| e["content"]["actions"].is_null() && e["content"]["severity"] == 3)
    );
    let (status, never) = world
        .get("/services/alerts/fired_alerts/Top%20pages", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(never["entry"].as_array().unwrap().is_empty());
    // Through another app's namespace only the group of all alerts remains, empty.
    let (_, other) = world
        .get("/servicesNS/nobody/launcher/alerts/fired_alerts", &[])
        .await;
    assert_eq!(names(&other), ["-"]);
    assert_eq!(other["entry"][0]["content"]["triggered_alert_count"], 0);
}

#[tokio::test]
async fn views_list_dashboards_and_pages() {
    let world = helpers::start().await;
    let (status, body) = world.get("/servicesNS/-/-/data/ui/views", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&body),
        ["dashboards", "search", "security_posture", "web_overview"]
    );
    let (status, dashboards) = world
        .get(
            "/servicesNS/-/-/data/ui/views",
            &[("search", "isDashboard=1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&dashboards), ["security_posture", "web_overview"]);
    snap!("dashboards", world, dashboards);

    let user = plain_user(&world).await;
    let (status, body) = world
        .call(
            Method::GET,
            "/servicesNS/-/search/data/ui/views/web_overview",
            &user,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let content = &body["entry"][0]["content"];
    assert_eq!(content["label"], "Web Overview");
    assert_eq!(content["rootNode"], "form");
    assert_eq!(content["version"], "1.1");
    assert_eq!(content["eai:appName"], "search");
    assert!(
        content["eai:data"]
            .as_str()
            .unwrap()
            .contains("<query>index=web | stats count by host | sort host</query>")
    );
    assert_eq!(body["entry"][0]["acl"]["owner"], "admin");
    let (status, body) = world.get("/services/data/ui/views/nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["messages"][0]["text"], "Not found");
    let (_, launcher) = world
        .get("/servicesNS/nobody/launcher/data/ui/views", &[])
        .await;
    assert!(names(&launcher).is_empty());
}

#[tokio::test]
async fn lookup_files_and_definitions() {
    let world = helpers::start().await;
    let (status, files) = world
        .get("/servicesNS/-/-/data/lookup-table-files", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&files), ["http_status.csv"]);
    snap!("lookup_table_files", world, files);
    let (status, definitions) = world
        .get("/servicesNS/-/-/data/transforms/lookups", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&definitions), ["http_status"]);
    assert!(definitions["entry"][0]["content"].get("size").is_none());
    snap!("lookup_definitions", world, definitions);

    let (_, sized) = world
        .get(
            "/servicesNS/-/-/data/transforms/lookups/http_status",
            &[("getsize", "true")],
        )
        .await;
    assert_eq!(
        sized["entry"][0]["content"]["size"],
        files["entry"][0]["content"]["size"]
    );
    let (status, _) = world
        .get("/services/data/lookup-table-files/http_status.csv", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/services/data/lookup-table-files/nope.csv",
        "/services/data/transforms/lookups/nope",
    ] {
        let (status, _) = world.get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn data_models_full_and_concise() {
    let world = helpers::start().await;
    let (status, body) = world.get("/servicesNS/-/-/datamodel/model", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), ["Web"]);
    let content = &body["entry"][0]["content"];
    let description: Value =
        serde_json::from_str(content["description"].as_str().unwrap()).unwrap();
    let data: Value = serde_json::from_str(content["eai:data"].as_str().unwrap()).unwrap();
    assert_eq!(description, data);
    let objects: Vec<&str> = data["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["objectName"].as_str().unwrap())
        .collect();
    assert_eq!(objects, ["Web", "Errors", "Server_Errors"]);
    let acceleration: Value =
        serde_json::from_str(content["acceleration"].as_str().unwrap()).unwrap();
    assert_eq!(acceleration["enabled"], true);

    let (status, concise) = world
        .get("/servicesNS/-/-/datamodel/model", &[("concise", "true")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let content = &concise["entry"][0]["content"];
    assert!(content.get("eai:data").is_none());
    let summary: Value = serde_json::from_str(content["description"].as_str().unwrap()).unwrap();
    assert!(summary.get("objects").is_none());
    assert_eq!(summary["objectSummary"]["Event-Based"], 3);
    snap!("data_models_concise", world, concise);

    let (status, one) = world.get("/services/datamodel/model/Web", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["entry"][0]["content"]["displayName"], "Web");
    let (status, _) = world.get("/services/datamodel/model/Nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn inputlookup_reads_the_lookups_in_searches() {
    let world = helpers::start().await;
    let user = plain_user(&world).await;
    let rows = world
        .search_rows(
            &user,
            "| inputlookup http_status where status_type=\"Server Error\"",
        )
        .await;
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["500", "502", "503"]);
    assert_eq!(rows[0]["status_description"], "Internal Server Error");
    let rows = world
        .search_rows(&world.admin(), "| inputlookup http_status.csv | head 3")
        .await;
    assert_eq!(rows.len(), 3);

    let (status, body) = world
        .post(
            "/services/search/jobs",
            &[
                ("search", "| inputlookup no_such_lookup"),
                ("exec_mode", "oneshot"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["messages"][0]["type"], "FATAL");
    assert_eq!(
        body["messages"][0]["text"],
        "Error in 'inputlookup' command: The lookup table 'no_such_lookup' requires a .csv or KV store lookup definition."
    );
}
