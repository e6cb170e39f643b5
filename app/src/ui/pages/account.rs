use crate::api::account::{
    ChangePassword, MyToken, RevokeMyToken, SetDisplayName, SignInView, SignOutSessions, how_i_sign_in,
    my_sessions, my_tokens,
};
use crate::domain::Principal;
use crate::domain::identity::SignedIn;
use crate::ui::components::{FieldError, FormError, Loaded, RequireUser, action_error};
use leptos::prelude::*;
use leptos_meta::Title;

/// The logged-in user's own account: how they sign in, their display name, their password.
/// Every form is a plain form; a change done comes back as `?done=name` or `?done=password`.
#[component]
pub fn AccountPage() -> impl IntoView {
    let rename = ServerAction::<SetDisplayName>::new();
    let password = ServerAction::<ChangePassword>::new();
    let sign_in = Resource::new(move || password.version().get(), |_| how_i_sign_in());
    let sign_out = ServerAction::<SignOutSessions>::new();
    let revoke = ServerAction::<RevokeMyToken>::new();
    let sessions =
        Resource::new(move || (sign_out.version().get(), password.version().get()), |_| my_sessions());
    let tokens = Resource::new(move || revoke.version().get(), |_| my_tokens());
    // A refused post returns to the address it came from with `__err`: no notice then.
    let done = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("done").filter(|_| q.get("__err").is_none()));
    view! {
        <Title text="Your account"/>
        <RequireUser page=move |user: Principal| {
            let notice = match done.as_deref() {
                Some("name") => Some("Your display name is saved."),
                Some("password") => Some("Your password is changed. Every other session of yours is signed out."),
                Some("signed_out") => Some("That session is signed out."),
                Some("signed_out_others") => Some("Every other session of yours is signed out."),
                Some("token_revoked") => Some("The token is revoked: it no longer works."),
                _ => None,
            };
            view! {
                <h1>"Your account"</h1>
                {notice.map(|notice| view! { <p class="notice" role="status">{notice}</p> })}
                <Loaded resource=sign_in page=move |how: SignInView| {
                    let username = user.username.clone();
                    view! {
                        <section class="card" aria-labelledby="sign-in">
                            <h2 id="sign-in">"How you sign in"</h2>
                            <dl class="facts">
                                <dt>"Username"</dt><dd class="account-username">{username}</dd>
                                <dt>"Signs in with"</dt><dd class="account-signs-in">{signs_in(&how)}</dd>
                            </dl>
                        </section>
                        {how.password.then(|| view! { <PasswordForm action=password/> })}
                    }
                }/>
                <DisplayNameForm action=rename current=user.display_name.clone()/>
                <Sessions sessions sign_out/>
                <Tokens tokens revoke/>
            }
        }/>
    }
}

/// "A password kept by Premortem", the identity provider, or both.
fn signs_in(how: &SignInView) -> String {
    let provider = match (&how.provider, &how.identity) {
        (Some(provider), Some(identity)) if identity.linked_at.is_some() => {
            let last = identity
                .last_sign_in_at
                .map(|at| format!(" (last sign-in {})", at.date()))
                .unwrap_or_default();
            Some(format!("{provider}{last}"))
        }
        (Some(provider), Some(identity)) => Some(format!(
            "{provider}, once you sign in there as {}",
            identity.email.as_deref().unwrap_or_default()
        )),
        _ => None,
    };
    match (how.password, provider) {
        (true, Some(provider)) => format!("A password kept by Premortem, and {provider}"),
        (false, Some(provider)) => provider,
        (_, None) => "A password kept by Premortem".to_owned(),
    }
}

#[component]
fn DisplayNameForm(action: ServerAction<SetDisplayName>, current: String) -> impl IntoView {
    let err = action_error(action);
    view! {
        <section class="card" aria-labelledby="display-name-heading">
            <h2 id="display-name-heading">"Display name"</h2>
            <ActionForm action>
                <FormError err/>
                <label for="display-name">"Your name as others see it"</label>
                <input id="display-name" name="display_name" value=current required aria-describedby="display-name-error"/>
                <FieldError err field="display_name" id="display-name"/>
                <button type="submit">"Save name"</button>
            </ActionForm>
        </section>
    }
}

/// Changing the password asks for the current one; the other sessions end.
#[component]
fn PasswordForm(action: ServerAction<ChangePassword>) -> impl IntoView {
    let err = action_error(action);
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <p class="muted">"Changing it signs you out everywhere else."</p>
            <ActionForm action>
                <FormError err/>
                <label for="current-password">"Current password"</label>
                <input id="current-password" name="current_password" type="password" autocomplete="current-password" required aria-describedby="current-password-error"/>
                <FieldError err field="current_password" id="current-password"/>
                <label for="new-password">"New password (at least 10 characters)"</label>
                <input id="new-password" name="new_password" type="password" autocomplete="new-password" required aria-describedby="new-password-error"/>
                <FieldError err field="new_password" id="new-password"/>
                <button type="submit">"Change password"</button>
            </ActionForm>
        </section>
    }
}

/// Where the user is signed in, with a sign-out for each other session and for all of them.
#[component]
fn Sessions(
    sessions: Resource<Result<Vec<SignedIn>, crate::domain::AppError>>,
    sign_out: ServerAction<SignOutSessions>,
) -> impl IntoView {
    let err = action_error(sign_out);
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <FormError err/>
            <Loaded resource=sessions page=move |list| {
                let others = list.iter().any(|s| !s.current);
                view! {
                    <table class="sessions">
                        <thead><tr><th scope="col">"Device"</th><th scope="col">"Address"</th><th scope="col">"Signed in"</th><th scope="col">"Last seen"</th><th scope="col">"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|s| view! {
                                <tr data-current=s.current.to_string()>
                                    <td class="user-agent">{s.user_agent}</td>
                                    <td>{s.client}</td>
                                    <td>{s.created_at.date_time()}</td>
                                    <td>{s.last_seen_at.date_time()}</td>
                                    <td>{if s.current {
                                        view! { <span class="chip">"This session"</span> }.into_any()
                                    } else {
                                        view! {
                                            <ActionForm action=sign_out>
                                                <input type="hidden" name="id" value=s.id.to_string()/>
                                                <button type="submit" class="secondary">"Sign out"</button>
                                            </ActionForm>
                                        }.into_any()
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {others.then(|| view! {
                        <ActionForm action=sign_out>
                            <button type="submit">"Sign out everywhere else"</button>
                        </ActionForm>
                    })}
                }
            }/>
        </section>
    }
}

/// The user's personal API tokens, with a revoke for each that still works.
#[component]
fn Tokens(
    tokens: Resource<Result<Vec<MyToken>, crate::domain::AppError>>,
    revoke: ServerAction<RevokeMyToken>,
) -> impl IntoView {
    let err = action_error(revoke);
    view! {
        <section class="card" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"Your API tokens"</h2>
            <p class="muted">"Personal tokens you created on a team's CI page; they work only while you are a member of the team."</p>
            <FormError err/>
            <Loaded resource=tokens page=move |list| {
                if list.is_empty() {
                    return view! { <p class="muted">"You have no personal tokens."</p> }.into_any();
                }
                view! {
                    <table class="my-tokens">
                        <thead><tr><th scope="col">"Team"</th><th scope="col">"Name"</th><th scope="col">"Token"</th><th scope="col">"Scopes"</th><th scope="col">"Last used"</th><th scope="col">"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|MyToken { team, token }| view! {
                                <tr data-token=token.prefix.clone()>
                                    <td>{team}</td>
                                    <td>{token.name}</td>
                                    <td><code>{format!("{}…", token.prefix)}</code></td>
                                    <td>{crate::domain::scope::Scope::join(&token.scopes)}</td>
                                    <td>{token.last_used_at.map_or_else(|| "never".to_owned(), |at| at.date_time())}</td>
                                    <td>{match token.revoked_at {
                                        Some(at) => view! { <span class="muted">{format!("revoked {}", at.date())}</span> }.into_any(),
                                        None => view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="id" value=token.id.0.to_string()/>
                                                <button type="submit" class="secondary">"Revoke"</button>
                                            </ActionForm>
                                        }.into_any(),
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }/>
        </section>
    }
}
