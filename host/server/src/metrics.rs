//! Prometheus metrics, per store, rendered in the text exposition format 0.0.4.
//!
//! Series (every one carries a `store` label):
//!
//! | name | type | extra labels | source |
//! |---|---|---|---|
//! | `weft_journal_lag` | gauge | | journal entries after the engine's cursor (`store.status`) |
//! | `weft_outbox_depth` | gauge | `status` | outbox rows per status (`store.status`) |
//! | `weft_dead_letters` | gauge | | outbox rows in `dead` (`store.status`) |
//! | `weft_stock_readings_waiting` | gauge | | stock readings set aside until weft's write to their level settles (`store.status`) |
//! | `weft_set_aside` | gauge | | journal entries a plugin could not map, waiting for an operator's retry (`store.status`) |
//! | `weft_deletes_held` | gauge | | deletions the mass-delete guard holds until `weft deletes release\|discard` (`store.status`) |
//! | `weft_intake_rejects` | gauge | | malformed deliveries kept for inspection (`store.status`) |
//! | `weft_webhooks_received_total` | counter | `outcome` | this process's intake answers |
//! | `weft_webhooks_recovered_total` | counter | | store counter `recovered` (+ `recovered_*`) |
//! | `weft_stale_ignored_total` | counter | | store counters `stale` and `stale_ignored_*` |
//! | `weft_webhooks_reactivated_total` | counter | | store counter `webhooks_reactivated`: subscriptions a platform had disabled after failed deliveries, set active again by weft's keeper |
//! | `weft_journal_duplicates_total` | counter | `source` | store counters `journal_duplicate_<source>` |
//! | `weft_throttled_total` | counter | `system` | [`Metrics::inc_throttled`] |
//! | `weft_system_down` | gauge | `system` | 1 while the connection's breaker is open or writes wait out an outage ([`Metrics::set_system_health`]) |
//! | `weft_system_down_seconds` | gauge | `system` | how long it has been down |
//! | `weft_plugin_seconds` | histogram | `plugin` | [`Metrics::observe_plugin_call`] |
//! | `weft_plugin_errors_total` | counter | `plugin`, `kind` | [`Metrics::observe_plugin_call`] |
//! | `weft_intake_ack_seconds` | histogram | | request start to durable 200 |
//!
//! Plus `weft_webhooks_unknown_store_total` (no label: the store id of a 404 is attacker
//! chosen, so it never becomes a label value).
//!
//! Figures read from the database (lag, outbox, dead letters, recovered, stale) are set by
//! [`Metrics::refresh_from_store`], which `/metrics` runs before every scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;
use weft_store::{Store, StoreError, StoreStatus};

/// Histogram bucket upper bounds, seconds: 0.5 ms to 10 s.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How an intake request ended, the `outcome` label of `weft_webhooks_received_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookOutcome {
    /// Journaled as a new entry (200).
    Accepted,
    /// Already journaled (same delivery id or same document version and body) (200).
    Duplicate,
    /// Missing or wrong signature (401); nothing stored.
    BadSignature,
    /// Not JSON, unknown topic, or refused by normalize (400); kept as an intake reject.
    Malformed,
    /// Body over the store's cap (413); nothing stored.
    TooLarge,
    /// The journal could not take it (503); Shopify retries.
    Unavailable,
}

impl WebhookOutcome {
    /// Every outcome, in label order.
    pub const ALL: [WebhookOutcome; 6] = [
        WebhookOutcome::Accepted,
        WebhookOutcome::Duplicate,
        WebhookOutcome::BadSignature,
        WebhookOutcome::Malformed,
        WebhookOutcome::TooLarge,
        WebhookOutcome::Unavailable,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Accepted => "accepted",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::BadSignature => "bad_signature",
            WebhookOutcome::Malformed => "malformed",
            WebhookOutcome::TooLarge => "too_large",
            WebhookOutcome::Unavailable => "unavailable",
        }
    }
}

/// A cumulative histogram over [`BUCKETS`].
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// Figures read from the database by [`Metrics::refresh_from_store`].
#[derive(Debug, Clone, Default)]
struct StoreFigures {
    lag: i64,
    outbox: [(&'static str, i64); 6],
    dead: i64,
    parked: i64,
    set_aside: i64,
    deletes_held: i64,
    rejects: i64,
    recovered: i64,
    stale: i64,
    reactivated: i64,
    duplicates: BTreeMap<String, i64>,
}

impl StoreFigures {
    fn from_status(s: &StoreStatus) -> Self {
        let o = &s.outbox;
        let sum_counters = |exact: &str, prefix: &str| -> i64 {
            s.counters
                .iter()
                .filter(|(k, _)| k.as_str() == exact || k.starts_with(prefix))
                .map(|(_, v)| *v)
                .sum()
        };
        StoreFigures {
            lag: s.lag,
            outbox: [
                ("pending", o.pending),
                ("inflight", o.inflight),
                ("done", o.done),
                ("dead", o.dead),
                ("discarded", o.discarded),
                ("superseded", o.superseded),
            ],
            dead: o.dead,
            parked: s.parked,
            set_aside: s.set_aside,
            deletes_held: s.deletes_held,
            rejects: s.intake_rejects,
            recovered: sum_counters("recovered", "recovered_"),
            stale: sum_counters("stale", "stale_ignored_"),
            reactivated: sum_counters("webhooks_reactivated", "webhooks_reactivated_"),
            duplicates: s
                .counters
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("journal_duplicate_")
                        .map(|src| (src.to_owned(), *v))
                })
                .collect(),
        }
    }
}

/// The health of one store's connection to one system, as the host last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemHealth {
    /// Since when the system has been down (its breaker open, or its writes waiting out an
    /// outage); `None` while it answers.
    pub down_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The last error that said it was down.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    systems: BTreeMap<(String, String), SystemHealth>,
    webhooks: BTreeMap<(String, WebhookOutcome), u64>,
    unknown_store: u64,
    throttled: BTreeMap<(String, String), u64>,
    plugin_seconds: BTreeMap<(String, String), Histogram>,
    plugin_errors: BTreeMap<(String, String, String), u64>,
    ack_seconds: BTreeMap<String, Histogram>,
    stores: BTreeMap<String, StoreFigures>,
    /// Stores whose database figures moved since [`Metrics::refresh_some`] last read them.
    dirty: std::collections::BTreeSet<String>,
    /// Where [`Metrics::refresh_some`]'s sweep over every store goes on from.
    sweep: usize,
}

/// The host's metrics registry. Cheap to update from any task (one short lock per update);
/// share it in an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `store`'s intake counters appear (at zero) before its first delivery, so rates
    /// and alerts see the series from the start.
    pub fn register_store(&self, store: &str) {
        let mut g = self.inner.lock();
        for outcome in WebhookOutcome::ALL {
            g.webhooks.entry((store.to_owned(), outcome)).or_insert(0);
        }
        g.ack_seconds.entry(store.to_owned()).or_default();
    }

    /// Counts one intake answer for `store`.
    pub fn inc_webhook(&self, store: &str, outcome: WebhookOutcome) {
        let mut g = self.inner.lock();
        *g.webhooks.entry((store.to_owned(), outcome)).or_insert(0) += 1;
        if !g.dirty.contains(store) {
            g.dirty.insert(store.to_owned());
        }
    }

    /// Marks `store`'s database figures as moved: the next [`Metrics::refresh_some`] reads
    /// them (intake answers and plugin calls mark their store themselves).
    pub fn mark_dirty(&self, store: &str) {
        let mut g = self.inner.lock();
        if !g.dirty.contains(store) {
            g.dirty.insert(store.to_owned());
        }
    }

    /// Counts a delivery addressed to a store that is not configured (404).
    pub fn inc_unknown_store(&self) {
        self.inner.lock().unknown_store += 1;
    }

    /// Records the time from request start to the durable 200 for `store`.
    pub fn observe_ack(&self, store: &str, duration: Duration) {
        self.inner
            .lock()
            .ack_seconds
            .entry(store.to_owned())
            .or_default()
            .observe(duration.as_secs_f64());
    }

    /// Records one plugin call of `store`: its duration in `weft_plugin_seconds{plugin}` and,
    /// when it failed, `weft_plugin_errors_total{plugin, kind}` with `error` as the kind
    /// (e.g. `timeout`, `memory`, `trap`, `mapping`).
    pub fn observe_plugin_call(
        &self,
        store: &str,
        plugin: &str,
        duration: Duration,
        error: Option<&str>,
    ) {
        let mut g = self.inner.lock();
        if !g.dirty.contains(store) {
            g.dirty.insert(store.to_owned());
        }
        g.plugin_seconds
            .entry((store.to_owned(), plugin.to_owned()))
            .or_default()
            .observe(duration.as_secs_f64());
        if let Some(kind) = error {
            *g.plugin_errors
                .entry((store.to_owned(), plugin.to_owned(), kind.to_owned()))
                .or_insert(0) += 1;
        }
    }

    /// Counts one throttled response (HTTP 429, GraphQL `THROTTLED`, NetSuite over-limit) that
    /// `store` received from `system`.
    pub fn inc_throttled(&self, store: &str, system: &str) {
        *self
            .inner
            .lock()
            .throttled
            .entry((store.to_owned(), system.to_owned()))
            .or_insert(0) += 1;
    }

    /// Throttled responses per (store, system) so far.
    pub fn throttled_all(&self) -> Vec<(String, String, u64)> {
        self.inner
            .lock()
            .throttled
            .iter()
            .map(|((s, sys), n)| (s.clone(), sys.clone(), *n))
            .collect()
    }

    /// Records the health of `store`'s connection to `system`.
    pub fn set_system_health(&self, store: &str, system: &str, health: SystemHealth) {
        self.inner
            .lock()
            .systems
            .insert((store.to_owned(), system.to_owned()), health);
    }

    /// Every (store, system) the host has seen, with its health.
    pub fn system_health_all(&self) -> Vec<(String, String, SystemHealth)> {
        self.inner
            .lock()
            .systems
            .iter()
            .map(|((s, sys), h)| (s.clone(), sys.clone(), h.clone()))
            .collect()
    }

    /// Every (store, system) currently down, with its health.
    pub fn systems_down(&self) -> Vec<(String, String, SystemHealth)> {
        self.inner
            .lock()
            .systems
            .iter()
            .filter(|(_, h)| h.down_since.is_some())
            .map(|((s, sys), h)| (s.clone(), sys.clone(), h.clone()))
            .collect()
    }

    /// The current value of `weft_webhooks_received_total{store, outcome}`.
    pub fn webhooks(&self, store: &str, outcome: WebhookOutcome) -> u64 {
        self.inner
            .lock()
            .webhooks
            .get(&(store.to_owned(), outcome))
            .copied()
            .unwrap_or(0)
    }

    /// Sets the database-derived series from `store.status()` for every store the database
    /// knows plus every store registered here.
    pub async fn refresh_from_store(&self, store: &Store) -> Result<(), StoreError> {
        let mut ids = store.store_ids().await?;
        {
            let g = self.inner.lock();
            ids.extend(g.webhooks.keys().map(|(s, _)| s.clone()));
        }
        ids.sort();
        ids.dedup();
        let figures: BTreeMap<String, StoreFigures> = store
            .statuses(&ids)
            .await?
            .into_iter()
            .map(|status| (status.store_id.clone(), StoreFigures::from_status(&status)))
            .collect();
        self.inner.lock().stores = figures;
        Ok(())
    }

    /// Reads the database-derived series of the stores marked as moved (intake answers, plugin
    /// calls, [`Metrics::mark_dirty`]) plus the next `sweep` of `stores` in turn, so a host
    /// with thousands of stores refreshes its figures in the background at a bounded cost
    /// (every store is read at least once every `stores.len() / sweep` calls) instead of
    /// reading every store every time, as [`Metrics::refresh_from_store`] does for a scrape.
    pub async fn refresh_some(
        &self,
        store: &Store,
        stores: &[String],
        sweep: usize,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = {
            let mut g = self.inner.lock();
            let mut ids: Vec<String> = std::mem::take(&mut g.dirty).into_iter().collect();
            if !stores.is_empty() {
                let n = sweep.min(stores.len());
                for k in 0..n {
                    ids.push(stores[(g.sweep + k) % stores.len()].clone());
                }
                g.sweep = (g.sweep + n) % stores.len();
            }
            ids.sort();
            ids.dedup();
            ids
        };
        let figures: Vec<(String, StoreFigures)> = store
            .statuses(&ids)
            .await?
            .into_iter()
            .map(|status| (status.store_id.clone(), StoreFigures::from_status(&status)))
            .collect();
        self.inner.lock().stores.extend(figures);
        Ok(())
    }

    /// The whole registry in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let g = self.inner.lock();
        let mut out = String::with_capacity(4096);

        family(
            &mut out,
            "weft_journal_lag",
            "gauge",
            "Journal entries not yet processed by the engine.",
        );
        for (s, f) in &g.stores {
            sample(&mut out, "weft_journal_lag", &[("store", s)], f.lag as f64);
        }
        family(
            &mut out,
            "weft_outbox_depth",
            "gauge",
            "Outbox rows per status.",
        );
        for (s, f) in &g.stores {
            for (status, n) in f.outbox {
                sample(
                    &mut out,
                    "weft_outbox_depth",
                    &[("store", s), ("status", status)],
                    n as f64,
                );
            }
        }
        family(
            &mut out,
            "weft_dead_letters",
            "gauge",
            "Writes that failed permanently and wait for an operator.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_dead_letters",
                &[("store", s)],
                f.dead as f64,
            );
        }
        family(
            &mut out,
            "weft_set_aside",
            "gauge",
            "Journal entries a plugin could not map (a refused output, a mapper error), waiting for `weft dlq retry --all`.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_set_aside",
                &[("store", s)],
                f.set_aside as f64,
            );
        }
        family(
            &mut out,
            "weft_deletes_held",
            "gauge",
            "Deletions the mass-delete guard holds (a round deleting more than the store's share of a kind), waiting for `weft deletes release|discard`.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_deletes_held",
                &[("store", s)],
                f.deletes_held as f64,
            );
        }
        family(
            &mut out,
            "weft_stock_readings_waiting",
            "gauge",
            "Stock readings set aside until weft's own write to their level settles.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_stock_readings_waiting",
                &[("store", s)],
                f.parked as f64,
            );
        }
        family(
            &mut out,
            "weft_intake_rejects",
            "gauge",
            "Malformed webhook deliveries kept for inspection.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_intake_rejects",
                &[("store", s)],
                f.rejects as f64,
            );
        }
        family(
            &mut out,
            "weft_webhooks_received_total",
            "counter",
            "Webhook deliveries answered by this process, by outcome.",
        );
        for ((s, o), n) in &g.webhooks {
            sample(
                &mut out,
                "weft_webhooks_received_total",
                &[("store", s), ("outcome", o.as_str())],
                *n as f64,
            );
        }
        family(
            &mut out,
            "weft_webhooks_unknown_store_total",
            "counter",
            "Webhook deliveries addressed to a store that is not configured.",
        );
        sample(
            &mut out,
            "weft_webhooks_unknown_store_total",
            &[],
            g.unknown_store as f64,
        );
        family(
            &mut out,
            "weft_webhooks_recovered_total",
            "counter",
            "Changes webhooks never delivered, found by reconciliation polling.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_webhooks_recovered_total",
                &[("store", s)],
                f.recovered as f64,
            );
        }
        family(
            &mut out,
            "weft_stale_ignored_total",
            "counter",
            "Documents ignored because a newer version was already applied.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_stale_ignored_total",
                &[("store", s)],
                f.stale as f64,
            );
        }
        family(
            &mut out,
            "weft_webhooks_reactivated_total",
            "counter",
            "Webhook subscriptions a platform disabled after failed deliveries, re-activated by weft.",
        );
        for (s, f) in &g.stores {
            sample(
                &mut out,
                "weft_webhooks_reactivated_total",
                &[("store", s)],
                f.reactivated as f64,
            );
        }
        family(
            &mut out,
            "weft_journal_duplicates_total",
            "counter",
            "Observations already journaled, by source.",
        );
        for (s, f) in &g.stores {
            for (src, n) in &f.duplicates {
                sample(
                    &mut out,
                    "weft_journal_duplicates_total",
                    &[("store", s), ("source", src)],
                    *n as f64,
                );
            }
        }
        family(
            &mut out,
            "weft_system_down",
            "gauge",
            "1 while the store's connection to a system is down (breaker open, writes waiting out an outage).",
        );
        for ((s, sys), h) in &g.systems {
            let down = if h.down_since.is_some() { 1.0 } else { 0.0 };
            sample(
                &mut out,
                "weft_system_down",
                &[("store", s), ("system", sys)],
                down,
            );
        }
        family(
            &mut out,
            "weft_system_down_seconds",
            "gauge",
            "How long the store's connection to a system has been down (0 while up).",
        );
        let now = chrono::Utc::now();
        for ((s, sys), h) in &g.systems {
            let secs = h
                .down_since
                .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            sample(
                &mut out,
                "weft_system_down_seconds",
                &[("store", s), ("system", sys)],
                secs,
            );
        }
        family(
            &mut out,
            "weft_throttled_total",
            "counter",
            "Throttled responses received from a platform.",
        );
        for ((s, sys), n) in &g.throttled {
            sample(
                &mut out,
                "weft_throttled_total",
                &[("store", s), ("system", sys)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "weft_plugin_seconds",
            "histogram",
            "Wall time of one plugin call (instantiate and run a batch).",
        );
        for ((s, p), h) in &g.plugin_seconds {
            histogram(
                &mut out,
                "weft_plugin_seconds",
                &[("store", s), ("plugin", p)],
                h,
            );
        }
        family(
            &mut out,
            "weft_plugin_errors_total",
            "counter",
            "Plugin calls that failed, by error kind.",
        );
        for ((s, p, k), n) in &g.plugin_errors {
            sample(
                &mut out,
                "weft_plugin_errors_total",
                &[("store", s), ("plugin", p), ("kind", k)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "weft_intake_ack_seconds",
            "histogram",
            "Time from webhook request start to the durable acknowledgement.",
        );
        for (s, h) in &g.ack_seconds {
            histogram(&mut out, "weft_intake_ack_seconds", &[("store", s)], h);
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    write_labels(out, labels, None);
    let _ = writeln!(out, " {}", number(value));
}

fn histogram(out: &mut String, name: &str, labels: &[(&str, &str)], h: &Histogram) {
    let bucket = format!("{name}_bucket");
    for (bound, n) in BUCKETS.iter().zip(h.counts) {
        out.push_str(&bucket);
        write_labels(out, labels, Some(&number(*bound)));
        let _ = writeln!(out, " {n}");
    }
    out.push_str(&bucket);
    write_labels(out, labels, Some("+Inf"));
    let _ = writeln!(out, " {}", h.count);
    out.push_str(name);
    out.push_str("_sum");
    write_labels(out, labels, None);
    let _ = writeln!(out, " {}", number(h.sum));
    out.push_str(name);
    out.push_str("_count");
    write_labels(out, labels, None);
    let _ = writeln!(out, " {}", h.count);
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label(out, v);
        out.push('"');
    }
    out.push('}');
}

/// Label values escape `\`, `"` and newline (text format 0.0.4).
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_labels_and_histograms() {
        let m = Metrics::new();
        m.register_store("acme");
        m.inc_webhook("acme", WebhookOutcome::Accepted);
        m.inc_throttled("acme", "shopify");
        m.observe_plugin_call("acme", "map\"er", Duration::from_millis(3), Some("timeout"));
        m.observe_ack("acme", Duration::from_micros(700));
        let text = m.render();
        assert!(text.contains("# TYPE weft_webhooks_received_total counter\n"));
        assert!(
            text.contains("weft_webhooks_received_total{store=\"acme\",outcome=\"accepted\"} 1\n")
        );
        assert!(
            text.contains("weft_webhooks_received_total{store=\"acme\",outcome=\"too_large\"} 0\n")
        );
        assert!(text.contains("weft_throttled_total{store=\"acme\",system=\"shopify\"} 1\n"));
        assert!(text.contains(
            "weft_plugin_errors_total{store=\"acme\",plugin=\"map\\\"er\",kind=\"timeout\"} 1\n"
        ));
        assert!(text.contains(
            "weft_plugin_seconds_bucket{store=\"acme\",plugin=\"map\\\"er\",le=\"0.0025\"} 0\n"
        ));
        assert!(text.contains(
            "weft_plugin_seconds_bucket{store=\"acme\",plugin=\"map\\\"er\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains("weft_intake_ack_seconds_bucket{store=\"acme\",le=\"0.0005\"} 0\n"));
        assert!(text.contains("weft_intake_ack_seconds_bucket{store=\"acme\",le=\"0.001\"} 1\n"));
        assert!(text.contains("weft_intake_ack_seconds_bucket{store=\"acme\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("weft_intake_ack_seconds_count{store=\"acme\"} 1\n"));
        assert!(text.contains("weft_webhooks_unknown_store_total 0\n"));
    }
}
