//! Integration tests of oidc-proxy: one conformance suite run against every store, token
//! issuing checked by auth-core, and dynamic client registration over HTTP.

mod cimd;
mod conformance;
mod registration;
mod server_authorize;
mod server_limits;
mod server_support;
mod server_token;
mod stores;
mod support;
mod tokens;
mod upstream;
