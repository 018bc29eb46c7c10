//! `mailspec check SPEC...`

use std::path::PathBuf;
use std::process::ExitCode;

use mailspec::batch;
use mailspec::diag::Code;

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
    /// Also check every record of this data file (.csv, .json, .jsonl, .yaml) against the
    /// spec, rendering each in memory and writing nothing; needs exactly one spec.
    #[arg(long, value_name = "FILE")]
    data: Option<String>,
    /// Format of --data when its extension does not say.
    #[arg(long, value_name = "FORMAT", requires = "data")]
    data_format: Option<String>,
    /// Delimiter of CSV --data (`;`, `tab`...).
    #[arg(long, value_name = "CHAR", requires = "data", value_parser = super::render::parse_delimiter)]
    delimiter: Option<u8>,
    /// With --data: one JSON line per record, as `render --report` writes.
    #[arg(long, value_name = "FILE", requires = "data")]
    report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.data.is_some() && args.specs.len() != 1 {
        anyhow::bail!("--data checks records against one spec: name exactly one");
    }
    let mut failed = false;
    let mut io_error = false;
    let (mut errors, mut warnings, mut bad_specs) = (0usize, 0usize, 0usize);
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
        let e = diags.iter().filter(|d| d.is_error()).count();
        errors += e;
        warnings += diags.len() - e;
        bad_specs += usize::from(e > 0);
        failed |= e > 0;
        match args.format {
            Format::Text => eprint!("{}", sources.render(&diags)),
            Format::Json => print!("{}", sources.render_json(&diags)),
        }
    }
    // One line a person (or a CI log) can read at a glance, also when nothing was wrong.
    if matches!(args.format, Format::Text) {
        let n = args.specs.len();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        eprintln!(
            "{}: {} ok, {} failed; {}, {}",
            plural(n, "spec checked", "specs checked"),
            n - bad_specs,
            bad_specs,
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings")
        );
    }
    if let (Some(data), false, false) = (&args.data, failed, io_error) {
        let a = super::render::validation(
            args.specs[0].clone(),
            data.clone(),
            args.data_format.clone(),
            args.delimiter,
            args.report.clone(),
        );
        return super::render::run(a);
    }
    Ok(if io_error {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
