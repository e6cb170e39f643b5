use crate::api::portfolio::load_portfolio;
use crate::domain::Principal;
use crate::domain::change::{ChangeStatus, ChangeType};
use crate::domain::learning::{Learning, TeamLearning, Window};
use crate::domain::portfolio::{Filter, PAGE_SIZE, Portfolio, Row, Sort};
use crate::domain::time::Timestamp;
use crate::ui::charts::{CoverageTrend, CycleTrend, PredictionTrend, StatusFunnel};
use crate::ui::components::{CoverageChip, ErrorBox, Loaded, RequireUser, StatusChip};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The start page: the leaders' portfolio across the user's teams (all teams for admins),
/// filtered and sorted by the URL so a view can be shared.
#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|q| {
            let pairs = Filter::KEYS.map(|k| (k, q.get(k).unwrap_or_default()));
            Filter::from_query(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        })
    };
    // Created here, not inside `RequireUser`: its content is rendered again once the
    // session resolves, and a resource made there would be fetched under a disposed owner.
    let data = Resource::new(move || filter().map(|f| f.to_query()).unwrap_or_default(), load_portfolio);
    view! {
        <Title text="Portfolio"/>
        <RequireUser page=move |user: Principal| {
            match filter() {
                Err(err) => view! { <h1>"Portfolio"</h1> <ErrorBox err/> }.into_any(),
                Ok(_) => {
                    let user = user.clone();
                    view! { <Loaded resource=data page=move |p| view! { <PortfolioView p user=user.clone()/> }/> }
                        .into_any()
                }
            }
        }/>
    }
}

#[component]
fn PortfolioView(p: Portfolio, user: Principal) -> impl IntoView {
    let Portfolio {
        now,
        filter,
        teams,
        status_counts,
        overdue,
        total_rows,
        rows,
        cycles,
        trends,
        month_cycles,
        learning,
    } = p;
    let query = filter.to_query();
    let csv = if query.is_empty() { "/portfolio.csv".to_owned() } else { format!("/portfolio.csv?{query}") };
    let pages = total_rows.div_ceil(PAGE_SIZE).max(1);
    let status_link = {
        let filter = filter.clone();
        move |status: Option<ChangeStatus>, overdue: bool| {
            href(&Filter { status, overdue, page: 1, ..filter.clone() })
        }
    };
    let no_changes =
        status_counts.iter().all(|(_, n)| *n == 0) && filter == Filter { page: 1, ..Filter::default() };
    view! {
        <div class="page-head">
            <h1>"Portfolio"</h1>
            <a href=csv class="button secondary" rel="external" download="">"Export CSV"</a>
        </div>
        <FilterForm filter=filter.clone() teams/>
        <ul class="tiles" aria-label="Changes by status">
            <li class="tile overdue-tile">
                <a href=status_link(None, true)><span class="tile-n">{overdue}</span> " overdue"</a>
            </li>
            {status_counts.iter().map(|(status, n)| view! {
                <li class=format!("tile status-{}", status.as_str())>
                    <a href=status_link(Some(*status), false)><span class="tile-n">{*n}</span> " " {status.label().to_lowercase()}</a>
                </li>
            }).collect_view()}
        </ul>
        {if no_changes {
            view! { <Welcome user/> }.into_any()
        } else {
            view! {
                <h2>{format!("Changes ({total_rows})")}</h2>
                {if rows.is_empty() {
                    view! { <p class="muted">"No change matches this view."</p> }.into_any()
                } else {
                    view! { <PortfolioTable rows now/> }.into_any()
                }}
                {(pages > 1).then(|| view! { <Pager filter=filter.clone() pages/> })}
                <CycleTable cycles/>
                <LearningSection learning=learning.clone()/>
                <h2>"Charts"</h2>
                <div class="charts">
                    <StatusFunnel counts=status_counts.clone()/>
                    <CoverageTrend trends now days=crate::domain::portfolio::TREND_DAYS/>
                    <CycleTrend months=month_cycles/>
                    <PredictionTrend quarters=learning.quarters/>
                </div>
            }.into_any()
        }}
    }
}

/// Links to each page of the view's changes.
#[component]
fn Pager(filter: Filter, pages: usize) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="Pages">
            {(1..=pages).map(|page| {
                let current = page == filter.page;
                view! {
                    <a href=href(&filter.with_page(page)) aria-current=current.then_some("page")>{page}</a>
                }
            }).collect_view()}
        </nav>
    }
}

/// Days from happy path to sign-off, by team.
#[component]
fn CycleTable(cycles: Vec<crate::domain::portfolio::Cycle>) -> impl IntoView {
    view! {
        <h2>"Cycle time"</h2>
        {if cycles.is_empty() {
            view! { <p class="muted">"No change in this view has been signed off yet."</p> }.into_any()
        } else {
            view! {
                <table class="compact">
                    <caption>"Days from happy path working to failure cases complete"</caption>
                    <thead><tr>
                        <th scope="col">"Team"</th><th scope="col">"Signed off"</th>
                        <th scope="col">"Median"</th><th scope="col">"90th percentile"</th>
                    </tr></thead>
                    <tbody>
                        {cycles.into_iter().map(|c| view! {
                            <tr>
                                <th scope="row">{c.team}</th><td>{c.signed_off}</td>
                                <td>{c.median_days.to_string()}</td><td>{c.p90_days.to_string()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// What the view's incidents teach: how often a failure mode had predicted them, how often
/// its design held, what waits for a verdict, incidents after sign-off per change, by team
/// and by type of change, over the chosen window.
#[component]
fn LearningSection(learning: Learning) -> impl IntoView {
    let Learning { window, since, total, teams, types, .. } = learning;
    let window = match since {
        Some(since) => format!("{} (since {since})", window.label()),
        None => window.label().to_owned(),
    };
    let v = total.verdicts;
    view! {
        <h2 id="learning">"Learning from incidents"</h2>
        <p class="muted">
            {window} ". An incident counts once for each change it followed, by the quarter it started in (UTC)."
        </p>
        {if v.total() == 0 {
            view! { <p class="muted">"No incident after a change of this view in this window."</p> }.into_any()
        } else {
            view! {
                <ul class="tiles" aria-label="Learning from incidents">
                    <li class="tile learning-tile">
                        <span class="tile-n">{rate(v.prediction_rate())}</span> " predicted"
                        <div class="muted">{format!("{} of {} classified", v.predicted(), v.classified())}</div>
                    </li>
                    <li class="tile learning-tile">
                        <span class="tile-n">{rate(v.hold_rate())}</span> " designs held"
                        <div class="muted">{format!("{} of {} predicted", v.held, v.predicted())}</div>
                    </li>
                    <li class="tile learning-tile">
                        <span class="tile-n">{v.waiting}</span> " waiting for a verdict"
                    </li>
                    <li class="tile learning-tile">
                        <span class="tile-n">{total.per_change().unwrap_or_else(|| "—".to_owned())}</span>
                        " incidents after sign-off per change"
                        <div class="muted">{format!("{} after {} sign-offs", total.after_sign_off, total.signed_off)}</div>
                    </li>
                </ul>
            }.into_any()
        }}
        {(!teams.is_empty()).then(|| view! {
            <table class="compact learning-teams">
                <caption>"Incidents after changes, by team"</caption>
                <thead><tr>
                    <th scope="col">"Team"</th><th scope="col">"Signed off"</th>
                    <th scope="col">"Incidents after sign-off"</th><th scope="col">"Per change"</th>
                    <th scope="col">"Classified"</th><th scope="col">"Prediction rate"</th>
                    <th scope="col">"Hold rate"</th><th scope="col">"Waiting"</th>
                </tr></thead>
                <tbody>
                    {teams.into_iter().map(|t| view! { <LearningRow t/> }).collect_view()}
                </tbody>
            </table>
        })}
        {(!types.is_empty()).then(|| view! {
            <table class="compact learning-types">
                <caption>"Types of change whose incidents were missed most"</caption>
                <thead><tr>
                    <th scope="col">"Type"</th><th scope="col">"Missed"</th>
                    <th scope="col">"Classified"</th><th scope="col">"Missed of classified"</th>
                </tr></thead>
                <tbody>
                    {types.into_iter().map(|t| view! {
                        <tr>
                            <th scope="row">{t.change_type.label()}</th><td>{t.missed}</td><td>{t.classified}</td>
                            <td>{rate(crate::domain::portfolio::percent(t.missed, t.classified))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

/// `66%`, or `—` for a rate of nothing.
fn rate(percent: Option<i64>) -> String {
    percent.map(|r| format!("{r}%")).unwrap_or_else(|| "—".to_owned())
}

#[component]
fn LearningRow(t: TeamLearning) -> impl IntoView {
    view! {
        <tr data-team=t.team.clone()>
            <th scope="row">{t.team.clone()}</th>
            <td>{t.signed_off}</td>
            <td>{t.after_sign_off}</td>
            <td>{t.per_change().unwrap_or_else(|| "—".to_owned())}</td>
            <td>{t.verdicts.classified()}</td>
            <td>{rate(t.verdicts.prediction_rate())}</td>
            <td>{rate(t.verdicts.hold_rate())}</td>
            <td>{t.verdicts.waiting}</td>
        </tr>
    }
}

fn href(filter: &Filter) -> String {
    let q = filter.to_query();
    if q.is_empty() { "/".to_owned() } else { format!("/?{q}") }
}

/// The view's filters: a plain GET form, so the URL carries the view.
#[component]
fn FilterForm(filter: Filter, teams: Vec<(String, String)>) -> impl IntoView {
    let team = filter.team.clone().unwrap_or_default();
    view! {
        <form method="get" action="/" class="filters" aria-label="Filter the portfolio">
            <label for="f-team">"Team"</label>
            <select id="f-team" name="team">
                <option value="" selected=team.is_empty()>"All teams"</option>
                {teams.into_iter().map(|(slug, name)| {
                    let selected = slug == team;
                    view! { <option value=slug.clone() selected=selected>{name}</option> }
                }).collect_view()}
            </select>
            <label for="f-status">"Status"</label>
            <select id="f-status" name="status">
                <option value="" selected=filter.status.is_none()>"Any"</option>
                {ChangeStatus::ALL.into_iter().map(|s| view! {
                    <option value=s.as_str() selected=filter.status == Some(s)>{s.label()}</option>
                }).collect_view()}
            </select>
            <label for="f-type">"Type"</label>
            <select id="f-type" name="type">
                <option value="" selected=filter.change_type.is_none()>"Any"</option>
                {ChangeType::ALL.into_iter().map(|t| view! {
                    <option value=t.as_str() selected=filter.change_type == Some(t)>{t.label()}</option>
                }).collect_view()}
            </select>
            <label class="checkbox">
                <input type="checkbox" name="overdue" value="1" checked=filter.overdue/>
                " Overdue only"
            </label>
            <label for="f-window">"Incidents in"</label>
            <select id="f-window" name="window">
                {Window::ALL.into_iter().map(|w| view! {
                    <option value=w.as_str() selected=filter.window == w>{w.label()}</option>
                }).collect_view()}
            </select>
            <label for="f-sort">"Sort by"</label>
            <select id="f-sort" name="sort">
                {Sort::ALL.into_iter().map(|s| view! {
                    <option value=s.as_str() selected=filter.sort == s>{s.label()}</option>
                }).collect_view()}
            </select>
            <button type="submit" class="secondary">"Apply"</button>
            <a href="/">"Reset"</a>
        </form>
    }
}

#[component]
fn PortfolioTable(rows: Vec<Row>, now: Timestamp) -> impl IntoView {
    view! {
        <table class="portfolio">
            <thead><tr>
                <th scope="col">"Change"</th>
                <th scope="col">"Status"</th>
                <th scope="col">"Since happy path"</th>
                <th scope="col">"Target"</th>
                <th scope="col">"Failure modes"</th>
                <th scope="col">"Weighted coverage"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let overdue = r.is_overdue(now);
                    let since = r.days_since_happy_path(now).map(|d| format!("{d} days")).unwrap_or_else(|| "—".into());
                    let target = r.target_at.map(|t| {
                        let left = now.days_left_until(t);
                        let note = if overdue { format!("overdue by {} days", -left) } else if r.status.is_open() { format!("in {left} days") } else { String::new() };
                        (t.date(), note)
                    });
                    let percent = r.weighted_percent().map(|p| format!("{p}%")).unwrap_or_else(|| "—".into());
                    let key = r.key.clone();
                    view! {
                        <tr class:overdue-row=overdue data-key=key>
                            <td>
                                <a href=format!("/changes/{}", r.key)>{r.key.clone()}</a>
                                " " {r.title}
                                <div class="muted">{r.team}</div>
                            </td>
                            <td><StatusChip status=r.status/></td>
                            <td>{since}</td>
                            <td>
                                {match target {
                                    Some((day, note)) => view! {
                                        {day}
                                        {(!note.is_empty()).then(|| view! {
                                            " " <span class=if overdue { "chip overdue" } else { "muted" }>{note}</span>
                                        })}
                                    }.into_any(),
                                    None => "—".into_any(),
                                }}
                            </td>
                            <td class="coverage-counts">
                                {if r.coverage.total() == 0 {
                                    view! { <span class="muted">"none yet"</span> }.into_any()
                                } else {
                                    r.coverage.parts().into_iter().map(|(coverage, n)| view! {
                                        <span class="count">{n} " " <CoverageChip coverage/></span>
                                    }).collect_view().into_any()
                                }}
                            </td>
                            <td class="number">{percent}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// What a user sees before any change exists: the method in two sentences and their teams.
#[component]
fn Welcome(user: Principal) -> impl IntoView {
    view! {
        <section class="empty-state">
            <h2>"No changes yet"</h2>
            <p>
                "Premortem asks every change two questions. First: does the "
                <strong>"happy path work"</strong>
                "? That is what \"code complete\" used to mean. Second, about a month later: are the "
                <strong>"failure cases complete"</strong>
                "? Every way the change can break is listed, designed for, and proven by tests that CI reports."
            </p>
            <p>"Changes you register will appear here with their milestones and gate status."</p>
        </section>
        <h2>"Your teams"</h2>
        {if user.teams.is_empty() {
            view! {
                <p class="muted">"You are not a member of any team yet. An administrator or a team lead can add you."</p>
            }
                .into_any()
        } else {
            view! {
                <ul class="team-list">
                    {user.teams.into_iter().map(|(_, slug, role)| view! {
                        <li>
                            <a href=format!("/teams/{slug}")>{slug.clone()}</a>
                            " "
                            <span class="chip">{role.as_str()}</span>
                        </li>
                    }).collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}
