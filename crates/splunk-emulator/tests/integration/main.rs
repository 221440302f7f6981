//! Contract tests for the Splunk emulator over real HTTP: every endpoint's status codes and bodies
//! (as insta snapshots, the reviewable statement of "behaves like Splunk 10.2"), the three auth
//! schemes, fault injection, TLS, and the XML answers splunklib reads.

mod admin;
mod auth;
mod catalog;
mod faults;
mod helpers;
mod kvstore;
mod search;
mod tls;
mod xml;
