//! `mailspec render SPEC`

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset};
use mailspec::batch::{self, BatchOptions, Selection};
use mailspec::data::{self, Format};
use mailspec::diag::Code;
use mailspec::render::RenderOptions;
use mailspec::sink::{DirSink, MaildirSink, MboxSink, Sink, WriterSink};

#[derive(clap::Args)]
pub struct Args {
    /// The spec to render.
    spec: PathBuf,
    /// Records: a .csv, .json, .jsonl or .yaml file, or `-` for stdin. Default: the spec's
    /// bundled sample records.
    #[arg(long, value_name = "FILE")]
    data: Option<String>,
    /// Format of --data when its extension does not say (csv, json, jsonl, yaml).
    #[arg(long, value_name = "FORMAT")]
    data_format: Option<String>,
    /// Delimiter of CSV --data: one ASCII character (`;`, `|`) or `tab`. Default: a comma, or
    /// the semicolon or tab that a one-column header plainly uses (a note says so).
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    delimiter: Option<u8>,
    /// Directory for the .eml files (default `out/<spec name>/`), with every message's envelope
    /// on a line of DIR/envelopes.jsonl; `-` writes one message to stdout. Each file appears
    /// whole or not at all. What an earlier render wrote there (listed in envelopes.jsonl) is
    /// replaced, and what this one does not write again is removed at the end; other messages
    /// there are refused.
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
    /// With a directory: remove every .eml file already in it first.
    #[arg(long)]
    force: bool,
    /// Write all messages to this mbox file (mboxrd) instead of a directory. An existing file
    /// is replaced (truncated first): one run writes one complete batch.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "maildir"])]
    mbox: Option<PathBuf>,
    /// Deliver into this Maildir (tmp/ then new/) instead of a directory.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out"])]
    maildir: Option<PathBuf>,
    /// The Date of every message whose spec does not take it from the record (RFC 3339).
    /// Default: SOURCE_DATE_EPOCH if set, else the current time.
    #[arg(long, value_name = "RFC3339")]
    date: Option<String>,
    /// With `--out -`: which record to write (1-based). Default 1.
    #[arg(long, value_name = "N")]
    record: Option<usize>,
    /// Only these records, e.g. `1,5-9` (1-based).
    #[arg(long, value_name = "LIST")]
    records: Option<String>,
    /// Only the first N selected records.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Only shard I of N (1-based), a deterministic partition for splitting a list across machines.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Stop at the first record that fails.
    #[arg(long)]
    fail_fast: bool,
    /// Threads that render records (0: one per core). The output is the same bytes in the
    /// same order whatever the number.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    jobs: usize,
    /// Check every record without writing any message (`mailspec check --data`).
    #[arg(skip)]
    validate_only: bool,
    /// Largest file attached or inlined, in bytes (suffixes k, M, G allowed).
    #[arg(long, value_name = "SIZE", default_value = "25M", value_parser = parse_size)]
    max_attachment_size: u64,
    /// Largest encoded message, in bytes (suffixes k, M, G allowed).
    #[arg(long, value_name = "SIZE", default_value = "50M", value_parser = parse_size)]
    max_message_size: u64,
    /// Largest single record value (a CSV cell, a JSON string), in bytes.
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = parse_size)]
    max_field_size: u64,
    /// Write one JSON line per record (index, key, status, message_id, output, errors).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    dkim: DkimArgs,
}

/// The DKIM options, one definition for `render` and `send`.
#[derive(clap::Args, Default)]
pub struct DkimArgs {
    /// Sign every message with DKIM (RFC 6376, relaxed/relaxed), with the spec's `dkim`
    /// settings or the --dkim-* options (`send` signs whenever the spec has `dkim`). A
    /// signature holds the signing time, so signed output is not byte-stable.
    #[arg(long)]
    dkim: bool,
    /// The DKIM private key file (PEM, RSA or Ed25519), instead of the spec's `dkim.key`.
    #[arg(long, value_name = "FILE", requires = "dkim")]
    dkim_key: Option<PathBuf>,
    /// The DKIM signing domain (`d=`), instead of the spec's `dkim.domain`.
    #[arg(long, value_name = "DOMAIN", requires = "dkim")]
    dkim_domain: Option<String>,
    /// The DKIM selector (`s=`), instead of the spec's `dkim.selector`.
    #[arg(long, value_name = "SELECTOR", requires = "dkim")]
    dkim_selector: Option<String>,
}

impl DkimArgs {
    /// Any DKIM option was given.
    pub fn asked(&self) -> bool {
        self.dkim
    }

    /// The signer when `--dkim` is given, or when `spec_asks` and the spec has `dkim`; `None`
    /// otherwise.
    ///
    /// # Errors
    /// A setting given nowhere, or a key file that cannot be read or cannot sign.
    pub fn signer(
        &self,
        c: &mailspec::spec::CompiledSpec,
        spec_asks: bool,
    ) -> anyhow::Result<Option<mailspec::deliver::dkim::Signer>> {
        let spec = c.plan.deliver.dkim.as_ref();
        let wanted = self.dkim || (spec_asks && spec.is_some());
        if !wanted {
            return Ok(None);
        }
        let overrides = mailspec::deliver::DkimOverrides {
            domain: self.dkim_domain.as_deref(),
            selector: self.dkim_selector.as_deref(),
            key: self.dkim_key.as_deref(),
        };
        match mailspec::deliver::signer(spec, &overrides) {
            Ok(s) => Ok(Some(s)),
            Err(e) => bail!("{e}"),
        }
    }
}

/// `25M`, `512k`, `1G` or plain bytes (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size like 25M, 512k or 1048576"))
}

/// `;`, `|`, `tab` (or `\t`, as typed in a shell): one ASCII byte that can separate cells.
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ => match s.as_bytes() {
            // The quote and line ends already mean something in CSV.
            [b'"' | b'\r' | b'\n'] => Err(format!("`{s}` cannot be a CSV delimiter")),
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(format!(
                "`{s}` is not one ASCII character; use e.g. `;`, `|` or `tab`"
            )),
        },
    }
}

/// `--date`, else `SOURCE_DATE_EPOCH` (reproducible-builds.org convention), else now.
/// The clock is read here, in the CLI, never in the library.
pub fn resolve_date(arg: Option<&str>) -> anyhow::Result<DateTime<FixedOffset>> {
    if let Some(d) = arg {
        return DateTime::parse_from_rfc3339(d).with_context(|| {
            format!("--date `{d}` is not RFC 3339 (e.g. 2024-06-15T13:15:07+01:00)")
        });
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = s
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH `{s}` is not a number of seconds"))?;
        let d = DateTime::from_timestamp(secs, 0)
            .with_context(|| format!("SOURCE_DATE_EPOCH `{s}` is out of range"))?;
        return Ok(d.fixed_offset());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    let secs = i64::try_from(now.as_secs()).context("the system clock is out of range")?;
    Ok(DateTime::from_timestamp(secs, 0)
        .context("the system clock is out of range")?
        .fixed_offset())
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let c = match mailspec::spec::compile_path(&a.spec) {
        Ok(c) => c,
        Err((sources, diags)) => {
            eprint!("{}", sources.render(&diags));
            let io = diags.iter().any(|d| d.code == mailspec::diag::Code::IoRead);
            return Ok(ExitCode::from(if io { 2 } else { 1 }));
        }
    };
    eprint!("{}", c.sources.render(&c.warnings));
    let date = resolve_date(a.date.as_deref())?;
    let to_stdout = a.out.as_deref() == Some("-");
    let selection = selection(&a, to_stdout)?;
    let progress = progress_bar(&a, to_stdout);
    let source = RecordSource {
        data: a.data.as_deref(),
        format: a.data_format.as_deref(),
        delimiter: a.delimiter,
    };
    let Some((items, source_name)) = open_records(source, &c, progress.as_ref())? else {
        return Ok(ExitCode::from(1));
    };
    let dkim = a.dkim.signer(&c, false)?;
    let mut sink = open_sink(&a, &c, to_stdout)?;
    let opts = BatchOptions {
        render: RenderOptions {
            date: Some(date),
            max_attachment: a.max_attachment_size,
            max_message: a.max_message_size,
            max_field: usize::try_from(a.max_field_size).unwrap_or(usize::MAX),
            dkim,
            seven_bit: false,
        },
        selection,
        fail_fast: a.fail_fast,
        jobs: a.jobs,
    };
    let summary = run_batch(&a, &c, items, &opts, sink.as_mut(), &source_name, progress)?;
    if a.validate_only {
        eprintln!(
            "{} record(s) valid, {} refused (nothing written)",
            summary.ok, summary.failed
        );
    } else if !to_stdout {
        eprintln!(
            "{} message(s) written, {} record(s) failed",
            summary.ok, summary.failed
        );
    }
    if to_stdout && summary.ok == 0 && summary.failed == 0 {
        bail!("there is no record {}", a.record.unwrap_or(1));
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--records`, `--limit`, `--shard`, and `--record` for `--out -`.
fn selection(a: &Args, to_stdout: bool) -> anyhow::Result<Selection> {
    let mut selection = Selection::from_flags(a.limit, a.records.as_deref(), a.shard.as_deref())
        .map_err(anyhow::Error::msg)?;
    if to_stdout {
        if a.records.is_some() || a.limit.is_some() || a.shard.is_some() {
            bail!("`--out -` writes one message: pick it with --record N");
        }
        let n = a.record.unwrap_or(1);
        if n == 0 {
            bail!("--record counts from 1");
        }
        selection.records = Some(vec![(n, n)]);
    } else if a.record.is_some() {
        bail!("--record goes with `--out -`; use --records to select records for a directory");
    }
    Ok(selection)
}

/// A progress bar only for a person watching a long batch: stderr is a terminal and the
/// messages do not go to stdout.
fn progress_bar(a: &Args, to_stdout: bool) -> Option<indicatif::ProgressBar> {
    (!to_stdout && a.data.as_deref().is_some_and(|d| d != "-") && std::io::stderr().is_terminal())
        .then(|| {
            let pb = indicatif::ProgressBar::new(0);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% {msg} · ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        })
}

/// The records and the name of the file they come from (for messages).
pub type Records = (Box<dyn Iterator<Item = data::Item>>, String);

/// Where the records come from, as `--data`, `--data-format` and `--delimiter` say (`render`,
/// `check --data` and `send`).
#[derive(Clone, Copy, Default)]
pub struct RecordSource<'a> {
    /// `--data`: a file, or `-` for stdin; `None`: the spec's sample.
    pub data: Option<&'a str>,
    /// `--data-format`.
    pub format: Option<&'a str>,
    /// `--delimiter`.
    pub delimiter: Option<u8>,
}

/// The records: `--data` (with the spec's fields, key and `--delimiter`), else the spec's
/// sample. `None` when the source as a whole is unusable (already reported on stderr).
pub fn open_records(
    src: RecordSource<'_>,
    c: &mailspec::spec::CompiledSpec,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<Option<Records>> {
    let Some(d) = src.data else {
        if src.delimiter.is_some() {
            bail!("--delimiter applies to --data");
        }
        let Some(s) = &c.spec.data.sample else {
            bail!(
                "`{}` has no `data.sample`: pass --data FILE",
                c.path.display()
            );
        };
        // Errors name the file the records are in, so `file:line` points at the right row.
        let shown = match s {
            mailspec::spec::model::Records::File(rel) => c
                .path
                .parent()
                .unwrap_or(std::path::Path::new(""))
                .join(rel)
                .display()
                .to_string(),
            mailspec::spec::model::Records::Inline(_) => c.path.display().to_string(),
        };
        return match c.open_records(s) {
            Ok(items) => Ok(Some((items, shown))),
            Err(e) => {
                eprintln!("error[{}]: sample records: {}", e.code, e.message);
                Ok(None)
            }
        };
    };
    let format = match src.format {
        Some(f) => Format::parse(f)
            .with_context(|| format!("unknown --data-format `{f}` (csv, json, jsonl, yaml)"))?,
        None if d == "-" => bail!("reading stdin needs --data-format"),
        None => Format::from_path(std::path::Path::new(d)).with_context(|| {
            format!("cannot tell the format of `{d}` from its extension: use --data-format")
        })?,
    };
    if src.delimiter.is_some() && format != Format::Csv {
        bail!("--delimiter applies to CSV data only");
    }
    let reader: Box<dyn Read + Send> = if d == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = match File::open(d) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let path = std::path::Path::new(d);
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let hint = name
                    .and_then(|n| {
                        mailspec::spec::check::nearest_file(std::slice::from_ref(&dir), &n)
                    })
                    .map(|h| format!(": did you mean `{}`?", dir.join(h).display()))
                    .unwrap_or_default();
                bail!("cannot open `{d}`: no such file{hint}");
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open `{d}`")),
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        match progress {
            // Progress in bytes of the data file read: the only total known before a
            // streaming read ends, and what makes the ETA honest.
            Some(pb) => {
                pb.set_length(len);
                Box::new(BufReader::new(pb.wrap_read(f)))
            }
            None => Box::new(BufReader::new(f)),
        }
    };
    let read_opts = data::ReadOptions {
        fields: Some(&c.spec.data.fields),
        key: c.spec.data.key.as_deref(),
        delimiter: src.delimiter,
    };
    match data::read_with(reader, format, &read_opts) {
        Ok(opened) => {
            for w in &opened.warnings {
                eprintln!("warning[{}]: {d}: {}", w.code, w.message);
            }
            for n in &opened.notes {
                eprintln!("note: {d}: {n}");
            }
            Ok(Some((opened.items, d.to_string())))
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error[{}]: {d}: {}", e.code, e.message);
            }
            Ok(None)
        }
    }
}

/// Where the messages go: stdout, an mbox, a Maildir, or a directory of `.eml` files.
/// The arguments of `mailspec check SPEC --data FILE`: every record checked and rendered in
/// memory, nothing written but the report.
pub fn validation(
    spec: PathBuf,
    data: String,
    data_format: Option<String>,
    delimiter: Option<u8>,
    report: Option<PathBuf>,
) -> Args {
    Args {
        spec,
        data: Some(data),
        data_format,
        delimiter,
        out: None,
        force: false,
        mbox: None,
        maildir: None,
        // The Date does not change whether a record is valid.
        date: Some("2000-01-01T00:00:00Z".into()),
        record: None,
        report,
        records: None,
        limit: None,
        shard: None,
        fail_fast: false,
        jobs: 0,
        validate_only: true,
        max_attachment_size: mailspec::render::DEFAULT_MAX_ATTACHMENT,
        max_message_size: mailspec::render::DEFAULT_MAX_MESSAGE,
        max_field_size: mailspec::data::MAX_FIELD_BYTES as u64,
        // Checking a record never needs its signature.
        dkim: DkimArgs::default(),
    }
}

fn open_sink(
    a: &Args,
    c: &mailspec::spec::CompiledSpec,
    to_stdout: bool,
) -> anyhow::Result<Box<dyn Sink>> {
    if a.validate_only {
        return Ok(Box::new(mailspec::sink::NullSink));
    }
    if to_stdout {
        return Ok(Box::new(WriterSink::new(BufWriter::new(
            std::io::stdout().lock(),
        ))));
    }
    if let Some(m) = &a.mbox {
        let sink = MboxSink::new(m).with_context(|| format!("cannot create `{}`", m.display()))?;
        return Ok(Box::new(sink));
    }
    if let Some(m) = &a.maildir {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let stamp = format!("{now}.{}", std::process::id());
        let sink = MaildirSink::new(m, &stamp)
            .with_context(|| format!("cannot create `{}`", m.display()))?;
        return Ok(Box::new(sink));
    }
    let dir = a
        .out
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("out").join(mailspec::sink::slug(&c.name)));
    let sink = DirSink::open(&dir, a.force)
        .with_context(|| format!("cannot write into `{}`", dir.display()))?;
    Ok(Box::new(sink))
}

/// Runs the batch: problems on stderr (repeats counted), one `--report` line per record.
fn run_batch(
    a: &Args,
    c: &mailspec::spec::CompiledSpec,
    items: Box<dyn Iterator<Item = data::Item>>,
    opts: &BatchOptions,
    sink: &mut dyn Sink,
    source_name: &str,
    progress: Option<indicatif::ProgressBar>,
) -> anyhow::Result<batch::Summary> {
    let mut report_out = match &a.report {
        Some(p) => {
            Some(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create `{}`", p.display())
            })?))
        }
        None => None,
    };
    let mut report_err: Option<std::io::Error> = None;
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let mut repeats = Repeats::default();
    let assets = mailspec::assets::DirLoader::new(c.dir.clone());
    let summary = batch::run(c, items, opts, &assets, sink, &mut |r| {
        done += 1;
        for line in repeats.lines(r, source_name) {
            match progress.as_ref() {
                Some(pb) => pb.println(&line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(pb) = progress.as_ref().filter(|_| done.is_multiple_of(256)) {
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            pb.set_message(format!("{done} records, {rate:.0}/s"));
        }
        if let Some(w) = report_out.as_mut() {
            let line = serde_json::to_string(r).unwrap_or_default();
            if let Err(e) = writeln!(w, "{line}") {
                report_err.get_or_insert(e);
            }
        }
    })?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    for line in repeats.summary(a.report.is_none()) {
        eprintln!("{line}");
    }
    if let Some(e) = report_err {
        return Err(e).context("cannot write the report");
    }
    if let Some(mut w) = report_out {
        w.flush().context("cannot write the report")?;
    }
    Ok(summary)
}

/// Keeps a batch's stderr readable: a problem repeated on many records (same code, same field,
/// same message apart from values and numbers) is printed for the first few records, then
/// counted. `--report` still gets every record.
#[derive(Default)]
struct Repeats {
    /// Per kind of problem: records printed, records only counted.
    kinds: indexmap::IndexMap<Kind, (usize, u64)>,
}

/// A kind of problem: code, field, message shape.
type Kind = (Code, Option<String>, String);

impl Repeats {
    /// Records printed in full per kind of problem.
    const SHOWN: usize = 5;
    /// Kinds tracked; beyond this, new kinds are printed in full, so memory stays bounded
    /// whatever the number of records.
    const MAX_KINDS: usize = 1000;

    /// The lines to print for one record.
    fn lines(&mut self, r: &batch::RecordReport, source: &str) -> Vec<String> {
        let mut decided: Vec<(Kind, bool)> = Vec::new();
        let mut out = Vec::new();
        for (e, line) in r.errors.iter().zip(r.describe(source)) {
            let kind = (
                e.kind,
                e.field.clone(),
                shape(&e.message, e.field.as_deref()),
            );
            // A record counts once per kind, however many of its lines share it.
            let show = match decided.iter().find(|(k, _)| *k == kind) {
                Some((_, show)) => *show,
                None => {
                    let show = match self.kinds.get_mut(&kind) {
                        Some((shown, _)) if *shown < Self::SHOWN => {
                            *shown += 1;
                            true
                        }
                        Some((_, hidden)) => {
                            *hidden += 1;
                            false
                        }
                        None => {
                            if self.kinds.len() < Self::MAX_KINDS {
                                self.kinds.insert(kind.clone(), (1, 0));
                            }
                            true
                        }
                    };
                    decided.push((kind, show));
                    show
                }
            };
            if show {
                out.push(line);
            }
        }
        out
    }

    /// The counts of what was not printed, in order of first appearance.
    fn summary(&self, no_report: bool) -> Vec<String> {
        let mut out: Vec<String> = self
            .kinds
            .iter()
            .filter(|(_, (_, hidden))| *hidden > 0)
            .map(|((code, field, _), (_, hidden))| {
                let what = if *hidden == 1 { "record" } else { "records" };
                let field = field
                    .as_ref()
                    .map(|f| format!(" (field `{f}`)"))
                    .unwrap_or_default();
                format!("... and {} more {what}: {code}{field}", thousands(*hidden))
            })
            .collect();
        if no_report && !out.is_empty() {
            out.push("(--report FILE lists every record)".to_string());
        }
        out
    }
}

/// A message without its particulars: quoted values (other than the field name) and numbers
/// are blanked, so `row has 2 cells` and `row has 4 cells` are one kind.
fn shape(message: &str, field: Option<&str>) -> String {
    let mut out = String::new();
    let mut quoted: Option<String> = None;
    for ch in message.chars() {
        match (&mut quoted, ch) {
            (None, '`') => quoted = Some(String::new()),
            (Some(q), '`') => {
                if Some(q.as_str()) == field {
                    out.push_str(&format!("`{q}`"));
                } else {
                    out.push_str("`…`");
                }
                quoted = None;
            }
            (Some(q), c) => q.push(c),
            (None, c) if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            (None, c) => out.push(c),
        }
    }
    if let Some(q) = quoted {
        out.push('`');
        out.push_str(&q);
    }
    out
}

/// `99990` → `99,990`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_delimiter, shape, thousands};

    #[test]
    fn delimiters_are_one_ascii_character_or_tab() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\t"), Ok(b'\t'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("¦").is_err());
        assert!(parse_delimiter("\"").is_err());
        assert!(parse_delimiter("").is_err());
    }

    #[test]
    fn shapes_and_counts() {
        assert_eq!(
            shape("`qty` must be a whole number, found `x`", Some("qty")),
            shape("`qty` must be a whole number, found `yy`", Some("qty"))
        );
        assert_eq!(
            shape("row has 2 cells", None),
            shape("row has 14 cells", None)
        );
        assert_ne!(
            shape("missing required field `a`", Some("a")),
            shape("missing required field `b`", Some("b"))
        );
        assert_eq!(thousands(99_990), "99,990");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
