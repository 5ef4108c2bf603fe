//! `[cluster]` of the host file: how this host shares the stores with other hosts on the same
//! database. Owned here so the rest of the loader only hands it the table.
//!
//! ```toml
//! [cluster]
//! host_id = "weft-1"        # default: <hostname>-<pid>
//! lease_ttl = "15s"         # a host that stops renewing loses its stores after this long
//! renew_interval = "5s"     # how often leases and the heartbeat are renewed (< lease_ttl / 2)
//! ```
//!
//! Every store is owned by one host at a time through a lease in the database; with one host
//! (SQLite) it simply owns them all.

use std::time::Duration;

use crate::load::{Cx, Tbl};

const CLUSTER_KEYS: [&str; 3] = ["host_id", "lease_ttl", "renew_interval"];

/// `[cluster]`: this host's identity among the hosts sharing the database, and its leases'
/// timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The host's id, unique among the processes running on the database. `None`: the
    /// machine's hostname and the process id. A restarted process with the same id takes its
    /// stores back at once (its predecessor is taken to be dead, and fenced); with the default
    /// it waits for the old leases to expire.
    pub host_id: Option<String>,
    /// How long a lease lasts unless renewed: the longest a dead host's stores go unserved.
    pub lease_ttl: Duration,
    /// How often the host renews its leases and heartbeat and rebalances stores.
    pub renew_interval: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            host_id: None,
            lease_ttl: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
        }
    }
}

/// Whether `id` is a usable host id: 1 to 128 letters, digits and `-_.:@`.
pub fn valid_host_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
}

/// Reads `[cluster]` from the host file's root table.
pub(crate) fn read(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> ClusterConfig {
    let mut cluster = ClusterConfig::default();
    let Some(t) = cx.sub_table(root, "cluster", "cluster") else {
        return cluster;
    };
    cx.check_keys(&t, &CLUSTER_KEYS);
    if let Some((id, span)) = cx.string(&t, "host_id", "host_id = \"weft-1\"") {
        if valid_host_id(&id) {
            cluster.host_id = Some(id);
        } else {
            cx.err(
                span,
                format!("invalid `host_id` `{id}` in [cluster]"),
                Some("1 to 128 letters, digits and `-_.:@`, unique among the hosts".into()),
            );
        }
    }
    if let Some(d) = cx.duration(&t, "lease_ttl", Duration::from_secs(1)) {
        cluster.lease_ttl = d;
    }
    if let Some(d) = cx.duration(&t, "renew_interval", Duration::from_millis(100)) {
        cluster.renew_interval = d;
    }
    if cluster.renew_interval * 2 > cluster.lease_ttl {
        let span = t
            .get("renew_interval")
            .or_else(|| t.get("lease_ttl"))
            .map_or(t.span.clone(), |v| v.span());
        cx.err(
            span,
            format!(
                "`renew_interval` ({}) in [cluster] must be at most half of `lease_ttl` ({})",
                crate::time::format_duration(cluster.renew_interval),
                crate::time::format_duration(cluster.lease_ttl)
            ),
            Some(
                "a host renews several times per TTL, so one slow renewal does not lose its stores"
                    .into(),
            ),
        );
    }
    cluster
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::load;

    fn host(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stores")).unwrap();
        let path = dir.path().join("weft.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_values_and_every_problem_reported() {
        let (_d, path) = host("");
        let c = load(&path, &[]).unwrap().cluster;
        assert_eq!(c, super::ClusterConfig::default());

        let (_d, path) = host(
            "[cluster]\nhost_id = \"weft-a\"\nlease_ttl = \"3s\"\nrenew_interval = \"500ms\"\n",
        );
        let c = load(&path, &[]).unwrap().cluster;
        assert_eq!(c.host_id.as_deref(), Some("weft-a"));
        assert_eq!(c.lease_ttl, Duration::from_secs(3));
        assert_eq!(c.renew_interval, Duration::from_millis(500));

        let (_d, path) = host(
            "[cluster]\nhost_id = \"a b\"\nlease_ttl = \"2s\"\nrenew_interval = \"2s\"\nttl = 1\n",
        );
        let err = load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("invalid `host_id` `a b`"), "{err}");
        assert!(err.contains("at most half of `lease_ttl`"), "{err}");
        assert!(err.contains("ttl"), "unknown keys are reported: {err}");
    }
}
