//! The one integration test binary of auth-core: real local HTTP servers for JWKS, discovery
//! and introspection, the bad-token corpus, snapshots and the tower layer.

mod corpus;
mod introspection;
mod jwks;
mod layer;
mod snapshots;
mod support;
