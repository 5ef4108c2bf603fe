//! `weft privacy`: the operator's side of privacy requests (a platform's customer redaction,
//! data request, shop redaction; see ARCHITECTURE.md, "Privacy requests").
//!
//! - `weft privacy list`: every request, pending and done, with what was done.
//! - `weft privacy export --store S --customer ID [--system NAME]`: the data weft holds about
//!   the customer as one JSON document on stdout; a pending data request for that customer is
//!   marked done (exported by the operator).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use weft_config::Config;
use weft_engine::{System, Systems};
use weft_store::{PrivacyAction, PrivacySubject};

use crate::ops::StoreArgs;

/// The `weft privacy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// List privacy requests, oldest first, with what was done.
    List {
        #[command(flatten)]
        db: StoreArgs,
        /// Only this store's.
        #[arg(long)]
        store: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Print the data weft holds about one customer as one JSON document (redirect it to a
    /// file: `weft privacy export --store S --customer ID > customer.json`).
    Export {
        #[command(flatten)]
        db: StoreArgs,
        /// The store.
        #[arg(long)]
        store: String,
        /// The customer's id in `--system`.
        #[arg(long)]
        customer: String,
        /// The system the id belongs to (default: the store's first system with webhooks, as
        /// the config lists them).
        #[arg(long)]
        system: Option<String>,
        /// Order ids in that system to include as well.
        #[arg(long = "order")]
        orders: Vec<String>,
    },
}

/// The store's systems as the config names them (platforms only, no connections), when the
/// config can be read.
fn offline_systems(config: Option<&Config>, store: &str) -> Systems {
    let Some(s) = config.and_then(|c| c.store(store)) else {
        return Systems::default();
    };
    Systems::new(
        s.systems
            .iter()
            .filter_map(|sys| {
                Some(System {
                    name: sys.name.clone(),
                    platform: crate::platforms::platform(&sys.platform)?,
                    connection: None,
                })
            })
            .collect(),
    )
}

/// Runs a `weft privacy` subcommand.
pub async fn run(cmd: PrivacyCommand) -> Result<ExitCode> {
    let now = chrono::Utc::now();
    match cmd {
        PrivacyCommand::List { db, store, json } => {
            let db = db.open().await?;
            let list = db.privacy_requests(store.as_deref(), false).await?;
            if list.is_empty() && !json {
                crate::outln!("no privacy requests");
            }
            for r in list {
                if json {
                    crate::outln!("{}", serde_json::to_string(&r)?);
                    continue;
                }
                crate::outln!("{}", line(&r));
            }
            Ok(ExitCode::SUCCESS)
        }
        PrivacyCommand::Export {
            db,
            store,
            customer,
            system,
            orders,
        } => {
            let config = if db.database.is_none() || db.config.exists() {
                crate::platforms::load_config(&db.config).ok()
            } else {
                None
            };
            let systems = offline_systems(config.as_ref(), &store);
            let system = match system {
                Some(s) => s,
                None => match systems.iter().find(|s| s.platform.webhooks().is_some()) {
                    Some(s) => s.name.clone(),
                    None => bail!(
                        "cannot tell which system customer {customer} belongs to: give --system (the store's system the id is from)"
                    ),
                },
            };
            if !systems.is_empty_or_has(&system) {
                bail!("store {store} has no system `{system}` (see its config)");
            }
            let handle = db.open().await?;
            let plan = weft_engine::privacy::redaction_plan(&systems);
            let subject = PrivacySubject {
                customer_ids: vec![customer.clone()],
                orders,
                ..PrivacySubject::default()
            };
            let doc = handle
                .privacy_export(&store, &system, &subject, &plan, now)
                .await
                .context("cannot export")?;
            crate::outln!("{}", serde_json::to_string_pretty(&doc)?);
            // A data request for this customer waiting for the operator is answered now.
            for r in handle.privacy_requests(Some(&store), true).await? {
                if r.action == PrivacyAction::Export
                    && r.system == system
                    && r.subject.customer_ids.contains(&customer)
                {
                    handle
                        .complete_privacy_request(
                            r.id,
                            &serde_json::json!({"exported_by": "operator (weft privacy export)"}),
                            now,
                        )
                        .await?;
                    eprintln!("privacy request #{} marked done", r.id);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One request as `weft status` and `weft privacy list` print it.
pub fn line(r: &weft_store::PrivacyRequest) -> String {
    let who = if r.action == PrivacyAction::ShopRedact {
        "the whole shop".to_owned()
    } else {
        format!(
            "customer {}{}",
            r.subject.customer_ids.join(","),
            if r.subject.orders.is_empty() {
                String::new()
            } else {
                format!(" (orders {})", r.subject.orders.join(","))
            }
        )
    };
    let what = match (&r.completed_at, &r.report) {
        (Some(at), Some(report)) => {
            let detail = match (report.get("total_rows"), report.get("file")) {
                (Some(rows), _) => format!(
                    "{rows} rows, {} fields redacted",
                    report
                        .get("total_fields")
                        .unwrap_or(&serde_json::Value::Null)
                ),
                (None, Some(file)) => format!("exported to {}", file.as_str().unwrap_or("?")),
                _ => report.to_string(),
            };
            format!("done {} ({detail})", at.to_rfc3339())
        }
        _ => format!(
            "PENDING since {}{}",
            r.received_at.to_rfc3339(),
            r.last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
    };
    format!(
        "#{} {} {} from {}: {who}: {what}",
        r.id,
        r.store_id,
        r.action.as_str(),
        r.system
    )
}

trait SystemsExt {
    fn is_empty_or_has(&self, name: &str) -> bool;
}

impl SystemsExt for Systems {
    fn is_empty_or_has(&self, name: &str) -> bool {
        self.iter().next().is_none() || self.get(name).is_some()
    }
}
