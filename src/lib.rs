//! yagura: a declarative provisioner for fleets of microservices on Google Cloud
//! and Kubernetes. See ARCHITECTURE.md for the map of this crate.

pub mod lang;
pub mod fmt;
pub mod diag;
