//! yagura: a declarative provisioner for fleets of microservices on Google Cloud
//! and Kubernetes. See ARCHITECTURE.md for the map of this crate.

// Diagnostics are the error type of the evaluator and loaders: they travel on
// the rare error path, so their size does not matter for speed.
#![allow(clippy::result_large_err)]

pub mod addr;
pub mod apply;
pub mod cli;
pub mod config;
pub mod diag;
pub mod fmt;
pub mod graph;
pub mod lang;
pub mod plan;
pub mod providers;
pub mod refresh;
pub mod render;
pub mod schema;
pub mod state;
