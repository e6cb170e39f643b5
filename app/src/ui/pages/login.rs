use crate::api::auth::Login;
use crate::ui::components::{FieldError, FormError, action_error};
use leptos::prelude::*;
use leptos_meta::Title;

/// The login form. Works as a plain HTML form; with JavaScript the password can be revealed.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let err = action_error(login);
    // The page that sent the user here, kept through a refused attempt (the refusal returns
    // to this address); the server decides whether it is safe to go to.
    let next = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("next"));
    view! {
        <Title text="Log in"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=login>
                <FormError err/>
                {next.map(|next| view! { <input type="hidden" name="next" value=next/> })}
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required autofocus/>
                <label for="password">"Password"</label>
                <PasswordInput/>
                <FieldError err field="password" id="password"/>
                <button type="submit">"Log in"</button>
            </ActionForm>
        </section>
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
