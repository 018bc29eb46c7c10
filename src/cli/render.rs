//! `mailspec render SPEC`

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset};
use mailspec::batch::{self, BatchOptions, Selection};
use mailspec::data::{self, Format};
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
    /// Directory for the .eml files (default `out/<spec name>/`); `-` writes one message to
    /// stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
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
    let mut selection = Selection {
        limit: a.limit,
        records: a
            .records
            .as_deref()
            .map(Selection::parse_records)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        shard: a
            .shard
            .as_deref()
            .map(Selection::parse_shard)
            .transpose()
            .map_err(anyhow::Error::msg)?,
    };
    let to_stdout = a.out.as_deref() == Some("-");
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

    // A progress bar only for a person watching a long batch: stderr is a terminal and the
    // messages do not go to stdout.
    let progress = (!to_stdout
        && a.data.as_deref().is_some_and(|d| d != "-")
        && std::io::stderr().is_terminal())
    .then(|| {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let (items, source_name) = match &a.data {
        Some(d) => {
            let format = match &a.data_format {
                Some(f) => Format::parse(f).with_context(|| {
                    format!("unknown --data-format `{f}` (csv, json, jsonl, yaml)")
                })?,
                None if d == "-" => bail!("reading stdin needs --data-format"),
                None => Format::from_path(std::path::Path::new(d)).with_context(|| {
                    format!("cannot tell the format of `{d}` from its extension: use --data-format")
                })?,
            };
            let reader: Box<dyn Read + Send> = if d == "-" {
                Box::new(BufReader::new(std::io::stdin()))
            } else {
                let f = File::open(d).with_context(|| format!("cannot open `{d}`"))?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                match progress.as_ref() {
                    // Progress in bytes of the data file read: the only total known before a
                    // streaming read ends, and what makes the ETA honest.
                    Some(pb) => {
                        pb.set_length(len);
                        Box::new(BufReader::new(pb.wrap_read(f)))
                    }
                    None => Box::new(BufReader::new(f)),
                }
            };
            match data::read(reader, format) {
                Ok(items) => (items, d.clone()),
                Err(e) => {
                    eprintln!("error[{}]: {d}: {}", e.code, e.message);
                    return Ok(ExitCode::from(1));
                }
            }
        }
        None => match &c.spec.data.sample {
            Some(s) => match c.open_records(s) {
                Ok(items) => (items, c.path.display().to_string()),
                Err(e) => {
                    eprintln!("error[{}]: sample records: {}", e.code, e.message);
                    return Ok(ExitCode::from(1));
                }
            },
            None => bail!(
                "`{}` has no `data.sample`: pass --data FILE",
                a.spec.display()
            ),
        },
    };

    let mut sink: Box<dyn Sink> = if to_stdout {
        Box::new(WriterSink::new(BufWriter::new(std::io::stdout().lock())))
    } else if let Some(m) = &a.mbox {
        Box::new(MboxSink::new(m).with_context(|| format!("cannot create `{}`", m.display()))?)
    } else if let Some(m) = &a.maildir {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let stamp = format!("{now}.{}", std::process::id());
        Box::new(
            MaildirSink::new(m, &stamp)
                .with_context(|| format!("cannot create `{}`", m.display()))?,
        )
    } else {
        let dir = a
            .out
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("out").join(mailspec::sink::slug(&c.name)));
        Box::new(DirSink::new(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?)
    };
    let mut report_out = match &a.report {
        Some(p) => {
            Some(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create `{}`", p.display())
            })?))
        }
        None => None,
    };
    let opts = BatchOptions {
        render: RenderOptions {
            date: Some(date),
            ..Default::default()
        },
        selection,
        fail_fast: a.fail_fast,
    };
    let mut report_err: Option<std::io::Error> = None;
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let summary = batch::run(&c, items, &opts, sink.as_mut(), &mut |r| {
        done += 1;
        for line in r.describe(&source_name) {
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
    if let Some(e) = report_err {
        return Err(e).context("cannot write the report");
    }
    if let Some(mut w) = report_out {
        w.flush().context("cannot write the report")?;
    }
    if !to_stdout {
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
