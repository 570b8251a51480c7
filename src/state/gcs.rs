//! The `gcs` backend: instance states as objects in a Cloud Storage bucket,
//! written with generation preconditions.

use std::sync::Arc;
use std::time::Duration;

use super::{Backend, LockInfo, StateDocument, StateError, StateFuture, StateWriter};
use crate::addr::InstanceAddr;
use crate::providers::gcp::GcpClient;

/// States stored as objects `<prefix>/<service>/<env>.json` in `bucket`.
pub struct GcsBackend {
    client: Arc<GcpClient>,
    bucket: String,
    prefix: String,
}

impl GcsBackend {
    /// A backend over the Storage JSON API through `client` (its `storage` endpoint).
    pub fn new(client: Arc<GcpClient>, bucket: String, prefix: String) -> GcsBackend {
        GcsBackend {
            client,
            bucket,
            prefix,
        }
    }

    fn unavailable(&self) -> StateError {
        let _ = &self.client;
        StateError::Backend(format!(
            "the gcs backend (bucket {}, prefix {:?}) is not available in this build",
            self.bucket, self.prefix
        ))
    }
}

impl Backend for GcsBackend {
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
