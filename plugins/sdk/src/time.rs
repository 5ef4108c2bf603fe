//! RFC 3339 timestamps, as source versions are written (`2026-11-26T10:00:00Z`,
//! `2020-09-03T08:44:10-04:00`, fractional seconds allowed), compared by instant.
//!
//! Plugins have no clock; they only compare the versions the host hands them.

use std::cmp::Ordering;

/// Parses an RFC 3339 date-time into nanoseconds since the Unix epoch (UTC).
/// `None` when the text is not a valid RFC 3339 date-time.
pub fn parse_rfc3339(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |s: &[u8]| -> Option<i64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let year = num(&b[0..4])?;
    let month = num(&b[5..7])?;
    let day = num(&b[8..10])?;
    let hour = num(&b[11..13])?;
    let minute = num(&b[14..16])?;
    let second = num(&b[17..19])?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos: i128 = 0;
    if let Some((&b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, d) in frac[..digits].iter().enumerate() {
            if i < 9 {
                nanos += i128::from(d - b'0') * 10i128.pow(8 - i as u32);
            }
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = num(&[*h1, *h2])?;
            let m = num(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let s = h * 3600 + m * 60;
            if *sign == b'-' { -s } else { s }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Compares two versions by instant; `None` if either is not RFC 3339.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    Some(parse_rfc3339(a)?.cmp(&parse_rfc3339(b)?))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Some(951_868_800 * 1_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2020-09-03T08:44:10-04:00"),
            parse_rfc3339("2020-09-03T12:44:10Z")
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T10:00:00.5+01:00").unwrap()
                - parse_rfc3339("2026-11-26T09:00:00Z").unwrap(),
            500_000_000
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-26T10:00:00.Z",
            "2026-11-26T10:00:00+1:00",
            "2026/11/26T10:00:00Z",
            "yesterday at noon!!!",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn compares_by_instant_not_text() {
        assert_eq!(
            compare_versions("2020-09-03T08:44:10-04:00", "2020-09-03T12:00:00Z"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_versions("2020-09-03T12:44:10Z", "2020-09-03T08:44:10-04:00"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare_versions("x", "2020-09-03T12:44:10Z"), None);
    }
}
