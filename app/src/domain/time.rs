//! Calendar dates for display and input, in UTC, without a date library (the same code
//! runs in the browser and on the server).

const DAY_MS: i64 = 24 * 3600 * 1000;

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
