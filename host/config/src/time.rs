//! Time values in config: human durations ("250ms", "5m", "1h30m"), five-field cron schedules
//! ("0 3 * * *") with next-fire computation, and daily quiet hours ("01:00-05:00"), all in UTC.

use std::fmt;
use std::time::Duration;

use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

/// Parses a human duration: one or more `<integer><unit>` parts with units `ms`, `s`, `m`, `h`,
/// `d` (e.g. "250ms", "90s", "5m", "1h30m"). A bare number is rejected (the unit is ambiguous).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let n: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("number too large in `{s}`"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let ms_per: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("missing unit after `{n}`")),
            other => return Err(format!("unknown unit `{other}`")),
        };
        total = total
            .checked_add(n.saturating_mul(ms_per))
            .ok_or_else(|| format!("duration `{s}` is too large"))?;
    }
    let ms = u64::try_from(total).map_err(|_| format!("duration `{s}` is too large"))?;
    Ok(Duration::from_millis(ms))
}

/// Formats a duration the way [`parse_duration`] reads it ("1h30m", "250ms").
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A standard five-field cron schedule (minute hour day-of-month month day-of-week), evaluated
/// in UTC. Supports `*`, `a`, `a-b`, `*/n`, `a-b/n`, comma lists, month and weekday names, and
/// the macros `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. As in Vixie cron, when both
/// day fields are restricted a day matches if either does.
#[derive(Clone, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_restricted: bool,
    dow_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl CronSchedule {
    /// Parses a cron expression.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let expanded = match trimmed {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other if other.starts_with('@') => {
                return Err(format!("unknown cron macro `{other}`"));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        }
        let minutes = parse_field(fields[0], "minute", 0, 59, &[])?;
        let hours = parse_field(fields[1], "hour", 0, 23, &[])?;
        let days_of_month = parse_field(fields[2], "day-of-month", 1, 31, &[])?;
        let months = parse_field(fields[3], "month", 1, 12, &MONTHS)?;
        let mut days_of_week = parse_field(fields[4], "day-of-week", 0, 7, &WEEKDAYS)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        Ok(Self {
            text: trimmed.to_string(),
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            dom_restricted: fields[2] != "*" && !fields[2].starts_with("*/"),
            dow_restricted: fields[4] != "*" && !fields[4].starts_with("*/"),
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, t: &NaiveDateTime) -> bool {
        let dom = self.days_of_month & (1 << t.day()) != 0;
        let dow = self.days_of_week & (1 << t.weekday().num_days_from_sunday()) != 0;
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// True when the schedule fires at this minute.
    pub fn matches(&self, t: &NaiveDateTime) -> bool {
        self.months & (1 << t.month()) != 0
            && self.day_matches(t)
            && self.hours & (1 << t.hour()) != 0
            && self.minutes & (1 << t.minute()) != 0
    }

    /// The first minute strictly after `after` at which the schedule fires, searching up to
    /// five years ahead (`None` for schedules that never fire, like "0 0 31 2 *").
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_second(0)?.with_nanosecond(0)? + TimeDelta::minutes(1);
        let limit = start + TimeDelta::days(366 * 5);
        let mut t = start;
        while t < limit {
            if self.months & (1 << t.month()) == 0 || !self.day_matches(&t) {
                t = (t.date() + TimeDelta::days(1)).and_hms_opt(0, 0, 0)?;
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

fn parse_value(text: &str, what: &str, names: &[&str], offset: u32) -> Result<u32, String> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    let lower = text.to_ascii_lowercase();
    names
        .iter()
        .position(|n| *n == lower)
        .map(|i| i as u32 + offset)
        .ok_or_else(|| format!("invalid {what} value `{text}`"))
}

fn parse_field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let name_offset = min;
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("invalid step `{s}` in {what} field"))?;
                if step == 0 {
                    return Err(format!("step 0 in {what} field"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value(a, what, names, name_offset)?,
                parse_value(b, what, names, name_offset)?,
            )
        } else {
            let v = parse_value(range, what, names, name_offset)?;
            (v, if step > 1 { max } else { v })
        };
        if lo < min || hi > max {
            return Err(format!(
                "{what} `{part}` is out of range (allowed {min}-{max})"
            ));
        }
        if lo > hi {
            return Err(format!("{what} range `{range}` runs backwards"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.text)
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A daily window (UTC) during which background work (full resyncs, reconciliation) pauses.
/// `end` may be earlier than `start`, meaning the window wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start of the window (inclusive).
    pub start: NaiveTime,
    /// End of the window (exclusive).
    pub end: NaiveTime,
}

impl QuietHours {
    /// Parses "HH:MM-HH:MM".
    pub fn parse(text: &str) -> Result<Self, String> {
        let (a, b) = text
            .trim()
            .split_once('-')
            .ok_or_else(|| "expected `HH:MM-HH:MM`".to_string())?;
        let parse = |s: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M")
                .map_err(|_| format!("`{}` is not a time of day (HH:MM, 00:00-23:59)", s.trim()))
        };
        let start = parse(a)?;
        let end = parse(b)?;
        if start == end {
            return Err("start and end are equal, the window would be empty".to_string());
        }
        Ok(Self { start, end })
    }

    /// True when `t` falls inside the window.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn durations_parse_and_round_trip() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(
            parse_duration("5 minutes")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        for s in ["1h30m", "250ms", "2d3h", "45s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn cron_next_after() {
        let c = CronSchedule::parse("0 3 * * *").unwrap();
        assert_eq!(
            c.next_after(at(2026, 1, 1, 2, 59)),
            Some(at(2026, 1, 1, 3, 0))
        );
        assert_eq!(
            c.next_after(at(2026, 1, 1, 3, 0)),
            Some(at(2026, 1, 2, 3, 0))
        );
        let c = CronSchedule::parse("*/15 9-17 * * mon-fri").unwrap();
        // 2026-01-03 is a Saturday.
        assert_eq!(
            c.next_after(at(2026, 1, 3, 12, 0)),
            Some(at(2026, 1, 5, 9, 0))
        );
        assert_eq!(
            c.next_after(at(2026, 1, 5, 9, 7)),
            Some(at(2026, 1, 5, 9, 15))
        );
        let c = CronSchedule::parse("@monthly").unwrap();
        assert_eq!(
            c.next_after(at(2026, 2, 14, 0, 0)),
            Some(at(2026, 3, 1, 0, 0))
        );
        let c = CronSchedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            c.next_after(at(2026, 1, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
        assert_eq!(
            CronSchedule::parse("0 0 31 2 *")
                .unwrap()
                .next_after(at(2026, 1, 1, 0, 0)),
            None
        );
        // Sunday as 7.
        let c = CronSchedule::parse("0 0 * * 7").unwrap();
        assert_eq!(
            c.next_after(at(2026, 1, 1, 0, 0)),
            Some(at(2026, 1, 4, 0, 0))
        );
    }

    #[test]
    fn cron_rejects_bad_expressions() {
        assert!(
            CronSchedule::parse("0 3 * *")
                .unwrap_err()
                .contains("expected 5 fields")
        );
        assert!(
            CronSchedule::parse("61 3 * * *")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            CronSchedule::parse("0 3 * foo *")
                .unwrap_err()
                .contains("invalid month")
        );
        assert!(
            CronSchedule::parse("*/0 * * * *")
                .unwrap_err()
                .contains("step 0")
        );
        assert!(
            CronSchedule::parse("0 5-3 * * *")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(CronSchedule::parse("@often").is_err());
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours::parse("22:00-06:00").unwrap();
        assert!(q.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(q.contains(NaiveTime::from_hms_opt(5, 59, 0).unwrap()));
        assert!(!q.contains(NaiveTime::from_hms_opt(6, 0, 0).unwrap()));
        let q = QuietHours::parse("01:00-05:00").unwrap();
        assert!(q.contains(NaiveTime::from_hms_opt(1, 0, 0).unwrap()));
        assert!(!q.contains(NaiveTime::from_hms_opt(12, 0, 0).unwrap()));
        assert_eq!(q.to_string(), "01:00-05:00");
        assert!(QuietHours::parse("25:00-05:00").is_err());
        assert!(QuietHours::parse("0100").is_err());
        assert!(QuietHours::parse("01:00-01:00").is_err());
    }
}
