use crate::api::teams::{RetireTemplate, SaveTemplate, TemplatesView, team_templates};
use crate::domain::Principal;
use crate::domain::catalogue::{Suggestion, TemplateRef};
use crate::domain::change::ChangeType;
use crate::ui::components::{FieldError, FormError, Loaded, RequireUser, action_error};
use crate::ui::{server_escaped, slug_now};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A team's own failure-mode templates, suggested beside the built-in catalogue when a
/// change of their type is registered. Leads add, edit (`?edit=<id>`) and retire them.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let editing = move || query.read().get("edit").and_then(|id| id.parse::<i64>().ok());
    let save = ServerAction::<SaveTemplate>::new();
    let retire = ServerAction::<RetireTemplate>::new();
    let view = Resource::new(
        move || (slug(), save.version().get(), retire.version().get()),
        |(slug, ..)| team_templates(slug),
    );
    view! {
        <Title text=format!("Templates · {}", slug_now(&params))/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=view page=move |v: TemplatesView| {
                    let edit = editing().and_then(|id| {
                        v.templates.iter().find(|(s, _)| s.key == TemplateRef::Team(id)).map(|(s, _)| (id, s.clone()))
                    });
                    view! { <Templates v edit save retire/> }
                }/>
            }
        }/>
    }
}

#[component]
fn Templates(
    v: TemplatesView,
    edit: Option<(i64, Suggestion)>,
    save: ServerAction<SaveTemplate>,
    retire: ServerAction<RetireTemplate>,
) -> impl IntoView {
    let built_in: String = v
        .built_in
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{} {n}", t.label()))
        .collect::<Vec<_>>()
        .join(", ");
    let slug = v.slug.clone();
    view! {
        <p class="breadcrumb"><a href=format!("/teams/{}", v.slug)>{v.name.clone()}</a></p>
        <h1>"Failure-mode templates"</h1>
        <p>
            "When a change is registered, Premortem suggests how changes of its type usually break: "
            "the built-in catalogue (" {built_in} ") and this team's own templates below."
        </p>
        {if v.templates.is_empty() {
            view! { <p class="muted">"This team has no templates of its own yet."</p> }.into_any()
        } else {
            view! {
                <table>
                    <thead><tr><th scope="col">"Template"</th><th scope="col">"Type"</th><th scope="col">"State"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                    <tbody>
                        {v.templates.iter().filter_map(|(s, retired)| match s.key {
                            TemplateRef::Team(id) => Some((id, s, retired)),
                            TemplateRef::BuiltIn(_) => None,
                        }).map(|(id, s, retired)| {
                            let team = slug.clone();
                            view! {
                                <tr>
                                    <td><strong>{s.title.clone()}</strong><div class="muted">{s.scenario.clone()}</div></td>
                                    <td>{s.change_type.label()}</td>
                                    <td>{if *retired { "retired" } else { "suggested" }}</td>
                                    <td>
                                        {(v.can_manage && !retired).then(|| view! {
                                            <a href=format!("/teams/{team}/templates?edit={id}")>"Edit"</a>
                                            <ActionForm action=retire attr:class="inline">
                                                <input type="hidden" name="team" value=team.clone()/>
                                                <input type="hidden" name="id" value=id.to_string()/>
                                                <button type="submit" class="secondary">"Retire"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {v.can_manage.then(|| view! { <TemplateForm team=v.slug.clone() edit save/> })}
    }
}

#[component]
fn TemplateForm(
    team: String,
    edit: Option<(i64, Suggestion)>,
    save: ServerAction<SaveTemplate>,
) -> impl IntoView {
    let err = action_error(save);
    let (id, t) = match edit {
        Some((id, t)) => (id.to_string(), Some(t)),
        None => (String::new(), None),
    };
    let heading = if t.is_some() { "Edit template" } else { "Add a template" };
    let value = {
        let t = t.clone();
        move |f: fn(&Suggestion) -> String| t.as_ref().map(f).unwrap_or_default()
    };
    let (s, l, d) = t.as_ref().map(|t| t.ratings).unwrap_or((3, 3, 3));
    let chosen = t.as_ref().map(|t| t.change_type);
    let field = move |name: &'static str, label: &'static str, text: String, rows: &'static str| {
        let id = format!("tpl-{name}");
        view! {
            <label for=id.clone()>{label}</label>
            <textarea id=id.clone() name=name rows=rows aria-describedby=format!("{id}-error")>{server_escaped(text)}</textarea>
            <FieldError err field=name id=match name {
                "scenario" => "tpl-scenario", "effect" => "tpl-effect", "detection" => "tpl-detection",
                "designs" => "tpl-designs", _ => "tpl-tests",
            }/>
        }
    };
    let rating = move |name: &'static str, label: &'static str, value: u8| {
        view! {
            <div class="rating">
                <label for=format!("tpl-{name}")>{label}</label>
                <input id=format!("tpl-{name}") name=name type="number" min="1" max="5" value=value.to_string() required/>
                <FieldError err field=name id=match name { "severity" => "tpl-severity", "likelihood" => "tpl-likelihood", _ => "tpl-detectability" }/>
            </div>
        }
    };
    view! {
        <section class="card">
            <h2>{heading}</h2>
            <ActionForm action=save>
                <FormError err/>
                <input type="hidden" name="team" value=team/>
                <input type="hidden" name="id" value=id/>
                <label for="tpl-change_type">"For changes of type"</label>
                <select id="tpl-change_type" name="change_type">
                    {ChangeType::ALL.into_iter().map(|c| view! {
                        <option value=c.as_str() selected=chosen == Some(c)>{c.label()}</option>
                    }).collect_view()}
                </select>
                <label for="tpl-title">"Title"</label>
                <input id="tpl-title" name="title" required maxlength="200" value=value(|t| t.title.clone()) aria-describedby="tpl-title-error"/>
                <FieldError err field="title" id="tpl-title"/>
                {field("scenario", "Scenario, with the magnitude to fill in [in brackets]", value(|t| t.scenario.clone()), "3")}
                {field("effect", "Usual effect on users", value(|t| t.effect.clone()), "2")}
                {field("detection", "How it is usually detected", value(|t| t.detection.clone()), "2")}
                {field("designs", "Suggested designs, one per line", value(|t| t.designs.join("\n")), "3")}
                {field("tests", "Suggested tests, one per line", value(|t| t.tests.join("\n")), "3")}
                <div class="ratings">
                    {rating("severity", "Severity", s)}
                    {rating("likelihood", "Likelihood", l)}
                    {rating("detectability", "Detectability", d)}
                </div>
                <button type="submit">"Save template"</button>
            </ActionForm>
        </section>
    }
}
