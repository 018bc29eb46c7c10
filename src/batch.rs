//! The batch driver: records in, messages to a sink, one report per record.
//!
//! Input: a [`CompiledSpec`], a stream of raw records, a [`Sink`]. Output: a [`RecordReport`]
//! per record, handed to a callback as soon as the record is done, and a [`Summary`]. A bad
//! record never stops the batch (unless `fail_fast`), and memory does not grow with the number
//! of records, except for the set of keys seen (needed to refuse duplicates).

use serde::Serialize;

use crate::assets::AssetLoader;
use crate::data::{self, Item};
use crate::diag::{Code, Diagnostic};
use crate::error::Error;
use crate::render::{self, EmittedMessage, Envelope, RenderOptions};
use crate::sink::{Sink, Stager};
use crate::spec::CompiledSpec;

/// The record keys seen so far, as 64-bit digests, to refuse a duplicate key: 8 bytes a
/// record, the one part of a batch's memory that grows with its length.
///
/// A hash set would take 9 bytes a slot at up to 7/8 load and, while it doubles, hold the old
/// and the new table at once (about 28 MB at a million records); a sorted vector takes exactly 8
/// bytes a key, and glibc grows large vectors in place (mremap). New keys gather in a small
/// sorted buffer that is merged in when full, so an insert is two binary searches and merges
/// are amortised. A false duplicate needs a 64-bit collision: for 10^6 records the birthday
/// bound n²/2^65 is about 3·10^-8.
#[derive(Debug, Default)]
struct KeyIndex {
    sorted: Vec<u64>,
    recent: Vec<u64>,
}

impl KeyIndex {
    const RECENT: usize = 4096;

    /// Adds a digest; false when it was already there.
    fn insert(&mut self, k: u64) -> bool {
        if self.sorted.binary_search(&k).is_ok() {
            return false;
        }
        match self.recent.binary_search(&k) {
            Ok(_) => return false,
            Err(i) => self.recent.insert(i, k),
        }
        if self.recent.len() >= Self::RECENT {
            self.merge();
        }
        true
    }

    /// Merges the buffer into the sorted vector in place, from the back.
    fn merge(&mut self) {
        let (old, add) = (self.sorted.len(), self.recent.len());
        self.sorted.resize(old + add, 0);
        let (mut i, mut j, mut w) = (old, add, old + add);
        while j > 0 {
            w -= 1;
            if i > 0 && self.sorted[i - 1] > self.recent[j - 1] {
                self.sorted[w] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[w] = self.recent[j - 1];
                j -= 1;
            }
        }
        self.recent.clear();
    }
}

/// Which records to process.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only the first N selected records.
    pub limit: Option<usize>,
    /// Only these 1-based indexes (inclusive ranges).
    pub records: Option<Vec<(usize, usize)>>,
    /// Only shard `i` of `n` (1-based): records whose index ≡ i (mod n).
    pub shard: Option<(usize, usize)>,
}

impl Selection {
    /// From the command line's `--limit`, `--records 1,5-9` and `--shard I/N`.
    ///
    /// # Errors
    /// A message saying which value is wrong.
    pub fn from_flags(
        limit: Option<usize>,
        records: Option<&str>,
        shard: Option<&str>,
    ) -> Result<Self, String> {
        Ok(Selection {
            limit,
            records: records.map(Self::parse_records).transpose()?,
            shard: shard.map(Self::parse_shard).transpose()?,
        })
    }

    /// Whether the record at `index` is selected (before `limit`).
    pub fn includes(&self, index: usize) -> bool {
        if let Some(r) = &self.records
            && !r.iter().any(|&(a, b)| (a..=b).contains(&index))
        {
            return false;
        }
        if let Some((i, n)) = self.shard {
            // A deterministic partition by position: every record in exactly one shard.
            if (index - 1) % n != i - 1 {
                return false;
            }
        }
        true
    }

    /// Parses `1,5-9`.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn parse_records(s: &str) -> Result<Vec<(usize, usize)>, String> {
        s.split(',')
            .map(|part| {
                let part = part.trim();
                let (a, b) = part.split_once('-').unwrap_or((part, part));
                let a: usize = a
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{part}` is not a record number or range"))?;
                let b: usize = b
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{part}` is not a record number or range"))?;
                if a == 0 || b < a {
                    return Err(format!(
                        "`{part}`: records are numbered from 1, ranges go up"
                    ));
                }
                Ok((a, b))
            })
            .collect()
    }

    /// Parses `I/N`.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not `I/N`"))?;
        let i: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not `I/N`"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not `I/N`"))?;
        if n == 0 || i == 0 || i > n {
            return Err(format!("shard `{s}`: need 1 ≤ I ≤ N"));
        }
        Ok((i, n))
    }
}

/// One problem in a report: the library's [`Error`].
pub type ReportError = Error;

/// Whether a record became a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The message was rendered and handed to the sink.
    Ok,
    /// The record was refused; `errors` says why.
    Error,
}

/// What happened to one record: one JSON line of `--report`.
#[derive(Debug, Clone, Serialize)]
pub struct RecordReport {
    /// 1-based position in the data.
    pub index: usize,
    /// The record id, when it could be read.
    pub key: Option<String>,
    /// Line in the data file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// `ok` or `error`.
    pub status: Status,
    /// The Message-ID, when rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Where the message went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The SMTP envelope (MAIL FROM, every RCPT TO, Bcc included), when rendered.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
    /// Problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Error>,
}

impl RecordReport {
    /// A report for a record not (yet) rendered.
    fn new(index: usize, key: Option<String>, line: Option<u64>) -> Self {
        RecordReport {
            index,
            key,
            line,
            status: Status::Error,
            message_id: None,
            output: None,
            envelope: None,
            errors: Vec::new(),
        }
    }

    /// One line for humans: `record 3 (key `ES-1`, data.csv line 4): message (field `x`)`.
    pub fn describe(&self, source: &str) -> Vec<String> {
        let mut head = format!("record {}", self.index);
        let mut bits = Vec::new();
        if let Some(k) = &self.key {
            bits.push(format!("key `{k}`"));
        }
        if let Some(l) = self.line {
            bits.push(format!("{source}:{l}"));
        }
        if !bits.is_empty() {
            head.push_str(&format!(" ({})", bits.join(", ")));
        }
        self.errors
            .iter()
            .map(|e| {
                let mut s = format!("error[{}]: {head}: {}", e.kind, e.message);
                if let Some(at) =
                    e.at.as_ref()
                        .filter(|at| !e.message.contains(&format!("`{at}`")))
                {
                    s.push_str(&format!(" (in `{at}`)"));
                }
                s
            })
            .collect()
    }
}

/// Totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages written.
    pub ok: usize,
    /// Records that failed.
    pub failed: usize,
}

/// Batch settings.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Rendering settings.
    pub render: RenderOptions,
    /// Which records.
    pub selection: Selection,
    /// Stop at the first failed record.
    pub fail_fast: bool,
    /// Threads that check and render records; 0 means one per core.
    pub jobs: usize,
}

impl BatchOptions {
    /// The number of rendering threads `jobs` asks for.
    pub fn threads(&self) -> usize {
        match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        }
    }
}

/// Renders every selected record into `sink`, calling `report` after each, in record order.
///
/// With `opts.jobs` above 1 (0 means one per core), records are checked and rendered on that
/// many threads while this thread reads the data and writes the sink; the output is the same
/// bytes in the same order as with one job, and at most a few records per thread are in flight,
/// so memory stays flat.
///
/// # Errors
/// Only sink I/O errors end the batch early with an error (the message could not be stored,
/// so going on would lose track of what was written).
pub fn run(
    c: &CompiledSpec,
    items: impl Iterator<Item = Item>,
    opts: &BatchOptions,
    assets: &dyn AssetLoader,
    sink: &mut dyn Sink,
    report: &mut dyn FnMut(&RecordReport),
) -> std::io::Result<Summary> {
    let mut taken = 0usize;
    let selected = items
        .filter(|item| {
            let index = match item {
                Ok(r) => r.index,
                Err((i, _, _)) => *i,
            };
            opts.selection.includes(index)
        })
        .take_while(|_| {
            taken += 1;
            opts.selection.limit.is_none_or(|l| taken <= l)
        });
    // Taken before the sink is lent to the writer: the rendering threads share it.
    let stager = sink.stager();
    let stager = stager.as_deref();
    let mut out = Writer {
        sink,
        report,
        seen: KeyIndex::default(),
        summary: Summary::default(),
        key_field: c.plan.key_field.clone(),
        fail_fast: opts.fail_fast,
    };
    match opts.threads() {
        1 => {
            for item in selected {
                if !out.write(prepare(c, item, opts, assets, stager))? {
                    break;
                }
            }
        }
        jobs => run_parallel(c, selected, opts, (assets, stager), jobs, &mut out)?,
    }
    out.sink.finish()?;
    Ok(out.summary)
}

/// Checks and renders records on `jobs` threads; writes them here, in order.
fn run_parallel(
    c: &CompiledSpec,
    mut items: impl Iterator<Item = Item>,
    opts: &BatchOptions,
    (assets, stager): (&dyn AssetLoader, Option<&dyn Stager>),
    jobs: usize,
    out: &mut Writer<'_>,
) -> std::io::Result<()> {
    use std::sync::mpsc::sync_channel;
    // Records travel in chunks: a channel hand-over (and the wake-up of a sleeping thread)
    // per record cost more than a small render. Both channels hold a whole window of chunks,
    // so neither side ever blocks on a send; at most `window` records are in flight.
    const CHUNK: usize = 8;
    let chunks = jobs * 4;
    let window = chunks * CHUNK;
    let (work_tx, work_rx) = sync_channel::<Vec<(usize, Item)>>(chunks);
    let (done_tx, done_rx) = sync_channel::<Vec<(usize, Prepared)>>(chunks);
    let work_rx = std::sync::Mutex::new(work_rx);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            s.spawn(move || {
                loop {
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(chunk) = next else { return };
                    let done = chunk
                        .into_iter()
                        .map(|(seq, item)| (seq, prepare(c, item, opts, assets, stager)))
                        .collect();
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pending = std::collections::BTreeMap::new();
        let (mut sent, mut written, mut more) = (0usize, 0usize, true);
        loop {
            while more && sent - written < window {
                let chunk: Vec<(usize, Item)> = items
                    .by_ref()
                    .take(CHUNK)
                    .enumerate()
                    .map(|(i, item)| (sent + i, item))
                    .collect();
                more = chunk.len() == CHUNK;
                if chunk.is_empty() {
                    break;
                }
                sent += chunk.len();
                // The receivers live until the scope ends: this cannot fail.
                let _ = work_tx.send(chunk);
            }
            if written == sent {
                break;
            }
            let Ok(done) = done_rx.recv() else { break };
            pending.extend(done);
            while let Some(p) = pending.remove(&written) {
                written += 1;
                if !out.write(p)? {
                    more = false;
                    sent = written;
                    break;
                }
            }
        }
        // Closing the work queue ends the workers (after the chunk in hand).
        drop(work_tx);
        // Rendered after the batch stopped: staged work that is never stored is undone.
        for (_, p) in pending.into_iter().chain(done_rx.iter().flatten()) {
            out.discard(p);
        }
        Ok(())
    })
}

/// A record checked and rendered, waiting to be written in order.
struct Prepared {
    rep: RecordReport,
    /// The record's id (as written when it was refused before it was typed).
    key: Option<String>,
    /// Refused before rendering: its id is still claimed.
    refused: bool,
    message: Option<EmittedMessage>,
    /// The sink's share of the work, done on the rendering thread ([`Stager`]).
    staged: Option<std::io::Result<crate::sink::Staged>>,
}

/// Everything about one record that does not depend on the others: limits, types, render.
/// Pure; runs on any thread.
fn prepare(
    c: &CompiledSpec,
    item: Item,
    opts: &BatchOptions,
    assets: &dyn AssetLoader,
    stager: Option<&dyn Stager>,
) -> Prepared {
    let raw = match item {
        Ok(r) => r,
        Err((index, line, e)) => {
            let mut rep = RecordReport::new(index, None, line);
            rep.errors.push(Error::from(e));
            return Prepared {
                rep,
                key: None,
                refused: false,
                message: None,
                staged: None,
            };
        }
    };
    // The key as written, even when the record fails its checks, so the report can name it.
    let raw_key = c
        .plan
        .key_field
        .as_ref()
        .and_then(|k| raw.values.get(k))
        .and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            v => Some(v.to_string()),
        });
    let index = raw.index;
    let mut rep = RecordReport::new(index, raw_key.clone(), raw.line);
    let refuse = |mut rep: RecordReport, errs: Vec<data::DataError>| {
        rep.errors = errs.into_iter().map(Error::from).collect();
        Prepared {
            rep,
            key: raw_key.clone(),
            refused: true,
            message: None,
            staged: None,
        }
    };
    let too_big = data::check_limits(&raw, opts.render.max_field);
    if !too_big.is_empty() {
        return refuse(rep, too_big);
    }
    let record = match data::coerce(&c.plan.fields, &raw) {
        Ok(r) => r,
        Err(errs) => return refuse(rep, errs),
    };
    let key = render::record_key(&c.plan, &record, index);
    rep.key = Some(key.clone());
    let message = match render::render(c, &record, index, assets, &opts.render) {
        Ok(m) => Some(m),
        Err(errs) => {
            rep.errors = errs;
            None
        }
    };
    let staged = stager.zip(message.as_ref()).map(|(s, m)| s.stage(index, m));
    Prepared {
        rep,
        key: Some(key),
        refused: false,
        message,
        staged,
    }
}

/// The ordered, stateful end of a batch: one message per record id, the sink, the reports.
struct Writer<'a> {
    sink: &'a mut dyn Sink,
    report: &'a mut dyn FnMut(&RecordReport),
    seen: KeyIndex,
    summary: Summary,
    key_field: Option<String>,
    fail_fast: bool,
}

impl Writer<'_> {
    /// Writes one record's outcome; false when the batch must stop (`fail_fast`).
    fn write(&mut self, p: Prepared) -> std::io::Result<bool> {
        let Prepared {
            mut rep,
            key,
            refused,
            message,
            mut staged,
        } = p;
        // The record id is the message's identity (it seeds the Message-ID): one message per
        // id. A refused record still claims its id, so the rest of a refused group of CSV
        // rows cannot go out later as if it were the whole record.
        let first = key
            .as_deref()
            .is_none_or(|k| self.seen.insert(key_digest(k)));
        match (refused, first, message) {
            (false, false, _) => {
                let key = key.unwrap_or_default();
                rep.errors = vec![Error::new(
                    Code::DataDuplicateKey,
                    format!("key `{key}` was already used by an earlier record (keys name output files and seed the Message-ID)"),
                )
                .field(self.key_field.clone())];
            }
            (false, true, Some(m)) => {
                let out = match staged.take() {
                    Some(staged) => self.sink.accept_staged(rep.index, &m, staged?)?,
                    None => self.sink.accept(rep.index, &m)?,
                };
                rep.status = Status::Ok;
                rep.message_id = Some(m.message_id);
                rep.envelope = Some(m.envelope);
                rep.output = Some(out);
            }
            _ => {}
        }
        // Staged for a message that is not stored (a duplicate id): undone.
        if let Some(Ok(staged)) = staged {
            self.sink.discard_staged(rep.index, staged);
        }
        if rep.status == Status::Ok {
            self.summary.ok += 1;
        } else {
            self.summary.failed += 1;
        }
        (self.report)(&rep);
        Ok(!(self.fail_fast && self.summary.failed > 0))
    }
}

impl Writer<'_> {
    /// A record prepared but never written (the batch stopped first).
    fn discard(&mut self, p: Prepared) {
        if let Some(Ok(staged)) = p.staged {
            self.sink.discard_staged(p.rep.index, staged);
        }
    }
}

/// The 64-bit digest of a record id kept by [`KeyIndex`].
fn key_digest(key: &str) -> u64 {
    let d = crate::mime::ident::stable_hash(&[key.as_bytes()]);
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// A sink that keeps nothing: a dry run renders to find errors and writes nothing.
struct Discard;

impl Sink for Discard {
    fn accept(&mut self, _: usize, _: &EmittedMessage) -> std::io::Result<String> {
        Ok(String::new())
    }
}

/// Renders the bundled sample and fixture records; each failure becomes a diagnostic at the
/// `data.sample` or `data.fixtures.NAME` key.
pub fn dry_run(c: &CompiledSpec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut sets: Vec<(String, String, &crate::spec::model::Records)> = Vec::new();
    if let Some(s) = &c.spec.data.sample {
        sets.push(("/data/sample".into(), "sample".into(), s));
    }
    for (name, r) in &c.spec.data.fixtures {
        sets.push((
            format!("/data/fixtures/{name}"),
            format!("fixture `{name}`"),
            r,
        ));
    }
    let opts = BatchOptions {
        render: crate::render::RenderOptions {
            // The Date does not change whether a record is valid; a fixed one keeps check pure.
            date: chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").ok(),
            ..Default::default()
        },
        ..Default::default()
    };
    for (ptr, what, records) in sets {
        let span = c.map.key_span(&ptr);
        let items = match c.open_records(records) {
            Ok(i) => i,
            Err(e) => {
                out.push(
                    Diagnostic::error(e.code, format!("{what}: {}", e.message))
                        .at(c.file, span)
                        .label("these records"),
                );
                continue;
            }
        };
        let mut reports = Vec::new();
        let assets = crate::assets::DirLoader::new(c.dir.clone());
        let res = run(c, items, &opts, &assets, &mut Discard, &mut |r| {
            if r.status != Status::Ok {
                reports.push(r.clone());
            }
        });
        if let Err(e) = res {
            out.push(
                Diagnostic::error(Code::IoRead, format!("{what}: {e}")).at(c.file, span.clone()),
            );
        }
        for r in reports {
            for e in &r.errors {
                let key = r
                    .key
                    .as_ref()
                    .map(|k| format!(" (key `{k}`)"))
                    .unwrap_or_default();
                let mut d = Diagnostic::error(
                    e.kind,
                    format!("{what}, record {}{key}: {}", r.index, e.message),
                )
                .at(c.file, span.clone())
                .label("records from here");
                if let Some(at) = &e.at {
                    d = d.note(format!("while rendering `{at}`"));
                }
                out.push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::KeyIndex;

    #[test]
    fn key_index_finds_duplicates_across_merges() {
        let mut idx = KeyIndex::default();
        // A scrambled sequence much longer than the buffer, each value twice.
        let keys: Vec<u64> = (0..20_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for &k in &keys {
            assert!(idx.insert(k));
        }
        for &k in keys.iter().rev() {
            assert!(!idx.insert(k));
        }
        assert!(idx.sorted.windows(2).all(|w| w[0] < w[1]));
        assert!(idx.insert(12345));
    }
}
