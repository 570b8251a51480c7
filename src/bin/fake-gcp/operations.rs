//! Long-running operations (`google.longrunning.Operation`) that take time.
//!
//! A handler starts an operation with the change it stands for as an `Effect`; the
//! change is applied when the operation becomes done (`--operation-delay-ms` after it
//! started), the first time anyone locks the world after that instant. Until then the
//! operation answers without `done` (proto3 JSON omits a false bool, as Google does).
//! A fraction of operations (`--failing-operations`) finishes with `error` instead: its
//! effect never runs and its rollback undoes what the handler reserved.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::dice::SplitMix64;
use crate::errors::{ApiError, Code};
use crate::world::World;

/// The change an operation makes when it finishes; its value is the `response`.
pub type Effect = Box<dyn FnOnce(&mut World) -> Result<Value, ApiError> + Send>;

/// Undoes what the handler reserved when an operation fails instead of running.
pub type Rollback = Box<dyn FnOnce(&mut World) + Send>;

/// An operation to start.
pub struct NewOperation {
    pub name: String,
    /// The `metadata` message, with its `@type`.
    pub metadata: Value,
    pub effect: Effect,
    pub rollback: Option<Rollback>,
}

/// Every operation started since the server came up, done ones included.
pub struct Operations {
    by_name: HashMap<String, Operation>,
    next_seq: u64,
    failing_fraction: f64,
    rng: SplitMix64,
}

struct Operation {
    seq: u64,
    metadata: Value,
    ready_at: Instant,
    state: OperationState,
}

enum OperationState {
    Pending {
        effect: Effect,
        rollback: Option<Rollback>,
        fails: bool,
    },
    Done(Result<Value, ApiError>),
}

impl Operations {
    pub fn new(failing_fraction: f64, rng_seed: u64) -> Operations {
        Operations {
            by_name: HashMap::new(),
            next_seq: 1,
            failing_fraction,
            rng: SplitMix64(rng_seed),
        }
    }

    /// Returns a number no other operation got, for building operation names.
    pub fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Renders an operation as Google does, or `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.by_name
            .get(name)
            .map(|operation| render(name, operation))
    }

    fn decide_failure(&mut self) -> bool {
        self.failing_fraction > 0.0 && self.rng.next_f64() < self.failing_fraction
    }
}

fn render(name: &str, operation: &Operation) -> Value {
    let mut json = json!({"name": name, "metadata": operation.metadata});
    if let OperationState::Done(result) = &operation.state {
        json["done"] = Value::Bool(true);
        match result {
            Ok(response) => json["response"] = response.clone(),
            Err(error) => json["error"] = error.to_status(),
        }
    }
    json
}

/// Returns an operation that is done on arrival, as Google answers a no-op such as
/// enabling a service that is already enabled.
pub fn already_done(name: &str, response: Value) -> Value {
    json!({"name": name, "done": true, "response": response})
}

impl World {
    /// Starts an operation and returns its first rendering (not yet done).
    pub fn start_operation(&mut self, new: NewOperation) -> Value {
        let fails = self.operations.decide_failure();
        let seq = self.operations.next_seq();
        let operation = Operation {
            seq,
            metadata: new.metadata,
            ready_at: self.now + self.settings.operation_delay,
            state: OperationState::Pending {
                effect: new.effect,
                rollback: new.rollback,
                fails,
            },
        };
        let json = render(&new.name, &operation);
        self.operations.by_name.insert(new.name, operation);
        json
    }

    /// Finishes, in the order they became due, every operation due by `self.now`.
    pub fn finish_due_operations(&mut self) {
        while let Some(name) = self.next_due_operation() {
            let Some(operation) = self.operations.by_name.get_mut(&name) else {
                return;
            };
            let placeholder = OperationState::Done(Err(ApiError::new(Code::Internal, "")));
            let OperationState::Pending {
                effect,
                rollback,
                fails,
            } = std::mem::replace(&mut operation.state, placeholder)
            else {
                continue;
            };
            let result = if fails {
                if let Some(rollback) = rollback {
                    rollback(self);
                }
                Err(ApiError::new(
                    Code::Internal,
                    "Internal error encountered. The operation failed (injected by fake-gcp --failing-operations).",
                ))
            } else {
                effect(self)
            };
            if let Some(operation) = self.operations.by_name.get_mut(&name) {
                operation.state = OperationState::Done(result);
            }
        }
    }

    fn next_due_operation(&self) -> Option<String> {
        self.operations
            .by_name
            .iter()
            .filter(|(_, operation)| {
                matches!(operation.state, OperationState::Pending { .. })
                    && operation.ready_at <= self.now
            })
            .min_by_key(|(_, operation)| (operation.ready_at, operation.seq))
            .map(|(name, _)| name.clone())
    }
}
