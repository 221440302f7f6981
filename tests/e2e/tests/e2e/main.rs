//! End-to-end tests of the test world: users sign in at the real IdP (oidc-provider, under
//! `tests/idp`) through its automated login, and the Splunk emulator, configured over REST to
//! trust that IdP, validates their JWTs and maps their groups to roles; the private Redis the
//! proxy tests share can be paused. Real HTTP throughout; each test starts its own services.

mod idp;
mod redis;
mod splunk;
