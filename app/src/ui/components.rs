//! Small building blocks shared by pages.

use super::Session;
use crate::domain::{AppError, Principal};
use leptos::prelude::*;

/// An error reported to the user. On the server, a page showing a server-side failure (the
/// database away, a fault) answers with that status, and `Retry-After` where retrying helps,
/// as an API reply would: never 200. With `page`, the error is why the page cannot show what
/// it is for (a change that does not exist or that the user may not see, a page for admins
/// only), and the page answers with its status whatever it is: 404, 403, 401.
#[component]
pub fn ErrorBox(err: AppError, #[prop(optional)] page: bool) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::error::answer_page_with(&err, page);
    #[cfg(not(feature = "ssr"))]
    let _ = page;
    view! { <div class="error-box" role="alert">{err.to_string()}</div> }
}

/// The last error of a form's action, if it is not about one field (those are shown next
/// to their field by [`FieldError`]).
#[component]
pub fn FormError(#[prop(into)] err: Signal<Option<AppError>>) -> impl IntoView {
    move || err.get().filter(|e| !matches!(e, AppError::Invalid { .. })).map(|err| view! { <ErrorBox err/> })
}

/// A secret shown this once (a new API token, a webhook's signing secret), in a `code` of
/// `class`.
#[component]
pub fn ShownOnce(what: &'static str, class: &'static str, secret: String) -> impl IntoView {
    view! {
        <div class="card new-token" role="status">
            <p><strong>{what} " — copy it now, it is not shown again:"</strong></p>
            <pre tabindex="0"><code class=class>{secret}</code></pre>
        </div>
    }
}

/// The validation message for one field, linked to it by `aria-describedby` = `{id}-error`.
#[component]
pub fn FieldError(
    #[prop(into)] err: Signal<Option<AppError>>,
    field: &'static str,
    #[prop(into)] id: String,
) -> impl IntoView {
    move || {
        err.get().and_then(|e| e.for_field(field)).map(|message| {
            view! { <p class="field-error" id=format!("{id}-error") role="alert">{message}</p> }
        })
    }
}

/// The error of an action's last result, as a signal.
pub fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    Signal::derive(move || action.value().with(|v| v.as_ref().and_then(|r| r.as_ref().err().cloned())))
}

/// Renders `page` for the logged-in user; sends everyone else to the login page (303), which
/// brings them back here once they have logged in.
///
/// Its content is rendered again once the session resolves (Async rendering renders twice),
/// so a page creates its resources and actions *before* `RequireUser`, never inside `page`:
/// a resource made there would be fetched under the first render's owner, disposed by then.
#[component]
pub fn RequireUser<F, V>(page: F) -> impl IntoView
where
    F: Fn(Principal) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = expect_context::<Session>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => page(user).into_any(),
                        Ok(None) => view! { <LogInFirst/> }.into_any(),
                        Err(err) => view! { <ErrorBox err page=true/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// What an anonymous request for a page gets: a redirect (303) to the login page, which
/// brings the user back here, and a link there for a client that does not follow redirects.
#[component]
fn LogInFirst() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::auth::send_to_login();
    view! { <p>"Please " <a href="/login">"log in"</a> " to see this page."</p> }
}

/// A change's status as a coloured chip.
#[component]
pub fn StatusChip(status: crate::domain::change::ChangeStatus) -> impl IntoView {
    view! { <span class=format!("chip status-{}", status.as_str())>{status.label()}</span> }
}

/// A failure mode's coverage as a coloured chip.
#[component]
pub fn CoverageChip(coverage: crate::domain::gate::Coverage) -> impl IntoView {
    view! { <span class=format!("chip coverage-{}", coverage.as_str())>{coverage.as_str()}</span> }
}

/// A failure mode's priority, with S×L×D beside it.
#[component]
pub fn PriorityChip(priority: crate::domain::failure_mode::Priority, rpn: u8) -> impl IntoView {
    view! {
        <span class=format!("chip priority-{}", priority.label().to_lowercase())>{priority.label()}</span>
        " "
        <span class="muted" title="Severity × likelihood × detectability">{format!("S×L×D {rpn}")}</span>
    }
}

/// Renders a resource's value with `page`, or its error; shows a placeholder while loading.
#[component]
pub fn Loaded<T, F, V>(resource: Resource<Result<T, AppError>>, page: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => page(value).into_any(),
                        Err(err) => view! { <ErrorBox err page=true/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
