//! Knowledge objects: fired alerts, dashboards and their searches, lookups, data models.

use splunk_client::{
    DashboardKind, DashboardSearch, Error, ListOptions, Namespace, SearchParams, TimeRange,
};

use crate::over_http_and_https;
use crate::support::{World, param};

over_http_and_https!(
    fired_alerts_by_saved_search,
    dashboards_and_the_searches_they_run,
    lookup_files_and_definitions,
    data_models_with_datasets_and_fields,
);

async fn fired_alerts_by_saved_search(world: World) {
    let admin = world.admin();
    let groups = admin
        .list_fired_alert_groups(&Namespace::wildcard(), &ListOptions::all())
        .await
        .unwrap();
    let summary: Vec<(&str, u64, bool)> = groups
        .items
        .iter()
        .map(|g| (g.name.as_str(), g.triggered_alert_count, g.is_all()))
        .collect();
    assert_eq!(
        summary,
        [
            ("-", 6, true),
            ("Blocked traffic sources", 2, false),
            ("Failed logins by user", 4, false)
        ]
    );
    let failed = &groups.items[2];
    assert_eq!(failed.namespace(), Namespace::new("nobody", "search"));
    let page = admin
        .list_fired_alerts(&failed.namespace(), &failed.name, &ListOptions::all())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 4);
    let newest = &page.items[0];
    assert_eq!(newest.saved_search, "Failed logins by user");
    assert_eq!((newest.severity, newest.severity_label()), (4, "error"));
    assert_eq!(newest.actions.as_deref(), Some("email"));
    assert!(newest.digest_mode);
    assert_eq!(newest.alert_type, "historical");
    assert_eq!(
        newest.name,
        format!("{}_{}", newest.sid, newest.trigger_time)
    );
    assert_eq!(newest.sid().as_str(), newest.sid);
    assert!(newest.trigger_time_rendered.ends_with(" UTC"));
    assert_eq!(newest.acl.app, "search");
    assert!(
        page.items
            .windows(2)
            .all(|pair| pair[0].trigger_time > pair[1].trigger_time)
    );
    let sent = world.requests("GET", "/alerts/fired_alerts");
    assert_eq!(sent[0].path, "/servicesNS/-/-/alerts/fired_alerts");
    assert_eq!(
        sent[1].path,
        "/servicesNS/nobody/search/alerts/fired_alerts/Failed%20logins%20by%20user"
    );
    let all = admin
        .list_fired_alerts(&Namespace::wildcard(), "-", &ListOptions::all())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 6);
    let blocked = all
        .items
        .iter()
        .find(|a| a.saved_search == "Blocked traffic sources")
        .unwrap();
    assert_eq!(blocked.actions, None);
    assert_eq!(blocked.severity_label(), "warn");
    assert!(
        admin
            .list_fired_alerts(&Namespace::wildcard(), "Top pages", &ListOptions::all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn dashboards_and_the_searches_they_run(world: World) {
    let admin = world.admin();
    let views = admin
        .list_views(&Namespace::wildcard(), &ListOptions::all())
        .await
        .unwrap();
    let dashboards: Vec<&str> = views
        .items
        .iter()
        .filter(|v| v.is_dashboard)
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(dashboards, ["security_posture", "web_overview"]);
    assert_eq!(views.items.len(), 4, "app pages are views too");

    let simple = admin
        .get_view(&Namespace::wildcard(), "web_overview")
        .await
        .unwrap();
    assert_eq!(simple.title(), "Web Overview");
    assert_eq!(simple.kind(), DashboardKind::SimpleXml);
    assert_eq!(simple.acl.owner, "admin");
    assert!(!simple.updated.is_empty());
    let searches = simple.searches();
    let queries: Vec<Option<&str>> = searches.iter().map(|s| s.query.as_deref()).collect();
    assert_eq!(
        queries,
        [
            Some("index=web | stats count by host | sort host"),
            Some("index=web host=$host_tok$ | timechart count by status"),
            Some("index=web host=$host_tok$ status>=500 | top limit=10 uri"),
            Some(
                "index=web bytes>4000 | stats count, avg(bytes) AS avg_bytes by uri | sort - count"
            ),
            None,
        ],
        "the commented-out panel is no search"
    );
    assert_eq!(searches[0].title.as_deref(), Some("Host"));
    assert_eq!(searches[0].earliest.as_deref(), Some("-7d@d"));
    assert_eq!(searches[1].id.as_deref(), Some("by_status"));
    assert_eq!(searches[1].title.as_deref(), Some("Requests by status"));
    assert_eq!(searches[1].earliest.as_deref(), Some("$time_tok.earliest$"));
    assert_eq!(
        searches[4].saved_search.as_deref(),
        Some("Failed logins by user")
    );

    let studio = admin
        .get_view(&Namespace::new("-", "search"), "security_posture")
        .await
        .unwrap();
    assert_eq!(studio.kind(), DashboardKind::Studio);
    let mut searches = studio.searches();
    searches.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = searches.iter().filter_map(|s| s.id.as_deref()).collect();
    assert_eq!(
        ids,
        [
            "ds_blocked",
            "ds_failed_logins",
            "ds_repeat_offenders",
            "ds_top_sources"
        ]
    );
    let blocked: &DashboardSearch = &searches[0];
    assert_eq!(
        blocked.query.as_deref(),
        Some("index=firewall action=blocked | timechart span=1h count")
    );
    assert_eq!(
        (blocked.earliest.as_deref(), blocked.latest.as_deref()),
        (Some("-7d@h"), Some("now")),
        "the defaults for ds.search"
    );
    assert_eq!(searches[1].earliest.as_deref(), Some("-24h@h"));
    assert_eq!(searches[2].base.as_deref(), Some("ds_failed_logins"));
    assert_eq!(
        searches[3].saved_search.as_deref(),
        Some("Blocked traffic sources")
    );

    assert!(matches!(
        admin.get_view(&Namespace::wildcard(), "nope").await,
        Err(Error::NotFound { .. })
    ));
    let elsewhere = admin
        .list_views(&Namespace::new("nobody", "launcher"), &ListOptions::all())
        .await
        .unwrap();
    assert!(elsewhere.items.is_empty());
}

async fn lookup_files_and_definitions(world: World) {
    let admin = world.admin();
    let files = admin
        .list_lookup_table_files(&Namespace::wildcard(), &ListOptions::all())
        .await
        .unwrap();
    assert_eq!(files.items.len(), 1);
    let file = &files.items[0];
    assert_eq!(file.name, "http_status.csv");
    assert_eq!(file.fields, ["status", "status_description", "status_type"]);
    assert!(file.size > 0 && file.last_modified_time > 0);
    assert!(file.path.ends_with("/lookups/http_status.csv"));
    let definitions = admin
        .list_lookup_definitions(&Namespace::wildcard(), &ListOptions::all())
        .await
        .unwrap();
    let definition = &definitions.items[0];
    assert_eq!(
        (definition.name.as_str(), definition.kind.as_str()),
        ("http_status", "file")
    );
    assert_eq!(definition.filename, "http_status.csv");
    assert_eq!(definition.fields, file.fields);
    assert_eq!(definition.acl.app, "search");
    let sent = world.requests("GET", "/data/transforms/lookups");
    assert_eq!(sent[0].path, "/servicesNS/-/-/data/transforms/lookups");

    // The rows, as splunk_lookup_query reads them.
    let params = SearchParams::with_time_range(TimeRange::parse("0", "now").unwrap());
    let rows = admin
        .oneshot("| inputlookup http_status where status>=500", &params)
        .await
        .unwrap();
    let statuses: Vec<&str> = rows
        .results
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["500", "502", "503"]);
}

async fn data_models_with_datasets_and_fields(world: World) {
    let admin = world.admin();
    let models = admin
        .list_data_models(&Namespace::wildcard(), &ListOptions::all())
        .await
        .unwrap();
    let sent = world.requests("GET", "/datamodel/model");
    assert_eq!(param(&sent[0], "concise"), Some("false"));
    assert_eq!(models.items.len(), 1);
    let web = &models.items[0];
    assert_eq!(
        (web.name.as_str(), web.display_name.as_str()),
        ("Web", "Web")
    );
    assert!(web.description.contains("web index"));
    assert!(web.acceleration.enabled);
    assert_eq!(web.acceleration.earliest_time.as_deref(), Some("-7d"));
    assert_eq!(
        web.acceleration.cron_schedule.as_deref(),
        Some("*/5 * * * *")
    );
    let lineages: Vec<&str> = web.datasets.iter().map(|d| d.lineage.as_str()).collect();
    assert_eq!(lineages, ["Web", "Web.Errors", "Web.Errors.Server_Errors"]);
    let root = &web.datasets[0];
    assert_eq!(root.parent, "BaseEvent");
    assert_eq!(root.constraints, ["index=web sourcetype=access_combined"]);
    assert_eq!(root.fields.len(), 10);
    let server_errors = &web.datasets[2];
    assert_eq!(server_errors.parent, "Errors");
    let fields: Vec<(&str, &str)> = server_errors
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.owner.as_str()))
        .collect();
    assert_eq!(fields.len(), 11, "inherited fields and the calculated one");
    assert_eq!(fields[0], ("_time", "BaseEvent"));
    assert!(fields.contains(&("status", "Web")));
    let class = server_errors
        .fields
        .iter()
        .find(|f| f.name == "error_class")
        .unwrap();
    assert!(class.calculated);
    assert_eq!(class.owner, "Web.Errors");

    let one = admin
        .get_data_model(&Namespace::wildcard(), "Web")
        .await
        .unwrap();
    assert_eq!(&one, web);
    assert!(matches!(
        admin.get_data_model(&Namespace::wildcard(), "Nope").await,
        Err(Error::NotFound { .. })
    ));
}
