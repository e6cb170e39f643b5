use crate::api::admin::{
    CreateTeam, CreateUser, GroupRolesView, MembershipItem, PrelinkUser, ResetPassword, SetGroupRole,
    SetUserDisabled, UsersView, group_roles, list_users, memberships,
};
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
    let prelink = ServerAction::<PrelinkUser>::new();
    let users = Resource::new(
        move || {
            (create.version().get(), disable.version().get(), reset.version().get(), prelink.version().get())
        },
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
            let prelink_err = action_error(prelink);
            view! {
                <h1>"Users"</h1>
                <CreateUserForm action=create/>
                <FormError err=disable_err/>
                <FormError err=reset_err/>
                <FieldError err=reset_err field="password" id="reset-password"/>
                <FormError err=prelink_err/>
                <FieldError err=prelink_err field="email" id="prelink-email"/>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match users.await {
                            Ok(UsersView { users, provider }) => view! {
                                <table class="users">
                                    <thead><tr><th scope="col">"Username"</th><th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Signs in with"</th><th scope="col">"Actions"</th></tr></thead>
                                    <tbody>
                                        {users
                                            .into_iter()
                                            .map(|user| view! { <UserRow user provider=provider.clone() disable reset prelink/> })
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

/// One user, with buttons to disable or enable them and to reset their password, and with
/// single sign-on how they sign in and a form to pre-link them to an address at the provider.
#[component]
fn UserRow(
    user: crate::api::admin::UserItem,
    provider: Option<String>,
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetPassword>,
    prelink: ServerAction<PrelinkUser>,
) -> impl IntoView {
    let signs_in = match (&provider, &user.identity) {
        (Some(provider), Some(identity)) if identity.linked_at.is_some() => provider.clone(),
        (Some(provider), Some(identity)) => {
            format!("a password; {provider} once {} signs in", identity.email.as_deref().unwrap_or_default())
        }
        _ => "a password".to_owned(),
    };
    let prelink_form = provider.filter(|_| user.identity.as_ref().is_none_or(|i| i.linked_at.is_none())).map(|_| {
        let email_id = format!("prelink-{}", user.username);
        let label = format!("Address at the identity provider for {}", user.username);
        let current = user.identity.as_ref().and_then(|i| i.email.clone()).unwrap_or_default();
        view! {
            <ActionForm action=prelink attr:class="inline">
                <input type="hidden" name="user_id" value=user.id.0.to_string()/>
                <label class="visually-hidden" for=email_id.clone()>{label}</label>
                <input id=email_id name="email" type="email" value=current placeholder="name@company.com"/>
                <button type="submit" class="secondary">"Pre-link"</button>
            </ActionForm>
        }
    });
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
            <td class="signs-in">{signs_in}</td>
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
                {prelink_form}
            </td>
        </tr>
    }
}

/// Team administration: create teams; members are managed on each team's page.
#[component]
pub fn AdminTeams() -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let map = ServerAction::<SetGroupRole>::new();
    let teams = Resource::new(move || create.version().get(), |_| my_teams());
    let groups = Resource::new(move || map.version().get(), |_| group_roles());
    let members = Resource::new(|| (), |_| memberships());
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
                <Memberships members/>
                <GroupRoles groups map/>
            }
                .into_any()
        }/>
    }
}

/// Who is in which team with what role, across teams (a team's page changes them).
#[component]
fn Memberships(members: Resource<Result<Vec<MembershipItem>, crate::domain::AppError>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="memberships">
            <h2 id="memberships">"Who is in which team"</h2>
            <crate::ui::components::Loaded resource=members page=move |list| view! {
                <table class="memberships">
                    <thead><tr><th scope="col">"Team"</th><th scope="col">"Name"</th><th scope="col">"Username"</th><th scope="col">"Role"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|m: MembershipItem| view! {
                            <tr data-member=format!("{}/{}", m.team, m.username.clone())>
                                <td><a href=format!("/teams/{}", m.team)>{m.team.clone()}</a></td>
                                <td>{m.display_name}</td>
                                <td>{m.username.clone()}</td>
                                <td>{m.role.as_str()} {m.by_sso.then_some(" (from the identity provider)")}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }/>
        </section>
    }
}

/// The provider groups that give team roles: a table with a remove button per row, and a form
/// to map a group.
#[component]
fn GroupRoles(
    groups: Resource<Result<GroupRolesView, crate::domain::AppError>>,
    map: ServerAction<SetGroupRole>,
) -> impl IntoView {
    let err = action_error(map);
    view! {
        <section class="card" aria-labelledby="group-roles">
            <h2 id="group-roles">"Identity provider groups"</h2>
            <p class="muted">"A group gives its members the role in the team at each sign-in through the identity provider; the highest role wins. A role a group gave goes when the user is no longer in a group that maps the team; members added by hand stay."</p>
            <FormError err/>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match groups.await {
                        Ok(view) => {
                            let claim = match &view.claim {
                                Some(claim) => format!("Groups are read from the \u{201c}{claim}\u{201d} claim."),
                                None => "PREMORTEM_OIDC_GROUPS_CLAIM is not set: this mapping is kept but not applied.".to_owned(),
                            };
                            view! {
                                <p class="muted group-claim">{claim}</p>
                                <table class="group-roles">
                                    <thead><tr><th scope="col">"Group"</th><th scope="col">"Team"</th><th scope="col">"Role"</th><th scope="col">"Actions"</th></tr></thead>
                                    <tbody>
                                        {view.roles.into_iter().map(|row| {
                                            let (group, team) = (row.group.clone(), row.team_slug.clone());
                                            view! {
                                            <tr data-group=row.group.clone()>
                                                <td>{row.group.clone()}</td>
                                                <td>{row.team_slug.clone()}</td>
                                                <td>{row.role.as_str()}</td>
                                                <td>
                                                    <ActionForm action=map>
                                                        <input type="hidden" name="group" value=group/>
                                                        <input type="hidden" name="team" value=team/>
                                                        <input type="hidden" name="role" value="none"/>
                                                        <button type="submit" class="secondary">"Remove"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }
                        Err(err) => view! { <ErrorBox err/> }.into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=map>
                <label for="group-name">"Provider group"</label>
                <input id="group-name" name="group" required placeholder="as the provider names it" aria-describedby="group-name-error"/>
                <FieldError err field="group" id="group-name"/>
                <label for="group-team">"Group's team"</label>
                <input id="group-team" name="team" required placeholder="slug, e.g. PAY" aria-describedby="group-team-error"/>
                <FieldError err field="slug" id="group-team"/>
                <label for="group-role">"Role"</label>
                <select id="group-role" name="role">
                    <option value="viewer">"viewer"</option>
                    <option value="member" selected>"member"</option>
                    <option value="lead">"lead"</option>
                </select>
                <button type="submit">"Map group"</button>
            </ActionForm>
        </section>
    }
}
