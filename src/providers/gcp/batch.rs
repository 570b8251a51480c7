//! Group commit: calls that change one shared thing (an IAM policy, a project's
//! enabled services) and arrive together are made as one call.
//!
//! Each change joins its key's queue and waits for the key's turn. Whoever gets
//! the turn takes every queued change (up to a batch limit) and makes them
//! together; the others find their result ready when their own turn comes. With
//! one change in flight there is no delay: the batch is that change alone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// Queues of waiting changes, one per key.
pub(super) struct Batches<T, R> {
    queues: Mutex<HashMap<String, Arc<Queue<T, R>>>>,
}

impl<T, R> Default for Batches<T, R> {
    fn default() -> Self {
        Batches {
            queues: Mutex::new(HashMap::new()),
        }
    }
}

struct Queue<T, R> {
    turn: tokio::sync::Mutex<()>,
    waiting: Mutex<Vec<(T, oneshot::Sender<R>)>>,
}

impl<T, R> Batches<T, R> {
    /// Makes `item` with whatever else is queued under `key`: `run` gets a batch
    /// (at most `limit` items, in the order they came) and returns one result per
    /// item, in order.
    pub(super) async fn submit<F, Fut>(&self, key: &str, item: T, limit: usize, run: F) -> R
    where
        F: Fn(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<R>>,
    {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            queues
                .entry(key.to_string())
                .or_insert_with(|| {
                    Arc::new(Queue {
                        turn: tokio::sync::Mutex::new(()),
                        waiting: Mutex::new(Vec::new()),
                    })
                })
                .clone()
        };
        let (done, mut result) = oneshot::channel();
        queue
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((item, done));
        let _turn = queue.turn.lock().await;
        // Let the changes started at the same moment join this turn.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        loop {
            if let Ok(outcome) = result.try_recv() {
                return outcome;
            }
            // First come, first served: the batches taken before this change's
            // own hold what queued before it.
            let batch: Vec<(T, oneshot::Sender<R>)> = {
                let mut waiting = queue.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                let n = waiting.len().min(limit.max(1));
                waiting.drain(..n).collect()
            };
            let (items, senders): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
            let results = run(items).await;
            for (sender, outcome) in senders.into_iter().zip(results) {
                let _ = sender.send(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn changes_arriving_together_share_calls_within_the_limit() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let batches: Arc<Batches<u32, u32>> = Arc::new(Batches::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let results = runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..45u32 {
                let batches = batches.clone();
                let calls = calls.clone();
                tasks.spawn(async move {
                    let run = |items: Vec<u32>| {
                        let calls = calls.clone();
                        async move {
                            assert!(items.len() <= 20);
                            calls.fetch_add(1, Ordering::SeqCst);
                            items.iter().map(|i| i * 10).collect()
                        }
                    };
                    (i, batches.submit("p", i, 20, run).await)
                });
            }
            let mut out = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                out.push(joined.expect("no panic"));
            }
            out
        });
        assert_eq!(results.len(), 45);
        assert!(results.iter().all(|(i, r)| *r == i * 10));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "45 changes in batches of 20"
        );
    }
}
