//! A faithful emulator of Splunk 10.2's management REST API (port 8089), for tests and the demo.
//!
//! Start it from a test with [`Emulator::start`], or from a shell with the `splunk-emulator` binary.
//! Every endpoint answers under `/services/...` and `/servicesNS/{owner}/{app}/...` with Splunk's
//! Atom-JSON envelope, error bodies and status codes (see `splunk-rest.md` in the design notes).
//!
//! ```text
//! let emulator = Emulator::start(EmulatorConfig { tls: true, ..Default::default() }).await?;
//! let url = emulator.url();                    // https://127.0.0.1:PORT
//! let ca = emulator.ca_certificate_pem();      // trust this in the client
//! emulator.set_faults(FaultConfig { error_fraction: 1.0, ..Default::default() });
//! let log = emulator.request_log();            // what the client did, secrets redacted
//! ```
//!
//! The world it serves: user `admin` (password from the config, `changeme` by default), the SAML
//! users `alice` (web_analyst), `bob` (admin) and `carol` (user) to mirror, recorded as Splunk
//! keeps them after a sign-in under the test world's group mapping (`analysts` → web_analyst,
//! `admins` → admin; carol is in no group and holds `user` by name), roles
//! `admin`/`power`/`user`/`web_analyst`/`security_analyst`/`mcp_user`, the seeded indexes of
//! [`data`], five saved searches, four apps, two KV store collections (`assets`,
//! `threat_intel`), and knowledge objects: alerts fired by the two scheduled saved searches, the
//! dashboards `web_overview` (Simple XML) and `security_posture` (Dashboard Studio), the lookup
//! `http_status.csv` with its definition `http_status` (which `| inputlookup` reads), and the
//! data model `Web`. No IdP is trusted until one is configured through
//! `/services/authentication/providers/oauth2`.
//!
//! Assumptions where Splunk's behaviour is unconfirmed (see `splunk-rest.md`): an IdP JWT is
//! accepted as `Bearer` on every endpoint; its Splunk username comes from the provider's
//! `usernameClaim` (our parameter, default `sub`) falling back to `preferred_username`; such a
//! user reports `type` `OAuth2` and needs at least one mapped role. Answers are JSON, except
//! that without `output_mode=json` the calls splunklib makes on its search path (`auth/login`,
//! `server/info`, job creation, status and control) answer splunkd's XML.

pub mod data;
pub mod spl;

mod api;
mod auth;
mod config;
mod directory;
mod server;

pub use config::{EmulatorConfig, FaultConfig};
pub use server::{Emulator, EmulatorError, RequestLogEntry, RunningEmulator};
