use crate::api::search::search;
use crate::domain::Principal;
use crate::domain::search::{Found, MAX_QUERY};
use crate::ui::components::{Loaded, RequireUser, StatusChip};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// What the search box found: changes, then failure modes, in the teams the user may read.
/// A change's key goes straight to its page (the server redirects).
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|q| q.get("q").unwrap_or_default());
    // Created here, not inside `RequireUser` (see the dashboard).
    let found = Resource::new(q, search);
    view! {
        <Title text="Search"/>
        <RequireUser page=move |_user: Principal| {
            let typed = query.with_untracked(|q| q.get("q").unwrap_or_default());
            view! {
                <h1>"Search"</h1>
                <form method="get" action="/search" role="search" aria-label="Search again" class="search-form">
                    <label for="search-q">"Words or a change key"</label>
                    <input id="search-q" type="search" name="q" value=typed maxlength=MAX_QUERY.to_string()/>
                    <button type="submit">"Search"</button>
                </form>
                <Loaded resource=found page=move |found: Found| view! { <Results found typed=q()/> }/>
            }
        }/>
    }
}

#[component]
fn Results(found: Found, typed: String) -> impl IntoView {
    let Found { jump, changes, failure_modes } = found;
    if let Some(path) = jump {
        return view! { <p>"Going to " <a href=path.clone()>{path.trim_start_matches("/changes/").to_owned()}</a> "…"</p> }
            .into_any();
    }
    if typed.trim().is_empty() {
        return view! {
            <p class="muted">"Type words from a change's title or summary or a failure mode's scenario, or a key such as PAY-12."</p>
        }
            .into_any();
    }
    if changes.is_empty() && failure_modes.is_empty() {
        return view! { <p class="muted">"Nothing found for “" {typed} "” in your teams."</p> }.into_any();
    }
    view! {
        {(!changes.is_empty()).then(|| view! {
            <section aria-labelledby="found-changes">
                <h2 id="found-changes">"Changes"</h2>
                <ul class="search-hits">
                    {changes.into_iter().map(|c| view! {
                        <li>
                            <a href=format!("/changes/{}", c.key)><span class="key">{c.key.clone()}</span> " " {c.title}</a>
                            " " <StatusChip status=c.status/>
                            {(!c.excerpt.is_empty()).then(|| view! { <p class="muted">{c.excerpt}</p> })}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        {(!failure_modes.is_empty()).then(|| view! {
            <section aria-labelledby="found-failure-modes">
                <h2 id="found-failure-modes">"Failure modes"</h2>
                <ul class="search-hits">
                    {failure_modes.into_iter().map(|f| view! {
                        <li>
                            <a href=format!("/changes/{}/fm/{}", f.change, f.number)>
                                <span class="key">{format!("{}/{}", f.change, crate::domain::failure_mode::label(f.number))}</span> " " {f.title}
                            </a>
                            {(!f.excerpt.is_empty()).then(|| view! { <p class="muted">{f.excerpt}</p> })}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
    }
        .into_any()
}
