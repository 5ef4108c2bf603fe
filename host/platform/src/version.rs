//! Source versions: the modification times that order documents by version, not by arrival.
//!
//! Platforms stamp documents with RFC 3339 times in different offsets (Shopify webhooks carry
//! `-04:00`, NetSuite `Z`), so versions are compared as instants, never as strings. A version
//! that does not parse is kept as text and only ever compared with equal text: weft never
//! guesses an order it cannot prove.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

/// A document's source version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A parsed instant (UTC).
    At(DateTime<Utc>),
    /// A version string that is not a recognised timestamp.
    Opaque(String),
}

impl Version {
    /// Parses a platform version: RFC 3339 with any offset, or a naive `YYYY-MM-DD HH:MM:SS`
    /// (taken as UTC, as NetSuite's SuiteQL returns it).
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        if let Ok(dt) = DateTime::<FixedOffset>::parse_from_rfc3339(t) {
            return Version::At(dt.with_timezone(&Utc));
        }
        for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
                return Version::At(n.and_utc());
            }
        }
        Version::Opaque(t.to_owned())
    }

    /// Compares two versions; `None` when they cannot be ordered (opaque and different).
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::At(a), Version::At(b)) => Some(a.cmp(b)),
            (Version::Opaque(a), Version::Opaque(b)) if a == b => Some(Ordering::Equal),
            _ => None,
        }
    }

    /// A canonical text form that sorts in version order for parsed versions
    /// (`2026-01-02T03:04:05.000000Z`), so storage can compare with plain string order.
    pub fn sortable(&self) -> String {
        match self {
            Version::At(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            Version::Opaque(s) => s.clone(),
        }
    }
}

/// How an observed version relates to the last one weft holds for the same entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Nothing known yet, or strictly newer: process it.
    Newer,
    /// The same version again (a duplicate delivery or a poll echo of a webhook).
    Same,
    /// Older than what is known: a stale retry or a reordered delivery; never applied.
    Stale,
    /// Versions cannot be ordered; processed, because dropping a change is worse than
    /// re-deriving the same state (the merge is idempotent).
    Unordered,
}

/// The stale guard: classifies `incoming` against the last known version.
pub fn freshness(known: Option<&str>, incoming: &str) -> Freshness {
    let Some(known) = known else {
        return Freshness::Newer;
    };
    match Version::parse(incoming).compare(&Version::parse(known)) {
        Some(Ordering::Greater) => Freshness::Newer,
        Some(Ordering::Equal) => Freshness::Same,
        Some(Ordering::Less) => Freshness::Stale,
        None => Freshness::Unordered,
    }
}

/// The version of a deletion made or seen at `at`: `at`, or one second after `held` (the
/// version weft holds of the record) when that is later. The platform's clock may be ahead of
/// weft's, and a tombstone must be newer than what it deletes.
pub fn deletion_version(at: DateTime<Utc>, held: Option<&str>) -> String {
    let when = match held.map(Version::parse) {
        Some(Version::At(t)) => at.max(t + chrono::Duration::seconds(1)),
        _ => at,
    };
    format_ts(when)
}

/// The text form weft writes versions in: RFC 3339 in UTC, with as many fraction digits as
/// the instant needs.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_compare_as_instants() {
        // 08:44:10-04:00 is 12:44:10Z: later than 12:00Z even though the text sorts earlier.
        assert_eq!(
            freshness(Some("2020-09-03T12:00:00Z"), "2020-09-03T08:44:10-04:00"),
            Freshness::Newer
        );
        assert_eq!(
            freshness(Some("2020-09-03T12:44:10Z"), "2020-09-03T08:44:10-04:00"),
            Freshness::Same
        );
        assert_eq!(
            freshness(Some("2020-09-03T13:00:00Z"), "2020-09-03T08:44:10-04:00"),
            Freshness::Stale
        );
    }

    #[test]
    fn naive_suiteql_times_are_utc() {
        assert_eq!(
            Version::parse("2026-01-02 03:04:05"),
            Version::parse("2026-01-02T03:04:05Z")
        );
    }

    #[test]
    fn unknown_is_newer_and_opaque_is_unordered() {
        assert_eq!(freshness(None, "whatever"), Freshness::Newer);
        assert_eq!(freshness(Some("v1"), "v2"), Freshness::Unordered);
        assert_eq!(freshness(Some("v1"), "v1"), Freshness::Same);
    }

    #[test]
    fn sortable_form_sorts_like_instants() {
        let a = Version::parse("2026-01-02T03:04:05.5+01:00").sortable();
        let b = Version::parse("2026-01-02T02:04:05.6Z").sortable();
        assert!(a < b, "{a} < {b}");
    }
}
