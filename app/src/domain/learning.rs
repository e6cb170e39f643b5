//! What incidents teach leaders: of the incidents after a view's changes, how many a failure
//! mode had predicted, how often the predicted failure's design held, how many wait for a
//! verdict, and which types of change miss most, over a window of quarters. Each change an
//! incident followed is judged on its own (`domain::incident`), so every number here counts
//! verdicts: an incident after two changes counts once for each. Counted in SQL from
//! maintained counts (`ssr::portfolio::learning`).

use super::change::ChangeType;
use super::incident::Verdict;
use super::portfolio::percent;
use super::time::{Quarter, Timestamp};
use serde::{Deserialize, Serialize};

/// The quarters the learning metrics cover, ending with the current one (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    Quarter,
    #[default]
    Year,
    TwoYears,
    All,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::Quarter, Window::Year, Window::TwoYears, Window::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Quarter => "quarter",
            Window::Year => "year",
            Window::TwoYears => "two-years",
            Window::All => "all",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::Quarter => "This quarter",
            Window::Year => "The last 4 quarters",
            Window::TwoYears => "The last 8 quarters",
            Window::All => "All time",
        }
    }

    /// The window's first quarter, when the current one is `now`'s; none for all time.
    pub fn first(self, now: Timestamp) -> Option<Quarter> {
        let back = match self {
            Window::Quarter => 0,
            Window::Year => 3,
            Window::TwoYears => 7,
            Window::All => return None,
        };
        Some(Quarter::of(now).back(back))
    }
}

/// How many verdicts of a group are each (waiting: not classified yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdicts {
    pub held: i64,
    pub failed: i64,
    pub missed: i64,
    pub waiting: i64,
}

impl Verdicts {
    /// Counts `n` more of `verdict` (none: waiting).
    pub fn add(&mut self, verdict: Option<Verdict>, n: i64) {
        match verdict {
            Some(Verdict::Held) => self.held += n,
            Some(Verdict::Failed) => self.failed += n,
            Some(Verdict::Missed) => self.missed += n,
            None => self.waiting += n,
        }
    }

    /// A failure mode described it.
    pub fn predicted(&self) -> i64 {
        self.held + self.failed
    }

    pub fn classified(&self) -> i64 {
        self.predicted() + self.missed
    }

    pub fn total(&self) -> i64 {
        self.classified() + self.waiting
    }

    /// Predicted of classified, in whole percent; none before any verdict.
    pub fn prediction_rate(&self) -> Option<i64> {
        percent(self.predicted(), self.classified())
    }

    /// Held of predicted, in whole percent; none before any prediction.
    pub fn hold_rate(&self) -> Option<i64> {
        percent(self.held, self.predicted())
    }
}

impl std::ops::AddAssign for Verdicts {
    fn add_assign(&mut self, other: Verdicts) {
        self.held += other.held;
        self.failed += other.failed;
        self.missed += other.missed;
        self.waiting += other.waiting;
    }
}

/// One team's learning (or the whole view's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamLearning {
    pub team: String,
    /// Changes signed off in the window (by their latest sign-off).
    pub signed_off: i64,
    /// Verdicts on incidents that started after their change had been signed off.
    pub after_sign_off: i64,
    pub verdicts: Verdicts,
}

impl TeamLearning {
    /// Incidents after sign-off per change signed off, to two decimals: `0.25`.
    pub fn per_change(&self) -> Option<String> {
        (self.signed_off > 0).then(|| {
            let hundredths = self.after_sign_off * 100 / self.signed_off;
            format!("{}.{:02}", hundredths / 100, hundredths % 100)
        })
    }
}

/// Verdicts on the incidents that started in one quarter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarterLearning {
    /// `2026-Q4`.
    pub quarter: String,
    pub verdicts: Verdicts,
}

/// How often incidents after changes of one type were missed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeMisses {
    pub change_type: ChangeType,
    pub missed: i64,
    pub classified: i64,
}

/// The learning metrics of a portfolio view.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learning {
    pub window: Window,
    /// The window's first quarter (`2026-Q1`); none for all time.
    pub since: Option<String>,
    /// The whole view.
    pub total: TeamLearning,
    /// Each team with a sign-off or an incident in the window, by slug.
    pub teams: Vec<TeamLearning>,
    /// Each quarter of the window, oldest first (all time: since the first incident, at
    /// most [`QUARTERS_SHOWN`]).
    pub quarters: Vec<QuarterLearning>,
    /// The types of change with a classified incident, most often missed first.
    pub types: Vec<TypeMisses>,
}

/// The most quarters the chart shows (the latest).
pub const QUARTERS_SHOWN: usize = 12;

impl Learning {
    /// Each quarter from `first` to `last` (at most [`QUARTERS_SHOWN`], the latest), with the
    /// verdicts `counted` holds for it (none: zero).
    pub fn quarters(first: Quarter, last: Quarter, counted: &[(String, Verdicts)]) -> Vec<QuarterLearning> {
        let mut quarters = Vec::new();
        let mut quarter = last;
        while quarter >= first && quarters.len() < QUARTERS_SHOWN {
            let name = quarter.to_string();
            let verdicts = counted.iter().find(|(q, _)| *q == name).map(|(_, v)| *v).unwrap_or_default();
            quarters.push(QuarterLearning { quarter: name, verdicts });
            quarter = quarter.back(1);
        }
        quarters.reverse();
        quarters
    }

    /// The types of `counted` (a set of types, comma-separated as stored, and its verdicts),
    /// each type counted for every set it is in, most often missed first.
    pub fn types(counted: &[(String, Verdicts)]) -> Vec<TypeMisses> {
        let mut types: Vec<TypeMisses> = Vec::new();
        for (set, verdicts) in counted {
            for change_type in ChangeType::split(set) {
                match types.iter_mut().find(|t| t.change_type == change_type) {
                    Some(t) => {
                        t.missed += verdicts.missed;
                        t.classified += verdicts.classified();
                    }
                    None => types.push(TypeMisses {
                        change_type,
                        missed: verdicts.missed,
                        classified: verdicts.classified(),
                    }),
                }
            }
        }
        types.retain(|t| t.classified > 0);
        types.sort_by_key(|t| {
            (std::cmp::Reverse(t.missed), std::cmp::Reverse(t.classified), t.change_type.as_str())
        });
        types
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(held: i64, failed: i64, missed: i64, waiting: i64) -> Verdicts {
        Verdicts { held, failed, missed, waiting }
    }

    #[test]
    fn rates_count_verdicts_and_say_nothing_before_any() {
        let v = verdicts(3, 1, 2, 5);
        assert_eq!((v.predicted(), v.classified(), v.total()), (4, 6, 11));
        assert_eq!(v.prediction_rate(), Some(66), "4 of 6, rounded down");
        assert_eq!(v.hold_rate(), Some(75));
        assert_eq!(verdicts(0, 0, 0, 4).prediction_rate(), None, "nothing classified yet");
        assert_eq!(verdicts(0, 0, 2, 0).hold_rate(), None, "nothing predicted");
        assert_eq!(verdicts(0, 0, 2, 0).prediction_rate(), Some(0));
        let mut counted = Verdicts::default();
        for (verdict, n) in
            [(Some(Verdict::Held), 2), (None, 1), (Some(Verdict::Missed), 1), (Some(Verdict::Held), 1)]
        {
            counted.add(verdict, n);
        }
        assert_eq!(counted, verdicts(3, 0, 1, 1));
    }

    #[test]
    fn incidents_per_change_are_shown_to_two_decimals() {
        let team = |signed_off, after_sign_off| TeamLearning {
            signed_off,
            after_sign_off,
            ..TeamLearning::default()
        };
        assert_eq!(team(4, 1).per_change().as_deref(), Some("0.25"));
        assert_eq!(team(3, 7).per_change().as_deref(), Some("2.33"));
        assert_eq!(team(0, 2).per_change(), None);
    }

    #[test]
    fn windows_end_with_the_current_quarter() {
        let now = Timestamp::parse_date("2026-12-07").expect("date");
        assert_eq!(Window::Quarter.first(now).map(|q| q.to_string()).as_deref(), Some("2026-Q4"));
        assert_eq!(Window::Year.first(now).map(|q| q.to_string()).as_deref(), Some("2026-Q1"));
        assert_eq!(Window::TwoYears.first(now).map(|q| q.to_string()).as_deref(), Some("2025-Q1"));
        assert_eq!(Window::All.first(now), None);
        for w in Window::ALL {
            assert_eq!(Window::parse(w.as_str()), Some(w));
        }
        let quarters = Learning::quarters(
            Quarter::of(now).back(3),
            Quarter::of(now),
            &[("2026-Q2".to_owned(), verdicts(1, 0, 1, 0))],
        );
        let names: Vec<&str> = quarters.iter().map(|q| q.quarter.as_str()).collect();
        assert_eq!(names, ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]);
        assert_eq!(quarters[1].verdicts.prediction_rate(), Some(50));
        let long = Learning::quarters(Quarter::of(now).back(100), Quarter::of(now), &[]);
        assert_eq!(long.len(), QUARTERS_SHOWN);
        assert_eq!(long.last().map(|q| q.quarter.as_str()), Some("2026-Q4"));
    }

    #[test]
    fn each_type_counts_every_set_it_is_in_and_the_most_missed_come_first() {
        let types = Learning::types(&[
            ("queue".to_owned(), verdicts(2, 0, 1, 0)),
            ("migration,queue".to_owned(), verdicts(0, 0, 2, 0)),
            ("migration".to_owned(), verdicts(1, 0, 0, 0)),
            ("rollout".to_owned(), verdicts(0, 0, 0, 3)),
        ]);
        let got: Vec<(&str, i64, i64)> =
            types.iter().map(|t| (t.change_type.as_str(), t.missed, t.classified)).collect();
        assert_eq!(got, [("queue", 3, 5), ("migration", 2, 3)], "rollout has no verdict yet");
    }
}
