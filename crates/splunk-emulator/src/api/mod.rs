//! The REST endpoints, declared once under `/services` (the pipeline maps `/servicesNS/{owner}/{app}`
//! onto them).

pub(crate) mod admin;
pub(crate) mod catalog;
pub(crate) mod export;
pub(crate) mod jobs;
pub(crate) mod knowledge;
pub(crate) mod kvstore;
pub(crate) mod search;

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};

use crate::server::{ApiError, AppState};

/// A job's result read: `GET`, and under v2 also `POST` (splunklib reads results, events and
/// previews by POST when Splunk is 9.0.2 or later).
fn read<H, T>(v2: bool, handler: H) -> MethodRouter<Arc<AppState>>
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    let route = get(handler.clone());
    if v2 { route.post(handler) } else { route }
}

/// Every route of the emulator.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/services/auth/login", post(admin::login))
        .route("/services/server/info", get(catalog::server_info))
        .route(
            "/services/search/parser",
            get(search::parse).post(search::parse),
        )
        .route(
            "/services/authentication/current-context",
            get(admin::current_context),
        )
        .route(
            "/services/authentication/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/services/authentication/users/{name}",
            get(admin::get_user)
                .post(admin::update_user)
                .delete(admin::delete_user),
        )
        .route(
            "/services/authorization/roles",
            get(admin::list_roles).post(admin::create_role),
        )
        .route(
            "/services/authorization/roles/{name}",
            get(admin::get_role)
                .post(admin::update_role)
                .delete(admin::delete_role),
        )
        .route(
            "/services/authorization/tokens",
            get(admin::list_tokens).post(admin::create_token),
        )
        .route(
            "/services/authorization/tokens/{name}",
            get(admin::list_user_tokens)
                .post(admin::update_token)
                .delete(admin::delete_token),
        )
        .route(
            "/services/authentication/providers/oauth2",
            get(admin::list_providers).post(admin::create_provider),
        )
        .route(
            "/services/authentication/providers/oauth2/{name}",
            get(admin::get_provider)
                .post(admin::update_provider)
                .delete(admin::delete_provider),
        )
        .route(
            "/services/admin/oauth2-groups",
            get(admin::list_groups).post(admin::create_group),
        )
        .route(
            "/services/admin/oauth2-groups/{name}",
            get(admin::get_group)
                .post(admin::update_group)
                .delete(admin::delete_group),
        )
        .route("/services/data/indexes", get(catalog::list_indexes))
        .route("/services/data/indexes/{name}", get(catalog::get_index))
        .route("/services/saved/searches", get(catalog::list_saved))
        .route("/services/saved/searches/{name}", get(catalog::get_saved))
        .route(
            "/services/saved/searches/{name}/dispatch",
            post(catalog::dispatch_saved),
        )
        .route(
            "/services/saved/searches/{name}/history",
            get(catalog::saved_history),
        )
        .route("/services/apps/local", get(catalog::list_apps))
        .route("/services/apps/local/{name}", get(catalog::get_app))
        .route(
            "/services/alerts/fired_alerts",
            get(knowledge::list_fired_alert_groups),
        )
        .route(
            "/services/alerts/fired_alerts/{name}",
            get(knowledge::list_fired_alerts),
        )
        .route("/services/data/ui/views", get(knowledge::list_views))
        .route("/services/data/ui/views/{name}", get(knowledge::get_view))
        .route(
            "/services/data/lookup-table-files",
            get(knowledge::list_lookup_files),
        )
        .route(
            "/services/data/lookup-table-files/{name}",
            get(knowledge::get_lookup_file),
        )
        .route(
            "/services/data/transforms/lookups",
            get(knowledge::list_lookup_definitions),
        )
        .route(
            "/services/data/transforms/lookups/{name}",
            get(knowledge::get_lookup_definition),
        )
        .route(
            "/services/datamodel/model",
            get(knowledge::list_data_models),
        )
        .route(
            "/services/datamodel/model/{name}",
            get(knowledge::get_data_model),
        )
        .route(
            "/services/storage/collections/config",
            get(kvstore::list_collections).post(kvstore::create_collection),
        )
        .route(
            "/services/storage/collections/config/{name}",
            get(kvstore::get_collection).delete(kvstore::delete_collection),
        )
        .route(
            "/services/storage/collections/data/{collection}",
            get(kvstore::query)
                .post(kvstore::insert)
                .delete(kvstore::delete_matching),
        )
        .route(
            "/services/storage/collections/data/{collection}/{key}",
            get(kvstore::get_document)
                .post(kvstore::update_document)
                .delete(kvstore::delete_document),
        );
    for base in ["/services/search/jobs", "/services/search/v2/jobs"] {
        let v2 = base.contains("/v2/");
        router = router
            .route(base, get(jobs::list).post(jobs::create))
            .route(
                &format!("{base}/export"),
                get(export::export).post(export::export),
            )
            .route(
                &format!("{base}/{{sid}}"),
                get(jobs::status).delete(jobs::remove),
            )
            .route(&format!("{base}/{{sid}}/results"), read(v2, jobs::results))
            .route(
                &format!("{base}/{{sid}}/results_preview"),
                read(v2, jobs::results_preview),
            )
            .route(&format!("{base}/{{sid}}/events"), read(v2, jobs::events))
            .route(&format!("{base}/{{sid}}/control"), post(jobs::control));
    }
    router
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "ERROR", "Not Found").into_response()
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "ERROR",
                "Method Not Allowed",
            )
            .into_response()
        })
        .with_state(state)
}
