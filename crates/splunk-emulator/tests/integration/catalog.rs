//! Catalog endpoints: server/info, indexes, saved searches, apps; paging and `search=` filters.

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

#[tokio::test]
async fn server_info_reports_splunk_10_2() {
    let world = helpers::start().await;
    let (status, body) = world.get("/services/server/info", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["name"], "server-info");
    assert_eq!(body["entry"][0]["content"]["version"], "10.2.0");
    assert_eq!(body["generator"]["version"], "10.2.0");
    snap!("server_info", world, body);
    let (status, ns) = world
        .get("/servicesNS/nobody/system/server/info", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ns["entry"][0]["content"]["guid"],
        body["entry"][0]["content"]["guid"]
    );
}

#[tokio::test]
async fn indexes_list_only_what_the_caller_may_search() {
    let world = helpers::start().await;
    let (status, body) = world.get("/services/data/indexes", &[("count", "0")]).await;
    assert_eq!(status, StatusCode::OK);
    let all = names(&body);
    for expected in ["_internal", "bench", "firewall", "main", "security", "web"] {
        assert!(
            all.iter().any(|n| n == expected),
            "admin sees {expected}: {all:?}"
        );
    }
    let web = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "web")
        .unwrap();
    assert!(
        web["content"]["currentDBSizeMB"].is_string(),
        "currentDBSizeMB is a string"
    );
    assert!(
        web["content"]["totalEventCount"].as_u64().unwrap() > 0,
        "totalEventCount is a number"
    );

    let (status, body) = world.get("/services/data/indexes/web", &[]).await;
    assert_eq!(status, StatusCode::OK);
    snap!("index_web", world, body);

    world
        .post(
            "/services/authentication/users",
            &[
                ("name", "wendy"),
                ("password", "wendy-pass-1"),
                ("roles", "web_analyst"),
            ],
        )
        .await;
    let wendy =
        Cred::Splunk(helpers::login(&world.http, world.emu.url(), "wendy", "wendy-pass-1").await);
    let (_, body) = world
        .call(Method::GET, "/services/data/indexes", &wendy, &[])
        .await;
    assert_eq!(names(&body), vec!["main", "web"]);
    let (status, body) = world
        .call(Method::GET, "/services/data/indexes/security", &wendy, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    snap!("index_not_found", world, body);
}

#[tokio::test]
async fn listings_page_and_filter_like_splunk() {
    let world = helpers::start().await;
    let (_, all) = world.get("/services/data/indexes", &[("count", "0")]).await;
    let total = all["paging"]["total"].as_u64().unwrap();
    let (_, page) = world
        .get("/services/data/indexes", &[("count", "2"), ("offset", "1")])
        .await;
    assert_eq!(page["paging"]["total"].as_u64().unwrap(), total);
    assert_eq!(page["paging"]["perPage"], 2);
    assert_eq!(page["paging"]["offset"], 1);
    assert_eq!(names(&page), names(&all)[1..3].to_vec());
    let (_, filtered) = world
        .get("/services/data/indexes", &[("search", "name=sec*")])
        .await;
    assert_eq!(names(&filtered), vec!["security"]);
    let (_, filtered) = world
        .get("/services/apps/local", &[("search", "reporting")])
        .await;
    assert_eq!(names(&filtered), vec!["search"]);
}

#[tokio::test]
async fn saved_searches_list_get_dispatch_and_history() {
    let world = helpers::start().await;
    let (status, body) = world.get("/servicesNS/-/-/saved/searches", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(names(&body).contains(&"Failed logins by user".to_owned()));
    snap!("saved_searches", world, body);

    let path = "/servicesNS/nobody/search/saved/searches/Failed%20logins%20by%20user";
    let (status, body) = world.get(path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["content"]["is_scheduled"], true);
    let (status, body) = world.post(&format!("{path}/dispatch"), &[]).await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = body["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("admin__admin__search__"), "{sid}");
    let done = helpers::wait_done(&world, &world.admin(), &sid).await;
    assert_eq!(done["entry"][0]["content"]["isSavedSearch"], true);
    let (status, body) = world.get(&format!("{path}/history"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), vec![sid]);
    let (status, _) = world.get("/servicesNS/-/-/saved/searches/nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn apps_are_listed() {
    let world = helpers::start().await;
    let (status, body) = world.get("/services/apps/local", &[]).await;
    assert_eq!(status, StatusCode::OK);
    snap!("apps_local", world, body);
    let (status, body) = world.get("/services/apps/local/search", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["content"]["label"], "Search & Reporting");
    let (status, body) = world.get("/services/no/such/endpoint", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    snap!("unknown_endpoint", world, body);
}
