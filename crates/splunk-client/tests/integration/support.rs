//! Test world: an emulator instance and clients configured to reach it.

use std::time::Duration;

use splunk_client::{Client, ClientConfig, Credentials, RetryPolicy};
use splunk_emulator::{Emulator, EmulatorConfig, RequestLogEntry, RunningEmulator};

/// The emulator's built-in administrator.
pub(crate) const ADMIN: (&str, &str) = ("admin", "changeme");

/// A running emulator and the client configuration that reaches it.
pub(crate) struct World {
    pub(crate) emulator: RunningEmulator,
    pub(crate) config: ClientConfig,
}

impl World {
    /// An emulator with default data, over HTTPS (`tls`) or plain HTTP.
    pub(crate) async fn start(tls: bool) -> Self {
        Self::with(EmulatorConfig {
            tls,
            ..EmulatorConfig::default()
        })
        .await
    }

    /// An emulator with a given configuration.
    pub(crate) async fn with(config: EmulatorConfig) -> Self {
        let emulator = Emulator::start(config).await.expect("emulator starts");
        let mut client_config = ClientConfig::new(emulator.url()).with_retry(RetryPolicy::new(
            3,
            Duration::from_millis(5),
            Duration::from_millis(50),
        ));
        if let Some(pem) = emulator.ca_certificate_pem() {
            // The emulator's self-signed CA, trusted through the CA bundle option (no insecure switch).
            client_config = client_config.with_ca_bundle_pem(pem.as_bytes().to_vec());
        }
        Self {
            emulator,
            config: client_config,
        }
    }

    /// A new admin client logging in with a session (its own session key).
    pub(crate) fn admin(&self) -> Client {
        self.client(Credentials::session(ADMIN.0, ADMIN.1))
    }

    /// A new client with the given credentials.
    pub(crate) fn client(&self, credentials: Credentials) -> Client {
        Client::new(&self.config, credentials).expect("client builds")
    }

    /// A client with a custom configuration change.
    pub(crate) fn client_with(
        &self,
        credentials: Credentials,
        change: impl FnOnce(ClientConfig) -> ClientConfig,
    ) -> Client {
        Client::new(&change(self.config.clone()), credentials).expect("client builds")
    }

    /// Requests seen so far with the given method whose path contains `part`.
    pub(crate) fn requests(&self, method: &str, part: &str) -> Vec<RequestLogEntry> {
        self.emulator
            .request_log()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(part))
            .collect()
    }

    /// Login requests seen so far.
    pub(crate) fn logins(&self) -> usize {
        self.requests("POST", "/services/auth/login").len()
    }
}

/// Runs an async check once over HTTP and once over HTTPS, as two tests.
#[macro_export]
macro_rules! over_http_and_https {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn http() {
                    super::$check($crate::support::World::start(false).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn https() {
                    super::$check($crate::support::World::start(true).await).await;
                }
            }
        )*
    };
}

/// The value of a parameter in a logged request.
pub(crate) fn param<'a>(entry: &'a RequestLogEntry, name: &str) -> Option<&'a str> {
    entry
        .params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// All values of a repeated parameter in a logged request.
pub(crate) fn params<'a>(entry: &'a RequestLogEntry, name: &str) -> Vec<&'a str> {
    entry
        .params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}
