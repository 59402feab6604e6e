//! The search executor: a fixed set of worker threads (one per core by default) taking read
//! requests from one bounded FIFO queue.
//!
//! Why not the async runtime's blocking pool and rayon's global pool: with 64 clients the
//! blocking pool ran 64 threads on 2 cores, each fanning a query out over rayon's 2 workers;
//! the threads time-sliced each other (a quarter of the CPU went to context switches) and a
//! rayon worker waiting for its half of one query picked up whole other queries, so a query's
//! latency became the sum of unrelated ones. Here:
//!
//! - at most `workers` requests run at once, each to the end on one thread, in arrival order
//!   (no request is overtaken by later ones);
//! - past `capacity` waiting requests, [`SearchPool::submit`] refuses at once
//!   ([`Overloaded`]) instead of letting the queue, and every latency, grow;
//! - a running request may split its work ([`fan_out`]) only onto workers that are idle while
//!   the queue is empty; a helper never blocks on anything but the part it took, and the
//!   request never waits for a helper that has not started, so splitting cannot delay other
//!   requests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The queue is full: the request was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    /// Requests waiting when it was refused.
    pub queued: usize,
}

impl std::fmt::Display for Overloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requests are already waiting", self.queued)
    }
}

struct State {
    /// Requests, oldest first.
    queue: VecDeque<Job>,
    /// Parts of running requests offered to idle workers (taken before requests).
    helpers: VecDeque<Job>,
    idle: usize,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    capacity: usize,
    workers: usize,
    completed: AtomicU64,
    refused: AtomicU64,
}

/// Counters of a pool, for metrics and telemetry.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PoolStats {
    pub workers: usize,
    pub capacity: usize,
    pub queued: usize,
    pub running: usize,
    pub completed: u64,
    pub refused: u64,
}

/// A bounded search executor (see the module docs).
pub struct SearchPool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

thread_local! {
    /// The pool whose worker this thread is, for [`fan_out`].
    static CURRENT: std::cell::RefCell<Option<Arc<Shared>>> = const { std::cell::RefCell::new(None) };
}

impl SearchPool {
    /// `workers` threads (0: one per core) and at most `capacity` waiting requests (0: none
    /// wait; a request is taken only when a worker is free).
    pub fn new(workers: usize, capacity: usize) -> std::io::Result<SearchPool> {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            workers
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                helpers: VecDeque::new(),
                idle: 0,
                shutdown: false,
            }),
            wake: Condvar::new(),
            capacity,
            workers,
            completed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let threads = (0..workers)
            .map(|i| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("search-{i}"))
                    .spawn(move || worker(s))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(SearchPool { shared, threads })
    }

    /// Queues a request; refused at once when `capacity` requests already wait.
    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), Overloaded> {
        let mut st = self.shared.state.lock();
        // a request waits only behind the ones that cannot start yet
        let waiting = st.queue.len();
        if waiting >= self.shared.capacity && st.idle <= waiting {
            self.shared.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Overloaded { queued: waiting });
        }
        st.queue.push_back(Box::new(job));
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    pub fn stats(&self) -> PoolStats {
        let st = self.shared.state.lock();
        PoolStats {
            workers: self.shared.workers,
            capacity: self.shared.capacity,
            queued: st.queue.len(),
            running: self.shared.workers - st.idle.min(self.shared.workers),
            completed: self.shared.completed.load(Ordering::Relaxed),
            refused: self.shared.refused.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SearchPool {
    fn drop(&mut self) {
        self.shared.state.lock().shutdown = true;
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(shared: Arc<Shared>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(shared.clone()));
    let mut st = shared.state.lock();
    loop {
        if let Some(job) = st.helpers.pop_front() {
            drop(st);
            job();
            st = shared.state.lock();
            continue;
        }
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            // a panicking request must not take the worker with it (its caller sees the
            // dropped answer channel)
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            shared.completed.fetch_add(1, Ordering::Relaxed);
            st = shared.state.lock();
            continue;
        }
        if st.shutdown {
            return;
        }
        st.idle += 1;
        shared.wake.wait(&mut st);
        st.idle -= 1;
    }
}

/// Runs `f(0..n)` and returns the results in order. On a pool worker, parts go to workers that
/// are idle while no request waits; the calling thread takes parts too and never waits for a
/// helper that has not started. Anywhere else (tests, tools) the parts run on this thread.
pub fn fan_out<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let shared = if n < 2 {
        None
    } else {
        CURRENT.with(|c| c.borrow().clone())
    };
    let helpers = shared.as_ref().map_or(0, |s| {
        let st = s.state.lock();
        if st.queue.is_empty() {
            st.idle.min(n - 1)
        } else {
            0
        }
    });
    let Some(shared) = shared.filter(|_| helpers > 0) else {
        return (0..n).map(f).collect();
    };
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let part = |i: usize| {
        let v = f(i);
        *slots[i].lock() = Some(v);
    };
    share_parts(&shared, n, helpers, &part);
    slots
        .into_iter()
        .map(|s| s.into_inner().expect("every part ran"))
        .collect()
}

/// Progress of one fanned-out request, shared with its helpers.
struct Parts {
    /// The next part to take, how many helpers are inside a part, and whether the caller has
    /// stopped handing out parts (helpers that start later return at once).
    state: Mutex<(usize, usize, bool)>,
    done: Condvar,
    n: usize,
    /// The caller's `part` function with its lifetime erased: dereferenced only by a helper
    /// that registered itself in `state` before `closed` was set, and the caller does not
    /// return before every registered helper has left (see `share_parts`).
    part: *const (dyn Fn(usize) + Sync),
}

// SAFETY: `part` points to a `Sync` closure that outlives every dereference (see above).
unsafe impl Send for Parts {}
// SAFETY: as above; all other fields are synchronised.
unsafe impl Sync for Parts {}

impl Parts {
    /// Takes the next part, or None once all are taken (or the caller closed).
    fn take(&self, helper: bool) -> Option<usize> {
        let mut st = self.state.lock();
        if st.2 || st.0 >= self.n {
            return None;
        }
        let i = st.0;
        st.0 += 1;
        if helper {
            st.1 += 1;
        }
        Some(i)
    }

    fn left(&self) {
        let mut st = self.state.lock();
        st.1 -= 1;
        if st.1 == 0 {
            self.done.notify_all();
        }
    }
}

fn share_parts(shared: &Shared, n: usize, helpers: usize, part: &(dyn Fn(usize) + Sync)) {
    // SAFETY (lifetime erasure): see `Parts::part`; `share_parts` waits below until no helper
    // is inside a part and no helper can enter one.
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync)>(
            part,
        )
    };
    let parts = Arc::new(Parts {
        state: Mutex::new((0, 0, false)),
        done: Condvar::new(),
        n,
        part: erased,
    });
    {
        let mut st = shared.state.lock();
        for _ in 0..helpers {
            let p = parts.clone();
            st.helpers.push_back(Box::new(move || {
                while let Some(i) = p.take(true) {
                    // SAFETY: registered in `take` before the caller closed, so the caller
                    // is still waiting and `part` is alive.
                    let f = unsafe { &*p.part };
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i)));
                    p.left();
                    if r.is_err() {
                        // the caller finds the part's slot empty and panics in its own thread
                        return;
                    }
                }
            }));
        }
    }
    for _ in 0..helpers {
        shared.wake.notify_one();
    }
    let mut caller_panic = None;
    while let Some(i) = parts.take(false) {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| part(i))) {
            caller_panic = Some(e);
            break;
        }
    }
    let mut st = parts.state.lock();
    st.2 = true;
    while st.1 > 0 {
        parts.done.wait(&mut st);
    }
    drop(st);
    if let Some(e) = caller_panic {
        std::panic::resume_unwind(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[test]
    fn runs_requests_and_refuses_past_capacity() {
        let pool = SearchPool::new(1, 2).unwrap();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel();
        // the worker is busy until the gate opens
        pool.submit(move || {
            gate_rx.recv().unwrap();
        })
        .unwrap();
        // wait until the worker has taken it
        let t0 = Instant::now();
        while pool.stats().queued > 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        for i in 0..2 {
            let tx = tx.clone();
            pool.submit(move || tx.send(i).unwrap()).unwrap();
        }
        let refused = pool.submit(|| {}).unwrap_err();
        assert_eq!(refused.queued, 2);
        assert_eq!(pool.stats().refused, 1);
        gate_tx.send(()).unwrap();
        // first in, first out
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 0);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
        assert!(pool.submit(|| {}).is_ok());
    }

    #[test]
    fn fan_out_off_the_pool_runs_inline_in_order() {
        let v = fan_out(5, |i| i * 10);
        assert_eq!(v, vec![0, 10, 20, 30, 40]);
    }

    #[test]
    fn fan_out_uses_idle_workers_and_returns_every_part() {
        let pool = SearchPool::new(4, 16).unwrap();
        // let the workers park
        std::thread::sleep(Duration::from_millis(50));
        let (tx, rx) = mpsc::channel();
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let th = threads.clone();
        pool.submit(move || {
            let borrowed = vec![1u64; 64];
            let out = fan_out(64, |i| {
                th.lock().insert(std::thread::current().id());
                std::thread::sleep(Duration::from_millis(2));
                borrowed[i] * i as u64
            });
            tx.send(out).unwrap();
        })
        .unwrap();
        let out = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(out, (0..64u64).collect::<Vec<_>>());
        assert!(threads.lock().len() > 1, "idle workers helped");
    }

    #[test]
    fn many_fanned_out_requests_at_once_all_complete() {
        let pool = Arc::new(SearchPool::new(3, 10_000).unwrap());
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for r in 0..500usize {
            let done = done.clone();
            let tx = tx.clone();
            pool.submit(move || {
                let data: Vec<usize> = (0..16).map(|i| i + r).collect();
                let v = fan_out(16, |i| data[i] * 2);
                assert_eq!(v.iter().sum::<usize>(), data.iter().sum::<usize>() * 2);
                done.fetch_add(1, Ordering::Relaxed);
                tx.send(()).unwrap();
            })
            .unwrap();
        }
        for _ in 0..500 {
            rx.recv_timeout(Duration::from_secs(20)).unwrap();
        }
        assert_eq!(done.load(Ordering::Relaxed), 500);
        // a worker counts a request as completed after it returns, a moment after its send
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pool.stats().completed < 500 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(pool.stats().completed, 500);
    }

    #[test]
    fn a_panicking_request_leaves_the_worker_alive() {
        let pool = SearchPool::new(1, 4).unwrap();
        pool.submit(|| panic!("boom")).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.submit(move || tx.send(7).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
    }
}
