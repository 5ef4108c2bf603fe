//! `weft explain`: why a record's fields hold their values, from the journal and the lineage
//! each processing step keeps ([`weft_store::Store::explain`]).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use serde_json::Value;
use weft_store::{Explanation, Store, describe_decision};

use crate::ops::StoreArgs;

/// How many of a record's newest steps are read.
pub const STEPS: u32 = 500;

/// Flags of `weft explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub db: StoreArgs,
    /// The store.
    #[arg(long)]
    pub store: String,
    /// The canonical kind (variant, price, inventory-level, customer, order, product,
    /// fulfillment).
    pub kind: String,
    /// The record: its canonical key (a SKU), or any system's id of it. A SKU names every
    /// stock level of it for `inventory-level`.
    pub id: String,
    /// Only this field.
    pub field: Option<String>,
    /// Print one JSON object per record, one per line.
    #[arg(long)]
    pub json: bool,
}

/// The records of `kind` that `id` names in `store_id` (see [`Store::find_records`]).
pub async fn resolve(db: &Store, store_id: &str, kind: &str, id: &str) -> Result<Vec<String>> {
    let found = db.find_records(store_id, id, 100).await?;
    Ok(found
        .into_iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.key)
        .collect())
}

/// `weft explain`.
pub async fn explain(args: ExplainArgs) -> Result<ExitCode> {
    let db = args.db.open().await?;
    let started = Instant::now();
    let keys = resolve(&db, &args.store, &args.kind, &args.id).await?;
    if keys.is_empty() {
        bail!(
            "store {}: no {} record is named `{}` (by key, SKU or any system's id)",
            args.store,
            args.kind,
            args.id
        );
    }
    for key in keys {
        let Some(mut e) = db.explain(&args.store, &args.kind, &key, STEPS).await? else {
            continue;
        };
        if let Some(f) = &args.field {
            e = e.field(f);
        }
        if args.json {
            crate::outln!("{}", serde_json::to_string(&e)?);
        } else {
            crate::outln!("{}", render(&e));
        }
    }
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "explained"
    );
    Ok(ExitCode::SUCCESS)
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(v) => v.to_string(),
    }
}

/// The explanation as text: each field with its golden value and each system's copy, then
/// every step in order with its decisions and the writes it caused.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {} (store {})", e.kind, e.key, e.store_id);
    let mut fields: Vec<&String> = e
        .golden
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .collect();
    for c in &e.copies {
        for k in c.fields.as_object().into_iter().flat_map(|m| m.keys()) {
            if !fields.contains(&k) {
                fields.push(k);
            }
        }
    }
    fields.sort();
    for f in fields {
        let prov = e.provenance.get(f.as_str());
        let by = prov
            .and_then(|p| p.get("system"))
            .and_then(Value::as_str)
            .map(|s| {
                format!(
                    " (agreed from {s}, journal #{})",
                    show(prov.and_then(|p| p.get("seq")))
                )
            })
            .unwrap_or_default();
        let _ = writeln!(out, "  {f} = {}{by}", show(e.golden.get(f.as_str())));
        for c in &e.copies {
            let _ = writeln!(
                out,
                "      {:<12} {}{}",
                c.system,
                show(c.fields.get(f.as_str())),
                c.entity_id
                    .as_deref()
                    .map(|i| format!("  (id {i})"))
                    .unwrap_or_default()
            );
        }
        if let Some(r) = prov.and_then(|p| p.get("refused")) {
            let _ = writeln!(
                out,
                "      refused last: {} from {}: {}",
                show(r.get("value")),
                show(r.get("system")),
                show(r.get("reason"))
            );
        }
    }
    let _ = writeln!(out, "  history (oldest first):");
    if e.steps.is_empty() {
        let _ = writeln!(out, "    (no step recorded a decision for this record)");
    }
    for s in &e.steps {
        let who = if s.system.is_empty() {
            "writes planned".to_owned()
        } else {
            format!(
                "{} {} v{}",
                s.system,
                if s.source.is_empty() { "?" } else { &s.source },
                s.version.as_deref().unwrap_or("?")
            )
        };
        let _ = writeln!(
            out,
            "    #{} {} {}{}: mapped by {}",
            s.seq,
            s.received_at
                .unwrap_or(s.at)
                .format("%Y-%m-%d %H:%M:%S%.3fZ"),
            who,
            if s.mode == "replay" { " [replay]" } else { "" },
            s.mapper
        );
        for (f, d) in s.fields.as_object().into_iter().flatten() {
            let _ = writeln!(out, "        {f}: {}", describe_decision(d));
        }
        for w in &s.writes {
            let _ = writeln!(
                out,
                "        -> write {} {} to {}: {}{}",
                if w.id > 0 {
                    format!("#{}", w.id)
                } else {
                    "-".into()
                },
                w.op,
                w.system,
                w.status,
                w.last_error
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            );
        }
    }
    out
}

/// `weft lineage`: the history `weft explain` reads.
#[derive(Debug, clap::Subcommand)]
pub enum LineageCommand {
    /// Delete lineage rows older than `--older-than`, except, for each record, the newest row
    /// of each system's field (it explains the value the field holds now). `weft run` does the
    /// same periodically with `[console] lineage_retention`.
    Purge {
        #[command(flatten)]
        db: StoreArgs,
        /// Only this store (default: every store).
        #[arg(long)]
        store: Option<String>,
        /// Rows written longer ago than this (`90d`, `12h`).
        #[arg(long, value_parser = parse_age)]
        older_than: std::time::Duration,
        /// Print the count as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn parse_age(s: &str) -> std::result::Result<std::time::Duration, String> {
    weft_config::parse_duration(s)
}

/// Purges the lineage of `stores` (every store in the database when `None`) older than
/// `before`: see [`Store::purge_lineage`]. Returns the rows deleted.
pub async fn purge(
    db: &Store,
    stores: Option<&[String]>,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let ids = match stores {
        Some(s) => s.to_vec(),
        None => db.store_ids().await?,
    };
    let mut n = 0;
    for id in ids {
        n += db.purge_lineage(&id, before).await?;
    }
    Ok(n)
}

/// Runs `weft lineage`.
pub async fn lineage(cmd: LineageCommand) -> Result<ExitCode> {
    match cmd {
        LineageCommand::Purge {
            db,
            store,
            older_than,
            json,
        } => {
            let db = db.open().await?;
            let before = chrono::Utc::now() - chrono::TimeDelta::from_std(older_than)?;
            let stores = store.map(|s| vec![s]);
            let n = purge(&db, stores.as_deref(), before).await?;
            if json {
                crate::outln!(
                    "{}",
                    serde_json::json!({ "deleted": n, "before": before.to_rfc3339() })
                );
            } else {
                crate::outln!(
                    "deleted {n} lineage rows written before {} (the newest of each field of each record kept)",
                    before.to_rfc3339()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Purges lineage older than `retention` every `every` (the first time one minute after
/// start), for `weft run` with `[console] lineage_retention`. Failures are logged and tried
/// again next time.
pub fn spawn_lineage_purge(
    db: Store,
    retention: std::time::Duration,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + std::time::Duration::from_secs(60).min(every);
        let mut tick = tokio::time::interval_at(start, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Ok(keep) = chrono::TimeDelta::from_std(retention) else {
                return;
            };
            let before = chrono::Utc::now() - keep;
            let started = Instant::now();
            match purge(&db, None, before).await {
                Ok(n) => tracing::info!(
                    deleted = n,
                    before = %before.to_rfc3339(),
                    ms = started.elapsed().as_millis() as u64,
                    "lineage purged"
                ),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "lineage purge failed"),
            }
        }
    })
}
