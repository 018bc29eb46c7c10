//! `mailspec send SPEC --smtp URL` and `mailspec send --rendered DIR --smtp URL`

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mailspec::batch::{self, BatchOptions, Selection};
use mailspec::render::{EmittedMessage, RenderOptions};
use mailspec::send::smtp::{Auth, Mechanism, SmtpConfig, Timeouts};
use mailspec::send::target::{self, JournalLocation};
use mailspec::send::{self, Outcome, Outgoing, Produced, Secret, SendOptions, Status, Transport};
use mailspec::sink::Sink;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("how").args(["smtp", "sendmail", "dry_run"]).required(true).multiple(true)))]
pub struct Args {
    /// The spec to render and send (or use --rendered).
    #[arg(required_unless_present = "rendered", conflicts_with = "rendered")]
    spec: Option<PathBuf>,
    /// Send exactly what `render --out DIR` wrote: each DIR/KEY.eml with its
    /// its envelope in DIR/envelopes.jsonl; a file changed since it was rendered is refused.
    #[arg(long, value_name = "DIR")]
    rendered: Option<PathBuf>,
    /// Records: a .csv, .json, .jsonl or .yaml file, or `-` for stdin. Default: the spec's
    /// sample records.
    #[arg(long, value_name = "FILE", conflicts_with = "rendered")]
    data: Option<String>,
    /// Format of --data when its extension does not say (csv, json, jsonl, yaml).
    #[arg(long, value_name = "FORMAT", requires = "data")]
    data_format: Option<String>,
    /// Delimiter of CSV --data: one ASCII character (`;`, `|`) or `tab`.
    #[arg(long, value_name = "CHAR", requires = "data", value_parser = super::render::parse_delimiter)]
    delimiter: Option<u8>,
    /// The Date of messages whose spec does not take it from the record (RFC 3339).
    /// Default: SOURCE_DATE_EPOCH if set, else now.
    #[arg(long, value_name = "RFC3339")]
    date: Option<String>,
    /// Only these records, e.g. `1,5-9` (1-based).
    #[arg(long, value_name = "LIST")]
    records: Option<String>,
    /// Only the first N selected records.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,

    /// The server: smtp://HOST[:PORT] (STARTTLS required, default port 587),
    /// smtps://HOST[:PORT] (TLS, 465), smtp+plain://HOST[:PORT] (no TLS; loopback only).
    /// A user may be given as smtp://USER@HOST; never a password.
    #[arg(long, value_name = "URL")]
    smtp: Option<String>,
    /// Pipe each message to a sendmail-compatible program (default /usr/sbin/sendmail)
    /// as `-i -fSENDER -- RCPT...`.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "/usr/sbin/sendmail", conflicts_with = "smtp")]
    sendmail: Option<PathBuf>,
    /// Render, check and report everything, but connect to nothing and write no journal.
    #[arg(long)]
    dry_run: bool,

    /// Trust the CA certificate(s) in this PEM file as well as the system's.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The AUTH user (or give it in the URL).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The environment variable holding the password or token (default
    /// MAILSPEC_SMTP_PASSWORD). Secrets are never taken from the command line.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// A file holding the password or token (one line).
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    password_file: Option<PathBuf>,
    /// The AUTH mechanism: plain, login, or xoauth2 (the secret is then an OAuth 2 access
    /// token). Default: PLAIN if the server offers it, else LOGIN.
    #[arg(long, value_name = "MECHANISM", value_parser = Mechanism::parse)]
    auth: Option<Mechanism>,
    /// The name given in EHLO (smtplib's local_hostname). Default: the local address as
    /// an address literal, e.g. [192.0.2.7].
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// Connect from this local address.
    #[arg(long, value_name = "IP")]
    source_address: Option<IpAddr>,
    /// Time limit to connect.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = target::parse_duration)]
    connect_timeout: std::time::Duration,
    /// Time limit for the server's greeting.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = target::parse_duration)]
    greeting_timeout: std::time::Duration,
    /// Time limit for each command (and the TLS handshake, and writing a message).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = target::parse_duration)]
    timeout: std::time::Duration,
    /// Time limit for the reply to the end of a message (RFC 5321 suggests 10 minutes).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = target::parse_duration)]
    data_timeout: std::time::Duration,

    /// Parallel connections, each reused for many messages.
    #[arg(long, value_name = "N", default_value_t = 4)]
    connections: usize,
    /// A rate shared by all connections: 50/s, 600/m, 10000/h.
    #[arg(long, value_name = "RATE", value_parser = target::parse_rate)]
    rate: Option<target::Rate>,
    /// Attempts per message in this run for temporary failures (4xx, lost connections).
    #[arg(long, value_name = "N", default_value_t = 5)]
    attempts: u32,
    /// The first retry delay, doubled at each retry, with jitter.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = target::parse_duration)]
    retry_delay: std::time::Duration,

    /// The journal: sqlite:PATH (add ?sync=normal to skip the fsync per commit: still safe
    /// against the process being killed, not against a power loss), postgres://..., or none. Default: a SQLite file next to the
    /// report. Rerunning with the same journal resumes.
    #[arg(long, value_name = "URL")]
    journal: Option<String>,
    /// Send again the messages the journal lists as unknown (the connection dropped after
    /// the message was sent: they may have been delivered).
    #[arg(long)]
    resend_unknown: bool,
    /// One JSON line per message (status, reply, queue id, recipients). Default:
    /// send-report.jsonl in the output folder (out/<spec name>/, or the --rendered DIR).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    dkim: super::render::DkimArgs,
}

/// Reads a secret from a file or an environment variable.
fn secret(a: &Args) -> anyhow::Result<Option<Secret>> {
    if let Some(p) = &a.password_file {
        let s = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read --password-file `{}`", p.display()))?;
        let s = s.trim_end_matches(['\r', '\n']).to_string();
        if s.is_empty() {
            bail!("--password-file `{}` is empty", p.display());
        }
        return Ok(Some(Secret::new(s)));
    }
    let var = a
        .password_env
        .clone()
        .unwrap_or_else(|| "MAILSPEC_SMTP_PASSWORD".into());
    match std::env::var(&var) {
        Ok(s) if !s.is_empty() => Ok(Some(Secret::new(s))),
        _ if a.password_env.is_some() => bail!("environment variable `{var}` is not set"),
        _ => Ok(None),
    }
}

/// Whether some part of the spec asks for `transfer_encoding: 8bit`: the only 8-bit content a
/// 7-bit rendering can avoid (UTF-8 headers need SMTPUTF8 whatever the encoding, and an
/// attached message/rfc822 may not be re-encoded, RFC 2046 §5.2.1).
fn asks_for_8bit(plan: &mailspec::plan::Plan) -> bool {
    use mailspec::plan::{Body, LeafPlan, Node};
    use mailspec::spec::model::TransferEncodingSpec;
    fn leaf(l: &LeafPlan) -> bool {
        l.transfer_encoding == Some(TransferEncodingSpec::EightBit)
    }
    fn node(n: &Node) -> bool {
        match n {
            Node::Multipart { parts, .. } => parts.iter().any(node),
            Node::Leaf(l) => leaf(l),
        }
    }
    match &plan.body {
        Body::Shorthand {
            text,
            html,
            inline,
            attachments,
        } => text.iter().chain(html).any(|l| leaf(l)) || inline.iter().chain(attachments).any(leaf),
        Body::Tree(n) => node(n),
    }
}

/// Whether to render 7-bit: the spec asks for 8-bit parts and the server does not offer
/// 8BITMIME (RFC 6152), or cannot be asked (7-bit goes through any server).
fn seven_bit(transport: &Transport, compiled: Option<&mailspec::spec::CompiledSpec>) -> bool {
    let (Transport::Smtp(cfg), Some(c)) = (transport, compiled) else {
        return false;
    };
    if !asks_for_8bit(&c.plan) {
        return false;
    }
    match send::server_caps(cfg) {
        Ok(caps) if caps.eightbit => false,
        Ok(_) => {
            eprintln!(
                "note: the server does not offer 8BITMIME (RFC 6152): parts that ask for `8bit` are sent quoted-printable or base64"
            );
            true
        }
        Err(e) => {
            eprintln!(
                "note: cannot ask the server whether it offers 8BITMIME ({e}): parts that ask for `8bit` are sent quoted-printable or base64"
            );
            true
        }
    }
}

/// A sink that hands each rendered message to the send queue; it fails (ending the batch)
/// once the run is stopping.
struct Handoff<'a> {
    give: &'a mut dyn FnMut(Produced) -> bool,
}

impl Sink for Handoff<'_> {
    fn accept(&mut self, index: usize, m: &EmittedMessage) -> std::io::Result<String> {
        if (self.give)(Produced::Message(Outgoing::from_emitted(index, m))) {
            Ok(String::new())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "stopping",
            ))
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let transport = if a.dry_run {
        // The URL is still checked, so a dry run catches a bad one.
        if let Some(u) = &a.smtp {
            target::parse_smtp_url(u).map_err(anyhow::Error::msg)?;
        }
        Transport::DryRun
    } else if let Some(p) = &a.sendmail {
        Transport::Sendmail(p.clone(), a.timeout.max(a.data_timeout))
    } else if let Some(u) = &a.smtp {
        let url = target::parse_smtp_url(u).map_err(anyhow::Error::msg)?;
        let user = a.user.clone().or_else(|| url.user.clone());
        let secret = secret(&a)?;
        let auth = match (user, secret) {
            (Some(user), Some(secret)) => Some(Auth {
                user,
                secret,
                mechanism: a.auth,
            }),
            (Some(user), None) => bail!(
                "user `{user}` needs a secret: set MAILSPEC_SMTP_PASSWORD, or use --password-env VAR or --password-file FILE"
            ),
            (None, Some(_)) if a.password_env.is_some() || a.password_file.is_some() => {
                bail!("a secret was given but no user: use --user or smtp://USER@HOST")
            }
            (None, _) => None,
        };
        let tls = send::smtp::tls_config(a.tls_ca.as_deref()).map_err(anyhow::Error::msg)?;
        Transport::Smtp(Box::new(SmtpConfig {
            url,
            tls,
            auth,
            helo: a.helo.clone(),
            source_address: a.source_address,
            timeouts: Timeouts {
                connect: a.connect_timeout,
                greeting: a.greeting_timeout,
                command: a.timeout,
                data_end: a.data_timeout,
            },
        }))
    } else {
        bail!("say where to send: --smtp URL, --sendmail [PATH] or --dry-run");
    };
    if a.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if a.attempts == 0 {
        bail!("--attempts must be at least 1");
    }

    // The spec (or the rendered folder) names the default output folder.
    let compiled = match &a.spec {
        Some(spec) => match mailspec::spec::compile_path(spec) {
            Ok(c) => Some(c),
            Err((sources, diags)) => {
                eprint!("{}", sources.render(&diags));
                let io = diags.iter().any(|d| d.code == mailspec::diag::Code::IoRead);
                return Ok(ExitCode::from(if io { 2 } else { 1 }));
            }
        },
        None => None,
    };
    if let Some(c) = &compiled {
        eprint!("{}", c.sources.render(&c.warnings));
    }
    let out_dir = match (&compiled, &a.rendered) {
        (Some(c), _) => PathBuf::from("out").join(mailspec::sink::slug(&c.name)),
        (None, Some(d)) => d.clone(),
        (None, None) => bail!("give a spec or --rendered DIR"),
    };
    let report_path = a
        .report
        .clone()
        .unwrap_or_else(|| out_dir.join("send-report.jsonl"));
    let journal = match &a.journal {
        Some(j) => target::parse_journal(j).map_err(anyhow::Error::msg)?,
        // Next to the report: `send-journal.sqlite` in the default folder, `REPORT.journal.sqlite`
        // beside a --report FILE.
        None if a.report.is_none() => JournalLocation::Sqlite {
            path: out_dir.join("send-journal.sqlite"),
            full_sync: true,
        },
        None => {
            let mut p = report_path.clone().into_os_string();
            p.push(".journal.sqlite");
            JournalLocation::Sqlite {
                path: PathBuf::from(p),
                full_sync: true,
            }
        }
    };
    if let Some(dir) = report_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let mut report_out = BufWriter::new(
        File::create(&report_path)
            .with_context(|| format!("cannot create `{}`", report_path.display()))?,
    );

    let opts = SendOptions {
        transport,
        connections: a.connections,
        rate: a.rate,
        max_attempts: a.attempts,
        retry_delay: a.retry_delay,
        resend_unknown: a.resend_unknown,
        journal,
        handle_ctrl_c: true,
    };

    // The records, opened before anything is sent so a bad --data fails early.
    let date = super::render::resolve_date(a.date.as_deref())?;
    let selection =
        Selection::from_flags(a.limit, a.records.as_deref(), None).map_err(anyhow::Error::msg)?;
    let items = match &compiled {
        Some(c) => {
            let source = super::render::RecordSource {
                data: a.data.as_deref(),
                format: a.data_format.as_deref(),
                delimiter: a.delimiter,
            };
            match super::render::open_records(source, c, None)? {
                Some((items, _)) => Some(items),
                None => return Ok(ExitCode::from(1)),
            }
        }
        None => None,
    };
    // Signed as `render --dkim` signs, whenever the spec has `dkim` (issue 13). `--rendered`
    // sends the bytes as they were rendered (and hashed): signed then, or not at all.
    let dkim = match &compiled {
        Some(c) => a.dkim.signer(c, true)?,
        None if a.dkim.asked() => bail!(
            "--rendered sends the messages exactly as rendered: sign them with `render --dkim`"
        ),
        None => None,
    };
    let seven_bit = seven_bit(&opts.transport, compiled.as_ref());
    let listed = match &a.rendered {
        Some(d) => {
            let list = send::rendered::list(d).with_context(|| {
                format!(
                    "cannot read `{}`: render with --out first",
                    d.join(mailspec::sink::INDEX).display()
                )
            })?;
            if list.is_empty() {
                bail!(
                    "`{}` lists no message: render with --out first",
                    d.join(mailspec::sink::INDEX).display()
                );
            }
            list
        }
        None => Vec::new(),
    };

    let producer = |give: &mut dyn FnMut(Produced) -> bool| {
        if let (Some(c), Some(items)) = (&compiled, items) {
            let bopts = BatchOptions {
                render: RenderOptions {
                    date: Some(date),
                    dkim: dkim.clone(),
                    seven_bit,
                    ..Default::default()
                },
                selection: selection.clone(),
                fail_fast: false,
                // Rendering keeps ahead of the SMTP connections on every core.
                jobs: 0,
            };
            let assets = mailspec::assets::DirLoader::new(c.dir.clone());
            let mut refused: Vec<Outcome> = Vec::new();
            let mut sink = Handoff { give };
            let _ = batch::run(c, items, &bopts, &assets, &mut sink, &mut |r| {
                if r.status != batch::Status::Ok {
                    refused.push(Outcome {
                        index: r.index,
                        key: r.key.clone(),
                        status: Status::Error,
                        reason: r.errors.first().map(|e| e.message.clone()),
                        errors: r.errors.clone(),
                        ..Outcome::default()
                    });
                }
            });
            for o in refused {
                if !(sink.give)(Produced::Refused(Box::new(o))) {
                    break;
                }
            }
        } else {
            let dir = a.rendered.as_deref().unwrap_or(Path::new("."));
            for (i, l) in listed.iter().enumerate() {
                if !selection.includes(i + 1) {
                    continue;
                }
                let p = match send::rendered::read(i + 1, dir, l) {
                    Ok(m) => Produced::Message(m),
                    Err(o) => Produced::Refused(o),
                };
                if !give(p) {
                    break;
                }
            }
        }
    };

    let progress = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let mut counts = [0usize; 4];
    let mut report_err: Option<std::io::Error> = None;
    let summary = send::run(&opts, producer, &mut |o| {
        if let Err(e) = serde_json::to_writer(&mut report_out, o)
            .map_err(std::io::Error::from)
            .and_then(|()| report_out.write_all(b"\n"))
        {
            report_err.get_or_insert(e);
        }
        let slot = match o.status {
            Status::Accepted => 0,
            Status::Deferred => 1,
            Status::Failed | Status::Error => 2,
            _ => 3,
        };
        counts[slot] += 1;
        if let Some(pb) = &progress {
            pb.set_message(format!(
                "{} accepted · {} deferred · {} failed · {} other",
                counts[0], counts[1], counts[2], counts[3]
            ));
        }
    })
    .map_err(|e| anyhow::anyhow!(e.0))?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    report_out.flush().context("cannot write the report")?;
    if let Some(e) = report_err {
        return Err(e).context("cannot write the report");
    }
    eprint!("{}", summary.table());
    eprintln!("report: {}", display(&report_path));
    if let Some(f) = &summary.fatal {
        eprintln!("error: {f}");
        return Ok(ExitCode::from(2));
    }
    if summary.interrupted {
        eprintln!("interrupted: rerun the same command to resume");
        return Ok(ExitCode::from(130));
    }
    let not_done = summary.count(Status::Deferred)
        + summary.count(Status::Failed)
        + summary.count(Status::Unknown)
        + summary.count(Status::Error);
    Ok(if not_done > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
