//! Splunk's Atom-JSON envelope and lenient field decoders.
//!
//! Splunk is loose with JSON types: booleans arrive as `true`, `1` or `"1"`, counts as numbers or
//! strings (`currentDBSizeMB` is a string while `totalEventCount` is a number), lists as a string
//! when they have one element. The decoders here accept every form Splunk is known to send so a
//! typed field never fails on a representation change.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The Atom-JSON feed every listing and single-object GET answers with.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Feed {
    #[serde(default)]
    pub(crate) entry: Vec<RawEntry>,
    #[serde(default)]
    pub(crate) paging: Option<Paging>,
}

/// `paging` of a feed.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct Paging {
    /// Entries matching the request in total.
    #[serde(default, deserialize_with = "flex_u64")]
    pub total: u64,
    /// Page size used.
    #[serde(default, rename = "perPage", deserialize_with = "flex_u64")]
    pub per_page: u64,
    /// Offset of the first entry of this page.
    #[serde(default, deserialize_with = "flex_u64")]
    pub offset: u64,
}

/// One `entry[]` before its `content` is decoded into a typed value.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawEntry {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) author: String,
    /// When the object last changed (ISO 8601), as Splunk renders it.
    #[serde(default)]
    pub(crate) updated: String,
    #[serde(default)]
    pub(crate) acl: Option<Acl>,
    #[serde(default)]
    pub(crate) content: Map<String, Value>,
}

impl RawEntry {
    /// Decodes `content` into `T`, naming the entry in the error.
    pub(crate) fn content_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(Value::Object(self.content.clone())).map_err(|e| {
            Error::decode(format!(
                "content of entry {:?} does not match: {e}",
                self.name
            ))
        })
    }
}

/// An entry's access control list (`acl`): who owns it and in which app it lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Acl {
    /// App the object lives in.
    #[serde(default)]
    pub app: String,
    /// Owner (`nobody` for shared objects).
    #[serde(default)]
    pub owner: String,
    /// `user`, `app` or `global`.
    #[serde(default)]
    pub sharing: String,
}

/// Parses a feed out of a body.
pub(crate) fn feed(body: &[u8]) -> Result<Feed> {
    serde_json::from_slice(body).map_err(|e| Error::decode(format!("not a Splunk feed: {e}")))
}

/// Treats `null`, absent and `""` alike, as Splunk does for optional strings.
pub(crate) fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// A boolean sent as `true`, `1`, `"1"`, `"true"`; anything else (including absent) is false.
pub(crate) fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|v| v != 0.0),
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "1" | "true"),
        _ => false,
    })
}

/// A count sent as a number or a numeric string; absent or empty is 0.
pub(crate) fn flex_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|v| v.max(0.0) as u64))
            .unwrap_or(0),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(|v| v.max(0.0) as u64))
            .unwrap_or(0),
        _ => 0,
    })
}

/// A real number sent as a number or a numeric string; absent or empty is 0.
pub(crate) fn flex_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    })
}

/// A string that may arrive as a number or boolean; `null`/absent is empty.
pub(crate) fn flex_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    })
}

/// A list of strings that Splunk may send as a single string, a comma-free array, or omit.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![s],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "flex_bool")]
        b: bool,
        #[serde(default, deserialize_with = "flex_u64")]
        n: u64,
        #[serde(default, deserialize_with = "flex_string")]
        s: String,
        #[serde(default, deserialize_with = "string_list")]
        l: Vec<String>,
    }

    #[test]
    fn lenient_decoders_accept_every_form_splunk_sends() {
        let cases = [
            (r#"{"b":true,"n":3,"s":"x","l":["a","b"]}"#, true, 3, "x", 2),
            (r#"{"b":"1","n":"42","s":12,"l":"a"}"#, true, 42, "12", 1),
            (r#"{"b":0,"n":"","s":null,"l":""}"#, false, 0, "", 0),
            (r#"{"b":"false","n":"1.5"}"#, false, 1, "", 0),
            (r#"{}"#, false, 0, "", 0),
        ];
        for (json, b, n, s, l) in cases {
            let v: Sample = serde_json::from_str(json).unwrap();
            assert_eq!((v.b, v.n, v.s.as_str(), v.l.len()), (b, n, s, l), "{json}");
        }
    }

    #[test]
    fn parses_the_documented_envelope() {
        let body = br#"{"links":{},"origin":"https://host:8089/services/data/indexes","updated":"2026-10-08T13:11:38+00:00",
 "generator":{"build":"86587d4e3b27","version":"10.2.0"},
 "entry":[{"name":"main","id":"https://host:8089/servicesNS/nobody/search/data/indexes/main",
           "updated":"x","links":{"alternate":"/servicesNS/nobody/search/data/indexes/main"},
           "author":"system","acl":{"app":"search","owner":"nobody","sharing":"global","perms":{"read":["*"],"write":["admin"]}},
           "content":{"totalEventCount":5,"eai:acl":null}}],
 "paging":{"total":1,"perPage":30,"offset":0},"messages":[]}"#;
        let feed = feed(body).unwrap();
        assert_eq!(feed.entry[0].name, "main");
        assert_eq!(feed.entry[0].acl.as_ref().unwrap().app, "search");
        assert_eq!(
            feed.paging,
            Some(Paging {
                total: 1,
                per_page: 30,
                offset: 0
            })
        );
    }
}
