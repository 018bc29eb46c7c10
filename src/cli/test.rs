//! `mailspec test [SPEC...]` (being written).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Specs to test (default: every spec under `specs/`).
    specs: Vec<PathBuf>,
    /// Write the snapshots instead of comparing.
    #[arg(long)]
    accept: bool,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
