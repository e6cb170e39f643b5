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

/// Loads the bundle and hydrates the page (what Leptos' `HydrationScripts` does, for files
/// whose names carry their hash).
#[component]
fn BundleScripts(bundle: Bundle) -> impl IntoView {
    let Bundle { script, wasm, .. } = bundle;
    let hydrate = format!(
        "import({script:?}).then(m => m.default({{module_or_path: {wasm:?}}}).then(() => m.hydrate()));"
    );
    view! {
        <link rel="modulepreload" href=script/>
        <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin=""/>
        <script type="module" nonce=leptos::nonce::use_nonce()>{hydrate}</script>
    }
}

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

/// After `action` succeeds, loads `path` as a new page (with JavaScript; without it the
/// server's redirect does the same), so every part of the page sees the new session.
pub fn load_page_after<S>(action: ServerAction<S>, path: &'static str)
where
    S: leptos::server_fn::ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(())))) {
            let _ = window().location().set_href(path);
        }
    });
}

/// After `action` succeeds, navigates (client-side) to the path `to` makes of its value.
/// Without JavaScript the server's redirect does the same.
pub fn navigate_after<S, T>(action: ServerAction<S>, to: impl Fn(&T) -> String + 'static)
where
    S: leptos::server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(value)) = action.value().get() {
            navigate(&to(&value), Default::default());
        }
    });
}

/// `text` as the server must write it inside `<title>` and `<textarea>`: this Leptos version
/// writes their text to the server's HTML without escaping (TOOLCHAIN.md), so user text there
/// is escaped here. The browser sets the same text through the DOM, where it stays as it is.
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
                    <Route path=path!("/search") view=pages::SearchPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams") view=pages::TeamsPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug") view=pages::TeamPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/changes") view=pages::ChangesPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/ci") view=pages::CiPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:slug/templates") view=pages::TemplatesPage ssr=SsrMode::Async/>
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
    load_page_after(logout, "/login");
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
                                        <span class="user-name">{user.display_name.clone()}</span>
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
