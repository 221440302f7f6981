//! External OAuth 2.0 authorization servers (Splunk 10.2's "Configure an external OAuth 2.0
//! authorization server"): providers and group→role mappings configured over REST, and the
//! validation of an IdP JWT presented as `Bearer` against the provider's JWKS, fetched and cached.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};

/// Leeway for `exp` and `nbf`, for clock skew between the IdP and splunkd.
const CLOCK_SKEW_SECS: i64 = 30;
/// A cached JWKS older than this is fetched again even when the kid is known.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

/// One configured provider (`/services/authentication/providers/oauth2/{name}`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Provider {
    /// Provider name.
    pub(crate) name: String,
    /// Expected `iss`.
    pub(crate) issuer: String,
    /// Where the IdP's signing keys are.
    pub(crate) jwks_uri: String,
    /// Expected `aud` (typically `splunk`); empty = not checked.
    pub(crate) audience: String,
    /// Claim holding the user's groups (default `groups`).
    pub(crate) groups_claim: String,
    /// Claim holding the client id (default `cid`).
    pub(crate) client_id_claim: String,
    /// Claim holding the user's full name (default `name`).
    pub(crate) client_full_name_claim: String,
    /// Claim holding the Splunk username. Our assumption (unconfirmed in Splunk's docs): default
    /// `sub`, falling back to `preferred_username` when the configured claim is absent.
    pub(crate) username_claim: String,
    /// Whether the provider is ignored.
    pub(crate) disabled: bool,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
}

impl Provider {
    /// A provider with splunkd's defaults for the optional claims.
    pub(crate) fn new(name: &str, issuer: &str, jwks_uri: &str) -> Self {
        Self {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            audience: "splunk".to_owned(),
            groups_claim: "groups".to_owned(),
            client_id_claim: "cid".to_owned(),
            client_full_name_claim: "name".to_owned(),
            username_claim: "sub".to_owned(),
            disabled: false,
            updated: Utc::now(),
        }
    }
}

/// One IdP group mapped to Splunk roles (`/services/admin/oauth2-groups/{name}`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupMapping {
    /// The IdP group.
    pub(crate) name: String,
    /// The provider the mapping belongs to (`""` = any).
    pub(crate) config: String,
    /// Splunk roles granted to members.
    pub(crate) roles: Vec<String>,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
}

/// A validated IdP user.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    /// Splunk username.
    pub(crate) username: String,
    /// Roles from the group mappings.
    pub(crate) roles: Vec<String>,
    /// Full name from `clientFullNameClaim`.
    pub(crate) realname: String,
    /// `email` claim.
    pub(crate) email: String,
}

#[derive(Debug, Clone)]
struct CachedJwks {
    keys: Vec<Map<String, Value>>,
    fetched: Instant,
}

/// Providers, group mappings and the JWKS cache.
#[derive(Debug)]
pub(crate) struct OAuth2Registry {
    http: reqwest::Client,
    /// Providers by name.
    pub(crate) providers: RwLock<BTreeMap<String, Provider>>,
    /// Group mappings by group name.
    pub(crate) groups: RwLock<BTreeMap<String, GroupMapping>>,
    jwks: Mutex<HashMap<String, CachedJwks>>,
}

impl OAuth2Registry {
    /// An empty registry: no IdP is trusted until one is configured over REST.
    pub(crate) fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            providers: RwLock::default(),
            groups: RwLock::default(),
            jwks: Mutex::default(),
        }
    }

    /// Validates an IdP JWT: issuer of an enabled provider, signature by a key of its JWKS
    /// (refetched once on an unknown kid), `exp`, `nbf`, `aud`; then maps groups to roles.
    pub(crate) async fn validate(&self, token: &str) -> Result<Identity, String> {
        let header = josekit::jwt::decode_header(token).map_err(|_| "not a JWT".to_owned())?;
        let kid = header
            .claim("kid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let alg = header
            .claim("alg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let unverified = unverified_claims(token)?;
        let issuer = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or("no iss")?;
        let provider = self
            .providers
            .read()
            .values()
            .find(|p| !p.disabled && p.issuer == issuer)
            .cloned()
            .ok_or_else(|| format!("no enabled provider for issuer {issuer}"))?;

        let jwk = match self
            .find_key(&provider.jwks_uri, kid.as_deref(), false)
            .await?
        {
            Some(jwk) => jwk,
            None => self
                .find_key(&provider.jwks_uri, kid.as_deref(), true)
                .await?
                .ok_or_else(|| format!("no key with kid {kid:?} in the JWKS"))?,
        };
        let verifier = verifier_for(&alg, &jwk)?;
        let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)
            .map_err(|_| "bad signature".to_owned())?;
        let claims = payload.claims_set();
        let now = Utc::now().timestamp();
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or("no exp")?;
        if now > exp + CLOCK_SKEW_SECS {
            return Err("expired".into());
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
            && now + CLOCK_SKEW_SECS < nbf
        {
            return Err("not yet valid".into());
        }
        if !provider.audience.is_empty() {
            let ok = match claims.get("aud") {
                Some(Value::String(aud)) => *aud == provider.audience,
                Some(Value::Array(auds)) => auds
                    .iter()
                    .any(|a| a.as_str() == Some(provider.audience.as_str())),
                _ => false,
            };
            if !ok {
                return Err("wrong audience".into());
            }
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let username = text(&provider.username_claim)
            .or_else(|| text("preferred_username"))
            .ok_or("no username claim")?;
        let groups: Vec<String> = match claims.get(&provider.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => s
                .split([',', ' '])
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let mut roles: Vec<String> = Vec::new();
        for mapping in self.groups.read().values() {
            let same_provider = mapping.config.is_empty() || mapping.config == provider.name;
            if same_provider && groups.contains(&mapping.name) {
                for role in &mapping.roles {
                    if !roles.contains(role) {
                        roles.push(role.clone());
                    }
                }
            }
        }
        if roles.is_empty() {
            return Err(format!("user {username} has no mapped roles"));
        }
        Ok(Identity {
            username,
            roles,
            realname: text(&provider.client_full_name_claim).unwrap_or_default(),
            email: text("email").unwrap_or_default(),
        })
    }

    async fn find_key(
        &self,
        jwks_uri: &str,
        kid: Option<&str>,
        force: bool,
    ) -> Result<Option<Jwk>, String> {
        let cached = self.jwks.lock().get(jwks_uri).cloned();
        let keys = match cached {
            Some(c) if !force && c.fetched.elapsed() < JWKS_MAX_AGE => c.keys,
            _ => {
                let keys = self.fetch(jwks_uri).await?;
                self.jwks.lock().insert(
                    jwks_uri.to_owned(),
                    CachedJwks {
                        keys: keys.clone(),
                        fetched: Instant::now(),
                    },
                );
                keys
            }
        };
        let chosen = match kid {
            Some(kid) => keys
                .into_iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
            None if keys.len() == 1 => keys.into_iter().next(),
            None => None,
        };
        chosen
            .map(|map| Jwk::from_map(map).map_err(|e| format!("bad JWK: {e}")))
            .transpose()
    }

    async fn fetch(&self, jwks_uri: &str) -> Result<Vec<Map<String, Value>>, String> {
        tracing::debug!(%jwks_uri, "fetching JWKS");
        let body: Value = self
            .http
            .get(jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("JWKS fetch failed: {e}"))?
            .json()
            .await
            .map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let keys = body
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("JWKS without keys")?;
        Ok(keys.iter().filter_map(|k| k.as_object().cloned()).collect())
    }
}

fn unverified_claims(token: &str) -> Result<Map<String, Value>, String> {
    let part = token.split('.').nth(1).ok_or("not a JWS")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| "bad payload encoding")?;
    serde_json::from_slice(&bytes).map_err(|_| "bad payload JSON".to_owned())
}

fn verifier_for(alg: &str, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, String> {
    use josekit::jws;
    let err = |e: josekit::JoseError| format!("key unusable for {alg}: {e}");
    Ok(match alg {
        "RS256" => Box::new(jws::RS256.verifier_from_jwk(jwk).map_err(err)?),
        "RS384" => Box::new(jws::RS384.verifier_from_jwk(jwk).map_err(err)?),
        "RS512" => Box::new(jws::RS512.verifier_from_jwk(jwk).map_err(err)?),
        "PS256" => Box::new(jws::PS256.verifier_from_jwk(jwk).map_err(err)?),
        "PS384" => Box::new(jws::PS384.verifier_from_jwk(jwk).map_err(err)?),
        "PS512" => Box::new(jws::PS512.verifier_from_jwk(jwk).map_err(err)?),
        "ES256" => Box::new(jws::ES256.verifier_from_jwk(jwk).map_err(err)?),
        "ES384" => Box::new(jws::ES384.verifier_from_jwk(jwk).map_err(err)?),
        "EdDSA" => Box::new(jws::EdDSA.verifier_from_jwk(jwk).map_err(err)?),
        other => return Err(format!("unsupported alg {other}")),
    })
}
