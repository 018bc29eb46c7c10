//! One connection task (or sendmail slot): takes jobs from the queue, waits for the rate
//! limiter, claims each message in the journal (durable before the final `.`, see
//! [`super::journal`]), runs the transaction and hands the result to [`super::retry::settle`].

use std::sync::Arc;

use super::journal::{Claim, Durable, State};
use super::pool::{Ctx, Job, next_job};
use super::retry::{retry_or_give_up, settle};
use super::smtp::{Connection, TxOutcome};
use super::{Outcome, Outgoing, Status, Transport, sendmail};

/// The report line of `m`, before anything is known.
pub(super) fn base_outcome(m: &Outgoing, status: Status) -> Outcome {
    Outcome {
        index: m.index,
        key: Some(m.key.clone()),
        message_id: Some(m.message_id.clone()),
        status,
        mail_from: Some(m.mail_from.clone()),
        ..Outcome::default()
    }
}

/// A job left `deferred` in this run (stopped, or attempts used up), with what it got so far.
pub(super) fn interrupted(job: &Job, why: &str) -> Outcome {
    let mut o = base_outcome(&job.msg, Status::Deferred);
    o.attempts = job.attempt;
    o.reason = Some(why.to_string());
    o.accepted = job.accepted.clone();
    o.rejected = job.rejected.clone();
    o
}

/// Takes jobs until the queue closes or the run stops.
pub(super) async fn worker(ctx: Arc<Ctx>) {
    let mut conn: Option<Connection> = None;
    while let Some(job) = next_job(&ctx).await {
        if let Transport::DryRun = ctx.opts.transport {
            let mut o = base_outcome(&job.msg, Status::DryRun);
            o.accepted = job.msg.rcpt_to.clone();
            ctx.report(o);
            continue;
        }
        if let Some(l) = &ctx.limiter {
            l.wait().await;
        }
        let mut job = match connect(&ctx, &mut conn, job).await {
            Step::Go(job) => job,
            Step::Next => continue,
            Step::Stop => break,
        };
        let ((attempts, done, failed), mut durable) = match claim(&ctx, &job).await {
            Step::Go(c) => c,
            Step::Next => continue,
            Step::Stop => break,
        };
        job.attempt += 1;
        let rcpts = recipients(&mut job, &done, &failed);
        let tx = attempt(&ctx, conn.as_mut(), &job.msg, &rcpts, &mut durable).await;
        if matches!(tx, TxOutcome::Lost(_) | TxOutcome::Unknown(_)) {
            // The session is in an unknown state: the next message opens a new one.
            conn = None;
        }
        if let Err(e) = durable.wait().await {
            // The claim could not be stored: nothing more is sent, since what was sent could
            // no longer be proved.
            ctx.report(interrupted(&job, &format!("not sent: {e}")));
            ctx.fail(e);
            break;
        }
        settle(&ctx, job, attempts, tx).await;
    }
    if let Some(c) = conn {
        c.quit().await;
    }
}

/// What a worker does next.
enum Step<T> {
    /// Go on with this.
    Go(T),
    /// This job is dealt with (reported, or scheduled for a retry): take the next.
    Next,
    /// The run stops (reported and recorded in the context).
    Stop,
}

/// Opens the SMTP connection when there is none.
async fn connect(ctx: &Arc<Ctx>, conn: &mut Option<Connection>, mut job: Job) -> Step<Job> {
    let Transport::Smtp(cfg) = &ctx.opts.transport else {
        return Step::Go(job);
    };
    if conn.is_some() {
        return Step::Go(job);
    }
    match Connection::open(cfg).await {
        Ok(c) => {
            *conn = Some(c);
            Step::Go(job)
        }
        Err(e) if e.fatal => {
            ctx.report(interrupted(&job, &format!("not sent: {}", e.message)));
            ctx.fail(e.message);
            Step::Stop
        }
        Err(e) => {
            // Nothing was claimed: the attempt still counts, so a server that is down costs a
            // bounded number of tries.
            job.attempt += 1;
            retry_or_give_up(ctx, job, e.message).await;
            Step::Next
        }
    }
}

/// Attempts so far, recipients done and recipients failed in earlier attempts.
type Claimed = (u32, Vec<String>, Vec<String>);

/// Claims the message in the journal; a message that is not to be sent now is reported.
async fn claim(ctx: &Ctx, job: &Job) -> Step<(Claimed, Durable)> {
    let m = &job.msg;
    match ctx
        .journal
        .claim(&m.message_id, &m.key, ctx.opts.resend_unknown)
        .await
    {
        Err(e) => {
            ctx.report(interrupted(job, &format!("not sent: {e}")));
            ctx.fail(e);
            Step::Stop
        }
        Ok((
            Claim::Skip {
                state,
                reply,
                queue_id,
            },
            _,
        )) => {
            ctx.report(skipped(m, state, reply, queue_id));
            Step::Next
        }
        Ok((
            Claim::Go {
                attempts,
                done,
                failed,
            },
            durable,
        )) => Step::Go(((attempts, done, failed), durable)),
    }
}

/// The report line of a message the journal says not to send now.
fn skipped(m: &Outgoing, state: State, reply: Option<String>, queue_id: Option<String>) -> Outcome {
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
        State::Sending => (Status::Skipped, false, Some("another worker is sending it")),
        State::Deferred => (Status::Skipped, false, Some("another worker will retry it")),
        State::Rendered => (Status::Skipped, false, Some("another worker has it")),
    };
    let mut o = base_outcome(m, status);
    o.earlier = earlier;
    o.reason = note.map(str::to_string).or(reply);
    o.queue_id = queue_id;
    o
}

/// The recipients of this attempt: those left from the last one, or on the first attempt of
/// this run, all but those the journal lists as done or failed.
fn recipients(job: &mut Job, done: &[String], failed: &[String]) -> Vec<String> {
    if let Some(r) = job.remaining.take() {
        return r;
    }
    job.accepted.extend(done.iter().cloned());
    job.msg
        .rcpt_to
        .iter()
        .filter(|r| !done.contains(r) && !failed.contains(r))
        .cloned()
        .collect()
}

/// One transaction over the transport; the message's end goes only once the claim is
/// `durable`.
async fn attempt(
    ctx: &Ctx,
    conn: Option<&mut Connection>,
    m: &Outgoing,
    rcpts: &[String],
    durable: &mut Durable,
) -> TxOutcome {
    if rcpts.is_empty() {
        // An earlier run got every recipient done or refused but stopped before saying so.
        return TxOutcome::Done {
            reply: "every recipient was done in an earlier run".into(),
            accepted: Vec::new(),
            rejected: Vec::new(),
            deferred: Vec::new(),
        };
    }
    match &ctx.opts.transport {
        Transport::Smtp(_) => match conn {
            Some(c) => c.send(m, rcpts, durable).await,
            None => TxOutcome::Lost("no connection".into()),
        },
        Transport::Sendmail(path, timeout) => {
            if let Err(e) = durable.wait().await {
                return TxOutcome::Lost(format!("not sent: {e}"));
            }
            sendmail::send(path, *timeout, m, rcpts).await
        }
        Transport::DryRun => TxOutcome::Lost("dry run".into()),
    }
}
