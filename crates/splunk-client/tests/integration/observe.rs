//! Request observation: every HTTP request reaches the configured observer once, with a bounded
//! operation label, its status (or none when no answer came) and its duration.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use splunk_client::{
    Client, ClientConfig, Credentials, Error, RequestObserver, RetryPolicy, SearchParams, Sid,
    WaitOptions,
};

use crate::over_http_and_https;
use crate::support::World;

over_http_and_https!(every_request_is_observed_with_a_bounded_label);

/// Remembers every observation.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(&'static str, Option<u16>, Duration)>>);

impl RequestObserver for Recorder {
    fn on_request(&self, operation: &'static str, status: Option<u16>, elapsed: Duration) {
        self.0.lock().push((operation, status, elapsed));
    }
}

impl Recorder {
    fn seen(&self) -> Vec<(&'static str, Option<u16>)> {
        self.0.lock().iter().map(|(o, s, _)| (*o, *s)).collect()
    }
}

async fn every_request_is_observed_with_a_bounded_label(world: World) {
    let recorder = Arc::new(Recorder::default());
    let config = world.config.clone().with_observer(recorder.clone());
    let admin = Client::new(&config, Credentials::session("admin", "changeme")).unwrap();

    admin.server_info().await.unwrap();
    let sid: Sid = admin
        .create_job("search index=web | head 3", &SearchParams::default())
        .await
        .unwrap();
    admin
        .wait_job(&sid, WaitOptions::with_deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    admin.job_results_page(&sid, 0, 10).await.unwrap();
    let missing = admin.get_index("no_such_index").await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");

    // A client derived for another credential keeps the observer.
    let token_user = admin.with_credentials(Credentials::bearer("not-a-valid-token"));
    assert!(token_user.list_indexes(&Default::default()).await.is_err());

    let seen = recorder.seen();
    let logged = world.emulator.request_log();
    assert_eq!(seen.len(), logged.len(), "{seen:?}");
    assert_eq!(seen[0], ("auth.login", Some(200)));
    assert_eq!(seen[1], ("server.info", Some(200)));
    assert_eq!(seen[2], ("search.create", Some(201)));
    assert!(seen.contains(&("search.status", Some(200))), "{seen:?}");
    assert!(seen.contains(&("search.results", Some(200))), "{seen:?}");
    assert!(seen.contains(&("catalog.index", Some(404))), "{seen:?}");
    assert_eq!(seen.last(), Some(&("catalog.indexes", Some(401))));
    for ((operation, status), entry) in seen.iter().zip(&logged) {
        assert_eq!(*status, Some(entry.status), "{operation} vs {}", entry.path);
        assert!(!operation.contains(sid.as_str()) && !operation.contains('/'));
    }
    assert!(
        recorder
            .0
            .lock()
            .iter()
            .all(|(_, _, e)| *e < Duration::from_secs(10))
    );
}

#[tokio::test]
async fn a_connection_failure_is_observed_without_a_status() {
    let recorder = Arc::new(Recorder::default());
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let config = ClientConfig::new("http://127.0.0.1:9")
        .with_retry(RetryPolicy::new(
            2,
            Duration::from_millis(1),
            Duration::from_millis(2),
        ))
        .with_observer(recorder.clone());
    let client = Client::new(&config, Credentials::bearer("t")).unwrap();
    assert!(client.server_info().await.is_err());
    // The first attempt and both retries.
    assert_eq!(recorder.seen(), vec![("server.info", None); 3]);
}
