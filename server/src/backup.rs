//! `premortem backup`: a consistent copy of the SQLite database, taken while the server
//! keeps serving and writing.

use app::ssr::db::{Backend, Db};
use std::path::{Path, PathBuf};

/// How PostgreSQL is backed up instead; shown when `backup` is asked to do it.
pub const PG_DUMP_HINT: &str = "premortem backup copies SQLite databases only; back up PostgreSQL with pg_dump, \
     e.g. pg_dump --format=custom \"$PREMORTEM_DATABASE_URL\" > premortem.dump";

/// Why no backup was written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{PG_DUMP_HINT}")]
    Postgres,
    #[error("{0} already exists; a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("the directory of {0} does not exist")]
    NoDirectory(PathBuf),
    #[error("the backup path {0:?} is not valid UTF-8")]
    NotUtf8(PathBuf),
    #[error("copying the database failed: {0}")]
    Copy(#[from] sqlx::Error),
    #[error("writing the backup failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes a snapshot of the SQLite database behind `db` to `to`, which must not exist.
///
/// `VACUUM INTO` runs on a reader connection, so it copies one consistent state (everything
/// committed when it starts) without holding up writers. The copy is written under a
/// temporary name beside `to`, flushed to disk and only then renamed: a file at `to` is
/// always a complete backup, never a half-written one.
pub async fn sqlite(db: &Db, to: &Path) -> Result<(), BackupError> {
    if db.backend() == Backend::Postgres {
        return Err(BackupError::Postgres);
    }
    refuse_existing(to)?;
    let partial = partial_name(to)?;
    let written = async {
        snapshot(db, &partial).await?;
        let (partial, to) = (partial.clone(), to.to_owned());
        tokio::task::spawn_blocking(move || publish(&partial, &to))
            .await
            .map_err(|join| BackupError::Io(std::io::Error::other(join)))?
    }
    .await;
    if written.is_err() {
        // Best effort: a leftover partial file is harmless (it never has the final name).
        let _ = std::fs::remove_file(&partial);
    }
    written
}

fn refuse_existing(to: &Path) -> Result<(), BackupError> {
    // symlink_metadata: a dangling symlink at `to` counts as existing, too.
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    Ok(())
}

/// A hidden name in the same directory as `to` (so the final rename stays on one
/// filesystem, where it is atomic), unique to this process.
fn partial_name(to: &Path) -> Result<PathBuf, BackupError> {
    let file_name = to.file_name().ok_or_else(|| BackupError::NoDirectory(to.to_owned()))?;
    let dir = directory_of(to);
    if !dir.is_dir() {
        return Err(BackupError::NoDirectory(to.to_owned()));
    }
    let partial = format!(".{}.{}.partial", file_name.to_string_lossy(), std::process::id());
    Ok(dir.join(partial))
}

fn directory_of(path: &Path) -> &Path {
    path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

async fn snapshot(db: &Db, into: &Path) -> Result<(), BackupError> {
    let into_text = into.to_str().ok_or_else(|| BackupError::NotUtf8(into.to_owned()))?;
    db.vacuum_into(into_text).await?;
    Ok(())
}

/// Flushes the finished copy to disk and gives it its final name (then flushes the
/// directory, so the rename itself survives a crash).
fn publish(partial: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::File::open(partial)?.sync_all()?;
    // Checked again just before the rename: someone may have created `to` meanwhile.
    refuse_existing(to)?;
    std::fs::rename(partial, to)?;
    #[cfg(unix)]
    std::fs::File::open(directory_of(to))?.sync_all()?;
    Ok(())
}
