//! Cloud Spanner's admin API (v1): instances, databases, DDL and their operations.

use axum::Router;

use crate::world::Shared;

pub fn router() -> Router<Shared> {
    Router::new()
}
