//! Helpers shared by the cross-crate suites: a real HTTP server on an ephemeral port and a
//! small client.
