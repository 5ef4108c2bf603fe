//! `weft proposals ...`: changes a system that does not own a field made, kept aside by the
//! store's `[policy] on_change = { ... = "propose" }` for an operator to accept or refuse.
//!
//! A decision is journaled (see `weft_engine::ownership::decision_entry`) and applied by the
//! running host's next step, in journal order, so it is durable, ordered with the proposer's
//! own changes, and replayed like any observation. A decision names the value the operator saw:
//! if the proposal changed since, it is not applied.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use weft_engine::ownership::{self, Decision, decision_entry};

use crate::ops::StoreArgs;

/// The `weft proposals` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProposalsCommand {
    /// List open proposals: record, field, the proposing system, its value and the agreed one.
    List {
        #[command(flatten)]
        db: StoreArgs,
        /// Only this store.
        #[arg(long)]
        store: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Accept a proposal: its value becomes the agreed one and is written to every system,
    /// the field's owner included.
    Accept(DecideArgs),
    /// Refuse a proposal: the agreed value is written back to the system that proposed.
    Refuse(DecideArgs),
}

/// Which proposal a decision is about.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    #[command(flatten)]
    db: StoreArgs,
    /// The store.
    #[arg(long)]
    store: String,
    /// The record's kind (`price`, `variant`, `customer`, ...), as `weft proposals list` prints it.
    kind: String,
    /// The record's canonical key (a SKU, `shopify:1001`, ...).
    key: String,
    /// The field.
    field: String,
}

/// One open proposal.
struct Open {
    kind: String,
    key: String,
    field: String,
    proposal: Value,
    agreed: Value,
}

async fn open_proposals(db: &weft_store::Store, store: &str) -> Result<Vec<Open>> {
    let mut out = Vec::new();
    let needle = format!("\"{}\"", ownership::PROPOSED);
    for g in db.golden_with_meta(store, &needle, u32::MAX).await? {
        for (field, proposal) in ownership::proposals(&g.field_meta) {
            out.push(Open {
                agreed: g.fields.get(&field).cloned().unwrap_or(Value::Null),
                kind: g.kind.clone(),
                key: g.key.clone(),
                field,
                proposal,
            });
        }
    }
    Ok(out)
}

/// How many proposals are open in `store` (for `weft status`).
pub async fn open_count(db: &weft_store::Store, store: &str) -> Result<usize> {
    Ok(open_proposals(db, store).await?.len())
}

/// Runs a `weft proposals` subcommand.
pub async fn proposals(cmd: ProposalsCommand) -> Result<ExitCode> {
    match cmd {
        ProposalsCommand::List { db, store, json } => {
            let db = db.open().await?;
            let stores = match store {
                Some(s) => vec![s],
                None => db.store_ids().await?,
            };
            let mut any = false;
            for store in stores {
                for p in open_proposals(&db, &store).await? {
                    any = true;
                    let system = p
                        .proposal
                        .get("system")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let value = p.proposal.get("value").cloned().unwrap_or(Value::Null);
                    if json {
                        crate::outln!(
                            "{}",
                            json!({
                                "store_id": store, "kind": p.kind, "key": p.key, "field": p.field,
                                "system": system, "value": value, "agreed": p.agreed,
                                "version": p.proposal.get("version"), "at": p.proposal.get("at"),
                            })
                        );
                    } else {
                        crate::outln!(
                            "{store} {} {} {}: {system} proposes {value} (agreed {})",
                            p.kind,
                            p.key,
                            p.field,
                            p.agreed
                        );
                    }
                }
            }
            if !any && !json {
                crate::outln!("no open proposals");
            }
            Ok(ExitCode::SUCCESS)
        }
        ProposalsCommand::Accept(args) => decide(args, true).await,
        ProposalsCommand::Refuse(args) => decide(args, false).await,
    }
}

async fn decide(args: DecideArgs, accept: bool) -> Result<ExitCode> {
    let db = args.db.open().await?;
    let open = open_proposals(&db, &args.store).await?;
    let Some(p) = open
        .into_iter()
        .find(|p| p.kind == args.kind && p.key == args.key && p.field == args.field)
    else {
        bail!(
            "no open proposal for {} {} {} in store {} (`weft proposals list --store {}` shows them)",
            args.kind,
            args.key,
            args.field,
            args.store,
            args.store
        );
    };
    let Some(system) = p.proposal.get("system").and_then(Value::as_str) else {
        bail!("the proposal names no system: {}", p.proposal);
    };
    let decision = Decision {
        field: p.field.clone(),
        accept,
        value: p.proposal.get("value").cloned().unwrap_or(Value::Null),
    };
    let entry = decision_entry(
        &args.store,
        system,
        &p.kind,
        &p.key,
        &decision,
        chrono::Utc::now(),
    );
    db.append(entry).await?;
    crate::outln!(
        "{} {} {} {}: {} {}; the running host applies it at its next step",
        args.store,
        p.kind,
        p.key,
        p.field,
        if accept { "accepted" } else { "refused" },
        decision.value
    );
    Ok(ExitCode::SUCCESS)
}
