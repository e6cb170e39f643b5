//! Charts as inline SVG, rendered on the server like the rest of the page: readable without
//! JavaScript, no chart library. Each has a title and a description for screen readers,
//! and its numbers are also in text beside it.

use crate::domain::change::ChangeStatus;
use crate::domain::portfolio::{MonthCycle, Trend};
use crate::domain::time::Timestamp;
use leptos::prelude::*;

const WIDTH: f64 = 560.0;

/// Line colours and dash patterns: told apart by colour and by pattern.
const SERIES: [(&str, &str); 6] = [
    ("#1f5fbf", ""),
    ("#b3541e", "6 3"),
    ("#2e7d32", "2 3"),
    ("#7b1fa2", "8 3 2 3"),
    ("#00838f", "1 2"),
    ("#5d4037", "10 4"),
];

/// How many changes are at each step from draft to signed off, with regressed and
/// cancelled beside them.
#[component]
pub fn StatusFunnel(counts: Vec<(ChangeStatus, i64)>) -> impl IntoView {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bar_h = 26.0;
    let label_w = 170.0;
    let height = bar_h * counts.len() as f64 + 8.0;
    let desc = counts.iter().map(|(s, n)| format!("{}: {n}", s.label())).collect::<Vec<_>>().join(", ");
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {height}")
                role="img"
                aria-labelledby="funnel-title funnel-desc"
                class="chart-svg"
            >
                <title id="funnel-title">"Changes by status"</title>
                <desc id="funnel-desc">{desc}</desc>
                {counts
                    .iter()
                    .enumerate()
                    .map(|(i, (status, n))| {
                        let y = 4.0 + bar_h * i as f64;
                        let w = (WIDTH - label_w - 50.0) * (*n as f64) / (max as f64);
                        view! {
                            <text x="0" y=y + 17.0 class="chart-label">{status.label()}</text>
                            <rect
                                x=label_w
                                y=y + 3.0
                                width=format!("{w:.1}")
                                height=bar_h - 6.0
                                class=format!("bar status-{}", status.as_str())
                            />
                            <text x=label_w + w + 6.0 y=y + 17.0 class="chart-value">{n.to_string()}</text>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption>"Changes by status"</figcaption>
        </figure>
    }
}

/// Coverage weighted by priority over the last days, one line per team.
#[component]
pub fn CoverageTrend(trends: Vec<Trend>, now: Timestamp, days: i64) -> impl IntoView {
    let (left, top, plot_w, plot_h) = (40.0, 10.0, WIDTH - 150.0, 160.0);
    let today = now.day();
    let x = move |day: i64| left + plot_w * ((day - (today - days)) as f64 / days as f64).clamp(0.0, 1.0);
    let y = move |pct: i64| top + plot_h * (1.0 - pct as f64 / 100.0);
    let desc = if trends.is_empty() {
        "No coverage has been recorded yet.".to_owned()
    } else {
        trends
            .iter()
            .map(|t| {
                let last = t.points.last().map(|p| p.percent).unwrap_or(0);
                format!(
                    "{}: {last}% on {}",
                    t.team,
                    t.points.last().map(|p| Timestamp::of_day(p.day).date()).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let height = top + plot_h + 30.0;
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {height}")
                role="img"
                aria-labelledby="trend-title trend-desc"
                class="chart-svg"
            >
                <title id="trend-title">{format!("Weighted coverage per team, last {days} days")}</title>
                <desc id="trend-desc">{desc}</desc>
                {[0, 50, 100]
                    .into_iter()
                    .map(|pct| view! {
                        <line x1=left x2=left + plot_w y1=y(pct) y2=y(pct) class="grid"/>
                        <text x=left - 6.0 y=y(pct) + 4.0 class="chart-axis" text-anchor="end">{format!("{pct}%")}</text>
                    })
                    .collect_view()}
                <text x=left y=height - 6.0 class="chart-axis">{Timestamp::of_day(today - days).date()}</text>
                <text x=left + plot_w y=height - 6.0 class="chart-axis" text-anchor="end">{Timestamp::of_day(today).date()}</text>
                {trends
                    .iter()
                    .enumerate()
                    .map(|(i, trend)| {
                        let (colour, dash) = SERIES[i % SERIES.len()];
                        let points = trend
                            .points
                            .iter()
                            .map(|p| format!("{:.1},{:.1}", x(p.day), y(p.percent)))
                            .collect::<Vec<_>>()
                            .join(" ");
                        let single = trend.points.len() == 1;
                        let first = trend.points.first().map(|p| (x(p.day), y(p.percent)));
                        let legend_y = top + 14.0 + 18.0 * i as f64;
                        view! {
                            <polyline points=points fill="none" stroke=colour stroke-width="2" stroke-dasharray=dash/>
                            {single.then(|| first.map(|(cx, cy)| view! { <circle cx=cx cy=cy r="3" fill=colour/> }))}
                            <line x1=left + plot_w + 14.0 x2=left + plot_w + 40.0 y1=legend_y - 4.0 y2=legend_y - 4.0 stroke=colour stroke-width="2" stroke-dasharray=dash/>
                            <text x=left + plot_w + 46.0 y=legend_y class="chart-label">{trend.team.clone()}</text>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption>"Coverage weighted by priority (High 3, Medium 2, Low 1), recorded daily"</figcaption>
        </figure>
    }
}

/// Median days from happy path to sign-off, by month of sign-off.
#[component]
pub fn CycleTrend(months: Vec<MonthCycle>) -> impl IntoView {
    let (left, top, plot_h) = (40.0, 10.0, 140.0);
    let max = months.iter().map(|m| m.median_days).max().unwrap_or(0).max(1);
    let slot = if months.is_empty() { 0.0 } else { (WIDTH - left - 10.0) / months.len() as f64 };
    let desc = if months.is_empty() {
        "No change has been signed off in the last twelve months.".to_owned()
    } else {
        months
            .iter()
            .map(|m| format!("{}: median {} days over {} changes", m.month, m.median_days, m.signed_off))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let height = top + plot_h + 30.0;
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {height}")
                role="img"
                aria-labelledby="cycle-title cycle-desc"
                class="chart-svg"
            >
                <title id="cycle-title">"Cycle time from happy path to sign-off, median per month"</title>
                <desc id="cycle-desc">{desc}</desc>
                <line x1=left x2=WIDTH - 10.0 y1=top + plot_h y2=top + plot_h class="grid"/>
                <text x=left - 6.0 y=top + 10.0 class="chart-axis" text-anchor="end">{format!("{max}d")}</text>
                {months
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let h = plot_h * m.median_days as f64 / max as f64;
                        let x = left + slot * i as f64 + slot * 0.15;
                        view! {
                            <rect x=x y=top + plot_h - h width=slot * 0.7 height=h class="bar cycle"/>
                            <text x=x + slot * 0.35 y=top + plot_h - h - 4.0 class="chart-value" text-anchor="middle">{m.median_days.to_string()}</text>
                            <text x=x + slot * 0.35 y=height - 6.0 class="chart-axis" text-anchor="middle">{m.month[2..].to_owned()}</text>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption>"Median days from happy path to failure cases complete, by month signed off"</figcaption>
        </figure>
    }
}
