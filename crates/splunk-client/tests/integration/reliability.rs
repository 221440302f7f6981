//! Faults: 5xx answers (idempotent requests retried, state-changing POSTs not), dropped
//! connections, latency beyond the timeout, and an unreachable server.

use std::time::{Duration, Instant};

use splunk_client::{Client, ClientConfig, Credentials, Error, RetryPolicy, SearchParams};
use splunk_emulator::FaultConfig;

use crate::over_http_and_https;
use crate::support::World;

over_http_and_https!(
    injected_503s_are_retried_for_gets,
    posts_that_change_state_are_not_retried,
    dropped_connections_are_retried_for_gets,
    latency_beyond_the_read_timeout_is_a_timeout,
);

fn patient(config: ClientConfig) -> ClientConfig {
    config.with_retry(RetryPolicy::new(
        12,
        Duration::from_millis(1),
        Duration::from_millis(10),
    ))
}

async fn injected_503s_are_retried_for_gets(world: World) {
    let admin = world.client_with(Credentials::session("admin", "changeme"), patient);
    admin.server_info().await.unwrap();
    world.emulator.set_faults(FaultConfig {
        error_fraction: 0.4,
        ..FaultConfig::default()
    });
    for _ in 0..30 {
        assert_eq!(admin.server_info().await.unwrap().version, "10.2.0");
    }
    world.emulator.set_faults(FaultConfig::default());
    let info_calls = world.requests("GET", "/services/server/info");
    let unavailable = info_calls.iter().filter(|r| r.status == 503).count();
    assert!(unavailable > 0, "no 503 was injected");
    assert_eq!(
        info_calls.len() - unavailable,
        31,
        "each call succeeded once"
    );
}

async fn posts_that_change_state_are_not_retried(world: World) {
    let admin = world.client_with(Credentials::session("admin", "changeme"), patient);
    admin.server_info().await.unwrap();
    world.emulator.set_faults(FaultConfig {
        error_fraction: 1.0,
        ..FaultConfig::default()
    });
    let error = admin
        .create_job("| makeresults count=1", &SearchParams::default())
        .await
        .unwrap_err();
    world.emulator.set_faults(FaultConfig::default());
    assert!(
        matches!(error, Error::Server { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(world.requests("POST", "/services/search/jobs").len(), 1);
    assert_eq!(
        error.to_string().split(':').next(),
        Some("Splunk failed to answer (503)")
    );
}

async fn dropped_connections_are_retried_for_gets(world: World) {
    let admin = world.client_with(Credentials::session("admin", "changeme"), patient);
    admin.server_info().await.unwrap();
    world.emulator.set_faults(FaultConfig {
        drop_fraction: 0.3,
        ..FaultConfig::default()
    });
    for _ in 0..20 {
        admin.current_context().await.unwrap();
    }
    world.emulator.set_faults(FaultConfig::default());
    let calls = world.requests("GET", "/services/authentication/current-context");
    assert_eq!(calls.iter().filter(|r| r.status == 200).count(), 20);
}

async fn latency_beyond_the_read_timeout_is_a_timeout(world: World) {
    let admin = world.client_with(Credentials::session("admin", "changeme"), |config| {
        config.with_timeouts(
            Duration::from_secs(2),
            Duration::from_millis(300),
            Duration::from_secs(10),
        )
    });
    admin.server_info().await.unwrap();
    world.emulator.set_faults(FaultConfig {
        latency_ms: 1500,
        ..FaultConfig::default()
    });
    let started = Instant::now();
    let error = admin.server_info().await.unwrap_err();
    let waited = started.elapsed();
    world.emulator.set_faults(FaultConfig::default());
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(
        waited < Duration::from_millis(1400),
        "timeouts are not retried: {waited:?}"
    );
    let endpoint = world
        .emulator
        .url()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(
        error.to_string(),
        format!("Splunk at {endpoint} did not answer within 300 ms (request)")
    );
}

#[tokio::test]
async fn unreachable_splunk_is_a_transport_error_after_retries() {
    // Bind then drop a listener so the port is free and refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ClientConfig::new(format!("http://127.0.0.1:{port}")).with_retry(
        RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(5)),
    );
    let client = Client::new(&config, Credentials::bearer("t")).unwrap();
    let error = client.server_info().await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "could not reach Splunk at 127.0.0.1:{port}: connection refused (nothing listens \
             there: is Splunk running, and is this its management port?)"
        )
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "details stay in source()"
    );
}

#[tokio::test]
async fn https_without_the_ca_is_refused_and_insecure_switch_works() {
    let world = World::start(true).await;
    let untrusting = ClientConfig::new(world.emulator.url());
    let client = Client::new(&untrusting, Credentials::session("admin", "changeme")).unwrap();
    let error = client.server_info().await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(": the TLS handshake failed: invalid peer certificate"),
        "{error}"
    );
    let insecure = ClientConfig::new(world.emulator.url()).danger_accept_invalid_certs();
    let client = Client::new(&insecure, Credentials::session("admin", "changeme")).unwrap();
    assert_eq!(client.server_info().await.unwrap().version, "10.2.0");
}
