//! Contract tests for the Splunk emulator over real HTTP: every endpoint's status codes and bodies
//! (as insta snapshots, the reviewable statement of "behaves like Splunk 10.2"), the three auth
//! schemes, fault injection, TLS, the XML answers splunklib reads, and the knowledge objects.

mod admin;
mod auth;
mod catalog;
mod faults;
mod helpers;
mod knowledge;
mod kvstore;
mod search;
mod tls;
mod xml;
