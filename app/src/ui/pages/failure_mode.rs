use super::changes::FailureModeFields;
use crate::api::changes::{
    AcceptRisk, DeleteFailureMode, FailureModeView, UpdateFailureMode, failure_mode_detail,
};
use crate::domain::Principal;
use crate::ui::components::{
    CoverageChip, FieldError, FormError, Loaded, PriorityChip, RequireUser, action_error,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// One failure mode: its scenario, ratings, designs, selectors, evidence and acceptance.
#[component]
pub fn FailureModePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let number = move || params.read().get("number").and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
    let update = ServerAction::<UpdateFailureMode>::new();
    let accept = ServerAction::<AcceptRisk>::new();
    let delete = ServerAction::<DeleteFailureMode>::new();
    let fm = Resource::new(
        move || (key(), number(), update.version().get(), accept.version().get()),
        |(key, number, ..)| failure_mode_detail(key, number),
    );
    view! {
        <Title text=format!("{}/{}", key(), crate::domain::failure_mode::label(number()))/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=fm page=move |fm: FailureModeView| {
                    let back = format!("/changes/{}", fm.key);
                    let crumb = format!("{} {}", fm.key, fm.change_title);
                    let heading = crate::domain::failure_mode::label(fm.fm.number);
                    let ratings = format!(
                        " · severity {}, likelihood {}, detectability {} · ",
                        fm.fm.ratings.severity.get(), fm.fm.ratings.likelihood.get(), fm.fm.ratings.detectability.get()
                    );
                    let reason = fm.fm.reason.clone().map(|r| format!("Not covered yet: this failure mode {r}."));
                    let editor = fm.can_edit.then(|| fm.clone());
                    view! {
                        <p class="breadcrumb"><a href=back>{crumb}</a></p>
                        <h1><span class="key">{heading}</span> " " {fm.fm.title.clone()}</h1>
                        <p class="meta">
                            <PriorityChip priority=fm.fm.priority rpn=fm.fm.ratings.rpn()/>
                            {ratings}
                            <CoverageChip coverage=fm.fm.coverage/>
                        </p>
                        {reason.map(|r| view! { <p class="coverage-reason">{r}</p> })}
                        <Description fm=fm.clone()/>
                        {fm.template.clone().map(|t| view! {
                            <aside class="card template-hints" aria-labelledby="template-hints">
                                <h2 id="template-hints">{format!("From the catalogue: {}", t.title)}</h2>
                                <p class="hint">"How teams usually handle it, and how they prove it:"</p>
                                <h3>"Suggested designs"</h3>
                                <ul>{t.designs.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
                                <h3>"Suggested tests"</h3>
                                <ul>{t.tests.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
                            </aside>
                        })}
                        <Evidence fm=fm.clone()/>
                        <AcceptancePanel fm=fm.clone() accept/>
                        {editor.map(|fm| view! { <EditForm fm update delete/> })}
                    }
                }/>
            }
        }/>
    }
}

#[component]
fn Description(fm: FailureModeView) -> impl IntoView {
    let text = |label: &'static str, value: String| {
        view! {
            <dt>{label}</dt>
            <dd>{if value.is_empty() { "—".to_owned() } else { value }}</dd>
        }
    };
    view! {
        <dl class="facts">
            {fm.fm.texts.iter().map(|(t, value)| text(t.label, value.to_owned())).collect_view()}
            <dt>"Designs"</dt>
            <dd>
                {if fm.fm.designs.is_empty() {
                    view! { "None yet: how does the system handle this?" }.into_any()
                } else {
                    view! {
                        <ul>
                            {fm.fm.designs.iter().map(|d| match &d.url {
                                Some(url) => view! { <li><a href=url.clone() rel="noopener">{d.title.clone()}</a></li> }.into_any(),
                                None => view! { <li>{d.title.clone()}</li> }.into_any(),
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </dd>
            <dt>"Test selectors"</dt>
            <dd>
                {if fm.selectors_text.is_empty() {
                    view! { "None yet: which tests prove the design?" }.into_any()
                } else {
                    view! { <ul>{fm.selectors_text.lines().map(|s| view! { <li><code>{s.to_owned()}</code></li> }).collect_view()}</ul> }.into_any()
                }}
            </dd>
        </dl>
    }
}

#[component]
fn Evidence(fm: FailureModeView) -> impl IntoView {
    view! {
        <section aria-labelledby="evidence">
            <h2 id="evidence">"Evidence"</h2>
            {if fm.evidence.is_empty() {
                view! { <p class="muted">"No test results match yet. CI uploads them; matching tests appear here."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <thead><tr><th scope="col">"Test"</th><th scope="col">"Result"</th><th scope="col">"Commit"</th><th scope="col">"Age"</th></tr></thead>
                        <tbody>
                            {fm.evidence.iter().map(|r| view! {
                                <tr>
                                    <td><code>{r.test_id.clone()}</code></td>
                                    <td><span class=format!("chip outcome-{}", r.outcome.as_str())>{r.outcome.as_str()}</span></td>
                                    <td>
                                        {r.commit.clone().map(|c| c.chars().take(10).collect::<String>()).unwrap_or_else(|| "—".into())}
                                        {r.pipeline_url.clone().map(|url| view! { " " <a href=url rel="noopener">"pipeline"</a> })}
                                    </td>
                                    <td>{format!("{} days", r.at.days_until(fm.now))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn AcceptancePanel(fm: FailureModeView, accept: ServerAction<AcceptRisk>) -> impl IntoView {
    let err = action_error(accept);
    view! {
        <section aria-labelledby="acceptance" class="card">
            <h2 id="acceptance">"Risk acceptance"</h2>
            {match &fm.fm.acceptance {
                Some(a) if a.expires_at > fm.now => view! {
                    <p>{format!("Accepted by {} until {}: ", a.accepted_by, a.expires_at.date())} <q>{a.justification.clone()}</q></p>
                }.into_any(),
                Some(a) => view! { <p class="muted">{format!("An acceptance by {} expired on {}.", a.accepted_by, a.expires_at.date())}</p> }.into_any(),
                None => view! { <p class="muted">"None. A lead who is not the change's author can accept a risk the team knowingly leaves uncovered, with a justification and an expiry date."</p> }.into_any(),
            }}
            {match fm.accept_refusal.clone() {
                None => view! {
                    <ActionForm action=accept>
                        <FormError err/>
                        <input type="hidden" name="key" value=fm.key.clone()/>
                        <input type="hidden" name="number" value=fm.fm.number.to_string()/>
                        <label for="accept-justification">"Justification"</label>
                        <input id="accept-justification" name="justification" required aria-describedby="accept-justification-error"/>
                        <FieldError err field="justification" id="accept-justification"/>
                        <label for="accept-expires">"Expires on"</label>
                        <input id="accept-expires" name="expires_on" type="date" required aria-describedby="accept-expires-error"/>
                        <FieldError err field="expires_on" id="accept-expires"/>
                        <button type="submit" class="secondary">"Accept risk"</button>
                    </ActionForm>
                }.into_any(),
                Some(_) => ().into_any(),
            }}
        </section>
    }
}

#[component]
fn EditForm(
    fm: FailureModeView,
    update: ServerAction<UpdateFailureMode>,
    delete: ServerAction<DeleteFailureMode>,
) -> impl IntoView {
    let err = action_error(update);
    let delete_err = action_error(delete);
    let saved = move || update.value().with(|v| matches!(v, Some(Ok(()))));
    let (key, delete_key) = (fm.key.clone(), fm.key.clone());
    let (number, delete_number) = (fm.fm.number.to_string(), fm.fm.number.to_string());
    view! {
        <section aria-labelledby="edit" class="card">
            <h2 id="edit">"Edit"</h2>
            {move || saved().then(|| view! { <p class="notice" role="status">"Saved."</p> })}
            <ActionForm action=update>
                <FormError err/>
                <input type="hidden" name="key" value=key/>
                <input type="hidden" name="number" value=number/>
                <input type="hidden" name="version" value=fm.version.to_string()/>
                <FailureModeFields
                    err
                    title=fm.fm.title.clone()
                    texts=fm.fm.texts.clone()
                    ratings=(fm.fm.ratings.severity.get(), fm.fm.ratings.likelihood.get(), fm.fm.ratings.detectability.get())
                    designs=fm.designs_text.clone()
                    selectors=fm.selectors_text.clone()
                />
                <button type="submit">"Save failure mode"</button>
            </ActionForm>
            <ActionForm action=delete attr:class="inline">
                <FormError err=delete_err/>
                <input type="hidden" name="key" value=delete_key/>
                <input type="hidden" name="number" value=delete_number/>
                <button type="submit" class="danger">"Delete failure mode"</button>
            </ActionForm>
        </section>
    }
}
