//! Boundary 2: the Splunk client and the credential source for the configured mode.

use std::sync::Arc;

use anyhow::{Context, bail};
use mcp_tools::{
    CredentialSource, ExchangeCredentials, ExchangeError, ExchangeFuture, ExchangedToken,
    PassthroughCredentials, ServiceCredentials, TokenExchange,
};
use oidc_proxy::{ExchangeRequest, UpstreamClient, UpstreamError};
use secrecy::ExposeSecret;
use splunk_client::{Client, ClientConfig, Credentials};

use crate::config::{CredentialsMode, ExchangeStyle, Settings, SplunkSettings};

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
pub(crate) async fn credential_source(
    config: &ClientConfig,
    settings: &Settings,
) -> anyhow::Result<Arc<dyn CredentialSource>> {
    let splunk = &settings.splunk;
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
        CredentialsMode::Exchange => {
            let base = Client::new(config, Credentials::bearer(String::new()))
                .context("cannot build the Splunk client")?;
            Arc::new(ExchangeCredentials::new(
                base,
                Arc::new(IdpExchange::new(settings).await?),
            ))
        }
    })
}

/// Exchanges callers' tokens at the IdP's token endpoint, as this server's IdP client.
#[derive(Debug)]
pub(crate) struct IdpExchange {
    idp: UpstreamClient,
    request: ExchangeRequest,
}

impl IdpExchange {
    /// The exchange `settings` describe. The IdP need not be up: its endpoints are discovered
    /// at the first exchange that finds it.
    pub(crate) async fn new(settings: &Settings) -> anyhow::Result<Self> {
        let exchange = &settings.splunk.exchange;
        let style = match exchange.style {
            ExchangeStyle::Rfc8693 => oidc_proxy::ExchangeStyle::Rfc8693,
            ExchangeStyle::EntraObo => oidc_proxy::ExchangeStyle::EntraOnBehalfOf,
        };
        let mut request = ExchangeRequest::new(style, exchange.audience.clone());
        request.resource.clone_from(&exchange.resource);
        request.scope.clone_from(&exchange.scope);
        Ok(Self {
            idp: super::proxy::upstream_client(settings).await?,
            request,
        })
    }

    /// Exchanges `subject_token` (the errors as the IdP gave them, for `doctor`).
    pub(crate) async fn exchange_now(
        &self,
        subject_token: &str,
    ) -> Result<oidc_proxy::ExchangedToken, UpstreamError> {
        self.idp.exchange(subject_token, &self.request).await
    }
}

impl TokenExchange for IdpExchange {
    fn exchange<'a>(&'a self, subject_token: &'a str) -> ExchangeFuture<'a> {
        Box::pin(async move {
            match self.exchange_now(subject_token).await {
                Ok(token) => Ok(ExchangedToken::new(
                    token.access_token.expose(),
                    token.expires_in,
                )),
                Err(UpstreamError::OAuth {
                    code, description, ..
                }) => Err(ExchangeError::Refused {
                    error: code,
                    description,
                }),
                Err(other) => Err(ExchangeError::Unavailable(other.to_string())),
            }
        })
    }
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
