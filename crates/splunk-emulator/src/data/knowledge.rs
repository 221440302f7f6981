//! Knowledge objects served beside the events: the fired alerts of the scheduled saved searches,
//! views (two built-in pages of the search app, the Simple XML dashboard `web_overview` and the
//! Dashboard Studio dashboard `security_posture`, both over the seeded indexes), the lookup table
//! file `http_status.csv` with its definition `http_status` (both readable by `| inputlookup`),
//! and the data model `Web` with three datasets.
//!
//! The objects are fixed; only their times follow the seeding instant (alerts fire on their
//! saved searches' schedules before it), so answers differ between runs in times alone.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where an object lives and who may change it: the `acl` of its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acl {
    /// The app it belongs to.
    pub(crate) app: &'static str,
    /// Its owner (`nobody` for objects of no one in particular).
    pub(crate) owner: &'static str,
    /// `user`, `app` or `global`.
    pub(crate) sharing: &'static str,
}

/// Objects of the search app shared with everyone using it.
const SEARCH_APP: Acl = Acl {
    app: "search",
    owner: "nobody",
    sharing: "app",
};

/// One fired (triggered) alert: a run of a scheduled saved search whose condition held.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FiredAlert {
    /// The saved search that fired.
    pub(crate) saved_search: &'static str,
    /// App and owner of that saved search.
    pub(crate) acl: Acl,
    /// The scheduler's job that ran it.
    pub(crate) sid: String,
    /// When the alert fired.
    pub(crate) trigger_time: DateTime<Utc>,
    /// When the record expires (`alert.expires` after the trigger).
    pub(crate) expires: DateTime<Utc>,
    /// `alert.severity`: 1 debug, 2 info, 3 warning, 4 error, 5 severe, 6 fatal.
    pub(crate) severity: u8,
    /// One record for all results (`alert.digest_mode`), or one per result.
    pub(crate) digest_mode: bool,
    /// Results the record stands for.
    pub(crate) triggered_alerts: u64,
    /// The alert actions that ran, comma-separated; empty for none.
    pub(crate) actions: &'static str,
}

impl FiredAlert {
    /// The record's entry name, as splunkd forms it: the sid, then the trigger time.
    pub(crate) fn id(&self) -> String {
        format!("{}_{}", self.sid, self.trigger_time.timestamp())
    }
}

/// A view of `data/ui/views`: a dashboard or one of an app's pages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct View {
    /// The view's name (its file name without `.xml`).
    pub(crate) name: &'static str,
    /// Its title.
    pub(crate) label: &'static str,
    /// Its description.
    pub(crate) description: &'static str,
    /// App, owner and sharing.
    pub(crate) acl: Acl,
    /// Whether it is a dashboard (not a page such as `search`).
    pub(crate) is_dashboard: bool,
    /// The root element: `dashboard`, `form` or `view`.
    pub(crate) root_node: &'static str,
    /// `1.1` for Simple XML, `2` for Dashboard Studio, empty for pages.
    pub(crate) version: &'static str,
    /// `eai:data`: the XML source (Dashboard Studio's JSON sits in its `<definition>`).
    pub(crate) source: String,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
}

/// A CSV lookup table file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LookupFile {
    /// The file name, e.g. `http_status.csv`.
    pub(crate) name: &'static str,
    /// App, owner and sharing.
    pub(crate) acl: Acl,
    /// The header row.
    pub(crate) fields: Vec<&'static str>,
    /// The other rows, one value per field.
    pub(crate) rows: Vec<Vec<&'static str>>,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
}

impl LookupFile {
    /// Where splunkd keeps the file (its `eai:data`).
    pub(crate) fn path(&self) -> String {
        format!(
            "/opt/splunk/etc/apps/{}/lookups/{}",
            self.acl.app, self.name
        )
    }

    /// The file's bytes as CSV (values with a comma or quote quoted), for its `size`.
    pub(crate) fn csv(&self) -> String {
        let line = |cells: &[&str]| {
            cells
                .iter()
                .map(|cell| {
                    if cell.contains([',', '"', '\n']) {
                        format!("\"{}\"", cell.replace('"', "\"\""))
                    } else {
                        (*cell).to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut text = line(&self.fields);
        text.push('\n');
        for row in &self.rows {
            text.push_str(&line(row));
            text.push('\n');
        }
        text
    }

    /// The rows as `inputlookup` returns them: field/value pairs in header order, empty cells
    /// left out.
    pub(crate) fn records(&self) -> Vec<Vec<(&'static str, &'static str)>> {
        self.rows
            .iter()
            .map(|row| {
                self.fields
                    .iter()
                    .zip(row)
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(field, value)| (*field, *value))
                    .collect()
            })
            .collect()
    }
}

/// A file-based lookup definition (a `transforms.conf` stanza naming a CSV file).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LookupDefinition {
    /// The definition's name, e.g. `http_status`.
    pub(crate) name: &'static str,
    /// App, owner and sharing.
    pub(crate) acl: Acl,
    /// The lookup table file it reads.
    pub(crate) filename: &'static str,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
}

/// A data model: its JSON definition and acceleration settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataModel {
    /// The model's name (`modelName`).
    pub(crate) name: &'static str,
    /// Its title.
    pub(crate) display_name: &'static str,
    /// App, owner and sharing.
    pub(crate) acl: Acl,
    /// The acceleration settings (`enabled`, `earliest_time`, ...).
    pub(crate) acceleration: Value,
    /// The whole definition: `modelName`, `objects` with their fields, constraints and
    /// calculations.
    pub(crate) definition: Value,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
}

impl DataModel {
    /// The short form of the definition that `concise=true` listings carry.
    pub(crate) fn summary(&self) -> Value {
        json!({
            "modelName": self.definition["modelName"],
            "displayName": self.definition["displayName"],
            "description": self.definition["description"],
            "objectSummary": self.definition["objectSummary"],
        })
    }
}

/// Every knowledge object of one emulator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Knowledge {
    /// Fired alerts, newest first.
    pub(crate) fired_alerts: Vec<FiredAlert>,
    /// Views, dashboards among them.
    pub(crate) views: Vec<View>,
    /// Lookup table files.
    pub(crate) lookup_files: Vec<LookupFile>,
    /// Lookup definitions.
    pub(crate) lookup_definitions: Vec<LookupDefinition>,
    /// Data models.
    pub(crate) data_models: Vec<DataModel>,
}

impl Knowledge {
    /// The seeded objects, with times before `now`.
    pub(crate) fn seeded(now: DateTime<Utc>) -> Self {
        let days_ago = |days: i64| now - TimeDelta::days(days);
        Self {
            fired_alerts: fired_alerts(now),
            views: views(days_ago(12), days_ago(3)),
            lookup_files: vec![http_status(days_ago(30))],
            lookup_definitions: vec![LookupDefinition {
                name: "http_status",
                acl: SEARCH_APP,
                filename: "http_status.csv",
                updated: days_ago(30),
            }],
            data_models: vec![web_model(days_ago(20))],
        }
    }

    /// The lookup table `| inputlookup name` reads: a file by its name (`http_status.csv`),
    /// or the file of the definition so named (`http_status`).
    pub(crate) fn lookup(&self, name: &str) -> Option<&LookupFile> {
        let filename = self
            .lookup_definitions
            .iter()
            .find(|definition| definition.name == name)
            .map_or(name, |definition| definition.filename);
        self.lookup_files.iter().find(|file| file.name == filename)
    }
}

/// When a search scheduled every `period_secs` fired `periods` runs before its last run up to
/// `now`; each run fires `delay_secs` after its period starts (the scheduler's dispatch time).
fn scheduled(now: DateTime<Utc>, period_secs: i64, periods: i64, delay_secs: i64) -> DateTime<Utc> {
    let since = now.timestamp() - delay_secs;
    let last = since - since.rem_euclid(period_secs) + delay_secs;
    DateTime::from_timestamp(last - periods * period_secs, 0).unwrap_or(now)
}

/// The scheduler's sid for a run of `saved_search` at `time`: `RMD5` and a digest of the name,
/// as splunkd names them.
fn scheduler_sid(acl: Acl, saved_search: &str, time: DateTime<Utc>, serial: u32) -> String {
    let digest = hex::encode(Sha256::digest(saved_search.as_bytes()));
    format!(
        "scheduler__{}__{}__RMD5{}_at_{}_{serial}",
        acl.owner,
        acl.app,
        &digest[..16],
        time.timestamp()
    )
}

/// Alerts of the two scheduled saved searches of the catalog: failed logins every 15 minutes
/// (severity error, by e-mail, one digest record each), blocked traffic every hour (severity
/// warning, one record per source).
fn fired_alerts(now: DateTime<Utc>) -> Vec<FiredAlert> {
    let mut alerts = Vec::new();
    let mut serial = 101;
    for periods in [0, 3, 9, 40] {
        let trigger_time = scheduled(now, 900, periods, 7);
        alerts.push(FiredAlert {
            saved_search: "Failed logins by user",
            acl: SEARCH_APP,
            sid: scheduler_sid(SEARCH_APP, "Failed logins by user", trigger_time, serial),
            trigger_time,
            expires: trigger_time + TimeDelta::hours(24),
            severity: 4,
            digest_mode: true,
            triggered_alerts: 1,
            actions: "email",
        });
        serial += 1;
    }
    for (periods, sources) in [(1, 10), (5, 7)] {
        let trigger_time = scheduled(now, 3600, periods, 12);
        alerts.push(FiredAlert {
            saved_search: "Blocked traffic sources",
            acl: SEARCH_APP,
            sid: scheduler_sid(SEARCH_APP, "Blocked traffic sources", trigger_time, serial),
            trigger_time,
            expires: trigger_time + TimeDelta::hours(24),
            severity: 3,
            digest_mode: false,
            triggered_alerts: sources,
            actions: "",
        });
        serial += 1;
    }
    alerts.sort_by_key(|alert| std::cmp::Reverse(alert.trigger_time));
    alerts
}

/// The Simple XML dashboard: a form with a time picker and a host drop-down fed by a search,
/// panels whose queries use the tokens (one in CDATA, one with an escaped `>`), a panel running
/// a saved report, and a commented-out panel that is no search at all.
const WEB_OVERVIEW: &str = r#"<form version="1.1" theme="light">
  <label>Web Overview</label>
  <description>Traffic, errors and large answers of the web tier.</description>
  <fieldset submitButton="false" autoRun="true">
    <input type="time" token="time_tok" searchWhenChanged="true">
      <label>Time range</label>
      <default>
        <earliest>-24h@h</earliest>
        <latest>now</latest>
      </default>
    </input>
    <input type="dropdown" token="host_tok" searchWhenChanged="true">
      <label>Host</label>
      <choice value="*">All hosts</choice>
      <default>*</default>
      <fieldForLabel>host</fieldForLabel>
      <fieldForValue>host</fieldForValue>
      <search>
        <query>index=web | stats count by host | sort host</query>
        <earliest>-7d@d</earliest>
        <latest>now</latest>
      </search>
    </input>
  </fieldset>
  <row>
    <panel>
      <title>Requests by status</title>
      <chart>
        <search id="by_status">
          <query>index=web host=$host_tok$ | timechart count by status</query>
          <earliest>$time_tok.earliest$</earliest>
          <latest>$time_tok.latest$</latest>
        </search>
        <option name="charting.chart">line</option>
      </chart>
    </panel>
    <panel>
      <title>Server errors by page</title>
      <table>
        <search>
          <query><![CDATA[index=web host=$host_tok$ status>=500 | top limit=10 uri]]></query>
          <earliest>$time_tok.earliest$</earliest>
          <latest>$time_tok.latest$</latest>
        </search>
      </table>
    </panel>
  </row>
  <row>
    <panel>
      <title>Large answers</title>
      <table>
        <search>
          <query>index=web bytes&gt;4000 | stats count, avg(bytes) AS avg_bytes by uri | sort - count</query>
          <earliest>-4h</earliest>
          <latest>now</latest>
        </search>
      </table>
    </panel>
    <panel>
      <title>Failed logins (saved report)</title>
      <table>
        <search ref="Failed logins by user"></search>
      </table>
    </panel>
  </row>
  <!--
  <row><panel><table><search><query>index=web | delete</query></search></table></panel></row>
  -->
</form>
"#;

/// The Dashboard Studio definition: two searches, a chained post-process search, a saved
/// search, and default time parameters for searches that set none.
fn security_posture_definition() -> Value {
    json!({
        "title": "Security Posture",
        "description": "Failed logins and blocked connections.",
        "dataSources": {
            "ds_failed_logins": {
                "type": "ds.search",
                "name": "Failed logins",
                "options": {
                    "query": "index=security action=failure | stats count by user | sort - count",
                    "queryParameters": {"earliest": "-24h@h", "latest": "now"}
                }
            },
            "ds_repeat_offenders": {
                "type": "ds.chain",
                "name": "Users failing more than five times",
                "options": {"extend": "ds_failed_logins", "query": "| where count > 5"}
            },
            "ds_blocked": {
                "type": "ds.search",
                "name": "Blocked connections",
                "options": {"query": "index=firewall action=blocked | timechart span=1h count"}
            },
            "ds_top_sources": {
                "type": "ds.savedSearch",
                "name": "Top blocked sources",
                "options": {"ref": "Blocked traffic sources"}
            }
        },
        "visualizations": {
            "viz_failed": {
                "type": "splunk.table",
                "title": "Failed logins by user",
                "dataSources": {"primary": "ds_failed_logins"}
            },
            "viz_offenders": {
                "type": "splunk.singlevalue",
                "title": "Repeat offenders",
                "dataSources": {"primary": "ds_repeat_offenders"}
            },
            "viz_blocked": {
                "type": "splunk.line",
                "title": "Blocked connections per hour",
                "dataSources": {"primary": "ds_blocked"}
            },
            "viz_sources": {
                "type": "splunk.bar",
                "title": "Top blocked sources",
                "dataSources": {"primary": "ds_top_sources"}
            }
        },
        "inputs": {},
        "defaults": {
            "dataSources": {
                "ds.search": {
                    "options": {"queryParameters": {"earliest": "-7d@h", "latest": "now"}}
                }
            }
        },
        "layout": {
            "type": "grid",
            "structure": [
                {"item": "viz_failed", "type": "block", "position": {"x": 0, "y": 0, "w": 600, "h": 300}},
                {"item": "viz_offenders", "type": "block", "position": {"x": 600, "y": 0, "w": 600, "h": 300}},
                {"item": "viz_blocked", "type": "block", "position": {"x": 0, "y": 300, "w": 600, "h": 300}},
                {"item": "viz_sources", "type": "block", "position": {"x": 600, "y": 300, "w": 600, "h": 300}}
            ],
            "globalInputs": []
        }
    })
}

/// A Dashboard Studio view's source: the JSON definition in CDATA inside the XML that
/// `data/ui/views` stores.
fn studio_source(label: &str, description: &str, definition: &Value) -> String {
    let json = serde_json::to_string_pretty(definition).unwrap_or_default();
    format!(
        "<dashboard version=\"2\" theme=\"dark\">\n    <label>{label}</label>\n    \
         <description>{description}</description>\n    <definition><![CDATA[\n{json}\n    ]]></definition>\n    \
         <meta type=\"hiddenElements\"><![CDATA[\n{{\n\t\"hideEdit\": false,\n\t\"hideOpenInSearch\": false,\n\t\"hideExport\": false\n}}\n    ]]></meta>\n</dashboard>\n"
    )
}

fn views(dashboards_updated: DateTime<Utc>, studio_updated: DateTime<Utc>) -> Vec<View> {
    let page = |name: &'static str, label: &'static str, template: &str| View {
        name,
        label,
        description: "",
        acl: SEARCH_APP,
        is_dashboard: false,
        root_node: "view",
        version: "",
        source: format!(
            "<view isDashboard=\"False\" template=\"{template}\" type=\"html\" isVisible=\"true\">\n  <label>{label}</label>\n</view>\n"
        ),
        updated: dashboards_updated,
    };
    vec![
        page(
            "dashboards",
            "Dashboards",
            "search_app:/templates/dashboards.html",
        ),
        page("search", "Search", "search_app:/templates/search.html"),
        View {
            name: "security_posture",
            label: "Security Posture",
            description: "Failed logins and blocked connections.",
            acl: SEARCH_APP,
            is_dashboard: true,
            root_node: "dashboard",
            version: "2",
            source: studio_source(
                "Security Posture",
                "Failed logins and blocked connections.",
                &security_posture_definition(),
            ),
            updated: studio_updated,
        },
        View {
            name: "web_overview",
            label: "Web Overview",
            description: "Traffic, errors and large answers of the web tier.",
            acl: Acl {
                app: "search",
                owner: "admin",
                sharing: "app",
            },
            is_dashboard: true,
            root_node: "form",
            version: "1.1",
            source: WEB_OVERVIEW.to_owned(),
            updated: dashboards_updated,
        },
    ]
}

/// HTTP status codes with their meaning and class, one row per code the web index answers with
/// and a few more.
fn http_status(updated: DateTime<Utc>) -> LookupFile {
    let rows = [
        ("200", "OK", "Successful"),
        ("201", "Created", "Successful"),
        ("204", "No Content", "Successful"),
        ("301", "Moved Permanently", "Redirection"),
        ("304", "Not Modified", "Redirection"),
        ("400", "Bad Request", "Client Error"),
        ("401", "Unauthorized", "Client Error"),
        ("403", "Forbidden", "Client Error"),
        ("404", "Not Found", "Client Error"),
        ("500", "Internal Server Error", "Server Error"),
        ("502", "Bad Gateway", "Server Error"),
        ("503", "Service Unavailable", "Server Error"),
    ];
    LookupFile {
        name: "http_status.csv",
        acl: SEARCH_APP,
        fields: vec!["status", "status_description", "status_type"],
        rows: rows
            .into_iter()
            .map(|(status, description, kind)| vec![status, description, kind])
            .collect(),
        updated,
    }
}

/// A field of a data model dataset, as the model's JSON writes it.
fn model_field(name: &str, kind: &str, owner: &str) -> Value {
    json!({
        "fieldName": name,
        "owner": owner,
        "type": kind,
        "fieldSearch": "",
        "required": false,
        "multivalue": false,
        "hidden": false,
        "editable": true,
        "displayName": name,
        "comment": ""
    })
}

/// The `Web` model: the root dataset over the web index with the fields every event has and
/// the access log's own, `Errors` (status 400 and up) with a calculated `error_class`, and
/// `Server_Errors` below it. Child datasets list only their own fields, as Splunk stores them.
fn web_model(updated: DateTime<Utc>) -> DataModel {
    let mut root_fields: Vec<Value> = [
        ("_time", "timestamp"),
        ("host", "string"),
        ("source", "string"),
        ("sourcetype", "string"),
    ]
    .into_iter()
    .map(|(name, kind)| model_field(name, kind, "BaseEvent"))
    .collect();
    root_fields.extend(
        [
            ("status", "number"),
            ("uri", "string"),
            ("method", "string"),
            ("clientip", "ipv4"),
            ("bytes", "number"),
            ("user", "string"),
        ]
        .into_iter()
        .map(|(name, kind)| model_field(name, kind, "Web")),
    );
    let definition = json!({
        "modelName": "Web",
        "displayName": "Web",
        "description": "Web server access logs of the web index.",
        "editable": true,
        "objectSummary": {"Event-Based": 3, "Transaction-Based": 0, "Search-Based": 0},
        "objectNameList": ["Web", "Errors", "Server_Errors"],
        "objects": [
            {
                "objectName": "Web",
                "displayName": "Web requests",
                "parentName": "BaseEvent",
                "lineage": "Web",
                "comment": "",
                "constraints": [{"search": "index=web sourcetype=access_combined", "owner": "Web"}],
                "fields": root_fields,
                "calculations": []
            },
            {
                "objectName": "Errors",
                "displayName": "HTTP errors",
                "parentName": "Web",
                "lineage": "Web.Errors",
                "comment": "",
                "constraints": [{"search": "status>=400", "owner": "Web.Errors"}],
                "fields": [],
                "calculations": [{
                    "calculationID": "error_class_eval",
                    "calculationType": "Eval",
                    "expression": "if(status>=500, \"server\", \"client\")",
                    "owner": "Web.Errors",
                    "editable": true,
                    "comment": "",
                    "outputFields": [model_field("error_class", "string", "Web.Errors")]
                }]
            },
            {
                "objectName": "Server_Errors",
                "displayName": "Server errors",
                "parentName": "Errors",
                "lineage": "Web.Errors.Server_Errors",
                "comment": "",
                "constraints": [{"search": "status>=500", "owner": "Web.Errors.Server_Errors"}],
                "fields": [],
                "calculations": []
            }
        ]
    });
    DataModel {
        name: "Web",
        display_name: "Web",
        acl: SEARCH_APP,
        acceleration: json!({
            "enabled": true,
            "earliest_time": "-7d",
            "cron_schedule": "*/5 * * * *",
            "max_time": 3600
        }),
        definition,
        updated,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 7, 30).unwrap()
    }

    #[test]
    fn alerts_fire_on_their_schedules_before_now() {
        let knowledge = Knowledge::seeded(now());
        let alerts = &knowledge.fired_alerts;
        assert_eq!(alerts.len(), 6);
        assert!(
            alerts
                .windows(2)
                .all(|pair| pair[0].trigger_time >= pair[1].trigger_time),
            "newest first"
        );
        for alert in alerts {
            assert!(alert.trigger_time <= now(), "{alert:?}");
            let period = if alert.saved_search == "Blocked traffic sources" {
                3600
            } else {
                900
            };
            let offset = alert.trigger_time.timestamp().rem_euclid(period);
            assert!(offset == 7 || offset == 12, "{alert:?}");
            assert!(alert.id().starts_with(&alert.sid));
            assert!(alert.sid.starts_with("scheduler__nobody__search__RMD5"));
        }
        assert_eq!(
            alerts[0].trigger_time,
            Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 7).unwrap()
        );
    }

    #[test]
    fn lookups_resolve_by_file_or_definition() {
        let knowledge = Knowledge::seeded(now());
        let by_file = knowledge.lookup("http_status.csv").unwrap();
        let by_definition = knowledge.lookup("http_status").unwrap();
        assert_eq!(by_file, by_definition);
        assert!(knowledge.lookup("http_status.CSV").is_none());
        assert!(knowledge.lookup("nope").is_none());
        let records = by_file.records();
        assert_eq!(records.len(), 12);
        assert_eq!(
            records[0],
            [
                ("status", "200"),
                ("status_description", "OK"),
                ("status_type", "Successful")
            ]
        );
        let csv = by_file.csv();
        assert!(csv.starts_with("status,status_description,status_type\n200,OK,Successful\n"));
        assert_eq!(csv.lines().count(), 13);
    }

    #[test]
    fn dashboards_carry_their_sources() {
        let knowledge = Knowledge::seeded(now());
        let dashboards: Vec<&View> = knowledge.views.iter().filter(|v| v.is_dashboard).collect();
        assert_eq!(dashboards.len(), 2);
        let studio = dashboards.iter().find(|v| v.version == "2").unwrap();
        let start = studio.source.find("<![CDATA[").unwrap() + "<![CDATA[".len();
        let end = studio.source.find("]]>").unwrap();
        let definition: Value = serde_json::from_str(&studio.source[start..end]).unwrap();
        assert_eq!(
            definition["dataSources"]["ds_blocked"]["options"]["query"],
            "index=firewall action=blocked | timechart span=1h count"
        );
        let model = &knowledge.data_models[0];
        assert_eq!(model.summary()["objectSummary"]["Event-Based"], 3);
        assert_eq!(
            model.definition["objects"][0]["fields"][4]["fieldName"],
            "status"
        );
    }
}
