//! `proxy` mode end to end through real parts: the binary as its own authorization server in
//! front of the real IdP, with `passthrough` to the emulator, signed into by the official
//! TypeScript SDK client (`tests/clients/oauth-client.mjs`: discovery, registration or a client
//! ID metadata document, the consent form, the IdP's automated login, the code exchange, a
//! forced refresh) and by headless Chromium on the consent page
//! (`tests/clients/consent-browser.mjs`). Splunk must see each user's own IdP token, never ours.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use e2e_tests::{Pkce, World, jwt_claims};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::{
    Server, connect, count_by_index, indexes_in, initialize_request, log_path, post_mcp,
    proxy_store_path, start_proxy_server, text, wait_for_audit,
};

/// The client name `oauth-client.mjs` registers by default.
const SDK_CLIENT_NAME: &str = "splunk-mcp-oauth-test-client";

/// What a script under `tests/clients` printed and how it exited.
struct NodeRun {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl NodeRun {
    /// The one JSON line a successful run prints; panics with the script's errors otherwise.
    fn json(&self, what: &str, server: &Server) -> Value {
        assert_eq!(
            self.status,
            Some(0),
            "{what} failed:\n{}\nserver log: {}",
            self.stderr,
            server.log.display()
        );
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("{what}: JSON on stdout ({e}): {}", self.stdout))
    }
}

/// Runs `node tests/clients/<script> args...` with a clean environment (60 s at most).
async fn node(script: &str, args: &[&str]) -> NodeRun {
    let path = e2e_tests::workspace_root()
        .join("tests")
        .join("clients")
        .join(script);
    assert!(path.is_file(), "{} is missing", path.display());
    let output = Command::new("node")
        .arg(&path)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within 60 s"))
        .expect("run node");
    NodeRun {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A proxy-mode server (passthrough) in front of a fresh world, with `extra` variables.
async fn proxy_world(what: &str, extra: &[(&'static str, String)]) -> (World, Server) {
    let world = World::start().await;
    let store = proxy_store_path(what);
    let server = start_proxy_server(&world, store.to_str().expect("UTF-8 path"), extra).await;
    (world, server)
}

/// A fresh path under the test target's temp directory with `extension`.
fn temp_path(what: &str, extension: &str) -> PathBuf {
    let path = log_path(what).with_extension(extension);
    let _ = std::fs::remove_file(&path);
    path
}

/// The structured result of a tool call as the TypeScript SDK printed it.
fn structured(call: &Value) -> &Value {
    let structured = &call["structuredContent"];
    assert!(structured.is_object(), "structured content in {call}");
    structured
}

/// Whether the SDK's HTTP trace has a line starting with `prefix`.
fn traced(summary: &Value, prefix: &str) -> bool {
    summary["trace"].as_array().is_some_and(|t| {
        t.iter()
            .any(|l| l.as_str().is_some_and(|l| l.starts_with(prefix)))
    })
}

/// Whether an `aud` claim (a string or an array) names `audience`.
fn audience_has(aud: &Value, audience: &str) -> bool {
    aud == audience
        || aud
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == audience))
}

/// A field of the tokens file `oauth-client.mjs --out` wrote.
fn token_in(file: &Value, set: &str, name: &str) -> String {
    file[set][name]
        .as_str()
        .unwrap_or_else(|| panic!("{set}.{name} in the tokens file"))
        .to_owned()
}

/// Panics when any of `tokens` (or its signature, for a JWT) is in the server's log.
fn assert_not_logged(server: &Server, tokens: &[&str]) {
    let log = server.log_text();
    for token in tokens {
        assert!(!log.contains(token), "a token leaked into the server log");
        if let Some(signature) = token.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(
                !log.contains(signature),
                "a token signature leaked into the log"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_signs_in_through_the_proxy_and_splunk_sees_each_users_idp_token() {
    // No reuse grace: the first replay of a rotated-out refresh token is reuse.
    let (world, server) = proxy_world(
        "proxy-flow-sdk",
        &[("MCP_PROXY_REFRESH_REUSE_GRACE", "0".to_owned())],
    )
    .await;
    let base = server.base_url.as_str();
    let spl = count_by_index().to_string();
    let tokens_file = temp_path("alice-tokens", "json");
    let tokens_arg = tokens_file.to_str().expect("UTF-8 path");

    let args = [
        "--url",
        &server.mcp_url,
        "--user",
        "alice",
        "--refresh",
        "--out",
        tokens_arg,
        "call",
        "splunk_search",
        &spl,
    ];
    let alice = node("oauth-client.mjs", &args)
        .await
        .json("alice's sign-in", &server);

    // The SDK met a 401, discovered us, registered, went through consent and the IdP, and
    // exchanged the code: all at this server (the IdP only in between).
    let first = &alice["trace"][0];
    assert_eq!(
        first.as_str(),
        Some(format!("POST {} 401", server.mcp_url).as_str()),
        "{alice}"
    );
    for step in [
        format!("POST {base}/register 201"),
        format!("GET {base}/authorize 200"),
        format!("POST {base}/consent 30"),
        format!("GET {}/auth", world.idp.issuer),
        format!("GET {base}/auth/callback 30"),
        format!("POST {base}/token 200 grant_type=authorization_code"),
        format!("POST {base}/token 200 grant_type=refresh_token"),
    ] {
        assert!(traced(&alice, &step), "{step} in {}", alice["trace"]);
    }
    assert_eq!(alice["registration"], "dynamic");
    assert_eq!(alice["authorizations"], 1, "one sign-in, then a refresh");
    assert_eq!(
        alice["resource"],
        server.mcp_url.as_str(),
        "RFC 8707 resource"
    );
    assert_eq!(alice["iss_param"], base, "RFC 9207 iss on the redirect");

    // The consent page named the client, where it sends the user back, and the scopes.
    let consent = alice["consent_pages"]
        .as_array()
        .filter(|p| p.len() == 1)
        .unwrap_or_else(|| panic!("one consent page: {alice}"));
    let consent_text = consent[0]["text"].as_str().expect("consent text");
    for shown in [SDK_CLIENT_NAME, "127.0.0.1", "splunk:search"] {
        assert!(
            consent_text.contains(shown),
            "{shown:?} on the consent page: {consent_text}"
        );
    }

    // Our own token: issued by this server for its /mcp, to alice, for the registered client.
    let claims = &alice["token"]["claims"];
    assert_eq!(claims["iss"], base, "{claims}");
    assert!(audience_has(&claims["aud"], &server.mcp_url), "{claims}");
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["client_id"], alice["client_id"], "{claims}");
    assert!(alice["token"]["has_refresh_token"] == true, "{alice}");

    // What Splunk showed alice: a web_analyst's indexes, before and after the refresh.
    assert!(
        alice["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "splunk_search")),
        "{alice}"
    );
    assert_eq!(indexes_in(structured(&alice["call"])), ["main", "web"]);
    let refresh = &alice["refresh"];
    assert_eq!(refresh["refreshed"], true, "{refresh}");
    assert_eq!(refresh["refresh_token_rotated"], true, "{refresh}");
    assert_eq!(indexes_in(structured(&refresh["result"])), ["main", "web"]);

    let bob = node(
        "oauth-client.mjs",
        &[
            "--url",
            &server.mcp_url,
            "--user",
            "bob",
            "call",
            "splunk_search",
            &spl,
        ],
    )
    .await
    .json("bob's sign-in", &server);
    assert_ne!(
        bob["client_id"], alice["client_id"],
        "each run registers anew"
    );
    let seen = indexes_in(structured(&bob["call"]));
    for index in ["firewall", "main", "security", "web"] {
        assert!(
            seen.iter().any(|i| i == index),
            "bob sees {index}: {seen:?}"
        );
    }

    // Splunk authenticated each search as its user by a Bearer token it trusts: the IdP's JWT
    // (issuer, signature and `aud: splunk` checked by the emulator). Our own token is not one
    // Splunk accepts, so it cannot have been what was sent.
    let searchers: Vec<(Option<String>, Option<String>)> = world
        .splunk
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("search/jobs"))
        .map(|r| (r.user, r.auth_scheme))
        .collect();
    for user in ["alice", "bob"] {
        assert!(
            searchers.contains(&(Some(user.to_owned()), Some("Bearer".to_owned()))),
            "{user} searched with a Bearer token: {searchers:?}"
        );
    }
    assert!(
        searchers.iter().all(|(user, _)| user.is_some()),
        "every search authenticated: {searchers:?}"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&tokens_file).expect("tokens file"))
            .expect("tokens JSON");
    let ours = token_in(&file, "refreshed_tokens", "access_token");
    let (status, _) = world.current_context(&ours).await;
    assert_eq!(
        status,
        reqwest::StatusCode::UNAUTHORIZED,
        "Splunk refuses our token"
    );

    // The audit trail names alice and the client she signed in with.
    let events = wait_for_audit(&server.log, 1, |e| {
        e["subject"] == "alice" && e["tool"] == "splunk_search"
    })
    .await;
    assert_eq!(events[0]["client_id"], alice["client_id"], "{}", events[0]);

    // Reusing the rotated-out refresh token is refused and revokes the grant: the access
    // token of the refresh stops working at once.
    let old_refresh = token_in(&file, "tokens", "refresh_token");
    let client_id = alice["client_id"].as_str().expect("client id");
    let reuse = world
        .http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", old_refresh.as_str()),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("POST /token");
    assert_eq!(reuse.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = reuse.json().await.expect("OAuth error JSON");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let refused = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&ours),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(
        refused.status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "the grant's access token after refresh-token reuse"
    );

    let first_access = token_in(&file, "tokens", "access_token");
    let new_refresh = token_in(&file, "refreshed_tokens", "refresh_token");
    assert_not_logged(&server, &[&first_access, &old_refresh, &ours, &new_refresh]);
}

/// A client ID metadata document served on loopback, counting its fetches.
struct MetadataDocument {
    url: String,
    fetches: Arc<AtomicUsize>,
}

/// Serves a public native client's metadata document at `http://127.0.0.1:PORT/clients/test.json`.
async fn serve_metadata_document(client_name: &str) -> MetadataDocument {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/clients/test.json",
        listener.local_addr().expect("address").port()
    );
    let document = json!({
        "client_id": url,
        "client_name": client_name,
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    });
    let fetches = Arc::new(AtomicUsize::new(0));
    let state = (Arc::new(document), fetches.clone());
    let app = Router::new()
        .route(
            "/clients/test.json",
            get(
                |State((document, fetches)): State<(Arc<Value>, Arc<AtomicUsize>)>| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        document.to_string(),
                    )
                },
            ),
        )
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    MetadataDocument { url, fetches }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_metadata_document_client_signs_in_with_the_sdk() {
    let document = serve_metadata_document("CIMD Test Client").await;
    let (world, server) = proxy_world(
        "proxy-flow-cimd",
        &[("MCP_PROXY_CIMD_ALLOW_LOOPBACK", "true".to_owned())],
    )
    .await;
    let base = server.base_url.as_str();

    let metadata = crate::proxy_steps::metadata(&world.http, base).await;
    // RFC 8414 metadata as MCP clients rely on it (what the conformance suite's later
    // `authorization` command checks; 0.1.13 has none).
    assert_eq!(
        metadata["client_id_metadata_document_supported"], true,
        "{metadata}"
    );
    assert_eq!(metadata["issuer"], base, "{metadata}");
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{base}/authorize")
    );
    assert_eq!(metadata["token_endpoint"], format!("{base}/token"));
    assert_eq!(
        metadata["registration_endpoint"],
        format!("{base}/register")
    );

    let run = node(
        "oauth-client.mjs",
        &[
            "--url",
            &server.mcp_url,
            "--user",
            "alice",
            "--client-metadata-url",
            &document.url,
            "call",
            "splunk_whoami",
            "{}",
        ],
    )
    .await
    .json("the metadata document client's sign-in", &server);

    assert_eq!(run["client_id"], document.url.as_str(), "{run}");
    assert_eq!(run["registration"], "client_id_metadata_document");
    assert!(
        !traced(&run, &format!("POST {base}/register")),
        "no DCR: {}",
        run["trace"]
    );
    assert!(
        traced(
            &run,
            &format!("POST {base}/token 200 grant_type=authorization_code")
        ),
        "{}",
        run["trace"]
    );
    assert!(
        document.fetches.load(Ordering::SeqCst) >= 1,
        "the server fetched the document"
    );
    let consent = run["consent_pages"][0]["text"].as_str().unwrap_or_default();
    assert!(
        consent.contains("CIMD Test Client"),
        "consent page: {consent}"
    );
    assert_eq!(run["token"]["claims"]["client_id"], document.url.as_str());
    assert_eq!(run["token"]["claims"]["sub"], "alice");
    let call = &run["call"];
    assert_ne!(call["isError"], true, "{call}");
    assert!(call.to_string().contains("alice"), "whoami: {call}");
}

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The query strings a redirect URI received, each as its pairs.
type Arrivals = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A loopback redirect URI that records the query of every request it gets.
async fn serve_redirect_uri() -> (String, Arrivals) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let uri = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().expect("address").port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/callback",
            get(
                |State(seen): State<Arrivals>,
                 Query(query): Query<Vec<(String, String)>>| async move {
                    seen.lock().expect("lock").push(query);
                    (StatusCode::OK, "Signed in; you can close this window.").into_response()
                },
            ),
        )
        .with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (uri, seen)
}

/// The proxy's authorization URL for `client_id`, signing `user` in at the test IdP.
fn authorization_url(
    server: &Server,
    client_id: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &str,
) -> String {
    url::Url::parse_with_params(
        &format!("{}/authorize", server.base_url),
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", "splunk:read splunk:search"),
            ("state", state),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", server.mcp_url.as_str()),
            ("login_hint", "alice"),
        ],
    )
    .expect("authorization URL")
    .into()
}

/// Whether `path` holds a PNG image of some substance.
fn is_png(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_works_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's browser with `sudo apt-get install -y chromium` \
         (.ci/run does), then run `npm ci` in tests/clients for playwright-core"
    );
    let (world, server) = proxy_world("proxy-flow-chromium", &[]).await;
    let base = server.base_url.as_str();
    let (redirect_uri, arrivals) = serve_redirect_uri().await;

    let registered = world
        .http
        .post(format!("{base}/register"))
        .json(&json!({
            "client_name": "Consent Browser Test",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        }))
        .send()
        .await
        .expect("POST /register");
    assert_eq!(registered.status(), reqwest::StatusCode::CREATED);
    let client: Value = registered.json().await.expect("registration JSON");
    let client_id = client["client_id"].as_str().expect("client_id").to_owned();

    let pkce = Pkce::new();
    let state = Pkce::new().verifier;
    let screenshot = temp_path("consent", "png");
    let run = node(
        "consent-browser.mjs",
        &[
            "--url",
            &authorization_url(&server, &client_id, &redirect_uri, &pkce, &state),
            "--redirect-uri",
            &redirect_uri,
            "--screenshot",
            screenshot.to_str().expect("UTF-8 path"),
            "--expect",
            "Consent Browser Test",
            "--expect",
            "127.0.0.1",
            "--expect",
            "splunk:read",
            "--expect",
            "splunk:search",
        ],
    )
    .await;
    assert_ne!(
        run.status,
        Some(3),
        "Chromium could not be used: {}",
        run.stderr
    );
    let approved = run.json("approving in Chromium", &server);
    assert!(
        is_png(&screenshot),
        "a PNG screenshot at {}",
        screenshot.display()
    );
    let consent = &approved["consent"];
    assert!(
        consent["content_security_policy"]
            .as_str()
            .is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
        "{consent}"
    );
    let landing = &approved["landing"];
    assert_eq!(landing["state"], state.as_str(), "state echoed");
    assert_eq!(landing["error"], Value::Null, "{landing}");
    let code = landing["code"].as_str().expect("a code").to_owned();
    let arrived = arrivals.lock().expect("lock").clone();
    assert!(
        arrived
            .iter()
            .any(|q| q.contains(&("code".to_owned(), code.clone()))),
        "the browser reached the client's redirect URI with the code"
    );

    let exchange = world
        .http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", pkce.verifier.as_str()),
            ("client_id", client_id.as_str()),
            ("resource", server.mcp_url.as_str()),
        ])
        .send()
        .await
        .expect("POST /token");
    assert_eq!(exchange.status(), reqwest::StatusCode::OK);
    assert_eq!(exchange.headers()[header::CACHE_CONTROL], "no-store");
    let tokens: Value = exchange.json().await.expect("token JSON");
    let access = tokens["access_token"].as_str().expect("access_token");
    let claims = jwt_claims(access);
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["client_id"], client_id.as_str(), "{claims}");
    assert!(audience_has(&claims["aud"], &server.mcp_url), "{claims}");

    let mcp = connect(&server.mcp_url, access).await;
    let whoami = crate::support::call(&mcp, "splunk_whoami", json!({})).await;
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    mcp.cancel().await.expect("close the session");

    // Deny: the client learns access_denied at its redirect URI, with its state.
    let state = Pkce::new().verifier;
    let denied = node(
        "consent-browser.mjs",
        &[
            "--url",
            &authorization_url(&server, &client_id, &redirect_uri, &Pkce::new(), &state),
            "--redirect-uri",
            &redirect_uri,
            "--screenshot",
            temp_path("consent-deny", "png")
                .to_str()
                .expect("UTF-8 path"),
            "--deny",
        ],
    )
    .await
    .json("denying in Chromium", &server);
    assert_eq!(denied["landing"]["error"], "access_denied", "{denied}");
    assert_eq!(denied["landing"]["state"], state.as_str());
    assert_eq!(denied["landing"]["code"], Value::Null);
}
