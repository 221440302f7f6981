//! Search: jobs (normal, blocking, oneshot), status, results/events, export, control, TTL, errors.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use splunk_emulator::EmulatorConfig;

use crate::helpers::{self, Cred, World};
use crate::snap;

async fn create(world: &World, cred: &Cred, form: &[(&str, &str)]) -> (StatusCode, Value) {
    world
        .call(Method::POST, "/services/search/jobs", cred, form)
        .await
}

async fn native_user(world: &World, name: &str, roles: &str) -> Cred {
    let password = format!("{name}-password-1");
    let (status, body) = world
        .post(
            "/services/authentication/users",
            &[("name", name), ("password", &password), ("roles", roles)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Cred::Splunk(helpers::login(&world.http, world.emu.url(), name, &password).await)
}

#[tokio::test]
async fn normal_jobs_progress_from_queued_through_running_to_done() {
    let world = helpers::start_with(EmulatorConfig {
        job_queue_delay_ms: 250,
        job_min_run_ms: 400,
        ..helpers::config()
    })
    .await;
    let (status, body) = create(
        &world,
        &world.admin(),
        &[("search", "search index=web | head 5")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    snap!("job_created", world, body);
    let sid = body["sid"].as_str().unwrap().to_owned();

    // Results are not there yet: splunkd answers 204.
    let (status, _) = world
        .get(&format!("/services/search/jobs/{sid}/results"), &[])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let mut states: Vec<String> = Vec::new();
    let mut progress: Vec<f64> = Vec::new();
    for _ in 0..200 {
        let (status, body) = world
            .get(&format!("/services/search/jobs/{sid}"), &[])
            .await;
        assert_eq!(status, StatusCode::OK);
        let content = &body["entry"][0]["content"];
        let state = content["dispatchState"].as_str().unwrap().to_owned();
        progress.push(content["doneProgress"].as_f64().unwrap());
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == "DONE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(states, vec!["QUEUED", "RUNNING", "DONE"]);
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "doneProgress never goes back: {progress:?}"
    );
    assert_eq!(progress.last(), Some(&1.0));
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 1.0),
        "intermediate progress is reported: {progress:?}"
    );

    let (_, body) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    let content = &body["entry"][0]["content"];
    assert_eq!(body["entry"][0]["name"], "search index=web | head 5");
    assert_eq!(content["isDone"], true);
    assert_eq!(content["isFailed"], false);
    assert_eq!(content["resultCount"], 5);
    assert_eq!(content["request"]["search"], "search index=web | head 5");
    snap!("job_status_done", world, body);

    let (status, body) = world
        .get(
            &format!("/services/search/jobs/{sid}/results"),
            &[("count", "2"), ("offset", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["init_offset"], 1);
    assert_eq!(body["preview"], false);
}

#[tokio::test]
async fn results_and_events_page_with_offset_and_count() {
    let world = helpers::start().await;
    let (status, body) = create(
        &world,
        &world.admin(),
        &[
            ("search", "| makeresults count=150 | eval kind=\"demo\""),
            ("exec_mode", "blocking"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sid = body["sid"].as_str().unwrap();
    let (_, status_body) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    assert_eq!(
        status_body["entry"][0]["content"]["dispatchState"], "DONE",
        "blocking returns when done"
    );

    let page = |query: Vec<(&'static str, &'static str)>| {
        let world = &world;
        async move {
            let (status, body) = world
                .get(&format!("/services/search/jobs/{sid}/results"), &query)
                .await;
            assert_eq!(status, StatusCode::OK);
            body["results"].as_array().unwrap().len()
        }
    };
    assert_eq!(page(vec![]).await, 100, "count defaults to 100");
    assert_eq!(page(vec![("count", "0")]).await, 150, "count=0 means all");
    assert_eq!(page(vec![("count", "10"), ("offset", "145")]).await, 5);

    let (_, body) = world
        .get(
            &format!("/services/search/jobs/{sid}/results"),
            &[("count", "2")],
        )
        .await;
    assert_eq!(body["results"][0]["kind"], "demo", "values are strings");
    snap!("job_results", world, body);
    let (status, body) = world
        .get(
            &format!("/services/search/jobs/{sid}/events"),
            &[("count", "2")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn transforming_searches_have_results_but_no_events() {
    let world = helpers::start().await;
    let (_, body) = create(
        &world,
        &world.admin(),
        &[
            ("search", "search index=web | stats count by status"),
            ("exec_mode", "blocking"),
        ],
    )
    .await;
    let sid = body["sid"].as_str().unwrap();
    let (_, results) = world
        .get(
            &format!("/services/search/jobs/{sid}/results"),
            &[("count", "0")],
        )
        .await;
    let rows = results["results"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["count"].is_string() && r["status"].is_string()),
        "{rows:?}"
    );
    let (_, events) = world
        .get(&format!("/services/search/jobs/{sid}/events"), &[])
        .await;
    assert_eq!(events["results"], json!([]));
}

#[tokio::test]
async fn oneshot_answers_the_results_body_directly() {
    let world = helpers::start().await;
    let (status, body) = create(
        &world,
        &world.admin(),
        &[
            ("search", "| makeresults count=5 | eval n=\"x\""),
            ("exec_mode", "oneshot"),
            ("count", "2"),
            ("offset", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["init_offset"], 1);
    snap!("oneshot_results", world, body);
}

#[tokio::test]
async fn bad_spl_and_bad_times_are_400_in_every_mode() {
    let world = helpers::start().await;
    for mode in ["normal", "blocking", "oneshot"] {
        let (status, body) = create(
            &world,
            &world.admin(),
            &[
                ("search", "search index=web | nosuchcommand"),
                ("exec_mode", mode),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{mode}");
        assert_eq!(
            body,
            json!({"messages":[{"type":"FATAL","text":"Unknown search command 'nosuchcommand'."}]}),
            "{mode}"
        );
    }
    let (status, body) = world
        .post(
            "/services/search/jobs/export",
            &[("search", "search * | nosuchcommand")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    snap!("bad_spl", world, body);
    let (status, body) = create(
        &world,
        &world.admin(),
        &[
            ("search", "search index=web"),
            ("earliest_time", "yesterday-ish"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["messages"][0]["type"], "FATAL");
    let (status, body) = create(&world, &world.admin(), &[("exec_mode", "oneshot")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = create(
        &world,
        &world.admin(),
        &[("search", "search *"), ("exec_mode", "sometimes")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn export_streams_ndjson_with_a_last_row_marker() {
    let world = helpers::start().await;
    let response = world
        .http
        .post(format!("{}/services/search/jobs/export", world.emu.url()))
        .header("Authorization", format!("Splunk {}", world.admin_key))
        .form(&[("search", "search index=bench"), ("output_mode", "json")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(
        lines.len(),
        5_000,
        "the whole bench index, one line per event"
    );
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["preview"], false);
        assert_eq!(line["offset"], i as u64);
        assert!(line["result"].is_object());
        assert_eq!(line.get("lastrow").is_some(), i == lines.len() - 1);
    }

    let (status, body) = world
        .post(
            "/services/search/jobs/export",
            &[("search", "| makeresults count=2 | eval a=\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let Value::String(text) = body else {
        panic!("NDJSON is not one JSON document")
    };
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    snap!("export_lines", world, Value::Array(lines));

    let (status, body) = world
        .post(
            "/services/search/jobs/export",
            &[("search", "search index=web nosuchterm_zzz")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"preview": false, "lastrow": true}),
        "an empty export still ends"
    );
}

#[tokio::test]
async fn control_actions_and_delete() {
    let world = helpers::start_with(EmulatorConfig {
        job_min_run_ms: 2_000,
        ..helpers::config()
    })
    .await;
    let (_, body) = create(&world, &world.admin(), &[("search", "search index=web")]).await;
    let sid = body["sid"].as_str().unwrap().to_owned();
    let control = |action: &'static str, extra: Option<(&'static str, &'static str)>| {
        let world = &world;
        let sid = sid.clone();
        async move {
            let mut form = vec![("action", action)];
            form.extend(extra);
            world
                .post(&format!("/services/search/jobs/{sid}/control"), &form)
                .await
        }
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = control("pause", None).await;
    assert_eq!(status, StatusCode::OK);
    snap!("control_pause", world, body);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, status_body) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    assert_eq!(status_body["entry"][0]["content"]["isPaused"], true);
    assert_eq!(control("unpause", None).await.0, StatusCode::OK);
    let (status, _) = control("finalize", None).await;
    assert_eq!(status, StatusCode::OK);
    let done = helpers::wait_done(&world, &world.admin(), &sid).await;
    assert_eq!(done["entry"][0]["content"]["isFinalized"], true);
    assert_eq!(control("touch", None).await.0, StatusCode::OK);
    let (status, body) = control("setttl", Some(("ttl", "1200"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["messages"][0]["type"], "INFO");
    let (_, status_body) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    assert!(status_body["entry"][0]["content"]["ttl"].as_u64().unwrap() > 1000);
    assert_eq!(control("explode", None).await.0, StatusCode::BAD_REQUEST);
    let (status, _) = control("cancel", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    snap!("unknown_sid", world, body);
    assert_eq!(
        control("cancel", None).await.0,
        StatusCode::NOT_FOUND,
        "cancel of a vanished job"
    );

    let (_, body) = create(
        &world,
        &world.admin(),
        &[("search", "| makeresults"), ("exec_mode", "blocking")],
    )
    .await;
    let sid = body["sid"].as_str().unwrap();
    let (status, body) = world
        .call(
            Method::DELETE,
            &format!("/services/search/jobs/{sid}"),
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    snap!("job_deleted", world, body);
    let (status, _) = world
        .get(&format!("/services/search/jobs/{sid}/results"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn jobs_expire_after_their_ttl() {
    let world = helpers::start_with(EmulatorConfig {
        job_ttl_secs: 1,
        ..helpers::config()
    })
    .await;
    let (_, body) = create(
        &world,
        &world.admin(),
        &[("search", "| makeresults"), ("exec_mode", "blocking")],
    )
    .await;
    let sid = body["sid"].as_str().unwrap();
    let (status, _) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let (status, _) = world
        .get(&format!("/services/search/jobs/{sid}"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn jobs_belong_to_their_owner_and_searches_obey_roles() {
    let world = helpers::start().await;
    let web = native_user(&world, "wendy", "web_analyst").await;
    let (_, body) = create(
        &world,
        &world.admin(),
        &[("search", "| makeresults"), ("exec_mode", "blocking")],
    )
    .await;
    let admin_sid = body["sid"].as_str().unwrap().to_owned();
    let (status, _) = world
        .call(
            Method::GET,
            &format!("/services/search/jobs/{admin_sid}"),
            &web,
            &[],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another user's job is invisible"
    );
    let (_, body) = create(
        &world,
        &web,
        &[("search", "| makeresults"), ("exec_mode", "blocking")],
    )
    .await;
    let own = body["sid"].as_str().unwrap().to_owned();
    let (_, body) = world
        .call(Method::GET, "/services/search/jobs", &web, &[])
        .await;
    let sids: Vec<&str> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, vec![own.as_str()]);
    let (_, body) = world.get("/services/search/jobs", &[]).await;
    assert_eq!(
        body["entry"].as_array().unwrap().len(),
        2,
        "admin sees every job"
    );

    let count = |rows: Vec<Value>| -> u64 { rows[0]["count"].as_str().unwrap().parse().unwrap() };
    assert_eq!(
        count(
            world
                .search_rows(&web, "search index=security | stats count")
                .await
        ),
        0
    );
    assert!(
        count(
            world
                .search_rows(&web, "search index=web | stats count")
                .await
        ) > 0
    );
    assert!(
        count(
            world
                .search_rows(&world.admin(), "search index=security | stats count")
                .await
        ) > 0
    );

    // No `search` capability → 403.
    world
        .post(
            "/services/authorization/roles",
            &[("name", "viewer"), ("capabilities", "get_metadata")],
        )
        .await;
    let viewer = native_user(&world, "victor", "viewer").await;
    let (status, body) = create(&world, &viewer, &[("search", "| makeresults")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    snap!("search_forbidden", world, body);
}

#[tokio::test]
async fn v2_and_namespaced_job_paths_work() {
    let world = helpers::start().await;
    let (status, body) = world
        .post(
            "/servicesNS/admin/search/search/v2/jobs",
            &[
                ("search", "| makeresults count=3"),
                ("exec_mode", "blocking"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = body["sid"].as_str().unwrap();
    let (status, body) = world
        .get(&format!("/services/search/v2/jobs/{sid}/results"), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
}
