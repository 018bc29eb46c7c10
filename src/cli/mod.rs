//! Command-line interface. Exit codes: 0 success; 1 a spec, template or record is invalid
//! (diagnostics printed); 2 usage, I/O or internal error.

mod check;
mod render;
mod send;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
