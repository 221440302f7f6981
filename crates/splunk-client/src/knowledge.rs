//! Knowledge objects: fired alerts, views (dashboards) and the searches they run, lookup table
//! files and definitions, and data models with their datasets and fields.
//!
//! Dashboards store their searches in their source: Simple XML in `<query>` elements (with
//! `<earliest>`/`<latest>` beside them), Dashboard Studio in the JSON of its `<definition>`
//! (`dataSources` of type `ds.search`, `ds.chain` and `ds.savedSearch`). [`View::searches`]
//! reads both without an XML library: the subset of XML dashboards use (elements, attributes,
//! entities, CDATA, comments) is scanned here. Data models keep their definition as JSON in a
//! string (`eai:data`, and `description` unless listed with `concise=true`);
//! [`DataModel`] decodes it and gives each dataset its inherited fields too.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::catalog::{FromEntry, ListOptions, Page, named_entry};
use crate::client::Client;
use crate::endpoint::{Endpoint, Namespace};
use crate::error::Result;
use crate::search::Sid;
use crate::transport::{ApiRequest, Params};
use crate::wire::{self, Acl, RawEntry};

impl Client {
    /// The saved searches that fired alerts, each with its count (`alerts/fired_alerts`). The
    /// group named `-` counts every fired alert.
    pub async fn list_fired_alert_groups(
        &self,
        namespace: &Namespace,
        options: &ListOptions,
    ) -> Result<Page<FiredAlertGroup>> {
        self.list(
            Endpoint::namespaced(namespace, "alerts/fired_alerts")?,
            options,
            &[],
        )
        .await
    }

    /// The alerts a saved search fired, newest first (`alerts/fired_alerts/{name}`); `-` lists
    /// those of every saved search. Ask in the saved search's own namespace
    /// ([`FiredAlertGroup::namespace`]), as splunklib does: Splunk finds a private or app-only
    /// saved search there.
    pub async fn list_fired_alerts(
        &self,
        namespace: &Namespace,
        saved_search: &str,
        options: &ListOptions,
    ) -> Result<Page<FiredAlert>> {
        let endpoint =
            Endpoint::namespaced(namespace, "alerts/fired_alerts")?.segment(saved_search)?;
        self.list(endpoint, options, &[]).await
    }

    /// Views (dashboards and app pages) in a namespace (`data/ui/views`);
    /// [`View::is_dashboard`] tells them apart.
    pub async fn list_views(
        &self,
        namespace: &Namespace,
        options: &ListOptions,
    ) -> Result<Page<View>> {
        self.list(
            Endpoint::namespaced(namespace, "data/ui/views")?,
            options,
            &[],
        )
        .await
    }

    /// One view by name, with its source.
    pub async fn get_view(&self, namespace: &Namespace, name: &str) -> Result<View> {
        self.get_one(Endpoint::namespaced(namespace, "data/ui/views")?.segment(name)?)
            .await
    }

    /// Lookup table files (`data/lookup-table-files`).
    pub async fn list_lookup_table_files(
        &self,
        namespace: &Namespace,
        options: &ListOptions,
    ) -> Result<Page<LookupTableFile>> {
        self.list(
            Endpoint::namespaced(namespace, "data/lookup-table-files")?,
            options,
            &[],
        )
        .await
    }

    /// Lookup definitions (`data/transforms/lookups`): file, KV store, external and geo lookups.
    pub async fn list_lookup_definitions(
        &self,
        namespace: &Namespace,
        options: &ListOptions,
    ) -> Result<Page<LookupDefinition>> {
        self.list(
            Endpoint::namespaced(namespace, "data/transforms/lookups")?,
            options,
            &[],
        )
        .await
    }

    /// Data models with their whole definitions (`datamodel/model?concise=false`).
    pub async fn list_data_models(
        &self,
        namespace: &Namespace,
        options: &ListOptions,
    ) -> Result<Page<DataModel>> {
        self.list(
            Endpoint::namespaced(namespace, "datamodel/model")?,
            options,
            &[("concise", "false")],
        )
        .await
    }

    /// One data model by name, with its whole definition.
    pub async fn get_data_model(&self, namespace: &Namespace, name: &str) -> Result<DataModel> {
        let endpoint = Endpoint::namespaced(namespace, "datamodel/model")?.segment(name)?;
        let mut query = Params::new();
        query.push("concise", "false");
        let request = ApiRequest::get(endpoint).with_query(query);
        DataModel::from_entry(&self.single_entry(&request).await?)
    }
}

// ----- fired alerts -----

/// A saved search that fired alerts, with how many (`alerts/fired_alerts` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FiredAlertGroup {
    /// The saved search's name; `-` for the group of every fired alert.
    #[serde(skip)]
    pub name: String,
    /// App and owner of the saved search.
    #[serde(skip)]
    pub acl: Acl,
    /// `triggered_alert_count`.
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub triggered_alert_count: u64,
}
named_entry!(FiredAlertGroup);

impl FiredAlertGroup {
    /// Whether this is the group `-`, which stands for every fired alert.
    pub fn is_all(&self) -> bool {
        self.name == "-"
    }

    /// The namespace of its saved search (owner and app), where its alerts are listed; every
    /// namespace when Splunk did not say.
    pub fn namespace(&self) -> Namespace {
        if self.acl.owner.is_empty() || self.acl.app.is_empty() {
            Namespace::wildcard()
        } else {
            Namespace::new(self.acl.owner.clone(), self.acl.app.clone())
        }
    }
}

/// One fired alert (`alerts/fired_alerts/{saved search}` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FiredAlert {
    /// The record's id: the sid and the trigger time.
    #[serde(skip)]
    pub name: String,
    /// App and owner of the saved search that fired.
    #[serde(skip)]
    pub acl: Acl,
    /// `savedsearch_name`.
    #[serde(
        default,
        rename = "savedsearch_name",
        deserialize_with = "wire::flex_string"
    )]
    pub saved_search: String,
    /// The job whose results fired it (it may have expired since).
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub sid: String,
    /// `trigger_time`, epoch seconds.
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub trigger_time: u64,
    /// `trigger_time_rendered`, e.g. `2026-10-08 13:53:26 UTC`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub trigger_time_rendered: String,
    /// `expiration_time_rendered`: when Splunk forgets the record.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub expiration_time_rendered: String,
    /// `severity`, 1 to 6 (see [`FiredAlert::severity_label`]).
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub severity: u64,
    /// `alert_type`, e.g. `historical` for a scheduled search, `rt` for a real-time one.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub alert_type: String,
    /// `digest_mode`: one record for all results rather than one per result.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub digest_mode: bool,
    /// `triggered_alerts`: results the record stands for.
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub triggered_alerts: u64,
    /// `actions`: the alert actions that ran (`email`, ...), if any.
    #[serde(default, deserialize_with = "wire::empty_as_none")]
    pub actions: Option<String>,
}
named_entry!(FiredAlert);

impl FiredAlert {
    /// The job id.
    pub fn sid(&self) -> Sid {
        Sid::new(self.sid.clone())
    }

    /// The severity's name in `savedsearches.conf`: `debug`, `info`, `warn`, `error`, `severe`,
    /// `fatal` (`unknown` for anything else).
    pub fn severity_label(&self) -> &'static str {
        match self.severity {
            1 => "debug",
            2 => "info",
            3 => "warn",
            4 => "error",
            5 => "severe",
            6 => "fatal",
            _ => "unknown",
        }
    }
}

// ----- views and dashboards -----

/// A view (`data/ui/views` entry): a dashboard, or a page of an app.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct View {
    /// Name (the view's id in URLs).
    #[serde(skip)]
    pub name: String,
    /// App, owner and sharing.
    #[serde(skip)]
    pub acl: Acl,
    /// When it last changed (ISO 8601).
    #[serde(skip)]
    pub updated: String,
    /// `label`: the title.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub label: String,
    /// `description`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub description: String,
    /// `isDashboard`.
    #[serde(default, rename = "isDashboard", deserialize_with = "wire::flex_bool")]
    pub is_dashboard: bool,
    /// `isVisible`: shown in the app's navigation.
    #[serde(default, rename = "isVisible", deserialize_with = "wire::flex_bool")]
    pub is_visible: bool,
    /// `rootNode`: `dashboard`, `form` or `view`.
    #[serde(default, rename = "rootNode", deserialize_with = "wire::flex_string")]
    pub root_node: String,
    /// `version`: `1.1` (Simple XML), `2` (Dashboard Studio), or empty.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub version: String,
    /// `eai:data`: the source (XML; Dashboard Studio's JSON sits in its `<definition>`).
    #[serde(default, rename = "eai:data", deserialize_with = "wire::flex_string")]
    pub source: String,
}

impl FromEntry for View {
    fn from_entry(entry: &RawEntry) -> Result<Self> {
        let mut view: Self = entry.content_as()?;
        view.name = entry.name.clone();
        view.acl = entry.acl.clone().unwrap_or_default();
        view.updated = entry.updated.clone();
        Ok(view)
    }
}

/// How a dashboard is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DashboardKind {
    /// Simple XML (`version="1.1"` or older).
    SimpleXml,
    /// Dashboard Studio (`version="2"`: JSON inside the XML).
    Studio,
}

impl DashboardKind {
    /// `simple_xml` or `studio`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SimpleXml => "simple_xml",
            Self::Studio => "studio",
        }
    }
}

/// One search a dashboard runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DashboardSearch {
    /// The search's `id` (Simple XML) or its data source's key (Dashboard Studio).
    pub id: Option<String>,
    /// What the dashboard calls it: the title of its panel or input (Simple XML), the data
    /// source's `name` (Dashboard Studio).
    pub title: Option<String>,
    /// The SPL as written; dashboard tokens such as `$host_tok$` are left in. `None` for a
    /// search that runs a saved search.
    pub query: Option<String>,
    /// The search whose results this one post-processes (`base`, or a chain's `extend`).
    pub base: Option<String>,
    /// The saved search it runs (`ref`).
    pub saved_search: Option<String>,
    /// Start of its time range, as written (a token, a relative time...).
    pub earliest: Option<String>,
    /// End of its time range, as written.
    pub latest: Option<String>,
}

impl View {
    /// The title: the label, or the name when it has none.
    pub fn title(&self) -> &str {
        if self.label.trim().is_empty() {
            &self.name
        } else {
            &self.label
        }
    }

    /// Simple XML or Dashboard Studio.
    pub fn kind(&self) -> DashboardKind {
        if self.version.trim() == "2" || definition_json(&xml_pieces(&self.source)).is_some() {
            DashboardKind::Studio
        } else {
            DashboardKind::SimpleXml
        }
    }

    /// The searches the dashboard runs, in the order its source gives them. A source that
    /// cannot be read yields what could be read (an unreadable Studio definition, nothing).
    pub fn searches(&self) -> Vec<DashboardSearch> {
        let pieces = xml_pieces(&self.source);
        match definition_json(&pieces) {
            Some(json) => studio_searches(&json),
            None => simple_xml_searches(&pieces),
        }
    }
}

/// A piece of an XML document: as much of XML as dashboards use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum XmlPiece<'a> {
    /// `<name a="b">` or `<name/>`.
    Open {
        name: &'a str,
        attributes: Vec<(&'a str, String)>,
        empty: bool,
    },
    /// `</name>`.
    Close(&'a str),
    /// Text with entities decoded, or a CDATA section as it is.
    Text(String),
}

/// Splits XML into tags and text; comments, processing instructions and declarations are
/// dropped. Not a validating parser: malformed input ends the scan where it stops making sense.
fn xml_pieces(source: &str) -> Vec<XmlPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = source;
    let skip_past =
        |text: &str, end: &str| -> usize { text.find(end).map_or(text.len(), |at| at + end.len()) };
    while !rest.is_empty() {
        if rest.starts_with("<!--") {
            rest = &rest[skip_past(rest, "-->")..];
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            pieces.push(XmlPiece::Text(after[..end].to_owned()));
            rest = after.get(end + 3..).unwrap_or("");
        } else if rest.starts_with("<?") {
            rest = &rest[skip_past(rest, "?>")..];
        } else if rest.starts_with("<!") {
            rest = &rest[skip_past(rest, ">")..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').unwrap_or(after.len());
            pieces.push(XmlPiece::Close(after[..end].trim()));
            rest = after.get(end + 1..).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = tag_end(after);
            let inner = &after[..end];
            let empty = inner.trim_end().ends_with('/');
            let inner = inner.trim_end().trim_end_matches('/');
            let name_end = inner
                .find(|c: char| c.is_whitespace())
                .unwrap_or(inner.len());
            pieces.push(XmlPiece::Open {
                name: &inner[..name_end],
                attributes: attributes(&inner[name_end..]),
                empty,
            });
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            pieces.push(XmlPiece::Text(decode_entities(&rest[..end])));
            rest = &rest[end..];
        }
    }
    pieces
}

/// Where a start tag's `>` is, skipping `>` inside quoted attribute values.
fn tag_end(text: &str) -> usize {
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '>') => return at,
            _ => {}
        }
    }
    text.len()
}

/// `a="b" c='d'` → pairs, values entity-decoded.
fn attributes(text: &str) -> Vec<(&str, String)> {
    let mut found = Vec::new();
    let mut rest = text.trim_start();
    while let Some(equals) = rest.find('=') {
        let name = rest[..equals].trim();
        let after = rest[equals + 1..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let value = &after[1..];
        let end = value.find(quote).unwrap_or(value.len());
        found.push((name, decode_entities(&value[..end])));
        rest = value.get(end + 1..).unwrap_or("").trim_start();
    }
    found
}

/// Resolves XML's five named entities and numeric character references; anything else is left
/// as written.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let number = entity.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, length)) => {
                out.push(c);
                rest = &rest[length..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of the `<definition>` element of a Dashboard Studio source.
fn definition_json(pieces: &[XmlPiece<'_>]) -> Option<String> {
    let start = pieces.iter().position(|piece| {
        matches!(
            piece,
            XmlPiece::Open {
                name: "definition",
                empty: false,
                ..
            }
        )
    })?;
    let mut text = String::new();
    for piece in &pieces[start + 1..] {
        match piece {
            XmlPiece::Text(part) => text.push_str(part),
            XmlPiece::Close("definition") => break,
            _ => {}
        }
    }
    Some(text)
}

/// Elements that held a search's SPL before `<search><query>` (Simple XML 1.0), read too.
const LEGACY_QUERIES: &[&str] = &[
    "searchString",
    "searchTemplate",
    "searchPostProcess",
    "populatingSearch",
];

/// The searches of a Simple XML dashboard: every `<search>` (with its `<query>`, `<earliest>`,
/// `<latest>` and its `id`, `base` and `ref` attributes) and every legacy search element, each
/// with the title of the panel or input it belongs to.
fn simple_xml_searches(pieces: &[XmlPiece<'_>]) -> Vec<DashboardSearch> {
    let mut found = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    let mut current: Option<DashboardSearch> = None;
    let mut text = String::new();
    let mut title: Option<String> = None;
    let trimmed = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    for piece in pieces {
        match piece {
            XmlPiece::Open {
                name,
                attributes,
                empty,
            } => {
                text.clear();
                if *name == "search" {
                    let attribute = |wanted: &str| {
                        attributes
                            .iter()
                            .find(|(name, _)| *name == wanted)
                            .and_then(|(_, value)| trimmed(value))
                    };
                    let search = DashboardSearch {
                        id: attribute("id"),
                        title: title.clone(),
                        base: attribute("base"),
                        saved_search: attribute("ref"),
                        ..DashboardSearch::default()
                    };
                    if *empty {
                        found.push(search);
                    } else {
                        current = Some(search);
                    }
                }
                if !*empty {
                    open.push(*name);
                }
            }
            XmlPiece::Text(part) => text.push_str(part),
            XmlPiece::Close(name) => {
                // Tolerate unclosed elements: close back to the matching one.
                if let Some(at) = open.iter().rposition(|open| open == name) {
                    open.truncate(at);
                }
                let parent = open.last().copied().unwrap_or_default();
                match (*name, current.as_mut()) {
                    ("search", Some(_)) => found.extend(current.take()),
                    ("query", Some(search)) => search.query = trimmed(&text),
                    ("earliest", Some(search)) if parent == "search" => {
                        search.earliest = trimmed(&text);
                    }
                    ("latest", Some(search)) if parent == "search" => {
                        search.latest = trimmed(&text);
                    }
                    ("title", None) => title = trimmed(&text),
                    ("label", None) if parent == "input" => title = trimmed(&text),
                    ("panel" | "input", None) => title = None,
                    (legacy, None) if LEGACY_QUERIES.contains(&legacy) => {
                        found.push(DashboardSearch {
                            title: title.clone(),
                            query: trimmed(&text),
                            ..DashboardSearch::default()
                        });
                    }
                    _ => {}
                }
                text.clear();
            }
        }
    }
    found
}

/// The searches of a Dashboard Studio definition: its `ds.search`, `ds.chain` and
/// `ds.savedSearch` data sources. A search without time parameters of its own gets the
/// defaults for its type, then the global ones; a chain runs on its base's results.
fn studio_searches(json: &str) -> Vec<DashboardSearch> {
    let Ok(definition) = serde_json::from_str::<Value>(json.trim()) else {
        return Vec::new();
    };
    let defaults = &definition["defaults"]["dataSources"];
    let text = |value: &Value| value.as_str().map(str::to_owned).filter(|t| !t.is_empty());
    let Some(sources) = definition["dataSources"].as_object() else {
        return Vec::new();
    };
    sources
        .iter()
        .filter_map(|(key, source)| {
            let kind = source["type"].as_str().unwrap_or_default();
            let options = &source["options"];
            let parameter = |name: &str| {
                text(&options["queryParameters"][name])
                    .or_else(|| text(&defaults[kind]["options"]["queryParameters"][name]))
                    .or_else(|| text(&defaults["global"]["options"]["queryParameters"][name]))
            };
            let mut search = DashboardSearch {
                id: Some(key.clone()),
                title: text(&source["name"]),
                ..DashboardSearch::default()
            };
            match kind {
                "ds.search" => {
                    search.query = text(&options["query"]);
                    search.earliest = parameter("earliest");
                    search.latest = parameter("latest");
                }
                "ds.chain" => {
                    search.query = text(&options["query"]);
                    search.base = text(&options["extend"]);
                }
                "ds.savedSearch" => search.saved_search = text(&options["ref"]),
                _ => return None,
            }
            Some(search)
        })
        .collect()
}

// ----- lookups -----

/// A lookup table file (`data/lookup-table-files` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct LookupTableFile {
    /// The file name, e.g. `http_status.csv`.
    #[serde(skip)]
    pub name: String,
    /// App, owner and sharing.
    #[serde(skip)]
    pub acl: Acl,
    /// `eai:data`: where the file lies on the search head.
    #[serde(default, rename = "eai:data", deserialize_with = "wire::flex_string")]
    pub path: String,
    /// `fields_array`: the header row (Splunk 10 and later; empty when not sent).
    #[serde(
        default,
        rename = "fields_array",
        deserialize_with = "wire::string_list"
    )]
    pub fields: Vec<String>,
    /// `size` in bytes.
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub size: u64,
    /// `lastModifiedTime`, epoch seconds.
    #[serde(
        default,
        rename = "lastModifiedTime",
        deserialize_with = "wire::flex_u64"
    )]
    pub last_modified_time: u64,
    /// `disabled`.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub disabled: bool,
}
named_entry!(LookupTableFile);

/// A lookup definition (`data/transforms/lookups` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct LookupDefinition {
    /// The definition's name, as `lookup` and `inputlookup` use it.
    #[serde(skip)]
    pub name: String,
    /// App, owner and sharing.
    #[serde(skip)]
    pub acl: Acl,
    /// `type`: `file`, `kvstore`, `external` or `geo`.
    #[serde(default, rename = "type", deserialize_with = "wire::flex_string")]
    pub kind: String,
    /// `filename`, for file lookups.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub filename: String,
    /// `collection`, for KV store lookups.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub collection: String,
    /// `external_type`, for external and geo lookups.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub external_type: String,
    /// The fields: `fields_array`, or the comma-separated `fields_list` when that is all there
    /// is.
    #[serde(
        default,
        rename = "fields_array",
        deserialize_with = "wire::string_list"
    )]
    pub fields: Vec<String>,
    #[serde(default, deserialize_with = "wire::flex_string")]
    fields_list: String,
    /// `disabled`.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub disabled: bool,
}

impl FromEntry for LookupDefinition {
    fn from_entry(entry: &RawEntry) -> Result<Self> {
        let mut definition: Self = entry.content_as()?;
        definition.name = entry.name.clone();
        definition.acl = entry.acl.clone().unwrap_or_default();
        if definition.fields.is_empty() {
            definition.fields = definition
                .fields_list
                .split(',')
                .map(str::trim)
                .filter(|field| !field.is_empty())
                .map(str::to_owned)
                .collect();
        }
        Ok(definition)
    }
}

// ----- data models -----

/// A data model (`datamodel/model` entry) with its datasets.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DataModel {
    /// The model's name (`modelName`).
    pub name: String,
    /// App, owner and sharing.
    pub acl: Acl,
    /// When it last changed (ISO 8601).
    pub updated: String,
    /// `displayName`.
    pub display_name: String,
    /// The description written in the model.
    pub description: String,
    /// Acceleration settings.
    pub acceleration: Acceleration,
    /// The datasets (the model's `objects`), parents before children; empty when Splunk sent
    /// only the model's summary.
    pub datasets: Vec<DataModelDataset>,
}

/// A data model's acceleration settings (its `acceleration` JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Acceleration {
    /// `enabled`.
    pub enabled: bool,
    /// `earliest_time`: how far back the summaries reach.
    pub earliest_time: Option<String>,
    /// `cron_schedule`: when the summaries are updated.
    pub cron_schedule: Option<String>,
}

/// A dataset of a data model (one of its `objects`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataModelDataset {
    /// `objectName`, as `| datamodel` and `| tstats ... from datamodel=` name it (with the
    /// lineage for child datasets).
    pub name: String,
    /// `displayName`.
    pub display_name: String,
    /// `parentName`: `BaseEvent`, `BaseSearch`, `BaseTransaction` for root datasets, or
    /// another dataset of the model.
    pub parent: String,
    /// `lineage`, e.g. `Web.Errors`.
    pub lineage: String,
    /// The constraints' searches, which select its events (on top of its parent's).
    pub constraints: Vec<String>,
    /// Every field, inherited ones first, each with the dataset (or base object) that defines
    /// it.
    pub fields: Vec<DataModelField>,
}

/// A field of a data model dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataModelField {
    /// `fieldName`.
    pub name: String,
    /// `displayName`.
    pub display_name: String,
    /// `type`: `string`, `number`, `boolean`, `ipv4`, `timestamp`, `childCount`, ...
    pub kind: String,
    /// `owner`: the lineage of the dataset that defines it, or `BaseEvent` and the like.
    pub owner: String,
    /// `required`.
    pub required: bool,
    /// `multivalue`.
    pub multivalue: bool,
    /// `hidden`.
    pub hidden: bool,
    /// Whether a calculation (eval, lookup, regex, geo IP) outputs it.
    pub calculated: bool,
}

impl FromEntry for DataModel {
    fn from_entry(entry: &RawEntry) -> Result<Self> {
        let content = &entry.content;
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_default()
        };
        // The definition is JSON in a string: `eai:data`, else `description`, which a concise
        // listing shortens to a summary without `objects`.
        let parse = |value: Option<&Value>| match value {
            Some(Value::String(json)) => serde_json::from_str::<Value>(json).ok(),
            Some(object @ Value::Object(_)) => Some(object.clone()),
            _ => None,
        };
        let definition = parse(content.get("eai:data"))
            .filter(|d| d.get("objects").is_some())
            .or_else(|| parse(content.get("description")))
            .unwrap_or(Value::Null);
        let acceleration = parse(content.get("acceleration")).unwrap_or(Value::Null);
        let display_name = Some(text(content.get("displayName")))
            .filter(|name| !name.is_empty())
            .or_else(|| definition["displayName"].as_str().map(str::to_owned))
            .unwrap_or_else(|| entry.name.clone());
        Ok(Self {
            name: entry.name.clone(),
            acl: entry.acl.clone().unwrap_or_default(),
            updated: entry.updated.clone(),
            display_name,
            description: text(definition.get("description")),
            acceleration: Acceleration {
                enabled: flag(&acceleration["enabled"]),
                earliest_time: acceleration["earliest_time"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
                cron_schedule: acceleration["cron_schedule"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            },
            datasets: datasets(&definition),
        })
    }
}

/// A JSON boolean as data model JSON may write it: `true`, `1`, `"true"`, `"1"`.
fn flag(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "1" | "true"),
        _ => false,
    }
}

/// A field as the model's JSON writes it.
fn model_field(json: &Value, dataset: &str, calculated: bool) -> Option<DataModelField> {
    let name = json["fieldName"].as_str()?.to_owned();
    let text = |key: &str| json[key].as_str().map(str::to_owned).unwrap_or_default();
    let owner = Some(text("owner"))
        .filter(|owner| !owner.is_empty())
        .unwrap_or_else(|| dataset.to_owned());
    Some(DataModelField {
        display_name: Some(text("displayName"))
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| name.clone()),
        name,
        kind: text("type"),
        owner,
        required: flag(&json["required"]),
        multivalue: flag(&json["multivalue"]),
        hidden: flag(&json["hidden"]),
        calculated,
    })
}

/// The datasets of a model's definition, each with its parents' fields before its own (a
/// model stores only each dataset's own fields and calculations).
fn datasets(definition: &Value) -> Vec<DataModelDataset> {
    let Some(objects) = definition["objects"].as_array() else {
        return Vec::new();
    };
    let mut own: BTreeMap<String, Vec<DataModelField>> = BTreeMap::new();
    let mut parents: BTreeMap<String, String> = BTreeMap::new();
    let mut datasets = Vec::new();
    for object in objects {
        let Some(name) = object["objectName"].as_str() else {
            continue;
        };
        let lineage = object["lineage"].as_str().unwrap_or(name).to_owned();
        let mut fields: Vec<DataModelField> = object["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|field| model_field(field, &lineage, false))
            .collect();
        let calculated = object["calculations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|calculation| calculation["outputFields"].as_array().into_iter().flatten())
            .filter_map(|field| model_field(field, &lineage, true));
        fields.extend(calculated);
        let parent = object["parentName"].as_str().unwrap_or_default().to_owned();
        own.insert(name.to_owned(), fields);
        parents.insert(name.to_owned(), parent.clone());
        datasets.push(DataModelDataset {
            name: name.to_owned(),
            display_name: object["displayName"].as_str().unwrap_or(name).to_owned(),
            parent,
            lineage,
            constraints: object["constraints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|constraint| constraint["search"].as_str())
                .map(str::to_owned)
                .collect(),
            fields: Vec::new(),
        });
    }
    for dataset in &mut datasets {
        // Ancestors from the root down; the walk stops at a name it has seen (a cycle) or one
        // outside the model (`BaseEvent`).
        let mut chain = vec![dataset.name.clone()];
        while let Some(parent) = chain.last().and_then(|name| parents.get(name)) {
            if !own.contains_key(parent) || chain.contains(parent) {
                break;
            }
            chain.push(parent.clone());
        }
        let mut fields: Vec<DataModelField> = Vec::new();
        for name in chain.iter().rev() {
            for field in own.get(name).into_iter().flatten() {
                if !fields.iter().any(|known| known.name == field.name) {
                    fields.push(field.clone());
                }
            }
        }
        dataset.fields = fields;
    }
    datasets
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view(version: &str, source: &str) -> View {
        View {
            name: "v".into(),
            version: version.into(),
            source: source.into(),
            ..View::default()
        }
    }

    fn search(query: &str) -> DashboardSearch {
        DashboardSearch {
            query: Some(query.into()),
            ..DashboardSearch::default()
        }
    }

    #[test]
    fn simple_xml_searches_are_found() {
        let source = r#"<?xml version="1.0"?>
<form version="1.1">
  <label>L</label>
  <fieldset>
    <input type="dropdown" token="h">
      <label>Host</label>
      <search><query>index=web | stats count by host</query></search>
    </input>
  </fieldset>
  <row><panel>
    <title>Errors &amp; more</title>
    <table>
      <search id="base" base="other">
        <query><![CDATA[index=web status>=500 | top uri]]></query>
        <earliest>$t.earliest$</earliest>
        <latest>now</latest>
      </search>
    </table>
  </panel></row>
  <!-- <search><query>index=web | delete</query></search> -->
  <row><panel><table>
    <search ref="Saved &quot;one&quot;"/>
    <search><query>index=web bytes&gt;10 x=&#65;&#x42; &bogus;</query></search>
  </table></panel></row>
  <chart><searchString>index=old | stats count</searchString></chart>
</form>"#;
        let found = view("1.1", source).searches();
        let expected = vec![
            DashboardSearch {
                title: Some("Host".into()),
                ..search("index=web | stats count by host")
            },
            DashboardSearch {
                id: Some("base".into()),
                title: Some("Errors & more".into()),
                base: Some("other".into()),
                earliest: Some("$t.earliest$".into()),
                latest: Some("now".into()),
                ..search("index=web status>=500 | top uri")
            },
            DashboardSearch {
                saved_search: Some("Saved \"one\"".into()),
                ..DashboardSearch::default()
            },
            search("index=web bytes>10 x=AB &bogus;"),
            search("index=old | stats count"),
        ];
        assert_eq!(found, expected);
        assert_eq!(view("1.1", source).kind(), DashboardKind::SimpleXml);
    }

    #[test]
    fn studio_data_sources_are_found() {
        let definition = json!({
            "dataSources": {
                "a": {"type": "ds.search", "name": "A",
                      "options": {"query": "index=a", "queryParameters": {"earliest": "-1h"}}},
                "b": {"type": "ds.chain", "options": {"extend": "a", "query": "| head 1"}},
                "c": {"type": "ds.savedSearch", "options": {"ref": "R"}},
                "d": {"type": "ds.test", "options": {"data": {}}}
            },
            "defaults": {"dataSources": {
                "ds.search": {"options": {"queryParameters": {"earliest": "-24h"}}},
                "global": {"options": {"queryParameters": {"latest": "now"}}}
            }}
        });
        let source = format!(
            "<dashboard version=\"2\"><label>S</label><definition><![CDATA[{definition}]]></definition>\
             <meta type=\"hiddenElements\"><![CDATA[{{}}]]></meta></dashboard>"
        );
        let studio = view("", &source);
        assert_eq!(studio.kind(), DashboardKind::Studio);
        let mut found = studio.searches();
        found.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(
            found,
            vec![
                DashboardSearch {
                    id: Some("a".into()),
                    title: Some("A".into()),
                    earliest: Some("-1h".into()),
                    latest: Some("now".into()),
                    ..search("index=a")
                },
                DashboardSearch {
                    id: Some("b".into()),
                    base: Some("a".into()),
                    ..search("| head 1")
                },
                DashboardSearch {
                    id: Some("c".into()),
                    saved_search: Some("R".into()),
                    ..DashboardSearch::default()
                },
            ]
        );
        let broken = view(
            "2",
            "<dashboard><definition>{ not json</definition></dashboard>",
        );
        assert!(broken.searches().is_empty());
    }

    #[test]
    fn entities_and_attributes() {
        let cases = [
            ("a &lt;b&gt; &amp;&quot;&apos;", "a <b> &\"'"),
            ("&#233;&#xE9;", "éé"),
            ("& alone; &unknown; &#xZZ;", "& alone; &unknown; &#xZZ;"),
            ("plain", "plain"),
        ];
        for (text, expected) in cases {
            assert_eq!(decode_entities(text), expected, "{text}");
        }
        assert_eq!(
            attributes(r#" a="1 > 2" b='x' c = "&amp;""#),
            vec![
                ("a", "1 > 2".to_owned()),
                ("b", "x".to_owned()),
                ("c", "&".to_owned())
            ]
        );
    }

    #[test]
    fn data_models_decode_their_definitions() {
        let definition = json!({
            "modelName": "M", "displayName": "Model M", "description": "about M",
            "objects": [
                {"objectName": "Root", "parentName": "BaseEvent", "lineage": "Root",
                 "constraints": [{"search": "index=a"}],
                 "fields": [
                    {"fieldName": "_time", "owner": "BaseEvent", "type": "timestamp"},
                    {"fieldName": "x", "owner": "Root", "type": "number", "required": true}
                 ]},
                {"objectName": "Child", "parentName": "Root", "lineage": "Root.Child",
                 "constraints": [{"search": "x>1"}], "fields": [],
                 "calculations": [{"outputFields": [{"fieldName": "y", "type": "string"}]}]},
                {"objectName": "Loop", "parentName": "Loop", "fields": []}
            ]
        });
        let entry: RawEntry = serde_json::from_value(json!({
            "name": "M",
            "updated": "2026-11-20T10:00:00+00:00",
            "acl": {"app": "search", "owner": "nobody", "sharing": "app"},
            "content": {
                "acceleration": "{\"enabled\":\"1\",\"earliest_time\":\"-7d\"}",
                "description": "{\"modelName\":\"M\"}",
                "eai:data": definition.to_string(),
            }
        }))
        .unwrap();
        let model = DataModel::from_entry(&entry).unwrap();
        assert_eq!(model.display_name, "Model M");
        assert_eq!(model.description, "about M");
        assert!(model.acceleration.enabled);
        assert_eq!(model.acceleration.earliest_time.as_deref(), Some("-7d"));
        assert_eq!(model.updated, "2026-11-20T10:00:00+00:00");
        let child = &model.datasets[1];
        assert_eq!(child.lineage, "Root.Child");
        assert_eq!(child.constraints, ["x>1"]);
        let fields: Vec<(&str, &str, bool)> = child
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.owner.as_str(), f.calculated))
            .collect();
        assert_eq!(
            fields,
            [
                ("_time", "BaseEvent", false),
                ("x", "Root", false),
                ("y", "Root.Child", true)
            ]
        );
        assert!(model.datasets[0].fields[1].required);
        assert!(model.datasets[2].fields.is_empty(), "a cycle ends the walk");

        // A concise listing carries only the summary: no datasets, no failure.
        let concise: RawEntry = serde_json::from_value(json!({
            "name": "M",
            "content": {"description": "{\"modelName\":\"M\",\"displayName\":\"D\"}",
                        "acceleration": "{\"enabled\":false}"}
        }))
        .unwrap();
        let model = DataModel::from_entry(&concise).unwrap();
        assert!(model.datasets.is_empty() && !model.acceleration.enabled);
        assert_eq!(model.display_name, "D");
    }

    #[test]
    fn lookup_definitions_fall_back_to_fields_list() {
        let entry: RawEntry = serde_json::from_value(json!({
            "name": "assets",
            "content": {"type": "kvstore", "collection": "assets",
                        "fields_list": "_key, host ,ip"}
        }))
        .unwrap();
        let definition = LookupDefinition::from_entry(&entry).unwrap();
        assert_eq!(definition.fields, ["_key", "host", "ip"]);
        assert_eq!(definition.kind, "kvstore");
    }

    #[test]
    fn severities_have_names() {
        let alert = |severity| FiredAlert {
            severity,
            ..FiredAlert::default()
        };
        assert_eq!(alert(4).severity_label(), "error");
        assert_eq!(alert(3).severity_label(), "warn");
        assert_eq!(alert(0).severity_label(), "unknown");
    }
}
