//! Data sets to try Premortem with. `large` is a load fixture for the dashboard benchmark:
//! 10 teams × 100 changes × 10 failure modes, 30,000 tests and 1,000,000 results, written
//! with bulk statements (one run per team and day over ~100 days), then derived with the
//! same code ingestion uses.

use app::domain::catalogue::TemplateRef;
use app::domain::change::{ChangeDetails, ChangeFields, ChangeKey, ChangeStatus, ChangeType};
use app::domain::{AppError, TeamId};
use app::ssr::coverage::{self, Derivable};
use app::ssr::db::{Db, now_ms};
use app::ssr::store::changes;
use sqlx::{Any, AnyConnection, query::Query};

use app::domain::time::DAY_MS;

/// How big a data set is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub teams: i64,
    pub changes_per_team: i64,
    pub failure_modes_per_change: i64,
    pub tests_per_failure_mode: i64,
    /// Runs per team; each reports every test of the team once.
    pub runs_per_team: i64,
}

impl Scale {
    /// 1,000 changes, 10,000 failure modes, 30,000 tests, 1,020,000 results.
    pub const LARGE: Scale = Scale {
        teams: 10,
        changes_per_team: 100,
        failure_modes_per_change: 10,
        tests_per_failure_mode: 3,
        runs_per_team: 34,
    };

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

/// Inserts `rows` into `table` in statements of a few hundred rows each.
async fn insert(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<V>],
) -> Result<(), sqlx::Error> {
    let per_statement = (8_000 / columns.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..columns.len() {
                n += 1;
                if c > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                query = bind(query, v);
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes a data set of `scale` into a database without changes. Users: `bench-lead`, a
/// lead of every team, authors its changes (its password hash is `password_hash`).
pub async fn generate(db: &Db, scale: Scale, password_hash: &str) -> Result<Written, AppError> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes").fetch_one(db.read()).await?;
    if existing > 0 {
        return Err(AppError::Conflict(
            "Demo data goes into an empty database; this one has changes.".into(),
        ));
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let lead: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash, is_admin, created_at, updated_at)
         VALUES ('bench-lead', 'Bench Lead', $1, 0, $2, $2) RETURNING id",
    )
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let statuses = [
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

        let mut rows = Vec::new();
        for c in 1..=scale.changes_per_team {
            let status = statuses[(c as usize) % statuses.len()];
            let created = now - (c * 7 % 180 + 30) * DAY_MS;
            let happy = (status != ChangeStatus::Draft).then_some(created + (c % 20 + 5) * DAY_MS);
            let target = happy.map(|h| h + 30 * DAY_MS);
            let signed = matches!(status, ChangeStatus::FailureCasesComplete | ChangeStatus::Regressed)
                .then(|| happy.map(|h| (h + (c % 40 + 10) * DAY_MS).min(now)))
                .flatten();
            let kind = ChangeType::ALL[(c as usize) % ChangeType::ALL.len()];
            let opt = |v: Option<i64>| v.map(V::I).unwrap_or(V::N);
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
                V::I(created),
                V::I(created),
            ]);
        }
        insert(
            &mut tx,
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
        .await?;
        written.changes += scale.changes_per_team;

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
                    V::I(now),
                    V::I(now),
                ]);
                for k in 0..scale.tests_per_failure_mode {
                    tests.push(format!("{prefix}case_{k}"));
                }
            }
        }
        insert(
            &mut tx,
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
        written.failure_modes += i64::try_from(fms.len()).unwrap_or(0);

        // Runs every third day, newest last; every run reports every test.
        let runs: Vec<Vec<V>> = (0..scale.runs_per_team)
            .map(|r| {
                let at = now - (scale.runs_per_team - r) * 3 * DAY_MS + DAY_MS;
                vec![V::I(team), V::S(format!("{:040x}", r * 7919 + t)), V::S("main".into()), V::I(at)]
            })
            .collect();
        insert(&mut tx, "evidence_runs", &["team_id", "commit_sha", "branch", "received_at"], &runs).await?;
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
        insert(&mut tx, "evidence_latest", &["team_id", "test_id", "outcome", "run_id", "at"], &latest)
            .await?;
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
        written.results += i64::try_from(history.rows_affected()).unwrap_or(0);
    }
    tx.commit().await?;

    // Coverage facts, derived by the code ingestion uses.
    for team in team_ids {
        let fms = changes::team_failure_modes(db.read(), team).await?;
        let derivable: Vec<Derivable<'_>> = fms.iter().map(|t| t.fm.derivable()).collect();
        let mut tx = db.begin_write().await?;
        coverage::refresh(&mut tx, team, &derivable).await?;
        tx.commit().await?;
    }
    coverage::record_daily(db, 400).await?;
    Ok(written)
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
pub const DOGFOOD: [Fm; 26] = [
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
        "*assets::pages_link_the_bundle_on_hashed_routes_served_compressed",
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
        "A page showing a server-side failure answers its status with Retry-After; the header shows no login link for an unknown user\nWhile PostgreSQL is unreachable every request is answered 503 at once; one request at a time checks, outside the pools, whether it is back",
        "*db::pages_answer_503_while_the_database_is_away::*\n*db::a_postgres_outage_fails_fast_and_recovers_without_a_restart",
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
        "A stuck PostgreSQL holds every page",
        "A migration or a reporting query holds a lock on [changes] for [minutes]; every page waits behind it until the request timeout.",
        "Every PostgreSQL connection has a statement timeout (lock waits included); a cancelled statement answers 503 with Retry-After without tripping the outage gate; migrations run on a connection of their own without it",
        "*db::a_stuck_postgres_statement_is_cut_off_at_the_statement_timeout",
        (4, 2, 3),
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

async fn add_fms(
    db: &Db,
    actor: &app::ssr::audit::Actor,
    key: &ChangeKey,
    fms: &[Fm],
) -> Result<(), AppError> {
    let change = changes::by_key(db, key).await?;
    let mut inputs = Vec::new();
    let mut keys = Vec::new();
    for f in fms {
        let template = f.template.and_then(app::domain::catalogue::by_id);
        let (s, l, d) = f.ratings;
        inputs.push(changes::FailureModeInput::parse(
            template.map_or(f.title, |t| t.title),
            &template.map_or(f.scenario.to_owned(), |t| t.scenario.to_owned()),
            template.map_or("", |t| t.effect),
            template.map_or("", |t| t.detection),
            &s.to_string(),
            &l.to_string(),
            &d.to_string(),
            f.designs,
            f.tests,
        )?);
        keys.push(f.template.map(|t| TemplateRef::BuiltIn(t.to_owned())));
    }
    changes::add_failure_modes(db, actor, &change, &inputs, &keys).await?;
    Ok(())
}

async fn upload(
    db: &Db,
    token: &app::ssr::store::tokens::Authenticated,
    commit: &str,
    results: &[(&str, app::domain::gate::Outcome)],
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

/// Loads the small demo into an empty database: four teams, people with the passwords in
/// the returned list, and changes in every status (the hospital exam queue, a release-night
/// rollout with a rollback drill, an AI-agent change, and Premortem itself, whose gate this
/// repository's CI opens). `hash` turns a password into its stored hash.
pub async fn small<F, Fut>(db: &Db, hash: F) -> Result<Vec<Person>, AppError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, AppError>>,
{
    use app::domain::gate::Outcome::{Failed, Passed};
    use app::domain::scope::Scope;
    use app::domain::{DisplayName, Role, TeamName, TeamSlug, Username};
    use app::ssr::audit::Actor;
    use app::ssr::store::{teams, tokens, users};

    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes").fetch_one(db.read()).await?;
    if existing > 0 {
        return Err(AppError::Conflict(
            "Demo data goes into an empty database; this one has changes.".into(),
        ));
    }
    let day = DAY_MS;
    let now = now_ms();
    let mut people = vec![
        Person { username: "demo-admin", display_name: "Dana Admin", role: "admin", password: String::new() },
        Person {
            username: "rita",
            display_name: "Rita Radiology",
            role: "lead of RAD and PM",
            password: String::new(),
        },
        Person {
            username: "sam",
            display_name: "Sam Engineer",
            role: "member of RAD, REL, AGT, PM",
            password: String::new(),
        },
        Person { username: "lee", display_name: "Lee Release", role: "lead of REL", password: String::new() },
        Person { username: "ana", display_name: "Ana Agents", role: "lead of AGT", password: String::new() },
        Person {
            username: "vic",
            display_name: "Vic Viewer",
            role: "viewer of RAD",
            password: String::new(),
        },
    ];
    let mut ids = Vec::new();
    for p in &mut people {
        p.password = random_password();
        let id = users::create(
            db,
            &Actor::Cli,
            &Username::parse(p.username)?,
            &DisplayName::parse(p.display_name)?,
            &hash(p.password.clone()).await?,
            p.role == "admin",
        )
        .await?;
        ids.push(id);
    }
    let [_, rita, sam, lee, ana, vic] = ids[..] else {
        return Err(AppError::Conflict("demo users".into()));
    };
    let mut team_ids = Vec::new();
    for (slug, name, members) in [
        ("RAD", "Radiology platform", vec![(rita, Role::Lead), (sam, Role::Member), (vic, Role::Viewer)]),
        ("REL", "Release engineering", vec![(lee, Role::Lead), (sam, Role::Member)]),
        ("AGT", "Customer agents", vec![(ana, Role::Lead), (sam, Role::Member)]),
        ("PM", "Premortem", vec![(rita, Role::Lead), (sam, Role::Member)]),
    ] {
        let team = teams::create(db, &Actor::Cli, &TeamSlug::parse(slug)?, &TeamName::parse(name)?).await?;
        for (user, role) in members {
            teams::set_membership(db, &Actor::Cli, team, user, Some(role)).await?;
        }
        team_ids.push(team);
    }
    let [rad, rel, agt, pm] = team_ids[..] else {
        return Err(AppError::Conflict("demo teams".into()));
    };
    let sam_actor = Actor::User { id: sam, username: "sam".into() };
    let token = |team| async move {
        let secret = tokens::create(db, &Actor::Cli, team, Some(sam), "demo-ci", &Scope::ALL, None).await?;
        tokens::authenticate(db, &secret).await?.ok_or_else(|| AppError::Conflict("demo token".into()))
    };
    let create = |team, title: &str, summary: &str, types: Vec<ChangeType>| {
        let fields = ChangeFields {
            title: title.to_owned(),
            summary: summary.to_owned(),
            types,
            ..ChangeFields::default()
        };
        let actor = sam_actor.clone();
        async move {
            let new = ChangeDetails::try_from(fields)?;
            changes::create(db, &actor, team, changes::Registrar::Person(sam), &new).await
        }
    };
    let happy = |key: ChangeKey, days_ago: i64, note: &'static str| {
        let actor = sam_actor.clone();
        async move {
            let change = changes::by_key(db, &key).await?;
            changes::record_happy_path(db, &actor, Some(sam), &change, note, now - days_ago * day).await
        }
    };
    let sign = |key: ChangeKey, by: app::domain::UserId, name: &'static str| async move {
        let actor = Actor::User { id: by, username: name.into() };
        app::ssr::review::sign_off(db, &actor, by, name, &key).await
    };

    // Radiology: the essay's exam queue, mid-way: happy path works, failure cases in progress.
    let rad_token = token(rad).await?;
    let queue = create(
        rad,
        "Move exam processing onto a queue",
        "Exams from the scanners go through a queue to the reading workers instead of a direct call.",
        vec![ChangeType::Queue],
    )
    .await?;
    happy(queue.clone(), 20, "Demo with the staging scanners").await?;
    add_fms(
        db,
        &sam_actor,
        &queue,
        &[
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
    )
    .await?;
    upload(
        db,
        &rad_token,
        "4f1c2a9",
        &[
            ("exams::queue::backlog_drains_after_outage", Passed),
            ("exams::queue::backlog_drains_without_loss", Passed),
            ("exams::queue::scaling_50_workers", Failed),
            ("exams::queue::stat_exam_overtakes_backlog", Passed),
        ],
    )
    .await?;
    let lane = create(
        rad,
        "Priority lane for stat exams",
        "Urgent exams skip the backlog.",
        vec![ChangeType::Queue],
    )
    .await?;
    happy(lane.clone(), 50, "Stat exams routed in staging").await?;
    add_fms(
        db,
        &sam_actor,
        &lane,
        &[
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
    )
    .await?;
    upload(
        db,
        &rad_token,
        "9be0d41",
        &[
            ("exams::lane::poison_message_dead_lettered", Passed),
            ("exams::lane::duplicate_exam_processed_once", Passed),
            ("exams::lane::routine_still_served", Passed),
        ],
    )
    .await?;
    sign(lane, rita, "rita").await?;
    create(
        rad,
        "Archive studies older than 7 years",
        "Move old imaging studies to cold storage.",
        vec![ChangeType::Migration],
    )
    .await?;

    // Release engineering: release night, overdue; a platform upgrade that regressed.
    let rel_token = token(rel).await?;
    let night = create(
        rel,
        "Release night: billing, ledger and notifications together",
        "Three integrated systems roll out in one window; ledger v5 has no down migration.",
        vec![ChangeType::Rollout],
    )
    .await?;
    happy(night.clone(), 45, "All three deployed to staging together").await?;
    add_fms(
        db,
        &sam_actor,
        &night,
        &[
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
    )
    .await?;
    upload(
        db,
        &rel_token,
        "a71e3c0",
        &[("release::rollback_drill_billing", Passed), ("release::rollback_drill_ledger", Passed)],
    )
    .await?;
    let k8s = create(
        rel,
        "Kubernetes 1.31 upgrade",
        "Node pools upgraded zone by zone.",
        vec![ChangeType::Infrastructure],
    )
    .await?;
    happy(k8s.clone(), 60, "Staging cluster upgraded").await?;
    add_fms(
        db,
        &sam_actor,
        &k8s,
        &[
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
    )
    .await?;
    upload(
        db,
        &rel_token,
        "c03d9aa",
        &[
            ("platform::partition_zone_b_isolated", Passed),
            ("platform::disk_full_alerts", Passed),
            ("platform::restore_drill", Passed),
        ],
    )
    .await?;
    sign(k8s, lee, "lee").await?;
    // A week later the restore drill fails: the signed-off change regresses.
    upload(db, &rel_token, "d4e5f60", &[("platform::restore_drill", Failed)]).await?;
    let provider = create(
        rel,
        "Switch to payment provider v2",
        "Replaced by a broader project.",
        vec![ChangeType::Dependency],
    )
    .await?;
    let provider = changes::by_key(db, &provider).await?;
    changes::cancel(db, &sam_actor, &provider, "Folded into the payments platform project").await?;

    // Customer agents: autonomous agents change customer records.
    let agt_token = token(agt).await?;
    let agents = create(
        agt,
        "Agents update customer addresses from emails",
        "An AI agent reads customer emails and updates addresses without a human in the loop.",
        vec![ChangeType::AiAgent],
    )
    .await?;
    happy(agents.clone(), 10, "Agent handles the staging inbox").await?;
    add_fms(
        db,
        &sam_actor,
        &agents,
        &[
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
    )
    .await?;
    upload(
        db,
        &agt_token,
        "1a2b3c4",
        &[
            ("agents::address::wrong_write_detected_by_sampling", Passed),
            ("agents::address::budget_stops_the_loop", Passed),
        ],
    )
    .await?;

    // Premortem itself: its gate opens when this repository's CI uploads its test results.
    let itself = create(
        pm,
        "Premortem itself",
        "This application, planned for its own failure. CI uploads the project's JUnit results on every commit.",
        vec![ChangeType::Queue, ChangeType::Infrastructure],
    )
    .await?;
    happy(itself.clone(), 5, "All pages and the CI API work end to end").await?;
    add_fms(db, &sam_actor, &itself, &DOGFOOD).await?;

    coverage::record_daily(db, 400).await?;
    Ok(people)
}
