//! The send stage: delivers rendered messages over SMTP (or a local sendmail), loses nothing
//! and never silently sends a message twice.
//!
//! Input: [`Outgoing`] messages (from [`crate::render`] or from a directory `render --out`
//! wrote, see [`rendered`]), produced on a thread of the caller's. Output: one [`Outcome`] per
//! message, and a [`Summary`].
//!
//! How a message travels: the producer renders it and queues it (a bounded queue: memory does
//! not grow with the batch); one of `--connections` connection tasks takes it, waits for the
//! shared rate limiter, claims it in the [`journal`] (durably before the final `.`), runs the
//! SMTP transaction ([`smtp`]), and stores the result. A 4xx or a connection lost before
//! the final `.` is retried with exponential backoff and jitter, up to `max_attempts`; a 5xx
//! fails that recipient at once; a connection lost after the final `.` makes the message
//! `unknown`, which is never retried automatically. Retries reuse the same bytes, so the same
//! Message-ID.
//!
//! The pieces: `pool` (the run: producer, queue, connection tasks, shared state), `worker`
//! (one connection: claim, transaction), `retry` (store the result, or back off and retry),
//! `report` (outcomes and the summary table), [`smtp`] and [`sendmail`] (the transports).
//!
//! This is the only part of the pipeline that touches the network or the clock (timeouts
//! and backoff).

pub mod journal;
mod pool;
pub mod rendered;
pub mod reply;
mod report;
mod retry;
pub mod sendmail;
pub mod smtp;
pub mod target;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::render::EmittedMessage;
use smtp::SmtpConfig;
use target::{JournalLocation, Rate};

pub use pool::run;
pub use report::{Outcome, Rejected, Status, Summary};

/// A secret (password or token): never printed, never in a `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    /// The secret itself, for the AUTH exchange only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One message ready to send: exact bytes and envelope.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// 1-based position in the batch.
    pub index: usize,
    /// The record id.
    pub key: String,
    /// The Message-ID, without brackets: the journal's key.
    pub message_id: String,
    /// MAIL FROM in wire form (quoted local part when needed); empty for `<>`.
    pub mail_from: String,
    /// RCPT TO, in wire form; Bcc recipients included (they are never in the bytes).
    pub rcpt_to: Vec<String>,
    /// The message needs SMTPUTF8.
    pub smtputf8: bool,
    /// The message, CRLF line ends, exactly as rendered.
    pub bytes: Vec<u8>,
}

impl Outgoing {
    /// From a rendered message.
    pub fn from_emitted(index: usize, m: &EmittedMessage) -> Self {
        Outgoing {
            index,
            key: m.key.clone(),
            message_id: m.message_id.clone(),
            mail_from: m
                .envelope
                .from
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            rcpt_to: m.envelope.to.iter().map(ToString::to_string).collect(),
            smtputf8: m.envelope.smtputf8,
            bytes: m.bytes.clone(),
        }
    }
}

/// What the producer hands over.
#[derive(Debug)]
pub enum Produced {
    /// A message to send.
    Message(Outgoing),
    /// A record that did not become a message (render error, changed file): reported as is.
    Refused(Box<Outcome>),
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// An SMTP server.
    Smtp(Box<SmtpConfig>),
    /// A sendmail-compatible program, with a time limit per message.
    Sendmail(PathBuf, Duration),
    /// Nowhere: everything but connecting.
    DryRun,
}

/// Settings of a send run.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Where messages go.
    pub transport: Transport,
    /// Parallel connections (or sendmail processes).
    pub connections: usize,
    /// A rate shared by all connections.
    pub rate: Option<Rate>,
    /// Attempts per message in this run (4xx, lost connections) before it is left `deferred`.
    pub max_attempts: u32,
    /// The first retry delay; doubled each time, with jitter.
    pub retry_delay: Duration,
    /// Send messages the journal lists as `unknown` again.
    pub resend_unknown: bool,
    /// The journal.
    pub journal: JournalLocation,
    /// Stop gracefully on Ctrl-C (in-flight messages finish, the journal is flushed); a second
    /// Ctrl-C exits at once.
    pub handle_ctrl_c: bool,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// The server's extensions, from one short connection (see [`smtp::probe`]).
///
/// # Errors
/// The runtime cannot start, or the connection fails.
pub fn server_caps(cfg: &SmtpConfig) -> Result<smtp::Caps, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(smtp::probe(cfg)).map_err(|e| e.message)
}
