//! The command line: serve by default, plus migrations, users, teams, tokens, backups and
//! the audit check.

use crate::config::{
    AuditCommand, Cli, Command, DemoScale, MigrateCommand, Settings, TeamCommand, TokenCommand, UserCommand,
};
use crate::{backup, ops, startup};
use app::domain::time::Timestamp;
use app::domain::{AppError, DisplayName, Password, Role, TeamName, TeamSlug, Username};
use app::ssr::audit::{self, Actor};
use app::ssr::auth::hash_password;
use app::ssr::db::{Backend, Db, DbOptions};
use app::ssr::store::{teams, tokens, users};
use clap::Parser;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    ops::init_logging(cli.settings.log_format);
    // Idle blocking threads (uploads are parsed on them) leave after a second instead of
    // tokio's ten: a thread's freed memory goes back to the system when it runs or ends.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<(), startup::BoxError> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings).await,
        Command::Migrate(MigrateCommand::Up) => migrate_up(&settings).await,
        Command::Migrate(MigrateCommand::Down { to, yes }) => migrate_down(&settings, to, yes).await,
        Command::User(command @ UserCommand::Create { .. }) => create_user(&settings, command).await,
        Command::User(UserCommand::ResetPassword { username }) => reset_password(&settings, &username).await,
        Command::Team(command) => create_team(&settings, command).await,
        Command::Token(command) => create_token(&settings, command).await,
        Command::Demo { scale: DemoScale::Small } => demo_small(&settings).await,
        Command::Demo { scale: DemoScale::Large } => demo_large(&settings, crate::demo::Scale::LARGE).await,
        Command::Demo { scale: DemoScale::Tenfold } => {
            demo_large(&settings, crate::demo::Scale::TENFOLD).await
        }
        Command::Audit(AuditCommand::Verify) => audit_verify(&settings).await,
        Command::Backup { to } => backup(&settings, &to).await,
    }
}

/// `serve`: the web app and API until SIGTERM or Ctrl-C.
async fn serve(settings: &Settings) -> Result<(), startup::BoxError> {
    let shutdown =
        startup::shutdown_signal().map_err(|e| format!("cannot watch for shutdown signals: {e}"))?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    startup::serve(settings, listener, shutdown).await
}

/// `migrate up`: applies pending migrations.
async fn migrate_up(settings: &Settings) -> Result<(), startup::BoxError> {
    startup::connect(settings).await?;
    println!("migrations applied");
    Ok(())
}

/// `migrate down --to N`: reverts migrations newer than `to`, after naming what that drops,
/// only with `yes`, and on SQLite only after a backup beside the database file.
async fn migrate_down(settings: &Settings, to: i64, yes: bool) -> Result<(), startup::BoxError> {
    let db = plain_connect(settings).await?;
    let plan = db.revert_plan(to).await?;
    if plan.is_empty() {
        println!("nothing to revert: no migration newer than {to} is applied");
        return Ok(());
    }
    println!("reverting to migration {to} drops:");
    for step in &plan {
        let rows = |n: i64| if n == 1 { "1 row".to_owned() } else { format!("{n} rows") };
        let mut drops: Vec<String> =
            step.tables.iter().map(|(table, n)| format!("table {table} ({})", rows(*n))).collect();
        drops.extend(step.rebuilt.iter().map(|table| format!("rebuilds table {table}")));
        drops.extend(step.columns.iter().map(|column| format!("column {column}")));
        let drops = if drops.is_empty() { "no table or column".to_owned() } else { drops.join(", ") };
        println!("  {:04} {}: {drops}", step.version, step.description);
    }
    if !yes {
        return Err(
            "nothing was changed: run again with --yes to revert (on SQLite a backup is taken first)".into(),
        );
    }
    match app::ssr::db::sqlite_path(settings.database_url.expose()) {
        Some(path) => {
            let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let copy = path.with_file_name(format!(
                "{}.before-migrate-down-{stamp}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            backup::sqlite(&db, &copy).await?;
            println!("backup written to {}", copy.display());
        }
        None => println!("no backup taken: PostgreSQL is backed up with pg_dump"),
    }
    db.migrate_down(to).await?;
    println!("migrations newer than {to} reverted");
    Ok(())
}

/// `user create`: a user, optionally an admin or a member of a team; the password is read
/// from standard input.
async fn create_user(settings: &Settings, command: UserCommand) -> Result<(), startup::BoxError> {
    let UserCommand::Create { username, display_name, admin, team, role } = command else {
        return Err("not a user create command".into());
    };
    let username = Username::parse(&username).map_err(user_error)?;
    let display_name =
        DisplayName::parse(display_name.as_deref().unwrap_or(username.as_str())).map_err(user_error)?;
    let membership = match (team, role) {
        (Some(team), Some(role)) => Some((
            TeamSlug::parse(&team).map_err(user_error)?,
            Role::parse("role", &role).map_err(user_error)?,
        )),
        _ => None,
    };
    let password = Password::parse_new("password", &read_password()?).map_err(user_error)?;
    let db = startup::connect(settings).await?;
    let team = match &membership {
        Some((slug, _)) => Some(teams::by_slug(&db, slug).await.map_err(user_error)?),
        None => None,
    };
    let hash = hash_password(password).await.map_err(user_error)?;
    let id =
        users::create(&db, &Actor::Cli, &username, &display_name, &hash, admin).await.map_err(user_error)?;
    if let (Some(team), Some((_, role))) = (team, membership) {
        teams::set_membership(&db, &Actor::Cli, team.id, id, Some(role)).await.map_err(user_error)?;
    }
    println!("created user {}{}", username.as_str(), if admin { " (admin)" } else { "" });
    Ok(())
}

/// `user reset-password`: a new password (read from standard input) for a user, whose
/// sessions end; the way back in for an admin when password login is off and the identity
/// provider is broken (turn `PREMORTEM_PASSWORD_LOGIN` on again, then log in with it).
async fn reset_password(settings: &Settings, username: &str) -> Result<(), startup::BoxError> {
    let username = Username::parse(username).map_err(user_error)?;
    let password = Password::parse_new("password", &read_password()?).map_err(user_error)?;
    let db = startup::connect(settings).await?;
    let id = users::id_by_username(&db, &username).await.map_err(user_error)?;
    let hash = hash_password(password).await.map_err(user_error)?;
    users::set_password(&db, &Actor::Cli, id, &hash).await.map_err(user_error)?;
    println!("password reset for {}; their sessions have ended", username.as_str());
    Ok(())
}

/// `team create`.
async fn create_team(settings: &Settings, command: TeamCommand) -> Result<(), startup::BoxError> {
    let TeamCommand::Create { slug, name } = command;
    let slug = TeamSlug::parse(&slug).map_err(user_error)?;
    let name = TeamName::parse(&name).map_err(user_error)?;
    let db = startup::connect(settings).await?;
    teams::create(&db, &Actor::Cli, &slug, &name).await.map_err(user_error)?;
    println!("created team {}", slug.as_str());
    Ok(())
}

/// `token create`: prints the new token, shown only this once.
async fn create_token(settings: &Settings, command: TokenCommand) -> Result<(), startup::BoxError> {
    let TokenCommand::Create { team, scopes, name, owner, expires_days } = command;
    let slug = TeamSlug::parse(&team).map_err(user_error)?;
    let scopes = scopes
        .iter()
        .map(|s| {
            app::domain::scope::Scope::parse(s).ok_or_else(|| {
                let known = app::domain::scope::Scope::ALL.map(app::domain::scope::Scope::as_str).join(", ");
                format!("unknown scope {s:?}: use one of {known}")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name = app::domain::change::required_line("name", "Name", &name, 100).map_err(user_error)?;
    let db = startup::connect(settings).await?;
    let team = teams::by_slug(&db, &slug).await.map_err(user_error)?;
    let owner = match owner {
        Some(owner) => Some(
            users::id_by_username(&db, &Username::parse(&owner).map_err(user_error)?)
                .await
                .map_err(user_error)?,
        ),
        None => None,
    };
    let expires_at = expires_days.map(|d| Timestamp::now() + app::domain::time::Days(d));
    let token = tokens::create(&db, &Actor::Cli, team.id, owner, &name, &scopes, expires_at)
        .await
        .map_err(user_error)?;
    println!("{token}");
    Ok(())
}

/// `demo`: the small data set, and who to log in as.
async fn demo_small(settings: &Settings) -> Result<(), startup::BoxError> {
    let db = startup::connect(settings).await?;
    let people = crate::demo::small(&db, |password| async move {
        hash_password(Password::parse_new("password", &password)?).await
    })
    .await
    .map_err(user_error)?;
    println!("loaded the demo: teams RAD, REL, AGT and PM, changes in every status");
    println!("log in at {} as:", settings.public_url.as_deref().unwrap_or("http://127.0.0.1:3000"));
    for p in people {
        println!("  {:<11} password {}   ({}, {})", p.username, p.password, p.display_name, p.role);
    }
    Ok(())
}

/// `demo --scale large` (or `tenfold`): a benchmark's data set.
async fn demo_large(settings: &Settings, scale: crate::demo::Scale) -> Result<(), startup::BoxError> {
    let db = startup::connect(settings).await?;
    let password = crate::demo::random_password();
    let hash = hash_password(Password::parse_new("password", &password).map_err(user_error)?)
        .await
        .map_err(user_error)?;
    let started = std::time::Instant::now();
    let written = crate::demo::generate(&db, scale, &hash).await.map_err(user_error)?;
    println!(
        "loaded {} teams, {} changes, {} failure modes, {} results and {} incidents in {:.1} s",
        written.teams,
        written.changes,
        written.failure_modes,
        written.results,
        written.incidents,
        started.elapsed().as_secs_f64()
    );
    println!("log in as bench-lead with password {password}");
    Ok(())
}

async fn plain_connect(settings: &Settings) -> Result<Db, startup::BoxError> {
    Ok(Db::connect(settings.database_url.expose(), &DbOptions::default()).await?)
}

/// Connects without migrating, to a database that must already exist: a SQLite path with
/// no file behind it is refused rather than created empty and inspected.
async fn existing_store(settings: &Settings) -> Result<Db, startup::BoxError> {
    let url = settings.database_url.expose();
    if let Some(path) = app::ssr::db::sqlite_path(url).filter(|path| !path.exists()) {
        return Err(format!("no SQLite database at {}", path.display()).into());
    }
    plain_connect(settings).await
}

/// `audit verify`: recomputes the audit log's hash chain and names the first broken entry.
async fn audit_verify(settings: &Settings) -> Result<(), startup::BoxError> {
    let db = existing_store(settings).await?;
    let mut conn = db.read().acquire().await?;
    let verdict = audit::verify_chain(&mut conn).await?;
    drop(conn);
    db.close().await;
    match verdict {
        Ok(entries) => {
            println!("audit chain intact: {entries} entries");
            Ok(())
        }
        Err(broken) => Err(format!("audit chain broken at {broken}").into()),
    }
}

/// `backup --to FILE`: a consistent copy of the SQLite database, taken while the server
/// serves. PostgreSQL is refused before connecting, with the `pg_dump` command to use.
async fn backup(settings: &Settings, to: &Path) -> Result<(), startup::BoxError> {
    if Backend::of_url(settings.database_url.expose()) == Some(Backend::Postgres) {
        return Err(backup::BackupError::Postgres.into());
    }
    let db = existing_store(settings).await?;
    let copied = backup::sqlite(&db, to).await;
    db.close().await;
    copied?;
    println!("backed up to {}", to.display());
    Ok(())
}

fn user_error(err: AppError) -> startup::BoxError {
    err.to_string().into()
}

/// Reads the password: from the terminal without echo, or as one line of piped input.
fn read_password() -> Result<String, startup::BoxError> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(password)
}
