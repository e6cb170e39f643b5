//! Routes, the page shell and the layout.

mod charts;
mod components;
mod pages;

use crate::api::auth::{Logout, current_user};
use crate::domain::{AppError, Principal};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// Where the browser bundle is served: content-hashed routes, found by the server at startup.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub script: String,
    pub wasm: String,
    pub stylesheet: String,
}

/// The HTML document around the app, rendered on the server.
pub fn shell(bundle: Bundle) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                {use_request_nonce()}
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=bundle.stylesheet.clone()/>
                <BundleScripts bundle/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Loads the bundle and hydrates the page's islands, then marks the page interactive (browser
/// tests wait for `data-hydrated`). What Leptos' `HydrationScripts islands=true` does, for
/// files whose names carry their hash; an island without its function in the bundle throws.
/// Also runs [`KEEP_FORM_INPUT`].
#[component]
fn BundleScripts(bundle: Bundle) -> impl IntoView {
    // Only islands are hydrated: nothing outside them is serialized for the browser.
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let Bundle { script, wasm, .. } = bundle;
    let hydrate = format!(
        "{KEEP_FORM_INPUT}\n\
         import({script:?}).then(async m => {{ await m.default({{module_or_path: {wasm:?}}}); m.hydrate(); \
         for (const island of document.querySelectorAll('leptos-island')) m[island.dataset.component](island); \
         document.body.setAttribute('data-hydrated', ''); }});"
    );
    view! {
        <link rel="modulepreload" href=script/>
        <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin=""/>
        <script type="module" nonce=leptos::nonce::use_nonce()>{hydrate}</script>
    }
}

/// Every form is a plain HTML form, and a post the server refuses comes back as the same page
/// with the error (`__err` in the address, read by the page's `ServerAction`). With
/// JavaScript, what the user typed comes back too: a post's fields (never passwords or hidden
/// fields) are kept in the tab's session storage until the next page has loaded, and put back
/// into the same form when that page returns with the form's error.
const KEEP_FORM_INPUT: &str = r#"{
  const key = form => `premortem-form ${location.pathname} ${[...document.forms].indexOf(form)}`;
  const kept = el => el.name && !['password', 'hidden', 'file', 'submit', 'button'].includes(el.type);
  document.addEventListener('submit', e => {
    const form = e.target;
    const fields = [...form.elements].filter(kept)
      .map(el => [el.name, el.type === 'checkbox' || el.type === 'radio' ? el.checked : el.value]);
    try { sessionStorage.setItem(key(form), JSON.stringify({action: form.getAttribute('action'), fields})); } catch {}
  });
  const failed = new URLSearchParams(location.search).get('__path');
  for (const form of failed ? document.forms : []) {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(key(form))); } catch {}
    if (!saved || saved.action !== failed || form.getAttribute('action') !== failed) continue;
    const els = [...form.elements].filter(kept);
    saved.fields.forEach(([name, value], i) => {
      const el = els[i];
      if (!el || el.name !== name) return;
      if (typeof value === 'boolean') el.checked = value; else el.value = value;
    });
  }
  try {
    Object.keys(sessionStorage).filter(k => k.startsWith('premortem-form ')).forEach(k => sessionStorage.removeItem(k));
  } catch {}
}"#;

/// The header carrying a request's Content-Security-Policy nonce from the server's security
/// middleware (which sets it on every request and sends the policy with the response).
pub const CSP_NONCE_HEADER: &str = "x-premortem-csp-nonce";

/// Makes Leptos' hydration and resource scripts carry the nonce that this response's
/// Content-Security-Policy allows (`ops::security_headers` on the server), so scripts that
/// markup slipped into a page might add cannot run.
fn use_request_nonce() {
    #[cfg(feature = "ssr")]
    if let Some(nonce) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.headers.get(CSP_NONCE_HEADER)?.to_str().ok().map(str::to_owned))
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

/// The session's user, shared by the layout and every page. Login and logout load a new
/// page, so it is fetched once per page load.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<Principal>, AppError>>,
}

/// `text` as the server must write it inside `<title>` and `<textarea>`: this Leptos version
/// writes their text to the server's HTML without escaping (TOOLCHAIN.md), so user text there
/// is escaped here. (An island rendering such text in the browser sets it through the DOM,
/// where it stays as it is.)
pub fn server_escaped(text: String) -> String {
    #[cfg(feature = "ssr")]
    let text = html_escape::encode_text(&text).into_owned();
    text
}

/// The route's `slug` parameter as the page is created. Page titles take it as a plain
/// string: a title that reads the parameter reactively can be read by the server after the
/// route's first render was disposed (Async rendering renders twice), which panics.
pub fn slug_now(params: &Memo<leptos_router::params::ParamsMap>) -> String {
    params.read_untracked().get("slug").unwrap_or_default()
}

/// The application: routes inside the layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user = Resource::new(|| (), |_| current_user());
    provide_context(Session { user });

    view! {
        <Title formatter=|text| server_escaped(format!("{text} · Premortem"))/>
        <Router>
            // rel="external" keeps the router from handling the jump, so the browser moves focus.
            <a class="skip-link" href="#main" rel="external">"Skip to content"</a>
            <Header/>
            <main id="main" tabindex="-1">
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=path!("/") view=pages::Dashboard ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=pages::LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=pages::AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/search") view=pages::SearchPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams") view=pages::TeamsPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug") view=pages::TeamPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/changes") view=pages::ChangesPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/ci") view=pages::CiPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/templates") view=pages::TemplatesPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/webhooks") view=pages::WebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/changes/new") view=pages::NewChangePage ssr=SsrMode::Async/>
                    <Route path=path!("/changes/:key") view=pages::ChangePage ssr=SsrMode::Async/>
                    <Route path=path!("/changes/:key/edit") view=pages::EditChangePage ssr=SsrMode::Async/>
                    <Route path=path!("/changes/:key/import") view=pages::ImportPage ssr=SsrMode::Async/>
                    <Route path=path!("/changes/:key/fm/:number") view=pages::FailureModePage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=pages::AdminUsers ssr=SsrMode::Async/>
                    <Route path=path!("/admin/teams") view=pages::AdminTeams ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// Site navigation; shows who is logged in and a logout button.
#[component]
fn Header() -> impl IntoView {
    let session = expect_context::<Session>();
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="site-header">
            <nav aria-label="Main">
                <A href="/" attr:class="brand">"Premortem"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match session.user.await {
                            Ok(Some(user)) => {
                                view! {
                                    <ul class="nav-links">
                                        <li><A href="/">"Dashboard"</A></li>
                                        <li><A href="/teams">"Teams"</A></li>
                                        {user.is_admin.then(|| view! {
                                            <li><A href="/admin/users">"Users"</A></li>
                                            <li><A href="/admin/teams">"Admin teams"</A></li>
                                        })}
                                    </ul>
                                    <form method="get" action="/search" role="search" aria-label="Site" class="site-search">
                                        <input
                                            type="search"
                                            name="q"
                                            aria-label="Search changes and failure modes, or go to a key"
                                            placeholder="Search or go to PAY-12"
                                            maxlength=crate::domain::search::MAX_QUERY.to_string()
                                        />
                                    </form>
                                    <div class="nav-user">
                                        <a href="/account" class="user-name" title="Your account">{user.display_name.clone()}</a>
                                        <ActionForm action=logout>
                                            <button type="submit" class="link-button">"Log out"</button>
                                        </ActionForm>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(None) => view! {
                                <ul class="nav-links">
                                    <li><A href="/login">"Log in"</A></li>
                                </ul>
                            }
                                .into_any(),
                            // Not known (the database is away): the page says so; the header
                            // does not pretend the user is logged out.
                            Err(_) => ().into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
