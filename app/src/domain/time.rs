//! Calendar dates for display and input, in UTC, without a date library (the same code
//! runs in the browser and on the server).

/// One day in milliseconds (times are Unix milliseconds, days UTC).
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-27` for a Unix-millisecond time.
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-11-27 14:05 UTC` for a Unix-millisecond time.
pub fn date_time(ms: i64) -> String {
    let minutes = ms.rem_euclid(DAY_MS) / 60_000;
    format!("{} {:02}:{:02} UTC", date(ms), minutes / 60, minutes % 60)
}

/// Parses `YYYY-MM-DD` to the Unix-millisecond start of that day (UTC).
pub fn parse_date(raw: &str) -> Option<i64> {
    let mut parts = raw.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let ms = days_from_civil(y, m, d) * DAY_MS;
    // Refuses dates like 2026-02-31 that would roll over into the next month.
    (date(ms) == format!("{y:04}-{m:02}-{d:02}")).then_some(ms)
}

/// When a milestone happened: `raw` (`YYYY-MM-DD`, UTC) or, when empty, `now`. Teams often
/// record a milestone late, so a date up to a year back is accepted; a future one is not.
/// Today's date means `now`.
pub fn milestone_date(field: &str, raw: &str, now: i64) -> Result<i64, super::AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw == date(now) {
        return Ok(now);
    }
    let invalid = |message: &str| super::AppError::invalid(field, message);
    let at = parse_date(raw).ok_or_else(|| invalid("Give the date as YYYY-MM-DD, e.g. 2026-11-02."))?;
    if at > now {
        return Err(invalid("The date cannot be in the future."));
    }
    if now - at > 365 * DAY_MS {
        return Err(invalid("The date must be within the last year."));
    }
    Ok(at)
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: i64, to: i64) -> i64 {
    (to - from).div_euclid(DAY_MS)
}

/// Whole days left from `now` until `deadline`, counting a started day as a day left
/// (zero on the deadline, negative after it).
pub fn days_left(now: i64, deadline: i64) -> i64 {
    (deadline - now + DAY_MS - 1).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn milestone_dates_are_past_and_recent() {
        let now = parse_date("2026-11-27").expect("date") + 15 * 3600 * 1000;
        assert_eq!(milestone_date("on", "", now), Ok(now));
        assert_eq!(milestone_date("on", "2026-11-27", now), Ok(now));
        assert_eq!(milestone_date("on", "2026-10-01", now), Ok(parse_date("2026-10-01").expect("date")));
        for bad in ["2026-11-28", "2025-11-01", "yesterday", "2026-02-31"] {
            assert!(milestone_date("on", bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date_time(1_795_788_300_000), "2026-11-27 14:05 UTC");
        assert_eq!(parse_date("2024-02-29").map(date).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("27/11/2026"), None);
        assert_eq!(days_left(0, 30 * DAY_MS), 30);
        assert_eq!(days_left(5, 30 * DAY_MS), 30, "a started day still counts");
        assert_eq!(days_left(30 * DAY_MS, 30 * DAY_MS), 0);
        assert_eq!(days_left(31 * DAY_MS, 30 * DAY_MS), -1);
    }

    proptest! {
        #[test]
        fn dates_round_trip(days in 0i64..2_900_000) {
            let ms = days * DAY_MS;
            prop_assert_eq!(parse_date(&date(ms)), Some(ms));
        }
    }
}
