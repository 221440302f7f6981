//! Request observation for metrics: a hook told of every HTTP request a client makes, with a
//! bounded label naming the operation (never a path carrying sids, user or index names).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

/// Told of every HTTP request a [`crate::Client`] sends, retries and logins included.
///
/// Called on the request's task right after the answer's headers arrive (or the transport
/// fails), so implementations must be quick and must not block: update a counter, no I/O.
pub trait RequestObserver: Send + Sync + fmt::Debug {
    /// One request ended: `operation` is a bounded label such as `search.create`,
    /// `search.results`, `export`, `auth.login`, `catalog.indexes` or `admin.users.create`;
    /// `status` is `None` when no answer came (connection failure, timeout); `elapsed` runs
    /// from sending to the answer's headers.
    fn on_request(&self, operation: &'static str, status: Option<u16>, elapsed: Duration);
}

/// The optional observer of a [`crate::ClientConfig`]. Compared and hashed by identity, so
/// that configurations with the same observer share a connection pool.
#[derive(Clone, Default)]
pub(crate) struct ObserverSlot(pub(crate) Option<Arc<dyn RequestObserver>>);

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(observer) => observer.fmt(f),
            None => f.write_str("None"),
        }
    }
}

impl ObserverSlot {
    fn address(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |o| Arc::as_ptr(o).cast::<()>() as usize)
    }
}

impl PartialEq for ObserverSlot {
    fn eq(&self, other: &Self) -> bool {
        self.address() == other.address()
    }
}

impl Eq for ObserverSlot {}

impl Hash for ObserverSlot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.address().hash(state);
    }
}

/// The bounded label of a request, from its method and path template (caller-supplied
/// segments written `{}`). Unknown combinations read `other` so the label set stays closed.
pub(crate) fn operation(method: &Method, template: &str) -> &'static str {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    match template {
        "/services/auth/login" => "auth.login",
        "/services/authentication/current-context" => "auth.current_context",
        "/services/server/info" => "server.info",
        "/services/search/jobs" if post => "search.create",
        "/services/search/jobs/export" => "export",
        "/services/search/jobs/{}" if get => "search.status",
        "/services/search/jobs/{}" if delete => "search.cancel",
        "/services/search/jobs/{}/results" => "search.results",
        "/services/search/jobs/{}/results_preview" => "search.results_preview",
        "/services/search/jobs/{}/events" => "search.events",
        "/services/search/jobs/{}/control" => "search.control",
        "/services/data/indexes" => "catalog.indexes",
        "/services/data/indexes/{}" => "catalog.index",
        "/services/apps/local" => "catalog.apps",
        "/servicesNS/{}/{}/saved/searches" => "catalog.saved_searches",
        "/servicesNS/{}/{}/saved/searches/{}" => "catalog.saved_search",
        "/servicesNS/{}/{}/saved/searches/{}/dispatch" => "catalog.saved_search.dispatch",
        "/servicesNS/{}/{}/saved/searches/{}/history" => "catalog.saved_search.history",
        "/servicesNS/{}/{}/storage/collections/config" => "kvstore.collections",
        "/servicesNS/{}/{}/storage/collections/config/{}" => "kvstore.collection",
        "/servicesNS/{}/{}/storage/collections/data/{}" => "kvstore.query",
        "/services/authentication/users" if get => "admin.users",
        "/services/authentication/users" if post => "admin.users.create",
        "/services/authentication/users/{}" if get => "admin.user",
        "/services/authentication/users/{}" if post => "admin.users.update",
        "/services/authentication/users/{}" if delete => "admin.users.delete",
        "/services/authorization/roles" => "admin.roles",
        "/services/authorization/tokens" if get => "admin.tokens",
        "/services/authorization/tokens" if post => "admin.tokens.create",
        "/services/authorization/tokens/{}" if post => "admin.tokens.update",
        "/services/authorization/tokens/{}" if delete => "admin.tokens.delete",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Endpoint, Namespace};

    #[test]
    fn labels_never_carry_names() {
        let job = Endpoint::services("search/jobs")
            .segment("1700000000.42_ABC")
            .unwrap()
            .fixed("results");
        assert_eq!(operation(&Method::GET, job.template()), "search.results");
        let user = Endpoint::services("authentication/users")
            .segment("mcp.alice")
            .unwrap();
        assert_eq!(
            operation(&Method::POST, user.template()),
            "admin.users.update"
        );
        let data = Endpoint::namespaced(&Namespace::shared("search"), "storage/collections/data")
            .unwrap()
            .segment("assets")
            .unwrap();
        assert_eq!(operation(&Method::GET, data.template()), "kvstore.query");
        assert_eq!(operation(&Method::PUT, "/services/whatever/{}"), "other");
    }
}
