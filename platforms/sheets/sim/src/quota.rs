//! The per-minute quotas: read and write requests, each limited per user (the service
//! account) and per project, counted in windows of one minute of the simulator's clock that
//! refill whole at the minute. A refused request is not counted.

use std::collections::HashMap;

use serde_json::json;

use crate::error::GoogleError;

/// A request's quota group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// `spreadsheets.get`, `values.get`, `values:batchGet`.
    Read,
    /// `values.update`, `values:batchUpdate`, `values:append`, clears.
    Write,
}

/// The limits (Google's defaults: 60 per minute per user, 300 per minute per project, for
/// reads and writes alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Read requests per minute per user.
    pub reads_per_user: u32,
    /// Read requests per minute per project.
    pub reads_per_project: u32,
    /// Write requests per minute per user.
    pub writes_per_user: u32,
    /// Write requests per minute per project.
    pub writes_per_project: u32,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        QuotaLimits {
            reads_per_user: 60,
            reads_per_project: 300,
            writes_per_user: 60,
            writes_per_project: 300,
        }
    }
}

/// Counters of the current window.
#[derive(Debug, Default)]
pub struct Quota {
    minute: u64,
    counts: HashMap<(Group, bool, String), u32>,
    /// Requests refused with 429, by group.
    pub throttled: HashMap<Group, u64>,
}

impl Quota {
    /// Counts one request of `group` by `user` of `project` at `now_secs`, or refuses it with
    /// Google's 429 `RESOURCE_EXHAUSTED`.
    pub fn take(
        &mut self,
        limits: &QuotaLimits,
        group: Group,
        user: &str,
        project: &str,
        project_number: u64,
        now_secs: u64,
    ) -> Result<(), GoogleError> {
        let minute = now_secs / 60;
        if minute != self.minute {
            self.minute = minute;
            self.counts.clear();
        }
        let (per_user, per_project) = match group {
            Group::Read => (limits.reads_per_user, limits.reads_per_project),
            Group::Write => (limits.writes_per_user, limits.writes_per_project),
        };
        let user_key = (group, true, user.to_owned());
        let project_key = (group, false, project.to_owned());
        let used_user = self.counts.get(&user_key).copied().unwrap_or(0);
        let used_project = self.counts.get(&project_key).copied().unwrap_or(0);
        let over = if used_user >= per_user {
            Some(true)
        } else if used_project >= per_project {
            Some(false)
        } else {
            None
        };
        if let Some(by_user) = over {
            *self.throttled.entry(group).or_default() += 1;
            return Err(exhausted(group, by_user, project_number));
        }
        *self.counts.entry(user_key).or_default() += 1;
        *self.counts.entry(project_key).or_default() += 1;
        Ok(())
    }
}

/// Google's 429 body for a spent per-minute quota.
pub fn exhausted(group: Group, per_user: bool, project_number: u64) -> GoogleError {
    let (metric, metric_id, limit_id) = match (group, per_user) {
        (Group::Read, true) => (
            "Read requests",
            "read_requests",
            "ReadRequestsPerMinutePerUser",
        ),
        (Group::Read, false) => (
            "Read requests",
            "read_requests",
            "ReadRequestsPerMinutePerProject",
        ),
        (Group::Write, true) => (
            "Write requests",
            "write_requests",
            "WriteRequestsPerMinutePerUser",
        ),
        (Group::Write, false) => (
            "Write requests",
            "write_requests",
            "WriteRequestsPerMinutePerProject",
        ),
    };
    let limit = format!(
        "{metric} per minute{}",
        if per_user { " per user" } else { "" }
    );
    let mut e = GoogleError::new(
        429,
        "RESOURCE_EXHAUSTED",
        format!(
            "Quota exceeded for quota metric '{metric}' and limit '{limit}' of service 'sheets.googleapis.com' for consumer 'project_number:{project_number}'."
        ),
    );
    e.details = Some(json!([
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "consumer": format!("projects/{project_number}"),
                "quota_limit": limit_id,
                "quota_limit_value": "",
                "quota_location": "global",
                "quota_metric": format!("sheets.googleapis.com/{metric_id}"),
                "service": "sheets.googleapis.com"
            }
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{
                "description": "Request a higher quota limit.",
                "url": "https://cloud.google.com/docs/quotas/help/request_increase"
            }]
        }
    ]));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_then_per_project_then_refill() {
        let limits = QuotaLimits {
            reads_per_user: 2,
            reads_per_project: 3,
            writes_per_user: 1,
            writes_per_project: 5,
        };
        let mut q = Quota::default();
        let mut take = |g, u: &str, t| q.take(&limits, g, u, "p", 42, t);
        assert!(take(Group::Read, "a", 0).is_ok());
        assert!(take(Group::Read, "a", 1).is_ok());
        let e = take(Group::Read, "a", 2).unwrap_err();
        assert_eq!(e.code, 429);
        assert!(e.message.contains("'Read requests per minute per user'"));
        assert!(e.message.contains("project_number:42"));
        assert!(take(Group::Read, "b", 3).is_ok());
        let e = take(Group::Read, "c", 4).unwrap_err();
        assert!(e.message.contains("'Read requests per minute'"));
        assert!(take(Group::Write, "a", 5).is_ok(), "writes count apart");
        assert!(
            take(Group::Read, "a", 60).is_ok(),
            "the next minute refills"
        );
        assert_eq!(q.throttled[&Group::Read], 2);
    }
}
