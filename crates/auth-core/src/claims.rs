//! `Claims`: the typed view of a token's claims (JWT payload or introspection response).
//!
//! Extraction is strict about types because a claim of the wrong type is a sign of a confused
//! or hostile issuer: `scope` as a number is refused, not ignored.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
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
    /// Whether the token had the configured groups claim at all (absent and empty differ for
    /// the operator: an IdP that sends no groups claim needs configuring).
    pub groups_claim_present: bool,
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
            groups_claim_present: false,
            extra: Map::new(),
        }
    }

    /// Extracts typed claims from a JSON object, consuming it; unknown claims land in `extra`.
    pub fn from_json(map: Map<String, Value>, config: &ClaimsConfig) -> Result<Self, AuthError> {
        ClaimValues::from_map(map).into_claims(config)
    }

    /// The claim `name` as the token carried it (`sub`, `preferred_username`, `email`, ...);
    /// `scope` gives the scopes as one string.
    pub fn claim(&self, name: &str) -> Option<Value> {
        let text = |value: &Option<String>| value.clone().map(Value::from);
        match name {
            "iss" => text(&self.issuer),
            "sub" => text(&self.subject),
            "jti" => text(&self.jwt_id),
            "client_id" => text(&self.client_id),
            "azp" => text(&self.authorized_party),
            "preferred_username" => text(&self.preferred_username),
            "scope" => Some(Value::from(self.scopes.to_string())),
            "exp" => self.expires_at.map(Value::from),
            "nbf" => self.not_before.map(Value::from),
            "iat" => self.issued_at.map(Value::from),
            "aud" => Some(Value::from(self.audience.clone())),
            other => self.extra.get(other).cloned(),
        }
    }

    /// The OAuth client the token was issued to: `client_id`, else `azp`.
    pub fn client(&self) -> Option<&str> {
        self.client_id
            .as_deref()
            .or(self.authorized_party.as_deref())
    }
}

/// The registered claims [`Claims`] types, in the order of [`ClaimValues::registered`].
const REGISTERED: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "scp",
    "client_id",
    "azp",
    "preferred_username",
];

/// The claims this crate types, picked out of a JSON object but not yet type-checked, and every
/// other claim as it came. A JWT payload is read straight into this (no intermediate map), and
/// type errors surface only in [`ClaimValues::into_claims`], after the signature is checked.
#[derive(Debug, Default)]
pub(crate) struct ClaimValues {
    /// The claims named in [`REGISTERED`], same order.
    registered: [Option<Value>; REGISTERED.len()],
    extra: Map<String, Value>,
}

impl ClaimValues {
    /// The claim `name`, wherever it is kept.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        match REGISTERED.iter().position(|r| *r == name) {
            Some(i) => self.registered[i].as_ref(),
            None => self.extra.get(name),
        }
    }

    /// Adds a claim, or gives back its name if it is already there: RFC 7519 §4 lets a parser
    /// refuse duplicate names, and a payload that says two things about one claim is refused.
    fn insert(&mut self, name: Cow<'_, str>, value: Value) -> Result<(), String> {
        match REGISTERED.iter().position(|r| *r == name) {
            Some(i) if self.registered[i].is_some() => Err(name.into_owned()),
            Some(i) => {
                self.registered[i] = Some(value);
                Ok(())
            }
            None => match self.extra.entry(name.into_owned()) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(value);
                    Ok(())
                }
                serde_json::map::Entry::Occupied(e) => Err(e.key().clone()),
            },
        }
    }

    fn from_map(map: Map<String, Value>) -> Self {
        let mut values = Self::default();
        for (name, value) in map {
            // A map's names are unique.
            let _ = values.insert(Cow::Owned(name), value);
        }
        values
    }

    /// Type-checks the claims.
    pub(crate) fn into_claims(self, config: &ClaimsConfig) -> Result<Claims, AuthError> {
        let groups = extract_groups(&self, &config.groups_claim)?;
        let groups_claim_present = groups.is_some();
        let groups = groups.unwrap_or_default();
        let [
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti,
            scope,
            scp,
            client_id,
            azp,
            username,
        ] = self.registered;
        let mut preferred_username = string(username, "preferred_username")?;
        if preferred_username.is_none() {
            // RFC 7662 names it `username`; keep it in `extra` too since JWTs rarely use it.
            if let Some(Value::String(u)) = self.extra.get("username") {
                preferred_username = Some(u.clone());
            }
        }
        Ok(Claims {
            issuer: string(iss, "iss")?,
            subject: string(sub, "sub")?,
            audience: audience(aud)?,
            expires_at: time(exp, "exp")?,
            not_before: time(nbf, "nbf")?,
            issued_at: time(iat, "iat")?,
            jwt_id: string(jti, "jti")?,
            scopes: scopes(scope, "scope")?.union(&scopes(scp, "scp")?),
            client_id: string(client_id, "client_id")?,
            authorized_party: string(azp, "azp")?,
            preferred_username,
            groups,
            groups_claim_present,
            extra: self.extra,
        })
    }
}

impl<'de> Deserialize<'de> for ClaimValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = ClaimValues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClaimValues, A::Error> {
                let mut values = ClaimValues::default();
                while let Some(Name(name)) = map.next_key()? {
                    let value = map.next_value()?;
                    if let Err(name) = values.insert(name, value) {
                        return Err(de::Error::custom(format_args!(
                            "the claim {:?} appears twice",
                            clip(&name)
                        )));
                    }
                }
                Ok(values)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// An object member name, borrowed from the input when it has no escapes.
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

fn invalid(claim: &str, detail: impl Into<String>) -> AuthError {
    AuthError::InvalidClaim {
        claim: claim.to_owned(),
        detail: detail.into(),
    }
}

fn string(value: Option<Value>, name: &str) -> Result<Option<String>, AuthError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            name,
            format!("expected a string, got {}", type_name(&other)),
        )),
    }
}

fn time(value: Option<Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match value {
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

fn audience(value: Option<Value>) -> Result<Vec<String>, AuthError> {
    match value {
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

fn scopes(value: Option<Value>, name: &str) -> Result<ScopeSet, AuthError> {
    match value {
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

/// The groups at `path`, `None` when the token has no such claim.
fn extract_groups(values: &ClaimValues, path: &str) -> Result<Option<Vec<String>>, AuthError> {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return Ok(None);
    };
    let mut current = match values.get(first) {
        Some(v) => v,
        None => return Ok(None),
    };
    for seg in segments {
        current = match current.get(seg) {
            Some(v) => v,
            None => return Ok(None),
        };
    }
    match current {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s.clone()])),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(invalid(path, format!("array holds a {}", type_name(other)))),
            })
            .collect::<Result<_, _>>()
            .map(Some),
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
