//! The local backend: one JSON file per instance under the repo's `state/`.

use std::path::PathBuf;

use super::{Backend, StateDocument, StateError};
use crate::addr::InstanceAddr;

/// States stored as `<dir>/<service>/<env>.json`.
pub struct LocalBackend {
    pub dir: PathBuf,
}

impl LocalBackend {
    pub fn new(dir: PathBuf) -> LocalBackend {
        LocalBackend { dir }
    }

    pub fn path(&self, instance: &InstanceAddr) -> PathBuf {
        self.dir
            .join(&instance.service)
            .join(format!("{}.json", instance.env))
    }
}

impl Backend for LocalBackend {
    fn read(&self, instance: &InstanceAddr) -> Result<Option<StateDocument>, StateError> {
        let path = self.path(instance);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let document =
            StateDocument::from_json(&text).map_err(|reason| StateError::Unreadable {
                path: path.clone(),
                reason,
            })?;
        if &document.instance != instance {
            return Err(StateError::WrongInstance {
                path,
                found: document.instance,
                expected: instance.clone(),
            });
        }
        Ok(Some(document))
    }
}
