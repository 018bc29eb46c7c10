//! The run: the producer on the caller's thread, `--connections` connection tasks
//! ([`super::worker`]) on a tokio runtime on another thread, and what they share: the bounded
//! job queue, the rate limiter, the journal, cancellation and the outcome channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;

use super::journal::Journal;
use super::target::JournalLocation;
use super::worker::{interrupted, worker};
use super::{Outcome, Outgoing, Produced, Rejected, SendError, SendOptions, Summary, Transport};

/// One queued message, with its progress in this run.
pub(super) struct Job {
    pub(super) msg: Arc<Outgoing>,
    /// Attempts in this run.
    pub(super) attempt: u32,
    /// Recipients still to do (`None` before the first claim: all but those the journal
    /// lists as done or failed).
    pub(super) remaining: Option<Vec<String>>,
    pub(super) accepted: Vec<String>,
    pub(super) rejected: Vec<Rejected>,
    /// Keeps the queue open while the job exists (queued, in flight or waiting to retry): the
    /// queue closes exactly when the producer is done and no job is left anywhere.
    pub(super) open: mpsc::Sender<Job>,
}

impl Job {
    fn new(msg: Outgoing, open: mpsc::Sender<Job>) -> Self {
        Job {
            msg: Arc::new(msg),
            attempt: 0,
            remaining: None,
            accepted: Vec::new(),
            rejected: Vec::new(),
            open,
        }
    }
}

/// A rate shared by all connections: each message start takes the next free slot.
pub(super) struct Limiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Limiter {
    pub(super) async fn wait(&self) {
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
pub(super) struct Ctx {
    pub(super) opts: SendOptions,
    pub(super) journal: Journal,
    queue: Mutex<mpsc::Receiver<Job>>,
    out: mpsc::UnboundedSender<Outcome>,
    pub(super) limiter: Option<Limiter>,
    cancel: watch::Sender<bool>,
    stop: Arc<AtomicBool>,
    fatal: std::sync::Mutex<Option<String>>,
}

impl Ctx {
    pub(super) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }
    pub(super) fn cancel(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.cancel.send(true);
    }
    /// Stops the run for a reason that would fail every message the same way.
    pub(super) fn fail(&self, why: String) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(why);
        }
        self.cancel();
    }
    pub(super) fn report(&self, o: Outcome) {
        let _ = self.out.send(o);
    }
    /// Returns once the run is stopping.
    pub(super) async fn until_cancelled(&self) {
        let mut rx = self.cancel.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Takes the next job, or `None` when the queue is closed or the run stops.
pub(super) async fn next_job(ctx: &Ctx) -> Option<Job> {
    if ctx.cancelled() {
        return None;
    }
    let mut q = ctx.queue.lock().await;
    tokio::select! {
        j = q.recv() => j,
        () = ctx.until_cancelled() => None,
    }
}

/// Sends every message `producer` hands over, calling `report` once per message.
///
/// `producer` runs on the calling thread (the sending on another) and calls its argument for
/// each message or refused record; that call returns `false` when the run is stopping (Ctrl-C,
/// a fatal error), and the producer should then return.
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
    let (job_tx, job_rx) = mpsc::channel::<Job>(opts.connections.max(1) * 4);
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Outcome>();
    let (ctx, recovered) = open(&rt, opts, job_rx, out_tx.clone())?;
    let mut summary = Summary {
        recovered_unknown: recovered,
        ..Summary::default()
    };
    std::thread::scope(|scope| {
        let dispatcher = scope.spawn(|| rt.block_on(dispatch(&ctx, out_rx, &mut summary, report)));
        produce(producer, &ctx.stop, job_tx, out_tx);
        let _ = dispatcher.join();
    });
    let ctx =
        Arc::try_unwrap(ctx).map_err(|_| SendError("internal: a task outlived the run".into()))?;
    summary.interrupted = ctx.stop.load(Ordering::SeqCst);
    summary.fatal = ctx.fatal.lock().ok().and_then(|f| f.clone());
    rt.block_on(async {
        if let Ok(n) = ctx.journal.recover().await {
            summary.recovered_unknown += n;
        }
        ctx.journal.close().await;
    });
    Ok(summary)
}

/// Opens the journal (none for a dry run) and builds the shared state; also returns how many
/// claims of stopped processes the journal found and marked `unknown`.
fn open(
    rt: &Runtime,
    opts: &SendOptions,
    queue: mpsc::Receiver<Job>,
    out: mpsc::UnboundedSender<Outcome>,
) -> Result<(Arc<Ctx>, u64), SendError> {
    let journal_loc = match opts.transport {
        Transport::DryRun => JournalLocation::None,
        _ => opts.journal.clone(),
    };
    let (journal, recovered) = rt
        .block_on(Journal::open(&journal_loc))
        .map_err(SendError)?;
    let ctx = Ctx {
        opts: opts.clone(),
        journal,
        queue: Mutex::new(queue),
        out,
        limiter: opts.rate.map(|r| Limiter {
            interval: r.interval(),
            next: Mutex::new(Instant::now()),
        }),
        cancel: watch::channel(false).0,
        stop: Arc::new(AtomicBool::new(false)),
        fatal: std::sync::Mutex::new(None),
    };
    Ok((Arc::new(ctx), recovered))
}

/// Runs the producer on this thread: each message becomes a job on the bounded queue (so
/// memory does not grow with the batch), each refused record an outcome.
fn produce(
    producer: impl FnOnce(&mut dyn FnMut(Produced) -> bool),
    stop: &AtomicBool,
    jobs: mpsc::Sender<Job>,
    out: mpsc::UnboundedSender<Outcome>,
) {
    producer(&mut |p| {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        match p {
            Produced::Refused(o) => out.send(*o).is_ok(),
            Produced::Message(m) => jobs.blocking_send(Job::new(m, jobs.clone())).is_ok(),
        }
    });
}

/// The runtime's side: Ctrl-C handling, the connection tasks, and every outcome passed to
/// `report` as it arrives, until no job is left anywhere.
async fn dispatch(
    ctx: &Arc<Ctx>,
    mut out_rx: mpsc::UnboundedReceiver<Outcome>,
    summary: &mut Summary,
    report: &mut (dyn FnMut(&Outcome) + Send),
) {
    if ctx.opts.handle_ctrl_c {
        tokio::spawn(on_ctrl_c(Arc::downgrade(ctx)));
    }
    let workers: Vec<_> = (0..ctx.opts.connections.max(1))
        .map(|_| tokio::spawn(worker(ctx.clone())))
        .collect();
    let mut drain = tokio::spawn(drain(ctx.clone(), workers));
    let mut take = |o: Outcome| {
        summary.add(&o);
        report(&o);
    };
    // Once the drain is over, no job exists anywhere (queued, in flight or waiting to retry),
    // so every outcome has been sent: read what is left and stop.
    loop {
        tokio::select! {
            biased;
            o = out_rx.recv() => match o {
                Some(o) => take(o),
                None => break,
            },
            _ = &mut drain => {
                while let Ok(o) = out_rx.try_recv() {
                    take(o);
                }
                break;
            }
        }
    }
}

/// Waits for the connection tasks, then reports what is still queued (the run stopped early:
/// it was never claimed).
async fn drain(ctx: Arc<Ctx>, workers: Vec<tokio::task::JoinHandle<()>>) {
    for w in workers {
        let _ = w.await;
    }
    let mut q = ctx.queue.lock().await;
    while let Some(job) = q.recv().await {
        ctx.report(interrupted(&job, "not sent: the run stopped first"));
    }
}

/// The first Ctrl-C stops gracefully; the second exits at once.
async fn on_ctrl_c(ctx: std::sync::Weak<Ctx>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    eprintln!("\ninterrupted: finishing the messages in flight (Ctrl-C again to stop at once)");
    if let Some(c) = ctx.upgrade() {
        c.cancel();
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        // Whatever was claimed is `unknown` at the next run: nothing is resent blindly.
        std::process::exit(130);
    }
}
