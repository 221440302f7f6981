//! Boundary 2: the Splunk client and the credential source for the configured mode.

use std::sync::Arc;

use anyhow::{Context, bail};
use mcp_tools::{CredentialSource, PassthroughCredentials, ServiceCredentials};
use secrecy::ExposeSecret;
use splunk_client::{Client, ClientConfig, Credentials};

use crate::config::{CredentialsMode, SplunkSettings};

/// The client configuration for `splunk` (TLS, CA bundle, timeouts).
pub(crate) fn client_config(splunk: &SplunkSettings) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new(splunk.base_url());
    config.read_timeout = splunk.timeout;
    config.tls.danger_accept_invalid_certs = !splunk.verify_ssl;
    if let Some(path) = &splunk.ca_bundle {
        let pem = std::fs::read(path)
            .with_context(|| format!("SPLUNK_CA_BUNDLE: cannot read {}", path.display()))?;
        config = config.with_ca_bundle_pem(pem);
    }
    Ok(config)
}

/// The configured service (or mirror admin) credential.
pub(crate) fn configured_credentials(splunk: &SplunkSettings) -> anyhow::Result<Credentials> {
    match (&splunk.token, &splunk.username, &splunk.password) {
        (Some(token), _, _) => Ok(Credentials::bearer(token.expose_secret())),
        (None, Some(user), Some(password)) => {
            Ok(Credentials::session(user.clone(), password.expose_secret()))
        }
        _ => {
            bail!("no Splunk credential: set SPLUNK_TOKEN, or SPLUNK_USERNAME and SPLUNK_PASSWORD")
        }
    }
}

/// The client carrying the configured credential (service account or mirror admin).
pub(crate) fn configured_client(
    config: &ClientConfig,
    splunk: &SplunkSettings,
) -> anyhow::Result<Client> {
    Client::new(config, configured_credentials(splunk)?).context("cannot build the Splunk client")
}

/// The credential source for `splunk.credentials`.
pub(crate) fn credential_source(
    config: &ClientConfig,
    splunk: &SplunkSettings,
) -> anyhow::Result<Arc<dyn CredentialSource>> {
    Ok(match splunk.credentials {
        CredentialsMode::Service => {
            Arc::new(ServiceCredentials::new(configured_client(config, splunk)?))
        }
        CredentialsMode::Passthrough => {
            // The base client's own credential is never used; every call carries the caller's.
            let base = Client::new(config, Credentials::bearer(String::new()))
                .context("cannot build the Splunk client")?;
            Arc::new(PassthroughCredentials::new(base))
        }
        CredentialsMode::Mirror => Arc::new(mirror::credentials(config, splunk)?),
    })
}

pub(crate) mod mirror {
    //! Mirror mode: the provisioner with the admin credential.

    use anyhow::Context;
    use mcp_tools::{MirrorCredentials, UsernameClaim};
    use splunk_client::ClientConfig;
    use splunk_client::mirror::{MirrorConfig, Provisioner};

    use crate::config::SplunkSettings;

    /// The provisioner acting with the configured admin credential.
    pub(crate) fn provisioner(
        config: &ClientConfig,
        splunk: &SplunkSettings,
    ) -> anyhow::Result<Provisioner> {
        let admin = super::configured_client(config, splunk)?;
        let mirror = &splunk.mirror;
        let mut mirror_config = MirrorConfig::with_baseline_roles(mirror.baseline_roles.clone());
        mirror_config.prefix = mirror.prefix.clone();
        mirror_config.denied_roles = mirror.denied_roles.clone();
        mirror_config.token_audience = mirror.token_audience.clone();
        mirror_config.token_ttl = mirror.token_ttl;
        Provisioner::new(admin, mirror_config).context("invalid mirror settings")
    }

    /// Mirror credentials for every caller.
    pub(crate) fn credentials(
        config: &ClientConfig,
        splunk: &SplunkSettings,
    ) -> anyhow::Result<MirrorCredentials> {
        let provisioner = provisioner(config, splunk)?;
        let claim: UsernameClaim = splunk
            .mirror
            .username_claim
            .parse()
            .map_err(|e| anyhow::anyhow!("SPLUNK_MIRROR_USERNAME_CLAIM: {e}"))?;
        let base = super::configured_client(config, splunk)?;
        Ok(MirrorCredentials::new(base, provisioner, claim))
    }
}
