//! The `postgres` backend: instance states in a PostgreSQL database, for teams
//! and concurrent CI.

use std::time::Duration;

use super::{Backend, LockInfo, StateDocument, StateError, StateFuture, StateWriter};
use crate::addr::InstanceAddr;

/// States stored in the database named by a connection string.
pub struct PostgresBackend {
    url: String,
}

impl PostgresBackend {
    /// A backend for `url` (`postgres://user@host:port/db`); connects on first use.
    pub fn new(url: String) -> PostgresBackend {
        PostgresBackend { url }
    }

    fn unavailable(&self) -> StateError {
        StateError::Backend(format!(
            "the postgres backend is not available in this build ({} characters of connection string ignored)",
            self.url.len()
        ))
    }
}

impl Backend for PostgresBackend {
    fn read<'a>(&'a self, _instance: &'a InstanceAddr) -> StateFuture<'a, Option<StateDocument>> {
        Box::pin(async move { Err(self.unavailable()) })
    }

    fn lock<'a>(
        &'a self,
        _instance: &'a InstanceAddr,
        _info: &'a LockInfo,
        _wait: Duration,
    ) -> StateFuture<'a, Box<dyn StateWriter>> {
        Box::pin(async move { Err(self.unavailable()) })
    }

    fn force_unlock<'a>(
        &'a self,
        _instance: &'a InstanceAddr,
    ) -> StateFuture<'a, Option<LockInfo>> {
        Box::pin(async move { Err(self.unavailable()) })
    }
}
