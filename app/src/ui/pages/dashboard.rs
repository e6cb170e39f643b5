use crate::domain::Principal;
use crate::ui::components::RequireUser;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The start page. Until changes exist it explains the method and where to begin.
#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <Title text="Dashboard"/>
        <RequireUser page=|user: Principal| {
            view! {
                <h1>"Dashboard"</h1>
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
                        <p class="muted">
                            "You are not a member of any team yet. An administrator or a team lead can add you."
                        </p>
                    }
                        .into_any()
                } else {
                    view! {
                        <ul class="team-list">
                            {user
                                .teams
                                .into_iter()
                                .map(|(_, slug, role)| {
                                    view! {
                                        <li>
                                            <A href=format!("/teams/{slug}")>{slug.clone()}</A>
                                            " "
                                            <span class="chip">{role.as_str()}</span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }}
            }
        }/>
    }
}
