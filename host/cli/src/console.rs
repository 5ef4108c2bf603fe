//! What the web console (`weft_server::console`) needs from the host: its options from
//! `[console]` (the token resolved from its secret reference), and replays and their previews,
//! which need the store's plugins; `weft replay` runs the same replay and `weft replay
//! --dry-run` prints the same preview.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use weft_config::Config;
use weft_runtime::Runtime;
use weft_server::{ConsoleActions, ConsoleOptions, PreviewWrite, ReplayOutcome, ReplayPreview};
use weft_store::Store;

use crate::app::StoreSetup;

/// The most journal entries one preview plans (in one step, so the preview sees the records as
/// the replay would; a larger selection is cut there and says so).
pub const PREVIEW_MAX: usize = 20_000;

/// The console's options when `[console] token` is set (resolved now, so a missing secret
/// stops start-up naming it), with replays and their previews over `db` and `runtime`.
pub fn options(config: &Config, db: &Store, runtime: &Runtime) -> Result<Option<ConsoleOptions>> {
    let Some(token) = &config.console.token else {
        return Ok(None);
    };
    let token = token.resolve().context("[console] token")?;
    anyhow::ensure!(
        token.expose().len() >= 16,
        "[console] token: use at least 16 characters (it is the console's only lock)"
    );
    let config = Arc::new(config.clone());
    let setup_runtime = runtime.clone();
    let actions = Arc::new(HostActions::new(
        db.clone(),
        runtime.clone(),
        move |store| {
            let s = config
                .store(store)
                .with_context(|| format!("no store `{store}` in the configuration"))?;
            crate::run::setup(s, &setup_runtime, None)
        },
    ));
    Ok(Some(
        ConsoleOptions::new(token.expose().as_bytes().to_vec()).with_actions(actions),
    ))
}

/// Builds a store's setup (its plugins as configured now) by store id.
type SetupFn = dyn Fn(&str) -> Result<StoreSetup> + Send + Sync;

/// The console's replays and previews in a running host: the same work as `weft replay` and
/// `weft replay --dry-run`, over the host's own database (a replay through the handle fenced by
/// the host's lease on the store, which the server hands it), so a replay's steps take turns
/// with the store's processing loop (`Store::step_lock`).
pub struct HostActions {
    db: Store,
    runtime: Runtime,
    setup: Arc<SetupFn>,
}

impl HostActions {
    /// Actions over `db` (the host's handle: the same `Store` its loops use), building each
    /// store's setup with `setup`.
    pub fn new(
        db: Store,
        runtime: Runtime,
        setup: impl Fn(&str) -> Result<StoreSetup> + Send + Sync + 'static,
    ) -> Self {
        HostActions {
            db,
            runtime,
            setup: Arc::new(setup),
        }
    }
}

type Boxed<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send>>;

impl ConsoleActions for HostActions {
    fn replay_preview(
        &self,
        store: String,
        since: Option<DateTime<Utc>>,
        entity: Option<String>,
    ) -> Boxed<ReplayPreview> {
        let (setup, db, runtime) = (self.setup.clone(), self.db.clone(), self.runtime.clone());
        Box::pin(async move {
            let run = async {
                let setup = setup(&store)?;
                preview_store(&db, &runtime, &setup, since, entity.as_deref()).await
            };
            run.await.map_err(|e: anyhow::Error| format!("{e:#}"))
        })
    }

    fn replay_run(
        &self,
        db: Store,
        store: String,
        since: Option<DateTime<Utc>>,
        entity: Option<String>,
    ) -> Boxed<ReplayOutcome> {
        // `db` is the handle fenced by this host's lease on the store (the server refused the
        // run when this host does not hold it): a replay writes only while the lease is ours.
        let (setup, runtime) = (self.setup.clone(), self.runtime.clone());
        Box::pin(async move {
            let run = async {
                let setup = setup(&store)?;
                // What the console runs is what it previewed: a selection one preview covers.
                let (_, truncated) = selection(&db, &setup.id, since, entity.as_deref()).await?;
                anyhow::ensure!(
                    !truncated,
                    "the selection is larger than one preview ({PREVIEW_MAX} entries): narrow it with a later `since`, or run `weft replay` with the host stopped"
                );
                let r =
                    crate::run::replay_store(&db, &runtime, &setup, since, entity.as_deref(), None)
                        .await?;
                Ok(ReplayOutcome {
                    entries: r.entries,
                    mapped: r.mapped,
                    failed: r.failed,
                    conflicts: r.conflicts,
                    writes: r.writes,
                })
            };
            run.await.map_err(|e: anyhow::Error| format!("{e:#}"))
        })
    }
}

/// What `weft replay` of `setup`'s store would write (entries received at or after `since`, of
/// entity kind `entity`), per record and field, without queuing anything.
pub async fn preview_store(
    db: &Store,
    runtime: &Runtime,
    setup: &StoreSetup,
    since: Option<DateTime<Utc>>,
    entity: Option<&str>,
) -> Result<ReplayPreview> {
    let processor = crate::run::replay_processor(db, runtime, setup).await?;
    let (entries, truncated) = selection(db, &setup.id, since, entity).await?;
    let (report, rows) = processor
        .preview(entries)
        .await
        .with_context(|| format!("store {}: replay preview", setup.id))?;
    let mut writes = Vec::with_capacity(rows.len());
    for row in rows {
        let known = db
            .target_state(&setup.id, &row.system, &row.kind, &row.key)
            .await?
            .map(|t| t.fields)
            .unwrap_or(Value::Null);
        let mut fields = Vec::new();
        for (f, to) in row
            .body
            .get("desired")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let from = known.get(f).cloned().unwrap_or(Value::Null);
            if from != *to {
                fields.push((f.clone(), from, to.clone()));
            }
        }
        writes.push(PreviewWrite {
            system: row.system,
            kind: row.kind,
            key: row.key,
            op: row.op,
            fields,
        });
    }
    Ok(ReplayPreview {
        entries: report.entries,
        writes,
        truncated,
    })
}

/// The journal entries a replay of `store_id` selects (received at or after `since`, of
/// entity kind `entity`), in journal order, at most [`PREVIEW_MAX`]; `true` when there are
/// more.
async fn selection(
    db: &Store,
    store_id: &str,
    since: Option<DateTime<Utc>>,
    entity: Option<&str>,
) -> Result<(Vec<weft_store::JournalEntry>, bool)> {
    let kinds = entity.map(crate::run::journal_kinds).transpose()?;
    let mut entries = Vec::new();
    let mut after = 0;
    let mut truncated = false;
    loop {
        let page = db.journal_range(store_id, since, None, after, 1000).await?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        after = last;
        entries.extend(
            page.into_iter()
                .filter(|e| kinds.is_none_or(|k| k.contains(&e.kind.as_str()))),
        );
        if entries.len() >= PREVIEW_MAX {
            truncated = entries.len() > PREVIEW_MAX
                || !db
                    .journal_range(store_id, since, None, after, 1)
                    .await?
                    .is_empty();
            entries.truncate(PREVIEW_MAX);
            break;
        }
    }
    Ok((entries, truncated))
}

/// Prints a preview: one line per write and field, or one JSON object.
pub fn print_preview(store_id: &str, p: &ReplayPreview, json: bool) -> Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string(p)?);
        return Ok(());
    }
    crate::outln!(
        "dry run: replaying {} journal entries of store {store_id} would queue {} writes{}",
        p.entries,
        p.writes.len(),
        if p.truncated {
            format!(" (only the first {PREVIEW_MAX} entries were planned: narrow it with --since)")
        } else {
            String::new()
        }
    );
    for w in &p.writes {
        crate::outln!("  {} {} -> {} ({})", w.kind, w.key, w.system, w.op);
        for (f, from, to) in &w.fields {
            crate::outln!("      {f}: {from} -> {to}");
        }
    }
    Ok(())
}
