//! Charts as inline SVG, rendered on the server like the rest of the page: readable without
//! JavaScript, no chart library.
//!
//! An SVG scaled down shrinks its text with it, so each chart is drawn twice: at a desktop
//! width and at a phone width, each shown at about its own size (one user unit is one CSS
//! pixel, 13 px text) while the stylesheet hides the other (`.chart-wide`, `.chart-narrow`).
//! Each drawing has a title and a description for screen readers, and the numbers are also
//! in a table beneath the chart.

use crate::domain::change::ChangeStatus;
use crate::domain::learning::QuarterLearning;
use crate::domain::portfolio::{MonthCycle, Trend};
use crate::domain::time::Timestamp;
use leptos::prelude::*;

/// One way to draw a chart: its width in CSS pixels, the suffix that keeps its ids apart
/// from the other drawing's, and the class the stylesheet shows or hides it by.
#[derive(Clone, Copy)]
struct Layout {
    width: f64,
    suffix: &'static str,
    class: &'static str,
}

impl Layout {
    fn narrow(self) -> bool {
        self.width < 400.0
    }
}

/// Desktop (two charts side by side in a 72rem page) and phone (a 320 px screen still shows
/// the text at 12 px or more).
const LAYOUTS: [Layout; 2] = [
    Layout { width: 520.0, suffix: "", class: "chart-wide" },
    Layout { width: 280.0, suffix: "-narrow", class: "chart-narrow" },
];

/// Height of a line of chart text.
const LINE: f64 = 18.0;

/// Line colours and dash patterns: told apart by colour and by pattern.
const SERIES: [(&str, &str); 6] = [
    ("#1f5fbf", ""),
    ("#b3541e", "6 3"),
    ("#2e7d32", "2 3"),
    ("#7b1fa2", "8 3 2 3"),
    ("#00838f", "1 2"),
    ("#5d4037", "10 4"),
];

/// One drawing of a chart: an `<svg>` sized in CSS pixels, named by its title and
/// described by its description.
fn drawing(layout: Layout, id: &str, height: f64, title: &str, desc: &str, body: AnyView) -> impl IntoView {
    let title_id = format!("{id}-title{}", layout.suffix);
    let desc_id = format!("{id}-desc{}", layout.suffix);
    let labelled_by = format!("{title_id} {desc_id}");
    view! {
        <svg
            class=format!("chart-svg {}", layout.class)
            width=layout.width
            height=height
            viewBox=format!("0 0 {} {height}", layout.width)
            role="img"
            aria-labelledby=labelled_by
        >
            <title id=title_id>{title.to_owned()}</title>
            <desc id=desc_id>{desc.to_owned()}</desc>
            {body}
        </svg>
    }
}

/// A chart's numbers as a table, folded away beneath it.
fn data_table(name: &str, headers: &[&str], rows: Vec<Vec<String>>) -> impl IntoView {
    let headers = headers.iter().map(|h| view! { <th scope="col">{h.to_string()}</th> }).collect_view();
    let rows = rows
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter();
            let head = cells.next().unwrap_or_default();
            view! {
                <tr>
                    <th scope="row">{head}</th>
                    {cells.map(|c| view! { <td>{c}</td> }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    view! {
        <details class="chart-data">
            <summary>{format!("{name}: the numbers")}</summary>
            <table class="compact">
                <caption class="visually-hidden">{name.to_owned()}</caption>
                <thead><tr>{headers}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </details>
    }
}

/// How many changes are at each step from draft to signed off, with regressed and
/// cancelled beside them.
#[component]
pub fn StatusFunnel(counts: Vec<(ChangeStatus, i64)>) -> impl IntoView {
    let title = "Changes by status";
    let desc = counts.iter().map(|(s, n)| format!("{}: {n}", s.label())).collect::<Vec<_>>().join(", ");
    let drawings = LAYOUTS
        .into_iter()
        .map(|layout| {
            let (height, body) = funnel(&counts, layout);
            drawing(layout, "funnel", height, title, &desc, body)
        })
        .collect_view();
    let rows = counts.iter().map(|(s, n)| vec![s.label().to_owned(), n.to_string()]).collect();
    view! {
        <figure class="chart">
            {drawings}
            <figcaption>"Changes by status, from draft to failure cases complete"</figcaption>
            {data_table(title, &["Status", "Changes"], rows)}
        </figure>
    }
}

/// The funnel's bars: beside their labels on a desktop, beneath them on a phone.
fn funnel(counts: &[(ChangeStatus, i64)], layout: Layout) -> (f64, AnyView) {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let narrow = layout.narrow();
    // Room for the value after the longest bar.
    let value_w = 44.0;
    let (row_h, bar_x, bar_y, bar_h, label_y) =
        if narrow { (42.0, 0.0, 20.0, 14.0, 14.0) } else { (28.0, 176.0, 5.0, 18.0, 19.0) };
    let bar_max = layout.width - bar_x - value_w;
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, (status, n))| {
            let y = 4.0 + row_h * i as f64;
            let w = bar_max * (*n as f64) / (max as f64);
            view! {
                <text x="0" y=y + label_y class="chart-label">{status.label()}</text>
                <rect
                    x=bar_x
                    y=y + bar_y
                    width=format!("{w:.1}")
                    height=bar_h
                    class=format!("bar status-{}", status.as_str())
                />
                <text x=bar_x + w + 6.0 y=y + bar_y + bar_h / 2.0 + 4.5 class="chart-value">{n.to_string()}</text>
            }
        })
        .collect_view();
    let axis_y = 4.0 + row_h * counts.len() as f64 + 14.0;
    let body = view! {
        {bars}
        <text x=bar_x y=axis_y class="chart-axis">"Number of changes"</text>
    };
    (axis_y + 6.0, body.into_any())
}

/// Coverage weighted by priority over the last days, one line per team.
#[component]
pub fn CoverageTrend(trends: Vec<Trend>, now: Timestamp, days: i64) -> impl IntoView {
    let title = format!("Weighted coverage per team, last {days} days");
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
    let drawings = LAYOUTS
        .into_iter()
        .map(|layout| {
            let (height, body) = trend(&trends, now.day(), days, layout);
            drawing(layout, "trend", height, &title, &desc, body)
        })
        .collect_view();
    view! {
        <figure class="chart">
            {drawings}
            <figcaption>"Coverage weighted by priority (High 3, Medium 2, Low 1), recorded daily"</figcaption>
            {data_table(&title, &["Team", "Date", "Weighted coverage"], trend_rows(&trends))}
        </figure>
    }
}

/// The trend's table: for each team, the days its coverage changed and its latest day.
fn trend_rows(trends: &[Trend]) -> Vec<Vec<String>> {
    trends
        .iter()
        .flat_map(|t| {
            t.points.iter().enumerate().filter_map(|(i, p)| {
                let changed = i == 0 || t.points[i - 1].percent != p.percent;
                (changed || i + 1 == t.points.len())
                    .then(|| vec![t.team.clone(), Timestamp::of_day(p.day).date(), format!("{}%", p.percent)])
            })
        })
        .collect()
}

/// The trend's axes, lines and legend (beneath the plot, one team a line on a phone).
fn trend(trends: &[Trend], today: i64, days: i64, layout: Layout) -> (f64, AnyView) {
    let narrow = layout.narrow();
    let (left, top) = (44.0, 30.0);
    let plot_w = layout.width - left - 14.0;
    let plot_h = if narrow { 140.0 } else { 160.0 };
    let x = move |day: i64| left + plot_w * ((day - (today - days)) as f64 / days as f64).clamp(0.0, 1.0);
    let y = move |pct: i64| top + plot_h * (1.0 - pct as f64 / 100.0);
    let grid = [0, 25, 50, 75, 100]
        .into_iter()
        .map(|pct| {
            view! {
                <line x1=left x2=left + plot_w y1=y(pct) y2=y(pct) class="grid"/>
                <text x=left - 6.0 y=y(pct) + 4.5 class="chart-axis" text-anchor="end">{format!("{pct}%")}</text>
            }
        })
        .collect_view();
    let ticks = if narrow { 3 } else { 4 };
    let dates = (0..ticks)
        .map(|k| {
            let day = today - days + days * k / (ticks - 1);
            let anchor = match k {
                0 => "start",
                k if k == ticks - 1 => "end",
                _ => "middle",
            };
            view! {
                <line x1=x(day) x2=x(day) y1=top + plot_h y2=top + plot_h + 4.0 class="tick"/>
                <text x=x(day) y=top + plot_h + LINE class="chart-axis" text-anchor=anchor>{tick_date(day, narrow)}</text>
            }
        })
        .collect_view();
    let per_row = if narrow { 1 } else { 2 };
    let legend_top = top + plot_h + LINE + 26.0;
    let col_w = plot_w / per_row as f64;
    let lines = trends
        .iter()
        .enumerate()
        .map(|(i, trend)| {
            let (colour, dash) = SERIES[i % SERIES.len()];
            let points =
                trend.points.iter().map(|p| format!("{:.1},{:.1}", x(p.day), y(p.percent))).collect::<Vec<_>>().join(" ");
            let single = trend.points.len() == 1;
            let first = trend.points.first().map(|p| (x(p.day), y(p.percent)));
            let last = trend.points.last().map(|p| format!("{}: {}%", trend.team, p.percent)).unwrap_or_default();
            let lx = left + col_w * (i % per_row) as f64;
            let ly = legend_top + LINE * (i / per_row) as f64;
            view! {
                <polyline points=points fill="none" stroke=colour stroke-width="2" stroke-dasharray=dash/>
                {single.then(|| first.map(|(cx, cy)| view! { <circle cx=cx cy=cy r="3" fill=colour/> }))}
                <line x1=lx x2=lx + 26.0 y1=ly - 4.5 y2=ly - 4.5 stroke=colour stroke-width="2" stroke-dasharray=dash/>
                <text x=lx + 32.0 y=ly class="chart-label">{last}</text>
            }
        })
        .collect_view();
    let empty = trends.is_empty().then(|| {
        view! {
            <text x=left + plot_w / 2.0 y=top + plot_h / 2.0 class="chart-label" text-anchor="middle">
                "No coverage recorded yet"
            </text>
        }
    });
    let rows = trends.len().div_ceil(per_row).max(1);
    let body = view! {
        <text x="0" y="14" class="chart-axis">"Weighted coverage (%)"</text>
        {grid}
        {dates}
        {lines}
        {empty}
    };
    (legend_top + LINE * (rows - 1) as f64 + 8.0, body.into_any())
}

/// A date on the trend's time axis: `2026-11-27`, or `27 Nov` where three must fit in 220 px.
fn tick_date(day: i64, narrow: bool) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let date = Timestamp::of_day(day).date();
    if !narrow {
        return date;
    }
    let month =
        date.get(5..7).and_then(|m| m.parse::<usize>().ok()).and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let dom = date.get(8..10).and_then(|d| d.parse::<u8>().ok());
    match (dom, month) {
        (Some(d), Some(m)) => format!("{d} {m}"),
        _ => date,
    }
}

/// Median days from happy path to sign-off, by month of sign-off.
#[component]
pub fn CycleTrend(months: Vec<MonthCycle>) -> impl IntoView {
    let title = "Cycle time from happy path to sign-off, median per month";
    let desc = if months.is_empty() {
        "No change has been signed off in the last twelve months.".to_owned()
    } else {
        months
            .iter()
            .map(|m| format!("{}: median {} over {} changes", m.month, m.median_days, m.signed_off))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let drawings = LAYOUTS
        .into_iter()
        .map(|layout| {
            let (height, body) = cycle(&months, layout);
            drawing(layout, "cycle", height, title, &desc, body)
        })
        .collect_view();
    let rows = months
        .iter()
        .map(|m| vec![m.month.clone(), m.signed_off.to_string(), m.median_days.to_string()])
        .collect();
    view! {
        <figure class="chart">
            {drawings}
            <figcaption>"Median days from happy path to failure cases complete, by month signed off"</figcaption>
            {data_table(title, &["Month", "Changes signed off", "Median cycle time"], rows)}
        </figure>
    }
}

/// One bar a month, oldest first, each labelled with its month and its median in days.
fn cycle(months: &[MonthCycle], layout: Layout) -> (f64, AnyView) {
    let bars: Vec<(String, i64, String)> =
        months.iter().map(|m| (m.month.clone(), m.median_days.get(), m.median_days.to_string())).collect();
    let max = bars.iter().map(|(_, v, _)| *v).max().unwrap_or(0).max(1);
    let axis = "Median days to sign-off, by month";
    bar_rows(&bars, max, layout, axis, "No sign-offs in the last twelve months", "bar cycle")
}

/// Horizontal bars, one a row: its label, a bar as long as its value of `max`, the value's
/// text beside it; `empty` when there is none.
fn bar_rows(
    bars: &[(String, i64, String)],
    max: i64,
    layout: Layout,
    axis: &str,
    empty: &str,
    class: &'static str,
) -> (f64, AnyView) {
    // The widest value's text (13 px digits are about 7.5 px wide) fits beside a full bar.
    let longest = bars.iter().map(|(_, _, text)| text.chars().count()).max().unwrap_or(0);
    let (label_w, top, row_h, value_w) = (68.0, 26.0, 26.0, (longest as f64 * 7.5 + 8.0).max(64.0));
    let bar_max = layout.width - label_w - value_w;
    let rows = bars
        .iter()
        .enumerate()
        .map(|(i, (label, value, text))| {
            let y = top + row_h * i as f64;
            let w = bar_max * (*value).max(0) as f64 / max.max(1) as f64;
            view! {
                <text x="0" y=y + 17.0 class="chart-label">{label.clone()}</text>
                <rect x=label_w y=y + 4.0 width=format!("{w:.1}") height=row_h - 8.0 class=class/>
                <text x=label_w + w + 6.0 y=y + 17.0 class="chart-value">{text.clone()}</text>
            }
        })
        .collect_view();
    let empty = bars.is_empty().then(|| {
        view! { <text x="0" y=top + 17.0 class="chart-label">{empty.to_owned()}</text> }
    });
    let body = view! {
        <text x="0" y="14" class="chart-axis">{axis.to_owned()}</text>
        {rows}
        {empty}
    };
    (top + row_h * bars.len().max(1) as f64 + 4.0, body.into_any())
}

/// How often a failure mode had predicted the incidents of each quarter (predicted of
/// classified), oldest quarter first.
#[component]
pub fn PredictionTrend(quarters: Vec<QuarterLearning>) -> impl IntoView {
    let title = "Prediction rate of incidents, per quarter";
    let said = |q: &QuarterLearning| match q.verdicts.prediction_rate() {
        Some(rate) => format!("{rate}% ({} of {})", q.verdicts.predicted(), q.verdicts.classified()),
        None => "no verdict".to_owned(),
    };
    let desc = quarters.iter().map(|q| format!("{}: {}", q.quarter, said(q))).collect::<Vec<_>>().join("; ");
    let bars: Vec<(String, i64, String)> = quarters
        .iter()
        .map(|q| (q.quarter.clone(), q.verdicts.prediction_rate().unwrap_or(0), said(q)))
        .collect();
    let drawings = LAYOUTS
        .into_iter()
        .map(|layout| {
            let axis = "Incidents a failure mode had predicted, %";
            let (height, body) =
                bar_rows(&bars, 100, layout, axis, "No incident in this window", "bar prediction");
            drawing(layout, "prediction", height, title, &desc, body)
        })
        .collect_view();
    let rows = quarters
        .iter()
        .map(|q| {
            let rate =
                q.verdicts.prediction_rate().map(|r| format!("{r}%")).unwrap_or_else(|| "—".to_owned());
            vec![
                q.quarter.clone(),
                q.verdicts.classified().to_string(),
                q.verdicts.predicted().to_string(),
                rate,
            ]
        })
        .collect();
    view! {
        <figure class="chart">
            {drawings}
            <figcaption>"Incidents whose failure a failure mode had described, of those classified, by quarter started"</figcaption>
            {data_table(title, &["Quarter", "Classified", "Predicted", "Prediction rate"], rows)}
        </figure>
    }
}
