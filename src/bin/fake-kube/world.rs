//! The fake cluster's in-memory state: every stored object, the resource version
//! counter, and the watch history.
//!
//! One `World` behind one mutex holds every object, keyed by resource, namespace
//! and name, so lists come out in the apiserver's order (by namespace, then name).
//! Every write takes the next value of one global counter as its
//! `resourceVersion`, as etcd's revision does, and records a watch event. Handlers
//! lock it through `Server::world`; nothing awaits while holding the lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::dice::Faults;
use crate::fieldmanager::ManagedEntry;
use crate::kinds::{self, Kind};
use crate::schemas::Schemas;

/// Timing knobs of the fake cluster.
pub struct Settings {
    /// How long a deleted namespace stays `Terminating` before it is gone.
    pub namespace_finalize: Duration,
}

/// The namespaces every cluster starts with.
pub const INITIAL_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

/// The namespaces the apiserver refuses to delete.
pub const UNDELETABLE_NAMESPACES: &[&str] = &["default", "kube-public", "kube-system"];

/// How many watch events are kept for watches that start in the past.
const HISTORY: usize = 1000;

/// One stored object: its JSON without `metadata.managedFields`, and its owners.
#[derive(Debug, Clone)]
pub struct Stored {
    pub body: Value,
    pub entries: Vec<ManagedEntry>,
}

impl Stored {
    /// Returns the object as the API shows it, `managedFields` included.
    pub fn render(&self) -> Value {
        let mut object = self.body.clone();
        if !self.entries.is_empty()
            && let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata.insert(
                "managedFields".to_owned(),
                self.entries.iter().map(ManagedEntry::to_json).collect(),
            );
        }
        object
    }

    pub fn resource_version(&self) -> &str {
        self.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
    }

    pub fn uid(&self) -> &str {
        self.body["metadata"]["uid"].as_str().unwrap_or_default()
    }

    /// Reports whether the object has been deleted and waits for its finalizers.
    pub fn is_terminating(&self) -> bool {
        !self.body["metadata"]["deletionTimestamp"].is_null()
    }
}

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, for watches.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// The resource version the change produced.
    pub revision: u64,
    pub resource: &'static str,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub event_type: EventType,
    /// The object after the change (before it, for a deletion), rendered.
    pub object: Value,
}

/// The key of a stored object: resource, namespace (empty when cluster-scoped), name.
type Key = (&'static str, String, String);

fn key(kind: &Kind, namespace: Option<&str>, name: &str) -> Key {
    let namespace = if kind.namespaced {
        namespace.unwrap_or_default()
    } else {
        ""
    };
    (kind.resource, namespace.to_owned(), name.to_owned())
}

/// Every object of the fake cluster.
pub struct World {
    objects: BTreeMap<Key, Stored>,
    revision: u64,
    history: VecDeque<WatchEvent>,
    events: broadcast::Sender<WatchEvent>,
}

impl World {
    fn new(events: broadcast::Sender<WatchEvent>) -> World {
        World {
            objects: BTreeMap::new(),
            revision: 0,
            history: VecDeque::new(),
            events,
        }
    }

    pub fn get(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Option<&Stored> {
        self.objects.get(&key(kind, namespace, name))
    }

    /// Returns the objects of a kind, in one namespace or in all, in key order.
    pub fn list(&self, kind: &Kind, namespace: Option<&str>) -> Vec<&Stored> {
        self.objects
            .iter()
            .filter(|((resource, object_namespace, _), _)| {
                *resource == kind.resource
                    && namespace
                        .is_none_or(|namespace| !kind.namespaced || object_namespace == namespace)
            })
            .map(|(_, stored)| stored)
            .collect()
    }

    /// Returns the current resource version, as lists report it.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Takes the next resource version.
    pub fn next_revision(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    /// Stores an object whose `resourceVersion` the caller took from
    /// `next_revision`, and records the event.
    pub fn put(&mut self, kind: &'static Kind, stored: Stored) {
        let namespace = stored.body["metadata"]["namespace"]
            .as_str()
            .map(str::to_owned);
        let name = stored.body["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = key(kind, namespace.as_deref(), &name);
        let event_type = if self.objects.contains_key(&key) {
            EventType::Modified
        } else {
            EventType::Added
        };
        let object = stored.render();
        self.objects.insert(key.clone(), stored);
        self.record(kind, key.1, event_type, object);
    }

    /// Removes an object, recording the deletion under a new resource version.
    pub fn remove(
        &mut self,
        kind: &'static Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Stored> {
        let key = key(kind, namespace, name);
        let mut stored = self.objects.remove(&key)?;
        let revision = self.next_revision();
        stored.body["metadata"]["resourceVersion"] = revision.to_string().into();
        self.record(kind, key.1, EventType::Deleted, stored.render());
        Some(stored)
    }

    fn record(
        &mut self,
        kind: &'static Kind,
        namespace: String,
        event_type: EventType,
        object: Value,
    ) {
        let event = WatchEvent {
            revision: self.revision,
            resource: kind.resource,
            namespace,
            event_type,
            object,
        };
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        // Nobody watching is no error.
        let _ = self.events.send(event);
    }

    /// Returns the recorded events after a resource version, or `None` when the
    /// history no longer reaches back that far.
    pub fn events_since(&self, revision: u64) -> Option<Vec<WatchEvent>> {
        let oldest_kept = self
            .history
            .front()
            .map_or(self.revision, |event| event.revision - 1);
        if revision < oldest_kept && revision < self.revision {
            return None;
        }
        Some(
            self.history
                .iter()
                .filter(|event| event.revision > revision)
                .cloned()
                .collect(),
        )
    }

    /// Starts receiving events; call with the lock held to miss none.
    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    /// Removes every object in a namespace, as the namespace controller does.
    pub fn delete_namespace_contents(&mut self, namespace: &str) {
        let keys: Vec<Key> = self
            .objects
            .keys()
            .filter(|(_, object_namespace, _)| object_namespace == namespace)
            .cloned()
            .collect();
        for (resource, object_namespace, name) in keys {
            if let Some(kind) = kinds::KINDS.iter().find(|kind| kind.resource == resource) {
                self.remove(kind, Some(&object_namespace), &name);
            }
        }
    }
}

/// Returns the time as the apiserver writes it: RFC 3339 in UTC, whole seconds.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Everything the handlers share.
pub struct Server {
    world: Mutex<World>,
    pub faults: Faults,
    pub settings: Settings,
    pub schemas: Option<Schemas>,
}

pub type Shared = Arc<Server>;

impl Server {
    /// Returns a cluster holding the initial namespaces.
    pub fn new(settings: Settings, faults: Faults, schemas: Option<Schemas>) -> Shared {
        let (events, _) = broadcast::channel(HISTORY);
        let mut world = World::new(events);
        let created = now();
        for name in INITIAL_NAMESPACES {
            let revision = world.next_revision();
            let body = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": uuid::Uuid::new_v4().to_string(),
                    "resourceVersion": revision.to_string(),
                    "creationTimestamp": created,
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            });
            world.put(
                kinds::namespaces(),
                Stored {
                    body,
                    entries: Vec::new(),
                },
            );
        }
        Arc::new(Server {
            world: Mutex::new(world),
            faults,
            settings,
            schemas,
        })
    }

    /// Locks the cluster's state.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
