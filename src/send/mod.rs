//! The send stage: delivers rendered messages over SMTP (or a local sendmail), loses nothing
//! and never silently sends a message twice.
//!
//! Input: [`Outgoing`] messages (from [`crate::render`] or from a directory `render --out`
//! wrote, see [`rendered`]), produced on a thread of the caller's. Output: one [`Outcome`] per
//! message, and a [`Summary`].
//!
//! How a message travels: the producer renders it and queues it (a bounded queue: memory does
//! not grow with the batch); one of `--connections` connection tasks takes it, waits for the
//! shared rate limiter, claims it in the [`journal`] (durably, before the first command), runs
//! the SMTP transaction ([`smtp`]), and stores the result. A 4xx or a connection lost before
//! the final `.` is retried with exponential backoff and jitter, up to `max_attempts`; a 5xx
//! fails that recipient at once; a connection lost after the final `.` makes the message
//! `unknown`, which is never retried automatically. Retries reuse the same bytes, so the same
//! Message-ID.
//!
//! This is the only module that touches the network or the clock (timeouts and backoff);
//! tokio lives here and nowhere else.

pub mod journal;
pub mod rendered;
pub mod reply;
pub mod sendmail;
pub mod smtp;
pub mod target;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;

use crate::render::EmittedMessage;
use journal::{Claim, Finish, Journal, State};
use smtp::{Connection, SmtpConfig, TxOutcome};
use target::{JournalLocation, Rate};

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

/// What became of a message, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The server took it (in this run, or `earlier`).
    Accepted,
    /// Not taken yet (4xx, connection trouble, interrupted): a rerun tries again.
    Deferred,
    /// Refused for good (5xx, or a server lacking what the message needs).
    Failed,
    /// May have been delivered: the connection dropped after the final `.`. Held on reruns
    /// unless `--resend-unknown`.
    Unknown,
    /// Another worker has it (a shared journal).
    Skipped,
    /// Not a message: the record could not be rendered or the file changed.
    #[default]
    Error,
    /// `--dry-run`: would be sent.
    DryRun,
}

impl Status {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Deferred => "deferred",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::Skipped => "skipped",
            Status::Error => "error",
            Status::DryRun => "dry-run",
        }
    }
}

/// A recipient the server refused for good.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The address.
    pub rcpt: String,
    /// The server's reply.
    pub reply: String,
}

/// One line of the send report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Outcome {
    /// 1-based position in the batch.
    pub index: usize,
    /// The record id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The Message-ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// What became of it.
    pub status: Status,
    /// The outcome comes from an earlier run (the journal), nothing was sent now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub earlier: bool,
    /// Attempts (all runs).
    #[serde(skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// The deciding server reply, or why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The server's queue id, when its reply named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// MAIL FROM (empty for `<>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    /// Recipients the server took.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<String>,
    /// Recipients refused for good.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejected>,
    /// Why the record did not render.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<crate::error::Error>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Totals of a run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Messages per status.
    pub counts: BTreeMap<Status, usize>,
    /// Per status, the reasons seen and how often (at most 20 kept per status).
    pub reasons: BTreeMap<Status, Vec<(String, usize)>>,
    /// Claims of stopped processes found and marked `unknown` at the start or the end.
    pub recovered_unknown: u64,
    /// Ctrl-C stopped the run early.
    pub interrupted: bool,
    /// A problem that stopped the run (bad credentials, no STARTTLS, journal failure).
    pub fatal: Option<String>,
}

impl Summary {
    fn add(&mut self, o: &Outcome) {
        *self.counts.entry(o.status).or_default() += 1;
        let reason = match (&o.reason, o.earlier) {
            (Some(r), true) => Some(format!("earlier run: {r}")),
            (None, true) => Some("earlier run".to_string()),
            (r, false) => r.clone(),
        };
        if let Some(r) = reason {
            let list = self.reasons.entry(o.status).or_default();
            if let Some(e) = list.iter_mut().find(|(x, _)| *x == r) {
                e.1 += 1;
            } else if list.len() < 20 {
                list.push((r, 1));
            }
        }
    }

    /// Messages with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// The table printed at the end: one row per status, with the commonest reasons.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str("status     messages  reasons\n");
        for s in [
            Status::Accepted,
            Status::Deferred,
            Status::Failed,
            Status::Unknown,
            Status::Skipped,
            Status::Error,
            Status::DryRun,
        ] {
            let n = self.count(s);
            if n == 0
                && !matches!(
                    s,
                    Status::Accepted | Status::Deferred | Status::Failed | Status::Unknown
                )
            {
                continue;
            }
            let mut reasons = self.reasons.get(&s).cloned().unwrap_or_default();
            reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
            let first = reasons
                .first()
                .map(|(r, c)| format!("{c}× {r}"))
                .unwrap_or_default();
            out.push_str(&format!("{:<10} {n:>8}  {first}\n", s.as_str()));
            for (r, c) in reasons.iter().skip(1).take(4) {
                out.push_str(&format!("{:<10} {:>8}  {c}× {r}\n", "", ""));
            }
        }
        if self.recovered_unknown > 0 {
            out.push_str(&format!(
                "{} message(s) were claimed by a process that stopped and are now unknown\n",
                self.recovered_unknown
            ));
        }
        out
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// One queued message, with its progress in this run.
struct Job {
    msg: Arc<Outgoing>,
    /// Attempts in this run.
    attempt: u32,
    /// Recipients still to do (`None` before the first claim: all but those the journal
    /// lists as done or failed).
    remaining: Option<Vec<String>>,
    accepted: Vec<String>,
    rejected: Vec<Rejected>,
    /// Keeps the queue open while the job exists (queued, in flight or waiting to retry): the
    /// queue closes exactly when the producer is done and no job is left anywhere.
    _open: mpsc::Sender<Job>,
}

/// A rate shared by all connections: each message start takes the next free slot.
struct Limiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Limiter {
    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// State shared by the connection tasks.
struct Ctx {
    opts: SendOptions,
    journal: Journal,
    queue: Mutex<mpsc::Receiver<Job>>,
    out: mpsc::UnboundedSender<Outcome>,
    limiter: Option<Limiter>,
    cancel: watch::Sender<bool>,
    stop: Arc<AtomicBool>,
    fatal: std::sync::Mutex<Option<String>>,
}

impl Ctx {
    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }
    fn cancel(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.cancel.send(true);
    }
    fn fail(&self, why: String) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(why);
        }
        self.cancel();
    }
    fn report(&self, o: Outcome) {
        let _ = self.out.send(o);
    }
}

/// Sends every message `producer` hands over, calling `report` once per message.
///
/// `producer` runs on the calling thread (the sending on others) and calls its argument for each message or refused
/// record; that call returns `false` when the run is stopping (Ctrl-C, a fatal error), and
/// the producer should then return.
///
/// # Errors
/// The journal cannot be opened, or the runtime cannot start. Problems during the run are in
/// the summary (`fatal`), after every started message has been accounted for.
pub fn run(
    opts: &SendOptions,
    producer: impl FnOnce(&mut dyn FnMut(Produced) -> bool),
    report: &mut (dyn FnMut(&Outcome) + Send),
) -> Result<Summary, SendError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SendError(format!("cannot start the runtime: {e}")))?;
    let connections = opts.connections.max(1);
    let (job_tx, job_rx) = mpsc::channel::<Job>(connections * 4);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outcome>();
    let stop = Arc::new(AtomicBool::new(false));
    let journal_loc = match opts.transport {
        Transport::DryRun => JournalLocation::None,
        _ => opts.journal.clone(),
    };
    let (journal, recovered) = rt
        .block_on(Journal::open(&journal_loc))
        .map_err(SendError)?;
    let (cancel, _) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        opts: opts.clone(),
        journal,
        queue: Mutex::new(job_rx),
        out: out_tx.clone(),
        limiter: opts.rate.map(|r| Limiter {
            interval: r.interval(),
            next: Mutex::new(Instant::now()),
        }),
        cancel,
        stop: stop.clone(),
        fatal: std::sync::Mutex::new(None),
    });
    let mut summary = Summary {
        recovered_unknown: recovered,
        ..Summary::default()
    };

    std::thread::scope(|scope| {
        let producer_out = out_tx.clone();
        drop(out_tx);
        let dispatcher = scope.spawn(|| {
        rt.block_on(async {
            if opts.handle_ctrl_c {
                let weak = Arc::downgrade(&ctx);
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!(
                            "\ninterrupted: finishing the messages in flight (Ctrl-C again to stop at once)"
                        );
                        if let Some(c) = weak.upgrade() {
                            c.cancel();
                        }
                        if tokio::signal::ctrl_c().await.is_ok() {
                            // Whatever was claimed is `unknown` at the next run: nothing is
                            // resent blindly.
                            std::process::exit(130);
                        }
                    }
                });
            }
            let mut workers = Vec::new();
            for _ in 0..connections {
                workers.push(tokio::spawn(worker(ctx.clone())));
            }
            let drain_ctx = ctx.clone();
            let drain = tokio::spawn(async move {
                for w in workers {
                    let _ = w.await;
                }
                // Stopped early: what is still queued was never claimed.
                let mut q = drain_ctx.queue.lock().await;
                while let Some(job) = q.recv().await {
                    drain_ctx.report(interrupted(&job, "not sent: the run stopped first"));
                }
            });
            // Once the drain is over, no job exists anywhere (queued, in flight or waiting to
            // retry), so every outcome has been sent: read what is left and stop.
            let mut drain = drain;
            loop {
                tokio::select! {
                    biased;
                    o = out_rx.recv() => match o {
                        Some(o) => {
                            summary.add(&o);
                            report(&o);
                        }
                        None => break,
                    },
                    _ = &mut drain => {
                        while let Ok(o) = out_rx.try_recv() {
                            summary.add(&o);
                            report(&o);
                        }
                        break;
                    }
                }
            }
        });
        });
        // The producer runs here, on the caller's thread: records and the compiled spec need
        // not be shareable across threads.
        {
            let tx = job_tx;
            producer(&mut |p| {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                match p {
                    Produced::Refused(o) => {
                        let _ = producer_out.send(*o);
                        true
                    }
                    Produced::Message(m) => {
                        let job = Job {
                            msg: Arc::new(m),
                            attempt: 0,
                            remaining: None,
                            accepted: Vec::new(),
                            rejected: Vec::new(),
                            _open: tx.clone(),
                        };
                        tx.blocking_send(job).is_ok()
                    }
                }
            });
        }
        drop(producer_out);
        let _ = dispatcher.join();
    });
    let ctx = match Arc::try_unwrap(ctx) {
        Ok(c) => c,
        Err(_) => return Err(SendError("internal: a task outlived the run".into())),
    };
    summary.interrupted = ctx.stop.load(Ordering::SeqCst);
    summary.fatal = ctx.fatal.lock().ok().and_then(|f| f.clone());
    let Ctx { journal, .. } = ctx;
    rt.block_on(async {
        if let Ok(n) = journal.recover().await {
            summary.recovered_unknown += n;
        }
        journal.close().await;
    });
    Ok(summary)
}

fn base_outcome(m: &Outgoing, status: Status) -> Outcome {
    Outcome {
        index: m.index,
        key: Some(m.key.clone()),
        message_id: Some(m.message_id.clone()),
        status,
        mail_from: Some(m.mail_from.clone()),
        ..Outcome::default()
    }
}

fn interrupted(job: &Job, why: &str) -> Outcome {
    let mut o = base_outcome(&job.msg, Status::Deferred);
    o.attempts = job.attempt;
    o.reason = Some(why.to_string());
    o.accepted = job.accepted.clone();
    o.rejected = job.rejected.clone();
    o
}

/// Backoff before attempt `attempt + 1`: `base · 2^(attempt-1)`, capped at an hour, then a
/// random point in its upper half, so connections that failed together do not retry together.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let d = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_secs(3600));
    let half = d / 2;
    half + Duration::from_nanos(fastrand::u64(
        0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX),
    ))
}

/// Returns once the run is stopping.
async fn until_cancelled(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Takes the next job, or `None` when the queue is closed or the run stops.
async fn next_job(ctx: &Ctx) -> Option<Job> {
    let mut cancel = ctx.cancel.subscribe();
    if *cancel.borrow() {
        return None;
    }
    let mut q = ctx.queue.lock().await;
    tokio::select! {
        j = q.recv() => j,
        () = until_cancelled(&mut cancel) => None,
    }
}

/// One connection (or sendmail slot): takes jobs until the queue closes.
async fn worker(ctx: Arc<Ctx>) {
    let mut conn: Option<Connection> = None;
    while let Some(mut job) = next_job(&ctx).await {
        if let Transport::DryRun = ctx.opts.transport {
            let mut o = base_outcome(&job.msg, Status::DryRun);
            o.accepted = job.msg.rcpt_to.clone();
            ctx.report(o);
            continue;
        }
        if let Some(l) = &ctx.limiter {
            l.wait().await;
        }
        if let Transport::Smtp(cfg) = &ctx.opts.transport
            && conn.is_none()
        {
            match Connection::open(cfg).await {
                Ok(c) => conn = Some(c),
                Err(e) if e.fatal => {
                    ctx.report(interrupted(&job, &format!("not sent: {}", e.message)));
                    ctx.fail(e.message);
                    break;
                }
                Err(e) => {
                    // Nothing was claimed: the attempt still counts, so a server that is down
                    // costs a bounded number of tries.
                    job.attempt += 1;
                    retry_or_give_up(&ctx, job, e.message).await;
                    continue;
                }
            }
        }
        // Claim (durably) before the first command.
        let claim = ctx
            .journal
            .claim(&job.msg.message_id, &job.msg.key, ctx.opts.resend_unknown)
            .await;
        let (attempts, done, failed) = match claim {
            Err(e) => {
                ctx.report(interrupted(&job, &format!("not sent: {e}")));
                ctx.fail(e);
                break;
            }
            Ok(Claim::Skip {
                state,
                reply,
                queue_id,
            }) => {
                let (status, earlier, note) = match state {
                    State::Accepted => (Status::Accepted, true, None),
                    State::Failed => (Status::Failed, true, None),
                    State::Unknown => (
                        Status::Unknown,
                        true,
                        Some(
                            "held: may have been delivered in an earlier run; --resend-unknown sends it again",
                        ),
                    ),
                    State::Sending => {
                        (Status::Skipped, false, Some("another worker is sending it"))
                    }
                    State::Deferred => {
                        (Status::Skipped, false, Some("another worker will retry it"))
                    }
                    State::Rendered => (Status::Skipped, false, Some("another worker has it")),
                };
                let mut o = base_outcome(&job.msg, status);
                o.earlier = earlier;
                o.reason = match (note, reply) {
                    (Some(n), _) => Some(n.to_string()),
                    (None, r) => r,
                };
                o.queue_id = queue_id;
                ctx.report(o);
                continue;
            }
            Ok(Claim::Go {
                attempts,
                done,
                failed,
            }) => (attempts, done, failed),
        };
        job.attempt += 1;
        let rcpts = match job.remaining.take() {
            Some(r) => r,
            None => {
                job.accepted.extend(done.iter().cloned());
                job.msg
                    .rcpt_to
                    .iter()
                    .filter(|r| !done.contains(r) && !failed.contains(r))
                    .cloned()
                    .collect()
            }
        };
        let tx = if rcpts.is_empty() {
            // An earlier run got every recipient done or refused but stopped before saying so.
            TxOutcome::Done {
                reply: "every recipient was done in an earlier run".into(),
                accepted: Vec::new(),
                rejected: Vec::new(),
                deferred: Vec::new(),
            }
        } else {
            match &ctx.opts.transport {
                Transport::Smtp(_) => match conn.as_mut() {
                    Some(c) => c.send(&job.msg, &rcpts).await,
                    None => TxOutcome::Lost("no connection".into()),
                },
                Transport::Sendmail(path, timeout) => {
                    sendmail::send(path, *timeout, &job.msg, &rcpts).await
                }
                Transport::DryRun => TxOutcome::Lost("dry run".into()),
            }
        };
        if matches!(tx, TxOutcome::Lost(_) | TxOutcome::Unknown(_))
            && let Some(c) = conn.take()
        {
            drop(c);
        }
        settle(&ctx, job, attempts, tx).await;
    }
    if let Some(c) = conn {
        c.quit().await;
    }
}

/// Stores and reports the result of one attempt, or schedules the next.
async fn settle(ctx: &Arc<Ctx>, mut job: Job, attempts: u32, tx: TxOutcome) {
    let mid = job.msg.message_id.clone();
    let (finish, outcome_status, reason, queue_id) = match tx {
        TxOutcome::Done {
            reply,
            accepted,
            rejected,
            deferred,
        } => {
            let q = reply::queue_id(&reply);
            job.accepted.extend(accepted.iter().cloned());
            job.rejected
                .extend(rejected.iter().map(|(r, why)| Rejected {
                    rcpt: r.clone(),
                    reply: why.clone(),
                }));
            if !deferred.is_empty() {
                // Some recipients said "later": keep what was done, retry the rest.
                let why = format!("RCPT TO:<{}>: {}", deferred[0].0, deferred[0].1);
                let f = Finish {
                    state: State::Deferred,
                    reply: Some(why.clone()),
                    queue_id: q,
                    done: accepted,
                    failed: rejected,
                    retry_after: None,
                };
                job.remaining = Some(deferred.into_iter().map(|(r, _)| r).collect());
                return defer(ctx, job, f, why).await;
            }
            let state = if job.accepted.is_empty() {
                State::Failed
            } else {
                State::Accepted
            };
            let f = Finish {
                state,
                reply: Some(reply.clone()),
                queue_id: q.clone(),
                done: accepted,
                failed: rejected,
                retry_after: None,
            };
            let status = if state == State::Accepted {
                Status::Accepted
            } else {
                Status::Failed
            };
            (f, status, Some(reply), q)
        }
        TxOutcome::Refused {
            reply,
            permanent: true,
            rejected,
        } => {
            job.rejected
                .extend(rejected.iter().map(|(r, why)| Rejected {
                    rcpt: r.clone(),
                    reply: why.clone(),
                }));
            // A refusal of the whole message fails every recipient still pending.
            let mut failed = rejected;
            if failed.is_empty() {
                let pending: Vec<String> = job
                    .remaining
                    .clone()
                    .unwrap_or_else(|| job.msg.rcpt_to.clone());
                for r in pending.iter().filter(|r| !job.accepted.contains(r)) {
                    failed.push((r.clone(), reply.clone()));
                }
            }
            let state = if job.accepted.is_empty() {
                State::Failed
            } else {
                State::Accepted
            };
            let f = Finish {
                state,
                reply: Some(reply.clone()),
                queue_id: None,
                done: Vec::new(),
                failed,
                retry_after: None,
            };
            let status = if state == State::Accepted {
                Status::Accepted
            } else {
                Status::Failed
            };
            (f, status, Some(reply), None)
        }
        TxOutcome::Refused {
            reply,
            permanent: false,
            rejected,
        } => {
            job.rejected
                .extend(rejected.iter().map(|(r, why)| Rejected {
                    rcpt: r.clone(),
                    reply: why.clone(),
                }));
            let rejected_now: Vec<String> = rejected.iter().map(|(r, _)| r.clone()).collect();
            if job.remaining.is_none() {
                job.remaining = Some(job.msg.rcpt_to.clone());
            }
            if let Some(rem) = job.remaining.as_mut() {
                rem.retain(|r| !rejected_now.contains(r) && !job.accepted.contains(r));
            }
            let f = Finish {
                state: State::Deferred,
                reply: Some(reply.clone()),
                queue_id: None,
                done: Vec::new(),
                failed: rejected,
                retry_after: None,
            };
            return defer(ctx, job, f, reply).await;
        }
        TxOutcome::Lost(why) => {
            if job.remaining.is_none() {
                job.remaining = Some(job.msg.rcpt_to.clone());
            }
            let f = Finish {
                state: State::Deferred,
                reply: Some(why.clone()),
                queue_id: None,
                done: Vec::new(),
                failed: Vec::new(),
                retry_after: None,
            };
            return defer(ctx, job, f, why).await;
        }
        TxOutcome::Unknown(why) => {
            let f = Finish {
                state: State::Unknown,
                reply: Some(why.clone()),
                queue_id: None,
                done: Vec::new(),
                failed: Vec::new(),
                retry_after: None,
            };
            (f, Status::Unknown, Some(why), None)
        }
    };
    let mut o = base_outcome(&job.msg, outcome_status);
    o.attempts = attempts;
    o.reason = reason;
    o.queue_id = queue_id;
    o.accepted = job.accepted.clone();
    o.rejected = job.rejected.clone();
    // The connection goes on to its next message while the result is committed: with SQLite
    // the write joins the next group commit (the next claim's), so each message waits for one
    // fsync, not two. The outcome is reported once the result is durable, and the job lives
    // until then, so the run cannot end before it is stored.
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = ctx.journal.finish(&mid, finish).await {
            ctx.fail(e);
        }
        ctx.report(o);
        drop(job);
    });
}

/// A transient failure: store `deferred`, then retry after a backoff, or give up.
async fn defer(ctx: &Arc<Ctx>, job: Job, mut f: Finish, why: String) {
    let last = job.attempt >= ctx.opts.max_attempts;
    let delay = backoff(ctx.opts.retry_delay, job.attempt);
    f.retry_after = (!last).then_some(delay);
    if let Err(e) = ctx.journal.finish(&job.msg.message_id, f).await {
        ctx.fail(e);
    }
    retry_or_give_up(ctx, job, why).await;
}

/// Schedules the next attempt after a backoff, or reports the message `deferred` when the
/// attempts are used up or the run is stopping.
async fn retry_or_give_up(ctx: &Arc<Ctx>, job: Job, why: String) {
    if job.attempt >= ctx.opts.max_attempts || ctx.cancelled() {
        let mut o = interrupted(&job, &why);
        if job.attempt >= ctx.opts.max_attempts {
            o.reason = Some(format!("{why} (gave up after {} attempts)", job.attempt));
        }
        ctx.report(o);
        return;
    }
    let delay = backoff(ctx.opts.retry_delay, job.attempt);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let mut cancel = ctx.cancel.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => {
                let tx = job._open.clone();
                if let Err(e) = tx.send(job).await {
                    let job = e.0;
                    ctx.report(interrupted(&job, &why));
                }
            }
            () = until_cancelled(&mut cancel) => {
                ctx.report(interrupted(&job, &format!("{why}; the run stopped before the retry")));
            }
        }
    });
}
