//! Authentication and administration: `auth/login`, `current-context`, users, roles, Splunk
//! tokens, external OAuth 2.0 providers and IdP group→role mappings.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::auth::oauth2::{GroupMapping, Provider};
use crate::auth::tokens::TokenRecord;
use crate::directory::{Directory, Role, User};
use crate::server::envelope::{self, Entry};
use crate::server::{ApiError, AppState, Ctx, HandlerResult, Params};

/// Values of a list parameter, given repeated or joined with `;` or `,`.
fn list_param(params: &Params, name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in params.all(name) {
        for item in value
            .split([';', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if !out.iter().any(|v| v == item) {
                out.push(item.to_owned());
            }
        }
    }
    out
}

fn bool_param(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "t" | "y"
    )
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing_argument(name))
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

// ----- auth/login and current-context -----

/// `POST /services/auth/login`.
pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let username = required(&ctx.params, "username")?;
    let password = required(&ctx.params, "password")?;
    let ok = state
        .directory
        .read()
        .users
        .get(username)
        .is_some_and(|u| u.check_password(password));
    if !ok {
        tracing::info!(user = %username, "login failed");
        return Err(ApiError::login_failed());
    }
    let key = state
        .sessions
        .issue(username, Duration::from_secs(state.config.session_ttl_secs));
    Ok(Json(json!({"sessionKey": key, "message": "", "code": ""})).into_response())
}

/// `GET /services/authentication/current-context`.
pub(crate) async fn current_context(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let content = obj(json!({
        "username": caller.username,
        "realname": caller.realname,
        "roles": caller.roles,
        "capabilities": caller.effective.capabilities,
        "defaultApp": caller.default_app,
        "email": caller.email,
        "tz": "",
        "type": caller.user_type,
        "lockout": false,
        "search_use_sid": false,
    }));
    let path = "/services/authentication/current-context/context";
    let entry = Entry::new("context", path, content).owned_by("nobody", "system", "system");
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        "/services/authentication/current-context",
        entry,
    ))
}

// ----- users -----

const USERS: &str = "/services/authentication/users";

fn user_entry(directory: &Directory, user: &User) -> Entry {
    let effective = directory.effective(&user.roles);
    let content = obj(json!({
        "capabilities": effective.capabilities,
        "defaultApp": user.default_app,
        "defaultAppIsUserOverride": false,
        "defaultAppSourceRole": "system",
        "email": user.email,
        "force_change_pass": user.force_change_pass,
        "last_successful_login": "",
        "locked-out": false,
        "realname": user.realname,
        "restart_background_jobs": true,
        "roles": user.roles,
        "type": user.user_type.label(),
        "tz": user.tz,
    }));
    let mut entry = Entry::new(user.name.clone(), format!("{USERS}/{}", user.name), content)
        .owned_by("system", "system", "system")
        .editable();
    entry.updated = user.updated;
    entry
}

fn no_such_user(name: &str) -> ApiError {
    ApiError::not_found_text(format!("User \"{name}\" does not exist."))
}

/// `GET /services/authentication/users`.
pub(crate) async fn list_users(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let directory = state.directory.read();
    let everyone = caller.can("edit_user") || caller.can("admin_all_objects");
    let entries = directory
        .users
        .values()
        .filter(|u| everyone || u.name == caller.username)
        .map(|u| user_entry(&directory, u))
        .collect();
    envelope::feed(&state, USERS, entries, &ctx.params)
}

/// `GET /services/authentication/users/{name}`.
pub(crate) async fn get_user(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    if name != caller.username {
        caller.require("edit_user")?;
    }
    let directory = state.directory.read();
    let user = directory
        .users
        .get(&name)
        .ok_or_else(|| no_such_user(&name))?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        USERS,
        user_entry(&directory, user),
    ))
}

fn apply_user_fields(user: &mut User, params: &Params) {
    if let Some(v) = params.get("realname") {
        user.realname = v.to_owned();
    }
    if let Some(v) = params.get("email") {
        user.email = v.to_owned();
    }
    if let Some(v) = params.get("defaultApp") {
        user.default_app = v.to_owned();
    }
    if let Some(v) = params.get("tz") {
        user.tz = v.to_owned();
    }
    if let Some(v) = params.get("force-change-pass") {
        user.force_change_pass = bool_param(v);
    }
    if let Some(p) = params.get("password").filter(|p| !p.is_empty()) {
        user.set_password(p);
    }
    user.updated = Utc::now();
}

/// `POST /services/authentication/users`.
pub(crate) async fn create_user(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_user")?;
    let name = required(&ctx.params, "name")?.to_owned();
    let mut directory = state.directory.write();
    if directory.users.contains_key(&name) {
        return Err(ApiError::conflict(&name));
    }
    let password = required(&ctx.params, "password")?;
    let roles = list_param(&ctx.params, "roles");
    if roles.is_empty() {
        return Err(ApiError::missing_argument("roles"));
    }
    directory
        .check_grantable(&caller.effective, &roles)
        .map_err(ApiError::bad_request)?;
    let user = directory.insert_user(&name, Some(password), roles);
    apply_user_fields(user, &ctx.params);
    tracing::info!(user = %name, by = %caller.username, "user created");
    let user = directory.users[&name].clone();
    Ok(envelope::single(
        &state,
        StatusCode::CREATED,
        USERS,
        user_entry(&directory, &user),
    ))
}

/// `POST /services/authentication/users/{name}`: `roles` (repeated) replaces the role list.
pub(crate) async fn update_user(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let changes_roles = ctx.params.has("roles");
    if name != caller.username || changes_roles {
        caller.require("edit_user")?;
    }
    let mut directory = state.directory.write();
    if !directory.users.contains_key(&name) {
        return Err(no_such_user(&name));
    }
    let roles = list_param(&ctx.params, "roles");
    if changes_roles {
        if roles.is_empty() {
            return Err(ApiError::missing_argument("roles"));
        }
        directory
            .check_grantable(&caller.effective, &roles)
            .map_err(ApiError::bad_request)?;
    }
    let Some(user) = directory.users.get_mut(&name) else {
        return Err(no_such_user(&name));
    };
    if changes_roles {
        user.roles = roles;
    }
    apply_user_fields(user, &ctx.params);
    let user = user.clone();
    tracing::info!(user = %name, by = %caller.username, "user updated");
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        USERS,
        user_entry(&directory, &user),
    ))
}

/// `DELETE /services/authentication/users/{name}`.
pub(crate) async fn delete_user(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_user")?;
    let entries = {
        let mut directory = state.directory.write();
        directory
            .users
            .remove(&name)
            .ok_or_else(|| no_such_user(&name))?;
        directory
            .users
            .values()
            .map(|u| user_entry(&directory, u))
            .collect()
    };
    state.sessions.end_for_user(&name);
    envelope::feed(&state, USERS, entries, &ctx.params)
}

// ----- roles -----

const ROLES: &str = "/services/authorization/roles";

fn role_entry(directory: &Directory, role: &Role) -> Entry {
    let imported = directory.effective(&role.imported_roles);
    let content = obj(json!({
        "capabilities": role.capabilities,
        "cumulativeRTSrchJobsQuota": 0,
        "cumulativeSrchJobsQuota": 0,
        "defaultApp": role.default_app,
        "grantable_roles": role.grantable_roles,
        "imported_capabilities": imported.capabilities,
        "imported_roles": role.imported_roles,
        "imported_rtSrchJobsQuota": 0,
        "imported_srchDiskQuota": 0,
        "imported_srchFilter": "",
        "imported_srchIndexesAllowed": imported.allowed_indexes,
        "imported_srchIndexesDefault": imported.default_indexes,
        "imported_srchJobsQuota": 0,
        "imported_srchTimeWin": -1,
        "rtSrchJobsQuota": 6,
        "srchDiskQuota": 100,
        "srchFilter": "",
        "srchIndexesAllowed": role.srch_indexes_allowed,
        "srchIndexesDefault": role.srch_indexes_default,
        "srchJobsQuota": 3,
        "srchTimeWin": -1,
    }));
    Entry::new(role.name.clone(), format!("{ROLES}/{}", role.name), content)
        .owned_by("nobody", "system", "system")
        .editable()
}

/// `GET /services/authorization/roles`.
pub(crate) async fn list_roles(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    let directory = state.directory.read();
    let entries = directory
        .roles
        .values()
        .map(|r| role_entry(&directory, r))
        .collect();
    envelope::feed(&state, ROLES, entries, &ctx.params)
}

/// `GET /services/authorization/roles/{name}`.
pub(crate) async fn get_role(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let directory = state.directory.read();
    let role = directory.roles.get(&name).ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        ROLES,
        role_entry(&directory, role),
    ))
}

fn apply_role_fields(
    directory: &Directory,
    role: &mut Role,
    params: &Params,
) -> Result<(), ApiError> {
    if params.has("capabilities") {
        role.capabilities = list_param(params, "capabilities");
    }
    if params.has("imported_roles") {
        let imported = list_param(params, "imported_roles");
        if let Some(missing) = imported.iter().find(|r| !directory.roles.contains_key(*r)) {
            return Err(ApiError::bad_request(format!(
                "Role={missing} is not grantable"
            )));
        }
        role.imported_roles = imported;
    }
    if params.has("srchIndexesAllowed") {
        role.srch_indexes_allowed = list_param(params, "srchIndexesAllowed");
    }
    if params.has("srchIndexesDefault") {
        role.srch_indexes_default = list_param(params, "srchIndexesDefault");
    }
    if params.has("grantable_roles") {
        role.grantable_roles = list_param(params, "grantable_roles");
    }
    if let Some(app) = params.get("defaultApp") {
        role.default_app = app.to_owned();
    }
    Ok(())
}

/// `POST /services/authorization/roles`.
pub(crate) async fn create_role(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_roles")?;
    let name = required(&ctx.params, "name")?.to_lowercase();
    let mut directory = state.directory.write();
    if directory.roles.contains_key(&name) {
        return Err(ApiError::conflict(&name));
    }
    let mut role = Role {
        name: name.clone(),
        capabilities: Vec::new(),
        imported_roles: Vec::new(),
        srch_indexes_allowed: Vec::new(),
        srch_indexes_default: Vec::new(),
        grantable_roles: Vec::new(),
        default_app: String::new(),
    };
    apply_role_fields(&directory, &mut role, &ctx.params)?;
    directory.roles.insert(name, role.clone());
    Ok(envelope::single(
        &state,
        StatusCode::CREATED,
        ROLES,
        role_entry(&directory, &role),
    ))
}

/// `POST /services/authorization/roles/{name}`.
pub(crate) async fn update_role(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_roles")?;
    let mut directory = state.directory.write();
    let mut role = directory
        .roles
        .get(&name)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    apply_role_fields(&directory, &mut role, &ctx.params)?;
    directory.roles.insert(name, role.clone());
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        ROLES,
        role_entry(&directory, &role),
    ))
}

/// `DELETE /services/authorization/roles/{name}`.
pub(crate) async fn delete_role(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_roles")?;
    let mut directory = state.directory.write();
    directory
        .roles
        .remove(&name)
        .ok_or_else(ApiError::not_found)?;
    let entries = directory
        .roles
        .values()
        .map(|r| role_entry(&directory, r))
        .collect();
    envelope::feed(&state, ROLES, entries, &ctx.params)
}

// ----- Splunk tokens -----

const TOKENS: &str = "/services/authorization/tokens";

fn token_entry(directory: &Directory, record: &TokenRecord) -> Entry {
    let roles = directory
        .users
        .get(&record.user)
        .map(|u| u.roles.clone())
        .unwrap_or_default();
    let content = obj(json!({
        "claims": record.claims(&roles),
        "headers": TokenRecord::headers(),
        "lastUsed": record.last_used,
        "lastUsedIp": "",
        "status": record.status,
    }));
    let mut entry = Entry::new(
        record.id.clone(),
        format!("{TOKENS}/{}", record.id),
        content,
    )
    .owned_by(&record.user, "system", "user")
    .editable();
    entry.updated = chrono::DateTime::from_timestamp(record.issued_at, 0).unwrap_or_default();
    entry
}

fn token_time(text: Option<&str>, name: &str) -> Result<i64, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    if let Ok(epoch) = text.parse::<i64>() {
        return Ok(epoch);
    }
    crate::spl::parse_time(text, Utc::now())
        .map(|t| t.timestamp())
        .map_err(|_| ApiError::bad_request(format!("Invalid value for {name}: {text}")))
}

/// Checks the caller may manage the tokens of `user`.
fn require_token_rights(caller: &Caller, user: &str) -> Result<(), ApiError> {
    if caller.can("edit_tokens_all") {
        return Ok(());
    }
    if user == caller.username {
        caller.require("edit_tokens_own")
    } else {
        caller.require("edit_tokens_all")
    }
}

/// `POST /services/authorization/tokens`: mints a token (`name` = user, `audience`, `expires_on`, `not_before`).
pub(crate) async fn create_token(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let user = required(&ctx.params, "name")?.to_owned();
    require_token_rights(caller, &user)?;
    if user != caller.username && !state.directory.read().users.contains_key(&user) {
        return Err(ApiError::bad_request(format!(
            "User \"{user}\" does not exist."
        )));
    }
    let audience = required(&ctx.params, "audience")?;
    let expires_at = token_time(ctx.params.get("expires_on"), "expires_on")?;
    let not_before = token_time(ctx.params.get("not_before"), "not_before")?;
    let enabled = ctx.params.get("status").is_none_or(|s| s != "disabled");
    let (record, token) = state
        .tokens
        .mint(
            &caller.username,
            &user,
            audience,
            expires_at,
            not_before,
            enabled,
        )
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ERROR", e))?;
    tracing::info!(user = %user, by = %caller.username, token_id = %record.id, "token minted");
    let content = obj(json!({"id": record.id, "token": token}));
    let entry =
        Entry::new("tokens", format!("{TOKENS}/tokens"), content).owned_by(&user, "system", "user");
    Ok(envelope::single(&state, StatusCode::CREATED, TOKENS, entry))
}

fn token_listing(state: &AppState, ctx: &Ctx, only_user: Option<&str>) -> HandlerResult {
    let caller = ctx.caller()?;
    let all = caller.can("edit_tokens_all") || caller.can("list_tokens_all");
    if !all {
        if !(caller.can("edit_tokens_own") || caller.can("list_tokens_own")) {
            return Err(ApiError::missing_capability(
                &caller.username,
                "edit_tokens_own",
            ));
        }
        if only_user.is_some_and(|u| u != caller.username) {
            return Err(ApiError::missing_capability(
                &caller.username,
                "edit_tokens_all",
            ));
        }
    }
    let username = only_user
        .or(ctx.params.get("username"))
        .filter(|u| !u.is_empty());
    let status = ctx.params.get("status").filter(|s| !s.is_empty());
    let directory = state.directory.read();
    let entries = state
        .tokens
        .list()
        .iter()
        .filter(|t| all || t.user == caller.username)
        .filter(|t| username.is_none_or(|u| t.user == u))
        .filter(|t| status.is_none_or(|s| t.status == s))
        .map(|t| token_entry(&directory, t))
        .collect();
    envelope::feed(state, TOKENS, entries, &ctx.params)
}

/// `GET /services/authorization/tokens?username=&status=`.
pub(crate) async fn list_tokens(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    token_listing(&state, &ctx, None)
}

/// `GET /services/authorization/tokens/{user}`.
pub(crate) async fn list_user_tokens(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    token_listing(&state, &ctx, Some(&name))
}

/// `POST /services/authorization/tokens/{user}` with `id` and `status=enabled|disabled`.
pub(crate) async fn update_token(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    require_token_rights(caller, &name)?;
    let id = required(&ctx.params, "id")?;
    let status = required(&ctx.params, "status")?;
    if !matches!(status, "enabled" | "disabled") {
        return Err(ApiError::bad_request(format!(
            "Invalid value for status: {status}"
        )));
    }
    match state.tokens.get(id) {
        Some(t) if t.user == name => {}
        _ => return Err(ApiError::not_found()),
    }
    let record = state
        .tokens
        .set_status(id, status == "enabled")
        .ok_or_else(ApiError::not_found)?;
    let directory = state.directory.read();
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        TOKENS,
        token_entry(&directory, &record),
    ))
}

/// `DELETE /services/authorization/tokens/{user}?id=<id>`.
pub(crate) async fn delete_token(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    require_token_rights(caller, &name)?;
    let id = required(&ctx.params, "id")?;
    match state.tokens.get(id) {
        Some(t) if t.user == name => {}
        _ => return Err(ApiError::not_found()),
    }
    state.tokens.delete(id);
    tracing::info!(user = %name, by = %caller.username, token_id = %id, "token deleted");
    let directory = state.directory.read();
    let entries = state
        .tokens
        .list()
        .iter()
        .filter(|t| t.user == name)
        .map(|t| token_entry(&directory, t))
        .collect();
    envelope::feed(&state, TOKENS, entries, &Params::default())
}

// ----- OAuth 2.0 providers -----

const PROVIDERS: &str = "/services/authentication/providers/oauth2";

fn provider_entry(provider: &Provider) -> Entry {
    let content = obj(json!({
        "audience": provider.audience,
        "clientFullNameClaim": provider.client_full_name_claim,
        "clientIdClaim": provider.client_id_claim,
        "disabled": provider.disabled,
        "groupsClaim": provider.groups_claim,
        "issuer": provider.issuer,
        "jwks_uri": provider.jwks_uri,
        "usernameClaim": provider.username_claim,
    }));
    let mut entry = Entry::new(
        provider.name.clone(),
        format!("{PROVIDERS}/{}", provider.name),
        content,
    )
    .owned_by("nobody", "system", "system")
    .editable();
    entry.updated = provider.updated;
    entry
}

fn apply_provider_fields(provider: &mut Provider, params: &Params) {
    let set = |field: &mut String, name: &str| {
        if let Some(v) = params.get(name) {
            *field = v.to_owned();
        }
    };
    set(&mut provider.issuer, "issuer");
    set(&mut provider.jwks_uri, "jwks_uri");
    set(&mut provider.audience, "audience");
    set(&mut provider.groups_claim, "groupsClaim");
    set(&mut provider.client_id_claim, "clientIdClaim");
    set(&mut provider.client_full_name_claim, "clientFullNameClaim");
    set(&mut provider.username_claim, "usernameClaim");
    if let Some(v) = params.get("disabled") {
        provider.disabled = bool_param(v);
    }
    provider.updated = Utc::now();
}

/// `GET /services/authentication/providers/oauth2`.
pub(crate) async fn list_providers(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?.require("list_oauth_configs")?;
    let entries = state
        .oauth2
        .providers
        .read()
        .values()
        .map(provider_entry)
        .collect();
    envelope::feed(&state, PROVIDERS, entries, &ctx.params)
}

/// `POST /services/authentication/providers/oauth2`.
pub(crate) async fn create_provider(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?.require("edit_oauth_configs")?;
    let name = required(&ctx.params, "name")?;
    let issuer = required(&ctx.params, "issuer")?;
    let jwks_uri = required(&ctx.params, "jwks_uri")?;
    let mut providers = state.oauth2.providers.write();
    if providers.contains_key(name) {
        return Err(ApiError::conflict(name));
    }
    let mut provider = Provider::new(name, issuer, jwks_uri);
    apply_provider_fields(&mut provider, &ctx.params);
    providers.insert(name.to_owned(), provider.clone());
    tracing::info!(provider = %name, issuer = %issuer, "oauth2 provider configured");
    Ok(envelope::single(
        &state,
        StatusCode::CREATED,
        PROVIDERS,
        provider_entry(&provider),
    ))
}

/// `GET /services/authentication/providers/oauth2/{name}`.
pub(crate) async fn get_provider(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?.require("list_oauth_configs")?;
    let provider = state
        .oauth2
        .providers
        .read()
        .get(&name)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        PROVIDERS,
        provider_entry(&provider),
    ))
}

/// `POST /services/authentication/providers/oauth2/{name}`.
pub(crate) async fn update_provider(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?.require("edit_oauth_configs")?;
    let mut providers = state.oauth2.providers.write();
    let provider = providers.get_mut(&name).ok_or_else(ApiError::not_found)?;
    apply_provider_fields(provider, &ctx.params);
    let provider = provider.clone();
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        PROVIDERS,
        provider_entry(&provider),
    ))
}

/// `DELETE /services/authentication/providers/oauth2/{name}`.
pub(crate) async fn delete_provider(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?.require("edit_oauth_configs")?;
    let mut providers = state.oauth2.providers.write();
    providers.remove(&name).ok_or_else(ApiError::not_found)?;
    let entries = providers.values().map(provider_entry).collect();
    envelope::feed(&state, PROVIDERS, entries, &ctx.params)
}

// ----- IdP group → role mappings -----

const GROUPS: &str = "/services/admin/oauth2-groups";

fn group_entry(mapping: &GroupMapping) -> Entry {
    let content = obj(json!({"config": mapping.config, "roles": mapping.roles}));
    let mut entry = Entry::new(
        mapping.name.clone(),
        format!("{GROUPS}/{}", mapping.name),
        content,
    )
    .owned_by("nobody", "system", "system")
    .editable();
    entry.updated = mapping.updated;
    entry
}

fn mapping_roles(
    state: &AppState,
    caller: &Caller,
    params: &Params,
) -> Result<Vec<String>, ApiError> {
    let roles = list_param(params, "roles");
    if roles.is_empty() {
        return Err(ApiError::missing_argument("roles"));
    }
    state
        .directory
        .read()
        .check_grantable(&caller.effective, &roles)
        .map_err(ApiError::bad_request)?;
    Ok(roles)
}

/// `GET /services/admin/oauth2-groups`.
pub(crate) async fn list_groups(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?.require("list_oauth_configs")?;
    let entries = state
        .oauth2
        .groups
        .read()
        .values()
        .map(group_entry)
        .collect();
    envelope::feed(&state, GROUPS, entries, &ctx.params)
}

/// `POST /services/admin/oauth2-groups` (`name` = IdP group, `config`, `roles` repeated).
pub(crate) async fn create_group(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_oauth_configs")?;
    let name = required(&ctx.params, "name")?;
    let roles = mapping_roles(&state, caller, &ctx.params)?;
    let mut groups = state.oauth2.groups.write();
    if groups.contains_key(name) {
        return Err(ApiError::conflict(name));
    }
    let mapping = GroupMapping {
        name: name.to_owned(),
        config: ctx.params.get("config").unwrap_or_default().to_owned(),
        roles,
        updated: Utc::now(),
    };
    groups.insert(name.to_owned(), mapping.clone());
    Ok(envelope::single(
        &state,
        StatusCode::CREATED,
        GROUPS,
        group_entry(&mapping),
    ))
}

/// `GET /services/admin/oauth2-groups/{name}`.
pub(crate) async fn get_group(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?.require("list_oauth_configs")?;
    let mapping = state
        .oauth2
        .groups
        .read()
        .get(&name)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        GROUPS,
        group_entry(&mapping),
    ))
}

/// `POST /services/admin/oauth2-groups/{name}`: `roles` replaces the mapped roles.
pub(crate) async fn update_group(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    caller.require("edit_oauth_configs")?;
    let roles = if ctx.params.has("roles") {
        Some(mapping_roles(&state, caller, &ctx.params)?)
    } else {
        None
    };
    let mut groups = state.oauth2.groups.write();
    let mapping = groups.get_mut(&name).ok_or_else(ApiError::not_found)?;
    if let Some(roles) = roles {
        mapping.roles = roles;
    }
    if let Some(config) = ctx.params.get("config") {
        mapping.config = config.to_owned();
    }
    mapping.updated = Utc::now();
    let mapping = mapping.clone();
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        GROUPS,
        group_entry(&mapping),
    ))
}

/// `DELETE /services/admin/oauth2-groups/{name}`.
pub(crate) async fn delete_group(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?.require("edit_oauth_configs")?;
    let mut groups = state.oauth2.groups.write();
    groups.remove(&name).ok_or_else(ApiError::not_found)?;
    let entries = groups.values().map(group_entry).collect();
    envelope::feed(&state, GROUPS, entries, &ctx.params)
}
