//! A change's incidents, on its page: each with the change's verdict on it, a form to
//! classify it, and one to record a new one. Members and leads; viewers only read.

use crate::api::changes::ChangeView;
use crate::api::incidents::{ClassifyIncident, RecordIncident};
use crate::domain::AppError;
use crate::domain::change::{ChangeStatus, TITLE_MAX};
use crate::domain::incident::{ChangeIncident, EXTERNAL_ID_MAX, Severity, Verdict};
use crate::ui::components::{FieldError, FormError, action_error};
use crate::ui::server_escaped;
use leptos::prelude::*;

/// The incidents section of a change's page.
#[component]
pub fn Incidents(
    c: ChangeView,
    record: ServerAction<RecordIncident>,
    classify: ServerAction<ClassifyIncident>,
) -> impl IntoView {
    let classify_err = action_error(classify);
    // A classification's refusal of a field shows above the list: the forms share one action.
    let classify_invalid = move || {
        classify_err.get().and_then(|e| match e {
            AppError::Invalid { message, .. } => {
                Some(view! { <p class="field-error" role="alert">{message}</p> })
            }
            _ => None,
        })
    };
    let key = StoredValue::new(c.change.key.to_string());
    let form = StoredValue::new(ClassifyForm::of(&c));
    let incidents = c.incidents.clone();
    view! {
        <section aria-labelledby="incidents" class="incidents">
            <h2 id="incidents">"Incidents after this change"</h2>
            <p class="muted">
                "Did the premortem predict what broke? Each incident after the change is classified: predicted by a failure mode "
                "(its design held, or failed), or missed. A miss, or a design that failed, reopens a signed-off change."
            </p>
            <FormError err=classify_err/>
            {classify_invalid}
            {if incidents.is_empty() {
                view! { <p class="muted">"No incidents recorded after this change."</p> }.into_any()
            } else {
                view! {
                    <ul class="incident-list">
                        {incidents.into_iter().map(|incident| view! { <IncidentItem incident key form classify/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {c.can_record_incidents.then(|| view! { <RecordForm key record form_key=c.form_key.clone()/> })}
        </section>
    }
}

/// What each classification form offers: the change's failure modes and types, and
/// whether the user may classify (and add a failure mode: not to a cancelled change).
#[derive(Clone)]
struct ClassifyForm {
    allowed: bool,
    can_add: bool,
    failure_modes: Vec<(i64, String)>,
    types: Vec<(&'static str, &'static str)>,
}

impl ClassifyForm {
    fn of(c: &ChangeView) -> Self {
        Self {
            allowed: c.can_record_incidents,
            can_add: c.change.status != ChangeStatus::Cancelled,
            failure_modes: c
                .change
                .failure_modes
                .iter()
                .map(|fm| (fm.number, format!("{} {}", fm.label(), fm.title)))
                .collect(),
            types: c.change.details.types.iter().map(|t| (t.as_str(), t.label())).collect(),
        }
    }
}

#[component]
fn IncidentItem(
    incident: ChangeIncident,
    key: StoredValue<String>,
    form: StoredValue<ClassifyForm>,
    classify: ServerAction<ClassifyIncident>,
) -> impl IntoView {
    let id = incident.id.0;
    let verdict = match incident.verdict {
        Some(v) => view! { <span class=format!("chip verdict-{}", v.as_str())>{v.label()}</span> }.into_any(),
        None => view! { <span class="chip verdict-none">"Not classified yet"</span> }.into_any(),
    };
    let fm = incident.failure_mode.map(|n| {
        let href = format!("/changes/{}/fm/{n}", key.get_value());
        view! { " · " <a href=href>{crate::domain::failure_mode::label(n)}</a> }
    });
    let others: Vec<String> = incident.changes.iter().filter(|k| **k != key.get_value()).cloned().collect();
    let when = match incident.resolved_at {
        Some(resolved) => format!("{} to {}", incident.started_at.date_time(), resolved.date_time()),
        None => format!("since {} (not resolved)", incident.started_at.date_time()),
    };
    let allowed = form.with_value(|f| f.allowed);
    let incident = StoredValue::new(incident);
    view! {
        <li class="incident card" id=format!("incident-{id}")>
            <h3>
                <span class=format!("chip severity-{}", incident.with_value(|i| i.severity.as_str().to_lowercase()))>
                    {incident.with_value(|i| i.severity.as_str())}
                </span>
                " "
                {incident.with_value(|i| match i.url.clone() {
                    Some(url) => view! { <a href=url rel="noopener">{i.title.clone()}</a> }.into_any(),
                    None => view! { <span>{i.title.clone()}</span> }.into_any(),
                })}
            </h3>
            <p class="meta">
                {verdict} {fm} " · " {when}
                {incident.with_value(|i| i.external_id.clone()).map(|e| view! { " · " <code>{e}</code> })}
                {(!others.is_empty()).then(|| view! { " · also after " {others.join(", ")} })}
            </p>
            {allowed.then(|| view! { <ClassifyIncidentForm incident key form classify/> })}
        </li>
    }
}

#[component]
fn ClassifyIncidentForm(
    incident: StoredValue<ChangeIncident>,
    key: StoredValue<String>,
    form: StoredValue<ClassifyForm>,
    classify: ServerAction<ClassifyIncident>,
) -> impl IntoView {
    let (id, title, severity, started, classified) = incident
        .with_value(|i| (i.id.0, i.title.clone(), i.severity, i.started_at.date(), i.verdict.is_some()));
    let f = form.get_value();
    let field = move |name: &str| format!("incident-{id}-{name}");
    let scenario = format!("{title} (a {} incident, started {started}).", severity.as_str());
    view! {
        <details open=!classified>
            <summary>{if classified { "Classify again" } else { "Classify" }}</summary>
            <ActionForm action=classify attr:class="classify">
                <input type="hidden" name="key" value=key.get_value()/>
                <input type="hidden" name="incident" value=id.to_string()/>
                <fieldset>
                    <legend>"Did a failure mode of this change describe it?"</legend>
                    {Verdict::ALL.into_iter().map(|v| view! {
                        <label class="checkbox">
                            <input type="radio" name="verdict" value=v.as_str() required/>
                            " " {v.label()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <label for=field("fm")>"The failure mode that predicted it (held or failed)"</label>
                <select id=field("fm") name="failure_mode">
                    <option value="">"—"</option>
                    {f.failure_modes.iter().map(|(n, label)| view! { <option value=n.to_string()>{label.clone()}</option> }).collect_view()}
                </select>
                {f.can_add.then(|| view! {
                    <fieldset class="lesson">
                        <legend>"If it was missed: the failure mode it becomes"</legend>
                        <label class="checkbox">
                            <input type="checkbox" name="lesson" value="on" checked/>
                            " Add it to this change as a new failure mode"
                        </label>
                        <label for=field("title")>"Title"</label>
                        <input id=field("title") name="title" maxlength=TITLE_MAX.to_string() value=title.clone()/>
                        <label for=field("scenario")>"Scenario: what happened, and how big"</label>
                        <textarea id=field("scenario") name="scenario" rows="2">{server_escaped(scenario)}</textarea>
                        <label for=field("effect")>"Effect: what users and the business saw"</label>
                        <textarea id=field("effect") name="effect" rows="2"></textarea>
                        <input type="hidden" name="severity" value=severity.rating().to_string()/>
                        <input type="hidden" name="likelihood" value="3"/>
                        <input type="hidden" name="detectability" value="3"/>
                        <label class="checkbox">
                            <input type="checkbox" name="template" value="on"/>
                            " Also add it to the team's templates, so the next change of this type is asked about it"
                        </label>
                        <label for=field("type")>"Type of change the template is for"</label>
                        <select id=field("type") name="template_type">
                            {f.types.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                        </select>
                    </fieldset>
                })}
                <button type="submit">"Save classification"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn RecordForm(
    key: StoredValue<String>,
    record: ServerAction<RecordIncident>,
    form_key: String,
) -> impl IntoView {
    let err = action_error(record);
    view! {
        <details class="card">
            <summary>"Record an incident after this change"</summary>
            <ActionForm action=record>
                <FormError err/>
                <input type="hidden" name="key" value=key.get_value()/>
                <input type="hidden" name="idempotency_key" value=form_key/>
                <label for="incident-title">"Title"</label>
                <input id="incident-title" name="title" required maxlength=TITLE_MAX.to_string() aria-describedby="incident-title-error"/>
                <FieldError err field="title" id="incident-title"/>
                <label for="incident-severity">"Severity"</label>
                <select id="incident-severity" name="severity" aria-describedby="incident-severity-error">
                    {Severity::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=s == Severity::Sev3>{format!("{} — {}", s.as_str(), s.meaning())}</option>
                    }).collect_view()}
                </select>
                <FieldError err field="severity" id="incident-severity"/>
                <label for="incident-started">"Started (UTC)"</label>
                <input id="incident-started" name="started_at" type="datetime-local" required aria-describedby="incident-started-error"/>
                <FieldError err field="started_at" id="incident-started"/>
                <label for="incident-resolved">"Resolved (UTC; empty if not yet)"</label>
                <input id="incident-resolved" name="resolved_at" type="datetime-local" aria-describedby="incident-resolved-error"/>
                <FieldError err field="resolved_at" id="incident-resolved"/>
                <label for="incident-url">"Link to the incident"</label>
                <input id="incident-url" name="url" type="url" placeholder="https://incidents.example.com/123" aria-describedby="incident-url-error"/>
                <FieldError err field="url" id="incident-url"/>
                <label for="incident-external">"Its id in the incident tool (a later post with it updates this incident)"</label>
                <input id="incident-external" name="external_id" maxlength=EXTERNAL_ID_MAX.to_string() aria-describedby="incident-external-error"/>
                <FieldError err field="external_id" id="incident-external"/>
                <label for="incident-also">"Other changes it followed (keys, e.g. PAY-12 PAY-14)"</label>
                <input id="incident-also" name="also" aria-describedby="incident-also-error"/>
                <FieldError err field="also" id="incident-also"/>
                <FieldError err field="changes" id="incident-changes"/>
                <button type="submit">"Record incident"</button>
            </ActionForm>
        </details>
    }
}
