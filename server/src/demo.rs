//! Data sets to try Premortem with. `large` is a load fixture for the dashboard benchmark:
//! 10 teams × 100 changes × 10 failure modes, 30,000 tests and 1,000,000 results, written
//! with bulk statements (one run per team and day over ~100 days), then derived with the
//! same code ingestion uses.

use app::domain::catalogue::TemplateRef;
use app::domain::change::{ChangeDetails, ChangeFields, ChangeKey, ChangeStatus, ChangeType};
use app::domain::time::Timestamp;
use app::domain::{AppError, TeamId};
use app::ssr::coverage::{self, Derivable};
use app::ssr::db::Db;
use app::ssr::store::{changes, failure_modes};
use sqlx::{Any, AnyConnection, query::Query};

use app::domain::Role;
use app::domain::failure_mode::{Design, FailureModeFields, FailureModeInput, Selector};
use app::domain::gate::Outcome::{self, Failed, Passed};
use app::domain::time::Days;
use app::ssr::audit::Actor;

/// How big a data set is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub teams: i64,
    pub changes_per_team: i64,
    pub failure_modes_per_change: i64,
    pub tests_per_failure_mode: i64,
    /// Runs per team; each reports every test of the team once.
    pub runs_per_team: i64,
    /// Incidents per team, each after one of its changes, spread over two years.
    pub incidents_per_team: i64,
}

impl Scale {
    /// 1,000 changes, 10,000 failure modes, 30,000 tests, 1,020,000 results, 1,000
    /// incidents.
    pub const LARGE: Scale = Scale {
        teams: 10,
        changes_per_team: 100,
        failure_modes_per_change: 10,
        tests_per_failure_mode: 3,
        runs_per_team: 34,
        incidents_per_team: 100,
    };

    /// The growth figure's data set: ten times the changes and failure modes of
    /// [`Scale::LARGE`], about as many results (10,000 changes, 100,000 failure modes,
    /// 300,000 tests, 900,000 results), and 10,000 incidents.
    pub const TENFOLD: Scale =
        Scale { changes_per_team: 1_000, runs_per_team: 3, incidents_per_team: 1_000, ..Scale::LARGE };

    pub fn results(&self) -> i64 {
        self.teams
            * self.changes_per_team
            * self.failure_modes_per_change
            * self.tests_per_failure_mode
            * self.runs_per_team
    }
}

/// What a fixture wrote.
#[derive(Debug, Default)]
pub struct Written {
    pub teams: i64,
    pub changes: i64,
    pub failure_modes: i64,
    pub results: i64,
    pub incidents: i64,
}

/// A value to bind in a bulk insert.
enum V {
    I(i64),
    S(String),
    N,
}

fn bind<'q>(
    query: Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    v: &'q V,
) -> Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    match v {
        V::I(i) => query.bind(*i),
        V::S(s) => query.bind(s.as_str()),
        V::N => query.bind(None::<i64>),
    }
}

/// Inserts `rows` into `table`, a few thousand values per statement.
async fn insert(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<V>],
) -> Result<(), sqlx::Error> {
    let sql = format!("INSERT INTO {table} ({}) VALUES", columns.join(", "));
    app::ssr::store::insert_rows(conn, &sql, "", columns.len(), rows, |query, row| {
        row.iter().fold(query, bind)
    })
    .await
}

/// Demo data goes only into a database without changes.
async fn refuse_existing_changes(db: &Db) -> Result<(), AppError> {
    if app::ssr::store::changes::any(db).await? {
        return Err(AppError::Conflict(
            "Demo data goes into an empty database; this one has changes.".into(),
        ));
    }
    Ok(())
}

/// Writes a data set of `scale` into a database without changes. Users: `bench-lead`, a
/// lead of every team, authors its changes (its password hash is `password_hash`).
pub async fn generate(db: &Db, scale: Scale, password_hash: &str) -> Result<Written, AppError> {
    refuse_existing_changes(db).await?;
    let now = Timestamp::now();
    let mut tx = db.begin_write().await?;
    let lead: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash, is_admin, created_at, updated_at)
         VALUES ('bench-lead', 'Bench Lead', $1, 0, $2, $2) RETURNING id",
    )
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let mut written = Written::default();
    let mut team_ids = Vec::new();
    for t in 1..=scale.teams {
        let slug = format!("TEAM{t:02}");
        let team: i64 = sqlx::query_scalar(
            "INSERT INTO teams (slug, name, created_at, last_change_number) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&slug)
        .bind(format!("Team {t}"))
        .bind(now)
        .bind(scale.changes_per_team)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (team_id, user_id, role, created_at) VALUES ($1, $2, 'lead', $3)",
        )
        .bind(team)
        .bind(lead)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        team_ids.push(TeamId(team));
        written.teams += 1;

        insert_changes(&mut tx, scale, t, team, lead, now).await?;
        written.changes += scale.changes_per_team;
        let tests = insert_failure_modes(&mut tx, scale, t, team, now).await?;
        written.failure_modes += scale.changes_per_team * scale.failure_modes_per_change;
        written.results += insert_evidence(&mut tx, scale, t, team, &tests, now).await?;
        insert_incidents(&mut tx, scale, team, now).await?;
        written.incidents += scale.incidents_per_team;
    }
    tx.commit().await?;

    // Coverage facts, derived by the code ingestion uses.
    for team in team_ids {
        let fms = failure_modes::team_failure_modes(db.read(), team).await?;
        let derivable: Vec<Derivable<'_>> = fms.iter().map(|t| t.fm.derivable()).collect();
        let mut tx = db.begin_write().await?;
        coverage::refresh(&mut tx, team, &derivable, None).await?;
        tx.commit().await?;
    }
    coverage::record_daily(db, Days(400)).await?;
    // The gates, as the server's sweeper would settle them at its first tick.
    app::ssr::gates::sweep(db).await?;
    // Planner statistics for the bulk-loaded tables.
    db.analyze().await?;
    Ok(written)
}

/// The statuses of a generated team's changes, in turn.
const STATUSES: [ChangeStatus; 10] = [
    ChangeStatus::Draft,
    ChangeStatus::HappyPathWorking,
    ChangeStatus::HappyPathWorking,
    ChangeStatus::HappyPathWorking,
    ChangeStatus::FailureCasesComplete,
    ChangeStatus::FailureCasesComplete,
    ChangeStatus::FailureCasesComplete,
    ChangeStatus::HappyPathWorking,
    ChangeStatus::Regressed,
    ChangeStatus::Cancelled,
];

/// A generated team's changes, in every status, with dates spread over half a year.
async fn insert_changes(
    tx: &mut AnyConnection,
    scale: Scale,
    t: i64,
    team: i64,
    lead: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::new();
    for c in 1..=scale.changes_per_team {
        let status = STATUSES[(c as usize) % STATUSES.len()];
        let created = now - Days(c * 7 % 180 + 30);
        let happy = (status != ChangeStatus::Draft).then_some(created + Days(c % 20 + 5));
        let target = happy.map(|h| h + Days(30));
        let signed = matches!(status, ChangeStatus::FailureCasesComplete | ChangeStatus::Regressed)
            .then(|| happy.map(|h| (h + Days(c % 40 + 10)).min(now)))
            .flatten();
        let kind = ChangeType::ALL[(c as usize) % ChangeType::ALL.len()];
        let opt = |v: Option<Timestamp>| v.map(|t| V::I(t.0)).unwrap_or(V::N);
        rows.push(vec![
            V::I(team),
            V::I(c),
            V::S(format!("Change {c} of team {t}")),
            V::S(kind.as_str().to_owned()),
            V::I(lead),
            V::S(status.as_str().to_owned()),
            opt(happy),
            opt(target),
            opt(signed),
            V::I(scale.failure_modes_per_change),
            V::I(created.0),
            V::I(created.0),
        ]);
    }
    insert(
        tx,
        "changes",
        &[
            "team_id",
            "number",
            "title",
            "types",
            "author_id",
            "status",
            "happy_path_at",
            "target_at",
            "signed_off_at",
            "last_fm_number",
            "created_at",
            "updated_at",
        ],
        &rows,
    )
    .await
}

/// A generated team's failure modes, each selecting its own tests; returns the test ids.
async fn insert_failure_modes(
    tx: &mut AnyConnection,
    scale: Scale,
    t: i64,
    team: i64,
    now: Timestamp,
) -> Result<Vec<String>, sqlx::Error> {
    let ids: Vec<(i64, i64)> = sqlx::query_as("SELECT id, number FROM changes WHERE team_id = $1")
        .bind(team)
        .fetch_all(&mut *tx)
        .await?;
    let mut fms = Vec::new();
    let mut tests = Vec::new();
    for (change_id, c) in &ids {
        for f in 1..=scale.failure_modes_per_change {
            let prefix = format!("t{t}::c{c}::f{f}::");
            // One in ten has no selector yet: uncovered.
            let selectors = if (c + f) % 10 == 0 { "[]".to_owned() } else { format!("[\"{prefix}*\"]") };
            fms.push(vec![
                V::I(*change_id),
                V::I(f),
                V::S(format!("Failure mode {f}")),
                V::S("Scenario with a magnitude".into()),
                V::I(1 + (c + f) % 5),
                V::I(1 + (c * f) % 5),
                V::I(1 + f % 5),
                V::S("[{\"title\":\"Design note\",\"url\":null}]".into()),
                V::S(selectors),
                V::I(now.0),
                V::I(now.0),
            ]);
            for k in 0..scale.tests_per_failure_mode {
                tests.push(format!("{prefix}case_{k}"));
            }
        }
    }
    insert(
        tx,
        "failure_modes",
        &[
            "change_id",
            "number",
            "title",
            "scenario",
            "severity",
            "likelihood",
            "detectability",
            "designs",
            "selectors",
            "created_at",
            "updated_at",
        ],
        &fms,
    )
    .await?;
    Ok(tests)
}

/// A generated team's runs, the latest result of every test and the history of every run;
/// returns the number of results.
async fn insert_evidence(
    tx: &mut AnyConnection,
    scale: Scale,
    t: i64,
    team: i64,
    tests: &[String],
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    // Runs every third day, newest last; every run reports every test.
    let runs: Vec<Vec<V>> = (0..scale.runs_per_team)
        .map(|r| {
            let at = now - Days((scale.runs_per_team - r) * 3) + Days(1);
            vec![V::I(team), V::S(format!("{:040x}", r * 7919 + t)), V::S("main".into()), V::I(at.0)]
        })
        .collect();
    insert(tx, "evidence_runs", &["team_id", "commit_sha", "branch", "received_at"], &runs).await?;
    let (last_run, last_at): (i64, i64) = sqlx::query_as(
        "SELECT id, received_at FROM evidence_runs WHERE team_id = $1 ORDER BY received_at DESC LIMIT 1",
    )
    .bind(team)
    .fetch_one(&mut *tx)
    .await?;
    // The latest result per test: a few fail, the rest pass.
    let latest: Vec<Vec<V>> = tests
        .iter()
        .enumerate()
        .map(|(i, test)| {
            let outcome = if i % 97 == 0 { "failed" } else { "passed" };
            vec![V::I(team), V::S(test.clone()), V::S(outcome.into()), V::I(last_run), V::I(last_at)]
        })
        .collect();
    insert(tx, "evidence_latest", &["team_id", "test_id", "outcome", "run_id", "at"], &latest).await?;
    // Every run's results as history, generated by the database from the two tables.
    let history = sqlx::query(
        "INSERT INTO evidence_history (team_id, test_id, outcome, run_id, at)
         SELECT l.team_id, l.test_id, CASE WHEN (r.id + LENGTH(l.test_id)) % 53 = 0 THEN 'failed' ELSE 'passed' END,
                r.id, r.received_at
         FROM evidence_latest l JOIN evidence_runs r ON r.team_id = l.team_id WHERE l.team_id = $1",
    )
    .bind(team)
    .execute(&mut *tx)
    .await?;
    Ok(i64::try_from(history.rows_affected()).unwrap_or(0))
}

/// A generated team's incidents, one after each of its first changes in turn, started over
/// the last two years, most of them classified (held, failed, missed) and some waiting.
async fn insert_incidents(
    tx: &mut AnyConnection,
    scale: Scale,
    team: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let rows: Vec<Vec<V>> = (1..=scale.incidents_per_team)
        .map(|i| {
            let started = now - Days(i * 7 % 720 + 1);
            vec![
                V::I(team),
                V::S(format!("Incident {i}")),
                V::S(["SEV1", "SEV2", "SEV3", "SEV4"][(i % 4) as usize].to_owned()),
                V::I(started.0),
                V::I((started + Days(1)).0),
                V::S(format!("GEN-{i}")),
                V::I(now.0),
                V::I(now.0),
            ]
        })
        .collect();
    let columns = [
        "team_id",
        "title",
        "severity",
        "started_at",
        "resolved_at",
        "external_id",
        "created_at",
        "updated_at",
    ];
    insert(tx, "incidents", &columns, &rows).await?;
    let incidents: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT id, external_id, started_at FROM incidents WHERE team_id = $1")
            .bind(team)
            .fetch_all(&mut *tx)
            .await?;
    let changes: Vec<(i64, i64, Option<i64>)> =
        sqlx::query_as("SELECT number, id, signed_off_at FROM changes WHERE team_id = $1")
            .bind(team)
            .fetch_all(&mut *tx)
            .await?;
    let links: Vec<Vec<V>> = incidents
        .iter()
        .filter_map(|(id, external, started)| {
            let i: i64 = external.strip_prefix("GEN-")?.parse().ok()?;
            let number = (i - 1) % scale.changes_per_team + 1;
            let (_, change, signed) = changes.iter().find(|(n, ..)| *n == number)?;
            let verdict = ["held", "held", "failed", "missed", ""][(i % 5) as usize];
            let (verdict, classified) =
                if verdict.is_empty() { (V::N, V::N) } else { (V::S(verdict.to_owned()), V::I(now.0)) };
            let after = signed.is_some_and(|at| at <= *started);
            Some(vec![V::I(*id), V::I(*change), verdict, classified, V::I(i64::from(after))])
        })
        .collect();
    let columns = ["incident_id", "change_id", "verdict", "classified_at", "after_sign_off"];
    insert(tx, "incident_changes", &columns, &links).await
}

/// A password to print for a demo account: 20 random letters and digits.
pub fn random_password() -> String {
    use rand::Rng;
    use rand::distributions::Alphanumeric;
    rand::thread_rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect()
}

/// A person of the small demo, with the password printed for them.
pub struct Person {
    pub username: &'static str,
    pub display_name: &'static str,
    pub role: &'static str,
    pub password: String,
}

/// One failure mode of the demo: a catalogue template (or its own title), designs, tests.
pub struct Fm {
    template: Option<&'static str>,
    title: &'static str,
    scenario: &'static str,
    designs: &'static str,
    tests: &'static str,
    ratings: (u8, u8, u8),
}

const fn fm(
    template: Option<&'static str>,
    title: &'static str,
    scenario: &'static str,
    designs: &'static str,
    tests: &'static str,
    ratings: (u8, u8, u8),
) -> Fm {
    Fm { template, title, scenario, designs, tests, ratings }
}

/// Premortem's own failure modes, proven by this repository's tests (as cargo-nextest
/// names them in JUnit). CI uploads the project's results and requires this gate open.
pub const DOGFOOD: [Fm; 44] = [
    fm(
        None,
        "An ingestion burst saturates the database",
        "[32] CI pipelines upload [2,000]-case reports at once after a merge train.",
        "A bounded line: uploads wait their turn (first come first served per team, teams in turn); a full line or a wait past its deadline gets 503 with a Retry-After from the measured drain rate\nAt most N uploads stored at once; one writer connection on SQLite; bounded request sizes",
        "*api::uploads_beyond_capacity_wait_their_turn_and_a_full_line_says_when_to_return::*\n*api::concurrent_uploads_lose_nothing::*",
        (4, 3, 2),
    ),
    fm(
        None,
        "An incident tool retries its post and records the incident twice",
        "An incident tool posts each incident [3] times at once after timeouts; every copy would count in the team's prediction rate.",
        "Incidents are idempotent on external_id per team: a repeat updates, never duplicates, found under a team advisory lock",
        "*incidents::one_external_id_posted_again_and_at_once_is_one_incident::*",
        (3, 4, 3),
    ),
    fm(
        None,
        "A missed incident leaves its change signed off",
        "An incident after a signed-off change was not one its failure modes described; the sign-off still says the premortem is complete.",
        "A miss (or a failed design) reopens the change as regressed in the classification's transaction, and can add the failure mode it became\nOnly members classify; another team's changes are 404",
        "*incidents::a_missed_incident_reopens_a_signed_off_change_until_its_new_failure_mode_is_covered::*\n*incidents::other_teams_viewers_and_bad_input_change_nothing::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "A design an incident showed failing still counts its old evidence",
        "An incident shows FM-[1]'s design did not hold; its tests passed [2] days before and the gate stays open on them.",
        "A failed verdict records when the design failed; evidence received before then is stale, so the change waits for a passing run since and a new sign-off",
        "*domain::gate::tests::a_design_an_incident_showed_failing_needs_evidence_from_after_the_verdict\n*incidents::a_missed_incident_reopens_a_signed_off_change_until_its_new_failure_mode_is_covered::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "The learning numbers drift from the incidents",
        "Leaders reward a prediction rate of [50]% the incidents do not bear out: a moved start, a reclassification or a change's new types left the counts behind.",
        "Counts kept by database triggers in the same transaction as each incident, link and change edit; read by quarter, never by scanning incidents",
        "*learning::prediction_and_hold_rates_on_the_portfolio_match_the_incidents_on_the_change_pages::*",
        (3, 3, 3),
    ),
    fm(
        None,
        "A changed password leaves a stolen session signed in",
        "Someone who took over a session changes the password, or the user changes it after losing a laptop; [2] sessions stay signed in.",
        "A change needs the current password, counted per user against guessing; it moves the user's session epoch, which ends every other session, and restarts this one under a new id",
        "*account::a_user_changes_their_password_and_every_other_session_ends::*\n*account::the_account_page_works_as_plain_forms::*",
        (4, 2, 3),
    ),
    fm(
        None,
        "The identity provider is down when the server starts or at sign-in",
        "The company's OpenID provider is unreachable for [10] minutes during a deploy; a server that needs it at start crashes in a loop, and nobody can sign in or read anything.",
        "Discovery retries in the background and the server serves meanwhile; the sign-in button says the provider cannot be reached; password login goes on where it is allowed; the CLI resets a password for recovery",
        "*sso::a_provider_down_at_start_is_retried_and_the_app_serves_meanwhile\n*sso::the_command_line_resets_a_password_for_recovery",
        (4, 3, 2),
    ),
    fm(
        None,
        "The provider rotates its signing keys",
        "The provider publishes a new key and signs with it; a server holding the keys it fetched at start refuses every sign-in for [hours] until restarted, or a forged key is trusted.",
        "A token naming a key not in the set fetches the provider's keys again, once, and is checked against them; a key the provider never published is refused",
        "*sso::id_tokens_that_fail_validation_are_refused",
        (4, 2, 3),
    ),
    fm(
        None,
        "Clock skew between us and the provider refuses fresh tokens or accepts stale ones",
        "Our clock runs [30] seconds behind or ahead of the provider's; ID tokens look expired as they arrive, or expired ones pass for hours.",
        "Expiry is checked with one minute of allowed skew and no more: a token 30 s past its expiry signs in, one 10 minutes past is refused",
        "*sso::id_tokens_that_fail_validation_are_refused",
        (3, 2, 3),
    ),
    fm(
        None,
        "A forged, replayed or mixed-up callback signs someone in",
        "An attacker sends a victim a callback carrying the attacker's code, replays a used one, or answers from another issuer; the victim works in the attacker's account, or the attacker in theirs.",
        "State and nonce kept in the browser's session and used once, PKCE, the callback's iss and the ID token's iss, aud and signature checked; an address links an account only through an admin's pre-link the provider verified",
        "*sso::forged_replayed_and_refused_callbacks_sign_nobody_in\n*sso::a_prelink_is_confirmed_by_a_verified_address_and_an_address_alone_links_nothing::*\n*sso::allowed_domains_refuse_other_addresses",
        (5, 2, 3),
    ),
    fm(
        None,
        "A removed member's personal token keeps working",
        "A lead removes someone who left the team; the token they made for [their laptop's CI] still uploads and reads for months.",
        "Every API request checks that a personal token's owner is an active member of its team; a lead gives a pipeline's token to another member first",
        "*team_admin::removing_a_member_stops_their_tokens_and_a_lead_gives_one_to_another::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "A session signed out from another device keeps working",
        "A user signs out a lost phone from their account page; the phone's session goes on until it expires [8 hours] later.",
        "Each session is a row its session names by a random handle; signing out deletes the row and a session without its row is refused at its next request",
        "*account::a_user_sees_their_sessions_and_signs_out_others::*",
        (4, 2, 3),
    ),
    fm(
        None,
        "SQLite lock contention fails writes",
        "[50] concurrent writers on one SQLite file; some get \"database is locked\".",
        "All writes through one connection, BEGIN IMMEDIATE, busy timeout",
        "*db::concurrent_writes_all_succeed::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "A CI retry storm stores runs twice",
        "CI retries every upload [3] times after timeouts; the same run arrives again and again.",
        "Idempotency-Key per upload, stored with the reply\nPer-token request budget (429)",
        "*api::retries_with_a_key_store_one_run::*\n*api::a_token_has_a_request_budget::*",
        (3, 4, 3),
    ),
    fm(
        None,
        "The process is killed during a sign-off",
        "SIGKILL arrives while [20] writes, one of them a sign-off, are in flight.",
        "Every mutation in one transaction with its audit entry; synchronous commits",
        "*crash::a_sigkill_during_writes_loses_nothing_acknowledged::*\n*changes::from_change_to_sign_off::*",
        (5, 2, 3),
    ),
    fm(
        None,
        "The session store is unavailable",
        "The database holding sessions is gone for [5 minutes].",
        "Readiness reports it; requests answer with a user-safe error, never internals",
        "*ops::a_lost_database_is_reported_without_internals::*",
        (4, 2, 2),
    ),
    fm(
        None,
        "A hostile upload",
        "A [16 MiB] XML bomb, a truncated report, a DTD with entities.",
        "Streaming parser without DTDs or entities, depth and size limits, clear 4xx",
        "*api::hostile_uploads_get_a_clear_4xx_and_store_nothing::*",
        (4, 3, 2),
    ),
    // What the "Trust" review found, each with the regression tests of its design.
    fm(
        None,
        "User text runs as script in a reader's browser",
        "A member stores `</textarea><img src=x onerror=…>` in a failure mode; a link carries `</title><script>` in its path; [every] lead who opens it runs it.",
        "Every user string reaches HTML through an escaping path (titles and textareas escaped on the server)\nA Content-Security-Policy with a nonce per response on every page, no unsafe-inline",
        "*hostile::*\n*trust::markup_in_the_address_stays_text_and_pages_allow_no_inline_script::*\n*trust::markup_in_a_failure_mode_stays_text_in_the_edit_form::*",
        (5, 3, 4),
    ),
    fm(
        None,
        "One person signs off their own change through a shared token",
        "A second lead registers a change with the first lead's token, opens its gate and signs it off [alone].",
        "A change registered by a token has no author until a person claims it\nNobody signs off a change they authored or that their token registered",
        "*trust::nobody_signs_off_what_they_or_their_token_registered::*\n*trust::a_token_never_makes_its_owner_the_author::*",
        (5, 3, 4),
    ),
    fm(
        None,
        "Unbounded input breaks replies",
        "A [200,000]-character argument to a server function; its error echoes it into a [93 KB] redirect.",
        "Every server-function argument bounded before the function runs (422 naming it)\nError messages quote at most 40 characters of input",
        "*trust::over_long_input_gets_a_small_4xx_naming_the_field::*",
        (3, 3, 2),
    ),
    fm(
        None,
        "A stranger learns which changes and teams exist",
        "A lead of another team probes [1,000] keys and slugs and tells 403 from 404.",
        "An object the caller may not see answers exactly as an unknown one (404), on every path",
        "*trust::a_stranger_cannot_tell_which_changes_and_teams_exist::*",
        (2, 3, 4),
    ),
    fm(
        None,
        "A new API token leaks from the session store",
        "The token shown once after a plain form post rests in the sessions table and WAL for [hours].",
        "The session keeps only the token XOR a one-time pad; the pad lives in a short-lived cookie deleted on display",
        "*trust::a_new_token_is_shown_once_and_never_stored::*",
        (4, 2, 5),
    ),
    fm(
        None,
        "Slow clients starve every CI upload",
        "[4] connections send upload bodies at 1 byte/s; idle and slow-header connections are never closed.",
        "Upload slots are taken only once the body has arrived; a minimum body rate (408)\nHeader-read and idle timeouts close connections",
        "*trust::slow_clients_hold_only_their_own_connection::*\n*api::uploads_beyond_capacity_wait_their_turn_and_a_full_line_says_when_to_return::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "A stranger locks a lead out before sign-off",
        "[5] wrong passwords from anywhere lock the account for 15 minutes, sign-off's password check included.",
        "Throttling per account and address with growing delays, per address with a cap; sign-off re-authentication counted apart; Retry-After on every 429",
        "*trust::nobody_can_lock_someone_else_out::*\n*auth::parallel_guesses_cannot_slip_under_the_limit::*",
        (4, 3, 2),
    ),
    fm(
        None,
        "A backup misses acknowledged writes, or a tampered history goes unnoticed",
        "The disk dies [a day] after a backup taken while CI uploaded; the restored copy lacks sign-offs, or someone edited an audit entry.",
        "premortem backup: VACUUM INTO a temporary file, fsync, rename, while writes go on\npremortem audit verify names the first broken entry",
        "*backup::a_backup_under_load_holds_every_write_acknowledged_before_it\n*audit::verify_names_an_edited_entry::*\n*audit::verify_catches_a_deleted_entry_as_a_broken_link::*",
        (5, 2, 4),
    ),
    fm(
        None,
        "Behind a proxy, one client's guesses slow everyone down",
        "Every request arrives from the TLS proxy's address; [50] wrong passwords from one client throttle all [500] users.",
        "PREMORTEM_TRUSTED_PROXIES: X-Forwarded-For is believed only from a configured proxy, walked from the right",
        "*auth::behind_a_trusted_proxy_each_forwarded_client_is_throttled_alone::*\n*auth::without_trusted_proxies_forwarded_for_is_ignored::*",
        (3, 3, 3),
    ),
    fm(
        None,
        "After an upgrade, browsers run a mix of the old and the new bundle",
        "A cached script from yesterday's release loads today's wasm; [every] open page fails to hydrate until caches expire.",
        "One binary embeds the bundle; pages link only routes named by each file's content hash, served immutable",
        "*assets::pages_link_the_bundle_on_hashed_routes_that_revalidate_without_compressing",
        (4, 3, 3),
    ),
    fm(
        None,
        "An operator's migrate down silently drops the sign-offs and the audit log",
        "Rolling back one release, an operator types `migrate down --to 0`; [every] table goes, with no word.",
        "migrate down names each table, column and row count it would drop, needs --yes, and backs SQLite up first",
        "*db::migrate_down_names_what_it_drops_and_needs_yes::*",
        (5, 2, 2),
    ),
    fm(
        None,
        "A full disk wedges every later write until a restart",
        "The volume fills during an upload; after [10 GB] are freed, every write still fails while /readyz says 200.",
        "A full disk or I/O error answers 503 with Retry-After; a connection left in a transaction is discarded, never reused\n/readyz answers 503 \"database unwritable\" after a disk fault until a probe write works",
        "*db::a_full_disk_answers_503_and_writes_resume_when_space_returns\n*ssr::error::tests::full_disks_io_errors_and_lost_connections_are_transient",
        (5, 2, 3),
    ),
    fm(
        None,
        "During a database outage, pages say 200 and show everyone logged out",
        "The database is away for [5 minutes]; [every] open tab reloads to a page that looks logged out, and monitors see 200.",
        "A page showing a server-side failure answers its status with Retry-After; the header shows no login link for an unknown user\nWhile PostgreSQL is unreachable every request is answered 503 at once; one request at a time checks, outside the pools, whether it is back\nA request running when the database goes is answered 503 within a second: a check with a fresh connection finds a refusal for every request in flight; /readyz asks a fresh connection too",
        "*db::pages_answer_503_while_the_database_is_away::*\n*db::a_postgres_outage_fails_fast_and_recovers_without_a_restart\n*db::an_idle_server_refuses_its_first_request_of_an_outage_at_once",
        (3, 3, 3),
    ),
    fm(
        None,
        "A crafted login link sends the people who follow it to another site",
        "A mail links `/login?next=//evil.example`; [every] user who logs in from it lands on a look-alike page that asks for their password again.",
        "Deep links survive a login through `next`, which the login follows only to a path of this site (ReturnTo): absolute, scheme-relative and backslashed addresses, the login page and the server's endpoints land on the start page",
        "*auth::a_deep_link_survives_the_login::*\n*domain::return_to::tests::*",
        (4, 2, 4),
    ),
    fm(
        None,
        "The API refuses requests its own document allows",
        "A pipeline's client generated from the OpenAPI document sends a design with an empty title; [every] deploy step built on it fails with a 422 the document never mentioned.",
        "Each field's server check and its schema's pattern are one rule, written by the domain (domain::text); a test walks every request schema and fails on a string without a rule; schemathesis runs a fresh seed in every CI run",
        "*rest::openapi::tests::every_string_a_request_carries_has_a_rule\n*domain::text::tests::*\n*api::what_the_document_allows_the_api_takes::*",
        (3, 3, 3),
    ),
    fm(
        None,
        "One team's burst starves another team's uploads",
        "A merge train queues [200] uploads of one team; another team's single upload waits behind all of them, or wins only by retrying at the right moment.",
        "One line, first come first served within a team and teams served in turn; Retry-After and the expected wait come from the measured drain rate",
        "*rest::queue::tests::*\n*api::uploads_beyond_capacity_wait_their_turn_and_a_full_line_says_when_to_return::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "An over-large upload hears a reset instead of its 413",
        "[8] CI jobs send [25 MiB] reports at once with a client that writes the whole body before reading; each sees a broken pipe and retries forever.",
        "The declared size is checked before the line; up to 4x the limit is read and dropped before the 413, then the connection closes",
        "*api::over_large_uploads_all_hear_413::*",
        (3, 3, 3),
    ),
    fm(
        None,
        "A refused upload is heard as a reset",
        "A CI job with a [revoked] token, or a report that is [not XML], writes its whole [6 MiB] body before reading; the server stops reading, the job sees a broken pipe and retries forever without the reason.",
        "Every refusal of an upload before its body has ended, 401 and 429 included, reads and drops the rest (up to 4x the limit) at the minimum pace, then closes the connection",
        "*api::uploads_refused_before_their_body_ends_are_heard::*",
        (3, 3, 3),
    ),
    fm(
        None,
        "A burst of large reports holds every body in memory",
        "[8] pipelines post [16 MiB] reports at once; each body is held whole, copied, then parsed, and memory peaks at [300 MiB] on a small instance.",
        "The body is decompressed and parsed as it arrives, on a blocking thread fed piece by piece; UTF-8, size and the idempotency hash are checked in passing; positions in errors stay exact",
        "*rest::junit::tests::a_report_arriving_a_byte_at_a_time_reads_the_same_and_errors_keep_their_position\n*rest::evidence::tests::utf8_is_checked_across_pieces_and_a_bad_byte_is_placed_where_it_is\n*rest::evidence::tests::a_decoded_body_past_its_limit_is_refused_as_too_large",
        (3, 3, 3),
    ),
    fm(
        None,
        "After a burst, an idle server never gives its memory back",
        "[8] pipelines post [16 MiB] reports at once; an hour later the idle server still holds [250 MiB] it no longer uses.",
        "SQLite connections idle for 5 s close, with their page caches and threads\njemalloc's background thread returns freed pages after about a second, whether or not anything else runs; results are freed on the thread that parsed them (make bench measures idle memory after the burst)",
        "*db::idle_sqlite_connections_close_after_a_burst",
        (3, 3, 4),
    ),
    fm(
        None,
        "A stuck PostgreSQL holds every page",
        "A migration or a reporting query holds a lock on [changes] for [minutes]; every page waits behind it until the request timeout.",
        "Every PostgreSQL connection has a statement timeout (lock waits included); a cancelled statement answers 503 with Retry-After without tripping the outage gate; migrations run on a connection of their own without it",
        "*db::a_stuck_postgres_statement_is_cut_off_at_the_statement_timeout",
        (4, 2, 3),
    ),
    fm(
        None,
        "A webhook receiver is down and events are lost",
        "A team's receiver is unreachable for [a minute] (or a day) while [7] events of one change happen.",
        "A transactional outbox: each event's delivery rows are written in the mutation's own transaction\nRetries back off (1 s doubling to an hour, with jitter) and heed Retry-After, for 24 h before failing; 3 days failing disables the endpoint and its leads see why\nOne change's events reach an endpoint in order",
        "*webhooks::a_change_life_reaches_a_verifying_receiver_in_order_after_a_minute_down::*",
        (4, 3, 3),
    ),
    fm(
        None,
        "A slow webhook receiver holds up every team's notifications",
        "One receiver accepts connections and [never] answers; [16] deliveries wait on it while other teams' events queue.",
        "Every request has a 10 s timeout and a 64 KiB answer cap; deliveries run concurrently (a bounded number), and one endpoint's queue blocks only that endpoint",
        "*webhooks::a_receiver_that_never_answers_times_out_and_holds_up_no_other::*",
        (3, 3, 3),
    ),
    fm(
        None,
        "A crash between commit and delivery loses or doubles an event",
        "SIGKILL arrives after a sign-off committed and before its webhook was sent; [two] instances then share the outbox.",
        "Delivery rows commit with the event; a claim is a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so a killed try is retried after it lapses and no row is sent by two instances at once; each event keeps one webhook-id for receivers to drop repeats",
        "*webhooks::a_delivery_pending_at_a_sigkill_arrives_after_the_restart::*\n*webhooks::a_delivery_in_flight_at_a_sigkill_is_sent_again_after_the_restart::*\n*webhooks::two_instances_on_one_postgresql_deliver_a_burst_once_each",
        (5, 2, 3),
    ),
    fm(
        None,
        "A webhook reaches inside the network (SSRF)",
        "A lead subscribes [http://169.254.169.254/], over the API or on the Webhooks page, or a name that resolves, later, to [10.0.0.5].",
        "Destinations must be https; every address a name resolves to must be public, checked by one check at creation (both doors) and by the resolver at every delivery; no redirects, no proxy",
        "*webhooks::destinations_inside_the_network_are_refused_at_creation_and_at_delivery::*\n*webhooks::the_page_refuses_what_the_api_refuses_and_only_the_teams_leads_manage::*\n*outbound::tests::only_public_addresses_are_reachable",
        (5, 2, 2),
    ),
    fm(
        None,
        "A sign-off races a failing run and stands on failing evidence",
        "A lead signs off in the [same second] a pipeline posts a failing run for the change (on PostgreSQL, two instances).",
        "The run and the sign-off lock the change's row (PostgreSQL) or share SQLite's one writer; the sign-off re-reads the gate under the lock",
        "*api::a_sign_off_racing_a_failing_run_never_stands_on_failing_evidence::*",
        (5, 2, 3),
    ),
    fm(
        None,
        "An outage's log lines cannot be tied to the requests that hit it",
        "During a database outage, [hundreds] of lines say the database is unavailable, with no request id for the ones Leptos logs while rendering.",
        "Leptos' render tasks are spawned inside the request's span, so every line carries request_id",
        "*db::pages_answer_503_while_the_database_is_away::*",
        (2, 3, 3),
    ),
];

async fn add_fms(db: &Db, actor: &Actor, key: &ChangeKey, fms: &[Fm]) -> Result<(), AppError> {
    let change = changes::by_key(db, key).await?;
    let mut inputs = Vec::new();
    let mut keys = Vec::new();
    for f in fms {
        let template = f.template.and_then(app::domain::catalogue::by_id);
        let (s, l, d) = f.ratings;
        let mut fields = match template {
            Some(template) => app::domain::catalogue::Suggestion::from(template).fields(),
            None => FailureModeFields { title: f.title.to_owned(), ..FailureModeFields::default() },
        };
        if template.is_none()
            && let Some(scenario) = fields.texts.get_mut("scenario")
        {
            f.scenario.clone_into(scenario);
        }
        (fields.severity, fields.likelihood, fields.detectability) =
            (s.to_string(), l.to_string(), d.to_string());
        fields.designs = Design::lines(f.designs);
        fields.selectors = Selector::lines(f.tests);
        inputs.push(FailureModeInput::try_from(fields)?);
        keys.push(f.template.map(|t| TemplateRef::BuiltIn(t.to_owned())));
    }
    failure_modes::add_failure_modes(db, actor, &change, &inputs, &keys).await?;
    Ok(())
}

async fn upload(
    db: &Db,
    token: &app::ssr::store::tokens::Authenticated,
    commit: &str,
    results: &[(&str, Outcome)],
) -> Result<(), AppError> {
    let run = app::ssr::store::evidence::RunInput {
        commit: Some(commit.to_owned()),
        branch: Some("main".to_owned()),
        pipeline_url: Some(format!("https://ci.example.com/pipelines/{commit}")),
        run_key: None,
    };
    let submitted: Vec<_> = results
        .iter()
        .map(|(id, outcome)| app::ssr::ingest::Submitted {
            test_id: (*id).to_owned(),
            outcome: *outcome,
            duration_ms: Some(12),
            message: None,
            failure_mode: None,
        })
        .collect();
    app::ssr::ingest::ingest(db, token, None, &run, &submitted, Vec::new()).await?;
    Ok(())
}

/// A person of the small demo: username, display name, and the role shown beside the
/// printed password (`admin` makes an administrator).
const PEOPLE: [(&str, &str, &str); 6] = [
    ("demo-admin", "Dana Admin", "admin"),
    ("rita", "Rita Radiology", "lead of RAD and PM"),
    ("sam", "Sam Engineer", "member of RAD, REL, AGT, PM"),
    ("lee", "Lee Release", "lead of REL"),
    ("ana", "Ana Agents", "lead of AGT"),
    ("vic", "Vic Viewer", "viewer of RAD"),
];

/// A team of the small demo: slug, name, and its members (username, role).
type DemoTeam = (&'static str, &'static str, &'static [(&'static str, Role)]);

/// The small demo's teams and their members.
const TEAMS: [DemoTeam; 4] = [
    ("RAD", "Radiology platform", &[("rita", Role::Lead), ("sam", Role::Member), ("vic", Role::Viewer)]),
    ("REL", "Release engineering", &[("lee", Role::Lead), ("sam", Role::Member)]),
    ("AGT", "Customer agents", &[("ana", Role::Lead), ("sam", Role::Member)]),
    ("PM", "Premortem", &[("rita", Role::Lead), ("sam", Role::Member)]),
];

/// The one who registers the demo's changes, records their happy paths and adds their
/// failure modes (a member of every team).
const AUTHOR: &str = "sam";

/// What happens to a demo change after its failure modes are added, in order.
enum Step {
    /// CI posts a run (commit, results) with the team's token.
    Upload(&'static str, &'static [(&'static str, Outcome)]),
    /// A lead (username) signs it off.
    SignOff(&'static str),
    /// The author cancels it, with the reason.
    Cancel(&'static str),
}

/// One change of the small demo; its key follows from its place among its team's changes.
struct DemoChange {
    team: &'static str,
    title: &'static str,
    summary: &'static str,
    types: &'static [ChangeType],
    /// Days ago its happy path was recorded working, and the note.
    happy: Option<(i64, &'static str)>,
    failure_modes: &'static [Fm],
    steps: &'static [Step],
}

/// The small demo's changes, in the order they are registered.
const CHANGES: [DemoChange; 8] = [
    // Radiology: the essay's exam queue, mid-way: happy path works, failure cases in progress.
    DemoChange {
        team: "RAD",
        title: "Move exam processing onto a queue",
        summary: "Exams from the scanners go through a queue to the reading workers instead of a direct call.",
        types: &[ChangeType::Queue],
        happy: Some((20, "Demo with the staging scanners")),
        failure_modes: &[
            fm(
                Some("queue-backlog-after-outage"),
                "",
                "",
                "Backpressure and drain-rate alerting ADR https://wiki.example.com/adr/12",
                "exams::queue::backlog_drains_*",
                (4, 3, 3),
            ),
            fm(
                Some("queue-scaling-saturates-shared-database"),
                "",
                "",
                "Connection budget per worker; scale on DB headroom",
                "exams::queue::scaling_50_workers",
                (4, 3, 4),
            ),
            fm(
                Some("queue-no-priority-lane"),
                "",
                "",
                "Priority lane for stat exams",
                "exams::queue::stat_exam_overtakes_backlog",
                (5, 3, 3),
            ),
            fm(
                Some("queue-cannot-find-or-reorder-item"),
                "",
                "",
                "Admin search and move-to-front",
                "",
                (3, 3, 3),
            ),
            fm(
                Some("queue-no-eta-or-position"),
                "",
                "",
                "Position and ETA from drain rate",
                "exams::queue::eta_*",
                (3, 4, 2),
            ),
        ],
        steps: &[Step::Upload(
            "4f1c2a9",
            &[
                ("exams::queue::backlog_drains_after_outage", Passed),
                ("exams::queue::backlog_drains_without_loss", Passed),
                ("exams::queue::scaling_50_workers", Failed),
                ("exams::queue::stat_exam_overtakes_backlog", Passed),
            ],
        )],
    },
    DemoChange {
        team: "RAD",
        title: "Priority lane for stat exams",
        summary: "Urgent exams skip the backlog.",
        types: &[ChangeType::Queue],
        happy: Some((50, "Stat exams routed in staging")),
        failure_modes: &[
            fm(
                Some("queue-poison-message"),
                "",
                "",
                "Dead-letter after 3 attempts",
                "exams::lane::poison_*",
                (4, 2, 3),
            ),
            fm(
                Some("queue-duplicate-delivery"),
                "",
                "",
                "Idempotent handler keyed by exam id",
                "exams::lane::duplicate_*",
                (3, 3, 3),
            ),
            fm(
                None,
                "Lane starves routine exams",
                "[200] stat exams an hour keep routine exams waiting for [6 hours].",
                "Weighted fair share between lanes",
                "exams::lane::routine_still_served",
                (3, 2, 3),
            ),
        ],
        steps: &[
            Step::Upload(
                "9be0d41",
                &[
                    ("exams::lane::poison_message_dead_lettered", Passed),
                    ("exams::lane::duplicate_exam_processed_once", Passed),
                    ("exams::lane::routine_still_served", Passed),
                ],
            ),
            Step::SignOff("rita"),
        ],
    },
    DemoChange {
        team: "RAD",
        title: "Archive studies older than 7 years",
        summary: "Move old imaging studies to cold storage.",
        types: &[ChangeType::Migration],
        happy: None,
        failure_modes: &[],
        steps: &[],
    },
    // Release engineering: release night, overdue; a platform upgrade that regressed.
    DemoChange {
        team: "REL",
        title: "Release night: billing, ledger and notifications together",
        summary: "Three integrated systems roll out in one window; ledger v5 has no down migration.",
        types: &[ChangeType::Rollout],
        happy: Some((45, "All three deployed to staging together")),
        failure_modes: &[
            fm(
                Some("rollout-chained-step-cannot-roll-back"),
                "",
                "",
                "Rollback drill before release night; ledger change behind a flag",
                "release::rollback_drill_*",
                (5, 3, 3),
            ),
            fm(
                Some("rollout-mixed-versions-incompatible"),
                "",
                "",
                "Expand/contract: old and new versions read both shapes",
                "release::mixed_versions_*",
                (4, 3, 3),
            ),
            fm(Some("rollout-partial-deploy"), "", "", "", "", (4, 2, 3)),
        ],
        steps: &[Step::Upload(
            "a71e3c0",
            &[("release::rollback_drill_billing", Passed), ("release::rollback_drill_ledger", Passed)],
        )],
    },
    DemoChange {
        team: "REL",
        title: "Kubernetes 1.31 upgrade",
        summary: "Node pools upgraded zone by zone.",
        types: &[ChangeType::Infrastructure],
        happy: Some((60, "Staging cluster upgraded")),
        failure_modes: &[
            fm(
                Some("infra-network-partition-between-zones"),
                "",
                "",
                "Zone-aware retries; quorum per zone",
                "platform::partition_*",
                (4, 2, 3),
            ),
            fm(
                Some("infra-disk-full-on-database-host"),
                "",
                "",
                "Alert at 80%, automatic volume growth",
                "platform::disk_*",
                (4, 2, 2),
            ),
            fm(
                Some("infra-restore-never-tested"),
                "",
                "",
                "Monthly restore drill",
                "platform::restore_drill",
                (5, 2, 4),
            ),
        ],
        steps: &[
            Step::Upload(
                "c03d9aa",
                &[
                    ("platform::partition_zone_b_isolated", Passed),
                    ("platform::disk_full_alerts", Passed),
                    ("platform::restore_drill", Passed),
                ],
            ),
            Step::SignOff("lee"),
            // A week later the restore drill fails: the signed-off change regresses.
            Step::Upload("d4e5f60", &[("platform::restore_drill", Failed)]),
        ],
    },
    DemoChange {
        team: "REL",
        title: "Switch to payment provider v2",
        summary: "Replaced by a broader project.",
        types: &[ChangeType::Dependency],
        happy: None,
        failure_modes: &[],
        steps: &[Step::Cancel("Folded into the payments platform project")],
    },
    // Customer agents: autonomous agents change customer records.
    DemoChange {
        team: "AGT",
        title: "Agents update customer addresses from emails",
        summary: "An AI agent reads customer emails and updates addresses without a human in the loop.",
        types: &[ChangeType::AiAgent],
        happy: Some((10, "Agent handles the staging inbox")),
        failure_modes: &[
            fm(
                Some("agent-silently-writes-wrong-records"),
                "",
                "",
                "Every agent write attributed and diffed; daily sample review",
                "agents::address::wrong_write_*",
                (5, 3, 5),
            ),
            fm(
                Some("agent-runaway-loop-or-cost"),
                "",
                "",
                "Per-run step and spend caps",
                "agents::address::budget_*",
                (4, 3, 3),
            ),
            fm(
                Some("agent-no-approval-for-destructive-actions"),
                "",
                "",
                "Approval queue for deletions",
                "agents::address::approval_required",
                (5, 2, 3),
            ),
        ],
        steps: &[Step::Upload(
            "1a2b3c4",
            &[
                ("agents::address::wrong_write_detected_by_sampling", Passed),
                ("agents::address::budget_stops_the_loop", Passed),
            ],
        )],
    },
    // Premortem itself: its gate opens when this repository's CI uploads its test results.
    DemoChange {
        team: "PM",
        title: "Premortem itself",
        summary: "This application, planned for its own failure. CI uploads the project's JUnit results on every commit.",
        types: &[ChangeType::Queue, ChangeType::Infrastructure],
        happy: Some((5, "All pages and the CI API work end to end")),
        failure_modes: &DOGFOOD,
        steps: &[],
    },
];

/// Loads the small demo into an empty database: four teams, people with the passwords in
/// the returned list, and changes in every status (the hospital exam queue, a release-night
/// rollout with a rollback drill, an AI-agent change, and Premortem itself, whose gate this
/// repository's CI opens). `hash` turns a password into its stored hash.
pub async fn small<F, Fut>(db: &Db, hash: F) -> Result<Vec<Person>, AppError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, AppError>>,
{
    use app::domain::{DisplayName, TeamName, TeamSlug, Username};
    use app::ssr::store::{teams, users};

    refuse_existing_changes(db).await?;
    let mut people = Vec::new();
    let mut ids = Vec::new();
    for (username, display_name, role) in PEOPLE {
        let password = random_password();
        let id = users::create(
            db,
            &Actor::Cli,
            &Username::parse(username)?,
            &DisplayName::parse(display_name)?,
            &hash(password.clone()).await?,
            role == "admin",
        )
        .await?;
        ids.push((username, id));
        people.push(Person { username, display_name, role, password });
    }
    let id_of = |name: &str| {
        ids.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
            .ok_or_else(|| AppError::Conflict("demo user".into()))
    };
    let mut team_ids = Vec::new();
    for (slug, name, members) in TEAMS {
        let team = teams::create(db, &Actor::Cli, &TeamSlug::parse(slug)?, &TeamName::parse(name)?).await?;
        for (user, role) in members {
            teams::set_membership(db, &Actor::Cli, team, id_of(user)?, Some(*role)).await?;
        }
        team_ids.push((slug, team, None));
    }
    let author = Actor::User { id: id_of(AUTHOR)?, username: AUTHOR.into() };
    for demo in &CHANGES {
        let Some((_, team, token)) = team_ids.iter_mut().find(|(slug, ..)| *slug == demo.team) else {
            return Err(AppError::Conflict("demo team".into()));
        };
        let key = register(db, &author, *team, demo).await?;
        for step in demo.steps {
            match step {
                Step::Upload(commit, results) => {
                    if token.is_none() {
                        *token = Some(ci_token(db, *team, id_of(AUTHOR)?).await?);
                    }
                    let Some(token) = token.as_ref() else { continue };
                    upload(db, token, commit, results).await?;
                }
                Step::SignOff(lead) => {
                    let by = id_of(lead)?;
                    let actor = Actor::User { id: by, username: (*lead).into() };
                    app::ssr::review::sign_off(db, &actor, by, lead, &key).await?;
                }
                Step::Cancel(reason) => {
                    let change = changes::by_key(db, &key).await?;
                    changes::cancel(db, &author, &change, reason).await?;
                }
            }
        }
    }
    exam_queue_incidents(db, &author).await?;
    coverage::record_daily(db, Days(400)).await?;
    Ok(people)
}

/// The exam queue's two incidents: the backlog after a network outage, which its FM-1
/// predicted and whose design held, and a poison exam that crashed every worker, which no
/// failure mode described: it became the change's next failure mode and a team template.
async fn exam_queue_incidents(db: &Db, author: &Actor) -> Result<(), AppError> {
    use app::domain::catalogue::{TemplateFields, TemplateInput};
    use app::domain::incident::{Classification, IncidentFields, IncidentInput};
    use app::ssr::store::incidents::{self, Lesson};
    let change = changes::by_key(db, &ChangeKey::parse("RAD-1")?).await?;
    let now = Timestamp::now();
    let hours = |h: u64| std::time::Duration::from_secs(h * 3600);
    let record = |title: &str, severity: &str, days_ago: i64, external: &str| {
        let started = now - Days(days_ago);
        IncidentInput::check(
            IncidentFields {
                title: title.to_owned(),
                severity: severity.to_owned(),
                started_at: Some(started),
                resolved_at: Some(started + hours(3)),
                url: format!("https://incidents.example.com/{external}"),
                external_id: external.to_owned(),
                changes: vec![change.key.to_string()],
            },
            now,
        )
    };
    let outage = record(
        "Network outage left 9,000 exams queued; the backlog drained as designed",
        "SEV3",
        12,
        "INC-2041",
    )?;
    let (held, _) =
        incidents::record(db, author, change.team_id, std::slice::from_ref(&change), &outage, None).await?;
    let predicted = Classification::Predicted { failure_mode: 1, held: true };
    incidents::classify(db, author, &change, held, &predicted, None).await?;

    let poison = record("A poison exam crashed every worker", "SEV2", 5, "INC-2077")?;
    let (missed, _) =
        incidents::record(db, author, change.team_id, std::slice::from_ref(&change), &poison, None).await?;
    let (title, scenario, effect) = (
        "A poison exam crashes every worker in turn",
        "One malformed exam is retried by each of [50] workers in turn; each crashes, and the queue stops for [2 hours].",
        "No exam is read until someone removes the poison exam by hand.",
    );
    let form: std::collections::BTreeMap<String, String> = [
        ("title", title),
        ("scenario", scenario),
        ("effect", effect),
        ("severity", "4"),
        ("likelihood", "3"),
        ("detectability", "3"),
        ("designs", "Dead-letter a message after two failed tries"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let fields = FailureModeFields::from_form(&form);
    let template = TemplateInput::try_from(TemplateFields::of_failure_mode(
        ChangeType::Queue.as_str().to_owned(),
        &fields,
    ))?;
    let lesson = Lesson { failure_mode: FailureModeInput::try_from(fields)?, template: Some(template) };
    incidents::classify(db, author, &change, missed, &Classification::Missed, Some(&lesson)).await?;
    Ok(())
}

/// Registers a demo change by its author, records its happy path and adds its failure modes.
async fn register(db: &Db, author: &Actor, team: TeamId, demo: &DemoChange) -> Result<ChangeKey, AppError> {
    let Actor::User { id: by, .. } = author else {
        return Err(AppError::Conflict("demo author".into()));
    };
    let fields = ChangeFields {
        title: demo.title.to_owned(),
        summary: demo.summary.to_owned(),
        types: demo.types.to_vec(),
        ..ChangeFields::default()
    };
    let details = ChangeDetails::try_from(fields)?;
    let key = changes::create(db, author, team, changes::Registrar::Person(*by), &details).await?;
    if let Some((days_ago, note)) = demo.happy {
        let change = changes::by_key(db, &key).await?;
        changes::record_happy_path(db, author, Some(*by), &change, note, Timestamp::now() - Days(days_ago))
            .await?;
    }
    if !demo.failure_modes.is_empty() {
        add_fms(db, author, &key, demo.failure_modes).await?;
    }
    Ok(key)
}

/// A token of `team` with every scope, owned by `owner`, as the demo's CI uses it.
async fn ci_token(
    db: &Db,
    team: TeamId,
    owner: app::domain::UserId,
) -> Result<app::ssr::store::tokens::Authenticated, AppError> {
    use app::domain::scope::Scope;
    use app::ssr::store::tokens;
    let secret = tokens::create(db, &Actor::Cli, team, Some(owner), "demo-ci", &Scope::ALL, None).await?;
    tokens::authenticate(db, &secret).await?.ok_or_else(|| AppError::Conflict("demo token".into()))
}
