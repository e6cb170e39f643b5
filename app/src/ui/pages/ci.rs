use crate::api::tokens::{CiView, CreateToken, RevokeToken, TransferToken, ci_page};
use crate::domain::Principal;
use crate::domain::gate::RunSummary;
use crate::domain::scope::Scope;
use crate::domain::time::Timestamp;
use crate::ui::components::{FieldError, FormError, Loaded, RequireUser, ShownOnce, action_error};
use crate::ui::slug_now;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// "Connect your CI": tokens (for leads), copy-paste snippets and the team's recent runs.
#[component]
pub fn CiPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let transfer = ServerAction::<TransferToken>::new();
    let ci = Resource::new(
        move || (slug(), create.version().get(), revoke.version().get(), transfer.version().get()),
        |(slug, ..)| ci_page(slug),
    );
    view! {
        <Title text=format!("Connect your CI · {}", slug_now(&params))/>
        <RequireUser page=move |_user: Principal| {
            view! {
                <Loaded resource=ci page=move |ci: CiView| {
                    let created = move || create.value().get().and_then(Result::ok);
                    let shown = ci.new_token.clone();
                    let (back, team) = (format!("/teams/{}", ci.team), ci.team.clone());
                    let tokens = ci.can_manage.then(|| ci.clone());
                    view! {
                        <p class="breadcrumb"><a href=back>{team}</a></p>
                        <h1>"Connect your CI"</h1>
                        <p>
                            "CI posts test results to Premortem; failure modes whose test selectors match turn verified, failing or stale. "
                            "A deploy step can ask whether a change's gate is open. The API is described at "
                            <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a> "."
                        </p>
                        {move || created().or_else(|| shown.clone()).map(|secret| view! {
                            <ShownOnce what="New token" class="token" secret/>
                        })}
                        {tokens.map(|ci| view! { <Tokens ci create revoke transfer/> })}
                        <Snippets ci=ci.clone()/>
                        <Runs runs=ci.runs.clone()/>
                    }
                }/>
            }
        }/>
    }
}

#[component]
fn Tokens(
    ci: CiView,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
    transfer: ServerAction<TransferToken>,
) -> impl IntoView {
    let err = action_error(create);
    let revoke_err = action_error(revoke);
    let transfer_err = action_error(transfer);
    let team = ci.team.clone();
    let form_team = ci.team.clone();
    let tokens = ci.tokens;
    view! {
        <section class="card" aria-labelledby="tokens">
            <h2 id="tokens">"API tokens"</h2>
            <ActionForm action=create>
                <FormError err/>
                <input type="hidden" name="team" value=form_team/>
                <label for="token-name">"Name"</label>
                <input id="token-name" name="name" required placeholder="e.g. github-actions" aria-describedby="token-name-error"/>
                <FieldError err field="name" id="token-name"/>
                <fieldset aria-describedby="token-scopes-error">
                    <legend>"Scopes"</legend>
                    {Scope::ALL.into_iter().map(|scope| view! {
                        <label class="checkbox">
                            <input type="checkbox" name="scopes[]" value=scope.as_str()
                                checked=matches!(scope, Scope::EvidenceWrite | Scope::ChangesRead)/>
                            " " {scope.as_str()} " — " {scope.meaning()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <FieldError err field="scopes" id="token-scopes"/>
                <label for="token-expiry">"Expires after (days, empty for never)"</label>
                <input id="token-expiry" name="expires_days" type="number" min="1" max="3650" value="365" aria-describedby="token-expiry-error"/>
                <FieldError err field="expires_days" id="token-expiry"/>
                <button type="submit">"Create token"</button>
            </ActionForm>
            <FormError err=revoke_err/>
            <FormError err=transfer_err/>
            <FieldError err=transfer_err field="username" id="transfer-username"/>
            {(!tokens.is_empty()).then(|| view! {
                <table class="tokens">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Belongs to"</th><th scope="col">"Token"</th><th scope="col">"Scopes"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th><th scope="col"></th></tr></thead>
                    <tbody>
                        {tokens.into_iter().map(|t| {
                            let (team, team_again) = (team.clone(), team.clone());
                            // Not the token's name: the row's cells are found by it.
                            let label = format!("New owner of {}…", t.prefix);
                            view! {
                                <tr>
                                    <td>{t.name}</td>
                                    <td>{t.owner.map_or_else(|| "a pipeline".to_owned(), |owner| format!("{owner} (personal)"))}</td>
                                    <td><code>{format!("{}…", t.prefix)}</code></td>
                                    <td>{t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")}</td>
                                    <td>{t.expires_at.map(Timestamp::date).unwrap_or_else(|| "never".into())}</td>
                                    <td>{t.last_used_at.map(Timestamp::date_time).unwrap_or_else(|| "never".into())}</td>
                                    <td>
                                        {if t.revoked_at.is_some() {
                                            view! { <span class="chip">"revoked"</span> }.into_any()
                                        } else {
                                            let input = format!("transfer-{}", t.id);
                                            view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="team" value=team/>
                                                    <input type="hidden" name="id" value=t.id.to_string()/>
                                                    <button type="submit" class="danger">"Revoke"</button>
                                                </ActionForm>
                                                <ActionForm action=transfer attr:class="inline">
                                                    <input type="hidden" name="team" value=team_again/>
                                                    <input type="hidden" name="id" value=t.id.to_string()/>
                                                    <label class="visually-hidden" for=input.clone()>{label}</label>
                                                    <input id=input name="username" placeholder="username" required/>
                                                    <button type="submit" class="secondary">"Give to"</button>
                                                </ActionForm>
                                            }.into_any()
                                        }}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}

#[component]
fn Snippets(ci: CiView) -> impl IntoView {
    let base = ci.base_url.clone();
    let curl = format!(
        "# Upload JUnit XML (pytest --junitxml, cargo nextest, jest-junit, gotestsum, Maven Surefire …)\n\
curl --fail-with-body -X POST \\\n  -H \"Authorization: Bearer $PREMORTEM_TOKEN\" \\\n  -H \"Content-Type: application/xml\" \\\n  -H \"Idempotency-Key: $CI_RUN_ID\" \\\n  --data-binary @report.xml \\\n  \"{base}/api/v1/runs?commit=$GIT_SHA&branch=$GIT_BRANCH&run_key=$CI_RUN_ID\"\n\n\
# Before deploying: fail while the change's gate is closed\n\
curl --fail -H \"Authorization: Bearer $PREMORTEM_TOKEN\" \\\n  \"{base}/api/v1/changes/{team}-1/gate?require=open\"",
        team = ci.team
    );
    let github = format!(
        "- name: Upload test results to Premortem\n  if: always()\n  run: |\n    curl --fail-with-body -X POST \\\n      -H \"Authorization: Bearer ${{{{ secrets.PREMORTEM_TOKEN }}}}\" \\\n      -H \"Content-Type: application/xml\" \\\n      -H \"Idempotency-Key: ${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}\" \\\n      --data-binary @report.xml \\\n      \"{base}/api/v1/runs?commit=${{{{ github.sha }}}}&branch=${{{{ github.ref_name }}}}&pipeline_url=${{{{ github.server_url }}}}/${{{{ github.repository }}}}/actions/runs/${{{{ github.run_id }}}}\""
    );
    let gitlab = format!(
        "premortem:\n  stage: .post\n  when: always\n  script:\n    - >\n      curl --fail-with-body -X POST\n      -H \"Authorization: Bearer $PREMORTEM_TOKEN\"\n      -H \"Content-Type: application/xml\"\n      -H \"Idempotency-Key: $CI_PIPELINE_ID-$CI_JOB_ID\"\n      --data-binary @report.xml\n      \"{base}/api/v1/runs?commit=$CI_COMMIT_SHA&branch=$CI_COMMIT_REF_NAME&pipeline_url=$CI_PIPELINE_URL\""
    );
    view! {
        <section aria-labelledby="snippets">
            <h2 id="snippets">"Snippets"</h2>
            <p class="muted">
                "Test ids are " <code>"classname::name"</code> " from JUnit (or the name alone when it already starts with the class). "
                "A " <code>"premortem.failure_mode"</code> " property such as " <code>"PAY-12/FM-3"</code> " binds a result to a failure mode directly."
            </p>
            // Snippets scroll sideways: focusable (and named), so a keyboard can scroll them.
            <h3 id="snippet-curl">"curl"</h3>
            <pre tabindex="0" aria-labelledby="snippet-curl"><code>{curl}</code></pre>
            <h3 id="snippet-github">"GitHub Actions"</h3>
            <pre tabindex="0" aria-labelledby="snippet-github"><code>{github}</code></pre>
            <h3 id="snippet-gitlab">"GitLab CI"</h3>
            <pre tabindex="0" aria-labelledby="snippet-gitlab"><code>{gitlab}</code></pre>
        </section>
    }
}

/// A team's recent runs.
#[component]
pub fn Runs(runs: Vec<RunSummary>) -> impl IntoView {
    view! {
        <section aria-labelledby="runs">
            <h2 id="runs">"Recent runs"</h2>
            {if runs.is_empty() {
                view! { <p class="muted">"No runs uploaded yet."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <thead><tr><th scope="col">"Received"</th><th scope="col">"Commit"</th><th scope="col">"Branch"</th><th scope="col">"Passed"</th><th scope="col">"Failed"</th><th scope="col">"Skipped"</th><th scope="col">"Errors"</th></tr></thead>
                        <tbody>
                            {runs.iter().map(|r| view! {
                                <tr>
                                    <td>
                                        {r.received_at.date_time()}
                                        {r.pipeline_url.clone().map(|url| view! { " " <a href=url rel="noopener">"pipeline"</a> })}
                                    </td>
                                    <td><code>{r.commit.clone().map(|c| c.chars().take(10).collect::<String>()).unwrap_or_default()}</code></td>
                                    <td>{r.branch.clone().unwrap_or_default()}</td>
                                    <td>{r.passed}</td>
                                    <td>{r.failed}</td>
                                    <td>{r.skipped}</td>
                                    <td>{r.errored}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
