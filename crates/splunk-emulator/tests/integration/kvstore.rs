//! KV store: collection config and documents with queries.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers;
use crate::snap;

const DATA: &str = "/servicesNS/nobody/search/storage/collections/data";

#[tokio::test]
async fn collections_are_listed_created_and_deleted() {
    let world = helpers::start().await;
    let (status, body) = world
        .get("/servicesNS/nobody/search/storage/collections/config", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    snap!("kv_collections", world, body);
    let (status, body) = world
        .post(
            "/servicesNS/nobody/search/storage/collections/config",
            &[
                ("name", "notes"),
                ("field.text", "string"),
                ("enforceTypes", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["entry"][0]["content"]["field.text"], "string");
    let (status, _) = world
        .post(
            "/servicesNS/nobody/search/storage/collections/config",
            &[("name", "notes")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = world
        .get(
            "/servicesNS/nobody/search/storage/collections/config/notes",
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .call(
            Method::DELETE,
            "/servicesNS/nobody/search/storage/collections/config/notes",
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .get(
            "/servicesNS/nobody/search/storage/collections/config/notes",
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn query(world: &helpers::World, params: &[(&str, &str)]) -> Vec<Value> {
    let (status, body) = world.get(&format!("{DATA}/assets"), params).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a bare JSON array").clone()
}

fn hosts(docs: &[Value]) -> Vec<&str> {
    docs.iter()
        .map(|d| d["hostname"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn documents_are_queried_with_mongo_style_filters() {
    let world = helpers::start().await;
    let all = query(&world, &[]).await;
    assert_eq!(all.len(), 6);
    assert!(
        all.iter()
            .all(|d| d["_key"].is_string() && d["_user"] == "nobody")
    );
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"owner": "bob"}), vec!["db-01", "fw-edge", "jump-01"]),
        (json!({"priority": {"$lte": 1}}), vec!["db-01", "fw-edge"]),
        (
            json!({"$or": [{"criticality": "low"}, {"hostname": "web-02"}]}),
            vec!["web-02", "build-07"],
        ),
        (
            json!({"$and": [{"owner": "bob"}, {"priority": {"$gt": 1}}]}),
            vec!["jump-01"],
        ),
        (
            json!({"hostname": {"$in": ["web-01", "nope"]}}),
            vec!["web-01"],
        ),
        (
            json!({"hostname": {"$regex": "^web"}}),
            vec!["web-01", "web-02"],
        ),
        (
            json!({"owner": {"$ne": "bob"}, "priority": {"$gte": 2, "$lt": 4}}),
            vec!["web-01", "web-02"],
        ),
    ];
    for (q, expected) in cases {
        let q_text = q.to_string();
        let docs = query(&world, &[("query", &q_text)]).await;
        assert_eq!(hosts(&docs), expected, "{q_text}");
    }
    let docs = query(
        &world,
        &[
            ("sort", "priority:-1,hostname"),
            ("limit", "2"),
            ("skip", "1"),
            ("fields", "hostname,priority"),
        ],
    )
    .await;
    snap!("kv_sorted_projection", world, Value::Array(docs));
    let (status, _) = world
        .get(&format!("{DATA}/assets"), &[("query", "{not json")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = world.get(&format!("{DATA}/nope"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn documents_are_inserted_updated_and_deleted() {
    let world = helpers::start().await;
    let url = format!("{}{DATA}/threat_intel?output_mode=json", world.emu.url());
    let auth = format!("Splunk {}", world.admin_key);
    let response = world
        .http
        .post(&url)
        .header("Authorization", &auth)
        .json(&json!({"indicator": "192.0.2.66", "type": "ip", "severity": "low"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    snap!("kv_inserted", world, body);
    let key = body["_key"].as_str().unwrap().to_owned();

    let doc_url = format!(
        "{}{DATA}/threat_intel/{key}?output_mode=json",
        world.emu.url()
    );
    let response = world
        .http
        .post(&doc_url)
        .header("Authorization", &auth)
        .json(&json!({"indicator": "192.0.2.66", "type": "ip", "severity": "high"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, doc) = world.get(&format!("{DATA}/threat_intel/{key}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["severity"], "high");
    assert_eq!(doc["_key"], key.as_str());

    let (status, _) = world
        .call(
            Method::DELETE,
            &format!("{DATA}/threat_intel/{key}"),
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world.get(&format!("{DATA}/threat_intel/{key}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = world
        .call(
            Method::DELETE,
            &format!("{DATA}/threat_intel"),
            &world.admin(),
            &[("query", r#"{"type":"ip"}"#)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, rest) = world.get(&format!("{DATA}/threat_intel"), &[]).await;
    let kinds: Vec<&str> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["domain", "md5"]);
    let (status, _) = world
        .call(
            Method::DELETE,
            &format!("{DATA}/threat_intel"),
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, rest) = world.get(&format!("{DATA}/threat_intel"), &[]).await;
    assert_eq!(rest, json!([]));
}
