//! The `splunk-mcp` binary end to end: spawned as a child process with a clean environment,
//! in front of the real IdP (tests/idp) and an in-process Splunk emulator that trusts it,
//! driven by real MCP clients (rmcp over streamable HTTP and stdio, the TypeScript SDK).
//!
//! One integration-test binary so the build is shared; each test starts its own world.

mod config;
mod custom_tools;
mod doctor;
mod errors;
mod exchange;
mod http_auth;
mod id_jag;
mod long_searches;
mod mirror;
mod outages;
mod passthrough;
mod policy;
mod probes;
mod proxy;
mod proxy_attacks;
mod proxy_flow;
mod proxy_forwarded;
mod proxy_replicas;
mod proxy_steps;
mod scopes;
mod spl_guard;
mod stdio;
mod support;
mod tasks;
