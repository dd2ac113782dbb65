//! Connections: the backend enum, URL parsing, and an r2d2 manager that keeps the driver's real error.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};
use thiserror::Error;

/// A connection to either backend; one schema and one query code path serve both.
#[derive(diesel::MultiConnection)]
#[allow(missing_debug_implementations)]
pub enum AnyConnection {
    /// PostgreSQL, for multi-node deployments.
    Postgresql(PgConnection),
    /// Embedded SQLite, the default.
    Sqlite(SqliteConnection),
}

/// Which database a URL designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite://<path>`.
    Sqlite,
}

/// A parsed `DATABASE_URL`. Its `Debug` output hides the password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL connection string, passed to libpq as is.
    Postgres(String),
    /// The path of an SQLite database file.
    Sqlite(PathBuf),
}

/// The URL has a scheme other than `sqlite://`, `postgres://` or `postgresql://`.
#[derive(Debug, Error)]
#[error("DATABASE_URL must start with sqlite://, postgres:// or postgresql://")]
pub struct InvalidDatabaseUrl;

impl DatabaseUrl {
    /// Parses a URL by its scheme.
    ///
    /// # Errors
    /// [`InvalidDatabaseUrl`] for an unknown scheme or an empty SQLite path.
    pub fn parse(url: &str) -> Result<Self, InvalidDatabaseUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() { Err(InvalidDatabaseUrl) } else { Ok(Self::Sqlite(PathBuf::from(path))) }
        } else {
            Err(InvalidDatabaseUrl)
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the passwords of a connection URL by `***`: the one of `scheme://user:password@host…`, and the
/// `password` and `sslpassword` parameters of its query, which libpq accepts as well.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let redacted: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _))
                        if name.eq_ignore_ascii_case("password") || name.eq_ignore_ascii_case("sslpassword") =>
                    {
                        format!("{name}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", redacted.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// What the store needs to know to connect.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// Where the database is.
    pub url: DatabaseUrl,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a free connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

/// Opens one connection and applies the per-connection settings.
///
/// Dispatching on the URL ourselves (rather than the derived `establish`, which tries each backend in turn and
/// drops their errors) keeps libpq's and SQLite's own messages.
pub(crate) fn establish(url: &DatabaseUrl) -> Result<AnyConnection, ConnectionError> {
    match url {
        DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(AnyConnection::Postgresql),
        DatabaseUrl::Sqlite(path) => {
            let path =
                path.to_str().ok_or_else(|| ConnectionError::BadConnection("SQLite path is not UTF-8".into()))?;
            let mut conn = SqliteConnection::establish(path)?;
            // The busy timeout first: it makes writers queue instead of failing, and the journal-mode statement
            // itself must wait too when another process (a previous server, closing its connections and
            // checkpointing the WAL) holds the database for a moment. WAL lets readers proceed during a write;
            // foreign keys are off by default in SQLite and the schema relies on their cascades.
            conn.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Sqlite(conn))
        }
    }
}

/// An r2d2 connection manager over [`establish`].
#[derive(Debug)]
pub(crate) struct Manager {
    pub(crate) url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        establish(&self.url)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1").map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_selects_the_backend() {
        assert_eq!(DatabaseUrl::parse("sqlite://./data/a.db").unwrap().backend(), Backend::Sqlite);
        assert_eq!(DatabaseUrl::parse("postgres://h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://h/db").unwrap().backend(), Backend::Postgres);
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn a_new_sqlite_connection_waits_while_another_process_holds_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("hub.db"));
        let AnyConnection::Sqlite(mut holder) = establish(&url).unwrap() else { unreachable!() };
        // What a closing server does for a moment (its last connection checkpoints and removes the WAL): keep
        // the file to itself. Exclusive locking mode holds the lock from the first write until the connection ends.
        holder.batch_execute("PRAGMA locking_mode = EXCLUSIVE; CREATE TABLE t (x INTEGER);").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(holder);
        });
        establish(&url).expect("the new connection waits for the lock instead of failing at once");
        release.join().unwrap();
    }

    #[test]
    fn passwords_never_reach_debug_output() {
        let url = DatabaseUrl::parse("postgres://hub:s3cret@db:5432/hub?sslmode=require").unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "postgres://hub:***@db:5432/hub?sslmode=require");
        // libpq also takes the password (and a client key's) as query parameters.
        let url =
            DatabaseUrl::parse("postgres://db/hub?user=hub&password=s3cret&sslpassword=k3y&sslmode=require").unwrap();
        let shown = format!("{url:?}");
        assert_eq!(shown, "postgres://db/hub?user=hub&password=***&sslpassword=***&sslmode=require");
        let url = DatabaseUrl::parse("postgresql://hub:p%40ss@db/hub").unwrap();
        assert_eq!(url.redacted(), "postgresql://hub:***@db/hub");
    }
}
