//! Credentials: session keys (login, expiry, single-flight re-login, wrong password) and bearer
//! tokens, each checked on the wire through the emulator's request log.

use std::time::Duration;

use splunk_client::{Credentials, Error, TokenRequest};

use crate::over_http_and_https;
use crate::support::World;

over_http_and_https!(
    session_logs_in_once_and_reuses_the_key,
    bearer_token_is_sent_as_bearer,
    expired_session_logs_in_again_exactly_once,
    wrong_password_fails_without_a_retry_storm,
    refused_bearer_is_unauthorized_without_login,
);

async fn session_logs_in_once_and_reuses_the_key(world: World) {
    let admin = world.admin();
    for _ in 0..3 {
        let context = admin.current_context().await.unwrap();
        assert_eq!(context.username, "admin");
        assert!(context.roles.contains(&"admin".to_owned()));
    }
    assert_eq!(world.logins(), 1);
    let calls = world.requests("GET", "/services/authentication/current-context");
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.auth_scheme.as_deref() == Some("Splunk"))
    );
    // The login form's password never reaches the log in clear, and our client sent it in the body.
    let login = &world.requests("POST", "/services/auth/login")[0];
    assert!(login.params.iter().all(|(_, v)| v != "changeme"));
}

async fn bearer_token_is_sent_as_bearer(world: World) {
    let admin = world.admin();
    let minted = admin
        .create_token(&TokenRequest::new(
            "admin",
            "splunk-client-tests",
            Duration::from_secs(600),
        ))
        .await
        .unwrap();
    assert!(
        !format!("{minted:?}").contains("eyJ"),
        "token leaked in Debug"
    );
    world.emulator.clear_request_log();
    let bearer = world.client(minted.credentials());
    assert_eq!(bearer.current_context().await.unwrap().username, "admin");
    assert_eq!(bearer.server_info().await.unwrap().version, "10.2.0");
    // Searches and listings work the same with a bearer token.
    let rows = bearer
        .oneshot(
            "| makeresults count=2",
            &splunk_client::SearchParams::default(),
        )
        .await
        .unwrap();
    assert_eq!(rows.results.len(), 2);
    let exported: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        bearer
            .export(
                "| makeresults count=3",
                &splunk_client::SearchParams::default(),
            )
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(exported.len(), 3);
    assert!(
        !bearer
            .list_indexes(&splunk_client::ListOptions::all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let log = world.emulator.request_log();
    assert_eq!(log.len(), 5);
    assert!(
        log.iter()
            .all(|r| r.auth_scheme.as_deref() == Some("Bearer")
                && r.user.as_deref() == Some("admin"))
    );
    assert_eq!(world.logins(), 0);
}

async fn expired_session_logs_in_again_exactly_once(world: World) {
    let admin = world.admin();
    admin.server_info().await.unwrap();
    assert_eq!(world.logins(), 1);
    world.emulator.expire_sessions();
    // Eight concurrent calls all see the expired key; one of them logs in, the others wait and reuse.
    let calls = (0..8).map(|_| {
        let admin = admin.clone();
        tokio::spawn(async move { admin.current_context().await })
    });
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap().username, "admin");
    }
    assert_eq!(world.logins(), 2, "expected exactly one re-login");
    let refused = world
        .requests("GET", "/services/authentication/current-context")
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert!((1..=8).contains(&refused));
}

async fn wrong_password_fails_without_a_retry_storm(world: World) {
    let client = world.client(Credentials::session("admin", "wrong-password"));
    for attempt in 1..=3 {
        match client.server_info().await {
            Err(Error::Unauthorized { messages }) => {
                assert_eq!(messages[0].text, "Login failed");
                assert_eq!(
                    messages[0].code.as_deref(),
                    Some("incorrect_username_or_password")
                );
            }
            other => panic!("expected Unauthorized, got {other:?}"),
        }
        // One login per call, and the API call itself is never sent without a key.
        assert_eq!(world.logins(), attempt);
    }
    assert_eq!(world.emulator.request_log().len(), 3);
    let shown = client.server_info().await.unwrap_err().to_string();
    assert_eq!(shown, "Splunk refused the credentials: Login failed");
    assert!(!shown.contains("wrong-password"));
}

async fn refused_bearer_is_unauthorized_without_login(world: World) {
    let client = world.client(Credentials::bearer("not-a-valid-token"));
    assert!(matches!(
        client.server_info().await,
        Err(Error::Unauthorized { .. })
    ));
    assert_eq!(world.logins(), 0);
    assert_eq!(
        world.emulator.request_log().len(),
        1,
        "a refused bearer is not retried"
    );
}
