//! Client ID Metadata Documents fetched over real HTTP from an axum server on loopback
//! (allowed by `allow_loopback_http`), cached in the redb store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use oidc_proxy::{CimdConfig, CimdError, CimdResolver, ClientSource, RedbStore, Store};
use serde_json::json;

use crate::support::{TempDir, cipher};

/// Counts requests per path; serves documents whose `client_id` is their own URL.
#[derive(Clone)]
struct DocServer {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Self {
            base: format!("http://{addr}"),
            hits: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn json_response(cache_control: Option<&str>, body: serde_json::Value) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(value) = cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, value.parse().unwrap());
    }
    response
}

async fn serve(State(server): State<DocServer>, headers: HeaderMap, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    *server.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    // The URL the client asked for, so documents fetched by host name match too.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let me = format!("http://{host}{path}");
    let doc = |redirects: serde_json::Value| {
        json!({
            "client_id": me,
            "client_name": "CIMD Test Client",
            "client_uri": "https://app.example.com/",
            "redirect_uris": redirects,
            "token_endpoint_auth_method": "none",
        })
    };
    let good = || {
        doc(json!([
            "http://127.0.0.1:33418/callback",
            "vscode://example.test/cb"
        ]))
    };
    match path.as_str() {
        "/valid" => json_response(Some("public, max-age=600"), good()),
        "/nostore" => json_response(Some("no-store"), good()),
        "/floor" => json_response(Some("max-age=0"), good()),
        "/mismatch" => {
            let mut d = good();
            d["client_id"] = json!(server.url("/other"));
            json_response(None, d)
        }
        "/badredirect" => json_response(None, doc(json!(["javascript:alert(1)"]))),
        "/httpredirect" => json_response(None, doc(json!(["http://app.example.com/cb"]))),
        "/secret" => {
            let mut d = good();
            d["token_endpoint_auth_method"] = json!("client_secret_basic");
            json_response(None, d)
        }
        "/html" => ([(header::CONTENT_TYPE, "text/html")], good().to_string()).into_response(),
        "/redirect" => (
            StatusCode::FOUND,
            [(header::LOCATION, server.url("/valid"))],
        )
            .into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_response(None, good())
        }
        "/huge" => {
            // 1 MiB in 64 chunks of 16 KiB, 20 ms apart (chunked: no Content-Length to check).
            let stream = futures::stream::unfold(0u32, |n| async move {
                if n >= 64 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Ok::<_, std::io::Error>(vec![b' '; 16 * 1024]), n + 1))
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        "/big-declared" => json_response(None, json!({ "pad": "x".repeat(64 * 1024) })),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Fixture {
    server: DocServer,
    store: Arc<dyn Store>,
    _dir: TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let dir = TempDir::new("cimd");
        let store: Arc<dyn Store> = Arc::new(
            RedbStore::open(dir.path().join("s.redb"), cipher())
                .await
                .unwrap(),
        );
        Self {
            server: DocServer::start().await,
            store,
            _dir: dir,
        }
    }

    fn resolver(&self, config: CimdConfig) -> CimdResolver {
        CimdResolver::new(self.store.clone(), config)
    }

    /// Loopback allowed, short timeouts and cache times so tests run quickly.
    fn dev(&self) -> CimdResolver {
        self.resolver(CimdConfig {
            allow_loopback_http: true,
            connect_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_millis(800),
            min_ttl: Duration::from_secs(1),
            ..CimdConfig::default()
        })
    }
}

#[tokio::test]
async fn cimd_valid_document_becomes_a_public_client_and_is_cached() {
    let f = Fixture::start().await;
    let resolver = f.dev();
    let id = f.server.url("/valid");
    assert!(resolver.is_url_client_id(&id));
    assert!(!resolver.is_url_client_id("3f9a-random-dcr-id"));

    let record = resolver.resolve(&id).await.unwrap();
    assert_eq!(record.client_id, id);
    assert_eq!(record.source, ClientSource::MetadataDocument);
    assert_eq!(record.client_name.as_deref(), Some("CIMD Test Client"));
    assert_eq!(
        record.redirect_uris,
        [
            "http://127.0.0.1:33418/callback",
            "vscode://example.test/cb"
        ]
    );
    assert_eq!(record.token_endpoint_auth_method, "none");
    assert_eq!(record.application_type, "native");
    assert_eq!(record.grant_types, ["authorization_code"]);
    assert!(record.secret_hash.is_none());
    assert_eq!(record.metadata["client_uri"], "https://app.example.com/");

    // A host name is resolved once and the connection goes to the checked address.
    let port = f.server.base.rsplit(':').next().unwrap();
    let by_name = format!("http://localhost:{port}/valid");
    assert_eq!(resolver.resolve(&by_name).await.unwrap().client_id, by_name);
    assert_eq!(f.server.hits("/valid"), 2);

    // Cached in the store (shared by replicas): no second request.
    let again = resolver.resolve(&id).await.unwrap();
    assert_eq!(again.client_id, id);
    assert_eq!(f.server.hits("/valid"), 2);
    let stored = f.store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.source, ClientSource::MetadataDocument);
    // Another resolver on the same store (another replica) uses the cache too.
    f.dev().resolve(&id).await.unwrap();
    assert_eq!(f.server.hits("/valid"), 2);
}

#[tokio::test]
async fn cimd_no_store_is_fetched_every_time() {
    let f = Fixture::start().await;
    let resolver = f.dev();
    let id = f.server.url("/nostore");
    resolver.resolve(&id).await.unwrap();
    resolver.resolve(&id).await.unwrap();
    assert_eq!(f.server.hits("/nostore"), 2);
    assert!(f.store.get_client(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn cimd_max_age_zero_is_raised_to_the_floor() {
    let f = Fixture::start().await;
    let resolver = f.dev();
    let id = f.server.url("/floor");
    resolver.resolve(&id).await.unwrap();
    resolver.resolve(&id).await.unwrap();
    assert_eq!(f.server.hits("/floor"), 1, "cached for the 1 s floor");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    resolver.resolve(&id).await.unwrap();
    assert_eq!(f.server.hits("/floor"), 2, "expired after the floor");
}

#[tokio::test]
async fn cimd_invalid_documents_are_refused() {
    let f = Fixture::start().await;
    let resolver = f.dev();

    let err = resolver
        .resolve(&f.server.url("/mismatch"))
        .await
        .unwrap_err();
    assert!(matches!(err, CimdError::InvalidDocument { .. }), "{err:?}");
    assert!(err.to_string().contains("not the URL"), "{err}");

    for path in ["/badredirect", "/httpredirect"] {
        let err = resolver.resolve(&f.server.url(path)).await.unwrap_err();
        assert!(
            matches!(err, CimdError::RedirectUri { .. }),
            "{path}: {err:?}"
        );
    }

    let err = resolver
        .resolve(&f.server.url("/secret"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("client_secret_basic"), "{err}");

    let err = resolver.resolve(&f.server.url("/html")).await.unwrap_err();
    assert!(matches!(err, CimdError::NotJson(_)), "{err:?}");

    let err = resolver
        .resolve(&f.server.url("/missing"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CimdError::Status { status: 404, .. }),
        "{err:?}"
    );

    // Nothing refused was cached.
    for path in ["/mismatch", "/badredirect", "/secret", "/html"] {
        assert!(
            f.store
                .get_client(&f.server.url(path))
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn cimd_oversized_body_is_refused_without_reading_it_all() {
    let f = Fixture::start().await;
    let resolver = f.resolver(CimdConfig {
        allow_loopback_http: true,
        // Longer than streaming the whole MiB takes (64 × 20 ms), so only the limit can stop it.
        total_timeout: Duration::from_secs(10),
        ..CimdConfig::default()
    });
    let started = Instant::now();
    let err = resolver.resolve(&f.server.url("/huge")).await.unwrap_err();
    assert!(
        matches!(err, CimdError::TooLarge { limit: 5120, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(640),
        "aborted early, not after the whole body: {:?}",
        started.elapsed()
    );

    let err = resolver
        .resolve(&f.server.url("/big-declared"))
        .await
        .unwrap_err();
    assert!(matches!(err, CimdError::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn cimd_slow_server_times_out() {
    let f = Fixture::start().await;
    let started = Instant::now();
    let err = f.dev().resolve(&f.server.url("/slow")).await.unwrap_err();
    assert!(matches!(err, CimdError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cimd_redirects_are_not_followed() {
    let f = Fixture::start().await;
    let err = f
        .dev()
        .resolve(&f.server.url("/redirect"))
        .await
        .unwrap_err();
    assert!(matches!(err, CimdError::Redirected(_)), "{err:?}");
    assert_eq!(f.server.hits("/redirect"), 1);
    assert_eq!(
        f.server.hits("/valid"),
        0,
        "the redirect target was fetched"
    );
}

#[tokio::test]
async fn cimd_without_the_dev_switch_refuses_http_and_special_addresses() {
    let f = Fixture::start().await;
    let strict = f.resolver(CimdConfig::default());
    let port = f.server.base.rsplit(':').next().unwrap().to_owned();

    // Plain http, even to a loopback document server.
    let err = strict.resolve(&f.server.url("/valid")).await.unwrap_err();
    assert!(matches!(err, CimdError::InvalidClientId { .. }), "{err:?}");
    assert!(!strict.is_url_client_id(&f.server.url("/valid")));

    // https to loopback, private, link-local (cloud metadata) and mapped addresses: refused by
    // the address check before any connection.
    let refused = [
        (format!("https://127.0.0.1:{port}/valid"), "loopback"),
        (format!("https://localhost:{port}/valid"), "loopback"),
        (format!("https://[::1]:{port}/valid"), "loopback"),
        (format!("https://[::ffff:7f00:1]:{port}/valid"), "loopback"),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "link-local",
        ),
        ("https://10.0.0.1/client.json".to_owned(), "private"),
        ("https://[fd00::1]/client.json".to_owned(), "private"),
        ("https://100.64.0.1/client.json".to_owned(), "shared"),
        ("https://0.0.0.0/client.json".to_owned(), "unspecified"),
    ];
    for (id, class) in &refused {
        let err = strict.resolve(id).await.unwrap_err();
        match &err {
            CimdError::AddressNotAllowed { class: got, .. } => {
                assert!(got.starts_with(class), "{id}: {got}")
            }
            other => panic!("{id}: {other:?}"),
        }
        assert!(err.to_string().contains("public https host"), "{err}");
    }
    assert_eq!(f.server.hits("/valid"), 0);

    // The dev switch allows loopback but still not private networks or metadata addresses.
    let dev = f.dev();
    for id in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/client.json",
    ] {
        let err = dev.resolve(id).await.unwrap_err();
        assert!(
            matches!(err, CimdError::AddressNotAllowed { .. }),
            "{id}: {err:?}"
        );
    }
}

#[tokio::test]
async fn cimd_failures_are_remembered_for_a_while() {
    let f = Fixture::start().await;
    let resolver = f.resolver(CimdConfig {
        allow_loopback_http: true,
        connect_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_millis(800),
        failure_ttl: Duration::from_millis(400),
        ..CimdConfig::default()
    });
    let missing = f.server.url("/missing");
    let first = resolver.resolve(&missing).await.unwrap_err();
    assert!(
        matches!(first, CimdError::Status { status: 404, .. }),
        "{first:?}"
    );
    // At once again: refused from memory, without fetching.
    let again = resolver.resolve(&missing).await.unwrap_err();
    assert!(
        matches!(again, CimdError::RecentlyFailed { .. }),
        "{again:?}"
    );
    assert!(again.to_string().starts_with(&first.to_string()), "{again}");
    assert_eq!(f.server.hits("/missing"), 1, "not fetched again");
    // A malformed client id is refused as before, and nothing is remembered for it.
    let err = resolver.resolve("ftp://example.com/x").await.unwrap_err();
    assert!(matches!(err, CimdError::InvalidClientId { .. }), "{err:?}");
    // After the window, fetched again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = resolver.resolve(&missing).await.unwrap_err();
    assert!(
        matches!(later, CimdError::Status { status: 404, .. }),
        "{later:?}"
    );
    assert_eq!(f.server.hits("/missing"), 2);
}
