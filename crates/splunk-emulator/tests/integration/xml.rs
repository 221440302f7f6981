//! XML answers without `output_mode=json`: the calls splunklib (splunk-sdk-python) makes to log
//! in, read the server version, and create, read, control and page a blocking search job.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{self, Cred, World};

/// Sends a request without `output_mode`; returns status, content type and body text.
async fn raw(
    world: &World,
    method: Method,
    path: &str,
    cred: &Cred,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut request = world
        .http
        .request(method.clone(), format!("{}{path}", world.emu.url()));
    request = match cred {
        Cred::None => request,
        Cred::Splunk(key) => request.header("Authorization", format!("Splunk {key}")),
        Cred::Bearer(token) => request.header("Authorization", format!("Bearer {token}")),
    };
    request = if method == Method::GET {
        request.query(form)
    } else {
        request.form(form)
    };
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

/// The text of the first `<tag>…</tag>` (enough for the flat elements checked here).
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// The value of `<s:key name="name">value</s:key>`.
fn key<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<s:key name=\"{name}\">");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find("</s:key>")? + start;
    Some(&xml[start..end])
}

/// Replaces what changes between runs: the URL, times, sids, keys, guids and counters.
fn redact(xml: &str, base_url: &str) -> String {
    let patterns = [
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)",
            "[time]",
        ),
        (r"\b\d{10}\.\d+\b", "[sid]"),
        (
            r"<sessionKey>[^<]*</sessionKey>",
            "<sessionKey>[sessionKey]</sessionKey>",
        ),
        (
            r#"name="(guid|startup_time|ttl|runDuration)">[^<]*<"#,
            r#"name="$1">[redacted]<"#,
        ),
    ];
    let mut out = xml.replace(base_url, "https://splunk:8089");
    for (pattern, replacement) in patterns {
        out = regex::Regex::new(pattern)
            .expect("pattern")
            .replace_all(&out, replacement)
            .into_owned();
    }
    out
}

#[tokio::test]
async fn login_answers_xml_without_output_mode_and_json_with_it() {
    let world = helpers::start().await;
    let form = [("username", "admin"), ("password", "changeme")];
    let (status, content_type, body) = raw(
        &world,
        Method::POST,
        "/services/auth/login",
        &Cred::None,
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    insta::assert_snapshot!("xml_login_ok", redact(&body, world.emu.url()));
    // The key in the XML is a working session key.
    let key = element(&body, "sessionKey").expect("sessionKey").to_owned();
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &Cred::Splunk(key),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, content_type, body) = raw(
        &world,
        Method::POST,
        "/services/auth/login",
        &Cred::None,
        &[("username", "admin"), ("password", "nope")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    insta::assert_snapshot!("xml_login_bad_password", body);

    // Asked for JSON, the same call answers JSON (what splunk-client relies on).
    let (status, body) = world
        .call(Method::POST, "/services/auth/login", &Cred::None, &form)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["sessionKey"].is_string(), "{body}");
}

#[tokio::test]
async fn server_info_is_an_atom_feed_with_the_version() {
    let world = helpers::start().await;
    let (status, content_type, body) = raw(
        &world,
        Method::GET,
        "/services/server/info",
        &world.admin(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(body.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));
    assert_eq!(key(&body, "version"), Some("10.2.0"));
    insta::assert_snapshot!("xml_server_info", redact(&body, world.emu.url()));

    // Without credentials: splunkd's 401, in XML too.
    let (status, _, body) = raw(
        &world,
        Method::GET,
        "/services/server/info",
        &Cred::None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    insta::assert_snapshot!("xml_unauthenticated", body);
}

#[tokio::test]
async fn a_blocking_job_as_splunklib_runs_it_over_v2() {
    let world = helpers::start().await;
    let admin = world.admin();
    let (status, content_type, body) = raw(
        &world,
        Method::POST,
        "/services/search/v2/jobs",
        &admin,
        &[
            ("search", "| makeresults count=100"),
            ("earliest_time", "-24h"),
            ("latest_time", "now"),
            ("exec_mode", "blocking"),
            ("adhoc_search_level", "smart"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    insta::assert_snapshot!("xml_job_created", redact(&body, world.emu.url()));
    let sid = element(&body, "sid").expect("sid").to_owned();
    let job = format!("/services/search/v2/jobs/{sid}");

    let (status, _, body) = raw(
        &world,
        Method::POST,
        &format!("{job}/control"),
        &admin,
        &[("action", "setttl"), ("ttl", "1800")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_snapshot!("xml_job_control", body);

    // The status is the job's <entry> alone, booleans as 1/0.
    let (status, content_type, body) = raw(&world, Method::GET, &job, &admin, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(body.contains("<entry xmlns=\"http://www.w3.org/2005/Atom\""));
    assert_eq!(key(&body, "isDone"), Some("1"));
    assert_eq!(key(&body, "isFailed"), Some("0"));
    assert_eq!(key(&body, "resultCount"), Some("100"));
    let ttl: u64 = key(&body, "ttl").expect("ttl").parse().expect("ttl number");
    assert!((1790..=1800).contains(&ttl), "the setttl took: {ttl}");
    insta::assert_snapshot!("xml_job_status", redact(&body, world.emu.url()));

    // splunklib reads v2 results by POST, with output_mode=json.
    let (status, rows) = world
        .call(
            Method::POST,
            &format!("/servicesNS/nobody/search/search/v2/jobs/{sid}/results"),
            &admin,
            &[("count", "100"), ("offset", "0")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows["results"].as_array().map(Vec::len), Some(100));

    // Errors on these paths are XML as well.
    let (status, _, body) = raw(
        &world,
        Method::GET,
        "/services/search/v2/jobs/0000000000.0",
        &admin,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_snapshot!("xml_unknown_sid", body);
}

#[tokio::test]
async fn json_stays_where_output_mode_asks_or_xml_is_not_emulated() {
    let world = helpers::start().await;
    let admin = world.admin();
    // With output_mode=json: the JSON sid.
    let (status, body) = world
        .call(
            Method::POST,
            "/services/search/jobs",
            &admin,
            &[
                ("search", "| makeresults count=3"),
                ("exec_mode", "blocking"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body["sid"].is_string(), "{body}");
    // A oneshot without output_mode: results stay JSON (Splunk would answer XML results).
    let (status, content_type, body) = raw(
        &world,
        Method::POST,
        "/services/search/jobs",
        &admin,
        &[
            ("search", "| makeresults count=3"),
            ("exec_mode", "oneshot"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let rows: Value = serde_json::from_str(&body).expect("JSON results");
    assert_eq!(rows["results"].as_array().map(Vec::len), Some(3));
    // Listings other than server/info stay JSON.
    let (_, content_type, _) =
        raw(&world, Method::GET, "/services/data/indexes", &admin, &[]).await;
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
}
