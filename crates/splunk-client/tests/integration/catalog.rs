//! Catalog calls: server info, indexes, metadata, saved searches, apps and the KV store.

use std::time::Duration;

use serde_json::json;
use splunk_client::{
    DispatchOptions, Error, KvQuery, KvSort, ListOptions, MetadataKind, Namespace, SearchMode,
    TimeRange, WaitOptions,
};

use crate::over_http_and_https;
use crate::support::{World, param};

over_http_and_https!(
    server_info_and_context,
    indexes_list_get_and_not_found,
    metadata_of_an_index,
    saved_searches_list_get_dispatch_history,
    apps_are_listed,
    kv_store_collections_and_queries,
);

async fn server_info_and_context(world: World) {
    let admin = world.admin();
    let info = admin.server_info().await.unwrap();
    assert_eq!(info.version, "10.2.0");
    assert!(!info.guid.is_empty());
    assert!(!info.server_name.is_empty());
    let context = admin.current_context().await.unwrap();
    assert_eq!(context.username, "admin");
    assert!(context.capabilities.iter().any(|c| c == "edit_user"));
}

async fn indexes_list_get_and_not_found(world: World) {
    let admin = world.admin();
    let page = admin.list_indexes(&ListOptions::all()).await.unwrap();
    let names: Vec<&str> = page.items.iter().map(|i| i.name.as_str()).collect();
    for expected in ["web", "security", "firewall", "main", "_internal"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(page.paging.total as usize, page.items.len());
    let web = admin.get_index("web").await.unwrap();
    assert_eq!(web.name, "web");
    assert!(web.total_event_count > 0);
    assert_eq!(web.datatype, "event");
    let internal = admin.get_index("_internal").await.unwrap();
    assert!(internal.is_internal);
    assert!(matches!(
        admin.get_index("no_such_index").await,
        Err(Error::NotFound { .. })
    ));
    // A hostile name stays one path segment.
    assert!(matches!(
        admin.get_index("../server/info").await,
        Err(Error::NotFound { .. })
    ));
    let paged = admin.list_indexes(&ListOptions::page(1, 2)).await.unwrap();
    assert_eq!(paged.items.len(), 2);
    assert_eq!(paged.paging.offset, 1);
    let filtered = admin
        .list_indexes(&ListOptions::filtered("name=web"))
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 1);
}

async fn metadata_of_an_index(world: World) {
    let admin = world.admin();
    let all_time = TimeRange::parse("0", "").unwrap();
    for kind in [
        MetadataKind::Hosts,
        MetadataKind::Sources,
        MetadataKind::Sourcetypes,
    ] {
        let entries = admin.metadata(kind, "web", &all_time).await.unwrap();
        assert!(!entries.is_empty(), "{kind:?}");
        assert!(
            entries
                .iter()
                .all(|e| !e.value.is_empty() && e.total_count > 0),
            "{entries:?}"
        );
        assert!(entries.iter().all(|e| e.first_time <= e.last_time));
    }
    let sent = world.requests("POST", "/services/search/jobs");
    assert_eq!(
        param(&sent[0], "search"),
        Some("| metadata type=hosts index=web")
    );
    assert!(matches!(
        admin
            .metadata(MetadataKind::Hosts, "web | delete", &all_time)
            .await,
        Err(Error::InvalidArgument { .. })
    ));
}

async fn saved_searches_list_get_dispatch_history(world: World) {
    let admin = world.admin();
    let ns = Namespace::wildcard();
    let saved = admin
        .list_saved_searches(&ns, &ListOptions::all())
        .await
        .unwrap();
    assert!(saved.items.iter().any(|s| s.name == "Web server errors"));
    let one = admin
        .get_saved_search(&ns, "Web server errors")
        .await
        .unwrap();
    assert!(one.search.contains("index=web"));
    assert_eq!(one.dispatch_earliest_time, "-24h");
    assert_eq!(one.acl.app, "search");
    assert!(matches!(
        admin.get_saved_search(&ns, "No such search").await,
        Err(Error::NotFound { .. })
    ));
    let sid = admin
        .dispatch_saved_search(&ns, "Web server errors", &{
            let mut options = DispatchOptions::default();
            options.time_range = Some(TimeRange::since("-7d").unwrap());
            options.mode = Some(SearchMode::Fast);
            options.sample_ratio = Some(3);
            options
        })
        .await
        .unwrap();
    admin
        .wait_job(&sid, WaitOptions::with_deadline(Duration::from_secs(30)))
        .await
        .unwrap();
    let dispatched = world.requests("POST", "/dispatch");
    assert_eq!(
        dispatched[0].path,
        "/servicesNS/-/-/saved/searches/Web%20server%20errors/dispatch"
    );
    assert_eq!(param(&dispatched[0], "dispatch.earliest_time"), Some("-7d"));
    assert_eq!(
        param(&dispatched[0], "dispatch.adhoc_search_level"),
        Some("fast")
    );
    assert_eq!(param(&dispatched[0], "dispatch.sample_ratio"), Some("3"));
    let history = admin
        .saved_search_history(&ns, "Web server errors")
        .await
        .unwrap();
    assert!(history.iter().any(|run| run.sid() == sid), "{history:?}");
}

async fn apps_are_listed(world: World) {
    let admin = world.admin();
    let apps = admin.list_apps(&ListOptions::all()).await.unwrap();
    let search = apps
        .items
        .iter()
        .find(|a| a.name == "search")
        .expect("search app");
    assert_eq!(search.label, "Search & Reporting");
    assert!(search.visible);
}

async fn kv_store_collections_and_queries(world: World) {
    let admin = world.admin();
    let collections = admin.list_kv_collections("search").await.unwrap();
    let assets = collections
        .iter()
        .find(|c| c.name == "assets")
        .expect("assets collection");
    assert_eq!(
        assets.fields.get("hostname").map(String::as_str),
        Some("string")
    );
    assert!(assets.accelerated_fields.contains_key("by_host"));
    assert!(assets.enforce_types);
    let one = admin
        .get_kv_collection("search", "threat_intel")
        .await
        .unwrap();
    assert_eq!(one.name, "threat_intel");

    let everything = admin
        .kv_query("search", "assets", &KvQuery::default())
        .await
        .unwrap();
    assert_eq!(everything.len(), 6);
    let mut query = KvQuery::matching(json!({"owner": "bob"}));
    query.fields = vec!["hostname".into(), "priority".into()];
    query.sort = vec![KvSort::desc("priority"), KvSort::asc("hostname")];
    query.limit = Some(2);
    query.skip = Some(0);
    let docs = admin.kv_query("search", "assets", &query).await.unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["hostname"], "jump-01");
    assert!(docs[0].get("owner").is_none(), "fields projection applied");
    query.skip = Some(2);
    let skipped = admin.kv_query("search", "assets", &query).await.unwrap();
    assert_eq!(skipped.len(), 1);
    let sent = world.requests("GET", "/storage/collections/data/assets");
    assert_eq!(
        sent[1].path,
        "/servicesNS/nobody/search/storage/collections/data/assets"
    );
    assert_eq!(param(&sent[1], "sort"), Some("priority:-1,hostname:1"));
    assert!(matches!(
        admin
            .kv_query("search", "no_such_collection", &KvQuery::default())
            .await,
        Err(Error::NotFound { .. })
    ));
}
