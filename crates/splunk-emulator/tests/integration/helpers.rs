//! Shared test helpers: starting an emulator, an HTTP client, logins, and snapshot redaction.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use splunk_emulator::{Emulator, EmulatorConfig, RunningEmulator};

/// A running emulator plus a client and an admin session key.
pub(crate) struct World {
    pub(crate) emu: RunningEmulator,
    pub(crate) http: reqwest::Client,
    pub(crate) admin_key: String,
}

/// Test configuration: fast job progression and a small bench index.
pub(crate) fn config() -> EmulatorConfig {
    EmulatorConfig {
        job_queue_delay_ms: 20,
        job_min_run_ms: 60,
        bench_events: 5_000,
        ..EmulatorConfig::default()
    }
}

/// A reqwest client for plain HTTP (reqwest is built without a default crypto provider, so it
/// gets a ring-backed rustls config trusting nothing).
pub(crate) fn client() -> reqwest::Client {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Starts an emulator with `config` and logs in as admin.
pub(crate) async fn start_with(config: EmulatorConfig) -> World {
    let emu = Emulator::start(config).await.expect("emulator starts");
    let http = client();
    let admin_key = login(&http, emu.url(), "admin", "changeme").await;
    World {
        emu,
        http,
        admin_key,
    }
}

/// Starts an emulator with the test configuration.
pub(crate) async fn start() -> World {
    start_with(config()).await
}

/// Logs in and returns the session key.
pub(crate) async fn login(http: &reqwest::Client, url: &str, user: &str, password: &str) -> String {
    let response = http
        .post(format!("{url}/services/auth/login"))
        .form(&[
            ("username", user),
            ("password", password),
            ("output_mode", "json"),
        ])
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), StatusCode::OK, "login as {user}");
    let body: Value = response.json().await.expect("login JSON");
    body["sessionKey"].as_str().expect("sessionKey").to_owned()
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub(crate) enum Cred {
    None,
    Splunk(String),
    Bearer(String),
}

impl World {
    /// The admin credential.
    pub(crate) fn admin(&self) -> Cred {
        Cred::Splunk(self.admin_key.clone())
    }

    /// Sends a request with `output_mode=json` and returns status and body (JSON, or a string).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        cred: &Cred,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.emu.url());
        let mut request = self.http.request(method.clone(), url);
        request = match cred {
            Cred::None => request,
            Cred::Splunk(key) => request.header("Authorization", format!("Splunk {key}")),
            Cred::Bearer(token) => request.header("Authorization", format!("Bearer {token}")),
        };
        let mut params: Vec<(&str, &str)> = vec![("output_mode", "json")];
        params.extend_from_slice(form);
        request = if method == Method::GET || method == Method::DELETE {
            request.query(&params)
        } else {
            request.form(&params)
        };
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// `GET` as admin.
    pub(crate) async fn get(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(Method::GET, path, &self.admin(), query).await
    }

    /// `POST` as admin.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(Method::POST, path, &self.admin(), form).await
    }

    /// Mints a Splunk token for `user` as admin.
    pub(crate) async fn mint_token(&self, user: &str, extra: &[(&str, &str)]) -> (String, String) {
        let mut form = vec![("name", user), ("audience", "tests")];
        form.extend_from_slice(extra);
        let (status, body) = self.post("/services/authorization/tokens", &form).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let content = &body["entry"][0]["content"];
        (
            content["id"].as_str().unwrap().to_owned(),
            content["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Runs a blocking search as the given caller and returns its results rows.
    pub(crate) async fn search_rows(&self, cred: &Cred, spl: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::POST,
                "/services/search/jobs",
                cred,
                &[("search", spl), ("exec_mode", "oneshot"), ("count", "0")],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{spl}: {body}");
        body["results"].as_array().cloned().unwrap_or_default()
    }
}

/// Replaces everything that changes between runs (URLs with ports, times, ids, keys, tokens).
pub(crate) fn redact(value: &Value, base_url: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "updated" | "createTime" | "cursorTime" | "earliestTime" | "latestTime"
                        | "minTime" | "maxTime" | "_time"
                            if v.as_str().is_some_and(|s| !s.is_empty()) =>
                        {
                            Value::String("[time]".into())
                        }
                        "iat" | "exp" | "nbr" | "lastUsed" | "startup_time"
                            if v.as_i64().is_some_and(|n| n != 0) =>
                        {
                            Value::String("[epoch]".into())
                        }
                        // Fired alerts and lookup files.
                        "trigger_time_rendered" | "expiration_time_rendered" if v.is_string() => {
                            Value::String("[time]".into())
                        }
                        "trigger_time" | "lastModifiedTime" if v.is_number() => {
                            Value::String("[epoch]".into())
                        }
                        "runDuration" | "doneProgress" if v.is_number() => {
                            Value::String("[number]".into())
                        }
                        "guid" | "sessionKey" | "sid" | "_key" if v.is_string() => {
                            Value::String(format!("[{k}]"))
                        }
                        "ttl" => Value::String("[ttl]".into()),
                        _ => redact(v, base_url),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, base_url)).collect()),
        Value::String(s) => Value::String(redact_text(s, base_url)),
        other => other.clone(),
    }
}

fn redact_text(s: &str, base_url: &str) -> String {
    let s = s.replace(base_url, "https://splunk:8089");
    if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        return "[token-id]".into();
    }
    if s.starts_with("eyJ") && s.matches('.').count() == 2 {
        return "[jwt]".into();
    }
    // sids such as 1791467235.42 (also inside paths).
    let mut out = String::new();
    for (i, part) in s.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let is_sid = part.split_once('.').is_some_and(|(a, b)| {
            a.len() == 10
                && a.chars().all(|c| c.is_ascii_digit())
                && !b.is_empty()
                && b.chars().all(|c| c.is_ascii_digit())
        });
        let is_token_id = part.len() == 64 && part.chars().all(|c| c.is_ascii_hexdigit());
        if is_sid {
            out.push_str("[sid]");
        } else if is_token_id {
            out.push_str("[token-id]");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Snapshot a body after redaction.
#[macro_export]
macro_rules! snap {
    ($name:expr, $world:expr, $body:expr) => {
        insta::assert_json_snapshot!($name, $crate::helpers::redact(&$body, $world.emu.url()))
    };
}

/// Polls a job until it is done (or panics after 20 s).
pub(crate) async fn wait_done(world: &World, cred: &Cred, sid: &str) -> Value {
    for _ in 0..400 {
        let (status, body) = world
            .call(
                Method::GET,
                &format!("/services/search/jobs/{sid}"),
                cred,
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["entry"][0]["content"]["isDone"] == Value::Bool(true) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {sid} never finished");
}

/// Replaces a substring everywhere in a JSON value (e.g. a test server's random port).
pub(crate) fn replace(value: &Value, from: &str, to: &str) -> Value {
    serde_json::from_str(&value.to_string().replace(from, to)).expect("still JSON")
}
