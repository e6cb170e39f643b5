use crate::api::webhooks::{
    CreateWebhook, DeleteWebhook, RedeliverWebhook, RotateWebhookSecret, SetWebhookState, TestWebhook,
    WebhooksView, webhooks_page,
};
use crate::domain::Principal;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{
    Delivery, DeliveryState, EventType, Format, OVERLAP_DEFAULT_HOURS, OVERLAP_MAX_HOURS, Webhook,
    WebhookState, origin,
};
use crate::ui::components::{FieldError, FormError, Loaded, RequireUser, ShownOnce, action_error};
use crate::ui::slug_now;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// What a webhook's forms post to: one action of each kind for the whole page.
#[derive(Clone, Copy)]
struct Actions {
    set_state: ServerAction<SetWebhookState>,
    rotate: ServerAction<RotateWebhookSecret>,
    delete: ServerAction<DeleteWebhook>,
    test: ServerAction<TestWebhook>,
    redeliver: ServerAction<RedeliverWebhook>,
}

/// A team's webhooks, for its leads: add one, and for each its state, its recent deliveries
/// and what a lead may do with it.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let create = ServerAction::<CreateWebhook>::new();
    let actions = Actions {
        set_state: ServerAction::new(),
        rotate: ServerAction::new(),
        delete: ServerAction::new(),
        test: ServerAction::new(),
        redeliver: ServerAction::new(),
    };
    let page = Resource::new(
        move || {
            (
                slug(),
                create.version().get(),
                actions.set_state.version().get(),
                actions.rotate.version().get(),
                actions.delete.version().get(),
                actions.test.version().get(),
                actions.redeliver.version().get(),
            )
        },
        |(slug, ..)| webhooks_page(slug),
    );
    view! {
        <Title text=format!("Webhooks · {}", slug_now(&params))/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=page page=move |view: WebhooksView| {
                    let WebhooksView { team, hooks, new_secret, form_key } = view;
                    view! {
                        <p class="breadcrumb"><a href=format!("/teams/{team}")>{team.clone()}</a></p>
                        <h1>"Webhooks"</h1>
                        <p>
                            "Premortem posts the team's events to these addresses as they happen: a change registered, its gate opening or closing, a sign-off, a regression, a target date near or passed. "
                            "Standard deliveries are signed (Standard Webhooks: verify " <code>"webhook-signature"</code>
                            " with the secret); Slack ones post a message to an incoming-webhook URL. A delivery that fails is tried again for a day."
                        </p>
                        {new_secret.map(|secret| view! { <ShownOnce what="Signing secret" class="secret" secret/> })}
                        <AddWebhook create team=team.clone() form_key/>
                        <FormError err=action_error(actions.set_state)/>
                        <FormError err=action_error(actions.rotate)/>
                        <FieldError err=action_error(actions.rotate) field="overlap_hours" id="overlap"/>
                        <FormError err=action_error(actions.delete)/>
                        <FormError err=action_error(actions.test)/>
                        <FormError err=action_error(actions.redeliver)/>
                        {if hooks.is_empty() {
                            view! { <p class="muted">"No webhooks yet."</p> }.into_any()
                        } else {
                            hooks
                                .into_iter()
                                .map(|(hook, deliveries)| view! { <WebhookCard hook deliveries team=team.clone() actions/> })
                                .collect_view()
                                .into_any()
                        }}
                    }
                }/>
            }
        }/>
    }
}

#[component]
fn AddWebhook(create: ServerAction<CreateWebhook>, team: String, form_key: String) -> impl IntoView {
    let err = action_error(create);
    view! {
        <section class="card" aria-labelledby="add-webhook">
            <h2 id="add-webhook">"Add a webhook"</h2>
            <ActionForm action=create>
                <FormError err/>
                <input type="hidden" name="team" value=team/>
                <input type="hidden" name="idempotency_key" value=form_key/>
                <label for="webhook-url">"Endpoint URL"</label>
                <input id="webhook-url" name="url" type="url" required placeholder="https://hooks.example.com/premortem" aria-describedby="webhook-url-error"/>
                <FieldError err field="url" id="webhook-url"/>
                <fieldset aria-describedby="webhook-format-error">
                    <legend>"Format"</legend>
                    {Format::ALL.into_iter().map(|format| view! {
                        <label class="checkbox">
                            <input type="radio" name="format" value=format.as_str() checked=format == Format::Standard/>
                            " " {format.label()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <FieldError err field="format" id="webhook-format"/>
                <fieldset aria-describedby="webhook-events-error">
                    <legend>"Events"</legend>
                    <label class="checkbox">
                        <input type="checkbox" name="events[]" value="*" checked/>
                        " Every event, including types added later"
                    </label>
                    {EventType::ALL.into_iter().map(|t| view! {
                        <label class="checkbox">
                            <input type="checkbox" name="events[]" value=t.as_str()/>
                            " " <code>{t.as_str()}</code> " — " {t.meaning()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <FieldError err field="events" id="webhook-events"/>
                <button type="submit">"Add webhook"</button>
            </ActionForm>
        </section>
    }
}

/// Which webhook a form is about: its team's slug and its id.
#[component]
fn Which(which: StoredValue<(String, String)>) -> impl IntoView {
    let (team, id) = which.get_value();
    view! {
        <input type="hidden" name="team" value=team/>
        <input type="hidden" name="id" value=id/>
    }
}

/// Where a webhook points, as its page shows it: a Slack URL's path is its secret, so only
/// its origin is shown.
fn shown_url(hook: &Webhook) -> String {
    match hook.format {
        Format::Standard => hook.url.clone(),
        Format::Slack => format!("{}/…", origin(&hook.url)),
    }
}

#[component]
fn WebhookCard(hook: Webhook, deliveries: Vec<Delivery>, team: String, actions: Actions) -> impl IntoView {
    let id = hook.id.to_string();
    let (heading, labelled) = (format!("webhook-{id}"), format!("webhook-{id}"));
    let events = if hook.events == ["*"] { "every event".to_owned() } else { hook.events.join(", ") };
    let (toggle, toggle_label) = match hook.state {
        WebhookState::Active => ("paused", "Pause"),
        WebhookState::Paused | WebhookState::Disabled => ("active", "Resume"),
    };
    let overlap_id = format!("overlap-{id}");
    let which = StoredValue::new((team, id));
    view! {
        <section class="card webhook" aria-labelledby=labelled>
            <h2 id=heading><code>{shown_url(&hook)}</code></h2>
            <p>
                <span class=format!("chip webhook-{}", hook.state.as_str())>{hook.state.as_str()}</span>
                " " {hook.format.label()} " · " {events} " · added " {hook.created_at.date()}
            </p>
            {hook.disabled_reason.clone().map(|reason| view! {
                <p class="error-box" role="alert">
                    "Premortem disabled this webhook: " {reason} " Resume it once the endpoint is fixed."
                </p>
            })}
            {hook.failing_since.map(|since| view! {
                <p class="muted">{format!("Every delivery has failed since {}.", since.date_time())}</p>
            })}
            {hook.previous_until.map(|until| view! {
                <p class="muted">{format!("The secret before the last rotation signs too until {}.", until.date_time())}</p>
            })}
            <div class="actions">
                <ActionForm action=actions.set_state attr:class="inline">
                    <Which which/>
                    <input type="hidden" name="state" value=toggle/>
                    <button type="submit">{toggle_label}</button>
                </ActionForm>
                <ActionForm action=actions.test attr:class="inline">
                    <Which which/>
                    <button type="submit">"Send a test event"</button>
                </ActionForm>
                {(hook.format == Format::Standard).then(|| view! {
                    <ActionForm action=actions.rotate attr:class="inline">
                        <Which which/>
                        <label for=overlap_id.clone()>"Old secret keeps signing for (hours)"</label>
                        <input id=overlap_id name="overlap_hours" type="number" min="0" max=OVERLAP_MAX_HOURS.to_string()
                            value=OVERLAP_DEFAULT_HOURS.to_string() required/>
                        <button type="submit">"Rotate secret"</button>
                    </ActionForm>
                })}
                <ActionForm action=actions.delete attr:class="inline">
                    <Which which/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </div>
            <Deliveries deliveries which redeliver=actions.redeliver/>
        </section>
    }
}

#[component]
fn Deliveries(
    deliveries: Vec<Delivery>,
    which: StoredValue<(String, String)>,
    redeliver: ServerAction<RedeliverWebhook>,
) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="muted">"No deliveries yet."</p> }.into_any();
    }
    let when = |at: Option<Timestamp>| at.map(Timestamp::date_time).unwrap_or_default();
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label="Recent deliveries">
            <table class="deliveries">
                <caption>"Recent deliveries"</caption>
                <thead><tr>
                    <th scope="col">"Event"</th><th scope="col">"Change"</th><th scope="col">"State"</th>
                    <th scope="col">"Attempts"</th><th scope="col">"Last status"</th><th scope="col">"Last error"</th>
                    <th scope="col">"Last try"</th><th scope="col">"Next try"</th><th scope="col"></th>
                </tr></thead>
                <tbody>
                    {deliveries.into_iter().map(|d| view! {
                        <tr>
                            <td><code>{d.event_type.clone()}</code></td>
                            <td>{(!d.change.is_empty()).then(|| view! { <a href=format!("/changes/{}", d.change)>{d.change.clone()}</a> })}</td>
                            <td><span class=format!("chip delivery-{}", d.state.as_str())>{d.state.as_str()}</span></td>
                            <td>{d.attempts}</td>
                            <td>{d.last_status.map(|s| s.to_string()).unwrap_or_default()}</td>
                            <td>{d.last_error.clone().unwrap_or_default()}</td>
                            <td>{when(d.last_attempt_at)}</td>
                            <td>{when(d.next_at)}</td>
                            <td>
                                {(d.state != DeliveryState::Pending).then(|| view! {
                                    <ActionForm action=redeliver>
                                        <Which which/>
                                        <input type="hidden" name="delivery" value=d.id.to_string()/>
                                        <button type="submit">"Send again"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
