//! Integration tests of splunk-client against the Splunk emulator, over HTTP and HTTPS.
//!
//! One binary (so the emulator crate is linked once); each module covers one area of the API.
//! Every test starts its own emulator on a free loopback port, so tests never share state.

mod admin;
mod auth;
mod catalog;
mod export;
mod knowledge;
mod mirror;
mod observe;
mod reliability;
mod search;
mod support;
