//! What the engine reports to the host's metrics: plugin call times and failures, throttled
//! responses, and writes that wait out an outage. The engine does not know the metrics backend; the host plugs one in.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Receives the engine's measurements.
pub trait Observer: Send + Sync {
    /// One plugin call of `store` took `elapsed`; `error` is the failure kind, if it failed.
    fn plugin_call(&self, store: &str, plugin: &str, elapsed: Duration, error: Option<&str>);
    /// A platform throttled one of `store`'s requests.
    fn throttled(&self, store: &str, system: &str);
    /// A write of `store` to `system` waits out the world's failure `error` (an outage,
    /// throttling, refused credentials) instead of becoming a dead letter.
    fn waiting_out(&self, _store: &str, _system: &str, _error: &str) {}
}

/// An observer that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl Observer for Discard {
    fn plugin_call(&self, _: &str, _: &str, _: Duration, _: Option<&str>) {}
    fn throttled(&self, _: &str, _: &str) {}
}

/// Runs a blocking plugin call on the blocking pool and reports its time and outcome.
pub(crate) async fn timed_call<T, F>(
    observer: &Arc<dyn Observer>,
    store: &str,
    plugin: &str,
    call: F,
) -> Result<T, crate::EngineError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, weft_runtime::PluginError> + Send + 'static,
{
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| crate::EngineError::Join(e.to_string()))?;
    let error = out.as_ref().err().map(|e| e.kind());
    observer.plugin_call(store, plugin, started.elapsed(), error);
    Ok(out?)
}
