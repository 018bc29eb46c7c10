//! What became of each message (one report line: [`Outcome`]) and of the run ([`Summary`],
//! the table printed at the end).

use std::collections::BTreeMap;

use serde::Serialize;

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
    /// Counts one outcome.
    pub(super) fn add(&mut self, o: &Outcome) {
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
