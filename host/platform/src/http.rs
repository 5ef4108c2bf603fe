//! One HTTP client per process (per request timeout), shared by every store's connections.
//!
//! A `reqwest::Client` holds a connection pool, a TLS configuration and a resolver: one per
//! store and system would cost a host of ten thousand stores twenty thousand of each, and
//! twenty thousand idle keep-alive sockets to the same few platform hosts. A shared client
//! pools connections per platform host (scheme, host, port) for every store at once, so the
//! connections a host keeps to one platform account are bounded by what is in flight to it
//! (which the platform's limiter or governor bounds), not by how many stores it serves.
//! Requests are independent (credentials travel per request), so sharing never mixes stores.
//!
//! A client's pooled connections are driven by tasks of the tokio runtime that opened them, so
//! clients are kept per building thread as well: a host builds every store's connections in
//! one pass on one thread (one client), while test binaries, which run each test's runtime on
//! a thread of its own, never hand one test's pooled connections to another.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

type Key = (std::thread::ThreadId, Duration);

static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();

/// The client for requests timing out after `timeout` (connects after at most 10 s or
/// `timeout`, whichever is shorter) shared by connections built on this thread, built on first
/// use.
pub fn shared_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    let clients = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut clients = clients.lock().unwrap_or_else(|e| e.into_inner());
    let key = (std::thread::current().id(), timeout);
    if let Some(c) = clients.get(&key) {
        return Ok(c.clone());
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
        // Idle sockets kept per platform host, for all stores together.
        .pool_max_idle_per_host(64)
        .build()?;
    clients.insert(key, client.clone());
    Ok(client)
}
