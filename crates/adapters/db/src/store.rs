//! The store: a connection pool and the helper that runs blocking diesel work off the async workers.

use std::time::Duration;

use async_trait::async_trait;
use diesel::connection::SimpleConnection;
use hub_domain::ports::{StoreError, StoreHealth};
use r2d2::Pool;
use thiserror::Error;

use crate::connection::{AnyConnection, DatabaseUrl, DbConfig, Manager};
use crate::errors::{from_diesel, from_pool};
use crate::migrations::{self, MigrationError};

/// The database could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The directory of the SQLite file could not be created.
    #[error("cannot create the directory of the SQLite database {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The redacted URL.
        url: String,
        /// The driver's message.
        message: String,
    },
    /// Migrations failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

/// Every repository of the domain, over one pool. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    /// The redacted URL, for logs.
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

impl Store {
    /// Opens the pool, making one connection to prove the database is reachable.
    ///
    /// # Errors
    /// [`OpenError`] when the database cannot be reached or its file's directory cannot be created.
    pub async fn open(config: DbConfig) -> Result<Self, OpenError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|e| OpenError::Connect { url: String::new(), message: e.to_string() })?
    }

    fn open_blocking(config: DbConfig) -> Result<Self, OpenError> {
        if let DatabaseUrl::Sqlite(path) = &config.url
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|source| OpenError::Directory { path: dir.display().to_string(), source })?;
        }
        let url = config.url.redacted();
        // Connect once directly: r2d2 would retry until its timeout and then report only "timed out".
        crate::connection::establish(&config.url)
            .map_err(|e| OpenError::Connect { url: url.clone(), message: e.to_string() })?;
        let pool = Pool::builder()
            .max_size(config.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(config.acquire_timeout)
            .build(Manager { url: config.url })
            .map_err(|e| OpenError::Connect { url: url.clone(), message: e.to_string() })?;
        Ok(Self { pool, url })
    }

    /// Applies pending migrations; returns the names of those applied.
    ///
    /// # Errors
    /// [`OpenError`] when no connection is available or a migration fails.
    pub async fn migrate(&self) -> Result<Vec<String>, OpenError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| OpenError::Connect { url: String::new(), message: e.to_string() })?;
            Ok(migrations::run_pending(&mut conn)?)
        })
        .await
        .map_err(|e| OpenError::Migration(MigrationError(e.to_string())))?
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(from_pool)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("database task failed: {e}")))?
    }
}

/// How long a readiness ping may wait for a connection.
const PING_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

#[async_trait]
impl StoreHealth for Store {
    async fn ping(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get_timeout(PING_ACQUIRE_TIMEOUT).map_err(from_pool)?;
            conn.batch_execute("SELECT 1").map_err(from_diesel)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }
}

/// Runs `work` in a database transaction, rolled back when it returns an error.
pub(crate) fn transaction<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    /// diesel needs an error type it can convert its own errors into; the domain's cannot know diesel.
    enum TxError {
        Store(StoreError),
        Diesel(diesel::result::Error),
    }
    impl From<diesel::result::Error> for TxError {
        fn from(e: diesel::result::Error) -> Self {
            Self::Diesel(e)
        }
    }
    use diesel::Connection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    // SQLite: take the write lock when the transaction begins. A deferred transaction that reads and then writes
    // cannot wait for a concurrent writer (SQLite answers "database is locked" at once instead of using the busy
    // timeout, since waiting could deadlock); an immediate one waits its turn at BEGIN.
    if let AnyConnection::Sqlite(c) = conn
        && AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth().ok().flatten().is_none()
    {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE").map_err(from_diesel)?;
        let result = work(conn);
        let AnyConnection::Sqlite(c) = conn else { unreachable!("the connection does not change its backend") };
        return match result {
            Ok(value) => match AnsiTransactionManager::commit_transaction(c) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = AnsiTransactionManager::rollback_transaction(c);
                    Err(from_diesel(e))
                }
            },
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(c);
                Err(e)
            }
        };
    }
    conn.transaction::<T, TxError, _>(|c| work(c).map_err(TxError::Store)).map_err(|e| match e {
        TxError::Store(e) => e,
        TxError::Diesel(e) => from_diesel(e),
    })
}

/// Runs read-only `work` on one consistent snapshot without taking SQLite's write lock, so concurrent readers (the
/// dashboard, stats) neither wait for each other nor see a write land between their queries.
///
/// SQLite: a deferred transaction, whose first read fixes the snapshot in WAL mode. PostgreSQL: `REPEATABLE READ`
/// (`READ COMMITTED` would give each statement its own snapshot). Inside a transaction already, `work` just runs.
pub(crate) fn read_snapshot<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    fn outermost<C>(c: &mut C) -> bool
    where
        C: diesel::Connection<TransactionManager = AnsiTransactionManager>,
    {
        AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth().ok().flatten().is_none()
    }
    let outer = match conn {
        AnyConnection::Sqlite(c) => outermost(c),
        AnyConnection::Postgresql(c) => outermost(c),
    };
    if !outer {
        return work(conn);
    }
    let began = match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED"),
        AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        ),
    };
    began.map_err(from_diesel)?;
    let result = work(conn);
    // Nothing was written: commit on success, roll back after an error (an aborted PostgreSQL transaction).
    let ended = match (conn, result.is_ok()) {
        (AnyConnection::Sqlite(c), true) => AnsiTransactionManager::commit_transaction(c),
        (AnyConnection::Sqlite(c), false) => AnsiTransactionManager::rollback_transaction(c),
        (AnyConnection::Postgresql(c), true) => AnsiTransactionManager::commit_transaction(c),
        (AnyConnection::Postgresql(c), false) => AnsiTransactionManager::rollback_transaction(c),
    };
    let value = result?;
    ended.map_err(from_diesel)?;
    Ok(value)
}

/// Runs `work` in a transaction, once more when it lost an insert race to a concurrent writer (PostgreSQL reports
/// the unique violation; the second attempt then finds the row the other writer committed).
pub(crate) fn retry_on_conflict<T>(
    conn: &mut AnyConnection,
    work: impl Fn(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match transaction(conn, &work) {
        Err(StoreError::Conflict) => transaction(conn, &work),
        other => other,
    }
}
