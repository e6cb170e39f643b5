use crate::api::changes::{
    AddFailureMode, CancelChange, ChangeView, ClaimChange, CreateChange, RecordHappyPath, SignOff,
    UpdateChange, change_detail, list_changes,
};
use crate::api::incidents::{ClassifyIncident, RecordIncident};
use crate::domain::change::{ChangeFields, ChangeStatus, ChangeType, DETAILS, Detail, DetailKind, TITLE_MAX};
use crate::domain::failure_mode::{TextKind, Texts};
use crate::domain::gate::Gate;
use crate::domain::time::Timestamp;
use crate::domain::{AppError, Principal};
use crate::ui::components::{
    CoverageChip, ErrorBox, FieldError, FormError, Loaded, PriorityChip, RequireUser, StatusChip,
    action_error,
};
use crate::ui::pages::incidents::Incidents;
use crate::ui::{server_escaped, slug_now};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A team's changes with filters by status and overdue (a plain GET form: shareable URLs).
#[component]
pub fn ChangesPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let status = move || query.read().get("status");
    let overdue = move || query.read().get("overdue");
    let changes = Resource::new(
        move || (slug(), status(), overdue()),
        |(slug, status, overdue)| list_changes(slug, status, overdue),
    );
    view! {
        <Title text=format!("Changes · {}", slug_now(&params))/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=changes page=move |list| {
                    let selected = status().unwrap_or_default();
                    view! {
                        <div class="page-head">
                            <h1>"Changes · " {list.team_name.clone()}</h1>
                            {list.can_create.then(|| view! {
                                <a href=format!("/teams/{}/changes/new", list.team_slug) class="button">"New change"</a>
                            })}
                        </div>
                        <form method="get" class="filters" aria-label="Filter changes">
                            <label for="status-filter">"Status"</label>
                            <select id="status-filter" name="status">
                                <option value="" selected=selected.is_empty()>"Any"</option>
                                {ChangeStatus::ALL.into_iter().map(|s| view! {
                                    <option value=s.as_str() selected=selected == s.as_str()>{s.label()}</option>
                                }).collect_view()}
                            </select>
                            <label class="checkbox">
                                <input type="checkbox" name="overdue" value="1" checked=overdue().is_some()/>
                                " Overdue only"
                            </label>
                            <button type="submit" class="secondary">"Filter"</button>
                        </form>
                        {if list.changes.is_empty() {
                            view! {
                                <section class="empty-state">
                                    <h2>"No changes here yet"</h2>
                                    <p>"Register a change when work starts. Record when its happy path works; then list how it can break, and prove each case with tests before a lead signs off."</p>
                                </section>
                            }.into_any()
                        } else {
                            view! {
                                <table>
                                    <thead><tr>
                                        <th scope="col">"Key"</th><th scope="col">"Title"</th><th scope="col">"Status"</th>
                                        <th scope="col">"Happy path"</th><th scope="col">"Target"</th><th scope="col">"Failure modes"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.changes.into_iter().map(|c| view! {
                                            <tr>
                                                <td><a href=format!("/changes/{}", c.key)>{c.key.clone()}</a></td>
                                                <td>{c.title}</td>
                                                <td><StatusChip status=c.status/></td>
                                                <td>{c.happy_path_at.map(Timestamp::date).unwrap_or_else(|| "—".into())}</td>
                                                <td>
                                                    {c.target_at.map(Timestamp::date).unwrap_or_else(|| "—".into())}
                                                    {c.overdue.then(|| view! { " " <span class="chip overdue">"Overdue"</span> })}
                                                </td>
                                                <td>{c.failure_modes}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    }
                }/>
            }
        }/>
    }
}

/// Registers a new change, in a team the user belongs to (any other is not found).
#[component]
pub fn NewChangePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let create = ServerAction::<CreateChange>::new();
    let err = action_error(create);
    let teams = Resource::new(|| (), |_| crate::api::teams::my_teams());
    view! {
        <Title text="New change"/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=teams page={move |teams: Vec<crate::api::teams::TeamItem>| {
                    let slug = slug();
                    if !teams.iter().any(|t| t.slug.eq_ignore_ascii_case(slug.trim())) {
                        let err = AppError::NotFound(format!("Team {}", crate::domain::error::bounded(&slug)));
                        return view! { <ErrorBox err page=true/> }.into_any();
                    }
                    view! {
                        <h1>"New change"</h1>
                        <section class="card">
                            <ActionForm action=create>
                                <FormError err/>
                                <input type="hidden" name="team" value=slug/>
                                <ChangeFormFields err fields=ChangeFields::default()/>
                                <button type="submit">"Register change"</button>
                            </ActionForm>
                        </section>
                    }
                        .into_any()
                }}/>
            }
        }/>
    }
}

/// Edits an open change's details: title, summary, types, links and rollback plan.
#[component]
pub fn EditChangePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let update = ServerAction::<UpdateChange>::new();
    let err = action_error(update);
    let change = Resource::new(key, change_detail);
    view! {
        <Title text=format!("Edit {}", params.read_untracked().get("key").unwrap_or_default())/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=change page=move |c: ChangeView| {
                    let back = format!("/changes/{}", c.change.key);
                    let crumb = format!("{} {}", c.change.key, c.change.details.title);
                    let key = c.change.key.to_string();
                    let form = if c.can_edit {
                        view! {
                            <section class="card">
                                <ActionForm action=update>
                                    <FormError err/>
                                    <input type="hidden" name="key" value=c.change.key.to_string()/>
                                    <input type="hidden" name="version" value=c.change.version.to_string()/>
                                    <ChangeFormFields err fields=ChangeFields::from(c.change.details.clone())/>
                                    <button type="submit">"Save changes"</button>
                                </ActionForm>
                            </section>
                        }
                        .into_any()
                    } else if c.change.status.is_open() {
                        view! { <p class="muted">"Only members of the team can edit this change."</p> }.into_any()
                    } else {
                        let status = c.change.status.label().to_lowercase();
                        view! { <p class="muted">{format!("This change is {status}: its details can no longer be edited.")}</p> }
                            .into_any()
                    };
                    view! {
                        <p class="breadcrumb"><a href=back>{crumb}</a></p>
                        <h1>"Edit " <span class="key">{key}</span></h1>
                        {form}
                    }
                }/>
            }
        }/>
    }
}

/// The fields of a change form, shared by "new" and "edit".
#[component]
fn ChangeFormFields(#[prop(into)] err: Signal<Option<AppError>>, mut fields: ChangeFields) -> impl IntoView {
    let title = fields.title.clone();
    let types = fields.types.clone();
    view! {
        <label for="change-title">"Title"</label>
        <input id="change-title" name="title" required maxlength="200" value=title aria-describedby="change-title-error"/>
        <FieldError err field="title" id="change-title"/>
        <fieldset aria-describedby="change-types-error">
            <legend>"Type of change (suggests failure modes to consider)"</legend>
            {ChangeType::ALL.into_iter().map(|t| view! {
                <label class="checkbox">
                    <input type="checkbox" name=format!("type_{}", t.as_str()) value="on" checked=types.contains(&t)/>
                    " " {t.label()}
                </label>
            }).collect_view()}
        </fieldset>
        <FieldError err field="types" id="change-types"/>
        {DETAILS.iter().zip(fields.texts()).map(|(detail, value)| {
            let id = format!("change-{}", detail.name.replace('_', "-"));
            let described = format!("{id}-error");
            let input = match detail.kind {
                DetailKind::Text => view! {
                    <textarea id=id.clone() name=detail.name rows="4" placeholder=detail.hint aria-describedby=described>{server_escaped(value.clone())}</textarea>
                }.into_any(),
                DetailKind::Link => view! {
                    <input id=id.clone() name=detail.name type="url" placeholder=detail.hint value=value.clone() aria-describedby=described/>
                }.into_any(),
            };
            view! {
                <label for=id.clone()>{detail.label}</label>
                {input}
                <FieldError err field=detail.name id=id/>
            }
        }).collect_view()}
    }
}

/// A change: milestones, the gate checklist, failure modes, sign-off and history.
#[component]
pub fn ChangePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let happy = ServerAction::<RecordHappyPath>::new();
    let add = ServerAction::<AddFailureMode>::new();
    let sign = ServerAction::<SignOff>::new();
    let cancel = ServerAction::<CancelChange>::new();
    let claim = ServerAction::<ClaimChange>::new();
    let record = ServerAction::<RecordIncident>::new();
    let classify = ServerAction::<ClassifyIncident>::new();
    let change = Resource::new(
        move || {
            let versions = [
                happy.version(),
                add.version(),
                sign.version(),
                cancel.version(),
                claim.version(),
                record.version(),
                classify.version(),
            ];
            (key(), versions.map(|v| v.get()))
        },
        |(key, ..)| change_detail(key),
    );
    view! {
        <Title text=params.read_untracked().get("key").unwrap_or_default()/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=change page=move |c: ChangeView| view! {
                    {view! { <ChangeHeader c=c.clone() claim/> }.into_any()}
                    {view! { <Milestones c=c.clone() happy/> }.into_any()}
                    {view! { <GateChecklist gate=c.change.gate.clone()/> }.into_any()}
                    {view! { <FailureModes c=c.clone() add/> }.into_any()}
                    {view! { <SignOffPanel c=c.clone() sign/> }.into_any()}
                    {view! { <Incidents c=c.clone() record classify/> }.into_any()}
                    {view! { <History c=c.clone() cancel/> }.into_any()}
                }/>
            }
        }/>
    }
}

#[component]
fn ChangeHeader(c: ChangeView, claim: ServerAction<ClaimChange>) -> impl IntoView {
    let claim_error = action_error(claim);
    let d = c.change.details.clone();
    let links: Vec<(Detail, Option<String>)> =
        d.links().map(|(detail, url)| (*detail, url.map(str::to_owned))).collect();
    let sections: Vec<(Detail, String)> =
        d.sections().map(|(detail, text)| (*detail, text.to_owned())).collect();
    view! {
        <p class="breadcrumb"><a href=format!("/teams/{}/changes", c.change.key.team())>{c.change.team_name.clone()} " changes"</a></p>
        <h1><span class="key">{c.change.key.to_string()}</span> " " {d.title}</h1>
        // rel="external": server routes, not pages of the router.
        <p class="report-links">
            <a href=format!("/changes/{}/report", c.change.key) rel="external" target="_blank">"Printable report"</a>
            " · "
            <a href=format!("/changes/{}/report.md", c.change.key) rel="external" target="_blank">"Markdown"</a>
            {c.can_edit.then(|| view! { " · " <a href=format!("/changes/{}/edit", c.change.key)>"Edit details"</a> })}
        </p>
        <p class="meta">
            <StatusChip status=c.change.status/>
            {c.change.overdue.then(|| view! { " " <span class="chip overdue">"Overdue"</span> })}
            " · by " {c.change.author.clone()}
            " · " {d.types.iter().map(|t| t.label()).collect::<Vec<_>>().join(", ")}
            {links.into_iter().filter_map(|(detail, url)| url.map(|url| view! { " · " <a href=url rel="noopener">{detail.link_name()}</a> })).collect_view()}
        </p>
        {c.can_claim.then(|| view! {
            <ActionForm action=claim attr:class="inline claim">
                <FormError err=claim_error/>
                <input type="hidden" name="key" value=c.change.key.to_string()/>
                <p>"An API token registered this change. Four eyes need a person who answers for it: "
                   <button type="submit">"Claim authorship"</button></p>
            </ActionForm>
        })}
        {(!d.summary.is_empty()).then(|| view! { <p class="summary">{d.summary}</p> })}
        {sections.into_iter().map(|(detail, text)| view! {
            <section aria-labelledby=detail.name class=detail.name.replace('_', "-")>
                <h2 id=detail.name>{detail.label}</h2>
                {match Some(text).filter(|t| !t.is_empty()) {
                    Some(text) => view! { <p class="summary">{text}</p> }.into_any(),
                    None => view! { <p class="muted">"None written yet. " {detail.hint}</p> }.into_any(),
                }}
            </section>
        }).collect_view()}
    }
}

#[component]
fn Milestones(c: ChangeView, happy: ServerAction<RecordHappyPath>) -> impl IntoView {
    let err = action_error(happy);
    let target = c.change.target_at.map(|t| {
        let left = c.change.now.days_left_until(t);
        let when = if c.change.signed_off_at.is_some() {
            String::new()
        } else if left >= 0 {
            format!(" ({left} days left)")
        } else {
            format!(" ({} days overdue)", -left)
        };
        format!("target {}{when}", t.date())
    });
    view! {
        <section aria-labelledby="milestones">
            <h2 id="milestones">"Milestones"</h2>
            <ol class="timeline">
                <li class="done">"Registered " {c.change.created_at.date()}</li>
                <li class=if c.change.happy_path_at.is_some() { "done" } else { "todo" }>
                    <strong>"Happy path working"</strong>
                    {match c.change.happy_path_at {
                        Some(at) => view! {
                            " " {at.date()} " by " {c.change.happy_path_by.clone().unwrap_or_default()}
                            {c.change.happy_path_note.clone().map(|n| view! { <span class="muted">" — " {n}</span> })}
                        }.into_any(),
                        None => view! {
                            <p class="muted">
                                "Not yet. Record it when the change does what it should while nothing goes wrong. "
                                "That is not done: it starts the clock on listing how the change can break ("
                                {c.change.policy.window_days.to_string()} " for this team)."
                            </p>
                            {(c.can_edit && c.change.status == ChangeStatus::Draft).then(|| view! {
                                <ActionForm action=happy attr:class="inline">
                                    <FormError err/>
                                    <input type="hidden" name="key" value=c.change.key.to_string()/>
                                    <label for="happy-note">"Note or link"</label>
                                    <input id="happy-note" name="note" placeholder="e.g. demo recording, PR merged"/>
                                    <label for="happy-on">"Working since (optional)"</label>
                                    <input id="happy-on" name="on" type="date" aria-describedby="happy-on-error"/>
                                    <FieldError err field="on" id="happy-on"/>
                                    <button type="submit">"Record happy path working"</button>
                                </ActionForm>
                            })}
                        }.into_any(),
                    }}
                </li>
                <li class=if c.change.signed_off_at.is_some() { "done" } else { "todo" }>
                    <strong>"Failure cases complete"</strong>
                    " "
                    {c.change.signed_off_at.map(|at| format!("signed off {}", at.date()))}
                    {c.change.signed_off_at.is_none().then(|| target.clone().unwrap_or_else(|| "target set when the happy path works".to_owned()))}
                    {c.change.overdue.then(|| view! { " " <span class="chip overdue">"Overdue"</span> })}
                </li>
            </ol>
        </section>
    }
}

#[component]
fn GateChecklist(gate: Gate) -> impl IntoView {
    let class = if gate.is_open() { "gate open" } else { "gate closed" };
    view! {
        <section aria-labelledby="gate" class=class>
            <h2 id="gate">"Gate: can failure cases complete be signed off?"</h2>
            {match gate {
                Gate::Open => view! {
                    <p class="gate-verdict">"Open. Every failure mode is covered by passing, fresh evidence or an accepted risk."</p>
                }.into_any(),
                Gate::Closed(blockers) => view! {
                    <p class="gate-verdict">{format!("Closed. {} thing{} still missing:", blockers.len(), if blockers.len() == 1 { " is" } else { "s are" })}</p>
                    <ul class="blockers">
                        {blockers.into_iter().map(|b| view! { <li>{b.reason}</li> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn FailureModes(c: ChangeView, add: ServerAction<AddFailureMode>) -> impl IntoView {
    let err = action_error(add);
    view! {
        <section aria-labelledby="failure-modes">
            <h2 id="failure-modes">"Failure modes"</h2>
            {if c.change.failure_modes.is_empty() {
                view! {
                    <div class="empty-state">
                        <p>
                            "How will this change break? Think of what happens under load, when a dependency is slow or down, "
                            "when a step cannot be rolled back, when a message arrives twice, when someone needs one item urgently. "
                            "Give each a scenario with its magnitude (\"10,000 exams queued after a 2-hour outage\"), "
                            "a design for handling it, and the tests that prove the design."
                        </p>
                        <p>{format!("This team expects at least {} failure modes per change.", c.change.policy.min_failure_modes)}</p>
                    </div>
                }.into_any()
            } else {
                view! {
                    <table class="failure-modes">
                        <thead><tr><th scope="col">"#"</th><th scope="col">"Failure mode"</th><th scope="col">"Priority"</th><th scope="col">"Coverage"</th></tr></thead>
                        <tbody>
                            {c.change.failure_modes.iter().map(|fm| view! {
                                <tr>
                                    <td><a href=format!("/changes/{}/fm/{}", c.change.key, fm.number)>{fm.label()}</a></td>
                                    <td>{fm.title.clone()}</td>
                                    <td><PriorityChip priority=fm.priority rpn=fm.ratings.rpn()/></td>
                                    <td><CoverageChip coverage=fm.coverage/></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {c.can_edit.then(|| view! { <Suggestions c=c.clone()/> }.into_any())}
            {c.can_edit.then(|| view! {
                <details class="card" open=c.change.failure_modes.is_empty()>
                    <summary>"Add a failure mode"</summary>
                    <ActionForm action=add>
                        <FormError err/>
                        <input type="hidden" name="key" value=c.change.key.to_string()/>
                        <FailureModeFields err title="" texts=Texts::default() ratings=(3, 3, 3) designs="" selectors=""/>
                        <button type="submit">"Add failure mode"</button>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}

/// The fields of a failure mode form, shared by "add" and "edit".
#[component]
pub fn FailureModeFields(
    #[prop(into)] err: Signal<Option<crate::domain::AppError>>,
    #[prop(into)] title: String,
    texts: Texts,
    ratings: (u8, u8, u8),
    #[prop(into)] designs: String,
    #[prop(into)] selectors: String,
) -> impl IntoView {
    let rating = move |name: &'static str, label: &'static str, hint: &'static str, value: u8| {
        view! {
            <div class="rating">
                <label for=format!("fm-{name}")>{label}</label>
                <input id=format!("fm-{name}") name=name type="number" min="1" max="5" step="1" value=value.to_string()
                    required aria-describedby=format!("fm-{name}-hint fm-{name}-error")/>
                <span class="hint" id=format!("fm-{name}-hint")>{hint}</span>
                <FieldError err field=name id=match name { "severity" => "fm-severity", "likelihood" => "fm-likelihood", _ => "fm-detectability" }/>
            </div>
        }
    };
    view! {
        <label for="fm-title">"Title"</label>
        <input id="fm-title" name="title" required maxlength="200" value=title aria-describedby="fm-title-error"/>
        <FieldError err field="title" id="fm-title"/>
        {texts.iter().map(|(text, value)| {
            let id = format!("fm-{}", text.name);
            let (label_id, error_id) = (id.clone(), format!("{id}-error"));
            let input = match text.kind {
                TextKind::Line => view! {
                    <input id=id.clone() name=text.name maxlength=TITLE_MAX.to_string() value=value.to_owned()
                        aria-describedby=error_id.clone() placeholder=(!text.hint.is_empty()).then_some(text.hint)/>
                }.into_any(),
                TextKind::Lines { rows } => view! {
                    <textarea id=id.clone() name=text.name rows=rows.to_string() aria-describedby=error_id.clone()
                        placeholder=(!text.hint.is_empty()).then_some(text.hint)>{server_escaped(value.to_owned())}</textarea>
                }.into_any(),
            };
            view! {
                <label for=label_id>{text.question}</label>
                {input}
                <FieldError err field=text.name id=id/>
            }
        }).collect_view()}
        <div class="ratings">
            {rating("severity", "Severity", "1 = cosmetic, 5 = catastrophic", ratings.0)}
            {rating("likelihood", "Likelihood", "1 = rare, 5 = expected", ratings.1)}
            {rating("detectability", "Detectability", "1 = noticed at once, 5 = goes unnoticed", ratings.2)}
        </div>
        <label for="fm-designs">"Designs: one per line, a title and link or a short note"</label>
        <textarea id="fm-designs" name="designs" rows="3" aria-describedby="fm-designs-error"
            placeholder="Backpressure ADR https://wiki.example.com/adr-7">{server_escaped(designs)}</textarea>
        <FieldError err field="designs" id="fm-designs"/>
        <label for="fm-selectors">"Test selectors: one per line, exact test ids or globs with * and ?"</label>
        <textarea id="fm-selectors" name="selectors" rows="3" aria-describedby="fm-selectors-error"
            placeholder="queue::backlog_*">{server_escaped(selectors)}</textarea>
        <FieldError err field="selectors" id="fm-selectors"/>
    }
}

#[component]
fn SignOffPanel(c: ChangeView, sign: ServerAction<SignOff>) -> impl IntoView {
    let err = action_error(sign);
    view! {
        <section aria-labelledby="sign-off" class="card">
            <h2 id="sign-off">"Sign-off"</h2>
            {match c.sign_off_refusal.clone() {
                None => view! {
                    <p>"The gate is open. Signing off records a snapshot of every failure mode and its evidence."</p>
                    <ActionForm action=sign>
                        <FormError err/>
                        <input type="hidden" name="key" value=c.change.key.to_string()/>
                        <label for="sign-password">"Re-enter your password to sign off"</label>
                        <input id="sign-password" name="password" type="password" autocomplete="current-password" required aria-describedby="sign-password-error"/>
                        <FieldError err field="password" id="sign-password"/>
                        <button type="submit">"Sign off failure cases complete"</button>
                    </ActionForm>
                }.into_any(),
                Some(reason) => view! { <p class="muted sign-off-refusal">{reason}</p> }.into_any(),
            }}
            {(!c.sign_offs.is_empty()).then(|| view! {
                <h3>"Sign-offs"</h3>
                <ul class="sign-offs">
                    {c.sign_offs.iter().map(|s| view! {
                        <li>{s.signed_at.date_time()} " by " {s.signed_by.clone()} " · snapshot " <code>{s.content_hash.clone()}</code></li>
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

#[component]
fn History(c: ChangeView, cancel: ServerAction<CancelChange>) -> impl IntoView {
    let err = action_error(cancel);
    view! {
        <details class="history">
            <summary><h2 id="history">"History"</h2></summary>
            <table>
                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"Details"</th></tr></thead>
                <tbody>
                    {c.history.iter().map(|h| view! {
                        <tr>
                            <td>{h.at.date_time()}</td>
                            <td>{h.actor.clone()}</td>
                            <td>{h.action.clone()} " " <span class="muted">{h.object.clone()}</span></td>
                            <td><code class="detail">{h.detail.clone()}</code></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
        {(c.can_edit && c.change.status.is_open()).then(|| view! {
            <details class="danger-zone">
                <summary>"Cancel this change"</summary>
                <ActionForm action=cancel attr:class="inline">
                    <FormError err/>
                    <input type="hidden" name="key" value=c.change.key.to_string()/>
                    <label for="cancel-reason">"Reason"</label>
                    <input id="cancel-reason" name="reason"/>
                    <button type="submit" class="danger">"Cancel change"</button>
                </ActionForm>
            </details>
        })}
    }
}

/// Catalogue templates for the change's types, as checkboxes: a plain form, so it works
/// without JavaScript. Also the way to import a list from CSV or Markdown.
#[component]
fn Suggestions(c: ChangeView) -> impl IntoView {
    let count = c.suggestions.len();
    view! {
        {(count > 0).then(|| view! {
            <details class="card suggestions" open=c.change.failure_modes.is_empty()>
                <summary>{format!("How changes like this usually break ({count} suggestions)")}</summary>
                <form method="post" action=format!("/changes/{}/suggestions", c.change.key)>
                    <p class="hint">
                        "Tick the ones that apply. Each becomes a failure mode with the template's scenario and ratings: "
                        "fill in the magnitude in [brackets], then add your designs and tests."
                    </p>
                    <ul class="suggestion-list">
                        {c.suggestions.iter().map(|s| {
                            let id = format!("suggest-{}", s.key.to_string().replace(':', "-"));
                            view! {
                                <li>
                                    <input type="checkbox" id=id.clone() name="template" value=s.key.to_string()/>
                                    " "
                                    <label for=id>
                                        <strong>{s.title.clone()}</strong>
                                        " " <span class="chip">{s.change_type.label()}</span>
                                        {s.team_owned.then(|| view! { " " <span class="chip">"team template"</span> })}
                                    </label>
                                    <p class="muted">{s.scenario.clone()}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <button type="submit">"Add selected failure modes"</button>
                </form>
            </details>
        }.into_any())}
        <p><a href=format!("/changes/{}/import", c.change.key)>"Import failure modes from CSV or a Markdown table"</a></p>
    }
    .into_any()
}
