//! End-to-end tests of the test world, kept out of every library crate: the real OpenID
//! provider under `tests/idp` (oidc-provider) issuing tokens that the Splunk emulator validates.
//!
//! The library is empty on purpose; the tests are the `e2e` integration test binary
//! (`tests/e2e/main.rs`), which talks to both services over HTTP only. `cargo xtask test`
//! installs the IdP's npm packages before running it.
