//! The leaders' portfolio: which changes a view shows (filters and sort, carried in the URL
//! so a view can be shared) and what it shows about each.

use super::AppError;
use super::change::{ChangeStatus, ChangeType};
use super::gate::Coverage;
use super::learning::{Learning, Verdicts, Window};
use crate::domain::time::{Days, Timestamp};
use serde::{Deserialize, Serialize};

/// The order of the rows: overdue changes always come first, then this order, then team
/// and change number (the store sorts, in `ssr::portfolio::rows`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    /// Target date, soonest first; changes without one last.
    #[default]
    Target,
    /// Weighted coverage, lowest first.
    Coverage,
    /// Days since happy path, longest first.
    Age,
    /// Team and change number.
    Key,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Target, Sort::Coverage, Sort::Age, Sort::Key];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Target => "target",
            Sort::Coverage => "coverage",
            Sort::Age => "age",
            Sort::Key => "key",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Target => "Target date",
            Sort::Coverage => "Coverage (lowest first)",
            Sort::Age => "Days since happy path",
            Sort::Key => "Change key",
        }
    }
}

/// Days of coverage history the trend chart shows.
pub const TREND_DAYS: i64 = 90;

/// Rows per page; the CSV export has every row of the view.
pub const PAGE_SIZE: usize = 100;

/// A portfolio view: every filter is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// A team slug (upper case, as stored).
    pub team: Option<String>,
    pub status: Option<ChangeStatus>,
    pub change_type: Option<ChangeType>,
    pub overdue: bool,
    pub sort: Sort,
    /// 1-based.
    pub page: usize,
    /// The quarters the learning metrics cover.
    pub window: Window,
}

impl Filter {
    /// The query parameters a view has.
    pub const KEYS: [&'static str; 7] = ["team", "status", "type", "overdue", "sort", "page", "window"];

    /// Reads a view from URL query pairs. Empty values mean "any"; anything unknown is a
    /// 400 with the parameter named, so a mistyped shared link does not silently show
    /// something else.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, AppError> {
        let mut filter = Filter { page: 1, ..Filter::default() };
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let unknown = || {
                let (name, value) = (super::error::bounded(name), super::error::bounded(value));
                AppError::invalid(&name, format!("Unknown {name} {value:?} in the address."))
            };
            match name {
                "team" => {
                    filter.team =
                        Some(super::TeamSlug::parse(value).map_err(|_| unknown())?.as_str().to_owned())
                }
                "status" => filter.status = Some(ChangeStatus::parse(value).ok_or_else(unknown)?),
                "type" => filter.change_type = Some(ChangeType::parse(value).map_err(|_| unknown())?),
                "overdue" => filter.overdue = matches!(value, "1" | "true" | "on" | "yes"),
                "sort" => {
                    filter.sort = Sort::ALL.into_iter().find(|s| s.as_str() == value).ok_or_else(unknown)?
                }
                "page" => filter.page = value.parse().ok().filter(|p| *p >= 1).ok_or_else(unknown)?,
                "window" => filter.window = Window::parse(value).ok_or_else(unknown)?,
                _ => {}
            }
        }
        Ok(filter)
    }

    /// Reads a view from a raw query string (`team=que&overdue=1`).
    pub fn parse_query(raw: &str) -> Result<Self, AppError> {
        Self::from_query(raw.split('&').filter_map(|pair| pair.split_once('=')))
    }

    /// The query string of this view (without `?`), default values left out.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(team) = &self.team {
            pairs.push(("team", team.clone()));
        }
        if let Some(status) = self.status {
            pairs.push(("status", status.as_str().to_owned()));
        }
        if let Some(t) = self.change_type {
            pairs.push(("type", t.as_str().to_owned()));
        }
        if self.overdue {
            pairs.push(("overdue", "1".to_owned()));
        }
        if self.sort != Sort::default() {
            pairs.push(("sort", self.sort.as_str().to_owned()));
        }
        if self.page > 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if self.window != Window::default() {
            pairs.push(("window", self.window.as_str().to_owned()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.replace('%', "%25").replace('&', "%26").replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same view on another page.
    pub fn with_page(&self, page: usize) -> Self {
        Filter { page, ..self.clone() }
    }
}

/// How many failure modes of a change have each coverage status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageCounts {
    pub verified: i64,
    pub accepted: i64,
    pub stale: i64,
    pub failing: i64,
    pub designed: i64,
    pub uncovered: i64,
}

impl CoverageCounts {
    pub fn total(&self) -> i64 {
        self.verified + self.accepted + self.stale + self.failing + self.designed + self.uncovered
    }

    /// Non-zero counts, in the order a reader scans them: good news first.
    pub fn parts(&self) -> Vec<(Coverage, i64)> {
        [
            (Coverage::Verified, self.verified),
            (Coverage::Accepted, self.accepted),
            (Coverage::Stale, self.stale),
            (Coverage::Failing, self.failing),
            (Coverage::Designed, self.designed),
            (Coverage::Uncovered, self.uncovered),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    pub fn add(&mut self, coverage: Coverage, n: i64) {
        match coverage {
            Coverage::Verified => self.verified += n,
            Coverage::Accepted => self.accepted += n,
            Coverage::Stale => self.stale += n,
            Coverage::Failing => self.failing += n,
            Coverage::Designed => self.designed += n,
            Coverage::Uncovered => self.uncovered += n,
        }
    }
}

/// One change in the portfolio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub key: String,
    pub team: String,
    pub title: String,
    pub status: ChangeStatus,
    pub types: Vec<ChangeType>,
    pub happy_path_at: Option<Timestamp>,
    pub target_at: Option<Timestamp>,
    pub signed_off_at: Option<Timestamp>,
    pub coverage: CoverageCounts,
    /// Priority weights (High 3, Medium 2, Low 1) of the failure modes that count for the
    /// gate, and of all of them.
    pub weight_covered: i64,
    pub weight_total: i64,
    /// The change's details ([`DETAILS`](super::change::DETAILS), in that order), read for
    /// the CSV only (empty otherwise), so the page's query and hydration data do not carry
    /// them.
    #[serde(skip)]
    pub details: Vec<Option<String>>,
    /// The verdicts on the change's incidents, all time, and how many followed its sign-off:
    /// read for the CSV only, like the details.
    #[serde(skip)]
    pub incidents: Verdicts,
    #[serde(skip)]
    pub incidents_after_sign_off: i64,
}

impl Row {
    /// The target date has passed and the change is not signed off (or cancelled).
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status.is_overdue(self.target_at, now)
    }

    /// Coverage weighted by priority, in whole percent; `None` without failure modes.
    pub fn weighted_percent(&self) -> Option<i64> {
        percent(self.weight_covered, self.weight_total)
    }

    /// Whole days since the happy path was recorded.
    pub fn days_since_happy_path(&self, now: Timestamp) -> Option<i64> {
        self.happy_path_at.map(|at| at.days_until(now))
    }
}

/// `part` of `whole` in whole percent (rounded down, so 100 means all); `None` of nothing.
pub fn percent(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| part * 100 / whole)
}

/// Cycle time from happy path to sign-off of one team's signed-off changes, in days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    pub team: String,
    pub signed_off: usize,
    pub median_days: Days,
    pub p90_days: Days,
}

/// The `p`-th percentile (0–100) of `sorted` by the nearest-rank method.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// [`percentile`] of the values `histogram` counts: `(value, how many)`, sorted by value,
/// as if each were listed out that many times.
pub fn percentile_of_counts(histogram: &[(i64, usize)], p: usize) -> Option<i64> {
    let total: usize = histogram.iter().map(|(_, n)| n).sum();
    let rank = (p * total).div_ceil(100).max(1);
    let mut seen = 0;
    histogram
        .iter()
        .find(|(_, n)| {
            seen += n;
            seen >= rank
        })
        .map(|(value, _)| *value)
}

/// A point of a team's coverage trend: a day (days since the epoch) and weighted coverage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub day: i64,
    pub percent: i64,
}

/// One team's line in the coverage-over-time chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trend {
    pub team: String,
    pub points: Vec<TrendPoint>,
}

/// The median cycle time of changes signed off in one month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthCycle {
    /// `2026-11`.
    pub month: String,
    pub signed_off: usize,
    pub median_days: Days,
}

/// What the portfolio page shows for a view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    pub now: Timestamp,
    pub filter: Filter,
    /// Teams the viewer can see, as (slug, name), for the team filter.
    pub teams: Vec<(String, String)>,
    /// Changes per status in the view, ignoring its status and overdue filters.
    pub status_counts: Vec<(ChangeStatus, i64)>,
    pub overdue: i64,
    /// Every row of the view, counted; `rows` has the requested page.
    pub total_rows: usize,
    pub rows: Vec<Row>,
    pub cycles: Vec<Cycle>,
    pub trends: Vec<Trend>,
    pub month_cycles: Vec<MonthCycle>,
    pub learning: Learning,
}

/// An open change with a target date, for a team's "coming up" list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upcoming {
    pub key: String,
    pub title: String,
    pub status: ChangeStatus,
    pub target_at: Timestamp,
}

/// A failure mode that needs work: no evidence yet, failing, or stale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub change: String,
    pub number: i64,
    pub title: String,
    pub coverage: Coverage,
    /// For stale ones: when the oldest result it counts was received.
    pub oldest_at: Option<Timestamp>,
}

/// What a team lead looks at: upcoming target dates and the failure modes of open changes
/// that are not covered yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamWork {
    pub now: Timestamp,
    pub upcoming: Vec<Upcoming>,
    pub gaps: Vec<Gap>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_view_survives_the_round_trip_through_its_url() {
        let filter = Filter {
            team: Some("QUE".into()),
            status: Some(ChangeStatus::HappyPathWorking),
            change_type: Some(ChangeType::AiAgent),
            overdue: true,
            sort: Sort::Coverage,
            page: 3,
            window: Window::All,
        };
        let query = filter.to_query();
        assert_eq!(
            query,
            "team=QUE&status=happy_path_working&type=ai_agent&overdue=1&sort=coverage&page=3&window=all"
        );
        let pairs: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
        assert_eq!(Filter::from_query(pairs).expect("valid"), filter);
        assert_eq!(Filter::from_query([]).expect("empty").to_query(), "");
    }

    #[test]
    fn unknown_values_are_refused_by_name() {
        let err = Filter::from_query([("status", "done")]).expect_err("unknown status");
        assert!(err.to_string().contains("status"), "{err}");
        assert!(Filter::from_query([("page", "0")]).is_err());
        assert!(Filter::from_query([("sort", "random")]).is_err());
        assert!(Filter::from_query([("window", "decade")]).is_err());
        // Empty values mean "any", as a GET form without a choice sends them.
        assert_eq!(Filter::from_query([("status", ""), ("team", "")]).expect("any").status, None);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 90), Some(7));
        let days: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&days, 50), Some(5));
        assert_eq!(percentile(&days, 90), Some(9));
        assert_eq!(percentile(&days, 100), Some(10));
    }

    proptest! {
        #[test]
        fn a_percentile_is_a_member_and_grows_with_p(mut xs in proptest::collection::vec(0i64..500, 1..50), p in 1usize..=100) {
            xs.sort_unstable();
            let value = percentile(&xs, p).expect("non-empty");
            prop_assert!(xs.contains(&value));
            prop_assert!(percentile(&xs, p.saturating_sub(1).max(1)).expect("non-empty") <= value);
        }

        #[test]
        fn a_histogram_has_the_percentiles_of_its_values(mut xs in proptest::collection::vec(0i64..40, 0..80), p in 1usize..=100) {
            xs.sort_unstable();
            let mut histogram: Vec<(i64, usize)> = Vec::new();
            for x in &xs {
                match histogram.last_mut() {
                    Some((value, n)) if value == x => *n += 1,
                    _ => histogram.push((*x, 1)),
                }
            }
            prop_assert_eq!(percentile_of_counts(&histogram, p), percentile(&xs, p));
        }
    }
}
