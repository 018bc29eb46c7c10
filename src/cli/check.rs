//! `mailspec check SPEC...`

use std::path::PathBuf;
use std::process::ExitCode;

use mailspec::batch;
use mailspec::diag::{Code, Diagnostic};

/// Output format of diagnostics.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, source lines underlined (stderr).
    Text,
    /// One JSON object per diagnostic (stdout).
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Spec files to check.
    #[arg(required = true)]
    specs: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also warn about what hurts delivery, read from the rendered sample messages: no text
    /// part, an image-only HTML body, a Message-ID domain other than the From domain, HTML
    /// over 102 KB (Gmail clips it). Warnings do not change the exit status.
    #[arg(long)]
    strict: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut io_error = false;
    for path in &args.specs {
        let (sources, diags) = match mailspec::spec::compile_path(path) {
            Ok(mut c) => {
                let mut diags = std::mem::take(&mut c.warnings);
                diags.extend(batch::dry_run(&c));
                if args.strict {
                    diags.extend(mailspec::deliver::strict::warnings(&c));
                }
                (c.sources, diags)
            }
            Err((sources, diags)) => {
                io_error |= diags.iter().any(|d| d.code == Code::IoRead);
                (sources, diags)
            }
        };
        failed |= diags.iter().any(Diagnostic::is_error);
        match args.format {
            Format::Text => eprint!("{}", sources.render(&diags)),
            Format::Json => print!("{}", sources.render_json(&diags)),
        }
    }
    Ok(if io_error {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
