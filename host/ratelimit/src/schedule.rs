//! Per-store schedules: reconciliation interval, full-resync cron (5 fields), quiet hours in a
//! fixed UTC offset.
//!
//! [`Cron`], [`QuietHours`] and [`UtcOffset`] parse from (and deserialise from) the strings a
//! store's config file holds, with errors that say which field is wrong and why.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;

/// How far ahead [`Cron::next_after`] looks before deciding an expression never fires
/// (e.g. `0 0 30 2 *`). Leap days need up to 8 years.
const SEARCH_YEARS: i32 = 9;

#[derive(Debug, Clone, Copy)]
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
// 7 is accepted as Sunday and folded onto 0 after parsing.
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl FieldSpec {
    fn error(&self, value: &str, reason: impl Into<String>) -> ScheduleError {
        ScheduleError::CronField {
            field: self.name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    fn value(&self, field: &str, text: &str) -> Result<u32, ScheduleError> {
        let lower = text.to_ascii_lowercase();
        let n = if let Some(pos) = self.names.iter().position(|n| *n == lower) {
            // Month names are 1-based, day names 0-based.
            pos as u32 + self.min
        } else {
            text.parse::<u32>()
                .map_err(|_| self.error(field, format!("{text:?} is not a number or name")))?
        };
        if n < self.min || n > self.max {
            return Err(self.error(field, format!("{n} is outside {}-{}", self.min, self.max)));
        }
        Ok(n)
    }

    /// Parse one field into a bit set; also report whether it starts with `*`.
    fn parse(&self, field: &str) -> Result<(u64, bool), ScheduleError> {
        let mut bits = 0u64;
        for part in field.split(',') {
            if part.is_empty() {
                return Err(self.error(field, "empty list element"));
            }
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = step
                        .parse()
                        .map_err(|_| self.error(field, format!("step {step:?} is not a number")))?;
                    if step == 0 {
                        return Err(self.error(field, "step must be at least 1"));
                    }
                    (range, step)
                }
                None => (part, 1),
            };
            let (lo, hi) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.value(field, a)?, self.value(field, b)?);
                if a > b {
                    return Err(self.error(field, format!("range {a}-{b} runs backwards")));
                }
                (a, b)
            } else {
                let a = self.value(field, range)?;
                // `a/n` means from a to the end in steps of n.
                (a, if part.contains('/') { self.max } else { a })
            };
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v += step;
            }
        }
        Ok((bits, field.starts_with('*')))
    }
}

/// A 5-field cron expression (`minute hour day-of-month month day-of-week`), with lists,
/// ranges, steps, month and day names, `7` for Sunday, and the `@hourly`, `@daily`,
/// `@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually` shorthands. As in Vixie cron, when
/// both day fields are restricted a day matching either one fires.
///
/// ```
/// use chrono::{NaiveDate, Timelike};
/// use weft_ratelimit::Cron;
/// let cron: Cron = "30 3 * * sun".parse().unwrap();
/// let from = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap().and_hms_opt(12, 0, 0).unwrap();
/// let next = cron.next_after(from).unwrap();
/// assert_eq!(next.date(), NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
/// assert_eq!((next.hour(), next.minute()), (3, 30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cron {
    source: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_star: bool,
    dow_star: bool,
}

impl Cron {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first minute strictly after `after` at which the expression fires, in the same
    /// (local) time scale as `after`. `None` if it never fires (e.g. February 30th).
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_second(0)?.with_nanosecond(0)? + TimeDelta::minutes(1);
        let limit_year = start.year() + SEARCH_YEARS;
        let mut t = start;
        while t.year() <= limit_year {
            if self.months & (1 << t.month()) == 0 {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_time(NaiveTime::MIN);
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().succ_opt()?.and_time(NaiveTime::MIN);
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.with_minute(0)? + TimeDelta::hours(1);
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t += TimeDelta::minutes(1);
                continue;
            }
            return Some(t);
        }
        None
    }
}

impl FromStr for Cron {
    type Err = ScheduleError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let trimmed = expr.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            _ => trimmed,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError::CronFieldCount {
                expr: expr.to_owned(),
                found: fields.len(),
            });
        }
        let (minutes, _) = MINUTE.parse(fields[0])?;
        let (hours, _) = HOUR.parse(fields[1])?;
        let (days_of_month, dom_star) = DAY_OF_MONTH.parse(fields[2])?;
        let (months, _) = MONTH.parse(fields[3])?;
        let (mut days_of_week, dow_star) = DAY_OF_WEEK.parse(fields[4])?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        Ok(Self {
            source: trimmed.to_owned(),
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            dom_star,
            dow_star,
        })
    }
}

impl TryFrom<String> for Cron {
    type Error = ScheduleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Cron> for String {
    fn from(cron: Cron) -> Self {
        cron.source
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A fixed offset from UTC (`"+02:00"`, `"-05:30"`, `"Z"`). No daylight-saving rules: a store
/// that observes DST configures the offset it wants its quiet hours and cron to follow.
///
/// ```
/// use weft_ratelimit::UtcOffset;
/// let o: UtcOffset = "-05:30".parse().unwrap();
/// assert_eq!(o.seconds(), -(5 * 3600 + 30 * 60));
/// assert_eq!(o.to_string(), "-05:30");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcOffset {
    seconds: i32,
}

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset { seconds: 0 };

    /// Offset in seconds east of UTC.
    pub fn seconds(&self) -> i32 {
        self.seconds
    }

    fn to_local(self, at: DateTime<Utc>) -> NaiveDateTime {
        at.naive_utc() + TimeDelta::seconds(i64::from(self.seconds))
    }

    fn to_utc(self, local: NaiveDateTime) -> DateTime<Utc> {
        (local - TimeDelta::seconds(i64::from(self.seconds))).and_utc()
    }
}

impl FromStr for UtcOffset {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ScheduleError::UtcOffset {
            value: s.to_owned(),
        };
        let t = s.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return Ok(Self::UTC);
        }
        let sign = match t.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(bad()),
        };
        let (h, m) = t[1..].split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self {
            seconds: sign * (h * 3600 + m * 60),
        })
    }
}

impl TryFrom<String> for UtcOffset {
    type Error = ScheduleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<UtcOffset> for String {
    fn from(o: UtcOffset) -> Self {
        o.to_string()
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.seconds < 0 { '-' } else { '+' };
        let abs = self.seconds.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
    }
}

/// A daily local-time window during which scheduled runs do not start, `"HH:MM-HH:MM"`; it may
/// wrap midnight (`"22:00-02:00"`). The start is inside the window, the end is not.
///
/// ```
/// use chrono::NaiveTime;
/// use weft_ratelimit::QuietHours;
/// let q: QuietHours = "22:00-02:00".parse().unwrap();
/// assert!(q.contains(NaiveTime::from_hms_opt(23, 30, 0).unwrap()));
/// assert!(q.contains(NaiveTime::from_hms_opt(1, 59, 59).unwrap()));
/// assert!(!q.contains(NaiveTime::from_hms_opt(2, 0, 0).unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QuietHours {
    /// Minutes after local midnight.
    start: u32,
    /// Minutes after local midnight (1440 allowed, meaning midnight).
    end: u32,
}

impl QuietHours {
    /// Whether local time-of-day `t` falls in the window.
    pub fn contains(&self, t: NaiveTime) -> bool {
        let secs = t.num_seconds_from_midnight();
        let (start, end) = (self.start * 60, self.end * 60);
        if start < end {
            secs >= start && secs < end
        } else {
            secs >= start || secs < end
        }
    }

    /// If `local` is inside the window, the local instant the window ends; otherwise `local`.
    fn defer(&self, local: NaiveDateTime) -> NaiveDateTime {
        if !self.contains(local.time()) {
            return local;
        }
        let midnight = local.date().and_time(NaiveTime::MIN);
        let end_today = midnight + TimeDelta::minutes(i64::from(self.end));
        if end_today > local {
            end_today
        } else {
            end_today + TimeDelta::days(1)
        }
    }
}

impl FromStr for QuietHours {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ScheduleError::QuietHours {
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        let parse_hm = |text: &str, allow_24: bool| -> Result<u32, ScheduleError> {
            let (h, m) = text
                .trim()
                .split_once(':')
                .ok_or_else(|| bad("a time is missing its ':'"))?;
            let h: u32 = h.parse().map_err(|_| bad("hour is not a number"))?;
            let m: u32 = m.parse().map_err(|_| bad("minute is not a number"))?;
            if m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)) {
                return Err(bad("time out of range"));
            }
            Ok(h * 60 + m)
        };
        let (a, b) = s.split_once('-').ok_or_else(|| bad("missing '-'"))?;
        let start = parse_hm(a, false)?;
        let end = parse_hm(b, true)?;
        if start == end % 1440 {
            return Err(bad("start and end are the same time"));
        }
        Ok(Self { start, end })
    }
}

impl TryFrom<String> for QuietHours {
    type Error = ScheduleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<QuietHours> for String {
    fn from(q: QuietHours) -> Self {
        q.to_string()
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// Which scheduled job a [`ScheduledRun`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    /// Incremental reconciliation poll (watermark with overlap).
    Reconcile,
    /// Full resync of every entity.
    FullResync,
}

/// A scheduled job and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledRun {
    /// When it is due (UTC).
    pub at: DateTime<Utc>,
    /// What runs.
    pub kind: RunKind,
}

/// A store's schedule: reconciliation every `reconcile_every`, an optional full-resync cron,
/// optional quiet hours, all read in a fixed UTC offset. Runs that fall in quiet hours are
/// deferred to the end of the window (several deferred runs collapse into one).
/// Webhook-driven work is not affected by quiet hours.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use std::time::Duration;
/// use weft_ratelimit::{RunKind, Schedule};
/// let s = Schedule::parse(Duration::from_secs(300), Some("0 2 * * *"),
///                         Some("01:00-05:00"), Some("+02:00")).unwrap();
/// // 23:58 UTC is 01:58 local: inside quiet hours, so both jobs wait until 05:00 local.
/// let after = Utc.with_ymd_and_hms(2026, 11, 26, 23, 58, 0).unwrap();
/// let run = s.next_run(after);
/// assert_eq!(run.at, Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap());
/// assert_eq!(run.kind, RunKind::FullResync);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    reconcile_every: Duration,
    full_resync: Option<Cron>,
    quiet_hours: Option<QuietHours>,
    offset: UtcOffset,
}

impl Schedule {
    /// The same schedule with reconciliation every `every` (for a source polled at its own
    /// interval; the cron and quiet hours stay).
    pub fn with_reconcile_every(mut self, every: Duration) -> Result<Self, ScheduleError> {
        if every.is_zero() {
            return Err(ScheduleError::ZeroInterval);
        }
        self.reconcile_every = every;
        Ok(self)
    }

    /// Reconciliation every `reconcile_every`, no full resync, no quiet hours, UTC.
    pub fn new(reconcile_every: Duration) -> Result<Self, ScheduleError> {
        if reconcile_every.is_zero() {
            return Err(ScheduleError::ZeroInterval);
        }
        Ok(Self {
            reconcile_every,
            full_resync: None,
            quiet_hours: None,
            offset: UtcOffset::UTC,
        })
    }

    /// Build from config strings; each `None` leaves that part unset (offset defaults to UTC).
    pub fn parse(
        reconcile_every: Duration,
        full_resync: Option<&str>,
        quiet_hours: Option<&str>,
        utc_offset: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let mut s = Self::new(reconcile_every)?;
        s.full_resync = full_resync.map(str::parse).transpose()?;
        s.quiet_hours = quiet_hours.map(str::parse).transpose()?;
        s.offset = utc_offset.map(str::parse).transpose()?.unwrap_or_default();
        Ok(s)
    }

    /// With a full-resync cron.
    pub fn with_full_resync(mut self, cron: Cron) -> Self {
        self.full_resync = Some(cron);
        self
    }

    /// With quiet hours.
    pub fn with_quiet_hours(mut self, quiet: QuietHours) -> Self {
        self.quiet_hours = Some(quiet);
        self
    }

    /// With the UTC offset quiet hours and cron are read in.
    pub fn with_utc_offset(mut self, offset: UtcOffset) -> Self {
        self.offset = offset;
        self
    }

    /// The reconciliation interval.
    pub fn reconcile_every(&self) -> Duration {
        self.reconcile_every
    }

    /// Whether `at` falls in quiet hours.
    pub fn is_quiet(&self, at: DateTime<Utc>) -> bool {
        self.quiet_hours
            .is_some_and(|q| q.contains(self.offset.to_local(at).time()))
    }

    fn defer(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.quiet_hours {
            Some(q) => self.offset.to_utc(q.defer(self.offset.to_local(at))),
            None => at,
        }
    }

    /// When reconciliation runs next, given that it last ran (or was last considered) at
    /// `last_run`: one interval later, deferred past quiet hours.
    pub fn next_reconcile(&self, last_run: DateTime<Utc>) -> DateTime<Utc> {
        let step = TimeDelta::from_std(self.reconcile_every).unwrap_or(TimeDelta::MAX);
        let due = last_run
            .checked_add_signed(step)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.defer(due)
    }

    /// The first full-resync time strictly after `after`, deferred past quiet hours; `None`
    /// without a cron (or one that never fires).
    pub fn next_full_resync(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = self.full_resync.as_ref()?;
        let local = cron.next_after(self.offset.to_local(after))?;
        Some(self.defer(self.offset.to_utc(local)))
    }

    /// The next scheduled job after `after` (the time of the last run): the earlier of the next
    /// reconciliation and the next full resync; a full resync wins a tie, since it covers
    /// everything a reconciliation would.
    pub fn next_run(&self, after: DateTime<Utc>) -> ScheduledRun {
        let reconcile = ScheduledRun {
            at: self.next_reconcile(after),
            kind: RunKind::Reconcile,
        };
        match self.next_full_resync(after) {
            Some(at) if at <= reconcile.at => ScheduledRun {
                at,
                kind: RunKind::FullResync,
            },
            _ => reconcile,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn next(expr: &str, from: NaiveDateTime) -> Option<NaiveDateTime> {
        expr.parse::<Cron>().unwrap().next_after(from)
    }

    #[test]
    fn cron_next_run() {
        let from = local(2026, 11, 26, 22, 31); // a Thursday
        assert_eq!(next("* * * * *", from), Some(local(2026, 11, 26, 22, 32)));
        assert_eq!(
            next("*/15 * * * *", from),
            Some(local(2026, 11, 26, 22, 45))
        );
        assert_eq!(next("0 3 * * *", from), Some(local(2026, 11, 27, 3, 0)));
        assert_eq!(next("0 0 1 * *", from), Some(local(2026, 12, 1, 0, 0)));
        assert_eq!(next("@yearly", from), Some(local(2027, 1, 1, 0, 0)));
        assert_eq!(
            next("30 4 * * 1-5", local(2026, 11, 27, 5, 0)),
            Some(local(2026, 11, 30, 4, 30))
        );
        assert_eq!(
            next("0 12 * jan,jul mon", from),
            Some(local(2027, 1, 4, 12, 0))
        );
        assert_eq!(
            next("5-10/5 8 * * 7", from),
            Some(local(2026, 11, 29, 8, 5))
        );
        // Seconds are ignored and the result is strictly later.
        let exact = local(2026, 11, 26, 3, 0);
        assert_eq!(next("0 3 * * *", exact), Some(local(2026, 11, 27, 3, 0)));
        assert_eq!(
            next("0 3 * * *", exact.with_second(59).unwrap()),
            Some(local(2026, 11, 27, 3, 0))
        );
    }

    #[test]
    fn cron_day_fields_or_when_both_restricted() {
        // The 13th or any Friday.
        let from = local(2026, 11, 1, 0, 0);
        assert_eq!(next("0 0 13 * fri", from), Some(local(2026, 11, 6, 0, 0)));
        assert_eq!(
            next("0 0 13 * fri", local(2026, 11, 10, 0, 0)),
            Some(local(2026, 11, 13, 0, 0))
        );
        // With `*` in day-of-week, only the day of month counts.
        assert_eq!(next("0 0 13 * *", from), Some(local(2026, 11, 13, 0, 0)));
    }

    #[test]
    fn cron_leap_day_and_never() {
        assert_eq!(
            next("0 0 29 2 *", local(2026, 3, 1, 0, 0)),
            Some(local(2028, 2, 29, 0, 0))
        );
        assert_eq!(next("0 0 30 2 *", local(2026, 1, 1, 0, 0)), None);
        assert_eq!(
            next("59 23 31 12 *", local(2026, 12, 31, 23, 59)),
            Some(local(2027, 12, 31, 23, 59))
        );
    }

    #[test]
    fn cron_errors_name_the_field() {
        let err = |e: &str| e.parse::<Cron>().unwrap_err().to_string();
        assert_eq!(
            err("* * * *"),
            "cron expression \"* * * *\" has 4 fields, expected 5 (minute hour day-of-month month day-of-week)"
        );
        assert!(err("60 * * * *").contains("minute field \"60\" is invalid: 60 is outside 0-59"));
        assert!(err("* 5-2 * * *").contains("hour field"));
        assert!(err("* * 0 * *").contains("day-of-month"));
        assert!(err("* * * foo *").contains("month field \"foo\""));
        assert!(err("* * * * 8").contains("day-of-week"));
        assert!(err("*/0 * * * *").contains("step must be at least 1"));
        assert!(err("1,,2 * * * *").contains("empty list element"));
    }

    #[test]
    fn quiet_hours_parse_and_wrap() {
        let q: QuietHours = "01:00-05:00".parse().unwrap();
        assert!(q.contains(NaiveTime::from_hms_opt(1, 0, 0).unwrap()));
        assert!(q.contains(NaiveTime::from_hms_opt(4, 59, 59).unwrap()));
        assert!(!q.contains(NaiveTime::from_hms_opt(5, 0, 0).unwrap()));
        assert!(!q.contains(NaiveTime::from_hms_opt(0, 59, 0).unwrap()));
        let to_midnight: QuietHours = "22:00-24:00".parse().unwrap();
        assert!(to_midnight.contains(NaiveTime::from_hms_opt(23, 59, 0).unwrap()));
        assert!(!to_midnight.contains(NaiveTime::from_hms_opt(0, 0, 0).unwrap()));
        assert_eq!(to_midnight.to_string(), "22:00-24:00");
        for bad in [
            "",
            "01:00",
            "1-5",
            "01:00-01:00",
            "25:00-02:00",
            "01:60-02:00",
            "24:00-02:00",
        ] {
            let e = bad.parse::<QuietHours>().unwrap_err();
            assert!(
                e.to_string().contains("expected \"HH:MM-HH:MM\""),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn utc_offsets() {
        assert_eq!("Z".parse::<UtcOffset>().unwrap(), UtcOffset::UTC);
        assert_eq!("+05:45".parse::<UtcOffset>().unwrap().seconds(), 20_700);
        for bad in ["5", "+5:00", "+24:00", "+01:60", "0100"] {
            assert!(bad.parse::<UtcOffset>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn schedule_defers_runs_out_of_quiet_hours() {
        let s = Schedule::parse(
            Duration::from_secs(600),
            None,
            Some("22:00-02:00"),
            Some("-05:00"),
        )
        .unwrap();
        // 02:55 UTC = 21:55 local: the next reconciliation at 22:05 local is quiet → 02:00 local.
        let last = Utc.with_ymd_and_hms(2026, 11, 27, 2, 55, 0).unwrap();
        assert_eq!(
            s.next_reconcile(last),
            Utc.with_ymd_and_hms(2026, 11, 27, 7, 0, 0).unwrap()
        );
        assert!(s.is_quiet(Utc.with_ymd_and_hms(2026, 11, 27, 3, 30, 0).unwrap()));
        assert!(!s.is_quiet(Utc.with_ymd_and_hms(2026, 11, 27, 7, 0, 0).unwrap()));
        // Outside quiet hours: plain interval.
        let last = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let run = s.next_run(last);
        assert_eq!(run.kind, RunKind::Reconcile);
        assert_eq!(
            run.at,
            Utc.with_ymd_and_hms(2026, 11, 27, 12, 10, 0).unwrap()
        );
        assert_eq!(s.next_full_resync(last), None);
    }

    #[test]
    fn full_resync_cron_in_local_time_collapses_deferred_runs() {
        let s = Schedule::new(Duration::from_secs(3600))
            .unwrap()
            .with_full_resync("0 1-4 * * *".parse().unwrap())
            .with_quiet_hours("01:30-05:00".parse().unwrap())
            .with_utc_offset("+01:00".parse().unwrap());
        // 23:00 UTC = 00:00 local; the 01:00 local run is not quiet.
        let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 23, 0, 0).unwrap();
        let first = s.next_full_resync(t0).unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap());
        let run = s.next_run(t0);
        assert_eq!(
            (run.kind, run.at),
            (RunKind::FullResync, first),
            "a tie goes to the resync"
        );
        // 02:00, 03:00, 04:00 local are quiet: one deferred run at 05:00 local.
        let second = s.next_full_resync(first).unwrap();
        assert_eq!(second, Utc.with_ymd_and_hms(2026, 11, 27, 4, 0, 0).unwrap());
        let third = s.next_full_resync(second).unwrap();
        assert_eq!(third, Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap());
    }

    #[test]
    fn zero_interval_is_rejected() {
        assert_eq!(
            Schedule::new(Duration::ZERO).unwrap_err(),
            ScheduleError::ZeroInterval
        );
    }

    #[test]
    fn serde_round_trips_config_strings() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Conf {
            cron: Cron,
            quiet: QuietHours,
            offset: UtcOffset,
        }
        let json = r#"{"cron":"*/5 * * * *","quiet":"01:00-05:00","offset":"+02:00"}"#;
        let conf: Conf = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&conf).unwrap(), json);
        let bad =
            serde_json::from_str::<Conf>(r#"{"cron":"bad","quiet":"01:00-05:00","offset":"Z"}"#)
                .unwrap_err();
        assert!(bad.to_string().contains("has 1 fields"), "{bad}");
    }

    proptest::proptest! {
        /// The next run found by the jumping search equals a minute-by-minute scan.
        #[test]
        fn cron_matches_brute_force(
            minute in proptest::sample::select(vec!["*", "0", "*/7", "15-20", "5,35"]),
            hour in proptest::sample::select(vec!["*", "3", "*/5", "22-23"]),
            dom in proptest::sample::select(vec!["*", "1", "15-17", "31"]),
            dow in proptest::sample::select(vec!["*", "0", "mon-wed", "6"]),
            start_min in 0i64..(60 * 24 * 400),
        ) {
            let expr = format!("{minute} {hour} {dom} * {dow}");
            let cron: Cron = expr.parse().unwrap();
            let from = local(2026, 1, 1, 0, 0) + TimeDelta::minutes(start_min);
            let found = cron.next_after(from).unwrap();
            let mut t = from + TimeDelta::minutes(1);
            while !(cron.minutes & (1 << t.minute()) != 0
                && cron.hours & (1 << t.hour()) != 0
                && cron.months & (1 << t.month()) != 0
                && cron.day_matches(t.date()))
            {
                t += TimeDelta::minutes(1);
            }
            proptest::prop_assert_eq!(found, t, "{}", expr);
        }
    }
}
