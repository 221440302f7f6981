//! What is in Splunk: indexes, metadata (hosts, sources, sourcetypes), saved searches, apps and
//! KV store collections.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;
use crate::endpoint::{Endpoint, Namespace};
use crate::error::{Error, Result};
use crate::search::{SearchMode, SearchParams, Sid, SidAnswer};
use crate::time::TimeRange;
use crate::transport::{ApiRequest, Params};
use crate::wire::{self, Acl, Paging, RawEntry};

/// Paging and filtering of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Entries per page (`count`); 0 returns all (the default here, unlike Splunk's 30).
    pub count: u64,
    /// First entry (`offset`).
    pub offset: u64,
    /// Splunk's `search=` filter (`name=foo*`, or a free text).
    pub search: Option<String>,
}

/// What a run of a saved search overrides ([`Client::dispatch_saved_search`]); unset fields
/// keep the saved search's own settings.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DispatchOptions {
    /// `dispatch.earliest_time` / `dispatch.latest_time`.
    pub time_range: Option<TimeRange>,
    /// `dispatch.adhoc_search_level`: fast, smart or verbose.
    pub mode: Option<SearchMode>,
    /// `dispatch.sample_ratio`: keep one event in this many.
    pub sample_ratio: Option<u64>,
}

impl ListOptions {
    /// Every entry.
    pub fn all() -> Self {
        Self::default()
    }

    /// One page.
    pub fn page(offset: u64, count: u64) -> Self {
        Self {
            count,
            offset,
            search: None,
        }
    }

    /// Every entry matching Splunk's `search=` filter.
    pub fn filtered(search: impl Into<String>) -> Self {
        Self {
            search: Some(search.into()),
            ..Self::default()
        }
    }

    pub(crate) fn query(&self) -> Params {
        let mut query = Params::new();
        query
            .push("count", self.count.to_string())
            .push("offset", self.offset.to_string())
            .push_opt("search", self.search.clone());
        query
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The entries.
    pub items: Vec<T>,
    /// Splunk's `paging` (total matches, page size, offset).
    pub paging: Paging,
}

/// Decodes an entry's content and fills in what lives outside `content` (name, ACL).
pub(crate) trait FromEntry: Sized {
    fn from_entry(entry: &RawEntry) -> Result<Self>;
}

macro_rules! named_entry {
    ($ty:ty) => {
        impl FromEntry for $ty {
            fn from_entry(entry: &RawEntry) -> Result<Self> {
                let mut item: Self = entry.content_as()?;
                item.name = entry.name.clone();
                item.acl = entry.acl.clone().unwrap_or_default();
                Ok(item)
            }
        }
    };
}
pub(crate) use named_entry;

impl Client {
    /// GETs a listing and decodes its entries.
    pub(crate) async fn list<T: FromEntry>(
        &self,
        endpoint: Endpoint,
        options: &ListOptions,
        extra: &[(&str, &str)],
    ) -> Result<Page<T>> {
        let mut query = options.query();
        for (name, value) in extra {
            query.push(name, *value);
        }
        let feed = self
            .feed(&ApiRequest::get(endpoint).with_query(query))
            .await?;
        let items = feed
            .entry
            .iter()
            .map(T::from_entry)
            .collect::<Result<Vec<_>>>()?;
        let paging = feed.paging.unwrap_or(Paging {
            total: items.len() as u64,
            per_page: options.count,
            offset: options.offset,
        });
        Ok(Page { items, paging })
    }

    /// GETs one object and decodes it.
    pub(crate) async fn get_one<T: FromEntry>(&self, endpoint: Endpoint) -> Result<T> {
        T::from_entry(&self.single_entry(&ApiRequest::get(endpoint)).await?)
    }

    /// Indexes the credential may search (`GET /services/data/indexes`).
    pub async fn list_indexes(&self, options: &ListOptions) -> Result<Page<Index>> {
        self.list(Endpoint::services("data/indexes"), options, &[])
            .await
    }

    /// One index by name.
    pub async fn get_index(&self, name: &str) -> Result<Index> {
        self.get_one(Endpoint::services("data/indexes").segment(name)?)
            .await
    }

    /// Hosts, sources or sourcetypes seen in an index, with counts and first/last times
    /// (`| metadata type=... index=...`).
    pub async fn metadata(
        &self,
        kind: MetadataKind,
        index: &str,
        time_range: &TimeRange,
    ) -> Result<Vec<MetadataEntry>> {
        validate_index_name(index)?;
        let query = format!("| metadata type={} index={index}", kind.as_str());
        let params = SearchParams {
            time_range: time_range.clone(),
            count: Some(0),
            ..SearchParams::default()
        };
        let results = self.oneshot(&query, &params).await?;
        results
            .results
            .into_iter()
            .map(|row| {
                let value = row
                    .get(kind.field())
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .unwrap_or_default();
                let mut entry: MetadataEntry = serde_json::from_value(Value::Object(row))
                    .map_err(|e| Error::decode(format!("metadata row does not match: {e}")))?;
                entry.value = value;
                Ok(entry)
            })
            .collect()
    }

    /// Saved searches in a namespace ([`Namespace::wildcard`] for all the caller may see).
    pub async fn list_saved_searches(
        &self,
        namespace: &Namespace,
        options: &ListOptions,
    ) -> Result<Page<SavedSearch>> {
        self.list(
            Endpoint::namespaced(namespace, "saved/searches")?,
            options,
            &[],
        )
        .await
    }

    /// One saved search by name.
    pub async fn get_saved_search(&self, namespace: &Namespace, name: &str) -> Result<SavedSearch> {
        self.get_one(Endpoint::namespaced(namespace, "saved/searches")?.segment(name)?)
            .await
    }

    /// Runs a saved search now; returns the job id. What `options` sets overrides the saved
    /// search's own `dispatch.*` settings for this run.
    pub async fn dispatch_saved_search(
        &self,
        namespace: &Namespace,
        name: &str,
        options: &DispatchOptions,
    ) -> Result<Sid> {
        let endpoint = Endpoint::namespaced(namespace, "saved/searches")?
            .segment(name)?
            .fixed("dispatch");
        let mut form = Params::new();
        if let Some(range) = &options.time_range {
            form.push_opt(
                "dispatch.earliest_time",
                range.earliest.as_ref().map(|t| t.to_param()),
            )
            .push_opt(
                "dispatch.latest_time",
                range.latest.as_ref().map(|t| t.to_param()),
            );
        }
        form.push_opt(
            "dispatch.adhoc_search_level",
            options.mode.map(|m| m.as_str().to_owned()),
        )
        .push_opt(
            "dispatch.sample_ratio",
            options.sample_ratio.map(|n| n.to_string()),
        );
        let answer: SidAnswer = self.json(&ApiRequest::post(endpoint, form)).await?;
        answer.into_sid()
    }

    /// Past runs of a saved search (job ids with their state).
    pub async fn saved_search_history(
        &self,
        namespace: &Namespace,
        name: &str,
    ) -> Result<Vec<SavedSearchRun>> {
        let endpoint = Endpoint::namespaced(namespace, "saved/searches")?
            .segment(name)?
            .fixed("history");
        let page: Page<SavedSearchRun> = self.list(endpoint, &ListOptions::all(), &[]).await?;
        Ok(page.items)
    }

    /// Installed apps (`GET /services/apps/local`).
    pub async fn list_apps(&self, options: &ListOptions) -> Result<Page<App>> {
        self.list(Endpoint::services("apps/local"), options, &[])
            .await
    }

    /// KV store collections of an app (`nobody/{app}` namespace).
    pub async fn list_kv_collections(&self, app: &str) -> Result<Vec<KvCollection>> {
        let endpoint = Endpoint::namespaced(&Namespace::shared(app), "storage/collections/config")?;
        let page: Page<KvCollection> = self.list(endpoint, &ListOptions::all(), &[]).await?;
        Ok(page.items)
    }

    /// One KV store collection's definition.
    pub async fn get_kv_collection(&self, app: &str, name: &str) -> Result<KvCollection> {
        self.get_one(
            Endpoint::namespaced(&Namespace::shared(app), "storage/collections/config")?
                .segment(name)?,
        )
        .await
    }

    /// Documents of a KV store collection matching `query`.
    pub async fn kv_query(
        &self,
        app: &str,
        collection: &str,
        query: &KvQuery,
    ) -> Result<Vec<Value>> {
        let endpoint = Endpoint::namespaced(&Namespace::shared(app), "storage/collections/data")?
            .segment(collection)?;
        let request = ApiRequest::get(endpoint).with_query(query.params()?);
        let documents: Value = self.json(&request).await?;
        match documents {
            Value::Array(documents) => Ok(documents),
            _ => Err(Error::decode(
                "a KV store query answered with something other than an array",
            )),
        }
    }
}

/// Index names are written into SPL by [`Client::metadata`], so only Splunk's index-name
/// characters (and `*` wildcards) are accepted: nothing can end the argument or start a pipe.
fn validate_index_name(index: &str) -> Result<()> {
    let valid = !index.is_empty()
        && index.len() <= 2048
        && index
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'*'))
        && !index.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "index",
            format!("{index:?} is not a valid index name (letters, digits, _ and - only)"),
        ))
    }
}

/// An index (`data/indexes` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Index {
    /// Index name.
    #[serde(skip)]
    pub name: String,
    /// Owner and app.
    #[serde(skip)]
    pub acl: Acl,
    /// `totalEventCount`.
    #[serde(
        default,
        rename = "totalEventCount",
        deserialize_with = "wire::flex_u64"
    )]
    pub total_event_count: u64,
    /// `currentDBSizeMB` (a string in Splunk's answer).
    #[serde(
        default,
        rename = "currentDBSizeMB",
        deserialize_with = "wire::flex_f64"
    )]
    pub current_db_size_mb: f64,
    /// `maxTotalDataSizeMB`.
    #[serde(
        default,
        rename = "maxTotalDataSizeMB",
        deserialize_with = "wire::flex_u64"
    )]
    pub max_total_data_size_mb: u64,
    /// `minTime` (empty when the index is empty).
    #[serde(default, rename = "minTime", deserialize_with = "wire::empty_as_none")]
    pub min_time: Option<String>,
    /// `maxTime` (empty when the index is empty).
    #[serde(default, rename = "maxTime", deserialize_with = "wire::empty_as_none")]
    pub max_time: Option<String>,
    /// `disabled`.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub disabled: bool,
    /// `datatype`: `event` or `metric`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub datatype: String,
    /// `isInternal`.
    #[serde(default, rename = "isInternal", deserialize_with = "wire::flex_bool")]
    pub is_internal: bool,
    /// `homePath`.
    #[serde(default, rename = "homePath", deserialize_with = "wire::flex_string")]
    pub home_path: String,
    /// `frozenTimePeriodInSecs`.
    #[serde(
        default,
        rename = "frozenTimePeriodInSecs",
        deserialize_with = "wire::flex_u64"
    )]
    pub frozen_time_period_in_secs: u64,
}
named_entry!(Index);

/// Which `| metadata type=...` to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataKind {
    /// `type=hosts`.
    Hosts,
    /// `type=sources`.
    Sources,
    /// `type=sourcetypes`.
    Sourcetypes,
}

impl MetadataKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Hosts => "hosts",
            Self::Sources => "sources",
            Self::Sourcetypes => "sourcetypes",
        }
    }

    /// The row field naming the value (`host`, `source`, `sourcetype`).
    fn field(self) -> &'static str {
        match self {
            Self::Hosts => "host",
            Self::Sources => "source",
            Self::Sourcetypes => "sourcetype",
        }
    }
}

/// One row of `| metadata`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MetadataEntry {
    /// The host, source or sourcetype.
    #[serde(skip)]
    pub value: String,
    /// `totalCount`.
    #[serde(default, rename = "totalCount", deserialize_with = "wire::flex_u64")]
    pub total_count: u64,
    /// `firstTime` (epoch seconds).
    #[serde(default, rename = "firstTime", deserialize_with = "wire::flex_u64")]
    pub first_time: u64,
    /// `lastTime` (epoch seconds).
    #[serde(default, rename = "lastTime", deserialize_with = "wire::flex_u64")]
    pub last_time: u64,
    /// `recentTime` (epoch seconds, when last indexed).
    #[serde(default, rename = "recentTime", deserialize_with = "wire::flex_u64")]
    pub recent_time: u64,
}

/// A saved search (`saved/searches` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SavedSearch {
    /// Name.
    #[serde(skip)]
    pub name: String,
    /// Owner and app (the namespace to use for dispatch).
    #[serde(skip)]
    pub acl: Acl,
    /// The SPL.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub search: String,
    /// Description.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub description: String,
    /// `cron_schedule`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub cron_schedule: String,
    /// `is_scheduled`.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub is_scheduled: bool,
    /// `disabled`.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub disabled: bool,
    /// `dispatch.earliest_time`.
    #[serde(
        default,
        rename = "dispatch.earliest_time",
        deserialize_with = "wire::flex_string"
    )]
    pub dispatch_earliest_time: String,
    /// `dispatch.latest_time`.
    #[serde(
        default,
        rename = "dispatch.latest_time",
        deserialize_with = "wire::flex_string"
    )]
    pub dispatch_latest_time: String,
    /// `alert_type`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub alert_type: String,
    /// `actions`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub actions: String,
}
named_entry!(SavedSearch);

/// One past run of a saved search (`saved/searches/{name}/history` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SavedSearchRun {
    /// The job id (the entry's name).
    #[serde(skip)]
    pub name: String,
    /// Owner and app.
    #[serde(skip)]
    pub acl: Acl,
    /// `dispatchState`, when Splunk includes it.
    #[serde(
        default,
        rename = "dispatchState",
        deserialize_with = "wire::flex_string"
    )]
    pub dispatch_state: String,
    /// `isDone`.
    #[serde(default, rename = "isDone", deserialize_with = "wire::flex_bool")]
    pub is_done: bool,
    /// `isFailed`.
    #[serde(default, rename = "isFailed", deserialize_with = "wire::flex_bool")]
    pub is_failed: bool,
}
named_entry!(SavedSearchRun);

impl SavedSearchRun {
    /// The run's job id.
    pub fn sid(&self) -> Sid {
        Sid::new(self.name.clone())
    }
}

/// An installed app (`apps/local` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct App {
    /// App id.
    #[serde(skip)]
    pub name: String,
    /// ACL.
    #[serde(skip)]
    pub acl: Acl,
    /// Display name.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub label: String,
    /// Version.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub version: String,
    /// Shown in the app menu.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub visible: bool,
    /// Disabled.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub disabled: bool,
    /// Description.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub description: String,
}
named_entry!(App);

/// A KV store collection definition (`storage/collections/config` entry).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KvCollection {
    /// Collection name.
    pub name: String,
    /// Owner and app.
    pub acl: Acl,
    /// Declared field types (`field.<name>` → type).
    pub fields: BTreeMap<String, String>,
    /// Accelerated fields (`accelerated_fields.<name>` → JSON spec).
    pub accelerated_fields: BTreeMap<String, String>,
    /// `enforceTypes`.
    pub enforce_types: bool,
    /// `replicate`.
    pub replicate: bool,
}

impl FromEntry for KvCollection {
    fn from_entry(entry: &RawEntry) -> Result<Self> {
        let text = |v: &Value| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        };
        let flag = |name: &str| {
            entry.content.get(name).is_some_and(|v| match v {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => matches!(s.as_str(), "1" | "true"),
                _ => false,
            })
        };
        let prefixed = |prefix: &str| -> BTreeMap<String, String> {
            entry
                .content
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(prefix)
                        .map(|name| (name.to_owned(), text(v)))
                })
                .collect()
        };
        Ok(Self {
            name: entry.name.clone(),
            acl: entry.acl.clone().unwrap_or_default(),
            fields: prefixed("field."),
            accelerated_fields: prefixed("accelerated_fields."),
            enforce_types: flag("enforceTypes"),
            replicate: flag("replicate"),
        })
    }
}

/// A KV store query: MongoDB-style JSON `query`, projected `fields`, `sort`, `limit`, `skip`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KvQuery {
    /// A JSON object such as `{"status":"open","age":{"$gt":3}}`; `None` matches everything.
    pub query: Option<Value>,
    /// Fields to return (`fields=a,b`); empty returns all.
    pub fields: Vec<String>,
    /// Sort keys in order.
    pub sort: Vec<KvSort>,
    /// Most documents to return.
    pub limit: Option<u64>,
    /// Documents to skip first.
    pub skip: Option<u64>,
}

/// One sort key of a [`KvQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvSort {
    /// Field name.
    pub field: String,
    /// Descending instead of ascending.
    pub descending: bool,
}

impl KvSort {
    /// Ascending on `field`.
    pub fn asc(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            descending: false,
        }
    }

    /// Descending on `field`.
    pub fn desc(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            descending: true,
        }
    }
}

impl KvQuery {
    /// A query matching `query` (a JSON object).
    pub fn matching(query: Value) -> Self {
        Self {
            query: Some(query),
            ..Self::default()
        }
    }

    fn params(&self) -> Result<Params> {
        let mut params = Params::new();
        if let Some(query) = &self.query {
            if !query.is_object() {
                return Err(Error::invalid("KV store query", "must be a JSON object"));
            }
            params.push("query", query.to_string());
        }
        let bad_name = |name: &String| name.is_empty() || name.contains([',', ':']);
        if self.fields.iter().any(bad_name) || self.sort.iter().any(|s| bad_name(&s.field)) {
            return Err(Error::invalid(
                "KV store field",
                "field names must be non-empty and free of ',' and ':'",
            ));
        }
        if !self.fields.is_empty() {
            params.push("fields", self.fields.join(","));
        }
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|s| format!("{}:{}", s.field, if s.descending { -1 } else { 1 }))
                .collect();
            params.push("sort", keys.join(","));
        }
        params
            .push_opt("limit", self.limit.map(|n| n.to_string()))
            .push_opt("skip", self.skip.map(|n| n.to_string()));
        Ok(params)
    }
}

/// Decodes a typed value from one result row (all values are strings in Splunk's results).
pub fn row_as<T: DeserializeOwned>(row: &crate::Row) -> Result<T> {
    serde_json::from_value(Value::Object(row.clone()))
        .map_err(|e| Error::decode(format!("row does not match: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_query_parameters() {
        let query = KvQuery {
            query: Some(serde_json::json!({"n":{"$gt":3}})),
            fields: vec!["a".into(), "b".into()],
            sort: vec![KvSort::asc("a"), KvSort::desc("b")],
            limit: Some(10),
            skip: Some(5),
        };
        assert_eq!(
            query.params().unwrap().encode(),
            "query=%7B%22n%22%3A%7B%22%24gt%22%3A3%7D%7D\
             &fields=a%2Cb&sort=a%3A1%2Cb%3A-1&limit=10&skip=5"
        );
        assert!(KvQuery::matching(serde_json::json!([1])).params().is_err());
        let bad = KvQuery {
            fields: vec!["a,b".into()],
            ..KvQuery::default()
        };
        assert!(bad.params().is_err());
    }

    #[test]
    fn index_names_cannot_inject_spl() {
        for good in ["main", "_internal", "web-2", "fw_*", "*"] {
            validate_index_name(good).unwrap();
        }
        for bad in ["", "web | delete", "web\"", "a b", "x]", "-x", "idx=1", "é"] {
            assert!(validate_index_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_options_query() {
        assert_eq!(
            ListOptions::filtered("name=w*").query().encode(),
            "count=0&offset=0&search=name%3Dw*"
        );
    }

    #[test]
    fn kv_collection_from_entry() {
        let entry: RawEntry = serde_json::from_value(serde_json::json!({
            "name": "assets",
            "acl": {"app": "search", "owner": "nobody", "sharing": "app"},
            "content": {"field.ip": "string", "field.n": "number",
                        "accelerated_fields.by_ip": "{\"ip\": 1}", "enforceTypes": "1", "replicate": false}
        }))
        .unwrap();
        let collection = KvCollection::from_entry(&entry).unwrap();
        assert_eq!(collection.fields["ip"], "string");
        assert_eq!(collection.accelerated_fields["by_ip"], "{\"ip\": 1}");
        assert!(collection.enforce_types && !collection.replicate);
        assert_eq!(collection.acl.app, "search");
    }
}
