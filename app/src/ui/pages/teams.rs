use crate::api::teams::{SetMember, SetPolicy, my_teams, team_page};
use crate::domain::gate::Coverage;
use crate::domain::portfolio::{Gap, TeamWork};
use crate::domain::{Principal, Role};
use crate::ui::components::{CoverageChip, StatusChip};
use crate::ui::components::{ErrorBox, FieldError, FormError, RequireUser, action_error};
use crate::ui::slug_now;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The teams the user belongs to (every team for admins).
#[component]
pub fn TeamsPage() -> impl IntoView {
    let teams = Resource::new(|| (), |_| my_teams());
    view! {
        <Title text="Teams"/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <h1>"Teams"</h1>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match teams.await {
                            Ok(teams) if teams.is_empty() => view! {
                                <p class="muted">"You are not a member of any team yet."</p>
                            }
                                .into_any(),
                            Ok(teams) => view! {
                                <table>
                                    <thead><tr><th scope="col">"Team"</th><th scope="col">"Name"</th><th scope="col">"Members"</th><th scope="col">"Your role"</th></tr></thead>
                                    <tbody>
                                        {teams
                                            .into_iter()
                                            .map(|t| view! {
                                                <tr>
                                                    <td><a href=format!("/teams/{}", t.slug)>{t.slug.clone()}</a></td>
                                                    <td>{t.name}</td>
                                                    <td>{t.members}</td>
                                                    <td>{t.my_role.map(Role::as_str).unwrap_or("admin")}</td>
                                                </tr>
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            }
                                .into_any(),
                            Err(err) => view! { <ErrorBox err page=true/> }.into_any(),
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}

/// One team: its members, and for leads and admins a form to add members and set roles.
#[component]
pub fn TeamPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let set_member = ServerAction::<SetMember>::new();
    let set_policy = ServerAction::<SetPolicy>::new();
    let team = Resource::new(
        move || (slug(), set_member.version().get(), set_policy.version().get()),
        |(slug, ..)| team_page(slug),
    );
    view! {
        <Title text=format!("Team {}", slug_now(&params))/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match team.await {
                            Ok(team) => {
                                let slug = team.slug.clone();
                                view! {
                                    <h1>{team.name.clone()} " " <span class="muted">"(" {team.slug.clone()} ")"</span></h1>
                                    <p class="actions">
                                        <a href=format!("/teams/{}/changes", team.slug) class="button">"Changes"</a>
                                        <a href=format!("/teams/{}/ci", team.slug) class="button">"Connect your CI"</a>
                                        <a href=format!("/teams/{}/templates", team.slug) class="button">"Failure-mode templates"</a>
                                        {team.can_manage.then(|| view! {
                                            <a href=format!("/teams/{}/webhooks", team.slug) class="button">"Webhooks"</a>
                                        })}
                                    </p>
                                    {(team.webhooks_disabled > 0).then(|| view! {
                                        <p class="error-box" role="alert">
                                            {match team.webhooks_disabled {
                                                1 => "Premortem disabled one of the team's webhooks: ".to_owned(),
                                                n => format!("Premortem disabled {n} of the team's webhooks: "),
                                            }}
                                            <a href=format!("/teams/{}/webhooks", team.slug)>"see why"</a> "."
                                        </p>
                                    })}
                                    <p class="muted">{format!(
                                        "Rules: failure cases due {} after the happy path; evidence fresh for {}; at least {} failure modes per change; High-priority risks {} be accepted.",
                                        team.policy.window_days, team.policy.freshness_days, team.policy.min_failure_modes,
                                        if team.policy.allow_high_acceptance { "may" } else { "may not" },
                                    )}</p>
                                    <TeamWorkView work=team.work.clone() slug=team.slug.clone()/>
                                    <super::ci::Runs runs=team.recent_runs.clone()/>
                                    <MembersTable members=team.members/>
                                    {team.can_manage.then(|| view! {
                                        <MembershipForm action=set_member slug=slug.clone()/>
                                        <PolicyForm action=set_policy slug policy=team.policy public_badges=team.public_badges/>
                                    })}
                                }
                                    .into_any()
                            }
                            Err(err) => view! { <ErrorBox err page=true/> }.into_any(),
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}

/// The team's members and their roles.
#[component]
fn MembersTable(members: Vec<crate::api::teams::MemberItem>) -> impl IntoView {
    view! {
        <h2>"Members"</h2>
        <table>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Username"</th><th scope="col">"Role"</th></tr></thead>
            <tbody>
                {members
                    .into_iter()
                    .map(|m| view! {
                        <tr>
                            <td>{m.display_name}</td>
                            <td>{m.username}</td>
                            <td><span class="chip">{m.role.as_str()}</span></td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Adds a member, changes a role or removes someone (leads and admins).
#[component]
fn MembershipForm(action: ServerAction<SetMember>, slug: String) -> impl IntoView {
    let err = action_error(action);
    view! {
        <section class="card">
            <h2>"Add a member or change a role"</h2>
            <ActionForm action>
                <FormError err/>
                <input type="hidden" name="team" value=slug/>
                <label for="member-username">"Username"</label>
                <input id="member-username" name="username" required aria-describedby="member-username-error"/>
                <FieldError err field="username" id="member-username"/>
                <label for="member-role">"Role"</label>
                <select id="member-role" name="role">
                    <option value="viewer">"Viewer: reads the team's changes"</option>
                    <option value="member" selected>"Member: edits the team's changes"</option>
                    <option value="lead">"Lead: also signs off and manages members"</option>
                    <option value="remove">"Remove from team"</option>
                </select>
                <FieldError err field="role" id="member-role"/>
                <button type="submit">"Save membership"</button>
            </ActionForm>
        </section>
    }
}

/// The team's rules for changes, and whether its badges are public (leads and admins).
#[component]
fn PolicyForm(
    action: ServerAction<SetPolicy>,
    slug: String,
    policy: crate::domain::gate::Policy,
    public_badges: bool,
) -> impl IntoView {
    let err = action_error(action);
    view! {
        <section class="card">
            <h2>"Rules for changes"</h2>
            <ActionForm action>
                <FormError err/>
                <input type="hidden" name="team" value=slug/>
                <label for="policy-window">"Days from happy path to failure cases complete"</label>
                <input id="policy-window" name="window_days" type="number" min="1" max="365" value=policy.window_days.get().to_string() aria-describedby="policy-window-error"/>
                <FieldError err field="window_days" id="policy-window"/>
                <label for="policy-freshness">"Days a passing test result stays fresh"</label>
                <input id="policy-freshness" name="freshness_days" type="number" min="1" max="365" value=policy.freshness_days.get().to_string() aria-describedby="policy-freshness-error"/>
                <FieldError err field="freshness_days" id="policy-freshness"/>
                <label for="policy-min">"Minimum failure modes per change"</label>
                <input id="policy-min" name="min_failure_modes" type="number" min="0" max="100" value=policy.min_failure_modes.to_string() aria-describedby="policy-min-error"/>
                <FieldError err field="min_failure_modes" id="policy-min"/>
                <label for="policy-warning">"Days before the target date that webhooks announce a change as due soon"</label>
                <input id="policy-warning" name="warning_days" type="number" min="0" max="365" value=policy.warning_days.get().to_string() aria-describedby="policy-warning-error"/>
                <FieldError err field="warning_days" id="policy-warning"/>
                <label class="checkbox">
                    <input type="checkbox" name="allow_high_acceptance" value="on" checked=policy.allow_high_acceptance/>
                    " High-priority failure modes may be covered by a risk acceptance"
                </label>
                <label class="checkbox">
                    <input type="checkbox" name="public_badges" value="on" checked=public_badges/>
                    " Serve status badges of this team's changes without a token (for READMEs)"
                </label>
                <button type="submit">"Save rules"</button>
            </ActionForm>
        </section>
    }
}

/// Coming up and needing work: open changes by target date, and failure modes that lack
/// evidence, fail or are stale.
#[component]
fn TeamWorkView(work: TeamWork, slug: String) -> impl IntoView {
    let TeamWork { now, upcoming, gaps } = work;
    let (stale, gaps): (Vec<Gap>, Vec<Gap>) = gaps.into_iter().partition(|g| g.coverage == Coverage::Stale);
    let gap_list = |gaps: Vec<Gap>| {
        view! {
            <ul class="gap-list">
                {gaps.into_iter().map(|g| {
                    let age = g.oldest_at.map(|at| format!(" (oldest result {} days old)", at.days_until(now)));
                    view! {
                        <li>
                            <a href=format!("/changes/{}/fm/{}", g.change, g.number)>{format!("{} {}", g.change, crate::domain::failure_mode::label(g.number))}</a>
                            " " {g.title} " " <CoverageChip coverage=g.coverage/>
                            {(g.coverage == Coverage::Stale).then_some(age).flatten()}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    };
    view! {
        <section aria-labelledby="upcoming">
            <h2 id="upcoming">"Coming up"</h2>
            {if upcoming.is_empty() {
                view! { <p class="muted">"No open change has a target date yet: it is set when the happy path works."</p> }.into_any()
            } else {
                view! {
                    <ul class="gap-list">
                        {upcoming.into_iter().map(|u| {
                            let left = now.days_left_until(u.target_at);
                            let when = if left < 0 { format!("overdue by {} days", -left) } else { format!("due in {left} days") };
                            view! {
                                <li>
                                    <a href=format!("/changes/{}", u.key)>{u.key.clone()}</a>
                                    " " {u.title} " " <StatusChip status=u.status/> " "
                                    {u.target_at.date()} " "
                                    <span class=if left < 0 { "chip overdue" } else { "muted" }>{when}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section aria-labelledby="gaps">
            <h2 id="gaps">"Failure modes without passing evidence"</h2>
            {if gaps.is_empty() {
                view! { <p class="muted">"Every failure mode of the open changes has passing evidence or an accepted risk."</p> }.into_any()
            } else {
                gap_list(gaps).into_any()
            }}
        </section>
        <section aria-labelledby="stale">
            <h2 id="stale">"Stale evidence"</h2>
            {if stale.is_empty() {
                view! { <p class="muted">"No evidence has gone stale."</p> }.into_any()
            } else {
                gap_list(stale).into_any()
            }}
        </section>
        <p><a href=format!("/?team={slug}")>"This team in the portfolio"</a></p>
    }
}
