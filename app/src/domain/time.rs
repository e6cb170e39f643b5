//! Time: one type for a point in time ([`Timestamp`], Unix milliseconds, UTC) and calendar
//! dates for display and input, without a date library (the same code runs in the browser
//! and on the server). A length of time on the calendar is [`Days`], one on the clock a
//! `std::time::Duration`; the difference of two points is milliseconds.

use serde::{Deserialize, Serialize};
use std::ops::{Add, Sub};

/// One day in milliseconds (days are UTC).
pub const DAY_MS: i64 = 24 * 3600 * 1000;
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// A point in time: milliseconds since 1970-01-01 UTC, as the database stores it and the
/// JSON carries it (a plain number).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The time now, by the server's clock.
    #[cfg(feature = "ssr")]
    pub fn now() -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Self(i64::try_from(now.as_millis()).unwrap_or(i64::MAX))
    }

    /// The start (00:00 UTC) of day `day`, counted from 1970-01-01.
    pub const fn of_day(day: i64) -> Self {
        Self(day * DAY_MS)
    }

    /// The day this time falls on, counted from 1970-01-01 (UTC).
    pub const fn day(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }

    /// `2026-11-27`.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.day());
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `2026-11-27 14:05 UTC`.
    pub fn date_time(self) -> String {
        let minutes = self.0.rem_euclid(DAY_MS) / 60_000;
        format!("{} {:02}:{:02} UTC", self.date(), minutes / 60, minutes % 60)
    }

    /// `2026-11-27T14:05:09.123Z` (RFC 3339, UTC).
    pub fn rfc3339(self) -> String {
        let ms = self.0.rem_euclid(DAY_MS);
        let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
        format!("{}T{h:02}:{m:02}:{s:02}.{:03}Z", self.date(), ms % 1000)
    }

    /// Parses `YYYY-MM-DD` to the start of that day (UTC).
    pub fn parse_date(raw: &str) -> Option<Self> {
        let mut parts = raw.trim().splitn(3, '-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: i64 = parts.next()?.parse().ok()?;
        let d: i64 = parts.next()?.parse().ok()?;
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let at = Self::of_day(days_from_civil(y, m, d));
        // Refuses dates like 2026-02-31 that would roll over into the next month.
        (at.date() == format!("{y:04}-{m:02}-{d:02}")).then_some(at)
    }

    /// Parses `YYYY-MM-DDTHH:MM` (a browser's `datetime-local` field, read as UTC) or
    /// `YYYY-MM-DD HH:MM`, with optional `:SS`.
    pub fn parse_date_time(raw: &str) -> Option<Self> {
        let (date, time) = raw.trim().split_once(['T', ' '])?;
        let day = Self::parse_date(date)?;
        let mut parts = time.split(':');
        let mut next =
            |max: i64| parts.next().and_then(|p| p.parse::<i64>().ok()).filter(|n| (0..max).contains(n));
        let (h, m) = (next(24)?, next(60)?);
        let s = match time.matches(':').count() {
            1 => 0,
            2 => next(60)?,
            _ => return None,
        };
        Some(Self(day.0 + ((h * 60 + m) * 60 + s) * 1000))
    }

    /// `2026-11-27T14:05`, as a `datetime-local` field shows it (UTC).
    pub fn date_time_local(self) -> String {
        self.rfc3339()[..16].to_owned()
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Self) -> i64 {
        (later - self).div_euclid(DAY_MS)
    }

    /// Whole days left from `self` until `deadline`, counting a started day as a day left
    /// (zero on the deadline, negative after it).
    pub fn days_left_until(self, deadline: Self) -> i64 {
        (deadline - self + DAY_MS - 1).div_euclid(DAY_MS)
    }
}

/// A calendar quarter (UTC), as incidents are counted by the quarter they started in.
/// Shown, stored and compared as `2026-Q4` (its text sorts in time order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quarter {
    year: i64,
    /// 1 to 4.
    q: i64,
}

impl Quarter {
    /// The quarter `at` falls in.
    pub fn of(at: Timestamp) -> Self {
        let (year, month, _) = civil_from_days(at.day());
        Quarter { year, q: (month + 2) / 3 }
    }

    /// The quarter `n` quarters before this one.
    pub fn back(self, n: i64) -> Self {
        let index = self.year * 4 + self.q - 1 - n;
        Quarter { year: index.div_euclid(4), q: index.rem_euclid(4) + 1 }
    }

    /// Reads `2026-Q4`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (year, q) = raw.split_once("-Q")?;
        let (year, q): (i64, i64) = (year.parse().ok()?, q.parse().ok()?);
        ((0..=9999).contains(&year) && (1..=4).contains(&q) && year.to_string().len() <= 4)
            .then_some(Quarter { year, q })
    }

    /// The quarter's first month, as the sign-off counts name months: `2026-10`.
    pub fn first_month(self) -> String {
        format!("{:04}-{:02}", self.year, (self.q - 1) * 3 + 1)
    }
}

/// `2026-Q4`.
impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.q)
    }
}

/// A length of time in whole days (UTC): a team's failure-case window and evidence
/// freshness, a token's life, how long evidence is kept. Stored and carried as the number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
#[serde(transparent)]
pub struct Days(pub i64);

impl Days {
    /// The number of days.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The length in milliseconds, to compare with the difference of two [`Timestamp`]s.
    pub const fn ms(self) -> i64 {
        self.0 * DAY_MS
    }
}

/// `1 day`, `30 days`.
impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.0.abs() == 1 { "day" } else { "days" };
        write!(f, "{} {unit}", self.0)
    }
}

/// `self` moved on by `days`.
impl Add<Days> for Timestamp {
    type Output = Self;
    fn add(self, days: Days) -> Self {
        Self(self.0 + days.ms())
    }
}

/// `self` moved back by `days`.
impl Sub<Days> for Timestamp {
    type Output = Self;
    fn sub(self, days: Days) -> Self {
        Self(self.0 - days.ms())
    }
}

/// `self` moved on by a length of clock time (a throttle's window, say).
impl Add<std::time::Duration> for Timestamp {
    type Output = Self;
    fn add(self, length: std::time::Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(length.as_millis()).unwrap_or(i64::MAX)))
    }
}

/// `self` moved back by a length of clock time.
impl Sub<std::time::Duration> for Timestamp {
    type Output = Self;
    fn sub(self, length: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(i64::try_from(length.as_millis()).unwrap_or(i64::MAX)))
    }
}

/// The milliseconds from `earlier` to `self`.
impl Sub for Timestamp {
    type Output = i64;
    fn sub(self, earlier: Self) -> i64 {
        self.0 - earlier.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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

/// How far back a milestone may be dated, in days.
const MILESTONE_WINDOW: Days = Days(365);

/// When a milestone happened: `raw` (`YYYY-MM-DD`, UTC) or, when empty, `now`. Teams often
/// record a milestone late, so a date up to a year back is accepted; a future one is not.
/// Today's date means `now`.
pub fn milestone_date(field: &str, raw: &str, now: Timestamp) -> Result<Timestamp, super::AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw == now.date() {
        return Ok(now);
    }
    let invalid = |message: &str| super::AppError::invalid(field, message);
    let at =
        Timestamp::parse_date(raw).ok_or_else(|| invalid("Give the date as YYYY-MM-DD, e.g. 2026-11-02."))?;
    if at > now {
        return Err(invalid("The date cannot be in the future."));
    }
    if now - at > MILESTONE_WINDOW.ms() {
        return Err(invalid("The date must be within the last year."));
    }
    Ok(at)
}

/// The dates [`milestone_date`] accepts at `now` (or `""`, today), as a regular expression:
/// each of them, so a date out of range is out of the pattern too. The oldest day it accepts
/// is left out, so a request sent just before midnight (UTC) with it is not refused after.
pub fn milestone_date_pattern(now: Timestamp) -> String {
    let today = now.day();
    // A date's midnight within the window, whatever the time of day: back to the window
    // less one day; less one more for the day left out.
    let oldest = today - (MILESTONE_WINDOW.get() - 2);
    let dates: Vec<String> = (oldest..=today).rev().map(|day| Timestamp::of_day(day).date()).collect();
    format!("^{ws}*(?:{})?{ws}*$", dates.join("|"), ws = super::text::whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_are_named_counted_back_and_read_as_the_database_names_them() {
        let at = |date: &str| Timestamp::parse_date(date).expect("date");
        assert_eq!(Quarter::of(at("2026-12-07")).to_string(), "2026-Q4");
        assert_eq!(Quarter::of(at("2026-01-01")).to_string(), "2026-Q1");
        assert_eq!(Quarter::of(at("2026-03-31")).to_string(), "2026-Q1");
        assert_eq!(Quarter::of(at("2026-04-01")).to_string(), "2026-Q2");
        let q4 = Quarter::of(at("2026-12-07"));
        assert_eq!(q4.back(3).to_string(), "2026-Q1");
        assert_eq!(q4.back(4).to_string(), "2025-Q4");
        assert_eq!(q4.back(7).first_month(), "2025-01");
        assert_eq!(Quarter::parse("2025-Q3"), Some(q4.back(5)));
        for bad in ["2025-Q5", "2025-Q0", "2025Q1", "", "20250-Q1"] {
            assert_eq!(Quarter::parse(bad), None, "{bad}");
        }
        assert!(q4.back(1) < q4 && q4.back(1).to_string() < q4.to_string());
    }
    use proptest::prelude::*;

    #[test]
    fn a_date_and_time_is_read_as_utc_to_the_second() {
        let at = Timestamp::parse_date_time("2026-11-27T14:05").expect("valid");
        assert_eq!(at.rfc3339(), "2026-11-27T14:05:00.000Z");
        assert_eq!(at.date_time_local(), "2026-11-27T14:05");
        assert_eq!(
            Timestamp::parse_date_time("2026-11-27 14:05:09").map(Timestamp::rfc3339).as_deref(),
            Some("2026-11-27T14:05:09.000Z")
        );
        for bad in [
            "2026-11-27",
            "2026-11-27T24:00",
            "2026-11-27T10:60",
            "2026-02-30T10:00",
            "2026-11-27T1:2:3:4",
            "x",
        ] {
            assert_eq!(Timestamp::parse_date_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_has_the_date_the_time_and_milliseconds() {
        assert_eq!(Timestamp(1_764_252_309_123).rfc3339(), "2025-11-27T14:05:09.123Z");
    }

    fn on(raw: &str) -> Timestamp {
        Timestamp::parse_date(raw).expect("date")
    }

    #[test]
    fn milestone_dates_are_past_and_recent() {
        let now = on("2026-11-27") + std::time::Duration::from_secs(15 * 3600);
        assert_eq!(milestone_date("on", "", now), Ok(now));
        assert_eq!(milestone_date("on", "2026-11-27", now), Ok(now));
        assert_eq!(milestone_date("on", "2026-10-01", now), Ok(on("2026-10-01")));
        for bad in ["2026-11-28", "2025-11-01", "yesterday", "2026-02-31"] {
            assert!(milestone_date("on", bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_milestone_pattern_lists_the_dates_accepted() {
        let now = on("2026-11-27") + std::time::Duration::from_secs(15 * 3600);
        let pattern = regex::Regex::new(&milestone_date_pattern(now)).expect("pattern");
        for day in -400..=2 {
            let date = (now + Days(day)).date();
            if pattern.is_match(&date) {
                assert!(milestone_date("on", &format!(" {date} "), now).is_ok(), "{date}");
            }
            if (-363..=0).contains(&day) {
                assert!(pattern.is_match(&date), "{date}");
            } else if day != -364 {
                assert!(milestone_date("on", &date, now).is_err(), "{date}");
            }
        }
        assert!(pattern.is_match("") && !pattern.is_match("yesterday"));
    }

    #[test]
    fn known_dates() {
        assert_eq!(Timestamp(0).date(), "1970-01-01");
        assert_eq!(Timestamp(1_795_788_300_000).date_time(), "2026-11-27 14:05 UTC");
        assert_eq!(Timestamp::parse_date("2024-02-29").map(Timestamp::date).as_deref(), Some("2024-02-29"));
        assert_eq!(Timestamp::parse_date("2026-02-29"), None);
        assert_eq!(Timestamp::parse_date("27/11/2026"), None);
        let start = Timestamp(0);
        let deadline = Timestamp::of_day(30);
        assert_eq!(start.days_left_until(deadline), 30);
        assert_eq!(
            (start + std::time::Duration::from_millis(5)).days_left_until(deadline),
            30,
            "a started day still counts"
        );
        assert_eq!(deadline.days_left_until(deadline), 0);
        assert_eq!(Timestamp::of_day(31).days_left_until(deadline), -1);
        assert_eq!(start.days_until(deadline - std::time::Duration::from_millis(1)), 29);
        assert_eq!(deadline.days_until(start), -30);
        assert_eq!(Timestamp::of_day(3) + Days(7), Timestamp::of_day(10));
        assert_eq!(Timestamp::of_day(10) - Days(7), Timestamp::of_day(3));
        assert_eq!([Days(1).to_string(), Days(30).to_string()], ["1 day", "30 days"]);
        assert_eq!(
            serde_json::to_string(&Days(30)).expect("json"),
            "30",
            "a length is a plain number on the wire"
        );
    }

    #[test]
    fn a_timestamp_is_a_plain_number_on_the_wire() {
        assert_eq!(serde_json::to_string(&Timestamp(1_795_788_300_000)).expect("json"), "1795788300000");
        assert_eq!(serde_json::from_str::<Timestamp>("42").expect("json"), Timestamp(42));
    }

    proptest! {
        #[test]
        fn dates_round_trip(days in 0i64..2_900_000) {
            let at = Timestamp::of_day(days);
            prop_assert_eq!(Timestamp::parse_date(&at.date()), Some(at));
            prop_assert_eq!(at.day(), days);
        }
    }
}
