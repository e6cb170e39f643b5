//! Importing failure modes from pasted CSV or a Markdown table: preview, then confirm.

use crate::api::import::{ImportPreview, ImportView, import_page};
use crate::domain::Principal;
use crate::ui::components::{Loaded, RequireUser};
use crate::ui::server_escaped;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/changes/:key/import`. Its forms are plain posts to the same address, answered by the
/// server with this page and the preview (with or without JavaScript).
#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let page = Resource::new(key, import_page);
    view! {
        <Title text=format!("Import failure modes · {}", params.read_untracked().get("key").unwrap_or_default())/>
        <RequireUser page=move |_user: Principal| {
            view! { <Loaded resource=page page=|p: ImportView| view! { <Import p/> }/> }
        }/>
    }
}

#[component]
fn Import(p: ImportView) -> impl IntoView {
    let action = format!("/changes/{}/import", p.key);
    let text = p.preview.as_ref().map(|preview| preview.text.clone()).unwrap_or_default();
    view! {
        <p class="breadcrumb"><a href=format!("/changes/{}", p.key)>{format!("{} · {}", p.key, p.title)}</a></p>
        <h1>"Import failure modes"</h1>
        <p>
            "Paste a CSV file or a Markdown table. The first row names the columns: "
            <code>"title"</code> " (required), "
            {crate::domain::failure_mode::TEXTS.iter().map(|t| view! { <code>{t.name}</code> ", " }).collect_view()}
            <code>"severity"</code> ", " <code>"likelihood"</code> ", "
            <code>"detectability"</code> " (1–5 each, required), " <code>"designs"</code> " and "
            <code>"tests"</code> " (several separated by " <code>";"</code> "). "
            "Nothing is imported until every row is valid."
        </p>
        {p.preview.map(|preview| view! { <Preview preview action=action.clone()/> })}
        <form method="post" action=action class="card">
            <label for="import-text">"CSV or Markdown table"</label>
            <textarea id="import-text" name="text" rows="14" required>{server_escaped(text)}</textarea>
            <button type="submit" class="secondary">"Preview"</button>
        </form>
    }
}

/// The rows the server read, each with its problem; the import button once none has one.
#[component]
fn Preview(preview: ImportPreview, action: String) -> impl IntoView {
    let problems = preview.problems();
    let count = preview.rows.len();
    let importable = preview.importable();
    let heading = if problems > 0 {
        format!("Preview: {count} rows, {problems} with errors")
    } else {
        format!("Preview: {count} rows")
    };
    view! {
        {preview.problem.clone().map(|problem| view! { <div class="error-box" role="alert">{problem}</div> })}
        {(count > 0).then(|| view! {
            <section aria-labelledby="preview">
                <h2 id="preview">{heading}</h2>
                {(problems > 0).then(|| view! {
                    <div class="error-box" role="alert">
                        {format!("{problems} of {count} rows have errors. Fix them and preview again; nothing was imported.")}
                    </div>
                })}
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Line"</th>
                            <th scope="col">"Failure mode"</th>
                            <th scope="col">"Priority"</th>
                            <th scope="col">"Problem"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {preview.rows.iter().map(|row| view! {
                            <tr class:import-error=row.problem.is_some()>
                                <td>{row.line}</td>
                                <td>{row.title.clone()}</td>
                                <td>{row.priority.clone()}</td>
                                <td>{row.problem.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {importable.then(|| view! {
                    <form method="post" action=action>
                        <input type="hidden" name="text" value=preview.text.clone()/>
                        <input type="hidden" name="confirm" value="1"/>
                        <button type="submit">{format!("Import {count} failure modes")}</button>
                    </form>
                })}
            </section>
        })}
    }
}
