//! `Claims`: the typed view of a token's claims (JWT payload or introspection response).
//!
//! Extraction is strict about types because a claim of the wrong type is a sign of a confused
//! or hostile issuer: `scope` as a number is refused, not ignored.

use serde_json::{Map, Value};

use crate::error::{AuthError, clip};
use crate::scope::ScopeSet;

/// Where to find group memberships and other per-IdP conventions.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClaimsConfig {
    /// Path of the groups claim: a top-level name (`groups`) or a dotted path into nested
    /// objects (`realm_access.roles` for Keycloak). Absent groups mean "no groups".
    pub groups_claim: String,
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        Self {
            groups_claim: "groups".to_owned(),
        }
    }
}

impl ClaimsConfig {
    /// A configuration reading groups from `path`.
    pub fn with_groups_claim(path: impl Into<String>) -> Self {
        Self {
            groups_claim: path.into(),
        }
    }
}

/// The claims of a verified token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Claims {
    /// `iss`.
    pub issuer: Option<String>,
    /// `sub`.
    pub subject: Option<String>,
    /// `aud`, a string or an array in the token, always a list here.
    pub audience: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub expires_at: Option<i64>,
    /// `nbf`, seconds since the epoch.
    pub not_before: Option<i64>,
    /// `iat`, seconds since the epoch.
    pub issued_at: Option<i64>,
    /// `jti`.
    pub jwt_id: Option<String>,
    /// Union of `scope` (space-delimited string) and `scp` (array, or string as Entra ID sends it).
    pub scopes: ScopeSet,
    /// `client_id` (RFC 9068).
    pub client_id: Option<String>,
    /// `azp` (OIDC authorised party; Entra ID and Keycloak put the client here).
    pub authorized_party: Option<String>,
    /// `preferred_username`, or `username` from an introspection response.
    pub preferred_username: Option<String>,
    /// Groups from the configured claim path.
    pub groups: Vec<String>,
    /// Every other claim, unchanged.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// A claim set with only a subject; for tests and the static verifier.
    pub fn for_subject(subject: impl Into<String>) -> Self {
        Self {
            issuer: None,
            subject: Some(subject.into()),
            audience: Vec::new(),
            expires_at: None,
            not_before: None,
            issued_at: None,
            jwt_id: None,
            scopes: ScopeSet::new(),
            client_id: None,
            authorized_party: None,
            preferred_username: None,
            groups: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Extracts typed claims from a JSON object, consuming it; unknown claims land in `extra`.
    pub fn from_json(
        mut map: Map<String, Value>,
        config: &ClaimsConfig,
    ) -> Result<Self, AuthError> {
        let groups = extract_groups(&map, &config.groups_claim)?;
        let issuer = take_string(&mut map, "iss")?;
        let subject = take_string(&mut map, "sub")?;
        let audience = take_audience(&mut map)?;
        let expires_at = take_time(&mut map, "exp")?;
        let not_before = take_time(&mut map, "nbf")?;
        let issued_at = take_time(&mut map, "iat")?;
        let jwt_id = take_string(&mut map, "jti")?;
        let mut scopes = take_scopes(&mut map, "scope")?;
        scopes = scopes.union(&take_scopes(&mut map, "scp")?);
        let client_id = take_string(&mut map, "client_id")?;
        let authorized_party = take_string(&mut map, "azp")?;
        let mut preferred_username = take_string(&mut map, "preferred_username")?;
        if preferred_username.is_none() {
            // RFC 7662 names it `username`; keep it in `extra` too since JWTs rarely use it.
            if let Some(Value::String(u)) = map.get("username") {
                preferred_username = Some(u.clone());
            }
        }
        Ok(Self {
            issuer,
            subject,
            audience,
            expires_at,
            not_before,
            issued_at,
            jwt_id,
            scopes,
            client_id,
            authorized_party,
            preferred_username,
            groups,
            extra: map,
        })
    }

    /// The OAuth client the token was issued to: `client_id`, else `azp`.
    pub fn client(&self) -> Option<&str> {
        self.client_id
            .as_deref()
            .or(self.authorized_party.as_deref())
    }
}

fn invalid(claim: &str, detail: impl Into<String>) -> AuthError {
    AuthError::InvalidClaim {
        claim: claim.to_owned(),
        detail: detail.into(),
    }
}

fn take_string(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, AuthError> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            name,
            format!("expected a string, got {}", type_name(&other)),
        )),
    }
}

fn take_time(map: &mut Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            // NumericDate may carry fractions (RFC 7519 §2); whole seconds are precise enough.
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15) {
                Ok(Some(f.floor() as i64))
            } else {
                Err(invalid(name, "number out of range"))
            }
        }
        Some(other) => Err(invalid(
            name,
            format!("expected a number, got {}", type_name(&other)),
        )),
    }
}

fn take_audience(map: &mut Map<String, Value>) -> Result<Vec<String>, AuthError> {
    match map.remove("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(invalid(
                    "aud",
                    format!("array holds a {}", type_name(&other)),
                )),
            })
            .collect(),
        Some(other) => Err(invalid(
            "aud",
            format!("expected a string or array, got {}", type_name(&other)),
        )),
    }
}

fn take_scopes(map: &mut Map<String, Value>, name: &str) -> Result<ScopeSet, AuthError> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(ScopeSet::new()),
        Some(Value::String(s)) => ScopeSet::parse(&s).map_err(|e| invalid(name, e)),
        Some(Value::Array(items)) => {
            let mut set = ScopeSet::new();
            for v in items {
                match v {
                    Value::String(s) => set.insert(s).map_err(|e| invalid(name, e))?,
                    other => {
                        return Err(invalid(
                            name,
                            format!("array holds a {}", type_name(&other)),
                        ));
                    }
                }
            }
            Ok(set)
        }
        Some(other) => Err(invalid(
            name,
            format!("expected a string or array, got {}", type_name(&other)),
        )),
    }
}

fn extract_groups(map: &Map<String, Value>, path: &str) -> Result<Vec<String>, AuthError> {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return Ok(Vec::new());
    };
    let mut current = match map.get(first) {
        Some(v) => v,
        None => return Ok(Vec::new()),
    };
    for seg in segments {
        current = match current.get(seg) {
            Some(v) => v,
            None => return Ok(Vec::new()),
        };
    }
    match current {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(invalid(path, format!("array holds a {}", type_name(other)))),
            })
            .collect(),
        other => Err(invalid(
            path,
            format!(
                "expected a string or array, got {} ({})",
                type_name(other),
                clip(path)
            ),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Claims, AuthError> {
        let Value::Object(m) = v else {
            unreachable!("test input is an object")
        };
        Claims::from_json(m, &ClaimsConfig::with_groups_claim("realm_access.roles"))
    }

    #[test]
    fn scope_and_scp_merge_and_groups_follow_path() {
        let c = parse(json!({
            "sub": "alice", "aud": "x", "scope": "a b", "scp": ["c"],
            "realm_access": {"roles": ["admins"]}, "custom": 1
        }))
        .unwrap();
        assert_eq!(c.scopes.to_string(), "a b c");
        assert_eq!(c.audience, vec!["x"]);
        assert_eq!(c.groups, vec!["admins"]);
        assert_eq!(c.extra.get("custom"), Some(&json!(1)));
    }

    #[test]
    fn wrong_types_are_refused() {
        for bad in [
            json!({"scope": 5}),
            json!({"exp": "soon"}),
            json!({"aud": [1]}),
            json!({"sub": true}),
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidClaim);
        }
    }

    #[test]
    fn fractional_times_floor() {
        let c = parse(json!({"exp": 10.9})).unwrap();
        assert_eq!(c.expires_at, Some(10));
    }
}
