//! The guest threads: every piece of guest execution (loading's probe call, `info`, batches,
//! resolvers, `plugin check`, `plugin test`) runs on one of these plain OS threads, never on the
//! caller's thread.
//!
//! Why: wasmtime-wasi's synchronous WASI bindings block on the *ambient* tokio runtime when a
//! guest writes to stdout/stderr or polls (`in_tokio`: `Handle::try_current()` then
//! `block_on`). Called from inside an async task that panics with "Cannot start a runtime from
//! within a runtime" and takes the host process down (exit 101). These threads are never inside
//! a tokio runtime context, so wasmtime-wasi uses its own private runtime there, whatever the
//! caller is. A panic on a guest thread is caught and reported as an error, never propagated.
//!
//! The pool grows on demand (a call never waits for a thread while an instance slot is free:
//! one thread per concurrent call, up to `max_threads`), and threads idle for a while exit.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Native stack of a guest thread: the wasm stack (`max_wasm_stack`, 512 KiB by default) runs on
/// it, plus host functions and wasmtime's own frames.
const THREAD_STACK: usize = 8 << 20;
/// An idle thread exits after this long.
const IDLE: Duration = Duration::from_secs(30);

pub(crate) struct GuestPool {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
}

struct State {
    queue: VecDeque<Job>,
    idle: usize,
    threads: usize,
}

/// A guest job panicked (a host bug, or a wasmtime panic): the message.
#[derive(Debug)]
pub(crate) struct JobPanicked(pub(crate) String);

impl GuestPool {
    pub(crate) fn new(max_threads: usize) -> Arc<GuestPool> {
        Arc::new(GuestPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: 0,
                threads: 0,
            }),
            work: Condvar::new(),
            max_threads: max_threads.max(1),
        })
    }

    fn submit(self: &Arc<Self>, job: Job) {
        let mut s = self.state.lock();
        s.queue.push_back(job);
        if s.idle >= s.queue.len() {
            self.work.notify_one();
            return;
        }
        if s.threads < self.max_threads {
            s.threads += 1;
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name("weft-guest".into())
                .stack_size(THREAD_STACK)
                .spawn(move || pool.worker());
            if spawned.is_err() {
                // Could not add a thread: the queued job waits for a running one.
                s.threads -= 1;
                tracing::warn!("cannot spawn a plugin thread; the call waits for a free one");
            }
        }
    }

    fn worker(self: Arc<Self>) {
        loop {
            let job = {
                let mut s = self.state.lock();
                loop {
                    if let Some(job) = s.queue.pop_front() {
                        break job;
                    }
                    s.idle += 1;
                    let timed_out = self.work.wait_for(&mut s, IDLE).timed_out();
                    s.idle -= 1;
                    if timed_out && s.queue.is_empty() {
                        s.threads -= 1;
                        return;
                    }
                }
            };
            // A job catches its own panics (see `run`); this is a second fence.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
        }
    }

    /// Runs `f` on a guest thread and blocks the calling thread until it is done. Safe to call
    /// from anywhere, an async task included (it blocks that task's thread meanwhile; prefer
    /// [`GuestPool::run_async`] there).
    pub(crate) fn run<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, JobPanicked> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Box::new(move || {
            let _ = tx.send(catch(f));
        }));
        rx.recv()
            .unwrap_or_else(|_| Err(JobPanicked("the plugin thread went away".into())))
    }

    /// Runs `f` on a guest thread and hands its result to `done` there; returns at once.
    pub(crate) fn spawn<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce() -> R + Send + 'static,
        done: impl FnOnce(Result<R, JobPanicked>) + Send + 'static,
    ) {
        self.submit(Box::new(move || done(catch(f))));
    }

    /// Runs `f` on a guest thread; the future resolves when it is done. Dropping the future
    /// does not stop the job (a guest call cannot be interrupted except by its own limits).
    pub(crate) async fn run_async<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, JobPanicked> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move || {
            let _ = tx.send(catch(f));
        }));
        rx.await
            .unwrap_or_else(|_| Err(JobPanicked("the plugin thread went away".into())))
    }
}

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, JobPanicked> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        JobPanicked(msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_off_the_callers_thread_and_panics_are_caught() {
        let pool = GuestPool::new(4);
        let me = std::thread::current().id();
        let other = pool.run(move || std::thread::current().id()).unwrap();
        assert_ne!(me, other);
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .unwrap();
        assert_eq!(name.as_deref(), Some("weft-guest"));
        let err = pool.run(|| -> u8 { panic!("boom") }).unwrap_err();
        assert_eq!(err.0, "boom");
        assert_eq!(pool.run(|| 7).unwrap(), 7);
    }

    #[tokio::test]
    async fn guest_threads_are_outside_any_tokio_runtime() {
        let pool = GuestPool::new(2);
        let inside = pool
            .run_async(|| tokio::runtime::Handle::try_current().is_ok())
            .await
            .unwrap();
        assert!(!inside);
        // The blocking form is safe from async context too.
        let inside = pool
            .run(|| tokio::runtime::Handle::try_current().is_ok())
            .unwrap();
        assert!(!inside);
    }
}
