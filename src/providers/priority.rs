//! A semaphore that hands a freed permit to the waiter of highest priority, the
//! longest-waiting first among equals: when more calls are ready than may be in
//! flight, the calls that more work waits on go first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

tokio::task_local! {
    /// The priority of the calls made inside a scope: how many steps wait on them.
    static PRIORITY: u32;
}

/// Runs `future` with its calls at `priority` (0, the lowest, outside any scope).
pub async fn with_priority<F: std::future::Future>(priority: u32, future: F) -> F::Output {
    PRIORITY.scope(priority, future).await
}

/// The priority of the calls made now.
fn current_priority() -> u32 {
    PRIORITY.try_with(|p| *p).unwrap_or(0)
}

pub struct PrioritySemaphore {
    state: Mutex<State>,
}

struct State {
    available: usize,
    waiting: BinaryHeap<Waiter>,
    /// Numbers the waiters, so that equal priorities are served in arrival order.
    arrivals: u64,
}

struct Waiter {
    priority: u32,
    arrival: u64,
    grant: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// Higher priority first, then earlier arrival.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then(other.arrival.cmp(&self.arrival))
    }
}

/// A permit; dropping it hands it on.
pub struct Permit<'a> {
    semaphore: &'a PrioritySemaphore,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

/// A wait in progress: if it is abandoned after its grant was sent, the permit
/// is handed on rather than lost.
struct Waiting<'a> {
    semaphore: &'a PrioritySemaphore,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut granted) = self.granted.take() {
            granted.close();
            if granted.try_recv().is_ok() {
                self.semaphore.release();
            }
        }
    }
}

impl PrioritySemaphore {
    pub fn new(permits: usize) -> PrioritySemaphore {
        PrioritySemaphore {
            state: Mutex::new(State {
                available: permits,
                waiting: BinaryHeap::new(),
                arrivals: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a permit at the priority of the current scope.
    pub async fn acquire(&self) -> Permit<'_> {
        let granted = {
            let mut state = self.state();
            if state.available > 0 && state.waiting.is_empty() {
                state.available -= 1;
                return Permit { semaphore: self };
            }
            let (grant, granted) = oneshot::channel();
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.waiting.push(Waiter {
                priority: current_priority(),
                arrival,
                grant,
            });
            granted
        };
        let mut waiting = Waiting {
            semaphore: self,
            granted: Some(granted),
        };
        let granted = waiting.granted.as_mut().expect("set above");
        // The sender is only dropped after a send, or with the semaphore.
        let _ = granted.await;
        waiting.granted = None;
        Permit { semaphore: self }
    }

    fn release(&self) {
        let mut state = self.state();
        while let Some(waiter) = state.waiting.pop() {
            // A waiter that gave up takes nothing: try the next.
            if waiter.grant.send(()).is_ok() {
                return;
            }
        }
        state.available += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_freed_permit_goes_to_the_highest_priority_then_the_first_come() {
        runtime().block_on(async {
            let semaphore = std::sync::Arc::new(PrioritySemaphore::new(1));
            let held = semaphore.acquire().await;
            let (order, mut served) = tokio::sync::mpsc::unbounded_channel();
            let mut tasks = tokio::task::JoinSet::new();
            for (name, priority) in [("low", 0), ("high", 5), ("mid", 2), ("high2", 5)] {
                let semaphore = semaphore.clone();
                let order = order.clone();
                tasks.spawn(with_priority(priority, async move {
                    let _permit = semaphore.acquire().await;
                    order.send(name).expect("open");
                }));
                // Each waiter is queued before the next arrives.
                tokio::task::yield_now().await;
            }
            drop(order);
            drop(held);
            let mut names = Vec::new();
            while let Some(name) = served.recv().await {
                names.push(name);
            }
            assert_eq!(names, ["high", "high2", "mid", "low"]);
            while tasks.join_next().await.is_some() {}
        });
    }

    #[test]
    fn an_abandoned_wait_loses_no_permit() {
        runtime().block_on(async {
            let semaphore = PrioritySemaphore::new(1);
            let held = semaphore.acquire().await;
            {
                let wait = semaphore.acquire();
                let mut wait = std::pin::pin!(wait);
                std::future::poll_fn(|cx| {
                    assert!(wait.as_mut().poll(cx).is_pending(), "queued");
                    std::task::Poll::Ready(())
                })
                .await;
                // Granted by the release, then dropped unclaimed.
                drop(held);
            }
            assert_eq!(semaphore.state().available, 1, "the permit came back");
            assert!(semaphore.state().waiting.is_empty());
        });
    }
}
