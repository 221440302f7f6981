//! A Splunk emulator (or any Splunk reached as `admin`) made to trust the test IdP, over REST.

use reqwest::StatusCode;
use serde_json::Value;
use splunk_emulator::{Emulator, EmulatorConfig, RunningEmulator};

use crate::{Idp, WorldError, http_client};

/// The IdP group → Splunk role mappings the tests rely on: alice (`analysts`) becomes a
/// `web_analyst` (indexes `main`, `web`), bob (`admins`) an `admin`; carol has no group.
pub const GROUP_ROLES: [(&str, &str); 2] = [("analysts", "web_analyst"), ("admins", "admin")];

/// The emulator's administrator.
const ADMIN: (&str, &str) = ("admin", "changeme");

/// Configures `idp` at the Splunk at `splunk_url` (as `admin`/`changeme`) as an OAuth 2.0
/// provider named `name` accepting audience `splunk`, with usernames from
/// `preferred_username` and groups from `groups`.
pub async fn trust_idp(
    http: &reqwest::Client,
    splunk_url: &str,
    name: &str,
    idp: &Idp,
) -> Result<(), WorldError> {
    let discovery_url = idp.discovery_url();
    let discovery: Value = http
        .get(&discovery_url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|source| WorldError::Http {
            what: format!("GET {discovery_url}"),
            source,
        })?
        .json()
        .await
        .map_err(|source| WorldError::Http {
            what: format!("discovery JSON at {discovery_url}"),
            source,
        })?;
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap_or_default();
    admin_post(
        http,
        splunk_url,
        "/services/authentication/providers/oauth2",
        &[
            ("name", name),
            ("issuer", &idp.issuer),
            ("jwks_uri", jwks_uri),
            ("audience", "splunk"),
            ("groupsClaim", "groups"),
            ("usernameClaim", "preferred_username"),
        ],
    )
    .await
}

/// Maps an IdP group to a Splunk role (for every provider) at the Splunk at `splunk_url`.
pub async fn map_group(
    http: &reqwest::Client,
    splunk_url: &str,
    group: &str,
    role: &str,
) -> Result<(), WorldError> {
    admin_post(
        http,
        splunk_url,
        "/services/admin/oauth2-groups",
        &[("name", group), ("roles", role)],
    )
    .await
}

/// Applies every mapping of [`GROUP_ROLES`].
pub async fn map_test_groups(http: &reqwest::Client, splunk_url: &str) -> Result<(), WorldError> {
    for (group, role) in GROUP_ROLES {
        map_group(http, splunk_url, group, role).await?;
    }
    Ok(())
}

/// An admin `POST` that must answer `201 Created`.
async fn admin_post(
    http: &reqwest::Client,
    splunk_url: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Result<(), WorldError> {
    let mut form = params.to_vec();
    form.push(("output_mode", "json"));
    let what = format!("POST {splunk_url}{path}");
    let response = http
        .post(format!("{splunk_url}{path}"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .form(&form)
        .send()
        .await
        .map_err(|source| WorldError::Http {
            what: what.clone(),
            source,
        })?;
    let status = response.status();
    if status == StatusCode::CREATED {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(WorldError::Status { what, status, body })
}

/// The indexes a streamed export of `search index=* | stats count by index` at the Splunk at
/// `splunk_url` returns for the bearer of `token`, sorted.
pub async fn indexes_seen(http: &reqwest::Client, splunk_url: &str, token: &str) -> Vec<String> {
    let response = http
        .post(format!("{splunk_url}/services/search/jobs/export"))
        .bearer_auth(token)
        .form(&[
            ("search", "search index=* | stats count by index"),
            ("earliest_time", "0"),
            ("output_mode", "json"),
        ])
        .send()
        .await
        .expect("export request");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("export body");
    let mut indexes: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("NDJSON line"))
        .filter_map(|line| line["result"]["index"].as_str().map(str::to_owned))
        .collect();
    indexes.sort();
    indexes
}

/// One test's world: an IdP, an in-process emulator that trusts it, and an HTTP client.
pub struct World {
    /// The IdP; its access tokens also carry audience `splunk`.
    pub idp: Idp,
    /// The emulator, trusting `idp` as `test-idp` with [`GROUP_ROLES`].
    pub splunk: RunningEmulator,
    /// A client from [`http_client`].
    pub http: reqwest::Client,
}

impl World {
    /// Starts an IdP whose access tokens also carry audience `splunk`, and an emulator (with a
    /// small `bench` index, so `index=*` is quick in debug builds) that trusts it and maps
    /// [`GROUP_ROLES`].
    pub async fn start() -> Self {
        Self::start_with_idp(&["--extra-audience", "splunk"]).await
    }

    /// [`World::start`] with the IdP started with `idp_args` instead (e.g. none, so that
    /// access tokens name only the resource they were asked for).
    pub async fn start_with_idp(idp_args: &[&str]) -> Self {
        Self::start_with(idp_args, EmulatorConfig::default()).await
    }

    /// [`World::start_with_idp`] with the emulator configured as `emulator` (its small `bench`
    /// index kept), e.g. with jobs that run for seconds.
    pub async fn start_with(idp_args: &[&str], emulator: EmulatorConfig) -> Self {
        let http = http_client();
        let idp = Idp::start(idp_args).await;
        let splunk = Emulator::start(EmulatorConfig {
            bench_events: 1_000,
            ..emulator
        })
        .await
        .expect("emulator starts");
        let world = Self { idp, splunk, http };
        world.trust_idp("test-idp", &world.idp).await;
        map_test_groups(&world.http, world.splunk.url())
            .await
            .expect("group mappings");
        world
    }

    /// Configures `idp` in the emulator as an OAuth 2.0 provider named `name`.
    pub async fn trust_idp(&self, name: &str, idp: &Idp) {
        trust_idp(&self.http, self.splunk.url(), name, idp)
            .await
            .unwrap_or_else(|e| panic!("trusting IdP {name}: {e}"));
    }

    /// `GET /services/authentication/current-context` with `Authorization: Bearer <token>`.
    pub async fn current_context(&self, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!(
                "{}/services/authentication/current-context",
                self.splunk.url()
            ))
            .query(&[("output_mode", "json")])
            .bearer_auth(token)
            .send()
            .await
            .expect("current-context request");
        let status = response.status();
        (status, response.json().await.expect("emulator JSON"))
    }

    /// [`indexes_seen`] at this world's emulator.
    pub async fn indexes_seen(&self, token: &str) -> Vec<String> {
        indexes_seen(&self.http, self.splunk.url(), token).await
    }
}
