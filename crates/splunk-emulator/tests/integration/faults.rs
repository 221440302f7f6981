//! Fault injection and the request log.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use splunk_emulator::FaultConfig;

use crate::helpers::{self, Cred};
use crate::snap;

#[tokio::test]
async fn error_fraction_one_answers_503() {
    let world = helpers::start().await;
    world.emu.set_faults(FaultConfig {
        error_fraction: 1.0,
        ..FaultConfig::default()
    });
    for _ in 0..5 {
        let (status, body) = world.get("/services/server/info", &[]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["messages"][0]["type"], "ERROR");
    }
    let (_, body) = world.get("/services/server/info", &[]).await;
    snap!("fault_503", world, body);
    world.emu.set_faults(FaultConfig::default());
    let (status, _) = world.get("/services/server/info", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn latency_is_added() {
    let world = helpers::start().await;
    world.emu.set_faults(FaultConfig {
        latency_ms: 300,
        ..FaultConfig::default()
    });
    let started = Instant::now();
    let (status, _) = world.get("/services/server/info", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn dropped_connections_fail_without_an_answer() {
    let world = helpers::start().await;
    world.emu.set_faults(FaultConfig {
        drop_fraction: 1.0,
        ..FaultConfig::default()
    });
    let result = world
        .http
        .get(format!(
            "{}/services/server/info?output_mode=json",
            world.emu.url()
        ))
        .header("Authorization", format!("Splunk {}", world.admin_key))
        .send()
        .await;
    assert!(result.is_err(), "the connection is closed: {result:?}");
    world.emu.set_faults(FaultConfig::default());
    let (status, _) = world.get("/services/server/info", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn session_keys_can_be_made_to_expire_early() {
    let world = helpers::start().await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    world.emu.set_faults(FaultConfig {
        session_ttl_secs: Some(1),
        ..FaultConfig::default()
    });
    let (status, _) = world.get("/services/server/info", &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the admin key is older than a second by now"
    );
    let fresh =
        Cred::Splunk(helpers::login(&world.http, world.emu.url(), "admin", "changeme").await);
    let (status, _) = world
        .call(Method::GET, "/services/server/info", &fresh, &[])
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a client that logs in again carries on"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, _) = world
        .call(Method::GET, "/services/server/info", &fresh, &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    world.emu.set_faults(FaultConfig::default());
    let again =
        Cred::Splunk(helpers::login(&world.http, world.emu.url(), "admin", "changeme").await);
    world.emu.expire_sessions();
    let (status, _) = world
        .call(Method::GET, "/services/server/info", &again, &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_request_log_records_calls_without_secrets() {
    let world = helpers::start().await;
    world.emu.clear_request_log();
    let (_, token) = world.mint_token("admin", &[]).await;
    world
        .call(
            Method::GET,
            "/services/authentication/users/bob",
            &Cred::Bearer(token),
            &[],
        )
        .await;
    world
        .call(
            Method::POST,
            "/services/auth/login",
            &Cred::None,
            &[("username", "admin"), ("password", "changeme")],
        )
        .await;
    world
        .call(Method::GET, "/services/server/info", &Cred::None, &[])
        .await;
    let log = world.emu.request_log();
    assert_eq!(log.len(), 4, "{log:#?}");
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/services/authorization/tokens");
    assert_eq!(log[0].user.as_deref(), Some("admin"));
    assert_eq!(log[0].auth_scheme.as_deref(), Some("Splunk"));
    assert_eq!(log[0].status, 201);
    assert!(
        log[0]
            .params
            .contains(&("name".to_owned(), "admin".to_owned()))
    );
    assert_eq!(log[1].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(log[1].status, 200);
    assert!(
        log[2]
            .params
            .contains(&("password".to_owned(), "[redacted]".to_owned()))
    );
    assert!(
        !format!("{log:?}").contains("changeme"),
        "no password in the log"
    );
    assert_eq!((log[3].user.clone(), log[3].status), (None, 401));
    let admin_writes = log
        .iter()
        .filter(|e| e.method == "POST" && e.user.as_deref() == Some("admin"))
        .count();
    assert_eq!(admin_writes, 1);
    let _ = json!(null);
}
