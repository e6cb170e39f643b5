use crate::api::admin::{CreateTeam, CreateUser, ResetPassword, SetUserDisabled, list_users};
use crate::api::teams::my_teams;
use crate::domain::Principal;
use crate::ui::components::{ErrorBox, FieldError, FormError, RequireUser, action_error};
use leptos::prelude::*;
use leptos_meta::Title;

/// A notice for pages only admins may use (the server refuses the data anyway).
fn admins_only() -> AnyView {
    view! { <ErrorBox err=crate::domain::AppError::Forbidden page=true/> }.into_any()
}

/// User administration: create, disable and enable, reset passwords.
#[component]
pub fn AdminUsers() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let users = Resource::new(
        move || (create.version().get(), disable.version().get(), reset.version().get()),
        |_| list_users(),
    );
    view! {
        <Title text="Users"/>
        <RequireUser page=move |user: Principal| {
            if !user.is_admin {
                return admins_only();
            }
            let disable_err = action_error(disable);
            let reset_err = action_error(reset);
            view! {
                <h1>"Users"</h1>
                <CreateUserForm action=create/>
                <FormError err=disable_err/>
                <FormError err=reset_err/>
                <FieldError err=reset_err field="password" id="reset-password"/>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match users.await {
                            Ok(users) => view! {
                                <table class="users">
                                    <thead><tr><th scope="col">"Username"</th><th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Actions"</th></tr></thead>
                                    <tbody>
                                        {users
                                            .into_iter()
                                            .map(|user| view! { <UserRow user disable reset/> })
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
                .into_any()
        }/>
    }
}

/// Creates a user with an initial password.
#[component]
fn CreateUserForm(action: ServerAction<CreateUser>) -> impl IntoView {
    let err = action_error(action);
    view! {
        <section class="card">
            <h2>"Create a user"</h2>
            <ActionForm action>
                <FormError err/>
                <label for="new-username">"Username"</label>
                <input id="new-username" name="username" required aria-describedby="new-username-error"/>
                <FieldError err field="username" id="new-username"/>
                <label for="new-display-name">"Full name"</label>
                <input id="new-display-name" name="display_name" required aria-describedby="new-display-name-error"/>
                <FieldError err field="display_name" id="new-display-name"/>
                <label for="new-password">"Initial password (at least 10 characters)"</label>
                <input id="new-password" name="password" type="password" autocomplete="new-password" required aria-describedby="new-password-error"/>
                <FieldError err field="password" id="new-password"/>
                <label class="checkbox"><input type="checkbox" name="is_admin" value="on"/>" Administrator"</label>
                <button type="submit">"Create user"</button>
            </ActionForm>
        </section>
    }
}

/// One user, with buttons to disable or enable them and to reset their password.
#[component]
fn UserRow(
    user: crate::api::admin::UserItem,
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    let id = user.id.0.to_string();
    let reset_user_id = id.clone();
    let row_name = user.username.clone();
    let input_id = format!("reset-{}", user.username);
    let input_for = input_id.clone();
    let label = format!("New password for {}", user.username);
    view! {
        <tr data-username=row_name>
            <td>{user.username.clone()} {user.is_admin.then(|| view! { " " <span class="chip">"admin"</span> })}</td>
            <td>{user.display_name}</td>
            <td>{if user.disabled { "disabled" } else { "active" }}</td>
            <td class="actions">
                <ActionForm action=disable>
                    <input type="hidden" name="user_id" value=id/>
                    <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                    <button type="submit" class="secondary">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </ActionForm>
                <ActionForm action=reset attr:class="inline">
                    <input type="hidden" name="user_id" value=reset_user_id/>
                    <label class="visually-hidden" for=input_for>{label}</label>
                    <input id=input_id name="password" type="password" autocomplete="new-password" placeholder="New password" required/>
                    <button type="submit" class="secondary">"Reset password"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// Team administration: create teams; members are managed on each team's page.
#[component]
pub fn AdminTeams() -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let teams = Resource::new(move || create.version().get(), |_| my_teams());
    view! {
        <Title text="Administer teams"/>
        <RequireUser page=move |user: Principal| {
            if !user.is_admin {
                return admins_only();
            }
            let err = action_error(create);
            view! {
                <h1>"Teams"</h1>
                <section class="card">
                    <h2>"Create a team"</h2>
                    <ActionForm action=create>
                        <FormError err/>
                        <label for="team-slug">"Slug (prefix of change keys, e.g. PAY)"</label>
                        <input id="team-slug" name="slug" required aria-describedby="team-slug-error"/>
                        <FieldError err field="slug" id="team-slug"/>
                        <label for="team-name">"Name"</label>
                        <input id="team-name" name="name" required aria-describedby="team-name-error"/>
                        <FieldError err field="name" id="team-name"/>
                        <button type="submit">"Create team"</button>
                    </ActionForm>
                </section>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match teams.await {
                            Ok(teams) => view! {
                                <ul class="team-list">
                                    {teams
                                        .into_iter()
                                        .map(|t| view! {
                                            <li><a href=format!("/teams/{}", t.slug)>{t.slug.clone()}</a> " " {t.name} " · " {t.members} " members"</li>
                                        })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any(),
                            Err(err) => view! { <ErrorBox err page=true/> }.into_any(),
                        }
                    })}
                </Suspense>
            }
                .into_any()
        }/>
    }
}
