//! Splunk authentication tokens: JWTs signed HS512 with kid `splunk.secret`, as splunkd mints them,
//! with the claims `iss`, `sub`, `aud`, `idp`, `iat`, `exp`, `nbr` and the token id in `jti`.

use std::collections::BTreeMap;

use chrono::Utc;
use josekit::jws::{HS512, JwsHeader};
use josekit::jwt::{self, JwtPayload};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// The key id splunkd puts in the header of its tokens.
pub(crate) const KEY_ID: &str = "splunk.secret";

/// One minted token, as `GET /services/authorization/tokens` shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenRecord {
    /// 64 hex characters; the `jti` claim and the entry name.
    pub(crate) id: String,
    /// The user the token authenticates as (`sub`).
    pub(crate) user: String,
    /// `aud`.
    pub(crate) audience: String,
    /// `iss`.
    pub(crate) issuer: String,
    /// `iat`, epoch seconds.
    pub(crate) issued_at: i64,
    /// `exp`, epoch seconds; 0 = never.
    pub(crate) expires_at: i64,
    /// `nbr` (not before), epoch seconds; 0 = at once.
    pub(crate) not_before: i64,
    /// `enabled` or `disabled`.
    pub(crate) status: String,
    /// Last successful use, epoch seconds; 0 = never.
    pub(crate) last_used: i64,
}

impl TokenRecord {
    /// The `claims` object of a listing.
    pub(crate) fn claims(&self, roles: &[String]) -> Value {
        json!({
            "aud": self.audience,
            "exp": self.expires_at,
            "iat": self.issued_at,
            "idp": "Splunk",
            "iss": self.issuer,
            "nbr": self.not_before,
            "roles": roles,
            "sub": self.user,
        })
    }

    /// The `headers` object of a listing.
    pub(crate) fn headers() -> Value {
        json!({"alg": "HS512", "kid": KEY_ID, "ttyp": "static", "ver": "v2"})
    }
}

/// The tokens minted by this instance and the secret that signs them.
pub(crate) struct TokenStore {
    secret: [u8; 64],
    issuer: String,
    records: Mutex<BTreeMap<String, TokenRecord>>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Whether a bearer credential is a token minted by splunkd (kid `splunk.secret`) rather than an IdP JWT.
pub(crate) fn is_splunk_token(token: &str) -> bool {
    jwt::decode_header(token)
        .ok()
        .and_then(|h| h.claim("kid").and_then(Value::as_str).map(|k| k == KEY_ID))
        .unwrap_or(false)
}

impl TokenStore {
    /// A store with a fresh random secret; `server_name` goes into `iss` (`admin from <server>`).
    pub(crate) fn new(server_name: &str) -> Self {
        Self {
            secret: rand::random(),
            issuer: server_name.to_owned(),
            records: Mutex::default(),
        }
    }

    /// Mints a token for `user`; returns its record and the JWT.
    pub(crate) fn mint(
        &self,
        minted_by: &str,
        user: &str,
        audience: &str,
        expires_at: i64,
        not_before: i64,
        enabled: bool,
    ) -> Result<(TokenRecord, String), String> {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let record = TokenRecord {
            id: id.clone(),
            user: user.to_owned(),
            audience: audience.to_owned(),
            issuer: format!("{minted_by} from {}", self.issuer),
            issued_at: Utc::now().timestamp(),
            expires_at,
            not_before,
            status: if enabled { "enabled" } else { "disabled" }.to_owned(),
            last_used: 0,
        };
        let mut header = JwsHeader::new();
        header.set_key_id(KEY_ID);
        header
            .set_claim("ttyp", Some(json!("static")))
            .map_err(|e| e.to_string())?;
        header
            .set_claim("ver", Some(json!("v2")))
            .map_err(|e| e.to_string())?;
        let mut payload = JwtPayload::new();
        for (name, value) in [
            ("iss", json!(record.issuer)),
            ("sub", json!(user)),
            ("aud", json!(audience)),
            ("idp", json!("Splunk")),
            ("jti", json!(id)),
            ("iat", json!(record.issued_at)),
            ("exp", json!(expires_at)),
            ("nbr", json!(not_before)),
        ] {
            payload
                .set_claim(name, Some(value))
                .map_err(|e| e.to_string())?;
        }
        let signer = HS512
            .signer_from_bytes(self.secret)
            .map_err(|e| e.to_string())?;
        let token =
            jwt::encode_with_signer(&payload, &header, &signer).map_err(|e| e.to_string())?;
        self.records.lock().insert(id, record.clone());
        Ok((record, token))
    }

    /// The user a token authenticates as, or why it is refused.
    pub(crate) fn validate(&self, token: &str) -> Result<String, String> {
        let verifier = HS512
            .verifier_from_bytes(self.secret)
            .map_err(|e| e.to_string())?;
        let (payload, _) =
            jwt::decode_with_verifier(token, &verifier).map_err(|_| "bad signature".to_owned())?;
        let id = payload.jwt_id().ok_or("no jti")?.to_owned();
        let now = Utc::now().timestamp();
        let mut records = self.records.lock();
        let record = records.get_mut(&id).ok_or("token deleted or unknown")?;
        if record.status != "enabled" {
            return Err("token disabled".into());
        }
        if record.expires_at != 0 && now >= record.expires_at {
            return Err("token expired".into());
        }
        if record.not_before != 0 && now < record.not_before {
            return Err("token not yet valid".into());
        }
        record.last_used = now;
        Ok(record.user.clone())
    }

    /// Every token, ordered by id.
    pub(crate) fn list(&self) -> Vec<TokenRecord> {
        self.records.lock().values().cloned().collect()
    }

    /// One token.
    pub(crate) fn get(&self, id: &str) -> Option<TokenRecord> {
        self.records.lock().get(id).cloned()
    }

    /// Removes a token.
    pub(crate) fn delete(&self, id: &str) -> Option<TokenRecord> {
        self.records.lock().remove(id)
    }

    /// Enables or disables a token.
    pub(crate) fn set_status(&self, id: &str, enabled: bool) -> Option<TokenRecord> {
        let mut records = self.records.lock();
        let record = records.get_mut(id)?;
        record.status = if enabled { "enabled" } else { "disabled" }.to_owned();
        Some(record.clone())
    }
}
