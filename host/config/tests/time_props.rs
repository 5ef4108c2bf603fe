//! Property tests for the time values in config: durations round-trip through their text form,
//! and a cron schedule's next fire time is the first matching minute (checked by brute force).

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use proptest::prelude::*;
use weft_config::{CronSchedule, format_duration, parse_duration};

fn field(max: u32, min: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        (min..=max).prop_map(|v| v.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (1u32..=7).prop_map(|s| format!("*/{s}")),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{a},{b}")),
    ]
}

fn cron() -> impl Strategy<Value = String> {
    (
        field(59, 0),
        field(23, 0),
        field(28, 1),
        field(12, 1),
        field(6, 0),
    )
        .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}"))
}

fn instant() -> impl Strategy<Value = NaiveDateTime> {
    (0i64..(3 * 365 * 24 * 60), 0u32..60).prop_map(|(minutes, secs)| {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, secs)
            .unwrap()
            + TimeDelta::minutes(minutes)
    })
}

proptest! {
    #[test]
    fn durations_round_trip(ms in 0u64..(400 * 86_400_000)) {
        let d = Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    #[test]
    fn next_after_is_the_first_matching_minute(expr in cron(), after in instant()) {
        let c = CronSchedule::parse(&expr).unwrap();
        let next = c.next_after(after);
        // Brute force over the next 400 days, minute by minute, is the reference.
        let mut t = after.date().and_hms_opt(0, 0, 0).unwrap()
            + TimeDelta::minutes(i64::from(after.time().hour_min()))
            + TimeDelta::minutes(1);
        let end = t + TimeDelta::days(400);
        let mut expected = None;
        while t < end {
            if c.matches(&t) {
                expected = Some(t);
                break;
            }
            t += TimeDelta::minutes(1);
        }
        match expected {
            Some(e) => prop_assert_eq!(next, Some(e), "{}", expr),
            None => prop_assert!(next.is_none_or(|n| n >= end), "{}", expr),
        }
    }
}

/// Minutes since midnight.
trait HourMin {
    fn hour_min(&self) -> u32;
}

impl HourMin for chrono::NaiveTime {
    fn hour_min(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}
