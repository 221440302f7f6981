//! Integration tests of the MCP tools: a real rmcp client talks to [`SplunkTools`] over an
//! in-process duplex transport, and the tools call the Splunk emulator over real HTTP.

mod audit;
mod knowledge;
mod mirror;
mod support;
mod tools;
