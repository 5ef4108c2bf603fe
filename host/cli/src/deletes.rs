//! `weft deletes ...`: deletions the mass-delete guard holds (`[deletes] guard_percent`): a
//! poll round or a minute of webhooks that would delete more than that share of a kind's
//! records is not applied until an operator looks.
//!
//! `release` hands exactly the held journal entries back to the running host, whose next
//! step applies them (past the guard) under the store's delete policy; `discard` drops them:
//! they stay in the journal and are never applied.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use weft_store::HeldDelete;

use crate::ops::StoreArgs;

/// The `weft deletes` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeletesCommand {
    /// List held deletions: the system and entity deleted, how many records it carries, why.
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
    /// Apply exactly the held deletions of a store (the running host's next step does).
    Release(DecideArgs),
    /// Drop the held deletions of a store: none of them is ever applied.
    Discard(DecideArgs),
}

/// Which store's held deletions.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    #[command(flatten)]
    db: StoreArgs,
    /// The store.
    #[arg(long)]
    store: String,
    /// One JSON object per line (the deletions decided).
    #[arg(long)]
    json: bool,
}

fn line(store: &str, h: &HeldDelete, json: bool) -> String {
    if json {
        json!({
            "store_id": store, "seq": h.seq, "system": h.system, "kind": h.kind,
            "entity_id": h.entity_id, "record_kind": h.record_kind, "records": h.records,
            "reason": h.reason, "held_at": h.at.to_rfc3339(),
        })
        .to_string()
    } else {
        format!(
            "{store} #{} {} {} {} ({} record(s)): {}",
            h.seq, h.system, h.kind, h.entity_id, h.records, h.reason
        )
    }
}

/// Runs a `weft deletes` subcommand.
pub async fn deletes(cmd: DeletesCommand) -> Result<ExitCode> {
    match cmd {
        DeletesCommand::List { db, store, json } => {
            let db = db.open().await?;
            let stores = match store {
                Some(s) => vec![s],
                None => db.store_ids().await?,
            };
            let mut any = false;
            for store in stores {
                for h in db.held_deletes(&store).await? {
                    any = true;
                    crate::outln!("{}", line(&store, &h, json));
                }
            }
            if !any && !json {
                crate::outln!("no held deletions");
            }
            Ok(ExitCode::SUCCESS)
        }
        DeletesCommand::Release(args) => {
            let db = args.db.open().await?;
            let done = db
                .release_held_deletes(&args.store, chrono::Utc::now())
                .await?;
            report(
                &args,
                &done,
                "released: the running host applies them at its next step",
            );
            Ok(ExitCode::SUCCESS)
        }
        DeletesCommand::Discard(args) => {
            let db = args.db.open().await?;
            let done = db.discard_held_deletes(&args.store).await?;
            report(&args, &done, "discarded: never applied");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(args: &DecideArgs, done: &[HeldDelete], what: &str) {
    for h in done {
        crate::outln!("{}", line(&args.store, h, args.json));
    }
    if !args.json {
        if done.is_empty() {
            crate::outln!("{}: no held deletions", args.store);
        } else {
            crate::outln!("{}: {} deletion(s) {what}", args.store, done.len());
        }
    }
}
