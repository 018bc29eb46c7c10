//! `mailspec preview`: a local web server showing every message of every spec, rebuilt live
//! while the spec, its templates, data and assets are edited.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mailspec::preview::Workspace;
use mailspec::preview::server::{self, AppState};
use mailspec::preview::watch::{self, SpecList};
use mailspec::review;

const AFTER_HELP: &str = "\
Opens nothing by itself: open the printed URL in a browser. The server listens on
127.0.0.1 only, answers only requests addressed to localhost, 127.0.0.1 or [::1],
serves no file outside the specs' folders, and never sends mail.

Every record set is shown: the spec's sample records and each fixture, dated
2024-01-01T00:00:00Z unless the spec dates its messages (the date `mailspec test`
uses), and each fixture is compared with its committed snapshot.

Message HTML is shown in a sandboxed frame where no script runs; remote images are
blocked until you click to load them (they may be tracking pixels).

Saving a spec, template, data file or asset updates open pages within about a
second; a mistake shows its diagnostics in the page, and the next good save
recovers. Stop the server with Ctrl-C.";

#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Specs to preview. Default: every spec under `specs/` except `specs/invalid/`.
    specs: Vec<PathBuf>,
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 4480)]
    port: u16,
    /// The snapshot folder fixtures are compared with.
    #[arg(long, value_name = "DIR", default_value = review::SNAPSHOT_DIR)]
    snapshots: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let list = if a.specs.is_empty() {
        let dir = Path::new("specs");
        if !dir.is_dir() {
            bail!(
                "no spec given and no `specs/` folder in the current directory: run from the \
                 repository root, or name the specs"
            );
        }
        review::discover_specs(dir).context("cannot list `specs/`")?;
        SpecList::Discover(dir.to_path_buf())
    } else {
        for s in &a.specs {
            if !s.is_file() {
                bail!("cannot read spec `{}`: no such file", s.display());
            }
        }
        SpecList::Given(a.specs.clone())
    };
    let specs = list.current();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, a.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let ws = {
            let specs = specs.clone();
            let snapshots = a.snapshots.clone();
            tokio::task::spawn_blocking(move || Workspace::build(&specs, &snapshots, 1))
                .await
                .context("the first build failed")?
        };
        let failed = ws
            .specs
            .iter()
            .filter(|s| matches!(s.state, mailspec::preview::SpecState::Failed { .. }))
            .count();
        let state = AppState::new(ws);
        watch::spawn(state.clone(), list, a.snapshots.clone()).context("cannot watch files")?;
        println!(
            "mailspec preview: {} spec(s){}; serving on http://127.0.0.1:{}/ (Ctrl-C stops)",
            specs.len(),
            if failed > 0 {
                format!(", {failed} with errors")
            } else {
                String::new()
            },
            bound.port()
        );
        tokio::select! {
            r = server::serve(listener, state) => r.context("the server stopped")?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
