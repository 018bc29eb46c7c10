//! The journal: one durable row per message, keyed by Message-ID, saying how far it got.
//!
//! States: `rendered` (known, never handed to a server), `sending` (claimed by a connection:
//! it may be on the wire), `accepted` (a 250 to the final `.`), `deferred` (4xx or a lost
//! connection before the final `.`: safe to send again), `failed` (5xx), `unknown` (the
//! connection dropped after the final `.`: the server may have it).
//!
//! The rule that makes "never silently twice" hold: only a claim can send a message, and the
//! claim (`sending`) is durable before the final `.` of DATA, the one byte after which the
//! server may have the message (RFC 5321 §4.1.1.4: the transaction completes at the `.`; a
//! connection closed before it is a transaction the server discards). A process that dies
//! leaves its claims in `sending`; whoever finds them later marks them `unknown`, never
//! `rendered`, since any of them may have been delivered. Only `--resend-unknown` sends those
//! again.
//!
//! The claim's answer ([`Claim`]) comes as soon as it is decided; its durability ([`Durable`])
//! may come later: SQLite answers before its group commit and the connection sends MAIL, RCPT
//! and DATA while the commit's fsync runs, and waits for it only before the message and its
//! final `.`. A process killed in between sent no `.`, and its uncommitted claim is simply
//! not there: the message is sent again by the next run, which is right.
//!
//! Two stores:
//! - SQLite (one process): WAL, `synchronous=FULL`, an exclusive lock so a second process on the
//!   same file is refused. All writes go through one thread that commits whatever is queued as
//!   one transaction (group commit): connections waiting at the same moment share an fsync.
//! - PostgreSQL (many workers): claims are `UPDATE ... WHERE message_id = (SELECT ... FOR UPDATE
//!   SKIP LOCKED)`, so two workers can never both claim a row. Each worker holds a session-level
//!   advisory lock for its id while it runs; a `sending` row whose owner's lock is free belongs
//!   to a dead worker.

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::target::JournalLocation;

/// A message's state in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Known, never sent.
    Rendered,
    /// Claimed by a connection; may be on the wire.
    Sending,
    /// The server took it.
    Accepted,
    /// Not taken yet; safe to send again.
    Deferred,
    /// Refused for good.
    Failed,
    /// May have been delivered: held unless `--resend-unknown`.
    Unknown,
}

impl State {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Rendered => "rendered",
            State::Sending => "sending",
            State::Accepted => "accepted",
            State::Deferred => "deferred",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "rendered" => State::Rendered,
            "sending" => State::Sending,
            "accepted" => State::Accepted,
            "deferred" => State::Deferred,
            "failed" => State::Failed,
            // Anything unexpected is treated as possibly delivered.
            _ => State::Unknown,
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone)]
pub enum Claim {
    /// This connection may send the message now.
    Go {
        /// Attempts so far, this one included.
        attempts: u32,
        /// Recipients a server already took in an earlier attempt.
        done: Vec<String>,
        /// Recipients refused for good in an earlier attempt.
        failed: Vec<String>,
    },
    /// Not to be sent: its state, with the last reply and queue id.
    Skip {
        /// The state found.
        state: State,
        /// The last server reply stored.
        reply: Option<String>,
        /// The queue id stored.
        queue_id: Option<String>,
    },
}

/// Resolves once a claim is durable. Whoever sends the final `.` of a message waits for it
/// first (see the module docs); it keeps its result, so waiting again is free.
#[derive(Debug)]
pub struct Durable {
    pending: Option<oneshot::Receiver<Result<(), String>>>,
    result: Option<Result<(), String>>,
}

impl Durable {
    /// Durable already (PostgreSQL commits before it answers; no journal).
    pub fn now() -> Self {
        Durable {
            pending: None,
            result: Some(Ok(())),
        }
    }

    fn later(rx: oneshot::Receiver<Result<(), String>>) -> Self {
        Durable {
            pending: Some(rx),
            result: None,
        }
    }

    /// Waits until the claim is durable.
    ///
    /// # Errors
    /// The commit failed: nothing more of the message may be sent.
    pub async fn wait(&mut self) -> Result<(), String> {
        if let Some(rx) = self.pending.take() {
            let r = rx
                .await
                .unwrap_or_else(|_| Err("the journal thread stopped".to_string()));
            self.result = Some(r);
        }
        self.result
            .clone()
            .unwrap_or_else(|| Err("the claim was not made".to_string()))
    }
}

/// The result of an attempt, to store.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The new state.
    pub state: State,
    /// The deciding reply, or why.
    pub reply: Option<String>,
    /// The queue id from the final reply.
    pub queue_id: Option<String>,
    /// Recipients the server took in this attempt.
    pub done: Vec<String>,
    /// Recipients refused for good in this attempt, with the reply.
    pub failed: Vec<(String, String)>,
    /// For `deferred`: not to be claimed by another worker before this long.
    pub retry_after: Option<Duration>,
}

/// An open journal.
pub enum Journal {
    /// SQLite, through its writer thread.
    Sqlite(SqliteJournal),
    /// PostgreSQL.
    Postgres(PgJournal),
    /// Nothing is stored (`--journal none`, `--dry-run`).
    None,
}

impl Journal {
    /// Opens (creating if needed) the journal, and marks the claims left by dead processes
    /// `unknown`. Returns the journal and how many it marked.
    ///
    /// # Errors
    /// The store cannot be opened, or (SQLite) another process has it open.
    pub async fn open(loc: &JournalLocation) -> Result<(Journal, u64), String> {
        match loc {
            JournalLocation::None => Ok((Journal::None, 0)),
            JournalLocation::Sqlite { path, full_sync } => {
                let (j, n) = SqliteJournal::open(path, *full_sync)?;
                Ok((Journal::Sqlite(j), n))
            }
            JournalLocation::Postgres(url) => {
                let j = PgJournal::open(url).await?;
                let n = j.recover().await?;
                Ok((Journal::Postgres(j), n))
            }
        }
    }

    /// Claims a message for sending (adding it as `rendered` first if it is new). The claim
    /// may not be durable yet: wait for the [`Durable`] before the final `.`.
    ///
    /// # Errors
    /// The store failed: the caller must stop, since it can no longer prove what was sent.
    pub async fn claim(
        &self,
        message_id: &str,
        key: &str,
        resend_unknown: bool,
    ) -> Result<(Claim, Durable), String> {
        match self {
            Journal::None => Ok((
                Claim::Go {
                    attempts: 0,
                    done: Vec::new(),
                    failed: Vec::new(),
                },
                Durable::now(),
            )),
            Journal::Sqlite(j) => {
                let (tx, rx) = oneshot::channel();
                let (durable_tx, durable_rx) = oneshot::channel();
                j.call(Op::Claim {
                    message_id: message_id.to_string(),
                    key: key.to_string(),
                    resend_unknown,
                    reply: tx,
                    durable: durable_tx,
                })?;
                let claim = rx
                    .await
                    .map_err(|_| "the journal thread stopped".to_string())??;
                Ok((claim, Durable::later(durable_rx)))
            }
            Journal::Postgres(j) => Ok((
                j.claim(message_id, key, resend_unknown).await?,
                Durable::now(),
            )),
        }
    }

    /// Stores the result of an attempt.
    ///
    /// # Errors
    /// The store failed.
    pub async fn finish(&self, message_id: &str, f: Finish) -> Result<(), String> {
        self.stored(self.store(message_id, f)).await
    }

    /// Starts storing the result of an attempt. With SQLite the write is queued before this
    /// returns, so it commits with or before anything the caller queues afterwards: once a
    /// worker's next claim is durable, this result is durable too, and a kill leaves at most
    /// that one claim of the worker's in `sending`. [`Journal::stored`] waits for the commit.
    pub fn store(&self, message_id: &str, f: Finish) -> Storing {
        match self {
            Journal::Sqlite(j) => {
                let (tx, rx) = oneshot::channel();
                match j.call(Op::Finish {
                    message_id: message_id.to_string(),
                    finish: f,
                    reply: tx,
                }) {
                    Ok(()) => Storing::Queued(rx),
                    Err(e) => Storing::Failed(e),
                }
            }
            _ => Storing::Later(message_id.to_string(), f),
        }
    }

    /// Waits until what [`Journal::store`] started is durable.
    ///
    /// # Errors
    /// The store failed.
    pub async fn stored(&self, s: Storing) -> Result<(), String> {
        match (self, s) {
            (_, Storing::Failed(e)) => Err(e),
            (_, Storing::Queued(rx)) => rx
                .await
                .map_err(|_| "the journal thread stopped".to_string())?,
            (Journal::Postgres(j), Storing::Later(id, f)) => j.finish(&id, f).await,
            (_, Storing::Later(..)) => Ok(()),
        }
    }

    /// Marks `unknown` the claims of workers that are gone (PostgreSQL; SQLite does it when
    /// opened, as it has one process at a time). Returns how many.
    ///
    /// # Errors
    /// The store failed.
    pub async fn recover(&self) -> Result<u64, String> {
        match self {
            Journal::Postgres(j) => j.recover().await,
            _ => Ok(0),
        }
    }

    /// Flushes and closes.
    pub async fn close(self) {
        if let Journal::Sqlite(j) = self {
            let SqliteJournal { tx, thread } = j;
            drop(tx);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn split_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').next().unwrap_or(l).to_string())
        .collect()
}

fn join_done(v: &[String]) -> String {
    v.iter().map(|r| format!("{r}\n")).collect()
}

fn join_failed(v: &[(String, String)]) -> String {
    v.iter()
        .map(|(r, why)| format!("{r}\t{}\n", why.replace(['\t', '\n', '\r'], " ")))
        .collect()
}

/// A result being stored (see [`Journal::store`]).
#[derive(Debug)]
pub enum Storing {
    /// Queued to the SQLite writer; the answer comes once committed.
    Queued(oneshot::Receiver<Result<(), String>>),
    /// Stored when awaited (PostgreSQL commits before it answers; no journal stores nothing).
    Later(String, Finish),
    /// Could not be queued.
    Failed(String),
}

// ---------------------------------------------------------------------------------------------
// SQLite

enum Op {
    Claim {
        message_id: String,
        key: String,
        resend_unknown: bool,
        /// The decision, sent before the commit.
        reply: oneshot::Sender<Result<Claim, String>>,
        /// The commit's outcome.
        durable: oneshot::Sender<Result<(), String>>,
    },
    Finish {
        message_id: String,
        finish: Finish,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// The SQLite journal: a writer thread owning the connection.
pub struct SqliteJournal {
    tx: std_mpsc::Sender<Op>,
    thread: std::thread::JoinHandle<()>,
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailspec_journal (
    message_id  TEXT PRIMARY KEY,
    key         TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    rcpt_done   TEXT NOT NULL DEFAULT '',
    rcpt_failed TEXT NOT NULL DEFAULT '',
    reply       TEXT,
    queue_id    TEXT,
    next_at     INTEGER,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Most operations committed together.
const GROUP: usize = 256;

impl SqliteJournal {
    fn open(path: &Path, full_sync: bool) -> Result<(Self, u64), String> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| format!("cannot open journal `{shown}`: {e}"))?;
        let setup = || -> rusqlite::Result<u64> {
            // WAL: a commit appends to the log (one write), so it survives kill -9 as soon as
            // it returns; synchronous=FULL also fsyncs it, so it survives a power loss.
            // EXCLUSIVE: the lock is held until the process ends, so a second `mailspec send`
            // on the same journal is refused instead of both sending.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(
                None,
                "synchronous",
                if full_sync { "FULL" } else { "NORMAL" },
            )?;
            conn.execute_batch(SQLITE_SCHEMA)?;
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let n = conn.execute(
                "UPDATE mailspec_journal SET state = 'unknown', reply = coalesce(reply || ' / ', '') || 'the sending process stopped while this message was claimed', updated_at = ?1 WHERE state = 'sending'",
                [now_ms()],
            )?;
            conn.execute_batch("COMMIT")?;
            Ok(n as u64)
        };
        let recovered = setup().map_err(|e| {
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy)
            ) {
                format!("journal `{shown}` is in use by another `mailspec send`")
            } else {
                format!("journal `{shown}`: {e}")
            }
        })?;
        let (tx, rx) = std_mpsc::channel::<Op>();
        let thread = std::thread::Builder::new()
            .name("mailspec-journal".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| format!("cannot start the journal thread: {e}"))?;
        Ok((SqliteJournal { tx, thread }, recovered))
    }

    fn call(&self, op: Op) -> Result<(), String> {
        self.tx
            .send(op)
            .map_err(|_| "the journal thread stopped".to_string())
    }
}

/// The writer thread: takes every queued operation and runs them in one transaction. A
/// claim's decision is answered as soon as it is made, before the commit (see [`Durable`]);
/// everything else (a claim's durability, a stored result) only once committed, so that
/// answer means "durable".
fn writer(conn: rusqlite::Connection, rx: std_mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < GROUP {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        let mut waiting = Vec::with_capacity(ops.len());
        for op in ops {
            let r = match &begun {
                Err(e) => Err(e.to_string()),
                Ok(()) => apply(&conn, &op).map_err(|e| e.to_string()),
            };
            match op {
                Op::Claim { reply, durable, .. } => {
                    let _ = reply.send(r.and_then(|c| c.ok_or_else(|| "no claim".to_string())));
                    waiting.push((durable, Ok(())));
                }
                Op::Finish { reply, .. } => waiting.push((reply, r.map(|_| ()))),
            }
        }
        let committed = match begun {
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for (reply, r) in waiting {
            let r = match &committed {
                Err(e) => Err(format!("journal commit failed: {e}")),
                Ok(()) => r,
            };
            let _ = reply.send(r);
        }
    }
}

fn apply(conn: &rusqlite::Connection, op: &Op) -> rusqlite::Result<Option<Claim>> {
    use rusqlite::OptionalExtension;
    let now = now_ms();
    match op {
        Op::Claim {
            message_id,
            key,
            resend_unknown,
            ..
        } => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO mailspec_journal (message_id, key, state, updated_at) VALUES (?1, ?2, 'rendered', ?3)",
            )?
            .execute(rusqlite::params![message_id, key, now])?;
            let row = conn
                .prepare_cached(
                    "SELECT state, attempts, rcpt_done, rcpt_failed, reply, queue_id FROM mailspec_journal WHERE message_id = ?1",
                )?
                .query_row([message_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                })
                .optional()?;
            let Some((state, attempts, done, failed, reply, queue_id)) = row else {
                return Ok(Some(Claim::Skip {
                    state: State::Unknown,
                    reply: None,
                    queue_id: None,
                }));
            };
            let state = State::parse(&state);
            let claimable = matches!(state, State::Rendered | State::Deferred)
                || (*resend_unknown && state == State::Unknown);
            if !claimable {
                return Ok(Some(Claim::Skip {
                    state,
                    reply,
                    queue_id,
                }));
            }
            conn.prepare_cached(
                "UPDATE mailspec_journal SET state = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE message_id = ?1",
            )?
            .execute(rusqlite::params![message_id, now])?;
            Ok(Some(Claim::Go {
                attempts: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
                done: split_lines(&done),
                failed: split_lines(&failed),
            }))
        }
        Op::Finish {
            message_id, finish, ..
        } => {
            let next_at = finish
                .retry_after
                .map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
            conn.prepare_cached(
                "UPDATE mailspec_journal SET state = ?2, reply = ?3, queue_id = coalesce(?4, queue_id), rcpt_done = rcpt_done || ?5, rcpt_failed = rcpt_failed || ?6, next_at = ?7, updated_at = ?8 WHERE message_id = ?1",
            )?
            .execute(rusqlite::params![
                message_id,
                finish.state.as_str(),
                finish.reply,
                finish.queue_id,
                join_done(&finish.done),
                join_failed(&finish.failed),
                next_at,
                now
            ])?;
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The advisory-lock class for worker ids (`ms`).
const LOCK_CLASS: i32 = 0x6d73;

const PG_SCHEMA: &str = "
BEGIN;
SELECT pg_advisory_xact_lock(28019, 0);
CREATE TABLE IF NOT EXISTS mailspec_journal (
    message_id  TEXT PRIMARY KEY,
    key         TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    rcpt_done   TEXT NOT NULL DEFAULT '',
    rcpt_failed TEXT NOT NULL DEFAULT '',
    reply       TEXT,
    queue_id    TEXT,
    owner       INTEGER,
    next_at     TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMIT;
";

/// A PostgreSQL journal shared by workers.
pub struct PgJournal {
    client: tokio_postgres::Client,
    /// This worker's id: the advisory lock (LOCK_CLASS, id) held for the session.
    id: i32,
}

impl PgJournal {
    async fn open(url: &str) -> Result<Self, String> {
        // TLS to the database is left to a local socket or a tunnel; tokio-postgres' NoTls.
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to the journal database: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
            .batch_execute(PG_SCHEMA)
            .await
            .map_err(|e| format!("journal database: {e}"))?;
        let mut id;
        loop {
            id = fastrand::i32(1..i32::MAX);
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &id])
                .await
                .map_err(|e| format!("journal database: {e}"))?
                .get(0);
            if got {
                break;
            }
        }
        Ok(PgJournal { client, id })
    }

    async fn claim(
        &self,
        message_id: &str,
        key: &str,
        resend_unknown: bool,
    ) -> Result<Claim, String> {
        let err = |e: tokio_postgres::Error| format!("journal database: {e}");
        self.client
            .execute(
                "INSERT INTO mailspec_journal (message_id, key, state) VALUES ($1, $2, 'rendered') ON CONFLICT (message_id) DO NOTHING",
                &[&message_id, &key],
            )
            .await
            .map_err(err)?;
        let row = self
            .client
            .query_opt(
                "UPDATE mailspec_journal SET state = 'sending', attempts = attempts + 1, owner = $2, updated_at = now()
                 WHERE message_id = (
                     SELECT message_id FROM mailspec_journal
                     WHERE message_id = $1
                       AND (state = 'rendered'
                            OR (state = 'deferred' AND (next_at IS NULL OR next_at <= now()))
                            OR ($3 AND state = 'unknown'))
                     FOR UPDATE SKIP LOCKED)
                 RETURNING attempts, rcpt_done, rcpt_failed",
                &[&message_id, &self.id, &resend_unknown],
            )
            .await
            .map_err(err)?;
        if let Some(row) = row {
            let attempts: i32 = row.get(0);
            let done: String = row.get(1);
            let failed: String = row.get(2);
            return Ok(Claim::Go {
                attempts: u32::try_from(attempts).unwrap_or(0),
                done: split_lines(&done),
                failed: split_lines(&failed),
            });
        }
        let row = self
            .client
            .query_opt(
                "SELECT state, reply, queue_id FROM mailspec_journal WHERE message_id = $1",
                &[&message_id],
            )
            .await
            .map_err(err)?;
        Ok(match row {
            Some(r) => {
                let state: String = r.get(0);
                Claim::Skip {
                    state: State::parse(&state),
                    reply: r.get(1),
                    queue_id: r.get(2),
                }
            }
            None => Claim::Skip {
                state: State::Unknown,
                reply: None,
                queue_id: None,
            },
        })
    }

    async fn finish(&self, message_id: &str, f: Finish) -> Result<(), String> {
        let retry_ms: Option<f64> = f.retry_after.map(|d| d.as_secs_f64() * 1000.0);
        self.client
            .execute(
                "UPDATE mailspec_journal SET state = $2, reply = $3, queue_id = coalesce($4, queue_id),
                     rcpt_done = rcpt_done || $5, rcpt_failed = rcpt_failed || $6,
                     next_at = CASE WHEN $7::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $7::float8 / 1000) END,
                     updated_at = now()
                 WHERE message_id = $1 AND owner = $8",
                &[
                    &message_id,
                    &f.state.as_str(),
                    &f.reply,
                    &f.queue_id,
                    &join_done(&f.done),
                    &join_failed(&f.failed),
                    &retry_ms,
                    &self.id,
                ],
            )
            .await
            .map_err(|e| format!("journal database: {e}"))?;
        Ok(())
    }

    /// `sending` rows whose owner no longer holds its advisory lock (its session ended: the
    /// process died) become `unknown`.
    async fn recover(&self) -> Result<u64, String> {
        self.client
            .execute(
                "UPDATE mailspec_journal j SET state = 'unknown',
                     reply = coalesce(j.reply || ' / ', '') || 'the worker stopped while this message was claimed',
                     updated_at = now()
                 WHERE j.state = 'sending' AND NOT EXISTS (
                     SELECT 1 FROM pg_locks l
                     WHERE l.locktype = 'advisory' AND l.granted
                       AND l.classid = $1::int4::oid AND l.objid = j.owner::oid AND l.objsubid = 2)",
                &[&LOCK_CLASS],
            )
            .await
            .map_err(|e| format!("journal database: {e}"))
    }
}
