//! Command-line interface. Exit codes: 0 success; 1 a spec, template or record is invalid
//! (diagnostics printed); 2 usage, I/O or internal error.

mod check;
mod init;
mod preview;
mod render;
mod send;
mod test;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

/// Compile YAML email specs into deterministic, standards-correct MIME.
///
/// Exit status: 0 success, 1 invalid spec/template/record, 2 usage or I/O error.
#[derive(Parser)]
#[command(
    name = "mailspec",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Exit status: 0 success, 1 a spec, template or record is invalid (diagnostics printed), 2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate specs: schema, templates, variables, files, addresses, and a dry run of the
    /// bundled sample records.
    Check(check::Args),
    /// Print the JSON Schema of the spec language.
    Schema,
    /// Render one message per record into .eml files (or an mbox, a Maildir, stdout).
    Render(Box<render::Args>),
    /// Render each spec's fixtures and compare them with the committed snapshots in
    /// `snapshots/` (a readable decoded view plus a digest of the exact bytes).
    Test(test::Args),
    /// Start a new spec: a spec, its templates, sample records and a fixture with its snapshot,
    /// all passing `check` and `test`.
    Init(init::Args),
    /// Print a shell completion script, e.g. `mailspec completions bash > /etc/bash_completion.d/mailspec`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `mailspec man > /usr/local/share/man/man1/mailspec.1`.
    Man,
    /// Serve a live preview of every message on 127.0.0.1: rendered HTML at desktop and
    /// mobile widths, text, headers, envelope, MIME tree and snapshot diffs.
    Preview(preview::Args),
    /// Deliver over SMTP (or a local sendmail), with a journal that resumes after a crash
    /// and never silently sends a message twice.
    Send(Box<send::Args>),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Schema => {
            print!("{}", mailspec::schema::schema_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Render(a) => render::run(*a),
        Command::Test(a) => test::run(a),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
        Command::Init(a) => init::run(a),
        Command::Preview(a) => preview::run(a),
        Command::Send(a) => send::run(*a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The script is built in memory and written with `write_all`, so a closed pipe
/// (`mailspec completions bash | head`) is an I/O error the caller handles, not a panic inside
/// clap_complete's own writer.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mailspec", &mut script);
    write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Generated from the same clap definitions as `--help`, so the page cannot drift from the CLI.
fn man() -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot generate the manual page")?;
    write_stdout(&page)?;
    Ok(ExitCode::SUCCESS)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
