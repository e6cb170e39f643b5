use crate::api::auth::{Login, SignInOptions, login_options};
use crate::ui::components::{FieldError, FormError, Loaded, action_error};
use leptos::prelude::*;
use leptos_meta::Title;

/// The login page: the identity provider's button when single sign-on is configured, and the
/// password form unless password login is turned off. Both work as plain HTML (a link and its
/// redirects, a `POST` form); with JavaScript the password can be revealed.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let options = Resource::new_blocking(|| (), |_| login_options());
    // The page that sent the user here, kept through a refused attempt (the refusal returns
    // to this address); the server decides whether it is safe to go to.
    let (next, sso_error) = leptos_router::hooks::use_query_map()
        .with_untracked(|q| (q.get("next"), q.get("sso_error").map(|code| sso_refusal(&code))));
    view! {
        <Title text="Log in"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            {sso_error.map(|message| view! { <p class="error-box" role="alert">{message}</p> })}
            <Loaded resource=options page=move |options: SignInOptions| {
                let next = next.clone();
                view! {
                    {options.sso.map(|name| {
                        // A link, not a form: the page's policy lets forms post only to this
                        // site, and this one goes on to the provider.
                        let href = match &next {
                            Some(next) => format!("/auth/oidc/start?next={}", query_value(next)),
                            None => "/auth/oidc/start".to_owned(),
                        };
                        view! { <a class="button sso" href=href>{format!("Sign in with {name}")}</a> }
                    })}
                    {options.password.then(|| view! { <PasswordLogin action=login next=next.clone()/> })}
                }
            }/>
        </section>
    }
}

/// `value` percent-encoded for a URL's query: everything but unreserved characters.
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the login page says when a sign-in through the provider was refused: a fixed message
/// per reason (`/auth/oidc/callback` sends the reason, never the provider's own words, which
/// anyone could put in a link).
fn sso_refusal(code: &str) -> &'static str {
    match code {
        "expired" => "That sign-in took too long or was started in another window. Please try again.",
        "denied" => {
            "Your identity provider did not sign you in. Please try again, or ask your administrator."
        }
        "unavailable" => "Your identity provider cannot be reached just now. Please try again shortly.",
        "domain" => "Your account at the identity provider is not one this site accepts (its email domain).",
        "disabled" => "Your account here is disabled. Ask an administrator.",
        _ => "Your identity could not be verified. Please try again, or ask your administrator.",
    }
}

#[component]
fn PasswordLogin(action: ServerAction<Login>, next: Option<String>) -> impl IntoView {
    let err = action_error(action);
    view! {
        <ActionForm action>
            <FormError err/>
            {next.map(|next| view! { <input type="hidden" name="next" value=next/> })}
            <label for="username">"Username"</label>
            <input id="username" name="username" autocomplete="username" required autofocus/>
            <label for="password">"Password"</label>
            <PasswordInput/>
            <FieldError err field="password" id="password"/>
            <button type="submit">"Log in"</button>
        </ActionForm>
    }
}

/// The password field, with a button that reveals what was typed: the login page's island.
/// The button is served hidden and shown once the island runs in the browser, so a page
/// without JavaScript has no button that does nothing.
#[island]
fn PasswordInput() -> impl IntoView {
    let (reveal, set_reveal) = signal(false);
    let (interactive, set_interactive) = signal(false);
    // Effects run only in the browser.
    Effect::new(move |_| set_interactive.set(true));
    view! {
        <div class="input-with-button">
            <input
                id="password"
                name="password"
                type=move || if reveal.get() { "text" } else { "password" }
                autocomplete="current-password"
                required
                aria-describedby="password-error"
            />
            <button
                type="button"
                class="secondary"
                hidden=move || !interactive.get()
                aria-controls="password"
                aria-pressed=move || reveal.get().to_string()
                on:click=move |_| set_reveal.update(|r| *r = !*r)
            >
                {move || if reveal.get() { "Hide" } else { "Show" }}
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_return_address_survives_the_query() {
        assert_eq!(
            super::query_value("/changes/PAY-1?tab=a b&x=é"),
            "%2Fchanges%2FPAY-1%3Ftab%3Da%20b%26x%3D%C3%A9"
        );
    }
}
