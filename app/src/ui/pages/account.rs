use crate::api::account::{ChangePassword, SetDisplayName, SignInView, how_i_sign_in};
use crate::domain::Principal;
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
    // A refused post returns to the address it came from with `__err`: no notice then.
    let done = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("done").filter(|_| q.get("__err").is_none()));
    view! {
        <Title text="Your account"/>
        <RequireUser page=move |user: Principal| {
            let notice = match done.as_deref() {
                Some("name") => Some("Your display name is saved."),
                Some("password") => Some("Your password is changed. Every other session of yours is signed out."),
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
