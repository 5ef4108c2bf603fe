//! The per-store sync engine: stale guard, mapping, three-way merge, conflict resolution,
//! diff against each target's last known state, and the outbox.
//!
//! # Layout
//! - [`version`]: source versions and the stale guard (order by version, not by arrival).
//! - [`merge`]: field-by-field three-way merge against the golden record, and the write diff.

pub mod merge;
pub mod version;
