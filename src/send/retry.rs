//! What follows an attempt: the result stored in the journal and reported, or, for a
//! transient failure (4xx, a connection lost before the final `.`), `deferred` stored and the
//! next attempt scheduled after an exponential backoff with jitter, up to `max_attempts`.
//! A 5xx fails the recipients it concerns at once; a connection lost after the final `.`
//! makes the message `unknown`, which is never retried automatically. Retries reuse the same
//! bytes, so the same Message-ID.

use std::sync::Arc;
use std::time::Duration;

use super::journal::{Finish, State};
use super::pool::{Ctx, Job};
use super::reply;
use super::smtp::TxOutcome;
use super::worker::{base_outcome, interrupted};
use super::{Rejected, Status};

/// A result to store and report as the message's outcome in this run.
struct Final {
    finish: Finish,
    status: Status,
    reason: String,
    queue_id: Option<String>,
}

/// What an attempt leads to.
enum Verdict {
    /// Done with this message for this run.
    Final(Final),
    /// Store `deferred` (with what was done) and try again.
    Retry(Finish, String),
}

/// A journal entry with no recipient news.
fn finish(state: State, reply: &str) -> Finish {
    Finish {
        state,
        reply: Some(reply.to_string()),
        queue_id: None,
        done: Vec::new(),
        failed: Vec::new(),
        retry_after: None,
    }
}

/// `accepted` if any recipient was taken (now or earlier), else `failed`.
fn accepted_or_failed(job: &Job) -> (State, Status) {
    if job.accepted.is_empty() {
        (State::Failed, Status::Failed)
    } else {
        (State::Accepted, Status::Accepted)
    }
}

fn note_rejected(job: &mut Job, rejected: &[(String, String)]) {
    job.rejected
        .extend(rejected.iter().map(|(r, why)| Rejected {
            rcpt: r.clone(),
            reply: why.clone(),
        }));
}

/// Stores and reports the result of one attempt, or schedules the next.
pub(super) async fn settle(ctx: &Arc<Ctx>, mut job: Job, attempts: u32, tx: TxOutcome) {
    let verdict = match tx {
        TxOutcome::Done {
            reply,
            accepted,
            rejected,
            deferred,
        } => taken(&mut job, reply, accepted, rejected, deferred),
        TxOutcome::Refused {
            reply,
            permanent: true,
            rejected,
        } => refused(&mut job, reply, rejected),
        TxOutcome::Refused {
            reply,
            permanent: false,
            rejected,
        } => refused_for_now(&mut job, reply, rejected),
        TxOutcome::Lost(why) => {
            if job.remaining.is_none() {
                job.remaining = Some(job.msg.rcpt_to.clone());
            }
            Verdict::Retry(finish(State::Deferred, &why), why)
        }
        TxOutcome::Unknown(why) => Verdict::Final(Final {
            finish: finish(State::Unknown, &why),
            status: Status::Unknown,
            reason: why,
            queue_id: None,
        }),
    };
    match verdict {
        Verdict::Retry(f, why) => defer(ctx, job, f, why).await,
        Verdict::Final(f) => store(ctx, job, attempts, f),
    }
}

/// The server took the message for some recipients (250 to the final `.`).
fn taken(
    job: &mut Job,
    reply: String,
    accepted: Vec<String>,
    rejected: Vec<(String, String)>,
    deferred: Vec<(String, String)>,
) -> Verdict {
    let queue_id = reply::queue_id(&reply);
    job.accepted.extend(accepted.iter().cloned());
    note_rejected(job, &rejected);
    let mut f = finish(State::Deferred, &reply);
    f.queue_id = queue_id.clone();
    f.done = accepted;
    f.failed = rejected;
    if let Some((rcpt, why)) = deferred.first() {
        // Some recipients said "later": keep what was done, retry the rest.
        let why = format!("RCPT TO:<{rcpt}>: {why}");
        f.reply = Some(why.clone());
        job.remaining = Some(deferred.into_iter().map(|(r, _)| r).collect());
        return Verdict::Retry(f, why);
    }
    let (state, status) = accepted_or_failed(job);
    f.state = state;
    Verdict::Final(Final {
        finish: f,
        status,
        reason: reply,
        queue_id,
    })
}

/// A 5xx for the whole message: every recipient still pending fails with it.
fn refused(job: &mut Job, reply: String, rejected: Vec<(String, String)>) -> Verdict {
    note_rejected(job, &rejected);
    let mut failed = rejected;
    if failed.is_empty() {
        let pending = job
            .remaining
            .clone()
            .unwrap_or_else(|| job.msg.rcpt_to.clone());
        for r in pending.iter().filter(|r| !job.accepted.contains(r)) {
            failed.push((r.clone(), reply.clone()));
        }
    }
    let (state, status) = accepted_or_failed(job);
    let mut f = finish(state, &reply);
    f.failed = failed;
    Verdict::Final(Final {
        finish: f,
        status,
        reason: reply,
        queue_id: None,
    })
}

/// A 4xx: recipients refused for good stay refused, the others are tried again.
fn refused_for_now(job: &mut Job, reply: String, rejected: Vec<(String, String)>) -> Verdict {
    note_rejected(job, &rejected);
    let rejected_now: Vec<&String> = rejected.iter().map(|(r, _)| r).collect();
    let mut remaining = job
        .remaining
        .take()
        .unwrap_or_else(|| job.msg.rcpt_to.clone());
    remaining.retain(|r| !rejected_now.contains(&r) && !job.accepted.contains(r));
    job.remaining = Some(remaining);
    let mut f = finish(State::Deferred, &reply);
    f.failed = rejected;
    Verdict::Retry(f, reply)
}

/// Stores the final result and reports it once durable.
fn store(ctx: &Arc<Ctx>, job: Job, attempts: u32, f: Final) {
    let mut o = base_outcome(&job.msg, f.status);
    o.attempts = attempts;
    o.reason = Some(f.reason);
    o.queue_id = f.queue_id;
    o.accepted = job.accepted.clone();
    o.rejected = job.rejected.clone();
    // The connection goes on to its next message while the result is committed: with SQLite
    // the write joins the next group commit (the next claim's), so each message waits for one
    // fsync, not two. The outcome is reported once the result is durable, and the job lives
    // until then, so the run cannot end before it is stored.
    // Queued now, before the worker's next claim, so it commits with or before that claim.
    let storing = ctx.journal.store(&job.msg.message_id, f.finish);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = ctx.journal.stored(storing).await {
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
    retry_after(ctx, job, why, delay);
}

/// Schedules the next attempt after a backoff, or reports the message `deferred` when the
/// attempts are used up or the run is stopping.
pub(super) async fn retry_or_give_up(ctx: &Arc<Ctx>, job: Job, why: String) {
    let delay = backoff(ctx.opts.retry_delay, job.attempt);
    retry_after(ctx, job, why, delay);
}

fn retry_after(ctx: &Arc<Ctx>, job: Job, why: String, delay: Duration) {
    if job.attempt >= ctx.opts.max_attempts || ctx.cancelled() {
        let mut o = interrupted(&job, &why);
        if job.attempt >= ctx.opts.max_attempts {
            o.reason = Some(format!("{why} (gave up after {} attempts)", job.attempt));
        }
        ctx.report(o);
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(delay) => {
                let tx = job.open.clone();
                if let Err(e) = tx.send(job).await {
                    ctx.report(interrupted(&e.0, &why));
                }
            }
            () = ctx.until_cancelled() => {
                ctx.report(interrupted(&job, &format!("{why}; the run stopped before the retry")));
            }
        }
    });
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
