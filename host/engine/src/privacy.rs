//! Privacy requests of one store, processed as soon as they are stored (the server stores a
//! platform's request before acknowledging it, then wakes the store's processing loop, which
//! calls [`PrivacyProcessor::run_pending`] before each step; a request stored before a crash is
//! processed when the store starts again).
//!
//! - A customer redaction and a shop redaction erase personal data through
//!   [`weft_store::Store::redact_subject`], with the personal keys each system's platform
//!   declares ([`weft_platform::Platform::personal_fields`]) and those of the canonical model
//!   ([`weft_platform::canonical_personal_fields`]). Running in the processing loop, between
//!   steps, a redaction never races a step that read the records before it; a write of the
//!   subject's records that is in flight makes it wait for the write to settle.
//! - A data request writes the export ([`weft_store::Store::privacy_export`]) as one JSON file
//!   into the export directory, when the host has one; otherwise the request stays pending for
//!   the operator (`weft privacy export`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};
use tracing::{info, warn};
use weft_platform::{EntityKind, Systems, canonical_personal_fields};
use weft_store::{PrivacyAction, PrivacyRequest, RedactionOutcome, RedactionPlan, Store};

use crate::error::EngineError;

/// What one pass over the pending requests did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivacyPass {
    /// Requests completed.
    pub completed: u64,
    /// Requests still pending (a write in flight, no export directory, a failure).
    pub pending: u64,
    /// Rows redacted.
    pub rows: u64,
    /// Strings redacted.
    pub fields: u64,
}

/// Processes one store's privacy requests.
#[derive(Clone, Debug)]
pub struct PrivacyProcessor {
    store_id: String,
    db: Store,
    systems: Systems,
    export_dir: Option<PathBuf>,
}

/// The redaction plan for a store's systems: the canonical model's personal keys and each
/// system's platform's.
pub fn redaction_plan(systems: &Systems) -> RedactionPlan {
    let mut plan = RedactionPlan::default();
    for kind in EntityKind::ALL {
        let keys = canonical_personal_fields(kind);
        if !keys.is_empty() {
            plan.canonical.insert(
                kind.as_str().to_owned(),
                keys.iter().map(|k| (*k).to_owned()).collect(),
            );
        }
    }
    for s in systems.iter() {
        for kind in EntityKind::ALL {
            let jk = s.platform.document_kind(kind).as_str().to_owned();
            if jk != kind.as_str() {
                plan.journal_kinds
                    .insert((s.name.clone(), kind.as_str().to_owned()), jk.clone());
            }
            for k in [jk.as_str(), kind.as_str()] {
                let keys = s.platform.personal_fields(k);
                if !keys.is_empty() {
                    plan.documents.insert(
                        (s.name.clone(), k.to_owned()),
                        keys.iter().map(|k| (*k).to_owned()).collect(),
                    );
                }
            }
        }
    }
    plan
}

impl PrivacyProcessor {
    /// A processor of `store_id`'s requests over its `systems`.
    pub fn new(store_id: impl Into<String>, db: Store, systems: Systems) -> Self {
        PrivacyProcessor {
            store_id: store_id.into(),
            db,
            systems,
            export_dir: None,
        }
    }

    /// Writes data requests' exports into `dir` (created if missing).
    #[must_use]
    pub fn with_export_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.export_dir = Some(dir.into());
        self
    }

    /// The store.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Processes every pending request of the store, oldest first.
    pub async fn run_pending(&self) -> Result<PrivacyPass, EngineError> {
        let mut pass = PrivacyPass::default();
        let pending = self.db.privacy_requests(Some(&self.store_id), true).await?;
        if pending.is_empty() {
            return Ok(pass);
        }
        let plan = redaction_plan(&self.systems);
        // Never while a step of the store (a replay's, started by the console) plans.
        let lock = self.db.step_lock(&self.store_id);
        let _turn = lock.lock().await;
        for req in pending {
            match self.process(&req, &plan).await {
                Ok(Some((rows, fields))) => {
                    pass.completed += 1;
                    pass.rows += rows;
                    pass.fields += fields;
                }
                Ok(None) => pass.pending += 1,
                Err(e) => {
                    pass.pending += 1;
                    warn!(store = %self.store_id, request = req.id, error = %e, "privacy request failed; it stays pending");
                    self.db
                        .privacy_request_failed(req.id, &e.to_string())
                        .await?;
                }
            }
        }
        Ok(pass)
    }

    /// One request: `Some((rows, fields))` when done, `None` when it must wait.
    async fn process(
        &self,
        req: &PrivacyRequest,
        plan: &RedactionPlan,
    ) -> Result<Option<(u64, u64)>, EngineError> {
        let started = Instant::now();
        match req.action {
            PrivacyAction::Redact | PrivacyAction::ShopRedact => {
                let outcome = self.db.redact_subject(req, plan, Utc::now()).await?;
                match outcome {
                    RedactionOutcome::Done(report) => {
                        info!(
                            store = %self.store_id,
                            request = req.id,
                            action = req.action.as_str(),
                            rows = report.total_rows(),
                            fields = report.total_fields(),
                            ms = started.elapsed().as_millis() as u64,
                            "privacy redaction done"
                        );
                        Ok(Some((report.total_rows(), report.total_fields())))
                    }
                    RedactionOutcome::WritesInFlight(n) => {
                        info!(store = %self.store_id, request = req.id, writes = n, "privacy redaction waits for writes in flight");
                        Ok(None)
                    }
                }
            }
            PrivacyAction::Export => {
                let Some(dir) = &self.export_dir else {
                    const WAITING: &str = "no export directory: run `weft privacy export`";
                    if req.last_error.as_deref() != Some(WAITING) {
                        self.db.privacy_request_failed(req.id, WAITING).await?;
                    }
                    return Ok(None);
                };
                let doc = self
                    .db
                    .privacy_export(&self.store_id, &req.system, &req.subject, plan, Utc::now())
                    .await?;
                let file = dir.join(format!(
                    "{}-{}-request-{}.json",
                    self.store_id, req.system, req.id
                ));
                write_private(&file, &doc).map_err(|e| {
                    EngineError::Privacy(format!("cannot write {}: {e}", file.display()))
                })?;
                let report = json!({
                    "file": file.display().to_string(),
                    "records": doc["records"].as_array().map_or(0, Vec::len),
                    "journal_entries": doc["journal"].as_array().map_or(0, Vec::len),
                });
                self.db
                    .complete_privacy_request(req.id, &report, Utc::now())
                    .await?;
                info!(store = %self.store_id, request = req.id, file = %file.display(), "privacy data request exported");
                Ok(Some((0, 0)))
            }
        }
    }
}

/// Writes `doc` to `file` readable by its owner only, durably (a temporary file renamed over
/// it after an fsync).
pub fn write_private(file: &Path, doc: &Value) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension("json.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(
        serde_json::to_string_pretty(doc)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}
